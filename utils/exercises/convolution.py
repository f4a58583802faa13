"""Lab 2 checks: output sizes, loop and im2col convolution and its backward pass, pooling, kernels, LeNet-5.

References are TensorFlow built-ins (``tf.nn.conv2d``, ``tf.image.extract_patches``, ``tf.nn.max_pool2d``,
``tf.nn.avg_pool2d``, their gradients through ``tf.GradientTape``), Keras's own parameter counts, and stated facts
(the worked examples of d2l.ai and cs231n, AlexNet's and LeNet-5's published sizes), never the solutions' code.

Every check takes keyword options (``cases=``, ``seed=``, ...) that its probe and its judge both receive, so hidden
tests call the same function on other inputs.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np

from utils.exercises.framework import (
    FLOAT32_ATOL,
    FLOAT32_TOL,
    OBJECT,
    as_array,
    call_raw,
    check,
    expect_array,
    expect_equal,
    expect_int,
    expect_raised_nothing,
    expect_true,
    fail,
    is_raised,
    observe,
    plain,
)
from utils.exercises.models import activation_of, describe_model

# float64 answers: relative tolerance, and differences this small count as equal (cancellation near zero).
TOL, ATOL = 1e-7, 1e-12


def _tf() -> Any:
    """Import TensorFlow on first use (judges only)."""
    import tensorflow as tf

    return tf


def _pad4(pad: int) -> list[list[int]]:
    """Return tf.nn.conv2d's explicit padding for ``pad`` zeros around height and width."""
    return [[0, 0], [pad, pad], [pad, pad], [0, 0]]


def _int(name: str, value: Any) -> int:
    """Return ``value`` as an int, failing with one sentence (None gets its own: a forgotten return)."""
    expect_raised_nothing(value)
    if value is None:
        fail(f"{name} returned None: did the function forget to `return` its result?")
    return expect_int(name, value)


def _steps(size: int, window: int, stride: int, pad: int = 0) -> int:
    """Return how many windows fit along one axis (for building upstream gradients of the right shape)."""
    return 1 + (size + 2 * pad - window) // stride


# ---------------------------------------------------------------------------
# A1: output sizes
# ---------------------------------------------------------------------------

# (W, F, S, P): facts first (cs231n's 7x7/3x3/stride 2 example; AlexNet's CONV1: 227, 11, 4 -> 55; a window that
# does not fit is dropped: 28, 5, 2 -> 12), then pads 0-2 with strides 1-3, so a forgotten "+1", a pad counted on
# one side only, rounding up and an ignored stride all show.
SIZE_CASES = [(7, 3, 2, 0), (227, 11, 4, 0), (28, 5, 2, 0), (32, 5, 1, 2), (13, 4, 3, 1), (10, 3, 1, 1),
              (9, 2, 2, 2), (6, 6, 1, 0), (15, 3, 3, 2)]


def reference_size(W: int, F: int, S: int, P: int) -> int:
    """Return the output width tf.nn.conv2d gives for width W, kernel F, stride S and explicit padding P."""
    tf = _tf()
    x = np.zeros((1, W, 1, 1))
    k = np.zeros((F, 1, 1, 1))
    return int(tf.nn.conv2d(x, k, strides=[1, S, 1, 1], padding=[[0, 0], [P, P], [0, 0], [0, 0]]).shape[1])


