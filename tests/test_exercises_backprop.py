"""Lab 1's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from mutation import correct, verify, wrong

from utils.exercises import backprop as ex

LAB = "01 backprop"


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------
# A1: forward and total_error
# ---------------------------------------------------------------------------


def _units(nh1, nh2, h1, h2, no1, no2):
    return dict(net_h1=nh1, h1=h1, net_h2=nh2, h2=h2, net_o1=no1, o1=sig(no1), net_o2=no2, o2=sig(no2))


def forward_matrix(x, params):
    """Correct, differently written: weight matrices and vectors."""
    p = params
    Wh = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
    Wo = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
    net_h = Wh @ x + p["b1"]
    h = sig(net_h)
    net_o = Wo @ h + p["b2"]
    o = sig(net_o)
    keys = ("net_h1", "net_h2", "h1", "h2", "net_o1", "net_o2", "o1", "o2")
    return dict(zip(keys, (*net_h, *h, *net_o, *o)))


def forward_tanh_sigmoid(x, params):
    """Correct: the sigmoid written with tanh, floats via math-like ops, extra keys returned too."""
    p = params
    s = lambda z: 0.5 * (1.0 + np.tanh(0.5 * z))  # noqa: E731
    a = p["w1"] * x[0] + p["w2"] * x[1] + p["b1"]
    b = p["w3"] * x[0] + p["w4"] * x[1] + p["b1"]
    c = p["w5"] * s(a) + p["w6"] * s(b) + p["b2"]
    d = p["w7"] * s(a) + p["w8"] * s(b) + p["b2"]
    return dict(net_h1=a, h1=s(a), net_h2=b, h2=s(b), net_o1=c, o1=s(c), net_o2=d, o2=s(d), extra=1.0)


def _forward(x, p, transposed=False, out_bias="b2", hidden_bias=True, out_sigmoid=True, use_net=False):
    b1 = p["b1"] if hidden_bias else 0.0
    if transposed:
        nh1, nh2 = p["w1"] * x[0] + p["w3"] * x[1] + b1, p["w2"] * x[0] + p["w4"] * x[1] + b1
    else:
        nh1, nh2 = p["w1"] * x[0] + p["w2"] * x[1] + b1, p["w3"] * x[0] + p["w4"] * x[1] + b1
    h1, h2 = sig(nh1), sig(nh2)
    i1, i2 = (nh1, nh2) if use_net else (h1, h2)
    no1 = p["w5"] * i1 + p["w6"] * i2 + p[out_bias]
    no2 = p["w7"] * i1 + p["w8"] * i2 + p[out_bias]
    out = _units(nh1, nh2, h1, h2, no1, no2)
    if not out_sigmoid:
        out["o1"], out["o2"] = no1, no2
    return out


def forward_transposed(x, params):
    """Wrong: w2 and w3 swapped (the weights read as a transposed matrix)."""
    return _forward(x, params, transposed=True)


def forward_b1_everywhere(x, params):
    """Wrong: the output units use b1 too."""
    return _forward(x, params, out_bias="b1")


def forward_no_hidden_bias(x, params):
    """Wrong: the hidden units' bias forgotten."""
    return _forward(x, params, hidden_bias=False)


def forward_linear_outputs(x, params):
    """Wrong: no sigmoid on the output units."""
    return _forward(x, params, out_sigmoid=False)


def forward_net_into_outputs(x, params):
    """Wrong: the output layer is fed the hidden net inputs instead of the hidden outputs."""
    return _forward(x, params, use_net=True)


def forward_tuple(x, params):
    """Wrong convention: returns (o1, o2)."""
    out = _forward(x, params)
    return out["o1"], out["o2"]


def forward_outputs_only(x, params):
    """Wrong: a dict with the outputs only."""
    out = _forward(x, params)
    return {"o1": out["o1"], "o2": out["o2"]}


def total_error_sum(outputs, t):
    """Correct: vectorised."""
    o = np.array([outputs["o1"], outputs["o2"]])
    return 0.5 * np.sum((np.asarray(t) - o) ** 2)


def total_error_mean(outputs, t):
    """Correct, differently written: the mean of two squared errors is half their sum."""
    return np.mean([(t[0] - outputs["o1"]) ** 2, (t[1] - outputs["o2"]) ** 2])


def total_error_no_half(outputs, t):
    """Wrong: the factor 1/2 forgotten."""
    return (t[0] - outputs["o1"]) ** 2 + (t[1] - outputs["o2"]) ** 2


def total_error_abs(outputs, t):
    """Wrong: absolute errors instead of squared."""
    return 0.5 * abs(t[0] - outputs["o1"]) + 0.5 * abs(t[1] - outputs["o2"])


def total_error_one_output(outputs, t):
    """Wrong: only the first output's error."""
    return 0.5 * (t[0] - outputs["o1"]) ** 2


def total_error_swapped(outputs, t):
    """Wrong: each output compared with the other target."""
    return 0.5 * (t[1] - outputs["o1"]) ** 2 + 0.5 * (t[0] - outputs["o2"]) ** 2


def total_error_per_output(outputs, t):
    """Wrong: returns the two terms, not their sum."""
    return 0.5 * (np.asarray(t) - np.array([outputs["o1"], outputs["o2"]])) ** 2


# ---------------------------------------------------------------------------
# A2: dE/dw5; A3: gradients
# ---------------------------------------------------------------------------


def dw5_with_net(x, t, params):
    """Correct: sigma'(net) written with the net input."""
    out = forward_matrix(x, params)
    s = sig(out["net_o1"])
    return -(t[0] - out["o1"]) * s * (1 - s) * out["h1"]


def dw5_from_gradients(x, t, params):
    """Correct: read off the full gradient."""
    return gradients_vector(x, t, params)["w5"]


def _dw5(x, t, params, sign=1.0, deriv=True, net_deriv=False, carried="h1", output="o1"):
    out = forward_matrix(x, params)
    target = t[0] if output == "o1" else t[1]
    o = out[output]
    d = o * (1 - o) if deriv else 1.0
    if net_deriv:
        d = out["net_o1"] * (1 - out["net_o1"])
    return sign * (o - target) * d * out[carried]


def dw5_sign(x, t, params):
    """Wrong: (T - o) instead of (o - T)."""
    return _dw5(x, t, params, sign=-1.0)


def dw5_no_sigmoid_derivative(x, t, params):
    """Wrong: do1/dnet_o1 forgotten."""
    return _dw5(x, t, params, deriv=False)


def dw5_derivative_of_net(x, t, params):
    """Wrong: sigma' written as net (1 - net)."""
    return _dw5(x, t, params, net_deriv=True)


def dw5_wrong_input(x, t, params):
    """Wrong: h2 instead of h1."""
    return _dw5(x, t, params, carried="h2")


def dw5_wrong_output(x, t, params):
    """Wrong: the second output's error."""
    return _dw5(x, t, params, output="o2")


def gradients_vector(x, t, params):
    """Correct, differently written: deltas as vectors, weights as matrices."""
    p = params
    out = forward_matrix(x, params)
    h = np.array([out["h1"], out["h2"]])
    o = np.array([out["o1"], out["o2"]])
    Wo = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
    delta_o = (o - t) * o * (1 - o)
    delta_h = (Wo.T @ delta_o) * h * (1 - h)
    gWh, gWo = np.outer(delta_h, x), np.outer(delta_o, h)
    return dict(w1=gWh[0, 0], w2=gWh[0, 1], w3=gWh[1, 0], w4=gWh[1, 1], w5=gWo[0, 0], w6=gWo[0, 1],
                w7=gWo[1, 0], w8=gWo[1, 1], b1=delta_h.sum(), b2=delta_o.sum())


