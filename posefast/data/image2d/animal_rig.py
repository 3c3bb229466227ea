"""Rigged, skinned animals from dm-control, posed by MuJoCo on the CPU: the geometry behind the embedded synthetic
animal domains (``posefast.data.image2d.animal_domains``).

``dm-control`` (Apache-2.0) ships a dog (``dm_control/suite/dog.xml`` with ``dog_assets/``: 63 bodies, 75 joints and
a skin of 24065 vertices / 33900 triangles bound to 57 bones, with a UV-mapped texture) and a rodent
(``dm_control/locomotion/walkers/assets/rodent.xml``: a 6880-vertex skin). :class:`AnimalRig` loads one once per
process and, for a batch of joint-angle vectors,

1. runs MuJoCo's forward kinematics (``mj_kinematics``: no dynamics, no contact, no GL) on each,
2. poses the skin by linear blend skinning exactly as MuJoCo's own renderer does (each bone moves its vertices by
   the body's pose relative to its bind pose, ``skin_bonebindpos`` / ``skin_bonebindquat``; weights summed), and
3. reads the keypoints off the posed bodies and sites: a keypoint is a body's origin (a joint centre), a site, or a
   point fixed in a body's frame (the eyes and the rodent's nose: a skin vertex of the skull on the rest pose), so a
   keypoint moves rigidly with its body and its 3D position is exact for the pose drawn.

Poses are joint angles within the model's own limits (``jnt_range``; every sampled value is clipped to it), drawn
as a few behaviours (stand, walk, trot, sit, lie, turn the head, lift a paw) by :func:`sample_joint_angles`.
The world frame is MuJoCo's: z up, the animal faces +x, its left is +y.
"""
from __future__ import annotations

import importlib.metadata
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from posefast.skeleton import MOUSE7, TIGDOG18, Skeleton

__all__ = ["ANIMALS", "BEHAVIOURS", "ROOT_PITCH", "AnimalRig", "PosedAnimal", "get_rig", "sample_joint_angles", "rig_available"]

BEHAVIOURS = ("stand", "walk", "trot", "sit", "lie", "turn_head", "lift_paw")
ROOT_PITCH = "root_pitch"  # not a joint: the free root's nose-up tilt (a sitting animal's trunk), radians


@dataclass(frozen=True)
class _RigSpec:
    xml: str  # path inside the dm_control package
    skeleton: Skeleton
    # keypoint name -> ("body" | "site" | "surface", element name, offset in that element's frame, metres);
    # "surface": the offset is snapped once, on the rest pose, to the nearest skin vertex that the body moves.
    keypoints: dict
    legs: dict  # leg name -> joint names (proximal to distal) that a gait swings
    neck: tuple  # joints that turn the head sideways
    spine_pitch: tuple  # joints that bend the back up/down


_DOG_LEGS = {"LF": ("shoulder_L_extend", "elbow_L", "wrist_L"), "RF": ("shoulder_R_extend", "elbow_R", "wrist_R"),
             "LH": ("hip_L_extend", "knee_L", "ankle_L"), "RH": ("hip_R_extend", "knee_R", "ankle_R")}
_ZERO = (0.0, 0.0, 0.0)

