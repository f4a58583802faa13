"""Babysitting a network (the companion notebook of the same name): cs231n's sanity checks made measurable.

* a small CNN to babysit (:func:`small_cnn`) and the loss a fresh one should start from (:func:`expected_initial_loss`);
* :func:`classify_curve`: reads a training-loss curve as a learning rate that is too low, too high or about right;
* :func:`train_val_gap`: training minus validation accuracy, both measured in inference mode;
* :class:`LayerHistograms`: a Keras callback that logs per-layer activation and gradient histograms of a fixed probe
  batch to TensorBoard; :func:`read_histograms` and :func:`read_scalars` read event files back;
* :func:`kernel_smoothness`: how alike neighbouring weights of conv kernels are (trained first layers are smooth);
* grid and random search spaces for KerasTuner (:func:`declare`, :func:`grid_values`, :func:`trial_table`).

Logs and tuner trials go under the repository's ``build/`` folder (:func:`build_dir`), which git ignores.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import keras
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOO_LOW, ABOUT_RIGHT, TOO_HIGH = "too low", "about right", "too high"
CURVE_LABELS: tuple[str, ...] = (TOO_LOW, ABOUT_RIGHT, TOO_HIGH)


def build_dir(*parts: str, fresh: bool = True) -> Path:
    """Return ``build/<parts...>`` in the repository (git ignores it), emptied first unless ``fresh`` is False."""
    if not parts:
        raise ValueError("name a folder under build/, e.g. build_dir('babysitting', 'logs')")
    path = ROOT.joinpath("build", *parts)
    if fresh and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------------------
# The network and its first sanity checks
# ---------------------------------------------------------------------------


def small_cnn(filters: Sequence[int] = (8, 16), units: int = 32, kernel_size: int = 5, dropout: float = 0.0,
              l2: float = 0.0, input_shape: tuple[int, int, int] = (28, 28, 1), num_classes: int = 10,
              name: str = "small_cnn") -> keras.Model:
    """Return conv-pool blocks (conv1 with kernel_size, later ones 3x3), fc and logits; optional dropout and L2."""
    regulariser = keras.regularizers.L2(l2) if l2 else None
    stack: list[Any] = [keras.Input(input_shape, name="image"), keras.layers.Rescaling(1.0 / 255.0, name="rescale")]
    for i, width in enumerate(filters, start=1):
        stack += [keras.layers.Conv2D(width, kernel_size if i == 1 else 3, padding="same", activation="relu",
                                      kernel_regularizer=regulariser, name=f"conv{i}"),
                  keras.layers.MaxPooling2D(2, name=f"pool{i}")]
    stack.append(keras.layers.Flatten(name="flatten"))
    if dropout:
        stack.append(keras.layers.Dropout(dropout, name="dropout1"))
    stack.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=regulariser, name="fc"))
    if dropout:
        stack.append(keras.layers.Dropout(dropout, name="dropout2"))
    stack.append(keras.layers.Dense(num_classes, kernel_regularizer=regulariser, name="logits"))
    return keras.Sequential(stack, name=name)


def compile_classifier(model: keras.Model, learning_rate: float, optimizer: str = "sgd",
                       momentum: float = 0.9) -> keras.Model:
    """Compile for integer labels and logits: SGD with momentum or Adam, accuracy as the metric; return the model."""
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=momentum)
    elif optimizer == "adam":
        opt = keras.optimizers.Adam(learning_rate)
    else:
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def expected_initial_loss(num_classes: int) -> float:
    """Return ln(K): the softmax loss of a network that gives all K classes the same score."""
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    return math.log(num_classes)


def images(x: np.ndarray) -> np.ndarray:
    """Return images (N, H, W) or (N, H, W, C) as float32 (N, H, W, C) in their own 0..255 scale."""
    x = np.asarray(x)
    return (x[..., None] if x.ndim == 3 else x).astype(np.float32)


def dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0) -> Any:
    """Return a tf.data pipeline of (image, label) batches, reshuffled every epoch when asked (seeded)."""
    import tensorflow as tf

    pipeline = tf.data.Dataset.from_tensor_slices((images(x), np.asarray(y, dtype=np.int64)))
    if shuffle:
        pipeline = pipeline.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return pipeline.batch(batch_size)


# ---------------------------------------------------------------------------
# Reading loss curves
# ---------------------------------------------------------------------------


def train_steps(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int,
                seed: int = 0) -> np.ndarray:
    """Train for ``steps`` minibatch steps (reshuffling each pass); return every step's own loss, NaN included."""
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be at least 1, got {steps} and {batch_size}")
    rng = np.random.default_rng(seed)
    order: np.ndarray = np.empty(0, dtype=np.int64)
    losses = np.empty(steps)
    for step in range(steps):
        if order.size < batch_size:
            order = np.concatenate([order, rng.permutation(len(x))])
        batch, order = order[:batch_size], order[batch_size:]
        result = model.train_on_batch(x[batch], y[batch], return_dict=True)
        losses[step] = float(result["loss"])
    return losses


