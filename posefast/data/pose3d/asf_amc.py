"""Acclaim ASF/AMC motion capture (the CMU database's native format): reader and forward kinematics.

The ASF gives each bone a rest ``direction`` (world axes) and ``length`` in ASF units, a local ``axis`` frame
(angles + rotation order) and its ``dof``; the AMC gives per frame the root translation/rotation and every bone's
DOF values. Forward kinematics (the Acclaim convention, as in CMU's own viewer): with ``C = Euler(axis)`` and
``M = `` the frame's DOF rotations, a bone's global rotation is ``G = G_parent C M C^-1`` and its end point is
``start + G (length * direction)``; the root's start is its translation. Euler angle lists apply their first axis
first (``XYZ`` / ``rx ry rz`` -> ``Rz Ry Rx``). Units: ``:units length L`` means one ASF unit is 1/L inch (CMU:
L = 0.45), so metres = value / L * 0.0254, root translation included; angles in degrees (``:units angle deg``) or
radians.

Each reader runs in three steps: *parse* the text into fields, *validate* them (every error names the file and
the field), *assemble* the typed result.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posefast.data.pose3d.mocap import euler, finite_floats, read_text

__all__ = ["AsfBone", "AsfSkeleton", "Motion", "read_asf", "read_amc", "asf_forward_kinematics"]

_ROTATION_DOFS = ("rx", "ry", "rz")


@dataclass(frozen=True)
class AsfBone:
    """One ASF bone: direction [3] (unit, world axes), length (metres), axis [3] (radians) with its order,
    rotational DOFs (subset of 'rx', 'ry', 'rz' in file order) and parent bone name ('root' at the top)."""

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dofs: tuple
    parent: str


@dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ASF: bones in topological order, root DOF order (e.g. ('tx','ty','tz','rx','ry','rz')), root
    axis order, position (metres) and orientation (radians), and the unit factors used."""

    name: str
    bones: dict
    root_order: tuple
    root_axis_order: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    metres_per_unit: float
    degrees: bool


@dataclass(frozen=True)
class Motion:
    """AMC frames: root [T, 6] (in ``root_order``, translation metres, angles radians) and per bone [T, ndof]
    radians; ``fps`` is the capture rate (CMU: 120 Hz)."""

    root: np.ndarray
    bones: dict
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.root.shape[0])


