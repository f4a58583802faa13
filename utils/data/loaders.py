"""NumPy loaders for the labs' exercises, read through tensorflow-datasets.

Each returns whole splits as NumPy arrays (``tfds.as_numpy`` of one batch), in the
shapes the exercises use: MNIST-style ((x, y), (x, y)) with x (N, 28, 28) uint8,
CIFAR-10 x (N, 32, 32, 3), Omniglot ink images with 1 = ink, the membrane stack.
Pipelines that train Keras models read the same prepared datasets with
``tfds.load`` (see :func:`utils.data.load`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.data import prepared

OMNIGLOT_SIZE = 105
OMNIGLOT_SUBSETS = ("background_small1", "background_small2", "background", "evaluation")
# The course's Omniglot subsets -> (course dataset, split).
_OMNIGLOT_SOURCES = {
    "background_small1": ("omniglot_small1", "train"),
    "background_small2": ("omniglot_small2", "train"),
    "background": ("omniglot", "train"),
    "evaluation": ("omniglot", "test"),
}

Split = tuple[np.ndarray, np.ndarray]


def _supervised(name: str, *, progress: bool) -> tuple[Split, Split]:
    """Return ((x_train, y_train), (x_test, y_test)) of an image classification dataset."""
    out = []
    for split in ("train", "test"):
        arrays = prepared.as_numpy(name, split, progress=progress)
        out.append((arrays["image"], arrays["label"].astype(np.uint8)))
    return out[0], out[1]


def load_mnist(*, progress: bool = True) -> tuple[Split, Split]:
    """Return MNIST as ((x_train, y_train), (x_test, y_test)): uint8, x (N, 28, 28), y (N,)."""
    (x, y), (xt, yt) = _supervised("mnist", progress=progress)
    return (x[..., 0], y), (xt[..., 0], yt)


def load_fashion_mnist(*, progress: bool = True) -> tuple[Split, Split]:
    """Return Fashion-MNIST like load_mnist; class names are in FASHION_MNIST_CLASSES."""
    (x, y), (xt, yt) = _supervised("fashion_mnist", progress=progress)
    return (x[..., 0], y), (xt[..., 0], yt)


def load_cifar10(*, progress: bool = True) -> tuple[Split, Split]:
    """Return CIFAR-10 as ((x_train, y_train), (x_test, y_test)): x (N, 32, 32, 3) uint8, y (N,)."""
    return _supervised("cifar10", progress=progress)


@dataclass(frozen=True, eq=False)
class OmniglotSet:
    """Omniglot images (1 = ink, 0 = background) with class and alphabet indices, sorted."""

    images: np.ndarray  # (N, 105, 105) uint8
    labels: np.ndarray  # (N,) int32 index into class_names
    alphabets: np.ndarray  # (N,) int32 index into alphabet_names
    class_names: list[str]  # "Alphabet/characterNN"
    alphabet_names: list[str]
    subset: str = ""

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self.images)

    @property
    def num_classes(self) -> int:
        """Return the number of character classes."""
        return len(self.class_names)

    def __repr__(self) -> str:
        """Show shapes and counts, not the arrays."""
        return (
            f"OmniglotSet(subset={self.subset!r}, images={self.images.shape}, "
            f"classes={self.num_classes}, alphabets={len(self.alphabet_names)})"
        )


@dataclass(frozen=True, eq=False)
class OneShotRun:
    """One of Lake et al.'s 20-way one-shot runs: answers[i] indexes train_images for test i."""

    name: str  # "run01" .. "run20"
    train_images: np.ndarray  # (20, 105, 105) uint8, 1 = ink; one image per class
    test_images: np.ndarray  # (20, 105, 105) uint8, 1 = ink
    answers: np.ndarray  # (20,) int32: the training image of the same class as each test image

    def __repr__(self) -> str:
        """Show the run's name and shapes, not the arrays."""
        return f"OneShotRun({self.name!r}, train={self.train_images.shape}, test={self.test_images.shape})"


