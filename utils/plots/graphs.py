"""Diagrams for Lab 1: computational graphs and the chain rule, drawn with matplotlib (generated, not pasted).

The network is Lab 1's 2-2-2 example: inputs x1, x2; hidden sigmoid units h1, h2 sharing the bias b1; output
sigmoid units o1, o2 sharing b2; the squared error E = 1/2 (T1 - o1)^2 + 1/2 (T2 - o2)^2. Names follow the lab's
`params` (w1..w8, b1, b2) and `forward` dict (net_h1, h1, ..., o2), so its own numbers can be passed in unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from utils.plots import new_figure

__all__ = ["NETWORK_WEIGHTS", "chain_rule", "computational_graph"]

# Lab 1's wiring: weight -> (from node, to node), exactly as in its forward(): net_h1 = w1 x1 + w2 x2 + b1, ...
NETWORK_WEIGHTS: dict[str, tuple[str, str]] = {
    "w1": ("x1", "h1"), "w2": ("x2", "h1"), "w3": ("x1", "h2"), "w4": ("x2", "h2"),
    "w5": ("h1", "o1"), "w6": ("h2", "o1"), "w7": ("h1", "o2"), "w8": ("h2", "o2"),
}
BIASES = {"b1": ("h1", "h2"), "b2": ("o1", "o2")}  # a shared bias feeds both units of its layer
UNITS = ("h1", "h2", "o1", "o2")
VALUE_KEYS = ("x1", "x2", *(k for u in UNITS for k in (f"net_{u}", u)), "E", "T1", "T2", *NETWORK_WEIGHTS, *BIASES)
GRAD_KEYS = ("x1", "x2", *(k for u in UNITS for k in (f"net_{u}", u)), *NETWORK_WEIGHTS, *BIASES)

# node positions in data units: layers 4 apart, the first unit of each layer on top
POSITIONS = {"x1": (0.0, 2.4), "x2": (0.0, 0.0), "h1": (4.0, 2.4), "h2": (4.0, 0.0),
             "o1": (8.0, 2.4), "o2": (8.0, 0.0), "E": (11.2, 1.2), "b1": (2.0, -2.5), "b2": (6.0, -2.5)}
FILLS = {"x": "#dbe9f6", "h": "#d9f0d3", "o": "#fde0c5", "E": "#f6d5d5", "b": "#eeeeee"}
RADIUS = 0.5
FORWARD, BACKWARD = "black", "#c0392b"  # forward values black; gradients red, like the lab's error messages
FONT = 9.5


def _tex(name: str) -> str:
    """Mathtext for a node or parameter name: 'w5' -> '$w_{5}$', 'net_o1' -> '$net_{o1}$'."""
    if name.startswith("net_"):
        return rf"$net_{{{name[4:]}}}$"
    if name == "E":
        return "$E$"
    return rf"${name[0]}_{{{name[1:]}}}$"


def _numbers(given: Mapping[str, Any] | None, allowed: tuple[str, ...], what: str) -> dict[str, float]:
    """Check a values or grads mapping: known names only, real numbers only; return it as floats."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ValueError(f"{what} must be a mapping such as {{'w5': 0.4}}, got {type(given).__name__}")
    unknown = [str(k) for k in given if k not in allowed]
    if unknown:
        raise ValueError(f"{what} has unknown names {unknown}: use {', '.join(allowed)}")
    out: dict[str, float] = {}
    for key, value in given.items():
        if hasattr(value, "numpy"):  # a TensorFlow scalar, as tape.gradient returns
            value = value.numpy()
        if isinstance(value, (bool, str)) or np.ndim(value) != 0:
            raise ValueError(f"{what}[{key!r}] must be a real number, got {value!r}")
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{what}[{key!r}] must be a real number, got {value!r}") from None
    return out


def _fmt(value: float) -> str:
    """Four significant digits, enough to compare with the lab's printed values."""
    return f"{value:.4g}"


def _edge(ax: Axes, start: tuple[float, float], end: tuple[float, float], r_start: float, r_end: float,
          colour: str = "0.3", style: str = "-", gid: str = "edge") -> None:
    """Draw an arrow between the rims of two nodes."""
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    ax.add_patch(FancyArrowPatch((x0 + ux * r_start, y0 + uy * r_start), (x1 - ux * r_end, y1 - uy * r_end),
                                 arrowstyle="-|>", mutation_scale=13, color=colour, linewidth=1.3,
                                 linestyle=style, gid=gid, zorder=1))


def _label(ax: Axes, x: float, y: float, lines: list[tuple[str, str, str]], ha: str = "center",
           va: str = "center") -> None:
    """Stack (text, colour, gid) lines at (x, y) on a white box, one Text per line so each keeps its colour."""
    step = 0.36  # line height in data units at FONT points
    n = len(lines)
    first = {"bottom": y + (n - 1) * step, "top": y, "center": y + (n - 1) * step / 2}[va]
    for k, (text, colour, gid) in enumerate(lines):
        ax.text(x, first - k * step, text, ha=ha, va="center", fontsize=FONT, color=colour, gid=gid, zorder=4,
                bbox=dict(facecolor="white", edgecolor="none", pad=0.8, alpha=0.9))


