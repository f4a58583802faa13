"""Lab 6's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from mutation import correct, verify, wrong

from utils.exercises import autoencoder as ex

LAB = "06 autoencoder"


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# A1: transposed_output_size
# ---------------------------------------------------------------------------


def size_branches(W, F, S, padding):
    """Correct: the two formulas, written as one expression."""
    return W * S if padding == "same" else (W - 1) * S + max(F, S)


def size_by_cover(W, F, S, padding):
    """Correct, differently written: the last stamp starts at (W - 1) S and the output reaches past both ends."""
    last_start = (W - 1) * S
    full = max(last_start + F, W * S)
    return full if padding == "valid" else W * S


def size_conv_formula(W, F, S, padding):
    """Wrong: the convolution's output formula."""
    return (W - F) // S + 1 if padding == "valid" else -(-W // S)


def size_same_like_valid(W, F, S, padding):
    """Wrong: 'same' computed like 'valid'."""
    return (W - 1) * S + max(F, S)


def size_no_gap(W, F, S, padding):
    """Wrong: (W - 1) S + F, without the gap Keras keeps when F < S."""
    return W * S if padding == "same" else (W - 1) * S + F


def size_same_minus_pad(W, F, S, padding):
    """Wrong: 'same' as the full output minus F - 1 pixels of padding."""
    return (W - 1) * S + F - (F - 1 if padding == "same" else 0)


def size_float(W, F, S, padding):
    """Wrong: a float width (true division)."""
    return float(W * S) if padding == "same" else (W - 1) * S + max(F, S) / 1


# ---------------------------------------------------------------------------
# A2: conv_transpose_forward (uses transposed_output_size, as the notebook's does)
# ---------------------------------------------------------------------------

transposed_output_size = size_branches


def tconv_loops(x, w, b, stride):
    """The solution's approach: one einsum stamp per input position, accumulated."""
    n, h, width, _ = x.shape
    f, _, c_out, _ = w.shape
    out = np.zeros((n, transposed_output_size(h, f, stride, "valid"),
                    transposed_output_size(width, f, stride, "valid"), c_out), dtype=np.result_type(x, w))
    for i in range(h):
        for j in range(width):
            out[:, i * stride:i * stride + f, j * stride:j * stride + f, :] += np.einsum("nc,aboc->nabo", x[:, i, j], w)
    return out + b


def tconv_offsets_float32(x, w, b, stride):
    """Correct, differently written: one strided slice per kernel offset, in float32."""
    x, w, b = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    N, H, W, _ = x.shape
    F, _, K, _ = w.shape
    out = np.zeros((N, (H - 1) * stride + max(F, stride), (W - 1) * stride + max(F, stride), K), np.float32)
    for a in range(F):
        for c in range(F):
            out[:, a:a + stride * H:stride, c:c + stride * W:stride, :] += x @ w[a, c].T
    return out + b


def tconv_overwrite(x, w, b, stride):
    """Wrong: each stamp overwrites the previous one where they overlap."""
    n, h, width, _ = x.shape
    f, _, c_out, _ = w.shape
    out = np.zeros((n, (h - 1) * stride + max(f, stride), (width - 1) * stride + max(f, stride), c_out))
    for i in range(h):
        for j in range(width):
            out[:, i * stride:i * stride + f, j * stride:j * stride + f, :] = np.einsum("nc,aboc->nabo", x[:, i, j], w)
    return out + b


def tconv_flipped(x, w, b, stride):
    """Wrong: the kernel flipped (a true convolution's habit)."""
    return tconv_loops(x, w[::-1, ::-1], b, stride)


def tconv_no_stride(x, w, b, stride):
    """Wrong: stamps placed one pixel apart, whatever the stride."""
    n, h, width, _ = x.shape
    f, _, c_out, _ = w.shape
    out = np.zeros((n, (h - 1) * stride + max(f, stride), (width - 1) * stride + max(f, stride), c_out))
    for i in range(h):
        for j in range(width):
            out[:, i:i + f, j:j + f, :] += np.einsum("nc,aboc->nabo", x[:, i, j], w)
    return out + b


def tconv_no_bias(x, w, b, stride):
    """Wrong: the bias forgotten."""
    return tconv_loops(x, w, np.zeros_like(b), stride)


def tconv_channels_swapped(x, w, b, stride):
    """Wrong: the kernel read as (F, F, C_in, C_out), the Conv2D layout."""
    return tconv_loops(x, w.transpose(0, 1, 3, 2), b, stride) if w.shape[2] == w.shape[3] else tconv_loops(
        x, np.einsum("abco->aboc", w.reshape(w.shape[0], w.shape[1], w.shape[3], w.shape[2])), b, stride)


def tconv_same_size(x, w, b, stride):
    """Wrong: the output cropped to the 'same' size H * S."""
    return tconv_loops(x, w, b, stride)[:, :x.shape[1] * stride, :x.shape[2] * stride]


def tconv_out_cache(x, w, b, stride):
    """Wrong convention: returns (out, cache)."""
    return tconv_loops(x, w, b, stride), (x, w, b)


# ---------------------------------------------------------------------------
# B1: build_autoencoder
# ---------------------------------------------------------------------------

L = keras.layers


