"""Lab 6 checks: transposed convolution (size and forward pass), the autoencoder, noise, PCA, paired
augmentation, soft Dice and IoU, and U-Net.

References are Keras/TensorFlow built-ins (``Conv2DTranspose``, its ``compute_output_shape``), the covariance
eigenvectors (for PCA) and formulas stated in the lab, never the solutions' code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.exercises.framework import (
    OBJECT, RAISED, as_array, call_raw, check, expect_array, expect_equal, expect_int, expect_raised_nothing,
    expect_true, fail, is_raised, observe,
)
from utils.exercises.models import (
    ACTIVATION_LAYERS, activation_of, activation_with_ops, describe_model, layers_of_class,
)

# ---------------------------------------------------------------------------
# A1: the output size of Conv2DTranspose
# ---------------------------------------------------------------------------

# Every width, kernel and stride combination below, both paddings: kernels smaller than, equal to and larger than
# the stride, so the conv formula, 'same' treated like 'valid' and (W - 1) S + F without the gap all show.
SIZE_GRID = [(W, F, S, p) for W in (1, 4, 7) for F in (1, 2, 3, 5) for S in (1, 2, 3) for p in ("valid", "same")]
SIZE_EXAMPLES = [(2, 3, 2, "valid"), (7, 3, 2, "same"), (14, 3, 2, "same"), (28, 3, 1, "same")]


def size_cases(cases: list[tuple[int, int, int, str]] | None = None, seed: int | None = None
               ) -> list[tuple[int, int, int, str]]:
    """Return the (W, F, S, padding) cases: given ones, ``seed``-drawn random ones, or the default grid."""
    if cases is not None:
        return [tuple(c) for c in cases]
    if seed is not None:
        rng = np.random.default_rng(seed)
        return [(int(rng.integers(1, 40)), int(rng.integers(1, 8)), int(rng.integers(1, 5)),
                 str(rng.choice(["valid", "same"]))) for _ in range(40)]
    return SIZE_EXAMPLES + SIZE_GRID


def keras_transposed_size(W: int, F: int, S: int, padding: str) -> int:
    """Return the output width Keras's Conv2DTranspose gives an input of width W."""
    import keras

    layer = keras.layers.Conv2DTranspose(1, F, strides=S, padding=padding)
    return int(layer.compute_output_shape((None, W + 1, W, 1))[2])


def probe_transposed_output_size(transposed_output_size: Any, cases: Any = None, seed: Any = None) -> dict[str, Any]:
    """Ask the student's function for every case's output width."""
    return {"sizes": [observe(transposed_output_size, W, F, S, p) for W, F, S, p in size_cases(cases, seed)]}


def _size_hint(W: int, F: int, S: int, padding: str, got: int) -> str:
    """Name the likely mistake behind a wrong output width."""
    if padding == "valid" and got == (W - 1) * S + F and F < S:
        return ("when the kernel is smaller than the stride Keras keeps the gap after the last stamp, "
                "(W - 1) S + max(F, S)")
    if got in ((W - F) // S + 1, (W - F) / S + 1, -(-W // S)) and got < W * S:
        return "that is the convolution's formula, which shrinks; a transposed convolution grows the input"
    if padding != "valid":
        return "with padding='same' Keras crops the result to exactly W * S pixels, whatever the kernel size"
    return "W stamps S pixels apart cover (W - 1) S + F pixels"


def judge_transposed_output_size(data: dict[str, Any], cases: Any = None, seed: Any = None) -> str:
    """Compare every width with Keras's compute_output_shape."""
    all_cases = size_cases(cases, seed)
    for (W, F, S, p), got in zip(all_cases, data["sizes"]):
        name = f"transposed_output_size({W}, {F}, {S}, {p!r})"
        expect_true(got is not None, f"{name} is None: did the function forget to `return` the width?")
        value = expect_int(name, got)
        want = keras_transposed_size(W, F, S, p)
        if value != want:
            fail(f"{name} is {value}, but keras.layers.Conv2DTranspose gives {want}: {_size_hint(W, F, S, p, value)}.")
    strides, kernels = sorted({c[2] for c in all_cases}), sorted({c[1] for c in all_cases})
    return (f"transposed_output_size agrees with Conv2DTranspose.compute_output_shape on {len(all_cases)} cases "
            f"(strides {strides[0]}-{strides[-1]}, kernels {kernels[0]}-{kernels[-1]}, "
            f"{' and '.join(sorted({repr(c[3]) for c in all_cases}, reverse=True))} padding)")


check_transposed_output_size = check("autoencoder.transposed_output_size", probe_transposed_output_size,
                                     judge_transposed_output_size)

# ---------------------------------------------------------------------------
# A2: the transposed convolution's forward pass
# ---------------------------------------------------------------------------

# (x shape NHWC, kernel F, output channels, stride): the 2x2 -> 5x5 example with a kernel of ones first (overlaps
# add up to 10 in the centre); then non-square inputs, batches and channels above one, strides 1 to 3, kernels
# larger and smaller than the stride, and one case with as many input as output channels (so swapping the kernel's
# channel axes gives wrong numbers, not just a crash).
TRANSPOSE_CASES = [
    ((1, 2, 2, 1), 3, 1, 2),
    ((2, 3, 4, 3), 3, 5, 2),
    ((2, 4, 3, 2), 2, 3, 1),
    ((1, 3, 5, 2), 4, 2, 3),
    ((2, 2, 3, 2), 3, 2, 2),
    ((2, 3, 2, 1), 2, 2, 3),
]


def transpose_inputs(cases: Any = None, seed: int = 6) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    """Return the cases as (x, w, b, stride), the same on every call; the first default case uses ones."""
    rng = np.random.default_rng(seed)
    out = []
    for index, (shape, F, c_out, stride) in enumerate(cases if cases is not None else TRANSPOSE_CASES):
        shape = tuple(shape)
        if cases is None and index == 0:
            x = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)
            w, b = np.ones((F, F, c_out, shape[-1])), np.zeros(c_out)
        else:
            x = rng.normal(size=shape)
            w = rng.normal(size=(F, F, c_out, shape[-1]))
            b = rng.normal(size=c_out)
        out.append((x, w, b, int(stride)))
    return out


def reference_transpose(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int) -> np.ndarray:
    """Return keras.layers.Conv2DTranspose(padding='valid') with kernel w and bias b, in float64."""
    import keras

    layer = keras.layers.Conv2DTranspose(w.shape[2], w.shape[0], strides=stride, padding="valid", dtype="float64")
    layer.build(x.shape)
    layer.set_weights([w, b])
    return np.asarray(layer(x))


