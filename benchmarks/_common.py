"""What the benchmarks share: the default photos and the --model, --data and --limit arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-500"


def arguments(doc: str, limit: str | None = "only the first N images") -> argparse.ArgumentParser:
    """A parser described by the first line of ``doc``, with --model, --data and (unless ``limit`` is None) --limit."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--model", type=Path, help="ONNX model with a parity recipe in its metadata [default: the demo model]")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    if limit:
        parser.add_argument("--limit", type=int, default=None, help=limit)
    return parser


def parse(parser: argparse.ArgumentParser) -> tuple[argparse.Namespace, Path]:
    """The parsed arguments (a missing --data folder is a usage error) and the model: --model, or the demo model."""
    from parity.demo import demo_model

    args = parser.parse_args()
    if not args.data.is_dir():
        parser.error(f"{args.data}: no such folder; pass --data DIR with JPEG or PNG photos")
    return args, args.model or demo_model()


def build_converted_models(model: Path, data: Path, limit: int | None) -> None:
    """Build the precision presets' converted models (static int8 calibrates on the first images of
    ``data`` under ``limit``) into the cache before any timing, so the timed runs find them there."""
    from parity import api, sweep

    api.check(model, list(sweep.available_presets()[0].get("precision", ())), data, limit=limit, cache=False)
