"""Grading a class: each submission assembled here, executed by a worker in a sandboxed kernel, judged here.

For every submission the grader (this process) builds the graded notebook and its plan with fresh random probe
inputs, starts a worker process that runs the notebook in a sandboxed kernel, kills the worker and everything it
started at the deadline, and then judges the records the worker copied out of the sandbox. The gradebook and the
feedback are written only by this process, into a folder the kernels never see.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from utils.grading import sandbox
from utils.grading.assemble import (AST_LOCK, META, CellPlan, build_graded_notebook, graded_cells, lab_config,
                                     lab_reference)
from utils.grading.judge import judge_cell, read_records
from utils.grading.reports import Row, format_table, make_row, write_feedback, write_gradebook, write_json
from utils.grading.submissions import Submission, find_submissions, read_submission, resolve_lab
from utils.grading.text import one_line
from utils.labs import ROOT

# Per profile: (seconds per cell, seconds per submission) when not given.
DEFAULT_TIMEOUTS = {"smoke": (120.0, 900.0), "cpu": (900.0, 3600.0), "gpu": (1800.0, 7200.0)}
KILL_GRACE_S = 60.0  # the grader kills a worker this long after its submission's deadline
TMP_PREFIX = "cnn-grade-"  # each submission's private folder (scratch, job, records) in the temporary directory
NO_SANDBOX_NOTE = "graded WITHOUT a sandbox (--no-sandbox): the submission ran with the instructor's rights"


class SandboxUnavailable(RuntimeError):
    """No sandbox can be built on this machine (the message says how to get one)."""


@dataclass
class _Context:
    """What every submission's grading shares."""

    lab: str
    solution: Any
    reference: dict
    maxima: dict[str, float]
    cfg: Any
    profile: str
    cell_timeout: float
    timeout: float
    data_dir: str
    tfds_dir: str
    use_sandbox: bool
    threads: int = 1  # TensorFlow/OpenMP threads of each kernel: the cores shared among the parallel jobs
    stop: threading.Event = field(default_factory=threading.Event)
    active: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _kernel_env(scratch: Path, ctx: _Context) -> dict[str, str]:
    """Return the hermetic environment of a worker and its kernel: every writable path inside the scratch folder."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "COURSE_FULL_TRACEBACKS", "JPY_PARENT_PID", "PYTHONSTARTUP")}
    home = scratch / "home"
    dirs = {"HOME": home, "KERAS_HOME": home / ".keras", "IPYTHONDIR": home / ".ipython",
            "MPLCONFIGDIR": home / ".matplotlib", "XDG_CACHE_HOME": home / ".cache",
            "XDG_CONFIG_HOME": home / ".config", "JUPYTER_CONFIG_DIR": home / ".jupyter",
            "JUPYTER_DATA_DIR": home / ".local" / "share" / "jupyter", "JUPYTER_RUNTIME_DIR": scratch / "runtime",
            "TMPDIR": scratch / "tmp"}
    for path in [*dirs.values(), scratch / "work", scratch / "records"]:
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in dirs.items()})
    threads = str(ctx.threads)  # parallel kernels share the cores instead of each spinning a thread per core
    env.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=str(max(2, ctx.threads)))
    env.update(COURSE_PROFILE=ctx.profile, COURSE_DATA_DIR=ctx.data_dir, COURSE_TFDS_DIR=ctx.tfds_dir, PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONNOUSERSITE="1", TF_FORCE_GPU_ALLOW_GROWTH="true",
               PYTHONPATH=str(ROOT))
    return env


def _kill_group(pid: int) -> None:
    """Kill a process group (falling back to the process) and ignore one that is already gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def score(nb: Any, outcomes: dict[int, dict[str, str]], plans: dict[str, CellPlan], maxima: dict[str, float],
          records: Path) -> tuple[dict[str, list], list[str], dict[str, list[str]]]:
    """Judge each executed graded cell; return ({grade_id: [points, reason]}, notes, lines shown per cell)."""
    at: dict[tuple[str, str], int] = {}
    notes: list[str] = []
    for index, cell in enumerate(nb.cells):
        info = cell.metadata.get(META, {})
        role, grade_id = info.get("role"), info.get("grade_id", "")
        at[(role, grade_id)] = index
        outcome = outcomes.get(index)
        if outcome is None:
            continue
        if role in ("answer", "given") and outcome["status"] in ("timeout", "died"):
            where = f"answer {grade_id}" if role == "answer" else f"cell {index}"
            notes.append(f"{where}: {outcome['reason']}")
        elif role == "answer" and outcome["status"] == "error" and grade_id:
            notes.append(f"answer {grade_id}: {outcome['reason']}")
    cells: dict[str, list] = {}
    lines: dict[str, list[str]] = {}
    for grade_id, points in maxima.items():
        graded = outcomes.get(at.get(("graded", grade_id), -1))
        if graded is None:
            continue
        if graded["status"] != "ok":
            cells[grade_id] = [0.0, graded["reason"]]
            continue
        end = outcomes.get(at.get(("end", grade_id), -1))
        if end is None:
            continue  # not verified yet: the caller's fallback reason applies
        if end["status"] != "ok":
            cells[grade_id] = [0.0, f"not verified: the grader's records of this cell were not written ({end['reason']})"]
            continue
        found, why = read_records(records / grade_id)
        if found is None:
            cells[grade_id] = [0.0, f"not verified: {why}"]
            continue
        verdict = judge_cell(plans[grade_id], points, found)
        cells[grade_id] = [verdict.points, verdict.reason]
        lines[grade_id] = verdict.lines
    return cells, notes, lines


