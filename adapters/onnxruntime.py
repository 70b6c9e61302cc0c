"""ONNX Runtime: run a batch of input tensors through an ONNX model and return logits."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort

from parity.environment import available_cores
from parity.errors import NotApplicable, ParityError
from parity.models import cache_dir, file_sha256
from parity.ops import logits_rows
from parity.registry import register
from parity.spec import RECIPE_METADATA_KEY, Recipe

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64, "tensor(uint8)": np.uint8}


def _tensors_with_external_data(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    found = [t for t in graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR and attribute.t.data_location == onnx.TensorProto.EXTERNAL:
                found.append(attribute.t)
            for subgraph in [attribute.g, *attribute.graphs] if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) else []:
                found += _tensors_with_external_data(subgraph)
    return found


def external_data_files(model_path: Path) -> list[Path]:
    """The files the model keeps tensor data in; a one-line error if any lies outside the model's folder
    (an absolute path, ``..``, or a symlink that leads out): a model file must not make parity read others."""
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception:  # not a readable ONNX file: ONNX Runtime's own load error says so next
        return []
    folder = model_path.resolve().parent
    files = []
    for tensor in _tensors_with_external_data(model.graph):
        location = next((entry.value for entry in tensor.external_data if entry.key == "location"), "")
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ParityError(
                f"{model_path}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's folder; refused"
            )
        files.append(target)
    return sorted(set(files))


# Operators whose output for one image depends on the other images in its batch: each quantizes its
# input with one scale and zero point taken from the whole tensor (DynamicQuantizeLinear, and ONNX
# Runtime's fused com.microsoft forms of it), so a dynamically quantized model's answer for an image
# would change with its batch mates.
BATCH_COUPLED_OPS = frozenset({"DynamicQuantizeLinear", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM"})


def _op_types(graph: onnx.GraphProto) -> set[str]:
    """Every operator in the graph and in its subgraphs (If, Loop and Scan bodies)."""
    found = set()
    for node in graph.node:
        found.add(node.op_type)
        for attribute in node.attribute:
            for subgraph in [attribute.g] if attribute.type == onnx.AttributeProto.GRAPH else list(attribute.graphs):
                found |= _op_types(subgraph)
    return found


def batch_coupled_ops(model_path: Path) -> set[str]:
    """The operators in the model that couple the images of a batch (see ``BATCH_COUPLED_OPS``)."""
    try:
        model = onnx.load(str(model_path), load_external_data=False)
    except Exception:  # not a readable ONNX file: ONNX Runtime's own load error says so
        return set()
    return _op_types(model.graph) & BATCH_COUPLED_OPS


class OnnxRunner:
    """An ``InferenceSession`` on the CPU provider that accepts batches of any size.

    A model with a dynamic batch axis gets whole batches; a fixed batch of ``b`` gets chunks of
    ``b``, the last one padded by repeating its final image and the padding dropped from the output.
    A model with batch-coupled operators (dynamic quantization) gets one image per call (with a fixed
    batch, the image repeated to fill it), as a deployment serving single requests runs it, so no
    image's answer depends on its batch mates; those calls run ``threads`` at a time, each on one core
    (faster than one call on all of them for such models). ``threads`` defaults to the cores this
    process may use.
    """

    def __init__(self, model_path: Path, providers: list[str] | None = None, threads: int = 0) -> None:
        self.model_path = model_path
        self.external_files = external_data_files(model_path)
        threads = threads or available_cores()
        coupled = bool(batch_coupled_ops(model_path))
        self._concurrent_calls = ThreadPoolExecutor(max_workers=threads) if coupled and threads > 1 else None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.intra_op_num_threads = 1 if self._concurrent_calls else threads
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for every load failure
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ParityError(f"{model_path}: ONNX Runtime cannot load the model ({first_line})") from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ParityError(f"{model_path}: expected one image input, the model has {len(inputs)}")
        self.input_name: str = inputs[0].name
        self.input_shape: list[int | str | None] = list(inputs[0].shape)
        if inputs[0].type not in _ORT_DTYPES:
            raise ParityError(f"{model_path}: input {self.input_name!r} has type {inputs[0].type}; parity feeds float images (or uint8 to a model with its preprocessing inside)")
        self.input_dtype = _ORT_DTYPES[inputs[0].type]
        batch = self.input_shape[0] if self.input_shape else None
        self.fixed_batch: int | None = batch if isinstance(batch, int) and batch > 0 else None
        self.images_per_call: int | None = 1 if coupled else self.fixed_batch
        self.providers: list[str] = self.session.get_providers()

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Fail before any image is read if one preprocessed image of ``shape`` cannot fit the model's input.
        A uint8 input takes decoded images of any size (preprocessing inside the model)."""
        if self.input_dtype == np.uint8:
            return
        expected = self.input_shape[1:]
        if len(expected) != len(shape) or any(isinstance(dim, int) and dim != actual for dim, actual in zip(expected, shape)):
            raise ParityError(
                f"{self.model_path}: model input {self.input_name!r} has shape {self.input_shape}; the recipe makes "
                f"images of shape {list(shape)} (check the recipe's crop size and layout)"
            )

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits (N x classes, float32) for a batch of N preprocessed images."""
        batch = batch.astype(self.input_dtype, copy=False)
        if self.images_per_call is None:
            return self._run(batch)
        step, size = self.images_per_call, self.fixed_batch or self.images_per_call
        chunks = []
        for start in range(0, len(batch), step):
            chunk = batch[start : start + step]
            if len(chunk) < size:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), axis=0)])
            chunks.append(chunk)
        outputs = self._concurrent_calls.map(self._run, chunks) if self._concurrent_calls else map(self._run, chunks)
        return np.concatenate([rows[:step] for rows in outputs])[: len(batch)]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return logits_rows(self.session.run(None, {self.input_name: batch})[0], len(batch))

    def metadata(self) -> dict[str, str]:
        """The model's custom metadata (``metadata_props``)."""
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def recipe_metadata(self) -> dict | None:
        """The recipe parity stored in the model when it exported it, if any."""
        text = self.metadata().get(RECIPE_METADATA_KEY)
        if text is None:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ParityError(f"model metadata {RECIPE_METADATA_KEY!r} is not valid JSON") from None


