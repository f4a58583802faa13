"""The course's model zoo: pretrained encoders for transfer learning (Lab 5).

Two sources of pretrained encoders:

* **The course's own.** A small convolutional network trained on one part of a
  real dataset, Fashion-MNIST classes 0-4 (T-shirt/top, trouser, pullover, dress,
  coat), so the transfer-learning lab works fully offline. :func:`course_encoder`
  returns it: it loads the cached ``.keras`` file when there is one and otherwise
  trains the network (printing progress) and saves it atomically for later runs.
  The file's name carries a key of its settings (:class:`EncoderConfig`), so the
  smoke, cpu and gpu profiles each keep their own encoder and never clash.
  ``python -m utils zoo build`` trains it ahead of time; ``python -m utils zoo
  status`` shows what is cached.
* **ImageNet.** MobileNetV2 with ImageNet weights through ``keras.applications``
  (:func:`imagenet_encoder`), used only when the weights file is already in the
  Keras model cache (``$KERAS_HOME/models``, default ``~/.keras/models``) or when
  the caller allows a download (the gpu profile). Otherwise it prints a notice
  saying why it is skipped and how to provide the file, and returns None.

Cache folder of the course's encoders: ``$COURSE_MODEL_DIR`` (a relative path is
taken from the repository root), else ``$XDG_CACHE_HOME/cnn-course/models``, else
``~/.cache/cnn-course/models``: the ``models`` folder next to the default data
cache; when that cannot be written, ``cnn-course-$USER/models`` in the temporary directory. It deliberately does not follow ``$COURSE_DATA_DIR``, which often points at
a read-only shared copy of the datasets. When the folder cannot be written, the
encoder is still trained and returned, with a notice that it could not be saved.

TensorFlow and Keras are imported only inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from utils import data, training
from utils.data import store
from utils.paths import model_dir

if TYPE_CHECKING:
    import keras

FORMAT_VERSION = 2  # bump when the architecture or training recipe changes: old files are then ignored
DOWNLOAD_TIMEOUT_S = 30.0
LAB = "transfer"  # the lab in utils.profiles whose zoo_* settings define each profile's encoder

# keras.applications' own address for MobileNetV2 weights (keras/src/applications/mobilenet_v2.py).
IMAGENET_BASE_URL = "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/"
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
IMAGENET_SIZES = (96, 128, 160, 192, 224)
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class ZooError(RuntimeError):
    """A pretrained encoder that could not be built, stored or downloaded."""


# ---------------------------------------------------------------------------
# Cache folders
# ---------------------------------------------------------------------------


def keras_model_cache() -> Path:
    """Return the Keras model cache where keras.applications keeps weights: $KERAS_HOME/models or ~/.keras/models."""
    home = os.environ.get("KERAS_HOME", "").strip()
    return (Path(home).expanduser() if home else Path.home() / ".keras") / "models"


# ---------------------------------------------------------------------------
# The course's own encoder
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderConfig:
    """How the course's encoder is built and trained; its :meth:`key` names the cached file.

    The network is ``conv_base`` (rescaling, then one 3x3 convolution, batch norm, ReLU
    and 2x2 max-pooling per entry of ``filters``, then global average pooling),
    followed by the fully connected layers ``fc1`` (``fc_units``, ReLU) and ``logits``
    (one unit per source class).
    """

    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    filters: tuple[int, ...] = (32, 64, 128)
    fc_units: int = 128
    train_size: int = 30_000  # source images used for training (at most 6,000 per class exist)
    epochs: int = 5
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        """Store sequences as tuples of ints so equal settings give equal keys."""
        object.__setattr__(self, "source_classes", tuple(int(c) for c in self.source_classes))
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        if not self.filters or not self.source_classes:
            raise ValueError("an encoder needs at least one filter count and one source class")

    @classmethod
    def from_lab(cls, values: Mapping[str, Any] | Any) -> "EncoderConfig":
        """Build the config from a lab's settings: the keys zoo_<field> (a LabConfig or a dict)."""
        mapping = values.as_dict() if hasattr(values, "as_dict") else dict(values)
        chosen = {f.name: mapping[f"zoo_{f.name}"] for f in fields(cls) if f"zoo_{f.name}" in mapping}
        return cls(**chosen)

    def key(self) -> str:
        """Return a short, readable, unique name for these settings."""
        settings = json.dumps({"version": FORMAT_VERSION, **asdict(self)}, sort_keys=True)
        digest = hashlib.sha256(settings.encode()).hexdigest()[:10]
        classes = "".join(str(c) for c in self.source_classes)
        widths = "-".join(str(f) for f in self.filters)
        return f"fashion-mnist-{classes}_c{widths}_fc{self.fc_units}_n{self.train_size}_e{self.epochs}_{digest}"

    @property
    def filename(self) -> str:
        """The cached file's name."""
        return f"encoder_{self.key()}.keras"

    def describe(self) -> str:
        """Say in one phrase what the encoder is."""
        classes = ", ".join(str(c) for c in self.source_classes)
        widths = "-".join(str(f) for f in self.filters)
        return (
            f"a {len(self.filters)}-block CNN ({widths} filters, fc {self.fc_units}) trained on up to "
            f"{self.train_size:,} Fashion-MNIST images of classes {classes} for {self.epochs} epoch(s)"
        )


