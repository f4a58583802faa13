"""Lab 3's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from mutation import correct, verify, wrong

from utils.exercises import init_batchnorm as ex

LAB = "03 init_batchnorm"


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# A1 init_std
# ---------------------------------------------------------------------------


def init_table(scheme, fan_in):
    """Correct, differently written: a table of variances, numpy square root, float32."""
    variances = {"small": 1e-4, "xavier": 1.0 / fan_in, "kaiming": 2.0 / fan_in}
    if scheme not in variances:
        raise ValueError(scheme)
    return np.float32(np.sqrt(variances[scheme]))


def init_with(**overrides):
    """An init_std whose formulas are the right ones except for ``overrides``."""
    def init_std(scheme, fan_in):
        formulas = {"small": lambda n: 0.01, "xavier": lambda n: 1 / math.sqrt(n),
                    "kaiming": lambda n: math.sqrt(2 / n), **overrides}
        if scheme not in formulas:
            raise ValueError(scheme)
        return formulas[scheme](fan_in)
    return init_std


def init_unknown_is_small(scheme, fan_in):
    """Wrong: any other scheme falls back to 0.01."""
    return {"xavier": 1 / math.sqrt(fan_in), "kaiming": math.sqrt(2 / fan_in)}.get(scheme, 0.01)


def init_returns_array_for_unknown(scheme, fan_in):
    """Wrong (adversary13): an unknown scheme returns an array instead of raising ValueError."""
    if scheme == "small":
        return 0.01
    if scheme == "xavier":
        return 1 / math.sqrt(fan_in)
    if scheme == "kaiming":
        return math.sqrt(2 / fan_in)
    return np.full((3, 4), 0.01)


def init_key_error(scheme, fan_in):
    """Wrong: an unknown scheme raises KeyError from a dict lookup."""
    return {"small": lambda: 0.01, "xavier": lambda: fan_in ** -0.5, "kaiming": lambda: (2 / fan_in) ** 0.5}[scheme]()


# ---------------------------------------------------------------------------
# A2 deep_forward
# ---------------------------------------------------------------------------


def deep_listcomp(x, weights, nonlinearity):
    """Correct, differently written: materialise the generator, then accumulate, in float32."""
    hs, h = [], x.astype(np.float32)
    for w in list(weights):
        h = nonlinearity(np.matmul(h, w.astype(np.float32)))
        hs.append(h)
    return hs


def deep_indexing(x, weights, nonlinearity):
    """Wrong: indexes the weights (a generator has no len)."""
    hs = []
    for i in range(len(weights)):
        x = nonlinearity(x @ weights[i])
        hs.append(x)
    return hs


def deep_includes_input(x, weights, nonlinearity):
    """Wrong: hs[0] is the input."""
    hs = [x]
    for w in weights:
        x = nonlinearity(x @ w)
        hs.append(x)
    return hs


def deep_pre_activation(x, weights, nonlinearity):
    """Wrong: stores the pre-activations."""
    hs = []
    for w in weights:
        z = x @ w
        hs.append(z)
        x = nonlinearity(z)
    return hs


def deep_nonlinearity_first(x, weights, nonlinearity):
    """Wrong: the nonlinearity is applied to the input of each layer."""
    hs = []
    for w in weights:
        x = nonlinearity(x) @ w
        hs.append(x)
    return hs


def deep_last_only(x, weights, nonlinearity):
    """Wrong: returns only the last layer's activations."""
    for w in weights:
        x = nonlinearity(x @ w)
    return x


def deep_transposed(x, weights, nonlinearity):
    """Wrong: W @ x.T, the transposed product."""
    hs = []
    for w in weights:
        x = nonlinearity((w.T @ x.T).T[:, ::-1])
        hs.append(x)
    return hs


# ---------------------------------------------------------------------------
# B1 batchnorm_train_forward
# ---------------------------------------------------------------------------


def bn_forward_steps(x, gamma, beta, eps=1e-5):
    """Correct, differently written: step by step with np.mean/np.sum, in float32."""
    x = x.astype(np.float32)
    n = x.shape[0]
    mu = np.sum(x, axis=0) / n
    centred = x - mu
    sigma2 = np.sum(centred * centred, axis=0) / n
    xn = centred / np.sqrt(sigma2 + np.float32(eps))
    return gamma.astype(np.float32) * xn + beta.astype(np.float32), {"mean": mu, "var": sigma2, "xn": xn,
                                                                     "g": gamma, "s": np.sqrt(sigma2 + eps)}


def bn_forward_with(var_fn=None, eps_outside=False, axis=0, swap=False, inplace=False):
    """A training-mode forward pass with one deliberate mistake."""
    def batchnorm_train_forward(x, gamma, beta, eps=1e-5):
        mean = x.mean(axis=axis, keepdims=axis == 1)
        var = var_fn(x) if var_fn else x.var(axis=axis, keepdims=axis == 1)
        if inplace:
            x -= mean
            centred = x
        else:
            centred = x - mean
        x_hat = centred / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
        g, b = (beta, gamma) if swap else (gamma, beta)
        return g * x_hat + b, {"mean": mean, "var": var}
    return batchnorm_train_forward


