"""Vectorised rasteriser of a human figure from an h36m17 3D pose and a pinhole camera.

The body is a set of 3D primitives hung on the joints: capsules (a segment plus a radius in metres) for the
head, neck, spine, shoulder and hip bars, limbs and feet, and two triangles spanning the shoulders and hips
(the torso's front). Each capsule is drawn as its perspective projection: a 2D capsule whose radius is r / z at
each end, with the surface depth z(t) - r * sqrt(1 - (d / R)^2) across it (a round tube; t is the closest point
of the projected axis, d the distance to it), or the nearer end cap's sphere depth where that is in front (a
limb pointing at the camera shows its end cap). A per-pixel z-buffer resolves self-occlusion and the same round
profile gives a surface normal for shading. Everything is evaluated with torch, one primitive at a time on a
window around its footprint, over a chunk of images at once (no per-image Python).

Pixel convention: pixel (row i, col j) covers [j, j + 1) x [i, i + 1); keypoint (u, v) = (fx X / Z + cx,
fy Y / Z + cy) is in that continuous frame.

Keypoint visibility rule (``PartRaster.visible``): joint k is visible iff
  (1) its projection lies inside the image (0 <= u < W and 0 <= v < H), and
  (2) at the pixel containing it, either the front-most primitive is one of the joint's own primitives (e.g. the
      elbow's upper arm or forearm; bars joining left and right sides are *not* own primitives of a shoulder or
      hip), or the front surface there is no more than ``tau_k`` in front of the joint, where tau_k is the
      largest radius of its own primitives plus 3 cm (the joint sits inside its limb, so its own surface is
      about one radius closer).
So a far shoulder hidden behind the chest, a wrist behind the torso, or a knee behind the other leg is flagged
0; the joint of a limb pointing at the camera stays visible.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["REGION_NAMES", "NUM_REGIONS", "PartRaster", "rasterize", "flat_albedo", "shading", "compose",
           "render_figures", "DEFAULT_PALETTE", "REGION_GROUP"]

REGION_NAMES: tuple[str, ...] = (
    "face", "hair", "neck", "torso", "hips", "right_upper_arm", "left_upper_arm", "right_forearm", "left_forearm",
    "right_thigh", "left_thigh", "right_shin", "left_shin", "right_foot", "left_foot",
)
NUM_REGIONS = len(REGION_NAMES)
_R = {name: i for i, name in enumerate(REGION_NAMES)}

# Extra points appended to the 17 joints: 17 head centre, 18 right toe, 19 left toe.
_HEAD_C, _RTOE, _LTOE = 17, 18, 19

# Capsules: (point a, point b, radius in metres, region).
_CAPSULES = (
    (_HEAD_C, _HEAD_C, 0.100, _R["face"]),
    (8, 9, 0.050, _R["neck"]),
    (0, 7, 0.120, _R["torso"]),
    (7, 8, 0.120, _R["torso"]),
    (11, 14, 0.060, _R["torso"]),
    (1, 4, 0.090, _R["hips"]),
    (14, 15, 0.050, _R["right_upper_arm"]),
    (11, 12, 0.050, _R["left_upper_arm"]),
    (15, 16, 0.040, _R["right_forearm"]),
    (12, 13, 0.040, _R["left_forearm"]),
    (1, 2, 0.075, _R["right_thigh"]),
    (4, 5, 0.075, _R["left_thigh"]),
    (2, 3, 0.055, _R["right_shin"]),
    (5, 6, 0.055, _R["left_shin"]),
    (3, _RTOE, 0.040, _R["right_foot"]),
    (6, _LTOE, 0.040, _R["left_foot"]),
)
# Torso front: LShoulder-RShoulder-RHip and LShoulder-RHip-LHip.
_TRIANGLES = ((11, 14, 1), (11, 1, 4))
_NUM_PRIMS = len(_CAPSULES) + len(_TRIANGLES)

# Each joint's own primitives (capsule indices) for the visibility rule; see the module docstring.
_OWN = {
    0: (2, 5), 1: (10,), 2: (10, 12), 3: (12, 14), 4: (11,), 5: (11, 13), 6: (13, 15), 7: (2, 3), 8: (1, 3, 4),
    9: (0, 1), 10: (0,), 11: (7,), 12: (7, 9), 13: (9,), 14: (6,), 15: (6, 8), 16: (8,),
}
_SLACK_M = 0.03
# Own primitives end at the joint, except those holding it inside: the head sphere (neck point and head top),
# the hip bar (pelvis at its middle) and the shoulder bar (thorax).
_HOLDS = {(9, 0), (10, 0), (0, 5), (8, 4)}
for _j, _prims in _OWN.items():
    assert all(_j in _CAPSULES[c][:2] or (_j, c) in _HOLDS for c in _prims), _j
_OWN_MASK = np.zeros((17, _NUM_PRIMS), dtype=bool)
for _j, _prims in _OWN.items():
    _OWN_MASK[_j, list(_prims)] = True
_TAU = np.array([max(_CAPSULES[c][2] for c in _OWN[j]) + _SLACK_M for j in range(17)], dtype=np.float32)

_FOOT_M = 0.13
# Depth of "nothing here" inside the z-buffer (metres): added to a primitive's depth outside its footprint,
# so the test stays a plain comparison; turned into inf on output.
_FAR = 1e6
# Pixels per chunk: images per chunk = 2^20 / (H W): 256 at 64 px; measured fastest on one core.
_CHUNK_PIXELS = 1 << 20


@dataclass
class PartRaster:
    """What the rasteriser sees, before any colour. Leading batch dims are flattened to N.

    region: int64 [N, H, W], index into REGION_NAMES, -1 for background.
    depth: float32 [N, H, W], camera-frame z of the front surface in metres, inf for background.
    normal: float32 [N, 3, H, W], unit surface normal in the camera frame facing the camera (z < 0), 0 for bg.
    keypoints: float32 [N, 17, 2], h36m17 joints in pixels.
    keypoint_depth: float32 [N, 17], camera-frame z of each joint.
    visible: float32 [N, 17], the rule in the module docstring.
    """

    region: torch.Tensor
    depth: torch.Tensor
    normal: torch.Tensor
    keypoints: torch.Tensor
    keypoint_depth: torch.Tensor
    visible: torch.Tensor

    @property
    def foreground(self) -> torch.Tensor:
        """bool [N, H, W]: pixels covered by the figure."""
        return self.region >= 0


def _f(mask: torch.Tensor) -> torch.Tensor:
    """bool -> float32 0/1 through uint8 (this CPU build converts and selects on bool tensors slowly)."""
    return mask.view(torch.uint8).float()


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)


def _extra_points(j: torch.Tensor) -> torch.Tensor:
    """[n, 17, 3] -> [n, 20, 3]: append the head centre and the two toes (derived, not keypoints)."""
    head_c = 0.5 * (j[:, 9] + j[:, 10])
    up = j[:, 8] - j[:, 0]
    right = j[:, 1] - j[:, 4]
    fwd = _unit(torch.cross(up, right, dim=-1))
    toes = []
    for knee, ankle in ((2, 3), (5, 6)):
        shin = _unit(j[:, ankle] - j[:, knee])
        foot = fwd - (fwd * shin).sum(-1, keepdim=True) * shin
        # A shin pointing along the body's forward axis leaves no perpendicular: fall back to forward itself.
        ok = foot.norm(dim=-1, keepdim=True) > 1e-3
        foot = torch.where(ok, _unit(foot), fwd)
        toes.append(j[:, ankle] + _FOOT_M * foot)
    return torch.cat([j, head_c[:, None], toes[0][:, None], toes[1][:, None]], 1)


def _head_frame(j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit head-up and face-forward vectors [n, 3] (forward from the chest, made perpendicular to the head)."""
    up = _unit(j[:, 10] - j[:, 9])
    chest_fwd = _unit(torch.cross(j[:, 8] - j[:, 7], j[:, 14] - j[:, 11], dim=-1))
    fwd = chest_fwd - (chest_fwd * up).sum(-1, keepdim=True) * up
    return up, _unit(fwd)


