"""Notebook sessions: seeding makes training repeat exactly; logs stay quiet."""

from __future__ import annotations

import numpy as np

from utils.session import seed_everything, start_lab


def _train_once() -> list[np.ndarray]:
    import keras

    seed_everything(123)
    x = np.random.normal(size=(64, 8)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.3), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model.get_weights()


def test_seed_everything_repeats_a_training_run() -> None:
    first, second = _train_once(), _train_once()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_start_lab_prints_the_profile(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    config = start_lab("backprop", seed=1)
    out = capsys.readouterr().out
    assert out.startswith("Profile: smoke (from COURSE_PROFILE)")
    assert "Lab 'backprop' in profile 'smoke'" in out and "Seed: 1" in out
    assert config.profile == "smoke"
