"""Human3.6M loader on fixture files in VideoPose3D's layout, checked against an independent camera computation."""
import json
from importlib import resources

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posefast.data import h36m_cameras, load_h36m
from posefast.data.pose3d.h36m import H36M32_TO_H36M17, h36m_world_to_camera
from posefast.data.synth3d.synthetic import PRESETS, sample_world_poses
from posefast.skeleton import h36m17_to_h36m16

SUBJECTS = ("S1", "S9")
ACTIONS = ("Walking 1", "Sitting")
# the metadata dicts VideoPose3D's preparation scripts write (data/prepare_data_h36m.py, data/data_utils.py,
# data/prepare_data_2d_h36m_sh.py)
GT_METADATA = {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
COCO_METADATA = {"layout_name": "coco", "num_joints": 17,
                 "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]}
H36M_METADATA = {"layout_name": "h36m", "num_joints": 17,
                 "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
SH_METADATA = {"num_joints": 16, "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]}


def _independent_pixels(world32, subject, view):
    """World (Z up, metres) -> pixels from the raw JSON numbers, scipy rotations and VideoPose3D's distortion."""
    cal = json.loads(resources.files("posefast.data.pose3d").joinpath("h36m_cameras.json").read_text())
    intr, extr = cal["intrinsics"][view], cal["extrinsics"][subject][view]
    w, x, y, z = extr["orientation"]
    cam_to_world = Rotation.from_quat([x, y, z, w])
    Xc = cam_to_world.inv().apply(world32.reshape(-1, 3) - np.array(extr["translation"]) / 1000.0)
    xn, yn = Xc[:, 0] / Xc[:, 2], Xc[:, 1] / Xc[:, 2]
    k1, k2, k3 = intr["radial_distortion"]
    p1, p2 = intr["tangential_distortion"]
    r2 = xn ** 2 + yn ** 2
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * xn + p2 * yn
    u = intr["focal_length"][0] * (xn * (radial + tan) + p1 * r2) + intr["center"][0]
    v = intr["focal_length"][1] * (yn * (radial + tan) + p2 * r2) + intr["center"][1]
    return Xc.reshape(world32.shape), np.stack([u, v], -1).reshape(world32.shape[:-1] + (2,))


def _world32(T, seed):
    """Plausible world poses: synthetic h36m17 (Y up) -> Human3.6M world (Z up), padded to the 32 mocap joints."""
    world17, *_ = sample_world_poses(PRESETS["h36m"], T, np.random.default_rng(seed))
    zup = np.stack([world17[..., 0], -world17[..., 2], world17[..., 1]], -1)
    out = np.repeat(zup[:, :1], 32, axis=1)  # the 15 unused mocap joints: any finite value
    out[:, list(H36M32_TO_H36M17)] = zup
    return out


@pytest.fixture(scope="module")
def h36m_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("h36m")
    pos3d, pos2d = {}, {}
    for i, s in enumerate(SUBJECTS):
        pos3d[s], pos2d[s] = {}, {}
        for j, a in enumerate(ACTIONS):
            world = _world32(12 + 3 * j, seed=10 * i + j)
            pos3d[s][a] = world.astype(np.float32)
            pos2d[s][a] = [_independent_pixels(world[:, list(H36M32_TO_H36M17)], s, v)[1].astype(np.float32)
                           for v in range(4)]
    np.savez_compressed(d / "data_3d_h36m.npz", positions_3d=pos3d)
    # prepare_data_h36m.py's metadata: no layout name, the 17-joint skeleton's left / right joints
    np.savez_compressed(d / "data_2d_h36m_gt.npz", positions_2d=pos2d, metadata=GT_METADATA)
    return d


def test_package_calibration_is_sane():
    for s in (1, 5, 6, 7, 8, 9, 11):
        cams = h36m_cameras(s)
        assert len(cams) == 4
        for c in cams:
            assert abs(np.linalg.norm(c["orientation"]) - 1) < 1e-5
            assert 1.4 < c["translation"][2] < 1.7                  # mounted ~1.5 m high
            assert 4.0 < np.linalg.norm(c["translation"][:2]) < 5.8  # 4-6 m from the centre
            assert 1140 < c["intrinsics"][0] < 1150 and tuple(c["image_size"]) in ((1000, 1000), (1000, 1002))
    with pytest.raises(ValueError, match="S2"):
        h36m_cameras(2)


def test_world_to_camera_to_pixels_matches_independent(h36m_dir):
    world = _world32(5, seed=99)[:, list(H36M32_TO_H36M17)]
    for view in range(4):
        Xc_ref, uv_ref = _independent_pixels(world, "S9", view)
        np.testing.assert_allclose(h36m_world_to_camera(world, 9, view), Xc_ref, atol=1e-9)
    ds = load_h36m(h36m_dir, subjects=[9])
    first = ds.subset((ds.sequence == ds.sequence.min()) & (ds.view == 2))
    raw = np.load(h36m_dir / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    world = raw["S9"][sorted(ACTIONS)[0]][:, list(H36M32_TO_H36M17)].astype(np.float64)
    Xc_ref, uv_ref = _independent_pixels(world, "S9", 2)
    np.testing.assert_allclose(first.joints_3d, Xc_ref, atol=1e-5)
    np.testing.assert_allclose(first.joints_2d, uv_ref, atol=1e-2)   # projected by the loader (keypoints=None)


def test_gt_2d_file_round_trip(h36m_dir):
    proj = load_h36m(h36m_dir)
    gt = load_h36m(h36m_dir, keypoints="gt")
    assert len(proj) == len(gt) == 2 * 4 * (12 + 15)
    np.testing.assert_allclose(gt.joints_2d, proj.joints_2d, atol=1e-2)
    np.testing.assert_array_equal(gt.view, proj.view)
    assert set(gt.subject) == {1, 9} and gt.camera.shape[1] == 9
    assert gt.meta["sequence_names"][0] == "S1/Sitting"
    assert {tuple(s) for s in gt.image_size.tolist()} == {(1000, 1000), (1000, 1002)}


def test_split_stride_skeleton_actions(h36m_dir):
    with pytest.raises(ValueError, match=r"no data for subject\(s\) \['S5', 'S6', 'S7', 'S8'\]"):
        load_h36m(h36m_dir, split="train")  # the protocol's subjects must all be present
    train = load_h36m(h36m_dir, subjects=[1])
    assert set(train.subject) == {1}
    test = load_h36m(h36m_dir, subjects=[9], stride=5, skeleton="h36m16", actions=["Walking"])
    assert set(test.subject) == {9} and test.skeleton.name == "h36m16"
    assert len(test) == 4 * len(range(0, 12, 5))
    with pytest.raises(ValueError, match="split"):
        load_h36m(h36m_dir, split="val")
    with pytest.raises(ValueError, match="S5"):
        load_h36m(h36m_dir, subjects=[5])
    with pytest.raises(ValueError, match="stride"):
        load_h36m(h36m_dir, stride=0)


def test_longer_2d_is_trimmed_with_warning_and_shorter_is_error(tmp_path):
    world = _world32(10, seed=3)
    ok2d = [_independent_pixels(world[:, list(H36M32_TO_H36M17)], "S1", v)[1] for v in range(4)]
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Eating": world}})
    np.savez(tmp_path / "data_2d_h36m_long.npz", positions_2d={"S1": {"Eating": [np.concatenate([a, a[:2]])
                                                                                 for a in ok2d]}},
             metadata=H36M_METADATA)
    with pytest.warns(UserWarning, match="dropping the last 2"):
        ds = load_h36m(tmp_path, keypoints="long")
    assert len(ds) == 40
    np.savez(tmp_path / "data_2d_h36m_short.npz", positions_2d={"S1": {"Eating": [a[:8] for a in ok2d]}},
             metadata=H36M_METADATA)
    with pytest.raises(ValueError, match="8 2D frames for 10"):
        load_h36m(tmp_path, keypoints="short")


def test_corrupted_files_name_the_file(tmp_path):
    world = _world32(4, seed=5)
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Eating": world[:, :20]}})
    with pytest.raises(ValueError, match=r"data_3d_h36m.npz.*32 or 17 joints"):
        load_h36m(tmp_path)
    bad = world.copy()
    bad[1, 3, 0] = np.nan
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Eating": bad}})
    with pytest.raises(ValueError, match="non-finite"):
        load_h36m(tmp_path)
    (tmp_path / "data_3d_h36m.npz").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="data_3d_h36m.npz: not a readable"):
        load_h36m(tmp_path)
    np.savez(tmp_path / "data_3d_h36m.npz", other=np.zeros(3))
    with pytest.raises(ValueError, match="missing key 'positions_3d'"):
        load_h36m(tmp_path)
    np.savez(tmp_path / "data_3d_h36m.npz", positions_3d={"S1": {"Eating": world}})
    np.savez(tmp_path / "data_2d_h36m_x.npz", positions_2d={"S1": {"Eating": [np.zeros((4, 16, 2))] * 4}})
    with pytest.raises(ValueError, match="data_2d_h36m_x.npz: metadata has no 'layout_name'.*pass layout="):
        load_h36m(tmp_path, keypoints="x")
    with pytest.raises(FileNotFoundError, match="data_2d_h36m_cpn.npz"):
        load_h36m(tmp_path, keypoints="cpn")


# -- detector files in other keypoint layouts ------------------------------------------------------------------------
def _detections_like_videopose3d(directory, name, metadata, per_view):
    """What VideoPose3D's 2D scripts save: {subject: {action: [4 cameras x float32 [T, K, C]]}} plus metadata.

    ``per_view(subject, action, view, pixels17)`` builds one camera's detections from the exact h36m17 pixels."""
    raw = np.load(directory / "data_3d_h36m.npz", allow_pickle=True)["positions_3d"].item()
    out = {}
    for s, acts in raw.items():
        out[s] = {}
        for a, world in acts.items():
            out[s][a] = [None, None, None, None]
            for v in range(4):
                px = _independent_pixels(world[:, list(H36M32_TO_H36M17)].astype(np.float64), s, v)[1]
                out[s][a][v] = per_view(s, a, v, px).astype("float32")
    np.savez_compressed(directory / f"data_2d_h36m_{name}.npz", positions_2d=out, metadata=metadata)


J = {n: i for i, n in enumerate(("Pelvis", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Spine", "Thorax",
                                 "Neck", "Head", "LShoulder", "LElbow", "LWrist", "RShoulder", "RElbow", "RWrist"))}


def _coco_from_h36m(px):
    """COCO-17 keypoints placed on the projected Human3.6M joints; ears either side of the head, eyes near it."""
    ear = np.array([6.0, 0.0])
    order = [px[:, J["Neck"]], px[:, J["Head"]] + ear / 2, px[:, J["Head"]] - ear / 2, px[:, J["Head"]] + ear,
             px[:, J["Head"]] - ear]
    for left, right in (("LShoulder", "RShoulder"), ("LElbow", "RElbow"), ("LWrist", "RWrist"), ("LHip", "RHip"),
                        ("LKnee", "RKnee"), ("LAnkle", "RAnkle")):
        order += [px[:, J[left]], px[:, J[right]]]
    return np.stack(order, 1)


def test_coco_detections_are_converted_not_misread(h36m_dir):
    _detections_like_videopose3d(h36m_dir, "detectron_pt_coco", COCO_METADATA, lambda s, a, v, px: _coco_from_h36m(px))
    gt = load_h36m(h36m_dir, keypoints="gt")
    det = load_h36m(h36m_dir, keypoints="detectron_pt_coco")
    assert det.meta["layout"] == "coco" and det.meta["derived_joints"] == ["Pelvis", "Spine", "Thorax", "Head"]
    for name in ("RHip", "LHip", "RKnee", "LAnkle", "LShoulder", "RElbow", "RWrist", "Head", "Neck"):
        np.testing.assert_allclose(det.joints_2d[:, J[name]], gt.joints_2d[:, J[name]], atol=1e-3, err_msg=name)
    g = gt.joints_2d.astype(np.float64)
    pelvis = (g[:, J["LHip"]] + g[:, J["RHip"]]) / 2
    thorax = (g[:, J["LShoulder"]] + g[:, J["RShoulder"]]) / 2
    np.testing.assert_allclose(det.joints_2d[:, J["Pelvis"]], pelvis, atol=1e-3)
    np.testing.assert_allclose(det.joints_2d[:, J["Thorax"]], thorax, atol=1e-3)
    np.testing.assert_allclose(det.joints_2d[:, J["Spine"]], (pelvis + thorax) / 2, atol=1e-3)
    np.testing.assert_array_equal(det.joints_3d, gt.joints_3d)
    h16 = load_h36m(h36m_dir, keypoints="detectron_pt_coco", skeleton="h36m16")
    np.testing.assert_allclose(h16.joints_2d, h36m17_to_h36m16(det.joints_2d), atol=1e-6)


def test_cpn_style_h36m_layout_with_confidence(h36m_dir):
    rng = np.random.default_rng(7)
    confs = {}

    def view(s, a, v, px):
        c = rng.uniform(0.2, 1.0, px.shape[:2] + (1,))
        confs[(s, a, v)] = c[..., 0]
        return np.concatenate([px, c], -1)

    _detections_like_videopose3d(h36m_dir, "cpn_ft_h36m_dbb", H36M_METADATA, view)
    ds = load_h36m(h36m_dir, keypoints="cpn_ft_h36m_dbb", subjects=[9], actions=["Sitting"])
    gt = load_h36m(h36m_dir, keypoints="gt", subjects=[9], actions=["Sitting"])
    np.testing.assert_allclose(ds.joints_2d, gt.joints_2d, atol=1e-3)
    np.testing.assert_allclose(ds.confidence[ds.view == 2], confs[("S9", "Sitting", 2)], atol=1e-7)
    assert ds.meta["derived_joints"] == []


def _mpii_from_h36m(px, spine_slot):
    """16 keypoints in the MPII / Stacked-Hourglass slot order; slot 7 is the thorax (MPII) or the spine (SH fine-tuned
    on Human3.6M, as Martinez et al. read it), slots 8 and 9 the upper neck / head top or thorax / head."""
    names = ["RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle", "Pelvis"] + spine_slot + \
        ["RWrist", "RElbow", "RShoulder", "LShoulder", "LElbow", "LWrist"]
    return px[:, [J[n] for n in names]]


def test_stacked_hourglass_files_of_videopose3d(h36m_dir):
    _detections_like_videopose3d(h36m_dir, "sh_pt_mpii", SH_METADATA,
                                 lambda s, a, v, px: _mpii_from_h36m(px, ["Thorax", "Neck", "Head"]))
    _detections_like_videopose3d(h36m_dir, "sh_ft_h36m", SH_METADATA,
                                 lambda s, a, v, px: _mpii_from_h36m(px, ["Spine", "Thorax", "Head"]))
    gt16 = load_h36m(h36m_dir, keypoints="gt", skeleton="h36m16")
    ft = load_h36m(h36m_dir, keypoints="sh_ft_h36m", skeleton="h36m16")
    assert ft.meta["layout"] == "sh16_h36m"
    np.testing.assert_allclose(ft.joints_2d, gt16.joints_2d, atol=1e-3)  # a permutation, every joint exact
    pt = load_h36m(h36m_dir, keypoints="sh_pt_mpii", skeleton="h36m17")
    gt = load_h36m(h36m_dir, keypoints="gt")
    assert pt.meta["layout"] == "mpii" and pt.meta["derived_joints"] == ["Spine"]
    keep = [j for n, j in J.items() if n != "Spine"]
    np.testing.assert_allclose(pt.joints_2d[:, keep], gt.joints_2d[:, keep], atol=1e-3)
    g = gt.joints_2d.astype(np.float64)
    np.testing.assert_allclose(pt.joints_2d[:, J["Spine"]], (g[:, J["Pelvis"]] + g[:, J["Thorax"]]) / 2, atol=1e-3)
    # the same MPII-order file under another name has nothing that says which model made it: refused, then explicit
    (h36m_dir / "data_2d_h36m_sh_mine.npz").write_bytes((h36m_dir / "data_2d_h36m_sh_pt_mpii.npz").read_bytes())
    with pytest.raises(ValueError, match="data_2d_h36m_sh_mine.npz: metadata has no 'layout_name'.*'sh16_h36m'"):
        load_h36m(h36m_dir, keypoints="sh_mine", skeleton="h36m16")
    mine = load_h36m(h36m_dir, keypoints="sh_mine", layout="mpii")
    np.testing.assert_array_equal(mine.joints_2d, pt.joints_2d)
    with pytest.raises(ValueError, match="layout: 'coco' .17 joints. does not fit"):
        load_h36m(h36m_dir, keypoints="sh_mine", layout="coco")


def test_layouts_without_a_conversion_are_refused(h36m_dir):
    meta = {"layout_name": "humaneva15", "num_joints": 17, "keypoints_symmetry": [[], []]}
    _detections_like_videopose3d(h36m_dir, "he", meta, lambda s, a, v, px: px)
    with pytest.raises(ValueError, match="keypoint layout 'humaneva15'.*no conversion"):
        load_h36m(h36m_dir, keypoints="he")
    _detections_like_videopose3d(h36m_dir, "bad_conf", H36M_METADATA,
                                 lambda s, a, v, px: np.concatenate([px, np.full(px.shape[:2] + (1,), 3.5)], -1))
    with pytest.raises(ValueError, match="not a confidence in \\[0, 1\\]"):
        load_h36m(h36m_dir, keypoints="bad_conf")
    with pytest.raises(ValueError, match="layout: only applies to a 2D file"):
        load_h36m(h36m_dir, layout="coco")
