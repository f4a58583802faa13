"""Prepared datasets: each registry dataset turned into a tensorflow-datasets dataset, once, safely.

:func:`prepare` verifies the canonical files (downloading a missing one through
``utils.data.store``), then runs the tfds builder with those files as its
``manual_dir``, so tfds itself downloads nothing. The builder writes into a
private staging folder inside :func:`utils.paths.tfds_dir`; the course then
records every file's size and SHA-256 in ``course-manifest.json`` and renames the
finished version folder into place. A version folder without a manifest (an
interrupted preparation) or whose files no longer match it (a damaged one) is
therefore never used: the next :func:`prepare` removes it and prepares again. A
lock file keeps two processes (two notebooks, two graders) from preparing the same
dataset at once.

After ``prepare(name)``, ``tfds.load(spec.builder, data_dir=tfds_dir(),
download=False, ...)`` reads it; :func:`load` does both.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from utils import paths
from utils.data import registry, store
from utils.data.registry import DataFormatError, DataUnavailableError

MANIFEST = "course-manifest.json"
ARRAYS = "course-arrays-{split}.npz"  # tfds.as_numpy of a whole split, saved at preparation (numeric features only)
_STAGING = ".staging-"
# (path, size, mtime, inode) -> sha256, so a prepared file is hashed once per process.
_HASHES: dict[tuple[str, int, int, int], str] = {}


def spec_of(name: str) -> registry.TfdsSpec:
    """Return the tfds spec of a course dataset name, or raise ValueError with the known names."""
    key = name.strip().lower().replace("-", "_")
    if key not in registry.TFDS:
        raise ValueError(f"Unknown dataset '{name}'; known datasets: {', '.join(registry.TFDS)}.")
    return registry.TFDS[key]


def _tfds() -> Any:
    """Import tensorflow-datasets with its network paths off: the course's store does all downloading."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.utils import gcs_utils

    gcs_utils._is_gcs_disabled = True  # no dataset_info or data from GCS: offline first, and no stalls
    import utils.data.builders  # noqa: F401 - registers the course's builders with tfds
    return tfds


def _builder(spec: registry.TfdsSpec, data_dir: Path) -> Any:
    """Return the tfds builder of ``spec`` over ``data_dir``."""
    return _tfds().builder(spec.builder, data_dir=str(data_dir))


def version_dir(name: str, root: Path | None = None) -> Path:
    """Return the folder where the prepared ``name`` lives (it may not exist)."""
    spec = spec_of(name)
    root = paths.tfds_dir() if root is None else root
    return Path(_builder(spec, root).data_dir)


