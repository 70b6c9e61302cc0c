"""Where preprocessing runs: a thread pool in this process, or worker processes.

Threads share the process and cost nothing to start; Pillow, OpenCV, libvips and numpy release the
GIL for most of their work. Worker processes never wait for the GIL, but start up (each imports the
adapter libraries) and send every model input back through a pipe. ``benchmarks/bench_pool.py``
measures both on a machine; threads are the default.

A worker process finds each stage implementation by importing the module that registered it, so an
adapter registered in ``__main__`` or a notebook can only run in threads.
"""

from __future__ import annotations

import importlib
import multiprocessing
import signal
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from parity import registry
from parity.errors import ParityError
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


def _start_worker(modules: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops after the batch
    for module in modules:
        importlib.import_module(module)


def open_pool(kind: str, workers: int, stacks: list[Stack], stages: tuple[str, ...]) -> Executor:
    """A pool of ``workers`` threads or processes ready to run the ``stages`` of ``stacks``."""
    if kind == "threads":
        return ThreadPoolExecutor(max_workers=workers)
    if kind != "processes":
        raise ParityError(f"--pool must be one of {', '.join(POOLS)}, not {kind!r}")
    modules = adapter_modules(stacks, stages)
    # forkserver: workers fork from a clean server, never from this process's runtime threads
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker, initargs=(modules,))
