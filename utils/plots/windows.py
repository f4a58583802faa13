"""Diagrams for Lab 2: padding, strides, a sliding window, pooling and im2col, drawn with matplotlib.

Each function takes small integer sizes (pooling takes the feature map itself) and draws grids of cells with
matplotlib patches on one axes, rows growing downwards as in an array. The conventions are Lab 2's: the output size
is ``floor((W - F + 2P) / S) + 1`` along each axis, im2col rows run in (n, i, j) order and its columns in
(height offset, width offset, channel) order. Patches and texts carry a gid ("window", "output-cell", ...) so tests
can count what is highlighted.
"""

from __future__ import annotations

import numbers
import textwrap
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from utils.plots import _to_numpy, new_figure

__all__ = ["im2col", "padding", "pooling", "sliding_window", "strides"]

# tab10 without grey: distinct hues for neighbouring windows; a window and its output share one colour
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
INPUT_FILL = "#e8f0f8"  # pale blue: cells that hold input values
PAD_FILL = "#d9d9d9"  # grey: the zeros that padding adds
OUTPUT_FILL = "#fdf3e1"  # pale orange: output cells
EDGE = "0.35"
MAX_SIDE = 16  # cells per grid side; beyond this the cells get too small to read
MAX_MATRIX = 40  # rows or columns of the im2col matrix
GAP = 2.6  # cells between neighbouring grids, room for the arrow
MIN_WIDTH = 5.6  # inches
MARGIN = 0.3  # cells around the drawing, so thick edges at its border are not cut off


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _int_arg(name: str, value: Any, minimum: int) -> int:
    """Return value as an int, or raise ValueError if it is not an integer of at least minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _side(name: str, cells: int) -> None:
    """Refuse grids so large that their cells would be unreadable."""
    if cells > MAX_SIDE:
        raise ValueError(f"{name} is {cells} cells, too many to draw readably: use at most {MAX_SIDE}")


def _window_sizes(height: Any, width: Any, kernel: Any, stride: Any, pad: Any) -> tuple[int, ...]:
    """Validate a window's arguments; return (H, W, F, S, P, H2, W2) with Lab 2's output-size formula."""
    height, width = _int_arg("height", height, 1), _int_arg("width", width, 1)
    kernel, stride, pad = _int_arg("kernel", kernel, 1), _int_arg("stride", stride, 1), _int_arg("pad", pad, 0)
    hp, wp = height + 2 * pad, width + 2 * pad
    _side("the padded height", hp)
    _side("the padded width", wp)
    if kernel > min(hp, wp):
        raise ValueError(f"a {kernel} x {kernel} window does not fit in the {hp} x {wp} padded input")
    return height, width, kernel, stride, pad, (hp - kernel) // stride + 1, (wp - kernel) // stride + 1


# ---------------------------------------------------------------------------
# Drawing helpers (data units are cells; y grows downwards)
# ---------------------------------------------------------------------------


def _canvas(width: float, height: float, title: str, cell_inches: float = 0.42) -> tuple[Figure, Axes, float]:
    """Create a figure with one axes showing width x height cells plus a margin; return (fig, ax, cell font size)."""
    width, height = width + 2 * MARGIN, height + 2 * MARGIN
    cell = min(cell_inches, 12.5 / width, 8.0 / height)  # shrink big diagrams to fit a notebook's width
    fig_width = max(width * cell + 0.2, MIN_WIDTH)  # narrow diagrams still need room for the title and formulas
    # about 8.5 characters per inch at the title's size; no-break spaces keep a size such as "3 x 9" on one line
    title = textwrap.fill(title.replace(" x ", "\u00a0x\u00a0"), width=int(fig_width * 8.5))
    fig = new_figure((fig_width, height * cell + 0.45 + 0.25 * (title.count("\n") + 1)), title)
    ax = fig.add_subplot()
    ax.set_xlim(-MARGIN, width - MARGIN)
    ax.set_ylim(height - MARGIN, -MARGIN)  # inverted: row 0 at the top, as in an array
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax, float(np.clip(cell * 72 * 0.36, 5.5, 12.0))


def _cell(ax: Axes, x: float, y: float, fill: str, gid: str, text: str = "", size: float = 9.0,
          colour: str = "black", text_gid: str | None = None, backdrop: bool = False) -> Rectangle:
    """Draw one unit cell with its top-left corner at (x, y) and optional centred text."""
    patch = Rectangle((x, y), 1, 1, facecolor=fill, edgecolor=EDGE, linewidth=0.8, gid=gid)
    ax.add_patch(patch)
    if text:
        # above the window outlines; a white backdrop keeps crossing outlines from cutting into the digits
        box = dict(facecolor="white", edgecolor="none", pad=0.6, alpha=0.85) if backdrop else None
        ax.text(x + 0.5, y + 0.5, text, ha="center", va="center", fontsize=size, color=colour, gid=text_gid,
                zorder=5, bbox=box)
    return patch


def _padded_grid(ax: Axes, x0: float, y0: float, height: int, width: int, pad: int, size: float) -> None:
    """Draw an input of height x width cells inside a border of pad zero cells (grey, marked 0)."""
    for r in range(height + 2 * pad):
        for c in range(width + 2 * pad):
            inside = pad <= r < pad + height and pad <= c < pad + width
            if inside:
                _cell(ax, x0 + c, y0 + r, INPUT_FILL, "input-cell")
            else:
                _cell(ax, x0 + c, y0 + r, PAD_FILL, "pad-cell", "0", size * 0.85, "0.35", "pad-zero")


def _output_grid(ax: Axes, x0: float, y0: float, rows: int, cols: int, size: float) -> None:
    """Draw an output grid with its row and column indices in grey."""
    for r in range(rows):
        for c in range(cols):
            _cell(ax, x0 + c, y0 + r, OUTPUT_FILL, "output-cell")
    for r in range(rows):
        ax.text(x0 - 0.15, y0 + r + 0.5, str(r), ha="right", va="center", fontsize=size * 0.75, color="0.45")
    for c in range(cols):
        ax.text(x0 + c + 0.5, y0 - 0.12, str(c), ha="center", va="bottom", fontsize=size * 0.75, color="0.45")


def _box(ax: Axes, x: float, y: float, w: float, h: float, colour: str, gid: str, fill: bool = True,
         inset: float = 0.0, lw: float = 2.6) -> Rectangle:
    """Highlight a w x h block of cells with a translucent fill and a thick edge, inset so overlaps stay visible."""
    face = (*_rgb(colour), 0.28) if fill else "none"  # alpha on the face only, so the edge stays solid
    patch = Rectangle((x + inset, y + inset), w - 2 * inset, h - 2 * inset, facecolor=face, edgecolor=colour,
                      linewidth=lw, gid=gid, zorder=3)
    ax.add_patch(patch)
    return patch


def _rgb(colour: str) -> tuple[float, float, float]:
    """Convert a '#rrggbb' colour to an RGB tuple in [0, 1]."""
    return tuple(int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def _arrow(ax: Axes, x_from: float, x_to: float, y: float, label: str = "", size: float = 9.0) -> None:
    """Draw a horizontal arrow between two grids, with an optional label above it."""
    ax.add_patch(FancyArrowPatch((x_from + 0.3, y), (x_to - 0.3, y), arrowstyle="-|>", mutation_scale=16,
                                 color="0.3", linewidth=1.5))
    if label:
        ax.text((x_from + x_to) / 2, y - 0.3, label, ha="center", va="bottom", fontsize=size * 0.85, color="0.3")


def _caption(ax: Axes, x: float, y: float, text: str, size: float) -> None:
    """Write a grid's caption centred above it."""
    ax.text(x, y - 0.75, text, ha="center", va="bottom", fontsize=size)


