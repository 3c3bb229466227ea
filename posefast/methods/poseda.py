"""PoseDA (Chai et al., "Global Adaptation meets Local Generalization: Unsupervised Domain Adaptation for 3D Human
Pose Estimation", ICCV 2023): global position alignment (GPA) + local pose augmentation (LPA).

GPA (released as a function by the authors): every source 3D pose is moved, root-relative pose unchanged, to a
global position (root ray and depth) taken from the target domain's 2D, and projected with a target sample's camera;
the lifter learns from those aligned 2D→3D pairs. Only target 2D and intrinsics are used, never target 3D. The
pairing with target samples is redrawn every epoch.

``poseda.gpa_align`` chooses how GPA places each source pose (root-relative pose always unchanged):

- ``pair`` (the released ``gpa()``, rese1f/PoseDA README.md:14-59; ``tests/test_parity_poseda_gpa.py``): the root on
  the ray of the paired target pose's 2D root, at the depth where the source pose's 3D extent projects to the paired
  pose's 2D box scale. Every aligned pose then has its partner's 2D size whatever its own extent, its depth follows
  its extent over the partner's (a crouching partner pushes a standing source far away), and its root sits where a
  pose of another build and height stood: the image position, depth and pose no longer hang together as a camera
  rig makes them (a bigger pose looks bigger, the feet and the pelvis sit where the floor and the pose put them).
  The lifter loses those cues, on a target filmed by the source's own rig as much as on a far one.
- ``matched-depth``: the paired target pose's root, but each source pose keeps its own depth, mapped onto the
  target's depth distribution (:func:`log_depth_moments`, :func:`matched_depth`).
- ``matched`` (default; our reading of the paper's "align global positions of poses from the source domain to the
  target domain" as matching the distributions instead of copying one partner's position and scale): each source
  pose keeps its own root ray and depth, each mapped monotonically onto the target's distribution estimated from
  the target's 2D only — the root ray's mean and spread per axis (:func:`ray_moments`, :func:`matched_ray`) and the
  log depth's (:func:`log_depth_moments`, from the target's 2D box scales, the statistic the release uses, and the
  source's 3D extents); the paired target sample only lends its camera (intrinsics, image size). On a target filmed
  as the source was, the placement is about the identity.

``poseda.gpa_moments=target-3d`` is a diagnostic, not a method: the target halves of those moments are measured on
the target's 3D training labels (:func:`true_moments`) instead of estimated from its 2D, which tells how much of
GPA's result on a target is the estimate's error and how much the placement itself (mapping the source's positions
onto the target's distributions); ``target-3d-depth`` maps only the depth onto the true moments and keeps every
source pose on its own root ray, which separates the two halves of the placement.

LPA (not released; our reading of the paper, each choice tied to its text):
- "a augmentation generator that generates the parameters of pre-defined pose transformations": PoseAug's BA and BL
  heads (bone-direction offsets, symmetric bone-length ratios) applied by the ``bone_angle_augment`` /
  ``bone_length_augment`` kernels — local transformations only; global position is GPA's job.
- "an anchor discriminator to ensure the reality and quality of the augmented data". The paper's public text (the
  abstract; the authors' comment in wenhaochai/PoseDA issue #1: no adversarial loss between generator and lifter,
  the lifter trained after the data is generated) does not say what the anchors are, what the discriminator sees
  or which side is real. ``poseda.anchor`` selects a reading:
  - ``both`` (default): ``target2d-local`` + ``source3d`` below, the reading that gives each of the paper's two
    words its own judge — "reality" (plausible joint angles: the source's own 3D poses as real) and "quality"
    (target-like local 2D shape: the target's 2D poses as real). It is the default because it is the one that
    works across the single-factor targets and the full pair (docs/results.md, the factor table): the source-3D
    discriminator holds the generated change near the target's extra spread instead of letting the 2D anchor
    alone pull bones far off.
  - ``target2d-local``: the anchors are the target domain's 2D poses — the only target data the method
    has, which GPA already uses for position — and the discriminator sees their local 2D shape
    (``AnchorDiscriminator``: root-relative, scale-normalised pose + bone directions); fakes are the augmented
    source poses, GPA-aligned and projected with the paired target camera. "Quality" = target-like local shape.
  - ``target2d``: the same anchors, seen as the lifter sees them (normalised screen coordinates, PoseAug's 2D
    discriminator); after GPA real and fake share their global position, so this differs from the above only in
    what the discriminator may use (scale and position as well as shape).
  - ``source3d``: the anchors are the source's own 3D poses (PoseAug's part-KCS discriminator, real = other source
    poses): "reality" = plausible joint angles, with no target information in LPA at all.
- "no additional learnable parameters" for the lifter and no feedback from it: the generator and discriminator are
  trained first (``lpa_epochs``), then ``lpa_copies`` augmented copies of the source are generated once and the lifter
  trains on source + generated poses, all GPA-aligned.
- A range loss keeps the mean bone-angle change in a band and a rectified L2 keeps bone-length ratios small (as in
  PoseAug), so the generator neither collapses to the identity nor breaks the body.
- ``poseda.generator_init``: ``release`` (PoseAug's Kaiming output layers: bone-angle changes of 1 − cos ≈ 0.4 before
  any training, which the few hundred LPA steps of a CPU run do not undo) or ``identity`` (output layers scaled by
  ``generator_init_scale``: the heads start near the unchanged pose and the losses move them outward).
"""
from __future__ import annotations

