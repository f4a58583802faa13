"""CI definitions: the GitHub workflows validate against the workflow schema and run the README's commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


PUBLISHING = {"pages.yml"}  # builds and publishes the website instead of testing


def _steps(path: Path) -> list[dict]:
    """Return every step of every job of a workflow."""
    return [s for job in yaml.safe_load(path.read_text())["jobs"].values() for s in job.get("steps", [])]


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"cpu.yml", "gpu.yml", "pages.yml"}


def test_workflows_match_the_github_schema() -> None:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", [p for p in WORKFLOWS if p.name not in PUBLISHING], ids=lambda p: p.name)
def test_workflows_use_the_makefile_commands(path: Path) -> None:
    commands = " ".join(s.get("run", "") for s in _steps(path))
    assert "make setup" in commands and "make test" in commands


def test_pages_workflow_builds_the_book_from_a_smoke_run_and_deploys_it() -> None:
    path = ROOT / ".github/workflows/pages.yml"
    workflow = yaml.safe_load(path.read_text())
    commands = [s.get("run", "") for s in _steps(path)]
    order = [next(i for i, c in enumerate(commands) if command in c)
             for command in ("make setup", "make run PROFILE=smoke", "make book")]
    assert order == sorted(order), commands
    assert not any("INSTRUCTOR" in c for c in commands), "the instructor edition must never be published"
    uses = {s.get("uses", "").split("@")[0]: s for s in _steps(path)}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "build/book/html"
    assert "actions/deploy-pages" in uses
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]


def test_gpu_workflow_targets_a_self_hosted_gpu_runner() -> None:
    job = next(iter(yaml.safe_load((ROOT / ".github/workflows/gpu.yml").read_text())["jobs"].values()))
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert job["env"]["COURSE_PROFILE"] == "gpu"
