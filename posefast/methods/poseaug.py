"""PoseAug (Gong et al., "PoseAug: A Differentiable Pose Augmentation Framework for 3D Human Pose Estimation",
CVPR 2021), following the released code where it differs from the paper (noted inline).

Per step: the augmentor predicts BA/BL/RT parameters from the source pose; the fused ``augment_pipeline`` kernel
applies them and projects the result; the part-aware KCS discriminator judges the BA pose (through the fused
``part_kcs_compact`` kernel, which writes only the distinct KCS entries the compact first layer reads) and the 2D
discriminator the projected RT pose (LSGAN); range losses keep the changes in a band; after warm-up the lifter's
errors feed back a hardness loss; the lifter learns from real and augmented pairs.

Deviation from the release: ``poseaug.min_root_depth`` (2 m) is added to the RT head's root depth, whose released
form t_z² lets a rotated pose reach the camera plane (2D coordinates ~1e6, a 2D discriminator loss of ~1e12);
``--set poseaug.min_root_depth=0`` restores the release.

Options for the short CPU regime (each defaults to the release unless stated; why, with measurements, in the README):
- ``generator_init="identity"``: the heads' output layers start scaled down (``generator_init_scale``) and the root at
  the source's mean root. The release's Kaiming output layers start at rotations of median ~140° and bone-angle
  changes 1 − cos ≈ 0.4 and rely on ~3000 GAN-only warm-up steps (2 epochs × ~1500 batches of 1024,
  run_poseaug.py:94-97) to become plausible; a CPU adaptation has ~80 steps per epoch.
- ``rotation_limit_deg`` / ``translation_limit_m``: the RT ranges. The released translation (absolute, t_z²) and
  the ±180° rotation are driven by the hardness feedback (whose gradient Adam follows at full step size however small
  it is) toward poses closer to the camera and rotated out of any view the target has.
- ``bl_tanh_limit``: the BL ratio range (release ``--blr_tanhlimit``).
- ``lifter_real="original"`` (default, as released): the lifter's real pairs are the source's own poses; the
  bone-length template swap feeds only the GAN (dataloader_update.py swaps the GAN's loaders, the lifter's real pass
  reads the un-swapped one, run_poseaug.py:101).
- ``lifter_schedule``: "joint" trains the lifter once per GAN step on the real batch and its fakes together (the
  same lifter steps as source-only); "release" trains it as run_poseaug.py:96-101 does, after each GAN epoch (none
  in warm-up): one pass over the epoch's in-frame fakes, then one over the real pairs. In "joint" the fakes share
  every batch-norm batch with the real pairs, and the feedback passes (the lifter in train mode, as released,
  model_gan_train.py:220) leave their batch statistics in the running ones the lifter is evaluated with; in
  "release" the real pass comes last, so the lifter is evaluated with statistics of real pairs.
- ``augment``: which of BA, BL, RT the fakes get (the paper's ablation); "none" makes each fake its source pair,
  the control that tells the pipeline (how fakes reach the lifter) from the regime (what the generator makes).
- ``translation_origin="own"``: the bounded RT root is displaced from each pose's own root instead of placed near
  the source's mean root.
- ``warmup_steps``: GAN-only steps before the first epoch, the warm-up counted in GAN steps as the release's is
  (its 2 warm-up epochs are ~3000 steps of batch 1024; the CPU default's ``warmup_epochs=1`` is ~78 steps of 256).
  ``discriminator_every``, ``pool_size`` and the hardness bands (``beta_*``) are the release's other schedule knobs.
"""
from __future__ import annotations

import math
import warnings

import torch

from posefast.methods.base import LiftingMethod
from posefast.data.domains import Split, root_relative
from posefast.methods.diagnostics import EpochDistributions, real_fake_accuracy, rotation_angle_deg
from posefast.methods.losses import discriminator_loss, linear_schedule, lsgan, range_loss, rectified_l2
from posefast.methods.pool import SamplePool
from posefast.engine.optim import adam
from posefast.seeds import derive_seed
from posefast.models import PartKCSDiscriminator, PoseAugmentor, PoseDiscriminator2D
from posefast.ops import (augment_pipeline, bone_vectors, forward_kinematics, normalize_camera, part_kcs,
                          part_kcs_compact, project)

