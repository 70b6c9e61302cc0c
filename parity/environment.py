"""Environment fingerprint: Python, platform, CPU and the versions of every adapter library present."""

from __future__ import annotations

import importlib
import math
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


def _cgroup_cpu_quota(proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota (in CPUs) of this process's cgroup, v2 (``cpu.max``) or v1 (``cpu.cfs_quota_us`` over
    ``cpu.cfs_period_us``), the smallest along the path up to the root; None where there is none."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            folders, read = [root, root / "unified"], _read_cpu_max
        elif "cpu" in controllers.split(","):
            folders, read = [root / controllers, root / "cpu", root / "cpu,cpuacct"], _read_cfs_quota
        else:
            continue
        for folder in folders:
            here = folder / path.lstrip("/")
            while True:
                quota = read(here)
                if quota is not None:
                    quotas.append(quota)
                if here == folder or folder not in here.parents:
                    break
                here = here.parent
    return min(quotas) if quotas else None


def _read_cpu_max(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _read_cfs_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """The CPU cores this process may use: its affinity mask, capped by its cgroup's CPU quota rounded up
    (a container limited to 2 CPUs on a 64-core host gets 2; one limited to 1.5 gets 2), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, math.ceil(quota))
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
