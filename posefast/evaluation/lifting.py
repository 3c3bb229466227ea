"""Scoring a 3D lifter: predictions (with the flip test), MPJPE / P-MPJPE / PCK / AUC from one pass of
:func:`posefast.pose_errors`, per-pose and per-class numbers, and the data a run's checkpoint is scored on
(:func:`load_eval_data`; the command is ``python -m posefast.evaluate``, :mod:`posefast.cli.evaluate`)."""
from __future__ import annotations

import numpy as np
import torch

from posefast.data.domains import SPLIT_SALTS, load_split, root_relative, spec_kind
from posefast.errors import UsageError
from posefast.ops import pose_errors
from posefast.skeleton import Skeleton


def flip_joints(joints: torch.Tensor, skeleton: Skeleton) -> torch.Tensor:
    """Mirror ``[..., J, C]`` joints left/right: negate x (normalised screen or camera frame) and swap sides."""
    flipped = joints[..., torch.tensor(skeleton.flip_permutation, device=joints.device), :].clone()
    flipped[..., 0] = -flipped[..., 0]
    return flipped


@torch.no_grad()
def predict(lifter: torch.nn.Module, joints_2d_norm: torch.Tensor, skeleton: Skeleton, flip_test: bool = False,
            batch_size: int = 4096) -> torch.Tensor:
    """Root-relative 3D ``[N, J, 3]`` for normalised 2D ``[N, J, 2]``; with ``flip_test`` the prediction is averaged
    with the un-flipped prediction of the mirrored input (PoseAug's 3DHP protocol)."""
    was_training = lifter.training
    lifter.eval()
    out = []
    for chunk in joints_2d_norm.split(batch_size):
        pred = lifter(chunk)
        if flip_test:
            pred = 0.5 * (pred + flip_joints(lifter(flip_joints(chunk, skeleton)), skeleton))
        out.append(pred)
    lifter.train(was_training)
    return torch.cat(out) if out else joints_2d_norm.new_zeros(0, skeleton.num_joints, 3)


def summarize(pred: torch.Tensor, target_3d: torch.Tensor, unit: str = "m", joints=None) -> dict:
    """Scalar metrics of root-relative predictions against camera-frame (or root-relative) targets."""
    errors = pose_errors(pred, root_relative(target_3d), unit=unit, joints=joints)
    return {
        "mpjpe": float(errors.mpjpe.mean()),
        "p_mpjpe": float(errors.p_mpjpe.mean()),
        "pck": float(errors.pck),
        "auc": float(errors.auc),
        "per_joint": [float(v) for v in errors.per_joint],
        "n": int(pred.shape[0]),
    }


def evaluate_lifter(lifter, split: dict, skeleton: Skeleton, flip_test: bool = False, batch_size: int = 4096,
                    joints=None) -> dict:
    """Metrics of ``lifter`` on a split dict (``joints_2d_norm``, ``joints_3d``) — see :mod:`posefast.data.domains`."""
    pred = predict(lifter, split["joints_2d_norm"], skeleton, flip_test, batch_size)
    return summarize(pred, split["joints_3d"], joints=joints)


@torch.no_grad()
def per_pose_metrics(pred: torch.Tensor, target_3d: torch.Tensor, unit: str = "m") -> dict:
    """Per-pose numbers whose means over poses are :func:`summarize`'s: ``mpjpe``, ``p_mpjpe`` (mm), ``pck`` (percent
    of the pose's joints below 150 mm) and ``auc`` (the pose's mean PCK over 0..150 mm), each a float64 numpy
    ``[N]`` — what a paired bootstrap over test poses resamples."""
    errors = pose_errors(pred, root_relative(target_3d), unit=unit)
    joint_errors = errors.joint_errors.to(torch.float64)  # [N, J] mm
    thresholds = errors.thresholds.to(joint_errors.device)  # [T] mm, 150 among them
    hits = (joint_errors.unsqueeze(-1) < thresholds).to(torch.float64)  # strictly below, as pose_errors counts
    k150 = int(torch.nonzero(thresholds == 150.0)[0, 0])
    return {"mpjpe": errors.mpjpe.double().cpu().numpy(), "p_mpjpe": errors.p_mpjpe.double().cpu().numpy(),
            "pck": (100.0 * hits[..., k150].mean(-1)).cpu().numpy(), "auc": (100.0 * hits.mean((-1, -2))).cpu().numpy()}


