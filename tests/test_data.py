"""utils.data: verified downloads (from a local test server), clear errors, loaders and tf.data.

No test touches the internet: downloads come from an http.server on 127.0.0.1, every
cache lives under tmp_path, and the real-data tests only read the offline copies in
../shared/datasets (skipped when they are absent).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
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
    monkeypatch.setattr(data, "DATASETS", {"demo": (entry,), **extra})
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
    assert data.DATASETS["cifar10"][0].urls[0] == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
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
    cifar = _package_file("keras", "src/datasets/cifar10.py")
    omniglot = _package_file("tensorflow_datasets", "url_checksums/omniglot.txt")
    if cifar is None or omniglot is None:
        pytest.skip("keras or tensorflow-datasets sources not installed")
    assert data.DATASETS["cifar10"][0].sha256 in cifar.read_text()
    tfds = {}
    for line in omniglot.read_text().splitlines():
        url, size, digest, _ = line.split("\t")
        tfds[url.rsplit("/", 1)[1]] = (int(size), digest)
    for entry in data.DATASETS["omniglot"] + data.DATASETS["omniglot_full"]:
        if entry.name in tfds:
            assert (entry.size, entry.sha256) == tfds[entry.name]


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
    monkeypatch.setattr(data, "DATASETS", {"alpha": (a, b), "beta": (c,)})
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


def _idx(array: np.ndarray) -> bytes:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_read_idx_checks_magic_numbers_and_counts(tmp_path: Path) -> None:
    good = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)
    (tmp_path / "ok.gz").write_bytes(_idx(good))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "ok.gz"), good)
    (tmp_path / "magic.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x02" + bytes(12)))
    with pytest.raises(data.DataFormatError, match="magic number is 2050, expected 2049"):
        data.read_idx(tmp_path / "magic.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(gzip.decompress(_idx(good))[:-5]))
    with pytest.raises(data.DataFormatError, match=r"announces shape \(2, 28, 28\)"):
        data.read_idx(tmp_path / "short.gz")
    (tmp_path / "plain").write_bytes(b"not gzip")
    with pytest.raises(data.DataFormatError, match="not a readable gzip file"):
        data.read_idx(tmp_path / "plain")


def test_load_mnist_parses_idx_files(server, cache: Path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(6) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (3, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.array([7, 2, 1]),
    }
    entries = []
    for name, array in arrays.items():
        body = _idx(array)
        entries.append(data.RemoteFile(f"mnist/{name}", (server.serve(f"/{name}", body),), sha(body), len(body)))
    monkeypatch.setattr(data, "DATASETS", {"mnist": tuple(entries)})
    (x, y), (xt, yt) = data.load_mnist(progress=False)
    assert x.shape == (6, 28, 28) and xt.shape == (3, 28, 28) and x.dtype == y.dtype == np.uint8
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, [7, 2, 1])


def _cifar_archive() -> bytes:
    """A tiny CIFAR-10 python archive in the canonical layout: 10 images per batch."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:

        def add(name: str, payload: object) -> None:
            raw = pickle.dumps(payload, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))

        for index, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
            pixels = np.full((10, 3072), index, dtype=np.uint8)
            if index == 0:  # image 0, row 1, column 2: red 200, green 100, blue 50 (channel-major rows)
                pixels[0, [0 * 1024 + 34, 1 * 1024 + 34, 2 * 1024 + 34]] = [200, 100, 50]
            labels = [(index + j) % 10 for j in range(10)]
            add(name, {b"batch_label": name.encode(), b"labels": labels, b"data": pixels,
                       b"filenames": [f"img{j}.png".encode() for j in range(10)]})  # fmt: skip
        add("batches.meta", {b"label_names": [c.encode() for c in data.CIFAR10_CLASSES],
                             b"num_cases_per_batch": 10, b"num_vis": 3072})  # fmt: skip
    return buffer.getvalue()


