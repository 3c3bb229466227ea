"""MPI-INF-3DHP test-set loaders on fixtures written the way SPIN and PoseAug write their files."""
import os

import numpy as np
import pytest

from posefast.data import load, load_3dhp
from posefast.geometry import normalize_screen, project
from posefast.data.pose3d.mpi3dhp import (MPI3DHP_TEST_CAMERAS, MPI3DHP_TEST_VALID_FRAMES, POSEAUG_STUDIO_FRAMES,
                                   SPIN24_TO_H36M17)
from posefast.skeleton import H36M17, h36m17_to_h36m16

STUDIO = np.array(MPI3DHP_TEST_CAMERAS["studio"][0])
OUTDOOR = np.array(MPI3DHP_TEST_CAMERAS["outdoor"][0])
SIZE = {k: (2048, 2048) if k <= 4 else (1920, 1080) for k in range(1, 7)}
CAM = {k: STUDIO if k <= 4 else OUTDOOR for k in range(1, 7)}
# the test set's 17 joints, in annot_data.mat order (mpii_get_joints('relevant'))
TEST_JOINTS = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
               "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "pelvis",
               "spine", "head")
# SPIN datasets/preprocess/mpi_inf_3dhp.py test_data: the test joints it reads, and the 24 slots it writes them to
SPIN_READ = [14, 11, 12, 13, 8, 9, 10, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4]
SPIN_SLOTS = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]
# PoseAug data_extra/prepare_data_3dhp.py
POSEAUG_REORDER = [14, 2, 1, 0, 3, 4, 5, 16, 12, 18, 9, 10, 11, 8, 7, 6]


def test_cameras_come_from_the_test_set_calibration():
    # ts1-4cameras.calib: focal 7.32506 mm on a 10 mm sensor, 2048 px; centre offset (-0.0322884, 0.0929296) mm
    np.testing.assert_allclose(STUDIO, [1500.172288, 1500.172288, 1017.38733568, 1043.03198208], rtol=1e-12)
    # ts5-6cameras.calib: 8.770747185 mm on 10 x 5.625 mm, 1920 x 1080; offset (-0.104908645, 0.104899704) mm
    np.testing.assert_allclose(OUTDOOR, [1683.98345952, 1683.98345952, 939.85754016, 560.140743168], rtol=1e-12)
    assert sum(MPI3DHP_TEST_VALID_FRAMES.values()) == 2929 and POSEAUG_STUDIO_FRAMES == 2201


def _test_set(counts, seed=0, scale=None, invalid_every=0, outside=None):
    """Per sequence: annot2 (pixels), annot3 (camera mm), univ_annot3 (rescaled by ``scale[k]`` about the pelvis)
    and valid_frame; ``counts`` valid frames (plus one invalid frame per ``invalid_every``), and the frames
    ``outside[k]`` of sequence k moved out of the image."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, n_valid in counts.items():
        n = n_valid + (n_valid // invalid_every if invalid_every else 0)
        valid = np.ones(n, bool)
        valid[rng.choice(n, n - n_valid, replace=False)] = False
        rel = np.clip(rng.normal(0, 0.2, (n, 17, 3)), -0.6, 0.6)
        rel[:, TEST_JOINTS.index("pelvis")] = 0.0
        root = rng.uniform([-0.3, -0.2, 4.0], [0.3, 0.2, 5.5], (n, 3))
        for i in (outside or {}).get(k, ()):
            root[i, 0] = 6.0                        # far to the side: out of the frame
        annot3 = (rel + root[:, None]) * 1000.0
        s = 1.0 if scale is None else scale[k]
        univ = (rel * s + root[:, None]) * 1000.0
        annot2 = project(annot3 / 1000.0, CAM[k]).numpy()
        out[k] = dict(annot2=annot2, annot3=annot3, univ_annot3=univ, valid_frame=valid, root=root, scale=s)
    return out


def _write_like_spin(path, test_set):
    """SPIN's test_data: valid frames whose 17 joints all lie in the image; 2D and root-relative metres, 24 slots."""
    imgnames, centers, scales, parts, Ss = [], [], [], [], []
    for k, seq in test_set.items():
        w, h = SIZE[k]
        for i, ok in enumerate(seq["valid_frame"]):
            if not ok:
                continue
            joints = seq["annot2"][i, SPIN_READ]
            S17 = seq["univ_annot3"][i, SPIN_READ] / 1000
            S17 = S17 - S17[0]
            lo, hi = joints.min(0), joints.max(0)
            inside = (joints[:, 0] >= 0) & (joints[:, 0] < w) & (joints[:, 1] >= 0) & (joints[:, 1] < h)
            if inside.sum() < 17:
                continue
            part = np.zeros((24, 3))
            part[SPIN_SLOTS] = np.hstack([joints, np.ones((17, 1))])
            S = np.zeros((24, 4))
            S[SPIN_SLOTS] = np.hstack([S17, np.ones((17, 1))])
            imgnames.append(os.path.join("mpi_inf_3dhp_test_set", f"TS{k}", "imageSequence", f"img_{i + 1:06d}.jpg"))
            centers.append((lo + hi) / 2)
            scales.append(1.2 * max(hi - lo) / 200)
            parts.append(part)
            Ss.append(S)
    np.savez(path, imgname=imgnames, center=centers, scale=scales, part=parts, S=Ss)


