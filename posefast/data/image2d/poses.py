"""A small self-contained source of plausible 3D poses and person-crop cameras for the 2D renderer.

Poses are h36m17 (``posefast.skeleton.H36M17``), metres, in a y-down frame like a camera's (x right, y down,
z forward). A root-relative pose from ``sample_poses`` stands upright facing -z (towards a camera at the origin);
``place_in_camera`` turns and moves it in front of the camera; ``crop_cameras`` picks pinhole intrinsics so the
person is centred and fills a chosen fraction of a square crop, which is exactly what cropping and resizing a
larger photo around a person box does to its intrinsics (a crop shifts the principal point, a resize scales it
and the focal length).

The sampler draws joint angles within simple anatomical limits on a body with randomised proportions; it is
deliberately small (no learned prior) and can be swapped for any other source of h36m17 poses.
"""
from __future__ import annotations

import numpy as np

__all__ = ["BONE_LENGTHS", "sample_poses", "place_in_camera", "crop_cameras"]

# Adult proportions in metres, close to Human3.6M subjects' averages.
BONE_LENGTHS = {
    "hip": 0.13, "thigh": 0.44, "shin": 0.43, "lower_spine": 0.23, "upper_spine": 0.25, "neck": 0.12,
    "head": 0.115, "shoulder": 0.15, "upper_arm": 0.28, "forearm": 0.25,
}

_DEG = np.pi / 180.0


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate [N, 3] vectors about unit [N, 3] axes by [N] angles (right-hand rule)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * (axis * v).sum(-1, keepdims=True) * (1 - c)


def _perp(v: np.ndarray, to: np.ndarray) -> np.ndarray:
    """Unit component of v orthogonal to the unit vector ``to`` (rows [N, 3])."""
    return _unit(v - (v * to).sum(-1, keepdims=True) * to)


