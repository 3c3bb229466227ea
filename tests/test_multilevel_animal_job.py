"""The animal task of the 2D job through the CLI: ``python -m posefast.train multilevel --task animal`` on the one
job runner (tiny sizes), its per-group table, ``posefast.evaluate`` on its stage checkpoints reproducing the run's
numbers, and the flags' one-line errors."""
import json

import pytest
from cli_testing import evaluate, one_error_line, train

pytest.importorskip("mujoco")

from posefast.skeleton import TIGDOG18  # noqa: E402

TINY_ANIMAL = ["--set", "multilevel.image_size=32", "--set", "animal.n_source=8", "--set", "animal.n_target=8",
               "--set", "animal.n_test=6", "--set", "multilevel.pretrain_epochs=1", "--epochs", "1", "--batch-size",
               "4", "--set", "multilevel.deconv_channels=8", "--set", "multilevel.adain_steps=2", "--set",
               "multilevel.adain_size=16", "--set", "compare.bootstrap=20", "--jobs", "1", "--quiet", "--no-plots"]


# the renders and networks are sized for one thread (their bits depend on the thread count)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_animal_task_runs_reports_groups_and_evaluates_the_same(tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, err = train(["multilevel", "--task", "animal", "--out", out, "--seeds", "0", *TINY_ANIMAL], capsys)
    assert rc == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "animal" and summary["skeleton"] == "tigdog18"
    assert summary["source"] == "synthetic-animal:dog" and summary["n_target_test"] == 6
    assert set(summary["per_group"]) == set(TIGDOG18.keypoint_groups)
    assert set(summary["per_group"]["hoof"]) == set(summary["methods"])
    assert "PCK@0.05 per keypoint group (tigdog18)" in (out / "summary.md").read_text()
    # the stage checkpoint scored on the run's own target test split gives the run's number
    metrics = json.loads((out / "seed0" / "multilevel" / "metrics.json").read_text())
    rc, stdout, err = evaluate(["--checkpoint", out / "seed0" / "multilevel" / "checkpoint.pt", "--data",
                                "synthetic-animal:dog-real", "--json", tmp_path / "e.json"], capsys)
    assert rc == 0, err
    scored = json.loads((tmp_path / "e.json").read_text())
    assert scored["pck"] == pytest.approx(metrics["target"]["pck"], abs=1e-9)
    assert scored["split"] == "the run's target test split" and set(scored["per_group"]) == set(
        TIGDOG18.keypoint_groups)


def test_task_flags_fail_in_one_line(tmp_path, capsys):
    rc, _, err = train(["poseaug", "--task", "animal", "--out", tmp_path / "a"], capsys)
    assert rc == 2 and "--task/--keypoint-map: for the 2D job" in one_error_line(err)
    rc, _, err = train(["multilevel", "--task", "animal", "--target", "lsp:/x", "--out", tmp_path / "b",
                        *TINY_ANIMAL], capsys)
    assert rc == 2 and "animal.target: expected synthetic-animal" in one_error_line(err)
    rc, _, err = train(["multilevel", "--task", "animal", "--out", tmp_path / "c", *TINY_ANIMAL,
                        "--set", "animal.n_source=2"], capsys)
    assert rc == 2 and "animal.n_source: expected at least batch_size=4" in one_error_line(err)
    with pytest.raises(SystemExit):  # argparse: an unknown task is a usage error (exit status 2)
        train(["multilevel", "--task", "cat", "--out", tmp_path / "d"], capsys)
