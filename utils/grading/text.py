"""Small text helpers every part of the grader shares: one-line reasons and cell sources."""

from __future__ import annotations

import re
from typing import Any


def one_line(text: str, limit: int = 300) -> str:
    """Return text without ANSI colours, squeezed onto one line of at most ``limit`` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_line(error: dict) -> str:
    """Return an error output or reply as the one-line reason shown in the gradebook."""
    name, value = str(error.get("ename", "Error")), one_line(str(error.get("evalue", "")))
    if name == "NotImplementedYet" and value:
        return value.split(": ", 1)[0]  # "`forward` is not implemented yet"
    if name == "CheckFailure" and value:
        return value
    return f"{name}: {value}" if value else name


def cell_text(source: Any) -> str:
    """Return a cell source as one string, whatever shape the submission stored it in."""
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""
