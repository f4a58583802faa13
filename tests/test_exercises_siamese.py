"""Lab 7's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from mutation import correct, verify, wrong

from utils.exercises import siamese as ex

LAB = "07 siamese"

# ---------------------------------------------------------------------------
# A1: sample_pairs
# ---------------------------------------------------------------------------


def _finish(left, right, same, rng):
    """Shuffle the pairs with rng and return them in the docstring's dtypes."""
    order = rng.permutation(len(same))
    return np.asarray(left)[order], np.asarray(right)[order], np.asarray(same, np.float32)[order]


def pairs_loops(labels, num_pairs, rng):
    """Correct, differently written: a loop per pair, rng.choice without replacement."""
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == k) for k in classes]
    left, right, same = [], [], []
    for n in range(num_pairs):
        if n < num_pairs // 2:
            i, j = rng.choice(members[rng.integers(len(classes))], size=2, replace=False)
            same.append(1.0)
        else:
            k1, k2 = rng.choice(len(classes), size=2, replace=False)
            i, j = rng.choice(members[k1]), rng.choice(members[k2])
            same.append(0.0)
        left.append(i)
        right.append(j)
    return _finish(left, right, same, rng)


def pairs_rejection(labels, num_pairs, rng):
    """Correct, differently written: redraw the second image (and class) until it differs from the first."""
    classes = np.unique(labels)
    members = {k: np.flatnonzero(labels == k) for k in classes}
    n_same = num_pairs // 2
    left, right = [], []
    for n in range(num_pairs):
        k1 = classes[rng.integers(len(classes))]
        if n < n_same:
            k2 = k1
        else:
            k2 = k1
            while k2 == k1:
                k2 = classes[rng.integers(len(classes))]
        i = members[k1][rng.integers(len(members[k1]))]
        j = i
        while j == i:
            j = members[k2][rng.integers(len(members[k2]))]
        left.append(i)
        right.append(j)
    return _finish(left, right, [1.0] * n_same + [0.0] * (num_pairs - n_same), rng)


def _pairs(labels, num_pairs, rng, *, pick_class=None, second_image=None, second_class=None, n_same=None,
           order=None, same_dtype=np.float32, flip_same=False):
    """A configurable sampler: each keyword swaps in one realistic mistake."""
    classes = np.unique(labels)
    members = [np.flatnonzero(labels == k) for k in classes]
    K = len(classes)
    n_same = num_pairs // 2 if n_same is None else n_same
    left, right = [], []
    for n in range(num_pairs):
        if n < n_same:
            k = pick_class(labels, classes, rng) if pick_class else rng.integers(K)
            m = members[k]
            a = rng.integers(len(m))
            b = second_image(a, len(m), rng) if second_image else (a + rng.integers(1, len(m))) % len(m)
            left.append(m[a])
            right.append(m[b])
        else:
            k1 = pick_class(labels, classes, rng) if pick_class else rng.integers(K)
            k2 = second_class(k1, K, rng) if second_class else (k1 + rng.integers(1, K)) % K
            left.append(members[k1][rng.integers(len(members[k1]))])
            right.append(members[k2][rng.integers(len(members[k2]))])
    same = np.array([1.0] * n_same + [0.0] * (num_pairs - n_same))
    if flip_same:
        same = 1.0 - same
    idx = order(num_pairs, n_same, rng) if order else rng.permutation(num_pairs)
    return np.array(left)[idx], np.array(right)[idx], same.astype(same_dtype)[idx]


def pairs_image_uniform(labels, num_pairs, rng):
    """Wrong: classes chosen through a random image, so big classes dominate."""
    return _pairs(labels, num_pairs, rng,
                  pick_class=lambda labels, classes, rng: int(np.searchsorted(classes, labels[rng.integers(len(labels))])))


def pairs_neighbour_class(labels, num_pairs, rng):
    """Wrong: a different pair always takes the next class."""
    return _pairs(labels, num_pairs, rng, second_class=lambda k1, K, rng: (k1 + 1) % K)


