"""Per-stage pixel differences for one image between two stacks: after each stage, each side's shape, the
max and mean absolute difference and the PSNR; a heatmap per stage; both model inputs side by side;
and the rules that name known causes.

Differences are in grey levels (0-255) at every stage: the normalized tensors are mapped back with the
recipe's scale and std. PSNR uses a peak of 255; identical outputs have infinite PSNR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from parity import exif
from parity.engine import PREPROCESSING_STAGES, StageFailure, stage_values
from parity.errors import ParityError
from parity.rules import Finding, findings
from parity.spec import Recipe, Stack, resolve_stack

HEATMAP_GAIN = 4.0  # grey levels of difference -> heatmap brightness: 64 levels or more is white


@dataclass(frozen=True)
class StageDiff:
    """One stage: each side's implementation and output shape, and how far apart the outputs are."""

    stage: str
    train: str
    deploy: str
    train_shape: list[int] | None
    deploy_shape: list[int] | None
    max_abs: float | None
    mean_abs: float | None
    psnr: float | None
    failure: str | None = None


@dataclass
class ImageDiff:
    """Everything ``parity diff`` found for one image."""

    image: str
    stages: list[StageDiff]
    findings: list[Finding]
    heatmaps: dict[str, np.ndarray] = field(default_factory=dict)  # stage -> uint8 H x W
    model_inputs: tuple[np.ndarray, np.ndarray] | None = None  # both sides' model inputs as uint8 H x W x 3
    runtimes: tuple[str, str] = ("", "")  # not compared here: diff runs no model

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "stages": [{**vars(s), "psnr": "inf" if s.psnr == math.inf else s.psnr} for s in self.stages],
            "findings": [vars(f) for f in self.findings],
        }


def _grey_levels(value: np.ndarray, stage: str, recipe: Recipe) -> np.ndarray:
    """A stage's output as H x W x 3 float64 in grey levels (the normalized tensor mapped back)."""
    array = value.astype(np.float64)
    if stage != "normalize" or value.dtype == np.uint8:  # the embedded preset hands decoded pixels on as they are
        return array
    if recipe.layout == "NCHW":
        array = array.transpose(1, 2, 0)
    array = (array * np.asarray(recipe.std) + np.asarray(recipe.mean)) / recipe.scale
    return array[..., ::-1] if recipe.channel_order == "BGR" else array


def _psnr(mean_square: float) -> float:
    return math.inf if mean_square == 0 else 10 * math.log10(255.0 ** 2 / mean_square)


def _as_image(array: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def diff_image(path: Path, train: str | Stack, deploy: str | Stack, recipe: Recipe) -> ImageDiff:
    """Run both stacks' preprocessing on one image and compare them after every stage."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParityError(f"{path}: cannot read the image ({exc.strerror or exc})") from None
    train_stack = train if isinstance(train, Stack) else resolve_stack(train)
    deploy_stack = deploy if isinstance(deploy, Stack) else resolve_stack(deploy)
    train_values = dict(stage_values(data, train_stack, recipe))
    deploy_values = dict(stage_values(data, deploy_stack, recipe))
    stages, heatmaps, arrays = [], {}, {}
    for stage in PREPROCESSING_STAGES:
        a, b = train_values[stage], deploy_values[stage]
        names = (getattr(train_stack, stage), getattr(deploy_stack, stage))
        failed = [f"{side}: {v}" for side, v in (("train", a), ("deploy", b)) if isinstance(v, StageFailure)]
        if failed:
            stages.append(StageDiff(stage, *names, None, None, None, None, None, "; ".join(failed)))
            continue
        arrays[stage] = (a, b)
        shapes = (list(a.shape), list(b.shape))
        if a.shape != b.shape:
            stages.append(StageDiff(stage, *names, *shapes, None, None, None))
            continue
        delta = np.abs(_grey_levels(a, stage, recipe) - _grey_levels(b, stage, recipe))
        stages.append(StageDiff(stage, *names, *shapes, float(delta.max()), float(delta.mean()), _psnr(float((delta ** 2).mean()))))
        heatmaps[stage] = _as_image(delta.mean(axis=-1) * HEATMAP_GAIN)
    inputs = None
    if "normalize" in arrays and arrays["normalize"][0].shape == arrays["normalize"][1].shape:
        inputs = tuple(_as_image(_grey_levels(v, "normalize", recipe)) for v in arrays["normalize"])
    decoded = train_values["decode"]
    original = None if isinstance(decoded, StageFailure) else (decoded.shape[1], decoded.shape[0])
    named = findings(train_stack, deploy_stack, exif.orientation(data), original, recipe.resize_size,
                     {s: v[0] for s, v in arrays.items()}, {s: v[1] for s, v in arrays.items()})
    return ImageDiff(str(path), stages, named, heatmaps, inputs, (train_stack.runtime, deploy_stack.runtime))  # type: ignore[arg-type]
