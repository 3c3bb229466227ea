"""Embedded synthetic domains: procedural ``h36m17`` poses filmed by virtual camera rigs (no downloads needed).

Generation, all vectorised over poses:
1. every sample gets a subject (a fixed body of the preset: overall height 1.5-1.9 m times symmetric bone
   proportions) and a pose class from the preset's repertoire (``repertoire.POSE_CLASSES``);
2. the class sampler draws joint angles, the preset adds Gaussian angle noise, angles are clamped to anatomical
   limits (``body``) and forward kinematics builds the pose; self-penetrating poses (an arm through the torso or
   head, a knee or foot inside the torso, the legs through each other) are re-drawn;
3. the body gets a random heading, is lowered until its lowest support (a foot, a knee, the buttocks or a hand)
   touches the floor y = 0 - jumps are lifted 5-35 cm - and is placed in the capture area;
4. the rig (``rigs``) picks a camera; samples not fully inside the image are re-placed and re-filmed.

Presets reproduce the two gaps of PoseDA (Chai et al., ICCV 2023) between Human3.6M and MPI-INF-3DHP/3DPW:
global position (rig: camera height/distance/pitch, focal length, image size, subject placement) and local pose
diversity (repertoire: class mixture and angle noise). ``subject`` ids split train/test (``split``); ``sequence`` =
100 * subject + class index; ``view`` = rig camera (fixed rig) or intrinsics choice (random rig).
Deterministic for a given (preset, n, seed, split); the bodies of a preset do not depend on the seed.

Single-factor targets (:data:`FACTOR_PRESETS`, ``synthetic:h36m+position`` / ``+view`` / ``+bodies`` / ``+local`` /
``+classes``): ``h36m`` with one factor of ``3dhp`` each, to tell which gap a method closes (see
:func:`_factor_presets`).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np

from posefast.skeleton import H36M17, get_skeleton
from posefast.data.synth3d.body import (ANKLE_HEIGHT, DOF_NAMES, MEAN_BONE_LENGTHS, pose_from_dofs,
                                        population_bone_lengths, subject_bone_lengths)
from posefast.geometry import rotation_y
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.synth3d.repertoire import AIRBORNE, POSE_CLASSES, sample_class
from posefast.data.synth3d.rigs import get_rig, render
from posefast.data.pose3d.stats import preset_statistics

__all__ = ["SyntheticPreset", "PRESETS", "FACTOR_PRESETS", "ALL_PRESETS", "generate_synthetic", "sample_world_poses", "self_penetrating",
           "preset_statistics"]


@dataclass(frozen=True)
class SyntheticPreset:
    """A synthetic domain: camera rig + pose repertoire + subjects."""

    name: str
    rig: str
    classes: dict = field(default_factory=dict)  # pose class -> mixture weight
    angle_noise_deg: float = 3.0                 # extra N(0, s) on every joint angle (not the pelvis lean)
    train_subjects: tuple = (1,)
    test_subjects: tuple = (2,)
    # "adult": the presets' adults (``body.subject_bone_lengths``); "population": all ages
    # (``body.population_bone_lengths``), drawn separately for the train and the test subjects so each spans them
    bodies: str = "adult"
    bodies_of: str = ""  # the preset whose (seed-independent) bodies these are; "" = its own

    @property
    def subjects(self) -> tuple:
        return tuple(self.train_subjects) + tuple(self.test_subjects)


PRESETS = {
    # lab: everyday repertoire (Human3.6M actions are mostly standing, walking, gesturing, some sitting)
    "h36m": SyntheticPreset("h36m", rig="h36m",
                            classes={"stand": 0.25, "walk": 0.3, "gesture": 0.3, "sit_chair": 0.1, "bend": 0.05},
                            angle_noise_deg=3.0, train_subjects=(1, 5, 6, 7, 8), test_subjects=(9, 11)),
    # MPI-INF-3DHP: wide repertoire (its activities include exercise, sitting, crouching, reaching, sports)
    "3dhp": SyntheticPreset("3dhp", rig="3dhp",
                            classes={"stand": 0.05, "walk": 0.07, "gesture": 0.07, "sit_chair": 0.08,
                                     "sit_floor": 0.07, "crouch": 0.12, "reach": 0.12, "bend": 0.1, "kneel": 0.08,
                                     "lunge": 0.08, "jump": 0.06, "exercise": 0.1},
                            angle_noise_deg=8.0, train_subjects=(1, 2, 3, 4, 5, 6, 7, 8),
                            test_subjects=(11, 12, 13, 14, 15, 16)),
    # 3DPW: handheld outdoor video, mostly walking and everyday activities
    "3dpw": SyntheticPreset("3dpw", rig="3dpw",
                            classes={"stand": 0.2, "walk": 0.35, "gesture": 0.15, "sit_chair": 0.1, "bend": 0.05,
                                     "reach": 0.05, "crouch": 0.05, "lunge": 0.05},
                            angle_noise_deg=5.0, train_subjects=(1, 2, 3, 4, 5), test_subjects=(6, 7)),
}



def _factor_presets() -> dict:
    """The single-factor targets of the ``h36m`` -> ``3dhp`` pair: each is ``h36m`` (its classes, angle noise,
    bodies - the very same subjects - and rig) with ONE factor taken from ``3dhp``'s statistics; every other
    factor is drawn as ``h36m`` draws it (its own seed stream, so its samples are new draws, not the source's).

    - ``h36m+position``: global position - distance, framing (off-centre aim), intrinsics, image sizes and capture
      area of the 3DHP rig, the camera height chosen per sample so its elevation above the pelvis follows what the
      Human3.6M rig gives that pose (rig ``3dhp-position``, :class:`~posefast.data.synth3d.rigs.FactorRig`).
    - ``h36m+view``: viewpoint - the Human3.6M cameras (distance, aim point, intrinsics) moved vertically to the
      elevation above the pelvis the 3DHP rig's height bands and distances give, with its roll (rig ``3dhp-view``).
    - ``h36m+bodies``: bodies of all ages, children included (``body.population_bone_lengths``: CDC growth charts,
      NHANES adults, sitting-height and head proportions by age), 20 train and 12 test subjects.
    - ``h36m+local``: the ``h36m`` classes with ``3dhp``'s joint-angle noise (8 instead of 3 degrees).
    - ``h36m+classes``: only the ``3dhp`` classes ``h36m`` never shows, at ``3dhp``'s relative weights, with
      ``h36m``'s angle noise.
    """
    src, tgt = PRESETS["h36m"], PRESETS["3dhp"]
    same = dict(bodies_of=src.name)
    unseen = {k: w for k, w in tgt.classes.items() if k not in src.classes}
    return {p.name: p for p in (
        replace(src, name="h36m+position", rig="3dhp-position", **same),
        replace(src, name="h36m+view", rig="3dhp-view", **same),
        replace(src, name="h36m+bodies", bodies="population", train_subjects=tuple(range(1, 21)),
                test_subjects=tuple(range(21, 33))),
        replace(src, name="h36m+local", angle_noise_deg=tgt.angle_noise_deg, **same),
        replace(src, name="h36m+classes", classes=unseen, **same),
    )}


FACTOR_PRESETS = _factor_presets()
ALL_PRESETS = {**PRESETS, **FACTOR_PRESETS}


def _preset(preset) -> SyntheticPreset:
    if isinstance(preset, SyntheticPreset):
        return preset
    if preset not in ALL_PRESETS:
        raise ValueError(f"preset: unknown synthetic preset {preset!r}; expected one of {sorted(ALL_PRESETS)}")
    return ALL_PRESETS[preset]


def _salt(name: str) -> int:
    return zlib.crc32(name.encode())


def preset_bodies(preset) -> dict[int, np.ndarray]:
    """subject id -> bone lengths [16] of a preset (fixed: independent of the generation seed)."""
    p = _preset(preset)
    if p.bodies_of:
        base = _preset(p.bodies_of)
        if base.subjects != p.subjects or base.bodies != p.bodies:
            raise ValueError(f"preset {p.name}: bodies_of={p.bodies_of!r} needs the same subjects and body model")
        return preset_bodies(base)
    rng = np.random.default_rng([_salt(p.name), 1])
    if p.bodies == "adult":
        lengths = subject_bone_lengths(rng, len(p.subjects))
    elif p.bodies == "population":
        lengths = np.concatenate([population_bone_lengths(rng, len(p.train_subjects))[0],
                                  population_bone_lengths(rng, len(p.test_subjects))[0]])
    else:
        raise ValueError(f"preset {p.name}: bodies: expected 'adult' or 'population', got {p.bodies!r}")
    return {s: lengths[i] for i, s in enumerate(p.subjects)}


def _segment_points(joints, pairs, ts):
    """[N, J, 3] -> [N, len(pairs) * len(ts), 3] points at fractions ts along each (a, b) joint pair."""
    a = np.repeat([p[0] for p in pairs], len(ts))
    b = np.repeat([p[1] for p in pairs], len(ts))
    t = np.tile(np.asarray(ts, dtype=np.float64), len(pairs))[:, None]
    start = joints[:, a]
    return start + t * (joints[:, b] - start)


_J = {name: i for i, name in enumerate(H36M17.joint_names)}
_ARM_PAIRS = [(_J[f"{s}Shoulder"], _J[f"{s}Elbow"]) for s in "LR"] + [(_J[f"{s}Elbow"], _J[f"{s}Wrist"]) for s in "LR"]
_LEG = {s: [(_J[f"{s}Hip"], _J[f"{s}Knee"]), (_J[f"{s}Knee"], _J[f"{s}Ankle"])] for s in "LR"}


def _sqdist(a, b):
    d = a - b
    return np.einsum("...k,...k->...", d, d)


def self_penetrating(joints: np.ndarray, thorax_frame: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """bool [N]: a pose whose limbs pass through the torso, head or each other.

    Args: joints [N, 17, 3] (h36m17), thorax_frame [N, 3, 3] (columns: lateral, up, forward axes of the
    thorax bone), scale [N] body scale (1 = mean Human3.6M body).

    Torso: an elliptic cylinder (half-width 0.13 m, half-depth 0.09 m, times the body scale) around the
    pelvis-thorax axis, oriented by the thorax frame; head: a sphere of radius 0.085 m at the neck-head
    midpoint; legs: every sampled point of one leg at least 0.08 m from every point of the other.
    """
    s = scale[:, None]
    pelvis, thorax = joints[:, _J["Pelvis"]], joints[:, _J["Thorax"]]
    axis = thorax - pelvis
    lateral, depth = thorax_frame[:, :, 0], thorax_frame[:, :, 2]
    arm_pts = _segment_points(joints, _ARM_PAIRS, (0.5, 1.0))
    leg_pts = _segment_points(joints, _LEG["L"] + _LEG["R"], (0.5, 1.0))

    def inside_torso(pts):
        rel = pts - pelvis[:, None]
        t = np.einsum("npk,nk->np", rel, axis) / np.einsum("nk,nk->n", axis, axis)[:, None]
        r = rel - np.clip(t, 0, 1)[..., None] * axis[:, None]
        x = np.einsum("npk,nk->np", r, lateral) / (0.13 * s)
        z = np.einsum("npk,nk->np", r, depth) / (0.09 * s)
        return ((x * x + z * z < 1) & (t > 0) & (t < 1.1)).any(-1)

    head_c = 0.5 * (joints[:, _J["Neck"]] + joints[:, _J["Head"]])
    in_head = (_sqdist(arm_pts, head_c[:, None]) < (0.085 * s) ** 2).any(-1)
    # points every third of a segment: adjacent points are <= 0.16 m apart, enough to catch a 0.08 m contact
    left = _segment_points(joints, _LEG["L"], (1 / 3, 2 / 3, 1.0)).astype(np.float32)
    right = _segment_points(joints, _LEG["R"], (1 / 3, 2 / 3, 1.0)).astype(np.float32)
    legs_cross = _sqdist(left[:, :, None], right[:, None]).min((1, 2)) < (0.08 * scale) ** 2
    return inside_torso(arm_pts) | inside_torso(leg_pts) | in_head | legs_cross


def _sample_dofs(rng, classes: np.ndarray, names: list, noise: float) -> dict:
    n = classes.shape[0]
    dofs = {k: np.zeros(n) for k in DOF_NAMES}
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        d = sample_class(names[c], rng, idx.size)
        for k in DOF_NAMES:
            dofs[k][idx] = d[k]
    if noise > 0:
        for k in DOF_NAMES:
            if k not in ("pitch", "roll"):  # leaning the pelvis would tip the legs off their feet
                dofs[k] = dofs[k] + rng.normal(0, noise, n)
    return dofs


def _ground_offset(world: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Height [N] to subtract so the lowest support point touches y = 0 (soles below ankles, knee caps, ...)."""
    h = ANKLE_HEIGHT * scale[:, None]
    supports = np.stack([
        world[:, _J["LAnkle"], 1] - h[:, 0], world[:, _J["RAnkle"], 1] - h[:, 0],
        world[:, _J["LKnee"], 1] - 0.05 * scale, world[:, _J["RKnee"], 1] - 0.05 * scale,
        world[:, _J["Pelvis"], 1] - 0.10 * scale,
        world[:, _J["LWrist"], 1] - 0.04 * scale, world[:, _J["RWrist"], 1] - 0.04 * scale,
        world[:, _J["Head"], 1] - 0.08 * scale,
    ], -1)
    return supports.min(-1)


def sample_world_poses(preset, n: int, rng: np.random.Generator, subjects: "np.ndarray | None" = None,
                       max_rounds: int = 100):
    """World-frame poses (Y up, floor y = 0, pelvis above the origin) of a preset.

    Returns (joints [n, 17, 3], subject [n], class index [n], dofs dict of clipped DOF arrays [n]).
    """
    p = _preset(preset)
    names = sorted(p.classes)
    weights = np.array([p.classes[k] for k in names], np.float64)
    for k in names:
        if k not in POSE_CLASSES:
            raise ValueError(f"preset {p.name}: unknown pose class {k!r}")
    bodies = preset_bodies(p)
    if subjects is None:
        subjects = rng.choice(np.array(p.subjects), size=n)
    lengths = np.stack([bodies[int(s)] for s in subjects]) if n else np.zeros((0, H36M17.num_bones))
    scale = lengths.sum(1) / MEAN_BONE_LENGTHS.sum()
    classes = rng.choice(len(names), size=n, p=weights / weights.sum())
    joints = np.zeros((n, H36M17.num_joints, 3))
    dofs_out = {k: np.zeros(n) for k in DOF_NAMES}
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        dofs = _sample_dofs(rng, classes[todo], names, p.angle_noise_deg)
        body, frames, clipped = pose_from_dofs(dofs, lengths[todo])
        bad = self_penetrating(body, frames[_J["Thorax"]], scale[todo])
        good = todo[~bad]
        joints[good] = body[~bad]
        for k in DOF_NAMES:
            dofs_out[k][good] = clipped[k][~bad]
        todo = todo[bad]
    if todo.size:
        raise RuntimeError(f"preset {p.name}: {todo.size} poses still self-penetrating after {max_rounds} rounds")
    heading = rng.uniform(0, 2 * np.pi, n)
    world = np.einsum("nij,nkj->nki", rotation_y(heading).numpy(), joints)
    world[..., 1] -= _ground_offset(world, scale)[:, None]
    for name, (lo, hi) in AIRBORNE.items():
        if name in names:
            air = classes == names.index(name)
            world[air, :, 1] += rng.uniform(lo, hi, air.sum())[:, None]
    return world, np.asarray(subjects), classes, dofs_out


def generate_synthetic(preset: str = "h36m", n: int = 100_000, seed: int = 0, split: "str | None" = None,
                       skeleton: str = "h36m17", max_rounds: int = 100) -> PoseDataset:
    """Generate a synthetic domain (see the module docstring).

    Args:
        preset: ``"h36m"``, ``"3dhp"``, ``"3dpw"``, a single-factor target of :data:`FACTOR_PRESETS`
            (``"h36m+position"``, ...) or a :class:`SyntheticPreset`.
        n: number of samples (after the split).
        seed: generation seed.
        split: ``"train"`` / ``"test"`` draws only that preset's train / test subjects; None or ``"all"`` both.
        skeleton: ``"h36m17"`` (native) or ``"h36m16"``.
    """
    p = _preset(preset)
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    if split in (None, "all"):
        pool = p.subjects
    elif split == "train":
        pool = p.train_subjects
    elif split == "test":
        pool = p.test_subjects
    else:
        raise ValueError(f"split: expected 'train', 'test', 'all' or None, got {split!r}")
    rig = get_rig(p.rig)
    rng = np.random.default_rng([int(seed), _salt(p.name), {"train": 1, "test": 2}.get(split, 0)])
    subjects = rng.choice(np.array(pool), size=n)
    world, subjects, classes, _ = sample_world_poses(p, n, rng, subjects=subjects, max_rounds=max_rounds)
    X = np.zeros_like(world)
    uv = np.zeros((n, H36M17.num_joints, 2))
    K, size, view = np.zeros((n, 4)), np.zeros((n, 2), np.int64), np.zeros(n, np.int64)
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        # place in the capture area (uniform on a disc) then film
        r = rig.area_radius * np.sqrt(rng.uniform(0, 1, todo.size))
        a = rng.uniform(0, 2 * np.pi, todo.size)
        shift = np.stack([r * np.cos(a), np.zeros(todo.size), r * np.sin(a)], -1)
        pw = world[todo] - world[todo, :1] * [1, 0, 1] + shift[:, None]
        cams = rig.sample(rng, pw[:, 0])
        Xc, uvc, ok = render(pw, cams)
        done = todo[ok]
        X[done], uv[done] = Xc[ok], uvc[ok]
        K[done], size[done], view[done] = cams.intrinsics[ok], cams.image_size[ok], cams.view[ok]
        todo = todo[~ok]
    if todo.size:
        raise RuntimeError(f"preset {p.name}: {todo.size} samples never fit in the image after {max_rounds} tries")
    ds = PoseDataset(joints_3d=X, joints_2d=uv, camera=K, image_size=size, skeleton="h36m17",
                     subject=subjects, sequence=100 * subjects + classes, view=view,
                     name=f"synthetic:{p.name}",
                     meta={"preset": p.name, "seed": seed, "split": split, "classes": sorted(p.classes),
                           "rig": p.rig})
    return ds if get_skeleton(skeleton).name == "h36m17" else ds.to_skeleton(skeleton)
