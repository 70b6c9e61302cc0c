"""Colour-stage noise in numpy: a channel swap and YUV round trips, as hardware decoders and encoders do them.

YUV from R, G, B in [0, 1] (ITU-R BT.601: Kr = 0.299, Kb = 0.114; BT.709: Kr = 0.2126, Kb = 0.0722)::

    Y  = Kr R + (1 - Kr - Kb) G + Kb B
    Cb = (B - Y) / (2 (1 - Kb))          Cr = (R - Y) / (2 (1 - Kr))

quantized to 8 bits with full range (Y' = 255 Y, C' = 128 + 255 C) or limited range
(Y' = 16 + 219 Y, C' = 128 + 224 C), rounded half away from zero and clipped to 0..255. For 4:2:0
(NV12) the chroma planes are averaged over 2x2 blocks (odd edges replicated) and rounded, then
upsampled back by replication, as NV12 consumers do. The way back inverts the same formulas and
rounds to uint8.
"""

from __future__ import annotations

import numpy as np

from parity.registry import register

MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}
RANGES = {"full": (0.0, 255.0, 255.0), "limited": (16.0, 219.0, 224.0)}  # Y offset, Y scale, C scale


def _round(values: np.ndarray) -> np.ndarray:
    """Round half away from zero and clip to 0..255, in place. Below zero both roundings clip to 0, so
    ``floor(v + 0.5)`` gives the same result with fewer passes over the image."""
    values += 0.5
    np.floor(values, out=values)
    return np.clip(values, 0, 255, out=values)


def rgb_to_yuv(image: np.ndarray, matrix: str, value_range: str) -> np.ndarray:
    """uint8 RGB -> 8-bit Y, Cb, Cr planes (float64 holding whole numbers), H x W x 3."""
    kr, kb = MATRICES[matrix]
    offset, y_scale, c_scale = RANGES[value_range]
    levels = np.arange(256) / 255.0  # each channel's value in [0, 1], looked up instead of divided per pixel
    red, green, blue = (levels[image[..., channel]] for channel in range(3))
    y = kr * red + (1 - kr - kb) * green + kb * blue
    yuv = np.empty((*image.shape[:2], 3))
    np.multiply((blue - y) / (2 * (1 - kb)), c_scale, out=yuv[..., 1])
    np.multiply((red - y) / (2 * (1 - kr)), c_scale, out=yuv[..., 2])
    yuv[..., 1:] += 128
    np.multiply(y, y_scale, out=yuv[..., 0])
    yuv[..., 0] += offset
    return _round(yuv)


def yuv_to_rgb(yuv: np.ndarray, matrix: str, value_range: str) -> np.ndarray:
    """8-bit Y, Cb, Cr planes -> uint8 RGB, inverting :func:`rgb_to_yuv`."""
    kr, kb = MATRICES[matrix]
    offset, y_scale, c_scale = RANGES[value_range]
    y = (yuv[..., 0] - offset) / y_scale
    cb = (yuv[..., 1] - 128) / c_scale
    cr = (yuv[..., 2] - 128) / c_scale
    rgb = np.empty(yuv.shape)
    r = np.add(y, 2 * (1 - kr) * cr, out=rgb[..., 0])
    b = np.add(y, 2 * (1 - kb) * cb, out=rgb[..., 2])
    np.divide(y - kr * r - kb * b, 1 - kr - kb, out=rgb[..., 1])
    rgb *= 255.0
    return _round(rgb).astype(np.uint8)


def subsample_420(yuv: np.ndarray) -> np.ndarray:
    """Average each chroma plane over 2x2 blocks (rounded), then replicate it back to full size.
    The planes hold whole numbers, so the block sums are exact in any order."""
    height, width = yuv.shape[:2]
    chroma = yuv[..., 1:]
    if height % 2 or width % 2:  # replicate the last row / column into the missing half of the edge blocks
        chroma = np.pad(chroma, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    blocks = chroma[0::2, 0::2] + chroma[1::2, 0::2]
    blocks += chroma[0::2, 1::2]
    blocks += chroma[1::2, 1::2]
    blocks /= 4
    _round(blocks)
    out = np.empty((chroma.shape[0], chroma.shape[1], 3))
    for dy in (0, 1):
        for dx in (0, 1):
            out[dy::2, dx::2, 1:] = blocks
    out = out[:height, :width]
    out[..., 0] = yuv[..., 0]
    return out


@register("colour", "swap:bgr", "numpy", "channels reversed: RGB read as BGR (a missed cv2 BGR-to-RGB conversion)")
def swap_bgr(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[..., ::-1])


def _register_round_trip(sampling: str, matrix: str, value_range: str) -> None:
    name = f"yuv:{sampling}-{matrix}-{value_range}"
    what = "NV12 (4:2:0)" if sampling == "nv12" else "4:4:4"

    @register("colour", name, "numpy", f"RGB -> YUV {what}, {matrix.upper()}, {value_range} range, 8-bit -> RGB (numpy)")
    def round_trip(image: np.ndarray) -> np.ndarray:
        yuv = rgb_to_yuv(image, matrix, value_range)
        return yuv_to_rgb(subsample_420(yuv) if sampling == "nv12" else yuv, matrix, value_range)


for _sampling in ("nv12", "444"):
    for _matrix in MATRICES:
        for _range in RANGES:
            _register_round_trip(_sampling, _matrix, _range)
