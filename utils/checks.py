"""Feedback for exercise check cells: compare, gradient-check, and explain in one sentence.

A passing check prints one line with a tick and the measured error. A failing
check raises :class:`CheckFailure`, and an exercise still holding its
``raise NotImplementedError()`` stub raises :class:`NotImplementedYet`; in a
notebook both display as one readable sentence instead of a traceback (set
``COURSE_FULL_TRACEBACKS=1`` to see the full traceback while debugging).

The references that checks compare against are TensorFlow/Keras built-ins,
numeric gradients or stored expected values, never the solutions' code.
"""

from __future__ import annotations

import functools
import math
import os
import traceback
from typing import Any, Callable, Mapping, TypeVar

import numpy as np

METRICS_MIME = "application/vnd.cnn-course.metrics+json"
TICK, CROSS = "\u2713", "\u2717"


class CheckFailure(AssertionError):
    """A check that did not pass; a notebook shows only its one-sentence message."""

    def _render_traceback_(self) -> list[str]:
        """Give IPython the one line to show instead of a traceback."""
        if os.environ.get("COURSE_FULL_TRACEBACKS"):
            raise RuntimeError("full tracebacks requested")  # IPython falls back to the real one
        return [f"\x1b[1;31m{CROSS} {self}\x1b[0m"]


class NotImplementedYet(CheckFailure):
    """An exercise whose stub still raises NotImplementedError."""


# ---------------------------------------------------------------------------
# Recording instead of judging (the grader judges in its own process)
# ---------------------------------------------------------------------------

_recorder: Callable[[dict[str, Any]], None] | None = None
_Check = TypeVar("_Check", bound=Callable[..., None])


def set_recorder(recorder: Callable[[dict[str, Any]], None] | None) -> None:
    """Make the value checks below hand their arguments to ``recorder`` instead of judging (None: judge again).

    The grader's kernel-side code sets this, so that a check's numbers leave the student's kernel as plain data
    and the judging happens in the grader's own process (see ``utils.grading``).
    """
    global _recorder
    _recorder = recorder


def recordable(check: _Check) -> _Check:
    """Let a value check be recorded rather than judged while a recorder is set."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        if _recorder is not None:
            _recorder({"kind": "value", "function": check.__name__, "args": list(args), "kwargs": dict(kwargs)})
            return None
        return check(*args, **kwargs)

    wrapper.judge = check  # type: ignore[attr-defined]  # the grader replays the undecorated check
    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Calling student code
# ---------------------------------------------------------------------------


def _student_location(tb: Any) -> str:
    """Return ' (line N of its cell)' for the innermost notebook frame of a traceback."""
    frames = [f for f in traceback.extract_tb(tb) if _is_cell_file(f.filename)]
    return f" (line {frames[-1].lineno} of its cell)" if frames else ""


def _is_cell_file(filename: str) -> bool:
    """Return True for the pseudo-files IPython and ipykernel give notebook cells."""
    return filename.startswith("<ipython-input") or "/ipykernel_" in filename or filename.startswith("<cell")


def _innermost_function(tb: Any) -> str:
    """Return the name of the innermost notebook-defined function in a traceback."""
    names = [f.name for f in traceback.extract_tb(tb) if _is_cell_file(f.filename) and f.name != "<module>"]
    return names[-1] if names else ""


def not_implemented_message(func_name: str) -> str:
    """Return the sentence shown for an exercise that is still a stub."""
    where = f"`{func_name}`" if func_name else "an exercise this cell uses"
    return (
        f"{where} is not implemented yet: replace `raise NotImplementedError()` in its cell "
        "with your code, run that cell, then run this check again."
    )


def call(func: Callable[..., Any], *args: Any, returns: tuple[str, ...] | None = None, **kwargs: Any) -> Any:
    """Call a student's function, turning a stub or a crash into one sentence of feedback.

    ``returns`` names the values the function must return as a tuple, e.g.
    ``("out", "cache")``, so a wrong number of results is explained too.
    """
    name = getattr(func, "__name__", repr(func))
    if not callable(func):
        raise CheckFailure(f"`{name}` should be a function, but it is a {type(func).__name__}.")
    try:
        result = func(*args, **kwargs)
    except NotImplementedError:
        raise NotImplementedYet(not_implemented_message(name)) from None
    except CheckFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - any crash becomes feedback
        where = _student_location(exc.__traceback__)
        raise CheckFailure(f"`{name}` raised {type(exc).__name__}{where}: {_one_line(exc)}") from exc
    if returns is not None and len(returns) > 1:
        wanted = f"{len(returns)} values ({', '.join(returns)})"
        if result is None:
            raise CheckFailure(f"`{name}` returned None; it should return {wanted}.")
        if not isinstance(result, tuple) or len(result) != len(returns):
            got = f"{len(result)} values" if isinstance(result, tuple) else f"a single {type(result).__name__}"
            raise CheckFailure(f"`{name}` returned {got}; it should return {wanted}.")
    return result


def _one_line(exc: BaseException) -> str:
    """Return an exception's message squeezed onto one short line."""
    text = " ".join(str(exc).split()) or "(no message)"
    return text if len(text) <= 300 else text[:297] + "..."


