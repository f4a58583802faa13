"""Lab 2 checks: output sizes, loop and im2col convolution and its backward pass, pooling, kernels, LeNet-5.

References are TensorFlow built-ins (``tf.nn.conv2d``) and stated facts, never the solutions' code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises.framework import check, expect_array, observe

# (x shape NHWC, kernel size F, filters K, stride, pad): non-square images, batches and channels above one,
# strides 1 to 3 and pads 0 to 2, so a width computed from the height, an ignored stride or pad, or a
# transposed kernel all show.
CONV_CASES = [
    ((2, 7, 5, 3), 3, 4, 1, 0),
    ((2, 7, 5, 3), 3, 4, 2, 1),
    ((1, 6, 9, 2), 2, 3, 1, 2),
    ((3, 8, 6, 1), 4, 2, 3, 0),
    ((2, 5, 7, 2), 5, 3, 2, 2),
]


def conv_inputs() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int, int]]:
    """Return the convolution cases as (x, w, b, stride, pad), the same on every call."""
    rng = np.random.default_rng(202)
    cases = []
    for shape, F, K, stride, pad in CONV_CASES:
        x = rng.normal(size=shape)
        w = rng.normal(size=(F, F, shape[-1], K))
        b = rng.normal(size=K)
        cases.append((x, w, b, stride, pad))
    return cases


def reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Return tf.nn.conv2d's cross-correlation plus bias, in float64."""
    import tensorflow as tf

    padding = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    return tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=padding).numpy() + b


def _case_name(func: str, x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> str:
    """Name a convolution case in the words of the feedback."""
    return f"{func}(x of shape {x.shape}, w of shape {w.shape}, stride={stride}, pad={pad})"


def probe_conv_forward(conv_forward_naive: Any) -> dict[str, Any]:
    """Run the student's loop convolution on every case (on copies, so in-place edits do not leak)."""
    return {"outputs": [observe(conv_forward_naive, x.copy(), w.copy(), b.copy(), s, p)
                        for x, w, b, s, p in conv_inputs()]}


def judge_conv_forward(data: dict[str, Any]) -> str:
    """Compare each output with tf.nn.conv2d."""
    worst = 0.0
    cases = conv_inputs()
    for (x, w, b, s, p), got in zip(cases, data["outputs"]):
        worst = max(worst, expect_array(_case_name("conv_forward_naive", x, w, s, p), got,
                                        reference_conv(x, w, b, s, p)))
    return (f"conv_forward_naive matches tf.nn.conv2d on {len(cases)} cases (non-square images, strides 1-3, "
            f"pads 0-2; largest relative error {worst:.1e})")


check_conv_forward = check("convolution.conv_forward", probe_conv_forward, judge_conv_forward)
