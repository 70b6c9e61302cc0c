"""Environment fingerprint: Python, platform, CPU and the versions of every adapter library present."""

from __future__ import annotations

import importlib
import os
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


def available_cores() -> int:
    """The CPU cores this process may use: its affinity mask, capped by a cgroup v2 CPU quota
    (a container limited to 2 CPUs on a 64-core host gets 2), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


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
