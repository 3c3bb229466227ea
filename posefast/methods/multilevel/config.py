"""The settings section ``multilevel`` (``cfg.multilevel``, ``--set multilevel.key=value``, ``multilevel:`` in YAML)
of the 2D job (:mod:`posefast.methods.multilevel`), registered with :func:`posefast.engine.config.section`;
checked when loaded."""
from __future__ import annotations

from dataclasses import dataclass

from posefast.engine.config import choice, listing, positive_int, section
from posefast.methods.multilevel.stage import VARIANTS
from posefast.methods.multilevel.steps import LEVELS
from posefast.models import BACKBONES

__all__ = ["MultilevelConfig", "AnimalConfig", "TASKS"]

# What the 2D job learns: "human" (Body16 figures: the synthetic pair, LSP, COCO), or an animal task of
# posefast.methods.multilevel.animal ("animal": the dm-control dog pair; "mouse": the rodent -> the real mirror mouse).
TASKS = ("human", "animal", "mouse")


@section("multilevel")
@dataclass
class MultilevelConfig:
    """Multi-level alignment for 2D pose (Chen et al., ICME 2024), CPU-sized defaults (the paper's values are in
    the comments and ``configs/multilevel_paper.yaml``). ``python -m posefast.train multilevel`` trains
    ``pretrain_epochs`` source-only epochs once, then each variant for ``epochs - pretrain_epochs`` more."""

    task: str = choice("human", TASKS)  # human (Body16); animal / mouse: their data are the `animal` section's
    image_size: int = 64  # paper: 256
    n_source: int = 2000
    n_target: int = 2000
    n_test: int = 2000  # labelled target test crops (the intervals want >= 2,000)
    source: str = "synthetic"  # the labelled 2D domain (posefast.data.image2d.make_domain 'source')
    target: str = "synthetic"  # lsp:<root>, coco:<json>: first n_target crops train, last n_test test
    backbone: str = choice("efficientnet-lite0", BACKBONES)  # or "resnet" (of `depth`; paper: ResNet-101)
    pretrained: bool = True  # efficientnet-lite0: its ImageNet weights from the installed package (else random)
    frozen_stages: int = 5  # efficientnet-lite0: stem + this many of its 7 stages frozen; 5 = all kept ones, only the
    # deconvolution head trains (paper: none, ResNet-101; fine-tuned here it fits the source and loses the target)
    backbone_lr_mult: float = 0.1  # trainable backbone stages learn at this x lr (UDAPE's finetune option; the
    # releases' train_human.py: 1.0); no effect while frozen_stages freezes every kept stage
    backbone_stages: int = 5  # efficientnet-lite0: stages kept; 5 = stride 16 (4x4 features of a 64 px crop)
    depth: str = "tiny"  # ResNet depth: tiny, 18, 34, 50, 101 (paper), 152
    deconv_channels: int = 32  # paper: 256
    num_deconv: int = 3  # 3 behind the stride-16 Lite0: heatmaps at 1/2 of the input (32x32); the stride-32 ResNet
    # needs 4 for that (paper: 3 on ResNet-101, heatmaps at 1/4)
    backbone_weights: str = ""  # resnet: local ImageNet weights file (torchvision layout); "" = random
    pretrain_epochs: int = 4  # shared source-only epochs (paper: 40 of 70)
    default_epochs: int = 6  # the 2D schedule, used instead of the (lifting-sized) top-level epochs / batch_size;
    default_batch_size: int = 32  # --epochs/--batch-size set them for multilevel; 0 = the top level (paper: 70 / 32)
    variants: list = listing(["source-only", "image", "image+feature", "multilevel"], allowed=VARIANTS,
                             expected="variants")  # rows of the table; also "mean-teacher"
    # levels of the full "multilevel" row
    levels: list = listing(["image", "feature", "pose"], allowed=LEVELS, at_least_one=False)
    ema_alpha: float = 0.99  # paper: 0.999 over 15000 steps; ours sees ~120 steps per variant
    weight_consistency: float = 1.0
    weight_feature: float = 0.1
    weight_im: float = 0.3
    style_probability: float = 0.5
    sigma: float = 1.5  # Gaussian std of heatmap targets in heatmap pixels (paper: 2 on 64x64 maps)
    mask_ratio: float = 0.5  # fraction of least-confident teacher keypoints masked out
    rotation: float = 30.0  # random affine of student, teacher and source views, degrees (UDAPE: 60)
    scale_min: float = 0.75  # (UDAPE: 0.6)
    scale_max: float = 1.25  # (UDAPE: 1.3)
    shear: float = 0.0  # degrees per axis
    translate: float = 0.05  # fraction of the image side
    color_jitter: float = 0.25
    grl_coeff: float = 1.0
    discriminator_widths: list = listing([16, 16], item=positive_int, distinct=False,
                                         expected="positive ints like 256,128,128")  # paper: 256,128,128
    lr_discriminator: float = 1e-3  # paper: 1e-4 (with it our feature level fell to the source-only level)
    eval_batch_size: int = 32  # CPU: larger batches run slower per crop (cache; docs/results.md); a GPU may take more
    eval_every: int = 0  # evaluate the target test split every this many epochs of a stage; 0 = after its last only
    adain_weights: str = ""  # AdaIN weights file (or "vgg_normalised.pth,decoder.pth"); empty = train the decoder
    # vgg19: ImageNet VGG-19 from the installed package; random: fixed random encoder
    adain_encoder: str = choice("vgg19", ("vgg19", "random"))
    adain_width: float = 0.125  # width of the trained decoder (and of a random encoder); paper: 1
    adain_size: int = 32  # AdaIN runs on crops resized to this size, its change upsampled back; 0 = image_size
    adain_steps: int = 300  # the 2D table is measured at 300; 100 gave the same image-level gain (docs/results.md)
    adain_batch_size: int = 8
    adain_lr: float = 1e-3  # (Huang & Belongie: 1e-4)
    adain_style_weight: float = 10.0
    adain_identity_weight: float = 10.0  # pixel reconstruction term for the briefly trained decoder; 0 = paper
    adain_residual: bool = True  # add only AdaIN's change to the source pixels; False = paper

    def validate(self, where: str = "multilevel") -> None:
        """The rules within this section, checked when it is loaded (and by the job before it runs)."""
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 32:
            raise ValueError(f"{where}.image_size: expected a positive multiple of 32, got {size!r}")
        size = self.adain_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or (size and (size < 16 or size % 8)):
            raise ValueError(f"{where}.adain_size: expected 0 (the image size) or a multiple of 8 of at least 16, "
                             f"got {size!r}")
        if self.adain_encoder not in ("vgg19", "random"):
            raise ValueError(f"{where}.adain_encoder: expected 'vgg19' or 'random', got {self.adain_encoder!r}")


@section("animal")
@dataclass
class AnimalConfig:
    """The data of the 2D job's animal tasks (``multilevel.task`` ``animal`` or ``mouse``; the network and schedule
    stay the ``multilevel`` section's): crop counts (a rendered domain draws that many, a file gives at most that
    many) and, to replace the task's own specs (:data:`posefast.methods.multilevel.animal.ANIMAL_TASKS`), a source,
    target and test spec and the test file's keypoint map. CPU-sized: 1,000 crops a domain keep the animal job,
    rendering included, near the human job's time with half its crops."""

    n_source: int = 1000
    n_target: int = 1000
    n_test: int = 1000
    source: str = ""  # "" = the task's: synthetic-animal:dog (animal), synthetic-animal:rodent (mouse)
    target: str = ""  # "" = the task's: synthetic-animal:dog-real, video:<mirror mouse video>
    test: str = ""  # "" = the task's: another draw of the target (animal), dlc:<mirror mouse folder> (mouse)
    keypoint_map: str = ""  # the test file's bodyparts -> keypoints ("" = the task's: mirror-mouse-top for mouse)

    def validate(self, where: str = "animal") -> None:
        for name in ("n_source", "n_target", "n_test"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{where}.{name}: expected a positive int, got {v!r}")
