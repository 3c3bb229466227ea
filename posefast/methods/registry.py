"""The one list of posefast's methods: names, the labels of result tables, the command line's help text, and the
class that trains each lifting method. The CLI's choices (``python -m posefast.train METHOD``), the comparison's
rows and the multilevel table's rows all read it, so a method is added here and nowhere else."""
from __future__ import annotations

from dataclasses import dataclass

from posefast.methods.base import LiftingMethod
from posefast.methods.poseaug import PoseAug
from posefast.methods.poseda import GPAOnly, LPAOnly, PoseDA
from posefast.methods.target_labels import TargetLabels

__all__ = ["MethodInfo", "LIFTING_METHODS", "IMAGE_METHODS", "MULTILEVEL_VARIANTS", "BASELINE", "REFERENCES",
           "lifting_method", "label", "is_reference"]


@dataclass(frozen=True)
class MethodInfo:
    label: str  # its row in a result table
    help: str  # its line in ``python -m posefast.train --help``
    cls: type | None = None  # the LiftingMethod subclass that trains it (lifting methods only)


BASELINE = "source-only"  # what every comparison measures its gains against

LIFTING_METHODS: dict[str, MethodInfo] = {
    BASELINE: MethodInfo("Source only", "lifter trained on the source domain only (the baseline)", LiftingMethod),
    "poseaug": MethodInfo("PoseAug", "PoseAug (Gong et al., CVPR 2021): learnable BA/BL/RT augmentor, part-aware KCS "
                          "3D and 2D discriminators, error feedback from the lifter", PoseAug),
    "poseda": MethodInfo("PoseDA (GPA + LPA)", "PoseDA (Chai et al., ICCV 2023): global position alignment (GPA) + "
                         "local pose augmentation (LPA)", PoseDA),
    "gpa": MethodInfo("GPA only", "PoseDA with only its global position alignment (the paper's ablation)", GPAOnly),
    "lpa": MethodInfo("LPA only", "PoseDA with only its local pose augmentation (the paper's ablation)", LPAOnly),
    "target-labels": MethodInfo("Target 3D labels (upper bound, not adaptation)",
                                "reference, not a method: the lifter trained on the target's labelled training split "
                                "with a method's budget; its gain is the closable gap", TargetLabels),
}

# Rows that are references, not methods (they use target labels): listed after the methods, never the best method.
REFERENCES = ("target-labels",)

# The 2D (image) methods: trained by posefast.methods.multilevel, not by the lifting trainer.
IMAGE_METHODS: dict[str, MethodInfo] = {
    "multilevel": MethodInfo("Multi-level", "multi-level alignment for 2D pose (Chen et al., ICME 2024) and its "
                             "ablations; prints PCK@0.05"),
    "adain": MethodInfo("AdaIN decoder", "train the AdaIN decoder used by multilevel's image level"),
}

# The multilevel comparison's variants, each adding one level of alignment to the one before.
MULTILEVEL_VARIANTS: dict[str, MethodInfo] = {
    BASELINE: MethodInfo("Source only", "the pose network trained on the labelled source only"),
    "mean-teacher": MethodInfo("+ mean teacher", "UDAPE's mean teacher on the target images: the base every adapted "
                               "variant shares (an optional row)"),
    "image": MethodInfo("+ image level (AdaIN)", "mean teacher on target images restyled by AdaIN"),
    "image+feature": MethodInfo("+ feature level (GRL patch D)", "plus adversarial feature alignment through a "
                                "gradient reversal layer"),
    "multilevel": MethodInfo("+ pose level (info-max) = multi-level", "plus pose-level information maximisation"),
}


def lifting_method(name: str) -> type:
    """The class that trains lifting method ``name``."""
    try:
        return LIFTING_METHODS[name].cls
    except KeyError:
        raise ValueError(f"METHOD: unknown lifting method {name!r}; expected one of {sorted(LIFTING_METHODS)}") from None


def is_reference(name: str) -> bool:
    """Whether ``name`` is a reference row (an upper bound using target labels), not an adaptation method."""
    return name in REFERENCES


def label(name: str) -> str:
    """A method's (or multilevel variant's) row label in result tables; unknown names stand for themselves."""
    for table in (LIFTING_METHODS, MULTILEVEL_VARIANTS, IMAGE_METHODS):
        if name in table:
            return table[name].label
    return name