def probe_conv_transpose_forward(conv_transpose_forward: Any, cases: Any = None, seed: int = 6) -> dict[str, Any]:
    """Run the student's transposed convolution on every case (on copies)."""
    return {"outputs": [observe(conv_transpose_forward, x.copy(), w.copy(), b.copy(), s)
                        for x, w, b, s in transpose_inputs(cases, seed)]}


def _close(got: np.ndarray, want: np.ndarray) -> bool:
    """Return True when two arrays of the same shape agree to float32 precision."""
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max())))


def _transpose_hint(x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int, got: np.ndarray, want: np.ndarray) -> str:
    """Name the likely mistake behind a wrong transposed convolution (empty when none is recognised)."""
    got = got.astype(np.float64)
    if _close(got, want - b):
        return "the bias is missing"
    if _close(got, reference_transpose(x, w[::-1, ::-1], b, s)):
        return "the kernel is flipped: stamp w[a, b] at offset (a, b), as Keras does"
    if w.shape[2] == w.shape[3] and _close(got, reference_transpose(x, w.transpose(0, 1, 3, 2), b, s)):
        return "the kernel's channel axes are swapped: its layout is (F, F, C_out, C_in)"
    cover = reference_transpose(np.ones(x.shape[:3] + (1,)), np.ones(w.shape[:2] + (1, 1)), np.zeros(1), s)[..., 0]
    overlap = cover > 1
    if overlap.any() and _close(got, want + (cover - 1)[..., None] * b):
        return ("the bias is added with every stamp, so pixels where stamps overlap get it several times: add b once "
                "to the whole output, after the stamps")
    if overlap.any() and _close(got[~overlap], want[~overlap]):
        return "only the pixels where stamps overlap are wrong: add each stamp to the output (+=), do not overwrite"
    if s > 1:
        unstrided = reference_transpose(x, w, b, 1)
        h, wd = unstrided.shape[1:3]
        if _close(got[:, :h, :wd], unstrided):
            return f"the stamps sit 1 pixel apart: with stride {s} the stamp of input (i, j) starts at (i S, j S)"
    return ""


def judge_conv_transpose_forward(data: dict[str, Any], cases: Any = None, seed: int = 6) -> str:
    """Compare each output with keras.layers.Conv2DTranspose."""
    worst = 0.0
    inputs = transpose_inputs(cases, seed)
    for (x, w, b, s), got in zip(inputs, data["outputs"]):
        name = f"conv_transpose_forward(x of shape {x.shape}, w of shape {w.shape}, stride={s})"
        want = reference_transpose(x, w, b, s)
        value = as_array(name, got)
        if value.shape != want.shape and value.ndim == 4 and value.shape[1] == x.shape[1] * s:
            fail(f"{name} has shape {value.shape}, expected {want.shape}: the 'valid' output keeps every stamp "
                 "whole, transposed_output_size(H, F, S, 'valid') pixels, not the 'same' size H * S.")
        hint = _transpose_hint(x, w, b, s, value, want) if value.shape == want.shape and np.issubdtype(
            value.dtype, np.number) and np.all(np.isfinite(value)) else ""
        worst = max(worst, expect_array(name, value, want, hint=hint))
    strides = sorted({s for _, _, _, s in inputs})
    return (f"conv_transpose_forward matches keras.layers.Conv2DTranspose on {len(inputs)} cases (batches, channels, "
            f"non-square inputs, strides {', '.join(map(str, strides))}; largest relative error {worst:.1e})")


check_conv_transpose_forward = check("autoencoder.conv_transpose_forward", probe_conv_transpose_forward,
                                     judge_conv_transpose_forward)

# ---------------------------------------------------------------------------
# B1: the convolutional autoencoder
# ---------------------------------------------------------------------------

# The printed summary without the input layer: (class, output shape, parameters, activation acting on the output;
# None where the layer has none to check).
AUTOENCODER_TABLE = [
    ("Conv2D", (None, 26, 26, 32), 320, "relu"),
    ("MaxPooling2D", (None, 13, 13, 32), 0, None),
    ("Conv2D", (None, 11, 11, 64), 18496, "relu"),
    ("MaxPooling2D", (None, 5, 5, 64), 0, None),
    ("Conv2D", (None, 3, 3, 64), 36928, "relu"),
    ("Flatten", (None, 576), 0, None),
    ("Dense", (None, 49), 28273, "relu"),
    ("Reshape", (None, 7, 7, 1), 0, None),
    ("Conv2DTranspose", (None, 14, 14, 64), 640, "relu"),
    ("BatchNormalization", (None, 14, 14, 64), 256, None),
    ("Conv2DTranspose", (None, 28, 28, 64), 36928, "relu"),
    ("BatchNormalization", (None, 28, 28, 64), 256, None),
    ("Conv2DTranspose", (None, 28, 28, 32), 18464, "relu"),
    ("Conv2D", (None, 28, 28, 1), 289, "sigmoid"),
]
AUTOENCODER_PARAMS, AUTOENCODER_FROZEN = 140_850, 256


def _model_or_record(builder: Any, *args: Any, **kwargs: Any) -> Any:
    """Build a model with the student's function and describe it (or return what was raised)."""
    model, raised = call_raw(builder, *args, **kwargs)
    return raised if raised is not None else describe_model(model)


def probe_build_autoencoder(build_autoencoder: Any, momentum: float = 0.9) -> dict[str, Any]:
    """Build the student's autoencoder with a given batch-norm momentum and describe it."""
    return {"model": _model_or_record(build_autoencoder, momentum)}


def _expect_model(name: str, description: Any) -> dict[str, Any]:
    """Fail with one sentence unless ``description`` describes a Keras model."""
    expect_raised_nothing(description)
    if description is None or description == {OBJECT: "NoneType"}:
        fail(f"{name} returned None: did the function forget to `return` the model?")
    if not isinstance(description, dict) or OBJECT in description or "layers" not in description:
        kind = description.get(OBJECT, "value") if isinstance(description, dict) else type(description).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        fail(f"{name} should return a keras.Model, but it returned {article} {kind}.")
    return description


