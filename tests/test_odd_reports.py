"""What a check reports for the odd-image corpus: every file counted, each difference named, no crash;
deterministic reports; Ctrl-C leaves a partial report and a re-run continues to the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures.images import write_images
from fixtures.odd_images import KINDS, ORIENTATIONS, TRUNCATIONS, write_odd_corpus
from parity import api, registry
from parity.cli import app
from parity.errors import ParityError

ROOT = Path(__file__).resolve().parents[1]
DECODER_PRESETS = ("opencv-decode", "opencv-noexif", "turbo", "turbo-fast", "ffmpeg", "vips")


def _available(preset: str) -> bool:
    from parity.spec import PRESETS

    try:
        registry.get("decode", PRESETS[preset].stages["decode"])
        return True
    except ParityError:
        return False


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("odd")
    write_odd_corpus(folder)
    return folder


@pytest.fixture(scope="module")
def corpus_report(corpus: Path, tiny_model: Path) -> dict:
    decoders = [p for p in DECODER_PRESETS if _available(p)]
    report = api.check(tiny_model, decoders, corpus, cache=False).to_dict()
    return {c["stack"]["name"]: {o["image"]: o for o in c["disagreements"] + c["failed_both"]} | {"_metrics": c["metrics"]}
            for c in report["candidates"]}


def _listed(corpus_report: dict, preset: str, image: str) -> dict | None:
    if preset not in corpus_report:
        pytest.skip(f"{preset}: its library is not installed")
    return corpus_report[preset].get(image)


def test_every_file_is_counted_once(corpus_report: dict) -> None:
    files = sum(len(names) for names in KINDS.values())
    for preset, listed in corpus_report.items():
        assert listed["_metrics"]["images"] + listed["_metrics"]["failed_both"] == files, preset


@pytest.mark.parametrize("orientation", ORIENTATIONS)
@pytest.mark.parametrize("preset", DECODER_PRESETS)
def test_exif_rotation_is_named_only_where_one_side_rotated(corpus_report: dict, preset: str, orientation: int) -> None:
    image = f"exif_orientation_{orientation}.jpg"
    outcome = _listed(corpus_report, preset, image)
    note = f"candidate rotated the image by its EXIF orientation {orientation}; the reference did not"
    if preset == "opencv-decode":
        # the 48x32 marker image rotated or mirrored is a different picture: listed whenever it flips
        if outcome is not None:
            assert outcome["note"] == note
    else:
        assert outcome is None or "note" not in outcome


@pytest.mark.parametrize("preset", DECODER_PRESETS)
@pytest.mark.parametrize("kept", TRUNCATIONS)
def test_truncated_jpegs_are_failures_with_reasons_except_where_a_decoder_fills_them(corpus_report: dict, preset: str, kept: int) -> None:
    outcome = _listed(corpus_report, preset, f"truncated_{kept}.jpg")
    assert outcome is not None and outcome["reference"]["error"].startswith("decode: OSError: image file is truncated")
    if preset == "ffmpeg":  # FFmpeg conceals the missing rows and returns a picture
        assert outcome["status"] == "failed-reference" and "top5" in outcome["candidate"]
    else:
        assert outcome["status"] == "failed-both" and outcome["candidate"]["error"].startswith("decode: ")


@pytest.mark.parametrize("preset", DECODER_PRESETS)
@pytest.mark.parametrize(("image", "reason"), [
    ("empty.jpg", "cannot identify the image format"),
    ("text.jpg", "cannot identify the image format"),
    ("broken.jpg", "read: No such file or directory"),
    ("bomb_13000x14000.png", "DecompressionBombError"),
])
def test_unreadable_files_fail_on_both_sides_with_the_reason(corpus_report: dict, preset: str, image: str, reason: str) -> None:
    outcome = _listed(corpus_report, preset, image)
    assert outcome is not None and outcome["status"] == "failed-both" and reason in outcome["reference"]["error"]
    if image == "bomb_13000x14000.png" and preset in ("opencv-decode", "opencv-noexif", "ffmpeg", "vips"):
        assert "over the 178,956,970-pixel limit (--max-image-pixels; from the file's header)" in outcome["candidate"]["error"]


@pytest.mark.parametrize("preset", ["turbo", "turbo-fast"])
def test_a_png_named_jpeg_fails_only_for_the_jpeg_only_decoder(corpus_report: dict, preset: str) -> None:
    outcome = _listed(corpus_report, preset, "png_named.JPEG")
    assert outcome is not None and outcome["status"] == "failed-candidate"


def test_every_other_file_is_compared(corpus_report: dict) -> None:
    for preset in ("opencv-decode", "vips"):
        if preset not in corpus_report:
            continue
        for image in ("grey.jpg", "grey.png", "rgba.png", "palette_transparent.png", "1x1.png", "5x4.png",
                      "wide_10000x20.jpg", "sub dir/café ñ.jpg", "progressive.jpg", "png_named.JPEG"):
            outcome = corpus_report[preset].get(image)
            assert outcome is None or outcome["status"] in ("flipped", "agreed"), (preset, image)


def test_the_pixel_limit_flag_lets_other_decoders_through(corpus: Path, tiny_model: Path) -> None:
    report = api.check(tiny_model, ["opencv-decode"], corpus, cache=False, max_image_pixels=0)
    bomb = next(o for o in report.candidates[0].disagreements if o.image == "bomb_13000x14000.png")
    assert bomb.status == "failed-reference" and "DecompressionBombError" in bomb.reference_error


def _without_run_details(path: Path) -> dict:
    report = json.loads(path.read_text())
    for key in ("created", "timings", "work"):
        report.pop(key)
    return report


def test_two_runs_give_the_same_json_apart_from_timestamps_and_timings(tiny_model: Path, image_dir: Path, tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        out = tmp_path / f"{run}.json"
        result = CliRunner().invoke(app, ["check", str(tiny_model), "-d", "opencv-bilinear", "-d", "turbo-fast+nv12-bt601",
                                          "--data", str(image_dir), "--json", str(out), "--no-progress"])
        assert result.exit_code in (0, 1), result.output
        outputs.append(out)
    first, second = (json.loads(p.read_text()) for p in outputs)
    assert first["created"] and first["timings"]
    assert _without_run_details(outputs[0]) == _without_run_details(outputs[1])
    # the second run came from the cache: 12 images x (reference, opencv) + the 6 JPEGs turbo decodes
    # (its failures on the 6 PNGs are not cached, and cost no inference)
    assert second["work"] == {"inferences": 0, "identical_inputs_reused": 0, "outputs_from_cache": 12 + 12 + 6}


SLOW_RUN = """
import dataclasses, sys, time
from parity import registry
adapter = registry.get("decode", "pil")
original = adapter.function
def slow(data):
    time.sleep(0.05)
    return original(data)
