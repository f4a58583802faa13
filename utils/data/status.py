"""``python -m utils data status``: which canonical files are cached and verified, and what tfds has prepared."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from utils import paths
from utils.data import prepared, registry, store


def status(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Return one row per dataset: files present/valid/total, bytes, corrupt files, folder."""
    if data_dir is None:
        root, origin = paths.data_dir_and_origin()
    else:
        root, origin = Path(data_dir).expanduser(), "given"
    rows = []
    for name, entries in registry.DATASETS.items():
        present = valid = size = 0
        corrupt = []
        for entry in entries:
            path = root / entry.path
            state, detail = store.cached_state(path, entry)
            if state == "missing":
                continue
            present += 1
            try:
                size += path.stat().st_size
            except OSError:
                pass
            if state == "ok":
                valid += 1
            else:
                corrupt.append(f"{entry.path} ({detail})")
        sizes = [e.size for e in entries]
        rows.append(
            {
                "name": name,
                "description": registry.DESCRIPTIONS.get(name, ""),
                "present": present,
                "valid": valid,
                "total": len(entries),
                "verified": valid == len(entries),
                "corrupt": corrupt,
                "bytes": size,
                "expected_bytes": None if None in sizes else sum(s or 0 for s in sizes),
                "path": str(root / registry.folder_of(entries)),
                "data_dir": str(root),
                "data_dir_origin": origin,
            }
        )
    return rows


def _human(size: int | None) -> str:
    """Format a byte count with a decimal unit (B, kB, MB, GB)."""
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _state_word(row: Mapping[str, Any]) -> str:
    """Summarise a status row in one word."""
    if row["corrupt"]:
        return f"CORRUPT ({len(row['corrupt'])})"
    if row["verified"]:
        return "verified"
    return "missing" if row["present"] == 0 else "incomplete"


def format_status(rows: list[dict[str, Any]]) -> str:
    """Format status() rows as an aligned table with a hint on how to get what is missing."""
    lines = []
    if rows:
        lines.append(f"Data folder: {rows[0]['data_dir']} ({rows[0].get('data_dir_origin', '')})")
    table = [("dataset", "files", "state", "size", "folder")]
    for row in rows:
        size = _human(row["bytes"])
        if not row["verified"]:
            size += f" of {_human(row['expected_bytes'])}"
        table.append((row["name"], f"{row['present']}/{row['total']}", _state_word(row), size, row["path"]))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3]), r[4]]))  # fmt: skip
    for row in rows:
        for item in row["corrupt"]:
            lines.append(f"Corrupt: {item}; it is replaced only by a verified download or import.")
    if any(not row["verified"] for row in rows):
        lines.append(
            "Get what is missing with `python -m utils data fetch NAME` (needs internet), or copy the "
            "files from another machine with `python -m utils data import DIR`."
        )
    return "\n".join(lines)




def prepared_rows() -> list[dict[str, Any]]:
    """Return one row per course dataset: what tensorflow-datasets has prepared, and where."""
    return [prepared.prepared_state(name) for name in registry.TFDS]


def format_prepared(rows: list[dict[str, Any]]) -> str:
    """Format prepared_rows() as an aligned table, with a line per damaged or incomplete dataset."""
    lines = [f"Prepared for tensorflow-datasets in {paths.tfds_dir()}:"]
    table = [("dataset", "builder", "state", "size", "examples")]
    for row in rows:
        splits = ", ".join(f"{k} {v:,}" for k, v in row["splits"].items()) if row["splits"] else ""
        state = "prepared" if row["state"] == "ok" else ("not prepared" if row["state"] == "missing" else row["state"].upper())
        table.append((row["name"], row["builder"], state, _human(row["bytes"]) if row["bytes"] else "", splits))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3]), r[4]]).rstrip())  # fmt: skip
    for row in rows:
        if row["state"] in ("damaged", "incomplete"):
            lines.append(f"{row['name']}: {row['detail']}; the next load prepares it again.")
    if any(row["state"] == "missing" for row in rows):
        lines.append("A dataset is prepared from the verified files on first use (`python -m utils data prepare "
                     "NAME` or `--lab NN` does it ahead).")
    return "\n".join(lines)
