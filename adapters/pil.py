"""Pillow: decode from bytes and the six resample filters, called with Pillow's own defaults."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError, features

from parity.registry import register

FILTERS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


@register(
    "decode",
    "pil",
    "pillow",
    "Image.open(bytes).convert('RGB'); EXIF orientation not applied; greyscale, palette, CMYK and alpha converted by Pillow",
)
def decode(data: bytes) -> np.ndarray:
    """Decode encoded bytes to uint8 H x W x 3 RGB the way torchvision's default PIL loader does."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnidentifiedImageError("Pillow cannot identify the image format") from None
    with image:
        return np.asarray(image.convert("RGB"))


decode.checks_pixel_limit = True  # type: ignore[attr-defined]  # Pillow refuses decompression bombs itself


def _register_resize(short: str, resample: Image.Resampling) -> None:
    antialias = "" if short == "nearest" else "; the kernel widens with the scale factor, so shrinking is antialiased"

    @register("resize", f"pil:{short}", "pillow", f"Image.resize(size, Image.Resampling.{resample.name}){antialias}")
    def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return np.asarray(Image.fromarray(image).resize(size, resample))

    resize.antialias = short != "nearest"  # type: ignore[attr-defined]
    resize.coordinates = None if short == "nearest" else "half_pixel"  # type: ignore[attr-defined]


for _short, _resample in FILTERS.items():
    _register_resize(_short, _resample)


def library_versions() -> dict[str, str]:
    """Pillow's version and the libjpeg(-turbo) and zlib it was built with."""
    versions = {"pillow": Image.__version__}
    turbo = features.version("libjpeg_turbo")
    versions["pillow.jpeg"] = f"libjpeg-turbo {turbo}" if turbo else f"libjpeg {features.version('jpg')}"
    versions["pillow.zlib"] = str(features.version("zlib"))
    return versions


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 H x W (grey) or H x W x 3 (RGB) array as PNG."""
    Image.fromarray(image).save(path, format="PNG")


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 H x W or H x W x 3 array encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()
