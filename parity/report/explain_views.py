"""Console and JSON views of an explanation: flips per stage alone, the interaction, ranked fixes."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from parity.explain import Explanation
from parity.report import write_text


def render(explanation: Explanation, console: Console, show_images: int = 10) -> None:
    report = explanation.report
    console.print(f"[bold]model[/bold] {escape(str(report.model.get('path', '')))}  [bold]data[/bold] {escape(report.data['source'])}: "
                  f"{report.data['images']} images  [bold]reference[/bold] {escape(report.reference['name'])}  "
                  f"[bold]candidate[/bold] {escape(explanation.candidate)}: {explanation.disagreements}/{explanation.images} disagree")
    stages = Table(title="Flips caused by each stage alone (that stage of the candidate swapped into the reference)", title_justify="left")
    for column in ("stage", "reference", "candidate", "flips alone"):
        stages.add_column(column, justify="right" if column == "flips alone" else "left")
    for effect in explanation.effects:
        stages.add_row("+".join(effect.stages), escape(effect.reference), escape(effect.candidate), str(effect.flips))
    console.print(stages)
    console.print(f"interaction: {len(explanation.interaction)} flip(s) appear only with the stages combined; "
                  f"{len(explanation.cancelled)} flip(s) of a single stage cancel out in the combination")
    for image, causes in list(explanation.per_image.items())[:show_images]:
        console.print(f"  {escape(image)}: {escape(', '.join(causes) or 'interaction only')}")
    fixes = Table(title="Nearby deployment stacks, measured on the same images (fewest disagreements first)", title_justify="left")
    for column in ("stack", "change", "disagreements"):
        fixes.add_column(column, justify="right" if column == "disagreements" else "left")
    for s in explanation.suggestions:
        fixes.add_row(escape(s.stack), escape(s.changed), f"{s.disagreements}/{s.images}")
    console.print(fixes)


def write_json(explanation: Explanation, path: Path) -> None:
    write_text(path, json.dumps(explanation.to_dict(), indent=2, default=str) + "\n", "JSON")
