"""utils/interpret.py: neighbours, k-NN, occlusion, saliency, Grad-CAM, masks and t-SNE on models with known answers."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from utils import interpret

RNG = np.random.default_rng(0)


def linear_model(weights: np.ndarray, shape: tuple[int, int, int] = (6, 6, 1)) -> keras.Model:
    """logits = flatten(x) @ weights, no bias."""
    model = keras.Sequential([keras.Input(shape), keras.layers.Flatten(),
                              keras.layers.Dense(weights.shape[1], use_bias=False, name="logits")])
    model.get_layer("logits").set_weights([weights.astype(np.float32)])
    return model


def test_nearest_neighbours_match_brute_force() -> None:
    queries, gallery = RNG.normal(size=(7, 3, 4)), RNG.normal(size=(20, 3, 4))
    found = interpret.nearest_neighbours(queries, gallery, k=4)
    distances = ((queries.reshape(7, 1, -1) - gallery.reshape(1, 20, -1)) ** 2).sum(-1)
    assert np.array_equal(found, np.argsort(distances, axis=1)[:, :4])
    itself = interpret.nearest_neighbours(gallery, gallery, k=1)
    assert np.array_equal(itself[:, 0], np.arange(20))
    others = interpret.nearest_neighbours(gallery, gallery, k=2, exclude_self=True)
    assert not np.any(others == np.arange(20)[:, None])
    for bad in (dict(k=0), dict(k=21)):
        with pytest.raises(ValueError):
            interpret.nearest_neighbours(queries, gallery, **bad)
    with pytest.raises(ValueError, match="values each"):
        interpret.nearest_neighbours(queries, gallery[:, :2], k=1)


def test_neighbour_label_rate() -> None:
    neighbours = np.array([[0, 1], [2, 3]])
    assert interpret.neighbour_label_rate(neighbours, np.array([5, 7]), np.array([5, 6, 7, 7])) == 0.75


def test_knn_accuracy_on_separated_and_mixed_clusters() -> None:
    points = np.r_[RNG.normal(0, 0.1, (20, 2)), RNG.normal(5, 0.1, (20, 2))]
    labels = np.r_[np.zeros(20, int), np.ones(20, int)]
    assert interpret.knn_accuracy(points, labels, k=5) == 1.0
    assert interpret.knn_accuracy(points, 1 - labels, k=3) == 1.0
    shuffled = RNG.permutation(labels)
    assert interpret.knn_accuracy(RNG.normal(size=(40, 2)), shuffled, k=5) < 0.8


def test_knn_accuracy_breaks_ties_by_the_nearest_neighbour() -> None:
    points = np.array([[0.0], [1.0], [-2.0]])
    labels = np.array([1, 1, 0])
    # point 0's two nearest: 1.0 (label 1) then -2.0 (label 0), a tie that the nearer label 1 wins (right); the same for
    # point 1; point 2's neighbours both have label 1 (wrong). Breaking ties by the smaller label would score 0.
    assert interpret.knn_accuracy(points, labels, k=2) == pytest.approx(2 / 3)


def test_object_masks_and_top_on_object() -> None:
    images = np.zeros((2, 4, 4, 1))
    images[0, :2, :2] = 200
    images[1, 3, 3] = 30
    masks = interpret.object_masks(images, threshold=25)
    assert masks.shape == (2, 4, 4) and masks.sum(axis=(1, 2)).tolist() == [4, 1]
    assert interpret.top_on_object(masks.astype(float), masks, top=0.25).tolist() == [1.0, 0.25]
    assert interpret.top_on_object(1.0 - masks, masks, top=0.25).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        interpret.top_on_object(masks[:1], masks)
    with pytest.raises(ValueError):
        interpret.top_on_object(masks, masks, top=0.0)


def test_saliency_of_a_linear_model_is_its_weights() -> None:
    weights = RNG.normal(size=(36, 3))
    model = linear_model(weights)
    images = RNG.uniform(0, 1, (4, 6, 6, 1))
    labels = np.array([0, 2, 1, 2], dtype=np.uint8)
    maps = interpret.saliency_maps(model, images, labels)
    assert maps.shape == (4, 6, 6)
    for i, label in enumerate(labels):
        assert np.allclose(maps[i], np.abs(weights[:, label]).reshape(6, 6), atol=1e-6)


def test_occlusion_marks_the_pixels_the_class_depends_on() -> None:
    weights = np.zeros((36, 2))
    region = np.zeros((6, 6), bool)
    region[:2, :2] = True
    weights[region.ravel(), 0] = 2.0  # class 0 is scored by the top-left 2 x 2 pixels only
    model = linear_model(weights)
    images = np.ones((1, 6, 6, 1), np.float32)
    occlusion = interpret.occlusion_maps(model, images, np.array([0]), patch=2, stride=2, fill=0.0)
    assert occlusion.shape == (1, 6, 6)
    assert occlusion[0][region].min() > 0.45 and np.allclose(occlusion[0][~region], 0.0)  # p falls from 0.9997 to 0.5
    odd = interpret.occlusion_maps(model, images, np.array([0]), patch=4, stride=3, fill=0.0)
    assert np.all(odd[0][region] > 0)  # the last window is moved back to cover the last rows and columns
    with pytest.raises(ValueError):
        interpret.occlusion_maps(model, images, np.array([0]), patch=7)


def test_grad_cam_of_an_identity_convolution_is_the_weighted_image() -> None:
    inputs = keras.Input((5, 5, 1))
    maps = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="conv")(inputs)
    logits = keras.layers.Dense(2, use_bias=False, name="logits")(keras.layers.Flatten()(maps))
    model = keras.Model(inputs, logits)
    weights = np.stack([np.full(25, 0.5), np.full(25, -1.0)], axis=1).astype(np.float32)
    model.get_layer("logits").set_weights([weights])
    images = RNG.uniform(0, 1, (2, 5, 5, 1)).astype(np.float32)
    cam = interpret.grad_cam(model, images, np.array([0, 1]), layer="conv")
    assert cam.shape == (2, 5, 5)
    assert np.allclose(cam[0], 0.5 * images[0, ..., 0], atol=1e-5)  # alpha = mean gradient = 0.5
    assert np.allclose(cam[1], 0.0)  # negative evidence is cut by the ReLU


def test_layer_outputs_and_batched_prediction() -> None:
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, name="conv"), keras.layers.Flatten(),
                              keras.layers.Dense(3, name="fc")])
    x = RNG.normal(size=(7, 4, 4, 1)).astype(np.float32)
    both = interpret.layer_outputs(model, ["conv", "fc"])
    conv, fc = interpret.predict_in_batches(both, x, batch_size=3)
    assert conv.shape == (7, 2, 2, 2) and fc.shape == (7, 3)
    assert np.allclose(fc, np.asarray(model(x)), atol=1e-5)
    assert interpret.predict_in_batches(model, x, batch_size=2).shape == (7, 3)


def test_tsne_keeps_clusters_apart() -> None:
    points = np.r_[RNG.normal(0, 0.1, (15, 10)), RNG.normal(3, 0.1, (15, 10))]
    labels = np.r_[np.zeros(15, int), np.ones(15, int)]
    embedding = interpret.tsne(points, seed=0)
    assert embedding.shape == (30, 2)
    assert interpret.knn_accuracy(embedding, labels, k=3) == 1.0
    assert np.allclose(embedding, interpret.tsne(points, seed=0))
