"""JSON view of a Report (schema ``parity.report/1``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from parity.errors import ParityError
from parity.report import Report, write_text


def dumps(report: Report) -> str:
    """The report as indented JSON text."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def check_writable(path: Path, what: str = "JSON") -> None:
    """Fail early, before a long run, if the ``what`` report could not be written to ``path``."""
    if path.is_dir():
        raise ParityError(f"{path}: is a folder; give a file path for the {what} report")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ParityError(f"{path}: cannot write the {what} report there")


def write(report: Report, path: Path) -> None:
    """Write the JSON report to ``path``."""
    write_text(path, dumps(report), "JSON")