import torch
from tqdm import tqdm

from posefast.methods.base import LiftingMethod
from posefast.data.domains import load_target_labels, root_relative
from posefast.methods.diagnostics import EpochDistributions, real_fake_accuracy
from posefast.methods.losses import discriminator_loss, lsgan, range_loss, rectified_l2
from posefast.engine.optim import adam
from posefast.models import AnchorDiscriminator, BAHead, BLHead, PartKCSDiscriminator, PoseDiscriminator2D, bone_lengths
from posefast.ops import (bone_angle_augment, bone_length_augment, global_position_align, normalize_screen,
                          part_kcs_compact, project)
from posefast.seeds import derive_seed

ANCHORS = ("target2d-local", "target2d", "source3d", "both")
GPA_ALIGNS = ("matched", "matched-depth", "pair")


def _log_stats(x: torch.Tensor, what: str) -> tuple[float, float]:
    """Mean and standard deviation of log x over the finite, positive entries of ``x``."""
    x = x.detach().to(torch.float64).flatten()
    x = x[torch.isfinite(x) & (x > 0)]
    if x.numel() < 2:
        raise ValueError(f"{what}: GPA needs at least 2 finite, positive values, got {x.numel()}")
    lx = x.log()
    return float(lx.mean()), float(lx.std())


def log_depth_moments(source_3d: torch.Tensor, target_2d: torch.Tensor, target_camera: torch.Tensor):
    """``(mu_s, sd_s, mu_t, sd_t)``: mean and spread of log root depth of the source (measured) and of the target
    (estimated from its 2D only), for :func:`matched_depth`.

    A pose's 2D scale divided by the focal length is its angular size a = e / z (weak perspective), with e the 3D
    extent the released ``gpa()`` uses, ``(Δx + Δy) / 2``, and z the root depth. log a_t = log e_t − log z_t; with
    the target's extents distributed as the source's and independent of depth (as a camera rig makes them),
    E[log z_t] = E[log e_s] − E[log a_t] and Var[log z_t] = Var[log a_t] − Var[log e_s] (floored at 0). The
    target's a_t is ``(w / fx + h / fy) / 2`` of its keypoint box, the same box statistic ``gpa()`` uses.
    """
    extent = source_3d[..., :2].amax(-2) - source_3d[..., :2].amin(-2)
    mu_e, sd_e = _log_stats(extent.mean(-1), "source 3D extent")
    mu_s, sd_s = _log_stats(source_3d[..., 0, 2], "source root depth")
    box = target_2d.amax(-2) - target_2d.amin(-2)
    mu_a, sd_a = _log_stats((box[..., 0] / target_camera[..., 0] + box[..., 1] / target_camera[..., 1]) / 2,
                            "target 2D scale")
    return mu_s, sd_s, mu_e - mu_a, max(sd_a ** 2 - sd_e ** 2, 0.0) ** 0.5