def pairs_self(labels, num_pairs, rng):
    """Wrong: the second image of a same pair may be the first one."""
    return _pairs(labels, num_pairs, rng, second_image=lambda a, count, rng: rng.integers(count))


def pairs_adjacent(labels, num_pairs, rng):
    """Wrong: the second image is always the next one in the class."""
    return _pairs(labels, num_pairs, rng, second_image=lambda a, count, rng: (a + 1) % count)


def pairs_unshuffled(labels, num_pairs, rng):
    """Wrong: same pairs first, then different ones."""
    return _pairs(labels, num_pairs, rng, order=lambda n, n_same, rng: np.arange(n))


def pairs_interleaved(labels, num_pairs, rng):
    """Wrong: same and different pairs alternate (the old check's half-and-half test let this through)."""
    def alternate(n, n_same, rng):
        same, diff = np.arange(n_same), np.arange(n_same, n)
        out = np.empty(n, int)
        out[0:2 * n_same:2], out[1:2 * n_same:2] = same, diff[:n_same]
        out[2 * n_same:] = diff[n_same:]
        return out

    return _pairs(labels, num_pairs, rng, order=alternate)


def pairs_round_up(labels, num_pairs, rng):
    """Wrong: rounds the number of same pairs up for an odd count."""
    return _pairs(labels, num_pairs, rng, n_same=(num_pairs + 1) // 2)


def pairs_float64(labels, num_pairs, rng):
    """Wrong: same left as float64."""
    return _pairs(labels, num_pairs, rng, same_dtype=np.float64)


def pairs_flipped(labels, num_pairs, rng):
    """Wrong: same is 1.0 for different pairs."""
    return _pairs(labels, num_pairs, rng, flip_same=True)


def pairs_global_rng(labels, num_pairs, rng):
    """Wrong: shuffles with NumPy's global generator."""
    left, right, same = _pairs(labels, num_pairs, rng)
    order = np.random.permutation(num_pairs)
    return left[order], right[order], same[order]


def pairs_fixed_seed(labels, num_pairs, rng):
    """Wrong: ignores the rng passed in and makes its own."""
    return _pairs(labels, num_pairs, np.random.default_rng(0))


def pairs_contiguous_labels(labels, num_pairs, rng):
    """Wrong: assumes the labels are 0..K-1."""
    K = len(np.unique(labels))
    members = [np.flatnonzero(labels == k) for k in range(K)]
    n_same = num_pairs // 2
    left, right = [], []
    for n in range(num_pairs):
        k1 = rng.integers(K)
        k2 = k1 if n < n_same else (k1 + rng.integers(1, K)) % K
        i, j = rng.choice(members[k1]), rng.choice(members[k2])
        left.append(i)
        right.append(j)
    return _finish(left, right, [1.0] * n_same + [0.0] * (num_pairs - n_same), rng)


def pairs_random_images_rejected(labels, num_pairs, rng):
    """Wrong: different pairs are two random images kept when their labels differ (big classes dominate)."""
    left, right, same = _pairs(labels, num_pairs, rng)
    for n in np.flatnonzero(same == 0):
        i, j = rng.integers(len(labels), size=2)
        while labels[i] == labels[j]:
            i, j = rng.integers(len(labels), size=2)
        left[n], right[n] = i, j
    return left, right, same


def pairs_two_values(labels, num_pairs, rng):
    """Wrong convention: returns (left, right) and forgets same."""
    return _pairs(labels, num_pairs, rng)[:2]


def pairs_lists(labels, num_pairs, rng):
    """Wrong convention: Python lists instead of arrays."""
    return tuple(part.tolist() for part in _pairs(labels, num_pairs, rng))


def pairs_stub(labels, num_pairs, rng):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# B1: distances
# ---------------------------------------------------------------------------


def l1_subtract(a, b):
    """Correct, differently written: keras.ops.subtract."""
    return keras.ops.abs(keras.ops.subtract(a, b))


def l1_float32(a, b):
    """Correct, in float32."""
    return keras.ops.abs(keras.ops.cast(a, "float32") - keras.ops.cast(b, "float32"))


def l1_summed(a, b):
    """Wrong: sums the components (the L1 norm, not the vector)."""
    return keras.ops.sum(keras.ops.abs(a - b), axis=-1, keepdims=True)


def l1_no_abs(a, b):
    """Wrong: the absolute value is forgotten."""
    return a - b


def l1_squared(a, b):
    """Wrong: squared differences."""
    return keras.ops.square(a - b)


def l1_abs_difference(a, b):
    """Wrong: difference of absolute values."""
    return keras.ops.abs(a) - keras.ops.abs(b)


def l1_numpy(a, b):
    """Wrong: NumPy, which cannot take symbolic Keras inputs."""
    return np.abs(a - b)


def l1_tf(a, b):
    """Wrong: a tf function, which cannot take symbolic Keras inputs in Keras 3."""
    return tf.abs(a - b)


def l1_stub(a, b):
    raise NotImplementedError()


def euclid_sum_eps(a, b, eps=1e-9):
    """Correct, differently written: sqrt(sum + eps), also finite at 0."""
    return keras.ops.sqrt(keras.ops.sum((a - b) ** 2, axis=-1, keepdims=True) + eps)


def euclid_expand(a, b, eps=1e-9):
    """Correct, differently written: sum without keepdims, then a new axis."""
    squared = keras.ops.sum(keras.ops.square(keras.ops.subtract(a, b)), axis=-1)
    return keras.ops.sqrt(keras.ops.maximum(keras.ops.expand_dims(squared, -1), eps))


def euclid_float32(a, b, eps=1e-9):
    """Correct, in float32."""
    a, b = keras.ops.cast(a, "float32"), keras.ops.cast(b, "float32")
    return keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(keras.ops.square(a - b), -1, keepdims=True), eps))


