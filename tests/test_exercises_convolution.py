"""Lab 2's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import io
import math
from contextlib import redirect_stdout

import keras
import numpy as np
import pytest
from mutation import correct, verify, wrong
from numpy.lib.stride_tricks import sliding_window_view

from utils.exercises import convolution as ex

LAB = "02 convolution"


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# A1: output sizes
# ---------------------------------------------------------------------------


def size_floor(W, F, S=1, P=0):
    """Correct, differently written: math.floor of a true division."""
    return math.floor((W - F + 2 * P) / S) + 1


def size_numpy(W, F, S=1, P=0):
    """Correct: a NumPy integer (np.int64) is an int too."""
    return np.floor_divide(np.int64(W - F + 2 * P), S) + 1


def size_true_division(W, F, S=1, P=0):
    """Wrong: `/` gives a float."""
    return (W - F + 2 * P) / S + 1


def size_no_plus_one(W, F, S=1, P=0):
    """Wrong: the +1 forgotten."""
    return (W - F + 2 * P) // S


def size_pad_once(W, F, S=1, P=0):
    """Wrong: the padding counted on one side only."""
    return (W - F + P) // S + 1


def size_ceil(W, F, S=1, P=0):
    """Wrong: rounds up, keeping a window that hangs over the edge."""
    return math.ceil((W - F + 2 * P) / S) + 1


def size_no_stride(W, F, S=1, P=0):
    """Wrong: the stride ignored."""
    return W - F + 2 * P + 1


def keras_size_ceil(W, F, S, padding):
    """Correct, differently written: math.ceil and the formula with P = 0."""
    return math.ceil(W / S) if padding == "same" else (W - F) // S + 1


def keras_size_ranges(W, F, S, padding):
    """Correct: count the window starts."""
    return len(range(0, W, S)) if padding == "same" else len(range(0, W - F + 1, S))


def keras_same_is_w(W, F, S, padding):
    """Wrong: 'same' keeps the width whatever the stride."""
    return W if padding == "same" else (W - F) // S + 1


def keras_same_half_kernel(W, F, S, padding):
    """Wrong: 'same' as the size formula with P = (F - 1) // 2 (right only for odd F at stride 1)."""
    return size_floor(W, F, S, (F - 1) // 2 if padding == "same" else 0)


def keras_valid_no_stride(W, F, S, padding):
    """Wrong: 'valid' ignores the stride."""
    return math.ceil(W / S) if padding == "same" else W - F + 1


def keras_swapped(W, F, S, padding):
    """Wrong: the two paddings swapped."""
    return keras_size_ceil(W, F, S, "valid" if padding == "same" else "same")


def keras_same_floor(W, F, S, padding):
    """Wrong: 'same' rounds down."""
    return W // S if padding == "same" else (W - F) // S + 1


def same_half(F):
    """Correct for odd F: F // 2."""
    return F // 2


def same_total(F):
    """Wrong: the total padding, not the padding per side."""
    return F - 1


def same_plus(F):
    """Wrong: one too many."""
    return (F + 1) // 2


def same_float(F):
    """Wrong: a float (np.pad needs ints)."""
    return (F - 1) / 2


def same_zero(F):
    """Wrong: no padding at all."""
    return 0


# ---------------------------------------------------------------------------
# A2: costs
# ---------------------------------------------------------------------------


def params_rewritten(F, D1, K):
    """Correct, differently written."""
    return K * F ** 2 * D1 + K


def params_no_bias(F, D1, K):
    return F * F * D1 * K


def params_one_bias(F, D1, K):
    return F * F * D1 * K + 1


def params_no_depth(F, D1, K):
    return (F * F + 1) * K


def params_one_filter(F, D1, K):
    return F * F * D1 + 1


def mults_rewritten(W2, H2, F, D1, K):
    """Correct, differently written."""
    return int(np.prod([W2, H2, K, F, F, D1]))


def mults_bias(W2, H2, F, D1, K):
    return W2 * H2 * K * (F * F * D1 + 1)


def mults_square(W2, H2, F, D1, K):
    return W2 * W2 * K * F * F * D1


def mults_no_depth(W2, H2, F, D1, K):
    return W2 * H2 * K * F * F


def mults_no_filters(W2, H2, F, D1, K):
    return W2 * H2 * F * F * D1


# ---------------------------------------------------------------------------
# B1: conv_forward_naive
# ---------------------------------------------------------------------------


def conv_loops(x, w, b, stride=1, pad=0):
    """The solution's approach: loops over images, positions and filters."""
    N, H, W, C = x.shape
    F, _, _, K = w.shape
    H2, W2 = (H - F + 2 * pad) // stride + 1, (W - F + 2 * pad) // stride + 1
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((N, H2, W2, K))
    for n in range(N):
        for i in range(H2):
            for j in range(W2):
                window = xp[n, i * stride:i * stride + F, j * stride:j * stride + F, :]
                for k in range(K):
                    out[n, i, j, k] = np.sum(window * w[..., k]) + b[k]
    return out


def conv_einsum(x, w, b, stride=1, pad=0):
    """Correct, differently written: one einsum per kernel offset, in float32."""
    x, w = x.astype(np.float32), w.astype(np.float32)
    F = w.shape[0]
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    H2, W2 = (xp.shape[1] - F) // stride + 1, (xp.shape[2] - F) // stride + 1
    out = np.zeros((x.shape[0], H2, W2, w.shape[-1]), np.float32)
    for a in range(F):
        for c in range(F):
            patch = xp[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :]
            out += np.einsum("nhwc,ck->nhwk", patch, w[a, c])
    return out + b.astype(np.float32)


def conv_width_from_height(x, w, b, stride=1, pad=0):
    """Wrong: the output width computed from the input height."""
    N, H, W, C = x.shape
    F, K = w.shape[0], w.shape[-1]
    H2 = (H - F + 2 * pad) // stride + 1
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    out = np.zeros((N, H2, H2, K))
    for i in range(H2):
        for j in range(H2):
            window = xp[:, i * stride:i * stride + F, j * stride:j * stride + F, :]
            if window.shape[2] < F:
                continue
            out[:, i, j, :] = np.tensordot(window, w, axes=3) + b
    return out


def conv_flipped(x, w, b, stride=1, pad=0):
    """Wrong: a true convolution (flipped kernel) instead of Keras's cross-correlation."""
    return conv_loops(x, w[::-1, ::-1], b, stride, pad)


def conv_no_bias(x, w, b, stride=1, pad=0):
    """Wrong: the bias is forgotten."""
    return conv_loops(x, w, np.zeros_like(b), stride, pad)


def conv_ignores_stride(x, w, b, stride=1, pad=0):
    """Wrong: windows step by one whatever the stride, then the output is cropped to size."""
    full = conv_loops(x, w, b, 1, pad)
    H2 = (x.shape[1] - w.shape[0] + 2 * pad) // stride + 1
    W2 = (x.shape[2] - w.shape[0] + 2 * pad) // stride + 1
    return full[:, :H2, :W2]


def conv_pad_one_side(x, w, b, stride=1, pad=0):
    """Wrong: padding added only at the bottom and right."""
    xp = np.pad(x, ((0, 0), (0, 2 * pad), (0, 2 * pad), (0, 0)))
    return conv_loops(xp, w, b, stride, 0)


def conv_out_cache(x, w, b, stride=1, pad=0):
    """Wrong convention: returns (out, cache), the cs231n habit."""
    return conv_loops(x, w, b, stride, pad), (x, w, b)


def conv_list(x, w, b, stride=1, pad=0):
    """Wrong convention: returns a nested list."""
    return conv_loops(x, w, b, stride, pad).tolist()


# ---------------------------------------------------------------------------
# B2: im2col and conv_forward_im2col
# ---------------------------------------------------------------------------


def im2col_offsets(x_pad, F, stride):
    """The solution's approach: one strided slice per kernel offset."""
    N, Hp, Wp, C = x_pad.shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    cols = np.empty((N, H2, W2, F, F, C), dtype=x_pad.dtype)
    for a in range(F):
        for c in range(F):
            cols[:, :, :, a, c, :] = x_pad[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :]
    return cols.reshape(N * H2 * W2, F * F * C)


def im2col_windows(x_pad, F, stride):
    """Correct, differently written: one row per window, in float32."""
    N, Hp, Wp, C = x_pad.shape
    rows = []
    for n in range(N):
        for i in range(0, Hp - F + 1, stride):
            for j in range(0, Wp - F + 1, stride):
                rows.append(x_pad[n, i:i + F, j:j + F, :].ravel())
    return np.array(rows, dtype=np.float32)


def im2col_channel_first(x_pad, F, stride):
    """Wrong: columns in (channel, height, width) order."""
    N, Hp, Wp, C = x_pad.shape
    cols = im2col_offsets(x_pad, F, stride).reshape(-1, F, F, C)
    return cols.transpose(0, 3, 1, 2).reshape(cols.shape[0], -1)


def im2col_width_first(x_pad, F, stride):
    """Wrong: width offset before height offset."""
    N, Hp, Wp, C = x_pad.shape
    cols = im2col_offsets(x_pad, F, stride).reshape(-1, F, F, C)
    return cols.transpose(0, 2, 1, 3).reshape(cols.shape[0], -1)


def im2col_no_stride(x_pad, F, stride):
    """Wrong: steps by one, then keeps the first rows."""
    N, Hp, Wp, C = x_pad.shape
    rows = N * ((Hp - F) // stride + 1) * ((Wp - F) // stride + 1)
    return im2col_offsets(x_pad, F, 1)[:rows]


def im2col_square(x_pad, F, stride):
    """Wrong: W2 computed from the height."""
    N, Hp, Wp, C = x_pad.shape
    H2 = (Hp - F) // stride + 1
    cols = np.zeros((N, H2, H2, F, F, C))
    for a in range(F):
        for c in range(F):
            part = x_pad[:, a:a + stride * H2:stride, c:c + stride * H2:stride, :]
            cols[:, :, :part.shape[2], a, c, :] = part
    return cols.reshape(N * H2 * H2, F * F * C)


def im2col_rows_batch_last(x_pad, F, stride):
    """Wrong: rows in (i, j, n) order."""
    N, Hp, Wp, C = x_pad.shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    cols = im2col_offsets(x_pad, F, stride).reshape(N, H2, W2, -1)
    return cols.transpose(1, 2, 0, 3).reshape(N * H2 * W2, -1)


def im2col_off_by_one(x_pad, F, stride):
    """Wrong: one window too few along each axis (the +1 forgotten)."""
    N, Hp, Wp, C = x_pad.shape
    H2, W2 = (Hp - F) // stride, (Wp - F) // stride
    cols = im2col_offsets(x_pad, F, stride).reshape(N, H2 + 1, W2 + 1, -1)
    return cols[:, :H2, :W2].reshape(N * H2 * W2, -1)


def conv_im2col(x, w, b, stride=1, pad=0):
    """The solution's approach: im2col, one matrix product, cache for the backward pass."""
    N, H, W, C = x.shape
    F, _, _, K = w.shape
    H2, W2 = (H - F + 2 * pad) // stride + 1, (W - F + 2 * pad) // stride + 1
    cols = im2col_offsets(np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))), F, stride)
    out = (cols @ w.reshape(F * F * C, K) + b).reshape(N, H2, W2, K)
    return out, (x.shape, cols, w, stride, pad)


