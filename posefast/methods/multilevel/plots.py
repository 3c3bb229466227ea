"""The picture grids of a multilevel run: its predictions (``predictions.png``: crops with their true and predicted
skeletons, drawn with the edges of their keypoint layout) and its AdaIN style transfer (``adain.png`` + ``adain.json``: source, target style, stylised)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from posefast.data.image2d import BODY16_EDGES
from posefast.methods.multilevel.adain import stylize
from posefast.models import adain_style_loss
from posefast.skeleton import get_skeleton

__all__ = ["plot_predictions", "plot_style_transfer", "style_distances"]

def _edges(num_keypoints: int, layout) -> tuple:
    """The stick figure's edges: the layout's (a registry name), else Body16's for 16 keypoints, else none."""
    if layout:
        return get_skeleton(layout).bones
    return BODY16_EDGES if num_keypoints == 16 else ()


def _draw(ax, image: torch.Tensor, skeletons: list[tuple[np.ndarray, np.ndarray, str]], title: str,
          layout=None) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    for xy, vis, color in skeletons:
        for a, b in _edges(len(xy), layout):
            if vis[a] and vis[b]:
                ax.plot(xy[[a, b], 0] - 0.5, xy[[a, b], 1] - 0.5, color=color, lw=1.2)
        ax.scatter(xy[vis, 0] - 0.5, xy[vis, 1] - 0.5, s=5, color=color)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def plot_predictions(path: str | Path, rows: list[dict], layout: str | None = None) -> Path | None:
    """Picture grid, one row per entry ``{"title", "images" [n, 3, H, W], "truth" [n, K, 2] or None,
    "visible" [n, K], "pred" [n, K, 2] or None}`` (image pixels): truth in green, prediction in red.
    ``layout``: the keypoints' layout (a registry name; default Body16). Returns the PNG path, or None without
    matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cols = max(len(r["images"]) for r in rows)
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * cols, 1.75 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(row["images"]):
                ax.axis("off")
                continue
            vis = row["visible"][c].numpy() > 0
            skel = []
            if row.get("truth") is not None:
                skel.append((row["truth"][c].numpy(), vis, "lime"))
            if row.get("pred") is not None:
                skel.append((row["pred"][c].numpy(), np.ones_like(vis), "red"))
            _draw(ax, row["images"][c], skel, row["title"] if c == 0 else "", layout)
    fig.suptitle("green: ground truth, red: prediction", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@torch.no_grad()
def style_distances(net, content: torch.Tensor, style: torch.Tensor, styled: torch.Tensor) -> dict:
    """AdaIN's style distance (Σ over relu1_1…relu4_1 of the MSE of channel means and stds, in the encoder's
    features) of the content and of the stylised images to their style images, per image pair:
    ``{"content_to_style", "stylised_to_style"}`` (lists). Stylisation carries the style when the second is smaller."""
    enc = net.encoder
    out = {"content_to_style": [], "stylised_to_style": []}
    for i in range(len(content)):
        s = enc.features(style[i:i + 1])
        out["content_to_style"].append(float(adain_style_loss(enc.features(content[i:i + 1]), s)))
        out["stylised_to_style"].append(float(adain_style_loss(enc.features(styled[i:i + 1]), s)))
    return out


def plot_style_transfer(path: str | Path, net, content: torch.Tensor, style: torch.Tensor, residual: bool,
                        size: int = 0) -> Path | None:
    """``adain.png``: rows source crops, target crops (the style), source stylised at α = 1, each titled with its
    style distance (:func:`style_distances`); the distances also go to ``adain.json`` next to it. Returns the PNG
    path, or None without matplotlib (the JSON is written either way)."""
    dev = next(net.parameters()).device
    content, style = content.to(dev), style.to(dev)
    styled = stylize(net, content, style, 1.0, residual=residual, size=size, alpha=1.0)[0]
    dist = style_distances(net, content, style, styled)
    path = Path(path)
    path.with_suffix(".json").write_text(json.dumps({**dist, "mean_content_to_style": float(np.mean(
        dist["content_to_style"])), "mean_stylised_to_style": float(np.mean(dist["stylised_to_style"]))}, indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    n = len(content)
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.4), squeeze=False)
    rows = [("source", content, dist["content_to_style"]), ("target (style)", style, None),
            ("stylised, α = 1", styled, dist["stylised_to_style"])]
    for r, (title, images, d) in enumerate(rows):
        for i in range(n):
            ax = axes[r][i]
            ax.imshow(images[i].permute(1, 2, 0).clamp(0, 1).cpu().numpy(), interpolation="nearest")
            ax.set_title((title + "\n" if i == 0 else "") + (f"style dist {d[i]:.3g}" if d is not None else ""),
                         fontsize=6)
            ax.axis("off")
    fig.suptitle("AdaIN: style distance to the target crop above (VGG relu1_1-4_1 mean/std MSE)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