registry._ADAPTERS[("decode", "pil")] = dataclasses.replace(adapter, function=slow)
from parity.cli import main
sys.argv = ["parity", *sys.argv[1:]]
main()
"""


def test_ctrl_c_writes_a_partial_report_and_a_rerun_finishes_it(tiny_model: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_images(images, count=60, seed=3)
    cache = tmp_path / "cache"
    env = {**os.environ, "PARITY_CACHE_DIR": str(cache)}
    args = ["check", str(tiny_model), "-d", "opencv-bilinear", "--data", str(images), "--batch-size", "4", "--workers", "1", "--no-progress"]
    partial_reports = ["--json", str(tmp_path / "partial.json"), "--junit", str(tmp_path / "partial.xml"), "--markdown", str(tmp_path / "partial.md")]
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, *args, *partial_reports],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list((cache / "outputs").rglob("*.row"))) < 8 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted after" in stderr and "Traceback" not in stderr
    partial = json.loads((tmp_path / "partial.json").read_text())
    assert partial["incomplete"] is True and partial["passed"] is False
    finished = partial["candidates"][0]["metrics"]["images"]
    assert 4 <= finished < 60
    assert f"INCOMPLETE: interrupted after {finished} of 60 images" in (tmp_path / "partial.md").read_text()
    assert 'type="parity.interrupted"' in (tmp_path / "partial.xml").read_text()  # a partial run is not green in CI

    resumed = subprocess.run([sys.executable, "-m", "parity", *args, "--json", str(tmp_path / "resumed.json")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    uninterrupted = subprocess.run([sys.executable, "-m", "parity", *args, "--no-cache", "--json", str(tmp_path / "whole.json")],
                                   cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == uninterrupted.returncode in (0, 1)
    assert _without_run_details(tmp_path / "resumed.json") == _without_run_details(tmp_path / "whole.json")
    work = json.loads((tmp_path / "resumed.json").read_text())["work"]
    assert work["outputs_from_cache"] >= 2 * finished
    assert work["inferences"] + work["identical_inputs_reused"] + work["outputs_from_cache"] == 2 * 60


def test_a_bomb_is_refused_from_its_header_before_decoding(tmp_path: Path) -> None:
    """A 40 KB PNG that decodes to 546 MB: OpenCV never sees it; Pillow refuses it in its own words."""
    from fixtures.odd_images import bomb_png
    from parity.engine import stage_values
    from parity.image_header import dimensions
    from parity.spec import Recipe, resolve_stack

    data = bomb_png()
    assert dimensions(data) == (13000, 14000)
    started = time.perf_counter()
    opencv = dict(stage_values(data, resolve_stack("opencv-bilinear"), Recipe()))["decode"]
    assert time.perf_counter() - started < 0.5
    assert str(opencv).endswith("over the 178,956,970-pixel limit (--max-image-pixels; from the file's header)")
    pillow = dict(stage_values(data, resolve_stack("pil-bilinear"), Recipe()))["decode"]
    assert "DecompressionBombError" in str(pillow)


def test_header_dimensions_of_jpegs_and_pngs() -> None:
    from fixtures.images import jpeg_bytes, synthetic_image
    from fixtures.odd_images import orientation_jpeg
    from parity.image_header import dimensions

    assert dimensions(jpeg_bytes(synthetic_image(37, 23, seed=1))) == (37, 23)
    assert dimensions(orientation_jpeg(6)) == (48, 32)  # as stored, before any rotation
    assert dimensions(b"not an image") is None and dimensions(b"") is None