# Keypoints of the SynAnimal / TigDog layout on the dog: joint centres of the leg bodies (shoulder = upper arm,
# front elbow = lower arm, front knee = carpus (hand), hoof = palm / sole site; back elbow = stifle (lower leg),
# back knee = hock (foot)), the pelvis origin as the hip, the lower bite as the chin and the eyes fixed in the skull.
_DOG = _RigSpec(
    xml="suite/dog.xml", skeleton=TIGDOG18,
    keypoints={
        "left_eye": ("surface", "skull", (0.025, 0.042, 0.02)), "right_eye": ("surface", "skull", (0.025, -0.042, 0.02)),
        "chin": ("site", "lower_bite", _ZERO),
        "left_front_hoof": ("site", "palm_L", _ZERO), "right_front_hoof": ("site", "palm_R", _ZERO),
        "left_back_hoof": ("site", "sole_L", _ZERO), "right_back_hoof": ("site", "sole_R", _ZERO),
        "hip": ("body", "pelvis", _ZERO),
        "left_front_knee": ("body", "hand_L", _ZERO), "right_front_knee": ("body", "hand_R", _ZERO),
        "left_back_knee": ("body", "foot_L", _ZERO), "right_back_knee": ("body", "foot_R", _ZERO),
        "left_shoulder": ("body", "upper_arm_L", _ZERO), "right_shoulder": ("body", "upper_arm_R", _ZERO),
        "left_front_elbow": ("body", "lower_arm_L", _ZERO), "right_front_elbow": ("body", "lower_arm_R", _ZERO),
        "left_back_elbow": ("body", "lower_leg_L", _ZERO), "right_back_elbow": ("body", "lower_leg_R", _ZERO),
    },
    legs=_DOG_LEGS,
    neck=("C_7_bend", "C_5_bend", "C_3_bend", "C_1_bend"),
    spine_pitch=("L_1_extend", "L_3_extend", "L_5_extend", "L_7_extend"),
)

# The rodent's keypoints in the side-view layout of Lightning Pose's mirror mouse (mouse7): the paws are skin points
# of the hands / feet nearest their joints, the nose the skull's skin point nearest the snout tip, the tail base and
# middle two tail vertebrae.
_RODENT = _RigSpec(
    xml="locomotion/walkers/assets/rodent.xml", skeleton=MOUSE7,
    keypoints={
        "nose": ("surface", "skull", (0.062, 0.0, 0.009)),
        "left_front_paw": ("surface", "hand_L", _ZERO), "right_front_paw": ("surface", "hand_R", _ZERO),
        "left_hind_paw": ("surface", "foot_L", _ZERO), "right_hind_paw": ("surface", "foot_R", _ZERO),
        "tail_base": ("body", "vertebra_C1", _ZERO), "tail_mid": ("body", "vertebra_C11", _ZERO),
    },
    legs={"LF": ("shoulder_L", "elbow_L", "wrist_L"), "RF": ("shoulder_R", "elbow_R", "wrist_R"),
          "LH": ("hip_L_extend", "knee_L", "ankle_L"), "RH": ("hip_R_extend", "knee_R", "ankle_R")},
    neck=("vertebra_cervical_4_bend", "vertebra_cervical_1_bend"),
    spine_pitch=("vertebra_1_extend", "vertebra_4_extend"),
)

ANIMALS = {"dog": _DOG, "rodent": _RODENT}


def rig_available() -> str | None:
    """None when mujoco and dm-control are installed, else the reason (one line) the animal domains cannot render."""
    for dist in ("mujoco", "dm-control"):
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return (f"the synthetic animals need the '{dist}' package (pip install -e \".[animal]\", part of the "
                    "README's set-up)")
    return None


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) [..., 4] -> rotation matrices [..., 3, 3]."""
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1).reshape(q.shape[:-1] +
                                                                                                       (3, 3))


@dataclass
class PosedAnimal:
    """A batch of posed animals in the world frame (z up).

    vertices: float64 [N, V, 3] skin vertices; faces: int64 [F, 3] (shared); uv: float32 [V, 2] texture
    coordinates (or None); keypoints: float64 [N, K, 3] in the rig's layout; part: int64 [V], the bone that weighs
    most on each vertex (a body-part label for shading)."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    keypoints: np.ndarray
    part: np.ndarray


