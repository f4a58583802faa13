"""Lab 5 machinery: target tasks, training helpers, the learning-rate pick, and the Part D comparison.

The comparison runs every method of the lab (k-NN and a linear probe on frozen codes, scenarios 1 and 2, fine-tuning,
training from scratch) on the same random draws of labelled images. It calls the student's own
``feature_extractor``, ``knn_predict``, ``transfer_model`` and ``prepare_fine_tuning`` (passed in a
:class:`Methods`), so nothing here answers an exercise.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from utils import training


# ---------------------------------------------------------------------------
# Tasks and training
# ---------------------------------------------------------------------------


def make_task(train: tuple[Any, Any], test: tuple[Any, Any], classes: Iterable[int], test_size: int) -> dict[str, Any]:
    """Return a target task: images (N, 28, 28, 1) float32 in 0..255, labels renumbered 0..K-1, and a test set."""
    (x_train, y_train), (x_test, y_test) = train, test
    classes = list(classes)
    lookup = np.full(256, -1)
    lookup[classes] = np.arange(len(classes))
    keep_train = np.flatnonzero(lookup[y_train] >= 0)
    keep_test = np.flatnonzero(lookup[y_test] >= 0)[:test_size]
    return {"x": x_train[keep_train, :, :, None].astype("float32"), "y": lookup[y_train[keep_train]],
            "x_test": x_test[keep_test, :, :, None].astype("float32"), "y_test": lookup[y_test[keep_test]],
            "num_classes": len(classes)}


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Return the sorted indices of ``per_class`` random examples of every class."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def compile_classifier(model: Any, learning_rate: float) -> Any:
    """Compile ``model`` with Adam at ``learning_rate``, cross-entropy on class scores and accuracy; return it."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def train(model: Any, x: np.ndarray, y: np.ndarray, steps: int, batch_size: int, seed: int = 0) -> Any:
    """Train for a fixed number of gradient steps (the same budget whatever the number of images)."""
    batches = training.make_dataset(x, y, batch_size=batch_size, shuffle=True, seed=seed).repeat()
    return model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)


def fresh_copy(pretrained: Any) -> Any:
    """Return a copy of a model with its own weights, so every experiment starts from the same point."""
    import keras

    copy = keras.models.clone_model(pretrained)
    copy.set_weights(pretrained.get_weights())
    return copy


# ---------------------------------------------------------------------------
# Picking the fine-tuning rate from a range test
# ---------------------------------------------------------------------------


def smooth(values: Iterable[float], beta: float = 0.9) -> np.ndarray:
    """Return the exponential moving average of ``values`` with bias correction (the fast.ai finder's smoothing)."""
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = beta * average + (1 - beta) * value
        out.append(average / (1 - beta ** i))
    return np.array(out)


def pick_learning_rate(rates: np.ndarray, losses: np.ndarray, rise: float = 1.1) -> float:
    """Return a tenth of the rate at which the smoothed loss first rises ``rise`` times above its minimum."""
    smoothed = smooth(losses)
    lowest = int(np.argmin(smoothed))
    climbing = np.flatnonzero(smoothed[lowest:] > rise * smoothed[lowest])
    return float(rates[lowest + climbing[0]] if len(climbing) else rates[-1]) / 10


def plot_range_test(rates: np.ndarray, losses: np.ndarray, chosen: float) -> Any:
    """Plot the smoothed batch loss of a range test against the rate (log-spaced ticks) and mark the chosen rate."""
    from utils import plots

    figure = plots.loss_curve(smooth(losses), title="Learning-rate range test (smoothed batch loss)",
                              xlabel="learning rate (log scale)", log=False)
    axis = figure.axes[0]
    ticks = np.arange(0, len(rates), max(1, len(rates) // 6))
    axis.set_xticks(ticks, [f"{rates[i]:.0e}" for i in ticks])
    axis.axvline(np.searchsorted(rates, chosen), color="C1", ls="--", label=f"chosen {chosen:.1e}")
    axis.legend()
    return figure


# ---------------------------------------------------------------------------
# Part D: every method on the same draws
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Methods:
    """The student's exercise answers that the comparison uses."""

    feature_extractor: Callable[[Any], Any]
    knn_predict: Callable[..., np.ndarray]
    transfer_model: Callable[..., Any]
    prepare_fine_tuning: Callable[[Any, float], Any]


def restart(model: Any, weights: list[np.ndarray]) -> None:
    """Reset a compiled model to ``weights`` and a fresh optimizer state, keeping its traced training step.

    Compiling a new model costs TensorFlow a few seconds of tracing; every size of a task reuses the same three
    compiled models instead, which gives the same result as new ones.
    """
    model.set_weights(weights)
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))


def head_models(code_width: int, fc1_width: int, num_classes: int, hidden_units: int, learning_rate: float) -> Any:
    """Return the linear probe, scenario 1 and scenario 2 heads side by side, trained on the same batches of codes.

    Adam updates every weight from its own gradient, so training them together equals three separate trainings.
    """
    import keras

    layers = keras.layers
    code_in, fc1_in = keras.Input((code_width,)), keras.Input((fc1_width,))
    hidden = layers.Dense(hidden_units, activation="relu", name="s2_fc")(code_in)
    outputs = {"probe": layers.Dense(num_classes, name="probe")(code_in),
               "scenario_1": layers.Dense(num_classes, name="scenario_1")(fc1_in),
               "scenario_2": layers.Dense(num_classes, name="scenario_2")(hidden)}
    heads = keras.Model([code_in, fc1_in], outputs, name="heads")
    heads.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for k in outputs})
    return heads


def compare_on(task: Mapping[str, Any], cfg: Any, pretrained: Any, encoder_config: Any, fine_tune_lr: float,
               methods: Methods) -> dict[int, dict[str, float]]:
    """Return the test accuracy of every method for each labelled-set size of ``task``: {per_class: {method: acc}}.

    Each size is the mean over ``cfg.draws`` draws; draw ``seed`` seeds its images, initial weights and batch order.
    """
    import keras

    from utils import zoo

    k, x_test = task["num_classes"], task["x_test"]
    extractor, fc1 = methods.feature_extractor(pretrained), pretrained.get_layer("fc1")
    test_codes = np.asarray(extractor(x_test, training=False))
    fc1_test_codes = np.asarray(fc1(test_codes))
    scratch_config = dataclasses.replace(encoder_config, source_classes=tuple(range(k)), fc_units=cfg.scenario2_units)

    def new_heads() -> Any:
        return head_models(test_codes.shape[1], fc1_test_codes.shape[1], k, cfg.scenario2_units,
                           cfg.head_learning_rate)

    def initial_weights() -> dict[str, list[np.ndarray]]:
        """Fresh random initial weights for the heads and the scratch network (from the current seed)."""
        return {"heads": new_heads().get_weights(), "scratch": zoo.build_encoder(scratch_config).get_weights()}

    models = {"heads": new_heads(),
              "fine_tuned": methods.prepare_fine_tuning(
                  methods.transfer_model(fresh_copy(pretrained), k, 2, cfg.scenario2_units), fine_tune_lr),
              "scratch": compile_classifier(zoo.build_encoder(scratch_config), cfg.scratch_learning_rate)}
    pretrained_start = models["fine_tuned"].get_weights()
    codes = {"extractor": extractor, "fc1": fc1, "test": test_codes, "fc1_test": fc1_test_codes}
    rows = {}
    for per_class, num_draws in zip(cfg.per_class_sizes, cfg.draws):
        draws = []
        for seed in range(num_draws):
            keras.utils.set_random_seed(seed)  # this draw's images, initial weights and batch order
            draws.append(draw_once(task, cfg, per_class, seed, methods, codes, models,
                                   {**initial_weights(), "fine_tuned": pretrained_start}))
        rows[per_class] = {method: float(np.mean([row[method] for row in draws])) for method in draws[0]}
        print(f"{task['name']:>9}, {per_class:>4} per class, mean of {num_draws} draw(s): "
              + ", ".join(f"{m} {a:.3f}" for m, a in rows[per_class].items()), flush=True)
    return rows


def draw_once(task: Mapping[str, Any], cfg: Any, per_class: int, seed: int, methods: Methods,
              codes: Mapping[str, Any], models: Mapping[str, Any],
              starts: Mapping[str, list[np.ndarray]]) -> dict[str, float]:
    """Return every method's test accuracy on one random draw of ``per_class`` labelled images per class."""
    import keras

    from utils.models import accuracy

    x_test, y_test = task["x_test"], task["y_test"]
    heads, fine_tuned, scratch = models["heads"], models["fine_tuned"], models["scratch"]
    index = balanced_subset(task["y"], per_class, seed=seed)
    x, y = task["x"][index], task["y"][index]
    train_codes = np.asarray(codes["extractor"](x, training=False))
    fc1_codes = np.asarray(codes["fc1"](train_codes))
    neighbours = min(cfg.knn_k, per_class)  # with one image per class, only the nearest one makes sense
    row = {"k-NN": float(np.mean(methods.knn_predict(train_codes, y, codes["test"], neighbours) == y_test))}
    restart(heads, starts["heads"])
    heads.fit(training.make_dataset((train_codes, fc1_codes), {key: y for key in heads.output_names},
                                batch_size=cfg.batch_size, shuffle=True, seed=seed).repeat(),
              epochs=1, steps_per_epoch=cfg.head_steps, verbose=0)
    scores = heads([codes["test"], codes["fc1_test"]], training=False)
    for method, key in (("linear probe", "probe"), ("scenario 1", "scenario_1"), ("scenario 2", "scenario_2")):
        row[method] = float(np.mean(np.asarray(scores[key]).argmax(axis=1) == y_test))
    restart(fine_tuned, starts["fine_tuned"])  # the pretrained encoder, then scenario 2's trained head
    new_fc, new_logits = [layer for layer in fine_tuned.layers if isinstance(layer, keras.layers.Dense)]
    new_fc.set_weights(heads.get_layer("s2_fc").get_weights())
    new_logits.set_weights(heads.get_layer("scenario_2").get_weights())
    train(fine_tuned, x, y, cfg.fine_tune_steps, cfg.batch_size, seed=seed)
    row["fine-tuned"] = accuracy(fine_tuned, x_test, y_test)
    restart(scratch, starts["scratch"])
    train(scratch, x, y, cfg.scratch_steps, cfg.batch_size, seed=seed)
    row["scratch"] = accuracy(scratch, x_test, y_test)
    return row


def compare(tasks: Mapping[str, Mapping[str, Any]], cfg: Any, pretrained: Any, encoder_config: Any,
            fine_tune_lr: float, methods: Methods) -> dict[tuple[str, int], dict[str, float]]:
    """Run :func:`compare_on` on every task; return {(task name, per_class): {method: accuracy}}."""
    results = {}
    for name, task in tasks.items():
        for per_class, row in compare_on({**task, "name": name}, cfg, pretrained, encoder_config, fine_tune_lr,
                                         methods).items():
            results[name, per_class] = row
    return results


def results_table(results: Mapping[tuple[str, int], Mapping[str, float]]) -> str:
    """Return the comparison as a Markdown table: one row per task and size, one column per method."""
    methods = list(next(iter(results.values())))
    lines = ["| task | labelled per class | " + " | ".join(methods) + " |", "|" + "---|" * (len(methods) + 2)]
    for (name, per_class), row in results.items():
        lines.append(f"| {name} | {per_class} | " + " | ".join(f"{row[m]:.3f}" for m in methods) + " |")
    return "\n".join(lines)
