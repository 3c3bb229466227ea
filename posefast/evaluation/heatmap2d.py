"""2D evaluation of heatmap networks (the multilevel method's ``PoseResNet``): argmax-decoded predictions and
PCK@0.05 as RegDA / UDAPE / the multi-level paper report it, with the image ↔ heatmap pixel mapping they rest on."""
from __future__ import annotations

import torch
from torch import Tensor

from posefast.data.image2d import PCK_EVAL_JOINTS
from posefast.ops import decode_heatmaps, pck_2d
from posefast.skeleton import layout_of

__all__ = ["image_to_heatmap", "heatmap_to_image", "normalize_images", "predict", "evaluate_pck", "pck_records",
           "evaluate_pck_with_records", "group_pck", "skeleton_eval_joints"]

# The network sees ImageNet-normalised RGB, as the paper's pipeline (so ImageNet backbone weights fit).
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def image_to_heatmap(keypoints: Tensor, stride: int) -> Tensor:
    """Image pixels (area convention) -> heatmap pixels (centre convention) of a map with the given stride."""
    return keypoints / stride - 0.5


def heatmap_to_image(keypoints: Tensor, stride: int) -> Tensor:
    """Inverse of :func:`image_to_heatmap`."""
    return (keypoints + 0.5) * stride


def normalize_images(images: Tensor) -> Tensor:
    """RGB ``[N, 3, H, W]`` in [0, 1] -> ImageNet-normalised network input."""
    return (images - _MEAN.to(images)) / _STD.to(images)


@torch.no_grad()
def predict(model, images: Tensor, batch_size: int = 256) -> tuple[Tensor, Tensor]:
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


def _predictions_and_truth(model, dataset, batch_size: int) -> tuple[Tensor, Tensor, float]:
    """(predicted, true keypoints in heatmap pixels, heatmap size) of a labelled split."""
    if len(dataset) == 0:
        raise ValueError("dataset: the test split is empty")
    pred, _ = predict(model, dataset.images, batch_size)
    size = dataset.images.shape[-1] // model.output_stride
    return pred, image_to_heatmap(dataset.keypoints, model.output_stride), float(size)


def group_pck(per_joint: dict, groups: dict) -> dict:
    """PCK per keypoint group as UDAPE reports it (``KeypointDataset.group_accuracy``, lib/datasets/
    keypoint_dataset.py lines 64-76 @ baf85f1): the mean of the group's per-keypoint PCKs. ``per_joint``: name ->
    PCK (NaN: no visible instance, left out); ``groups``: group -> keypoint names. A group none of whose keypoints
    was visible is NaN."""
    out = {}
    for g, names in groups.items():
        vals = [per_joint[n] for n in names if n in per_joint and per_joint[n] == per_joint[n]]
        out[g] = sum(vals) / len(vals) if vals else float("nan")
    return out


def skeleton_eval_joints(skeleton) -> tuple:
    """The keypoints PCK is averaged over for a layout: Body16's 12 limb keypoints (``PCK_EVAL_JOINTS``), every
    keypoint of any other layout (UDAPE's "all" group of its animal sets)."""
    return PCK_EVAL_JOINTS if skeleton.name == "body16" else tuple(range(skeleton.num_joints))


def _default_joints(dataset, joints):
    """``joints``, or the ones PCK is averaged over for the dataset's layout (:func:`skeleton_eval_joints`)."""
    if joints is not None:
        return joints
    layout = layout_of(dataset.keypoint_names)
    return skeleton_eval_joints(layout) if layout is not None else tuple(range(len(dataset.keypoint_names)))


def evaluate_pck(model, dataset, batch_size: int = 256, threshold: float = 0.05,
                 joints=None, groups: dict | None = None) -> dict:
    """PCK@``threshold`` as RegDA/UDAPE/the multi-level paper: argmax decoding, distance / heatmap size, visible
    keypoints only, accuracy per keypoint then averaged over ``joints`` (default: the dataset's layout's, Body16's
    12 limb keypoints or every keypoint of an animal layout). Percentages.

    Returns ``{"pck": float, "per_joint": {name: float}, "count": int}`` (keypoints with no visible instance are
    left out of the mean; NaN if none is visible at all), and ``"per_group": {group: float}`` (:func:`group_pck`)
    by ``groups`` (group -> keypoint names; default: the layout's ``Skeleton.keypoint_groups``, if any).
    """
    joints = _default_joints(dataset, joints)
    return _pck_summary(*_predictions_and_truth(model, dataset, batch_size), dataset, threshold, joints, groups)


def _pck_summary(pred: Tensor, gt: Tensor, size: float, dataset, threshold: float, joints, groups=None) -> dict:
    if groups is None:
        layout = layout_of(dataset.keypoint_names)
        groups = layout.keypoint_groups if layout is not None else None
    hits, counts = pck_2d(pred, gt, dataset.visible > 0, size, threshold)
    idx = list(joints)
    hits, counts = hits[idx], counts[idx]
    valid = counts > 0
    acc = torch.where(valid, hits / counts.clamp_min(1), torch.full_like(hits, float("nan")))
    mean = float(acc[valid].mean()) * 100 if bool(valid.any()) else float("nan")
    names = [dataset.keypoint_names[j] for j in idx]
    out = {"pck": mean, "per_joint": {n: float(a) * 100 for n, a in zip(names, acc)}, "count": int(counts.sum())}
    if groups:
        out["per_group"] = group_pck(out["per_joint"], groups)
    return out


def pck_records(model, dataset, batch_size: int = 256, threshold: float = 0.05, joints=None) -> dict:
    """Per-crop tallies behind :func:`evaluate_pck`: ``{"hits", "visible"}`` float64 numpy ``[N, K']`` over the
    evaluated ``joints`` (a NaN hit where a distance is not finite), so that
    :func:`posefast.evaluation.stats.pck_of_hits` of them is the reported PCK and a paired bootstrap can resample
    crops. Each (crop, keypoint) goes through :func:`posefast.pck_2d` as its own keypoint, so the hit rule is the
    op's, not a copy of it. ``joints``: as :func:`evaluate_pck`."""
    joints = _default_joints(dataset, joints)
    return _pck_tallies(*_predictions_and_truth(model, dataset, batch_size), dataset, threshold, joints)


def evaluate_pck_with_records(model, dataset, batch_size: int = 256, threshold: float = 0.05,
                              joints=None) -> tuple[dict, dict]:
    """``(evaluate_pck(...), pck_records(...))`` from one pass of the network over ``dataset``."""
    joints = _default_joints(dataset, joints)
    pred, gt, size = _predictions_and_truth(model, dataset, batch_size)
    return (_pck_summary(pred, gt, size, dataset, threshold, joints),
            _pck_tallies(pred, gt, size, dataset, threshold, joints))


def _pck_tallies(pred: Tensor, gt: Tensor, size: float, dataset, threshold: float, joints) -> dict:
    idx = list(joints)
    n, k = pred.shape[0], len(idx)
    visible = dataset.visible[:, idx] > 0
    hits, _ = pck_2d(pred[:, idx].reshape(1, n * k, 2), gt[:, idx].reshape(1, n * k, 2), visible.reshape(1, n * k),
                     size, threshold)
    return {"hits": hits.reshape(n, k).numpy(), "visible": visible.to(torch.float64).numpy()}
