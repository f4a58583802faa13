"""Lab 4 checks: AlexNet, VGG, the ResNet blocks and networks, an inception module, a separable block, and the
training recipe (random crops and flips, the step schedule).

Keras answers are judged on what they build, not on how the code is written: :func:`describe_model` gives the
layers, their output shapes, parameters and the activation that acts on each output (so ``activation="relu"``,
``Activation("relu")`` and ``ReLU()`` read the same), and where the arithmetic matters (the residual add, the ReLU
after it, the order of the inception branches) the probe fills every weight with deterministic values
(:func:`fill_value`), runs the model on fixed inputs and returns the outputs; the judge recomputes them with
TensorFlow ops from the same values. References are TensorFlow ops and stated facts, never the solutions' code.
"""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import numpy as np

from utils.exercises.framework import (
    RAISED, call_raw, check, expect_array, expect_equal, expect_raised_nothing, expect_true, fail, observe,
)
from utils.exercises.models import ACTIVATION_LAYERS, activation_with_ops, all_layers, describe_model

SEED = 404
# Layers that neither change a tensor's shape nor hold weights: skipped when layers are compared in order.
PASS_THROUGH = ACTIVATION_LAYERS | {"InputLayer", "Flatten", "Dropout"}
BN_MOMENTUM = 0.9


# ---------------------------------------------------------------------------
# Probing helpers: wrap a block into a model, fill its weights, describe it
# ---------------------------------------------------------------------------


def fill_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Return the deterministic float32 value a weight called ``name`` (kernel, bias, gamma...) of ``shape`` gets."""
    shape = tuple(int(d) for d in shape)
    rng = np.random.default_rng(zlib.crc32(f"{name}{shape}".encode()))
    if name == "gamma":
        value = rng.uniform(0.7, 1.3, shape)
    elif name == "beta":
        value = rng.uniform(-0.4, 0.4, shape)
    elif name == "moving_mean":
        value = rng.uniform(-0.3, 0.3, shape)
    elif name == "moving_variance":
        value = rng.uniform(0.5, 1.5, shape)
    elif name == "bias":
        value = rng.uniform(-0.3, 0.3, shape)
    elif "kernel" in name and len(shape) >= 2:
        fan_in = int(np.prod(shape[:-2])) if name == "depthwise_kernel" else int(np.prod(shape[:-1]))
        value = rng.normal(size=shape) * np.sqrt(1.5 / max(fan_in, 1))
    else:
        value = rng.normal(size=shape) * 0.3
    return value.astype(np.float32)


def fill_weights(model: Any) -> None:
    """Give every weight of a model its :func:`fill_value` (so outputs can be recomputed from names and shapes)."""
    for weight in model.weights:
        weight.assign(fill_value(weight.name.split("/")[-1], tuple(weight.shape)))


def inputs_for(index: int, shape: tuple[int, ...], batch: int = 2) -> np.ndarray:
    """Return the fixed float32 input batch of case ``index``."""
    rng = np.random.default_rng(SEED + index)
    return rng.normal(size=(batch, *shape)).astype(np.float32)


PROBLEM = "__problem__"  # key of a plain record of an answer that returned the wrong kind of thing


def problem(sentence: str) -> dict[str, str]:
    """Return the plain record of a wrong kind of answer, with the sentence the judge will show."""
    return {PROBLEM: sentence}


def expect_ok(value: Any) -> None:
    """Fail with the sentence of a problem record or of what student code raised; else return quietly."""
    if isinstance(value, dict) and PROBLEM in value:
        fail(value[PROBLEM])
    expect_raised_nothing(value)


def _not_a_tensor(name: str, value: Any) -> dict[str, str]:
    """Return the problem record of a block that returned something other than a Keras tensor."""
    kind = "None (a missing `return`?)" if value is None else f"a {type(value).__name__}"
    return problem(f"`{name}` should return the output tensor of its last layer, not {kind}.")


def block_model(block: Any, input_shape: tuple[int, ...], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call a student's block (tensor in, tensor out) on ``keras.Input(input_shape)``; return ``(model, record)``."""
    import keras

    inputs = keras.Input(input_shape)
    outputs, record = call_raw(block, inputs, *args, **kwargs)
    if record is not None:
        return None, record
    name = getattr(block, "__name__", "the block")
    if isinstance(outputs, (list, tuple)) or not isinstance(outputs, keras.KerasTensor):
        return None, _not_a_tensor(name, outputs)
    try:
        return keras.Model(inputs, outputs), None
    except Exception as exc:  # noqa: BLE001 - e.g. an output not connected to the input
        return None, problem(f"The output of `{name}` could not be made into a model ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:150]}); build every layer on the tensor it is given.")


def call_model(func: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call a student's model builder; return ``(model, record)``, with a record when it is not a keras.Model."""
    import keras

    model, record = call_raw(func, *args, **kwargs)
    name = getattr(func, "__name__", "the function")
    if record is None and not isinstance(model, keras.Model):
        kind = "None (a missing `return`?)" if model is None else f"a {type(model).__name__}"
        record = problem(f"`{name}` should return a keras.Model, not {kind}.")
    elif record is None and not _has_inputs(model):
        record = problem(f"The model `{name}` returns has no input shape: start it with keras.Input(input_shape) "
                         "so that every layer's output shape is known.")
    return (model if record is None else None), record


def _has_inputs(model: Any) -> bool:
    """Return True when a model was built on a symbolic input."""
    try:
        return bool(model.inputs)
    except Exception:  # noqa: BLE001 - an unbuilt Sequential has none
        return False


def table_rows(model: Any) -> list[dict[str, Any]]:
    """Return ``utils.model_table.tabulate``'s rows as plain data (kind, output shape, params, multiply-adds)."""
    from utils import model_table

    return [{"name": r.name, "kind": r.kind, "output_shape": r.output_shape, "params": int(r.params),
             "biases": int(r.biases), "activations": int(r.activations), "mult_adds": r.mult_adds}
            for r in model_table.tabulate(model)]


def model_data(model: Any, x: np.ndarray | None) -> dict[str, Any]:
    """Describe a model and, when ``x`` is given, fill its weights and return its inference output on ``x``."""
    data = {"model": describe_model(model), "table": table_rows(model)}
    if x is not None:
        fill_weights(model)
        data["output"] = observe(lambda inputs: model(inputs, training=False), x)
    return data


def _is_record(value: Any) -> bool:
    """Return True for the plain record of something raised."""
    return isinstance(value, dict) and RAISED in value


# ---------------------------------------------------------------------------
# Judging helpers: references with TensorFlow ops, in float64, from the filled values
# ---------------------------------------------------------------------------


def _w(name: str, shape: tuple[int, ...]) -> Any:
    """Return a filled weight as a float64 tensor."""
    import tensorflow as tf

    return tf.constant(fill_value(name, shape).astype(np.float64))


def ref_conv(x: Any, filters: int, size: int | tuple[int, int], stride: int = 1, padding: str = "SAME",
             bias: bool = False) -> Any:
    """Cross-correlation as tf.nn.conv2d computes it, with the filled kernel (and bias)."""
    import tensorflow as tf

    kh, kw = (size, size) if isinstance(size, int) else size
    shape = (kh, kw, int(x.shape[-1]), filters)
    y = tf.nn.conv2d(x, _w("kernel", shape), strides=stride, padding=padding)
    return y + _w("bias", (filters,)) if bias else y


def ref_depthwise(x: Any, size: int, stride: int) -> Any:
    """Depthwise convolution (one filter per channel, 'same' padding) with the filled kernel."""
    import tensorflow as tf

    kernel = _w("kernel", (size, size, int(x.shape[-1]), 1))  # Keras names a DepthwiseConv2D's kernel 'kernel'
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, stride, stride, 1], padding="SAME")


def ref_bn(x: Any, epsilon: float) -> Any:
    """Batch normalisation in inference mode with the filled statistics, scale and shift."""
    import tensorflow as tf

    c = (int(x.shape[-1]),)
    return ((x - _w("moving_mean", c)) / tf.sqrt(_w("moving_variance", c) + epsilon)) * _w("gamma", c) + _w("beta", c)


def ref_dense(x: Any, units: int) -> Any:
    """A fully connected layer with the filled kernel and bias."""
    return x @ _w("kernel", (int(x.shape[-1]), units)) + _w("bias", (units,))