def conv_im2col_windows_list(x, w, b, stride=1, pad=0):
    """Correct, differently written: sliding_window_view and tensordot in float32, returned as a list pair."""
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    F = w.shape[0]
    xp = np.pad(x32, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    win = sliding_window_view(xp, (F, F), axis=(1, 2))[:, ::stride, ::stride]  # (N, H2, W2, C, F, F)
    out = np.tensordot(win, w32, axes=([4, 5, 3], [0, 1, 2])) + b.astype(np.float32)
    return [out, {"x": x, "w": w}]


def conv_im2col_only_out(x, w, b, stride=1, pad=0):
    """Wrong convention: only out, no cache."""
    return conv_im2col(x, w, b, stride, pad)[0]


def conv_im2col_weights_kfirst(x, w, b, stride=1, pad=0):
    """Wrong: w.reshape(K, -1).T does not pair the weights with im2col's columns."""
    N, H, W, C = x.shape
    F, _, _, K = w.shape
    H2, W2 = (H - F + 2 * pad) // stride + 1, (W - F + 2 * pad) // stride + 1
    cols = im2col_offsets(np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0))), F, stride)
    return (cols @ w.reshape(K, -1).T + b).reshape(N, H2, W2, K), None


def conv_im2col_no_bias(x, w, b, stride=1, pad=0):
    return conv_im2col(x, w, np.zeros_like(b), stride, pad)