def gradients_numeric_style(x, t, params):
    """Correct: written unit by unit, in a loop over output units."""
    p = params
    out = forward_matrix(x, params)
    d_o = {k: (out[f"o{k}"] - t[k - 1]) * out[f"o{k}"] * (1 - out[f"o{k}"]) for k in (1, 2)}
    back = {1: d_o[1] * p["w5"] + d_o[2] * p["w7"], 2: d_o[1] * p["w6"] + d_o[2] * p["w8"]}
    d_h = {j: back[j] * out[f"h{j}"] * (1 - out[f"h{j}"]) for j in (1, 2)}
    g = {}
    for j, (a, b) in zip((1, 2), (("w1", "w2"), ("w3", "w4"))):
        g[a], g[b] = d_h[j] * x[0], d_h[j] * x[1]
    for k, (a, b) in zip((1, 2), (("w5", "w6"), ("w7", "w8"))):
        g[a], g[b] = d_o[k] * out["h1"], d_o[k] * out["h2"]
    g["b1"], g["b2"] = d_h[1] + d_h[2], d_o[1] + d_o[2]
    return g


def _gradients(x, t, params, **slip):
    g = gradients_vector(x, t, params)
    p = params
    out = forward_matrix(x, params)
    o1, o2, h1, h2 = out["o1"], out["o2"], out["h1"], out["h2"]
    d_o1 = (o1 - t[0]) * o1 * (1 - o1)
    d_o2 = (o2 - t[1]) * o2 * (1 - o2)
    d_h1 = (d_o1 * p["w5"] + d_o2 * p["w7"]) * h1 * (1 - h1)
    d_h2 = (d_o1 * p["w6"] + d_o2 * p["w8"]) * h2 * (1 - h2)
    if slip.get("bias_one_unit"):
        g["b1"], g["b2"] = d_h1, d_o1
    if slip.get("one_path"):
        d_h1, d_h2 = d_o1 * p["w5"] * h1 * (1 - h1), d_o2 * p["w8"] * h2 * (1 - h2)
        g.update(w1=d_h1 * x[0], w2=d_h1 * x[1], w3=d_h2 * x[0], w4=d_h2 * x[1], b1=d_h1 + d_h2)
    if slip.get("swap_w6_w7"):
        g["w6"], g["w7"] = d_o2 * h1, d_o1 * h2
    if slip.get("transposed_back"):
        d_h1 = (d_o1 * p["w5"] + d_o2 * p["w6"]) * h1 * (1 - h1)
        d_h2 = (d_o1 * p["w7"] + d_o2 * p["w8"]) * h2 * (1 - h2)
        g.update(w1=d_h1 * x[0], w2=d_h1 * x[1], w3=d_h2 * x[0], w4=d_h2 * x[1], b1=d_h1 + d_h2)
    if slip.get("sign"):
        g = {k: -v for k, v in g.items()}
    if slip.get("no_hidden_derivative"):
        d_h1, d_h2 = d_o1 * p["w5"] + d_o2 * p["w7"], d_o1 * p["w6"] + d_o2 * p["w8"]
        g.update(w1=d_h1 * x[0], w2=d_h1 * x[1], w3=d_h2 * x[0], w4=d_h2 * x[1], b1=d_h1 + d_h2)
    return g


def gradients_bias_one_unit(x, t, params):
    """Wrong: a shared bias gets only the first unit's delta."""
    return _gradients(x, t, params, bias_one_unit=True)


def gradients_one_path(x, t, params):
    """Wrong: each hidden delta collects only one output's delta."""
    return _gradients(x, t, params, one_path=True)


def gradients_swapped(x, t, params):
    """Wrong: w6 and w7 mixed up (which unit a weight feeds)."""
    return _gradients(x, t, params, swap_w6_w7=True)


def gradients_transposed_back(x, t, params):
    """Wrong: the backward pass uses the output weights transposed the wrong way (w6 with w5)."""
    return _gradients(x, t, params, transposed_back=True)


def gradients_sign(x, t, params):
    """Wrong: (T - o) everywhere."""
    return _gradients(x, t, params, sign=True)


def gradients_no_hidden_derivative(x, t, params):
    """Wrong: the hidden units' sigmoid derivative forgotten."""
    return _gradients(x, t, params, no_hidden_derivative=True)


def gradients_list(x, t, params):
    """Wrong convention: a list of ten numbers."""
    return list(gradients_vector(x, t, params).values())


# ---------------------------------------------------------------------------
# A4: sgd_step
# ---------------------------------------------------------------------------


def sgd_step_loop(params, grads, lr):
    """Correct, differently written: a copy updated in a loop (floats are immutable, so params is unchanged)."""
    new = dict(params)
    for name in grads:
        new[name] -= lr * grads[name]
    return new


def sgd_step_plus(params, grads, lr):
    """Wrong: a step up the gradient."""
    return {k: v + lr * grads[k] for k, v in params.items()}


def sgd_step_in_place(params, grads, lr):
    """Wrong: params updated in place and returned."""
    for k in params:
        params[k] -= lr * grads[k]
    return params


def sgd_step_in_place_none(params, grads, lr):
    """Wrong: params updated in place, nothing returned."""
    for k in params:
        params[k] = params[k] - lr * grads[k]


def sgd_step_mutates_grads(params, grads, lr):
    """Correct (adversary13): scales `grads` in place; the docstring only asks that `params` be left unchanged."""
    for k in grads:
        grads[k] *= lr
    return {k: v - grads[k] for k, v in params.items()}


def sgd_step_fixed_lr(params, grads, lr):
    """Wrong: the lab's 0.5 hard-coded."""
    return {k: v - 0.5 * grads[k] for k, v in params.items()}


def sgd_step_returns_step(params, grads, lr):
    """Wrong: returns the step, not the new values."""
    return {k: lr * g for k, g in grads.items()}


def sgd_step_weights_only(params, grads, lr):
    """Wrong: the biases are left where they were."""
    return {k: v - lr * grads[k] if k.startswith("w") else v for k, v in params.items()}


# ---------------------------------------------------------------------------
# B1: affine layer
# ---------------------------------------------------------------------------


def affine_forward_ok(x, w, b):
    return x @ w + b, (x, w, b)


def affine_forward_dot(x, w, b):
    """Correct: np.dot after flattening each example (the cs231n way), cache as a dict."""
    out = np.dot(x.reshape(x.shape[0], -1), w) + b
    return out, {"x": x, "w": w}


def affine_forward_einsum32(x, w, b):
    """Correct: einsum, in float32."""
    return np.einsum("nd,dm->nm", x.astype(np.float32), w.astype(np.float32)) + b.astype(np.float32), (x, w)


def affine_forward_no_bias(x, w, b):
    """Wrong: bias forgotten."""
    return x @ w, (x, w)


def affine_forward_transposed(x, w, b):
    """Wrong: (w.T x.T) without transposing back."""
    return w.T @ x.T + b[:, None], (x, w)


def affine_forward_column_bias(x, w, b):
    """Wrong: the bias as a column (broadcasts wrongly or fails)."""
    return x @ w + b.reshape(-1, 1), (x, w)


def affine_forward_out_only(x, w, b):
    """Wrong convention: returns out without the cache."""
    return x @ w + b


