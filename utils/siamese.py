"""Lab 7's machinery: Omniglot inputs, within-alphabet pairs, affine distortions, one-shot tasks and the figures.

The ideas the lab teaches (the pair sampler, the distances, the contrastive loss, the Siamese network, how each method
scores a pair) stay in the notebook; this module holds the bookkeeping around them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from utils import plots

# A one-shot run has 20 training images (rows 0-19) and 20 test images (rows 20-39).
RUN_SIZE, WAYS = 40, 20


def merge_omniglot(sets: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], list[str]]:
    """Join Omniglot sets, each character once: (images, labels, alphabet of each image, class names, alphabet names)."""
    images, labels, class_names = [], [], []
    for subset in sets:
        for k, name in enumerate(subset.class_names):
            if name in class_names:  # background_small1 and background_small2 both hold Greek and Latin
                continue
            chosen = subset.labels == k
            images.append(subset.images[chosen])
            labels.append(np.full(int(chosen.sum()), len(class_names)))
            class_names.append(name)
    alphabet_names = sorted({name.split("/")[0] for name in class_names})
    alphabet_of_class = np.array([alphabet_names.index(name.split("/")[0]) for name in class_names])
    all_labels = np.concatenate(labels)
    return np.concatenate(images), all_labels, alphabet_of_class[all_labels], class_names, alphabet_names


def to_inputs(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W) images with 1 = ink -> float32 (N, size, size, 1) in [0, 1], shrunk by area averaging."""
    x = images[..., None].astype("float32")
    if size != x.shape[1]:
        import tensorflow as tf

        x = tf.image.resize(x, (size, size), method="area").numpy()
    return x


def within_alphabet_pairs(sample_pairs: Callable[..., Any], labels: np.ndarray, alphabets: np.ndarray,
                          num_pairs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``sample_pairs`` on each alphabet's images, with a share of the pairs proportional to its size; shuffle."""
    groups = np.unique(alphabets)
    counts = 2 * np.floor(num_pairs / 2 * np.bincount(alphabets)[groups] / len(alphabets)).astype(int)
    counts[-1] += num_pairs - counts.sum()
    lefts, rights, sames = [], [], []
    for group, count in zip(groups, counts):
        members = np.flatnonzero(alphabets == group)
        left, right, same = sample_pairs(labels[members], int(count), rng)
        lefts.append(members[np.asarray(left)])
        rights.append(members[np.asarray(right)])
        sames.append(np.asarray(same, dtype=np.float32))
    shuffled = rng.permutation(num_pairs)
    return np.concatenate(lefts)[shuffled], np.concatenate(rights)[shuffled], np.concatenate(sames)[shuffled]


def random_distortions(num: int, size: int, rng: np.random.Generator, rotation: float, shear: float, scale: float,
                        shift: float) -> np.ndarray:
    """(num, 8) random affine maps of size x size images, as projective transforms from output to input pixels.

    Koch et al.'s distortions: rotation in [-rotation, rotation] degrees, shears in [-shear, shear] along x and y,
    scales in [1 - scale, 1 + scale] along x and y and shifts in [-shift, shift] pixels, all about the image centre.
    """
    theta = np.deg2rad(rng.uniform(-rotation, rotation, num))
    shear_x, shear_y = rng.uniform(-shear, shear, (2, num))
    scale_x, scale_y = rng.uniform(1 - scale, 1 + scale, (2, num))
    shift_x, shift_y = rng.uniform(-shift, shift, (2, num))
    cos, sin = np.cos(theta), np.sin(theta)
    # forward map A = rotation @ [[1, shear_x], [shear_y, 1]] @ diag(scale_x, scale_y)
    a00, a01 = (cos - sin * shear_y) * scale_x, (cos * shear_x - sin) * scale_y
    a10, a11 = (sin + cos * shear_y) * scale_x, (sin * shear_x + cos) * scale_y
    det = a00 * a11 - a01 * a10
    i00, i01, i10, i11 = a11 / det, -a01 / det, -a10 / det, a00 / det  # the output-to-input map is its inverse
    centre = (size - 1) / 2
    out_x, out_y = centre + shift_x, centre + shift_y  # where the centre lands
    zeros = np.zeros(num)
    return np.stack([i00, i01, centre - i00 * out_x - i01 * out_y,
                     i10, i11, centre - i10 * out_x - i11 * out_y, zeros, zeros], axis=1).astype("float32")


def distort(images: Any, transforms: Any) -> Any:
    """Warp a batch of (N, H, W, C) images, each by its row of (N, 8) transforms (bilinear, zero outside)."""
    import tensorflow as tf

    return tf.raw_ops.ImageProjectiveTransformV3(images=images, transforms=transforms,
                                                 output_shape=tf.shape(images)[1:3], fill_value=0.0,
                                                 interpolation="BILINEAR", fill_mode="CONSTANT")


def pixel_scores(images: np.ndarray) -> np.ndarray:
    """Minus the Euclidean distance between every two flattened images: (M, ...) -> (M, M), in float64."""
    flat = images.reshape(len(images), -1).astype("float64")
    squared = np.sum(flat ** 2, axis=1)
    return -np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * flat @ flat.T, 0.0))


