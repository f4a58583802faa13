"""What a CNN has learned (the companion notebook of the same name): features, neighbours and attribution maps.

* :func:`layer_outputs`: a model returning named layers' outputs (feature maps, features for neighbours);
* :func:`nearest_neighbours`, :func:`neighbour_label_rate`, :func:`knn_accuracy`: L2 neighbours and how often they
  share a label (DeCAF, Donahue et al. 2014; Razavian et al. 2014);
* attribution maps, one value per pixel, larger = more important for the true class: :func:`occlusion_maps` (Zeiler &
  Fergus 2014), :func:`saliency_maps` (Simonyan, Vedaldi & Zisserman 2014), :func:`grad_cam` (Selvaraju et al. 2017);
* :func:`object_masks` and :func:`top_on_object`: whether a map's largest values lie on the object's pixels;
* :func:`tsne`: a 2-D t-SNE embedding (scikit-learn).

Images are float32 (N, H, W, C) in the scale the model expects; models output logits.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np


def layer_outputs(model: keras.Model, names: Sequence[str]) -> keras.Model:
    """Return a model with ``model``'s input and the outputs of the named layers, in that order."""
    return keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])


def predict_in_batches(model: keras.Model, x: np.ndarray, batch_size: int = 500) -> Any:
    """Run ``model`` in inference mode over ``x`` in batches; return an array (or a list, one per output)."""
    outputs = [model(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
    if isinstance(outputs[0], (list, tuple)):
        return [np.concatenate([np.asarray(o[j]) for o in outputs]) for j in range(len(outputs[0]))]
    return np.concatenate([np.asarray(o) for o in outputs])


# ---------------------------------------------------------------------------
# Neighbours
# ---------------------------------------------------------------------------


def nearest_neighbours(queries: np.ndarray, gallery: np.ndarray, k: int, exclude_self: bool = False) -> np.ndarray:
    """Return the indices (N, k) of each query's k nearest gallery rows in L2 distance, nearest first.

    ``exclude_self``: the queries are the gallery itself, and a row is not its own neighbour.
    """
    q = np.asarray(queries, dtype=np.float64).reshape(len(queries), -1)
    g = np.asarray(gallery, dtype=np.float64).reshape(len(gallery), -1)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} values each, the gallery {g.shape[1]}")
    if not 1 <= k <= len(g) - int(exclude_self):
        raise ValueError(f"k must be between 1 and the gallery size, got k={k} for {len(g)} rows")
    distances = (q * q).sum(1)[:, None] - 2 * q @ g.T + (g * g).sum(1)[None, :]
    if exclude_self:
        if len(q) != len(g):
            raise ValueError("exclude_self needs the queries to be the gallery")
        np.fill_diagonal(distances, np.inf)
    nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(distances, nearest, axis=1).argsort(axis=1, kind="stable")
    return np.take_along_axis(nearest, order, axis=1)


def neighbour_label_rate(neighbours: np.ndarray, query_labels: np.ndarray, gallery_labels: np.ndarray) -> float:
    """Return the fraction of all neighbours (N, k) whose gallery label equals their query's label."""
    return float(np.mean(np.asarray(gallery_labels)[neighbours] == np.asarray(query_labels)[:, None]))


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Return the leave-one-out accuracy of a k-nearest-neighbour majority vote (ties: the nearest wins)."""
    labels = np.asarray(labels)
    neighbours = nearest_neighbours(points, points, k, exclude_self=True)
    votes = labels[neighbours]
    classes = np.unique(labels)
    counts = (votes[:, :, None] == classes[None, None, :]).sum(axis=1)
    # break ties by the rank of each class's nearest neighbour: the class met first wins
    first = np.where(votes[:, :, None] == classes[None, None, :], np.arange(k)[None, :, None], k).min(axis=1)
    predicted = classes[np.argmax(counts * (k + 1) - first, axis=1)]  # more votes first, then the nearer class
    return float(np.mean(predicted == labels))


# ---------------------------------------------------------------------------
# Attribution maps
# ---------------------------------------------------------------------------


def _true_class_probability(model: keras.Model, x: np.ndarray, labels: np.ndarray,
                            batch_size: int = 1000) -> np.ndarray:
    """Return the softmax probability of each image's own label."""
    logits = predict_in_batches(model, x, batch_size)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[np.arange(len(x)), np.asarray(labels, dtype=np.int64)]


def occlusion_maps(model: keras.Model, images: np.ndarray, labels: np.ndarray, patch: int = 6, stride: int = 2,
                   fill: float = 127.5) -> np.ndarray:
    """Zeiler & Fergus's occlusion: slide a ``fill``-valued square over each image; map the drop in the true class.

    Each pixel gets the mean drop in the true class's probability over the patches that cover it (N, H, W).
    """
    x = np.asarray(images, dtype=np.float32)
    n, h, w = x.shape[:3]
    if not (1 <= patch <= min(h, w) and stride >= 1):
        raise ValueError(f"need 1 <= patch <= {min(h, w)} and stride >= 1, got patch={patch}, stride={stride}")
    tops = list(range(0, h - patch + 1, stride))
    lefts = list(range(0, w - patch + 1, stride))
    if tops[-1] != h - patch:
        tops.append(h - patch)  # cover the last rows too
    if lefts[-1] != w - patch:
        lefts.append(w - patch)
    base = _true_class_probability(model, x, labels)
    maps = np.zeros((n, h, w))
    for i in range(n):
        occluded = np.repeat(x[i:i + 1], len(tops) * len(lefts), axis=0)
        boxes = [(t, l) for t in tops for l in lefts]
        for j, (t, l) in enumerate(boxes):
            occluded[j, t:t + patch, l:l + patch] = fill
        drops = base[i] - _true_class_probability(model, occluded, np.full(len(boxes), labels[i]))
        total, cover = np.zeros((h, w)), np.zeros((h, w))
        for (t, l), drop in zip(boxes, drops):
            total[t:t + patch, l:l + patch] += drop
            cover[t:t + patch, l:l + patch] += 1
        maps[i] = total / cover
    return maps


def saliency_maps(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Simonyan et al.'s saliency: |d(true-class logit)/d(pixel)|, the largest over channels (N, H, W)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = model(x, training=False)
        score = tf.gather(logits, np.asarray(labels, dtype=np.int64), axis=1, batch_dims=1)
    gradient = tape.gradient(score, x)
    return np.abs(np.asarray(gradient)).max(axis=-1)


def grad_cam(model: keras.Model, images: np.ndarray, labels: np.ndarray, layer: str) -> np.ndarray:
    """Selvaraju et al.'s Grad-CAM on conv layer ``layer``: ReLU(sum_k alpha_k A^k), resized to the image (N, H, W).

    alpha_k is the mean over positions of d(true-class logit)/dA^k, A^k the k-th feature map of ``layer``.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    both = keras.Model(model.inputs[0], [model.get_layer(layer).output, model.outputs[0]])
    with tf.GradientTape() as tape:
        maps, logits = both(x, training=False)
        score = tf.gather(logits, np.asarray(labels, dtype=np.int64), axis=1, batch_dims=1)
    gradient = tape.gradient(score, maps)
    alpha = tf.reduce_mean(gradient, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(alpha * maps, axis=-1, keepdims=True))
    return np.asarray(tf.image.resize(cam, x.shape[1:3], method="bilinear"))[..., 0]


def object_masks(images: np.ndarray, threshold: float) -> np.ndarray:
    """Return (N, H, W) booleans: the object's pixels, where the image (largest over channels) exceeds threshold."""
    x = np.asarray(images)
    return (x.max(axis=-1) if x.ndim == 4 else x) > threshold


def top_on_object(maps: np.ndarray, masks: np.ndarray, top: float = 0.1) -> np.ndarray:
    """Return, per image, the fraction of its ``top`` largest map values (a fraction of its pixels) on the object."""
    maps, masks = np.asarray(maps, dtype=np.float64), np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape:
        raise ValueError(f"maps {maps.shape} and masks {masks.shape} must have the same shape")
    if not 0 < top <= 1:
        raise ValueError(f"top must be a fraction in (0, 1], got {top}")
    flat, on = maps.reshape(len(maps), -1), masks.reshape(len(masks), -1)
    count = max(1, round(top * flat.shape[1]))
    largest = np.argsort(-flat, axis=1, kind="stable")[:, :count]
    return np.take_along_axis(on, largest, axis=1).mean(axis=1)


# ---------------------------------------------------------------------------
# Embedding
# ---------------------------------------------------------------------------


def tsne(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """Return a 2-D t-SNE embedding (N, 2) of the rows of ``features`` (PCA initialisation, scikit-learn, one thread).

    One thread: on a busy two-core machine scikit-learn's OpenMP threads wait on each other, and the same embedding
    took 50 s instead of 4 s.
    """
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    with threadpool_limits(limits=1):
        return TSNE(n_components=2, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca", learning_rate="auto",
                    random_state=seed).fit_transform(x)
