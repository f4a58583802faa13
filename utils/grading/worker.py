"""The worker: one submission's graded notebook executed in a sandboxed kernel, in a process of its own.

``python -m utils.grading JOB`` reads the job the grader wrote, runs the notebook, copies each graded cell's
records out of the sandbox after the cell, and writes how every cell went (``result.json``) and the executed
notebook, after every graded cell and at the end, so that a worker killed at its deadline still leaves what it
saw. It judges nothing: the grader does, in its own process, from these files.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from utils.grading.assemble import META
from utils.grading.execute import clear_records, copy_records, execute_graded
from utils.grading.reports import write_json
from utils.grading.text import one_line


def run_job(job: dict) -> dict:
    """Execute one graded notebook as described by ``job``; write and return {outcomes, notes, finished}."""
    import nbformat

    from utils.grading import sandbox

    started = time.monotonic()
    deadline = started + float(job["timeout"])
    result: dict[str, Any] = {"outcomes": {}, "notes": [], "finished": False}
    result_path, snapshot = Path(job["result"]), Path(job["snapshot"])
    scratch, records = Path(job["scratch"]), Path(job["records"])
    nb = nbformat.read(job["notebook"], as_version=4)
    outcomes: dict[int, dict[str, str]] = {}

    def relative(index: int) -> str:
        return f"records/{nb.cells[index].metadata[META]['grade_id']}"

    def before(index: int) -> None:
        if nb.cells[index].metadata.get(META, {}).get("role") == "begin":
            clear_records(scratch, relative(index))

    def after(index: int) -> None:
        role = nb.cells[index].metadata.get(META, {}).get("role")
        if role == "end":
            copy_records(scratch, relative(index), records / nb.cells[index].metadata[META]["grade_id"])
        if role == "end" or outcomes[index]["status"] != "ok":
            result["outcomes"] = dict(outcomes)
            result["seconds"] = round(time.monotonic() - started, 1)
            write_json(result_path, result)
            nbformat.write(nb, str(snapshot))

    def kernel_started(km: Any) -> None:
        pid = getattr(getattr(km, "provisioner", None), "pid", None)
        if pid:
            Path(job["kernel_pid"]).write_text(str(pid))

    try:
        limits = sandbox.Limits(**job.get("limits", {}))
        km = sandbox.kernel_manager(scratch, [Path(p) for p in job["readable"]], limits, env=dict(job["env"]),
                                    sandbox=bool(job["sandbox"]))
        execute_graded(nb, km, scratch / "work", float(job["cell_timeout"]), deadline, outcomes, after, before,
                       kernel_started)
    except Exception as exc:  # noqa: BLE001 - whatever happens, the row survives with a reason
        result["notes"].append(f"grader error: {type(exc).__name__}: {one_line(str(exc))}")
    finally:
        result["outcomes"] = dict(outcomes)
        result["finished"] = True
        result["seconds"] = round(time.monotonic() - started, 1)
        write_json(result_path, result)
        nbformat.write(nb, str(snapshot))
    return result


if __name__ == "__main__":
    run_job(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
