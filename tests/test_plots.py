"""Tests for utils.plots: every figure renders headless, is labelled, and leaves no pyplot figures open."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from utils import plots  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)


pytestmark = pytest.mark.usefixtures("no_open_figures")  # from conftest


def render(fig: Figure, tmp_path: Path, name: str = "figure") -> Path:
    """Save a figure to PNG in tmp_path and check that something was written."""
    assert isinstance(fig, Figure)
    assert isinstance(fig.canvas, FigureCanvasAgg)
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    return path


def visible_axes(fig: Figure) -> list:
    """Return the figure's visible axes, colour bars excluded."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def lines(ax, style: str) -> list:
    """Return the lines of an axes drawn with a given line style ('-' or '--')."""
    return [line for line in ax.get_lines() if line.get_linestyle() == style]


HIST_A = {
    "loss": [1.0, 0.6, 0.4],
    "val_loss": [1.1, 0.8, 0.7],
    "accuracy": [0.5, 0.7, 0.8],
    "val_accuracy": [0.4, 0.6, 0.7],
}
HIST_B = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [1.0, 0.7, 0.6, 0.55]}


# ---------------------------------------------------------------------------
# Import hygiene and notebook display
# ---------------------------------------------------------------------------


def test_import_is_cheap_and_does_not_touch_tensorflow():
    code = "import sys, utils.plots; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, env={**os.environ, "MPLBACKEND": "Agg"})


def test_figures_render_in_notebooks_without_pyplot(tmp_path):
    fig = plots.loss_curve([3.0, 2.0, 1.0])
    png = fig._repr_png_()  # what IPython shows when no inline backend has registered a formatter yet
    assert png.startswith(b"\x89PNG")
    assert plt.get_fignums() == []  # not registered with pyplot, so no second copy at the end of a cell
    render(fig, tmp_path)


# ---------------------------------------------------------------------------
# training_curves and loss_curve
# ---------------------------------------------------------------------------


def test_training_curves_single_history(tmp_path):
    fig = plots.training_curves(HIST_A)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy"]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    assert fig.get_suptitle() == "Training curves"
    for ax in axes:
        (train,), (val,) = lines(ax, "-"), lines(ax, "--")
        assert list(train.get_xdata()) == [1, 2, 3]  # epochs are 1-based
        assert train.get_color() == val.get_color()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
    np.testing.assert_allclose(lines(axes[0], "--")[0].get_ydata(), HIST_A["val_loss"])


def test_training_curves_overlays_runs_and_handles_missing_metrics(tmp_path):
    fig = plots.training_curves({"NumPy MLP": HIST_A, "Keras MLP": HIST_B}, title="MLPs")
    render(fig, tmp_path)
    loss_ax, acc_ax = visible_axes(fig)
    assert fig.get_suptitle() == "MLPs"
    assert len(lines(loss_ax, "-")) == 2 and len(lines(loss_ax, "--")) == 2  # two runs, train and validation
    assert len(lines(acc_ax, "-")) == 1 and len(lines(acc_ax, "--")) == 1  # accuracy only in the first run
    colours = {line.get_label(): line.get_color() for line in loss_ax.get_lines()}
    assert colours["NumPy MLP (train)"] == colours["NumPy MLP (validation)"] != colours["Keras MLP (train)"]
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend_texts == ["NumPy MLP", "Keras MLP", "train", "validation"]


def test_training_curves_metric_selection_and_bad_input():
    fig = plots.training_curves(HIST_A, metrics=["val_accuracy"])
    assert [ax.get_ylabel() for ax in visible_axes(fig)] == ["accuracy"]
    with pytest.raises(TypeError):
        plots.training_curves([1, 2, 3])


def test_training_curves_with_a_real_keras_history(tmp_path):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2, activation="softmax")]
    )
    # run_eagerly skips tf.function tracing, which costs more than these few steps
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"], run_eagerly=True)
    history = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)

    fig = plots.training_curves(history)
    render(fig, tmp_path, "keras")
    axes = visible_axes(fig)
    assert [ax.get_ylabel() for ax in axes][:2] == ["loss", "accuracy"]
    train, val = lines(axes[0], "-")[0], lines(axes[0], "--")[0]
    assert list(train.get_xdata()) == [1, 2]
    np.testing.assert_allclose(val.get_ydata(), history.history["val_loss"])

    overlay = plots.training_curves({"dict": HIST_B, "keras": history}, metrics="loss")
    assert len(lines(visible_axes(overlay)[0], "-")) == 2


def test_loss_curve(tmp_path):
    values = np.exp(-np.arange(10_000) / 2_000)
    fig = plots.loss_curve(values, title="Gradient descent", log=True)
    render(fig, tmp_path)
    (ax,) = fig.axes
    assert ax.get_title() == "Gradient descent"
    assert ax.get_xlabel() == "step" and ax.get_ylabel().startswith("loss")
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()[0].get_ydata()) == 10_000
    assert plots.loss_curve([1.0, 0.5]).axes[0].get_yscale() == "linear"


