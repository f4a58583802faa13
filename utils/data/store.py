"""The verified store of canonical files: checksums, atomic downloads and imports, one-paragraph errors.

A missing file is downloaded (to a temporary file, verified, then renamed) before
it is used; when that is impossible (offline, a mirror down, a wrong checksum)
:func:`fetch_file` raises :class:`DataUnavailableError` with one paragraph saying
what was tried and how to provide the file. A cached file that fails its checksum
is never deleted unless a verified replacement arrived.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import io
import os
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any

from utils import paths
from utils.data import registry
from utils.data.registry import DataUnavailableError, RemoteFile

DOWNLOAD_TIMEOUT_S = 30.0
_CHUNK = 1 << 20


# (path, size, mtime, inode) -> sha256, so a file is hashed once per process.
_HASHES: dict[tuple[str, int, int, int], str] = {}


def sha256_of(path: Path) -> str:
    """Return the SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cached_state(path: Path, entry: RemoteFile) -> tuple[str, str]:
    """Return ('ok' | 'missing' | 'corrupt', detail) for the file at ``path``."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "missing", ""
    except OSError as exc:
        return "corrupt", f"unreadable: {describe_error(exc)}"
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
            return "corrupt", f"unreadable: {describe_error(exc)}"
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


def describe_error(exc: BaseException) -> str:
    """Say in a few words what went wrong with a download or a file operation."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}" + (f" ({exc.reason})" if exc.reason else "")
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        return describe_error(reason) if isinstance(reason, BaseException) else str(reason)
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


def progress_bar(total: int | None, desc: str) -> Any:
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
        bar = progress_bar(expected, entry.name) if progress else None
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
    dataset = registry.dataset_of(entry)
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
    dataset = registry.dataset_of(entry) or "NAME"
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
    dataset = registry.dataset_of(entry) or "NAME"
    where = Path(error.filename) if getattr(error, "filename", None) else target.parent
    return (
        f"Could not store the data file {_what(entry)}: {_found(target, state, detail)}, and the data "
        f"folder cannot be written ({describe_error(error)}: {where}), so it was not {action}. Set "
        f"COURSE_DATA_DIR to a writable folder, or as a user who may write there run `python -m utils "
        f"data fetch {dataset}` or `python -m utils data import DIR`, or copy the file to {target} (its "
        f"SHA-256 must be {entry.sha256}); {_where(target, entry, origin)}."
    )


def download_urls(entry: RemoteFile) -> tuple[str, ...]:
    """Return where ``entry`` is downloaded from: ``$COURSE_DATA_MIRROR/PATH`` first when set, then its registry URLs."""
    mirror = os.environ.get("COURSE_DATA_MIRROR", "").strip()
    return ((f"{mirror.rstrip('/')}/{entry.path}",) if mirror else ()) + entry.urls


def fetch_file(entry: RemoteFile, *, progress: bool = True) -> Path:
    """Return the verified cached copy of ``entry``, downloading it first when missing or corrupt."""
    root, origin = paths.data_dir_and_origin()
    target = root / entry.path
    state, detail = cached_state(target, entry)
    if state == "ok":
        return target
    problems: list[str] = []
    created: list[Path] = []
    try:
        created = _make_parents(target.parent)
        urls = download_urls(entry)
        for url in urls:
            out, tmp = _new_temp(target)
            try:
                with out:
                    _download(url, out, entry, progress)
                _install(tmp, target)
            except _DownloadFailed as exc:
                problems.append(f"{url}: {exc}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                problems.append(f"{url}: {describe_error(exc)}")
            else:
                return target
            finally:
                _discard(tmp)
            if progress and url != urls[-1]:
                print(f"{entry.name}: {problems[-1]}; trying the next mirror.")
    except _StoreFailed as exc:
        _remove_empty(created)
        message = _unwritable_message(entry, target, origin, state, detail, exc.error)
        raise DataUnavailableError(message) from None
    _remove_empty(created)
    raise DataUnavailableError(_unavailable_message(entry, target, origin, state, detail, problems))




def fetch_dataset(name: str, *, progress: bool = True) -> Path:
    """Fetch and verify every file of registry dataset ``name``; return the folder that holds them."""
    for entry in registry.DATASETS[name]:
        fetch_file(entry, progress=progress)
    return paths.data_dir() / registry.folder_of(registry.DATASETS[name])


def fetch(names: list[str] | None = None, progress: bool = True) -> None:
    """Download and verify every file of the named datasets (all when None); raise if any fails."""
    failures = []
    for name in registry.dataset_names(names):
        entries = registry.DATASETS[name]
        try:
            for entry in entries:
                fetch_file(entry, progress=progress)
        except DataUnavailableError as exc:
            failures.append(str(exc))
            if progress:
                print(f"{name}: FAILED (see below)")
            continue
        if progress:
            print(f"{name}: {len(entries)} file(s) verified in {paths.data_dir() / registry.folder_of(entries)}")
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
    root, origin = paths.data_dir_and_origin()
    imported: list[str] = []
    problems: list[str] = []
    for entries in registry.DATASETS.values():
        for entry in entries:
            src, target = source / entry.path, root / entry.path
            if not src.is_file():
                continue
            if cached_state(target, entry)[0] == "ok":
                continue
            state, detail = cached_state(src, entry)
            if state != "ok":
                problems.append(f"{src} ({detail})")
                continue
            try:
                problem = _copy_verified(src, target, entry)
            except _StoreFailed as exc:
                held_state, held_detail = cached_state(target, entry)
                message = _unwritable_message(
                    entry, target, origin, held_state, held_detail, exc.error, action="imported"
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
