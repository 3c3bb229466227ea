"""Embedded synthetic animal domains: dm-control's skinned dog (or rodent), posed by MuJoCo on the CPU
(``posefast.data.image2d.animal_rig``) and rasterised here with a z-buffered triangle rasteriser in torch (no GL,
no display), as the animal task's labelled source and unlabelled target.

Specs: ``synthetic-animal:dog`` (source style) / ``synthetic-animal:dog-real`` (target style), and the same for
``rodent``. The two styles differ the way SynAnimal's renders differ from photographs of animals:

``source`` (SynAnimal-like): one flat albedo per animal (a random coat colour, darker on the legs), flat-shaded
faces lit from the camera, a plain or two-colour gradient background, no blur or noise; the camera at the animal's
height (elevation 0..25 degrees), any azimuth.

``target`` (photo-like): the model's own UV texture, recoloured per animal (gain and a blend towards a random coat
colour), smooth-shaded under a random light with a random ambient term, a cluttered background (colour-noise base,
textured rectangles and ellipses, bar distractors) and 0-2 occluders near a random keypoint (keypoints under them
lose visibility), a camera from higher up (elevation 15..55 degrees, a person's eye height looking down) and looser
crops, then per-channel gain, contrast, gamma, Gaussian blur and pixel noise.

Poses are drawn as behaviours (stand, walk, trot, sit, lie, turn the head, lift a paw) within the rig's joint
limits; keypoints are the rig's (exact 3D points of the posed bodies) projected by the same pinhole camera as the
vertices. A keypoint is visible when it projects inside the crop, no occluder covers it, and the front surface at
its pixel is less than ``0.12 x`` the animal's length in front of it (a joint centre sits inside its limb; a leg
behind the body is hidden). Everything is drawn from ``(seed, animal, style)``: a call is deterministic.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from posefast.data.image2d.animal_rig import BEHAVIOURS, get_rig, rig_available, sample_joint_angles
from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.domains import (_draw_camera_response, _gaussian_blur, _paint_patterns, _pattern_params,
                                           _random_colors, _shape_index, _shape_params, _smooth_noise, _take)

__all__ = ["ANIMAL_STYLES", "MeshRaster", "rasterize_mesh", "make_animal_domain", "animal_spec", "ANIMAL_SPEC_PREFIX"]

ANIMAL_STYLES = ("source", "target")
ANIMAL_SPEC_PREFIX = "synthetic-animal"
# The behaviours' shares in a domain: mostly moving and standing, as photographs of dogs are.
_BEHAVIOUR_P = {"stand": 0.2, "walk": 0.2, "trot": 0.2, "sit": 0.1, "lie": 0.1, "turn_head": 0.1, "lift_paw": 0.1}
_VIS_FRACTION = 0.12
_DEPTH_SCALE = 1 << 24  # depth quantisation of the z-buffer key (depth in [0, 64) m -> 2^30 steps)
_FACE_BITS = 20
_RASTER_BATCH = 32  # crops per z-buffer pass (32 x 7162 dog triangles stay under 2^20 triangle ids)


def animal_spec(spec: str, flag: str = "target") -> tuple[str, str]:
    """``synthetic-animal:<animal>[-real]`` -> ``(animal, style)``; anything else a ValueError naming ``flag``."""
    prefix, sep, rest = str(spec).partition(":")
    animal, real = (rest[:-5], True) if rest.endswith("-real") else (rest, False)
    if prefix != ANIMAL_SPEC_PREFIX or not sep or animal not in ("dog", "rodent"):
        raise ValueError(f"{flag}: expected synthetic-animal:dog, synthetic-animal:dog-real, "
                         f"synthetic-animal:rodent or synthetic-animal:rodent-real, got {spec!r}")
    return animal, "target" if real else "source"


class MeshRaster:
    """What :func:`rasterize_mesh` sees: ``face`` int64 [H, W] (-1: background), ``depth`` float32 [H, W]
    (inf: background), ``bary`` float32 [3, H, W] barycentric coordinates of each pixel centre in its face."""

    def __init__(self, face, depth, bary):
        self.face, self.depth, self.bary = face, depth, bary

    @property
    def foreground(self) -> torch.Tensor:
        return self.face >= 0


def rasterize_mesh(points: torch.Tensor, faces: torch.Tensor, size: int) -> MeshRaster:
    """Z-buffer a triangle mesh: ``points`` [V, 3] (or a batch [B, V, 3] of one mesh's poses) as (u, v) pixel
    coordinates (pixel (i, j) covers [j, j + 1) x [i, i + 1)) and camera depth z > 0; ``faces`` int64 [F, 3]. A
    pixel is covered by a triangle when its centre lies inside it (either winding); the nearest covering triangle
    wins (depth interpolated as 1/z, perspective-correct). The raster's tensors have the batch's leading dim.

    Triangles are grouped by the size of their pixel box (1, 2, 4, ... pixels): each group tests its own
    k x k candidate centres at once, so the cost follows the covered area, not the number of triangles times the
    image; the z-buffer is one ``scatter_reduce(amin)`` of (depth, triangle) packed into an int64 key, over every
    image of the batch at once.
    """
    single = points.ndim == 2
    p = points.to(torch.float32)
    if single:
        p = p[None]
    nb, nf = p.shape[0], faces.shape[0]
    if nb * nf >= 1 << _FACE_BITS:
        raise ValueError(f"faces: at most {1 << _FACE_BITS} triangles per call, got {nb} x {nf}")
    tri = p[:, faces].reshape(nb * nf, 3, 3)  # triangle g = b * F + f
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
    base = (torch.arange(nb) * (size * size)).repeat_interleave(nf)  # each image's first pixel in the flat buffer
    x0 = torch.ceil(u.min(1).values - 0.5).clamp_min(0)
    x1 = torch.floor(u.max(1).values - 0.5).clamp_max(size - 1)
    y0 = torch.ceil(v.min(1).values - 0.5).clamp_min(0)
    y1 = torch.floor(v.max(1).values - 0.5).clamp_max(size - 1)
    extent = torch.maximum(x1 - x0, y1 - y0) + 1
    ok = (extent >= 1) & (z.min(1).values > 0)
    none = torch.iinfo(torch.int64).max
    key = torch.full((nb * size * size,), none, dtype=torch.int64)
    inv_z = 1.0 / z
    k = 1
    remaining = ok.clone()
    while bool(remaining.any()):
        sel = torch.nonzero(remaining & (extent <= k)).flatten()
        remaining &= extent > k
        if sel.numel():
            off = torch.arange(k, dtype=torch.float32)
            px = (x0[sel, None, None] + off.view(1, 1, k)).expand(-1, k, k)
            py = (y0[sel, None, None] + off.view(1, k, 1)).expand(-1, k, k)
            inside_box = (px <= x1[sel, None, None]) & (py <= y1[sel, None, None])
            cx, cy = px + 0.5, py + 0.5
            uu, vv = u[sel][:, :, None, None], v[sel][:, :, None, None]
            # Edge functions of the three edges; the triangle's signed area decides the winding.
            w0 = (uu[:, 2] - uu[:, 1]) * (cy - vv[:, 1]) - (vv[:, 2] - vv[:, 1]) * (cx - uu[:, 1])
            w1 = (uu[:, 0] - uu[:, 2]) * (cy - vv[:, 2]) - (vv[:, 0] - vv[:, 2]) * (cx - uu[:, 2])
            w2 = (uu[:, 1] - uu[:, 0]) * (cy - vv[:, 0]) - (vv[:, 1] - vv[:, 0]) * (cx - uu[:, 0])
            area = w0 + w1 + w2
            sign = torch.where(area >= 0, 1.0, -1.0)
            inside = inside_box & (w0 * sign >= 0) & (w1 * sign >= 0) & (w2 * sign >= 0) & (area.abs() > 1e-12)
            a = area.where(area.abs() > 1e-12, torch.ones_like(area))
            iz = inv_z[sel][:, :, None, None]
            depth = 1.0 / ((w0 * iz[:, 0] + w1 * iz[:, 1] + w2 * iz[:, 2]) / a).clamp_min(1e-9)
            flat = (py * size + px).long() + base[sel].view(-1, 1, 1)
            q = (depth * _DEPTH_SCALE).clamp(0, (1 << (62 - _FACE_BITS)) - 1).long()
            keys = (q << _FACE_BITS) | sel.view(-1, 1, 1).expand(-1, k, k)
            key.scatter_reduce_(0, flat[inside], keys[inside], reduce="amin")
        k *= 2
    hit = key != none
    g = torch.where(hit, key & ((1 << _FACE_BITS) - 1), torch.zeros_like(key))  # the winning triangle, global id
    # Barycentrics of each covered pixel centre in its triangle, perspective-correct (weights / z, renormalised).
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    uu, vv, iz = u[g], v[g], inv_z[g]
    cx, cy = (xs.reshape(-1) + 0.5).repeat(nb), (ys.reshape(-1) + 0.5).repeat(nb)
    w0 = (uu[:, 2] - uu[:, 1]) * (cy - vv[:, 1]) - (vv[:, 2] - vv[:, 1]) * (cx - uu[:, 1])
    w1 = (uu[:, 0] - uu[:, 2]) * (cy - vv[:, 2]) - (vv[:, 0] - vv[:, 2]) * (cx - uu[:, 2])
    w2 = (uu[:, 1] - uu[:, 0]) * (cy - vv[:, 0]) - (vv[:, 1] - vv[:, 0]) * (cx - uu[:, 0])
    w = torch.stack([w0, w1, w2], 0) * iz.T
    w = w / w.sum(0, keepdim=True).where(w.sum(0).abs() > 1e-12, torch.ones(1))
    bary = torch.where(hit, w, torch.zeros_like(w)).view(3, nb, size, size).transpose(0, 1).contiguous()
    depth = 1.0 / (w * iz.T).sum(0).clamp_min(1e-9)
    depth = torch.where(hit, depth, torch.full_like(depth, float("inf"))).view(nb, size, size)
    face = torch.where(hit, g - torch.arange(nb).repeat_interleave(size * size) * nf,
                       torch.full_like(g, -1)).view(nb, size, size)
    if single:
        return MeshRaster(face[0], depth[0], bary[0])
    return MeshRaster(face, depth, bary)


def _look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation [3, 3] (camera x right, y down, z forward) looking from ``eye`` at ``target``,
    world z up."""
    fwd = target - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return np.stack([right, down, fwd])


class _Look:
    """The per-image draws of a style (camera, colours, light, background, processing), from one generator."""

    def __init__(self, style: str, rng: np.random.Generator, n: int, size: int):
        target = style == "target"
        self.target = target
        self.azimuth = rng.uniform(-np.pi, np.pi, n)
        self.elevation = np.radians(rng.uniform(15, 55, n) if target else rng.uniform(0, 25, n))
        self.roll = np.radians(rng.uniform(-8, 8, n) if target else rng.uniform(-3, 3, n))
        self.distance = rng.uniform(2.5, 4.0, n)  # in animal lengths
        self.fill = rng.uniform(0.65, 0.95, n) if target else rng.uniform(0.75, 0.9, n)
        self.jitter = rng.uniform(-1, 1, (n, 2)) * (0.06 if target else 0.03)
        self.coat = _random_colors(rng, n, sat=(0.05, 0.6), val=(0.25, 0.9))
        self.legs_dark = rng.uniform(0.6, 1.0, n)
        self.bg = _random_colors(rng, (n, 2), sat=(0.0, 0.6), val=(0.2, 0.95))
        self.gradient = rng.random(n) < 0.5
        self.bg_angle = rng.uniform(0, 2 * np.pi, n)
        tilt, az = rng.uniform(0, np.radians(60), n), rng.uniform(0, 2 * np.pi, n)
        self.light = np.stack([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), -np.cos(tilt)], 1)
        self.ambient = rng.uniform(0.3, 0.6, n)
        self.tex_gain = rng.uniform(0.7, 1.3, (n, 3))
        self.tex_mix = rng.uniform(0.0, 0.6, n)
        ns = 6
        shapes = _pattern_params(rng, (n, ns), size)
        self.table = shapes
        self.layers = _shape_params(rng, n, ns, size, scale=(0.06, 0.22))
        self.layer_on = rng.random((n, ns)) < 0.7
        self.bg_base = _random_colors(rng, (n, 3, 3), sat=(0.0, 0.5), val=(0.2, 0.9)).transpose(0, 3, 1, 2)
        self.occ = _shape_params(rng, n, 2, size, scale=(0.06, 0.15))
        self.occ_on = np.arange(2)[None] < rng.choice(3, n, p=[0.6, 0.3, 0.1])[:, None]
        self.occ_color = _random_colors(rng, (n, 2))
        self.occ_offset = rng.uniform(-0.05, 0.05, (n, 2, 2)) * size
        self.occ_joint = rng.integers(0, 1 << 16, (n, 2))
        _draw_camera_response(self, rng, n, size)


