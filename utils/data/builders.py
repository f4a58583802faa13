"""The course's tensorflow-datasets builders, for the data tfds's own builders cannot prepare offline.

* ``omniglot_course``: Omniglot's two small background sets (``small1``,
  ``small2``), which the course can have offline. tfds's own ``omniglot`` needs
  the full background and evaluation zips even to prepare these.
* ``omniglot_one_shot_runs``: Lake et al.'s twenty official 20-way one-shot runs.
* ``isbi2012_membrane``: the ISBI 2012 EM segmentation images and labels, as
  zhixuhao/unet distributes them.

Each reads the verified canonical files from ``manual_dir`` (``utils.data.prepare``
passes the data folder's ``omniglot/`` or ``membrane/``); importing this module
registers them with tfds, so ``tfds.load("omniglot_course/small1", ...)`` works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds

OMNIGLOT_SIZE = 105
MEMBRANE_SIZE = 512

_OMNIGLOT_CITATION = """@article{lake2015human,
  title={Human-level concept learning through probabilistic program induction},
  author={Lake, Brenden M and Salakhutdinov, Ruslan and Tenenbaum, Joshua B},
  journal={Science}, volume={350}, number={6266}, pages={1332--1338}, year={2015}}"""

_MEMBRANE_CITATION = """@article{arganda2015crowdsourcing,
  title={Crowdsourcing the creation of image segmentation algorithms for connectomics},
  author={Arganda-Carreras, Ignacio and Turaga, Srinivas C and Berger, Daniel R and others},
  journal={Frontiers in Neuroanatomy}, volume={9}, pages={142}, year={2015}}"""


def _is_junk(path: Path) -> bool:
    """Return True for macOS metadata that some zips carry."""
    return "__MACOSX" in path.parts or path.name.startswith("._")


def _pngs(folder: Path) -> list[Path]:
    """Return the PNG files under ``folder``, sorted, without metadata files."""
    return sorted(p for p in folder.rglob("*.png") if not _is_junk(p))


class OmniglotCourseConfig(tfds.core.BuilderConfig):
    """One of Omniglot's small background sets."""

    def __init__(self, *, zip_name: str, **kwargs: Any) -> None:
        """Name the zip in manual_dir that holds this set."""
        super().__init__(**kwargs)
        self.zip_name = zip_name


