"""Shared fixtures: generated images and tiny models, and the shared ImageNet sample where present."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.images import write_images
from fixtures.models import write_linear_classifier

SHARED_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-sample-500"


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, count=12)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_linear_classifier(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture
def hide_module(monkeypatch: pytest.MonkeyPatch):
    """``hide_module(where, name, missing)``: make ``importlib.import_module(name)`` inside module ``where``
    fail as it does when the library ``missing`` is not installed."""
    import importlib

    real_import = importlib.import_module

    def hide(where: str, name: str, missing: str) -> None:
        def fake(requested: str, *args: object) -> object:
            if requested == name:
                raise ModuleNotFoundError(f"No module named {missing!r}")
            return real_import(requested, *args)

        monkeypatch.setattr(f"{where}.importlib.import_module", fake)

    return hide


@pytest.fixture(scope="session")
def shared_sample() -> Path:
    if not (SHARED_SAMPLE / "labels.csv").is_file():
        pytest.skip(f"the shared ImageNet sample is not at {SHARED_SAMPLE} (it sits beside the checkout in CI)")
    return SHARED_SAMPLE


@pytest.fixture(autouse=True, scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep exports, transforms and cached outputs of the whole test session out of the user's cache;
    tests that need their own cache set PARITY_CACHE_DIR themselves."""
    import os

    if "PARITY_CACHE_DIR" not in os.environ:
        os.environ["PARITY_CACHE_DIR"] = str(tmp_path_factory.mktemp("parity-cache"))
