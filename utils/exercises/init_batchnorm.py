"""Lab 3 checks: initialisation scales, the deep forward pass, batch norm (train, running averages, test, backward,
folding), the MLP builder, momentum and Adam steps, learning-rate schedules and inverted dropout.

References are Keras/TensorFlow built-ins (``keras.layers.BatchNormalization``, ``tf.nn.moments``, autodiff,
``keras.optimizers.SGD``/``Adam``, ``keras.optimizers.schedules``, ``keras.layers.Dropout``) and stated facts
(the formulas in the lab's prose), never the solutions' code. Every probe builds its inputs from a local seed,
so a check's verdict does not depend on the notebook's state or on cell order.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from utils.exercises.framework import (
    OBJECT,
    _short,
    as_array,
    call_raw,
    check,
    expect_array,
    expect_raised_nothing,
    expect_true,
    fail,
    is_raised,
    observe,
)
from utils.exercises.models import describe_model

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def keras_bn(gamma: np.ndarray, beta: np.ndarray, moving_mean: np.ndarray, moving_var: np.ndarray,
             momentum: float = 0.9, eps: float = 1e-5) -> Any:
    """Return a float64 keras BatchNormalization layer with the given parameters and moving statistics."""
    import keras

    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=eps, dtype="float64")
    layer.build((None, len(gamma)))
    layer.set_weights([np.asarray(gamma, np.float64), np.asarray(beta, np.float64),
                       np.asarray(moving_mean, np.float64), np.asarray(moving_var, np.float64)])
    return layer


def _close(got: Any, alternative: np.ndarray, rtol: float = 1e-5) -> bool:
    """Return True when an answer matches a known wrong formula (for a hint); never raises."""
    try:
        got = np.asarray(got, dtype=np.float64)
        alternative = np.asarray(alternative, dtype=np.float64)
        return got.shape == alternative.shape and bool(np.allclose(got, alternative, rtol=rtol, atol=1e-9))
    except Exception:  # noqa: BLE001 - a hint is optional
        return False


def _changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Return True when an input array was modified in place."""
    return not np.array_equal(before, after)


def _expect_tuple(name: str, value: Any, size: int, parts: str) -> tuple:
    """Return ``value`` as a tuple of ``size`` items, or fail with one sentence naming what should come back."""
    expect_raised_nothing(value)
    if value is None:
        fail(f"{name} returned None: did the function forget to `return` {parts}?")
    if isinstance(value, (tuple, list)) and len(value) == size:
        return tuple(value)
    if isinstance(value, (tuple, list)):
        fail(f"{name} returned {len(value)} values; return the {size} values {parts}.")
    kind = f"an array of shape {value.shape}" if isinstance(value, np.ndarray) else (
        f"a {value[OBJECT]}" if isinstance(value, dict) and OBJECT in value else f"a {type(value).__name__}")
    fail(f"{name} returned {kind}; return the {size} values {parts}.")
    return ()  # unreachable


def _scalar(name: str, value: Any) -> float:
    """Return a returned scalar as a float, or fail with one sentence."""
    expect_raised_nothing(value)
    if isinstance(value, (tuple, list)):
        fail(f"{name} is a {type(value).__name__} of {len(value)} values; return one number.")
    got = as_array(name, value)
    if got.size != 1:
        fail(f"{name} is an array of shape {got.shape}; return one number.")
    return float(got.reshape(()))


# ---------------------------------------------------------------------------
# A1: init_std
# ---------------------------------------------------------------------------

SCHEMES = ("small", "xavier", "kaiming")
INIT_FAN_INS = (3, 50, 576, 4096, 1)  # 576 = 3 * 3 * 64, a 3x3 convolution on 64 channels


def _init_reference(scheme: str, fan_in: int) -> float:
    """The standard deviation each scheme prescribes (Glorot & Bengio 2010; He et al. 2015)."""
    variance = {"small": 1e-4 * fan_in, "xavier": 1.0, "kaiming": 2.0}[scheme] / fan_in
    return float(np.sqrt(variance))


def probe_init_std(init_std: Any, fan_ins: tuple[int, ...] = INIT_FAN_INS) -> dict[str, Any]:
    """Ask for every scheme's standard deviation at several fan-ins, and for an unknown scheme."""
    return {"values": {s: [observe(init_std, s, int(n)) for n in fan_ins] for s in SCHEMES},
            "unknown": observe(init_std, "uniform", 10)}


def _init_hint(scheme: str, fan_in: int, got: float) -> str:
    """Name the likely mistake behind a wrong standard deviation."""
    guesses = {
        "the variance instead of the standard deviation (take the square root)":
            {"xavier": 1 / fan_in, "kaiming": 2 / fan_in}.get(scheme),
        "sqrt(2) / fan_in: the square root must cover the whole fraction 2 / fan_in":
            np.sqrt(2) / fan_in if scheme == "kaiming" else None,
        "2 / sqrt(fan_in): the square root must cover the whole fraction 2 / fan_in":
            2 / np.sqrt(fan_in) if scheme == "kaiming" else None,
        "Xavier's 1 / sqrt(fan_in): He doubles the variance for ReLU": 1 / np.sqrt(fan_in) if scheme == "kaiming"
        else None,
        "He's sqrt(2 / fan_in): Xavier keeps the variance at 1 / fan_in": np.sqrt(2 / fan_in) if scheme == "xavier"
        else None,
        "integer division: use 1.0 / ... or math.sqrt": 0.0,
    }
    for words, value in guesses.items():
        if value is not None and np.isclose(got, value, rtol=1e-6, atol=0):
            return f"that is {words}"
    return ""


def _value_words(value: Any) -> str:
    """Show any returned value in a few words on one line: arrays by their shape, the rest by a short repr."""
    if isinstance(value, np.ndarray) and value.size > 1:
        return f"an array of shape {value.shape}"
    return _short(value, 60)


def judge_init_std(data: dict[str, Any], fan_ins: tuple[int, ...] = INIT_FAN_INS) -> str:
    """Compare every value with the scheme's formula; an unknown scheme must raise ValueError."""
    for scheme in SCHEMES:
        for fan_in, value in zip(fan_ins, data["values"][scheme]):
            name = f'init_std("{scheme}", {fan_in})'
            got = _scalar(name, value)
            expect_array(name, as_array(name, value).reshape(()), _init_reference(scheme, fan_in), tol=1e-9,
                         hint=_init_hint(scheme, fan_in, got))
    unknown = data["unknown"]
    if not is_raised(unknown):
        fail(f'init_std("uniform", 10) returned {_value_words(unknown)}; raise a ValueError for a scheme it does not know '
             '(for example `raise ValueError(f"unknown scheme {scheme!r}")`).')
    if unknown["stub"] or unknown["__raised__"] != "ValueError":
        if unknown["stub"]:
            expect_raised_nothing(unknown)
        fail(f'init_std("uniform", 10) raised {unknown["__raised__"]}; the docstring asks for a ValueError.')
    return (f"init_std matches 0.01, 1/sqrt(fan_in) and sqrt(2/fan_in) for fan_in in {tuple(fan_ins)}, and an "
            "unknown scheme raises ValueError")


check_init_std = check("init_batchnorm.init_std", probe_init_std, judge_init_std)


# ---------------------------------------------------------------------------
# A2: deep_forward
# ---------------------------------------------------------------------------

# (x shape, output width of each layer, nonlinearity): non-square weights whose widths all differ, batches > 1.
DEEP_CASES = (((3, 5), (4, 6, 2), "tanh"), ((4, 3), (7, 5, 6, 2), "relu"), ((2, 6), (3,), "tanh"))


def _relu(z: np.ndarray) -> np.ndarray:
    """ReLU, elementwise."""
    return np.maximum(z, 0.0)


NONLINEARITIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"tanh": np.tanh, "relu": _relu}


def deep_inputs(seed: int = 30) -> list[tuple[np.ndarray, list[np.ndarray], str]]:
    """Return the deep-forward cases as (x, weights, nonlinearity name), the same on every call."""
    rng = np.random.default_rng(int(seed))
    cases = []
    for shape, widths, name in DEEP_CASES:
        x = rng.normal(size=shape)
        dims = (shape[1],) + tuple(widths)
        cases.append((x, [rng.normal(size=(a, b)) for a, b in zip(dims[:-1], dims[1:])], name))
    return cases


