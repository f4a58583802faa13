"""Training with a learning rate set before every step from a schedule of the fractional epoch (Lab 3, Part C).

:class:`ScheduleCallback` turns any ``schedule(t) -> learning rate`` (``t`` the epoch as a float: 2.5 is half-way
through the third epoch) into per-step updates of the optimiser's learning rate. :func:`fit_with_schedule` compiles
a classifier that outputs logits, fits it with such a schedule and returns the Keras ``History``.
:func:`relu_output_stds` measures the spread of every ReLU output of a model, as in Part A's activation statistics.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import keras
import numpy as np


class ScheduleCallback(keras.callbacks.Callback):
    """Set the optimiser's learning rate before every step from a schedule of the fractional epoch."""

    def __init__(self, schedule: Callable[[float], float], steps_per_epoch: int) -> None:
        super().__init__()
        self.schedule, self.steps_per_epoch, self.epoch = schedule, steps_per_epoch, 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Remember the epoch number, for the fractional epoch of each step."""
        self.epoch = epoch

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        """Assign schedule(epoch + batch / steps_per_epoch) to the optimiser's learning rate."""
        self.model.optimizer.learning_rate.assign(self.schedule(self.epoch + batch / self.steps_per_epoch))


def fit_with_schedule(model: Any, optimizer: Any, schedule: Callable[[float], float],
                      train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
                      epochs: int, batch_size: int, augment: Any = None, verbose: int = 2) -> Any:
    """Fit a logits classifier with sparse cross-entropy and a per-step schedule; return the Keras History.

    ``augment`` (a Keras layer or model active only in training) is put in front of ``model`` when given.
    """
    from utils import training

    x_train, y_train = train
    steps = math.ceil(len(x_train) / batch_size)
    net = model if augment is None else keras.Sequential([keras.Input(x_train.shape[1:]), augment, model])
    net.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    # Create the optimiser's and the metric's variables now: variables created while TensorFlow traces the training
    # step make it trace everything a second time, which doubles the start-up time of every fit.
    optimizer.build(net.trainable_variables)
    net.compute_metrics(x_train[:2], y_train[:2], net(x_train[:2]), sample_weight=None)
    net.reset_metrics()
    start = time.perf_counter()
    history = net.fit(training.make_dataset(x_train, y_train, batch_size=batch_size, shuffle=True, seed=0),
                      validation_data=training.make_dataset(*validation, batch_size=1000), epochs=epochs,
                      verbose=verbose, callbacks=[ScheduleCallback(schedule, steps)])
    if verbose:
        print(f"{model.name}: {time.perf_counter() - start:.1f} s")
    return history


def _relu_layers(model: Any) -> list[Any]:
    """Return the layers whose output is a ReLU's: ReLU and Activation('relu') layers, and Dense(activation='relu')."""
    found = []
    for layer in model.layers:
        kind = type(layer).__name__
        activation = getattr(layer, "activation", None)
        name = getattr(activation, "__name__", activation)
        if kind == "ReLU" or (kind in ("Activation", "Dense") and name == "relu"):
            found.append(layer)
    return found


def relu_output_stds(model: Any, images: np.ndarray, training: bool = False) -> np.ndarray:
    """Return the standard deviation of every ReLU output of a model (in layer order) for a batch of images."""
    layers = _relu_layers(model)
    if not layers:
        return np.zeros(0)
    probe = keras.Model(model.inputs[0], [layer.output for layer in layers])
    outputs = probe(images, training=training)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return np.array([float(np.std(np.asarray(h))) for h in outputs])