def _size_formula(axis: str, n: int, kernel: int, stride: int, pad: int, out: int) -> str:
    """Lab 2's output-size formula with the numbers filled in, as mathtext."""
    return rf"${axis}_2 = \lfloor ({n} - {kernel} + 2 \cdot {pad}) / {stride} \rfloor + 1 = {out}$"


def _fmt(value: float) -> str:
    """Format a cell value briefly: integers without decimals, others with two (one when large)."""
    if float(value).is_integer() and abs(value) < 1e5:
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


# ---------------------------------------------------------------------------
# The diagrams
# ---------------------------------------------------------------------------


def padding(height: int, width: int, pad: int) -> Figure:
    """Draw a height x width input and the same input inside a border of pad zeros (P rings of grey cells)."""
    height, width, pad = _int_arg("height", height, 1), _int_arg("width", width, 1), _int_arg("pad", pad, 0)
    hp, wp = height + 2 * pad, width + 2 * pad
    _side("the padded height", hp)
    _side("the padded width", wp)
    x_pad = width + GAP
    top = 1.2  # room for the captions
    fig, ax, size = _canvas(x_pad + wp, top + hp,
                            f"Zero padding: P = {pad} ring{'s' if pad != 1 else ''} of zeros around the input")
    y_in = top + pad  # centre the input vertically against the padded grid
    _padded_grid(ax, 0, y_in, height, width, 0, size)
    _caption(ax, width / 2, y_in, f"input {height} x {width}", size)
    _padded_grid(ax, x_pad, top, height, width, pad, size)
    _caption(ax, x_pad + wp / 2, top, f"padded {hp} x {wp}", size)
    _arrow(ax, width, x_pad, y_in + height / 2, f"P = {pad}", size)
    return fig


