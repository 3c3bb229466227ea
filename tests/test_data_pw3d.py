"""3DPW: the official per-sequence Python-2 pickles (written here as Python 2's cPickle writes them) and the npz."""
import pickle
import struct

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from posefast.data import PW3D_EVAL_JOINTS_H36M17, load, load_3dpw
from posefast.geometry import project
from posefast.data.pose3d.keypoint_layouts import LAYOUT_JOINTS
from posefast.skeleton import H36M17

K_PORTRAIT = np.array([[1961.9, 0.0, 540.0], [0.0, 1969.2, 960.0], [0.0, 0.0, 1.0]])
CAM = np.array([1961.9, 1969.2, 540.0, 960.0])
SMPL = LAYOUT_JOINTS["smpl24"]
COCO18 = LAYOUT_JOINTS["coco18"]

# SMPL-24 rest joints (metres, body frame: x to the body's left, y up, z forward), roughly SMPL's template
_REST = {"pelvis": (0, 0, 0), "left_hip": (0.06, -0.09, 0), "right_hip": (-0.06, -0.09, 0), "spine1": (0, 0.11, 0),
         "left_knee": (0.1, -0.47, 0), "right_knee": (-0.1, -0.47, 0), "spine2": (0, 0.25, 0),
         "left_ankle": (0.09, -0.87, 0), "right_ankle": (-0.09, -0.87, 0), "spine3": (0, 0.3, 0),
         "left_foot": (0.11, -0.93, 0.12), "right_foot": (-0.11, -0.93, 0.12), "neck": (0, 0.51, 0),
         "left_collar": (0.08, 0.42, 0), "right_collar": (-0.08, 0.42, 0), "head": (0, 0.6, 0.05),
         "left_shoulder": (0.19, 0.45, 0), "right_shoulder": (-0.19, 0.45, 0), "left_elbow": (0.45, 0.44, 0),
         "right_elbow": (-0.45, 0.44, 0), "left_wrist": (0.7, 0.44, 0), "right_wrist": (-0.7, 0.44, 0),
         "left_hand": (0.78, 0.43, 0), "right_hand": (-0.78, 0.43, 0)}


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle writes it: every ``str`` is an 8-bit string (BINSTRING), numpy lives in
    ``numpy.core``; what 3DPW's sequence files were written with."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_string
    dispatch[bytes] = save_py2_string

    def save_global(self, obj, name=None):
        name = name or obj.__qualname__
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n")
        self.memoize(obj)


def write_py2_pickle(path, obj):
    with open(path, "wb") as f:
        Py2Pickler(f, protocol=2).dump(obj)


def _camera_smpl(n, rng):
    """Camera-frame SMPL joints [n, 24, 3]: the rest pose turned about the vertical, jittered, 3-6 m away."""
    rest = np.array([_REST[j] for j in SMPL], dtype=np.float64) * [1, -1, -1]  # to camera axes (y down, z forward)
    yaw = Rotation.from_euler("y", rng.uniform(-0.6, 0.6, (n, 1))).as_matrix()
    X = np.einsum("nij,kj->nki", yaw, rest) + rng.normal(0, 0.01, (n, 24, 3))
    return X + rng.uniform([-0.4, -0.1, 3.0], [0.4, 0.3, 6.0], (n, 1, 3))


def _coco18_detections(X_cam, rng):
    """OpenPose COCO-18 [n, 3, 18] on the projected SMPL joints (limbs), with the face around the head."""
    px = {j: project(X_cam[:, i], CAM).numpy() for i, j in enumerate(SMPL)}
    face = {"nose": (0, 6), "right_eye": (-4, 0), "left_eye": (4, 0), "right_ear": (-9, 3), "left_ear": (9, 3)}
    pts = []
    for name in COCO18:
        if name in face:
            pts.append(px["head"] + np.array(face[name], float))
        elif name == "neck":
            pts.append((px["left_shoulder"] + px["right_shoulder"]) / 2)
        else:
            pts.append(px[name])
    xy = np.stack(pts, 1)                                        # [n, 18, 2]
    conf = rng.uniform(0.3, 1.0, xy.shape[:2])
    return np.concatenate([xy, conf[..., None]], -1).transpose(0, 2, 1)  # [n, 3, 18]