def conv_im2col_no_pad(x, w, b, stride=1, pad=0):
    """Wrong: the padding forgotten (pad 0 cases still pass)."""
    return conv_im2col(x, w, b, stride, 0)


def conv_im2col_reshape_nkhw(x, w, b, stride=1, pad=0):
    """Wrong: the product reshaped to (N, K, H2, W2) then moved to NHWC: mixes filters and positions."""
    out, cache = conv_im2col(x, w, b, stride, pad)
    N, H2, W2, K = out.shape
    return out.reshape(N, K, H2, W2).transpose(0, 2, 3, 1), cache


def conv_im2col_triple(x, w, b, stride=1, pad=0):
    """Wrong convention: (out, cols, w)."""
    out, cache = conv_im2col(x, w, b, stride, pad)
    return out, cache[1], w


# ---------------------------------------------------------------------------
# C1: col2im
# ---------------------------------------------------------------------------


def col2im_offsets(dcols, x_pad_shape, F, stride):
    """The solution's approach: add one strided slice per kernel offset."""
    N, Hp, Wp, C = x_pad_shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    d = dcols.reshape(N, H2, W2, F, F, C)
    dx = np.zeros(x_pad_shape)
    for a in range(F):
        for c in range(F):
            dx[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :] += d[:, :, :, a, c, :]
    return dx


def col2im_windows(dcols, x_pad_shape, F, stride):
    """Correct, differently written: one window at a time."""
    N, Hp, Wp, C = x_pad_shape
    dx = np.zeros(x_pad_shape)
    row = 0
    for n in range(N):
        for i in range(0, Hp - F + 1, stride):
            for j in range(0, Wp - F + 1, stride):
                dx[n, i:i + F, j:j + F, :] += dcols[row].reshape(F, F, C)
                row += 1
    return dx


def col2im_overwrite(dcols, x_pad_shape, F, stride):
    """Wrong: `=` instead of `+=`, so overlapping windows overwrite each other."""
    N, Hp, Wp, C = x_pad_shape
    dx = np.zeros(x_pad_shape)
    row = 0
    for n in range(N):
        for i in range(0, Hp - F + 1, stride):
            for j in range(0, Wp - F + 1, stride):
                dx[n, i:i + F, j:j + F, :] = dcols[row].reshape(F, F, C)
                row += 1
    return dx


def col2im_width_first(dcols, x_pad_shape, F, stride):
    """Wrong: reads each row as (width offset, height offset, channel)."""
    C = x_pad_shape[-1]
    d = dcols.reshape(-1, F, F, C).transpose(0, 2, 1, 3).reshape(dcols.shape)
    return col2im_offsets(d, x_pad_shape, F, stride)


def col2im_no_stride(dcols, x_pad_shape, F, stride):
    """Wrong: windows placed at stride 1."""
    N, Hp, Wp, C = x_pad_shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    d = dcols.reshape(N, H2, W2, F, F, C)
    dx = np.zeros(x_pad_shape)
    for a in range(F):
        for c in range(F):
            dx[:, a:a + H2, c:c + W2, :] += d[:, :, :, a, c, :]
    return dx


def col2im_average(dcols, x_pad_shape, F, stride):
    """Wrong: averages overlapping windows instead of summing them."""
    dx = col2im_offsets(dcols, x_pad_shape, F, stride)
    counts = col2im_offsets(np.ones_like(dcols), x_pad_shape, F, stride)
    return dx / np.maximum(counts, 1)


def col2im_square(dcols, x_pad_shape, F, stride):
    """Wrong: W2 computed from the height."""
    N, Hp, Wp, C = x_pad_shape
    return col2im_offsets(dcols, (N, Hp, Hp, C), F, stride)


# ---------------------------------------------------------------------------
# C2: conv_backward_im2col (with the correct forward pass above)
# ---------------------------------------------------------------------------


def backward_solution_like(dout, cache):
    """The solution's approach, crop with pad:pad + H."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    F, _, _, K = w.shape
    d = dout.reshape(-1, K)
    dcols = d @ w.reshape(F * F * C, K).T
    dx_pad = col2im_offsets(dcols, (N, H + 2 * pad, W + 2 * pad, C), F, stride)
    return dx_pad[:, pad:pad + H, pad:pad + W, :], (cols.T @ d).reshape(w.shape), d.sum(axis=0)


def _col2im_float64(dcols, shape, F, stride):
    N, Hp, Wp, C = shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    d = dcols.reshape(N, H2, W2, F, F, C)
    dx = np.zeros(shape)  # float64 by default, whatever the dtype of dcols
    for a in range(F):
        for c in range(F):
            dx[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :] += d[:, :, :, a, c, :]
    return dx


def conv_im2col_float32(x, w, b, stride=1, pad=0):
    """Correct (adversary13): the forward pass in float32, so the cache holds float32 columns and weights."""
    out, cache = conv_im2col(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), stride, pad)
    return out, cache


def backward_after_float32(dout, cache):
    """Correct (adversary13): backward on a float32 cache, col2im promoting dx to float64 with a default np.zeros."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    F, _, _, K = w.shape
    dm = dout.reshape(-1, K)
    dx = _col2im_float64(dm @ w.reshape(-1, K).T, (N, H + 2 * pad, W + 2 * pad, C), F, stride)
    return dx[:, pad:pad + H, pad:pad + W], (cols.T @ dm).reshape(w.shape), dm.sum(0)


