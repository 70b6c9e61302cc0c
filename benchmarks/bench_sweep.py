"""Time `parity sweep` against the same candidates run as separate `parity check` calls, in one run.

Prints wall and CPU time (all threads of this process) and the inferences each side ran: every
candidate needs its own inference, each separate check also runs the reference's, so where inference
dominates, the inference ratio is the floor of the time ratio.

    python benchmarks/bench_sweep.py                    # demo model, ../shared/data/imagenet-sample-500
    python benchmarks/bench_sweep.py --limit 100 --data DIR --model m.onnx
    python benchmarks/bench_sweep.py --limit 100 --photo-scale 4   # the photos re-encoded 4x larger
    python benchmarks/bench_sweep.py --limit 100 --as-commands     # `parity sweep` vs `parity check` commands

Converted models (fp16, int8; static int8 is calibrated on the first images of the data) are built
before the timings, so both sides find them cached. `--photo-scale` re-encodes the photos that much
larger (Pillow Lanczos, JPEG quality 90) in a temporary folder, to see how the ratio moves when
decoding weighs more against inference, as with camera-size photos. `--as-commands` times the
commands a user types instead of in-process API calls: one `parity sweep` process against one `parity
check` process per candidate, so each check also pays its start-up (imports, model sessions).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import arguments, build_converted_models, parse
from PIL import Image

from parity import api, sweep


def _enlarged(folder: Path, scale: float, limit: int | None, target: Path) -> Path:
    """The first ``limit`` photos of ``folder`` re-encoded ``scale`` times larger in ``target``."""
    target.mkdir()
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    for photo in photos:
        with Image.open(photo) as image:
            size = (round(image.width * scale), round(image.height * scale))
            image.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(target / f"{photo.stem}.jpg", quality=90)
    return target


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--photo-scale", type=float, default=None, help="re-encode the photos this many times larger first")
    parser.add_argument("--as-commands", action="store_true", help="time `parity sweep` and `parity check` processes")
    args, model = parse(parser)
    with tempfile.TemporaryDirectory(prefix="parity-bench-") as scratch:
        os.environ.setdefault("PARITY_CACHE_DIR", str(Path(scratch) / "cache"))  # converted models, deleted at the end
        if args.photo_scale:
            args.data = _enlarged(args.data, args.photo_scale, args.limit, Path(scratch) / "photos")
        _compare(model, args)


@dataclass(frozen=True)
class Side:
    """One side of the comparison: wall and CPU seconds, and the inferences it ran."""

    wall: float
    cpu: float
    inferences: int


def _in_process(model: Path, args: argparse.Namespace) -> tuple[int, int, bool, Side, Side]:
    """``sweep.sweep`` against one ``api.check`` per candidate, in this process."""
    start, cpu = time.perf_counter(), time.process_time()
    result = sweep.sweep(model, args.data, limit=args.limit, cache=False)
    swept = Side(time.perf_counter() - start, time.process_time() - cpu, result.report.work["inferences"])
    names = [c.stack["name"] for c in result.report.candidates]

    start, cpu = time.perf_counter(), time.process_time()
    reports = {name: api.check(model, [name], args.data, limit=args.limit, cache=False) for name in names}
    apart = Side(time.perf_counter() - start, time.process_time() - cpu, sum(r.work["inferences"] for r in reports.values()))
    same = all(reports[c.stack["name"]].candidates[0].metrics == c.metrics for c in result.report.candidates)
    return result.report.data["images"], len(names), same, swept, apart


def _timed_command(command: list[str]) -> tuple[Side, dict]:
    """Run ``parity COMMAND --json FILE --no-cache --no-progress``: its times (the child's CPU) and its report."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        before, start = os.times(), time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "parity", *command, "--json", out.name, "--no-cache", "--no-progress"],
                              check=False, capture_output=True, text=True)
        wall, after = time.perf_counter() - start, os.times()
        if done.returncode not in (0, 1):
            raise SystemExit(f"parity {' '.join(command)} exited {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
        report = json.loads(Path(out.name).read_text())
    cpu = after.children_user - before.children_user + after.children_system - before.children_system
    return Side(wall, cpu, report["work"]["inferences"]), report


def _as_commands(model: Path, args: argparse.Namespace) -> tuple[int, int, bool, Side, Side]:
    """One ``parity sweep`` process against one ``parity check`` process per candidate."""
    common = ["--data", str(args.data), *(["--limit", str(args.limit)] if args.limit else [])]
    swept, report = _timed_command(["sweep", str(model), *common])
    metrics = {c["stack"]["name"]: c["metrics"] for c in report["candidates"]}
    checks = {name: _timed_command(["check", str(model), "--deploy", name, *common]) for name in metrics}
    apart = Side(*(sum(getattr(side, field) for side, _ in checks.values()) for field in ("wall", "cpu", "inferences")))
    same = all(single["candidates"][0]["metrics"] == metrics[name] for name, (_, single) in checks.items())
    return report["data"]["images"], len(metrics), same, swept, apart


def _compare(model: Path, args: argparse.Namespace) -> None:
    build_converted_models(model, args.data, args.limit)
    images, candidates, same, swept, apart = (_as_commands if args.as_commands else _in_process)(model, args)
    how = "as commands" if args.as_commands else "in one process"
    print(f"images: {images}{f' (x{args.photo_scale} larger)' if args.photo_scale else ''}  candidates: {candidates}  "
          f"same metrics both ways: {same}  ({how})")
    print(f"parity sweep          : {swept.wall:7.1f} s wall, {swept.cpu:7.1f} s CPU, {swept.inferences:6d} inferences")
    print(f"separate parity checks: {apart.wall:7.1f} s wall, {apart.cpu:7.1f} s CPU, {apart.inferences:6d} inferences")
    print(f"sweep / separate      : {swept.wall / apart.wall:.2f} of the wall time, {swept.cpu / apart.cpu:.2f} of the CPU time, "
          f"{swept.inferences / apart.inferences:.2f} of the inferences")


if __name__ == "__main__":
    main()