# Released feedback loss: per-joint error weights and three joint groups, by joint name so any layout works.
_FEEDBACK_WEIGHTS = {"RHip": 5, "LHip": 5, "LShoulder": 5, "RShoulder": 5, "RKnee": 2, "LKnee": 2, "LElbow": 2,
                     "RElbow": 2}
_FEEDBACK_GROUPS = (("RHip", "LHip", "LShoulder", "RShoulder"), ("RKnee", "LKnee", "Head", "LElbow", "RElbow"),
                    ("RAnkle", "LAnkle", "LWrist", "RWrist"))


def with_normalized_camera(split: Split) -> Split:
    """The split with ``camera_norm`` (intrinsics in normalised screen units, so projections are lifter inputs)."""
    size = split["image_size"].to(split["camera"].dtype)
    return split.replace(camera_norm=normalize_camera(split["camera"], size[:, 0], size[:, 1]))


def bone_length_templates(split: dict, skeleton, count: int) -> torch.Tensor:
    """``[T, B]`` mean bone lengths of up to ``count`` source subjects (PoseAug swaps in H36M S1/5/6/7/8's)."""
    lengths = bone_vectors(split["joints_3d"], skeleton).norm(dim=-1)
    subjects = split.get("subject")
    if subjects is None:
        return lengths.mean(0, keepdim=True)
    ids = torch.unique(subjects)[:count]
    return torch.stack([lengths[subjects == s].mean(0) for s in ids])


def swap_bone_lengths(joints_3d: torch.Tensor, templates: torch.Tensor, skeleton, generator) -> torch.Tensor:
    """Each pose keeps its bone directions and root but takes the bone lengths of a random template."""
    bones = bone_vectors(joints_3d, skeleton)
    pick = torch.randint(0, templates.shape[0], (joints_3d.shape[0],), generator=generator).to(joints_3d.device)
    unit = torch.nn.functional.normalize(bones, dim=-1, eps=1e-8)
    return forward_kinematics(unit * templates[pick].unsqueeze(-1), skeleton, joints_3d[:, 0])


_OPERATIONS = ("ba", "bl", "rt")


def parse_operations(text: str) -> frozenset:
    """``poseaug.augment``: operations out of ba, bl, rt (a list, or comma-separated text), or "none" (the empty
    set)."""
    names = [str(t).strip() for t in text] if isinstance(text, (list, tuple)) else \
        [t.strip() for t in str(text).split(",") if t.strip()]
    if names == ["none"]:
        return frozenset()
    if not names or len(set(names)) != len(names) or not set(names) <= set(_OPERATIONS):
        raise ValueError(f"poseaug.augment: expected distinct comma-separated names from {list(_OPERATIONS)} or "
                         f"'none', got {text!r}")
    return frozenset(names)


