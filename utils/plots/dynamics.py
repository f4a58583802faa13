"""Pictures for the babysitting companion: learning-rate curves, histograms over epochs, kernels, search layouts.

Like the rest of ``utils.plots``: one picture per function, returned as a figure that pyplot does not hold, no
TensorFlow. Histograms are taken from anything with ``step``, ``left``, ``right`` and ``counts`` (such as
``utils.babysitting.Histogram``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize

from utils.plots import RIGHT, SUPTITLE_SIZE, TILE_TITLE_SIZE, WRONG, CourseFigure, _to_numpy, clear_ticks, new_figure

__all__ = ["histogram_timeline", "kernels_before_after", "learning_rate_curves", "search_layouts"]

VERDICT_COLOURS = {"too low": "#2166ac", "about right": RIGHT, "too high": WRONG}


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Return the mean of each value and up to ``window - 1`` before it (NaN-free input)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def learning_rate_curves(curves: Mapping[float, Any], verdicts: Mapping[float, str] | None = None,
                         start: float | None = None, window: int = 10, clip: float = 20.0,
                         title: str = "Training loss per step, by learning rate") -> CourseFigure:
    """Plot each rate's per-step losses (faint) and their running mean, coloured by verdict, on a log y axis.

    The y axis stops at ``clip`` times the initial loss (or the largest first loss): an exploding curve leaves the
    picture at the top instead of squashing the others.
    """
    if not curves:
        raise ValueError("no curves to plot")
    fig = new_figure((8.0, 4.6), None)
    ax = fig.add_subplot()
    cmap = colormaps["viridis"]
    lowest, reference = np.inf, start
    for i, (rate, losses) in enumerate(sorted(curves.items())):
        y = _to_numpy(losses).astype(float).ravel()
        label = verdicts.get(rate) if verdicts else None
        colour = VERDICT_COLOURS.get(label, cmap(i / max(1, len(curves) - 1)))
        steps = np.arange(1, len(y) + 1)
        finite = np.isfinite(y)
        ax.plot(steps, np.where(finite, y, np.nan), color=colour, alpha=0.25, lw=0.8)
        good = np.flatnonzero(finite)
        end = good[-1] + 1 if good.size else 0
        if end:
            lowest = min(lowest, float(y[good].min()))
            reference = reference if reference is not None else float(y[good[0]])
            ax.plot(steps[:end], _running_mean(np.nan_to_num(y[:end], nan=0.0), window), color=colour, lw=2,
                    label=f"lr {rate:g}" + (f": {label}" if label else ""))
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            ax.axvline(first + 1, color=colour, ls="--", lw=1)
            ax.annotate(f"NaN from step {first + 1}", (first + 1, 0.5), xycoords=("data", "axes fraction"),
                        textcoords="offset points", xytext=(4, 0), fontsize=8, color=colour)
    if start is not None:
        ax.axhline(start, color="0.4", ls=":", lw=1.2, label=f"initial loss {start:.3g}")
    ax.set_yscale("log")
    if reference is not None and np.isfinite(lowest):
        ax.set_ylim(min(lowest, reference) * 0.8, reference * clip)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (log scale)")
    ax.set_title(title + f"\n(faint: each step; bold: mean of the last {window} steps; the axis stops at "
                 f"{clip:g} x the initial loss)", fontsize=SUPTITLE_SIZE - 2)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def histogram_timeline(histograms: Mapping[str, Sequence[Any]], title: str = "Histograms per epoch",
                       max_cols: int = 4, xlabel: str = "value") -> CourseFigure:
    """Draw one panel per tag with a density curve per logged step, light (first) to dark (last), like TensorBoard."""
    if not histograms:
        raise ValueError("no histograms to plot")
    n = len(histograms)
    ncols = min(n, max_cols)
    nrows = math.ceil(n / ncols)
    fig = new_figure((3.2 * ncols + 1.0, 2.6 * nrows + 0.6), title)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    steps = sorted({int(h.step) for rows in histograms.values() for h in rows})
    norm = Normalize(min(steps), max(steps) if len(steps) > 1 else min(steps) + 1)
    cmap = colormaps["Blues"]
    for ax, (tag, rows) in zip(axes, histograms.items()):
        for h in rows:
            left, right, counts = (_to_numpy(v).astype(float) for v in (h.left, h.right, h.counts))
            widths = np.maximum(right - left, 1e-12)
            density = counts / max(counts.sum(), 1e-12) / widths
            ax.plot((left + right) / 2, np.where(density > 0, density, np.nan), lw=1.4,
                    color=cmap(0.3 + 0.7 * norm(int(h.step))), label=f"epoch {int(h.step) + 1}")
        ax.set_title(str(tag), fontsize=9)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("density (log)", fontsize=8)
    if len(steps) <= 12:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside right upper", fontsize=8, title="logged after")
    else:
        fig.colorbar(_scalar_mappable(cmap, norm), ax=axes[:n], shrink=0.8, label="step (epoch - 1)")
    return fig


def _scalar_mappable(cmap: Any, norm: Normalize) -> Any:
    """Return a ScalarMappable for a colour bar of the steps (lightest colours skipped, as in the curves)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap

    return ScalarMappable(norm=norm, cmap=ListedColormap(cmap(np.linspace(0.3, 1.0, 256))))