def _check_inputs(joints, camera, size):
    joints = torch.as_tensor(joints, dtype=torch.float32)
    camera = torch.as_tensor(camera, dtype=torch.float32)
    if joints.ndim < 2 or tuple(joints.shape[-2:]) != (17, 3):
        raise ValueError(f"joints: expected [..., 17, 3] h36m17 camera-frame metres, got {tuple(joints.shape)}")
    batch = tuple(joints.shape[:-2])
    if camera.shape[-1:] != (4,) or tuple(camera.shape[:-1]) not in ((), batch):
        raise ValueError(f"camera: expected [4] or [..., 4] matching joints' batch {batch} as (fx, fy, cx, cy), "
                         f"got {tuple(camera.shape)}")
    if not torch.isfinite(joints).all():
        raise ValueError("joints: contains NaN or inf")
    if not torch.isfinite(camera).all() or (camera[..., :2] <= 0).any():
        raise ValueError("camera: expected finite (fx, fy, cx, cy) with fx, fy > 0")
    if joints.numel() and (joints[..., 2] < 0.1).any():
        raise ValueError("joints: every joint must be at least 0.1 m in front of the camera (z >= 0.1)")
    if isinstance(size, (int, np.integer)):
        size = (int(size), int(size))
    if len(size) != 2 or any(not isinstance(s, (int, np.integer)) or s <= 0 for s in size):
        raise ValueError(f"size: expected a positive int or (H, W), got {size!r}")
    n = int(np.prod(batch)) if batch else 1
    joints = joints.reshape(n, 17, 3)
    camera = camera.reshape(-1, 4).expand(n, 4)
    return joints, camera, (int(size[0]), int(size[1])), batch