def affine_forward_int_loops(x, w, b):
    """Wrong: loops into an integer array."""
    out = np.zeros((x.shape[0], w.shape[1]), dtype=int)
    for n in range(x.shape[0]):
        out[n] = x[n] @ w + b
    return out, (x, w)


def affine_backward_ok(dout, cache):
    x, w = cache[0], cache[1]
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def affine_backward_einsum32(dout, cache):
    """Correct: einsum, in float32, with np.sum over the batch."""
    x, w = (c.astype(np.float32) for c in cache[:2])
    d = dout.astype(np.float32)
    return np.einsum("nm,dm->nd", d, w), np.einsum("nd,nm->dm", x, d), np.sum(d, axis=0)


def affine_backward_db_not_summed(dout, cache):
    """Wrong: db = dout."""
    x, w = cache[0], cache[1]
    return dout @ w.T, x.T @ dout, dout


def affine_backward_db_axis1(dout, cache):
    """Wrong: db summed over the wrong axis."""
    x, w = cache[0], cache[1]
    return dout @ w.T, x.T @ dout, dout.sum(axis=1)


def affine_backward_db_mean(dout, cache):
    """Wrong: db averaged over the batch."""
    x, w = cache[0], cache[1]
    return dout @ w.T, x.T @ dout, dout.mean(axis=0)


def affine_backward_dw_transposed(dout, cache):
    """Wrong: dw = dout.T x."""
    x, w = cache[0], cache[1]
    return dout @ w.T, dout.T @ x, dout.sum(axis=0)


def affine_backward_dw_mean(dout, cache):
    """Wrong: dw divided by the batch size."""
    x, w = cache[0], cache[1]
    return dout @ w.T, x.T @ dout / len(x), dout.sum(axis=0)


def affine_backward_dx_no_transpose(dout, cache):
    """Wrong: dx = dout w (shapes do not even agree)."""
    x, w = cache[0], cache[1]
    return dout @ w, x.T @ dout, dout.sum(axis=0)


def affine_backward_dict(dout, cache):
    """Wrong convention: a dict of gradients."""
    dx, dw, db = affine_backward_ok(dout, cache)
    return {"dx": dx, "dw": dw, "db": db}


# ---------------------------------------------------------------------------
# B2: activations
# ---------------------------------------------------------------------------


def relu_forward_ok(x):
    return np.maximum(0, x), x


def relu_forward_where32(x):
    """Correct: np.where, in float32, caching the output."""
    out = np.where(x > 0, x, 0).astype(np.float32)
    return out, out


def relu_forward_mask_copy(x):
    """Correct: a copy with its negatives zeroed, the mask as cache."""
    out = x.copy()
    out[out < 0] = 0
    return out, x > 0


def relu_forward_abs(x):
    """Wrong: |x|."""
    return np.abs(x), x


def relu_forward_leaky(x):
    """Wrong: a leaky ReLU."""
    return np.where(x > 0, x, 0.01 * x), x


def relu_forward_clip(x):
    """Wrong: clipped at 1 as well."""
    return np.clip(x, 0, 1), x


def relu_forward_np_max(x):
    """Wrong: np.max instead of np.maximum (raises)."""
    return np.max(0, x), x


def relu_forward_out_only(x):
    """Wrong convention: out without cache."""
    return np.maximum(0, x)


def relu_backward_ok(dout, cache):
    return dout * (cache > 0)


def relu_backward_where(dout, cache):
    """Correct: np.where, modifying nothing."""
    return np.where(cache > 0, dout, 0.0)


def relu_backward_mask(dout, cache):
    """Correct with relu_forward_mask_copy: the cache is the mask itself."""
    return dout * cache


def relu_backward_in_place(dout, cache):
    """Correct (cs231n style): zero dout where the input was not positive, in place."""
    dx = dout
    dx[cache <= 0] = 0
    return dx


def relu_backward_wrong_side(dout, cache):
    """Wrong: the gradient passes where the input was negative."""
    return dout * (cache < 0)


def relu_backward_times_output(dout, cache):
    """Wrong: multiplies by the ReLU's output instead of its 0/1 mask."""
    return dout * np.maximum(cache, 0)


def relu_backward_no_mask(dout, cache):
    """Wrong: the gradient passes everywhere."""
    return dout


def relu_backward_mask_only(dout, cache):
    """Wrong: the mask without dout."""
    return (cache > 0).astype(float)


def relu_backward_dout_mask(dout, cache):
    """Wrong: the mask taken from dout."""
    return dout * (dout > 0)


def sigmoid_forward_ok(x):
    s = sig(x)
    return s, s


def sigmoid_forward_stable(x):
    """Correct: exp(-log(1 + exp(-x))) with logaddexp, caching x."""
    return np.exp(-np.logaddexp(0, -x)), x


def sigmoid_forward_tanh32(x):
    """Correct: via tanh, in float32."""
    s = (0.5 * (1 + np.tanh(0.5 * x))).astype(np.float32)
    return s, s


def sigmoid_forward_sign(x):
    """Wrong: exp(x) instead of exp(-x)."""
    s = 1 / (1 + np.exp(x))
    return s, s


def sigmoid_forward_tanh(x):
    """Wrong: tanh."""
    return np.tanh(x), np.tanh(x)


def sigmoid_forward_out_only(x):
    """Wrong convention: out only."""
    return sig(x)


def sigmoid_forward_minus(x):
    """Wrong: 1 / (1 - e^-x)."""
    s = 1 / (1 - np.exp(-x))
    return s, s


def sigmoid_forward_cache_x(x):
    return sig(x), x


def sigmoid_backward_ok(dout, cache):
    return dout * cache * (1 - cache)


def sigmoid_backward_from_x(dout, cache):
    """Correct with sigmoid_forward_cache_x: recompute s from the cached input."""
    s = sig(cache)
    return dout * (s - s * s)


def sigmoid_backward_s(dout, cache):
    """Wrong: s instead of s (1 - s)."""
    return dout * cache


def sigmoid_backward_no_dout(dout, cache):
    """Wrong: dout forgotten."""
    return cache * (1 - cache)


def sigmoid_backward_treats_x_as_s(dout, cache):
    """Wrong with sigmoid_forward_cache_x: the cached input used as if it were s."""
    return dout * cache * (1 - cache)


def sigmoid_backward_sigmoid_again(dout, cache):
    """Wrong with sigmoid_forward_ok: the sigmoid applied again to the cached output."""
    s = sig(cache)
    return dout * s * (1 - s)


def sigmoid_backward_one_minus(dout, cache):
    """Wrong: (1 - s) only."""
    return dout * (1 - cache)


# ---------------------------------------------------------------------------
# B3: softmax cross-entropy
# ---------------------------------------------------------------------------