def _answer_attempts(nb: Any, outcomes: dict[int, dict[str, str]]) -> list[str]:
    """Return review notes for answers that ran into the sandbox's walls (where the grader can see it)."""
    walls = ("Read-only file system", "Permission denied", "Operation not permitted", "Network is unreachable",
             "Resource temporarily unavailable", "MemoryError", "File too large")
    found = []
    for index, cell in enumerate(nb.cells):
        info = cell.metadata.get(META, {})
        reason = outcomes.get(index, {}).get("reason", "")
        if info.get("role") == "answer" and any(w in reason for w in walls):
            found.append(f"answer {info.get('grade_id')} hit the sandbox: {one_line(reason, 120)}")
    return found


def _grade_one(sub: Submission, ctx: _Context, feedback: Path) -> Row:
    """Assemble, execute (in a worker) and judge one submission; always return a row."""
    import nbformat

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX))
    fallback, killed, nb, lines = "not graded", False, None, {}
    review = [NO_SANDBOX_NOTE] if not ctx.use_sandbox else []
    result: dict[str, Any] = {"notes": [], "review": review}
    try:
        if ctx.stop.is_set():
            result["notes"].append("not graded: the grading run was interrupted")
            return make_row(sub.student, ctx.maxima, result)
        submission, problem = (None, sub.problem) if sub.problem or sub.path is None else read_submission(sub.path)
        if problem or submission is None:
            result["notes"].append(problem or "no notebook")
            result["seconds"] = round(time.monotonic() - started, 1)
            row = make_row(sub.student, ctx.maxima, result)
            with AST_LOCK:
                write_feedback(None, row, ctx.lab, ctx.profile, feedback)
            return row
        scratch = tmp / "scratch"
        env = _kernel_env(scratch, ctx)
        with AST_LOCK:  # nbformat's validator and nbconvert's templates compile code too
            nb, plans, notes, answer_review = build_graded_notebook(
                ctx.solution, ctx.reference, submission, str(scratch / "records"), ctx.cfg, random.SystemRandom())
            nbformat.write(nb, str(tmp / "graded.ipynb"))
        result["notes"] += notes
        review += answer_review
        job = {"notebook": str(tmp / "graded.ipynb"), "scratch": str(scratch), "records": str(tmp / "records"),
               "readable": [ctx.data_dir, ctx.tfds_dir], "env": env, "sandbox": ctx.use_sandbox,
               "cell_timeout": ctx.cell_timeout, "timeout": ctx.timeout, "result": str(tmp / "result.json"),
               "snapshot": str(tmp / "executed.ipynb"), "kernel_pid": str(tmp / "kernel.pid"),
               "limits": {"cpu_seconds": int(ctx.timeout) + 60, "cpus": float(ctx.threads)}}
        write_json(tmp / "job.json", job)
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "utils.grading", str(tmp / "job.json")], cwd=str(tmp),
                                    env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
            with ctx.lock:
                ctx.active.add(proc)
            try:
                proc.wait(timeout=ctx.timeout + KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                killed = True
            finally:
                _kill_group(proc.pid)  # the worker's group; its sandboxed kernel dies with it (die-with-parent)
                proc.wait()
                with ctx.lock:
                    ctx.active.discard(proc)
        try:
            _kill_group(int((tmp / "kernel.pid").read_text().strip()))  # a kernel that outlived its worker
        except (OSError, ValueError):
            pass
        # As root, everything the sandbox started is in its cgroup: kill it all and wait, so that nothing of this
        # submission runs once its row is made (a worker killed at its deadline could not clean up either).
        sandbox.end_cgroups(proc.pid)
        try:
            worker = json.loads((tmp / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            worker = {}
        if (tmp / "executed.ipynb").exists():
            with AST_LOCK:
                nb = nbformat.read(str(tmp / "executed.ipynb"), as_version=4)
        outcomes = {int(k): v for k, v in (worker.get("outcomes") or {}).items()}
        result["cells"], score_notes, lines = score(nb, outcomes, plans, ctx.maxima, tmp / "records")
        result["notes"] += list(worker.get("notes", [])) + score_notes
        review += _answer_attempts(nb, outcomes)
        if not worker.get("finished"):
            tail = (tmp / "worker.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            why = (f"the submission ran past its overall time limit of {ctx.timeout:g} s" if killed
                   else "the grading was interrupted" if ctx.stop.is_set()
                   else f"the grading worker stopped (exit code {proc.returncode}"
                        f"{': ' + one_line(tail[0], 120) if tail else ''})")
            result["notes"].append(why)
            fallback = f"not verified: {why}"
        elif worker.get("notes"):
            fallback = "not verified: the kernel could not be run"
    except Exception as exc:  # noqa: BLE001 - never lose a row
        result["notes"].append(f"grader error: {type(exc).__name__}: {one_line(str(exc))}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    row = make_row(sub.student, ctx.maxima, result, fallback)
    try:
        with AST_LOCK:
            write_feedback(nb, row, ctx.lab, ctx.profile, feedback, judged=lines)
    except Exception as exc:  # noqa: BLE001 - the row stands without its feedback
        row.reasons.append(f"feedback failed: {type(exc).__name__}")
    return row


def _data_dirs(lab: str, profile: str, progress: bool) -> tuple[str, str]:
    """Prepare the lab's datasets here, where the folders may be written; return the data and tfds folders.

    The kernels read both, resolved before HOME is replaced, through a read-only view in the sandbox.
    """
    from utils import data

    data.prepare_lab(lab, profile=profile, progress=progress)
    return str(data.data_dir()), str(data.tfds_dir())


def grade(lab: str, submissions: Path, out_dir: Path | None = None, jobs: int = 1, timeout: float | None = None,
          cell_timeout: float | None = None, profile: str = "smoke", progress: bool = True,
          no_sandbox: bool = False) -> list[Row]:
    """Grade every submission of a lab; write gradebook.csv, results.json and feedback; return the rows."""
    import nbformat

    if profile not in DEFAULT_TIMEOUTS:
        raise ValueError(f"Unknown profile '{profile}'; choose one of {', '.join(DEFAULT_TIMEOUTS)}.")
    if not no_sandbox:
        why = sandbox.unavailable()
        if why:
            raise SandboxUnavailable(why)
    solution_path = resolve_lab(lab)
    solution = nbformat.read(str(solution_path), as_version=4)
    entries = find_submissions(Path(submissions), solution_path.name)
    skipped = [e.skipped for e in entries if e.skipped]
    subs = [e for e in entries if not e.skipped]
    if not subs:
        raise FileNotFoundError(f"No submissions in {submissions}: expected STUDENT.ipynb files or STUDENT/ folders.")
    out_dir = Path(out_dir or Path("build") / "grades" / solution_path.stem).resolve()
    ctx = _Context(solution_path.stem, solution, lab_reference(solution), graded_cells(solution),
                   lab_config(solution, profile), profile, float(cell_timeout or DEFAULT_TIMEOUTS[profile][0]),
                   float(timeout or DEFAULT_TIMEOUTS[profile][1]), *_data_dirs(solution_path.stem[:2], profile, progress),
                   not no_sandbox,
                   max(1, (os.cpu_count() or 1) // max(1, jobs)))
    names = {sub.student: out_dir / "feedback" / f"{sub.student}.ipynb" for sub in subs}  # ids are unique and safe
    print(f"Grading {len(subs)} submission(s) of {ctx.lab} in the {profile} profile with {jobs} job(s) "
          f"(cell timeout {ctx.cell_timeout:g} s, {ctx.timeout:g} s per submission); output in {out_dir}/")
    if no_sandbox:
        print(f"WARNING: {NO_SANDBOX_NOTE}; every row's review column says so.")
    for reason in skipped:
        print(f"Skipped: {reason}")
    from tqdm.auto import tqdm

    rows: dict[str, Row] = {}
    bar = tqdm(total=len(subs), desc="grading", unit="student", disable=not progress)
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(_grade_one, s, ctx, names[s.student]): s for s in subs}
            try:
                for future in as_completed(futures):
                    row = future.result()
                    rows[row.student] = row
                    bar.update(1)
                    write_gradebook(list(rows.values()), ctx.maxima, out_dir / "gradebook.csv")
            except KeyboardInterrupt:
                ctx.stop.set()
                with ctx.lock:
                    for proc in list(ctx.active):
                        _kill_group(proc.pid)
                raise
    finally:
        bar.close()
        for sub in subs:
            rows.setdefault(sub.student, make_row(sub.student, ctx.maxima,
                                                  {"notes": ["not graded: the grading run was interrupted"]}))
        given_names = {sub.student: sub.name for sub in subs}
        for row in rows.values():
            row.name = given_names.get(row.student, row.student)
        ordered = sorted(rows.values(), key=lambda r: r.student)
        write_gradebook(ordered, ctx.maxima, out_dir / "gradebook.csv")
        summary = {"lab": ctx.lab, "profile": profile, "cell_timeout": ctx.cell_timeout, "timeout": ctx.timeout,
                   "jobs": jobs, "sandbox": ctx.use_sandbox, "skipped": skipped,
                   "rows": [dict(asdict(r), total=r.total, max=r.maximum) for r in ordered]}
        write_json(out_dir / "results.json", summary)
    print(format_table(ordered, profile))
    print(f"Gradebook: {out_dir / 'gradebook.csv'}; feedback: {out_dir / 'feedback'}/")
    return ordered
