"""The model under test: an ONNX file, or a PyTorch model whose ONNX export is the deployment side.

A PyTorch model runs the reference side eagerly (runtime ``torch``); candidates run its ONNX export in
ONNX Runtime. Exports are cached by model content, recipe, opset and torch version.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, TypeVar

from parity import registry
from parity.errors import ParityError
from parity.spec import Recipe

DEFAULT_OPSET = 18
T = TypeVar("T")


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a file, or a factory plus a state dict. ``trust`` allows files that run code."""

    path: Path | None = None
    factory: str | None = None
    weights: Path | None = None
    trust: bool = False

    @property
    def is_onnx(self) -> bool:
        return self.factory is None and self.path is not None and self.path.suffix.lower() == ".onnx"


@dataclass
class OpenedModel:
    """A loaded model: its identity, the recipe it carries (if any) and its runners."""

    source: ModelSource
    identity: dict[str, Any]
    carried_recipe: dict[str, Any] | None
    recipe_origin: str
    interpolation: str | None = None
    module: Any = None
    runners: dict[str, Any] = field(default_factory=dict)
    export_info: dict[str, str] | None = None
    onnx_path: Path | None = None  # a PyTorch model's export to use instead of exporting it here

    @property
    def is_torch(self) -> bool:
        return self.module is not None


