"""The course as a static website (``make book``): labs, companions and results built with Jupyter Book 1.

Modules: ``runs`` (what `make run` left in build/), ``notebooks`` (the notebooks the pages show), ``pages`` (the
landing and results pages), ``mathjax`` (a local MathJax), ``site`` (sources and the Sphinx build), ``leaks`` (no
solution line on the student site), ``browser`` (headless Chromium checks and screenshots).
"""

from utils.book.site import build, output_dir

__all__ = ["build", "output_dir"]
