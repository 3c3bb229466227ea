"""load_domains on real specs: predefined splits, split by sequence where a spec has none, caps, bad counts."""
import numpy as np
import pytest

from posefast.data import save_archive
from posefast.geometry import project
from posefast.data.domains import HELD_OUT_EVERY, load_domains


def _archive(path, n_seq=10, per_seq=30, seed=0):
    rng = np.random.default_rng(seed)
    n = n_seq * per_seq
    X = rng.normal(0, 0.3, (n, 17, 3)).astype(np.float32)
    X[..., 2] += 5.0
    cam = np.tile(np.float32([1145.0, 1144.0, 512.0, 515.0]), (n, 1))
    X[:, :, 0] += np.repeat(np.arange(n_seq), per_seq)[:, None].astype(np.float32)  # x offset = sequence id
    return save_archive(path, {
        "joints_3d": X, "joints_2d": project(X, cam).numpy().astype(np.float32), "camera": cam,
        "image_size": np.tile(np.int32([1000, 1002]), (n, 1)), "skeleton": "h36m17",
        "subject": np.ones(n, np.int64), "sequence": np.repeat(np.arange(n_seq), per_seq).astype(np.int64),
    })


def _sequence_ids(split):
    """The sequence ids present (each pose is shifted along x by its sequence id; its mean x is within ~0.3 m)."""
    return set(np.round(split["joints_3d"][..., 0].mean(-1).numpy()).astype(int).tolist())


def test_archive_source_is_split_by_sequence_and_capped(tmp_path):
    path = _archive(tmp_path / "src.npz")
    d = load_domains(str(path), "synthetic:3dhp", "h36m16", "cpu", n_source=0, n_target=64, n_test=60, seed=0)
    held = {HELD_OUT_EVERY - 1, 2 * HELD_OUT_EVERY - 1}  # sequences 4 and 9 of 0..9
    assert d.source_train["joints_3d"].shape[0] == 8 * 30 and d.source_test["joints_3d"].shape[0] == 2 * 30
    assert _sequence_ids(d.source_test) == held  # no motion in both splits
    assert _sequence_ids(d.source_train) == set(range(10)) - held
    capped = load_domains(str(path), "synthetic:3dhp", "h36m16", "cpu", n_source=100, n_target=64, n_test=16,
                          seed=0)
    assert capped.source_train["joints_3d"].shape[0] == 100 and capped.source_test["joints_3d"].shape[0] == 16
    again = load_domains(str(path), "synthetic:3dhp", "h36m16", "cpu", n_source=100, n_target=64, n_test=16,
                         seed=0)
    assert (again.source_train["joints_3d"] == capped.source_train["joints_3d"]).all()  # seeded


def test_target_file_without_splits_serves_both(tmp_path):
    path = _archive(tmp_path / "tgt.npz", n_seq=5)
    d = load_domains("synthetic:h36m", str(path), "h36m16", "cpu", n_source=64, n_target=0, n_test=30, seed=0)
    assert "joints_3d" not in d.target_train and d.target_test["joints_3d"].shape[0] == 30


def test_unlabelled_source_or_target_test_is_refused(tmp_path):
    """The domain pairing rules (moved here from the removed data/splits.py make_domains): a source must carry 3D,
    the target's 3D is for its test split only, and a target without 3D cannot be evaluated."""
    path = _archive(tmp_path / "a.npz", n_seq=5)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "joints_3d"}
    unlabelled = save_archive(tmp_path / "two_d.npz", arrays)
    with pytest.raises(ValueError, match="--source .*needs 3D labels"):
        load_domains(str(unlabelled), "synthetic:3dhp", "h36m17", "cpu", n_source=0, n_target=16, n_test=16, seed=0)
    with pytest.raises(ValueError, match="--target .*needs 3D labels"):
        load_domains("synthetic:h36m", str(unlabelled), "h36m17", "cpu", n_source=16, n_target=0, n_test=16, seed=0)
    d = load_domains(str(path), "synthetic:3dhp", "h36m17", "cpu", n_source=0, n_target=16, n_test=16, seed=0)
    assert "joints_3d" in d.source_train and "joints_3d" not in d.target_train and "joints_3d" in d.target_test