def probe_deep_forward(deep_forward: Any, seed: int = 30) -> dict[str, Any]:
    """Run the student's forward pass with the weights given as a generator, as the experiment does."""
    return {"outputs": [observe(deep_forward, x.copy(), (w.copy() for w in ws), NONLINEARITIES[name])
                        for x, ws, name in deep_inputs(seed)]}


def _deep_reference(x: np.ndarray, weights: list[np.ndarray], name: str) -> tuple[list, list]:
    """Return TensorFlow's per-layer outputs and pre-activations."""
    import tensorflow as tf

    act = {"tanh": tf.tanh, "relu": tf.nn.relu}[name]
    h, outs, pres = tf.constant(x), [], []
    for weight in weights:
        z = tf.linalg.matmul(h, tf.constant(weight))
        h = act(z)
        pres.append(z.numpy())
        outs.append(h.numpy())
    return outs, pres


def judge_deep_forward(data: dict[str, Any], seed: int = 30) -> str:
    """Compare every layer's activations with TensorFlow's matmul and nonlinearity."""
    for (x, ws, name), got in zip(deep_inputs(seed), data["outputs"]):
        call = f"deep_forward(x of shape {x.shape}, {len(ws)} weight matrices, {name})"
        if is_raised(got) and not got["stub"] and ("generator" in got["message"] or "subscript" in got["message"]):
            fail(f"{call} raised {got['__raised__']}: {got['message']}; `weights` may be a generator, so loop over "
                 "it once with `for w in weights:` (no len() or indexing).")
        expect_raised_nothing(got)
        if isinstance(got, np.ndarray):
            fail(f"{call} returned an array of shape {got.shape}; return a list with one array per layer.")
        if not isinstance(got, (list, tuple)):
            if got is None:
                as_array(call, got)  # "is None: did the function forget to `return`...?"
            kind = got[OBJECT] if isinstance(got, dict) and OBJECT in got else type(got).__name__
            fail(f"{call} returned a {kind}; return a list with one array per layer.")
        outs, pres = _deep_reference(x, ws, name)
        if len(got) != len(outs):
            hint = (" (is the input x in it? hs[0] is the first layer's output)" if len(got) == len(outs) + 1
                    else " (only the last layer? append every layer's output)" if len(got) == 1 else "")
            fail(f"{call} returned {len(got)} arrays, expected {len(outs)}, one per weight matrix{hint}.")
        for i, (h, ref, pre) in enumerate(zip(got, outs, pres)):
            hint = "it equals h @ W before the nonlinearity: keep the output after it" if _close(h, pre) else ""
            expect_array(f"{call}, layer {i + 1}", h, ref, tol=1e-10, hint=hint)
    return (f"deep_forward matches TensorFlow's matmul + tanh/ReLU layer by layer on {len(DEEP_CASES)} nets of "
            "different widths")


check_deep_forward = check("init_batchnorm.deep_forward", probe_deep_forward, judge_deep_forward)


# ---------------------------------------------------------------------------
# B1: batchnorm_train_forward
# ---------------------------------------------------------------------------

# (N, D, eps): N != D everywhere, small batches (where 1/N and 1/(N-1) differ), eps from 1e-5 to 1e-2; some
# features have a tiny variance, so eps outside the square root shows.
BN_CASES = ((8, 5, 1e-5), (3, 7, 1e-3), (16, 4, 1e-2))


def bn_inputs(seed: int = 31, cases: tuple = BN_CASES) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """Return the batch-norm cases as (x, gamma, beta, eps), the same on every call."""
    rng = np.random.default_rng(int(seed))
    out = []
    for n, d, eps in cases:
        scales = rng.uniform(0.02, 3.0, size=d)
        x = rng.normal(loc=3.0, size=d) + scales * rng.normal(size=(n, d))
        out.append((x, rng.uniform(0.5, 2.0, size=d), rng.normal(size=d), eps))
    return out


def probe_batchnorm_train_forward(batchnorm_train_forward: Any, seed: int = 31, cases: tuple = BN_CASES) -> dict:
    """Run the student's training-mode forward pass on every case, noting whether it changed its inputs."""
    results, changed = [], []
    for x, g, b, eps in bn_inputs(seed, cases):
        xc, gc, bc = x.copy(), g.copy(), b.copy()
        results.append(observe(batchnorm_train_forward, xc, gc, bc, eps))
        changed.append(_changed(x, xc) or _changed(g, gc) or _changed(b, bc))
    return {"results": results, "changed": changed}


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return tf.nn.moments over the batch axis (biased variance), in float64."""
    import tensorflow as tf

    mean, var = tf.nn.moments(tf.constant(x), axes=[0])
    return mean.numpy(), var.numpy()


def _bn_hint(got: Any, x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> str:
    """Name the likely mistake behind a wrong batch-norm output."""
    mean, var = _moments(x)
    n = x.shape[0]
    centred = x - mean
    guesses = {
        "it uses the unbiased variance (1/(N-1)); batch norm divides by N":
            g * centred / np.sqrt(var * n / (n - 1) + eps) + b,
        "eps is added outside the square root": g * centred / (np.sqrt(var) + eps) + b,
        "eps is missing": g * centred / np.sqrt(var) + b,
        "gamma and beta are swapped": b * centred / np.sqrt(var + eps) + g,
        "the statistics are taken per example (axis 1); batch norm averages over the batch, axis 0":
            g * (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps) + b,
        "it divides by the variance, not its square root": g * centred / (var + eps) + b,
    }
    return next((words for words, alt in guesses.items() if _close(got, alt)), "")


def judge_batchnorm_train_forward(data: dict[str, Any], seed: int = 31, cases: tuple = BN_CASES) -> str:
    """Compare out with keras BatchNormalization(training=True) and the cache's mean/var with tf.nn.moments."""
    worst = 0.0
    for (x, g, b, eps), result, changed in zip(bn_inputs(seed, cases), data["results"], data["changed"]):
        call = f"batchnorm_train_forward(x of shape {x.shape}, eps={eps:g})"
        out, cache = _expect_tuple(call, result, 2, "(out, cache)")
        mean, var = _moments(x)
        if not isinstance(cache, dict) or "mean" not in cache or "var" not in cache:
            fail(f'{call}: the cache should be a dict with at least the keys "mean" and "var" (the batch '
                 "statistics), plus what your backward pass needs.")
        for key, ref in (("mean", mean), ("var", var)):
            stat = as_array(f'{call}: cache["{key}"]', cache[key])
            if stat.shape == (x.shape[0],) or stat.shape == (x.shape[0], 1):
                fail(f'{call}: cache["{key}"] has shape {stat.shape}, one value per example; batch norm '
                     f"takes one {key} per feature, over the batch axis 0, shape {ref.shape}.")
            hint = ("that is the unbiased variance (1/(N-1), ddof=1); batch norm divides by N"
                    if key == "var" and _close(stat, var * x.shape[0] / (x.shape[0] - 1)) else "")
            expect_array(f'{call}: cache["{key}"]', cache[key], ref, tol=1e-9, hint=hint)
        reference = np.asarray(keras_bn(g, b, np.zeros_like(g), np.ones_like(g), eps=eps)(x, training=True))
        worst = max(worst, expect_array(f"{call}: out", out, reference, tol=1e-9,
                                        hint=_bn_hint(out, x, g, b, eps)))
        expect_true(not changed, f"{call} changed its input arrays in place; compute new arrays instead "
                                 "(for example `x - mean`, not `x -= mean`).")
    return (f"batchnorm_train_forward matches keras BatchNormalization(training=True) and tf.nn.moments on "
            f"{len(cases)} batches with N != D (largest relative error {worst:.1e})")


check_batchnorm_train_forward = check("init_batchnorm.batchnorm_train_forward", probe_batchnorm_train_forward,
                                      judge_batchnorm_train_forward)


# ---------------------------------------------------------------------------
# B2: update_running_stats and batchnorm_test_forward
# ---------------------------------------------------------------------------

RUNNING_CASES = ((0.9, 5, 5), (0.7, 3, 4))  # (momentum, features, steps); never 0.5, where a swap is invisible


