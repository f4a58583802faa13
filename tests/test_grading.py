"""Instructor grading: every submission becomes one honest row, whatever it does to the grader.

The class below is graded in the sandbox (bubblewrap), as an instructor would; the attacks of issue 15 have a
module of their own (test_grading_attacks.py).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import time
from pathlib import Path

import nbformat
import pytest

from utils import cli, grading, labs
from utils.exercises import backprop
from utils.grading import assemble, classroom, judge

SOLUTION_PATH = labs.SOLUTIONS / "01_backprop_by_hand.ipynb"
SOLUTION = labs.read(SOLUTION_PATH)
LAB = labs.make_lab(SOLUTION, SOLUTION_PATH.name)  # the lab exactly as students get it
MAXIMA = grading.graded_cells(SOLUTION)
FULL = sum(MAXIMA.values())
PART_A = sum(p for g, p in MAXIMA.items() if g.startswith("a"))
ANSWERS = {c.metadata.nbgrader["grade_id"]: c.source for c in SOLUTION.cells
           if c.metadata.get("nbgrader", {}).get("solution")}
CELL_TIMEOUT, TIMEOUT = 60, 300  # the loop case costs one cell timeout; 300 s bounds any one submission

ZEROS = "dict(net_h1=0.0, h1=0.0, net_h2=0.0, h2=0.0, net_o1=0.0, o1=0.0, net_o2=0.0, o2=0.0)"
WRONG_PART_A = {  # wrong answers of the right shape: only a fooled check could pass them
    "a2_dE_dw5": "def dE_dw5(x, t, params):\n    return 0.0\n",
    "a3_gradients": "def gradients(x, t, params):\n    return {k: 0.0 for k in params}\n",
    "a4_sgd_step": "def sgd_step(params, grads, lr):\n    return dict(params)\n",
}
PATCH_CHECKS = (  # patches the checks at the top of the cell and again while a check runs
    "import utils.exercises.backprop as _bp\n"
    "for _module in (checks, _bp):\n"
    "    for _name in dir(_module):\n"
    "        if _name.startswith('check_'):\n"
    "            setattr(_module, _name, lambda *a, **k: None)\n\n"
    "def forward(x, params):\n"
    "    checks.check_mapping = checks.check_array = checks.check_gradient = lambda *a, **k: None\n"
    "    _bp.expect_array = _bp.expect_equal = lambda *a, **k: 0.0\n"
    f"    return {ZEROS}\n\n"
    "def total_error(outputs, t):\n    return 0.0\n"
)
PATCH_NUMPY = (  # rel_error is 0 when numpy's max is: every comparison would pass
    "import utils.checks\nnp.max = lambda *a, **k: 0.0\nutils.checks.rel_error = lambda *a, **k: 0.0\n\n"
    f"def forward(x, params):\n    np.max = lambda *a, **k: 0.0\n    return {ZEROS}\n\n"
    "def total_error(outputs, t):\n    return 0.0\n"
)


def _hardcoded_sgd_step() -> str:
    """An sgd_step that returns the visible check's expected outputs from a table (right only on those inputs)."""
    table = {}
    for _, params, grads, lr in backprop.sgd_step_cases(0):
        key = repr((sorted(params.items()), sorted(grads.items()), lr))
        table[key] = {k: params[k] - lr * grads[k] for k in params}
    return ("TABLE = " + repr(table) + "\n\n"
            "def sgd_step(params, grads, lr):\n"
            "    return dict(TABLE.get(repr((sorted(params.items()), sorted(grads.items()), lr)), params))\n")


