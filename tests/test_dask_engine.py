"""The Dask engine: a LocalCluster on loopback gives the same report as the local engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parity import api
from parity.cli import app

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed: pip install '.[dask]'")


def _comparable(report: dict) -> dict:
    return {k: v for k, v in report.items() if k not in ("created", "timings")}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as local:
        yield local


def test_a_dask_run_reports_what_a_local_run_reports(tiny_model: Path, image_dir: Path, cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "DASK_SHARD_IMAGES", 5)  # 12 images -> three shards over two workers
    deploy = ["opencv-bilinear", "turbo-fast+nv12-bt601", "fp16", "opencv-decode"]
    local = api.check(tiny_model, deploy, image_dir, cache=False)
    on_dask = api.check(tiny_model, deploy, image_dir, cache=False, engine="dask", scheduler=cluster.scheduler_address)
    assert _comparable(on_dask.to_dict()) == _comparable(local.to_dict())
    assert on_dask.work == local.work and on_dask.work["identical_inputs_reused"] == 12


def test_the_cli_takes_an_engine_and_a_scheduler(tiny_model: Path, image_dir: Path, cluster, tmp_path: Path) -> None:
    out = tmp_path / "dask.json"
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--engine", "dask",
                                      "--scheduler", cluster.scheduler_address, "--json", str(out), "--no-progress", "--no-cache"])
    assert result.exit_code in (0, 1), result.output
    assert json.loads(out.read_text())["candidates"][0]["metrics"]["images"] == 12


def test_the_dask_engine_refuses_what_it_cannot_do(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--engine", "dask",
                                      "--save-run", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "--save-run works with the local engine only" in result.output
    result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--engine", "spark"])
    assert result.exit_code == 2 and "--engine must be local or dask" in result.output
    for flags, message in (
        (["--engine", "dask", "--scheduler", "not a url"], "--scheduler not a url: cannot connect to a Dask scheduler"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler is the address of a Dask scheduler: add --engine dask"),
        (["--engine", "dask", "--pool", "processes"], "--pool processes is for the local engine"),
    ):
        result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), *flags])
        assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_workers_get_absolute_paths(tiny_model: Path, image_dir: Path, cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.copy(tiny_model, tmp_path / "m.onnx")
    shutil.copytree(image_dir, tmp_path / "images")
    monkeypatch.chdir(tmp_path)  # the workers run elsewhere: relative paths would not find these
    report = api.check(Path("m.onnx"), ["opencv-bilinear"], Path("images"), cache=False, engine="dask", scheduler=cluster.scheduler_address)
    assert report.candidates[0].metrics.compared == 12
