"""The CLI as a user runs it: exit codes 0/1/2, one-line errors, the JSON report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.images import write_images
from parity.cli import app

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_exit_0_when_every_candidate_is_within_tolerance(tiny_model: Path, image_dir: Path) -> None:
    code, output = run("check", tiny_model, "--deploy", "pil-bilinear", "--data", image_dir)
    assert code == 0, output
    assert "PASSED" in output


def test_exit_1_when_a_candidate_is_beyond_tolerance(tiny_model: Path, image_dir: Path) -> None:
    code, output = run("check", tiny_model, "-d", "pil-bilinear", "-d", "opencv-bilinear", "--data", image_dir, "--max-flips", "0")
    assert code == 1, output
    assert "FAILED" in output and "FAIL opencv-bilinear" in output and "pass pil-bilinear" in output


def test_generous_tolerance_passes_the_same_run(tiny_model: Path, image_dir: Path) -> None:
    code, _ = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--tolerance", "100%")
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "missing.onnx", "-d", "opencv-bilinear", "--data", "{images}"], "missing.onnx: model file not found"),
        (["check", "{model}", "-d", "opencv-fast", "--data", "{images}"], "unknown stack 'opencv-fast'"),
        (["check", "{model}", "-d", "opencv-bilinear", "--data", "{empty}"], "no images found"),
        (["check", "{model}", "-d", "opencv-bilinear", "--data", "nowhere"], "nowhere: no such file or folder"),
        (["check", "{model}", "-d", "opencv-bilinear", "--data", "{images}", "--tolerance", "lots"], "--tolerance 'lots'"),
        (["check", "{model}", "--data", "{images}"], "give at least one --deploy"),
        (["check", "{garbage}", "-d", "opencv-bilinear", "--data", "{images}"], "ONNX Runtime cannot load the model"),
        (["check", "{model}", "-d", "opencv-bilinear", "--data", "{images}", "--labels", "{garbage}"], "labels CSV needs a header"),
        (["check", "{model}", "-d", "opencv-bilinear", "--data", "{images}", "--crop", "16"], "model input 'input' has shape"),
    ],
)
def test_exit_2_with_a_one_line_error(args: list[str], message: str, tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    garbage = tmp_path / "garbage.onnx"
    garbage.write_text("not a model")
    values = {"{model}": tiny_model, "{images}": image_dir, "{empty}": empty, "{garbage}": garbage}
    code, output = run(*[values.get(a, a) for a in args])
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "m.onnx", "-d", "opencv-bilinear"], "error: give --data (a folder of images), or data in [tool.parity]"),
        (["compare", "run-a"], "error: Missing argument 'candidate'. (see `parity compare --help`)"),
        (["check", "m.onnx", "--data", ".", "--frobnicate"], "error: No such option: --frobnicate"),
        (["check", "m.onnx", "--data", ".", "--limit", "many"], "error: Invalid value for '--limit'"),
        (["transmogrify"], "error: No such command 'transmogrify'."),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "parity", *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stdout == ""


def test_json_report(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.json"
    code, _ = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--json", path, "--max-flips", "0")
    report = json.loads(path.read_text())
    assert code == 1 and report["passed"] is False
    assert report["schema"] == "parity.report/1"
    assert len(report["model"]["sha256"]) == 64
    assert report["recipe"]["values"]["crop_size"] == 8 and report["recipe"]["sources"]["crop_size"] == "model metadata"
    assert report["reference"]["stages"]["resize"]["implementation"] == "pil:bilinear"
    (candidate,) = report["candidates"]
    assert candidate["stack"]["stages"]["decode"]["behaviour"].startswith("cv2.imdecode")
    metrics = candidate["metrics"]
    assert metrics["flips"] == len(candidate["disagreements"]) > 0
    assert metrics["flip_rate"] == pytest.approx(metrics["flips"] / metrics["images"])
    flip = candidate["disagreements"][0]
    assert flip["reference"]["top5"][0] != flip["candidate"]["top5"][0]
    for key in ("python", "numpy", "pillow", "pillow.jpeg", "opencv", "opencv.jpeg", "onnxruntime", "cpu"):
        assert report["environment"][key]


def test_stacks_lists_every_preset() -> None:
    code, output = run("stacks")
    assert code == 0
    for name in ("pil-bilinear", "pil-lanczos", "opencv-bilinear", "opencv-area", "opencv-lanczos"):
        assert name in output


def test_console_script_is_installed(tiny_model: Path, image_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parity", "check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(image_dir), "--max-flips", "0"],
        capture_output=True, text=True,
    )
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stdout


def test_recipe_file_and_flags_override_the_model_metadata(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text("[recipe]\nresize_size = 10\nmean = [0.4, 0.4, 0.4]\n")
    out = tmp_path / "r.json"
    code, output = run("check", tiny_model, "-d", "pil-bilinear", "--data", image_dir, "--recipe", recipe, "--mean", "0.3", "--json", out)
    assert code == 0, output
    report = json.loads(out.read_text())["recipe"]
    assert report["values"]["resize_size"] == 10 and report["sources"]["resize_size"] == "recipe file"
    assert report["values"]["mean"] == [0.3, 0.3, 0.3] and report["sources"]["mean"] == "flag"
    assert report["values"]["crop_size"] == 8 and report["sources"]["crop_size"] == "model metadata"


def test_demo_without_its_extra_names_the_install_command(hide_module) -> None:
    hide_module("parity.demo", "parity_adapters.torch", "torch")
    code, output = run("demo")
    assert code == 2
    assert output.strip() == "error: parity demo needs the demo extra (No module named 'torch'); install it with: pip install 'parity[demo]'"


def test_file_names_that_look_like_markup_are_printed_literally(tiny_model: Path, tmp_path: Path) -> None:
    (tmp_path / "[bold]odd.jpg").write_text("not an image")
    write_images(tmp_path, count=2)
    code, output = run("check", tiny_model, "-d", "opencv-bilinear", "--data", tmp_path, "--tolerance", "100%")
    assert code == 0, output
    assert "[bold]odd.jpg" in output
