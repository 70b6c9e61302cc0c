"""PyTorch: load a trained model safely, run it eagerly, export it to ONNX with its recipe in the metadata."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import logging
import math
import re
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from parity.errors import ParityError
from parity.ops import logits_rows
from parity.registry import register
from parity.spec import RECIPE_METADATA_KEY, Recipe

STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"
EXPORT_METADATA_KEY = "parity.export"


# --- loading -------------------------------------------------------------------------------------

def sniff_format(path: Path) -> str:
    """``torchscript``, ``exported-program``, ``pickle`` (a ``torch.save`` file) or ``unknown``, read from
    the archive's member names or the pickle opcode: nothing in the file is unpickled or executed."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any("/code/__torch__" in n or n.endswith("/constants.pkl") for n in names):
            return "torchscript"
        if any(n.endswith("archive_format") or "/models/" in n and n.endswith(".json") for n in names):
            return "exported-program"
        return "pickle"
    with path.open("rb") as handle:
        magic = handle.read(2)
    return "pickle" if magic[:1] == b"\x80" else "unknown"


def load_module(
    path: Path | None = None, factory: str | None = None, weights: Path | None = None, trust: bool = False
) -> tuple[torch.nn.Module, dict[str, str]]:
    """Load a PyTorch model in eval mode and say how it was loaded.

    Safe without ``trust``: a factory (``package.module:function``, the user's own code) plus a state
    dict read with ``torch.load(weights_only=True)``. TorchScript archives, ``torch.export`` programs
    (``.pt2``) and pickled modules run code or unpickle objects from the file, so they load only with
    ``trust=True``.
    """
    if factory is not None and path is not None:
        raise ParityError(f"give either a model file ({path}) or --model-factory, not both")
    if factory is None and weights is not None:
        raise ParityError("--weights goes with --model-factory; a model file carries its own weights")
    if factory is not None:
        if weights is None:
            raise ParityError("--model-factory needs --weights (a state dict file)")
        module = _call_factory(factory)
        _load_state_dict(module, weights)
        return module.eval(), {"format": "factory + state dict", "factory": factory}
    if path is None:
        raise ParityError("give a model file, or --model-factory with --weights")
    kind = sniff_format(path)
    if kind == "unknown":
        raise ParityError(f"{path}: not an ONNX model (.onnx) nor a PyTorch file (TorchScript, .pt2, torch.save)")
    if kind == "pickle" and _is_state_dict(path):
        raise ParityError(f"{path}: holds a state dict, not a model; pass it as --weights with --model-factory package.module:function")
    if not trust:
        reason = {
            "torchscript": "a TorchScript archive runs code stored in the file",
            "exported-program": "torch.export.load unpickles objects stored in the file",
            "pickle": "a pickled module runs code stored in the file when it is unpickled",
        }[kind]
        raise ParityError(f"{path}: {reason}; load it only if you trust its source, with --trust-model (or use --model-factory with --weights)")
    _allow_local_imports()  # a pickled module's class may live in the working directory
    try:
        if kind == "torchscript":
            module = torch.jit.load(str(path), map_location="cpu")
        elif kind == "exported-program":
            module = torch.export.load(str(path)).module()
        else:
            module = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise ParityError(f"{path}: cannot load as {kind} ({_first_line(exc)})") from None
    if not callable(module):
        raise ParityError(f"{path}: the file holds a {type(module).__name__}, not a model")
    if hasattr(module, "eval") and kind != "exported-program":
        module = module.eval()
    return module, {"format": kind}


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _first_line(exc: BaseException) -> str:
    """One line for an exception: torch.export's own summary line when it has one, without colour codes."""
    text = _ANSI.sub("", str(exc)).strip()
    if "## Exception summary" in text:
        summary = [line for line in text.split("## Exception summary", 1)[1].splitlines() if line.strip()]
        if summary:
            return summary[0].strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__


def _allow_local_imports() -> None:
    """Let modules in the working directory import, as with ``python -m``, after everything installed."""
    if str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))


