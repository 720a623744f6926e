"""Worker processes that die with the process that started them, however it dies (SIGKILL included).

A spawned ``ProcessPoolExecutor`` worker outlives a parent killed with SIGKILL (it is reparented to init and keeps
its memory: about 230 MB for a benchmark worker). :class:`TetheredPool` ties each worker to its parent twice: on
Linux through ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` (immediate, even while the worker holds the GIL), and everywhere
through a lifeline pipe whose write end only the parent holds (a worker thread exits the process at end of file).
The benchmark runner and the world model's CMA-ES candidate pool both use it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class TetheredPool(ProcessPoolExecutor):
    """A ``spawn`` process pool whose workers exit when this process dies. ``initializer(*initargs)`` runs in each
    worker after the tether is in place. ``shutdown(wait=False)`` ends the workers at once (the lifeline closes)."""

    def __init__(self, workers: int, initializer: Callable[..., Any] | None = None, initargs: tuple = ()) -> None:
        context = multiprocessing.get_context("spawn")  # fork after torch/MuJoCo are loaded is unsafe
        self._lifeline, self._keep_alive = context.Pipe(duplex=False)  # workers read; only we hold the write end
        super().__init__(workers, mp_context=context, initializer=_init_tethered,
                         initargs=(os.getpid(), self._lifeline, initializer, initargs))  # fmt: skip

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        # after the workers have exited (wait=True), or to end them now (wait=False): closing the write end does it
        self._lifeline.close()
        self._keep_alive.close()


def _init_tethered(parent: int, lifeline: Any, initializer: Callable[..., Any] | None, initargs: tuple) -> None:
    if sys.platform.startswith("linux"):
        _set_parent_death_signal()
    threading.Thread(target=_exit_when_closed, args=(lifeline,), name="repgym-lifeline", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    if initializer is not None:
        initializer(*initargs)


def _set_parent_death_signal() -> None:
    """Ask Linux to SIGKILL this process when its parent dies."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):  # no prctl here: the lifeline thread still ends the worker
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _exit_when_closed(lifeline: Any) -> None:
    """Block on the lifeline pipe: end of file means the parent is gone."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(1)
