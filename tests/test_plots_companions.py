"""utils/plots/dynamics.py and utils/plots/attribution.py: each picture renders headless and shows what it claims."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from utils.plots import RIGHT, WRONG, CourseFigure, attribution, dynamics  # noqa: E402

RNG = np.random.default_rng(0)


pytestmark = pytest.mark.usefixtures("no_open_figures")  # from conftest


def render(fig, tmp_path: Path) -> None:
    """Check the figure type and that it saves to a non-trivial PNG."""
    assert isinstance(fig, CourseFigure)
    path = tmp_path / "figure.png"
    fig.savefig(path)
    assert path.stat().st_size > 1000
    assert fig._repr_png_()[:4] == b"\x89PNG"


def visible_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def test_learning_rate_curves_colour_by_verdict_and_mark_nan(tmp_path: Path) -> None:
    curves = {1e-4: np.linspace(2.3, 2.2, 50), 0.03: np.linspace(2.3, 0.5, 50),
              30.0: np.r_[2.3, 1e6, np.nan, np.full(47, np.nan)]}
    verdicts = {1e-4: "too low", 0.03: "about right", 30.0: "too high"}
    fig = dynamics.learning_rate_curves(curves, verdicts, start=2.3)
    render(fig, tmp_path)
    (ax,) = visible_axes(fig)
    assert ax.get_yscale() == "log"
    labels = {line.get_label(): to_hex(line.get_color()) for line in ax.get_lines()}
    assert labels["lr 0.03: about right"] == to_hex(RIGHT) and labels["lr 30: too high"] == to_hex(WRONG)
    assert any("NaN from step 3" in text.get_text() for text in ax.texts)
    assert "initial loss 2.3" in labels
    assert ax.get_ylim()[1] == pytest.approx(2.3 * 20)  # the explosion leaves the picture at the top
    with pytest.raises(ValueError):
        dynamics.learning_rate_curves({})


def test_running_mean() -> None:
    assert np.allclose(dynamics._running_mean(np.array([1.0, 3.0, 5.0, 7.0]), 2), [1.0, 2.0, 4.0, 6.0])


def test_histogram_timeline_one_panel_per_tag_one_curve_per_step(tmp_path: Path) -> None:
    def hist(step, centre):
        edges = np.linspace(centre - 1, centre + 1, 6)
        return SimpleNamespace(step=step, left=edges[:-1], right=edges[1:], counts=np.array([1.0, 4, 9, 4, 1]))

    histograms = {"conv1": [hist(0, 0.0), hist(1, 0.5), hist(2, 1.0)], "fc": [hist(0, 0.0), hist(1, 0.2), hist(2, 0.3)],
                  "logits": [hist(0, 0.0), hist(1, 0.1), hist(2, 0.2)]}
    fig = dynamics.histogram_timeline(histograms, title="Activations")
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["conv1", "fc", "logits"]
    assert all(len(ax.get_lines()) == 3 for ax in axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["epoch 1", "epoch 2", "epoch 3"]
    with pytest.raises(ValueError):
        dynamics.histogram_timeline({})


def test_kernels_before_after_shows_two_rows(tmp_path: Path) -> None:
    before, after = RNG.normal(size=(5, 5, 1, 8)), RNG.normal(size=(5, 5, 1, 8))
    fig = dynamics.kernels_before_after(before, after)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 16 and len([ax for ax in axes if ax.get_ylabel()]) == 2
    assert np.allclose(axes[8].get_images()[0].get_array(), after[:, :, 0, 0])
    with pytest.raises(ValueError):
        dynamics.kernels_before_after(before, after[..., :4])


def test_search_layouts_tick_each_distinct_value(tmp_path: Path) -> None:
    grid = [{"learning_rate": lr, "dropout": d, "score": s} for lr in (1e-3, 1e-1) for d, s in ((0.1, 0.2), (0.3, 0.4))]
    random = [{"learning_rate": lr, "dropout": d, "score": s}
              for lr, d, s in ((2e-3, 0.2, 0.3), (5e-2, 0.1, 0.6), (3e-4, 0.4, 0.1), (0.5, 0.3, 0.1))]
    fig = dynamics.search_layouts({"grid": grid, "random": random}, x="learning_rate", y="dropout",
                                  x_range=(1e-4, 1.0), y_range=(0.0, 0.5))
    render(fig, tmp_path)
    left, right = visible_axes(fig)
    assert left.get_xlim()[0] < 1e-4 and left.get_xlim()[1] > 1.0 and right.get_ylim()[0] < 0.0
    assert left.get_title() == "grid: 4 trials, 2 distinct learning_rate"
    assert right.get_title() == "random: 4 trials, 4 distinct learning_rate"
    assert len(left.get_lines()) == 2 and len(right.get_lines()) == 4  # one tick per distinct value
    assert "0.600" in right.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError):
        dynamics.search_layouts({}, x="a", y="b")


def test_neighbour_grid_frames_same_and_other_labels(tmp_path: Path) -> None:
    gallery = RNG.uniform(0, 255, (10, 6, 6, 1))
    gallery_labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    neighbours = {"features": np.array([[0, 2], [1, 3]]), "pixels": np.array([[1, 2], [0, 5]])}
    fig = attribution.neighbour_grid(gallery[:2], np.array([0, 1]), gallery, gallery_labels, neighbours)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 2 * (1 + 2 + 2)
    colours = [to_hex(ax.spines["top"].get_edgecolor()) for ax in axes if ax.spines["top"].get_linewidth() == 2.5]
    assert colours == [to_hex(c) for c in (RIGHT, RIGHT, WRONG, RIGHT, RIGHT, RIGHT, WRONG, RIGHT)]
    with pytest.raises(ValueError):
        attribution.neighbour_grid(gallery[:2], np.array([0, 1]), gallery, gallery_labels, {})


def test_attribution_grid_draws_maps_with_the_outline(tmp_path: Path) -> None:
    images = np.zeros((3, 8, 8, 1))
    images[:, 2:6, 3:5] = 255
    masks = images[..., 0] > 25
    maps = {"occlusion": RNG.uniform(size=(3, 8, 8)), "saliency": RNG.uniform(size=(3, 8, 8))}
    fig = attribution.attribution_grid(images, maps, masks, labels=[1, 1, 1], max_images=2)
    render(fig, tmp_path)
    axes = visible_axes(fig)
    assert len(axes) == 2 * 3
    assert [ax.get_title() for ax in axes[:3]] == ["image", "occlusion", "saliency"]
    assert all(ax.collections for ax in axes if ax.get_title() != "image" and axes.index(ax) % 3)  # outlines drawn
    with pytest.raises(ValueError):
        attribution.attribution_grid(images, {"bad": np.zeros((3, 4, 4))}, masks)
