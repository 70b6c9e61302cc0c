"""Per-image model outputs kept on disk, so a re-run, or an interrupted run started again, computes only
what changed.

An output is keyed by everything that produced it: the model (its hash, the runtime and the exact
model file that runtime ran), the stack's stages, the recipe, the versions of the libraries in use,
parity's own source code, and the SHA-256 of the image's bytes. Files are plain ``.npy`` arrays read
with ``allow_pickle=False``, written atomically; an unreadable one is a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from parity.spec import Recipe, Stack

@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over parity's and its adapters' source files: an edited adapter never reuses old outputs."""
    import parity_adapters

    digest = hashlib.sha256()
    for folder in (Path(__file__).resolve().parent, Path(parity_adapters.__file__).resolve().parent):
        for source in sorted(folder.glob("*.py")):
            digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()


def stack_key(model_key: Mapping[str, Any], stack: Stack, recipe: Recipe, versions: Mapping[str, str]) -> str:
    """The key of one stack's outputs: model, stages (not the stack's name), recipe, versions, code."""
    stages = dict(stack.stages())
    payload = [dict(model_key), stages, recipe.to_dict(), dict(versions), code_fingerprint()]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


class OutputCache:
    """Logits rows under ``root/<stack key>/<image digest>.npy``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str, digest: str) -> Path:
        return self.root / key / f"{digest[:40]}.npy"

    def get(self, key: str, digest: str) -> np.ndarray | None:
        """The cached row, or ``None`` (absent or unreadable)."""
        path = self._path(key, digest)
        try:
            row = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return row if row.ndim == 1 and row.dtype == np.float32 else None

    def put(self, key: str, digest: str, row: np.ndarray) -> None:
        """Store one row atomically; a full disk or a read-only cache only loses the caching."""
        path = self._path(key, digest)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as handle:
                np.save(handle, np.ascontiguousarray(row, dtype=np.float32), allow_pickle=False)
            partial.replace(path)
        except OSError:
            partial.unlink(missing_ok=True)
