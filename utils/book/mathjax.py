"""A local copy of MathJax 2 (Debian's libjs-mathjax) inside the site, so its math renders without a network."""

from __future__ import annotations

import shutil
from pathlib import Path

# Where Debian's libjs-mathjax (and fonts-mathjax) put MathJax 2.7; MATHJAX_DIR in the environment overrides it.
CANDIDATES = (Path("/usr/share/javascript/mathjax"), Path("/usr/share/mathjax"))
CONFIG = "TeX-AMS_CHTML"  # TeX input, CommonHTML output: needs only the TeX woff fonts
# What that configuration loads (about 3 MB of the package's 54).
PARTS = ("MathJax.js", f"config/{CONFIG}.js", "extensions", "jax/element", "jax/input/TeX",
         "jax/output/CommonHTML", "fonts/HTML-CSS/TeX/woff")
INSTALL_HINT = "sudo apt-get install libjs-mathjax fonts-mathjax (or `make setup` as root)"


def find_mathjax(override: str | None = None) -> Path:
    """Return the folder of an installed MathJax 2, or raise FileNotFoundError saying how to install it."""
    candidates = (Path(override),) if override else CANDIDATES
    for folder in candidates:
        if (folder / "MathJax.js").is_file():
            return folder
    where = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"MathJax 2 was not found in {where}; install it with {INSTALL_HINT}.")


def copy_mathjax(source: Path, extra: Path) -> str:
    """Copy the parts of MathJax the site uses into ``extra``/mathjax; return the path Sphinx's mathjax_path takes.

    ``extra`` is one of Sphinx's html_extra_path folders, copied to the site's root: not _static, whose every .js file
    Jupyter Book adds to every page.
    """
    target = extra / "mathjax"
    if target.exists():
        shutil.rmtree(target)
    for part in PARTS:
        origin = source / part
        if origin.is_dir():
            shutil.copytree(origin, target / part, symlinks=False)
        elif origin.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / part)
        else:
            raise FileNotFoundError(f"MathJax at {source} lacks {part}; reinstall it with {INSTALL_HINT}.")
    return f"../mathjax/MathJax.js?config={CONFIG}"  # Sphinx reads it relative to _static
