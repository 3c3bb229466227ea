"""Renderer and pose source of posefast.data.image2d: geometry, z-buffer, visibility rule, determinism, input checks."""
import numpy as np
import pytest
import torch

from posefast.data.image2d import (BODY16_NAMES, H36M17_TO_BODY16, crop_cameras, place_in_camera, rasterize,
                             render_figures, sample_poses)
from posefast.data.image2d.render import REGION_NAMES
from posefast.skeleton import H36M17

S = 64



def standing_pose() -> np.ndarray:
    """Root-relative h36m17 pose, y down, facing -z (towards the camera), arms hanging, metres."""
    p = {
        "Pelvis": (0, 0, 0), "RHip": (-0.13, 0, 0), "RKnee": (-0.13, 0.44, 0), "RAnkle": (-0.13, 0.87, 0),
        "LHip": (0.13, 0, 0), "LKnee": (0.13, 0.44, 0), "LAnkle": (0.13, 0.87, 0), "Spine": (0, -0.23, 0),
        "Thorax": (0, -0.48, 0), "Neck": (0, -0.6, -0.02), "Head": (0, -0.715, 0),
        "LShoulder": (0.15, -0.45, 0), "LElbow": (0.2, -0.18, 0), "LWrist": (0.23, 0.07, 0),
        "RShoulder": (-0.15, -0.45, 0), "RElbow": (-0.2, -0.18, 0), "RWrist": (-0.23, 0.07, 0),
    }
    return np.array([p[name] for name in H36M17.joint_names], dtype=np.float64)


def yaw(pose: np.ndarray, angle: float) -> np.ndarray:
    """Turn a root-relative pose about the vertical (y) axis."""
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return pose @ rot.T


def camera_for(joints_cam: np.ndarray, size=S, fill=0.8) -> np.ndarray:
    """Intrinsics that centre the joints' projected box and make it span ``fill`` of the crop."""
    xy = joints_cam[:, :2] / joints_cam[:, 2:]
    lo, hi = xy.min(0), xy.max(0)
    f = fill * size / (hi - lo).max()
    c = size / 2 - f * (lo + hi) / 2
    return np.array([f, f, c[0], c[1]])


def at_distance(pose: np.ndarray, z=3.0) -> np.ndarray:
    return pose + np.array([0.0, 0.0, z])


def random_scenes(n, seed, size=S):
    rng = np.random.default_rng(seed)
    poses = place_in_camera(sample_poses(n, rng), rng)
    return poses, crop_cameras(poses, size, rng)


def test_shapes_dtypes_and_batch_dims():
    poses, cams = random_scenes(6, 0)
    image, kp, vis = render_figures(poses[0], cams[0], S)
    assert image.shape == (3, S, S) and image.dtype == torch.float32
    assert kp.shape == (17, 2) and vis.shape == (17,) and vis.dtype == torch.float32
    assert 0 <= image.min() and image.max() <= 1
    image2, kp2, vis2 = render_figures(poses.reshape(2, 3, 17, 3), cams.reshape(2, 3, 4), (S, 48))
    assert image2.shape == (2, 3, 3, S, 48) and kp2.shape == (2, 3, 17, 2) and vis2.shape == (2, 3, 17)
    u8, _, _ = render_figures(poses[:2], cams[:2], S, as_uint8=True)
    assert u8.dtype == torch.uint8 and u8.shape == (2, 3, S, S)
    raster = rasterize(poses, cams, S)
    assert raster.region.shape == (6, S, S) and raster.region.dtype == torch.int64
    assert raster.normal.shape == (6, 3, S, S) and raster.depth.shape == (6, S, S)