def bn_forward_out_only(x, gamma, beta, eps=1e-5):
    """Wrong convention: returns only out."""
    return bn_forward_steps(x, gamma, beta, eps)[0].astype(np.float64)


def bn_forward_no_cache_keys(x, gamma, beta, eps=1e-5):
    """Wrong: the cache is a tuple, not the dict the docstring asks for."""
    out, cache = bn_forward_steps(x.astype(np.float64), gamma, beta, eps)
    return out, (cache["mean"], cache["var"])


# ---------------------------------------------------------------------------
# B2 update_running_stats, batchnorm_test_forward
# ---------------------------------------------------------------------------


def running_lerp(running_mean, running_var, batch_mean, batch_var, momentum):
    """Correct, differently written: interpolation towards the batch."""
    return (running_mean + (1 - momentum) * (batch_mean - running_mean),
            running_var + (1 - momentum) * (batch_var - running_var))


def running_swapped(running_mean, running_var, batch_mean, batch_var, momentum):
    """Wrong: the momentum weights the new batch."""
    return (momentum * batch_mean + (1 - momentum) * running_mean,
            momentum * batch_var + (1 - momentum) * running_var)


def running_inplace(running_mean, running_var, batch_mean, batch_var, momentum):
    """Wrong: updates the running averages in place."""
    running_mean *= momentum
    running_mean += (1 - momentum) * batch_mean
    running_var *= momentum
    running_var += (1 - momentum) * batch_var
    return running_mean, running_var


def running_var_from_mean(running_mean, running_var, batch_mean, batch_var, momentum):
    """Wrong: the variance is updated with the batch mean (copy-paste)."""
    return (momentum * running_mean + (1 - momentum) * batch_mean,
            momentum * running_var + (1 - momentum) * batch_mean)


def running_mean_only(running_mean, running_var, batch_mean, batch_var, momentum):
    """Wrong: returns only the new mean."""
    return momentum * running_mean + (1 - momentum) * batch_mean


def running_order_swapped(running_mean, running_var, batch_mean, batch_var, momentum):
    """Wrong: returns (var, mean)."""
    m, v = running_lerp(running_mean, running_var, batch_mean, batch_var, momentum)
    return v, m


def eval_mode_fused(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Correct, differently written: one scale and shift, in float32."""
    scale = (gamma / np.sqrt(running_var + eps)).astype(np.float32)
    return x.astype(np.float32) * scale + (beta - running_mean * scale).astype(np.float32)


def eval_mode_batch_stats(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: normalises with the batch's own statistics at test time."""
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta


def eval_mode_eps_outside(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: eps outside the square root."""
    return gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta


def eval_mode_no_sqrt(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: divides by the variance."""
    return gamma * (x - running_mean) / (running_var + eps) + beta


def eval_mode_no_affine(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: forgets gamma and beta."""
    return (x - running_mean) / np.sqrt(running_var + eps)


def eval_mode_inplace(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: normalises x in place."""
    x -= running_mean
    x /= np.sqrt(running_var + eps)
    return gamma * x + beta


# ---------------------------------------------------------------------------
# B3 batchnorm_backward (paired with a correct forward pass whose cache it reads)
# ---------------------------------------------------------------------------


def bn_forward_cache(x, gamma, beta, eps=1e-5):
    """A correct forward pass whose cache holds what the backward variants read."""
    mean, var = x.mean(axis=0), x.var(axis=0)
    std = np.sqrt(var + eps)
    xh = (x - mean) / std
    return gamma * xh + beta, {"mean": mean, "var": var, "x": x, "xh": xh, "std": std, "gamma": gamma, "eps": eps}


def bn_backward_staged(dout, cache):
    """Correct, differently written: through the graph, x_hat -> var -> mean, step by step."""
    x, mean, var, gamma, eps = cache["x"], cache["mean"], cache["var"], cache["gamma"], cache["eps"]
    n = x.shape[0]
    dxh = dout * gamma
    dvar = np.sum(dxh * (x - mean), axis=0) * -0.5 * (var + eps) ** -1.5
    dmean = -np.sum(dxh, axis=0) / np.sqrt(var + eps) + dvar * np.mean(-2 * (x - mean), axis=0)
    dx = dxh / np.sqrt(var + eps) + dvar * 2 * (x - mean) / n + dmean / n
    return dx, np.sum(dout * cache["xh"], axis=0), np.sum(dout, axis=0)


def bn_backward_with(mean_term=True, var_term=True, gamma_in_dx=True, n_axis=0, dgamma_axis=0):
    """A backward pass with one deliberate mistake."""
    def batchnorm_backward(dout, cache):
        xh, std, gamma = cache["xh"], cache["std"], cache["gamma"]
        n = dout.shape[n_axis]
        g = dout * gamma if gamma_in_dx else dout
        dx = n * g
        if mean_term:
            dx = dx - g.sum(axis=0)
        if var_term:
            dx = dx - xh * (g * xh).sum(axis=0)
        return dx / (n * std), (dout * xh).sum(axis=dgamma_axis), dout.sum(axis=0)
    return batchnorm_backward


def bn_backward_dgamma_no_xhat(dout, cache):
    """Wrong: dgamma = sum(dout)."""
    dx, _, dbeta = bn_backward_staged(dout, cache)
    return dx, dout.sum(axis=0), dbeta


def bn_backward_order(dout, cache):
    """Wrong: returns (dgamma, dbeta, dx)."""
    dx, dgamma, dbeta = bn_backward_staged(dout, cache)
    return dgamma, dbeta, dx


# ---------------------------------------------------------------------------
# B4 fuse_dense_batchnorm
# ---------------------------------------------------------------------------


def fuse_einsum(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """Correct, differently written: a diagonal matrix and einsum, in float32."""
    s = np.diag(gamma / np.sqrt(running_var + eps)).astype(np.float32)
    return np.einsum("dm,mk->dk", W.astype(np.float32), s), ((b - running_mean) @ s + beta).astype(np.float32)


def fuse_with(bias=True, eps_in=True, beta_in=True, rows=False):
    """A fusion with one deliberate mistake."""
    def fuse_dense_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
        scale = gamma / np.sqrt(running_var + (eps if eps_in else 0.0))
        W_f = W * scale[:, None] if rows else W * scale
        b_f = ((b if bias else 0.0) - running_mean) * scale + (beta if beta_in else 0.0)
        return W_f, b_f
    return fuse_dense_batchnorm


def fuse_unscaled_bias(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """Wrong: b - mean is not scaled."""
    return W * gamma / np.sqrt(running_var + eps), b - running_mean + beta


# ---------------------------------------------------------------------------
# C1 build_mlp
# ---------------------------------------------------------------------------


def mlp_functional(depth, width, batch_norm=False, dropout=0.0, l2=0.0, bn_momentum=0.99, name=None):
    """Correct, differently written: functional API, activation= when there is no batch norm, Activation layers."""
    reg = {"kernel_regularizer": keras.regularizers.L2(l2)} if l2 else {}
    inputs = keras.Input((28, 28))
    h = keras.layers.Reshape((784,))(inputs)
    for i in range(depth):
        if batch_norm:
            h = keras.layers.Dense(width, use_bias=False, name=f"hidden_{i}", **reg)(h)
            h = keras.layers.BatchNormalization(momentum=bn_momentum)(h)
            h = keras.layers.Activation("relu")(h)
        else:
            h = keras.layers.Dense(width, activation="relu", **reg)(h)
        if dropout:
            h = keras.layers.Dropout(dropout)(h)
    return keras.Model(inputs, keras.layers.Dense(10, **reg)(h), name=name)


def mlp_bn_no_center(depth, width, batch_norm=False, dropout=0.0, l2=0.0, bn_momentum=0.99, name=None):
    """Wrong (adversary13): BatchNormalization(center=False, scale=False) after bias-free Dense: no bias, no beta."""
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, use_bias=not batch_norm, kernel_regularizer=reg))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=bn_momentum, center=False, scale=False))
        layers.append(keras.layers.ReLU())
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, kernel_regularizer=reg))
    return keras.Sequential(layers, name=name)