@dataclass(frozen=True)
class CurveVerdict:
    """What a loss curve says about its learning rate, with the numbers the verdict rests on."""

    label: str
    start: float
    end: float
    drop: float
    peak: float
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def classify_curve(losses: Iterable[float], start: float, min_drop: float = 0.3, max_rise: float = 0.5,
                   end_margin: float = 0.01, tail: float = 0.1) -> CurveVerdict:
    """Classify a training-loss curve that began at ``start``: 'too high', 'too low' or 'about right'.

    The end of the curve is the mean of its last ``tail`` (a fraction of its steps). Too high: a loss is NaN or
    infinite, or some step's loss exceeds ``start * (1 + max_rise)`` (it exploded), or the end is more than
    ``end_margin`` (a fraction) above ``start`` (the steps overshoot: training made the loss worse). Too low: the end is
    less than ``min_drop`` (a fraction of ``start``) below ``start``. About right: neither.
    """
    values = np.asarray(list(losses), dtype=np.float64)
    if values.size == 0:
        raise ValueError("the curve holds no losses")
    if not (math.isfinite(start) and start > 0):
        raise ValueError(f"start must be a positive finite loss, got {start}")
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be a fraction in (0, 1], got {tail}")
    end = float(values[-max(1, round(tail * values.size)):].mean())
    finite = values[np.isfinite(values)]
    peak = float(finite.max()) if finite.size else math.nan
    drop = (start - end) / start if math.isfinite(end) else -math.inf
    if finite.size < values.size:
        first = int(np.flatnonzero(~np.isfinite(values))[0])
        return CurveVerdict(TOO_HIGH, start, end, drop, peak, f"the loss became {values[first]} at step {first + 1}")
    if peak > start * (1 + max_rise):
        return CurveVerdict(TOO_HIGH, start, end, drop, peak,
                            f"the loss exploded to {peak:.3g}, more than {max_rise:.0%} above its start {start:.3g}")
    if end > start * (1 + end_margin):
        return CurveVerdict(TOO_HIGH, start, end, drop, peak,
                            f"the loss ended at {end:.3g}, above its start {start:.3g}")
    if drop < min_drop:
        return CurveVerdict(TOO_LOW, start, end, drop, peak,
                            f"the loss fell only {drop:.0%}, from {start:.3g} to {end:.3g} (about right needs "
                            f"{min_drop:.0%})")
    return CurveVerdict(ABOUT_RIGHT, start, end, drop, peak, f"the loss fell {drop:.0%}, from {start:.3g} to {end:.3g}")


def expected_verdict(rate: float, good_range: tuple[float, float]) -> str:
    """Return the label a learning rate should get: too low below ``good_range``, too high above it."""
    low, high = good_range
    return TOO_LOW if rate < low else TOO_HIGH if rate > high else ABOUT_RIGHT


def train_val_gap(model: keras.Model, train: tuple[np.ndarray, np.ndarray],
                  val: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float]:
    """Return (training accuracy, validation accuracy, their difference), both in inference mode (no dropout)."""
    accuracies = []
    for x, y in (train, val):
        scores = np.concatenate([np.asarray(model(x[i:i + 1000], training=False)) for i in range(0, len(x), 1000)])
        accuracies.append(float(np.mean(np.argmax(scores, axis=1) == np.asarray(y))))
    return accuracies[0], accuracies[1], accuracies[0] - accuracies[1]


