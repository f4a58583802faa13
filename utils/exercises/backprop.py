"""Lab 1 checks: the 2-2-2 network by hand (forward, one derivative, all gradients, a step of gradient descent),
vectorised layers (affine, ReLU, sigmoid, softmax cross-entropy), the two-layer MLP, mini-batch SGD, and the
same MLP in Keras.

The worked example is Matt Mazur's "A Step by Step Backpropagation Example" (2015). References are TensorFlow
built-ins (``tf.GradientTape``, ``tf.nn``, Keras losses), centred differences and stated facts, never the
solutions' code. Every probe builds its own inputs from a local seed; ``seed=`` picks other random draws (hidden
tests use it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises.framework import (
    FLOAT32_ATOL,
    FLOAT32_TOL,
    RAISED,
    as_array,
    call_raw,
    check,
    expect_array,
    expect_raised_nothing,
    expect_true,
    fail,
    is_raised,
    observe,
    plain,
)

# ---------------------------------------------------------------------------
# Part A: the 2-2-2 network of sigmoid units (Mazur 2015)
# ---------------------------------------------------------------------------

PARAM_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2")
UNIT_KEYS = ("net_h1", "h1", "net_h2", "h2", "net_o1", "o1", "net_o2", "o2")
WORKED_X, WORKED_T = (0.05, 0.10), (0.01, 0.99)
WORKED_PARAMS = dict(zip(PARAM_NAMES, (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55, 0.35, 0.60)))


def part_a_cases(seed: int = 0, draws: int = 3) -> list[tuple[str, np.ndarray, np.ndarray, dict[str, float]]]:
    """Return (name, x, t, params): the worked example, then ``draws`` random networks (weights of both signs)."""
    cases = [("the worked example", np.array(WORKED_X), np.array(WORKED_T), dict(WORKED_PARAMS))]
    rng = np.random.default_rng(1000 + seed)
    for k in range(draws):
        params = {name: float(v) for name, v in zip(PARAM_NAMES, rng.normal(size=len(PARAM_NAMES)))}
        cases.append((f"random network {k + 1}", rng.uniform(-1, 1, size=2), rng.uniform(0, 1, size=2), params))
    return cases


def _tf_part_a(x: np.ndarray, t: np.ndarray, params: dict[str, float]) -> tuple[dict[str, float], float,
                                                                                 dict[str, float]]:
    """Return (every unit's net input and output, E_total, dE_total/dparam) from tf.GradientTape in float64."""
    import tensorflow as tf

    v = {name: tf.Variable(float(params[name]), dtype=tf.float64) for name in PARAM_NAMES}
    xs = tf.constant(np.asarray(x, np.float64).reshape(2, 1))
    ts = tf.constant(np.asarray(t, np.float64).reshape(2, 1))
    with tf.GradientTape() as tape:
        w_hidden = tf.stack([tf.stack([v["w1"], v["w2"]]), tf.stack([v["w3"], v["w4"]])])
        w_out = tf.stack([tf.stack([v["w5"], v["w6"]]), tf.stack([v["w7"], v["w8"]])])
        net_hidden = tf.matmul(w_hidden, xs) + v["b1"]
        hidden = tf.sigmoid(net_hidden)
        net_out = tf.matmul(w_out, hidden) + v["b2"]
        out = tf.sigmoid(net_out)
        error = tf.reduce_sum(tf.square(ts - out)) / 2.0
    grads = tape.gradient(error, [v[name] for name in PARAM_NAMES])
    nh, h, no, o = (a.numpy().ravel() for a in (net_hidden, hidden, net_out, out))
    units = dict(net_h1=nh[0], h1=h[0], net_h2=nh[1], h2=h[1], net_o1=no[0], o1=o[0], net_o2=no[1], o2=o[1])
    return ({k: float(val) for k, val in units.items()}, float(error.numpy()),
            {name: float(g.numpy()) for name, g in zip(PARAM_NAMES, grads)})


def _numeric_part_a(x: np.ndarray, t: np.ndarray, params: dict[str, float], h: float = 1e-5) -> dict[str, float]:
    """Return centred differences of E_total for every parameter (the judge's own NumPy forward pass)."""

    def error(p: dict[str, float]) -> float:
        w_hidden = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
        w_out = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
        hidden = 1.0 / (1.0 + np.exp(-(w_hidden @ x + p["b1"])))
        out = 1.0 / (1.0 + np.exp(-(w_out @ hidden + p["b2"])))
        return float(np.sum((t - out) ** 2) / 2.0)

    return {name: (error({**params, name: params[name] + h}) - error({**params, name: params[name] - h})) / (2 * h)
            for name in PARAM_NAMES}


def _expect_dict(name: str, value: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """Return ``value`` as a dict holding ``keys``, or fail with one sentence."""
    expect_raised_nothing(value)
    if value is None:
        fail(f"{name} is None: did the function forget to `return` its dict?")
    if not isinstance(value, dict):
        kind = "a tuple" if isinstance(value, tuple) else f"a {type(value).__name__}"
        if isinstance(value, np.ndarray):
            kind = f"an array of shape {value.shape}"
        fail(f"{name} should be a dict keyed {', '.join(keys[:3])}, ..., but it is {kind}.")
    missing = [k for k in keys if k not in value]
    if missing:
        fail(f"{name} lacks the key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing[:5])}"
             f"{' ...' if len(missing) > 5 else ''}: return a dict with exactly the names in the docstring.")
    return value


# -- A1: forward and total_error ------------------------------------------------


def probe_forward(forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's forward pass on the worked example and on random networks."""
    return {"outputs": [observe(forward, x.copy(), dict(p)) for _, x, _, p in part_a_cases(seed)]}


def judge_forward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare every unit's net input and output with TensorFlow's."""
    cases = part_a_cases(seed)
    worst = 0.0
    for (label, x, t, p), got in zip(cases, data["outputs"]):
        got = _expect_dict(f"forward(x, params) on {label}", got, UNIT_KEYS)
        units, _, _ = _tf_part_a(x, t, p)
        for key in UNIT_KEYS:  # in the order the forward pass computes them, so the first wrong unit is named
            hint = ""
            if key.startswith("net_o") and _is_number(got[key]) and np.isclose(
                    float(np.asarray(got[key], float).ravel()[0]), _net_with(units, p, key)):
                hint = "the output layer must use the hidden outputs h1, h2, not their net inputs, and the bias b2"
            worst = max(worst, expect_array(f"forward on {label}: {key}", got[key], units[key], tol=1e-9,
                                            hint=hint))
    return f"forward matches TensorFlow on every unit, for the worked example and {len(cases) - 1} random networks " \
           f"(largest relative error {worst:.1e})"


def _net_with(units: dict[str, float], p: dict[str, float], key: str) -> float:
    """Return an output unit's net input computed from the hidden *net inputs* (a common slip), for a hint."""
    a, b = ("w5", "w6") if key == "net_o1" else ("w7", "w8")
    return p[a] * units["net_h1"] + p[b] * units["net_h2"] + p["b2"]


check_forward = check("backprop.forward", probe_forward, judge_forward)


def total_error_cases(seed: int = 0) -> list[tuple[str, dict[str, float], np.ndarray]]:
    """Return (name, outputs dict, targets): the worked example's outputs, then random ones."""
    units, _, _ = _tf_part_a(np.array(WORKED_X), np.array(WORKED_T), WORKED_PARAMS)
    cases = [("the worked example's outputs", units, np.array(WORKED_T))]
    rng = np.random.default_rng(2000 + seed)
    for k in range(3):
        outputs = {key: float(v) for key, v in zip(UNIT_KEYS, rng.uniform(0, 1, size=len(UNIT_KEYS)))}
        cases.append((f"random outputs {k + 1}", outputs, rng.uniform(0, 1, size=2)))
    return cases


def probe_total_error(total_error: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's total_error on fixed output dicts (no forward pass needed)."""
    return {"errors": [observe(total_error, dict(out), t.copy()) for _, out, t in total_error_cases(seed)]}


def judge_total_error(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with 1/2 (T1 - o1)^2 + 1/2 (T2 - o2)^2."""
    cases = total_error_cases(seed)
    for (label, out, t), got in zip(cases, data["errors"]):
        o = np.array([out["o1"], out["o2"]])
        expected = float(np.sum(np.square(t - o)) / 2.0)
        hint = ""
        if _is_number(got) and np.isclose(float(np.asarray(got, float).ravel()[0]), 2 * expected):
            hint = "the factor 1/2 in front of each squared error is missing"
        expect_array(f"total_error on {label}", got, expected, tol=1e-9, hint=hint)
    return f"total_error is right on the worked example's outputs (E_total = 0.2983711088) and {len(cases) - 1} " \
           "random ones"


def _is_number(value: Any) -> bool:
    """Return True for a Python or 0-d/1-element NumPy number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    return isinstance(value, np.ndarray) and value.size == 1 and np.issubdtype(value.dtype, np.number)


check_total_error = check("backprop.total_error", probe_total_error, judge_total_error)


# -- A2: dE/dw5 ---------------------------------------------------------------


def probe_dE_dw5(dE_dw5: Any, seed: int = 0) -> dict[str, Any]:  # noqa: N802 - the exercise's name
    """Run the student's dE_dw5 on the worked example and on random networks."""
    return {"values": [observe(dE_dw5, x.copy(), t.copy(), dict(p)) for _, x, t, p in part_a_cases(seed)]}


def judge_dE_dw5(data: dict[str, Any], seed: int = 0) -> str:  # noqa: N802
    """Compare with tf.GradientTape's derivative (and, in words, the centred difference)."""
    cases = part_a_cases(seed)
    for (label, x, t, p), got in zip(cases, data["values"]):
        units, _, grads = _tf_part_a(x, t, p)
        hint = _dw5_hint(got, units, t, grads["w5"])
        expect_array(f"dE_dw5 on {label}", got, grads["w5"], tol=1e-8, hint=hint)
    return (f"dE_dw5 matches tf.GradientTape and centred differences on the worked example (0.08216704056) and "
            f"{len(cases) - 1} random networks")


def _dw5_hint(got: Any, units: dict[str, float], t: np.ndarray, expected: float) -> str:
    """Name the likely slip in a wrong dE/dw5 (sign, a missing or wrong sigmoid derivative, the wrong input)."""
    if not _is_number(got):
        return ""
    value = float(np.asarray(got, float).ravel()[0])
    o1, h1 = units["o1"], units["h1"]
    slips = {
        "the sign is flipped: dE/do1 = o1 - T1, not T1 - o1": -expected,
        "the sigmoid's derivative do1/dnet_o1 = o1 (1 - o1) is missing": (o1 - t[0]) * h1,
        "do1/dnet_o1 is sigma(net)(1 - sigma(net)), written with the output o1, not with net_o1":
            (o1 - t[0]) * units["net_o1"] * (1 - units["net_o1"]) * h1,
        "dnet_o1/dw5 is h1, the input w5 carries": (o1 - t[0]) * o1 * (1 - o1) * units["h2"],
    }
    return next((why for why, v in slips.items() if np.isclose(value, v, rtol=1e-6, atol=0)), "")


check_dE_dw5 = check("backprop.dE_dw5", probe_dE_dw5, judge_dE_dw5)


# -- A3: all ten gradients -------------------------------------------------------


def probe_gradients(gradients: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's gradients on the worked example and on random networks."""
    return {"grads": [observe(gradients, x.copy(), t.copy(), dict(p)) for _, x, t, p in part_a_cases(seed)]}


GRADIENT_HINTS = {
    "b1": "b1 is shared by both hidden units, so its gradient is delta_h1 + delta_h2",
    "b2": "b2 is shared by both output units, so its gradient is delta_o1 + delta_o2",
    "w1": "a hidden delta collects both output deltas, (delta_o1 w5 + delta_o2 w7) sigma'(net_h1), and w1 carries x1",
    "w2": "a hidden delta collects both output deltas, (delta_o1 w5 + delta_o2 w7) sigma'(net_h1), and w2 carries x2",
    "w3": "h2's delta is (delta_o1 w6 + delta_o2 w8) sigma'(net_h2), and w3 carries x1 into h2",
    "w4": "h2's delta is (delta_o1 w6 + delta_o2 w8) sigma'(net_h2), and w4 carries x2 into h2",
    "w6": "w6 carries h2 into o1", "w7": "w7 carries h1 into o2",
}


def _judge_gradient_dicts(data: dict[str, Any], seed: int, reference: str) -> tuple[int, float]:
    """Compare each case's ten gradients with the reference ('numeric' or 'tape'); return (cases, worst error)."""
    cases = part_a_cases(seed)
    worst = 0.0
    for (label, x, t, p), got in zip(cases, data["grads"]):
        got = _expect_dict(f"gradients(x, t, params) on {label}", got, PARAM_NAMES)
        _, _, tape = _tf_part_a(x, t, p)
        expected = _numeric_part_a(x, t, p) if reference == "numeric" else tape
        for name in PARAM_NAMES:
            value = got[name]
            hint = GRADIENT_HINTS.get(name, "")
            if _is_number(value) and np.isclose(float(np.asarray(value, float).ravel()[0]), -tape[name], rtol=1e-6):
                hint = "the sign is flipped: the error's derivative is (o - T), not (T - o)"
            if reference == "numeric":
                worst = max(worst, expect_array(f"dE/d{name} on {label} (against centred differences)", value,
                                                expected[name], tol=1e-6, atol=1e-9, hint=hint))
            else:
                worst = max(worst, expect_array(f"dE/d{name} on {label} (against tf.GradientTape)", value,
                                                expected[name], tol=1e-10, hint=hint))
    return len(cases), worst


def judge_gradients(data: dict[str, Any], seed: int = 0) -> str:
    """Compare all ten gradients with centred differences of E_total."""
    n, worst = _judge_gradient_dicts(data, seed, "numeric")
    return (f"all ten gradients match centred differences on the worked example and {n - 1} random networks "
            f"(largest relative error {worst:.1e})")


def judge_gradients_tape(data: dict[str, Any], seed: int = 0) -> str:
    """Compare all ten gradients with tf.GradientTape, to float64 rounding."""
    n, worst = _judge_gradient_dicts(data, seed, "tape")
    return (f"your ten gradients agree with tf.GradientTape to rounding error on {n} networks "
            f"(largest relative error {worst:.1e})")


check_gradients = check("backprop.gradients", probe_gradients, judge_gradients)
check_gradients_tape = check("backprop.gradients_tape", probe_gradients, judge_gradients_tape)


# -- A4: one step of gradient descent -------------------------------------------------


def sgd_step_cases(seed: int = 0) -> list[tuple[str, dict[str, float], dict[str, float], float]]:
    """Return (name, params, grads, lr): learning rates other than the lab's 0.5, gradients of both signs."""
    rng = np.random.default_rng(3000 + seed)
    cases = []
    for k, lr in enumerate((0.3, 0.05, 1.7)):
        params = dict(WORKED_PARAMS) if k == 0 else {n: float(v) for n, v in zip(PARAM_NAMES, rng.normal(size=10))}
        grads = {n: float(v) for n, v in zip(PARAM_NAMES, rng.normal(size=10))}
        cases.append((f"lr={lr}", params, grads, lr))
    return cases


def probe_sgd_step(sgd_step: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's sgd_step; record what it returned and whether it changed its arguments."""
    runs = []
    for _, params, grads, lr in sgd_step_cases(seed):
        p, g = dict(params), dict(grads)
        result, raised = call_raw(sgd_step, p, g, lr)
        runs.append({
            "result": raised if raised else plain(result),
            "same_object": result is p,
            "params_changed": p != params,
            "grads_changed": g != grads,
        })
    return {"runs": runs}


def judge_sgd_step(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with p - lr * g for every parameter, and insist on a new dict."""
    for (label, params, grads, lr), run in zip(sgd_step_cases(seed), data["runs"]):
        expect_raised_nothing(run["result"])
        if run["result"] is None and run["params_changed"]:
            fail("sgd_step changed `params` in place and returned None: build and return a new dict instead.")
        expect_true(not run["same_object"] and not run["params_changed"],
                    "sgd_step changed `params` in place: build and return a new dict, leaving `params` unchanged.")
        got = _expect_dict(f"sgd_step(params, grads, {label})", run["result"], PARAM_NAMES)
        for name in PARAM_NAMES:
            expected = params[name] - lr * grads[name]
            value = got[name]
            hint = ""
            if _is_number(value):
                v = float(np.asarray(value, float).ravel()[0])
                if np.isclose(v, params[name] + lr * grads[name]):
                    hint = "a step *against* the gradient is p - lr * grad, not p + lr * grad"
                elif np.isclose(v, params[name] - 0.5 * grads[name]):
                    hint = "use the `lr` argument, not a fixed 0.5"
                elif np.isclose(v, lr * grads[name]) or np.isclose(v, -lr * grads[name]):
                    hint = "return the new parameter values, not the step"
                elif np.isclose(v, params[name]):
                    hint = "this parameter did not move"
            expect_array(f"sgd_step(params, grads, {label}): the new {name}", value, expected, tol=1e-12, hint=hint)
    return "sgd_step returns p - lr * grad for all ten parameters as a new dict, at three learning rates"


check_sgd_step = check("backprop.sgd_step", probe_sgd_step, judge_sgd_step)


# ---------------------------------------------------------------------------
# Part B: layers with a forward and a backward pass
# ---------------------------------------------------------------------------


def _pair_record(result: Any, raised: dict[str, Any] | None) -> dict[str, Any]:
    """Return plain data about a forward pass's ``(out, cache)`` result."""
    if raised:
        return {"raised": raised}
    if isinstance(result, (tuple, list)) and len(result) == 2:
        return {"out": plain(result[0])}
    return {"not_pair": _kind(result)}


def _kind(value: Any) -> str:
    """Describe a value in a few words for a sentence."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    return f"a {type(value).__name__}"


def _expect_pair(name: str, record: dict[str, Any]) -> Any:
    """Return the ``out`` of a forward pass, or fail when it did not return ``(out, cache)``."""
    if "raised" in record:
        expect_raised_nothing(record["raised"])
    if "not_pair" in record:
        fail(f"{name} returned {record['not_pair']}; the docstring asks for the pair `(out, cache)`, the cache "
             "holding what the backward pass needs.")
    return record["out"]


def _forward_backward(forward: Any, backward: Any, fwd_args: tuple, dout: np.ndarray) -> dict[str, Any]:
    """Run a student's forward pass, then its backward pass on the student's own cache."""
    result, raised = call_raw(forward, *(a.copy() for a in fwd_args))
    record = _pair_record(result, raised)
    if "out" in record:
        record["grads"] = observe(backward, dout.copy(), result[1])
        out = record["out"]
        record["single"] = bool(isinstance(out, np.ndarray) and out.dtype in (np.float32, np.float16))
    return record


def _tolerance(record: dict[str, Any], expected: np.ndarray) -> dict[str, float]:
    """Return expect_array's tolerances: float32 ones when the forward pass worked in float32 (its cache is float32,
    so a backward result promoted to float64 still carries float32 rounding)."""
    if record.get("single"):
        return {"tol": FLOAT32_TOL, "atol": FLOAT32_ATOL * max(1.0, float(np.max(np.abs(expected))))}
    return {"tol": 1e-7}


def _backward_values(name: str, record: dict[str, Any], forward_name: str, count: int) -> list[Any]:
    """Return a backward pass's results as a list of ``count`` values, or fail with one sentence."""
    _expect_pair(f"{forward_name} (which this check calls first, for its cache)", record)
    grads = record["grads"]
    expect_raised_nothing(grads)
    if count == 1:
        return [grads]
    if not isinstance(grads, (tuple, list)) or len(grads) != count:
        fail(f"{name} returned {_describe_plain(grads)}; it should return the tuple of {count} gradients in the "
             "docstring.")
    return list(grads)


def _diagnose(got: Any, candidates: dict[str, np.ndarray]) -> str:
    """Return the hint of the first likely mistake whose output ``got`` reproduces, else ''."""
    if not isinstance(got, np.ndarray) or not np.issubdtype(got.dtype, np.number):
        return ""
    for why, value in candidates.items():
        value = np.asarray(value)
        if value.shape == got.shape and np.allclose(got, value, rtol=1e-5, atol=1e-8):
            return why
    return ""


# -- B1: affine layer ---------------------------------------------------------------

# (N, D, M): never square, so a transposed weight matrix or a bias gradient summed over the wrong axis shows.
AFFINE_SHAPES = [(4, 5, 3), (2, 7, 6), (6, 3, 4)]


def affine_inputs(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Return (x, w, b, dout) for each shape, the same on every call."""
    rng = np.random.default_rng(4000 + seed)
    return [(rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m), rng.normal(size=(n, m)))
            for n, d, m in AFFINE_SHAPES]


def _tf_affine(x: np.ndarray, w: np.ndarray, b: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, list]:
    """Return keras Dense's output and the gradients (dx, dw, db) of sum(out * dout), from tf.GradientTape."""
    import tensorflow as tf

    tensors = [tf.Variable(a) for a in (x, w, b)]
    with tf.GradientTape() as tape:
        out = tf.linalg.matmul(tensors[0], tensors[1]) + tensors[2]
        total = tf.reduce_sum(out * dout)
    return out.numpy(), [g.numpy() for g in tape.gradient(total, tensors)]


def _affine_name(func: str, x: np.ndarray, w: np.ndarray) -> str:
    """Name an affine case in the words of the feedback."""
    return f"{func} with x of shape {x.shape}, w of shape {w.shape}"


def probe_affine_forward(affine_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's affine_forward on non-square batches."""
    return {"runs": [_pair_record(*call_raw(affine_forward, x.copy(), w.copy(), b.copy()))
                     for x, w, b, _ in affine_inputs(seed)]}


def judge_affine_forward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare out with x w + b computed by TensorFlow."""
    worst = 0.0
    for (x, w, b, dout), record in zip(affine_inputs(seed), data["runs"]):
        name = _affine_name("affine_forward", x, w)
        out = _expect_pair(name, record)
        expected, _ = _tf_affine(x, w, b, dout)
        hint = _diagnose(out, {"the bias b is missing": x @ w})
        worst = max(worst, expect_array(f"out of {name}", out, expected, hint=hint))
    return f"affine_forward matches x @ w + b (as keras.layers.Dense computes it) on {len(AFFINE_SHAPES)} " \
           f"non-square batches (largest relative error {worst:.1e})"


check_affine_forward = check("backprop.affine_forward", probe_affine_forward, judge_affine_forward)


def probe_affine_backward(affine_backward: Any, affine_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's affine_forward for its cache, then affine_backward on a fixed upstream gradient."""
    return {"runs": [_forward_backward(affine_forward, affine_backward, (x, w, b), dout)
                     for x, w, b, dout in affine_inputs(seed)]}


def judge_affine_backward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare dx, dw, db with tf.GradientTape."""
    worst = 0.0
    for (x, w, b, dout), record in zip(affine_inputs(seed), data["runs"]):
        name = _affine_name("affine_backward", x, w)
        grads = _backward_values(name, record, "affine_forward", 3)
        _, reference = _tf_affine(x, w, b, dout)
        slips = [
            {},
            {"dw is x.T @ dout, of the shape of w": dout.T @ x,
             "dw is x.T @ dout: no division by the batch size": x.T @ dout / len(x)},
            {"db sums dout over the batch axis 0, giving one entry per output unit": dout.sum(axis=1),
             "db sums dout over the batch, it does not average it": dout.mean(axis=0),
             "db is dout summed over the batch axis (axis=0)": dout},
        ]
        for label, got, want, slip in zip(("dx", "dw", "db"), grads, reference, slips):
            if isinstance(got, np.ndarray) and got.shape != want.shape:
                hint = next((why for why, v in slip.items() if v.shape == got.shape), "")
                if hint:
                    fail(f"{label} from {name} has shape {got.shape}, expected {want.shape} ({hint}).")
            worst = max(worst, expect_array(f"{label} from {name}", got, want, hint=_diagnose(got, slip),
                                            **_tolerance(record, want)))
    return (f"affine_backward's dx, dw and db match tf.GradientTape on {len(AFFINE_SHAPES)} non-square batches "
            f"(largest relative error {worst:.1e})")


check_affine_backward = check("backprop.affine_backward", probe_affine_backward, judge_affine_backward)


# -- B2: activations -----------------------------------------------------------------------

ACTIVATION_SHAPES = [(5, 4), (3, 7)]


def activation_inputs(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (x, dout) pairs: inputs of both signs up to about +-6, never exactly 0."""
    rng = np.random.default_rng(5000 + seed)
    return [(rng.normal(size=shape) * 2.5, rng.normal(size=shape)) for shape in ACTIVATION_SHAPES]


def _tf_activation(kind: str, x: np.ndarray, dout: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the activation's output (keras.activations) and its gradient times dout (tf.GradientTape)."""
    import keras
    import tensorflow as tf

    fn = keras.activations.relu if kind == "relu" else keras.activations.sigmoid
    tensor = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = fn(tensor)
        total = tf.reduce_sum(out * dout)
    return np.asarray(out), tape.gradient(total, tensor).numpy()


def _probe_activation_forward(forward: Any, seed: int) -> dict[str, Any]:
    """Run an activation's forward pass on every input."""
    return {"runs": [_pair_record(*call_raw(forward, x.copy())) for x, _ in activation_inputs(seed)]}


def _judge_activation_forward(kind: str, data: dict[str, Any], seed: int) -> str:
    """Compare an activation's output with its Keras built-in."""
    worst = 0.0
    for (x, dout), record in zip(activation_inputs(seed), data["runs"]):
        name = f"{kind}_forward(x of shape {x.shape})"
        out = _expect_pair(name, record)
        expected, _ = _tf_activation(kind, x, dout)
        slips = ({"negative inputs must give 0, positive ones pass unchanged": np.abs(x),
                  "a leaky ReLU is not a ReLU: negative inputs give exactly 0": np.where(x > 0, x, 0.01 * x),
                  "ReLU has no upper limit: max(0, x), not clip(x, 0, 1)": np.clip(x, 0, 1)} if kind == "relu"
                 else {"the sigmoid is 1 / (1 + exp(-x)): check the sign in the exponent": 1 / (1 + np.exp(x)),
                       "that is tanh; the sigmoid is 1 / (1 + exp(-x))": np.tanh(x)})
        worst = max(worst, expect_array(f"out of {name}", out, expected, hint=_diagnose(out, slips)))
    builtin = "keras.activations." + kind
    return f"{kind}_forward matches {builtin} on {len(ACTIVATION_SHAPES)} inputs (largest relative error {worst:.1e})"


def _probe_activation_backward(backward: Any, forward: Any, seed: int) -> dict[str, Any]:
    """Run an activation's forward pass for its cache, then its backward pass."""
    return {"runs": [_forward_backward(forward, backward, (x,), dout) for x, dout in activation_inputs(seed)]}


def _judge_activation_backward(kind: str, data: dict[str, Any], seed: int) -> str:
    """Compare an activation's backward pass with tf.GradientTape."""
    worst = 0.0
    for (x, dout), record in zip(activation_inputs(seed), data["runs"]):
        name = f"{kind}_backward (after {kind}_forward on x of shape {x.shape})"
        (got,) = _backward_values(name, record, f"{kind}_forward", 1)
        _, expected = _tf_activation(kind, x, dout)
        s = 1 / (1 + np.exp(-x))
        slips = ({"the gradient passes where the input was *positive*, not where it was negative": dout * (x < 0),
                  "multiply dout by the 0/1 mask (x > 0), not by the ReLU's output": dout * np.maximum(x, 0),
                  "the mask (x > 0) is missing: the gradient passes everywhere": dout,
                  "multiply the mask by dout": (x > 0).astype(float),
                  "the mask comes from the forward input x, not from dout": dout * (dout > 0)} if kind == "relu"
                 else {"the sigmoid's derivative is s (1 - s), not s": dout * s,
                       "multiply s (1 - s) by dout": s * (1 - s),
                       "the derivative is s (1 - s) with s = sigmoid(x); here it was applied to x itself":
                           dout * x * (1 - x),
                       "the cache holds s = sigmoid(x) already: do not apply the sigmoid to it again":
                           dout * (1 / (1 + np.exp(-s))) * (1 - 1 / (1 + np.exp(-s))),
                       "the derivative is s (1 - s), not (1 - s)": dout * (1 - s)})
        worst = max(worst, expect_array(f"dx from {name}", got, expected, hint=_diagnose(got, slips),
                                        **_tolerance(record, expected)))
    return f"{kind}_backward matches tf.GradientTape on {len(ACTIVATION_SHAPES)} inputs (largest relative error " \
           f"{worst:.1e})"


def probe_relu_forward(relu_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's relu_forward."""
    return _probe_activation_forward(relu_forward, seed)


def judge_relu_forward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with keras.activations.relu."""
    return _judge_activation_forward("relu", data, seed)


def probe_relu_backward(relu_backward: Any, relu_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's relu_forward for its cache, then relu_backward."""
    return _probe_activation_backward(relu_backward, relu_forward, seed)


def judge_relu_backward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with tf.GradientTape through tf.nn.relu."""
    return _judge_activation_backward("relu", data, seed)


def probe_sigmoid_forward(sigmoid_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's sigmoid_forward."""
    return _probe_activation_forward(sigmoid_forward, seed)


def judge_sigmoid_forward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with keras.activations.sigmoid."""
    return _judge_activation_forward("sigmoid", data, seed)


def probe_sigmoid_backward(sigmoid_backward: Any, sigmoid_forward: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's sigmoid_forward for its cache, then sigmoid_backward."""
    return _probe_activation_backward(sigmoid_backward, sigmoid_forward, seed)


def judge_sigmoid_backward(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with tf.GradientTape through the sigmoid."""
    return _judge_activation_backward("sigmoid", data, seed)


check_relu_forward = check("backprop.relu_forward", probe_relu_forward, judge_relu_forward)
check_relu_backward = check("backprop.relu_backward", probe_relu_backward, judge_relu_backward)
check_sigmoid_forward = check("backprop.sigmoid_forward", probe_sigmoid_forward, judge_sigmoid_forward)
check_sigmoid_backward = check("backprop.sigmoid_backward", probe_sigmoid_backward, judge_sigmoid_backward)


# -- B3: softmax cross-entropy ----------------------------------------------------------------

# (N, C, spread): N != C everywhere. The last case has scores in the thousands, rows far apart (offsets below):
# exp overflows unless each row's own maximum is subtracted first, and every exp of a row underflows to 0 if one
# maximum is subtracted from all rows.
SOFTMAX_CASES = [(5, 3, 1.0), (3, 7, 2.0), (8, 10, 1.0), (4, 6, 50.0)]
LARGE_OFFSETS = np.array([[1500.0], [-800.0], [0.0], [3000.0]])


def softmax_inputs(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (scores, labels) for each case, the same on every call."""
    rng = np.random.default_rng(6000 + seed)
    cases = [(rng.normal(size=(n, c)) * spread, rng.integers(0, c, size=n)) for n, c, spread in SOFTMAX_CASES]
    scores, labels = cases[-1]
    cases[-1] = (scores + LARGE_OFFSETS, labels)
    return cases


def _tf_softmax_ce(scores: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Return Keras's mean sparse categorical cross-entropy from logits and its gradient (tf.GradientTape)."""
    import keras
    import tensorflow as tf

    tensor = tf.Variable(scores)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, tensor, from_logits=True))
    return float(loss.numpy()), tape.gradient(loss, tensor).numpy()


def probe_softmax_cross_entropy(softmax_cross_entropy: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's softmax_cross_entropy on every case."""
    return {"results": [observe(softmax_cross_entropy, s.copy(), y.copy()) for s, y in softmax_inputs(seed)]}


def judge_softmax_cross_entropy(data: dict[str, Any], seed: int = 0) -> str:
    """Compare loss and dscores with Keras's sparse categorical cross-entropy and tf.GradientTape."""
    worst = 0.0
    for (scores, labels), got in zip(softmax_inputs(seed), data["results"]):
        n, c = scores.shape
        large = np.abs(scores).max() > 100
        name = f"softmax_cross_entropy(scores of shape {scores.shape}{', in the thousands' if large else ''})"
        expect_raised_nothing(got)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(f"{name} returned {_describe_plain(got)}; it should return the pair `(loss, dscores)`.")
        loss, dscores = got
        ref_loss, ref_grad = _tf_softmax_ce(scores, labels)
        if large:
            for label, value in (("the loss", loss), ("dscores", dscores)):
                arr = np.asarray(value) if isinstance(value, (np.ndarray, float, int)) else None
                if arr is not None and np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
                    fail(f"{label} of {name} is NaN or infinite: exp overflows, or a probability underflows to "
                         "0 before its log; subtract each row's own maximum score (axis=1) before exponentiating, "
                         "and take log-probabilities as shifted - log(sum(exp(shifted))).")
        ratio = _ratio(loss, ref_loss)
        hint = (f"the loss is summed over the batch instead of averaged (it is {n} times too large)"
                if ratio is not None and np.isclose(ratio, n) else "")
        worst = max(worst, expect_array(f"the loss of {name}", loss, ref_loss, hint=hint))
        onehot = np.eye(c)[labels]
        probs = ref_grad * n + onehot  # the softmax probabilities, read off the reference gradient
        slips = {"dscores is the mean loss's gradient: divide (p - onehot) by N": probs - onehot,
                 "dscores is (p - onehot) / N: subtract 1 at each row's true class": probs / n,
                 "the sign is flipped: dscores = (p - onehot) / N": (onehot - probs) / n}
        # atol: 1 - p at the true class cancels when p is near 1, leaving float64 rounding of about 1e-13.
        worst = max(worst, expect_array(f"dscores of {name}", dscores, ref_grad, atol=1e-11,
                                        hint=_diagnose(dscores, slips)))
    return (f"softmax_cross_entropy's loss and dscores match Keras's sparse categorical cross-entropy and "
            f"tf.GradientTape on {len(SOFTMAX_CASES)} cases, scores in the thousands included (largest relative "
            f"error {worst:.1e})")


def _describe_plain(value: Any) -> str:
    """Describe plain data in a few words."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} values"
    return f"a {type(value).__name__}"


def _ratio(value: Any, reference: float) -> float | None:
    """Return value / reference for a number, else None."""
    if not _is_number(value) or reference == 0:
        return None
    return float(np.asarray(value, float).ravel()[0]) / reference


check_softmax_cross_entropy = check("backprop.softmax_cross_entropy", probe_softmax_cross_entropy,
                                    judge_softmax_cross_entropy)


# -- B4: the two-layer MLP -------------------------------------------------------------

MLP_KEYS = ("W1", "b1", "W2", "b2")
# (N, D, H, C): four different sizes in each case, so any transposition shows as a shape.
MLP_SHAPES = [(4, 7, 5, 3), (6, 3, 8, 4)]


def mlp_inputs(seed: int = 0) -> list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]:
    """Return (params, X, y) for each shape: He-scaled weights and nonzero biases, in float64."""
    rng = np.random.default_rng(7000 + seed)
    cases = []
    for n, d, h, c in MLP_SHAPES:
        params = {"W1": rng.normal(size=(d, h)) * np.sqrt(2 / d), "b1": rng.normal(size=h) * 0.5,
                  "W2": rng.normal(size=(h, c)) * np.sqrt(2 / h), "b2": rng.normal(size=c) * 0.5}
        cases.append((params, rng.normal(size=(n, d)), rng.integers(0, c, size=n)))
    return cases


def _tf_mlp(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, float,
                                                                                         dict[str, np.ndarray]]:
    """Return (scores, mean cross-entropy, gradients) of Dense-ReLU-Dense from TensorFlow, in float64."""
    import keras
    import tensorflow as tf

    v = {k: tf.Variable(np.asarray(params[k], np.float64)) for k in MLP_KEYS}
    with tf.GradientTape() as tape:
        scores = tf.matmul(tf.nn.relu(tf.matmul(X, v["W1"]) + v["b1"]), v["W2"]) + v["b2"]
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, scores, from_logits=True)) \
            if y is not None else tf.constant(0.0, tf.float64)
    grads = tape.gradient(loss, [v[k] for k in MLP_KEYS]) if y is not None else [None] * 4
    return scores.numpy(), float(loss.numpy()), {k: (g.numpy() if g is not None else None)
                                                  for k, g in zip(MLP_KEYS, grads)}


def _copy_params(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return a deep copy of a parameter dict."""
    return {k: v.copy() for k, v in params.items()}


def probe_mlp_loss(mlp_loss: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's mlp_loss without labels (scores) and with labels (loss, grads)."""
    return {"runs": [{"scores": observe(mlp_loss, _copy_params(p), X.copy()),
                      "loss_grads": observe(mlp_loss, _copy_params(p), X.copy(), y.copy())}
                     for p, X, y in mlp_inputs(seed)]}


def judge_mlp_loss(data: dict[str, Any], seed: int = 0) -> str:
    """Compare scores, loss and all four gradients with TensorFlow."""
    worst = 0.0
    for (params, X, y), run in zip(mlp_inputs(seed), data["runs"]):
        name = f"mlp_loss(params, X of shape {X.shape}"
        scores, _, _ = _tf_mlp(params, X, None)
        hidden = X @ params["W1"] + params["b1"]
        linear = hidden @ params["W2"] + params["b2"]
        slips = {"there is no ReLU between the two affine layers": linear,
                 "the scores are the second affine layer's output, with no ReLU after it": np.maximum(scores, 0)}
        got_scores = run["scores"]
        if isinstance(got_scores, tuple) and len(got_scores) == 2 and isinstance(got_scores[0], np.ndarray):
            fail(f"{name}) without labels returned a pair; with y=None it should return only the scores (N, C).")
        worst = max(worst, expect_array(f"the scores of {name})", got_scores, scores,
                                        hint=_diagnose(got_scores, slips)))
        _, loss, grads = _tf_mlp(params, X, y)
        got = run["loss_grads"]
        expect_raised_nothing(got)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail(f"{name}, y) returned {_describe_plain(got)}; with labels it should return `(loss, grads)`.")
        got_loss, got_grads = got
        ratio = _ratio(got_loss, loss)
        hint = (f"the loss is summed over the batch instead of averaged" if ratio is not None and
                np.isclose(ratio, len(X)) else "")
        worst = max(worst, expect_array(f"the loss of {name}, y)", got_loss, loss, hint=hint))
        got_grads = _expect_dict(f"the grads of {name}, y)", got_grads, MLP_KEYS)
        for key in ("W2", "b2", "W1", "b1"):  # backward order: the first wrong one is where the slip is
            hint = {"W1": "check the ReLU's backward pass between the two layers",
                    "b1": "check the ReLU's backward pass between the two layers"}.get(key, "")
            worst = max(worst, expect_array(f"grads['{key}'] of {name}, y)", got_grads[key], grads[key], hint=hint))
    return (f"mlp_loss's scores, loss and four gradients match TensorFlow on {len(MLP_SHAPES)} networks "
            f"(largest relative error {worst:.1e})")


check_mlp_loss = check("backprop.mlp_loss", probe_mlp_loss, judge_mlp_loss)


# -- B5: mini-batch SGD -------------------------------------------------------------------------------

# Each run: (name, N, batch size, epochs, learning rate, lr decay). "one batch" holds the whole (odd-sized)
# training set in one partial batch, so the updates are exactly gradient descent whatever the shuffle;
# "three batches" takes tiny steps, so the parameters move by -lr * epochs * 3 * (full-batch gradient) to first
# order whatever the shuffle, if every example is used once per epoch with its own label.
SGD_RUNS = [("three batches", 48, 16, 2, 2e-5, 1.0), ("one batch larger than the data", 27, 64, 3, 0.3, 0.5)]
SGD_SIZES = (6, 5, 3)  # D, H, C
# (N, batch size, epochs, learning rate): N copies of one example, so every batch has the same mean gradient whatever
# the shuffle, and each epoch is exactly ceil(N / batch_size) = 3 steps of gradient descent, the last batch partial.
SGD_PARTIAL = (40, 16, 2, 0.2)


def sgd_data(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (params, X, y, X_val, y_val): 48 examples of 3 classes, float64; large scores make per-example
    losses spread widely, so a loss taken from one batch differs from the epoch's mean."""
    rng = np.random.default_rng(8000 + seed)
    d, h, c = SGD_SIZES
    params = {"W1": rng.normal(size=(d, h)) * np.sqrt(2 / d), "b1": rng.normal(size=h) * 0.1,
              "W2": rng.normal(size=(h, c)) * 1.5, "b2": rng.normal(size=c) * 0.1}
    X = rng.normal(size=(60, d))
    y = rng.integers(0, c, size=60)
    return params, X[:48], y[:48], X[48:], y[48:]


def _tf_loss_grads(params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[float, dict]:
    """Return the MLP's mean loss and gradients from TensorFlow."""
    _, loss, grads = _tf_mlp(params, X, y)
    return loss, grads


def probe_sgd_train(sgd_train: Any, seed: int = 0) -> dict[str, Any]:
    """Run the student's sgd_train on the fixed runs, and once more with another shuffling seed."""
    params, X, y, X_val, y_val = sgd_data(seed)
    runs = []
    for _, n, batch, epochs, lr, decay in SGD_RUNS:
        given = _copy_params(params)
        result = observe(sgd_train, given, X[:n].copy(), y[:n].copy(), X_val.copy(), y_val.copy(), epochs=epochs,
                         batch_size=batch, learning_rate=lr, lr_decay=decay, seed=0, verbose=False)
        runs.append({"result": result,
                     "touched": not all(np.array_equal(given[k], params[k]) for k in params)})
    n, batch, epochs, lr = SGD_PARTIAL
    partial = observe(sgd_train, _copy_params(params), np.repeat(X[:1], n, axis=0), np.repeat(y[:1], n),
                      X_val.copy(), y_val.copy(), epochs=epochs, batch_size=batch, learning_rate=lr, lr_decay=1.0,
                      seed=0, verbose=False)
    # seed 0, seed 1, then seed 0 again: a seeded run must repeat exactly.
    other = [observe(sgd_train, _copy_params(params), X.copy(), y.copy(), X_val.copy(), y_val.copy(), epochs=1,
                     batch_size=16, learning_rate=0.5, lr_decay=1.0, seed=s, verbose=False) for s in (0, 1, 0)]
    return {"runs": runs, "partial": partial, "shuffle": other}


def _train_result(name: str, result: Any, epochs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (params, history) from sgd_train's result, or fail with one sentence."""
    expect_raised_nothing(result)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name} returned {_describe_plain(result)}; it should return `(params, history)`.")
    params = _expect_dict(f"the params returned by {name}", result[0], MLP_KEYS)
    history = _expect_dict(f"the history returned by {name}", result[1], ("loss", "val_loss", "val_accuracy"))
    loss = history["loss"]
    count = len(loss) if isinstance(loss, (list, tuple, np.ndarray)) else -1
    if count != epochs:
        per_batch = " (one entry per epoch, the mean of its batch losses, not one per batch)" if count > epochs else ""
        fail(f"history['loss'] from {name} has {count if count >= 0 else 'no'} entries for {epochs} epochs"
             f"{per_batch}.")
    return params, history


def judge_sgd_train(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with gradient descent (one batch) and with its first-order prediction (three tiny steps)."""
    params0, X, y, _, _ = sgd_data(seed)
    for (label, n, batch, epochs, lr, decay), run in zip(SGD_RUNS, data["runs"]):
        name = f"sgd_train ({label}: {n} examples, batch_size={batch}, {epochs} epochs)"
        got, history = _train_result(name, run["result"], epochs)
        expect_true(not run["touched"], f"{name} changed the params dict it was given: update the copy it makes.")
        if all(isinstance(got[k], np.ndarray) and got[k].shape == params0[k].shape
               and np.array_equal(got[k], params0[k]) for k in MLP_KEYS):
            fail(f"{name} returned the parameters unchanged: is every batch used, including a last one smaller than "
                 "batch_size, and is every parameter updated with its gradient?")
        if label.startswith("one batch"):
            p, rate, expected_losses = _copy_params(params0), lr, []
            for _ in range(epochs):
                loss, grads = _tf_loss_grads(p, X[:n], y[:n])
                expected_losses.append(loss)
                p = {k: p[k] - rate * grads[k] for k in MLP_KEYS}
                rate *= decay
            for k in MLP_KEYS:
                expect_array(f"{k} after {name}", got[k], p[k], tol=1e-6,
                             hint="each step moves every parameter by -learning_rate * its gradient")
            expect_array(f"history['loss'] of {name}", np.asarray(history["loss"], float)
                         if _all_numbers(history["loss"]) else history["loss"], np.array(expected_losses), tol=1e-6,
                         hint="record the mean of the epoch's batch losses")
        else:
            loss0, grads0 = _tf_loss_grads(params0, X[:n], y[:n])
            steps = epochs * n // batch
            for k in MLP_KEYS:
                moved = as_array(f"{k} after {name}", got[k], params0[k].shape).astype(float) - params0[k]
                predicted = -lr * steps * grads0[k]
                error = float(np.linalg.norm(moved - predicted) / np.linalg.norm(predicted))
                if error > 0.05:  # second-order terms reach 3% on some draws
                    ratio = float(np.dot(moved.ravel(), predicted.ravel()) / np.sum(predicted ** 2))
                    why = ("the parameters moved *up* the gradient: subtract learning_rate * gradient" if ratio < -0.5
                           else f"{k} did not move: update every parameter, biases included" if abs(ratio) < 0.01
                           else f"they moved {ratio:.2f} times as far as {steps} steps of "
                           "-learning_rate * gradient predict: is every mini-batch used once per epoch, with its own "
                           "labels (the same shuffled order for X and y)?")
                    fail(f"{k} after {name} is off by {error:.0%} ({why}).")
            losses = np.asarray(history["loss"], float) if _all_numbers(history["loss"]) else None
            expect_true(losses is not None and bool(np.all(np.abs(losses - loss0) <= 0.01 * loss0)),
                        f"history['loss'] of {name} is {_short_list(history['loss'])}, expected about "
                        f"{loss0:.4f} per epoch: record the mean of the epoch's batch losses (not their sum, nor the "
                        "last batch's loss).")
    _judge_partial_batch(data["partial"], params0, X, y)
    first, second, again = data["shuffle"]
    p_first, _ = _train_result("sgd_train (seed=0)", first, 1)
    p_second, _ = _train_result("sgd_train (seed=1)", second, 1)
    p_again, _ = _train_result("sgd_train (seed=0, run again)", again, 1)
    expect_true(all(np.array_equal(np.asarray(p_first[k], float), np.asarray(p_again[k], float)) for k in MLP_KEYS),
                "sgd_train gives different parameters in two runs with the same seed=0: shuffle with the `rng` made "
                "from `seed` (`rng.permutation(len(X))`), not with np.random's global generator, so that a run can "
                "be repeated.")
    expect_true(not all(np.allclose(np.asarray(p_first[k], float), np.asarray(p_second[k], float), rtol=1e-12,
                                    atol=0) for k in MLP_KEYS),
                "sgd_train gives the same parameters for seed=0 and seed=1: shuffle the training set at the start of "
                "every epoch with `rng` (for example `order = rng.permutation(len(X))`).")
    return ("sgd_train does exact gradient descent with a partial batch, uses every mini-batch once per epoch with "
            "its own labels, records the mean epoch loss, and shuffles with its seed, reproducibly")


def _judge_partial_batch(result: Any, params0: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> None:
    """Compare the run on N copies of one example with ceil(N / batch_size) steps of gradient descent per epoch."""
    n, batch, epochs, lr = SGD_PARTIAL
    steps = -(-n // batch)
    name = f"sgd_train ({n} copies of one example, batch_size={batch}, {epochs} epochs)"
    got, _ = _train_result(name, result, epochs)
    Xs, ys = np.repeat(X[:1], n, axis=0), np.repeat(y[:1], n)
    p, dropped = _copy_params(params0), _copy_params(params0)
    for _ in range(epochs * steps):
        grads = _tf_loss_grads(p, Xs, ys)[1]
        p = {k: p[k] - lr * grads[k] for k in MLP_KEYS}
    for _ in range(epochs * (n // batch)):
        grads = _tf_loss_grads(dropped, Xs, ys)[1]
        dropped = {k: dropped[k] - lr * grads[k] for k in MLP_KEYS}
    distinct = not all(np.allclose(p[k], dropped[k], rtol=1e-5, atol=1e-8) for k in MLP_KEYS)  # some draws converge
    if distinct and all(isinstance(got[k], np.ndarray) and got[k].shape == dropped[k].shape  # in one step
                        and np.allclose(got[k], dropped[k], rtol=1e-5, atol=1e-8) for k in MLP_KEYS):
        fail(f"{name} took {n // batch} steps per epoch instead of {steps}: with N={n} and batch_size={batch} the last "
             f"batch holds only {n % batch} examples, but it must still be used (loop over range(0, len(X), "
             "batch_size)).")
    for k in MLP_KEYS:
        expect_array(f"{k} after {name}", got[k], p[k], tol=1e-6,
                     hint=f"every epoch has {steps} batches, the last of {n % batch} examples, and each moves every "
                     "parameter by -learning_rate * its gradient")


def _all_numbers(values: Any) -> bool:
    """Return True for a list/tuple/array of numbers."""
    if isinstance(values, np.ndarray):
        return np.issubdtype(values.dtype, np.number) and values.ndim == 1
    return isinstance(values, (list, tuple)) and all(_is_number(v) for v in values)


def _short_list(values: Any) -> str:
    """Write a short list of numbers in a few characters."""
    if _all_numbers(values):
        shown = ", ".join(f"{float(np.asarray(v, float).ravel()[0]):.4f}" for v in list(values)[:4])
        return f"[{shown}{', ...' if len(values) > 4 else ''}]"
    return _describe_plain(values)


check_sgd_train = check("backprop.sgd_train", probe_sgd_train, judge_sgd_train)


# ---------------------------------------------------------------------------
# Part C: the same MLP in Keras
# ---------------------------------------------------------------------------

# (input_dim, hidden_dim, num_classes): none of them 784, 10 or a profile's width, so hard-coded sizes show.
# The first case has many more hidden units than inputs, so He initialisation (std sqrt(2 / input_dim)) and
# Keras's default Glorot (std sqrt(2 / (input_dim + hidden_dim))) differ by a factor of two.
KERAS_SIZES = [(100, 300, 5), (12, 7, 4)]


def probe_build_keras_mlp(build_keras_mlp: Any, seed: int = 0,
                          sizes: list[tuple[int, int, int]] | None = None) -> dict[str, Any]:
    """Build the student's model for each size; describe it, measure its first kernel's spread, and run it with
    fixed weights on fixed inputs."""
    from utils.exercises.models import describe_model

    rng = np.random.default_rng(9000 + seed)
    runs = []
    for d, h, c in sizes or KERAS_SIZES:
        model, raised = call_raw(build_keras_mlp, d, h, c)
        if raised:
            runs.append({"raised": raised})
            continue
        if not _is_keras_model(model):
            runs.append({"not_model": _kind(model)})
            continue
        built = observe(model, np.zeros((2, d), np.float32))
        run: dict[str, Any] = {"built": built if is_raised(built) else None}
        if is_raised(built):
            runs.append(run)
            continue
        run["description"] = describe_model(model)
        weights = model.get_weights()
        run["weight_shapes"] = [tuple(int(s) for s in w.shape) for w in weights]
        run["kernel_std"] = float(np.std(weights[0])) if weights and weights[0].shape == (d, h) else None
        # The largest |weight| in standard deviations: at most sqrt(3) = 1.73 for a uniform draw, beyond 2 for a
        # (truncated) normal one of tens of thousands of weights.
        run["kernel_peak"] = (float(np.max(np.abs(weights[0])) / run["kernel_std"])
                              if run["kernel_std"] else None)
        X = rng.normal(size=(5, d)).astype(np.float32)
        fixed = [rng.normal(size=(d, h)) / np.sqrt(d), rng.normal(size=h), rng.normal(size=(h, c)) / np.sqrt(h),
                 rng.normal(size=c)]
        if run["weight_shapes"] == [tuple(w.shape) for w in fixed]:
            model.set_weights([w.astype(np.float32) for w in fixed])
            run["outputs"] = observe(model, X)
        runs.append(run)
    return {"runs": runs}


def _is_keras_model(value: Any) -> bool:
    """Return True for a keras.Model."""
    import keras

    return isinstance(value, keras.Model)


def judge_build_keras_mlp(data: dict[str, Any], seed: int = 0,
                          sizes: list[tuple[int, int, int]] | None = None) -> str:
    """Inspect layers, sizes, activations and initialisation; compare outputs with fixed weights."""
    from utils.exercises.models import activation_of, weighted_layers

    rng = np.random.default_rng(9000 + seed)
    sizes = sizes or KERAS_SIZES
    for (d, h, c), run in zip(sizes, data["runs"]):
        name = f"build_keras_mlp({d}, {h}, {c})"
        X = rng.normal(size=(5, d)).astype(np.float32)
        fixed = [rng.normal(size=(d, h)) / np.sqrt(d), rng.normal(size=h), rng.normal(size=(h, c)) / np.sqrt(h),
                 rng.normal(size=c)]
        if "raised" in run:
            expect_raised_nothing(run["raised"])
        if "not_model" in run:
            fail(f"{name} returned {run['not_model']}; it should return a keras.Model (e.g. keras.Sequential).")
        if run["built"] is not None:
            fail(f"the model from {name} cannot take a batch of shape (2, {d}) (it raised {run['built'][RAISED]}): "
                 "is its input size input_dim rather than a fixed number?")
        layers = weighted_layers(run["description"])
        kinds = [layer["class"] for layer in layers]
        expect_true(kinds == ["Dense", "Dense"],
                    f"the model from {name} has the weighted layers {kinds}; it should have exactly two Dense layers.")
        hidden, output = layers
        units = hidden["config"].get("units")
        expect_true(units == h, f"the hidden Dense layer of {name} has {units} units, expected hidden_dim = {h}"
                    + (" (num_classes was used)" if units == c else "") + ".")
        units = output["config"].get("units")
        expect_true(units == c, f"the output Dense layer of {name} has {units} units, expected num_classes = {c}.")
        act = activation_of(hidden)
        expect_true(act == "relu", f"the hidden Dense layer of {name} is followed by {act}, expected ReLU.")
        act = activation_of(output)
        expect_true(act == "linear", f"the output layer of {name} applies {act}: output raw logits and let the loss "
                    "(from_logits=True) apply the softmax.")
        shapes = [tuple(s) for s in run["weight_shapes"]]
        expect_true(shapes == [(d, h), (h,), (h, c), (c,)],
                    f"the weights of {name} have shapes {shapes}, expected {[(d, h), (h,), (h, c), (c,)]}"
                    " (a Dense layer without a bias?).")
        if d < h:
            he, glorot = np.sqrt(2 / d), np.sqrt(2 / (d + h))
            std = run["kernel_std"]
            expect_true(std is not None and abs(std / he - 1) < 0.15,
                        f"the hidden layer's initial weights in {name} have standard deviation "
                        f"{'unknown' if std is None else format(std, '.3f')}; He "
                        f"initialisation gives sqrt(2 / {d}) = {he:.3f}"
                        + (" (this is Keras's default Glorot)" if std is not None and abs(std / glorot - 1) < 0.15
                           else "") + ": use kernel_initializer=\"he_normal\".")
            peak = run.get("kernel_peak")
            expect_true(peak is None or peak > 2.0,
                        f"the hidden layer's initial weights in {name} have the right spread but look uniformly "
                        f"distributed (the largest is only {peak or 0:.2f} standard deviations out, where normal draws reach beyond 2): "
                        "the docstring asks for He *normal*, kernel_initializer=\"he_normal\", not \"he_uniform\".")
        reference = np.maximum(X.astype(np.float64) @ fixed[0] + fixed[1], 0) @ fixed[2] + fixed[3]
        expect_array(f"the outputs of {name} with fixed weights", run["outputs"], reference,
                     hint="Dense, ReLU, then Dense, and nothing else")
    return ("build_keras_mlp gives Dense(hidden_dim, ReLU, He initialisation) then Dense(num_classes) logits, and "
            f"computes relu(x W1 + b1) W2 + b2 for {len(sizes)} sizes")


check_build_keras_mlp = check("backprop.build_keras_mlp", probe_build_keras_mlp, judge_build_keras_mlp)



# ---------------------------------------------------------------------------
# Learning targets, measured by the check itself from the trained weights
# ---------------------------------------------------------------------------
# The accuracy a notebook computes with the student's own functions is only as honest as those functions; these
# checks take the trained *weights* as plain arrays and compute the test accuracy themselves (tf.nn ops on the
# MNIST test set they load), so what they judge cannot be faked by a function or an object that lies.

MNIST_DIM, MNIST_CLASSES = 784, 10


def _mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """Return the 10,000 MNIST test digits as the lab prepares them (flat float32 in [0, 1]) and their labels."""
    from utils import data

    _, (images, labels) = data.load_mnist()
    return images.reshape(len(images), -1).astype(np.float32) / 255.0, np.asarray(labels)


def _mlp_test_accuracy(name: str, weights: list[Any], hidden: int) -> float:
    """Return the test accuracy of relu(x W1 + b1) W2 + b2 with the given four arrays, or fail with one sentence.

    The hidden width must be the lab's (``hidden``): a wider "MLP" could memorise the test set unit by unit.
    """
    import tensorflow as tf

    if len(weights) != 4:
        fail(f"{name} has {len(weights)} weight arrays; the MLP has four (W1, b1, W2, b2).")
    shapes = ((MNIST_DIM, hidden), (hidden,), (hidden, MNIST_CLASSES), (MNIST_CLASSES,))
    arrays = []
    for key, value, shape in zip(MLP_KEYS, weights, shapes):
        array = as_array(f"{key} of {name}", value, shape)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            fail(f"{key} of {name} has dtype {array.dtype}; weights are real numbers (float32 or float64).")
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)):
            fail(f"the weights of {name} contain NaN or infinity: training diverged; try a smaller learning rate.")
        arrays.append(array)
    x, y = _mnist_test()
    w1, b1, w2, b2 = arrays
    scores = tf.matmul(tf.nn.relu(tf.matmul(x.astype(np.float64), w1) + b1), w2) + b2
    return float(np.mean(np.argmax(scores.numpy(), axis=1) == y))


def probe_mlp_accuracy(params: Any, **_: Any) -> dict[str, Any]:
    """Take the trained NumPy MLP's parameters as plain arrays."""
    return {"params": plain(params)}


def judge_mlp_accuracy(data: dict[str, Any], minimum: float = 0.0, hidden: int = 100) -> str:
    """Compute the NumPy MLP's test accuracy from its weights and hold it to the profile's target."""
    from utils.checks import record_metric

    params = _expect_dict("the trained params", data["params"], MLP_KEYS)
    accuracy = _mlp_test_accuracy("the trained NumPy MLP", [params[k] for k in MLP_KEYS], hidden)
    record_metric("NumPy MLP test accuracy", accuracy)
    expect_true(accuracy >= minimum, f"NumPy MLP test accuracy is {accuracy:.4f}, below the target of {minimum:.4f} "
                                     "for this profile.")
    return (f"NumPy MLP test accuracy: {accuracy:.4f} (target \u2265 {minimum:.4f}), computed by the check from "
            "your trained weights on the 10,000 test digits")


check_mlp_accuracy = check("backprop.mlp_accuracy", probe_mlp_accuracy, judge_mlp_accuracy, target=True)


def probe_keras_mlp_accuracy(model: Any, params: Any, **_: Any) -> dict[str, Any]:
    """Take the trained Keras MLP's weights (and the NumPy MLP's parameters) as plain arrays."""
    weights, problem = call_raw(lambda: [np.asarray(w) for w in model.get_weights()])
    if problem is not None:
        problem["function"] = problem["innermost"] = "keras_model.get_weights"
    return {"weights": problem if problem is not None else plain(weights), "params": plain(params)}


def judge_keras_mlp_accuracy(data: dict[str, Any], minimum: float = 0.0, gap: float = 0.03,
                             hidden: int = 100) -> str:
    """Compute both MLPs' test accuracies from their weights; hold Keras's to the target and the gap between them."""
    from utils.checks import record_metric

    weights = data["weights"]
    expect_raised_nothing(weights)
    if not isinstance(weights, list):
        fail(f"keras_model.get_weights() gave {type(weights).__name__}, not a list of arrays.")
    keras_accuracy = _mlp_test_accuracy("the trained Keras MLP", weights, hidden)
    params = _expect_dict("the trained params", data["params"], MLP_KEYS)
    numpy_accuracy = _mlp_test_accuracy("the trained NumPy MLP", [params[k] for k in MLP_KEYS], hidden)
    record_metric("Keras MLP test accuracy", keras_accuracy)
    expect_true(keras_accuracy >= minimum, f"Keras MLP test accuracy is {keras_accuracy:.4f}, below the target of "
                                           f"{minimum:.4f} for this profile.")
    difference = abs(numpy_accuracy - keras_accuracy)
    expect_true(difference <= gap, f"the NumPy and Keras MLPs differ by {difference:.4f} in test accuracy (NumPy "
                                   f"{numpy_accuracy:.4f}, Keras {keras_accuracy:.4f}), more than {gap:g}: the same "
                                   "network and recipe should land within that.")
    return (f"Keras MLP test accuracy: {keras_accuracy:.4f} (target \u2265 {minimum:.4f}), {difference:.4f} from the "
            "NumPy MLP's, both computed by the check from the trained weights")


check_keras_mlp_accuracy = check("backprop.keras_mlp_accuracy", probe_keras_mlp_accuracy, judge_keras_mlp_accuracy,
                                 target=True)
