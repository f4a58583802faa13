"""utils.data: verified downloads (from a local test server), clear errors, tfds preparation and loaders.

No test touches the internet: downloads come from an http.server on 127.0.0.1, every
cache lives under tmp_path, and the real-data tests only read the offline copies in
../shared/datasets (skipped when they are absent).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from utils import data

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(folder))
    monkeypatch.setenv("COURSE_TFDS_DIR", str(tmp_path / "tfds"))
    return folder


def closed_port_url(path: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused, as when offline)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


BODY = bytes(range(256)) * 40  # 10240 bytes


def demo_entry(monkeypatch: pytest.MonkeyPatch, urls: list[str], body: bytes = BODY, **extra) -> data.RemoteFile:
    """Register a one-file dataset 'demo' (and the extra datasets given) in place of the real registry."""
    entry = data.RemoteFile("demo/blob.bin", tuple(urls), sha(body), len(body))
    monkeypatch.setattr(data.registry, "DATASETS", {"demo": (entry,), **extra})
    return entry


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# Cache folder and registry
# ---------------------------------------------------------------------------


def test_data_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "d"))
    assert data.data_dir() == tmp_path / "d"
    monkeypatch.setenv("COURSE_DATA_DIR", "relative/data")
    assert data.data_dir() == ROOT / "relative" / "data"
    monkeypatch.delenv("COURSE_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.data_dir() == tmp_path / "xdg" / "cnn-course" / "datasets"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.data_dir() == tmp_path / "home" / ".cache" / "cnn-course" / "datasets"


def test_registry_is_well_formed() -> None:
    assert list(data.DATASETS) == ["mnist", "fashion_mnist", "cifar10", "omniglot", "omniglot_full", "membrane"]
    paths = [e.path for entries in data.DATASETS.values() for e in entries]
    assert len(paths) == len(set(paths)) == 4 + 4 + 1 + 3 + 2 + 90
    for entry in (e for entries in data.DATASETS.values() for e in entries):
        assert len(entry.sha256) == 64 and int(entry.sha256, 16) >= 0
        assert entry.urls and all(u.startswith(("https://", "http://")) for u in entry.urls)
        assert all(u.endswith(entry.name) for u in entry.urls)
        assert entry.size is not None and entry.size > 0
    assert "/b45af4d458437d8281cc218a07fd4380818ece4a/" in data.DATASETS["membrane"][0].urls[0]
    assert data.DATASETS["cifar10"][0].urls[0] == "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    for name, spec in data.TFDS.items():
        assert set(spec.files) <= set(data.DATASETS), name
    assert all(set(names) <= set(data.TFDS) for names in data.LAB_DATASETS.values())
    assert data.dataset_names(["Fashion-MNIST", "mnist"]) == ["fashion_mnist", "mnist"]
    with pytest.raises(ValueError, match="Unknown dataset 'svhn'"):
        data.dataset_names(["svhn"])


def _package_file(package: str, relative: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.is_file() else None


def test_download_only_checksums_match_their_sources() -> None:
    """tfds finds a manual_dir file by the name in its url_checksums, and checks it against the same sha256."""
    tfds = {}
    for name in ("mnist", "fashion_mnist", "cifar10", "omniglot"):
        listing = _package_file("tensorflow_datasets", f"url_checksums/{name}.txt")
        if listing is None:
            pytest.skip("tensorflow-datasets sources not installed")
        for line in listing.read_text().splitlines():
            url, size, digest, filename = line.split("\t")
            tfds[(name, filename)] = (int(size), digest)
    checked = 0
    for spec in data.TFDS.values():
        if spec.course:
            continue
        for files in spec.files:
            for entry in data.DATASETS[files]:
                if (spec.builder, entry.name) in tfds:
                    assert (entry.size, entry.sha256) == tfds[(spec.builder, entry.name)], entry.path
                    checked += 1
    assert checked == 4 + 4 + 1 + 4


# ---------------------------------------------------------------------------
# fetch_file
# ---------------------------------------------------------------------------


def test_fetch_downloads_verifies_and_then_uses_the_cache(server, cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [server.serve("/blob.bin", BODY)])
    path = data.fetch_file(entry, progress=False)
    assert path == cache / "demo" / "blob.bin" and path.read_bytes() == BODY
    assert files_under(cache) == [path]  # no temporary file left behind
    assert data.fetch_file(entry, progress=False) == path
    assert server.requests == ["/blob.bin"]  # the second call did not download again


def test_fetch_shows_progress_and_falls_back_to_the_next_mirror(server, cache, monkeypatch, capsys) -> None:
    entry = demo_entry(monkeypatch, [server.url("/gone.bin"), server.serve("/blob.bin", BODY)])
    assert data.fetch_file(entry, progress=True).read_bytes() == BODY
    out = capsys.readouterr()
    assert "HTTP 404" in out.out and "trying the next mirror" in out.out
    assert "blob.bin" in out.err  # the tqdm bar


@pytest.mark.parametrize(
    "body, kind, problem",
    [
        (bytes(reversed(BODY)), "good", "checksum mismatch"),
        (BODY + b"extra", "good", "wrong size: the server announces 10245 bytes, expected 10240"),
        (BODY, "truncated", "truncated: got 5120 of 10240 bytes"),
    ],
    ids=["wrong-bytes", "wrong-size", "truncated"],
)
def test_a_bad_download_is_an_error_and_leaves_nothing(server, cache, monkeypatch, body, kind, problem) -> None:
    entry = demo_entry(monkeypatch, [server.serve("/blob.bin", body, kind)])
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch_file(entry, progress=False)
    message = str(info.value)
    assert problem in message and "demo/blob.bin" in message
    assert files_under(cache.parent) == []  # neither the file nor a temporary file


def test_a_mirror_is_tried_first_and_a_bad_one_falls_back(server, cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [server.serve("/blob.bin", BODY)])
    server.serve("/mirror/demo/blob.bin", BODY)
    monkeypatch.setenv("COURSE_DATA_MIRROR", server.url("/mirror/"))
    assert data.fetch_file(entry, progress=False).read_bytes() == BODY
    assert server.requests == ["/mirror/demo/blob.bin"]
    (cache / entry.path).unlink()
    monkeypatch.setenv("COURSE_DATA_MIRROR", server.url("/empty"))
    assert data.fetch_file(entry, progress=False).read_bytes() == BODY
    assert server.requests[1:] == ["/empty/demo/blob.bin", "/blob.bin"]


def test_http_404_names_the_file_and_the_url(server, cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [server.url("/missing.bin")])
    with pytest.raises(data.DataUnavailableError, match=r"'demo/blob.bin' of dataset 'demo'.*/missing.bin: HTTP 404"):
        data.fetch_file(entry, progress=False)
    assert files_under(cache.parent) == []


def test_offline_miss_is_one_clear_paragraph(cache: Path, monkeypatch) -> None:
    urls = [closed_port_url("/a/blob.bin"), closed_port_url("/b/blob.bin")]
    entry = demo_entry(monkeypatch, urls)
    with pytest.raises(data.DataUnavailableError) as info:
        data.fetch_file(entry, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert "blob.bin" in message and str(cache / "demo" / "blob.bin") in message
    assert "it is not at" in message
    assert message.count("connection refused") == 2 and all(u in message for u in urls)
    assert "python -m utils data fetch demo" in message and "python -m utils data import DIR" in message
    assert "COURSE_DATA_DIR" in message and entry.sha256 in message
    assert info.value.__context__ is None or info.value.__suppress_context__  # no low-level traceback


def test_a_corrupt_cached_file_survives_a_failed_download(cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [closed_port_url("/blob.bin")])
    target = cache / "demo" / "blob.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * len(BODY))
    with pytest.raises(data.DataUnavailableError, match="is corrupt .*checksum mismatch.* left untouched"):
        data.fetch_file(entry, progress=False)
    assert target.read_bytes() == b"x" * len(BODY)
    assert files_under(cache) == [target]


def test_a_corrupt_cached_file_is_replaced_by_a_verified_download(server, cache, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [server.serve("/blob.bin", BODY)])
    target = cache / "demo" / "blob.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"short")
    assert data.fetch_file(entry, progress=False).read_bytes() == BODY
    assert files_under(cache) == [target]


def test_a_read_only_cache_gives_a_clear_error(server, cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [server.serve("/blob.bin", BODY)])
    (cache / "demo").mkdir(parents=True)
    cache.chmod(0o555)
    (cache / "demo").chmod(0o555)
    try:
        with pytest.raises(data.DataUnavailableError) as info:
            data.fetch_file(entry, progress=False)
        message = str(info.value)
        assert "cannot be written (permission denied" in message and "COURSE_DATA_DIR" in message
        assert "demo/blob.bin" in message and "\n" not in message
        assert server.requests == []  # nothing downloaded that could not be kept
        assert files_under(cache) == []
    finally:
        (cache / "demo").chmod(0o755)
        cache.chmod(0o755)


def test_a_read_only_cache_that_holds_the_file_is_only_read(cache: Path, monkeypatch) -> None:
    entry = demo_entry(monkeypatch, [closed_port_url("/blob.bin")])
    target = cache / "demo" / "blob.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(BODY)
    for folder in (target.parent, cache):
        folder.chmod(0o555)
    try:
        assert data.fetch_file(entry, progress=False) == target
    finally:
        for folder in (target.parent, cache):
            folder.chmod(0o755)


# ---------------------------------------------------------------------------
# status, fetch, import_dir
# ---------------------------------------------------------------------------


def _two_datasets(monkeypatch, server) -> tuple[data.RemoteFile, data.RemoteFile, data.RemoteFile]:
    a = data.RemoteFile("alpha/a.bin", (server.serve("/a.bin", b"A" * 100),), sha(b"A" * 100), 100)
    b = data.RemoteFile("alpha/b.bin", (server.serve("/b.bin", b"B" * 200),), sha(b"B" * 200), 200)
    c = data.RemoteFile("beta/sub/c.bin", (closed_port_url("/c.bin"),), sha(b"C" * 50), 50)
    monkeypatch.setattr(data.registry, "DATASETS", {"alpha": (a, b), "beta": (c,)})
    return a, b, c


def test_status_reports_each_dataset(server, cache: Path, monkeypatch) -> None:
    a, b, c = _two_datasets(monkeypatch, server)
    data.fetch_file(a, progress=False)
    data.fetch_file(b, progress=False)
    (cache / "beta" / "sub").mkdir(parents=True)
    (cache / c.path).write_bytes(b"c" * 50)
    rows = {row["name"]: row for row in data.status()}
    assert rows["alpha"]["verified"] and rows["alpha"]["present"] == rows["alpha"]["total"] == 2
    assert rows["alpha"]["bytes"] == 300 and rows["alpha"]["path"] == str(cache / "alpha")
    assert not rows["beta"]["verified"] and rows["beta"]["present"] == 1 and rows["beta"]["valid"] == 0
    assert rows["beta"]["corrupt"] and rows["beta"]["path"] == str(cache / "beta" / "sub")
    table = data.format_status(list(rows.values()))
    assert f"Data folder: {cache} (from COURSE_DATA_DIR)" in table
    assert any(line.startswith("alpha") and "2/2" in line and "verified" in line for line in table.splitlines())
    assert any(line.startswith("beta") and "CORRUPT (1)" in line for line in table.splitlines())
    assert "python -m utils data fetch" in table
    empty = data.status(cache.parent / "elsewhere")
    assert all(row["present"] == 0 and not row["verified"] for row in empty)


def test_fetch_downloads_named_datasets_and_reports_failures(server, cache: Path, monkeypatch, capsys) -> None:
    a, b, c = _two_datasets(monkeypatch, server)
    data.fetch(["alpha"], progress=True)
    assert (cache / a.path).read_bytes() == b"A" * 100 and (cache / b.path).is_file()
    assert "alpha: 2 file(s) verified" in capsys.readouterr().out
    with pytest.raises(data.DataUnavailableError, match="'beta/sub/c.bin' of dataset 'beta'.*connection refused"):
        data.fetch(progress=False)  # all datasets: alpha is cached, beta cannot be downloaded
    with pytest.raises(ValueError, match="Unknown dataset"):
        data.fetch(["gamma"])


def test_import_dir_copies_verified_files_and_reports_mismatches(server, cache, tmp_path, monkeypatch) -> None:
    a, b, c = _two_datasets(monkeypatch, server)
    source = tmp_path / "usb"
    for entry, body in ((a, b"A" * 100), (b, b"not B"), (c, b"C" * 50)):
        (source / entry.path).parent.mkdir(parents=True, exist_ok=True)
        (source / entry.path).write_bytes(body)
    with pytest.raises(data.DataUnavailableError) as info:
        data.import_dir(source)
    message = str(info.value)
    assert "Imported 2 file(s)" in message and str(source / b.path) in message and "5 bytes, expected 200" in message
    assert (cache / a.path).read_bytes() == b"A" * 100 and (cache / c.path).read_bytes() == b"C" * 50
    assert not (cache / b.path).exists()
    (source / b.path).write_bytes(b"B" * 200)
    assert data.import_dir(source) == [b.path]  # a and c are cached and valid already
    assert data.import_dir(source) == []
    assert server.requests == []
    assert sorted(p.name for p in files_under(cache)) == ["a.bin", "b.bin", "c.bin"]
    with pytest.raises(data.DataUnavailableError, match="not a folder"):
        data.import_dir(tmp_path / "nowhere")


def test_import_dir_into_a_read_only_cache_is_a_clear_error(server, cache, tmp_path, monkeypatch) -> None:
    a, _, _ = _two_datasets(monkeypatch, server)
    (source := tmp_path / "src" / "alpha").mkdir(parents=True)
    (source / "a.bin").write_bytes(b"A" * 100)
    cache.mkdir()
    cache.chmod(0o555)
    try:
        with pytest.raises(data.DataUnavailableError, match="cannot be written"):
            data.import_dir(tmp_path / "src")
    finally:
        cache.chmod(0o755)
    assert files_under(cache) == []


# ---------------------------------------------------------------------------
# Loaders on small fixtures
# ---------------------------------------------------------------------------


def _serve_offline(server, monkeypatch, offline: Path, names: tuple[str, ...]) -> None:
    """Register ``names`` with download addresses on the loopback server, which serves the offline copies."""
    patched = dict(data.registry.DATASETS)
    for name in names:
        patched[name] = tuple(
            data.RemoteFile(e.path, (server.serve(f"/{e.path}", (offline / e.path).read_bytes()),), e.sha256, e.size)
            for e in data.DATASETS[name]
        )
    monkeypatch.setattr(data.registry, "DATASETS", patched)


def test_mnist_is_downloaded_verified_prepared_by_tfds_and_loaded(server, cache: Path, monkeypatch) -> None:
    """The first load downloads the four canonical files, tfds's mnist builder prepares them, later loads only read."""
    if not (OFFLINE / "mnist").is_dir():
        pytest.skip("offline MNIST not found")
    _serve_offline(server, monkeypatch, OFFLINE, ("mnist",))
    (x, y), (xt, yt) = data.load_mnist(progress=False)
    assert sorted(server.requests) == sorted(f"/{e.path}" for e in data.DATASETS["mnist"])
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == y.dtype == np.uint8
    row = data.prepared_state("mnist")
    assert row["state"] == "ok" and row["splits"] == {"train": 60000, "test": 10000}
    assert Path(row["path"]).parent.parent == cache.parent / "tfds"
    assert not list((cache.parent / "tfds").glob(".staging-*"))  # nothing left of the preparation
    import tensorflow_datasets as tfds

    saved = Path(row["path"]) / "course-arrays-test.npz"  # tfds.as_numpy's arrays, saved once, in the manifest
    assert saved.name in (Path(row["path"]) / data.prepared.MANIFEST).read_text()
    records = tfds.as_numpy(tfds.load("mnist", split="test", batch_size=-1, data_dir=data.tfds_dir(), download=False))
    np.testing.assert_array_equal(records["image"][..., 0], xt)
    np.testing.assert_array_equal(records["label"], yt)
    server.requests.clear()
    data.load_mnist(progress=False)
    assert server.requests == []


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _membrane_fixture(server, monkeypatch, train: int = 3, test: int = 2) -> dict[str, np.ndarray]:
    """Register a membrane dataset of a few 512x512 PNGs, served on the loopback server."""
    rng = np.random.default_rng(0)
    arrays = {}
    for i in range(train):
        arrays[f"train/image/{i}.png"] = np.tile(np.arange(512, dtype=np.uint8)[None] + i, (512, 1))
        arrays[f"train/label/{i}.png"] = np.where(rng.random((512, 512)) < 0.2, 0, 255).astype(np.uint8)
    for i in range(test):
        arrays[f"test/{i}.png"] = np.full((512, 512), 10 * i, np.uint8)
    entries = []
    for name, array in arrays.items():
        body = _png(array)
        entries.append(data.RemoteFile(f"membrane/{name}", (server.serve(f"/m/{name}", body),), sha(body), len(body)))
    monkeypatch.setattr(data.registry, "DATASETS", {**data.registry.DATASETS, "membrane": tuple(entries)})
    return arrays


