"""Plain data (see :func:`utils.exercises.framework.plain`) to files and back: JSON text plus NumPy arrays, no pickle.

Probes run in the student's kernel and judges in the grader's process, so what a probe observed travels through
``STEM.json`` and ``STEM.npz``. The round trip is exact: tuples stay tuples, ``True`` stays a bool, NaN and
infinities survive, arrays keep dtype and shape, NumPy scalars stay NumPy scalars, dict keys keep their order.
The JSON is ordinary except for one-key objects whose key is a marker below; a dict that has a marker among its
keys is written as a list of pairs, so a student's ``{"__ndarray__": 3}`` comes back as that dict.

:func:`read` treats the files as hostile: it never unpickles or runs code, checks sizes before loading, rejects
arrays of Python objects, caps nesting and the number of JSON values, and turns anything malformed into a
:class:`CodecError` with one sentence.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from utils.exercises.framework import OBJECT, plain

ARRAY, SCALAR, TUPLE, FLOAT, DICT = "__ndarray__", "__scalar__", "__tuple__", "__float__", "__dict__"
MARKERS = frozenset({ARRAY, SCALAR, TUPLE, FLOAT, DICT})
ARRAY_KINDS = "biufcUS"  # bool, ints, floats, complex, text: everything np.load reads without pickle
MAX_DEPTH = 64  # plain() stops at depth 5; the markers and the grader's record wrappers add a few levels
MAX_NODES = 1_000_000  # JSON values; probes put bulk data in arrays, so real records have a few thousand
MAX_INT_DIGITS = 4000  # Python refuses to print or parse ints above 4300 digits
NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first member, or an empty archive


class CodecError(ValueError):
    """Files that are missing, too large, malformed or not plain data (the message is one sentence)."""


# ---------------------------------------------------------------------------
# Encoding (runs in the student's kernel: never fails on odd values, records them as objects instead)
# ---------------------------------------------------------------------------


def dumps(value: Any) -> tuple[str, dict[str, np.ndarray]]:
    """Encode plain data as JSON text plus named arrays."""
    arrays: dict[str, np.ndarray] = {}
    text = json.dumps(_encode(value, arrays, 0), allow_nan=False, separators=(",", ":"))  # ASCII-only text
    return text, arrays


def _encode(value: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    """Return the JSON-ready form of ``value``, moving arrays into ``arrays``."""
    if depth >= MAX_DEPTH:  # deeper than read() accepts (plain data never is): record it as an object
        return {OBJECT: type(value).__name__}
    if isinstance(value, (np.ndarray, np.generic)):  # first: np.float64 and np.str_ are also float and str
        array = np.asarray(value)
        if array.dtype.kind not in ARRAY_KINDS or array.dtype.fields is not None:
            return {OBJECT: "ndarray of Python objects" if array.dtype == object else f"ndarray of {array.dtype}"}
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {ARRAY if isinstance(value, np.ndarray) else SCALAR: name}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < MAX_INT_DIGITS * 3 else {OBJECT: "int with thousands of digits"}
    if isinstance(value, float):
        return value if math.isfinite(value) else {FLOAT: repr(float(value))}
    if isinstance(value, tuple):
        return {TUPLE: [_encode(v, arrays, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays, depth + 1) for v in value]
    if isinstance(value, dict):
        items = [(str(k), _encode(v, arrays, depth + 1)) for k, v in value.items()]  # str keys, as plain() does
        return {DICT: [list(kv) for kv in items]} if MARKERS.intersection(k for k, _ in items) else dict(items)
    converted = plain(value)  # a tensor becomes an array; anything else the record of an object
    return _encode(converted, arrays, depth) if isinstance(converted, np.ndarray) else {OBJECT: type(value).__name__}


def write(stem: Path, value: Any) -> None:
    """Write stem.json and stem.npz (np.savez, no pickle, atomically)."""
    stem = Path(stem)
    text, arrays = dumps(value)
    # The arrays first and the JSON last, each renamed into place whole: a reader never sees half a file.
    _replace(stem.with_name(stem.name + ".npz"), lambda f: np.savez(f, allow_pickle=False, **arrays))
    _replace(stem.with_name(stem.name + ".json"), lambda f: f.write(text.encode("ascii")))


def _replace(path: Path, fill: Any) -> None:
    """Write a file through a temporary sibling and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            fill(f)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------
# Decoding (runs in the grader: every file is hostile)
# ---------------------------------------------------------------------------


def loads(text: str, arrays: Mapping[str, np.ndarray]) -> Any:
    """Decode what dumps made (inverse)."""
    # Every JSON value but the first follows a ",", "[" or "{", so this bounds the values before json builds them.
    if 1 + text.count(",") + text.count("[") + text.count("{") > MAX_NODES:
        raise CodecError(f"the record holds more than {MAX_NODES} values.")
    try:
        tree = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise CodecError("the record is nested too deeply.") from None
    except ValueError as exc:
        raise CodecError(f"the record is not valid JSON ({_squeeze(exc)}).") from None
    return _decode(tree, arrays, 0)


def _no_constant(name: str) -> None:
    """Refuse the NaN and Infinity tokens: dumps never writes them."""
    raise ValueError(f"{name} is not JSON")


