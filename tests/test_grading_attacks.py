"""Issue 15's attacks on the grader, each a fixture submission graded in the sandbox, with honest students after it.

Every attack of ``grading_attacks.ATTACKS`` is graded in one class run (two at a time), followed by honest students
whose names sort after the attackers', and then by a second run of honest students only. The attacks must score
exactly what their answers score without the trick, the honest students exactly their honest scores, and nothing
the attacks started may outlive the run or touch its gradebook.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import grading_attacks as attacks
import nbformat
import pytest

from utils import grading, labs
from utils.grading import classroom

SOLUTION_PATH = labs.SOLUTIONS / "01_backprop_by_hand.ipynb"
SOLUTION = labs.read(SOLUTION_PATH)
LAB = labs.make_lab(SOLUTION, SOLUTION_PATH.name)
MAXIMA = grading.graded_cells(SOLUTION)
PART_A = sum(p for g, p in MAXIMA.items() if g.startswith("a"))
ANSWERS = {c.metadata.nbgrader["grade_id"]: c.source for c in SOLUTION.cells
           if c.metadata.get("nbgrader", {}).get("solution")}
CELL_TIMEOUT, TIMEOUT = 60, 180  # a flood or a fork bomb runs into the overall limit; Part A is scored by then
MARKER = "cnn-grade-attacks-"  # the temporary folders of this module's runs, to find their processes
HONEST = {"zz_empty": 0.0, "zz_partial": PART_A}  # names sort after every attacker's (full marks: test_grading_labs)
FALLBACK_SCORE = {"stubs": 0.0, "zeros": 0.0, "part_a": PART_A}


def _honest(name: str, folder: Path) -> None:
    """Write an honest submission: the lab as handed out, Part A answered, or every answer."""
    answers = {} if name.endswith("empty") else ANSWERS if name.endswith("full") else {
        g: s for g, s in ANSWERS.items() if g.startswith("a")}
    nbformat.write(attacks.notebook_with(LAB, {**attacks.stub_answers(LAB), **answers}), str(folder / f"{name}.ipynb"))


def _ours() -> list[int]:
    """Return the processes of this module's grading runs (their command line or environment names the folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            text = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if MARKER.encode() in text:
            found.append(int(entry.name))
    return found


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _watched_files() -> dict[str, str]:
    """Digests of the files the attacks try to change: the checks, the package, a sitecustomize anywhere near."""
    paths = sorted((labs.ROOT / "utils").rglob("*.py")) + [labs.ROOT / "sitecustomize.py", labs.ROOT / "usercustomize.py"]
    return {str(p): _digest(p) if p.exists() else "" for p in paths}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, shared_datasets) -> dict:
    """The attack class graded once (two jobs), the gradebook watched after exit, then a class of honest students."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_DATA_DIR", str(shared_datasets))
    mp.setattr(classroom, "TMP_PREFIX", MARKER)
    root = tmp_path_factory.mktemp("attacks")
    folder = root / "class"
    folder.mkdir()
    for name, _ in attacks.ATTACKS:
        attacks.write_attack(name, folder / f"{name}.ipynb", LAB, ANSWERS)
    for name in HONEST:
        _honest(name, folder)
    files = _watched_files()
    start = time.perf_counter()
    rows = grading.grade("01", folder, out_dir=root / "out", jobs=2, cell_timeout=CELL_TIMEOUT, timeout=TIMEOUT,
                         progress=False)
    seconds = time.perf_counter() - start
    gradebook = root / "out" / "gradebook.csv"
    at_exit = {p.name: _digest(p) for p in (gradebook, root / "out" / "results.json")}
    alive_at_exit = _described(_ours())  # pid, state and command line of any survivor
    time.sleep(5)  # a daemon that waited for the grader to exit would strike now
    later = {p.name: _digest(p) for p in (gradebook, root / "out" / "results.json")}
    (root / "again").mkdir()
    _honest("later_empty", root / "again")  # a later run: an attack that persisted would give it points
    again = grading.grade("01", root / "again", out_dir=root / "out-again", jobs=2, cell_timeout=CELL_TIMEOUT,
                          timeout=TIMEOUT, progress=False)
    yield {"rows": {r.student: r for r in rows}, "again": {r.student: r for r in again}, "seconds": seconds,
           "at_exit": at_exit, "later": later, "alive_at_exit": alive_at_exit, "files": files,
           "files_after": _watched_files(), "root": root}
    mp.undo()


@pytest.mark.parametrize("name", [name for name, _ in attacks.ATTACKS])
def test_each_attack_scores_what_its_answers_score_without_the_trick(attacked, name) -> None:
    row = attacked["rows"][name]
    assert row.total == FALLBACK_SCORE[attacks.FALLBACK[name]], (row.points, row.reasons)
    faked = [g for g in attacks.FAKED[name] if row.points[g] > 0 and attacks.FALLBACK[name] != "part_a"]
    assert faked == [], (faked, row.reasons)
    assert row.seconds <= TIMEOUT + classroom.KILL_GRACE_S
    assert all("\n" not in reason for reason in row.reasons)


def test_honest_students_after_the_attacks_get_exactly_their_scores(attacked) -> None:
    got = {name: attacked["rows"][name].total for name in HONEST}
    assert got == HONEST, {n: attacked["rows"][n].reasons for n in HONEST}
    assert {name: row.total for name, row in attacked["again"].items()} == {"later_empty": 0.0}


def test_the_repository_and_the_package_are_unchanged(attacked) -> None:
    assert attacked["files_after"] == attacked["files"]


def test_the_gradebook_is_byte_identical_after_grade_exits(attacked) -> None:
    assert attacked["later"] == attacked["at_exit"]


def _described(pids: list[int]) -> list[str]:
    """Return each process's pid, state and command line, to say which one survived."""
    described = []
    for pid in pids:
        try:
            state = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State")]
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
        except OSError:
            state, cmd = ["gone"], ""
        described.append(f"{pid} {state} {cmd}")
    return described


