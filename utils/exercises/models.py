"""Keras models as plain data, for probes; and the questions judges ask of that data.

:func:`describe_model` lists a model's layers in graph order with what each one is (class, filters, kernel,
strides, padding, units, pool size, rate, trainable flag, parameters, output shape), which layers feed it, and the
activation that *acts* on its output: its own ``activation=``, or a following ``Activation``/``ReLU``/... layer that
is its only consumer. So ``Dense(120, activation="relu")`` and ``Dense(120)`` followed by ``Activation("relu")``
read the same, and a Dense left linear reads as linear however the code is written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Layers that only apply a non-linearity, and the activation each stands for.
ACTIVATION_LAYERS = {"Activation", "ReLU", "LeakyReLU", "Softmax", "ELU", "PReLU"}
# Config entries worth keeping: what decides a layer's arithmetic.
CONFIG_KEYS = (
    "filters", "kernel_size", "strides", "padding", "units", "pool_size", "rate", "use_bias", "dilation_rate",
    "depth_multiplier", "momentum", "epsilon", "axis", "center", "scale", "data_format", "size", "interpolation",
    "output_padding", "target_shape", "groups",
)


def _activation_name(fn: Any) -> str:
    """Return an activation function's name ('linear' for none)."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return name


def _layer_activation(layer: Any) -> str | None:
    """Return the activation a layer applies itself, or None when it applies none by design."""
    kind = type(layer).__name__
    if kind == "Activation":
        return _activation_name(layer.activation)
    if kind == "ReLU":
        config = layer.get_config()
        if config.get("negative_slope"):
            return "leaky_relu"
        return "relu6" if config.get("max_value") == 6 else "relu"
    if kind in ("LeakyReLU", "PReLU"):
        return "leaky_relu"
    if kind == "Softmax":
        return "softmax"
    if kind == "ELU":
        return "elu"
    if hasattr(layer, "activation"):
        return _activation_name(layer.activation)
    return None


def _shape(tensor: Any) -> tuple | None:
    """Return a symbolic tensor's shape as a tuple (None for the batch axis), or None."""
    try:
        return tuple(None if d is None else int(d) for d in tensor.shape)
    except Exception:  # noqa: BLE001 - an unbuilt layer has no output yet
        return None


def _inbound_names(node_config: Any) -> list[str]:
    """Return the names of the layers whose outputs a serialised node consumes."""
    names: list[str] = []

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            if item.get("class_name") == "__keras_tensor__":
                names.append(item["config"]["keras_history"][0])
                return
            for value in item.values():
                walk(value)
        elif isinstance(item, (list, tuple)):
            for value in item:
                walk(value)

    walk(node_config)
    return names


def _graph(model: Any) -> dict[str, list[str]]:
    """Return, for each layer name, the names of the layers feeding it (Sequential: the previous layer)."""
    config = model.get_config()
    layers = config.get("layers", [])
    if type(model).__name__ == "Sequential":
        names = [layer.name for layer in model.layers]
        return {name: ([names[i - 1]] if i else []) for i, name in enumerate(names)}
    return {entry.get("name", entry.get("config", {}).get("name")): _inbound_names(entry.get("inbound_nodes", []))
            for entry in layers}


