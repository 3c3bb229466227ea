"""A parametric ``h36m17`` body: rest geometry, joint-angle DOFs with anatomical limits, vectorised FK.

Body frame: x = the subject's left, y = up, z = forward (the way the body faces); metres. Bones are
child-indexed as in ``posefast.skeleton`` (bone b ends at joint b + 1). Every bone gets a local rotation relative
to the frame of its parent bone (the root frame for bones leaving the pelvis); the bone vector is that frame
applied to its rest direction times its length. Right-side rotations are the mirror images (conjugation by
diag(-1, 1, 1)) of left-side rotations with the same parameters, so one set of limits serves both sides.

DOFs, degrees (``DOF_NAMES``; ``l_``/``r_`` prefixes for the sided ones):
- ``pitch`` (forward lean of the pelvis), ``roll`` (lean to the subject's left); heading is applied outside.
- ``spine_flex`` (forward), ``spine_lat`` (to the left), ``spine_twist``: shared equally by the two spine joints.
- ``neck_flex``, ``neck_lat``, ``neck_twist``: the head on the thorax.
- ``clav_elev`` (shrug), ``clav_prot`` (shoulder forward).
- ``sh_elev`` (angle of the upper arm from hanging), ``sh_plane`` (direction of that elevation: 0 forward,
  90 sideways out, 180 backward, negative across the body), ``sh_twist`` (axial rotation, measured from the
  twist that keeps the hanging arm's orientation: rotation = Ry(plane) Rx(-elev) Ry(twist - plane)).
- ``elbow`` (flexion).
- ``hip_elev``, ``hip_plane``, ``hip_twist``: as for the shoulder, for the thigh relative to the pelvis.
- ``knee`` (flexion).

References: joint limits follow standard range-of-motion tables (e.g. AAOS); the elevation/plane
parameterisation of the ball joints is the ISB shoulder convention (Wu et al., J. Biomech. 2005).
"""
from __future__ import annotations

import numpy as np

from posefast.skeleton import H36M17
from posefast.geometry import rotation_x, rotation_y, rotation_z

__all__ = ["DOF_NAMES", "SIDED_DOFS", "MEAN_BONE_LENGTHS", "REST_DIRECTIONS", "ANKLE_HEIGHT", "dof_limits",
           "clip_dofs", "limb_elev_plane", "local_rotations", "forward_kinematics", "pose_from_dofs",
           "subject_bone_lengths"]

SIDED_DOFS = ("clav_elev", "clav_prot", "sh_elev", "sh_plane", "sh_twist", "elbow", "hip_elev", "hip_plane",
              "hip_twist", "knee")
DOF_NAMES = ("pitch", "roll", "spine_flex", "spine_lat", "spine_twist", "neck_flex", "neck_lat", "neck_twist") + \
    tuple(f"{s}_{d}" for s in ("l", "r") for d in SIDED_DOFS)

# Mean Human3.6M bone lengths (metres, child-indexed h36m17 bones), close to subject S1 of the dataset.
MEAN_BONE_LENGTHS = np.array([
    0.133, 0.443, 0.454,      # RHip, RKnee, RAnkle
    0.133, 0.443, 0.454,      # LHip, LKnee, LAnkle
    0.233, 0.257,             # Spine, Thorax
    0.121, 0.115,             # Neck/Nose, Head
    0.151, 0.279, 0.252,      # LShoulder, LElbow, LWrist
    0.151, 0.279, 0.252,      # RShoulder, RElbow, RWrist
])
# The ankle joint sits this far above the sole (metres, for a 1.0-scale body) - used for ground contact.
ANKLE_HEIGHT = 0.08


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


_LEFT_REST = {"Hip": _unit([1.0, -0.1, 0.0]), "Knee": _unit([0, -1, 0]), "Ankle": _unit([0, -1, 0]),
              "Shoulder": _unit([1.0, -0.05, 0.0]), "Elbow": _unit([0, -1, 0]), "Wrist": _unit([0, -1, 0])}
_MIRROR = np.diag([-1.0, 1.0, 1.0])


