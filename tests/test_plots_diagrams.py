"""Tests for the Lab 1 and Lab 2 diagrams in utils.plots.graphs and utils.plots.windows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from utils import plots  # noqa: E402
from utils.plots import graphs, windows  # noqa: E402

# Lab 1's worked example: parameters, forward values and the ten gradients it checks against
PARAMS = dict(w1=0.15, w2=0.20, w3=0.25, w4=0.30, w5=0.40, w6=0.45, w7=0.50, w8=0.55, b1=0.35, b2=0.60)
FORWARD = dict(net_h1=0.3775, h1=0.5932699921, net_h2=0.3925, h2=0.5968843783,
               net_o1=1.105905967, o1=0.7513650696, net_o2=1.224921404, o2=0.7729284653)
GRADS = dict(w1=0.0004385677345, w2=0.0008771354689, w3=0.0004977127353, w4=0.0009954254705,
             w5=0.08216704056, w6=0.08266762785, w7=-0.02260254048, w8=-0.02274024222,
             b1=0.01872560939, b2=0.1004003251)
LECTURE_MAP = np.array([[12.0, 20, 30, 0], [20, 12, 2, 0], [0, 70, 5, 2], [8, 2, 90, 3]])


pytestmark = pytest.mark.usefixtures("no_open_figures")  # from conftest


def only_axes(fig: Figure) -> Axes:
    """Check the figure is a diagram on exactly one axes and return that axes."""
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 1
    return fig.axes[0]


def patches(ax: Axes, gid: str) -> list[Patch]:
    """The patches of an axes tagged with gid."""
    return [p for p in ax.patches if p.get_gid() == gid]


def texts(ax: Axes, gid: str) -> list[str]:
    """The strings of an axes' texts tagged with gid, in drawing order."""
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def render(fig: Figure, tmp_path: Path, name: str) -> None:
    """Draw the figure to PNG: layout and mathtext errors only show up when drawing."""
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=50)
    assert path.stat().st_size > 1000


def reference_im2col(x_pad: np.ndarray, F: int, stride: int) -> np.ndarray:
    """Lab 2's im2col: rows in (n, i, j) order, columns in (height offset, width offset, channel) order."""
    N, Hp, Wp, C = x_pad.shape
    H2, W2 = (Hp - F) // stride + 1, (Wp - F) // stride + 1
    cols = np.empty((N, H2, W2, F, F, C), dtype=x_pad.dtype)
    for a in range(F):
        for c in range(F):
            cols[:, :, :, a, c, :] = x_pad[:, a:a + stride * H2:stride, c:c + stride * W2:stride, :]
    return cols.reshape(N * H2 * W2, F * F * C)


def one_sentence(message: str) -> bool:
    """A single sentence: one line, no sentence break inside."""
    return "\n" not in message and ". " not in message.rstrip(".")


# ---------------------------------------------------------------------------
# Lab 2: windows
# ---------------------------------------------------------------------------


def test_modules_are_reachable_from_plots() -> None:
    """`from utils import plots` is enough to reach plots.windows and plots.graphs."""
    assert plots.windows is windows and plots.graphs is graphs


def test_padding_draws_input_and_zero_border(tmp_path: Path) -> None:
    """The input appears twice, the second time inside (H+2P)(W+2P) - HW grey zero cells."""
    ax = only_axes(fig := windows.padding(3, 5, 1))
    assert len(patches(ax, "input-cell")) == 2 * 3 * 5  # the input, then again inside the padded grid
    assert len(patches(ax, "pad-cell")) == 5 * 7 - 3 * 5
    assert texts(ax, "pad-zero") == ["0"] * (5 * 7 - 3 * 5)
    render(fig, tmp_path, "padding")
    ax = only_axes(windows.padding(2, 4, 0))
    assert patches(ax, "pad-cell") == []


