"""FFmpeg through PyAV: libavcodec decodes in this process (no subprocess per image), libswscale converts
the decoder's YUV or grey output to RGB. ``ffmpeg`` uses SWS_BICUBIC, the ``ffmpeg`` command line's
default scaler flags, and so matches ``ffmpeg -i IMAGE -f rawvideo -pix_fmt rgb24 -`` bit for bit;
``ffmpeg:bilinear`` uses SWS_BILINEAR, what PyAV's ``to_ndarray`` does when not told otherwise."""

from __future__ import annotations

import io

import av
import numpy as np

from parity.registry import register


class DecodeError(ValueError):
    """FFmpeg found no picture in the bytes it was given."""


def _decode(data: bytes, interpolation: str) -> np.ndarray:
    try:
        with av.open(io.BytesIO(data)) as container:
            if not container.streams.video:
                raise DecodeError("FFmpeg found no image stream in the file")
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise DecodeError("FFmpeg decoded no picture from the file")
            return frame.to_ndarray(format="rgb24", interpolation=interpolation)
    except av.FFmpegError as exc:
        raise DecodeError(f"FFmpeg cannot decode the image ({exc.strerror or type(exc).__name__})") from None


@register(
    "decode", "ffmpeg", "ffmpeg",
    "PyAV av.open(bytes): FFmpeg's own decoder (mjpeg, png, ...), then swscale to rgb24 with SWS_BICUBIC as the "
    "ffmpeg command line does; chroma upsampled by swscale, not the JPEG library; EXIF orientation not applied",
)
def decode(data: bytes) -> np.ndarray:
    """Decode encoded bytes to uint8 H x W x 3 RGB with FFmpeg's decoders and swscale."""
    return _decode(data, "BICUBIC")


@register(
    "decode", "ffmpeg:bilinear", "ffmpeg",
    "PyAV av.open(bytes), then frame.to_ndarray(format='rgb24') with PyAV's default SWS_BILINEAR scaler flags; "
    "EXIF orientation not applied",
)
def decode_bilinear(data: bytes) -> np.ndarray:
    return _decode(data, "BILINEAR")


def library_versions() -> dict[str, str]:
    """PyAV's version and the FFmpeg libraries it links."""
    versions = {"av": av.__version__}
    for name in ("libavcodec", "libswscale"):
        version = av.library_versions.get(name)
        if version:
            versions[f"av.{name}"] = ".".join(map(str, version))
    return versions
