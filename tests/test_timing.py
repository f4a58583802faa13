"""utils.timing: the best of several wall times."""

from __future__ import annotations

import time

import pytest

from utils.timing import best_time


def test_best_time_calls_repeatedly_and_keeps_the_shortest() -> None:
    calls = []
    delays = iter([0.03, 0.0, 0.02])

    def work() -> None:
        calls.append(1)
        time.sleep(next(delays))

    seconds = best_time(work, repeats=3)
    assert len(calls) == 3
    assert 0.0 <= seconds < 0.015


def test_best_time_needs_a_call() -> None:
    with pytest.raises(ValueError):
        best_time(lambda: None, repeats=0)
