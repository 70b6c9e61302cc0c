"""scikit-image: the sample photographs its wheel ships, used by ``parity demo`` when no data is given."""

from __future__ import annotations

from pathlib import Path

import skimage.data

PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png", "coffee.png",
    "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
    "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg",
)


def sample_photos() -> list[Path]:
    """Paths of the photographs in ``skimage.data`` that exist in this installation."""
    folder = Path(skimage.data.__file__).parent
    return [folder / name for name in PHOTOS if (folder / name).is_file()]
