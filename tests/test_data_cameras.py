"""Camera maths: rotations, world <-> camera, projection with distortion, screen normalisation, fits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from posefast.data.cameras import (camera_to_world, fit_pinhole_intrinsics, in_image, look_at_rotation,
                                   normalize_intrinsics, normalize_screen, project, quaternion_to_matrix,
                                   solve_root_translation, unnormalize_screen, world_to_camera)


def test_quaternion_matches_scipy():
    q = np.random.default_rng(0).normal(size=(50, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ours = quaternion_to_matrix(q)
    ref = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()  # scipy wants (x, y, z, w)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    with pytest.raises(ValueError, match="q"):
        quaternion_to_matrix(np.zeros(4))


def test_world_camera_inverse_and_reference():
    rng = np.random.default_rng(1)
    q = rng.normal(size=4)
    t = rng.normal(size=3)
    X = rng.normal(size=(7, 17, 3))
    Xc = world_to_camera(X, q, t)
    ref = Rotation.from_quat(q[[1, 2, 3, 0]] / np.linalg.norm(q)).inv().apply((X - t).reshape(-1, 3))
    np.testing.assert_allclose(Xc.reshape(-1, 3), ref, atol=1e-12)
    np.testing.assert_allclose(camera_to_world(Xc, q, t), X, atol=1e-12)


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
    np.testing.assert_allclose(project(X, pin), 1 * np.stack([1100 * X[..., 0] / X[..., 2] + 500,
                                                              1090 * X[..., 1] / X[..., 2] + 510], -1))
    cam = np.array([1145.0, 1143.8, 512.5, 515.5, -0.207, 0.2478, -0.0031, -0.00098, -0.00142])
    np.testing.assert_allclose(project(X, cam), _distorted_reference(X, cam), atol=1e-9)
    per_sample = np.tile(cam, (4, 1))
    np.testing.assert_allclose(project(X, per_sample), project(X, cam), atol=1e-12)
    with pytest.raises(ValueError, match="Z > 0"):
        project(-X, pin)
    with pytest.raises(ValueError, match="camera"):
        project(X, np.ones(5))
    with pytest.raises(ValueError, match="camera"):
        project(X, np.ones((3, 4)))


@settings(max_examples=50, deadline=None)
@given(w=st.integers(16, 4096), h=st.integers(16, 4096), seed=st.integers(0, 10_000))
def test_normalize_screen_inverse(w, h, seed):
    uv = np.random.default_rng(seed).uniform(0, [w, h], (3, 17, 2))
    xy = normalize_screen(uv, (w, h))
    np.testing.assert_allclose(unnormalize_screen(xy, (w, h)), uv, rtol=1e-12, atol=1e-9)
    corners = normalize_screen(np.array([[[0.0, 0.0], [w, h]]]), (w, h))
    np.testing.assert_allclose(corners[0], [[-1, -h / w], [1, h / w]], atol=1e-12)


def test_normalize_per_sample_sizes_and_intrinsics():
    rng = np.random.default_rng(3)
    X = rng.uniform([-0.5, -0.5, 3], [0.5, 0.5, 5], (2, 17, 3))
    cam = np.array([[1500.0, 1500.0, 1017.0, 1043.0], [1684.0, 1684.0, 940.0, 560.0]])
    size = np.array([[2048, 2048], [1920, 1080]])
    xy = normalize_screen(project(X, cam), size)
    ncam = normalize_intrinsics(cam, size)
    # projecting with normalised intrinsics gives normalised coordinates directly
    np.testing.assert_allclose(project(X, ncam), xy, atol=1e-12)
    with pytest.raises(ValueError, match="image_size"):
        normalize_screen(project(X, cam), np.array([[2048, 2048]] * 3))


def test_look_at_rotation():
    eye = np.array([[3.0, 1.6, -4.0], [0.0, 0.3, 5.0]])
    target = np.array([[0.0, 0.9, 0.0], [0.2, 1.5, 0.0]])
    R = look_at_rotation(eye, target)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0)
    Xc = np.einsum("nij,nj->ni", R, target - eye)
    np.testing.assert_allclose(Xc[:, :2], 0, atol=1e-12)   # the target is on the optical axis
    above = np.einsum("nij,nj->ni", R, target + [0, 1, 0] - eye)
    assert (above[:, 1] < 0).all()                          # world up is image up (y down)
    with pytest.raises(ValueError, match="parallel"):
        look_at_rotation([0, 0, 0], [0, 5, 0])


def test_fit_intrinsics_and_root_translation():
    rng = np.random.default_rng(4)
    rel = rng.normal(0, 0.3, (6, 16, 3))
    t = rng.uniform([-1, -0.5, 3], [1, 0.5, 6], (6, 3))
    cam = np.array([1500.17, 1500.17, 1017.4, 1043.0])
    uv = project(rel + t[:, None], cam)
    np.testing.assert_allclose(fit_pinhole_intrinsics(rel + t[:, None], uv), cam, rtol=1e-9)
    found = solve_root_translation(rel, uv, np.tile(cam, (6, 1)))
    np.testing.assert_allclose(found, t, atol=1e-9)
    w = np.ones((6, 16))
    w[:, :3] = 0
    uv_bad = uv.copy()
    uv_bad[:, :3] = 0  # zero-weighted joints must not matter
    np.testing.assert_allclose(solve_root_translation(rel, uv_bad, np.tile(cam, (6, 1)), w), t, atol=1e-9)


def test_in_image():
    uv = np.array([[[10.0, 10.0], [990.0, 10.0]], [[10.0, 10.0], [1001.0, 5.0]]])
    np.testing.assert_array_equal(in_image(uv, (1000, 1000)), [True, False])
    np.testing.assert_array_equal(in_image(uv, (1000, 1000), margin=0.02), [False, False])
