"""FFmpeg (PyAV) and libvips adapters: bit-exact with direct library calls, and with the ffmpeg binary."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.images import jpeg_bytes, synthetic_image
from parity import registry

av = pytest.importorskip("av", reason="the sysnoise extra (av) is not installed")

ODD_420_JPEG = jpeg_bytes(synthetic_image(37, 23, seed=3))  # Pillow writes 4:2:0; odd sizes exercise chroma edges


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _pyav(data: bytes, **options: str) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24", **options)


@pytest.mark.parametrize("data", [ODD_420_JPEG, _png_bytes(synthetic_image(20, 11, seed=4))], ids=["jpeg-420", "png"])
def test_ffmpeg_decoders_are_direct_pyav_calls(data: bytes) -> None:
    np.testing.assert_array_equal(registry.get("decode", "ffmpeg").function(data), _pyav(data, interpolation="BICUBIC"))
    np.testing.assert_array_equal(registry.get("decode", "ffmpeg:bilinear").function(data), _pyav(data))


def test_ffmpeg_decoder_matches_the_ffmpeg_command_line(tmp_path: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="the dev extra (imageio-ffmpeg) is not installed")
    source = tmp_path / "odd.jpg"
    source.write_bytes(ODD_420_JPEG)
    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(source), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout
    decoded = registry.get("decode", "ffmpeg").function(ODD_420_JPEG)
    np.testing.assert_array_equal(decoded, np.frombuffer(raw, np.uint8).reshape(decoded.shape))
    # the bilinear variant is a different chroma upsampler, and it shows
    assert not np.array_equal(registry.get("decode", "ffmpeg:bilinear").function(ODD_420_JPEG), decoded)


@pytest.mark.parametrize("name", ["ffmpeg", "vips"])
def test_undecodable_bytes_fail_with_the_library_reason(name: str) -> None:
    pytest.importorskip("pyvips" if name == "vips" else "av", reason="the sysnoise extra is not installed")
    with pytest.raises(ValueError, match="cannot decode the image"):
        registry.get("decode", name).function(b"this is not an image")


class TestVips:
    pyvips = pytest.importorskip("pyvips", reason="the sysnoise extra (pyvips) is not installed")

    def test_decode_is_a_direct_pyvips_call(self) -> None:
        expected = self.pyvips.Image.new_from_buffer(ODD_420_JPEG, "").numpy()
        np.testing.assert_array_equal(registry.get("decode", "vips").function(ODD_420_JPEG), expected)

    def test_greyscale_and_alpha_come_out_as_rgb(self) -> None:
        grey = np.arange(24, dtype=np.uint8).reshape(4, 6)
        decoded = registry.get("decode", "vips").function(_png_bytes(grey))
        np.testing.assert_array_equal(decoded, np.repeat(grey[..., None], 3, axis=2))
        rgba = np.random.default_rng(0).integers(0, 256, (4, 6, 4), dtype=np.uint8)
        np.testing.assert_array_equal(registry.get("decode", "vips").function(_png_bytes(rgba)), rgba[..., :3])

    @pytest.mark.parametrize("kernel", ["nearest", "linear", "cubic", "mitchell", "lanczos2", "lanczos3", "mks2013", "mks2021"])
    @pytest.mark.parametrize("size", [(24, 16), (90, 50)], ids=["shrink", "enlarge"])
    def test_resize_is_a_direct_pyvips_call(self, kernel: str, size: tuple[int, int]) -> None:
        image = synthetic_image(45, 31, seed=6)
        source = self.pyvips.Image.new_from_array(image)
        expected = source.resize(size[0] / 45, vscale=size[1] / 31, kernel=kernel).numpy()
        resized = registry.get("resize", f"vips:{kernel}").function(image, size)
        assert resized.shape == (size[1], size[0], 3)
        np.testing.assert_array_equal(resized, expected)



def test_a_missing_library_names_its_package(hide_module, monkeypatch: pytest.MonkeyPatch) -> None:
    from parity.errors import ParityError

    monkeypatch.setattr(registry, "_ADAPTERS", {k: v for k, v in registry._ADAPTERS.items() if k[1] != "ffmpeg"})
    hide_module("parity.registry", "parity_adapters.ffmpeg", "av")
    with pytest.raises(ParityError, match=r"adapter 'ffmpeg' needs av .*pip install 'av'"):
        registry.get("decode", "ffmpeg")
