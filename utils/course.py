"""Where the course lives: its public repository, and the Colab address of a notebook in it (one place for both)."""

from __future__ import annotations

from pathlib import PurePosixPath

REPOSITORY = "https://github.com/cnn-course/cnn-course"
BRANCH = "main"
COLAB = "https://colab.research.google.com/github"


def github_slug(repository: str = REPOSITORY) -> str:
    """Return 'owner/name' of a GitHub repository address."""
    prefix = "https://github.com/"
    if not repository.startswith(prefix) or repository.rstrip("/").count("/") != 4:
        raise ValueError(f"{repository!r} is not a GitHub repository address like {prefix}OWNER/NAME.")
    return repository[len(prefix):].rstrip("/")


def colab_url(path: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Return the address that opens a notebook of the repository (path relative to its root) in Colab."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or relative.suffix != ".ipynb":
        raise ValueError(f"{path!r} is not a notebook path relative to the repository root, like labs/02_x.ipynb.")
    return f"{COLAB}/{github_slug(repository)}/blob/{branch}/{relative}"