def test_keypoints_are_the_pinhole_projection():
    poses, cams = random_scenes(20, 1)
    raster = rasterize(poses, cams, S)
    expect = cams[:, None, :2] * poses[..., :2] / poses[..., 2:] + cams[:, None, 2:]
    np.testing.assert_allclose(raster.keypoints.numpy(), expect, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(raster.keypoint_depth.numpy(), poses[..., 2], rtol=1e-6)


def test_every_keypoint_inside_the_image_lies_on_the_drawn_figure():
    poses, cams = random_scenes(200, 2)
    bg = torch.tensor([1.0, 0.0, 1.0])  # magenta: no body colour of the default palette
    image, kp, vis = render_figures(poses, cams, S, background=bg)
    raster = rasterize(poses, cams, S)
    col, row = kp[..., 0].floor().long(), kp[..., 1].floor().long()
    inside = (col >= 0) & (col < S) & (row >= 0) & (row < S)
    n_idx = torch.arange(200)[:, None].expand_as(col)
    region = raster.region[n_idx[inside], row[inside], col[inside]]
    assert (region >= 0).all(), "a joint inside the image is not covered by any body part"
    pixel = image[n_idx[inside], :, row[inside], col[inside]]
    assert ((pixel - bg).abs().max(-1).values > 0.05).all(), "pixel under a keypoint shows the background"
    assert inside.float().mean() > 0.95 and (vis[~inside] == 0).all()
    assert 0.5 < vis.mean() < 0.98  # some self-occlusion happens, most joints are seen


def test_raster_consistency_depth_normals_regions():
    poses, cams = random_scenes(30, 3)
    r = rasterize(poses, cams, S)
    fg = r.foreground
    assert torch.isfinite(r.depth[fg]).all() and torch.isinf(r.depth[~fg]).all()
    nrm = r.normal.permute(0, 2, 3, 1)[fg]
    torch.testing.assert_close(nrm.norm(dim=-1), torch.ones(len(nrm)), atol=1e-3, rtol=0)
    assert (nrm[:, 2] <= 1e-6).all(), "normals must face the camera"
    assert (r.normal.permute(0, 2, 3, 1)[~fg] == 0).all()
    assert set(r.region[fg].unique().tolist()) <= set(range(len(REGION_NAMES)))
    # Every drawn surface lies within its own body's depth range, give or take a limb's thickness or a foot.
    z = torch.as_tensor(poses[..., 2], dtype=torch.float32)
    zmin, zmax = (z.amin(1) - 0.2).view(-1, 1, 1), (z.amax(1) + 0.2).view(-1, 1, 1)
    assert not (fg & ((r.depth < zmin) | (r.depth > zmax))).any()


def t_pose() -> np.ndarray:
    pose = standing_pose()
    for side, sign in (("L", 1.0), ("R", -1.0)):
        pose[H36M17.joint(side + "Elbow")] = (sign * 0.43, -0.45, 0)
        pose[H36M17.joint(side + "Wrist")] = (sign * 0.68, -0.45, 0)
    return pose


def test_profile_view_hides_the_far_shoulder_and_hip():
    # Arms stretched sideways (seen end-on in profile) so that no arm hangs in front of the near hip.
    pose = at_distance(yaw(t_pose(), np.pi / 2))
    cam = camera_for(pose)
    r = rasterize(pose, cam, S)
    vis = r.visible[0]
    name = H36M17.joint
    for left, right in (("LShoulder", "RShoulder"), ("LHip", "RHip"), ("LElbow", "RElbow")):
        near, far = (left, right) if pose[name(left), 2] < pose[name(right), 2] else (right, left)
        assert vis[name(near)] == 1, f"{near} faces the camera but is flagged occluded"
        assert vis[name(far)] == 0, f"{far} is behind the torso but is flagged visible"
    # Facing the camera nothing is hidden.
    front = at_distance(standing_pose())
    assert rasterize(front, camera_for(front), S).visible.min() == 1


def test_a_wrist_behind_the_back_is_occluded_and_in_front_is_not():
    pose = standing_pose()
    lw, le = H36M17.joint("LWrist"), H36M17.joint("LElbow")
    behind, before = pose.copy(), pose.copy()
    # Wrist tucked behind the lower back (+z is away from the camera) and the mirror case in front of the belly.
    behind[le], behind[lw] = (0.2, -0.2, 0.15), (0.0, -0.1, 0.22)
    before[le], before[lw] = (0.2, -0.2, -0.15), (0.0, -0.1, -0.22)
    for p, expect in ((behind, 0.0), (before, 1.0)):
        p = at_distance(p)
        assert rasterize(p, camera_for(p), S).visible[0, lw] == expect


def test_a_limb_pointing_at_the_camera_does_not_hide_its_own_joints():
    pose = at_distance(standing_pose())
    ls, le, lw = H36M17.joint("LShoulder"), H36M17.joint("LElbow"), H36M17.joint("LWrist")
    # The whole arm along the viewing ray through the shoulder, so the hand projects onto the elbow.
    ray = pose[ls] / np.linalg.norm(pose[ls])
    pose[le] = pose[ls] - 0.28 * ray
    pose[lw] = pose[le] - 0.25 * ray
    r = rasterize(pose, camera_for(pose), 96)
    col, row = r.keypoints[0, le].floor().long()
    # The elbow's pixel shows the forearm, well in front of the elbow, yet the elbow counts as visible: only
    # *other* parts occlude a joint. The shoulder, behind the forearm (not one of its own parts), is hidden.
    assert REGION_NAMES[r.region[0, row, col]] == "left_forearm"
    assert r.depth[0, row, col] < pose[le, 2] - 0.15
    assert r.visible[0, [ls, le, lw]].tolist() == [0.0, 1.0, 1.0]


def test_joints_outside_the_crop_are_invisible():
    pose = at_distance(standing_pose())
    cam = camera_for(pose)
    cam[3] += 0.45 * S  # move the figure down: the legs leave the frame at the bottom
    r = rasterize(pose, cam, S)
    out = r.keypoints[0, :, 1] >= S
    assert out[H36M17.joint("RAnkle")] and out[H36M17.joint("LAnkle")]
    assert (r.visible[0][out] == 0).all() and (r.visible[0][~out] == 1).all()


def test_nearer_part_wins_the_z_buffer():
    pose = standing_pose()
    le, lw = H36M17.joint("LElbow"), H36M17.joint("LWrist")
    pose[le], pose[lw] = (0.2, -0.2, -0.2), (-0.1, -0.2, -0.25)  # forearm across the chest, in front
    pose = at_distance(pose)
    r = rasterize(pose, camera_for(pose), S)
    # Sample the forearm's middle: its pixel must show the forearm, in front of the torso.
    mid = 0.5 * (r.keypoints[0, le] + r.keypoints[0, lw])
    row, col = int(mid[1]), int(mid[0])
    assert REGION_NAMES[r.region[0, row, col]] == "left_forearm"
    assert r.depth[0, row, col] < pose[:, 2].min() + 0.05


def test_deterministic_and_pose_sampler_seeded():
    a = sample_poses(50, np.random.default_rng(5))
    b = sample_poses(50, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, sample_poses(50, np.random.default_rng(6)))
    poses, cams = random_scenes(10, 4)
    i1, k1, v1 = render_figures(poses, cams, S)
    i2, k2, v2 = render_figures(poses, cams, S)
    assert torch.equal(i1, i2) and torch.equal(k1, k2) and torch.equal(v1, v2)


def test_sampled_poses_are_plausible():
    p = sample_poses(500, np.random.default_rng(7))
    assert p.shape == (500, 17, 3) and np.isfinite(p).all()
    np.testing.assert_allclose(p[:, 0], 0)
    bones = np.linalg.norm(p[:, 1:] - p[:, list(H36M17.parents[1:])], axis=-1)
    assert (bones > 0.08).all() and (bones < 0.6).all()
    # Left and right limbs have equal lengths in each body.
    for lft, rgt in zip(H36M17.left, H36M17.right):
        np.testing.assert_allclose(bones[:, lft - 1], bones[:, rgt - 1], rtol=1e-9)
    # Upright on average: the head above (smaller y than) the pelvis, ankles below it.
    assert (p[:, H36M17.joint("Head"), 1] < -0.3).mean() > 0.95
    assert (p[:, H36M17.joint("RAnkle"), 1] > 0.2).mean() > 0.8


def test_crop_cameras_centre_the_person_and_fill_the_crop():
    rng = np.random.default_rng(8)
    poses = place_in_camera(sample_poses(300, rng), rng)
    assert (poses[..., 2] > 1.5).all() and (poses[:, 0, 2] >= 2.5).all() and (poses[:, 0, 2] <= 4.0).all()
    cams = crop_cameras(poses, S, rng, fill=(0.7, 0.9), jitter=0.0, margin_m=0.0)
    kp = cams[:, None, :2] * poses[..., :2] / poses[..., 2:] + cams[:, None, 2:]
    lo, hi = kp.min(1), kp.max(1)
    np.testing.assert_allclose((lo + hi) / 2, S / 2, atol=1e-6)
    span = (hi - lo).max(-1) / S
    assert (span >= 0.7 - 1e-9).all() and (span <= 0.9 + 1e-9).all()


@pytest.mark.parametrize("joints, camera, size, match", [
    (np.zeros((16, 3)) + [0, 0, 3], [60, 60, 32, 32], 64, "joints"),
    (np.zeros((17, 3)) + [0, 0, 3], [60, 60, 32], 64, "camera"),
    (np.zeros((2, 17, 3)) + [0, 0, 3], np.ones((3, 4)), 64, "camera"),
    (np.zeros((17, 3)) + [0, 0, 3], [-60, 60, 32, 32], 64, "camera"),
    (np.zeros((17, 3)), [60, 60, 32, 32], 64, "in front of the camera"),
    (np.full((17, 3), np.nan), [60, 60, 32, 32], 64, "NaN"),
    (np.zeros((17, 3)) + [0, 0, 3], [60, 60, 32, 32], 0, "size"),
])
def test_bad_input_raises(joints, camera, size, match):
    with pytest.raises(ValueError, match=match):
        rasterize(joints, camera, size)


def test_body16_mapping_keeps_names_consistent():
    # The h36m17 joint each Body16 keypoint is taken from must carry the same anatomical name.
    alias = {"pelvis": "Pelvis", "thorax": "Thorax", "upper_neck": "Neck", "head_top": "Head"}
    for k, j in enumerate(H36M17_TO_BODY16):
        name = BODY16_NAMES[k]
        side, _, part = name.partition("_")
        expect = alias.get(name) or (side[0].upper() + part.capitalize())
        assert H36M17.joint_names[j] == expect, (name, H36M17.joint_names[j])


def test_face_and_toes_point_the_way_the_body_faces():
    # Front/back cues: the face shows towards the camera and hair away from it; toes point forward.
    face, hair = REGION_NAMES.index("face"), REGION_NAMES.index("hair")
    for turn, front in ((0.0, True), (np.pi, False)):
        pose = at_distance(yaw(standing_pose(), turn))
        r = rasterize(pose, camera_for(pose), 96)
        n_face, n_hair = (r.region == face).sum().item(), (r.region == hair).sum().item()
        assert (n_face > n_hair) == front, (turn, n_face, n_hair)
        feet = [REGION_NAMES.index(s) for s in ("left_foot", "right_foot")]
        foot_depth = r.depth[(r.region == feet[0]) | (r.region == feet[1])]
        ankle_depth = pose[[H36M17.joint("LAnkle"), H36M17.joint("RAnkle")], 2].mean()
        assert (foot_depth.mean().item() < ankle_depth) == front


def test_render_figures_per_image_arguments_follow_their_images(monkeypatch):
    import posefast.data.image2d.render as render_module

    monkeypatch.setattr(render_module, "_CHUNK_PIXELS", 2 * 32 * 32)  # chunks of 2 images: 5 images -> 3 chunks
    poses, cams = random_scenes(5, 9, size=32)
    rng = np.random.default_rng(0)
    colors = rng.random((5, len(REGION_NAMES), 3))
    light = np.concatenate([rng.uniform(-0.5, 0.5, (5, 2)), -np.ones((5, 1))], 1)
    ambient = rng.uniform(0.2, 0.8, 5)
    bg = rng.random((5, 3, 32, 32))
    batch, kp, vis = render_figures(poses, cams, 32, colors, bg, light, ambient)
    for i in range(5):
        one, kp1, vis1 = render_figures(poses[i], cams[i], 32, colors[i], bg[i:i + 1], light[i], ambient[i])
        torch.testing.assert_close(batch[i], one)
        torch.testing.assert_close(kp[i], kp1)
        assert torch.equal(vis[i], vis1)
    with pytest.raises(ValueError, match="region_colors"):
        render_figures(poses, cams, 32, colors[:4])
    with pytest.raises(ValueError, match="background"):
        render_figures(poses, cams, 32, background=bg[:, :, :16])
