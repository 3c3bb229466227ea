"""Training steps of the multi-level 2D method (Chen et al., ICME 2024; code: DAML_PoseEstimation on top
of UDAPE's mean teacher, Kim et al., ECCV 2022).

One adaptation step (``adapt_step``), with the variant's ``levels`` switched on:

- source: crops (AdaIN-stylised with target crops as style, per sample with probability p, α ~ U(0, 1), when the
  *image* level is on) under a random affine + colour jitter; supervised heatmap MSE on Gaussian targets;
- mean teacher (every adapted variant): the target crop gets independent random affines + colour jitter for the
  student and the teacher; the teacher's heatmaps are warped into the student's view (one batched grid_sample),
  rectified to Gaussians at their (integer) argmax cut at 3σ, as the released code, the least confident half of the
  keypoints masked; consistency MSE;
  the teacher follows the student by EMA;
- *feature* level: a patch discriminator on the deconvolution features behind gradient reversal (BCE, source 0 /
  target 1), trained by its own Adam from the same backward;
- *pose* level: information maximisation on the student's target heatmaps.
"""
from __future__ import annotations

import torch

from posefast.evaluation.heatmap2d import image_to_heatmap, normalize_images
from posefast.ops import render_heatmaps
from posefast.methods.multilevel.adain import stylize
from posefast.methods.multilevel.losses import (consistency_mse, domain_losses, heatmap_mse,
                                                information_maximization, rectified_targets)
from posefast.methods.multilevel.warp import (color_jitter, sample_affine, transform_keypoints, warp_heatmaps,
                                              warp_images)

__all__ = ["LEVELS", "Augment", "augmented_source", "source_step", "adapt_step"]

LEVELS = ("image", "feature", "pose")


class Augment:
    """What a step needs to know about views and targets: affine ranges, jitter strength, heatmap geometry."""

    def __init__(self, ranges, jitter: float, image_size: int, stride: int, sigma: float):
        self.ranges, self.jitter, self.image_size, self.stride, self.sigma = ranges, jitter, image_size, stride, sigma
        self.heatmap_size = image_size // stride

    def view(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A random view: ``(warped + jittered images, matrices [N, 3, 3])``."""
        a = sample_affine(images.shape[0], self.ranges, device=images.device)
        return color_jitter(warp_images(images, a), self.jitter), a


def augmented_source(aug: Augment, images, keypoints, visible):
    """Random view of labelled crops and its heatmap targets: ``(images, targets [N, K, h, w], weight [N, K])``;
    keypoints moved out of the crop lose their weight."""
    x, a = aug.view(images)
    kp = transform_keypoints(keypoints, a, aug.image_size)
    vis = (visible > 0) & ((kp >= 0) & (kp < aug.image_size)).all(-1)
    size = (aug.heatmap_size, aug.heatmap_size)
    return x, render_heatmaps(image_to_heatmap(kp, aug.stride), vis, size, aug.sigma), vis


def _finite(losses: dict) -> None:
    # one host read for all of them (each is a synchronisation on a GPU); the loop over names only on failure
    if bool(torch.stack([v.detach() for v in losses.values()]).isfinite().all()):
        return
    for k, v in losses.items():
        if not torch.isfinite(v):
            raise FloatingPointError(f"loss {k!r} became {v.item()} (training diverged; lower the learning rate)")


def source_step(student, optimizer, aug: Augment, batch) -> dict:
    """One supervised step on labelled source crops (source-only pretraining and the source-only variant)."""
    images, keypoints, visible = batch
    x, target, weight = augmented_source(aug, images, keypoints, visible)
    loss = heatmap_mse(student(normalize_images(x)).heatmaps, target, weight)
    _finite({"source": loss})
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"source": loss.detach()}


def adapt_step(stage, aug: Augment, ml, source_batch, target_images) -> dict:
    """One step of an adapted variant (see the module docstring). ``stage`` holds ``student``, ``optimizer``,
    ``teacher`` (EMATeacher), ``levels`` and, per level, ``style_net`` / ``discriminator`` + ``optimizer_d``."""
    images, keypoints, visible = source_batch
    levels = stage.levels
    if "image" in levels:
        images, _ = stylize(stage.style_net, images, target_images, ml.style_probability,
                            residual=ml.adain_residual, size=getattr(ml, "adain_size", 0))
    x_src, target_src, weight_src = augmented_source(aug, images, keypoints, visible)

    x_stu, a_stu = aug.view(target_images)
    x_tea, a_tea = aug.view(target_images)
    teacher_maps = warp_heatmaps(stage.teacher(normalize_images(x_tea)).heatmaps, a_tea, a_stu)
    pseudo, keep = rectified_targets(teacher_maps, aug.sigma, ml.mask_ratio, refine=False, truncate=3.0)

    student = stage.student
    out_s = student(normalize_images(x_src))
    out_t = student(normalize_images(x_stu))
    losses = {"source": heatmap_mse(out_s.heatmaps, target_src, weight_src),
              "consistency": consistency_mse(out_t.heatmaps, pseudo, keep)}
    total = losses["source"] + ml.weight_consistency * losses["consistency"]
    if "feature" in levels:
        losses["domain_source"], losses["domain_target"] = domain_losses(
            stage.discriminator, out_s.features, out_t.features, ml.grl_coeff)
        total = total + ml.weight_feature * (losses["domain_source"] + losses["domain_target"])
    if "pose" in levels:
        losses["info_max"] = information_maximization(out_t.heatmaps)
        total = total + ml.weight_im * losses["info_max"]
    losses["total"] = total
    _finite(losses)
    stage.optimizer.zero_grad(set_to_none=True)
    if "feature" in levels:
        stage.optimizer_d.zero_grad(set_to_none=True)
    total.backward()
    stage.optimizer.step()
    if "feature" in levels:
        stage.optimizer_d.step()
    stage.teacher.update(student)
    out = {k: v.detach() for k, v in losses.items()}  # 0-dim tensors: the epoch loop sums them unread
    out["kept"] = keep.float().mean()
    return out
