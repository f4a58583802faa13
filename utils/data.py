"""Datasets for the course: a registry of canonical files, verified downloads, loaders, tf.data.

Every dataset the labs use is a set of canonical public files (the original idx
``.gz`` files, zips, PNGs and tarballs, never re-packed copies), listed in
:data:`DATASETS` with their download addresses, sizes and SHA-256 checksums.
The loaders read those files directly from the cache folder (see
:func:`data_dir`) and never extract anything to disk, so the cache may be
read-only. A missing file is downloaded and verified before it is used; when that
is impossible (offline, a mirror down, a wrong checksum) the loaders raise
:class:`DataUnavailableError` with one paragraph saying what was tried and how
to provide the file. ``python -m utils data`` (status, fetch, import) is the
command-line front end to :func:`status`, :func:`fetch` and :func:`import_dir`.

TensorFlow is imported only inside :func:`make_dataset`.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import io
import os
import pickle
import socket
import ssl
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20
_REPO_ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class DataUnavailableError(RuntimeError):
    """A data file is missing or corrupt and could not be downloaded or stored."""


class DataFormatError(ValueError):
    """A data file does not have the format its loader expects."""


# ---------------------------------------------------------------------------
# Cache folder
# ---------------------------------------------------------------------------


def data_dir() -> Path:
    """Return the data cache: $COURSE_DATA_DIR, else $XDG_CACHE_HOME/cnn-course/datasets."""
    return _data_dir_and_origin()[0]


def _data_dir_and_origin() -> tuple[Path, str]:
    """Return the data cache folder and a few words saying where that choice came from."""
    env = os.environ.get("COURSE_DATA_DIR", "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_absolute():
            # Relative to the repository root, so notebooks (which run in their own
            # folders), tests and the command line all find the same folder.
            path = _REPO_ROOT / path
        return path, "from COURSE_DATA_DIR"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and Path(xdg).expanduser().is_absolute():
        return Path(xdg).expanduser() / "cnn-course" / "datasets", "from XDG_CACHE_HOME"
    return Path.home() / ".cache" / "cnn-course" / "datasets", "the default"



# ---------------------------------------------------------------------------
# Registry of canonical files
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RemoteFile:
    """One canonical data file: its place in the cache, its download addresses, its checksum."""

    path: str  # relative to data_dir(), with forward slashes
    urls: tuple[str, ...]  # the canonical source first, then well-known mirrors
    sha256: str
    size: int | None = None  # bytes; None where unknown

    def __post_init__(self) -> None:
        """Store the URLs as a tuple, so entries stay immutable and hashable."""
        object.__setattr__(self, "urls", tuple(self.urls))

    @property
    def name(self) -> str:
        """The file's name, without its folders."""
        return PurePosixPath(self.path).name


def _entries(folder: str, bases: Iterable[str], table: str) -> tuple[RemoteFile, ...]:
    """Build entries from lines 'relative-name size sha256', downloadable under each base URL."""
    bases = tuple(bases)
    out = []
    for line in table.strip().splitlines():
        name, size, sha256 = line.split()
        out.append(RemoteFile(f"{folder}/{name}", tuple(b + name for b in bases), sha256, int(size)))
    return tuple(out)


# Sizes and sha256 of every file present in shared/datasets come from its
# SHA256SUMS and README (each byte-identical to the canonical file there). The
# MNIST and Fashion-MNIST values equal those in tensorflow-datasets'
# url_checksums/{mnist,fashion_mnist}.txt (and keras.datasets.fashion_mnist's).
# The original MNIST host, yann.lecun.com/exdb/mnist, now refuses scripted
# downloads, so the two mirrors below are the ones tfds and torchvision use.
_MNIST = _entries(
    "mnist",
    (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # tensorflow-datasets
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision
    ),
    """
    train-images-idx3-ubyte.gz 9912422 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609
    train-labels-idx1-ubyte.gz 28881 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c
    t10k-images-idx3-ubyte.gz 1648877 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6
    t10k-labels-idx1-ubyte.gz 4542 f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6
    """,
)

