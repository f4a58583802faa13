"""Every lab and companion opens in Colab: one repository and version, the README's badges, the setup cells' lines."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import utils
from utils import course, labs

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NOTEBOOKS = [*labs.solution_paths(), *sorted(labs.LABS.glob("*.ipynb")), *sorted(labs.NOTEBOOKS.glob("*.ipynb"))]


def test_the_version_is_pyprojects_and_the_requirement_installs_its_tag() -> None:
    assert course.version() == PROJECT["version"] == utils.__version__
    requirement = Requirement(course.pip_requirement())
    assert requirement.name == PROJECT["name"] == course.PACKAGE
    assert requirement.url == f"git+{course.REPOSITORY}@v{PROJECT['version']}"
    assert not requirement.extras  # the package's own dependencies are the Colab set


def test_the_readme_has_a_colab_badge_for_every_lab_and_companion() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Read online / Open in Colab\n", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)\s]+)\)", section)
    expected = [course.colab_url(path) for path in course.student_notebooks()]
    assert found == expected
    assert len(expected) == len(labs.solution_paths()) + len(list(labs.NOTEBOOKS.glob("*.ipynb")))
    assert all(course.badge(path) in section for path in course.student_notebooks())
    assert f'%pip install "{course.pip_requirement()}"' in section
    assert "make book" in section
    assert readme.index("## The labs") < readme.index("## Read online / Open in Colab") < readme.index("## For students")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem[:2]}")
def test_every_setup_cell_starts_by_installing_the_course_where_it_is_missing(path: Path) -> None:
    nb = labs.read(path)
    index = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    setup, before = nb.cells[index].source, nb.cells[index - 1]
    lab = course.lab_number(path)
    assert setup.startswith(course.bootstrap(lab) + "\n"), f"run `make labs` to write {path.name}'s Colab set-up"
    assert (f'prepare_lab("{lab}")' in setup) == (lab is not None)
    opened = labs.LABS / path.name if path.parent == labs.SOLUTIONS else path
    assert before.cell_type == "markdown" and course.badge(opened.relative_to(ROOT).as_posix()) in before.source
    python = TransformerManager().transform_cell(setup)  # the %pip line is IPython; the rest must parse as Python
    assert "get_ipython().run_line_magic('pip', 'install -q" in python
    ast.parse(python)


def test_the_bootstrap_is_replaced_not_stacked() -> None:
    rest = 'from utils import start_lab\n\ncfg = start_lab("backprop")\n'
    old = course.bootstrap("01").replace(course.tag(), "v0.0.9") + "\n" + rest
    assert course.with_bootstrap(old, "01") == course.with_bootstrap(rest, "01") == course.bootstrap("01") + "\n" + rest
    assert course.with_bootstrap(course.with_bootstrap(rest, None), None) == course.bootstrap(None) + "\n" + rest
    cell = "## Setup\n\nSome words."
    assert course.with_badge(course.with_badge(cell, "labs/01_x.ipynb"), "labs/01_x.ipynb") == \
        course.with_badge(cell, "labs/01_x.ipynb")
    assert course.with_badge(cell, "labs/01_x.ipynb").startswith(cell + "\n\n[![Open in Colab]")


def test_the_package_leaves_tensorflow_and_jupyter_to_the_environment() -> None:
    """Colab's TensorFlow (its GPU build) and its Jupyter must survive installing the course there."""
    names = {canonicalize_name(Requirement(spec).name) for spec in PROJECT["dependencies"]}
    forbidden = {"tensorflow", "tensorflow-cpu", "ipykernel", "ipython", "notebook", "jupyterlab", "jupyter-server",
                 "nbgrader", "tornado"}
    assert not names & forbidden
    extras = PROJECT["optional-dependencies"]
    assert "tensorflow-cpu" in {canonicalize_name(Requirement(spec).name) for spec in extras["cpu"]}
    assert "ipykernel" in {canonicalize_name(Requirement(spec).name) for spec in extras["local"]}