def tf_relu(x: Any) -> Any:
    """max(x, 0) on tensors."""
    import tensorflow as tf

    return tf.nn.relu(x)


def _epsilon(description: dict[str, Any]) -> float:
    """Return the epsilon of the model's first batch norm (Keras' default 1e-3 when there is none)."""
    for layer in all_layers(description):
        if layer["class"] == "BatchNormalization":
            return float(layer["config"].get("epsilon", 1e-3))
    return 1e-3


def _bn_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the batch-norm layers of a description, also those inside nested models and custom layers."""
    return [layer for layer in all_layers(description) if layer["class"] == "BatchNormalization"]


def _conv_biases(description: dict[str, Any]) -> int:
    """Return the number of bias parameters held by convolutions."""
    total = 0
    for layer in description["layers"]:
        if layer["class"] in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D") and layer["config"].get("use_bias"):
            total += int(layer["output_shape"][-1]) if layer["output_shape"] else 0
    return total


def _shape_text(shape: Any) -> str:
    """Write a per-example shape as 7x5x6."""
    return "x".join(str(d) for d in shape) if isinstance(shape, (tuple, list)) else str(shape)


def _output_shape(description: dict[str, Any]) -> tuple | None:
    """Return the model's per-example output shape."""
    shapes = description.get("output_shapes") or []
    return tuple(shapes[0][1:]) if shapes and shapes[0] else None


def _matches(got: Any, candidate: Any) -> bool:
    """Return True when an output array agrees with a candidate to float32 precision."""
    if not isinstance(got, np.ndarray) or got.shape != tuple(candidate.shape):
        return False
    candidate = np.asarray(candidate)
    return bool(np.allclose(got, candidate, rtol=1e-4, atol=1e-4 * max(1.0, float(np.max(np.abs(candidate))))))


def _judge_output(what: str, got: Any, expected: Any, mistakes: dict[str, Any]) -> None:
    """Compare an output with the reference; when it matches a known mistake's output, say which."""
    expected = np.asarray(expected)
    expect_ok(got)
    hint = next((sentence for sentence, candidate in mistakes.items() if _matches(got, np.asarray(candidate))), "")
    expect_array(what, got, expected, tol=1e-4, hint=hint)


def _check_momentum(what: str, description: dict[str, Any]) -> None:
    """Every batch norm must have momentum 0.9."""
    wrong = [layer for layer in _bn_layers(description) if abs(layer["config"].get("momentum", 0.99) - BN_MOMENTUM)
             > 1e-9]
    expect_true(not wrong, f"{what}: give every BatchNormalization momentum=0.9 ({len(wrong)} have "
                           f"{wrong[0]['config'].get('momentum') if wrong else ''}), so the moving statistics used "
                           "at test time follow the training statistics within a few dozen steps.")


def _check_params(what: str, description: dict[str, Any], expected: int, hints: dict[int, str] | None = None) -> None:
    """Compare a parameter count, naming the likely mistake when the difference is a known one."""
    count = int(description["params"])
    if count == expected:
        return
    hint = ""
    biases = _conv_biases(description)
    if biases and count - biases == expected:
        hint = " (convolutions followed by batch norm need no bias: use_bias=False)"
    elif hints and count in hints:
        hint = f" ({hints[count]})"
    fail(f"{what} has {count:,} parameters, expected {expected:,}{hint}.")


def _check_shape(what: str, description: dict[str, Any], expected: tuple, hint: str = "") -> None:
    """Compare the model's per-example output shape."""
    got = _output_shape(description)
    extra = f" ({hint})" if hint else ""
    expect_true(got == tuple(expected), f"{what} outputs {_shape_text(got)}, expected {_shape_text(expected)}{extra}.")


# ---------------------------------------------------------------------------
# A1: AlexNet
# ---------------------------------------------------------------------------

ALEXNET_CASES = [((227, 227, 3), 1000), ((227, 259, 1), 10)]


def alexnet_rows(input_shape: tuple[int, int, int], num_classes: int) -> list[tuple[str, str, tuple, int]]:
    """Return AlexNet's rows (name, kind, per-example shape, params) computed from its recipe (single group)."""
    h, w, c = input_shape
    rows: list[tuple[str, str, tuple, int]] = []

    def out(n: int, k: int, s: int) -> int:
        return (n - k) // s + 1

    h, w = out(h, 11, 4), out(w, 11, 4)
    rows.append(("CONV1", "Conv2D", (h, w, 96), 11 * 11 * c * 96 + 96))
    c = 96
    for name, filters, size in (("2", 256, 5),):
        h, w = out(h, 3, 2), out(w, 3, 2)
        rows += [("POOL1", "MaxPooling2D", (h, w, c), 0), ("NORM1", "norm", (h, w, c), 0)]
        rows.append((f"CONV{name}", "Conv2D", (h, w, filters), size * size * c * filters + filters))
        c = filters
    h, w = out(h, 3, 2), out(w, 3, 2)
    rows += [("POOL2", "MaxPooling2D", (h, w, c), 0), ("NORM2", "norm", (h, w, c), 0)]
    for name, filters in (("CONV3", 384), ("CONV4", 384), ("CONV5", 256)):
        rows.append((name, "Conv2D", (h, w, filters), 9 * c * filters + filters))
        c = filters
    h, w = out(h, 3, 2), out(w, 3, 2)
    rows.append(("POOL3", "MaxPooling2D", (h, w, c), 0))
    features = h * w * c
    for name, units in (("FC6", 4096), ("FC7", 4096), ("FC8", num_classes)):
        rows.append((name, "Dense", (units,), features * units + units))
        features = units
    return rows


def probe_alexnet(alexnet: Any, cases: list | None = None) -> dict[str, Any]:
    """Build AlexNet (without allocating weights) for each (input_shape, num_classes) and describe it."""
    from utils import model_table

    found, norms = [], []
    for input_shape, num_classes in cases or ALEXNET_CASES:
        with model_table.shapes_only():
            model, record = call_model(alexnet, input_shape=input_shape, num_classes=num_classes)
            found.append(record if record else describe_model(model))
        norms.append(None if record else _probe_norms(model))
    return {"models": found, "norms": norms}


# AlexNet's local response normalisation (Krizhevsky et al. 2012, section 3.3): k = 2, n = 5, alpha = 1e-4,
# beta = 0.75, as tf.nn.local_response_normalization(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75) has it.
LRN_SETTINGS = dict(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)


def lrn_input() -> np.ndarray:
    """Return a positive probe map (post-ReLU values up to 80) on which the sum-of-squares term matters."""
    return np.random.default_rng(SEED + 7).uniform(0.0, 80.0, size=(2, 3, 4, 9)).astype(np.float32)


def _model_layers(model: Any) -> list[Any]:
    """Return a model's layers in order, those of nested models in their place."""
    import keras

    found = []
    for layer in model.layers:
        found += _model_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


def _probe_norms(model: Any) -> list[Any]:
    """Run every parameter-free layer that is no pooling, convolution, activation, flattening or dropout (the
    normalisation layers) on :func:`lrn_input`; return ``(class name, output)`` pairs."""
    skip = PASS_THROUGH | {"MaxPooling2D", "Conv2D", "Dense", "AveragePooling2D"}
    x = lrn_input()
    found = []
    for layer in _model_layers(model):
        kind = type(layer).__name__
        if kind in skip or "Pool" in kind or "Conv" in kind or layer.weights:
            continue
        found.append((kind, observe(layer, x)))
    return found


