"""Every lab's solution, handed in as a submission, gets full marks from the sandboxed grader.

This is the end-to-end test of the probe/judge split for every graded cell of the course: the plan, the kernel's
records, the codec, the judges in the grader's process (fresh seeds included) and the recomputed learning targets.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from utils import grading, labs


@pytest.mark.parametrize("path", sorted(labs.SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem[:2])
def test_the_solution_gets_full_marks(path: Path, tmp_path, shared_datasets, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared_datasets))
    solution = labs.read(path)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    submission = labs.make_lab(solution, path.name)  # the lab as handed out, answered with the solution's code
    for cell in submission.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in answers:
            cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
    nbformat.write(submission, str(tmp_path / "solution.ipynb"))
    rows = grading.grade(path.stem[:2], tmp_path, out_dir=tmp_path / "out", progress=False)
    assert [r.student for r in rows] == ["solution"]
    assert rows[0].total == rows[0].maximum == sum(grading.graded_cells(solution).values()), rows[0].reasons
    assert rows[0].reasons == [] and rows[0].review == []