def true_moments(source_3d: torch.Tensor, target_3d: torch.Tensor):
    """``(depth moments, ray moments)`` as :func:`log_depth_moments` and :func:`ray_moments` give them, the target's
    halves measured on its 3D roots instead of estimated from its 2D: the ``gpa_moments=target-3d`` diagnostic (it
    reads target labels, so it is not adaptation). The root ray is the 2D root's, so only the depth half differs
    from the estimate."""
    depth, ray = [], []
    for joints, what in ((source_3d, "source"), (target_3d, "target")):
        depth += _log_stats(joints[..., 0, 2], f"{what} root depth")
        r = (joints[..., 0, :2] / joints[..., 0, 2:]).detach().to(torch.float64).reshape(-1, 2)
        r = r[torch.isfinite(r).all(-1)]
        if r.shape[0] < 2:
            raise ValueError(f"{what} root ray: GPA needs at least 2 finite values, got {r.shape[0]}")
        ray += [r.mean(0), r.std(0)]
    return tuple(depth), tuple(ray)


def matched_depth(depth: torch.Tensor, moments) -> torch.Tensor:
    """The source root depths mapped onto the target's estimated depth distribution, monotonically in log depth:
    ``exp(mu_t + sd_t (log z − mu_s) / sd_s)``; identity when both distributions agree. A source without depth
    spread (sd_s = 0) goes to the target's typical depth exp(mu_t)."""
    mu_s, sd_s, mu_t, sd_t = moments
    gain = sd_t / sd_s if sd_s > 0 else 0.0
    return torch.exp(mu_t + gain * (depth.log() - mu_s))


def ray_moments(source_3d: torch.Tensor, target_2d: torch.Tensor, target_camera: torch.Tensor):
    """``(mean_s, sd_s, mean_t, sd_t)``, each ``[2]``: per axis, the mean and spread of the root's camera ray
    ``(x / z, y / z)`` over the source's 3D poses and over the target's 2D roots (``(u0 − cx) / fx``, ``(v0 − cy) /
    fy`` with each target sample's own camera), for :func:`matched_ray`."""
    ray_s = source_3d[..., 0, :2] / source_3d[..., 0, 2:]
    cam = target_camera[..., :4]
    ray_t = (target_2d[..., 0, :] - cam[..., 2:]) / cam[..., :2]
    out = []
    for ray, what in ((ray_s, "source root ray"), (ray_t, "target 2D root")):
        ray = ray.detach().to(torch.float64).reshape(-1, 2)
        ray = ray[torch.isfinite(ray).all(-1)]
        if ray.shape[0] < 2:
            raise ValueError(f"{what}: GPA needs at least 2 finite values, got {ray.shape[0]}")
        out += [ray.mean(0), ray.std(0)]
    return tuple(out)


def matched_ray(ray: torch.Tensor, moments) -> torch.Tensor:
    """Root rays ``[..., 2]`` mapped per axis onto the target's: ``mean_t + sd_t (ray − mean_s) / sd_s``; identity
    when both agree; an axis without source spread goes to the target's mean."""
    mean_s, sd_s, mean_t, sd_t = (m.to(ray) for m in moments)
    gain = torch.where(sd_s > 0, sd_t / sd_s.clamp(min=torch.finfo(sd_s.dtype).tiny), torch.zeros_like(sd_s))
    return mean_t + gain * (ray - mean_s)


def place_root(joints_3d: torch.Tensor, root_2d: torch.Tensor, depth: torch.Tensor,
               camera: torch.Tensor) -> torch.Tensor:
    """The pose moved, root-relative shape unchanged, so that its root (joint 0) sits at ``depth`` on the camera
    ray through ``root_2d`` (pixels of ``camera`` = ``(fx, fy, cx, cy)``, one per pose): GPA's root placement
    with the depth given."""
    fx, fy, cx, cy = camera.unbind(-1)
    root = torch.stack([depth * (root_2d[..., 0] - cx) / fx, depth * (root_2d[..., 1] - cy) / fy, depth], -1)
    return joints_3d - joints_3d[..., :1, :] + root[..., None, :]


def estimate_camera(image_size: torch.Tensor) -> torch.Tensor:
    """Pinhole intrinsics ``[N, 4]`` for images of ``[N, 2]`` (width, height) whose camera is unknown: principal
    point at the image centre and f = max(w, h), a ~53° field of view across the longer side — between Human3.6M's
    (f ≈ 1145 px at 1000 px) and MPI-INF-3DHP's (f ≈ 1500 px at 2048 px) cameras."""
    size = image_size.to(torch.float32)
    f = size.max(dim=-1).values
    return torch.stack([f, f, size[:, 0] / 2, size[:, 1] / 2], dim=-1)


