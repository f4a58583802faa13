"""utils.scheduled_training: per-step learning rates from a schedule, a scheduled fit, ReLU output spreads."""

from __future__ import annotations

import keras
import numpy as np

from utils import scheduled_training as st


def tiny_model(relu_as: str = "layer") -> keras.Model:
    """A 4x4-image classifier with two ReLUs written two ways."""
    keras.utils.set_random_seed(0)
    hidden = ([keras.layers.Dense(8), keras.layers.ReLU()] if relu_as == "layer"
              else [keras.layers.Dense(8, activation="relu")])
    return keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(), *hidden, keras.layers.Dense(6),
                             keras.layers.Activation("relu"), keras.layers.Dense(3)], name="tiny")


def tiny_data(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4, 4)).astype(np.float32), rng.integers(0, 3, size=n)


def test_schedule_callback_sets_the_rate_from_the_fractional_epoch() -> None:
    seen: list[float] = []
    x, y = tiny_data()
    schedule = lambda t: 0.1 / (1.0 + t)  # noqa: E731

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(self.model.optimizer.learning_rate.numpy()))

    model = tiny_model()
    model.compile(optimizer=keras.optimizers.SGD(1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # 40 examples in batches of 10: 4 steps per epoch, at t = 0, 0.25, 0.5, 0.75, then 1, 1.25, ...
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, shuffle=False,
              callbacks=[st.ScheduleCallback(schedule, steps_per_epoch=4), Record()])
    expected = [schedule(e + b / 4) for e in range(2) for b in range(4)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)


def test_fit_with_schedule_returns_a_history_with_validation_metrics(capsys) -> None:
    x, y = tiny_data()
    history = st.fit_with_schedule(tiny_model(), keras.optimizers.SGD(momentum=0.9), lambda t: 0.05, (x, y),
                                   (x[:10], y[:10]), epochs=2, batch_size=16, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 2


def test_fit_with_schedule_puts_augmentation_in_front() -> None:
    x, y = tiny_data()
    model = tiny_model()
    augment = keras.Sequential([keras.layers.GaussianNoise(0.1)], name="augment")
    history = st.fit_with_schedule(model, keras.optimizers.SGD(), lambda t: 0.01, (x, y), (x[:10], y[:10]),
                                   epochs=1, batch_size=20, augment=augment, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_relu_output_stds_reads_relu_layers_and_activation_arguments_alike() -> None:
    x, _ = tiny_data(16)
    as_layers, as_arguments = tiny_model("layer"), tiny_model("argument")
    assert len(st.relu_output_stds(as_layers, x)) == 2
    np.testing.assert_allclose(st.relu_output_stds(as_layers, x), st.relu_output_stds(as_arguments, x), rtol=1e-6)
    no_relu = keras.Sequential([keras.Input((4, 4)), keras.layers.Flatten(), keras.layers.Dense(3)])
    assert st.relu_output_stds(no_relu, x).shape == (0,)
