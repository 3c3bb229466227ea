"""What the motion-capture readers share: reading a text file, checked float fields, Euler angle matrices, mapping
a reader's named points to ``h36m17`` and choosing the frames of an output rate.

The readers themselves: :mod:`posefast.data.pose3d.asf_amc` (Acclaim ASF/AMC) and :mod:`posefast.data.pose3d.bvh`;
the CMU dataset built from them: :mod:`posefast.data.pose3d.cmu`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from posefast.geometry import rotation_x, rotation_y, rotation_z
from posefast.skeleton import H36M17

__all__ = ["CMU_METRES_PER_UNIT", "read_text", "finite_floats", "euler", "to_h36m17", "resample_indices"]

# CMU's files: ``:units length 0.45`` (one unit = 1/0.45 inch); its BVH conversions carry no unit and use the same.
CMU_METRES_PER_UNIT = 0.0254 / 0.45

_AXIS_ROT = {"x": rotation_x, "y": rotation_y, "z": rotation_z}


def read_text(path: Path, kind: str) -> str:
    """The file's text; an unreadable or non-text file is a ``ValueError`` naming it and ``kind`` (``ASF``...)."""
    try:
        return path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read {kind} ({type(e).__name__}: {e})") from None


def finite_floats(tokens, path: Path, what: str, count: int) -> np.ndarray:
    """``count`` finite float64 values from text ``tokens``; anything else is a ``ValueError`` naming ``what``."""
    try:
        vals = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: {what}: expected {count} numbers, got {' '.join(tokens)!r}") from None
    if vals.shape != (count,) or not np.isfinite(vals).all():
        raise ValueError(f"{path}: {what}: expected {count} finite numbers, got {' '.join(tokens)!r}")
    return vals


def euler(angles_rad: np.ndarray, axes: str) -> np.ndarray:
    """[..., k] angles about ``axes`` (e.g. 'xyz'), first axis applied first -> [..., 3, 3]."""
    R = np.broadcast_to(np.eye(3), angles_rad.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes.lower()):
        R = _AXIS_ROT[ax](angles_rad[..., i]).numpy() @ R
    return R


def to_h36m17(positions: np.ndarray, names: list[str], joint_map: Mapping[str, tuple]) -> np.ndarray:
    """[T, K, 3] source points + names -> [T, 17, 3] h36m17, each joint the mean of its mapped source points."""
    index = {n: i for i, n in enumerate(names)}
    out = np.empty(positions.shape[:1] + (H36M17.num_joints, 3))
    for j, jn in enumerate(H36M17.joint_names):
        if jn not in joint_map:
            raise ValueError(f"joint_map: no source for h36m17 joint {jn!r}")
        src = joint_map[jn]
        missing = [s for s in src if s not in index]
        if missing:
            raise ValueError(f"joint_map: source point(s) {missing} for {jn!r} not in the skeleton "
                             f"({', '.join(names)})")
        out[:, j] = positions[:, [index[s] for s in src]].mean(1)
    return out


def resample_indices(num_frames: int, source_fps: float, fps: float) -> np.ndarray:
    """Indices of the source frames nearest to times 0, 1/fps, 2/fps, ... (no interpolation: every kept pose is
    a captured one). Upsampling is refused."""
    if not fps > 0 or fps > source_fps + 1e-9:
        raise ValueError(f"fps: expected 0 < fps <= the capture rate {source_fps:g}, got {fps}")
    duration = (num_frames - 1) / source_fps
    times = np.arange(0.0, duration + 1e-9, 1.0 / fps)
    return np.clip(np.round(times * source_fps).astype(np.int64), 0, num_frames - 1)
