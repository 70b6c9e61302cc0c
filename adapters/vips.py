"""libvips through pyvips: decode from bytes and ``Image.resize`` with each of its kernels.

pyvips imports its shared library at import time (from the ``pyvips-binary`` wheel or the system), so a
machine without libvips simply lacks these stages.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pyvips

from parity.registry import register

# libvips' resize kernels (VipsKernel), with what matters for parity.
KERNELS: dict[str, str] = {
    "nearest": "nearest neighbour",
    "linear": "bilinear, widened with the scale factor when shrinking (antialiased)",
    "cubic": "Catmull-Rom bicubic, widened when shrinking",
    "mitchell": "Mitchell-Netravali bicubic, widened when shrinking",
    "lanczos2": "Lanczos a=2, widened when shrinking",
    "lanczos3": "Lanczos a=3 (libvips' default), widened when shrinking",
    "mks2013": "Magic Kernel Sharp 2013",
    "mks2021": "Magic Kernel Sharp 2021",
}


class DecodeError(ValueError):
    """libvips could not decode the bytes it was given."""


_ERRORS = threading.Lock()
logging.getLogger("pyvips").setLevel(logging.ERROR)  # failures are reported per image, not as log lines


def _to_rgb_uint8(image: pyvips.Image) -> np.ndarray:
    if image.interpretation not in ("srgb", "rgb"):
        image = image.colourspace("srgb")  # greyscale, CMYK (through its profile), 16-bit RGB
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    return image.numpy()[:, :, :3]  # alpha dropped, as Pillow's convert('RGB') does


@register(
    "decode", "vips", "vips",
    "pyvips.Image.new_from_buffer(bytes, ''): libvips' loader for the format, then colourspace('srgb') for "
    "grey, CMYK and 16-bit images; alpha dropped; EXIF orientation not applied",
)
def decode(data: bytes) -> np.ndarray:
    """Decode encoded bytes to uint8 H x W x 3 RGB with libvips."""
    try:
        with _ERRORS:  # libvips keeps one error buffer per process: one decode at a time keeps reasons with their image
            image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail=True)
            return np.ascontiguousarray(_to_rgb_uint8(image))
    except pyvips.Error as exc:
        details = [line for line in str(exc.detail or "").splitlines() if line.strip()]
        reason = details[0] if details else str(exc.message or "unknown error").strip()
        raise DecodeError(f"libvips cannot decode the image ({reason})") from None


def _register_resize(kernel: str, note: str) -> None:
    @register(
        "resize", f"vips:{kernel}", "vips",
        f"pyvips Image.resize(w_out / w_in, vscale=h_out / h_in, kernel='{kernel}'): {note}",
    )
    def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        source = pyvips.Image.new_from_array(image)
        out = source.resize(size[0] / source.width, vscale=size[1] / source.height, kernel=kernel)
        if (out.width, out.height) != size:
            raise ValueError(f"libvips resized to {out.width}x{out.height}, not {size[0]}x{size[1]}")
        return out.numpy()

    resize.antialias = kernel != "nearest"  # type: ignore[attr-defined]
    resize.coordinates = None if kernel == "nearest" else "half_pixel"  # type: ignore[attr-defined]


for _kernel, _note in KERNELS.items():
    _register_resize(_kernel, _note)


def library_versions() -> dict[str, str]:
    """pyvips' version and the libvips it loaded."""
    return {"pyvips": pyvips.__version__, "libvips": ".".join(str(pyvips.version(i)) for i in range(3))}
