"""Figures for the labs: training curves, image and filter grids, activation statistics.

Every function draws one picture and returns it as a :class:`matplotlib.figure.Figure`
that is *not* registered with pyplot, so a notebook cell ending with
``plots.training_curves(history)`` shows exactly one picture (no double display),
scripts and tests leave no open figures behind, and everything works headless.
Save a figure with ``fig.savefig("curves.png")``. Nothing here imports TensorFlow;
tensors are accepted wherever arrays are (they are converted with ``np.asarray``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = [
    "CourseFigure",
    "activation_histograms",
    "compare_bars",
    "confusion_counts",
    "confusion_matrix",
    "feature_maps",
    "filter_grid",
    "image_grid",
    "loss_curve",
    "picture_grid",
    "scatter_2d",
    "segmentation_errors",
    "training_curves",
]

MAX_IMAGES = 64  # image_grid and filter_grid show at most this many tiles by default
RIGHT, WRONG = "#1b7837", "#c0392b"  # green and red title colours for image_grid predictions
SUPTITLE_SIZE = 13
TILE_TITLE_SIZE = 8


class CourseFigure(Figure):
    """A Figure that shows itself as a PNG in Jupyter even before any pyplot backend is active."""

    def _repr_png_(self) -> bytes:
        """Render the figure to PNG bytes for IPython's display machinery."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def new_figure(figsize: tuple[float, float], title: str | None = None) -> CourseFigure:
    """Create a pyplot-independent figure with an Agg canvas and constrained layout."""
    fig = CourseFigure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas: draw(), savefig() and buffer_rgba() work
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_SIZE)
    return fig


def _grid(n: int, ncols: int, tile: tuple[float, float], title: str | None) -> tuple[CourseFigure, list[Axes]]:
    """Create a figure with a grid of n tiles (ncols wide), hiding the unused cells."""
    if ncols < 1:
        raise ValueError(f"ncols must be at least 1, got {ncols}")
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    extra = 0.5 if title else 0.0
    fig = new_figure((tile[0] * ncols, tile[1] * nrows + extra), title)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def clear_ticks(ax: Axes) -> None:
    """Remove ticks and tick labels from an image tile but keep its frame."""
    ax.set_xticks([])
    ax.set_yticks([])


def _pretty(name: str) -> str:
    """Turn a metric or layer name such as 'sparse_categorical_accuracy' into readable text."""
    return name.replace("_", " ")


def _to_numpy(x: Any) -> np.ndarray:
    """Convert an array-like (NumPy array, list, TF tensor) to a NumPy array."""
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    return np.asarray(x)


def _class_indices(y: Any, name: str) -> np.ndarray:
    """Return integer class indices from labels, one-hot vectors, per-class scores or binary probabilities."""
    y = _to_numpy(y)
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    elif y.ndim == 2:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be class indices (N,) or scores/one-hot (N, K), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating) and np.any(y != np.round(y)):
        if y.min() < 0.0 or y.max() > 1.0:
            raise ValueError(f"{name} holds non-integer values outside [0, 1]: pass class indices or (N, K) scores")
        y = y >= 0.5  # sigmoid outputs of a binary classifier
    return y.astype(np.int64)


def _class_name(index: int, class_names: Sequence[str] | None) -> str:
    """Return the name of a class index, or the index itself when no names are given."""
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(index)


# ---------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------


def _is_history(obj: Any) -> bool:
    """Return True for a Keras History or a dict mapping metric names to per-epoch values."""
    if hasattr(obj, "history") and isinstance(obj.history, Mapping):
        return True
    if not isinstance(obj, Mapping):
        return False
    return all(
        not isinstance(v, (Mapping, str)) and not hasattr(v, "history") and np.ndim(_to_numpy(v)) == 1
        for v in obj.values()
    )


def _history_dict(obj: Any) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """Return a history's metric arrays and, for a Keras History, its 1-based epoch numbers."""
    epochs = None
    if hasattr(obj, "history") and isinstance(obj.history, Mapping):
        if getattr(obj, "epoch", None):
            epochs = np.asarray(obj.epoch) + 1
        obj = obj.history
    return {str(k): _to_numpy(v).astype(float).ravel() for k, v in obj.items()}, epochs


