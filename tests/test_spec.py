"""Recipes, presets, composition, TOML round trips and torchvision's resize/crop geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parity.errors import ParityError
from parity.ops import center_crop, normalize, resize_target
from parity.spec import PRESETS, Recipe, Stack, load_stack_file, resolve_recipe, resolve_stack

REQUIRED_PRESETS = [
    "pil-bilinear", "pil-nearest", "pil-box", "pil-hamming", "pil-bicubic", "pil-lanczos",
    "opencv-bilinear", "opencv-nearest", "opencv-area", "opencv-cubic", "opencv-lanczos",
]


@pytest.mark.parametrize("name", REQUIRED_PRESETS)
def test_required_presets_resolve(name: str) -> None:
    library, method = name.split("-")
    stack = resolve_stack(name)
    assert stack.decode == library and stack.resize == f"{library}:{method}"
    assert stack.runtime == "onnxruntime"


def test_composition_applies_left_to_right() -> None:
    stack = resolve_stack("opencv-bilinear+pil-decode")
    assert (stack.decode, stack.resize) == ("pil", "opencv:bilinear")
    assert stack.name == "opencv-bilinear+pil-decode"


def test_unknown_stack_names_the_presets() -> None:
    with pytest.raises(ParityError, match="unknown stack 'opencv-fast'.*pil-bilinear"):
        resolve_stack("opencv-fast")


@pytest.mark.parametrize("name", list(PRESETS))
def test_stacks_round_trip_through_toml(name: str, tmp_path: Path) -> None:
    stack = resolve_stack(name)
    path = tmp_path / "stack.toml"
    path.write_text(stack.to_toml())
    assert load_stack_file(path) == stack


def test_stack_file_extends_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text('name = "edge"\nextends = "opencv-bilinear"\n[stages]\nresize = "opencv:area"\n')
    assert resolve_stack(str(path)) == Stack(name="edge", decode="opencv", resize="opencv:area")


def test_stack_file_rejects_unknown_stages(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[stages]\nsharpen = "yes"\n')
    with pytest.raises(ParityError, match="sharpen"):
        resolve_stack(str(path))


@pytest.mark.parametrize(
    ("size", "expected"),
    [((500, 375), (341, 256)), ((375, 500), (256, 341)), ((333, 500), (256, 384)), ((256, 256), (256, 256))],
)
def test_shorter_side_resize_truncates_like_torchvision(size: tuple[int, int], expected: tuple[int, int]) -> None:
    # torchvision Resize(256): long = int(256 * long / short); 500x375 -> 341.33 -> 341; 500/333*256 = 384.38 -> 384
    assert resize_target(*size, Recipe()) == expected


def test_exact_resize_is_square() -> None:
    assert resize_target(500, 375, Recipe(resize_policy="exact", resize_size=224)) == (224, 224)


def test_center_crop_offsets_round_like_torchvision() -> None:
    image = np.arange(5 * 8 * 3).reshape(5, 8, 3).astype(np.uint8)
    # (8 - 3) / 2 = 2.5 rounds to 2 (banker's rounding, as torchvision's round()); (5 - 3) / 2 = 1
    np.testing.assert_array_equal(center_crop(image, 3), image[1:4, 2:5])


def test_center_crop_pads_small_images_with_zeros() -> None:
    image = np.full((2, 3, 3), 7, np.uint8)
    out = center_crop(image, 4)
    assert out.shape == (4, 4, 3)
    assert out.sum() == 7 * 2 * 3 * 3  # the original pixels, surrounded by zeros
    np.testing.assert_array_equal(out[1:3, 0:3], image)


def test_normalize_by_hand() -> None:
    image = np.array([[[255, 0, 127]]], np.uint8)
    recipe = Recipe(scale=1.0, mean=(127, 127, 127), std=(128, 128, 128))
    out = normalize(image, recipe)
    assert out.shape == (3, 1, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 0, 0], np.array([1.0, -127 / 128, 0.0], np.float32))
    bgr = normalize(image, Recipe(scale=1.0, mean=(0, 0, 0), std=(1, 1, 1), channel_order="BGR", layout="NHWC"))
    np.testing.assert_array_equal(bgr[0, 0], [127, 0, 255])


def test_recipe_precedence_flag_over_file_over_model_over_default() -> None:
    resolved = resolve_recipe(
        overrides={"crop_size": 200, "mean": None},
        file_recipe={"resize_size": 230, "crop_size": 210},
        model_recipe={"resize_size": 240, "scale": 1.0},
    )
    r = resolved.recipe
    assert (r.crop_size, r.resize_size, r.scale, r.mean) == (200, 230, 1.0, Recipe().mean)
    assert resolved.sources["crop_size"] == "flag"
    assert resolved.sources["resize_size"] == "recipe file"
    assert resolved.sources["scale"] == "model metadata"
    assert resolved.sources["mean"] == "default"


def test_recipe_rejects_bad_values() -> None:
    with pytest.raises(ParityError, match="resize_policy"):
        Recipe(resize_policy="longer")
    with pytest.raises(ParityError, match="unknown field"):
        Recipe.from_dict({"interpolation": "bilinear"})
