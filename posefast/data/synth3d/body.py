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
           "subject_bone_lengths", "rest_stature", "age_proportions", "population_bone_lengths"]

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


# --- bodies of all ages (the "bodies" factor of the single-factor benchmark pairs) ---------------------------------
# Stature-for-age medians (cm), CDC 2000 growth charts (Kuczmarski et al., Vital Health Stat 11(246), 2002),
# 50th percentiles read at whole years 3..20, (boys, girls).
_STATURE_AGES = np.arange(3, 21)
_STATURE_MEDIAN_CM = np.array([
    (96.5, 95.1), (103.5, 102.7), (110.0, 109.4), (116.0, 115.5), (121.7, 121.1), (127.3, 127.0), (132.6, 132.9),
    (137.8, 138.6), (143.1, 144.8), (149.1, 151.0), (156.0, 156.0), (163.2, 159.6), (169.0, 161.7), (172.9, 162.5),
    (175.2, 162.9), (176.1, 163.1), (176.6, 163.2), (176.8, 163.3)])
# Adults (cm): mean and SD of stature, men and women (NHANES 2015-2018, Fryar et al., Vital Health Stat 3(46), 2021).
_ADULT_STATURE_CM = ((175.4, 7.6), (161.7, 7.1))
_CHILD_STATURE_CV = 0.045  # SD / median of stature-for-age over ages 3-17 in the CDC 2000 tables
# Sitting height / stature by age (Fredriks et al., Arch Dis Child 90:807, 2005): ~0.57 at 3, a minimum near
# 0.515 at puberty, ~0.52-0.53 in adults - children's legs are relatively short.
_SHR_AGES = np.array([3.0, 5.0, 8.0, 11.0, 13.0, 16.0, 18.0])
_SHR = np.array([0.565, 0.548, 0.531, 0.518, 0.514, 0.522, 0.525])
# Head height / stature (Medawar, Proc R Soc B 132:133, 1944): 1/5 at 2 years, 1/6 at 6, 1/7 at 12, 1/8 adult
# (his adult figure is at 25 years; it is reached here at 18, the age the adults of this model have).
_HEAD_AGES = np.array([2.0, 6.0, 12.0, 18.0])
_HEAD_FRACTION = np.array([1 / 5, 1 / 6, 1 / 7, 1 / 8])
CHILD_SHARE = 0.25  # ages 3-17 are about a quarter of the world's people (UN World Population Prospects 2022)

# child-indexed bones of each body region the age proportions act on (arms and hip width follow stature:
# arm span is about stature from early childhood on)
_LEG_BONES = [H36M17.bone(b) for b in ("RKnee", "RAnkle", "LKnee", "LAnkle")]
_TRUNK_BONES = [H36M17.bone(b) for b in ("Spine", "Thorax")]
_HEAD_BONES = [H36M17.bone(b) for b in ("Neck", "Head")]


def rest_stature(bone_lengths: np.ndarray) -> np.ndarray:
    """[..., 16] bone lengths -> [...] standing height (m) of the rest pose: sole to head top, the sole
    ``ANKLE_HEIGHT`` (scaled with the total bone length, as the ground contact scales it) below the ankle."""
    lengths = np.asarray(bone_lengths, np.float64)
    up = np.zeros(H36M17.num_bones)
    for b in ("LHip", "LKnee", "LAnkle", "Spine", "Thorax", "Neck", "Head"):  # the chain ankle -> head top
        up[H36M17.bone(b)] = abs(REST_DIRECTIONS[H36M17.bone(b), 1])
    return lengths @ up + ANKLE_HEIGHT * lengths.sum(-1) / MEAN_BONE_LENGTHS.sum()


def age_proportions(age: np.ndarray) -> np.ndarray:
    """[n] ages (years, >= 3) -> [n, 16] factors on the mean adult body's bone lengths that give that age's
    proportions (before scaling to a stature): legs by 1 - sitting-height ratio, the head and neck by the head
    fraction, the spine by what the sitting height leaves above the pelvis, each relative to the adult value."""
    age = np.asarray(age, np.float64)
    shr, head = np.interp(age, _SHR_AGES, _SHR), np.interp(age, _HEAD_AGES, _HEAD_FRACTION)
    shr_adult, head_adult = _SHR[-1], _HEAD_FRACTION[-1]
    f = np.ones((age.shape[0], H36M17.num_bones))
    f[:, _LEG_BONES] = ((1 - shr) / (1 - shr_adult))[:, None]
    f[:, _HEAD_BONES] = (head / head_adult)[:, None]
    f[:, _TRUNK_BONES] = ((shr - head) / (shr_adult - head_adult))[:, None]
    return f


def population_bone_lengths(rng: np.random.Generator, n_subjects: int, proportion_std: float = 0.04,
                            child_share: float = CHILD_SHARE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bodies over the span people have: returns (bone lengths [S, 16], stature [S] m, age [S] years; adults 18).

    ``round(child_share * S)`` subjects are children and adolescents with ages spread evenly over 3-18 years
    (one per stratum, so a few subjects still span the range), the rest adults; sex 50/50. Stature: the CDC 2000
    stature-for-age median with a 4.5 % SD for children, the NHANES 2015-2018 mean and SD for adults (both within
    +-2.5 SD). Proportions: :func:`age_proportions`, times the same individual per-group variation the adult
    presets draw (:func:`subject_bone_lengths`: N(1, ``proportion_std``) clipped to +-10 %), then the whole body
    rescaled to its stature (:func:`rest_stature`)."""
    n_child = int(round(child_share * n_subjects))
    strata = (np.arange(n_child) + rng.uniform(0, 1, n_child)) / max(n_child, 1)
    age = np.concatenate([3 + 15 * strata, np.full(n_subjects - n_child, 18.0)])
    male = rng.random(n_subjects) < 0.5
    z = np.clip(rng.normal(0, 1, n_subjects), -2.5, 2.5)
    median = np.where(male, np.interp(age, _STATURE_AGES, _STATURE_MEDIAN_CM[:, 0]),
                      np.interp(age, _STATURE_AGES, _STATURE_MEDIAN_CM[:, 1]))
    adult_mean = np.where(male, _ADULT_STATURE_CM[0][0], _ADULT_STATURE_CM[1][0])
    adult_sd = np.where(male, _ADULT_STATURE_CM[0][1], _ADULT_STATURE_CM[1][1])
    is_adult = age >= 18
    stature = np.where(is_adult, adult_mean + z * adult_sd, median * (1 + _CHILD_STATURE_CV * z)) / 100
    groups = np.clip(rng.normal(1.0, proportion_std, size=(n_subjects, H36M17.num_groups)), 0.9, 1.1)
    lengths = MEAN_BONE_LENGTHS[None, :] * groups[:, H36M17.bone_group_index] * age_proportions(age)
    lengths = lengths * (stature / rest_stature(lengths))[:, None]
    order = rng.permutation(n_subjects)  # children are not all the first subject ids
    return lengths[order], stature[order], age[order]