def running_inputs(seed: int = 32, cases: tuple = RUNNING_CASES) -> list[tuple[float, list[np.ndarray]]]:
    """Return (momentum, batches of shape (8, D)) per case."""
    rng = np.random.default_rng(int(seed))
    return [(m, [rng.normal(loc=3.0, scale=2.0, size=(8, d)) for _ in range(steps)]) for m, d, steps in cases]


def probe_update_running_stats(update_running_stats: Any, seed: int = 32, cases: tuple = RUNNING_CASES) -> dict:
    """Feed the student's update the batch statistics of a few batches, carrying its own running averages."""
    runs = []
    for momentum, batches in running_inputs(seed, cases):
        d = batches[0].shape[1]
        running = (np.zeros(d), np.ones(d))
        steps, changed = [], False
        for batch in batches:
            stats = _moments(batch)
            args = [running[0].copy(), running[1].copy(), stats[0].copy(), stats[1].copy()]
            result = observe(update_running_stats, *args, momentum)
            changed = changed or any(_changed(a, c) for a, c in zip(args, (*running, *stats)))
            steps.append(result)
            ok = (isinstance(result, (tuple, list)) and len(result) == 2
                  and all(isinstance(r, np.ndarray) and r.shape == (d,) for r in result))
            if not ok:
                break
            running = (np.asarray(result[0], np.float64), np.asarray(result[1], np.float64))
        runs.append({"steps": steps, "changed": changed})
    return {"runs": runs}


def judge_update_running_stats(data: dict[str, Any], seed: int = 32, cases: tuple = RUNNING_CASES) -> str:
    """Train a keras BatchNormalization layer on the same batches and compare its moving statistics step by step."""
    total = 0
    for (momentum, batches), run in zip(running_inputs(seed, cases), data["runs"]):
        d = batches[0].shape[1]
        layer = keras_bn(np.ones(d), np.zeros(d), np.zeros(d), np.ones(d), momentum=momentum)
        for k, (batch, result) in enumerate(zip(batches, run["steps"]), start=1):
            call = f"update_running_stats(..., momentum={momentum}) at step {k}"
            new_mean, new_var = _expect_tuple(call, result, 2, "(running_mean, running_var)")
            layer(batch, training=True)
            ref_mean, ref_var = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
            bm, bv = _moments(batch)
            hint = ""
            if k == 1 and _close(new_mean, momentum * bm):
                hint = "the momentum weights the new batch: running = momentum * running + (1 - momentum) * batch"
            expect_array(f"{call}: running_mean (against keras moving_mean)", new_mean, ref_mean, tol=1e-9, hint=hint)
            if k == 1 and _close(new_var, momentum + (1 - momentum) * bm):
                hint = "the variance is updated with the batch mean instead of the batch variance"
            elif k == 1 and _close(new_var, momentum * bv + (1 - momentum)):
                hint = "the momentum weights the new batch: running = momentum * running + (1 - momentum) * batch"
            expect_array(f"{call}: running_var (against keras moving_variance)", new_var, ref_var, tol=1e-9,
                         hint=hint)
            total += 1
        expect_true(not run["changed"], "update_running_stats changed its input arrays in place; return new arrays "
                                        "(for example `momentum * running_mean + ...`, not `running_mean *= ...`).")
    return (f"update_running_stats follows keras BatchNormalization's moving_mean and moving_variance over {total} "
            f"steps (momentum {', '.join(str(m) for m, _, _ in cases)})")


check_update_running_stats = check("init_batchnorm.update_running_stats", probe_update_running_stats,
                                   judge_update_running_stats)

# (N, D, eps, variance range): a single example (where batch statistics give beta), and tiny variances where eps
# and the square root matter.
TEST_CASES = ((6, 5, 1e-5, (0.2, 3.0)), (4, 3, 1e-3, (1e-4, 1e-2)), (1, 4, 1e-5, (0.5, 2.0)))


def bn_test_inputs(seed: int = 33, cases: tuple = TEST_CASES) -> list[tuple[np.ndarray, ...]]:
    """Return (x, gamma, beta, running_mean, running_var, eps) per case."""
    rng = np.random.default_rng(int(seed))
    out = []
    for n, d, eps, (lo, hi) in cases:
        out.append((rng.normal(loc=1.0, scale=2.0, size=(n, d)), rng.uniform(0.5, 2.0, size=d), rng.normal(size=d),
                    rng.normal(size=d), rng.uniform(lo, hi, size=d), eps))
    return out


def probe_batchnorm_test_forward(batchnorm_test_forward: Any, seed: int = 33, cases: tuple = TEST_CASES) -> dict:
    """Run the student's test-mode forward pass with running statistics set by hand."""
    results, changed = [], []
    for x, g, b, rm, rv, eps in bn_test_inputs(seed, cases):
        args = [a.copy() for a in (x, g, b, rm, rv)]
        results.append(observe(batchnorm_test_forward, *args, eps))
        changed.append(any(_changed(a, c) for a, c in zip((x, g, b, rm, rv), args)))
    return {"results": results, "changed": changed}


def judge_batchnorm_test_forward(data: dict[str, Any], seed: int = 33, cases: tuple = TEST_CASES) -> str:
    """Compare with keras BatchNormalization(training=False) holding the same moving statistics."""
    worst = 0.0
    for (x, g, b, rm, rv, eps), got, changed in zip(bn_test_inputs(seed, cases), data["results"],
                                                   data["changed"]):
        call = f"batchnorm_test_forward(x of shape {x.shape}, eps={eps:g})"
        reference = np.asarray(keras_bn(g, b, rm, rv, eps=eps)(x, training=False))
        mean, var = _moments(x)
        guesses = {
            "it normalises with the batch's own statistics; at test time use running_mean and running_var":
                g * (x - mean) / np.sqrt(var + eps) + b,
            "eps is added outside the square root": g * (x - rm) / (np.sqrt(rv) + eps) + b,
            "it divides by the variance, not its square root": g * (x - rm) / (rv + eps) + b,
            "gamma and beta are not applied": (x - rm) / np.sqrt(rv + eps),
        }
        hint = next((w for w, alt in guesses.items() if _close(got, alt)), "")
        worst = max(worst, expect_array(call, got, reference, tol=1e-9, hint=hint))
        expect_true(not changed, f"{call} changed its input arrays in place; compute a new array instead.")
    return (f"batchnorm_test_forward matches keras BatchNormalization(training=False) on {len(cases)} cases, one "
            f"of a single example (largest relative error {worst:.1e})")


check_batchnorm_test_forward = check("init_batchnorm.batchnorm_test_forward", probe_batchnorm_test_forward,
                                     judge_batchnorm_test_forward)


# ---------------------------------------------------------------------------
# B3: batchnorm_backward
# ---------------------------------------------------------------------------

BACKWARD_CASES = ((4, 5, 1e-5), (7, 3, 1e-3), (3, 6, 1e-5))  # (N, D, eps): N != D, so a wrong axis shows


def backward_inputs(seed: int = 34, cases: tuple = BACKWARD_CASES) -> list[tuple[np.ndarray, ...]]:
    """Return (x, gamma, beta, dout, eps) per case."""
    rng = np.random.default_rng(int(seed))
    return [(rng.normal(loc=1.0, scale=2.0, size=(n, d)), rng.uniform(0.5, 2.0, size=d), rng.normal(size=d),
             rng.normal(size=(n, d)), eps) for n, d, eps in cases]


def probe_batchnorm_backward(batchnorm_train_forward: Any, batchnorm_backward: Any, seed: int = 34,
                             cases: tuple = BACKWARD_CASES) -> dict[str, Any]:
    """Run the student's forward pass for its cache, then its backward pass with a fixed upstream gradient."""
    results = []
    for x, g, b, dout, eps in backward_inputs(seed, cases):
        forward, raised = call_raw(batchnorm_train_forward, x.copy(), g.copy(), b.copy(), eps)
        if raised is not None:
            results.append({"forward": raised})
            continue
        if not (isinstance(forward, (tuple, list)) and len(forward) == 2):
            results.append({"forward": observe(lambda: forward)})
            continue
        single = getattr(forward[0], "dtype", None) in (np.float32, np.float16)
        results.append({"backward": observe(batchnorm_backward, dout.copy(), forward[1]), "single": single})
    return {"results": results}


