"""PoseDataset: the one container every loader returns; holds exactly the arrays of a pose archive."""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import numpy as np

from posefast.skeleton import Skeleton, get_skeleton, h36m16_to_h36m17, h36m17_to_h36m16
from posefast.data.pose3d.archive import ARCHIVE_KEYS, load_archive, save_archive, validate_arrays
from posefast.geometry import normalize_screen, project

__all__ = ["PoseDataset"]

_FLOAT_KEYS = ("joints_3d", "joints_2d", "camera", "confidence")
_INT_KEYS = ("subject", "sequence", "view")


def _as_float32(key: str, a):
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{key}: expected a real numeric array, got dtype {a.dtype}")
    return a.astype(np.float32, copy=False)


def _as_int(key: str, a, dtype):
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{key}: expected an integer array, got dtype {a.dtype}")
    return a.astype(dtype, copy=False)


class PoseDataset:
    """N samples of one skeleton: optional 3D (camera frame, metres), 2D (pixels), per-sample camera.

    Attributes (numpy, see ``posefast.data.pose3d.archive`` for the format):
        joints_3d: float32 [N, J, 3] or None (an unlabelled target domain).
        joints_2d: float32 [N, J, 2]; projected from ``joints_3d`` with ``camera`` when not given.
        camera: float32 [N, 4] or [N, 9] pixel intrinsics (+ distortion).
        image_size: int32 [N, 2] (width, height).
        skeleton: the :class:`~posefast.skeleton.Skeleton` (``skeleton.name`` is what the archive stores).
        confidence: float32 [N, J] or None.
        subject, sequence, view: int64 [N] or None.
        name: where the data came from (a spec or a path), for messages.
        meta: free-form provenance (not stored in archives).

    Every constructor call validates with the archive validator, so any dataset can be saved and reloaded.
    """

    def __init__(self, *, camera, image_size, skeleton: "Skeleton | str" = "h36m17", joints_3d=None, joints_2d=None,
                 confidence=None, subject=None, sequence=None, view=None, name: str = "<PoseDataset>",
                 meta: "Mapping | None" = None):
        self.name = str(name)
        self.meta = dict(meta or {})
        arrays: dict[str, object] = {"skeleton": get_skeleton(skeleton).name}
        for key, value in (("joints_3d", joints_3d), ("joints_2d", joints_2d), ("camera", camera),
                           ("confidence", confidence)):
            if value is not None:
                arrays[key] = _as_float32(key, value)
        arrays["image_size"] = _as_int("image_size", image_size, np.int32)
        for key, value in (("subject", subject), ("sequence", sequence), ("view", view)):
            if value is not None:
                arrays[key] = _as_int(key, value, np.int64)
        if "joints_2d" not in arrays and "joints_3d" in arrays:
            # a source domain may come without 2D: its 2D is the projection with its own camera
            arrays["joints_2d"] = project(arrays["joints_3d"], arrays["camera"], behind_camera="raise").numpy() \
                .astype(np.float32)
            self.meta.setdefault("joints_2d", "projected from joints_3d with camera")
        checked = validate_arrays(arrays, source=self.name)
        self.skeleton: Skeleton = get_skeleton(checked["skeleton"])
        self.joints_3d: np.ndarray | None = checked.get("joints_3d")
        self.joints_2d: np.ndarray = checked["joints_2d"]
        self.camera: np.ndarray = checked["camera"]
        self.image_size: np.ndarray = checked["image_size"]
        self.confidence: np.ndarray | None = checked.get("confidence")
        self.subject: np.ndarray | None = checked.get("subject")
        self.sequence: np.ndarray | None = checked.get("sequence")
        self.view: np.ndarray | None = checked.get("view")

    # -- archive round trip -----------------------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Mapping[str, object], name: str = "<arrays>", meta: "Mapping | None" = None):
        """Build from archive keys (as returned by :func:`load_archive` or :meth:`as_arrays`)."""
        unknown = sorted(set(arrays) - set(ARCHIVE_KEYS))
        if unknown:
            raise ValueError(f"{name}: unknown key(s) {unknown}; expected only {sorted(ARCHIVE_KEYS)}")
        kwargs = {k: arrays[k] for k in arrays}
        skeleton = kwargs.pop("skeleton", None)
        if skeleton is None:
            raise ValueError(f"{name}: missing key 'skeleton'")
        if "camera" not in kwargs or "image_size" not in kwargs:
            raise ValueError(f"{name}: missing key 'camera' or 'image_size'")
        return cls(skeleton=str(skeleton), name=name, meta=meta, **kwargs)

    @classmethod
    def load(cls, path: "str | os.PathLike") -> "PoseDataset":
        """Read a pose archive (validated)."""
        return cls.from_arrays(load_archive(path), name=os.fspath(path), meta={"source": os.fspath(path)})

    def as_arrays(self) -> dict[str, object]:
        """The archive keys as numpy arrays (``skeleton`` as ``str``); optional keys only when present."""
        out: dict[str, object] = {"skeleton": self.skeleton.name, "camera": self.camera,
                                  "image_size": self.image_size, "joints_2d": self.joints_2d}
        for key in ("joints_3d", "confidence", "subject", "sequence", "view"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def save(self, path: "str | os.PathLike", compress: bool = True):
        """Write this dataset as a pose archive; returns the written path."""
        return save_archive(path, self.as_arrays(), compress=compress)

    # -- basic queries ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.camera.shape[0])

    @property
    def num_joints(self) -> int:
        return self.skeleton.num_joints

    @property
    def has_3d(self) -> bool:
        return self.joints_3d is not None

    def normalized_2d(self) -> np.ndarray:
        """float32 [N, J, 2]: ``joints_2d`` in normalised screen coordinates (``uv / w * 2 - [1, h / w]``)."""
        return normalize_screen(self.joints_2d, self.image_size[:, 0], self.image_size[:, 1]).numpy().astype(np.float32)

    def __repr__(self) -> str:
        parts = [f"N={len(self)}", self.skeleton.name, "3D+2D" if self.has_3d else "2D only",
                 f"camera[{self.camera.shape[1]}]"]
        for key in ("confidence", "subject", "sequence", "view"):
            if getattr(self, key) is not None:
                parts.append(key)
        return f"PoseDataset({self.name!r}, {', '.join(parts)})"

    # -- derived datasets -------------------------------------------------------------------------------
    def _replace(self, name: "str | None" = None, meta_update: "Mapping | None" = None, **changes) -> "PoseDataset":
        arrays = self.as_arrays()
        arrays.update(changes)
        arrays = {k: v for k, v in arrays.items() if v is not None}
        meta = dict(self.meta)
        meta.update(meta_update or {})
        return PoseDataset.from_arrays(arrays, name=name or self.name, meta=meta)

    def subset(self, index) -> "PoseDataset":
        """Samples selected by a bool mask [N] or integer indices (numpy semantics, no silent broadcast)."""
        index = np.asarray(index)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"index: expected a bool mask of shape ({len(self)},), got {index.shape}")
        elif index.dtype.kind in "iu":
            if index.ndim != 1:
                raise ValueError(f"index: expected 1-D integer indices, got shape {index.shape}")
            if index.size and (index.min() < -len(self) or index.max() >= len(self)):
                raise IndexError(f"index: values must lie in [-{len(self)}, {len(self)}), got "
                                 f"[{index.min()}, {index.max()}]")
        else:
            raise TypeError(f"index: expected bool or integer array, got dtype {index.dtype}")
        count = np.count_nonzero(index) if index.dtype == bool else index.size
        if count == 0:
            raise ValueError(f"{self.name}: subset would be empty")
        arrays = {k: (v[index] if isinstance(v, np.ndarray) else v) for k, v in self.as_arrays().items()}
        return PoseDataset.from_arrays(arrays, name=self.name, meta=self.meta)

    def select_subjects(self, subjects: Iterable[int]) -> "PoseDataset":
        """Samples whose ``subject`` is in ``subjects`` (requires subject ids)."""
        if self.subject is None:
            raise ValueError(f"{self.name}: has no 'subject' ids to split by")
        wanted = np.asarray(sorted(set(int(s) for s in subjects)), dtype=np.int64)
        mask = np.isin(self.subject, wanted)
        if not mask.any():
            raise ValueError(f"{self.name}: no sample of subjects {wanted.tolist()}; present: "
                             f"{np.unique(self.subject).tolist()}")
        return self.subset(mask)

    def without_3d(self) -> "PoseDataset":
        """The unlabelled view of this dataset (a target domain for training): same 2D, no ``joints_3d``."""
        arrays = self.as_arrays()
        arrays.pop("joints_3d", None)
        return PoseDataset.from_arrays(arrays, name=self.name, meta=self.meta)

    def to_skeleton(self, skeleton: "Skeleton | str") -> "PoseDataset":
        """Convert between ``h36m17`` and ``h36m16`` (17->16 exact; 16->17 re-inserts an approximate neck)."""
        target = get_skeleton(skeleton)
        if target.name == self.skeleton.name:
            return self
        pair = (self.skeleton.name, target.name)
        if pair == ("h36m17", "h36m16"):
            conv = h36m17_to_h36m16
        elif pair == ("h36m16", "h36m17"):
            conv = h36m16_to_h36m17
        else:
            raise ValueError(f"skeleton: no conversion from {pair[0]!r} to {pair[1]!r}")
        changes = {"skeleton": target.name, "joints_2d": conv(self.joints_2d).astype(np.float32)}
        if self.joints_3d is not None:
            changes["joints_3d"] = conv(self.joints_3d).astype(np.float32)
        if self.confidence is not None:
            c = conv(self.confidence[..., None])[..., 0]
            if pair == ("h36m16", "h36m17"):  # the re-inserted neck is only as sure as its two neighbours
                c[..., 9] = np.minimum(self.confidence[..., 8], self.confidence[..., 9])
            changes["confidence"] = c.astype(np.float32)
        return self._replace(meta_update={"converted_from": self.skeleton.name}, **changes)

    @staticmethod
    def concat(datasets: Sequence["PoseDataset"], name: "str | None" = None) -> "PoseDataset":
        """Concatenate datasets of one skeleton; optional keys must be present in all or none."""
        if not datasets:
            raise ValueError("datasets: expected at least one PoseDataset")
        skel = {d.skeleton.name for d in datasets}
        if len(skel) != 1:
            raise ValueError(f"datasets: mixed skeletons {sorted(skel)}")
        keysets = [set(d.as_arrays()) for d in datasets]
        if any(k != keysets[0] for k in keysets):
            raise ValueError(f"datasets: differing keys {[sorted(k) for k in keysets]}")
        cam_widths = {d.camera.shape[1] for d in datasets}
        arrays: dict[str, object] = {"skeleton": skel.pop()}
        for key in keysets[0] - {"skeleton"}:
            parts = [d.as_arrays()[key] for d in datasets]
            if key == "camera" and len(cam_widths) > 1:  # mix of pinhole and distorted: pad pinholes
                parts = [np.concatenate([p, np.zeros((len(p), 5), np.float32)], 1) if p.shape[1] == 4 else p
                         for p in parts]
            arrays[key] = np.concatenate(parts, axis=0)
        return PoseDataset.from_arrays(arrays, name=name or "+".join(d.name for d in datasets))

    def tensors(self, device="cpu", normalized_2d: bool = True) -> dict:
        """Torch tensors of every present key on ``device`` (float32 / int64); adds ``joints_2d_norm`` [N, J, 2]."""
        import torch

        out = {}
        for key, value in self.as_arrays().items():
            if isinstance(value, np.ndarray):
                out[key] = torch.as_tensor(value, device=device)
        out["image_size"] = out["image_size"].long()
        if normalized_2d:
            out["joints_2d_norm"] = torch.as_tensor(self.normalized_2d(), device=device)
        return out
