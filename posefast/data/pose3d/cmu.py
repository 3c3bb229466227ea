"""The CMU Graphics Lab motion capture database (mocap.cs.cmu.edu) as ``h36m17`` sequences and as a filmed source
domain: :func:`load_cmu_sequences` reads every ASF/AMC (:mod:`~posefast.data.pose3d.asf_amc`) and BVH
(:mod:`~posefast.data.pose3d.bvh`) motion of a folder and maps it to ``h36m17``; :func:`load_cmu` films those
sequences with a virtual camera rig.

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
``posefast.data.synth3d.rigs`` films every sequence. The default ``h36m`` rig is Human3.6M's four cameras centred on
the sequence's mean root position on the floor; ``views="all"`` films every frame from each camera (as Human3.6M
does) and drops samples with a joint outside the image or behind the camera (counted in ``meta["dropped"]``).
Random rigs (``3dhp``, ``3dpw``) draw a camera per frame aimed near the subject, re-drawing a failed camera up to
20 times.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from posefast.skeleton import get_skeleton
from posefast.data.pose3d.asf_amc import asf_forward_kinematics, read_amc, read_asf
from posefast.data.pose3d.bvh import bvh_forward_kinematics, read_bvh
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.pose3d.mocap import CMU_METRES_PER_UNIT, resample_indices, to_h36m17
from posefast.data.synth3d.rigs import FixedRig, get_rig, render

__all__ = ["ASF_TO_H36M17", "BVH_TO_H36M17", "load_cmu_sequences", "load_cmu"]

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


def _trial_ids(stem: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)_(\d+)", stem)
    if not m:
        raise ValueError(f"{stem}: CMU motion files are named '<subject>_<trial>' (e.g. 02_01)")
    return int(m.group(1)), int(m.group(2))


def _asf_of(amc: Path) -> Path:
    """The skeleton of an AMC: the ASF of its subject (``02.asf`` for ``02_01.amc``), or the folder's only ASF."""
    asfs = sorted(amc.parent.glob("*.asf"))
    match = [a for a in asfs if a.stem == amc.stem.split("_")[0]]
    if len(match) != 1 and len(asfs) != 1:
        raise ValueError(f"{amc}: cannot tell which ASF skeleton it belongs to (found {[a.name for a in asfs]})")
    return match[0] if match else asfs[0]


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
        skel = read_asf(_asf_of(amc), metres_per_unit)
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


def _film_fixed(world: np.ndarray, rig: FixedRig, views: str, rng: np.random.Generator) -> tuple[list, int]:
    """A sequence filmed by a fixed rig's still cameras around its mean floor position: one take per camera
    (``views="all"``) or one take with a random camera per frame; each take keeps the frames fully in view.
    Returns the takes ``(camera-frame 3D, pixels, intrinsics, image sizes, views)`` and the dropped count."""
    T = world.shape[0]
    centre = world[:, 0].mean(0) * [1, 0, 1]
    view_sets = [np.full(T, v) for v in range(rig.num_views)] if views == "all" else \
        [rng.integers(0, rig.num_views, T)]
    takes, dropped = [], 0
    for v in view_sets:
        cams = rig.sample(rng, world[:, 0], centre=centre, view=v, jitter=0.0)  # still cameras
        X, uv, ok = render(world, cams)
        dropped += int((~ok).sum())
        takes.append((X[ok], uv[ok], cams.intrinsics[ok], cams.image_size[ok], cams.view[ok]))
    return takes, dropped


def _film_random(world: np.ndarray, rig, rng: np.random.Generator, max_tries: int) -> tuple[list, int]:
    """A sequence filmed by a random rig: a camera per frame, re-drawn (up to ``max_tries`` draws) for the frames
    not fully in view; frames never in view are dropped. Returns one take (as :func:`_film_fixed`) and the dropped
    count."""
    T = world.shape[0]
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
    return [(X[keep], uv[keep], K[keep], size[keep], view[keep])], int(todo.size)


def _check_options(views: str, split) -> None:
    if split not in (None, "all"):
        raise ValueError(f"split: CMU has no standard split; pass subjects=[...] instead of split={split!r}")
    if views not in ("all", "random"):
        raise ValueError(f"views: expected 'all' or 'random', got {views!r}")


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
    _check_options(views, split)
    rig = get_rig(rig)
    rng = np.random.default_rng(seed)
    seqs = load_cmu_sequences(directory, fps=fps, subjects=subjects)
    columns = {k: [] for k in ("X", "uv", "K", "size", "view", "subject", "sequence")}
    dropped = 0
    for seq in seqs:
        if isinstance(rig, FixedRig):
            takes, lost = _film_fixed(seq["joints"], rig, views, rng)
        else:
            takes, lost = _film_random(seq["joints"], rig, rng, max_tries)
        dropped += lost
        for take in takes:
            for key, value in zip(("X", "uv", "K", "size", "view"), take):
                columns[key].append(value)
            n = len(take[0])
            columns["subject"].append(np.full(n, seq["subject"]))
            columns["sequence"].append(np.full(n, 100 * seq["subject"] + seq["trial"]))
    if sum(len(x) for x in columns["X"]) == 0:
        raise ValueError(f"{directory}: no frame is fully visible from rig {rig.name!r}")
    whole = {k: np.concatenate(v) for k, v in columns.items()}
    ds = PoseDataset(joints_3d=whole["X"], joints_2d=whole["uv"], camera=whole["K"], image_size=whole["size"],
                     subject=whole["subject"], sequence=whole["sequence"], view=whole["view"], skeleton="h36m17",
                     name=f"cmu:{directory}",
                     meta={"source": str(directory), "fps": fps, "rig": rig.name, "views": views,
                           "dropped": dropped, "frames": sum(len(s["joints"]) for s in seqs),
                           "sequences": [s["name"] for s in seqs]})
    return ds if get_skeleton(skeleton).name == "h36m17" else ds.to_skeleton(skeleton)