def _bn_tf(v: Any, g: Any, b: Any, eps: float) -> Any:
    """TensorFlow's training-mode batch norm (for autodiff)."""
    import tensorflow as tf

    mean, var = tf.nn.moments(v, axes=[0])
    return tf.nn.batch_normalization(v, mean, var, b, g, eps)


def judge_batchnorm_backward(data: dict[str, Any], seed: int = 34, cases: tuple = BACKWARD_CASES) -> str:
    """Compare dx, dgamma and dbeta with TensorFlow's autodiff of tf.nn.batch_normalization."""
    from utils.checks import tf_vjp

    worst = 0.0
    for (x, g, b, dout, eps), entry in zip(backward_inputs(seed, cases), data["results"]):
        call = f"batchnorm_backward on x of shape {x.shape} (eps={eps:g})"
        if "forward" in entry:
            expect_raised_nothing(entry["forward"])
            fail(f"batchnorm_train_forward does not return (out, cache), so {call} cannot get its cache: fix B1 "
                 "first.")
        dx, dgamma, dbeta = _expect_tuple(call, entry["backward"], 3, "(dx, dgamma, dbeta)")
        ref_dx, ref_dgamma, ref_dbeta = tf_vjp(lambda v, gg, bb: _bn_tf(v, gg, bb, eps), [x, g, b], dout)
        mean, var = _moments(x)
        inv = 1.0 / np.sqrt(var + eps)
        dxhat = dout * g
        xhat = (x - mean) * inv
        guesses = {
            "the terms through the mean and the variance are missing (every output depends on every input of its "
            "feature)": dxhat * inv,
            "the term through the variance is missing": (dxhat - dxhat.mean(axis=0)) * inv,
            "the term through the mean is missing": (dxhat - xhat * (dxhat * xhat).mean(axis=0)) * inv,
            "gamma is missing from dx": ref_dx / g,
        }
        hint = next((w for w, alt in guesses.items() if _close(dx, alt)), "")
        single = bool(entry.get("single"))
        tol = 1e-4 if single else 1e-8  # a float32 forward pass leaves float32 rounding in its cache

        def floor(ref: np.ndarray) -> float:
            # float32 rounding in the cache is absolute, about 1e-5 of the largest entry: entries near zero are
            # held to that, not to a relative error (fresh inputs found correct answers missing 1e-4 relatively)
            return 1e-5 * float(np.max(np.abs(ref))) if single else 0.0

        worst = max(worst, expect_array(f"{call}: dx", dx, ref_dx, tol=tol, atol=floor(ref_dx), hint=hint))
        shape_hint = "sum over the batch axis 0"
        hint = "it is sum(dout) without x_hat" if _close(dgamma, dout.sum(axis=0)) else shape_hint
        worst = max(worst, expect_array(f"{call}: dgamma", dgamma, ref_dgamma, tol=tol, atol=floor(ref_dgamma),
                                        hint=hint))
        worst = max(worst, expect_array(f"{call}: dbeta", dbeta, ref_dbeta, tol=tol, atol=floor(ref_dbeta),
                                        hint=shape_hint))
    return (f"batchnorm_backward matches TensorFlow's autodiff of tf.nn.batch_normalization on {len(cases)} batches "
            f"with N != D (largest relative error {worst:.1e})")


check_batchnorm_backward = check("init_batchnorm.batchnorm_backward", probe_batchnorm_backward,
                                 judge_batchnorm_backward)


# ---------------------------------------------------------------------------
# B4: fuse_dense_batchnorm
# ---------------------------------------------------------------------------

FUSE_CASES = ((6, 4, 1e-5, (0.2, 3.0)), (3, 5, 1e-3, (1e-3, 1e-2)), (2, 3, 0.1, (0.5, 2.0)))  # (D, M, eps, var)


def fuse_inputs(seed: int = 35, cases: tuple = FUSE_CASES) -> list[tuple[np.ndarray, ...]]:
    """Return (W, b, gamma, beta, running_mean, running_var, eps) per case; W is never square, b never zero."""
    rng = np.random.default_rng(int(seed))
    return [(rng.normal(size=(d, m)), rng.normal(size=m), rng.uniform(0.5, 2.0, size=m), rng.normal(size=m),
             rng.normal(size=m), rng.uniform(lo, hi, size=m), eps) for d, m, eps, (lo, hi) in cases]


def probe_fuse_dense_batchnorm(fuse_dense_batchnorm: Any, seed: int = 35, cases: tuple = FUSE_CASES) -> dict:
    """Fold each case's batch norm into its dense layer with the student's function."""
    return {"results": [observe(fuse_dense_batchnorm, *(a.copy() for a in args[:-1]), args[-1])
                        for args in fuse_inputs(seed, cases)]}