@register("runtime", "onnxruntime", "onnxruntime", "onnxruntime.InferenceSession, CPUExecutionProvider, float32")
def load(model_path: Path) -> OnnxRunner:
    """Open ``model_path`` in ONNX Runtime."""
    return OnnxRunner(model_path)


def _transformed(model_path: Path, kind: str, make: Callable[[Path, Path], None]) -> Path:
    """``model_path`` transformed by ``make(source, target)``, cached by the model's hash, the kind and the ORT version."""
    sources = [model_path, *external_data_files(model_path)]
    digest = hashlib.sha256("".join(file_sha256(f) for f in sources).encode()).hexdigest()
    name = f"{digest[:20]}-{kind}-ort{ort.__version__}.onnx"
    target = cache_dir() / "transforms" / name
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(target.parent, os.W_OK)
    except OSError:
        writable = False
    if not writable:  # an unwritable cache: transform into a private temporary folder instead
        target = Path(tempfile.mkdtemp(prefix="parity-transforms-")) / name
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantizer advises pre-processing on the root logger
    try:
        make(model_path, partial)
        partial.replace(target)
    except ParityError:
        raise
    except Exception as exc:  # the converters raise their own types
        raise ParityError(f"{model_path}: the {kind} transform failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    finally:
        quiet.setLevel(level)
        partial.unlink(missing_ok=True)
    return target


def _to_fp16(source: Path, target: Path) -> None:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(source)), keep_io_types=True), str(target))


def _to_int8_dynamic(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)