def kernels_before_after(before: Any, after: Any, title: str = "First-layer kernels before and after training",
                         max_kernels: int = 16) -> CourseFigure:
    """Show conv kernels (kh, kw, in, out) as image patches: a row before and a row after training (channel mean)."""
    b, a = (_to_numpy(w).astype(float) for w in (before, after))
    if b.shape != a.shape or b.ndim != 4:
        raise ValueError(f"before and after must be kernels of one shape (kh, kw, in, out), got {b.shape}, {a.shape}")
    n = min(b.shape[-1], max_kernels)
    fig = new_figure((1.0 * n + 1.0, 2.6), title + "\n(blue < 0 < red, each patch on its own scale)")
    axes = fig.subplots(2, n, squeeze=False)
    for row, (name, w) in enumerate((("before", b), ("after", a))):
        tiles = w.mean(axis=2)
        for i in range(n):
            ax = axes[row, i]
            limit = max(float(np.abs(tiles[..., i]).max()), 1e-12)
            ax.imshow(tiles[..., i], cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            clear_ticks(ax)
            if row == 0:
                ax.set_title(str(i), fontsize=TILE_TITLE_SIZE - 1, pad=2)
        axes[row, 0].set_ylabel(name, fontsize=10)
    return fig


def search_layouts(layouts: Mapping[str, Sequence[Mapping[str, Any]]], x: str, y: str, score: str = "score",
                   log_x: bool = True, x_range: tuple[float, float] | None = None,
                   y_range: tuple[float, float] | None = None,
                   title: str = "Where each search put its trials") -> CourseFigure:
    """Scatter each search's trials in the (x, y) plane coloured by score, with a tick per distinct x value below.

    ``x_range`` and ``y_range``: the searched ranges, drawn as the axes' limits (with a margin) so layouts compare.
    """
    if not layouts:
        raise ValueError("no searches to plot")
    scores = [float(row[score]) for rows in layouts.values() for row in rows]
    if not scores:
        raise ValueError("the searches hold no trials")
    norm = Normalize(min(scores), max(scores) if max(scores) > min(scores) else min(scores) + 1e-9)
    fig = new_figure((4.4 * len(layouts) + 1.2, 4.6), title)
    axes = fig.subplots(1, len(layouts), squeeze=False)[0]
    for ax, (name, rows) in zip(axes, layouts.items()):
        xs = np.asarray([float(r[x]) for r in rows])
        ys = np.asarray([float(r[y]) for r in rows])
        ss = np.asarray([float(r[score]) for r in rows])
        points = ax.scatter(xs, ys, c=ss, cmap="viridis", norm=norm, s=60, edgecolors="k", linewidths=0.5, zorder=3)
        if len(rows):
            best = int(np.argmax(ss))
            ax.scatter([xs[best]], [ys[best]], marker="*", s=300, facecolors="none", edgecolors=WRONG, linewidths=1.5,
                       label=f"best {score} {ss[best]:.3f}", zorder=4)
            ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False)
        for value in np.unique(xs):
            ax.axvline(value, ymin=0.0, ymax=0.06, color="k", lw=1.5)
        ax.set_title(f"{name}: {len(rows)} trials, {len(np.unique(xs))} distinct {x}", fontsize=10)
        if log_x:
            ax.set_xscale("log")
        if x_range is not None:
            low, high = x_range
            ax.set_xlim(low / (high / low) ** 0.05, high * (high / low) ** 0.05) if log_x else ax.set_xlim(
                low - 0.05 * (high - low), high + 0.05 * (high - low))
        if y_range is not None:
            low, high = y_range
            ax.set_ylim(low - 0.1 * (high - low), high + 0.05 * (high - low))
        ax.set_xlabel(f"{x} (ticks at the bottom: values tried)")
        ax.set_ylabel(y)
        ax.grid(True, alpha=0.3)
    fig.colorbar(points, ax=list(axes), shrink=0.8, label=score)
    return fig