# ---------------------------------------------------------------------------
# image_grid, filter_grid, feature_maps
# ---------------------------------------------------------------------------


def test_image_grid_predictions_are_coloured(tmp_path):
    images = RNG.random((6, 28, 28, 1)).astype("float32")
    labels = np.array([0, 1, 2, 3, 4, 5])
    predictions = np.eye(10)[[0, 1, 7, 3, 4, 5]]  # one-hot/probabilities are accepted; the third is wrong
    names = [f"class{i}" for i in range(10)]
    fig = plots.image_grid(images, labels, predictions, class_names=names, ncols=3, title="Test set")
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 6
    wrong, right = axes[2].title, axes[0].title
    assert wrong.get_text() == "class7 / class2"
    assert to_hex(wrong.get_color()) == plots.WRONG and wrong.get_fontweight() == "bold"
    assert to_hex(right.get_color()) == plots.RIGHT
    assert "1 of 6 wrong" in fig.get_suptitle()
    assert axes[0].images[0].get_array().shape == (28, 28)  # single channel squeezed, shown with cmap


def test_image_grid_labels_rgb_uint8_and_cap(tmp_path):
    images = RNG.integers(0, 256, size=(100, 8, 8, 3), dtype=np.uint8)
    fig = plots.image_grid(images, labels=np.arange(100) % 10, class_names=list("abcdefghij"), max_images=12)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 12
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert axes[0].images[0].get_array().shape == (8, 8, 3)
    capped = plots.image_grid(images)  # not rendered: laying out 64 tiles is the slow part
    assert len(visible_axes(capped)) == plots.MAX_IMAGES


def test_image_grid_scales_float_images():
    pixel_range = plots.image_grid(np.full((2, 4, 4), 200.0)).axes[0].images[0].get_array()
    np.testing.assert_allclose(pixel_range, 200.0 / 255.0)  # floats in [0, 255] are divided by 255
    standardised = plots.image_grid(RNG.normal(size=(2, 4, 4, 3))).axes[0].images[0].get_array()
    assert standardised.min() == pytest.approx(0.0) and standardised.max() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        plots.image_grid(np.zeros((2, 4, 4, 2)))


def test_filter_grid_rgb_and_mean_kernels(tmp_path):
    rgb = plots.filter_grid(RNG.normal(size=(5, 5, 3, 16)))
    render(rgb, tmp_path, "rgb")
    axes = visible_axes(rgb)
    assert len(axes) == 16
    tile = axes[0].images[0].get_array()
    assert tile.shape == (5, 5, 3) and tile.min() == pytest.approx(0.0) and tile.max() == pytest.approx(1.0)
    assert rgb.get_suptitle().startswith("First-layer filters")

    kernels = RNG.normal(size=(3, 3, 8, 4))
    gray = plots.filter_grid([kernels, np.zeros(4)], title="Layer 2")  # layer.get_weights() works too
    render(gray, tmp_path, "gray")
    image = visible_axes(gray)[1].images[0]
    np.testing.assert_allclose(image.get_array(), kernels[..., 1].mean(axis=-1))
    vmin, vmax = image.get_clim()
    assert vmin == pytest.approx(-vmax)  # diverging map centred at zero
    assert image.get_cmap().name == "RdBu_r"


def test_filter_grid_dense_weights(tmp_path):
    weights = RNG.normal(size=(784, 10))
    fig = plots.filter_grid(weights, title="MLP first layer", image_shape=(28, 28))
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 10
    np.testing.assert_allclose(axes[3].images[0].get_array(), weights[:, 3].reshape(28, 28))
    assert len(visible_axes(plots.filter_grid(RNG.normal(size=(64, 5))))) == 5  # square inputs need no shape
    with pytest.raises(ValueError, match="image_shape"):
        plots.filter_grid(RNG.normal(size=(10, 3)))
    with pytest.raises(ValueError):
        plots.filter_grid(RNG.normal(size=(3, 3, 4)))


def test_feature_maps(tmp_path):
    fig = plots.feature_maps(RNG.random((1, 12, 12, 40)))
    assert len(visible_axes(fig)) == 32
    assert "32 of 40" in fig.get_suptitle()
    small = plots.feature_maps(RNG.random((6, 6, 3)), title="conv1")
    render(small, tmp_path)
    assert len(visible_axes(small)) == 3 and small.get_suptitle().startswith("conv1")
    with pytest.raises(ValueError, match="acts\\[0\\]"):
        plots.feature_maps(RNG.random((2, 6, 6, 3)))


# ---------------------------------------------------------------------------
# Statistics: histograms, bars, confusion matrix
# ---------------------------------------------------------------------------


