"""JSON view of a Report (schema ``parity.report/1``)."""

from __future__ import annotations

import json
from pathlib import Path

from parity.errors import ParityError
from parity.report import Report


def dumps(report: Report) -> str:
    """The report as indented JSON text."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write(report: Report, path: Path) -> None:
    """Write the JSON report to ``path``, creating its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(report), encoding="utf-8")
    except OSError as exc:
        raise ParityError(f"{path}: cannot write the JSON report ({exc.strerror or exc})") from None
