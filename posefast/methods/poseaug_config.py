"""The settings section ``poseaug`` (``cfg.poseaug``, ``--set poseaug.key=value``, ``poseaug:`` in YAML) of PoseAug
(:mod:`posefast.methods.poseaug`), registered with :func:`posefast.engine.config.section`; checked when loaded."""
from __future__ import annotations

from dataclasses import dataclass

from posefast.engine.config import choice, listing, section

__all__ = ["PoseAugConfig"]


@section("poseaug")
@dataclass
class PoseAugConfig:
    """PoseAug (Gong et al., CVPR 2021) augmentor and discriminators; numbers from the released code."""

    # epochs of this run in which the GAN trains without feedback and the lifter sees no fakes (under
    # lifter_schedule=release it takes no step at all; release: --warmup 2, function_poseaug/config.py:51 with
    # run_poseaug.py:96)
    warmup_epochs: int = 1
    # GAN-only steps before the first epoch (generator and both discriminators on the template-swapped source, no
    # feedback, the lifter untouched), counted in GAN steps: the release's 2 warm-up epochs are ~3000 steps of batch
    # 1024 (run_poseaug.py:94-96) while one CPU epoch is ~78 steps of 256. They take GAN time, no lifter steps.
    warmup_steps: int = 0
    lr_generator: float = 1e-4
    lr_discriminator: float = 1e-4
    noise_dim: int = 48
    weight_adv_2d: float = 1.0
    weight_adv_3d: float = 6.0
    weight_diff: float = 3.0
    ba_range_center: float = 0.205  # target band of the mean bone-angle change 1 - cos
    ba_range_width: float = 0.165
    bl_limit: float = 0.1  # bone-length ratios beyond this are penalised (rectified L2)
    bl_tanh_limit: float = 0.2  # BL head: ratio = tanh(.) * this (release --blr_tanhlimit 0.2)
    # "released": rectified range on hardness; "paper": |1 - exp(L(x') - beta L(x))|
    feedback: str = choice("released", ("released", "paper"))
    weight_feedback_ba: float = 0.1
    weight_feedback_rt: float = 0.01
    # The hardness bands: the lifter's error on BA / RT poses over its error on their source poses is kept in
    # beta +- width. beta_BA(e) = beta_start + (beta_end - beta_start) e / epochs. Release: BA 3 -> 5 +- 2, RT 17 +- 15
    # (--hardratio_*, function_poseaug/config.py:54-59; configs/poseaug_paper.yaml). Default 1.5 +- 0.5 for both:
    # augmented poses 1-2 times as hard as their source (docs/results.md, "Which gap each method closes": the full
    # pair gains measurably over the released bands, no factor loses measurably).
    beta_start: float = 1.5
    beta_end: float = 1.5
    beta_width: float = 0.5
    beta_rt_center: float = 1.5
    beta_rt_width: float = 0.5
    pool_size: int = 4096  # fakes the discriminators draw from (release: Sample_from_Pool(4096), utils/gan_utils.py:155)
    discriminator_every: int = 2  # discriminator update every N GAN steps (release --df 2, function_poseaug/config.py:52)
    grad_clip: float = 1.0
    template_swap: bool = True  # random bone-length template swap of the source each epoch
    # the lifter's real pairs: "original" source poses (released: run_poseaug.py trains the lifter's real pass on
    # train_det2d3d_loader, which dataloader_update.py never swaps) or the template-"swapped" ones the GAN sees
    lifter_real: str = choice("original", ("original", "swapped"))
    num_templates: int = 5
    # The released RT head squares t_z, so the root may land on the camera plane, where projection diverges; we add
    # this floor (metres) to the root depth. It must exceed a body's reach from the pelvis (~1 m) or joints still
    # reach the plane (docs/results.md: what a floor of 1.0 did). 0 reproduces the release.
    min_root_depth: float = 2.0
    # "release": Kaiming output layers (rotations of median ~140°, bone-angle changes 1 - cos ~0.4 at step 0); the
    # release then trains the GAN ~3000 steps before the lifter sees a sample. "identity": output layers scaled by
    # generator_init_scale, biases 0, the root at the source's mean root: the heads start near the identity.
    generator_init: str = choice("identity", ("identity", "release"))
    generator_init_scale: float = 0.05
    rotation_limit_deg: float = 20.0  # RT head: axis-angle = tanh(.) * limit per axis (release: 180, i.e. pi)
    # RT root position: 0 = released (absolute, t_z squared, plus min_root_depth); > 0: the source's mean root +
    # tanh(.) * this many metres per axis (the root stays within the source's span)
    translation_limit_m: float = 0.5
    # the bounded root's origin: "mean" (the source's mean root: every fake lands near the middle of the source's
    # capture area) or "own" (each pose's own root: T a displacement, so the fakes keep the source's spread of
    # positions and the 2D discriminator cannot tell them from the real ones by where they stand)
    translation_origin: str = choice("mean", ("mean", "own"))
    # the generator's operations applied to the fakes: any of "ba", "bl", "rt" (the paper's ablation of the three
    # operations), or ["none"]: each fake is then the generator's input pose itself, unchanged and in its own place
    # (with template_swap=false: exactly the source pair; the pipeline's control)
    augment: list = listing(("ba", "bl", "rt"), allowed=("ba", "bl", "rt", "none"))
    # when the lifter learns: "release" (run_poseaug.py:96-101): after each GAN epoch (none in warm-up) one pass over
    # that epoch's in-frame fakes, then one over the real pairs, so the fakes never share a batch-norm batch with the
    # real pairs and the lifter is evaluated with the real pass's statistics; "joint": one step per GAN step on the
    # real batch and its fakes together (the same lifter steps as source-only; docs/results.md: what it cost)
    lifter_schedule: str = choice("release", ("release", "joint"))
    # "compact": the 3D discriminator's first layer reads the 78 distinct part-KCS entries (same function, faster);
    # "full": the release's 5 x 225 inputs, whose Adam dynamics the compact form does not reproduce (methods/poseaug.py)
    kcs_layout: str = choice("compact", ("compact", "full"))
    # > 0: clip the lifter's gradient norm before each step (release: 1, function_poseaug/model_pos_train.py:41)
    lifter_grad_clip: float = 0.0