def test_a_course_builder_prepares_from_the_verified_files(server, cache: Path, monkeypatch) -> None:
    arrays = _membrane_fixture(server, monkeypatch)
    x_train, y_train, x_test = data.load_membrane(progress=False)
    assert x_train.shape == y_train.shape == (3, 512, 512) and x_test.shape == (2, 512, 512)
    for i in range(3):
        np.testing.assert_array_equal(x_train[i], arrays[f"train/image/{i}.png"])
        np.testing.assert_array_equal(y_train[i], arrays[f"train/label/{i}.png"] > 127)
    assert x_test[1, 0, 0] == 10
    row = data.prepared_state("membrane")
    assert row["builder"] == "isbi2012_membrane" and row["splits"] == {"train": 3, "test": 2}
    import tensorflow_datasets as tfds

    info = tfds.builder("isbi2012_membrane", data_dir=data.tfds_dir()).info
    assert str(info.version) == "1.0.0" and info.supervised_keys == ("image", "label")
    assert "never published the test labels" in info.description


def _damage(folder: Path) -> Path:
    """Flip one byte in the middle of the largest tfrecord file of a prepared dataset."""
    record = max(folder.glob("*.tfrecord*"), key=lambda p: p.stat().st_size)
    raw = bytearray(record.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    record.write_bytes(bytes(raw))
    return record


def test_a_damaged_prepared_dataset_is_detected_and_prepared_again(server, cache: Path, monkeypatch, capsys) -> None:
    _membrane_fixture(server, monkeypatch)
    data.prepare("membrane", progress=False)
    folder = Path(data.prepared_state("membrane")["path"])
    record = _damage(folder)
    row = data.prepared_state("membrane")
    assert row["state"] == "damaged" and record.name in row["detail"]
    assert "DAMAGED" in data.format_prepared([row])
    x_train, _, _ = data.load_membrane()
    assert "is damaged" in capsys.readouterr().out and x_train.shape == (3, 512, 512)
    assert data.prepared_state("membrane")["state"] == "ok"


def test_an_interrupted_preparation_is_never_taken_for_a_complete_one(server, cache: Path, monkeypatch) -> None:
    _membrane_fixture(server, monkeypatch)
    data.fetch(["membrane"], progress=False)  # the files are in the cache; the child only prepares
    child = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from utils import data
from utils.data import builders
# The same fixture registry as the parent: the membrane files already in the cache.
cache = data.data_dir()
data.registry.DATASETS = {{**data.registry.DATASETS, "membrane": tuple(
    data.RemoteFile(p.relative_to(cache).as_posix(), (), data.sha256_of(p), p.stat().st_size)
    for p in sorted((cache / "membrane").rglob("*.png")))}}
original = builders.Isbi2012Membrane._generate_examples
def dying(self, folder, labelled):
    for n, example in enumerate(original(self, folder, labelled)):
        if n == 2:
            os._exit(9)  # as if killed halfway through writing the train split
        yield example
builders.Isbi2012Membrane._generate_examples = dying
data.prepare("membrane", progress=False)
"""
    result = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env={**os.environ}, capture_output=True)
    assert result.returncode == 9, result.stderr.decode()[-2000:]
    tfds_root = cache.parent / "tfds"
    assert list(tfds_root.glob(".staging-isbi2012_membrane-*"))  # what the killed preparation left
    assert data.prepared_state("membrane")["state"] == "missing"
    # A version folder that lacks the manifest (killed between tfds and the course's rename) is not complete either.
    x_train, _, _ = data.load_membrane(progress=False)
    folder = Path(data.prepared_state("membrane")["path"])
    (folder / data.prepared.MANIFEST).unlink()
    assert data.prepared_state("membrane")["state"] == "incomplete"
    x_again, _, _ = data.load_membrane(progress=False)
    np.testing.assert_array_equal(x_again, x_train)
    assert data.prepared_state("membrane")["state"] == "ok"
    assert not list(tfds_root.glob(".staging-*"))


def _cifar_binary_archive() -> bytes:
    """A tiny CIFAR-10 binary archive in the canonical layout: 10 images per batch, label byte then CHW pixels."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, raw: bytes) -> None:
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))

        for index, name in enumerate([*(f"data_batch_{i}.bin" for i in range(1, 6)), "test_batch.bin"]):
            records = []
            for j in range(10):
                pixels = np.full(3072, index, dtype=np.uint8)
                if index == 0 and j == 0:  # row 1, column 2: red 200, green 100, blue 50 (channel-major)
                    pixels[[0 * 1024 + 34, 1 * 1024 + 34, 2 * 1024 + 34]] = [200, 100, 50]
                records.append(bytes([(index + j) % 10]) + pixels.tobytes())
            add(name, b"".join(records))
        add("batches.meta.txt", ("\n".join(data.CIFAR10_CLASSES) + "\n").encode())
    return buffer.getvalue()


