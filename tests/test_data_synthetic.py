"""Synthetic domains: determinism, plausibility (bones, heights, floor contact, limits) and the targeted gaps."""
import numpy as np
import pytest

from posefast.data import generate_synthetic
from posefast.data.synth3d.body import (ANKLE_HEIGHT, DOF_NAMES, MEAN_BONE_LENGTHS, clip_dofs, dof_limits,
                                limb_elev_plane, pose_from_dofs)
from posefast.geometry import project
from posefast.data.synth3d.synthetic import (PRESETS, SyntheticPreset, preset_bodies, preset_statistics,
                                     sample_world_poses, self_penetrating)
from posefast.skeleton import H36M17

N = 4000


@pytest.fixture(scope="module")
def domains():
    return {p: generate_synthetic(p, n=N, seed=0) for p in ("h36m", "3dhp", "3dpw")}


def _bones(X):
    return np.linalg.norm(X[:, 1:] - X[:, list(H36M17.parents[1:])], axis=-1)


def test_deterministic_per_seed():
    a = generate_synthetic("3dhp", n=300, seed=7)
    b = generate_synthetic("3dhp", n=300, seed=7)
    c = generate_synthetic("3dhp", n=300, seed=8)
    for k, v in a.as_arrays().items():
        if k != "skeleton":
            np.testing.assert_array_equal(v, b.as_arrays()[k])
    assert not np.allclose(a.joints_3d, c.joints_3d)


def test_camera_consistency_and_visibility(domains):
    for ds in domains.values():
        assert ds.skeleton.name == "h36m17" and ds.has_3d
        np.testing.assert_allclose(project(ds.joints_3d, ds.camera).numpy(), ds.joints_2d, atol=0.05)
        assert (ds.joints_3d[..., 2] > 0.3).all()
        assert (ds.joints_2d >= 0).all() and (ds.joints_2d <= ds.image_size[:, None, :]).all()


def test_bodies_are_fixed_per_subject_and_realistic(domains):
    for name, ds in domains.items():
        bones = _bones(ds.joints_3d.astype(np.float64))
        for s in np.unique(ds.subject):
            b = bones[ds.subject == s]
            assert b.std(0).max() < 1e-4, f"{name}: subject {s} changes bone lengths"
            np.testing.assert_allclose(b[0], preset_bodies(name)[int(s)], atol=1e-5)
    for preset in PRESETS:
        for lengths in preset_bodies(preset).values():
            height = lengths.sum() / MEAN_BONE_LENGTHS.sum() * 1.72  # mean body ~1.72 m tall
            assert 1.45 < height < 1.95


