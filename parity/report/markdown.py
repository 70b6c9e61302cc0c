"""Markdown view of a Report, sized for a pull-request comment."""

from __future__ import annotations

from pathlib import Path

from parity.compare import Prediction
from parity.report import Report, write_text


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _prediction(prediction: Prediction | None, error: str | None, names: dict[int, str]) -> str:
    if prediction is None:
        return f"failed: {error}"
    name = f" {names[prediction.top1]}" if prediction.top1 in names else ""
    return f"{prediction.top1}{name} ({prediction.confidence:.2f})"


def dumps(report: Report, show_flips: int = 10) -> str:
    """The report as Markdown: verdict, one row per candidate, the worst disagreeing images folded away."""
    verdict = "✅ PASSED" if report.passed else ("⚠️ INCOMPLETE" if report.interrupted else "❌ FAILED")
    model = report.model
    lines = [
        f"## parity: {verdict}",
        "",
        f"Model `{_cell(str(model.get('path', '')))}` (sha256 `{str(model.get('sha256', ''))[:12]}`), "
        f"{report.data['images']} images ({report.data['labelled']} labelled), reference stack `{report.reference.get('name', '')}`.",
        "",
        *([f"**{report.interruption}.**", ""] if report.interruption else []),
        *([f"Inference: {report.work_summary}.", ""] if report.work_summary else []),
        "| candidate | flips | flip rate [CI] | exact upper bound | top-5 agr. | Δacc | right→wrong / wrong→right (McNemar p) | tolerance | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for c in report.candidates:
        m = c.metrics
        delta = "–" if m.delta_accuracy is None else f"{m.delta_accuracy * 100:+.1f} pt"
        mcnemar = "–" if m.mcnemar_p is None else f"{m.right_to_wrong} / {m.wrong_to_right} (p = {m.mcnemar_p:.3g})"
        lines.append(
            f"| `{_cell(c.stack['name'])}` | {m.disagreements}/{m.images} | {_pct(m.flip_rate)} [{_pct(m.flip_rate_low)}, {_pct(m.flip_rate_high)}] "
            f"| {_pct(m.flip_rate_upper)} | {_pct(m.top5_agreement)} | {delta} | {mcnemar} | {_cell(c.tolerance.describe())} | {'pass' if c.verdict.passed else '**FAIL**'} |"
        )
    for c in report.candidates:
        listed = c.disagreements + c.failed_both
        if not listed or show_flips <= 0:
            continue
        worst = sorted(listed, key=lambda o: -(o.metrics.kl if o.metrics else float("inf")))[:show_flips]
        summary = f"<code>{c.stack['name']}</code>: {len(c.disagreements)} disagreeing image(s), {len(worst)} shown, failures first, then by KL"
        lines += ["", f"<details><summary>{summary}</summary>", "", "| image | label | reference | candidate |", "|---|---|---|---|"]
        for o in worst:
            label = "–" if o.label is None else str(o.label)
            lines.append(
                f"| `{_cell(o.image)}` | {label} | {_cell(_prediction(o.reference, o.reference_error, report.class_names))} "
                f"| {_cell(_prediction(o.candidate, o.candidate_error, report.class_names))} |"
            )
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def write(report: Report, path: Path) -> None:
    """Write the Markdown report to ``path``."""
    write_text(path, dumps(report), "Markdown")