def _to_int8_static(calibration: np.ndarray, per_channel: bool) -> Callable[[Path, Path], None]:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self, source: Path) -> None:
            name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
            self.feeds = iter([{name: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self) -> dict | None:
            return next(self.feeds, None)

    def make(source: Path, target: Path) -> None:
        quantize_static(
            str(source), str(target), Reader(source), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )

    return make


def _register_int8_static(name: str, per_channel: bool) -> None:
    granularity = "per-channel" if per_channel else "per-tensor"

    @register(
        "runtime", f"onnxruntime:{name}", "onnxruntime",
        f"onnxruntime.quantization.quantize_static, QDQ, int8 weights {granularity}, uint8 activations calibrated "
        "(min-max) on the first images of the data through the reference stack, CPU",
    )
    def load(model_path: Path, calibration: np.ndarray | None = None) -> OnnxRunner:
        if calibration is None or not len(calibration):
            raise ParityError(f"{name} needs calibration images from the data")
        digest = hashlib.sha256(calibration.tobytes()).hexdigest()[:12]
        return OnnxRunner(_transformed(model_path, f"{name}-{digest}", _to_int8_static(calibration, per_channel)))

    load.needs_calibration = True  # type: ignore[attr-defined]


_register_int8_static("int8-static", per_channel=True)
_register_int8_static("int8-static-tensor", per_channel=False)


@register(
    "runtime", "onnxruntime:fp16", "onnxruntime",
    "weights and activations in float16 (onnxruntime.transformers.float16, inputs and outputs kept float32), CPU",
)
def load_fp16(model_path: Path) -> OnnxRunner:
    return OnnxRunner(_transformed(model_path, "fp16", _to_fp16))


@register(
    "runtime", "onnxruntime:int8-dynamic", "onnxruntime",
    "onnxruntime.quantization.quantize_dynamic: int8 weights, per-tensor dynamic activation quantization, CPU",
)
def load_int8_dynamic(model_path: Path) -> OnnxRunner:
    return OnnxRunner(_transformed(model_path, "int8-dynamic", _to_int8_dynamic))


@register(
    "runtime", "onnxruntime:embedded", "onnxruntime",
    "the model with the recipe's resize, centre crop and normalize inside its graph (parity embed): decoded uint8 "
    "H x W x 3 in, ONNX Resize linear, half-pixel, antialiased, kept in float32; CPU",
)
def load_embedded(model_path: Path, recipe: Recipe) -> OnnxRunner:
    from parity_adapters import onnx_embed

    graph_code = Path(onnx_embed.__file__).read_bytes()  # an edited preprocessing graph is a new transform
    digest = hashlib.sha256(json.dumps(recipe.to_dict(), sort_keys=True).encode() + graph_code).hexdigest()[:12]
    return OnnxRunner(_transformed(model_path, f"embedded-{digest}", lambda source, target: onnx_embed.embed(source, recipe, target)))


load_embedded.needs_recipe = True  # type: ignore[attr-defined]


# --- execution providers other than the CPU --------------------------------------------------------

PROVIDERS: dict[str, str] = {
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
}


def _register_provider(short: str, provider: str) -> None:
    @register(
        "runtime", f"onnxruntime:{short}", "onnxruntime",
        f"onnxruntime.InferenceSession with providers [{provider}, CPUExecutionProvider]: nodes the provider "
        "lacks fall back to the CPU, as in deployment; float32",
    )
    def load(model_path: Path) -> OnnxRunner:
        return OnnxRunner(model_path, providers=[provider, "CPUExecutionProvider"])

    def unavailable() -> str | None:
        available = ort.get_available_providers()
        return None if provider in available else f"this onnxruntime offers {', '.join(available)}, not {provider}"

    load.unavailable = unavailable  # type: ignore[attr-defined]


for _short, _provider in PROVIDERS.items():
    _register_provider(_short, _provider)


# --- graph noise: one attribute changed in every node of one kind --------------------------------


def flip_ceil_mode(model: onnx.ModelProto) -> int:
    """Flip ``ceil_mode`` (0 <-> 1) on every MaxPool node of the main graph; returns how many changed."""
    changed = 0
    for node in model.graph.node:
        if node.op_type == "MaxPool":
            current = next((a for a in node.attribute if a.name == "ceil_mode"), None)
            value = 1 - (current.i if current is not None else 0)
            if current is not None:
                node.attribute.remove(current)
            node.attribute.append(onnx.helper.make_attribute("ceil_mode", value))
            changed += 1
    return changed


def switch_upsample_mode(model: onnx.ModelProto) -> int:
    """Switch ``mode`` nearest <-> linear on every Resize and Upsample node of the main graph (cubic is
    left alone); returns how many changed."""
    switch = {"nearest": "linear", "linear": "nearest"}
    changed = 0
    for node in model.graph.node:
        if node.op_type in ("Resize", "Upsample"):
            current = next((a for a in node.attribute if a.name == "mode"), None)
            mode = current.s.decode() if current is not None else "nearest"
            if mode not in switch:
                continue
            if current is not None:
                node.attribute.remove(current)
            node.attribute.append(onnx.helper.make_attribute("mode", switch[mode]))
            changed += 1
    return changed


def _graph_transform(transform: Callable[[onnx.ModelProto], int], nodes: str) -> Callable[[Path, Path], None]:
    def make(source: Path, target: Path) -> None:
        model = onnx.load(str(source))
        if not transform(model):
            raise NotApplicable(f"{source}: the model has no {nodes} node to change")
        del model.graph.value_info[:]  # shapes inferred before the change may no longer hold
        onnx.save(model, str(target))

    return make


@register(
    "runtime", "onnxruntime:ceil-mode", "onnxruntime",
    "every MaxPool node's ceil_mode flipped (0 <-> 1), as when a deployment framework rounds pooled sizes the "
    "other way; CPU",
)
def load_ceil_mode(model_path: Path) -> OnnxRunner:
    return OnnxRunner(_transformed(model_path, "ceil-mode", _graph_transform(flip_ceil_mode, "MaxPool")))


@register(
    "runtime", "onnxruntime:upsample-mode", "onnxruntime",
    "every Resize/Upsample node's mode switched nearest <-> linear, as when a converter maps upsampling to the "
    "other kernel; CPU",
)
def load_upsample_mode(model_path: Path) -> OnnxRunner:
    return OnnxRunner(_transformed(model_path, "upsample-mode", _graph_transform(switch_upsample_mode, "Resize or Upsample")))


def library_versions() -> dict[str, str]:
    """ONNX Runtime's version and its available execution providers."""
    return {"onnxruntime": ort.__version__, "onnxruntime.providers": ",".join(ort.get_available_providers())}


# --- the ONNX Resize operator, run in ONNX Runtime -------------------------------------------------

_RESIZE_SESSIONS: dict[str, ort.InferenceSession] = {}


def _resize_session(mode: str, transform: str, antialias: bool) -> ort.InferenceSession:
    """A one-node model: Resize(image as float32 NCHW, sizes) with the given attributes, opset 18."""
    from onnx import TensorProto, helper

    key = f"{mode}-{transform}-{antialias}"
    if key not in _RESIZE_SESSIONS:
        attributes = {"mode": mode, "coordinate_transformation_mode": transform, "antialias": int(antialias)}
        if mode == "nearest":
            attributes["nearest_mode"] = "floor"
        node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], **attributes)
        graph = helper.make_graph(
            [node], "resize",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"]), helper.make_tensor_value_info("sizes", TensorProto.INT64, [4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, "oh", "ow"])],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        options = ort.SessionOptions()
        options.log_severity_level = 3
        # One image per call, called from parity's preprocessing threads: those are the parallelism, and
        # idle ORT threads spinning after each call would take the cores they and the model need.
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        _RESIZE_SESSIONS[key] = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return _RESIZE_SESSIONS[key]


def _register_onnx_resize(mode: str, transform: str, antialias: bool) -> None:
    name = f"onnx:{mode}-{transform}" + ("-aa" if antialias else "")
    description = (f"ONNX Resize (opset 18) in ONNX Runtime: mode={mode}, coordinate_transformation_mode={transform}, "
                   f"antialias={int(antialias)}" + (", nearest_mode=floor" if mode == "nearest" else "") + "; float32 out (not rounded)")

    @register("resize", name, "onnxruntime", description)
    def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        x = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
        sizes = np.array([1, 3, size[1], size[0]], dtype=np.int64)
        return _resize_session(mode, transform, antialias).run(None, {"x": x, "sizes": sizes})[0][0].transpose(1, 2, 0)

    resize.antialias = antialias  # type: ignore[attr-defined]
    resize.coordinates = None if mode == "nearest" else ("half_pixel" if transform == "pytorch_half_pixel" else transform)  # type: ignore[attr-defined]


for _mode, _transform, _aa in (
    ("linear", "half_pixel", False), ("linear", "pytorch_half_pixel", False), ("linear", "asymmetric", False),
    ("linear", "align_corners", False), ("linear", "half_pixel", True), ("cubic", "half_pixel", False),
    ("nearest", "asymmetric", False),
):
    _register_onnx_resize(_mode, _transform, _aa)
