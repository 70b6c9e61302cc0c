"""``[tool.parity]`` in ./pyproject.toml: what to check, so a CI step is just ``parity check``.

Flags override every key. Paths are relative to the folder holding pyproject.toml. Example::

    [tool.parity]
    model = "lite0.onnx"
    data = "photos"
    labels = "photos/labels.csv"
    gate = "upper"              # or "point" (the default)
    confidence = "95%"
    tolerance = "1%"            # the default for candidates that set none
    junit = "parity-junit.xml"  # also: json, markdown

    [[tool.parity.candidates]]
    stack = "opencv-bilinear"
    tolerance = "3%"

    [tool.parity.recipe]        # read by every command run in this folder
    crop_size = 224
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity.compare import Tolerance
from parity.errors import ParityError
from parity.spec import read_toml

PATH_KEYS = ("model", "weights", "data", "labels", "json", "junit", "markdown", "save_run")
SCALAR_KEYS = (
    "model_factory", "trust_model", "labels_from_folders", "train", "tolerance", "max_flips", "gate",
    "confidence", "limit", "opset", "batch_size", "workers", "pool", "cache", "max_image_pixels", "engine", "scheduler",
)
TABLE_KEYS = ("candidates", "deploy", "recipe")
_WHOLE, _TEXT, _SWITCH, _RATE = "a whole number", "a string", "true or false", "a rate such as \"1%\" or 0.01"
SCALAR_TYPES = {
    "model_factory": _TEXT, "trust_model": _SWITCH, "labels_from_folders": _SWITCH, "train": _TEXT, "tolerance": _RATE,
    "max_flips": _WHOLE, "gate": _TEXT, "confidence": _RATE, "limit": _WHOLE, "opset": _WHOLE, "batch_size": _WHOLE,
    "workers": _WHOLE, "pool": _TEXT, "cache": _SWITCH, "max_image_pixels": _WHOLE, "engine": _TEXT, "scheduler": _TEXT,
}
CHOICES = {"pool": ("threads", "processes"), "engine": ("local", "dask"), "gate": ("point", "upper")}


def _scalar_fits(kind: str, value: Any) -> bool:
    if kind == _WHOLE:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _SWITCH:
        return isinstance(value, bool)
    if kind == _RATE:
        return isinstance(value, (str, float, int)) and not isinstance(value, bool)
    return isinstance(value, str)


@dataclass(frozen=True)
class CandidateConfig:
    """One configured deployment stack and its own tolerance, if it has one."""

    stack: str
    tolerance: str | None = None
    max_flips: int | None = None


@dataclass
class ProjectConfig:
    """The validated ``[tool.parity]`` table; ``values`` holds the scalar and path keys."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    candidates: list[CandidateConfig] = field(default_factory=list)
    recipe: Any = None  # the [tool.parity.recipe] table, validated where recipes are resolved

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def tolerance_for(self, candidate: CandidateConfig, gate: str | None, confidence: str | float | None) -> Tolerance | None:
        """The candidate's own tolerance (with the run's gate and confidence), or None to use the default."""
        if candidate.tolerance is None and candidate.max_flips is None:
            return None
        return Tolerance.parse(candidate.tolerance, candidate.max_flips, gate, confidence)


def load(folder: Path | None = None) -> ProjectConfig | None:
    """``[tool.parity]`` from ``folder/pyproject.toml`` (the working directory), or None if there is none."""
    path = (folder or Path.cwd()) / "pyproject.toml"
    if not path.is_file():
        return None
    table = read_toml(path, "pyproject.toml").get("tool", {}).get("parity")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ParityError(f"{path}: [tool.parity] must be a table")
    unknown = set(table) - set(PATH_KEYS) - set(SCALAR_KEYS) - set(TABLE_KEYS)
    if unknown:
        known = ", ".join(sorted({*PATH_KEYS, *SCALAR_KEYS, *TABLE_KEYS}))
        raise ParityError(f"{path}: unknown key(s) in [tool.parity]: {', '.join(sorted(unknown))} (known: {known})")
    values: dict[str, Any] = {}
    for key in PATH_KEYS:
        if key in table:
            if not isinstance(table[key], str):
                raise ParityError(f"{path}: tool.parity.{key} must be a path string")
            values[key] = path.parent / table[key]
    for key in SCALAR_KEYS:
        if key in table:
            value = table[key]
            if not _scalar_fits(SCALAR_TYPES[key], value):
                raise ParityError(f"{path}: tool.parity.{key} must be {SCALAR_TYPES[key]}, not {value!r}")
            if key in CHOICES and value not in CHOICES[key]:
                raise ParityError(f"{path}: tool.parity.{key} must be one of {', '.join(CHOICES[key])}, not {value!r}")
            values[key] = value
    return ProjectConfig(path, values, _candidates(path, table), table.get("recipe"))


def _candidates(path: Path, table: dict[str, Any]) -> list[CandidateConfig]:
    found = []
    for entry in table.get("deploy", []):
        if not isinstance(entry, str):
            raise ParityError(f"{path}: tool.parity.deploy must be a list of stack names")
        found.append(CandidateConfig(entry))
    for entry in table.get("candidates", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("stack"), str) or set(entry) - {"stack", "tolerance", "max_flips"}:
            raise ParityError(f"{path}: each [[tool.parity.candidates]] needs stack = \"...\" and optionally tolerance or max_flips")
        found.append(CandidateConfig(entry["stack"], entry.get("tolerance"), entry.get("max_flips")))
    return found
