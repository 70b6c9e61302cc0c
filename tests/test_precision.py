"""Precision candidates: ONNX transforms that change what they claim, still run, and are cached by model hash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from fixtures.models import write_linear_classifier
from parity import api, registry


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "transforms"


def test_fp16_converts_the_weights_and_keeps_float32_inputs_and_outputs(tiny_model: Path, cache: Path) -> None:
    runner = registry.get("runtime", "onnxruntime:fp16").function(tiny_model)
    (converted,) = cache.glob("*-fp16-*.onnx")
    graph = onnx.load(str(converted)).graph
    assert {t.data_type for t in graph.initializer} == {TensorProto.FLOAT16}
    assert graph.input[0].type.tensor_type.elem_type == graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    original = registry.get("runtime", "onnxruntime").function(tiny_model)
    batch = np.random.default_rng(0).normal(size=(4, 3, 8, 8)).astype(np.float32)
    fp32, fp16 = original.run(batch), runner.run(batch)
    assert 0 < np.abs(fp32 - fp16).max() < 0.5  # float16 rounding, not a different model


def test_int8_dynamic_quantizes_and_runs(tiny_model: Path, cache: Path) -> None:
    runner = registry.get("runtime", "onnxruntime:int8-dynamic").function(tiny_model)
    (converted,) = cache.glob("*-int8-dynamic-*.onnx")
    ops = {node.op_type for node in onnx.load(str(converted)).graph.node}
    assert "DynamicQuantizeLinear" in ops and "Gemm" not in ops
    assert runner.run(np.zeros((2, 3, 8, 8), np.float32)).shape == (2, 10)


@pytest.mark.parametrize("batch", ["batch", 4])
def test_int8_dynamic_answers_do_not_depend_on_batch_mates(batch: str | int, tmp_path: Path, cache: Path) -> None:
    model = write_linear_classifier(tmp_path / f"tiny-{batch}.onnx", batch=batch)
    runner = registry.get("runtime", "onnxruntime:int8-dynamic").function(model)
    images = np.random.default_rng(1).normal(size=(4, 3, 8, 8)).astype(np.float32)
    images[3] *= 50  # a loud batch mate widens a whole-batch quantization range
    alone = np.concatenate([runner.session.run(None, {runner.input_name: np.repeat(image[None], 1 if batch == "batch" else 4, axis=0)})[0][:1]
                            for image in images])
    for size in (1, 3, 4):
        np.testing.assert_array_equal(runner.run(images[:size]), alone[:size])
    together = runner.session.run(None, {runner.input_name: images})[0]  # what one whole-batch call would give
    assert not np.array_equal(together[:3], alone[:3])


def test_onnx_runtimes_fused_dynamic_quantization_also_runs_one_image_per_call(tiny_model: Path, tmp_path: Path, cache: Path) -> None:
    import onnxruntime as ort

    from parity_adapters.onnxruntime import OnnxRunner, batch_coupled_ops

    quantized = registry.get("runtime", "onnxruntime:int8-dynamic").function(tiny_model).model_path
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "fused.onnx")  # ONNX Runtime writes its fused graph here
    ort.InferenceSession(str(quantized), options, providers=["CPUExecutionProvider"])
    assert batch_coupled_ops(tmp_path / "fused.onnx") == {"DynamicQuantizeMatMul"}
    assert OnnxRunner(tmp_path / "fused.onnx").images_per_call == 1


def test_int8_dynamic_reports_do_not_depend_on_the_batch_size(tiny_model: Path, image_dir: Path, cache: Path) -> None:
    one, eight = (api.check(tiny_model, ["int8-dynamic"], image_dir, batch_size=size, cache=False) for size in (1, 8))
    assert one.candidates[0].metrics == eight.candidates[0].metrics
    assert one.candidates[0].disagreements == eight.candidates[0].disagreements


def test_transforms_are_cached_by_model_hash(tiny_model: Path, cache: Path) -> None:
    registry.get("runtime", "onnxruntime:fp16").function(tiny_model)
    (converted,) = cache.glob("*-fp16-*.onnx")
    stamp = converted.stat().st_mtime_ns
    registry.get("runtime", "onnxruntime:fp16").function(tiny_model)
    assert converted.stat().st_mtime_ns == stamp


def test_precision_presets_compose_with_preprocessing(tiny_model: Path, image_dir: Path, cache: Path) -> None:
    report = api.check(tiny_model, ["fp16", "opencv-bilinear+fp16"], image_dir)
    stages = [c.stack["stages"] for c in report.candidates]
    assert [s["runtime"]["implementation"] for s in stages] == ["onnxruntime:fp16", "onnxruntime:fp16"]
    assert stages[1]["decode"]["implementation"] == "opencv"
    assert 0 < report.candidates[0].metrics.max_abs_logit_diff < 0.5


@pytest.mark.parametrize(("preset", "per_channel"), [("int8-static", True), ("int8-static-tensor", False)])
def test_static_int8_is_calibrated_on_the_data_and_quantizes_weights_as_claimed(
    preset: str, per_channel: bool, tiny_model: Path, image_dir: Path, cache: Path
) -> None:
    report = api.check(tiny_model, [preset], image_dir)
    assert report.candidates[0].stack["stages"]["runtime"]["implementation"] == f"onnxruntime:{preset}"
    (converted,) = cache.glob(f"*-{preset}-*.onnx")
    graph = onnx.load(str(converted)).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in graph.node}
    initializers = {t.name: t for t in graph.initializer}
    weight_scale = next(initializers[n.input[1]] for n in graph.node if n.op_type == "DequantizeLinear" and n.input[0].startswith("W"))
    assert (len(weight_scale.dims) == 1 and weight_scale.dims[0] == 10) is per_channel  # one scale per output class
    assert report.candidates[0].metrics.images == 12


def test_static_int8_without_calibration_images_is_a_clear_error(tiny_model: Path, cache: Path) -> None:
    from parity.errors import ParityError

    with pytest.raises(ParityError, match="needs calibration images"):
        registry.get("runtime", "onnxruntime:int8-static").function(tiny_model)