def backward_einsum(dout, cache):
    """Correct, differently written: einsum and the window-by-window col2im, crop from the far end."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    F, K = w.shape[0], w.shape[-1]
    d = dout.reshape(-1, K)
    dw = np.einsum("rp,rk->pk", cols, d).reshape(w.shape)
    dcols = np.einsum("rk,pk->rp", d, w.reshape(-1, K))
    dx_pad = col2im_windows(dcols, (N, H + 2 * pad, W + 2 * pad, C), F, stride)
    Hp, Wp = dx_pad.shape[1:3]
    return dx_pad[:, pad:Hp - pad, pad:Wp - pad], dw, np.einsum("nhwk->k", dout)


def backward_negative_crop(dout, cache):
    """Wrong: `dx_pad[:, pad:-pad, pad:-pad]` keeps nothing at pad=0."""
    x_shape, cols, w, stride, pad = cache
    dx, dw, db = backward_solution_like(dout, cache)
    N, H, W, C = x_shape
    dcols = dout.reshape(-1, w.shape[-1]) @ w.reshape(-1, w.shape[-1]).T
    dx_pad = col2im_offsets(dcols, (N, H + 2 * pad, W + 2 * pad, C), w.shape[0], stride)
    return dx_pad[:, pad:-pad, pad:-pad], dw, db


def backward_dw_transposed(dout, cache):
    """Wrong: dw from dout.T @ cols, reshaped to w.shape (the axes scrambled)."""
    dx, dw, db = backward_solution_like(dout, cache)
    cols, w = cache[1], cache[2]
    return dx, (dout.reshape(-1, w.shape[-1]).T @ cols).reshape(w.shape), db


def backward_db_mean(dout, cache):
    """Wrong: db averages instead of summing."""
    dx, dw, db = backward_solution_like(dout, cache)
    return dx, dw, dout.reshape(-1, dout.shape[-1]).mean(axis=0)


def backward_overwrite(dout, cache):
    """Wrong: a col2im that overwrites overlapping windows."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    d = dout.reshape(-1, w.shape[-1])
    dx_pad = col2im_overwrite(d @ w.reshape(-1, w.shape[-1]).T, (N, H + 2 * pad, W + 2 * pad, C), w.shape[0], stride)
    _, dw, db = backward_solution_like(dout, cache)
    return dx_pad[:, pad:pad + H, pad:pad + W], dw, db


def backward_no_crop(dout, cache):
    """Wrong: returns the padded gradient."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    d = dout.reshape(-1, w.shape[-1])
    dx_pad = col2im_offsets(d @ w.reshape(-1, w.shape[-1]).T, (N, H + 2 * pad, W + 2 * pad, C), w.shape[0], stride)
    _, dw, db = backward_solution_like(dout, cache)
    return dx_pad, dw, db


def backward_stride_one(dout, cache):
    """Wrong: col2im called with stride 1."""
    x_shape, cols, w, stride, pad = cache
    N, H, W, C = x_shape
    d = dout.reshape(-1, w.shape[-1])
    dx_pad = col2im_no_stride(d @ w.reshape(-1, w.shape[-1]).T, (N, H + 2 * pad, W + 2 * pad, C), w.shape[0], stride)
    _, dw, db = backward_solution_like(dout, cache)
    return dx_pad[:, pad:pad + H, pad:pad + W], dw, db


def backward_two(dout, cache):
    """Wrong convention: (dx, dw) without db."""
    return backward_solution_like(dout, cache)[:2]


# ---------------------------------------------------------------------------
# D1, D2: pooling
# ---------------------------------------------------------------------------


def pool_windows(x, size, stride):
    """(N, H2, W2, size * size, C) windows in row-major order."""
    N, H, W, C = x.shape
    H2, W2 = (H - size) // stride + 1, (W - size) // stride + 1
    win = np.empty((N, H2, W2, size * size, C), dtype=x.dtype)
    for a in range(size):
        for c in range(size):
            win[:, :, :, a * size + c, :] = x[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :]
    return win


def pool_offsets(x, size, stride, mode="max"):
    """The solution's approach."""
    win = pool_windows(x, size, stride)
    out = win.max(axis=3) if mode == "max" else win.mean(axis=3)
    return out, (x.shape, win, size, stride, mode)


def pool_sliding_f32(x, size, stride, mode="max"):
    """Correct, differently written: sliding_window_view in float32; the cache is (x, size, stride, mode)."""
    v = sliding_window_view(x.astype(np.float32), (size, size), axis=(1, 2))[:, ::stride, ::stride]
    out = v.max(axis=(4, 5)) if mode == "max" else v.mean(axis=(4, 5))
    return out, (x, size, stride, mode)


def pool_only_out(x, size, stride, mode="max"):
    return pool_offsets(x, size, stride, mode)[0]


def pool_avg_sum(x, size, stride, mode="max"):
    """Wrong: 'avg' sums the window."""
    win = pool_windows(x, size, stride)
    return (win.max(axis=3) if mode == "max" else win.sum(axis=3)), None


def pool_channel_axis(x, size, stride, mode="max"):
    """Wrong: reduces over the channels instead of the window."""
    win = pool_windows(x, size, stride)
    return (win.max(axis=-1) if mode == "max" else win.mean(axis=-1)), None


def pool_square(x, size, stride, mode="max"):
    """Wrong: W2 from the height."""
    return pool_offsets(x[:, :, :x.shape[1]] if x.shape[2] >= x.shape[1] else
                        np.pad(x, ((0, 0), (0, 0), (0, x.shape[1] - x.shape[2]), (0, 0))), size, stride, mode)


def pool_stride_is_size(x, size, stride, mode="max"):
    """Wrong: the stride ignored (windows never overlap)."""
    return pool_offsets(x, size, size, mode)


def pool_modes_swapped(x, size, stride, mode="max"):
    return pool_offsets(x, size, stride, "avg" if mode == "max" else "max")


def pool_back_solution_like(dout, cache):
    """The solution's approach: first argmax, add overlapping windows."""
    x_shape, win, size, stride, mode = cache
    N, H2, W2, C = dout.shape
    if mode == "max":
        share = (np.arange(size * size)[None, None, None, :, None] == win.argmax(axis=3)[:, :, :, None, :])
    else:
        share = np.full(win.shape, 1.0 / (size * size))
    dwin = share * dout[:, :, :, None, :]
    dx = np.zeros(x_shape)
    for a in range(size):
        for c in range(size):
            dx[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :] += dwin[:, :, :, a * size + c, :]
    return dx


def pool_back_loops(dout, cache):
    """Correct, differently written: loops per window with np.unravel_index, for pool_sliding_f32's cache."""
    x, size, stride, mode = cache
    dx = np.zeros(x.shape)
    N, H2, W2, C = dout.shape
    for n in range(N):
        for i in range(H2):
            for j in range(W2):
                for k in range(C):
                    window = x[n, i * stride:i * stride + size, j * stride:j * stride + size, k]
                    if mode == "max":
                        a, c = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, i * stride + a, j * stride + c, k] += dout[n, i, j, k]
                    else:
                        share = dout[n, i, j, k] / size ** 2
                        dx[n, i * stride:i * stride + size, j * stride:j * stride + size, k] += share
    return dx


