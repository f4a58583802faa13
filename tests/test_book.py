"""`make book`: the site built from a run, without solutions for students, with them for instructors, checked in Chromium.

The site is built from a small fixture instead of a real run (CI's budget has no room to execute every notebook
again): build/executed holds Lab 2 and one companion with outputs made here, including outputs that must never reach
students (exercise cells' output, stderr quoting solution code, a traceback, widget state); the other labs have no run.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from utils import labs
from utils.book import leaks
from utils.course import REPOSITORY, colab_url, github_slug

ROOT = labs.ROOT
LAB, COMPANION = "02_convolution", "04_architectures_by_numbers"
SCREENSHOTS = ROOT / "build" / "book" / "screenshots" / "fixture"
MISSING = [name for name in ("jupyter_book", "selenium") if importlib.util.find_spec(name) is None]


def _needs(tools: bool) -> None:
    """Skip without the book's tools on a developer's machine; fail in CI, where `make setup` installs them."""
    if tools:
        return
    message = f"make book's tools are missing ({', '.join(MISSING) or 'chromium, chromedriver or MathJax'}): run `make setup`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _png() -> str:
    """Return a small PNG figure, base64-encoded as notebooks store it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 80, 40)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _fake_run(path: Path) -> nbformat.NotebookNode:
    """Return a notebook as if executed: every code cell prints, some draw; exercise cells and stderr quote secrets."""
    nb = labs.read(path)
    secret = sorted(labs.secret_lines(path)) if path.parent == labs.SOLUTIONS else []
    png = _png()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"given output {cell.id}\n")]
        if index % 3 == 0:
            cell.outputs.append(nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}))
        if secret:
            cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=f"Warning: {secret[0]}\n"))
            cell.outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="x",
                                                       traceback=[f"----> 1 {secret[1]}"]))
            cell.outputs.append(nbformat.v4.new_output(
                "display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "m"}}))
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"{secret[2]}\n"))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def _row(stem: str, finished: str = "", machine: str = "") -> dict:
    """Return a summary row as `make run` writes it."""
    row = {"notebook": stem, "status": "passed", "seconds": 8.1, "metrics": {"LeNet-5 test accuracy": 0.9354},
           "error": "", "cpu_seconds": 7.5}
    return {**row, "finished": finished, "machine": machine} if finished else row


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build folder as `make run` leaves it, for Lab 2 and one companion (smoke), and an older cpu summary."""
    build = tmp_path_factory.mktemp("build")
    (build / "executed").mkdir()
    labs.write(_fake_run(labs.SOLUTIONS / f"{LAB}.ipynb"), build / "executed" / f"{LAB}.ipynb")
    labs.write(_fake_run(labs.NOTEBOOKS / f"{COMPANION}.ipynb"), build / "executed" / f"{COMPANION}.ipynb")
    smoke = {"profile": "smoke", "results": [_row(LAB, "2026-11-30T22:00:00+0000", "Test CPU, 2 cores; Linux; no GPU"),
                                             _row(COMPANION, "2026-11-30T22:01:00+0000", "Test CPU, 2 cores; Linux; no GPU")]}
    (build / "summary-smoke.json").write_text(json.dumps(smoke), encoding="utf-8")
    (build / "summary-cpu.json").write_text(json.dumps({"profile": "cpu", "results": [_row(LAB)]}), encoding="utf-8")
    return build


@pytest.fixture(scope="module")
def student_site(run_dir: Path) -> Path:
    """The student site built from the fixture run."""
    _needs(not MISSING)
    from utils import book

    return book.build(run_dir)


@pytest.fixture(scope="module")
def instructor_site(run_dir: Path) -> Path:
    """The instructor site built from the fixture run."""
    _needs(not MISSING)
    from utils import book

    return book.build(run_dir, instructor=True)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_colab_url_names_the_repository_and_the_lab() -> None:
    assert colab_url("labs/02_convolution.ipynb") == (
        f"https://colab.research.google.com/github/{github_slug()}/blob/main/labs/02_convolution.ipynb")
    assert REPOSITORY == f"https://github.com/{github_slug()}"


@pytest.mark.parametrize("bad", ["/labs/02.ipynb", "labs/02.py"])
def test_colab_url_refuses_a_bad_path_in_one_sentence(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^'.*' is not a notebook path relative to the repository root, like .*\.$"):
        colab_url(bad)


def test_book_before_any_run_says_so_in_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from utils.cli import main

    _needs(not MISSING)
    assert main(["book", "--build", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Nothing has been executed") and "make run" in err and "\n" not in err, err


def test_a_page_per_lab_companion_and_profile(student_site: Path) -> None:
    pages = {p.relative_to(student_site).as_posix() for p in student_site.rglob("*.html")}
    expected = {f"labs/{p.stem}.html" for p in labs.solution_paths()}
    expected |= {f"notebooks/{p.stem}.html" for p in labs.NOTEBOOKS.glob("*.ipynb")}
    expected |= {"index.html", "results/smoke.html", "results/cpu.html"}
    assert expected <= pages, sorted(expected - pages)


def test_student_site_shows_no_solution_or_hidden_test_line(student_site: Path) -> None:
    found = leaks.find_leaks(student_site.parent)
    assert not found, f"solution lines on the student site: {leaks.describe(found)}"


def test_student_lab_shows_given_outputs_and_figures_only(student_site: Path) -> None:
    page = _text(student_site / "labs" / f"{LAB}.html")
    solution = labs.read(labs.SOLUTIONS / f"{LAB}.ipynb")
    given = [c.id for c in solution.cells if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("solution")
             and labs.BEGIN_HIDDEN not in c.source]
    exercises = [c.id for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert all(f"given output {cid}" in page for cid in given)
    assert not [cid for cid in exercises if f"given output {cid}" in page], "an exercise cell shows the solution's output"
    assert "# YOUR CODE HERE" in page and "<img" in page
    assert "Traceback" not in page and "Warning:" not in page and "widget" not in page.lower()
    assert colab_url(f"labs/{LAB}.ipynb") in page


def test_unexecuted_lab_says_it_has_not_run(student_site: Path) -> None:
    assert "has not been run for the site yet" in _text(student_site / "labs" / "01_backprop_by_hand.html")


def test_results_page_states_machine_date_metrics_and_figures(student_site: Path) -> None:
    smoke = _text(student_site / "results" / "smoke.html")
    assert "Test CPU, 2 cores" in smoke and "2026-11-30" in smoke and "0.9354" in smoke and "<img" in smoke
    assert "8.1 s" in smoke and "7.5 s" in smoke
    cpu = _text(student_site / "results" / "cpu.html")
    assert "another profile" in cpu  # the executed Lab 2 is the smoke run: its figures are not cpu's


def test_landing_page_lists_every_lab_with_colab_and_how_to_start(student_site: Path) -> None:
    page = _text(student_site / "index.html")
    for path in labs.solution_paths():
        assert colab_url(f"labs/{path.name}") in page and f'href="labs/{path.stem}.html"' in page
    text = html.unescape(leaks.TAG.sub("", page))
    assert "make setup" in text and f"git clone {REPOSITORY}.git" in text and "results/smoke.html" in page


def test_site_uses_its_own_mathjax(student_site: Path) -> None:
    page = _text(student_site / "labs" / f"{LAB}.html")
    assert 'src="../_static/../mathjax/MathJax.js?config=TeX-AMS_CHTML"' in page
    assert (student_site / "mathjax" / "MathJax.js").is_file()
    assert "cdn.jsdelivr.net" not in page and "unpkg.com/mathjax" not in page


def test_instructor_site_contains_the_solutions(instructor_site: Path) -> None:
    found = leaks.find_leaks(instructor_site)
    lab_page = f"labs/{LAB}.html"
    assert lab_page in found and len(found[lab_page]) >= 10, sorted(found)
    assert "### BEGIN HIDDEN TESTS" in _text(instructor_site / lab_page)
    assert "instructor" in _text(instructor_site / "index.html").lower()


def _browser_ready() -> bool:
    from utils.book.browser import BROWSERS, DRIVERS

    return not MISSING and any(shutil.which(b) for b in BROWSERS) and any(shutil.which(d) for d in DRIVERS)


def test_site_in_headless_chromium(student_site: Path) -> None:
    """Every page: no console error, links resolve, math rendered, figures drawn, Colab links right; screenshots."""
    _needs(_browser_ready())
    from utils.book.browser import check_site

    report = check_site(student_site, SCREENSHOTS)
    assert report.ok, report.summary()
    assert len(report.pages) >= 13
    assert sum(p.math.get("rendered", 0) for p in report.pages.values()) > 100
    assert report.pages[f"labs/{LAB}.html"].images > 5
    assert {p.name for p in report.screenshots} == {"landing.png", f"{LAB}.png"}
    assert all(p.stat().st_size > 10_000 for p in report.screenshots)
