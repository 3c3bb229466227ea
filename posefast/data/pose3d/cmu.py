"""CMU Graphics Lab motion capture (mocap.cs.cmu.edu): ASF/AMC and BVH readers, forward kinematics, ``h36m17``.

ASF/AMC (Acclaim): the ASF gives each bone a rest ``direction`` (world axes) and ``length`` in ASF units, a local
``axis`` frame (angles + rotation order) and its ``dof``; the AMC gives per frame the root translation/rotation
and every bone's DOF values. Forward kinematics (the Acclaim convention, as in CMU's own viewer): with
``C = Euler(axis)`` and ``M = `` the frame's DOF rotations, a bone's global rotation is ``G = G_parent C M C^-1``
and its end point is ``start + G (length * direction)``; the root's start is its translation. Euler angle lists
apply their first axis first (``XYZ`` / ``rx ry rz`` -> ``Rz Ry Rx``). Units: ``:units length L`` means one ASF
unit is 1/L inch (CMU: L = 0.45), so metres = value / L * 0.0254, root translation included; angles in degrees
(``:units angle deg``) or radians.

BVH: each joint's frame is its parent's frame moved by ``OFFSET`` (+ position channels) and turned by its rotation
channels in the listed order (``Zrotation Yrotation Xrotation`` -> ``Rz Ry Rx``). BVH has no unit field; CMU's BVH
conversions use the ASF scale above, which is the default ``metres_per_unit`` here.

Mapping to ``h36m17`` (every joint's source; "end of X" = the distal end of ASF bone X):

===========  =================================  ==========================================
h36m17       ASF/AMC                            BVH (CMU conversion naming)
===========  =================================  ==========================================
Pelvis       root position                      Hips
R/LHip       end of r/lhipjoint                 RightHip / LeftHip
R/LKnee      end of r/lfemur                    RightKnee / LeftKnee
R/LAnkle     end of r/ltibia                    RightAnkle / LeftAnkle
Spine        end of upperback (~0.23 m up)      Chest2 (end of the second spine segment)
Thorax       midpoint of the two shoulders      midpoint of LeftShoulder and RightShoulder
Neck/Nose    end of upperneck                   Head (start of the head segment)
Head         end of head                        end site of Head
L/RShoulder  end of l/rclavicle                 LeftShoulder / RightShoulder
L/RElbow     end of l/rhumerus                  LeftElbow / RightElbow
L/RWrist     end of l/rradius                   LeftWrist / RightWrist
===========  =================================  ==========================================

Human3.6M's thorax marker sits between the shoulders, which CMU's spine chain does not contain, hence the midpoint.
The CMU BVH conversions read here (subject 131) attach ``lowerneck`` and both collars to ``Chest2`` with a zero
offset: the ASF's third spine segment (``thorax``, ~0.11 m) has no counterpart, so their shoulders sit about that
much lower relative to the hips than in an ASF skeleton. The mapping keeps the data as it is.

Camera placement for ``load_cmu`` (CMU is a Y-up world with the floor at y = 0): a virtual rig from
``posefast.data.synth3d.rigs`` films every sequence. The default ``h36m`` rig is Human3.6M's four cameras centred on the
sequence's mean root position on the floor; ``views="all"`` films every frame from each camera (as Human3.6M does)
and drops samples with a joint outside the image or behind the camera (counted in ``meta["dropped"]``). Random
rigs (``3dhp``, ``3dpw``) draw a camera per frame aimed near the subject, re-drawing a failed camera up to 20 times.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from posefast.skeleton import H36M17, get_skeleton
from posefast.geometry import rotation_x, rotation_y, rotation_z
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.synth3d.rigs import FixedRig, get_rig, render

__all__ = ["AsfBone", "AsfSkeleton", "Motion", "read_asf", "read_amc", "asf_forward_kinematics", "BvhJoint",
           "BvhMotion", "read_bvh", "bvh_forward_kinematics", "ASF_TO_H36M17", "BVH_TO_H36M17", "to_h36m17",
           "resample_indices", "load_cmu_sequences", "load_cmu", "CMU_METRES_PER_UNIT"]

CMU_METRES_PER_UNIT = 0.0254 / 0.45

ASF_TO_H36M17 = {
    "Pelvis": ("root",), "RHip": ("rhipjoint",), "RKnee": ("rfemur",), "RAnkle": ("rtibia",),
    "LHip": ("lhipjoint",), "LKnee": ("lfemur",), "LAnkle": ("ltibia",), "Spine": ("upperback",),
    "Thorax": ("lclavicle", "rclavicle"), "Neck": ("upperneck",), "Head": ("head",),
    "LShoulder": ("lclavicle",), "LElbow": ("lhumerus",), "LWrist": ("lradius",),
    "RShoulder": ("rclavicle",), "RElbow": ("rhumerus",), "RWrist": ("rradius",),
}
BVH_TO_H36M17 = {
    "Pelvis": ("Hips",), "RHip": ("RightHip",), "RKnee": ("RightKnee",), "RAnkle": ("RightAnkle",),
    "LHip": ("LeftHip",), "LKnee": ("LeftKnee",), "LAnkle": ("LeftAnkle",), "Spine": ("Chest2",),
    "Thorax": ("LeftShoulder", "RightShoulder"), "Neck": ("Head",), "Head": ("Head_end",),
    "LShoulder": ("LeftShoulder",), "LElbow": ("LeftElbow",), "LWrist": ("LeftWrist",),
    "RShoulder": ("RightShoulder",), "RElbow": ("RightElbow",), "RWrist": ("RightWrist",),
}

_AXIS_ROT = {"x": rotation_x, "y": rotation_y, "z": rotation_z}


def _euler(angles_rad: np.ndarray, axes: str) -> np.ndarray:
    """[..., k] angles about ``axes`` (e.g. 'xyz'), first axis applied first -> [..., 3, 3]."""
    R = np.broadcast_to(np.eye(3), angles_rad.shape[:-1] + (3, 3)).copy()
    for i, ax in enumerate(axes.lower()):
        R = _AXIS_ROT[ax](angles_rad[..., i]).numpy() @ R
    return R


# ----------------------------------------------------------------------------------------------- ASF / AMC
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


def _sections(lines: list[str], path: Path) -> dict[str, list[str]]:
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


def _floats(tokens, path: Path, what: str, count: int) -> np.ndarray:
    try:
        vals = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: {what}: expected {count} numbers, got {' '.join(tokens)!r}") from None
    if vals.shape != (count,) or not np.isfinite(vals).all():
        raise ValueError(f"{path}: {what}: expected {count} finite numbers, got {' '.join(tokens)!r}")
    return vals


def read_asf(path, metres_per_unit: "float | None" = None) -> AsfSkeleton:
    """Parse an ASF skeleton. ``metres_per_unit`` overrides the ``:units length`` convention (see module doc)."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read ASF ({type(e).__name__}: {e})") from None
    sec = _sections(text.splitlines(), path)
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sec:
            raise ValueError(f"{path}: missing ':{need}' section; not an ASF file?")
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
    to_rad = np.pi / 180 if angle == "deg" else 1.0

    root = {}
    for line in sec["root"]:
        parts = line.split()
        root[parts[0].lower()] = parts[1:]
    try:
        root_order = tuple(t.lower() for t in root["order"])
        root_axis = root["axis"][0].lower()
        root_pos = _floats(root.get("position", ["0", "0", "0"]), path, "root position", 3) * metres_per_unit
        root_ori = _floats(root.get("orientation", ["0", "0", "0"]), path, "root orientation", 3) * to_rad
    except KeyError as e:
        raise ValueError(f"{path}: ':root' lacks {e.args[0]!r}") from None
    if sorted(root_order) != ["rx", "ry", "rz", "tx", "ty", "tz"]:
        raise ValueError(f"{path}: root order must list TX TY TZ RX RY RZ, got {root_order}")

    raw_bones: dict[str, dict] = {}
    block: "dict | None" = None
    lines = iter(sec["bonedata"])
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
        elif key == "limits":  # limits are informative only; the motion holds the angles
            pass
        elif key in ("id", "bodymass", "cofmass"):
            pass
        elif re.fullmatch(r"\(.*\)", line):  # continuation of a limits list
            pass
        else:
            raise ValueError(f"{path}: unknown bonedata field {parts[0]!r}")
    if block is not None:
        raise ValueError(f"{path}: bonedata ends inside a begin/end block")

    parent_of: dict[str, str] = {}
    for line in sec["hierarchy"]:
        parts = line.split()
        if parts[0].lower() in ("begin", "end"):
            continue
        for child in parts[1:]:
            if child in parent_of:
                raise ValueError(f"{path}: bone {child!r} has two parents in ':hierarchy'")
            parent_of[child] = parts[0]
    bones: dict[str, AsfBone] = {}
    pending = list(parent_of)
    while pending:  # topological order: a bone after its parent
        progressed = False
        for name in list(pending):
            par = parent_of[name]
            if par == "root" or par in bones:
                if name not in raw_bones:
                    raise ValueError(f"{path}: ':hierarchy' names bone {name!r} missing from ':bonedata'")
                b = raw_bones[name]
                for need in ("direction", "length", "axis"):
                    if need not in b:
                        raise ValueError(f"{path}: bone {name!r} lacks {need!r}")
                d = _floats(b["direction"], path, f"bone {name!r} direction", 3)
                norm = np.linalg.norm(d)
                if norm < 1e-9:
                    raise ValueError(f"{path}: bone {name!r} has a zero direction")
                length = _floats(b["length"], path, f"bone {name!r} length", 1)[0]
                if length < 0:
                    raise ValueError(f"{path}: bone {name!r} has a negative length")
                if len(b["axis"]) != 4:
                    raise ValueError(f"{path}: bone {name!r} axis: expected 3 angles and an order")
                axis = _floats(b["axis"][:3], path, f"bone {name!r} axis", 3) * to_rad
                order = b["axis"][3].lower()
                dofs = tuple(t.lower() for t in b.get("dof", []))
                bad = [t for t in dofs if t not in ("rx", "ry", "rz")]
                if bad:
                    raise ValueError(f"{path}: bone {name!r}: DOFs {bad} unsupported (rotations rx, ry, rz only)")
                if sorted(order) != ["x", "y", "z"]:
                    raise ValueError(f"{path}: bone {name!r}: axis order {order!r} is not a permutation of XYZ")
                bones[name] = AsfBone(name, d / norm, length * metres_per_unit, axis, order, dofs, par)
                pending.remove(name)
                progressed = True
        if not progressed:
            raise ValueError(f"{path}: ':hierarchy' is not a tree rooted at 'root' ({pending})")
    orphans = sorted(set(raw_bones) - set(bones))
    if orphans:
        raise ValueError(f"{path}: bones {orphans} are not connected in ':hierarchy'")
    name = sec.get("name", [path.stem])[0] if sec.get("name") else path.stem
    return AsfSkeleton(name, bones, root_order, root_axis, root_pos, root_ori, metres_per_unit, angle == "deg")