def sliding_window(height: int, width: int, kernel: int, stride: int = 1, pad: int = 0,
                   position: tuple[int, int] = (0, 0)) -> Figure:
    """Draw the padded input with the F x F window of output cell `position` and the H2 x W2 output it fills."""
    height, width, kernel, stride, pad, h2, w2 = _window_sizes(height, width, kernel, stride, pad)
    if not isinstance(position, (tuple, list)) or len(position) != 2:
        raise ValueError(f"position must be a pair (i, j) of output indices, got {position!r}")
    i, j = _int_arg("position[0]", position[0], 0), _int_arg("position[1]", position[1], 0)
    if i >= h2 or j >= w2:
        raise ValueError(f"position {(i, j)} is outside the {h2} x {w2} output")
    hp, wp = height + 2 * pad, width + 2 * pad
    x_out, top = wp + GAP, 1.2
    used_h, used_w = (h2 - 1) * stride + kernel, (w2 - 1) * stride + kernel  # cells some window reaches
    dropped = used_h < hp or used_w < wp
    bottom = 2.4 if dropped else 1.8
    fig, ax, size = _canvas(x_out + w2, top + max(hp, h2) + bottom,
                            f"A {kernel} x {kernel} window, stride {stride}, padding {pad}: "
                            f"{height} x {width} input -> {h2} x {w2} output")
    _padded_grid(ax, 0, top, height, width, pad, size)
    _caption(ax, wp / 2, top, f"input {height} x {width}" + (f", padded {hp} x {wp}" if pad else ""), size)
    for r in range(hp):  # cells no window reaches: the floor in the formula drops them
        for c in range(wp):
            if r >= used_h or c >= used_w:
                ax.add_patch(Rectangle((c, top + r), 1, 1, facecolor="none", edgecolor="0.45", hatch="///",
                                       linewidth=0, gid="unused"))
    colour = COLOURS[0]
    _box(ax, j * stride, top + i * stride, kernel, kernel, colour, "window")
    y_out = top + (hp - h2) / 2  # centre the output against the input
    _output_grid(ax, x_out, y_out, h2, w2, size)
    _caption(ax, x_out + w2 / 2, y_out, f"output {h2} x {w2}", size)
    _box(ax, x_out + j, y_out + i, 1, 1, colour, "output-highlight")
    ax.text(x_out + j + 0.5, y_out + i + 0.5, f"{i},{j}", ha="center", va="center", fontsize=size * 0.8, zorder=4)
    _arrow(ax, wp, x_out, top + hp / 2, "", size)
    y_text = top + max(hp, h2) + 0.35
    ax.text(0, y_text, _size_formula("H", height, kernel, stride, pad, h2) + "\n"
            + _size_formula("W", width, kernel, stride, pad, w2), ha="left", va="top", fontsize=size, linespacing=1.6)
    if dropped:
        ax.text(0, y_text + 1.45, "hatched: cells no window reaches (the last window would not fit)",
                ha="left", va="top", fontsize=size * 0.85, color="0.35")
    return fig


