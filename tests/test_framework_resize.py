"""torch interpolate and ONNX Resize adapters: bit-exact with direct calls of the libraries."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from PIL import Image

from fixtures.images import synthetic_image
from parity import registry

IMAGE = synthetic_image(97, 61, seed=3)
TARGETS = [(40, 25), (150, 90)]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("name", "mode", "antialias", "align_corners", "integer"), [
    ("bilinear", "bilinear", False, False, False),
    ("bilinear-ac", "bilinear", False, True, False),
    ("bilinear-aa", "bilinear", True, False, False),
    ("bilinear-aa-uint8", "bilinear", True, False, True),
    ("bicubic", "bicubic", False, False, False),
    ("bicubic-aa", "bicubic", True, False, False),
    ("nearest", "nearest", False, None, False),
])
def test_torch_interpolate_adapters(name: str, mode: str, antialias: bool, align_corners: bool | None, integer: bool, target: tuple[int, int]) -> None:
    torch = pytest.importorskip("torch", reason="the torch extra is not installed")
    tensor = torch.from_numpy(IMAGE).permute(2, 0, 1)[None]
    tensor = tensor if integer else tensor.float()
    expected = torch.nn.functional.interpolate(tensor, size=(target[1], target[0]), mode=mode, antialias=antialias, align_corners=align_corners)
    np.testing.assert_array_equal(registry.get("resize", f"torch:{name}").function(IMAGE, target), expected[0].permute(1, 2, 0).numpy())


def test_torch_antialiased_uint8_resize_is_within_one_level_of_pillow() -> None:
    pytest.importorskip("torch", reason="the torch extra is not installed")
    ours = registry.get("resize", "torch:bilinear-aa-uint8").function(IMAGE, (40, 25)).astype(int)
    pillow = np.asarray(Image.fromarray(IMAGE).resize((40, 25), Image.Resampling.BILINEAR)).astype(int)
    assert 0 < np.abs(ours - pillow).max() <= 1  # close to Pillow, as torchvision documents, but not bit-exact


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("mode", "transform", "antialias"), [
    ("linear", "half_pixel", False), ("linear", "pytorch_half_pixel", False), ("linear", "asymmetric", False),
    ("linear", "align_corners", False), ("linear", "half_pixel", True), ("cubic", "half_pixel", False), ("nearest", "asymmetric", False),
])
def test_onnx_resize_adapters(mode: str, transform: str, antialias: bool, target: tuple[int, int]) -> None:
    extra = {"nearest_mode": "floor"} if mode == "nearest" else {}
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode, coordinate_transformation_mode=transform, antialias=int(antialias), **extra)
    graph = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None), helper.make_tensor_value_info("sizes", TensorProto.INT64, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = IMAGE.transpose(2, 0, 1)[None].astype(np.float32)
    expected = session.run(None, {"x": x, "sizes": np.array([1, 3, target[1], target[0]], np.int64)})[0][0].transpose(1, 2, 0)
    name = f"onnx:{mode}-{transform}" + ("-aa" if antialias else "")
    np.testing.assert_array_equal(registry.get("resize", name).function(IMAGE, target), expected)


def test_coordinate_modes_really_differ() -> None:
    outputs = {t: registry.get("resize", f"onnx:linear-{t}").function(IMAGE, (40, 25)).tobytes()
               for t in ("half_pixel", "asymmetric", "align_corners")}
    assert len(set(outputs.values())) == 3
