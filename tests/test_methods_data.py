"""load_domains on real specs: predefined splits, split by sequence where a spec has none, caps, bad counts."""
import numpy as np
import pytest

from posefast.data import save_archive
from posefast.data.cameras import project
from posefast.methods.data import HELD_OUT_EVERY, load_domains


def _archive(path, n_seq=10, per_seq=30, seed=0):
    rng = np.random.default_rng(seed)
    n = n_seq * per_seq
    X = rng.normal(0, 0.3, (n, 17, 3)).astype(np.float32)
    X[..., 2] += 5.0
    cam = np.tile(np.float32([1145.0, 1144.0, 512.0, 515.0]), (n, 1))
    X[:, :, 0] += np.repeat(np.arange(n_seq), per_seq)[:, None].astype(np.float32)  # x offset = sequence id
    return save_archive(path, {
        "joints_3d": X, "joints_2d": project(X, cam).astype(np.float32), "camera": cam,
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