def strides(height: int, width: int, kernel: int, stride: int, pad: int = 0, count: int = 3,
            along: str = "row") -> Figure:
    """Draw the first `count` window positions along the top row (or left column) at stride S, one colour each."""
    height, width, kernel, stride, pad, h2, w2 = _window_sizes(height, width, kernel, stride, pad)
    count = _int_arg("count", count, 1)
    if along not in ("row", "column"):
        raise ValueError(f"along must be 'row' or 'column', not {along!r}")
    n = min(count, w2 if along == "row" else h2)  # never more windows than the output has positions
    hp, wp = height + 2 * pad, width + 2 * pad
    x_out, top = wp + GAP, 1.9  # extra room above for the stride arrows
    fig, ax, size = _canvas(x_out + w2, top + max(hp, h2),
                            f"Stride {stride}: each step moves the {kernel} x {kernel} window {stride} "
                            f"cell{'s' if stride != 1 else ''}, giving a {h2} x {w2} output")
    _padded_grid(ax, 0, top, height, width, pad, size)
    y_out = top + (hp - h2) / 2
    _output_grid(ax, x_out, y_out, h2, w2, size)
    _caption(ax, x_out + w2 / 2, y_out, f"output {h2} x {w2}", size)
    overlap = stride < kernel
    for k in range(n):
        i, j = (0, k) if along == "row" else (k, 0)
        colour = COLOURS[k % len(COLOURS)]
        # overlapping windows: outlines nested by an inset that grows with k, so every edge stays visible;
        # only the first is filled, to show where the sliding starts
        _box(ax, j * stride, top + i * stride, kernel, kernel, colour, "window", fill=not overlap or k == 0,
             inset=0.07 * (k % 4) if overlap else 0.04)
        _box(ax, x_out + j, y_out + i, 1, 1, colour, "output-highlight")
    for k in range(n - 1):  # one arrow per step, S cells long, above (or left of) the grid
        if along == "row":
            y = top - 0.35
            ax.add_patch(FancyArrowPatch((k * stride, y), ((k + 1) * stride, y), arrowstyle="-|>",
                                         mutation_scale=12, color=COLOURS[(k + 1) % len(COLOURS)], linewidth=1.5))
            ax.text((k + 0.5) * stride, y - 0.12, f"S={stride}", ha="center", va="bottom", fontsize=size * 0.8)
        else:
            x = -0.1
            ax.add_patch(FancyArrowPatch((x, top + k * stride), (x, top + (k + 1) * stride), arrowstyle="-|>",
                                         mutation_scale=12, color=COLOURS[(k + 1) % len(COLOURS)], linewidth=1.5))
            ax.text(x - 0.1, top + (k + 0.5) * stride, f"S={stride}", ha="right", va="center", fontsize=size * 0.8)
    lift = 0.55 if along == "row" and n > 1 else 0.0  # above the stride arrows
    _caption(ax, wp / 2, top - lift, f"input {height} x {width}" + (f", padded {hp} x {wp}" if pad else ""), size)
    _arrow(ax, wp, x_out, top + hp / 2, "", size)
    return fig


