"""The closable gap: a reference stage, not an adaptation method.

``target-labels`` trains the lifter on the *target's* labelled training split (its 2D and 3D), from the same starting
point and with the same budget as every method of the comparison (``compare.adapt_epochs`` at ``compare.adapt_lr``,
the same batch size and the same number of lifter steps, which the epoch loop counts from the source split). Its gain
over source-only is how much of a target's gap a lifter of this size can close at all with this budget, so each
method's gain can be read as a fraction of it: a method that gains nothing on a factor whose reference gains
nothing had nothing to gain. It uses what unsupervised adaptation never has (target 3D), so it is labelled as an
upper bound in every table and is never a candidate for the best method.

Its labels come only from the target's training split (:func:`posefast.data.domains.load_target_labels`: the poses
the methods see as ``target_train``, 3D kept); the target's test split stays the evaluation set. A target without
a separate labelled training split (a 3DHP/3DPW file, a 2D-only archive) is refused with one line naming it.
"""
from __future__ import annotations

import torch

from posefast.data.domains import load_target_labels
from posefast.methods.base import LiftingMethod

__all__ = ["TargetLabels"]


class TargetLabels(LiftingMethod):
    """The lifter trained on the target's labelled training split (2D → root-relative 3D, MSE), nothing else."""

    name = "target-labels"

    def __init__(self, cfg, data, dist):
        super().__init__(cfg, data, dist)
        target = data.target_spec or cfg.target
        self.labelled = load_target_labels(target, data.skeleton, dist.device, cfg.n_target, cfg.seed)
        # the same poses the methods see as the target's 2D: a different draw would measure another target
        if not torch.equal(self.labelled["joints_2d"], data.target_train["joints_2d"]):
            raise ValueError(f"--target {target!r}: the labelled training split does not hold the poses of the "
                             f"target's 2D training split (n_target / seed differ from the data given)")

    def train_split(self, epoch: int) -> dict:
        return {"joints_2d_norm": self.labelled["joints_2d_norm"], "joints_3d": self.labelled["joints_3d"]}
