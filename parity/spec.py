"""Recipes (what the model expects) and stacks (which implementation runs each stage): pure data."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from parity.errors import ParityError

STAGES: tuple[str, ...] = ("decode", "colour", "resize", "crop", "normalize", "runtime")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

RESIZE_POLICIES = ("shorter", "exact")
CHANNEL_ORDERS = ("RGB", "BGR")
LAYOUTS = ("NCHW", "NHWC")
DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class Recipe:
    """What the model expects as input.

    The tensor is ``(pixel * scale - mean) / std`` per channel, computed in float32 after the
    resize and the centre crop. ``resize_policy="shorter"`` scales the shorter side to
    ``resize_size`` (torchvision ``Resize(int)``); ``"exact"`` resizes to a square.
    """

    resize_size: int = 256
    resize_policy: str = "shorter"
    crop_size: int = 224
    scale: float = 1 / 255
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    channel_order: str = "RGB"
    layout: str = "NCHW"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _check_choice("resize_policy", self.resize_policy, RESIZE_POLICIES)
        _check_choice("channel_order", self.channel_order, CHANNEL_ORDERS)
        _check_choice("layout", self.layout, LAYOUTS)
        _check_choice("dtype", self.dtype, DTYPES)
        if self.resize_size < 1 or self.crop_size < 1:
            raise ParityError("recipe: resize_size and crop_size must be positive")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ParityError("recipe: mean and std need three values, one per channel")
        if any(s == 0 for s in self.std):
            raise ParityError("recipe: std must not contain 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (lists for tuples), suitable for JSON, TOML and ONNX metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build a recipe from plain data, rejecting unknown fields."""
        unknown = set(data) - RECIPE_FIELDS
        if unknown:
            raise ParityError(f"recipe: unknown field(s) {', '.join(sorted(unknown))}")
        values = {k: tuple(float(x) for x in v) if k in ("mean", "std") else v for k, v in data.items()}
        try:
            return cls(**values)
        except TypeError as exc:
            raise ParityError(f"recipe: {exc}") from None


RECIPE_FIELDS = frozenset(f.name for f in dataclasses.fields(Recipe))
RECIPE_METADATA_KEY = "parity.recipe"


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ParityError(f"recipe: {name} must be one of {', '.join(choices)}, not {value!r}")


@dataclass(frozen=True)
class ResolvedRecipe:
    """A recipe together with where each field came from (flag, model metadata or default)."""

    recipe: Recipe
    sources: dict[str, str]


def resolve_recipe(
    overrides: Mapping[str, Any] | None = None,
    model_recipe: Mapping[str, Any] | None = None,
    file_recipe: Mapping[str, Any] | None = None,
) -> ResolvedRecipe:
    """Merge recipe fields with precedence: explicit flags > recipe file > model metadata > defaults."""
    merged: dict[str, Any] = {}
    sources = {name: "default" for name in sorted(RECIPE_FIELDS)}
    for origin, layer in (("model metadata", model_recipe), ("recipe file", file_recipe), ("flag", overrides)):
        for key, value in (layer or {}).items():
            if value is None:
                continue
            merged[key] = value
            sources[key] = origin
    return ResolvedRecipe(Recipe.from_dict(merged), sources)


@dataclass(frozen=True)
class Stack:
    """Which implementation runs each stage. Implementation names are registry keys."""

    name: str
    decode: str = "pil"
    colour: str = "none"
    resize: str = "pil:bilinear"
    crop: str = "center"
    normalize: str = "numpy"
    runtime: str = "onnxruntime"

    def stages(self) -> tuple[tuple[str, str], ...]:
        """(stage, implementation) pairs in data-flow order."""
        return tuple((stage, getattr(self, stage)) for stage in STAGES)

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """TOML text that :func:`load_stack_file` reads back to an equal stack."""
        lines = [f"name = {json.dumps(self.name)}", "", "[stages]"]
        lines += [f"{stage} = {json.dumps(impl)}" for stage, impl in self.stages()]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Preset:
    """A named, partial stack: the stages it sets, over the reference defaults."""

    name: str
    description: str
    stages: dict[str, str] = field(default_factory=dict)


_DECODER_LABELS = {"pil": "Pillow", "opencv": "OpenCV"}


def _resize_presets(library: str, methods: dict[str, str], decode: str) -> list[Preset]:
    return [
        Preset(f"{library}-{short}", f"{_DECODER_LABELS[decode]} decode, {label} resize", {"decode": decode, "resize": f"{library}:{short}"})
        for short, label in methods.items()
    ]

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        *_resize_presets(
            "pil",
            {
                "bilinear": "Pillow BILINEAR (antialiased when shrinking)",
                "nearest": "Pillow NEAREST",
                "box": "Pillow BOX",
                "hamming": "Pillow HAMMING",
                "bicubic": "Pillow BICUBIC (antialiased when shrinking)",
                "lanczos": "Pillow LANCZOS (antialiased when shrinking)",
            },
            "pil",
        ),
        *_resize_presets(
            "opencv",
            {
                "bilinear": "cv2.INTER_LINEAR (no antialiasing)",
                "nearest": "cv2.INTER_NEAREST",
                "area": "cv2.INTER_AREA",
                "cubic": "cv2.INTER_CUBIC (no antialiasing)",
                "lanczos": "cv2.INTER_LANCZOS4",
            },
            "opencv",
        ),
        Preset("opencv-decode", "OpenCV decode only (stacks with a resize preset: pil-bilinear+opencv-decode)", {"decode": "opencv"}),
        Preset("pil-decode", "Pillow decode only", {"decode": "pil"}),
    ]
}

REFERENCE_PRESET = "pil-bilinear"


def resolve_stack(spec: str) -> Stack:
    """Resolve a preset name, a ``+``-composition of presets, or a TOML file path to a full stack.

    Composition applies left to right over the reference defaults, so ``opencv-bilinear+pil-decode``
    decodes with Pillow and resizes with OpenCV.
    """
    spec = spec.strip()
    if spec.endswith(".toml") or Path(spec).is_file():
        return load_stack_file(Path(spec))
    values: dict[str, str] = {}
    for part in spec.split("+"):
        preset = PRESETS.get(part.strip())
        if preset is None:
            known = ", ".join(sorted(PRESETS))
            raise ParityError(f"unknown stack {part.strip()!r} (known: {known}; or a path to a .toml file)")
        values.update(preset.stages)
    return Stack(name=spec, **values)


def load_stack_file(path: Path) -> Stack:
    """Read a stack from TOML: ``name``, optional ``extends`` (a preset composition), ``[stages]``."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParityError(f"{path}: stack file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ParityError(f"{path}: not a readable TOML stack ({exc})") from None
    unknown = set(data) - {"name", "extends", "stages"}
    stages = data.get("stages", {})
    unknown_stages = set(stages) - set(STAGES)
    if unknown or unknown_stages or not isinstance(stages, dict):
        bad = ", ".join(sorted(unknown | unknown_stages)) or "stages"
        raise ParityError(f"{path}: unknown key(s) {bad}; expected name, extends, [stages] with {', '.join(STAGES)}")
    base = resolve_stack(data["extends"]) if "extends" in data else Stack(name="")
    values = {**base.to_dict(), **stages, "name": str(data.get("name", path.stem))}
    return Stack(**values)