def _call_factory(factory: str) -> torch.nn.Module:
    module_name, _, function_name = factory.partition(":")
    if not module_name or not function_name:
        raise ParityError(f"--model-factory {factory!r}: write it as package.module:function")
    _allow_local_imports()
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # ImportError, AttributeError, or whatever the module raises on import
        raise ParityError(f"--model-factory {factory!r}: {_first_line(exc)}") from None
    if not callable(function):
        raise ParityError(f"--model-factory {factory!r}: {function_name} is not callable")
    try:
        model = function()
    except Exception as exc:  # the user's factory failed
        raise ParityError(f"--model-factory {factory!r} raised {_first_line(exc)}") from None
    if not isinstance(model, torch.nn.Module):
        raise ParityError(f"--model-factory {factory!r} returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def _is_state_dict(path: Path) -> bool:
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not loadable under weights_only: a pickled object, or not a torch file at all
        return False
    return isinstance(data, dict)


def _load_state_dict(module: torch.nn.Module, weights: Path) -> None:
    """Load weights with ``weights_only=True`` (no code from the file runs); unwrap common checkpoint layouts."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ParityError(f"{weights}: weights file not found") from None
    except Exception as exc:  # UnpicklingError for anything that is not plain tensors and containers
        raise ParityError(f"{weights}: not a state dict that loads with weights_only=True ({type(exc).__name__})") from None
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ParityError(f"{weights}: holds a {type(state).__name__}, not a state dict")
    expected = set(module.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")

        parts = [f"missing {few(missing)}" if missing else "", f"unexpected {few(unexpected)}" if unexpected else ""]
        raise ParityError(f"{weights}: does not fit the factory's model ({'; '.join(p for p in parts if p)})")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shapes that differ
        raise ParityError(f"{weights}: does not fit the factory's model ({_ANSI.sub('', str(exc)).splitlines()[-1].strip()})") from None


def recipe_from_pretrained_cfg(module: Any) -> tuple[dict[str, Any], str | None] | None:
    """Recipe fields and the resize interpolation from a timm-style ``pretrained_cfg``, if the model has one.

    timm evaluates with a centre crop of ``input_size`` after resizing the shorter side to
    ``floor(input_size / crop_pct)``, on pixels scaled to [0, 1] and normalized by ``mean``/``std``.
    """
    cfg = getattr(module, "pretrained_cfg", None) or getattr(module, "default_cfg", None)
    if not isinstance(cfg, dict) or "input_size" not in cfg:
        return None
    try:
        height, width = (int(v) for v in cfg["input_size"][-2:])
        crop_pct = float(cfg.get("crop_pct", 0.875))
        fields: dict[str, Any] = {"crop_size": width, "resize_size": math.floor(width / crop_pct), "scale": 1 / 255}
        for key in ("mean", "std"):
            if key in cfg:
                fields[key] = [float(v) for v in cfg[key]]
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise ParityError(f"the model's pretrained_cfg is not usable as a recipe ({_first_line(exc)})") from None
    if height != width:
        raise ParityError(f"the model's pretrained_cfg asks for a {height}x{width} input; parity recipes crop squares")
    return fields, cfg.get("interpolation")


# --- running -------------------------------------------------------------------------------------

class TorchRunner:
    """Eager PyTorch on the CPU in float32, ``torch.no_grad()``, the module in eval mode."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.input_name = "input"
        self.input_shape: list[int | str] = ["batch", "..."]
        self.providers = [f"torch {torch.__version__} eager CPU"]
        self.one_at_a_time = False

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Forward passes on zeros before any image is read: fail if the model cannot take the recipe's
        tensor, and fall back to one image per call if it only takes a batch of 1 (a static ``.pt2``)."""
        try:
            self._forward(np.zeros((1, *shape), np.float32))
        except ParityError:
            raise
        except Exception as exc:  # any shape or dtype error inside the user's model
            raise ParityError(f"the PyTorch model cannot take an input of shape {[1, *shape]} ({_first_line(exc)})") from None
        try:
            self._forward(np.zeros((2, *shape), np.float32))
        except Exception:  # a model traced or exported with a static batch of 1
            self.one_at_a_time = True
            self.input_shape = [1, *shape]

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.one_at_a_time:
            return np.concatenate([self._forward(batch[i : i + 1]) for i in range(len(batch))])
        return self._forward(batch)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            output = self.module(torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)))
        if isinstance(output, (tuple, list)) and output:
            output = output[0]
        if not isinstance(output, torch.Tensor):
            raise ParityError(f"the PyTorch model returned a {type(output).__name__}; parity needs a logits tensor (batch x classes)")
        return logits_rows(output.detach().float().numpy(), len(batch))


@register("runtime", "torch", "torch", "PyTorch eager, CPU, float32, eval mode, torch.no_grad()")
def load_runner(module: Any) -> TorchRunner:
    return TorchRunner(module)


# --- exporting -----------------------------------------------------------------------------------

EXPORTERS = ("auto", "dynamo", "legacy")


def export_onnx(
    module: torch.nn.Module, path: Path, recipe: Recipe, opset: int = 18, dynamic_batch: bool = True, exporter: str = "auto"
) -> dict[str, str]:
    """Export ``module`` to ``path`` with ``recipe`` stored in its metadata; return what ran.

    ``auto`` uses the dynamo exporter (``torch.onnx.export(dynamo=True)``) when onnxscript is
    installed and the model is not TorchScript, and the legacy TorchScript exporter otherwise (it
    still works, with fewer operators, e.g. no antialiased resize). Per-node stack traces are dropped so the file holds no local paths.
    """
    if exporter not in EXPORTERS:
        raise ParityError(f"--exporter must be one of {', '.join(EXPORTERS)}, not {exporter!r}")
    has_onnxscript = importlib.util.find_spec("onnxscript") is not None
    if exporter == "dynamo" and not has_onnxscript:
        raise ParityError("the dynamo exporter needs onnxscript: pip install onnxscript")
    if recipe.dtype != "float32":
        raise ParityError(f"export writes a float32 input; the recipe asks for {recipe.dtype} (export the model in that precision yourself)")
    scripted = isinstance(module, torch.jit.ScriptModule)  # only the legacy exporter takes TorchScript
    dynamo = exporter == "dynamo" or (exporter == "auto" and has_onnxscript and not scripted)
    quiet = [logging.getLogger(name) for name in ("torch", "torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        # A batch of 2 in the example keeps torch.export from specialising the batch axis to 1; a model
        # that only takes a batch of 1 (a static .pt2) gets a fixed batch instead, and the metadata says so.
        batches = (2, 1) if dynamic_batch and dynamo else (1,)
        for attempt, size in enumerate(batches):
            try:
                model = _export_once(module, recipe, size, opset, dynamic_batch, dynamo)
                break
            except Exception as exc:  # the exporter's own error types vary by version
                if attempt == len(batches) - 1:
                    raise ParityError(f"export to ONNX failed ({_first_line(exc)})") from None
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
    _drop_stack_traces(model.graph)
    actual_opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if actual_opset != opset:
        raise ParityError(
            f"the {'dynamo' if dynamo else 'legacy'} exporter wrote opset {actual_opset}, not the requested {opset}"
            + (" (the dynamo exporter supports opset 18 and newer; try --exporter legacy)" if dynamo else "")
        )
    batch_axis = model.graph.input[0].type.tensor_type.shape.dim[0]
    info = {
        "exporter": "torch.onnx.export(dynamo=True)" if dynamo else "torch.onnx.export(dynamo=False), legacy TorchScript exporter",
        "opset": str(actual_opset),
        "torch": torch.__version__,
        "dynamic_batch": str(bool(batch_axis.dim_param)).lower(),
    }
    for key, value in {RECIPE_METADATA_KEY: json.dumps(recipe.to_dict()), EXPORT_METADATA_KEY: json.dumps(info)}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return info


def _export_once(module: Any, recipe: Recipe, batch: int, opset: int, dynamic_batch: bool, dynamo: bool) -> onnx.ModelProto:
    example = torch.zeros(batch, 3, recipe.crop_size, recipe.crop_size)
    if recipe.layout == "NHWC":
        example = example.permute(0, 2, 3, 1).contiguous()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        if dynamo:
            axis = torch.export.Dim("batch", min=1, max=4096)
            program = torch.onnx.export(
                module, (example,), dynamo=True, opset_version=opset, input_names=["input"],
                output_names=["logits"], dynamic_shapes=({0: axis},) if dynamic_batch else None, verbose=False,
            )
            return program.model_proto
        buffer = io.BytesIO()
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, opset_version=opset, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None,
        )
        return onnx.load_from_string(buffer.getvalue())


def _drop_stack_traces(graph: onnx.GraphProto) -> None:
    """Remove the exporter's per-node Python stack traces: they embed local paths and make the file's
    hash depend on where torch is installed."""
    for node in graph.node:
        kept = [p for p in node.metadata_props if p.key != STACK_TRACE_KEY]
        del node.metadata_props[:]
        node.metadata_props.extend(kept)
        for attribute in node.attribute:
            for subgraph in [attribute.g, *attribute.graphs]:
                _drop_stack_traces(subgraph)


def library_versions() -> dict[str, str]:
    return {"torch": torch.__version__}


# --- resizing ------------------------------------------------------------------------------------

def _register_interpolate(name: str, mode: str, antialias: bool, align_corners: bool | None, integer: bool) -> None:
    kind = "uint8 in, uint8 out" if integer else "float32 in, float32 out (not rounded)"
    options = f"mode={mode!r}, antialias={antialias}" + (f", align_corners={align_corners}" if align_corners is not None else "")

    @register("resize", f"torch:{name}", "torch", f"torch.nn.functional.interpolate({options}), {kind}")
    def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        tensor = torch.from_numpy(np.require(image, requirements=["C", "W"])).permute(2, 0, 1)[None]  # decoders may return read-only arrays
        if not integer:
            tensor = tensor.float()
        out = torch.nn.functional.interpolate(tensor, size=(size[1], size[0]), mode=mode, antialias=antialias, align_corners=align_corners)
        return out[0].permute(1, 2, 0).contiguous().numpy()

    resize.antialias = antialias  # type: ignore[attr-defined]
    resize.coordinates = None if mode == "nearest" else ("align_corners" if align_corners else "half_pixel")  # type: ignore[attr-defined]


for _args in (
    ("bilinear", "bilinear", False, False, False),
    ("bilinear-ac", "bilinear", False, True, False),
    ("bilinear-aa", "bilinear", True, False, False),
    ("bilinear-aa-uint8", "bilinear", True, False, True),
    ("bicubic", "bicubic", False, False, False),
    ("bicubic-aa", "bicubic", True, False, False),
    ("nearest", "nearest", False, None, False),
):
    _register_interpolate(*_args)
