"""Summary statistics of a pose dataset along the two domain gaps of PoseDA (Chai et al., ICCV 2023).

Global position: where the root sits in the camera frame and in the normalised image, and how large the 2D pose
is (PoseDA's global position alignment matches exactly these 2D statistics). Local pose diversity: the spread
of 3D inter-segment angles, computed from joints alone so any dataset (real or synthetic) can be compared.
"""
from __future__ import annotations

import numpy as np

from posefast.skeleton import get_skeleton
from posefast.data.pose3d.dataset import PoseDataset

__all__ = ["joint_angles", "pose_2d_scale", "preset_statistics"]


def _angle(a, b):
    cos = np.sum(a * b, -1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def joint_angles(joints_3d: np.ndarray, skeleton="h36m17") -> dict[str, np.ndarray]:
    """Inter-segment angles (degrees, [...]) of [..., J, 3] poses (h36m17 or h36m16).

    knee/elbow: 0 = straight limb; hip/shoulder: angle between the thigh/upper arm and the trunk's downward
    axis (thorax -> pelvis), 0 = hanging along the body; spine: pelvis->spine vs spine->thorax;
    neck: spine->thorax vs thorax->head.
    """
    skel = get_skeleton(skeleton)
    X = np.asarray(joints_3d, dtype=np.float64)
    if X.shape[-2:] != (skel.num_joints, 3):
        raise ValueError(f"joints_3d: expected [..., {skel.num_joints}, 3] for {skel.name}, got {X.shape}")
    j = {name: X[..., skel.joint(name), :] for name in skel.joint_names}
    down = j["Pelvis"] - j["Thorax"]
    out = {}
    for side, s in (("left", "L"), ("right", "R")):
        out[f"{side}_knee"] = _angle(j[f"{s}Knee"] - j[f"{s}Hip"], j[f"{s}Ankle"] - j[f"{s}Knee"])
        out[f"{side}_elbow"] = _angle(j[f"{s}Elbow"] - j[f"{s}Shoulder"], j[f"{s}Wrist"] - j[f"{s}Elbow"])
        out[f"{side}_hip"] = _angle(j[f"{s}Knee"] - j[f"{s}Hip"], down)
        out[f"{side}_shoulder"] = _angle(j[f"{s}Elbow"] - j[f"{s}Shoulder"], down)
    out["spine"] = _angle(j["Spine"] - j["Pelvis"], j["Thorax"] - j["Spine"])
    out["neck"] = _angle(j["Thorax"] - j["Spine"], j["Head"] - j["Thorax"])
    return out


def pose_2d_scale(xy: np.ndarray) -> np.ndarray:
    """[..., J, 2] -> [...]: (width + height) / 2 of the 2D keypoint box (PoseDA's s)."""
    xy = np.asarray(xy, dtype=np.float64)
    extent = xy.max(-2) - xy.min(-2)
    return extent.mean(-1)


def preset_statistics(dataset: PoseDataset) -> dict:
    """Statistics of a dataset along the global-position and local-pose gaps.

    Returns a dict:
        n: number of samples.
        root_mean_m / root_std_m: [3] mean and std of the root joint in the camera frame (metres; needs 3D).
        root_2d_mean / root_2d_std: [2] of the root in normalised screen coordinates.
        scale_2d_mean / scale_2d_std: of (w + h) / 2 of the 2D box, normalised screen units.
        focal_norm_mean: mean focal length in normalised units (f * 2 / width).
        image_sizes: {"WxH": fraction of samples}.
        joint_angle_std_deg: {angle: std in degrees} (see :func:`joint_angles`; needs 3D).
        joint_angle_spread_deg: mean of those stds - one number for local pose diversity.
        joint_angle_p95_deg: {angle: 95th percentile} - how far the repertoire reaches.
    """
    xy = dataset.normalized_2d().astype(np.float64)
    root = dataset.skeleton.joint("Pelvis")
    scale = pose_2d_scale(xy)
    sizes, counts = np.unique(dataset.image_size, axis=0, return_counts=True)
    out = {
        "n": len(dataset),
        "root_2d_mean": xy[:, root].mean(0), "root_2d_std": xy[:, root].std(0),
        "scale_2d_mean": float(scale.mean()), "scale_2d_std": float(scale.std()),
        "focal_norm_mean": float((dataset.camera[:, 0] * 2 / dataset.image_size[:, 0]).mean()),
        "image_sizes": {f"{w}x{h}": float(c / len(dataset)) for (w, h), c in zip(sizes, counts)},
    }
    if dataset.joints_3d is not None:
        X = dataset.joints_3d.astype(np.float64)
        out["root_mean_m"] = X[:, root].mean(0)
        out["root_std_m"] = X[:, root].std(0)
        angles = joint_angles(X, dataset.skeleton)
        out["joint_angle_std_deg"] = {k: float(v.std()) for k, v in angles.items()}
        out["joint_angle_p95_deg"] = {k: float(np.percentile(v, 95)) for k, v in angles.items()}
        out["joint_angle_spread_deg"] = float(np.mean(list(out["joint_angle_std_deg"].values())))
    return out