def _camera(verts: np.ndarray, look: _Look, i: int, size: int, length: float):
    """(R [3, 3], t [3], intrinsics (f, cx, cy)) of image i: the camera on a sphere around the animal's centre at the
    drawn azimuth / elevation / distance, then a crop that puts the projected mesh's box at the drawn fill."""
    centre = 0.5 * (verts.min(0) + verts.max(0))
    el, az, dist = look.elevation[i], look.azimuth[i], look.distance[i] * length
    eye = centre + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    rot = _look_at(eye, centre)
    c, s = np.cos(look.roll[i]), np.sin(look.roll[i])
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ rot
    t = -rot @ eye
    cam = verts @ rot.T + t
    xy = cam[:, :2] / cam[:, 2:3]
    lo, hi = xy.min(0), xy.max(0)
    f = look.fill[i] * size / float((hi - lo).max())
    cxy = size / 2 - f * (lo + hi) / 2 + look.jitter[i] * size
    return rot, t, (f, cxy[0], cxy[1])


def _project(x: np.ndarray, rot, t, intr) -> np.ndarray:
    cam = x @ rot.T + t
    f, cx, cy = intr
    return np.concatenate([f * cam[:, :2] / cam[:, 2:3] + np.array([cx, cy]), cam[:, 2:3]], 1)


