"""Finding the lab and the submissions: every possible notebook becomes a submission or is skipped with a reason."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.grading.text import one_line
from utils.labs import SOLUTIONS


@dataclass
class Submission:
    """One student's submission: where it is, or why there is nothing to grade."""

    student: str
    path: Path | None
    problem: str = ""
    name: str = ""  # the name as submitted (file stem or folder name); ``student`` is its unique safe id
    skipped: str = ""  # why this entry is not graded (a duplicate, Jupyter's checkpoints)


def resolve_lab(name: str) -> Path:
    """Return the solution notebook named by a lab name or prefix ("01", "01_backprop_by_hand")."""
    candidates = sorted(SOLUTIONS.glob("*.ipynb"))
    stem = Path(name).stem if name.endswith(".ipynb") else name
    exact = [p for p in candidates if p.stem == stem]
    matches = exact or [p for p in candidates if p.stem.startswith(stem)] or [p for p in candidates if stem in p.stem]
    known = ", ".join(p.stem for p in candidates) or "none"
    if not matches:
        raise FileNotFoundError(f"No lab matches '{name}' in {SOLUTIONS}; known labs: {known}.")
    if len(matches) > 1:
        raise ValueError(f"'{name}' matches several labs ({', '.join(p.stem for p in matches)}); be more specific.")
    return matches[0]


def is_notebook(path: Path) -> bool:
    """Return True for a file that could be a notebook: any case of the .ipynb suffix."""
    return path.suffix.lower() == ".ipynb"


def notebook_stem(path: Path) -> str:
    """Return a file name without its .ipynb suffix, whatever its case."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def find_submissions(folder: Path, notebook_name: str) -> list[Submission]:
    """Return one submission per ``STUDENT.ipynb`` file or ``STUDENT/`` folder, plus the entries skipped and why.

    Every file that could be a notebook (any case of ``.ipynb``, dot-files included) becomes a submission or is
    skipped with a reason. A student with both ``STUDENT.ipynb`` and ``STUDENT/`` is graded once, from the folder.
    Each submission gets a unique, file-name-safe id (``student``); the original name is kept (``name``).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"Submissions folder {folder} does not exist.")
    found: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            if entry.name == ".ipynb_checkpoints":
                found.append(Submission(entry.name, None, name=entry.name,
                                        skipped=f"{entry.name}/ skipped: Jupyter's autosave copies, not a submission"))
                continue
            notebooks = sorted(p for p in entry.rglob("*") if p.is_file() and is_notebook(p)
                               and ".ipynb_checkpoints" not in p.relative_to(entry).parts)
            named = [p for p in notebooks if p.name.lower() == notebook_name.lower()]
            chosen = named if named else notebooks
            if len(chosen) == 1:
                found.append(Submission(entry.name, chosen[0], name=entry.name))
            elif not chosen:
                found.append(Submission(entry.name, None, f"no notebook found in {entry.name}/", name=entry.name))
            else:
                listed = ", ".join(str(p.relative_to(entry)) for p in chosen[:5])
                found.append(Submission(entry.name, None, f"several candidate notebooks in {entry.name}/ ({listed})",
                                        name=entry.name))
        elif entry.is_file() and is_notebook(entry):
            found.append(Submission(notebook_stem(entry), entry, name=notebook_stem(entry)))
    folders = {s.name for s in found if s.path is None or s.path.parent != folder}
    for sub in found:  # one student, two submissions: the folder (nbgrader's layout) is graded, the file skipped
        if sub.path is not None and sub.path.parent == folder and sub.name in folders and not sub.skipped:
            sub.skipped = (f"{sub.path.name} skipped: {sub.name}/ is graded for this student (a folder takes "
                           "precedence over a notebook of the same name)")
    used: set[str] = set()
    for sub in found:
        if sub.skipped:
            continue
        base = safe_name(sub.name)
        sub.student, k = base, 2
        while sub.student.lower() in used:  # ids differ even on a case-insensitive file system
            sub.student, k = f"{base}-{k}", k + 1
        used.add(sub.student.lower())
    return found


def safe_name(student: str) -> str:
    """Return a file-name-safe version of a student id (letters of any script, digits, '.', '_', '-')."""
    return re.sub(r"[^\w.-]+", "_", student).strip("._") or "student"


def read_submission(path: Path) -> tuple[Any, str]:
    """Read a submission without modifying it; return (notebook, "") or (None, why it is unusable)."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"could not read the notebook ({type(exc).__name__}: {exc.strerror or exc})"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not a valid notebook: not JSON ({one_line(str(exc), 120)})"
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        return None, "not a valid notebook: the JSON has no list of cells"
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any malformed notebook becomes a reason
        return None, f"not a valid notebook ({type(exc).__name__}: {one_line(str(exc), 120)})"
    if not all(isinstance(cell, dict) for cell in nb.cells):
        return None, "not a valid notebook: a cell is not an object"
    return nb, ""

