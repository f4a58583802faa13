"""The site's own pages, in MyST markdown: the landing page and one results page per profile."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from nbformat import NotebookNode

from utils.book.runs import Summary, provenance
from utils.course import REPOSITORY, colab_url

BADGE = "![Open in Colab](_static/colab-badge.svg)"


def title_and_goal(nb: NotebookNode) -> tuple[str, str]:
    """Return a notebook's title (its first heading, without 'Lab N:') and the first sentence of its Goal."""
    first = nb.cells[0].source if nb.cells else ""
    heading = next((line[2:].strip() for line in first.splitlines() if line.startswith("# ")), "")
    title = re.sub(r"^Lab \d+:\s*", "", heading)
    goal = re.search(r"\*\*Goal\.\*\*\s*(.+?[.!?])(\s|$)", " ".join(first.split()))
    return title, goal.group(1) if goal else ""


def landing(labs: list[tuple[str, NotebookNode]], companions: list[tuple[str, NotebookNode]],
            summaries: list[Summary], instructor: bool) -> str:
    """Return the landing page: what the course teaches, the labs, the companions, results, and how to start."""
    edition = " (instructor edition, with solutions)" if instructor else ""
    lines = [f"# Convolutional networks, hands on{edition}", "",
             "An open course on convolutional networks with Keras 3 on TensorFlow, taught through Jupyter notebooks. "
             "Each lab trains on real data, asks you to write the key pieces yourself (convolution and its backward "
             "pass, batch norm, residual blocks, transfer learning, U-Net, Siamese networks), checks every exercise "
             "with a one-sentence verdict, and ends with assertions on what the network actually learned.", "",
             "## The labs", "", "| # | lab | goal | open |", "|---|-----|------|------|"]
    for stem, nb in labs:
        title, goal = title_and_goal(nb)
        lines.append(f"| {int(stem[:2])} | [{title}](labs/{stem}.ipynb) | {goal} | "
                     f"[{BADGE}]({colab_url(f'labs/{stem}.ipynb')}) |")
    lines += ["", "## Companions", "", "Demonstrations without exercises, each with assertions on what it shows:", ""]
    lines += [f"* [{title_and_goal(nb)[0]}](notebooks/{stem}.ipynb): {title_and_goal(nb)[1]}" for stem, nb in companions]
    if summaries:
        lines += ["", "## Results", "", "What the course's own runs measured, per profile:", ""]
        lines += [f"* [{s.profile} profile](results/{s.profile}.md)" for s in summaries]
    lines += ["", "## Start locally", "",
              "You need Python 3.10 to 3.13, `make`, and about 2.5 GB of disk for the virtual environment.", "",
              "```bash", f"git clone {REPOSITORY}.git", f"cd {REPOSITORY.rstrip('/').rsplit('/', 1)[1]}",
              "make setup     # .venv with the course, its dependencies and the Jupyter kernel",
              "source .venv/bin/activate", "jupyter lab labs/", "```", "",
              "## Start in Colab", "",
              f"Each lab's {BADGE} badge opens the student notebook from the [course repository]({REPOSITORY}) in "
              "Google Colab. Work through the exercises there; the check cell under each one gives its verdict.", ""]
    return "\n".join(lines)


def last_figure(nb: NotebookNode) -> bytes | None:
    """Return the last PNG figure a notebook's run produced, or None."""
    for cell in reversed(nb.cells):
        for output in reversed(cell.get("outputs", [])):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode(png if isinstance(png, str) else "".join(png))
    return None


def _cell(value: object) -> str:
    """Return a value for a markdown table cell (pipes escaped)."""
    return str(value).replace("|", "\\|")


def results(summary: Summary, figures: dict[str, Path], latest: dict[str, str | None]) -> str:
    """Return a profile's results page: where and when it ran, the summary table, headline metrics and figures."""
    dated = sorted({(row["finished"][:10], row.get("machine") or "an unrecorded machine")
                    for row in summary.rows if row.get("finished")})
    runs = [f"{date} on {machine}" for date, machine in dated]
    undated = sum(not row.get("finished") for row in summary.rows)
    if undated:
        runs.append(f"{undated} row(s) from runs made before `make run` recorded the date and machine")
    lines = [f"# Results: the {summary.profile} profile", "",
             f"The table is `build/summary-{summary.profile}.json`, the latest run of each notebook in this profile "
             "(`make run PROFILE=" + summary.profile + "`). Runs: " + "; ".join(runs) + ".", "",
             "| notebook | status | wall time | CPU time | headline metrics |", "|---|---|--:|--:|---|"]
    for row in summary.rows:
        cpu = "-" if row.get("cpu_seconds") is None else f"{row['cpu_seconds']:.1f} s"
        metrics = "; ".join(f"{k} {v:.4g}" for k, v in row.get("metrics", {}).items()) or "-"
        lines.append(f"| {_cell(row['notebook'])} | {_cell(row['status'])} | {row['seconds']:.1f} s | {cpu} | "
                     f"{_cell(metrics)} |")
    for row in summary.rows:
        stem = row["notebook"]
        lines += ["", f"## {stem}", "", f"Run: {provenance(row, summary.profile)}; {row['status']}."]
        if row.get("error"):
            lines += ["", f"Error: `{row['error']}`"]
        lines += [""] + [f"* {name}: {value:.4g}" for name, value in row.get("metrics", {}).items()]
        if stem in figures and latest.get(stem) == summary.profile:
            lines += ["", f"![The last figure of {stem}'s run](figures/{figures[stem].name})"]
        elif stem in figures:
            lines += ["", f"The latest executed run of {stem} is from another profile, so its figures are not shown here."]
    return "\n".join(lines) + "\n"
