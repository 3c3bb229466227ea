"""Run configuration as dataclasses; YAML files under ``configs/`` override the defaults, the CLI overrides both.

The defaults are small CPU settings (minutes on 2 cores); ``configs/*_paper.yaml`` reproduce the papers' schedules.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class PoseAugConfig:
    """PoseAug (Gong et al., CVPR 2021) augmentor and discriminators; numbers from the released code."""

    warmup_epochs: int = 1  # lifter-only epochs before the augmentor joins (paper: 2)
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
    feedback: str = "released"  # "released": rectified range on hardness; "paper": |1 - exp(L(x') - beta L(x))|
    weight_feedback_ba: float = 0.1
    weight_feedback_rt: float = 0.01
    beta_start: float = 3.0  # beta_BA(e) = beta_start + (beta_end - beta_start) e / epochs (released: 3 + 2e/50)
    beta_end: float = 5.0
    beta_width: float = 2.0  # released BA hardness band beta_BA +- 2
    beta_rt_center: float = 17.0  # released RT hardness band 17 +- 15
    beta_rt_width: float = 15.0
    pool_size: int = 4096
    discriminator_every: int = 2
    grad_clip: float = 1.0
    template_swap: bool = True  # random bone-length template swap of the source each epoch
    # the lifter's real pairs: "original" source poses (released: run_poseaug.py trains the lifter's real pass on
    # train_det2d3d_loader, which dataloader_update.py never swaps) or the template-"swapped" ones the GAN sees
    lifter_real: str = "original"
    num_templates: int = 5
    # The released RT head squares t_z, so the root may land on the camera plane, where projection diverges; we add
    # this floor (metres) to the root depth. It must exceed a body's reach from the pelvis (~1 m) or joints still
    # reach the plane (docs/results.md: what a floor of 1.0 did). 0 reproduces the release.
    min_root_depth: float = 2.0
    # "release": Kaiming output layers (rotations of median ~140°, bone-angle changes 1 - cos ~0.4 at step 0); the
    # release then trains the GAN ~3000 steps before the lifter sees a sample. "identity": output layers scaled by
    # generator_init_scale, biases 0, the root at the source's mean root: the heads start near the identity.
    generator_init: str = "identity"
    generator_init_scale: float = 0.05
    rotation_limit_deg: float = 20.0  # RT head: axis-angle = tanh(.) * limit per axis (release: 180, i.e. pi)
    # RT root position: 0 = released (absolute, t_z squared, plus min_root_depth); > 0: the source's mean root +
    # tanh(.) * this many metres per axis (the root stays within the source's span)
    translation_limit_m: float = 0.5
    # the bounded root's origin: "mean" (the source's mean root: every fake lands near the middle of the source's
    # capture area) or "own" (each pose's own root: T a displacement, so the fakes keep the source's spread of
    # positions and the 2D discriminator cannot tell them from the real ones by where they stand)
    translation_origin: str = "mean"
    # "compact": the 3D discriminator's first layer reads the 78 distinct part-KCS entries (same function, faster);
    # "full": the release's 5 x 225 inputs, whose Adam dynamics the compact form does not reproduce (methods/poseaug.py)
    kcs_layout: str = "compact"
    # > 0: clip the lifter's gradient norm before each step (release: 1, function_poseaug/model_pos_train.py:41)
    lifter_grad_clip: float = 0.0
    # the generator's operations applied to the fakes: any of "ba", "bl", "rt", comma-separated (the paper's
    # ablation of the three operations), or "none": each fake is then the generator's input pose itself, unchanged
    # and in its own place (with template_swap=false: exactly the source pair; the pipeline's control)
    augment: str = "ba,bl,rt"
    # when the lifter learns: "release" (run_poseaug.py:96-101): after each GAN epoch (none in warm-up) one pass over
    # that epoch's in-frame fakes, then one over the real pairs, so the fakes never share a batch-norm batch with the
    # real pairs and the lifter is evaluated with the real pass's statistics; "joint": one step per GAN step on the
    # real batch and its fakes together (the same lifter steps as source-only; docs/results.md: what it cost)
    lifter_schedule: str = "release"


@dataclass
class PoseDAConfig:
    """PoseDA (Chai et al., ICCV 2023): GPA + LPA with an anchor discriminator."""

    gpa: bool = True
    lpa: bool = True
    target_camera: str = "given"  # "given": the target split's intrinsics; "estimate": from image size (see poseda)
    depth_min: float = 1.0  # GPA depth clamp (metres)
    depth_max: float = 20.0
    lpa_epochs: int = 2  # passes over the source to train the LPA generator and anchor discriminator
    lpa_batch_size: int = 256
    lpa_copies: int = 1  # augmented copies of the source generated for the lifter
    lr_generator: float = 1e-4
    lr_discriminator: float = 1e-4
    noise_dim: int = 48
    weight_adv: float = 1.0
    weight_reg: float = 3.0
    ba_range_center: float = 0.1  # band of the mean bone-angle change 1 - cos kept by the range loss
    ba_range_width: float = 0.1
    bl_limit: float = 0.1
    # what the anchor discriminator compares (methods/poseda.py lists the paper's readings): "target2d-local" (the
    # target's 2D poses, scale-free local shape), "target2d" (the target's normalised 2D poses as the lifter sees
    # them), "source3d" (PoseAug's part-KCS discriminator with the source 3D poses as real), "both"
    # (target2d-local + source3d)
    anchor: str = "target2d-local"
    weight_adv_3d: float = 1.0  # the source3d discriminator's weight in the generator loss ("source3d", "both")
    generator_init: str = "identity"  # "release": Kaiming output layers; "identity": see poseaug.generator_init
    generate_mode: str = "eval"  # batch norm of the heads when generating the lifter's poses: "eval" or "train"
    generator_init_scale: float = 0.05


@dataclass
class MultilevelConfig:
    """Multi-level alignment for 2D pose (Chen et al., ICME 2024), CPU-sized defaults (the paper's values are in
    the comments and ``configs/multilevel_paper.yaml``). ``python -m posefast.train multilevel`` trains
    ``pretrain_epochs`` source-only epochs once, then each variant for ``epochs - pretrain_epochs`` more."""

    image_size: int = 64  # paper: 256
    n_source: int = 2000
    n_target: int = 2000
    n_test: int = 2000  # labelled target test crops (the intervals want >= 2,000)
    source: str = "synthetic"  # the labelled 2D domain (posefast.data.image2d.make_domain 'source')
    target: str = "synthetic"  # lsp:<root>, coco:<json>: first n_target crops train, last n_test test
    backbone: str = "efficientnet-lite0"  # or "resnet" (of `depth`; paper: ResNet-101)
    pretrained: bool = True  # efficientnet-lite0: its ImageNet weights from the installed package (else random)
    frozen_stages: int = 5  # efficientnet-lite0: stem + this many of its 7 stages frozen; 5 = all kept ones, only the
    # deconvolution head trains (paper: none, ResNet-101; fine-tuned here it fits the source and loses the target)
    backbone_stages: int = 5  # efficientnet-lite0: stages kept; 5 = stride 16 (4x4 features of a 64 px crop)
    depth: str = "tiny"  # ResNet depth: tiny, 18, 34, 50, 101 (paper), 152
    deconv_channels: int = 32  # paper: 256
    num_deconv: int = 3  # 3 behind the stride-16 Lite0: heatmaps at 1/2 of the input (32x32); the stride-32 ResNet
    # needs 4 for that (paper: 3 on ResNet-101, heatmaps at 1/4)
    backbone_weights: str = ""  # resnet: local ImageNet weights file (torchvision layout); "" = random
    pretrain_epochs: int = 4  # shared source-only epochs (paper: 40 of 70)
    default_epochs: int = 6  # the 2D schedule, used instead of the (lifting-sized) top-level epochs / batch_size;
    default_batch_size: int = 32  # --epochs/--batch-size set them for multilevel; 0 = the top level (paper: 70 / 32)
    variants: str = "source-only,image,image+feature,multilevel"  # rows of the table; also "mean-teacher"
    levels: str = "image,feature,pose"  # levels of the full "multilevel" row
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
    discriminator_widths: str = "16,16"  # paper: 256,128,128
    lr_discriminator: float = 1e-3  # paper: 1e-4 (with it our feature level fell to the source-only level)
    eval_batch_size: int = 256
    adain_weights: str = ""  # AdaIN weights file (or "vgg_normalised.pth,decoder.pth"); empty = train the decoder
    adain_encoder: str = "vgg19"  # vgg19: ImageNet VGG-19 from the installed package; random: fixed random encoder
    adain_width: float = 0.125  # width of the trained decoder (and of a random encoder); paper: 1
    adain_size: int = 32  # AdaIN runs on crops resized to this size, its change upsampled back; 0 = image_size
    adain_steps: int = 100
    adain_batch_size: int = 8
    adain_lr: float = 1e-3  # (Huang & Belongie: 1e-4)
    adain_style_weight: float = 10.0
    adain_identity_weight: float = 10.0  # pixel reconstruction term for the briefly trained decoder; 0 = paper
    adain_residual: bool = True  # add only AdaIN's change to the source pixels; False = paper


@dataclass
class CompareConfig:
    """The main job (``python -m posefast.train``, ``compare``): the papers' pretrain → adapt protocol over seeds.

    Per seed, source-only trains ``pretrain_epochs`` epochs at ``pretrain_lr`` (linear decay) until its source-test
    error has plateaued; from that checkpoint every method in ``methods`` (source-only included: the fair baseline)
    trains ``adapt_epochs`` more at ``adapt_lr`` (linear decay) with the same number of lifter steps — PoseAug's
    release pretrains at 1e-3 (run_baseline.py) and adapts at 1e-4 (run_poseaug.py ``--lr_p``). ``--epochs`` and
    ``--lr`` given to compare set ``adapt_epochs`` / ``adapt_lr``."""

    methods: str = "source-only,gpa,poseda,poseaug"
    pretrain_epochs: int = 40
    pretrain_lr: float = 1e-3
    adapt_epochs: int = 8
    adapt_lr: float = 1e-4
    bootstrap: int = 2000  # resamples of the test set per interval (paired within each seed)


@dataclass
class TrainConfig:
    method: str = "source-only"
    source: str = "synthetic:h36m"
    target: str = "synthetic:3dhp"
    skeleton: str = "h36m16"
    backbone: str = "simple"
    backbone_width: int = -1  # -1: the backbone's CPU width (simple/videopose 512, semgcn 128, stgcn fixed); 0: its
    # own (1024 for SimpleBaseline/VideoPose, as the papers); N: N channels (models.lifting.lifter_width_kwargs)
    epochs: int = 8
    batch_size: int = 256
    steps_per_epoch: int = 0  # 0 = one pass over the source training split
    lr: float = 1e-3
    lr_decay: bool = True  # linear decay lr * (1 - e / (epochs + 1)) as PoseAug
    n_source: int = 20000
    n_target: int = 20000
    n_test: int = 10000  # source and target test poses (the comparison's intervals want >= 10,000)
    seed: int = 0
    device: str = "auto"  # auto: CUDA when torch sees a GPU and posefast has its CUDA backend (posefast.errors)
    out: str = ""
    resume: bool = False
    flip_test: bool = False
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0 = at epoch ends only)
    init: str = ""  # a lifting run's checkpoint.pt to start the lifter from (same backbone, width, skeleton)
    seeds: str = "0,1,2"  # the comparison jobs (compare, multilevel): one full run per seed, intervals over them
    jobs: int = 0  # worker processes for the comparison jobs (0 = min(seeds, threads)); threads are shared out
    eval_batch_size: int = 4096
    plots: bool = True
    progress: bool = True
    poseaug: PoseAugConfig = field(default_factory=PoseAugConfig)
    poseda: PoseDAConfig = field(default_factory=PoseDAConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    multilevel: MultilevelConfig = field(default_factory=MultilevelConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        cfg = cls()
        apply_overrides(cfg, values, "config")
        return cfg


def apply_overrides(cfg, values: dict, where: str) -> None:
    """Set fields of a (nested) dataclass from a dict; unknown keys and wrong types are errors naming the key."""
    names = {f.name: f for f in dataclasses.fields(cfg)}
    for key, value in values.items():
        key_py = key.replace("-", "_")
        if key_py not in names:
            raise ValueError(f"{where}: unknown setting {key!r}; expected one of {sorted(names)}")
        current = getattr(cfg, key_py)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {key!r} expects a mapping of settings, got {value!r}")
            apply_overrides(current, value, f"{where}.{key_py}")
            continue
        if isinstance(current, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: {key!r} expects true/false, got {value!r}")
        elif isinstance(current, (int, float)) and not isinstance(current, bool):
            if isinstance(value, str):  # YAML 1.1 reads '1e-3' (no dot) as a string
                try:
                    value = int(value) if isinstance(current, int) else float(value)
                except ValueError:
                    pass
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}: {key!r} expects a number, got {value!r}")
            if isinstance(current, int) and not float(value).is_integer():  # 2.5, inf, nan
                raise ValueError(f"{where}: {key!r} expects a whole number, got {value!r}")
            value = type(current)(value)
        elif isinstance(current, str) and not isinstance(value, str):
            raise ValueError(f"{where}: {key!r} expects a string, got {value!r}")
        setattr(cfg, key_py, value)


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def parse_setting(raw: str, where: str):
    """A ``--set`` value as YAML (numbers, lists, strings); a YAML error is a ValueError naming ``where``."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: {raw!r} is not a YAML value ({_yaml_problem(exc)})") from None


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"--config: no such file {path}") from None
    except yaml.YAMLError as exc:  # a syntax error, or a tag naming Python code (safe_load builds none)
        raise ValueError(f"--config: {path} is not a YAML mapping of settings ({_yaml_problem(exc)})") from None
    except OSError as exc:  # a folder, unreadable
        raise OSError(f"--config: {path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # not UTF-8 text
        raise ValueError(f"--config: {path}: cannot be read ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config: {path} must hold a mapping of settings, got {type(values).__name__}")
    return values
