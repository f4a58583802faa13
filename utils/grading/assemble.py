"""Assembling the graded notebook: the solution's cells, the student's answers, and a plan of every check.

The graded notebook follows the *solution's* cell sequence, as nbgrader's OverwriteCells does (re-implemented
by ``grade_id`` matching, without its database). An answer cell (nbgrader ``solution``) takes the source of the
submission's cell with the same ``grade_id``; a missing one falls back to the lab's stub. Every other cell comes
from the solution, so edits to them, deleted, reordered or added cells have no effect.

A graded cell is not run as written. :func:`plan_cell` turns it, hidden tests included, into the list of checks
it makes (:class:`Call`), with fresh random inputs for every probe that takes a ``seed``, and the code the kernel
runs: the same calls, which in the kernel only probe and record (``utils.grading.kernel``). The plan stays in the
grader's process, where ``utils.grading.judge`` judges the records against it.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from utils.grading.text import cell_text

# CPython's ast module is not safe to use from two threads at once ("AST constructor recursion depth mismatch",
# seen in CI): the grader's threads assemble and judge (both parse code) one at a time; kernels still run in parallel.
AST_LOCK = threading.RLock()
META = "course_grader"  # cell metadata key of the graded notebook (never shown to students)
GRADER_ROLES = ("begin", "end")  # the grader's own cells around each graded cell
VALUE_CHECKS = ("check_array", "check_mapping", "check_equal", "check_gradient", "check_at_least", "check_at_most",
                "check_true")
# Static review of answers: module-like roots whose attributes an answer should not assign,
# and names whose use in an answer deserves a look.
GUARDED_ROOTS = {"checks", "np", "numpy", "tf", "tensorflow", "keras", "utils", "builtins", "sys", "os",
                 "math", "plots", "data", "cfg", "importlib", "exercises"}
SUSPICIOUS = ("sys.modules", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.stdout", "sys.exit", "sys.path",
              "os._exit", "os.kill", "os.system", "os.fork", "os.setsid", "os.environ", "get_ipython", "__builtins__",
              "__file__", "builtins", "importlib", "inspect", "gc", "ctypes", "signal", "subprocess", "threading",
              "multiprocessing", "runpy", "socket", "shutil", "glob")
SUSPICIOUS_CALLS = {"setattr", "delattr", "exec", "eval", "globals", "__import__", "compile", "open"}
SAFE_BUILTINS = {"abs": abs, "min": min, "max": max, "round": round, "len": len, "float": float, "int": int}
_GRADER_MODULES = ("np",)  # a measured value's expression may use NumPy: the grader's own, on recorded plain data


def meta(cell: Any) -> dict:
    """Return a cell's nbgrader metadata (empty when absent or malformed)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return value if isinstance(value, dict) else {}


def graded_cells(solution: Any) -> dict[str, float]:
    """Return each graded cell's grade_id and points, in notebook order."""
    return {m["grade_id"]: float(m["points"]) for m in map(meta, solution.cells) if m.get("grade")}


def parse_source(source: str) -> ast.Module | None:
    """Parse a cell (IPython magics included) into an AST, or None when it is not valid Python."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except Exception:  # noqa: BLE001 - unparsable: nothing to analyse
        return None


class _Binder(ast.NodeVisitor):
    """Collect the names a cell binds at its top level (functions' and classes' bodies excluded)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.names.add(node.id)

    def visit_FunctionDef(self, node: ast.AST) -> None:
        self.names.add(node.name)  # type: ignore[attr-defined]

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")

    visit_ImportFrom = visit_Import

    def _skip(self, node: ast.AST) -> None:
        """Lambdas and comprehensions bind locally."""

    visit_Lambda = visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _skip


def bound_names(source: str) -> set[str]:
    """Return the names a cell binds at its top level."""
    tree = parse_source(source)
    if tree is None:
        return set()
    binder = _Binder()
    binder.visit(tree)
    return binder.names


