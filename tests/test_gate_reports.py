"""The gate (point or upper bound, per-candidate tolerances, [tool.parity]) and the JUnit, Markdown and JSON views."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parity import api
from parity.cli import app
from parity.compare import ImageOutcome, Prediction, Tolerance, judge, summarize

runner = CliRunner()


def run(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def outcomes(flips: int, images: int) -> list[ImageOutcome]:
    same, other = Prediction((1,), (0.9,)), Prediction((2,), (0.9,))
    return [ImageOutcome(f"i{n}", None, same, other if n < flips else same, None) for n in range(images)]


def test_upper_bound_gate_cannot_pass_a_small_sample_by_luck() -> None:
    # 0 flips in 200 images: the point estimate is 0%, the exact one-sided upper bound 1.49%.
    metrics = summarize(outcomes(0, 200))
    assert judge(metrics, Tolerance(rate=0.005)).passed
    assert not judge(metrics, Tolerance(rate=0.005, gate="upper")).passed
    assert judge(summarize(outcomes(0, 598)), Tolerance(rate=0.005, gate="upper")).passed


def test_the_gate_example_13_of_500_at_3_and_5_percent() -> None:
    metrics = summarize(outcomes(13, 500))
    assert metrics.flip_rate_upper == pytest.approx(0.04102, abs=1e-5)
    assert judge(metrics, Tolerance.parse("3%")).passed
    assert not judge(metrics, Tolerance.parse("3%", gate="upper")).passed
    assert judge(metrics, Tolerance.parse("5%", gate="upper")).passed
    assert "upper bound 4.10%" in judge(metrics, Tolerance.parse("3%", gate="upper")).reason


def test_max_flips_under_the_upper_gate_bounds_the_count() -> None:
    metrics = summarize(outcomes(2, 100))  # upper bound 6.1% of 100 images = 6.1 flips
    assert judge(metrics, Tolerance.parse(max_flips=7, gate="upper")).passed
    assert not judge(metrics, Tolerance.parse(max_flips=6, gate="upper")).passed


@pytest.mark.parametrize(("options", "message"), [
    ({"gate": "median"}, "--gate must be one of point, upper"),
    ({"confidence": "20%"}, "--confidence must lie between 50% and 100%"),
    ({"confidence": "2"}, "a bare number is a fraction"),
])
def test_bad_gate_options(options: dict, message: str) -> None:
    from parity.errors import ParityError

    with pytest.raises(ParityError, match=message):
        Tolerance.parse("1%", **options)


def _project(folder: Path, model: Path, data: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(f'[tool.parity]\nmodel = "{model}"\ndata = "{data}"\n{body}')


def test_pyproject_config_runs_with_no_flags_and_flags_override(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, tiny_model, image_dir, 'junit = "out/junit.xml"\n[[tool.parity.candidates]]\nstack = "pil-bilinear"\n'
             '[[tool.parity.candidates]]\nstack = "opencv-bilinear"\nmax_flips = 0\n')
    monkeypatch.chdir(tmp_path)
    code, output = run("check")
    assert code == 1, output
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"pil-bilinear", "opencv-bilinear"}
    assert cases["pil-bilinear"].find("failure") is None
    failure = cases["opencv-bilinear"].find("failure")
    assert failure is not None and "images disagree" in failure.get("message") and "at most 0 flip(s)" in failure.get("message")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    code, _ = run("check", "--deploy", "pil-bilinear")  # flags replace the configured candidates
    assert code == 0


def test_pyproject_config_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.parity]\nmodle = "m.onnx"\n')
    monkeypatch.chdir(tmp_path)
    code, output = run("check")
    assert code == 2 and "unknown key(s) in [tool.parity]: modle" in output and len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(("line", "message"), [
    ('workers = "2"', "tool.parity.workers must be a whole number, not '2'"),
    ("batch_size = 2.5", "tool.parity.batch_size must be a whole number, not 2.5"),
    ("cache = 1", "tool.parity.cache must be true or false, not 1"),
    ('pool = "fibres"', "tool.parity.pool must be one of threads, processes, not 'fibres'"),
    ("limit = true", "tool.parity.limit must be a whole number, not True"),
])
def test_pyproject_values_of_the_wrong_type_are_one_line(line: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[tool.parity]\nmodel = "m.onnx"\n{line}\n')
    monkeypatch.chdir(tmp_path)
    code, output = run("check")
    assert code == 2 and "pyproject.toml: " + message in output and len(output.strip().splitlines()) == 1


def test_json_report_matches_the_shipped_schema(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("parity.report").joinpath("schema.json").read_text())
    out = tmp_path / "r.json"
    run("check", tiny_model, "-d", "opencv-bilinear", "-d", "pil-nearest", "--data", image_dir, "--json", out, "--gate", "upper")
    report = json.loads(out.read_text())
    jsonschema.validate(report, schema)
    assert report["candidates"][0]["tolerance"] == {"rate": 0.01, "max_flips": None, "gate": "upper", "confidence": 0.95}
    broken = {**report, "candidates": [{**report["candidates"][0], "metrics": {}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_markdown_report(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    code, _ = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--markdown", out, "--max-flips", "0")
    text = out.read_text()
    report = api.check(tiny_model, ["opencv-bilinear"], image_dir, max_flips=0)
    flips = report.candidates[0].metrics.flips
    assert code == 1 and text.startswith("## parity: ❌ FAILED")
    assert f"| `opencv-bilinear` | {flips}/12 |" in text and "**FAIL**" in text
    assert f"<code>opencv-bilinear</code>: {flips} disagreeing image(s)" in text


def test_plan_says_how_many_images_certify_a_rate() -> None:
    code, output = run("plan", "--tolerance", "0.5%")
    assert code == 0 and output.startswith("598 images: with 0 flip(s)")
    code, output = run("plan", "--tolerance", "1%", "--flips", "2")
    assert code == 0 and output.startswith("628 images")


def test_console_and_markdown_say_which_inferences_were_skipped(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    # opencv-decode's model inputs equal the reference's on these 12 PNGs: 12 inferences run, 12 skipped.
    out = tmp_path / "r.md"
    code, output = run("check", tiny_model, "-d", "opencv-decode", "--data", image_dir, "--no-cache", "--markdown", out)
    skipped = "12 inferences run; 12 skipped because the model input was bit-identical to one already run on the same runtime"
    assert code == 0 and f"inference: {skipped}" in " ".join(output.split())
    assert f"Inference: {skipped}." in out.read_text()
    run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir)  # fills the output cache
    code, output = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir)
    assert code in (0, 1) and "inference: 0 inferences run; 24 outputs taken from the output cache" in " ".join(output.split())
    _, output = run("check", tiny_model, "-d", "opencv-bilinear", "--data", image_dir, "--no-cache")
    assert "inference:" not in output  # every output computed: nothing to say