def _sequence(name, n, actors, seed, invalid=(), undetected=(), K=K_PORTRAIT):
    """One official-style sequence dict (README fields) and the camera-frame truth per actor."""
    rng = np.random.default_rng(seed)
    R = Rotation.from_euler("xyz", rng.uniform(-0.3, 0.3, (n, 3))).as_matrix()  # a moving phone
    t = rng.uniform(-1, 1, (n, 3))
    cam_poses = np.zeros((n, 4, 4))
    cam_poses[:, :3, :3], cam_poses[:, :3, 3], cam_poses[:, 3, 3] = R, t, 1.0
    truth, fields = [], {k: [] for k in ("betas", "poses", "trans", "poses_60Hz", "trans_60Hz", "betas_clothed",
                                         "jointPositions", "poses2d", "campose_valid")}
    for a in range(actors):
        X_cam = _camera_smpl(n, rng)
        world = np.einsum("nji,nkj->nki", R, X_cam - t[:, None, :])   # R^T (X - t)
        p2d = _coco18_detections(X_cam, rng)
        valid = np.ones(n, bool)
        valid[list(invalid)] = False
        p2d[list(undetected)] = 0.0                                # fewer than 6 joints detected: all zeros
        truth.append({"X_cam": X_cam, "poses2d": p2d, "keep": valid & (np.abs(p2d).sum((1, 2)) > 0)})
        fields["jointPositions"].append(world.reshape(n, 72))
        fields["poses2d"].append(p2d)
        fields["campose_valid"].append(valid)
        fields["betas"].append(rng.normal(size=10))
        fields["betas_clothed"].append(rng.normal(size=10))
        fields["poses"].append(rng.normal(0, 0.2, (n, 72)))
        fields["trans"].append(rng.normal(size=(n, 3)))
        fields["poses_60Hz"].append(rng.normal(0, 0.2, (2 * n, 72)))
        fields["trans_60Hz"].append(rng.normal(size=(2 * n, 3)))
    data = {"sequence": name, "genders": ["m", "f"][:actors], "cam_poses": cam_poses, "cam_intrinsics": K,
            "img_frame_ids": np.arange(0, 2 * n, 2), "v_template_clothed": [np.zeros((6890, 3))] * actors, **fields}
    return data, truth


@pytest.fixture(scope="module")
def pw3d_root(tmp_path_factory):
    """sequenceFiles/{train,validation,test}/<sequence>.pkl as in the release."""
    root = tmp_path_factory.mktemp("3DPW") / "sequenceFiles"
    specs = {"test": [("downtown_walking_00", 9, 2, (0, 4), (6,)), ("flat_guitar_01", 7, 1, (), (2, 3))],
             "train": [("courtyard_basketball_00", 5, 1, (1,), ())],
             "validation": [("courtyard_drinking_00", 6, 2, (), ())]}
    truth = {}
    for split, seqs in specs.items():
        (root / split).mkdir(parents=True)
        for i, (name, n, actors, invalid, undetected) in enumerate(seqs):
            data, truth[name] = _sequence(name, n, actors, seed=len(truth), invalid=invalid, undetected=undetected)
            write_py2_pickle(root / split / f"{name}.pkl", data)
    return root, truth


def _h36m_from_smpl(X):
    """Our documented SMPL -> h36m17 rules, written out joint by joint."""
    g = {j: X[..., i, :] for i, j in enumerate(SMPL)}
    out = {"Pelvis": g["pelvis"], "RHip": g["right_hip"], "RKnee": g["right_knee"], "RAnkle": g["right_ankle"],
           "LHip": g["left_hip"], "LKnee": g["left_knee"], "LAnkle": g["left_ankle"],
           "Spine": (g["pelvis"] + g["neck"]) / 2, "Thorax": g["neck"], "Neck": g["head"],
           "Head": 2 * g["head"] - g["neck"], "LShoulder": g["left_shoulder"], "LElbow": g["left_elbow"],
           "LWrist": g["left_wrist"], "RShoulder": g["right_shoulder"], "RElbow": g["right_elbow"],
           "RWrist": g["right_wrist"]}
    return np.stack([out[j] for j in H36M17.joint_names], -2)


def test_fixture_is_a_python2_pickle(pw3d_root):
    root, _ = pw3d_root
    raw = (root / "test" / "flat_guitar_01.pkl").read_bytes()
    assert raw[:2] == b"\x80\x02" and b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"X\x08\x00\x00\x00sequence" not in raw and b"U\x08sequence" in raw   # 8-bit strings, not unicode
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(raw)  # Python 3's default ASCII decoding cannot read the array bytes: latin1 is required


