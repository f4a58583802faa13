"""Grade a class's submissions of a lab against its solution: a gradebook and per-student feedback.

``python -m utils grade LAB SUBMISSIONS_DIR`` builds, for every submission, the
notebook that nbgrader's autograde would run, executes it in a fresh kernel in
its own process, and scores each graded cell by its nbgrader ``points``.

**Submissions.** ``SUBMISSIONS_DIR`` holds one ``STUDENT.ipynb`` per student, or
one folder per student (``STUDENT/``) containing the lab's notebook at any depth
(so nbgrader's ``submitted/STUDENT/ASSIGNMENT/`` layout works); a folder with a
single notebook of another name is accepted too. The student id is the file
stem or the folder name. Submissions are only ever opened for reading.

**The graded notebook.** It follows the *solution's* cell sequence, as
nbgrader's OverwriteCells does (re-implemented by ``grade_id`` matching, without
its database). An answer cell (nbgrader ``solution``) takes the source of the
submission's cell with the same ``grade_id``; a missing one falls back to the
lab's stub, so it scores zero where it matters. Every other cell (graded checks
with their hidden tests, locked and unmarked given cells) comes from the
solution, so edits to them, deleted, reordered or added cells have no effect.
Cells the student added are not run.

**Execution.** A worker process (``python -m utils.grading JOB``) runs each
submission with nbclient in a fresh kernel (``allow_errors``), a per-cell
timeout (the cell is interrupted and grading goes on) and an overall deadline;
the parent kills the worker and its kernel 60 s past that deadline whatever
happens. The kernel runs in a temporary folder with its own HOME, KERAS_HOME,
IPYTHONDIR, MPLCONFIGDIR and TMPDIR, ``COURSE_PROFILE`` from ``--profile`` and
the instructor's ``COURSE_DATA_DIR``. The default profile is ``smoke``: it
checks every exercise and still asserts above-chance learning, a class grades
in minutes, and its short cells keep timeouts meaningful; ``--profile cpu``
grades against the laptop targets the students saw.

**Scoring.** A graded cell earns its points only if (1) the grader's guard cell
before it reported, with this run's random nonce, a clean environment, (2) the
cell's execute reply is ``ok`` and it has no error output, and (3) the grader's
verify cell after it reported the same clean fingerprint. Otherwise it scores
zero with a one-line reason (the check's own sentence, ``timed out``, ``kernel
died``, ``tampering detected``). Anything that cannot be verified scores zero.

**Anti-tampering (and its limits).** The grader's cells are injected into the
graded notebook only, executed without history, and never shown to students.
A baseline cell, run after the lab's setup and before any student code,
snapshots the identity of every attribute of numpy, TensorFlow, Keras (and their
public submodules and classes), ``builtins``, ``math``, ``operator``,
``functools`` and the course's ``utils`` modules, the notebook's module,
function and ``cfg`` bindings, and the code of ``utils.checks``. Before each
check the guard re-loads a pristine ``utils.checks`` from its file and rebinds
``checks``, restores every replaced attribute and binding, the names the lab's
own cells bound, and removes answer names that shadow builtins; after each
check the verify cell recomputes the fingerprint *before* restoring, so a
student function that patches the checks, numpy or the references while a
check runs forfeits that check. The digests are compared by the grader
process, outside the kernel, together with the reply status and error outputs
it reads itself. Each answer is also scanned statically for suspicious
constructs (patching modules, ``sys.modules``, ``get_ipython``, frame or
garbage-collector introspection) and for redefining the lab's own names; these
land in the gradebook's ``review`` column without changing grades.

This stops the monkeypatching a student can do from an answer cell. It does not
make untrusted code safe: grading runs the students' code as the instructor's
user, with the instructor's file system and network. Code written to subvert
the grader from inside the kernel (IPython input transformers or event hooks
that read the grader's cells, patched builtins that fake the fingerprint,
stack-frame walking to copy a check's expected values, private numpy/TensorFlow
internals, background threads, in-place mutation of given data, processes that
escape the kernel's process group) can defeat in-process checks. For a class
you do not trust, run the grading in a disposable container or VM without
network and with memory limits, and read the ``review`` column.

**Output** (``--out``, default ``build/grades/LAB/``): ``gradebook.csv`` (one row
per student: a column per graded cell with the points earned, ``total``,
``max``, ``reasons``, ``review``), ``results.json`` (the same with timings and
settings) and ``feedback/STUDENT.ipynb`` and ``.html``: the executed graded
notebook with each check's score and reason under it and the hidden tests'
code replaced by a note (their outputs stay, so a student sees which hidden
check failed and why without learning its inputs). Every submission ends as a
row, whatever it does. Grades are deterministic: ``start_lab`` seeds everything.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import re
import secrets
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

from utils.labs import BEGIN_HIDDEN, END_HIDDEN, ROOT, SOLUTIONS

# Per profile: (seconds per cell, seconds per submission) when not given.
DEFAULT_TIMEOUTS = {"smoke": (120.0, 900.0), "cpu": (900.0, 3600.0), "gpu": (1800.0, 7200.0)}
KILL_GRACE_S = 60.0  # the parent kills a worker this long after its submission's deadline
PROBE_TIMEOUT_S = 15  # after a timeout, a kernel that cannot run `pass` within this is stuck
GRADER_CELL_TIMEOUT_S = 120  # the grader's own cells
TOKEN = "__course_grader__ "
META = "course_grader"  # cell metadata key of the graded notebook (stripped from feedback)
TIMEOUT_ENAME = "CellTimeoutError"
HIDDEN_NOTE = "# (hidden tests ran here; their code is not shown)"
MAX_STREAM_CHARS = 20_000  # feedback keeps at most this many characters of each output
MAX_OUTPUTS = 20  # and at most this many outputs per cell
GRADER_ROLES = ("baseline", "record", "guard", "verify")

# Static review of answers: module-like roots whose attributes an answer should not assign,
# and names whose use in an answer deserves a look.
_GUARDED_ROOTS = {"checks", "np", "numpy", "tf", "tensorflow", "keras", "utils", "builtins", "sys", "os",
                  "math", "plots", "data", "cfg", "importlib"}
_SUSPICIOUS = ("sys.modules", "sys._getframe", "sys.settrace", "sys.setprofile", "sys.stdout", "sys.exit",
               "os._exit", "os.kill", "os.system", "get_ipython", "__builtins__", "builtins", "importlib",
               "inspect", "gc", "ctypes", "signal", "subprocess", "threading", "multiprocessing")
_SUSPICIOUS_CALLS = {"setattr", "delattr", "exec", "eval", "globals", "__import__", "compile"}

# The grader's kernel-side code. Each grader cell defines this function, calls it once and deletes it.
_KERNEL_CODE = r'''
def _course_grader_cell(role, nonce, grade_id, names, checks_path, rebound, prefix):
    """The grader's own cell (not part of the lab): snapshot, restore, fingerprint, report."""
    import array, builtins, hashlib, importlib.util, json, sys, types

    ns, missing = globals(), object()
    state = sys.modules.get("_course_grader_state")

    def load_checks():
        spec = importlib.util.spec_from_file_location("utils.checks", checks_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["utils.checks"] = module
        spec.loader.exec_module(module)
        sys.modules["utils"].checks = module
        for alias in state.checks_aliases:
            ns[alias] = module

    def code_sig(code):
        parts = [code.co_name, code.co_code, code.co_names, code.co_varnames, code.co_freevars]
        parts += [code_sig(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
        return repr(parts)

    def value_sig(key, value, module):
        if isinstance(value, types.FunctionType):
            return "F" + code_sig(value.__code__) + repr(
                (value.__defaults__, value.__kwdefaults__, value.__globals__ is vars(module)))
        if isinstance(value, type):
            return "C" + repr(sorted(
                (k, code_sig(v.__code__) if isinstance(v, types.FunctionType) else repr(v))
                for k, v in vars(value).items()))
        if isinstance(value, types.ModuleType) or key == "__builtins__":
            return "M%d" % id(value)
        return "R" + repr(value)

    def checks_sigs():
        module = sys.modules.get("utils.checks")
        sigs = {"<bindings>": repr([ns.get(a) is module for a in state.checks_aliases]
                                   + [getattr(sys.modules.get("utils"), "checks", None) is module])}
        if isinstance(module, types.ModuleType):
            for key, value in vars(module).items():
                if key not in ("__loader__", "__spec__"):
                    sigs[key] = value_sig(key, value, module)
        return sigs

    def shadows():
        return sorted(k for k in ns if k in state.builtin_names and k not in state.baseline_keys
                      and k not in rebound and not k.startswith("_"))

    def survey():
        """Return (what changed, how to undo it, digest) for the watched state now."""
        changed, fixes, ids, texts = [], [], array.array("Q"), []
        for label, kind, target, keys, values, base in state.tables:
            current = vars(target) if kind != "dict" else target
            now = [current.get(k, missing) for k in keys]
            now_ids = list(map(id, now))
            ids.extend(now_ids)
            if now_ids != base:
                for key, value, item in zip(keys, values, now):
                    if item is not value:
                        changed.append(label + key)
                        fixes.append((kind, target, key, value))
        for key, (obj, saved, text) in state.objects.items():
            now = repr(vars(obj))
            texts.append(now)
            if now != text:
                changed.append(key + " (its settings)")
                fixes.append(("object", obj, saved, None))
        sigs = checks_sigs()
        texts.append(repr(sorted(sigs.items())))
        changed += ["utils.checks." + k for k in sorted(set(sigs) | set(state.checks_sigs))
                    if sigs.get(k) != state.checks_sigs.get(k)]
        extra = shadows()
        texts.append(repr(extra))
        changed += ["builtin %r shadowed" % k for k in extra]
        fixes += [("shadow", ns, k, None) for k in extra]
        digest = hashlib.sha256(ids.tobytes() + "\n".join(texts).encode()).hexdigest()[:32]
        return changed, fixes, digest

    def restore(fixes):
        for kind, target, key, value in fixes:
            try:
                if kind == "class":
                    setattr(target, key, value)
                elif kind == "module":
                    vars(target)[key] = value
                elif kind == "dict":
                    target[key] = value
                elif kind == "object":
                    vars(target).clear()
                    vars(target).update(key)
                elif kind == "shadow":
                    target.pop(key, None)
            except (AttributeError, TypeError):
                pass
        restored = []
        for key, value in list(state.given.items()):
            if ns.get(key, missing) is not value:
                ns[key] = value
                restored.append(key)
        load_checks()
        return restored

    def record():
        for name in names:
            if name in state.checks_aliases or name in ("_", "__", "___"):  # IPython's output cache
                continue
            if name in ns:
                state.given[name] = ns[name]
            else:
                state.given.pop(name, None)

    def report(**payload):
        payload.update(nonce=nonce, role=role, grade_id=grade_id)
        print(prefix + json.dumps(payload, sort_keys=True, default=str))

    if role == "baseline":
        state = types.ModuleType("_course_grader_state")
        sys.modules["_course_grader_state"] = state
        import numpy  # noqa: F401
        try:  # the exercise checks load lazily: load them all now, so that they are watched too
            package = importlib.import_module("utils.exercises")
            for sub in getattr(package, "__all__", []):
                importlib.import_module("utils.exercises." + sub)
        except Exception:
            pass
        watched = ["builtins", "math", "operator", "functools", "utils"]
        for root in ("numpy", "tensorflow", "keras"):
            if root in sys.modules:
                watched.append(root)
                watched += [v.__name__ for v in list(vars(sys.modules[root]).values())
                            if type(v) is types.ModuleType and v.__name__.startswith(root)]
        watched += [n for n in list(sys.modules) if n.startswith("utils.") and n != "utils.checks"]
        state.tables, seen_classes = [], set()
        skip = {"__warningregistry__", "_", "__", "___", "input"}  # ipykernel swaps builtins.input per request
        modules = {}
        for name in sorted(set(watched)):
            module = sys.modules.get(name)
            if isinstance(module, types.ModuleType):
                modules[name] = module
        def table(label, kind, target, entries):
            keys, values = list(entries), list(entries.values())
            state.tables.append((label, kind, target, keys, values, list(map(id, values))))
        table("sys.modules:", "dict", sys.modules, modules)
        for name, module in modules.items():
            entries = {k: v for k, v in list(vars(module).items()) if k not in skip
                       and not (isinstance(v, types.ModuleType) and type(v) is not types.ModuleType)
                       and not (name == "utils" and k == "checks")}
            table(name + ".", "module", module, entries)
            for value in entries.values():
                if isinstance(value, type) and id(value) not in seen_classes:
                    seen_classes.add(id(value))
                    methods = {k: v for k, v in vars(value).items() if k not in ("__dict__", "__weakref__")
                               and (callable(v) or isinstance(v, (staticmethod, classmethod, property)))}
                    if methods:
                        table("%s.%s." % (value.__module__, value.__qualname__), "class", value, methods)
        profiles = sys.modules.get("utils.profiles")
        config_type = getattr(profiles, "LabConfig", ())
        ignore = {"In", "Out", "get_ipython", "exit", "quit", "open"} | set(rebound)
        state.checks_aliases = [k for k, v in ns.items() if v is sys.modules.get("utils.checks")]
        protected, state.objects = {}, {}
        for key, value in list(ns.items()):
            if key.startswith("_") or key in ignore or key in state.checks_aliases:
                continue
            if isinstance(value, (types.ModuleType, types.FunctionType, type)):
                protected[key] = value
            elif config_type and isinstance(value, config_type):
                protected[key] = value
                state.objects[key] = (value, dict(vars(value)), repr(vars(value)))
        table("", "dict", ns, protected)
        state.builtin_names = set(vars(builtins))
        state.baseline_keys = set(ns)
        state.given = {}
        record()
        load_checks()
        state.checks_sigs = checks_sigs()
        changed, _, digest = survey()
        report(digest=digest, changed=changed[:20])
    elif state is None:
        report(error="the grader's baseline is missing")
    elif role == "record":
        record()
    elif role == "guard":
        before, fixes, digest = survey()
        names_restored = restore(fixes)
        changed = []
        if before:  # otherwise nothing needed restoring: the fresh utils.checks has the baseline's code
            changed, _, digest = survey()
        report(digest=digest, restored=sorted(set(before + names_restored))[:20], changed=changed[:20])
    elif role == "verify":
        changed, fixes, digest = survey()
        report(digest=digest, changed=changed[:20])
        record()
        restore(fixes)
'''


@dataclass
class Submission:
    """One student's submission: where it is, or why there is nothing to grade."""

    student: str
    path: Path | None
    problem: str = ""
    name: str = ""  # the name as submitted (file stem or folder name); ``student`` is its unique safe id
    skipped: str = ""  # why this entry is not graded (a duplicate, Jupyter's checkpoints)


@dataclass
class Row:
    """One gradebook row: points per graded cell, reasons for lost points, notes for review."""

    student: str
    points: dict[str, float]
    max_points: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    seconds: float = 0.0
    name: str = ""  # the name as submitted, when it differs from the safe id in ``student``

    @property
    def total(self) -> float:
        """Points earned over all graded cells."""
        return sum(self.points.values())

    @property
    def maximum(self) -> float:
        """Points available over all graded cells."""
        return sum(self.max_points.values())


# ---------------------------------------------------------------------------
# Finding the lab and the submissions
# ---------------------------------------------------------------------------


def resolve_lab(name: str) -> Path:
    """Return the solution notebook named by a lab name or prefix ("01", "01_backprop_by_hand")."""
    candidates = sorted(SOLUTIONS.glob("*.ipynb"))
    stem = Path(name).stem if name.endswith(".ipynb") else name
    exact = [p for p in candidates if p.stem == stem]
    matches = exact or [p for p in candidates if p.stem.startswith(stem)] or [p for p in candidates if stem in p.stem]
    known = ", ".join(p.stem for p in candidates) or "none"
    if not matches:
        raise FileNotFoundError(f"No lab matches '{name}' in {SOLUTIONS}; known labs: {known}.")
    if len(matches) > 1:
        raise ValueError(f"'{name}' matches several labs ({', '.join(p.stem for p in matches)}); be more specific.")
    return matches[0]


def _is_notebook(path: Path) -> bool:
    """Return True for a file that could be a notebook: any case of the .ipynb suffix."""
    return path.suffix.lower() == ".ipynb"


def _stem(path: Path) -> str:
    """Return a file name without its .ipynb suffix, whatever its case."""
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def find_submissions(folder: Path, notebook_name: str) -> list[Submission]:
    """Return one submission per ``STUDENT.ipynb`` file or ``STUDENT/`` folder, plus the entries skipped and why.

    Every file that could be a notebook (any case of ``.ipynb``, dot-files included) becomes a submission or is
    skipped with a reason. A student with both ``STUDENT.ipynb`` and ``STUDENT/`` is graded once, from the folder.
    Each submission gets a unique, file-name-safe id (``student``); the original name is kept (``name``).
    """
    if not folder.is_dir():
        raise FileNotFoundError(f"Submissions folder {folder} does not exist.")
    found: list[Submission] = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            if entry.name == ".ipynb_checkpoints":
                found.append(Submission(entry.name, None, name=entry.name,
                                        skipped=f"{entry.name}/ skipped: Jupyter's autosave copies, not a submission"))
                continue
            notebooks = sorted(p for p in entry.rglob("*") if p.is_file() and _is_notebook(p)
                               and ".ipynb_checkpoints" not in p.relative_to(entry).parts)
            named = [p for p in notebooks if p.name.lower() == notebook_name.lower()]
            chosen = named if named else notebooks
            if len(chosen) == 1:
                found.append(Submission(entry.name, chosen[0], name=entry.name))
            elif not chosen:
                found.append(Submission(entry.name, None, f"no notebook found in {entry.name}/", name=entry.name))
            else:
                listed = ", ".join(str(p.relative_to(entry)) for p in chosen[:5])
                found.append(Submission(entry.name, None, f"several candidate notebooks in {entry.name}/ ({listed})",
                                        name=entry.name))
        elif entry.is_file() and _is_notebook(entry):
            found.append(Submission(_stem(entry), entry, name=_stem(entry)))
    folders = {s.name for s in found if s.path is None or s.path.parent != folder}
    for sub in found:  # one student, two submissions: the folder (nbgrader's layout) is graded, the file skipped
        if sub.path is not None and sub.path.parent == folder and sub.name in folders and not sub.skipped:
            sub.skipped = (f"{sub.path.name} skipped: {sub.name}/ is graded for this student (a folder takes "
                           "precedence over a notebook of the same name)")
    used: set[str] = set()
    for sub in found:
        if sub.skipped:
            continue
        base = safe_name(sub.name)
        sub.student, k = base, 2
        while sub.student.lower() in used:  # ids differ even on a case-insensitive file system
            sub.student, k = f"{base}-{k}", k + 1
        used.add(sub.student.lower())
    return found


def safe_name(student: str) -> str:
    """Return a file-name-safe version of a student id (letters of any script, digits, '.', '_', '-')."""
    return re.sub(r"[^\w.-]+", "_", student).strip("._") or "student"


# ---------------------------------------------------------------------------
# Building the graded notebook
# ---------------------------------------------------------------------------


def _meta(cell: Any) -> dict:
    """Return a cell's nbgrader metadata (empty when absent or malformed)."""
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    value = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return value if isinstance(value, dict) else {}


def _text(source: Any) -> str:
    """Return a cell source as one string, whatever shape the submission stored it in."""
    if isinstance(source, list):
        return "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def graded_cells(solution: Any) -> dict[str, float]:
    """Return each graded cell's grade_id and points, in notebook order."""
    return {m["grade_id"]: float(m["points"]) for m in map(_meta, solution.cells) if m.get("grade")}


def read_submission(path: Path) -> tuple[Any, str]:
    """Read a submission without modifying it; return (notebook, "") or (None, why it is unusable)."""
    import nbformat

    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"could not read the notebook ({type(exc).__name__}: {exc.strerror or exc})"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"not a valid notebook: not JSON ({_one_line(str(exc), 120)})"
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        return None, "not a valid notebook: the JSON has no list of cells"
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any malformed notebook becomes a reason
        return None, f"not a valid notebook ({type(exc).__name__}: {_one_line(str(exc), 120)})"
    if not all(isinstance(cell, dict) for cell in nb.cells):
        return None, "not a valid notebook: a cell is not an object"
    return nb, ""


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
        if isinstance(target, ast.Attribute) and _dotted(target).split(".")[0] in _GUARDED_ROOTS:
            note(f"assigns {_dotted(target)}")

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.Delete)):
            for target in node.targets:
                assigned(target)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            assigned(node.target)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _SUSPICIOUS_CALLS:
            note(f"calls {node.func.id}()")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in _SUSPICIOUS:
                    note(f"imports {module}")
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if any(dotted == s or dotted.startswith(s + ".") for s in _SUSPICIOUS if "." in s or s == dotted):
                note(f"uses {dotted}")
    redefined = sorted(bound_names(source) & given)
    if redefined:
        note("redefines the lab's " + ", ".join(f"'{n}'" for n in redefined[:5]))
    return [f"answer {grade_id} {text}" for text in found[:6]]


def _grader_cell(role: str, nonce: str, grade_id: str, names: list[str], rebound: list[str]) -> Any:
    """Return one of the grader's own code cells."""
    from nbformat.v4 import new_code_cell

    call = (f"_course_grader_cell({role!r}, {nonce!r}, {grade_id!r}, {sorted(names)!r}, "
            f"{str(ROOT / 'utils' / 'checks.py')!r}, {sorted(rebound)!r}, {TOKEN!r})")
    cell = new_code_cell(_KERNEL_CODE + "\n" + call + "\ndel _course_grader_cell\n")
    cell.metadata[META] = {"role": role, "grade_id": grade_id}
    return cell


def lab_reference(solution: Any) -> dict[str, dict[str, str]]:
    """Return the lab's answer stubs and its locked cells' nbgrader checksums, by grade_id."""
    from utils.labs import make_lab

    lab = make_lab(solution)
    return {
        "stubs": {_meta(c)["grade_id"]: c.source for c in lab.cells if _meta(c).get("solution")},
        "checksums": {_meta(c)["grade_id"]: _meta(c).get("checksum", "") for c in lab.cells if _meta(c)},
    }


def build_graded_notebook(solution: Any, reference: dict[str, dict[str, str]], submission: Any,
                          nonce: str) -> tuple[Any, list[str], list[str]]:
    """Return (graded notebook, reasons, review notes) for a submission, following the solution's cells."""
    import nbformat
    from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

    stubs, checksums = reference["stubs"], reference["checksums"]
    notes: list[str] = []
    review: list[str] = []
    by_id: dict[str, list[Any]] = {}
    for cell in submission.cells:
        grade_id = _meta(cell).get("grade_id")
        if isinstance(grade_id, str):
            by_id.setdefault(grade_id, []).append(cell)
    given_names: set[str] = set()
    for cell in solution.cells:
        if cell.cell_type == "code" and not is_solution(cell):
            given_names |= bound_names(cell.source)
    rebound = sorted(given_names)
    first = [i for i, c in enumerate(solution.cells) if is_solution(c) or is_grade(c)]
    baseline_at = first[0] if first else len(solution.cells)
    early: set[str] = set()
    for cell in solution.cells[:baseline_at]:
        if cell.cell_type == "code":
            early |= bound_names(cell.source)

    nb = nbformat.v4.new_notebook(metadata=nbformat.from_dict(solution.metadata))
    missing: list[str] = []
    for index, original in enumerate(solution.cells):
        if index == baseline_at:
            nb.cells.append(_grader_cell("baseline", nonce, "", sorted(early), rebound))
        cell = nbformat.from_dict(original)
        grade_id = _meta(original).get("grade_id", "")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        copies = by_id.get(grade_id, []) if grade_id else []
        if is_solution(original):
            role = "answer"
            if copies:
                cell.source = _text(copies[-1].get("source"))
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
            cell.source = guard_hidden_tests(cell.source)
        if role == "graded":
            nb.cells.append(_grader_cell("guard", nonce, grade_id, [], rebound))
        nb.cells.append(cell)
        names = sorted(bound_names(cell.source)) if cell.cell_type == "code" else []
        if role == "graded":
            nb.cells.append(_grader_cell("verify", nonce, grade_id, names, rebound))
        elif role == "given" and index > baseline_at and names:
            nb.cells.append(_grader_cell("record", nonce, grade_id, names, rebound))
    if baseline_at == len(solution.cells):
        nb.cells.append(_grader_cell("baseline", nonce, "", sorted(early), rebound))

    answers = [c for c in solution.cells if is_solution(c)]
    if answers and len(missing) == len(answers):
        notes.append("no answer cell of this lab was found (another notebook?): graded as unanswered")
    else:
        notes += [f"cell {gid} missing: counted as unanswered" for gid in missing]
    known = {_meta(c).get("grade_id") for c in solution.cells} - {None}
    unmarked = {c.source.strip() for c in solution.cells if not _meta(c)}
    strays = [c for c in submission.cells if c.get("cell_type") == "code" and _meta(c).get("grade_id") not in known
              and _text(c.get("source")).strip() not in unmarked]
    for gid in missing:
        wanted = bound_names(stubs.get(gid, ""))
        for cell in strays:
            defined = wanted & bound_names(_text(cell.get("source")))
            if defined:
                review.append(f"a cell without grade_id {gid} defines {', '.join(sorted(defined))}: not graded")
                break
    if strays:
        notes.append(f"{len(strays)} code cell(s) that are not in the lab were not run")
    return nb, notes, review


# ---------------------------------------------------------------------------
# Executing and scoring
# ---------------------------------------------------------------------------


def _one_line(text: str, limit: int = 300) -> str:
    """Return text without ANSI colours, squeezed onto one line of at most ``limit`` characters."""
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_line(error: dict) -> str:
    """Return an error output or reply as the one-line reason shown in the gradebook."""
    name, value = str(error.get("ename", "Error")), _one_line(str(error.get("evalue", "")))
    if name == "NotImplementedYet" and value:
        return value.split(": ", 1)[0]  # "`forward` is not implemented yet"
    if name == "CheckFailure" and value:
        return value
    return f"{name}: {value}" if value else name


def _outcome(cell: Any, reply: dict, limit: float | None) -> dict[str, str]:
    """Return how a cell's execution went, read from its reply and outputs by the grader itself."""
    if not cell.source.strip():
        return {"status": "ok", "reason": ""}
    if reply.get("ename") == TIMEOUT_ENAME:
        return {"status": "timeout", "reason": f"timed out after {limit or 0:g} s (interrupted)"}
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return {"status": "error", "reason": _error_line(errors[0])}
    if reply.get("status") != "ok":
        return {"status": "error", "reason": _error_line(reply) if reply.get("ename") else "failed without a message"}
    return {"status": "ok", "reason": ""}


def execute_graded(nb: Any, workdir: Path, cell_timeout: float, deadline: float,
                   outcomes: dict[int, dict[str, str]], pid_file: Path | None = None,
                   after_cell: Any = None) -> None:
    """Execute the graded notebook cell by cell in a fresh kernel, filling ``outcomes`` by cell index."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError
    from nbformat.v4 import new_code_cell, new_output

    replies: dict[int, dict] = {}
    limits: dict[int, float] = {}

    def limit_for(cell: Any) -> int:
        role = cell.metadata.get(META, {}).get("role")
        cap = PROBE_TIMEOUT_S if role == "probe" else GRADER_CELL_TIMEOUT_S if role in GRADER_ROLES else cell_timeout
        limits[id(cell)] = max(1, int(min(cap, deadline - time.monotonic())))
        return int(limits[id(cell)])

    def executed(cell: Any, execute_reply: dict, **_: Any) -> None:
        content = execute_reply.get("content", {})
        replies[id(cell)] = content
        if content.get("ename") == TIMEOUT_ENAME:
            message = f"the cell ran longer than {limits.get(id(cell), 0):g} s and was interrupted"
            cell.outputs.append(new_output("error", ename=TIMEOUT_ENAME, evalue=message,
                                           traceback=[f"{TIMEOUT_ENAME}: {message}"]))

    client = NotebookClient(
        nb, kernel_name="python3", timeout=int(cell_timeout), timeout_func=limit_for, allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        resources={"metadata": {"path": str(workdir)}}, extra_arguments=["--HistoryManager.hist_file=:memory:"],
        shutdown_kernel="immediate", on_cell_executed=executed, startup_timeout=120, record_timing=False,
    )

    def responsive() -> bool:
        probe = new_code_cell("pass")
        probe.metadata[META] = {"role": "probe"}
        nb.cells.append(probe)  # nbclient writes the executed cell back at its index
        try:
            client.execute_cell(probe, len(nb.cells) - 1, store_history=False)
        except Exception:  # noqa: BLE001 - any failure means the kernel is not usable
            return False
        finally:
            nb.cells.pop()
        return replies.get(id(probe), {}).get("status") == "ok"

    stop = ""
    with client.setup_kernel():
        provisioner = getattr(client.km, "provisioner", None)
        if pid_file is not None and getattr(provisioner, "pid", None):
            pid_file.write_text(str(provisioner.pid))
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            if not stop and deadline - time.monotonic() < 1:
                stop = "not run: the submission's time limit ran out"
            if stop:
                outcomes[index] = {"status": "skipped", "reason": stop}
                continue
            role = cell.metadata.get(META, {}).get("role")
            try:
                client.execute_cell(cell, index, store_history=role not in GRADER_ROLES)
                outcomes[index] = _outcome(cell, replies.get(id(cell), {}), limits.get(id(cell)))
            except DeadKernelError:
                outcomes[index] = {"status": "died", "reason": "the kernel died while this cell ran"}
                stop = "not run: the kernel died earlier"
            except Exception as exc:  # noqa: BLE001 - a grader-side failure becomes a reason
                outcomes[index] = {"status": "error", "reason": f"grader error: {type(exc).__name__}: {_one_line(str(exc))}"}
                stop = "" if responsive() else "not run: the kernel stopped responding"
            if outcomes[index]["status"] == "timeout" and not responsive():
                stop = "not run: the kernel stopped responding after a timeout"
            if after_cell is not None:
                after_cell(index)


def _token(cell: Any, nonce: str, role: str, grade_id: str) -> dict | None:
    """Return the one report the grader's cell printed with this run's nonce, or None."""
    found = []
    for output in cell.get("outputs", []):
        if output.get("output_type") != "stream" or output.get("name") != "stdout":
            continue
        for line in _text(output.get("text")).splitlines():
            if not line.startswith(TOKEN):
                continue
            try:
                payload = json.loads(line[len(TOKEN):])
            except ValueError:
                continue
            if isinstance(payload, dict) and payload.get("nonce") == nonce and payload.get("role") == role \
                    and payload.get("grade_id") == grade_id:
                found.append(payload)
    return found[0] if len(found) == 1 else None


def score(nb: Any, outcomes: dict[int, dict[str, str]], nonce: str,
          maxima: dict[str, float]) -> tuple[dict[str, list], list[str]]:
    """Score each executed graded cell; return ({grade_id: [points, reason]}, notes)."""
    at: dict[tuple[str, str], int] = {}
    baseline, base_reason, notes = None, "", []
    for index, cell in enumerate(nb.cells):
        info = cell.metadata.get(META, {})
        role, grade_id = info.get("role"), info.get("grade_id", "")
        at[(role, grade_id)] = index
        outcome = outcomes.get(index)
        if outcome is None:
            continue
        if role == "baseline":
            token = _token(cell, nonce, "baseline", "") if outcome["status"] == "ok" else None
            baseline = token.get("digest") if token else None
            base_reason = outcome["reason"] or "its report is missing"
        elif role in ("answer", "given") and outcome["status"] in ("timeout", "died"):
            where = f"answer {grade_id}" if role == "answer" else f"cell {index}"
            notes.append(f"{where}: {outcome['reason']}")
        elif role == "answer" and outcome["status"] == "error" and grade_id:
            notes.append(f"answer {grade_id}: {outcome['reason']}")
    cells: dict[str, list] = {}
    for grade_id, points in maxima.items():
        graded = outcomes.get(at.get(("graded", grade_id), -1))
        if graded is None:
            continue
        if graded["status"] != "ok":
            cells[grade_id] = [0.0, graded["reason"]]
            continue
        verify_at = at.get(("verify", grade_id), -1)
        after = outcomes.get(verify_at)
        if after is None:
            continue  # not verified yet
        guard = _token(nb.cells[at[("guard", grade_id)]], nonce, "guard", grade_id) \
            if ("guard", grade_id) in at else None
        verify = _token(nb.cells[verify_at], nonce, "verify", grade_id) if after["status"] == "ok" else None
        if baseline is None:
            cells[grade_id] = [0.0, f"not verified: the grader's baseline failed ({base_reason})"]
        elif after["status"] != "ok" or verify is None:
            cells[grade_id] = [0.0, "not verified: the grader's check after this cell did not report"
                               + (f" ({after['reason']})" if after["reason"] else "")]
        elif verify.get("digest") != baseline:
            changed = ", ".join(verify.get("changed") or ["the grader's own state"])
            cells[grade_id] = [0.0, f"tampering detected while this check ran: {_one_line(changed, 160)} changed"]
        elif guard is None or guard.get("digest") != baseline:
            changed = ", ".join((guard or {}).get("changed") or ["no report"])
            cells[grade_id] = [0.0, f"not verified: the environment could not be restored before this check "
                                    f"({_one_line(changed, 160)})"]
        else:
            cells[grade_id] = [points, ""]
    return cells, notes


def restored_notes(nb: Any, nonce: str) -> list[str]:
    """Return review notes naming what the guards had to restore before each check."""
    notes = []
    for cell in nb.cells:
        info = cell.metadata.get(META, {})
        if info.get("role") == "guard":
            token = _token(cell, nonce, "guard", info.get("grade_id", ""))
            if token and token.get("restored"):
                notes.append(f"restored before {info['grade_id']}: {_one_line(', '.join(token['restored']), 160)}")
    return notes


# ---------------------------------------------------------------------------
# Rows, feedback and the gradebook
# ---------------------------------------------------------------------------


def make_row(student: str, maxima: dict[str, float], result: dict, fallback: str = "") -> Row:
    """Turn a worker's result into a gradebook row; cells it did not score get 0 and ``fallback``."""
    points: dict[str, float] = {}
    grouped: dict[str, list[str]] = {}
    cells = result.get("cells", {}) if isinstance(result.get("cells"), dict) else {}
    for grade_id, maximum in maxima.items():
        earned, reason = cells.get(grade_id, [0.0, fallback])
        points[grade_id] = min(max(float(earned), 0.0), maximum)
        if reason:
            grouped.setdefault(str(reason), []).append(grade_id)
    reasons = [str(n) for n in result.get("notes", [])]
    reasons += [f"{', '.join(ids)}: {reason}" for reason, ids in grouped.items()]
    return Row(student, points, dict(maxima), reasons, [str(n) for n in result.get("review", [])],
               float(result.get("seconds", 0.0)))


def _hide_hidden_tests(source: str) -> str:
    """Replace each hidden-test region of a graded cell with a one-line note."""
    out, hidden = [], False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            hidden = True
            out.append(HIDDEN_NOTE)
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def guard_hidden_tests(source: str) -> str:
    """Wrap each hidden-test region of a graded cell so that any failure in it ends as one sentence.

    The region runs inside ``try``; an exception becomes a CheckFailure whose message names no hidden-test line,
    so neither the kernel's traceback nor the gradebook reason can show the hidden tests' source.
    """
    out: list[str] = []
    indent, hidden = "", False
    for line in source.splitlines():
        if BEGIN_HIDDEN in line:
            indent, hidden = line[: len(line) - len(line.lstrip())], True
            out += [line, f"{indent}try:"]
        elif END_HIDDEN in line and hidden:
            hidden = False
            out += [f"{indent}    pass", f"{indent}except Exception as _hidden_test_error:",
                    f"{indent}    __import__('utils.checks').checks.hidden_test_failure(_hidden_test_error)", line]
        elif hidden:
            out.append(f"    {line}" if line.strip() else line)
        else:
            out.append(line)
    return "\n".join(out)


def _one_line_errors(cell: Any) -> None:
    """Reduce a cell's error outputs to one line each (no traceback frames, so no source lines)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            output["traceback"] = [_error_line(output)]


def _cut(text: str, limit: int = MAX_STREAM_CHARS) -> str:
    """Keep the start and the end of a long text, with a note of how much was cut."""
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n...({len(text) - limit // 2 - 2000:,} characters cut)...\n" + text[-2000:]


def _truncate_outputs(cell: Any) -> None:
    """Bound a cell's feedback: merged streams and each text field cut to MAX_STREAM_CHARS, at most MAX_OUTPUTS."""
    import nbformat

    streams: dict[str, list[str]] = {}
    kept: list[Any] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            name = output.get("name", "stdout")
            if name not in streams:
                streams[name] = []
                kept.append(nbformat.v4.new_output("stream", name=name, text=""))
            streams[name].append(_text(output.get("text")))
        else:
            kept.append(output)
    for output in kept:
        if output.get("output_type") == "stream":
            output["text"] = _cut("".join(streams[output["name"]]))
        if output.get("output_type") == "error" and sum(map(len, output.get("traceback", []))) > MAX_STREAM_CHARS:
            output["traceback"] = [_cut("\n".join(output["traceback"]))]
        for mime, value in dict(output.get("data", {})).items():
            if isinstance(value, str) or isinstance(value, list):
                text = _text(value)
                if len(text) > MAX_STREAM_CHARS:
                    output["data"][mime] = _cut(text) if mime.startswith("text/") else "(output too large)"
    if len(kept) > MAX_OUTPUTS:
        dropped = len(kept) - MAX_OUTPUTS
        kept = kept[:MAX_OUTPUTS] + [nbformat.v4.new_output("stream", name="stdout",
                                                            text=f"...({dropped} more outputs cut)...\n")]
    cell["outputs"] = kept


def _md(text: str) -> str:
    """Escape a reason for a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def write_feedback(nb: Any, row: Row, lab: str, profile: str, path: Path) -> None:
    """Write a student's feedback notebook (and its HTML export next to it)."""
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook

    lines = [f"# Feedback: {lab} ({row.student})", "",
             f"**Score: {row.total:g} / {row.maximum:g}**, graded in the `{profile}` profile. "
             "Below, each check shows its points; the code of hidden tests is not shown, their output is.", "",
             "| check | points | why points were lost |", "|---|---|---|"]
    cell_reason = {gid: r.split(": ", 1)[1] for r in row.reasons for gid in r.split(": ", 1)[0].split(", ")
                   if gid in row.points and ": " in r}
    for grade_id, earned in row.points.items():
        lines.append(f"| {grade_id} | {earned:g} / {row.max_points[grade_id]:g} | {_md(cell_reason.get(grade_id, ''))} |")
    notes = [r for r in row.reasons if r.split(": ", 1)[0].split(", ")[0] not in row.points]
    if notes:
        lines += ["", "**Notes**", ""] + [f"* {_md(n)}" for n in notes]
    feedback = new_notebook(metadata=nbformat.from_dict(nb.metadata) if nb is not None else {})
    feedback.cells.append(new_markdown_cell("\n".join(lines)))
    for cell in nb.cells if nb is not None else []:
        info = cell.metadata.get(META, {})
        if info.get("role") in GRADER_ROLES:
            continue
        cell = nbformat.from_dict(cell)
        cell.metadata.pop(META, None)
        _truncate_outputs(cell)
        if info.get("role") == "graded":
            cell.source = _hide_hidden_tests(cell.source)
            _one_line_errors(cell)
        feedback.cells.append(cell)
        grade_id = info.get("grade_id", "")
        if info.get("role") == "graded" and grade_id in row.points:
            earned, maximum = row.points[grade_id], row.max_points[grade_id]
            verdict = "\u2713" if earned == maximum else f"\u2717 {cell_reason.get(grade_id, '')}"
            feedback.cells.append(new_markdown_cell(f"**{grade_id}: {earned:g} / {maximum:g} points** {verdict}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(feedback, str(path))
    try:
        from nbconvert import HTMLExporter

        html, _ = HTMLExporter().from_notebook_node(feedback)
        path.with_suffix(".html").write_text(html, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - the notebook is the feedback; HTML is a convenience
        path.with_suffix(".html").write_text(f"<p>HTML export failed: {type(exc).__name__}</p>", encoding="utf-8")


def _number(value: float) -> str:
    """Format points without a trailing .0."""
    return f"{value:g}"


def write_gradebook(rows: list[Row], maxima: dict[str, float], path: Path) -> None:
    """Write gradebook.csv atomically: student, one column per graded cell, total, max, reasons, review."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *maxima, "total", "max", "reasons", "review", "name"])
    for row in sorted(rows, key=lambda r: r.student):
        writer.writerow([row.student, *(_number(row.points.get(g, 0.0)) for g in maxima), _number(row.total),
                         _number(row.maximum), "; ".join(row.reasons), "; ".join(row.review), row.name or row.student])
    _write_text(path, buffer.getvalue())


def _write_text(path: Path, text: str) -> None:
    """Write a file atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def format_table(rows: list[Row], profile: str) -> str:
    """Return the grading summary as an aligned text table."""
    header = ("student", "score", "why points were lost")
    body = [(r.student, f"{r.total:g} / {r.maximum:g}", _one_line("; ".join(r.reasons), 90) or "-")
            for r in sorted(rows, key=lambda r: r.student)]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([f"Profile: {profile}", fmt(header), "  ".join("-" * w for w in widths), *map(fmt, body)])


# ---------------------------------------------------------------------------
# The worker (one submission, in its own process)
# ---------------------------------------------------------------------------


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically."""
    _write_text(path, json.dumps(data, indent=1, sort_keys=True))


def run_job(job: dict) -> dict:
    """Grade one submission as described by a job (see ``_grade_one``); write and return its result."""
    import nbformat

    started = time.monotonic()
    deadline = started + float(job["timeout"])
    result: dict[str, Any] = {"cells": {}, "notes": [], "review": [], "finished": False}
    result_path, snapshot = Path(job["result"]), Path(job["snapshot"])
    nb = None
    solution = nbformat.read(job["solution"], as_version=4)
    maxima = graded_cells(solution)
    try:
        if job.get("problem"):
            result["notes"].append(job["problem"])
            return result
        submission, problem = read_submission(Path(job["submission"]))
        if problem:
            result["notes"].append(problem)
            return result
        nonce = secrets.token_hex(16)
        nb, notes, review = build_graded_notebook(solution, job["reference"], submission, nonce)
        result["notes"] += notes
        result["review"] += review
        outcomes: dict[int, dict[str, str]] = {}

        def checkpoint(index: int) -> None:
            role = nb.cells[index].metadata.get(META, {}).get("role")
            if role == "verify" or outcomes[index]["status"] != "ok":
                result["cells"], _ = score(nb, outcomes, nonce, maxima)
                result["seconds"] = round(time.monotonic() - started, 1)
                _write_json(result_path, result)
                nbformat.write(nb, str(snapshot))

        execute_graded(nb, Path(job["workdir"]), float(job["cell_timeout"]), deadline, outcomes,
                       Path(job["kernel_pid"]), checkpoint)
        result["cells"], notes = score(nb, outcomes, nonce, maxima)
        result["notes"] += notes
        result["review"] += restored_notes(nb, nonce)
    except Exception as exc:  # noqa: BLE001 - whatever happens, the row survives with a reason
        result["notes"].append(f"grader error: {type(exc).__name__}: {_one_line(str(exc))}")
    finally:
        result["finished"] = True
        result["seconds"] = round(time.monotonic() - started, 1)
        _write_json(result_path, result)
        try:
            row = make_row(job["student"], maxima, result, "not verified")
            write_feedback(nb, row, job["lab"], job["profile"], Path(job["feedback"]))
        except Exception as exc:  # noqa: BLE001
            print(f"feedback failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return result


# ---------------------------------------------------------------------------
# The parent: many submissions, each in a worker process
# ---------------------------------------------------------------------------


@dataclass
class _Context:
    """What every submission's grading shares."""

    lab: str
    solution: Path
    reference: dict
    maxima: dict[str, float]
    profile: str
    cell_timeout: float
    timeout: float
    out_dir: Path
    data_dir: str
    stop: threading.Event = field(default_factory=threading.Event)
    active: set = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _worker_env(tmp: Path, ctx: _Context) -> dict[str, str]:
    """Return the hermetic environment of a worker and its kernel."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLBACKEND", "COURSE_FULL_TRACEBACKS", "JPY_PARENT_PID", "PYTHONSTARTUP")}
    home = tmp / "home"
    dirs = {"HOME": home, "KERAS_HOME": home / ".keras", "IPYTHONDIR": home / ".ipython",
            "MPLCONFIGDIR": home / ".matplotlib", "XDG_CACHE_HOME": home / ".cache",
            "XDG_CONFIG_HOME": home / ".config", "JUPYTER_CONFIG_DIR": home / ".jupyter",
            "JUPYTER_DATA_DIR": home / ".local" / "share" / "jupyter", "JUPYTER_RUNTIME_DIR": tmp / "runtime",
            "TMPDIR": tmp / "tmp"}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in dirs.items()})
    env.update(COURSE_PROFILE=ctx.profile, COURSE_DATA_DIR=ctx.data_dir, PYTHONHASHSEED="0",
               TF_CPP_MIN_LOG_LEVEL="2", PYTHONNOUSERSITE="1", TF_FORCE_GPU_ALLOW_GROWTH="true",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
    return env


def _kill_group(pid: int) -> None:
    """Kill a process group (falling back to the process) and ignore one that is already gone."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _kill_kernel(pid_file: Path) -> None:
    """Kill a submission's kernel and its children if they outlived their worker."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            if b"ipykernel" not in cmdline.read_bytes():
                return  # gone, or the pid was reused by something else
        except OSError:
            return
    _kill_group(pid)


def _grade_one(sub: Submission, ctx: _Context, feedback: Path) -> Row:
    """Grade one submission in a worker process; always return a row."""
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="cnn-grade-"))
    fallback, killed = "not graded", False
    try:
        if ctx.stop.is_set():
            return make_row(sub.student, ctx.maxima, {"notes": ["not graded: the grading run was interrupted"]})
        (tmp / "work").mkdir()
        job = {"student": sub.student, "submission": str(sub.path) if sub.path else "", "problem": sub.problem,
               "solution": str(ctx.solution), "reference": ctx.reference, "lab": ctx.lab, "profile": ctx.profile,
               "cell_timeout": ctx.cell_timeout, "timeout": ctx.timeout, "workdir": str(tmp / "work"),
               "result": str(tmp / "result.json"), "snapshot": str(tmp / "executed.ipynb"),
               "kernel_pid": str(tmp / "kernel.pid"), "feedback": str(feedback)}
        _write_json(tmp / "job.json", job)
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "utils.grading", str(tmp / "job.json")], cwd=str(ROOT),
                                    env=_worker_env(tmp, ctx), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            with ctx.lock:
                ctx.active.add(proc)
            try:
                proc.wait(timeout=ctx.timeout + KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                killed = True
                _kill_group(proc.pid)
                proc.wait()
            finally:
                with ctx.lock:
                    ctx.active.discard(proc)
        _kill_kernel(tmp / "kernel.pid")
        try:
            result = json.loads((tmp / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = {}
        if not result.get("finished"):
            tail = (tmp / "worker.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
            why = (f"the submission ran past its overall time limit of {ctx.timeout:g} s" if killed
                   else "the grading was interrupted" if ctx.stop.is_set()
                   else f"the grading worker stopped (exit code {proc.returncode}"
                        f"{': ' + _one_line(tail[0], 120) if tail else ''})")
            result.setdefault("notes", []).append(why)
            fallback = f"not verified: {why}"
            result["seconds"] = round(time.monotonic() - started, 1)
            row = make_row(sub.student, ctx.maxima, result, fallback)
            nb = None
            if (tmp / "executed.ipynb").exists():
                import nbformat

                nb = nbformat.read(str(tmp / "executed.ipynb"), as_version=4)
            write_feedback(nb, row, ctx.lab, ctx.profile, feedback)
            return row
        return make_row(sub.student, ctx.maxima, result, fallback)
    except Exception as exc:  # noqa: BLE001 - never lose a row
        return make_row(sub.student, ctx.maxima, {"notes": [f"grader error: {type(exc).__name__}: {_one_line(str(exc))}"],
                                                  "seconds": round(time.monotonic() - started, 1)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _data_dir() -> str:
    """Return the data cache the kernels should read (resolved before HOME is replaced)."""
    from utils import data

    return str(data.data_dir())


def grade(lab: str, submissions: Path, out_dir: Path | None = None, jobs: int = 1, timeout: float | None = None,
          cell_timeout: float | None = None, profile: str = "smoke", progress: bool = True) -> list[Row]:
    """Grade every submission of a lab; write gradebook.csv, results.json and feedback; return the rows."""
    import nbformat

    if profile not in DEFAULT_TIMEOUTS:
        raise ValueError(f"Unknown profile '{profile}'; choose one of {', '.join(DEFAULT_TIMEOUTS)}.")
    solution_path = resolve_lab(lab)
    solution = nbformat.read(str(solution_path), as_version=4)
    entries = find_submissions(Path(submissions), solution_path.name)
    skipped = [e.skipped for e in entries if e.skipped]
    subs = [e for e in entries if not e.skipped]
    if not subs:
        raise FileNotFoundError(f"No submissions in {submissions}: expected STUDENT.ipynb files or STUDENT/ folders.")
    out_dir = Path(out_dir or Path("build") / "grades" / solution_path.stem).resolve()
    ctx = _Context(solution_path.stem, solution_path, lab_reference(solution), graded_cells(solution), profile,
                   float(cell_timeout or DEFAULT_TIMEOUTS[profile][0]), float(timeout or DEFAULT_TIMEOUTS[profile][1]),
                   out_dir, _data_dir())
    names = {sub.student: out_dir / "feedback" / f"{sub.student}.ipynb" for sub in subs}  # ids are unique and safe
    print(f"Grading {len(subs)} submission(s) of {ctx.lab} in the {profile} profile with {jobs} job(s) "
          f"(cell timeout {ctx.cell_timeout:g} s, {ctx.timeout:g} s per submission); output in {out_dir}/")
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
                   "jobs": jobs, "skipped": skipped,
                   "rows": [dict(asdict(r), total=r.total, max=r.maximum) for r in ordered]}
        _write_json(out_dir / "results.json", summary)
    print(format_table(ordered, profile))
    print(f"Gradebook: {out_dir / 'gradebook.csv'}; feedback: {out_dir / 'feedback'}/")
    return ordered


if __name__ == "__main__":
    run_job(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8")))