def install_feedback() -> None:
    """Show a stub's NotImplementedError anywhere in a notebook as one sentence."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to install
        return
    shell = get_ipython()
    if shell is None:
        return

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> None:
        if os.environ.get("COURSE_FULL_TRACEBACKS"):
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
            return
        message = NotImplementedYet(not_implemented_message(_innermost_function(tb)))
        shell.showtraceback((NotImplementedYet, message, None))

    shell.set_custom_exc((NotImplementedError,), handler)


# ---------------------------------------------------------------------------
# Comparing values
# ---------------------------------------------------------------------------


def rel_error(x: Any, y: Any) -> float:
    """Return the cs231n relative error max |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _to_numpy(value: Any) -> Any:
    """Convert tensors and lists to numpy arrays; leave other objects alone."""
    if hasattr(value, "numpy") and callable(value.numpy):
        return np.asarray(value.numpy())  # a 0-d tensor's .numpy() is a NumPy scalar, not an array
    if isinstance(value, (list, tuple, int, float, np.number, np.ndarray, bool)):
        return np.asarray(value)
    return value


def _describe_shape(shape: tuple[int, ...]) -> str:
    """Return a shape written as (a, b) or 'a scalar'."""
    return "a scalar" if shape == () else f"shape {shape}"


def _check_kind(name: str, actual: Any, expected: np.ndarray) -> np.ndarray:
    """Validate type, shape, dtype and finiteness of ``actual``; return it as an array."""
    if actual is None:
        raise CheckFailure(f"{name} is None: did the function forget to `return` its result?")
    value = _to_numpy(actual)
    if not isinstance(value, np.ndarray):
        raise CheckFailure(f"{name} should be an array of numbers, but it is a {type(actual).__name__}.")
    if value.dtype == object or not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        raise CheckFailure(f"{name} should hold numbers, but its dtype is {value.dtype}.")
    if value.shape != expected.shape:
        hint = " (a transposed result?)" if value.shape == expected.shape[::-1] and value.ndim == 2 else ""
        raise CheckFailure(
            f"{name} has {_describe_shape(value.shape)}, expected {_describe_shape(expected.shape)}{hint}."
        )
    if np.issubdtype(expected.dtype, np.floating) and not np.issubdtype(value.dtype, np.floating):
        raise CheckFailure(
            f"{name} has dtype {value.dtype}, expected floating point ({expected.dtype}): "
            "integer arithmetic truncates, so convert with .astype(np.float64)."
        )
    if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
        bad = int(np.sum(~np.isfinite(value)))
        raise CheckFailure(
            f"{name} contains NaN or infinity in {bad} of {value.size} entries: "
            "look for a division by zero, a log of zero or an overflowing exp."
        )
    return value


@recordable
def check_array(
    name: str, actual: Any, expected: Any, tol: float = 1e-7, verbose: bool = True, atol: float = 0.0
) -> None:
    """Check ``actual`` against ``expected`` (shape, dtype, finiteness, relative error; entries within ``atol`` match)."""
    expected = np.asarray(_to_numpy(expected))
    value = _check_kind(name, actual, expected)
    got, want = value.astype(np.float64), expected.astype(np.float64)
    diff = np.abs(got - want)
    # The cs231n relative error per entry (rel_error is its maximum); with atol, entries that differ by no more than
    # atol count as equal, so float32 rounding of a value near zero does not read as a large relative error.
    relative = np.where(diff <= atol, 0.0, diff / np.maximum(1e-8, np.abs(got) + np.abs(want)))
    error = float(np.max(relative)) if relative.size else 0.0
    ignored = f", differences up to {atol:.0e} ignored" if atol else ""
    if not error <= tol:
        index = np.unravel_index(int(np.argmax(relative)), relative.shape) if relative.ndim else ()
        at = f" at index {tuple(int(i) for i in index)}" if index else ""
        raise CheckFailure(
            f"{name} is off by a relative error of {error:.1e} (tolerance {tol:.0e}{ignored}); "
            f"the worst entry is{at}: got {float(value[index]):.6g}, expected {float(expected[index]):.6g}."
        )
    if verbose:
        print(f"{TICK} {name}: relative error {error:.1e} (tolerance {tol:.0e}{ignored})")


@recordable
def check_mapping(name: str, actual: Any, expected: Mapping[str, Any], tol: float = 1e-7) -> None:
    """Check a dict of results key by key against expected values; print one summary line."""
    if not isinstance(actual, Mapping):
        raise CheckFailure(f"{name} should be a dict with keys {', '.join(expected)}, but it is a {type(actual).__name__}.")
    missing = [key for key in expected if key not in actual]
    if missing:
        raise CheckFailure(f"{name} has no entry for {', '.join(repr(k) for k in missing)}.")
    for key, value in expected.items():
        check_array(f"{name}[{key!r}]", actual[key], value, tol, verbose=False)
    worst = max(rel_error(_to_numpy(actual[key]), _to_numpy(value)) for key, value in expected.items())
    print(f"{TICK} {name}: {len(expected)} values match (largest relative error {worst:.1e}, tolerance {tol:.0e})")


