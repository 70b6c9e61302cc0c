"""The EXIF orientation tag of a JPEG, read from the bytes without decoding the image.

Decoders disagree on it (OpenCV rotates by it, Pillow and torchvision do not), so parity reads it
itself to say which side rotated an image. Format: JPEG APP1 segment ``Exif\\0\\0`` holding a TIFF
header (byte order ``II`` or ``MM``, magic 42, offset of IFD0); tag 0x0112 in IFD0 is the orientation,
a SHORT from 1 (as stored) to 8.
"""

from __future__ import annotations

import struct

ORIENTATION_TAG = 0x0112


def orientation(data: bytes) -> int | None:
    """The EXIF orientation (1-8) of a JPEG, or ``None`` when absent, malformed or not a JPEG."""
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata after this
            return None
        length = struct.unpack(">H", data[position + 2 : position + 4])[0]
        segment = data[position + 4 : position + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return _tiff_orientation(segment[6:])
        position += 2 + length
    return None


def _tiff_orientation(tiff: bytes) -> int | None:
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]
    for index in range(count):
        entry = tiff[ifd + 2 + 12 * index : ifd + 14 + 12 * index]
        if len(entry) < 12:
            return None
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == ORIENTATION_TAG and kind == 3:  # SHORT, stored in the first two value bytes
            value = struct.unpack(order + "H", entry[8:10])[0]
            return value if 1 <= value <= 8 else None
    return None
