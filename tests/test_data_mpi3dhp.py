"""MPI-INF-3DHP test-set loaders (PoseAug's test_3dhp.npz and the per-sequence file) on fixture files."""
import numpy as np
import pytest

from posefast.data import load_3dhp
from posefast.data.cameras import normalize_screen, project
from posefast.data.mpi3dhp import MPI3DHP_TEST_CAMERAS
from posefast.skeleton import h36m17_to_h36m16

STUDIO = np.array(MPI3DHP_TEST_CAMERAS["studio"][0])
OUTDOOR = np.array(MPI3DHP_TEST_CAMERAS["outdoor"][0])


def _poses(n, seed, J=16):
    rng = np.random.default_rng(seed)
    rel = rng.normal(0, 0.25, (n, J, 3))
    rel[:, 0] = 0.0
    root = rng.uniform([-0.5, -0.3, 3.5], [0.5, 0.3, 5.0], (n, 3))
    return rel, root


def _poseaug_file(path, n_studio=7, n_outdoor=4, seed=0, zero_joint=None):
    rel, root = _poses(n_studio + n_outdoor, seed)
    cams = np.array([STUDIO] * n_studio + [OUTDOOR] * n_outdoor)
    sizes = np.array([[2048, 2048]] * n_studio + [[1920, 1080]] * n_outdoor)
    uv = project(rel + root[:, None], cams)
    xy = normalize_screen(uv, sizes)
    if zero_joint is not None:
        xy[zero_joint] = 0.0  # PoseAug zeroes invisible joints
    np.savez(path, pose3d=rel.astype(np.float32), pose2d=xy.astype(np.float32))
    return rel, root, uv


def test_poseaug_layout_recovers_root_and_cameras(tmp_path):
    rel, root, uv = _poseaug_file(tmp_path / "test_3dhp.npz", zero_joint=(2, 5))
    ds = load_3dhp(tmp_path / "test_3dhp.npz", studio_frames=7)
    assert ds.skeleton.name == "h36m16" and len(ds) == 11
    assert {tuple(s) for s in ds.image_size[:7].tolist()} == {(2048, 2048)}
    assert {tuple(s) for s in ds.image_size[7:].tolist()} == {(1920, 1080)}
    np.testing.assert_allclose(ds.camera[0], STUDIO, rtol=1e-6)
    np.testing.assert_allclose(ds.camera[-1], OUTDOOR, rtol=1e-6)
    visible = np.ones((11, 16), bool)
    visible[2, 5] = False
    np.testing.assert_array_equal(ds.confidence, visible.astype(np.float32))
    np.testing.assert_allclose(ds.joints_2d[visible], uv[visible], atol=0.05)
    # root-relative 3D was placed back by reprojection: camera-frame 3D reprojects onto the 2D
    np.testing.assert_allclose(ds.joints_3d - ds.joints_3d[:, :1], rel, atol=1e-5)
    np.testing.assert_allclose(ds.joints_3d[:, 0], root, atol=2e-3)
    assert "recovered" in ds.meta["root"]
    kept = load_3dhp(tmp_path / "test_3dhp.npz", studio_frames=7, recover_root=False)
    np.testing.assert_allclose(kept.joints_3d[:, 0], 0, atol=1e-7)
    to17 = load_3dhp(tmp_path / "test_3dhp.npz", studio_frames=7, skeleton="h36m17")
    assert to17.joints_3d.shape == (11, 17, 3)


def _sequence_file(path, units="mm", J=17, valid=False):
    p3, p2, ok = {}, {}, {}
    truth = {}
    for k, (name, cam) in enumerate((("TS1", STUDIO), ("TS5", OUTDOOR))):
        rel, root = _poses(6 + k, seed=k, J=J)
        X = rel + root[:, None]
        truth[name] = (X, project(X, cam))
        p3[name] = X * (1000.0 if units == "mm" else 1.0)
        p2[name] = truth[name][1]
        ok[name] = np.arange(6 + k) % 3 != 0
    arrays = {"positions_3d": p3, "positions_2d": p2}
    if valid:
        arrays["valid"] = ok
    np.savez(path, **arrays)
    return truth, ok


def test_sequence_layout(tmp_path):
    truth, _ = _sequence_file(tmp_path / "data_3dhp_gt_test.npz")
    ds = load_3dhp(tmp_path / "data_3dhp_gt_test.npz")
    assert ds.skeleton.name == "h36m17" and len(ds) == 13
    np.testing.assert_array_equal(np.unique(ds.subject), [1, 5])
    ts5 = ds.subset(ds.sequence == 5)
    np.testing.assert_allclose(ts5.joints_3d, truth["TS5"][0], atol=1e-5)
    np.testing.assert_allclose(ts5.joints_2d, truth["TS5"][1], atol=1e-3)
    np.testing.assert_allclose(project(ts5.joints_3d, ts5.camera), ts5.joints_2d, atol=0.05)
    assert {tuple(s) for s in ts5.image_size.tolist()} == {(1920, 1080)}
    h16 = load_3dhp(tmp_path / "data_3dhp_gt_test.npz", skeleton="h36m16")
    np.testing.assert_allclose(h16.joints_3d, h36m17_to_h36m16(ds.joints_3d))


def test_sequence_layout_valid_mask_and_units(tmp_path):
    truth, ok = _sequence_file(tmp_path / "v.npz", units="m", valid=True)
    ds = load_3dhp(tmp_path / "v.npz", units="m")
    assert len(ds) == ok["TS1"].sum() + ok["TS5"].sum()
    np.testing.assert_allclose(ds.subset(ds.sequence == 1).joints_3d, truth["TS1"][0][ok["TS1"]], atol=1e-6)
    with pytest.raises(ValueError, match="looks like metres"):
        load_3dhp(tmp_path / "v.npz")  # default units='mm' on a metre file


def test_corrupted_3dhp_files(tmp_path):
    np.savez(tmp_path / "a.npz", pose3d=np.zeros((5, 17, 3), np.float32), pose2d=np.zeros((5, 17, 2), np.float32))
    with pytest.raises(ValueError, match=r"a.npz: key 'pose3d'.*\[N, 16, 3\]"):
        load_3dhp(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", joints=np.zeros(3))
    with pytest.raises(ValueError, match="b.npz: expected keys"):
        load_3dhp(tmp_path / "b.npz")
    _poseaug_file(tmp_path / "c.npz")
    raw = (tmp_path / "c.npz").read_bytes()
    (tmp_path / "c.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="c.npz"):
        load_3dhp(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", positions_3d={"TS9": np.ones((3, 17, 3))}, positions_2d={"TS9": np.ones((3, 17, 2))})
    with pytest.raises(ValueError, match="unknown sequence 'TS9'"):
        load_3dhp(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="split"):
        load_3dhp(tmp_path / "d.npz", split="train")
