"""Virtual camera rigs: the Human3.6M rig reproduces the calibration; random rigs respect their ranges."""
import numpy as np
import pytest

from posefast.data import h36m_cameras
from posefast.geometry import quaternion_to_matrix
from posefast.data.synth3d.rigs import RIGS, get_rig, render


def test_h36m_rig_matches_calibration():
    rig = get_rig("h36m")
    rng = np.random.default_rng(0)
    root = np.zeros((4, 3))
    cams = rig.sample(rng, root, view=np.arange(4), jitter=0.0)
    zup_to_yup = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])
    for v, cal in enumerate(h36m_cameras(1)):
        np.testing.assert_allclose(cams.eye[v], zup_to_yup @ cal["translation"], atol=1e-12)
        np.testing.assert_allclose(cams.intrinsics[v], cal["intrinsics"][:4])
        # optical axis: within 5 degrees of the calibrated one (ours all aim at one common point)
        axis_cal = zup_to_yup @ quaternion_to_matrix(cal["orientation"]).numpy()[:, 2]
        cos = np.dot(cams.rotation[v][2], axis_cal)
        assert cos > np.cos(np.radians(5.0))
        # no roll: the camera x axis is horizontal
        assert abs(cams.rotation[v][0][1]) < 1e-9
    with pytest.raises(ValueError, match="view"):
        rig.sample(rng, root, view=np.array([0, 1, 2, 4]))


def test_random_rig_ranges():
    rig = RIGS["3dhp"]
    rng = np.random.default_rng(1)
    root = np.tile([0.5, 0.9, -0.3], (5000, 1))
    cams = rig.sample(rng, root)
    height = cams.eye[:, 1]
    assert height.min() >= 0.2 and height.max() <= 3.0
    assert (height < 0.8).mean() > 0.2 and (height > 1.8).mean() > 0.2  # low and high cameras
    dist = np.linalg.norm((cams.eye - root)[:, [0, 2]], axis=1)
    assert dist.min() >= 2.8 and dist.max() <= 7.0
    assert {tuple(s) for s in cams.image_size.tolist()} == {(2048, 2048), (1920, 1080)}
    np.testing.assert_allclose(np.linalg.det(cams.rotation), 1.0)


def test_render_flags_invisible():
    rig = get_rig("h36m")
    cams = rig.sample(np.random.default_rng(2), np.zeros((2, 3)), view=np.array([0, 0]), jitter=0.0)
    pts = np.zeros((2, 17, 3))
    pts[:, :, 1] = 0.9
    pts[1, 3] = [30.0, 0.9, 0.0]  # one joint far to the side
    _, uv, ok = render(pts, cams)
    np.testing.assert_array_equal(ok, [True, False])
    assert np.isfinite(uv).all()
    with pytest.raises(ValueError, match="rig"):
        get_rig("kinect")
