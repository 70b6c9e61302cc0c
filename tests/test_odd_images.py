"""The odd image corpus through every decode adapter: what each library really does with it.

Values are those measured with Pillow 13.0, OpenCV 5.1, simplejpeg 1.9, PyAV 18.1 and pyvips 3.2
(libvips 8.18); a library upgrade that changes one is a parity change worth seeing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fixtures.odd_images import (
    BOMB_SIZE,
    KINDS,
    ORIENTATIONS,
    RAMP12_SIDE,
    RAMP16_SIDE,
    TRUNCATIONS,
    ramp12,
    ramp16,
    ramp16_rgb,
    truncation_source,
    write_odd_corpus,
)
from parity import registry
from parity.data import discover

DECODERS = ("pil", "opencv", "opencv:noexif", "simplejpeg", "simplejpeg:fast", "ffmpeg", "ffmpeg:bilinear", "vips")
LIBJPEG_TURBO = ("pil", "opencv", "opencv:noexif", "simplejpeg", "vips")  # the same IDCT and upsampling: identical pixels
OPTIONAL_MODULES = {"simplejpeg": "simplejpeg", "ffmpeg": "av", "vips": "pyvips"}
NOT_PNG_CAPABLE = ("simplejpeg", "simplejpeg:fast")
ALL_NAMES = tuple(name for names in KINDS.values() for name in names)

GREEN_FILL = (0, 135, 0)  # FFmpeg's picture where the JPEG data ran out: Y = Cb = Cr = 0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    write_odd_corpus(folder)
    return folder


def decoder(name: str) -> Callable[[bytes], np.ndarray]:
    """The adapter's function, skipping the test where its optional library is missing."""
    module = OPTIONAL_MODULES.get(name.split(":")[0])
    if module:
        pytest.importorskip(module)
    return registry.get("decode", name).function


def decode(corpus: Path, name: str, file: str) -> np.ndarray:
    return decoder(name)((corpus / file).read_bytes())


# --- what each decoder does with each file: a shape, or an exception whose message says why ------------

SHAPES: dict[str, tuple[int, int]] = {
    **{f"exif_orientation_{n}.jpg": (32, 48) for n in ORIENTATIONS},
    **{name: (32, 48) for name in ("cmyk.jpg", "ycck.jpg", "grey.jpg", "grey.png", "rgba.png", "palette_transparent.png")},
    "ramp16_grey.png": (RAMP16_SIDE, RAMP16_SIDE),
    "ramp16_rgb.png": (RAMP16_SIDE, RAMP16_SIDE),
    "ramp12_grey.png": (RAMP12_SIDE, RAMP12_SIDE),
    **{name: (32, 48) for name in KINDS["encoding"]},
    **{f"truncated_{p}.jpg": (96, 128) for p in TRUNCATIONS},
    "png_named.JPEG": (32, 48),
    "1x1.png": (1, 1),
    "1x1.jpg": (1, 1),
    "5x4.png": (4, 5),
    "wide_10000x20.jpg": (20, 10000),
    "sub dir/café ñ.jpg": (32, 48),
}
NOT_JPEG = "Could not determine subsampling level"  # simplejpeg's words for anything that is not a JPEG, even b""
TRUNCATED = {
    "pil": "image file is truncated",
    "opencv": "cv2.imdecode returned None",
    "opencv:noexif": "cv2.imdecode returned None",
    "simplejpeg": "Premature end of JPEG file",
    "simplejpeg:fast": "Premature end of JPEG file",
    "vips": "premature end of JPEG image",
}  # FFmpeg alone returns a picture: see test_ffmpeg_fills_truncated_jpegs_with_green
NOT_AN_IMAGE = {
    "pil": "Pillow cannot identify the image format",
    "opencv": "cv2.imdecode returned None",
    "opencv:noexif": "cv2.imdecode returned None",
    "simplejpeg": NOT_JPEG,
    "simplejpeg:fast": NOT_JPEG,
    "ffmpeg": "Invalid data found when processing input",
    "ffmpeg:bilinear": "Invalid data found when processing input",
    "vips": "buffer is not in a known format",
}
RAISES: dict[str, dict[str, str]] = {
    **{name: dict.fromkeys(NOT_PNG_CAPABLE, NOT_JPEG) for name in SHAPES if not name.lower().endswith(".jpg")},
    **{f"truncated_{p}.jpg": TRUNCATED for p in TRUNCATIONS},
    "text.jpg": NOT_AN_IMAGE,
    # OpenCV 5 asserts on an empty buffer instead of returning None; the adapter says so in words.
    "empty.jpg": {**NOT_AN_IMAGE, "opencv": "the file is empty", "opencv:noexif": "the file is empty"},
}


