"""Mutation tests for exercise checks: wrong answers a check must reject, correct ones it must accept.

Each lab's test module lists cases with :func:`wrong` and :func:`correct` and runs them with :func:`verify`.
Outcomes are recorded as test properties, and ``conftest.py`` prints, per lab,
``wrong caught N/N, correct accepted M/M`` at the end of the run (also under pytest-xdist).
"""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from typing import Any, Callable

from utils.checks import CheckFailure

MAX_SENTENCE = 400


@dataclass(frozen=True)
class Case:
    """One answer to one check: ``student`` are the functions the check is called with."""

    lab: str
    check: Callable[..., None]
    label: str
    student: tuple[Any, ...]
    should_pass: bool
    options: dict[str, Any] = field(default_factory=dict)
    expect: str = ""  # a fragment the failure sentence must contain (optional)

    def __str__(self) -> str:
        return f"{'correct' if self.should_pass else 'wrong'}: {self.label}"


def wrong(lab: str, check: Callable[..., None], label: str, *student: Any, expect: str = "", **options: Any) -> Case:
    """A realistic wrong answer that ``check`` must reject with one sentence."""
    return Case(lab, check, label, student, False, options, expect)


def correct(lab: str, check: Callable[..., None], label: str, *student: Any, **options: Any) -> Case:
    """A correct answer, written differently from the solution, that ``check`` must accept."""
    return Case(lab, check, label, student, True, options)


def is_one_sentence(message: str) -> bool:
    """Return True for feedback a student can read at a glance: one line, no traceback, short."""
    return (
        bool(message.strip())
        and "\n" not in message
        and "Traceback" not in message
        and len(message) <= MAX_SENTENCE
        and not re.search(r'File "[^"]+", line \d+', message)
    )


def run(case: Case) -> tuple[bool, str]:
    """Run a case's check; return (passed, message). Any exception but a CheckFailure escapes."""
    with redirect_stdout(io.StringIO()) as out:
        try:
            case.check(*case.student, **case.options)
        except CheckFailure as failure:
            return False, str(failure)
    return True, out.getvalue().strip()


def verify(case: Case, record_property: Callable[[str, Any], None]) -> None:
    """Assert the case's outcome and record it for the per-lab summary."""
    try:
        passed, message = run(case)
    except Exception as exc:  # a traceback would reach the student: a failed case
        record_property("mutation", (case.lab, case.should_pass, False))
        raise AssertionError(f"{case}: the check raised {type(exc).__name__} instead of a sentence: {exc}") from exc
    ok = passed == case.should_pass and (passed or is_one_sentence(message))
    if ok and not passed and case.expect:
        ok = case.expect in message
    record_property("mutation", (case.lab, case.should_pass, ok))
    if case.should_pass:
        assert passed, f"{case}: a correct answer was rejected: {message}"
    else:
        assert not passed, f"{case}: a wrong answer passed: {message}"
        assert is_one_sentence(message), f"{case}: the feedback is not one sentence: {message!r}"
        assert not case.expect or case.expect in message, f"{case}: expected {case.expect!r} in {message!r}"
