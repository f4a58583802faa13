"""Judging in the grader's own process: a graded cell's records, read from outside the sandbox, against its plan.

The kernel only probes and records (``utils.grading.kernel``). Here every exercise check's judge runs on the
observations with the options the grader drew for this run (fresh seeds), computing its references itself, and
every value check is replayed with the thresholds and messages the grader evaluated from the solution with its
own ``cfg``; only the measured values come from the kernel. A graded cell earns its points when its code ran
without an error, every planned check reported, in order, and every judge passed.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.grading.assemble import AST_LOCK, Call, CellPlan
from utils.grading.text import error_line, one_line



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


def _recompute(expression: str, names: dict[str, Any]) -> Any:
    """Evaluate a measured value's expression from the solution on recorded plain data, with the grader's NumPy."""
    import numpy as np

    from utils.grading.assemble import SAFE_BUILTINS

    return eval(expression, {"__builtins__": {**SAFE_BUILTINS, "bool": bool}, "np": np}, dict(names))  # noqa: S307


def _value(call: Call, record: dict, names: dict[str, Any] | None = None) -> str:
    """Replay one value check with the grader's static arguments; return what it printed or raise CheckFailure.

    A measured argument is recomputed here from the recorded variables when its expression allows it (plain
    numbers and arrays); otherwise the kernel's value is used.
    """
    from utils import checks

    args, kwargs = record.get("args"), record.get("kwargs")
    if not isinstance(args, list) or not isinstance(kwargs, dict) or (
            (len(args), tuple(sorted(kwargs))) != call.arity):
        raise checks.CheckFailure(f"`{call.text[:80]}` was not called as the lab calls it.")
    values = dict(call.static)  # names, messages and thresholds are the grader's, never the kernel's
    for key, expression in call.exprs.items() if names is not None else []:
        try:
            values[key] = _recompute(expression, names)
        except Exception:  # noqa: BLE001 - not plain arithmetic (a Keras History, say): the kernel's value stands
            pass
    for key, value in values.items():
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
    names: list[dict[str, Any]] = []
    noted_calls = sum(bool(call.names) for call in plan.calls)  # value checks whose variables are recorded first
    if noted_calls:
        kept = []
        for record in records:
            if record.get("kind") == "names":
                names.append(record.get("values") if isinstance(record.get("values"), dict) else {})
            else:
                kept.append(record)
        if len(names) != noted_calls:
            return Verdict(0.0, "not verified: the variables its checks measure were not recorded", lines)
        records = kept
    noted = iter(names)
    with AST_LOCK:  # judges share the random state, stdout and the ast module: one at a time
        for index, call in enumerate(plan.calls):
            record = records[index] if index < len(records) else None
            kind_name = (call.kind, call.name)
            if record is None or (record.get("kind"), record.get("check" if call.kind == "exercise" else
                                                               "function")) != kind_name:
                why = (f"only {index} of its {len(plan.calls)} checks reported" if record is None
                       else f"its check {index + 1} reported as another check")
                return Verdict(0.0, f"not verified: {why}", lines)
            try:
                message = (_exercise(call, record) if call.kind == "exercise"
                           else _value(call, record, next(noted) if call.names else None))
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