def euclid_no_sqrt(a, b, eps=1e-9):
    """Wrong: the squared distance."""
    return keras.ops.maximum(keras.ops.sum(keras.ops.square(a - b), axis=-1, keepdims=True), eps)


def euclid_no_keepdims(a, b, eps=1e-9):
    """Wrong: drops the last axis."""
    return keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(keras.ops.square(a - b), axis=-1), eps))


def euclid_no_eps(a, b, eps=1e-9):
    """Wrong: the root of 0 gives a NaN gradient at identical embeddings."""
    return keras.ops.sqrt(keras.ops.sum(keras.ops.square(a - b), axis=-1, keepdims=True))


def euclid_eps_outside(a, b, eps=1e-9):
    """Wrong: eps added after the root (the gradient at 0 is still NaN)."""
    return keras.ops.sqrt(keras.ops.sum(keras.ops.square(a - b), axis=-1, keepdims=True)) + eps


def euclid_mean(a, b, eps=1e-9):
    """Wrong: averages the squared differences."""
    return keras.ops.sqrt(keras.ops.maximum(keras.ops.mean(keras.ops.square(a - b), axis=-1, keepdims=True), eps))


def euclid_axis1(a, b, eps=1e-9):
    """Wrong: sums over axis 1 (right for 2-D batches only)."""
    return keras.ops.sqrt(keras.ops.maximum(keras.ops.sum(keras.ops.square(a - b), axis=1, keepdims=True), eps))


def euclid_l1(a, b, eps=1e-9):
    """Wrong: the L1 norm."""
    return keras.ops.maximum(keras.ops.sum(keras.ops.abs(a - b), axis=-1, keepdims=True), eps)


def euclid_numpy(a, b, eps=1e-9):
    """Wrong: NumPy (no symbolic inputs, no gradient)."""
    return np.sqrt(np.maximum(np.sum((np.asarray(a) - np.asarray(b)) ** 2, axis=-1, keepdims=True), eps))


def euclid_stub(a, b, eps=1e-9):
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# B2: contrastive_loss
# ---------------------------------------------------------------------------


def _y(y_true, distance):
    return keras.ops.reshape(keras.ops.cast(y_true, distance.dtype), keras.ops.shape(distance))