def test_cifar10_is_downloaded_and_prepared_by_tfds_from_the_binary_archive(server, cache: Path, monkeypatch) -> None:
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import checksums

    archive = _cifar_binary_archive()
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    entry = data.RemoteFile("cifar10/cifar-10-binary.tar.gz", (server.serve("/cifar.tgz", archive),), sha(archive),
                            len(archive))
    monkeypatch.setattr(data.registry, "DATASETS", {**data.registry.DATASETS, "cifar10": (entry,)})
    # tfds checks manual_dir files against its own checksums: give it the fixture's.
    fixture = {url: checksums.UrlInfo(size=len(archive), checksum=sha(archive), filename="cifar-10-binary.tar.gz")}
    monkeypatch.setattr(tfds.image_classification.Cifar10, "url_infos", fixture)
    monkeypatch.setattr(checksums, "get_all_url_infos", lambda: dict(fixture))
    (x, y), (xt, yt) = data.load_cifar10(progress=False)
    assert server.requests == ["/cifar.tgz"] and (cache / entry.path).is_file()
    assert x.shape == (50, 32, 32, 3) and xt.shape == (10, 32, 32, 3) and y.shape == (50,) and yt.shape == (10,)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    first = int(np.flatnonzero((x[:, 1, 2] == [200, 100, 50]).all(axis=1))[0])  # tfds stores records shuffled
    assert y[first] == 0 and x[first, 0, 0].tolist() == [0, 0, 0]  # NHWC
    assert sorted(np.bincount(y, minlength=10).tolist()) == [5] * 10 and set(xt[:, 0, 0, 0].tolist()) == {5}
    assert len(data.CIFAR10_CLASSES) == len(data.FASHION_MNIST_CLASSES) == 10


