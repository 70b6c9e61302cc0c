"""A self-contained HTML report: the summary table, the stage attribution (from ``parity explain``), and a
gallery of flipped images with both model inputs, the difference heatmap and both predictions.

Images are embedded as base64 PNGs and the style is inline, so the file opens anywhere, offline. The
gallery recomputes each shown image's preprocessing (``parity diff``), so it needs the images where the
report says they were; an image no longer there is listed without pictures.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

import numpy as np

from parity.compare import ImageOutcome, Prediction
from parity.diff import diff_image
from parity.errors import ParityError
from parity.explain import Explanation
from parity.report import CandidateReport, Report, described_stack, write_text

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.pass{color:#176a2e}.fail{color:#b00020;font-weight:bold}.gallery{display:flex;flex-wrap:wrap;gap:12px}
figure{border:1px solid #ddd;margin:0;padding:8px;width:360px}figure img{width:112px;height:112px}
figcaption{font-size:13px}.finding{color:#8a5a00}
"""


def _png(image: np.ndarray) -> str:
    """A thumbnail (2x2 pixel blocks averaged) as a PNG data URL."""
    from parity_adapters.pil import png_bytes

    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    blocks = image[:height, :width].reshape(height // 2, 2, width // 2, 2, *image.shape[2:]).astype(np.float32)
    thumbnail = np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(png_bytes(thumbnail)).decode()


def _prediction(prediction: Prediction | None, error: str | None, names: dict[int, str]) -> str:
    if prediction is None:
        return f"failed: {escape(error or '')}"
    name = f" {names[prediction.top1]}" if prediction.top1 in names else ""
    return f"{prediction.top1}{escape(name)} ({prediction.confidence:.2f})"


def _image_path(report: Report, image: str) -> Path | None:
    source = Path(report.data["source"])
    for path in (source / image, source.parent / image, Path(image)):
        if path.is_file():
            return path
    return None


def _margin(outcome: ImageOutcome) -> float:
    """The reference's confidence margin: its top-1 probability minus its runner-up's."""
    probabilities = outcome.reference.probabilities if outcome.reference else ()
    return probabilities[0] - probabilities[1] if len(probabilities) > 1 else 0.0


def _summary(report: Report) -> str:
    rows = []
    for c in report.candidates:
        m = c.metrics
        verdict = '<span class="pass">pass</span>' if c.verdict.passed else '<span class="fail">FAIL</span>'
        delta = "–" if m.delta_accuracy is None else f"{m.delta_accuracy * 100:+.1f} pt"
        rows.append(f"<tr><td>{escape(c.stack['name'])}</td><td>{m.disagreements}/{m.images}</td><td>{m.flip_rate * 100:.1f}%</td>"
                    f"<td>{m.flip_rate_upper * 100:.1f}%</td><td>{delta}</td><td>{m.failed_both}</td><td>{verdict}</td></tr>")
    return ("<table id=\"summary\"><tr><th>candidate</th><th>disagreements</th><th>flip rate</th><th>exact upper</th>"
            "<th>Δacc</th><th>failed both</th><th>verdict</th></tr>" + "".join(rows) + "</table>")


def _attribution(explanation: Explanation) -> str:
    stages = "".join(f"<tr><td>{escape('+'.join(e.stages))}</td><td>{escape(e.reference)}</td><td>{escape(e.candidate)}</td><td>{e.flips}</td></tr>"
                     for e in explanation.effects)
    fixes = "".join(f"<tr><td>{escape(s.stack)}</td><td>{escape(s.changed)}</td><td>{s.disagreements}/{s.images}</td></tr>"
                    for s in explanation.suggestions)
    return (f"<h2>Attribution: {escape(explanation.candidate)}</h2><table id=\"attribution\"><tr><th>stage</th><th>reference</th>"
            f"<th>candidate</th><th>flips alone</th></tr>{stages}</table><p>{len(explanation.interaction)} flip(s) only with the "
            f"stages combined.</p><h3>Nearby stacks, measured</h3><table id=\"suggestions\"><tr><th>stack</th><th>change</th>"
            f"<th>disagreements</th></tr>{fixes}</table>")


def _figure(report: Report, candidate: CandidateReport, outcome: ImageOutcome) -> str:
    names = report.class_names
    caption = (f"<b>{escape(outcome.image)}</b><br>reference: {_prediction(outcome.reference, outcome.reference_error, names)}"
               f"<br>candidate: {_prediction(outcome.candidate, outcome.candidate_error, names)}")
    if outcome.label is not None:
        caption += f"<br>label: {outcome.label}{escape(' ' + names[outcome.label]) if outcome.label in names else ''}"
    pictures = ""
    path = _image_path(report, outcome.image)
    if path is not None and report.recipe is not None:
        try:
            diff = diff_image(path, described_stack(report.reference), described_stack(candidate.stack), report.recipe.recipe)
        except ParityError:
            diff = None
        if diff is not None and diff.model_inputs is not None:
            heatmap = diff.heatmaps.get("normalize")
            pictures = (f'<img alt="reference input" src="{_png(diff.model_inputs[0])}">'
                        f'<img alt="candidate input" src="{_png(diff.model_inputs[1])}">'
                        + (f'<img alt="difference" src="{_png(heatmap)}">' if heatmap is not None else ""))
            caption += "".join(f'<br><span class="finding">{escape(f.rule)}: {escape(f.message)}</span>' for f in diff.findings)
    return f'<figure class="flip">{pictures}<figcaption>{caption}</figcaption></figure>'


def dumps(report: Report, explanation: Explanation | None = None, gallery: int = 24) -> str:
    """The report as one HTML document; ``gallery`` flipped images per candidate, largest reference margin first."""
    verdict = '<span class="pass">PASSED</span>' if report.passed else '<span class="fail">FAILED</span>'
    if report.interruption:
        verdict = f'<span class="fail">{escape(report.interruption)}</span>'
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>parity report</title><style>{STYLE}</style></head><body>",
             f"<h1>parity: {verdict}</h1><p>model {escape(str(report.model.get('path', '')))}, data {escape(report.data['source'])}: "
             f"{report.data['images']} images; reference {escape(report.reference['name'])}</p>", _summary(report)]
    if report.work_summary:
        parts.append(f"<p>Inference: {escape(report.work_summary)}.</p>")
    if explanation is not None:
        parts.append(_attribution(explanation))
    parts.append('<h2>Flipped images</h2><p>Per image: the reference and candidate model inputs, their difference (brighter is '
                 'larger; 64 grey levels or more is white), both predictions. Sorted by the reference\'s confidence margin, '
                 'largest first: the flips that were least expected.</p><div id="gallery" class="gallery">')
    shown = [c for c in report.candidates if explanation is None or c.stack["name"] == explanation.candidate]
    for candidate in shown:
        flips = sorted((o for o in candidate.disagreements if o.status == "flipped"), key=_margin, reverse=True)[:gallery]
        parts += [_figure(report, candidate, o) for o in flips]
    parts.append("</div></body></html>")
    return "".join(parts)


def write(report: Report, path: Path, explanation: Explanation | None = None) -> None:
    """Write the HTML report to ``path``."""
    write_text(path, dumps(report, explanation), "HTML")
