"""utils.training: per-profile precision, XLA and tf.data settings, and the accelerated() scope."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from utils import training
from utils.profiles import PROFILES, TRAINING


def test_every_profile_has_the_same_training_keys() -> None:
    assert set(TRAINING) == set(PROFILES)
    assert len({tuple(sorted(TRAINING[p])) for p in PROFILES}) == 1


def test_gpu_profile_turns_on_mixed_precision_and_autotune_cpu_profiles_do_not(monkeypatch) -> None:
    for name in ("COURSE_MIXED_PRECISION", "COURSE_JIT_COMPILE", "COURSE_AUTOTUNE"):
        monkeypatch.delenv(name, raising=False)
    gpu, smoke = training.settings("gpu"), training.settings("smoke")
    assert gpu.mixed_precision and gpu.autotune
    assert not smoke.mixed_precision and not smoke.autotune
    assert smoke.compile_options == {"jit_compile": "auto"}


def test_environment_overrides(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "0")
    monkeypatch.setenv("COURSE_JIT_COMPILE", "1")
    monkeypatch.setenv("COURSE_AUTOTUNE", "yes")
    active = training.settings("gpu")
    assert (active.mixed_precision, active.jit_compile, active.autotune) == (False, True, True)
    monkeypatch.setenv("COURSE_AUTOTUNE", "sometimes")
    with pytest.raises(training.TrainingSettingsError, match="COURSE_AUTOTUNE='sometimes' is not understood"):
        training.settings("gpu")


def test_without_a_gpu_accelerated_keeps_float32(monkeypatch) -> None:
    monkeypatch.delenv("COURSE_MIXED_PRECISION", raising=False)
    with training.accelerated("gpu", devices=[]) as run:
        assert not run.mixed_precision
        assert keras.mixed_precision.global_policy().name == "float32"
    assert "CPU: float32" in training.describe(run, devices=[])


def test_mixed_precision_policy_is_set_inside_and_restored_after(monkeypatch) -> None:
    """Pretend one GPU is visible: models built inside compute in float16 with float32 weights, and train."""
    monkeypatch.delenv("COURSE_MIXED_PRECISION", raising=False)
    with training.accelerated("gpu", devices=["/gpu:0"]) as run:
        assert run.mixed_precision
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(2, dtype="float32")])
        model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      **run.compile_options)
    assert keras.mixed_precision.global_policy().name == "float32"
    assert model.layers[0].compute_dtype == "float16" and model.layers[0].kernel.dtype == "float32"
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    history = model.fit(x, (x[:, 0] > 0).astype("int32"), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_strategy_is_mirrored_only_for_several_devices(monkeypatch) -> None:
    assert training.strategy([]) is tf.distribute.get_strategy()
    assert training.strategy(["/gpu:0"]) is tf.distribute.get_strategy()
    built = []  # two real GPUs are needed to build a MirroredStrategy: record the call instead
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda devices: built.append(devices) or "mirrored")
    assert training.strategy(["/gpu:0", "/gpu:1"]) == "mirrored" and built == [["/gpu:0", "/gpu:1"]]


def test_make_dataset_follows_the_profile_autotune(monkeypatch) -> None:
    x, y = np.zeros((8, 2), "float32"), np.zeros(8, "int32")
    monkeypatch.setenv("COURSE_PROFILE", "gpu")
    monkeypatch.delenv("COURSE_AUTOTUNE", raising=False)
    assert training.make_dataset(x, y, batch_size=4).options().autotune.enabled is True
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert training.make_dataset(x, y, batch_size=4).options().autotune.enabled is False
    assert training.make_dataset(x, y, batch_size=4, autotune=True).options().autotune.enabled is True


def test_build_before_fit_creates_the_optimiser_and_metric_variables() -> None:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x, y = np.ones((4, 3), "float32"), np.zeros(4, "int32")
    assert not model.optimizer.built
    training.build_before_fit(model, x, y)
    assert model.optimizer.built and len(model.optimizer.variables) > 1
    assert all(float(v.numpy().sum()) == 0.0 for m in model.metrics for v in m.variables)
    assert np.isfinite(model.fit(x, y, epochs=1, verbose=0).history["loss"]).all()


# ---------------------------------------------------------------------------
# make_dataset
# ---------------------------------------------------------------------------


def test_make_dataset_batches_shuffles_deterministically_and_maps() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10, dtype=np.int32)
    ds = training.make_dataset(x, y, batch_size=4)
    assert [len(b) for b, _ in ds] == [4, 4, 2]
    assert ds.options().autotune.enabled is False and ds.options().deterministic is True

    def epochs(dataset, n: int = 2) -> list[list[int]]:
        return [np.concatenate([yb.numpy() for _, yb in dataset]).tolist() for _ in range(n)]

    first = epochs(training.make_dataset(x, y, batch_size=4, shuffle=True, seed=1))
    again = epochs(training.make_dataset(x, y, batch_size=4, shuffle=True, seed=1))
    assert first == again  # same seed, same sequence of epochs
    assert first[0] != first[1] and sorted(first[0]) == list(range(10))  # reshuffled each epoch, nothing lost

    per_batch = training.make_dataset(x, y, batch_size=4, map_fn=lambda a, b: (a * 2, b), drop_remainder=True)
    assert [xb.numpy().ravel().tolist() for xb, _ in per_batch] == [[0, 2, 4, 6], [8, 10, 12, 14]]
    per_example = training.make_dataset(x, batch_size=5, map_fn=lambda a: a + 1, map_per="example", cache=True)
    assert [b.numpy().ravel().tolist() for b in per_example] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    with pytest.raises(ValueError, match="map_per"):
        training.make_dataset(x, map_fn=abs, map_per="element")
