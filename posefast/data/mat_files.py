"""A reader of MATLAB level-5 ``.mat`` files (what MATLAB's ``save`` writes up to ``-v7``, and SciPy's ``savemat``)
that only builds numpy arrays and never trusts a size it has not checked against the bytes the file holds.

``scipy.io.loadmat`` crashes the interpreter (a segmentation fault, no Python exception) on some damaged files, e.g.
a data element whose type code is not one of the format's; a file a user hands posefast must end in one line
naming it instead. So the format (MathWorks, "MAT-File Format", level 5) is walked here in Python: the 128-byte
header, then data elements, each a tag (type, byte count; the small-element form packs both in 4 bytes) and its
bytes, padded to 8 bytes; ``miCOMPRESSED`` elements are zlib streams of further elements, inflated at most to
:data:`MAX_BYTES`; an ``miMATRIX`` element holds array flags (class), dimensions, a name, then its data.

Read: numeric and logical arrays (every numeric element type, complex too), char arrays (as ``str``), cell arrays
(object arrays of what they hold) and structs (:class:`MatStruct`); sparse arrays, objects and function handles
are refused by name. Arrays keep MATLAB's shape (column-major data, so ``[n, 1]`` stays ``[n, 1]``). Every failure
is a ValueError starting with the file's path.
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass

import numpy as np

__all__ = ["MatStruct", "read_mat", "MAX_BYTES"]

MAX_BYTES = 512 << 20  # the most a file (inflated) may hold
MAX_DEPTH = 32  # cells and structs nested deeper are refused
_ELEMENT = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MATRIX, _COMPRESSED, _UTF8, _UTF16, _UTF32 = 14, 15, 16, 17, 18
_NUMERIC_CLASS = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4", 14: "i8", 15: "u8"}
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE = 1, 2, 3, 4, 5
_CLASS_NAMES = {_OBJECT: "an object", _SPARSE: "a sparse array", 16: "a function handle", 17: "an opaque object"}


@dataclass
class MatStruct:
    """A MATLAB struct array: its field ``names``, ``shape``, and per element (column-major) its field values."""

    names: tuple
    shape: tuple
    elements: list

    def __getitem__(self, index: int) -> list:
        return self.elements[index]


def _label(name: str, fallback: str) -> str:
    """A variable's name for a message: quoted and escaped (a damaged file's name may hold any byte)."""
    return repr(name) if name else fallback


class _Bad(Exception):
    """A format error at some offset (turned into the one ValueError naming the file)."""


class _Reader:
    def __init__(self, data: bytes, order: str, budget: list):
        self.data, self.order, self.pos, self.budget = data, order, 0, budget

    def tag(self) -> tuple[int, int, bool]:
        if self.pos + 8 > len(self.data):
            raise _Bad(f"a data element's tag runs past the end (offset {self.pos})")
        first = int(np.frombuffer(self.data, self.order + "u4", 1, self.pos)[0])
        if first >> 16:  # the small-element form: type and count in 4 bytes, the data in the next 4
            return first & 0xFFFF, first >> 16, True
        return first, int(np.frombuffer(self.data, self.order + "u4", 1, self.pos + 4)[0]), False

    def element(self) -> tuple[int, bytes]:
        """The next element's ``(type, bytes)``, skipping past its padding."""
        kind, n, small = self.tag()
        if small:
            if n > 4:
                raise _Bad(f"a small data element declares {n} bytes (at most 4; offset {self.pos})")
            body = self.data[self.pos + 4:self.pos + 4 + n]
            self.pos += 8
            return kind, body
        start = self.pos + 8
        if n > len(self.data) - start:
            raise _Bad(f"a data element declares {n} bytes, more than the {len(self.data) - start} left "
                       f"(offset {self.pos})")
        body = self.data[start:start + n]
        self.pos = start + n if kind == _COMPRESSED else start + (n + 7) // 8 * 8
        return kind, body

    def done(self) -> bool:
        return self.pos >= len(self.data)