def _rest_directions() -> np.ndarray:
    out = np.zeros((H36M17.num_bones, 3))
    for j, name in enumerate(H36M17.joint_names[1:], start=1):
        if name[0] in "LR" and name[1:] in _LEFT_REST:
            d = _LEFT_REST[name[1:]]
            out[j - 1] = d if name[0] == "L" else _MIRROR @ d
    out[H36M17.bone("Spine")] = [0, 1, 0]
    out[H36M17.bone("Thorax")] = [0, 1, 0]
    out[H36M17.bone("Neck")] = _unit([0, 0.78, 0.62])     # Human3.6M's neck/nose point sits up and forward
    out[H36M17.bone("Head")] = _unit([0, 0.9, -0.44])     # the head top, up and back from it
    return out


REST_DIRECTIONS = _rest_directions()

# (lower, upper) limits in degrees for every unsided DOF and the left-side version of sided DOFs.
_LIMITS = {
    "pitch": (-30, 100), "roll": (-35, 35),
    "spine_flex": (-30, 90), "spine_lat": (-35, 35), "spine_twist": (-45, 45),
    "neck_flex": (-50, 60), "neck_lat": (-40, 40), "neck_twist": (-75, 75),
    "clav_elev": (-10, 30), "clav_prot": (-15, 20),
    "sh_elev": (0, 180), "sh_plane": (-70, 180), "sh_twist": (-70, 80), "elbow": (0, 150),
    "hip_elev": (0, 130), "hip_plane": (-35, 180), "hip_twist": (-40, 40), "knee": (0, 155),
}
# elevation ceilings that depend on the plane of elevation (degrees): (planes, max elevations)
_SHOULDER_CEILING = ((-70, -45, -10, 100, 150, 180), (95, 120, 180, 180, 70, 60))
_HIP_CEILING = ((-35, 0, 45, 90, 135, 180), (20, 130, 110, 55, 35, 35))


def dof_limits(name: str) -> tuple[float, float]:
    """(lower, upper) degrees for a DOF name (sided names use the shared limits)."""
    base = name[2:] if name[:2] in ("l_", "r_") else name
    if base not in _LIMITS:
        raise ValueError(f"name: unknown DOF {name!r}; expected one of {DOF_NAMES}")
    return _LIMITS[base]


