"""`parity sweep`: every family in one shared run, the paper's summary columns, the worst combination."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from parity import api, sweep
from parity.cli import app


def test_sweep_summarises_each_family_and_combines_the_worst(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    result = sweep.sweep(tiny_model, image_dir)
    families = {f.family: f for f in result.families}
    assert set(families) >= {"decoder", "resize", "colour", "precision", "combined"}
    by_name = {c.stack["name"]: c.metrics for c in result.report.candidates}
    resize = families["resize"]
    rates = [by_name[n].flip_rate for n in resize.candidates]
    assert resize.mean_flip_rate == pytest.approx(sum(rates) / len(rates)) and resize.max_flip_rate == max(rates)
    assert by_name[resize.safest].disagreements == min(by_name[n].disagreements for n in resize.candidates)
    parts = result.combined.split("+")
    assert parts[0] in families["resize"].candidates and parts[1] in families["decoder"].candidates
    assert by_name[result.combined].images == 12


def test_the_combination_takes_the_reference_from_the_first_run(
    tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    result = sweep.sweep(tiny_model, image_dir)
    assert result.report.work["outputs_from_cache"] == 12  # the combination's reference, cached by the first run
    alone = api.check(tiny_model, [result.combined], image_dir, cache=False)
    assert alone.candidates[0].metrics == result.report.candidates[-1].metrics


def test_sweep_cli_writes_json_and_markdown(tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["sweep", str(tiny_model), "--data", str(image_dir), "--json", str(tmp_path / "s.json"),
                                      "--markdown", str(tmp_path / "s.md"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Per family (as in the SysNoise tables)" in result.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert [f["family"] for f in report["sweep"]["families"]][-1] == "combined"
    assert (tmp_path / "s.md").read_text().startswith("## parity sweep")
    work = report["work"]
    summary = (f"{work['inferences']} inferences run; {work['identical_inputs_reused']} skipped because the model input was "
               f"bit-identical to one already run on the same runtime; {work['outputs_from_cache']} outputs taken from the output cache")
    assert work["identical_inputs_reused"] > 0 and work["outputs_from_cache"] == 12  # decoders that match Pillow; the combination's reference
    assert f"inference: {summary}" in " ".join(result.output.split()) and f"Inference: {summary}." in (tmp_path / "s.md").read_text()


def _interrupt_the_combination(monkeypatch: pytest.MonkeyPatch, during: str) -> None:
    """Ctrl-C in the sweep's second run (the worst combination): while it sets up, or after its first batch."""
    from parity import engine

    real_check, real_record, calls = api.check, engine._record, []

    def record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise KeyboardInterrupt

    def check(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            if during == "setup":
                raise KeyboardInterrupt
            monkeypatch.setattr(engine, "_record", record)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(sweep.api, "check", check)


@pytest.mark.parametrize("during", ["setup", "engine"])
def test_ctrl_c_in_the_combination_keeps_every_single_preset(
    during: str, tiny_model: Path, image_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARITY_CACHE_DIR", str(tmp_path / "cache"))
    complete = sweep.sweep(tiny_model, image_dir, cache=False)
    _interrupt_the_combination(monkeypatch, during)
    result = CliRunner().invoke(app, ["sweep", str(tiny_model), "--data", str(image_dir), "--no-cache", "--no-progress",
                                      "--json", str(tmp_path / "s.json")])
    assert result.exit_code == 130, result.output
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["incomplete"] is True and report["sweep"]["combined"] is None
    assert report["sweep"]["skipped"][complete.combined] == "the worst combination: interrupted (Ctrl-C) before it finished"
    singles = {c.stack["name"]: dataclasses.asdict(c.metrics) for c in complete.report.candidates if c.stack["name"] != complete.combined}
    assert {c["stack"]["name"]: c["metrics"] for c in report["candidates"]} == singles
    assert "INCOMPLETE: interrupted before the run ended; the candidates shown cover all 12 images" in " ".join(result.output.split())
