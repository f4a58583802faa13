"""utils.models: the model helpers shared by several labs."""

from __future__ import annotations

import keras
import numpy as np

from utils import models


def _nested() -> keras.Model:
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.BatchNormalization()])
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(inner(inputs)))


def test_layers_of_walks_nested_models_and_skips_inputs() -> None:
    model = _nested()
    assert [type(l).__name__ for l in models.layers_of(model)] == ["Dense", "BatchNormalization", "Dense"]
    assert len(models.layers_of(model, keras.layers.Dense)) == 2


def test_trainable_count_and_accuracy() -> None:
    model = _nested()
    assert models.trainable_count(model) == 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    scores = models.predict_scores(model, x, batch_size=3)
    assert scores.shape == (10, 2)
    assert models.accuracy(model, x, scores.argmax(axis=1), batch_size=4) == 1.0