def config_for_profile(profile: str | None = None) -> EncoderConfig:
    """Return the encoder config of a profile (default: the active one) from Lab 5's zoo_* settings."""
    from utils.profiles import get_profile

    return EncoderConfig.from_lab(get_profile(profile).lab(LAB))


def encoder_path(config: EncoderConfig) -> Path:
    """Return where the encoder of ``config`` is cached."""
    return model_dir() / config.filename


def build_encoder(config: EncoderConfig, image_shape: tuple[int, int, int] = (28, 28, 1)) -> "keras.Model":
    """Return the untrained classifier: Input -> conv_base (a nested model) -> fc1 -> logits."""
    import keras

    layers = keras.layers
    inputs = keras.Input(image_shape, name="image")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    for i, width in enumerate(config.filters, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)  # short trainings: fast-moving statistics
        x = layers.ReLU(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    features = layers.GlobalAveragePooling2D(name="gap")(x)
    conv_base = keras.Model(inputs, features, name="conv_base")

    image = keras.Input(image_shape, name="image")
    hidden = layers.Dense(config.fc_units, activation="relu", name="fc1")(conv_base(image))
    logits = layers.Dense(len(config.source_classes), name="logits")(hidden)
    return keras.Model(image, logits, name="course_encoder")


def source_data(
    config: EncoderConfig,
) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """Return the pretraining data: Fashion-MNIST images of the source classes, labels renumbered 0..K-1.

    Images are float32 (N, 28, 28, 1) in 0..255 (the encoder rescales them itself).
    The training set holds the first ``train_size`` source images; the test set all of them.
    """
    import numpy as np

    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[list(config.source_classes)] = np.arange(len(config.source_classes))

    def select(x: Any, y: Any, limit: int | None) -> tuple[Any, Any]:
        keep = np.flatnonzero(lookup[y] >= 0)[:limit]
        return x[keep, :, :, None].astype(np.float32), lookup[y[keep]]

    return select(x_train, y_train, config.train_size), select(x_test, y_test, None)


def train_encoder(config: EncoderConfig, progress: bool = True) -> tuple["keras.Model", dict[str, Any]]:
    """Train the encoder of ``config`` on its source data; return (model, facts about the run)."""
    import keras

    (x_train, y_train), (x_test, y_test) = source_data(config)
    keras.utils.set_random_seed(config.seed)
    model = build_encoder(config, image_shape=x_train.shape[1:])
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        training.make_dataset(x_train, y_train, batch_size=config.batch_size, shuffle=True, seed=config.seed),
        epochs=config.epochs,
        verbose=2 if progress else 0,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(training.make_dataset(x_test, y_test, batch_size=1000), verbose=0)
    facts = {
        "config": asdict(config),
        "key": config.key(),
        "train_images": int(len(x_train)),
        "source_test_accuracy": round(float(accuracy), 4),
        "train_seconds": round(seconds, 1),
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    return model, facts


def _save_atomically(model: "keras.Model", facts: Mapping[str, Any], target: Path) -> None:
    """Save ``model`` to ``target`` via a temporary file in the same folder and a rename; write facts beside it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".keras")
    os.close(fd)
    tmp = Path(name)
    meta_tmp = tmp.with_suffix(".json")
    try:
        model.save(tmp)
        meta_tmp.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        for path in (tmp, meta_tmp):
            os.chmod(path, 0o644)
        os.replace(tmp, target)  # the model first: a reader never finds facts without their model
        os.replace(meta_tmp, target.with_suffix(".json"))
    finally:
        for path in (tmp, meta_tmp):
            path.unlink(missing_ok=True)


def read_facts(config: EncoderConfig) -> dict[str, Any]:
    """Return what was recorded when the cached encoder was trained (empty when unknown)."""
    try:
        return json.loads(encoder_path(config).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _load(path: Path) -> "keras.Model":
    """Load a cached encoder (without its optimizer state)."""
    import keras

    return keras.models.load_model(path, compile=False)


def course_encoder(
    config: EncoderConfig | None = None, *, rebuild: bool = False, progress: bool = True
) -> "keras.Model":
    """Return the course's pretrained encoder: the cached file if there is one, else train, save and return it.

    ``config`` defaults to the active profile's (:func:`config_for_profile`). The result is
    the whole pretrained classifier; its layers ``conv_base`` (a nested model), ``fc1`` and
    ``logits`` are what the lab keeps, replaces or freezes.
    """
    config = config or config_for_profile()
    path = encoder_path(config)
    if path.is_file() and not rebuild:
        try:
            model = _load(path)
        except Exception as exc:  # noqa: BLE001 - a broken cache file is rebuilt, never fatal
            print(f"The cached encoder {path} could not be read ({type(exc).__name__}: {_one_line(exc)}); "
                  "training it again.")
        else:
            facts = read_facts(config)
            accuracy = facts.get("source_test_accuracy")
            detail = f", source test accuracy {accuracy:.4f}" if isinstance(accuracy, float) else ""
            print(f"Course encoder: loaded {path.name} from {path.parent} ({config.describe()}{detail}).")
            return model
    if progress:
        print(f"Course encoder: not cached yet, training {config.describe()}; it is saved to {path} "
              "and later runs load it.")
    model, facts = train_encoder(config, progress=progress)
    try:
        _save_atomically(model, facts, path)
    except OSError as exc:
        print(f"Notice: the course encoder could not be saved to {path} ({_describe(exc)}), so the next run "
              "trains it again; set COURSE_MODEL_DIR to a writable folder to keep it.")
    else:
        if progress:
            print(f"Course encoder: trained in {facts['train_seconds']:.0f} s, source test accuracy "
                  f"{facts['source_test_accuracy']:.4f}; saved to {path}.")
    return model


# ---------------------------------------------------------------------------
# ImageNet weights through keras.applications
# ---------------------------------------------------------------------------


def _check_imagenet_choice(alpha: float, size: int) -> None:
    """Raise ValueError unless keras.applications publishes MobileNetV2 weights for (alpha, size)."""
    if float(alpha) not in IMAGENET_ALPHAS or int(size) not in IMAGENET_SIZES:
        raise ValueError(
            f"MobileNetV2 ImageNet weights exist for alpha in {IMAGENET_ALPHAS} and square inputs of "
            f"{IMAGENET_SIZES} pixels, not alpha={alpha}, size={size}."
        )


def imagenet_weights_name(alpha: float = 0.35, size: int = 96) -> str:
    """Return the file name keras.applications uses for MobileNetV2 ImageNet weights without the top."""
    _check_imagenet_choice(alpha, size)
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{int(size)}_no_top.h5"


def imagenet_weights_path(alpha: float = 0.35, size: int = 96) -> Path:
    """Return where the Keras model cache keeps those weights (whether or not the file is there)."""
    return keras_model_cache() / imagenet_weights_name(alpha, size)


def imagenet_weights_cached(alpha: float = 0.35, size: int = 96) -> bool:
    """Return True when the weights file is in the Keras model cache and looks like an HDF5 file."""
    return _is_hdf5(imagenet_weights_path(alpha, size))


def _is_hdf5(path: Path) -> bool:
    """Return True for an existing file that starts with the HDF5 signature."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(_HDF5_MAGIC)) == _HDF5_MAGIC
    except OSError:
        return False


def fetch_imagenet_weights(alpha: float = 0.35, size: int = 96, progress: bool = True) -> Path:
    """Download the MobileNetV2 weights into the Keras model cache (atomically) unless already there."""
    target = imagenet_weights_path(alpha, size)
    if _is_hdf5(target):
        return target
    url = IMAGENET_BASE_URL + target.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise ZooError(f"the Keras model cache {target.parent} cannot be written ({_describe(exc)})") from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "cnn-course-zoo/0.1"})
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
                header = response.headers.get("Content-Length", "")
                total = int(header) if header.strip().isdigit() else None
                bar = store.progress_bar(total, target.name) if progress else None
                got = 0
                try:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                        got += len(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
        if total is not None and got != total:
            raise ZooError(f"downloading {url} failed (truncated: got {got} of {total} bytes)")
        if not _is_hdf5(tmp):
            raise ZooError(f"downloading {url} failed (the server sent something that is not an HDF5 weights file)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except ZooError:
        raise
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
        raise ZooError(f"downloading {url} failed ({_describe(exc)})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target


def imagenet_encoder(
    alpha: float = 0.35, size: int = 96, *, download: bool = False, progress: bool = True
) -> "keras.Model | None":
    """Return MobileNetV2 with ImageNet weights as an encoder of 28x28 grey images, or None with a notice.

    The weights are used when they are in the Keras model cache; when they are not, they
    are downloaded only if ``download`` is true (the gpu profile). The returned model takes
    images (N, 28, 28, 1) in 0..255, resizes them to ``size`` pixels, repeats the grey
    channel three times, scales to [-1, 1] as MobileNetV2 expects, and returns its
    globally average-pooled features; the MobileNetV2 inside is the layer named ``mobilenet``.
    """
    path = imagenet_weights_path(alpha, size)
    if not _is_hdf5(path):
        if not download:
            print(
                f"Notice: ImageNet weights skipped. {path.name} is not in the Keras model cache "
                f"({path.parent}) and this profile does not download it; to use them, run "
                "`python -m utils zoo build --imagenet` on a machine with internet access and copy "
                f"the file to {path}, or use the gpu profile."
            )
            return None
        try:
            if progress:
                print(f"Downloading ImageNet weights {path.name} into {path.parent}...")
            path = fetch_imagenet_weights(alpha, size, progress=progress)
        except ZooError as exc:
            print(f"Notice: ImageNet weights skipped: {exc}.")
            return None
    import keras

    mobilenet = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, include_top=False, weights=str(path), pooling="avg",
        name="mobilenet",
    )
    grey = keras.Input((28, 28, 1), name="image")
    rgb = keras.layers.Resizing(size, size, name="resize")(grey)
    rgb = keras.layers.Concatenate(name="grey_to_rgb")([rgb, rgb, rgb])
    rgb = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_minus1_1")(rgb)
    encoder = keras.Model(grey, mobilenet(rgb), name="imagenet_encoder")
    if progress:
        print(f"ImageNet encoder: MobileNetV2 (alpha {alpha}, {size} px) with weights {path}.")
    return encoder


# ---------------------------------------------------------------------------
# Status and messages
# ---------------------------------------------------------------------------


def status(profiles: tuple[str, ...] | None = None, alpha: float = 0.35, size: int = 96) -> list[dict[str, Any]]:
    """Return one row per profile's course encoder and one for the ImageNet weights: what is cached where."""
    from utils.profiles import PROFILES

    rows = []
    for profile in profiles or PROFILES:
        config = config_for_profile(profile)
        path = encoder_path(config)
        facts = read_facts(config) if path.is_file() else {}
        rows.append({
            "name": f"course encoder ({profile})",
            "path": str(path),
            "cached": path.is_file(),
            "size": path.stat().st_size if path.is_file() else None,
            "detail": (f"source test accuracy {facts['source_test_accuracy']:.4f}"
                       if "source_test_accuracy" in facts else config.describe()),
        })
    weights = imagenet_weights_path(alpha, size)
    rows.append({
        "name": f"ImageNet MobileNetV2 {alpha} {size}px",
        "path": str(weights),
        "cached": _is_hdf5(weights),
        "size": weights.stat().st_size if weights.is_file() else None,
        "detail": "keras.applications weights (download-only)",
    })
    return rows


def format_status(rows: list[dict[str, Any]]) -> str:
    """Format :func:`status` rows as a small table, with the cache folders."""
    width = max(len(r["name"]) for r in rows)
    lines = [f"Course encoders: {model_dir()}", f"Keras model cache: {keras_model_cache()}"]
    for row in rows:
        state = "cached " if row["cached"] else "missing"
        size = f"{row['size'] / 1e6:6.1f} MB" if row["size"] else " " * 9
        lines.append(f"  {row['name']:<{width}}  {state}  {size}  {Path(row['path']).name}  ({row['detail']})")
    return "\n".join(lines)


def _describe(exc: BaseException) -> str:
    """Say in a few words what went wrong with a download or a file operation."""
    return store.describe_error(exc)


def _one_line(exc: BaseException) -> str:
    """Return an exception's message on one short line."""
    text = " ".join(str(exc).split()) or "(no message)"
    return text if len(text) <= 200 else text[:197] + "..."
