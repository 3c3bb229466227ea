"""Image-level alignment of the multi-level 2D method: AdaIN style transfer (Huang & Belongie, ICCV 2017) re-styles
source crops with target crops as style (per sample with probability p, strength α ~ U(0, 1)).

The method uses the authors' ImageNet VGG-19 encoder and a decoder trained on COCO/WikiArt. Those weights cannot be
downloaded here, so:

- ``multilevel.adain_weights`` may name local files: either one file written by :func:`save_style_transfer`
  (``{"encoder", "decoder", "width_multiplier"}``, what ``python -m posefast.train adain`` produces) or the
  authors' pair ``"vgg_normalised.pth,decoder.pth"`` (full width);
- otherwise the encoder keeps the same VGG-19-to-relu4_1 architecture with a *fixed random* initialisation
  (``VGGEncoder``'s seeded init, narrowed by ``adain_width`` on CPU) and only the decoder is trained, with the
  AdaIN content + style losses on source (content) and target (style) crops. Random features still carry colour
  and texture statistics, so the transfer moves palette, contrast and some texture, but it is weaker than with
  ImageNet features: a CPU stand-in, not the paper's transfer.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from posefast.models import Decoder, StyleTransfer, VGGEncoder
from posefast.engine import checkpoint as ckpt
from posefast.seeds import derive_seed

__all__ = ["build_style_transfer", "load_style_transfer", "save_style_transfer", "train_style_transfer",
           "stylize"]


def build_style_transfer(width_multiplier: float) -> StyleTransfer:
    """Fixed random VGG-19-to-relu4_1 encoder (seeded, global RNG untouched) and a fresh mirrored decoder."""
    with torch.random.fork_rng(devices=[]):  # the decoder's default init must not shift the run's RNG stream
        torch.manual_seed(0)
        encoder = VGGEncoder(width_multiplier=width_multiplier)
        return StyleTransfer(encoder, Decoder(width_multiplier=width_multiplier))


def save_style_transfer(net: StyleTransfer, path: str | os.PathLike, **info) -> None:
    """One file with both halves (atomic), loadable by :func:`load_style_transfer`."""
    ckpt.save_atomic({"encoder": net.encoder.state_dict(), "decoder": net.decoder.state_dict(),
                      "width_multiplier": net.encoder.width_multiplier, **info}, path)


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
    net = build_style_transfer(float(obj["width_multiplier"]))
    net.encoder.load_state_dict(obj["encoder"], strict=True)
    net.decoder.load_state_dict(obj["decoder"], strict=True)
    return net


def _draw(n: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, n, (batch,), generator=generator)


def train_style_transfer(source_images: torch.Tensor, target_images: torch.Tensor, out: str | os.PathLike, *,
                         width_multiplier: float, steps: int, batch_size: int, lr: float, style_weight: float,
                         identity_weight: float, seed: int, resume: bool = False, progress: bool = True,
                         checkpoint_every: int = 50) -> StyleTransfer:
    """Train the decoder (encoder fixed) on random pairs (content from ``source_images``, style from
    ``target_images``, both ``[N, 3, H, W]`` in [0, 1]) with

        content + style_weight·style + identity_weight·MSE(decoder(encoder(x)), x)

    at α = 1 (Huang & Belongie: style weight 10, no identity term). The identity term, on content and style
    crops alike, is our CPU addition (SANet, Park & Lee CVPR 2019, uses one): without ImageNet features the
    relu4_1 content loss alone leaves a freshly initialised decoder producing flat blobs for thousands of steps,
    while the pixel term makes it invert the fixed encoder within a few hundred. Writes ``out``
    (:func:`save_style_transfer`) and resumes exactly from ``out + ".checkpoint"`` (saved every
    ``checkpoint_every`` steps) when ``resume``. Returns the network."""
    for name, v in (("steps", steps), ("batch_size", batch_size), ("checkpoint_every", checkpoint_every)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected a positive int, got {v!r}")
    if len(source_images) == 0 or len(target_images) == 0:
        raise ValueError("source_images/target_images: need at least one image each")
    out = Path(out)
    state_path = out.with_name(out.name + ".checkpoint")
    net = build_style_transfer(width_multiplier)
    opt = torch.optim.Adam(net.decoder.parameters(), lr=lr)
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
        content = source_images[_draw(len(source_images), batch_size, gen)]
        style = target_images[_draw(len(target_images), batch_size, gen)]
        losses = net.training_losses(content, style)
        loss = losses["content"] + style_weight * losses["style"]
        if identity_weight:
            both = torch.cat([content, style])
            with torch.no_grad():
                feats = net.encoder(both)
            losses["identity"] = F.mse_loss(net.decoder(feats), both)
            loss = loss + identity_weight * losses["identity"]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"AdaIN decoder loss became {loss.item()} at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix(content=f"{losses['content'].item():.3g}", style=f"{losses['style'].item():.3g}",
                        refresh=False)
        if (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            ckpt.save_atomic({"decoder": net.decoder.state_dict(), "optimizer": opt.state_dict(),
                              "generator": gen.get_state(), "step": step + 1}, state_path)
    net.eval()
    save_style_transfer(net, out, steps=steps)
    state_path.unlink(missing_ok=True)
    return net


@torch.no_grad()
def stylize(net: StyleTransfer, content: torch.Tensor, style: torch.Tensor, probability: float,
            generator: torch.Generator | None = None, residual: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-style each content image with probability ``probability`` using the style image at the same index, with
    α ~ U(0, 1) per image; only the chosen images go through the network. ``content``/``style [N, 3, H, W]`` in
    [0, 1] -> ``(images [N, 3, H, W] in [0, 1], chosen [N] bool)``.

    ``residual``: return ``content + decoder(t) − decoder(f_c)`` instead of ``decoder(t)`` — only the change
    AdaIN makes is added to the original pixels. Our CPU option for a narrow random encoder, whose relu4_1
    bottleneck (1/8 resolution) decodes to a blur that would wipe out the limbs; the paper decodes directly.
    """
    if content.shape != style.shape:
        raise ValueError(f"style: expected the content's shape {tuple(content.shape)}, got {tuple(style.shape)}")
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
        raise ValueError(f"probability: expected a value in [0, 1], got {probability!r}")
    n = content.shape[0]
    chosen = torch.rand(n, generator=generator, device=content.device) < probability
    alpha = torch.rand(n, generator=generator, device=content.device)
    out = content.clone()
    if bool(chosen.any()):
        c = content[chosen]
        styled = net(c, style[chosen], alpha[chosen])
        if residual:
            styled = c + styled - net.decoder(net.encoder(c))
        out[chosen] = styled.clamp(0, 1)
    return out, chosen