def _dense_bn_reference(W: np.ndarray, b: np.ndarray, g: np.ndarray, beta: np.ndarray, rm: np.ndarray,
                        rv: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Read (W', b') off keras Dense + BatchNormalization(training=False): b' = f(0), row i of W' = f(e_i) - b'."""
    import keras

    d, m = W.shape
    model = keras.Sequential([keras.Input((d,), dtype="float64"), keras.layers.Dense(m, dtype="float64"),
                              keras.layers.BatchNormalization(epsilon=eps, dtype="float64")])
    model.layers[0].set_weights([W, b])
    model.layers[1].set_weights([g, beta, rm, rv])
    probe = np.vstack([np.zeros((1, d)), np.eye(d)])
    out = np.asarray(model(probe, training=False))
    return out[1:] - out[0], out[0]


def judge_fuse_dense_batchnorm(data: dict[str, Any], seed: int = 35, cases: tuple = FUSE_CASES) -> str:
    """Compare W_fused and b_fused with what keras Dense + BatchNormalization compute at test time."""
    worst = 0.0
    for (W, b, g, beta, rm, rv, eps), result in zip(fuse_inputs(seed, cases), data["results"]):
        call = f"fuse_dense_batchnorm(W of shape {W.shape}, eps={eps:g})"
        W_f, b_f = _expect_tuple(call, result, 2, "(W_fused, b_fused)")
        ref_W, ref_b = _dense_bn_reference(W, b, g, beta, rm, rv, eps)
        scale = g / np.sqrt(rv + eps)
        w_hint = ("eps is missing" if _close(W_f, W * g / np.sqrt(rv)) else
                  "it divides by the variance, not its square root" if _close(W_f, W * g / (rv + eps)) else
                  "eps is added outside the square root" if _close(W_f, W * g / (np.sqrt(rv) + eps)) else
                  "scale each output column j of W by gamma_j / sqrt(var_j + eps)")
        worst = max(worst, expect_array(f"{call}: W_fused", W_f, ref_W, tol=1e-9, hint=w_hint))
        b_hint = ("the dense layer's bias b is forgotten: it passes through batch norm too"
                  if _close(b_f, beta - rm * scale) else
                  "beta is missing" if _close(b_f, (b - rm) * scale) else
                  "b - running_mean must be scaled too" if _close(b_f, b - rm + beta) else "")
        worst = max(worst, expect_array(f"{call}: b_fused", b_f, ref_b, tol=1e-9, hint=b_hint))
    return (f"fuse_dense_batchnorm reproduces keras Dense + BatchNormalization(training=False) on {len(cases)} "
            f"layers (largest relative error {worst:.1e})")


check_fuse_dense_batchnorm = check("init_batchnorm.fuse_dense_batchnorm", probe_fuse_dense_batchnorm,
                                   judge_fuse_dense_batchnorm)


# ---------------------------------------------------------------------------
# C1: build_mlp
# ---------------------------------------------------------------------------

# (depth, width, keyword arguments): each option alone and all together, with depths and widths that differ.
MLP_CONFIGS = (
    (3, 16, {}),
    (3, 16, {"batch_norm": True, "dropout": 0.25, "l2": 1e-3, "bn_momentum": 0.9}),
    (2, 8, {"batch_norm": True}),
    (1, 12, {"dropout": 0.4}),
    (2, 8, {"l2": 0.01}),
)
BN_ABBREVIATION = "BatchNormalization"


def _flat_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a description's layers, nested models' layers in place of the nested model."""
    layers = []
    for layer in description.get("layers", []):
        layers += _flat_layers(layer["model"]) if "model" in layer else [layer]
    return layers


def _tokens(description: dict[str, Any]) -> list[str]:
    """Write a model as the sequence of what acts: Flatten, Dense, BatchNormalization, relu, Dropout..."""
    tokens = []
    for layer in _flat_layers(description):
        kind = layer["class"]
        if kind == "InputLayer":
            continue
        if kind in ("Flatten", "Reshape"):
            tokens.append("Flatten")
        elif kind in ("Activation", "ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU"):
            tokens.append(layer["activation"] or "linear")
        elif kind == "Dropout":
            if layer["config"].get("rate", 0):
                tokens.append("Dropout")
        else:
            tokens.append(kind)
            if layer["activation"] not in (None, "linear"):
                tokens.append(layer["activation"])
    # ReLU applied twice in a row is ReLU once (a Dense with activation="relu" followed by a ReLU layer).
    return [t for i, t in enumerate(tokens) if not (t == "relu" and i > 0 and tokens[i - 1] == "relu")]


def _expected_tokens(depth: int, kwargs: dict[str, Any]) -> list[str]:
    """The layer sequence the exercise asks for."""
    block = ["Dense"] + ([BN_ABBREVIATION] if kwargs.get("batch_norm") else []) + ["relu"] + (
        ["Dropout"] if kwargs.get("dropout", 0) > 0 else [])
    return ["Flatten"] + block * depth + ["Dense"]


def probe_build_mlp(build_mlp: Any, configs: tuple = MLP_CONFIGS) -> dict[str, Any]:
    """Build each configuration and describe it: layers, initialisers, regularisers, L2 penalty, output shape."""
    import keras

    from utils.models import layers_of

    built = []
    for depth, width, kwargs in configs:
        model, raised = call_raw(build_mlp, depth, width, **kwargs)
        if raised is not None:
            built.append({"raised": raised})
            continue
        if not isinstance(model, keras.Model):
            built.append({"kind": type(model).__name__})
            continue
        output = observe(lambda: model(np.zeros((2, 28, 28), np.float32), training=False))
        dense = layers_of(model, keras.layers.Dense)
        regs = []
        for layer in dense:
            reg = layer.kernel_regularizer
            regs.append({"initializer": type(layer.kernel_initializer).__name__,
                         "kernel_regularizer": type(reg).__name__ if reg is not None else None,
                         "other_regularizer": any(getattr(layer, a, None) is not None
                                                  for a in ("bias_regularizer", "activity_regularizer"))})
        kernels = [np.asarray(layer.kernel, np.float64) for layer in dense if layer.built]
        built.append({
            "description": describe_model(model),
            "output": output,
            "dense": regs,
            "penalty": float(sum(float(np.asarray(v)) for v in model.losses)) if model.losses else 0.0,
            "kernel_squares": [float(np.sum(k ** 2)) for k in kernels],
        })
    return {"built": built}


def _short_tokens(tokens: list[str]) -> str:
    """Write a layer sequence compactly."""
    names = {"BatchNormalization": "BN", "Flatten": "Flatten"}
    return ", ".join(names.get(t, t) for t in tokens)


def _layers_sentence(call: str, tokens: list[str], expected: list[str], hint: str) -> str:
    """Say which layers a model has and which it should have, cutting both lists after the first difference when
    the whole lists would make a long sentence."""
    sentence = f"{call} has the layers [{_short_tokens(tokens)}], expected [{_short_tokens(expected)}]{hint}."
    if len(sentence) <= 300:
        return sentence
    first = next((i for i, (a, b) in enumerate(zip(tokens, expected)) if a != b), min(len(tokens), len(expected)))
    keep = first + 3

    def cut(seq: list[str]) -> str:
        return _short_tokens(seq[:keep]) + (", ..." if len(seq) > keep else "")

    return f"{call} has the layers [{cut(tokens)}], expected [{cut(expected)}]{hint}."


def judge_build_mlp(data: dict[str, Any], configs: tuple = MLP_CONFIGS) -> str:
    """Check the layer sequence, biases, momentum, rates, initialisers, L2 penalty and logits of each build."""
    for (depth, width, kwargs), entry in zip(configs, data["built"]):
        args = ", ".join([str(depth), str(width)] + [f"{k}={v}" for k, v in kwargs.items()])
        call = f"build_mlp({args})"
        if "raised" in entry:
            expect_raised_nothing(entry["raised"])
        if entry.get("kind") == "NoneType":
            fail(f"{call} returned None: did the function forget to `return` the model?")
        if "kind" in entry:
            fail(f"{call} returned a {entry['kind']}; return a keras.Model (for example keras.Sequential([...])).")
        expect_raised_nothing(entry["output"])
        out = as_array(f"{call} applied to 2 images of 28x28", entry["output"])
        expect_true(out.shape == (2, 10), f"{call} maps 2 images of 28x28 to shape {out.shape}, expected (2, 10): "
                                          "Input((28, 28)), Flatten, ..., Dense(10).")
        description = entry["description"]
        tokens, expected = _tokens(description), _expected_tokens(depth, kwargs)
        if tokens != expected:
            hint = ""
            dense_relu = any(layer["class"] == "Dense" and layer["activation"] not in (None, "linear")
                             for layer in _flat_layers(description)[:-1])
            if kwargs.get("batch_norm") and dense_relu:
                hint = (" (the hidden Dense layers apply ReLU themselves: leave them linear, so that batch norm sits "
                        "between each Dense and its ReLU)")
            elif kwargs.get("batch_norm") and "relu" in tokens and BN_ABBREVIATION in tokens and (
                    tokens.index("relu") < tokens.index(BN_ABBREVIATION)):
                hint = " (batch norm goes between each hidden Dense and its ReLU)"
            elif tokens[-1] != "Dense":
                hint = " (the last Dense outputs raw logits: no activation after it)"
            elif tokens.count("Dense") != depth + 1:
                hint = f" ({tokens.count('Dense')} Dense layers instead of depth + 1 = {depth + 1})"
            fail(_layers_sentence(call, tokens, expected, hint))
        layers = [layer for layer in _flat_layers(description) if layer["class"] != "InputLayer"]
        dense = [layer for layer in layers if layer["class"] == "Dense"]
        units = [layer["config"].get("units") for layer in dense]
        expect_true(units == [width] * depth + [10], f"{call} has Dense layers of {units} units, expected "
                                                     f"{[width] * depth + [10]}.")
        hidden_bias = [bool(layer["config"].get("use_bias", True)) for layer in dense[:-1]]
        if kwargs.get("batch_norm"):
            expect_true(not any(hidden_bias), f"{call}: a Dense layer followed by batch norm should have "
                                              "use_bias=False (batch norm's beta replaces its bias).")
            norms = [layer for layer in layers if layer["class"] == BN_ABBREVIATION]
            expect_true(all(layer["config"].get("center", True) for layer in norms),
                        f"{call}: the BatchNormalization layers have center=False, so with the Dense bias dropped "
                        "nothing shifts the activations: keep batch norm's beta (center=True, the default), which "
                        "replaces the bias.")
            # scale=False is allowed: before a ReLU and a Dense layer, gamma is absorbed by the next weights.
            momenta = [layer["config"].get("momentum") for layer in norms]
            want = kwargs.get("bn_momentum", 0.99)
            expect_true(all(m is not None and abs(m - want) < 1e-9 for m in momenta),
                        f"{call}: the BatchNormalization layers have momentum {momenta[0]}, expected {want}: pass "
                        "bn_momentum to every one.")
        else:
            expect_true(all(hidden_bias), f"{call}: without batch norm every Dense layer keeps its bias.")
        expect_true(bool(dense[-1]["config"].get("use_bias", True)), f"{call}: the output Dense(10) keeps its bias.")
        if kwargs.get("dropout", 0) > 0:
            rates = [layer["config"].get("rate") for layer in layers if layer["class"] == "Dropout"]
            want = kwargs["dropout"]
            if any(abs(r - want) > 1e-9 for r in rates):
                hint = (" (Keras's rate is the fraction dropped, not kept)"
                        if any(abs(r - (1 - want)) < 1e-9 for r in rates) else "")
                fail(f"{call} uses Dropout rates {rates}, expected {want} in every Dropout layer{hint}.")
        inits = {d["initializer"] for d in entry["dense"]}
        expect_true(inits == {"GlorotUniform"}, f"{call} initialises its Dense kernels with {sorted(inits)}; keep "
                                                "Keras's default, glorot_uniform (Xavier), as the exercise asks.")
        expect_true(not any(d["other_regularizer"] for d in entry["dense"]),
                    f"{call} regularises biases or activations; weight decay acts on the kernels only.")
        squares, l2 = entry["kernel_squares"], kwargs.get("l2", 0.0)
        penalty = entry["penalty"]
        if l2 == 0:
            expect_true(penalty == 0.0, f"{call} adds a penalty of {penalty:.3g} to the loss; with l2=0 there is "
                                        "no regularizer.")
            continue
        want = l2 * sum(squares)
        hint = ""
        if np.isclose(penalty, l2 * sum(squares[:-1]), rtol=1e-4):
            hint = "; the output Dense needs kernel_regularizer too"
        elif any(d["kernel_regularizer"] not in ("L2", None) for d in entry["dense"]):
            hint = f"; use keras.regularizers.L2(l2), not {entry['dense'][0]['kernel_regularizer']}"
        elif penalty > 0 and not np.isclose(penalty, want, rtol=1e-4):
            hint = "; pass the factor: keras.regularizers.L2(l2) (the string 'l2' means 0.01)"
        expect_true(bool(np.isclose(penalty, want, rtol=1e-4)),
                    f"{call} adds an L2 penalty of {penalty:.4g} to the loss, expected l2 * (sum of every Dense "
                    f"kernel's squares) = {want:.4g}{hint}.")
    return (f"build_mlp builds the right layers for {len(configs)} settings: batch norm between Dense (no bias) and "
            "ReLU, dropout rates, L2 on every kernel, Glorot uniform, logits out")


check_build_mlp = check("init_batchnorm.build_mlp", probe_build_mlp, judge_build_mlp)


# ---------------------------------------------------------------------------
# C2: momentum_step and adam_step
# ---------------------------------------------------------------------------

MOMENTUM_CASES = ((0.01, 0.9, 6), (0.05, 0.6, 4))  # (lr, momentum, steps)
ADAM_CASES = ((0.01, 0.9, 0.999, 6), (0.02, 0.8, 0.99, 4))  # (lr, beta1, beta2, steps), epsilon 1e-12


def optimizer_inputs(seed: int, steps: int, size: int = 4) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return a starting point and gradients of growing size and changing sign."""
    rng = np.random.default_rng(int(seed))
    w0 = rng.normal(scale=2.0, size=size)
    return w0, [rng.normal(size=size) * (1 + k) for k in range(steps)]


def keras_trajectory(optimizer: Any, w0: np.ndarray, grads: list[np.ndarray]) -> np.ndarray:
    """Apply a Keras optimizer to a float64 variable for a sequence of gradients; return the weights after each."""
    import keras
    import tensorflow as tf

    variable = keras.Variable(w0, dtype="float64")
    path = []
    for g in grads:
        optimizer.apply_gradients([(tf.constant(g), variable)])
        path.append(np.array(variable.numpy()))
    return np.array(path)


def _run_steps(step: Callable[..., Any], w0: np.ndarray, grads: list[np.ndarray], state: int,
               extra: Callable[[int], tuple]) -> dict[str, Any]:
    """Call an optimiser step repeatedly, carrying the student's own state; note in-place edits of inputs."""
    w, states = w0.copy(), [np.zeros_like(w0) for _ in range(state)]
    results, changed = [], False
    for k, g in enumerate(grads, start=1):
        args = [w.copy(), g.copy()] + [s.copy() for s in states]
        result = observe(step, *args, *extra(k))
        changed = changed or any(_changed(a, c) for a, c in zip(args, [w, g] + states))
        results.append(result)
        if not (isinstance(result, (tuple, list)) and len(result) == state + 1
                and all(isinstance(r, np.ndarray) and r.shape == w0.shape for r in result)):
            break
        w, states = np.asarray(result[0], np.float64), [np.asarray(r, np.float64) for r in result[1:]]
    return {"results": results, "changed": changed}


def _steps_of(name: str, results: list[Any], w0: np.ndarray, parts: str, size: int) -> np.ndarray:
    """Return the weight changes of each step, or fail with one sentence about the returned values."""
    weights, single = [], False
    for k, result in enumerate(results, start=1):
        values = _expect_tuple(f"{name} at step {k}", result, size, parts)
        got = as_array(f"{name} at step {k}: the new w", values[0], w0.shape)
        single = single or got.dtype in (np.float32, np.float16)
        weights.append(got.astype(np.float64))
    path = np.array(weights)
    steps = np.diff(np.vstack([w0, path]), axis=0)
    # A step computed in float32 is held to float32 precision (and a miss that float32 explains says so).
    return steps.astype(np.float32) if single else steps


def probe_momentum_step(momentum_step: Any, seed: int = 36, cases: tuple = MOMENTUM_CASES) -> dict[str, Any]:
    """Run several momentum steps per case, feeding back the student's weights and velocity."""
    runs = []
    for i, (lr, m, steps) in enumerate(cases):
        w0, grads = optimizer_inputs(seed + i, steps)
        runs.append(_run_steps(momentum_step, w0, grads, 1, lambda k, lr=lr, m=m: (lr, m)))
    return {"runs": runs}


def judge_momentum_step(data: dict[str, Any], seed: int = 36, cases: tuple = MOMENTUM_CASES) -> str:
    """Compare every step with keras.optimizers.SGD(momentum=...) on a float64 variable."""
    import keras

    for i, ((lr, m, steps), run) in enumerate(zip(cases, data["runs"])):
        w0, grads = optimizer_inputs(seed + i, steps)
        name = f"momentum_step(lr={lr}, momentum={m})"
        got = _steps_of(name, run["results"], w0, "(new w, new velocity)", 2)
        if len(got) < steps:
            fail(f"{name} stopped after {len(got)} steps.")
        ref = np.diff(np.vstack([w0, keras_trajectory(keras.optimizers.SGD(lr, momentum=m), w0, grads)]), axis=0)
        nesterov = np.diff(np.vstack([w0, keras_trajectory(keras.optimizers.SGD(lr, momentum=m, nesterov=True), w0,
                                                           grads)]), axis=0)
        hint = ("that is Nesterov momentum; the exercise asks for classical momentum, v = mu v - lr dw, w = w + v"
                if _close(got, nesterov, 1e-4) else
                "that is plain SGD: the velocity is not carried from step to step"
                if _close(got, -lr * np.array(grads), 1e-4) else "")
        # Keras keeps lr and momentum in float32, so where the velocity nearly cancels its float64 steps carry an
        # absolute error of about 1e-7 of the largest step: entries below 1e-6 of it are not judged relatively.
        expect_array(f"{name}: the weight change of each of {steps} steps (against keras SGD)", got, ref, tol=1e-6,
                     atol=1e-6 * float(np.max(np.abs(ref))), hint=hint)
        expect_true(not run["changed"], f"{name} changed its input arrays in place; return new arrays.")
    return (f"momentum_step follows keras.optimizers.SGD(momentum=...) step by step in {len(cases)} runs "
            f"(momentum {', '.join(str(c[1]) for c in cases)})")


check_momentum_step = check("init_batchnorm.momentum_step", probe_momentum_step, judge_momentum_step)

ADAM_EPS_CASE = (0.01, 0.9, 0.999, 0.05)  # one first step where epsilon matters: lr, beta1, beta2, eps


def probe_adam_step(adam_step: Any, seed: int = 37, cases: tuple = ADAM_CASES) -> dict[str, Any]:
    """Run several Adam steps per case (t = 1, 2, ...), feeding back the student's w, m and v; then a step with a
    large epsilon."""
    runs = []
    for i, (lr, b1, b2, steps) in enumerate(cases):
        w0, grads = optimizer_inputs(seed + i, steps)
        runs.append(_run_steps(adam_step, w0, grads, 2, lambda k, lr=lr, b1=b1, b2=b2: (k, lr, b1, b2, 1e-12)))
    w0, grads = optimizer_inputs(seed + len(cases), 1, size=6)
    lr, b1, b2, eps = ADAM_EPS_CASE
    eps_run = _run_steps(adam_step, w0, [grads[0] * np.array([0.01, 0.05, 0.2, 1.0, 3.0, 0.1])], 2,
                         lambda k: (k, lr, b1, b2, eps))
    return {"runs": runs, "eps": eps_run}


def judge_adam_step(data: dict[str, Any], seed: int = 37, cases: tuple = ADAM_CASES) -> str:
    """Compare every step with keras.optimizers.Adam on a float64 variable; check where epsilon goes."""
    import keras

    for i, ((lr, b1, b2, steps), run) in enumerate(zip(cases, data["runs"])):
        w0, grads = optimizer_inputs(seed + i, steps)
        name = f"adam_step(lr={lr}, beta1={b1}, beta2={b2})"
        got = _steps_of(name, run["results"], w0, "(new w, new m, new v)", 3)
        if len(got) < steps:
            fail(f"{name} stopped after {len(got)} steps.")
        ref = np.diff(np.vstack([w0, keras_trajectory(keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=1e-12),
                                                      w0, grads)]), axis=0)
        hint = ""
        first = np.abs(got[0])
        if _close(first, np.full_like(first, lr * (1 - b1) / np.sqrt(1 - b2)), 1e-4):
            hint = ("the first step should move every weight by lr: divide m by (1 - beta1**t) and v by "
                    "(1 - beta2**t), the bias corrections")
        elif _close(first, np.full_like(first, lr * np.sqrt(1 + b2) / (1 + b1)), 1e-4):
            hint = "the bias corrections use t + 1; t is 1 at the first step"
        # Keras raises beta1 and beta2 to the power t in float32: its steps are float32-accurate.
        expect_array(f"{name}: the weight change of each of {steps} steps (against keras Adam)", got, ref, tol=1e-4,
                     hint=hint)
        expect_true(not run["changed"], f"{name} changed its input arrays in place; return new arrays.")
    lr, b1, b2, eps = ADAM_EPS_CASE
    w0, grads = optimizer_inputs(seed + len(cases), 1, size=6)
    g = grads[0] * np.array([0.01, 0.05, 0.2, 1.0, 3.0, 0.1])
    name = f"adam_step(t=1, lr={lr}, eps={eps})"
    got = _steps_of(name, data["eps"]["results"], w0, "(new w, new m, new v)", 3)
    paper = -lr * g / (np.abs(g) + eps)  # Kingma & Ba (2015), Algorithm 1, at t = 1: m_hat = g, v_hat = g**2
    keras_form = np.diff(np.vstack([w0, keras_trajectory(keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps),
                                                         w0, [g])]), axis=0)[0]
    if not (_close(got[0], paper, 1e-5) or _close(got[0], keras_form, 1e-4)):
        hint = ("eps goes outside the square root: sqrt(v_hat) + eps" if _close(got[0], -lr * g / np.sqrt(g ** 2 + eps))
                else "")
        expect_array(f"{name}: the first weight change, where eps matters", got[0], paper, tol=1e-5, hint=hint)
    return (f"adam_step follows keras.optimizers.Adam step by step in {len(cases)} runs, with the bias corrections "
            "and epsilon in the right place")