def test_official_test_split_in_camera_frame(pw3d_root):
    root, truth = pw3d_root
    with pytest.warns(UserWarning, match="dropped"):
        ds = load(f"3dpw:{root}")
    assert ds.meta["split"] == "test" and ds.skeleton.name == "h36m17"
    assert ds.meta["sequence_names"] == ["downtown_walking_00/actor0", "downtown_walking_00/actor1",
                                         "flat_guitar_01/actor0"]
    tracks = [t for name in ("downtown_walking_00", "flat_guitar_01") for t in truth[name]]
    for i, t in enumerate(tracks):
        sel = ds.sequence == i
        np.testing.assert_allclose(ds.joints_3d[sel], _h36m_from_smpl(t["X_cam"][t["keep"]]), atol=1e-5)
        np.testing.assert_allclose(ds.joints_2d[sel], project(ds.joints_3d[sel], CAM).numpy(), atol=1e-3)
    assert ds.meta["dropped"] == {"campose_invalid": 4, "no_2d_detection": 4, "behind_camera": 0}
    assert ds.meta["dropped_per_track"]["flat_guitar_01/actor0"]["no_2d_detection"] == 2
    assert {tuple(s) for s in ds.image_size.tolist()} == {(1080, 1920)}
    np.testing.assert_allclose(ds.camera[0], CAM, rtol=1e-6)
    assert len(ds) == sum(t["keep"].sum() for t in tracks) == 9 * 2 + 7 - 8
    eval_names = [H36M17.joint_names[j] for j in PW3D_EVAL_JOINTS_H36M17]
    assert eval_names[-2:] == ["Thorax", "Head"]


def test_openpose_2d_uses_the_coco_rules(pw3d_root):
    root, truth = pw3d_root
    with pytest.warns(UserWarning):
        ds = load_3dpw(root / "test" / "flat_guitar_01.pkl", keypoints="poses2d", skeleton="h36m16")
    t = truth["flat_guitar_01"][0]
    det = t["poses2d"][t["keep"]].transpose(0, 2, 1)             # [n, 18, 3]
    g = {j: det[:, i] for i, j in enumerate(COCO18)}
    names = ds.skeleton.joint_names
    np.testing.assert_allclose(ds.joints_2d[:, names.index("RWrist")], g["right_wrist"][:, :2], atol=1e-3)
    np.testing.assert_allclose(ds.joints_2d[:, names.index("LHip")], g["left_hip"][:, :2], atol=1e-3)
    np.testing.assert_allclose(ds.joints_2d[:, names.index("Pelvis")],
                               (g["left_hip"][:, :2] + g["right_hip"][:, :2]) / 2, atol=1e-3)
    np.testing.assert_allclose(ds.confidence[:, names.index("Thorax")],
                               np.minimum(g["left_shoulder"][:, 2], g["right_shoulder"][:, 2]), atol=1e-6)
    assert ds.meta["split"] == "test" and ds.joints_3d.shape[1:] == (16, 3)


def test_splits_and_single_files(pw3d_root):
    root, truth = pw3d_root
    with pytest.warns(UserWarning):
        train = load_3dpw(root, split="train")
    assert train.meta["sequence_names"] == ["courtyard_basketball_00/actor0"] and len(train) == 4
    val = load_3dpw(root / "validation")                            # nothing dropped: no warning needed
    assert val.meta["split"] == "validation" and len(val) == 12 and val.meta["dropped"]["campose_invalid"] == 0
    with pytest.warns(UserWarning):
        everything = load_3dpw(root, split="all")
    assert len(everything) == len(train) + len(val) + 17
    with pytest.raises(ValueError, match="split: expected one of"):
        load_3dpw(root, split="val")
    with pytest.raises(ValueError, match="holds one split .validation."):
        load_3dpw(root / "validation", split="test")
    with pytest.raises(FileNotFoundError, match="no such 3DPW file or folder"):
        load_3dpw(root / "nope")


def test_image_size_from_principal_point(tmp_path):
    K = np.array([[1500.0, 0, 960.0], [0, 1500.0, 540.0], [0, 0, 1]])
    data, _ = _sequence("landscape_00", 3, 1, seed=9, K=K)
    write_py2_pickle(tmp_path / "landscape_00.pkl", data)
    assert {tuple(s) for s in load_3dpw(tmp_path / "landscape_00.pkl").image_size.tolist()} == {(1920, 1080)}
    data["cam_intrinsics"] = np.array([[1500.0, 0, 300.0], [0, 1500.0, 300.0], [0, 0, 1]])
    write_py2_pickle(tmp_path / "odd_00.pkl", data)
    with pytest.raises(ValueError, match="principal point .300, 300. fits neither"):
        load_3dpw(tmp_path / "odd_00.pkl")
    assert tuple(load_3dpw(tmp_path / "odd_00.pkl", image_size=(640, 640)).image_size[0]) == (640, 640)


