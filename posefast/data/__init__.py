"""posefast.data: pose archives, dataset loaders, embedded synthetic domains and the domain splits of a run.

Every loader returns a :class:`PoseDataset` holding exactly the keys of a pose archive (``ARCHIVE.md``):
3D joints in the camera frame (metres, x right, y down, z forward), 2D joints in pixels, per-sample intrinsics
and image size, the skeleton name, and optional confidence / subject / sequence / view ids. Camera maths (projection,
screen normalisation, rotations) is :mod:`posefast.geometry`'s; the splits a training run sees are
:func:`posefast.data.domains.load_domains`'s.

    >>> from posefast.data import load
    >>> src = load("synthetic:h36m", n=20000, split="train")
    >>> tgt = load("synthetic:3dhp", n=5000, split="test")
"""
from posefast.data.pose3d.archive import ARCHIVE_KEYS, ArchiveError, load_archive, save_archive, validate_arrays
from posefast.data.pose3d.cmu import load_cmu
from posefast.data.pose3d.dataset import PoseDataset
from posefast.data.pose3d.h36m import H36M_TEST_SUBJECTS, H36M_TRAIN_SUBJECTS, h36m_cameras, load_h36m
from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS, convert_keypoints
from posefast.data.pose3d.mpi3dhp import load_3dhp
from posefast.data.pose3d.pw3d import PW3D_EVAL_JOINTS_H36M17, load_3dpw
from posefast.data.spec import load
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
    "flip_joints", "flip_dataset",
]
