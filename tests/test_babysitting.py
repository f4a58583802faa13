"""utils/babysitting.py: the sanity checks, the curve classifier, TensorBoard logging and reading, search helpers."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import keras
import keras_tuner
import numpy as np
import pytest

from utils import babysitting as bs

RNG = np.random.default_rng(0)


def test_build_dir_is_under_build_and_emptied(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(bs, "ROOT", tmp_path)
    first = bs.build_dir("babysitting", "logs")
    assert first == tmp_path / "build" / "babysitting" / "logs" and first.is_dir()
    (first / "old.txt").write_text("x")
    assert not (bs.build_dir("babysitting", "logs") / "old.txt").exists()
    (first / "kept.txt").write_text("x")
    assert (bs.build_dir("babysitting", "logs", fresh=False) / "kept.txt").exists()
    with pytest.raises(ValueError, match="name a folder"):
        bs.build_dir()


def test_the_repository_ignores_build() -> None:
    ignored = (bs.ROOT / ".gitignore").read_text().split()
    assert "build/" in ignored


def test_small_cnn_layers_and_options() -> None:
    plain = bs.small_cnn()
    names = [layer.name for layer in plain.layers]
    assert names == ["rescale", "conv1", "pool1", "conv2", "pool2", "flatten", "fc", "logits"]
    assert plain.output_shape == (None, 10)
    assert plain.get_layer("conv1").kernel.shape == (5, 5, 1, 8)
    assert plain.get_layer("conv2").kernel.shape == (3, 3, 8, 16)
    regularised = bs.small_cnn(filters=(4,), units=8, dropout=0.25, l2=0.1, num_classes=3, input_shape=(8, 8, 1))
    assert [layer.name for layer in regularised.layers if "dropout" in layer.name] == ["dropout1", "dropout2"]
    assert regularised.output_shape == (None, 3)
    assert regularised.get_layer("fc").kernel_regularizer is not None
    assert len(regularised.losses) == 3  # conv1, fc and logits kernels


def test_compile_classifier_optimizers() -> None:
    sgd = bs.compile_classifier(bs.small_cnn(filters=(2,), units=4), 0.05)
    assert isinstance(sgd.optimizer, keras.optimizers.SGD) and sgd.optimizer.momentum == 0.9
    adam = bs.compile_classifier(bs.small_cnn(filters=(2,), units=4), 0.001, optimizer="adam")
    assert isinstance(adam.optimizer, keras.optimizers.Adam)
    assert math.isclose(float(adam.optimizer.learning_rate), 0.001, rel_tol=1e-6)
    with pytest.raises(ValueError, match="'sgd' or 'adam'"):
        bs.compile_classifier(bs.small_cnn(filters=(2,), units=4), 0.1, optimizer="rmsprop")


def test_expected_initial_loss_is_ln_k_and_matches_uniform_scores() -> None:
    assert bs.expected_initial_loss(10) == pytest.approx(2.302585, abs=1e-6)
    uniform = keras.losses.sparse_categorical_crossentropy(np.arange(4), np.zeros((4, 4)), from_logits=True)
    assert np.allclose(np.asarray(uniform), bs.expected_initial_loss(4))
    with pytest.raises(ValueError):
        bs.expected_initial_loss(1)


def test_images_and_dataset() -> None:
    x = RNG.integers(0, 255, (10, 6, 6)).astype(np.uint8)
    assert bs.images(x).shape == (10, 6, 6, 1) and bs.images(x).dtype == np.float32
    assert bs.images(bs.images(x)).shape == (10, 6, 6, 1)
    batches = list(bs.dataset(x, np.arange(10), batch_size=4))
    assert [tuple(b[0].shape) for b in batches] == [(4, 6, 6, 1), (4, 6, 6, 1), (2, 6, 6, 1)]
    assert np.array_equal(np.concatenate([b[1] for b in batches]), np.arange(10))
    shuffled = [np.concatenate([b[1] for b in bs.dataset(x, np.arange(10), 4, shuffle=True, seed=1)]) for _ in (0, 1)]
    assert sorted(shuffled[0]) == list(range(10)) and not np.array_equal(shuffled[0], np.arange(10))


def test_train_steps_records_each_steps_own_loss() -> None:
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(32, 8, 8, 1)).astype(np.float32) * 50
    y = np.arange(32) % 3
    model = bs.compile_classifier(bs.small_cnn(filters=(4,), units=8, input_shape=(8, 8, 1), num_classes=3), 0.01)
    losses = bs.train_steps(model, x, y, steps=5, batch_size=8)
    assert losses.shape == (5,) and np.all(np.isfinite(losses))
    assert int(model.optimizer.iterations) == 5
    with pytest.raises(ValueError):
        bs.train_steps(model, x, y, steps=0, batch_size=8)


def test_train_steps_keeps_nan_losses() -> None:
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(16, 8, 8, 1)).astype(np.float32) * 1e3
    model = bs.compile_classifier(bs.small_cnn(filters=(4,), units=8, input_shape=(8, 8, 1), num_classes=3), 1e30)
    losses = bs.train_steps(model, x, np.arange(16) % 3, steps=6, batch_size=8)
    assert not np.all(np.isfinite(losses)), losses
    assert bs.classify_curve(losses, start=1.1).label == bs.TOO_HIGH


@pytest.mark.parametrize(
    "curve, label, reason",
    [
        (np.linspace(2.30, 2.25, 100), bs.TOO_LOW, "fell only"),
        (np.linspace(2.30, 0.50, 100), bs.ABOUT_RIGHT, "fell 75%"),  # the last tenth averages 0.58
        (np.r_[np.linspace(2.3, 1.0, 50), [np.nan], np.ones(49)], bs.TOO_HIGH, "nan at step 51"),
        (np.r_[2.3, 9.0, np.linspace(2.0, 0.5, 98)], bs.TOO_HIGH, "exploded to 9"),
        (np.r_[np.full(90, 2.3), np.full(10, 2.45)], bs.TOO_HIGH, "ended at 2.45"),
        (np.full(100, 2.32), bs.TOO_LOW, "fell only"),  # less than end_margin above the start
    ],
)
def test_classify_curve(curve: np.ndarray, label: str, reason: str) -> None:
    verdict = bs.classify_curve(curve, start=2.3)
    assert verdict.label == label
    assert reason in verdict.reason.lower() or reason in str(verdict)


def test_classify_curve_uses_the_mean_of_the_tail_and_its_thresholds() -> None:
    curve = np.r_[np.full(90, 2.0), np.full(10, 1.5)]  # the last tenth ends 35% below 2.3
    verdict = bs.classify_curve(curve, start=2.3)
    assert verdict.label == bs.ABOUT_RIGHT and verdict.end == pytest.approx(1.5)
    assert verdict.drop == pytest.approx(0.8 / 2.3)
    assert bs.classify_curve(curve, start=2.3, min_drop=0.4).label == bs.TOO_LOW
    assert bs.classify_curve(curve, start=2.3, tail=0.5).end == pytest.approx(1.9)
    assert bs.classify_curve(np.r_[2.3, 3.0, np.full(98, 1.0)], 2.3, max_rise=0.2).label == bs.TOO_HIGH
    assert bs.classify_curve(np.r_[2.3, 3.0, np.full(98, 1.0)], 2.3, max_rise=0.5).label == bs.ABOUT_RIGHT
    for bad in (dict(losses=[], start=2.3), dict(losses=[1.0], start=0.0), dict(losses=[1.0], start=2.3, tail=0.0)):
        with pytest.raises(ValueError):
            bs.classify_curve(**bad)


def test_expected_verdict_bounds_are_inclusive() -> None:
    good = (1e-3, 0.1)
    assert [bs.expected_verdict(r, good) for r in (1e-4, 1e-3, 0.01, 0.1, 0.2)] == [
        bs.TOO_LOW, bs.ABOUT_RIGHT, bs.ABOUT_RIGHT, bs.ABOUT_RIGHT, bs.TOO_HIGH]


def test_train_val_gap_measures_in_inference_mode() -> None:
    class Fixed:
        def __call__(self, x, training=True):
            assert training is False
            return np.eye(3)[np.asarray(x).ravel().astype(int)]  # predicts the input's value as the class

    train = (np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0]))
    val = (np.array([0, 1, 2, 0]), np.array([0, 1, 1, 1]))
    assert bs.train_val_gap(Fixed(), train, val) == pytest.approx((1.0, 0.5, 0.5))


def test_kernel_smoothness_tells_noise_from_smooth_patterns() -> None:
    noise = RNG.normal(size=(5, 5, 1, 64))
    assert abs(bs.kernel_smoothness(noise)) < 0.1
    yy, xx = np.mgrid[-2:3, -2:3]
    blobs = np.stack([np.exp(-((xx - a) ** 2 + (yy - b) ** 2) / 4.0) for a, b in RNG.uniform(-2, 2, (16, 2))], -1)
    edges = np.stack([np.tanh(np.cos(t) * xx + np.sin(t) * yy) for t in RNG.uniform(0, np.pi, 16)], -1)
    assert bs.kernel_smoothness(np.concatenate([blobs, edges], -1)[:, :, None, :]) > 0.5
    with pytest.raises(ValueError):
        bs.kernel_smoothness(np.zeros((1, 5, 1, 4)))


def _tiny_run(log_dir: Path, epochs: int = 2) -> tuple[keras.Model, bs.LayerHistograms, keras.callbacks.History]:
    keras.utils.set_random_seed(0)
    x = RNG.uniform(0, 255, (24, 8, 8, 1)).astype(np.float32)
    y = np.arange(24) % 3
    model = bs.compile_classifier(bs.small_cnn(filters=(4,), units=6, input_shape=(8, 8, 1), num_classes=3), 0.05)
    logger = bs.LayerHistograms(log_dir, x[:10], y[:10], buckets=12)
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, validation_data=(x[:8], y[:8]),
                        callbacks=[keras.callbacks.TensorBoard(str(log_dir), histogram_freq=1, write_graph=False),
                                   logger])
    return model, logger, history


def test_layer_histograms_round_trip_through_event_files(tmp_path: Path) -> None:
    model, logger, history = _tiny_run(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diagnostics", "train", "validation"]
    found = bs.read_histograms(tmp_path / "diagnostics")
    expected = {"activations/conv1", "activations/fc", "activations/logits", "gradients/conv1/kernel",
                "gradients/conv1/bias", "gradients/fc/kernel", "gradients/fc/bias", "gradients/logits/kernel",
                "gradients/logits/bias"}
    assert set(found) == expected
    for tag, rows in found.items():
        assert [h.step for h in rows] == [0, 1]
        for h in rows:
            logged = logger.logged[(tag, h.step)]
            assert h.count == logged["count"]
            assert abs(h.mean - logged["mean"]) <= h.bucket_width / 2 + 1e-9
            assert h.left.min() == pytest.approx(logged["min"], abs=1e-6)
            assert h.right.max() == pytest.approx(logged["max"], abs=1e-6)
    assert found["activations/conv1"][0].count == 10 * 8 * 8 * 4  # probe images x positions x filters
    assert found["gradients/fc/kernel"][0].count == model.get_layer("fc").kernel.shape.num_elements()


def test_keras_tensorboard_scalars_and_weight_histograms_are_read_back(tmp_path: Path) -> None:
    model, _, history = _tiny_run(tmp_path)
    scalars = bs.read_scalars(tmp_path / "train")
    assert [step for step, _ in scalars["epoch_loss"]] == [0, 1]
    assert np.allclose([v for _, v in scalars["epoch_loss"]], history.history["loss"], rtol=1e-6)
    validation = bs.read_scalars(tmp_path / "validation")
    assert np.allclose([v for _, v in validation["epoch_accuracy"]], history.history["val_accuracy"], rtol=1e-6)
    weights = bs.read_histograms(tmp_path / "train")
    assert {f"{w.path}/histogram" for w in model.weights} <= set(weights)


def test_layer_histograms_frequency(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    x = RNG.uniform(0, 255, (8, 8, 8, 1)).astype(np.float32)
    model = bs.compile_classifier(bs.small_cnn(filters=(2,), units=4, input_shape=(8, 8, 1), num_classes=2), 0.01)
    model.fit(x, np.arange(8) % 2, epochs=3, verbose=0, callbacks=[bs.LayerHistograms(tmp_path, x, np.arange(8) % 2,
                                                                                       freq=2)])
    assert [h.step for h in bs.read_histograms(tmp_path / "diagnostics")["activations/fc"]] == [0, 2]
    with pytest.raises(ValueError):
        bs.LayerHistograms(tmp_path, x, x, freq=0)


def test_readers_say_where_no_event_files_are(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        bs.read_histograms(tmp_path)
    with pytest.raises(FileNotFoundError):
        bs.read_scalars(tmp_path / "missing")


def test_histogram_statistics() -> None:
    h = bs.Histogram(0, np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 4.0]), np.array([2.0, 0.0, 2.0]))
    assert h.count == 4 and h.mean == pytest.approx((2 * 0.5 + 2 * 3.0) / 4)
    assert h.std == pytest.approx(1.25)
    assert h.bucket_width == 2.0
    assert h.fraction_at_most(2.0) == 0.5 and h.fraction_at_most(0.5) == 0.0


def test_grid_values_are_cell_centres() -> None:
    assert bs.grid_values(1e-4, 1.0, 2) == pytest.approx([1e-3, 1e-1])
    assert bs.grid_values(1e-4, 1.0, 4) == pytest.approx(np.geomspace(1e-4, 1.0, 9)[1::2])
    assert bs.grid_values(0.0, 0.5, 2, log=False) == pytest.approx([0.125, 0.375])
    assert bs.grid_values(1.0, 4.0, 1) == pytest.approx([2.0])
    for bad in ((1.0, 1.0, 3), (0.0, 1.0, 3), (1.0, 2.0, 0)):
        with pytest.raises(ValueError):
            bs.grid_values(*bad)


def test_declare_makes_a_grid_choice_or_a_random_range() -> None:
    hp = keras_tuner.HyperParameters()
    assert bs.declare(hp, "grid_lr", [0.001, 0.1]) == 0.001
    assert bs.declare(hp, "random_lr", (1e-4, 1.0, "log")) == pytest.approx(1e-4)
    assert bs.declare(hp, "random_dropout", (0.0, 0.5, "linear")) == 0.0
    spaces = {p.name: p for p in hp.space}
    assert isinstance(spaces["grid_lr"], keras_tuner.engine.hyperparameters.Choice)
    assert list(spaces["grid_lr"].values) == [0.001, 0.1]
    assert spaces["random_lr"].sampling == "log" and spaces["random_dropout"].sampling == "linear"
    with pytest.raises(ValueError, match="sampling"):
        bs.declare(hp, "bad", (0.0, 1.0, "cubic"))


def test_trial_table_and_distinct() -> None:
    def trial(score, **values):
        return SimpleNamespace(score=score, hyperparameters=SimpleNamespace(values=values))

    tuner = SimpleNamespace(oracle=SimpleNamespace(trials={
        "1": trial(0.5, learning_rate=0.01, dropout=0.1), "0": trial(0.25, learning_rate=0.01, dropout=0.3),
        "2": trial(None, learning_rate=0.2, dropout=0.1)}))  # unfinished: no score
    rows = bs.trial_table(tuner)
    assert rows == [{"trial": "0", "learning_rate": 0.01, "dropout": 0.3, "score": 0.25},
                    {"trial": "1", "learning_rate": 0.01, "dropout": 0.1, "score": 0.5}]
    assert bs.distinct(rows, "learning_rate") == 1 and bs.distinct(rows, "dropout") == 2
    assert bs.distinct([{"x": 0.1}, {"x": 0.1 + 1e-12}], "x") == 1
