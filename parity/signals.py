"""Keep Ctrl-C away from the child processes parity starts, so it reaches only parity.

A terminal sends SIGINT to the whole process group. parity stops the run after the batch in flight,
writes the reports of the finished images and shuts its children down; children that received the
signal too would die mid-task and print tracebacks. Outside the main thread nothing is done.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread while the block starts child processes from it: they inherit the
    block (across fork and exec). A Ctrl-C during the block is delivered here when it ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT process-wide while the block starts child processes from any thread (as a Dask
    ``LocalCluster`` does from its event loop): they inherit the ignoring. A Ctrl-C during the block is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