def _body(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the layers that are neither the input nor an activation-only layer."""
    return [layer for layer in description["layers"]
            if layer["class"] != "InputLayer" and layer["class"] not in ACTIVATION_LAYERS]


def judge_build_autoencoder(data: dict[str, Any], momentum: float = 0.9) -> str:
    """Compare the model, layer by layer, with the printed summary."""
    model = _expect_model(f"build_autoencoder({momentum})", data["model"])
    inputs = model["input_shapes"]
    expect_true(inputs in ([(None, 28, 28, 1)], []),
                f"The autoencoder's input has shape {inputs[0] if inputs else None}, expected (None, 28, 28, 1).")
    expect_true(model["params"] > 0, "The autoencoder has no weights yet: start it with keras.Input((28, 28, 1)) so "
                "that Keras builds every layer.")
    body = _body(model)
    for index, (layer, (kind, shape, params, act)) in enumerate(zip(body, AUTOENCODER_TABLE), start=1):
        got = (layer["class"], layer["output_shape"], layer["params"])
        if got != (kind, shape, params):
            hint = ""
            spatial = tuple(layer["output_shape"][1:3]) if layer["output_shape"] else None
            if kind == layer["class"] and spatial == (30, 30):
                hint = " (the last two layers need padding='same' to stay 28x28)"
            elif kind == layer["class"] == "Conv2D" and index == 1 and spatial == (28, 28):
                hint = " (the encoder's convolutions use 'valid' padding)"
            fail(f"Layer {index} (not counting the input and activation-only layers) is {got[0]} with output "
                 f"{got[1]} and {got[2]:,} parameters; the summary has {kind} {shape} with {params:,}{hint}.")
        acting = activation_with_ops(layer)
        if act is not None and acting != act:
            where = "the output layer" if index == len(AUTOENCODER_TABLE) else f"layer {index} ({kind})"
            extra = (" (put the ReLU on the transposed convolution itself, before batch norm)"
                     if kind == "Conv2DTranspose" else "")
            fail(f"The activation acting on {where} is {acting}, expected {act}{extra}.")
        if kind == "BatchNormalization" and acting not in (None, "linear"):
            fail(f"A {acting} acts on the output of layer {index} (BatchNormalization); the summary applies the ReLU "
                 "to the transposed convolution before batch norm and nothing after it, so drop the extra "
                 "activation.")
    if len(body) != len(AUTOENCODER_TABLE):
        more = body[len(AUTOENCODER_TABLE)]["class"] if len(body) > len(AUTOENCODER_TABLE) else None
        fail(f"The model has {len(body)} layers besides the input and activation-only layers, the summary "
             f"{len(AUTOENCODER_TABLE)}" + (f"; the first extra one is a {more}." if more else "."))
    expect_equal("The total number of parameters", model["params"], AUTOENCODER_PARAMS)
    frozen = model["params"] - model["trainable_params"]
    expect_equal("The number of non-trainable parameters", frozen, AUTOENCODER_FROZEN)
    momenta = [layer["config"].get("momentum") for layer in layers_of_class(model, "BatchNormalization")]
    expect_true(all(m is not None and abs(m - momentum) < 1e-9 for m in momenta),
                f"build_autoencoder({momentum}) gave batch-norm momenta {momenta}: pass bn_momentum to both "
                "BatchNormalization layers (momentum=bn_momentum).")
    return (f"build_autoencoder matches the printed summary: {len(AUTOENCODER_TABLE)} layers, a 49-unit ReLU "
            f"bottleneck, a sigmoid output, {AUTOENCODER_PARAMS:,} parameters ({AUTOENCODER_FROZEN} non-trainable)")


check_build_autoencoder = check("autoencoder.build_autoencoder", probe_build_autoencoder, judge_build_autoencoder)

# ---------------------------------------------------------------------------
# B2: Gaussian noise
# ---------------------------------------------------------------------------


def noise_inputs() -> tuple[np.ndarray, np.ndarray]:
    """Return (grey, edges): 60 mid-grey 28x28 images, and 40 images of exact 0 and 1 pixels."""
    grey = np.full((60, 28, 28, 1), 0.5, np.float32)
    edges = np.zeros((40, 14, 10, 1), np.float32)
    edges[:, :7] = 1.0
    return grey, edges


def _clipped_std(std: float) -> float:
    """Return the standard deviation of clip(0.5 + N(0, std), 0, 1) - 0.5 (from a large fixed sample)."""
    sample = np.random.default_rng(0).standard_normal(1_000_000) * std
    return float(np.std(np.clip(sample, -0.5, 0.5)))


def _tf_global_seed() -> Any:
    """Return TensorFlow's global seed (tf.random.set_seed), or None when TensorFlow is not loaded or none is set."""
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    # get_seed with an op seed given reads the global seed without drawing from TensorFlow's generators; with no
    # global seed it answers TensorFlow's default graph seed, 87654321.
    global_seed = tf.compat.v1.get_seed(0)[0]
    return None if global_seed == 87654321 else int(global_seed)


def _set_tf_global_seed(seed: Any) -> None:
    """Put TensorFlow's global seed back (None removes it)."""
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is not None:
        tf.random.set_seed(seed)


def probe_add_noise(add_noise: Any, std: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Call add_noise on grey and black-and-white images with a few seeds; note input and global-state changes."""
    grey, edges = noise_inputs()
    state = np.random.get_state()
    tf_seed = _tf_global_seed()
    tf_seeds = set()
    given = grey.copy()

    def watched(*args: Any) -> Any:
        value = observe(add_noise, *args)
        tf_seeds.add(_tf_global_seed())
        return value

    first = watched(given, std, seed)
    result = {
        "first": first,
        "input_unchanged": bool(np.array_equal(given, grey)),
        "again": watched(grey.copy(), std, seed),
        "other_seed": watched(grey.copy(), std, seed + 1),
        "edges": watched(edges.copy(), std, seed),
        "strong": watched(grey.copy(), 2.0, seed),
    }
    result["tf_seed_changed"] = tf_seeds != {tf_seed}
    if result["tf_seed_changed"]:
        _set_tf_global_seed(tf_seed)
    after = np.random.get_state()
    result["global_state_changed"] = not (np.array_equal(state[1], after[1]) and state[2] == after[2])
    np.random.set_state(state)
    return result


def judge_add_noise(data: dict[str, Any], std: float = 0.1, seed: int = 0) -> str:
    """Judge the noise by its statistics, its clipping, its repeatability and what it leaves alone."""
    grey, edges = noise_inputs()
    name = f"add_noise(x, {std}, {seed})"
    noisy = as_array(name, data["first"], grey.shape)
    expect_true(noisy.dtype == np.float32, f"{name} has dtype {noisy.dtype}; return float32, as the docstring says "
                "(for example `.astype(np.float32)`).")
    expect_true(data["input_unchanged"], f"{name} changed its input x: build a new array instead of adding in place.")
    noise = noisy.astype(np.float64) - 0.5
    measured, expected = float(np.std(noise)), _clipped_std(std)
    hint = ""
    if abs(measured - _clipped_std(std ** 2)) < 0.1 * std ** 2:
        hint = ": std is the standard deviation, not the variance"
    elif abs(measured - std / np.sqrt(3)) < 0.05 * std:
        hint = ": that is uniform noise; draw Gaussian noise with rng.normal"
    expect_true(abs(measured - expected) <= 0.03 * expected,
                f"The noise {name} added to mid-grey images has standard deviation {measured:.4g}, expected "
                f"{expected:.4g}{' after clipping' if expected < 0.99 * std else ''}{hint}.")
    expect_true(abs(float(np.mean(noise))) <= 0.05 * std,
                f"The noise {name} added has mean {float(np.mean(noise)):.4g}, expected 0: use zero-mean Gaussian "
                "noise.")
    expect_true(not np.allclose(noise[0], noise[1]),
                f"{name} gave every image the same noise: draw noise of the whole shape x.shape.")
    expect_raised_nothing(data["again"])
    expect_raised_nothing(data["other_seed"])
    again = as_array(f"add_noise(x, {std}, {seed}) called a second time", data["again"], grey.shape)
    expect_true(np.array_equal(again, noisy),
                f"add_noise(x, {std}, {seed}) gave different noise when called twice: draw it from "
                "np.random.default_rng(seed), not from an unseeded generator.")
    other = as_array(f"add_noise(x, {std}, {seed + 1})", data["other_seed"], grey.shape)
    expect_true(not np.array_equal(other, noisy),
                f"add_noise gave the same noise for seeds {seed} and {seed + 1}: seed the generator with `seed`.")
    expect_true(not data["global_state_changed"],
                "add_noise changed NumPy's global random state (np.random.seed or np.random.normal): use a local "
                "generator, rng = np.random.default_rng(seed), and rng.normal(...).")
    expect_true(not data.get("tf_seed_changed"),
                "add_noise changed TensorFlow's global random seed (tf.random.set_seed or keras.utils."
                "set_random_seed): leave global seeds alone and draw from a local generator, rng = "
                "np.random.default_rng(seed), with rng.normal(...).")
    strong = as_array(f"add_noise(x, 2.0, {seed})", data["strong"], grey.shape)
    low, high = float(np.min(strong)), float(np.max(strong))
    expect_true(low >= 0.0 and high <= 1.0,
                f"add_noise(x, 2.0, {seed}) has pixels from {low:.3g} to {high:.3g}: clip the result to [0, 1] "
                "(np.clip).")
    edged = as_array(f"add_noise(x, {std}, {seed}) on black-and-white images", data["edges"], edges.shape)
    black, white = edged[edges == 0.0], edged[edges == 1.0]
    share_black, share_white = float(np.mean(black == 0.0)), float(np.mean(white == 1.0))
    expect_true(0.4 <= share_black <= 0.6 and 0.4 <= share_white <= 0.6,
                f"On black-and-white images {share_black:.0%} of the black and {share_white:.0%} of the white pixels "
                "stay exactly 0 and 1, expected about half: add the noise, then clip (do not rescale or fold it).")
    return (f"add_noise adds zero-mean noise of standard deviation {measured:.4f} (asked {std}), clips to [0, 1], "
            "repeats for the same seed and leaves its input alone")


check_add_noise = check("autoencoder.add_noise", probe_add_noise, judge_add_noise)

# ---------------------------------------------------------------------------
# B3: PCA to two dimensions
# ---------------------------------------------------------------------------


def pca_clouds(seed: int = 3) -> list[np.ndarray]:
    """Return point clouds with distinct variances along rotated axes and a mean far from zero."""
    rng = np.random.default_rng(seed)
    clouds = []
    for n, scales, offset in ((300, [5.0, 2.0, 1.0, 0.5, 0.1], 3.0), (60, [4.0, 2.5, 1.5, 1.0, 0.6, 0.4, 0.2, 0.1,
                                                                          0.05], -7.0)):
        d = len(scales)
        rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
        clouds.append(rng.normal(size=(n, d)) * np.array(scales) @ rotation + offset * rng.uniform(0.5, 1.5, d))
    return clouds


def _pca_reference(cloud: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (projections, explained fractions, eigenvalues descending, eigenvectors) from the covariance matrix."""
    values, vectors = np.linalg.eigh(np.cov(cloud, rowvar=False))
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    return (cloud - cloud.mean(axis=0)) @ vectors[:, :2], values[:2] / values.sum(), values, vectors


def probe_pca_2d(pca_2d: Any, seed: int = 3) -> dict[str, Any]:
    """Run the student's PCA on each cloud."""
    return {"results": [observe(pca_2d, cloud.copy()) for cloud in pca_clouds(seed)]}


def _signed(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip each column of ``points`` to the sign that best matches ``reference`` (a direction's sign is free)."""
    signs = np.sign(np.sum(points * reference, axis=0))
    return points * np.where(signs == 0, 1.0, signs).astype(points.dtype)


def _points_hint(cloud: np.ndarray, points: np.ndarray, reference: np.ndarray, vectors: np.ndarray) -> str:
    """Name the likely mistake behind wrong projections."""
    centred = cloud - cloud.mean(axis=0)
    if _close(_signed(points - points.mean(axis=0), reference), reference):
        return "the directions are right but the points are not centred: project the centred codes"
    raw = np.linalg.svd(cloud, full_matrices=False)[2]
    if _close(_signed(points, cloud @ raw[:2].T), cloud @ raw[:2].T) or _close(
            _signed(points, centred @ raw[:2].T), centred @ raw[:2].T):
        return "centre the codes (subtract codes.mean(axis=0)) before the SVD"
    vt = np.linalg.svd(centred, full_matrices=False)[2]
    if _close(_signed(points, centred @ vt[:, :2]), centred @ vt[:, :2]):
        return "the directions are the first two rows of vt (columns of V), not its columns"
    smallest = centred @ vectors[:, -2:]
    if _close(_signed(points, smallest), smallest) or _close(_signed(points, smallest[:, ::-1]), smallest[:, ::-1]):
        return "these are the directions of smallest variance: take the largest two"
    return ""


def judge_pca_2d(data: dict[str, Any], seed: int = 3) -> str:
    """Compare projections (up to each direction's sign) and explained fractions with the covariance eigenvectors."""
    clouds = pca_clouds(seed)
    for cloud, result in zip(clouds, data["results"]):
        name = f"pca_2d(codes of shape {cloud.shape})"
        expect_raised_nothing(result)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            got = f"a tuple of {len(result)} values" if isinstance(result, (tuple, list)) else "one value"
            fail(f"{name} returned {got}; return two values, (points, explained).")
        reference, explained, values, vectors = _pca_reference(cloud)
        points = as_array(f"The points of {name}", result[0], reference.shape)
        hint = ""
        if np.all(np.isfinite(points)) and np.issubdtype(points.dtype, np.number):
            points = _signed(points, reference)
            hint = _points_hint(cloud, points.astype(np.float64), reference, vectors)
        expect_array(f"The points of {name} (up to each direction's sign)", points, reference, tol=1e-6, hint=hint)
        fraction_hint = ""
        got = result[1]
        if isinstance(got, np.ndarray) and got.shape == (2,) and np.all(np.isfinite(got)):
            s = np.sqrt(np.maximum(values, 0.0))
            if np.allclose(got, s[:2] / s.sum(), rtol=1e-4):
                fraction_hint = "square the singular values: the variance is sigma squared"
            elif np.allclose(got, values[:2] / values[:2].sum(), rtol=1e-4):
                fraction_hint = "divide by the sum over all components, not just the first two"
            elif np.allclose(got, explained[::-1], rtol=1e-4):
                fraction_hint = "list the largest fraction first"
        expect_array(f"The explained fractions of {name}", got, explained, tol=1e-6, hint=fraction_hint)
    return (f"pca_2d matches the covariance eigenvectors on {len(clouds)} clouds (up to each direction's sign), "
            "explained fractions largest first")


check_pca_2d = check("autoencoder.pca_2d", probe_pca_2d, judge_pca_2d)

# ---------------------------------------------------------------------------
# C1: augmentation that moves image and mask together
# ---------------------------------------------------------------------------

AUGMENT_SEEDS = 24  # 24 draws of 8 orientations: all correct answers show at least 5 of them


def augment_input(height: int = 12, width: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Return (image, mask): a non-square ramp whose pixels are all different, and 1 minus it."""
    ramp = (np.arange(height * width, dtype=np.float32).reshape(height, width, 1) + 1.0) / (height * width)
    return ramp, (1.0 - ramp).astype(np.float32)


def probe_augment_pair(augment_pair: Any, crop: int = 8, height: int = 12, width: int = 10,
                       seeds: int = AUGMENT_SEEDS) -> dict[str, Any]:
    """Augment the ramp and its mask with several seeds, once more with one seed, and inside a tf.data map."""
    import tensorflow as tf

    image, mask = augment_input(height, width)
    results = [observe(augment_pair, tf.constant(image), tf.constant(mask), crop, tf.constant([s, 7], tf.int64))
               for s in range(seeds)]
    again = observe(augment_pair, tf.constant(image), tf.constant(mask), crop, tf.constant([3, 7], tf.int64))

    def augment_pair_in_a_dataset_map() -> Any:
        """Run augment_pair as tf.data runs it: traced into a graph."""
        data = tf.data.Dataset.from_tensors((image, mask, np.array([3, 7], np.int64)))
        return next(iter(data.map(lambda i, m, s: augment_pair(i, m, crop, s))))

    return {"results": results, "again": again, "mapped": observe(augment_pair_in_a_dataset_map)}


def _views(image: np.ndarray) -> list[np.ndarray]:
    """Return the 8 flips and rotations of an image: views 0-3 rotate it, 4-7 rotate its mirror image."""
    return [np.rot90(np.fliplr(image) if flip else image, k) for flip in (0, 1) for k in range(4)]


def _which_view(crop: np.ndarray, views: list[np.ndarray]) -> tuple[int, tuple[int, int]] | None:
    """Return (view index, offset) of the flip/rotation that ``crop`` was cut from, or None."""
    for v, view in enumerate(views):
        for r, c in np.argwhere(view[..., 0] == crop[0, 0, 0]):
            if np.array_equal(view[r:r + crop.shape[0], c:c + crop.shape[1]], crop):
                return v, (int(r), int(c))
    return None


def _pair(name: str, result: Any, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """Return a result as (image, mask) arrays of shape (crop, crop, 1), or fail with one sentence."""
    expect_raised_nothing(result)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else "one value"
        fail(f"{name} returned {got}; return two, (image, mask).")
    return (as_array(f"The image from {name}", result[0], (crop, crop, 1)),
            as_array(f"The mask from {name}", result[1], (crop, crop, 1)))


def judge_augment_pair(data: dict[str, Any], crop: int = 8, height: int = 12, width: int = 10,
                       seeds: int = AUGMENT_SEEDS) -> str:
    """Each output must be a crop of a flip/rotation of the input, with the mask moved the same way."""
    image, _ = augment_input(height, width)
    views = _views(image)
    found = []
    pairs = []
    for s, result in enumerate(data["results"]):
        name = f"augment_pair(image, mask, {crop}, seed=[{s}, 7])"
        out_image, out_mask = _pair(name, result, crop)
        pairs.append(out_image)
        if np.array_equal(out_mask, out_image):
            fail(f"{name} returned the transformed image as the mask too: return the transformed mask.")
        expect_true(np.allclose(out_mask, 1.0 - out_image.astype(np.float64), rtol=0.0, atol=1e-6),
                    f"{name} moved the image and its mask differently: apply the same crop, flip and rotation to "
                    "both (for example, stack them into one two-channel tensor and transform that).")
        where = _which_view(out_image, views)
        expect_true(where is not None,
                    f"The image from {name} is not a {crop}x{crop} crop of a flipped or rotated input: crop, flip "
                    "and rotate only (no resizing), and crop before you split image and mask.")
        found.append(where)
    orientations = {v for v, _ in found}
    # Where each crop lies in the input: its smallest ramp value is its corner nearest the input's top-left.
    offsets = {int(np.argmin(np.abs(image[..., 0] - np.min(crop)))) for crop in pairs}
    expect_true(any(v >= 4 for v in orientations) and any(v < 4 for v in orientations),
                f"{len(found)} seeds gave {'only mirrored' if min(orientations) >= 4 else 'no mirrored'} images: flip "
                "left-right at random, driven by the seed.")
    expect_true(len(orientations) >= 5,
                f"{len(found)} seeds gave only {len(orientations)} of the 8 orientations (a flip times a rotation by "
                "0, 90, 180 or 270 degrees): rotate by a random multiple of 90 degrees (tf.image.rot90) as well as "
                "flip.")
    expect_true(len(offsets) >= 3,
                f"{len(found)} seeds gave only {len(offsets)} crop position(s): crop at a random position driven by "
                "the seed (tf.image.stateless_random_crop).")
    again, _ = _pair(f"augment_pair(image, mask, {crop}, seed=[3, 7]) called again", data["again"], crop)
    expect_true(np.array_equal(again, pairs[3]),
                "The same seed gave a different result: use only stateless random ops driven by `seed`.")
    mapped, _ = _pair("augment_pair inside tf.data.Dataset.map", data["mapped"], crop)
    expect_true(np.array_equal(mapped, pairs[3]),
                "augment_pair gives another result inside tf.data.Dataset.map than when called directly: use "
                "TensorFlow's stateless ops only (no NumPy or Python randomness).")
    return (f"augment_pair moves image and mask together; {len(found)} seeds gave {len(orientations)} orientations "
            f"and {len(offsets)} crop positions, the same seed repeats, and it runs inside tf.data")


check_augment_pair = check("autoencoder.augment_pair", probe_augment_pair, judge_augment_pair)

# ---------------------------------------------------------------------------
# C2: soft Dice loss and IoU
# ---------------------------------------------------------------------------


def dice_inputs(seed: int = 4, shape: tuple[int, ...] = (3, 10, 12, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels, probabilities) in float32: images with very different foreground shares (0.8, 0.15, 0.5...)."""
    rng = np.random.default_rng(seed)
    shares = np.resize(np.array([0.8, 0.15, 0.5]), shape[0]).reshape(-1, 1, 1, 1)
    labels = (rng.random(shape) < shares).astype(np.float32)
    probabilities = rng.uniform(0.02, 0.98, shape).astype(np.float32)
    return labels, probabilities


def _dice_reference(t: np.ndarray, p: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    """Return the batch mean of 1 - 2 sum(p t) / (sum p + sum t + eps) per image, and its gradient in p."""
    t, p = t.astype(np.float64), p.astype(np.float64)
    axes = tuple(range(1, t.ndim))
    inter = np.sum(t * p, axis=axes, keepdims=True)
    total = np.sum(t, axis=axes, keepdims=True) + np.sum(p, axis=axes, keepdims=True) + eps
    loss = float(np.mean(1.0 - 2.0 * inter / total))
    gradient = -2.0 / len(t) * (t * total - inter) / total ** 2
    return loss, gradient


def probe_soft_dice_loss(soft_dice_loss: Any, seed: int = 4, shape: tuple[int, ...] = (3, 10, 12, 1)
                         ) -> dict[str, Any]:
    """Call soft_dice_loss on tensors (default eps, eps=1, a perfect prediction) and take its gradient."""
    import tensorflow as tf

    t, p = dice_inputs(seed, shape)
    variable = tf.Variable(p)

    with tf.GradientTape() as tape:
        value, raised = call_raw(soft_dice_loss, tf.constant(t), variable)
    gradient: Any = raised
    if raised is None:
        try:
            gradient = observe(lambda: tape.gradient(value, variable))
        except Exception:  # noqa: BLE001 - a value the tape cannot differentiate
            gradient = None
        if is_raised(gradient):
            gradient = None
    return {
        "loss": observe(soft_dice_loss, tf.constant(t), tf.constant(p)),
        "loss_eps": observe(soft_dice_loss, tf.constant(t), tf.constant(p), 1.0),
        "perfect": observe(soft_dice_loss, tf.constant(t), tf.constant(t)),
        "gradient": gradient,
    }


def _dice_hint(t: np.ndarray, p: np.ndarray, eps: float, got: Any) -> str:
    """Name the likely mistake behind a wrong Dice loss value."""
    if isinstance(got, float):
        got = np.asarray(got)
    if not (isinstance(got, np.ndarray) and got.shape == () and np.isfinite(got)):
        return ""
    value, t, p = float(got), t.astype(np.float64), p.astype(np.float64)
    axes = tuple(range(1, t.ndim))
    inter, total = np.sum(t * p, axis=axes), np.sum(t, axis=axes) + np.sum(p, axis=axes)
    guesses = {
        "compute one Dice per image over its pixels, then average (this pooled the whole batch)":
            1.0 - 2.0 * inter.sum() / (total.sum() + eps),
        "Dice has a factor 2 in the numerator": float(np.mean(1.0 - inter / (total + eps))),
        "return 1 - Dice, the loss, not Dice itself": float(np.mean(2.0 * inter / (total + eps))),
        "use the probabilities as they are, without thresholding them": float(np.mean(
            1.0 - 2.0 * np.sum(t * (p >= 0.5), axis=axes)
            / (np.sum(t, axis=axes) + np.sum(p >= 0.5, axis=axes) + eps))),
        "use sums over the pixels, not means (the eps term changes)": float(np.mean(
            1.0 - 2.0 * inter / t[0].size / (total / t[0].size + eps))),
        "use eps as given, only in the denominator": float(np.mean(1.0 - (2.0 * inter + eps) / (total + eps))),
    }
    for hint, guess in guesses.items():
        if abs(value - guess) <= 1e-4 * max(1.0, abs(guess)):
            return hint
    return ""


def judge_soft_dice_loss(data: dict[str, Any], seed: int = 4, shape: tuple[int, ...] = (3, 10, 12, 1)) -> str:
    """Compare the loss (two eps values and a perfect prediction) and its gradient with the stated formula."""
    t, p = dice_inputs(seed, shape)
    cases = (("loss", p, 1e-7, "soft_dice_loss(y_true, y_pred)"),
             ("loss_eps", p, 1.0, "soft_dice_loss(y_true, y_pred, eps=1.0)"),
             ("perfect", t, 1e-7, "soft_dice_loss(y_true, y_true), a perfect prediction,"))
    for key, prediction, eps, name in cases:
        got = data[key]
        expect_raised_nothing(got)
        if isinstance(got, np.ndarray) and got.shape == (len(t),):
            fail(f"{name} returned one loss per image, shape {got.shape}; return their mean over the batch, a scalar.")
        want, _ = _dice_reference(t, prediction, eps)
        hint = _dice_hint(t, prediction, eps, got) if key != "perfect" else ""
        if key == "loss_eps" and not hint and isinstance(got, np.ndarray) and got.shape == () and abs(
                float(got) - _dice_reference(t, prediction, 1e-7)[0]) < 1e-4:
            hint = "use the eps argument, not a fixed constant"
        if isinstance(got, np.ndarray) and got.dtype == np.float32:
            got = got.astype(np.float64)  # float32 is expected in a loss: hold it to float32 precision, silently
        expect_array(name, got, np.asarray(want), tol=1e-4, atol=1e-6, hint=hint)
    gradient = data["gradient"]
    expect_raised_nothing(gradient)
    expect_true(gradient is not None and not isinstance(gradient, str),
                "soft_dice_loss has no gradient with respect to y_pred: compute it with TensorFlow ops only "
                "(no NumPy, no thresholding, no .numpy()).")
    _, want_gradient = _dice_reference(t, p, 1e-7)
    if isinstance(gradient, np.ndarray) and gradient.dtype == np.float32:
        gradient = gradient.astype(np.float64)
    expect_array("The gradient of soft_dice_loss with respect to y_pred", gradient, want_gradient, tol=1e-4,
                 atol=1e-6 * float(np.max(np.abs(want_gradient))))
    return (f"soft_dice_loss matches mean(1 - 2 sum(p t) / (sum p + sum t + eps)) per image on a {t.shape} batch, "
            "for two eps values, and its gradient is right")


check_soft_dice_loss = check("autoencoder.soft_dice_loss", probe_soft_dice_loss, judge_soft_dice_loss)

IOU_CASES = [(1, 0.5), (0, 0.5), (0, 0.3), (1, 0.7)]


def iou_inputs(seed: int = 5, shape: tuple[int, ...] = (2, 9, 11, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Return (labels, probabilities): probabilities on a 0.05 grid, so some equal each threshold exactly."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(shape) < np.resize(np.array([0.7, 0.3]), shape[0]).reshape(-1, 1, 1, 1)).astype(np.float32)
    return labels, rng.integers(0, 21, shape) / 20.0


def _iou(t: np.ndarray, p: np.ndarray, target: int, threshold: float) -> float:
    """IoU of class ``target``: predicted class 1 where p >= threshold."""
    truth, predicted = t == target, (p >= threshold).astype(int) == target
    return float(np.sum(truth & predicted) / np.sum(truth | predicted))


def probe_binary_iou(binary_iou: Any, seed: int = 5, shape: tuple[int, ...] = (2, 9, 11, 1),
                     cases: Any = None) -> dict[str, Any]:
    """Call binary_iou for each (target, threshold) case."""
    t, p = iou_inputs(seed, shape)
    return {"values": [observe(binary_iou, t.copy(), p.copy(), target, threshold)
                       for target, threshold in (cases or IOU_CASES)]}


def judge_binary_iou(data: dict[str, Any], seed: int = 5, shape: tuple[int, ...] = (2, 9, 11, 1),
                     cases: Any = None) -> str:
    """Compare each IoU with the stated definition (thresholds inclusive, the pixels of class `target`)."""
    t, p = iou_inputs(seed, shape)
    for (target, threshold), got in zip(cases or IOU_CASES, data["values"]):
        name = f"binary_iou(y_true, y_pred, target={target}, threshold={threshold})"
        want = _iou(t, p, target, threshold)
        hint = ""
        value = np.asarray(got) if isinstance(got, (int, float)) and not isinstance(got, bool) else got
        if isinstance(value, np.ndarray) and value.shape == () and np.isfinite(value):
            guesses = {
                "a probability equal to the threshold counts as class 1 (>=, not >)":
                    _iou(t, p - 1e-9, target, threshold),
                "compute the IoU of the pixels of class `target`, not always class 1": _iou(t, p, 1, threshold),
                "use the threshold argument, not 0.5": _iou(t, p, target, 0.5),
                "the union is |P| + |T| - |P and T|, not |P| + |T|": float(
                    np.sum((t == target) & ((p >= threshold).astype(int) == target))
                    / (np.sum(t == target) + np.sum((p >= threshold).astype(int) == target))),
                "compute one IoU over all pixels of the batch, not a mean of per-image IoUs": float(np.mean(
                    [_iou(t[i], p[i], target, threshold) for i in range(len(t))])),
            }
            hint = next((h for h, g in guesses.items() if abs(g - want) > 1e-9 and abs(float(value) - g) < 1e-6), "")
        expect_array(name, value, np.asarray(want), tol=1e-6, hint=hint)
    used = cases or IOU_CASES
    return (f"binary_iou agrees with |P and T| / |P or T| in {len(used)} cases (classes "
            f"{sorted({c[0] for c in used})}, thresholds {sorted({c[1] for c in used})})")


check_binary_iou = check("autoencoder.binary_iou", probe_binary_iou, judge_binary_iou)

# ---------------------------------------------------------------------------
# C3: U-Net
# ---------------------------------------------------------------------------

# (n_filters, skips, batchnorm, bn_momentum) of each model the check builds, and the batch it runs them on.
UNET_VARIANTS = [(4, True, True, 0.8), (4, False, True, 0.8), (3, True, False, 0.99)]
UNET_BATCH = (2, 48, 32, 1)


def block_params(c_in: int, c_out: int, batchnorm: bool = True) -> int:
    """Parameters of two 3x3 convolutions with biases, each with batch norm (gamma, beta, moving mean, variance)."""
    return 9 * c_in * c_out + c_out + 9 * c_out * c_out + c_out + (8 * c_out if batchnorm else 0)


def unet_params(n: int, skips: bool, batchnorm: bool = True) -> int:
    """Parameter count of the U-Net with n filters, from the architecture alone."""
    total = block_params(1, n, batchnorm) + sum(block_params(w * n, 2 * w * n, batchnorm) for w in (1, 2, 4, 8))
    for w in (8, 4, 2, 1):
        total += 9 * (2 * w * n) * (w * n) + w * n  # the transposed convolution
        total += block_params((2 if skips else 1) * w * n, w * n, batchnorm)
    return total + n + 1  # the final 1x1 convolution


def probe_build_unet(build_unet: Any, variants: Any = None, batch: Any = UNET_BATCH) -> dict[str, Any]:
    """Build each variant, describe it, and run it on a fixed non-square batch."""
    rng = np.random.default_rng(9)
    x = rng.random(tuple(batch)).astype(np.float32)
    models = []
    for n, skips, batchnorm, momentum in variants or UNET_VARIANTS:
        model, raised = call_raw(build_unet, (None, None, 1), n, skips=skips, batchnorm=batchnorm,
                                 bn_momentum=momentum)
        if raised is not None:
            models.append({"model": raised})
            continue
        entry = {"model": describe_model(model)}
        if OBJECT not in entry["model"]:
            entry["output"] = observe(lambda: model(x, training=False))
        models.append(entry)
    return {"models": models}


def _name_unet(n: int, skips: bool, batchnorm: bool, momentum: float) -> str:
    """Write the call that built a variant."""
    return f"build_unet((None, None, 1), {n}, skips={skips}, batchnorm={batchnorm}, bn_momentum={momentum})"


def _judge_one_unet(name: str, entry: dict[str, Any], n: int, skips: bool, batchnorm: bool, momentum: float,
                    batch: tuple[int, ...]) -> None:
    """Judge one built U-Net variant."""
    model = _expect_model(name, entry["model"])
    output = entry.get("output")
    if is_raised(output):
        fail(f"The model from {name} raises {output[RAISED]} on a {'x'.join(map(str, batch))} batch: concatenate "
             "each upsampled tensor with the contracting block of the same size (u6 with c4, ..., u9 with c1).")
    as_array(f"The output of the model from {name} on a batch of shape {tuple(batch)}", output, tuple(batch))
    ups = layers_of_class(model, "Conv2DTranspose")
    expect_true(len(ups) > 0, f"The model from {name} has no Conv2DTranspose layer: undo each pooling with a 3x3, "
                "stride-2 Conv2DTranspose (padding='same').")
    got_ups = [(u["config"].get("filters"), u["config"].get("kernel_size"), u["config"].get("strides"),
                u["config"].get("padding")) for u in ups]
    want_ups = [(w * n, (3, 3), (2, 2), "same") for w in (8, 4, 2, 1)]
    expect_equal(f"The transposed convolutions of the model from {name} (filters, kernel, strides, padding)",
                 got_ups, want_ups)
    adds = layers_of_class(model, "Add")
    expect_true(not adds, f"The model from {name} adds tensors (an Add layer): U-Net concatenates the skips "
                "(keras.layers.concatenate) instead.")
    by_name = {layer["name"]: layer for layer in model["layers"]}

    def op_channels(op: dict[str, Any]) -> Any:
        shapes = [by_name[s]["output_shape"] if s in by_name else None for s in op["inbound"]]
        return sum(shape[-1] for shape in shapes) if shapes and all(shapes) else None

    op_joins = [op for op in model.get("operations", []) if op["class"] == "Concatenate"]
    joins = layers_of_class(model, "Concatenate")
    channels = [layer["output_shape"][-1] if layer["output_shape"] else None for layer in joins]
    channels += [op_channels(op) for op in op_joins]
    joins = joins + op_joins
    want_channels = [16 * n, 8 * n, 4 * n, 2 * n] if skips else []
    if channels != want_channels:
        if not skips:
            fail(f"The model from {name} still has {len(joins)} concatenation(s): with skips=False leave them out.")
        if not joins:
            fail(f"The model from {name} concatenates nothing: join each transposed convolution's output with the "
                 "output of the contracting block of the same size (c4, c3, c2, c1) along the channels.")
        fail(f"The concatenations of the model from {name} give {channels} channels, expected {want_channels}: "
             "join each transposed convolution's output with the output of the contracting block of the same size "
             "(c4, c3, c2, c1) along the channels.")
    classes = {layer["name"]: layer["class"] for layer in model["layers"]}
    for layer in joins:
        sources = [classes.get(source) for source in layer["inbound"]]
        expect_true("Conv2DTranspose" in sources,
                    f"A concatenation in the model from {name} joins {sources}: each one joins a Conv2DTranspose's "
                    "output with a skip.")
        expect_true("MaxPooling2D" not in sources,
                    f"A concatenation in the model from {name} takes a pooled tensor: the skip is the contracting "
                    "block's output before pooling (c4, c3, c2, c1).")
    expect_equal(f"The number of MaxPooling2D layers in the model from {name}",
                 len(layers_of_class(model, "MaxPooling2D")), 4)
    norms = layers_of_class(model, "BatchNormalization")
    if batchnorm:
        expect_equal(f"The number of BatchNormalization layers in the model from {name}", len(norms), 18)
        momenta = {layer["config"].get("momentum") for layer in norms}
        expect_true(momenta == {momentum}, f"The batch-norm momenta of the model from {name} are {sorted(momenta)}: "
                    "pass batchnorm and bn_momentum on to conv2d_block (the given `block` options).")
    else:
        expect_true(not norms, f"The model from {name} has {len(norms)} BatchNormalization layers: pass batchnorm "
                    "on to conv2d_block (the given `block` options).")
    last = _body(model)[-1]
    expect_true(last["class"] == "Conv2D" and last["config"].get("filters") == 1
                and last["config"].get("kernel_size") == (1, 1) and activation_with_ops(last) == "sigmoid",
                f"The model from {name} ends in a {last['class']} with activation {activation_with_ops(last)}: end in "
                "a 1x1 Conv2D with one filter and a sigmoid.")
    expect_equal(f"The number of parameters of the model from {name}", model["params"],
                 unet_params(n, skips, batchnorm))



def judge_build_unet(data: dict[str, Any], variants: Any = None, batch: Any = UNET_BATCH) -> str:
    """Judge every variant: concatenations, transposed convolutions, batch norm, output layer, parameters."""
    variants = variants or UNET_VARIANTS
    for (n, skips, batchnorm, momentum), entry in zip(variants, data["models"]):
        _judge_one_unet(_name_unet(n, skips, batchnorm, momentum), entry, n, skips, batchnorm, momentum, tuple(batch))
    return (f"build_unet builds {len(variants)} variants right: skips concatenated at the four levels (or left out), "
            f"batch norm as asked, a sigmoid output and {unet_params(*variants[0][:3]):,} parameters for "
            f"n_filters={variants[0][0]}")


check_build_unet = check("autoencoder.build_unet", probe_build_unet, judge_build_unet)