def _encoder(inp, dense_units=49, encoder_padding="valid", dense_act="relu"):
    e = L.Conv2D(32, (3, 3), activation="relu", padding=encoder_padding)(inp)
    e = L.MaxPooling2D((2, 2))(e)
    e = L.Conv2D(64, (3, 3), activation="relu", padding=encoder_padding)(e)
    e = L.MaxPooling2D((2, 2))(e)
    e = L.Conv2D(64, (3, 3), activation="relu", padding=encoder_padding)(e)
    return L.Dense(dense_units, activation=dense_act)(L.Flatten()(e))


def ae_functional(bn_momentum=0.99, tail_padding="same", first_act="relu", out_act="sigmoid", momentum_used=None,
                  batchnorm=True, encoder_padding="valid", dense_act="relu"):
    """The summary's network, with knobs for the wrong variants."""
    m = bn_momentum if momentum_used is None else momentum_used
    inp = keras.Input((28, 28, 1))
    d = L.Reshape((7, 7, 1))(_encoder(inp, encoder_padding=encoder_padding, dense_act=dense_act))
    d = L.Conv2DTranspose(64, (3, 3), strides=2, activation=first_act, padding="same")(d)
    if batchnorm:
        d = L.BatchNormalization(momentum=m)(d)
    d = L.Conv2DTranspose(64, (3, 3), strides=2, activation=first_act, padding="same")(d)
    if batchnorm:
        d = L.BatchNormalization(momentum=m)(d)
    d = L.Conv2DTranspose(32, (3, 3), activation="relu", padding=tail_padding)(d)
    out = L.Conv2D(1, (3, 3), activation=out_act, padding=tail_padding)(d)
    return keras.Model(inp, out)


def ae_sequential_activation_layers(bn_momentum=0.99):
    """Correct, differently written: Sequential, every non-linearity in its own Activation/ReLU layer."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3), L.ReLU(), L.MaxPooling2D(), L.Conv2D(64, 3), L.Activation("relu"), L.MaxPooling2D(),
        L.Conv2D(64, 3), L.Activation("relu"), L.Flatten(), L.Dense(49), L.Activation("relu"), L.Reshape((7, 7, 1)),
        L.Conv2DTranspose(64, 3, strides=2, padding="same"), L.Activation("relu"),
        L.BatchNormalization(momentum=bn_momentum),
        L.Conv2DTranspose(64, 3, strides=(2, 2), padding="same"), L.ReLU(),
        L.BatchNormalization(momentum=bn_momentum),
        L.Conv2DTranspose(32, 3, padding="same"), L.Activation("relu"),
        L.Conv2D(1, 3, padding="same"), L.Activation("sigmoid"),
    ])


def ae_second_version(bn_momentum=0.99):
    """Wrong: padding='same' left out of the last two layers."""
    return ae_functional(bn_momentum, tail_padding="valid")


def ae_linear_upsampling(bn_momentum=0.99):
    """Wrong: the first two transposed convolutions left linear."""
    return ae_functional(bn_momentum, first_act=None)


def ae_no_sigmoid(bn_momentum=0.99):
    """Wrong: a ReLU output instead of the sigmoid."""
    return ae_functional(bn_momentum, out_act="relu")


def ae_momentum_ignored(bn_momentum=0.99):
    """Wrong: BatchNormalization at Keras's default momentum, ignoring bn_momentum."""
    return ae_functional(bn_momentum, momentum_used=0.99)


def ae_no_batchnorm(bn_momentum=0.99):
    """Wrong: the batch-norm layers forgotten."""
    return ae_functional(bn_momentum, batchnorm=False)


def ae_same_encoder(bn_momentum=0.99):
    """Wrong: 'same' padding in the encoder."""
    return ae_functional(bn_momentum, encoder_padding="same")


def ae_linear_bottleneck(bn_momentum=0.99):
    """Wrong: the 49-unit bottleneck left linear."""
    return ae_functional(bn_momentum, dense_act=None)


def ae_bn_before_relu(bn_momentum=0.99):
    """Wrong: batch norm between the transposed convolutions and their ReLUs."""
    inp = keras.Input((28, 28, 1))
    d = L.Reshape((7, 7, 1))(_encoder(inp))
    for _ in range(2):
        d = L.Conv2DTranspose(64, 3, strides=2, padding="same")(d)
        d = L.BatchNormalization(momentum=bn_momentum)(d)
        d = L.Activation("relu")(d)
    d = L.Conv2DTranspose(32, 3, activation="relu", padding="same")(d)
    return keras.Model(inp, L.Conv2D(1, 3, activation="sigmoid", padding="same")(d))


def ae_returns_layers(bn_momentum=0.99):
    """Wrong: returns the output tensor, not the model."""
    return ae_functional(bn_momentum).output


# ---------------------------------------------------------------------------
# B2: add_noise
# ---------------------------------------------------------------------------


def noise_rng(x, std, seed):
    """The solution's approach."""
    rng = np.random.default_rng(seed)
    return np.clip(x + rng.normal(0.0, std, size=x.shape), 0.0, 1.0).astype(np.float32)


def noise_standard_normal(x, std, seed):
    """Correct, differently written: standard normal draws scaled, np.minimum/np.maximum, float32 throughout."""
    noise = np.random.default_rng(seed).standard_normal(x.shape, dtype=np.float32) * np.float32(std)
    return np.minimum(np.maximum(x + noise, 0.0), 1.0).astype(np.float32)


