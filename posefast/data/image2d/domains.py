"""Two synthetic 2D pose domains with a real appearance gap, for unsupervised domain adaptation experiments.

``source`` (SURREAL-like, the labelled domain): clean renders, flat per-garment colours with Lambert shading
from a light at the camera, plain or two-colour gradient backgrounds, no blur or noise.

``target`` (LSP-like, the unlabelled domain): striped / checked / blotchy clothing, cluttered backgrounds (a
colour-noise base, random rectangles and ellipses, limb-like bars as distractors), occluders over the body
(keypoints under them lose visibility), a random light direction, per-channel colour shift, contrast and
gamma changes, Gaussian blur and pixel noise.

Both share the pose source (``posefast.data.image2d.poses``) and the renderer; only appearance and crop statistics
differ (the target's crops are looser: fill 0.65..0.95 and more centre jitter). Keypoints are Body16
(``posefast.data.image2d.keypoints``). Everything is drawn from ``seed`` and the style, so a call is deterministic;
source and target with the same seed get different poses.

Reference: the SURREAL -> LSP task of UDAPE (Kim et al., ECCV 2022) and the multi-level method built on it
(Chen et al., ICME 2024); our domains only imitate the kind of gap those tasks have.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from posefast.data.image2d.dataset import ImagePoseDataset
from posefast.data.image2d.keypoints import BODY16_NAMES, h36m17_to_body16
from posefast.data.image2d.poses import crop_cameras, place_in_camera, sample_poses
from posefast.data.image2d.render import REGION_NAMES, compose, flat_albedo, rasterize, shading

__all__ = ["STYLES", "make_domain"]

STYLES = ("source", "target")
# Images rendered and styled together: about 2^20 pixels (256 crops of 64 px) keeps temporaries cache-friendly.
# It depends on the size only, never on n, so an image's pixel noise does not depend on how many are made.
_CHUNK_PIXELS = 1 << 20

# Which colour each region takes: 0 skin, 1 hair, 2 shirt, 3 pants, 4 shoes.
_SKIN, _HAIR, _SHIRT, _PANTS, _SHOES = range(5)
_GROUP = {"face": _SKIN, "hair": _HAIR, "neck": _SKIN, "torso": _SHIRT, "hips": _PANTS,
          "right_upper_arm": _SHIRT, "left_upper_arm": _SHIRT, "right_forearm": _SKIN, "left_forearm": _SKIN,
          "right_thigh": _PANTS, "left_thigh": _PANTS, "right_shin": _PANTS, "left_shin": _PANTS,
          "right_foot": _SHOES, "left_foot": _SHOES}
_FOREARMS = [REGION_NAMES.index(r) for r in ("right_forearm", "left_forearm")]
_SHINS = [REGION_NAMES.index(r) for r in ("right_shin", "left_shin")]


def _hsv(h, s, v) -> np.ndarray:
    """Vectorised HSV -> RGB, arrays [...] in [0, 1] -> [..., 3]."""
    h6 = (np.asarray(h) % 1.0) * 6
    k = np.stack([(5 + h6) % 6, (3 + h6) % 6, (1 + h6) % 6], -1)
    return np.asarray(v)[..., None] - (np.asarray(v) * np.asarray(s))[..., None] * np.clip(
        np.minimum(k, 4 - k), 0, 1)


def _random_colors(rng, shape, sat=(0.2, 0.9), val=(0.25, 0.95)) -> np.ndarray:
    return _hsv(rng.random(shape), rng.uniform(*sat, shape), rng.uniform(*val, shape))


def _skin_tones(rng, n) -> np.ndarray:
    light, dark = np.array([0.96, 0.80, 0.69]), np.array([0.36, 0.23, 0.16])
    t = rng.random(n)[:, None]
    return np.clip(light + t * (dark - light) + rng.uniform(-0.04, 0.04, (n, 3)), 0, 1)


def _garment_groups(rng, n):
    """Per-image colour-group index of every region [n, R]: forearms take the shirt colour for long sleeves,
    shins take the skin colour for shorts."""
    groups = np.tile([_GROUP[name] for name in REGION_NAMES], (n, 1))
    sleeves = rng.random(n) < 0.5
    groups[np.ix_(sleeves, _FOREARMS)] = _SHIRT
    shorts = rng.random(n) < 0.3
    groups[np.ix_(shorts, _SHINS)] = _SKIN
    return groups


def _group_colors(rng, n) -> np.ndarray:
    """[n, 5, 3]: skin, hair, shirt, pants, shoes colours."""
    hair = _hsv(rng.uniform(0.02, 0.12, n), rng.uniform(0.2, 0.8, n), rng.uniform(0.05, 0.55, n))
    shoes = _hsv(rng.random(n), rng.uniform(0, 0.5, n), rng.uniform(0.05, 0.45, n))
    return np.stack([_skin_tones(rng, n), hair, _random_colors(rng, n), _random_colors(rng, n), shoes], 1)


def _pixel_grid(h, w):
    ys = torch.arange(h, dtype=torch.float32).view(1, h, 1) + 0.5
    xs = torch.arange(w, dtype=torch.float32).view(1, 1, w) + 0.5
    return xs, ys


def _smooth_noise(gen, n, channels, cells, h, w) -> torch.Tensor:
    """[n, channels, h, w] in [0, 1]: uniform noise on a cells x cells grid, bilinearly upsampled (blotches)."""
    coarse = torch.rand(n, channels, cells, cells, generator=gen)
    return F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def _f(mask: torch.Tensor) -> torch.Tensor:
    """bool -> float32 0/1. (Through uint8: this CPU build converts and selects on bool tensors slowly, so the
    compositing below blends with float masks instead of torch.where / masked_fill.)"""
    return mask.view(torch.uint8).float()


def _pattern_params(rng, shape, size) -> dict:
    """Two-colour pattern parameters, arrays of ``shape``: one-hot kind weights (stripes, checks, blotches; all
    zero = plain), period 3..10 px at 64 px (scaled with size), angle (as cos, sin), phase, colours c1, c2."""
    angle = rng.uniform(0, np.pi, shape)
    kind = rng.integers(0, 4, shape)
    return {"stripes": kind == 0, "checks": kind == 1, "blotches": kind == 2, "cos": np.cos(angle),
            "sin": np.sin(angle), "freq": 2 * np.pi / (rng.uniform(3, 10, shape) * size / 64),
            "phase": rng.uniform(0, 2 * np.pi, shape), "c1": _random_colors(rng, shape),
            "c2": _random_colors(rng, shape)}


def _paint_patterns(table: dict, slot: torch.Tensor, blotch: torch.Tensor, step: float = 1.0) -> torch.Tensor:
    """Colour [n, 3, h, w] of every pixel from its pattern slot.

    table: per-image pattern parameters, tensors [n, T] (and [n, T, 3] for colours); slot: int64 [n, h, w]
    index into T; blotch: [n, 1, h, w] smooth noise in [0, 1] shared by all of an image's blotch patterns;
    step: size of this grid's pixel in output pixels (2 for a half-resolution layer). Evaluating one pattern
    per pixel (not T patterns per image) keeps this a few dozen elementwise ops per pixel.
    """
    n, h, w = slot.shape
    idx = slot.view(n, h * w)
    pick = lambda key: table[key].gather(1, idx).view(n, h, w)  # noqa: E731
    xs, ys = _pixel_grid(h, w)
    xs, ys = xs * step, ys * step
    cos, sin, freq, phase = pick("cos"), pick("sin"), pick("freq"), pick("phase")
    along = torch.sin((xs * cos + ys * sin).mul_(freq).add_(phase))
    across = torch.sin((ys * cos - xs * sin).mul_(freq).add_(phase))
    # The kind weights are one-hot, so the sign of their weighted sum picks the chosen pattern's 0/1 value.
    value = pick("stripes") * along + pick("checks") * across.mul_(along) + pick("blotches") * (blotch[:, 0] - 0.5)
    m = _f(value > 0).unsqueeze(1)
    idx3 = idx.unsqueeze(-1).expand(n, h * w, 3)
    c1 = table["c1"].gather(1, idx3).view(n, h, w, 3).permute(0, 3, 1, 2)
    c2 = table["c2"].gather(1, idx3).view(n, h, w, 3).permute(0, 3, 1, 2)
    return torch.lerp(c1, c2, m)


def _shape_index(p: dict, on: torch.Tensor, h, w, step: float = 1.0) -> torch.Tensor:
    """float32 [n, h, w]: 1 + index of the last shape (painter's order) covering each pixel, 0 if none.

    Shapes [n, M]: rotated rectangles (rect true) or ellipses with centre (cx, cy), half sizes (ax, ay) in
    output pixels and an angle (as cos, sin); ``on`` [n, M] switches shapes off; ``step`` as in _paint_patterns.
    """
    xs, ys = _pixel_grid(h, w)
    xs, ys = xs * step, ys * step
    n, m = on.shape
    out = torch.zeros(n, h, w)
    e = lambda key, k: p[key][:, k].view(n, 1, 1)  # noqa: E731
    for k in range(m):
        # Shape-frame coordinates are affine in x and y: two cheap [n, 1, w] / [n, h, 1] terms, one full add.
        cos, sin, ax, ay = e("cos", k), e("sin", k), e("ax", k), e("ay", k)
        ox = e("cx", k) * cos + e("cy", k) * sin
        oy = e("cy", k) * cos - e("cx", k) * sin
        u = (xs * (cos / ax) - ox / ax) + ys * (sin / ax)
        v = (ys * (cos / ay) - oy / ay) - xs * (sin / ay)
        u.square_()
        v.square_()
        radius2 = torch.lerp(u + v, torch.maximum(u, v), e("rect", k))
        out = torch.maximum(out, _f(radius2 <= 1).mul_(on[:, k].view(n, 1, 1) * (k + 1)))
    return out


def _shape_params(rng, n, m, size, scale) -> dict:
    angle = rng.uniform(0, np.pi, (n, m))
    return {"rect": rng.random((n, m)) < 0.5, "cx": rng.uniform(0, size, (n, m)),
            "cy": rng.uniform(0, size, (n, m)), "ax": rng.uniform(*scale, (n, m)) * size,
            "ay": rng.uniform(*scale, (n, m)) * size, "cos": np.cos(angle), "sin": np.sin(angle)}


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image [n, 3, h, w] with its own sigma [n] (pixels), separable, reflect-padded."""
    n, ch, h, w = x.shape
    radius = max(1, int(math.ceil(3 * float(sigma.max()))))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (taps.view(1, -1) / sigma.view(-1, 1).clamp_min(1e-3)) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(ch, 0)  # [n * ch, taps]
    y = F.pad(x.reshape(1, n * ch, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k.view(n * ch, 1, 1, -1), groups=n * ch)
    y = F.conv2d(y, k.view(n * ch, 1, -1, 1), groups=n * ch)
    return y.view(n, ch, h, w)


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float32)


def _take(d: dict, sl: slice) -> dict:
    return {k: _t(v[sl]) for k, v in d.items()}


def _draw_camera_response(look, rng, n: int, size: int) -> None:
    """The target style's camera per crop, drawn in this order (the order fixes the images a seed gives): colour
    gain, contrast, brightness, gamma, blur sigma in pixels (scaled with the crop size) and sensor noise."""
    look.gain = rng.uniform(0.8, 1.2, (n, 3))
    look.contrast = rng.uniform(0.6, 1.3, n)
    look.brightness = rng.uniform(-0.1, 0.1, n)
    look.gamma = np.exp(rng.uniform(np.log(0.7), np.log(1.4), n))
    look.blur = rng.uniform(0.3, 1.2, n) * size / 64
    look.noise = rng.uniform(0.01, 0.05, n)


class _SourceStyle:
    """Flat colours, camera light, plain or gradient background."""

    def __init__(self, rng, n, size):
        self.colors = _group_colors(rng, n)
        self.groups = _garment_groups(rng, n)
        self.bg = _random_colors(rng, (n, 2), sat=(0.0, 0.6), val=(0.2, 0.95))
        self.gradient = rng.random(n) < 0.5
        self.bg_angle = rng.uniform(0, 2 * np.pi, n)
        self.light = np.concatenate([rng.uniform(-0.15, 0.15, (n, 2)), -np.ones((n, 1))], 1)
        self.size = size

    def __call__(self, raster, sl, gen):
        n, h, w = raster.region.shape
        region_colors = np.take_along_axis(self.colors[sl], self.groups[sl][..., None], 1)
        xs, ys = _pixel_grid(h, w)
        ang = _t(self.bg_angle[sl]).view(n, 1, 1)
        ramp = ((xs - w / 2) * torch.cos(ang) + (ys - h / 2) * torch.sin(ang)) / max(h, w) + 0.5
        ramp = ramp.clamp(0, 1) * _t(self.gradient[sl]).view(n, 1, 1)
        c = _t(self.bg[sl])
        bg = c[:, 0, :, None, None] + ramp.unsqueeze(1) * (c[:, 1] - c[:, 0])[:, :, None, None]
        image = compose(raster, flat_albedo(raster, _t(region_colors)), bg, _t(self.light[sl]), 0.45)
        return image, torch.zeros(n, h, w, dtype=torch.bool)


class _TargetStyle:
    """Textured clothes, clutter, occluders, random light, colour shift, blur, noise."""

    N_SHAPES, N_BARS, N_OCC = 6, 3, 2

    def __init__(self, rng, n, size):
        ns, nb, no = self.N_SHAPES, self.N_BARS, self.N_OCC
        self.colors = _group_colors(rng, n)
        self.groups = _garment_groups(rng, n)
        # Pattern table, one row per image: slots 0 shirt, 1 pants, then background shapes, bars, occluders.
        clothes = _pattern_params(rng, (n, 2), size)
        shapes = _pattern_params(rng, (n, ns), size)
        shapes["c1"], shapes["c2"] = (_random_colors(rng, (n, ns), sat=(0.05, 0.7)) for _ in range(2))
        bars = _pattern_params(rng, (n, nb), size)
        for kind in ("stripes", "checks", "blotches"):
            bars[kind][:] = False  # flat, half of them skin-coloured: limb-like distractors
        bars["c1"] = np.where((rng.random((n, nb)) < 0.5)[..., None],
                              _skin_tones(rng, n * nb).reshape(n, nb, 3), _random_colors(rng, (n, nb)))
        occ = _pattern_params(rng, (n, no), size)
        self.table = {k: np.concatenate([clothes[k], shapes[k], bars[k], occ[k]], 1) for k in clothes}
        self.bg_base = _random_colors(rng, (n, 3, 3), sat=(0.0, 0.5), val=(0.2, 0.9)).transpose(0, 3, 1, 2)
        shape_geo = _shape_params(rng, n, ns, size, scale=(0.06, 0.22))
        bar_geo = _shape_params(rng, n, nb, size, scale=(0.03, 0.06))
        bar_geo["rect"][:] = True
        bar_geo["ax"] = rng.uniform(0.12, 0.3, (n, nb)) * size
        self.layers = {k: np.concatenate([shape_geo[k], bar_geo[k]], 1) for k in shape_geo}
        self.layer_on = np.concatenate([rng.random((n, ns)) < 0.7, rng.random((n, nb)) < 0.5], 1)
        # Occluders: 0, 1 or 2 shapes centred near a random joint.
        self.occ = _shape_params(rng, n, no, size, scale=(0.08, 0.2))
        self.occ_on = np.arange(no)[None] < rng.choice(3, n, p=[0.55, 0.3, 0.15])[:, None]
        self.occ_joint = rng.integers(0, 17, (n, no))
        self.occ_offset = rng.uniform(-0.06, 0.06, (n, no, 2)) * size
        tilt = rng.uniform(0, np.radians(60), n)
        az = rng.uniform(0, 2 * np.pi, n)
        self.light = np.stack([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), -np.cos(tilt)], 1)
        self.ambient = rng.uniform(0.3, 0.6, n)
        _draw_camera_response(self, rng, n, size)

    def __call__(self, raster, sl, gen):
        n, h, w = raster.region.shape
        ns, nb = self.N_SHAPES, self.N_BARS
        table = _take(self.table, sl)

        # Background at half resolution (it is blurred anyway): colour-noise base under textured shapes and
        # limb-like bars in painter's order, then upsampled.
        hb, wb = (h + 1) // 2, (w + 1) // 2
        layer = _shape_index(_take(self.layers, sl), _t(self.layer_on[sl]), hb, wb, step=2.0)
        blotch_half = _smooth_noise(gen, n, 1, 6, hb, wb)
        layer_paint = _paint_patterns(table, (layer + 1).long(), blotch_half, step=2.0)  # slot 2 + index
        base = F.interpolate(_t(self.bg_base[sl]), size=(hb, wb), mode="bilinear", align_corners=False)
        bg = torch.lerp(base, layer_paint, _f(layer > 0).unsqueeze(1))
        image = F.interpolate(bg, size=(h, w), mode="bilinear", align_corners=False)

        # Figure: flat skin, hair and shoes; patterned shirt and pants; then Lambert shading.
        fg = raster.foreground
        pix_group = torch.as_tensor(self.groups[sl]).gather(1, raster.region.clamp_min(0).view(n, -1)).view(n, h, w)
        pants = _f(pix_group == _PANTS)
        garment = _f(fg & ((pix_group == _SHIRT) | (pix_group == _PANTS)))
        # Occluders over everything, centred near a random joint.
        occ = _take(self.occ, sl)
        joint = torch.as_tensor(self.occ_joint[sl])
        centre = raster.keypoints.gather(1, joint.unsqueeze(-1).expand(-1, -1, 2)) + _t(self.occ_offset[sl])
        occ["cx"], occ["cy"] = centre[..., 0], centre[..., 1]
        occluder = _shape_index(occ, _t(self.occ_on[sl]), h, w)
        occluded = _f(occluder > 0)
        # Full-resolution slots: 0 shirt / 1 pants on the figure, 2 + ns + nb + k under occluder k.
        slot = torch.lerp(pants, occluder + (1 + ns + nb), occluded).long()
        paint = _paint_patterns(table, slot, _smooth_noise(gen, n, 1, 6, h, w))
        region_colors = np.take_along_axis(self.colors[sl], self.groups[sl][..., None], 1)
        image = torch.lerp(image, flat_albedo(raster, _t(region_colors)), _f(fg).unsqueeze(1))
        image = torch.lerp(image, paint, garment.unsqueeze(1))
        image = image.mul_(shading(raster, _t(self.light[sl]), _t(self.ambient[sl])))
        image = torch.lerp(image, paint, occluded.unsqueeze(1))

        # Camera and processing differences: gain, contrast about the mean and brightness as one affine map,
        # then gamma, blur and noise.
        gain = _t(self.gain[sl])[:, :, None, None]
        contrast = _t(self.contrast[sl]).view(n, 1, 1, 1)
        image = image.mul_(gain)
        mean = image.mean((1, 2, 3), keepdim=True)
        image = image.mul_(contrast).add_((1 - contrast) * mean + _t(self.brightness[sl]).view(n, 1, 1, 1))
        image = image.clamp_(0, 1).pow_(_t(self.gamma[sl]).view(n, 1, 1, 1))
        image = _gaussian_blur(image, _t(self.blur[sl]))
        image = image.add_(torch.randn(image.shape, generator=gen).mul_(_t(self.noise[sl]).view(n, 1, 1, 1)))
        return image.clamp_(0, 1), occluded > 0