def loss_where(y_true, distance, margin=1.0):
    """Correct, differently written: keras.ops.where and relu."""
    y = _y(y_true, distance)
    per_pair = keras.ops.where(y > 0.5, keras.ops.square(distance), keras.ops.square(keras.ops.relu(margin - distance)))
    return 0.5 * keras.ops.mean(per_pair)


def loss_float32(y_true, distance, margin=1.0):
    """Correct, computed in float32 (the issue's B2 case that a 1e-9 tolerance rejected)."""
    d = keras.ops.cast(distance, "float32")
    y = keras.ops.reshape(keras.ops.cast(y_true, "float32"), keras.ops.shape(d))
    return keras.ops.mean(0.5 * y * d ** 2 + 0.5 * (1.0 - y) * keras.ops.maximum(margin - d, 0.0) ** 2)


def _loss(y_true, distance, margin=1.0, *, swap=False, hinge=None, square_hinge=True, square_pull=True, reduce="mean",
          half=True, reshape=True, margin_on_same=False):
    y = _y(y_true, distance) if reshape else keras.ops.cast(y_true, distance.dtype)
    if swap:
        y = 1.0 - y
    d = distance
    h = hinge(d, margin) if hinge else keras.ops.maximum(margin - d, 0.0)
    h = keras.ops.square(h) if square_hinge else h
    p = keras.ops.square(d) if square_pull else d
    if margin_on_same:
        p, h = h, keras.ops.square(d)
    per_pair = y * p + (1.0 - y) * h
    if half:
        per_pair = 0.5 * per_pair
    return {"mean": keras.ops.mean, "sum": keras.ops.sum, "none": lambda t: t}[reduce](per_pair)


def loss_swapped(y_true, distance, margin=1.0):
    """Wrong: y = 1 treated as a different pair."""
    return _loss(y_true, distance, margin, swap=True)


def loss_wrong_hinge(y_true, distance, margin=1.0):
    """Wrong: max(d - m, 0) instead of max(m - d, 0)."""
    return _loss(y_true, distance, margin, hinge=lambda d, m: keras.ops.maximum(d - m, 0.0))


def loss_hinge_unsquared(y_true, distance, margin=1.0):
    """Wrong: the hinge is not squared."""
    return _loss(y_true, distance, margin, square_hinge=False)


def loss_pull_unsquared(y_true, distance, margin=1.0):
    """Wrong: the same pairs' distance is not squared."""
    return _loss(y_true, distance, margin, square_pull=False)


def loss_sum(y_true, distance, margin=1.0):
    """Wrong: sum over the batch instead of the mean."""
    return _loss(y_true, distance, margin, reduce="sum")


def loss_per_pair(y_true, distance, margin=1.0):
    """Wrong: one loss per pair, no mean."""
    return _loss(y_true, distance, margin, reduce="none")


def loss_no_half(y_true, distance, margin=1.0):
    """Wrong: the factor 1/2 is missing."""
    return _loss(y_true, distance, margin, half=False)


def loss_no_reshape(y_true, distance, margin=1.0):
    """Wrong: y_true (N,) times distance (N, 1) broadcasts to (N, N)."""
    return _loss(y_true, distance, margin, reshape=False)


def loss_margin_ignored(y_true, distance, margin=1.0):
    """Wrong: the margin hard-coded to 1."""
    return _loss(y_true, distance, 1.0)


def loss_margin_on_same(y_true, distance, margin=1.0):
    """Wrong: the margin applied to the same pairs' term."""
    return _loss(y_true, distance, margin, margin_on_same=True)


def loss_numpy(y_true, distance, margin=1.0):
    """Wrong: NumPy arithmetic (right values, but no gradient: Keras cannot train with it)."""
    y = np.asarray(y_true, dtype=np.float64).reshape(np.shape(distance))
    d = np.asarray(distance)
    return np.mean(0.5 * y * d ** 2 + 0.5 * (1 - y) * np.maximum(margin - d, 0) ** 2)


def loss_stub(y_true, distance, margin=1.0):
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# C1: build_koch_siamese
# ---------------------------------------------------------------------------