def noise_unclipped(x, std, seed):
    """Wrong: not clipped."""
    return (x + np.random.default_rng(seed).normal(0.0, std, x.shape)).astype(np.float32)


def noise_global_seed(x, std, seed):
    """Wrong: reseeds NumPy's global generator."""
    np.random.seed(seed)
    return np.clip(x + np.random.normal(0.0, std, x.shape), 0.0, 1.0).astype(np.float32)


def noise_unseeded(x, std, seed):
    """Wrong: seed ignored."""
    return np.clip(x + np.random.default_rng().normal(0.0, std, x.shape), 0.0, 1.0).astype(np.float32)


def noise_in_place(x, std, seed):
    """Wrong: adds the noise to x in place."""
    x += np.random.default_rng(seed).normal(0.0, std, x.shape).astype(x.dtype)
    np.clip(x, 0.0, 1.0, out=x)
    return x


def noise_variance(x, std, seed):
    """Wrong: std used as the variance's square root twice (scale std**2)."""
    return np.clip(x + np.random.default_rng(seed).normal(0.0, std ** 2, x.shape), 0.0, 1.0).astype(np.float32)


def noise_one_image(x, std, seed):
    """Wrong: one noise image broadcast over the batch."""
    return np.clip(x + np.random.default_rng(seed).normal(0.0, std, x.shape[1:]), 0.0, 1.0).astype(np.float32)


def noise_rescaled(x, std, seed):
    """Wrong: rescaled to [0, 1] instead of clipped."""
    y = x + np.random.default_rng(seed).normal(0.0, std, x.shape)
    return ((y - y.min()) / (y.max() - y.min())).astype(np.float32)


def noise_float64(x, std, seed):
    """Wrong: float64, against the docstring."""
    return np.clip(x + np.random.default_rng(seed).normal(0.0, std, x.shape), 0.0, 1.0)


# ---------------------------------------------------------------------------
# B3: pca_2d
# ---------------------------------------------------------------------------


def pca_svd(codes):
    """The solution's approach: SVD of the centred codes."""
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, s[:2] ** 2 / np.sum(s ** 2)


def pca_eigh_float32(codes):
    """Correct, differently written: eigenvectors of the covariance, in float32."""
    codes = codes.astype(np.float32)
    centred = codes - codes.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    top = np.argsort(values)[::-1]
    return (centred @ vectors[:, top[:2]]).astype(np.float32), (values[top[:2]] / values.sum()).astype(np.float32)


def pca_not_centred(codes):
    """Wrong: SVD of the raw codes."""
    _, s, vt = np.linalg.svd(codes, full_matrices=False)
    return codes @ vt[:2].T, s[:2] ** 2 / np.sum(s ** 2)


def pca_columns_of_vt(codes):
    """Wrong: the first two columns of vt instead of its rows."""
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:, :2], s[:2] ** 2 / np.sum(s ** 2)


def pca_uncentred_projection(codes):
    """Wrong: directions from the centred codes, but the raw codes projected."""
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return codes @ vt[:2].T, s[:2] ** 2 / np.sum(s ** 2)


def pca_singular_values(codes):
    """Wrong: explained fractions from the singular values, not their squares."""
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T, s[:2] / np.sum(s)


def pca_smallest(codes):
    """Wrong: eigh's ascending order kept, so the two smallest directions."""
    centred = codes - codes.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    return centred @ vectors[:, :2], values[:2] / values.sum()


def pca_points_only(codes):
    """Wrong: returns only the points."""
    return pca_svd(codes)[0]


# ---------------------------------------------------------------------------
# C1: augment_pair
# ---------------------------------------------------------------------------


def aug_stacked(image, mask, crop_size, seed):
    """The solution's approach: stack, transform once, split."""
    seeds = tf.random.split(seed, 3)
    both = tf.concat([image, mask], axis=-1)
    both = tf.image.stateless_random_crop(both, (crop_size, crop_size, 2), seed=seeds[0])
    both = tf.image.stateless_random_flip_left_right(both, seed=seeds[1])
    both = tf.image.rot90(both, k=tf.random.stateless_uniform((), seed=seeds[2], minval=0, maxval=4, dtype=tf.int32))
    return both[..., :1], both[..., 1:]


def aug_separate_same_seeds(image, mask, crop_size, seed):
    """Correct, differently written: image and mask transformed separately with the same seeds, manual crop."""
    s = tf.random.experimental.stateless_split(seed, 4)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    top = tf.random.stateless_uniform((), s[0], 0, h - crop_size + 1, tf.int32)
    left = tf.random.stateless_uniform((), s[1], 0, w - crop_size + 1, tf.int32)
    flip = tf.random.stateless_uniform((), s[2]) < 0.5
    k = tf.random.stateless_uniform((), s[3], 0, 4, tf.int32)

    def move(t):
        t = t[top:top + crop_size, left:left + crop_size]
        t = tf.cond(flip, lambda: tf.reverse(t, [1]), lambda: t)
        return tf.image.rot90(t, k)

    return move(image), move(mask)


def aug_flip_image_only(image, mask, crop_size, seed):
    """Wrong: the flip applied to the image only."""
    seeds = tf.random.split(seed, 3)
    both = tf.image.stateless_random_crop(tf.concat([image, mask], -1), (crop_size, crop_size, 2), seed=seeds[0])
    k = tf.random.stateless_uniform((), seed=seeds[2], minval=0, maxval=4, dtype=tf.int32)
    both = tf.image.rot90(both, k)
    return tf.image.stateless_random_flip_left_right(both[..., :1], seed=seeds[1]), both[..., 1:]


