"""The Dask engine: images sharded into tasks on a Dask cluster (an existing one at a scheduler address,
or a ``LocalCluster`` of worker processes), each worker holding its own ONNX Runtime sessions, the
shards' outcomes gathered in image order into the same result the local engine returns.

Each shard runs the local engine (shared preprocessing, batching, identical-input reuse, the output
cache) on its images, so a Dask run computes exactly what a local run computes. Workers need parity
installed and the model files and images at the same paths (a shared filesystem, or one machine).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dask.distributed import Client, LocalCluster, as_completed

from parity.data import Dataset, ImageItem
from parity.engine import CacheBinding, EngineResult, evaluate
from parity.environment import available_cores
from parity.errors import ParityError
from parity.output_cache import OutputCache
from parity.signals import sigint_ignored
from parity.spec import Recipe, Stack

_SESSIONS: dict[tuple[str, tuple[str, ...]], Any] = {}  # per worker process: (model file, providers) -> runner


def _runner(model_file: str, providers: tuple[str, ...]) -> Any:
    from parity_adapters.onnxruntime import OnnxRunner

    key = (model_file, providers)
    if key not in _SESSIONS:
        _SESSIONS[key] = OnnxRunner(Path(model_file), providers=list(providers), threads=1)
    return _SESSIONS[key]


def _shard(
    items: list[ImageItem], reference: Stack, candidates: list[Stack], recipe: Recipe,
    model_files: dict[str, tuple[str, tuple[str, ...]]], batch_size: int, max_image_pixels: int,
    cache_root: str | None, cache_keys: list[str] | None,
) -> EngineResult:
    runners = {runtime: _runner(path, providers) for runtime, (path, providers) in model_files.items()}
    binding = CacheBinding(OutputCache(Path(cache_root)), cache_keys) if cache_root and cache_keys else None
    return evaluate(runners, Dataset("shard", items), reference, candidates, recipe, batch_size, workers=1,
                    cache=binding, max_image_pixels=max_image_pixels)


@contextmanager
def _client(scheduler: str | None) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a local cluster closed after the client, so the
    cluster does not see its workers' finished results dropped while a client still holds them."""
    if scheduler:
        try:
            client = Client(scheduler)
        except (OSError, ValueError, TypeError) as exc:  # unreachable, timed out, or not an address
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ParityError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler ({reason})") from None
        with client:
            yield client
        return
    with sigint_ignored():  # Ctrl-C is this process's to handle; the workers are closed after
        cluster = LocalCluster(n_workers=available_cores(), threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL)  # workers' heartbeat errors as the cluster closes
    with cluster, Client(cluster) as client:
        yield client


def evaluate_on_dask(
    scheduler: str | None, runners: dict[str, Any], dataset: Dataset, reference: Stack, candidates: list[Stack],
    recipe: Recipe, batch_size: int, shard_size: int, max_image_pixels: int, cache: CacheBinding | None,
    on_progress: Callable[[int], None] | None = None,
) -> EngineResult:
    """Run every stack over ``dataset`` on the cluster, ``shard_size`` images per task. Paths are made
    absolute, since workers may run in other folders. Ctrl-C cancels the shards not yet finished and
    returns the finished ones, marked as interrupted."""
    model_files = {runtime: (str(Path(runner.model_path).absolute()), tuple(runner.providers)) for runtime, runner in runners.items()}
    items = [dataclasses.replace(item, path=item.path.absolute()) for item in dataset.items]
    shards = [items[i : i + shard_size] for i in range(0, len(items), shard_size)]
    cache_root, cache_keys = (str(cache.cache.root.absolute()), cache.keys) if cache else (None, None)
    interrupted = False
    with _client(scheduler) as client:
        futures = [
            client.submit(_shard, shard, reference, candidates, recipe, model_files, batch_size, max_image_pixels,
                          cache_root, cache_keys, pure=False)
            for shard in shards
        ]
        order = {future.key: index for index, future in enumerate(futures)}
        results: list[EngineResult | None] = [None] * len(futures)
        try:
            for future in as_completed(futures):
                results[order[future.key]] = future.result()
                if on_progress:
                    on_progress(len(shards[order[future.key]]))
        except KeyboardInterrupt:
            interrupted = True
            client.cancel([f for f in futures if not f.done()])
    done = [r for r in results if r is not None]
    outcomes = [[o for r in done for o in r.outcomes[c]] for c in range(len(candidates))]
    work = {key: sum(r.work[key] for r in done) for key in done[0].work} if done else {}
    timings = {key: round(sum(r.timings[key] for r in done), 3) for key in done[0].timings} if done else {}
    runtime_info = done[0].runtime_info if done else {}
    return EngineResult(outcomes, {f"workers_{k}": v for k, v in timings.items()}, runtime_info, work, interrupted)