def _siamese(embedding, merge=None, head=None, second=None):
    shape = tuple(embedding.inputs[0].shape[1:])
    left, right = keras.Input(shape), keras.Input(shape)
    e1, e2 = embedding(left), (second or embedding)(right)
    merged = merge(e1, e2) if merge else keras.ops.abs(e1 - e2)
    out = head(merged) if head else keras.layers.Dense(1, activation="sigmoid", name="similarity")(merged)
    return keras.Model([left, right], out)


def koch_lambda(embedding):
    """Correct, differently written: the distance in a Lambda layer, other input names."""
    shape = tuple(embedding.inputs[0].shape[1:])
    a, b = keras.Input(shape, name="first"), keras.Input(shape, name="second")
    distance = keras.layers.Lambda(lambda t: keras.ops.abs(t[0] - t[1]))([embedding(a), embedding(b)])
    return keras.Model(inputs=[a, b], outputs=keras.layers.Dense(1, activation="sigmoid", name="similarity")(distance))


def koch_activation_layer(embedding):
    """Correct, differently written: Dense(1) named 'similarity', then a separate Activation('sigmoid')."""
    return _siamese(embedding, head=lambda z: keras.layers.Activation("sigmoid")(
        keras.layers.Dense(1, name="similarity")(z)))


def koch_subtract_layer(embedding):
    """Correct, differently written: a Subtract layer and keras.ops.abs."""
    return _siamese(embedding, merge=lambda e1, e2: keras.ops.abs(keras.layers.Subtract()([e1, e2])))


def koch_two_embeddings(embedding):
    """Wrong: a separate copy of the embedding (new weights) for the second branch."""
    copy = keras.models.clone_model(embedding)
    copy.name = "right_embedding"
    return _siamese(embedding, second=copy)


def koch_squared(embedding):
    """Wrong: squared differences (symmetric, same parameter count: the old check let it through)."""
    return _siamese(embedding, merge=lambda e1, e2: keras.ops.square(e1 - e2))


def koch_product(embedding):
    """Wrong: the product of the embeddings (symmetric, same parameter count)."""
    return _siamese(embedding, merge=lambda e1, e2: e1 * e2)


def koch_no_abs(embedding):
    """Wrong: a difference without the absolute value."""
    return _siamese(embedding, merge=lambda e1, e2: e1 - e2)


def koch_concatenate(embedding):
    """Wrong: concatenated embeddings instead of their distance."""
    return _siamese(embedding, merge=lambda e1, e2: keras.layers.Concatenate()([e1, e2]))


def koch_linear(embedding):
    """Wrong: the head has no sigmoid."""
    return _siamese(embedding, head=lambda z: keras.layers.Dense(1, name="similarity")(z))


def koch_unnamed(embedding):
    """Wrong: the head is not named 'similarity' (the evaluation reads it by name)."""
    return _siamese(embedding, head=lambda z: keras.layers.Dense(1, activation="sigmoid")(z))


def koch_hidden_layer(embedding):
    """Wrong: an extra Dense layer between the distance and the head."""
    return _siamese(embedding, head=lambda z: keras.layers.Dense(1, activation="sigmoid", name="similarity")(
        keras.layers.Dense(8, activation="relu")(z)))


def koch_returns_output(embedding):
    """Wrong: returns the output tensor, not a model."""
    return _siamese(embedding).outputs[0]


def koch_stub(embedding):
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# Adversarial review: answers that fooled the checks or got a misleading hint
# ---------------------------------------------------------------------------