def test_splits_use_disjoint_subjects():
    tr = generate_synthetic("h36m", n=500, seed=1, split="train")
    te = generate_synthetic("h36m", n=500, seed=1, split="test")
    assert set(tr.subject) == set(PRESETS["h36m"].train_subjects)
    assert set(te.subject) == set(PRESETS["h36m"].test_subjects)
    assert set(np.unique(tr.sequence) // 100) == set(tr.subject)
    with pytest.raises(ValueError, match="split"):
        generate_synthetic("h36m", n=10, split="val")
    with pytest.raises(ValueError, match="preset"):
        generate_synthetic("lsp", n=10)
    h16 = generate_synthetic("h36m", n=10, skeleton="h36m16")
    assert h16.joints_3d.shape == (10, 16, 3)


def test_floor_contact_and_no_self_penetration():
    standing = SyntheticPreset("standing", rig="h36m", classes={"stand": 1.0, "walk": 1.0, "gesture": 1.0},
                               angle_noise_deg=3.0, train_subjects=(1, 2, 3), test_subjects=())
    world, subjects, _, dofs = sample_world_poses(standing, 2000, np.random.default_rng(0))
    scale = np.array([preset_bodies(standing)[int(s)].sum() for s in subjects]) / MEAN_BONE_LENGTHS.sum()
    lowest_ankle = world[:, [H36M17.joint("LAnkle"), H36M17.joint("RAnkle")], 1].min(1)
    np.testing.assert_allclose(lowest_ankle, ANKLE_HEIGHT * scale, atol=1e-9)   # feet on the floor
    assert (world[:, :, 1] > 0).all()
    height = world[:, H36M17.joint("Head"), 1] - lowest_ankle + ANKLE_HEIGHT * scale
    assert 1.35 < height.min() and height.max() < 2.0
    # returned poses pass the penetration test and respect every joint limit
    for k in DOF_NAMES:
        lo, hi = dof_limits(k)
        assert (dofs[k] >= lo - 1e-9).all() and (dofs[k] <= hi + 1e-9).all()
    jump = SyntheticPreset("jump", rig="h36m", classes={"jump": 1.0}, train_subjects=(1,), test_subjects=())
    w_jump, *_ = sample_world_poses(jump, 300, np.random.default_rng(1))
    low = w_jump[..., 1].min(1)
    assert (low > 0.03).all()  # airborne


def test_penetration_detector_flags_an_arm_through_the_torso():
    d = {k: np.zeros(2) for k in DOF_NAMES}
    d["l_sh_elev"][1], d["l_sh_plane"][1], d["l_elbow"][1] = 90.0, -70.0, 150.0  # forearm folded into the chest
    d["l_sh_elev"][0], d["l_sh_plane"][0] = 20.0, 90.0
    d["r_sh_elev"][:], d["r_sh_plane"][:] = 20.0, 90.0
    joints, frames, _ = pose_from_dofs(d, MEAN_BONE_LENGTHS)
    np.testing.assert_array_equal(self_penetrating(joints, frames[H36M17.joint("Thorax")], np.ones(2)),
                                  [False, True])


def test_rest_pose_and_limb_parameterisation():
    zero = {k: np.zeros(1) for k in DOF_NAMES}
    joints, _, _ = pose_from_dofs(zero, MEAN_BONE_LENGTHS)
    np.testing.assert_allclose(_bones(joints)[0], MEAN_BONE_LENGTHS, atol=1e-12)
    stature = joints[0, H36M17.joint("Head"), 1] - joints[0, H36M17.joint("LAnkle"), 1] + ANKLE_HEIGHT
    assert 1.6 < stature < 1.8
    # flexion forward, abduction outward, and abduction stays outward even past 90 degrees of flexion
    e, p = limb_elev_plane(np.array([90.0, 0.0, 150.0]), np.array([0.0, 90.0, 30.0]))
    np.testing.assert_allclose(e[:2], [90, 90])
    np.testing.assert_allclose(p[:2], [0, 90])
    assert 0 < p[2] < 90
    clipped = clip_dofs({**zero, "l_knee": np.array([200.0]), "l_hip_elev": np.array([120.0]),
                         "l_hip_plane": np.array([90.0])})
    assert clipped["l_knee"][0] == dof_limits("l_knee")[1]
    assert clipped["l_hip_elev"][0] <= 60  # no 120-degree sideways splits


def test_presets_differ_in_the_targeted_statistics(domains):
    s = {k: preset_statistics(v) for k, v in domains.items()}
    h, d = s["h36m"], s["3dhp"]
    # local pose diversity: the 3DHP repertoire reaches further and spreads wider
    assert d["joint_angle_spread_deg"] > h["joint_angle_spread_deg"] + 4
    for joint in ("left_knee", "left_hip", "left_shoulder"):
        assert d["joint_angle_p95_deg"][joint] > h["joint_angle_p95_deg"][joint] + 10
    # global position: different focal lengths, image sizes, 2D scale and root placement
    assert abs(d["focal_norm_mean"] - h["focal_norm_mean"]) > 0.5
    assert set(d["image_sizes"]) == {"2048x2048", "1920x1080"}
    assert set(h["image_sizes"]) <= {"1000x1000", "1000x1002"}
    assert abs(d["scale_2d_mean"] - h["scale_2d_mean"]) > 0.05
    assert abs(d["root_2d_mean"][1] - h["root_2d_mean"][1]) > 0.1
    assert d["root_std_m"][1] > 1.5 * h["root_std_m"][1]       # low and high cameras
    assert 4.5 < h["root_mean_m"][2] < 5.6                      # Human3.6M's ~5 m
    assert s["3dpw"]["image_sizes"] == {"1080x1920": 1.0}
    for stats in s.values():
        for v in stats.values():
            if isinstance(v, (float, np.ndarray)):
                assert np.isfinite(v).all()