def _size_hint(got: int, W: int, F: int, S: int, P: int) -> str:
    """Name the likely mistake behind a wrong output size."""
    guesses = [
        ((W - F + 2 * P) // S, "the +1 is missing: one window sits at position 0 before any step"),
        ((W - F + P) // S + 1, "P zeros are added on *each* side, so the width grows by 2P"),
        (-(-(W - F + 2 * P) // S) + 1, "a window that does not fit is dropped, so divide rounding down"),
        (W - F + 2 * P + 1, "the stride is ignored: divide by S"),
        ((W - F) // S + 1, "the padding is ignored"),
    ]
    for value, why in guesses:
        if got == value:
            return f" ({why})"
    return ""


def probe_conv_output_size(conv_output_size: Any, cases: Sequence[tuple[int, int, int, int]] | None = None,
                           **_: Any) -> dict[str, Any]:
    """Call conv_output_size(W, F, S, P) on every case."""
    cases = SIZE_CASES if cases is None else cases
    return {"sizes": [observe(conv_output_size, W, F, S, P) for W, F, S, P in cases]}


def judge_conv_output_size(data: dict[str, Any], cases: Sequence[tuple[int, int, int, int]] | None = None,
                           **_: Any) -> str:
    """Compare each size with tf.nn.conv2d's output width."""
    cases = SIZE_CASES if cases is None else cases
    for (W, F, S, P), got in zip(cases, data["sizes"]):
        name = f"conv_output_size(W={W}, F={F}, S={S}, P={P})"
        value = _int(name, got)
        expect_equal(name, value, reference_size(W, F, S, P), hint=_size_hint(value, W, F, S, P).strip(" ()"))
    return f"conv_output_size matches tf.nn.conv2d on {len(cases)} cases" + (
        " (strides 1-4, pads 0-2, AlexNet's CONV1)" if cases is SIZE_CASES else "")


check_conv_output_size = check("convolution.conv_output_size", probe_conv_output_size, judge_conv_output_size)

# (W, F, S): odd and even kernels, strides that do and do not divide W.
KERAS_SIZE_CASES = [(28, 5, 1), (32, 3, 2), (7, 3, 2), (13, 4, 3), (10, 2, 1), (9, 5, 4), (11, 1, 2)]


def probe_keras_output_size(keras_output_size: Any, cases: Sequence[tuple[int, int, int]] | None = None,
                            **_: Any) -> dict[str, Any]:
    """Call keras_output_size(W, F, S, padding) for both paddings on every case."""
    cases = KERAS_SIZE_CASES if cases is None else cases
    return {"sizes": [[observe(keras_output_size, W, F, S, padding) for padding in ("valid", "same")]
                      for W, F, S in cases]}


def judge_keras_output_size(data: dict[str, Any], cases: Sequence[tuple[int, int, int]] | None = None,
                            **_: Any) -> str:
    """Compare each size with keras.layers.Conv2D.compute_output_shape."""
    import keras

    cases = KERAS_SIZE_CASES if cases is None else cases
    for (W, F, S), pair in zip(cases, data["sizes"]):
        for padding, got in zip(("valid", "same"), pair):
            name = f"keras_output_size(W={W}, F={F}, S={S}, padding={padding!r})"
            value = _int(name, got)
            want = keras.layers.Conv2D(1, F, strides=S, padding=padding).compute_output_shape((None, W, W, 1))[1]
            hint = ""
            if padding == "same" and value == W and W != want:
                hint = "'same' keeps the size only at stride 1: the output is ceil(W / S) wide"
            elif padding == "same":
                hint = "'same' gives ceil(W / S) whatever F is"
            elif padding == "valid":
                hint = "'valid' means no padding: the size formula with P = 0"
            expect_equal(name, value, int(want), hint=hint)
    return f"keras_output_size matches keras.layers.Conv2D on {len(cases)} widths, 'valid' and 'same'"


check_keras_output_size = check("convolution.keras_output_size", probe_keras_output_size, judge_keras_output_size)

SAME_PAD_CASES = [1, 3, 5, 7, 11]


def probe_same_padding(same_padding: Any, kernels: Sequence[int] | None = None, **_: Any) -> dict[str, Any]:
    """Call same_padding(F) for odd kernel sizes."""
    kernels = SAME_PAD_CASES if kernels is None else kernels
    return {"pads": [observe(same_padding, F) for F in kernels]}


def judge_same_padding(data: dict[str, Any], kernels: Sequence[int] | None = None, **_: Any) -> str:
    """Check that tf.nn.conv2d with the returned padding keeps a 32-wide input 32 wide at stride 1."""
    kernels = SAME_PAD_CASES if kernels is None else kernels
    for F, got in zip(kernels, data["pads"]):
        P = _int(f"same_padding({F})", got)
        expect_true(P >= 0, f"same_padding({F}) is {P}: a number of zeros cannot be negative.")
        width = reference_size(32, F, 1, P)
        hint = " (P counts the zeros on *one* side; the total added is 2P)" if P == F - 1 and F > 1 else ""
        expect_true(width == 32, f"same_padding({F}) is {P}, but a {F}x{F} convolution with {P} zeros on each side "
                                 f"turns a width of 32 into {width}, not 32{hint}.")
    return f"same_padding keeps the size at stride 1 for kernels {', '.join(map(str, kernels))}"


check_same_padding = check("convolution.same_padding", probe_same_padding, judge_same_padding)


# ---------------------------------------------------------------------------
# A2: what a layer costs
# ---------------------------------------------------------------------------

# (F, D1, K): AlexNet's CONV1, a VGG layer, LeNet-5's C3, a 1x1 layer, and one with every number different.
PARAM_CASES = [(11, 3, 96), (3, 3, 64), (5, 6, 16), (1, 256, 128), (4, 7, 5), (2, 1, 3)]


def probe_conv_param_count(conv_param_count: Any, cases: Sequence[tuple[int, int, int]] | None = None,
                           **_: Any) -> dict[str, Any]:
    """Call conv_param_count(F, D1, K) on every case."""
    cases = PARAM_CASES if cases is None else cases
    return {"counts": [observe(conv_param_count, F, D1, K) for F, D1, K in cases]}


def judge_conv_param_count(data: dict[str, Any], cases: Sequence[tuple[int, int, int]] | None = None,
                           **_: Any) -> str:
    """Compare each count with keras.layers.Conv2D(K, F).count_params() on a D1-channel input."""
    import keras

    cases = PARAM_CASES if cases is None else cases
    for (F, D1, K), got in zip(cases, data["counts"]):
        name = f"conv_param_count(F={F}, D1={D1}, K={K})"
        value = _int(name, got)
        layer = keras.layers.Conv2D(K, F)
        layer.build((None, 16, 16, D1))
        want = int(layer.count_params())
        weights = F * F * D1 * K
        hint = ""
        if value == weights:
            hint = "each of the K filters also has one bias"
        elif value == weights + 1:
            hint = "one bias per filter, so K biases"
        elif value == (F * F + 1) * K:
            hint = "each filter spans the full input depth D1"
        elif value == (F * F * D1 + 1):
            hint = "there are K filters"
        expect_equal(name, value, want, hint=hint)
    return f"conv_param_count matches Keras's count_params on {len(cases)} layers"


check_conv_param_count = check("convolution.conv_param_count", probe_conv_param_count, judge_conv_param_count)

# (W2, H2, F, D1, K): the 224x224 RGB example (64 kernels of 3x3, no padding: 222x222 outputs), and cases where
# every number differs, so W2 used for H2 or a forgotten factor shows.
MULT_CASES = [(222, 222, 3, 3, 64), (5, 3, 2, 4, 7), (6, 9, 3, 2, 5), (1, 1, 11, 3, 96)]


def probe_conv_multiplications(conv_multiplications: Any, cases: Sequence[tuple[int, ...]] | None = None,
                               **_: Any) -> dict[str, Any]:
    """Call conv_multiplications(W2, H2, F, D1, K) on every case."""
    cases = MULT_CASES if cases is None else cases
    return {"counts": [observe(conv_multiplications, *case) for case in cases]}


def judge_conv_multiplications(data: dict[str, Any], cases: Sequence[tuple[int, ...]] | None = None,
                               **_: Any) -> str:
    """Each of the W2*H2*K outputs is a dot product of F*F*D1 products."""
    cases = MULT_CASES if cases is None else cases
    for (W2, H2, F, D1, K), got in zip(cases, data["counts"]):
        name = f"conv_multiplications(W2={W2}, H2={H2}, F={F}, D1={D1}, K={K})"
        value = _int(name, got)
        outputs, per_output = W2 * H2 * K, F * F * D1
        want = int(np.prod([outputs, per_output], dtype=np.int64))
        hint = ""
        if value == outputs * (per_output + 1):
            hint = "adding the bias is not a multiplication"
        elif value == W2 * W2 * K * per_output or value == H2 * H2 * K * per_output:
            hint = "the output is W2 wide and H2 high"
        elif value in (outputs * F * F, W2 * H2 * per_output):
            hint = "every one of the W2*H2*K outputs multiplies F*F*D1 pairs"
        expect_equal(name, value, want, hint=hint)
    return f"conv_multiplications counts W2*H2*K dot products of F*F*D1 products on {len(cases)} layers"


check_conv_multiplications = check("convolution.conv_multiplications", probe_conv_multiplications,
                                   judge_conv_multiplications)

# AlexNet as cs231n and Krizhevsky et al. (2012) give it: (name, kind, F, S, P, K) and the published output width,
# depth and parameter count of each layer.
ALEXNET = [
    ("CONV1", "conv", 11, 4, 0, 96, 55, 96, 34_944), ("POOL1", "pool", 3, 2, 0, None, 27, 96, 0),
    ("CONV2", "conv", 5, 1, 2, 256, 27, 256, 614_656), ("POOL2", "pool", 3, 2, 0, None, 13, 256, 0),
    ("CONV3", "conv", 3, 1, 1, 384, 13, 384, 885_120), ("CONV4", "conv", 3, 1, 1, 384, 13, 384, 1_327_488),
    ("CONV5", "conv", 3, 1, 1, 256, 13, 256, 884_992), ("POOL3", "pool", 3, 2, 0, None, 6, 256, 0),
]


def alexnet_rows(conv_output_size: Any, conv_param_count: Any) -> list[tuple[str, Any, int, Any]]:
    """Walk AlexNet's feature extractor from a 227x227x3 input with the student's functions.

    Returns (name, output width, depth, parameters) per layer; a crash becomes the record of what was raised.
    """
    width, depth, rows = 227, 3, []
    for name, kind, F, S, P, K, *_ in ALEXNET:
        params = observe(conv_param_count, F, depth, K) if kind == "conv" else 0
        width = observe(conv_output_size, width, F, S, P)
        depth = K or depth
        rows.append((name, width, depth, params))
        if is_raised(width) or is_raised(params) or not isinstance(width, (int, np.ndarray)):
            break
    return rows


def print_alexnet_table(conv_output_size: Any, conv_param_count: Any) -> None:
    """Print AlexNet's layer sizes and parameter counts as the student's functions compute them."""
    print(f"{'layer':<6} {'output':>12} {'parameters':>11}")
    for name, width, depth, params in alexnet_rows(conv_output_size, conv_param_count):
        if is_raised(width) or is_raised(params):
            print(f"{name:<6} (your function raised an error here)")
            break
        w, p = _as_number(width), _as_number(params)
        print(f"{name:<6} {f'{w}x{w}x{depth}':>12} {p:>11,}" if isinstance(w, int) and isinstance(p, int)
              else f"{name:<6} {width!r:>12} {params!r:>11}")


def _as_number(value: Any) -> Any:
    """Return an int for ints and 0-d integer arrays, else the value."""
    if isinstance(value, np.ndarray) and value.shape == () and np.issubdtype(value.dtype, np.integer):
        return int(value)
    return value


def probe_alexnet_table(conv_output_size: Any, conv_param_count: Any, **_: Any) -> dict[str, Any]:
    """Walk AlexNet and the padding example (seven 5x5 convolutions from 32) with the student's functions."""
    size: Any = 32
    for _ in range(7):
        size = observe(conv_output_size, size, 5, 1, 0)
        if is_raised(size) or not isinstance(size, (int, np.ndarray)):
            break
    return {"rows": alexnet_rows(conv_output_size, conv_param_count), "shrunk": size,
            "quiz": observe(conv_param_count, 3, 3, 64)}


def judge_alexnet_table(data: dict[str, Any], **_: Any) -> str:
    """Compare every row with AlexNet's published sizes, then the two small facts."""
    for (name, *_, width, depth, params), row in zip(ALEXNET, data["rows"]):
        got_width = _int(f"conv_output_size for {name}", row[1])
        got_params = _int(f"conv_param_count for {name}", row[3])
        expect_true((got_width, row[2], got_params) == (width, depth, params),
                    f"{name} comes out {got_width}x{got_width}x{row[2]} with {got_params:,} parameters; AlexNet's "
                    f"{name} is {width}x{width}x{depth} with {params:,}.")
    expect_true(len(data["rows"]) == len(ALEXNET), "the AlexNet walk stopped early.")
    expect_equal("parameters of 64 3x3 kernels on an RGB image", _int("conv_param_count(3, 3, 64)",
                                                                            data["quiz"]), (3 * 3 * 3 + 1) * 64)
    expect_equal("a 32x32 input after seven 5x5 convolutions without padding",
                 _int("conv_output_size", data["shrunk"]), 4)
    return "AlexNet's sizes and parameter counts (CONV1 55x55x96, 34,944 ... POOL3 6x6x256) all match"


check_alexnet_table = check("convolution.alexnet_table", probe_alexnet_table, judge_alexnet_table)


# ---------------------------------------------------------------------------
# B1: convolution with loops
# ---------------------------------------------------------------------------

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

# d2l.ai's worked example (Zhang et al., "Dive into Deep Learning", sec. 7.2): the 3x3 input 0..8 cross-correlated
# with the 2x2 kernel [[0, 1], [2, 3]] gives [[19, 25], [37, 43]].
D2L_X = np.arange(9.0).reshape(1, 3, 3, 1)
D2L_KERNEL = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(2, 2, 1, 1)
D2L_OUT = np.array([[19.0, 25.0], [37.0, 43.0]]).reshape(1, 2, 2, 1)
# Its stride example (sec. 7.3): pad 1 with strides 3 (height) and 2 (width) gives [[0, 8], [6, 8]]. A strided
# convolution keeps every S-th output of the stride-1 one, so rows 0, 3 and columns 0, 2 of the pad-1 output.
D2L_STRIDE_OUT = np.array([[0.0, 8.0], [6.0, 8.0]]).reshape(1, 2, 2, 1)


def conv_inputs(cases: Sequence[tuple] | None = None, seed: int = 202,
                ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int, int]]:
    """Return the convolution cases as (x, w, b, stride, pad), the same on every call."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, F, K, stride, pad in (CONV_CASES if cases is None else cases):
        x = rng.normal(size=shape)
        w = rng.normal(size=(F, F, shape[-1], K))
        b = rng.normal(size=K)
        out.append((x, w, b, stride, pad))
    return out


def reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Return tf.nn.conv2d's cross-correlation plus bias, in float64."""
    tf = _tf()
    return tf.nn.conv2d(x, w, strides=[1, stride, stride, 1], padding=_pad4(pad)).numpy() + b


def _case_name(func: str, x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> str:
    """Name a convolution case in the words of the feedback."""
    return f"{func}(x of shape {x.shape}, w of shape {w.shape}, stride={stride}, pad={pad})"


def probe_conv_forward(conv_forward_naive: Any, cases: Sequence[tuple] | None = None, seed: int = 202,
                       **_: Any) -> dict[str, Any]:
    """Run the student's loop convolution on d2l's two examples and every case (on copies)."""
    zero = np.zeros(1)
    return {
        "d2l": observe(conv_forward_naive, D2L_X.copy(), D2L_KERNEL.copy(), zero.copy(), 1, 0),
        "d2l_pad": observe(conv_forward_naive, D2L_X.copy(), D2L_KERNEL.copy(), zero.copy(), 1, 1),
        "outputs": [observe(conv_forward_naive, x.copy(), w.copy(), b.copy(), s, p)
                    for x, w, b, s, p in conv_inputs(cases, seed)],
    }


def judge_conv_forward(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 202,
                       **_: Any) -> str:
    """Check d2l's examples, then compare each output with tf.nn.conv2d."""
    expect_array("conv_forward_naive on d2l's example (3x3 input 0..8, kernel [[0, 1], [2, 3]])", data["d2l"],
                 D2L_OUT, TOL, ATOL, hint="each output is the sum of the window times the kernel, unflipped")
    padded = as_array("conv_forward_naive on d2l's example with pad=1", data["d2l_pad"], (1, 4, 4, 1))
    expect_array("conv_forward_naive on d2l's example with pad=1, kept at strides 3 and 2", padded[:, ::3, ::2],
                 D2L_STRIDE_OUT, TOL, ATOL)
    worst = 0.0
    inputs = conv_inputs(cases, seed)
    for (x, w, b, s, p), got in zip(inputs, data["outputs"]):
        worst = max(worst, expect_array(_case_name("conv_forward_naive", x, w, s, p), got,
                                        reference_conv(x, w, b, s, p), TOL, ATOL))
    return (f"conv_forward_naive gives d2l's [[19, 25], [37, 43]] and matches tf.nn.conv2d on {len(inputs)} "
            f"non-square cases (largest relative error {worst:.1e})")


check_conv_forward = check("convolution.conv_forward", probe_conv_forward, judge_conv_forward)


# ---------------------------------------------------------------------------
# B2: im2col and the convolution as one matrix product
# ---------------------------------------------------------------------------

# (x_pad shape, F, stride): non-square, several channels and images, strides 1-3, windows 2-4.
IM2COL_CASES = [((2, 7, 5, 3), 3, 1), ((2, 9, 7, 2), 3, 2), ((1, 6, 8, 3), 2, 2), ((3, 8, 6, 1), 4, 3),
                ((1, 5, 4, 2), 2, 1)]


def im2col_inputs(cases: Sequence[tuple] | None = None, seed: int = 303) -> list[tuple[np.ndarray, int, int]]:
    """Return the im2col cases as (x_pad, F, stride)."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=shape), F, S) for shape, F, S in (IM2COL_CASES if cases is None else cases)]


def reference_patches(x_pad: Any, F: int, stride: int) -> Any:
    """Return tf.image.extract_patches's windows, one per row, in (height, width, channel) order."""
    tf = _tf()
    patches = tf.image.extract_patches(x_pad, sizes=[1, F, F, 1], strides=[1, stride, stride, 1],
                                       rates=[1, 1, 1, 1], padding="VALID")
    return tf.reshape(patches, (-1, F * F * int(x_pad.shape[-1])))


def probe_im2col(im2col: Any, cases: Sequence[tuple] | None = None, seed: int = 303, **_: Any) -> dict[str, Any]:
    """Call im2col(x_pad, F, stride) on every case."""
    return {"cols": [observe(im2col, x.copy(), F, S) for x, F, S in im2col_inputs(cases, seed)]}


def judge_im2col(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 303, **_: Any) -> str:
    """Compare each result with tf.image.extract_patches."""
    inputs = im2col_inputs(cases, seed)
    for (x, F, S), got in zip(inputs, data["cols"]):
        expect_array(f"im2col(x_pad of shape {x.shape}, F={F}, stride={S})", got,
                     reference_patches(x, F, S).numpy(), TOL, ATOL,
                     hint="rows in (n, i, j) order, columns in (height offset, width offset, channel) order")
    return f"im2col matches tf.image.extract_patches on {len(inputs)} cases"


check_im2col = check("convolution.im2col", probe_im2col, judge_im2col)


def _pair(func: Any, *args: Any) -> dict[str, Any]:
    """Call a function that returns (out, cache); keep out as plain data and only whether it was a pair."""
    result, raised = call_raw(func, *args)
    if raised is not None:
        return raised
    if isinstance(result, (tuple, list)) and len(result) == 2:
        return {"pair": True, "out": plain(result[0])}
    return {"pair": False, "value": plain(result)}


def _pair_out(name: str, func: str, data: Any) -> Any:
    """Return ``out`` from a probed (out, cache) pair, or fail with the sentence that says what came back."""
    expect_raised_nothing(data)
    if data["pair"]:
        return data["out"]
    value = data["value"]
    if value is None:
        fail(f"{name} returned None: `{func}` should end with `return out, cache`.")
    if isinstance(value, np.ndarray):
        fail(f"{name} returned one array of shape {value.shape}; `{func}` should return the pair (out, cache), "
             "since the backward pass needs the cache.")
    kind = f"a tuple of {len(value)} values" if isinstance(value, (tuple, list)) else (
        f"a {value[OBJECT]}" if isinstance(value, dict) and OBJECT in value else f"a {type(value).__name__}")
    fail(f"{name} returned {kind}; `{func}` should return the pair (out, cache).")


def probe_conv_forward_im2col(conv_forward_im2col: Any, cases: Sequence[tuple] | None = None, seed: int = 202,
                              **_: Any) -> dict[str, Any]:
    """Run the student's im2col convolution on every case; keep only out (and whether it returned a pair)."""
    return {"outputs": [_pair(conv_forward_im2col, x.copy(), w.copy(), b.copy(), s, p)
                        for x, w, b, s, p in conv_inputs(cases, seed)]}


def judge_conv_forward_im2col(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 202,
                              **_: Any) -> str:
    """Compare each out with tf.nn.conv2d."""
    worst = 0.0
    inputs = conv_inputs(cases, seed)
    for (x, w, b, s, p), got in zip(inputs, data["outputs"]):
        name = _case_name("conv_forward_im2col", x, w, s, p)
        out = _pair_out(name, "conv_forward_im2col", got)
        worst = max(worst, expect_array(f"out of {name}", out, reference_conv(x, w, b, s, p), TOL, ATOL))
    return (f"conv_forward_im2col matches tf.nn.conv2d on {len(inputs)} non-square cases (largest relative error "
            f"{worst:.1e})")


check_conv_forward_im2col = check("convolution.conv_forward_im2col", probe_conv_forward_im2col,
                                  judge_conv_forward_im2col)


# ---------------------------------------------------------------------------
# C1: col2im
# ---------------------------------------------------------------------------

# (x_pad shape, F, stride): overlapping windows (stride < F), touching ones (stride == F) and gaps (stride > F).
COL2IM_CASES = [((2, 6, 5, 2), 3, 1), ((1, 7, 9, 3), 3, 2), ((2, 6, 4, 1), 2, 2), ((1, 8, 7, 2), 2, 3),
                ((2, 5, 6, 2), 4, 1)]


def col2im_inputs(cases: Sequence[tuple] | None = None, seed: int = 404,
                  ) -> list[tuple[tuple[int, ...], np.ndarray, int, int]]:
    """Return the col2im cases as (x_pad_shape, dcols, F, stride)."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, F, S in (COL2IM_CASES if cases is None else cases):
        rows = shape[0] * _steps(shape[1], F, S) * _steps(shape[2], F, S)
        out.append((tuple(shape), rng.normal(size=(rows, F * F * shape[-1])), F, S))
    return out


def probe_col2im(col2im: Any, cases: Sequence[tuple] | None = None, seed: int = 404, **_: Any) -> dict[str, Any]:
    """Call col2im on every case and on all-ones columns (which count the windows covering each pixel)."""
    return {"dx": [observe(col2im, dcols.copy(), shape, F, S) for shape, dcols, F, S in col2im_inputs(cases, seed)],
            "counts": observe(col2im, np.ones((6, 4)), (1, 3, 4, 1), 2, 1)}


def judge_col2im(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 404, **_: Any) -> str:
    """Compare with the counting fact, then with TensorFlow's gradient of tf.image.extract_patches."""
    from utils.checks import tf_vjp

    # Windows of 2x2 at stride 1 on a 3x4 image: corners lie in 1 window, edges in 2, inner pixels in 4.
    counts = np.array([[1.0, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]]).reshape(1, 3, 4, 1)
    expect_array("col2im of all-ones columns (2x2 windows, stride 1, on a 3x4 image)", data["counts"], counts, TOL,
                 ATOL, hint="each pixel should get the sum over every window that covers it: add, do not overwrite")
    inputs = col2im_inputs(cases, seed)
    for (shape, dcols, F, S), got in zip(inputs, data["dx"]):
        reference = tf_vjp(lambda v, F=F, S=S: reference_patches(v, F, S), [np.zeros(shape)], dcols)[0]
        expect_array(f"col2im(dcols, x_pad_shape={shape}, F={F}, stride={S})", got, reference, TOL, ATOL,
                     hint="add each row back onto its window, in im2col's order; overlaps sum")
    return f"col2im matches TensorFlow's gradient of tf.image.extract_patches on {len(inputs)} cases"


check_col2im = check("convolution.col2im", probe_col2im, judge_col2im)


# ---------------------------------------------------------------------------
# C2: the convolution backward pass
# ---------------------------------------------------------------------------

# Tiny, non-square, pads 0, 1 and 2, strides 1 and 2: `dx_pad[:, pad:-pad]` keeps nothing at pad 0.
BACKWARD_CASES = [
    ((2, 5, 4, 2), 3, 3, 1, 0),
    ((2, 5, 6, 2), 3, 2, 2, 1),
    ((1, 4, 5, 3), 2, 2, 1, 2),
    ((2, 6, 5, 1), 3, 2, 2, 0),
    ((1, 5, 7, 2), 3, 3, 2, 2),
]


def backward_inputs(cases: Sequence[tuple] | None = None, seed: int = 505) -> list[tuple]:
    """Return (x, w, b, stride, pad, dout) per case."""
    rng = np.random.default_rng(seed)
    out = []
    for x, w, b, s, p in conv_inputs(BACKWARD_CASES if cases is None else cases, seed):
        F, K = w.shape[0], w.shape[-1]
        dout = rng.normal(size=(x.shape[0], _steps(x.shape[1], F, s, p), _steps(x.shape[2], F, s, p), K))
        out.append((x, w, b, s, p, dout))
    return out


def probe_conv_backward(conv_forward_im2col: Any, conv_backward_im2col: Any, cases: Sequence[tuple] | None = None,
                        seed: int = 505, **_: Any) -> dict[str, Any]:
    """Run the student's forward pass for its cache, then the backward pass with a fixed upstream gradient."""
    results = []
    for x, w, b, s, p, dout in backward_inputs(cases, seed):
        result, raised = call_raw(conv_forward_im2col, x.copy(), w.copy(), b.copy(), s, p)
        if raised is not None or not (isinstance(result, (tuple, list)) and len(result) == 2):
            results.append({"forward": raised or {"pair": False, "value": plain(result)}, "grads": None})
            continue
        results.append({"forward": {"pair": True, "out": plain(result[0])},
                        "grads": observe(conv_backward_im2col, dout.copy(), result[1])})
    return {"results": results}


def reference_conv_grads(x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int, p: int,
                         dout: np.ndarray) -> list[np.ndarray]:
    """Return TensorFlow's (dx, dw, db) of sum(tf.nn.conv2d(x, w) + b times dout)."""
    from utils.checks import tf_vjp

    tf = _tf()
    return tf_vjp(lambda v, k, c: tf.nn.conv2d(v, k, strides=[1, s, s, 1], padding=_pad4(p)) + c, [x, w, b], dout)


def judge_conv_backward(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 505,
                        **_: Any) -> str:
    """Check the forward output first (the cache comes from it), then dx, dw and db against TensorFlow."""
    inputs = backward_inputs(cases, seed)
    worst = 0.0
    for (x, w, b, s, p, dout), got in zip(inputs, data["results"]):
        case = f"x {x.shape}, w {w.shape}, stride={s}, pad={p}"
        out = _pair_out(f"conv_forward_im2col({case})", "conv_forward_im2col", got["forward"])
        expect_array(f"the output of conv_forward_im2col({case})", out, reference_conv(x, w, b, s, p), TOL, ATOL,
                     hint="the backward pass uses its cache: fix Exercise B2 first")
        grads = got["grads"]
        expect_raised_nothing(grads)
        if grads is None:
            fail(f"conv_backward_im2col({case}) returned None: it should end with `return dx, dw, db`.")
        if not (isinstance(grads, (tuple, list)) and len(grads) == 3):
            kind = f"{len(grads)} values" if isinstance(grads, (tuple, list)) else "one value"
            fail(f"conv_backward_im2col({case}) returned {kind}; it should return the three gradients (dx, dw, db).")
        dx = grads[0]
        if p == 0 and isinstance(dx, np.ndarray) and dx.ndim == 4 and dx.size == 0:
            fail(f"dx of conv_backward_im2col({case}) is empty, shape {dx.shape}: at pad=0, `dx_pad[:, pad:-pad]` "
                 "is `dx_pad[:, 0:0]` (-0 is 0), so crop with `pad:pad + H` and `pad:pad + W` instead.")
        # A forward pass in float32 leaves a float32 cache: gradients promoted to float64 afterwards still carry
        # float32 rounding, so they are held to float32 precision.
        single = isinstance(out, np.ndarray) and out.dtype in (np.float32, np.float16)
        for name, value, reference in zip(("dx", "dw", "db"), grads, reference_conv_grads(x, w, b, s, p, dout)):
            hint = {"dx": "col2im must add overlapping windows, and the crop must keep exactly H x W",
                    "dw": "dw is cols.T @ dout reshaped to w.shape", "db": "db sums dout over images and positions"}
            tol, atol = ((FLOAT32_TOL, FLOAT32_ATOL * max(1.0, float(np.max(np.abs(reference))))) if single
                         else (TOL, ATOL))
            worst = max(worst, expect_array(f"{name} of conv_backward_im2col({case})", value, reference, tol, atol,
                                            hint=hint[name]))
    pads = ", ".join(str(pad) for pad in sorted({entry[4] for entry in inputs}))
    return (f"conv_backward_im2col's dx, dw, db match TensorFlow's gradients on {len(inputs)} non-square cases "
            f"(pads {pads}; largest relative error {worst:.1e})")


check_conv_backward = check("convolution.conv_backward", probe_conv_backward, judge_conv_backward)


# ---------------------------------------------------------------------------
# D1, D2: pooling
# ---------------------------------------------------------------------------

# cs231n-style 4x4 map and its 2x2/stride-2 pools: max [[20, 30], [70, 90]], average [[16, 8], [20, 25]].
QUIZ_MAP = np.array([[12.0, 20, 30, 0], [20, 12, 2, 0], [0, 70, 5, 2], [8, 2, 90, 3]]).reshape(1, 4, 4, 1)
QUIZ_POOL = {"max": np.array([20.0, 30, 70, 90]).reshape(1, 2, 2, 1),
             "avg": np.array([16.0, 8, 20, 25]).reshape(1, 2, 2, 1)}
# Max pooling's gradient on that map: the first 20 in row-major order (TensorFlow's choice for ties), 30, 70, 90.
QUIZ_SWITCHES = np.array([[0.0, 1, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]).reshape(1, 4, 4, 1)

# (x shape, size, stride): non-square, several channels and images, stride equal to, below and above the size.
POOL_CASES = [((2, 7, 5, 3), 2, 2), ((2, 7, 5, 3), 3, 2), ((1, 6, 9, 2), 2, 1), ((2, 8, 7, 1), 2, 3),
              ((3, 5, 6, 2), 3, 1)]
MODES = ("max", "avg")


def pool_inputs(cases: Sequence[tuple] | None = None, seed: int = 606, ties: bool = False,
                ) -> list[tuple[np.ndarray, int, int]]:
    """Return (x, size, stride) per case; with ``ties``, x holds small integers so windows share their maximum."""
    rng = np.random.default_rng(seed)
    out = []
    for shape, size, stride in (POOL_CASES if cases is None else cases):
        x = rng.integers(-2, 3, size=shape).astype(np.float64) if ties else rng.normal(size=shape)
        out.append((x, size, stride))
    return out


def reference_pool(x: Any, size: int, stride: int, mode: str) -> Any:
    """Return tf.nn.max_pool2d or tf.nn.avg_pool2d with 'VALID' windows."""
    tf = _tf()
    fn = tf.nn.max_pool2d if mode == "max" else tf.nn.avg_pool2d
    return fn(x, size, stride, "VALID")


def probe_pool_forward(pool_forward: Any, cases: Sequence[tuple] | None = None, seed: int = 606,
                       **_: Any) -> dict[str, Any]:
    """Call pool_forward on the 4x4 map and on every case, in both modes."""
    return {
        "quiz": {mode: _pair(pool_forward, QUIZ_MAP.copy(), 2, 2, mode) for mode in MODES},
        "outputs": [{mode: _pair(pool_forward, x.copy(), size, stride, mode) for mode in MODES}
                    for x, size, stride in pool_inputs(cases, seed)],
    }


def judge_pool_forward(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 606,
                       **_: Any) -> str:
    """Check the 4x4 map's known pools, then every case against tf.nn.max_pool2d / tf.nn.avg_pool2d."""
    words = {"max": "max", "avg": "average"}
    for mode in MODES:
        name = f"pool_forward(4x4 map, 2, 2, {mode!r})"
        out = _pair_out(name, "pool_forward", data["quiz"][mode])
        expect_array(f"out of {name}", out, QUIZ_POOL[mode], TOL, ATOL,
                     hint=f"{words[mode]} of each 2x2 window, channel by channel")
    inputs = pool_inputs(cases, seed)
    for (x, size, stride), got in zip(inputs, data["outputs"]):
        for mode in MODES:
            name = f"pool_forward(x of shape {x.shape}, size={size}, stride={stride}, mode={mode!r})"
            out = _pair_out(name, "pool_forward", got[mode])
            expect_array(f"out of {name}", out, reference_pool(x, size, stride, mode).numpy(), TOL, ATOL,
                         hint=f"the {words[mode]} over each window's size x size entries, per image and channel")
    return f"pool_forward matches tf.nn.max_pool2d and tf.nn.avg_pool2d on {len(inputs)} non-square cases"


check_pool_forward = check("convolution.pool_forward", probe_pool_forward, judge_pool_forward)

# Backward: overlapping windows (stride < size) and many ties (small integers).
POOL_BACKWARD_CASES = [((2, 5, 6, 2), 2, 2), ((1, 7, 6, 3), 3, 2), ((2, 4, 5, 1), 2, 1), ((1, 8, 7, 2), 3, 1),
                       ((2, 7, 8, 2), 2, 3)]


def pool_backward_inputs(cases: Sequence[tuple] | None = None, seed: int = 707) -> list[tuple]:
    """Return (x, size, stride, mode, dout) per case and mode: every other case with ties."""
    rng = np.random.default_rng(seed)
    out = []
    for index, (shape, size, stride) in enumerate(POOL_BACKWARD_CASES if cases is None else cases):
        x = rng.integers(-2, 3, size=shape).astype(np.float64) if index % 2 == 0 else rng.normal(size=shape)
        for mode in MODES:
            dout = rng.normal(size=(shape[0], _steps(shape[1], size, stride), _steps(shape[2], size, stride),
                                    shape[3]))
            out.append((x, size, stride, mode, dout))
    return out


def probe_pool_backward(pool_forward: Any, pool_backward: Any, cases: Sequence[tuple] | None = None,
                        seed: int = 707, **_: Any) -> dict[str, Any]:
    """Run the student's pool_forward for its cache, then pool_backward with a fixed upstream gradient."""
    def run(x: np.ndarray, size: int, stride: int, mode: str, dout: np.ndarray) -> dict[str, Any]:
        result, raised = call_raw(pool_forward, x.copy(), size, stride, mode)
        if raised is not None or not (isinstance(result, (tuple, list)) and len(result) == 2):
            return {"forward": raised or {"pair": False, "value": plain(result)}, "dx": None}
        return {"forward": {"pair": True, "out": plain(result[0])},
                "dx": observe(pool_backward, dout.copy(), result[1])}

    return {"quiz": run(QUIZ_MAP, 2, 2, "max", np.ones((1, 2, 2, 1))),
            "results": [run(*case) for case in pool_backward_inputs(cases, seed)]}


def judge_pool_backward(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 707,
                        **_: Any) -> str:
    """Check the 4x4 map's switches, then every case against TensorFlow's gradient of the pooling op."""
    from utils.checks import tf_vjp

    def one(got: dict[str, Any], x: np.ndarray, size: int, stride: int, mode: str, reference: Any) -> None:
        case = f"x {x.shape}, size={size}, stride={stride}, mode={mode!r}"
        out = _pair_out(f"pool_forward({case})", "pool_forward", got["forward"])
        expect_array(f"the output of pool_forward({case})", out, reference_pool(x, size, stride, mode).numpy(), TOL,
                     ATOL, hint="pool_backward uses its cache: fix Exercise D1 first")
        hint = ("only the first maximum of each window (row-major) gets the gradient, and overlapping windows add "
                "up" if mode == "max" else "each input gets dout / size**2 from every window covering it, summed")
        expect_array(f"dx of pool_backward({case})", got["dx"], reference, TOL, ATOL, hint=hint)

    one(data["quiz"], QUIZ_MAP, 2, 2, "max", QUIZ_SWITCHES)
    inputs = pool_backward_inputs(cases, seed)
    for (x, size, stride, mode, dout), got in zip(inputs, data["results"]):
        reference = tf_vjp(lambda v: reference_pool(v, size, stride, mode), [x], dout)[0]
        one(got, x, size, stride, mode, reference)
    return (f"pool_backward matches TensorFlow's gradients on {len(inputs)} cases (max and average, ties, "
            "overlapping windows)")


check_pool_backward = check("convolution.pool_backward", probe_pool_backward, judge_pool_backward)


# ---------------------------------------------------------------------------
# E1: apply a kernel
# ---------------------------------------------------------------------------

# (image height, width, kernel size, kernel): asymmetric kernels (so a flipped kernel shows), non-square images.
EDGE = np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]])
KERNEL_CASES = [(9, 13, 3, "random"), (12, 7, 5, "random"), (6, 10, 3, "edge"), (8, 8, 1, "random")]


def kernel_inputs(cases: Sequence[tuple] | None = None, seed: int = 808) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (image, kernel) per case."""
    rng = np.random.default_rng(seed)
    out = []
    for H, W, F, kind in (KERNEL_CASES if cases is None else cases):
        image = rng.uniform(size=(H, W))
        kernel = EDGE.copy() if kind == "edge" else rng.normal(size=(F, F))
        out.append((image, kernel))
    return out


def probe_apply_kernel(apply_kernel: Any, cases: Sequence[tuple] | None = None, seed: int = 808,
                       **_: Any) -> dict[str, Any]:
    """Call apply_kernel(image, kernel) on every case."""
    return {"outputs": [observe(apply_kernel, image.copy(), kernel.copy())
                        for image, kernel in kernel_inputs(cases, seed)]}


def judge_apply_kernel(data: dict[str, Any], cases: Sequence[tuple] | None = None, seed: int = 808,
                       **_: Any) -> str:
    """Compare with tf.nn.conv2d(padding='SAME') on one image and one filter."""
    tf = _tf()
    inputs = kernel_inputs(cases, seed)
    for (image, kernel), got in zip(inputs, data["outputs"]):
        size = len(kernel)
        reference = tf.nn.conv2d(image[None, :, :, None], kernel[:, :, None, None], 1, "SAME").numpy()[0, :, :, 0]
        expect_array(f"apply_kernel(image of shape {image.shape}, {size}x{size} kernel)", got, reference, TOL, ATOL,
                     hint="cross-correlation (kernel not flipped), (F - 1) / 2 zeros on each side, output (H, W)")
    return f"apply_kernel matches tf.nn.conv2d(padding='SAME') on {len(inputs)} non-square images"


check_apply_kernel = check("convolution.apply_kernel", probe_apply_kernel, judge_apply_kernel)


# ---------------------------------------------------------------------------
# F1: LeNet-5
# ---------------------------------------------------------------------------

# LeNet-5 (LeCun et al., 1998) with dense C3 and dense output: parameters per weighted layer.
LENET_PARAMS = [156, 2416, 48120, 10164, 850]
LENET_ROLES = ["C1", "C3", "C5", "F6", "the output layer"]
LENET_VARIANTS: list[dict[str, Any]] = [{}, {"activation": "tanh", "pooling": "average"}, {"num_classes": 7},
                                         {"input_shape": (36, 40, 3)}]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _clip(text: str, limit: int) -> str:
    """Cut text to at most ``limit`` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _clean_record(record: Any) -> Any:
    """Strip terminal colour codes (Keras bolds parts of its errors) from the message of a raised record."""
    if is_raised(record):
        record = dict(record, message=ANSI.sub("", record["message"]))
    return record


def _flat_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a described model's layers with nested models' layers spliced in, InputLayers left out."""
    layers = []
    for layer in description.get("layers", []):
        if "model" in layer:
            layers += _flat_layers(layer["model"])
        elif layer["class"] != "InputLayer":
            layers.append(layer)
    return layers


def probe_lenet(build_lenet5: Any, variants: Sequence[dict[str, Any]] | None = None, **_: Any) -> dict[str, Any]:
    """Build LeNet-5 with each variant's arguments, run it on zeros, and describe it."""
    results = []
    for kwargs in (LENET_VARIANTS if variants is None else variants):
        model, raised = call_raw(build_lenet5, **kwargs)
        if raised is not None:
            results.append({"raised": _clean_record(raised)})
            continue
        shape = tuple(kwargs.get("input_shape", (32, 32, 1)))
        declared = describe_model(model).get("input_shapes") if callable(model) else None
        output = _clean_record(observe(model, np.zeros((2,) + shape, np.float32))) if callable(model) else None
        results.append({"output": output, "model": describe_model(model), "declared_inputs": declared})
    return {"results": results}


def _pooling_ok(layers: list[dict[str, Any]], index: int, activation: str) -> bool:
    """Return True when the activation acts after the max pooling that follows layer ``index`` (max commutes)."""
    name = layers[index]["name"]
    for layer in layers[index + 1:]:
        if name in layer["inbound"] or not layer["inbound"]:
            return layer["class"] == "MaxPooling2D" and activation_of(layer) == activation
    return False


def _judge_lenet_variant(kwargs: dict[str, Any], got: dict[str, Any]) -> None:
    """Judge one built model against LeNet-5's facts, failing with one sentence."""
    activation = kwargs.get("activation", "relu")
    pooling = kwargs.get("pooling", "max")
    classes = kwargs.get("num_classes", 10)
    shape = tuple(kwargs.get("input_shape", (32, 32, 1)))
    call = "build_lenet5(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    if "raised" in got:
        expect_raised_nothing(got["raised"])
    description = got["model"]
    if not (isinstance(description, dict) and "layers" in description):
        kind = description.get(OBJECT, "something else") if isinstance(description, dict) else "something else"
        fail(f"{call} should return a keras.Model, not a {kind}.")
    declared = [tuple(d)[1:] for d in (got.get("declared_inputs") or []) if d]
    if declared and declared[0] != shape:
        fail(f"{call} builds a model for inputs of shape {declared[0]}, not {shape}: give keras.Input the "
             "input_shape argument rather than a fixed shape.")
    if is_raised(got["output"]):
        fail(f"{call} cannot take a batch of 2 images of shape {shape} (it raised {got['output']['__raised__']}: "
             f"{_clip(got['output']['message'], 150)}); build the model from input_shape, num_classes, activation and "
             "pooling rather than fixed values.")
    as_array(f"the output of {call} for 2 images", got["output"], (2, classes))
    layers = _flat_layers(description)
    weighted = [layer for layer in layers if layer["params"]]
    kinds = [layer["class"] for layer in weighted]
    expect_true(kinds == ["Conv2D", "Conv2D", "Dense", "Dense", "Dense"],
                f"{call} has layers with weights {kinds}; LeNet-5 has Conv2D C1 and C3, then Dense C5 (120), F6 (84) "
                f"and the output ({classes}), with no other weights.")
    for role, layer, filters in zip(LENET_ROLES, weighted[:2], (6, 16)):
        config = layer["config"]
        got_kernel = tuple(config.get("kernel_size", ()))
        expect_true(got_kernel == (5, 5) and config.get("filters") == filters,
                    f"{role} of {call} has {config.get('filters')} filters of {got_kernel}; LeNet-5's {role} has "
                    f"{filters} filters of (5, 5).")
        expect_true(config.get("padding") == "valid" and tuple(config.get("strides", (1, 1))) == (1, 1),
                    f"{role} of {call} uses padding={config.get('padding')!r} and strides={config.get('strides')}; "
                    "LeNet-5's convolutions are 'valid' with stride 1 (the pooling layers shrink the maps).")
    want_pool = "MaxPooling2D" if pooling == "max" else "AveragePooling2D"
    pools = [layer for layer in layers if "Pooling" in layer["class"]]
    expect_true([p["class"] for p in pools] == [want_pool, want_pool],
                f"{call} has pooling layers {[p['class'] for p in pools]}; pooling={pooling!r} asks for two "
                f"{want_pool} layers (S2 and S4).")
    for name, pool in zip(("S2", "S4"), pools):
        size, strides = tuple(pool["config"].get("pool_size", ())), tuple(pool["config"].get("strides") or ())
        expect_true(size == (2, 2) and strides in ((2, 2), ()),
                    f"{name} of {call} pools {size} at strides {strides}; LeNet-5 pools 2x2 windows at stride 2.")
    units = [layer["config"].get("units") for layer in weighted[2:]]
    expect_true(units == [120, 84, classes],
                f"the Dense layers of {call} have {units} units; LeNet-5 has 120 (C5), 84 (F6) and {classes} outputs.")
    params = [layer["params"] for layer in weighted]
    want = LENET_PARAMS[:4] + [(84 + 1) * classes]
    if shape == (32, 32, 1):
        expect_equal(f"parameters per weighted layer of {call}", params, want,
                     hint="C5 sees S4's 5x5x16 = 400 values" if params[:2] == want[:2] and params[2] != want[2]
                     else "")
    for index, (role, layer) in enumerate(zip(LENET_ROLES[:4], weighted[:4])):
        acts = activation_of(layer)
        ok = acts == activation or (layer["class"] == "Conv2D" and acts == "linear"
                                    and _pooling_ok(layers, layers.index(layer), activation))
        expect_true(ok, f"{role} of {call} outputs {acts!r} values, but every layer before the output should apply "
                        f"activation={activation!r}" + (" (fully connected layers need it too: stacked linear layers "
                                                        "collapse into one)" if layer["class"] == "Dense" else "")
                    + ".")
    last = activation_of(weighted[-1])
    expect_true(last == "linear",
                f"the output layer of {call} applies {last!r}; output raw logits (no activation): the loss applies "
                "the softmax with from_logits=True.")


def judge_lenet(data: dict[str, Any], variants: Sequence[dict[str, Any]] | None = None, **_: Any) -> str:
    """Check layers, shapes, parameter counts and effective activations of every variant."""
    variants = LENET_VARIANTS if variants is None else variants
    for kwargs, got in zip(variants, data["results"]):
        _judge_lenet_variant(dict(kwargs), got)
    return (f"build_lenet5 builds C1-S2-C3-S4-C5-F6-output ({len(variants)} argument sets): the layer sizes and "
            "parameters of LeNet-5, the requested activation on every hidden layer, the requested pooling, raw logits")


check_lenet = check("convolution.lenet", probe_lenet, judge_lenet)

