"""The real model on real photos: EfficientNet-Lite0 on the shared 500-image ImageNet sample."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parity.cli import app

runner = CliRunner()
pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def lite0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("efficientnet_lite_pytorch", reason="the demo extra is not installed: pip install '.[demo]'")
    path = tmp_path_factory.mktemp("lite0") / "lite0.onnx"
    result = runner.invoke(app, ["demo", "--save-model", str(path)])
    assert result.exit_code == 0, result.output
    return path


def test_lite0_on_the_shared_sample(lite0: Path, shared_sample: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = runner.invoke(app, [
        "check", str(lite0), "--data", str(shared_sample), "--labels", str(shared_sample / "labels.csv"),
        "--deploy", "opencv-bilinear", "--deploy", "opencv-area", "--deploy", "pil-nearest", "--json", str(out),
    ])
    assert result.exit_code == 1, result.output  # opencv-bilinear and pil-nearest exceed the default 1%
    report = json.loads(out.read_text())
    assert report["recipe"]["sources"]["mean"] == "model metadata"
    assert report["data"] == {"source": str(shared_sample), "images": 500, "labelled": 500}
    metrics = {c["stack"]["name"]: c["metrics"] for c in report["candidates"]}
    bilinear = metrics["opencv-bilinear"]
    assert (bilinear["reference_correct"], bilinear["candidate_correct"], bilinear["flips"]) == (443, 442, 13)
    assert metrics["opencv-area"]["flips"] == 5
    assert metrics["pil-nearest"]["flips"] == 34
    verdicts = {c["stack"]["name"]: c["verdict"]["passed"] for c in report["candidates"]}
    assert verdicts == {"opencv-bilinear": False, "opencv-area": True, "pil-nearest": False}


def test_exported_model_carries_its_recipe_and_no_local_paths(lite0: Path) -> None:
    import onnx

    model = onnx.load(str(lite0))
    metadata = {p.key: p.value for p in model.metadata_props}
    recipe = json.loads(metadata["parity.recipe"])
    assert (recipe["resize_size"], recipe["crop_size"], recipe["mean"], recipe["std"]) == (256, 224, [127.0] * 3, [128.0] * 3)
    assert json.loads(metadata["parity.export"])["exporter"] == "torch.onnx.export(dynamo=True)"
    assert not any(p.key == "pkg.torch.onnx.stack_trace" for node in model.graph.node for p in node.metadata_props)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch


def test_lite0_in_torch_against_its_own_onnx_export(shared_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lite = pytest.importorskip("parity_adapters.efficientnet_lite", reason="the demo extra is not installed")
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "torch.json"
    result = runner.invoke(app, [
        "check", "--model-factory", "parity_adapters.efficientnet_lite:lite0_architecture", "--weights", lite.lite0_weights(),
        "--scale", "1", "--mean", "127", "--std", "128", "--data", str(shared_sample),
        "--labels", str(shared_sample / "labels.csv"), "--deploy", "pil-bilinear", "--deploy", "opencv-bilinear", "--json", str(out),
    ])
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert report["reference"]["stages"]["runtime"]["implementation"] == "torch"
    assert report["model"]["export"]["exporter"] == "torch.onnx.export(dynamo=True)"
    same, deployed = (c["metrics"] for c in report["candidates"])
    assert same["flips"] == 0 and 0 < same["max_abs_logit_diff"] < 1e-4  # export noise alone: about 1.6e-5 here
    assert (deployed["reference_correct"], deployed["candidate_correct"], deployed["flips"]) == (443, 442, 13)


def test_the_ci_gate_from_pyproject_on_the_shared_sample(lite0: Path, shared_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xml.etree.ElementTree as ET

    from parity import api

    (tmp_path / "pyproject.toml").write_text(
        f'[tool.parity]\nmodel = "{lite0}"\ndata = "{shared_sample}"\nlabels = "{shared_sample / "labels.csv"}"\n'
        'junit = "junit.xml"\njson = "report.json"\nsave_run = "runs"\n'
        '[[tool.parity.candidates]]\nstack = "opencv-bilinear"\ntolerance = "3%"\n'
        '[[tool.parity.candidates]]\nstack = "opencv-area"\ntolerance = "3%"\n'
    )
    monkeypatch.chdir(tmp_path)
    point = runner.invoke(app, ["check"])
    assert point.exit_code == 0, point.output  # 13/500 = 2.6% <= 3%
    upper = runner.invoke(app, ["check", "--gate", "upper"])
    assert upper.exit_code == 1, upper.output  # exact one-sided 95% upper bound 4.1% > 3%
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")}
    assert cases["opencv-area"].find("failure") is None
    assert "13 of 500 images disagree (2.60%, one-sided 95% upper bound 4.10%)" in cases["opencv-bilinear"].find("failure").get("message")
    lenient = runner.invoke(app, ["check", "--gate", "upper", "--tolerance", "5%"])
    assert lenient.exit_code == 0, lenient.output

    report = json.loads((tmp_path / "report.json").read_text())
    runs = tmp_path / "runs"
    for index, name in enumerate(["1-opencv-bilinear", "2-opencv-area"]):
        compared = api.compare(runs / "0-pil-bilinear", runs / name).to_dict()["candidates"][0]["metrics"]
        assert compared == report["candidates"][index]["metrics"]


def test_a_five_line_pytest_file(lite0: Path, shared_sample: Path, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_deployment=f"""
        import parity

        def test_deployment_matches_training():
            parity.assert_parity("{lite0}", deploy="opencv-bilinear", data="{shared_sample}", tolerance="1%")
    """)
    failing = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    failing.assert_outcomes(failed=1)
    failing.stdout.fnmatch_lines(["*opencv-bilinear: 13 of 500 images disagree (2.60%); tolerance: flip rate at most 1%"])
    pytester.makepyfile(test_deployment=f"""
        import parity

        def test_deployment_matches_training():
            parity.assert_parity("{lite0}", deploy="opencv-bilinear", data="{shared_sample}", tolerance="5%")
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_decoder_colour_and_precision_noise_on_the_shared_sample(lite0: Path, shared_sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    pytest.importorskip("simplejpeg", reason="the sysnoise extra is not installed")
    from parity import api

    presets = ["turbo-fast", "opencv-decode", "bgr-swap", "nv12-bt709", "fp16", "int8-dynamic", "int8-static"]
    report = api.check(lite0, presets, shared_sample)
    assert [c.metrics.flips for c in report.candidates] == [7, 0, 92, 9, 2, 69, 12]  # int8-dynamic one image per call


def test_ffmpeg_and_libvips_on_the_shared_sample(lite0: Path, shared_sample: Path) -> None:
    pytest.importorskip("av", reason="the sysnoise extra is not installed")
    pytest.importorskip("pyvips", reason="the sysnoise extra is not installed")
    from parity import api

    presets = ["ffmpeg", "vips", "vips-linear", "vips-lanczos3"]
    report = api.check(lite0, presets, shared_sample, cache=False)
    assert [c.metrics.flips for c in report.candidates] == [3, 0, 8, 18]


def test_the_odd_corpus_mixed_with_the_shared_photos(lite0: Path, shared_sample: Path, tmp_path: Path) -> None:
    """Every file counted, the clean photos' 13 flips kept, each odd file listed with its reason, exit 0 or 1."""
    import os

    from fixtures.odd_images import KINDS, write_odd_corpus

    mixed = tmp_path / "mixed"
    write_odd_corpus(mixed / "odd")
    for photo in shared_sample.glob("*.JPEG"):
        os.symlink(photo, mixed / photo.name)
    out = tmp_path / "mixed.json"
    result = runner.invoke(app, ["check", str(lite0), "--deploy", "opencv-bilinear", "--data", str(mixed),
                                 "--labels", str(shared_sample / "labels.csv"), "--json", str(out), "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    report = json.loads(out.read_text())
    odd_files = sum(len(names) for names in KINDS.values())
    assert report["data"]["images"] == 500 + odd_files
    candidate = report["candidates"][0]
    listed = candidate["disagreements"] + candidate["failed_both"]
    clean_flips = [o for o in listed if not o["image"].startswith("odd/")]
    assert len(clean_flips) == 13 and all(o["status"] == "flipped" for o in clean_flips)
    odd = {o["image"]: o for o in listed if o["image"].startswith("odd/")}
    for name in ("empty.jpg", "text.jpg", "broken.jpg", "bomb_13000x14000.png", *(f"truncated_{p}.jpg" for p in (10, 50, 90))):
        assert odd[f"odd/{name}"]["status"] == "failed-both"
        assert odd[f"odd/{name}"]["reference"]["error"] and odd[f"odd/{name}"]["candidate"]["error"]
    rotated = [o for image, o in odd.items() if "exif_orientation" in image]
    assert rotated and all(o["note"].startswith("candidate rotated the image by its EXIF orientation") for o in rotated)
    assert candidate["metrics"]["images"] + candidate["metrics"]["failed_both"] == 500 + odd_files