def expected_shape(file: str, name: str) -> tuple[int, int]:
    shape = SHAPES[file]
    transposed = name == "opencv" and file in {f"exif_orientation_{n}.jpg" for n in range(5, 9)}
    return shape[::-1] if transposed else shape


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("file", sorted(set(SHAPES) | set(RAISES)))
def test_outcome(corpus: Path, file: str, name: str) -> None:
    message = RAISES.get(file, {}).get(name)
    if message is not None:
        with pytest.raises(Exception, match=re.escape(message)):
            decode(corpus, name, file)
        return
    image = decode(corpus, name, file)
    assert image.dtype == np.uint8 and image.shape == (*expected_shape(file, name), 3)


def test_outcome_table_covers_the_corpus() -> None:
    assert set(SHAPES) | set(RAISES) | {"bomb_13000x14000.png", "broken.jpg"} == set(ALL_NAMES)


# --- the corpus itself ---------------------------------------------------------------------------------


def test_corpus_is_complete_small_and_deterministic(corpus: Path, tmp_path: Path) -> None:
    start = time.perf_counter()
    described = write_odd_corpus(tmp_path)
    assert time.perf_counter() - start < 3
    assert set(described) == set(ALL_NAMES) and len(ALL_NAMES) == len(set(ALL_NAMES))
    assert all(text and "\n" not in text for text in described.values())
    for name in ALL_NAMES:
        path = tmp_path / name
        if name == "broken.jpg":
            continue
        assert path.read_bytes() == (corpus / name).read_bytes(), name
        assert path.stat().st_size < 100_000, name
    assert (tmp_path / "empty.jpg").stat().st_size == 0


def test_discover_lists_every_file_including_the_broken_link(corpus: Path) -> None:
    assert sorted(item.id for item in discover(corpus).items) == sorted(ALL_NAMES)


def test_broken_symlink_cannot_be_read(corpus: Path) -> None:
    link = corpus / "broken.jpg"
    assert link.is_symlink() and not link.exists()
    with pytest.raises(FileNotFoundError):
        link.read_bytes()


def test_non_ascii_path_reads_like_any_other(corpus: Path) -> None:
    path = corpus / "sub dir" / "café ñ.jpg"
    assert path.read_bytes() == (corpus / "baseline_420.jpg").read_bytes()  # same image, same encoder settings
    np.testing.assert_array_equal(cv2.imread(str(path))[..., ::-1], decode(corpus, "opencv", "baseline_420.jpg"))


# --- EXIF orientation: only "opencv" applies it ---------------------------------------------------------


def red_corner(image: np.ndarray) -> str:
    """Which corner the red marker block is in."""
    h, w = image.shape[:2]
    corners = {"TL": image[4, 4], "TR": image[4, w - 5], "BL": image[h - 5, 4], "BR": image[h - 5, w - 5]}
    (found,) = [k for k, (r, g, b) in corners.items() if r > 200 and g < 60 and b < 60]
    return found


RED_CORNER = {2: "TR", 3: "BR", 4: "BL", 5: "TL", 6: "TR", 7: "BR", 8: "BL"}
ORIENT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_exif_orientation(corpus: Path, orientation: int, name: str) -> None:
    file = f"exif_orientation_{orientation}.jpg"
    image = decode(corpus, name, file)
    if name == "opencv":
        assert red_corner(image) == RED_CORNER[orientation]
        stored = decode(corpus, "opencv:noexif", file)
        np.testing.assert_array_equal(image, ORIENT[orientation](stored))  # a lossless flip/rotate of the stored pixels
    else:
        assert red_corner(image) == "TL" and image.shape == (32, 48, 3)


# --- CMYK and YCCK: naive inversion everywhere but libvips (ICC profile); FFmpeg misreads YCCK -------------

