"""Rules that name known causes of training-deployment differences, each firing only on evidence: what
the two resolved stacks do (adapter properties) and what the per-stage pixel differences show.

Not covered: a scale mismatch (0..1 against 0..255) cannot arise inside one check, where both sides
share the recipe, and INT8 granularity shows in logits, not pixels (`parity explain` measures
``int8-static`` against ``int8-static-tensor`` instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parity import registry
from parity.spec import Stack

SHRINK_FOR_ANTIALIAS = 1.5


@dataclass(frozen=True)
class Finding:
    """A named cause with the evidence for it."""

    rule: str
    message: str


def _property(stage: str, name: str, attribute: str) -> object:
    return getattr(registry.get(stage, name).function, attribute, None)


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def _luma_chroma(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rgb = image.astype(np.float64)
    y = rgb @ np.array([0.299, 0.587, 0.114])
    return y, np.stack([rgb[..., 2] - y, rgb[..., 0] - y], axis=-1)


def findings(
    train: Stack, deploy: Stack, orientation: int | None, original_size: tuple[int, int] | None,
    resize_size: int, train_stages: dict[str, np.ndarray], deploy_stages: dict[str, np.ndarray],
) -> list[Finding]:
    """Known causes for one image: ``orientation`` is its EXIF orientation, ``original_size`` (w, h) as
    stored, ``*_stages`` map stage names to each side's output where it produced one."""
    found = []
    exif = {side: bool(_property("decode", stack.decode, "applies_exif_orientation")) for side, stack in (("train", train), ("deploy", deploy))}
    if orientation not in (None, 1) and exif["train"] != exif["deploy"]:
        rotated = "deploy" if exif["deploy"] else "train"
        found.append(Finding("exif-rotation", f"EXIF orientation {orientation}: the {rotated} decoder ({getattr(train if rotated == 'train' else deploy, 'decode')}) rotates the image, the other does not"))
    aa = {side: _property("resize", stack.resize, "antialias") for side, stack in (("train", train), ("deploy", deploy))}
    if original_size and None not in aa.values() and aa["train"] != aa["deploy"]:
        shrink = min(original_size) / resize_size
        if shrink >= SHRINK_FOR_ANTIALIAS:
            without = "deploy" if not aa["deploy"] else "train"
            found.append(Finding("antialias", f"shrinking {shrink:.1f}x: the {without} resize ({(deploy if without == 'deploy' else train).resize}) "
                                              "does not antialias, the other does"))
    coordinates = {side: _property("resize", stack.resize, "coordinates") for side, stack in (("train", train), ("deploy", deploy))}
    if None not in coordinates.values() and coordinates["train"] != coordinates["deploy"]:
        found.append(Finding("coordinates", f"resize pixel coordinates differ: train {coordinates['train']}, deploy {coordinates['deploy']}"))
    if "colour" in train_stages and "colour" in deploy_stages and train_stages["colour"].shape == deploy_stages["colour"].shape:
        a, b = train_stages["colour"], deploy_stages["colour"]
        direct, swapped = _mean_abs(a, b), _mean_abs(a, b[..., ::-1])
        if direct > 1 and swapped < 0.25 * direct:
            found.append(Finding("channel-swap", f"the images differ by {direct:.1f} grey levels on average but by {swapped:.2f} with "
                                                 "the deploy channels reversed: RGB and BGR are swapped"))
        elif direct > 0 and train.colour != deploy.colour:
            (ya, ca), (yb, cb) = _luma_chroma(a), _luma_chroma(b)
            luma, chroma = _mean_abs(ya, yb), _mean_abs(ca, cb)
            if chroma > 2 * luma:
                found.append(Finding("chroma-subsampling", f"the colour stage changes chroma ({chroma:.2f} on average) much more than "
                                                           f"luma ({luma:.2f}): a chroma-subsampling round trip"))
    fast = [stack.decode for stack in (train, deploy) if _property("decode", stack.decode, "fast_idct")]
    if fast and "decode" in train_stages and "decode" in deploy_stages and train_stages["decode"].shape == deploy_stages["decode"].shape:
        if _mean_abs(train_stages["decode"], deploy_stages["decode"]) > 0:
            found.append(Finding("fast-idct", f"{fast[0]} decodes with the fast integer IDCT and fast chroma upsampling; the decoded "
                                              "pixels differ from the accurate decoder's"))
    return found
