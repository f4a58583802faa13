"""Lab 7 checks: the balanced pair sampler, the L1 and Euclidean distances, the contrastive loss, Koch's network.

References are stated facts (the sampler's invariants and statistics), the formulas in the exercises' docstrings
written in NumPy, their derivatives worked out by hand, and a tiny embedding built here; never the solutions' code.
"""

from __future__ import annotations

import math
import random
from functools import partial
from typing import Any

import numpy as np

from utils.exercises.framework import (
    as_array, call_raw, check, expect_array, expect_raised_nothing, expect_true, fail, is_raised, observe, plain,
)

def _ran(what: str, fn: str, value: Any, hint: str = "") -> None:
    """Fail with one sentence when ``value`` records a crash of the student's ``fn`` on ``what``."""
    if is_raised(value) and not value["stub"] and value["__raised__"] != "NotCallable":
        msg = value["message"] if len(value["message"]) <= 150 else value["message"][:147] + "..."
        fail(f"On {what}, `{fn}` raised {value['__raised__']}: {msg}{hint}")
    expect_raised_nothing(value)


# ---------------------------------------------------------------------------
# A1: sample_pairs
# ---------------------------------------------------------------------------

# Label value -> number of images. Labels are neither 0..K-1 nor sorted (the probe shuffles them); one class has
# only two images (its only same pair is those two), one has 40 (a sampler choosing images, not classes, shows).
PAIR_COUNTS = {3: 2, 42: 3, 7: 4, 20: 5, 11: 40, 5: 6}
TINY_COUNTS = {9: 2, 4: 2}  # two classes of two images: every different pair is one image of each
PAIR_N, TINY_N = 4001, 7  # odd counts: num_pairs // 2 same pairs
# A large draw for chi-square tests of uniformity: five classes of 4 to 6 images, so a sampler that replaces a
# collision by the next class or the next image (pairs of neighbours 1.5 times as likely) stands out clearly.
STATS_COUNTS, STATS_N, STATS_SEED = {8: 4, 1: 5, 30: 4, 6: 6, 17: 5}, 30_001, 2
# A uniform sampler exceeds the bound below with probability about 1e-9 (Wilson-Hilferty, z = 6); a 1.5x bias on
# neighbouring classes or images exceeds it by a wide margin on STATS_N pairs.
CHI2_Z = 6.0


def pair_labels(counts: dict[int, int], seed: int) -> np.ndarray:
    """Return the labels of a pair-sampling case: ``counts[k]`` images of class ``k``, in a shuffled order."""
    labels = np.repeat(np.array(list(counts), dtype=np.int64), list(counts.values()))
    return labels[np.random.default_rng(seed).permutation(len(labels))]


def _sample_with_global_seed(sample_pairs: Any, labels: np.ndarray, num_pairs: int, seed: int,
                             global_seed: int) -> Any:
    """Call the sampler with a fresh ``default_rng(seed)`` while NumPy's and Python's global RNGs hold
    ``global_seed``; the global states are restored afterwards, so the probe leaves no trace."""
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(global_seed)
    random.seed(global_seed)
    try:
        return observe(sample_pairs, labels.copy(), num_pairs, np.random.default_rng(seed))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def probe_sample_pairs(sample_pairs: Any, counts: dict[int, int] | None = None, num_pairs: int = PAIR_N,
                       seeds: tuple[int, int] = (0, 1), tiny: bool = True) -> dict[str, Any]:
    """Draw pairs with two seeds (the first twice, under different global RNG states), and a tiny case."""
    labels = pair_labels(counts or PAIR_COUNTS, 11)
    first, second = seeds
    data = {
        "main": _sample_with_global_seed(sample_pairs, labels, num_pairs, first, 1),
        "again": _sample_with_global_seed(sample_pairs, labels, num_pairs, first, 2),
        "other": _sample_with_global_seed(sample_pairs, labels, num_pairs, second, 1),
    }
    if tiny:
        data["tiny"] = _sample_with_global_seed(sample_pairs, pair_labels(TINY_COUNTS, 3), TINY_N, 5, 1)
        data["stats"] = _sample_with_global_seed(sample_pairs, pair_labels(STATS_COUNTS, 13), STATS_N, STATS_SEED, 1)
    return data


def chi2_bound(df: int, z: float = CHI2_Z) -> float:
    """Return the chi-square value with ``df`` degrees of freedom exceeded with the normal tail probability of ``z``
    (Wilson-Hilferty approximation)."""
    if df <= 0:
        return math.inf
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


def _chi2(counts: np.ndarray) -> float:
    """Return the chi-square statistic of counts against equal expected counts."""
    counts = np.asarray(counts, dtype=np.float64)
    expected = counts.sum() / len(counts)
    return float(np.sum((counts - expected) ** 2) / expected) if expected > 0 else 0.0


