"""A Sphinx extension for the course site: each page loads every script once (sphinx-thebe adds its inline config twice)."""

from __future__ import annotations

from typing import Any


def _once(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Drop repeated script tags (same file, same inline body) from a page's context."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""), str(getattr(script, "attributes", {}).get("body", "")))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    scripts[:] = kept  # in place: later handlers add to this very list


def setup(app: Any) -> dict[str, Any]:
    """Register the fix with Sphinx."""
    app.connect("html-page-context", _once, priority=900)  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
