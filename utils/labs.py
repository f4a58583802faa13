"""Generate the student labs in ``labs/`` from the instructor solutions in ``solutions/``.

Solutions are the one source of truth. They carry nbgrader-compatible markers
and metadata: code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in
cells marked ``solution``, hidden tests between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` in cells marked ``grade`` (with ``grade_id`` and
``points``). Generation runs nbgrader's own preprocessors, as ``nbgrader
generate_assignment`` does, without its database: solutions become
``# YOUR CODE HERE`` stubs, hidden tests disappear, outputs are cleared, grade
cells are locked and checksummed.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import nbformat
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
LABS = ROOT / "labs"
NOTEBOOKS = ROOT / "notebooks"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


class LabError(ValueError):
    """A solution notebook whose markers or metadata are inconsistent."""


def read(path: Path) -> NotebookNode:
    """Read a notebook as nbformat version 4."""
    return nbformat.read(str(path), as_version=4)


def write(nb: NotebookNode, path: Path) -> None:
    """Write a notebook in nbformat's canonical layout (sorted keys, one-space indent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")


def clear_outputs(nb: NotebookNode) -> NotebookNode:
    """Remove outputs, execution counts and execution metadata from every code cell."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("collapsed", None)
            cell.metadata.pop("scrolled", None)
    return nb


def validate(nb: NotebookNode, name: str) -> None:
    """Check that markers sit in cells with matching metadata and grade ids are unique."""
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        where = f"{name}, cell {index}"
        source = cell.source
        if BEGIN_SOLUTION in source and not meta.get("solution"):
            raise LabError(f"{where} has a solution region but no nbgrader 'solution' metadata.")
        if BEGIN_HIDDEN in source and not meta.get("grade"):
            raise LabError(f"{where} has hidden tests but no nbgrader 'grade' metadata.")
        if source.count(BEGIN_SOLUTION) != source.count(END_SOLUTION):
            raise LabError(f"{where} has unbalanced BEGIN/END SOLUTION markers.")
        if source.count(BEGIN_HIDDEN) != source.count(END_HIDDEN):
            raise LabError(f"{where} has unbalanced BEGIN/END HIDDEN TESTS markers.")
        if meta.get("solution") and cell.cell_type == "code" and BEGIN_SOLUTION not in source:
            raise LabError(f"{where} is a solution cell without a ### BEGIN SOLUTION region.")
        if meta:
            grade_id = meta.get("grade_id")
            if not grade_id:
                raise LabError(f"{where} has nbgrader metadata but no grade_id.")
            if grade_id in seen:
                raise LabError(f"{where} repeats grade_id '{grade_id}'.")
            seen.add(grade_id)
            if meta.get("grade") and not meta.get("points"):
                raise LabError(f"{where} is a grade cell worth no points.")


def make_lab(solution: NotebookNode, name: str = "notebook") -> NotebookNode:
    """Return the student version of a solution notebook."""
    from nbgrader.preprocessors import (
        ClearHiddenTests,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    validate(solution, name)
    nb = nbformat.from_dict(solution)  # a deep copy: preprocessors work in place
    resources: dict = {}
    for preprocessor in (LockCells(), ClearSolutions(), ClearHiddenTests(), ClearOutput(), ComputeChecksums()):
        nb, resources = preprocessor.preprocess(nb, resources)
    clear_outputs(nb)
    nb.metadata.pop("celltoolbar", None)
    return nb


def lab_path(solution_path: Path) -> Path:
    """Return where the lab generated from a solution notebook lives."""
    return LABS / solution_path.name


def solution_paths() -> list[Path]:
    """Return the solution notebooks, in lab order."""
    return sorted(SOLUTIONS.glob("*.ipynb"))


def generate(check: bool = False) -> list[str]:
    """Regenerate every lab after the setup cells' Colab lines (or, with ``check``, list what differs)."""
    drifted = sync_setup_cells(check)
    expected_names = set()
    for path in solution_paths():
        target = lab_path(path)
        expected_names.add(target.name)
        text = nbformat.writes(make_lab(read(path), path.name)) + "\n"
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            drifted.append(str(target.relative_to(ROOT)))
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for stray in sorted(LABS.glob("*.ipynb")):
        if stray.name not in expected_names:
            drifted.append(str(stray.relative_to(ROOT)) + " (no matching solution)")
            if not check:
                stray.unlink()
    return drifted


