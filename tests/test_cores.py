"""The cores parity uses: the affinity mask capped by the cgroup's CPU quota (v1 or v2), read from fake trees."""

from __future__ import annotations

from pathlib import Path

import pytest

from parity import environment


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_quota_at_the_process_path_and_above(tmp_path: Path) -> None:
    _write(tmp_path / "proc", "0::/job/step\n")
    _write(tmp_path / "cg" / "job" / "step" / "cpu.max", "150000 100000\n")
    _write(tmp_path / "cg" / "job" / "cpu.max", "max 100000\n")
    assert environment._cgroup_cpu_quota(tmp_path / "proc", tmp_path / "cg") == 1.5
    _write(tmp_path / "cg" / "job" / "cpu.max", "100000 100000\n")  # a tighter limit higher up wins
    assert environment._cgroup_cpu_quota(tmp_path / "proc", tmp_path / "cg") == 1.0


def test_cgroup_v1_cfs_quota_and_no_limit(tmp_path: Path) -> None:
    _write(tmp_path / "proc", "4:memory:/x\n2:cpu,cpuacct:/\n0::/\n")
    _write(tmp_path / "cg" / "cpu,cpuacct" / "cpu.cfs_quota_us", "50000\n")
    _write(tmp_path / "cg" / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    assert environment._cgroup_cpu_quota(tmp_path / "proc", tmp_path / "cg") == 0.5
    _write(tmp_path / "cg" / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")  # v1's "no limit"
    assert environment._cgroup_cpu_quota(tmp_path / "proc", tmp_path / "cg") is None
    assert environment._cgroup_cpu_quota(tmp_path / "missing", tmp_path / "cg") is None


@pytest.mark.parametrize(("affinity", "quota", "expected"), [(8, None, 8), (8, 1.5, 2), (8, 0.5, 1), (2, 4.0, 2)])
def test_available_cores_is_the_affinity_capped_by_the_quota_rounded_up(
    affinity: int, quota: float | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment.os, "sched_getaffinity", lambda pid: set(range(affinity)))
    monkeypatch.setattr(environment, "_cgroup_cpu_quota", lambda: quota)
    assert environment.available_cores() == expected
