"""Check cells are one line, self-contained and order-independent; labs read on their own; nothing answers another lab.

* Every exercise (a solution cell) has a visible check: a one-line call into ``utils.exercises`` that names the
  exercise's functions. Such a cell uses no name another check cell made.
* Run after the set-up, the given definitions and the exercises only, every check cell passes in reverse order and
  again forwards: its verdict does not depend on what ran before.
* The student lab with the solutions pasted in is the solution notebook minus its hidden tests, so the nbval run of
  ``solutions/`` also runs it.
* No prose refers to lecture notes a student does not have; each lab has a Reading list.
* No lab's given code (nor ``utils``) holds another lab's exercise answer, even with renamed variables.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import re
from pathlib import Path

import nbformat
import pytest

from utils import labs

SOLUTIONS = labs.solution_paths()
COMPANIONS = sorted(labs.NOTEBOOKS.glob("*.ipynb"))
ROOT = labs.ROOT


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _visible(source: str) -> str:
    """A graded cell's source without its hidden-test region."""
    out, hidden = [], False
    for line in source.splitlines():
        if labs.BEGIN_HIDDEN in line:
            hidden = True
        elif labs.END_HIDDEN in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def _code_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if line.strip() and not line.strip().startswith("#")]


def _is_target(source: str) -> bool:
    """True for a cell of learning-target checks only (they judge what training produced, after the training)."""
    calls = re.findall(r"exercises\.(\w+)\.(check_\w+)\(", source)
    return bool(calls) and all(getattr(getattr(importlib.import_module(f"utils.exercises.{lab}"), name, None),
                                       "target", False) for lab, name in calls)


def exercise_check_cells(nb) -> list[tuple[str, str]]:
    """(grade_id, visible source) of the graded cells that check exercises (calls into utils.exercises)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "code" and _meta(cell).get("grade") and "exercises." in _visible(cell.source) \
                and not _is_target(_visible(cell.source)):
            found.append((_meta(cell)["grade_id"], _visible(cell.source)))
    return found


def _defined(source: str) -> set[str]:
    """Top-level names a cell defines (functions, classes, assignments, imports)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


CONSTRUCTORS = {"np.array", "np.asarray", "np.arange", "np.zeros", "np.ones", "np.float64", "np.float32", "dict",
                "list", "tuple", "set", "float", "int", "str", "range"}


def _is_cheap_assignment(node: ast.stmt) -> bool:
    """An assignment of literals built with constructors only (a given constant such as a parameter dict)."""
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
        return False
    return all(ast.unparse(call.func) in CONSTRUCTORS for call in ast.walk(node.value) if isinstance(call, ast.Call))


