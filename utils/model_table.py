"""Tabulate a Keras model layer by layer: output shape, parameters, activation memory and multiply-adds.

:func:`tabulate` walks a built functional or Sequential model (nested models
included) and returns a :class:`ModelTable` with one :class:`LayerCost` row per
layer call and the totals, the numbers the lectures' case-study tables list:

* **params**: the layer's weights, biases and batch-norm statistics
  (``layer.count_params()``); ``biases`` is the part of it held in ``bias``. A
  layer called twice (shared weights) counts its parameters once.
* **activations**: the values the layer outputs for one example, the memory a
  forward pass holds; ``activation_bytes`` multiplies it by ``bytes_per_value``
  (4 for float32). The input counts too; Flatten, Reshape, Dropout and Identity
  only view or pass on their input and count 0.
* **mult_adds**: multiply-accumulate operations for one example in
  convolutions (standard, depthwise, separable, transposed) and dense layers,
  biases and everything else (pooling, batch norm, activations, additions)
  counted as 0. This is what the ResNet, GoogLeNet and MobileNet papers call
  FLOPs or Mult-Adds. A layer with weights of a kind not listed here has
  ``mult_adds=None`` and is named in :attr:`ModelTable.uncounted`.

Building a big model allocates and initialises all its weights (VGG16: 138M
values, seconds on a CPU). A table needs only their shapes: build the model
inside ``with shapes_only():`` and it costs a fraction of a second, but it cannot
run.

Importing this module does not import TensorFlow or Keras: it reads layers
through their attributes.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

Shape = tuple[int, ...]

# Layers that return a view of their input, or their input itself in a forward pass, hold no new values.
VIEW_LAYERS = frozenset(
    {"Flatten", "Reshape", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "Identity"}
)
# Layers with weights whose work is not multiply-adds in the papers' sense (a scale and shift, a lookup).
ZERO_MULT_ADD_LAYERS = frozenset(
    {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "Embedding"}
)


@dataclass(frozen=True)
class LayerCost:
    """One row of a model table: a layer call's output shape, parameters, memory and multiply-adds."""

    name: str
    kind: str
    output_shape: Shape | tuple[Shape, ...]
    params: int
    biases: int
    activations: int
    activation_bytes: int
    mult_adds: int | None

    @property
    def weights(self) -> int:
        """Parameters other than biases (kernels, batch-norm scales and statistics)."""
        return self.params - self.biases