def test_loaders_say_clearly_when_offline(cache: Path, monkeypatch) -> None:
    dead = {
        name: tuple(data.RemoteFile(e.path, (closed_port_url("/x"),), e.sha256, e.size) for e in entries)
        for name, entries in data.DATASETS.items()
    }
    monkeypatch.setattr(data.registry, "DATASETS", dead)
    with pytest.raises(data.DataUnavailableError, match="'cifar10/cifar-10-binary.tar.gz' of dataset 'cifar10'"):
        data.load_cifar10(progress=False)
    with pytest.raises(data.DataUnavailableError, match="python -m utils data fetch omniglot_full"):
        data.load_omniglot("evaluation", progress=False)
    with pytest.raises(ValueError, match="Unknown Omniglot subset 'small'"):
        data.load_omniglot("small")
    assert files_under(cache.parent) == []


def test_importing_utils_data_does_not_import_tensorflow() -> None:
    code = ("import sys, utils.data; assert not {'tensorflow', 'tensorflow_datasets', 'PIL'} & set(sys.modules), "
            "sorted(m for m in sys.modules if m.startswith(('tensorflow', 'PIL')))")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------------------
# The real data files (offline copies in ../shared/datasets)
# ---------------------------------------------------------------------------


@pytest.fixture
def offline_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point COURSE_DATA_DIR at the offline copies (read only), or skip."""
    configured = os.environ.get("COURSE_DATA_DIR", "")
    for candidate in (Path(configured) if configured else None, OFFLINE):
        if candidate is not None and (candidate / "mnist").is_dir():
            monkeypatch.setenv("COURSE_DATA_DIR", str(candidate))
            return candidate
    pytest.skip(f"offline datasets not found at {OFFLINE} (or COURSE_DATA_DIR); real-data tests need them")


def test_registry_matches_the_offline_checksums(offline_data: Path) -> None:
    sums = offline_data / "SHA256SUMS"
    if not sums.is_file():
        pytest.skip(f"{sums} not found")
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    registry = {e.path: e for entries in data.DATASETS.values() for e in entries}
    assert set(listed) <= set(registry)
    for path, digest in listed.items():
        assert registry[path].sha256 == digest, path
        assert registry[path].size == (offline_data / path).stat().st_size, path
    rows = {row["name"]: row for row in data.status()}
    assert all(rows[name]["verified"] for name in ("mnist", "fashion_mnist", "omniglot", "membrane"))


def test_real_mnist_and_fashion_mnist(offline_data: Path) -> None:
    (x, y), (xt, yt) = data.load_mnist(progress=False)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and yt.shape == (10000,) and y.dtype == np.uint8
    assert y[:10].tolist() == [4, 1, 0, 7, 8, 1, 2, 7, 1, 6] and yt[:5].tolist() == [2, 0, 4, 8, 7]  # tfds's order
    assert np.bincount(y).min() > 5000 and np.bincount(yt).min() > 850 and y.max() == 9
    assert x.max() == 255 and x.flags.writeable
    (fx, fy), (fxt, fyt) = data.load_fashion_mnist(progress=False)
    assert fx.shape == (60000, 28, 28) and fxt.shape == (10000, 28, 28)
    assert np.bincount(fy).tolist() == [6000] * 10 and np.bincount(fyt).tolist() == [1000] * 10
    assert fy[:5].tolist() == [2, 1, 8, 4, 1]


def test_real_omniglot_small1_and_one_shot_runs(offline_data: Path) -> None:
    small = data.load_omniglot("background_small1", progress=False)
    assert small.images.shape == (2720, 105, 105) and small.images.dtype == np.uint8
    assert set(np.unique(small.images)) == {0, 1} and 0.02 < small.images.mean() < 0.2  # sparse ink
    assert small.num_classes == 136 and np.bincount(small.labels).tolist() == [20] * 136
    assert len(small.alphabet_names) == 5 and small.alphabets.max() == 4
    assert small.class_names[0] == "Balinese/character01" and small.class_names == sorted(small.class_names)
    assert small.labels.dtype == small.alphabets.dtype == np.int32
    runs = data.load_omniglot_one_shot_runs(progress=False)
    assert len(runs) == 20 and runs[0].name == "run01"
    for run in runs:
        assert run.train_images.shape == run.test_images.shape == (20, 105, 105)
        assert sorted(run.answers.tolist()) == list(range(20))
    assert runs[0].answers[:3].tolist() == [7, 8, 1]  # run01: item01 -> class08, item02 -> class09, ...


def test_real_membrane(offline_data: Path) -> None:
    x_train, y_train, x_test = data.load_membrane(progress=False)
    assert x_train.shape == y_train.shape == x_test.shape == (30, 512, 512)
    assert x_train.dtype == y_train.dtype == x_test.dtype == np.uint8
    assert set(np.unique(y_train)) == {0, 1} and 0.6 < y_train.mean() < 0.9  # mostly cell interior