def _softmax_ce(scores, y, shift="row", axis=1, mean_loss=True, mean_grad=True):
    n = scores.shape[0]
    if shift == "row":
        z = scores - scores.max(axis=1, keepdims=True)
    elif shift == "global":
        z = scores - scores.max()
    elif shift == "column":
        z = scores - scores.max(axis=0, keepdims=True)
    else:
        z = scores
    with np.errstate(all="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=axis, keepdims=True)
        losses = -np.log(p[np.arange(n), y])
    loss = losses.mean() if mean_loss else losses.sum()
    d = p.copy()
    d[np.arange(n), y] -= 1
    return loss, (d / n if mean_grad else d)


def softmax_ce_logsumexp(scores, y):
    """Correct, differently written: logaddexp.reduce and a one-hot matrix."""
    n, c = scores.shape
    lse = np.logaddexp.reduce(scores, axis=1)
    onehot = np.eye(c)[y]
    loss = np.mean(lse - np.sum(scores * onehot, axis=1))
    return loss, (np.exp(scores - lse[:, None]) - onehot) / n


def softmax_ce_float32(scores, y):
    """Correct in float32, with log-probabilities."""
    s = scores.astype(np.float32)
    z = s - s.max(axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    d = np.exp(logp)
    d[np.arange(len(y)), y] -= 1
    return -np.mean(logp[np.arange(len(y)), y]), d / np.float32(len(y))


def softmax_ce_probabilities(scores, y):
    """Correct in float64: probabilities first, then their log (fine while no probability underflows)."""
    return _softmax_ce(scores, y)


def softmax_ce_no_shift(scores, y):
    """Wrong: no max-shift (overflows for large scores)."""
    return _softmax_ce(scores, y, shift=None)


def softmax_ce_global_shift(scores, y):
    """Wrong: one maximum for the whole batch (other rows underflow to log(0))."""
    return _softmax_ce(scores, y, shift="global")


def softmax_ce_column_shift(scores, y):
    """Wrong: the maximum taken over the batch axis."""
    return _softmax_ce(scores, y, shift="column")


def softmax_ce_axis0(scores, y):
    """Wrong: normalised over the batch axis."""
    return _softmax_ce(scores, y, axis=0)


def softmax_ce_sum(scores, y):
    """Wrong: summed over the batch, loss and gradient."""
    return _softmax_ce(scores, y, mean_loss=False, mean_grad=False)


def softmax_ce_dscores_not_divided(scores, y):
    """Wrong: mean loss but dscores not divided by N."""
    return _softmax_ce(scores, y, mean_grad=False)


def softmax_ce_loss_only(scores, y):
    """Wrong convention: returns only the loss."""
    return _softmax_ce(scores, y)[0]


def softmax_ce_column_index(scores, y):
    """Wrong: log_probs[:, y] picks a whole (N, N) block."""
    z = scores - scores.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    d = np.exp(logp)
    d[np.arange(len(y)), y] -= 1
    return -logp[:, y].mean(), d / len(y)


# ---------------------------------------------------------------------------
# B4: mlp_loss (composed of the layers above)
# ---------------------------------------------------------------------------


def mlp_loss(params, X, y=None):
    """Correct: the layers composed (also used by the sgd_train variants and evaluate below)."""
    h, c1 = affine_forward_ok(X, params["W1"], params["b1"])
    a, cr = relu_forward_ok(h)
    scores, c2 = affine_forward_ok(a, params["W2"], params["b2"])
    if y is None:
        return scores
    loss, d = _softmax_ce(scores, y)
    da, dW2, db2 = affine_backward_ok(d, c2)
    dh = relu_backward_ok(da, cr)
    _, dW1, db1 = affine_backward_ok(dh, c1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def mlp_inline32(params, X, y=None):
    """Correct, differently written: inline NumPy in float32, with a one-hot matrix."""
    P = {k: v.astype(np.float32) for k, v in params.items()}
    X = X.astype(np.float32)
    pre = X @ P["W1"] + P["b1"]
    hid = np.maximum(pre, 0)
    s = hid @ P["W2"] + P["b2"]
    if y is None:
        return s
    e = np.exp(s - s.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    onehot = np.eye(s.shape[1], dtype=np.float32)[y]
    loss = -np.mean(np.sum(onehot * np.log(p), axis=1))
    ds = (p - onehot) / len(X)
    dhid = (ds @ P["W2"].T) * (pre > 0)
    return loss, {"W2": hid.T @ ds, "b2": ds.sum(0), "W1": X.T @ dhid, "b1": dhid.sum(0)}


def _mlp(params, X, y=None, relu=True, relu_out=False, relu_back=True, loss_sum=False, keys=None, no_db2=False,
         pair=False):
    h, c1 = affine_forward_ok(X, params["W1"], params["b1"])
    a, cr = relu_forward_ok(h) if relu else (h, h)
    scores, c2 = affine_forward_ok(a, params["W2"], params["b2"])
    if relu_out:
        scores = np.maximum(scores, 0)
    if y is None:
        return (scores, c2) if pair else scores
    loss, d = _softmax_ce(scores, y, mean_loss=not loss_sum, mean_grad=not loss_sum)
    da, dW2, db2 = affine_backward_ok(d, c2)
    dh = relu_backward_ok(da, cr) if (relu and relu_back) else da
    _, dW1, db1 = affine_backward_ok(dh, c1)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": np.zeros_like(db2) if no_db2 else db2}
    if keys:
        grads = {k.lower(): v for k, v in grads.items()}
    return loss, grads


def mlp_no_relu(params, X, y=None):
    """Wrong: affine - affine, no ReLU."""
    return _mlp(params, X, y, relu=False)


def mlp_relu_on_scores(params, X, y=None):
    """Wrong: a ReLU after the last layer too."""
    return _mlp(params, X, y, relu_out=True)


def mlp_no_relu_backward(params, X, y=None):
    """Wrong: the ReLU's backward pass skipped."""
    return _mlp(params, X, y, relu_back=False)


def mlp_loss_summed(params, X, y=None):
    """Wrong: loss and gradients summed over the batch."""
    return _mlp(params, X, y, loss_sum=True)


def mlp_lowercase_keys(params, X, y=None):
    """Wrong: grads keyed w1, b1, ... instead of like params."""
    return _mlp(params, X, y, keys=True)


def mlp_no_db2(params, X, y=None):
    """Wrong: the output bias's gradient left at zero."""
    return _mlp(params, X, y, no_db2=True)


def mlp_scores_pair(params, X, y=None):
    """Wrong convention: (scores, cache) without labels."""
    return _mlp(params, X, y, pair=True)


# ---------------------------------------------------------------------------
# B5: sgd_train (the given scaffold around different epoch bodies)
# ---------------------------------------------------------------------------


def evaluate(params, X, y, batch_size=1000):
    """The lab's given evaluate."""
    scores = mlp_loss(params, X)
    return float(_softmax_ce(scores, y)[0]), float(np.mean(scores.argmax(axis=1) == y))


def _scaffold(epoch):
    def sgd_train(params, X, y, X_val, y_val, epochs, batch_size, learning_rate, lr_decay=1.0, seed=0, verbose=True):
        rng = np.random.default_rng(seed)
        params = {name: value.copy() for name, value in params.items()}
        history = {"loss": [], "val_loss": [], "val_accuracy": []}
        for _ in range(epochs):
            epoch(rng, params, X, y, batch_size, learning_rate, history)
            learning_rate *= lr_decay
            val_loss, val_accuracy = evaluate(params, X_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
        return params, history
    return sgd_train


def _epoch(rng, params, X, y, batch_size, lr, history, sign=-1.0, batches="all", shuffle=True, shuffle_y=True,
           record="mean", only=None):
    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    y_order = order if shuffle_y else np.arange(len(X))
    if batches == "all":
        starts = range(0, len(X), batch_size)
    elif batches == "floor":
        starts = [i * batch_size for i in range(len(X) // batch_size)]
    else:  # off by one batch
        starts = range(0, len(X) - batch_size, batch_size)
    losses = []
    for start in starts:
        loss, grads = mlp_loss(params, X[order[start:start + batch_size]], y[y_order[start:start + batch_size]])
        for name in params:
            if only is None or name in only:
                params[name] += sign * lr * grads[name]
        losses.append(loss)
        if record == "per batch":
            history["loss"].append(loss)
    if record == "mean":
        history["loss"].append(float(np.mean(losses)))
    elif record == "sum":
        history["loss"].append(float(np.sum(losses)))
    elif record == "last":
        history["loss"].append(float(losses[-1]))


def _epoch_weighted(rng, params, X, y, batch_size, lr, history):
    """Correct, differently written: rng.shuffle on an index array, new arrays, a batch-size-weighted mean."""
    idx = np.arange(len(X))
    rng.shuffle(idx)
    total = 0.0
    for chunk in np.array_split(idx, range(batch_size, len(X), batch_size)):
        loss, grads = mlp_loss(params, X[chunk], y[chunk])
        for name, g in grads.items():
            params[name] = params[name] - lr * g
        total += loss * len(chunk)
    history["loss"].append(total / len(X))


sgd_train_ok = _scaffold(_epoch)
sgd_train_weighted = _scaffold(_epoch_weighted)
sgd_train_plus = _scaffold(lambda *a: _epoch(*a, sign=1.0))
sgd_train_floor_batches = _scaffold(lambda *a: _epoch(*a, batches="floor"))
sgd_train_off_by_one = _scaffold(lambda *a: _epoch(*a, batches="off by one"))
sgd_train_no_shuffle = _scaffold(lambda *a: _epoch(*a, shuffle=False))
sgd_train_labels_unshuffled = _scaffold(lambda *a: _epoch(*a, shuffle_y=False))
sgd_train_loss_sum = _scaffold(lambda *a: _epoch(*a, record="sum"))
sgd_train_last_loss = _scaffold(lambda *a: _epoch(*a, record="last"))
sgd_train_per_batch = _scaffold(lambda *a: _epoch(*a, record="per batch"))
sgd_train_weights_only = _scaffold(lambda *a: _epoch(*a, only=("W1", "W2")))


def _epoch_global_rng(rng, params, X, y, batch_size, lr, history):
    """Wrong (adversary13): shuffles with np.random's global generator, ignoring `rng`, so a seed does not repeat."""
    order = np.random.permutation(len(X))
    losses = []
    for start in range(0, len(X), batch_size):
        b = order[start:start + batch_size]
        loss, grads = mlp_loss(params, X[b], y[b])
        for k in params:
            params[k] -= lr * grads[k]
        losses.append(loss)
    history["loss"].append(float(np.mean(losses)))


def _epoch_drop_last(rng, params, X, y, batch_size, lr, history):
    """Wrong (adversary13): max(1, N // batch_size) batches, so the last partial batch is dropped when N > batch."""
    order = rng.permutation(len(X))
    losses = []
    for i in range(max(1, len(X) // batch_size)):
        b = order[i * batch_size:(i + 1) * batch_size]
        loss, grads = mlp_loss(params, X[b], y[b])
        for k in params:
            params[k] -= lr * grads[k]
        losses.append(loss)
    history["loss"].append(float(np.mean(losses)))


sgd_train_global_rng = _scaffold(_epoch_global_rng)
sgd_train_drop_last = _scaffold(_epoch_drop_last)


def sgd_train_returns_params(params, X, y, X_val, y_val, epochs, batch_size, learning_rate, lr_decay=1.0, seed=0,
                             verbose=True):
    """Wrong convention: returns only the params."""
    return sgd_train_ok(params, X, y, X_val, y_val, epochs, batch_size, learning_rate, lr_decay, seed, verbose)[0]


# ---------------------------------------------------------------------------
# C1: build_keras_mlp
# ---------------------------------------------------------------------------


def _keras_mlp(input_dim, hidden_dim, num_classes, hidden_act="relu", out_act=None, init="he_normal",
               with_input=True, extra=False, softmax_layer=False, use_bias=True):
    import keras

    layers = [keras.Input(shape=(input_dim,))] if with_input else []
    layers.append(keras.layers.Dense(hidden_dim, activation=hidden_act, kernel_initializer=init, use_bias=use_bias))
    if extra:
        layers.append(keras.layers.Dense(hidden_dim, activation="relu", kernel_initializer=init))
    layers.append(keras.layers.Dense(num_classes, activation=out_act, kernel_initializer=init))
    if softmax_layer:
        layers.append(keras.layers.Softmax())
    return keras.Sequential(layers)


def keras_functional(input_dim, hidden_dim, num_classes):
    """Correct: functional API, ReLU as its own layer, He normal spelled as VarianceScaling."""
    import keras

    inputs = keras.Input((input_dim,))
    init = keras.initializers.VarianceScaling(2.0, "fan_in", "truncated_normal")
    z = keras.layers.Dense(hidden_dim, kernel_initializer=init, name="hidden")(inputs)
    z = keras.layers.Activation("relu")(z)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(z))


def keras_no_input(input_dim, hidden_dim, num_classes):
    """Correct: Sequential without an Input (built on first call), ReLU layer, he_normal object."""
    import keras

    return keras.Sequential([keras.layers.Dense(hidden_dim, kernel_initializer=keras.initializers.HeNormal()),
                             keras.layers.ReLU(), keras.layers.Dense(num_classes)])


def keras_he_uniform(input_dim, hidden_dim, num_classes):
    """Wrong (adversary13): He *uniform*; the docstring asks for He normal (the same spread, another distribution)."""
    import keras

    return keras.Sequential([keras.Input((input_dim,)),
                             keras.layers.Dense(hidden_dim, activation="relu", kernel_initializer="he_uniform"),
                             keras.layers.Dense(num_classes)])


def keras_random_normal(input_dim, hidden_dim, num_classes):
    """Correct: He normal spelled as an untruncated RandomNormal with std sqrt(2 / input_dim)."""
    import keras

    init = keras.initializers.RandomNormal(stddev=float(np.sqrt(2 / input_dim)))
    return keras.Sequential([keras.Input((input_dim,)),
                             keras.layers.Dense(hidden_dim, activation="relu", kernel_initializer=init),
                             keras.layers.Dense(num_classes)])


def keras_softmax(i, h, c):
    """Wrong: softmax on the logits."""
    return _keras_mlp(i, h, c, out_act="softmax")


def keras_softmax_layer(i, h, c):
    """Wrong: a Softmax layer after the logits."""
    return _keras_mlp(i, h, c, softmax_layer=True)


def keras_no_relu(i, h, c):
    """Wrong: the hidden layer left linear."""
    return _keras_mlp(i, h, c, hidden_act=None)


def keras_sigmoid(i, h, c):
    """Wrong: sigmoid hidden units."""
    return _keras_mlp(i, h, c, hidden_act="sigmoid")


def keras_fixed_hidden(i, h, c):
    """Wrong: the smoke profile's width hard-coded."""
    return _keras_mlp(i, 100, c)


def keras_fixed_input(i, h, c):
    """Wrong: MNIST's 784 inputs hard-coded."""
    return _keras_mlp(784, h, c)


def keras_glorot(i, h, c):
    """Wrong: Keras's default initialiser."""
    return _keras_mlp(i, h, c, init="glorot_uniform")


def keras_extra_layer(i, h, c):
    """Wrong: a second hidden layer."""
    return _keras_mlp(i, h, c, extra=True)


def keras_no_bias(i, h, c):
    """Wrong: the hidden layer without a bias."""
    return _keras_mlp(i, h, c, use_bias=False)


def keras_returns_layers(i, h, c):
    """Wrong: a list of layers instead of a model."""
    import keras

    return [keras.layers.Dense(h, activation="relu"), keras.layers.Dense(c)]


C = ex
CASES = [
    # A1
    correct(LAB, C.check_forward, "forward with weight matrices", forward_matrix),
    correct(LAB, C.check_forward, "forward with a tanh sigmoid and an extra key", forward_tanh_sigmoid),
    wrong(LAB, C.check_forward, "forward with w2 and w3 swapped", forward_transposed),
    wrong(LAB, C.check_forward, "forward with b1 at the outputs", forward_b1_everywhere),
    wrong(LAB, C.check_forward, "forward without the hidden bias", forward_no_hidden_bias),
    wrong(LAB, C.check_forward, "forward without the output sigmoid", forward_linear_outputs),
    wrong(LAB, C.check_forward, "forward feeding net_h into the outputs", forward_net_into_outputs, expect="hidden"),
    wrong(LAB, C.check_forward, "forward returns (o1, o2)", forward_tuple, expect="dict"),
    wrong(LAB, C.check_forward, "forward returns the outputs only", forward_outputs_only, expect="lacks"),
    wrong(LAB, C.check_forward, "forward still a stub", stub, expect="not implemented yet"),
    correct(LAB, C.check_total_error, "total_error vectorised", total_error_sum),
    correct(LAB, C.check_total_error, "total_error as a mean of two", total_error_mean),
    wrong(LAB, C.check_total_error, "total_error without 1/2", total_error_no_half, expect="1/2"),
    wrong(LAB, C.check_total_error, "total_error with absolute errors", total_error_abs),
    wrong(LAB, C.check_total_error, "total_error of o1 only", total_error_one_output),
    wrong(LAB, C.check_total_error, "total_error with swapped targets", total_error_swapped),
    wrong(LAB, C.check_total_error, "total_error per output", total_error_per_output, expect="shape"),
    wrong(LAB, C.check_total_error, "total_error still a stub", stub, expect="not implemented yet"),
    # A2
    correct(LAB, C.check_dE_dw5, "dE_dw5 with sigma'(net)", dw5_with_net),
    correct(LAB, C.check_dE_dw5, "dE_dw5 read off all gradients", dw5_from_gradients),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 with the sign flipped", dw5_sign, expect="sign"),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 without sigma'", dw5_no_sigmoid_derivative, expect="missing"),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 with net (1 - net)", dw5_derivative_of_net, expect="net_o1"),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 with h2", dw5_wrong_input, expect="h1"),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 with o2's error", dw5_wrong_output),
    wrong(LAB, C.check_dE_dw5, "dE_dw5 still a stub", stub, expect="not implemented yet"),
]
for _check, _what in ((C.check_gradients, "centred differences"), (C.check_gradients_tape, "tape")):
    CASES += [
        correct(LAB, _check, f"gradients with vectors ({_what})", gradients_vector),
        correct(LAB, _check, f"gradients unit by unit ({_what})", gradients_numeric_style),
        wrong(LAB, _check, f"gradients: shared bias gets one delta ({_what})", gradients_bias_one_unit,
              expect="shared"),
        wrong(LAB, _check, f"gradients: hidden delta from one output ({_what})", gradients_one_path),
        wrong(LAB, _check, f"gradients: w6 and w7 swapped ({_what})", gradients_swapped),
        wrong(LAB, _check, f"gradients: backward through w transposed ({_what})", gradients_transposed_back),
        wrong(LAB, _check, f"gradients: sign flipped ({_what})", gradients_sign, expect="sign"),
        wrong(LAB, _check, f"gradients: hidden sigma' forgotten ({_what})", gradients_no_hidden_derivative),
        wrong(LAB, _check, f"gradients: a list ({_what})", gradients_list, expect="dict"),
        wrong(LAB, _check, f"gradients still a stub ({_what})", stub, expect="not implemented yet"),
    ]
CASES += [
    # A4
    correct(LAB, C.check_sgd_step, "sgd_step updating a copy in a loop", sgd_step_loop),
    wrong(LAB, C.check_sgd_step, "sgd_step with +", sgd_step_plus, expect="not p + lr"),
    wrong(LAB, C.check_sgd_step, "sgd_step in place, returning params", sgd_step_in_place, expect="in place"),
    wrong(LAB, C.check_sgd_step, "sgd_step in place, returning None", sgd_step_in_place_none, expect="None"),
    correct(LAB, C.check_sgd_step, "sgd_step scaling grads in place (adversary13)", sgd_step_mutates_grads),
    wrong(LAB, C.check_sgd_step, "sgd_step with lr fixed at 0.5", sgd_step_fixed_lr, expect="`lr`"),
    wrong(LAB, C.check_sgd_step, "sgd_step returning the step", sgd_step_returns_step, expect="not the step"),
    wrong(LAB, C.check_sgd_step, "sgd_step skipping the biases", sgd_step_weights_only, expect="b1"),
    wrong(LAB, C.check_sgd_step, "sgd_step still a stub", stub, expect="not implemented yet"),
    # B1
    correct(LAB, C.check_affine_forward, "affine_forward with np.dot and reshape", affine_forward_dot),
    correct(LAB, C.check_affine_forward, "affine_forward with einsum in float32", affine_forward_einsum32),
    wrong(LAB, C.check_affine_forward, "affine_forward without bias", affine_forward_no_bias, expect="bias"),
    wrong(LAB, C.check_affine_forward, "affine_forward transposed", affine_forward_transposed, expect="transposed"),
    wrong(LAB, C.check_affine_forward, "affine_forward with a column bias", affine_forward_column_bias),
    wrong(LAB, C.check_affine_forward, "affine_forward returns out only", affine_forward_out_only, expect="cache"),
    wrong(LAB, C.check_affine_forward, "affine_forward into an int array", affine_forward_int_loops, expect="dtype"),
    wrong(LAB, C.check_affine_forward, "affine_forward still a stub", stub, expect="not implemented yet"),
    correct(LAB, C.check_affine_backward, "affine_backward plain", affine_backward_ok, affine_forward_ok),
    correct(LAB, C.check_affine_backward, "affine_backward einsum float32", affine_backward_einsum32,
            affine_forward_ok),
    correct(LAB, C.check_affine_backward, "affine_backward with a dict cache",
            lambda dout, cache: affine_backward_ok(dout, (cache["x"], cache["w"])), affine_forward_dot),
    wrong(LAB, C.check_affine_backward, "db not summed", affine_backward_db_not_summed, affine_forward_ok,
          expect="axis=0"),
    wrong(LAB, C.check_affine_backward, "db summed over axis 1", affine_backward_db_axis1, affine_forward_ok,
          expect="axis 0"),
    wrong(LAB, C.check_affine_backward, "db averaged", affine_backward_db_mean, affine_forward_ok, expect="average"),
    wrong(LAB, C.check_affine_backward, "dw transposed", affine_backward_dw_transposed, affine_forward_ok,
          expect="shape"),
    wrong(LAB, C.check_affine_backward, "dw divided by N", affine_backward_dw_mean, affine_forward_ok,
          expect="division"),
    wrong(LAB, C.check_affine_backward, "dx without transpose", affine_backward_dx_no_transpose, affine_forward_ok,
          expect="raised"),
    wrong(LAB, C.check_affine_backward, "gradients as a dict", affine_backward_dict, affine_forward_ok,
          expect="tuple of 3"),
    wrong(LAB, C.check_affine_backward, "affine_backward still a stub", stub, affine_forward_ok,
          expect="not implemented yet"),
    # B2
    correct(LAB, C.check_relu_forward, "relu_forward with np.where in float32", relu_forward_where32),
    correct(LAB, C.check_relu_forward, "relu_forward zeroing a copy", relu_forward_mask_copy),
    wrong(LAB, C.check_relu_forward, "relu_forward as |x|", relu_forward_abs, expect="negative"),
    wrong(LAB, C.check_relu_forward, "relu_forward leaky", relu_forward_leaky, expect="leaky"),
    wrong(LAB, C.check_relu_forward, "relu_forward clipped", relu_forward_clip, expect="clip"),
    wrong(LAB, C.check_relu_forward, "relu_forward with np.max", relu_forward_np_max, expect="raised"),
    wrong(LAB, C.check_relu_forward, "relu_forward without cache", relu_forward_out_only, expect="(out, cache)"),
    wrong(LAB, C.check_relu_forward, "relu_forward still a stub", stub, expect="not implemented yet"),
    correct(LAB, C.check_relu_backward, "relu_backward with np.where", relu_backward_where, relu_forward_ok),
    correct(LAB, C.check_relu_backward, "relu_backward with the output cached", relu_backward_ok, relu_forward_where32),
    correct(LAB, C.check_relu_backward, "relu_backward with a mask cache", relu_backward_mask, relu_forward_mask_copy),
    correct(LAB, C.check_relu_backward, "relu_backward in place", relu_backward_in_place, relu_forward_ok),
    wrong(LAB, C.check_relu_backward, "relu_backward on the wrong side", relu_backward_wrong_side, relu_forward_ok,
          expect="positive"),
    wrong(LAB, C.check_relu_backward, "relu_backward times the output", relu_backward_times_output, relu_forward_ok,
          expect="mask"),
    wrong(LAB, C.check_relu_backward, "relu_backward without mask", relu_backward_no_mask, relu_forward_ok,
          expect="missing"),
    wrong(LAB, C.check_relu_backward, "relu_backward without dout", relu_backward_mask_only, relu_forward_ok,
          expect="dout"),
    wrong(LAB, C.check_relu_backward, "relu_backward masking by dout", relu_backward_dout_mask, relu_forward_ok,
          expect="forward input"),
    wrong(LAB, C.check_relu_backward, "relu_backward still a stub", stub, relu_forward_ok,
          expect="not implemented yet"),
    correct(LAB, C.check_sigmoid_forward, "sigmoid_forward with logaddexp", sigmoid_forward_stable),
    correct(LAB, C.check_sigmoid_forward, "sigmoid_forward with tanh in float32", sigmoid_forward_tanh32),
    wrong(LAB, C.check_sigmoid_forward, "sigmoid_forward with exp(x)", sigmoid_forward_sign, expect="sign"),
    wrong(LAB, C.check_sigmoid_forward, "sigmoid_forward as tanh", sigmoid_forward_tanh, expect="tanh"),
    wrong(LAB, C.check_sigmoid_forward, "sigmoid_forward as 1/(1-e^-x)", sigmoid_forward_minus),
    wrong(LAB, C.check_sigmoid_forward, "sigmoid_forward without cache", sigmoid_forward_out_only,
          expect="(out, cache)"),
    wrong(LAB, C.check_sigmoid_forward, "sigmoid_forward still a stub", stub, expect="not implemented yet"),
    correct(LAB, C.check_sigmoid_backward, "sigmoid_backward from the cached output", sigmoid_backward_ok,
            sigmoid_forward_ok),
    correct(LAB, C.check_sigmoid_backward, "sigmoid_backward from the cached input", sigmoid_backward_from_x,
            sigmoid_forward_cache_x),
    correct(LAB, C.check_sigmoid_backward, "sigmoid_backward in float32", sigmoid_backward_ok,
            sigmoid_forward_tanh32),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward with s", sigmoid_backward_s, sigmoid_forward_ok,
          expect="not s"),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward without dout", sigmoid_backward_no_dout,
          sigmoid_forward_ok, expect="dout"),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward treating x as s", sigmoid_backward_treats_x_as_s,
          sigmoid_forward_cache_x, expect="x itself"),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward applying the sigmoid again",
          sigmoid_backward_sigmoid_again, sigmoid_forward_ok, expect="again"),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward with (1 - s)", sigmoid_backward_one_minus,
          sigmoid_forward_ok, expect="not (1 - s)"),
    wrong(LAB, C.check_sigmoid_backward, "sigmoid_backward still a stub", stub, sigmoid_forward_ok,
          expect="not implemented yet"),
    # B3
    correct(LAB, C.check_softmax_cross_entropy, "softmax with logaddexp", softmax_ce_logsumexp),
    correct(LAB, C.check_softmax_cross_entropy, "softmax in float32", softmax_ce_float32),
    correct(LAB, C.check_softmax_cross_entropy, "softmax via probabilities", softmax_ce_probabilities),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax without max-shift", softmax_ce_no_shift, expect="own maximum"),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax shifted by the global max", softmax_ce_global_shift,
          expect="own maximum"),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax shifted per column", softmax_ce_column_shift),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax over axis 0", softmax_ce_axis0),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax loss summed", softmax_ce_sum, expect="summed"),
    wrong(LAB, C.check_softmax_cross_entropy, "dscores not divided by N", softmax_ce_dscores_not_divided,
          expect="divide"),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax returns the loss only", softmax_ce_loss_only,
          expect="(loss, dscores)"),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax indexing log_probs[:, y]", softmax_ce_column_index),
    wrong(LAB, C.check_softmax_cross_entropy, "softmax still a stub", stub, expect="not implemented yet"),
    # B4
    correct(LAB, C.check_mlp_loss, "mlp_loss from the layers", mlp_loss),
    correct(LAB, C.check_mlp_loss, "mlp_loss inline in float32", mlp_inline32),
    wrong(LAB, C.check_mlp_loss, "mlp_loss without ReLU", mlp_no_relu, expect="no ReLU"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss with ReLU on the scores", mlp_relu_on_scores, expect="ReLU"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss skipping the ReLU backward", mlp_no_relu_backward, expect="ReLU"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss summed", mlp_loss_summed, expect="summed"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss with lowercase keys", mlp_lowercase_keys, expect="lacks"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss without db2", mlp_no_db2, expect="b2"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss returning (scores, cache)", mlp_scores_pair, expect="only the scores"),
    wrong(LAB, C.check_mlp_loss, "mlp_loss still a stub", stub, expect="not implemented yet"),
    # B5
    correct(LAB, C.check_sgd_train, "sgd_train as in the lab", sgd_train_ok),
    correct(LAB, C.check_sgd_train, "sgd_train with rng.shuffle and a weighted mean", sgd_train_weighted),
    wrong(LAB, C.check_sgd_train, "sgd_train with +", sgd_train_plus, expect="gradient"),
    wrong(LAB, C.check_sgd_train, "sgd_train dropping the partial batch", sgd_train_floor_batches,
          expect="unchanged"),
    wrong(LAB, C.check_sgd_train, "sgd_train dropping the last batch", sgd_train_off_by_one,
          expect="every mini-batch"),
    wrong(LAB, C.check_sgd_train, "sgd_train without shuffling", sgd_train_no_shuffle, expect="shuffle"),
    wrong(LAB, C.check_sgd_train, "sgd_train shuffling X but not y", sgd_train_labels_unshuffled, expect="labels"),
    wrong(LAB, C.check_sgd_train, "sgd_train summing the epoch loss", sgd_train_loss_sum, expect="mean"),
    wrong(LAB, C.check_sgd_train, "sgd_train recording the last batch loss", sgd_train_last_loss, expect="mean"),
    wrong(LAB, C.check_sgd_train, "sgd_train recording every batch", sgd_train_per_batch, expect="entries"),
    wrong(LAB, C.check_sgd_train, "sgd_train updating the weights only", sgd_train_weights_only),
    wrong(LAB, C.check_sgd_train, "sgd_train returning params only", sgd_train_returns_params,
          expect="(params, history)"),
    wrong(LAB, C.check_sgd_train, "sgd_train shuffling with the global RNG (adversary13)", sgd_train_global_rng,
          expect="same seed"),
    wrong(LAB, C.check_sgd_train, "sgd_train dropping the last partial batch when N > batch (adversary13)",
          sgd_train_drop_last, expect="last batch"),
    wrong(LAB, C.check_sgd_train, "sgd_train still a stub", stub, expect="not implemented yet"),
    # C1
    correct(LAB, C.check_build_keras_mlp, "Keras MLP, functional with Activation", keras_functional),
    correct(LAB, C.check_build_keras_mlp, "Keras MLP, Sequential without Input", keras_no_input),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with softmax", keras_softmax, expect="logits"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with a Softmax layer", keras_softmax_layer, expect="logits"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP without ReLU", keras_no_relu, expect="ReLU"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with sigmoid", keras_sigmoid, expect="ReLU"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with 100 hidden units", keras_fixed_hidden, expect="units"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with 784 inputs", keras_fixed_input, expect="input_dim"),
    correct(LAB, C.check_build_keras_mlp, "Keras MLP with RandomNormal(sqrt(2 / d))", keras_random_normal),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with Glorot", keras_glorot, expect="Glorot"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with He uniform (adversary13)", keras_he_uniform,
          expect="he_normal"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP with two hidden layers", keras_extra_layer, expect="two Dense"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP without bias", keras_no_bias, expect="bias"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP as a list", keras_returns_layers, expect="keras.Model"),
    wrong(LAB, C.check_build_keras_mlp, "Keras MLP still a stub", stub, expect="not implemented yet"),
]


