"""Grade a class's submissions of a lab against its solution: a gradebook and per-student feedback.

``python -m utils grade LAB SUBMISSIONS_DIR`` grades every submission in three steps, each in its own place:

1. **Assemble** (:mod:`~utils.grading.assemble`, in the grader's process). The graded notebook follows the
   solution's cells; answer cells come from the submission by ``grade_id``. Each graded cell becomes a *plan*:
   the checks it makes, hidden tests included, with probe inputs drawn afresh for this run (a new ``seed`` for
   every probe that takes one), and the code the kernel runs for it.
2. **Execute** (:mod:`~utils.grading.worker`, :mod:`~utils.grading.execute`, :mod:`~utils.grading.sandbox`).
   A worker process runs the notebook in a fresh kernel inside a bubblewrap sandbox: its own PID, network, IPC
   and UTS namespaces (no network), an unprivileged user, read-only system, Python environment and course
   package, the dataset cache read-only, and one writable scratch folder; the solutions, the repository, the
   submissions, the grades folder and the grader's own files are not there at all. Memory, processes, file
   size and CPU time are limited, and every process the kernel started dies with it. In the kernel, checks only
   probe the student's code and record what they saw as plain data (:mod:`~utils.grading.kernel`,
   :mod:`~utils.grading.codec`: JSON and NumPy arrays, no pickle); the worker copies those records out.
3. **Judge** (:mod:`~utils.grading.judge`, in the grader's process). Every exercise check's judge runs on the
   records with the grader's own options and references; value checks (learning targets) are replayed with the
   thresholds and messages the grader computed from the solution and the profile. A graded cell earns its points
   only if its code ran without an error, every planned check reported, and every judge passed.

Reports (:mod:`~utils.grading.reports`) go to ``--out`` (default ``build/grades/LAB/``): ``gradebook.csv``,
``results.json`` and ``feedback/STUDENT.ipynb``/``.html``. Finding submissions is
:mod:`~utils.grading.submissions`; the class run is :mod:`~utils.grading.classroom`.
"""

from __future__ import annotations

import importlib
from typing import Any

# The public names, each from the module of its concern. They load on first use, so that the kernel-side
# module (utils.grading.kernel) imports none of the grader's machinery.
_EXPORTS = {
    "META": "assemble",
    "Call": "assemble",
    "CellPlan": "assemble",
    "PlanError": "assemble",
    "bound_names": "assemble",
    "build_graded_notebook": "assemble",
    "graded_cells": "assemble",
    "lab_config": "assemble",
    "lab_reference": "assemble",
    "parse_source": "assemble",
    "plan_cell": "assemble",
    "review_answer": "assemble",
    "DEFAULT_TIMEOUTS": "classroom",
    "NO_SANDBOX_NOTE": "classroom",
    "SandboxUnavailable": "classroom",
    "grade": "classroom",
    "score": "classroom",
    "HIDDEN_NOTE": "reports",
    "MAX_OUTPUTS": "reports",
    "MAX_STREAM_CHARS": "reports",
    "MAX_FEEDBACK_CHARS": "reports",
    "Row": "reports",
    "format_table": "reports",
    "hide_hidden_tests": "reports",
    "make_row": "reports",
    "write_feedback": "reports",
    "write_gradebook": "reports",
    "Submission": "submissions",
    "find_submissions": "submissions",
    "read_submission": "submissions",
    "resolve_lab": "submissions",
    "safe_name": "submissions",
}


def __getattr__(name: str) -> Any:
    """Load a public name from the module that defines it."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"utils.grading.{_EXPORTS[name]}"), name)

__all__ = sorted(_EXPORTS)
