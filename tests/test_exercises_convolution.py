"""Lab 2's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import numpy as np
import pytest
from mutation import correct, verify, wrong

from utils.exercises import convolution as ex

LAB = "02 convolution"


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


def stub(x, w, b, stride=1, pad=0):
    # YOUR CODE HERE
    raise NotImplementedError()


CASES = [
    correct(LAB, ex.check_conv_forward, "conv_forward_naive with loops", conv_loops),
    correct(LAB, ex.check_conv_forward, "conv_forward_naive with einsum, in float32", conv_einsum),
    wrong(LAB, ex.check_conv_forward, "output width from the height", conv_width_from_height, expect="shape"),
    wrong(LAB, ex.check_conv_forward, "flipped kernel", conv_flipped),
    wrong(LAB, ex.check_conv_forward, "bias forgotten", conv_no_bias),
    wrong(LAB, ex.check_conv_forward, "stride ignored", conv_ignores_stride),
    wrong(LAB, ex.check_conv_forward, "padding on one side only", conv_pad_one_side),
    wrong(LAB, ex.check_conv_forward, "returns (out, cache)", conv_out_cache, expect="tuple"),
    wrong(LAB, ex.check_conv_forward, "returns a list", conv_list, expect="list"),
    wrong(LAB, ex.check_conv_forward, "still a stub", stub, expect="not implemented yet"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)
