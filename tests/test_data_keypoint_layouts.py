"""Detector / body-model layouts -> h36m17 / h36m16: the documented rules, checked joint by joint."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posefast.data.pose3d.keypoint_layouts import (LAYOUT_JOINTS, conversion_matrix, conversion_rules, convert_keypoints,
                                            derived_mask, describe_conversion)
from posefast.skeleton import H36M16, H36M17, h36m17_to_h36m16

# VideoPose3D's data/data_utils.py: the left / right keypoint lists each layout's metadata carries
VIDEOPOSE3D_SYMMETRY = {
    "coco": ([1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]),
    "mpii": ([3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]),
    "h36m": ([4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]),
}


def _side(name):
    low = name.lower()
    if low.startswith("left") or (name[0] == "L" and name[1].isupper()):
        return "L"
    if low.startswith("right") or (name[0] == "R" and name[1].isupper()):
        return "R"
    return None


@pytest.mark.parametrize("layout", sorted(VIDEOPOSE3D_SYMMETRY))
def test_layout_sides_agree_with_videopose3d_symmetry(layout):
    names = LAYOUT_JOINTS[layout]
    left, right = VIDEOPOSE3D_SYMMETRY[layout]
    assert [i for i, n in enumerate(names) if _side(n) == "L"] == left
    assert [i for i, n in enumerate(names) if _side(n) == "R"] == right


@pytest.mark.parametrize("layout", sorted(LAYOUT_JOINTS))
@pytest.mark.parametrize("skeleton", ["h36m17", "h36m16"])
def test_every_joint_has_an_affine_rule(layout, skeleton):
    rules = conversion_rules(layout, skeleton)
    target = H36M17 if skeleton == "h36m17" else H36M16
    assert [r.joint for r in rules] == list(target.joint_names)
    W = conversion_matrix(layout, skeleton)
    np.testing.assert_allclose(W.sum(1), 1.0)  # weights sum to 1: a translated pose converts to the translated pose
    for r in rules:
        assert r.kind in ("direct", "approximate", "derived") and set(r.sources) <= set(LAYOUT_JOINTS[layout])
        assert (r.kind == "derived") == (len(r.sources) > 1)
    assert len(describe_conversion(layout, skeleton).splitlines()) == target.num_joints


def _named(layout, rng):
    return {n: rng.normal(size=2) for n in LAYOUT_JOINTS[layout]}


def _array(layout, named):
    return np.stack([named[n] for n in LAYOUT_JOINTS[layout]])


def test_coco_rules_value_by_value():
    rng = np.random.default_rng(0)
    kp = _named("coco", rng)
    out, _ = convert_keypoints(_array("coco", kp), "coco")
    got = dict(zip(H36M17.joint_names, out))
    pelvis = (kp["left_hip"] + kp["right_hip"]) / 2
    thorax = (kp["left_shoulder"] + kp["right_shoulder"]) / 2
    np.testing.assert_allclose(got["Pelvis"], pelvis)
    np.testing.assert_allclose(got["Thorax"], thorax)
    np.testing.assert_allclose(got["Spine"], (pelvis + thorax) / 2)
    np.testing.assert_allclose(got["Neck"], kp["nose"])
    np.testing.assert_allclose(got["Head"], (kp["left_ear"] + kp["right_ear"]) / 2)
    for ours, theirs in (("RHip", "right_hip"), ("LAnkle", "left_ankle"), ("RWrist", "right_wrist"),
                         ("LShoulder", "left_shoulder"), ("RKnee", "right_knee"), ("LElbow", "left_elbow")):
        np.testing.assert_array_equal(got[ours], kp[theirs])
    derived = [n for n, d in zip(H36M17.joint_names, derived_mask("coco")) if d]
    assert derived == ["Pelvis", "Spine", "Thorax", "Head"]


def test_coco18_reads_the_same_joints_as_coco_and_ignores_openpose_neck():
    rng = np.random.default_rng(1)
    kp = _named("coco18", rng)
    a18 = _array("coco18", kp)
    a17 = _array("coco", {n: kp[n] for n in LAYOUT_JOINTS["coco"]})
    conf18 = rng.uniform(size=18)
    conf17 = np.array([conf18[LAYOUT_JOINTS["coco18"].index(n)] for n in LAYOUT_JOINTS["coco"]])
    out18, c18 = convert_keypoints(a18, "coco18", confidence=conf18)
    out17, c17 = convert_keypoints(a17, "coco", confidence=conf17)
    np.testing.assert_array_equal(out18, out17)
    np.testing.assert_array_equal(c18, c17)
    a18[LAYOUT_JOINTS["coco18"].index("neck")] = np.nan
    assert np.isfinite(convert_keypoints(a18, "coco18")[0]).all()


def test_mpii_and_stacked_hourglass_orders():
    rng = np.random.default_rng(2)
    kp = _named("mpii", rng)
    out, _ = convert_keypoints(_array("mpii", kp), "mpii", "h36m17")
    got = dict(zip(H36M17.joint_names, out))
    np.testing.assert_array_equal(got["Pelvis"], kp["pelvis"])
    np.testing.assert_array_equal(got["Thorax"], kp["thorax"])
    np.testing.assert_allclose(got["Spine"], (kp["pelvis"] + kp["thorax"]) / 2)
    np.testing.assert_array_equal(got["Neck"], kp["upper_neck"])
    np.testing.assert_array_equal(got["Head"], kp["head_top"])
    np.testing.assert_array_equal(got["RAnkle"], kp["right_ankle"])
    np.testing.assert_array_equal(got["LWrist"], kp["left_wrist"])
    # Martinez et al.'s permutation from the Stacked-Hourglass slots to Human3.6M's 16 joints (3d-pose-baseline)
    sh = rng.normal(size=(5, 16, 2))
    out16, _ = convert_keypoints(sh, "sh16_h36m", "h36m16")
    np.testing.assert_array_equal(out16, sh[:, [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10]])
    out17, _ = convert_keypoints(sh, "sh16_h36m", "h36m17")
    np.testing.assert_array_equal(h36m17_to_h36m16(out17), out16)
    np.testing.assert_allclose(out17[:, 9], (out16[:, 8] + out16[:, 9]) / 2)


def test_h36m_layout_is_the_identity_and_smpl_head_is_extrapolated():
    x = np.random.default_rng(3).normal(size=(4, 17, 3))
    np.testing.assert_array_equal(convert_keypoints(x, "h36m")[0], x)
    np.testing.assert_array_equal(convert_keypoints(x, "h36m", "h36m16")[0], h36m17_to_h36m16(x))
    kp = _named("smpl24", np.random.default_rng(4))
    got = dict(zip(H36M17.joint_names, convert_keypoints(_array("smpl24", kp), "smpl24")[0]))
    np.testing.assert_allclose(got["Head"], 2 * kp["head"] - kp["neck"])
    np.testing.assert_array_equal(got["Thorax"], kp["neck"])
    np.testing.assert_array_equal(got["LHip"], kp["left_hip"])
    np.testing.assert_allclose(got["Spine"], (kp["pelvis"] + kp["neck"]) / 2)


@settings(deadline=None)
@given(layout=st.sampled_from(sorted(LAYOUT_JOINTS)), skeleton=st.sampled_from(["h36m17", "h36m16"]),
       lead=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 2**31 - 1))
def test_conversion_is_the_matrix_translation_equivariant_and_confidence_is_the_min(layout, skeleton, lead, seed):
    rng = np.random.default_rng(seed)
    K = len(LAYOUT_JOINTS[layout])
    x = rng.normal(size=(*lead, K, 3))
    conf = rng.uniform(size=(*lead, K))
    out, c = convert_keypoints(x, layout, skeleton, confidence=conf)
    W = conversion_matrix(layout, skeleton)
    np.testing.assert_allclose(out, np.einsum("jk,...kc->...jc", W, x), atol=1e-12)
    t = rng.normal(size=3)
    np.testing.assert_allclose(convert_keypoints(x + t, layout, skeleton)[0], out + t, atol=1e-12)
    expect = np.stack([np.min(np.where(W[j] != 0, conf, np.inf), axis=-1) for j in range(W.shape[0])], -1)
    np.testing.assert_array_equal(c, expect)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown keypoint layout 'openpose25'"):
        convert_keypoints(np.zeros((17, 2)), "openpose25")
    with pytest.raises(ValueError, match=r"\[\.\.\., 17, C\] in 'coco' order"):
        convert_keypoints(np.zeros((16, 2)), "coco")
    with pytest.raises(ValueError, match="confidence"):
        convert_keypoints(np.zeros((17, 2)), "coco", confidence=np.ones(16))
    with pytest.raises(ValueError, match="unknown layout 'smpl'"):
        conversion_rules("coco", "smpl")