def mlp_bn_no_scale(depth, width, batch_norm=False, dropout=0.0, l2=0.0, bn_momentum=0.99, name=None):
    """Correct: BatchNormalization(scale=False) before a ReLU; the next Dense layer absorbs gamma (Keras's own advice)."""
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, use_bias=not batch_norm, kernel_regularizer=reg))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=bn_momentum, scale=False))
        layers += [keras.layers.ReLU()] + ([keras.layers.Dropout(dropout)] if dropout > 0 else [])
    layers.append(keras.layers.Dense(10, kernel_regularizer=reg))
    return keras.Sequential(layers, name=name)


def mlp_dense_relu_then_bn(depth, width, batch_norm=False, dropout=0.0, l2=0.0, bn_momentum=0.99, name=None):
    """Wrong (adversary13): Dense(activation="relu"), then batch norm, then ReLU: a long layer list."""
    reg = keras.regularizers.L2(l2) if l2 > 0 else None
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, activation="relu", use_bias=not batch_norm, kernel_regularizer=reg))
        if batch_norm:
            layers.append(keras.layers.BatchNormalization(momentum=bn_momentum))
        layers.append(keras.layers.ReLU())
        if dropout > 0:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, kernel_regularizer=reg))
    return keras.Sequential(layers, name=name)


def mlp_with(bn_after_relu=False, keep_bias=False, momentum=None, keep_rate=False, l2_last=True, l2_string=False,
             init=None, softmax=False, extra_layer=False, no_flatten=False):
    """A Sequential build_mlp with one deliberate mistake."""
    def build_mlp(depth, width, batch_norm=False, dropout=0.0, l2=0.0, bn_momentum=0.99, name=None):
        reg = ("l2" if l2_string else keras.regularizers.L2(l2)) if l2 > 0 else None
        extra = {"kernel_initializer": init} if init else {}
        layers = [keras.Input((28, 28))] + ([] if no_flatten else [keras.layers.Flatten()])
        for _ in range(depth + (1 if extra_layer else 0)):
            layers.append(keras.layers.Dense(width, use_bias=keep_bias or not batch_norm, kernel_regularizer=reg,
                                             **extra))
            bn = [keras.layers.BatchNormalization(momentum=bn_momentum if momentum is None else momentum)] if (
                batch_norm) else []
            layers += ([keras.layers.ReLU()] + bn) if bn_after_relu else (bn + [keras.layers.ReLU()])
            if dropout > 0:
                layers.append(keras.layers.Dropout(1 - dropout if keep_rate else dropout))
        layers.append(keras.layers.Dense(10, kernel_regularizer=reg if l2_last else None,
                                         activation="softmax" if softmax else None, **extra))
        return keras.Sequential(layers, name=name)
    return build_mlp


