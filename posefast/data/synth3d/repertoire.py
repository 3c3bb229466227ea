"""Pose classes: vectorised samplers of joint-angle DOFs (see ``body.DOF_NAMES``) for everyday and athletic poses.

Each sampler draws n poses of one activity family as a dict of DOF arrays (degrees). Leg angles are chosen
relative to the world vertical and converted to hip angles through the pelvis pitch, so a bending or leaning body
still stands on its feet. The mixture of classes (and extra angle noise) is what a synthetic preset calls its
*repertoire* - the "local pose diversity" gap of PoseDA (Chai et al., ICCV 2023) between lab and in-the-wild data.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from posefast.data.synth3d.body import DOF_NAMES, limb_elev_plane

__all__ = ["POSE_CLASSES", "sample_class"]

Sampler = Callable[[np.random.Generator, int], dict]


def _neutral(n: int) -> dict:
    return {k: np.zeros(n) for k in DOF_NAMES}


def _leg(d: dict, side: str, flex_world, abd, twist=0.0):
    """Thigh flexion measured from the world vertical (forward positive) -> hip DOFs via the pelvis pitch."""
    elev, plane = limb_elev_plane(np.asarray(flex_world) + d["pitch"], abd)
    d[f"{side}_hip_elev"], d[f"{side}_hip_plane"] = elev, plane
    d[f"{side}_hip_twist"] = np.broadcast_to(twist, elev.shape).astype(np.float64)


def _arm(d: dict, side: str, flex, abd, twist, elbow):
    elev, plane = limb_elev_plane(flex, abd)
    d[f"{side}_sh_elev"], d[f"{side}_sh_plane"] = elev, plane
    d[f"{side}_sh_twist"] = np.broadcast_to(twist, elev.shape).astype(np.float64)
    d[f"{side}_elbow"] = np.broadcast_to(elbow, elev.shape).astype(np.float64)
    # the shoulder girdle rises with an arm raised past horizontal (scapulohumeral rhythm)
    d[f"{side}_clav_elev"] = d[f"{side}_clav_elev"] + 0.15 * np.maximum(elev - 90.0, 0.0)


def _head_and_spine(d: dict, rng, n, flex=(5, 6), lat=4, twist=8, neck=(5, 10, 6, 25)):
    d["spine_flex"] = rng.normal(flex[0], flex[1], n)
    d["spine_lat"] = rng.normal(0, lat, n)
    d["spine_twist"] = rng.normal(0, twist, n)
    d["neck_flex"] = rng.normal(neck[0], neck[1], n)
    d["neck_lat"] = rng.normal(0, neck[2], n)
    d["neck_twist"] = rng.normal(0, neck[3], n)
    for s in "lr":
        d[f"{s}_clav_elev"] = rng.normal(0, 3, n)
        d[f"{s}_clav_prot"] = rng.normal(0, 4, n)


def _relaxed_arms(d, rng, n):
    for s in "lr":
        _arm(d, s, rng.normal(5, 8, n), rng.uniform(6, 20, n), rng.normal(0, 15, n), rng.uniform(0, 35, n))


def stand(rng, n):
    """Idle standing with weight shifts and relaxed arms."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(0, 3, n), rng.normal(0, 3, n)
    _head_and_spine(d, rng, n)
    _relaxed_arms(d, rng, n)
    for s in "lr":
        _leg(d, s, rng.normal(0, 4, n), rng.uniform(0, 8, n), rng.normal(0, 8, n))
        d[f"{s}_knee"] = rng.uniform(0, 15, n)
    return d


def walk(rng, n):
    """A gait cycle: anti-phase hips, knee flexion in swing, counter-swinging arms."""
    d = _neutral(n)
    phase = rng.uniform(0, 2 * np.pi, n)
    amp = rng.uniform(12, 28, n)
    d["pitch"], d["roll"] = rng.normal(4, 3, n), rng.normal(0, 2, n)
    _head_and_spine(d, rng, n, twist=5)
    d["spine_twist"] += 6 * np.sin(phase)
    knee_amp = rng.uniform(30, 60, n)
    for s, sign in (("l", 1.0), ("r", -1.0)):
        ph = phase if sign > 0 else phase + np.pi
        _leg(d, s, amp * np.sin(ph) + 3, rng.uniform(0, 6, n), rng.normal(0, 6, n))
        d[f"{s}_knee"] = 5 + knee_amp * np.clip(np.sin(ph + 0.6), 0, None) ** 2
        _arm(d, s, -0.8 * amp * np.sin(ph), rng.uniform(6, 16, n), rng.normal(0, 10, n), rng.uniform(10, 45, n))
    return d


