"""Recipes (what the model expects) and stacks (which implementation runs each stage): pure data."""

from __future__ import annotations

import dataclasses
import json
import math
import os
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
MAX_SIZE = 16384


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
        for name in ("resize_size", "crop_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
                raise ParityError(f"recipe: {name} must be a whole number from 1 to {MAX_SIZE}, not {value!r}")
        if not _is_finite_number(self.scale) or self.scale <= 0:
            raise ParityError(f"recipe: scale must be a positive finite number, not {self.scale!r}")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 3 or not all(_is_finite_number(v) for v in value):
                raise ParityError(f"recipe: {name} needs three finite numbers, one per channel, not {value!r}")
        if any(s == 0 for s in self.std):
            raise ParityError("recipe: std must not contain 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (lists for tuples), suitable for JSON, TOML and ONNX metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build a recipe from plain data, rejecting unknown fields."""
        if not isinstance(data, Mapping):
            raise ParityError(f"recipe: expected a table of fields, not {type(data).__name__}")
        unknown = set(data) - RECIPE_FIELDS
        if unknown:
            raise ParityError(f"recipe: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        values = {k: tuple(v) if k in ("mean", "std") and isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


RECIPE_FIELDS = frozenset(f.name for f in dataclasses.fields(Recipe))
RECIPE_METADATA_KEY = "parity.recipe"


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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
    project_recipe: Mapping[str, Any] | None = None,
    model_origin: str = "model metadata",
) -> ResolvedRecipe:
    """Merge recipe fields with precedence: explicit flags > recipe file > ``[tool.parity.recipe]`` in
    pyproject.toml > what the model carries (``model_origin`` names it) > defaults.

    Each layer is validated on its own first, so an error names where the bad value came from.
    """
    merged: dict[str, Any] = {}
    sources = {name: "default" for name in sorted(RECIPE_FIELDS)}
    layers = (
        (model_origin, model_recipe),
        ("pyproject.toml", project_recipe),
        ("recipe file", file_recipe),
        ("flag", overrides),
    )
    for origin, layer in layers:
        if layer is None:
            continue
        if not isinstance(layer, Mapping):
            raise ParityError(f"{origin}: recipe: expected a table of fields, not {type(layer).__name__}")
        given = {k: v for k, v in layer.items() if v is not None}
        try:
            Recipe.from_dict(given)
        except ParityError as exc:
            raise ParityError(f"{origin}: {exc}") from None
        merged.update(given)
        sources.update(dict.fromkeys(given, origin))
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
        lines = [f"name = {_toml_string(self.name)}", "", "[stages]"]
        lines += [f"{stage} = {_toml_string(impl)}" for stage, impl in self.stages()]
        return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, but characters beyond U+FFFF stay literal
    (TOML has no surrogate pairs) and DEL, a control character to TOML, is escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


@dataclass(frozen=True)
class Preset:
    """A named, partial stack: the stages it sets, over the reference defaults."""

    name: str
    description: str
    stages: dict[str, str] = field(default_factory=dict)


_DECODER_LABELS = {"pil": "Pillow", "opencv": "OpenCV", "vips": "libvips"}


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
        *_resize_presets(
            "vips",
            {
                "nearest": "libvips nearest",
                "linear": "libvips linear (antialiased when shrinking)",
                "cubic": "libvips cubic (antialiased when shrinking)",
                "mitchell": "libvips Mitchell (antialiased when shrinking)",
                "lanczos2": "libvips lanczos2 (antialiased when shrinking)",
                "lanczos3": "libvips lanczos3, its default (antialiased when shrinking)",
                "mks2013": "libvips Magic Kernel Sharp 2013",
                "mks2021": "libvips Magic Kernel Sharp 2021",
            },
            "vips",
        ),
        Preset("opencv-decode", "OpenCV decode only (stacks with a resize preset: pil-bilinear+opencv-decode)", {"decode": "opencv"}),
        Preset("pil-decode", "Pillow decode only", {"decode": "pil"}),
        Preset("opencv-noexif", "OpenCV decode with IMREAD_IGNORE_ORIENTATION", {"decode": "opencv:noexif"}),
        Preset("ffmpeg", "FFmpeg decode through PyAV, swscale bicubic to RGB as the ffmpeg command line (needs av)", {"decode": "ffmpeg"}),
        Preset("ffmpeg-bilinear", "FFmpeg decode through PyAV, swscale bilinear to RGB, PyAV's default (needs av)", {"decode": "ffmpeg:bilinear"}),
        Preset("vips", "libvips decode through pyvips (needs pyvips)", {"decode": "vips"}),
        Preset("turbo", "libjpeg-turbo decode through simplejpeg, accurate IDCT (JPEG only; needs simplejpeg)", {"decode": "simplejpeg"}),
        Preset("turbo-fast", "libjpeg-turbo fast IDCT + fast upsampling through simplejpeg (JPEG only; needs simplejpeg)", {"decode": "simplejpeg:fast"}),
        Preset("bgr-swap", "colour: channels reversed (a missed BGR-to-RGB conversion)", {"colour": "swap:bgr"}),
        Preset("nv12-bt601", "colour: YUV NV12 round trip, BT.601 limited range (numpy)", {"colour": "yuv:nv12-bt601-limited"}),
        Preset("nv12-bt709", "colour: YUV NV12 round trip, BT.709 limited range (numpy)", {"colour": "yuv:nv12-bt709-limited"}),
        Preset("yuv444-bt601", "colour: YUV 4:4:4 round trip, BT.601 limited range (numpy)", {"colour": "yuv:444-bt601-limited"}),
        Preset("opencv-i420", "colour: OpenCV's RGB to I420 and back", {"colour": "opencv:i420"}),
        *[
            Preset(f"torch-{short}", f"Pillow decode, torch interpolate {short} resize (needs torch)", {"resize": f"torch:{short}"})
            for short in ("bilinear", "bilinear-ac", "bilinear-aa", "bilinear-aa-uint8", "bicubic", "bicubic-aa", "nearest")
        ],
        *[
            Preset(f"onnx-{short}", f"Pillow decode, the ONNX Resize operator ({short}) in ONNX Runtime", {"resize": f"onnx:{short}"})
            for short in (
                "linear-half_pixel", "linear-pytorch_half_pixel", "linear-asymmetric", "linear-align_corners",
                "linear-half_pixel-aa", "cubic-half_pixel", "nearest-asymmetric",
            )
        ],
        Preset("fp16", "runtime: the ONNX model converted to float16 (inputs and outputs float32)", {"runtime": "onnxruntime:fp16"}),
        Preset("int8-dynamic", "runtime: the ONNX model with int8 weights, dynamic per-tensor quantization", {"runtime": "onnxruntime:int8-dynamic"}),
        Preset("int8-static", "runtime: static int8 (QDQ), per-channel weights, calibrated on the first 100 images", {"runtime": "onnxruntime:int8-static"}),
        Preset("int8-static-tensor", "runtime: static int8 (QDQ), per-tensor weights, calibrated on the first 100 images", {"runtime": "onnxruntime:int8-static-tensor"}),
        Preset(
            "embedded", "the model with resize, crop and normalize inside its graph (parity embed); decode here",
            {"resize": "none", "crop": "none", "normalize": "none", "runtime": "onnxruntime:embedded"},
        ),
        Preset("ceil-mode", "graph: every MaxPool's ceil_mode flipped (models with MaxPool only)", {"runtime": "onnxruntime:ceil-mode"}),
        Preset("upsample-mode", "graph: every Resize/Upsample switched nearest <-> linear (models with them only)", {"runtime": "onnxruntime:upsample-mode"}),
        *[
            Preset(f"ort-{short}", f"runtime: ONNX Runtime's {label} execution provider (where this onnxruntime has it)", {"runtime": f"onnxruntime:{short}"})
            for short, label in (
                ("cuda", "CUDA"), ("tensorrt", "TensorRT"), ("rocm", "ROCm"), ("migraphx", "MIGraphX"), ("openvino", "OpenVINO"),
                ("dml", "DirectML"), ("coreml", "CoreML"), ("qnn", "QNN"), ("xnnpack", "XNNPACK"),
            )
        ],
    ]
}

