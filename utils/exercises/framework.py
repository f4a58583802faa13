"""The probe/judge machinery every exercise check is built from.

* :func:`observe` calls a student's function and returns what came back as plain data (:func:`plain`), or a
  record of what it raised. Probes use it for every call into student code, so a probe never raises.
* Judges compare plain data with references using :func:`expect_array`, :func:`expect_equal`,
  :func:`expect_true` and :func:`expect_raised_nothing`; each raises :class:`~utils.checks.CheckFailure` with one
  sentence, or returns quietly.
* :class:`Check` ties a probe to its judge; calling it runs both and prints one line with a tick.

Tolerances are scaled by dtype: a float32 answer is held to float32 precision, and when float32 is what makes it
miss, the sentence says so.
"""

from __future__ import annotations

import os
import random
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from utils.checks import TICK, CheckFailure, NotImplementedYet, not_implemented_message

RAISED = "__raised__"  # key of the plain-data record of an exception from student code
OBJECT = "__object__"  # key of the plain-data record of an object that is not data (a model, a function)

# float32 has about 7 significant digits: held to 1e-4 relative error, and differences below 1e-5 of the
# largest expected magnitude ignored (cancellation near zero is float32 rounding, not a bug).
FLOAT32_TOL, FLOAT32_ATOL = 1e-4, 1e-5

REGISTRY: dict[str, "Check"] = {}


# ---------------------------------------------------------------------------
# Probing: student code in, plain data out
# ---------------------------------------------------------------------------


def _is_cell_file(filename: str) -> bool:
    """Return True for the pseudo-files that IPython and ipykernel give notebook cells."""
    return filename.startswith("<ipython-input") or "/ipykernel_" in filename or filename.startswith("<cell")