def pool_back_overwrite(dout, cache):
    """Wrong: `=` instead of `+=` where windows overlap."""
    x_shape, win, size, stride, mode = cache
    dx = np.zeros(x_shape)
    N, H2, W2, C = dout.shape
    for n in range(N):
        for i in range(H2):
            for j in range(W2):
                for k in range(C):
                    if mode == "max":
                        a, c = divmod(int(win[n, i, j, :, k].argmax()), size)
                        dx[n, i * stride + a, j * stride + c, k] = dout[n, i, j, k]
                    else:
                        share = dout[n, i, j, k] / size ** 2
                        dx[n, i * stride:i * stride + size, j * stride:j * stride + size, k] = share
    return dx


def pool_back_all_maxima(dout, cache):
    """Wrong: every tied maximum gets the whole gradient."""
    x_shape, win, size, stride, mode = cache
    if mode != "max":
        return pool_back_solution_like(dout, cache)
    N, H2, W2, C = dout.shape
    dwin = (win == win.max(axis=3, keepdims=True)) * dout[:, :, :, None, :]
    dx = np.zeros(x_shape)
    for a in range(size):
        for c in range(size):
            dx[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :] += dwin[:, :, :, a * size + c, :]
    return dx


def pool_back_last_max(dout, cache):
    """Wrong: ties go to the last maximum."""
    x_shape, win, size, stride, mode = cache
    if mode != "max":
        return pool_back_solution_like(dout, cache)
    last = size * size - 1 - win[:, :, :, ::-1, :].argmax(axis=3)
    N, H2, W2, C = dout.shape
    dwin = (np.arange(size * size)[None, None, None, :, None] == last[:, :, :, None, :]) * dout[:, :, :, None, :]
    dx = np.zeros(x_shape)
    for a in range(size):
        for c in range(size):
            dx[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :] += dwin[:, :, :, a * size + c, :]
    return dx


def pool_back_avg_by_size(dout, cache):
    """Wrong: average pooling shares dout / size instead of dout / size**2."""
    x_shape, win, size, stride, mode = cache
    return pool_back_solution_like(dout, cache) * (size if mode == "avg" else 1)


def pool_back_stride_is_size(dout, cache):
    """Wrong: windows placed at stride `size` in the backward pass."""
    x_shape, win, size, stride, mode = cache
    return pool_back_solution_like(dout, (x_shape, win, size, size, mode)) if stride <= size else (
        pool_back_solution_like(dout, cache))


# ---------------------------------------------------------------------------
# E1: apply_kernel (on top of the correct im2col convolution)
# ---------------------------------------------------------------------------