# ----------------------------------------------------------------------------------------------- ASF: parse
def _sections(lines: list[str], path: Path) -> dict[str, list[str]]:
    """``{section: lines}`` of an ASF (``:name value`` starts a section; ``#`` comments and blank lines dropped)."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith(":"):
            parts = line[1:].split(None, 1)
            current = parts[0].lower()
            out.setdefault(current, [])
            if len(parts) > 1:
                out[current].append(parts[1])
            continue
        if current is None:
            raise ValueError(f"{path}: content before the first ':section' line: {line!r}")
        out[current].append(line)
    return out


def _parse_bonedata(lines: list[str], path: Path) -> dict[str, dict]:
    """``{name: {field: tokens}}`` of the ``:bonedata`` begin/end blocks (``limits``, ``id`` and masses skipped:
    the motion holds the angles)."""
    raw_bones: dict[str, dict] = {}
    block: "dict | None" = None
    for line in lines:
        parts = line.split()
        key = parts[0].lower()
        if key == "begin":
            block = {}
        elif key == "end":
            if block is None or "name" not in block:
                raise ValueError(f"{path}: a bonedata block without 'name'")
            raw_bones[block["name"]] = block
            block = None
        elif block is None:
            raise ValueError(f"{path}: bonedata line outside begin/end: {line!r}")
        elif key == "name":
            block["name"] = parts[1]
        elif key in ("direction", "length", "axis", "dof"):
            block[key] = parts[1:]
        elif key in ("limits", "id", "bodymass", "cofmass") or re.fullmatch(r"\(.*\)", line):
            pass  # informative only; a bare "(lo hi)" line continues a limits list
        else:
            raise ValueError(f"{path}: unknown bonedata field {parts[0]!r}")
    if block is not None:
        raise ValueError(f"{path}: bonedata ends inside a begin/end block")
    return raw_bones


def _parse_hierarchy(lines: list[str], path: Path) -> dict[str, str]:
    """``{bone: parent}`` of the ``:hierarchy`` lines (``parent child child ...``)."""
    parent_of: dict[str, str] = {}
    for line in lines:
        parts = line.split()
        if parts[0].lower() in ("begin", "end"):
            continue
        for child in parts[1:]:
            if child in parent_of:
                raise ValueError(f"{path}: bone {child!r} has two parents in ':hierarchy'")
            parent_of[child] = parts[0]
    return parent_of


# ----------------------------------------------------------------------------------------------- ASF: validate
def _units(sec: dict, path: Path, metres_per_unit: "float | None") -> tuple[float, float, str]:
    """``(metres per unit, radians per angle unit, angle unit)`` from ``:units`` (``metres_per_unit`` wins)."""
    units = {}
    for line in sec.get("units", []):
        parts = line.split()
        if len(parts) == 2:
            units[parts[0].lower()] = parts[1]
    if metres_per_unit is None:
        try:
            length = float(units.get("length", "1.0"))
        except ValueError:
            raise ValueError(f"{path}: ':units length' is not a number: {units.get('length')!r}") from None
        if not length > 0:
            raise ValueError(f"{path}: ':units length' must be positive, got {length}")
        metres_per_unit = 0.0254 / length
    angle = units.get("angle", "deg").lower()
    if angle not in ("deg", "rad"):
        raise ValueError(f"{path}: ':units angle' must be 'deg' or 'rad', got {angle!r}")
    return metres_per_unit, (np.pi / 180 if angle == "deg" else 1.0), angle


def _root(lines: list[str], path: Path, metres_per_unit: float, to_rad: float):
    """``(DOF order, axis order, position metres [3], orientation radians [3])`` of ``:root``."""
    root = {}
    for line in lines:
        parts = line.split()
        root[parts[0].lower()] = parts[1:]
    try:
        order = tuple(t.lower() for t in root["order"])
        axis = root["axis"][0].lower()
        position = finite_floats(root.get("position", ["0", "0", "0"]), path, "root position", 3) * metres_per_unit
        orientation = finite_floats(root.get("orientation", ["0", "0", "0"]), path, "root orientation", 3) * to_rad
    except KeyError as e:
        raise ValueError(f"{path}: ':root' lacks {e.args[0]!r}") from None
    if sorted(order) != ["rx", "ry", "rz", "tx", "ty", "tz"]:
        raise ValueError(f"{path}: root order must list TX TY TZ RX RY RZ, got {order}")
    return order, axis, position, orientation


def _bone(name: str, fields: dict, parent: str, path: Path, metres_per_unit: float, to_rad: float) -> AsfBone:
    """One bone's checked fields (direction normalised, length and axis in metres and radians)."""
    for need in ("direction", "length", "axis"):
        if need not in fields:
            raise ValueError(f"{path}: bone {name!r} lacks {need!r}")
    d = finite_floats(fields["direction"], path, f"bone {name!r} direction", 3)
    norm = np.linalg.norm(d)
    if norm < 1e-9:
        raise ValueError(f"{path}: bone {name!r} has a zero direction")
    length = finite_floats(fields["length"], path, f"bone {name!r} length", 1)[0]
    if length < 0:
        raise ValueError(f"{path}: bone {name!r} has a negative length")
    if len(fields["axis"]) != 4:
        raise ValueError(f"{path}: bone {name!r} axis: expected 3 angles and an order")
    axis = finite_floats(fields["axis"][:3], path, f"bone {name!r} axis", 3) * to_rad
    order = fields["axis"][3].lower()
    dofs = tuple(t.lower() for t in fields.get("dof", []))
    bad = [t for t in dofs if t not in _ROTATION_DOFS]
    if bad:
        raise ValueError(f"{path}: bone {name!r}: DOFs {bad} unsupported (rotations rx, ry, rz only)")
    if sorted(order) != ["x", "y", "z"]:
        raise ValueError(f"{path}: bone {name!r}: axis order {order!r} is not a permutation of XYZ")
    return AsfBone(name, d / norm, length * metres_per_unit, axis, order, dofs, parent)