def clip_dofs(dofs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clamp every DOF to its range, then each ball joint's elevation to its plane-dependent ceiling."""
    out = {}
    for name in DOF_NAMES:
        if name not in dofs:
            raise ValueError(f"dofs: missing {name!r}")
        lo, hi = dof_limits(name)
        out[name] = np.clip(np.asarray(dofs[name], dtype=np.float64), lo, hi)
    for side in ("l", "r"):
        for joint, (planes, ceil) in (("sh", _SHOULDER_CEILING), ("hip", _HIP_CEILING)):
            plane = out[f"{side}_{joint}_plane"]
            out[f"{side}_{joint}_elev"] = np.minimum(out[f"{side}_{joint}_elev"], np.interp(plane, planes, ceil))
    return out


def limb_elev_plane(flex, abd):
    """Flexion/abduction angles (degrees, forward and outward, signed) -> (elevation, plane) in degrees.

    The limb direction is Rx(-flex) Rz(abd) applied to "hanging down" (left side): abduction swings it outward in
    the frontal plane, then flexion turns that plane forward, so abduction points outward at any flexion (an arm
    raised forward past horizontal and abducted goes up and out, never across). Elevation is the angle from
    straight down, plane the heading of the direction (0 forward, 90 outward, 180 backward).
    """
    f, a = np.radians(flex), np.radians(abd)
    dx, dy, dz = np.sin(a), -np.cos(a) * np.cos(f), np.cos(a) * np.sin(f)
    elev = np.degrees(np.arccos(np.clip(-dy, -1.0, 1.0)))
    plane = np.degrees(np.arctan2(dx, dz))
    return elev, plane


def _ball(elev, plane, twist):
    e, p, t = np.radians(elev), np.radians(plane), np.radians(twist)
    return rotation_y(p).numpy() @ rotation_x(-e).numpy() @ rotation_y(t - p).numpy()


def local_rotations(dofs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """DOFs (each [N], degrees, already clipped) -> (pelvis rotation [N, 3, 3], bone rotations [N, 16, 3, 3])."""
    n = np.asarray(dofs["pitch"]).shape[0]
    rad = {k: np.radians(np.asarray(v, dtype=np.float64)) for k, v in dofs.items()}
    L = np.broadcast_to(np.eye(3), (n, H36M17.num_bones, 3, 3)).copy()
    root = rotation_x(rad["pitch"]).numpy() @ rotation_z(-rad["roll"]).numpy()
    half = {k: rad[f"spine_{k}"] / 2 for k in ("flex", "lat", "twist")}
    spine = rotation_x(half["flex"]).numpy() @ rotation_z(-half["lat"]).numpy() @ rotation_y(half["twist"]).numpy()
    L[:, H36M17.bone("Spine")] = spine
    L[:, H36M17.bone("Thorax")] = spine
    L[:, H36M17.bone("Neck")] = rotation_x(rad["neck_flex"]).numpy() @ rotation_z(-rad["neck_lat"]).numpy() @ \
        rotation_y(rad["neck_twist"]).numpy()
    for side, prefix in (("l", "L"), ("r", "R")):
        d = {k: np.asarray(dofs[f"{side}_{k}"], dtype=np.float64) for k in SIDED_DOFS}
        clav = rotation_y(-np.radians(d["clav_prot"])).numpy() @ rotation_z(np.radians(d["clav_elev"])).numpy()
        arm = _ball(d["sh_elev"], d["sh_plane"], d["sh_twist"])
        forearm = rotation_x(-np.radians(d["elbow"])).numpy()
        thigh = _ball(d["hip_elev"], d["hip_plane"], d["hip_twist"])
        shin = rotation_x(np.radians(d["knee"])).numpy()
        for joint, R in (("Shoulder", clav), ("Elbow", arm), ("Wrist", forearm), ("Knee", thigh), ("Ankle", shin)):
            L[:, H36M17.bone(prefix + joint)] = R if side == "l" else _MIRROR @ R @ _MIRROR
    return root, L


def forward_kinematics(root_rotation, bone_rotations, bone_lengths, rest_directions=REST_DIRECTIONS):
    """Joint positions relative to the pelvis.

    Args:
        root_rotation: [N, 3, 3] pelvis frame.
        bone_rotations: [N, B, 3, 3] rotation of each bone relative to its parent bone's frame.
        bone_lengths: [N, B] or [B] metres.
        rest_directions: [B, 3] unit bone directions in their own frame at rest.
    Returns:
        (joints [N, J, 3], frames) - ``frames`` is a list of J arrays [N, 3, 3], frames[j] the frame of the bone
        ending at joint j (the pelvis frame at 0); a list because callers need only a few of them.
    """
    N, B = bone_rotations.shape[:2]
    if root_rotation.shape != (N, 3, 3) or B != H36M17.num_bones:
        raise ValueError(f"root_rotation/bone_rotations: expected [N, 3, 3] / [N, {H36M17.num_bones}, 3, 3], got "
                         f"{root_rotation.shape} / {bone_rotations.shape}")
    lengths = np.broadcast_to(np.asarray(bone_lengths, dtype=np.float64), (N, B))
    # per-joint contiguous arrays: far faster than writing strided slices of one [N, J, 3, 3] array
    frames = [np.ascontiguousarray(root_rotation, dtype=np.float64)]
    joints = [np.zeros((N, 3))]
    for j in range(1, B + 1):
        p = H36M17.parents[j]
        frames.append(frames[p] @ bone_rotations[:, j - 1])
        joints.append(joints[p] + (frames[j] @ rest_directions[j - 1]) * lengths[:, j - 1, None])
    return np.stack(joints, 1), frames


def pose_from_dofs(dofs: dict[str, np.ndarray], bone_lengths):
    """Clip the DOFs and run FK: returns (joints [N, 17, 3] pelvis-relative body frame, frames (list of J
    [N, 3, 3]), clipped dofs)."""
    clipped = clip_dofs(dofs)
    root, L = local_rotations(clipped)
    joints, frames = forward_kinematics(root, L, bone_lengths)
    return joints, frames, clipped


def subject_bone_lengths(rng: np.random.Generator, n_subjects: int, height_range=(0.88, 1.10),
                         proportion_std: float = 0.04) -> np.ndarray:
    """[S, 16] bone lengths: left/right-symmetric per-group proportions (``H36M17.bone_group_index``, within
    +-10 %) rescaled so the total bone length is ``height_range`` times the mean body's (heights ~1.5-1.9 m)."""
    scale = rng.uniform(*height_range, size=(n_subjects, 1))
    groups = np.clip(rng.normal(1.0, proportion_std, size=(n_subjects, H36M17.num_groups)), 0.9, 1.1)
    lengths = MEAN_BONE_LENGTHS[None, :] * groups[:, H36M17.bone_group_index]
    return lengths * scale * MEAN_BONE_LENGTHS.sum() / lengths.sum(1, keepdims=True)
