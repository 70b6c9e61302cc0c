"""The engine against an independent per-image pipeline written with direct library calls."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from fixtures.images import write_images
from fixtures.models import TINY_RECIPE, write_linear_classifier
from parity import api, registry


def direct_top1(path: Path, library: str, model: Path) -> int:
    """Decode, resize (torchvision geometry), crop, normalize and infer with no parity code at all."""
    if library == "pil":
        image = Image.open(path).convert("RGB")
        w, h = image.size
    else:
        array = cv2.cvtColor(cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        h, w = array.shape[:2]
    size = TINY_RECIPE.resize_size
    target = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    if library == "pil":
        array = np.asarray(image.resize(target, Image.Resampling.BILINEAR))
    else:
        array = cv2.resize(array, target, interpolation=cv2.INTER_LINEAR)
    crop = TINY_RECIPE.crop_size
    top, left = int(round((target[1] - crop) / 2)), int(round((target[0] - crop) / 2))
    array = array[top : top + crop, left : left + crop].astype(np.float32) / 255
    tensor = ((array - 0.5) / 0.25).transpose(2, 0, 1)[None]
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return int(session.run(None, {"input": tensor.astype(np.float32)})[0].argmax())


def test_flips_match_an_independent_pipeline(image_dir: Path, tiny_model: Path) -> None:
    report = api.check(tiny_model, ["opencv-bilinear"], image_dir)
    paths = sorted(image_dir.iterdir())
    expected = {p.name for p in paths if direct_top1(p, "pil", tiny_model) != direct_top1(p, "opencv", tiny_model)}
    (candidate,) = report.candidates
    assert {o.image for o in candidate.disagreements} == expected
    assert candidate.metrics.flips == len(expected) > 0
    assert candidate.metrics.images == len(paths)


def test_fixed_batch_model_gives_the_same_report(image_dir: Path, tiny_model: Path, tmp_path: Path) -> None:
    fixed = write_linear_classifier(tmp_path / "fixed.onnx", batch=1)
    dynamic = api.check(tiny_model, ["opencv-bilinear"], image_dir, batch_size=5)
    one_by_one = api.check(fixed, ["opencv-bilinear"], image_dir, batch_size=5)
    assert one_by_one.model["runtime"]["onnxruntime"]["shape"][0] == 1
    for a, b in zip(dynamic.candidates, one_by_one.candidates):
        assert [o.image for o in a.disagreements] == [o.image for o in b.disagreements]
        assert a.metrics.flips == b.metrics.flips
        assert a.metrics.mean_kl == pytest.approx(b.metrics.mean_kl, abs=1e-6)


def test_identical_stacks_never_flip(image_dir: Path, tiny_model: Path) -> None:
    report = api.check(tiny_model, ["pil-bilinear"], image_dir)
    metrics = report.candidates[0].metrics
    assert metrics.flips == 0 and metrics.max_abs_logit_diff == 0.0 and metrics.mean_kl == pytest.approx(0.0, abs=1e-12)


def test_each_image_is_decoded_once_per_decoder(image_dir: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"pil": 0, "opencv": 0}
    for name in calls:
        adapter = registry.get("decode", name)

        def counted(data: bytes, _name: str = name, _function=adapter.function) -> np.ndarray:
            calls[_name] += 1
            return _function(data)

        monkeypatch.setitem(registry._ADAPTERS, ("decode", name), dataclasses.replace(adapter, function=counted))
    report = api.check(tiny_model, ["pil-nearest", "pil-box", "opencv-bilinear", "opencv-area"], image_dir)
    images = report.data["images"]
    assert calls == {"pil": images, "opencv": images}


def test_a_bad_file_is_reported_and_the_others_still_count(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path, count=4)
    (tmp_path / "broken.jpg").write_text("this is not a JPEG")
    report = api.check(tiny_model, ["opencv-bilinear"], tmp_path)
    (candidate,) = report.candidates
    assert candidate.metrics.images == 4 and candidate.metrics.failed_both == 1
    (failed,) = candidate.failed_both
    assert failed.image == "broken.jpg"
    assert failed.reference_error.startswith("decode: ") and "Pillow cannot identify" in failed.reference_error
    assert failed.candidate_error.startswith("decode: ") and "OpenCV could not decode" in failed.candidate_error


def test_model_input_mismatch_fails_before_any_image(image_dir: Path, tmp_path: Path) -> None:
    from parity.errors import ParityError

    model = write_linear_classifier(tmp_path / "tiny.onnx")
    with pytest.raises(ParityError, match=r"shape \['batch', 3, 8, 8\].*\[3, 16, 16\]"):
        api.check(model, ["opencv-bilinear"], image_dir, recipe={"crop_size": 16})


def test_bit_identical_model_inputs_reuse_the_output(tiny_model: Path, image_dir: Path) -> None:
    """OpenCV and Pillow decode these JPEGs and PNGs to the same pixels, so the opencv-decode candidate's
    inputs equal the reference's: none of its images is run again, and the outputs are the reference's."""
    from parity import api

    report = api.check(tiny_model, ["opencv-decode", "opencv-bilinear"], image_dir, cache=False)
    decode_only, resized = report.candidates
    assert decode_only.metrics.max_abs_logit_diff == 0 and decode_only.metrics.flips == 0
    assert report.work == {"inferences": 12 + 12, "identical_inputs_reused": 12, "outputs_from_cache": 0}
    assert resized.metrics.images == 12
