"""The course's repository, version and Colab set-up, in one place.

Every notebook's setup cell opens with a few lines that install the course where it is missing (Colab, or any
Python without ``make setup``): ``pip`` installs the package from :data:`REPOSITORY` at the tag of this version,
whose dependencies leave an installed TensorFlow alone (TensorFlow itself is in the ``cpu`` extra that ``make
setup`` installs), then a lab prepares the datasets it loads. ``python -m utils labs`` writes those lines from
here into ``solutions/`` and ``notebooks/`` before generating ``labs/``, and the README's "Open in Colab" badges
come from here too; the tests check that nothing drifted.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path, PurePosixPath

REPOSITORY = "https://github.com/cnn-course/cnn-course"
BRANCH = "main"  # what the badges open
PACKAGE = "cnn-course"
COLAB = "https://colab.research.google.com/github/"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

ROOT = Path(__file__).resolve().parent.parent
_BOOTSTRAP_FIRST_LINE = "try:  # Colab, or a Python without the course:"


def version() -> str:
    """Return the course's version: pyproject.toml's in a checkout, else the installed package's."""
    pyproject = ROOT / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        if re.search(rf'^name = "{PACKAGE}"$', text, re.M):
            found = re.search(r'^version = "([^"]+)"$', text, re.M)
            if found:
                return found.group(1)
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def tag() -> str:
    """Return the git tag of this version, which the notebooks install from."""
    return f"v{version()}"


def pip_requirement() -> str:
    """Return the requirement that installs this version of the course from its repository."""
    return f"{PACKAGE} @ git+{REPOSITORY}@{tag()}"


def github_slug(repository: str = REPOSITORY) -> str:
    """Return 'owner/name' of a GitHub repository address."""
    prefix = "https://github.com/"
    if not repository.startswith(prefix) or repository.rstrip("/").count("/") != 4:
        raise ValueError(f"{repository!r} is not a GitHub repository address like {prefix}OWNER/NAME.")
    return repository[len(prefix):].rstrip("/")


def colab_url(path: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Return the address that opens the notebook at ``path`` (relative to the repository root) in Colab."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or relative.suffix != ".ipynb":
        raise ValueError(f"{path!r} is not a notebook path relative to the repository root, like labs/02_x.ipynb.")
    return f"{COLAB}{github_slug(repository)}/blob/{branch}/{relative}"


def badge(path: str) -> str:
    """Return the Markdown "Open in Colab" badge of the notebook at ``path``."""
    return f"[![Open in Colab]({COLAB_BADGE})]({colab_url(path)})"


def student_notebooks() -> list[str]:
    """Return the notebooks students open (the labs, then the companions), relative to the repository root."""
    return [p.relative_to(ROOT).as_posix() for folder in ("labs", "notebooks")
            for p in sorted((ROOT / folder).glob("*.ipynb"))]


def bootstrap(lab: str | None) -> str:
    """Return the setup cell's first lines: install the course where it is missing, then lab ``lab``'s data."""
    lines = [
        f"{_BOOTSTRAP_FIRST_LINE} install it (TensorFlow stays as it is)",
        "    import utils",
        "except ImportError:",
        f'    %pip install -q "{pip_requirement()}"',
    ]
    if lab is not None:
        lines.append(f'    from utils.data import prepare_lab; prepare_lab("{lab}")  # the datasets this lab loads')
    return "\n".join(lines) + "\n"


def with_bootstrap(source: str, lab: str | None) -> str:
    """Return a setup cell's source with its first lines replaced by (or preceded by) the current bootstrap."""
    lines = source.splitlines(keepends=True)
    if lines and lines[0].startswith(_BOOTSTRAP_FIRST_LINE):
        end = 1
        while end < len(lines) and (lines[end].startswith((" ", "except ImportError:")) or not lines[end].strip()):
            end += 1
        lines = lines[end:]
    return bootstrap(lab) + "\n" + "".join(lines)


def with_badge(source: str, path: str) -> str:
    """Return the Markdown cell before a setup cell, ending with the Colab badge of the notebook at ``path``."""
    lines = source.rstrip("\n").splitlines()
    badge_at = next((i for i, line in enumerate(lines) if line.startswith("[![Open in Colab]")), len(lines))
    kept = "\n".join(lines[:badge_at]).rstrip()
    note = "In Colab, the first lines below install the course at this version, leaving Colab's TensorFlow as it is"
    note += (", and\nfetch this lab's data; elsewhere" if path.startswith("labs/") else ";\nelsewhere") + " they do nothing."
    return f"{kept}\n\n{badge(path)}\n{note}"


def lab_number(path: Path) -> str | None:
    """Return the lab number of a solution or lab notebook ('01'), or None for a companion."""
    return path.name[:2] if path.parent.name in ("solutions", "labs") else None
