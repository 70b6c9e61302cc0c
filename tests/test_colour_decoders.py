"""SysNoise colour and decoder adapters: formulas on hand-computed pixels, bit-exact library calls."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.images import jpeg_bytes, synthetic_image
from parity import registry
from parity.colour import rgb_to_yuv, subsample_420, yuv_to_rgb

IMAGE = synthetic_image(33, 21, seed=5)  # odd sizes exercise the 4:2:0 edge handling


def test_red_through_bt601_full_range_by_hand() -> None:
    # Y = 0.299 -> 76.245 -> 76; Cb = -0.299 / 1.772 -> 128 - 43.03 -> 85; Cr = 0.701 / 1.402 = 0.5 -> 255.5 -> 255
    red = np.array([[[255, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(rgb_to_yuv(red, "bt601", "full")[0, 0], [76, 85, 255])
    # back: R = 76/255 + 1.402 * 127/255 = 0.99629 -> 254; B = 76/255 - 1.772 * 43/255 < 0 -> 0; G -> 0
    np.testing.assert_array_equal(registry.get("colour", "yuv:444-bt601-full").function(red)[0, 0], [254, 0, 0])


def test_limited_range_white_and_black_by_hand() -> None:
    pixels = np.array([[[255, 255, 255], [0, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(rgb_to_yuv(pixels, "bt709", "limited")[0], [[235, 128, 128], [16, 128, 128]])
    np.testing.assert_array_equal(yuv_to_rgb(rgb_to_yuv(pixels, "bt709", "limited"), "bt709", "limited"), pixels)


def test_420_averages_each_2x2_chroma_block_by_hand() -> None:
    yuv = np.zeros((2, 2, 3))
    yuv[..., 0] = [[10, 20], [30, 40]]
    yuv[..., 1] = [[100, 101], [102, 104]]  # mean 101.75 -> 102
    yuv[..., 2] = [[50, 50], [51, 50]]  # mean 50.25 -> 50
    out = subsample_420(yuv)
    np.testing.assert_array_equal(out[..., 0], yuv[..., 0])  # luma untouched
    assert (out[..., 1] == 102).all() and (out[..., 2] == 50).all()


def _plain_round_trip(image: np.ndarray, matrix: str, value_range: str, nv12: bool) -> np.ndarray:
    """The module docstring's formulas written plainly, one whole-image expression per line."""
    kr, kb = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}[matrix]
    offset, y_scale, c_scale = {"full": (0.0, 255.0, 255.0), "limited": (16.0, 219.0, 224.0)}[value_range]

    def round_(v: np.ndarray) -> np.ndarray:
        return np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5), 0, 255)

    rgb = image.astype(np.float64) / 255.0
    y = kr * rgb[..., 0] + (1 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
    cb, cr = (rgb[..., 2] - y) / (2 * (1 - kb)), (rgb[..., 0] - y) / (2 * (1 - kr))
    yuv = np.stack([round_(offset + y_scale * y), round_(128 + c_scale * cb), round_(128 + c_scale * cr)], axis=-1)
    if nv12:
        h, w = yuv.shape[:2]
        padded = np.pad(yuv, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        blocks = padded[..., 1:].reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, 2).mean(axis=(1, 3))
        chroma = np.repeat(np.repeat(round_(blocks), 2, axis=0), 2, axis=1)[:h, :w]
        yuv = np.concatenate([yuv[..., :1], chroma], axis=-1)
    y, cb, cr = (yuv[..., 0] - offset) / y_scale, (yuv[..., 1] - 128) / c_scale, (yuv[..., 2] - 128) / c_scale
    r, b = y + 2 * (1 - kr) * cr, y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    return round_(np.stack([r, g, b], axis=-1) * 255.0).astype(np.uint8)


@pytest.mark.parametrize("sampling", ["nv12", "444"])
@pytest.mark.parametrize("matrix", ["bt601", "bt709"])
@pytest.mark.parametrize("value_range", ["full", "limited"])
def test_round_trips_equal_the_plain_formulas_on_every_rgb_value(sampling: str, matrix: str, value_range: str) -> None:
    every = np.indices((256, 256, 256), dtype=np.uint8).reshape(3, -1).T.reshape(4096, 4096, 3)
    for image in (every[:1024, :1024], every[1024:2048, 1024:2048], IMAGE, IMAGE[:1, :1], IMAGE[:3, :5]):
        expected = _plain_round_trip(image, matrix, value_range, sampling == "nv12")
        np.testing.assert_array_equal(registry.get("colour", f"yuv:{sampling}-{matrix}-{value_range}").function(image), expected)


def test_round_trips_keep_the_shape_and_differ_from_the_input() -> None:
    for name in ("yuv:nv12-bt601-limited", "yuv:nv12-bt709-full", "yuv:444-bt601-limited", "opencv:i420"):
        out = registry.get("colour", name).function(IMAGE)
        assert out.shape == IMAGE.shape and out.dtype == np.uint8
        assert 0 < np.abs(out.astype(int) - IMAGE).mean() < 40


def test_swap_reverses_the_channels() -> None:
    np.testing.assert_array_equal(registry.get("colour", "swap:bgr").function(IMAGE), IMAGE[..., ::-1])


def test_opencv_i420_is_cv2_round_trip() -> None:
    even = IMAGE[:20, :32]
    expected = cv2.cvtColor(cv2.cvtColor(even, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420)
    np.testing.assert_array_equal(registry.get("colour", "opencv:i420").function(even), expected)


def test_opencv_noexif_is_imdecode_ignoring_orientation() -> None:
    image = Image.fromarray(synthetic_image(40, 20, seed=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    data = buffer.getvalue()
    expected = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    decoded = registry.get("decode", "opencv:noexif").function(data)
    np.testing.assert_array_equal(decoded, expected)
    assert decoded.shape == (20, 40, 3)  # not rotated, unlike the default OpenCV decoder


@pytest.mark.parametrize(("name", "fast"), [("simplejpeg", False), ("simplejpeg:fast", True)])
def test_simplejpeg_decoders_are_direct_calls(name: str, fast: bool) -> None:
    simplejpeg = pytest.importorskip("simplejpeg", reason="the sysnoise extra is not installed")
    data = jpeg_bytes(synthetic_image(64, 48, seed=2))
    expected = simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=fast, fastupsample=fast)
    np.testing.assert_array_equal(registry.get("decode", name).function(data), expected)


def test_fast_idct_differs_from_the_accurate_decoder() -> None:
    pytest.importorskip("simplejpeg", reason="the sysnoise extra is not installed")
    data = jpeg_bytes(synthetic_image(64, 48, seed=2))
    accurate = registry.get("decode", "simplejpeg").function(data)
    fast = registry.get("decode", "simplejpeg:fast").function(data)
    np.testing.assert_array_equal(accurate, np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))  # same libjpeg-turbo maths as Pillow
    assert np.abs(accurate.astype(int) - fast).max() > 0