REFERENCE_PRESET = "pil-bilinear"


def resolve_stack(spec: str, relative_to: Path | None = None, _seen: frozenset[Path] = frozenset()) -> Stack:
    """Resolve a preset name, a ``+``-composition of presets, or a TOML file path to a full stack.

    Composition applies left to right over the reference defaults, so ``opencv-bilinear+pil-decode``
    decodes with Pillow and resizes with OpenCV. Preset names win over files of the same name; a
    spec ending in ``.toml`` or containing a path separator is a file, relative to ``relative_to``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ParityError(f"a stack must be a preset name or a .toml path, not {spec!r}")
    spec = spec.strip()
    if "\x00" in spec:
        raise ParityError(f"a stack must be a preset name or a .toml path, not {spec!r}")
    if spec.endswith(".toml") or "/" in spec or os.sep in spec:
        return load_stack_file((relative_to or Path()) / spec, _seen)
    values: dict[str, str] = {}
    for part in spec.split("+"):
        preset = PRESETS.get(part.strip())
        if preset is None:
            known = ", ".join(sorted(PRESETS))
            raise ParityError(f"unknown stack {part.strip()!r} (known: {known}; or a path to a .toml file)")
        values.update(preset.stages)
    return Stack(name=spec, **values)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or unreadable file is a one-line :class:`ParityError` naming ``what``."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParityError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ParityError(f"{path}: not a readable TOML {what} ({exc})") from None


def load_stack_file(path: Path, _seen: frozenset[Path] = frozenset()) -> Stack:
    """Read a stack from TOML: ``name``, optional ``extends`` (a preset composition or another file,
    relative to this one), ``[stages]`` mapping stage names to implementation names."""
    if path.resolve() in _seen:
        raise ParityError(f"{path}: 'extends' loops back to a file already being read")
    data = read_toml(path, "stack file")
    expected = f"expected name, extends and a [stages] table with {', '.join(STAGES)}"
    unknown = set(data) - {"name", "extends", "stages"}
    stages = data.get("stages", {})
    if unknown or not isinstance(stages, dict):
        raise ParityError(f"{path}: unknown key(s) {', '.join(sorted(unknown)) or 'stages'}; {expected}")
    unknown_stages = set(stages) - set(STAGES)
    if unknown_stages:
        raise ParityError(f"{path}: unknown stage(s) {', '.join(sorted(unknown_stages))}; {expected}")
    for key, value in [*stages.items(), *((k, data[k]) for k in ("name", "extends") if k in data)]:
        if not isinstance(value, str) or not value:
            raise ParityError(f"{path}: {key} must be a non-empty string, not {value!r}")
    seen = _seen | {path.resolve()}
    base = resolve_stack(data["extends"], path.parent, seen) if "extends" in data else Stack(name="")
    return Stack(**{**base.to_dict(), **stages, "name": data.get("name", path.stem)})
