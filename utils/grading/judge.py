"""Judging in the grader's own process: a graded cell's records, read from outside the sandbox, against its plan.

The kernel only probes and records (``utils.grading.kernel``). Here every exercise check's judge runs on the
observations with the options the grader drew for this run (fresh seeds), computing its references itself, and
every value check is replayed with the thresholds and messages the grader evaluated from the solution with its
own ``cfg``; only the measured values come from the kernel. A graded cell earns its points when its code ran
without an error, every planned check reported, in order, and every judge passed.
"""

from __future__ import annotations

import io
import threading
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.grading.assemble import Call, CellPlan
from utils.grading.text import error_line, one_line

# Judges share the process's random state and stdout: one at a time (grading threads mostly wait on kernels).
_LOCK = threading.Lock()


@dataclass
class Verdict:
    """How one graded cell was judged: points, the reason for a zero, and the lines shown under the cell."""

    points: float
    reason: str = ""
    lines: list[str] = field(default_factory=list)


def read_records(stem: Path) -> tuple[list[Any] | None, str]:
    """Return (records, "") from a graded cell's record files, or (None, why they cannot be used)."""
    from utils.grading import codec

    if not stem.with_name(stem.name + ".json").exists():
        return None, "its checks did not report (the grader's records of this cell are missing)"
    try:
        records = codec.read(stem)
    except codec.CodecError as exc:
        return None, f"its records could not be read ({one_line(str(exc), 160)})"
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        return None, "its records are not a list of checks"
    return records, ""


def _exercise(call: Call, record: dict) -> str:
    """Judge one exercise check's observations; return its pass sentence or raise CheckFailure."""
    from utils.exercises.framework import REGISTRY, preserved_random_state

    with preserved_random_state():
        return REGISTRY[call.name].decide(record.get("observed"), dict(call.options))


def _value(call: Call, record: dict) -> str:
    """Replay one value check with the grader's static arguments; return what it printed or raise CheckFailure."""
    from utils import checks

    args, kwargs = record.get("args"), record.get("kwargs")
    if not isinstance(args, list) or not isinstance(kwargs, dict) or (
            (len(args), tuple(sorted(kwargs))) != call.arity):
        raise checks.CheckFailure(f"`{call.text[:80]}` was not called as the lab calls it.")
    for key, value in call.static.items():  # names, messages and thresholds are the grader's, never the kernel's
        if key.isdigit():
            args[int(key)] = value
        else:
            kwargs[key] = value
    printed = io.StringIO()
    with redirect_stdout(printed):
        getattr(checks, call.name).judge(*args, **kwargs)
    return " ".join(line for line in printed.getvalue().splitlines() if line.startswith(checks.TICK))


def judge_cell(plan: CellPlan, points: float, records: list[Any]) -> Verdict:
    """Judge a graded cell whose code ran cleanly: every planned check must have reported and passed."""
    from utils.checks import TICK, CheckFailure

    lines: list[str] = []
    with _LOCK:
        for index, call in enumerate(plan.calls):
            record = records[index] if index < len(records) else None
            kind_name = (call.kind, call.name)
            if record is None or (record.get("kind"), record.get("check" if call.kind == "exercise" else
                                                               "function")) != kind_name:
                why = (f"only {index} of its {len(plan.calls)} checks reported" if record is None
                       else f"its check {index + 1} reported as another check")
                return Verdict(0.0, f"not verified: {why}", lines)
            try:
                message = _exercise(call, record) if call.kind == "exercise" else _value(call, record)
            except CheckFailure as failure:
                reason = error_line({"ename": type(failure).__name__, "evalue": str(failure)})
                lines.append(f"\u2717 {reason}")
                return Verdict(0.0, reason, lines)
            except Exception as exc:  # noqa: BLE001 - strange records: one sentence, never a traceback
                reason = f"the check could not judge what was recorded ({type(exc).__name__}: {one_line(str(exc), 120)})"
                lines.append(f"\u2717 {reason}")
                return Verdict(0.0, reason, lines)
            if message:
                lines.append(message if message.startswith(TICK) else f"{TICK} {message}")
        if len(records) > len(plan.calls):
            return Verdict(0.0, f"not verified: {len(records)} checks reported, {len(plan.calls)} were planned", lines)
    return Verdict(points, "", lines)