class AnimalRig:
    """One dm-control animal loaded into MuJoCo (see the module docstring).

    ``cell`` (a fraction of the animal's length) simplifies the skin by vertex clustering on its rest pose: the
    vertices of each cubic cell collapse onto one of them (the first), faces that collapse are dropped. A crop of
    64-128 px resolves about 1/60 of the animal, so the default 1/80 keeps the silhouette to within a pixel while
    cutting the mesh about tenfold; every kept vertex is skinned exactly as MuJoCo skins it. ``cell=0`` keeps
    the full mesh."""

    def __init__(self, animal: str, cell: float = 1 / 80):
        import mujoco  # the optional dependency, only when an animal is rendered

        if animal not in ANIMALS:
            raise ValueError(f"animal: expected one of {sorted(ANIMALS)}, got {animal!r}")
        reason = rig_available()
        if reason:
            raise ValueError(f"animal: {reason}")
        self.name, self.spec = animal, ANIMALS[animal]
        root = importlib.metadata.distribution("dm-control").locate_file("dm_control")
        path = os.path.join(str(root), self.spec.xml)
        self._mj = mujoco
        self.model = mujoco.MjModel.from_xml_path(path)
        self.data = mujoco.MjData(self.model)
        m = self.model
        if m.nskin != 1:
            raise ValueError(f"animal: {path} has {m.nskin} skins, expected 1")
        self.skeleton = self.spec.skeleton
        faces = np.asarray(m.skin_face, dtype=np.int64).reshape(-1, 3)
        rest = np.asarray(m.skin_vert, dtype=np.float64).reshape(-1, 3)
        uv = np.asarray(m.skin_texcoord, dtype=np.float32).reshape(-1, 2) if m.nskintexvert else None
        self.length = float(np.ptp(rest, axis=0).max())
        keep = np.arange(len(rest))
        if cell > 0:
            cells = np.floor(rest / (cell * self.length)).astype(np.int64)
            _, keep, inverse = np.unique(cells, axis=0, return_index=True, return_inverse=True)
            faces = inverse.reshape(-1)[faces]
            distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
            faces = faces[distinct]
            _, first = np.unique(np.sort(faces, 1), axis=0, return_index=True)
            faces = faces[np.sort(first)]
        self.faces = np.ascontiguousarray(faces)
        self.rest = rest[keep].copy()
        self.uv = uv[keep].copy() if uv is not None else None
        new_id = np.full(len(rest), -1, dtype=np.int64)
        new_id[keep] = np.arange(len(keep))
        # Skinning table: one row per (bone, vertex, weight).
        bones, verts, weights = [], [], []
        for b in range(m.nskinbone):
            a, n = m.skin_bonevertadr[b], m.skin_bonevertnum[b]
            bones.append(np.full(n, b))
            verts.append(m.skin_bonevertid[a:a + n])
            weights.append(m.skin_bonevertweight[a:a + n])
        bone, vert = np.concatenate(bones), new_id[np.concatenate(verts).astype(np.int64)]
        weight = np.concatenate(weights).astype(np.float64)
        used = vert >= 0
        self._bone, self._vert, self._weight = bone[used], vert[used], weight[used]
        self._bone_body = np.asarray(m.skin_bonebodyid, dtype=np.int64)
        bind_rot = _quat_to_mat(np.asarray(m.skin_bonebindquat, dtype=np.float64).reshape(-1, 4))
        bind_pos = np.asarray(m.skin_bonebindpos, dtype=np.float64).reshape(-1, 3)
        # A vertex in bone b's bind frame: R_bind^T (v - p_bind), computed once per (bone, vertex) row.
        local = np.einsum("rji,rj->ri", bind_rot[self._bone], self.rest[self._vert] - bind_pos[self._bone])
        # MuJoCo's skins may be "inflated" along the normals; these are not (skin_inflate 0), which the exact
        # posing below assumes.
        if float(np.abs(m.skin_inflate).max()) != 0.0:
            raise ValueError(f"animal: {path} has an inflated skin, which this rig does not pose")
        self._local = local
        # The bone weighing most on each vertex: sort rows by (vertex, weight) and take each vertex's last.
        order = np.lexsort((self._weight, self._vert))
        last = np.r_[self._vert[order][1:] != self._vert[order][:-1], True]
        self.part = np.zeros(len(self.rest), dtype=np.int64)
        self.part[self._vert[order][last]] = self._bone[order][last]
        # Joints: name -> (qpos address, lower, upper) of every limited hinge.
        self.joints = {}
        for j in range(m.njnt):
            if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE and m.jnt_limited[j]:
                self.joints[m.joint(j).name] = (int(m.jnt_qposadr[j]), float(m.jnt_range[j][0]),
                                                float(m.jnt_range[j][1]))
        self.qpos0 = np.asarray(m.qpos0, dtype=np.float64).copy()
        self._kp = []
        for name in self.skeleton.joint_names:
            kind, element, offset = self.spec.keypoints[name]
            idx = m.site(element).id if kind == "site" else m.body(element).id
            offset = np.asarray(offset, dtype=np.float64)
            if kind == "surface":  # in the frame the skin was bound in (its bone's bind pose)
                bone = int(np.flatnonzero(self._bone_body == idx)[0])
                own = np.flatnonzero(self.part == bone)
                local = (self.rest[own] - bind_pos[bone]) @ bind_rot[bone]
                offset = local[np.argmin(((local - offset) ** 2).sum(1))]
                kind = "body"
            self._kp.append((kind, idx, offset))

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self.joints)

    def clip(self, angles: dict) -> dict:
        """Joint angles (radians) clipped to each joint's range (``ROOT_PITCH``, the free root's nose-up tilt, to
        +-90 degrees)."""
        return {k: float(np.clip(v, *((-np.pi / 2, np.pi / 2) if k == ROOT_PITCH else self.joints[k][1:])))
                for k, v in angles.items()}

    def pose(self, angle_rows: list) -> PosedAnimal:
        """Pose the animal once per dict of joint angles (radians; missing joints stay at 0, every value clipped to
        its joint's range). The free root stays at the model's rest placement."""
        mj, m, d = self._mj, self.model, self.data
        n, nv = len(angle_rows), len(self.rest)
        verts = np.zeros((n, nv, 3))
        kps = np.zeros((n, self.skeleton.num_joints, 3))
        for i, angles in enumerate(angle_rows):
            qpos = self.qpos0.copy()
            for name, value in self.clip(angles).items():
                if name == ROOT_PITCH:  # nose up about the body's y axis: the free root's quaternion (w, x, y, z)
                    qpos[3:7] = (np.cos(value / 2), 0.0, -np.sin(value / 2), 0.0)
                else:
                    qpos[self.joints[name][0]] = value
            d.qpos[:] = qpos
            mj.mj_kinematics(m, d)
            xpos, xmat = np.asarray(d.xpos), np.asarray(d.xmat).reshape(-1, 3, 3)
            body = self._bone_body[self._bone]
            moved = np.einsum("rij,rj->ri", xmat[body], self._local) + xpos[body]
            weighted = moved * self._weight[:, None]
            verts[i] = np.stack([np.bincount(self._vert, weighted[:, c], minlength=nv) for c in range(3)], 1)
            sxpos, sxmat = np.asarray(d.site_xpos), np.asarray(d.site_xmat).reshape(-1, 3, 3)
            for k, (kind, idx, off) in enumerate(self._kp):
                pos, rot = (xpos[idx], xmat[idx]) if kind == "body" else (sxpos[idx], sxmat[idx])
                kps[i, k] = pos + rot @ off
        return PosedAnimal(verts, self.faces, self.uv, kps, self.part)


