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


def test_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"cpu.yml", "gpu.yml"}


def test_workflows_match_the_github_schema() -> None:
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_use_the_makefile_commands(path: Path) -> None:
    steps = [s for job in yaml.safe_load(path.read_text())["jobs"].values() for s in job["steps"]]
    commands = " ".join(s.get("run", "") for s in steps)
    assert "make setup" in commands and "make test" in commands


def test_gpu_workflow_targets_a_self_hosted_gpu_runner() -> None:
    job = next(iter(yaml.safe_load((ROOT / ".github/workflows/gpu.yml").read_text())["jobs"].values()))
    assert job["runs-on"] == ["self-hosted", "gpu"]
    assert job["env"]["COURSE_PROFILE"] == "gpu"
