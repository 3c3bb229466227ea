"""Pose archive format: round trips, validation of every key, PoseDataset behaviour."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posefast.data import ArchiveError, PoseDataset, load_archive, save_archive
from posefast.geometry import normalize_screen, project


def _arrays(n=5, J=17, seed=0, cam9=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, (n, J, 3)).astype(np.float32)
    X[..., 2] += 5.0
    cam = np.tile(np.array([1145.0, 1144.0, 512.0, 515.0], np.float32), (n, 1))
    if cam9:
        cam = np.concatenate([cam, np.tile(np.float32([-0.2, 0.24, -0.003, -0.001, -0.0014]), (n, 1))], 1)
    return {
        "joints_3d": X,
        "joints_2d": project(X, cam).numpy().astype(np.float32),
        "camera": cam,
        "image_size": np.tile(np.int32([1000, 1002]), (n, 1)),
        "skeleton": "h36m17",
        "confidence": rng.uniform(0, 1, (n, J)).astype(np.float32),
        "subject": np.arange(n, dtype=np.int64) % 2 + 1,
        "sequence": np.arange(n, dtype=np.int32),
        "view": np.zeros(n, np.int64),
    }


def test_round_trip_all_keys(tmp_path):
    a = _arrays(cam9=True)
    path = save_archive(tmp_path / "a.npz", a)
    b = load_archive(path)
    assert set(b) == set(a)
    assert b["skeleton"] == "h36m17"
    for k in a:
        if k != "skeleton":
            np.testing.assert_array_equal(b[k], a[k])


def test_save_appends_suffix_and_minimal_keys(tmp_path):
    a = _arrays()
    minimal = {k: a[k] for k in ("joints_2d", "camera", "image_size", "skeleton")}
    path = save_archive(tmp_path / "minimal", minimal)
    assert path.name == "minimal.npz"
    b = load_archive(path)
    assert set(b) == set(minimal)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), j16=st.booleans(), seed=st.integers(0, 1000))
def test_round_trip_property(tmp_path_factory, n, j16, seed):
    a = _arrays(n=n, J=16 if j16 else 17, seed=seed)
    a["skeleton"] = "h36m16" if j16 else "h36m17"
    path = save_archive(tmp_path_factory.mktemp("rt") / "x.npz", a)
    b = load_archive(path)
    for k in a:
        if k != "skeleton":
            np.testing.assert_array_equal(b[k], a[k])


CORRUPTIONS = {
    "joints_3d": lambda a: a.update(joints_3d=a["joints_3d"].astype(np.float64)),
    "joints_2d": lambda a: a.update(joints_2d=a["joints_2d"][:, :16]),
    "camera": lambda a: a["camera"].__setitem__((2, 1), np.nan),
    "image_size": lambda a: a.update(image_size=a["image_size"][:3]),
    "confidence": lambda a: a["confidence"].__setitem__((0, 0), 1.5),
    "subject": lambda a: a.update(subject=a["subject"].astype(np.float32)),
    "skeleton": lambda a: a.update(skeleton="coco17"),
}


@pytest.mark.parametrize("key", sorted(CORRUPTIONS))
def test_corrupted_key_names_file_and_key(tmp_path, key):
    a = _arrays()
    CORRUPTIONS[key](a)
    path = tmp_path / f"bad_{key}.npz"
    np.savez(path, **{k: (np.asarray(v) if k == "skeleton" else v) for k, v in a.items()})
    with pytest.raises(ArchiveError) as e:
        load_archive(path)
    assert str(path) in str(e.value) and repr(key) in str(e.value)


def test_nan_in_joints_is_rejected_with_index(tmp_path):
    a = _arrays()
    a["joints_3d"][3, 4, 2] = np.inf
    path = tmp_path / "inf.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in a.items()})
    with pytest.raises(ArchiveError, match=r"joints_3d.*\(3, 4, 2\)"):
        load_archive(path)


def test_missing_unknown_and_pickled(tmp_path):
    a = _arrays()
    no_cam = {k: np.asarray(v) for k, v in a.items() if k != "camera"}
    np.savez(tmp_path / "nocam.npz", **no_cam)
    with pytest.raises(ArchiveError, match="missing key 'camera'"):
        load_archive(tmp_path / "nocam.npz")
    extra = {k: np.asarray(v) for k, v in a.items()}
    extra["jonts_3d"] = a["joints_3d"]
    np.savez(tmp_path / "extra.npz", **extra)
    with pytest.raises(ArchiveError, match="unknown key"):
        load_archive(tmp_path / "extra.npz")
    pickled = {k: np.asarray(v) for k, v in a.items()}
    pickled["subject"] = np.array([{"a": 1}] * 5, dtype=object)
    np.savez(tmp_path / "pickled.npz", **pickled)
    with pytest.raises(ArchiveError, match="pickled"):
        load_archive(tmp_path / "pickled.npz")
    (tmp_path / "garbage.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ArchiveError, match="garbage.npz"):
        load_archive(tmp_path / "garbage.npz")
    with pytest.raises(FileNotFoundError):
        load_archive(tmp_path / "absent.npz")


def test_needs_some_joints_and_positive_focal():
    a = _arrays()
    with pytest.raises(ArchiveError, match="at least one"):
        save_archive("/nonexistent/x.npz", {k: a[k] for k in ("camera", "image_size", "skeleton")})
    a["camera"][1, 0] = -3
    with pytest.raises(ArchiveError, match="non-positive focal"):
        save_archive("/nonexistent/x.npz", a)


def test_dataset_projects_missing_2d_and_round_trips(tmp_path):
    a = _arrays(cam9=True)
    ds = PoseDataset(joints_3d=a["joints_3d"], camera=a["camera"], image_size=a["image_size"], skeleton="h36m17")
    np.testing.assert_allclose(ds.joints_2d, project(a["joints_3d"], a["camera"]).numpy(), atol=1e-3)
    assert "projected" in ds.meta["joints_2d"]
    path = ds.save(tmp_path / "ds.npz")
    back = PoseDataset.load(path)
    for k, v in ds.as_arrays().items():
        if k != "skeleton":
            np.testing.assert_array_equal(back.as_arrays()[k], v)
    w, h = ds.image_size[:, 0], ds.image_size[:, 1]
    np.testing.assert_allclose(ds.normalized_2d(), normalize_screen(ds.joints_2d, w, h).numpy(), atol=1e-6)


def test_dataset_subset_subjects_skeleton_concat():
    a = _arrays(n=6)
    ds = PoseDataset.from_arrays(a)
    assert len(ds.subset(np.array([0, 2]))) == 2
    assert len(ds.subset(ds.subject == 1)) == 3
    with pytest.raises(ValueError, match="empty"):
        ds.subset(np.zeros(6, bool))
    with pytest.raises(IndexError):
        ds.subset(np.array([6]))
    with pytest.raises(ValueError, match="bool mask"):
        ds.subset(np.ones(5, bool))
    assert set(ds.select_subjects([2]).subject) == {2}
    with pytest.raises(ValueError, match="no sample of subjects"):
        ds.select_subjects([7])
    ds16 = ds.to_skeleton("h36m16")
    assert ds16.joints_3d.shape == (6, 16, 3) and ds16.skeleton.name == "h36m16"
    back = ds16.to_skeleton("h36m17")
    keep = [j for j in range(17) if j != 9]
    np.testing.assert_array_equal(back.joints_3d[:, keep], ds.joints_3d[:, keep])
    unl = ds.without_3d()
    assert not unl.has_3d and unl.joints_2d is not None
    both = PoseDataset.concat([ds, ds])
    assert len(both) == 12
    with pytest.raises(ValueError, match="differing keys"):
        PoseDataset.concat([ds, unl])


def test_dataset_rejects_bad_input():
    a = _arrays()
    with pytest.raises(ArchiveError, match="joints_3d"):
        PoseDataset(joints_3d=a["joints_3d"][:, :16], camera=a["camera"], image_size=a["image_size"])
    with pytest.raises(TypeError, match="image_size"):
        PoseDataset(joints_3d=a["joints_3d"], camera=a["camera"], image_size=a["image_size"].astype(float))
    bad = a["joints_2d"].copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ArchiveError, match="non-finite"):
        PoseDataset(joints_2d=bad, camera=a["camera"], image_size=a["image_size"])