def kernel_smoothness(kernels: Any) -> float:
    """Return the correlation of horizontally and vertically adjacent weights over all kernels (kh, kw, in, out).

    Random initial kernels give about 0; first layers trained on natural or clothing images learn smooth, edge- and
    blob-like kernels, which give a clearly positive value.
    """
    w = np.asarray(kernels, dtype=np.float64)
    if w.ndim != 4 or min(w.shape[:2]) < 2:
        raise ValueError(f"kernels must be (kh, kw, in, out) with kh, kw >= 2, got shape {w.shape}")
    w = w - w.mean(axis=(0, 1), keepdims=True)  # each kernel's own mean: correlation of its pattern, not its offset
    left = np.concatenate([w[:, :-1].ravel(), w[:-1, :].ravel()])
    right = np.concatenate([w[:, 1:].ravel(), w[1:, :].ravel()])
    return float(np.corrcoef(left, right)[0, 1])


# ---------------------------------------------------------------------------
# TensorBoard: logging per-layer histograms and reading event files back
# ---------------------------------------------------------------------------


class LayerHistograms(keras.callbacks.Callback):
    """Log per-layer activation and gradient histograms of a fixed probe batch to TensorBoard after each epoch.

    ``keras.callbacks.TensorBoard(histogram_freq=1)`` logs the weights; this callback adds what cs231n asks to watch
    as well: each weighted layer's outputs (tags ``activations/<layer>``) and the gradient of the loss with respect to
    each of its trainable weights (``gradients/<layer>/<weight>``, e.g. ``gradients/conv1/kernel``), computed on the
    same probe images every time in inference mode, so epochs compare. They go to the run folder ``log_dir/run``.
    ``logged`` keeps, per (tag, epoch), the number of values and their mean, so a reader can check the files against
    what was written.
    """

    def __init__(self, log_dir: str | Path, x: np.ndarray, y: np.ndarray, freq: int = 1, buckets: int = 30,
                 run: str = "diagnostics") -> None:
        super().__init__()
        if freq < 1:
            raise ValueError(f"freq must be at least 1, got {freq}")
        self.run_dir = Path(log_dir) / run
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.freq, self.buckets = freq, buckets
        self.logged: dict[tuple[str, int], dict[str, float]] = {}
        self._writer: Any = None
        self._probe: Any = None
        self._layers: list[Any] = []

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Open the event-file writer and build the model that returns every weighted layer's outputs."""
        import tensorflow as tf

        self._layers = [layer for layer in self.model.layers if layer.trainable_weights]
        self._probe = keras.Model(self.model.inputs[0], [layer.output for layer in self._layers])
        self._writer = tf.summary.create_file_writer(str(self.run_dir))

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Write the activation and gradient histograms of this epoch (every ``freq`` epochs)."""
        if epoch % self.freq:
            return
        import tensorflow as tf

        x = tf.convert_to_tensor(self.x, dtype=tf.float32)
        named = [(f"gradients/{layer.name}/{w.name}", w) for layer in self._layers for w in layer.trainable_weights]
        with tf.GradientTape() as tape:
            scores = self.model(x, training=False)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(self.y, scores, from_logits=True))
            if self.model.losses:  # regularisation penalties, as in training
                loss = loss + tf.add_n(self.model.losses)
        gradients = tape.gradient(loss, [w for _, w in named])
        outputs = self._probe(x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        values = {f"activations/{layer.name}": out for layer, out in zip(self._layers, outputs)}
        values.update({tag: g for (tag, _), g in zip(named, gradients)})
        with self._writer.as_default():
            for tag, value in values.items():
                array = np.asarray(value, dtype=np.float64)
                tf.summary.histogram(tag, array, step=epoch, buckets=self.buckets)
                self.logged[(tag, epoch)] = {"count": float(array.size), "mean": float(array.mean()),
                                             "min": float(array.min()), "max": float(array.max())}
        self._writer.flush()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Close the event file."""
        if self._writer is not None:
            self._writer.close()


@dataclass(frozen=True)
class Histogram:
    """One histogram read from an event file: bucket edges and counts at a step."""

    step: int
    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray

    @property
    def count(self) -> float:
        """The number of values summarised."""
        return float(self.counts.sum())

    @property
    def mean(self) -> float:
        """The mean of the values, taking each at its bucket's centre."""
        return float(np.sum(self.counts * (self.left + self.right) / 2) / max(self.count, 1e-12))

    @property
    def std(self) -> float:
        """The standard deviation of the values, taking each at its bucket's centre."""
        centres = (self.left + self.right) / 2
        return float(np.sqrt(np.sum(self.counts * (centres - self.mean) ** 2) / max(self.count, 1e-12)))

    @property
    def bucket_width(self) -> float:
        """The widest bucket (how far the bucket-centre mean can be from the true one, times two)."""
        return float(np.max(self.right - self.left)) if self.counts.size else 0.0

    def fraction_at_most(self, value: float) -> float:
        """Return the fraction of values in buckets that end at or below ``value`` (e.g. dead ReLUs at 0)."""
        return float(self.counts[self.right <= value].sum() / max(self.count, 1e-12))