def computational_graph(values: Mapping[str, float] | None = None, grads: Mapping[str, float] | None = None,
                        title: str = "Lab 1's 2-2-2 network as a computational graph") -> Figure:
    """Draw Lab 1's 2-2-2 sigmoid network with labelled edges, optionally with forward values and gradients."""
    vals, grd = _numbers(values, VALUE_KEYS, "values"), _numbers(grads, GRAD_KEYS, "grads")
    fig = new_figure((11.5, 6.7), title)
    ax = fig.add_subplot()
    ax.set_xlim(-1.4, 13.4)
    ax.set_ylim(-3.7, 4.4)
    ax.set_aspect("equal")
    ax.axis("off")

    # edges first, so the nodes cover their ends
    for name, (src, dst) in NETWORK_WEIGHTS.items():
        _edge(ax, POSITIONS[src], POSITIONS[dst], RADIUS, RADIUS)
    for bias, targets in BIASES.items():
        for dst in targets:
            _edge(ax, POSITIONS[bias], POSITIONS[dst], 0.3, RADIUS, colour="0.55", style="--")
    for out in ("o1", "o2"):
        _edge(ax, POSITIONS[out], POSITIONS["E"], RADIUS, RADIUS)

    for name, (x, y) in POSITIONS.items():
        if name.startswith("b"):  # a bias is a parameter, drawn as a small square rather than a unit
            ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.3), 0.6, 0.6, boxstyle="round,pad=0.02",
                                        facecolor=FILLS["b"], edgecolor="0.3", gid="node", zorder=2))
        else:
            ax.add_patch(Circle((x, y), RADIUS, facecolor=FILLS[name[0]], edgecolor="0.2", linewidth=1.2,
                                gid="node", zorder=2))
        ax.text(x, y, _tex(name), ha="center", va="center", fontsize=FONT + 4, zorder=3, gid="node-label")
        if name in UNITS:  # the unit's non-linearity, small, under its name
            ax.text(x, y - 0.32, r"$\sigma$", ha="center", va="center", fontsize=FONT - 1, color="0.35", zorder=3)

    # weight labels: on straight edges at the middle; on crossing edges near their source, where they are apart
    for name, (src, dst) in NETWORK_WEIGHTS.items():
        (x0, y0), (x1, y1) = POSITIONS[src], POSITIONS[dst]
        t = 0.5 if y0 == y1 else 0.3
        lines = [(_tex(name) + (f" = {_fmt(vals[name])}" if name in vals else ""), FORWARD, "edge-label")]
        if name in grd:
            lines.append((rf"$\partial E/\partial w_{{{name[1:]}}}$ = {_fmt(grd[name])}", BACKWARD, "grad"))
        _label(ax, x0 + t * (x1 - x0), y0 + t * (y1 - y0), lines)

    # node annotations: top-row units above the node, bottom-row units below it, biases to their left
    for name, (x, y) in POSITIONS.items():
        lines: list[tuple[str, str, str]] = []
        if name in UNITS:
            if f"net_{name}" in vals:
                lines.append((f"net = {_fmt(vals[f'net_{name}'])}", FORWARD, "value"))
            if name in vals:
                lines.append((f"out = {_fmt(vals[name])}", FORWARD, "value"))
            if f"net_{name}" in grd:
                lines.append((rf"$\partial E/\partial net_{{{name}}}$ = {_fmt(grd[f'net_{name}'])}", BACKWARD, "grad"))
            if name in grd:
                lines.append((rf"$\partial E/\partial {name[0]}_{{{name[1]}}}$ = {_fmt(grd[name])}", BACKWARD, "grad"))
        elif name != "E":
            if name in vals:
                lines.append((f"{_tex(name)} = {_fmt(vals[name])}", FORWARD, "value"))
            if name in grd:
                lines.append((rf"$\partial E/\partial {name[0]}_{{{name[1]}}}$ = {_fmt(grd[name])}", BACKWARD, "grad"))
        if not lines:
            continue
        if name.startswith("b"):
            _label(ax, x - 0.45, y, lines, ha="right")
        elif y > 1.0:
            _label(ax, x, y + RADIUS + 0.2, lines, va="bottom")
        else:
            _label(ax, x, y - RADIUS - 0.2, lines, va="top")

    # the error node: its formula, the targets and its value to the right
    ex, ey = POSITIONS["E"]
    lines = [(r"$E = \frac{1}{2}(T_1 - o_1)^2 + \frac{1}{2}(T_2 - o_2)^2$", FORWARD, "formula")]
    targets = [f"$T_{k}$ = {_fmt(vals[f'T{k}'])}" for k in (1, 2) if f"T{k}" in vals]
    if targets:
        lines.append((", ".join(targets), FORWARD, "value"))
    if "E" in vals:
        lines.append((f"$E$ = {_fmt(vals['E'])}", FORWARD, "value"))
    _label(ax, ex, ey - RADIUS - 0.25, lines, va="top")

    legend = "circles: units (sigmoid " + r"$\sigma$" + "), squares: shared biases, arrows: forward direction"
    if vals or grd:
        legend += ";  black: forward values,  red: gradients of E (backward pass)"
    ax.text(6.0, -3.45, legend, ha="center", va="center", fontsize=FONT - 0.5, color="0.3")
    return fig


