"""Saved runs and `parity compare`: the same numbers as the check that made them, and imported logits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fixtures.images import write_images
from parity import api
from parity.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def saved(tiny_model: Path, image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Report, Path]:
    folder = tmp_path_factory.mktemp("runs")
    report = api.check(tiny_model, ["opencv-bilinear", "pil-nearest"], image_dir, save_run=folder)
    return report, folder


def test_save_run_writes_one_run_per_stack(saved: tuple[api.Report, Path]) -> None:
    report, folder = saved
    assert sorted(p.name for p in folder.iterdir()) == ["0-pil-bilinear", "1-opencv-bilinear", "2-pil-nearest"]
    meta = json.loads((folder / "1-opencv-bilinear" / "run.json").read_text())
    assert meta["schema"] == "parity.run/1" and meta["model"]["sha256"] == report.model["sha256"]
    assert meta["stack"]["stages"]["decode"]["implementation"] == "opencv"
    assert np.load(folder / "0-pil-bilinear" / "logits.npy").shape == (12, 10)
    assert report.saved_runs == [str(folder / name) for name in ("0-pil-bilinear", "1-opencv-bilinear", "2-pil-nearest")]


@pytest.mark.parametrize("index", [0, 1])
def test_compare_gives_exactly_the_numbers_check_gave(saved: tuple[api.Report, Path], index: int) -> None:
    report, folder = saved
    name = ["1-opencv-bilinear", "2-pil-nearest"][index]
    compared = api.compare(folder / "0-pil-bilinear", folder / name)
    assert compared.candidates[0].metrics == report.candidates[index].metrics
    assert [o.image for o in compared.candidates[0].disagreements] == [o.image for o in report.candidates[index].disagreements]


def test_compare_cli_exit_codes(saved: tuple[api.Report, Path]) -> None:
    _, folder = saved
    result = runner.invoke(app, ["compare", str(folder / "0-pil-bilinear"), str(folder / "1-opencv-bilinear"), "--max-flips", "0"])
    assert result.exit_code == 1 and "FAILED" in result.output
    result = runner.invoke(app, ["compare", str(folder / "0-pil-bilinear"), str(folder / "0-pil-bilinear")])
    assert result.exit_code == 0 and "PASSED" in result.output


def test_imported_npz_and_npy_logits(saved: tuple[api.Report, Path], tmp_path: Path) -> None:
    report, folder = saved
    meta = json.loads((folder / "1-opencv-bilinear" / "run.json").read_text())
    ids = [image["id"] for image in meta["images"]]
    logits = np.load(folder / "1-opencv-bilinear" / "logits.npy")
    np.savez(tmp_path / "phone.npz", **dict(zip(ids, logits)))
    np.save(tmp_path / "server.npy", logits)
    (tmp_path / "server.txt").write_text("\n".join(ids) + "\n")
    for imported in (tmp_path / "phone.npz", tmp_path / "server.npy"):
        compared = api.compare(folder / "0-pil-bilinear", imported)
        assert compared.candidates[0].metrics == report.candidates[0].metrics


def test_images_missing_from_one_run_are_that_side_failing(saved: tuple[api.Report, Path], tmp_path: Path) -> None:
    _, folder = saved
    meta = json.loads((folder / "0-pil-bilinear" / "run.json").read_text())
    ids = [image["id"] for image in meta["images"]]
    logits = np.load(folder / "0-pil-bilinear" / "logits.npy")
    np.savez(tmp_path / "partial.npz", **dict(zip(ids[:10], logits[:10])), extra=logits[0])
    metrics = api.compare(folder / "0-pil-bilinear", tmp_path / "partial.npz").candidates[0].metrics
    assert (metrics.flips, metrics.failed_candidate, metrics.failed_reference) == (0, 2, 1)


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"junk"), "not a readable .npz"),
    (lambda p: None, "no such run folder or file"),
])
def test_bad_runs_are_one_line_errors(make, message: str, saved: tuple[api.Report, Path], tmp_path: Path) -> None:
    _, folder = saved
    bad = tmp_path / "bad.npz"
    make(bad)
    result = runner.invoke(app, ["compare", str(folder / "0-pil-bilinear"), str(bad)])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1


def test_pickled_npz_entries_are_refused(saved: tuple[api.Report, Path], tmp_path: Path) -> None:
    _, folder = saved
    np.savez(tmp_path / "objects.npz", a=np.array([{"x": 1}], dtype=object))
    result = runner.invoke(app, ["compare", str(folder / "0-pil-bilinear"), str(tmp_path / "objects.npz")])
    assert result.exit_code == 2 and "Object arrays cannot be loaded when allow_pickle=False" in result.output


def test_save_run_keeps_failures(tiny_model: Path, tmp_path: Path) -> None:
    write_images(tmp_path / "data", count=2)
    (tmp_path / "data" / "broken.jpg").write_text("no")
    api.check(tiny_model, ["pil-bilinear"], tmp_path / "data", save_run=tmp_path / "runs")
    meta = json.loads((tmp_path / "runs" / "0-pil-bilinear" / "run.json").read_text())
    errors = {image["id"]: image["error"] for image in meta["images"]}
    assert errors["broken.jpg"].startswith("decode: ") and errors["img000.jpg"] is None
    assert np.isnan(np.load(tmp_path / "runs" / "0-pil-bilinear" / "logits.npy")[0]).all()  # broken.jpg sorts first


def test_compare_cli_renders_imported_runs_without_stage_information(saved: tuple[api.Report, Path], tmp_path: Path) -> None:
    _, folder = saved
    meta = json.loads((folder / "1-opencv-bilinear" / "run.json").read_text())
    ids = [image["id"] for image in meta["images"]]
    np.savez(tmp_path / "device.npz", **dict(zip(ids, np.load(folder / "1-opencv-bilinear" / "logits.npy"))))
    out = tmp_path / "r.json"
    result = runner.invoke(app, ["compare", str(folder / "0-pil-bilinear"), str(tmp_path / "device.npz"), "--tolerance", "100%",
                                 "--json", str(out), "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    assert "(not recorded)" in result.output and "pass device:" in result.output
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    jsonschema.validate(json.loads(out.read_text()), json.loads(resources.files("parity.report").joinpath("schema.json").read_text()))