def _accumulator(run_dir: str | Path) -> Any:
    """Load every event file of one run folder with TensorBoard's own reader."""
    from tensorboard.backend.event_processing import event_accumulator

    path = Path(run_dir)
    if not path.is_dir() or not any(path.glob("events.out.tfevents.*")):
        raise FileNotFoundError(f"no TensorBoard event files in {path}")
    accumulator = event_accumulator.EventAccumulator(str(path), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def _tensors_of(run_dir: str | Path, plugin: str) -> dict[str, list[tuple[int, np.ndarray]]]:
    """Return {tag: [(step, array), ...]} of the tensor summaries written by one TensorBoard plugin."""
    from tensorboard.util import tensor_util

    accumulator = _accumulator(run_dir)
    found: dict[str, list[tuple[int, np.ndarray]]] = {}
    for tag in accumulator.Tags()["tensors"]:
        if accumulator.SummaryMetadata(tag).plugin_data.plugin_name != plugin:
            continue
        found[tag] = [(int(e.step), tensor_util.make_ndarray(e.tensor_proto)) for e in accumulator.Tensors(tag)]
    return found


def read_histograms(run_dir: str | Path) -> dict[str, list[Histogram]]:
    """Return every histogram in a run folder's event files: {tag: [Histogram per step, in step order]}."""
    result = {}
    for tag, events in _tensors_of(run_dir, "histograms").items():
        rows = []
        for step, array in sorted(events, key=lambda e: e[0]):
            array = np.asarray(array, dtype=np.float64).reshape(-1, 3)
            rows.append(Histogram(step, array[:, 0], array[:, 1], array[:, 2]))
        result[tag] = rows
    return result


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Return every scalar in a run folder's event files: {tag: [(step, value), ...] in step order}."""
    return {tag: sorted((step, float(np.asarray(array))) for step, array in events)
            for tag, events in _tensors_of(run_dir, "scalars").items()}


# ---------------------------------------------------------------------------
# Grid and random search (Bergstra & Bengio 2012) with KerasTuner
# ---------------------------------------------------------------------------


def grid_values(low: float, high: float, count: int, log: bool = True) -> list[float]:
    """Return the centres of ``count`` equal cells of [low, high] on a log (or linear) scale: a grid's values.

    Centres rather than end points, so that no grid value sits on the edge of the range (Bergstra & Bengio's grids
    likewise lie inside the square).
    """
    if count < 1 or not low < high or (log and low <= 0):
        raise ValueError(f"need count >= 1 and 0 < low < high (log) or low < high, got {count}, {low}, {high}")
    fractions = (np.arange(count) + 0.5) / count
    points = low * (high / low) ** fractions if log else low + (high - low) * fractions
    return [float(f"{p:.6g}") for p in points]


def declare(hp: Any, name: str, space: Sequence[float] | tuple[float, float, str]) -> float:
    """Declare one hyperparameter on a KerasTuner ``hp``: a list of values (a grid) or (low, high, 'log'|'linear')."""
    if isinstance(space, tuple) and len(space) == 3 and isinstance(space[2], str):
        low, high, sampling = space
        if sampling not in ("log", "linear"):
            raise ValueError(f"sampling must be 'log' or 'linear', got {sampling!r}")
        return hp.Float(name, float(low), float(high), sampling=sampling)
    return hp.Choice(name, [float(v) for v in space], ordered=True)


def trial_table(tuner: Any) -> list[dict[str, Any]]:
    """Return one row per finished trial of a KerasTuner tuner: its hyperparameter values and its score."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        if trial.score is None:
            continue
        rows.append({"trial": trial_id, **trial.hyperparameters.values, "score": float(trial.score)})
    return rows


def distinct(rows: Iterable[Mapping[str, Any]], name: str, digits: int = 6) -> int:
    """Return how many distinct values (to ``digits`` significant digits) hyperparameter ``name`` took."""
    return len({float(f"{float(row[name]):.{digits}g}") for row in rows})