def _inflate(body: bytes, budget: list) -> bytes:
    """A zlib stream, inflated within what is left of ``budget`` (a one-item list: bytes still allowed)."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(body, budget[0] + 1)
    except zlib.error as e:
        raise _Bad(f"a compressed element does not inflate ({e})") from None
    if len(out) > budget[0]:
        raise _Bad(f"inflates to more than {MAX_BYTES} bytes")
    budget[0] -= len(out)
    return out


def _numbers(kind: int, body: bytes, order: str, where: str) -> np.ndarray:
    if kind not in _ELEMENT:
        raise _Bad(f"{where}: data of element type {kind}, not a numeric one")
    dtype = np.dtype(order + _ELEMENT[kind])
    if len(body) % dtype.itemsize:
        raise _Bad(f"{where}: {len(body)} bytes is not a whole number of {dtype.name}")
    return np.frombuffer(body, dtype).astype(dtype.newbyteorder("="))


def _matrix(body: bytes, order: str, budget: list, depth: int):
    """``(name, value)`` of one miMATRIX element's bytes."""
    if depth > MAX_DEPTH:
        raise _Bad(f"cells or structs nested more than {MAX_DEPTH} deep")
    if not body:  # an empty element: MATLAB's [] inside a cell or struct
        return "", np.zeros((0, 0))
    r = _Reader(body, order, budget)
    kind, flags = r.element()
    flags = _numbers(kind, flags, order, "array flags")
    if flags.size < 2:
        raise _Bad("array flags hold fewer than 2 numbers")
    cls, complex_ = int(flags[0]) & 0xFF, bool(int(flags[0]) & 0x800)
    kind, dims = r.element()
    dims = _numbers(kind, dims, order, "dimensions")
    if dims.size < 2 or (dims < 0).any() or dims.size > 32:
        raise _Bad(f"dimensions {dims.tolist()[:8]} are not 2 to 32 non-negative sizes")
    shape = tuple(int(v) for v in dims)
    count = math.prod(shape)
    kind, name = r.element()
    if kind not in (1, 2):
        raise _Bad(f"an array name of element type {kind}")
    name = name.decode("latin-1")
    if cls in _CLASS_NAMES:
        raise _Bad(f"{_label(name, 'an element')} is {_CLASS_NAMES[cls]}, which posefast does not read")
    if cls in _NUMERIC_CLASS:  # MATLAB may store a class's values in a narrower type (doubles as uint8, ...)
        return name, _numeric(r, shape, count, complex_, order, name).astype(_NUMERIC_CLASS[cls] if not complex_
                                                                              else np.complex128)
    if cls == _CHAR:
        kind, text = r.element()
        if kind in (_UTF8, 1, 2):
            chars = text.decode("utf-8", "replace")
        elif kind in (_UTF16, 4):
            chars = text.decode("utf-16-le" if order == "<" else "utf-16-be", "replace")
        elif kind in (_UTF32, 6):
            chars = text.decode("utf-32-le" if order == "<" else "utf-32-be", "replace")
        else:
            raise _Bad(f"{_label(name, 'a char array')}: characters of element type {kind}")
        return name, chars
    if cls == _CELL:
        if count > len(body) // 8:  # every cell is at least one 8-byte tag
            raise _Bad(f"{_label(name, 'a cell array')}: {count} cells do not fit its {len(body)} bytes")
        cells = np.empty(count, dtype=object)
        for i in range(count):
            cells[i] = _child(r, order, budget, depth, name)
        return name, cells.reshape(shape, order="F")
    if cls == _STRUCT:
        kind, width = r.element()
        width = _numbers(kind, width, order, "field name length")
        kind, raw = r.element()
        if width.size != 1 or width[0] <= 0 or kind not in (1, 2) or len(raw) % int(width[0]):
            raise _Bad(f"{_label(name, 'a struct')}: field names do not fit their declared length")
        w = int(width[0])
        names = tuple(raw[i:i + w].split(b"\0")[0].decode("latin-1") for i in range(0, len(raw), w))
        if count * len(names) > len(body) // 8:
            raise _Bad(f"{_label(name, 'a struct')}: {count} x {len(names)} fields do not fit its {len(body)} bytes")
        elements = [[_child(r, order, budget, depth, name) for _ in names] for _ in range(count)]
        return name, MatStruct(names, shape, elements)
    raise _Bad(f"{_label(name, 'an element')}: unknown array class {cls}")


def _numeric(r: _Reader, shape: tuple, count: int, complex_: bool, order: str, name: str) -> np.ndarray:
    parts = []
    for part in ("real", "imaginary")[:1 + complex_]:
        kind, data = r.element()
        values = _numbers(kind, data, order, f"{_label(name, 'an array')}'s {part} part")
        if values.size != count:
            raise _Bad(f"{_label(name, 'an array')}: {values.size} {part} values for its shape {list(shape)}")
        parts.append(values)
    values = parts[0] if not complex_ else parts[0] + 1j * parts[1]
    return values.reshape(shape, order="F")


def _child(r: _Reader, order: str, budget: list, depth: int, parent: str):
    kind, body = r.element()
    if kind != _MATRIX:
        raise _Bad(f"{_label(parent, 'a cell or struct')} holds an element of type {kind}, not an array")
    return _matrix(body, order, budget, depth + 1)[1]


def read_mat(path) -> dict:
    """The variables of a level-5 ``.mat`` file, ``{name: value}`` (see the module docstring)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a folder, expected a .mat file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: file not found")
    size = os.path.getsize(path)
    if size > MAX_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than posefast reads from a .mat file ({MAX_BYTES})")
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 128:
        raise ValueError(f"{path}: not a readable MATLAB file (shorter than the 128-byte header)")
    if data[:4] == b"\x89HDF" or data[512:516] == b"\x89HDF":
        raise ValueError(f"{path}: not a readable MATLAB file (a -v7.3 (HDF5) file; save it with -v7 or -v6)")
    endian = data[126:128]
    if endian not in (b"IM", b"MI") or data[124:126] not in (b"\x00\x01", b"\x01\x00"):
        raise ValueError(f"{path}: not a readable MATLAB file (no level-5 version / endian marker in its header)")
    order = "<" if endian == b"IM" else ">"
    budget = [MAX_BYTES]
    out = {}
    try:
        top = _Reader(data[128:], order, budget)
        while not top.done():
            kind, body = top.element()
            if kind == _COMPRESSED:
                inner = _Reader(_inflate(body, budget), order, budget)
                kind, body = inner.element()
                if not inner.done():
                    raise _Bad("a compressed element holds more than one variable")
            if kind != _MATRIX:
                raise _Bad(f"a top-level element of type {kind}, not a variable")
            name, value = _matrix(body, order, budget, 0)
            out[name] = value
    except _Bad as e:
        raise ValueError(f"{path}: not a readable MATLAB file ({e})") from None
    return out