def aug_different_seeds(image, mask, crop_size, seed):
    """Wrong: the mask transformed with its own seeds."""
    def move(t, s):
        seeds = tf.random.split(s, 3)
        t = tf.image.stateless_random_crop(t, (crop_size, crop_size, 1), seed=seeds[0])
        t = tf.image.stateless_random_flip_left_right(t, seed=seeds[1])
        return tf.image.rot90(t, tf.random.stateless_uniform((), seed=seeds[2], minval=0, maxval=4, dtype=tf.int32))
    return move(image, seed), move(mask, seed + 1)


def aug_no_rotation(image, mask, crop_size, seed):
    """Wrong: crop and flip, no rotation."""
    seeds = tf.random.split(seed, 2)
    both = tf.image.stateless_random_crop(tf.concat([image, mask], -1), (crop_size, crop_size, 2), seed=seeds[0])
    both = tf.image.stateless_random_flip_left_right(both, seed=seeds[1])
    return both[..., :1], both[..., 1:]


def aug_stateful(image, mask, crop_size, seed):
    """Wrong: stateful random ops, seed ignored."""
    both = tf.image.random_crop(tf.concat([image, mask], -1), (crop_size, crop_size, 2))
    both = tf.image.random_flip_left_right(both)
    both = tf.image.rot90(both, tf.random.uniform((), 0, 4, tf.int32))
    return both[..., :1], both[..., 1:]


def aug_resize(image, mask, crop_size, seed):
    """Wrong: resizes instead of cropping."""
    both = tf.image.resize(tf.concat([image, mask], -1), (crop_size, crop_size))
    both = tf.image.stateless_random_flip_left_right(both, seed=seed)
    return both[..., :1], both[..., 1:]


def aug_center_crop(image, mask, crop_size, seed):
    """Wrong: always the same crop position."""
    seeds = tf.random.split(seed, 2)
    both = tf.concat([image, mask], -1)[:crop_size, :crop_size]
    both = tf.image.stateless_random_flip_left_right(both, seed=seeds[0])
    both = tf.image.rot90(both, tf.random.stateless_uniform((), seed=seeds[1], minval=0, maxval=4, dtype=tf.int32))
    return both[..., :1], both[..., 1:]


def aug_image_twice(image, mask, crop_size, seed):
    """Wrong: returns the transformed image as the mask."""
    out, _ = aug_stacked(image, mask, crop_size, seed)
    return out, out


# ---------------------------------------------------------------------------
# C2: soft_dice_loss and binary_iou
# ---------------------------------------------------------------------------


def dice_per_image(y_true, y_pred, eps=1e-7):
    """The solution's approach."""
    y_true = tf.cast(y_true, y_pred.dtype)
    intersection = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
    total = tf.reduce_sum(y_true, axis=(1, 2, 3)) + tf.reduce_sum(y_pred, axis=(1, 2, 3))
    return tf.reduce_mean(1.0 - 2.0 * intersection / (total + eps))


def dice_keras_ops(y_true, y_pred, eps=1e-7):
    """Correct, differently written: keras.ops on flattened images, axis (1, 2) (one channel)."""
    t = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (keras.ops.shape(y_true)[0], -1))
    p = keras.ops.reshape(y_pred, (keras.ops.shape(y_pred)[0], -1))
    dice = 2.0 * keras.ops.sum(t * p, axis=1) / (keras.ops.sum(t + p, axis=1) + eps)
    return keras.ops.mean(1.0 - dice)


def dice_batch(y_true, y_pred, eps=1e-7):
    """Wrong: one Dice over the whole batch."""
    return 1.0 - 2.0 * tf.reduce_sum(y_true * y_pred) / (tf.reduce_sum(y_true) + tf.reduce_sum(y_pred) + eps)


def dice_no_two(y_true, y_pred, eps=1e-7):
    """Wrong: the factor 2 forgotten."""
    i = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
    return tf.reduce_mean(1.0 - i / (tf.reduce_sum(y_true + y_pred, axis=(1, 2, 3)) + eps))


def dice_not_loss(y_true, y_pred, eps=1e-7):
    """Wrong: returns Dice, not 1 - Dice."""
    return 1.0 - dice_per_image(y_true, y_pred, eps)


def dice_eps_fixed(y_true, y_pred, eps=1e-7):
    """Wrong: eps ignored (always 1e-7)."""
    return dice_per_image(y_true, y_pred)


