"""Preprocessing in worker processes gives the report threads give, and refuses what a worker cannot import."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from parity import api, registry
from parity.cli import app
from parity.errors import ParityError
from parity.spec import REFERENCE_PRESET, resolve_stack

CANDIDATES = ["opencv-bilinear", "opencv-decode", "nv12-bt601", "fp16"]


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("created", "timings")}


def test_worker_processes_report_what_threads_report(tiny_model: Path, image_dir: Path) -> None:
    threads = api.check(tiny_model, CANDIDATES, image_dir, batch_size=4, cache=False)
    processes = api.check(tiny_model, CANDIDATES, image_dir, batch_size=4, cache=False, pool="processes", workers=2)
    assert _comparable(processes.to_dict()) == _comparable(threads.to_dict())
    assert processes.work["identical_inputs_reused"] == 12  # opencv-decode's inputs still match the reference's


def test_the_cli_takes_a_pool(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir),
                                      "--pool", "processes", "--no-cache", "--json", str(tmp_path / "r.json")])
    assert result.exit_code in (0, 1), result.output
    assert json.loads((tmp_path / "r.json").read_text())["data"]["images"] == 12
    wrong = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--pool", "fibres"])
    assert wrong.exit_code == 2 and "--pool must be one of threads, processes, not 'fibres'" in wrong.output


def test_an_adapter_registered_in_main_runs_in_threads_only(tiny_model: Path, image_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def same_as_pil(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return registry.get("resize", "pil:bilinear").function(image, size)

    same_as_pil.__module__ = "__main__"
    monkeypatch.setitem(registry._ADAPTERS, ("resize", "pil:main"), registry.Adapter("resize", "pil:main", "pil", same_as_pil, "test"))
    candidate = dataclasses.replace(resolve_stack(REFERENCE_PRESET), name="main-resize", resize="pil:main")
    with pytest.raises(ParityError, match=r"resize 'pil:main' is registered in __main__, which a worker process cannot import"):
        api.check(tiny_model, [candidate], image_dir, cache=False, pool="processes")
    assert api.check(tiny_model, [candidate], image_dir, cache=False).candidates[0].metrics.disagreements == 0


def test_a_worker_process_that_dies_loses_only_the_image_that_killed_it(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    import shutil

    import fixtures.misbehaving_decoders  # noqa: F401  registers pil:crash-on-marker

    folder = tmp_path / "images"
    shutil.copytree(image_dir, folder)
    victim = sorted(folder.iterdir())[5]
    victim.write_bytes(victim.read_bytes() + b"CRASH")  # bytes after the PNG end: Pillow ignores them
    candidate = dataclasses.replace(resolve_stack(REFERENCE_PRESET), name="crashing", decode="pil:crash-on-marker")
    report = api.check(tiny_model, [candidate], folder, batch_size=4, cache=False, pool="processes", workers=2)
    metrics = report.candidates[0].metrics
    assert metrics.compared == 11 and metrics.failed_both == 1  # one call preprocesses an image for both sides
    (failure,) = report.candidates[0].failed_both
    assert failure.image == victim.name and "the worker process preprocessing this image died" in failure.candidate_error


SLOW_RUN = """
import sys
import fixtures.misbehaving_decoders  # registers pil:slow, importable by the worker processes
from parity.cli import main
sys.argv = ["parity", *sys.argv[1:]]
main()
"""


def test_ctrl_c_to_the_process_group_reaches_only_parity(tiny_model: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from fixtures.images import write_images

    write_images(tmp_path / "images", count=100, seed=3)
    (tmp_path / "slow.toml").write_text('name = "slow-decode"\n\n[stages]\ndecode = "pil:slow"\n')
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, "check", str(tiny_model), "-d", str(tmp_path / "slow.toml"), "--data", str(tmp_path / "images"),
         "--pool", "processes", "--workers", "2", "--batch-size", "4", "--no-progress", "--json", str(tmp_path / "r.json")],
        cwd=root, env={**os.environ, "PARITY_CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(list((tmp_path / "cache").glob("outputs/*/*.row"))) < 8 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)  # until a few batches have finished
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["incomplete"] is True and report["candidates"][0]["metrics"]["images"] < 100
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the workers and the forkserver are gone with parity
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("processes of the run's group outlived it")
