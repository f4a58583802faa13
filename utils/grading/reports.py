"""Reports: gradebook rows, the gradebook CSV, the summary table and each student's feedback notebook."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.grading.assemble import GRADER_ROLES, META
from utils.grading.text import cell_text, error_line, one_line
from utils.labs import BEGIN_HIDDEN, END_HIDDEN

HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)"
MAX_STREAM_CHARS = 20_000  # feedback keeps at most this many characters of each output
MAX_OUTPUTS = 20  # and at most this many outputs per cell
MAX_FEEDBACK_CHARS = 2_000_000  # and at most this many characters of output in all (a flood spread over every cell)


@dataclass
class Row:
    """One gradebook row: points per graded cell, reasons for lost points, notes for review."""

    student: str
    points: dict[str, float]
    max_points: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    seconds: float = 0.0
    name: str = ""  # the name as submitted, when it differs from the safe id in ``student``

    @property
    def total(self) -> float:
        """Points earned over all graded cells."""
        return sum(self.points.values())

    @property
    def maximum(self) -> float:
        """Points available over all graded cells."""
        return sum(self.max_points.values())


def make_row(student: str, maxima: dict[str, float], result: dict, fallback: str = "") -> Row:
    """Turn a worker's result into a gradebook row; cells it did not score get 0 and ``fallback``."""
    points: dict[str, float] = {}
    grouped: dict[str, list[str]] = {}
    cells = result.get("cells", {}) if isinstance(result.get("cells"), dict) else {}
    for grade_id, maximum in maxima.items():
        earned, reason = cells.get(grade_id, [0.0, fallback])
        points[grade_id] = min(max(float(earned), 0.0), maximum)
        if reason:
            grouped.setdefault(str(reason), []).append(grade_id)
    reasons = [str(n) for n in result.get("notes", [])]
    reasons += [f"{', '.join(ids)}: {reason}" for reason, ids in grouped.items()]
    return Row(student, points, dict(maxima), reasons, [str(n) for n in result.get("review", [])],
               float(result.get("seconds", 0.0)))


def hide_hidden_tests(source: str) -> str:
    """Replace each hidden-test region of a graded cell with a one-line note."""
    out, hidden = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            hidden = True
            out.append(HIDDEN_NOTE)
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def _one_line_errors(cell: Any) -> None:
    """Reduce a cell's error outputs to one line each (no traceback frames, so no source lines)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            output["traceback"] = [error_line(output)]


def _cut(text: str, limit: int = MAX_STREAM_CHARS) -> str:
    """Keep the start and the end of a long text, with a note of how much was cut."""
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n...({len(text) - limit // 2 - 2000:,} characters cut)...\n" + text[-2000:]


def _truncate_outputs(cell: Any) -> None:
    """Bound a cell's feedback: merged streams and each text field cut to MAX_STREAM_CHARS, at most MAX_OUTPUTS."""
    import nbformat

    streams: dict[str, list[str]] = {}
    kept: list[Any] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            name = output.get("name", "stdout")
            if name not in streams:
                streams[name] = []
                kept.append(nbformat.v4.new_output("stream", name=name, text=""))
            streams[name].append(cell_text(output.get("text")))
        else:
            kept.append(output)
    for output in kept:
        if output.get("output_type") == "stream":
            output["text"] = _cut("".join(streams[output["name"]]))
        if output.get("output_type") == "error" and sum(map(len, output.get("traceback", []))) > MAX_STREAM_CHARS:
            output["traceback"] = [_cut("\n".join(output["traceback"]))]
        for mime, value in dict(output.get("data", {})).items():
            if isinstance(value, str) or isinstance(value, list):
                text = cell_text(value)
                if len(text) > MAX_STREAM_CHARS:
                    output["data"][mime] = _cut(text) if mime.startswith("text/") else "(output too large)"
    if len(kept) > MAX_OUTPUTS:
        dropped = len(kept) - MAX_OUTPUTS
        kept = kept[:MAX_OUTPUTS] + [nbformat.v4.new_output("stream", name="stdout",
                                                            text=f"...({dropped} more outputs cut)...\n")]
    cell["outputs"] = kept


