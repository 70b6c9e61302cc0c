"""OpenCV: ``imdecode`` with its default flags and the five ``cv2.resize`` interpolations."""

from __future__ import annotations

import re

import cv2
import numpy as np

from parity.registry import register

# Per-image codec warnings and errors ("Corrupt JPEG data", a PNG's "readHeader" failure) would otherwise
# reach stderr unattributed; failures are reported per image, naming the file, instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

# short name -> (flag, flag's name, what it does that matters for parity)
INTERPOLATIONS: dict[str, tuple[int, str, str]] = {
    "nearest": (cv2.INTER_NEAREST, "INTER_NEAREST", "nearest neighbour"),
    "bilinear": (cv2.INTER_LINEAR, "INTER_LINEAR", "2x2 taps, no antialiasing when shrinking"),
    "area": (cv2.INTER_AREA, "INTER_AREA", "pixel-area averaging when shrinking"),
    "cubic": (cv2.INTER_CUBIC, "INTER_CUBIC", "4x4 taps, no antialiasing when shrinking"),
    "lanczos": (cv2.INTER_LANCZOS4, "INTER_LANCZOS4", "8x8 taps, no antialiasing when shrinking"),
}


class DecodeError(ValueError):
    """OpenCV returned no image for the bytes it was given."""


@register(
    "decode",
    "opencv",
    "opencv",
    "cv2.imdecode(buf, IMREAD_COLOR) then cvtColor BGR2RGB; applies EXIF orientation; greyscale expanded, alpha dropped",
)
def decode(data: bytes) -> np.ndarray:
    """Decode encoded bytes to uint8 H x W x 3 RGB with OpenCV's default colour read."""
    return _imdecode(data, cv2.IMREAD_COLOR)


def _imdecode(data: bytes, flags: int) -> np.ndarray:
    if not data:
        raise DecodeError("OpenCV could not decode the image (the file is empty)")
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as exc:
        raise DecodeError(f"OpenCV could not decode the image ({str(exc).strip().splitlines()[-1]})") from None
    if bgr is None:
        raise DecodeError("OpenCV could not decode the image (cv2.imdecode returned None)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


decode.applies_exif_orientation = True  # type: ignore[attr-defined]


@register(
    "decode",
    "opencv:noexif",
    "opencv",
    "cv2.imdecode(buf, IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION) then cvtColor BGR2RGB; EXIF orientation not applied",
)
def decode_ignoring_orientation(data: bytes) -> np.ndarray:
    return _imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)


@register("colour", "opencv:i420", "opencv", "cvtColor RGB2YUV_I420 then YUV2RGB_I420: OpenCV's 4:2:0 round trip (BT.601)")
def i420_round_trip(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    even = np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    return cv2.cvtColor(cv2.cvtColor(even, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)[:height, :width]


def _register_resize(short: str, flag: int, flag_name: str, note: str) -> None:
    @register("resize", f"opencv:{short}", "opencv", f"cv2.resize(image, size, interpolation=cv2.{flag_name}); {note}")
    def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return cv2.resize(image, size, interpolation=flag)

    resize.antialias = short == "area"  # type: ignore[attr-defined]
    resize.coordinates = None if short == "nearest" else "half_pixel"  # type: ignore[attr-defined]


for _short, (_flag, _flag_name, _note) in INTERPOLATIONS.items():
    _register_resize(_short, _flag, _flag_name, _note)


def library_versions() -> dict[str, str]:
    """OpenCV's version and the JPEG and PNG codecs its build information names."""
    versions = {"opencv": cv2.__version__}
    build = cv2.getBuildInformation()
    for codec in ("JPEG", "PNG"):
        match = re.search(rf"^\s*{codec}:\s*(.+)$", build, re.MULTILINE)
        if match:
            versions[f"opencv.{codec.lower()}"] = match.group(1).strip()
    return versions