def _window(lo_x, hi_x, lo_y, hi_y, h: int, w: int):
    """A window of one shared size over each image's pixel box [lo, hi] (pixel coords, [n] each), shifted to
    lie inside the image so its pixels are distinct. Returns (x0 [n], y0 [n], wc, hc)."""
    bx0 = lo_x.floor().clamp(0, w - 1)
    bx1 = hi_x.floor().clamp(0, w - 1)
    by0 = lo_y.floor().clamp(0, h - 1)
    by1 = hi_y.floor().clamp(0, h - 1)
    wc = int((bx1 - bx0).max().item()) + 1
    hc = int((by1 - by0).max().item()) + 1
    x0 = torch.minimum(bx0, torch.full_like(bx0, w - wc)).long()
    y0 = torch.minimum(by0, torch.full_like(by0, h - hc)).long()
    return x0, y0, wc, hc


def _column(v: torch.Tensor) -> torch.Tensor:
    """[n] -> [n, 1, 1]: one value per image, broadcast over a window's rows and columns."""
    return v.view(-1, 1, 1)


class _ZBuffer:
    """Per-pixel front depth, primitive index and normal (x, y) of n images of h x w pixels, flattened.

    Each buffer carries one spare "trash" column: a primitive's window pixels that lose the depth test are written
    there, so each buffer takes a plain scatter instead of a gather-select-scatter.
    """

    def __init__(self, n: int, h: int, w: int):
        self.n, self.h, self.w, self.hw = n, h, w, h * w
        self.best = torch.full((n, self.hw + 1), _FAR)
        self.prim = torch.full((n, self.hw + 1), -1, dtype=torch.int16)
        self.nrm_x = torch.zeros(n, self.hw + 1)
        self.nrm_y = torch.zeros(n, self.hw + 1)

    def take(self, c: int, flat: torch.Tensor, depth: torch.Tensor, nx: torch.Tensor, ny: torch.Tensor) -> None:
        """Depth-test primitive ``c`` on its window pixels ``flat`` [n, k] (distinct within an image) against what
        is drawn so far and keep the nearer surface's depth, index and normal."""
        n, shape = self.n, depth.shape
        depth = depth.reshape(n, -1)
        dest = torch.where(depth < self.best.gather(1, flat), flat, self.hw)
        self.best.scatter_(1, dest, depth)
        self.prim.scatter_(1, dest, c)
        self.nrm_x.scatter_(1, dest, nx.expand(shape).reshape(n, -1))
        self.nrm_y.scatter_(1, dest, ny.expand(shape).reshape(n, -1))

    def images(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(primitive int64 [n, h, w] (-1: background), depth [n, h, w] (inf: background), normal [n, 3, h, w])``."""
        n, h, w, hw = self.n, self.h, self.w, self.hw
        prim = self.prim[:, :hw].reshape(n, h, w).long()
        best = self.best[:, :hw].reshape(n, h, w)
        best = torch.where(prim >= 0, best, float("inf"))
        nx, ny = self.nrm_x[:, :hw].reshape(n, h, w), self.nrm_y[:, :hw].reshape(n, h, w)
        # Every primitive's normal faces the camera, so its z component follows from the unit length.
        nz = -(1 - nx * nx - ny * ny).clamp_(min=0).sqrt_() * (prim >= 0).view(torch.uint8)  # 0 on the background
        return prim, best, torch.stack([nx, ny, nz], 1)


def _window_grid(lo_x, hi_x, lo_y, hi_y, cam: torch.Tensor, h: int, w: int):
    """A primitive's window around its pixel box (a limb covers a few % of a crop): the normalised image
    coordinates of its pixel centres, ``gx [n, 1, wc]`` and ``gy [n, hc, 1]``, and their flat indices [n, hc wc]."""
    n = cam.shape[0]
    fx, fy, cx, cy = (cam[:, i] for i in range(4))
    x0, y0, wc, hc = _window(lo_x - 1, hi_x + 1, lo_y - 1, hi_y + 1, h, w)
    ix = torch.arange(wc).view(1, 1, wc) + x0.view(n, 1, 1)
    iy = torch.arange(hc).view(1, hc, 1) + y0.view(n, 1, 1)
    gx = (ix + 0.5 - _column(cx)) / _column(fx)
    gy = (iy + 0.5 - _column(cy)) / _column(fy)
    return gx, gy, (iy * w + ix).view(n, -1)


def _draw_capsule(buf: _ZBuffer, c: int, pts: torch.Tensor, px: torch.Tensor, py: torch.Tensor,
                  cam: torch.Tensor) -> None:
    """Capsule ``c`` of ``_CAPSULES`` into ``buf``: the round tube's depth at each window pixel, or its nearer end
    cap's where that is in front (the module docstring's model). ``pts``: camera-frame points [n, 20, 3]; ``px``,
    ``py``: their pixel coordinates."""
    a, b, r, _ = _CAPSULES[c]
    z = pts[..., 2]
    x, y = pts[..., 0] / z, pts[..., 1] / z  # normalised image coordinates, where fx = fy = 1
    fx, fy = cam[:, 0], cam[:, 1]
    ra_px, rb_px = r / z[:, a] * fx, r / z[:, b] * fx
    lo_x = torch.minimum(px[:, a] - ra_px, px[:, b] - rb_px)
    hi_x = torch.maximum(px[:, a] + ra_px, px[:, b] + rb_px)
    ra_py, rb_py = r / z[:, a] * fy, r / z[:, b] * fy
    lo_y = torch.minimum(py[:, a] - ra_py, py[:, b] - rb_py)
    hi_y = torch.maximum(py[:, a] + ra_py, py[:, b] + rb_py)
    gx, gy, flat = _window_grid(lo_x, hi_x, lo_y, hi_y, cam, buf.h, buf.w)
    ax, ay, bx, by = _column(x[:, a]), _column(y[:, a]), _column(x[:, b]), _column(y[:, b])
    za, zb = _column(z[:, a]), _column(z[:, b])
    ex, ey = bx - ax, by - ay
    e2 = (ex * ex + ey * ey).clamp_min(1e-12)
    dx, dy = gx - ax, gy - ay  # [n, 1, wc], [n, hc, 1]
    t = ((dx * ex) + (dy * ey)).div_(e2).clamp_(0, 1)  # closest point on the projected axis
    ox = dx - t * ex  # offset from the axis point, [n, hc, wc]
    oy = dy - t * ey
    rad = (r / za) + t * (r / zb - r / za)
    ratio = (ox * ox + oy * oy).div_(rad * rad)
    s = (1 - ratio).clamp_(min=0).sqrt_()  # how squarely the tube surface faces the camera
    depth = (za + t * (zb - za)) - r * s
    depth.add_(_f(ratio >= 1).mul_(_FAR))
    # Second candidate: the cap of the nearer end. A limb pointing at the camera projects to a short axis and its
    # front surface is that cap, not the point at the closest-point parameter.
    a_nearer = _f(za <= zb)
    near_x, near_y = torch.lerp(bx, ax, a_nearer), torch.lerp(by, ay, a_nearer)
    near_z = torch.lerp(zb, za, a_nearer)
    rad_n = r / near_z
    ox_n, oy_n = gx - near_x, gy - near_y
    ratio_n = (ox_n * ox_n + oy_n * oy_n).div_(rad_n * rad_n)
    depth_n = near_z - r * (1 - ratio_n).clamp_(min=0).sqrt_()
    depth_n.add_(_f(ratio_n >= 1).mul_(_FAR))
    use_n = _f(depth_n < depth)
    buf.take(c, flat, torch.minimum(depth, depth_n), torch.lerp(ox / rad, ox_n / rad_n, use_n),
             torch.lerp(oy / rad, oy_n / rad_n, use_n))


def _draw_triangle(buf: _ZBuffer, ti: int, pts: torch.Tensor, px: torch.Tensor, py: torch.Tensor,
                   cam: torch.Tensor) -> None:
    """Triangle ``ti`` of ``_TRIANGLES`` into ``buf``: depth interpolated across it, one normal facing the camera."""
    i0, i1, i2 = _TRIANGLES[ti]
    z = pts[..., 2]
    x, y = pts[..., 0] / z, pts[..., 1] / z
    tri = torch.stack([px[:, i0], px[:, i1], px[:, i2]], -1), torch.stack([py[:, i0], py[:, i1], py[:, i2]], -1)
    gx, gy, flat = _window_grid(tri[0].min(-1).values, tri[0].max(-1).values, tri[1].min(-1).values,
                                tri[1].max(-1).values, cam, buf.h, buf.w)
    x0, y0, x1, y1, x2, y2 = (_column(v) for v in (x[:, i0], y[:, i0], x[:, i1], y[:, i1], x[:, i2], y[:, i2]))
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    safe = torch.where(area.abs() > 1e-9, area, torch.ones_like(area))
    l0 = ((x1 - gx) * (y2 - gy) - (y1 - gy) * (x2 - gx)) / safe
    l1 = ((x2 - gx) * (y0 - gy) - (y2 - gy) * (x0 - gx)) / safe
    l2 = 1 - l0 - l1
    inside = (l0 >= 0) & (l1 >= 0) & (l2 >= 0) & (area.abs() > 1e-9)
    # Outside the triangle the barycentric extrapolation can go negative: clamp before pushing it to _FAR.
    depth = (l0 * _column(z[:, i0]) + l1 * _column(z[:, i1]) + l2 * _column(z[:, i2])).clamp_(min=0)
    depth.add_(_f(~inside).mul_(_FAR))
    v0, v1, v2 = pts[:, i0], pts[:, i1], pts[:, i2]
    tn = _unit(torch.cross(v1 - v0, v2 - v0, dim=-1))
    tn = torch.where((tn * v0).sum(-1, keepdim=True) > 0, -tn, tn)  # face the camera
    buf.take(len(_CAPSULES) + ti, flat, depth, _column(tn[:, 0]), _column(tn[:, 1]))


def _regions(prim: torch.Tensor, nrm: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    """Region index [n, h, w] of each pixel's front primitive (-1: background), the head sphere split into face
    (front, below the crown) and hair."""
    n = j.shape[0]
    # Region of each primitive, with a trailing -1 that prim == -1 (background) picks.
    region_of = torch.tensor([cap[3] for cap in _CAPSULES] + [_R["torso"]] * len(_TRIANGLES) + [-1])
    region = region_of[prim]
    head_up, head_fwd = _head_frame(j)
    on_head = region == _R["face"]
    dot_f = (nrm * head_fwd.view(n, 3, 1, 1)).sum(1)
    dot_u = (nrm * head_up.view(n, 3, 1, 1)).sum(1)
    region.masked_fill_(on_head & ((dot_f < 0.25) | (dot_u > 0.7)), _R["hair"])
    return region


def _keypoints(j: torch.Tensor, cam: torch.Tensor, best: torch.Tensor, prim: torch.Tensor, h: int, w: int):
    """``(pixels [n, 17, 2], depth [n, 17], visible [n, 17])`` of the joints by the module docstring's rule."""
    n = j.shape[0]
    kz = j[..., 2]
    u = cam[:, 0:1] * j[..., 0] / kz + cam[:, 2:3]
    v = cam[:, 1:2] * j[..., 1] / kz + cam[:, 3:4]
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    col_i = u.floor().clamp(0, w - 1).long()
    row_i = v.floor().clamp(0, h - 1).long()
    flat = row_i * w + col_i
    front_depth = best.view(n, -1).gather(1, flat)
    front_prim = prim.view(n, -1).gather(1, flat)
    own = torch.as_tensor(_OWN_MASK)[torch.arange(17).expand(n, 17), front_prim.clamp_min(0)] & (front_prim >= 0)
    near_enough = front_depth >= kz - torch.as_tensor(_TAU)
    return torch.stack([u, v], -1), kz, (inside & (own | near_enough)).float()