def describe_model(model: Any, depth: int = 0) -> dict[str, Any]:
    """Describe a Keras model as plain data (see the module docstring); nested models are described too."""
    import keras

    if not isinstance(model, keras.Model):
        return {"__object__": type(model).__name__}
    try:
        graph = _graph(model)
    except Exception:  # noqa: BLE001 - a subclassed model has no graph to read
        graph = {}
    entries = []
    for layer in model.layers:
        kind = type(layer).__name__
        config = layer.get_config()
        entry: dict[str, Any] = {
            "name": layer.name,
            "class": kind,
            "inbound": list(graph.get(layer.name, [])),
            "trainable": bool(layer.trainable),
            "params": int(layer.count_params()) if layer.built else 0,
            "trainable_params": int(sum(np.prod(w.shape) for w in layer.trainable_weights)),
            "output_shape": _shape(layer.output) if _has_output(layer) else None,
            "activation": _layer_activation(layer),
            "config": {k: _plain_config(config[k]) for k in CONFIG_KEYS if k in config},
        }
        if isinstance(layer, keras.Model) and depth < 3:
            entry["model"] = describe_model(layer, depth + 1)
        sublayers = _sublayer_entries(layer) if not isinstance(layer, keras.Model) else []
        if sublayers:
            entry["sublayers"] = sublayers
        entries.append(entry)
    _attach_effective_activations(entries)
    operations = _operation_entries(model, {layer.name for layer in model.layers})
    _attach_activations_with_ops(entries, operations)
    return {
        "class": type(model).__name__,
        "name": model.name,
        "input_shapes": [_shape(t) for t in _inputs(model)],
        "output_shapes": [_shape(t) for t in _outputs(model)],
        "params": int(model.count_params()) if model.built else 0,
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "layers": entries,
        "operations": operations,
    }


def _has_output(layer: Any) -> bool:
    """Return True when a layer has been called on a symbolic input."""
    try:
        layer.output  # noqa: B018 - raises when the layer was never called
    except Exception:  # noqa: BLE001
        return False
    return True


def _inputs(model: Any) -> list[Any]:
    """Return a model's symbolic inputs as a list (empty when it has none)."""
    try:
        inputs = model.inputs
    except Exception:  # noqa: BLE001
        return []
    return list(inputs or [])


def _outputs(model: Any) -> list[Any]:
    """Return a model's symbolic outputs as a list (empty when it has none)."""
    try:
        outputs = model.outputs
    except Exception:  # noqa: BLE001
        return []
    return list(outputs or [])


def _plain_config(value: Any) -> Any:
    """Turn config values into plain data (lists become tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_plain_config(v) for v in value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def _attach_effective_activations(entries: list[dict[str, Any]]) -> None:
    """Give each layer the activation acting on its output: its own, or that of its sole activation consumer."""
    consumers: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        for name in entry["inbound"]:
            consumers.setdefault(name, []).append(entry)
    for entry in entries:
        act = entry["activation"]
        follow = entry
        # Follow a chain of activation-only layers (Dense -> Activation("relu")), and ones that do not change
        # values' signs in between (BatchNormalization is *not* skipped: it changes what the activation sees).
        while (act in (None, "linear")) and len(consumers.get(follow["name"], [])) == 1:
            nxt = consumers[follow["name"]][0]
            if nxt["class"] not in ACTIVATION_LAYERS:
                break
            act, follow = nxt["activation"], nxt
        entry["effective_activation"] = act if act is not None else None


# Backend operations (keras.ops.relu, keras.activations.relu...) that only apply a non-linearity, by class name.
OP_ACTIVATIONS = {"Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid", "Softmax": "softmax", "Tanh": "tanh",
                  "Elu": "elu", "Selu": "selu", "Gelu": "gelu", "Silu": "silu", "LeakyRelu": "leaky_relu"}


def _operation_entries(model: Any, layer_names: set[str]) -> list[dict[str, Any]]:
    """Return the graph's operations that are not layers (``keras.ops.relu(x)``, ``keras.ops.concatenate``...)."""
    try:
        config = model.get_config()
    except Exception:  # noqa: BLE001 - a subclassed model has no graph to read
        return []
    found = []
    for item in config.get("layers", []) if isinstance(config, dict) else []:
        name = item.get("name", item.get("config", {}).get("name"))
        if name in layer_names:
            continue
        op_config = item.get("config", {}) if isinstance(item.get("config"), dict) else {}
        found.append({"name": name, "class": item.get("class_name"),
                      "inbound": _inbound_names(item.get("inbound_nodes", [])),
                      "config": {k: _plain_config(v) for k, v in op_config.items() if k != "name"}})
    return found