def _texture(rig) -> torch.Tensor | None:
    """The rig's skin texture as float32 [3, H, W] in [0, 1] (MuJoCo's texture data, rows as stored), or None."""
    m = rig.model
    mat = int(m.skin_matid[0])
    if mat < 0:
        return None
    tex = int(m.mat_texid[mat].max()) if m.mat_texid.ndim > 1 else int(m.mat_texid[mat])
    if tex < 0:
        return None
    h, w, nc = int(m.tex_height[tex]), int(m.tex_width[tex]), int(m.tex_nchannel[tex])
    adr = int(m.tex_adr[tex])
    data = np.asarray(m.tex_data[adr:adr + h * w * nc], dtype=np.float32).reshape(h, w, nc)[..., :3] / 255.0
    return torch.from_numpy(np.ascontiguousarray(data)).permute(2, 0, 1)


def _sample_texture(tex: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear lookup of ``tex`` [3, H, W] at ``uv`` [P, 2] (u right, v down the stored rows) -> [P, 3]."""
    grid = (uv * 2 - 1).view(1, 1, -1, 2).float()
    return F.grid_sample(tex[None], grid, mode="bilinear", padding_mode="border", align_corners=False)[0, :, 0].T


def make_animal_domain(animal: str, style: str, n: int, size: int = 64, seed: int = 0) -> ImagePoseDataset:
    """Render ``n`` crops of ``size`` px of ``animal`` ("dog": tigdog18 keypoints, "rodent": mouse7) in ``style``
    ("source" or "target"; see the module docstring). ``extras`` hold each crop's behaviour index into
    ``meta["behaviours"]``, the 3D keypoints in the camera frame (float32 [n, K, 3], metres) and the animal's
    silhouette (bool [n, size, size], before occluders)."""
    if style not in ANIMAL_STYLES:
        raise ValueError(f"style: expected one of {ANIMAL_STYLES}, got {style!r}")
    for name, value, low in (("n", n, 0), ("size", size, 16), ("seed", seed, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise ValueError(f"{name}: expected an int >= {low}, got {value!r}")
    reason = rig_available()
    if reason:
        raise ValueError(f"animal: {reason}")
    rig = get_rig(animal)
    n, size = int(n), int(size)
    ss = np.random.SeedSequence([int(seed), ("dog", "rodent").index(animal), ANIMAL_STYLES.index(style)])
    pose_rng, look_rng, noise_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    names = list(_BEHAVIOUR_P)
    behaviour = pose_rng.choice(len(names), n, p=[_BEHAVIOUR_P[b] for b in names])
    posed = rig.pose(sample_joint_angles(rig, [names[b] for b in behaviour], pose_rng))
    look = _Look(style, look_rng, n, size)
    gen = torch.Generator().manual_seed(int(noise_rng.integers(0, 2 ** 62)))
    faces = torch.as_tensor(posed.faces)
    length = rig.length
    tex = _texture(rig) if style == "target" else None
    uv = torch.as_tensor(posed.uv) if posed.uv is not None else None
    limb = torch.as_tensor(np.isin(posed.part, _leg_bones(rig)))
    k = rig.skeleton.num_joints

    images = torch.empty(n, 3, size, size)
    keypoints = torch.empty(n, k, 2)
    visible = torch.empty(n, k)
    kp_cam = torch.empty(n, k, 3)
    silhouette = torch.empty(n, size, size, dtype=torch.bool)
    views = [_camera(posed.vertices[i], look, i, size, length) for i in range(n)]
    projected = [_project(posed.vertices[i], *views[i]) for i in range(n)]
    rasters = {}
    for i in range(n):
        if i % _RASTER_BATCH == 0:  # one z-buffer pass for a batch of crops
            upto = min(n, i + _RASTER_BATCH)
            batch = rasterize_mesh(torch.from_numpy(np.stack(projected[i:upto])), faces, size)
            rasters = {j: MeshRaster(batch.face[j - i], batch.depth[j - i], batch.bary[j - i]) for j in range(i, upto)}
        rot, t, intr = views[i]
        pk = _project(posed.keypoints[i], rot, t, intr)
        raster = rasters[i]
        cam_verts = torch.from_numpy(posed.vertices[i] @ rot.T + t)
        image, occluded = _shade(raster, cam_verts, faces, uv, limb, tex, look, i, size, gen, pk)
        kp = torch.from_numpy(pk[:, :2]).float()
        col, row = kp[:, 0].floor().long(), kp[:, 1].floor().long()
        inside = (kp[:, 0] >= 0) & (kp[:, 0] < size) & (kp[:, 1] >= 0) & (kp[:, 1] < size)
        flat = (row.clamp(0, size - 1) * size + col.clamp(0, size - 1))
        front = raster.depth.reshape(-1)[flat]
        unhidden = front >= torch.from_numpy(pk[:, 2]).float() - _VIS_FRACTION * length
        free = ~occluded.view(-1)[flat]
        images[i], keypoints[i], silhouette[i] = image, kp, raster.foreground
        visible[i] = (inside & unhidden & free).float()
        kp_cam[i] = torch.from_numpy(posed.keypoints[i] @ rot.T + t).float()
    return ImagePoseDataset(images, keypoints, visible, rig.skeleton.joint_names,
                            {"style": style, "seed": int(seed), "size": size, "animal": animal,
                             "skeleton": rig.skeleton.name, "behaviours": names},
                            {"behaviour": torch.as_tensor(behaviour, dtype=torch.int64), "keypoints_cam": kp_cam,
                             "silhouette": silhouette})


def _leg_bones(rig) -> list:
    legs = [b for b in range(rig.model.nskinbone)
            if any(w in rig.model.body(int(rig.model.skin_bonebodyid[b])).name
                   for w in ("lower_", "hand", "finger", "foot", "toe"))]
    return legs


def _normals(cam_verts: torch.Tensor, faces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Face normals [F, 3] and area-weighted vertex normals [V, 3] in the camera frame, unit length."""
    tri = cam_verts[faces]
    fn = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    vn = torch.zeros_like(cam_verts).index_add_(0, faces.reshape(-1), fn.repeat_interleave(3, 0))
    return F.normalize(fn, dim=-1), F.normalize(vn, dim=-1)


def _shade(raster: MeshRaster, cam_verts, faces, uv, limb, tex, look: _Look, i: int, size: int, gen, pk):
    """(image [3, size, size] in [0, 1], occluded bool [size, size]) of one crop in the look's style."""
    fg = raster.foreground
    face = raster.face.clamp_min(0)
    fn, vn = _normals(cam_verts, faces)
    xs = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    if not look.target:
        # Flat shading: one normal per face, oriented to the camera, lit from the camera.
        nrm = fn[face.view(-1)].float()
        nrm = torch.where(nrm[:, 2:3] > 0, -nrm, nrm)
        lambert = (-nrm[:, 2]).clamp_min(0).view(size, size)
        coat = torch.as_tensor(look.coat[i], dtype=torch.float32)
        pix_limb = limb[faces[face.view(-1), 0]].view(size, size)
        albedo = coat.view(3, 1, 1) * torch.where(pix_limb, float(look.legs_dark[i]), 1.0)
        fgc = albedo * (0.45 + 0.55 * lambert)
        ang = float(look.bg_angle[i])
        ramp = ((xs.view(1, -1) - 0.5) * math.cos(ang) + (xs.view(-1, 1) - 0.5) * math.sin(ang) + 0.5).clamp(0, 1)
        ramp = ramp * float(look.gradient[i])
        c = torch.as_tensor(look.bg[i], dtype=torch.float32)
        bg = c[0].view(3, 1, 1) + ramp * (c[1] - c[0]).view(3, 1, 1)
        return torch.where(fg, fgc, bg).clamp(0, 1), torch.zeros(size, size, dtype=torch.bool)

    sl = slice(i, i + 1)
    # Background: colour-noise base under textured shapes at half resolution, upsampled (it is blurred anyway).
    hb = (size + 1) // 2
    layer = _shape_index(_take(look.layers, sl), torch.as_tensor(look.layer_on[sl], dtype=torch.float32), hb, hb,
                         step=2.0)
    table = _take(look.table, sl)
    paint = _paint_patterns(table, (layer - 1).clamp_min(0).long(), _smooth_noise(gen, 1, 1, 6, hb, hb), step=2.0)
    base = F.interpolate(torch.as_tensor(look.bg_base[sl], dtype=torch.float32), size=(hb, hb), mode="bilinear",
                         align_corners=False)
    bg = torch.lerp(base, paint, (layer > 0).float().unsqueeze(1))
    bg = F.interpolate(bg, size=(size, size), mode="bilinear", align_corners=False)[0]
    # The animal: texture (recoloured towards a coat colour), smooth Lambert shading under a random light.
    fidx = faces[face.view(-1)]  # [P, 3]
    bary = raster.bary.view(3, -1).T  # [P, 3]
    nrm = F.normalize((vn[fidx].float() * bary[..., None]).sum(1), dim=-1)
    nrm = torch.where(nrm[:, 2:3] > 0, -nrm, nrm)
    light = torch.as_tensor(look.light[i], dtype=torch.float32)
    amb = float(look.ambient[i])
    lambert = (-(nrm @ light)).clamp_min(0)
    if tex is not None and uv is not None:
        puv = (uv[fidx] * bary[..., None]).sum(1)
        albedo = _sample_texture(tex, puv)
    else:
        albedo = torch.full((size * size, 3), 0.6)
    coat = torch.as_tensor(look.coat[i], dtype=torch.float32)
    albedo = torch.lerp(albedo * torch.as_tensor(look.tex_gain[i], dtype=torch.float32), coat, float(look.tex_mix[i]))
    fgc = (albedo * (amb + (1 - amb) * lambert)[:, None]).T.reshape(3, size, size)
    image = torch.where(fg, fgc, bg)
    # Occluders: up to two ellipses / rectangles centred near a keypoint.
    occ = _take(look.occ, sl)
    j = torch.as_tensor(look.occ_joint[i] % len(pk))
    centre = torch.as_tensor(pk[j.numpy(), :2], dtype=torch.float32) + torch.as_tensor(look.occ_offset[i],
                                                                                       dtype=torch.float32)
    occ["cx"], occ["cy"] = centre[None, :, 0], centre[None, :, 1]
    occ_idx = _shape_index(occ, torch.as_tensor(look.occ_on[sl], dtype=torch.float32), size, size)[0]
    occluded = occ_idx > 0
    occ_col = torch.as_tensor(look.occ_color[i], dtype=torch.float32)  # [2, 3]
    oc = occ_col[(occ_idx - 1).clamp_min(0).long()].permute(2, 0, 1)
    image = torch.where(occluded, oc, image)
    # Camera processing.
    image = image * torch.as_tensor(look.gain[i], dtype=torch.float32).view(3, 1, 1)
    contrast = float(look.contrast[i])
    image = image * contrast + (1 - contrast) * image.mean() + float(look.brightness[i])
    image = image.clamp(0, 1).pow(float(look.gamma[i]))
    image = _gaussian_blur(image[None], torch.tensor([float(look.blur[i])]))[0]
    image = image + torch.randn(image.shape, generator=gen) * float(look.noise[i])
    return image.clamp(0, 1), occluded