def gesture(rng, n):
    """Standing while talking, phoning, eating, pointing, greeting: one or both arms active."""
    d = stand(rng, n)
    d["neck_twist"] = rng.normal(0, 30, n)
    active = rng.random((2, n)) < np.array([[0.7], [0.6]])
    for k, s in enumerate("lr"):
        a = active[k]
        flex = np.where(a, rng.uniform(-15, 100, n), rng.normal(5, 8, n))
        abd = np.where(a, rng.uniform(0, 60, n), rng.uniform(6, 20, n))
        elbow = np.where(a, rng.uniform(10, 145, n), rng.uniform(0, 35, n))
        _arm(d, s, flex, abd, rng.normal(0, 30, n), elbow)
    return d


def sit_chair(rng, n):
    """Sitting on a chair: thighs near horizontal, shins near vertical, hands on lap or table."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(0, 8, n), rng.normal(0, 3, n)
    _head_and_spine(d, rng, n, flex=(10, 10))
    for s in "lr":
        thigh = rng.uniform(70, 100, n)
        _leg(d, s, thigh, rng.uniform(0, 20, n), rng.normal(0, 10, n))
        d[f"{s}_knee"] = thigh + rng.uniform(-25, 30, n)
        _arm(d, s, rng.uniform(0, 70, n), rng.uniform(5, 30, n), rng.normal(0, 20, n), rng.uniform(20, 120, n))
    return d


def sit_floor(rng, n):
    """Sitting on the floor, legs out or knees up, hands on the floor or on the knees."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(-5, 10, n), rng.normal(0, 5, n)
    _head_and_spine(d, rng, n, flex=(15, 12))
    for s in "lr":
        _leg(d, s, rng.uniform(60, 95, n), rng.uniform(5, 40, n), rng.normal(0, 15, n))
        d[f"{s}_knee"] = rng.uniform(0, 140, n)
        _arm(d, s, rng.uniform(-40, 60, n), rng.uniform(10, 40, n), rng.normal(0, 20, n), rng.uniform(0, 70, n))
    return d


def crouch(rng, n):
    """Squatting and crouching: deep knee flexion, trunk leaning forward, arms forward for balance."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.uniform(10, 50, n), rng.normal(0, 4, n)
    _head_and_spine(d, rng, n, flex=(15, 12), neck=(-10, 12, 6, 25))
    depth = rng.uniform(0.3, 1.0, n)
    for s in "lr":
        thigh = depth * rng.uniform(70, 115, n)
        _leg(d, s, thigh, rng.uniform(5, 35, n), rng.normal(0, 10, n))
        d[f"{s}_knee"] = np.clip(thigh + depth * rng.uniform(20, 45, n), 0, 155)
        _arm(d, s, rng.uniform(0, 100, n), rng.uniform(5, 40, n), rng.normal(0, 20, n), rng.uniform(0, 120, n))
    return d


def reach(rng, n):
    """Reaching up, forward or sideways with one or both arms, possibly leaning into it."""
    d = stand(rng, n)
    d["roll"] = rng.normal(0, 8, n)
    d["spine_flex"] = rng.normal(0, 15, n)
    d["spine_lat"] = rng.normal(0, 12, n)
    d["neck_flex"] = rng.normal(-10, 15, n)
    both = rng.random(n) < 0.5
    lead_left = rng.random(n) < 0.5
    for s in "lr":
        active = both | (lead_left == (s == "l"))
        flex = np.where(active, rng.uniform(40, 180, n), rng.normal(5, 10, n))
        abd = np.where(active, rng.uniform(0, 100, n), rng.uniform(6, 25, n))
        _arm(d, s, flex, abd, rng.normal(0, 30, n), np.where(active, rng.uniform(0, 45, n), rng.uniform(0, 40, n)))
    return d


def bend(rng, n):
    """Bending forward to pick something up: trunk pitched over near-vertical legs, arms hanging."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.uniform(25, 90, n), rng.normal(0, 4, n)
    _head_and_spine(d, rng, n, flex=(20, 12), neck=(-15, 15, 6, 20))
    for s in "lr":
        _leg(d, s, rng.normal(0, 6, n), rng.uniform(0, 15, n), rng.normal(0, 8, n))
        d[f"{s}_knee"] = rng.uniform(0, 40, n)
        _arm(d, s, d["pitch"] + d["spine_flex"] + rng.normal(0, 20, n), rng.uniform(5, 25, n),
             rng.normal(0, 20, n), rng.uniform(0, 50, n))
    return d