class PoseAug(LiftingMethod):
    name = "poseaug"
    config_section = "poseaug"  # the settings a resumed run must keep (besides the common ones)

    def __init__(self, cfg, data, dist):
        if dist.enabled and cfg.poseaug.lifter_schedule == "release":
            # each rank's epoch-end fake pass would take as many steps as its own shard kept fakes: DDP needs equal
            raise ValueError("poseaug.lifter_schedule: 'release' runs in one process; under torchrun use "
                             "--set poseaug.lifter_schedule=joint")
        super().__init__(cfg, data, dist)
        pc, skel, dev = cfg.poseaug, self.skeleton, self.device
        self.pc = pc
        for key in ("warmup_steps", "discriminator_every", "pool_size"):
            value = getattr(pc, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "warmup_steps" else 1):
                raise ValueError(f"poseaug.{key}: expected a {'non-negative' if key == 'warmup_steps' else 'positive'} "
                                 f"integer, got {value!r}")
        for key in ("beta_width", "beta_rt_width"):
            if not getattr(pc, key) > 0:
                raise ValueError(f"poseaug.{key}: expected a positive half-width of the hardness band, got "
                                 f"{getattr(pc, key)!r}")
        if not 0 < pc.rotation_limit_deg <= 180:
            raise ValueError(f"poseaug.rotation_limit_deg: expected an angle in (0, 180], got {pc.rotation_limit_deg!r}")
        rt_kwargs = {"rotation_limit": math.radians(pc.rotation_limit_deg)}
        if pc.translation_limit_m < 0:
            raise ValueError(f"poseaug.translation_limit_m: expected 0 (released form) or a distance, got "
                             f"{pc.translation_limit_m!r}")
        if pc.translation_origin not in ("mean", "own"):
            raise ValueError(f"poseaug.translation_origin: expected 'mean' or 'own', got {pc.translation_origin!r}")
        if pc.translation_origin == "own" and not pc.translation_limit_m > 0:
            raise ValueError("poseaug.translation_origin: 'own' needs a bounded root (poseaug.translation_limit_m > 0)")
        self.own_root = pc.translation_origin == "own"
        if pc.translation_limit_m > 0:  # centred on the source's mean root (less the floor added in train_step)
            center = data.source_train["joints_3d"][:, 0].mean(0).cpu()
            center[2] -= pc.min_root_depth
            rt_kwargs.update(translation_limit=pc.translation_limit_m,
                             translation_center=torch.zeros(3) if self.own_root else center)
        if not 0 < pc.bl_tanh_limit < 1:
            raise ValueError(f"poseaug.bl_tanh_limit: expected a value in (0, 1), got {pc.bl_tanh_limit!r}")
        self._augmentor = PoseAugmentor(skel, bl_kwargs={"tanh_limit": pc.bl_tanh_limit}, rt_kwargs=rt_kwargs,
                                        noise_dim=pc.noise_dim).to(dev)
        # compact: a first layer on the 78 distinct entries of the part KCS, the same function as the 5 x 225 one; it
        # reads part_kcs_compact's [N, 5, 28] directly (the full [N, 5, 15, 15] matrices are never formed).
        # kcs_layout "full": the release's parametrisation (a first layer on all 5 x 225 entries). The two compute the
        # same function, but Adam moves each weight by about lr per step, and the release's symmetric
        # pair (i, j), (j, i) is two weights whose sum then moves twice as far: compact first layers learn their
        # off-diagonal entries at half the release's rate (and start from a Kaiming init on the compact fan-in).
        if pc.kcs_layout not in ("compact", "full"):
            raise ValueError(f"poseaug.kcs_layout: expected 'compact' or 'full', got {pc.kcs_layout!r}")
        compact = pc.kcs_layout == "compact"
        self._kcs = part_kcs_compact if compact else part_kcs
        self._d3d = PartKCSDiscriminator.from_skeleton(skel, compact=compact).to(dev)
        self._d2d = PoseDiscriminator2D(skel.num_joints).to(dev)
        self.augmentor, self.d3d, self.d2d = dist.wrap(self._augmentor), dist.wrap(self._d3d), dist.wrap(self._d2d)
        self.opt_g = adam(self._augmentor.parameters(), lr=pc.lr_generator)
        self.opt_d = adam([*self._d3d.parameters(), *self._d2d.parameters()], lr=pc.lr_discriminator)
        decay = self.sched_lifter.lr_lambdas[0]
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, decay)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, decay)
        self.pool_3d, self.pool_2d = SamplePool(pc.pool_size), SamplePool(pc.pool_size)
        self.source = with_normalized_camera(data.source_train)
        if pc.lifter_real not in ("original", "swapped"):
            raise ValueError(f"poseaug.lifter_real: expected 'original' or 'swapped', got {pc.lifter_real!r}")
        self.templates = bone_length_templates(self.source, skel, pc.num_templates)
        self.step_count = 0
        self.depth_floor = torch.tensor([0.0, 0.0, pc.min_root_depth], device=dev)
        if pc.generator_init == "identity":
            # t_z² + floor is the released root depth: start it at the source's mean root
            root = self.source["joints_3d"][:, 0].mean(0).cpu() - self.depth_floor.cpu()
            root[2] = root[2].clamp_min(0.0)
            self._augmentor.init_near_identity(pc.generator_init_scale, root)
            if self.own_root:  # the head's output is a displacement from each pose's own root: centre 0
                self._augmentor.rt.translation_center.zero_()
        elif pc.generator_init != "release":
            raise ValueError(f"poseaug.generator_init: expected 'release' or 'identity', got {pc.generator_init!r}")
        weights = torch.tensor([_FEEDBACK_WEIGHTS.get(n, 1) for n in skel.joint_names], dtype=torch.float32)
        self.feedback_weights = weights.to(dev)
        self.feedback_groups = [torch.tensor([skel.joint(n) for n in g], device=dev) for g in _FEEDBACK_GROUPS]
        self.operations = parse_operations(pc.augment)
        if pc.lifter_schedule not in ("joint", "release"):
            raise ValueError(f"poseaug.lifter_schedule: expected 'joint' or 'release', got {pc.lifter_schedule!r}")
        self._fakes: list[tuple[torch.Tensor, torch.Tensor]] = []  # "release": this epoch's in-frame fake pairs
        self._real: dict = {}
        self._last_aug = None
        self.diagnostics = EpochDistributions()
        self.warmed_up = pc.warmup_steps == 0
        self._warmup_diagnostics: dict = {}

    # -- checkpointed state ---------------------------------------------------------------------------------------
    def modules(self):
        return {**super().modules(), "augmentor": self._augmentor, "d3d": self._d3d, "d2d": self._d2d}

    def optimizers(self):
        return {**super().optimizers(), "generator": self.opt_g, "discriminators": self.opt_d}

    def schedulers(self):
        return {**super().schedulers(), "generator": self.sched_g, "discriminators": self.sched_d}

    def extra_state(self):
        state = {"pool_3d": self.pool_3d.state_dict(), "pool_2d": self.pool_2d.state_dict(), "step": self.step_count,
                 "diagnostics": self.diagnostics.state_dict(), "warmed_up": self.warmed_up}
        if self._warmup_diagnostics:  # a checkpoint inside the first epoch keeps the warm-up's line for it
            state["warmup_diagnostics"] = self._warmup_diagnostics
        if self._fakes:  # a checkpoint inside an epoch of the "release" schedule keeps the fakes made so far
            state["fakes_2d"] = torch.cat([x for x, _ in self._fakes])
            state["fakes_3d"] = torch.cat([y for _, y in self._fakes])
        return state

    def load_extra_state(self, state):
        self.pool_3d.load_state_dict(state["pool_3d"])
        self.pool_2d.load_state_dict(state["pool_2d"])
        self.step_count = state["step"]
        if "diagnostics" in state:
            self.diagnostics.load_state_dict(state["diagnostics"])
        self._fakes = [(state["fakes_2d"], state["fakes_3d"])] if "fakes_2d" in state else []
        # a checkpoint is written after the warm-up (it runs before the first step); older ones had none to run
        self.warmed_up = bool(state.get("warmed_up", True))
        self._warmup_diagnostics = dict(state.get("warmup_diagnostics", {}))

    def begin_epoch(self, epoch: int) -> None:
        super().begin_epoch(epoch)
        if not self.warmed_up:
            self._gan_warmup()

    def _gan_warmup(self) -> None:
        """``poseaug.warmup_steps`` GAN-only steps before the first epoch, as the release's warm-up epochs train
        (run_poseaug.py:94-96: train_gan without train_posenet; model_gan_train.py:271: no feedback): passes over
        the source, each with its own template swap and batch order, full batches of ``batch_size``. Their
        diagnostics go to the first epoch's line under ``warmup_<name>``."""
        pc, bs = self.pc, self.cfg.batch_size
        n = self.source["joints_3d"].shape[0]
        per_pass = max(1, n // bs)
        epoch_diagnostics, self.diagnostics = self.diagnostics, EpochDistributions()
        done, rnd = 0, 0
        while done < pc.warmup_steps:
            g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "poseaug-warmup", round=rnd))
            split = dict(self.source)
            if pc.template_swap:
                split["joints_3d"], split["joints_2d_norm"] = self._swapped_source(g)
            order = torch.randperm(n, generator=g).to(self.source["joints_3d"].device)
            for i in range(min(per_pass, pc.warmup_steps - done)):
                idx = order[i * bs:(i + 1) * bs]
                self._gan_step({k: split[k][idx] for k in ("joints_3d", "camera_norm", "joints_2d_norm")}, 0,
                               warm=True)
                done += 1
            rnd += 1
        self._warmup_diagnostics = {f"warmup_{k}": v for k, v in self.diagnostics.summary().items()}
        self.diagnostics = epoch_diagnostics
        self.warmed_up = True

    def end_epoch(self, epoch: int) -> None:
        if self.pc.lifter_schedule == "release" and epoch >= self.pc.warmup_epochs:
            self._lifter_passes()
        self._fakes = []
        with warnings.catch_warnings():
            # "release" takes no lifter step in warm-up, yet the lifter's lr follows the epochs, as the release's
            # scheduler does (run_poseaug.py:105-109): torch warns about a scheduler stepped before its optimiser
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
            super().end_epoch(epoch)

    def _lifter_passes(self) -> None:
        """The released lifter schedule (run_poseaug.py:96-101): one shuffled pass over the epoch's in-frame fakes,
        then one over the real pairs (full batches: as many real steps as source-only takes in an epoch)."""
        bs, clip = self.cfg.batch_size, self.pc.lifter_grad_clip
        real = self._real or self.source
        real_2d = real.get("real_joints_2d_norm", real["joints_2d_norm"])
        real_3d = root_relative(real.get("real_joints_3d", real["joints_3d"]))
        if self._fakes:
            fake_2d, fake_3d = torch.cat([x for x, _ in self._fakes]), torch.cat([y for _, y in self._fakes])
            order = torch.randperm(fake_2d.shape[0], device=fake_2d.device)
            for i in range(0, order.numel(), bs):
                idx = order[i:i + bs]
                if idx.numel() < 2:  # batch norm needs two samples (the release skips a batch of one too)
                    break
                self.lifter_step(fake_2d[idx], fake_3d[idx], grad_clip=clip)
        order = torch.randperm(real_2d.shape[0], device=real_2d.device)
        for i in range(0, order.numel() - bs + 1, bs):
            idx = order[i:i + bs]
            self.lifter_step(real_2d[idx], real_3d[idx], grad_clip=clip)

    def epoch_diagnostics(self) -> dict:
        """What the augmentor produced and how the game went this epoch (metrics.jsonl ``diagnostics``):
        ``rt_angle_deg`` (the RT rotation), ``root_depth_m``, ``ba_change`` (mean 1 − cos of the bone-angle change,
        with its target band), ``bl_ratio_abs`` (mean |bone-length ratio|), ``dropped`` (fraction of RT poses out
        of frame, left out of the lifter's batch), ``hardness_ba`` / ``hardness_rt`` (the lifter's error on
        augmented / original poses per joint group, with the released target bands; after warm-up), and the
        discriminators' accuracies on real and pooled fake samples."""
        summary = {**self._warmup_diagnostics, **self.diagnostics.summary()}
        self._warmup_diagnostics = {}
        return summary

    # -- data -------------------------------------------------------------------------------------------------------
    def _swapped_source(self, generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The source poses with random template bone lengths (``generator`` draws them) and their projections."""
        j3d = swap_bone_lengths(self.source["joints_3d"], self.templates, self.skeleton, generator)
        return j3d, project(j3d, self.source["camera_norm"])

    def train_split(self, epoch: int) -> dict:
        if not self.pc.template_swap:
            return self.source
        # A generator seeded by (seed, epoch): a run resumed mid-epoch rebuilds the same swapped split.
        g = torch.Generator().manual_seed(derive_seed(self.cfg.seed, "train-split", epoch=epoch))
        j3d, uv = self._swapped_source(g)
        # the swapped poses feed the generator and the discriminators' real side; the lifter's real pairs stay the
        # source's own unless poseaug.lifter_real = "swapped" (the release's lifter pass reads the un-swapped loader)
        real = self.source if self.pc.lifter_real == "original" else {"joints_3d": j3d, "joints_2d_norm": uv}
        self._real = {"joints_3d": real["joints_3d"], "joints_2d_norm": real["joints_2d_norm"]}
        return {**self.source, "joints_3d": j3d, "joints_2d_norm": uv,
                "real_joints_3d": real["joints_3d"], "real_joints_2d_norm": real["joints_2d_norm"]}

    # -- losses -----------------------------------------------------------------------------------------------------
    def _grouped_errors(self, inputs_2d, targets_3d):
        """Per-pose errors of the (frozen) lifter on three weighted joint groups, ``[n, 3]``."""
        err = (self.lifter(inputs_2d) - root_relative(targets_3d)).norm(dim=-1) * self.feedback_weights
        return torch.stack([err[:, g].mean(-1) for g in self.feedback_groups], dim=-1)

    def _feedback(self, x2d, j3d, uv_ba, ba, uv_rt, rt, epoch):
        pc = self.pc
        self.lifter.train()  # as released (model_gan_train.py:220): batch statistics, running ones move
        for p in self._lifter.parameters():
            p.requires_grad_(False)
        base = self._grouped_errors(x2d, j3d)
        err_ba, err_rt = self._grouped_errors(uv_ba, ba), self._grouped_errors(uv_rt, rt)
        for p in self._lifter.parameters():
            p.requires_grad_(True)
        # the release counts training epochs from 1 (run_poseaug.py:82-94: summary.epoch is 1 in the first train_gan)
        beta_ba = linear_schedule(pc.beta_start, pc.beta_end, epoch + 1, self.cfg.epochs)
        beta_rt = pc.beta_rt_center
        with torch.no_grad():
            self.diagnostics.add("hardness_ba", err_ba / (base + 1e-8), (beta_ba - pc.beta_width, beta_ba + pc.beta_width))
            self.diagnostics.add("hardness_rt", err_rt / (base + 1e-8),
                                 (beta_rt - pc.beta_rt_width, beta_rt + pc.beta_rt_width))
        if pc.feedback == "paper":  # |1 - exp(L(x') - beta L(x))| (paper, Eq. 7)
            loss_ba = (1 - torch.exp(err_ba - beta_ba * base)).abs().mean()
            loss_rt = (1 - torch.exp(err_rt - beta_rt * base)).abs().mean()
        elif pc.feedback == "released":  # hardness L(x')/L(x) kept in a band around beta
            eps = 1e-8
            loss_ba = range_loss(err_ba / (base + eps), beta_ba, pc.beta_width)
            loss_rt = range_loss(err_rt / (base + eps), beta_rt, pc.beta_rt_width)
        else:
            raise ValueError(f"poseaug.feedback: expected 'released' or 'paper', got {pc.feedback!r}")
        return pc.weight_feedback_ba * loss_ba + pc.weight_feedback_rt * loss_rt

    # -- one step ---------------------------------------------------------------------------------------------------
    def _gan_step(self, batch, epoch, warm):
        """One generator step (feedback unless ``warm``) and, every ``discriminator_every`` GAN steps, one step of
        both discriminators on pooled fakes. Returns (the discriminators' losses, the generator's losses, the RT
        poses, their projections)."""
        pc, skel = self.pc, self.skeleton
        j3d, cam, x2d = batch["joints_3d"], batch["camera_norm"], batch["joints_2d_norm"]

        # generator
        self.augmentor.train()
        params = self.augmentor(root_relative(j3d))
        ops = self.operations
        if ops != frozenset(_OPERATIONS):
            # an operation left out is the identity; multiplying by 0 keeps the graph (zero gradients, so Adam leaves
            # that head where it is) and RT's identity keeps each pose's own root
            params = dict(params)
            if "ba" not in ops:
                params["delta"] = params["delta"] * 0
            if "bl" not in ops:
                params["ratio"] = params["ratio"] * 0
            if "rt" not in ops:
                params["rotvec"] = params["rotvec"] * 0
                params["translation"] = params["translation"] * 0 + j3d[:, 0] - self.depth_floor
        # "own": the pose's root displaced (it is a real root already, no floor); else the released absolute root
        translation = params["translation"] + (j3d[:, 0] if self.own_root and "rt" in ops else self.depth_floor)
        ba, bl, rt, uv_rt, cos_change = augment_pipeline(j3d, params["delta"], params["ratio"], params["rotvec"],
                                                         translation, cam, skel)
        uv_ba = project(ba, cam)
        diag = self.diagnostics
        diag.add("rt_angle_deg", rotation_angle_deg(params["rotvec"]))
        diag.add("root_depth_m", translation[..., 2])
        diag.add("ba_change", cos_change.mean(-1), (pc.ba_range_center - pc.ba_range_width,
                                                    pc.ba_range_center + pc.ba_range_width))
        diag.add("bl_ratio_abs", params["ratio"].abs().mean(-1))
        for d in (self._d3d, self._d2d):
            d.requires_grad_(False)
        # As released (function_poseaug/model_gan_train.py:21-46): 0.5 (MSE(D(real), 0) + MSE(D(fake), 1)). The real
        # term carries no gradient to the generator but the 0.5 halves the fake term's: the adversarial weights 1 and
        # 6 are meant against this form (MSE(D(fake), 1) alone doubles them).
        with torch.no_grad():
            real_3d, real_2d = lsgan(self.d3d(self._kcs(j3d, skel)), False), lsgan(self.d2d(x2d), False)
        adv_3d = 0.5 * (real_3d + lsgan(self.d3d(self._kcs(ba, skel)), True))
        adv_2d = 0.5 * (real_2d + lsgan(self.d2d(uv_rt), True))
        diff = range_loss(cos_change.mean(-1), pc.ba_range_center, pc.ba_range_width) + rectified_l2(params["ratio"], pc.bl_limit)
        loss_g = pc.weight_adv_2d * adv_2d + pc.weight_adv_3d * adv_3d + pc.weight_diff * diff
        feedback = torch.zeros((), device=j3d.device)
        if not warm:
            feedback = self._feedback(x2d, j3d, uv_ba, ba, uv_rt, rt, epoch)
            loss_g = loss_g + feedback
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        torch.nn.utils.clip_grad_norm_(self._augmentor.parameters(), pc.grad_clip)
        self.opt_g.step()
        for d in (self._d3d, self._d2d):
            d.requires_grad_(True)

        # discriminators, every `discriminator_every` steps, on pooled fakes
        losses = {}
        if self.step_count % pc.discriminator_every == 0:
            fake_ba, fake_uv = self.pool_3d(ba), self.pool_2d(uv_rt)
            real_3d, fake_3d = self.d3d(self._kcs(j3d, skel)), self.d3d(self._kcs(fake_ba, skel))
            real_2d, fake_2d = self.d2d(x2d), self.d2d(fake_uv)
            loss_d = discriminator_loss(real_3d, fake_3d) + discriminator_loss(real_2d, fake_2d)
            for name, (real, fake) in (("d3d", (real_3d, fake_3d)), ("d2d", (real_2d, fake_2d))):
                acc_real, acc_fake = real_fake_accuracy(real, fake)
                self.diagnostics.add(f"{name}_acc_real", acc_real)
                self.diagnostics.add(f"{name}_acc_fake", acc_fake)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            for d in (self._d3d, self._d2d):  # each on its own, as released (model_gan_train.py:81)
                torch.nn.utils.clip_grad_norm_(d.parameters(), pc.grad_clip)
            self.opt_d.step()
            losses["loss_d"] = loss_d.detach()
        self.step_count += 1
        generator = dict(loss_g=loss_g.detach(), adv_3d=adv_3d.detach(), adv_2d=adv_2d.detach(), diff=diff.detach(),
                         feedback=feedback.detach(), ba_change=cos_change.detach().mean())  # 0-dim: summed unread
        return losses, generator, rt, uv_rt

    def train_step(self, batch, epoch, step):
        pc = self.pc
        j3d, x2d = batch["joints_3d"], batch["joints_2d_norm"]
        warm = epoch < pc.warmup_epochs
        losses, generator, rt, uv_rt = self._gan_step(batch, epoch, warm)

        # lifter: real pairs, plus augmented pairs once the warm-up is over (out-of-frame fakes dropped, as released)
        inputs, targets = batch.get("real_joints_2d_norm", x2d), root_relative(batch.get("real_joints_3d", j3d))
        if not warm:
            keep = (uv_rt.detach().abs() <= 1).all(dim=-1).all(dim=-1) & torch.isfinite(uv_rt.detach()).all(-1).all(-1)
            self.diagnostics.add("dropped", (~keep).double().mean().reshape(1))
            fake_2d, fake_3d = uv_rt.detach()[keep], root_relative(rt.detach()[keep])
            if pc.lifter_schedule == "release":  # the lifter learns at the epoch's end (end_epoch)
                self._fakes.append((fake_2d, fake_3d))
            inputs, targets = torch.cat([inputs, fake_2d]), torch.cat([targets, fake_3d])
        self._last_aug = (rt.detach()[:64], uv_rt.detach()[:64])
        if pc.lifter_schedule == "joint":
            losses["loss_lifter"] = self.lifter_step(inputs, targets, grad_clip=pc.lifter_grad_clip)
        losses.update(generator)
        return losses

    def plot_groups(self):
        if self._last_aug is None:
            return {}
        rt, uv = self._last_aug
        return {"PoseAug": (rt.cpu().numpy(), uv.cpu().numpy())}