def _compare_rows(what: str, description: dict[str, Any], rows: list[tuple[str, str, tuple, int]]) -> None:
    """Compare a model's shape-changing layers, in order, with (name, kind, shape, params) rows."""
    layers = [layer for layer in description["layers"] if layer["class"] not in PASS_THROUGH]
    if len(layers) != len(rows):
        got = ", ".join(f"{layer['class']} {_shape_text(layer['output_shape'][1:])}" for layer in layers)
        fail(f"{what} has {len(layers)} layers besides inputs, activations, flattening and dropout, expected "
             f"{len(rows)}: yours are {got[:250]}.")
    for index, (layer, (name, kind, shape, params)) in enumerate(zip(layers, rows), start=1):
        got_kind = layer["class"]
        if kind == "norm":
            ok = layer["params"] == 0 and "Pool" not in got_kind and "Conv" not in got_kind
        else:
            ok = got_kind == kind
        expect_true(ok, f"{what}: layer {index} is a {got_kind}, expected {name}, a "
                        f"{'local response normalisation' if kind == 'norm' else kind}.")
        got_shape = tuple(layer["output_shape"][1:]) if layer["output_shape"] else None
        hint = ""
        if kind == "Conv2D" and got_shape and got_shape[-1] == shape[-1] and got_shape[0] < shape[0]:
            hint = " (padding='same' keeps the size)"
        expect_true(got_shape == shape, f"{what}: layer {index} ({name}, {got_kind}) outputs "
                                        f"{_shape_text(got_shape)}, expected {_shape_text(shape)}{hint}.")
        expect_true(layer["params"] == params, f"{what}: layer {index} ({name}) has {layer['params']:,} parameters, "
                                               f"expected {params:,}.")


def _flat_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a description's layers with nested models (a `features` Sequential...) replaced by their layers."""
    found = []
    for layer in description["layers"]:
        if isinstance(layer.get("model"), dict):
            found += [inner for inner in _flat_layers(layer["model"]) if inner["class"] != "InputLayer"]
        else:
            found.append(layer)
    return found


def flattened(description: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a description whose layers include those of nested models, in order."""
    return {**description, "layers": _flat_layers(description)}


def _acting_activation(layer: dict[str, Any], layers: list[dict[str, Any]], sequential: bool = False) -> str:
    """Return the activation acting on a layer's output; a ReLU after the max pooling that follows it counts (max
    pooling and ReLU commute)."""
    act = activation_with_ops(layer)
    if act not in (None, "linear"):
        return act
    if sequential:  # a Sequential's order is its graph (names may repeat when one layer object is used twice)
        at = next((i for i, other in enumerate(layers) if other is layer), len(layers))
        following = layers[at + 1:at + 3]
        if (len(following) == 2 and following[0]["class"] == "MaxPooling2D"
                and following[1]["class"] in ACTIVATION_LAYERS and following[1]["activation"] == "relu"):
            return "relu"
        return act
    consumers = [other for other in layers if layer["name"] in other["inbound"]]
    if len(consumers) == 1 and consumers[0]["class"] == "MaxPooling2D":
        return activation_with_ops(consumers[0]) if activation_with_ops(consumers[0]) == "relu" else act
    return act


def _check_head(what: str, description: dict[str, Any], weighted: tuple[str, ...]) -> None:
    """Hidden convolutions and dense layers apply ReLU; the last layer outputs logits."""
    all_flat = _flat_layers(description)
    layers = [layer for layer in all_flat if layer["class"] in weighted]
    for index, layer in enumerate(layers[:-1], start=1):
        act = _acting_activation(layer, all_flat, description.get("class") == "Sequential")
        expect_true(act == "relu", f"{what}: its {layer['class']} number {index} (output "
                                   f"{_shape_text(layer['output_shape'][1:])}) applies {act}, expected ReLU.")
    if layers:
        act = activation_with_ops(layers[-1])
        expect_true(act == "linear", f"{what}: the last layer applies {act}; output raw class scores (logits) and "
                                     "let the loss apply the softmax.")


def _check_norms(what: str, norms: Any) -> None:
    """The layers in the NORM rows compute AlexNet's local response normalisation on a probe map."""
    import tensorflow as tf

    if not norms:
        return
    x = lrn_input()
    expected = tf.nn.local_response_normalization(tf.constant(x), **LRN_SETTINGS).numpy().astype(np.float64)
    for index, (kind, got) in enumerate(norms[:2], start=1):
        ok = isinstance(got, np.ndarray) and got.shape == expected.shape and bool(
            np.allclose(got, expected, rtol=1e-4, atol=1e-5))
        expect_true(ok, f"{what}: NORM{index} (a {kind}) does not compute AlexNet's local response normalisation "
                        "(each value divided by (2 + 1e-4 * sum of squares over 5 neighbouring channels) ** 0.75): "
                        "use the given LocalResponseNorm layer.")


def judge_alexnet(data: dict[str, Any], cases: list | None = None) -> str:
    """Compare each AlexNet with the rows its recipe gives."""
    norms_per_case = data.get("norms") or [None] * len(data["models"])
    for (input_shape, num_classes), description, norms in zip(cases or ALEXNET_CASES, data["models"], norms_per_case):
        expect_ok(description)
        what = f"alexnet(input_shape={input_shape}, num_classes={num_classes})"
        description = flattened(description)
        _compare_rows(what, description, alexnet_rows(input_shape, num_classes))
        _check_norms(what, norms)
        _check_head(what, description, ("Conv2D", "Dense"))
        pools = [layer for layer in description["layers"] if layer["class"] == "MaxPooling2D"]
        expect_true(all(tuple(p["config"].get("pool_size", ())) == (3, 3) and tuple(p["config"].get("strides", ()))
                        == (2, 2) for p in pools),
                    f"{what}: AlexNet's max pooling is overlapping, 3x3 windows at stride 2 (yours: "
                    f"{', '.join(str(tuple(p['config'].get('pool_size', ()))) for p in pools)}).")
        dropouts = [layer for layer in description["layers"] if layer["class"] == "Dropout"]
        expect_true(len(dropouts) == 2 and all(abs(d["config"].get("rate", 0) - 0.5) < 1e-9 for d in dropouts),
                    f"{what} should have two Dropout(0.5) layers, after FC6 and FC7 (it has "
                    f"{len(dropouts)} Dropout layers).")
        order = [layer["class"] for layer in description["layers"] if layer["class"] in ("Dense", "Dropout")]
        expect_true(order == ["Dense", "Dropout", "Dense", "Dropout", "Dense"],
                    f"{what} places its Dropout layers as {', '.join(order)}; AlexNet drops out after FC6 and after "
                    "FC7, never on the output FC8 (the logits).")
        total = sum(row[3] for row in alexnet_rows(input_shape, num_classes))
        expect_equal(f"{what} total parameters", description["params"], total)
    return ("AlexNet has the recipe's layers, output shapes and parameters (62,378,344 on 227x227x3), ReLU after "
            "each hidden layer and logits out, also on a 227x259x1 input with 10 classes")


check_alexnet = check("architectures.alexnet", probe_alexnet, judge_alexnet)


# ---------------------------------------------------------------------------
# A2: VGG block and network
# ---------------------------------------------------------------------------

# (input shape, filters, convolutions, batch): odd, non-square maps so a 'same'-padded pooling or a stride shows.
VGG_BLOCK_CASES = [((9, 7, 3), 4, 2, 2), ((8, 6, 2), 3, 3, 2), ((5, 11, 4), 2, 1, 3)]


def probe_vgg_block(vgg_block: Any, cases: list | None = None) -> dict[str, Any]:
    """Wrap vgg_block into a model per case, fill its weights and run it on fixed inputs."""
    found = []
    for index, (shape, filters, convs, batch) in enumerate(cases or VGG_BLOCK_CASES):
        model, record = block_model(vgg_block, shape, filters, convs)
        found.append(record if record else model_data(model, inputs_for(index, shape, batch)))
    return {"cases": found}


def ref_vgg_block(x: Any, filters: int, convs: int, relu_last: bool = True, pool: bool = True) -> Any:
    """num_convs 'same' 3x3 convolutions with bias and ReLU, then 2x2 max pooling at stride 2."""
    import tensorflow as tf

    for _ in range(convs):
        x = tf_relu(ref_conv(x, filters, 3, bias=True))
    return tf.nn.max_pool2d(x, 2, 2, "VALID") if pool else x