def kneel(rng, n):
    """Kneeling on both knees, or on one knee with the other foot planted."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(5, 10, n), rng.normal(0, 4, n)
    _head_and_spine(d, rng, n)
    one = rng.random(n) < 0.5
    front_left = rng.random(n) < 0.5
    for s in "lr":
        planted = one & (front_left == (s == "l"))
        thigh = np.where(planted, rng.uniform(70, 100, n), rng.uniform(-10, 20, n))
        _leg(d, s, thigh, rng.uniform(3, 20, n), rng.normal(0, 8, n))
        d[f"{s}_knee"] = np.where(planted, thigh + rng.uniform(-10, 15, n), rng.uniform(80, 120, n))
        _arm(d, s, rng.uniform(-10, 90, n), rng.uniform(5, 40, n), rng.normal(0, 25, n), rng.uniform(0, 120, n))
    return d


def lunge(rng, n):
    """Lunges and big steps: one thigh forward and bent, the other behind."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(5, 8, n), rng.normal(0, 4, n)
    _head_and_spine(d, rng, n)
    front_left = rng.random(n) < 0.5
    for s in "lr":
        front = front_left == (s == "l")
        thigh = np.where(front, rng.uniform(30, 80, n), rng.uniform(-35, -10, n))
        _leg(d, s, thigh, rng.uniform(0, 20, n), rng.normal(0, 8, n))
        d[f"{s}_knee"] = np.where(front, rng.uniform(30, 100, n), rng.uniform(0, 60, n))
        _arm(d, s, rng.uniform(-30, 120, n), rng.uniform(5, 60, n), rng.normal(0, 25, n), rng.uniform(0, 110, n))
    return d


def jump(rng, n):
    """Jumping and jumping jacks: arms overhead or out, legs apart or tucked (lifted off the floor)."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(5, 6, n), rng.normal(0, 3, n)
    _head_and_spine(d, rng, n, flex=(0, 8))
    for s in "lr":
        thigh = rng.uniform(-10, 60, n)
        _leg(d, s, thigh, rng.uniform(0, 35, n), rng.normal(0, 8, n))
        d[f"{s}_knee"] = rng.uniform(0, 90, n)
        _arm(d, s, rng.uniform(-20, 40, n), rng.uniform(30, 175, n), rng.normal(0, 20, n), rng.uniform(0, 40, n))
    return d


def exercise(rng, n):
    """Stretching and exercise: free arm and trunk movements, one leg raised forward or sideways."""
    d = _neutral(n)
    d["pitch"], d["roll"] = rng.normal(10, 15, n), rng.normal(0, 10, n)
    _head_and_spine(d, rng, n, flex=(15, 20), lat=15, twist=20, neck=(0, 20, 12, 30))
    raised_left = rng.random(n) < 0.5
    raise_leg = rng.random(n) < 0.5
    for s in "lr":
        raised = raise_leg & (raised_left == (s == "l"))
        _leg(d, s, np.where(raised, rng.uniform(20, 90, n), rng.normal(0, 6, n)),
             np.where(raised, rng.uniform(0, 50, n), rng.uniform(0, 25, n)), rng.normal(0, 10, n))
        d[f"{s}_knee"] = np.where(raised, rng.uniform(0, 120, n), rng.uniform(0, 20, n))
        _arm(d, s, rng.uniform(-40, 180, n), rng.uniform(0, 160, n), rng.normal(0, 35, n), rng.uniform(0, 150, n))
    return d


POSE_CLASSES: dict[str, Sampler] = {
    "stand": stand, "walk": walk, "gesture": gesture, "sit_chair": sit_chair, "sit_floor": sit_floor,
    "crouch": crouch, "reach": reach, "bend": bend, "kneel": kneel, "lunge": lunge, "jump": jump,
    "exercise": exercise,
}
# lift off the floor (metres) for airborne classes; everything else keeps ground contact
AIRBORNE = {"jump": (0.05, 0.35)}


def sample_class(name: str, rng: np.random.Generator, n: int) -> dict:
    """n poses of class ``name`` as a complete DOF dict (degrees, not yet clipped)."""
    if name not in POSE_CLASSES:
        raise ValueError(f"name: unknown pose class {name!r}; expected one of {sorted(POSE_CLASSES)}")
    d = POSE_CLASSES[name](rng, n)
    missing = set(DOF_NAMES) - set(d)
    if missing:  # a sampler bug, not user input
        raise RuntimeError(f"pose class {name!r} left DOFs unset: {sorted(missing)}")
    return d