@torch.no_grad()
def _rasterize_chunk(j: torch.Tensor, cam: torch.Tensor, h: int, w: int):
    """Rasterise one chunk of figures: ``j`` [n, 17, 3] checked h36m17 joints (camera frame), ``cam`` [n, 4]
    (fx, fy, cx, cy), images of ``h`` x ``w`` pixels. Draws every capsule, then the torso triangles, into one
    z-buffer and returns the fields of :class:`PartRaster` in its order: region, depth, normal, keypoints,
    keypoint depth, visible."""
    pts = _extra_points(j)
    z = pts[..., 2]
    fx, fy, cx, cy = (cam[:, i] for i in range(4))
    px = pts[..., 0] / z * fx[:, None] + cx[:, None]  # pixel coordinates of all points
    py = pts[..., 1] / z * fy[:, None] + cy[:, None]
    buf = _ZBuffer(j.shape[0], h, w)
    for c in range(len(_CAPSULES)):
        _draw_capsule(buf, c, pts, px, py, cam)
    for ti in range(len(_TRIANGLES)):
        _draw_triangle(buf, ti, pts, px, py, cam)
    prim, best, nrm = buf.images()
    keypoints, kz, visible = _keypoints(j, cam, best, prim, h, w)
    return _regions(prim, nrm, j), best, nrm, keypoints, kz, visible


