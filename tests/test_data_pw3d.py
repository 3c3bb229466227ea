"""3DPW joint files: dict-per-sequence and flat layouts, given or fitted intrinsics, the 14 evaluation joints."""
import numpy as np
import pytest

from posefast.data import PW3D_EVAL_JOINTS_H36M17, load_3dpw
from posefast.data.cameras import project
from posefast.skeleton import H36M17

CAM = np.array([1961.9, 1969.2, 540.0, 960.0])


def _seq(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, (n, 17, 3)) + rng.uniform([-0.5, -0.2, 3], [0.5, 0.2, 6], (n, 1, 3))
    return X, project(X, CAM)


def test_eval_joint_list():
    j = PW3D_EVAL_JOINTS_H36M17
    assert len(j) == 14 == len(set(j))
    assert not {H36M17.joint("Pelvis"), H36M17.joint("Spine"), H36M17.joint("Neck")} & set(j)
    # LSP order: right leg, left leg (mirrored order), right arm, left arm, thorax, head
    names = [H36M17.joint_names[i] for i in j]
    assert names[:6] == ["RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle"]
    perm = H36M17.flip_permutation
    assert [perm[i] for i in j[:3]] == list(j[5:2:-1])  # flipping maps the right leg onto the left leg


def test_dict_layout_with_intrinsics(tmp_path):
    (X1, uv1), (X2, uv2) = _seq(5, 0), _seq(4, 1)
    K = np.array([[CAM[0], 0, CAM[2]], [0, CAM[1], CAM[3]], [0, 0, 1]])
    np.savez(tmp_path / "pw.npz", positions_3d={"courtyard_b": X1, "downtown_a": X2},
             positions_2d={"courtyard_b": uv1, "downtown_a": uv2}, intrinsics=K)
    ds = load_3dpw(tmp_path / "pw.npz")
    assert len(ds) == 9 and ds.meta["sequence_names"] == ["courtyard_b", "downtown_a"]
    np.testing.assert_allclose(ds.camera, np.tile(CAM, (9, 1)), rtol=1e-6)
    assert {tuple(s) for s in ds.image_size.tolist()} == {(1080, 1920)}
    np.testing.assert_allclose(ds.subset(ds.sequence == 1).joints_3d, X2, atol=1e-6)


def test_fitted_intrinsics_and_flat_layout(tmp_path):
    X, uv = _seq(8, 2)
    np.savez(tmp_path / "flat.npz", positions_3d=X, positions_2d=uv, image_size=np.array([1920, 1080]))
    ds = load_3dpw(tmp_path / "flat.npz", skeleton="h36m16")
    np.testing.assert_allclose(ds.camera[0], CAM, rtol=1e-6)
    assert ds.meta["fit_error_px"]["all"] < 1e-6
    assert ds.skeleton.name == "h36m16" and tuple(ds.image_size[0]) == (1920, 1080)


def test_corrupted_3dpw_files(tmp_path):
    X, uv = _seq(3, 3)
    np.savez(tmp_path / "behind.npz", positions_3d=-X, positions_2d=uv)
    with pytest.raises(ValueError, match="behind the camera"):
        load_3dpw(tmp_path / "behind.npz")
    np.savez(tmp_path / "frames.npz", positions_3d=X, positions_2d=uv[:2])
    with pytest.raises(ValueError, match="disagree"):
        load_3dpw(tmp_path / "frames.npz")
    bad = uv.copy()
    bad[0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", positions_3d=X, positions_2d=bad)
    with pytest.raises(ValueError, match="non-finite"):
        load_3dpw(tmp_path / "nan.npz")
    np.savez(tmp_path / "nokey.npz", positions_3d=X)
    with pytest.raises(ValueError, match="missing key 'positions_2d'"):
        load_3dpw(tmp_path / "nokey.npz")
    np.savez(tmp_path / "k.npz", positions_3d=X, positions_2d=uv, intrinsics=np.array([-1.0, 1, 1, 1]))
    with pytest.raises(ValueError, match="positive focal"):
        load_3dpw(tmp_path / "k.npz")
