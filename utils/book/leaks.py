"""Whether a built site shows any solution or hidden-test line of solutions/ (the student site must not)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from utils import labs

TAG = re.compile(r"<[^>]+>")
TEXT_SUFFIXES = {".html", ".ipynb", ".txt", ".js", ".md", ".json", ".yml", ".py", ".svg"}


def _strings(value: object) -> list[str]:
    """Return every string inside a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def file_lines(path: Path) -> set[str]:
    """Return the stripped lines a reader could see in a file: as written, without HTML tags, and JSON's strings."""
    text = path.read_text(encoding="utf-8", errors="replace")
    texts = [text, html.unescape(TAG.sub("", text))]
    if path.suffix in (".ipynb", ".json"):
        try:
            texts.append("".join(_strings(json.loads(text))))
            texts.extend(_strings(json.loads(text)))
        except ValueError:
            pass
    return {line.strip() for chunk in texts for line in chunk.splitlines()}


def find_leaks(site: Path) -> dict[str, list[str]]:
    """Return, per file under ``site``, the solution and hidden-test lines of solutions/ that it contains."""
    # Given code, and the companions' code (public in notebooks/: AlexNet's `layers.Flatten(),` is no secret).
    provided = labs.provided_lines(labs.solution_paths() + sorted(labs.NOTEBOOKS.glob("*.ipynb")))
    secret = set().union(*(labs.secret_lines(path, provided) for path in labs.solution_paths()))
    found: dict[str, list[str]] = {}
    for path in sorted(site.rglob("*")):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and ".doctrees" not in path.parts:
            leaked = sorted(secret & file_lines(path))
            if leaked:
                found[str(path.relative_to(site))] = leaked
    return found


def describe(found: dict[str, list[str]]) -> str:
    """Return a one-line account of leaks: how many lines in which files, with an example."""
    files = sorted(found)
    example = found[files[0]][0]
    return f"{sum(map(len, found.values()))} line(s) in {', '.join(files[:3])}{' ...' if len(files) > 3 else ''}, e.g. {example!r}"