def _pairs_fix_on_collision(labels, num_pairs, rng, class_fix, image_fix):
    """A vectorised-looking sampler that replaces a collision by the next class or the next image ("next"), or
    redraws it ("redraw")."""
    classes, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(classes))]
    K, n_same = len(classes), num_pairs // 2
    left, right = [], []
    for c in rng.integers(K, size=n_same):
        m = members[c]
        i, j = rng.integers(len(m)), rng.integers(len(m))
        if image_fix == "next" and i == j:
            j = (i + 1) % len(m)
        while image_fix == "redraw" and j == i:
            j = rng.integers(len(m))
        left.append(m[i])
        right.append(m[j])
    k1, k2 = rng.integers(K, size=num_pairs - n_same), rng.integers(K, size=num_pairs - n_same)
    if class_fix == "next":
        k2 = np.where(k2 == k1, (k2 + 1) % K, k2)
    else:
        for t in range(len(k1)):
            while k2[t] == k1[t]:
                k2[t] = rng.integers(K)
    for a, b in zip(k1, k2):
        left.append(members[a][rng.integers(len(members[a]))])
        right.append(members[b][rng.integers(len(members[b]))])
    return _finish(left, right, [1.0] * n_same + [0.0] * (num_pairs - n_same), rng)


def pairs_next_class_on_collision(labels, num_pairs, rng):
    """Wrong: the second class drawn from all K and replaced by the next on a collision (neighbours 1.5x as often)."""
    return _pairs_fix_on_collision(labels, num_pairs, rng, "next", "redraw")


def pairs_next_image_on_collision(labels, num_pairs, rng):
    """Wrong: the second image drawn from the whole class and replaced by the next one on a collision."""
    return _pairs_fix_on_collision(labels, num_pairs, rng, "redraw", "next")


def euclid_eps_ignored(a, b, eps=1e-9):
    """Wrong: ignores the eps argument (a hard-coded 1e-9)."""
    squared = keras.ops.sum(keras.ops.square(a - b), axis=-1, keepdims=True)
    return keras.ops.sqrt(keras.ops.maximum(squared, 1e-9))


def loss_terms_averaged_apart(y_true, distance, margin=1.0):
    """Wrong: averages the same-pair and the different-pair terms each over its own pairs."""
    y = keras.ops.reshape(keras.ops.cast(y_true, distance.dtype), keras.ops.shape(distance))
    pull = keras.ops.sum(y * distance ** 2) / keras.ops.sum(y)
    push = keras.ops.sum((1 - y) * keras.ops.relu(margin - distance) ** 2) / keras.ops.sum(1 - y)
    return 0.5 * (pull + push)


def koch_layers_reapplied(embedding):
    """Wrong (the exercise asks to call the embedding model itself): its layers re-applied one by one to each input;
    the weights are shared, but the model does not hold the embedding passed in."""
    shape = tuple(embedding.inputs[0].shape[1:])
    left, right = keras.Input(shape), keras.Input(shape)

    def embed(t):
        for layer in embedding.layers[1:]:
            t = layer(t)
        return t

    d = keras.ops.abs(embed(left) - embed(right))
    return keras.Model([left, right], keras.layers.Dense(1, activation="sigmoid", name="similarity")(d))