def diff(path: Path) -> str:
    """Return a unified diff between a committed lab and its fresh regeneration."""
    target = lab_path(path)
    fresh = (nbformat.writes(make_lab(read(path), path.name)) + "\n").splitlines(keepends=True)
    current = target.read_text(encoding="utf-8").splitlines(keepends=True) if target.exists() else []
    return "".join(difflib.unified_diff(current, fresh, str(target), "regenerated"))


MIN_SECRET_LENGTH = 12  # shorter lines ("return out", "pass") are too generic to call a leak


def region_lines(nb: NotebookNode, begin: str = BEGIN_SOLUTION, end: str = END_SOLUTION) -> set[str]:
    """Return the stripped lines between a pair of markers (default: the solution regions) in every cell."""
    lines: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and line.strip():
                lines.add(line.strip())
    return lines


def solution_lines(nb: NotebookNode) -> set[str]:
    """Return the stripped code lines inside the notebook's solution regions."""
    return region_lines(nb, BEGIN_SOLUTION, END_SOLUTION)


def provided_lines(paths: list[Path]) -> set[str]:
    """Return the stripped lines outside every solution and hidden-test region of these notebooks (the given code)."""
    provided: set[str] = set()
    for path in paths:
        for cell in read(path).cells:
            inside = False
            for line in cell.source.splitlines():
                if BEGIN_SOLUTION in line or BEGIN_HIDDEN in line:
                    inside = True
                elif END_SOLUTION in line or END_HIDDEN in line:
                    inside = False
                elif not inside:
                    provided.add(line.strip())
    return provided


def secret_lines(path: Path, provided: set[str] | None = None) -> set[str]:
    """Return a solution notebook's solution and hidden-test lines specific enough that finding one elsewhere is a leak."""
    provided = provided_lines(solution_paths()) if provided is None else provided
    nb = read(path)
    lines = solution_lines(nb) | region_lines(nb, BEGIN_HIDDEN, END_HIDDEN)
    return {line for line in lines
            if len(line) >= MIN_SECRET_LENGTH and not line.startswith("#") and line not in provided}


def clean(paths: list[Path]) -> list[str]:
    """Strip outputs and execution counts from notebooks in place; return those changed."""
    changed = []
    for path in paths:
        before = path.read_text(encoding="utf-8")
        nb = clear_outputs(nbformat.reads(before, as_version=4))
        after = nbformat.writes(nb) + "\n"
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(str(path))
    return changed


def sync_setup_cells(check: bool = False) -> list[str]:
    """Write the Colab set-up (utils.course) into each solution's and companion's setup cell; list those changed."""
    from utils import course

    changed = []
    for path in [*solution_paths(), *sorted(NOTEBOOKS.glob("*.ipynb"))]:
        nb = read(path)
        index = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)
        if index is None:
            raise LabError(f"{path.name} has no code cell to set the course up in.")
        cells = [nb.cells[index - 1]] if index and nb.cells[index - 1].cell_type == "markdown" else []
        before = [cell.source for cell in (*cells, nb.cells[index])]
        for cell in cells:  # the Markdown just before the setup cell: the badge of what students open
            cell.source = course.with_badge(cell.source, (lab_path(path) if path.parent == SOLUTIONS else path)
                                            .relative_to(ROOT).as_posix())
        nb.cells[index].source = course.with_bootstrap(nb.cells[index].source, course.lab_number(path))
        if [cell.source for cell in (*cells, nb.cells[index])] != before:
            changed.append(f"{path.relative_to(ROOT)} (Colab set-up)")
            if not check:
                write(nb, path)
    return changed