def _one_line(text: str, limit: int = 200) -> str:
    """Squeeze text onto one short line."""
    text = " ".join(str(text).split()) or "(no message)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def raised_record(func_name: str, exc: BaseException) -> dict[str, Any]:
    """Return the plain-data record of an exception raised by student code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_cell_file(f.filename)]
    inner = [f.name for f in frames if f.name != "<module>"]
    return {
        RAISED: type(exc).__name__,
        "function": func_name,
        "innermost": inner[-1] if inner else func_name,
        "line": frames[-1].lineno if frames else None,
        "message": _one_line(exc),
        "stub": isinstance(exc, NotImplementedError),
    }


def is_raised(value: Any) -> bool:
    """Return True for the record of an exception (see :func:`raised_record`)."""
    return isinstance(value, dict) and RAISED in value


def plain(value: Any, depth: int = 0) -> Any:
    """Convert a returned value to plain data: arrays, Python scalars, strings, and lists/tuples/dicts of them.

    Tensors become NumPy arrays; NumPy scalars become 0-d arrays (they keep their dtype); anything else becomes
    ``{"__object__": type name}``.
    """
    if depth > 4:
        return {OBJECT: type(value).__name__}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return value.copy() if value.dtype != object else {OBJECT: "ndarray of Python objects"}
    if isinstance(value, np.generic):
        return np.asarray(value)
    if isinstance(value, tuple):
        return tuple(plain(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    module = type(value).__module__ or ""
    if module.startswith(("tensorflow", "keras", "jax", "torch")) and hasattr(value, "shape"):
        try:
            return np.array(value)
        except Exception:  # noqa: BLE001 - a symbolic tensor has no values
            return {OBJECT: type(value).__name__}
    return {OBJECT: type(value).__name__}


def observe(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call student code and return its result as plain data, or the record of what it raised."""
    name = getattr(func, "__name__", type(func).__name__)
    if not callable(func):
        return {RAISED: "NotCallable", "function": name, "innermost": name, "line": None,
                "message": f"it is a {type(func).__name__}", "stub": False}
    try:
        return plain(func(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - any crash becomes data for the judge
        if _full_tracebacks() and not isinstance(exc, NotImplementedError):
            raise  # debugging: let the student's own traceback through
        return raised_record(name, exc)


def call_raw(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any] | None]:
    """Call student code and return ``(result, None)``, or ``(None, record)`` when it raised.

    For probes that must keep the real object (a Keras model to inspect, a callback to run).
    """
    name = getattr(func, "__name__", type(func).__name__)
    if not callable(func):
        return None, {RAISED: "NotCallable", "function": name, "innermost": name, "line": None,
                      "message": f"it is a {type(func).__name__}", "stub": False}
    try:
        return func(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001
        if _full_tracebacks() and not isinstance(exc, NotImplementedError):
            raise
        return None, raised_record(name, exc)


def _full_tracebacks() -> bool:
    """Return True when the student asked for full tracebacks (COURSE_FULL_TRACEBACKS=1) to debug their code."""
    return bool(os.environ.get("COURSE_FULL_TRACEBACKS"))


# ---------------------------------------------------------------------------
# Judging: plain data in, one sentence out
# ---------------------------------------------------------------------------


def fail(message: str) -> None:
    """Fail the check with one sentence."""
    raise CheckFailure(message)


def expect_raised_nothing(value: Any) -> None:
    """Fail with the student's exception, in one sentence, if ``value`` is the record of one."""
    if not is_raised(value):
        return
    if value["stub"]:
        raise NotImplementedYet(not_implemented_message(value["innermost"]))
    if value[RAISED] == "NotCallable":
        fail(f"`{value['function']}` should be a function, but {value['message']}.")
    where = f" (line {value['line']} of its cell)" if value.get("line") else ""
    inner = value["innermost"]
    who = f"`{value['function']}`" + (f" (in `{inner}`)" if inner != value["function"] else "")
    fail(f"{who} raised {value[RAISED]}{where}: {value['message']}")


def _describe(value: Any) -> str:
    """Name the kind of a plain value in a few words."""
    if isinstance(value, dict) and OBJECT in value:
        return f"a {value[OBJECT]}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


def as_array(name: str, value: Any, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Return ``value`` as a numeric array, or fail with the sentence that explains why it is not one."""
    expect_raised_nothing(value)
    if value is None:
        fail(f"{name} is None: did the function forget to `return` its result?")
    if isinstance(value, tuple) and len(value) >= 2:
        first = value[0]
        habit = (" (the cs231n `return out, cache` habit?)" if len(value) == 2 and isinstance(first, np.ndarray)
                 else "")
        fail(f"{name} is a tuple of {len(value)} values{habit}; return only the array.")
    if isinstance(value, list):
        fail(f"{name} is a Python list; return a NumPy array (for example `np.array(...)`).")
    if isinstance(value, (bool, int, float)):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        fail(f"{name} should be an array of numbers, but it is {_describe(value)}.")
    if not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        fail(f"{name} should hold numbers, but its dtype is {value.dtype}.")
    if expected_shape is not None and tuple(value.shape) != tuple(expected_shape):
        got, want = tuple(value.shape), tuple(expected_shape)
        hint = ""
        if len(got) == len(want) and sorted(got) == sorted(want):
            hint = " (axes in the wrong order?)" if len(got) > 2 else " (a transposed result?)"
        elif tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
            hint = " (an extra or missing axis of length 1: check keepdims or the reshape)"
        elif int(np.prod(got)) == int(np.prod(want)):
            hint = " (the right number of entries: reshaped in the wrong order?)"
        fail(f"{name} has {_shape_words(got)}, expected {_shape_words(want)}{hint}.")
    return value


def _shape_words(shape: tuple[int, ...]) -> str:
    """Write a shape as 'shape (a, b)' or 'a scalar'."""
    return "a scalar" if shape == () else f"shape {shape}"


def expect_array(name: str, value: Any, expected: Any, tol: float = 1e-7, atol: float = 0.0,
                 hint: str = "") -> float:
    """Check an array against a reference: kind, shape, dtype, finiteness, then relative error.

    ``tol`` is for float64 answers; float32 answers are held to float32 precision. Entries within ``atol`` count
    as equal. ``hint`` (a short clause) is appended to a value mismatch. Returns the relative error.
    """
    expected = np.asarray(expected)
    got = as_array(name, value, expected.shape)
    if np.issubdtype(expected.dtype, np.floating) and not (np.issubdtype(got.dtype, np.floating)):
        fail(f"{name} has dtype {got.dtype}, expected floating point: integer arithmetic truncates, so build the "
             "result with a float dtype (for example `np.zeros(shape, dtype=x.dtype)`).")
    if np.issubdtype(got.dtype, np.floating) and not np.all(np.isfinite(got)):
        bad = int(np.sum(~np.isfinite(got)))
        fail(f"{name} contains NaN or infinity in {bad} of {got.size} entries: look for a division by zero, a log "
             "of zero or an overflowing exp.")
    single = got.dtype in (np.float32, np.float16)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    limit = max(tol, FLOAT32_TOL) if single else tol
    floor = max(atol, FLOAT32_ATOL * max(1.0, scale)) if single else atol
    g, w = got.astype(np.float64), expected.astype(np.float64)
    diff = np.abs(g - w)
    relative = np.where(diff <= floor, 0.0, diff / np.maximum(1e-8, np.abs(g) + np.abs(w)))
    error = float(np.max(relative)) if relative.size else 0.0
    if not error <= limit:
        index = np.unravel_index(int(np.argmax(relative)), relative.shape) if relative.ndim else ()
        at = f" at index {tuple(int(i) for i in index)}" if index else ""
        why = ""
        if single and error < 1e-2:
            why = f"; your result is {got.dtype}, which keeps about 7 significant digits, so compute in float64"
        extra = f" ({hint})" if hint else ""
        fail(f"{name} is off by a relative error of {error:.1e} (tolerance {limit:.0e}){extra}; the worst entry is"
             f"{at}: got {float(g[index]):.6g}, expected {float(w[index]):.6g}{why}.")
    return error


def expect_equal(name: str, value: Any, expected: Any, hint: str = "") -> None:
    """Check exact equality of plain data (ints, strings, shapes, label arrays), failing with one sentence."""
    expect_raised_nothing(value)
    if isinstance(expected, np.ndarray) and expected.shape != ():
        got = as_array(name, value, expected.shape)
        if not np.array_equal(got, expected):
            wrong = int(np.sum(got != expected))
            extra = f" ({hint})" if hint else ""
            fail(f"{name} differs from the expected values in {wrong} of {expected.size} entries{extra}.")
        return
    if _normalise(value) != _normalise(expected):
        extra = f" ({hint})" if hint else ""
        fail(f"{name} is {_short(value)}, expected {_short(expected)}{extra}.")


def _normalise(value: Any) -> Any:
    """Turn arrays, lists and tuples into nested tuples of Python scalars for comparison."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _short(value: Any, limit: int = 80) -> str:
    """Show a value in at most ``limit`` characters."""
    if isinstance(value, dict) and OBJECT in value:
        return f"a {value[OBJECT]}"
    text = repr(_normalise(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expect_true(condition: bool, message: str) -> None:
    """Fail with ``message`` (one sentence) unless ``condition`` holds."""
    if not condition:
        fail(message)


def expect_int(name: str, value: Any) -> int:
    """Return ``value`` as an int, or fail with one sentence when it is not a whole number."""
    expect_raised_nothing(value)
    if isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer):
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "a float" if isinstance(value, float) or (isinstance(value, np.ndarray) and value.shape == ()) else (
            _describe(value))
        fail(f"{name} should be an int, but it is {kind} (use `//` for floor division, or `int(...)`).")
    return int(value)


# ---------------------------------------------------------------------------
# A check: probe and judge, run together
# ---------------------------------------------------------------------------


@contextmanager
def preserved_random_state() -> Iterator[None]:
    """Run a block, then restore the global random state of Python, NumPy, Keras and TensorFlow's eager ops.

    A check builds models and draws inputs; without this, whether (and how often) a check ran would change the
    initial weights and batches of every later training cell.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras_state = tf_state = None
    if "keras" in sys.modules:
        try:
            from keras.src.backend.common import global_state

            generator = global_state.get_global_attribute("global_seed_generator")
            keras_state = (global_state, generator, np.array(generator.state.value) if generator is not None else None)
        except Exception:  # noqa: BLE001 - another Keras layout: the other states are still kept
            keras_state = None
    if "tensorflow" in sys.modules:
        try:
            from tensorflow.python.eager import context

            ctx = context.context()
            tf_state = (ctx, ctx._seed, ctx._rng.getstate() if getattr(ctx, "_rng", None) else None)
        except Exception:  # noqa: BLE001
            tf_state = None
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if keras_state is not None:
            global_state, generator, values = keras_state
            global_state.set_global_attribute("global_seed_generator", generator)
            if generator is not None:
                generator.state.assign(values)
        if tf_state is not None:
            ctx, seed, rng_state = tf_state
            try:
                if ctx._seed != seed:
                    ctx._set_global_seed(seed)  # a student's tf.random.set_seed inside a check is undone too
                if rng_state is not None and getattr(ctx, "_rng", None) is not None:
                    ctx._rng.setstate(rng_state)
            except Exception:  # noqa: BLE001
                pass


PROBE_ERROR = "__probe_error__"  # key of the plain-data record of a probe that could not run

_recorder: Callable[[dict[str, Any]], None] | None = None


def set_recorder(recorder: Callable[[dict[str, Any]], None] | None) -> None:
    """Make checks only probe, handing what they observed to ``recorder`` (None: probe and judge again).

    The grader's kernel-side code sets this: the observations leave the student's kernel as plain data, and the
    judges run in the grader's own process, on inputs the grader drew for this run (see ``utils.grading``).
    """
    global _recorder
    _recorder = recorder


@dataclass(frozen=True)
class Check:
    """An exercise check: ``probe(*student) -> plain data`` and ``judge(data) -> one-sentence pass message``."""

    name: str
    probe: Callable[..., Any]
    judge: Callable[[Any], str]
    doc: str = ""
    target: bool = False  # a learning target: it judges what training produced, so it runs after the training cells

    def __post_init__(self) -> None:
        REGISTRY[self.name] = self

    def verdict(self, *student: Any, **options: Any) -> tuple[bool, str]:
        """Run probe and judge; return ``(passed, sentence)`` without printing or raising."""
        try:
            self(*student, quiet=True, **options)
        except CheckFailure as failure:
            return False, str(failure)
        return True, "passed"

    def __call__(self, *student: Any, quiet: bool = False, **options: Any) -> None:
        """Run the probe on the student's code, judge what it saw, print a tick or fail with one sentence.

        The global random state is the same afterwards, so a check leaves no trace on later cells. While a
        recorder is set (grading), only the probe runs and its observations go to the recorder.
        """
        with preserved_random_state():
            observed = self.observe(student, options)
            if _recorder is not None:
                _recorder({"kind": "exercise", "check": self.name, "observed": observed})
                return
            message = self.decide(observed, options)
        if not quiet:
            print(f"{TICK} {message}")

    def observe(self, student: tuple[Any, ...], options: dict[str, Any]) -> Any:
        """Run the probe; return its plain data, or the record of why it could not run."""
        try:
            return self.probe(*student, **options)
        except CheckFailure as failure:  # a probe may fail early with its own sentence
            return {PROBE_ERROR: str(failure), "class": type(failure).__name__}
        except Exception as exc:  # noqa: BLE001 - a probe tripped over a strange answer: still one sentence
            if _full_tracebacks():
                raise
            return {PROBE_ERROR: (f"The check could not run your code on its inputs ({type(exc).__name__}: "
                                  f"{_one_line(exc, 150)}); run the exercise cell again and make sure it returns "
                                  "what the docstring asks for."), "class": "CheckFailure"}

    def decide(self, observed: Any, options: dict[str, Any]) -> str:
        """Judge plain data (from :meth:`observe`, perhaps in another process); return the pass sentence or fail."""
        if isinstance(observed, dict) and PROBE_ERROR in observed:
            failure = NotImplementedYet if observed.get("class") == "NotImplementedYet" else CheckFailure
            raise failure(str(observed[PROBE_ERROR]))
        try:
            return self.judge(observed, **options) if options else self.judge(observed)
        except CheckFailure:
            raise
        except Exception as exc:  # noqa: BLE001
            raise CheckFailure(f"The check could not make sense of what your code returned ({type(exc).__name__}: "
                               f"{_one_line(exc, 150)}); compare it with the docstring.") from None

    def __repr__(self) -> str:
        return f"<exercise check {self.name}>"


def check(name: str, probe: Callable[..., Any], judge: Callable[..., str], doc: str = "", target: bool = False) -> Check:
    """Create and register a check (the one-line cell calls it with the student's functions, or a target's results)."""
    return Check(name, probe, judge, doc, target)
