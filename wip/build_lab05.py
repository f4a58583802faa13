import sys
sys.path.insert(0, "/tmp")
from nbbuild import md, code, solution, graded, locked, build

cells = [
md(r"""
# Lab 5: Transfer learning and fine-tuning

**Goal.** "You need a lot of data to train a ConvNet" is a myth: an encoder pretrained on a large dataset already
computes features good enough for a new task, and a few labelled images per class suffice to put a classifier on
top. In this lab you take a pretrained convolutional encoder and reuse it in the three scenarios of the notes:
replace and train only the last fully connected (FC) layer on frozen features (scenario 1), replace more FC layers
(scenario 2), and use the encoder as a fixed feature extractor for a k-nearest-neighbour classifier (scenario 3). Then
you follow the fast.ai recipe: train the head, unfreeze, run a learning-rate range test ("LR finder") and fine-tune
with a small rate. Finally you compare every method with training from scratch, on a task with *similar* data and on
one with *different* data, for a growing number of labelled images, and see where transfer wins.

**How this lab works.** Cells marked *Exercise* hold a function with `# YOUR CODE HERE`; replace
`raise NotImplementedError()` with your code and run the cell. The check cell below each exercise tells you in one
sentence what is wrong, or prints a tick. Sizes, step budgets and targets come from the active profile
(`COURSE_PROFILE=smoke|cpu|gpu`), printed by the first cell.

**The pretrained encoders.** The notes pretrain on ImageNet. So that this lab works offline, the course pretrains its
own small encoder: a CNN trained on Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover, dress, coat). It is trained
the first time you need it (a few seconds to a minute, with progress) and cached for later runs;
`python -m utils zoo build` trains it ahead of time and `python -m utils zoo status` shows the cache. Part E adds
MobileNetV2 with real ImageNet weights through `keras.applications` when they can be had (the gpu profile downloads
them; offline profiles skip that part with a notice).
"""),
md(r"""
## Setup

`start_lab` silences TensorFlow's start-up noise, seeds everything so that a re-run repeats, and prints this lab's
settings for the active profile.
"""),
locked("setup", r"""
from utils import checks, plots, start_lab

cfg = start_lab("transfer")

import dataclasses
import time

import keras
import numpy as np
from keras import layers

from utils import data, zoo
"""),
md(r"""
## Data: two target tasks

The encoder saw only five kinds of clothing. The notes' table distinguishes target data that is *very similar* to the
pretraining data from data that is *very different*, so there are two target tasks:

* **similar**: the other five Fashion-MNIST classes (sandal, shirt, sneaker, bag, ankle boot), never seen in
  pretraining;
* **different**: MNIST handwritten digits, ten classes.

Each task has a pool of labelled training images, from which we draw a *balanced* subset of a few images per class
(the profile's `per_class_sizes`), and a fixed test set.
"""),
locked("data", r"""
def make_task(train, test, classes, test_size):
    \"\"\"A target task: images (N, 28, 28, 1) float32 in 0..255, labels renumbered 0..K-1, and a test set.\"\"\"
    (x_train, y_train), (x_test, y_test) = train, test
    lookup = np.full(256, -1)
    lookup[list(classes)] = np.arange(len(classes))
    keep_train = np.flatnonzero(lookup[y_train] >= 0)
    keep_test = np.flatnonzero(lookup[y_test] >= 0)[:test_size]
    return {"x": x_train[keep_train, :, :, None].astype("float32"), "y": lookup[y_train[keep_train]],
            "x_test": x_test[keep_test, :, :, None].astype("float32"), "y_test": lookup[y_test[keep_test]],
            "num_classes": len(classes)}


def balanced_subset(labels, per_class, seed=0):
    \"\"\"Indices of `per_class` random examples of every class (sorted).\"\"\"
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


fashion_train, fashion_test = data.load_fashion_mnist()
mnist_train, mnist_test = data.load_mnist()
tasks = {
    "similar": make_task(fashion_train, fashion_test, cfg.similar_classes, cfg.test_size),
    "different": make_task(mnist_train, mnist_test, range(10), cfg.test_size),
}
for name, task in tasks.items():
    print(f"{name:>9}: {task['num_classes']} classes, pool of {len(task['x']):,} labelled images, "
          f"{len(task['x_test']):,} test images")
smallest = cfg.per_class_sizes[0]
preview = np.concatenate([tasks[name]["x"][balanced_subset(tasks[name]["y"], 1)][:8] for name in tasks])
plots.image_grid(preview, ncols=8, title="Target tasks: similar (top) and different (bottom)")
"""),
md(r"""
## The pretrained encoder

`zoo.course_encoder` returns the whole pretrained classifier: `conv_base` (a nested model: convolution, batch norm,
ReLU and pooling blocks, then global average pooling), `fc1` (a fully connected layer with ReLU) and `logits` (one
output per *source* class). These names are what you keep, replace or freeze below. The first run trains it and
prints its progress; later runs load it from the cache.
"""),
locked("encoder", r"""
encoder_config = zoo.EncoderConfig.from_lab(cfg)
pretrained = zoo.course_encoder(encoder_config)
keras.utils.set_random_seed(0)  # the same random numbers below whether the encoder was trained or loaded
pretrained.summary(expand_nested=True, line_length=90)

(_, _), (source_x_test, source_y_test) = zoo.source_data(encoder_config)


def accuracy(model, x, y, batch=1000):
    \"\"\"Test accuracy of a model that outputs class scores, evaluated in inference mode.\"\"\"
    scores = np.concatenate([np.asarray(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)])
    return float(np.mean(scores.argmax(axis=1) == y))


def compile_classifier(model, learning_rate):
    \"\"\"Adam, cross-entropy on class scores, accuracy.\"\"\"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def train(model, x, y, steps, seed=0):
    \"\"\"Train for a fixed number of gradient steps (the same budget whatever the number of images).\"\"\"
    batches = data.make_dataset(x, y, batch_size=cfg.batch_size, shuffle=True, seed=seed).repeat()
    return model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0)


def fresh_pretrained():
    \"\"\"A copy of the pretrained classifier with its own weights, so every experiment starts from the same point.\"\"\"
    copy = keras.models.clone_model(pretrained)
    copy.set_weights(pretrained.get_weights())
    return copy


source_accuracy = accuracy(pretrained, source_x_test, source_y_test)
checks.check_at_least("pretrained encoder: accuracy on its own (source) test set", source_accuracy,
                      cfg.min_source_accuracy)
"""),
md(r"""
## Part A: scenarios 1 and 2, a new head on a frozen encoder

A classifier for the new task needs a last layer with one output per *new* class, so the pretrained `logits` layer
always goes. **Scenario 1** keeps everything else, `conv_base` and `fc1`, and trains only a new last layer: few
parameters, the choice for little data. **Scenario 2** also replaces `fc1` with a new, randomly initialised hidden
layer (more capacity, for more data or data unlike the pretraining data). In both, the pretrained layers are frozen.

In Keras 3 *frozen* means `layer.trainable = False` (set on a model, it applies to all its layers): its weights are
left out of `model.trainable_weights`, so the optimizer never updates them. Batch normalisation adds a twist: in
Keras 3 a frozen `BatchNormalization` layer also runs in *inference mode*: it normalises with its stored moving mean
and variance and does not update them. Later we unfreeze the encoder to fine-tune it, and then batch norm must *stay*
in inference mode, or a few hundred images would overwrite statistics learned on thousands. Older Keras guides call
the base with `training=False` for this; in Keras 3 a functional model passes the `training=True` of `fit` down to
every layer it calls, overriding that argument (Keras 3.15), so the reliable way is to keep the batch-norm layers
frozen, which you will do in Part C.

### Exercise A: replace the head

Build a new model: a fresh `keras.Input` of the pretrained model's input shape, the pretrained `conv_base` (frozen)
called on it, then for scenario 1 the pretrained (frozen) `fc1` and a new `Dense(num_classes)`; for
scenario 2 a new `Dense(hidden_units, activation="relu")` and a new `Dense(num_classes)`. Output class scores (no
softmax). Use `pretrained.get_layer(name)` to fetch the pretrained layers.
"""),
solution("a_transfer_model", r"""
def transfer_model(pretrained, num_classes, scenario, hidden_units=64):
    \"\"\"A classifier for `num_classes` new classes on the frozen pretrained encoder (scenario 1 or 2).\"\"\"
    ### BEGIN SOLUTION
    base = pretrained.get_layer("conv_base")
    base.trainable = False
    inputs = keras.Input(pretrained.input_shape[1:])
    features = base(inputs, training=False)
    if scenario == 1:
        fc1 = pretrained.get_layer("fc1")
        fc1.trainable = False
        features = fc1(features)
    else:
        features = layers.Dense(hidden_units, activation="relu", name="new_fc")(features)
    outputs = layers.Dense(num_classes, name="new_logits")(features)
    return keras.Model(inputs, outputs, name=f"scenario_{scenario}")
    ### END SOLUTION
"""),
graded("a_transfer_model_check", 3, r"""
def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def check_transfer_model(num_classes, scenario, hidden_units, x):
    \"\"\"Check one head-replaced model against the pretrained layers and the parameter count it must train.\"\"\"
    source = fresh_pretrained()
    model = checks.call(transfer_model, source, num_classes, scenario, hidden_units=hidden_units)
    what = f"transfer_model(scenario={scenario}, num_classes={num_classes})"
    checks.check_true(isinstance(model, keras.Model), f"{what} should return a keras.Model.", f"{what} is a keras.Model")
    scores = np.asarray(model(x, training=False))
    checks.check_equal(f"{what}: output shape", scores.shape, (len(x), num_classes))
    base = source.get_layer("conv_base")
    width = base.output_shape[-1]
    fc_units = source.get_layer("fc1").units
    expected = fc_units * num_classes + num_classes if scenario == 1 else (
        width * hidden_units + hidden_units + hidden_units * num_classes + num_classes)
    got = trainable_count(model)
    if got != expected:
        hint = (" (the pretrained layers are not frozen)" if got > expected else "")
        raise checks.CheckFailure(f"{what} trains {got:,} parameters; only the new layers, {expected:,} "
                                  f"parameters, should be trainable{hint}.")
    print(f"{checks.TICK} {what}: trains only the new layers ({got:,} parameters)")
    if scenario == 1:  # the new layer must sit on the pretrained fc1's output
        new = [l for l in model.layers if isinstance(l, layers.Dense) and l.trainable]
        kernel, bias = (np.asarray(w) for w in new[-1].weights)
        features = np.asarray(source.get_layer("fc1")(base(x, training=False)))
        checks.check_array(f"{what}: scores from the pretrained fc1 features", scores, features @ kernel + bias,
                           tol=1e-4)
    norms = [l for l in model.layers if isinstance(l, layers.BatchNormalization)] + [
        l for l in base.layers if isinstance(l, layers.BatchNormalization)]
    checks.check_true(all(not l.trainable for l in norms),
                      f"{what}: a batch-norm layer of the encoder is trainable; freeze the whole conv_base.",
                      f"{what}: the encoder's batch-norm layers are frozen (inference mode)")
    return model


probe_x = tasks["similar"]["x_test"][:16]
check_transfer_model(5, 1, 64, probe_x)
check_transfer_model(3, 2, 16, probe_x)
### BEGIN HIDDEN TESTS
check_transfer_model(7, 1, 8, tasks["different"]["x_test"][:5])
check_transfer_model(2, 2, 5, tasks["different"]["x_test"][:5])
### END HIDDEN TESTS
"""),
md(r"""
Now train a scenario 2 head on the similar task with the fewest labelled images, and verify what frozen means: every
weight of `conv_base`, the batch-norm moving statistics included, must be bit-for-bit unchanged after training.
"""),
code(r"""
def base_weights(model):
    return [np.array(w) for w in model.get_layer("conv_base").weights]


demo = tasks["similar"]
demo_index = balanced_subset(demo["y"], cfg.demo_per_class)
demo_x, demo_y = demo["x"][demo_index], demo["y"][demo_index]
demo_model = compile_classifier(transfer_model(fresh_pretrained(), demo["num_classes"], 2, cfg.scenario2_units),
                                cfg.head_learning_rate)
print(f"trainable weights: {len(demo_model.trainable_weights)} tensors, {trainable_count(demo_model):,} parameters; "
      f"frozen: {len(demo_model.non_trainable_weights)} tensors")
before = base_weights(demo_model)
train(demo_model, demo_x, demo_y, cfg.head_steps)
frozen_change = max(float(np.max(np.abs(a - b))) for a, b in zip(before, base_weights(demo_model)))
head_accuracy = accuracy(demo_model, demo["x_test"], demo["y_test"])
print(f"scenario 2 on {len(demo_x)} labelled images: test accuracy {head_accuracy:.4f}")
checks.check_at_most("largest change of a frozen weight during head training", frozen_change, cfg.max_frozen_change,
                     headline=False)
"""),
md(r"""
## Part B: scenario 3, a fixed feature extractor and k-nearest neighbours

Scenario 3 removes all fully connected layers and treats the rest as a fixed feature extractor: every image becomes
the vector `conv_base` outputs (for AlexNet the notes use the 4096-dimensional activations before the classifier;
here it is the global average of the last convolution block). Any classifier can then work on these codes, even one
without training: **k-nearest neighbours** labels a test image with the majority label of the `k` training images
whose codes are closest in Euclidean distance.

### Exercise B: the feature extractor and the k-NN classifier

`feature_extractor(pretrained)` returns a frozen `keras.Model` from a fresh input to the output of `conv_base` (called
on it). `knn_predict` is NumPy only: compute all squared Euclidean distances between test and
training codes at once (expand $\lVert a-b \rVert^2 = \lVert a \rVert^2 - 2\,a \cdot b + \lVert b \rVert^2$; no
Python loop over images), take the `k` nearest training codes of each test code, and return the most frequent label
among them (on a tie, the smallest label wins, as `np.argmax` does).
"""),
solution("b_knn", r"""
def feature_extractor(pretrained):
    \"\"\"A frozen keras.Model mapping images to the pretrained conv_base's feature vectors.\"\"\"
    ### BEGIN SOLUTION
    base = pretrained.get_layer("conv_base")
    inputs = keras.Input(pretrained.input_shape[1:])
    extractor = keras.Model(inputs, base(inputs, training=False), name="feature_extractor")
    extractor.trainable = False
    return extractor
    ### END SOLUTION


def knn_predict(train_features, train_labels, test_features, k):
    \"\"\"Labels (M,) of the test codes (M, D) by majority vote of their k nearest training codes (N, D).\"\"\"
    ### BEGIN SOLUTION
    distances = (np.sum(test_features ** 2, axis=1)[:, None] - 2.0 * test_features @ train_features.T
                 + np.sum(train_features ** 2, axis=1)[None, :])
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(test_features), int(train_labels.max()) + 1))
    np.add.at(votes, (np.arange(len(test_features))[:, None], train_labels[nearest]), 1)
    return votes.argmax(axis=1)
    ### END SOLUTION
"""),
graded("b_knn_check", 3, r"""
source = fresh_pretrained()
extractor = checks.call(feature_extractor, source)
codes = np.asarray(extractor(probe_x, training=False))
width = source.get_layer("conv_base").output_shape[-1]
checks.check_equal("feature codes shape", codes.shape, (len(probe_x), width))
checks.check_equal("trainable weights of the feature extractor", len(extractor.trainable_weights), 0)
rebuilt = source.get_layer("logits")(source.get_layer("fc1")(codes))  # the removed layers on top give back the scores
checks.check_array("pretrained scores recomputed from your codes", rebuilt, source(probe_x, training=False), tol=1e-4)

points = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
point_labels = np.array([0, 0, 1, 1, 1, 0])
got = checks.call(knn_predict, points, point_labels, np.array([[1.2], [10.9], [1.9]]), 3)
checks.check_equal("k-NN on a line (k=3)", np.asarray(got), np.array([0, 1, 0]))
got = checks.call(knn_predict, points, point_labels, np.array([[1.9], [11.6]]), 1)
checks.check_equal("k-NN on a line (k=1)", np.asarray(got), np.array([1, 0]))
got = checks.call(knn_predict, np.array([[1.0, 0.0], [10.0, 10.0]]), np.array([0, 1]), np.array([[1.5, 0.5]]), 1)
checks.check_equal("k-NN uses Euclidean distance, not the dot product", np.asarray(got), np.array([0]))
rng = np.random.default_rng(1)
cloud, cloud_labels = rng.normal(size=(40, 6)), rng.integers(0, 4, size=40)
checks.check_equal("k-NN with k=1 labels the training codes themselves",
                   np.asarray(checks.call(knn_predict, cloud, cloud_labels, cloud, 1)), cloud_labels)
### BEGIN HIDDEN TESTS
order = rng.permutation(40)
checks.check_equal("hidden: k-NN does not depend on the order of the training codes",
                   np.asarray(knn_predict(cloud[order], cloud_labels[order], cloud[:10] + 0.01, 3)),
                   np.asarray(knn_predict(cloud, cloud_labels, cloud[:10] + 0.01, 3)))
checks.check_equal("hidden: k = N votes for the majority class",
                   np.asarray(knn_predict(cloud, cloud_labels, cloud[:5], 40)),
                   np.full(5, np.bincount(cloud_labels).argmax()))
### END HIDDEN TESTS
"""),
md(r"""
On the demo task: codes of the few labelled images, k-NN, no training at all.
"""),
code(r"""
demo_extractor = feature_extractor(pretrained)
demo_codes = np.asarray(demo_extractor(demo_x, training=False))
demo_test_codes = np.asarray(demo_extractor(demo["x_test"], training=False))
demo_knn = float(np.mean(knn_predict(demo_codes, demo_y, demo_test_codes, cfg.knn_k) == demo["y_test"]))
print(f"scenario 3 (k-NN, k={cfg.knn_k}) on {len(demo_x)} labelled images: test accuracy {demo_knn:.4f} "
      f"(chance {1 / demo['num_classes']:.2f})")
"""),
md(r"""
## Part C: fine-tuning, the fast.ai way

Frozen features are generic; fine-tuning adapts them to the new task. The notes' recipe: (1) train only the new head
(done in Part A), (2) unfreeze the encoder and run the **learning-rate finder**, (3) pick a rate from the plot of loss
against learning rate, (4) fine-tune everything with that smaller rate.

### Exercise C1: the learning-rate range test as a Keras callback

The test trains for `num_steps` batches while the learning rate grows *exponentially*, from `min_lr` at the first
step to `max_lr` at the last (step $i$ of $n$ uses $\text{min\_lr} \cdot (\text{max\_lr}/\text{min\_lr})^{i/(n-1)}$),
and records the loss of each batch. Write it as a `keras.callbacks.Callback`:

* `on_train_begin`: remember the model's weights (`self.model.get_weights()`) and the optimizer's learning rate;
* `on_train_batch_begin`: set `self.model.optimizer.learning_rate` to this step's rate and append it to `self.lrs`;
* `on_train_batch_end`: append this batch's loss to `self.losses`. Careful: Keras passes `logs["loss"]`, the *running
  mean* over the batches of the epoch so far, not the batch's own loss; recover the batch loss from two consecutive
  means (`batch` is the 0-based batch index within the epoch). Stop training (`self.model.stop_training = True`) after
  `num_steps` steps, or as soon as the loss is not finite or exceeds `diverge` times the lowest loss so far;
* `on_train_end`: restore the weights and the learning rate, so the test leaves the model as it found it.
"""),
solution("c1_lr_finder", r"""
class LRRangeTest(keras.callbacks.Callback):
    \"\"\"Exponentially increasing learning rate, one batch loss per step; restores the model at the end.\"\"\"

    def __init__(self, min_lr, max_lr, num_steps, diverge=4.0):
        super().__init__()
        ### BEGIN SOLUTION
        self.min_lr, self.max_lr, self.num_steps, self.diverge = min_lr, max_lr, num_steps, diverge
        self.lrs, self.losses = [], []
        ### END SOLUTION

    def on_train_begin(self, logs=None):
        ### BEGIN SOLUTION
        self.saved_weights = self.model.get_weights()
        self.saved_lr = float(self.model.optimizer.learning_rate)
        self.previous_mean = 0.0
        ### END SOLUTION

    def on_train_batch_begin(self, batch, logs=None):
        ### BEGIN SOLUTION
        step = len(self.lrs)
        rate = self.min_lr * (self.max_lr / self.min_lr) ** (step / max(self.num_steps - 1, 1))
        self.model.optimizer.learning_rate = rate
        self.lrs.append(rate)
        ### END SOLUTION

    def on_train_batch_end(self, batch, logs=None):
        ### BEGIN SOLUTION
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self.previous_mean
        self.previous_mean = mean
        self.losses.append(loss)
        if not np.isfinite(loss) or loss > self.diverge * min(self.losses) or len(self.lrs) >= self.num_steps:
            self.model.stop_training = True
        ### END SOLUTION

    def on_train_end(self, logs=None):
        ### BEGIN SOLUTION
        self.model.set_weights(self.saved_weights)
        self.model.optimizer.learning_rate = self.saved_lr
        ### END SOLUTION
"""),
graded("c1_lr_finder_check", 3, r"""
class RateSpy(keras.callbacks.Callback):
    \"\"\"Reads the optimizer's learning rate at every step (after the callbacks before it have set it).\"\"\"

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(float(self.model.optimizer.learning_rate))


def regression(learning_rate, seed=0, scale=1.0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32") * scale
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=64)).astype("float32")[:, None]
    return model, x, y


def range_test(model, x, y, finder, steps, shuffle=False):
    spy = RateSpy()
    batches = data.make_dataset(x, y, batch_size=16, shuffle=shuffle).repeat()
    model.fit(batches, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[finder, spy])
    return spy.seen


model, x, y = regression(0.0123)
start_weights = model.get_weights()
finder = checks.call(LRRangeTest, 1e-5, 1e-3, 10)
seen = checks.call(range_test, model, x, y, finder, 20)
checks.check_equal("steps run before the test stops itself", len(finder.lrs), 10)
checks.check_array("learning rates recorded", np.array(finder.lrs), np.geomspace(1e-5, 1e-3, 10), tol=1e-6)
checks.check_array("learning rates the optimizer used", np.array(seen), np.geomspace(1e-5, 1e-3, 10), tol=1e-5)
checks.check_true(all(np.array_equal(a, b) for a, b in zip(start_weights, model.get_weights())),
                  "The weights after the test differ from those before: restore them in on_train_end.",
                  "weights restored after the test")
checks.check_array("learning rate restored after the test", float(model.optimizer.learning_rate), 0.0123, tol=1e-6)

model, x, y = regression(0.01, seed=1)  # a rate too small to move the weights: each batch loss is known
finder = checks.call(LRRangeTest, 1e-12, 1e-12, 4)
checks.call(range_test, model, x, y, finder, 4)
batch_losses = [float(np.mean((np.asarray(model(x[i:i + 16])) - y[i:i + 16]) ** 2)) for i in range(0, 64, 16)]
checks.check_array("losses recorded (each batch's own loss, not the running mean)", np.array(finder.losses),
                   np.array(batch_losses), tol=1e-3)

model, x, y = regression(0.01, seed=2, scale=10.0)  # rates up to 1e3: SGD blows up
finder = checks.call(LRRangeTest, 1e-4, 1e3, 40)
checks.call(range_test, model, x, y, finder, 40)
checks.check_true(len(finder.losses) < 40, "The loss exploded but the test ran all 40 steps: stop when the loss is "
                  "not finite or exceeds diverge times the lowest loss.",
                  f"the test stops once the loss diverges (after {len(finder.losses)} of 40 steps)")
### BEGIN HIDDEN TESTS
model, x, y = regression(0.5)
finder = LRRangeTest(1e-4, 1e-3, 5)
seen = range_test(model, x, y, finder, 12)
checks.check_array("hidden: rates from 1e-4 to 1e-3 in 5 steps", np.array(seen), np.geomspace(1e-4, 1e-3, 5), tol=1e-5)
checks.check_array("hidden: learning rate restored", float(model.optimizer.learning_rate), 0.5, tol=1e-6)
### END HIDDEN TESTS
"""),
md(r"""
### Exercise C2: unfreeze for fine-tuning

`prepare_fine_tuning(model, learning_rate)` unfreezes the whole model, but keeps every `BatchNormalization` layer
frozen (in Keras 3 a frozen batch-norm layer also runs in inference mode: its statistics and its scale and shift stay
as pretrained), then compiles it again, which is required for a change of `trainable` to take effect, with
`compile_classifier(model, learning_rate)` (Adam at that rate, given in the setup).
Return the model. Set `trainable` on every layer yourself, walking nested models' `.layers` recursively: in Keras 3.15,
`model.trainable = True` on a model that is already trainable does not reach a nested model you froze on its own
(as `conv_base` was in Part A).
"""),
solution("c2_fine_tuning", r"""
def prepare_fine_tuning(model, learning_rate):
    \"\"\"Unfreeze all layers except batch norm, recompile with Adam(learning_rate); return the model.\"\"\"
    ### BEGIN SOLUTION
    def set_trainable(layer):
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
        for inner in getattr(layer, "layers", []):
            set_trainable(inner)

    set_trainable(model)
    return compile_classifier(model, learning_rate)
    ### END SOLUTION
"""),
graded("c2_fine_tuning_check", 2, r"""
def layers_of(model, kind):
    \"\"\"The layers of a model, nested models included, that are instances of a Keras layer class.\"\"\"
    found = []
    for layer in model.layers:
        found += layers_of(layer, kind) if isinstance(layer, keras.Model) else [layer] if isinstance(layer, kind) else []
    return found


def check_fine_tuning(learning_rate, scenario):
    model = transfer_model(fresh_pretrained(), 3, scenario, hidden_units=8)
    model = checks.call(prepare_fine_tuning, model, learning_rate)
    checks.check_true(isinstance(model, keras.Model) and model.optimizer is not None,
                      "prepare_fine_tuning should return the compiled model.", "returns the compiled model")
    checks.check_array("optimizer learning rate", float(model.optimizer.learning_rate), learning_rate, tol=1e-6)
    trainable = {id(w) for w in model.trainable_weights}
    kernels = [l.kernel for l in layers_of(model, layers.Conv2D) + layers_of(model, layers.Dense)]
    norms = [w for l in layers_of(model, layers.BatchNormalization) for w in l.weights]
    checks.check_true(all(id(k) in trainable for k in kernels),
                      "Some convolution or dense kernels are still frozen: unfreeze the whole model.",
                      f"all {len(kernels)} convolution and dense kernels are trainable")
    checks.check_true(not any(id(w) in trainable for w in norms),
                      "Batch-norm weights are trainable: keep every BatchNormalization layer frozen.",
                      "batch-norm layers stay frozen")
    x = tasks["similar"]["x"][:16]
    same = np.allclose(np.asarray(model(x, training=True)), np.asarray(model(x, training=False)), atol=1e-5)
    checks.check_true(same, "A training-mode call changes the output: batch norm uses batch statistics, so it is not "
                      "in inference mode.", "batch norm runs in inference mode even in a training-mode call")


check_fine_tuning(1e-4, 2)
### BEGIN HIDDEN TESTS
check_fine_tuning(3e-5, 1)
### END HIDDEN TESTS
"""),
md(r"""
Now the recipe on the demo model from Part A, whose head is trained: unfreeze, run the range test over repeated
passes through the few labelled images, and plot the (smoothed) loss against the rate. Because the rate grows
exponentially, steps are evenly spaced on a log axis of the rate. The loss stays flat while the rate is too small to
matter, falls where learning is fast, and shoots up when the rate is too large. The notes' advice (Jeremy Howard's)
is to pick a rate well before the loss gets worse; we take the rate where the smoothed loss first climbs 10% above
its minimum, divided by ten.
"""),
code(r"""
def smooth(values, beta=0.9):
    \"\"\"Exponential moving average with bias correction (the fast.ai finder's smoothing).\"\"\"
    out, average = [], 0.0
    for i, value in enumerate(values, start=1):
        average = beta * average + (1 - beta) * value
        out.append(average / (1 - beta ** i))
    return np.array(out)


def pick_learning_rate(rates, losses, rise=1.1):
    \"\"\"A tenth of the rate at which the smoothed loss first rises `rise` times above its minimum.\"\"\"
    smoothed = smooth(losses)
    lowest = int(np.argmin(smoothed))
    climbing = np.flatnonzero(smoothed[lowest:] > rise * smoothed[lowest])
    return float(rates[lowest + climbing[0]] if len(climbing) else rates[-1]) / 10


prepare_fine_tuning(demo_model, cfg.lr_test_min)
finder = LRRangeTest(cfg.lr_test_min, cfg.lr_test_max, cfg.lr_test_steps)
demo_model.fit(data.make_dataset(demo_x, demo_y, batch_size=cfg.batch_size, shuffle=True, seed=1).repeat(),
               epochs=1, steps_per_epoch=cfg.lr_test_steps, verbose=0, callbacks=[finder])
rates, finder_losses = np.array(finder.lrs), np.array(finder.losses)
fine_tune_lr = pick_learning_rate(rates, finder_losses)
print(f"range test: {len(rates)} steps from {rates[0]:.0e} to {rates[-1]:.1e}; chosen fine-tuning rate "
      f"{fine_tune_lr:.2e}")
figure = plots.loss_curve(smooth(finder_losses), title="Learning-rate range test (smoothed batch loss)",
                          xlabel="learning rate (log scale)", log=False)
axis = figure.axes[0]
ticks = np.arange(0, len(rates), max(1, len(rates) // 6))
axis.set_xticks(ticks, [f"{rates[i]:.0e}" for i in ticks])
axis.axvline(np.searchsorted(rates, fine_tune_lr), color="C1", ls="--", label=f"chosen {fine_tune_lr:.1e}")
axis.legend()
figure
"""),
md(r"""
Fine-tune with the chosen rate. The check confirms that the batch-norm statistics did not move while the
convolutions did.
"""),
code(r"""
prepare_fine_tuning(demo_model, fine_tune_lr)  # a fresh optimizer: the range test left its state behind
norm_stats = [np.array(w) for l in layers_of(demo_model, layers.BatchNormalization) for w in l.weights]
before = base_weights(demo_model)
train(demo_model, demo_x, demo_y, cfg.fine_tune_steps)
after_stats = [np.array(w) for l in layers_of(demo_model, layers.BatchNormalization) for w in l.weights]
bn_change = max(float(np.max(np.abs(a - b))) for a, b in zip(norm_stats, after_stats))
conv_change = max(float(np.max(np.abs(a - b))) for a, b in zip(before, base_weights(demo_model)))
fine_tuned_accuracy = accuracy(demo_model, demo["x_test"], demo["y_test"])
print(f"head only {head_accuracy:.4f} -> fine-tuned {fine_tuned_accuracy:.4f} on {len(demo_x)} labelled images")
checks.check_at_most("largest change of a batch-norm statistic during fine-tuning", bn_change, cfg.max_frozen_change,
                     headline=False)
checks.check_true(conv_change > 0, "Fine-tuning left the convolutions unchanged.",
                  f"fine-tuning changed the convolutions (largest change {conv_change:.2e})")
"""),
md(r"""
## Part D: every method, both tasks, growing labelled sets

The same comparison for each task and each labelled-set size, all on the same images and the same step budget:

* **k-NN** (k neighbours, or 1 with a single image per class) and a **linear probe** (one `Dense` layer) on the frozen `conv_base` codes (scenario 3);
* **scenario 1**: a new last layer on the frozen `fc1` features; **scenario 2**: new `fc` and last layers on the
  frozen codes;
* **fine-tuned**: the pretrained encoder with scenario 2's trained head, unfrozen with `prepare_fine_tuning` and
  trained `fine_tune_steps` more steps at the rate the finder chose;
* **scratch**: the same architecture from random weights, trained end to end for `scratch_steps` steps
  (head plus fine-tuning steps).

With one labelled image per class the result depends heavily on *which* image was drawn, so every method's accuracy
at each size is the mean over the profile's `draws` random draws of the labelled images, all methods on the same draws.

Training a head on a frozen encoder gives the same result as training it on codes computed once (batch norm is in
inference mode, so the codes never change), and is much faster, so the heads here train on codes; the fine-tuned
model starts from the scenario 2 head's weights.
"""),
code(r"""
def restart(model, weights):
    \"\"\"Reset a compiled model to `weights` and a fresh optimizer state, keeping its traced training step.

    Compiling a new model costs TensorFlow a few seconds of tracing; every size of a task reuses the same three
    compiled models instead, which gives the same result as new ones.
    \"\"\"
    model.set_weights(weights)
    for variable in model.optimizer.variables:
        if not variable.path.endswith("learning_rate"):
            variable.assign(np.zeros(variable.shape, variable.dtype))


def head_models(code_width, fc1_width, num_classes):
    \"\"\"Linear probe, scenario 1 and scenario 2 heads side by side, trained on the same batches of frozen codes.

    Adam updates every weight from its own gradient, so training them together equals three separate trainings.
    \"\"\"
    code_in, fc1_in = keras.Input((code_width,)), keras.Input((fc1_width,))
    hidden = layers.Dense(cfg.scenario2_units, activation="relu", name="s2_fc")(code_in)
    outputs = {"probe": layers.Dense(num_classes, name="probe")(code_in),
               "scenario_1": layers.Dense(num_classes, name="scenario_1")(fc1_in),
               "scenario_2": layers.Dense(num_classes, name="scenario_2")(hidden)}
    heads = keras.Model([code_in, fc1_in], outputs, name="heads")
    heads.compile(optimizer=keras.optimizers.Adam(cfg.head_learning_rate),
                  loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for k in outputs})
    return heads


def compare_on(task):
    \"\"\"Test accuracies of every method for each labelled-set size of `task`: {per_class: {method: accuracy}}.\"\"\"
    k, x_test, y_test = task["num_classes"], task["x_test"], task["y_test"]
    extractor, fc1 = feature_extractor(pretrained), pretrained.get_layer("fc1")
    test_codes = np.asarray(extractor(x_test, training=False))
    fc1_test_codes = np.asarray(fc1(test_codes))
    heads = head_models(test_codes.shape[1], fc1_test_codes.shape[1], k)
    fine_tuned = prepare_fine_tuning(transfer_model(fresh_pretrained(), k, 2, cfg.scenario2_units), fine_tune_lr)
    scratch_config = dataclasses.replace(encoder_config, source_classes=tuple(range(k)), fc_units=cfg.scenario2_units)
    scratch = compile_classifier(zoo.build_encoder(scratch_config), cfg.scratch_learning_rate)
    starts = {model.name: model.get_weights() for model in (heads, fine_tuned, scratch)}
    rows = {}
    for per_class in cfg.per_class_sizes:
        draws = [draw_once(task, per_class, seed, extractor, fc1, test_codes, fc1_test_codes, heads, fine_tuned,
                           scratch, starts) for seed in range(cfg.draws)]
        rows[per_class] = {method: float(np.mean([row[method] for row in draws])) for method in draws[0]}
        print(f"{task['name']:>9}, {per_class:>4} per class, mean of {cfg.draws} draw(s): "
              + ", ".join(f"{m} {a:.3f}" for m, a in rows[per_class].items()), flush=True)
    return rows


def draw_once(task, per_class, seed, extractor, fc1, test_codes, fc1_test_codes, heads, fine_tuned, scratch, starts):
    \"\"\"Every method's test accuracy on one random draw of `per_class` labelled images per class.\"\"\"
    x_test, y_test = task["x_test"], task["y_test"]
    index = balanced_subset(task["y"], per_class, seed=seed)
    x, y = task["x"][index], task["y"][index]
    codes = np.asarray(extractor(x, training=False))
    fc1_codes = np.asarray(fc1(codes))
    neighbours = min(cfg.knn_k, per_class)  # with one image per class, only the nearest one makes sense
    row = {"k-NN": float(np.mean(knn_predict(codes, y, test_codes, neighbours) == y_test))}
    restart(heads, starts[heads.name])
    heads.fit(data.make_dataset((codes, fc1_codes), {key: y for key in heads.output_names},
                                batch_size=cfg.batch_size, shuffle=True).repeat(),
              epochs=1, steps_per_epoch=cfg.head_steps, verbose=0)
    scores = heads([test_codes, fc1_test_codes], training=False)
    for method, key in (("linear probe", "probe"), ("scenario 1", "scenario_1"), ("scenario 2", "scenario_2")):
        row[method] = float(np.mean(np.asarray(scores[key]).argmax(axis=1) == y_test))
    restart(fine_tuned, starts[fine_tuned.name])  # the pretrained encoder, then scenario 2's trained head
    new_fc, new_logits = [l for l in fine_tuned.layers if isinstance(l, layers.Dense)]
    new_fc.set_weights(heads.get_layer("s2_fc").get_weights())
    new_logits.set_weights(heads.get_layer("scenario_2").get_weights())
    train(fine_tuned, x, y, cfg.fine_tune_steps)
    row["fine-tuned"] = accuracy(fine_tuned, x_test, y_test)
    restart(scratch, starts[scratch.name])
    train(scratch, x, y, cfg.scratch_steps)
    row["scratch"] = accuracy(scratch, x_test, y_test)
    return row


start = time.perf_counter()
results = {}
for name, task in tasks.items():
    for per_class, row in compare_on({**task, "name": name}).items():
        results[name, per_class] = row
print(f"all runs: {time.perf_counter() - start:.0f} s")
"""),
md(r"""
The results table, then accuracy against the number of labelled images per class: one line per method, one panel
per task.
"""),
code(r"""
methods = list(next(iter(results.values())))
header = f"| task | labelled per class | " + " | ".join(methods) + " |"
print(header)
print("|" + "---|" * (len(methods) + 2))
for (name, per_class), row in results.items():
    print(f"| {name} | {per_class} | " + " | ".join(f"{row[m]:.3f}" for m in methods) + " |")

curves = {m: {f"{name} task": [results[name, n][m] for n in cfg.per_class_sizes] for name in tasks} for m in methods}
figure = plots.training_curves(curves, metrics=[f"{name} task" for name in tasks],
                               title="Test accuracy against labelled images per class")
for axis in figure.axes[:len(tasks)]:
    axis.set_xticks(range(1, len(cfg.per_class_sizes) + 1), [str(n) for n in cfg.per_class_sizes])
    axis.set_xlabel("labelled images per class")
figure
"""),
md(r"""
The targets: with a single labelled image per class, fine-tuning the pretrained encoder must beat training from
scratch by at least the profile's `min_transfer_gain` on both tasks, and the frozen codes alone must support a
nearest-neighbour classifier clearly above chance on the similar task.
"""),
code(r"""
for name in tasks:
    row = results[name, smallest]
    checks.check_at_least(f"{name} task, {smallest} per class: fine-tuned minus scratch accuracy",
                          row["fine-tuned"] - row["scratch"], cfg.min_transfer_gain)
checks.check_at_least(f"similar task, {smallest} per class: fine-tuned accuracy",
                      results["similar", smallest]["fine-tuned"], cfg.min_finetune_accuracy)
checks.check_at_least(f"similar task, {smallest} per class: k-NN accuracy", results["similar", smallest]["k-NN"],
                      cfg.min_knn_accuracy)
plots.compare_bars({m: results["different", smallest][m] for m in methods},
                   title=f"Different task, {smallest} labelled images per class", ylabel="test accuracy")
"""),
md(r"""
## Part E: ImageNet weights

The notes' encoders are pretrained on ImageNet. `zoo.imagenet_encoder` wraps MobileNetV2 from `keras.applications`
for these 28 x 28 grey images (resized, grey channel repeated, scaled to [-1, 1]) and returns its pooled features. Its
weights come from the Keras model cache or, in the gpu profile, a download; without them this part is skipped with
a notice. Here it serves as a scenario 3 encoder, next to the course's encoder.
"""),
code(r"""
imagenet = None
if cfg.imagenet or zoo.imagenet_weights_cached(cfg.imagenet_alpha, cfg.imagenet_size):
    imagenet = zoo.imagenet_encoder(cfg.imagenet_alpha, cfg.imagenet_size, download=cfg.imagenet)
else:
    print(f"Notice: Part E is skipped in the {cfg.profile} profile: "
          f"{zoo.imagenet_weights_name(cfg.imagenet_alpha, cfg.imagenet_size)} is not in the Keras model cache "
          f"({zoo.keras_model_cache()}) and this profile does not download it (the gpu profile does).")
if imagenet is not None:
    for name, task in tasks.items():
        index = balanced_subset(task["y"], smallest)
        codes = np.concatenate([np.asarray(imagenet(task["x"][index][i:i + 256], training=False))
                                for i in range(0, len(index), 256)])
        test_codes = np.concatenate([np.asarray(imagenet(task["x_test"][i:i + 256], training=False))
                                     for i in range(0, len(task["x_test"]), 256)])
        knn = float(np.mean(knn_predict(codes, task["y"][index], test_codes, min(cfg.knn_k, smallest))
                            == task["y_test"]))
        print(f"{name:>9}, {smallest} per class: k-NN on ImageNet MobileNetV2 codes {knn:.3f} "
              f"(course encoder {results[name, smallest]['k-NN']:.3f})")
"""),
md(r"""
## What you did

* Part A: replacing the head and freezing the encoder (`trainable = False`) leaves every pretrained weight untouched; only the new layers learn.
* Part B: the frozen encoder alone turns a few labelled images into a k-NN classifier far above chance.
* Part C: a learning-rate range test written as a Keras callback picks the fine-tuning rate; fine-tuning with batch
  norm in inference mode adapts the convolutions without disturbing the pretrained statistics.
* Part D: on the different task (digits), fine-tuning the pretrained encoder beats training from scratch with a
  single labelled image per class, while the frozen-feature scenarios fall behind from ten images per class: different
  data needs the encoder itself adapted, as the notes' table says. On the similar task this small encoder, trained on
  only five clothing classes, does not yet beat a convnet trained from scratch (see below).

**Measured in the cpu profile** (development machine, 2 shared CPU cores; mean of 3 random draws of the labelled
images per size; encoder sources exercised: the course's own Fashion-MNIST encoder; ImageNet weights skipped offline):

| task | labelled per class | k-NN | linear probe | scenario 1 | scenario 2 | fine-tuned | scratch |
|---|---|---|---|---|---|---|---|
| similar | 1 | 0.489 | 0.520 | 0.419 | 0.547 | 0.569 | 0.602 |
| similar | 10 | 0.690 | 0.827 | 0.751 | 0.834 | 0.845 | 0.864 |
| similar | 100 | 0.870 | 0.880 | 0.821 | 0.884 | 0.908 | 0.943 |
| different | 1 | 0.350 | 0.384 | 0.344 | 0.355 | 0.368 | 0.311 |
| different | 10 | 0.538 | 0.573 | 0.484 | 0.589 | 0.669 | 0.660 |
| different | 100 | 0.766 | 0.668 | 0.605 | 0.670 | 0.773 | 0.864 |

Encoder: 16-32-64 filters, fc 64, source test accuracy 0.912; the range test chose a fine-tuning rate of 9.2e-05; the
run took 434 s on a heavily shared machine. Fine-tuning minus scratch at one image per class: -0.033 (similar) and
+0.057 (different). The similar-task target (`min_transfer_gain` 0.05) is NOT met in the cpu profile yet: averaged
over draws, the single-draw margin measured earlier (+0.027) turns out to be luck; a better-transferring encoder is
still to be found.

Next, Lab 6 turns the encoder around: a decoder that upsamples codes back into images.
"""),
]

build(cells, "/work/main/solutions/05_transfer_learning.ipynb", "lab05")
print("wrote solutions/05_transfer_learning.ipynb")
