"""The pose archive: posefast's interchange format, one ``.npz`` of plain (non-pickled) arrays.

Keys (N samples, J joints of ``skeleton``; see ``ARCHIVE.md`` next to this file):

===============  ==============  ==========================================================================
key              dtype / shape   meaning
===============  ==============  ==========================================================================
``joints_3d``    float32 [N,J,3] camera frame, metres (x right, y down, z forward). Optional.
``joints_2d``    float32 [N,J,2] pixels. Optional (a source domain can project it from 3D).
``camera``       float32 [N,4|9] fx, fy, cx, cy in pixels, then k1, k2, k3, p1, p2 when [N, 9].
``image_size``   int32   [N,2]   width, height in pixels.
``skeleton``     str (0-d)       joint layout name, e.g. ``h36m17``.
``confidence``   float32 [N,J]   optional, in [0, 1].
``subject``      int     [N]     optional id, for splits.
``sequence``     int     [N]     optional id, for splits.
``view``         int     [N]     optional camera index within a rig (posefast extension).
===============  ==============  ==========================================================================

At least one of ``joints_3d`` / ``joints_2d`` must be present. Every array must be finite. The same validator
(:func:`validate_arrays`) guards :class:`~posefast.data.pose3d.dataset.PoseDataset`, so a dataset can always be saved.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from posefast.skeleton import get_skeleton
from posefast.data.safe_files import PickledObjectsError, read_npz

__all__ = ["ArchiveError", "ARCHIVE_KEYS", "validate_arrays", "load_archive", "save_archive"]

# key -> (required?, human description of what is expected)
ARCHIVE_KEYS: dict[str, tuple[bool, str]] = {
    "joints_3d": (False, "float32 [N, J, 3], camera frame, metres"),
    "joints_2d": (False, "float32 [N, J, 2], pixels"),
    "camera": (True, "float32 [N, 4] (fx, fy, cx, cy) or [N, 9] (+ k1, k2, k3, p1, p2), positive focal lengths"),
    "image_size": (True, "int32 [N, 2] (width, height), positive"),
    "skeleton": (True, "a 0-d string naming a known joint layout, e.g. 'h36m17'"),
    "confidence": (False, "float32 [N, J] in [0, 1]"),
    "subject": (False, "integer [N]"),
    "sequence": (False, "integer [N]"),
    "view": (False, "integer [N]"),
}
_ID_KEYS = ("subject", "sequence", "view")


class ArchiveError(ValueError):
    """A pose archive (or the arrays of a dataset) does not follow the format; the message names source and key."""


def _fail(source: str, key: str, got: str) -> ArchiveError:
    return ArchiveError(f"{source}: key {key!r}: expected {ARCHIVE_KEYS[key][1]}, got {got}")


def _describe(a) -> str:
    return f"{a.dtype} {tuple(a.shape)}" if isinstance(a, np.ndarray) else type(a).__name__


def _check_finite(source: str, key: str, a: np.ndarray) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = np.argwhere(bad)[0]
        raise _fail(source, key, f"a non-finite value {a[tuple(first)]} at index {tuple(int(i) for i in first)}")


def validate_arrays(arrays: Mapping[str, object], source: str = "<arrays>") -> dict[str, object]:
    """Check archive arrays and return them as a new dict (``skeleton`` as ``str``, ids as int64 arrays).

    Args:
        arrays: key -> numpy array (``skeleton`` may be a ``str``).
        source: name used in error messages (the file path when loading).

    Raises:
        ArchiveError: naming ``source``, the offending key and what was expected.
    """
    unknown = sorted(set(arrays) - set(ARCHIVE_KEYS))
    if unknown:
        raise ArchiveError(f"{source}: unknown key(s) {unknown}; expected only {sorted(ARCHIVE_KEYS)}")
    for key, (required, _) in ARCHIVE_KEYS.items():
        if required and key not in arrays:
            raise ArchiveError(f"{source}: missing key {key!r}: expected {ARCHIVE_KEYS[key][1]}")
    if "joints_3d" not in arrays and "joints_2d" not in arrays:
        raise ArchiveError(f"{source}: needs at least one of 'joints_3d' and 'joints_2d'")

    out: dict[str, object] = {}
    skel = arrays["skeleton"]
    if isinstance(skel, np.ndarray):
        if skel.ndim != 0 or skel.dtype.kind != "U":
            raise _fail(source, "skeleton", _describe(skel))
        skel = str(skel)
    if not isinstance(skel, str):
        raise _fail(source, "skeleton", _describe(skel))
    try:
        skeleton = get_skeleton(skel)
    except ValueError:
        raise _fail(source, "skeleton", f"unknown layout {skel!r}") from None
    out["skeleton"] = skeleton.name
    J = skeleton.num_joints

    camera = arrays["camera"]
    if not (isinstance(camera, np.ndarray) and camera.dtype == np.float32 and camera.ndim == 2
            and camera.shape[1] in (4, 9) and camera.shape[0] >= 1):
        raise _fail(source, "camera", _describe(camera))
    N = camera.shape[0]
    _check_finite(source, "camera", camera)
    if (camera[:, :2] <= 0).any():
        row = int(np.argwhere(camera[:, :2] <= 0)[0, 0])
        raise _fail(source, "camera", f"a non-positive focal length at row {row}")
    out["camera"] = camera

    size = arrays["image_size"]
    if not (isinstance(size, np.ndarray) and size.dtype == np.int32 and size.shape == (N, 2)):
        raise _fail(source, "image_size", f"{_describe(size)} for N = {N}")
    if (size <= 0).any():
        raise _fail(source, "image_size", f"a non-positive size at row {int(np.argwhere(size <= 0)[0, 0])}")
    out["image_size"] = size

    for key, last in (("joints_3d", 3), ("joints_2d", 2)):
        if key in arrays:
            a = arrays[key]
            if not (isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == (N, J, last)):
                raise _fail(source, key, f"{_describe(a)} for N = {N}, J = {J} ({skeleton.name})")
            _check_finite(source, key, a)
            out[key] = a

    if "confidence" in arrays:
        c = arrays["confidence"]
        if not (isinstance(c, np.ndarray) and c.dtype == np.float32 and c.shape == (N, J)):
            raise _fail(source, "confidence", f"{_describe(c)} for N = {N}, J = {J}")
        _check_finite(source, "confidence", c)
        if ((c < 0) | (c > 1)).any():
            raise _fail(source, "confidence", f"values in [{c.min()}, {c.max()}]")
        out["confidence"] = c

    for key in _ID_KEYS:
        if key in arrays:
            a = arrays[key]
            if not (isinstance(a, np.ndarray) and a.dtype.kind in "iu" and a.shape == (N,)):
                raise _fail(source, key, f"{_describe(a)} for N = {N}")
            out[key] = a.astype(np.int64, copy=False)
    return out


def load_archive(path: "str | os.PathLike") -> dict[str, object]:
    """Read and validate a pose archive. Returns key -> array (``skeleton`` as ``str``, ids as int64).

    The file is opened without pickle support: an archive holds plain arrays only.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{source}: no such pose archive")
    if not zipfile.is_zipfile(path):  # name the format before the reader's own message
        raise ArchiveError(f"{source}: not a valid .npz file (an .npz is a zip archive of arrays; this file is not "
                           "a zip archive)")
    try:
        arrays = read_npz(path)
    except PickledObjectsError as e:  # object arrays need pickle: not an archive
        raise ArchiveError(f"{e}; a pose archive holds plain arrays only") from None
    except ValueError as e:
        raise ArchiveError(str(e)) from None
    return validate_arrays(arrays, source=source)


def save_archive(path: "str | os.PathLike", arrays: Mapping[str, object], compress: bool = True) -> Path:
    """Validate ``arrays`` (see :data:`ARCHIVE_KEYS`) and write them as a pose archive; returns the path.

    ``numpy.savez`` appends ``.npz`` to a name without it; the returned path is the file actually written.
    """
    checked = validate_arrays(arrays, source=f"save_archive({os.fspath(path)!r})")
    checked = dict(checked)
    checked["skeleton"] = np.asarray(checked["skeleton"])
    for key in _ID_KEYS:
        if key in checked:
            checked[key] = checked[key].astype(np.int32) if np.abs(checked[key]).max() < 2**31 else checked[key]
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    (np.savez_compressed if compress else np.savez)(path, **checked)
    return path
