"""Stage implementations looked up by (stage, name); adapters register themselves on import.

An implementation name is ``library`` or ``library:variant`` (``opencv:area``). The library part
picks the module that registers it, imported on first use, so a missing optional library only
matters to the stacks that name it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from parity.errors import ParityError
from parity.spec import STAGES

# library prefix -> (module that registers its adapters, pip requirement that provides it)
LIBRARY_MODULES: dict[str, tuple[str, str]] = {
    "pil": ("parity_adapters.pil", "pillow"),
    "opencv": ("parity_adapters.opencv", "opencv-python-headless"),
    "onnxruntime": ("parity_adapters.onnxruntime", "onnxruntime"),
    "onnx": ("parity_adapters.onnxruntime", "onnxruntime"),
    "torch": ("parity_adapters.torch", "parity[torch]"),
    "simplejpeg": ("parity_adapters.simplejpeg", "simplejpeg"),
    "ffmpeg": ("parity_adapters.ffmpeg", "av"),
    "vips": ("parity_adapters.vips", "pyvips[binary]"),
    "numpy": ("parity.ops", "numpy"),
    "center": ("parity.ops", "numpy"),
    "none": ("parity.ops", "numpy"),
    "swap": ("parity.colour", "numpy"),
    "yuv": ("parity.colour", "numpy"),
}


@dataclass(frozen=True)
class Adapter:
    """One library's implementation of one stage."""

    stage: str
    name: str
    library: str
    function: Callable[..., Any]
    description: str


_ADAPTERS: dict[tuple[str, str], Adapter] = {}


def register(stage: str, name: str, library: str, description: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``function`` as the ``name`` implementation of ``stage``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        _ADAPTERS[(stage, name)] = Adapter(stage, name, library, function, description)
        return function

    return decorate


def library_of(name: str) -> str:
    """The library prefix of an implementation name."""
    return name.split(":", 1)[0]


def _import_library(library: str) -> None:
    if library not in LIBRARY_MODULES:
        raise ParityError(f"no adapter library {library!r} (known: {', '.join(sorted(LIBRARY_MODULES))})")
    module, requirement = LIBRARY_MODULES[library]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ParityError(f"adapter {library!r} needs {requirement} ({exc}); install it with: pip install '{requirement}'") from None


def get(stage: str, name: str) -> Adapter:
    """The adapter registered for ``(stage, name)``, importing its library module on first use.

    An adapter function may carry ``unavailable() -> str | None``: a reason it cannot run on this
    machine (an execution provider this onnxruntime lacks), raised here as a :class:`ParityError`.
    """
    if (stage, name) not in _ADAPTERS:
        _import_library(library_of(name))
    try:
        adapter = _ADAPTERS[(stage, name)]
    except KeyError:
        known = sorted(n for s, n in _ADAPTERS if s == stage)
        raise ParityError(f"no {stage} implementation {name!r} (known: {', '.join(known)})") from None
    unavailable = getattr(adapter.function, "unavailable", None)
    reason = unavailable() if unavailable else None
    if reason:
        raise ParityError(f"{stage} {name!r} cannot run here: {reason}")
    return adapter


def implementations(stage: str, library: str) -> list[str]:
    """Every implementation of ``stage`` that ``library`` registers and that can run here, sorted."""
    _import_library(library)
    names = sorted(n for s, n in _ADAPTERS if s == stage and library_of(n) == library)
    runnable = []
    for name in names:
        try:
            get(stage, name)
        except ParityError:
            continue
        runnable.append(name)
    return runnable
