"""Left/right flip of joint arrays and datasets.

A flip mirrors the scene in the camera's x axis and swaps the left/right joints (``skeleton.flip_permutation``),
so a flipped pose is again a valid pose of the same layout (the test-time flip of PoseAug and VideoPose3D).
"""
from __future__ import annotations

import numpy as np

from posefast.skeleton import Skeleton, get_skeleton
from posefast.data.pose3d.dataset import PoseDataset

__all__ = ["flip_joints", "flip_dataset"]


def flip_joints(joints, skeleton: "Skeleton | str" = "h36m17"):
    """[..., J, C] (C = 2 or 3; numpy or torch) -> the mirrored pose: x negated, left/right joints swapped.

    x = 0 is the mirror line: for camera-frame 3D that is the optical axis plane; for 2D it is right for
    normalised screen coordinates (whose x = 0 is the image centre), not for pixels (use :func:`flip_dataset`).
    """
    skel = get_skeleton(skeleton)
    if joints.ndim < 2 or joints.shape[-2] != skel.num_joints or joints.shape[-1] not in (2, 3):
        raise ValueError(f"joints: expected [..., {skel.num_joints}, 2|3] for {skel.name}, got {tuple(joints.shape)}")
    perm = skel.flip_permutation
    if isinstance(joints, np.ndarray):
        out = joints[..., perm, :].copy()
    else:
        import torch

        out = joints[..., torch.tensor(perm.tolist(), device=joints.device), :].clone()
    out[..., 0] = -out[..., 0]
    return out


def flip_dataset(dataset: PoseDataset) -> PoseDataset:
    """Mirror every sample so that it stays consistent with its (mirrored) camera.

    3D: x -> -x with left/right swapped. 2D: mirrored about the principal point, ``u -> 2 cx - u``. Camera: the
    tangential coefficient p1 changes sign (the only x-odd distortion term), so ``project(flipped 3D, flipped
    camera)`` equals the flipped 2D exactly.
    """
    skel = dataset.skeleton
    perm = skel.flip_permutation
    uv = dataset.joints_2d[:, perm, :].copy()
    uv[..., 0] = 2 * dataset.camera[:, None, 2] - uv[..., 0]
    camera = dataset.camera.copy()
    if camera.shape[1] == 9:
        camera[:, 7] = -camera[:, 7]
    changes = {"joints_2d": uv, "camera": camera}
    if dataset.joints_3d is not None:
        changes["joints_3d"] = flip_joints(dataset.joints_3d, skel)
    if dataset.confidence is not None:
        changes["confidence"] = dataset.confidence[:, perm]
    return dataset._replace(name=dataset.name + " (flipped)", meta_update={"flipped": True}, **changes)