def _ink(grey: np.ndarray) -> np.ndarray:
    """Turn grey Omniglot images (..., 105, 105, 1), black strokes on white, into uint8 with 1 = ink."""
    return (grey[..., 0] < 128).astype(np.uint8)


def _text(values: np.ndarray) -> list[str]:
    """Decode tfds Text features (bytes) to str."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def load_omniglot(subset: str = "background_small1", *, progress: bool = True) -> OmniglotSet:
    """Return an Omniglot image set: background_small1/2 (offline copies), background, evaluation."""
    if subset not in _OMNIGLOT_SOURCES:
        raise ValueError(f"Unknown Omniglot subset '{subset}'; choose one of {', '.join(OMNIGLOT_SUBSETS)}.")
    name, split = _OMNIGLOT_SOURCES[subset]
    arrays = prepared.as_numpy(name, split, progress=progress)
    if name == "omniglot":  # tfds's own builder: names from its ClassLabel features and file-free ids
        return _from_tfds_omniglot(arrays, subset)
    order = np.argsort(np.asarray(_text(arrays["file"])), kind="stable")  # tfds stores records shuffled
    characters = np.asarray(_text(arrays["character"]))[order]
    alphabets = np.asarray(_text(arrays["alphabet"]))[order]
    class_names, labels = np.unique(characters, return_inverse=True)
    alphabet_names, alphabet_ids = np.unique(alphabets, return_inverse=True)
    return OmniglotSet(images=_ink(arrays["image"][order]), labels=labels.astype(np.int32),
                       alphabets=alphabet_ids.astype(np.int32), class_names=class_names.tolist(),
                       alphabet_names=alphabet_names.tolist(), subset=subset)


def _from_tfds_omniglot(arrays: dict[str, np.ndarray], subset: str) -> OmniglotSet:
    """Build an OmniglotSet from tfds's omniglot split (labels 'Alphabet_N' from its features)."""
    info = prepared.load("omniglot", "train", progress=False, with_info=True)[1]
    label_names = info.features["label"].names
    alphabet_feature = info.features["alphabet"].names
    order = np.lexsort((arrays["alphabet_char_id"], arrays["alphabet"], arrays["label"]))
    used = np.unique(arrays["label"])
    class_index = {c: i for i, c in enumerate(used)}
    used_alphabets = np.unique(arrays["alphabet"])
    alphabet_index = {a: i for i, a in enumerate(used_alphabets)}
    return OmniglotSet(
        images=_ink(arrays["image"][order][..., :1]),
        labels=np.array([class_index[c] for c in arrays["label"][order]], dtype=np.int32),
        alphabets=np.array([alphabet_index[a] for a in arrays["alphabet"][order]], dtype=np.int32),
        class_names=[label_names[c] for c in used], alphabet_names=[alphabet_feature[a] for a in used_alphabets],
        subset=subset,
    )


def load_omniglot_one_shot_runs(*, progress: bool = True) -> list[OneShotRun]:
    """Return the 20 official 20-way one-shot runs (all_runs.zip), run01 first."""
    arrays = prepared.as_numpy("omniglot_runs", "test", progress=progress)
    names = _text(arrays["run"])
    return [
        OneShotRun(name=names[i], train_images=_ink(arrays["train_images"][i]),
                   test_images=_ink(arrays["test_images"][i]), answers=arrays["answers"][i].astype(np.int32))
        for i in np.argsort(names)
    ]


def load_membrane(*, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (x_train, y_train, x_test) of shape (30, 512, 512) uint8; y = 1 on cell interior."""
    # In zhixuhao/unet's labels white (255) is cell interior and black (0) is membrane
    # boundary, so y_train = (label > 127) is 1 inside cells and 0 on membranes.
    train = prepared.as_numpy("membrane", "train", progress=progress)
    test = prepared.as_numpy("membrane", "test", progress=progress)
    order, test_order = np.argsort(train["index"]), np.argsort(test["index"])
    return (train["image"][order, ..., 0], (train["label"][order, ..., 0] > 127).astype(np.uint8),
            test["image"][test_order, ..., 0])
