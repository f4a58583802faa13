"""Datasets for the course, through tensorflow-datasets, offline first.

* :mod:`~utils.data.registry`: the canonical public files of every dataset (original
  idx ``.gz`` files, archives, zips and PNGs), with download addresses, sizes and
  SHA-256 checksums, and which tfds builder prepares each dataset from them.
* :mod:`~utils.data.store`: the verified cache of those files (``utils.paths.data_dir()``,
  which may be read-only): atomic downloads and imports, one-paragraph errors.
* :mod:`~utils.data.builders`: the course's tfds builders for what tfds cannot
  prepare offline (Omniglot's small sets, Lake's one-shot runs, the ISBI membranes).
* :mod:`~utils.data.prepared`: each dataset prepared once into tfds' data directory
  (``utils.paths.tfds_dir()``) with the verified files as ``manual_dir``, checked
  against a manifest on every use, and prepared again when damaged.
* :mod:`~utils.data.loaders`: whole splits as NumPy arrays for the exercises.

Keras pipelines use tfds directly::

    root = data.prepare("mnist")
    train = tfds.load("mnist", split="train[:6000]", as_supervised=True, data_dir=root, download=False)

``python -m utils data`` (status, fetch, import, prepare) is the command-line front
end. Importing this package imports neither TensorFlow nor tensorflow-datasets.
"""

from utils.data.loaders import (
    OMNIGLOT_SIZE,
    OMNIGLOT_SUBSETS,
    OmniglotSet,
    OneShotRun,
    load_cifar10,
    load_fashion_mnist,
    load_membrane,
    load_mnist,
    load_omniglot,
    load_omniglot_one_shot_runs,
)
from utils.data.prepared import as_numpy, load, prepare, prepared_state
from utils.data.registry import (
    CIFAR10_CLASSES,
    DATASETS,
    DESCRIPTIONS,
    FASHION_MNIST_CLASSES,
    GPU_LAB_DATASETS,
    LAB_DATASETS,
    TFDS,
    DataFormatError,
    DataUnavailableError,
    RemoteFile,
    dataset_names,
)
from utils.data.status import format_prepared, format_status, prepared_rows, status
from utils.data.store import fetch, fetch_file, import_dir, sha256_of
from utils.paths import data_dir, tfds_dir


def prepare_lab(lab: str, *, profile: str | None = None, progress: bool = True) -> list[str]:
    """Prepare every dataset lab ``lab`` ('01'..'07') loads in ``profile`` (default: the active one); return them."""
    key = str(lab).zfill(2)[:2]
    if key not in LAB_DATASETS:
        raise ValueError(f"Unknown lab '{lab}'; choose one of {', '.join(LAB_DATASETS)}.")
    if profile is None:
        from utils.profiles import get_profile

        profile = get_profile().name
    names = [*LAB_DATASETS[key], *(GPU_LAB_DATASETS.get(key, ()) if profile == "gpu" else ())]
    for name in names:
        prepare(name, progress=progress)
    return names


__all__ = [
    "CIFAR10_CLASSES", "DATASETS", "DESCRIPTIONS", "FASHION_MNIST_CLASSES", "GPU_LAB_DATASETS", "LAB_DATASETS", "OMNIGLOT_SIZE",
    "OMNIGLOT_SUBSETS", "TFDS", "DataFormatError", "DataUnavailableError", "OmniglotSet", "OneShotRun", "RemoteFile",
    "as_numpy", "data_dir", "dataset_names", "fetch", "fetch_file", "format_prepared", "format_status", "import_dir",
    "load", "load_cifar10", "load_fashion_mnist", "load_membrane", "load_mnist", "load_omniglot",
    "load_omniglot_one_shot_runs", "prepare", "prepare_lab", "prepared_rows", "prepared_state", "sha256_of", "status",
    "tfds_dir",
]
