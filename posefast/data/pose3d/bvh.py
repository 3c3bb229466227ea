"""BVH motion capture (Biovision hierarchy): reader and forward kinematics.

Each joint's frame is its parent's frame moved by ``OFFSET`` (+ position channels) and turned by its rotation
channels in the listed order (``Zrotation Yrotation Xrotation`` -> ``Rz Ry Rx``). BVH has no unit field; CMU's BVH
conversions use the ASF scale (:data:`~posefast.data.pose3d.mocap.CMU_METRES_PER_UNIT`), which is the default
``metres_per_unit`` here.

The reader runs in three steps: *parse* the ``HIERARCHY`` tokens and the ``MOTION`` block, *validate* them (every
error names the file and the joint or field), *assemble* the :class:`BvhMotion`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posefast.data.pose3d.mocap import CMU_METRES_PER_UNIT, euler, finite_floats, read_text

__all__ = ["BvhJoint", "BvhMotion", "read_bvh", "bvh_forward_kinematics"]

_CHANNELS = frozenset(f"{a}{kind}" for a in "XYZ" for kind in ("position", "rotation"))


@dataclass(frozen=True)
class BvhJoint:
    """A BVH joint: offset [3] (file units), channels (e.g. ('Xposition', ..., 'Zrotation')), parent index
    (-1 for the root); end sites are joints named '<parent>_end' without channels."""

    name: str
    offset: np.ndarray
    channels: tuple
    parent: int


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH: joints (hierarchy order), motion [T, C] (file units / degrees), frame time (s)."""

    joints: tuple
    motion: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time


def _joint_body(tokens: list[str], i: int, name: str, parent: int, path: Path) -> tuple[BvhJoint, int]:
    """The joint whose ``{`` is at ``tokens[i]``: its ``OFFSET`` and optional ``CHANNELS``; returns the joint and
    the index of the token after them."""
    if tokens[i + 1] != "OFFSET":
        raise ValueError(f"{path}: joint {name!r}: expected OFFSET")
    offset = finite_floats(tokens[i + 2:i + 5], path, f"joint {name!r} OFFSET", 3)
    i += 5
    channels: tuple = ()
    if tokens[i] == "CHANNELS":
        k = int(tokens[i + 1])
        channels = tuple(tokens[i + 2:i + 2 + k])
        if len(channels) != k or any(c not in _CHANNELS for c in channels):
            raise ValueError(f"{path}: joint {name!r}: bad CHANNELS {channels}")
        i += 2 + k
    return BvhJoint(name, offset, channels, parent), i


def _parse_hierarchy(tokens: list[str], path: Path) -> list[BvhJoint]:
    """The joints (and ``<parent>_end`` end sites) of the ``HIERARCHY`` tokens, in file order."""
    joints: list[BvhJoint] = []
    stack: list[int] = []  # the open joints' indices
    i = 0
    pending_name, pending_parent = None, -1  # the joint whose "{" comes next
    try:
        while i < len(tokens):
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                if (tok == "ROOT") != (not stack and not joints):
                    raise ValueError(f"{path}: {tok} at the wrong level")
                pending_name, pending_parent = tokens[i + 1], (stack[-1] if stack else -1)
                i += 2
            elif tok == "End":
                if tokens[i + 1] != "Site" or not stack:
                    raise ValueError(f"{path}: malformed 'End Site'")
                pending_name, pending_parent = joints[stack[-1]].name + "_end", stack[-1]
                i += 2
            elif tok == "{":
                if pending_name is None:
                    raise ValueError(f"{path}: '{{' without a joint")
                joint, i = _joint_body(tokens, i, pending_name, pending_parent, path)
                joints.append(joint)
                stack.append(len(joints) - 1)
                pending_name = None
            elif tok == "}":
                if not stack:
                    raise ValueError(f"{path}: unbalanced '}}'")
                stack.pop()
                i += 1
            else:
                raise ValueError(f"{path}: unexpected token {tok!r} in HIERARCHY")
    except IndexError:
        raise ValueError(f"{path}: HIERARCHY ends early") from None
    if stack or not joints:
        raise ValueError(f"{path}: HIERARCHY is empty or its braces do not balance")
    return joints


def _parse_motion(text: str, channels: int, path: Path) -> tuple[np.ndarray, float]:
    """``(values [T, channels], frame time)`` of the text after ``MOTION``."""
    m = re.match(r"\s*Frames:\s*(\d+)\s*Frame Time:\s*([0-9.eE+-]+)\s*", text)
    if not m:
        raise ValueError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: dt'")
    T, dt = int(m.group(1)), float(m.group(2))
    if T < 1 or not dt > 0:
        raise ValueError(f"{path}: need Frames >= 1 and Frame Time > 0, got {T}, {dt}")
    try:
        values = np.array(text[m.end():].split(), dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: MOTION data holds a non-numeric value") from None
    if values.size != T * channels:
        raise ValueError(f"{path}: MOTION has {values.size} values, expected Frames {T} x {channels} channels")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: MOTION data holds non-finite values")
    return values.reshape(T, channels), dt


def read_bvh(path) -> BvhMotion:
    """Parse a BVH file (HIERARCHY + MOTION)."""
    path = Path(path)
    head, sep, tail = read_text(path, "BVH").partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise ValueError(f"{path}: expected 'HIERARCHY' ... 'MOTION' sections; not a BVH file?")
    joints = _parse_hierarchy(head.split("HIERARCHY", 1)[1].split(), path)
    motion, dt = _parse_motion(tail, sum(len(j.channels) for j in joints), path)
    return BvhMotion(tuple(joints), motion, dt)


def bvh_forward_kinematics(bvh: BvhMotion, metres_per_unit: float = CMU_METRES_PER_UNIT
                           ) -> tuple[np.ndarray, list[str]]:
    """World positions of every joint and end site: ([T, J, 3] metres, names)."""
    T = bvh.motion.shape[0]
    col = 0
    G, P = [], []
    for j in bvh.joints:
        ch = bvh.motion[:, col:col + len(j.channels)]
        col += len(j.channels)
        offset = np.broadcast_to(j.offset, (T, 3)).copy()
        rot_axes = ""
        rot_cols = []
        for k, c in enumerate(j.channels):
            if c.endswith("position"):
                offset[:, "XYZ".index(c[0])] += ch[:, k]
            else:
                rot_axes += c[0]
                rot_cols.append(ch[:, k])
        R = euler(np.radians(np.stack(rot_cols[::-1], -1)), rot_axes[::-1]) if rot_axes else \
            np.broadcast_to(np.eye(3), (T, 3, 3))
        if j.parent < 0:
            G.append(R)
            P.append(offset * metres_per_unit)
        else:
            G.append(G[j.parent] @ R)
            P.append(P[j.parent] + (G[j.parent] @ offset[..., None])[..., 0] * metres_per_unit)
    return np.stack(P, 1), [j.name for j in bvh.joints]