@dataclass(frozen=True)
class ModelTable:
    """The rows of :func:`tabulate` with their totals; ``print`` it for an aligned table."""

    name: str
    rows: tuple[LayerCost, ...]
    bytes_per_value: int = 4
    _index: dict[str, LayerCost] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Index the rows by name."""
        self._index.update({row.name: row for row in self.rows})

    def __iter__(self) -> Iterator[LayerCost]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def params(self) -> int:
        """Total parameters (shared layers once), equal to ``model.count_params()``."""
        return sum(row.params for row in self.rows)

    @property
    def biases(self) -> int:
        """Total bias parameters."""
        return sum(row.biases for row in self.rows)

    @property
    def param_bytes(self) -> int:
        """Bytes the parameters take at ``bytes_per_value`` each."""
        return self.params * self.bytes_per_value

    @property
    def activations(self) -> int:
        """Total activation values one example holds in a forward pass (the input included)."""
        return sum(row.activations for row in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Bytes of activation memory per example in a forward pass."""
        return sum(row.activation_bytes for row in self.rows)

    @property
    def mult_adds(self) -> int:
        """Total multiply-adds per example (rows with unknown cost left out; see ``uncounted``)."""
        return sum(row.mult_adds or 0 for row in self.rows)

    @property
    def uncounted(self) -> tuple[str, ...]:
        """Names of the rows whose multiply-adds this module cannot count."""
        return tuple(row.name for row in self.rows if row.mult_adds is None)

    def row(self, name: str) -> LayerCost:
        """Return the row of the layer called ``name`` (nested layers as 'outer/inner')."""
        try:
            return self._index[name]
        except KeyError:
            names = ", ".join(self._index)
            raise KeyError(f"no layer named {name!r} in {self.name}; its rows are: {names}") from None

    def of_kind(self, *kinds: str) -> list[LayerCost]:
        """Return the rows whose layer class is one of ``kinds`` (e.g. 'Conv2D', 'Dense'), in order."""
        return [row for row in self.rows if row.kind in kinds]

    def to_text(self, skip_empty: bool = False) -> str:
        """Return the table as aligned text with a totals line (``skip_empty`` hides rows with nothing to count)."""
        header = ("layer", "type", "output", "params", "activations", "memory", "mult-adds")
        body = [
            (
                row.name,
                row.kind,
                format_shape(row.output_shape),
                f"{row.params:,}",
                f"{row.activations:,}",
                format_bytes(row.activation_bytes),
                "?" if row.mult_adds is None else format_count(row.mult_adds),
            )
            for row in self.rows
            if not (skip_empty and row.params == 0 and row.activations == 0 and not row.mult_adds)
        ]
        total = (
            "total",
            "",
            "",
            f"{self.params:,}",
            f"{self.activations:,}",
            format_bytes(self.activation_bytes),
            format_count(self.mult_adds) + ("+?" if self.uncounted else ""),
        )
        widths = [max(len(r[i]) for r in (header, *body, total)) for i in range(len(header))]
        left = {0, 1, 2}

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        rule = "  ".join("-" * w for w in widths)
        notes = f"\nParameters take {format_bytes(self.param_bytes)} at {self.bytes_per_value} bytes each."
        if self.uncounted:
            notes += f" Multiply-adds not counted for: {', '.join(self.uncounted)}."
        return "\n".join([f"Model: {self.name}", line(header), rule, *map(line, body), rule, line(total)]) + notes

    def __str__(self) -> str:
        return self.to_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Show the text table when a notebook cell ends with a ModelTable."""
        printer.text(self.to_text())


def format_shape(shape: Shape | tuple[Shape, ...]) -> str:
    """Write a per-example shape as the lectures do: '55x55x96', '4096'; several outputs comma-separated."""
    if shape and isinstance(shape[0], tuple):
        return ", ".join(format_shape(s) for s in shape)  # type: ignore[arg-type]
    return "x".join(str(d) for d in shape) if shape else "scalar"


def format_count(n: float) -> str:
    """Write a count compactly with an SI suffix: 854.2M, 1.81G, 35K, 150K, 512."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            value = n / size
            text = f"{value:.3g}" if value < 100 else f"{value:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{n:g}"


def format_bytes(n: float) -> str:
    """Write a byte count in decimal units (1 MB = 10^6 bytes, as the lecture tables do)."""
    for size, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:g} B"


# ---------------------------------------------------------------------------
# Walking the model
# ---------------------------------------------------------------------------


def _class_names(obj: Any) -> set[str]:
    """Return the names of an object's class and its base classes."""
    return {cls.__name__ for cls in type(obj).__mro__}


def _is_model(obj: Any) -> bool:
    """Return True for a functional or Sequential Keras model (a graph of layers)."""
    return bool({"Functional", "Sequential"} & _class_names(obj))


def _graph(model: Any) -> Any:
    """Return the functional graph behind a model (a Sequential keeps one once it knows its input)."""
    if "Sequential" in _class_names(model):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError(
                f"model {model.name!r} has no input shape yet: start the Sequential with keras.Input(shape) "
                "so that every layer's output shape is known."
            )
        return graph
    if "Functional" in _class_names(model):
        return model
    raise TypeError(
        f"tabulate needs a functional or Sequential Keras model, not a {type(model).__name__}; "
        "a subclassed model has no layer graph to read."
    )


def _per_example(shape: Any, where: str) -> Shape:
    """Return a tensor shape without its batch axis, failing clearly on unknown sizes."""
    dims = tuple(shape)[1:]
    if any(d is None for d in dims):
        raise ValueError(
            f"{where} has output shape {tuple(shape)} with an unknown size: give the model a fixed input shape."
        )
    return tuple(int(d) for d in dims)


def _size(shape: Shape) -> int:
    """Return the number of values in a per-example shape."""
    return int(math.prod(shape))


def _channels(layer: Any, shape: Shape) -> int:
    """Return the channel count of a per-example shape for the layer's data format."""
    return shape[0] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[-1]


