"""Rich console view of a Report: resolved stacks, one row per candidate, the flipped images, a banner."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.compare import Prediction
from parity.report import CandidateReport, Report


def _percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f}%"


def _class(index: int | None, names: dict[int, str]) -> str:
    if index is None:
        return "-"
    return escape(f"{index} {names[index]}") if index in names else str(index)


def _prediction(prediction: Prediction | None, error: str | None, names: dict[int, str]) -> str:
    if prediction is None:
        return f"[red]failed[/red] {escape(error or '')}"
    return f"{_class(prediction.top1, names)} ({prediction.confidence:.2f})"


def render(report: Report, console: Console, show_flips: int = 10) -> None:
    """Print the report: what ran, the per-candidate table, the worst flips, PASSED or FAILED."""
    model = report.model
    if model.get("path"):
        console.print(f"[bold]model[/bold] {escape(model['path'])}  sha256 {model.get('sha256', '?')[:12]}  ({escape(model.get('format', 'onnx'))})")
    if model.get("factory"):
        console.print(f"[bold]factory[/bold] {escape(model['factory'])}")
    if model.get("export"):
        export = model["export"]
        console.print(f"[bold]export[/bold] candidates run the ONNX export: {escape(export['exporter'])}, opset {export['opset']}, torch {export['torch']}")
    console.print(f"[bold]data[/bold]  {escape(report.data['source'])}: {report.data['images']} images, {report.data['labelled']} labelled")
    if report.recipe is not None:
        _render_recipe(report, console)
    if any(c.failed_both for c in report.candidates):
        unreadable = max(len(c.failed_both) for c in report.candidates)
        console.print(f"[yellow]warning:[/yellow] {unreadable} image(s) could not be processed by either side and are not judged (listed below)")
    _render_stacks(report, console)
    _render_summary(report, console)
    for candidate in report.candidates:
        _render_disagreements(candidate, report, console, show_flips)
    if report.work_summary:
        console.print(f"[dim]inference: {escape(report.work_summary)}[/dim]")
    verdict = "[bold green]PASSED[/bold green]" if report.passed else "[bold red]FAILED[/bold red]"
    if report.interrupted:
        verdict = "[bold yellow]INCOMPLETE[/bold yellow] (interrupted)"
    for candidate in report.candidates:
        mark = "[green]pass[/green]" if candidate.verdict.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {escape(candidate.stack['name'])}: {candidate.verdict.reason}")
    console.print(verdict)


def _render_recipe(report: Report, console: Console) -> None:
    assert report.recipe is not None
    recipe = report.recipe.recipe
    by_origin: dict[str, list[str]] = {}
    for name, origin in report.recipe.sources.items():
        by_origin.setdefault(origin, []).append(name)
    main_origin = max(by_origin, key=lambda o: len(by_origin[o]))
    origins = [f"from {main_origin}"] + [f"{o}: {', '.join(f)}" for o, f in sorted(by_origin.items()) if o != main_origin]
    formula = escape(
        f"resize {recipe.resize_policy} {recipe.resize_size}, crop {recipe.crop_size}, "
        f"(x * {recipe.scale:g} - {list(recipe.mean)}) / {list(recipe.std)}, {recipe.channel_order} {recipe.layout} {recipe.dtype}"
    )
    console.print(f"[bold]recipe[/bold] {formula}  [dim]({escape('; '.join(origins))})[/dim]")


def _render_stacks(report: Report, console: Console) -> None:
    stacks = [report.reference, *[c.stack for c in report.candidates]]
    table = Table(title="Resolved stacks", title_justify="left", show_lines=False)
    table.add_column("stage")
    for index, stack in enumerate(stacks):
        table.add_column(("reference: " if index == 0 else "candidate: ") + escape(stack["name"]))
    stages = dict.fromkeys(stage for stack in stacks for stage in stack.get("stages", {}))
    if not stages:
        return
    for stage in stages:
        cells = [stack.get("stages", {}).get(stage, {}).get("implementation", "(not recorded)") for stack in stacks]
        style = "yellow" if len(set(cells)) > 1 else None
        table.add_row(stage, *cells, style=style)
    console.print(table)
    behaviours = {}
    for stack in stacks:
        for stage_name, stage in stack.get("stages", {}).items():
            behaviours[(stage_name, stage["implementation"])] = stage["behaviour"]
    for (stage_name, name), behaviour in behaviours.items():
        label = f"{name} ({stage_name})" if name == "none" else name  # 'none' names a different no-op in each stage
        console.print(f"  [dim]{escape(label)}: {escape(behaviour)}[/dim]")


def _render_summary(report: Report, console: Console) -> None:
    confidence = {f"{c.tolerance.confidence * 100:g}%" for c in report.candidates}
    title = f"Reference vs candidates (intervals at {', '.join(sorted(confidence))}; exact upper: one-sided Clopper-Pearson)"
    table = Table(title=title, title_justify="left")
    for column in ("candidate", "flips", "flip rate [CI]", "exact upper", "top-5", "KL", "|Δlogit| mean/max", "correct ref → cand", "Δacc", "verdict"):
        table.add_column(column, justify="left" if column == "candidate" else "right", no_wrap=column != "candidate")
    for candidate in report.candidates:
        m = candidate.metrics
        flips = f"{m.disagreements}/{m.images}"
        if m.failed_reference or m.failed_candidate:
            flips += f" ({m.failed_reference + m.failed_candidate} failed one side)"
        if m.failed_both:
            flips += f" (+{m.failed_both} failed both)"
        table.add_row(
            escape(candidate.stack["name"]),
            flips,
            f"{_percent(m.flip_rate)} [{_percent(m.flip_rate_low)}, {_percent(m.flip_rate_high)}]",
            _percent(m.flip_rate_upper),
            _percent(m.top5_agreement),
            "-" if m.mean_kl is None else f"{m.mean_kl:.3g}",
            "-" if m.max_abs_logit_diff is None else f"{m.mean_abs_logit_diff:.3g} / {m.max_abs_logit_diff:.3g}",
            "-" if m.reference_accuracy is None else (
                f"{m.reference_correct} → {m.candidate_correct} of {m.labelled} "
                f"({_percent(m.reference_accuracy)} → {_percent(m.candidate_accuracy)})"
            ),
            "-" if m.delta_accuracy is None else f"{m.delta_accuracy * 100:+.1f} pt",
            "[green]pass[/green]" if candidate.verdict.passed else "[red]FAIL[/red]",
        )
    console.print(table)
    for candidate in report.candidates:
        m = candidate.metrics
        if m.mcnemar_p is not None and (m.right_to_wrong or m.wrong_to_right):
            reading = "deployment loses accuracy" if m.mcnemar_p < 0.05 and m.right_to_wrong > m.wrong_to_right else (
                "deployment gains accuracy" if m.mcnemar_p < 0.05 else "churn, not a significant accuracy change")
            console.print(
                f"  {escape(candidate.stack['name'])}: {m.right_to_wrong} right→wrong, {m.wrong_to_right} wrong→right, "
                f"McNemar exact p = {m.mcnemar_p:.3g} ({reading})"
            )


def _render_disagreements(candidate: CandidateReport, report: Report, console: Console, limit: int) -> None:
    outcomes, names = candidate.disagreements + candidate.failed_both, report.class_names
    if not outcomes or limit <= 0:
        return
    worst = sorted(outcomes, key=lambda o: -(o.metrics.kl if o.metrics else float("inf")))[:limit]
    title = f"{escape(candidate.stack['name'])}: {len(candidate.disagreements)} disagreeing image(s)"
    if candidate.failed_both:
        title += f", {len(candidate.failed_both)} failed on both sides"
    title += f"; {len(worst)} shown, failures first, then by largest KL"
    table = Table(title=title, title_justify="left")
    labelled = report.data["labelled"] > 0
    for column in ("image", "label", "reference", "candidate") if labelled else ("image", "reference", "candidate"):
        table.add_column(column)
    for outcome in worst:
        cells = [
            escape(outcome.image) + (f"\n[dim]{escape(outcome.note)}[/dim]" if outcome.note else ""),
            _prediction(outcome.reference, outcome.reference_error, names),
            _prediction(outcome.candidate, outcome.candidate_error, names),
        ]
        if labelled:
            cells.insert(1, _class(outcome.label, names))
        table.add_row(*cells)
    console.print(table)
