"""Console, JSON and Markdown views of a sweep: the paper's per-family table, then every candidate ranked."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.report import write_text
from parity.sweep import SweepResult


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _pt(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} pt"


def render(result: SweepResult, console: Console) -> None:
    report = result.report
    console.print(f"[bold]model[/bold] {escape(str(report.model.get('path', '')))}  [bold]data[/bold] {escape(report.data['source'])}: "
                  f"{report.data['images']} images, {report.data['labelled']} labelled  [bold]reference[/bold] {escape(report.reference['name'])}")
    families = Table(title="Per family (as in the SysNoise tables)", title_justify="left")
    for column in ("family", "candidates", "mean flip rate", "max flip rate", "mean Δacc", "max Δacc", "safest"):
        families.add_column(column, justify="left" if column in ("family", "safest") else "right")
    for f in result.families:
        families.add_row(f.family, str(len(f.candidates)), _pct(f.mean_flip_rate), _pct(f.max_flip_rate),
                         _pt(f.mean_delta_accuracy), _pt(f.max_delta_accuracy), escape(f.safest))
    console.print(families)
    ranked = Table(title="Every candidate, most flips first", title_justify="left")
    for column in ("candidate", "family", "flips", "flip rate [CI]", "exact upper", "Δacc", "top-5"):
        ranked.add_column(column, justify="left" if column in ("candidate", "family") else "right")
    for c in sorted(report.candidates, key=lambda c: (-c.metrics.disagreements, c.stack["name"])):
        m = c.metrics
        ranked.add_row(escape(c.stack["name"]), result.family_of(c.stack["name"]), f"{m.disagreements}/{m.images}",
                       f"{_pct(m.flip_rate)} [{_pct(m.flip_rate_low)}, {_pct(m.flip_rate_high)}]", _pct(m.flip_rate_upper),
                       _pt(m.delta_accuracy), _pct(m.top5_agreement))
    console.print(ranked)
    for name, reason in result.skipped.items():
        console.print(f"[yellow]skipped[/yellow] {escape(name)}: {escape(reason)}")
    if report.work_summary:
        console.print(f"[dim]inference: {escape(report.work_summary)}[/dim]")


def markdown(result: SweepResult) -> str:
    lines = ["## parity sweep", "", f"{result.report.data['images']} images, reference `{result.report.reference['name']}`.", "",
             "| family | candidates | mean flip rate | max flip rate | mean Δacc | max Δacc | safest |", "|---|---:|---:|---:|---:|---:|---|"]
    for f in result.families:
        lines.append(f"| {f.family} | {len(f.candidates)} | {_pct(f.mean_flip_rate)} | {_pct(f.max_flip_rate)} | "
                     f"{_pt(f.mean_delta_accuracy)} | {_pt(f.max_delta_accuracy)} | `{f.safest}` |")
    lines += ["", "| candidate | family | flips | flip rate | Δacc |", "|---|---|---:|---:|---:|"]
    for c in sorted(result.report.candidates, key=lambda c: (-c.metrics.disagreements, c.stack["name"])):
        m = c.metrics
        lines.append(f"| `{c.stack['name']}` | {result.family_of(c.stack['name'])} | {m.disagreements}/{m.images} | {_pct(m.flip_rate)} | {_pt(m.delta_accuracy)} |")
    if result.skipped:
        lines += ["", "Skipped: " + "; ".join(f"`{n}` ({r})" for n, r in result.skipped.items())]
    if result.report.work_summary:
        lines += ["", f"Inference: {result.report.work_summary}."]
    return "\n".join(lines) + "\n"


def write_json(result: SweepResult, path: Path) -> None:
    write_text(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", "JSON")


def write_markdown(result: SweepResult, path: Path) -> None:
    write_text(path, markdown(result), "Markdown")