def _feature_map_2d(feature_map: Any) -> np.ndarray:
    """Return a single 2-D map from (H, W), (H, W, 1) or (1, H, W, 1) input, as floats."""
    a = _to_numpy(feature_map)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"feature_map must be one map, (H, W), (H, W, 1) or (1, H, W, 1), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"feature_map must hold real numbers, got dtype {a.dtype}")
    a = a.astype(float)
    if not np.all(np.isfinite(a)):
        raise ValueError("feature_map holds NaN or infinite values")
    return a


def pooling(feature_map: Any, size: int = 2, stride: int = 2, mode: str = "max") -> Figure:
    """Draw a feature map with its pooling windows coloured and the pooled output, numbers in every cell."""
    fm = _feature_map_2d(feature_map)
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg' (as in pool_forward), not {mode!r}")
    height, width = fm.shape
    height, width, size, stride, _, h2, w2 = _window_sizes(height, width, size, stride, 0)
    windows = np.stack([[fm[i * stride:i * stride + size, j * stride:j * stride + size] for j in range(w2)]
                        for i in range(h2)])  # (H2, W2, size, size), the same windows as pool_forward's
    out = windows.max(axis=(2, 3)) if mode == "max" else windows.mean(axis=(2, 3))
    x_out, top = width + GAP, 1.2
    fig, ax, font = _canvas(x_out + w2, top + max(height, h2),
                            f"{size} x {size} {'max' if mode == 'max' else 'average'} pooling, stride {stride}: "
                            f"{height} x {width} -> {h2} x {w2}", cell_inches=0.5)
    longest = max(len(_fmt(v)) for v in (*fm.ravel(), *out.ravel()))
    font = min(font, font * 4.0 / longest)  # long numbers such as -0.54 get a smaller font to stay inside a cell
    for r in range(height):
        for c in range(width):
            _cell(ax, c, top + r, "white", "input-cell", _fmt(fm[r, c]), font, text_gid="input-value",
                  backdrop=stride < size)
    _caption(ax, width / 2, top, f"feature map {height} x {width}", font)
    y_out = top + (height - h2) / 2
    _caption(ax, x_out + w2 / 2, y_out, f"{mode} pooled {h2} x {w2}", font)
    overlap = stride < size
    for i in range(h2):
        for j in range(w2):
            k = i * w2 + j
            colour = COLOURS[k % len(COLOURS)]
            # overlapping windows: outlines only, nested by a small inset, so one window does not hide another
            _box(ax, j * stride, top + i * stride, size, size, colour, "window", fill=not overlap,
                 inset=0.05 + 0.07 * (k % 3) if overlap else 0.04)
            _box(ax, x_out + j, y_out + i, 1, 1, colour, "output-highlight")
            ax.text(x_out + j + 0.5, y_out + i + 0.5, _fmt(out[i, j]), ha="center", va="center", fontsize=font,
                    fontweight="bold", zorder=4, gid="output-value")
            if mode == "max":  # mark the first maximum in row-major order, where pool_backward sends the gradient
                a, c = divmod(int(np.argmax(windows[i, j])), size)
                ax.add_patch(Rectangle((j * stride + c + 0.12, top + i * stride + a + 0.12), 0.76, 0.76,
                                       facecolor="none", edgecolor=colour, linewidth=2.0, linestyle="--",
                                       gid="max-marker", zorder=4))
    _arrow(ax, width, x_out, top + height / 2, mode, font)
    return fig


