"""ImagePoseDataset: person crops with 2D keypoints, the one container every 2D domain and loader returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from posefast.data.image2d.keypoints import BODY16_NAMES

__all__ = ["ImagePoseDataset"]


@dataclass
class ImagePoseDataset(torch.utils.data.Dataset):
    """N square person crops with K keypoints each.

    Attributes:
        images: float32 [N, 3, H, W], RGB in [0, 1].
        keypoints: float32 [N, K, 2], (x, y) in pixels of the crop; pixel (row i, col j) covers
            [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5).
        visible: float32 [N, K], 1 where the keypoint is annotated, inside the crop and not occluded, else 0.
            Coordinates of invisible keypoints are finite but carry no supervision.
        keypoint_names: K names (Body16 by default, see ``posefast.data.image2d.keypoints``).
        meta: dataset-level provenance (domain style, seed, annotation file, ...).
        extras: per-sample side data, each a tensor [N, ...] or a list of N items (3D poses and cameras of a
            synthetic domain, crop boxes and image files of a real one); ``subset`` slices them with the rows.

    ``dataset[i]`` returns ``(image [3, H, W], keypoints [K, 2], visible [K])``.
    """

    images: torch.Tensor
    keypoints: torch.Tensor
    visible: torch.Tensor
    keypoint_names: tuple[str, ...] = BODY16_NAMES
    meta: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        im, kp, vis = self.images, self.keypoints, self.visible
        for name, t in (("images", im), ("keypoints", kp), ("visible", vis)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
            if t.dtype != torch.float32:
                raise TypeError(f"{name}: expected float32, got {t.dtype}")
        if im.ndim != 4 or im.shape[1] != 3:
            raise ValueError(f"images: expected [N, 3, H, W], got shape {tuple(im.shape)}")
        n, k = im.shape[0], len(self.keypoint_names)
        if tuple(kp.shape) != (n, k, 2):
            raise ValueError(f"keypoints: expected [N={n}, K={k}, 2], got shape {tuple(kp.shape)}")
        if tuple(vis.shape) != (n, k):
            raise ValueError(f"visible: expected [N={n}, K={k}], got shape {tuple(vis.shape)}")
        if not torch.isfinite(kp).all():
            raise ValueError("keypoints: contains NaN or inf")
        if not ((vis == 0) | (vis == 1)).all():
            raise ValueError("visible: expected only 0 and 1")
        if n and not (torch.isfinite(im).all() and im.min() >= 0 and im.max() <= 1):
            raise ValueError("images: expected finite values in [0, 1]")
        self.keypoint_names = tuple(self.keypoint_names)
        for key, value in self.extras.items():
            if not isinstance(value, (torch.Tensor, list, tuple)) or len(value) != n:
                raise ValueError(f"extras[{key!r}]: expected a tensor [N={n}, ...] or a list of {n} items")

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of every crop."""
        return int(self.images.shape[2]), int(self.images.shape[3])

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i):
        return self.images[i], self.keypoints[i], self.visible[i]

    def subset(self, index) -> "ImagePoseDataset":
        """A new dataset of the rows picked by ``index`` (slice, int tensor/list or bool mask)."""
        if isinstance(index, slice):
            idx = index
        else:
            idx = torch.as_tensor(index)
            if idx.dtype == torch.bool:
                if idx.shape != (len(self),):
                    raise ValueError(f"index: bool mask must have shape ({len(self)},), got {tuple(idx.shape)}")
            elif idx.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"index: expected a slice, integer indices or a bool mask, got {idx.dtype}")
            if idx.ndim != 1:
                raise ValueError(f"index: expected a 1-D index, got shape {tuple(idx.shape)}")
        rows = torch.arange(len(self))[idx]
        extras = {k: v[idx] if isinstance(v, torch.Tensor) else [v[i] for i in rows.tolist()]
                  for k, v in self.extras.items()}
        return ImagePoseDataset(self.images[idx], self.keypoints[idx], self.visible[idx], self.keypoint_names,
                                dict(self.meta), extras)