class PoseDA(LiftingMethod):
    name = "poseda"
    config_section = "poseda"  # the settings a resumed run must keep (besides the common ones)
    # diagnostics of the section and their off values (engine/trainer.py leaves them out of the resume settings there)
    diagnostic_switches = {"gpa_moments": "target-2d"}
    use_gpa: bool | None = None  # the ablation subclasses fix these
    use_lpa: bool | None = None

    def __init__(self, cfg, data, dist):
        super().__init__(cfg, data, dist)
        pc = self.pc = cfg.poseda
        self.gpa = pc.gpa if self.use_gpa is None else self.use_gpa
        self.lpa = pc.lpa if self.use_lpa is None else self.use_lpa
        tgt = data.target_train
        if pc.target_camera == "given":
            self.target_camera = tgt["camera"]
        elif pc.target_camera == "estimate":
            self.target_camera = estimate_camera(tgt["image_size"]).to(tgt["joints_2d"])
        else:
            raise ValueError(f"poseda.target_camera: expected 'given' or 'estimate', got {pc.target_camera!r}")
        if pc.gpa_align not in GPA_ALIGNS:
            raise ValueError(f"poseda.gpa_align: expected one of {', '.join(GPA_ALIGNS)}, got {pc.gpa_align!r}")
        # gpa_align "matched"/"matched-depth": (mu_s, sd_s, mu_t, sd_t) of log root depth; "matched": the root ray's too
        self.depth_map = self.ray_map = None
        if self.gpa and pc.gpa_align != "pair":
            self.depth_map = log_depth_moments(data.source_train["joints_3d"], tgt["joints_2d"], self.target_camera)
        if self.gpa and pc.gpa_align == "matched":
            self.ray_map = ray_moments(data.source_train["joints_3d"], tgt["joints_2d"], self.target_camera)
        if pc.gpa_moments in ("target-3d", "target-3d-depth"):  # diagnostics: true moments from target 3D labels
            if not self.gpa or pc.gpa_align != "matched":
                raise ValueError(f"poseda.gpa_moments={pc.gpa_moments}: replaces the moments of gpa_align=matched, "
                                 f"and this run has {'no GPA' if not self.gpa else f'gpa_align={pc.gpa_align}'}")
            labels = load_target_labels(data.target_spec or cfg.target, data.skeleton, dist.device, cfg.n_target,
                                        cfg.seed)
            self.depth_map, self.ray_map = true_moments(data.source_train["joints_3d"], labels["joints_3d"])
            if pc.gpa_moments == "target-3d-depth":  # the source's own ray moments on both sides: the identity
                mean_s, sd_s = self.ray_map[:2]
                self.ray_map = (mean_s, sd_s, mean_s, sd_s)
        elif pc.gpa_moments != "target-2d":
            raise ValueError(f"poseda.gpa_moments: expected one of target-2d, target-3d, target-3d-depth, got "
                             f"{pc.gpa_moments!r}")
        self.generated: torch.Tensor | None = None  # LPA poses [M, J, 3], camera frame of their source sample
        self.generated_from: torch.Tensor | None = None  # [M] source index each generated pose came from
        self.diagnostics = EpochDistributions()
        self.anchor_d = self.pose_d = None
        if self.lpa:
            skel, dev = self.skeleton, self.device
            if pc.anchor not in ANCHORS:
                raise ValueError(f"poseda.anchor: expected one of {', '.join(ANCHORS)}, got {pc.anchor!r}")
            self.ba_head = BAHead(skel, noise_dim=pc.noise_dim).to(dev)
            self.bl_head = BLHead(skel, noise_dim=pc.noise_dim).to(dev)
            if pc.anchor in ("target2d-local", "both"):
                self.anchor_d = AnchorDiscriminator(skel).to(dev)
            elif pc.anchor == "target2d":
                self.anchor_d = PoseDiscriminator2D(skel.num_joints).to(dev)
            if pc.anchor in ("source3d", "both"):
                self.pose_d = PartKCSDiscriminator.from_skeleton(skel, compact=True).to(dev)
            if pc.generator_init == "identity":
                self.ba_head.mlp.scale_output(pc.generator_init_scale)
                self.bl_head.mlp.scale_output(pc.generator_init_scale)
            elif pc.generator_init != "release":
                raise ValueError(f"poseda.generator_init: expected 'release' or 'identity', got {pc.generator_init!r}")
            self.opt_g = adam([*self.ba_head.parameters(), *self.bl_head.parameters()], lr=pc.lr_generator)
            self.opt_d = adam([p for d in self._discriminators() for p in d.parameters()], lr=pc.lr_discriminator)

    # -- checkpointed state ---------------------------------------------------------------------------------------
    def _discriminators(self) -> list:
        return [d for d in (self.anchor_d, self.pose_d) if d is not None]

    def modules(self):
        extra = {}
        if self.lpa:
            extra = {"ba_head": self.ba_head, "bl_head": self.bl_head}
            extra.update({k: m for k, m in (("anchor_d", self.anchor_d), ("pose_d", self.pose_d)) if m is not None})
        return {**super().modules(), **extra}

    def optimizers(self):
        extra = {"generator": self.opt_g, "anchor_d": self.opt_d} if self.lpa else {}
        return {**super().optimizers(), **extra}

    def extra_state(self):
        return {"generated": self.generated, "generated_from": self.generated_from,
                "diagnostics": self.diagnostics.state_dict()}

    def load_extra_state(self, state):
        self.generated, self.generated_from = state["generated"], state["generated_from"]
        if "diagnostics" in state:
            self.diagnostics.load_state_dict(state["diagnostics"])

    def epoch_diagnostics(self) -> dict:
        """With LPA, in the first epoch's record (metrics.jsonl ``diagnostics``): ``lpa_change`` (per training step,
        the mean 1 − cos of the bone-angle change, with the range loss's band), ``lpa_bl_ratio`` (mean |bone-length
        ratio|), the discriminators' accuracies on real and generated samples (``anchor_*``: the 2D anchor
        discriminator, ``kcs_*``: the source-3D one), and ``generated_change`` / ``generated_angle_deg`` (the poses
        the lifter will see: mean 1 − cos and the per-bone angle change in degrees)."""
        return self.diagnostics.summary()

    # -- GPA --------------------------------------------------------------------------------------------------------
    def place(self, joints_3d: torch.Tensor, source_index: torch.Tensor, generator: torch.Generator):
        """(3D in the camera it is seen by, its normalised 2D): GPA-aligned to random target samples, or left in
        the source camera when GPA is off."""
        if self.gpa:
            tgt = self.data.target_train
            pick = torch.randint(0, tgt["joints_2d"].shape[0], (joints_3d.shape[0],), generator=generator)
            pick = pick.to(joints_3d.device)
            camera, size = self.target_camera[pick], tgt["image_size"][pick]
            if self.depth_map is None:  # "pair": the release's per-pair depth
                joints_3d = global_position_align(joints_3d, tgt["joints_2d"][pick], camera[:, :4],
                                                  depth_range=(self.pc.depth_min, self.pc.depth_max))
            else:
                root = joints_3d[:, 0]
                depth = matched_depth(root[:, 2], self.depth_map).clamp(self.pc.depth_min, self.pc.depth_max)
                if self.ray_map is None:  # "matched-depth": the paired target pose's root
                    root_2d = tgt["joints_2d"][pick, 0]
                else:  # "matched": the pose's own root ray, mapped; the paired sample only lends its camera
                    ray = matched_ray(root[:, :2] / root[:, 2:], self.ray_map)
                    root_2d = ray * camera[:, :2] + camera[:, 2:4]
                joints_3d = place_root(joints_3d, root_2d, depth, camera[:, :4])
        else:
            src = self.data.source_train
            camera, size = src["camera"][source_index], src["image_size"][source_index]
        size = size.to(joints_3d.dtype)
        uv = normalize_screen(project(joints_3d, camera), size[:, 0], size[:, 1])
        return joints_3d, uv

    def train_split(self, epoch: int) -> dict:
        src = self.data.source_train["joints_3d"]
        index = torch.arange(src.shape[0], device=src.device)
        if self.generated is not None:
            src = torch.cat([src, self.generated])
            index = torch.cat([index, self.generated_from])
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "train-split", epoch=epoch))  # a pure function of (seed, epoch)
        joints_3d, uv = self.place(src, index, g)
        return {"joints_3d": joints_3d, "joints_2d_norm": uv}

    # -- LPA --------------------------------------------------------------------------------------------------------
    def augment(self, joints_3d: torch.Tensor):
        """BA then BL with the generator's parameters; returns (pose, mean bone-angle change, length ratios)."""
        rel = root_relative(joints_3d)
        delta = self.ba_head(rel)
        ratio = self.bl_head(rel, bone_lengths(rel, self.skeleton))
        ba, cos_change = bone_angle_augment(joints_3d, delta, self.skeleton)
        return bone_length_augment(ba, ratio, self.skeleton), cos_change.mean(-1), ratio

    def anchors(self, n: int, generator: torch.Generator) -> torch.Tensor:
        tgt = self.data.target_train
        pick = torch.randint(0, tgt["joints_2d_norm"].shape[0], (n,), generator=generator).to(self.device)
        return tgt["joints_2d_norm"][pick]

    def _adversarial(self, uv: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """The generator's adversarial loss against the configured discriminator(s)."""
        pc, loss = self.pc, uv.new_zeros(())
        if self.anchor_d is not None:
            loss = loss + pc.weight_adv * lsgan(self.anchor_d(uv), True)
        if self.pose_d is not None:
            loss = loss + pc.weight_adv_3d * lsgan(self.pose_d(part_kcs_compact(pose, self.skeleton)), True)
        return loss

    def _discriminator_loss(self, uv, pose, index, generator) -> torch.Tensor:
        loss = uv.new_zeros(())
        if self.anchor_d is not None:
            real, fake = self.anchor_d(self.anchors(uv.shape[0], generator)), self.anchor_d(uv)
            loss = loss + discriminator_loss(real, fake)
            self._record_accuracy("anchor", real, fake)
        if self.pose_d is not None:  # real: other source poses than the batch's own (as the release's loaders)
            src = self.data.source_train["joints_3d"]
            other = torch.randint(0, src.shape[0], (pose.shape[0],), generator=generator).to(pose.device)
            real = self.pose_d(part_kcs_compact(src[other], self.skeleton))
            fake = self.pose_d(part_kcs_compact(pose, self.skeleton))
            loss = loss + discriminator_loss(real, fake)
            self._record_accuracy("kcs", real, fake)
        return loss

    def _record_accuracy(self, name, real, fake) -> None:
        acc_real, acc_fake = real_fake_accuracy(real, fake)
        self.diagnostics.add(f"{name}_acc_real", acc_real)
        self.diagnostics.add(f"{name}_acc_fake", acc_fake)

    def train_lpa(self) -> None:
        pc = self.pc
        src = self.data.source_train["joints_3d"]
        n, bs = src.shape[0], min(pc.lpa_batch_size, src.shape[0])
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "poseda-lpa"))
        steps = pc.lpa_epochs * (n // bs)
        for m in (self.ba_head, self.bl_head, *self._discriminators()):
            m.train()
        bar = tqdm(range(steps), desc="poseda LPA generator", leave=False,
                   disable=not (self.cfg.progress and self.dist.is_main), dynamic_ncols=True)
        for _ in bar:
            index = torch.randint(0, n, (bs,), generator=g).to(self.device)
            pose, change, ratio = self.augment(src[index])
            _, uv = self.place(pose, index, g)
            self.diagnostics.add("lpa_change", change, (max(pc.ba_range_center - pc.ba_range_width, 0.0),
                                                        pc.ba_range_center + pc.ba_range_width))
            self.diagnostics.add("lpa_bl_ratio", ratio.abs().mean(-1))
            for d in self._discriminators():
                d.requires_grad_(False)
            reg = range_loss(change, pc.ba_range_center, pc.ba_range_width) + rectified_l2(ratio, pc.bl_limit)
            loss_g = self._adversarial(uv, pose) + pc.weight_reg * reg
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            for d in self._discriminators():
                d.requires_grad_(True)
            loss_d = self._discriminator_loss(uv.detach(), pose.detach(), index, g)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            if not bar.disable:  # three host reads a step: only for a bar someone sees
                bar.set_postfix(g=f"{float(loss_g.detach()):.3f}", d=f"{float(loss_d.detach()):.3f}",
                                change=f"{float(change.detach().mean()):.3f}", refresh=False)

    @torch.no_grad()
    def generate(self) -> None:
        src = self.data.source_train["joints_3d"]
        # "eval" (default): the heads' running batch-norm statistics; "train": batch statistics, as during the GAN
        # steps the discriminator judged (and as PoseAug feeds its lifter)
        mode = self.pc.generate_mode
        if mode not in ("train", "eval"):
            raise ValueError(f"poseda.generate_mode: expected 'train' or 'eval', got {mode!r}")
        self.ba_head.train(mode == "train"), self.bl_head.train(mode == "train")
        poses, origin = [], []
        for _ in range(self.pc.lpa_copies):
            for index in torch.arange(src.shape[0], device=src.device).split(4096):
                pose, change, _ = self.augment(src[index])
                poses.append(pose)
                origin.append(index)
                self.diagnostics.add("generated_change", change)
        self.generated, self.generated_from = torch.cat(poses), torch.cat(origin)
        parents = torch.tensor(self.skeleton.parents_array[1:], device=src.device)
        a = self.generated[:256, 1:] - self.generated[:256, parents]
        b = src[self.generated_from[:256]][:, 1:] - src[self.generated_from[:256]][:, parents]
        cos = torch.nn.functional.cosine_similarity(a, b, dim=-1).clamp(-1, 1)
        self.diagnostics.add("generated_angle_deg", torch.rad2deg(torch.acos(cos)).mean(-1))  # per pose, over bones

    def begin_epoch(self, epoch: int) -> None:
        if self.lpa and self.generated is None:  # once, before the lifter's first epoch (restored on resume)
            self.train_lpa()
            self.generate()

    # samples.png: the rows are index-aligned (column i follows one source pose) and each LPA pose is drawn over
    # the pose it was made from, in the same frame
    @property
    def _placed_title(self) -> str:
        return "GPA-aligned source" if self.gpa else "source in its camera"

    @property
    def plot_paired(self) -> tuple:
        return ("source", self._placed_title, "LPA")

    @property
    def plot_reference(self) -> dict:
        return {"LPA": self._placed_title}

    def plot_groups(self, count: int = 64):
        """``{title: (3D, normalised 2D)}`` for samples.png, all made from the same first ``count`` source samples:
        the source as filmed, the source placed by GPA (left in its own camera without GPA) and, with LPA, the
        first generated pose of each of those sources placed with the *same* target sample as its source (same
        root, same 2D scale), so every generated pose sits under, and is drawn over, its own source."""
        src = self.data.source_train
        n = src["joints_3d"].shape[0]
        index = torch.arange(min(count, n), device=src["joints_3d"].device)
        seed = derive_seed(self.cfg.seed, "train-split", epoch=0)  # epoch 0's pairing with target samples
        j3d, uv = self.place(src["joints_3d"][index], index, torch.Generator().manual_seed(seed))
        groups = {"source": (src["joints_3d"][index].cpu().numpy(), src["joints_2d_norm"][index].cpu().numpy()),
                  self._placed_title: (j3d.cpu().numpy(), uv.cpu().numpy())}
        if self.generated is not None:
            g3d, guv = self.place(self.generated[self.first_generated(index)], index,
                                  torch.Generator().manual_seed(seed))
            groups["LPA"] = (g3d.cpu().numpy(), guv.cpu().numpy())
        return groups

    def first_generated(self, source_index: torch.Tensor) -> torch.Tensor:
        """Row in ``generated`` of the first pose made from each source sample of ``source_index``."""
        n = self.data.source_train["joints_3d"].shape[0]
        order = torch.arange(self.generated_from.shape[0], device=self.generated_from.device)
        first = torch.full((n,), self.generated_from.shape[0], dtype=torch.long, device=order.device)
        first.scatter_reduce_(0, self.generated_from, order, reduce="amin")
        return first[source_index]


class GPAOnly(PoseDA):
    name = "gpa"
    use_gpa, use_lpa = True, False


class LPAOnly(PoseDA):
    name = "lpa"
    use_gpa, use_lpa = False, True
