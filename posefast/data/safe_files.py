"""Reading the dataset files a user hands posefast without running anything they hold, and without allocating more
than they hold: the one reader of ``.npz`` and ``.npy`` files and of pickled dataset files (VideoPose3D's Human3.6M
dicts, the 3DHP per-sequence npz, 3DPW's sequence pickles).

- :func:`read_npz` opens an ``.npz`` as the zip archive it is and parses each member's ``.npy`` header itself: the
  dtype must be a plain one (numbers, bools, strings; no structured or void types), and the shape times the item
  size must equal the bytes the member holds, which the zip directory declares and the compressed size bounds
  (deflate expands at most :data:`MAX_DEFLATE_RATIO` times). So a header declaring 10^12 elements is refused before
  anything is allocated, and memory grows only as data actually decompresses. :func:`read_npy` reads one ``.npy``
  file the same way (SynAnimal's keypoint files, the releases' split lists).
- A member of dtype ``object`` is a pickle. :func:`read_npz` refuses it unless the caller asks for objects
  (``objects=True``); then it is read by :class:`RestrictedUnpickler`, as are the 3DPW pickles
  (:func:`read_pickle`). That unpickler builds only numpy arrays, dtypes and scalars (each checked against the bytes
  it is built from before numpy allocates), Python's plain containers, strings and numbers, and ``_codecs.encode``
  to latin-1 (how Python 3 writes ``bytes`` into a protocol-2 pickle); any other global is refused by name.

Every failure is a :class:`ValueError` (or ``OSError`` for a file that cannot be opened) whose message starts with
the file's path; :class:`PickledObjectsError` marks an ``.npz`` that holds objects where plain arrays were expected.
"""
from __future__ import annotations

import ast
import codecs
import io
import json
import math
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["PickledObjectsError", "RestrictedUnpickler", "read_json", "read_npy", "read_npz", "read_pickle",
           "restricted_loads", "MAX_DEFLATE_RATIO", "MAX_JSON_BYTES"]

MAX_JSON_BYTES = 512 << 20  # the largest JSON file posefast parses (json builds it all in memory)

# deflate's largest expansion (a run of one byte: 258 bytes per 2-bit code, about 1032:1), plus slack for headers
MAX_DEFLATE_RATIO = 1032
_MAX_HEADER = 1 << 16
_MAX_DIMS = 32
_CHUNK = 1 << 24
_MAGIC = b"\x93NUMPY"


class PickledObjectsError(ValueError):
    """An ``.npz`` member holds pickled objects where only plain arrays are read."""


def _numpy_function(name: str):
    core = getattr(np, "_core", None) or np.core  # numpy >= 2 moved numpy.core to numpy._core
    return getattr(core.multiarray if name != "_frombuffer" else core.numeric, name)


def _count(shape, where: str) -> int:
    if not isinstance(shape, tuple) or len(shape) > _MAX_DIMS or \
            not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise pickle.UnpicklingError(f"{where}: shape {shape!r} is not a tuple of non-negative ints")
    return math.prod(shape)


def _plain_dtype(dtype, where: str) -> np.dtype:
    if not isinstance(dtype, np.dtype) or dtype.fields is not None or dtype.subdtype is not None or \
            dtype.kind not in "biufcSUO":
        raise pickle.UnpicklingError(f"{where}: dtype {dtype!r} is not a plain numeric, bool, string or object "
                                     "dtype")
    return dtype


class _ArrayClass:
    """Stands for ``numpy.ndarray`` in a pickle: only :func:`_reconstruct` accepts it (calling it does nothing)."""


def _reconstruct(cls, shape, typecode):
    # numpy pickles an array as _reconstruct(ndarray, (0,), b'b') followed by __setstate__ with the real shape and
    # bytes: anything but an empty placeholder here would allocate a shape the file does not pay for.
    if cls is not _ArrayClass or shape != (0,):
        raise pickle.UnpicklingError(f"refused _reconstruct({cls!r}, {shape!r}): not numpy's array placeholder")
    return np.ndarray.__new__(np.ndarray, (0,), np.dtype("b"))


def _make_dtype(spec, align=False, copy=False):
    if not isinstance(spec, str) or len(spec) > 16:
        raise pickle.UnpicklingError(f"refused dtype({spec!r}): not a short dtype string")
    return np.dtype(spec, bool(align), bool(copy))


def _scalar(dtype, data=None):
    dtype = _plain_dtype(dtype, "scalar")
    if dtype.kind == "O":
        return data
    if isinstance(data, str):
        data = data.encode("latin-1")
    if not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError(f"scalar of {dtype}: expected {dtype.itemsize} bytes")
    return _numpy_function("scalar")(dtype, data)