def apply_solution_like(image, kernel):
    H, W = image.shape
    F = kernel.shape[0]
    out, _ = conv_im2col(image.reshape(1, H, W, 1), kernel.reshape(F, F, 1, 1), np.zeros(1), 1, (F - 1) // 2)
    return out.reshape(H, W)


def apply_sliding(image, kernel):
    """Correct, differently written: np.pad and sliding_window_view."""
    p = kernel.shape[0] // 2
    windows = sliding_window_view(np.pad(image, p), kernel.shape)
    return np.einsum("hwab,ab->hw", windows, kernel)


def apply_flipped(image, kernel):
    """Wrong: a true convolution (flipped kernel)."""
    return apply_solution_like(image, kernel[::-1, ::-1])


def apply_valid(image, kernel):
    """Wrong: no padding."""
    H, W = image.shape
    F = kernel.shape[0]
    out, _ = conv_im2col(image.reshape(1, H, W, 1), kernel.reshape(F, F, 1, 1), np.zeros(1), 1, 0)
    return out[0, :, :, 0]


def apply_transposed_reshape(image, kernel):
    """Wrong: the image reshaped as (1, W, H, 1)."""
    H, W = image.shape
    F = kernel.shape[0]
    out, _ = conv_im2col(image.reshape(1, W, H, 1), kernel.reshape(F, F, 1, 1), np.zeros(1), 1, (F - 1) // 2)
    return out.reshape(H, W)


def apply_pair(image, kernel):
    """Wrong: returns conv_forward_im2col's (out, cache)."""
    H, W = image.shape
    F = kernel.shape[0]
    return conv_im2col(image.reshape(1, H, W, 1), kernel.reshape(F, F, 1, 1), np.zeros(1), 1, (F - 1) // 2)


def apply_batch_shape(image, kernel):
    """Wrong: keeps the (1, H, W, 1) shape."""
    H, W = image.shape
    return apply_solution_like(image, kernel).reshape(1, H, W, 1)


def apply_total_pad(image, kernel):
    """Wrong: pads F - 1 zeros on each side."""
    H, W = image.shape
    F = kernel.shape[0]
    out, _ = conv_im2col(image.reshape(1, H, W, 1), kernel.reshape(F, F, 1, 1), np.zeros(1), 1, F - 1)
    return out[0, :, :, 0]


# ---------------------------------------------------------------------------
# F1: LeNet-5
# ---------------------------------------------------------------------------


def _pool(pooling):
    return {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}[pooling]


def lenet_sequential(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max",
                     dense_act=True, out_act=None, kernel=5, padding="valid", f6=True):
    """The solution's approach, with switches for the wrong variants."""
    layers = [keras.Input(shape=input_shape), keras.layers.Conv2D(6, kernel, activation=activation, padding=padding),
              _pool(pooling)(2), keras.layers.Conv2D(16, kernel, activation=activation), _pool(pooling)(2),
              keras.layers.Flatten(), keras.layers.Dense(120, activation=activation if dense_act else None)]
    if f6:
        layers.append(keras.layers.Dense(84, activation=activation if dense_act else None))
    layers.append(keras.layers.Dense(num_classes, activation=out_act))
    return keras.Sequential(layers)


def lenet_ignores_input_shape(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    """Wrong (adversary13): keras.Input((32, 32, 1)) hard-coded, input_shape ignored."""
    return lenet_sequential((32, 32, 1), num_classes, activation, pooling)


def lenet_functional_activation_layers(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    """Correct, differently written: functional API, separate Activation layers, odd names."""
    inputs = keras.Input(shape=input_shape, name="digits")
    h = inputs
    for filters, name in ((6, "first"), (16, "second")):
        h = keras.layers.Conv2D(filters, (5, 5), name=f"conv_{name}")(h)
        h = keras.layers.Activation(activation, name=f"act_{name}")(h)
        h = _pool(pooling)(pool_size=(2, 2), strides=(2, 2), name=f"pool_{name}")(h)
    h = keras.layers.Flatten()(h)
    for units in (120, 84):
        h = keras.layers.Dense(units)(h)
        h = keras.layers.Activation(activation)(h)
    return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(h))


def lenet_relu_after_maxpool(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    """Correct: the activation after max pooling (max commutes with a monotone activation); before average."""
    act = keras.layers.ReLU if activation == "relu" else (lambda: keras.layers.Activation(activation))
    blocks = []
    for filters in (6, 16):
        blocks.append(keras.layers.Conv2D(filters, 5))
        blocks += [_pool(pooling)(2), act()] if pooling == "max" else [act(), _pool(pooling)(2)]
    return keras.Sequential([keras.Input(shape=input_shape), *blocks, keras.layers.Flatten(),
                             keras.layers.Dense(120), act(), keras.layers.Dense(84), act(),
                             keras.layers.Dense(num_classes)])


def lenet_dense_linear(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    """Wrong: C5 and F6 left linear."""
    return lenet_sequential(input_shape, num_classes, activation, pooling, dense_act=False)


def lenet_softmax(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, activation, pooling, out_act="softmax")


def lenet_always_max(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, activation, "max")


def lenet_always_relu(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, "relu", pooling)


def lenet_same_padding(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, activation, pooling, padding="same")


def lenet_3x3(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, activation, pooling, kernel=3)


def lenet_no_f6(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, num_classes, activation, pooling, f6=False)


def lenet_layer_list(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    """Wrong: returns the list of layers, not a model."""
    return lenet_sequential(input_shape, num_classes, activation, pooling).layers


def lenet_fixed_classes(input_shape=(32, 32, 1), num_classes=10, activation="relu", pooling="max"):
    return lenet_sequential(input_shape, 10, activation, pooling)


CASES = [
    # A1
    correct(LAB, ex.check_conv_output_size, "conv_output_size with math.floor", size_floor),
    correct(LAB, ex.check_conv_output_size, "conv_output_size as a NumPy integer", size_numpy),
    wrong(LAB, ex.check_conv_output_size, "size with `/` (a float)", size_true_division, expect="int"),
    wrong(LAB, ex.check_conv_output_size, "size without +1", size_no_plus_one, expect="+1"),
    wrong(LAB, ex.check_conv_output_size, "size with the pad on one side", size_pad_once, expect="each"),
    wrong(LAB, ex.check_conv_output_size, "size rounded up", size_ceil, expect="rounding down"),
    wrong(LAB, ex.check_conv_output_size, "size ignoring the stride", size_no_stride, expect="stride"),
    wrong(LAB, ex.check_conv_output_size, "conv_output_size still a stub", stub, expect="not implemented yet"),
    correct(LAB, ex.check_keras_output_size, "keras_output_size with math.ceil", keras_size_ceil),
    correct(LAB, ex.check_keras_output_size, "keras_output_size counting window starts", keras_size_ranges),
    wrong(LAB, ex.check_keras_output_size, "'same' keeps W at every stride", keras_same_is_w, expect="ceil"),
    wrong(LAB, ex.check_keras_output_size, "'same' as P = (F - 1) // 2", keras_same_half_kernel),
    wrong(LAB, ex.check_keras_output_size, "'valid' ignoring the stride", keras_valid_no_stride),
    wrong(LAB, ex.check_keras_output_size, "paddings swapped", keras_swapped),
    wrong(LAB, ex.check_keras_output_size, "'same' rounding down", keras_same_floor),
    wrong(LAB, ex.check_keras_output_size, "keras_output_size still a stub", stub, expect="not implemented yet"),
    correct(LAB, ex.check_same_padding, "same_padding as F // 2", same_half),
    wrong(LAB, ex.check_same_padding, "same_padding F - 1", same_total, expect="one"),
    wrong(LAB, ex.check_same_padding, "same_padding (F + 1) // 2", same_plus),
    wrong(LAB, ex.check_same_padding, "same_padding as a float", same_float, expect="int"),
    wrong(LAB, ex.check_same_padding, "same_padding 0", same_zero),
    wrong(LAB, ex.check_same_padding, "same_padding still a stub", stub, expect="not implemented yet"),
    # A2
    correct(LAB, ex.check_conv_param_count, "conv_param_count rewritten", params_rewritten),
    wrong(LAB, ex.check_conv_param_count, "params without biases", params_no_bias, expect="bias"),
    wrong(LAB, ex.check_conv_param_count, "params with one bias", params_one_bias, expect="K biases"),
    wrong(LAB, ex.check_conv_param_count, "params ignoring the depth", params_no_depth, expect="depth"),
    wrong(LAB, ex.check_conv_param_count, "params of one filter", params_one_filter, expect="K filters"),
    wrong(LAB, ex.check_conv_param_count, "conv_param_count still a stub", stub, expect="not implemented yet"),
    correct(LAB, ex.check_conv_multiplications, "conv_multiplications with np.prod", mults_rewritten),
    wrong(LAB, ex.check_conv_multiplications, "multiplications counting the bias", mults_bias, expect="bias"),
    wrong(LAB, ex.check_conv_multiplications, "multiplications with W2 for H2", mults_square, expect="H2"),
    wrong(LAB, ex.check_conv_multiplications, "multiplications without D1", mults_no_depth),
    wrong(LAB, ex.check_conv_multiplications, "multiplications without K", mults_no_filters),
    wrong(LAB, ex.check_conv_multiplications, "conv_multiplications still a stub", stub, expect="not implemented"),
    # AlexNet walk (given, graded)
    correct(LAB, ex.check_alexnet_table, "AlexNet walk with correct functions", size_floor, params_rewritten),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk with the pad on one side", size_pad_once, params_rewritten),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk with params ignoring depth", size_floor, params_no_depth),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk ignoring the stride", size_no_stride, params_rewritten),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk without the + 1", size_no_plus_one, params_rewritten),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk without biases", size_floor, params_no_bias),
    wrong(LAB, ex.check_alexnet_table, "AlexNet walk with one filter's parameters", size_floor, params_one_filter),
    # B1
    correct(LAB, ex.check_conv_forward, "conv_forward_naive with loops", conv_loops),
    correct(LAB, ex.check_conv_forward, "conv_forward_naive with einsum, in float32", conv_einsum),
    wrong(LAB, ex.check_conv_forward, "output width from the height", conv_width_from_height, expect="shape"),
    wrong(LAB, ex.check_conv_forward, "flipped kernel", conv_flipped, expect="d2l"),
    wrong(LAB, ex.check_conv_forward, "bias forgotten", conv_no_bias),
    wrong(LAB, ex.check_conv_forward, "stride ignored", conv_ignores_stride),
    wrong(LAB, ex.check_conv_forward, "padding on one side only", conv_pad_one_side),
    wrong(LAB, ex.check_conv_forward, "returns (out, cache)", conv_out_cache, expect="tuple"),
    wrong(LAB, ex.check_conv_forward, "returns a list", conv_list, expect="list"),
    wrong(LAB, ex.check_conv_forward, "still a stub", stub, expect="not implemented yet"),
    # B2
    correct(LAB, ex.check_im2col, "im2col with offset slices", im2col_offsets),
    correct(LAB, ex.check_im2col, "im2col window by window, in float32", im2col_windows),
    wrong(LAB, ex.check_im2col, "im2col columns channel first", im2col_channel_first, expect="order"),
    wrong(LAB, ex.check_im2col, "im2col width offset first", im2col_width_first),
    wrong(LAB, ex.check_im2col, "im2col ignoring the stride", im2col_no_stride),
    wrong(LAB, ex.check_im2col, "im2col W2 from the height", im2col_square),
    wrong(LAB, ex.check_im2col, "im2col rows in (i, j, n) order", im2col_rows_batch_last),
    wrong(LAB, ex.check_im2col, "im2col one window short", im2col_off_by_one, expect="shape"),
    wrong(LAB, ex.check_im2col, "im2col still a stub", stub, expect="not implemented yet"),
    correct(LAB, ex.check_conv_forward_im2col, "conv_forward_im2col, (out, cache)", conv_im2col),
    correct(LAB, ex.check_conv_forward_im2col, "conv_forward_im2col as [out, cache], float32",
            conv_im2col_windows_list),
    wrong(LAB, ex.check_conv_forward_im2col, "forward returns only out", conv_im2col_only_out, expect="(out, cache)"),
    wrong(LAB, ex.check_conv_forward_im2col, "weights reshaped K first", conv_im2col_weights_kfirst),
    wrong(LAB, ex.check_conv_forward_im2col, "forward without bias", conv_im2col_no_bias),
    wrong(LAB, ex.check_conv_forward_im2col, "forward without padding", conv_im2col_no_pad, expect="shape"),
    wrong(LAB, ex.check_conv_forward_im2col, "product reshaped as (N, K, H2, W2)", conv_im2col_reshape_nkhw),
    wrong(LAB, ex.check_conv_forward_im2col, "forward returns three values", conv_im2col_triple, expect="pair"),
    wrong(LAB, ex.check_conv_forward_im2col, "conv_forward_im2col still a stub", stub, expect="not implemented"),
    # C1
    correct(LAB, ex.check_col2im, "col2im with offset slices", col2im_offsets),
    correct(LAB, ex.check_col2im, "col2im window by window", col2im_windows),
    wrong(LAB, ex.check_col2im, "col2im overwrites", col2im_overwrite, expect="add"),
    wrong(LAB, ex.check_col2im, "col2im width offset first", col2im_width_first),
    wrong(LAB, ex.check_col2im, "col2im ignoring the stride", col2im_no_stride),
    wrong(LAB, ex.check_col2im, "col2im averaging overlaps", col2im_average),
    wrong(LAB, ex.check_col2im, "col2im W2 from the height", col2im_square),
    wrong(LAB, ex.check_col2im, "col2im still a stub", stub, expect="not implemented yet"),
    # C2
    correct(LAB, ex.check_conv_backward, "backward cropping pad:pad + H", conv_im2col, backward_solution_like),
    correct(LAB, ex.check_conv_backward, "backward with einsum, cropping from the far end", conv_im2col,
            backward_einsum),
    wrong(LAB, ex.check_conv_backward, "backward cropping pad:-pad (empty at pad 0)", conv_im2col,
          backward_negative_crop, expect="pad=0"),
    correct(LAB, ex.check_conv_backward, "float32 forward, float64 col2im (adversary13)", conv_im2col_float32,
            backward_after_float32),
    wrong(LAB, ex.check_conv_backward, "dw transposed", conv_im2col, backward_dw_transposed, expect="dw"),
    wrong(LAB, ex.check_conv_backward, "db averaged", conv_im2col, backward_db_mean, expect="db"),
    wrong(LAB, ex.check_conv_backward, "col2im overwriting", conv_im2col, backward_overwrite, expect="dx"),
    wrong(LAB, ex.check_conv_backward, "padding not cropped", conv_im2col, backward_no_crop, expect="shape"),
    wrong(LAB, ex.check_conv_backward, "col2im at stride 1", conv_im2col, backward_stride_one, expect="dx"),
    wrong(LAB, ex.check_conv_backward, "returns (dx, dw)", conv_im2col, backward_two, expect="three"),
    wrong(LAB, ex.check_conv_backward, "forward without bias", conv_im2col_no_bias, backward_solution_like,
          expect="Exercise B2"),
    wrong(LAB, ex.check_conv_backward, "conv_backward_im2col still a stub", conv_im2col, stub,
          expect="not implemented yet"),
    # D1
    correct(LAB, ex.check_pool_forward, "pool_forward with offset slices", pool_offsets),
    correct(LAB, ex.check_pool_forward, "pool_forward with sliding_window_view, float32", pool_sliding_f32),
    wrong(LAB, ex.check_pool_forward, "pool returns only out", pool_only_out, expect="(out, cache)"),
    wrong(LAB, ex.check_pool_forward, "average pooling sums", pool_avg_sum),
    wrong(LAB, ex.check_pool_forward, "pool over the channels", pool_channel_axis, expect="shape"),
    wrong(LAB, ex.check_pool_forward, "pool W2 from the height", pool_square),
    wrong(LAB, ex.check_pool_forward, "pool ignoring the stride", pool_stride_is_size),
    wrong(LAB, ex.check_pool_forward, "pool modes swapped", pool_modes_swapped),
    wrong(LAB, ex.check_pool_forward, "pool_forward still a stub", stub, expect="not implemented yet"),
    # D2
    correct(LAB, ex.check_pool_backward, "pool backward vectorised", pool_offsets, pool_back_solution_like),
    correct(LAB, ex.check_pool_backward, "pool backward with loops, own cache, float32 forward", pool_sliding_f32,
            pool_back_loops),
    wrong(LAB, ex.check_pool_backward, "pool backward overwrites", pool_offsets, pool_back_overwrite),
    wrong(LAB, ex.check_pool_backward, "every tied maximum gets the gradient", pool_offsets, pool_back_all_maxima,
          expect="first maximum"),
    wrong(LAB, ex.check_pool_backward, "the last maximum gets it", pool_offsets, pool_back_last_max),
    wrong(LAB, ex.check_pool_backward, "average shares dout / size", pool_offsets, pool_back_avg_by_size),
    wrong(LAB, ex.check_pool_backward, "backward windows at stride size", pool_offsets, pool_back_stride_is_size),
    wrong(LAB, ex.check_pool_backward, "pool forward returns only out", pool_only_out, pool_back_solution_like,
          expect="(out, cache)"),
    wrong(LAB, ex.check_pool_backward, "pool_backward still a stub", pool_offsets, stub, expect="not implemented"),
    # E1
    correct(LAB, ex.check_apply_kernel, "apply_kernel through conv_forward_im2col", apply_solution_like),
    correct(LAB, ex.check_apply_kernel, "apply_kernel with sliding_window_view", apply_sliding),
    wrong(LAB, ex.check_apply_kernel, "kernel flipped", apply_flipped),
    wrong(LAB, ex.check_apply_kernel, "no padding", apply_valid, expect="shape"),
    wrong(LAB, ex.check_apply_kernel, "image reshaped (1, W, H, 1)", apply_transposed_reshape),
    wrong(LAB, ex.check_apply_kernel, "returns (out, cache)", apply_pair, expect="tuple"),
    wrong(LAB, ex.check_apply_kernel, "keeps the batch and channel axes", apply_batch_shape, expect="shape"),
    wrong(LAB, ex.check_apply_kernel, "pads F - 1 on each side", apply_total_pad, expect="shape"),
    wrong(LAB, ex.check_apply_kernel, "apply_kernel still a stub", stub, expect="not implemented yet"),
    # F1
    correct(LAB, ex.check_lenet, "LeNet-5 Sequential with activation=", lenet_sequential),
    correct(LAB, ex.check_lenet, "LeNet-5 functional with Activation layers", lenet_functional_activation_layers),
    correct(LAB, ex.check_lenet, "LeNet-5 with ReLU layers after max pooling", lenet_relu_after_maxpool),
    wrong(LAB, ex.check_lenet, "C5 and F6 left linear", lenet_dense_linear, expect="C5"),
    wrong(LAB, ex.check_lenet, "softmax output", lenet_softmax, expect="logits"),
    wrong(LAB, ex.check_lenet, "pooling argument ignored", lenet_always_max, expect="AveragePooling2D"),
    wrong(LAB, ex.check_lenet, "activation argument ignored", lenet_always_relu, expect="tanh"),
    wrong(LAB, ex.check_lenet, "C1 with 'same' padding", lenet_same_padding, expect="valid"),
    wrong(LAB, ex.check_lenet, "3x3 kernels", lenet_3x3, expect="(5, 5)"),
    wrong(LAB, ex.check_lenet, "F6 missing", lenet_no_f6),
    wrong(LAB, ex.check_lenet, "returns a list of layers", lenet_layer_list, expect="keras.Model"),
    wrong(LAB, ex.check_lenet, "num_classes ignored", lenet_fixed_classes, expect="shape"),
    wrong(LAB, ex.check_lenet, "input_shape ignored (adversary13)", lenet_ignores_input_shape,
          expect="input_shape"),
    wrong(LAB, ex.check_lenet, "input_shape ignored, hidden variant (adversary13)", lenet_ignores_input_shape,
          expect="input_shape", variants=[{"input_shape": (28, 28, 1)}]),
    wrong(LAB, ex.check_lenet, "build_lenet5 still a stub", stub, expect="not implemented yet"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)


def test_hidden_options_reach_probe_and_judge() -> None:
    """Hidden tests pass other inputs as options; a correct answer passes, a wrong one gets one sentence."""
    ex.check_conv_forward(conv_loops, cases=[((1, 9, 6, 2), 5, 1, 2, 2)], seed=7, quiet=True)
    ex.check_conv_backward(conv_im2col, backward_solution_like, cases=[((1, 6, 6, 3), 2, 2, 2, 0)], seed=7, quiet=True)
    ex.check_pool_backward(pool_offsets, pool_back_solution_like, cases=[((1, 6, 5, 2), 3, 1)], seed=7, quiet=True)
    passed, sentence = ex.check_conv_backward.verdict(conv_im2col, backward_negative_crop,
                                                      cases=[((1, 6, 6, 3), 2, 2, 2, 0)], seed=7)
    assert not passed and "\n" not in sentence and "pad=0" in sentence


def test_verdicts_do_not_depend_on_order() -> None:
    """The old B2 check failed after D1 overwrote `reference`: package checks share no state."""
    runs = [(ex.check_conv_forward, (conv_loops,)), (ex.check_conv_forward_im2col, (conv_im2col,)),
            (ex.check_pool_forward, (pool_offsets,)), (ex.check_conv_forward_im2col, (conv_im2col_no_bias,))]
    first = [c.verdict(*s) for c, s in runs]
    again = [c.verdict(*s) for c, s in reversed(runs)][::-1]
    assert first == again
    assert [passed for passed, _ in first] == [True, True, True, False]


def test_alexnet_table_prints() -> None:
    with redirect_stdout(io.StringIO()) as out:
        ex.print_alexnet_table(size_floor, params_rewritten)
    assert "CONV1" in out.getvalue() and "34,944" in out.getvalue() and "6x6x256" in out.getvalue()
