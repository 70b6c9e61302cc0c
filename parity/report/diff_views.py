"""Console view of ``parity diff`` and the PNG files it writes (heatmaps, side-by-side model inputs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.diff import ImageDiff
from parity.errors import ParityError
from parity.report import write_text

GAP = 8  # pixels of white between the two model inputs


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def render(result: ImageDiff, console: Console) -> None:
    table = Table(title=f"{escape(result.image)}: per stage, train vs deploy (grey levels)", title_justify="left")
    for column in ("stage", "train", "deploy", "shape", "max |Δ|", "mean |Δ|", "PSNR dB"):
        table.add_column(column, justify="right" if column in ("max |Δ|", "mean |Δ|", "PSNR dB") else "left")
    for s in result.stages:
        if s.failure:
            shape = escape(s.failure)
        elif s.train_shape == s.deploy_shape:
            shape = "x".join(map(str, s.train_shape or []))
        else:
            shape = f"{'x'.join(map(str, s.train_shape or []))} vs {'x'.join(map(str, s.deploy_shape or []))}"
        table.add_row(s.stage, escape(s.train), escape(s.deploy), shape, _number(s.max_abs, 1), _number(s.mean_abs, 3), _number(s.psnr, 1))
    console.print(table)
    if result.runtimes[0] != result.runtimes[1]:
        console.print(f"runtime: train {escape(result.runtimes[0])}, deploy {escape(result.runtimes[1])}: not compared here "
                      "(diff runs no model; `parity check` measures the runtime)")
    for finding in result.findings:
        console.print(f"[yellow]{escape(finding.rule)}[/yellow]: {escape(finding.message)}")
    if not result.findings:
        console.print("no known cause fired (rules: exif-rotation, antialias, coordinates, channel-swap, chroma-subsampling, fast-idct)")


def folder_name(image: Path) -> str:
    """A folder name for one image's pictures: its file name (so a.png and a.jpg differ), never . or .."""
    name = image.name.replace("/", "_")
    return name if name.strip(".") else f"image{name}"


def write_images(result: ImageDiff, folder: Path) -> list[Path]:
    """One heatmap PNG per comparable stage and the two model inputs side by side; returns the paths."""
    from parity_adapters.pil import write_png

    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stage, heatmap in result.heatmaps.items():
            path = folder / f"heatmap-{stage}.png"
            write_png(path, heatmap)
            written.append(path)
        if result.model_inputs is not None:
            train, deploy = result.model_inputs
            gap = np.full((train.shape[0], GAP, 3), 255, np.uint8)
            path = folder / "model-inputs-train-vs-deploy.png"
            write_png(path, np.concatenate([train, gap, deploy], axis=1))
            written.append(path)
    except OSError as exc:
        raise ParityError(f"{folder}: cannot write the diff images ({exc.strerror or exc})") from None
    return written


def write_json(result: ImageDiff, path: Path) -> None:
    write_text(path, json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n", "JSON")
