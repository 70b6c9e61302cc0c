"""Regressions from trying to break the cache, explain, diff and embed: each gives a result or a one-line
error, never a traceback or a stale answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures.images import write_images
from fixtures.models import write_linear_classifier
from parity import api
from parity.cli import app

runner = CliRunner()


@pytest.fixture
def model18(tmp_path: Path) -> Path:
    return write_linear_classifier(tmp_path / "m" / "tiny18.onnx", opset=18)


def _one_line_error(result, text: str) -> None:
    assert result.exit_code == 2, result.output
    assert text in result.output and "Traceback" not in result.output and "unexpected" not in result.output


def test_damaged_cache_entries_are_misses(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    first = api.check(tiny_model, ["opencv-bilinear"], image_dir)
    entries = sorted((tmp_path / "cache" / "outputs").rglob("*.row"))
    entries[0].write_bytes(b"")
    entries[1].write_bytes(entries[2].read_bytes())  # another image's row: its seal does not match
    np.save(entries[3].with_suffix(".tmp.npy"), np.zeros(5, np.float32))
    entries[3].write_bytes(entries[3].with_suffix(".tmp.npy").read_bytes())
    again = api.check(tiny_model, ["opencv-bilinear"], image_dir)
    assert again.work["inferences"] == 3 and again.work["outputs_from_cache"] == 24 - 3
    assert again.candidates[0].metrics == first.candidates[0].metrics


def test_the_reference_outputs_serve_checks_of_other_libraries(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    api.check(tiny_model, ["opencv-bilinear"], image_dir)  # OpenCV's version is no part of the reference's key
    later = api.check(tiny_model, ["fp16"], image_dir)
    assert later.work == {"inferences": 12, "identical_inputs_reused": 0, "outputs_from_cache": 12}


def test_the_same_model_by_another_path_is_served_from_the_cache(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    shutil.copy(tiny_model, tmp_path / "copy.onnx")
    api.check(tiny_model, ["opencv-bilinear"], image_dir)
    monkeypatch.chdir(tmp_path)
    again = api.check(Path("copy.onnx"), ["opencv-bilinear"], image_dir)
    assert again.work["outputs_from_cache"] == 24 and again.model["path"] == "copy.onnx"


def test_an_unwritable_cache_only_loses_the_caching(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PARITY_CACHE_DIR", str(blocker / "cache"))
    report = api.check(tiny_model, ["opencv-bilinear", "fp16"], image_dir)
    assert report.candidates[1].metrics.images == 12


def test_the_pixel_limit_is_part_of_the_cache_key(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    api.check(tiny_model, ["opencv-bilinear"], image_dir)
    limited = api.check(tiny_model, ["opencv-bilinear"], image_dir, max_image_pixels=100)
    assert limited.candidates[0].metrics.failed_both == 12


def test_changed_external_weights_are_not_served_from_the_cache(image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    source = onnx.load(str(write_linear_classifier(tmp_path / "plain.onnx")))
    folder = tmp_path / "external"
    folder.mkdir()
    onnx.save(source, str(folder / "model.onnx"), save_as_external_data=True, location="weights.bin", size_threshold=0)
    before = api.check(folder / "model.onnx", ["opencv-bilinear"], image_dir)
    weights = np.fromfile(folder / "weights.bin", np.float32)
    (weights * -3).tofile(folder / "weights.bin")
    after = api.check(folder / "model.onnx", ["opencv-bilinear"], image_dir)
    assert after.work["outputs_from_cache"] == 0
    assert after.candidates[0].metrics.max_abs_logit_diff != before.candidates[0].metrics.max_abs_logit_diff


def test_explain_of_an_inapplicable_candidate_is_one_line(tiny_model: Path, image_dir: Path) -> None:
    _one_line_error(runner.invoke(app, ["explain", str(tiny_model), "-d", "ceil-mode", "--data", str(image_dir), "--no-progress"]),
                    "has no MaxPool node to change")


def test_explain_on_an_opset_17_model_skips_only_the_embedded_suggestion(tiny_model: Path, image_dir: Path) -> None:
    result = runner.invoke(app, ["explain", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "opencv-area" in result.output and "embedded" not in result.output


def test_explain_takes_one_candidate(tiny_model: Path, image_dir: Path) -> None:
    _one_line_error(runner.invoke(app, ["explain", str(tiny_model), "-d", "opencv-area", "-d", "opencv-bilinear", "--data", str(image_dir)]),
                    "explain takes one --deploy stack")


def test_embed_never_overwrites_its_input_nor_embeds_twice(model18: Path, tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["embed", str(model18), "-o", str(model18)]), "is the model itself")
    assert runner.invoke(app, ["embed", str(model18), "-o", str(tmp_path / "e.onnx")]).exit_code == 0
    _one_line_error(runner.invoke(app, ["embed", str(tmp_path / "e.onnx"), "-o", str(tmp_path / "e2.onnx")]), "already takes uint8 images")


def test_stacks_and_models_must_agree_on_what_goes_in(model18: Path, image_dir: Path, tmp_path: Path) -> None:
    embedded = tmp_path / "e.onnx"
    runner.invoke(app, ["embed", str(model18), "-o", str(embedded)])
    _one_line_error(runner.invoke(app, ["check", str(embedded), "-d", "opencv-bilinear", "--data", str(image_dir)]),
                    "the model takes uint8 images")
    _one_line_error(runner.invoke(app, ["check", str(model18), "-d", "embedded+fp16", "--data", str(image_dir)]),
                    "passes decoded uint8 images")


def test_embed_refuses_a_crop_it_cannot_take(model18: Path, tmp_path: Path) -> None:
    _one_line_error(runner.invoke(app, ["embed", str(model18), "-o", str(tmp_path / "e.onnx"), "--crop", "20"]), "needs zero padding")


def test_diff_of_the_embedded_preset(tmp_path: Path) -> None:
    image = write_images(tmp_path / "img", count=1)[0]
    result = runner.invoke(app, ["diff", str(image), "-d", "embedded", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "not compared here" in result.output


def test_diff_writes_inside_its_folder_even_for_dot_names(tmp_path: Path) -> None:
    image = write_images(tmp_path / "img", count=1)[0]
    odd = image.with_name("...jpg")
    image.rename(odd)
    result = runner.invoke(app, ["diff", str(odd), "-d", "opencv-bilinear", "--out", str(tmp_path / "out" / "deep")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "deep" / "...jpg").is_dir() and not list((tmp_path / "out").glob("*.png"))
