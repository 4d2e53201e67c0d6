"""The machine's second core, for the few passes of a run large enough to split in two.

A run is one process and mostly one thread; the compiled passes release the GIL, so a
pass over ``[0, n)`` whose iterations are independent (each writes only its own
outputs) can run as two halves at once, the second on a helper thread. Each element is
computed by the same code either way, so the results are the same bits; only a large
pass is split (a hand-off to the thread costs some tens of microseconds).

A process that is one of several workers on a machine (a sweep's local pool: one worker
per core) switches the helpers off with :func:`use_helpers`: there the cores are taken,
and a half would only wait for one.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_state = {"on": True}


def use_helpers(on: bool) -> None:
    """Let this process's runs split large passes over two threads, or not."""
    _state["on"] = bool(on)


def helpers_on() -> bool:
    return _state["on"]


class Halves:
    """Runs ``kernel(*args, lo, hi)`` over ``[0, n)``: in two halves at once when ``n``
    is at least ``split_from`` (the second half on this object's helper thread, started
    on first use), else in one call."""

    def __init__(self, split_from: int):
        self.split_from = split_from
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self, kernel: Callable[..., Any], n: int, *args: Any) -> None:
        if n < self.split_from or not _state["on"]:
            kernel(*args, 0, n)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="collectsim-half")
        h = n // 2
        second = self._pool.submit(kernel, *args, h, n)
        try:
            kernel(*args, 0, h)
        finally:
            second.result()

    def __getstate__(self) -> dict:  # a thread does not travel; the copy starts its own
        return {"split_from": self.split_from, "_pool": None}