def _runs(history: Any) -> dict[str, tuple[dict[str, np.ndarray], np.ndarray | None]]:
    """Normalise one history, a dict of named runs, or a list of runs to {run name: history}."""
    if _is_history(history):
        return {"": _history_dict(history)}
    if isinstance(history, Mapping) and history and all(_is_history(v) for v in history.values()):
        return {str(name): _history_dict(h) for name, h in history.items()}
    if isinstance(history, Sequence) and history and all(_is_history(v) for v in history):
        return {f"run {i + 1}": _history_dict(h) for i, h in enumerate(history)}
    raise TypeError(
        "history must be a Keras History, a dict of per-epoch lists such as {'loss': [...]}, "
        "or a dict mapping run names to either of those"
    )


def _base_metrics(runs: Mapping[str, tuple[dict[str, np.ndarray], Any]]) -> list[str]:
    """List the metric names (without 'val_') in first-seen order, with 'loss' first."""
    names: list[str] = []
    for hist, _ in runs.values():
        for key in hist:
            base = key[4:] if key.startswith("val_") else key
            if base not in names:
                names.append(base)
    if "loss" in names:
        names.remove("loss")
        names.insert(0, "loss")
    return names


def training_curves(
    history: Any,
    metrics: str | Sequence[str] | None = None,
    title: str = "Training curves",
) -> Figure:
    """Plot per-epoch training (solid) and validation (dashed) curves, one panel per metric."""
    runs = _runs(history)
    if metrics is None:
        names = _base_metrics(runs)
    else:
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        names = list(dict.fromkeys(m[4:] if m.startswith("val_") else m for m in names))
    if not names:
        raise ValueError("the history holds no metrics to plot")

    ncols = 2 if len(names) == 4 else min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    multi = len(runs) > 1
    fig = new_figure((4.4 * ncols + (1.6 if multi else 0.0), 3.4 * nrows + 0.4), title)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[len(names):]:
        ax.set_visible(False)

    for ax, metric in zip(axes, names):
        plotted = False
        for i, (run, (hist, epoch_numbers)) in enumerate(runs.items()):
            colour = f"C{i % 10}"
            for key, style, part in ((metric, "-", "train"), (f"val_{metric}", "--", "validation")):
                if key not in hist or hist[key].size == 0:
                    continue
                y = hist[key]
                x = np.arange(1, len(y) + 1)
                if epoch_numbers is not None and len(epoch_numbers) == len(y):
                    x = epoch_numbers  # a History resumed with initial_epoch keeps its true epoch numbers
                label = f"{run} ({part})" if multi else part
                marker = "o" if len(y) <= 25 else None
                ax.plot(x, y, style, color=colour, label=label, marker=marker, markersize=3)
                plotted = True
        if not plotted:
            ax.text(0.5, 0.5, f"no '{metric}' recorded", ha="center", va="center", transform=ax.transAxes, color="0.4")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_pretty(metric))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        if not multi and plotted:
            ax.legend(fontsize=9)

    if multi:
        handles = [Line2D([], [], color=f"C{i % 10}", lw=2, label=run) for i, run in enumerate(runs)]
        handles += [
            Line2D([], [], color="0.3", ls="-", label="train"),
            Line2D([], [], color="0.3", ls="--", label="validation"),
        ]
        fig.legend(handles=handles, loc="outside right upper", fontsize=9)
    return fig


def loss_curve(
    values: Any,
    title: str = "Loss",
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = False,
) -> Figure:
    """Plot a single series, such as the loss after each gradient-descent step, optionally on a log y axis."""
    y = _to_numpy(values).astype(float).ravel()
    if y.size == 0:
        raise ValueError("values is empty")
    fig = new_figure((6.4, 4.0), None)
    ax = fig.add_subplot()
    marker = "o" if len(y) <= 25 else None
    ax.plot(np.arange(len(y)), y, color="C0", lw=1.2 if len(y) > 200 else 1.6, marker=marker, markersize=3)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=SUPTITLE_SIZE)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, which="major", alpha=0.3)
    return fig


