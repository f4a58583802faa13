"""What `make run` left in build/: the summary rows per profile, and which run each executed notebook comes from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SUMMARY = re.compile(r"summary-(\w+)\.json")


@dataclass(frozen=True)
class Summary:
    """One profile's summary table (build/summary-PROFILE.json): a row per notebook, the latest run of each."""

    profile: str
    rows: tuple[dict, ...]

    def row(self, stem: str) -> dict | None:
        """Return the notebook's row, or None when this profile never ran it."""
        return next((row for row in self.rows if row["notebook"] == stem), None)


def read_summaries(build: Path) -> list[Summary]:
    """Return every profile's summary in build/, in the order smoke, cpu, gpu, then others."""
    order = {"smoke": 0, "cpu": 1, "gpu": 2}
    found = []
    for path in sorted(build.glob("summary-*.json")):
        match = SUMMARY.fullmatch(path.name)
        if not match:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = tuple(data["results"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a summary written by `make run` ({exc}); delete it or run again.") from None
        found.append(Summary(match.group(1), rows))
    return sorted(found, key=lambda s: (order.get(s.profile, 9), s.profile))


def latest_profile(build: Path, summaries: list[Summary], stem: str) -> str | None:
    """Return the profile of a notebook's latest run (the one in build/executed), or None when it cannot be told."""
    dated = [(s.row(stem)["finished"], s.profile) for s in summaries if (s.row(stem) or {}).get("finished")]
    if dated:
        return max(dated)[1]
    last = build / "summary.json"
    if last.is_file():
        data = json.loads(last.read_text(encoding="utf-8"))
        if any(row.get("notebook") == stem for row in data.get("results", [])):
            return data.get("profile")
    profiles = [s.profile for s in summaries if s.row(stem)]
    return profiles[0] if len(profiles) == 1 else None


def provenance(row: dict | None, profile: str | None) -> str:
    """Return 'the smoke profile, 2026-11-30 on MACHINE' for a summary row, as far as the row tells."""
    parts = [f"the {profile} profile" if profile else "a run of unrecorded profile"]
    if row and row.get("finished"):
        parts.append(row["finished"][:10])
    if row and row.get("machine"):
        parts.append(f"on {row['machine']}")
    return ", ".join(parts)
