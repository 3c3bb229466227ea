"""2D heatmap pose network: SimpleBaseline (Xiao et al., "Simple Baselines for Human Pose Estimation and
Tracking", ECCV 2018) — a ResNet (or EfficientNet-Lite0, the CPU default of the 2D job) backbone, three stride-2 4×4 transposed convolutions (BN, ReLU) and a 1×1
convolution to K heatmaps at 1/4 of the input resolution. The multi-level alignment method (ICME 2024) uses
ResNet-101 at 256×256 input (64×64 heatmaps) and puts its feature-level discriminator on the deconvolution
output, so both are returned.

The backbone's module names follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1``…``layer4``, blocks with
``conv1/bn1/conv2/bn2[/conv3/bn3]`` and ``downsample``), so an ImageNet checkpoint saved by torchvision loads
into it from a local file (no downloads happen here). The network's input is ImageNet-normalised RGB (what
``posefast.evaluation.heatmap2d.normalize_images`` makes, and what torchvision's weights expect); the
EfficientNet-Lite0 backbone (:mod:`posefast.models.efficientnet`, ImageNet weights from an installed package) maps
it to its own normalisation first.
"""
from __future__ import annotations

import math
import os
from typing import NamedTuple

import torch
from torch import nn

from posefast.models._common import check_positive_int
from posefast.models.efficientnet import EfficientNetLite0

__all__ = ["ResNetBackbone", "PoseResNet", "Pose2DOutput", "RESNET_CONFIGS", "BACKBONES", "load_state_dict_file"]

BACKBONES = ("resnet", "efficientnet-lite0")

# depth -> (block type, blocks per stage, stage widths, stem width); bottleneck output is 4× the width.
RESNET_CONFIGS = {
    "tiny": ("basic", (1, 1, 1, 1), (16, 32, 64, 128), 16),
    18: ("basic", (2, 2, 2, 2), (64, 128, 256, 512), 64),
    34: ("basic", (3, 4, 6, 3), (64, 128, 256, 512), 64),
    50: ("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), 64),
    101: ("bottleneck", (3, 4, 23, 3), (64, 128, 256, 512), 64),
    152: ("bottleneck", (3, 8, 36, 3), (64, 128, 256, 512), 64),
}
_OUTPUT_STRIDE = 32  # stem (4) × three stride-2 stages


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict from a local file (a bare state dict or a checkpoint holding ``"state_dict"``/
    ``"model"``); strips a ``"module."`` prefix left by DataParallel. Tensors only (``weights_only``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no weights file at {os.fspath(path)!r}")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ValueError(f"path: {os.fspath(path)!r} does not hold a state dict")
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}


class _BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + skip)


class _Bottleneck(nn.Module):
    """1×1 → 3×3 (carries the stride, torchvision's "v1.5") → 1×1 (×4 channels)."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + skip)


def _projection(in_ch: int, out_ch: int, stride: int):
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))


class ResNetBackbone(nn.Module):
    """ResNet without the classifier: ``[N, C_in, H, W] -> [N, out_channels, H/32, W/32]``.

    ``depth``: 18/34 (basic blocks), 50/101/152 (bottlenecks) or ``"tiny"`` (basic blocks, one per stage, widths
    16-32-64-128: a CPU-demo size, same topology).
    """

    def __init__(self, depth: int | str = 50, in_channels: int = 3):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "in_channels")
        if depth not in RESNET_CONFIGS:
            raise ValueError(f"depth: unknown ResNet depth {depth!r}; expected one of {list(RESNET_CONFIGS)}")
        kind, blocks, widths, stem = RESNET_CONFIGS[depth]
        block = _BasicBlock if kind == "basic" else _Bottleneck
        self.depth = depth
        self.conv1 = nn.Conv2d(check_positive_int(in_channels, "in_channels"), stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        ch = stem
        for i, (n, width) in enumerate(zip(blocks, widths)):
            layers = []
            for b in range(n):
                layers.append(block(ch, width, 2 if (b == 0 and i > 0) else 1))
                ch = width * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
        self.out_channels = ch
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load ImageNet weights saved by torchvision (``fc.*`` is ignored) or by this class, strictly."""
        state = {k: v for k, v in load_state_dict_file(path).items() if not k.startswith("fc.")}
        if any(k.startswith("backbone.") for k in state):
            state = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
        self.load_state_dict(state, strict=True)


class Pose2DOutput(NamedTuple):
    heatmaps: torch.Tensor  # [..., K, H/4, W/4]
    features: torch.Tensor  # [..., C_deconv, H/4, W/4], the deconvolution output the heatmaps are read from