@pytest.mark.parametrize("height, width, kernel, stride, pad, position, out_shape, unused", [
    (5, 7, 3, 2, 1, (1, 2), (3, 4), 0),  # the stride fits exactly: every cell is reached
    (6, 5, 3, 2, 0, (1, 0), (2, 2), 5),  # floor drops the last row: 5 hatched cells
    (4, 9, 2, 1, 0, (2, 7), (3, 8), 0),  # wide input, last output cell
])
def test_sliding_window_sizes_and_highlights(tmp_path: Path, height: int, width: int, kernel: int, stride: int,
                                             pad: int, position: tuple[int, int], out_shape: tuple[int, int],
                                             unused: int) -> None:
    """The output grid has H2 x W2 cells; the window and its output cell sit where stride and position say."""
    fig = windows.sliding_window(height, width, kernel, stride, pad, position=position)
    ax = only_axes(fig)
    h2, w2 = out_shape
    assert len(patches(ax, "output-cell")) == h2 * w2
    assert len(patches(ax, "input-cell")) == height * width
    assert len(patches(ax, "pad-cell")) == (height + 2 * pad) * (width + 2 * pad) - height * width
    assert len(patches(ax, "unused")) == unused
    (window,) = patches(ax, "window")
    (cell,) = patches(ax, "output-highlight")
    assert (window.get_width(), window.get_height()) == (kernel, kernel)
    i, j = position
    x0, y0 = patches(ax, "pad-cell" if pad else "input-cell")[0].get_xy()  # the grid's top-left cell
    assert window.get_xy() == pytest.approx((x0 + j * stride, y0 + i * stride))
    ox, oy = patches(ax, "output-cell")[0].get_xy()
    assert cell.get_xy() == pytest.approx((ox + j, oy + i))
    if position == (1, 2):
        render(fig, tmp_path, "sliding_window")


def test_strides_colours_the_first_positions_along_a_row_or_column(tmp_path: Path) -> None:
    """The first `count` windows, S apart, each in its own colour, capped by the output's size."""
    ax = only_axes(fig := windows.strides(5, 9, 3, 2))
    assert len(patches(ax, "output-cell")) == 2 * 4
    boxes = patches(ax, "window")
    assert len(boxes) == 3 and len(patches(ax, "output-highlight")) == 3
    assert len({tuple(b.get_edgecolor()) for b in boxes}) == 3  # one colour per position
    xs = [b.get_x() for b in boxes]
    assert np.diff(xs) == pytest.approx([2.07, 2.07])  # S = 2 apart, plus the 0.07 inset that nests overlaps
    render(fig, tmp_path, "strides")
    ax = only_axes(windows.strides(8, 4, 2, 3, count=5, along="column"))  # only 3 positions exist
    assert len(patches(ax, "window")) == 3
    assert len(patches(ax, "output-cell")) == 3 * 1


def test_pooling_writes_the_lecture_answers(tmp_path: Path) -> None:
    """Lab 2's quiz map: max gives 20, 30, 70, 90 (first maximum marked), average 16, 8, 20, 25."""
    ax = only_axes(fig := windows.pooling(LECTURE_MAP.reshape(1, 4, 4, 1), 2, 2, "max"))
    assert texts(ax, "output-value") == ["20", "30", "70", "90"]
    assert len(texts(ax, "input-value")) == 16
    assert len(patches(ax, "window")) == 4
    markers = patches(ax, "max-marker")
    assert len(markers) == 4
    x0, y0 = patches(ax, "input-cell")[0].get_xy()
    assert markers[0].get_xy() == pytest.approx((x0 + 1.12, y0 + 0.12))  # the first of the two 20s
    render(fig, tmp_path, "pooling")
    ax = only_axes(windows.pooling(LECTURE_MAP, 2, 2, "avg"))
    assert texts(ax, "output-value") == ["16", "8", "20", "25"]
    assert patches(ax, "max-marker") == []


def test_pooling_non_square_and_overlapping() -> None:
    """Overlapping 3x3 windows at stride 2 on a 5x6 map write the right averages."""
    fm = np.arange(30.0).reshape(5, 6) / 4
    ax = only_axes(windows.pooling(fm, 3, 2, "avg"))
    expected = [fm[i * 2:i * 2 + 3, j * 2:j * 2 + 3].mean() for i in range(2) for j in range(2)]
    assert [float(v) for v in texts(ax, "output-value")] == pytest.approx(expected, abs=0.006)
    assert len(patches(ax, "window")) == 4 and len(patches(ax, "output-highlight")) == 4