def test_no_process_of_a_graded_submission_survives(attacked) -> None:
    assert attacked["alive_at_exit"] == [], attacked["alive_at_exit"]
    assert _described(_ours()) == []


def test_bombs_end_as_rows_with_a_one_line_reason(attacked) -> None:
    for name in ("memory_bomb", "fork_bomb"):
        row = attacked["rows"][name]
        bomb = [r for r in row.reasons if r.startswith("answer b1_affine: ")]  # the cell that set it off, in a line
        assert len(bomb) == 1 and "\n" not in bomb[0] and len(bomb[0]) < 400, row.reasons
        assert row.points["a1_forward_check"] == MAXIMA["a1_forward_check"]  # what ran before it still counts


def test_the_review_column_names_what_was_attempted(attacked) -> None:
    for name, _ in attacks.ATTACKS:
        assert attacked["rows"][name].review, name
    for name in HONEST:
        assert attacked["rows"][name].review == [], attacked["rows"][name].review


def test_flood_feedback_stays_small(attacked) -> None:
    html = attacked["root"] / "out" / "feedback" / "flood.html"
    assert html.stat().st_size < 3_000_000


def test_no_sandbox_grades_with_a_warning_in_every_row(tmp_path, shared_datasets, monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared_datasets))
    _honest("empty", tmp_path)
    rows = grading.grade("01", tmp_path, out_dir=tmp_path / "out", no_sandbox=True, progress=False,
                         cell_timeout=CELL_TIMEOUT, timeout=TIMEOUT)
    assert rows[0].total == 0 and rows[0].review == [classroom.NO_SANDBOX_NOTE]
    assert "WARNING: graded WITHOUT a sandbox" in capsys.readouterr().out
    assert classroom.NO_SANDBOX_NOTE in (tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8")


def test_without_a_sandbox_grade_refuses_with_one_paragraph(tmp_path, monkeypatch) -> None:
    from utils.grading import sandbox

    _honest("empty", tmp_path)
    monkeypatch.setattr(sandbox, "unavailable", lambda: "The grading sandbox needs bubblewrap (`bwrap`).")
    with pytest.raises(classroom.SandboxUnavailable, match="needs bubblewrap"):
        grading.grade("01", tmp_path, out_dir=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
