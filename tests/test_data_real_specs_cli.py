"""``python -m posefast.train --target 3dpw:<sequenceFiles>`` / ``--target 3dhp:<file>`` end to end on fixtures in
the datasets' release formats (3DPW's Python-2 pickles; PoseAug's test_3dhp.npz made from a SPIN-format file)."""
import json
import os
import subprocess
import sys

import pytest
from test_data_mpi3dhp import _test_set, _write_like_poseaug, _write_like_spin
from test_data_pw3d import _sequence, write_py2_pickle

from posefast.data import load
from posefast.data.pose3d.mpi3dhp import MPI3DHP_TEST_VALID_FRAMES


def _pw3d_target(tmp_path):
    root = tmp_path / "3DPW" / "sequenceFiles"
    for split, name, n, actors in (("test", "downtown_walking_00", 30, 2), ("test", "flat_guitar_01", 25, 1),
                                   ("train", "courtyard_a_00", 10, 1)):
        (root / split).mkdir(parents=True, exist_ok=True)
        data, _ = _sequence(name, n, actors, seed=n, invalid=(0, 3))
        write_py2_pickle(root / split / f"{name}.pkl", data)
    return f"3dpw:{root}", 2 * 28 + 23  # the test split, less its two campose_invalid frames per actor


def _3dhp_target(tmp_path):
    truth = _test_set({k: MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"] for k in range(1, 7)}, seed=11)
    _write_like_spin(tmp_path / "mpi_inf_3dhp_valid.npz", truth)
    _write_like_poseaug(tmp_path / "mpi_inf_3dhp_valid.npz", tmp_path / "test_3dhp.npz")
    return f"3dhp:{tmp_path / 'test_3dhp.npz'}", 2929


@pytest.mark.parametrize("make_target", [_pw3d_target, _3dhp_target], ids=["3dpw", "3dhp"])
def test_compare_runs_on_release_format_targets(tmp_path, make_target):
    target, n_frames = make_target(tmp_path)
    if target.startswith("3dpw"):
        with pytest.warns(UserWarning, match="dropped"):
            assert len(load(target, skeleton="h36m16")) == n_frames
    else:
        assert len(load(target, skeleton="h36m16")) == n_frames
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # the default method (compare: source-only, GPA, PoseDA, PoseAug); n_test also caps the target test split, so it
    # is set above the target's size to score every frame
    proc = subprocess.run([sys.executable, "-m", "posefast.train", "--target", target, "--out", str(out),
                           "--epochs", "1", "--set", "n_source=384", "--set", "n_target=256", "--set", "n_test=3000",
                           "--batch-size", "128", "--set", "backbone_width=64", "--set", "compare.pretrain_epochs=1",
                           "--seeds", "0", "--set", "compare.bootstrap=20", "--no-plots", "--quiet"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == target and set(summary["methods"]) == {"source-only", "gpa", "poseda", "poseaug"}
    for method in summary["methods"]:
        metrics = json.loads((out / "seed0" / method / "metrics.json").read_text())
        assert metrics["target"]["n"] == n_frames
        assert all(summary["methods"][method][k] == summary["methods"][method][k]  # no NaN metric
                   for k in ("mpjpe", "p_mpjpe", "pck", "auc"))
    assert summary["class_groups"] == {}  # real targets carry no synthetic pose classes
    if target.startswith("3dpw"):
        assert "dropped {'campose_invalid': 6" in proc.stderr  # what the loader left out is reported

