"""Shared test set-up: a hermetic home for Keras, IPython, Jupyter and matplotlib."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def pytest_configure(config: pytest.Config) -> None:
    """Keep every tool's state out of $HOME; notebook kernels inherit these variables."""
    home = Path(tempfile.mkdtemp(prefix="cnn-course-test-home-"))
    for var, sub in (("KERAS_HOME", "keras"), ("IPYTHONDIR", "ipython"),
                     ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("MPLCONFIGDIR", "matplotlib")):
        os.environ.setdefault(var, str(home / sub))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The offline copies of the course data (../shared/datasets), or skip."""
    configured = os.environ.get("COURSE_DATA_DIR")
    for candidate in (Path(configured) if configured else None, SHARED_DATASETS):
        if candidate is not None and (candidate / "mnist").is_dir():
            return candidate
    pytest.skip("no offline datasets: set COURSE_DATA_DIR to a folder like ../shared/datasets")
