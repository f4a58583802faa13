"""Small questions asked of Keras models in several labs: which layers, how many trainable weights, how accurate."""

from __future__ import annotations

from typing import Any

import numpy as np


def layers_of(model: Any, kind: type | tuple[type, ...] | None = None) -> list[Any]:
    """Return a model's layers in order, nested models' layers included, without InputLayers; only ``kind`` if given."""
    import keras

    found: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += layers_of(layer, kind)
        elif not isinstance(layer, keras.layers.InputLayer) and (kind is None or isinstance(layer, kind)):
            found.append(layer)
    return found


def trainable_count(model: Any) -> int:
    """Return the number of trainable scalars in a model (or layer)."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def predict_scores(model: Any, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Return a model's outputs for ``x`` in inference mode, batch by batch, as one NumPy array."""
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def accuracy(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Return the classification accuracy of a model that outputs class scores, in inference mode."""
    return float(np.mean(predict_scores(model, x, batch_size).argmax(axis=1) == np.asarray(y)))
