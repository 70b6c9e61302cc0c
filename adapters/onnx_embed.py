"""Preprocessing inside the model: an ONNX graph that takes a decoded uint8 H x W x 3 RGB image and does
the recipe's resize, centre crop and normalization before the model's own graph.

The resize is the ONNX ``Resize`` operator (opset 18+): linear, half-pixel coordinates, antialiased,
kept in float32 (rounding to uint8 as Pillow does measured 4 flips against Pillow on the shared
photos with EfficientNet-Lite0, float32 3). The target size follows torchvision:
shorter side to ``resize_size``, the longer side ``floor(resize_size * long / short)`` computed in double
precision; the crop offsets are ``round((size - crop) / 2)`` with ONNX ``Round`` (halves to even, as
Python's ``round``). Images smaller than the crop are not padded (torchvision pads them with zeros).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from parity.errors import NotApplicable, ParityError
from parity.spec import RECIPE_METADATA_KEY, Recipe

INPUT = "image"
PREFIX = "parity_preprocessing/"
MIN_OPSET = 18


def _constant(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def preprocessing_graph(recipe: Recipe, output: str) -> onnx.GraphProto:
    """uint8 [1, H, W, 3] RGB -> the recipe's model input tensor (named ``output``)."""
    size = float(recipe.resize_size)
    crop = recipe.crop_size
    nodes = [
        _constant("p_size", np.array(size, np.float64)),
        _constant("p_crop", np.array([crop], np.int64)),
        _constant("p_two", np.array([2], np.int64)),
        _constant("p_prefix", np.array([1, 3], np.int64)),
        _constant("p_axes", np.array([2, 3], np.int64)),
        _constant("p_scale", np.array(recipe.scale, np.float32)),
        _constant("p_mean", np.array(recipe.mean, np.float32).reshape(1, 3, 1, 1)),
        _constant("p_std", np.array(recipe.std, np.float32).reshape(1, 3, 1, 1)),
        helper.make_node("Cast", [INPUT], ["p_float"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["p_float"], ["p_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Shape", ["p_nchw"], ["p_shape"], start=2, end=4),
        helper.make_node("Cast", ["p_shape"], ["p_hw"], to=TensorProto.DOUBLE),
    ]
    if recipe.resize_policy == "shorter":
        nodes += [
            helper.make_node("ReduceMin", ["p_hw"], ["p_short"], keepdims=1),
            helper.make_node("Mul", ["p_hw", "p_size"], ["p_scaled"]),
            helper.make_node("Div", ["p_scaled", "p_short"], ["p_target_f"]),
        ]
    else:  # exact: a square of resize_size
        nodes.append(_constant("p_target_f", np.array([size, size], np.float64)))
    nodes += [
        helper.make_node("Floor", ["p_target_f"], ["p_target_floor"]),
        helper.make_node("Cast", ["p_target_floor"], ["p_target"], to=TensorProto.INT64),
        helper.make_node("Concat", ["p_prefix", "p_target"], ["p_sizes"], axis=0),
        helper.make_node("Resize", ["p_nchw", "", "", "p_sizes"], ["p_resized"], mode="linear",
                         coordinate_transformation_mode="half_pixel", antialias=1),
        helper.make_node("Sub", ["p_target", "p_crop"], ["p_spare"]),
        helper.make_node("Cast", ["p_spare"], ["p_spare_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["p_two"], ["p_two_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["p_spare_f", "p_two_f"], ["p_half"]),
        helper.make_node("Round", ["p_half"], ["p_offset_f"]),
        helper.make_node("Cast", ["p_offset_f"], ["p_starts"], to=TensorProto.INT64),
        helper.make_node("Add", ["p_starts", "p_crop"], ["p_ends"]),
        helper.make_node("Slice", ["p_resized", "p_starts", "p_ends", "p_axes"], ["p_cropped"]),
    ]
    pixels = "p_cropped"
    if recipe.channel_order == "BGR":  # swapped first: the mean and std are given in the model's order
        nodes += [_constant("p_bgr", np.array([2, 1, 0], np.int64)), helper.make_node("Gather", [pixels, "p_bgr"], ["p_swapped"], axis=1)]
        pixels = "p_swapped"
    nodes += [
        helper.make_node("Mul", [pixels, "p_scale"], ["p_scaled_px"]),
        helper.make_node("Sub", ["p_scaled_px", "p_mean"], ["p_centred"]),
        helper.make_node("Div", ["p_centred", "p_std"], ["p_normalized"]),
    ]
    last = "p_normalized"
    if recipe.layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [last], ["p_nhwc"], perm=[0, 2, 3, 1]))
        last = "p_nhwc"
    if recipe.dtype == "float16":
        nodes.append(helper.make_node("Cast", [last], ["p_half_precision"], to=TensorProto.FLOAT16))
        last = "p_half_precision"
    nodes.append(helper.make_node("Identity", [last], [output]))
    out_type = TensorProto.FLOAT16 if recipe.dtype == "float16" else TensorProto.FLOAT
    return helper.make_graph(
        nodes, "parity_preprocessing",
        [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, [1, "height", "width", 3])],
        [helper.make_tensor_value_info(output, out_type, None)],
    )


def embed(model_path: Path, recipe: Recipe, target: Path) -> None:
    """Write ``model_path`` with the recipe's preprocessing prepended to ``target``."""
    model = onnx.load(str(model_path))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise NotApplicable(f"{model_path}: opset {opset}; embedding an antialiased resize needs opset {MIN_OPSET} or later "
                          f"(re-export with --opset {MIN_OPSET})")
    if len(model.graph.input) != 1:
        raise ParityError(f"{model_path}: expected one image input, the model has {len(model.graph.input)}")
    if model.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8:
        raise ParityError(f"{model_path}: the model already takes uint8 images; its preprocessing is inside it already")
    if recipe.crop_size > recipe.resize_size:
        raise ParityError(f"recipe: a centre crop of {recipe.crop_size} from a resize to {recipe.resize_size} needs zero padding, "
                          "which the embedded graph does not do")
    model_input = model.graph.input[0].name
    pre = helper.make_model(preprocessing_graph(recipe, "p_tensor"), opset_imports=[helper.make_opsetid("", opset)])
    pre.ir_version = model.ir_version
    # the preprocessing graph's names get a prefix so they cannot collide with the model's
    merged = compose.merge_models(pre, model, io_map=[("p_tensor", model_input)], prefix1=PREFIX)
    merged.graph.name = model.graph.name
    del merged.metadata_props[:]
    merged.metadata_props.extend(p for p in model.metadata_props if p.key != RECIPE_METADATA_KEY)
    recipe_entry = merged.metadata_props.add()
    recipe_entry.key, recipe_entry.value = RECIPE_METADATA_KEY, json.dumps(recipe.to_dict())
    entry = merged.metadata_props.add()
    entry.key, entry.value = "parity.embedded", "uint8 [1, H, W, 3] RGB in; resize, centre crop and normalize in the graph"
    onnx.save(merged, str(target))