def judge_vgg_block(data: dict[str, Any], cases: list | None = None) -> str:
    """Shapes, parameters and outputs of each block against TensorFlow ops."""
    import tensorflow as tf

    for index, ((shape, filters, convs, batch), got) in enumerate(zip(cases or VGG_BLOCK_CASES, data["cases"])):
        expect_ok(got)
        what = f"vgg_block(input {_shape_text(shape)}, {filters} filters, {convs} convolutions)"
        h, w, c = shape
        pooled = (h // 2, w // 2, filters)
        hint = ""
        got_shape = _output_shape(got["model"])
        if got_shape == (h, w, filters):
            hint = "the block ends with 2x2 max pooling at stride 2"
        elif got_shape == (-(-h // 2), -(-w // 2), filters):
            hint = "pool with the default padding='valid': an odd row or column is dropped"
        _check_shape(what, got["model"], pooled, hint)
        params = 9 * c * filters + filters + (convs - 1) * (9 * filters * filters + filters)
        _check_params(what, got["model"], params)
        x = tf.constant(inputs_for(index, shape, batch).astype(np.float64))
        avg = tf.nn.avg_pool2d(ref_vgg_block(x, filters, convs, pool=False), 2, 2, "VALID")
        linear = x
        for _ in range(convs):
            linear = ref_conv(linear, filters, 3, bias=True)
        mistakes = {"average pooling instead of max pooling": avg,
                    "the convolutions apply no ReLU": tf.nn.max_pool2d(linear, 2, 2, "VALID")}
        _judge_output(f"{what} output", got["output"], ref_vgg_block(x, filters, convs), mistakes)
    return ("vgg_block: 3x3 'same' convolutions with ReLU and 2x2 max pooling at stride 2, right shapes, parameters "
            "and outputs on odd, non-square maps")


check_vgg_block = check("architectures.vgg_block", probe_vgg_block, judge_vgg_block)

# (input_shape, block_filters, block_convs, dense_units, num_classes, batch, run it?)
VGG16_SETTINGS = ((224, 224, 3), (64, 128, 256, 512, 512), (2, 2, 3, 3, 3), (4096, 4096), 1000)
VGG_NETWORK_CASES = [((12, 10, 2), (3, 4), (1, 2), (5,), 3), ((16, 8, 1), (2, 3, 2), (2, 1, 1), (4, 6), 4)]


def vgg_rows(input_shape: tuple, filters: tuple, convs: tuple, dense: tuple, classes: int) -> list[tuple]:
    """Return a VGG network's rows (name, kind, shape, params) computed from its configuration."""
    h, w, c = input_shape
    rows = []
    for block, (f, n) in enumerate(zip(filters, convs), start=1):
        for i in range(n):
            rows.append((f"block{block} conv{i + 1}", "Conv2D", (h, w, f), 9 * c * f + f))
            c = f
        h, w = h // 2, w // 2
        rows.append((f"block{block} pool", "MaxPooling2D", (h, w, c), 0))
    features = h * w * c
    for i, units in enumerate((*dense, classes)):
        rows.append((f"fc{i + 1}", "Dense", (units,), features * units + units))
        features = units
    return rows


def probe_vgg_network(vgg_network: Any, cases: list | None = None) -> dict[str, Any]:
    """Describe VGG16 (default arguments, weights not allocated) and run small VGG networks on fixed inputs."""
    from utils import model_table

    with model_table.shapes_only():
        model, record = call_model(vgg_network)
        vgg16 = record if record else {"model": describe_model(model), "table": table_rows(model)}
    small = []
    for index, (shape, filters, convs, dense, classes) in enumerate(cases or VGG_NETWORK_CASES):
        model, record = call_model(vgg_network, shape, filters, convs, dense, classes)
        small.append(record if record else model_data(model, inputs_for(10 + index, shape)))
    return {"vgg16": vgg16, "small": small}


def judge_vgg_network(data: dict[str, Any], cases: list | None = None) -> str:
    """VGG16's rows, totals and activation memory; small networks' outputs against TensorFlow ops."""
    import tensorflow as tf

    vgg16 = data["vgg16"]
    expect_ok(vgg16)
    what = "vgg_network() (VGG16)"
    _compare_rows(what, vgg16["model"], vgg_rows(*VGG16_SETTINGS))
    _check_head(what, vgg16["model"], ("Conv2D", "Dense"))
    expect_equal(f"{what} parameters (keras.applications.VGG16 has 138,357,544)", vgg16["model"]["params"],
                 138_357_544)
    values = sum(row["activations"] for row in vgg16["table"] if row["kind"] not in PASS_THROUGH - {"InputLayer"})
    expect_equal(f"{what} activation values per image (15,237,608: 61 MB at 4 bytes)", values, 15_237_608)
    for index, ((shape, filters, convs, dense, classes), got) in enumerate(zip(cases or VGG_NETWORK_CASES,
                                                                             data["small"])):
        expect_ok(got)
        what = f"vgg_network({shape}, {filters}, {convs}, {dense}, {classes})"
        _compare_rows(what, got["model"], vgg_rows(shape, filters, convs, dense, classes))
        x = tf.constant(inputs_for(10 + index, shape).astype(np.float64))
        for f, n in zip(filters, convs):
            x = ref_vgg_block(x, f, n)
        x = tf.reshape(x, (x.shape[0], -1))
        for units in dense:
            x = tf_relu(ref_dense(x, units))
        _judge_output(f"{what} output", got["output"], ref_dense(x, classes), {})
    return ("vgg_network: VGG16 has the recipe's 21 layers, 138,357,544 parameters and 15.2M activation values; "
            "smaller configurations compute the right outputs")


check_vgg_network = check("architectures.vgg_network", probe_vgg_network, judge_vgg_network)


# ---------------------------------------------------------------------------
# A3: the basic block; A4: the bottleneck block
# ---------------------------------------------------------------------------

# (input shape, filters, stride, residual): identity, stride-2 projection (channels change, or not), stride-1
# widening projection, plain blocks. Odd, non-square maps.
BASIC_CASES = [((7, 5, 6), 6, 1, True), ((7, 5, 4), 6, 2, True), ((7, 5, 6), 6, 2, True), ((6, 6, 4), 8, 1, True),
               ((7, 5, 4), 6, 2, False), ((7, 5, 6), 6, 1, False)]


def _bn_params(*channels: int) -> int:
    """Parameters of batch norms on these channel counts (scale, shift and the two moving statistics)."""
    return 4 * sum(channels)


def probe_basic_block(basic_block: Any, cases: list | None = None) -> dict[str, Any]:
    """Wrap basic_block into a model per case, fill its weights and run it on fixed inputs."""
    found = []
    for index, (shape, filters, stride, residual) in enumerate(cases or BASIC_CASES):
        model, record = block_model(basic_block, shape, filters, stride=stride, residual=residual)
        found.append(record if record else model_data(model, inputs_for(20 + index, shape)))
    return {"cases": found}


def _projection(x: Any, filters: int, stride: int, eps: float) -> Any:
    """The projection shortcut: a 1x1 convolution with the stride, then batch norm."""
    return ref_bn(ref_conv(x, filters, 1, stride), eps)


def judge_basic_block(data: dict[str, Any], cases: list | None = None) -> str:
    """Shapes, parameters, batch-norm momentum and outputs against TensorFlow ops, naming the usual mistakes."""
    import tensorflow as tf

    for index, ((shape, filters, stride, residual), got) in enumerate(zip(cases or BASIC_CASES, data["cases"])):
        expect_ok(got)
        what = (f"basic_block(input {_shape_text(shape)}, {filters} filters, stride={stride}"
                f"{'' if residual else ', residual=False'})")
        h, w, c = shape
        out_shape = (-(-h // stride), -(-w // stride), filters)
        _check_shape(what, got["model"], out_shape, "the first 3x3 convolution takes the stride, both use "
                                                     "padding='same'" if stride > 1 else "padding='same'")
        project = residual and (stride != 1 or c != filters)
        body = 9 * c * filters + 9 * filters * filters + _bn_params(filters, filters)
        shortcut = c * filters + _bn_params(filters)
        expected = body + (shortcut if project else 0)
        hints = {body: "a shortcut that changes the shape needs a projection: a 1x1 convolution with the stride, "
                       "then batch norm"} if project else {}
        if not project and residual:
            hints[body + shortcut] = "when the shapes agree the shortcut is the identity: add x itself"
        if not residual:
            hints[body + shortcut] = "with residual=False there is no shortcut at all"
        _check_params(what, got["model"], expected, hints)
        _check_momentum(what, got["model"])
        eps = _epsilon(got["model"])
        x = tf.constant(inputs_for(20 + index, shape).astype(np.float64))
        f = ref_bn(ref_conv(tf_relu(ref_bn(ref_conv(x, filters, 3, stride), eps)), filters, 3), eps)
        if not residual:
            _judge_output(f"{what} output", got["output"], tf_relu(f),
                          {"ReLU missing at the end of the block": f})
            continue
        s = _projection(x, filters, stride, eps) if project else x
        before = "a ReLU before the add: add F(x) and the shortcut first, then apply one ReLU"
        mistakes = {before: tf_relu(f) + s, "ReLU missing after the add": f + s, before + " ": tf_relu(tf_relu(f) + s),
                    "no shortcut: with residual=True add F(x) and the shortcut": tf_relu(f)}
        _judge_output(f"{what} output", got["output"], tf_relu(f + s), mistakes)
    return ("basic_block: ReLU(F(x) + shortcut) with an identity shortcut, or a 1x1 projection with batch norm when "
            "the stride or width changes, and ReLU(F(x)) when residual=False: shapes, parameters and outputs agree")


check_basic_block = check("architectures.basic_block", probe_basic_block, judge_basic_block)

# (input shape, filters, stride): identity (channels = 4 * filters), stride-2 projection, stride-2 projection with
# equal channels, stride-1 widening projection, and the 28x28x256 example with 64 filters.
BOTTLENECK_CASES = [((7, 9, 8), 2, 1), ((7, 9, 8), 4, 2), ((7, 9, 16), 4, 2), ((6, 5, 4), 4, 1),
                    ((28, 28, 256), 64, 1)]


def probe_bottleneck_block(bottleneck_block: Any, cases: list | None = None) -> dict[str, Any]:
    """Wrap bottleneck_block into a model per case, fill its weights and run it on fixed inputs."""
    found = []
    for index, (shape, filters, stride) in enumerate(cases or BOTTLENECK_CASES):
        model, record = block_model(bottleneck_block, shape, filters, stride=stride)
        found.append(record if record else model_data(model, inputs_for(30 + index, shape, batch=2)))
    return {"cases": found}


def judge_bottleneck_block(data: dict[str, Any], cases: list | None = None) -> str:
    """Shapes, parameters, multiply-adds and outputs against TensorFlow ops, naming the usual mistakes."""
    import tensorflow as tf

    for index, ((shape, filters, stride), got) in enumerate(zip(cases or BOTTLENECK_CASES, data["cases"])):
        expect_ok(got)
        what = f"bottleneck_block(input {_shape_text(shape)}, {filters} filters, stride={stride})"
        h, w, c = shape
        out = 4 * filters
        oh, ow = -(-h // stride), -(-w // stride)
        _check_shape(what, got["model"], (oh, ow, out), "the block expands to 4 * filters channels")
        project = stride != 1 or c != out
        body = c * filters + 9 * filters * filters + filters * out + _bn_params(filters, filters, out)
        shortcut = c * out + _bn_params(out)
        hints = {body: "a shortcut that changes the shape needs a projection: a 1x1 convolution with the stride, "
                       "then batch norm"} if project else {
            body + shortcut: "when the shapes agree the shortcut is the identity: add x itself"}
        _check_params(what, got["model"], body + (shortcut if project else 0), hints)
        _check_momentum(what, got["model"])
        macs = sum(row["mult_adds"] or 0 for row in got["table"])
        expected_macs = oh * ow * (c * filters + 9 * filters * filters + filters * out + (c * out if project else 0))
        expect_true(macs == expected_macs or stride == 1,
                    f"{what} does {macs:,} multiply-adds, expected {expected_macs:,} (the stride belongs in the first "
                    "1x1 convolution, so the 3x3 works on the small map).")
        eps = _epsilon(got["model"])
        x = tf.constant(inputs_for(30 + index, shape, batch=2).astype(np.float64))

        def body_of(first_stride: int, middle_stride: int) -> Any:
            y = tf_relu(ref_bn(ref_conv(x, filters, 1, first_stride), eps))
            y = tf_relu(ref_bn(ref_conv(y, filters, 3, middle_stride), eps))
            return ref_bn(ref_conv(y, out, 1), eps)

        f = body_of(stride, 1)
        s = _projection(x, out, stride, eps) if project else x
        before = "a ReLU before the add: add F(x) and the shortcut first, then apply one ReLU"
        mistakes = {before: tf_relu(f) + s, before + " ": tf_relu(tf_relu(f) + s),
                    "ReLU missing after the add": f + s}
        if stride > 1:
            mistakes["the stride belongs in the first 1x1 convolution, not the 3x3"] = tf_relu(body_of(1, stride) + s)
        _judge_output(f"{what} output", got["output"], tf_relu(f + s), mistakes)
    return ("bottleneck_block: 1x1 (with the stride) - 3x3 - 1x1 to 4 * filters, identity or projection shortcut, "
            "ReLU after the add: shapes, parameters, multiply-adds and outputs agree")


check_bottleneck_block = check("architectures.bottleneck_block", probe_bottleneck_block, judge_bottleneck_block)


# ---------------------------------------------------------------------------
# A5: the CIFAR ResNets
# ---------------------------------------------------------------------------

# (n, input_shape, num_classes, widths, residual), run on fixed inputs.
RESNET_CASES = [(1, (12, 10, 3), 5, (4, 6, 8), True), (1, (12, 10, 3), 5, (4, 6, 8), False),
                (2, (8, 8, 1), 3, (2, 4, 4), True)]


def resnet_weights(n: int, channels: int, classes: int, widths: tuple, residual: bool = True) -> tuple[int, int]:
    """Return (convolution and dense weights, batch-norm parameters) of a CIFAR ResNet with projection shortcuts."""
    weights, bn, c = 9 * channels * widths[0], _bn_params(widths[0]), widths[0]
    for stage, f in enumerate(widths):
        for position in range(n):
            weights += 9 * c * f + 9 * f * f
            bn += _bn_params(f, f)
            if residual and (c != f or (stage > 0 and position == 0)):
                weights, bn = weights + c * f, bn + _bn_params(f)
            c = f
    return weights + c * classes + classes, bn


def probe_cifar_resnet(cifar_resnet: Any, cases: list | None = None) -> dict[str, Any]:
    """Describe ResNet-20, ResNet-56 (weights not allocated) and plain-20; run small ResNets on fixed inputs."""
    from utils import model_table

    found: dict[str, Any] = {}
    model, record = call_model(cifar_resnet, 3)
    found["resnet20"] = record if record else {"model": describe_model(model), "table": table_rows(model)}
    with model_table.shapes_only():
        for key, args in (("resnet56", dict(n=9)), ("plain20", dict(n=3, residual=False))):
            model, record = call_model(cifar_resnet, **args)
            found[key] = record if record else {"model": describe_model(model)}
    small = []
    for index, (n, shape, classes, widths, residual) in enumerate(cases or RESNET_CASES):
        model, record = call_model(cifar_resnet, n, shape, classes, widths=widths, residual=residual)
        small.append(record if record else model_data(model, inputs_for(40 + index, shape)))
    found["small"] = small
    return found


def ref_resnet(x: Any, n: int, classes: int, widths: tuple, residual: bool, eps: float) -> Any:
    """The CIFAR ResNet's forward pass in TensorFlow ops (inference mode), from the filled weights."""
    import tensorflow as tf

    x = tf_relu(ref_bn(ref_conv(x, widths[0], 3), eps))
    for stage, f in enumerate(widths):
        for position in range(n):
            stride = 2 if stage > 0 and position == 0 else 1
            y = ref_bn(ref_conv(tf_relu(ref_bn(ref_conv(x, f, 3, stride), eps)), f, 3), eps)
            if residual is True:
                y = y + (_projection(x, f, stride, eps) if stride != 1 or int(x.shape[-1]) != f else x)
            x = tf_relu(y)
    return ref_dense(tf.reduce_mean(x, axis=(1, 2)), classes)


def judge_cifar_resnet(data: dict[str, Any], cases: list | None = None) -> str:
    """ResNet-20/56 layer counts, maps and the paper's 0.27M/0.85M; small ResNets' outputs against TensorFlow ops."""
    import tensorflow as tf

    r20 = data["resnet20"]
    expect_ok(r20)
    model = r20["model"]
    what = "cifar_resnet(3) (ResNet-20)"
    _check_shape(what, model, (10,))
    everything = all_layers(model)
    convs3 = [layer for layer in everything if layer["class"] == "Conv2D" and
              tuple(layer["config"].get("kernel_size", ())) == (3, 3)]
    dense = [layer for layer in everything if layer["class"] == "Dense"]
    expect_true(len(convs3) + len(dense) == 20, f"{what} has {len(convs3)} 3x3 convolutions and {len(dense)} dense "
                                                "layers; 6n + 2 = 20 weighted layers means 19 and 1.")
    # Convolutions inside a custom block layer have no output of their own: the blocks' outputs show the maps.
    blocks = [layer for layer in model["layers"] if layer.get("sublayers") and layer.get("output_shape")]
    maps = sorted({tuple(layer["output_shape"][1:]) for layer in [*convs3, *blocks] if layer.get("output_shape")})
    expect_true(maps == [(8, 8, 64), (16, 16, 32), (32, 32, 16)],
                f"{what}'s 3x3 convolutions produce {', '.join(_shape_text(m) for m in maps)}; expected 32x32x16, "
                "16x16x32 and 8x8x64 only (stride 2 in the first block of the second and third stages only).")
    pooled = any(layer["class"] == "GlobalAveragePooling2D" for layer in everything) or any(
        op["class"] == "Mean" and tuple(sorted(np.atleast_1d(op["config"].get("axis") or ()).tolist())) in
        ((1, 2), (-3, -2)) for op in model.get("operations", []))
    expect_true(pooled, f"{what} should end with global average pooling before its dense layer.")
    _check_momentum(what, model)
    weights, bn = resnet_weights(3, 3, 10, (16, 32, 64))
    _check_params(what, model, weights + bn)
    expect_equal(f"{what} convolution and dense weights in millions (the paper's 0.27M)", round(weights / 1e6, 2), 0.27)
    r56 = data["resnet56"]
    expect_ok(r56)
    weights, bn = resnet_weights(9, 3, 10, (16, 32, 64))
    _check_params("cifar_resnet(9) (ResNet-56)", r56["model"], weights + bn)
    p20 = data["plain20"]
    expect_ok(p20)
    weights, bn = resnet_weights(3, 3, 10, (16, 32, 64), residual=False)
    _check_params("cifar_resnet(3, residual=False) (plain-20)", p20["model"], weights + bn,
                  {sum(resnet_weights(3, 3, 10, (16, 32, 64))): "with residual=False no block has a shortcut: pass "
                                                                  "residual on to basic_block"})
    for index, ((n, shape, classes, widths, residual), got) in enumerate(zip(cases or RESNET_CASES, data["small"])):
        expect_ok(got)
        what = f"cifar_resnet({n}, {shape}, {classes}, widths={widths}, residual={residual})"
        weights, bn = resnet_weights(n, shape[-1], classes, widths, residual)
        _check_params(what, got["model"], weights + bn)
        _check_head(what, got["model"], ("Dense",))
        eps = _epsilon(got["model"])
        x = tf.constant(inputs_for(40 + index, shape).astype(np.float64))
        mistakes = {"still adds shortcuts: pass residual on to basic_block" if not residual else
                    "no shortcuts although residual=True": ref_resnet(x, n, classes, widths, not residual, eps)}
        _judge_output(f"{what} output", got["output"], ref_resnet(x, n, classes, widths, residual, eps), mistakes)
    return ("cifar_resnet: ResNet-20 has 19 3x3 convolutions on 32x32x16, 16x16x32 and 8x8x64 maps and one dense "
            "layer, 0.27M weights (ResNet-56: 0.85M); plain and residual networks compute the right outputs")


check_cifar_resnet = check("architectures.cifar_resnet", probe_cifar_resnet, judge_cifar_resnet)


# ---------------------------------------------------------------------------
# A6: the inception module
# ---------------------------------------------------------------------------

# (input shape, f1, f3_reduce, f3, f5_reduce, f5, pool_proj, run it?): branch widths all different, so a branch in
# the wrong place shows; the 28x28x256 module of the GoogLeNet case study is only tabulated.
INCEPTION_CASES = [((7, 5, 6), 5, 2, 4, 3, 6, 1, True), ((6, 9, 3), 2, 4, 3, 1, 5, 4, True),
                   ((28, 28, 256), 128, 64, 192, 64, 96, 64, False)]


def probe_inception_module(inception_module: Any, cases: list | None = None) -> dict[str, Any]:
    """Wrap inception_module into a model per case; fill and run the small ones on fixed inputs."""
    from utils import model_table

    found = []
    for index, (shape, *filters, run) in enumerate(cases or INCEPTION_CASES):
        if run:
            model, record = block_model(inception_module, shape, *filters)
            found.append(record if record else model_data(model, inputs_for(50 + index, shape)))
        else:
            with model_table.shapes_only():
                model, record = block_model(inception_module, shape, *filters)
                found.append(record if record else model_data(model, None))
    return {"cases": found}


def judge_inception_module(data: dict[str, Any], cases: list | None = None) -> str:
    """Output shape, parameters, multiply-adds and (small cases) outputs, naming a wrong branch order."""
    import tensorflow as tf

    for index, ((shape, f1, r3, f3, r5, f5, pp, run), got) in enumerate(zip(cases or INCEPTION_CASES,
                                                                          data["cases"])):
        expect_ok(got)
        what = f"inception_module(input {_shape_text(shape)}, {f1}, {r3}, {f3}, {r5}, {f5}, {pp})"
        h, w, c = shape
        hint = ""
        got_shape = _output_shape(got["model"])
        if got_shape and got_shape[-1] == f1 + f3 + f5 + c:
            hint = "the pooling branch needs its 1x1 projection to pool_proj channels"
        elif got_shape and got_shape[-1] == f1 + f3 + f5 + pp and got_shape[:2] != (h, w):
            hint = "every branch keeps the height and width: padding='same', pooling at stride 1"
        _check_shape(what, got["model"], (h, w, f1 + f3 + f5 + pp), hint or "concatenate along the channels")
        params = ((c * f1 + f1) + (c * r3 + r3) + (9 * r3 * f3 + f3) + (c * r5 + r5) + (25 * r5 * f5 + f5)
                  + (c * pp + pp))
        _check_params(what, got["model"], params,
                      {(c * f1 + f1) + (9 * c * f3 + f3) + (25 * c * f5 + f5) + (c * pp + pp):
                       "the 3x3 and 5x5 branches start with a 1x1 reduction to f3_reduce and f5_reduce channels"})
        macs = sum(row["mult_adds"] or 0 for row in got["table"])
        expected_macs = h * w * (c * f1 + c * r3 + 9 * r3 * f3 + c * r5 + 25 * r5 * f5 + c * pp)
        expect_equal(f"{what} multiply-adds", macs, expected_macs)
        if not run:
            continue
        x = tf.constant(inputs_for(50 + index, shape).astype(np.float64))
        branches = [tf_relu(ref_conv(x, f1, 1, bias=True)),
                    tf_relu(ref_conv(tf_relu(ref_conv(x, r3, 1, bias=True)), f3, 3, bias=True)),
                    tf_relu(ref_conv(tf_relu(ref_conv(x, r5, 1, bias=True)), f5, 5, bias=True)),
                    tf_relu(ref_conv(tf.nn.max_pool2d(x, 3, 1, "SAME"), pp, 1, bias=True))]
        mistakes = {}
        for order in itertools.permutations(range(4)):
            if order != (0, 1, 2, 3):
                names = ", ".join(("1x1", "3x3", "5x5", "pool")[i] for i in order)
                mistakes[f"the branches are concatenated as {names}; the order is 1x1, 3x3, 5x5, pool"] = (
                    tf.concat([branches[i] for i in order], axis=-1))
        _judge_output(f"{what} output", got["output"], tf.concat(branches, axis=-1), mistakes)
    return ("inception_module: four 'same' branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pooling at stride 1 "
            "then 1x1) with ReLU, concatenated along the channels in that order; 271.4M multiply-adds on 28x28x256")


check_inception_module = check("architectures.inception_module", probe_inception_module, judge_inception_module)


# ---------------------------------------------------------------------------
# A7: the depthwise separable block
# ---------------------------------------------------------------------------

# (input shape, filters, stride, run it?): the 112x112 rows of MobileNet's Table 1 are only tabulated.
SEPARABLE_SCALE = 10.0  # inputs scaled so that activations exceed 6: a ReLU6 (MobileNet v2's) shows
SEPARABLE_CASES = [((7, 9, 3), 5, 1, True), ((7, 9, 4), 6, 2, True), ((112, 112, 32), 64, 1, False),
                   ((112, 112, 64), 128, 2, False)]


def probe_separable_block(separable_block: Any, cases: list | None = None) -> dict[str, Any]:
    """Wrap separable_block into a model per case; fill and run the small ones on fixed inputs."""
    from utils import model_table

    found = []
    for index, (shape, filters, stride, run) in enumerate(cases or SEPARABLE_CASES):
        if run:
            model, record = block_model(separable_block, shape, filters, stride=stride)
            found.append(record if record else model_data(model, SEPARABLE_SCALE * inputs_for(60 + index, shape)))
        else:
            with model_table.shapes_only():
                model, record = block_model(separable_block, shape, filters, stride=stride)
                found.append(record if record else model_data(model, None))
    return {"cases": found}


def judge_separable_block(data: dict[str, Any], cases: list | None = None) -> str:
    """Output shape, parameters, multiply-adds (1/N + 1/9 of a standard convolution) and outputs."""
    import tensorflow as tf

    for index, ((shape, filters, stride, run), got) in enumerate(zip(cases or SEPARABLE_CASES, data["cases"])):
        expect_ok(got)
        what = f"separable_block(input {_shape_text(shape)}, {filters} filters, stride={stride})"
        h, w, c = shape
        oh, ow = -(-h // stride), -(-w // stride)
        _check_shape(what, got["model"], (oh, ow, filters), "the depthwise 3x3 takes the stride, padding='same'")
        classes = {layer["class"] for layer in got["model"]["layers"]}
        expect_true("SeparableConv2D" not in classes,
                    f"{what} uses layers.SeparableConv2D, which leaves out the batch norm and ReLU between the "
                    "depthwise and the pointwise convolution: write them as DepthwiseConv2D and a 1x1 Conv2D.")
        expect_true("DepthwiseConv2D" in classes,
                    f"{what} has no depthwise convolution: the 3x3 convolution should be layers.DepthwiseConv2D, "
                    "one filter per input channel, not a full convolution.")
        expected = 9 * c + c * filters + _bn_params(c, filters)
        _check_params(what, got["model"], expected, {
            9 * c * filters + c * filters + _bn_params(filters, filters):
                "the 3x3 convolution is depthwise (layers.DepthwiseConv2D), one filter per input channel",
            9 * c * filters + _bn_params(filters): "a separable block is a depthwise 3x3 then a pointwise 1x1, not "
                                                   "one full 3x3 convolution",
            9 * c + c * filters + _bn_params(filters): "batch norm and ReLU come after the depthwise convolution too "
                                                       "(layers.SeparableConv2D leaves them out)"})
        macs = sum(row["mult_adds"] or 0 for row in got["table"])
        expected_macs = oh * ow * (9 * c + c * filters)
        expect_equal(f"{what} multiply-adds (depthwise 3x3 plus pointwise 1x1)", macs, expected_macs,
                     hint="the stride belongs in the depthwise convolution")
        if not run:
            continue
        eps = _epsilon(got["model"])
        x = tf.constant(SEPARABLE_SCALE * inputs_for(60 + index, shape).astype(np.float64))
        d = ref_bn(ref_depthwise(x, 3, stride), eps)
        relu6 = lambda t: tf.clip_by_value(t, 0.0, 6.0)  # noqa: E731
        mistakes = {"ReLU missing after the first batch norm": tf_relu(ref_bn(ref_conv(d, filters, 1), eps)),
                    "ReLU missing at the end": ref_bn(ref_conv(tf_relu(d), filters, 1), eps),
                    "ReLU6 clips at 6: the block uses plain ReLU": relu6(ref_bn(ref_conv(relu6(d), filters, 1), eps))}
        _judge_output(f"{what} output", got["output"], tf_relu(ref_bn(ref_conv(tf_relu(d), filters, 1), eps)), mistakes)
    return ("separable_block: depthwise 3x3 (with the stride) - BN - ReLU - pointwise 1x1 - BN - ReLU, no biases; "
            "it costs 1/N + 1/9 of a standard 3x3 convolution")


check_separable_block = check("architectures.separable_block", probe_separable_block, judge_separable_block)


# ---------------------------------------------------------------------------
# B1: random crops and flips
# ---------------------------------------------------------------------------

# (image shape, dtype, padding, flip, draws): a non-square colour image, a grey one; padding 0, 1, 2 and 4.
AUGMENT_CASES = [((7, 9, 3), "uint8", 0, False, 3), ((7, 9, 3), "uint8", 2, False, 40),
                 ((7, 9, 3), "uint8", 0, True, 40), ((6, 5, 1), "float32", 1, True, 60),
                 ((8, 10, 1), "uint8", 4, False, 40)]
# Inside tf.data, 40 images: random numbers drawn once in Python (np.random) show as one crop or one flip for all.
AUGMENT_GRAPH_CASE = ((7, 9, 3), "uint8", 2, True, 40)


def augment_image(shape: tuple[int, int, int], dtype: str) -> np.ndarray:
    """Return a test image whose pixels are all different and non-zero (so every shift and mirror shows)."""
    values = np.random.default_rng(SEED).permutation(int(np.prod(shape))) % 255 + 1
    return values.reshape(shape).astype(dtype)


def probe_random_crop_and_flip(random_crop_and_flip: Any, cases: list | None = None) -> dict[str, Any]:
    """Call the augmentation repeatedly per case, eagerly, and a few times inside a tf.data pipeline."""
    import tensorflow as tf

    found = []
    for shape, dtype, padding, flip, draws in cases or AUGMENT_CASES:
        image = augment_image(shape, dtype)
        found.append([observe(random_crop_and_flip, image.copy(), padding, flip) for _ in range(draws)])
    shape, dtype, padding, flip, draws = AUGMENT_GRAPH_CASE
    image = augment_image(shape, dtype)

    def in_graph(img: np.ndarray) -> np.ndarray:
        dataset = tf.data.Dataset.from_tensors(img).repeat(draws)
        return np.stack([t.numpy() for t in dataset.map(lambda im: random_crop_and_flip(im, padding, flip))])

    return {"eager": found, "graph": observe(in_graph, image)}


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Return the image moved down by dy and right by dx pixels, zeros shifted in (a crop of the padded image)."""
    p = max(abs(dy), abs(dx))
    padded = np.pad(image, ((p, p), (p, p), (0, 0)))
    return padded[p - dy:p - dy + image.shape[0], p - dx:p - dx + image.shape[1]]


def which_shift(out: np.ndarray, image: np.ndarray, padding: int) -> tuple[int, int, bool] | None:
    """Return (dy, dx, mirrored) that turns ``image`` into ``out``, or None."""
    for mirrored in (False, True):
        source = image[:, ::-1] if mirrored else image
        for dy in range(-padding, padding + 1):
            for dx in range(-padding, padding + 1):
                if np.array_equal(out, shifted(source, dy, dx)):
                    return dy, dx, mirrored
    return None


def _diagnose_augment(out: np.ndarray, image: np.ndarray, padding: int) -> str:
    """Name the likely mistake behind an output that is no shifted, mirrored copy of the image."""
    p = padding
    for dy in range(-p, p + 1):
        for dx in range(-p, p + 1):
            if np.array_equal(out, shifted(image[::-1], dy, dx)) or np.array_equal(out, shifted(image[::-1, ::-1],
                                                                                                 dy, dx)):
                return "it is flipped upside down: flip left-right (tf.image.random_flip_left_right), not up-down"
    for dy in range(-2 * p, 2 * p + 1):
        for dx in range(-2 * p, 2 * p + 1):
            if np.array_equal(out, shifted(image, dy, dx)) or np.array_equal(out, shifted(image[:, ::-1], dy, dx)):
                return (f"it is shifted by ({dy}, {dx}) pixels, more than `padding` one way: pad `padding` pixels "
                        "on every side")
    if p and out.shape == image.shape:
        for mode in ("reflect", "symmetric", "edge"):
            padded = np.pad(image, ((p, p), (p, p), (0, 0)), mode=mode)
            for i in range(2 * p + 1):
                for j in range(2 * p + 1):
                    window = padded[i:i + image.shape[0], j:j + image.shape[1]]
                    if np.array_equal(out, window) or np.array_equal(out, window[:, ::-1]):
                        return f"the border is filled by {mode} padding: pad with zeros (tf.pad's default)"
    return "it should be a crop of the zero-padded image, mirrored left-right or not"


def judge_random_crop_and_flip(data: dict[str, Any], cases: list | None = None) -> str:
    """Every output is the image shifted by at most `padding` pixels (zeros in), mirrored only if `flip`."""
    for (shape, dtype, padding, flip, draws), outputs in zip(cases or AUGMENT_CASES, data["eager"]):
        image = augment_image(shape, dtype)
        what = f"random_crop_and_flip(a {_shape_text(shape)} {dtype} image, padding={padding}, flip={flip})"
        found = []
        for out in outputs:
            expect_raised_nothing(out)
            got = np.asarray(out) if isinstance(out, np.ndarray) else None
            if got is None:
                expect_array(what, out, image.astype(np.float64))
            expect_true(got.shape == image.shape, f"{what} returned shape {got.shape}, expected {image.shape}: crop "
                                                  "back to the image's own height and width.")
            expect_true(np.array_equal(got.astype(np.float64), np.round(got.astype(np.float64))) or dtype != "uint8",
                        f"{what} changed the pixel values; crops and flips only move pixels.")
            shift = which_shift(got.astype(image.dtype), image, padding) if np.allclose(got, got.astype(
                image.dtype)) else None
            if shift is None:
                fail(f"{what} is not the image shifted by at most {padding} pixels with zeros shifted in"
                     f"{' and possibly mirrored' if flip else ''}: {_diagnose_augment(got, image, padding)}.")
            if shift[2] and not flip:
                fail(f"{what} mirrored the image although flip=False.")
            found.append(shift)
        if padding == 0:
            expect_true(all(s[:2] == (0, 0) for s in found), f"{what} moved the image: with padding 0 the crop is "
                                                             "the whole image.")
        else:
            shifts = {s[:2] for s in found}
            expect_true(len(shifts) >= min(5, (2 * padding + 1) ** 2 // 2),
                        f"{what} gave only {len(shifts)} different shift(s) in {len(found)} draws: crop a random "
                        "window of the padded image (tf.image.random_crop).")
            expect_true(any(dy < 0 for dy, _ in shifts) and any(dy > 0 for dy, _ in shifts)
                        and any(dx < 0 for _, dx in shifts) and any(dx > 0 for _, dx in shifts),
                        f"{what} only ever shifts the image one way: pad by `padding` pixels on every side.")
        if flip:
            mirrored = sum(s[2] for s in found)
            expect_true(0.2 * len(found) <= mirrored <= 0.8 * len(found),
                        f"{what} mirrored {mirrored} of {len(found)} draws; flip left-right with probability 1/2.")
        if padding == 0 and not flip:
            first = outputs[0]
            expect_true(getattr(first, "dtype", None) == image.dtype,
                        f"{what} changed the dtype from {image.dtype} to {getattr(first, 'dtype', None)}; keep it "
                        "(the pipeline converts to float later).")
    graph = data["graph"]
    if _is_record(graph):
        fail(f"random_crop_and_flip raises {graph[RAISED]} inside a tf.data pipeline, which runs it as a graph: "
             "use TensorFlow ops (tf.pad, tf.image.random_crop, "
             "tf.image.random_flip_left_right), not NumPy.")
    shape, dtype, padding, flip, draws = AUGMENT_GRAPH_CASE
    image = augment_image(shape, dtype)
    shifts = [which_shift(out, image, padding) for out in np.asarray(graph)]
    expect_true(None not in shifts, "Inside a tf.data pipeline random_crop_and_flip does not return a shifted, "
                                    "possibly mirrored copy of the image.")
    expect_true(len(set(shifts)) > 1, "Inside a tf.data pipeline random_crop_and_flip returns the same crop every "
                                      "time: use random TensorFlow ops, not random numbers drawn once in Python.")
    offsets = {s[:2] for s in shifts}
    mirrored = sum(s[2] for s in shifts)
    # 40 uniform draws of 25 offsets give fewer than 5 distinct ones, or a fair coin 3 heads or fewer (or 37 or
    # more), with probability below 1e-7: a failure here is a crop or flip decided once in Python, not chance.
    expect_true(len(offsets) >= 5, f"Inside a tf.data pipeline random_crop_and_flip gave {len(offsets)} different "
                                   f"crop offset(s) in {len(shifts)} images: draw the crop with TensorFlow ops "
                                   "(tf.image.random_crop), not with np.random, which runs once when tf.data traces "
                                   "the function.")
    expect_true(4 <= mirrored <= len(shifts) - 4,
                f"Inside a tf.data pipeline random_crop_and_flip mirrored {mirrored} of {len(shifts)} images: decide "
                "the flip with TensorFlow ops (tf.image.random_flip_left_right), not with np.random or Python's "
                "random, which run once when tf.data traces the function.")
    return ("random_crop_and_flip: crops of the zero-padded image (shifts up to `padding` pixels both ways), "
            "left-right flips half the time only when flip=True, dtype kept, and it runs inside tf.data")


check_random_crop_and_flip = check("architectures.random_crop_and_flip", probe_random_crop_and_flip,
                                   judge_random_crop_and_flip)


# ---------------------------------------------------------------------------
# B2: the step schedule
# ---------------------------------------------------------------------------

# (base_lr, total_steps): round numbers, an odd total (3.5 and 5.25 are not steps) and the paper's 64k iterations.
SCHEDULE_CASES = [(0.1, 1000), (0.05, 7), (0.4, 64_000), (1.0, 10)]


def schedule_steps(total: int) -> list[int]:
    """Return the steps at which a schedule over ``total`` steps is evaluated: all of them, or around the drops."""
    if total <= 40:
        return list(range(total))
    near = {int(total * q) + d for q in (0.5, 0.75) for d in (-2, -1, 0, 1, 2)}
    return sorted(near | {0, 1, total // 4, total - 1})


def probe_step_schedule(step_schedule: Any, cases: list | None = None) -> dict[str, Any]:
    """Build each schedule and evaluate it at the steps of :func:`schedule_steps`."""
    import keras

    found = []
    for base, total in cases or SCHEDULE_CASES:
        schedule, record = call_raw(step_schedule, base, total)
        if record:
            found.append(record)
            continue
        kind = isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
        values = [observe(lambda s: None if (v := schedule(s)) is None else np.asarray(v, dtype=np.float64), step)
                  for step in schedule_steps(total)]
        found.append({"is_schedule": kind, "type": type(schedule).__name__, "values": values})
    return {"cases": found}


def judge_step_schedule(data: dict[str, Any], cases: list | None = None) -> str:
    """base_lr before half of the steps, a tenth until three quarters, a hundredth after (either value exactly at
    a boundary that is a whole step)."""
    for (base, total), got in zip(cases or SCHEDULE_CASES, data["cases"]):
        expect_ok(got)
        what = f"step_schedule({base}, {total})"
        expect_true(got["is_schedule"], f"{what} returned a {got['type']}; return a keras.optimizers.schedules."
                                        "LearningRateSchedule such as PiecewiseConstantDecay.")
        for step, value in zip(schedule_steps(total), got["values"]):
            expect_raised_nothing(value)
            expect_true(value is not None, f"{what} returned None at step {step}: does the schedule's `__call__` "
                                           "forget to `return` the rate?")
            lr = float(np.asarray(value).reshape(-1)[0]) if np.size(value) else float("nan")
            half, three = total * 0.5, total * 0.75
            if step < half:
                allowed = [base]
            elif step == half:
                allowed = [base, base / 10]
            elif step < three:
                allowed = [base / 10]
            elif step == three:
                allowed = [base / 10, base / 100]
            else:
                allowed = [base / 100]
            if not any(abs(lr - a) <= 1e-6 * a for a in allowed):
                phase = "first half" if step < half else "third quarter" if step < three else "last quarter"
                fail(f"{what} gives {lr:.6g} at step {step} (in the {phase} of {total} steps), expected "
                     f"{' or '.join(f'{a:.6g}' for a in allowed)}: the rate drops after half and after three "
                     "quarters of total_steps.")
    return ("step_schedule: base_lr for the first half of the steps, base_lr/10 until three quarters, base_lr/100 "
            "after, on totals of 7 to 64,000 steps")


check_step_schedule = check("architectures.step_schedule", probe_step_schedule, judge_step_schedule)