def view_elevation_deg(joints_3d: torch.Tensor, skeleton: Skeleton):
    """Per pose ``[N]`` (float64 numpy, degrees): the elevation of the body axis (pelvis → thorax) toward the camera
    in the camera frame (x right, y down, z forward) — > 0 when the upper body is nearer the camera than the pelvis,
    i.e. seen from above (or leaning toward the camera). A viewpoint measure that needs no world frame."""
    axis = joints_3d[..., skeleton.joint("Thorax"), :] - joints_3d[..., 0, :]
    axis = torch.nn.functional.normalize(axis.double(), dim=-1)
    return np.degrees(np.arcsin(np.clip((-axis[..., 2]).cpu().numpy(), -1.0, 1.0)))


def per_class_mpjpe(mpjpe: "np.ndarray", classes: "np.ndarray", names) -> dict:
    """``{class name: {"mpjpe": mean mm, "n": poses}}`` for per-pose errors ``[N]`` and class indices ``[N]``
    (``names[i]`` names class ``i``); classes without test poses are left out."""
    out = {}
    for i, name in enumerate(names):
        mask = classes == i
        if mask.any():
            out[name] = {"mpjpe": float(np.mean(mpjpe[mask])), "n": int(mask.sum())}
    return out


def own_split(spec: str, split, cfg: dict):
    """(role, split) of ``spec`` in the run that ``cfg`` configured, or None; the target wins when the run's source
    and target are the same spec (its test split is what metrics.json calls ``target``)."""
    matches = [(role, s) for role, s in SPLIT_SALTS if cfg.get(role) == spec and s == (split or "test")]
    return matches[-1] if matches else None


def load_eval_data(spec: str, cfg: dict, split: str | None = None, n: int | None = None):
    """``(PoseDataset, what)`` that ``python -m posefast.evaluate`` scores a lifting run ``cfg`` (its saved config)
    on.

    The run's own ``--source``/``--target`` spec gives exactly the split that run evaluated (same caps and seed:
    :func:`posefast.data.domains.load_split`), so the numbers agree with its ``metrics.json``. Any other spec gives
    its test split where it has one (``synthetic:*`` — ``n`` poses, default the run's ``n_test`` — and ``h36m:``,
    S9/S11) and the whole file otherwise (archives, ``cmu:``, ``3dhp:``, ``3dpw:``); ``split`` overrides that choice
    (``train``, ``test`` or ``all``) and ``n`` caps real data (a seeded subset; 0 = everything).
    """
    if split not in (None, "train", "test", "all"):
        raise UsageError(f"--split: expected train, test or all, got {split!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise UsageError(f"--n: expected a non-negative int, got {n!r}")
    seed, skeleton = int(cfg.get("seed", 0)), cfg["skeleton"]
    own = own_split(spec, split, cfg)
    if own is not None:
        role, part = own
        count = cfg["n_test" if part == "test" else f"n_{role}"] if n is None else n
        data = load_split(spec, part, count, seed, SPLIT_SALTS[own], skeleton)
        return data, f"the run's {role} {part} split"
    kind = spec_kind(spec)
    part = split or ("test" if kind in ("synthetic", "h36m") else "all")
    count = (cfg.get("n_test", 0) if kind == "synthetic" else 0) if n is None else n
    return load_split(spec, part, count, seed, 0, skeleton), f"{part} split" if part != "all" else "all of it"