check_adam_step = check("init_batchnorm.adam_step", probe_adam_step, judge_adam_step)


# ---------------------------------------------------------------------------
# C3: learning-rate schedules
# ---------------------------------------------------------------------------

TIMES = (0.0, 0.5, 1.0, 12.5, 29.0, 30.0, 30.5, 45.0, 60.0, 61.0, 89.5, 90.0, 95.0, 99.5, 100.0, 120.0)
STEP_CASES = ((TIMES, 0.1, None, None), ((0.0, 1.0, 2.0, 2.5, 5.0, 6.0), 1.0, (2, 5), 0.5),
              ((0.0, 9.0, 10.0, 10.5, 30.0), 0.3, (10,), 0.2))
DECAY_CASES = ((TIMES, 0.1, 100), ((0.0, 1.0, 2.0, 3.0, 3.5, 4.0, 5.0, 7.5), 2.0, 4),
               ((0.0, 0.25, 2.5, 6.0, 9.75, 10.0, 11.0), 0.5, 10))
INV_SQRT_CASES = (((0.0, 0.5, 1.0, 4.0, 25.0, 100.0), 0.1), ((0.0, 0.9, 2.0, 9.0, 16.0), 3.0))


def probe_step_lr(step_lr: Any, cases: tuple = STEP_CASES) -> dict[str, Any]:
    """Evaluate the student's step schedule at times that include every boundary; defaults where None."""
    values = []
    for times, lr0, boundaries, factor in cases:
        extra = () if boundaries is None else (boundaries, factor)
        values.append([observe(step_lr, t, lr0, *extra) for t in times])
    return {"values": values}