def _digest(path: Path) -> str:
    """Return the SHA-256 of a prepared file, remembered per (path, size, mtime, inode)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _HASHES:
        _HASHES[key] = store.sha256_of(path)
    return _HASHES[key]


def check(folder: Path) -> tuple[str, str]:
    """Return ('ok' | 'missing' | 'incomplete' | 'damaged', detail) for a prepared version folder."""
    if not folder.is_dir():
        return "missing", ""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = dict(manifest["files"])
    except FileNotFoundError:
        return "incomplete", f"no {MANIFEST} (an interrupted preparation?)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return "damaged", f"unreadable {MANIFEST} ({type(exc).__name__})"
    for name, (size, sha256) in sorted(files.items()):
        path = folder / name
        try:
            if path.stat().st_size != size:
                return "damaged", f"{name} is {path.stat().st_size} bytes, expected {size}"
            if _digest(path) != sha256:
                return "damaged", f"{name} fails its checksum"
        except OSError as exc:
            return "damaged", f"{name}: {exc.strerror or exc}"
    return "ok", ""


def _write_manifest(folder: Path, seconds: float) -> None:
    """Record the size and SHA-256 of every file tfds wrote in ``folder``."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = [path.stat().st_size, store.sha256_of(path)]
    record = {"files": files, "prepared_seconds": round(seconds, 1), "prepared_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    (folder / MANIFEST).write_text(json.dumps(record, indent=1, sort_keys=True))


@contextlib.contextmanager
def _locked(root: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on preparing ``name`` in ``root``."""
    with open(root / f".{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _unwritable(name: str, root: Path, exc: OSError) -> DataUnavailableError:
    """One paragraph: the dataset must be prepared but its folder cannot be written."""
    return DataUnavailableError(
        f"Could not prepare the dataset '{name}' for tensorflow-datasets: its folder {root} cannot be written "
        f"({exc.strerror or exc}). Set COURSE_TFDS_DIR to a writable folder, or run `python -m utils data "
        f"prepare {name}` as a user who may write there."
    )


def prepare(name: str, *, progress: bool = True) -> Path:
    """Make sure course dataset ``name`` is prepared and intact; return the tfds data directory."""
    spec = spec_of(name)
    for files in spec.files:
        store.fetch_dataset(files, progress=progress)
    root = paths.tfds_dir()
    final = version_dir(name, root)
    if check(final)[0] == "ok":
        return root
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root, spec.name.replace("/", "_")):
            state, detail = check(final)
            if state == "ok":  # another process prepared it while this one waited
                return root
            for stale in root.glob(f"{_STAGING}{spec.name}-*"):  # left by an interrupted preparation
                shutil.rmtree(stale, ignore_errors=True)
            if state != "missing":
                if progress:
                    print(f"{name}: the prepared copy in {final} is {state} ({detail}); preparing it again.")
                shutil.rmtree(final)
            _build(spec, root, final, progress)
    except OSError as exc:
        raise _unwritable(name, root, exc) from None
    return root


def _build(spec: registry.TfdsSpec, root: Path, final: Path, progress: bool) -> None:
    """Run the tfds builder in a staging folder, record its manifest, and rename it into place."""
    tfds = _tfds()
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f"{_STAGING}{spec.name}-"))
    try:
        started = time.monotonic()
        builder = _builder(spec, staging)
        config = tfds.download.DownloadConfig(
            manual_dir=str(paths.data_dir() / spec.folder), try_download_gcs=False
        )
        if not progress:
            tfds.disable_progress_bar()
        builder.download_and_prepare(download_dir=str(staging / "downloads"), download_config=config)
        built = Path(builder.data_dir)
        _save_arrays(tfds, spec, staging, built)
        _write_manifest(built, time.monotonic() - started)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(built, final)  # atomic: a version folder appears complete, with its manifest, or not at all
        if progress:
            print(f"{spec.builder}: prepared in {time.monotonic() - started:.1f} s into {final}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _save_arrays(tfds: Any, spec: registry.TfdsSpec, staging: Path, built: Path) -> None:
    """Save each split as tfds.as_numpy gives it, so NumPy loaders skip decoding every image in every process.

    Decoding MNIST's 70,000 PNG records costs about 3 CPU seconds a process, and a graded class starts a kernel per
    student; the saved arrays are covered by the manifest like the records. Datasets with text features keep only
    their records (they are small).
    """
    for split in tfds.builder(spec.builder, data_dir=str(staging)).info.splits:
        dataset = tfds.load(spec.builder, split=split, data_dir=str(staging), download=False, batch_size=-1)
        arrays = {key: np.asarray(value) for key, value in tfds.as_numpy(dataset).items()}
        if any(array.dtype.kind not in "biuf" for array in arrays.values()):
            return
        with open(built / ARRAYS.format(split=split), "wb") as handle:
            np.savez(handle, **arrays)


def prepared_state(name: str) -> dict[str, Any]:
    """Return what tfds has prepared of ``name``: state, detail, folder, bytes, examples per split."""
    folder = version_dir(name)
    state, detail = check(folder)
    row: dict[str, Any] = {"name": name, "builder": spec_of(name).builder, "state": state, "detail": detail,
                           "path": str(folder), "bytes": 0, "splits": {}}
    if state == "ok":
        manifest = json.loads((folder / MANIFEST).read_text())
        row["bytes"] = sum(size for size, _ in manifest["files"].values())
        row["seconds"] = manifest.get("prepared_seconds")
        try:
            info = json.loads((folder / "dataset_info.json").read_text())
            row["splits"] = {s["name"]: sum(int(n) for n in s.get("shardLengths", [])) for s in info.get("splits", [])}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return row


def load(name: str, split: str, *, progress: bool = True, **kwargs: Any) -> Any:
    """Prepare ``name`` if needed, then return ``tfds.load(builder, split=split, **kwargs)`` from the course's folder."""
    root = prepare(name, progress=progress)
    try:
        return _tfds().load(spec_of(name).builder, split=split, data_dir=str(root), download=False, **kwargs)
    except (ValueError, AssertionError) as exc:  # tfds's words for a bad split name
        raise ValueError(f"Cannot load split '{split}' of '{name}': {exc}") from None


def as_numpy(name: str, split: str, *, progress: bool = True) -> dict[str, Any]:
    """Return a whole split as a dict of NumPy arrays (one batch), read through tfds."""
    root = prepare(name, progress=progress)
    saved = version_dir(name, root) / ARRAYS.format(split=split)
    if saved.is_file():  # verified by prepare's manifest check
        with np.load(saved, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    tfds = _tfds()
    dataset = load(name, split, progress=progress, batch_size=-1)
    try:
        return dict(tfds.as_numpy(dataset))
    except Exception as exc:  # noqa: BLE001 - tf raises many kinds on a damaged record
        raise DataFormatError(
            f"The prepared dataset '{name}' in {version_dir(name)} could not be read ({type(exc).__name__}); "
            f"delete that folder and it will be prepared again."
        ) from None
