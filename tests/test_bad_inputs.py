"""Bad input: a clear one-line error and exit 2, or a per-image failure that keeps every other result."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image
from typer.testing import CliRunner

from fixtures.images import write_images
from parity import api
from parity.cli import app

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def one_line_error(code: int, output: str, message: str) -> None:
    assert code == 2, output
    assert message in output and "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("mean = 0.5", "recipe file: recipe: mean needs three finite numbers"),
        ('mean = ["a", "b", "c"]', "recipe file: recipe: mean needs three finite numbers"),
        ("crop_size = 224.5", "recipe file: recipe: crop_size must be a whole number"),
        ("crop_size = true", "recipe file: recipe: crop_size must be a whole number"),
        ('scale = "x"', "recipe file: recipe: scale must be a positive finite number"),
        ("scale = nan", "recipe file: recipe: scale must be a positive finite number"),
        ("std = [1, 0, 1]", "recipe file: recipe: std must not contain 0"),
        ("recipe = 5", "recipe file: recipe: expected a table of fields, not int"),
    ],
)
def test_bad_recipe_values_are_one_line(toml: str, message: str, tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(toml + "\n")
    one_line_error(*run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--recipe", recipe), message)


def test_bad_recipe_in_model_metadata_says_so(tmp_path: Path, image_dir: Path, tiny_model: Path) -> None:
    model = onnx.load(str(tiny_model))
    model.metadata_props[0].value = json.dumps({"crop_size": "eight"})
    path = tmp_path / "meta.onnx"
    onnx.save(model, str(path))
    one_line_error(*run("check", path, "-d", "opencv-bilinear", "--data", image_dir), "model metadata: recipe: crop_size")


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.toml": 'extends = "b.toml"', "b.toml": 'extends = "a.toml"'}, "'extends' loops back"),
        ({"a.toml": "stages = 5"}, "unknown key(s) stages"),
        ({"a.toml": "extends = 5"}, "extends must be a non-empty string"),
        ({"a.toml": "[stages]\nresize = 5"}, "resize must be a non-empty string"),
        ({"a.toml": '[stages]\ncolour = "opencv"'}, "stack 'a': no colour implementation 'opencv'"),
    ],
)
def test_bad_stack_files_are_one_line(files: dict[str, str], message: str, tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    one_line_error(*run("check", tiny_model, "-d", tmp_path / "a.toml", "--data", image_dir), message)


def test_json_destination_is_checked_before_the_run(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    code, output = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--json", tmp_path)
    one_line_error(code, output, "is a folder; give a file path for the JSON report")


def test_model_path_that_is_a_folder(tmp_path: Path, image_dir: Path) -> None:
    one_line_error(*run("check", tmp_path, "-d", "opencv-bilinear", "--data", image_dir), "is a folder, not a model file")


def test_file_name_that_is_not_utf8_still_gets_a_json_report(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_images(data, count=2)
    os.rename(data / "img000.jpg", os.fsencode(data) + b"/bad\xfename.jpg")
    out = tmp_path / "out.json"
    code, output = run("check", tiny_model, "-d", "pil-bilinear", "--data", data, "--json", out)
    assert code == 0, output
    assert json.loads(out.read_text())["data"]["images"] == 2


def test_a_sliver_image_fails_alone_instead_of_exhausting_memory(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path, count=3)
    Image.new("RGB", (20000, 1)).save(tmp_path / "sliver.png")
    report = api.check(tiny_model, ["opencv-bilinear"], tmp_path, recipe={"resize_size": 256, "crop_size": 8})
    (candidate,) = report.candidates
    (failed,) = candidate.failed_both
    assert failed.image == "sliver.png" and "would resize to 5120000x256" in failed.reference_error
    assert candidate.metrics.images == 3


def test_non_finite_model_output_is_a_per_image_failure(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    model = onnx.load(str(tiny_model))
    bias = next(t for t in model.graph.initializer if t.name == "b")
    values = numpy_helper.to_array(bias).copy()
    values[0] = np.nan
    bias.CopyFrom(numpy_helper.from_array(values, "b"))
    path = tmp_path / "nan.onnx"
    onnx.save(model, str(path))
    code, output = run("check", path, "-d", "opencv-bilinear", "--data", image_dir)
    assert code == 1, output
    assert "NaN or infinity" in output and "no image could be processed by either side" in output


def test_fifos_in_the_data_folder_are_skipped(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path, count=2)
    os.mkfifo(tmp_path / "pipe.jpg")
    report = api.check(tiny_model, ["pil-bilinear"], tmp_path)
    assert report.data["images"] == 2


def test_broken_symlink_is_a_reported_failure(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path, count=2)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (candidate,) = api.check(tiny_model, ["opencv-bilinear"], tmp_path).candidates
    assert [(o.image, o.reference_error) for o in candidate.failed_both] == [("gone.jpg", "read: No such file or directory")]


def test_a_single_image_can_be_the_data(tiny_model: Path, tmp_path: Path) -> None:
    (path,) = write_images(tmp_path, count=1)
    assert api.check(tiny_model, ["pil-bilinear"], path).data["images"] == 1


def test_labels_saved_with_a_byte_order_mark(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", count=2)
    labels = tmp_path / "labels.csv"
    labels.write_bytes("\ufefffile, class_index\nimg000.jpg, 3\n".encode("utf-8"))
    report = api.check(tiny_model, ["pil-bilinear"], tmp_path / "imgs", labels=labels)
    assert report.data["labelled"] == 1


def test_a_nul_byte_in_a_list_entry_fails_that_entry_alone(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    listing = tmp_path / "images.txt"
    listing.write_text(f"{image_dir / 'img000.jpg'}\nbad\x00name.png\n{image_dir / 'img001.png'}\n")
    report = api.check(tiny_model, ["opencv-bilinear"], listing, cache=False)
    (failure,) = report.candidates[0].failed_both
    assert failure.reference_error == "read: the path contains a NUL byte"
    assert report.candidates[0].metrics.compared == 2