@lru_cache(maxsize=4)
def get_rig(animal: str) -> AnimalRig:
    """The process's one rig of ``animal`` (loading the model and its meshes takes most of a second)."""
    return AnimalRig(animal)


def _frac(rig: AnimalRig, name: str, f: float) -> float:
    """Angle at fraction ``f`` of a joint's range on the side of its sign: f = +1 -> upper limit, -1 -> lower."""
    _, lo, hi = rig.joints[name]
    return f * (hi if f >= 0 else -lo)


def sample_joint_angles(rig: AnimalRig, behaviours, rng: np.random.Generator) -> list[dict]:
    """Joint angles (radians, within the limits) for each behaviour name in ``behaviours`` (see :data:`BEHAVIOURS`).

    Every pose starts from small random angles on every joint (+-8 % of its range), then: walk / trot swing each
    leg's proximal joint and bend its distal ones along a gait phase (a four-beat walk: legs a quarter cycle apart;
    a trot: diagonal pairs together, larger swing); sit folds the hind legs fully and raises the chest; lie folds
    all four legs; turn_head bends the neck to one side up to 90 % of its range; lift_paw raises and folds one front
    leg. The fractions are of the model's own ranges, so the same code poses the dog and the rodent; sit also tilts the
    free root nose-up by 25-45 degrees (``ROOT_PITCH``), the trunk of a sitting animal.
    """
    spec = rig.spec
    out = []
    for b in behaviours:
        if b not in BEHAVIOURS:
            raise ValueError(f"behaviours: unknown behaviour {b!r}; expected one of {BEHAVIOURS}")
        a = {name: _frac(rig, name, rng.uniform(-0.08, 0.08)) for name in rig.joints}
        legs = spec.legs
        if b in ("walk", "trot"):
            phase0 = rng.uniform(0, 2 * np.pi)
            offsets = ({"LH": 0.0, "LF": 0.5, "RH": 1.0, "RF": 1.5} if b == "walk"
                       else {"LF": 0.0, "RH": 0.0, "RF": 1.0, "LH": 1.0})
            amp = rng.uniform(0.25, 0.4) if b == "walk" else rng.uniform(0.4, 0.6)
            for leg, (prox, mid, dist) in legs.items():
                ph = phase0 + np.pi * offsets[leg]
                a[prox] = _frac(rig, prox, amp * np.sin(ph))
                lift = max(0.0, np.cos(ph))  # the swing half of the cycle bends the leg to clear the ground
                a[mid] = _frac(rig, mid, -0.35 * lift * (1 if leg[1] == "H" else -1))
                a[dist] = _frac(rig, dist, -0.3 * lift)
        elif b == "sit":
            for leg in ("LH", "RH"):
                prox, mid, dist = legs[leg]
                a[prox] = _frac(rig, prox, -rng.uniform(0.6, 0.9))
                a[mid] = _frac(rig, mid, -rng.uniform(0.7, 0.95))
                a[dist] = _frac(rig, dist, -rng.uniform(0.5, 0.9))
            for j in spec.spine_pitch:
                a[j] = _frac(rig, j, rng.uniform(0.0, 0.3))
            a[ROOT_PITCH] = np.radians(rng.uniform(25, 45))
        elif b == "lie":
            for leg, (prox, mid, dist) in legs.items():
                hind = leg[1] == "H"
                a[prox] = _frac(rig, prox, -rng.uniform(0.5, 0.8) if hind else rng.uniform(0.5, 0.9))
                a[mid] = _frac(rig, mid, -rng.uniform(0.7, 0.95) if hind else rng.uniform(0.5, 0.9))
                a[dist] = _frac(rig, dist, -rng.uniform(0.4, 0.8))
        elif b == "turn_head":
            side = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 0.9)
            for j in spec.neck:
                a[j] = _frac(rig, j, side)
        elif b == "lift_paw":
            prox, mid, dist = legs["LF" if rng.random() < 0.5 else "RF"]
            a[prox] = _frac(rig, prox, rng.uniform(0.5, 0.9))
            a[mid] = _frac(rig, mid, -rng.uniform(0.4, 0.8))
            a[dist] = _frac(rig, dist, -rng.uniform(0.5, 0.9))
        out.append(rig.clip(a))
    return out
