"""Evaluation and reporting of the multi-level 2D method: PCK@0.05 on a labelled target test split, the summary
table and a picture grid of predictions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from posefast.ops import decode_heatmaps, pck_2d
from posefast.data.image2d import BODY16_EDGES, PCK_EVAL_JOINTS
from posefast.methods.multilevel.warp import heatmap_to_image, image_to_heatmap

__all__ = ["normalize_images", "predict", "evaluate_pck", "pck_records", "summary_table", "plot_predictions", "VARIANT_LABELS"]

# The network sees ImageNet-normalised RGB, as the paper's pipeline (so ImageNet backbone weights fit).
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

VARIANT_LABELS = {
    "source-only": "Source only",
    "image": "+ image level (AdaIN)",
    "image+feature": "+ feature level (GRL patch D)",
    "multilevel": "+ pose level (info-max) = multi-level",
}


def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """RGB ``[N, 3, H, W]`` in [0, 1] -> ImageNet-normalised network input."""
    return (images - _MEAN.to(images)) / _STD.to(images)


@torch.no_grad()
def predict(model, images: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax-decoded keypoints of ``images [N, 3, H, W]`` in heatmap pixels ``[N, K, 2]`` and in image pixels
    ``[N, K, 2]``, on the CPU (batches move to the model's device; it runs in eval mode, its mode is restored)."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        coords = [decode_heatmaps(model(normalize_images(images[i:i + batch_size].to(device))).heatmaps)[0].cpu()
                  for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    hm = torch.cat(coords) if coords else torch.zeros(0, model.num_keypoints, 2)
    return hm, heatmap_to_image(hm, model.output_stride)


def evaluate_pck(model, dataset, batch_size: int = 256, threshold: float = 0.05,
                 joints=PCK_EVAL_JOINTS) -> dict:
    """PCK@``threshold`` as RegDA/UDAPE/the multi-level paper: argmax decoding, distance / heatmap size, visible
    keypoints only, accuracy per keypoint then averaged over ``joints`` (12 limb keypoints). Percentages.

    Returns ``{"pck": float, "per_joint": {name: float}, "count": int}`` (keypoints with no visible instance are
    left out of the mean; NaN if none is visible at all).
    """
    if len(dataset) == 0:
        raise ValueError("dataset: the test split is empty")
    pred, _ = predict(model, dataset.images, batch_size)
    size = dataset.images.shape[-1] // model.output_stride
    gt = image_to_heatmap(dataset.keypoints, model.output_stride)
    hits, counts = pck_2d(pred, gt, dataset.visible > 0, float(size), threshold)
    idx = list(joints)
    hits, counts = hits[idx], counts[idx]
    valid = counts > 0
    acc = torch.where(valid, hits / counts.clamp_min(1), torch.full_like(hits, float("nan")))
    mean = float(acc[valid].mean()) * 100 if bool(valid.any()) else float("nan")
    names = [dataset.keypoint_names[j] for j in idx]
    return {"pck": mean, "per_joint": {n: float(a) * 100 for n, a in zip(names, acc)},
            "count": int(counts.sum())}


def pck_records(model, dataset, batch_size: int = 256, threshold: float = 0.05, joints=PCK_EVAL_JOINTS) -> dict:
    """Per-crop tallies behind :func:`evaluate_pck`: ``{"hits", "visible"}`` float64 numpy ``[N, K']`` over the
    evaluated ``joints`` (a NaN hit where a distance is not finite), so that ``posefast.evaluation.stats.pck_of_hits`` of
    them is the reported PCK and a paired bootstrap can resample crops. Each (crop, keypoint) goes through
    :func:`posefast.pck_2d` as its own keypoint, so the hit rule is the op's, not a copy of it."""
    if len(dataset) == 0:
        raise ValueError("dataset: the test split is empty")
    pred, _ = predict(model, dataset.images, batch_size)
    size = dataset.images.shape[-1] // model.output_stride
    gt = image_to_heatmap(dataset.keypoints, model.output_stride)
    idx = list(joints)
    n, k = pred.shape[0], len(idx)
    visible = dataset.visible[:, idx] > 0
    hits, _ = pck_2d(pred[:, idx].reshape(1, n * k, 2), gt[:, idx].reshape(1, n * k, 2), visible.reshape(1, n * k),
                     float(size), threshold)
    return {"hits": hits.reshape(n, k).numpy(), "visible": visible.to(torch.float64).numpy()}


def summary_table(results: dict, info: str) -> str:
    """Markdown table of target PCK@0.05 per variant and the change vs source-only."""
    base = results.get("source-only", {}).get("pck")
    lines = [f"Target PCK@0.05 (%), {info}", "", "| variant | PCK@0.05 | vs source-only |", "|---|---:|---:|"]
    for name, m in results.items():
        delta = "—" if base is None or name == "source-only" else f"{m['pck'] - base:+.1f}"
        lines.append(f"| {VARIANT_LABELS.get(name, name)} | {m['pck']:.1f} | {delta} |")
    return "\n".join(lines) + "\n"


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
