"""simplejpeg: libjpeg-turbo's decoder, accurate or with the fast IDCT and fast chroma upsampling that
mobile and embedded decoders use. JPEG only: other formats are that image's failure."""

from __future__ import annotations

import numpy as np
import simplejpeg

from parity.registry import register


@register("decode", "simplejpeg", "simplejpeg", "simplejpeg.decode_jpeg(colorspace='RGB'): libjpeg-turbo, accurate IDCT and upsampling; JPEG only")
def decode(data: bytes) -> np.ndarray:
    return simplejpeg.decode_jpeg(data, colorspace="RGB")


@register(
    "decode", "simplejpeg:fast", "simplejpeg",
    "simplejpeg.decode_jpeg(colorspace='RGB', fastdct=True, fastupsample=True): libjpeg-turbo fast IDCT and fast upsampling; JPEG only",
)
def decode_fast(data: bytes) -> np.ndarray:
    return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=True, fastupsample=True)


decode_fast.fast_idct = True  # type: ignore[attr-defined]


def library_versions() -> dict[str, str]:
    return {"simplejpeg": simplejpeg.__version__}