def dice_numpy(y_true, y_pred, eps=1e-7):
    """Wrong: computed in NumPy, so no gradient reaches y_pred."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    i = np.sum(t * p, axis=(1, 2, 3))
    return float(np.mean(1.0 - 2.0 * i / (np.sum(t, axis=(1, 2, 3)) + np.sum(p, axis=(1, 2, 3)) + eps)))


def dice_thresholded(y_true, y_pred, eps=1e-7):
    """Wrong: predictions rounded before the Dice."""
    return dice_per_image(y_true, tf.round(y_pred), eps)


def dice_per_image_vector(y_true, y_pred, eps=1e-7):
    """Wrong: one loss per image, not averaged."""
    i = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
    return 1.0 - 2.0 * i / (tf.reduce_sum(y_true + y_pred, axis=(1, 2, 3)) + eps)


def dice_squares(y_true, y_pred, eps=1e-7):
    """Wrong: squared terms in the denominator (the V-Net variant), not what the lab asks."""
    i = tf.reduce_sum(y_true * y_pred, axis=(1, 2, 3))
    return tf.reduce_mean(1.0 - 2.0 * i / (tf.reduce_sum(y_true ** 2 + y_pred ** 2, axis=(1, 2, 3)) + eps))


def iou_solution(y_true, y_pred, target=1, threshold=0.5):
    """The solution's approach."""
    truth = np.asarray(y_true) == target
    predicted = (np.asarray(y_pred) >= threshold) == bool(target)
    union = np.logical_or(truth, predicted).sum()
    return float(np.logical_and(truth, predicted).sum() / union) if union else 1.0


def iou_keras(y_true, y_pred, target=1, threshold=0.5):
    """Correct, differently written: keras.metrics.BinaryIoU, returned as a NumPy float32."""
    metric = keras.metrics.BinaryIoU(target_class_ids=[target], threshold=threshold)
    metric.update_state(y_true, np.asarray(y_pred, np.float64))
    return np.float32(metric.result())


def iou_strict(y_true, y_pred, target=1, threshold=0.5):
    """Wrong: '>' instead of '>='."""
    truth, predicted = y_true == target, (y_pred > threshold) == bool(target)
    return float(np.sum(truth & predicted) / np.sum(truth | predicted))


def iou_target_ignored(y_true, y_pred, target=1, threshold=0.5):
    """Wrong: always the IoU of class 1."""
    return iou_solution(y_true, y_pred, 1, threshold)


def iou_fixed_threshold(y_true, y_pred, target=1, threshold=0.5):
    """Wrong: the threshold ignored."""
    return iou_solution(y_true, y_pred, target, 0.5)


def iou_sum_union(y_true, y_pred, target=1, threshold=0.5):
    """Wrong: |T| + |P| as the union."""
    truth, predicted = y_true == target, (y_pred >= threshold) == bool(target)
    return float(np.sum(truth & predicted) / (truth.sum() + predicted.sum()))


def iou_per_image(y_true, y_pred, target=1, threshold=0.5):
    """Wrong: the mean of per-image IoUs."""
    return float(np.mean([iou_solution(t, p, target, threshold) for t, p in zip(y_true, y_pred)]))


# ---------------------------------------------------------------------------
# C3: build_unet (uses the notebook's given conv2d_block)
# ---------------------------------------------------------------------------


def conv2d_block(x, n_filters, kernel_size=3, batchnorm=True, bn_momentum=0.99):
    """The notebook's given block."""
    for _ in range(2):
        x = L.Conv2D(n_filters, kernel_size, padding="same", kernel_initializer="he_normal")(x)
        if batchnorm:
            x = L.BatchNormalization(momentum=bn_momentum)(x)
        x = L.Activation("relu")(x)
    return x


def _unet(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99, join="concat", skip_from="block",
          block_options=True, up="transpose", out_act="sigmoid", order=(0, 1, 2, 3)):
    block = dict(kernel_size=3, batchnorm=batchnorm, bn_momentum=bn_momentum) if block_options else {}
    inputs = keras.Input(input_shape)
    x, saved = inputs, []
    for w in (1, 2, 4, 8):
        c = conv2d_block(x, n_filters * w, **block)
        x = L.MaxPooling2D((2, 2))(c)
        saved.append(c if skip_from == "block" else x)
    x = conv2d_block(x, n_filters * 16, **block)
    for level, w in zip((3, 2, 1, 0), (8, 4, 2, 1)):
        if up == "transpose":
            x = L.Conv2DTranspose(n_filters * w, (3, 3), strides=(2, 2), padding="same")(x)
        else:
            x = L.Conv2D(n_filters * w, 1)(L.UpSampling2D()(x))
        skip = saved[order[level]] if skip_from == "block" else saved[level - 1] if level else inputs
        if skips and join == "concat":
            x = L.Concatenate()([x, skip])
        elif skips and join == "add":
            x = L.Add()([x, skip])
        x = conv2d_block(x, n_filters * w, **block)
    outputs = L.Conv2D(1, (1, 1), activation=out_act)(x)
    return keras.Model(inputs, outputs)