_FASHION_MNIST = _entries(
    "fashion-mnist",
    (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # keras.datasets
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # Zalando's own host
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
    """
    train-images-idx3-ubyte.gz 26421880 3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84
    train-labels-idx1-ubyte.gz 29515 a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845
    t10k-images-idx3-ubyte.gz 4422102 346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073
    t10k-labels-idx1-ubyte.gz 5148 67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5
    """,
)

# Download-only. sha256: keras/src/datasets/cifar10.py (keras 3.15, the file_hash of
# this exact URL). Size: the Content-Length www.cs.toronto.edu serves (170498071,
# as quoted by keras, torchvision and tfds download logs).
_CIFAR10 = (
    RemoteFile(
        "cifar10/cifar-10-python.tar.gz",
        ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        170498071,
    ),
)

_OMNIGLOT_RAW = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
_OMNIGLOT_GITHUB = "https://github.com/brendenlake/omniglot/raw/master/python/"  # what tfds uses
_OMNIGLOT = _entries(
    "omniglot",
    (_OMNIGLOT_RAW, _OMNIGLOT_GITHUB),
    """
    images_background_small1.zip 1319022 f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4
    images_background_small2.zip 1580917 3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f
    """,
) + _entries(
    "omniglot",
    (_OMNIGLOT_RAW + "one-shot-classification/", _OMNIGLOT_GITHUB + "one-shot-classification/"),
    "all_runs.zip 352787 437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
)

# Download-only. Size and sha256: tensorflow-datasets 4.9.10,
# tensorflow_datasets/url_checksums/omniglot.txt (its URLs are the github.com/.../raw/
# form of the same files).
_OMNIGLOT_FULL = _entries(
    "omniglot",
    (_OMNIGLOT_RAW, _OMNIGLOT_GITHUB),
    """
    images_background.zip 9464212 ad41ab679c8b5d90b271ef46be6987cc81211774a695c29dcc5367b2b26ee640
    images_evaluation.zip 6462886 1f61a8f3366785b057fc117d9228e78a16e3d976c8953b2a10fcc74cf0609cee
    """,
)

# zhixuhao/unet data/membrane at the commit the offline copies were checked against;
# master as a fallback (the checksums pin the bytes either way).
_UNET_COMMIT = "b45af4d458437d8281cc218a07fd4380818ece4a"
_MEMBRANE = _entries(
    "membrane",
    (
        f"https://raw.githubusercontent.com/zhixuhao/unet/{_UNET_COMMIT}/data/membrane/",
        "https://raw.githubusercontent.com/zhixuhao/unet/master/data/membrane/",
    ),
    """
    train/image/0.png 187651 12c0ed6f42fc09f512abf6b354f217c950e4c8223b57a0315449b62a14556523
    train/image/1.png 188189 2cfc7ee635a6f85d5faf5c82a71d3a37bf5af4784b554964e3e07193e3ee2166
    train/image/2.png 188971 fe60d8d4f93102666a23a18d718b4b59fab8e616987d11c5072f4a87fac7301f
    train/image/3.png 187963 636d16cbb02f99dda4c9fb6db98dfba066142afa981ffdcfaf54453982e8250c
    train/image/4.png 189054 991fb3a8e4abc73da1d6159ca28fa4397f0a8351f30a8ba3669c86414d2ce239
    train/image/5.png 183664 7e9d9fb787664336d6f2cd68b23986f04527e7f8f494410983b4d70c6de1de3b
    train/image/6.png 192916 7c0a87933ffc72f4ff02f5996d9c3f69fe9a0b5277507415743ad8afb5e5d308
    train/image/7.png 181724 19f2c25716107d41008c83ba8a814ae47a090e00dea766dde38dce1f00899270
    train/image/8.png 178028 a8979e4abd1a10af9ca75e614d97875659adbd8ee3a68eba483bf556cfe3023d
    train/image/9.png 189577 730ebf435ab0f6e625d342552ad03736799fd660d0c6af744674c61a46aa082a
    train/image/10.png 189050 7c3717bcd48c4b7e5c878d7f0b809b8687a4e6fac471f3863de320a82ee72b8a
    train/image/11.png 185739 dd7857b25ca1417f87c282750e22c50947f75e81fa032d4e0c96b902c9dc9757
    train/image/12.png 185884 9f8eff9239bb764d51524a998387a7babcff9f62161804651b030b81aabd5ab8
    train/image/13.png 188673 377e5cdbcd7f0ac7336f482fc7ead7446887863f26769b3841fe98aadca77dad
    train/image/14.png 188074 f50d2d77acd2df564c5f0f40b1b24cd929f5944460aa4cd90c422cb5cef33a59
    train/image/15.png 220502 3e13fdea09accc14f46fb2f3ffa1e882cdd9c53b28a6842c4c10229692c7d1a4
    train/image/16.png 215959 ffc951c12450f94129582c16fd0d4b165c4a31469b0c42d966f07c183d3132e2
    train/image/17.png 217858 0f4f7e8e0619e4c7d517ac68d3789a3b6248253747717eac418bb7d32bef4de3
    train/image/18.png 218408 1bb1edd50595861743d14e1955dfa5d3c9395fb87563eca6dc81433bf9df49de
    train/image/19.png 218527 999b55633f8d7082add72082656e9532c5c3d97203b376eb317f09ba88a5a5b7
    train/image/20.png 215775 9153d14bfd15955fab576ea23281c4f23104b45dceed6e03e0b254607f50a1b2
    train/image/21.png 223576 9ad07cf4f67984f17a08aa63e6d92d395ce55f5132e6ff4fa6d95d6890ea7f97
    train/image/22.png 218862 6278609b4c42a7cb43212de0e2e2ceded758bafe0856fb56214ce658a61668e4
    train/image/23.png 223127 9ef4e9fbc838b9791af83a36918d729a0ea2e90ebc71c4a3c4554059f9379756
    train/image/24.png 222814 f0f917b9c3e9c96d16ea287aff9b05ecf4de88bc61d478e4aefcb64932fba70c
    train/image/25.png 221564 e0154737e76392e8bf94fb2c0dfa5ddad4b53aeec942a0a8cdd8ba63443e6072
    train/image/26.png 220633 d0ff11e09b0ee0c817334946e746a38ab621161d5f9c46af95c68b851f8d9a1a
    train/image/27.png 219595 eed8e8bee1db8fe7af39b5b43ecf14282c5c33eca0959726eea06f662027eacc
    train/image/28.png 222756 974df4b51e8905bdaabe61e80496cbf331f5c9aa9ddc2cb94113f58c2b7d2837
    train/image/29.png 220730 d9ae868509c610a69acbf3d69cde4f36a8e344cbbc444f93c917bf7b9f3e784f
    train/label/0.png 14322 13b67edd7607a1f284c09170c96a27d38422b0ffaf88024ea5b689acb5e1b4b0
    train/label/1.png 13977 cff60a00de2901e67165c91d7708d784e4c5bcc9d1c8c677922c905d63bbc3d1
    train/label/2.png 14052 a578af998c017f56763b81941c4dc612dde5731809b2cea0e8ebc37aecb84dbb
    train/label/3.png 13829 c8ae3b843fed02e09411a24c10850160922c331041b17c2674025f05a99b8834
    train/label/4.png 14312 a2f19c01b5d982a97923a0d29e64127a05e3f496731480ac9d9d302b5427f7ff
    train/label/5.png 14048 2dd5779118f6f4d87f88ec112f1cea20663b50acb8c748b0db1f23eda82b5118
    train/label/6.png 14144 2b0984e9f31fb41d4c5f4a754a3e080036b7321a0cbd9591a62010d20a574ce7
    train/label/7.png 13714 2ebc8c835999589bfd7d80d81f83d24e5c41138362b0faafef0f009e1ce82144
    train/label/8.png 13275 db979010ca4fbdb38c8b32d455aed0da90d598153f2a0046b63d02a6efa32b9e
    train/label/9.png 14066 8ee6c79adbb740595c4d61776e065e7164c00d52c7dd7562b5279041e7f3567b
    train/label/10.png 12987 b0156cc8186b0ee521927ac95645b406a42d27564607a6fea3a59c34add78f7c
    train/label/11.png 12984 e47b3aa0cfb3106476af1666e631d45bd16dbf2aff88260ee65d16e4134332db
    train/label/12.png 12517 85a7a899c0b72b81633ad122887ba5161d650385d7775a5b3074eb00131b3620
    train/label/13.png 12912 88549c22fd647312d6b37e17d33e90800d347d60ccb1156a8dde5e67394f9f3d
    train/label/14.png 12795 bcd775017eb4fdbdfe7ad6cc6420b2f16aa9d0576894d08370edcf564b46680a
    train/label/15.png 12306 59a854887b504ff00a5b4b93b2299bbc0bf0cbe54dea58d2b31969229b28b369
    train/label/16.png 12333 b34eb88cdc3313a6f4190f5753465df7f69d8f3c243a5c25427b1b99ecfe2499
    train/label/17.png 11930 4fa076cbeb744803d987dc46cf308dc3026408e7a5188838e30e25fe3ea67dbe
    train/label/18.png 11629 bd009dda57f204804732f592ed1d41ba18961d83c492413fe71548efa4a288d9
    train/label/19.png 11662 bf38407c55b6033c1677230228ecb100a11294aa74a7b92e5edfdc4abadcfef9
    train/label/20.png 11970 7af7296f2e892866669d4e4f9c0d4178987e6ec6e7d0751ec238d1bbe2da9c55
    train/label/21.png 11617 772c722acb2eac01769b53fa5037a3d62745e53102398bf9b2202df605cadda4
    train/label/22.png 11674 b19f5533ec24077a2395a085fe53af75dd350ef03798c4ff40ba9ebecb2ee0ad
    train/label/23.png 12257 2d8f1df5c9ee83e59eb2d709eb153b0570f12e726690f586154b01b0a88bb540
    train/label/24.png 12080 6ab02d922b5c937ecfe2a479be87a5d3e5ef950dc48da09d31f37b47d899ca9c
    train/label/25.png 12226 c5ea59aca7789dd507ac31c4a82bbd4c172f9e3544f8e040442c20d1dfa9e16d
    train/label/26.png 12669 b056fae9f358111b6c9e2494bdba645f206be581959b8d3763e97d62a65dd961
    train/label/27.png 13023 5be3823a57c82b632cead6eb09f438c6010a244dc0975f2a3e466f45d2c06840
    train/label/28.png 13061 c0b0e2a2b7aad46919d1afc980f7d5e39101fb07948ce65d9cac802d8b47682e
    train/label/29.png 12983 1e8839a97178914171defd6a97158f06fcac1fc3f0d45f2acdff9c49ab3fced9
    test/0.png 214932 3c67a0f520d6504eecffe20fc2799287cad05e3d8915466c4127ee8463db03b6
    test/1.png 213325 73b2d6c585dd130b9e04c06ce4f7dd2c21496bc760c6088b948933d7a3ff44d8
    test/2.png 208337 33d0ba0f00760a8223d33e0d00f1fbd8992783c216f9fc386a2c7d62a31a3263
    test/3.png 208497 0507ff479733fefcbc00c68dc1b848dd7c15546e49241414d5a05beaf2092fbf
    test/4.png 211449 c75debf18db3b7e4476712d28bb6925e1d3b99287fc8808a3f8611f1f1ac9e6c
    test/5.png 211241 e2756965f5f7162c9bee9f05d6a6856d0ca310c736644000234cae634883c8f6
    test/6.png 211900 832c23a05680902deec4efe639373892b2cdc83ecfcdd6bc7b90f6f1d474379c
    test/7.png 220309 e673e89ac632bc3f13ff6dcd9d0f733b39d6618f21f015ed4106e1f32b3518f1
    test/8.png 207575 8064a6d599edadb9ebd0d23b3fe1a61a0c165445e2dfc1289af4e16509424344
    test/9.png 210859 6fe32299f09cfbff582cb90a39d1bd9214614a675be99e6729686f3a4d9b5a5f
    test/10.png 216258 8f907e1cfc8593527fb48c7fe08ba80eb380e0bfc0cdfe5eec8da0044eec0309
    test/11.png 212360 27ae843bb0a63ceded00acb182469a20292d70d717dc16296e6e1ea3e760dc7f
    test/12.png 218424 eb9eacb4cd836e84a36655e59c67c6ffc9be860ade97e585d21b1caf721acb2b
    test/13.png 216843 f7d454b79c73789c644c56d38a1adc57614fd45bbdaaeab25ad84aa9f36188f1
    test/14.png 215779 5e68324d85e271a23fb96da4425d12fb182ccad885edf63b5a33a4929e9f3788
    test/15.png 213389 874d88be3e6fb24ff4cc70cae292ec27462365c418a332631cb2ab17bac1bb47
    test/16.png 210724 69e09074fd73e5e9458067e77ba1d42bb212c350413f01b64e5d7269a1130588
    test/17.png 210481 95468c5106091112bff1fe694f06ac7af5f1b052e700fcbbe4492bcdd8cf47bf
    test/18.png 210865 090accd8da157be1f739a2bde77335216209ec854351d18d7d328ea2d3065c6a
    test/19.png 209276 fe7e8dd86300e462c2574f1c409510bb8bcb8b3ceb3c2bb28583e7241ab22f05
    test/20.png 208621 260b6e3e43a1c63da9779992ca90e692cd04e854029ef2f964010daf58ff4daf
    test/21.png 211595 cd82df9e4f7aa44a8d1172d4bac6f50dd3bc6dd063c1b3ad65647c4bc7749042
    test/22.png 208367 242289a02a83161b98553606654c17868818bdea638bc25c1208298501b92bfa
    test/23.png 206582 496786c0636607b2e086528d517e00c4444270d40972940c70f7ca93cc0cc173
    test/24.png 210164 a1979d58bceac2cd352a4aeb7a047c0e92d94c52a3cbc60abac67bb7a68865a1
    test/25.png 215046 8a078743880a854f2127cc59425c5a47bbf348b31ac2524cf7621eb108748c5a
    test/26.png 209065 2643df636a202d53bdc870bd1239db761d1b586e048cb6ddeb83310c9b76f6f4
    test/27.png 207301 36c4983e85e127a622e395842642dd0762657831901e70ff94647f3f808e53fe
    test/28.png 207668 0c2d296e0cd652b69198e9399e91bf2693101e58a8c878c6fe5a902d2b9448c5
    test/29.png 210419 e417ddbdcfed6b08b1c97d5a7796ed5b167ccc4caaf1226dc41dbb69cd724e25
    """,
)

DATASETS: Mapping[str, tuple[RemoteFile, ...]] = MappingProxyType(
    {
        "mnist": _MNIST,
        "fashion_mnist": _FASHION_MNIST,
        "cifar10": _CIFAR10,
        "omniglot": _OMNIGLOT,
        "omniglot_full": _OMNIGLOT_FULL,
        "membrane": _MEMBRANE,
    }
)

DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "mnist": "MNIST handwritten digits, the four original idx files",
        "fashion_mnist": "Fashion-MNIST clothing images, the four official idx files",
        "cifar10": "CIFAR-10 colour images, python version (download only)",
        "omniglot": "Omniglot small background sets and the 20 one-shot runs",
        "omniglot_full": "Omniglot full background and evaluation sets (download only)",
        "membrane": "ISBI-2012 EM membrane PNGs as in zhixuhao/unet",
    }
)

CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def dataset_names(names: Iterable[str] | None = None) -> list[str]:
    """Return registry names for ``names`` (all when None); accepts '-' for '_'; rejects unknown."""
    if names is None:
        return list(DATASETS)
    out = []
    for raw in names:
        name = raw.strip().lower().replace("-", "_")
        if name not in DATASETS:
            raise ValueError(f"Unknown dataset '{raw}'; known datasets: {', '.join(DATASETS)}.")
        if name not in out:
            out.append(name)
    return out


def _dataset_of(entry: RemoteFile) -> str | None:
    """Return the name of the dataset that lists ``entry``'s path, if any."""
    for name, entries in DATASETS.items():
        if any(e.path == entry.path for e in entries):
            return name
    return None


def _entry(dataset: str, path: str) -> RemoteFile:
    """Return the registry entry of ``path`` in ``dataset``."""
    for entry in DATASETS[dataset]:
        if entry.path == path:
            return entry
    raise KeyError(f"The data registry has no file '{path}' in dataset '{dataset}'.")


# ---------------------------------------------------------------------------
# Checking cached files
# ---------------------------------------------------------------------------

# (path, size, mtime, inode) -> sha256, so a file is hashed once per process.
_HASHES: dict[tuple[str, int, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_state(path: Path, entry: RemoteFile) -> tuple[str, str]:
    """Return ('ok' | 'missing' | 'corrupt', detail) for the file at ``path``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing", ""
    except OSError as exc:
        return "corrupt", f"unreadable: {_describe(exc)}"
    if not path.is_file():
        return "corrupt", "not a regular file"
    if entry.size is not None and st.st_size != entry.size:
        return "corrupt", f"{st.st_size} bytes, expected {entry.size}"
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    digest = _HASHES.get(key)
    if digest is None:
        try:
            digest = sha256_of(path)
        except OSError as exc:
            return "corrupt", f"unreadable: {_describe(exc)}"
        _HASHES[key] = digest
    if digest != entry.sha256:
        return "corrupt", f"checksum mismatch: sha256 {digest[:12]}..., expected {entry.sha256[:12]}..."
    return "ok", ""


# ---------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------


class _DownloadFailed(Exception):
    """A download that arrived but is unusable (truncated, wrong size, wrong checksum)."""


class _StoreFailed(Exception):
    """The cache folder could not be written; wraps the OSError."""

    def __init__(self, error: OSError) -> None:
        """Keep the OSError for the message."""
        super().__init__(str(error))
        self.error = error


def _describe(exc: BaseException) -> str:
    """Say in a few words what went wrong with a download or a file operation."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}" + (f" ({exc.reason})" if exc.reason else "")
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return _describe(reason) if isinstance(reason, BaseException) else str(reason)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return "host name not found (no internet connection?)"
    if isinstance(exc, TimeoutError):
        return f"timed out after {DOWNLOAD_TIMEOUT_S:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, http.client.HTTPException):
        return f"bad HTTP response ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _progress_bar(total: int | None, desc: str) -> Any:
    """Return a byte-counting tqdm bar: a widget in notebooks when ipywidgets is installed, else text."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:  # tqdm.auto would warn about the missing widgets, then fall back to text anyway
        from tqdm import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False)


def _download(url: str, out: io.BufferedWriter, entry: RemoteFile, progress: bool) -> None:
    """Download ``url`` into the open file ``out``, checking size and checksum; closes ``out``."""
    request = urllib.request.Request(url, headers={"User-Agent": "cnn-course-data/0.1"})
    digest, got = hashlib.sha256(), 0
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
        header = response.headers.get("Content-Length", "")
        announced = int(header) if header.strip().isdigit() else None
        if entry.size is not None and announced is not None and announced != entry.size:
            raise _DownloadFailed(
                f"wrong size: the server announces {announced} bytes, expected {entry.size}"
            )
        expected = entry.size if entry.size is not None else announced
        bar = _progress_bar(expected, entry.name) if progress else None
        try:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except http.client.IncompleteRead as exc:
                    got += len(exc.partial)
                    raise _DownloadFailed(f"truncated: got {got} of {expected} bytes") from None
                if not chunk:
                    break
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _StoreFailed(exc) from None
                digest.update(chunk)
                got += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
                if expected is not None and got > expected:
                    raise _DownloadFailed(f"wrong size: more than the expected {expected} bytes")
        finally:
            if bar is not None:
                bar.close()
    try:
        out.close()
    except OSError as exc:
        raise _StoreFailed(exc) from None
    if expected is not None and got < expected:
        raise _DownloadFailed(f"truncated: got {got} of {expected} bytes")
    if digest.hexdigest() != entry.sha256:
        raise _DownloadFailed(
            f"checksum mismatch (got sha256 {digest.hexdigest()[:12]}..., expected {entry.sha256[:12]}...)"
        )


def _check_writable(folder: Path) -> None:
    """Raise _StoreFailed unless ``folder`` is writable (no write bits at all counts, even for root)."""
    try:
        mode = folder.stat().st_mode
    except OSError as exc:
        raise _StoreFailed(exc) from None
    if not os.access(folder, os.W_OK) or not mode & 0o222:
        raise _StoreFailed(PermissionError(errno.EACCES, "Permission denied", str(folder)))


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents in a writable data folder; return those created."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            _check_writable(parent)
            break
        missing.append(parent)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _StoreFailed(exc) from None
    return missing[::-1]


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed fetch created, deepest first, if they are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _new_temp(target: Path) -> tuple[io.BufferedWriter, Path]:
    """Open a new temporary file next to ``target`` (same folder, so renaming is atomic)."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise _StoreFailed(exc) from None
    return os.fdopen(fd, "wb"), Path(name)


def _install(tmp: Path, target: Path) -> None:
    """Make the verified temporary file readable by all and rename it onto ``target``."""
    try:
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        raise _StoreFailed(exc) from None


def _discard(tmp: Path) -> None:
    """Delete a temporary file if it still exists."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _root_of(target: Path, entry: RemoteFile) -> Path:
    """Return the data folder that ``target``, the cached path of ``entry``, lies in."""
    root = target
    for _ in PurePosixPath(entry.path).parts:
        root = root.parent
    return root


def _where(target: Path, entry: RemoteFile, origin: str) -> str:
    """Say which data folder is in use and why."""
    return f"the data folder is {_root_of(target, entry)} ({origin})"


def _what(entry: RemoteFile) -> str:
    """Name a file and its dataset for a message."""
    dataset = _dataset_of(entry)
    return f"'{entry.path}'" + (f" of dataset '{dataset}'" if dataset else "")


def _found(target: Path, state: str, detail: str) -> str:
    """Say what the cache holds at ``target``."""
    if state == "missing":
        return f"it is not at {target}"
    return f"the copy at {target} is corrupt ({detail}) and was left untouched"


def _unavailable_message(
    entry: RemoteFile, target: Path, origin: str, state: str, detail: str, problems: list[str]
) -> str:
    """One paragraph: which file is missing or corrupt, what each URL gave, how to provide it."""
    dataset = _dataset_of(entry) or "NAME"
    tried = "; ".join(problems) if problems else "the registry lists no download address"
    return (
        f"Could not get the data file {_what(entry)}: {_found(target, state, detail)}, and downloading "
        f"it failed ({tried}). To provide it, run `python -m utils data fetch {dataset}` on a machine "
        f"with internet access and copy the file to {target}, or copy the file there yourself (its "
        f"SHA-256 must be {entry.sha256}), or run `python -m utils data import DIR` with a folder DIR "
        f"holding it as {entry.path}, or set COURSE_DATA_DIR to a folder that already holds it; "
        f"{_where(target, entry, origin)}."
    )


def _unwritable_message(
    entry: RemoteFile,
    target: Path,
    origin: str,
    state: str,
    detail: str,
    error: OSError,
    action: str = "downloaded",
) -> str:
    """One paragraph: the file is needed but the cache folder cannot be written."""
    dataset = _dataset_of(entry) or "NAME"
    where = Path(error.filename) if getattr(error, "filename", None) else target.parent
    return (
        f"Could not store the data file {_what(entry)}: {_found(target, state, detail)}, and the data "
        f"folder cannot be written ({_describe(error)}: {where}), so it was not {action}. Set "
        f"COURSE_DATA_DIR to a writable folder, or as a user who may write there run `python -m utils "
        f"data fetch {dataset}` or `python -m utils data import DIR`, or copy the file to {target} (its "
        f"SHA-256 must be {entry.sha256}); {_where(target, entry, origin)}."
    )


def fetch_file(entry: RemoteFile, *, progress: bool = True) -> Path:
    """Return the verified cached copy of ``entry``, downloading it first when missing or corrupt."""
    root, origin = _data_dir_and_origin()
    target = root / entry.path
    state, detail = _cached_state(target, entry)
    if state == "ok":
        return target
    problems: list[str] = []
    created: list[Path] = []
    try:
        created = _make_parents(target.parent)
        for url in entry.urls:
            out, tmp = _new_temp(target)
            try:
                with out:
                    _download(url, out, entry, progress)
                _install(tmp, target)
            except _DownloadFailed as exc:
                problems.append(f"{url}: {exc}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                problems.append(f"{url}: {_describe(exc)}")
            else:
                return target
            finally:
                _discard(tmp)
            if progress and url != entry.urls[-1]:
                print(f"{entry.name}: {problems[-1]}; trying the next mirror.")
    except _StoreFailed as exc:
        _remove_empty(created)
        message = _unwritable_message(entry, target, origin, state, detail, exc.error)
        raise DataUnavailableError(message) from None
    _remove_empty(created)
    raise DataUnavailableError(_unavailable_message(entry, target, origin, state, detail, problems))


# ---------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------


def _fetch(dataset: str, path: str, progress: bool) -> Path:
    """Fetch one registry file of ``dataset`` and return its cached path."""
    return fetch_file(_entry(dataset, path), progress=progress)


def read_idx(path: Path) -> np.ndarray:
    """Read a gzipped idx file (magic 2049: labels, 2051: images) into a uint8 array."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path} is not a readable gzip file ({exc}).") from None
    magic = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if magic not in (2049, 2051):
        raise DataFormatError(
            f"{path} is not an idx file of bytes: its magic number is {magic}, expected 2049 (labels) "
            "or 2051 (images)."
        )
    ndim = magic - 2048
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFormatError(f"{path} ends inside its idx header ({len(raw)} bytes).")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims))
    if len(raw) - header != count:
        raise DataFormatError(
            f"{path}: its idx header announces shape {tuple(dims)} ({count} bytes of data) but the "
            f"file holds {len(raw) - header} bytes of data."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _load_idx_dataset(
    dataset: str, folder: str, progress: bool
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the four idx files of an MNIST-format dataset as ((x, y), (x, y))."""
    splits = []
    for split in ("train", "t10k"):
        images_path = _fetch(dataset, f"{folder}/{split}-images-idx3-ubyte.gz", progress)
        labels_path = _fetch(dataset, f"{folder}/{split}-labels-idx1-ubyte.gz", progress)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataFormatError(
                f"{images_path} and {labels_path} do not match: images {images.shape}, labels "
                f"{labels.shape}; expected (N, rows, cols) images and N labels."
            )
        splits.append((images, labels))
    return splits[0], splits[1]


def load_mnist(
    *, progress: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return MNIST as ((x_train, y_train), (x_test, y_test)): uint8, x (N, 28, 28), y (N,)."""
    return _load_idx_dataset("mnist", "mnist", progress)


def load_fashion_mnist(
    *, progress: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return Fashion-MNIST like load_mnist; class names are in FASHION_MNIST_CLASSES."""
    return _load_idx_dataset("fashion_mnist", "fashion-mnist", progress)


def _cifar_batch(batch: Mapping[bytes, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Turn one unpickled CIFAR-10 batch into (x (N, 32, 32, 3), y (N,)) uint8 arrays."""
    try:
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFormatError(f"{where} is not a CIFAR-10 batch ({exc!r}).") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise DataFormatError(
            f"{where}: data {data.shape} and labels {labels.shape}; expected (N, 3072) and (N,)."
        )
    # Each row is channel-major: 1024 red, then 1024 green, then 1024 blue values.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar10(
    *, progress: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return CIFAR-10 as ((x_train, y_train), (x_test, y_test)): x (N, 32, 32, 3) uint8, y (N,)."""
    path = _fetch("cifar10", "cifar10/cifar-10-python.tar.gz", progress)
    wanted = {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch"}
    batches: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if member.isfile() and name.parent.name == "cifar-10-batches-py" and name.name in wanted:
                    f = tar.extractfile(member)
                    assert f is not None
                    # Safe to unpickle: the archive's SHA-256 was checked by fetch_file.
                    batch = pickle.load(f, encoding="bytes")
                    batches[name.name] = _cifar_batch(batch, f"{path}:{member.name}")
    except (tarfile.TarError, OSError, EOFError, zlib.error, pickle.UnpicklingError) as exc:
        raise DataFormatError(f"{path} is not a readable CIFAR-10 archive ({exc}).") from None
    missing = sorted(wanted - set(batches))
    if missing:
        raise DataFormatError(f"{path} lacks cifar-10-batches-py/{{{', '.join(missing)}}}.")
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    x_train = np.ascontiguousarray(np.concatenate([x for x, _ in train]))
    y_train = np.concatenate([y for _, y in train])
    x_test, y_test = batches["test_batch"]
    return (x_train, y_train), (np.ascontiguousarray(x_test), y_test)


def _read_png(data: bytes | Path, where: str) -> np.ndarray:
    """Decode a PNG (bytes or a path) to a 2-D uint8 grey-level array."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
            return np.asarray(image.convert("L"))
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise DataFormatError(f"{where} is not a readable PNG image ({exc}).") from None


OMNIGLOT_SUBSETS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "background_small1": ("omniglot", "omniglot/images_background_small1.zip"),
        "background_small2": ("omniglot", "omniglot/images_background_small2.zip"),
        "background": ("omniglot_full", "omniglot/images_background.zip"),
        "evaluation": ("omniglot_full", "omniglot/images_evaluation.zip"),
    }
)
OMNIGLOT_SIZE = 105


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


def _ink(data: bytes, where: str) -> np.ndarray:
    """Decode an Omniglot PNG (black strokes on white) to uint8 with 1 = ink."""
    grey = _read_png(data, where)
    if grey.shape != (OMNIGLOT_SIZE, OMNIGLOT_SIZE):
        raise DataFormatError(f"{where} is {grey.shape}, expected ({OMNIGLOT_SIZE}, {OMNIGLOT_SIZE}).")
    return (grey < 128).astype(np.uint8)


def _is_junk(name: str) -> bool:
    """Return True for macOS metadata entries in zips."""
    return "__MACOSX" in name or PurePosixPath(name).name.startswith("._")


def load_omniglot(subset: str = "background_small1", *, progress: bool = True) -> OmniglotSet:
    """Return an Omniglot image set: background_small1/2 (offline copies), background, evaluation."""
    if subset not in OMNIGLOT_SUBSETS:
        raise ValueError(f"Unknown Omniglot subset '{subset}'; choose one of {', '.join(OMNIGLOT_SUBSETS)}.")
    dataset, rel = OMNIGLOT_SUBSETS[subset]
    path = _fetch(dataset, rel, progress)
    try:
        with zipfile.ZipFile(path) as zf:
            members = []
            for name in zf.namelist():
                parts = PurePosixPath(name).parts
                if name.lower().endswith(".png") and not _is_junk(name) and len(parts) >= 3:
                    members.append((parts[-3], parts[-2], parts[-1], name))
            members.sort()
            if not members:
                raise DataFormatError(f"{path} holds no Alphabet/character/*.png images.")
            images = np.stack([_ink(zf.read(m[3]), f"{path}:{m[3]}") for m in members])
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFormatError(f"{path} is not a readable zip file ({exc}).") from None
    alphabet_names = sorted({m[0] for m in members})
    class_names = sorted({f"{m[0]}/{m[1]}" for m in members})
    alphabet_index = {a: i for i, a in enumerate(alphabet_names)}
    class_index = {c: i for i, c in enumerate(class_names)}
    return OmniglotSet(
        images=images,
        labels=np.array([class_index[f"{m[0]}/{m[1]}"] for m in members], dtype=np.int32),
        alphabets=np.array([alphabet_index[m[0]] for m in members], dtype=np.int32),
        class_names=class_names,
        alphabet_names=alphabet_names,
        subset=subset,
    )


def load_omniglot_one_shot_runs(*, progress: bool = True) -> list[OneShotRun]:
    """Return the 20 official 20-way one-shot runs (all_runs.zip), run01 first."""
    path = _fetch("omniglot", "omniglot/all_runs.zip", progress)
    runs = []
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            run_names = sorted(
                PurePosixPath(n).parts[0]
                for n in names
                if not _is_junk(n) and len(PurePosixPath(n).parts) == 2 and n.endswith("/class_labels.txt")
            )
            for run in run_names:
                where = f"{path}:{run}/class_labels.txt"
                # Each line: "runNN/test/itemKK.png runNN/training/classJJ.png" (test image, its class).
                pairs = [line.split() for line in zf.read(f"{run}/class_labels.txt").decode().splitlines()]
                pairs = [p for p in pairs if p]
                if any(len(p) != 2 or p[0] not in names or p[1] not in names for p in pairs):
                    raise DataFormatError(f"{where} has a line that is not two file names in the zip.")
                answer_of = dict(pairs)
                test_files = sorted(answer_of)
                train_files = sorted({p[1] for p in pairs})
                runs.append(
                    OneShotRun(
                        name=run,
                        train_images=np.stack([_ink(zf.read(f), f"{path}:{f}") for f in train_files]),
                        test_images=np.stack([_ink(zf.read(f), f"{path}:{f}") for f in test_files]),
                        answers=np.array(
                            [train_files.index(answer_of[t]) for t in test_files], dtype=np.int32
                        ),
                    )
                )
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{path} is not a readable one-shot runs zip ({exc}).") from None
    if not runs:
        raise DataFormatError(f"{path} holds no runNN/class_labels.txt.")
    return runs


def load_membrane(*, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (x_train, y_train, x_test) of shape (30, 512, 512) uint8; y = 1 on cell interior."""
    # In zhixuhao/unet's labels white (255) is cell interior and black (0) is membrane
    # boundary, so y_train = (label > 127) is 1 inside cells and 0 on membranes.
    def stack(folder: str, binary: bool = False) -> np.ndarray:
        """Fetch and decode the 30 PNGs of one folder, in numeric order."""
        entries = sorted(
            (e for e in DATASETS["membrane"] if PurePosixPath(e.path).parent == PurePosixPath(folder)),
            key=lambda e: int(PurePosixPath(e.path).stem),
        )
        images = []
        for entry in entries:
            path = fetch_file(entry, progress=progress)
            grey = _read_png(path, str(path))
            images.append((grey > 127).astype(np.uint8) if binary else grey)
        if not images or len({im.shape for im in images}) != 1:
            raise DataFormatError(f"The images in {folder} are missing or differ in size.")
        return np.stack(images)

    return stack("membrane/train/image"), stack("membrane/train/label", binary=True), stack("membrane/test")


# ---------------------------------------------------------------------------
# Command-line back-ends: status, fetch, import
# ---------------------------------------------------------------------------


def _folder_of(entries: Iterable[RemoteFile]) -> str:
    """Return the deepest folder (relative, POSIX) that holds all ``entries``."""
    parents = [str(PurePosixPath(e.path).parent) for e in entries]
    return os.path.commonpath(parents).replace(os.sep, "/") if parents else "."


def status(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Return one row per dataset: files present/valid/total, bytes, corrupt files, folder."""
    if data_dir is None:
        root, origin = _data_dir_and_origin()
    else:
        root, origin = Path(data_dir).expanduser(), "given"
    rows = []
    for name, entries in DATASETS.items():
        present = valid = size = 0
        corrupt = []
        for entry in entries:
            path = root / entry.path
            state, detail = _cached_state(path, entry)
            if state == "missing":
                continue
            present += 1
            try:
                size += path.stat().st_size
            except OSError:
                pass
            if state == "ok":
                valid += 1
            else:
                corrupt.append(f"{entry.path} ({detail})")
        sizes = [e.size for e in entries]
        rows.append(
            {
                "name": name,
                "description": DESCRIPTIONS.get(name, ""),
                "present": present,
                "valid": valid,
                "total": len(entries),
                "verified": valid == len(entries),
                "corrupt": corrupt,
                "bytes": size,
                "expected_bytes": None if None in sizes else sum(s or 0 for s in sizes),
                "path": str(root / _folder_of(entries)),
                "data_dir": str(root),
                "data_dir_origin": origin,
            }
        )
    return rows


def _human(size: int | None) -> str:
    """Format a byte count with a decimal unit (B, kB, MB, GB)."""
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _state_word(row: Mapping[str, Any]) -> str:
    """Summarise a status row in one word."""
    if row["corrupt"]:
        return f"CORRUPT ({len(row['corrupt'])})"
    if row["verified"]:
        return "verified"
    return "missing" if row["present"] == 0 else "incomplete"


def format_status(rows: list[dict[str, Any]]) -> str:
    """Format status() rows as an aligned table with a hint on how to get what is missing."""
    lines = []
    if rows:
        lines.append(f"Data folder: {rows[0]['data_dir']} ({rows[0].get('data_dir_origin', '')})")
    table = [("dataset", "files", "state", "size", "folder")]
    for row in rows:
        size = _human(row["bytes"])
        if not row["verified"]:
            size += f" of {_human(row['expected_bytes'])}"
        table.append((row["name"], f"{row['present']}/{row['total']}", _state_word(row), size, row["path"]))
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        lines.append("  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3]), r[4]]))  # fmt: skip
    for row in rows:
        for item in row["corrupt"]:
            lines.append(f"Corrupt: {item}; it is replaced only by a verified download or import.")
    if any(not row["verified"] for row in rows):
        lines.append(
            "Get what is missing with `python -m utils data fetch NAME` (needs internet), or copy the "
            "files from another machine with `python -m utils data import DIR`."
        )
    return "\n".join(lines)


def fetch(names: list[str] | None = None, progress: bool = True) -> None:
    """Download and verify every file of the named datasets (all when None); raise if any fails."""
    failures = []
    for name in dataset_names(names):
        entries = DATASETS[name]
        try:
            for entry in entries:
                fetch_file(entry, progress=progress)
        except DataUnavailableError as exc:
            failures.append(str(exc))
            if progress:
                print(f"{name}: FAILED (see below)")
            continue
        if progress:
            print(f"{name}: {len(entries)} file(s) verified in {data_dir() / _folder_of(entries)}")
    if failures:
        raise DataUnavailableError("\n\n".join(failures))


def _copy_verified(source: Path, target: Path, entry: RemoteFile) -> str | None:
    """Copy ``source`` onto ``target`` atomically; return a problem, or None when copied and verified."""
    created = _make_parents(target.parent)
    tmp = None
    try:
        out, tmp = _new_temp(target)
        digest = hashlib.sha256()
        with out, open(source, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:
                    raise _StoreFailed(exc) from None
        if digest.hexdigest() != entry.sha256:  # it changed since it was checked
            _remove_empty(created)
            return f"{source} (changed while it was being copied)"
        _install(tmp, target)
    except _StoreFailed:
        _remove_empty(created)
        raise
    finally:
        if tmp is not None:
            _discard(tmp)
    return None


def import_dir(source: Path) -> list[str]:
    """Copy every registry file found under ``source`` (same layout) into the cache, verified."""
    source = Path(source).expanduser()
    if not source.is_dir():
        raise DataUnavailableError(f"Cannot import data from {source}: it is not a folder.")
    root, origin = _data_dir_and_origin()
    imported: list[str] = []
    problems: list[str] = []
    for entries in DATASETS.values():
        for entry in entries:
            src, target = source / entry.path, root / entry.path
            if not src.is_file():
                continue
            if _cached_state(target, entry)[0] == "ok":
                continue
            state, detail = _cached_state(src, entry)
            if state != "ok":
                problems.append(f"{src} ({detail})")
                continue
            try:
                problem = _copy_verified(src, target, entry)
            except _StoreFailed as exc:
                cached_state, cached_detail = _cached_state(target, entry)
                message = _unwritable_message(
                    entry, target, origin, cached_state, cached_detail, exc.error, action="imported"
                )
                if imported:
                    message += f" Imported before that: {', '.join(imported)}."
                raise DataUnavailableError(message) from None
            if problem:
                problems.append(problem)
            else:
                imported.append(entry.path)
    if problems:
        raise DataUnavailableError(
            f"Imported {len(imported)} file(s) from {source} into {root}"
            + (f" ({', '.join(imported)})" if imported else "")
            + f", but {len(problems)} file(s) there do not match the course's checksums and were not "
            f"imported: {'; '.join(problems)}. Replace them with the canonical files (`python -m utils "
            f"data fetch NAME` on a machine with internet access downloads and verifies them)."
        )
    return imported


# ---------------------------------------------------------------------------
# tf.data
# ---------------------------------------------------------------------------


def make_dataset(
    x: Any,
    y: Any = None,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = 0,
    map_fn: Callable[..., Any] | None = None,
    drop_remainder: bool = False,
    cache: bool = False,
    map_per: str = "batch",
    autotune: bool | None = None,
) -> tf.data.Dataset:
    """Batch (x, y) into a deterministic tf.data pipeline: shuffle, map per batch or example, prefetch."""
    import tensorflow as tf

    if autotune is None:  # the profile's choice (utils.training): on for GPUs, off on small CPUs
        from utils.training import settings

        autotune = settings().autotune

    if map_per not in ("batch", "example"):
        raise ValueError(f"map_per must be 'batch' or 'example', not {map_per!r}.")
    data = x if y is None else (x, y)
    count = len(tf.nest.flatten(x)[0])
    ds = tf.data.Dataset.from_tensor_slices(data)
    if map_fn is not None and map_per == "example":
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:  # after a per-example map: keeps its results (use a deterministic map_fn)
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if map_fn is not None and map_per == "batch":
        ds = ds.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.prefetch(tf.data.AUTOTUNE if autotune else 2)
    options = tf.data.Options()
    options.autotune.enabled = bool(autotune)  # TF's autotuner stalls seconds between epochs on small CPUs
    options.deterministic = True
    return ds.with_options(options)
