"""posefast.geometry: rotations, world <-> camera, projection with distortion (and its explicit behind-camera
behaviour), screen normalisation, fits; float64 against independent formulas (scipy, written-out equations)."""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

import posefast
from posefast import geometry, reference
from posefast.geometry import (camera_to_world, denormalize_screen, fit_pinhole_intrinsics, in_image, look_at_rotation,
                               normalize_camera, normalize_screen, project, quaternion_to_matrix, rotation_x,
                               rotation_y, rotation_z, solve_root_translation, world_to_camera)

ROOT = Path(__file__).resolve().parents[1]


def test_quaternion_matches_scipy():
    q = np.random.default_rng(0).normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ours = quaternion_to_matrix(q)
    assert ours.dtype == torch.float64
    ref = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()  # scipy wants (x, y, z, w)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)
    with pytest.raises(ValueError, match="q"):
        quaternion_to_matrix(np.zeros(4))


def test_axis_rotations_match_scipy():
    a = np.random.default_rng(5).uniform(-4, 4, 20)
    for fn, axis in ((rotation_x, "x"), (rotation_y, "y"), (rotation_z, "z")):
        np.testing.assert_allclose(fn(a).numpy(), Rotation.from_euler(axis, a[:, None]).as_matrix(), atol=1e-14)
    assert rotation_x(torch.zeros(2, dtype=torch.float32)).dtype == torch.float32  # float tensors keep their dtype
    assert rotation_x(0.3).shape == rotation_x(np.array([0.1, 0.3])[..., 1]).shape == (3, 3)  # 0-d stays 0-d


def test_world_camera_inverse_and_reference():
    rng = np.random.default_rng(1)
    q = rng.normal(size=4)
    t = rng.normal(size=3)
    X = rng.normal(size=(7, 17, 3))
    Xc = world_to_camera(X, q, t).numpy()
    ref = Rotation.from_quat(q[[1, 2, 3, 0]] / np.linalg.norm(q)).inv().apply((X - t).reshape(-1, 3))
    np.testing.assert_allclose(Xc.reshape(-1, 3), ref, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(Xc, q, t).numpy(), X, atol=1e-12)


