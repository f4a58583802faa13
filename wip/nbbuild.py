"""Tiny authoring helper: build a notebook from (kind, source, meta) tuples."""
import nbformat
from nbformat.v4 import new_notebook, new_markdown_cell, new_code_cell


def md(text):
    return ("md", text.strip("\n"), None)


def code(text):
    return ("code", text.strip("\n"), None)


def solution(grade_id, text):
    return ("code", text.strip("\n"), {"grade": False, "grade_id": grade_id, "locked": False,
                                        "schema_version": 3, "solution": True, "task": False})


def graded(grade_id, points, text):
    return ("code", text.strip("\n"), {"grade": True, "grade_id": grade_id, "locked": True, "points": points,
                                        "schema_version": 3, "solution": False, "task": False})


def locked(grade_id, text):
    return ("code", text.strip("\n"), {"grade": False, "grade_id": grade_id, "locked": True,
                                        "schema_version": 3, "solution": False, "task": False})


def build(cells, path, slug):
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, (kind, src, meta) in enumerate(cells):
        src = src.replace(chr(92) + chr(34), chr(34))
        cell = new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        cell["id"] = f"{slug}-{i:02d}"
        if meta:
            cell.metadata["nbgrader"] = meta
        nb.cells.append(cell)
    nbformat.validate(nb)
    with open(path, "w") as f:
        f.write(nbformat.writes(nb) + "\n")
