"""posefast.data: pose archives, dataset loaders, embedded synthetic domains and in-memory batching.

Every loader returns a :class:`PoseDataset` holding exactly the keys of a pose archive (``ARCHIVE.md``):
3D joints in the camera frame (metres, x right, y down, z forward), 2D joints in pixels, per-sample intrinsics
and image size, the skeleton name, and optional confidence / subject / sequence / view ids.

    >>> from posefast.data import load
    >>> src = load("synthetic:h36m", n=20000, split="train")
    >>> tgt = load("synthetic:3dhp", n=5000, split="test")
"""
from posefast.data.pose3d.archive import ARCHIVE_KEYS, ArchiveError, load_archive, save_archive, validate_arrays
from posefast.data.batching import TensorBatcher, dataset_batcher, infinite, paired_batches
from posefast.data.cameras import (normalize_intrinsics, normalize_screen, project, unnormalize_screen, world_to_camera)
from posefast.data.pose3d.cmu import load_cmu
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.pose3d.h36m import H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS, h36m_cameras, load_h36m
from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS, convert_keypoints
from posefast.data.pose3d.mpi3dhp import load_3dhp
from posefast.data.pose3d.pw3d import PW3D_EVAL_JOINTS_H36M17, load_3dpw
from posefast.data.spec import load
from posefast.data.splits import DomainPair, make_domains, random_split, split_by_subject
from posefast.data.pose3d.stats import preset_statistics
from posefast.data.synth3d.synthetic import PRESETS, generate_synthetic
from posefast.data.pose3d.flips import flip_dataset, flip_joints

__all__ = [
    "ARCHIVE_KEYS", "ArchiveError", "load_archive", "save_archive", "validate_arrays",
    "PoseDataset", "load",
    "load_h36m", "h36m_cameras", "H36M_TRAIN_SUBJECTS", "H36M_TEST_SUBJECTS",
    "load_3dhp", "load_3dpw", "PW3D_EVAL_JOINTS_H36M17", "load_cmu",
    "LAYOUT_JOINTS", "convert_keypoints",
    "generate_synthetic", "PRESETS", "preset_statistics",
    "normalize_screen", "unnormalize_screen", "normalize_intrinsics", "project", "world_to_camera",
    "flip_joints", "flip_dataset",
    "DomainPair", "make_domains", "split_by_subject", "random_split",
    "TensorBatcher", "dataset_batcher", "infinite", "paired_batches",
]