def run_scores(score_fn: Callable[[np.ndarray], Any], per_run_inputs: np.ndarray) -> np.ndarray:
    """(runs, 40, 40) scores: for each run, every one of its 40 images against every other."""
    return np.stack([np.asarray(score_fn(x)) for x in per_run_inputs])


def run_positions(runs: Sequence[Any]) -> np.ndarray:
    """(runs, 20, 2) rows within each run: [r, c, s] is character c drawn by drawer s (0 = training, 1 = test image)."""
    return np.stack([np.stack([np.arange(WAYS), WAYS + np.argsort(run.answers)], axis=1) for run in runs])


def sample_tasks(positions: np.ndarray, way: int, num_tasks: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random ``way``-way one-shot tasks inside the runs: (run, query row, candidate rows (num_tasks, way), answer).

    A task takes one run, ``way`` of its characters and one of them as the query's; the query is one drawer's image
    of it, the candidates the other drawer's images of all ``way`` characters (which drawer is which is drawn too).
    """
    run = rng.integers(len(positions), size=num_tasks)
    characters = np.argsort(rng.random((num_tasks, WAYS)), axis=1)[:, :way]  # way different characters per task
    answer = rng.integers(way, size=num_tasks)
    side = rng.integers(2, size=num_tasks)  # which drawer gives the candidates
    candidates = positions[run[:, None], characters, side[:, None]]
    query = positions[run, characters[np.arange(num_tasks), answer], 1 - side]
    return run, query, candidates, answer


def task_accuracy(run_score: np.ndarray, tasks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> float:
    """The fraction of tasks whose query scores highest with the right candidate."""
    run, query, candidates, answer = tasks
    chosen = np.argmax(run_score[run[:, None], query[:, None], candidates], axis=1)
    return float(np.mean(chosen == answer))


def task_figure(rows: Sequence[tuple[np.ndarray, np.ndarray, int, int]], title: str) -> plots.CourseFigure:
    """Rows of (query image, candidate images, chosen index, true index) as a grid of tiles, the choice framed."""
    width = 1 + max(len(row[1]) for row in rows)
    fig = plots.new_figure((0.75 * width, 0.95 * len(rows) + 0.5), None)
    fig.suptitle(title, fontsize=12)
    axes = fig.subplots(len(rows), width, squeeze=False)
    for r, (query, candidates, chosen, truth) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            plots.clear_ticks(ax)
            if c > len(candidates):
                ax.set_visible(False)
                continue
            ax.imshow(query if c == 0 else candidates[c - 1], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            colour = "black" if c == 0 else {chosen + 1: plots.RIGHT if chosen == truth else plots.WRONG}.get(c)
            if colour:
                for spine in ax.spines.values():
                    spine.set_edgecolor(colour)
                    spine.set_linewidth(3)
            if c == 0:
                ax.set_title("query", fontsize=8)
            elif c == truth + 1:
                ax.set_title("true", fontsize=8)
    return fig


def pair_distances(distances: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a symmetric (M, M) distance matrix into (same-class, different-class) distances, each pair once."""
    upper = np.triu(np.ones(distances.shape, dtype=bool), k=1)
    same = labels[:, None] == labels[None, :]
    return distances[upper & same], distances[upper & ~same]


def distance_histograms(panels: Mapping[str, tuple[np.ndarray, np.ndarray]], margin: float | None = None,
                        title: str | None = None, xlabel: str = "distance") -> plots.CourseFigure:
    """One panel per entry: histograms of same-pair and different-pair distances (each as a share), a margin line."""
    fig = plots.new_figure((5.5 * len(panels), 4.0), title)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    top = max(float(np.max(np.concatenate([np.ravel(s), np.ravel(d)]))) for s, d in panels.values())
    bins = np.linspace(0.0, top * 1.02 if top > 0 else 1.0, 41)
    for ax, (name, (same, different)) in zip(axes, panels.items()):
        for values, colour, label in ((different, "C1", "different characters"), (same, "C0", "same character")):
            values = np.ravel(values)
            weights = np.full(len(values), 1.0 / max(1, len(values)))
            ax.hist(values, bins=bins, weights=weights, color=colour, alpha=0.6,
                    label=f"{label} ({len(values):,} pairs)")
        if margin is not None:
            ax.axvline(margin, color="k", ls="--", lw=1, label=f"margin m = {margin:g}")
        ax.set_title(name, fontsize=11)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share of pairs")
        ax.legend(fontsize=8)
    return fig