def _distorted_reference(X, cam):
    """VideoPose3D's distortion written out per coordinate (no clamping: test points keep |x/z| < 1):
    x_d = x (radial + p1 x + p2 y) + p1 r^2, y_d = y (radial + p1 x + p2 y) + p2 r^2."""
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = cam
    x, y = X[..., 0] / X[..., 2], X[..., 1] / X[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 ** 3
    tangential = p1 * x + p2 * y
    xd = x * (radial + tangential) + p1 * r2
    yd = y * (radial + tangential) + p2 * r2
    return np.stack([fx * xd + cx, fy * yd + cy], -1)


def test_project_pinhole_and_distortion():
    rng = np.random.default_rng(2)
    X = rng.uniform([-1, -1, 3], [1, 1, 6], (4, 17, 3))
    pin = np.array([1100.0, 1090.0, 500.0, 510.0])
    np.testing.assert_allclose(project(X, pin).numpy(), np.stack([1100 * X[..., 0] / X[..., 2] + 500,
                                                                  1090 * X[..., 1] / X[..., 2] + 510], -1))
    cam = np.array([1145.0, 1143.8, 512.5, 515.5, -0.207, 0.2478, -0.0031, -0.00098, -0.00142])
    np.testing.assert_allclose(project(X, cam).numpy(), _distorted_reference(X, cam), atol=1e-9)
    per_sample = np.tile(cam, (4, 1))
    np.testing.assert_allclose(project(X, per_sample).numpy(), project(X, cam).numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="camera"):
        project(X, np.ones(5))
    with pytest.raises(ValueError, match="camera"):
        project(X, np.ones((3, 4)))
    with pytest.raises(ValueError, match="points"):
        project(X[..., :2], pin)
    with pytest.raises(ValueError, match="behind_camera"):
        project(X, pin, behind_camera="drop")


def test_points_behind_the_camera_raise_or_clamp_as_asked():
    X = np.array([[[0.2, 0.1, 4.0], [0.5, -0.3, -2.0], [0.1, 0.1, 0.0]]])
    pin = np.array([1000.0, 1000.0, 500.0, 500.0])
    with pytest.raises(ValueError, match=r"points: 2 point\(s\) less than min_depth"):
        project(X, pin, behind_camera="raise")
    with pytest.raises(ValueError, match="points: 1 point"):
        project(X[:, ::2] + [0, 0, 0.2], pin, min_depth=0.3, behind_camera="raise")  # 0.2 m is nearer than 0.3 m
    clamped = project(X, pin).numpy()  # the default, as the ops: depth raised to min_depth, finite
    assert np.isfinite(clamped).all()
    np.testing.assert_allclose(clamped[0, 0], [550.0, 525.0])
    np.testing.assert_allclose(clamped[0, 1], pin[2:] + pin[:2] * X[0, 1, :2] / geometry.DEFAULT_MIN_DEPTH)
    ok = project(X[:, :1], pin, behind_camera="raise").numpy()  # in front: both modes agree
    np.testing.assert_array_equal(ok, clamped[:, :1])


def test_project_is_the_reference_twin_and_the_op_agrees():
    X = torch.tensor(np.random.default_rng(6).uniform([-1, -1, 3], [1, 1, 6], (3, 5, 3)))
    cam = torch.tensor([[1145.0, 1143.8, 512.5, 515.5, -0.207, 0.2478, -0.0031, -0.00098, -0.00142]] * 3,
                       dtype=torch.float64)
    assert reference.project is project and reference.normalize_camera is normalize_camera
    torch.testing.assert_close(posefast.project(X, cam), project(X, cam), rtol=1e-12, atol=1e-9)


@settings(max_examples=50, deadline=None)
@given(w=st.integers(16, 4096), h=st.integers(16, 4096), seed=st.integers(0, 10_000))
def test_normalize_screen_inverse(w, h, seed):
    uv = np.random.default_rng(seed).uniform(0, [w, h], (3, 17, 2))
    xy = normalize_screen(uv, w, h)
    np.testing.assert_allclose(denormalize_screen(xy, w, h).numpy(), uv, rtol=1e-12, atol=1e-9)
    corners = normalize_screen(np.array([[[0.0, 0.0], [w, h]]]), w, h).numpy()
    np.testing.assert_allclose(corners[0], [[-1, -h / w], [1, h / w]], atol=1e-12)


def test_normalize_per_sample_sizes_and_intrinsics():
    rng = np.random.default_rng(3)
    X = rng.uniform([-0.5, -0.5, 3], [0.5, 0.5, 5], (2, 17, 3))
    cam = np.array([[1500.0, 1500.0, 1017.0, 1043.0], [1684.0, 1684.0, 940.0, 560.0]])
    size = np.array([[2048, 2048], [1920, 1080]])
    xy = normalize_screen(project(X, cam), size[:, 0], size[:, 1])
    ncam = normalize_camera(cam, size[:, 0], size[:, 1])
    # projecting with normalised intrinsics gives normalised coordinates directly
    np.testing.assert_allclose(project(X, ncam).numpy(), xy.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="w: expected a number or shape"):
        normalize_screen(project(X, cam), np.array([2048] * 3), np.array([2048] * 3))
    with pytest.raises(ValueError, match="w: expected positive"):
        normalize_screen(project(X, cam), np.array([0, 2048]), size[:, 1])


def test_look_at_rotation():
    eye = np.array([[3.0, 1.6, -4.0], [0.0, 0.3, 5.0]])
    target = np.array([[0.0, 0.9, 0.0], [0.2, 1.5, 0.0]])
    R = look_at_rotation(eye, target).numpy()
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    Xc = np.einsum("nij,nj->ni", R, target - eye)
    np.testing.assert_allclose(Xc[:, :2], 0, atol=1e-12)   # the target is on the optical axis
    above = np.einsum("nij,nj->ni", R, target + [0, 1, 0] - eye)
    assert (above[:, 1] < 0).all()                          # world up is image up (y down)
    rolled = look_at_rotation(eye, target, roll=np.array([0.3, -0.2])).numpy()
    np.testing.assert_allclose(rolled, Rotation.from_euler("z", [[0.3], [-0.2]]).as_matrix() @ R, atol=1e-12)
    with pytest.raises(ValueError, match="parallel"):
        look_at_rotation([0, 0, 0], [0, 5, 0])


def test_fit_intrinsics_and_root_translation():
    rng = np.random.default_rng(4)
    rel = rng.normal(0, 0.3, (6, 16, 3))
    t = rng.uniform([-1, -0.5, 3], [1, 0.5, 6], (6, 3))
    cam = np.array([1500.17, 1500.17, 1017.4, 1043.0])
    uv = project(rel + t[:, None], cam).numpy()
    np.testing.assert_allclose(fit_pinhole_intrinsics(rel + t[:, None], uv).numpy(), cam, rtol=1e-9)
    found = solve_root_translation(rel, uv, np.tile(cam, (6, 1))).numpy()
    np.testing.assert_allclose(found, t, atol=1e-9)
    w = np.ones((6, 16))
    w[:, :3] = 0
    uv_bad = uv.copy()
    uv_bad[:, :3] = 0  # zero-weighted joints must not matter
    np.testing.assert_allclose(solve_root_translation(rel, uv_bad, np.tile(cam, (6, 1)), w).numpy(), t, atol=1e-9)
    with pytest.raises(ValueError, match="in front of the camera"):
        fit_pinhole_intrinsics(-(rel + t[:, None]), uv)


def test_in_image():
    uv = np.array([[[10.0, 10.0], [990.0, 10.0]], [[10.0, 10.0], [1001.0, 5.0]]])
    np.testing.assert_array_equal(in_image(uv, 1000, 1000).numpy(), [True, False])
    np.testing.assert_array_equal(in_image(uv, 1000, 1000, margin=0.02).numpy(), [False, False])
    np.testing.assert_array_equal(in_image(uv, np.array([1000, 1002]), np.array([1000, 1000])).numpy(),
                                  [True, True])


def test_defaults_are_defined_once():
    import posefast.ops.transforms as ops_transforms
    import posefast.reference.transforms as ref_transforms

    assert posefast.DEFAULT_EPS is geometry.DEFAULT_EPS
    assert ops_transforms.DEFAULT_MIN_DEPTH is geometry.DEFAULT_MIN_DEPTH
    assert ops_transforms.DEFAULT_DEPTH_RANGE is geometry.DEFAULT_DEPTH_RANGE
    assert ref_transforms.RODRIGUES_TAYLOR_BELOW is geometry.RODRIGUES_TAYLOR_BELOW
    # the twins' defaults are the geometry constants, not copies that could drift
    import inspect
    for fn, arg, value in ((ref_transforms.project, "min_depth", geometry.DEFAULT_MIN_DEPTH),
                           (ref_transforms.global_position_align, "min_scale", geometry.DEFAULT_MIN_SCALE),
                           (ref_transforms.global_position_align, "depth_range", geometry.DEFAULT_DEPTH_RANGE),
                           (ref_transforms.bone_angle_augment, "eps", geometry.DEFAULT_EPS),
                           (reference.part_kcs, "eps", geometry.DEFAULT_EPS)):
        assert inspect.signature(fn).parameters[arg].default is value, (fn.__name__, arg)


def test_kernel_rodrigues_switch_matches_python():
    header = (ROOT / "csrc" / "include" / "posefast" / "rotation.h").read_text()
    found = re.search(r"constexpr double kRodriguesTaylorBelow = ([0-9.eE+-]+);", header)
    assert found, "rotation.h: kRodriguesTaylorBelow not found"
    assert float(found.group(1)) == geometry.RODRIGUES_TAYLOR_BELOW
