"""Each adapter is a faithful call of its library: bit-exact with a direct call on a generated image."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.images import jpeg_bytes, synthetic_image
from parity import registry

IMAGE = synthetic_image(97, 61, seed=3)
TARGETS = [(40, 25), (150, 90)]  # shrink and enlarge

PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "hamming": Image.Resampling.HAMMING,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}
CV2_FLAGS = {
    "nearest": cv2.INTER_NEAREST,
    "bilinear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("short", PIL_FILTERS)
def test_pil_resize_is_image_resize(short: str, target: tuple[int, int]) -> None:
    expected = np.asarray(Image.fromarray(IMAGE).resize(target, PIL_FILTERS[short]))
    actual = registry.get("resize", f"pil:{short}").function(IMAGE, target)
    assert actual.dtype == np.uint8 and actual.shape == (target[1], target[0], 3)
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("short", CV2_FLAGS)
def test_opencv_resize_is_cv2_resize(short: str, target: tuple[int, int]) -> None:
    expected = cv2.resize(IMAGE, target, interpolation=CV2_FLAGS[short])
    actual = registry.get("resize", f"opencv:{short}").function(IMAGE, target)
    np.testing.assert_array_equal(actual, expected)


def test_resize_filters_really_differ() -> None:
    """Guards the two tests above: were every adapter to call one filter, these would coincide."""
    outputs = {
        name: registry.get("resize", name).function(IMAGE, (40, 25)).tobytes()
        for name in [f"pil:{s}" for s in PIL_FILTERS] + [f"opencv:{s}" for s in CV2_FLAGS]
    }
    assert len(set(outputs.values())) == len(outputs)


def test_pil_decode_is_image_open_convert_rgb() -> None:
    data = jpeg_bytes(IMAGE)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(registry.get("decode", "pil").function(data), expected)


def test_opencv_decode_is_imdecode_then_bgr_to_rgb() -> None:
    data = jpeg_bytes(IMAGE)
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    np.testing.assert_array_equal(registry.get("decode", "opencv").function(data), bgr[..., ::-1])


def test_decoders_see_greyscale_png_as_three_equal_channels() -> None:
    grey = IMAGE[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG")
    for name in ("pil", "opencv"):
        decoded = registry.get("decode", name).function(buffer.getvalue())
        assert decoded.shape == (*grey.shape, 3)
        np.testing.assert_array_equal(decoded[..., 1], grey)


def test_opencv_decode_applies_exif_orientation_and_pil_does_not() -> None:
    image = Image.fromarray(synthetic_image(40, 20, seed=1))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    assert registry.get("decode", "pil").function(buffer.getvalue()).shape == (20, 40, 3)
    assert registry.get("decode", "opencv").function(buffer.getvalue()).shape == (40, 20, 3)


def test_undecodable_bytes_raise_a_clear_error() -> None:
    for name in ("pil", "opencv"):
        with pytest.raises(Exception, match="(?i)image"):
            registry.get("decode", name).function(b"not an image")


def test_unknown_implementation_names_the_known_ones() -> None:
    from parity.errors import ParityError

    with pytest.raises(ParityError, match="opencv:area"):
        registry.get("resize", "opencv:bogus")
    with pytest.raises(ParityError, match="no adapter library 'magick'"):
        registry.get("resize", "magick:bilinear")


def test_library_versions_name_the_bundled_jpeg_codecs() -> None:
    from parity.environment import fingerprint

    info = fingerprint()
    assert info["pillow"] == Image.__version__
    assert info["opencv"] == cv2.__version__
    assert "jpeg" in info["pillow.jpeg"].lower()
    assert "jpeg" in info["opencv.jpeg"].lower()
