"""``parity sweep``: every available noise of each SysNoise family against the reference, then the worst
combination, summarised per family as in the paper's tables (mean and max Δaccuracy and flip rate)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

from parity import api, registry
from parity.errors import ParityError
from parity.report import CandidateReport, Report
from parity.spec import PRESETS, resolve_stack

FAMILIES: dict[str, tuple[str, ...]] = {
    "decoder": ("opencv-decode", "opencv-noexif", "ffmpeg", "ffmpeg-bilinear", "vips", "turbo", "turbo-fast"),
    "resize": (
        "pil-nearest", "pil-box", "pil-hamming", "pil-bicubic", "pil-lanczos",
        "opencv-bilinear", "opencv-nearest", "opencv-area", "opencv-cubic", "opencv-lanczos",
    ),
    "resize-framework": (
        "torch-bilinear", "torch-bilinear-ac", "torch-bilinear-aa", "torch-bilinear-aa-uint8", "torch-bicubic",
        "torch-bicubic-aa", "torch-nearest", "onnx-linear-half_pixel", "onnx-linear-pytorch_half_pixel",
        "onnx-linear-asymmetric", "onnx-linear-align_corners", "onnx-linear-half_pixel-aa", "onnx-cubic-half_pixel",
        "onnx-nearest-asymmetric",
    ),
    "resize-vips": (
        "vips-nearest", "vips-linear", "vips-cubic", "vips-mitchell", "vips-lanczos2", "vips-lanczos3", "vips-mks2013",
        "vips-mks2021",
    ),
    "colour": ("bgr-swap", "nv12-bt601", "nv12-bt709", "yuv444-bt601", "opencv-i420"),
    "precision": ("fp16", "int8-dynamic", "int8-static", "int8-static-tensor"),
    "graph": ("ceil-mode", "upsample-mode"),
    "provider": ("ort-cuda", "ort-tensorrt", "ort-rocm", "ort-migraphx", "ort-openvino", "ort-dml", "ort-coreml", "ort-qnn", "ort-xnnpack"),
}


@dataclass(frozen=True)
class FamilySummary:
    """One family's candidates against the reference: the paper's mean/max columns and the safest stack."""

    family: str
    candidates: list[str]
    mean_flip_rate: float
    max_flip_rate: float
    mean_delta_accuracy: float | None
    max_delta_accuracy: float | None
    safest: str


@dataclass
class SweepResult:
    """The shared report of every candidate, the per-family summaries, the worst combination, what was skipped."""

    report: Report
    families: list[FamilySummary]
    combined: str | None
    skipped: dict[str, str]

    def family_of(self, candidate: str) -> str:
        return next((f.family for f in self.families if candidate in f.candidates), "combined")

    def to_dict(self) -> dict[str, Any]:
        """The check report's JSON with a ``sweep`` section added."""
        return {
            **self.report.to_dict(),
            "sweep": {
                "families": [dataclasses.asdict(f) for f in self.families],
                "combined": self.combined,
                "skipped": self.skipped,
            },
        }


def available_presets() -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The families with the presets whose libraries import here, and why the others were skipped."""
    kept: dict[str, tuple[str, ...]] = {}
    skipped: dict[str, str] = {}
    for family, names in FAMILIES.items():
        usable = []
        for name in names:
            try:
                for stage, implementation in PRESETS[name].stages.items():
                    registry.get(stage, implementation)
                usable.append(name)
            except ParityError as exc:
                skipped[name] = str(exc)
        kept[family] = tuple(usable)
    return kept, skipped


def _summarise(family: str, reports: list[CandidateReport]) -> FamilySummary:
    rates = [c.metrics.flip_rate for c in reports]
    deltas = [c.metrics.delta_accuracy for c in reports if c.metrics.delta_accuracy is not None]
    safest = min(reports, key=lambda c: (c.metrics.disagreements, c.stack["name"]))
    return FamilySummary(
        family=family,
        candidates=[c.stack["name"] for c in reports],
        mean_flip_rate=sum(rates) / len(rates),
        max_flip_rate=max(rates),
        mean_delta_accuracy=sum(deltas) / len(deltas) if deltas else None,
        max_delta_accuracy=max(deltas) if deltas else None,
        safest=safest.stack["name"],
    )


def sweep(model: Any, data: Any, on_progress: Callable[[int], None] | None = None,
          on_start: Callable[[int], None] | None = None, **options: Any) -> SweepResult:
    """Check every available preset of every family in one shared run, then the combination of each
    family's worst preset (by flips) in a second run; ``options`` are :func:`parity.check`'s. With the
    output cache on, the second run takes the reference's outputs from the first."""
    families, skipped = available_presets()
    names = [name for members in families.values() for name in members]
    if not names:
        raise ParityError("no noise preset can run here; see the skipped list")
    report = api.check(model, names, data, on_progress=on_progress, on_start=on_start, skip_inapplicable=True, **options)
    skipped.update(report.skipped)
    families = {f: tuple(n for n in members if n not in report.skipped) for f, members in families.items()}
    by_name = {c.stack["name"]: c for c in report.candidates}
    summaries = [_summarise(f, [by_name[n] for n in members]) for f, members in families.items() if members]
    # Resize presets also name a decoder, so the decoder family's worst goes after them and wins;
    # graph transforms and providers each replace the runtime, so only precision's worst is combined.
    order = ("resize", "decoder", "colour", "precision")
    worst = [max((by_name[n] for n in families[f]), key=lambda c: c.metrics.disagreements).stack["name"]
             for f in order if families.get(f)]
    combined = "+".join(worst) if len(worst) > 1 and not report.interrupted else None
    if combined:
        resolve_stack(combined)
        try:
            extra: Report | None = api.check(model, [combined], data, **options)
        except KeyboardInterrupt:  # before the combination's first image finished
            extra = None
        if extra is not None:
            report.work = {key: count + extra.work.get(key, 0) for key, count in report.work.items()}
        if extra is None or extra.interrupted:  # every single preset finished; the combination is left out
            report.interrupted = True
            skipped[combined] = "the worst combination: interrupted (Ctrl-C) before it finished"
            combined = None
        else:
            report.candidates.extend(extra.candidates)
            summaries.append(_summarise("combined", extra.candidates))
    return SweepResult(report, summaries, combined, skipped)