def _decode(node: Any, arrays: Mapping[str, np.ndarray], depth: int) -> Any:
    """Rebuild the value of one JSON node, checking that it is one that dumps could have written."""
    if not isinstance(node, (list, dict)):
        return node  # None, bool, int, float or str: json.loads makes nothing else
    if depth > MAX_DEPTH:
        raise CodecError(f"the record is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(node, list):
        return [_decode(v, arrays, depth + 1) for v in node]
    if not MARKERS.intersection(node):
        return {k: _decode(v, arrays, depth + 1) for k, v in node.items()}
    if len(node) != 1:
        raise CodecError("the record has an object that mixes a marker with other keys.")
    (marker, payload), = node.items()
    if marker == TUPLE and isinstance(payload, list):
        return tuple(_decode(v, arrays, depth + 1) for v in payload)
    if marker == FLOAT and isinstance(payload, str) and payload in NON_FINITE:
        return NON_FINITE[payload]
    if marker == DICT and isinstance(payload, list) and all(_is_pair(p) for p in payload):
        return {k: _decode(v, arrays, depth + 1) for k, v in payload}
    if marker in (ARRAY, SCALAR) and isinstance(payload, str):
        array = arrays.get(payload)
        if not isinstance(array, np.ndarray):
            raise CodecError(f"the record refers to an array {payload[:40]!r} that is not in the file.")
        _check_dtype(array.dtype, payload)
        if marker == ARRAY:
            return array
        if array.shape != ():
            raise CodecError(f"the scalar {payload[:40]!r} is an array of shape {array.shape}.")
        return array[()]
    raise CodecError(f"the record has a malformed {marker} entry.")


def _is_pair(item: Any) -> bool:
    """Return True for a ``[key, value]`` pair of the dict encoding."""
    return isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)


def _check_dtype(dtype: np.dtype, name: str) -> None:
    """Refuse dtypes that are not plain numbers or text (objects need pickle; records are not plain data)."""
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CodecError(f"the array {name[:40]!r} has dtype {str(dtype)[:40]}, which is not plain data.")


def read(stem: Path, max_bytes: int = 256 * 2**20) -> Any:
    """Read them back with np.load(allow_pickle=False); raise CodecError with one sentence for anything wrong."""
    stem = Path(stem)
    json_path, npz_path = stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".npz")
    raw_json, raw_npz = _read_bounded(json_path, max_bytes), _read_bounded(npz_path, max_bytes)
    try:
        arrays = _load_arrays(raw_npz, max_bytes)
    except CodecError as exc:
        raise CodecError(f"{npz_path.name}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - zipfile and numpy raise many kinds on a damaged file
        raise CodecError(f"{npz_path.name} is not a valid array file ({_squeeze(exc)}).") from None
    try:
        return loads(raw_json.decode("utf-8"), arrays)
    except CodecError as exc:
        raise CodecError(f"{json_path.name}: {exc}") from None
    except UnicodeDecodeError:
        raise CodecError(f"{json_path.name} is not UTF-8 text.") from None


def _read_bounded(path: Path, limit: int) -> bytes:
    """Return the bytes of a regular file of at most ``limit`` bytes (links and pipes refused, not followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking, so a named pipe cannot hang the grader
    except FileNotFoundError:
        raise CodecError(f"{path.name} is missing.") from None
    except OSError as exc:
        raise CodecError(f"{path.name} could not be opened ({_squeeze(exc)}).") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise CodecError(f"{path.name} is not a regular file.")
    with os.fdopen(fd, "rb") as f:
        data = f.read(limit + 1)  # never more than the limit, whatever the size said
    if info.st_size > limit or len(data) > limit:
        raise CodecError(f"{path.name} is larger than the limit of {limit} bytes.")
    return data


def _load_arrays(raw: bytes, max_bytes: int) -> dict[str, np.ndarray]:
    """Check every member's name, dtype and size from its header, then load the arrays without pickle."""
    if not raw.startswith(ZIP_STARTS):  # else np.load would take it for a bare .npy (or a pickle) and trust it
        raise CodecError("the file is not an .npz archive.")
    names: dict[str, None] = {}  # in archive order
    total = 0
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy") or info.filename[:-4] in names:
                raise CodecError(f"the member {info.filename[:40]!r} is not a uniquely named .npy array.")
            total += info.file_size  # the uncompressed size, which zipfile never reads past
            if total > max_bytes:
                raise CodecError(f"the arrays would take more than {max_bytes} bytes.")
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version not in ((1, 0), (2, 0)):
                    raise CodecError(f"the member {info.filename[:40]!r} has .npy version {version}.")
                header = np.lib.format.read_array_header_1_0 if version == (1, 0) else (
                    np.lib.format.read_array_header_2_0)
                shape, _, dtype = header(member)
            _check_dtype(dtype, info.filename[:-4])
            # numpy allocates the array the header promises before reading it: the data must be in the file.
            if min(shape, default=0) < 0 or math.prod(shape) * dtype.itemsize > info.file_size:
                raise CodecError(f"the member {info.filename[:40]!r} promises more data than it holds.")
            names[info.filename[:-4]] = None
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        return {name: npz[name] for name in names}


def _squeeze(exc: BaseException, limit: int = 120) -> str:
    """Name an exception on one short line, for the middle of a sentence."""
    text = " ".join(str(exc).split()).rstrip(".")
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
