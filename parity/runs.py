"""Saved runs: one stack's per-image logits with the stack, model identity, recipe and environment.

A run is a folder holding ``run.json`` (schema ``parity.run/1``) and ``logits.npy`` (N x classes
float32; a row of NaN where the image failed). Runs made elsewhere come in as ``.npz`` files (one
array of logits per image, keyed by image id) or a ``.npy`` array with a ``.txt`` file beside it
naming one image id per row. Nothing is unpickled: arrays load with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity.data import Dataset, ImageItem
from parity.errors import ParityError
from parity.spec import ResolvedRecipe

RUN_SCHEMA = "parity.run/1"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "stack"


class RunWriter:
    """Streams each stack's logits into ``folder/<index>-<stack>/logits.npy`` as the engine produces them."""

    def __init__(
        self, folder: Path, dataset: Dataset, stacks: list[dict[str, Any]], model: dict[str, Any],
        recipe: ResolvedRecipe, environment: dict[str, str],
    ) -> None:
        self.folders = [folder / f"{index}-{_slug(stack['name'])}" for index, stack in enumerate(stacks)]
        try:
            for path in self.folders:
                path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ParityError(f"{folder}: cannot save runs there ({exc.strerror or exc})") from None
        self.dataset, self.stacks, self.model, self.recipe, self.environment = dataset, stacks, model, recipe, environment
        self.rows = {item.id: row for row, item in enumerate(dataset.items)}
        self.logits: list[np.ndarray | None] = [None] * len(stacks)
        self.errors: list[dict[str, str]] = [{} for _ in stacks]

    def add(self, stack_index: int, items: list[ImageItem], column: list[Any]) -> None:
        """Record one batch of one stack: logits rows, or failures (anything that is not an array)."""
        for item, value in zip(items, column):
            if not isinstance(value, np.ndarray):
                self.errors[stack_index][item.id] = str(value)
                continue
            if self.logits[stack_index] is None:
                target = self.folders[stack_index] / "logits.npy"
                array = np.lib.format.open_memmap(target, mode="w+", dtype=np.float32, shape=(len(self.rows), value.shape[-1]))
                array[:] = np.nan
                self.logits[stack_index] = array
            self.logits[stack_index][self.rows[item.id]] = value

    def close(self) -> None:
        """Flush the logits and write each run's ``run.json``."""
        for index, folder in enumerate(self.folders):
            array = self.logits[index]
            if array is None:
                np.save(folder / "logits.npy", np.full((len(self.rows), 0), np.nan, np.float32))
            else:
                array.flush()
            meta = {
                "schema": RUN_SCHEMA,
                "stack": self.stacks[index],
                "model": self.model,
                "recipe": {"values": self.recipe.recipe.to_dict(), "sources": self.recipe.sources},
                "environment": self.environment,
                "data": {"source": self.dataset.source},
                "images": [
                    {"id": item.id, "label": item.label, "error": self.errors[index].get(item.id)}
                    for item in self.dataset.items
                ],
                "class_names": {str(k): v for k, v in self.dataset.class_names.items()},
            }
            (folder / "run.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class LoadedRun:
    """A run read back: image ids, labels, a logits row or an error per image, and what made it."""

    source: str
    ids: list[str]
    rows: list[np.ndarray | str]
    labels: dict[str, int] = field(default_factory=dict)
    stack: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    class_names: dict[int, str] = field(default_factory=dict)


def load_run(path: Path) -> LoadedRun:
    """Read a saved run folder, an ``.npz`` of logits keyed by image id, or an ``.npy`` with ids in a ``.txt``."""
    if path.is_dir():
        return _load_run_folder(path)
    if not path.is_file():
        raise ParityError(f"{path}: no such run folder or file")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                ids = sorted(archive.files)
                rows = [np.asarray(archive[name], dtype=np.float32).reshape(-1) for name in ids]
        except (OSError, ValueError) as exc:
            raise ParityError(f"{path}: not a readable .npz of logits ({exc})") from None
        return LoadedRun(str(path), ids, _check_rows(path, rows), stack={"name": path.stem})
    if path.suffix == ".npy":
        names = path.with_suffix(".txt")
        if not names.is_file():
            raise ParityError(f"{path}: an .npy of logits needs {names.name} beside it, one image id per row")
        ids = [line.strip() for line in names.read_text(encoding="utf-8").splitlines() if line.strip()]
        logits = _load_array(path)
        if logits.ndim != 2 or len(logits) != len(ids):
            raise ParityError(f"{path}: expected {len(ids)} rows of logits (one per line of {names.name}), found shape {logits.shape}")
        return LoadedRun(str(path), ids, _check_rows(path, list(logits)), stack={"name": path.stem})
    raise ParityError(f"{path}: a run is a folder saved by --save-run, an .npz, or an .npy with a .txt of ids")


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as exc:
        raise ParityError(f"{path}: not a readable array of logits ({exc})") from None


def _check_rows(path: Path, rows: list[np.ndarray]) -> list[np.ndarray | str]:
    sizes = {row.shape[-1] for row in rows}
    if len(sizes) > 1:
        raise ParityError(f"{path}: logits have different lengths {sorted(sizes)}")
    return [row if np.isfinite(row).all() else "output contains NaN or infinity" for row in rows]


def _load_run_folder(folder: Path) -> LoadedRun:
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParityError(f"{folder}: not a saved run (run.json: {exc})") from None
    if meta.get("schema") != RUN_SCHEMA:
        raise ParityError(f"{folder}: run.json has schema {meta.get('schema')!r}, expected {RUN_SCHEMA!r}")
    logits = _load_array(folder / "logits.npy")
    images = meta["images"]
    if len(logits) != len(images):
        raise ParityError(f"{folder}: logits.npy has {len(logits)} rows for {len(images)} images")
    rows: list[np.ndarray | str] = [
        image["error"] or "no output saved" if image["error"] or not np.isfinite(row).all() or row.size == 0 else row
        for image, row in zip(images, logits)
    ]
    return LoadedRun(
        source=str(folder),
        ids=[image["id"] for image in images],
        rows=rows,
        labels={image["id"]: image["label"] for image in images if image["label"] is not None},
        stack=meta["stack"],
        model=meta["model"],
        recipe=meta.get("recipe"),
        environment=meta.get("environment", {}),
        class_names={int(k): v for k, v in meta.get("class_names", {}).items()},
    )