def im2col(height: int, width: int, channels: int = 1, kernel: int = 2, stride: int = 1,
           highlight: int | None = None) -> Figure:
    """Draw an (already padded) input holding 0, 1, 2, ... and its im2col matrix, one coloured row per window."""
    channels = _int_arg("channels", channels, 1)
    height, width, kernel, stride, _, h2, w2 = _window_sizes(height, width, kernel, stride, 0)
    rows, cols = h2 * w2, kernel * kernel * channels
    if highlight is None:  # overlapping windows: more than three nested outlines become a tangle
        highlight = rows if stride >= kernel else 3
    highlight = min(_int_arg("highlight", highlight, 0), rows)
    for name, n in (("rows", rows), ("columns", cols)):
        if n > MAX_MATRIX:
            raise ValueError(f"the im2col matrix would have {n} {name}, too many to draw readably: "
                             f"use at most {MAX_MATRIX}")
    # the input x = arange(H*W*C).reshape(H, W, C): its cell numbers are positions in NHWC memory order
    x = np.arange(height * width * channels).reshape(height, width, channels)
    matrix = np.stack([x[i * stride:i * stride + kernel, j * stride:j * stride + kernel, :].ravel()
                       for i in range(h2) for j in range(w2)])  # rows (i, j); columns (a, c, d), like Lab 2's
    block_w = channels * width + (channels - 1) * 1.0  # channel grids side by side, one cell apart
    x_mat, top = block_w + GAP + 1.0, 2.2  # room for the row labels and the rotated column headers
    fig, ax, font = _canvas(x_mat + cols, top + max(height, rows),
                            f"im2col: {rows} window{'s' if rows != 1 else ''} of {kernel} x {kernel} x {channels} "
                            f"(stride {stride}) become the {rows} rows of a {rows} x {cols} matrix")
    y_in = top + max(0.0, (rows - height) / 2)
    for d in range(channels):
        x0 = d * (width + 1)
        for r in range(height):
            for c in range(width):
                _cell(ax, x0 + c, y_in + r, "white", "input-cell", str(x[r, c, d]), font, text_gid="input-value",
                      backdrop=stride < kernel)
        _caption(ax, x0 + width / 2, y_in, f"channel {d}" if channels > 1 else f"input {height} x {width}", font)
    y_mat = top + max(0.0, (height - rows) / 2)
    overlap = stride < kernel
    for k in range(rows):
        i, j = divmod(k, w2)
        for c in range(cols):
            _cell(ax, x_mat + c, y_mat + k, "white", "matrix-cell", str(matrix[k, c]), font * 0.9,
                  text_gid="matrix-value")
        colour = COLOURS[k % len(COLOURS)] if k < highlight else "0.45"
        if k < highlight:
            for d in range(channels):  # overlapping windows: nested outlines, each inset a little more
                _box(ax, d * (width + 1) + j * stride, y_in + i * stride, kernel, kernel, colour, "window",
                     fill=not overlap, inset=0.07 * (k % 4) if overlap else 0.04, lw=2.2)
            _box(ax, x_mat, y_mat + k, cols, 1, colour, "row-highlight", lw=1.8)
        ax.text(x_mat - 0.15, y_mat + k + 0.5, f"{i},{j}", ha="right", va="center", fontsize=font * 0.75,
                color=colour)
    for c in range(cols):  # column headers: which offset (a, c) and channel d the column holds
        a, rest = divmod(c, kernel * channels)
        b, d = divmod(rest, channels)
        header = f"{a},{b}" + (f",{d}" if channels > 1 else "")
        ax.text(x_mat + c + 0.5, y_mat - 0.1, header, ha="center", va="bottom", rotation=90,
                fontsize=font * 0.7, color="0.35")
    ax.text(x_mat - 0.15, y_mat - 0.1, "i,j", ha="right", va="bottom", fontsize=font * 0.75, color="0.35")
    columns = "(a, c, d)" if channels > 1 else "(a, c)"
    ax.text(x_mat + cols / 2, y_mat - 1.35, f"cols {rows} x {cols}: row (i, j), column {columns}",
            ha="center", va="bottom", fontsize=font)
    _arrow(ax, block_w, x_mat - 1.0, y_in + height / 2, "", font)
    return fig
