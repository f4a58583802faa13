"""One source of truth: labs/ is generated from solutions/, leaks nothing, and stops politely."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from utils import labs

SOLUTIONS = labs.solution_paths()
ROOT = labs.ROOT


def test_there_are_solutions() -> None:
    assert SOLUTIONS, "solutions/ holds no notebooks"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_lab_matches_a_fresh_generation(path: Path) -> None:
    assert labs.generate(check=True) == [], "labs/ drifted from solutions/; run `make labs`:\n" + labs.diff(path)


def test_no_stray_labs() -> None:
    assert sorted(p.name for p in labs.LABS.glob("*.ipynb")) == sorted(p.name for p in SOLUTIONS)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_no_solution_line_reaches_labs_or_utils(path: Path) -> None:
    secret = labs.secret_lines(path)
    assert secret, f"{path.name} has no solution lines to protect"
    targets = sorted(labs.LABS.glob("*.ipynb")) + sorted((ROOT / "utils").rglob("*.py"))
    for target in targets:
        if target.suffix == ".ipynb":
            text_lines = {l.strip() for c in labs.read(target).cells for l in c.source.splitlines()}
        else:
            text_lines = {l.strip() for l in target.read_text(encoding="utf-8").splitlines()}
        leaked = sorted(secret & text_lines)
        assert not leaked, f"solution lines of {path.name} appear in {target.relative_to(ROOT)}: {leaked[:5]}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_labs_have_no_hidden_tests_or_markers(path: Path) -> None:
    text = labs.lab_path(path).read_text(encoding="utf-8")
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text, f"{marker} left in {labs.lab_path(path).name}"
    assert "raise NotImplementedError()" in text


def _tracked_notebooks() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=False)
    tracked = [ROOT / line for line in out.stdout.split()]
    return tracked or sorted(ROOT.glob("*/*.ipynb"))


def test_committed_notebooks_are_clean() -> None:
    dirty = []
    for path in _tracked_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(path.relative_to(ROOT).as_posix())
                break
    assert not dirty, f"notebooks with outputs or execution counts (run `make clean-notebooks`): {dirty}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_solution_metadata_is_nbgrader_compatible(path: Path) -> None:
    nb = labs.read(path)
    labs.validate(nb, path.name)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert graded and solutions
    assert all(c.metadata.nbgrader.get("schema_version") == 3 for c in graded + solutions)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_lab_stops_at_first_exercise_with_one_sentence(path: Path) -> None:
    """Run the student lab as handed out: the first check must fail with a one-line message."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = labs.read(labs.lab_path(path))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "labs")}})
    with pytest.raises(CellExecutionError):
        client.execute()
    failed = [
        (i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
        for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert len(failed) == 1
    index, error = failed[0]
    first_check = next(
        i for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade") and i > next(
            j for j, d in enumerate(nb.cells) if d.metadata.get("nbgrader", {}).get("solution"))
    )
    assert index == first_check, f"the lab failed at cell {index}, not at the first check (cell {first_check})"
    assert error["ename"] == "NotImplementedYet"
    assert len(error["traceback"]) == 1, error["traceback"]
    assert "not implemented yet" in error["traceback"][0]
    assert error["traceback"][0].count(". ") <= 1  # one sentence