def _dotted(node: ast.AST) -> str:
    """Return 'a.b.c' for a Name/Attribute chain, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id, *reversed(parts)])
    return ""


def review_answer(grade_id: str, source: str, given: set[str]) -> list[str]:
    """Return review notes for an answer that patches modules or uses introspection (grades unchanged)."""
    tree = parse_source(source)
    if tree is None:
        return []
    found: list[str] = []

    def note(text: str) -> None:
        if text not in found:
            found.append(text)

    def assigned(target: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                assigned(element)
            return
        while isinstance(target, (ast.Subscript, ast.Starred)):
            target = target.value
        if isinstance(target, ast.Attribute) and _dotted(target).split(".")[0] in GUARDED_ROOTS:
            note(f"assigns {_dotted(target)}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.Delete)):
            for target in node.targets:
                assigned(target)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            assigned(node.target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_CALLS:
            note(f"calls {node.func.id}()")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in SUSPICIOUS:
                    note(f"imports {module}")
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if any(dotted == s or dotted.startswith(s + ".") for s in SUSPICIOUS if "." in s or s == dotted):
                note(f"uses {dotted}")
    redefined = sorted(bound_names(source) & given)
    if redefined:
        note("redefines the lab's " + ", ".join(f"'{n}'" for n in redefined[:5]))
    return [f"answer {grade_id} {text}" for text in found[:6]]


def lab_reference(solution: Any) -> dict[str, dict[str, str]]:
    """Return the lab's answer stubs and its locked cells' nbgrader checksums, by grade_id."""
    from utils.labs import make_lab

    lab = make_lab(solution)
    return {
        "stubs": {meta(c)["grade_id"]: c.source for c in lab.cells if meta(c).get("solution")},
        "checksums": {meta(c)["grade_id"]: meta(c).get("checksum", "") for c in lab.cells if meta(c)},
    }



# ---------------------------------------------------------------------------
# The plan of a graded cell
# ---------------------------------------------------------------------------


_KERNEL = "__import__('utils.grading.kernel', fromlist=['_'])"  # the kernel-side module, bound to no name


class PlanError(ValueError):
    """A graded cell of the solution that the grader cannot turn into a plan (a course bug, not a student's)."""


@dataclass
class Call:
    """One check a graded cell makes, as the grader will judge it."""

    kind: str  # "exercise" (a registered probe/judge check) or "value" (a utils.checks function)
    name: str  # the registered check ("backprop.forward") or the function ("check_at_least")
    text: str  # the call as the kernel runs it
    options: dict[str, Any] = field(default_factory=dict)  # exercise: keyword options of probe and judge
    static: dict[str, Any] = field(default_factory=dict)  # value: argument (index or keyword) -> grader's value
    arity: tuple[int, tuple[str, ...]] = (0, ())  # value: positional count and keywords, as the solution calls it
    exprs: dict[str, str] = field(default_factory=dict)  # value: measured argument -> its expression in the solution
    names: tuple[str, ...] = ()  # value: the notebook variables those expressions read (recorded just before)


@dataclass
class CellPlan:
    """What a graded cell checks and the code the kernel runs for it."""

    grade_id: str
    calls: list[Call]
    source: str


def _dotted_call(node: ast.AST) -> list[str]:
    """Return ['a', 'b', 'c'] for a call of a.b.c(...), else []."""
    if not isinstance(node, ast.Call):
        return []
    parts = _dotted(node.func).split(".")
    return parts if parts != [""] else []


def _exercise_check(parts: list[str]) -> Any:
    """Return the registered Check that ``exercises.<lab>.<check>`` names, or None."""
    if len(parts) != 3 or parts[0] != "exercises" or not parts[2].startswith("check_"):
        return None
    from utils.exercises.framework import Check

    try:
        found = getattr(importlib.import_module(f"utils.exercises.{parts[1]}"), parts[2])
    except (ImportError, AttributeError):
        raise PlanError(f"{'.'.join(parts)} is not an exercise check") from None
    return found if isinstance(found, Check) else None


def _is_check_call(node: ast.AST) -> bool:
    """Return True for a call of an exercise check or a value check."""
    parts = _dotted_call(node)
    return bool(parts) and (parts[0] == "exercises" or (parts[:1] == ["checks"] and parts[-1] in VALUE_CHECKS))


def _static(node: ast.AST) -> bool:
    """Return True when an expression depends only on constants, ``cfg`` and a few pure builtins."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id != "cfg" and sub.id not in SAFE_BUILTINS:
            return False
        if isinstance(sub, ast.Call) and not (isinstance(sub.func, ast.Name) and sub.func.id in SAFE_BUILTINS):
            return False
        if isinstance(sub, (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)):
            return False
    return True


def _evaluate(node: ast.AST, cfg: Any) -> Any:
    """Evaluate a static expression with the grader's own ``cfg``."""
    code = compile(ast.Expression(body=node), "<graded cell>", "eval")
    return eval(code, {"__builtins__": {}, "cfg": cfg, **SAFE_BUILTINS})  # noqa: S307 - the solution's own code


def _exercise_call(node: ast.Call, check: Any, rng: random.Random, cfg: Any) -> Call:
    """Plan an exercise check call: options the grader evaluates (literals, ``cfg``), a fresh seed if it takes one."""
    options: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise PlanError("an exercise check is called with **options")
        if not _static(keyword.value):
            raise PlanError(f"option {keyword.arg} of {check.name} depends on the notebook's state")
        options[keyword.arg] = _evaluate(keyword.value, cfg)  # a target such as cfg.min_accuracy: the grader's
    if "seed" in inspect.signature(check.probe).parameters:
        options["seed"] = rng.randrange(1, 2**31 - 10_000)  # drawn afresh for every run: hard-coding cannot pass
    args = [ast.unparse(arg) for arg in node.args]
    text = f"{ast.unparse(node.func)}({', '.join(args + [f'{k}={v!r}' for k, v in options.items()])})"
    return Call("exercise", check.name, text, options=options)


def _free_names(node: ast.AST) -> set[str]:
    """Return the notebook variables an expression reads: not builtins, not names its comprehensions bind."""
    import builtins

    bound = {n.id for comp in ast.walk(node) if isinstance(comp, (ast.GeneratorExp, ast.ListComp, ast.SetComp,
                                                                    ast.DictComp, ast.Lambda))
             for n in ast.walk(comp) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for lam in ast.walk(node) if isinstance(lam, ast.Lambda) for a in lam.args.args}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - bound - set(
        dir(builtins))


def _value_call(node: ast.Call, name: str, cfg: Any) -> Call:
    """Plan a value check: the grader evaluates its static arguments (names, thresholds) itself."""
    static: dict[str, Any] = {}
    for index, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise PlanError(f"checks.{name} is called with *args")
        if _static(arg):
            static[str(index)] = _evaluate(arg, cfg)
    for keyword in node.keywords:
        if keyword.arg is None:
            raise PlanError(f"checks.{name} is called with **kwargs")
        if _static(keyword.value):
            static[keyword.arg] = _evaluate(keyword.value, cfg)
    arity = (len(node.args), tuple(sorted(k.arg for k in node.keywords if k.arg)))
    measured = {str(i): a for i, a in enumerate(node.args) if str(i) not in static}
    measured.update({k.arg: k.value for k in node.keywords if k.arg and k.arg not in static})
    names = sorted(set().union(*map(_free_names, measured.values())) - set(_GRADER_MODULES) - {"cfg"})
    return Call("value", name, ast.unparse(node), static=static, arity=arity,
                exprs={k: ast.unparse(a) for k, a in measured.items()}, names=tuple(names))


def plan_cell(grade_id: str, source: str, cfg: Any, rng: random.Random) -> CellPlan:
    """Plan a graded cell of the solution (hidden tests included): its checks, and the code the kernel runs."""
    tree = parse_source(source)
    if tree is None:
        raise PlanError(f"graded cell {grade_id} is not valid Python")
    calls: list[Call] = []
    statements: list[str] = []

    def plan(stmts: list[ast.stmt], top: bool) -> None:
        for stmt in stmts:
            node = stmt.value if isinstance(stmt, ast.Expr) else None
            parts = _dotted_call(node) if node is not None else []
            check = _exercise_check(parts) if parts else None
            if check is not None:
                if not top:
                    raise PlanError(f"graded cell {grade_id}: an exercise check inside a block")
                call = _exercise_call(node, check, rng, cfg)
                calls.append(call)
                statements.append(call.text)
                continue
            if parts[:1] == ["checks"] and parts[-1] in VALUE_CHECKS and len(parts) == 2:
                call = _value_call(node, parts[1], cfg)
                if not top:
                    call.names = ()  # inside a block: the kernel's value is judged as it is
                elif call.names:  # record the variables first, so that the grader can recompute the value itself
                    statements.append(_KERNEL + f".note({', '.join(f'{n}={n}' for n in call.names)})")
                calls.append(call)
            elif isinstance(stmt, ast.If) and any(_is_check_call(n) for n in ast.walk(stmt)):
                if not _static(stmt.test):
                    raise PlanError(f"graded cell {grade_id}: a check under a condition the grader cannot evaluate")
                plan(stmt.body if _evaluate(stmt.test, cfg) else stmt.orelse, False)
            elif any(_is_check_call(n) for n in ast.walk(stmt)):
                raise PlanError(f"graded cell {grade_id}: a check inside a loop, a function or an expression")
            if top:
                statements.append(ast.get_source_segment(source, stmt) or ast.unparse(stmt))

    plan(tree.body, True)
    return CellPlan(grade_id, calls, "\n".join(statements) + "\n")


# ---------------------------------------------------------------------------
# The graded notebook
# ---------------------------------------------------------------------------


def _grader_cell(role: str, grade_id: str, call: str) -> Any:
    """Return one of the grader's own code cells (they record; they decide nothing)."""
    from nbformat.v4 import new_code_cell

    cell = new_code_cell(f"{_KERNEL}.{call}\n")
    cell.metadata[META] = {"role": role, "grade_id": grade_id}
    return cell


def lab_config(solution: Any, profile: str) -> Any:
    """Return the lab's settings in a profile, as its setup cell's ``start_lab("...")`` would."""
    from utils.profiles import get_profile

    for cell in solution.cells:
        tree = parse_source(cell.source) if cell.cell_type == "code" else None
        for node in ast.walk(tree) if tree is not None else []:
            if _dotted_call(node)[-1:] == ["start_lab"] and node.args and isinstance(node.args[0], ast.Constant):
                return get_profile(profile).lab(node.args[0].value)
    raise PlanError("the solution has no start_lab(\"...\") call")


def build_graded_notebook(solution: Any, reference: dict[str, dict[str, str]], submission: Any, records: str,
                          cfg: Any, rng: random.Random) -> tuple[Any, dict[str, CellPlan], list[str], list[str]]:
    """Return (graded notebook, plan of each graded cell, reasons, review notes) for a submission.

    ``records`` is the folder (as the kernel sees it) where the kernel writes each graded cell's records.
    """
    import nbformat
    from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

    stubs, checksums = reference["stubs"], reference["checksums"]
    notes: list[str] = []
    review: list[str] = []
    plans: dict[str, CellPlan] = {}
    by_id: dict[str, list[Any]] = {}
    for cell in submission.cells:
        grade_id = meta(cell).get("grade_id")
        if isinstance(grade_id, str):
            by_id.setdefault(grade_id, []).append(cell)
    given_names: set[str] = set()
    for cell in solution.cells:
        if cell.cell_type == "code" and not is_solution(cell):
            given_names |= bound_names(cell.source)

    nb = nbformat.v4.new_notebook(metadata=nbformat.from_dict(solution.metadata))
    missing: list[str] = []
    for original in solution.cells:
        cell = nbformat.from_dict(original)
        grade_id = meta(original).get("grade_id", "")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        copies = by_id.get(grade_id, []) if grade_id else []
        if is_solution(original):
            role = "answer"
            if copies:
                cell.source = cell_text(copies[-1].get("source"))
                if len(copies) > 1:
                    notes.append(f"cell {grade_id} appears {len(copies)} times: graded the last one")
                if copies[-1].get("cell_type") != original.cell_type:
                    notes.append(f"cell {grade_id} was changed to {copies[-1].get('cell_type')}: graded as code")
                if original.cell_type == "code":
                    review += review_answer(grade_id, cell.source, given_names)
            else:
                cell.source = stubs.get(grade_id, cell.source)
                missing.append(grade_id)
        else:
            role = "graded" if is_grade(original) else "given"
            if copies and is_locked(original):
                try:
                    edited = compute_checksum(nbformat.from_dict(copies[-1])) != checksums.get(grade_id)
                except Exception:  # noqa: BLE001 - malformed metadata counts as an edit
                    edited = True
                if edited:
                    review.append(f"edited locked cell {grade_id} (ignored)")
        cell.metadata[META] = {"role": role, "grade_id": grade_id}
        if role == "graded" and cell.cell_type == "code":
            plans[grade_id] = plan_cell(grade_id, original.source, cfg, rng)
            cell.metadata[META]["shown"] = original.source  # feedback shows the solution's cell, hidden tests cut
            cell.source = plans[grade_id].source
            nb.cells.append(_grader_cell("begin", grade_id, f"begin({records.rstrip('/') + '/' + grade_id!r})"))
            nb.cells.append(cell)
            nb.cells.append(_grader_cell("end", grade_id, "end()"))
        else:
            nb.cells.append(cell)

    answers = [c for c in solution.cells if is_solution(c)]
    if answers and len(missing) == len(answers):
        notes.append("no answer cell of this lab was found (another notebook?): graded as unanswered")
    else:
        notes += [f"cell {gid} missing: counted as unanswered" for gid in missing]
    known = {meta(c).get("grade_id") for c in solution.cells} - {None}
    unmarked = {c.source.strip() for c in solution.cells if not meta(c)}
    strays = [c for c in submission.cells if c.get("cell_type") == "code" and meta(c).get("grade_id") not in known
              and cell_text(c.get("source")).strip() not in unmarked]
    for gid in missing:
        wanted = bound_names(stubs.get(gid, ""))
        for cell in strays:
            defined = wanted & bound_names(cell_text(cell.get("source")))
            if defined:
                review.append(f"a cell without grade_id {gid} defines {', '.join(sorted(defined))}: not graded")
                break
    if strays:
        notes.append(f"{len(strays)} code cell(s) that are not in the lab were not run")
    return nb, plans, notes, review
