"""Where preprocessing runs: a thread pool in this process, or worker processes.

Threads share the process and cost nothing to start; Pillow, OpenCV, libvips and numpy release the
GIL for most of their work. Worker processes never wait for the GIL, but start up (each imports the
adapter libraries) and send every model input back through a pipe. ``benchmarks/bench_pool.py``
measures both on a machine; threads are the default.

A worker process finds each stage implementation by importing the module that registered it, so an
adapter registered in ``__main__`` or a notebook can only run in threads. A worker process that dies
(killed, or a library crashing on one file) costs nothing but the item that killed it: the pool is
reopened and the items it was working on are run again one at a time, to find that item.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, TypeVar

from parity import registry
from parity.errors import ParityError
from parity.signals import sigint_blocked
from parity.spec import Stack

POOLS = ("threads", "processes")


def adapter_modules(stacks: list[Stack], stages: tuple[str, ...]) -> list[str]:
    """The modules that register the ``stages`` of ``stacks``, each importable by a fresh process."""
    modules: dict[str, None] = {}
    for stack in stacks:
        for stage in stages:
            name = getattr(stack, stage)
            module = registry.get(stage, name).function.__module__
            if module == "__main__" or module.startswith("__"):
                raise ParityError(f"--pool processes: {stage} {name!r} is registered in {module}, which a worker "
                                  "process cannot import; use --pool threads")
            modules[module] = None
    return list(modules)


def _ready() -> None:
    """A task that does nothing: run once so the worker processes exist."""


def _start_worker(modules: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops after the batch
    for module in modules:
        importlib.import_module(module)


def _executor(kind: str, workers: int, modules: list[str]) -> Executor:
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=workers)
    # forkserver: workers fork from a clean server, never from this process's runtime threads
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with sigint_blocked():
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                       initializer=_start_worker, initargs=(modules,))
        try:
            for future in [executor.submit(_ready) for _ in range(workers)]:
                future.result()
        except BrokenProcessPool as exc:
            raise ParityError(f"--pool processes: the worker processes could not start ({exc})") from None
    return executor


Result = TypeVar("Result")


class Pool:
    """``workers`` threads or worker processes ready to run the ``stages`` of ``stacks``."""

    def __init__(self, kind: str, workers: int, stacks: list[Stack], stages: tuple[str, ...]) -> None:
        if kind not in POOLS:
            raise ParityError(f"--pool must be one of {', '.join(POOLS)}, not {kind!r}")
        self.kind, self.workers = kind, workers
        self.modules = adapter_modules(stacks, stages) if kind == "processes" else []
        self.executor = _executor(kind, workers, self.modules)

    def submit(self, function: Callable[..., Result], items: list[Any], *args: Any) -> list[Future]:
        """``function(item, *args)`` for each item, started in the pool."""
        return [self._submit(function, item, *args) for item in items]

    def _submit(self, function: Callable[..., Result], item: Any, *args: Any) -> Future:
        try:
            return self.executor.submit(function, item, *args)
        except BrokenProcessPool:  # a worker died earlier: a fresh pool
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = _executor(self.kind, self.workers, self.modules)
            return self.executor.submit(function, item, *args)

    def results(self, futures: list[Future], function: Callable[..., Result], items: list[Any], *args: Any,
                lost: Callable[[Any], Result]) -> list[Result]:
        """The results of :meth:`submit`'s futures, in order. If a worker process died, the pool is reopened
        and the items whose futures it broke run again one at a time; ``lost(item)`` stands for an item
        that kills a worker again."""
        results: list[Any] = []
        broken = []
        for index, future in enumerate(futures):
            try:
                results.append(future.result())
            except BrokenProcessPool:
                results.append(None)
                broken.append(index)
        for index in broken:
            try:
                results[index] = self._submit(function, items[index], *args).result()
            except BrokenProcessPool:
                results[index] = lost(items[index])
        return results

    def cancel(self, futures: list[Future]) -> None:
        for future in futures:
            future.cancel()

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
