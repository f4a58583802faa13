"""Lab 5's machinery (utils/transfer.py): tasks, training helpers, the rate pick and the Part D comparison."""

from __future__ import annotations

from types import SimpleNamespace

import keras
import numpy as np
import pytest

from utils import transfer, zoo


def test_make_task_renumbers_classes_and_cuts_the_test_set() -> None:
    rng = np.random.default_rng(0)
    train = (rng.integers(0, 255, (30, 4, 5)).astype("uint8"), np.arange(30) % 6)
    test = (rng.integers(0, 255, (20, 4, 5)).astype("uint8"), np.arange(20) % 6)
    task = transfer.make_task(train, test, (5, 2), test_size=3)
    assert task["num_classes"] == 2
    assert task["x"].shape == (10, 4, 5, 1) and task["x"].dtype == np.float32
    assert set(task["y"].tolist()) == {0, 1}
    assert np.array_equal(task["y"], np.where(train[1][np.isin(train[1], (2, 5))] == 5, 0, 1))
    assert task["x_test"].shape == (3, 4, 5, 1) and len(task["y_test"]) == 3


def test_balanced_subset_is_balanced_sorted_and_seeded() -> None:
    labels = np.repeat(np.arange(4), 10)
    index = transfer.balanced_subset(labels, 3, seed=1)
    assert np.array_equal(np.bincount(labels[index]), [3, 3, 3, 3])
    assert np.array_equal(index, np.sort(index))
    assert np.array_equal(index, transfer.balanced_subset(labels, 3, seed=1))
    assert not np.array_equal(index, transfer.balanced_subset(labels, 3, seed=2))


def test_smooth_and_pick_learning_rate() -> None:
    assert np.allclose(transfer.smooth([2.0] * 5), 2.0)  # bias correction: a constant stays constant
    rates = np.geomspace(1e-5, 1.0, 30)
    losses = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 10), np.geomspace(0.5, 50.0, 10)])
    chosen = transfer.pick_learning_rate(rates, losses)
    smoothed = transfer.smooth(losses)
    lowest = int(np.argmin(smoothed))
    first_rise = lowest + int(np.flatnonzero(smoothed[lowest:] > 1.1 * smoothed[lowest])[0])
    assert chosen == pytest.approx(rates[first_rise] / 10)
    assert transfer.pick_learning_rate(rates, np.linspace(3.0, 1.0, 30)) == pytest.approx(rates[-1] / 10)


def _tiny_classifier() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    return transfer.compile_classifier(model, 0.01)


def test_restart_resets_weights_and_optimizer_state_but_not_the_rate() -> None:
    keras.utils.set_random_seed(0)
    model = _tiny_classifier()
    start = model.get_weights()
    x, y = np.random.default_rng(0).normal(size=(8, 3)).astype("float32"), np.arange(8) % 2
    transfer.train(model, x, y, steps=2, batch_size=4)
    transfer.restart(model, start)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), start))
    for variable in model.optimizer.variables:
        if variable.path.endswith("learning_rate"):
            assert float(variable) == pytest.approx(0.01)
        else:
            assert not np.any(np.asarray(variable))


def test_fresh_copy_has_equal_but_separate_weights() -> None:
    model = _tiny_classifier()
    copy = transfer.fresh_copy(model)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), copy.get_weights()))
    copy.weights[0].assign(np.zeros(copy.weights[0].shape))
    assert np.any(np.asarray(model.weights[0]))


def test_head_models_has_three_heads_on_two_inputs() -> None:
    heads = transfer.head_models(5, 4, 3, hidden_units=6, learning_rate=0.01)
    scores = heads([np.ones((2, 5), "float32"), np.ones((2, 4), "float32")], training=False)
    assert sorted(scores) == ["probe", "scenario_1", "scenario_2"]
    assert all(np.asarray(s).shape == (2, 3) for s in scores.values())
    assert heads.get_layer("s2_fc").units == 6


def _student_methods() -> transfer.Methods:
    """Plain answers to the lab's exercises, for running the comparison (tests only)."""

    def extractor(model):
        net = keras.Model(model.get_layer("conv_base").input, model.get_layer("conv_base").output)
        net.trainable = False
        return net

    def knn(train, labels, test, k):
        d = ((test[:, None] - train[None]) ** 2).sum(-1)
        near = labels[np.argsort(d, axis=1, kind="stable")[:, :k]]
        return np.array([np.bincount(row).argmax() for row in near])

    def head(model, num_classes, scenario, hidden_units=64):
        model.trainable = False
        image = keras.Input(model.input_shape[1:])
        x = model.get_layer("conv_base")(image)
        x = keras.layers.Dense(hidden_units, activation="relu")(x)
        return keras.Model(image, keras.layers.Dense(num_classes)(x))

    def unfreeze(model, rate):
        for layer in [model, *transfer_layers(model)]:
            layer.trainable = not isinstance(layer, keras.layers.BatchNormalization)
        return transfer.compile_classifier(model, rate)

    def transfer_layers(model):
        found = []
        for layer in model.layers:
            found.append(layer)
            if isinstance(layer, keras.Model):
                found += transfer_layers(layer)
        return found

    return transfer.Methods(extractor, knn, head, unfreeze)


def test_compare_runs_every_method_and_repeats_with_the_same_seeds(capsys) -> None:
    config = zoo.EncoderConfig(source_classes=(0, 1, 2), filters=(2,), fc_units=3)
    keras.utils.set_random_seed(0)
    pretrained = zoo.build_encoder(config)
    rng = np.random.default_rng(0)
    task = {"x": rng.uniform(0, 255, (12, 28, 28, 1)).astype("float32"), "y": np.arange(12) % 2,
            "x_test": rng.uniform(0, 255, (6, 28, 28, 1)).astype("float32"), "y_test": np.arange(6) % 2,
            "num_classes": 2}
    cfg = SimpleNamespace(scenario2_units=4, head_learning_rate=0.01, scratch_learning_rate=0.01,
                          per_class_sizes=(1, 2), draws=(2, 1), knn_k=3, batch_size=4, head_steps=2,
                          fine_tune_steps=1, scratch_steps=2)
    runs = [transfer.compare({"toy": task}, cfg, pretrained, config, 1e-3, _student_methods()) for _ in range(2)]
    assert list(runs[0]) == [("toy", 1), ("toy", 2)]
    methods = ["k-NN", "linear probe", "scenario 1", "scenario 2", "fine-tuned", "scratch"]
    assert all(list(row) == methods for row in runs[0].values())
    assert all(0.0 <= a <= 1.0 for row in runs[0].values() for a in row.values())
    assert runs[0] == runs[1]  # every draw is seeded: a re-run repeats
    table = transfer.results_table(runs[0]).splitlines()
    assert table[0] == "| task | labelled per class | " + " | ".join(methods) + " |"
    assert len(table) == 4 and table[2].startswith("| toy | 1 | ")
    assert "toy,    1 per class, mean of 2 draw(s)" in capsys.readouterr().out
