"""The grader's code inside a student's kernel: switch the checks to recording, then write what they saw.

This is the only grading code that runs in the student's (sandboxed) kernel, and it decides nothing. Before a
graded cell, :func:`begin` makes every exercise check run only its probe and every value check only note its
arguments; after the cell, :func:`end` writes those records as plain data (JSON and NumPy arrays, no pickle) to
the file the grader named. The grader reads them from outside the sandbox and judges them in its own process,
against references it computes itself on the inputs it drew for this run. A student who rewrites this module's
behaviour in memory can at most hand the grader other observations, which are judged like any answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_records: list[dict[str, Any]] = []
_stem: Path | None = None


def _record(entry: dict[str, Any]) -> None:
    """Keep one check's record as plain data (values captured now, before later cells can change them)."""
    from utils.exercises.framework import plain

    if entry.get("kind") == "value":  # an exercise probe's observations are plain data already
        entry = {**entry, "args": [plain(a) for a in entry["args"]],
                 "kwargs": {str(k): plain(v) for k, v in entry["kwargs"].items()}}
    _records.append(entry)


def begin(stem: str) -> None:
    """Start recording the checks of one graded cell; :func:`end` writes them to ``stem``.json/.npz."""
    global _stem
    from utils import checks
    from utils.exercises import framework

    _records.clear()
    _stem = Path(stem)
    framework.set_recorder(_record)
    checks.set_recorder(_record)


def note(**values: Any) -> None:
    """Record notebook variables as plain data, so that the grader can recompute a measured value from them."""
    from utils.exercises.framework import plain

    _records.append({"kind": "names", "values": {name: plain(value) for name, value in values.items()}})


def end() -> None:
    """Stop recording and write the records of the graded cell (nothing to judge is decided here)."""
    from utils import checks
    from utils.exercises import framework
    from utils.grading import codec

    framework.set_recorder(None)
    checks.set_recorder(None)
    if _stem is not None:
        codec.write(_stem, list(_records))
    _records.clear()