def test_only_plain_data_is_unpickled(tmp_path):
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    (tmp_path / "evil.pkl").write_bytes(evil)
    with pytest.raises(ValueError, match="evil.pkl: not a readable 3DPW sequence pickle.*refused global os.system"):
        load_3dpw(tmp_path / "evil.pkl")
    data, _ = _sequence("broken_00", 3, 1, seed=4)
    del data["cam_poses"]
    write_py2_pickle(tmp_path / "broken_00.pkl", data)
    with pytest.raises(ValueError, match="missing field 'cam_poses'"):
        load_3dpw(tmp_path / "broken_00.pkl")
    data, _ = _sequence("short_00", 4, 1, seed=5)
    data["poses2d"][0] = data["poses2d"][0][:3]
    write_py2_pickle(tmp_path / "short_00.pkl", data)
    with pytest.raises(ValueError, match=r"poses2d\[0\]: expected a numeric array \[4, 3, 18\]"):
        load_3dpw(tmp_path / "short_00.pkl")


# -- the plain-array npz ---------------------------------------------------------------------------------------------
def _seq(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, (n, 17, 3)) + rng.uniform([-0.5, -0.2, 3], [0.5, 0.2, 6], (n, 1, 3))
    return X, project(X, CAM).numpy()


def test_eval_joint_list():
    j = PW3D_EVAL_JOINTS_H36M17
    assert len(j) == 14 == len(set(j))
    assert not {H36M17.joint("Pelvis"), H36M17.joint("Spine"), H36M17.joint("Neck")} & set(j)
    # LSP order: right leg, left leg (mirrored order), right arm, left arm, thorax, head
    names = [H36M17.joint_names[i] for i in j]
    assert names[:6] == ["RAnkle", "RKnee", "RHip", "LHip", "LKnee", "LAnkle"]
    perm = H36M17.flip_permutation
    assert [perm[i] for i in j[:3]] == list(j[5:2:-1])  # flipping maps the right leg onto the left leg


def test_npz_with_sequences_and_intrinsics(tmp_path):
    (X1, uv1), (X2, uv2) = _seq(5, 0), _seq(4, 1)
    np.savez(tmp_path / "pw.npz", positions_3d=np.concatenate([X1, X2]), positions_2d=np.concatenate([uv1, uv2]),
             sequence=np.repeat([0, 1], [5, 4]), intrinsics=K_PORTRAIT)
    ds = load_3dpw(tmp_path / "pw.npz")
    assert len(ds) == 9
    np.testing.assert_allclose(ds.camera, np.tile(CAM, (9, 1)), rtol=1e-6)
    assert {tuple(s) for s in ds.image_size.tolist()} == {(1080, 1920)}
    np.testing.assert_allclose(ds.subset(ds.sequence == 1).joints_3d, X2, atol=1e-6)


def test_npz_fitted_intrinsics(tmp_path):
    X, uv = _seq(8, 2)
    np.savez(tmp_path / "flat.npz", positions_3d=X, positions_2d=uv, image_size=np.array([1920, 1080]))
    ds = load_3dpw(tmp_path / "flat.npz", skeleton="h36m16")
    np.testing.assert_allclose(ds.camera[0], CAM, rtol=1e-6)
    assert ds.meta["fit_error_px"][0] < 1e-6
    assert ds.skeleton.name == "h36m16" and tuple(ds.image_size[0]) == (1920, 1080)


def test_npz_never_unpickles(tmp_path):
    X, uv = _seq(3, 3)
    np.savez(tmp_path / "dicts.npz", positions_3d={"a": X}, positions_2d={"a": uv})
    with pytest.raises(ValueError, match="dicts.npz: holds pickled objects.*plain arrays only"):
        load_3dpw(tmp_path / "dicts.npz")
    with pytest.raises(ValueError, match="keypoints/image_size: only for the official"):
        load_3dpw(tmp_path / "dicts.npz", keypoints="poses2d")


def test_corrupted_npz_files(tmp_path):
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