# ----------------------------------------------------------------------------------------------- ASF: assemble
def _bones_in_order(raw_bones: dict, parent_of: dict, path: Path, metres_per_unit: float,
                    to_rad: float) -> dict[str, AsfBone]:
    """The checked bones in topological order (a bone after its parent); every bone must hang from ``root``."""
    bones: dict[str, AsfBone] = {}
    pending = list(parent_of)
    while pending:
        progressed = False
        for name in list(pending):
            parent = parent_of[name]
            if parent == "root" or parent in bones:
                if name not in raw_bones:
                    raise ValueError(f"{path}: ':hierarchy' names bone {name!r} missing from ':bonedata'")
                bones[name] = _bone(name, raw_bones[name], parent, path, metres_per_unit, to_rad)
                pending.remove(name)
                progressed = True
        if not progressed:
            raise ValueError(f"{path}: ':hierarchy' is not a tree rooted at 'root' ({pending})")
    orphans = sorted(set(raw_bones) - set(bones))
    if orphans:
        raise ValueError(f"{path}: bones {orphans} are not connected in ':hierarchy'")
    return bones


def read_asf(path, metres_per_unit: "float | None" = None) -> AsfSkeleton:
    """Parse an ASF skeleton. ``metres_per_unit`` overrides the ``:units length`` convention (see module doc)."""
    path = Path(path)
    sec = _sections(read_text(path, "ASF").splitlines(), path)
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sec:
            raise ValueError(f"{path}: missing ':{need}' section; not an ASF file?")
    metres_per_unit, to_rad, angle = _units(sec, path, metres_per_unit)
    root_order, root_axis, root_pos, root_ori = _root(sec["root"], path, metres_per_unit, to_rad)
    raw_bones = _parse_bonedata(sec["bonedata"], path)
    bones = _bones_in_order(raw_bones, _parse_hierarchy(sec["hierarchy"], path), path, metres_per_unit, to_rad)
    name = sec.get("name", [path.stem])[0] if sec.get("name") else path.stem
    return AsfSkeleton(name, bones, root_order, root_axis, root_pos, root_ori, metres_per_unit, angle == "deg")


# ----------------------------------------------------------------------------------------------- AMC
def _frame_layout(lines: list[str], skeleton: AsfSkeleton, path: Path) -> tuple[list[str], list[int]]:
    """``(bone order of every frame, index of each frame's number line)``, checked against ``skeleton``: each frame
    lists the root and every bone with DOFs, in the order of the first frame, under consecutive frame numbers."""
    if not lines or not lines[0].isdigit():
        raise ValueError(f"{path}: expected a frame number after the header, got {lines[:1]!r}")
    starts = [i for i, ln in enumerate(lines) if ln.isdigit()]
    first_end = starts[1] if len(starts) > 1 else len(lines)
    moving = [ln.split(None, 1)[0] for ln in lines[1:first_end]]
    expected = {"root"} | {b for b, bone in skeleton.bones.items() if bone.dofs}
    if sorted(moving) != sorted(expected):
        missing, extra = sorted(expected - set(moving)), sorted(set(moving) - expected)
        raise ValueError(f"{path}: frame {lines[0]} does not match the skeleton {skeleton.name!r}: "
                         f"missing {missing}, unexpected {extra}")
    per_frame, T = len(moving), len(starts)
    if len(lines) != T * (per_frame + 1):
        for k, s in enumerate(starts):  # the first malformed frame, for the message
            end = starts[k + 1] if k + 1 < T else len(lines)
            if end - s - 1 != per_frame:
                raise ValueError(f"{path}: frame {lines[s]} has {end - s - 1} bone lines, expected {per_frame} "
                                 f"({', '.join(moving)})")
        raise ValueError(f"{path}: {len(lines)} lines do not form {T} frames")
    frame_ids = np.array([int(lines[s]) for s in starts])
    if (np.diff(frame_ids) != 1).any():
        k = int(np.argmax(np.diff(frame_ids) != 1))
        raise ValueError(f"{path}: frame numbers jump from {frame_ids[k]} to {frame_ids[k + 1]}")
    return moving, starts