def test_load_cifar10_downloads_and_reads_the_canonical_archive(server, cache: Path, monkeypatch) -> None:
    archive = _cifar_archive()
    entry = data.RemoteFile(
        "cifar10/cifar-10-python.tar.gz", (server.serve("/cifar.tgz", archive),), sha(archive), len(archive)
    )
    monkeypatch.setattr(data, "DATASETS", {**data.DATASETS, "cifar10": (entry,)})
    (x, y), (xt, yt) = data.load_cifar10(progress=False)
    assert server.requests == ["/cifar.tgz"] and (cache / entry.path).is_file()
    assert x.shape == (50, 32, 32, 3) and xt.shape == (10, 32, 32, 3) and y.shape == (50,) and yt.shape == (10,)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8 and x.flags.c_contiguous
    assert x[0, 1, 2].tolist() == [200, 100, 50]  # NHWC
    assert x[0, 0, 0].tolist() == [0, 0, 0] and x[10, 5, 5].tolist() == [1, 1, 1] and xt[0, 0, 0, 0] == 5
    assert y[:3].tolist() == [0, 1, 2] and y[10:13].tolist() == [1, 2, 3] and yt[:2].tolist() == [5, 6]
    assert len(data.CIFAR10_CLASSES) == len(data.FASHION_MNIST_CLASSES) == 10


def test_loaders_say_clearly_when_offline(cache: Path, monkeypatch) -> None:
    dead = {
        name: tuple(data.RemoteFile(e.path, (closed_port_url("/x"),), e.sha256, e.size) for e in entries)
        for name, entries in data.DATASETS.items()
    }
    monkeypatch.setattr(data, "DATASETS", dead)
    with pytest.raises(data.DataUnavailableError, match="'cifar10/cifar-10-python.tar.gz' of dataset 'cifar10'"):
        data.load_cifar10(progress=False)
    with pytest.raises(data.DataUnavailableError, match="python -m utils data fetch omniglot_full"):
        data.load_omniglot("evaluation", progress=False)
    with pytest.raises(ValueError, match="Unknown Omniglot subset 'small'"):
        data.load_omniglot("small")
    assert files_under(cache.parent) == []


def test_importing_utils_data_does_not_import_tensorflow() -> None:
    code = "import sys, utils.data; assert 'tensorflow' not in sys.modules and 'PIL' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# ---------------------------------------------------------------------------
# make_dataset
# ---------------------------------------------------------------------------


def test_make_dataset_batches_shuffles_deterministically_and_maps() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10, dtype=np.int32)
    ds = data.make_dataset(x, y, batch_size=4)
    assert [len(b) for b, _ in ds] == [4, 4, 2]
    assert ds.options().autotune.enabled is False and ds.options().deterministic is True

    def epochs(dataset, n: int = 2) -> list[list[int]]:
        return [np.concatenate([yb.numpy() for _, yb in dataset]).tolist() for _ in range(n)]

    first = epochs(data.make_dataset(x, y, batch_size=4, shuffle=True, seed=1))
    again = epochs(data.make_dataset(x, y, batch_size=4, shuffle=True, seed=1))
    assert first == again  # same seed, same sequence of epochs
    assert first[0] != first[1] and sorted(first[0]) == list(range(10))  # reshuffled each epoch, nothing lost

    per_batch = data.make_dataset(x, y, batch_size=4, map_fn=lambda a, b: (a * 2, b), drop_remainder=True)
    assert [xb.numpy().ravel().tolist() for xb, _ in per_batch] == [[0, 2, 4, 6], [8, 10, 12, 14]]
    per_example = data.make_dataset(x, batch_size=5, map_fn=lambda a: a + 1, map_per="example", cache=True)
    assert [b.numpy().ravel().tolist() for b in per_example] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    with pytest.raises(ValueError, match="map_per"):
        data.make_dataset(x, map_fn=abs, map_per="element")


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
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4] and yt[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(y).min() > 5000 and np.bincount(yt).min() > 850 and y.max() == 9
    assert x.max() == 255 and x.flags.writeable
    (fx, fy), (fxt, fyt) = data.load_fashion_mnist(progress=False)
    assert fx.shape == (60000, 28, 28) and fxt.shape == (10000, 28, 28)
    assert np.bincount(fy).tolist() == [6000] * 10 and np.bincount(fyt).tolist() == [1000] * 10
    assert fy[:5].tolist() == [9, 0, 0, 3, 0]


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