def cache_dir() -> Path:
    """``$PARITY_CACHE_DIR``, else ``$XDG_CACHE_HOME/parity``, else ``~/.cache/parity``."""
    if os.environ.get("PARITY_CACHE_DIR"):
        return Path(os.environ["PARITY_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "parity"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, remembered per (path, size, modification time): a model hashed for its
    identity, for each transform and for the output cache is read once per run."""
    stat = path.stat()
    return _sha256_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=256)
def _sha256_of(path: str, size: int, modified_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torch_adapter() -> ModuleType:
    """The PyTorch adapter, or a one-line error naming the extra that brings it."""
    try:
        return importlib.import_module("parity_adapters.torch")
    except ImportError as exc:
        raise ParityError(f"PyTorch models need the torch extra ({exc}); install it with: pip install 'parity[torch]'") from None


def open_model(source: ModelSource) -> OpenedModel:
    """Open an ONNX model in ONNX Runtime, or load a PyTorch model (safely unless ``source.trust``)."""
    for path, what in ((source.path, "model"), (source.weights, "weights")):
        if path is not None and path.is_dir():
            raise ParityError(f"{path}: is a folder, not a {what} file")
        if path is not None and not path.is_file():
            raise ParityError(f"{path}: {what} file not found")
    if source.is_onnx:
        assert source.path is not None
        runner = registry.get("runtime", "onnxruntime").function(source.path)
        identity = {"path": str(source.path), "format": "onnx", "sha256": file_sha256(source.path)}
        return OpenedModel(source, identity, runner.recipe_metadata(), "model metadata", runners={"onnxruntime": runner})
    adapter = torch_adapter()
    module, how = adapter.load_module(source.path, source.factory, source.weights, source.trust)
    hashed = source.weights if source.factory else source.path
    assert hashed is not None
    identity = {**how, "path": str(hashed), "sha256": file_sha256(hashed)}
    carried = adapter.recipe_from_pretrained_cfg(module)
    fields, interpolation = carried if carried else (None, None)
    return OpenedModel(source, identity, fields, "pretrained_cfg", interpolation, module=module)


def needs_calibration(runtime: str) -> bool:
    """Whether ``runtime`` (a static quantization) needs calibration tensors from the data."""
    return bool(getattr(registry.get("runtime", runtime).function, "needs_calibration", False))


def runner_for(
    model: OpenedModel, runtime: str, recipe: Recipe, opset: int = DEFAULT_OPSET, calibration: Any = None
) -> Any:
    """The runner for ``runtime``: eager torch, or an ONNX Runtime variant (``onnxruntime``,
    ``onnxruntime:fp16``, ...) on the ONNX model, a PyTorch model being exported first. A static
    quantization gets ``calibration`` (preprocessed tensors)."""
    if runtime in model.runners:
        return model.runners[runtime]
    if runtime == "torch":
        if not model.is_torch:
            raise ParityError("runtime 'torch' needs a PyTorch model; this one is ONNX")
        runner = registry.get("runtime", "torch").function(model.module)
    else:
        function = registry.get("runtime", runtime).function
        extra = {"calibration": calibration} if needs_calibration(runtime) else {}
        if getattr(function, "needs_recipe", False):
            extra["recipe"] = recipe
        runner = function(onnx_model_path(model, recipe, opset), **extra)
    model.runners[runtime] = runner
    return runner


def onnx_model_path(model: OpenedModel, recipe: Recipe, opset: int = DEFAULT_OPSET) -> Path:
    """The ONNX file the deployment side runs: the model itself, the export given, or the cached export
    (checked by loading it; a damaged cache entry is exported again, once)."""
    if not model.is_torch:
        assert model.source.path is not None
        return model.source.path
    if model.onnx_path is not None:
        return model.onnx_path
    path = exported_path(model, recipe, opset)
    try:
        check = registry.get("runtime", "onnxruntime").function(path)
    except ParityError:
        path.unlink(missing_ok=True)
        path = exported_path(model, recipe, opset)
        check = registry.get("runtime", "onnxruntime").function(path)
    model.export_info = json.loads(check.metadata().get("parity.export", "{}"))
    model.onnx_path = path
    return path


def code_fingerprint(model: OpenedModel) -> str:
    """SHA-256 of the source files that define the model's Python code (its class and its factory), so an
    edited ``forward`` never reuses an export of the old one. Files that hold their own code
    (TorchScript, .pt2, pickles) are covered by the file hash already."""
    digest = hashlib.sha256()
    modules = {type(model.module).__module__, (model.source.factory or "").partition(":")[0]}
    for name in sorted(m for m in modules if m):
        source = getattr(sys.modules.get(name), "__file__", None)
        if source and Path(source).is_file():
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()


def exported_path(model: OpenedModel, recipe: Recipe, opset: int = DEFAULT_OPSET, dynamic_batch: bool = True) -> Path:
    """The model's ONNX export for ``recipe``: from the cache (keyed by weights, code, recipe, opset and
    torch version), or exported now."""
    torch_version = torch_adapter().library_versions()["torch"]
    key = hashlib.sha256(
        json.dumps([model.identity, code_fingerprint(model), recipe.to_dict(), opset, dynamic_batch, torch_version], sort_keys=True).encode()
    ).hexdigest()[:20]
    path = cache_dir() / "exports" / f"{key}.onnx"
    if not path.is_file():
        export(model, path, recipe, opset, dynamic_batch)
    return path


def export(
    model: OpenedModel, output: Path, recipe: Recipe, opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, exporter: str = "auto"
) -> dict[str, str]:
    """Export a PyTorch model to ``output`` (written atomically) with ``recipe`` in its metadata."""
    if not model.is_torch:
        raise ParityError(f"{model.source.path}: is already ONNX; export takes a PyTorch model")
    adapter = torch_adapter()
    info = write_model(output, lambda partial: adapter.export_onnx(model.module, partial, recipe, opset, dynamic_batch, exporter))
    model.export_info = info
    return info


def write_model(output: Path, write: Callable[[Path], T]) -> T:
    """Call ``write(partial)`` on a temporary file beside ``output``, then move it into place: a failed or
    interrupted export never leaves a half-written model. Returns what ``write`` returned."""
    output = output.resolve() if output.is_symlink() else output
    if output.is_dir():
        raise ParityError(f"{output}: is a folder; give a file path such as {output / 'model.onnx'}")
    if output.exists() and not output.is_file():
        raise ParityError(f"{output}: is not a regular file; give a file path for the ONNX model")
    partial: Path | None = None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
        os.close(handle)
        partial = Path(name)
        result = write(partial)
        umask = os.umask(0)
        os.umask(umask)
        partial.chmod(0o666 & ~umask)  # mkstemp makes owner-only files; a model is an ordinary file
        partial.replace(output)
    except OSError as exc:
        raise ParityError(f"{output}: cannot write the model ({exc.strerror or exc})") from None
    finally:
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return result