LIBJPEG_CMYK = ("opencv", "opencv:noexif", "simplejpeg", "simplejpeg:fast")
NAIVE_CMYK = ((1, 255, 255), (255, 1, 255), (255, 255, 1), (127, 127, 127))
VIPS_CMYK = ((0, 155, 228), (234, 23, 133), (255, 240, 0), (137, 136, 137))  # through libvips' default CMYK profile
CMYK_RGB: dict[str, dict[str, tuple[tuple[int, int, int], ...]]] = {
    "cmyk.jpg": {
        "pil": ((0, 255, 255), (255, 0, 255), (255, 255, 0), (127, 127, 127)),
        **dict.fromkeys(LIBJPEG_CMYK, NAIVE_CMYK),
        **dict.fromkeys(("ffmpeg", "ffmpeg:bilinear"), ((0, 254, 254), (254, 0, 254), (254, 254, 0), (126, 126, 126))),
        "vips": VIPS_CMYK,
    },
    "ycck.jpg": {
        "pil": ((1, 255, 255), (255, 0, 254), (255, 255, 1), (127, 127, 127)),
        **dict.fromkeys(LIBJPEG_CMYK, ((2, 255, 255), (255, 1, 255), (255, 255, 2), (127, 127, 127))),
        # FFmpeg's mjpeg decoder ignores the Adobe transform and shows the Y, Cb, Cr, K planes as if they were CMYK
        **dict.fromkeys(("ffmpeg", "ffmpeg:bilinear"), ((75, 84, 254), (149, 43, 20), (28, 254, 106), (0, 63, 63))),
        "vips": ((0, 156, 228), (234, 23, 133), (255, 240, 0), (137, 136, 137)),
    },
}


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("file", ["cmyk.jpg", "ycck.jpg"])
def test_cmyk_and_ycck_quadrant_colours(corpus: Path, file: str, name: str) -> None:
    image = decode(corpus, name, file)
    quadrants = [image[:16, :24], image[:16, 24:], image[16:, :24], image[16:, 24:]]
    for quadrant, colour in zip(quadrants, CMYK_RGB[file][name], strict=True):
        assert (quadrant == colour).all(), (quadrant.reshape(-1, 3)[0], colour)


# --- 16-bit PNGs: Pillow clips greyscale at 255, everyone else keeps the high byte -----------------------


def clip(v: np.ndarray) -> np.ndarray:
    return np.minimum(v, 255)


def high_byte(v: np.ndarray) -> np.ndarray:
    return v >> 8


def rounded_high_byte(v: np.ndarray) -> np.ndarray:
    return np.minimum((v + 128) >> 8, 255)


GREY16 = {
    "pil": clip, "opencv": high_byte, "opencv:noexif": high_byte, "vips": high_byte,
    "ffmpeg": rounded_high_byte, "ffmpeg:bilinear": rounded_high_byte,
}


@pytest.mark.parametrize("name", GREY16)
@pytest.mark.parametrize("file", ["ramp16_grey.png", "ramp12_grey.png"])
def test_16_bit_greyscale(corpus: Path, file: str, name: str) -> None:
    source = (ramp16() if file == "ramp16_grey.png" else ramp12()).astype(np.int64)
    image = decode(corpus, name, file).astype(np.int64)
    np.testing.assert_array_equal(image, np.repeat(GREY16[name](source)[..., None], 3, axis=2))


def test_16_bit_greyscale_landmarks(corpus: Path) -> None:
    """The same ramp, four answers: value -> pil, opencv, ffmpeg (12-bit data is near black except in Pillow)."""
    pil, opencv, ffmpeg = (decode(corpus, n, "ramp16_grey.png")[..., 0].ravel() for n in ("pil", "opencv", "ffmpeg"))
    landmarks = {0: (0, 0, 0), 255: (255, 0, 1), 256: (255, 1, 1), 4095: (255, 15, 16), 32768: (255, 128, 128), 65535: (255, 255, 255)}
    for value, expected in landmarks.items():
        assert (pil[value], opencv[value], ffmpeg[value]) == expected, value


@pytest.mark.parametrize("name", ["pil", "opencv", "opencv:noexif", "vips", "ffmpeg", "ffmpeg:bilinear"])
def test_16_bit_rgb(corpus: Path, name: str) -> None:
    source = ramp16_rgb().astype(np.int64)
    image = decode(corpus, name, "ramp16_rgb.png").astype(np.int64)
    if name.startswith("ffmpeg"):  # swscale's rgb48 -> rgb24 is rounded and dithered: no closed form, off by at most 1
        difference = image - rounded_high_byte(source)
        assert np.abs(difference).max() == 1 and 0.9 < (difference == 0).mean() < 1
    else:  # Pillow reads 16-bit RGB as RGB;16B, the high byte, unlike its greyscale clipping
        np.testing.assert_array_equal(image, high_byte(source))


# --- truncated JPEGs: only FFmpeg returns a picture, green where the data ran out --------------------------

GREEN_PIXELS = {10: 11776, 50: 6400, 90: 1280}  # of 96 x 128
INTACT_ROWS = {10: 0, 50: 32, 90: 80}  # whole 16-row MCU rows decoded exactly as from the full file; the cut row
# bleeds green chroma into what was decoded