def sample_poses(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` root-relative h36m17 poses, float64 [n, 17, 3] metres, upright, facing -z, y down.

    Angles (degrees): trunk lean -10..40 forward (15 %: 30..75), side lean +-15, upper-body twist +-35; hip
    flexion -25..45 (30 %: 45..110) and abduction -10..40; knee flexion 0..135 (skewed to straight); upper-arm
    elevation 0..100 (25 %: 100..165) from hanging, at an azimuth from behind to across the chest; elbow flexion
    0..145; head pitch/yaw.
    Body scale 0.88..1.12 with +-5 % per-bone jitter (left and right equal).
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    n = int(n)
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731

    scale = u(0.88, 1.12)
    length = {k: v * scale * u(0.95, 1.05) for k, v in BONE_LENGTHS.items()}

    up = np.tile([0.0, -1.0, 0.0], (n, 1))
    fwd = np.tile([0.0, 0.0, -1.0], (n, 1))
    right = np.cross(fwd, up)  # the subject's right: image left when facing the camera

    # Trunk: lean forward (mostly mild, sometimes a deep bend), lean sideways, twist the chest about its axis.
    lean = np.where(rng.random(n) < 0.15, u(30, 75), u(-10, 40)) * _DEG
    side = u(-15, 15) * _DEG
    twist = u(-35, 35) * _DEG
    chest_up = _rotate(_rotate(up, right, -lean), fwd, side)
    chest_fwd = _rotate(_perp(fwd, chest_up), chest_up, twist)
    chest_right = np.cross(chest_fwd, chest_up)

    j = np.zeros((n, 17, 3))
    j[:, 1] = right * length["hip"][:, None]
    j[:, 4] = -right * length["hip"][:, None]
    j[:, 7] = _unit(up + chest_up) * length["lower_spine"][:, None]
    j[:, 8] = j[:, 7] + chest_up * length["upper_spine"][:, None]

    # Head: neck point tipped slightly forward of the chest axis, head top further along a pitched/yawed axis.
    neck_dir = _rotate(chest_up, chest_right, -u(0, 25) * _DEG)
    j[:, 9] = j[:, 8] + neck_dir * length["neck"][:, None]
    head_dir = _rotate(_rotate(chest_up, chest_right, -u(-20, 30) * _DEG), chest_fwd, u(-20, 20) * _DEG)
    j[:, 10] = j[:, 9] + head_dir * length["head"][:, None]

    # Legs, each in the pelvis frame: flex the thigh forward, bend the knee backward, then abduct the whole leg.
    for hip, knee, ankle, side_sign in ((1, 2, 3, 1.0), (4, 5, 6, -1.0)):
        outward = right * side_sign
        flex = np.where(rng.random(n) < 0.3, u(45, 110), u(-25, 45)) * _DEG  # mostly standing or striding
        knee_flex = 135 * rng.random(n) ** 2 * _DEG
        thigh = -up * np.cos(flex)[:, None] + fwd * np.sin(flex)[:, None]
        thigh_fwd = fwd * np.cos(flex)[:, None] + up * np.sin(flex)[:, None]
        shin = thigh * np.cos(knee_flex)[:, None] - thigh_fwd * np.sin(knee_flex)[:, None]
        abduct = u(-10, 40) * _DEG * side_sign  # about +fwd, positive swings the right leg outward
        thigh, shin = _rotate(thigh, fwd, -abduct), _rotate(shin, fwd, -abduct)
        j[:, knee] = j[:, hip] + thigh * length["thigh"][:, None]
        j[:, ankle] = j[:, knee] + shin * length["shin"][:, None]

    # Arms in the chest frame: elevation from hanging down, towards an azimuth from behind (-40) through
    # sideways (0) to forward (90) and across the chest (120); the elbow bends towards a random side of the
    # upper arm biased to the front.
    for shoulder, elbow, wrist, side_sign in ((14, 15, 16, 1.0), (11, 12, 13, -1.0)):
        outward = chest_right * side_sign
        j[:, shoulder] = j[:, 8] + (outward * length["shoulder"][:, None] - chest_up * 0.03)
        elev = np.where(rng.random(n) < 0.25, u(100, 165), u(0, 100)) * _DEG
        azim = u(-40, 120) * _DEG
        horiz = outward * np.cos(azim)[:, None] + chest_fwd * np.sin(azim)[:, None]
        upper = -chest_up * np.cos(elev)[:, None] + horiz * np.sin(elev)[:, None]
        bend_hint = chest_fwd + chest_up * u(-0.5, 1.0)[:, None] + outward * u(-0.7, 0.7)[:, None]
        bend = _perp(bend_hint, upper)
        elbow_flex = u(0, 145) * _DEG
        fore = upper * np.cos(elbow_flex)[:, None] + bend * np.sin(elbow_flex)[:, None]
        j[:, elbow] = j[:, shoulder] + upper * length["upper_arm"][:, None]
        j[:, wrist] = j[:, elbow] + fore * length["forearm"][:, None]
    return j


def _yaw_pitch_roll(yaw: np.ndarray, pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """[N, 3, 3]: turn about the vertical (y) axis, then tilt about x (camera looking down), then roll about z."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    z, o = np.zeros_like(yaw), np.ones_like(yaw)
    ry = np.stack([cy, z, sy, z, o, z, -sy, z, cy], -1).reshape(-1, 3, 3)
    rx = np.stack([o, z, z, z, cp, -sp, z, sp, cp], -1).reshape(-1, 3, 3)
    rz = np.stack([cr, -sr, z, sr, cr, z, z, z, o], -1).reshape(-1, 3, 3)
    return rz @ rx @ ry


def place_in_camera(poses: np.ndarray, rng: np.random.Generator, distance=(2.5, 4.0), yaw: bool = True,
                    pitch_deg=(-10.0, 20.0), roll_deg=(-8.0, 8.0), offset: float = 0.3) -> np.ndarray:
    """Root-relative y-down poses [N, 17, 3] -> camera-frame poses [N, 17, 3] (metres, camera at the origin).

    Turns each body by a random yaw about the vertical (if ``yaw``), tilts it by a camera pitch (positive: the
    camera looks down on the person) and roll, then puts its root ``distance`` metres in front of the camera,
    shifted by up to ``offset`` m sideways/vertically (the crop recentres it; the shift varies the perspective).
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (17, 3):
        raise ValueError(f"poses: expected [N, 17, 3] h36m17 root-relative poses, got shape {poses.shape}")
    if not np.isfinite(poses).all():
        raise ValueError("poses: contains NaN or inf")
    lo, hi = distance
    if not 0 < lo <= hi:
        raise ValueError(f"distance: expected 0 < low <= high, got {distance}")
    n = poses.shape[0]
    yaw_a = rng.uniform(-np.pi, np.pi, n) if yaw else np.zeros(n)
    rot = _yaw_pitch_roll(yaw_a, rng.uniform(*pitch_deg, n) * _DEG, rng.uniform(*roll_deg, n) * _DEG)
    root = np.stack([rng.uniform(-offset, offset, n), rng.uniform(-offset, offset, n), rng.uniform(lo, hi, n)], -1)
    centred = poses - poses[:, :1]
    return np.einsum("nij,nkj->nki", rot, centred) + root[:, None]


def crop_cameras(poses_cam: np.ndarray, size: int, rng: np.random.Generator, fill=(0.7, 0.9),
                 jitter: float = 0.04, margin_m: float = 0.12) -> np.ndarray:
    """Pinhole intrinsics [N, 4] = (fx, fy, cx, cy) of a ``size`` x ``size`` person crop.

    The person box is the joints' projected box widened by ``margin_m`` metres (head radius, limb thickness) at
    each joint's depth; its longer side spans ``fill`` (uniform in the range) of the crop, and its centre sits at
    the crop centre shifted by up to ``jitter`` x size pixels, like a detector's box. Square pixels (fx = fy).
    """
    poses_cam = np.asarray(poses_cam, dtype=np.float64)
    if poses_cam.ndim != 3 or poses_cam.shape[2] != 3:
        raise ValueError(f"poses_cam: expected [N, J, 3], got shape {poses_cam.shape}")
    z = poses_cam[..., 2]
    if not (np.isfinite(poses_cam).all() and (z > 0.1).all()):
        raise ValueError("poses_cam: every joint must be finite and at least 0.1 m in front of the camera")
    if not (isinstance(size, (int, np.integer)) and size > 0):
        raise ValueError(f"size: expected a positive int, got {size!r}")
    n = poses_cam.shape[0]
    xy = poses_cam[..., :2] / z[..., None]
    pad = (margin_m / z)[..., None]
    lo, hi = (xy - pad).min(1), (xy + pad).max(1)
    side = (hi - lo).max(-1)
    f = rng.uniform(*fill, n) * size / side
    centre = (lo + hi) / 2
    c = size / 2 - f[:, None] * centre + rng.uniform(-jitter, jitter, (n, 2)) * size
    return np.stack([f, f, c[:, 0], c[:, 1]], -1)