# ---------------------------------------------------------------------------
# Learning targets: the checks compute the test accuracy themselves from the trained weights
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _trained() -> dict[str, np.ndarray]:
    """An MLP trained in a second: random ReLU features and a least-squares output layer (about 0.9 on MNIST)."""
    from utils import data

    (images, labels), _ = data.load_mnist()
    x = images[:8000].reshape(8000, -1).astype(np.float64) / 255.0
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(0, np.sqrt(2 / 784), (784, 400)), np.zeros(400)
    h = np.maximum(0, x @ w1 + b1)
    w2 = np.linalg.lstsq(np.c_[h, np.ones(len(h))], np.eye(10)[labels[:8000]], rcond=None)[0]
    return {"W1": w1, "b1": b1, "W2": w2[:-1], "b2": w2[-1]}


class _Lazy(dict):
    """A params dict filled on first use, so that collecting the tests needs no dataset."""

    def __init__(self, make) -> None:
        super().__init__()
        self._make = make

    def _fill(self) -> None:
        if not dict.__len__(self):
            self.update(self._make())

    def items(self):
        self._fill()
        return super().items()

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)


class _Model:
    """A stand-in for a trained Keras MLP: what the check uses of it is get_weights()."""

    def __init__(self, make) -> None:
        self._make = make

    def get_weights(self):
        return self._make()


