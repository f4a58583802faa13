"""Wall-clock timing for comparisons inside a notebook (Lab 2 times loops against im2col)."""

from __future__ import annotations

import time
from typing import Any, Callable


def best_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Return the shortest wall time of ``repeats`` calls of ``fn()``, in seconds (a busy machine disturbs it least)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
