"""Untrusted ONNX files: external data that points outside the model's folder is refused before any
library reads it, and nothing is written outside the temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from parity.cli import app


def _model_with_external_weights(folder: Path, location: str) -> Path:
    """A 1x4 -> 1x2 MatMul whose weight tensor says its bytes live at ``location``."""
    weights = numpy_helper.from_array(np.ones((4, 2), np.float32), "W")
    weights.ClearField("raw_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "32")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    return path


def _snapshot(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/hostname", "link.bin"], ids=["dotdot", "absolute", "symlink-out"])
def test_external_data_outside_the_model_folder_is_refused(tmp_path: Path, image_dir: Path, location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "outside.bin").write_bytes(np.ones((4, 2), np.float32).tobytes())
    model = _model_with_external_weights(tmp_path / "model", location)
    if location == "link.bin":
        os.symlink(tmp_path / "outside.bin", tmp_path / "model" / "link.bin")
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(app, ["check", str(model), "--deploy", "opencv-bilinear", "--data", str(image_dir), "--no-progress"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {model}: tensor 'W' keeps its data at {location!r}, outside the model's folder; refused"
    )
    assert _snapshot(tmp_path) == before  # nothing written, not even a cache entry


def test_external_data_inside_the_folder_loads(tmp_path: Path) -> None:
    from parity_adapters.onnxruntime import OnnxRunner

    model = _model_with_external_weights(tmp_path / "model", "weights.bin")
    (tmp_path / "model" / "weights.bin").write_bytes(np.full((4, 2), 2, np.float32).tobytes())
    np.testing.assert_array_equal(OnnxRunner(model).run(np.ones((1, 4), np.float32)), [[8, 8]])


class _WritesFile:
    """Unpickling this object writes a file: the proof that a loader ran code from the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.write_text, (self.path, "code from the file ran"))


@pytest.mark.parametrize("how", ["model", "weights"])
def test_a_crafted_pickle_is_refused_in_a_fresh_process_and_writes_nothing(tmp_path: Path, image_dir: Path, how: str) -> None:
    import subprocess
    import sys

    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    marker = elsewhere / "pwned.txt"
    crafted = tmp_path / "crafted.pt"
    torch.save(_WritesFile(marker) if how == "model" else {"head.weight": _WritesFile(marker)}, crafted)
    sandbox = tmp_path / "home"
    sandbox.mkdir()
    env = {**os.environ, "HOME": str(sandbox), "XDG_CACHE_HOME": str(sandbox / ".cache"), "TMPDIR": str(sandbox)}
    env.pop("PARITY_CACHE_DIR", None)
    model_args = [str(crafted)] if how == "model" else ["--model-factory", "fixtures.torch_models:batchnorm_eval", "--weights", str(crafted)]
    before = _snapshot(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "parity", "check", *model_args, "--deploy", "pil-bilinear", "--data", str(image_dir), "--no-progress"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[1], timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not marker.exists()
    assert _snapshot(tmp_path) == before