def unet_loop(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Correct: the solution's structure, written with loops."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum)


def unet_skip_first(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Correct, differently written: skip listed first in each concatenation, Activation layer for the sigmoid."""
    block = dict(kernel_size=3, batchnorm=batchnorm, bn_momentum=bn_momentum)
    inputs = keras.Input(input_shape)
    c1 = conv2d_block(inputs, n_filters, **block)
    c2 = conv2d_block(L.MaxPooling2D()(c1), 2 * n_filters, **block)
    c3 = conv2d_block(L.MaxPooling2D()(c2), 4 * n_filters, **block)
    c4 = conv2d_block(L.MaxPooling2D()(c3), 8 * n_filters, **block)
    x = conv2d_block(L.MaxPooling2D()(c4), 16 * n_filters, **block)
    for skip, w in ((c4, 8), (c3, 4), (c2, 2), (c1, 1)):
        x = L.Conv2DTranspose(w * n_filters, 3, strides=2, padding="same")(x)
        x = keras.layers.concatenate([skip, x]) if skips else x
        x = conv2d_block(x, w * n_filters, **block)
    return keras.Model(inputs, L.Activation("sigmoid")(L.Conv2D(1, 1)(x)))


def unet_add(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: adds the skips instead of concatenating."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, join="add")


def unet_pooled_skip(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: concatenates the pooled tensor of the level above (same size, fewer channels)."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, skip_from="pooled")


def unet_wrong_level(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: skips taken in the encoder's order (c1 first), so sizes do not match."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, order=(3, 2, 1, 0))


def unet_skips_always(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: skips=False ignored."""
    return _unet(input_shape, n_filters, True, batchnorm, bn_momentum)


def unet_block_defaults(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: conv2d_block called with its defaults, so batchnorm and bn_momentum are ignored."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, block_options=False)


def unet_upsampling(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: UpSampling2D and a 1x1 convolution instead of the transposed convolution."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, up="upsample")


def unet_linear_output(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Wrong: the output left linear."""
    return _unet(input_shape, n_filters, skips, batchnorm, bn_momentum, out_act=None)


# ---------------------------------------------------------------------------
# Adversarial review: answers that fooled or wrongly failed the checks
# ---------------------------------------------------------------------------


def tconv_bias_per_stamp(x, w, b, stride):
    """Wrong: adds the bias inside every stamp (pixels where stamps overlap get it several times)."""
    n, h, wd, _ = x.shape
    f, _, c_out, _ = w.shape
    oh, ow = (h - 1) * stride + max(f, stride), (wd - 1) * stride + max(f, stride)
    out = np.zeros((n, oh, ow, c_out))
    for i in range(h):
        for j in range(wd):
            out[:, i * stride:i * stride + f, j * stride:j * stride + f, :] += (
                np.einsum("nc,aboc->nabo", x[:, i, j], w) + b)
    return out


def ae_extra_relu_after_bn(bn_momentum=0.99):
    """Wrong: ReLU on the transposed convolutions and another after each batch norm, relu(BN(relu(convT)))."""
    inp = keras.Input((28, 28, 1))
    d = L.Reshape((7, 7, 1))(_encoder(inp))
    for _ in range(2):
        d = L.Conv2DTranspose(64, 3, strides=2, activation="relu", padding="same")(d)
        d = L.ReLU()(L.BatchNormalization(momentum=bn_momentum)(d))
    d = L.Conv2DTranspose(32, 3, activation="relu", padding="same")(d)
    return keras.Model(inp, L.Conv2D(1, 3, activation="sigmoid", padding="same")(d))


def ae_ops_relu(bn_momentum=0.99):
    """Correct: the summary's network with its ReLUs written as keras.ops.relu on the tensors."""
    relu = keras.ops.relu
    inp = keras.Input((28, 28, 1))
    e = L.MaxPooling2D(2)(relu(L.Conv2D(32, 3)(inp)))
    e = L.MaxPooling2D(2)(relu(L.Conv2D(64, 3)(e)))
    e = relu(L.Conv2D(64, 3)(e))
    d = L.Reshape((7, 7, 1))(relu(L.Dense(49)(L.Flatten()(e))))
    for _ in range(2):
        d = L.BatchNormalization(momentum=bn_momentum)(relu(L.Conv2DTranspose(64, 3, strides=2, padding="same")(d)))
    d = relu(L.Conv2DTranspose(32, 3, padding="same")(d))
    return keras.Model(inp, L.Conv2D(1, 3, activation="sigmoid", padding="same")(d))


def noise_tf_global_seed(x, std, seed):
    """Wrong: sets TensorFlow's global seed (a global RNG side effect) and draws from TF's global generator."""
    tf.random.set_seed(seed)
    noisy = tf.clip_by_value(tf.constant(x) + tf.random.normal(x.shape, stddev=std, dtype=tf.float32), 0.0, 1.0)
    return noisy.numpy().astype(np.float32)


def unet_ops_concatenate(input_shape, n_filters, skips=True, batchnorm=True, bn_momentum=0.99):
    """Correct: the skips joined with keras.ops.concatenate(..., axis=-1) instead of a Concatenate layer."""
    block = dict(kernel_size=3, batchnorm=batchnorm, bn_momentum=bn_momentum)
    inputs = keras.Input(input_shape)
    x, saved = inputs, []
    for w in (1, 2, 4, 8):
        c = conv2d_block(x, n_filters * w, **block)
        x = L.MaxPooling2D((2, 2))(c)
        saved.append(c)
    x = conv2d_block(x, n_filters * 16, **block)
    for level, w in zip((3, 2, 1, 0), (8, 4, 2, 1)):
        x = L.Conv2DTranspose(n_filters * w, (3, 3), strides=(2, 2), padding="same")(x)
        if skips:
            x = keras.ops.concatenate([x, saved[level]], axis=-1)
        x = conv2d_block(x, n_filters * w, **block)
    return keras.Model(inputs, L.Conv2D(1, (1, 1), activation="sigmoid")(x))


CASES = [
    # A1
    correct(LAB, ex.check_transposed_output_size, "size: two branches", size_branches),
    correct(LAB, ex.check_transposed_output_size, "size: from the last stamp's reach", size_by_cover),
    wrong(LAB, ex.check_transposed_output_size, "size: the convolution's formula", size_conv_formula,
          expect="convolution's formula"),
    wrong(LAB, ex.check_transposed_output_size, "size: 'same' like 'valid'", size_same_like_valid, expect="crops"),
    wrong(LAB, ex.check_transposed_output_size, "size: no gap when F < S", size_no_gap, expect="gap"),
    wrong(LAB, ex.check_transposed_output_size, "size: 'same' minus F - 1", size_same_minus_pad),
    wrong(LAB, ex.check_transposed_output_size, "size: a float", size_float, expect="int"),
    wrong(LAB, ex.check_transposed_output_size, "size: still a stub", stub, expect="not implemented yet"),
    # A2
    correct(LAB, ex.check_conv_transpose_forward, "tconv: einsum stamps", tconv_loops),
    correct(LAB, ex.check_conv_transpose_forward, "tconv: strided slices, float32", tconv_offsets_float32),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: overwrite", tconv_overwrite, expect="overwrite"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: flipped kernel", tconv_flipped, expect="flipped"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: stride ignored", tconv_no_stride, expect="1 pixel apart"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: bias forgotten", tconv_no_bias, expect="bias"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: channel axes swapped", tconv_channels_swapped),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: cropped to 'same'", tconv_same_size, expect="'valid'"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: returns (out, cache)", tconv_out_cache, expect="tuple"),
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: still a stub", stub, expect="not implemented yet"),
    # B1
    correct(LAB, ex.check_build_autoencoder, "autoencoder: functional", ae_functional),
    correct(LAB, ex.check_build_autoencoder, "autoencoder: Sequential with Activation layers",
            ae_sequential_activation_layers),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: second listing (no 'same' at the end)", ae_second_version,
          expect="padding='same'"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: linear upsampling", ae_linear_upsampling, expect="linear"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: no sigmoid", ae_no_sigmoid, expect="sigmoid"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: momentum ignored", ae_momentum_ignored, expect="momentum"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: no batch norm", ae_no_batchnorm),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: 'same' encoder", ae_same_encoder, expect="'valid'"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: linear bottleneck", ae_linear_bottleneck, expect="Dense"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: BN before ReLU", ae_bn_before_relu,
          expect="before batch norm"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: returns a tensor", ae_returns_layers, expect="keras.Model"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: still a stub", stub, expect="not implemented yet"),
    # B2
    correct(LAB, ex.check_add_noise, "noise: default_rng normal", noise_rng),
    correct(LAB, ex.check_add_noise, "noise: float32 standard normal", noise_standard_normal),
    wrong(LAB, ex.check_add_noise, "noise: not clipped", noise_unclipped, expect="clip"),
    wrong(LAB, ex.check_add_noise, "noise: global seed", noise_global_seed, expect="global"),
    wrong(LAB, ex.check_add_noise, "noise: unseeded", noise_unseeded, expect="seed"),
    wrong(LAB, ex.check_add_noise, "noise: in place", noise_in_place, expect="in place"),
    wrong(LAB, ex.check_add_noise, "noise: std squared", noise_variance, expect="variance"),
    wrong(LAB, ex.check_add_noise, "noise: one noise image for the batch", noise_one_image, expect="same noise"),
    wrong(LAB, ex.check_add_noise, "noise: rescaled", noise_rescaled),
    wrong(LAB, ex.check_add_noise, "noise: float64", noise_float64, expect="float32"),
    wrong(LAB, ex.check_add_noise, "noise: still a stub", stub, expect="not implemented yet"),
    # B3
    correct(LAB, ex.check_pca_2d, "pca: SVD", pca_svd),
    correct(LAB, ex.check_pca_2d, "pca: covariance eigh in float32", pca_eigh_float32),
    wrong(LAB, ex.check_pca_2d, "pca: not centred", pca_not_centred, expect="centre"),
    wrong(LAB, ex.check_pca_2d, "pca: columns of vt", pca_columns_of_vt, expect="rows of vt"),
    wrong(LAB, ex.check_pca_2d, "pca: raw codes projected", pca_uncentred_projection, expect="not centred"),
    wrong(LAB, ex.check_pca_2d, "pca: singular values not squared", pca_singular_values, expect="square"),
    wrong(LAB, ex.check_pca_2d, "pca: smallest directions", pca_smallest, expect="smallest"),
    wrong(LAB, ex.check_pca_2d, "pca: points only", pca_points_only, expect="two values"),
    wrong(LAB, ex.check_pca_2d, "pca: still a stub", stub, expect="not implemented yet"),
    # C1
    correct(LAB, ex.check_augment_pair, "augment: stacked", aug_stacked),
    correct(LAB, ex.check_augment_pair, "augment: separate, same seeds, manual crop", aug_separate_same_seeds),
    wrong(LAB, ex.check_augment_pair, "augment: flip image only", aug_flip_image_only, expect="differently"),
    wrong(LAB, ex.check_augment_pair, "augment: mask with other seeds", aug_different_seeds, expect="differently"),
    wrong(LAB, ex.check_augment_pair, "augment: no rotation", aug_no_rotation, expect="rot90"),
    wrong(LAB, ex.check_augment_pair, "augment: stateful ops", aug_stateful, expect="seed"),
    wrong(LAB, ex.check_augment_pair, "augment: resize", aug_resize, expect="crop"),
    wrong(LAB, ex.check_augment_pair, "augment: fixed crop", aug_center_crop, expect="crop position"),
    wrong(LAB, ex.check_augment_pair, "augment: image twice", aug_image_twice, expect="mask"),
    wrong(LAB, ex.check_augment_pair, "augment: still a stub", stub, expect="not implemented yet"),
    # C2
    correct(LAB, ex.check_soft_dice_loss, "dice: per image", dice_per_image),
    correct(LAB, ex.check_soft_dice_loss, "dice: keras.ops, flattened", dice_keras_ops),
    wrong(LAB, ex.check_soft_dice_loss, "dice: batch", dice_batch, expect="per image"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: no 2", dice_no_two, expect="factor 2"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: not 1 - dice", dice_not_loss, expect="1 - Dice"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: eps ignored", dice_eps_fixed, expect="eps"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: NumPy", dice_numpy, expect="gradient"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: thresholded", dice_thresholded, expect="threshold"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: per-image vector", dice_per_image_vector, expect="mean"),
    wrong(LAB, ex.check_soft_dice_loss, "dice: squared denominator", dice_squares),
    wrong(LAB, ex.check_soft_dice_loss, "dice: still a stub", stub, expect="not implemented yet"),
    correct(LAB, ex.check_binary_iou, "iou: solution", iou_solution),
    correct(LAB, ex.check_binary_iou, "iou: keras BinaryIoU, float32", iou_keras),
    wrong(LAB, ex.check_binary_iou, "iou: strict threshold", iou_strict, expect=">="),
    wrong(LAB, ex.check_binary_iou, "iou: target ignored", iou_target_ignored, expect="target"),
    wrong(LAB, ex.check_binary_iou, "iou: threshold ignored", iou_fixed_threshold, expect="threshold"),
    wrong(LAB, ex.check_binary_iou, "iou: |T| + |P| union", iou_sum_union, expect="union"),
    wrong(LAB, ex.check_binary_iou, "iou: mean per image", iou_per_image, expect="per-image"),
    wrong(LAB, ex.check_binary_iou, "iou: still a stub", stub, expect="not implemented yet"),
    # C3
    correct(LAB, ex.check_build_unet, "unet: loops", unet_loop),
    correct(LAB, ex.check_build_unet, "unet: skip first, Activation sigmoid", unet_skip_first),
    wrong(LAB, ex.check_build_unet, "unet: add", unet_add, expect="Add"),
    wrong(LAB, ex.check_build_unet, "unet: pooled skip", unet_pooled_skip),
    wrong(LAB, ex.check_build_unet, "unet: skips in the wrong order", unet_wrong_level, expect="same size"),
    wrong(LAB, ex.check_build_unet, "unet: skips=False ignored", unet_skips_always, expect="skips=False"),
    wrong(LAB, ex.check_build_unet, "unet: block defaults", unet_block_defaults, expect="block"),
    wrong(LAB, ex.check_build_unet, "unet: upsampling", unet_upsampling, expect="Conv2DTranspose"),
    wrong(LAB, ex.check_build_unet, "unet: linear output", unet_linear_output, expect="sigmoid"),
    wrong(LAB, ex.check_build_unet, "unet: still a stub", stub, expect="not implemented yet"),
    # Adversarial review
    wrong(LAB, ex.check_conv_transpose_forward, "tconv: bias added per stamp", tconv_bias_per_stamp,
          expect="every stamp"),
    wrong(LAB, ex.check_build_autoencoder, "autoencoder: ReLU also after batch norm", ae_extra_relu_after_bn,
          expect="BatchNormalization"),
    correct(LAB, ex.check_build_autoencoder, "autoencoder: keras.ops.relu", ae_ops_relu),
    wrong(LAB, ex.check_add_noise, "noise: tf.random.set_seed", noise_tf_global_seed, expect="TensorFlow's global"),
    correct(LAB, ex.check_build_unet, "unet: keras.ops.concatenate", unet_ops_concatenate),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)


def test_hidden_options_run() -> None:
    """The options the hidden tests pass give the same verdicts to correct answers."""
    for check, student, options in (
        (ex.check_transposed_output_size, size_branches, {"seed": 5}),
        (ex.check_conv_transpose_forward, tconv_loops, {"cases": [((2, 4, 3, 2), 4, 3, 2), ((1, 5, 2, 3), 5, 2, 3)],
                                                       "seed": 11}),
        (ex.check_build_autoencoder, ae_functional, {"momentum": 0.5}),
        (ex.check_add_noise, noise_rng, {"std": 0.3, "seed": 12}),
        (ex.check_pca_2d, pca_svd, {"seed": 13}),
        (ex.check_augment_pair, aug_stacked, {"crop": 6, "height": 9, "width": 11}),
        (ex.check_soft_dice_loss, dice_per_image, {"seed": 14, "shape": (2, 7, 9, 1)}),
        (ex.check_binary_iou, iou_solution, {"seed": 15, "cases": [(0, 0.35), (1, 0.65)]}),
        (ex.check_build_unet, unet_loop, {"variants": [(2, True, True, 0.5), (3, False, False, 0.99)],
                                          "batch": (1, 32, 64, 1)}),
    ):
        passed, message = check.verdict(student, **options)
        assert passed, f"{check}: {message}"
