"""The picture grid of multilevel's predictions (``predictions.png``): crops with their true and predicted
Body16 skeletons."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posefast.data.image2d import BODY16_EDGES

__all__ = ["plot_predictions"]

def _draw(ax, image: torch.Tensor, skeletons: list[tuple[np.ndarray, np.ndarray, str]], title: str) -> None:
    ax.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
    for xy, vis, color in skeletons:
        for a, b in BODY16_EDGES:
            if vis[a] and vis[b]:
                ax.plot(xy[[a, b], 0] - 0.5, xy[[a, b], 1] - 0.5, color=color, lw=1.2)
        ax.scatter(xy[vis, 0] - 0.5, xy[vis, 1] - 0.5, s=5, color=color)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def plot_predictions(path: str | Path, rows: list[dict]) -> Path | None:
    """Picture grid, one row per entry ``{"title", "images" [n, 3, H, W], "truth" [n, K, 2] or None,
    "visible" [n, K], "pred" [n, K, 2] or None}`` (image pixels): truth in green, prediction in red.
    Returns the PNG path, or None without matplotlib."""
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
            _draw(ax, row["images"][c], skel, row["title"] if c == 0 else "")
    fig.suptitle("green: ground truth, red: prediction", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
