"""utils.zoo: the course-encoder cache and the ImageNet-weights loading path, offline.

No test touches the internet: the ImageNet weights file is one the test saves itself
(MobileNetV2 with random weights) and serves from an http.server on 127.0.0.1; every
cache (course encoders, the Keras model cache) lives under tmp_path. The course-encoder
tests train a tiny encoder on the offline Fashion-MNIST copy (skipped when absent).
"""

from __future__ import annotations

import io
import socket
from pathlib import Path

import numpy as np
import pytest

from utils import zoo
from utils.profiles import LABS, PROFILES

TINY = zoo.EncoderConfig(filters=(4,), fc_units=8, train_size=300, epochs=1, batch_size=100)


@pytest.fixture
def keras_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "keras-home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home / "models"


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_datasets: Path) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("COURSE_MODEL_DIR", str(folder))
    monkeypatch.setenv("COURSE_DATA_DIR", str(shared_datasets))
    return folder


@pytest.fixture(scope="module")
def weights_file() -> tuple[bytes, np.ndarray]:
    """MobileNetV2 (alpha 0.35, 96 px, no top) with random weights in keras.applications' HDF5 layout, and its
    first convolution's kernel."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(3)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, include_top=False, weights=None)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return buffer.getvalue(), np.asarray(model.get_layer("Conv1").kernel)


def closed_port_base() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused, as when offline)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/weights/"


# ---------------------------------------------------------------------------
# Settings and cache folders
# ---------------------------------------------------------------------------


def test_profiles_share_an_encoder_exactly_when_their_settings_agree() -> None:
    configs = {}
    for profile in PROFILES:
        configs[profile] = config = zoo.config_for_profile(profile)
        values = LABS[zoo.LAB][profile]
        assert config.filters == tuple(values["zoo_filters"]) and config.epochs == values["zoo_epochs"]
    for a in PROFILES:
        for b in PROFILES:
            assert (configs[a].key() == configs[b].key()) == (configs[a] == configs[b]), (a, b)
    assert configs["smoke"] == configs["cpu"], "smoke shares cpu's encoder (see utils/profiles.py)"
    assert configs["gpu"].key() != configs["cpu"].key()


def test_key_follows_settings_only() -> None:
    same = zoo.EncoderConfig(filters=[4], fc_units=8, train_size=300, epochs=1, batch_size=100)
    assert same.key() == TINY.key() and TINY.filename.startswith("encoder_fashion-mnist-01234_c4_fc8")
    assert zoo.EncoderConfig(filters=(4,), fc_units=8, train_size=300, epochs=2, batch_size=100).key() != TINY.key()
    assert zoo.EncoderConfig.from_lab({"zoo_filters": (4,), "zoo_fc_units": 8, "other": 1}).filters == (4,)
    with pytest.raises(ValueError):
        zoo.EncoderConfig(filters=())


def test_model_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_MODEL_DIR", str(tmp_path / "m"))
    assert zoo.model_dir() == tmp_path / "m"
    monkeypatch.setenv("COURSE_MODEL_DIR", "build/models")
    assert zoo.model_dir() == Path(zoo.__file__).resolve().parents[1] / "build" / "models"
    monkeypatch.delenv("COURSE_MODEL_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert zoo.model_dir() == tmp_path / "xdg" / "cnn-course" / "models"


def test_model_dir_falls_back_to_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache's parent should be")
    monkeypatch.delenv("COURSE_MODEL_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "cache"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    folder = zoo.model_dir()
    assert folder.parent.parent == tmp_path / "tmp" and folder.name == "models"


# ---------------------------------------------------------------------------
# The course's encoder: trained once, then loaded from the cache
# ---------------------------------------------------------------------------


def test_course_encoder_is_trained_once_then_loaded(models: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    first = zoo.course_encoder(TINY, progress=True)
    out = capsys.readouterr().out
    assert "not cached yet" in out and "saved to" in out
    path = models / TINY.filename
    assert path.is_file()
    facts = zoo.read_facts(TINY)
    assert facts["key"] == TINY.key() and facts["train_images"] == 300 and 0.0 <= facts["source_test_accuracy"] <= 1.0
    assert [p.name for p in models.iterdir() if p.name.startswith(".")] == []  # no temporary files left

    def no_training(*args, **kwargs):
        raise AssertionError("a cached encoder must not be trained again")

    monkeypatch.setattr(zoo, "train_encoder", no_training)
    second = zoo.course_encoder(TINY)
    assert "loaded" in capsys.readouterr().out
    assert [layer.name for layer in second.layers] == ["image", "conv_base", "fc1", "logits"]
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)
    row = next(r for r in zoo.status(("smoke",)) if r["name"].startswith("course"))
    assert row["path"].startswith(str(models))
    assert "course encoder (smoke)" in zoo.format_status(zoo.status(("smoke",)))


def test_a_broken_cache_file_is_trained_again(models: Path, capsys) -> None:
    path = models / TINY.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a keras file")
    model = zoo.course_encoder(TINY)
    assert "could not be read" in capsys.readouterr().out
    assert model.output_shape == (None, len(TINY.source_classes))
    assert zoo.read_facts(TINY)["key"] == TINY.key()  # replaced by a good file


def test_an_unwritable_cache_still_returns_the_encoder(tmp_path: Path, models: Path, monkeypatch, capsys) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    monkeypatch.setenv("COURSE_MODEL_DIR", str(blocked / "models"))
    model = zoo.course_encoder(TINY, progress=False)
    assert "could not be saved" in capsys.readouterr().out
    assert model.output_shape == (None, len(TINY.source_classes))


# ---------------------------------------------------------------------------
# ImageNet weights through keras.applications
# ---------------------------------------------------------------------------


def test_imagenet_file_names_follow_keras_applications() -> None:
    assert zoo.imagenet_weights_name(0.35, 96) == "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    assert zoo.imagenet_weights_name(1, 224).endswith("_1.0_224_no_top.h5")
    with pytest.raises(ValueError, match="alpha"):
        zoo.imagenet_weights_name(0.3, 96)


def test_imagenet_is_skipped_with_a_notice_when_not_cached(keras_home: Path, capsys) -> None:
    assert zoo.imagenet_encoder(download=False) is None
    out = capsys.readouterr().out
    assert out.startswith("Notice: ImageNet weights skipped") and str(keras_home) in out


def test_imagenet_weights_download_and_load(keras_home: Path, server, weights_file: tuple,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    body, kernel = weights_file
    name = zoo.imagenet_weights_name(0.35, 96)
    server.routes[f"/weights/{name}"] = ("good", body)
    monkeypatch.setattr(zoo, "IMAGENET_BASE_URL", server.url("/weights/"))
    encoder = zoo.imagenet_encoder(0.35, 96, download=True, progress=False)
    assert encoder is not None and server.requests == [f"/weights/{name}"]
    assert (keras_home / name).read_bytes() == body and zoo.imagenet_weights_cached(0.35, 96)
    np.testing.assert_array_equal(np.asarray(encoder.get_layer("mobilenet").get_layer("Conv1").kernel), kernel)
    codes = np.asarray(encoder(np.zeros((2, 28, 28, 1), "float32"), training=False))
    assert codes.shape == (2, 1280) and np.all(np.isfinite(codes))
    again = zoo.imagenet_encoder(0.35, 96, download=False, progress=False)  # now from the cache, no request
    assert again is not None and len(server.requests) == 1


def test_a_truncated_download_leaves_nothing_behind(keras_home: Path, server, weights_file: tuple,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    name = zoo.imagenet_weights_name(0.35, 96)
    server.routes[f"/weights/{name}"] = ("truncated", weights_file[0])
    monkeypatch.setattr(zoo, "IMAGENET_BASE_URL", server.url("/weights/"))
    with pytest.raises(zoo.ZooError, match="failed"):
        zoo.fetch_imagenet_weights(0.35, 96, progress=False)
    assert list(keras_home.iterdir()) == []


def test_a_non_hdf5_download_is_refused(keras_home: Path, server, monkeypatch: pytest.MonkeyPatch) -> None:
    name = zoo.imagenet_weights_name(0.35, 96)
    server.routes[f"/weights/{name}"] = ("good", b"<html>login page</html>")
    monkeypatch.setattr(zoo, "IMAGENET_BASE_URL", server.url("/weights/"))
    with pytest.raises(zoo.ZooError, match="not an HDF5 weights file"):
        zoo.fetch_imagenet_weights(0.35, 96, progress=False)
    assert list(keras_home.iterdir()) == []


def test_offline_download_gives_a_notice_not_a_crash(keras_home: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys) -> None:
    monkeypatch.setattr(zoo, "IMAGENET_BASE_URL", closed_port_base())
    assert zoo.imagenet_encoder(0.35, 96, download=True, progress=False) is None
    assert "Notice: ImageNet weights skipped: downloading" in capsys.readouterr().out
