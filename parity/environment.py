"""Environment fingerprint: Python, platform, CPU and the versions of every adapter library present."""

from __future__ import annotations

import importlib
import platform
from pathlib import Path
from typing import Iterable

import numpy as np

from parity import __version__
from parity.registry import LIBRARY_MODULES


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo where it exists, else what ``platform`` reports."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def fingerprint(libraries: Iterable[str] = ("pil", "opencv", "onnxruntime")) -> dict[str, str]:
    """Versions that change pixels or logits, keyed by component, for the adapter ``libraries`` in use."""
    info = {
        "parity": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "numpy": np.__version__,
    }
    for module_name in sorted({LIBRARY_MODULES[name][0] for name in libraries if name in LIBRARY_MODULES}):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        versions = getattr(module, "library_versions", None)
        if versions is not None:
            info.update(versions())
    return info