def read_amc(path, skeleton: AsfSkeleton, fps: float = 120.0) -> Motion:
    """Parse an AMC motion of ``skeleton`` (every frame must list the root and every bone with DOFs)."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read AMC ({type(e).__name__}: {e})") from None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and ln[0] not in "#:"]
    if not lines or not lines[0].isdigit():
        raise ValueError(f"{path}: expected a frame number after the header, got {lines[:1]!r}")
    starts = [i for i, ln in enumerate(lines) if ln.isdigit()]
    # the file's own bone order, taken from its first frame, must hold in every frame
    first_end = starts[1] if len(starts) > 1 else len(lines)
    moving = [ln.split(None, 1)[0] for ln in lines[1:first_end]]
    expected = {"root"} | {b for b, bone in skeleton.bones.items() if bone.dofs}
    if sorted(moving) != sorted(expected):
        missing, extra = sorted(expected - set(moving)), sorted(set(moving) - expected)
        raise ValueError(f"{path}: frame {lines[0]} does not match the skeleton {skeleton.name!r}: "
                         f"missing {missing}, unexpected {extra}")
    ndof = {"root": 6, **{b: len(skeleton.bones[b].dofs) for b in moving if b != "root"}}
    per_frame = len(moving)
    T = len(starts)
    if len(lines) != T * (per_frame + 1):
        # locate the first malformed frame for the message
        for k, s in enumerate(starts):
            end = starts[k + 1] if k + 1 < T else len(lines)
            if end - s - 1 != per_frame:
                raise ValueError(f"{path}: frame {lines[s]} has {end - s - 1} bone lines, expected {per_frame} "
                                 f"({', '.join(moving)})")
        raise ValueError(f"{path}: {len(lines)} lines do not form {T} frames")
    frame_ids = np.array([int(lines[s]) for s in starts])
    if (np.diff(frame_ids) != 1).any():
        k = int(np.argmax(np.diff(frame_ids) != 1))
        raise ValueError(f"{path}: frame numbers jump from {frame_ids[k]} to {frame_ids[k + 1]}")
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
    M_root = _euler(np.stack([motion.root[:, order.index(c)] for c in rot_ch], -1), "".join(c[1] for c in rot_ch))
    C_root = _euler(skeleton.root_orientation, skeleton.root_axis_order)
    G = {"root": C_root @ M_root @ C_root.T}
    P = {"root": trans + skeleton.root_position}
    for name, bone in skeleton.bones.items():
        C = _euler(bone.axis, bone.axis_order)
        if bone.dofs:
            M = _euler(motion.bones[name], "".join(c[1] for c in bone.dofs))
            L = C @ M @ C.T
            G[name] = G[bone.parent] @ L
        else:
            G[name] = G[bone.parent]  # C C^-1 = I: a bone without DOFs moves rigidly with its parent
        P[name] = P[bone.parent] + (G[name] @ (bone.direction * bone.length))
    names = ["root"] + list(skeleton.bones)
    return np.stack([np.broadcast_to(P[n], (T, 3)) for n in names], 1), names


# ----------------------------------------------------------------------------------------------- BVH
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


def read_bvh(path) -> BvhMotion:
    """Parse a BVH file (HIERARCHY + MOTION)."""
    path = Path(path)
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read BVH ({type(e).__name__}: {e})") from None
    head, sep, tail = text.partition("MOTION")
    if not sep or "HIERARCHY" not in head:
        raise ValueError(f"{path}: expected 'HIERARCHY' ... 'MOTION' sections; not a BVH file?")
    tokens = head.split("HIERARCHY", 1)[1].split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    i = 0
    pending_name = None
    pending_parent = -1
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
                if tokens[i + 1] != "OFFSET":
                    raise ValueError(f"{path}: joint {pending_name!r}: expected OFFSET")
                offset = _floats(tokens[i + 2:i + 5], path, f"joint {pending_name!r} OFFSET", 3)
                i += 5
                channels: tuple = ()
                if tokens[i] == "CHANNELS":
                    k = int(tokens[i + 1])
                    channels = tuple(tokens[i + 2:i + 2 + k])
                    valid = {f"{a}{kind}" for a in "XYZ" for kind in ("position", "rotation")}
                    if len(channels) != k or any(c not in valid for c in channels):
                        raise ValueError(f"{path}: joint {pending_name!r}: bad CHANNELS {channels}")
                    i += 2 + k
                joints.append(BvhJoint(pending_name, offset, channels, pending_parent))
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
    m = re.match(r"\s*Frames:\s*(\d+)\s*Frame Time:\s*([0-9.eE+-]+)\s*", tail)
    if not m:
        raise ValueError(f"{path}: MOTION must start with 'Frames: N' and 'Frame Time: dt'")
    T, dt = int(m.group(1)), float(m.group(2))
    if T < 1 or not dt > 0:
        raise ValueError(f"{path}: need Frames >= 1 and Frame Time > 0, got {T}, {dt}")
    C = sum(len(j.channels) for j in joints)
    try:
        values = np.array(tail[m.end():].split(), dtype=np.float64)
    except ValueError:
        raise ValueError(f"{path}: MOTION data holds a non-numeric value") from None
    if values.size != T * C:
        raise ValueError(f"{path}: MOTION has {values.size} values, expected Frames {T} x {C} channels")
    if not np.isfinite(values).all():
        raise ValueError(f"{path}: MOTION data holds non-finite values")
    return BvhMotion(tuple(joints), values.reshape(T, C), dt)


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
        R = _euler(np.radians(np.stack(rot_cols[::-1], -1)), rot_axes[::-1]) if rot_axes else \
            np.broadcast_to(np.eye(3), (T, 3, 3))
        if j.parent < 0:
            G.append(R)
            P.append(offset * metres_per_unit)
        else:
            G.append(G[j.parent] @ R)
            P.append(P[j.parent] + (G[j.parent] @ offset[..., None])[..., 0] * metres_per_unit)
    return np.stack(P, 1), [j.name for j in bvh.joints]


# ----------------------------------------------------------------------------------------------- mapping
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


def _trial_ids(stem: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)_(\d+)", stem)
    if not m:
        raise ValueError(f"{stem}: CMU motion files are named '<subject>_<trial>' (e.g. 02_01)")
    return int(m.group(1)), int(m.group(2))


def load_cmu_sequences(directory, *, fps: float = 30.0, subjects: "Iterable[int] | None" = None,
                       amc_fps: float = 120.0, metres_per_unit: "float | None" = None,
                       asf_map: Mapping = ASF_TO_H36M17, bvh_map: Mapping = BVH_TO_H36M17) -> list[dict]:
    """Every ASF/AMC and BVH motion under ``directory`` as world-frame ``h36m17`` sequences (Y up, metres).

    Returns a list of dicts with ``name`` ('02_01'), ``subject``, ``trial``, ``fps`` and ``joints`` [T, 17, 3].
    ``metres_per_unit`` overrides the unit of both formats (default: from the ASF; CMU's for BVH).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    wanted = None if subjects is None else {int(s) for s in subjects}
    out = []
    for amc in sorted(directory.rglob("*.amc")):
        subj, trial = _trial_ids(amc.stem)
        if wanted is not None and subj not in wanted:
            continue
        asfs = sorted(amc.parent.glob("*.asf"))
        match = [a for a in asfs if a.stem == amc.stem.split("_")[0]]
        if len(match) != 1 and len(asfs) != 1:
            raise ValueError(f"{amc}: cannot tell which ASF skeleton it belongs to (found {[a.name for a in asfs]})")
        skel = read_asf(match[0] if match else asfs[0], metres_per_unit)
        motion = read_amc(amc, skel, fps=amc_fps)
        pos, names = asf_forward_kinematics(skel, motion)
        keep = resample_indices(motion.num_frames, motion.fps, fps)
        out.append({"name": amc.stem, "subject": subj, "trial": trial, "fps": fps,
                    "joints": to_h36m17(pos[keep], names, asf_map)})
    for bvh_path in sorted(directory.rglob("*.bvh")):
        subj, trial = _trial_ids(bvh_path.stem)
        if wanted is not None and subj not in wanted:
            continue
        bvh = read_bvh(bvh_path)
        pos, names = bvh_forward_kinematics(bvh, CMU_METRES_PER_UNIT if metres_per_unit is None else metres_per_unit)
        keep = resample_indices(bvh.motion.shape[0], bvh.fps, fps)
        out.append({"name": bvh_path.stem, "subject": subj, "trial": trial, "fps": fps,
                    "joints": to_h36m17(pos[keep], names, bvh_map)})
    if not out:
        which = f" for subjects {sorted(wanted)}" if wanted else ""
        raise ValueError(f"{directory}: no .amc/.bvh motion found{which}")
    return out


def load_cmu(directory, *, fps: float = 30.0, rig="h36m", views: str = "all", seed: int = 0,
             subjects: "Iterable[int] | None" = None, split: "str | None" = None, skeleton: str = "h36m17",
             max_tries: int = 20) -> PoseDataset:
    """CMU mocap as a source domain: world sequences filmed by a virtual rig (see the module docstring).

    Args:
        directory: folder searched recursively for ``*.asf``/``*.amc`` and ``*.bvh``.
        fps: output frame rate (nearest captured frames; at most the capture rate).
        rig: ``"h36m"`` (default), ``"3dhp"``, ``"3dpw"`` or a rig object.
        views: fixed rigs only - ``"all"`` films each frame from every camera, ``"random"`` from one.
        seed: camera sampling seed.
        subjects: CMU subject numbers to keep (CMU has no standard split; ``split`` must be None or 'all').
        skeleton: ``"h36m17"`` or ``"h36m16"``.
    ``subject`` ids are the CMU subject numbers, ``sequence`` = 100 * subject + trial, ``view`` the camera.
    """
    if split not in (None, "all"):
        raise ValueError(f"split: CMU has no standard split; pass subjects=[...] instead of split={split!r}")
    if views not in ("all", "random"):
        raise ValueError(f"views: expected 'all' or 'random', got {views!r}")
    rig = get_rig(rig)
    rng = np.random.default_rng(seed)
    seqs = load_cmu_sequences(directory, fps=fps, subjects=subjects)
    parts = {k: [] for k in ("X", "uv", "K", "size", "view", "subject", "sequence")}
    dropped = 0
    for seq in seqs:
        world = seq["joints"]
        T = world.shape[0]
        if isinstance(rig, FixedRig):
            centre = world[:, 0].mean(0) * [1, 0, 1]
            view_sets = [np.full(T, v) for v in range(rig.num_views)] if views == "all" else \
                [rng.integers(0, rig.num_views, T)]
            for v in view_sets:
                cams = rig.sample(rng, world[:, 0], centre=centre, view=v, jitter=0.0)  # still cameras
                X, uv, ok = render(world, cams)
                dropped += int((~ok).sum())
                _append(parts, X[ok], uv[ok], cams, ok, seq)
        else:
            X = np.zeros_like(world)
            uv = np.zeros(world.shape[:2] + (2,))
            K, size, view = np.zeros((T, 4)), np.zeros((T, 2), np.int64), np.zeros(T, np.int64)
            todo = np.arange(T)
            for _ in range(max_tries):
                if todo.size == 0:
                    break
                cams = rig.sample(rng, world[todo, 0])
                Xc, uvc, ok = render(world[todo], cams)
                done = todo[ok]
                X[done], uv[done] = Xc[ok], uvc[ok]
                K[done], size[done], view[done] = cams.intrinsics[ok], cams.image_size[ok], cams.view[ok]
                todo = todo[~ok]
            keep = np.ones(T, bool)
            keep[todo] = False
            dropped += int(todo.size)
            parts["X"].append(X[keep])
            parts["uv"].append(uv[keep])
            parts["K"].append(K[keep])
            parts["size"].append(size[keep])
            parts["view"].append(view[keep])
            parts["subject"].append(np.full(int(keep.sum()), seq["subject"]))
            parts["sequence"].append(np.full(int(keep.sum()), 100 * seq["subject"] + seq["trial"]))
    n = sum(len(x) for x in parts["X"])
    if n == 0:
        raise ValueError(f"{directory}: no frame is fully visible from rig {rig.name!r}")
    ds = PoseDataset(joints_3d=np.concatenate(parts["X"]), joints_2d=np.concatenate(parts["uv"]),
                     camera=np.concatenate(parts["K"]), image_size=np.concatenate(parts["size"]),
                     subject=np.concatenate(parts["subject"]), sequence=np.concatenate(parts["sequence"]),
                     view=np.concatenate(parts["view"]), skeleton="h36m17", name=f"cmu:{directory}",
                     meta={"source": str(directory), "fps": fps, "rig": rig.name, "views": views,
                           "dropped": dropped, "frames": sum(len(s["joints"]) for s in seqs),
                           "sequences": [s["name"] for s in seqs]})
    return ds if get_skeleton(skeleton).name == "h36m17" else ds.to_skeleton(skeleton)


def _append(parts, X, uv, cams, ok, seq):
    parts["X"].append(X)
    parts["uv"].append(uv)
    parts["K"].append(cams.intrinsics[ok])
    parts["size"].append(cams.image_size[ok])
    parts["view"].append(cams.view[ok])
    n = int(ok.sum())
    parts["subject"].append(np.full(n, seq["subject"]))
    parts["sequence"].append(np.full(n, 100 * seq["subject"] + seq["trial"]))
