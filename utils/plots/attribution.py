"""Pictures for the "what a CNN has learned" companion: nearest neighbours and attribution maps.

Like the rest of ``utils.plots``: one picture per function, returned as a figure that pyplot does not hold, no
TensorFlow. Images are (N, H, W) or (N, H, W, 1) grey images in any scale (each tile is shown on the data's range).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from utils.plots import RIGHT, TILE_TITLE_SIZE, WRONG, CourseFigure, _to_numpy, clear_ticks, new_figure

__all__ = ["attribution_grid", "neighbour_grid"]


def _grey(images: Any) -> np.ndarray:
    """Return grey images as (N, H, W) floats."""
    x = _to_numpy(images).astype(float)
    if x.ndim == 4:
        x = x.mean(axis=-1)
    if x.ndim != 3:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C), got shape {x.shape}")
    return x


def _frame(ax: Any, colour: str, width: float = 2.5) -> None:
    """Draw a coloured frame around a tile."""
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(width)


def neighbour_grid(queries: Any, query_labels: Any, gallery: Any, gallery_labels: Any,
                   neighbours: Mapping[str, Any], max_queries: int = 6,
                   title: str = "Nearest neighbours") -> CourseFigure:
    """One row per query: the query, then its neighbours in each space (a block per space); wrong labels framed red."""
    q, g = _grey(queries), _grey(gallery)
    q_labels, g_labels = _to_numpy(query_labels).ravel(), _to_numpy(gallery_labels).ravel()
    blocks = {name: _to_numpy(idx) for name, idx in neighbours.items()}
    if not blocks:
        raise ValueError("no neighbours to show")
    n = min(len(q), max_queries, *(len(idx) for idx in blocks.values()))
    k = max(idx.shape[1] for idx in blocks.values())
    ncols = 1 + len(blocks) * (k + 1) - 1
    low, high = float(min(q.min(), g.min())), float(max(q.max(), g.max()))
    fig = new_figure((0.95 * ncols + 0.6, 1.05 * n + 0.9),
                     title + "\n(green frame: same label as the query; red: another label)")
    axes = fig.subplots(n, ncols, squeeze=False)
    for row in range(n):
        ax = axes[row, 0]
        ax.imshow(q[row], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        clear_ticks(ax)
        ax.set_ylabel(f"query\nlabel {q_labels[row]}", fontsize=8)
        column = 1
        for name, idx in blocks.items():
            if column > 1:
                axes[row, column].set_visible(False)  # a gap between the spaces
                column += 1
            for j in range(idx.shape[1]):
                ax = axes[row, column]
                ax.imshow(g[idx[row, j]], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
                clear_ticks(ax)
                _frame(ax, RIGHT if g_labels[idx[row, j]] == q_labels[row] else WRONG)
                if row == 0:
                    ax.set_title(f"{name}\n#{j + 1}" if j == 0 else f"#{j + 1}", fontsize=TILE_TITLE_SIZE)
                column += 1
    return fig


def attribution_grid(images: Any, maps: Mapping[str, Any], masks: Any, labels: Sequence[Any] | None = None,
                     max_images: int = 6, title: str = "Where the network looks") -> CourseFigure:
    """One row per image: the image, then each method's map (hot = large) with the object's outline in cyan."""
    x = _grey(images)
    outlines = _to_numpy(masks).astype(bool)
    arrays = {name: _to_numpy(m).astype(float) for name, m in maps.items()}
    if not arrays:
        raise ValueError("no maps to show")
    for name, m in arrays.items():
        if m.shape[:3] != x.shape[:3]:
            raise ValueError(f"the {name} maps have shape {m.shape}, the images {x.shape}")
    n = min(len(x), max_images)
    ncols = 1 + len(arrays)
    fig = new_figure((1.9 * ncols + 0.4, 1.9 * n + 0.7),
                     title + "\n(cyan: the object's outline, from thresholding the image; each map on its own scale)")
    axes = fig.subplots(n, ncols, squeeze=False)
    for row in range(n):
        ax = axes[row, 0]
        ax.imshow(x[row], cmap="gray", interpolation="nearest")
        clear_ticks(ax)
        if labels is not None:
            ax.set_ylabel(f"label {labels[row]}", fontsize=8)
        if row == 0:
            ax.set_title("image", fontsize=9)
        for column, (name, m) in enumerate(arrays.items(), start=1):
            ax = axes[row, column]
            ax.imshow(m[row], cmap="hot", interpolation="nearest")
            if outlines[row].any() and not outlines[row].all():
                ax.contour(outlines[row].astype(float), levels=[0.5], colors="cyan", linewidths=0.8)
            clear_ticks(ax)
            if row == 0:
                ax.set_title(name, fontsize=9)
    return fig