def rasterize(joints, camera, size) -> PartRaster:
    """Rasterise figures: joints [..., 17, 3] (h36m17, camera frame, metres, z forward, y down), camera [4] or
    [..., 4] as (fx, fy, cx, cy) pixels, size int or (H, W). Returns a PartRaster with the batch flattened to N.

    Raises ValueError for malformed shapes, non-finite values, or joints less than 0.1 m in front of the camera.
    """
    j, cam, (h, w), _ = _check_inputs(joints, camera, size)
    return _raster(j, cam, h, w)


def _raster(j: torch.Tensor, cam: torch.Tensor, h: int, w: int) -> PartRaster:
    n = j.shape[0]
    step = max(1, _CHUNK_PIXELS // (h * w))
    parts = [_rasterize_chunk(j[s:s + step], cam[s:s + step], h, w) for s in range(0, n, step)]
    if not parts:
        return PartRaster(torch.empty(0, h, w, dtype=torch.int64), torch.empty(0, h, w), torch.empty(0, 3, h, w),
                          torch.empty(0, 17, 2), torch.empty(0, 17), torch.empty(0, 17))
    return PartRaster(*(torch.cat(items, 0) for items in zip(*parts)))


def flat_albedo(raster: PartRaster, region_colors) -> torch.Tensor:
    """Per-pixel colour [N, 3, H, W] from one RGB colour per region: region_colors [R, 3] or [N, R, 3] in [0, 1]
    (R = NUM_REGIONS). Background pixels get 0."""
    n, h, w = raster.region.shape
    rc = torch.as_tensor(region_colors, dtype=torch.float32)
    if rc.ndim == 2:
        rc = rc.unsqueeze(0).expand(n, -1, -1)
    if tuple(rc.shape) != (n, NUM_REGIONS, 3):
        raise ValueError(f"region_colors: expected [{NUM_REGIONS}, 3] or [N={n}, {NUM_REGIONS}, 3], "
                         f"got {tuple(rc.shape)}")
    idx = raster.region.clamp_min(0).view(n, h * w, 1).expand(-1, -1, 3)
    out = rc.gather(1, idx).view(n, h, w, 3).permute(0, 3, 1, 2)
    return out * raster.foreground.unsqueeze(1)


def shading(raster: PartRaster, light=None, ambient=0.45) -> torch.Tensor:
    """Lambert shading factor [N, 1, H, W]: ambient + (1 - ambient) * max(0, normal . light) on the figure,
    1 on the background.

    light: direction *towards* the light in the camera frame, [3] or [N, 3] (normalised here); default
    (0, 0, -1), a light at the camera. ambient: float or [N] in [0, 1].
    """
    n = raster.region.shape[0]
    amb = torch.as_tensor(ambient, dtype=torch.float32)
    if amb.ndim == 1 and amb.shape[0] == n:
        amb = amb.view(n, 1, 1, 1)
    elif amb.ndim != 0:
        raise ValueError(f"ambient: expected a float or [N={n}] values, got shape {tuple(amb.shape)}")
    if not ((amb >= 0) & (amb <= 1)).all():
        raise ValueError("ambient: expected values in [0, 1]")
    lt = torch.tensor([0.0, 0.0, -1.0]) if light is None else torch.as_tensor(light, dtype=torch.float32)
    if lt.ndim == 1:
        lt = lt.expand(n, 3)
    if tuple(lt.shape) != (n, 3) or not torch.isfinite(lt).all() or (lt.norm(dim=-1) < 1e-6).any():
        raise ValueError(f"light: expected a finite non-zero [3] or [N={n}, 3] direction, got {tuple(lt.shape)}")
    lt = _unit(lt)
    lambert = (raster.normal * lt.view(n, 3, 1, 1)).sum(1, keepdim=True).clamp_(min=0)
    factor = amb + (1 - amb) * lambert
    # 1 off the figure; a float blend (bool selection is slow on CPU).
    return torch.lerp(torch.ones(()), factor, raster.foreground.unsqueeze(1).view(torch.uint8).float())


def compose(raster: PartRaster, albedo: torch.Tensor, background: torch.Tensor, light=None,
            ambient=0.45) -> torch.Tensor:
    """Shade the figure (``shading``) and paste it on a background: float32 [N, 3, H, W] in [0, 1].

    albedo and background: [N, 3, H, W]; light and ambient as in ``shading``.
    """
    n, h, w = raster.region.shape
    for name, t in (("albedo", albedo), ("background", background)):
        if tuple(t.shape) != (n, 3, h, w):
            raise ValueError(f"{name}: expected [N={n}, 3, {h}, {w}], got {tuple(t.shape)}")
    shaded = albedo * shading(raster, light, ambient)
    return torch.lerp(background, shaded, raster.foreground.unsqueeze(1).view(torch.uint8).float()).clamp_(0, 1)


# Skin, hair, shirt, pants, shoes: the colours ``render_figures`` uses when none are given.
DEFAULT_PALETTE = {"skin": (0.87, 0.68, 0.55), "hair": (0.25, 0.16, 0.10), "shirt": (0.20, 0.45, 0.80),
                   "pants": (0.25, 0.25, 0.30), "shoes": (0.10, 0.10, 0.10)}
REGION_GROUP = {"face": "skin", "hair": "hair", "neck": "skin", "torso": "shirt", "hips": "pants",
                "right_upper_arm": "shirt", "left_upper_arm": "shirt", "right_forearm": "skin",
                "left_forearm": "skin", "right_thigh": "pants", "left_thigh": "pants", "right_shin": "pants",
                "left_shin": "pants", "right_foot": "shoes", "left_foot": "shoes"}


def render_figures(joints, camera, size, region_colors=None, background=None, light=None, ambient=0.45,
                   as_uint8: bool = False):
    """Draw figures: joints [..., 17, 3], camera [4] or [..., 4] (fx, fy, cx, cy), size int or (H, W).

    region_colors: [R, 3] or [N, R, 3] (default: DEFAULT_PALETTE by REGION_GROUP); background: [3] colour or
    [N, 3, H, W] images (default mid grey); light and ambient as in ``shading``, shared or per image ([N, 3],
    [N]), N being the flattened batch. Returns (image [..., 3, H, W] float32 in [0, 1] or uint8, keypoints
    [..., 17, 2] pixels, visible [..., 17] float32) with the joints' leading dims restored.
    """
    j, cam, (h, w), batch = _check_inputs(joints, camera, size)
    n = j.shape[0]
    if region_colors is None:
        region_colors = [DEFAULT_PALETTE[REGION_GROUP[name]] for name in REGION_NAMES]
    rc = torch.as_tensor(region_colors, dtype=torch.float32)
    bg = torch.as_tensor((0.5, 0.5, 0.5) if background is None else background, dtype=torch.float32)
    if tuple(bg.shape) not in ((3,), (n, 3, h, w)):
        raise ValueError(f"background: expected [3] or [N={n}, 3, {h}, {w}], got {tuple(bg.shape)}")
    lt = None if light is None else torch.as_tensor(light, dtype=torch.float32)
    amb = torch.as_tensor(ambient, dtype=torch.float32)
    for name, t, per_image_ndim in (("region_colors", rc, 3), ("light", lt, 2), ("ambient", amb, 1)):
        if t is not None and t.ndim == per_image_ndim and t.shape[0] != n:
            raise ValueError(f"{name}: per-image values must have N={n} rows, got shape {tuple(t.shape)}")
    # Per-image arguments are sliced with the chunks; shared ones pass through (their checks happen there).
    rows = lambda t, per_image_ndim, sl: t[sl] if t is not None and t.ndim == per_image_ndim else t  # noqa: E731

    image = torch.empty(n, 3, h, w, dtype=torch.uint8 if as_uint8 else torch.float32)
    keypoints, visible = torch.empty(n, 17, 2), torch.empty(n, 17)
    step = max(1, _CHUNK_PIXELS // (h * w))
    for s in range(0, n, step):
        sl = slice(s, min(n, s + step))
        raster = _raster(j[sl], cam[sl], h, w)
        m = raster.region.shape[0]
        back = bg.view(1, 3, 1, 1).expand(m, 3, h, w) if bg.ndim == 1 else bg[sl]
        out = compose(raster, flat_albedo(raster, rows(rc, 3, sl)), back, rows(lt, 2, sl), rows(amb, 1, sl))
        image[sl] = (out * 255).round_() if as_uint8 else out
        keypoints[sl], visible[sl] = raster.keypoints, raster.visible
    return image.reshape(*batch, 3, h, w), keypoints.reshape(*batch, 17, 2), visible.reshape(*batch, 17)