def _schedule_values(name: str, values: list[Any]) -> np.ndarray:
    """Return a schedule's values as a float array, or fail with one sentence."""
    return np.array([_scalar(name, v) for v in values], dtype=np.float64)


def _where(times: tuple, got: np.ndarray, ref: np.ndarray, lr0: float, rtol: float | None = None) -> str:
    """Name the first time at which a schedule is off, with enough digits to show the difference."""
    if rtol is None:
        bad = np.abs(got - ref) > 1e-6 * lr0 + 1e-5 * np.abs(ref)
    else:
        bad = np.abs(got - ref) > rtol * np.abs(ref)
    k = int(np.argmax(bad))
    digits = 6
    while digits < 17 and f"{got[k]:.{digits}g}" == f"{ref[k]:.{digits}g}" and got[k] != ref[k]:
        digits += 1
    return f"at t = {times[k]:g} it gives {got[k]:.{digits}g}, expected {ref[k]:.{digits}g}"


def judge_step_lr(data: dict[str, Any], cases: tuple = STEP_CASES) -> str:
    """Compare with keras PiecewiseConstantDecay (which changes value once t passes a boundary)."""
    import keras

    for (times, lr0, boundaries, factor), values in zip(cases, data["values"]):
        call = (f"step_lr(t, {lr0})" if boundaries is None else f"step_lr(t, {lr0}, {boundaries}, {factor})")
        bounds, fac = (30, 60, 90) if boundaries is None else boundaries, 0.1 if factor is None else factor
        got = _schedule_values(call, values)
        schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
            [float(x) for x in bounds], [lr0 * fac ** k for k in range(len(bounds) + 1)])
        ref = np.array([float(schedule(float(t))) for t in times])
        if not np.allclose(got, ref, rtol=1e-5, atol=1e-7 * lr0):
            at = _where(times, got, ref, lr0)
            hint = ""
            on = [i for i, t in enumerate(times) if t in bounds]
            off = [i for i in range(len(times)) if i not in on]
            if on and np.allclose(got[off], ref[off], rtol=1e-5) and not np.allclose(got[on], ref[on], rtol=1e-5):
                hint = " (only at the boundaries themselves: the rate drops once t has passed a boundary, t > b)"
            fail(f"{call} {at}, as keras PiecewiseConstantDecay does{hint}.")
    return f"step_lr matches keras PiecewiseConstantDecay at {sum(len(c[0]) for c in cases)} times, boundaries included"


check_step_lr = check("init_batchnorm.step_lr", probe_step_lr, judge_step_lr)


def probe_decay(schedule: Any, cases: tuple = DECAY_CASES) -> dict[str, Any]:
    """Evaluate a decay schedule (t, lr0, T) at times before, at and after T."""
    return {"values": [[observe(schedule, t, lr0, T) for t in times] for times, lr0, T in cases]}


def _judge_decay(data: dict[str, Any], cases: tuple, func: str, keras_name: str,
                 make: Callable[[float, int], Any]) -> str:
    """Compare a decay schedule with its Keras counterpart."""
    for (times, lr0, T), values in zip(cases, data["values"]):
        call = f"{func}(t, {lr0}, T={T})"
        got = _schedule_values(call, values)
        schedule = make(lr0, T)
        ref = np.array([float(schedule(float(t))) for t in times])
        if not np.allclose(got, ref, rtol=1e-5, atol=1e-6 * lr0):  # Keras computes in float32
            hint = ""
            after = [i for i, t in enumerate(times) if t > T]
            before = [i for i, t in enumerate(times) if t <= T]
            if after and np.allclose(got[before], ref[before], rtol=1e-5, atol=1e-6 * lr0):
                hint = " (after T the rate stays at 0: use min(t, T))"
            fail(f"{call} {_where(times, got, ref, lr0)}, as keras {keras_name} does{hint}.")
    return f"{func} matches keras {keras_name} at {sum(len(c[0]) for c in cases)} times, before, at and after T"


