"""Lab 7's machinery: Omniglot inputs, within-alphabet pairs, one-shot tasks and figures."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from utils import siamese


def _subset(names: list[str], per_class: int, value: int) -> SimpleNamespace:
    """A fake Omniglot set: per_class images of each class, filled with ``value``."""
    labels = np.repeat(np.arange(len(names)), per_class)
    images = np.full((len(labels), 6, 6), value, dtype=np.uint8)
    return SimpleNamespace(images=images, labels=labels, class_names=names)


def test_merge_omniglot_keeps_each_character_once() -> None:
    first = _subset(["Greek/character01", "Latin/character01"], 2, 1)
    second = _subset(["Latin/character01", "Korean/character01", "Greek/character01"], 3, 0)
    images, labels, alphabets, class_names, alphabet_names = siamese.merge_omniglot([first, second])
    assert class_names == ["Greek/character01", "Latin/character01", "Korean/character01"]
    assert alphabet_names == ["Greek", "Korean", "Latin"]
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert alphabets.tolist() == [0, 0, 2, 2, 1, 1, 1]
    assert images.shape == (7, 6, 6) and images[:4].min() == 1 and images[4:].max() == 0


def test_to_inputs_adds_a_channel_and_averages() -> None:
    images = np.zeros((2, 4, 4), np.uint8)
    images[0, :2, :2] = 1
    x = siamese.to_inputs(images, 2)
    assert x.shape == (2, 2, 2, 1) and x.dtype == np.float32
    assert x[0, 0, 0, 0] == 1.0 and x[0, 1, 1, 0] == 0.0
    assert siamese.to_inputs(images, 4).shape == (2, 4, 4, 1)


def _simple_sampler(labels, num_pairs, rng):
    """A small correct sampler for the tests."""
    classes = np.unique(labels)
    left, right = [], []
    for n in range(num_pairs):
        k1, k2 = rng.choice(classes, size=2, replace=False)
        if n < num_pairs // 2:
            i, j = rng.choice(np.flatnonzero(labels == k1), size=2, replace=False)
        else:
            i, j = rng.choice(np.flatnonzero(labels == k1)), rng.choice(np.flatnonzero(labels == k2))
        left.append(i)
        right.append(j)
    same = np.array([1.0] * (num_pairs // 2) + [0.0] * (num_pairs - num_pairs // 2), np.float32)
    return np.array(left), np.array(right), same


def test_within_alphabet_pairs_stay_inside_one_alphabet() -> None:
    labels = np.repeat(np.arange(7), 4)
    alphabets = np.repeat([0, 0, 1, 1, 1, 2, 2], 4)
    left, right, same = siamese.within_alphabet_pairs(_simple_sampler, labels, alphabets, 60, np.random.default_rng(0))
    assert len(left) == len(right) == len(same) == 60 and same.dtype == np.float32
    assert np.all(alphabets[left] == alphabets[right])
    assert np.all(same == (labels[left] == labels[right]))
    assert same.sum() == 30 and 0.3 < same[:30].mean() < 0.7  # balanced and shuffled


def test_pixel_scores_are_minus_euclidean_distances() -> None:
    images = np.random.default_rng(1).random((5, 3, 4))
    flat = images.reshape(5, -1)
    want = -np.linalg.norm(flat[:, None] - flat[None, :], axis=-1)
    np.testing.assert_allclose(siamese.pixel_scores(images), want, atol=1e-12)
    assert siamese.run_scores(siamese.pixel_scores, np.stack([images, images])).shape == (2, 5, 5)


def _runs() -> list[SimpleNamespace]:
    """Two fake runs: test image i matches training image answers[i]."""
    return [SimpleNamespace(answers=np.random.default_rng(seed).permutation(20)) for seed in (0, 1)]


def test_run_positions_pair_each_training_image_with_its_test_image() -> None:
    runs = _runs()
    positions = siamese.run_positions(runs)
    assert positions.shape == (2, 20, 2)
    for r, run in enumerate(runs):
        for c in range(20):
            train_row, test_row = positions[r, c]
            assert train_row == c and run.answers[test_row - 20] == c


def test_sampled_tasks_are_well_formed_and_scored() -> None:
    runs = _runs()
    positions = siamese.run_positions(runs)
    run, query, candidates, answer = tasks = siamese.sample_tasks(positions, 5, 300, np.random.default_rng(2))
    assert candidates.shape == (300, 5) and query.shape == run.shape == answer.shape == (300,)
    character = np.zeros((2, 40), int)  # the character each row shows
    for r in range(2):
        character[r, positions[r, :, 0]] = np.arange(20)
        character[r, positions[r, :, 1]] = np.arange(20)
    cand_chars = character[run[:, None], candidates]
    assert all(len(set(row)) == 5 for row in cand_chars.tolist())  # five different characters
    assert np.all(cand_chars[np.arange(300), answer] == character[run, query])  # the answer shows the query's
    assert not np.any(candidates == query[:, None])  # the query itself is never a candidate
    assert set(answer.tolist()) == set(range(5))
    perfect = -np.abs(character[:, :, None] - character[:, None, :]).astype(float)  # same character scores highest
    assert siamese.task_accuracy(perfect, tasks) == 1.0
    assert siamese.task_accuracy(-perfect, tasks) == 0.0


def test_figures_draw() -> None:
    rng = np.random.default_rng(3)
    fig = siamese.task_figure([(rng.random((6, 6)), rng.random((4, 6, 6)), 1, 2),
                               (rng.random((6, 6)), rng.random((4, 6, 6)), 3, 3)], "tasks")
    assert len(fig.axes) == 10
    fig.canvas.draw()
    labels = np.repeat(np.arange(3), 3)
    points = rng.random((9, 2))
    distances = np.linalg.norm(points[:, None] - points[None, :], axis=-1)
    same, different = siamese.pair_distances(distances, labels)
    assert len(same) == 9 and len(different) == 27  # 3 x C(3, 2) same pairs, C(9, 2) - 9 different ones
    fig = siamese.distance_histograms({"a": (same, different), "b": (same, different)}, margin=1.0, title="d")
    assert len(fig.axes) == 2
    fig.canvas.draw()


def test_distortions_of_zero_size_leave_images_alone_and_shifts_move_them() -> None:
    rng = np.random.default_rng(4)
    images = np.zeros((3, 9, 9, 1), np.float32)
    images[:, 4, 4, 0] = 1.0  # one ink pixel at the centre
    identity = siamese.random_distortions(3, 9, rng, rotation=0, shear=0, scale=0, shift=0)
    np.testing.assert_allclose(identity, np.tile([1, 0, 0, 0, 1, 0, 0, 0], (3, 1)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(siamese.distort(images, identity)), images, atol=1e-6)
    moved = siamese.random_distortions(3, 9, rng, rotation=0, shear=0, scale=0, shift=2)
    out = np.asarray(siamese.distort(images, moved))
    for n in range(3):  # the ink's centre of mass moves by the drawn shift (columns are x, rows are y)
        rows, cols = np.indices((9, 9))
        weights = out[n, ..., 0] / out[n, ..., 0].sum()
        assert abs((weights * cols).sum() - 4 + moved[n, 2]) < 1e-4
        assert abs((weights * rows).sum() - 4 + moved[n, 5]) < 1e-4


def test_distortions_stay_in_range_and_keep_the_centre() -> None:
    transforms = siamese.random_distortions(500, 35, np.random.default_rng(5), rotation=10, shear=0.3, scale=0.2,
                                            shift=0)
    assert transforms.shape == (500, 8) and transforms.dtype == np.float32
    matrices = transforms[:, [0, 1, 3, 4]].reshape(-1, 2, 2)
    centre = np.array([17.0, 17.0])
    np.testing.assert_allclose(matrices @ centre + transforms[:, [2, 5]], np.tile(centre, (500, 1)), atol=1e-4)
    det = np.linalg.det(matrices)  # the inverse of scales in [0.8, 1.2] and shears up to 0.3: no flips, bounded zoom
    assert np.all(det > 1 / (1.2**2 * 1.1)) and np.all(det < 1 / (0.8**2 * (1 - 0.09)))
    assert len(np.unique(transforms[:, 0])) == 500  # drawn per image
