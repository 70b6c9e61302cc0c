"""Graph noise (MaxPool ceil_mode, Resize mode) and execution providers: each transform changes exactly the
attribute it names, the transformed model still runs, and what cannot apply says why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from fixtures.models import write_pooling_classifier, write_upsampling_model
from parity import registry, sweep
from parity.cli import app
from parity.errors import ParityError


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))


def _without(model: onnx.ModelProto, attribute: str) -> onnx.ModelProto:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        kept = [a for a in node.attribute if a.name != attribute]
        del node.attribute[:]
        node.attribute.extend(kept)
    return copy


def _attribute(model: onnx.ModelProto, op_type: str, name: str) -> object:
    node = next(n for n in model.graph.node if n.op_type == op_type)
    return onnx.helper.get_attribute_value(next(a for a in node.attribute if a.name == name))


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def test_ceil_mode_flips_only_that_attribute_and_runs(tmp_path: Path) -> None:
    source = write_pooling_classifier(tmp_path / "pool.onnx", ceil_mode=0)
    runner = registry.get("runtime", "onnxruntime:ceil-mode").function(source)
    before, after = onnx.load(str(source)), onnx.load(str(runner.model_path))
    assert _attribute(before, "MaxPool", "ceil_mode") == 0 and _attribute(after, "MaxPool", "ceil_mode") == 1
    assert _without(before, "ceil_mode").graph == _without(after, "ceil_mode").graph
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    expected = _run(write_pooling_classifier(tmp_path / "ceil.onnx", ceil_mode=1), x)
    np.testing.assert_array_equal(runner.run(x), expected)
    assert not np.array_equal(expected, _run(source, x))  # the flip changes the answer on 8x8 inputs


def test_upsample_mode_switches_nearest_and_linear(tmp_path: Path) -> None:
    x = np.array([[[[0, 4], [8, 12]]]], dtype=np.float32)
    for mode, other in (("nearest", "linear"), ("linear", "nearest")):
        source = write_upsampling_model(tmp_path / f"{mode}.onnx", mode)
        runner = registry.get("runtime", "onnxruntime:upsample-mode").function(source)
        after = onnx.load(str(runner.model_path))
        assert _attribute(after, "Resize", "mode") == other.encode()
        assert _without(onnx.load(str(source)), "mode").graph == _without(after, "mode").graph
        np.testing.assert_array_equal(runner.run(x), _run(write_upsampling_model(tmp_path / f"{other}-direct.onnx", other), x))
    # by hand: half_pixel linear upsampling of [0, 4] gives [0, 1, 3, 4] along each axis; nearest repeats
    linear = registry.get("runtime", "onnxruntime:upsample-mode").function(tmp_path / "nearest.onnx").run(x)
    np.testing.assert_array_equal(linear.reshape(4, 4)[0], [0, 1, 3, 4])


def test_a_transform_with_nothing_to_change_says_so(tiny_model: Path) -> None:
    with pytest.raises(ParityError, match="no MaxPool node"):
        registry.get("runtime", "onnxruntime:ceil-mode").function(tiny_model)


def test_check_of_ceil_mode_reports_the_flips_end_to_end(tmp_path: Path, image_dir: Path) -> None:
    model = write_pooling_classifier(tmp_path / "pool.onnx")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["check", str(model), "--deploy", "ceil-mode", "--data", str(image_dir), "--json", str(out), "--no-progress"])
    assert result.exit_code in (0, 1), result.output
    candidate = json.loads(out.read_text())["candidates"][0]
    assert candidate["stack"]["stages"]["runtime"]["implementation"] == "onnxruntime:ceil-mode"
    assert candidate["metrics"]["images"] == 12 and candidate["metrics"]["max_abs_logit_diff"] > 0


def test_check_of_an_inapplicable_transform_is_one_line_exit_2(tiny_model: Path, image_dir: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(tiny_model), "--deploy", "ceil-mode", "--data", str(image_dir), "--no-progress"])
    assert result.exit_code == 2
    assert "has no MaxPool node to change" in result.output and "Traceback" not in result.output


def test_sweep_lists_inapplicable_transforms_and_missing_providers_as_skipped(tiny_model: Path, image_dir: Path) -> None:
    result = sweep.sweep(tiny_model, image_dir)
    assert "no MaxPool node" in result.skipped["ceil-mode"]
    assert "no Resize or Upsample node" in result.skipped["upsample-mode"]
    assert all(f.family != "graph" for f in result.families)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "not CUDAExecutionProvider" in result.skipped["ort-cuda"]
    assert result.to_dict()["skipped"] == {"ceil-mode": result.skipped["ceil-mode"], "upsample-mode": result.skipped["upsample-mode"]}


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_a_provider_this_onnxruntime_lacks_is_refused_by_name() -> None:
    with pytest.raises(ParityError, match="cannot run here: this onnxruntime offers .*not CUDAExecutionProvider"):
        registry.get("runtime", "onnxruntime:cuda")
