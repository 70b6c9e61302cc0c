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