def make_domain(style: str, n: int, size: int = 64, seed: int = 0, poses=None) -> ImagePoseDataset:
    """Render ``n`` person crops of ``size`` x ``size`` pixels (64..128 advised) in a domain ``style``.

    Args:
        style: "source" (SURREAL-like) or "target" (LSP-like); see the module docstring.
        n: number of images.
        size: crop side in pixels.
        seed: everything (poses, cameras, appearance, noise) is drawn from (seed, style).
        poses: optional root-relative h36m17 poses [n, 17, 3] in metres, y down, facing -z (the frame of
            ``poses.sample_poses``) to use instead of the built-in sampler (e.g. ``posefast.data.synth3d.synthetic``'s);
            each still gets a random yaw, camera pitch/roll and distance.

    Returns:
        ImagePoseDataset with images [n, 3, size, size] float32 in [0, 1], Body16 keypoints [n, 16, 2] in pixels
        and visible [n, 16] (inside the crop, not self-occluded by the rule of ``posefast.data.image2d.render``, and,
        for the target style, not under an occluder). ``meta`` holds style, seed and size; ``extras`` the
        camera-frame 3D poses ("poses_cam", float32 [n, 17, 3]) and intrinsics ("cameras", float32 [n, 4]).
    """
    if style not in STYLES:
        raise ValueError(f"style: expected one of {STYLES}, got {style!r}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 16:
        raise ValueError(f"size: expected an int >= 16 (64..128 advised), got {size!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    n, size = int(n), int(size)
    ss = np.random.SeedSequence([int(seed), STYLES.index(style)])
    pose_rng, cam_rng, look_rng, noise_rng = (np.random.default_rng(s) for s in ss.spawn(4))

    if poses is None:
        poses = sample_poses(n, pose_rng)
    else:
        poses = np.asarray(poses, dtype=np.float64)
        if poses.shape != (n, 17, 3):
            raise ValueError(f"poses: expected [n={n}, 17, 3] h36m17 root-relative poses, got {poses.shape}")
    target = style == "target"
    poses_cam = place_in_camera(poses, cam_rng)
    cameras = crop_cameras(poses_cam, size, cam_rng, fill=(0.65, 0.95) if target else (0.7, 0.9),
                           jitter=0.06 if target else 0.03)
    look = (_TargetStyle if target else _SourceStyle)(look_rng, n, size)
    chunk = max(16, _CHUNK_PIXELS // (size * size))
    chunk_seeds = noise_rng.integers(0, 2 ** 62, max(1, -(-n // chunk)))

    images = torch.empty(n, 3, size, size)
    keypoints = torch.empty(n, 17, 2)
    visible = torch.empty(n, 17)
    for c, start in enumerate(range(0, n, chunk)):
        sl = slice(start, min(n, start + chunk))
        raster = rasterize(poses_cam[sl], cameras[sl], size)
        gen = torch.Generator().manual_seed(int(chunk_seeds[c]))
        image, occluded = look(raster, sl, gen)
        vis = raster.visible
        kp = raster.keypoints
        # Occluders hide the keypoints whose pixel they cover.
        col = kp[..., 0].floor().clamp(0, size - 1).long()
        row = kp[..., 1].floor().clamp(0, size - 1).long()
        covered = occluded.view(occluded.shape[0], -1).gather(1, row * size + col)
        images[sl], keypoints[sl], visible[sl] = image, kp, vis * (~covered).float()

    return ImagePoseDataset(
        images, h36m17_to_body16(keypoints).contiguous(), h36m17_to_body16(visible[..., None])[..., 0].contiguous(),
        BODY16_NAMES, {"style": style, "seed": int(seed), "size": size},
        {"poses_cam": torch.as_tensor(poses_cam, dtype=torch.float32),
         "cameras": torch.as_tensor(cameras, dtype=torch.float32)})
