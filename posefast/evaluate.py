"""Evaluate a lifting checkpoint: ``python -m posefast.evaluate --checkpoint PATH --data SPEC [--json FILE]``.

Metrics (millimetres / percent): MPJPE, P-MPJPE (similarity Procrustes, reflections excluded), PCK@150 mm and AUC
over 0..150 mm (root-relative, the MPI-INF-3DHP protocol), per-joint MPJPE — all from one pass of
:func:`posefast.pose_errors`.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from posefast.methods.data import root_relative
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
    from posefast import pose_errors

    errors = pose_errors(pred, root_relative(target_3d), unit=unit, joints=joints)
    return {
        "mpjpe": float(errors["mpjpe"].mean()),
        "p_mpjpe": float(errors["p_mpjpe"].mean()),
        "pck": float(errors["pck"]),
        "auc": float(errors["auc"]),
        "per_joint": [float(v) for v in errors["per_joint"]],
        "n": int(pred.shape[0]),
    }


def evaluate_lifter(lifter, split: dict, skeleton: Skeleton, flip_test: bool = False, batch_size: int = 4096,
                    joints=None) -> dict:
    """Metrics of ``lifter`` on a split dict (``joints_2d_norm``, ``joints_3d``) — see :mod:`posefast.methods.data`."""
    pred = predict(lifter, split["joints_2d_norm"], skeleton, flip_test, batch_size)
    return summarize(pred, split["joints_3d"], joints=joints)


@torch.no_grad()
def per_pose_metrics(pred: torch.Tensor, target_3d: torch.Tensor, unit: str = "m") -> dict:
    """Per-pose numbers whose means over poses are :func:`summarize`'s: ``mpjpe``, ``p_mpjpe`` (mm), ``pck`` (percent
    of the pose's joints below 150 mm) and ``auc`` (the pose's mean PCK over 0..150 mm), each a float64 numpy
    ``[N]`` — what a paired bootstrap over test poses resamples."""
    from posefast import pose_errors

    errors = pose_errors(pred, root_relative(target_3d), unit=unit)
    joint_errors = errors["joint_errors"].to(torch.float64)  # [N, J] mm
    thresholds = errors["thresholds"].to(joint_errors.device)  # [T] mm, 150 among them
    hits = (joint_errors.unsqueeze(-1) < thresholds).to(torch.float64)  # strictly below, as pose_errors counts
    k150 = int(torch.nonzero(thresholds == 150.0)[0, 0])
    return {"mpjpe": errors["mpjpe"].double().cpu().numpy(), "p_mpjpe": errors["p_mpjpe"].double().cpu().numpy(),
            "pck": (100.0 * hits[..., k150].mean(-1)).cpu().numpy(), "auc": (100.0 * hits.mean((-1, -2))).cpu().numpy()}


def per_class_mpjpe(mpjpe: "np.ndarray", classes: "np.ndarray", names) -> dict:
    """``{class name: {"mpjpe": mean mm, "n": poses}}`` for per-pose errors ``[N]`` and class indices ``[N]``
    (``names[i]`` names class ``i``); classes without test poses are left out."""
    import numpy as np

    out = {}
    for i, name in enumerate(names):
        mask = classes == i
        if mask.any():
            out[name] = {"mpjpe": float(np.mean(mpjpe[mask])), "n": int(mask.sum())}
    return out


def main(argv=None) -> int:
    from posefast.data import load
    from posefast.inference import load_lifter

    parser = argparse.ArgumentParser(prog="python -m posefast.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="checkpoint.pt of a lifting run (posefast.train)")
    parser.add_argument("--data", required=True, help="data spec with 3D labels, e.g. synthetic:3dhp or an archive")
    parser.add_argument("--split", default="test", help="split of the spec to evaluate (default: test)")
    parser.add_argument("--n", type=int, default=None, help="number of samples for synthetic specs")
    parser.add_argument("--flip-test", action="store_true", help="average with the mirrored input's prediction")
    parser.add_argument("--json", default=None, help="also write the metrics to this JSON file")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    lifter, skeleton, cfg = load_lifter(args.checkpoint, device=args.device)
    options = {"split": args.split, "skeleton": skeleton.name, "seed": cfg.get("seed", 0)}
    if args.n is not None:
        options["n"] = args.n
    dataset = load(args.data, **options)
    if not dataset.has_3d:
        parser.error(f"--data {args.data!r} has no 3D labels to evaluate against")
    split = dataset.tensors(device=args.device)
    metrics = evaluate_lifter(lifter, split, skeleton, flip_test=args.flip_test)
    print(f"{args.data} ({metrics['n']} poses): MPJPE {metrics['mpjpe']:.2f} mm  P-MPJPE {metrics['p_mpjpe']:.2f} mm  "
          f"PCK@150 {metrics['pck']:.2f} %  AUC {metrics['auc']:.2f} %")
    names = skeleton.joint_names
    print("per-joint MPJPE (mm): " + ", ".join(f"{n} {v:.1f}" for n, v in zip(names, metrics["per_joint"])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(metrics, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