@pytest.mark.parametrize("height, width, channels, kernel, stride", [(4, 4, 1, 2, 1), (4, 6, 1, 2, 2), (3, 4, 2, 2, 1)])
def test_im2col_matrix_matches_lab_order(tmp_path: Path, height: int, width: int, channels: int, kernel: int,
                                         stride: int) -> None:
    """The matrix shown is Lab 2's im2col of arange(H*W*C), row and column order included."""
    fig = windows.im2col(height, width, channels, kernel, stride)
    ax = only_axes(fig)
    x = np.arange(height * width * channels).reshape(1, height, width, channels)
    expected = reference_im2col(x, kernel, stride)
    shown = np.array([int(t) for t in texts(ax, "matrix-value")]).reshape(expected.shape)
    np.testing.assert_array_equal(shown, expected)
    assert len(texts(ax, "input-value")) == height * width * channels
    rows = expected.shape[0]
    coloured = rows if stride >= kernel else 3  # overlapping windows: only the first three by default
    assert len(patches(ax, "row-highlight")) == coloured
    assert len(patches(ax, "window")) == coloured * channels  # one outline per channel grid
    if channels == 2:
        render(fig, tmp_path, "im2col")


def test_im2col_highlight_argument() -> None:
    """highlight sets how many windows and rows are coloured."""
    ax = only_axes(windows.im2col(4, 4, 1, 2, 1, highlight=9))
    assert len(patches(ax, "row-highlight")) == 9
    ax = only_axes(windows.im2col(4, 4, 1, 2, 1, highlight=0))
    assert patches(ax, "row-highlight") == []


@pytest.mark.parametrize("call, message", [
    (lambda: windows.padding(-1, 4, 1), "height must be at least 1, got -1"),
    (lambda: windows.padding(3, 4, -2), "pad must be at least 0, got -2"),
    (lambda: windows.padding(3, 2.5, 1), "width must be an integer, got 2.5"),
    (lambda: windows.sliding_window(5, 5, 3, 0), "stride must be at least 1, got 0"),
    (lambda: windows.sliding_window(3, 6, 4, 1, 0), "a 4 x 4 window does not fit in the 3 x 6 padded input"),
    (lambda: windows.sliding_window(5, 5, 3, 2, 0, position=(2, 0)), "position (2, 0) is outside the 2 x 2 output"),
    (lambda: windows.sliding_window(5, 5, 3, 2, 0, position=1), "position must be a pair (i, j)"),
    (lambda: windows.sliding_window(20, 5, 3), "the padded height is 20 cells, too many to draw readably"),
    (lambda: windows.strides(5, 5, 3, 1, along="diagonal"), "along must be 'row' or 'column'"),
    (lambda: windows.strides(5, 5, 3, 1, count=0), "count must be at least 1, got 0"),
    (lambda: windows.pooling(LECTURE_MAP, 2, 2, "mean"), "mode must be 'max' or 'avg'"),
    (lambda: windows.pooling(LECTURE_MAP, 5, 1), "a 5 x 5 window does not fit in the 4 x 4 padded input"),
    (lambda: windows.pooling(np.zeros((4, 4, 3)), 2, 2), "feature_map must be one map"),
    (lambda: windows.pooling(np.array([[1.0, np.nan], [0, 1]]), 2), "feature_map holds NaN or infinite values"),
    (lambda: windows.im2col(4, 4, 0, 2, 1), "channels must be at least 1, got 0"),
    (lambda: windows.im2col(8, 8, 1, 2, 1), "the im2col matrix would have 49 rows, too many to draw readably"),
    (lambda: windows.im2col(4, 4, True, 2, 1), "channels must be an integer, got True"),
])
def test_windows_reject_bad_arguments_in_one_sentence(call: Callable[[], object], message: str) -> None:
    """Bad sizes raise ValueError with one sentence, before matplotlib is reached."""
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)
    assert one_sentence(str(error.value))


# ---------------------------------------------------------------------------
# Lab 1: graphs
# ---------------------------------------------------------------------------


def test_wiring_matches_lab_1() -> None:
    """Each weight joins the units that Lab 1's forward() joins."""
    # net_h1 = w1 x1 + w2 x2 + b1, net_h2 = w3 x1 + w4 x2 + b1, net_o1 = w5 h1 + w6 h2 + b2, net_o2 = w7 h1 + w8 h2 + b2
    assert graphs.NETWORK_WEIGHTS == {
        "w1": ("x1", "h1"), "w2": ("x2", "h1"), "w3": ("x1", "h2"), "w4": ("x2", "h2"),
        "w5": ("h1", "o1"), "w6": ("h2", "o1"), "w7": ("h1", "o2"), "w8": ("h2", "o2"),
    }


