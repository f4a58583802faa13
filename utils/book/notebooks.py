"""The notebooks the site shows: student labs with the solution run's outputs of given cells, or the runs themselves."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode

from utils import labs
from utils.course import COLAB_BADGE, colab_url

# Outputs a page may show: what a static page renders without a kernel, a widget manager or the network.
SHOWN_MIME = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "text/markdown", "text/latex", "text/plain")
# Outputs of these cells never reach the student site: exercise cells (the student's own code runs there) and check
# cells with hidden tests (whatever the hidden part printed).
SECRET_CELL = ("solution", "hidden")


def read_executed(executed: Path, stem: str) -> NotebookNode | None:
    """Return the executed run of a notebook from ``executed``/STEM.ipynb, or None when it has not run."""
    path = executed / f"{stem}.ipynb"
    return labs.read(path) if path.is_file() else None


def _shown(output: NotebookNode) -> NotebookNode | None:
    """Return an output as a static page may show it (stdout, results, figures), or None for stderr and errors."""
    kind = output.get("output_type")
    if kind == "stream":
        return output if output.get("name") == "stdout" else None
    if kind in ("display_data", "execute_result"):
        data = {mime: value for mime, value in output.get("data", {}).items() if mime in SHOWN_MIME}
        if not data:
            return None
        kept = nbformat.from_dict(dict(output))
        kept["data"] = data
        kept["metadata"] = {k: v for k, v in output.get("metadata", {}).items() if k in data}
        return kept
    return None  # errors: a traceback quotes the code that raised


def shown_outputs(outputs: list[NotebookNode]) -> list[NotebookNode]:
    """Return the outputs of a cell that a static page shows, in order."""
    return [kept for kept in map(_shown, outputs) if kept is not None]


def _kind(cell: NotebookNode) -> str:
    """Return 'solution', 'hidden' (a check with hidden tests) or 'given' for a solution notebook's cell."""
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("solution"):
        return "solution"
    if labs.BEGIN_HIDDEN in cell.source:
        return "hidden"
    return "given"


def _badge(path: str) -> NotebookNode:
    """Return a markdown cell with an 'Open in Colab' badge for a repository notebook."""
    return nbformat.v4.new_markdown_cell(f"[![Open in Colab](../_static/colab-badge.svg)]({colab_url(path)})",
                                         id="course-colab-badge")


def _note(text: str) -> NotebookNode:
    """Return a markdown cell with a note to the reader."""
    return nbformat.v4.new_markdown_cell(f":::{{note}}\n{text}\n:::", id="course-run-note")


def _static(nb: NotebookNode) -> NotebookNode:
    """Drop what a static page cannot show: widget state, unknown output types, stderr, errors and run metadata."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = shown_outputs(cell.get("outputs", []))
            cell.metadata.pop("execution", None)
    return nb


def _with_header(nb: NotebookNode, repository_path: str, note: str) -> NotebookNode:
    """Insert the Colab badge and a note on where the outputs come from after the title cell."""
    for cell in nb.cells:  # the setup cell's own badge, drawn from the site's copy: a page loads nothing remote
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(COLAB_BADGE, "../_static/colab-badge.svg")
    nb.cells[1:1] = [_badge(repository_path), _note(note)]
    return nb


def student_page(solution: Path, executed: NotebookNode | None, provenance: str) -> NotebookNode:
    """Return a lab's student notebook, with the solution run's outputs of its given cells (never of exercises)."""
    source = labs.read(solution)
    page = labs.make_lab(source, solution.name)  # a copy: nbgrader's preprocessors leave ``source`` as it was
    if executed is not None:
        by_id = {cell.get("id"): cell for cell in executed.cells}
        for cell, original in zip(page.cells, source.cells):
            run = by_id.get(cell.get("id"))
            if cell.cell_type == "code" and run is not None and _kind(original) == "given":
                cell.outputs = run.get("outputs", [])
    note = (f"Outputs of the given cells come from the course's own run ({provenance}); exercise cells are left for "
            "you, as in `labs/`." if executed is not None else
            "This lab has not been run for the site yet, so it shows no outputs.")
    return _with_header(_static(page), f"labs/{solution.name}", note)


def instructor_page(solution: Path, executed: NotebookNode | None, provenance: str) -> NotebookNode:
    """Return a lab's solution run as it executed (solutions, hidden tests and all outputs), for the teaching team."""
    page = executed if executed is not None else labs.clear_outputs(labs.read(solution))
    note = (f"Instructor edition: the solution notebook as it ran ({provenance})." if executed is not None else
            "Instructor edition: this solution has not been run for the site yet.")
    return _with_header(_static(page), f"labs/{solution.name}", note)


def companion_page(companion: Path, executed: NotebookNode | None, provenance: str) -> NotebookNode:
    """Return a lecture companion as it executed (or unexecuted, with a note, when it has not run)."""
    page = executed if executed is not None else labs.clear_outputs(labs.read(companion))
    note = (f"Executed in the course's own run ({provenance})." if executed is not None else
            "This companion has not been run for the site yet, so it shows no outputs.")
    return _with_header(_static(page), f"notebooks/{companion.name}", note)