@pytest.mark.parametrize("name", ["ffmpeg", "ffmpeg:bilinear"])
@pytest.mark.parametrize("percent", TRUNCATIONS)
def test_ffmpeg_fills_truncated_jpegs_with_green(corpus: Path, percent: int, name: str) -> None:
    image = decode(corpus, name, f"truncated_{percent}.jpg")
    green = (image == GREEN_FILL).all(axis=-1)
    assert green.sum() == GREEN_PIXELS[percent] and green[-16:, -16:].all()  # the picture ends in green
    rows = INTACT_ROWS[percent]
    full = decoder(name)(truncation_source())
    np.testing.assert_array_equal(image[:rows], full[:rows])


# --- colour models and flat images: every decoder agrees exactly ------------------------------------------

PNG_DECODERS = [n for n in DECODERS if n not in NOT_PNG_CAPABLE]


@pytest.mark.parametrize("name", PNG_DECODERS)
def test_alpha_and_palette_transparency_are_dropped(corpus: Path, name: str) -> None:
    assert (decode(corpus, name, "rgba.png") == (200, 40, 20)).all()  # colour kept under alpha 0
    palette = decode(corpus, name, "palette_transparent.png")
    assert (palette[:, :24] == (0, 255, 0)).all() and (palette[:, 24:] == (10, 20, 200)).all()  # tRNS index keeps its colour


@pytest.mark.parametrize("name", PNG_DECODERS)
def test_greyscale_png_and_small_pngs_are_exact(corpus: Path, name: str) -> None:
    grey = np.asarray(Image.open(corpus / "grey.png"))
    np.testing.assert_array_equal(decode(corpus, name, "grey.png"), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(decode(corpus, name, "1x1.png"), [[[12, 34, 56]]])
    np.testing.assert_array_equal(decode(corpus, name, "5x4.png"), np.arange(60, dtype=np.uint8).reshape(4, 5, 3) * 4)
    np.testing.assert_array_equal(decode(corpus, name, "png_named.JPEG"), decode(corpus, "pil", "png_named.JPEG"))


@pytest.mark.parametrize("name", DECODERS)
def test_one_pixel_jpeg(corpus: Path, name: str) -> None:
    np.testing.assert_array_equal(decode(corpus, name, "1x1.jpg"), [[[12, 34, 57]]])


# --- ordinary JPEGs: libjpeg-turbo decoders agree bit for bit; FFmpeg and the fast path differ ------------

MAX_DIFFERENCE_FROM_PIL = {  # file: (simplejpeg:fast, ffmpeg and ffmpeg:bilinear)
    "baseline_444.jpg": (4, 2),
    "baseline_422.jpg": (40, 42),
    "baseline_420.jpg": (44, 44),
    "progressive.jpg": (44, 44),
    "grey.jpg": (3, 1),
    "wide_10000x20.jpg": (46, 45),
}


@pytest.mark.parametrize("file", MAX_DIFFERENCE_FROM_PIL)
def test_jpeg_decoders_against_pillow(corpus: Path, file: str) -> None:
    pil = decode(corpus, "pil", file).astype(np.int16)
    for name in LIBJPEG_TURBO:
        np.testing.assert_array_equal(decode(corpus, name, file), pil, err_msg=name)
    fast, ffmpeg = MAX_DIFFERENCE_FROM_PIL[file]
    assert np.abs(decode(corpus, "simplejpeg:fast", file) - pil).max() == fast
    bicubic = decode(corpus, "ffmpeg", file)
    np.testing.assert_array_equal(decode(corpus, "ffmpeg:bilinear", file), bicubic)  # no scaling: the flags never matter
    assert np.abs(bicubic - pil).max() == ffmpeg


# --- the decompression bomb: Pillow refuses it; the others would decode 546 MB ----------------------------


def test_bomb_is_refused_by_pillow(corpus: Path) -> None:
    data = (corpus / "bomb_13000x14000.png").read_bytes()
    assert len(data) < 64_000 and BOMB_SIZE[0] * BOMB_SIZE[1] > 2 * Image.MAX_IMAGE_PIXELS
    with pytest.raises(Image.DecompressionBombError, match="182000000 pixels"):
        decoder("pil")(data)
    with pytest.raises(ValueError, match=NOT_JPEG):
        decoder("simplejpeg")(data)
    # Not decoded here: opencv, ffmpeg and vips all return a white 14000 x 13000 x 3 array (measured:
    # 4.2 s / 1.1 GB peak, 1.7 s / 0.63 GB, 1.7 s / 0.59 GB) since none of them has a limit this low.
