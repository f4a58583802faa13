"""Headless execution: the runner executes, exports, times and summarises notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from utils import cli, runner


def _notebook(path: Path, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def test_find_notebooks_by_prefix_and_unknown_name() -> None:
    everything = runner.find_notebooks()
    assert everything and all(p.suffix == ".ipynb" for p in everything)
    assert runner.find_notebooks(["01"])[0].name.startswith("01_")
    with pytest.raises(FileNotFoundError, match="No notebook matches 'zz'"):
        runner.find_notebooks(["zz"])


def test_execute_collects_metrics_and_writes_exports(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "demo.ipynb",
                     "from utils import checks",
                     "checks.check_at_least('demo accuracy', 0.75, 0.5)")
    result = runner.execute(path, tmp_path / "out", progress=False)
    assert result.status == "passed", result.error
    assert result.metrics == {"demo accuracy": 0.75}
    assert result.finished[:2] == "20" and "cores" in result.machine  # the results page states when and where
    assert (tmp_path / "out" / "executed" / "demo.ipynb").exists()
    assert "demo accuracy" in (tmp_path / "out" / "html" / "demo.html").read_text()


def test_a_failing_notebook_is_reported_not_raised(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "bad.ipynb",
                     "from utils import checks",
                     "checks.check_at_least('demo accuracy', 0.25, 0.5)")
    result = runner.execute(path, tmp_path / "out", progress=False)
    assert result.status == "failed"
    assert "CheckFailure" in result.error and "below the target" in result.error
    table = runner.format_table([result], "smoke")
    assert "bad" in table and "failed" in table and "demo accuracy 0.25" in table


def test_cli_run_writes_a_summary_and_fails_on_failure(tmp_path: Path, capsys) -> None:
    path = _notebook(tmp_path / "bad.ipynb", "raise ValueError('boom')")
    status = cli.main(["run", str(path), "--profile", "smoke", "--out", str(tmp_path / "build")])
    assert status == 1
    summary = json.loads((tmp_path / "build" / "summary.json").read_text())
    assert summary["profile"] == "smoke" and summary["results"][0]["status"] == "failed"
    assert "ValueError: boom" in capsys.readouterr().out


def test_cli_profile_and_labs_check(capsys) -> None:
    assert cli.main(["profile", "backprop", "--profile", "cpu"]) == 0
    assert "Lab 'backprop' in profile 'cpu'" in capsys.readouterr().out
    assert cli.main(["labs", "--check"]) == 0


def test_cli_data_status_on_an_empty_cache(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert cli.main(["data", "status"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path) in out and "mnist" in out and "missing" in out


def test_execute_records_the_kernels_cpu_seconds(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "spin.ipynb",
                     "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.0:\n    pass")
    result = runner.execute(path, tmp_path / "out", progress=False)
    assert result.status == "passed", result.error
    assert result.cpu_seconds is not None and 1.0 <= result.cpu_seconds < result.seconds + 60
    assert "CPU time" in runner.format_table([result], "smoke")
