"""The library-free stages (identity colour, centre crop, normalize) and the resize geometry, in numpy."""

from __future__ import annotations

import numpy as np

from parity.errors import ParityError
from parity.registry import register
from parity.spec import Recipe


def resize_target(width: int, height: int, recipe: Recipe) -> tuple[int, int]:
    """Output (width, height) of the resize stage.

    ``shorter`` follows torchvision ``Resize(int)``: the shorter side becomes ``resize_size`` and
    the longer side is ``int(resize_size * long / short)`` (truncated, not rounded).
    """
    size = recipe.resize_size
    if recipe.resize_policy == "exact":
        return size, size
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def tensor_shape(recipe: Recipe) -> tuple[int, int, int]:
    """Shape of one preprocessed image (no batch axis) under ``recipe``."""
    size = recipe.crop_size
    return (3, size, size) if recipe.layout == "NCHW" else (size, size, 3)


def logits_rows(output: np.ndarray, batch: int) -> np.ndarray:
    """A runtime's output as ``batch x classes`` float32; trailing axes of size 1 are dropped.

    Anything else (one value per image, a batch axis that does not match) is an error, not logits.
    """
    array = np.asarray(output, dtype=np.float32)
    while array.ndim > 2 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 2 or array.shape[0] != batch or array.shape[1] < 2:
        raise ParityError(f"the model's output has shape {list(np.shape(output))} for {batch} image(s); parity needs logits of shape [batch, classes]")
    return array


@register("colour", "none", "numpy", "no colour conversion (RGB as decoded)")
def identity(image: np.ndarray) -> np.ndarray:
    return image


@register(
    "crop",
    "center",
    "numpy",
    "torchvision CenterCrop: offsets round((dim - size) / 2); zero padding when the image is smaller",
)
def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """Square centre crop with torchvision's offsets and zero padding (``F.center_crop``)."""
    height, width = image.shape[:2]
    if size > height or size > width:
        pad_top, pad_left = max(size - height, 0) // 2, max(size - width, 0) // 2
        pad_bottom, pad_right = (max(size - height, 0) + 1) // 2, (max(size - width, 0) + 1) // 2
        image = np.pad(image, ((pad_top, pad_bottom), (pad_left, pad_right), (0, 0)))
        height, width = image.shape[:2]
    top = int(round((height - size) / 2.0))
    left = int(round((width - size) / 2.0))
    return image[top : top + size, left : left + size]


@register("normalize", "numpy", "numpy", "float32 (pixel * scale - mean) / std, then channel order, layout and dtype")
def normalize(image: np.ndarray, recipe: Recipe) -> np.ndarray:
    """uint8 H x W x 3 RGB -> the model's input tensor for one image (no batch axis).

    Computed in place in float32, in the order scale, subtract mean, divide by std.
    """
    if recipe.channel_order == "BGR":
        image = image[..., ::-1]
    if recipe.layout == "NCHW":
        image = image.transpose(2, 0, 1)
        per_channel: tuple[int, ...] = (3, 1, 1)
    else:
        per_channel = (3,)
    tensor = np.ascontiguousarray(image).astype(np.float32)
    tensor *= np.float32(recipe.scale)
    tensor -= np.asarray(recipe.mean, np.float32).reshape(per_channel)
    tensor /= np.asarray(recipe.std, np.float32).reshape(per_channel)
    return tensor if recipe.dtype == "float32" else tensor.astype(np.dtype(recipe.dtype))


@register("resize", "none", "numpy", "no resize here: the model resizes (preprocessing inside the model)")
def no_resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return image


@register("crop", "none", "numpy", "no crop here: the model crops (preprocessing inside the model)")
def no_crop(image: np.ndarray, size: int) -> np.ndarray:
    return image


@register("normalize", "none", "numpy", "no normalization here: the decoded uint8 H x W x 3 image goes to the model as it is")
def no_normalize(image: np.ndarray, recipe: Recipe) -> np.ndarray:
    return np.ascontiguousarray(image, dtype=np.uint8)