def _plain(value: Any) -> Any:
    """Turn arrays, tensors, lists and tuples into nested tuples of Python scalars."""
    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value.item() if isinstance(value, np.generic) else value


def _shorten(text: str, limit: int = 80) -> str:
    """Cut a long value's text so a sentence never becomes a dump of numbers."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@recordable
def check_equal(name: str, actual: Any, expected: Any) -> None:
    """Check that ``actual`` equals ``expected`` exactly (ints, shapes, labels, strings, arrays)."""
    if isinstance(expected, np.ndarray) and expected.shape != ():
        value = _check_kind(name, actual, expected)
        if not np.array_equal(value, expected):
            wrong = int(np.sum(value != expected))
            raise CheckFailure(f"{name} differs from the expected values in {wrong} of {expected.size} entries.")
    elif _plain(actual) != _plain(expected):
        raise CheckFailure(f"{name} is {_shorten(repr(_plain(actual)))}, expected {_shorten(repr(_plain(expected)))}.")
    print(f"{TICK} {name}: as expected")


# ---------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------


def eval_numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Return the centred-difference gradient of a scalar function ``f`` at ``x``."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise CheckFailure("Numeric gradients need a floating-point input; convert it with .astype(np.float64).")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Return the centred-difference vector-Jacobian product df . d f(x)/dx."""
    x = np.asarray(x)
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_dict(
    f: Callable[[dict[str, float]], float], params: Mapping[str, float], h: float = 1e-5
) -> dict[str, float]:
    """Return centred-difference partial derivatives of ``f`` for each scalar entry of ``params``."""
    grads = {}
    for name, value in params.items():
        plus = float(f({**params, name: value + h}))
        minus = float(f({**params, name: value - h}))
        grads[name] = (plus - minus) / (2 * h)
    return grads


def tf_vjp(func: Callable[..., Any], inputs: list[np.ndarray], upstream: np.ndarray) -> list[np.ndarray]:
    """Return TensorFlow's gradients of sum(func(*inputs) * upstream) for each input."""
    import tensorflow as tf

    tensors = [tf.Variable(np.asarray(x, dtype=np.float64)) for x in inputs]
    with tf.GradientTape() as tape:
        out = func(*tensors)
        total = tf.reduce_sum(tf.cast(out, tf.float64) * tf.constant(upstream, dtype=tf.float64))
    return [g.numpy() if g is not None else np.zeros_like(x) for g, x in zip(tape.gradient(total, tensors), inputs)]


@recordable
def check_gradient(name: str, analytic: Any, numeric: Any, tol: float = 1e-7) -> None:
    """Check an analytic gradient against a numeric or autodiff one (relative error)."""
    check_array(f"gradient {name}", analytic, numeric, tol=tol)


# ---------------------------------------------------------------------------
# Learning targets and headline metrics
# ---------------------------------------------------------------------------


def record_metric(name: str, value: float, fmt: str = ".4f") -> None:
    """Publish a headline number for the run summary (a notebook display, no print)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:  # outside a notebook (the grader's judges): nothing to publish
        return
    display(
        {METRICS_MIME: {name: float(value)}, "text/plain": f"{name}: {value:{fmt}}"},
        raw=True,
    )


def _finite_number(name: str, value: Any) -> float:
    """Return ``value`` as a float, or fail with a sentence when it is not a finite number."""
    try:
        number = float(_to_numpy(value))
    except (TypeError, ValueError):
        raise CheckFailure(f"{name} should be a number, but it is a {type(value).__name__}.") from None
    if not math.isfinite(number):
        raise CheckFailure(f"{name} is {number}: training diverged; try a smaller learning rate.")
    return number


@recordable
def check_at_least(name: str, value: Any, minimum: float, headline: bool = True) -> None:
    """Assert a learning target such as an accuracy: ``value >= minimum``."""
    number = _finite_number(name, value)
    if headline:
        record_metric(name, number)
    if not number >= minimum:
        raise CheckFailure(f"{name} is {number:.4f}, below the target of {minimum:.4f} for this profile.")
    print(f"{TICK} {name}: {number:.4f} (target \u2265 {minimum:.4f})")


@recordable
def check_at_most(name: str, value: Any, maximum: float, headline: bool = True) -> None:
    """Assert a learning target such as a loss or an error: ``value <= maximum``."""
    number = _finite_number(name, value)
    if headline:
        record_metric(name, number, fmt=".3g")
    if not number <= maximum:
        raise CheckFailure(f"{name} is {number:.3g}, above the limit of {maximum:.3g} for this profile.")
    print(f"{TICK} {name}: {number:.3g} (limit \u2264 {maximum:.3g})")


@recordable
def check_true(condition: bool, message: str, passed: str) -> None:
    """Fail with ``message`` unless ``condition``; print ``passed`` when it holds."""
    if not condition:
        raise CheckFailure(message)
    print(f"{TICK} {passed}")