class PoseResNet(nn.Module):
    """SimpleBaseline heatmap network: ``images [..., C_in, H, W] -> Pose2DOutput`` (H, W multiples of 32).

    Args:
        num_keypoints: K heatmaps.
        backbone: ``"resnet"`` (:class:`ResNetBackbone` of ``depth``) or ``"efficientnet-lite0"``
            (:class:`~posefast.models.efficientnet.EfficientNetLite0` without its classifier, 320 channels at
            stride 32; ``depth`` is ignored).
        depth: ResNet depth (see :class:`ResNetBackbone`); the ICME'24 method uses 101.
        deconv_channels: width of each of the three transposed convolutions (256 in the paper).
        weights: local file with a full state dict of this network (loaded strictly).
        backbone_weights: local file with ImageNet backbone weights (torchvision layout; ResNet only).
        imagenet: EfficientNet-Lite0 only: load the packaged ImageNet weights (:meth:`EfficientNetLite0.load_imagenet`;
            raises ``PretrainedUnavailable`` when the package is absent).
        frozen_stages: EfficientNet-Lite0 only: stem + this many of its 7 stages frozen (weights and BN statistics).
        stages: EfficientNet-Lite0 only: the stages kept (5: stride 16, for small crops).
    Initialisation follows Xiao et al.: transposed convs and the head N(0, 0.001²), head bias 0, BN (1, 0).
    """

    def __init__(self, num_keypoints: int, depth: int | str = 50, deconv_channels: int = 256,
                 num_deconv: int = 3, in_channels: int = 3, weights: str | os.PathLike | None = None,
                 backbone_weights: str | os.PathLike | None = None, backbone: str = "resnet",
                 imagenet: bool = False, frozen_stages: int = 0, stages: int = 7):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"backbone: expected one of {list(BACKBONES)}, got {backbone!r}")
        if backbone != "resnet" and backbone_weights is not None:
            raise ValueError("backbone_weights: a torchvision checkpoint fits the ResNet backbone only; "
                             f"{backbone} loads its packaged ImageNet weights (imagenet=True)")
        if backbone == "resnet" and (imagenet or frozen_stages or stages != 7):
            raise ValueError("imagenet/frozen_stages: EfficientNet-Lite0 options; the ResNet backbone takes "
                             "backbone_weights (a local torchvision file)")
        self.num_keypoints = check_positive_int(num_keypoints, "num_keypoints")
        deconv_channels = check_positive_int(deconv_channels, "deconv_channels")
        self.num_deconv = check_positive_int(num_deconv, "num_deconv")
        if backbone == "resnet":
            self.backbone = ResNetBackbone(depth, in_channels)
        else:
            self.backbone = EfficientNetLite0(classifier=False, frozen_stages=frozen_stages, in_channels=in_channels,
                                              input_norm="imagenet", stages=stages)
        stride = getattr(self.backbone, "stride", _OUTPUT_STRIDE)
        if 2 ** self.num_deconv > stride:
            raise ValueError(f"num_deconv: at most {stride.bit_length() - 1} stride-2 upsamplings undo the "
                             f"stride-{stride} backbone, got {num_deconv}")
        self.backbone_name = backbone
        layers, ch = [], self.backbone.out_channels
        for _ in range(self.num_deconv):
            layers += [nn.ConvTranspose2d(ch, deconv_channels, 4, 2, 1, output_padding=0, bias=False),
                       nn.BatchNorm2d(deconv_channels), nn.ReLU(inplace=True)]
            ch = deconv_channels
        self.deconv = nn.Sequential(*layers)
        self.head = nn.Conv2d(deconv_channels, self.num_keypoints, 1)
        self.feature_channels = deconv_channels
        self.output_stride = stride // 2 ** self.num_deconv
        for m in self.deconv.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.head.weight, std=0.001)
        nn.init.zeros_(self.head.bias)
        if backbone_weights is not None:
            self.backbone.load_weights(backbone_weights)
        if imagenet:
            self.backbone.load_imagenet()
        if weights is not None:
            self.load_weights(weights)
        # NHWC: EfficientNet's depthwise convolutions run faster on the CPU (oneDNN) than in NCHW (docs/results.md);
        # load_state_dict copies into these tensors and keeps their layout, EMA copies keep it too.
        self.to(memory_format=torch.channels_last)

    def parameter_groups(self, lr: float, backbone_lr_mult: float = 1.0) -> list[dict]:
        """Optimiser parameter groups: the backbone's trainable parameters at ``backbone_lr_mult · lr``, the
        deconvolutions and the head at ``lr`` (UDAPE/DAML ``lib/models/pose_resnet.py`` ``get_parameters``, lines
        86-92 / 89-93: 0.1 × lr for the backbone with ``finetune=True``; their ``train_human.py`` leaves it off, one
        lr for all). Frozen parameters (``requires_grad=False``) are left out; a group with none is dropped."""
        for name, value in (("lr", lr), ("backbone_lr_mult", backbone_lr_mult)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ValueError(f"{name}: expected a positive finite number, got {value!r}")
        trainable = lambda m: [p for p in m.parameters() if p.requires_grad]  # noqa: E731
        groups = [{"params": trainable(self.backbone), "lr": float(lr) * float(backbone_lr_mult)},
                  {"params": trainable(self.deconv) + trainable(self.head), "lr": float(lr)}]
        return [g for g in groups if g["params"]]

    def load_weights(self, path: str | os.PathLike) -> None:
        """Load a full state dict of this network from a local file (strict)."""
        self.load_state_dict(load_state_dict_file(path), strict=True)

    def forward(self, images: torch.Tensor) -> Pose2DOutput:
        if not isinstance(images, torch.Tensor) or not images.is_floating_point():
            raise TypeError("images: expected a floating torch.Tensor [..., C, H, W]")
        c_in = self.backbone.in_channels
        if images.dim() < 4 or images.shape[-3] != c_in:
            raise ValueError(f"images: expected shape [..., {c_in}, H, W] with at least one batch dim, "
                             f"got {tuple(images.shape)}")
        h, w = images.shape[-2:]
        if h % _OUTPUT_STRIDE or w % _OUTPUT_STRIDE or h == 0 or w == 0:
            raise ValueError(f"images: H and W must be positive multiples of {_OUTPUT_STRIDE} so the heatmaps are "
                             f"exactly 1/{self.output_stride} of the input, got {h}×{w}")
        lead = images.shape[:-3]
        x = images.reshape(-1, c_in, h, w).contiguous(memory_format=torch.channels_last)
        features = self.deconv(self.backbone(x))
        heatmaps = self.head(features).contiguous()  # callers (custom ops, views) expect NCHW
        features = features.contiguous()
        return Pose2DOutput(heatmaps.reshape(*lead, *heatmaps.shape[1:]),
                            features.reshape(*lead, *features.shape[1:]))