def judge_cosine_lr(data: dict[str, Any], cases: tuple = DECAY_CASES) -> str:
    """Compare with keras CosineDecay."""
    import keras

    return _judge_decay(data, cases, "cosine_lr", "CosineDecay",
                        lambda lr0, T: keras.optimizers.schedules.CosineDecay(lr0, decay_steps=T))


def judge_linear_lr(data: dict[str, Any], cases: tuple = DECAY_CASES) -> str:
    """Compare with keras PolynomialDecay(power=1, end_learning_rate=0)."""
    import keras

    return _judge_decay(data, cases, "linear_lr", "PolynomialDecay(power=1)",
                        lambda lr0, T: keras.optimizers.schedules.PolynomialDecay(lr0, T, end_learning_rate=0.0,
                                                                                  power=1.0))


check_cosine_lr = check("init_batchnorm.cosine_lr", probe_decay, judge_cosine_lr)
check_linear_lr = check("init_batchnorm.linear_lr", probe_decay, judge_linear_lr)


def probe_inv_sqrt_lr(inv_sqrt_lr: Any, cases: tuple = INV_SQRT_CASES) -> dict[str, Any]:
    """Evaluate the inverse square-root schedule, t = 0 and t < 1 included."""
    return {"values": [[observe(inv_sqrt_lr, t, lr0) for t in times] for times, lr0 in cases]}


def judge_inv_sqrt_lr(data: dict[str, Any], cases: tuple = INV_SQRT_CASES) -> str:
    """Compare with the stated rule: lr0 for t <= 1, lr0 / sqrt(t) after."""
    for (times, lr0), values in zip(cases, data["values"]):
        call = f"inv_sqrt_lr(t, {lr0})"
        if any(is_raised(v) and v["__raised__"] == "ZeroDivisionError" for v in values):
            fail(f"{call} raised ZeroDivisionError at t = 0; hold lr0 until t = 1, for example with max(t, 1).")
        got = _schedule_values(call, values)
        t = np.array(times)
        ref = lr0 / np.sqrt(np.where(t < 1.0, 1.0, t))
        # float32 results (np.float32, keras.ops, TensorFlow) keep about 7 significant digits.
        single = any(isinstance(v, np.ndarray) and v.dtype in (np.float32, np.float16) for v in values)
        rtol = 1e-6 if single else 1e-9
        if not np.allclose(got, ref, rtol=rtol, atol=0):
            hint = " (hold lr0 for t < 1)" if np.allclose(got[t >= 1], ref[t >= 1], rtol=rtol) else ""
            fail(f"{call} {_where(times, got, ref, lr0, rtol)}{hint}.")
    return f"inv_sqrt_lr gives lr0 / sqrt(t), holding lr0 for t < 1, at {sum(len(c[0]) for c in cases)} times"


check_inv_sqrt_lr = check("init_batchnorm.inv_sqrt_lr", probe_inv_sqrt_lr, judge_inv_sqrt_lr)


# ---------------------------------------------------------------------------
# C4: dropout_forward
# ---------------------------------------------------------------------------

DROPOUT_CASES = (((200, 100), 0.3), ((150, 80), 0.6))  # (shape, rate): rates on both sides of one half


def dropout_inputs(seed: int = 38, cases: tuple = DROPOUT_CASES) -> list[tuple[np.ndarray, float]]:
    """Return (x, rate) per case; x has no zeros, so a zero in the output means dropped."""
    rng = np.random.default_rng(int(seed))
    return [(rng.uniform(0.5, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape), rate) for shape, rate in cases]


def probe_dropout_forward(dropout_forward: Any, seed: int = 38, cases: tuple = DROPOUT_CASES) -> dict[str, Any]:
    """Run dropout in training mode (twice with one seed, once with another), in test mode, and with rate 0."""
    runs = []
    for k, (x, rate) in enumerate(dropout_inputs(seed, cases)):
        xc = x.copy()
        first = observe(dropout_forward, xc, rate, True, np.random.default_rng(seed + k))
        changed = _changed(x, xc)
        again = observe(dropout_forward, x.copy(), rate, True, np.random.default_rng(seed + k))
        other = observe(dropout_forward, x.copy(), rate, True, np.random.default_rng(seed + k + 100))
        runs.append({"train": first, "again": again, "other": other, "changed": changed,
                     "test": observe(dropout_forward, x.copy(), rate, False, np.random.default_rng(0)),
                     "rate0": observe(dropout_forward, x[:5].copy(), 0.0, True, np.random.default_rng(0))})
    return {"runs": runs}


def judge_dropout_forward(data: dict[str, Any], seed: int = 38, cases: tuple = DROPOUT_CASES) -> str:
    """Check the dropped fraction, the survivors' scale (against keras Dropout's), independence, the rng, test mode."""
    import keras

    for (x, rate), run in zip(dropout_inputs(seed, cases), data["runs"]):
        call = f"dropout_forward(x of shape {x.shape}, rate={rate}, training=True)"
        out = as_array(call, run["train"], x.shape)
        dropped, keep = out == 0, out != 0
        rows_mixed = float(np.mean(dropped.any(axis=1) & keep.any(axis=1)))
        cols_mixed = float(np.mean(dropped.any(axis=0) & keep.any(axis=0)))
        expect_true(rows_mixed > 0.9 and cols_mixed > 0.9,
                    f"{call} drops whole {'rows' if rows_mixed <= 0.9 else 'columns'}; draw one independent "
                    "keep/drop decision per entry, with a mask of x.shape.")
        fraction = float(np.mean(dropped))
        spread = 5 * np.sqrt(rate * (1 - rate) / x.size)
        if abs(fraction - rate) > spread:
            hint = (" (rate is the probability of dropping an entry, not of keeping it)"
                    if abs(fraction - (1 - rate)) <= spread else "")
            fail(f"{call} dropped {fraction:.3f} of the entries, expected about {rate}{hint}.")
        scale = float(np.unique(np.asarray(keras.layers.Dropout(rate, seed=0)(np.ones((50, 50)), training=True)))[-1])
        hint = ("the survivors are not rescaled: divide them by (1 - rate)" if _close(out[keep], x[keep]) else
                "the survivors are multiplied by (1 - rate); divide them by it"
                if _close(out[keep], x[keep] * (1 - rate)) else
                "")
        expect_array(f"{call}: the surviving entries (keras Dropout scales them by {scale:.4g} = 1/(1 - rate))",
                     out[keep], x[keep] / (1 - rate), tol=1e-9, hint=hint)
        again, other = as_array(call, run["again"], x.shape), as_array(call, run["other"], x.shape)
        expect_true(np.array_equal(out, again) and not np.array_equal(out, other),
                    f"{call} does not draw its mask from the rng argument (two calls with equal generators should "
                    "give the same mask, different generators different masks): use rng.random(x.shape).")
        expect_true(not run["changed"], f"{call} changed x in place; return a new array (x * mask / (1 - rate)).")
        test_call = f"dropout_forward(x, rate={rate}, training=False)"
        hint = ("test mode returns x unchanged with inverted dropout: the scaling happened in training"
                if _close(run["test"], x * (1 - rate)) else
                "it still drops entries when training=False" if isinstance(run["test"], np.ndarray)
                and run["test"].shape == x.shape and np.mean(run["test"] == 0) > 0.05 else "")
        expect_array(test_call, run["test"], x, tol=1e-12, hint=hint)
        expect_array("dropout_forward(x, rate=0.0, training=True)", run["rate0"], x[:5], tol=1e-12)
    return (f"dropout_forward drops a fraction rate of the entries independently, scales the rest by 1/(1 - rate) "
            f"like keras Dropout, uses the rng, and is the identity when training=False ({len(cases)} rates)")


check_dropout_forward = check("init_batchnorm.dropout_forward", probe_dropout_forward, judge_dropout_forward)