def _write_like_poseaug(spin_path, out_path):
    """PoseAug's prepare_data_3dhp.py on SPIN's file: image size from the name, h36m16 reorder, 2D normalised and
    multiplied by the visibility mask, 3D as stored."""
    spin = np.load(spin_path)
    p2, p3 = [], []
    for name, part, S in zip(spin["imgname"], spin["part"], spin["S"]):
        w, h = (1920, 1080) if ("/TS5/" in name or "/TS6/" in name) else (2048, 2048)
        mask = part[POSEAUG_REORDER][:, 2:]
        p2.append((part[POSEAUG_REORDER][:, :2] / w * 2 - [1, h / w]) * mask)
        p3.append(S[POSEAUG_REORDER][:, :3])
    np.savez(out_path, pose3d=np.array(p3), pose2d=np.array(p2))


@pytest.fixture(scope="module")
def full_test_set(tmp_path_factory):
    """A SPIN-format file of the test set's size (the README's valid-frame counts) and PoseAug's file made from it."""
    d = tmp_path_factory.mktemp("3dhp")
    truth = _test_set({k: MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"] for k in range(1, 7)}, invalid_every=7)
    _write_like_spin(d / "mpi_inf_3dhp_valid.npz", truth)
    _write_like_poseaug(d / "mpi_inf_3dhp_valid.npz", d / "test_3dhp.npz")
    return d, truth


def test_spin_file_gives_exact_sequences_cameras_and_joints(full_test_set):
    d, truth = full_test_set
    ds = load_3dhp(d / "mpi_inf_3dhp_valid.npz")
    assert len(ds) == 2929 and ds.skeleton.name == "h36m17"
    for k in range(1, 7):
        sel = ds.sequence == k
        assert sel.sum() == MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"]
        assert {tuple(s) for s in ds.image_size[sel].tolist()} == {SIZE[k]}
        np.testing.assert_allclose(ds.camera[sel], np.broadcast_to(CAM[k], (sel.sum(), 4)), rtol=1e-6)
        seq = truth[k]
        valid = seq["valid_frame"]
        uv_test = seq["annot2"][valid]
        by_name = dict(zip(TEST_JOINTS, np.moveaxis(uv_test, 1, 0)))
        got = dict(zip(H36M17.joint_names, np.moveaxis(ds.joints_2d[sel], 1, 0)))
        for ours, theirs in (("Head", "head_top"), ("Neck", "head"), ("Thorax", "neck"), ("Spine", "spine"),
                             ("Pelvis", "pelvis"), ("RWrist", "right_wrist"), ("LAnkle", "left_ankle")):
            np.testing.assert_allclose(got[ours], by_name[theirs], atol=1e-3, err_msg=ours)
        # same size (scale 1): the placed root is the captured one
        np.testing.assert_allclose(ds.joints_3d[sel, 0], seq["root"][valid], atol=1e-4)
    np.testing.assert_allclose(project(ds.joints_3d, ds.camera).numpy(), ds.joints_2d, atol=1e-2)
    assert "univ_annot3" in ds.meta["3d"] and "reprojection" in ds.meta["root"]


def test_poseaug_file_boundary_is_the_readme_count(full_test_set):
    d, _ = full_test_set
    spin = load_3dhp(d / "mpi_inf_3dhp_valid.npz", skeleton="h36m16")
    pa = load_3dhp(d / "test_3dhp.npz")
    assert pa.skeleton.name == "h36m16" and len(pa) == 2929
    np.testing.assert_array_equal(pa.sequence, spin.sequence)
    np.testing.assert_array_equal(pa.image_size, spin.image_size)
    np.testing.assert_allclose(pa.camera, spin.camera, rtol=1e-6)
    np.testing.assert_allclose(pa.joints_2d, spin.joints_2d, atol=1e-3)
    np.testing.assert_allclose(pa.joints_3d, spin.joints_3d, atol=1e-4)
    first_outdoor = int(np.flatnonzero(pa.image_size[:, 0] == 1920)[0])
    assert first_outdoor == 2201
    # the guessed 2207 would have given six TS5 frames the studio camera: their 2D hundreds of pixels off
    guessed = load_3dhp(d / "test_3dhp.npz", studio_frames=2207)
    err = np.abs(guessed.joints_2d[2201:2207] - spin.joints_2d[2201:2207]).max()
    assert err > 50
    assert guessed.sequence is None and "given" in guessed.meta["studio_frames"]


def test_rescaled_3d_is_placed_at_scaled_depth(tmp_path):
    counts = {1: 5, 5: 4}
    truth = _test_set(counts, seed=3, scale={1: 0.9, 5: 1.1}, outside={1: (2,)})
    _write_like_spin(tmp_path / "spin.npz", truth)
    ds = load_3dhp(tmp_path / "spin.npz")
    assert len(ds) == 8  # SPIN dropped the TS1 frame that leaves the image
    np.testing.assert_allclose(project(ds.joints_3d, ds.camera).numpy(), ds.joints_2d, atol=1e-2)
    for k in counts:
        keep = np.arange(counts[k]) != 2 if k == 1 else np.ones(counts[k], bool)
        root = truth[k]["root"][keep]
        np.testing.assert_allclose(ds.joints_3d[ds.sequence == k, 0], truth[k]["scale"] * root, rtol=1e-4)


def _poseaug_file(path, n_studio=7, n_outdoor=4, seed=0, zero_joint=None):
    rng = np.random.default_rng(seed)
    n = n_studio + n_outdoor
    rel = rng.normal(0, 0.25, (n, 16, 3))
    rel[:, 0] = 0.0
    root = rng.uniform([-0.5, -0.3, 3.5], [0.5, 0.3, 5.0], (n, 3))
    cams = np.array([STUDIO] * n_studio + [OUTDOOR] * n_outdoor)
    sizes = np.array([[2048, 2048]] * n_studio + [[1920, 1080]] * n_outdoor)
    uv = project(rel + root[:, None], cams).numpy()
    xy = normalize_screen(uv, sizes[..., 0], sizes[..., 1]).numpy()
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
    assert "reprojection" in ds.meta["root"]
    # root-relative 3D is never handed out as camera-frame 3D: there is no switch to keep the pelvis at z = 0
    with pytest.raises(TypeError, match="recover_root"):
        load_3dhp(tmp_path / "test_3dhp.npz", studio_frames=7, recover_root=False)
    with pytest.raises(TypeError, match="unknown option.*recover_root"):
        load(f"3dhp:{tmp_path / 'test_3dhp.npz'}", studio_frames=7, recover_root=False)
    assert (ds.joints_3d[..., 2] > 0).all()
    # a file that is not the full test set has no known studio/outdoor boundary
    with pytest.raises(ValueError, match="11 frames; the studio/outdoor boundary is known only for the full test "
                                         "set of 2929"):
        load_3dhp(tmp_path / "test_3dhp.npz")
    to17 = load_3dhp(tmp_path / "test_3dhp.npz", studio_frames=7, skeleton="h36m17")
    assert to17.joints_3d.shape == (11, 17, 3)


def _poses(n, seed, J=16):
    rng = np.random.default_rng(seed)
    rel = rng.normal(0, 0.25, (n, J, 3))
    rel[:, 0] = 0.0
    root = rng.uniform([-0.5, -0.3, 3.5], [0.5, 0.3, 5.0], (n, 3))
    return rel, root


def _sequence_file(path, units="mm", J=17, valid=False, root_relative=False):
    p3, p2, ok = {}, {}, {}
    truth = {}
    for k, (name, cam) in enumerate((("TS1", STUDIO), ("TS5", OUTDOOR))):
        rel, root = _poses(6 + k, seed=k, J=J)
        X = rel + root[:, None]
        truth[name] = (X, project(X, cam).numpy())
        p3[name] = (rel if root_relative else X) * (1000.0 if units == "mm" else 1.0)
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
    np.testing.assert_allclose(project(ts5.joints_3d, ts5.camera).numpy(), ts5.joints_2d, atol=0.05)
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


def test_root_relative_sequence_file_is_placed_not_returned_at_the_camera(tmp_path):
    truth, _ = _sequence_file(tmp_path / "rel.npz", root_relative=True)
    ds = load_3dhp(tmp_path / "rel.npz")
    assert (ds.joints_3d[..., 2] > 3).all() and "reprojection" in ds.meta["root"]
    np.testing.assert_allclose(ds.subset(ds.sequence == 5).joints_3d, truth["TS5"][0], atol=1e-4)


def test_corrupted_spin_files(tmp_path):
    truth = _test_set({2: 3}, seed=5)
    _write_like_spin(tmp_path / "ok.npz", truth)
    arrays = dict(np.load(tmp_path / "ok.npz"))
    bad = dict(arrays, imgname=np.array(["S1/Seq1/imageFrames/video_0/frame_000001.jpg"] * 3))
    np.savez(tmp_path / "train.npz", **bad)
    with pytest.raises(ValueError, match=r"imgname\[0\] = 'S1/Seq1.*not a test-set image"):
        load_3dhp(tmp_path / "train.npz")
    S = arrays["S"].copy()
    S[1, 17, 3] = 0  # a slot the test set fills left empty
    np.savez(tmp_path / "slots.npz", **dict(arrays, S=S))
    with pytest.raises(ValueError, match="not a SPIN test-set file"):
        load_3dhp(tmp_path / "slots.npz")
    with pytest.raises(ValueError, match="studio_frames: only for PoseAug's file"):
        load_3dhp(tmp_path / "ok.npz", studio_frames=3)
    behind = dict(arrays, S=arrays["S"].copy())
    behind["S"][:, list(SPIN24_TO_H36M17), 2] -= 50.0  # absolute (not root-relative) and behind the camera
    np.savez(tmp_path / "behind.npz", **behind)
    with pytest.raises(ValueError, match="behind the camera"):
        load_3dhp(tmp_path / "behind.npz")


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