# ---------------------------------------------------------------------------
# C2 momentum_step, adam_step
# ---------------------------------------------------------------------------


def momentum_float32(w, dw, velocity, lr, momentum=0.9):
    """Correct (adversary13): the update in float32."""
    w, dw, velocity = (a.astype(np.float32) for a in (w, dw, velocity))
    velocity = np.float32(momentum) * velocity - np.float32(lr) * dw
    return w + velocity, velocity


def adam_float32(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    """Correct (adversary13): the update in float32."""
    w, dw, m, v = (a.astype(np.float32) for a in (w, dw, m, v))
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw ** 2
    w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w.astype(np.float32), m.astype(np.float32), v.astype(np.float32)


def momentum_torch(w, dw, velocity, lr, momentum=0.9):
    """Correct, differently written: PyTorch's velocity convention (v = mu v + dw, w -= lr v), same trajectory."""
    velocity = momentum * velocity + dw
    return w - lr * velocity, velocity


def momentum_nesterov(w, dw, velocity, lr, momentum=0.9):
    """Wrong: Nesterov's look-ahead instead of classical momentum."""
    velocity = momentum * velocity - lr * dw
    return w + momentum * velocity - lr * dw, velocity


def momentum_forgets_velocity(w, dw, velocity, lr, momentum=0.9):
    """Wrong: the velocity is recomputed from scratch each step."""
    v = -lr * dw
    return w + v, velocity


def momentum_sign(w, dw, velocity, lr, momentum=0.9):
    """Wrong: climbs the gradient."""
    velocity = momentum * velocity + lr * dw
    return w + velocity, velocity


def momentum_old_velocity(w, dw, velocity, lr, momentum=0.9):
    """Wrong: moves with the old velocity, then updates it."""
    return w + velocity, momentum * velocity - lr * dw


def momentum_inplace(w, dw, velocity, lr, momentum=0.9):
    """Wrong: updates w and velocity in place."""
    velocity *= momentum
    velocity -= lr * dw
    w += velocity
    return w, velocity


def adam_keras_form(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    """Correct, differently written: Kingma & Ba's efficient form (Keras's), with the corrections folded into lr."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * np.square(dw)
    alpha = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - alpha * m / (np.sqrt(v) + eps), m, v


def adam_with(correct_bias=True, t_shift=0, square=True, eps_inside=False, swap_m=False):
    """An Adam step with one deliberate mistake."""
    def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        m = beta1 * dw + (1 - beta1) * m if swap_m else beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * (dw * dw if square else np.abs(dw))
        mh, vh = (m / (1 - beta1 ** (t + t_shift)), v / (1 - beta2 ** (t + t_shift))) if correct_bias else (m, v)
        return w - lr * mh / (np.sqrt(vh + eps) if eps_inside else np.sqrt(vh) + eps), m, v
    return adam_step


# ---------------------------------------------------------------------------
# C3 schedules
# ---------------------------------------------------------------------------


def step_loop(t, lr0, boundaries=(30, 60, 90), factor=0.1):
    """Correct, differently written: a loop over sorted boundaries, numpy float32."""
    lr = np.float32(lr0)
    for b in sorted(boundaries):
        if t > b:
            lr = lr * np.float32(factor)
    return lr


def step_at_boundary(t, lr0, boundaries=(30, 60, 90), factor=0.1):
    """Wrong: drops at the boundary itself (t >= b)."""
    return lr0 * factor ** sum(t >= b for b in boundaries)


def step_hardcoded(t, lr0, boundaries=(30, 60, 90), factor=0.1):
    """Wrong: ignores the boundaries argument."""
    return lr0 * factor ** sum(t > b for b in (30, 60, 90))


def step_periodic(t, lr0, boundaries=(30, 60, 90), factor=0.1):
    """Wrong: every 30 epochs, whatever the boundaries."""
    return lr0 * factor ** (t // boundaries[0])


def step_linear_factor(t, lr0, boundaries=(30, 60, 90), factor=0.1):
    """Wrong: multiplies by factor times the count."""
    k = sum(t > b for b in boundaries)
    return lr0 * (factor * k if k else 1.0)


def cosine_numpy(t, lr0, T):
    """Correct, differently written: cos^2 half-angle identity, float32."""
    return np.float32(lr0 * np.cos(np.pi * np.clip(t / T, 0.0, 1.0) / 2) ** 2)


def cosine_unclamped(t, lr0, T):
    """Wrong: keeps following the cosine after T."""
    return 0.5 * lr0 * (1 + math.cos(math.pi * t / T))


def cosine_no_pi(t, lr0, T):
    """Wrong: cos(t / T) without pi."""
    return 0.5 * lr0 * (1 + math.cos(min(t, T) / T))


def cosine_no_half(t, lr0, T):
    """Wrong: forgets the 1/2."""
    return lr0 * (1 + math.cos(math.pi * min(t, T) / T))


def cosine_rising(t, lr0, T):
    """Wrong: 1 - cos, a schedule that rises."""
    return 0.5 * lr0 * (1 - math.cos(math.pi * min(t, T) / T))


def linear_piecewise(t, lr0, T):
    """Correct, differently written: np.interp."""
    return float(np.interp(t, [0.0, T], [lr0, 0.0]))


def linear_unclamped(t, lr0, T):
    """Wrong: goes negative after T."""
    return lr0 * (1 - t / T)


def linear_rising(t, lr0, T):
    """Wrong: rises from 0 to lr0."""
    return lr0 * min(t, T) / T


def linear_forgets_lr0(t, lr0, T):
    """Wrong: lr0 - t / T."""
    return max(lr0 - t / T, 0.0)


def linear_integer_epochs(t, lr0, T):
    """Wrong: floor division, so the rate only changes at T."""
    return lr0 * (1 - min(t, T) // T)


def inv_sqrt_keras_ops(t, lr0):
    """Correct (adversary13): keras.ops, which returns a float32 tensor."""
    return lr0 * keras.ops.rsqrt(keras.ops.maximum(t, 1.0))


def inv_sqrt_float32(t, lr0):
    """Correct: computed in np.float32."""
    return np.float32(lr0) / np.sqrt(np.float32(max(t, 1.0)))


def inv_sqrt_where(t, lr0):
    """Correct, differently written: an explicit branch and ** -0.5."""
    return lr0 if t < 1 else lr0 * t ** -0.5


def inv_sqrt_no_hold(t, lr0):
    """Wrong: divides by sqrt(t) at t = 0."""
    return lr0 / math.sqrt(t)


def inv_sqrt_small_hold(t, lr0):
    """Wrong: guards only t = 0."""
    return lr0 / math.sqrt(t) if t > 0 else lr0


def inv_sqrt_linear(t, lr0):
    """Wrong: lr0 / t."""
    return lr0 / max(t, 1.0)


def inv_sqrt_shifted(t, lr0):
    """Wrong: lr0 / sqrt(t + 1)."""
    return lr0 / math.sqrt(t + 1)


# ---------------------------------------------------------------------------
# C4 dropout_forward
# ---------------------------------------------------------------------------


def dropout_binomial(x, rate, training, rng):
    """Correct, differently written: a binomial keep mask, float32 output."""
    if not training:
        return x
    keep = rng.binomial(1, 1.0 - rate, size=x.shape).astype(np.float32)
    return (x * keep * (1.0 / (1.0 - rate))).astype(np.float32)


def dropout_with(keep_prob_rate=False, rescale=True, multiply=False, test_scaled=False, always=False, rows=False):
    """A dropout with one deliberate mistake."""
    def dropout_forward(x, rate, training, rng):
        if not training and not always:
            return x * (1 - rate) if test_scaled else x
        shape = (x.shape[0], 1) if rows else x.shape
        keep = rng.random(shape) < (rate if keep_prob_rate else 1 - rate)
        out = x * keep
        if rescale:
            out = out * (1 - rate) if multiply else out / (1 - rate)
        return out
    return dropout_forward


def dropout_global_rng(x, rate, training, rng):
    """Wrong: draws from NumPy's global generator instead of rng."""
    if not training:
        return x
    return x * (np.random.random(x.shape) >= rate) / (1 - rate)


def dropout_inplace(x, rate, training, rng):
    """Wrong: zeroes x in place."""
    if not training:
        return x
    x[rng.random(x.shape) < rate] = 0
    x /= 1 - rate
    return x


def dropout_with_mask(x, rate, training, rng):
    """Wrong convention: returns (out, mask), the cs231n habit."""
    mask = rng.random(x.shape) >= rate
    return (x * mask / (1 - rate), mask) if training else x


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

E = ex
CASES = [
    # A1
    correct(LAB, E.check_init_std, "init_std from a table of variances, float32", init_table),
    wrong(LAB, E.check_init_std, "He as sqrt(2)/fan_in", init_with(kaiming=lambda n: math.sqrt(2) / n),
          expect="square root"),
    wrong(LAB, E.check_init_std, "He returns the variance 2/fan_in", init_with(kaiming=lambda n: 2 / n),
          expect="variance"),
    wrong(LAB, E.check_init_std, "He as 2/sqrt(fan_in)", init_with(kaiming=lambda n: 2 / math.sqrt(n))),
    wrong(LAB, E.check_init_std, "He equal to Xavier", init_with(kaiming=lambda n: 1 / math.sqrt(n)),
          expect="doubles"),
    wrong(LAB, E.check_init_std, "Xavier as 1/fan_in", init_with(xavier=lambda n: 1 / n)),
    wrong(LAB, E.check_init_std, "small as 1e-4 (the variance)", init_with(small=lambda n: 1e-4)),
    wrong(LAB, E.check_init_std, "integer division in Xavier", init_with(xavier=lambda n: 1 // math.sqrt(n))),
    wrong(LAB, E.check_init_std, "unknown scheme falls back to 0.01", init_unknown_is_small, expect="ValueError"),
    wrong(LAB, E.check_init_std, "unknown scheme returns an array (adversary13)", init_returns_array_for_unknown,
          expect="ValueError"),
    wrong(LAB, E.check_init_std, "unknown scheme raises KeyError", init_key_error, expect="KeyError"),
    wrong(LAB, E.check_init_std, "still a stub", stub, expect="not implemented yet"),
    # A2
    correct(LAB, E.check_deep_forward, "deep_forward from list(weights), float32", deep_listcomp),
    wrong(LAB, E.check_deep_forward, "indexes a generator", deep_indexing, expect="generator"),
    wrong(LAB, E.check_deep_forward, "includes the input", deep_includes_input, expect="input"),
    wrong(LAB, E.check_deep_forward, "stores pre-activations", deep_pre_activation, expect="before the nonlinearity"),
    wrong(LAB, E.check_deep_forward, "nonlinearity before the product", deep_nonlinearity_first),
    wrong(LAB, E.check_deep_forward, "returns the last layer only", deep_last_only, expect="list"),
    wrong(LAB, E.check_deep_forward, "transposed product", deep_transposed),
    wrong(LAB, E.check_deep_forward, "still a stub", stub, expect="not implemented yet"),
    # B1
    correct(LAB, E.check_batchnorm_train_forward, "batch norm forward step by step, float32", bn_forward_steps),
    wrong(LAB, E.check_batchnorm_train_forward, "unbiased variance (ddof=1)",
          bn_forward_with(var_fn=lambda x: x.var(axis=0, ddof=1)), expect="1/(N-1)"),
    wrong(LAB, E.check_batchnorm_train_forward, "normalises over the features (axis 1)", bn_forward_with(axis=1),
          expect="axis 0"),
    wrong(LAB, E.check_batchnorm_train_forward, "eps outside the square root", bn_forward_with(eps_outside=True),
          expect="outside the square root"),
    wrong(LAB, E.check_batchnorm_train_forward, "gamma and beta swapped", bn_forward_with(swap=True),
          expect="swapped"),
    wrong(LAB, E.check_batchnorm_train_forward, "centres x in place", bn_forward_with(inplace=True),
          expect="in place"),
    wrong(LAB, E.check_batchnorm_train_forward, "returns only out", bn_forward_out_only, expect="(out, cache)"),
    wrong(LAB, E.check_batchnorm_train_forward, "cache is a tuple", bn_forward_no_cache_keys, expect="dict"),
    wrong(LAB, E.check_batchnorm_train_forward, "still a stub", stub, expect="not implemented yet"),
    # B2
    correct(LAB, E.check_update_running_stats, "running stats as interpolation", running_lerp),
    wrong(LAB, E.check_update_running_stats, "momentum swapped", running_swapped, expect="momentum weights"),
    wrong(LAB, E.check_update_running_stats, "updates in place", running_inplace, expect="in place"),
    wrong(LAB, E.check_update_running_stats, "variance from the batch mean", running_var_from_mean,
          expect="batch mean"),
    wrong(LAB, E.check_update_running_stats, "returns only the mean", running_mean_only, expect="2 values"),
    wrong(LAB, E.check_update_running_stats, "returns (var, mean)", running_order_swapped),
    wrong(LAB, E.check_update_running_stats, "still a stub", stub, expect="not implemented yet"),
    correct(LAB, E.check_batchnorm_test_forward, "test mode as one scale and shift, float32", eval_mode_fused),
    wrong(LAB, E.check_batchnorm_test_forward, "batch statistics at test time", eval_mode_batch_stats,
          expect="batch's own statistics"),
    wrong(LAB, E.check_batchnorm_test_forward, "eps outside the square root", eval_mode_eps_outside),
    wrong(LAB, E.check_batchnorm_test_forward, "divides by the variance", eval_mode_no_sqrt),
    wrong(LAB, E.check_batchnorm_test_forward, "forgets gamma and beta", eval_mode_no_affine),
    wrong(LAB, E.check_batchnorm_test_forward, "normalises x in place", eval_mode_inplace, expect="in place"),
    wrong(LAB, E.check_batchnorm_test_forward, "still a stub", stub, expect="not implemented yet"),
    # B3
    correct(LAB, E.check_batchnorm_backward, "backward through the graph, step by step", bn_forward_cache,
            bn_backward_staged),
    correct(LAB, E.check_batchnorm_backward, "compact backward with its own forward (float32 forward)",
            bn_forward_steps, lambda dout, c: bn_backward_with()(dout, {"xh": c["xn"], "std": c["s"],
                                                                        "gamma": c["g"]})),
    wrong(LAB, E.check_batchnorm_backward, "no mean and no variance terms", bn_forward_cache,
          bn_backward_with(mean_term=False, var_term=False), expect="mean and the variance"),
    wrong(LAB, E.check_batchnorm_backward, "no variance term", bn_forward_cache, bn_backward_with(var_term=False),
          expect="variance is missing"),
    wrong(LAB, E.check_batchnorm_backward, "no mean term", bn_forward_cache, bn_backward_with(mean_term=False),
          expect="mean is missing"),
    wrong(LAB, E.check_batchnorm_backward, "gamma missing from dx", bn_forward_cache,
          bn_backward_with(gamma_in_dx=False), expect="gamma"),
    wrong(LAB, E.check_batchnorm_backward, "N taken from the feature axis", bn_forward_cache,
          bn_backward_with(n_axis=1)),
    wrong(LAB, E.check_batchnorm_backward, "dgamma summed over features", bn_forward_cache,
          bn_backward_with(dgamma_axis=1), expect="dgamma"),
    wrong(LAB, E.check_batchnorm_backward, "dgamma without x_hat", bn_forward_cache, bn_backward_dgamma_no_xhat,
          expect="x_hat"),
    wrong(LAB, E.check_batchnorm_backward, "returns (dgamma, dbeta, dx)", bn_forward_cache, bn_backward_order),
    wrong(LAB, E.check_batchnorm_backward, "forward still a stub", stub, bn_backward_staged,
          expect="not implemented yet"),
    wrong(LAB, E.check_batchnorm_backward, "still a stub", bn_forward_cache, stub, expect="not implemented yet"),
    # B4
    correct(LAB, E.check_fuse_dense_batchnorm, "fuse with a diagonal matrix, float32", fuse_einsum),
    wrong(LAB, E.check_fuse_dense_batchnorm, "bias forgotten", fuse_with(bias=False), expect="bias b"),
    wrong(LAB, E.check_fuse_dense_batchnorm, "eps forgotten", fuse_with(eps_in=False), expect="eps"),
    wrong(LAB, E.check_fuse_dense_batchnorm, "beta forgotten", fuse_with(beta_in=False), expect="beta"),
    wrong(LAB, E.check_fuse_dense_batchnorm, "rows scaled instead of columns", fuse_with(rows=True)),
    wrong(LAB, E.check_fuse_dense_batchnorm, "b - mean not scaled", fuse_unscaled_bias, expect="scaled"),
    wrong(LAB, E.check_fuse_dense_batchnorm, "still a stub", stub, expect="not implemented yet"),
    # C1
    correct(LAB, E.check_build_mlp, "functional MLP with activation= and Activation layers", mlp_functional),
    correct(LAB, E.check_build_mlp, "Sequential MLP with ReLU layers", mlp_with()),
    wrong(LAB, E.check_build_mlp, "batch norm after the ReLU", mlp_with(bn_after_relu=True), expect="between"),
    wrong(LAB, E.check_build_mlp, "Dense keeps its bias before batch norm", mlp_with(keep_bias=True),
          expect="use_bias=False"),
    wrong(LAB, E.check_build_mlp, "bn_momentum ignored", mlp_with(momentum=0.99), expect="momentum"),
    wrong(LAB, E.check_build_mlp, "Dropout given the keep probability", mlp_with(keep_rate=True),
          expect="fraction dropped"),
    wrong(LAB, E.check_build_mlp, "no L2 on the output layer", mlp_with(l2_last=False), expect="output Dense"),
    wrong(LAB, E.check_build_mlp, "kernel_regularizer='l2' (factor 0.01)", mlp_with(l2_string=True),
          expect="L2 penalty"),
    wrong(LAB, E.check_build_mlp, "He initialiser", mlp_with(init="he_normal"), expect="glorot"),
    wrong(LAB, E.check_build_mlp, "softmax output", mlp_with(softmax=True), expect="logits"),
    wrong(LAB, E.check_build_mlp, "one hidden block too many", mlp_with(extra_layer=True), expect="Dense layers"),
    wrong(LAB, E.check_build_mlp, "Flatten forgotten", mlp_with(no_flatten=True), expect="(2, 10)"),
    wrong(LAB, E.check_build_mlp, "batch norm without center and scale (adversary13)", mlp_bn_no_center,
          expect="beta"),
    correct(LAB, E.check_build_mlp, "batch norm without scale before the ReLU", mlp_bn_no_scale),
    wrong(LAB, E.check_build_mlp, "Dense(relu), batch norm, ReLU (adversary13)", mlp_dense_relu_then_bn,
          expect="layers"),
    wrong(LAB, E.check_build_mlp, "Dense(relu), batch norm, ReLU, hidden config (adversary13)",
          mlp_dense_relu_then_bn, expect="layers",
          configs=((4, 10, {"batch_norm": True, "dropout": 0.1, "bn_momentum": 0.8}),)),
    wrong(LAB, E.check_build_mlp, "still a stub", stub, expect="not implemented yet"),
    # C2
    correct(LAB, E.check_momentum_step, "momentum with PyTorch's velocity convention", momentum_torch),
    correct(LAB, E.check_momentum_step, "momentum in float32 (adversary13)", momentum_float32),
    wrong(LAB, E.check_momentum_step, "Nesterov momentum", momentum_nesterov, expect="Nesterov"),
    wrong(LAB, E.check_momentum_step, "velocity not carried", momentum_forgets_velocity, expect="plain SGD"),
    wrong(LAB, E.check_momentum_step, "gradient ascent", momentum_sign),
    wrong(LAB, E.check_momentum_step, "moves with the old velocity", momentum_old_velocity),
    wrong(LAB, E.check_momentum_step, "updates in place", momentum_inplace, expect="in place"),
    wrong(LAB, E.check_momentum_step, "still a stub", stub, expect="not implemented yet"),
    correct(LAB, E.check_adam_step, "Adam in the paper's efficient (Keras) form", adam_keras_form),
    correct(LAB, E.check_adam_step, "Adam as in the docstring, written inline", adam_with()),
    correct(LAB, E.check_adam_step, "Adam in float32 (adversary13)", adam_float32),
    wrong(LAB, E.check_adam_step, "no bias correction", adam_with(correct_bias=False), expect="bias corrections"),
    wrong(LAB, E.check_adam_step, "bias correction with t + 1", adam_with(t_shift=1), expect="t + 1"),
    wrong(LAB, E.check_adam_step, "bias correction with t - 1", adam_with(t_shift=-1)),
    wrong(LAB, E.check_adam_step, "|dw| instead of dw squared", adam_with(square=False)),
    wrong(LAB, E.check_adam_step, "eps inside the square root", adam_with(eps_inside=True), expect="outside"),
    wrong(LAB, E.check_adam_step, "m's weights swapped", adam_with(swap_m=True)),
    wrong(LAB, E.check_adam_step, "still a stub", stub, expect="not implemented yet"),
    # C3
    correct(LAB, E.check_step_lr, "step_lr with a loop, float32", step_loop),
    wrong(LAB, E.check_step_lr, "drops at the boundary itself", step_at_boundary, expect="t > b"),
    wrong(LAB, E.check_step_lr, "hard-coded boundaries", step_hardcoded),
    wrong(LAB, E.check_step_lr, "periodic every first boundary", step_periodic),
    wrong(LAB, E.check_step_lr, "factor times count", step_linear_factor),
    wrong(LAB, E.check_step_lr, "still a stub", stub, expect="not implemented yet"),
    correct(LAB, E.check_cosine_lr, "cosine via cos^2, float32", cosine_numpy),
    wrong(LAB, E.check_cosine_lr, "not held at 0 after T", cosine_unclamped, expect="min(t, T)"),
    wrong(LAB, E.check_cosine_lr, "no pi", cosine_no_pi),
    wrong(LAB, E.check_cosine_lr, "no 1/2", cosine_no_half),
    wrong(LAB, E.check_cosine_lr, "1 - cos", cosine_rising),
    wrong(LAB, E.check_cosine_lr, "still a stub", stub, expect="not implemented yet"),
    correct(LAB, E.check_linear_lr, "linear via np.interp", linear_piecewise),
    wrong(LAB, E.check_linear_lr, "negative after T", linear_unclamped, expect="min(t, T)"),
    wrong(LAB, E.check_linear_lr, "rising", linear_rising),
    wrong(LAB, E.check_linear_lr, "lr0 - t/T", linear_forgets_lr0),
    wrong(LAB, E.check_linear_lr, "floor division", linear_integer_epochs),
    wrong(LAB, E.check_linear_lr, "still a stub", stub, expect="not implemented yet"),
    correct(LAB, E.check_inv_sqrt_lr, "inv sqrt with a branch", inv_sqrt_where),
    correct(LAB, E.check_inv_sqrt_lr, "inv sqrt with keras.ops, float32 (adversary13)", inv_sqrt_keras_ops),
    correct(LAB, E.check_inv_sqrt_lr, "inv sqrt in np.float32", inv_sqrt_float32),
    wrong(LAB, E.check_inv_sqrt_lr, "no hold at t = 0", inv_sqrt_no_hold, expect="ZeroDivisionError"),
    wrong(LAB, E.check_inv_sqrt_lr, "holds only t = 0", inv_sqrt_small_hold, expect="t < 1"),
    wrong(LAB, E.check_inv_sqrt_lr, "1/t", inv_sqrt_linear),
    wrong(LAB, E.check_inv_sqrt_lr, "sqrt(t + 1)", inv_sqrt_shifted),
    wrong(LAB, E.check_inv_sqrt_lr, "still a stub", stub, expect="not implemented yet"),
    # C4
    correct(LAB, E.check_dropout_forward, "dropout with a binomial mask, float32", dropout_binomial),
    wrong(LAB, E.check_dropout_forward, "keeps with probability rate", dropout_with(keep_prob_rate=True),
          expect="probability of dropping"),
    wrong(LAB, E.check_dropout_forward, "survivors not rescaled", dropout_with(rescale=False), expect="rescaled"),
    wrong(LAB, E.check_dropout_forward, "survivors multiplied by 1 - rate", dropout_with(multiply=True),
          expect="multiplied"),
    wrong(LAB, E.check_dropout_forward, "test mode scales by 1 - rate", dropout_with(test_scaled=True),
          expect="test mode"),
    wrong(LAB, E.check_dropout_forward, "drops at test time too", dropout_with(always=True), expect="training=False"),
    wrong(LAB, E.check_dropout_forward, "one mask per example", dropout_with(rows=True), expect="rows"),
    wrong(LAB, E.check_dropout_forward, "global NumPy generator", dropout_global_rng, expect="rng"),
    wrong(LAB, E.check_dropout_forward, "zeroes x in place", dropout_inplace, expect="in place"),
    wrong(LAB, E.check_dropout_forward, "returns (out, mask)", dropout_with_mask, expect="tuple"),
    wrong(LAB, E.check_dropout_forward, "still a stub", stub, expect="not implemented yet"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)