def _spatial(layer: Any, shape: Shape) -> int:
    """Return the number of spatial positions of a per-example feature-map shape."""
    return _size(shape[1:] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[:-1])


def mult_adds_of(layer: Any, input_shape: Shape, output_shape: Shape) -> int | None:
    """Multiply-adds of one call of ``layer`` for one example (None when its kind is not counted)."""
    kinds = _class_names(layer)
    kernel = int(math.prod(getattr(layer, "kernel_size", ()) or (1,)))
    if "BaseSeparableConv" in kinds:
        mid = _channels(layer, input_shape) * layer.depth_multiplier
        return _spatial(layer, output_shape) * mid * (kernel + _channels(layer, output_shape))
    if "BaseDepthwiseConv" in kinds:
        return _size(output_shape) * kernel
    if "BaseConvTranspose" in kinds:
        return _size(input_shape) * kernel * _channels(layer, output_shape)
    if "BaseConv" in kinds:
        groups = getattr(layer, "groups", 1) or 1
        return _size(output_shape) * kernel * _channels(layer, input_shape) // groups
    if "Dense" in kinds:
        return _size(output_shape) * input_shape[-1]
    if kinds & ZERO_MULT_ADD_LAYERS or not getattr(layer, "weights", None):
        return 0
    return None


def _bias_count(layer: Any) -> int:
    """Return the number of bias parameters a layer holds."""
    bias = getattr(layer, "bias", None)
    return int(math.prod(bias.shape)) if bias is not None and hasattr(bias, "shape") else 0


def _rows(model: Any, prefix: str, bytes_per_value: int, seen: set[int], top: bool) -> list[LayerCost]:
    """Return the rows of a model's layer calls, recursing into nested models."""
    graph = _graph(model)
    in_graph = {id(node) for nodes in graph._nodes_by_depth.values() for node in nodes}
    rows: list[LayerCost] = []
    for op in graph.operations:
        calls = [node for node in getattr(op, "_inbound_nodes", []) if id(node) in in_graph]
        for call, node in enumerate(calls, start=1):
            if node.is_input and not top:
                continue  # a nested model's input is the outer model's tensor, already counted
            name = prefix + op.name + (f" (call {call})" if call > 1 else "")
            if _is_model(op) and not node.is_input:
                rows += _rows(op, name + "/", bytes_per_value, seen, top=False)
                continue
            shapes = [_per_example(t.shape, f"layer {name!r}") for t in node.outputs]
            kind = type(op).__name__
            first_use = id(op) not in seen
            seen.add(id(op))
            count = getattr(op, "count_params", None)
            params = int(count()) if first_use and callable(count) and getattr(op, "built", True) else 0
            values = 0 if kind in VIEW_LAYERS else sum(_size(s) for s in shapes)
            if node.is_input:
                macs: int | None = 0
            else:
                inputs = [t for t in node.input_tensors]
                in_shape = _per_example(inputs[0].shape, f"the input of layer {name!r}") if inputs else ()
                macs = mult_adds_of(op, in_shape, shapes[0])
            rows.append(
                LayerCost(
                    name=name,
                    kind=kind,
                    output_shape=shapes[0] if len(shapes) == 1 else tuple(shapes),
                    params=params,
                    biases=_bias_count(op) if first_use else 0,
                    activations=values,
                    activation_bytes=values * bytes_per_value,
                    mult_adds=macs,
                )
            )
    return rows


@contextmanager
def shapes_only() -> Iterator[None]:
    """Build Keras models in this block without allocating their weights: fast to tabulate, unable to run."""
    import keras
    from keras.src.backend.common import global_state

    key = "uninitialized_variables"  # where Keras queues variables it will initialise on leaving the scope
    pending = list(global_state.get_global_attribute(key) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute(key, pending)  # forget this block's variables: never initialise them


def tabulate(model: Any, bytes_per_value: int = 4) -> ModelTable:
    """Return the layer-by-layer table of a built functional or Sequential Keras model."""
    rows = _rows(model, "", bytes_per_value, seen=set(), top=True)
    return ModelTable(name=model.name, rows=tuple(rows), bytes_per_value=bytes_per_value)