def _memorised() -> dict[str, np.ndarray]:
    """A lookup table of the test set: one ReLU unit per test digit, wired to its label."""
    from utils import data

    _, (images, labels) = data.load_mnist()
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    norms = np.linalg.norm(x, axis=1)
    return {"W1": (x / norms[:, None]).T * 50, "b1": -50 * 0.999 * norms, "W2": np.eye(10)[labels], "b2": np.zeros(10)}


def _untrained() -> dict[str, np.ndarray]:
    return {**_trained(), "W2": np.zeros((400, 10)), "b2": np.zeros(10)}


TRAINED = _Lazy(_trained)
KERAS_TRAINED = _Model(lambda: [_trained()[k].astype(np.float32) for k in ex.MLP_KEYS])
TARGET = {"minimum": 0.85, "hidden": 400}
CASES += [
    correct(LAB, C.check_mlp_accuracy, "trained MLP (float64)", TRAINED, **TARGET),
    correct(LAB, C.check_mlp_accuracy, "trained MLP (float32)", _Lazy(lambda: {k: v.astype(np.float32)
                                                                             for k, v in _trained().items()}),
            **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "untrained MLP", _Lazy(_untrained), expect="below the target", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "params without b2", _Lazy(lambda: {k: v for k, v in _trained().items()
                                                                         if k != "b2"}), expect="b2", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "W1 transposed", _Lazy(lambda: {**_trained(), "W1": _trained()["W1"].T}),
          expect="W1", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "diverged MLP", _Lazy(lambda: {**_trained(), "W2": np.full((400, 10), np.nan)}),
          expect="NaN", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "(params, history) instead of params", (TRAINED, {"loss": [1.0]}),
          expect="dict", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "a hidden unit per test digit (memorised, helper17)", _Lazy(_memorised),
          expect="shape", **TARGET),
    wrong(LAB, C.check_mlp_accuracy, "complex weights (helper17)",
          _Lazy(lambda: {k: v.astype(np.complex128) for k, v in _trained().items()}), expect="dtype", **TARGET),
    correct(LAB, C.check_keras_mlp_accuracy, "trained Keras MLP", KERAS_TRAINED, TRAINED, **TARGET),
    wrong(LAB, C.check_keras_mlp_accuracy, "untrained Keras MLP", _Model(lambda: list(_untrained().values())),
          TRAINED, expect="below the target", **TARGET),
    wrong(LAB, C.check_keras_mlp_accuracy, "NumPy MLP far from Keras", KERAS_TRAINED,
          _Lazy(lambda: {**_trained(), "b2": np.array([3.0] + [0.0] * 9)}), expect="differ by", **TARGET),
    wrong(LAB, C.check_keras_mlp_accuracy, "a deeper Keras model", _Model(lambda: list(_trained().values()) * 2),
          TRAINED, expect="8 weight arrays", **TARGET),
    wrong(LAB, C.check_keras_mlp_accuracy, "get_weights raises", _Model(lambda: 1 / 0), TRAINED,
          expect="ZeroDivisionError", **TARGET),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property, request, monkeypatch) -> None:
    if case.check in (C.check_mlp_accuracy, C.check_keras_mlp_accuracy):  # these read the MNIST test set
        monkeypatch.setenv("COURSE_DATA_DIR", str(request.getfixturevalue("shared_datasets")))
    verify(case, record_property)


def test_hidden_seed_changes_inputs() -> None:
    """Hidden tests pass seed=...: other draws, and still the same verdict for a correct answer."""
    assert not np.array_equal(ex.affine_inputs(0)[0][0], ex.affine_inputs(7)[0][0])
    ex.check_affine_forward(affine_forward_ok, seed=7, quiet=True)
    ex.check_gradients(gradients_vector, seed=3, quiet=True)