def _op_activation(op: dict[str, Any]) -> str | None:
    """Return the activation an operation applies, or None when it is no activation."""
    if op["class"] == "ReLU":  # keras.activations.relu on a symbolic tensor
        if op["config"].get("negative_slope"):
            return "leaky_relu"
        return "relu6" if op["config"].get("max_value") == 6 else "relu"
    return OP_ACTIVATIONS.get(op["class"])


def _attach_activations_with_ops(entries: list[dict[str, Any]], operations: list[dict[str, Any]]) -> None:
    """Give each layer ``activation_with_ops``: its effective activation, or, when that is linear, the activation
    applied by its sole consumer when that is a backend operation (``keras.ops.relu(Dense(4)(x))``)."""
    ops = {op["name"]: op for op in operations}
    consumers: dict[str, list[str]] = {}
    for item in [*entries, *operations]:
        for name in item["inbound"]:
            consumers.setdefault(name, []).append(item["name"])
    for entry in entries:
        act = entry.get("effective_activation")
        follow = entry["name"]
        # Follow the chain of activation layers the effective activation already went through.
        while len(consumers.get(follow, [])) == 1 and any(e["name"] == consumers[follow][0] and e["class"] in
                                                          ACTIVATION_LAYERS for e in entries):
            follow = consumers[follow][0]
        if act in (None, "linear") and len(consumers.get(follow, [])) == 1 and consumers[follow][0] in ops:
            act = _op_activation(ops[consumers[follow][0]]) or act
        entry["activation_with_ops"] = act


def sublayers_of(layer: Any) -> list[Any]:
    """Return the Keras layers held by a custom layer's attributes (and lists of them), recursively, in order."""
    import keras

    found: list[Any] = []
    seen: set[int] = {id(layer)}

    def visit(value: Any, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(value, keras.layers.Layer):
            if id(value) in seen:
                return
            seen.add(id(value))
            found.append(value)
            for attr in list(vars(value).values()):
                visit(attr, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)
        elif isinstance(value, dict) and depth:
            for item in value.values():
                visit(item, depth + 1)

    for attr in list(vars(layer).values()):
        visit(attr, 1)
    return found


def _sublayer_entries(layer: Any) -> list[dict[str, Any]]:
    """Describe (class, config, parameters) the layers a custom layer holds, for checks of their settings."""
    try:
        inner = sublayers_of(layer)
    except Exception:  # noqa: BLE001 - an unusual object: nothing nested to report
        return []
    entries = []
    for sub in inner:
        try:
            config = sub.get_config()
        except Exception:  # noqa: BLE001
            config = {}
        entries.append({"name": sub.name, "class": type(sub).__name__,
                        "params": int(sub.count_params()) if sub.built else 0,
                        "activation": _layer_activation(sub),
                        "config": {k: _plain_config(config[k]) for k in CONFIG_KEYS if k in config}})
    return entries


def all_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every layer of a description: its own, those of nested models and those inside custom layers."""
    found = []
    for layer in description.get("layers", []):
        found.append(layer)
        if isinstance(layer.get("model"), dict):
            found += all_layers(layer["model"])
        found += layer.get("sublayers", [])
    return found


def activation_with_ops(layer: dict[str, Any]) -> str:
    """Return the activation acting on a layer's output, counting backend operations such as keras.ops.relu."""
    return layer.get("activation_with_ops") or activation_of(layer)


# ---------------------------------------------------------------------------
# Questions judges ask of a description
# ---------------------------------------------------------------------------


def weighted_layers(description: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the layers that hold weights, in order."""
    return [layer for layer in description["layers"] if layer["params"]]


def layers_of_class(description: dict[str, Any], *classes: str) -> list[dict[str, Any]]:
    """Return the layers of the given class names, in order."""
    return [layer for layer in description["layers"] if layer["class"] in classes]


def activation_of(layer: dict[str, Any]) -> str:
    """Return the activation acting on a layer's output ('linear' for none)."""
    return layer.get("effective_activation") or "linear"
