"""Lab 5's exercise checks reject realistic wrong answers and accept differently written correct ones."""

from __future__ import annotations

import math
from collections import Counter

import keras
import numpy as np
import pytest
from keras import layers
from mutation import correct, verify, wrong

from utils.exercises import transfer as ex
from utils.models import layers_of
from utils.transfer import compile_classifier


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


# ---------------------------------------------------------------------------
# A: transfer_model
# ---------------------------------------------------------------------------


def tm_frozen_whole(pretrained, num_classes, scenario, hidden_units=64):
    """Correct, differently written: freeze the whole pretrained model; Dense + Activation layers."""
    pretrained.trainable = False
    inputs = keras.Input(pretrained.input_shape[1:])
    x = pretrained.get_layer("conv_base")(inputs)
    if scenario == 1:
        x = pretrained.get_layer("fc1")(x)
    else:
        x = layers.Dense(hidden_units)(x)
        x = layers.Activation("relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def tm_sequential(pretrained, num_classes, scenario, hidden_units=64):
    """Correct, differently written: a Sequential model, each pretrained layer frozen on its own."""
    parts = [pretrained.get_layer("conv_base")]
    if scenario == 1:
        parts.append(pretrained.get_layer("fc1"))
    for part in parts:
        part.trainable = False
    head = [layers.Dense(num_classes)] if scenario == 1 else [layers.Dense(hidden_units, activation="relu"),
                                                              layers.Dense(num_classes)]
    return keras.Sequential([keras.Input(pretrained.input_shape[1:]), *parts, *head])


def tm_frozen_copy(pretrained, num_classes, scenario, hidden_units=64):
    """Correct, differently written: a frozen copy of conv_base with the pretrained weights."""
    original = pretrained.get_layer("conv_base")
    copy = keras.models.clone_model(original)
    copy.set_weights(original.get_weights())
    copy.trainable = False
    inputs = keras.Input(pretrained.input_shape[1:])
    x = copy(inputs, training=False)
    if scenario == 1:
        top = pretrained.get_layer("fc1")
        top.trainable = False
        x = top(x)
    else:
        x = layers.Dense(hidden_units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def _tm(pretrained, num_classes, scenario, hidden_units=64, freeze_base=True, freeze_fc1=True, freeze_head=False,
        use_fc1=None, keep_logits=False, relu=True, hidden=None, softmax=False, fresh_base=False):
    """A transfer_model with one thing done wrong (the keyword says which)."""
    base = pretrained.get_layer("conv_base")
    if fresh_base:
        base = keras.models.clone_model(base)
    base.trainable = not freeze_base
    inputs = keras.Input(pretrained.input_shape[1:])
    x = base(inputs)
    use_fc1 = (scenario == 1) if use_fc1 is None else use_fc1
    if use_fc1:
        fc1 = pretrained.get_layer("fc1")
        fc1.trainable = not freeze_fc1
        x = fc1(x)
    new = []
    if scenario == 2:
        new.append(layers.Dense(hidden or hidden_units, activation="relu" if relu else None))
    if keep_logits:
        x = pretrained.get_layer("logits")(x)
    new.append(layers.Dense(num_classes, activation="softmax" if softmax else None))
    for layer in new:
        x = layer(x)
        layer.trainable = not freeze_head
    return keras.Model(inputs, x)


def tm_base_trainable(p, n, s, hidden_units=64):
    """Wrong: the encoder is left trainable."""
    return _tm(p, n, s, hidden_units, freeze_base=False)


def tm_head_frozen(p, n, s, hidden_units=64):
    """Wrong: the new head is frozen instead of the base."""
    return _tm(p, n, s, hidden_units, freeze_base=False, freeze_fc1=False, freeze_head=True)


def tm_fc1_trainable(p, n, s, hidden_units=64):
    """Wrong: scenario 1 leaves the pretrained fc1 trainable."""
    return _tm(p, n, s, hidden_units, freeze_fc1=False)


def tm_no_fc1(p, n, s, hidden_units=64):
    """Wrong: scenario 1 puts the new layer straight on conv_base's codes."""
    return _tm(p, n, s, hidden_units, use_fc1=False)


def tm_keeps_logits(p, n, s, hidden_units=64):
    """Wrong: the pretrained logits layer stays, with a new layer on top."""
    p.get_layer("logits").trainable = False
    return _tm(p, n, s, hidden_units, keep_logits=True, use_fc1=True)


def tm_no_relu(p, n, s, hidden_units=64):
    """Wrong: scenario 2's new hidden layer is linear."""
    return _tm(p, n, s, hidden_units, relu=False)


def tm_hidden_ignored(p, n, s, hidden_units=64):
    """Wrong: scenario 2 always uses 64 hidden units."""
    return _tm(p, n, s, hidden_units, hidden=64)


def tm_softmax(p, n, s, hidden_units=64):
    """Wrong: a softmax on the output (class probabilities instead of scores)."""
    return _tm(p, n, s, hidden_units, softmax=True)


def tm_scenario2_keeps_fc1(p, n, s, hidden_units=64):
    """Wrong: scenario 2 adds the new hidden layer after fc1 instead of replacing it."""
    return _tm(p, n, s, hidden_units, use_fc1=True)


def tm_swapped(p, n, s, hidden_units=64):
    """Wrong: the scenarios swapped."""
    return _tm(p, n, 3 - s, hidden_units)


def tm_fixed_input(pretrained, num_classes, scenario, hidden_units=64):
    """Wrong: the input is built for the notebook's 28 x 28 images, not from the pretrained model."""
    pretrained.trainable = False
    inputs = keras.Input((28, 28, 1))
    x = pretrained.get_layer("conv_base")(inputs)
    x = pretrained.get_layer("fc1")(x) if scenario == 1 else layers.Dense(hidden_units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def tm_fresh_base(p, n, s, hidden_units=64):
    """Wrong: a re-initialised copy of conv_base (clone_model copies the structure, not the weights)."""
    return _tm(p, n, s, hidden_units, fresh_base=True)


def tm_sequential_no_input(pretrained, num_classes, scenario, hidden_units=64):
    """Correct, differently written: a Sequential model without an Input (built on its first call)."""
    base = pretrained.get_layer("conv_base")
    base.trainable = False
    parts = [base]
    if scenario == 1:
        top = pretrained.get_layer("fc1")
        top.trainable = False
        parts += [top, layers.Dense(num_classes)]
    else:
        parts += [layers.Dense(hidden_units, activation="relu"), layers.Dense(num_classes)]
    return keras.Sequential(parts)


def tm_nested_head(pretrained, num_classes, scenario, hidden_units=64):
    """Correct, differently written: keras.ops.relu in scenario 2, the new layers in a nested Sequential head."""
    pretrained.trainable = False
    inputs = keras.Input(pretrained.input_shape[1:])
    x = pretrained.get_layer("conv_base")(inputs)
    if scenario == 1:
        x = pretrained.get_layer("fc1")(x)
    else:
        x = keras.ops.relu(layers.Dense(hidden_units)(x))
    return keras.Model(inputs, keras.Sequential([layers.Dense(num_classes)])(x))


def tm_dropout(p, n, s, hidden_units=64):
    """Wrong: a Dropout layer in the head (scores change in training mode; the head is Dense layers only)."""
    p.trainable = False
    inputs = keras.Input(p.input_shape[1:])
    x = p.get_layer("conv_base")(inputs)
    x = p.get_layer("fc1")(x) if s == 1 else layers.Dense(hidden_units, activation="relu")(x)
    return keras.Model(inputs, layers.Dense(n)(layers.Dropout(0.5)(x)))


def tm_relu_output(p, n, s, hidden_units=64):
    """Wrong: a ReLU on the output layer."""
    model = _tm(p, n, s, hidden_units)
    model.layers[-1].activation = keras.activations.relu
    return model


def tm_two_outputs(p, n, s, hidden_units=64):
    """Wrong: the model outputs the features as well as the scores."""
    p.trainable = False
    inputs = keras.Input(p.input_shape[1:])
    x = p.get_layer("conv_base")(inputs)
    x = p.get_layer("fc1")(x) if s == 1 else layers.Dense(hidden_units, activation="relu")(x)
    return keras.Model(inputs, [layers.Dense(n)(x), x])


# ---------------------------------------------------------------------------
# B: feature_extractor and knn_predict
# ---------------------------------------------------------------------------


def fe_flat(pretrained):
    """Correct, differently written: conv_base's own input and output, frozen."""
    base = pretrained.get_layer("conv_base")
    extractor = keras.Model(base.input, base.output)
    extractor.trainable = False
    return extractor


def fe_base_itself(pretrained):
    """Correct, differently written: the frozen conv_base itself."""
    base = pretrained.get_layer("conv_base")
    base.trainable = False
    return base


def _fe(pretrained, upto="conv_base", freeze=True, rescale=False, flatten=False):
    inputs = keras.Input(pretrained.input_shape[1:])
    x = inputs / 255.0 if rescale else inputs
    base = pretrained.get_layer("conv_base")
    if flatten:
        x = layers.Flatten()(keras.Model(base.input, base.get_layer("pool2").output)(x))
    else:
        x = base(x)
    if upto in ("fc1", "logits"):
        x = pretrained.get_layer("fc1")(x)
    if upto == "logits":
        x = pretrained.get_layer("logits")(x)
    model = keras.Model(inputs, x)
    model.trainable = not freeze
    return model


def fe_includes_fc1(pretrained):
    """Wrong: the codes of fc1, not conv_base."""
    return _fe(pretrained, upto="fc1")


def fe_whole_classifier(pretrained):
    """Wrong: the whole pretrained classifier."""
    return _fe(pretrained, upto="logits")


def fe_trainable(pretrained):
    """Wrong: the extractor is not frozen."""
    return _fe(pretrained, freeze=False)


def fe_rescaled_twice(pretrained):
    """Wrong: images divided by 255 before conv_base, which rescales them itself."""
    return _fe(pretrained, rescale=True)


def fe_flattened_map(pretrained):
    """Wrong: the flattened last feature map instead of the pooled codes."""
    return _fe(pretrained, flatten=True)


def fe_dropout(pretrained):
    """Wrong: a Dropout layer after conv_base."""
    base = pretrained.get_layer("conv_base")
    inputs = keras.Input(pretrained.input_shape[1:])
    extractor = keras.Model(inputs, layers.Dropout(0.3)(base(inputs)))
    extractor.trainable = False
    return extractor


def knn_loops(train_features, train_labels, test_features, k):
    """Correct, differently written: a loop over test codes, np.linalg.norm, Counter, smallest tied label."""
    out = []
    for code in test_features:
        distances = np.linalg.norm(train_features - code, axis=1)
        votes = Counter(train_labels[np.argsort(distances, kind="stable")[:k]].tolist())
        best = max(votes.values())
        out.append(min(label for label, count in votes.items() if count == best))
    return np.array(out)


def knn_float32(train_features, train_labels, test_features, k):
    """Correct, differently written: float32 expansion, argpartition and bincount per row."""
    a, b = test_features.astype(np.float32), train_features.astype(np.float32)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    nearest = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(b) else np.argsort(d, axis=1)
    return np.array([np.bincount(train_labels[row]).argmax() for row in nearest])


def _knn(train_features, train_labels, test_features, k, order=1, first=0, vote="argmax", transposed=False,
         dot=False):
    if dot:
        d = -test_features @ train_features.T
    else:
        d = ((test_features[:, None, :] - train_features[None, :, :]) ** 2).sum(-1)
    if transposed:
        nearest = np.argsort(d.T, axis=0)[:k].T if d.shape[0] == d.shape[1] else np.argsort(d, axis=0)[:k].T
    else:
        nearest = np.argsort(order * d, axis=1, kind="stable")[:, first:first + k]
    labels = train_labels[nearest]
    if vote == "index":
        return nearest[:, 0]
    if vote == "mean":
        return np.round(labels.mean(axis=1)).astype(int)
    if vote == "first":
        return np.array([Counter(row.tolist()).most_common(1)[0][0] for row in labels])
    counts = np.stack([np.bincount(row, minlength=train_labels.max() + 1) for row in labels])
    if vote == "largest":
        return counts.shape[1] - 1 - counts[:, ::-1].argmax(axis=1)
    return counts.argmax(axis=1)


def knn_farthest(a, b, c, k):
    """Wrong: the k farthest training codes (argsort descending)."""
    return _knn(a, b, c, k, order=-1)


def knn_dot(a, b, c, k):
    """Wrong: the largest dot product instead of the smallest distance."""
    return _knn(a, b, c, k, dot=True)


def knn_k_ignored(a, b, c, k):
    """Wrong: always the single nearest neighbour."""
    return _knn(a, b, c, 1)


def knn_skips_nearest(a, b, c, k):
    """Wrong: skips the nearest neighbour, as if it were the test code itself."""
    return _knn(a, b, c, k, first=1)


def knn_nearest_first_tie(a, b, c, k):
    """Wrong on ties: Counter.most_common picks the tied label seen first (the nearest), not the smallest."""
    return _knn(a, b, c, k, vote="first")


def knn_largest_tie(a, b, c, k):
    """Wrong on ties: the largest tied label wins."""
    return _knn(a, b, c, k, vote="largest")


def knn_mean_label(a, b, c, k):
    """Wrong: the rounded mean of the neighbours' labels instead of a vote."""
    return _knn(a, b, c, k, vote="mean")


def knn_returns_index(a, b, c, k):
    """Wrong: returns the index of the nearest training code, not a label."""
    return _knn(a, b, c, k, vote="index")


def knn_wrong_axis(a, b, c, k):
    """Wrong: sorts the distances along the test axis."""
    return _knn(a, b, c, k, transposed=True)


def knn_no_test_norm(train_features, train_labels, test_features, k):
    """Correct, differently written: the test codes' squared norms dropped (the same for every training code)."""
    d = train_features @ (-2.0 * test_features.T) + (train_features ** 2).sum(1)[:, None]
    out = []
    for row in train_labels[np.argsort(d.T, axis=1, kind="stable")[:, :k]]:
        values, counts = np.unique(row, return_counts=True)
        out.append(values[counts.argmax()])
    return np.array(out)


def knn_random_tie(a, b, c, k):
    """Wrong: ties broken at random with the global NumPy generator."""
    d = ((c[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    out = []
    for row in b[np.argsort(d, axis=1, kind="stable")[:, :k]]:
        counts = np.bincount(row)
        out.append(np.random.choice(np.flatnonzero(counts == counts.max())))
    return np.array(out)


def knn_k_plus_one(a, b, c, k):
    """Wrong: an off-by-one slice, k+1 neighbours."""
    return _knn(a, b, c, k + 1)


def knn_k_minus_one(a, b, c, k):
    """Wrong: an off-by-one slice, k-1 neighbours (at least one)."""
    return _knn(a, b, c, max(k - 1, 1))


def knn_manhattan(a, b, c, k):
    """Wrong: the sum of absolute differences instead of the Euclidean distance."""
    d = np.abs(c[:, None, :] - a[None, :, :]).sum(-1)
    return np.array([np.bincount(row).argmax() for row in b[np.argsort(d, axis=1, kind="stable")[:, :k]]])


def knn_list(a, b, c, k):
    """Wrong convention: returns a Python list."""
    return knn_loops(a, b, c, k).tolist()


# ---------------------------------------------------------------------------
# C1: LRRangeTest
# ---------------------------------------------------------------------------


class RangeGood(keras.callbacks.Callback):
    """Correct, differently written: rates precomputed with geomspace, assign(), a running sum of batch losses."""

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__()
        self.schedule = np.geomspace(min_lr, max_lr, num_steps)
        self.num_steps, self.diverge = num_steps, diverge
        self.lrs, self.losses = [], []

    def on_train_begin(self, logs=None):
        self.start = [w.copy() for w in self.model.get_weights()]
        self.start_lr = float(self.model.optimizer.learning_rate)
        self.total = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        rate = float(self.schedule[len(self.lrs)])
        self.model.optimizer.learning_rate.assign(rate)
        self.lrs.append(rate)

    def batch_loss(self, batch, logs):
        loss = logs["loss"] * (batch + 1) - self.total
        self.total = logs["loss"] * (batch + 1)
        return loss

    def should_stop(self, loss):
        return not (loss <= self.diverge * min(self.losses)) or len(self.losses) >= self.num_steps

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(self.batch_loss(batch, logs))
        if self.should_stop(self.losses[-1]):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.model.set_weights(self.start)
        self.model.optimizer.learning_rate.assign(self.start_lr)


class RangeMultiplicative(keras.callbacks.Callback):
    """Correct, differently written: the rate multiplied by a constant factor each step, the lowest loss tracked,
    the rate read back from the optimizer (float32) into self.lrs."""

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__()
        self.rate, self.num_steps, self.diverge = min_lr, num_steps, diverge
        self.factor = (max_lr / min_lr) ** (1.0 / max(num_steps - 1, 1))
        self.lrs, self.losses = [], []

    def on_train_begin(self, logs=None):
        self.backup = self.model.get_weights()
        self.backup_rate = self.model.optimizer.learning_rate.numpy()
        self.previous, self.lowest = 0.0, math.inf

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate
        self.lrs.append(float(self.model.optimizer.learning_rate))
        self.rate *= self.factor

    def on_train_batch_end(self, batch, logs=None):
        loss = logs["loss"] + batch * (logs["loss"] - self.previous)
        self.previous = logs["loss"]
        self.losses.append(loss)
        self.lowest = min(self.lowest, loss)
        exploded = not math.isfinite(loss) or loss > self.diverge * self.lowest
        self.model.stop_training = exploded or len(self.losses) == self.num_steps

    def on_train_end(self, logs=None):
        self.model.set_weights(self.backup)
        self.model.optimizer.learning_rate = self.backup_rate


class RangeLinear(RangeGood):
    """Wrong: the rate grows additively (linspace)."""

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__(min_lr, max_lr, num_steps, diverge)
        self.schedule = np.linspace(min_lr, max_lr, num_steps)


class RangeExponentOffByOne(RangeGood):
    """Wrong: exponent i/n, so the last step never reaches max_lr."""

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__(min_lr, max_lr, num_steps, diverge)
        self.schedule = min_lr * (max_lr / min_lr) ** (np.arange(num_steps) / num_steps)


class RangeRunningMean(RangeGood):
    """Wrong: records Keras's running mean instead of each batch's loss."""

    def batch_loss(self, batch, logs):
        return logs["loss"]


class RangeNeverStops(RangeGood):
    """Wrong: never sets stop_training, so runs as long as fit does (then the schedule runs out)."""

    def on_train_batch_begin(self, batch, logs=None):
        rate = float(self.schedule[min(len(self.lrs), len(self.schedule) - 1)])
        self.model.optimizer.learning_rate.assign(rate)
        self.lrs.append(rate)

    def should_stop(self, loss):
        return False


class RangeNoDivergenceStop(RangeGood):
    """Wrong: stops only after num_steps."""

    def should_stop(self, loss):
        return len(self.losses) >= self.num_steps


class RangeFirstLoss(RangeGood):
    """Wrong: compares with the first loss instead of the lowest so far."""

    def should_stop(self, loss):
        return not (loss <= self.diverge * self.losses[0]) or len(self.losses) >= self.num_steps


class RangeNaNPasses(RangeGood):
    """Wrong: `loss > diverge * lowest` is False for NaN, so a NaN loss does not stop the test."""

    def should_stop(self, loss):
        return loss > self.diverge * np.nanmin(self.losses) or len(self.losses) >= self.num_steps


class RangeDivergeIgnored(RangeGood):
    """Wrong: the diverge argument is ignored (always 4)."""

    def should_stop(self, loss):
        return not (loss <= 4.0 * min(self.losses)) or len(self.losses) >= self.num_steps


class RangeNoRestore(RangeGood):
    """Wrong: the weights are not restored at the end."""

    def on_train_end(self, logs=None):
        self.model.optimizer.learning_rate.assign(self.start_lr)


class RangeRateNotRestored(RangeGood):
    """Wrong: the optimizer's learning rate is left at the last rate of the test."""

    def on_train_end(self, logs=None):
        self.model.set_weights(self.start)


class RangeLateRate(RangeGood):
    """Wrong: the rate is set in on_train_batch_end, so each one reaches the optimizer a batch late."""

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(float(self.schedule[len(self.lrs)]))

    def on_train_batch_end(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.lrs[-1])
        super().on_train_batch_end(batch, logs)


class RangeRateNeverSet(RangeGood):
    """Wrong: the rates are recorded but never given to the optimizer."""

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(float(self.schedule[len(self.lrs)]))


class RangeBatchIndex(RangeGood):
    """Correct, differently written: the step's rate from the batch index (one epoch), set with the setter, and the
    divergence compared with the lowest of the earlier losses."""

    def on_train_batch_begin(self, batch, logs=None):
        rate = float(self.schedule[batch])
        self.model.optimizer.learning_rate = rate
        self.lrs.append(rate)

    def should_stop(self, loss):
        earlier = self.losses[:-1]
        return (not math.isfinite(loss) or bool(earlier and loss > self.diverge * min(earlier))
                or len(self.losses) >= self.num_steps)


class RangeFirstStepOff(RangeGood):
    """Wrong: exponent (i+1)/n, so the first step never uses min_lr."""

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__(min_lr, max_lr, num_steps, diverge)
        self.schedule = min_lr * (max_lr / min_lr) ** (np.arange(1, num_steps + 1) / num_steps)


class RangeMeanDifference(RangeGood):
    """Wrong: the batch loss taken as the difference of two running means (negative losses look like divergence)."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.previous = 0.0

    def batch_loss(self, batch, logs):
        loss, self.previous = logs["loss"] - self.previous, logs["loss"]
        return loss


class RangeRateVariable(RangeGood):
    """Wrong: appends the optimizer's learning-rate variable itself, so every entry ends as its last value."""

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(float(self.schedule[len(self.lrs)]))
        self.lrs.append(self.model.optimizer.learning_rate)


class RangeLastLossMissing(RangeGood):
    """Wrong: stops on a diverging loss without recording it."""

    def on_train_batch_end(self, batch, logs=None):
        loss = self.batch_loss(batch, logs)
        if self.losses and not loss <= self.diverge * min(self.losses):
            self.model.stop_training = True
            return
        self.losses.append(loss)
        self.model.stop_training = len(self.losses) >= self.num_steps


class RangeStub(keras.callbacks.Callback):
    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__()
        # YOUR CODE HERE
        raise NotImplementedError()


# ---------------------------------------------------------------------------
# C2: prepare_fine_tuning
# ---------------------------------------------------------------------------


def pft_two_passes(model, learning_rate):
    """Correct, differently written: unfreeze the model and each of its layers (nested models included), then
    freeze batch norm."""
    for part in [model] + model.layers:
        part.trainable = True
    for layer in layers_of(model, layers.BatchNormalization):
        layer.trainable = False
    compile_classifier(model, learning_rate)
    return model


def pft_models_only(model, learning_rate):
    """Wrong: unfreezes the model and its nested models only, so a top-level layer frozen on its own (scenario 1's
    fc1) stays frozen."""
    for part in [model] + [layer for layer in model.layers if isinstance(layer, keras.Model)]:
        part.trainable = True
    for layer in layers_of(model, layers.BatchNormalization):
        layer.trainable = False
    compile_classifier(model, learning_rate)
    return model


def pft_base_only(model, learning_rate):
    """Wrong: unfreezes only conv_base (enough for a scenario 2 model, not for scenario 1's frozen fc1)."""
    base = model.get_layer("conv_base")
    base.trainable = True
    for layer in base.layers:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return compile_classifier(model, learning_rate)


def pft_leaves_then_model(model, learning_rate):
    """Correct, differently written: `model.trainable = True`, then every leaf layer's flag set from layers_of."""
    model.trainable = True
    for layer in layers_of(model):
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return compile_classifier(model, learning_rate)


def pft_adam_string(model, learning_rate):
    """Wrong: compiled with optimizer="adam", so the rate is Adam's default 1e-3, not learning_rate."""
    pft_walk(model, learning_rate, recompile=False)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def pft_adam_default(model, learning_rate):
    """Wrong: the rate hard-coded to 1e-3."""
    return pft_walk(model, learning_rate, rate=1e-3)


def pft_loss_function(model, learning_rate):
    """Wrong: the loss given as the function keras.losses.sparse_categorical_crossentropy (from_logits=False)."""
    pft_walk(model, learning_rate, recompile=False)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.sparse_categorical_crossentropy)
    return model


def pft_loss_lambda(model, learning_rate):
    """Correct, differently written: Adam at the rate, cross-entropy on scores as a lambda."""
    pft_walk(model, learning_rate, recompile=False)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=lambda y, s: keras.losses.sparse_categorical_crossentropy(y, s, from_logits=True))
    return model


def pft_compile_first(model, learning_rate):
    """Correct in Keras 3: compile first, then set trainable (fit builds its step from the flags it finds)."""
    compile_classifier(model, learning_rate)
    return pft_walk(model, learning_rate, recompile=False)


def pft_walk(model, learning_rate, recompile=True, freeze_norm=True, rate=None):
    def walk(layer):
        layer.trainable = not (freeze_norm and isinstance(layer, layers.BatchNormalization))
        for inner in getattr(layer, "layers", []):
            walk(inner)

    walk(model)
    if recompile:
        compile_classifier(model, rate or learning_rate)
    return model


def pft_top_level_only(model, learning_rate):
    """Wrong: `model.trainable = True` does not reach the nested conv_base frozen on its own."""
    model.trainable = True
    return compile_classifier(model, learning_rate)


def pft_all_trainable(model, learning_rate):
    """Wrong: batch norm unfrozen too."""
    return pft_walk(model, learning_rate, freeze_norm=False)


def pft_no_recompile(model, learning_rate):
    """Wrong: trainable changed, but the model is not compiled again."""
    return pft_walk(model, learning_rate, recompile=False)


def pft_rate_only(model, learning_rate):
    """Wrong: sets the optimizer's rate instead of compiling again, so fit keeps its old training step."""
    pft_walk(model, learning_rate, recompile=False)
    model.optimizer.learning_rate = learning_rate
    return model


def pft_fixed_rate(model, learning_rate):
    """Wrong: a fixed rate instead of the argument."""
    return pft_walk(model, learning_rate, rate=1e-4)


def pft_shallow_norm(model, learning_rate):
    """Wrong: only the top-level layers are visited, so the batch-norm layers inside conv_base become trainable."""
    for layer in model.layers:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return compile_classifier(model, learning_rate)


def pft_norm_then_unfreeze(model, learning_rate):
    """Wrong: freezes batch norm, then unfreezes the nested model, which unfreezes its batch norm again."""
    for layer in layers_of(model, layers.BatchNormalization):
        layer.trainable = False
    for layer in model.layers:
        layer.trainable = True
    return compile_classifier(model, learning_rate)


def pft_returns_none(model, learning_rate):
    """Wrong: forgets to return the model."""
    pft_walk(model, learning_rate)


def pft_probabilities_loss(model, learning_rate):
    """Wrong: compiled with a loss that expects probabilities."""
    pft_walk(model, learning_rate, recompile=False)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    return model


LAB = "05 transfer"
TM, FE, KNN = ex.check_transfer_model, ex.check_feature_extractor, ex.check_knn_predict
LR, FT = ex.check_lr_range_test, ex.check_prepare_fine_tuning

CASES = [
    correct(LAB, TM, "transfer_model: whole pretrained frozen, Activation layer", tm_frozen_whole),
    correct(LAB, TM, "transfer_model: Sequential", tm_sequential),
    correct(LAB, TM, "transfer_model: frozen copy of conv_base with its weights", tm_frozen_copy),
    wrong(LAB, TM, "encoder left trainable", tm_base_trainable, expect="conv_base is trainable"),
    wrong(LAB, TM, "head frozen instead of the base", tm_head_frozen, expect="not the head"),
    wrong(LAB, TM, "scenario 1 leaves fc1 trainable", tm_fc1_trainable, expect="fc1 is trainable"),
    wrong(LAB, TM, "scenario 1 without fc1", tm_no_fc1, expect="scenario 1 keeps fc1"),
    wrong(LAB, TM, "pretrained logits kept", tm_keeps_logits, expect="logits"),
    wrong(LAB, TM, "scenario 2 hidden layer without ReLU", tm_no_relu, expect="no ReLU"),
    wrong(LAB, TM, "hidden_units ignored", tm_hidden_ignored, expect="hidden_units"),
    wrong(LAB, TM, "softmax output", tm_softmax, expect="softmax"),
    wrong(LAB, TM, "scenario 2 keeps fc1", tm_scenario2_keeps_fc1, expect="replaces it"),
    wrong(LAB, TM, "scenarios swapped", tm_swapped),
    wrong(LAB, TM, "re-initialised conv_base", tm_fresh_base, expect="re-initialised"),
    wrong(LAB, TM, "input of a fixed size", tm_fixed_input, expect="input_shape"),
    correct(LAB, TM, "transfer_model: Sequential without an Input", tm_sequential_no_input),
    correct(LAB, TM, "transfer_model: keras.ops.relu and a nested Sequential head", tm_nested_head),
    wrong(LAB, TM, "Dropout in the head", tm_dropout, expect="Dropout"),
    wrong(LAB, TM, "ReLU on the output", tm_relu_output, expect="no activation"),
    wrong(LAB, TM, "two outputs", tm_two_outputs, expect="2 outputs"),
    wrong(LAB, TM, "transfer_model still a stub", stub, expect="not implemented yet"),
    correct(LAB, FE, "feature_extractor: conv_base's own input and output", fe_flat),
    correct(LAB, FE, "feature_extractor: the frozen conv_base itself", fe_base_itself),
    wrong(LAB, FE, "extractor includes fc1", fe_includes_fc1, expect="fc1"),
    wrong(LAB, FE, "extractor is the whole classifier", fe_whole_classifier, expect="class scores"),
    wrong(LAB, FE, "extractor not frozen", fe_trainable, expect="trainable"),
    wrong(LAB, FE, "images rescaled twice", fe_rescaled_twice),
    wrong(LAB, FE, "flattened feature map", fe_flattened_map, expect="shape"),
    wrong(LAB, FE, "Dropout after conv_base", fe_dropout, expect="Dropout"),
    wrong(LAB, FE, "feature_extractor still a stub", stub, expect="not implemented yet"),
    correct(LAB, KNN, "knn_predict with loops and Counter", knn_loops),
    correct(LAB, KNN, "knn_predict in float32 with argpartition", knn_float32),
    wrong(LAB, KNN, "k farthest", knn_farthest, expect="farthest"),
    wrong(LAB, KNN, "dot product", knn_dot, expect="dot product"),
    wrong(LAB, KNN, "k ignored", knn_k_ignored, expect="only the nearest"),
    wrong(LAB, KNN, "nearest neighbour skipped", knn_skips_nearest, expect="skipped"),
    wrong(LAB, KNN, "tie: nearest label first", knn_nearest_first_tie, expect="nearest neighbour's label won"),
    wrong(LAB, KNN, "tie: largest label", knn_largest_tie, expect="largest label won"),
    wrong(LAB, KNN, "mean label", knn_mean_label, expect="averaged"),
    wrong(LAB, KNN, "returns an index", knn_returns_index),
    wrong(LAB, KNN, "sorted along the wrong axis", knn_wrong_axis, expect="one per test code"),
    wrong(LAB, KNN, "returns a list", knn_list, expect="list"),
    correct(LAB, KNN, "knn_predict without the test codes' norms, np.unique vote", knn_no_test_norm),
    wrong(LAB, KNN, "random tie-break", knn_random_tie, expect="random"),
    wrong(LAB, KNN, "k+1 neighbours", knn_k_plus_one, expect="k+1"),
    wrong(LAB, KNN, "k-1 neighbours", knn_k_minus_one, expect="k-1"),
    wrong(LAB, KNN, "Manhattan distance", knn_manhattan, expect="absolute differences"),
    wrong(LAB, KNN, "knn_predict still a stub", stub, expect="not implemented yet"),
    correct(LAB, LR, "LRRangeTest with geomspace, assign() and a running sum", RangeGood),
    correct(LAB, LR, "LRRangeTest multiplying the rate, rates read back in float32", RangeMultiplicative),
    wrong(LAB, LR, "rates grow additively", RangeLinear, expect="additively"),
    wrong(LAB, LR, "exponent i/n", RangeExponentOffByOne, expect="num_steps-1"),
    wrong(LAB, LR, "running mean recorded", RangeRunningMean, expect="running means"),
    wrong(LAB, LR, "never stops", RangeNeverStops, expect="never stopped"),
    wrong(LAB, LR, "no stop on divergence", RangeNoDivergenceStop, expect="lowest"),
    wrong(LAB, LR, "divergence against the first loss", RangeFirstLoss, expect="lowest"),
    wrong(LAB, LR, "NaN does not stop", RangeNaNPasses, expect="NaN"),
    wrong(LAB, LR, "diverge argument ignored", RangeDivergeIgnored, expect="diverge"),
    wrong(LAB, LR, "weights not restored", RangeNoRestore, expect="weights"),
    wrong(LAB, LR, "learning rate not restored", RangeRateNotRestored, expect="restore it"),
    wrong(LAB, LR, "rate set a batch late", RangeLateRate, expect="late"),
    wrong(LAB, LR, "rate never set", RangeRateNeverSet, expect="never changed"),
    correct(LAB, LR, "LRRangeTest indexing by batch, lowest of the earlier losses", RangeBatchIndex),
    wrong(LAB, LR, "exponent (i+1)/n", RangeFirstStepOff, expect="min_lr"),
    wrong(LAB, LR, "difference of running means", RangeMeanDifference, expect="not each batch's loss"),
    wrong(LAB, LR, "the rate variable appended", RangeRateVariable, expect="variable"),
    wrong(LAB, LR, "diverging loss not recorded", RangeLastLossMissing, expect="last step"),
    wrong(LAB, LR, "LRRangeTest still a stub", RangeStub, expect="not implemented yet"),
    correct(LAB, FT, "prepare_fine_tuning in two passes", pft_two_passes),
    correct(LAB, FT, "prepare_fine_tuning compiling first", pft_compile_first),
    wrong(LAB, FT, "model.trainable = True only", pft_top_level_only, expect="nested"),
    wrong(LAB, FT, "batch norm unfrozen", pft_all_trainable, expect="batch-norm"),
    wrong(LAB, FT, "not compiled again", pft_no_recompile, expect="compile it again"),
    wrong(LAB, FT, "rate set instead of compiling", pft_rate_only, expect="compile the model again"),
    wrong(LAB, FT, "fixed learning rate", pft_fixed_rate, expect="learning rate"),
    wrong(LAB, FT, "top-level loop only", pft_shallow_norm, expect="batch-norm"),
    wrong(LAB, FT, "batch norm frozen, then unfrozen again", pft_norm_then_unfreeze, expect="batch-norm"),
    wrong(LAB, FT, "returns None", pft_returns_none, expect="None"),
    wrong(LAB, FT, "loss expects probabilities", pft_probabilities_loss, expect="probabilities"),
    correct(LAB, FT, "prepare_fine_tuning: model.trainable, then every leaf layer", pft_leaves_then_model),
    correct(LAB, FT, "prepare_fine_tuning: cross-entropy on scores as a lambda", pft_loss_lambda),
    wrong(LAB, FT, "only the model and nested models unfrozen", pft_models_only, expect="fc1"),
    wrong(LAB, FT, "only conv_base unfrozen", pft_base_only, expect="fc1"),
    wrong(LAB, FT, 'optimizer="adam"', pft_adam_string, expect="default rate"),
    wrong(LAB, FT, "rate hard-coded to 1e-3", pft_adam_default, expect="learning rate"),
    wrong(LAB, FT, "loss function expecting probabilities", pft_loss_function, expect="probabilities"),
    wrong(LAB, FT, "prepare_fine_tuning still a stub", stub, expect="not implemented yet"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case, record_property) -> None:
    verify(case, record_property)
