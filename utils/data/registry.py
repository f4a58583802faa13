"""The registry of canonical data files, and of the tensorflow-datasets builders made from them.

Every dataset the labs use is a set of canonical public files (the original idx
``.gz`` files, archives, zips and PNGs, never re-packed copies), listed in
:data:`DATASETS` with their download addresses, sizes and SHA-256 checksums.
:data:`TFDS` says which tensorflow-datasets builder prepares each dataset from
those files, and :data:`LAB_DATASETS` which datasets each lab needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Iterable, Mapping
import os


class DataUnavailableError(RuntimeError):
    """A data file is missing or corrupt and could not be downloaded or stored."""


class DataFormatError(ValueError):
    """A data file or a prepared dataset does not have the format its reader expects."""


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

# Download-only. The binary archive, which tensorflow-datasets' cifar10 builder reads;
# size and sha256: tensorflow_datasets/url_checksums/cifar10.txt (tfds 4.9.10).
_CIFAR10 = (
    RemoteFile(
        "cifar10/cifar-10-binary.tar.gz",
        ("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",),
        "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        170052171,
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
        "cifar10": "CIFAR-10 colour images, binary version (download only)",
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


def dataset_of(entry: RemoteFile) -> str | None:
    """Return the name of the dataset that lists ``entry``'s path, if any."""
    for name, entries in DATASETS.items():
        if any(e.path == entry.path for e in entries):
            return name
    return None


def entry_of(dataset: str, path: str) -> RemoteFile:
    """Return the registry entry of ``path`` in ``dataset``."""
    for entry in DATASETS[dataset]:
        if entry.path == path:
            return entry
    raise KeyError(f"The data registry has no file '{path}' in dataset '{dataset}'.")



def folder_of(entries: Iterable[RemoteFile]) -> str:
    """Return the deepest folder (relative, POSIX) that holds all ``entries``."""
    parents = [str(PurePosixPath(e.path).parent) for e in entries]
    return os.path.commonpath(parents).replace(os.sep, "/") if parents else "."


@dataclass(frozen=True)
class TfdsSpec:
    """A tensorflow-datasets builder and the registry datasets whose files it is prepared from."""

    builder: str  # the name tfds.load takes, with its config: "mnist", "omniglot_course/small1"
    files: tuple[str, ...]  # registry datasets whose files are its manual_dir inputs
    folder: str  # the manual_dir, relative to the data folder
    course: bool = False  # a builder of the course's own (utils.data.builders), not one of tfds's

    @property
    def name(self) -> str:
        """The builder's name without its config."""
        return self.builder.split("/")[0]


# The course's names for what the labs load, each prepared by one tfds builder.
# mnist, fashion_mnist and cifar10 are tfds's own builders, which find the
# canonical files in manual_dir under the names in tfds's url_checksums. tfds's
# omniglot needs the full background and evaluation zips even to prepare the
# small sets, and Lake's runs and the ISBI membranes are not tfds datasets: the
# course's builders cover those.
TFDS: Mapping[str, TfdsSpec] = MappingProxyType(
    {
        "mnist": TfdsSpec("mnist", ("mnist",), "mnist"),
        "fashion_mnist": TfdsSpec("fashion_mnist", ("fashion_mnist",), "fashion-mnist"),
        "cifar10": TfdsSpec("cifar10", ("cifar10",), "cifar10"),
        "omniglot_small1": TfdsSpec("omniglot_course/small1", ("omniglot",), "omniglot", course=True),
        "omniglot_small2": TfdsSpec("omniglot_course/small2", ("omniglot",), "omniglot", course=True),
        "omniglot_runs": TfdsSpec("omniglot_one_shot_runs", ("omniglot",), "omniglot", course=True),
        "omniglot": TfdsSpec("omniglot", ("omniglot_full", "omniglot"), "omniglot"),
        "membrane": TfdsSpec("isbi2012_membrane", ("membrane",), "membrane", course=True),
    }
)

# What each lab loads in the cpu and smoke profiles, and what the gpu profile adds
# (Lab 4 trains on CIFAR-10, Lab 7 on the full background set).
LAB_DATASETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "01": ("mnist",),
        "02": ("mnist", "membrane"),
        "03": ("fashion_mnist",),
        "04": ("fashion_mnist",),
        "05": ("fashion_mnist", "mnist"),
        "06": ("mnist", "membrane"),
        "07": ("omniglot_small1", "omniglot_small2", "omniglot_runs"),
    }
)
GPU_LAB_DATASETS: Mapping[str, tuple[str, ...]] = MappingProxyType({"04": ("cifar10",), "07": ("omniglot",)})
