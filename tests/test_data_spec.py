"""load(spec) resolution, archive round trips of any spec, and flips."""
import numpy as np
import pytest
import torch

from posefast.data import PoseDataset, flip_dataset, flip_joints, generate_synthetic, load
from posefast.geometry import project
from posefast.skeleton import H36M17


def test_synthetic_spec_matches_generator_and_round_trips(tmp_path):
    ds = load("synthetic:3dhp", n=200, seed=3, split="test")
    ref = generate_synthetic("3dhp", n=200, seed=3, split="test")
    np.testing.assert_array_equal(ds.joints_2d, ref.joints_2d)
    assert ds.meta["spec"] == "synthetic:3dhp"
    path = ds.save(tmp_path / "tgt.npz")
    back = load(str(path))
    for k, v in ds.as_arrays().items():
        if k != "skeleton":
            np.testing.assert_array_equal(back.as_arrays()[k], v)
    sub = load(path, subjects=[int(ds.subject[0])], stride=2)
    assert set(sub.subject) == {int(ds.subject[0])}
    assert len(sub) == len(ds.select_subjects([int(ds.subject[0])]).subset(
        np.arange(0, (ds.subject == ds.subject[0]).sum(), 2)))


def test_spec_errors(tmp_path):
    with pytest.raises(TypeError, match="unknown option.*'fps'"):
        load("synthetic:h36m", n=10, fps=30)
    with pytest.raises(ValueError, match="names no preset"):
        load("synthetic:")
    with pytest.raises(ValueError, match="neither an existing archive"):
        load("mpii:/data")
    with pytest.raises(ValueError, match="stride"):
        load("synthetic:h36m", n=10, stride=0)
    ds = load("synthetic:h36m", n=20, stride=4)
    assert len(ds) == 5
    ds.save(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="no predefined split"):
        load(tmp_path / "a.npz", split="train")


def test_flip_joints_numpy_and_torch():
    X = np.random.default_rng(0).normal(size=(3, 17, 3))
    f = flip_joints(X)
    perm = H36M17.flip_permutation
    np.testing.assert_allclose(f[:, perm, 0], -X[..., 0])
    np.testing.assert_allclose(flip_joints(f), X)
    np.testing.assert_allclose(flip_joints(torch.as_tensor(X)).numpy(), f)
    with pytest.raises(ValueError, match="joints"):
        flip_joints(X[:, :16])


def test_flip_dataset_stays_camera_consistent():
    ds = generate_synthetic("h36m", n=50, seed=2)
    # give it a distorted camera so the tangential term matters
    cam9 = np.concatenate([ds.camera, np.tile(np.float32([-0.2, 0.24, -0.003, -0.002, 0.0015]), (50, 1))], 1)
    ds = PoseDataset(joints_3d=ds.joints_3d, camera=cam9, image_size=ds.image_size)
    f = flip_dataset(ds)
    np.testing.assert_allclose(project(f.joints_3d, f.camera).numpy(), f.joints_2d, atol=1e-2)
    ff = flip_dataset(f)
    np.testing.assert_allclose(ff.joints_2d, ds.joints_2d, atol=1e-3)
    np.testing.assert_allclose(ff.joints_3d, ds.joints_3d)
    # the left wrist of the flipped sample is the mirrored right wrist
    lw, rw = H36M17.joint("LWrist"), H36M17.joint("RWrist")
    np.testing.assert_allclose(f.joints_3d[:, lw, 0], -ds.joints_3d[:, rw, 0])
