"""Per-image model outputs kept on disk, so a re-run, or an interrupted run started again, computes only
what changed.

An output is keyed by everything that produced it: the model (its hash, the runtime and the exact
model file that runtime ran), the stack's stages, the recipe, the versions of the libraries in use,
parity's own source code, and the SHA-256 of the image's bytes. Files hold a SHA-256 seal and the float32 values, written
atomically and never unpickled; one that does not match its seal is a miss.
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
    """Logits rows under ``root/<stack key>/<image digest>.row``: the SHA-256 of key, digest and values,
    then the float32 values. A file that fails that check (truncated, replaced, copied from another key)
    is a miss, never an error."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str, digest: str) -> Path:
        return self.root / key / f"{digest[:40]}.row"

    @staticmethod
    def _seal(key: str, digest: str, payload: bytes) -> bytes:
        return hashlib.sha256(key.encode() + digest.encode() + payload).digest()

    def get(self, key: str, digest: str) -> np.ndarray | None:
        """The cached row, or ``None`` (absent, unreadable or not what was stored under this key)."""
        try:
            content = self._path(key, digest).read_bytes()
        except (OSError, ValueError):
            return None
        seal, payload = content[:32], content[32:]
        if len(payload) < 8 or len(payload) % 4 or seal != self._seal(key, digest, payload):
            return None
        return np.frombuffer(payload, dtype=np.float32).copy()

    def put(self, key: str, digest: str, row: np.ndarray) -> None:
        """Store one row atomically; a full disk or a read-only cache only loses the caching."""
        path = self._path(key, digest)
        payload = np.ascontiguousarray(row, dtype=np.float32).tobytes()
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_bytes(self._seal(key, digest, payload) + payload)
            partial.replace(path)
        except OSError:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass
