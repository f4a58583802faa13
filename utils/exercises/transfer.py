"""Lab 5 checks: a new head on a frozen encoder, a feature extractor and k-NN, the learning-rate range test, and
unfreezing for fine-tuning.

Every probe builds its own tiny "pretrained" classifier (:func:`tiny_pretrained`: the course encoder's structure,
``conv_base`` -> ``fc1`` -> ``logits``, with deterministic random weights and batch-norm statistics, never trained),
so no check depends on the notebook's encoder, data or earlier cells. Probes leave the global random state (Python,
NumPy, Keras) as they found it, so running a check does not change what the notebook computes afterwards.

References are Keras itself (the judge rebuilds the same tiny model), stated facts (a geometric schedule, the loss of
a batch whose loss is known by construction) and a brute-force nearest-neighbour vote, never the solutions' code.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from utils.exercises.framework import (
    OBJECT, RAISED, as_array, call_raw, check, expect_array, expect_equal, expect_raised_nothing, expect_true, fail,
    observe, preserved_random_state, raised_record,
)

# The tiny pretrained classifier: non-square images, two conv blocks, and widths that all differ
# (conv_base codes 5, fc1 6, source classes 4), so a layer in the wrong place shows in a shape.
IMAGE_SHAPE = (11, 9, 1)
FILTERS = (3, 5)
FC_UNITS = 6
SOURCE_CLASSES = 4
SEED = 505
# transfer_model cases: (num_classes, scenario, hidden_units); hidden sizes differ from the default 64.
TRANSFER_CASES = [(3, 1, 7), (4, 2, 8), (2, 2, 3)]


# ---------------------------------------------------------------------------
# Shared: a tiny deterministic "pretrained" model, and a probe that leaves no trace
# ---------------------------------------------------------------------------


def tiny_pretrained(seed: int = SEED) -> Any:
    """Return a small classifier shaped like the course encoder, with deterministic random weights (untrained)."""
    import keras

    layers = keras.layers
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, width in enumerate(FILTERS, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    conv_base = keras.Model(inputs, layers.GlobalAveragePooling2D(name="gap")(x), name="conv_base")
    image = keras.Input(IMAGE_SHAPE, name="image")
    hidden = layers.Dense(FC_UNITS, activation="relu", name="fc1")(conv_base(image))
    model = keras.Model(image, layers.Dense(SOURCE_CLASSES, name="logits")(hidden), name="tiny_pretrained")
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape, name = tuple(variable.shape), variable.path.split("/")[-1]
        if name in ("gamma", "moving_variance"):
            value = rng.uniform(0.5, 2.0, shape)
        elif name in ("beta", "moving_mean", "bias"):
            value = rng.normal(0.0, 0.5, shape)
        else:
            value = rng.normal(0.0, 1.0, shape)
        variable.assign(value.astype("float32"))
    return model


def probe_images(seed: int = SEED, count: int = 5) -> np.ndarray:
    """Return fixed images in 0..255 (float32) for the tiny model."""
    return np.random.default_rng(seed + 1).uniform(0, 255, (count, *IMAGE_SHAPE)).astype("float32")


def reference_codes(x: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Return the tiny model's conv_base codes of ``x`` in inference mode (float64)."""
    model = tiny_pretrained(seed)
    return np.asarray(model.get_layer("conv_base")(x, training=False), dtype=np.float64)


def _origins(pretrained: Any) -> tuple[dict[int, str], list[tuple[str, np.ndarray]]]:
    """Map the pretrained variables (by identity) to 'conv_base', 'fc1' or 'logits'; also list their values."""
    by_id, values = {}, []
    for name in ("conv_base", "fc1", "logits"):
        for variable in pretrained.get_layer(name).weights:
            by_id[id(variable)] = name
            values.append((name, np.array(variable)))
    return by_id, values


def _origin(variable: Any, by_id: dict[int, str], values: list[tuple[str, np.ndarray]]) -> str:
    """Return where a variable comes from: a pretrained part (the same variable or a copy of its values) or 'new'."""
    if id(variable) in by_id:
        return by_id[id(variable)]
    value = np.array(variable)
    for name, known in values:
        if known.shape == value.shape and np.array_equal(known, value):
            return name
    return "new"


def _weights_report(model: Any, pretrained: Any) -> dict[str, dict[str, int]]:
    """Count a model's scalars by origin: {'conv_base': {'total': n, 'trainable': m}, ...}."""
    by_id, values = _origins(pretrained)
    trainable = {id(v) for v in model.trainable_weights}
    report: dict[str, dict[str, int]] = {}
    for variable in model.weights:
        entry = report.setdefault(_origin(variable, by_id, values), {"total": 0, "trainable": 0})
        size = int(np.prod(variable.shape))
        entry["total"] += size
        entry["trainable"] += size if id(variable) in trainable else 0
    return report


def _kind(value: Any) -> str:
    """Name what a student function returned, for the judge."""
    import keras

    return "Model" if isinstance(value, keras.Model) else type(value).__name__


def _input_shape(model: Any) -> Any:
    """Return a model's input shape without the batch axis, or None when it has no single input."""
    try:
        return tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
    except Exception:  # noqa: BLE001
        return None


def _expect_built(what: str, raised: Any) -> None:
    """Fail with one sentence when building the model raised; explain a fixed input size."""
    if raised and "incompatible with the layer" in raised.get("message", ""):
        fail(f"{what} raised {raised[RAISED]} when calling conv_base on its input: the check's pretrained "
             f"model takes images of shape {IMAGE_SHAPE}, so build the input from `pretrained.input_shape[1:]`, not "
             "a fixed size.")
    expect_raised_nothing(raised)


def _expect_input_shape(what: str, shape: Any) -> None:
    """Fail when a model was built for a fixed image size instead of the pretrained model's."""
    if shape is not None and tuple(shape) != IMAGE_SHAPE:
        fail(f"{what} takes images of shape {tuple(shape)}, but the check's pretrained model takes {IMAGE_SHAPE}: "
             "build the input from `pretrained.input_shape[1:]`, not a fixed size.")


def _run(func_name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``func`` (a model, a method) and return plain data, or the record of what it raised.

    A model with several outputs (a list, tuple or dict of them) is reported as such, not as an array.
    """
    try:
        result = func(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        return raised_record(func_name, exc)
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        if len(result) != 1:
            return {OBJECT: f"list of {len(result)} outputs (the model should have one output)"}
        result = result[0]
    try:
        return np.asarray(result)
    except Exception as exc:  # noqa: BLE001
        return raised_record(func_name, exc)


# Layers that change their output in training mode whatever their `trainable` flag (random by design).
STOCHASTIC_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianDropout",
                     "GaussianNoise", "AlphaDropout")


def _stochastic_layers(model: Any) -> list[str]:
    """Return the class names of a model's layers (nested ones included) that are random in training mode."""
    from utils.models import layers_of

    try:
        return sorted({type(layer).__name__ for layer in layers_of(model)
                       if type(layer).__name__ in STOCHASTIC_LAYERS})
    except Exception:  # noqa: BLE001 - a model without .layers: nothing to report
        return []


# ---------------------------------------------------------------------------
# Exercise A: transfer_model
# ---------------------------------------------------------------------------


def probe_transfer_model(transfer_model: Any, cases: list[tuple[int, int, int]] | None = None,
                         seed: int = SEED) -> dict[str, Any]:
    """Build each case's model on a fresh tiny pretrained classifier; report its weights, new layers and scores."""
    from utils.models import layers_of

    import keras

    x = probe_images(seed)
    out = []
    with preserved_random_state():
        for num_classes, scenario, hidden in cases or TRANSFER_CASES:
            pretrained = tiny_pretrained(seed)
            model, raised = call_raw(transfer_model, pretrained, num_classes, scenario, hidden_units=hidden)
            record: dict[str, Any] = {"raised": raised, "kind": None if raised else _kind(model)}
            if record["kind"] == "Model":
                by_id, values = _origins(pretrained)
                record["weights"] = _weights_report(model, pretrained)
                record["input_shape"] = _input_shape(model)
                record["new_dense"] = [
                    {"kernel": np.array(layer.kernel),
                     "bias": np.array(layer.bias) if layer.use_bias else np.zeros(layer.units, "float32")}
                    for layer in layers_of(model, keras.layers.Dense) if _origin(layer.kernel, by_id, values) == "new"]
                record["scores"] = _run("the model", model, x, training=False)
                record["scores_training"] = _run("the model", model, x, training=True)
                record["stochastic"] = _stochastic_layers(model)
            out.append(record)
    return {"cases": out}


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def judge_transfer_model(data: dict[str, Any], cases: list[tuple[int, int, int]] | None = None,
                         seed: int = SEED) -> str:
    """Each model must reuse the frozen pretrained layers, train only new ones, and compute the right scores."""
    cases = cases or TRANSFER_CASES
    x = probe_images(seed)
    codes = reference_codes(x, seed)
    pretrained = tiny_pretrained(seed)
    fc1_kernel, fc1_bias = (np.asarray(w, np.float64) for w in pretrained.get_layer("fc1").weights)
    width = codes.shape[1]
    for (num_classes, scenario, hidden), record in zip(cases, data["cases"]):
        what = f"transfer_model(pretrained, num_classes={num_classes}, scenario={scenario}, hidden_units={hidden})"
        _expect_built(what, record["raised"])
        expect_true(record["kind"] == "Model", f"{what} returned a {record['kind']}; it should return a keras.Model.")
        _expect_input_shape(what, record.get("input_shape"))
        weights = record["weights"]
        total = {name: weights.get(name, {"total": 0})["total"] for name in ("conv_base", "fc1", "logits", "new")}
        train = {name: weights.get(name, {"trainable": 0})["trainable"] for name in total}
        expect_true(not total["logits"], f"{what} still holds the pretrained `logits` layer (one output per source "
                    "class); replace it with a new Dense(num_classes).")
        expect_true(total["conv_base"] > 0, f"{what} does not hold the pretrained conv_base weights: call "
                    "`pretrained.get_layer(\"conv_base\")` itself on the new input, not a re-initialised copy.")
        keeps_fc1 = scenario == 1
        expect_true(total["fc1"] > 0 or not keeps_fc1, f"{what} has no pretrained fc1: scenario 1 keeps fc1 (frozen) "
                    "and puts only a new last layer on its output.")
        expect_true(not total["fc1"] or keeps_fc1, f"{what} keeps the pretrained fc1: scenario 2 replaces it with a "
                    "new Dense(hidden_units, activation=\"relu\").")
        frozen_head = train["new"] < total["new"]
        if train["conv_base"] or train["fc1"]:
            part = "conv_base" if train["conv_base"] else "the pretrained fc1"
            extra = (", and the new layers are frozen: freeze the pretrained layers, not the head" if frozen_head else
                     "; set `trainable = False` on it before building the model")
            fail(f"{what} would train {train['conv_base'] + train['fc1']:,} pretrained parameters: {part} is trainable"
                 f"{extra}.")
        expect_true(not frozen_head, f"{what} trains {train['new']:,} of its {total['new']:,} new parameters: the new "
                    "layers must stay trainable (freeze only the pretrained ones).")
        dense = record["new_dense"]
        wanted = [(FC_UNITS, num_classes)] if keeps_fc1 else [(width, hidden), (hidden, num_classes)]
        got = [tuple(d["kernel"].shape) for d in dense]
        if got != wanted:
            hint = ""
            if scenario == 2 and len(got) == 2 and got[0][1] != hidden:
                hint = f" (hidden_units={hidden} ignored?)"
            fail(f"{what} has new Dense layers with kernels of shapes {got}, expected {wanted}{hint}.")
        features = _relu(codes @ fc1_kernel + fc1_bias) if keeps_fc1 else codes
        kernels = [np.asarray(d["kernel"], np.float64) for d in dense]
        biases = [np.asarray(d["bias"], np.float64) for d in dense]
        expected = linear = features @ kernels[0] + biases[0]
        if not keeps_fc1:
            expected = _relu(linear) @ kernels[1] + biases[1]
            linear = linear @ kernels[1] + biases[1]
        scores = record["scores"]
        expect_raised_nothing(scores)
        got_scores = as_array(f"{what}'s scores", scores, expected.shape)
        hint = ""
        if np.all(got_scores >= 0) and np.allclose(got_scores.sum(axis=1), 1.0, atol=1e-4):
            hint = "they look like probabilities: output class scores, with no softmax"
        elif scenario == 2 and np.allclose(got_scores, linear, rtol=1e-4, atol=1e-4):
            hint = "the new hidden layer has no ReLU"
        elif np.allclose(got_scores, _relu(expected), rtol=1e-4, atol=1e-4):
            hint = "negative scores are cut to 0: the last Dense layer needs no activation"
        expect_array(f"{what}'s scores on fixed images", got_scores, expected, tol=1e-5, atol=1e-5, hint=hint)
        expect_raised_nothing(record["scores_training"])
        training_same = np.allclose(record["scores_training"], got_scores, rtol=1e-4, atol=1e-5)
        if not training_same and record.get("stochastic"):
            fail(f"{what} has a {record['stochastic'][0]} layer, which changes the scores in training mode: the new "
                 "head is Dense layers only.")
        expect_true(training_same,
                    f"{what}: a training-mode call changes the scores, so batch norm would use batch statistics in "
                    "fit; keep the encoder frozen so it runs in inference mode.")
    return (f"transfer_model builds scenarios 1 and 2 on {len(cases)} cases: pretrained layers reused and frozen, "
            "only the new head trains, scores match")


check_transfer_model = check("transfer.transfer_model", probe_transfer_model, judge_transfer_model)


# ---------------------------------------------------------------------------
# Exercise B: feature_extractor and knn_predict
# ---------------------------------------------------------------------------


def probe_feature_extractor(feature_extractor: Any, seed: int = SEED) -> dict[str, Any]:
    """Build the extractor on a tiny pretrained model; report its kind, trainable weights and codes."""
    x = probe_images(seed)
    with preserved_random_state():
        pretrained = tiny_pretrained(seed)
        extractor, raised = call_raw(feature_extractor, pretrained)
        record: dict[str, Any] = {"raised": raised, "kind": None if raised else _kind(extractor)}
        if record["kind"] == "Model":
            record["weights"] = _weights_report(extractor, pretrained)
            record["input_shape"] = _input_shape(extractor)
            record["codes"] = _run("the feature extractor", extractor, x, training=False)
            record["codes_training"] = _run("the feature extractor", extractor, x, training=True)
            record["stochastic"] = _stochastic_layers(extractor)
    return record


def judge_feature_extractor(data: dict[str, Any], seed: int = SEED) -> str:
    """The extractor must be a frozen model whose outputs are conv_base's codes."""
    what = "feature_extractor(pretrained)"
    _expect_built(what, data["raised"])
    expect_true(data["kind"] == "Model", f"{what} returned a {data['kind']}; it should return a keras.Model.")
    _expect_input_shape(what, data.get("input_shape"))
    expected = reference_codes(probe_images(seed), seed)
    codes = data["codes"]
    expect_raised_nothing(codes)
    n = len(expected)
    shape = tuple(np.shape(codes)) if isinstance(codes, np.ndarray) else None
    if shape == (n, FC_UNITS):
        fail(f"{what} outputs {FC_UNITS} numbers per image, the width of fc1: stop at conv_base's output, "
             "the fully connected layers are what scenario 3 removes.")
    if shape == (n, SOURCE_CLASSES):
        fail(f"{what} outputs the pretrained class scores: stop at conv_base's output.")
    expect_array(f"{what}'s codes of fixed images", codes, expected, tol=1e-5, atol=1e-5,
                 hint="they should be conv_base's outputs in inference mode, images passed as they are")
    trainable = sum(entry["trainable"] for entry in data["weights"].values())
    expect_true(trainable == 0, f"{what} has {trainable:,} trainable parameters: set `trainable = False` on the "
                "extractor, so it is a fixed feature extractor.")
    expect_raised_nothing(data["codes_training"])
    training_same = np.allclose(data["codes_training"], codes, rtol=1e-4, atol=1e-5)
    if not training_same and data.get("stochastic"):
        fail(f"{what} has a {data['stochastic'][0]} layer, which changes the codes in training mode: output "
             "conv_base's codes, nothing added.")
    expect_true(training_same,
                f"{what}: a training-mode call changes the codes, so batch norm is not in inference mode.")
    return f"feature_extractor is frozen and returns conv_base's {expected.shape[1]}-number codes"


check_feature_extractor = check("transfer.feature_extractor", probe_feature_extractor, judge_feature_extractor)


def knn_cases(seed: int = 7) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray, int]]:
    """Return (description, train codes, train labels, test codes, k) cases, the same on every call.

    The first cases each isolate one idea (Euclidean distance, nearest not farthest, k, a point's own label, ties);
    the random ones have different numbers of training and test codes and float32 codes, as in the notebook.
    """
    rng = np.random.default_rng(seed)
    line = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    line_labels = np.array([0, 0, 1, 1, 1, 0])
    cloud = rng.normal(size=(40, 6))
    cloud_labels = rng.integers(0, 4, size=40)
    ties = np.array([[0.0], [1.0], [3.0], [4.5]])
    ties_labels = np.array([2, 0, 2, 0])
    train32 = rng.normal(size=(30, 5)).astype("float32")
    labels32 = rng.choice([0, 1, 3, 4], size=30)
    test32 = rng.normal(size=(12, 5)).astype("float32")
    return [
        ("two training codes, k=1 (the nearest by Euclidean distance)", np.array([[1.0, 0.0], [10.0, 10.0]]),
         np.array([0, 1]), np.array([[1.5, 0.5]]), 1),
        ("points on a line with k=3", line, line_labels, np.array([[1.2], [10.9], [1.9]]), 3),
        ("points on a line with k=1", line, line_labels, np.array([[1.9], [11.6]]), 1),
        ("the training codes themselves with k=1 (each is its own nearest neighbour, at distance 0; exclude "
         "nothing)", cloud, cloud_labels, cloud.copy(), 1),
        ("vote ties with k=2 (the smallest tied label must win, as np.argmax does)", ties, ties_labels,
         np.array([[0.1], [4.4], [2.0]]), 2),
        ("a 2-2 vote tie with k=4 (the smallest tied label must win)", ties, ties_labels, np.array([[0.1]]), 4),
        ("30 training and 12 test codes in float32 with k=3", train32, labels32, test32, 3),
        ("30 training and 12 test codes in float32 with k=5", train32, labels32, test32, 5),
        ("k equal to the number of training codes (a vote of all 40)", cloud, cloud_labels, cloud[:5] + 0.01, 40),
    ]


def reference_knn(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int, order: int = 1, skip: int = 0,
                  tie: str = "smallest", similarity: bool = False, manhattan: bool = False) -> np.ndarray:
    """Brute force: each test code's k nearest training codes by Euclidean distance, then the smallest top label.

    The other arguments describe common mistakes, for the judge's hints: ``order=-1`` takes the farthest codes,
    ``skip=1`` drops the nearest, ``similarity`` ranks by dot product, ``manhattan`` by the sum of absolute
    differences, ``tie`` is 'largest', 'nearest' or 'mean'.
    """
    train, result = np.asarray(train, np.float64), []
    for point in np.asarray(test, np.float64):
        score = (-(train @ point) if similarity else np.abs(train - point).sum(axis=1) if manhattan else
                 np.sqrt(((train - point) ** 2).sum(axis=1)))
        nearest = sorted(range(len(train)), key=lambda i: (order * score[i], i))[skip:skip + k]
        votes = [int(labels[i]) for i in nearest]
        if tie == "mean":
            result.append(int(np.round(np.mean(votes))))
            continue
        counts = {label: votes.count(label) for label in votes}
        top = [label for label in votes if counts[label] == max(counts.values())]
        result.append(top[0] if tie == "nearest" else max(top) if tie == "largest" else min(top))
    return np.array(result)


KNN_MISTAKES = [
    (dict(order=-1), "it took the k farthest training codes: sort distances in increasing order"),
    (dict(similarity=True), "it ranked by dot product: use the Euclidean distance"),
    (dict(skip=1), "it skipped the nearest training code: exclude nothing, a test code is not a training code"),
    (dict(manhattan=True), "it ranked by the sum of absolute differences: use the Euclidean distance"),
    (dict(k=1), "it used only the nearest neighbour: take k of them"),
    (dict(extra=1), "it took k+1 neighbours: an off-by-one, take the first k of the sorted distances"),
    (dict(extra=-1), "it took k-1 neighbours: an off-by-one, take the first k of the sorted distances"),
    (dict(tie="nearest"), "on a tie the nearest neighbour's label won; the smallest tied label must win"),
    (dict(tie="largest"), "on a tie the largest label won; the smallest tied label must win"),
    (dict(tie="mean"), "it averaged the labels; take a majority vote"),
]


def _knn_hint(cases: list[tuple[Any, ...]], outputs: list[Any], failing: int) -> str:
    """Name the mistake that reproduces the student's labels on the failing case and on the most other cases."""
    best, best_count = "", 0
    for change, hint in KNN_MISTAKES:
        count, matches_failing = 0, False
        for index, ((_, train, labels, test, k), got) in enumerate(zip(cases, outputs)):
            options = {**change}
            used = options.pop("k", k) + options.pop("extra", 0)
            if ("k" in change and k == 1) or not 1 <= used <= len(train):
                continue
            guess = reference_knn(train, labels, test, used, **options)
            same = isinstance(got, np.ndarray) and got.shape == guess.shape and np.array_equal(got, guess)
            count += same
            matches_failing |= same and index == failing
        if matches_failing and count > best_count:
            best, best_count = hint, count
    return best


def probe_knn_predict(knn_predict: Any, seed: int = 7) -> dict[str, Any]:
    """Run the student's k-NN on every case (on copies), twice, from two fixed global random states.

    The global state is seeded so the verdict never depends on it, and restored afterwards; the second run shows
    whether the labels depend on random numbers (a random tie-break).
    """
    runs = []
    with preserved_random_state():
        for state in (SEED, SEED + 1):
            random.seed(state)
            np.random.seed(state)
            runs.append([observe(knn_predict, train.copy(), labels.copy(), test.copy(), k)
                         for _, train, labels, test, k in knn_cases(seed)])
    varies = any(isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and not
                 (a.shape == b.shape and np.array_equal(a, b)) for a, b in zip(*runs))
    return {"outputs": runs[0], "varies": varies}


def judge_knn_predict(data: dict[str, Any], seed: int = 7) -> str:
    """Compare each case's labels with a brute-force vote."""
    cases = knn_cases(seed)
    expect_true(not data.get("varies"), "knn_predict returned different labels for the same codes on two calls: it "
                "uses random numbers (a random tie-break?); on a tie the smallest label wins, as np.argmax does.")
    for index, ((description, train, labels, test, k), got) in enumerate(zip(cases, data["outputs"])):
        expected = reference_knn(train, labels, test, k)
        hint = ""
        if isinstance(got, np.ndarray) and got.shape == (len(train),) != expected.shape:
            fail(f"knn_predict on {description} returned {len(train)} labels, one per training code, expected "
                 f"{len(test)}, one per test code: sort each test code's distances to the training codes (axis=1).")
        if isinstance(got, np.ndarray) and got.shape == expected.shape and not np.array_equal(got, expected):
            hint = _knn_hint(cases, data["outputs"], index)
        expect_equal(f"knn_predict on {description}", got, expected, hint=hint)
    return f"knn_predict matches a brute-force nearest-neighbour vote on {len(cases)} cases (k=1 to 40, ties)"


check_knn_predict = check("transfer.knn_predict", probe_knn_predict, judge_knn_predict)


# ---------------------------------------------------------------------------
# Exercise C1: the learning-rate range test as a Keras callback
# ---------------------------------------------------------------------------

# Batch losses known by construction: a model whose input is all zeros predicts 0 whatever its weights (and gets
# zero gradients), so the MSE of a batch whose targets all equal sqrt(L) is exactly L, at any learning rate.
LOSS_CASES = [
    # (label, batch losses, num_steps, diverge or None for the default, batches available)
    ("each batch's loss", [2.0, 1.0, 3.0, 1.5, 0.5, 1.2], 6, None, 9),
    ("a loss above 4 times the lowest so far (the default diverge=4)", [3.0, 1.0, 2.0, 3.5, 5.0, 1.0, 1.0, 1.0], 8,
     None, 8),
    ("a loss above diverge=2 times the lowest so far", [1.0, 0.8, 1.5, 1.7, 0.9, 1.0, 1.2, 1.0], 8, 2.0, 8),
    ("a NaN loss", [1.0, 1.0, float("nan"), 1.0, 1.0, 1.0], 6, None, 6),
]
SCHEDULE = (1e-5, 1e-3, 10)  # min_lr, max_lr, num_steps of the schedule case
SCHEDULE_BATCHES, START_LR = 20, 0.0123


def _spy() -> Any:
    """Return a callback that reads, after the callbacks before it, the optimizer's rate and Keras's loss logs."""
    import keras

    class Spy(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.rates: list[float] = []
            self.means: list[float] = []

        def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
            self.rates.append(float(self.model.optimizer.learning_rate))

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.means.append(float((logs or {}).get("loss", np.nan)))

    return Spy()


def _floats(values: Any) -> Any:
    """Return a recorded list of numbers as a float64 array, or a note saying what it is instead."""
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except Exception:  # noqa: BLE001
        return {"__object__": type(values).__name__}


def _method_of(cls: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Name a callback's method with its class ('LRRangeTest.on_train_begin') in the record of what it raised."""
    name = getattr(cls, "__name__", "LRRangeTest")
    inner = record.get("innermost", "")
    if inner and inner != name and "." not in inner and hasattr(cls, inner):
        record = {**record, "innermost": f"{name}.{inner}"}
    return record


def _run_finder(LRRangeTest: Any, model: Any, x: np.ndarray, y: np.ndarray, batch_size: int,
                args: tuple[Any, ...]) -> dict[str, Any]:
    """Construct the student's callback, fit one epoch with it and a spy, and report what both saw."""
    finder, raised = call_raw(LRRangeTest, *args)
    if raised:
        return {"raised": _method_of(LRRangeTest, raised)}
    spy = _spy()
    try:
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[finder, spy])
    except Exception as exc:  # noqa: BLE001
        return {"raised": _method_of(LRRangeTest, raised_record(getattr(LRRangeTest, "__name__", "LRRangeTest"),
                                                                  exc))}
    record: dict[str, Any] = {"raised": None, "seen": np.array(spy.rates), "means": np.array(spy.means)}
    for attribute in ("lrs", "losses"):
        record[attribute] = _floats(getattr(finder, attribute)) if hasattr(finder, attribute) else None
    return record


def _regression(seed: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """A linear regression whose weights move under SGD; weights and data from a local generator."""
    import keras

    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.set_weights([rng.normal(size=(4, 1)).astype("float32"), np.zeros(1, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(START_LR), loss="mse", run_eagerly=True)
    x = rng.normal(size=(SCHEDULE_BATCHES * 8, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=len(x))).astype("float32")[:, None]
    return model, x, y


def _known_losses(losses: list[float], batches: int, batch_size: int = 4) -> tuple[Any, np.ndarray, np.ndarray]:
    """A model and data whose batch losses are exactly ``losses`` (padded with 1.0 up to ``batches``)."""
    import keras

    values = (list(losses) + [1.0] * batches)[:batches]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.set_weights([np.ones((1, 1), "float32")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", run_eagerly=True)
    x = np.zeros((batches * batch_size, 1), "float32")
    y = np.repeat(np.sqrt(np.array(values, np.float64)), batch_size).astype("float32")[:, None]
    return model, x, y


def probe_lr_range_test(LRRangeTest: Any, schedule: tuple[float, float, int] = SCHEDULE,
                        loss_cases: list | None = None) -> dict[str, Any]:
    """Run the student's callback on a regression (rates, restoring) and on batches of known loss (losses, stops)."""
    with preserved_random_state():
        model, x, y = _regression(SEED)
        before = [np.array(w) for w in model.get_weights()]
        # diverge so large that only num_steps stops it: batch losses of a regression vary from batch to batch
        record = _run_finder(LRRangeTest, model, x, y, 8, (*schedule, 1e9))
        if not record["raised"]:
            after = model.get_weights()
            record["weights_change"] = float(max(np.max(np.abs(a - b)) for a, b in zip(before, after)))
            record["lr_after"] = float(model.optimizer.learning_rate)
        runs = []
        for _, losses, steps, diverge, batches in loss_cases or LOSS_CASES:
            model, x, y = _known_losses(losses, batches)
            args = (1e-3, 1e-1, steps) if diverge is None else (1e-3, 1e-1, steps, diverge)
            runs.append(_run_finder(LRRangeTest, model, x, y, 4, args))
    return {"schedule": record, "losses": runs}


def _expected_stop(losses: list[float], steps: int, diverge: float) -> int:
    """Return how many steps the range test runs on known batch losses (the docstring's stopping rule)."""
    lowest = np.inf
    for i, loss in enumerate(losses[:steps]):
        lowest = min(lowest, loss)
        if not np.isfinite(loss) or loss > diverge * lowest:
            return i + 1
    return steps


def _recorded(name: str, value: Any, what: str) -> np.ndarray:
    """Return a recorded list as an array, or fail with one sentence when it is missing or not numbers."""
    expect_true(value is not None, f"{what} has no attribute `{name}`: keep the recorded values in `self.{name}`.")
    if isinstance(value, dict):
        fail(f"{what}.{name} should be a list of numbers, but it is a {value.get('__object__', 'something else')}.")
    return value


def _expect_batch_losses(what: str, record: dict[str, Any]) -> None:
    """Fail when a run that stopped early recorded losses that are not the batch losses Keras's running means imply.

    A wrong batch loss (a difference of two running means, say) can look like divergence and stop the test early;
    the sentence then names the losses, not the stopping rule.
    """
    means = np.asarray(record["means"], np.float64)
    got = record["losses"]
    if not isinstance(got, np.ndarray) or got.shape != means.shape or not len(means):
        return
    previous = np.concatenate([[0.0], means[:-1]])
    index = np.arange(len(means))
    batch = (index + 1) * means - index * previous
    close = np.abs(got - batch) <= 1e-3 * np.maximum(1.0, np.abs(batch))
    if not np.all(close):
        i = int(np.argmin(close))
        fail(f"{what} stopped after {len(means)} of {record.get('steps', len(means))} steps although diverge=1e9 here, "
             f"because self.losses is not each batch's loss (step {i}: got {got[i]:.4g}, expected {batch[i]:.4g}): "
             "recover it from two running means, (batch + 1) * mean - batch * previous_mean.")


def judge_lr_range_test(data: dict[str, Any], schedule: tuple[float, float, int] = SCHEDULE,
                        loss_cases: list | None = None) -> str:
    """Rates geometric and used by the optimizer, model restored, each batch's loss recorded, stops as specified."""
    low, high, steps = schedule
    what = f"LRRangeTest({low:g}, {high:g}, {steps})"
    record = data["schedule"]
    expect_raised_nothing(record["raised"])
    ran = len(record["seen"])
    if ran < steps:
        _expect_batch_losses(what, {**record, "steps": steps})
    if ran != steps:
        hint = (f"it never stopped: set `self.model.stop_training = True` once {steps} steps have run" if
                ran == SCHEDULE_BATCHES else "it stopped late: an off-by-one in the step count?" if ran > steps else
                "it stopped early although diverge=1e9 here: is the diverge argument used, and are steps counted "
                "from 1?")
        fail(f"{what} let training run {ran} of {SCHEDULE_BATCHES} batches, expected {steps} ({hint}).")
    expected = np.geomspace(low, high, steps)
    lrs = _recorded("lrs", record["lrs"], what)
    hint = ""
    if lrs.shape == expected.shape:
        if np.allclose(lrs, np.linspace(low, high, steps), rtol=1e-4):
            hint = "they grow additively (linspace); the rate must grow geometrically, by the same factor each step"
        elif np.allclose(lrs, low * (high / low) ** (np.arange(steps) / steps), rtol=1e-4):
            hint = f"the last step must use max_lr: the exponent is i/(num_steps-1), i = 0..{steps - 1}"
        elif np.allclose(lrs, low * (high / low) ** (np.arange(1, steps + 1) / steps), rtol=1e-4):
            hint = f"the first step must use min_lr: the exponent is i/(num_steps-1), i = 0..{steps - 1}"
        elif np.all(lrs == lrs[0]):
            hint = ("every entry is the same: append this step's rate as a number, not the optimizer's variable, "
                    "which keeps changing")
    expect_array(f"{what}: the rates recorded in self.lrs", lrs, expected, tol=1e-5, hint=hint)
    seen = record["seen"]
    hint = ""
    if np.allclose(seen, START_LR, rtol=1e-5):
        hint = "the optimizer's rate never changed: set `self.model.optimizer.learning_rate` in on_train_batch_begin"
    elif np.allclose(seen[1:], expected[:-1], rtol=1e-4):
        hint = "each rate reached the optimizer one batch late: set it in on_train_batch_begin, before the batch"
    expect_array(f"{what}: the learning rates the optimizer used", seen, expected, tol=1e-5, hint=hint)
    expect_true(record["weights_change"] == 0.0, f"{what} left the weights changed (by up to "
                f"{record['weights_change']:.1e}): save them in on_train_begin and restore them in on_train_end.")
    expect_true(abs(record["lr_after"] - START_LR) <= 1e-6 * START_LR, f"{what} left the optimizer's learning rate "
                f"at {record['lr_after']:.3g} instead of {START_LR}: restore it in on_train_end.")
    for (label, losses, num_steps, diverge, batches), run in zip(loss_cases or LOSS_CASES, data["losses"]):
        expect_raised_nothing(run["raised"])
        stop = _expected_stop(losses, num_steps, diverge or 4.0)
        args = f"{num_steps}" + ("" if diverge is None else f", diverge={diverge:g}")
        name = f"LRRangeTest(..., {args}) on batches of known loss {losses[:stop]}"
        got_losses = _recorded("losses", run["losses"], name)
        ran = len(run["seen"])
        if ran != stop:
            why = ("it did not stop on a loss that is not finite (NaN > x is False)" if "NaN" in label else
                   f"compare each batch's loss with diverge times the *lowest* loss so far" if ran > stop else
                   "stop only after num_steps steps or on a diverging loss")
            fail(f"{name}: training ran {ran} step(s), expected {stop} ({label}; {why}).")
        want = np.array(losses[:stop], np.float64)
        finite = np.isfinite(want)
        if got_losses.shape == want.shape and np.all(np.isfinite(got_losses[finite])):
            hint = ""
            means = run["means"][:stop]
            if np.allclose(got_losses[finite], means[finite], rtol=1e-4) and not np.allclose(want, means, rtol=1e-4):
                hint = "these are Keras's running means, logs['loss']; recover each batch's loss from two of them"
            expect_array(f"{name}: the losses recorded in self.losses", got_losses[finite], want[finite], tol=1e-4,
                         hint=hint)
        else:
            if got_losses.shape == (stop - 1,):
                fail(f"{name}: self.losses holds {stop - 1} losses for {stop} steps: append the loss of the last "
                     "step too, before stopping.")
            as_array(f"{name}: self.losses", got_losses, want.shape)
            fail(f"{name}: self.losses holds NaN or infinity where the batch losses are finite.")
    return (f"LRRangeTest: geometric rates from min_lr to max_lr reach the optimizer, each batch's loss is recorded, "
            f"it stops after num_steps or on a diverging loss, and restores the model")


check_lr_range_test = check("transfer.lr_range_test", probe_lr_range_test, judge_lr_range_test)


# ---------------------------------------------------------------------------
# Exercise C2: prepare_fine_tuning
# ---------------------------------------------------------------------------

# The rate differs from Adam's default (1e-3) and from round values, so a rate that is not passed on shows.
FINE_TUNE_RATE, SENTINEL_RATE, ADAM_DEFAULT = 2e-4, 0.05, 1e-3


def frozen_transfer_model(seed: int = SEED, scenario: int = 2, num_classes: int = 3, hidden: int = 4) -> Any:
    """Return a Part A-like model: the tiny pretrained conv_base (frozen on its own) and a new head, compiled."""
    import keras

    layers = keras.layers
    pretrained = tiny_pretrained(seed)
    encoder, first = pretrained.get_layer("conv_base"), pretrained.get_layer("fc1")
    encoder.trainable = first.trainable = False  # conv_base frozen on its own, as Part A leaves it
    image = keras.Input(IMAGE_SHAPE)
    codes = encoder(image)
    hidden_out = first(codes) if scenario == 1 else layers.Dense(hidden, activation="relu")(codes)
    model = keras.Model(image, layers.Dense(num_classes)(hidden_out))
    rng = np.random.default_rng(seed + 2)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0.0, 0.5, tuple(variable.shape)).astype("float32"))
    model.compile(optimizer=keras.optimizers.Adam(SENTINEL_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _loss_from_logits(model: Any) -> Any:
    """Return whether the compiled loss reads class scores (logits): True, False, or None when unknown."""
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return False  # a loss named by a string takes its default, from_logits=False
    config = loss.get_config() if hasattr(loss, "get_config") else {}
    return config.get("from_logits")


def _loss_reads_scores(model: Any) -> Any:
    """Return whether the compiled loss is cross-entropy on class scores: True, False, or None when unknown.

    Evaluates the loss on fixed scores (so a loss given as a function or a lambda is judged by what it computes);
    falls back on the loss's configuration when it cannot be evaluated.
    """
    scores = np.array([[2.0, -1.0, 0.5], [-3.0, 1.0, 4.0], [0.3, 0.2, -2.0]], "float32")
    labels = np.array([0, 2, 1])
    import tensorflow as tf

    expected = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, scores)))
    try:
        value = float(model.compute_loss(x=None, y=labels, y_pred=scores, training=False))
    except Exception:  # noqa: BLE001 - an output that is not 3 classes wide, a loss that needs more: use the config
        return _loss_from_logits(model)
    return abs(value - expected) <= 1e-4 * max(1.0, expected)


def probe_prepare_fine_tuning(prepare_fine_tuning: Any, learning_rate: float = FINE_TUNE_RATE, scenario: int = 1,
                              seed: int = SEED) -> dict[str, Any]:
    """Prepare a trained-head model (its head-only training step already traced), then train it two steps."""
    import keras

    from utils.models import layers_of

    layers = keras.layers
    rng = np.random.default_rng(seed + 3)
    x = probe_images(seed, 8)
    y = rng.integers(0, 3, size=8)
    with preserved_random_state():
        model = frozen_transfer_model(seed, scenario)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # traces a head-only training step
        returned, raised = call_raw(prepare_fine_tuning, model, learning_rate)
        record: dict[str, Any] = {"raised": raised, "returned": None if raised else _kind(returned),
                                  "same": returned is model}
        if raised:
            return record
        optimizer = getattr(model, "optimizer", None)
        record["optimizer"] = type(optimizer).__name__ if optimizer is not None else None
        record["rate"] = float(optimizer.learning_rate) if optimizer is not None else None
        record["from_logits"] = _loss_reads_scores(model) if optimizer is not None else None
        trainable = {id(v) for v in model.trainable_weights}
        kernels = [layer.kernel for layer in layers_of(model, (layers.Conv2D, layers.Dense))]
        norms = [v for layer in layers_of(model, layers.BatchNormalization) for v in layer.weights]
        record["kernels"] = [id(k) in trainable for k in kernels]
        top = {id(layer) for layer in model.layers}
        record["frozen_top"] = [layer.name for layer in layers_of(model, (layers.Conv2D, layers.Dense))
                                if id(layer) in top and id(layer.kernel) not in trainable]
        record["norms_trainable"] = sum(int(np.prod(v.shape)) for v in norms if id(v) in trainable)
        record["inference_gap"] = float(np.max(np.abs(_run("the model", model, x, training=True)
                                                      - _run("the model", model, x, training=False))))
        convs = [layer.kernel for layer in layers_of(model, layers.Conv2D)]
        before = {"conv": [np.array(v) for v in convs], "norm": [np.array(v) for v in norms]}
        try:
            model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
        except Exception as exc:  # noqa: BLE001
            record["fit"] = raised_record("fit after prepare_fine_tuning", exc)
            return record
        record["fit"] = None
        record["conv_change"] = float(max(np.max(np.abs(np.array(v) - b)) for v, b in zip(convs, before["conv"])))
        record["norm_change"] = float(max(np.max(np.abs(np.array(v) - b)) for v, b in zip(norms, before["norm"])))
    return record


def judge_prepare_fine_tuning(data: dict[str, Any], learning_rate: float = FINE_TUNE_RATE, scenario: int = 1,
                              seed: int = SEED) -> str:
    """Compiled again at the rate, every conv/dense kernel trainable, every batch-norm layer frozen."""
    what = f"prepare_fine_tuning(model, {learning_rate:g})"
    if data["raised"]:
        expect_raised_nothing(data["raised"])
    expect_true(data["returned"] != "NoneType", f"{what} returned None: return the model.")
    expect_true(data["returned"] == "Model" and data["same"], f"{what} returned a {data['returned']} other than the "
                "model it was given: unfreeze and compile that model, and return it.")
    expect_true(data["optimizer"] is not None, f"{what} left the model without an optimizer: compile it.")
    rate = data["rate"]
    if abs(rate - SENTINEL_RATE) <= 1e-6 * SENTINEL_RATE:
        fail(f"{what} kept the optimizer the model was compiled with (rate {SENTINEL_RATE}): compile it again, "
             "which a change of `trainable` needs, with compile_classifier(model, learning_rate).")
    default = (" (Adam's default rate: was the optimizer given as \"adam\" or built without a rate?)"
               if abs(rate - ADAM_DEFAULT) <= 1e-6 * ADAM_DEFAULT else "")
    expect_true(abs(rate - learning_rate) <= 1e-5 * learning_rate, f"{what} compiled with a learning rate of "
                f"{rate:.3g}{default}, expected {learning_rate:g}: pass learning_rate on to compile_classifier.")
    expect_true(data["optimizer"] == "Adam", f"{what} compiled with {data['optimizer']}; use "
                "compile_classifier(model, learning_rate), which uses Adam.")
    expect_true(data["from_logits"] is not False, f"{what} compiled a loss that expects probabilities, but the model "
                "outputs class scores: use compile_classifier(model, learning_rate).")
    frozen = data["kernels"].count(False)
    top = data.get("frozen_top") or []
    if frozen and len(top) == frozen:
        fail(f"{what} leaves the top-level layer{'s' if frozen > 1 else ''} {', '.join(top)} frozen: unfreeze every "
             "layer of the model, not only conv_base's.")
    expect_true(not frozen, f"{what} leaves {frozen} of {len(data['kernels'])} convolution and dense kernels frozen "
                "(`model.trainable = True` does not reach a nested model frozen on its own): set `trainable` on every "
                "layer, walking nested models' `.layers`.")
    expect_true(data["norms_trainable"] == 0, f"{what} makes {data['norms_trainable']} batch-norm parameters "
                "trainable: keep every BatchNormalization layer frozen, so it stays in inference mode.")
    expect_true(data["inference_gap"] <= 1e-5, f"{what}: a training-mode call changes the outputs (by up to "
                f"{data['inference_gap']:.1e}), so batch norm is not in inference mode: keep it frozen.")
    expect_raised_nothing(data["fit"])
    expect_true(data["conv_change"] > 0, f"After {what}, two training steps left every convolution kernel unchanged: "
                "compile the model again after changing `trainable`, so fit builds a new training step.")
    expect_true(data["norm_change"] == 0.0, f"After {what}, two training steps changed batch-norm weights or "
                f"statistics (by up to {data['norm_change']:.1e}): keep the BatchNormalization layers frozen.")
    return (f"prepare_fine_tuning unfreezes all {len(data['kernels'])} kernels, keeps batch norm frozen in inference "
            f"mode, and recompiles with Adam at {learning_rate:g}")


check_prepare_fine_tuning = check("transfer.prepare_fine_tuning", probe_prepare_fine_tuning,
                                  judge_prepare_fine_tuning)