def _frombuffer(buf, dtype, shape, order):
    dtype = _plain_dtype(dtype, "_frombuffer")
    n = _count(shape, "_frombuffer")
    if dtype.kind == "O" or not isinstance(buf, (bytes, bytearray)) or len(buf) != n * dtype.itemsize:
        raise pickle.UnpicklingError(f"_frombuffer: {len(buf) if isinstance(buf, (bytes, bytearray)) else '?'} "
                                     f"bytes for {n} elements of {dtype}")
    return np.frombuffer(bytearray(buf), dtype=dtype).reshape(shape, order="F" if order == "F" else "C")


def _encode(text, encoding="utf-8"):
    # Python 3 writes bytes into a protocol-2 pickle as _codecs.encode(<latin-1 text>, 'latin1')
    if not isinstance(text, str) or str(encoding).lower().replace("-", "") != "latin1":
        raise pickle.UnpicklingError("refused _codecs.encode other than of text to latin1")
    return codecs.encode(text, "latin-1")


_GLOBALS = {("numpy", "ndarray"): _ArrayClass, ("numpy", "dtype"): _make_dtype, ("_codecs", "encode"): _encode}
for _core in ("numpy.core", "numpy._core"):
    _GLOBALS.update({(f"{_core}.multiarray", "_reconstruct"): _reconstruct,
                     (f"{_core}.multiarray", "scalar"): _scalar,
                     (f"{_core}.numeric", "_frombuffer"): _frombuffer})


class RestrictedUnpickler(pickle._Unpickler):  # the Python implementation: its BUILD step can be checked
    """An unpickler that builds numpy arrays, dtypes and scalars, plain containers, strings and numbers, and nothing
    else (see the module docstring). ``what`` names the kind of file in a refusal."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, what: str = "this file", encoding: str = "latin1"):
        super().__init__(file, encoding=encoding)
        self.what = what

    def find_class(self, module, name):
        found = _GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: {self.what} holds only numpy arrays and "
                                         f"plain containers")
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError(f"refused persistent id: {self.what} holds only numpy arrays and plain "
                                     "containers")

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, np.ndarray) and inst.size == 0 and inst.base is None:
            self._build_array(inst, state)
        elif isinstance(inst, np.dtype):
            # (version, byte order, subarray, names, fields, elsize, alignment, flags): simple dtypes only
            if not (isinstance(state, tuple) and len(state) in (8, 9) and state[2] is None and state[3] is None
                    and state[4] is None and all(isinstance(v, int) for v in state[5:8])):
                raise pickle.UnpicklingError(f"refused dtype state {state!r}: only simple dtypes are read")
            inst.__setstate__(state)
            _plain_dtype(inst, "dtype")
        else:
            raise pickle.UnpicklingError(f"refused to set the state of a {type(inst).__name__}")

    dispatch[pickle.BUILD[0]] = load_build

    @staticmethod
    def _build_array(inst: np.ndarray, state) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("array state: expected (version, shape, dtype, fortran, data)")
        shape, dtype, _, data = state[-4:]
        n = _count(shape, "array")
        dtype = _plain_dtype(dtype, "array")
        if dtype.kind == "O":
            ok = isinstance(data, list) and len(data) == n
        else:
            ok = isinstance(data, (bytes, bytearray, str)) and len(data) == n * dtype.itemsize
        if not ok:
            raise pickle.UnpicklingError(f"array of {n} x {dtype}: its data does not hold that many elements")
        inst.__setstate__(state)


def restricted_loads(data: bytes, what: str, encoding: str = "latin1"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (``what`` names the file kind in a refusal)."""
    return RestrictedUnpickler(io.BytesIO(data), what=what, encoding=encoding).load()


def _refusal(path, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _open_regular(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder, expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")


def read_pickle(path, what: str) -> object:
    """The object pickled in ``path`` (a Python 2 pickle's strings read as latin-1), through
    :class:`RestrictedUnpickler`. A file that is not such a pickle raises ValueError naming ``path``."""
    path = Path(path)
    _open_regular(path)
    with open(path, "rb") as f:
        data = f.read()  # whole, so a length the pickle declares never asks for more than the file holds
    try:
        return restricted_loads(data, what)
    except Exception as e:  # noqa: BLE001 - truncated, not a pickle, refused global: one message naming the file
        raise ValueError(f"{path}: not a readable {what} ({_refusal(path, e)})") from None


def _parse_header(text: str, where: str) -> tuple[np.dtype, tuple, bool]:
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
        raise ValueError(f"{where}: unreadable .npy header ({type(e).__name__})") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"{where}: .npy header is not {{'descr', 'fortran_order', 'shape'}}")
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str) or not isinstance(fortran, bool):
        raise ValueError(f"{where}: .npy header: descr must be a dtype string and fortran_order a bool "
                         "(structured arrays are not read)")
    try:
        dtype = np.dtype(descr)
        _plain_dtype(dtype, where)
        _count(shape, where)
    except (TypeError, ValueError, pickle.UnpicklingError) as e:
        raise ValueError(f"{where}: .npy header: {e}") from None
    if dtype.itemsize == 0 and dtype.kind != "O":
        raise ValueError(f"{where}: .npy header: dtype {descr!r} has no size")
    return dtype, shape, fortran