def chain_rule(values: Mapping[str, float] | None = None,
               title: str = r"The chain rule along one path: $\partial E/\partial w_5$") -> Figure:
    """Draw the path E <- o1 <- net_o1 <- w5 with its three local derivatives and their product."""
    vals = _numbers(values, VALUE_KEYS, "values")
    missing = [k for k in ("h1", "o1", "T1") if k not in vals]
    if vals and missing:
        raise ValueError(f"values needs h1, o1 and T1 to evaluate the local derivatives; missing {missing}")
    fig = new_figure((10.5, 4.2), title)
    ax = fig.add_subplot()
    ax.set_xlim(-0.9, 10.9)
    ax.set_ylim(-2.5, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")

    # read left to right, the path lists the factors in the order the product writes them
    nodes = [("E", "E"), ("o1", "o1"), ("net_o1", "net_o1"), ("w5", "w5")]
    xs = [0.0, 3.3, 6.6, 9.9]
    for (key, name), x in zip(nodes, xs):
        fill = {"E": FILLS["E"], "o1": FILLS["o"], "net_o1": FILLS["o"], "w5": FILLS["b"]}[key]
        ax.add_patch(FancyBboxPatch((x - 0.7, -0.4), 1.4, 0.8, boxstyle="round,pad=0.05", facecolor=fill,
                                    edgecolor="0.3", gid="node", zorder=2))
        ax.text(x, 0.0, _tex(name), ha="center", va="center", fontsize=FONT + 4, gid="node-label", zorder=3)
        if key in vals:
            ax.text(x, 0.62, f"= {_fmt(vals[key])}", ha="center", va="center", fontsize=FONT, gid="value")

    factors = [  # (derivative, its formula, its value from the lab's forward pass)
        (r"$\partial E/\partial o_1$", r"$o_1 - T_1$", vals["o1"] - vals["T1"] if vals else None),
        (r"$\partial o_1/\partial net_{o1}$", r"$o_1(1 - o_1)$", vals["o1"] * (1 - vals["o1"]) if vals else None),
        (r"$\partial net_{o1}/\partial w_5$", r"$h_1$", vals["h1"] if vals else None),
    ]
    for k, (derivative, formula, value) in enumerate(factors):
        left, right = xs[k] + 0.75, xs[k + 1] - 0.75
        # grey forward arrow on top (w5 -> net_o1 -> o1 -> E), red backward arrow below (E -> ... -> w5)
        ax.add_patch(FancyArrowPatch((right, 0.15), (left, 0.15), arrowstyle="-|>", mutation_scale=13,
                                     color="0.55", linewidth=1.2, gid="forward"))
        ax.add_patch(FancyArrowPatch((left, -0.15), (right, -0.15), arrowstyle="-|>", mutation_scale=13,
                                     color=BACKWARD, linewidth=1.8, gid="backward"))
        text = f"{derivative}\n= {formula}" + (f"\n= {_fmt(value)}" if value is not None else "")
        ax.text((left + right) / 2, -0.5, text, ha="center", va="top", fontsize=FONT + 0.5, color=BACKWARD,
                gid="factor", linespacing=1.5)

    product = (r"$\frac{\partial E}{\partial w_5} = \frac{\partial E}{\partial o_1}\cdot"
               r"\frac{\partial o_1}{\partial net_{o1}}\cdot\frac{\partial net_{o1}}{\partial w_5}"
               r" = (o_1 - T_1)\; o_1 (1 - o_1)\; h_1$")
    if vals:
        values_ = [f[2] for f in factors]
        product += (f" = {_fmt(values_[0])} × {_fmt(values_[1])} × {_fmt(values_[2])}"
                    f" = {_fmt(values_[0] * values_[1] * values_[2])}")
    ax.text(5.0, -2.1, product, ha="center", va="center", fontsize=FONT + 4, gid="product")
    ax.text(5.0, 1.2, "grey arrows: the forward pass;  red arrows: the backward pass, each with its local derivative",
            ha="center", va="center", fontsize=FONT - 0.5, color="0.3")
    return fig
