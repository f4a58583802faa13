"""Assemble the site's sources from build/ and build them with Jupyter Book 1 (Sphinx) into static HTML."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from utils import labs
from utils.book import leaks, notebooks, pages
from utils.book.mathjax import copy_mathjax, find_mathjax
from utils.book.runs import latest_profile, provenance, read_summaries
from utils.course import BRANCH, REPOSITORY

# A local 'Open in Colab' badge: the site loads nothing from the network.
COLAB_BADGE = """<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">
<rect width="117" height="20" rx="3" fill="#555"/><rect x="54" width="63" height="20" rx="3" fill="#f9ab00"/>
<rect x="54" width="6" height="20" fill="#f9ab00"/>
<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="7" y="14">Open in</text><text x="62" y="14" fill="#222">Colab</text></g></svg>
"""
FAVICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f5f99"/>
<path d="M3 3h4v4H3zM9 3h4v4H9zM3 9h4v4H3zM9 9h4v4H9z" fill="#fff" opacity=".8"/></svg>
"""
EXTRA = "_extra"  # copied to the site's root (html_extra_path): the local MathJax
MISSING_RUN = "Nothing has been executed into {build}/executed yet: run `make run` (or `make run PROFILE=smoke`) first."


def output_dir(build: Path, instructor: bool) -> Path:
    """Return where a site goes: build/book, or build/book-instructor for the edition with solutions."""
    return build / ("book-instructor" if instructor else "book")


def _config(mathjax_path: str, instructor: bool) -> dict:
    """Return Jupyter Book's _config.yml: stored outputs only, a local MathJax, no network at build or view time."""
    return {
        "title": "Convolutional networks, hands on" + (" (instructors)" if instructor else ""),
        "author": "the cnn-course authors",
        "copyright": "the cnn-course authors, MIT licence",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence", "dollarmath", "amsmath"]},
        "html": {"use_repository_button": True, "home_page_in_navbar": True, "favicon": "_static/favicon.svg"},
        "repository": {"url": REPOSITORY, "branch": BRANCH},
        "launch_buttons": {"notebook_interface": "jupyterlab"},
        "sphinx": {"extra_extensions": ["utils.book.sphinx_fixes"], "config": {
            "html_context": {"default_mode": "light"},
            "mathjax_path": mathjax_path,
            "mathjax3_config": None,
            "mathjax2_config": {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                                            "processEscapes": True}},
            "html_extra_path": [EXTRA],
            "nb_merge_streams": True,
            "myst_update_mathjax": False,
            "suppress_warnings": ["mystnb.unknown_mime_type", "myst.header"],
        }},
    }


def _toc(labs_stems: list[str], companions: list[str], profiles: list[str]) -> dict:
    """Return Jupyter Book's _toc.yml: the landing page, then labs, companions and results as parts."""
    parts = [{"caption": "Labs", "chapters": [{"file": f"labs/{s}"} for s in labs_stems]},
             {"caption": "Companions", "chapters": [{"file": f"notebooks/{s}"} for s in companions]}]
    if profiles:
        parts.append({"caption": "Results", "chapters": [{"file": f"results/{p}"} for p in profiles]})
    return {"format": "jb-book", "root": "index", "parts": parts}


def assemble(build: Path, src: Path, instructor: bool) -> None:
    """Write the site's sources into ``src``: pages, notebooks, figures, the badge and MathJax."""
    executed = build / "executed"
    if not any(executed.glob("*.ipynb")):
        raise FileNotFoundError(MISSING_RUN.format(build=build))
    if src.exists():
        shutil.rmtree(src)
    static = src / "_static"
    static.mkdir(parents=True)
    (static / "colab-badge.svg").write_text(COLAB_BADGE, encoding="utf-8")
    (static / "favicon.svg").write_text(FAVICON, encoding="utf-8")
    mathjax_path = copy_mathjax(find_mathjax(os.environ.get("MATHJAX_DIR")), src / EXTRA)
    summaries = read_summaries(build)
    latest = {p.stem: latest_profile(build, summaries, p.stem)
              for p in labs.solution_paths() + sorted(labs.NOTEBOOKS.glob("*.ipynb"))}

    def where(stem: str) -> str:
        profile = latest[stem]
        summary = next((s for s in summaries if s.profile == profile), None)
        return provenance(summary.row(stem) if summary else None, profile)

    lab_pages, companion_pages = [], []
    for solution in labs.solution_paths():
        run = notebooks.read_executed(executed, solution.stem)
        make = notebooks.instructor_page if instructor else notebooks.student_page
        lab_pages.append((solution.stem, make(solution, run, where(solution.stem))))
    for companion in sorted(labs.NOTEBOOKS.glob("*.ipynb")):
        run = notebooks.read_executed(executed, companion.stem)
        companion_pages.append((companion.stem, notebooks.companion_page(companion, run, where(companion.stem))))
    for folder, items in (("labs", lab_pages), ("notebooks", companion_pages)):
        for stem, nb in items:
            labs.write(nb, src / folder / f"{stem}.ipynb")

    figures: dict[str, Path] = {}
    for stem, nb in lab_pages + companion_pages:
        png = pages.last_figure(nb)  # from the page itself: a student lab's figures are its given cells'
        if png:
            figures[stem] = src / "results" / "figures" / f"{stem}.png"
            figures[stem].parent.mkdir(parents=True, exist_ok=True)
            figures[stem].write_bytes(png)
    for summary in summaries:
        (src / "results").mkdir(exist_ok=True)
        (src / "results" / f"{summary.profile}.md").write_text(pages.results(summary, figures, latest), encoding="utf-8")
    (src / "index.md").write_text(pages.landing(lab_pages, companion_pages, summaries, instructor), encoding="utf-8")
    (src / "_config.yml").write_text(yaml.safe_dump(_config(mathjax_path, instructor), sort_keys=False), encoding="utf-8")
    toc = _toc([s for s, _ in lab_pages], [s for s, _ in companion_pages], [s.profile for s in summaries])
    (src / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False), encoding="utf-8")


def build(build: Path, instructor: bool = False, quiet: bool = True) -> Path:
    """Build the site from build/executed and build/summary-*.json; return the folder of its HTML."""
    try:
        from jupyter_book.sphinx import build_sphinx
    except ImportError:
        raise RuntimeError("Jupyter Book is not installed in this environment: run `make setup` "
                           "(or `pip install -e .[book]`).") from None
    out = output_dir(build.resolve(), instructor)
    src, html = out / "src", out / "html"
    assemble(build, src, instructor)
    if html.exists():
        shutil.rmtree(html)
    overrides = {"external_toc_path": (src / "_toc.yml").as_posix(), "latex_individualpages": False}
    status = build_sphinx(str(src), str(html), noconfig=True, path_config=str(src / "_config.yml"),
                          confoverrides=overrides, doctreedir=str(out / ".doctrees"), freshenv=True, quiet=quiet,
                          keep_going=True)
    if status:
        raise RuntimeError(f"Jupyter Book could not build the site from {src} (Sphinx exit status {status}); "
                           "its messages are above.")
    if not instructor:
        found = leaks.find_leaks(out)
        if found:
            shutil.rmtree(html)
            raise RuntimeError(f"The student site would show solution code ({leaks.describe(found)}); it was deleted.")
    return html
