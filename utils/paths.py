"""The course's folders, in one place: the repository, the data cache, prepared datasets, trained models.

* ``data_dir()``: the verified canonical files (``$COURSE_DATA_DIR``, else
  ``$XDG_CACHE_HOME/cnn-course/datasets``, else ``~/.cache/cnn-course/datasets``).
  It may be read-only: a shared copy in a classroom, a USB stick.
* ``tfds_dir()``: tensorflow-datasets' data directory, where each dataset is
  prepared once from those files (``$COURSE_TFDS_DIR``, else
  ``cnn-course/tensorflow_datasets`` in the user cache). It does not follow
  ``$COURSE_DATA_DIR``, which often points at a read-only copy.
* ``model_dir()``: the course's trained encoders (``$COURSE_MODEL_DIR``, else
  ``cnn-course/models`` in the user cache).

A relative path in one of these variables is taken from the repository root, so
notebooks (which run in their own folders), tests and the command line agree. When
the user cache cannot be created or written (a read-only home, as on some CI
runners), the writable folders fall back to ``cnn-course-$USER`` in the system's
temporary directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _from_env(name: str) -> Path | None:
    """Return the folder named by environment variable ``name``, relative paths from the repository root."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


def _user_cache() -> tuple[Path, str]:
    """Return the user's cache folder for the course and where that choice came from."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).expanduser().is_absolute():
        return Path(xdg).expanduser() / "cnn-course", "from XDG_CACHE_HOME"
    return Path.home() / ".cache" / "cnn-course", "the default"


def usable(folder: Path) -> bool:
    """Return True when ``folder`` exists and is writable, or can be created."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def _writable_cache(variable: str, name: str) -> Path:
    """Return ``$variable``, else the user cache's ``name`` folder, else one in the temporary directory."""
    chosen = _from_env(variable)
    if chosen is not None:
        return chosen
    default = _user_cache()[0] / name
    if usable(default):
        return default
    user = os.environ.get("USER") or os.environ.get("USERNAME") or str(os.getuid() if hasattr(os, "getuid") else "")
    return Path(tempfile.gettempdir()) / f"cnn-course-{user}" / name


def data_dir_and_origin() -> tuple[Path, str]:
    """Return the data cache folder and a few words saying where that choice came from."""
    chosen = _from_env("COURSE_DATA_DIR")
    if chosen is not None:
        return chosen, "from COURSE_DATA_DIR"
    cache, origin = _user_cache()
    return cache / "datasets", origin


def data_dir() -> Path:
    """Return the folder of verified canonical data files (it may be read-only)."""
    return data_dir_and_origin()[0]


def tfds_dir() -> Path:
    """Return tensorflow-datasets' data directory for the course's prepared datasets."""
    return _writable_cache("COURSE_TFDS_DIR", "tensorflow_datasets")


def model_dir() -> Path:
    """Return the folder of the course's trained encoders."""
    return _writable_cache("COURSE_MODEL_DIR", "models")
