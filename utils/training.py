"""How training uses the hardware: mixed precision, XLA, tf.data autotuning and multi-GPU, per profile.

The settings come from ``utils.profiles.TRAINING`` for the active profile (the
gpu profile turns on mixed precision and tf.data autotuning; smoke and cpu keep
float32 and a fixed pipeline, which is fastest on small CPUs). Environment
variables override them for one run: ``COURSE_MIXED_PRECISION=0|1``,
``COURSE_JIT_COMPILE=0|1|auto`` and ``COURSE_AUTOTUNE=0|1``.

A notebook's training cell builds and compiles its model inside
:func:`accelerated`, which sets the Keras mixed-precision policy (only when a GPU
is visible: float16 on a CPU is slower, not faster) and enters a
``tf.distribute.MirroredStrategy`` scope when more than one GPU is visible, and
passes :func:`compile_options` to ``Model.compile``::

    with training.accelerated() as run:
        model = build_model()
        model.compile(optimizer, loss, metrics=["accuracy"], **run.compile_options)
    model.fit(...)

With one device or none, ``accelerated`` changes nothing but the policy, so the
same cell runs everywhere. Check cells that compare a student's NumPy code with
Keras layers run outside it, in float32.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

if TYPE_CHECKING:
    import tensorflow as tf

from utils.profiles import TRAINING, get_profile

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class TrainingSettingsError(ValueError):
    """A COURSE_* training variable with a value it cannot take."""


@dataclass(frozen=True)
class TrainingSettings:
    """How training runs in one profile: precision, compilation, pipeline tuning."""

    profile: str
    mixed_precision: bool
    jit_compile: bool | str
    autotune: bool

    @property
    def compile_options(self) -> dict[str, Any]:
        """Keyword arguments for ``Model.compile``."""
        return {"jit_compile": self.jit_compile}


def _flag(name: str, default: Any, allow_auto: bool = False) -> Any:
    """Read a boolean (or 'auto') override from the environment."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    if allow_auto and raw == "auto":
        return "auto"
    choices = "0, 1" + (" or auto" if allow_auto else "")
    raise TrainingSettingsError(f"{name}={raw!r} is not understood; use {choices}.")


def settings(profile: str | None = None) -> TrainingSettings:
    """Return the active profile's training settings, with environment overrides applied."""
    name = get_profile(profile).name
    base = TRAINING[name]
    return TrainingSettings(
        profile=name,
        mixed_precision=_flag("COURSE_MIXED_PRECISION", base["mixed_precision"]),
        jit_compile=_flag("COURSE_JIT_COMPILE", base["jit_compile"], allow_auto=True),
        autotune=_flag("COURSE_AUTOTUNE", base["autotune"]),
    )


def gpu_devices() -> list[str]:
    """Return the names of the GPUs TensorFlow sees (e.g. ['/gpu:0'])."""
    import tensorflow as tf

    return [f"/gpu:{i}" for i, _ in enumerate(tf.config.list_physical_devices("GPU"))]


def strategy(devices: list[str] | None = None) -> Any:
    """Return a MirroredStrategy over the GPUs when there are several, else the default strategy."""
    import tensorflow as tf

    devices = gpu_devices() if devices is None else devices
    if len(devices) > 1:
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


@contextlib.contextmanager
def accelerated(profile: str | None = None, devices: list[str] | None = None) -> Iterator[TrainingSettings]:
    """Build and compile models in here: mixed precision on GPUs, a mirrored scope on several GPUs."""
    import keras

    active = settings(profile)
    devices = gpu_devices() if devices is None else devices
    use_mixed = active.mixed_precision and bool(devices)
    previous = keras.mixed_precision.global_policy().name
    if use_mixed:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy(devices).scope():
            yield TrainingSettings(active.profile, use_mixed, active.jit_compile, active.autotune)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def describe(active: TrainingSettings, devices: list[str] | None = None) -> str:
    """One line saying how training will use the hardware."""
    devices = gpu_devices() if devices is None else devices
    where = f"{len(devices)} GPU(s)" + (", mirrored" if len(devices) > 1 else "") if devices else "CPU"
    precision = "mixed float16" if active.mixed_precision and devices else "float32"
    return (f"Training on {where}: {precision}, jit_compile={active.jit_compile}, "
            f"tf.data autotune {'on' if active.autotune else 'off'}")


def build_before_fit(model: Any, x: Any, y: Any) -> None:
    """Create a compiled model's optimiser and metric variables now, so fit() traces its step once, not twice."""
    # Variables created while TensorFlow traces the training step (Keras builds the optimiser's slots and the
    # metrics lazily) make it trace the whole step a second time: about half the start-up time of a deep model's fit.
    model.optimizer.build(model.trainable_variables)
    model.compute_metrics(x, y, model(x), sample_weight=None)
    model.reset_metrics()


def make_dataset(
    x: Any,
    y: Any = None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = 0,
    map_fn: Callable[..., Any] | None = None,
    drop_remainder: bool = False,
    cache: bool = False,
    map_per: str = "batch",
    autotune: bool | None = None,
) -> tf.data.Dataset:
    """Batch (x, y) into a deterministic tf.data pipeline: shuffle, map per batch or example, prefetch."""
    import tensorflow as tf

    if autotune is None:  # the profile's choice: on for GPUs, off on small CPUs
        autotune = settings().autotune

    if map_per not in ("batch", "example"):
        raise ValueError(f"map_per must be 'batch' or 'example', not {map_per!r}.")
    data = x if y is None else (x, y)
    count = len(tf.nest.flatten(x)[0])
    ds = tf.data.Dataset.from_tensor_slices(data)
    if map_fn is not None and map_per == "example":
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:  # after a per-example map: keeps its results (use a deterministic map_fn)
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if map_fn is not None and map_per == "batch":
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE if autotune else 2)
    return ds.with_options(data_options(autotune))


def data_options(autotune: bool | None = None) -> tf.data.Options:
    """Return tf.data options for a deterministic pipeline, autotuned only where the profile says so."""
    import tensorflow as tf

    options = tf.data.Options()
    # TF's autotuner stalls seconds between epochs on small CPUs, so only the gpu profile turns it on.
    options.autotune.enabled = bool(settings().autotune if autotune is None else autotune)
    options.deterministic = True
    return options