def _judge_uniform_pairs(case: str, labels: np.ndarray, arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Chi-square tests: different pairs spread evenly over pairs of classes, same pairs over pairs of images."""
    left, right, same = arrays
    is_same = same == 1
    classes = np.unique(labels)
    K = len(classes)
    position = {int(k): i for i, k in enumerate(classes)}
    cls_left = np.array([position[int(k)] for k in labels[left]])
    cls_right = np.array([position[int(k)] for k in labels[right]])
    diff = ~is_same
    low, high = np.minimum(cls_left[diff], cls_right[diff]), np.maximum(cls_left[diff], cls_right[diff])
    possible = [a * K + b for a in range(K) for b in range(a + 1, K)]
    pair_counts = np.bincount(low * K + high, minlength=K * K)[possible]
    statistic, bound = _chi2(pair_counts), chi2_bound(len(possible) - 1)
    if statistic > bound:
        fail(f"sample_pairs({case}): the {int(diff.sum())} different pairs fall on the {len(possible)} pairs of "
             f"classes between {pair_counts.min()} and {pair_counts.max()} times (chi-square {statistic:.0f}, a "
             f"uniform draw stays below {bound:.0f}): draw the second class uniformly among the other classes (not "
             "the next class on a collision).")
    statistic, df = 0.0, 0
    spread = []
    for k in classes:
        members = np.flatnonzero(labels == k)
        n = len(members)
        if n < 3:
            continue
        index = {int(m): i for i, m in enumerate(members)}
        chosen = is_same & (labels[left] == k)
        a = np.array([index[int(m)] for m in left[chosen]])
        b = np.array([index[int(m)] for m in right[chosen]])
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        cells = [i * n + j for i in range(n) for j in range(i + 1, n)]
        counts = np.bincount(lo * n + hi, minlength=n * n)[cells]
        statistic, df = statistic + _chi2(counts), df + len(cells) - 1
        spread.append((_chi2(counts) / (len(cells) - 1), n, int(counts.min()), int(counts.max())))
    bound = chi2_bound(df)
    if statistic > bound:
        _, n, low_count, high_count = max(spread)
        fail(f"sample_pairs({case}): within a class, some pairs of images are drawn as same pairs far more often "
             f"than others (in the class of {n} images, {low_count} to {high_count} times; chi-square "
             f"{statistic:.0f} over all classes, a uniform draw stays below {bound:.0f}): draw the second image "
             "uniformly among the other images of the class (not the next image on a collision).")


def _pair_arrays(case: str, value: Any, num_pairs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (left, right, same) from a sampler's result, or fail with one sentence about its form."""
    _ran(f"sample_pairs({case})", "sample_pairs", value)
    if value is None:
        fail(f"sample_pairs({case}) returned None: did it forget to `return left, right, same`?")
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        what = f"{len(value)} values" if isinstance(value, (tuple, list)) else f"a single {type(value).__name__}"
        fail(f"sample_pairs({case}) returned {what}; it should return three arrays (left, right, same).")
    arrays = []
    for name, part in zip(("left", "right", "same"), value):
        arrays.append(as_array(f"{name} from sample_pairs({case})", part, (num_pairs,)))
    left, right, same = arrays
    for name, part in (("left", left), ("right", right)):
        expect_true(np.issubdtype(part.dtype, np.integer),
                    f"{name} from sample_pairs({case}) has dtype {part.dtype}; image indices should be integers.")
    expect_true(same.dtype == np.float32,
                f"same from sample_pairs({case}) has dtype {same.dtype}; the docstring asks for float32 (Keras "
                "trains on float32 targets): `.astype(np.float32)`.")
    return left, right, same


def _judge_invariants(case: str, labels: np.ndarray, num_pairs: int,
                      arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Fail unless indices are valid, ``same`` matches the labels, no image pairs with itself, and half are same."""
    left, right, same = arrays
    for name, part in (("left", left), ("right", right)):
        bad = int(np.sum((part < 0) | (part >= len(labels))))
        expect_true(bad == 0, f"{name} from sample_pairs({case}) holds {bad} indices outside 0..{len(labels) - 1}: "
                              "return indices into `labels`, not class labels or positions within a class.")
    truth = labels[left] == labels[right]
    expect_true(bool(np.all((same == 0) | (same == 1))),
                f"same from sample_pairs({case}) holds values other than 0.0 and 1.0.")
    wrong = int(np.sum((same == 1) != truth))
    if wrong:
        swapped = bool(np.all((same == 1) != truth))
        hint = ("same is 1.0 exactly where the labels differ: 1.0 should mean the same class" if swapped else
                "same should be 1.0 exactly where labels[left] == labels[right]")
        fail(f"sample_pairs({case}): {wrong} of {num_pairs} pairs have a `same` value that does not match their "
             f"labels ({hint}).")
    selfish = int(np.sum(left == right))
    expect_true(selfish == 0, f"sample_pairs({case}) pairs an image with itself {selfish} times: a same pair needs two "
                              "different images of its class (draw the second among the other images).")
    n_same, want = int(np.sum(same == 1)), num_pairs // 2
    if n_same != want:
        hint = (" (num_pairs // 2 rounds down for an odd count)" if n_same == num_pairs - want else
                ": half the pairs, rounded down, show one class")
        fail(f"sample_pairs({case}) drew {n_same} same pairs of {num_pairs}, expected {want}{hint}.")


def _judge_statistics(case: str, labels: np.ndarray, num_pairs: int,
                      arrays: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Fail unless the pairs are shuffled and classes, class pairs and images are drawn uniformly."""
    left, right, same = arrays
    is_same = same == 1
    classes, counts = np.unique(labels, return_counts=True)
    K = len(classes)
    # Order: same pairs spread over both halves, and not alternating with different ones.
    first_half = float(np.mean(is_same[: num_pairs // 2]))
    expect_true(0.4 < first_half < 0.6, f"sample_pairs({case}): {first_half:.0%} of the first half of the pairs are "
                                         "same pairs; shuffle the pairs so that same and different ones are mixed.")
    repeats = float(np.mean(is_same[1:] == is_same[:-1]))
    expect_true(0.4 < repeats < 0.6, f"sample_pairs({case}): same and different pairs follow a fixed pattern "
                                     f"({repeats:.0%} of neighbours agree, about 50% expected); shuffle them with "
                                     "`rng.permutation`.")
    position = {int(k): i for i, k in enumerate(classes)}
    cls_left = np.array([position[int(k)] for k in labels[left]])
    cls_right = np.array([position[int(k)] for k in labels[right]])
    # Same pairs: each class about equally often.
    share = np.bincount(cls_left[is_same], minlength=K) / max(1, int(is_same.sum()))
    big = int(np.argmax(counts))
    if np.max(np.abs(share - 1 / K)) > 0.05:
        fail(f"sample_pairs({case}): the class with {counts[big]} images makes {share[big]:.0%} of the same pairs, "
             f"expected about {1 / K:.0%} for each of the {K} classes: choose classes uniformly, not images.")
    # Different pairs: each class about equally often on each side, and every pair of classes.
    diff = ~is_same
    n_diff = max(1, int(diff.sum()))
    for side, cls in (("left", cls_left), ("right", cls_right)):
        share = np.bincount(cls[diff], minlength=K) / n_diff
        if np.max(np.abs(share - 1 / K)) > 0.05:
            fail(f"sample_pairs({case}): among the different pairs' {side} images, the class with {counts[big]} images "
                 f"makes {share[big]:.0%}, expected about {1 / K:.0%}: choose both classes uniformly, not images.")
    low, high = np.minimum(cls_left[diff], cls_right[diff]), np.maximum(cls_left[diff], cls_right[diff])
    pair_share = np.bincount(low * K + high, minlength=K * K) / n_diff
    possible = [a * K + b for a in range(K) for b in range(a + 1, K)]
    seen = int(np.sum(pair_share[possible] > 0))
    if seen < len(possible) or np.max(np.abs(pair_share[possible] - 1 / len(possible))) > 0.03:
        fail(f"sample_pairs({case}): the different pairs cover {seen} of the {len(possible)} pairs of classes, and not "
             "equally often: draw the second class uniformly among all the other classes (not a neighbour of the "
             "first).")
    # Images within a class: each used about equally often, and same pairs not limited to a few combinations.
    both = np.concatenate([left, right])
    for k, count in zip(classes, counts):
        members = np.flatnonzero(labels == k)
        uses = np.array([np.sum(both == m) for m in members])
        mean = float(uses.mean())
        if mean >= 10 and (uses.min() < 0.3 * mean or uses.max() > 2.5 * mean):
            fail(f"sample_pairs({case}): the {count} images of one class are used between {uses.min()} and "
                 f"{uses.max()} times (about {mean:.0f} each expected): choose images uniformly within a class.")
        if count >= 10:
            chosen = is_same & (labels[left] == k)
            combos = {(min(a, b), max(a, b)) for a, b in zip(left[chosen].tolist(), right[chosen].tolist())}
            possible_pairs = count * (count - 1) / 2
            expected = possible_pairs * (1 - math.exp(-int(chosen.sum()) / possible_pairs))
            if len(combos) < 0.5 * expected:
                fail(f"sample_pairs({case}): the same pairs of the class with {count} images use only {len(combos)} "
                     f"different pairs of its images (about {expected:.0f} expected): draw the second image uniformly "
                     "among the others, not next to the first.")


def judge_sample_pairs(data: dict[str, Any], counts: dict[int, int] | None = None, num_pairs: int = PAIR_N,
                       seeds: tuple[int, int] = (0, 1), tiny: bool = True) -> str:
    """Check form, invariants and statistics of every draw, then that the draws depend on ``rng`` alone."""
    counts = counts or PAIR_COUNTS
    labels = pair_labels(counts, 11)
    name = (f"labels of {len(counts)} classes (values {min(counts)} to {max(counts)}, unsorted) with "
            f"{min(counts.values())} to {max(counts.values())} images, {num_pairs}")
    main = _pair_arrays(f"{name}, seed {seeds[0]}", data["main"], num_pairs)
    if tiny:
        tiny_labels = pair_labels(TINY_COUNTS, 3)
        tiny_case = f"two classes of two images, {TINY_N}"
        _judge_invariants(tiny_case, tiny_labels, TINY_N, _pair_arrays(tiny_case, data["tiny"], TINY_N))
    _judge_invariants(f"{name}, seed {seeds[0]}", labels, num_pairs, main)
    _judge_statistics(f"{name}, seed {seeds[0]}", labels, num_pairs, main)
    if tiny and "stats" in data:
        stats_labels = pair_labels(STATS_COUNTS, 13)
        stats_case = f"{len(STATS_COUNTS)} classes of 4 to 6 images, {STATS_N}, seed {STATS_SEED}"
        stats = _pair_arrays(stats_case, data["stats"], STATS_N)
        _judge_invariants(stats_case, stats_labels, STATS_N, stats)
        _judge_uniform_pairs(stats_case, stats_labels, stats)
    other = _pair_arrays(f"{name}, seed {seeds[1]}", data["other"], num_pairs)
    _judge_invariants(f"{name}, seed {seeds[1]}", labels, num_pairs, other)
    again = _pair_arrays(f"{name}, seed {seeds[0]} again", data["again"], num_pairs)
    expect_true(all(np.array_equal(a, b) for a, b in zip(main, again)),
                f"sample_pairs({name}) gave different pairs for the same seed {seeds[0]}: draw every random number "
                "from `rng` (not np.random.*, random.* or a new default_rng()).")
    expect_true(not all(np.array_equal(a, b) for a, b in zip(main, other)),
                f"sample_pairs({name}) gave the same pairs for seeds {seeds[0]} and {seeds[1]}: draw every random "
                "number from the `rng` passed in.")
    return (f"sample_pairs: {num_pairs // 2} same pairs of {num_pairs}, no image paired with itself, classes, class "
            "pairs and images drawn uniformly, shuffled, and repeatable from `rng` alone")


check_sample_pairs = check("siamese.sample_pairs", probe_sample_pairs, judge_sample_pairs)

# ---------------------------------------------------------------------------
# B1: l1_distance and euclidean_distance
# ---------------------------------------------------------------------------

EPS = 1e-9


def distance_inputs(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Return (case, a, b) float64 pairs: a batch, a broadcast (Q, 1, D) against (1, C, D), a 3-D batch, identical rows."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(3, 5))
    return [
        ("a batch of 3 embeddings of size 5", a, rng.normal(size=(3, 5))),
        ("queries (4, 1, 3) against candidates (1, 6, 3)", rng.normal(size=(4, 1, 3)), rng.normal(size=(1, 6, 3))),
        ("a (2, 3, 7) batch", rng.normal(size=(2, 3, 7)), rng.normal(size=(2, 3, 7))),
        ("identical rows", a, a.copy()),
    ]


def _symbolic_shapes(fn: Any, size: int) -> Any:
    """Call ``fn`` on two symbolic Keras inputs (None, size) and return its output shape (or a raised record)."""
    import keras

    def on_inputs() -> tuple:
        out = fn(keras.Input((size,)), keras.Input((size,)))
        return tuple(out.shape)

    on_inputs.__name__ = getattr(fn, "__name__", "function")
    return observe(on_inputs)


def _tf_inputs(a: np.ndarray, b: np.ndarray, dtype: str) -> tuple[Any, Any]:
    """Return two TensorFlow constants of the given dtype."""
    import tensorflow as tf

    return tf.constant(a, dtype), tf.constant(b, dtype)


def probe_l1_distance(l1_distance: Any, seed: int = 0) -> dict[str, Any]:
    """Run l1_distance on NumPy arrays, float32 tensors and symbolic Keras inputs."""
    cases = distance_inputs(seed)
    return {
        "numpy": [observe(l1_distance, a.copy(), b.copy()) for _, a, b in cases],
        "tensor": observe(l1_distance, *_tf_inputs(cases[0][1], cases[0][2], "float32")),
        "symbolic": _symbolic_shapes(l1_distance, 5),
    }


def judge_l1_distance(data: dict[str, Any], seed: int = 0) -> str:
    """Compare with |a - b| computed in NumPy; check tensors and symbolic inputs."""
    cases = distance_inputs(seed)
    worst = 0.0
    for (case, a, b), got in zip(cases, data["numpy"]):
        _ran(case, "l1_distance", got)
        want = np.abs(a - b)
        if isinstance(got, np.ndarray) and got.shape in (want.shape[:-1] + (1,), want.shape[:-1]):
            fail(f"l1_distance on {case} has shape {got.shape}, expected {want.shape}: return the component-wise "
                 "vector |a - b| (Koch's head weighs each component), do not sum it.")
        hint = ""
        if isinstance(got, np.ndarray) and got.shape == want.shape:
            if np.allclose(got, a - b) or np.allclose(got, b - a):
                hint = "the absolute value is missing"
            elif np.allclose(got, want ** 2):
                hint = "squared differences, not absolute ones"
            elif np.allclose(got, np.abs(np.abs(a) - np.abs(b))) or np.allclose(got, np.abs(a) - np.abs(b)):
                hint = "take the absolute value of the difference, not the difference of absolute values"
        worst = max(worst, expect_array(f"l1_distance on {case}", got, want, hint=hint))
    a, b = cases[0][1], cases[0][2]
    _ran("float32 TensorFlow tensors", "l1_distance", data["tensor"])
    expect_array("l1_distance on float32 TensorFlow tensors", data["tensor"], np.abs(a.astype(np.float32) -
                                                                                      b.astype(np.float32)))
    _ran("the symbolic inputs of a functional Keras model", "l1_distance", data["symbolic"],
         "; write it with keras.ops (NumPy and tf functions cannot take symbolic Keras inputs).")
    expect_true(tuple(data["symbolic"]) == (None, 5),
                f"l1_distance on two symbolic Keras inputs of shape (None, 5) gives shape {data['symbolic']}, expected "
                "(None, 5).")
    return (f"l1_distance matches |a - b| on {len(cases)} NumPy cases (broadcast and 3-D included; largest relative "
            f"error {worst:.1e}), on float32 tensors and on symbolic Keras inputs")


check_l1_distance = check("siamese.l1_distance", probe_l1_distance, judge_l1_distance)


def _euclidean_gradient(euclidean_distance: Any, x: np.ndarray, y: np.ndarray,
                        upstream: np.ndarray) -> dict[str, Any]:
    """Return TensorFlow's gradient of sum(upstream * euclidean_distance(x, y)) with respect to x, and the dtype of
    the distance (None for the gradient when there is none)."""
    import tensorflow as tf

    variable = tf.Variable(x)
    with tf.GradientTape() as tape:
        out = euclidean_distance(variable, tf.constant(y))
        dtype = str(np.asarray(out).dtype)
        try:
            total = tf.reduce_sum(tf.cast(out, tf.float64) * tf.constant(upstream))
        except Exception:  # noqa: BLE001 - a result of the wrong shape: the value check explains it
            return {"gradient": None, "dtype": dtype, "shape": tuple(np.shape(out))}
    gradient = tape.gradient(total, variable)
    return {"gradient": None if gradient is None else gradient.numpy(), "dtype": dtype,
            "shape": tuple(np.shape(out))}


def probe_euclidean_distance(euclidean_distance: Any, seed: int = 0) -> dict[str, Any]:
    """Run euclidean_distance on NumPy arrays, float32 tensors, symbolic inputs, and take two gradients."""
    cases = distance_inputs(seed)
    a, b = cases[0][1], cases[0][2]
    upstream = np.random.default_rng(seed + 1).normal(size=(3, 1))

    def gradient(x: np.ndarray, y: np.ndarray) -> Any:
        def run() -> dict[str, Any]:
            return _euclidean_gradient(euclidean_distance, x, y, upstream)

        run.__name__ = getattr(euclidean_distance, "__name__", "euclidean_distance")
        return observe(run)

    return {
        "numpy": [observe(euclidean_distance, x.copy(), y.copy()) for _, x, y in cases],
        "tensor": observe(euclidean_distance, *_tf_inputs(a, b, "float32")),
        "symbolic": _symbolic_shapes(euclidean_distance, 5),
        "gradient": gradient(a.copy(), b.copy()),
        "gradient_identical": gradient(a.copy(), a.copy()),
        "eps": observe(euclidean_distance, *EPS_CASE[:2], eps=EPS_CASE[2]),
    }


# eps passed explicitly: rows 1 and 2 apart, and identical rows, whose distance is sqrt(eps) = 1e-3 (an eps that
# is small next to the other rows' squared distances, so sqrt(sum + eps) agrees to the tolerance too).
EPS_CASE = (np.array([[0.0, 0.0], [1.0, 2.0], [3.0, -1.0]]), np.array([[1.0, 0.0], [1.0, 4.0], [3.0, -1.0]]), 1e-6)


def reference_euclidean(a: np.ndarray, b: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Return sqrt(max(sum over the last axis of (a - b)^2, eps)), keeping the last axis, in float64."""
    return np.sqrt(np.maximum(np.sum((a - b) ** 2, axis=-1, keepdims=True), eps))


def judge_euclidean_distance(data: dict[str, Any], seed: int = 0) -> str:
    """Compare values with the formula, check shapes, tensors, symbolic inputs and the gradients."""
    cases = distance_inputs(seed)
    worst = 0.0
    for (case, a, b), got in zip(cases, data["numpy"]):
        _ran(case, "euclidean_distance", got)
        want = reference_euclidean(a, b)
        if isinstance(got, np.ndarray) and got.shape == want.shape[:-1]:
            fail(f"euclidean_distance on {case} has shape {got.shape}, expected {want.shape}: keep the last axis "
                 "(keepdims=True), as the docstring says.")
        hint = ""
        if isinstance(got, np.ndarray) and got.shape == want.shape:
            squared = np.sum((a - b) ** 2, axis=-1, keepdims=True)
            close = partial(np.allclose, got, rtol=1e-5, atol=1e-12)
            if close(np.sqrt(squared)) or close(np.sqrt(squared) + EPS):
                hint = "identical embeddings should give sqrt(eps): take the root of max(sum, eps)"
            elif close(squared) or close(np.maximum(squared, EPS)):
                hint = "the square root is missing"
            elif close(np.sqrt(np.mean((a - b) ** 2, axis=-1, keepdims=True))):
                hint = "sum the squared differences, do not average them"
            elif close(np.sum(np.abs(a - b), axis=-1, keepdims=True)):
                hint = "that is the L1 norm; square the differences, sum them and take the root"
        worst = max(worst, expect_array(f"euclidean_distance on {case}", got, want, tol=1e-6, hint=hint))
    a, b = cases[0][1], cases[0][2]
    _ran("float32 TensorFlow tensors", "euclidean_distance", data["tensor"])
    expect_array("euclidean_distance on float32 TensorFlow tensors", data["tensor"],
                 reference_euclidean(a.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)))
    _ran("the symbolic inputs of a functional Keras model", "euclidean_distance", data["symbolic"],
         "; write it with keras.ops (NumPy and tf functions cannot take symbolic Keras inputs).")
    expect_true(tuple(data["symbolic"]) == (None, 1),
                f"euclidean_distance on two symbolic Keras inputs of shape (None, 5) gives shape {data['symbolic']}, "
                "expected (None, 1).")
    if "eps" in data:
        a_eps, b_eps, eps = EPS_CASE
        _ran(f"eps={eps}", "euclidean_distance", data["eps"])
        got = data["eps"]
        hint = ("the `eps` argument is ignored: use it, not a fixed constant" if isinstance(got, np.ndarray)
                and got.shape == (3, 1) and np.allclose(got, reference_euclidean(a_eps, b_eps), atol=1e-6) else "")
        expect_array(f"euclidean_distance(a, b, eps={eps}) on rows 1, 2 and 0 apart", got,
                     reference_euclidean(a_eps, b_eps, eps), tol=1e-6, hint=hint)
    upstream = np.random.default_rng(seed + 1).normal(size=(3, 1))
    for key, y, what in (("gradient", b, "two different batches"), ("gradient_identical", a, "identical embeddings")):
        _ran(f"a tf.Variable ({what})", "euclidean_distance", data[key])
        record = data[key]
        grad = record["gradient"]
        expect_true(grad is not None, f"euclidean_distance has no gradient with respect to its inputs ({what}): use "
                                      "keras.ops throughout (NumPy functions cut TensorFlow's tape).")
        grad = np.asarray(grad)
        if key == "gradient_identical":
            expect_true(bool(np.all(np.isfinite(grad))),
                        "The gradient of euclidean_distance at identical embeddings is NaN or infinite: the root of 0 "
                        "has an infinite slope, so take the root of max(sum of squares, eps).")
        distance = reference_euclidean(a, y)
        want = np.where(distance > np.sqrt(EPS), upstream * (a - y) / distance, 0.0)
        if record["dtype"] in ("float32", "float16"):
            grad = grad.astype(np.float32)  # computed in float32 inside: hold it to float32 precision
        expect_array(f"the gradient of euclidean_distance with respect to its first input ({what})", grad, want,
                     tol=1e-6, atol=1e-9)
    return (f"euclidean_distance matches sqrt(max(sum (a - b)^2, eps)) with keepdims on {len(cases)} NumPy cases "
            f"(largest relative error {worst:.1e}), on float32 tensors and symbolic inputs, and its gradient is right "
            "and finite at identical embeddings")


check_euclidean_distance = check("siamese.euclidean_distance", probe_euclidean_distance, judge_euclidean_distance)

# ---------------------------------------------------------------------------
# B2: contrastive_loss
# ---------------------------------------------------------------------------


def loss_cases(seed: int = 0) -> list[dict[str, Any]]:
    """Return contrastive-loss cases: stored pairs on both sides of the margin, both y_true shapes, float32, random."""
    rng = np.random.default_rng(seed + 20)
    d = np.array([[0.5], [2.0], [0.3], [1.5]])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    d7, y7 = rng.uniform(0.0, 2.5, size=(7, 1)), np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    d9, y9 = rng.uniform(0.0, 1.2, size=(9, 1)), np.array([0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    return [
        {"name": "four stored pairs, y_true (N, 1), margin 1", "y": y[:, None], "d": d, "margin": 1.0,
         "dtype": "float64"},
        {"name": "four stored pairs, y_true (N,), margin 1", "y": y, "d": d, "margin": 1.0, "dtype": "float64"},
        {"name": "four stored pairs, y_true (N,), margin 2", "y": y, "d": d, "margin": 2.0, "dtype": "float64"},
        {"name": "7 pairs in float32 as in training, y_true (N, 1), margin 1", "y": y7[:, None], "d": d7,
         "margin": 1.0, "dtype": "float32"},
        {"name": "9 pairs, y_true (N,), margin 0.5", "y": y9, "d": d9, "margin": 0.5, "dtype": "float64"},
    ]


def _loss_and_gradient(contrastive_loss: Any, y: np.ndarray, d: np.ndarray, margin: float) -> dict[str, Any]:
    """Return the loss and TensorFlow's gradient with respect to the distances (None when there is none)."""
    import tensorflow as tf

    variable = tf.Variable(d)
    with tf.GradientTape() as tape:
        value = contrastive_loss(tf.constant(y), variable, margin)
    try:
        gradient = tape.gradient(value, variable)
    except Exception:  # noqa: BLE001 - a NumPy result is not on the tape
        gradient = None
    return {"value": plain(value), "gradient": None if gradient is None else gradient.numpy()}


def probe_contrastive_loss(contrastive_loss: Any, seed: int = 0) -> dict[str, Any]:
    """Run the loss on every case (tensors, as Keras passes them) and take its gradient on two of them."""
    import tensorflow as tf

    values = [observe(contrastive_loss, tf.constant(c["y"], c["dtype"]), tf.constant(c["d"], c["dtype"]), c["margin"])
              for c in loss_cases(seed)]
    gradients = []
    for c in (loss_cases(seed)[0], loss_cases(seed)[4]):
        def run(c: dict[str, Any] = c) -> dict[str, Any]:
            return _loss_and_gradient(contrastive_loss, c["y"], c["d"], c["margin"])

        run.__name__ = getattr(contrastive_loss, "__name__", "contrastive_loss")
        gradients.append(observe(run))
    return {"values": values, "gradients": gradients}


def _reference_loss(y: np.ndarray, d: np.ndarray, margin: float) -> float:
    """Return the contrastive loss of the prose's formula, in float64."""
    y, d = y.reshape(-1), d.reshape(-1)
    return float(np.mean(0.5 * y * d ** 2 + 0.5 * (1 - y) * np.maximum(margin - d, 0.0) ** 2))


def _loss_hint(value: float, y: np.ndarray, d: np.ndarray, margin: float) -> list[str]:
    """Return the known wrong formulas a wrong loss equals (several can coincide on one case)."""
    y, d = y.reshape(-1), d.reshape(-1)
    hinge = np.maximum(margin - d, 0.0)
    wrongs = {
        "y = 1 means a same pair, pulled together; the labels look swapped":
            np.mean(0.5 * (1 - y) * d ** 2 + 0.5 * y * hinge ** 2),
        "the hinge is max(m - d, 0): a different pair closer than the margin costs, not one farther":
            np.mean(0.5 * y * d ** 2 + 0.5 * (1 - y) * np.maximum(d - margin, 0.0) ** 2),
        "square the hinge max(m - d, 0)": np.mean(0.5 * y * d ** 2 + 0.5 * (1 - y) * hinge),
        "square the distance of same pairs": np.mean(0.5 * y * d + 0.5 * (1 - y) * hinge ** 2),
        "take the mean over the batch, not the sum": np.sum(0.5 * y * d ** 2 + 0.5 * (1 - y) * hinge ** 2),
        "each term is averaged over its own pairs; average the per-pair losses over all N pairs":
            0.5 * (np.sum(y * d ** 2) / max(np.sum(y), 1e-300) + np.sum((1 - y) * hinge ** 2) / max(np.sum(1 - y),
                                                                                                    1e-300)),
        "the factor 1/2 is missing": np.mean(y * d ** 2 + (1 - y) * hinge ** 2),
        "the margin is ignored: use the `margin` argument":
            np.mean(0.5 * y * d ** 2 + 0.5 * (1 - y) * np.maximum(1.0 - d, 0.0) ** 2),
        "the margin is applied to the same pairs' term":
            np.mean(0.5 * y * np.maximum(margin - d, 0.0) ** 2 + 0.5 * (1 - y) * d ** 2),
        "y_true (N,) times distance (N, 1) broadcasts to an (N, N) matrix: reshape y_true like distance":
            np.mean(0.5 * y[None, :] * d[:, None] ** 2 + 0.5 * (1 - y[None, :]) * hinge[:, None] ** 2),
    }
    return [hint for hint, wrong in wrongs.items()
            if abs(value - float(wrong)) <= 1e-5 * max(1.0, abs(float(wrong)))]


def judge_contrastive_loss(data: dict[str, Any], seed: int = 0) -> str:
    """Compare each loss with the formula and each gradient with its derivative, worked out by hand."""
    cases = loss_cases(seed)
    worst = 0.0
    # The mistakes every wrong value agrees with: on one case two formulas can coincide (with as many same as
    # different pairs, per-term averaging equals a missing 1/2), over all cases only the real one remains.
    consistent: list[str] | None = None
    for c, got in zip(cases, data["values"]):
        if isinstance(got, np.ndarray) and got.size == 1 and np.all(np.isfinite(got)):
            value = float(np.asarray(got, dtype=np.float64).reshape(()))
            if abs(value - _reference_loss(c["y"], c["d"], c["margin"])) > 1e-6 * max(1.0, abs(value)):
                found = _loss_hint(value, c["y"], c["d"], c["margin"])
                consistent = found if consistent is None else [h for h in consistent if h in found]
    for c, got in zip(cases, data["values"]):
        _ran(c["name"], "contrastive_loss", got)
        if isinstance(got, np.ndarray) and got.shape in ((len(c["d"]),), (len(c["d"]), 1)):
            fail(f"contrastive_loss on {c['name']} returned shape {got.shape}, one loss per pair; return their mean, a "
                 "scalar.")
        if isinstance(got, np.ndarray) and got.size == 1 and got.shape != ():
            got = got.reshape(())  # a (1,) or (1, 1) mean is still one number
        want = _reference_loss(c["y"], c["d"], c["margin"])
        hint = ""
        if isinstance(got, (np.ndarray, float)) and np.size(got) == 1:
            found = _loss_hint(float(np.asarray(got, dtype=np.float64)), c["y"], c["d"], c["margin"])
            hint = next((h for h in found if h in (consistent or [])), found[0] if found else "")
        worst = max(worst, expect_array(f"contrastive_loss on {c['name']}", got, want, hint=hint))
    for c, record in zip((cases[0], cases[4]), data["gradients"]):
        _ran(f"{c['name']} (distance a tf.Variable)", "contrastive_loss", record)
        expect_true(record["gradient"] is not None,
                    f"contrastive_loss on {c['name']} has no gradient with respect to the distances: use keras.ops "
                    "throughout (NumPy functions cut TensorFlow's tape, and Keras could not train with it).")
        d = c["d"]
        y = c["y"].reshape(d.shape)
        want = (y * d - (1 - y) * np.maximum(c["margin"] - d, 0.0)) / len(d)  # dL/dd_i, by hand
        grad = np.asarray(record["gradient"])
        value = record["value"]
        if isinstance(value, np.ndarray) and value.dtype in (np.float32, np.float16):
            grad = grad.astype(np.float32)  # the loss was computed in float32: hold the gradient to that precision
        expect_array(f"the gradient of contrastive_loss with respect to the distances ({c['name']})", grad,
                     want, tol=1e-7, atol=1e-12)
    return (f"contrastive_loss matches the formula on {len(cases)} cases (y_true (N,) and (N, 1), margins 0.5 to 2, "
            f"float32 and float64; largest relative error {worst:.1e}) and its gradient matches the derivative")


check_contrastive_loss = check("siamese.contrastive_loss", probe_contrastive_loss, judge_contrastive_loss)

# ---------------------------------------------------------------------------
# C1: build_koch_siamese
# ---------------------------------------------------------------------------

SIAMESE_SHAPE, SIAMESE_DIM = (14, 12, 1), 6  # a non-square image and a small embedding


def tiny_embedding(image_shape: tuple[int, int, int] = SIAMESE_SHAPE, embedding_dim: int = SIAMESE_DIM,
                   seed: int = 0) -> Any:
    """Return a small embedding model (conv, pooling, dense sigmoid) with seeded weights, named 'probe_embedding'."""
    import keras

    inputs = keras.Input(image_shape)
    x = keras.layers.Conv2D(3, 3, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(embedding_dim, activation="sigmoid",
                           kernel_initializer=keras.initializers.GlorotUniform(seed + 1),
                           bias_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=seed + 2))(x)
    return keras.Model(inputs, x, name="probe_embedding")


def probe_koch_siamese(build_koch_siamese: Any, image_shape: tuple[int, int, int] = SIAMESE_SHAPE,
                       embedding_dim: int = SIAMESE_DIM, seed: int = 0) -> dict[str, Any]:
    """Build the student's network around a tiny embedding; describe it and run it on fixed pairs, both ways round."""
    import keras

    from utils.exercises.models import describe_model

    embedding = tiny_embedding(tuple(image_shape), embedding_dim, seed)
    model, raised = call_raw(build_koch_siamese, embedding)
    if raised is not None:
        return {"raised": raised}
    if not isinstance(model, keras.Model):
        return {"raised": None, "model": plain(model)}
    rng = np.random.default_rng(seed + 30)
    x1 = rng.random((5,) + tuple(image_shape)).astype("float32")
    x2 = rng.random((5,) + tuple(image_shape)).astype("float32")
    head = next((layer for layer in model.layers if layer.name == "similarity"), None)
    weights = [np.asarray(w) for w in head.get_weights()] if head is not None else []
    return {
        "raised": None,
        "model": describe_model(model),
        "embedding_params": int(embedding.count_params()),
        "uses_given_embedding": any(layer is embedding for layer in model.layers),
        "nested_models": sum(isinstance(layer, keras.Model) for layer in model.layers),
        "head_weights": weights,
        "forward": observe(model, [x1, x2]),
        "swapped": observe(model, [x2, x1]),
        "embedded": [np.asarray(embedding(x1)), np.asarray(embedding(x2))],
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Return the logistic function of z."""
    return 1.0 / (1.0 + np.exp(-z))


def judge_koch_siamese(data: dict[str, Any], image_shape: tuple[int, int, int] = SIAMESE_SHAPE,
                       embedding_dim: int = SIAMESE_DIM, seed: int = 0) -> str:
    """Check the graph (two inputs, one shared embedding, a Dense(1) sigmoid head) and the arithmetic of the output."""
    from utils.exercises.models import activation_of

    if data["raised"] is not None:
        _ran(f"an embedding for images of shape {tuple(image_shape)}", "build_koch_siamese", data["raised"])
    described = data["model"]
    if not (isinstance(described, dict) and "layers" in described):
        what = described.get("__object__", "something else") if isinstance(described, dict) else (
            type(described).__name__)
        fail(f"build_koch_siamese should return a keras.Model, but it returned a {what}.")
    shape = (None,) + tuple(image_shape)
    inputs = [tuple(s) if s is not None else None for s in described["input_shapes"]]
    expect_true(len(inputs) == 2, f"The model has {len(inputs)} input(s); a Siamese network takes two images "
                                  "(keras.Model([left, right], ...)).")
    expect_true(all(s == shape for s in inputs), f"The model's inputs have shapes {inputs}, expected two of {shape}, the "
                                                 "embedding's input shape.")
    params, emb, dim = described["params"], data["embedding_params"], embedding_dim
    if data["nested_models"] == 0 and not data["uses_given_embedding"]:
        fail("The model does not contain the `embedding` model passed in (its layers were copied or re-applied one "
             "by one): call `embedding` itself on both inputs, as the exercise asks, so that the model holds the one "
             "shared embedding.")
    if data["nested_models"] > 1 or not data["uses_given_embedding"]:
        fail(f"The model holds {data['nested_models']} embedding networks"
             f"{'' if data['uses_given_embedding'] else ', none of them the one passed in'}: call the *same* "
             "`embedding` model on both inputs, so that both branches share its layers and weights.")
    if params != emb + dim + 1:
        hint = ""
        if params == emb + 2 * dim + 1:
            hint = ": the head sees 2 x D numbers, so the embeddings were concatenated instead of compared by l1_distance"
        elif params == 2 * emb + dim + 1:
            hint = ": that is two embeddings; call the one passed in on both inputs"
        elif params > emb + dim + 1:
            hint = ": only the Dense(1) head should sit on top of l1_distance"
        fail(f"The model has {params} parameters, expected {emb + dim + 1} (the shared embedding's {emb}, then "
             f"{dim} weights and a bias in the head){hint}.")
    heads = [layer for layer in described["layers"] if layer["name"] == "similarity"]
    expect_true(len(heads) == 1 and heads[0]["class"] == "Dense" and heads[0]["config"].get("units") == 1,
                "The model needs one Dense(1) layer named 'similarity' (keras.layers.Dense(1, activation='sigmoid', "
                "name='similarity')); the evaluation reads its weights by that name.")
    act = activation_of(heads[0])
    expect_true(act == "sigmoid", f"The 'similarity' layer's output is {'linear' if act == 'linear' else act}, "
                                  "expected a sigmoid: the model outputs p(same), a probability.")
    e1, e2 = (np.asarray(e, dtype=np.float64) for e in data["embedded"])
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in data["head_weights"])
    want = _sigmoid(np.abs(e1 - e2) @ kernel + bias)
    _ran("5 pairs of images", "the model", data["forward"])
    got = data["forward"]
    hint = ""
    if isinstance(got, np.ndarray) and got.shape == want.shape:
        z = np.asarray(got, dtype=np.float64)
        for merge, text in (((e1 - e2) ** 2, "squared differences"), (e1 * e2, "the product of the embeddings"),
                            (e1 - e2, "a difference without the absolute value")):
            if np.allclose(z, _sigmoid(merge @ kernel + bias), atol=1e-5):
                hint = f"the head sees {text}; give it l1_distance of the two embeddings"
    expect_array("p(same) for 5 pairs (the head applied to |embedding(left) - embedding(right)|)", got, want,
                 tol=1e-6, hint=hint)
    _ran("5 pairs of images, swapped", "the model", data["swapped"])
    expect_array("p(same) with the two images swapped", data["swapped"], np.asarray(got), tol=1e-6,
                 hint="a Siamese network with an L1 distance is symmetric")
    return (f"build_koch_siamese: two inputs, one shared embedding ({emb} parameters) called on both, l1_distance, a "
            "Dense(1) sigmoid named 'similarity'; p(same) matches the formula and is symmetric")


check_koch_siamese = check("siamese.koch_siamese", probe_koch_siamese, judge_koch_siamese)
