"""Virtual camera rigs that film world-frame poses (Y up, floor at y = 0, metres).

A rig turns world poses into the camera-frame 3D + pixel 2D + intrinsics of a pose archive. Its choices are the
"global position" factors of PoseDA (Chai et al., ICCV 2023): camera height, distance and pitch, focal length,
image size and where the subject sits in the frame.

- :class:`FixedRig`: a few calibrated cameras around a capture area, aimed at one point (a lab).
  ``h36m``: Human3.6M's four cameras - positions from the package calibration (subject S1, converted from the
  dataset's Z-up world), about 1.5-1.6 m high and 4.3-5.6 m from the centre, aimed at a point 0.42 m above the
  centre (about 11-16 degrees down, as the calibration has it), pinhole intrinsics f ~ 1145 px, 1000 x 1000
  (1000 x 1002 for two cameras). Subjects move within 1.2 m of the centre.
- :class:`RandomRig`: a new camera per sample, placed relative to the subject and aimed off the subject.
  ``3dhp``: MPI-INF-3DHP-like - 75 % studio (2048 x 2048, f = 1500.17 px) and 25 % outdoor (1920 x 1080,
  f = 1683.98 px) test cameras; camera height low 0.2-0.8 m / mid 0.8-1.8 m / high 1.8-3.0 m (30/40/30 %),
  2.8-5.5 m (studio) or 3.5-7 m (outdoor) away; aim point up to 0.9 m sideways and 0.7 m up/down off the pelvis,
  so subjects land off-centre; roll ~ N(0, 3 deg).
  ``3dpw``: handheld phone - 1080 x 1920 portrait, f = 1962 px, held 1.2-1.7 m high, 2-6 m away, roughly
  centred (0.25 m aim jitter), roll ~ N(0, 6 deg).
- :class:`FactorRig`: one rig's distance, framing and intrinsics with another rig's viewpoint (elevation above
  the pelvis, roll): ``3dhp-position`` (3DHP framing, Human3.6M viewpoint), ``3dhp-view`` (the reverse).
Samples whose joints fall outside the image (1 % margin) or closer than 0.3 m to the camera are reported by
:func:`render` so callers can re-draw them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posefast.geometry import in_image, look_at_rotation, project
from posefast.data.pose3d.h36m import h36m_cameras

__all__ = ["Intrinsics", "CameraSample", "FixedRig", "RandomRig", "FactorRig", "RIGS", "get_rig", "render",
           "camera_elevation"]


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels and the image size."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @property
    def vector(self) -> np.ndarray:
        return np.array([self.fx, self.fy, self.cx, self.cy])

    @property
    def size(self) -> np.ndarray:
        return np.array([self.width, self.height])


@dataclass(frozen=True)
class CameraSample:
    """n cameras: eye [n, 3] (world), rotation [n, 3, 3] (world -> camera), intrinsics [n, 4], image_size [n, 2],
    view [n] (camera index of a fixed rig, intrinsics index of a random rig)."""

    eye: np.ndarray
    rotation: np.ndarray
    intrinsics: np.ndarray
    image_size: np.ndarray
    view: np.ndarray


def _stack(intrs, idx):
    return (np.stack([intrs[i].vector for i in range(len(intrs))])[idx],
            np.stack([intrs[i].size for i in range(len(intrs))])[idx])


@dataclass(frozen=True)
class FixedRig:
    """Cameras fixed relative to a capture-area centre (see module docstring)."""

    name: str
    positions: tuple  # per camera (x, y, z) relative to the centre, metres
    target: tuple     # aim point relative to the centre
    intrinsics: tuple  # per camera Intrinsics
    area_radius: float
    jitter: float = 0.05  # per-sample camera position jitter (m): the calibration differs slightly per session

    @property
    def num_views(self) -> int:
        return len(self.positions)

    def sample(self, rng: np.random.Generator, root_world: np.ndarray, centre=None, view=None,
               jitter: "float | None" = None, elevation=None, roll=None) -> CameraSample:
        """Cameras for n samples. ``centre`` [n, 3] or None (origin); ``view`` [n] camera indices or None (random);
        ``jitter`` overrides the rig's per-sample position jitter (0 keeps the cameras still through a sequence).
        ``elevation`` [n] (radians): raise or lower each camera (same horizontal place, same aim point) so the
        pelvis sees it at that angle above the horizontal; ``roll`` [n] radians about the optical axis."""
        n = root_world.shape[0]
        centre = np.zeros((n, 3)) if centre is None else np.broadcast_to(np.asarray(centre, np.float64), (n, 3))
        if view is None:
            view = rng.integers(0, self.num_views, n)
        view = np.asarray(view)
        if view.shape != (n,) or view.min() < 0 or view.max() >= self.num_views:
            raise ValueError(f"view: expected [{n}] indices in 0..{self.num_views - 1}")
        sigma = self.jitter if jitter is None else jitter
        eye = centre + np.asarray(self.positions)[view] + (rng.normal(0, sigma, (n, 3)) if sigma > 0 else 0.0)
        if elevation is not None:
            eye = _at_elevation(eye, root_world, elevation)
        target = centre + np.asarray(self.target)
        K, size = _stack(self.intrinsics, view)
        R = look_at_rotation(eye, target) if roll is None else look_at_rotation(eye, target, roll=roll)
        return CameraSample(eye, R.numpy(), K, size, view.astype(np.int64))

    def viewpoint(self, rng: np.random.Generator, root_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(elevation [n], roll [n]) in radians as this rig films poses whose pelvis is at ``root_world`` [n, 3]
        (only its height is used): the subject is placed in the capture area as :func:`generate_synthetic` places
        it, a camera drawn as :meth:`sample` draws it, and the angle of that camera above the pelvis measured.
        A fixed rig has no roll."""
        n = root_world.shape[0]
        r = self.area_radius * np.sqrt(rng.uniform(0, 1, n))
        a = rng.uniform(0, 2 * np.pi, n)
        root = np.stack([r * np.cos(a), root_world[:, 1], r * np.sin(a)], -1)
        eye = self.sample(rng, root).eye
        return _elevation(eye, root), np.zeros(n)


