"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


EXTRAS = ("cpu", "local")  # what `make setup` installs besides the dependencies


def _requirements(project: dict) -> list[str]:
    """The dependencies and the extras `make setup` installs, as pyproject.toml writes them."""
    return project["dependencies"] + [spec for extra in EXTRAS for spec in project["optional-dependencies"][extra]]


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    editable = f"--editable .[{','.join(EXTRAS)}]"
    assert editable in pip, "environment.yml must install the course package itself, with the extras make setup installs"
    assert editable.split()[1] in (ROOT / "Makefile").read_text(), "make setup and environment.yml install other extras"
    assert sorted(p for p in pip if p != editable) == sorted(_requirements(project))
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=")[1]
    assert Version(version + ".0") in SpecifierSet(project["requires-python"]), python


# The companion notebooks and the utils modules written for them: every third-party package they import is a
# declared dependency (so `make setup` and conda install it), and each dependency added for them is used there.
COMPANION_SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb")) + [
    ROOT / "utils" / name for name in ("babysitting.py", "interpret.py", "plots/dynamics.py", "plots/attribution.py")]
COMPANION_DEPENDENCIES = {"keras_tuner": "keras-tuner", "tensorboard": "tensorboard", "sklearn": "scikit-learn",
                          "threadpoolctl": "threadpoolctl"}


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules a Python file or notebook imports (IPython magics turned into Python first)."""
    import ast

    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    if path.suffix == ".ipynb":
        cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        source = "\n".join(TransformerManager().transform_cell(cell) for cell in cells)
    else:
        source = path.read_text(encoding="utf-8")
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _declared() -> set[str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(Requirement(spec).name) for spec in _requirements(project)}


def test_companion_imports_are_declared_dependencies() -> None:
    import importlib.metadata
    import sys

    from packaging.utils import canonicalize_name

    distributions = importlib.metadata.packages_distributions()
    declared = _declared() | {"cnn-course"}
    imported = set().union(*(_imported_modules(path) for path in COMPANION_SOURCES)) - set(sys.stdlib_module_names)
    undeclared = {name: distributions.get(name) for name in imported
                  if not {canonicalize_name(d) for d in distributions.get(name, [name])} & declared}
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"
    assert set(COMPANION_DEPENDENCIES) <= imported, "a dependency added for the companions is no longer imported"
    assert {canonicalize_name(d) for d in COMPANION_DEPENDENCIES.values()} <= declared
