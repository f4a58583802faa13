"""Colab, simulated: a lab copied alone into an empty folder, run by a fresh Python that already has TensorFlow.

Colab cannot be reached from a test, so this builds what a notebook finds there: a new virtual environment holding the
full ``tensorflow`` package from PyPI and ``ipykernel``, and nothing of the course. The lab's own first lines must
install the course from the address and tag in ``utils/course.py`` (git's ``url.<base>.insteadOf`` sends pip's clone
of that address to a snapshot of this working tree, tagged with the version), prepare only the lab's datasets (served
from the offline copies on 127.0.0.1 through ``COURSE_DATA_MIRROR``) and run to the first exercise's check, leaving
every package that was there, TensorFlow first, as it was. It downloads TensorFlow (600 MB) unless pip's cache holds it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Iterator

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from utils import course, data

ROOT = Path(__file__).resolve().parent.parent
LAB = "01_backprop_by_hand.ipynb"
pytestmark = pytest.mark.colab


def _tensorflow_requirement() -> str:
    """The full tensorflow package at the version the course pins tensorflow-cpu to (what Colab would bring)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    pinned = next(Requirement(spec) for spec in extras["cpu"] if Requirement(spec).name == "tensorflow-cpu")
    return f"tensorflow{pinned.specifier}"


def _installed(python: Path) -> dict[str, str]:
    """Every distribution installed for ``python``, by canonical name, with its version."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True,
                         check=True).stdout
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


def _snapshot(folder: Path) -> Path:
    """A git repository of this working tree (tracked and new files), tagged like the course's release."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: no snapshot of the course to install from")
    for name in filter(None, listed.stdout.split(b"\0")):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            (folder / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, folder / os.fsdecode(name))
    git = ["git", "-C", str(folder), "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"], ["tag", course.tag()]):
        subprocess.run(git + args, check=True, capture_output=True)
    return folder


@pytest.fixture
def fresh_python(tmp_path: Path) -> Iterator[Path]:
    """A new virtual environment with the full tensorflow package and ipykernel only; deleted afterwards (2 GB)."""
    venv = tmp_path / "venv"
    try:
        for command in ([sys.executable, "-m", "venv", str(venv)],
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", _tensorflow_requirement(),
                         "ipykernel"]):
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(command[:4])} failed: {done.stderr.strip()[-2000:]}", pytrace=False)
        yield venv / "bin" / "python"
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def test_a_lab_alone_in_a_fresh_python_with_tensorflow_installs_the_course_and_reaches_its_first_exercise(
        tmp_path: Path, fresh_python: Path, server, shared_datasets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    start = time.perf_counter()
    python, venv = fresh_python, fresh_python.parent.parent
    before = _installed(python)
    assert "tensorflow" in before and "tensorflow-cpu" not in before and course.PACKAGE not in before

    snapshot = _snapshot(tmp_path / "repository")
    served = ("mnist", "fashion_mnist", "membrane")  # more than Lab 1 loads: it must fetch only its own
    for entry in (e for name in served for e in data.DATASETS[name] if (shared_datasets / e.path).is_file()):
        server.serve(f"/{entry.path}", (shared_datasets / entry.path).read_bytes())
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab, simulated", "language": "python"}))
    for name, value in {
        "JUPYTER_PATH": str(tmp_path / "jupyter"), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "VIRTUAL_ENV": str(venv), "COURSE_PROFILE": "smoke", "COURSE_DATA_MIRROR": server.url("/"),
        "COURSE_DATA_DIR": str(tmp_path / "data"), "COURSE_TFDS_DIR": str(tmp_path / "tfds"),
        "COURSE_MODEL_DIR": str(tmp_path / "models"),
        "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.{snapshot.as_uri()}.insteadOf",
        "GIT_CONFIG_VALUE_0": course.REPOSITORY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PYTHONPATH", raising=False)

    work = tmp_path / "content"  # Colab's working folder: the notebook and nothing else
    work.mkdir()
    shutil.copy2(ROOT / "labs" / LAB, work / LAB)
    nb = nbformat.read(work / LAB, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="colab", resources={"metadata": {"path": str(work)}})
    try:
        with pytest.raises(CellExecutionError):
            client.execute()
    finally:
        nbformat.write(nb, tmp_path / "executed.ipynb")  # what the student would have seen, kept with tmp_path
    seconds = time.perf_counter() - start

    errors = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1, [o.get("ename") for _, o in errors]
    index, error = errors[0]
    assert error["ename"] == "NotImplementedYet", error["traceback"]
    first_answer = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    assert index == next(i for i, c in enumerate(nb.cells) if i > first_answer and
                         c.metadata.get("nbgrader", {}).get("grade")), "it stopped before the first exercise's check"

    after = _installed(python)
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert not changed, f"installing the course changed packages that were there: {changed}"
    assert "tensorflow-cpu" not in after and after[course.PACKAGE] == course.version()
    assert sorted(server.requests) == sorted(f"/{e.path}" for e in data.DATASETS["mnist"])
    print(f"\nColab simulation: tensorflow {before['tensorflow']} before and after, {len(before)} packages unchanged; "
          f"the lab installed the course and reached its first exercise in {seconds:.0f} s")