def _read_exactly(f, n: int, where: str) -> bytearray:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(min(_CHUNK, n - len(buf)))
        if not chunk:
            raise ValueError(f"{where}: truncated (holds {len(buf)} of {n} bytes)")
        buf += chunk
    return buf


def _read_npy_stream(f, size: int, where: str, objects: bool, pickled: str) -> np.ndarray:
    """The array of one ``.npy`` stream ``f`` of ``size`` bytes, checked as the module docstring says; ``pickled``:
    the message of a :class:`PickledObjectsError` for an object array when ``objects`` is false."""
    magic = f.read(8)
    if len(magic) != 8 or magic[:6] != _MAGIC or magic[6] not in (1, 2, 3) or magic[7] != 0:
        raise ValueError(f"{where}: not an .npy array (bad magic)")
    width = 2 if magic[6] == 1 else 4
    raw_len = f.read(width)
    header_len = int.from_bytes(raw_len, "little") if len(raw_len) == width else -1
    offset = 8 + width + header_len
    if header_len < 0 or header_len > _MAX_HEADER or offset > size:
        raise ValueError(f"{where}: .npy header length {header_len} does not fit the member")
    text = bytes(_read_exactly(f, header_len, where)).decode("utf-8" if magic[6] == 3 else "latin-1")
    dtype, shape, fortran = _parse_header(text, where)
    payload = size - offset
    if dtype.kind == "O":
        if not objects:
            raise PickledObjectsError(pickled)
        try:
            arr = restricted_loads(bytes(_read_exactly(f, payload, where)), "a dataset file")
        except ValueError:
            raise
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ValueError(f"{where}: pickled objects not read ({_refusal(where, e)})") from None
        if not isinstance(arr, np.ndarray) or arr.shape != shape:
            raise ValueError(f"{where}: its pickle is not the {shape} array its header declares")
        return arr
    n = math.prod(shape)
    if n * dtype.itemsize != payload:
        raise ValueError(f"{where}: .npy header declares {n} elements of {dtype} ({n * dtype.itemsize} bytes) "
                         f"but the member holds {payload} bytes")
    buf = _read_exactly(f, payload, where)
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, key: str, objects: bool) -> np.ndarray:
    with z.open(info) as f:
        return _read_npy_stream(f, info.file_size, f"{path}: key {key!r}", objects,
                                f"{path}: holds pickled objects (key {key!r} is an object array)")


def read_json(path) -> object:
    """The value a JSON file holds (plain dicts, lists, strings, numbers), or a ValueError naming the file: larger
    than :data:`MAX_JSON_BYTES`, not UTF-8, not JSON, or nested deeper than the parser's recursion allows. The caller
    checks the structure it expects; a missing file stays a FileNotFoundError."""
    size = os.path.getsize(path)
    if size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than a JSON file posefast reads ({MAX_JSON_BYTES})")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path}: not valid JSON ({type(e).__name__}: {e})") from None


def read_npy(path) -> np.ndarray:
    """The array of the ``.npy`` file ``path``, its header parsed and checked against the file's size before
    anything is allocated (as :func:`read_npz` does for each member); an object array (a pickle) is refused with a
    :class:`PickledObjectsError`. Every failure is a ValueError (or OSError) starting with ``path``."""
    path = Path(path)
    _open_regular(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        return _read_npy_stream(f, size, str(path), False,
                                f"{path}: holds pickled objects (an object array); posefast does not unpickle it")


def read_npz(path, *, objects: bool = False) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file ``path`` (key: member name without ``.npy``), read as the module docstring
    says. ``objects``: read object arrays through :class:`RestrictedUnpickler` (else
    :class:`PickledObjectsError`)."""
    path = Path(path)
    _open_regular(path)
    size = path.stat().st_size
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError) as e:
        raise ValueError(f"{path}: not a readable .npz file (an .npz is a zip archive of arrays: "
                         f"{_refusal(path, e)})") from None
    out = {}
    with z:
        for info in z.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            where = f"{path}: key {key!r}"
            if not info.filename.endswith(".npy") or info.is_dir():
                raise ValueError(f"{where}: not an .npy member")
            if info.compress_type == zipfile.ZIP_STORED:
                bound = info.compress_size
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                bound = MAX_DEFLATE_RATIO * info.compress_size + 1024
            else:
                raise ValueError(f"{where}: compression {info.compress_type} is not one numpy writes")
            if info.file_size > bound or info.header_offset + info.compress_size > size:
                raise ValueError(f"{where}: declares {info.file_size} bytes, more than its {info.compress_size} "
                                 f"stored bytes in a {size}-byte file can hold")
            try:
                out[key] = _read_member(z, info, path, key, objects)
            except ValueError:
                raise
            except Exception as e:  # noqa: BLE001 - zlib, CRC, EOF: a corrupt member
                raise ValueError(f"{where}: corrupt ({_refusal(where, e)})") from None
    return out