def test_computational_graph_plain(tmp_path: Path) -> None:
    """Nine nodes, fourteen edges and eight weight labels, no numbers."""
    ax = only_axes(fig := graphs.computational_graph())
    assert len(patches(ax, "node")) == 9  # x1 x2 h1 h2 o1 o2 E, and the biases b1 b2
    assert len(patches(ax, "edge")) == 8 + 4 + 2  # weights, bias links, outputs into E
    assert texts(ax, "edge-label") == [f"$w_{{{k}}}$" for k in range(1, 9)]
    assert texts(ax, "value") == [] and texts(ax, "grad") == []
    render(fig, tmp_path, "graph")


def test_computational_graph_with_the_labs_numbers(tmp_path: Path) -> None:
    """Lab 1's worked example shows its parameters, forward values and ten gradients."""
    values = {**PARAMS, "x1": 0.05, "x2": 0.10, **FORWARD, "E": 0.2983711088, "T1": 0.01, "T2": 0.99}
    ax = only_axes(fig := graphs.computational_graph(values=values, grads=GRADS))
    labels = texts(ax, "edge-label")
    assert labels[0] == "$w_{1}$ = 0.15" and labels[4] == "$w_{5}$ = 0.4"
    grads = texts(ax, "grad")
    assert len(grads) == 10  # eight weights and two biases
    assert any(g.endswith("= 0.08217") and "w_{5}" in g for g in grads)
    shown = texts(ax, "value")
    assert len(shown) == 2 + 8 + 2 + 2  # inputs, net/out of four units, biases, targets line and E
    assert "net = 0.3775" in shown and "out = 0.7514" in shown and "$E$ = 0.2984" in shown
    render(fig, tmp_path, "graph_values")


def test_computational_graph_unit_gradients() -> None:
    """Gradients of unit outputs and net inputs are shown too."""
    ax = only_axes(graphs.computational_graph(grads={"net_o1": 0.1385, "o1": 0.7414}))
    assert len(texts(ax, "grad")) == 2


@pytest.mark.parametrize("call, message", [
    (lambda: graphs.computational_graph(values={"w9": 1.0}), "values has unknown names ['w9']"),
    (lambda: graphs.computational_graph(grads={"E": 1.0}), "grads has unknown names ['E']"),
    (lambda: graphs.computational_graph(values={"w1": "big"}), "values['w1'] must be a real number"),
    (lambda: graphs.computational_graph(grads={"w1": np.ones(2)}), "grads['w1'] must be a real number"),
    (lambda: graphs.computational_graph(values=[0.1, 0.2]), "values must be a mapping"),
    (lambda: graphs.chain_rule(values={"o1": 0.75}), "values needs h1, o1 and T1"),
])
def test_graphs_reject_bad_arguments_in_one_sentence(call: Callable[[], object], message: str) -> None:
    """Unknown names and non-numbers raise ValueError with one sentence."""
    with pytest.raises(ValueError) as error:
        call()
    assert str(error.value).startswith(message)
    assert one_sentence(str(error.value))


def test_chain_rule(tmp_path: Path) -> None:
    """Three local derivatives whose product is Lab 1's dE/dw5."""
    ax = only_axes(fig := graphs.chain_rule())
    assert len(patches(ax, "node")) == 4
    assert len(patches(ax, "backward")) == 3 and len(patches(ax, "forward")) == 3
    assert len(texts(ax, "factor")) == 3
    render(fig, tmp_path, "chain_plain")
    ax = only_axes(fig := graphs.chain_rule(values={**FORWARD, "T1": 0.01, "w5": 0.4}))
    (product,) = texts(ax, "product")
    assert product.endswith("= 0.7414 × 0.1868 × 0.5933 = 0.08217")  # the lab's dE/dw5 = 0.08216704056
    assert [f.splitlines()[-1] for f in texts(ax, "factor")] == ["= 0.7414", "= 0.1868", "= 0.5933"]
    render(fig, tmp_path, "chain_values")