@pytest.mark.parametrize("kwargs,match", [
    ({"n_source": -1}, "n_source"), ({"n_test": 1.5}, "n_test"), ({"n_target": 0}, "synthetic spec needs"),
])
def test_bad_counts(kwargs, match):
    args = {"n_source": 64, "n_target": 64, "n_test": 16, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_domains("synthetic:h36m", "synthetic:3dhp", "h36m16", "cpu", seed=0, **args)


def test_cmu_source_domain(cmu_dir):
    d = load_domains(f"cmu:{cmu_dir}", "synthetic:3dhp", "h36m16", "cpu", n_source=2000, n_target=64, n_test=500,
                     seed=0)
    assert d.source_train["joints_3d"].shape == (2000, 16, 3) and d.source_test["joints_3d"].shape == (500, 16, 3)
    assert np.isfinite(d.source_train["joints_2d_norm"].numpy()).all()
    depth = d.source_train["joints_3d"][:, 0, 2]
    assert 2.0 < float(depth.median()) < 10.0  # people in front of the virtual rig's cameras


def _h36m_dir(d):
    """VideoPose3D-layout Human3.6M files for all seven subjects (one short action each)."""
    from test_data_h36m import _independent_pixels, _world32

    from posefast.data.pose3d.h36m import H36M32_TO_H36M17

    pos3d, pos2d = {}, {}
    for i, s in enumerate(("S1", "S5", "S6", "S7", "S8", "S9", "S11")):
        world = _world32(6, seed=i)
        pos3d[s] = {"Walking 1": world.astype(np.float32)}
        pos2d[s] = {"Walking 1": [_independent_pixels(world[:, list(H36M32_TO_H36M17)], s, v)[1].astype(np.float32)
                                  for v in range(4)]}
    np.savez_compressed(d / "data_3d_h36m.npz", positions_3d=pos3d)
    np.savez_compressed(d / "data_2d_h36m_gt.npz", positions_2d=pos2d,
                        metadata={"layout_name": "h36m", "num_joints": 17})
    return d


def test_h36m_source_and_3dhp_target_files(tmp_path):
    """The standard pairing from files: Human3.6M's subject split as the source (5 train subjects, 2 test; 4 views
    of 6 frames each), a PoseAug-layout 3DHP test file as both the unlabelled target (2D only) and its test set."""
    from test_data_mpi3dhp import _poseaug_file

    h36m_dir = _h36m_dir(tmp_path)

    target = tmp_path / "test_3dhp.npz"
    _poseaug_file(target, n_studio=2201, n_outdoor=728)  # the full test set: TS1-4 then TS5-6 (3DHP README)
    d = load_domains(f"h36m:{h36m_dir}", f"3dhp:{target}", "h36m16", "cpu", n_source=0, n_target=0, n_test=0,
                     seed=0)
    assert d.source_train["joints_3d"].shape[0] == 5 * 4 * 6 and d.source_test["joints_3d"].shape[0] == 2 * 4 * 6
    for split in (d.source_train, d.source_test):
        assert split["joints_3d"].shape[1:] == (16, 3) and np.isfinite(split["joints_2d_norm"].numpy()).all()
    assert "joints_3d" not in d.target_train
    assert d.target_train["joints_2d"].shape[0] == d.target_test["joints_3d"].shape[0] == 2929
    capped = load_domains(f"h36m:{h36m_dir}", f"3dhp:{target}", "h36m16", "cpu", n_source=10, n_target=5,
                          n_test=3, seed=0)
    assert capped.source_train["joints_3d"].shape[0] == 10 and capped.target_train["joints_2d"].shape[0] == 5
    assert capped.source_test["joints_3d"].shape[0] == 3 and capped.target_test["joints_3d"].shape[0] == 3
