"""An image's width and height read from its header, without decoding it: PNG (the IHDR chunk) and
JPEG (the first start-of-frame marker). Used to refuse a decompression bomb before a decoder allocates
it; other formats return ``None`` and are checked after decoding."""

from __future__ import annotations

import struct

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers: baseline, extended, progressive, lossless, and their arithmetic-coded forms
SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, or ``None`` when the header does not say."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 9 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker in SOF_MARKERS:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker in (0xD9, 0xDA):
            return None
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    return None