def _md(text: str) -> str:
    """Escape a reason for a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def write_feedback(nb: Any, row: Row, lab: str, profile: str, path: Path,
                   judged: dict[str, list[str]] | None = None) -> None:
    """Write a student's feedback notebook (and its HTML export next to it).

    A graded cell shows the solution's code without its hidden tests, what the kernel printed, and then the
    grader's own lines (``judged``: a tick or a cross per check, as the judges in the grader's process decided).
    """
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    lines = [f"# Feedback: {lab} ({row.student})", "",
             f"**Score: {row.total:g} / {row.maximum:g}**, graded in the `{profile}` profile. "
             "Below, each check shows its points; the code of hidden tests is not shown, their output is.", "",
             "| check | points | why points were lost |", "|---|---|---|"]
    cell_reason = {gid: r.split(": ", 1)[1] for r in row.reasons for gid in r.split(": ", 1)[0].split(", ")
                   if gid in row.points and ": " in r}
    for grade_id, earned in row.points.items():
        lines.append(f"| {grade_id} | {earned:g} / {row.max_points[grade_id]:g} | {_md(cell_reason.get(grade_id, ''))} |")
    notes = [r for r in row.reasons if r.split(": ", 1)[0].split(", ")[0] not in row.points]
    if notes:
        lines += ["", "**Notes**", ""] + [f"* {_md(n)}" for n in notes]
    feedback = new_notebook(metadata=nbformat.from_dict(nb.metadata) if nb is not None else {})
    feedback.cells.append(new_markdown_cell("\n".join(lines)))
    spent = 0
    for cell in nb.cells if nb is not None else []:
        info = cell.metadata.get(META, {})
        if info.get("role") in GRADER_ROLES:
            continue
        cell = nbformat.from_dict(cell)
        cell.metadata.pop(META, None)
        if cell.cell_type == "code":
            _truncate_outputs(cell)
            size = len(json.dumps(cell.get("outputs", [])))
            if spent + size > MAX_FEEDBACK_CHARS:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=(
                    f"(output not shown: this feedback already holds {MAX_FEEDBACK_CHARS:,} characters of output)\n"))]
                size = 0
            spent += size
        if info.get("role") == "graded":
            cell.source = hide_hidden_tests(info.get("shown", cell.source))
            _one_line_errors(cell)
            judged_lines = (judged or {}).get(info.get("grade_id", ""), [])
            if judged_lines:
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text="\n".join(judged_lines) + "\n"))
        feedback.cells.append(cell)
        grade_id = info.get("grade_id", "")
        if info.get("role") == "graded" and grade_id in row.points:
            earned, maximum = row.points[grade_id], row.max_points[grade_id]
            verdict = "\u2713" if earned == maximum else f"\u2717 {cell_reason.get(grade_id, '')}"
            feedback.cells.append(new_markdown_cell(f"**{grade_id}: {earned:g} / {maximum:g} points** {verdict}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(feedback, str(path))
    try:
        from nbconvert import HTMLExporter

        html, _ = HTMLExporter().from_notebook_node(feedback)
        path.with_suffix(".html").write_text(html, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - the notebook is the feedback; HTML is a convenience
        path.with_suffix(".html").write_text(f"<p>HTML export failed: {type(exc).__name__}</p>", encoding="utf-8")


def _number(value: float) -> str:
    """Format points without a trailing .0."""
    return f"{value:g}"


def write_gradebook(rows: list[Row], maxima: dict[str, float], path: Path) -> None:
    """Write gradebook.csv atomically: student, one column per graded cell, total, max, reasons, review."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *maxima, "total", "max", "reasons", "review", "name"])
    for row in sorted(rows, key=lambda r: r.student):
        writer.writerow([row.student, *(_number(row.points.get(g, 0.0)) for g in maxima), _number(row.total),
                         _number(row.maximum), "; ".join(row.reasons), "; ".join(row.review), row.name or row.student])
    write_text(path, buffer.getvalue())


def write_text(path: Path, text: str) -> None:
    """Write a file atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically."""
    write_text(path, json.dumps(data, indent=1, sort_keys=True))


def format_table(rows: list[Row], profile: str) -> str:
    """Return the grading summary as an aligned text table."""
    header = ("student", "score", "why points were lost")
    body = [(r.student, f"{r.total:g} / {r.maximum:g}", one_line("; ".join(r.reasons), 90) or "-")
            for r in sorted(rows, key=lambda r: r.student)]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([f"Profile: {profile}", fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body)])

