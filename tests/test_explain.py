"""`parity explain` and `parity embed`: stage attribution equals the hybrids' own checks, suggestions are
measured, and the preprocessing graph computes what the numpy pipeline computes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from typer.testing import CliRunner

from fixtures.images import synthetic_image
from fixtures.models import TINY_RECIPE, write_linear_classifier
from parity import api, ops, registry
from parity.cli import app
from parity.explain import explain
from parity.spec import Recipe, resolve_stack
from parity_adapters.onnx_embed import preprocessing_graph


@pytest.fixture(scope="module")
def model18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_linear_classifier(tmp_path_factory.mktemp("m18") / "tiny18.onnx", opset=18)


def test_each_stage_alone_equals_its_own_check(model18: Path, image_dir: Path) -> None:
    result = explain(model18, "opencv-bilinear", image_dir, cache=False)
    effects = {e.stages: e for e in result.effects}
    assert set(effects) == {("decode",), ("resize",)}
    hybrid_resize = dataclasses.replace(resolve_stack("pil-bilinear"), name="resize only", resize="opencv:bilinear")
    direct = api.check(model18, ["opencv-decode", hybrid_resize, "opencv-bilinear"], image_dir, cache=False)
    decode_only, resize_only, whole = direct.candidates
    assert effects[("decode",)].flips == decode_only.metrics.disagreements
    assert effects[("resize",)].flips == resize_only.metrics.disagreements
    assert result.disagreements == whole.metrics.disagreements
    flipped = {o.image for o in whole.disagreements}
    alone = {o.image for c in (decode_only, resize_only) for o in c.disagreements}
    assert set(result.interaction) == flipped - alone and set(result.cancelled) == alone - flipped


def test_suggestions_are_measured_and_ranked(model18: Path, image_dir: Path) -> None:
    result = explain(model18, "opencv-bilinear", image_dir, cache=False)
    counts = [s.disagreements for s in result.suggestions]
    assert counts == sorted(counts)
    by_stack = {s.stack: s for s in result.suggestions}
    assert by_stack["opencv-bilinear"].changed == "as deployed"
    if any(e.flips for e in result.effects if e.stages == ("resize",)):
        area = api.check(model18, ["opencv-area"], image_dir, cache=False).candidates[0].metrics.disagreements
        assert by_stack["opencv-area"].disagreements == area
        embedded = api.check(model18, ["opencv-decode+embedded"], image_dir, cache=False).candidates[0].metrics.disagreements
        assert by_stack["opencv-decode+embedded"].disagreements == embedded


def test_explain_refuses_a_candidate_equal_to_the_reference(model18: Path, image_dir: Path) -> None:
    result = CliRunner().invoke(app, ["explain", str(model18), "-d", "pil-bilinear", "--data", str(image_dir), "--no-progress"])
    assert result.exit_code == 2 and "nothing to attribute" in result.output


def test_explain_cli_writes_json(model18: Path, image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "explain.json"
    result = CliRunner().invoke(app, ["explain", str(model18), "-d", "opencv-bilinear", "--data", str(image_dir), "--json", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Flips caused by each stage alone" in result.output
    data = json.loads(out.read_text())
    assert [e["stages"] for e in data["effects"]] == [["decode"], ["resize"]]


@pytest.mark.parametrize("recipe", [
    TINY_RECIPE,
    dataclasses.replace(TINY_RECIPE, resize_policy="exact"),
    Recipe(resize_size=20, crop_size=15, scale=1.0, mean=(127.0, 120.0, 110.0), std=(128.0, 60.0, 64.0), channel_order="BGR", layout="NHWC"),
], ids=["shorter", "exact", "bgr-nhwc"])
@pytest.mark.parametrize("size", [(37, 23), (23, 37), (64, 64)])
def test_the_preprocessing_graph_computes_the_numpy_pipeline(recipe: Recipe, size: tuple[int, int]) -> None:
    image = synthetic_image(*size, seed=9)
    model = onnx.helper.make_model(preprocessing_graph(recipe, "tensor"), opset_imports=[onnx.helper.make_opsetid("", 18)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    in_graph = session.run(None, {"image": image[None]})[0][0]
    target = ops.resize_target(image.shape[1], image.shape[0], recipe)
    resized = registry.get("resize", "onnx:linear-half_pixel-aa").function(image, target)
    expected = ops.normalize(ops.center_crop(resized, recipe.crop_size), recipe)
    assert in_graph.shape == expected.shape
    np.testing.assert_array_equal(in_graph, expected)


def test_embed_writes_a_uint8_model_that_check_measures(model18: Path, image_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "embedded.onnx"
    result = CliRunner().invoke(app, ["embed", str(model18), "-o", str(out)])
    assert result.exit_code == 0, result.output
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(uint8)" and session.get_inputs()[0].shape[-1] == 3
    report = api.check(model18, ["embedded"], image_dir, cache=False)
    assert report.candidates[0].metrics.images == 12


def test_embed_needs_opset_18(tiny_model: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["embed", str(tiny_model), "-o", str(tmp_path / "e.onnx")])
    assert result.exit_code == 2 and "needs opset 18" in result.output and not (tmp_path / "e.onnx").exists()


def test_check_explains_failing_candidates_only(model18: Path, image_dir: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(model18), "-d", "bgr-swap", "-d", "pil-bilinear", "--data", str(image_dir),
                                      "--tolerance", "0%", "--explain", "--no-progress", "--no-cache"])
    assert result.exit_code == 1, result.output
    assert result.output.count("Flips caused by each stage alone") == 1
    assert "candidate bgr-swap" in result.output