class OmniglotCourse(tfds.core.GeneratorBasedBuilder):
    """Omniglot's small background sets, prepared from the official zips."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "The small1 and small2 background sets, one config each."}
    BUILDER_CONFIGS = [
        OmniglotCourseConfig(name="small1", zip_name="images_background_small1.zip",
                             description="images_background_small1.zip: 20 drawers of 5 alphabets' characters"),
        OmniglotCourseConfig(name="small2", zip_name="images_background_small2.zip",
                             description="images_background_small2.zip: 20 drawers of 5 other alphabets' characters"),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put the official images_background_small{1,2}.zip in manual_dir."

    def _info(self) -> tfds.core.DatasetInfo:
        """Features: the 105x105 grey image (black strokes on white), its alphabet, character and file."""
        return self.dataset_info_from_configs(
            description=(
                "Omniglot (Lake et al. 2015), the small background sets only: tfds's own omniglot builder "
                "needs the full background and evaluation zips to prepare, and the course's offline copies "
                "hold only images_background_small1.zip and images_background_small2.zip. 'character' is "
                "'Alphabet/characterNN'; 'file' is the image's path in the zip."
            ),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(OMNIGLOT_SIZE, OMNIGLOT_SIZE, 1), encoding_format="png"),
                "alphabet": tfds.features.Text(),
                "character": tfds.features.Text(),
                "file": tfds.features.Text(),
            }),
            homepage="https://github.com/brendenlake/omniglot",
            citation=_OMNIGLOT_CITATION,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        """One split, 'train', from this config's zip."""
        folder = Path(dl_manager.extract(dl_manager.manual_dir / self.builder_config.zip_name))
        return {"train": self._generate_examples(folder)}

    def _generate_examples(self, folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield each Alphabet/characterNN/*.png with its names (tfds reads and stores the PNG as it is)."""
        for path in _pngs(folder):
            alphabet, character = path.parts[-3], path.parts[-2]
            key = f"{alphabet}/{character}/{path.name}"
            yield key, {"image": path, "alphabet": alphabet, "character": f"{alphabet}/{character}", "file": key}


class OmniglotOneShotRuns(tfds.core.GeneratorBasedBuilder):
    """Lake et al.'s 20 official 20-way one-shot classification runs, one example per run."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "The twenty runs of all_runs.zip."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put the official all_runs.zip in manual_dir."

    def _info(self) -> tfds.core.DatasetInfo:
        """Features: a run's 20 training images (one per class), 20 test images and their answers."""
        image = tfds.features.Image(shape=(OMNIGLOT_SIZE, OMNIGLOT_SIZE, 1), encoding_format="png")
        return self.dataset_info_from_configs(
            description=(
                "The 20 one-shot runs of Lake et al. (2015), from brendenlake/omniglot's all_runs.zip. Each "
                "example is a run: 20 training images (one per character class), 20 test images, and "
                "'answers', where answers[i] is the index of the training image of test image i's class."
            ),
            features=tfds.features.FeaturesDict({
                "run": tfds.features.Text(),
                "train_images": tfds.features.Sequence(image, length=20),
                "test_images": tfds.features.Sequence(image, length=20),
                "answers": tfds.features.Tensor(shape=(20,), dtype=np.int32),
            }),
            homepage="https://github.com/brendenlake/omniglot",
            citation=_OMNIGLOT_CITATION,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        """One split, 'test': the runs are for evaluation only."""
        folder = Path(dl_manager.extract(dl_manager.manual_dir / "all_runs.zip"))
        return {"test": self._generate_examples(folder)}

    def _generate_examples(self, folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield one example per runNN/class_labels.txt."""
        for labels in sorted(p for p in folder.rglob("class_labels.txt") if not _is_junk(p)):
            run = labels.parent
            # Each line: "runNN/test/itemKK.png runNN/training/classJJ.png" (a test image, its class).
            pairs = [line.split() for line in labels.read_text().splitlines() if line.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ValueError(f"{labels} has a line that is not two file names.")
            answer_of = dict(pairs)
            test_files = sorted(answer_of)
            train_files = sorted(set(answer_of.values()))
            yield run.name, {
                "run": run.name,
                "train_images": [run.parent / f for f in train_files],
                "test_images": [run.parent / f for f in test_files],
                "answers": np.array([train_files.index(answer_of[t]) for t in test_files], dtype=np.int32),
            }


class Isbi2012Membrane(tfds.core.GeneratorBasedBuilder):
    """The ISBI 2012 EM segmentation stack: 30 labelled training images, 30 unlabelled test images."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "zhixuhao/unet's data/membrane PNGs."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put zhixuhao/unet's data/membrane folder (train/image, train/label, test) in manual_dir."

    def _info(self) -> tfds.core.DatasetInfo:
        """Features: a 512x512 grey micrograph and its label (255 = cell interior, 0 = membrane)."""
        shape = (MEMBRANE_SIZE, MEMBRANE_SIZE, 1)
        return self.dataset_info_from_configs(
            description=(
                "Serial-section EM images of a Drosophila ventral nerve cord from the ISBI 2012 segmentation "
                "challenge, as distributed by zhixuhao/unet (data/membrane). In 'label' white (255) is cell "
                "interior and black (0) is membrane. The challenge never published the test labels: in the "
                "'test' split 'label' is all zeros and 'labelled' is False."
            ),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=shape, encoding_format="png"),
                "label": tfds.features.Image(shape=shape, encoding_format="png"),
                "labelled": np.bool_,
                "index": np.int32,
            }),
            supervised_keys=("image", "label"),
            homepage="https://github.com/zhixuhao/unet",
            citation=_MEMBRANE_CITATION,
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
        """'train' (images and labels) and 'test' (images only)."""
        root = Path(dl_manager.manual_dir)
        return {"train": self._generate_examples(root / "train", True),
                "test": self._generate_examples(root / "test", False)}

    def _generate_examples(self, folder: Path, labelled: bool) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield each numbered PNG with its label, or an all-zero placeholder where there is none."""
        images = folder / "image" if labelled else folder
        blank = np.zeros((MEMBRANE_SIZE, MEMBRANE_SIZE, 1), np.uint8)
        for path in sorted(images.glob("*.png"), key=lambda p: int(p.stem)):
            index = int(path.stem)
            yield index, {"image": path, "label": folder / "label" / path.name if labelled else blank,
                          "labelled": labelled, "index": index}
