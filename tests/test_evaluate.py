"""``python -m posefast.evaluate`` on every spec kind: on the data a run was trained against it scores the run's own
split (same caps and seed), so its numbers equal the run's metrics.json; any other file is scored whole."""
import json

import numpy as np
import pytest
from cli_testing import TINY, evaluate, read_json, train

from posefast.data import load


def _archive_spec(d):
    from test_methods_data import _archive

    return str(_archive(d / "poses.npz", n_seq=10, per_seq=40))


def _h36m_spec(d):
    from test_methods_data import _h36m_dir

    return f"h36m:{_h36m_dir(d)}"


def _3dhp_spec(d):
    from test_data_mpi3dhp import _poseaug_file

    _poseaug_file(d / "test_3dhp.npz", n_studio=2201, n_outdoor=728)  # the full test set: TS1-4, then TS5-6
    return f"3dhp:{d / 'test_3dhp.npz'}"


def _3dpw_spec(d):
    from test_data_pw3d import _seq

    X, uv = _seq(350, 0)  # the plain-array layout (intrinsics fitted), 1080 x 1920 portrait frames
    np.savez(d / "pw.npz", positions_3d=X, positions_2d=uv, image_size=np.array([1080, 1920]))
    return f"3dpw:{d / 'pw.npz'}"


SPECS = {"synthetic": lambda d: "synthetic:3dpw", "archive": _archive_spec, "h36m": _h36m_spec, "3dhp": _3dhp_spec,
         "3dpw": _3dpw_spec}


def _check_run_agrees(out, spec, role, capsys, extra=()):
    rc, stdout, err = evaluate(["--checkpoint", out / "checkpoint.pt", "--data", spec, "--json", out / "e.json",
                                *extra], capsys)
    assert rc == 0, err
    got, run = read_json(out / "e.json"), read_json(out / "metrics.json")[role]
    assert got["n"] == run["n"] and "the run's" in got["split"]
    for key in ("mpjpe", "p_mpjpe", "pck", "auc"):
        assert got[key] == pytest.approx(run[key], rel=1e-6, abs=1e-6), key
    np.testing.assert_allclose(got["per_joint"], run["per_joint"], rtol=1e-6, atol=1e-6)
    assert "MPJPE" in stdout and "per-joint" in stdout


@pytest.mark.parametrize("kind", list(SPECS))
def test_evaluate_agrees_with_the_run_on_every_spec_kind(kind, tmp_path, capsys):
    spec = SPECS[kind](tmp_path)
    out = tmp_path / "run"
    rc, _, err = train(["source-only", *TINY, "--epochs", "1", "--target", spec, "--set", "n_test=200",
                        "--out", out], capsys)
    assert rc == 0, err
    _check_run_agrees(out, spec, "target", capsys)
    _check_run_agrees(out, "synthetic:h36m", "source_test", capsys)


def test_evaluate_cmu_target(cmu_dir, tmp_path, capsys):
    spec, out = f"cmu:{cmu_dir}", tmp_path / "run"
    rc, _, err = train(["source-only", *TINY, "--epochs", "1", "--target", spec, "--set", "n_test=300",
                        "--out", out], capsys)
    assert rc == 0, err
    _check_run_agrees(out, spec, "target", capsys)


def test_evaluate_other_files_whole_and_flip(tmp_path, capsys):
    out = tmp_path / "run"
    rc, _, err = train(["source-only", *TINY, "--epochs", "1", "--out", out, "--flip-test"], capsys)
    assert rc == 0, err
    _check_run_agrees(out, "synthetic:3dhp", "target", capsys)  # the run's flip test is the default
    spec = _archive_spec(tmp_path)  # not part of the run: every pose of it
    rc, stdout, err = evaluate(["--checkpoint", out / "checkpoint.pt", "--data", spec, "--json", out / "a.json"],
                               capsys)
    assert rc == 0, err
    got = read_json(out / "a.json")
    assert got["n"] == len(load(spec)) == 400 and got["flip_test"] is True and f"{spec}, all of it" in stdout
    rc, _, err = evaluate(["--checkpoint", out / "checkpoint.pt", "--data", spec, "--split", "test", "--n", "30",
                           "--no-flip-test", "--json", out / "b.json"], capsys)
    assert rc == 0, err
    got = json.loads((out / "b.json").read_text())
    assert got["n"] == 30 and got["flip_test"] is False
