"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "--editable ." in pip, "environment.yml must install the course package itself"
    assert sorted(p for p in pip if p != "--editable .") == sorted(project["dependencies"])
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    version = python.split("=")[1]
    assert Version(version + ".0") in SpecifierSet(project["requires-python"]), python