@dataclass(frozen=True)
class RandomRig:
    """A fresh camera per sample around the subject (see module docstring)."""

    name: str
    intrinsics: tuple            # Intrinsics choices
    intrinsics_weights: tuple    # their probabilities
    distances: tuple             # per intrinsics (lo, hi) horizontal distance to the pelvis, metres
    height_bands: tuple          # ((lo, hi, weight), ...) camera height above the floor, metres
    aim_offset: tuple            # (sideways, vertical) maximal aim offset from the pelvis, metres
    roll_std_deg: float
    area_radius: float = 2.0

    @property
    def num_views(self) -> int:
        return len(self.intrinsics)

    def _kind_height_distance(self, rng, n: int, view=None):
        p = np.asarray(self.intrinsics_weights, np.float64)
        kind = rng.choice(len(self.intrinsics), size=n, p=p / p.sum()) if view is None else np.asarray(view)
        bands = np.asarray(self.height_bands, np.float64)
        band = rng.choice(len(bands), size=n, p=bands[:, 2] / bands[:, 2].sum())
        height = rng.uniform(bands[band, 0], bands[band, 1])
        dist_lo, dist_hi = np.asarray(self.distances, np.float64)[kind].T
        return kind, height, rng.uniform(dist_lo, dist_hi)

    def sample(self, rng: np.random.Generator, root_world: np.ndarray, centre=None, view=None, elevation=None,
               roll=None) -> CameraSample:
        """Cameras for n subjects whose pelvis is at ``root_world`` [n, 3]. ``elevation`` [n] (radians): put each
        camera at the height where the pelvis sees it at that angle above the horizontal, instead of drawing a
        height band; ``roll`` [n] radians replaces the drawn roll."""
        n = root_world.shape[0]
        kind, height, dist = self._kind_height_distance(rng, n, view)
        if elevation is not None:
            height = root_world[:, 1] + dist * np.tan(elevation)
        azimuth = rng.uniform(0, 2 * np.pi, n)
        ground_dir = np.stack([np.sin(azimuth), np.zeros(n), np.cos(azimuth)], -1)
        eye = root_world * [1, 0, 1] + ground_dir * dist[:, None] + np.stack([0 * height, height, 0 * height], -1)
        side = np.cross(ground_dir, [0.0, 1.0, 0.0])
        target = root_world + side * rng.uniform(-1, 1, (n, 1)) * self.aim_offset[0] \
            + np.array([0.0, 1.0, 0.0]) * rng.uniform(-1, 1, (n, 1)) * self.aim_offset[1]
        drawn_roll = np.radians(rng.normal(0, self.roll_std_deg, n))
        roll = drawn_roll if roll is None else roll
        K, size = _stack(self.intrinsics, kind)
        return CameraSample(eye, look_at_rotation(eye, target, roll=roll).numpy(), K, size, kind.astype(np.int64))

    def viewpoint(self, rng: np.random.Generator, root_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(elevation [n], roll [n]) in radians as this rig films poses whose pelvis is at ``root_world`` [n, 3]:
        a camera height band, height, distance (by intrinsics choice) and roll drawn as :meth:`sample` draws them,
        the elevation that of the camera above the pelvis."""
        n = root_world.shape[0]
        _, height, dist = self._kind_height_distance(rng, n)
        return np.arctan2(height - root_world[:, 1], dist), np.radians(rng.normal(0, self.roll_std_deg, n))


def _elevation(eye: np.ndarray, root: np.ndarray) -> np.ndarray:
    """[n] angle (radians) of the cameras ``eye`` [n, 3] above the horizontal plane through the pelvis ``root``."""
    d = eye - root
    return np.arctan2(d[:, 1], np.hypot(d[:, 0], d[:, 2]))


def _at_elevation(eye: np.ndarray, root: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """``eye`` [n, 3] moved vertically so the pelvis ``root`` sees it at ``elevation`` [n] radians."""
    d = eye - root
    out = eye.copy()
    out[:, 1] = root[:, 1] + np.hypot(d[:, 0], d[:, 2]) * np.tan(elevation)
    return out


@dataclass(frozen=True)
class FactorRig:
    """One rig's cameras with another rig's viewpoint: ``frame`` gives the distance to the subject, the framing
    (aim point), the intrinsics, image size and capture area; ``view`` gives the elevation of the camera above the
    subject's pelvis and the roll, drawn per sample exactly as ``view`` would film that pose
    (:meth:`FixedRig.viewpoint` / :meth:`RandomRig.viewpoint`), and the camera is moved vertically to that
    elevation (:meth:`FixedRig.sample` / :meth:`RandomRig.sample` ``elevation``). The azimuth of the camera around
    the subject needs no transfer: the subject's heading is uniform in every preset, so it is uniform in both.
    A low elevation at a long distance can put the camera below the floor plane: only the joints are filmed,
    so nothing occludes it, and the viewpoint distribution stays the one ``view`` produces."""

    name: str
    frame: "FixedRig | RandomRig"
    view: "FixedRig | RandomRig"

    @property
    def area_radius(self) -> float:
        return self.frame.area_radius

    @property
    def num_views(self) -> int:
        return self.frame.num_views

    def sample(self, rng: np.random.Generator, root_world: np.ndarray) -> CameraSample:
        elevation, roll = self.view.viewpoint(rng, root_world)
        return self.frame.sample(rng, root_world, elevation=elevation, roll=roll)


def render(joints_world: np.ndarray, cams: CameraSample, margin: float = 0.01, min_depth: float = 0.3):
    """World joints [n, J, 3] -> (camera-frame joints [n, J, 3], pixels [n, J, 2], ok [n] bool).

    ``ok`` is False where a joint is nearer than ``min_depth`` or outside the image shrunk by ``margin``;
    those samples' pixels are still finite (depth clamped) so callers can drop or re-draw them.
    """
    X = np.einsum("nij,nkj->nki", cams.rotation, joints_world - cams.eye[:, None, :])
    front = (X[..., 2] > min_depth).all(-1)
    uv = project(X, cams.intrinsics, min_depth=min_depth, behind_camera="clamp").numpy()
    ok = front & in_image(uv, cams.image_size[:, 0], cams.image_size[:, 1], margin).numpy()
    return X, uv, ok


def _h36m_rig() -> FixedRig:
    cams = h36m_cameras(1)
    zup_to_yup = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    positions = tuple(tuple(zup_to_yup @ c["translation"]) for c in cams)
    intr = tuple(Intrinsics(*c["intrinsics"][:4], *(int(v) for v in c["image_size"])) for c in cams)
    return FixedRig("h36m", positions=positions, target=(0.0, 0.42, 0.0), intrinsics=intr, area_radius=1.2)


_STUDIO = Intrinsics(1500.172288, 1500.172288, 1017.38733568, 1043.03198208, 2048, 2048)
_OUTDOOR = Intrinsics(1683.98345952, 1683.98345952, 939.85754016, 560.14074317, 1920, 1080)
_PHONE = Intrinsics(1962.0, 1962.0, 540.0, 960.0, 1080, 1920)

_H36M_RIG = _h36m_rig()
_3DHP_RIG = RandomRig("3dhp", intrinsics=(_STUDIO, _OUTDOOR), intrinsics_weights=(0.75, 0.25),
                      distances=((2.8, 5.5), (3.5, 7.0)), height_bands=((0.2, 0.8, 0.3), (0.8, 1.8, 0.4),
                                                                       (1.8, 3.0, 0.3)),
                      aim_offset=(0.9, 0.7), roll_std_deg=3.0)

RIGS = {
    "h36m": _H36M_RIG,
    "3dhp": _3DHP_RIG,
    # the single-factor rigs of the h36m -> 3dhp benchmark pairs (``synthetic.FACTOR_PRESETS``)
    "3dhp-position": FactorRig("3dhp-position", frame=_3DHP_RIG, view=_H36M_RIG),
    "3dhp-view": FactorRig("3dhp-view", frame=_H36M_RIG, view=_3DHP_RIG),
    "3dpw": RandomRig("3dpw", intrinsics=(_PHONE,), intrinsics_weights=(1.0,), distances=((2.0, 6.0),),
                      height_bands=((1.2, 1.7, 1.0),), aim_offset=(0.25, 0.25), roll_std_deg=6.0),
}


def camera_elevation(eye: np.ndarray, root: np.ndarray) -> np.ndarray:
    """[n] degrees: the elevation of cameras ``eye`` [n, 3] above the horizontal through the pelvis ``root``
    [n, 3] (world frame) - the viewpoint statistic the factor rigs transfer."""
    return np.degrees(_elevation(np.asarray(eye, np.float64), np.asarray(root, np.float64)))


def get_rig(rig: "str | FixedRig | RandomRig | FactorRig") -> "FixedRig | RandomRig | FactorRig":
    """Resolve a rig by name (``h36m``, ``3dhp``, ``3dpw``, ``3dhp-position``, ``3dhp-view``) or pass one through."""
    if isinstance(rig, (FixedRig, RandomRig, FactorRig)):
        return rig
    if rig not in RIGS:
        raise ValueError(f"rig: unknown camera rig {rig!r}; expected one of {sorted(RIGS)}")
    return RIGS[rig]