def _bone_values(lines: list[str], moving: list[str], ndof: dict, T: int, path: Path) -> dict[str, np.ndarray]:
    """``{bone: [T, ndof] values}`` in file units, read column by column (bone ``slot`` of every frame)."""
    per_frame = len(moving)
    data = {}
    for slot, name in enumerate(moving):
        rows = lines[1 + slot::per_frame + 1]
        bad = [r for r in rows if r.split(None, 1)[0] != name]
        if bad:
            raise ValueError(f"{path}: expected bone {name!r} in position {slot + 1} of every frame, found "
                             f"{bad[0].split(None, 1)[0]!r}")
        try:
            vals = np.array(" ".join(r.split(None, 1)[1] if " " in r else "" for r in rows).split(), np.float64)
        except ValueError:
            raise ValueError(f"{path}: bone {name!r}: non-numeric value") from None
        if vals.size != T * ndof[name]:
            raise ValueError(f"{path}: bone {name!r}: expected {ndof[name]} values per frame, got {vals.size / T:.3g}")
        if not np.isfinite(vals).all():
            raise ValueError(f"{path}: bone {name!r}: non-finite values")
        data[name] = vals.reshape(T, ndof[name])
    return data


def read_amc(path, skeleton: AsfSkeleton, fps: float = 120.0) -> Motion:
    """Parse an AMC motion of ``skeleton`` (every frame must list the root and every bone with DOFs)."""
    path = Path(path)
    lines = [ln.strip() for ln in read_text(path, "AMC").splitlines()]
    lines = [ln for ln in lines if ln and ln[0] not in "#:"]
    moving, starts = _frame_layout(lines, skeleton, path)
    ndof = {"root": 6, **{b: len(skeleton.bones[b].dofs) for b in moving if b != "root"}}
    data = _bone_values(lines, moving, ndof, len(starts), path)
    to_rad = np.pi / 180 if skeleton.degrees else 1.0
    root = data.pop("root").copy()
    for i, ch in enumerate(skeleton.root_order):
        root[:, i] *= skeleton.metres_per_unit if ch.startswith("t") else to_rad
    bones = {k: v * to_rad for k, v in data.items()}
    return Motion(root=root, bones=bones, fps=float(fps))


def asf_forward_kinematics(skeleton: AsfSkeleton, motion: Motion) -> tuple[np.ndarray, list[str]]:
    """World positions (metres) of the root and of every bone's end: ([T, 1 + B, 3], names ['root', bones...])."""
    T = motion.num_frames
    order = skeleton.root_order
    trans = np.stack([motion.root[:, order.index(c)] for c in ("tx", "ty", "tz")], -1)
    rot_ch = [c for c in order if c.startswith("r")]
    M_root = euler(np.stack([motion.root[:, order.index(c)] for c in rot_ch], -1), "".join(c[1] for c in rot_ch))
    C_root = euler(skeleton.root_orientation, skeleton.root_axis_order)
    G = {"root": C_root @ M_root @ C_root.T}
    P = {"root": trans + skeleton.root_position}
    for name, bone in skeleton.bones.items():
        C = euler(bone.axis, bone.axis_order)
        if bone.dofs:
            M = euler(motion.bones[name], "".join(c[1] for c in bone.dofs))
            L = C @ M @ C.T
            G[name] = G[bone.parent] @ L
        else:
            G[name] = G[bone.parent]  # C C^-1 = I: a bone without DOFs moves rigidly with its parent
        P[name] = P[bone.parent] + (G[name] @ (bone.direction * bone.length))
    names = ["root"] + list(skeleton.bones)
    return np.stack([np.broadcast_to(P[n], (T, 3)) for n in names], 1), names