def test_activation_histograms(tmp_path):
    acts = {
        "layer 1": np.tanh(RNG.normal(size=(200, 50))),
        "layer 2": np.zeros((200, 50)),
        "layer 3": RNG.normal(size=500) * 0.001,
    }
    fig = plots.activation_histograms(acts)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 3
    assert axes[0].get_title() == f"layer 1\nmean {acts['layer 1'].mean():.2f}, std {acts['layer 1'].std():.2f}"
    assert axes[1].get_title() == "layer 2\nmean 0.00, std 0.00"
    assert "e-" in axes[2].get_title()  # tiny spreads stay visible instead of rounding to 0.00
    assert len({ax.get_xlim() for ax in axes}) == 1  # shared x range by default

    listed = plots.activation_histograms([RNG.normal(size=100) * s for s in (1, 5)], sharex=False, title="Init")
    titles = [ax.get_title().split("\n")[0] for ax in visible_axes(listed)]
    assert titles == ["layer 1", "layer 2"] and listed.get_suptitle() == "Init"
    assert visible_axes(listed)[0].get_xlim() != visible_axes(listed)[1].get_xlim()


def test_compare_bars(tmp_path):
    accuracies = {"NumPy MLP": 0.912, "Keras MLP": 0.975, "Keras CNN": 0.991}
    fig = plots.compare_bars(accuracies, "MNIST", "test accuracy", target=0.98)
    render(fig, tmp_path)
    (ax,) = fig.axes
    assert ax.get_title() == "MNIST" and ax.get_ylabel() == "test accuracy"
    assert len(ax.patches) == 3
    assert {"0.912", "0.975", "0.991"} <= {t.get_text() for t in ax.texts}
    (target,) = ax.get_lines()
    assert list(target.get_ydata()) == [0.98, 0.98]
    assert not plots.compare_bars({"a": 12.0, "b": 30.0}, "Time", "seconds").axes[0].get_lines()


def test_confusion_counts_matches_a_loop():
    y_true = RNG.integers(0, 4, size=200)
    y_pred = RNG.integers(0, 4, size=200)
    expected = np.zeros((5, 5), dtype=int)
    for t, p in zip(y_true, y_pred):
        expected[t, p] += 1
    np.testing.assert_array_equal(plots.confusion_counts(y_true, y_pred, num_classes=5), expected)
    one_hot, scores = np.eye(5)[y_true], RNG.random((200, 5)) * 0.5 + np.eye(5)[y_pred]
    np.testing.assert_array_equal(plots.confusion_counts(one_hot, scores), expected)  # width gives 5 classes


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 0, 1, 1, 1, 2])
    y_pred = np.array([0, 1, 1, 1, 0, 2])
    names = ["cat", "dog", "bird", "fish"]  # 'fish' never occurs: an all-zero row
    fig = plots.confusion_matrix(y_true, y_pred, class_names=names)
    render(fig, tmp_path)
    ax = fig.axes[0]
    matrix = ax.images[0].get_array()
    np.testing.assert_allclose(matrix.sum(axis=1), [1, 1, 1, 0])
    assert matrix[1, 1] == pytest.approx(2 / 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert ax.get_title().startswith("Confusion matrix")

    counts = plots.confusion_matrix(y_true, y_pred, normalize=False, title="Counts")
    assert "2" in {t.get_text() for t in counts.axes[0].texts}
    assert counts.axes[0].get_title().startswith("Counts")


def test_scatter_2d_segmentation_errors_and_picture_grid() -> None:
    rng = np.random.default_rng(0)
    fig = plots.scatter_2d(rng.normal(size=(30, 2)), np.arange(30) % 3, "codes", legend_title="digit")
    assert len(fig.axes) == 1 and fig.axes[0].get_legend().get_title().get_text() == "digit"
    with pytest.raises(ValueError, match=r"needs points of shape \(N, 2\)"):
        plots.scatter_2d(np.zeros((5, 3)), np.zeros(5), "bad")
    image = np.full((4, 4, 1), 0.5)
    truth = np.ones((4, 4, 1)); truth[0] = 0.0  # the first row is foreground (membrane)
    probability = np.ones((4, 4, 1)); probability[:, 0] = 0.0  # the first column is predicted foreground
    rgb = plots.segmentation_errors(image, truth, probability)
    assert rgb.shape == (4, 4, 3)
    assert tuple(rgb[0, 0]) == (0.1, 0.9, 0.1) and tuple(rgb[1, 0]) == (0.95, 0.1, 0.1)
    assert tuple(rgb[0, 1]) == (0.2, 0.4, 1.0) and np.allclose(rgb[1, 1], 0.3)
    grid = plots.picture_grid([("row", [image, rgb])], ["image", "errors"], "overlay")
    assert len(grid.axes) == 2 and grid.axes[1].get_title() == "errors"