def _gid(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _lab_with(answers: dict[str, str]):
    nb = nbformat.from_dict(LAB)
    for cell in nb.cells:
        if _gid(cell) in answers:
            cell.source = answers[_gid(cell)]
    return nb


def _part_a(**changes: str):
    """Part A answered from the solution, Parts B and C left as stubs (cheap to run)."""
    return _lab_with({**{g: s for g, s in ANSWERS.items() if g.startswith("a")}, **changes})


def _write_class(folder: Path, names: list[str]) -> dict[str, str]:
    """Write the named fixture submissions; return each file's sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / f"{name}.ipynb"
        if name == "not_json":
            path.write_text("{ this is not a notebook", encoding="utf-8")
            continue
        if name == "full":
            nb = _lab_with(ANSWERS)
        elif name == "empty":
            nb = nbformat.from_dict(LAB)
        elif name in ("partial", "partial_again"):
            nb = _part_a()
        elif name == "crash":
            nb = _part_a(a2_dE_dw5='def dE_dw5(x, t, params):\n    """Crashes."""\n    return 1 / 0\n')
        elif name == "loop":
            nb = _part_a(a4_sgd_step="while True:\n    pass\n\n" + ANSWERS["a4_sgd_step"])
        elif name == "sys_exit":
            nb = _part_a(a3_gradients="import sys\nsys.exit()\n\n" + ANSWERS["a3_gradients"])
        elif name == "os_exit":
            nb = _part_a(a3_gradients="import os\nos._exit(1)\n\n" + ANSWERS["a3_gradients"])
        elif name == "deleted":
            nb = _part_a()
            nb.cells = [c for c in nb.cells if _gid(c) not in ("a3_gradients", "a3_gradients_check")]
        elif name == "reordered":
            nb = _part_a()
            nb.cells = nb.cells[::-1]
        elif name == "renamed":
            nb = _part_a()
            next(c for c in nb.cells if _gid(c) == "a4_sgd_step").metadata.nbgrader["grade_id"] = "my_sgd_step"
        elif name == "patch_checks":
            nb = _lab_with({"a1_forward": PATCH_CHECKS, **WRONG_PART_A})
            next(c for c in nb.cells if _gid(c) == "a1_forward_check").source = "pass  # the student's edit"
        elif name in ("patch_numpy", "patch_numpy_again"):
            nb = _lab_with({"a1_forward": PATCH_NUMPY, **WRONG_PART_A})
        elif name == "hardcoded":
            nb = _part_a(a4_sgd_step=_hardcoded_sgd_step())
        else:
            raise KeyError(name)
        nbformat.write(nb, str(path))
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


HOSTILE_CLASS = ["empty", "partial", "crash", "loop", "sys_exit", "os_exit", "deleted", "reordered", "renamed",
                 "not_json", "patch_checks", "patch_numpy", "hardcoded"]
EXPECTED = {  # Part A is worth PART_A; each hostile kind loses exactly what its damage reaches
    "empty": 0, "partial": PART_A, "crash": PART_A - MAXIMA["a2_dE_dw5_check"],
    "loop": PART_A - MAXIMA["a4_sgd_step_check"] - MAXIMA["a_training_check"],
    # sgd_step's check builds its own gradients, so it scores without the student's `gradients`
    "sys_exit": MAXIMA["a1_forward_check"] + MAXIMA["a2_dE_dw5_check"] + MAXIMA["a4_sgd_step_check"],
    "os_exit": MAXIMA["a1_forward_check"] + MAXIMA["a2_dE_dw5_check"],
    "deleted": MAXIMA["a1_forward_check"] + MAXIMA["a2_dE_dw5_check"] + MAXIMA["a4_sgd_step_check"],
    "reordered": PART_A,
    "renamed": PART_A - MAXIMA["a4_sgd_step_check"] - MAXIMA["a_training_check"],
    "not_json": 0, "patch_checks": 0, "patch_numpy": 0,
    # right on the visible check's inputs only: the grader's fresh inputs fail it (training still works)
    "hardcoded": PART_A - MAXIMA["a4_sgd_step_check"] - MAXIMA["a_training_check"],
}


def _run(folder: Path, out: Path, **kwargs) -> tuple[list[grading.Row], float]:
    start = time.perf_counter()
    rows = grading.grade("01", folder, out_dir=out, progress=False, profile="smoke", **kwargs)
    return rows, time.perf_counter() - start


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, shared_datasets) -> dict:
    """The fixture class (all but the full-marks one) graded once, two at a time, with short cell timeouts."""
    mp = pytest.MonkeyPatch()
    mp.setenv("COURSE_DATA_DIR", str(shared_datasets))
    root = tmp_path_factory.mktemp("grading")
    hashes = _write_class(root / "class", HOSTILE_CLASS)
    rows, seconds = _run(root / "class", root / "out", jobs=2, cell_timeout=CELL_TIMEOUT, timeout=TIMEOUT)
    yield {"root": root, "rows": {r.student: r for r in rows}, "hashes": hashes, "seconds": seconds,
           "after": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((root / "class").iterdir())}}
    mp.undo()


@pytest.fixture(scope="module")
def rerun(hostile) -> dict:
    """Two submissions graded again in a fresh run (default smoke cell timeout); full marks: test_grading_labs.py."""
    root = hostile["root"]
    _write_class(root / "again", ["partial_again", "patch_numpy_again"])
    rows, seconds = _run(root / "again", root / "out-again", jobs=2, timeout=TIMEOUT)
    return {"rows": {r.student: r for r in rows}, "seconds": seconds}


# ---------------------------------------------------------------------------
# The graded class
# ---------------------------------------------------------------------------


def test_one_row_per_submission_with_the_expected_totals(hostile) -> None:
    rows = hostile["rows"]
    assert sorted(rows) == sorted(HOSTILE_CLASS)
    got = {name: row.total for name, row in rows.items()}
    assert got == EXPECTED, {n: (got[n], EXPECTED[n], rows[n].reasons) for n in got if got[n] != EXPECTED[n]}
    assert all(row.maximum == FULL for row in rows.values())


def test_gradebook_csv_and_feedback_files(hostile) -> None:
    out = hostile["root"] / "out"
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student"] for r in table] == sorted(HOSTILE_CLASS)
    assert list(table[0])[1:len(MAXIMA) + 1] == list(MAXIMA)
    assert list(table[0])[-5:] == ["total", "max", "reasons", "review", "name"]
    for record in table:
        assert float(record["total"]) == sum(float(record[g]) for g in MAXIMA) == EXPECTED[record["student"]]
        assert float(record["max"]) == FULL
        assert (out / "feedback" / f"{record['student']}.ipynb").exists()
        assert (out / "feedback" / f"{record['student']}.html").exists()


def test_submissions_are_never_modified(hostile) -> None:
    assert hostile["after"] == hostile["hashes"]


def test_the_run_stays_within_its_timeouts(hostile) -> None:
    summary = json.loads((hostile["root"] / "out" / "results.json").read_text())
    seconds = {r["student"]: r["seconds"] for r in summary["rows"]}
    assert max(seconds.values()) <= TIMEOUT + classroom.KILL_GRACE_S
    assert seconds["loop"] >= CELL_TIMEOUT  # the loop really ran until interrupted
    assert hostile["seconds"] <= len(HOSTILE_CLASS) / 2 * TIMEOUT


@pytest.mark.parametrize("student, fragments", [
    ("empty", ["a1_forward_check", "`forward` is not implemented yet"]),
    ("crash", ["a2_dE_dw5_check", "ZeroDivisionError"]),
    ("loop", [f"answer a4_sgd_step: timed out after {CELL_TIMEOUT} s", "NameError: name 'sgd_step' is not defined"]),
    ("sys_exit", ["answer a3_gradients: SystemExit"]),
    ("os_exit", ["answer a3_gradients: the kernel died while this cell ran", "not run: the kernel died earlier"]),
    ("deleted", ["cell a3_gradients missing: counted as unanswered"]),
    ("renamed", ["cell a4_sgd_step missing: counted as unanswered"]),
    ("not_json", ["not a valid notebook"]),
    ("patch_checks", ["a1_forward_check, b1_affine_check: not verified: only 0 of its 4 checks reported"]),
    ("patch_numpy", ["a1_forward_check", "forward on the worked example: net_h1 is off by", "a2_dE_dw5_check"]),
    ("hardcoded", ["a4_sgd_step_check: sgd_step(params, grads, lr=", "a_training_check"]),
])
def test_every_lost_point_has_a_reason(hostile, student, fragments) -> None:
    reasons = "; ".join(hostile["rows"][student].reasons)
    for fragment in fragments:
        assert fragment in reasons, reasons


def test_clean_submissions_raise_no_review_flags(hostile) -> None:
    rows = hostile["rows"]
    for student in ("empty", "partial", "reordered"):
        assert rows[student].review == [], rows[student].review
    assert all(reason[0] in "bc" for reason in rows["partial"].reasons), rows["partial"].reasons


def test_hostile_submissions_are_flagged_for_review(hostile) -> None:
    review = {name: "; ".join(row.review) for name, row in hostile["rows"].items()}
    assert "edited locked cell a1_forward_check (ignored)" in review["patch_checks"]
    assert "answer a1_forward calls setattr()" in review["patch_checks"]
    assert "answer a1_forward assigns np.max" in review["patch_numpy"]
    assert "a cell without grade_id a4_sgd_step defines sgd_step" in review["renamed"]
    assert "uses os._exit" in review["os_exit"]


def test_feedback_shows_scores_but_not_hidden_tests_or_grader_cells(hostile) -> None:
    path = hostile["root"] / "out" / "feedback" / "partial.ipynb"
    text = path.read_text(encoding="utf-8")
    assert labs.BEGIN_HIDDEN not in text and "_tf_forward" not in text  # a hidden test's helper
    assert grading.HIDDEN_NOTE in text
    assert "utils.grading.kernel" not in text and not re.search(r"seed=\d{5}", text)  # no grader cell, no fresh seed
    nb = nbformat.read(str(path), as_version=4)
    assert f"**Score: {PART_A:g} / {FULL:g}**" in nb.cells[0].source
    assert any(c.source.startswith("**a1_forward_check: 2 / 2 points**") for c in nb.cells)


def test_a_rerun_gives_the_same_points(hostile, rerun) -> None:
    again = rerun["rows"]
    for name in ("partial", "patch_numpy"):  # other fresh inputs, the same points for the same reasons
        first, second = hostile["rows"][name], again[f"{name}_again"]
        assert second.points == first.points
        assert [r.split(":")[0] for r in second.reasons] == [r.split(":")[0] for r in first.reasons]


def test_a_worker_past_its_deadline_is_killed_and_still_gives_a_row(tmp_path, monkeypatch, shared_datasets) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared_datasets))
    monkeypatch.setattr(classroom, "KILL_GRACE_S", 0.0)  # no grace: the parent kills the worker at the deadline
    _write_class(tmp_path / "class", ["partial"])
    rows, seconds = _run(tmp_path / "class", tmp_path / "out", timeout=3)
    assert [r.student for r in rows] == ["partial"] and rows[0].total == 0
    assert "the submission ran past its overall time limit of 3 s" in "; ".join(rows[0].reasons)
    assert seconds < 60 and (tmp_path / "out" / "feedback" / "partial.html").exists()


# ---------------------------------------------------------------------------
# Pieces, without a kernel
# ---------------------------------------------------------------------------


def test_resolve_lab_by_prefix() -> None:
    assert grading.resolve_lab("01") == SOLUTION_PATH
    assert grading.resolve_lab("01_backprop_by_hand") == SOLUTION_PATH
    with pytest.raises(FileNotFoundError, match="No lab matches 'zz'"):
        grading.resolve_lab("zz")


def test_find_submissions_accepts_files_and_student_folders(tmp_path: Path) -> None:
    nbformat.write(LAB, str(tmp_path / "ann.ipynb"))
    (tmp_path / "bob" / "lab1").mkdir(parents=True)
    nbformat.write(LAB, str(tmp_path / "bob" / "lab1" / SOLUTION_PATH.name))
    nbformat.write(LAB, str(tmp_path / "bob" / "scratch.ipynb"))
    (tmp_path / "cy" / ".ipynb_checkpoints").mkdir(parents=True)
    nbformat.write(LAB, str(tmp_path / "cy" / ".ipynb_checkpoints" / SOLUTION_PATH.name))
    (tmp_path / "notes.txt").write_text("ignored")
    subs = grading.find_submissions(tmp_path, SOLUTION_PATH.name)
    assert [(s.student, s.path and s.path.name, bool(s.problem)) for s in subs if not s.skipped] == [
        ("ann", "ann.ipynb", False), ("bob", SOLUTION_PATH.name, False), ("cy", None, True)]


def test_every_possible_notebook_is_a_row_or_skipped_with_a_reason_and_ids_stay_unique(tmp_path: Path) -> None:
    for name in ("王伟.ipynb", "李娜.ipynb", "Zoë Upper.IPYNB", ".dotfile_student.ipynb", "dup.ipynb", "a b.ipynb",
                 "a_b.ipynb"):
        nbformat.write(LAB, str(tmp_path / name))
    (tmp_path / "dup").mkdir()
    nbformat.write(LAB, str(tmp_path / "dup" / SOLUTION_PATH.name))
    (tmp_path / ".ipynb_checkpoints").mkdir()
    nbformat.write(LAB, str(tmp_path / ".ipynb_checkpoints" / "ann-checkpoint.ipynb"))
    entries = grading.find_submissions(tmp_path, SOLUTION_PATH.name)
    graded = {s.name: s.student for s in entries if not s.skipped}
    assert sorted(graded) == sorted([".dotfile_student", "Zoë Upper", "a b", "a_b", "dup", "李娜", "王伟"])
    assert len({sid.lower() for sid in graded.values()}) == len(graded)  # unique, even case-insensitively
    assert graded["王伟"] == "王伟" and graded["李娜"] == "李娜" and graded["Zoë Upper"] == "Zoë_Upper"
    assert {graded["a b"], graded["a_b"]} == {"a_b", "a_b-2"}
    dup = [s for s in entries if s.name == "dup"]
    assert {(s.path.name if s.path else "", bool(s.skipped)) for s in dup} == {
        ("dup.ipynb", True), (SOLUTION_PATH.name, False)}
    assert all("folder takes precedence" in s.skipped for s in dup if s.skipped)
    assert any(s.skipped.startswith(".ipynb_checkpoints/ skipped") for s in entries)


def test_feedback_bounds_a_flood_of_output(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("flood()")
    cell.metadata[grading.META] = {"role": "answer", "grade_id": "a1"}
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="Exception ignored in: <function __del__>\n" * 50)
                    for _ in range(5_000)]
    cell.outputs += [nbformat.v4.new_output("display_data", data={"text/plain": "x" * 100_000}) for _ in range(50)]
    nb.cells.append(cell)
    grading.write_feedback(nb, grading.Row("student", {}, {}, [], [], 1.0), "lab", "smoke", tmp_path / "s.ipynb")
    assert (tmp_path / "s.html").stat().st_size < 2_000_000
    outputs = nbformat.read(str(tmp_path / "s.ipynb"), as_version=4).cells[1].outputs
    assert len(outputs) <= grading.MAX_OUTPUTS + 1 and "characters cut" in outputs[0].text


def test_feedback_bounds_a_flood_spread_over_every_cell(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    for index in range(200):
        cell = nbformat.v4.new_code_cell(f"cell_{index}()")
        cell.metadata[grading.META] = {"role": "given", "grade_id": ""}
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "y" * 19_000}) for _ in range(25)]
        nb.cells.append(cell)
    grading.write_feedback(nb, grading.Row("student", {}, {}, [], [], 1.0), "lab", "smoke", tmp_path / "s.ipynb")
    assert (tmp_path / "s.ipynb").stat().st_size < 2.5 * grading.MAX_FEEDBACK_CHARS
    assert (tmp_path / "s.html").stat().st_size < 3_000_000
    assert "output not shown" in (tmp_path / "s.ipynb").read_text(encoding="utf-8")


def _build(submission, records: str = "/scratch/records", seed: int = 1):
    return grading.build_graded_notebook(SOLUTION, grading.lab_reference(SOLUTION), submission, records,
                                         grading.lab_config(SOLUTION, "smoke"), random.Random(seed))


def test_graded_notebook_follows_the_solution_and_matches_answers_by_grade_id() -> None:
    submission = _part_a()
    submission.cells = submission.cells[::-1]
    next(c for c in submission.cells if _gid(c) == "a1_forward_check").source = "pass"
    nb, plans, notes, review = _build(submission)
    roles = [c.metadata[grading.META]["role"] for c in nb.cells]
    lab_cells = [c for c in nb.cells if c.metadata[grading.META]["role"] not in assemble.GRADER_ROLES]
    assert [c.metadata[grading.META].get("shown", c.source) for c in lab_cells
            if c.metadata[grading.META]["role"] != "answer"] == [
        c.source for c in SOLUTION.cells if not c.metadata.get("nbgrader", {}).get("solution")]
    answers = {c.metadata[grading.META]["grade_id"]: c.source for c in lab_cells
               if c.metadata[grading.META]["role"] == "answer"}
    assert answers["a1_forward"] == ANSWERS["a1_forward"]
    assert "raise NotImplementedError()" in answers["b1_affine"]
    assert roles.count("begin") == roles.count("end") == roles.count("graded") == len(MAXIMA) == len(plans)
    for index, role in enumerate(roles):  # every graded cell sits between its begin and end cells
        if role == "graded":
            assert roles[index - 1] == "begin" and roles[index + 1] == "end"
    assert "/scratch/records/a1_forward_check" in nb.cells[roles.index("begin")].source
    assert notes == [] and review == ["edited locked cell a1_forward_check (ignored)"]


def test_the_kernel_never_sees_hidden_test_source_and_gets_fresh_seeds() -> None:
    first, plans, _, _ = _build(_lab_with(ANSWERS), seed=1)
    second, plans_again, _, _ = _build(_lab_with(ANSWERS), seed=2)
    kernel_code = "\n".join(c.source for c in first.cells if c.cell_type == "code")
    assert labs.BEGIN_HIDDEN not in kernel_code and "seed=11" not in kernel_code and "seed=26" not in kernel_code
    forward = plans["a1_forward_check"].calls
    assert [c.name for c in forward] == ["backprop.forward", "backprop.total_error"] * 2  # visible, then hidden
    seeds = [c.options["seed"] for plan in plans.values() for c in plan.calls if "seed" in c.options]
    seeds_again = [c.options["seed"] for plan in plans_again.values() for c in plan.calls if "seed" in c.options]
    assert len(seeds) == len(set(seeds)) > 20 and not set(seeds) & set(seeds_again)
    assert plans["c1_keras_mlp_check"].calls[1].options["sizes"] == [(40, 90, 6)]  # hidden options are kept
    target = plans["b_accuracy_check"].calls[0]  # a learning target: the check computes it from the weights
    assert (target.kind, target.name, target.options) == (
        "exercise", "backprop.mlp_accuracy", {"minimum": grading.lab_config(SOLUTION, "smoke").min_numpy_accuracy,
                                              "hidden": grading.lab_config(SOLUTION, "smoke").hidden})


@pytest.mark.parametrize("path", sorted(labs.SOLUTIONS.glob("*.ipynb")), ids=lambda p: p.stem[:2])
def test_every_graded_cell_of_every_lab_has_a_plan(path: Path) -> None:
    solution = labs.read(path)
    cfg = grading.lab_config(solution, "smoke")
    for cell in solution.cells:
        info = cell.metadata.get("nbgrader", {})
        if info.get("grade") and cell.cell_type == "code":
            plan = grading.plan_cell(info["grade_id"], cell.source, cfg, random.Random(0))
            assert plan.calls, info["grade_id"]
            assert labs.BEGIN_HIDDEN not in plan.source
            compile(plan.source, info["grade_id"], "exec")


def _records(plan, student: dict, seed_of=lambda call: call.options) -> list[dict]:
    """Records as an honest kernel would write them: each exercise probe run on ``student``'s functions."""
    from utils.exercises.framework import REGISTRY

    records = []
    for call in plan.calls:
        check = REGISTRY[call.name]
        names = [arg.strip() for arg in call.text.split("(", 1)[1].rsplit(")", 1)[0].split(",") if "=" not in arg]
        records.append({"kind": "exercise", "check": call.name,
                        "observed": check.observe(tuple(student[n] for n in names), seed_of(call))})
    return records


def test_the_judge_needs_every_planned_check_on_the_grader_s_inputs() -> None:
    from test_exercises_backprop import sgd_step_loop as sgd_step_ok

    plan = grading.plan_cell("a4_sgd_step_check", next(c.source for c in SOLUTION.cells if _gid(c) == "a4_sgd_step_check"),
                             None, random.Random(5))
    honest = _records(plan, {"sgd_step": sgd_step_ok})
    assert judge.judge_cell(plan, 1.0, honest).points == 1.0
    assert judge.judge_cell(plan, 1.0, honest[:1]).reason == "not verified: only 1 of its 2 checks reported"
    stale = _records(plan, {"sgd_step": sgd_step_ok}, lambda call: {**call.options, "seed": 0})  # yesterday's inputs
    verdict = judge.judge_cell(plan, 1.0, stale)
    assert verdict.points == 0 and "sgd_step(params, grads, lr=" in verdict.reason
    swapped = [dict(honest[0], check="backprop.forward"), honest[1]]
    assert judge.judge_cell(plan, 1.0, swapped).reason == "not verified: its check 1 reported as another check"


def test_value_checks_are_recomputed_by_the_grader_with_its_own_thresholds() -> None:
    source = next(c.source for c in SOLUTION.cells if _gid(c) == "a_training_check")
    plan = grading.plan_cell("a_training_check", source, grading.lab_config(SOLUTION, "smoke"), random.Random(0))
    assert [c.names for c in plan.calls] == [("errors",), ("final_error",)]

    def records(errors, final_error, claimed=True, limit=1.0):
        return [{"kind": "names", "values": {"errors": errors}},
                {"kind": "value", "function": "check_true", "args": [claimed, "fine", "fine"], "kwargs": {}},
                {"kind": "names", "values": {"final_error": final_error}},
                {"kind": "value", "function": "check_at_most", "args": ["anything", final_error, limit], "kwargs": {}}]

    assert judge.judge_cell(plan, 1.0, records([0.3, 0.2, 0.1], 5e-5)).points == 1.0
    flat = judge.judge_cell(plan, 1.0, records([0.3, 0.3, 0.3], 5e-5, claimed=True))  # a patched np.all said True
    assert flat.points == 0 and flat.reason == "The error went up at some step: check the sign of your update."
    high = judge.judge_cell(plan, 1.0, records([0.3, 0.2, 0.1], 0.5, limit=1.0))  # the kernel's limit is ignored
    assert high.reason == "Part A error after training is 0.5, above the limit of 0.0001 for this profile."
    missing = records([0.3, 0.2, 0.1], 5e-5)[1:]
    assert judge.judge_cell(plan, 1.0, missing).reason == (
        "not verified: the variables its checks measure were not recorded")
    extra = records([0.3, 0.2, 0.1], 5e-5)
    extra[1]["args"].append(True)
    assert judge.judge_cell(plan, 1.0, extra).reason.endswith("was not called as the lab calls it.")


def test_unreadable_submissions_become_reasons(tmp_path: Path) -> None:
    cases = {"text.ipynb": b"not json", "list.ipynb": b"[1, 2]", "binary.ipynb": bytes(range(256))}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        nb, problem = grading.read_submission(tmp_path / name)
        assert nb is None and problem.startswith("not a valid notebook"), problem


def test_review_flags_patching_but_not_the_solution() -> None:
    given = {"sigmoid", "params"}
    assert grading.review_answer("a1", PATCH_NUMPY, given) == [
        "answer a1 assigns np.max", "answer a1 assigns utils.checks.rel_error"]
    assert grading.review_answer("a1", "import gc\ngc.collect()\nsigmoid = abs\n", given) == [
        "answer a1 imports gc", "answer a1 uses gc", "answer a1 redefines the lab's 'sigmoid'"]
    for grade_id, source in ANSWERS.items():
        assert grading.review_answer(grade_id, source, given) == [], grade_id


def test_cli_grade_arguments() -> None:
    args = cli.build_parser().parse_args(["grade", "01", "subs", "--jobs", "2", "--cell-timeout", "30"])
    assert (args.lab, args.submissions, args.jobs, args.cell_timeout, args.profile) == ("01", "subs", 2, 30.0, "smoke")
    assert args.func is cli._cmd_grade


HIDDEN_CELL = (
    "exercises.backprop.check_sgd_step(sgd_step)\n"
    "### BEGIN HIDDEN TESTS\n"
    "exercises.backprop.check_sgd_step(sgd_step, seed=99)  # _secret_inputs\n"
    "### END HIDDEN TESTS\n"
)


def test_feedback_html_never_contains_hidden_test_source(tmp_path: Path) -> None:
    """The feedback shows the visible code, the kernel's output and the judge's lines, never the hidden code."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("exercises.backprop.check_sgd_step(sgd_step, seed=123456)")
    cell.metadata[grading.META] = {"role": "graded", "grade_id": "h1_check", "shown": HIDDEN_CELL}
    cell.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'sgd_step' is not defined",
                                           traceback=["Traceback", "exercises.backprop.check_sgd_step(sgd_step, seed=99)"])]
    nb.cells.append(cell)
    row = grading.Row("student", {"h1_check": 0.0}, {"h1_check": 1.0}, ["h1_check: NameError: name 'sgd_step'"], [], 1.0)
    grading.write_feedback(nb, row, "lab", "smoke", tmp_path / "student.ipynb", judged={"h1_check": ["\u2717 no"]})
    html = (tmp_path / "student.html").read_text(encoding="utf-8")
    assert "NameError" in html and "\u2717 no" in html and grading.HIDDEN_NOTE.strip("# ") in html
    for secret in ("_secret_inputs", "seed=99", "seed=123456", "BEGIN HIDDEN"):
        assert secret not in html, secret