# ---------------------------------------------------------------------------
# Images, filters and feature maps
# ---------------------------------------------------------------------------


def _display_images(images: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Squeeze single-channel images and scale them for imshow; return (images, vmin, vmax)."""
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 4 and images.shape[-1] != 3:
        raise ValueError(f"images must be (N,H,W), (N,H,W,1) or (N,H,W,3), got shape {images.shape}")
    if images.ndim != 3 and images.ndim != 4:
        raise ValueError(f"images must be (N,H,W), (N,H,W,1) or (N,H,W,3), got shape {images.shape}")
    if images.dtype == np.uint8:
        return images, 0.0, 255.0
    images = images.astype(float)
    lo, hi = float(np.nanmin(images)), float(np.nanmax(images))
    if lo >= 0.0 and hi <= 1.0:
        return images, 0.0, 1.0
    if lo >= 0.0 and hi <= 255.0:
        return images / 255.0, 0.0, 1.0
    # standardised or otherwise unbounded data: stretch each image to [0, 1]
    axes = tuple(range(1, images.ndim))
    mins = images.min(axis=axes, keepdims=True)
    spans = np.maximum(images.max(axis=axes, keepdims=True) - mins, 1e-12)
    return (images - mins) / spans, 0.0, 1.0


def image_grid(
    images: Any,
    labels: Any = None,
    predictions: Any = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "gray",
    max_images: int = MAX_IMAGES,
) -> Figure:
    """Show a grid of images titled with their labels, or 'predicted / true' coloured green (right) or red (wrong)."""
    images = _to_numpy(images)
    n = min(len(images), max_images)
    if n == 0:
        raise ValueError("no images to show")
    shown, vmin, vmax = _display_images(images[:n])
    true = _class_indices(labels, "labels")[:n] if labels is not None else None
    pred = _class_indices(predictions, "predictions")[:n] if predictions is not None else None
    for given, name in ((true, "labels"), (pred, "predictions")):
        if given is not None and len(given) < n:
            raise ValueError(f"{len(given)} {name} for {n} images")
    if true is not None and pred is not None:
        title = f"{title}\n" if title else ""
        title += f"predicted / true: {int((true != pred).sum())} of {n} wrong"

    tile_titles: list[str] = []
    for i in range(n):
        if pred is not None and true is not None:
            p, t = _class_name(pred[i], class_names), _class_name(true[i], class_names)
            tile_titles.append(f"{p} / {t}" if len(p) + len(t) <= 14 else f"{p} /\n{t}")  # wrap long names
        elif pred is not None or true is not None:
            tile_titles.append(_class_name(pred[i] if pred is not None else true[i], class_names))
    lines = max((s.count("\n") + 1 for s in tile_titles), default=0)
    fig, axes = _grid(n, ncols, (1.35, 1.35 + 0.17 * lines), title)
    for i, ax in enumerate(axes):
        ax.imshow(shown[i], cmap=None if shown.ndim == 4 else cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        clear_ticks(ax)
        if pred is not None and true is not None:
            ok = pred[i] == true[i]
            colour = RIGHT if ok else WRONG
            ax.set_title(
                tile_titles[i],
                color=colour,
                fontsize=TILE_TITLE_SIZE,
                fontweight="normal" if ok else "bold",
            )
            if not ok:  # a second cue besides colour: a thick frame around wrong predictions
                for spine in ax.spines.values():
                    spine.set_edgecolor(WRONG)
                    spine.set_linewidth(2.5)
        elif tile_titles:
            ax.set_title(tile_titles[i], fontsize=TILE_TITLE_SIZE)
    return fig


def _tiles_from_weights(weights: Any, image_shape: tuple[int, ...] | None) -> tuple[np.ndarray, bool, bool]:
    """Turn conv kernels (kh,kw,in,out) or dense weights (D,K) into tiles; return (tiles, is_rgb, is_dense)."""
    if hasattr(weights, "get_weights"):  # a Keras layer
        weights = weights.get_weights()[0]
    elif isinstance(weights, (list, tuple)) and weights and np.ndim(weights[0]) >= 2:  # layer.get_weights()
        weights = weights[0]
    w = _to_numpy(weights).astype(float)
    if w.ndim == 4:
        tiles = np.moveaxis(w, -1, 0)  # (out, kh, kw, in)
    elif w.ndim == 2:
        d, k = w.shape
        if image_shape is None:
            side = math.isqrt(d)
            if side * side != d:
                raise ValueError(f"pass image_shape to show dense weights with {d} inputs as images")
            image_shape = (side, side)
        if math.prod(image_shape) != d:
            raise ValueError(f"image_shape {image_shape} does not match the {d} inputs of the weight matrix")
        tiles = w.T.reshape((k, *image_shape))
        if tiles.ndim == 3:
            tiles = tiles[..., None]
    else:
        raise ValueError(
            "weights must be conv kernels (kh, kw, in_channels, out_channels) or a dense matrix (D, K), "
            f"got shape {w.shape}"
        )
    if tiles.shape[-1] == 3:
        mins = tiles.min(axis=(1, 2, 3), keepdims=True)
        spans = np.maximum(tiles.max(axis=(1, 2, 3), keepdims=True) - mins, 1e-12)
        return (tiles - mins) / spans, True, w.ndim == 2
    return tiles.mean(axis=-1), False, w.ndim == 2


def filter_grid(
    weights: Any,
    title: str = "First-layer filters",
    ncols: int = 8,
    image_shape: tuple[int, ...] | None = None,
    max_filters: int = MAX_IMAGES,
) -> Figure:
    """Show one tile per filter or unit: RGB for 3 input channels, else the channel mean on a diverging colormap."""
    tiles, rgb, dense = _tiles_from_weights(weights, image_shape)
    n = min(len(tiles), max_filters)
    if rgb:
        subtitle = "\n(RGB, each filter stretched to [0, 1])"
    elif dense:
        subtitle = "\n(weights per unit; blue < 0 < red, per-tile scale)"
    else:
        subtitle = "\n(mean over input channels; blue < 0 < red, per-tile scale)"
    fig, axes = _grid(n, ncols, (1.3, 1.45), title + subtitle)
    for i, ax in enumerate(axes):
        if rgb:
            ax.imshow(tiles[i], interpolation="nearest")
        else:
            limit = max(float(np.abs(tiles[i]).max()), 1e-12)
            ax.imshow(tiles[i], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        clear_ticks(ax)
        ax.set_title(str(i), fontsize=TILE_TITLE_SIZE - 1, pad=2)
    return fig


def feature_maps(
    activations: Any,
    title: str = "Feature maps",
    ncols: int = 8,
    max_maps: int = 32,
    cmap: str = "viridis",
) -> Figure:
    """Show the feature maps (channels) of one image's activations, (H, W, C) or (1, H, W, C)."""
    a = _to_numpy(activations).astype(float)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(
            f"activations must be one image's maps, (H, W, C) or (1, H, W, C), got shape {a.shape}; "
            "for a batch pass acts[0]"
        )
    n = min(a.shape[-1], max_maps)
    shown = f"{n} of {a.shape[-1]} channels" if n < a.shape[-1] else f"{n} channels"
    fig, axes = _grid(n, ncols, (1.3, 1.45), f"{title}\n({shown}, {a.shape[0]}\u00d7{a.shape[1]}, per-map scale)")
    for i, ax in enumerate(axes):
        ax.imshow(a[..., i], cmap=cmap, interpolation="nearest")
        clear_ticks(ax)
        ax.set_title(str(i), fontsize=TILE_TITLE_SIZE - 1, pad=2)
    return fig


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


def _stat(x: float, tiny: bool = True) -> str:
    """Format a statistic with two decimals, never '-0.00'; tiny non-zero values in e-notation if asked."""
    if tiny and x != 0.0 and abs(x) < 0.005:
        return f"{x:.1e}"
    return f"{x:.2f}".replace("-0.00", "0.00")


def _compact_count(value: float, _position: Any = None) -> str:
    """Format a histogram count tick compactly: 450000 -> '450k', 2000000 -> '2M'."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def activation_histograms(
    activations: Mapping[str, Any] | Sequence[Any],
    title: str = "Activations per layer",
    bins: int = 50,
    sharex: bool = True,
    max_cols: int = 7,
) -> Figure:
    """Draw one histogram per layer, titled with the layer's mean and std, optionally on a shared x range."""
    if isinstance(activations, Mapping):
        items = [(str(k), _to_numpy(v).astype(float).ravel()) for k, v in activations.items()]
    else:
        items = [(f"layer {i + 1}", _to_numpy(v).astype(float).ravel()) for i, v in enumerate(activations)]
    if not items:
        raise ValueError("no activations to plot")
    items = [(name, v[np.isfinite(v)]) for name, v in items]

    value_range = None
    if sharex:
        finite = [v for _, v in items if v.size]
        if finite:
            lo, hi = min(float(v.min()) for v in finite), max(float(v.max()) for v in finite)
            value_range = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)

    n = len(items)
    nrows = math.ceil(n / max_cols)
    ncols = math.ceil(n / nrows)
    fig = new_figure((2.3 * ncols, 2.3 * nrows + 0.5), title)
    axes = list(fig.subplots(nrows, ncols, squeeze=False, sharex=bool(sharex and value_range)).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    for i, (ax, (name, v)) in enumerate(zip(axes, items)):
        if v.size == 0:
            ax.set_title(f"{name}\nno finite values", fontsize=9)
            continue
        ax.hist(v, bins=bins, range=value_range, color="C0")
        ax.set_title(f"{name}\nmean {_stat(v.mean(), tiny=False)}, std {_stat(v.std())}", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_major_formatter(FuncFormatter(_compact_count))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.tick_params(axis="x", labelbottom=True)
        if i % ncols == 0:
            ax.set_ylabel("count", fontsize=9)
        if i >= n - ncols:
            ax.set_xlabel("activation", fontsize=9)
    return fig


def compare_bars(
    values: Mapping[str, float],
    title: str = "Model comparison",
    ylabel: str = "test accuracy",
    target: float | None = None,
) -> Figure:
    """Draw a bar per entry (e.g. test accuracy per model) with values on the bars and an optional target line."""
    if not values:
        raise ValueError("values is empty")
    names = [str(k) for k in values]
    heights = np.asarray([float(v) for v in values.values()])
    fmt = "{:.3f}" if np.all(np.abs(heights) <= 1.0) else "{:.4g}"
    longest = max(len(s) for s in names)
    long_names = (len(names) > 4 and longest > 10) or longest > 18
    fig = new_figure((max(4.5, 1.1 * len(names) + 1.8), 4.2), None)
    ax = fig.add_subplot()
    bars = ax.bar(names, heights, color="C0", width=0.6)
    ax.bar_label(bars, labels=[fmt.format(h) for h in heights], padding=3, fontsize=9)
    if target is not None:
        ax.axhline(target, color="C1", ls="--", lw=1.5, label=f"target {fmt.format(target)}")
        ax.legend(loc="best", fontsize=9, framealpha=0.9)
    top = max(float(heights.max()), target if target is not None else -np.inf)
    bottom = min(0.0, float(heights.min()))
    if top > 0:
        ax.set_ylim(bottom * 1.15, top * 1.15)
    ax.set_title(title, fontsize=SUPTITLE_SIZE)
    ax.set_ylabel(ylabel)
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    if long_names:
        ax.tick_params(axis="x", labelrotation=25)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    return fig


def confusion_counts(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Return the (K, K) matrix of counts, rows = true class, columns = predicted class."""
    widths = [np.shape(y)[1] for y in (y_true, y_pred) if np.ndim(y) == 2 and np.shape(y)[1] > 1]  # one-hot/scores
    t = _class_indices(y_true, "y_true")
    p = _class_indices(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred hold different numbers of examples: {t.shape[0]} and {p.shape[0]}")
    if t.size and (t.min() < 0 or p.min() < 0):
        raise ValueError("class indices must be non-negative")
    k = max(num_classes or 0, *widths, int(t.max(initial=-1)) + 1, int(p.max(initial=-1)) + 1)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def confusion_matrix(
    y_true: Any,
    y_pred: Any,
    class_names: Sequence[str] | None = None,
    normalize: bool = True,
    title: str = "Confusion matrix",
) -> Figure:
    """Show the confusion matrix (rows true, columns predicted), normalised per true class by default."""
    counts = confusion_counts(y_true, y_pred, len(class_names) if class_names is not None else None)
    k = counts.shape[0]
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        matrix = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    else:
        matrix = counts.astype(float)
    names = [_class_name(i, class_names) for i in range(k)]
    side = max(4.6, 0.42 * k + 2.2)
    fig = new_figure((side + 1.0, side), None)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class" if normalize else "count")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    if max(len(s) for s in names) > 2:
        ax.tick_params(axis="x", labelrotation=45)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"{title}\n(accuracy {accuracy:.3f} on {counts.sum()} examples)", fontsize=SUPTITLE_SIZE - 1)
    if k <= 20:
        threshold = (matrix.max() or 1.0) / 2.0
        size = 9 if k <= 10 else 7
        for r in range(k):
            for c in range(k):
                text = f"{matrix[r, c]:.2f}" if normalize else str(counts[r, c])
                if normalize and counts[r, c] == 0:
                    text = "0"
                ax.text(c, r, text, ha="center", va="center", fontsize=size,
                        color="white" if matrix[r, c] > threshold else "black")
    return fig


def scatter_2d(points: Any, labels: Any, title: str, legend_title: str = "class",
               axis_labels: tuple[str, str] = ("component 1", "component 2")) -> CourseFigure:
    """Scatter 2-D points coloured by integer label, with a legend beside the axes."""
    points, labels = _to_numpy(points), _to_numpy(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"scatter_2d needs points of shape (N, 2) and N labels, got {points.shape} and {labels.shape}.")
    fig = new_figure((6.4, 5.2), title)
    ax = fig.add_subplot()
    for k in np.unique(labels):
        chosen = labels == k
        ax.scatter(points[chosen, 0], points[chosen, 1], s=6, alpha=0.6, color=f"C{int(k) % 10}", label=str(k))
    ax.legend(title=legend_title, markerscale=3, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    return fig


def segmentation_errors(image: Any, truth: Any, probability: Any, threshold: float = 0.5) -> np.ndarray:
    """Return an RGB picture: the grey image with found (green), spurious (red) and missed (blue) foreground pixels.

    The foreground is where ``truth`` is 0 and ``probability`` is below ``threshold`` (the ISBI membranes are dark).
    """
    image, truth, probability = _to_numpy(image), _to_numpy(truth), _to_numpy(probability)
    grey = np.repeat(image[..., :1], 3, axis=-1) * 0.6
    true_fg, predicted_fg = truth[..., 0] == 0, probability[..., 0] < threshold
    colours = {(True, True): (0.1, 0.9, 0.1), (False, True): (0.95, 0.1, 0.1), (True, False): (0.2, 0.4, 1.0)}
    for (t, p), colour in colours.items():
        grey[(true_fg == t) & (predicted_fg == p)] = colour
    return grey


def picture_grid(rows: Sequence[tuple[str, Sequence[Any]]], columns: Sequence[str], title: str) -> CourseFigure:
    """A grid of RGB or grey pictures in [0, 1]: rows of (row label, pictures), one title per column."""
    fig = new_figure((3.0 * len(columns), 3.1 * len(rows) + 0.4), title)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (label, pictures) in enumerate(rows):
        for c, picture in enumerate(pictures):
            picture = _to_numpy(picture)
            ax = axes[r, c]
            ax.imshow(picture if picture.ndim == 3 and picture.shape[-1] == 3 else picture[..., 0], cmap="gray",
                      vmin=0.0, vmax=1.0, interpolation="nearest")
            clear_ticks(ax)
            if r == 0:
                ax.set_title(columns[c], fontsize=10)
        axes[r, 0].set_ylabel(label, fontsize=10)
    return fig


# Diagrams drawn for particular labs, one module each (imported last: they build on the helpers above).
from utils.plots import graphs, windows  # noqa: E402