CASES = [
    correct(LAB, ex.check_sample_pairs, "sample_pairs with a loop and rng.choice", pairs_loops),
    # Adversarial review
    wrong(LAB, ex.check_sample_pairs, "next class on a collision", pairs_next_class_on_collision,
          expect="pairs of classes"),
    wrong(LAB, ex.check_sample_pairs, "next image on a collision", pairs_next_image_on_collision,
          expect="second image uniformly"),
    wrong(LAB, ex.check_euclidean_distance, "eps argument ignored", euclid_eps_ignored, expect="`eps` argument"),
    wrong(LAB, ex.check_contrastive_loss, "terms averaged over their own pairs", loss_terms_averaged_apart,
          expect="its own pairs"),
    wrong(LAB, ex.check_koch_siamese, "embedding layers re-applied", koch_layers_reapplied, expect="passed in"),
    correct(LAB, ex.check_sample_pairs, "sample_pairs by rejection", pairs_rejection),
    wrong(LAB, ex.check_sample_pairs, "classes chosen through images", pairs_image_uniform, expect="uniformly"),
    wrong(LAB, ex.check_sample_pairs, "different pairs always the next class", pairs_neighbour_class,
          expect="pairs of classes"),
    wrong(LAB, ex.check_sample_pairs, "an image paired with itself", pairs_self, expect="itself"),
    wrong(LAB, ex.check_sample_pairs, "second image always the next one", pairs_adjacent, expect="different pairs of"),
    wrong(LAB, ex.check_sample_pairs, "not shuffled", pairs_unshuffled, expect="shuffle"),
    wrong(LAB, ex.check_sample_pairs, "same and different pairs alternate", pairs_interleaved, expect="pattern"),
    wrong(LAB, ex.check_sample_pairs, "same pairs rounded up", pairs_round_up, expect="rounds down"),
    wrong(LAB, ex.check_sample_pairs, "same as float64", pairs_float64, expect="float32"),
    wrong(LAB, ex.check_sample_pairs, "same flipped", pairs_flipped, expect="labels differ"),
    wrong(LAB, ex.check_sample_pairs, "shuffled with the global RNG", pairs_global_rng, expect="same seed"),
    wrong(LAB, ex.check_sample_pairs, "its own default_rng(0)", pairs_fixed_seed, expect="the same pairs for seeds"),
    wrong(LAB, ex.check_sample_pairs, "labels assumed 0..K-1", pairs_contiguous_labels),
    wrong(LAB, ex.check_sample_pairs, "different pairs from random images", pairs_random_images_rejected,
          expect="uniformly"),
    wrong(LAB, ex.check_sample_pairs, "returns two values", pairs_two_values, expect="three arrays"),
    wrong(LAB, ex.check_sample_pairs, "returns lists", pairs_lists, expect="list"),
    wrong(LAB, ex.check_sample_pairs, "still a stub", pairs_stub, expect="not implemented yet"),
    correct(LAB, ex.check_l1_distance, "l1_distance with keras.ops.subtract", l1_subtract),
    correct(LAB, ex.check_l1_distance, "l1_distance in float32", l1_float32),
    correct(LAB, ex.check_sample_pairs, "sample_pairs by rejection, other labels (hidden-test options)", pairs_rejection,
            counts={0: 2, 1: 2, 2: 30, 17: 3, 8: 12, 6: 2, 100: 5}, num_pairs=3001, seeds=(7, 8)),
    wrong(LAB, ex.check_l1_distance, "summed to a norm", l1_summed, expect="do not sum"),
    wrong(LAB, ex.check_l1_distance, "no absolute value", l1_no_abs, expect="absolute value is missing"),
    wrong(LAB, ex.check_l1_distance, "squared differences", l1_squared, expect="squared"),
    wrong(LAB, ex.check_l1_distance, "difference of absolute values", l1_abs_difference, expect="absolute values"),
    wrong(LAB, ex.check_l1_distance, "NumPy on symbolic inputs", l1_numpy, expect="keras.ops"),
    wrong(LAB, ex.check_l1_distance, "tf.abs on symbolic inputs", l1_tf, expect="keras.ops"),
    wrong(LAB, ex.check_l1_distance, "still a stub", l1_stub, expect="not implemented yet"),
    correct(LAB, ex.check_euclidean_distance, "euclidean_distance as sqrt(sum + eps)", euclid_sum_eps),
    correct(LAB, ex.check_euclidean_distance, "euclidean_distance with expand_dims", euclid_expand),
    correct(LAB, ex.check_euclidean_distance, "euclidean_distance in float32", euclid_float32),
    correct(LAB, ex.check_euclidean_distance, "euclidean_distance in float32, other inputs (hidden-test options)",
            euclid_float32, seed=5),
    wrong(LAB, ex.check_euclidean_distance, "no square root", euclid_no_sqrt, expect="square root"),
    wrong(LAB, ex.check_euclidean_distance, "no keepdims", euclid_no_keepdims, expect="keepdims"),
    wrong(LAB, ex.check_euclidean_distance, "no eps", euclid_no_eps, expect="max(sum, eps)"),
    wrong(LAB, ex.check_euclidean_distance, "eps after the root", euclid_eps_outside),
    wrong(LAB, ex.check_euclidean_distance, "mean of squares", euclid_mean, expect="do not average"),
    wrong(LAB, ex.check_euclidean_distance, "summed over axis 1", euclid_axis1),
    wrong(LAB, ex.check_euclidean_distance, "the L1 norm", euclid_l1, expect="L1"),
    wrong(LAB, ex.check_euclidean_distance, "NumPy", euclid_numpy, expect="keras.ops"),
    wrong(LAB, ex.check_euclidean_distance, "still a stub", euclid_stub, expect="not implemented yet"),
    correct(LAB, ex.check_contrastive_loss, "contrastive_loss with where and relu", loss_where),
    correct(LAB, ex.check_contrastive_loss, "contrastive_loss in float32", loss_float32),
    correct(LAB, ex.check_contrastive_loss, "contrastive_loss in float32, other inputs (hidden-test options)", loss_float32,
            seed=3),
    wrong(LAB, ex.check_contrastive_loss, "labels swapped", loss_swapped, expect="swapped"),
    wrong(LAB, ex.check_contrastive_loss, "max(d - m, 0)", loss_wrong_hinge, expect="max(m - d, 0)"),
    wrong(LAB, ex.check_contrastive_loss, "hinge not squared", loss_hinge_unsquared, expect="square the hinge"),
    wrong(LAB, ex.check_contrastive_loss, "same-pair distance not squared", loss_pull_unsquared,
          expect="square the distance"),
    wrong(LAB, ex.check_contrastive_loss, "sum instead of mean", loss_sum, expect="not the sum"),
    wrong(LAB, ex.check_contrastive_loss, "one loss per pair", loss_per_pair, expect="scalar"),
    wrong(LAB, ex.check_contrastive_loss, "no factor 1/2", loss_no_half, expect="1/2"),
    wrong(LAB, ex.check_contrastive_loss, "y_true not reshaped", loss_no_reshape, expect="reshape"),
    wrong(LAB, ex.check_contrastive_loss, "margin ignored", loss_margin_ignored, expect="margin"),
    wrong(LAB, ex.check_contrastive_loss, "margin on the same pairs' term", loss_margin_on_same),
    wrong(LAB, ex.check_contrastive_loss, "NumPy arithmetic", loss_numpy, expect="no gradient"),
    wrong(LAB, ex.check_contrastive_loss, "still a stub", loss_stub, expect="not implemented yet"),
    correct(LAB, ex.check_koch_siamese, "build_koch_siamese with a Lambda layer", koch_lambda),
    correct(LAB, ex.check_koch_siamese, "build_koch_siamese with an Activation layer", koch_activation_layer),
    correct(LAB, ex.check_koch_siamese, "build_koch_siamese with a Subtract layer", koch_subtract_layer),
    correct(LAB, ex.check_koch_siamese, "build_koch_siamese with an Activation layer, other sizes (hidden-test options)",
            koch_activation_layer, image_shape=(11, 13, 1), embedding_dim=4, seed=2),
    wrong(LAB, ex.check_koch_siamese, "two embeddings", koch_two_embeddings, expect="same"),
    wrong(LAB, ex.check_koch_siamese, "squared differences", koch_squared, expect="squared differences"),
    wrong(LAB, ex.check_koch_siamese, "product of embeddings", koch_product, expect="product"),
    wrong(LAB, ex.check_koch_siamese, "no absolute value", koch_no_abs, expect="without the absolute value"),
    wrong(LAB, ex.check_koch_siamese, "concatenated embeddings", koch_concatenate, expect="concatenated"),
    wrong(LAB, ex.check_koch_siamese, "linear head", koch_linear, expect="sigmoid"),
    wrong(LAB, ex.check_koch_siamese, "head not named", koch_unnamed, expect="similarity"),
    wrong(LAB, ex.check_koch_siamese, "extra hidden layer", koch_hidden_layer, expect="parameters"),
    wrong(LAB, ex.check_koch_siamese, "returns a tensor", koch_returns_output, expect="keras.Model"),
    wrong(LAB, ex.check_koch_siamese, "still a stub", koch_stub, expect="not implemented yet"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)
