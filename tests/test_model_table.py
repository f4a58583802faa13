"""utils.model_table: per-layer shapes, parameters, activation memory and multiply-adds of Keras models."""

from __future__ import annotations

import subprocess
import sys

import pytest

from utils import model_table
from utils.model_table import format_bytes, format_count, format_shape, shapes_only, tabulate

keras = pytest.importorskip("keras")
layers = keras.layers


def test_importing_the_module_does_not_import_tensorflow() -> None:
    code = "import sys, utils.model_table; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_convolution_pooling_and_dense_rows() -> None:
    model = keras.Sequential([
        keras.Input((8, 8, 3)),
        layers.Conv2D(4, 3, padding="same", name="conv"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flat"),
        layers.Dropout(0.5, name="drop"),
        layers.Dense(5, name="fc"),
    ], name="small")
    table = tabulate(model)
    assert [row.kind for row in table] == ["InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert table.rows[0].activations == 8 * 8 * 3 and table.rows[0].mult_adds == 0
    conv = table.row("conv")
    assert conv.output_shape == (8, 8, 4)
    assert (conv.params, conv.biases, conv.weights) == (3 * 3 * 3 * 4 + 4, 4, 3 * 3 * 3 * 4)
    assert conv.activations == 8 * 8 * 4 and conv.activation_bytes == 4 * 8 * 8 * 4
    assert conv.mult_adds == (8 * 8 * 4) * (3 * 3 * 3)  # output values x (kernel area x input channels)
    assert table.row("pool").mult_adds == 0 and table.row("pool").activations == 4 * 4 * 4
    assert table.row("flat").activations == 0 and table.row("drop").activations == 0  # views hold no new values
    fc = table.row("fc")
    assert (fc.output_shape, fc.params, fc.mult_adds) == ((5,), 64 * 5 + 5, 64 * 5)
    assert table.params == model.count_params()
    assert table.biases == 4 + 5
    assert table.activations == 192 + 256 + 64 + 5
    assert table.activation_bytes == 4 * table.activations and table.param_bytes == 4 * table.params
    assert table.mult_adds == 8 * 8 * 4 * 27 + 320
    assert table.uncounted == ()
    assert tabulate(model, bytes_per_value=2).activation_bytes == 2 * table.activations


def test_depthwise_separable_grouped_and_transposed_convolutions() -> None:
    inputs = keras.Input((6, 6, 4))
    depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(inputs)
    separable = layers.SeparableConv2D(5, 3, padding="same", name="sep")(inputs)
    grouped = layers.Conv2D(6, 3, padding="same", groups=2, name="grouped")(inputs)
    transposed = layers.Conv2DTranspose(3, 3, strides=2, padding="same", name="up")(inputs)
    table = tabulate(keras.Model(inputs, [depthwise, separable, grouped, transposed]))
    assert table.row("dw").mult_adds == (6 * 6 * 8) * 9
    assert table.row("sep").mult_adds == 6 * 6 * 4 * 9 + 6 * 6 * 4 * 5  # depthwise, then pointwise 1x1
    assert table.row("grouped").mult_adds == (6 * 6 * 6) * 9 * (4 // 2)  # each filter sees one group's channels
    assert table.row("up").output_shape == (12, 12, 3)
    assert table.row("up").mult_adds == (6 * 6 * 4) * 9 * 3  # every input value scatters a 3x3x3 kernel slice


def test_shared_layers_count_parameters_once_and_work_per_call() -> None:
    inputs = keras.Input((5, 5, 2))
    shared = layers.Conv2D(2, 3, padding="same", name="shared")
    outputs = layers.Add(name="add")([shared(inputs), shared(shared(inputs))])
    model = keras.Model(inputs, outputs)
    table = tabulate(model)
    calls = [row for row in table if row.name.startswith("shared")]
    assert [row.name for row in calls] == ["shared", "shared (call 2)", "shared (call 3)"]
    assert [row.params for row in calls] == [3 * 3 * 2 * 2 + 2, 0, 0]
    assert all(row.mult_adds == 5 * 5 * 2 * 18 for row in calls)
    assert table.params == model.count_params()


def test_nested_models_are_walked_and_their_inputs_not_counted_twice() -> None:
    inner = keras.Sequential([keras.Input((4, 4, 3)), layers.Conv2D(2, 1, name="c")], name="inner")
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, layers.Flatten()(inner(inputs)))
    table = tabulate(model)
    assert "inner/c" in [row.name for row in table]
    assert sum(row.kind == "InputLayer" for row in table) == 1
    assert table.params == model.count_params() == 3 * 2 + 2
    assert table.row("inner/c").mult_adds == 4 * 4 * 2 * 3


def test_batch_norm_counts_no_work_and_unknown_layers_are_flagged() -> None:
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return x * self.w

    model = keras.Sequential([keras.Input((3, 3, 4)), layers.BatchNormalization(name="bn"), Scale(name="scale")])
    table = tabulate(model)
    assert table.row("bn").params == 4 * 4 and table.row("bn").mult_adds == 0
    assert table.row("scale").mult_adds is None
    assert table.uncounted == ("scale",)
    assert table.mult_adds == 0
    assert "Multiply-adds not counted for: scale" in table.to_text()
    assert "+?" in table.to_text()


def test_lookup_and_text() -> None:
    model = keras.Sequential([keras.Input((2,)), layers.Flatten(name="flat"), layers.Dense(3, name="d")], name="tiny")
    table = tabulate(model)
    assert table.of_kind("Dense") == [table.row("d")]
    assert len(table) == 3 and list(table) == list(table.rows)
    with pytest.raises(KeyError, match="no layer named 'nope' in tiny; its rows are: .*d"):
        table.row("nope")
    text = str(table)
    assert text.splitlines()[0] == "Model: tiny"
    assert "total" in text and "Parameters take 36 B at 4 bytes each." in text
    assert "flat" in text and "flat" not in table.to_text(skip_empty=True)  # a view: nothing to count


def test_formatting_helpers() -> None:
    assert format_shape((55, 55, 96)) == "55x55x96"
    assert format_shape((4096,)) == "4096"
    assert format_shape(((2, 2), (3,))) == "2x2, 3"
    assert format_count(854_196_224) == "854.2M"
    assert format_count(150_528) == "150.5K"
    assert format_count(150_000) == "150K"
    assert format_count(1_814_000_000) == "1.81G"
    assert format_count(512) == "512"
    assert format_bytes(96e6) == "96.0 MB"
    assert format_bytes(512) == "512 B"


def test_models_that_cannot_be_tabulated_say_why() -> None:
    with pytest.raises(ValueError, match="start the Sequential with keras.Input"):
        tabulate(keras.Sequential([layers.Dense(3)]))
    inputs = keras.Input((None, None, 3))
    with pytest.raises(ValueError, match="fixed input shape"):
        tabulate(keras.Model(inputs, layers.Conv2D(2, 3)(inputs)))

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="subclassed model has no layer graph"):
        tabulate(Subclassed())


def test_shapes_only_builds_without_initialising_weights() -> None:
    from keras.src.backend.common import global_state

    def build():
        return keras.Sequential([keras.Input((300,)), layers.Dense(200, name="a"), layers.Dense(10, name="b")])

    with shapes_only():
        light = build()
    pending = global_state.get_global_attribute("uninitialized_variables") or []
    assert not any(v is w for v in pending for w in light.weights)  # never initialised later either
    assert light.count_params() == build().count_params() == 300 * 200 + 200 + 200 * 10 + 10
    assert [r.mult_adds for r in tabulate(light)] == [r.mult_adds for r in tabulate(build())]
    with keras.StatelessScope():  # leaving a stateless scope initialises pending variables; ours are gone
        pass


def test_the_notes_inception_module() -> None:
    def module(x, reduce):
        def conv(t, filters, size):
            return layers.Conv2D(filters, size, padding="same")(t)

        b3 = conv(conv(x, 64, 1), 192, 3) if reduce else conv(x, 192, 3)
        b5 = conv(conv(x, 64, 1), 96, 5) if reduce else conv(x, 96, 5)
        pool = layers.MaxPooling2D(3, strides=1, padding="same")(x)
        return layers.Concatenate()([conv(x, 128, 1), b3, b5, conv(pool, 64, 1) if reduce else pool])

    with shapes_only():
        inputs = keras.Input((28, 28, 256))
        naive = tabulate(keras.Model(inputs, module(inputs, False)))
        reduced = tabulate(keras.Model(inputs, module(inputs, True)))
    assert naive.mult_adds == 854_196_224
    assert naive.rows[-1].output_shape == (28, 28, 672)
    assert reduced.mult_adds == 271_351_808
    assert reduced.rows[-1].output_shape == (28, 28, 480)
    assert model_table.LayerCost in {type(row) for row in reduced}
