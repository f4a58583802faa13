"""Every registered exercise check has its mutation tests: at least four realistic wrong answers and one correct one."""

from __future__ import annotations

import collections
import importlib
import importlib.util

import pytest

import utils.exercises as exercises
from utils.exercises import framework

MIN_WRONG, MIN_CORRECT = 4, 1


def _cases() -> list:
    found = []
    for module in exercises.LABS:
        importlib.import_module(f"utils.exercises.{module}")
        found += importlib.import_module(f"test_exercises_{module}").CASES
    return found


def _is_stub(case) -> bool:
    return "stub" in case.label.lower() or "not implemented" in case.expect


CASES = _cases()
COUNTS: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
for _case in CASES:
    if not _is_stub(_case):
        COUNTS[getattr(_case.check, "name", repr(_case.check))][int(_case.should_pass)] += 1


@pytest.mark.parametrize("name", sorted(framework.REGISTRY))
def test_every_check_has_wrong_and_correct_variants(name: str) -> None:
    wrong, correct = COUNTS.get(name, [0, 0])
    assert wrong >= MIN_WRONG, f"{name}: {wrong} realistic wrong answers in its mutation tests, want {MIN_WRONG}"
    assert correct >= MIN_CORRECT, f"{name}: no correct variant in its mutation tests"


def test_every_lab_module_has_a_mutation_test_file() -> None:
    assert set(exercises.LABS) <= {m for m in exercises.LABS if importlib.util.find_spec(f"test_exercises_{m}")}