def _is_definitions_only(source: str) -> bool:
    """True for given cells that only import, define and set constants (safe and cheap to run before the checks)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    allowed = (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
    return all(isinstance(n, allowed) or _is_cheap_assignment(n)
               or (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in tree.body)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_every_exercise_has_a_one_line_package_check(path: Path) -> None:
    nb = labs.read(path)
    checks_cells = exercise_check_cells(nb)
    assert checks_cells, f"{path.name} has no check cells calling utils.exercises"
    for grade_id, source in checks_cells:
        for line in _code_lines(source):
            assert line.startswith("exercises."), f"{grade_id}: a check cell holds only check calls, found {line!r}"
    called = " ".join(source for _, source in checks_cells)
    for cell in nb.cells:
        if cell.cell_type == "code" and _meta(cell).get("solution"):
            for name in _defined(cell.source):
                assert re.search(rf"\b{re.escape(name)}\b", called), (
                    f"{path.name}: exercise `{name}` ({_meta(cell)['grade_id']}) has no visible check")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_check_cells_use_no_names_that_other_check_cells_made(path: Path) -> None:
    nb = labs.read(path)
    made_by_checks = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and _meta(cell).get("grade"):
            made_by_checks |= _defined(_visible(cell.source))
    for grade_id, source in exercise_check_cells(nb):
        used = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        shared = sorted(used & made_by_checks)
        assert not shared, f"{path.name} {grade_id} uses {shared}, made by a check cell"


def _order_notebook(path: Path):
    """Set-up, given definitions and exercises; then every check cell backwards, then forwards again."""
    nb = labs.read(path)
    keep = []
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = _meta(cell)
        if cell is first_code or meta.get("solution") or (not meta.get("grade") and _is_definitions_only(cell.source)):
            keep.append(nbformat.v4.new_code_cell(cell.source))
    check_cells = exercise_check_cells(nb)
    order = list(reversed(check_cells)) + check_cells
    for grade_id, source in order:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["check"] = grade_id
        keep.append(cell)
    out = nbformat.v4.new_notebook(metadata=nb.metadata)
    out.cells = keep
    return out, len(order)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_check_cells_pass_alone_in_any_order(path: Path) -> None:
    from nbclient import NotebookClient

    nb, count = _order_notebook(path)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(labs.SOLUTIONS)}}).execute()
    failures = [
        (cell.metadata.get("check", f"cell {i}"), o.get("ename"), re.sub(r"\x1b\[[0-9;]*m", "", "".join(o.get("traceback", [])))[:300])
        for i, cell in enumerate(nb.cells) for o in cell.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not failures, f"{path.name}: checks run after the exercises only, backwards then forwards: {failures}"
    ticks = sum("".join(o.get("text", "")).count("\u2713") for c in nb.cells if "check" in c.metadata
                for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert ticks >= count, f"{path.name}: {count} check cells ran but only {ticks} ticks were printed"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.stem)
def test_the_lab_with_solutions_pasted_in_is_the_solution_without_hidden_tests(path: Path) -> None:
    solution, lab = labs.read(path), labs.read(labs.lab_path(path))
    answers = {_meta(c)["grade_id"]: c.source for c in solution.cells if _meta(c).get("solution")}
    pasted = [answers.get(_meta(c).get("grade_id"), c.source) if _meta(c).get("solution") else c.source
              for c in lab.cells if c.cell_type == "code"]
    expected = [_visible(c.source).rstrip() if _meta(c).get("grade") else c.source
                for c in solution.cells if c.cell_type == "code"]
    assert [s.rstrip() for s in pasted] == [s.rstrip() for s in expected]


READING_NOTEBOOKS = SOLUTIONS + COMPANIONS


@pytest.mark.parametrize("path", READING_NOTEBOOKS, ids=lambda p: p.stem)
def test_reading_is_self_contained(path: Path) -> None:
    """No 'the lecture' or 'the notes' a student cannot look up; a Reading list of public sources."""
    for target in ([path, labs.lab_path(path)] if path.parent == labs.SOLUTIONS else [path]):
        nb = labs.read(target)
        for index, cell in enumerate(nb.cells):
            found = re.findall(r"\blectures?\b|\bthe notes\b|(?<!cs231n )\bnotes'", cell.source, flags=re.I)
            assert not found, f"{target.name} cell {index} refers to {found[0]!r}: state the fact and cite a public source"
    reading = [c for c in labs.read(path).cells if c.cell_type == "markdown" and c.source.lstrip().startswith("## Reading")]
    assert reading, f"{path.name} has no '## Reading' cell"
    sources = re.findall(r"https?://|\b(?:19|20)\d\d\b", reading[0].source)
    assert len(sources) >= 3, f"{path.name}: the Reading list names fewer than three public sources"


# ---------------------------------------------------------------------------
# No lab's given code answers another lab's exercise
# ---------------------------------------------------------------------------


MODULES = {"np", "tf", "keras", "layers", "math", "ops"}
MIN_EXPRESSION = 24  # AST nodes: an expression this large, computed the same way, is the same answer


class _Substitute(ast.NodeTransformer):
    """Inline earlier assignments, number the arguments, and blank every other local name."""

    def __init__(self, env: dict[str, ast.expr], args: dict[str, str]) -> None:
        self.env, self.args = env, args

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.env:
            return copy.deepcopy(self.env[node.id])
        if node.id in self.args:
            return ast.Name(id=self.args[node.id], ctx=ast.Load())
        if node.id in MODULES or hasattr(builtins, node.id):
            return node
        return ast.Name(id="_", ctx=ast.Load())


def expressions(func: ast.FunctionDef, min_size: int = MIN_EXPRESSION) -> set[str]:
    """Canonical dumps of a function's large expressions, with temporaries inlined and names normalised.

    ``c = x - x.mean(0); _, s, vt = svd(c); return c @ vt[:2].T`` and ``xc = a - a.mean(0); return xc @ svd(xc)[2][:2].T``
    give the same expression, so renaming variables or fusing lines does not hide a copied answer.
    """
    args = {a.arg: f"a{i}" for i, a in enumerate(func.args.args + func.args.kwonlyargs)}
    env: dict[str, ast.expr] = {}
    found: set[str] = set()

    def substitute(node: ast.expr) -> ast.expr:
        return _Substitute(env, args).visit(copy.deepcopy(node))

    def collect(node: ast.expr) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.expr) and sum(1 for _ in ast.walk(sub)) >= min_size:
                found.add(ast.dump(sub, annotate_fields=False))

    def run(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                value = substitute(statement.value)
                collect(value)
                target = statement.targets[0]
                if isinstance(target, ast.Name):
                    env[target.id] = value
                elif isinstance(target, ast.Tuple) and all(isinstance(e, ast.Name) for e in target.elts):
                    for i, element in enumerate(target.elts):
                        env[element.id] = ast.Subscript(value=value, slice=ast.Constant(i), ctx=ast.Load())
            elif isinstance(statement, (ast.For, ast.While, ast.If, ast.With)):
                for name in ("iter", "test"):
                    if hasattr(statement, name):
                        collect(substitute(getattr(statement, name)))
                run(statement.body)
                run(getattr(statement, "orelse", []))
            elif not isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
                for child in ast.iter_child_nodes(statement):
                    if isinstance(child, ast.expr):
                        collect(substitute(child))

    run(func.body)
    return found


def _functions(source: str) -> list[ast.FunctionDef]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]


def _answers() -> list[tuple[str, str, set[str]]]:
    """(notebook, function, canonical expressions) of every function written in a solution region."""
    found = []
    for path in SOLUTIONS:
        for cell in labs.read(path).cells:
            if cell.cell_type == "code" and _meta(cell).get("solution"):
                for func in _functions(cell.source):
                    found.append((path.stem, func.name, expressions(func)))
    return found


def _given_sources() -> list[tuple[str, str]]:
    given = []
    for path in SOLUTIONS + COMPANIONS:
        for index, cell in enumerate(labs.read(path).cells):
            if cell.cell_type == "code" and not _meta(cell).get("solution"):
                given.append((f"{path.stem} cell {index}", _visible(cell.source)))
    for path in sorted((ROOT / "utils").rglob("*.py")):
        given.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    return given


def find_answer_copies(answers, given) -> list[str]:
    """Places where given code computes a large expression the same way as another lab's exercise answer."""
    copies = []
    for where, source in given:
        for func in _functions(source):
            mine = expressions(func)
            for notebook, name, answer in answers:
                if where.startswith(notebook):
                    continue  # a lab's own given code may build on its own answers
                if answer & mine:
                    copies.append(f"{where}: `{func.name}` computes what {notebook}'s answer `{name}` does")
    return copies


def test_no_given_code_answers_another_labs_exercise() -> None:
    copies = find_answer_copies(_answers(), _given_sources())
    assert not copies, copies


def test_the_answer_copy_finder_sees_through_renamed_variables() -> None:
    answer = "def pca_2d(codes):\n    c = codes - codes.mean(axis=0)\n    u, s, vt = np.linalg.svd(c, full_matrices=False)\n" \
             "    return c @ vt[:2].T\n"
    renamed = "def project(x):\n    xc = x - x.mean(axis=0)\n    return xc @ np.linalg.svd(xc, full_matrices=False)[2][:2].T\n"
    answers = [("06_lab", "pca_2d", expressions(_functions(answer)[0]))]
    assert find_answer_copies(answers, [("07_lab cell 3", renamed)])
    assert not find_answer_copies(answers, [("07_lab cell 3", "def f(x):\n    return x\n")])
