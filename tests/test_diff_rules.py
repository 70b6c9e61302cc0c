"""`parity diff` and the rules that name known causes: per-stage numbers on generated images, and each
rule firing on an image that shows its cause and staying silent on one that does not."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fixtures.images import jpeg_bytes, synthetic_image
from fixtures.odd_images import orientation_jpeg
from parity.cli import app
from parity.diff import diff_image
from parity.spec import Recipe

RECIPE = Recipe()  # shorter side 256, crop 224


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _stripes(width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[:, ::2] = 255
    return image


def _rules(path: Path, deploy: str, train: str = "pil-bilinear") -> set[str]:
    return {f.rule for f in diff_image(path, train, deploy, RECIPE).findings}


def test_stripes_differ_after_the_resize_and_not_after_the_decode(tmp_path: Path) -> None:
    path = _write(tmp_path, "stripes.png", _png(_stripes(400, 300)))
    result = diff_image(path, "pil-bilinear", "opencv-bilinear", RECIPE)
    stages = {s.stage: s for s in result.stages}
    assert stages["decode"].max_abs == 0 and stages["decode"].psnr == math.inf
    assert stages["resize"].train_shape == [256, 341, 3] and stages["resize"].mean_abs > 10
    # by hand: the crop keeps a window of the resized difference, normalize maps back to the same grey levels
    assert stages["normalize"].max_abs == pytest.approx(stages["crop"].max_abs, abs=1e-3)
    assert set(result.heatmaps) == {"decode", "colour", "resize", "crop", "normalize"}
    assert result.heatmaps["decode"].max() == 0 and result.heatmaps["resize"].max() > 0
    assert result.model_inputs[0].shape == (224, 224, 3)


def test_psnr_by_hand(tmp_path: Path) -> None:
    # a flat grey image against its BGR swap is identical; a flat red one differs by 255 in two channels
    red = np.zeros((300, 300, 3), np.uint8)
    red[..., 0] = 255
    result = diff_image(_write(tmp_path, "red.png", _png(red)), "pil-bilinear", "bgr-swap", RECIPE)
    colour = next(s for s in result.stages if s.stage == "colour")
    assert colour.max_abs == 255 and colour.mean_abs == pytest.approx(2 * 255 / 3)
    assert colour.psnr == pytest.approx(10 * math.log10(255 ** 2 / (2 * 255 ** 2 / 3)))


@pytest.mark.parametrize(("orientation", "deploy", "fires"), [(6, "opencv-bilinear", True), (6, "opencv-noexif", False), (1, "opencv-bilinear", False)])
def test_exif_rule(tmp_path: Path, orientation: int, deploy: str, fires: bool) -> None:
    data = orientation_jpeg(orientation) if orientation != 1 else jpeg_bytes(synthetic_image(48, 32, seed=1))
    assert ("exif-rotation" in _rules(_write(tmp_path, "photo.jpg", data), deploy)) is fires


@pytest.mark.parametrize(("size", "deploy", "fires"), [((800, 600), "opencv-bilinear", True), ((400, 300), "opencv-bilinear", False), ((800, 600), "opencv-area", False)])
def test_antialias_rule(tmp_path: Path, size: tuple[int, int], deploy: str, fires: bool) -> None:
    path = _write(tmp_path, "stripes.png", _png(_stripes(*size)))
    assert ("antialias" in _rules(path, deploy)) is fires


@pytest.mark.parametrize(("deploy", "fires"), [("onnx-linear-asymmetric", True), ("onnx-linear-half_pixel", False)])
def test_coordinates_rule(tmp_path: Path, deploy: str, fires: bool) -> None:
    path = _write(tmp_path, "photo.png", _png(synthetic_image(300, 280, seed=2)))
    assert ("coordinates" in _rules(path, deploy)) is fires


@pytest.mark.parametrize(("colourful", "deploy", "fires"), [(True, "bgr-swap", True), (False, "bgr-swap", False), (True, "nv12-bt601", False)])
def test_channel_swap_rule(tmp_path: Path, colourful: bool, deploy: str, fires: bool) -> None:
    image = synthetic_image(300, 280, seed=3) if colourful else _stripes(300, 280)
    assert ("channel-swap" in _rules(_write(tmp_path, "photo.png", _png(image)), deploy)) is fires


@pytest.mark.parametrize(("colourful", "fires"), [(True, True), (False, False)])
def test_chroma_subsampling_rule(tmp_path: Path, colourful: bool, fires: bool) -> None:
    image = synthetic_image(300, 280, seed=4) if colourful else _stripes(300, 280)
    assert ("chroma-subsampling" in _rules(_write(tmp_path, "photo.png", _png(image)), "nv12-bt601")) is fires


@pytest.mark.parametrize(("deploy", "fires"), [("turbo-fast", True), ("turbo", False)])
def test_fast_idct_rule(tmp_path: Path, deploy: str, fires: bool) -> None:
    pytest.importorskip("simplejpeg", reason="the sysnoise extra is not installed")
    path = _write(tmp_path, "photo.jpg", jpeg_bytes(synthetic_image(300, 280, seed=5)))
    assert ("fast-idct" in _rules(path, deploy)) is fires


def test_diff_cli_writes_the_images_and_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "stripes.png", _png(_stripes(800, 600)))
    result = CliRunner().invoke(app, ["diff", str(path), "-d", "opencv-bilinear", "--out", str(tmp_path / "out"), "--json", str(tmp_path / "d.json")])
    assert result.exit_code == 0, result.output
    assert "antialias: shrinking 2.3x" in result.output
    written = sorted(p.name for p in (tmp_path / "out" / "stripes.png").iterdir())
    assert written == sorted([f"heatmap-{s}.png" for s in ("decode", "colour", "resize", "crop", "normalize")] + ["model-inputs-train-vs-deploy.png"])
    side_by_side = np.asarray(Image.open(tmp_path / "out" / "stripes.png" / "model-inputs-train-vs-deploy.png"))
    assert side_by_side.shape == (224, 224 * 2 + 8, 3)


def test_diff_of_a_missing_image_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["diff", str(tmp_path / "nope.png"), "-d", "opencv-bilinear"])
    assert result.exit_code == 2 and "cannot read the image" in result.output and "Traceback" not in result.output
