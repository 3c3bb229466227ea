"""Every backbone trains from the CLI with every lifting method at its own default width, and evaluate and lift
load each backbone's checkpoint."""
import numpy as np
import pytest
from cli_testing import TINY, call, evaluate, read_json, train

from posefast.cli.lift import main as lift_main
from posefast.models.lifting import LIFTERS, lifter_width_kwargs

METHODS = ("source-only", "poseaug", "poseda", "gpa", "lpa")
SMALL = [a for a in TINY] + ["--set", "n_source=256", "--set", "n_target=256", "--set", "n_test=128",
                             "--batch-size", "64", "--set", "poseda.lpa_batch_size=64"]


@pytest.mark.parametrize("backbone", sorted(LIFTERS))
def test_every_backbone_with_every_method(backbone, tmp_path, capsys):
    for method in METHODS:
        rc, out, err = train([method, "--backbone", backbone, *SMALL, "--out", tmp_path / method], capsys)
        assert rc == 0, f"{method}: {err}"
        metrics = read_json(tmp_path / method / "metrics.json")
        assert metrics["method"] == method and np.isfinite(metrics["target"]["mpjpe"]), method
    ckpt = tmp_path / "poseaug" / "checkpoint.pt"
    rc, _, err = evaluate(["--checkpoint", ckpt, "--data", "synthetic:3dhp", "--json", tmp_path / "e.json"], capsys)
    assert rc == 0, err
    assert read_json(tmp_path / "e.json")["mpjpe"] == pytest.approx(read_json(tmp_path / "poseaug" / "metrics.json")
                                                                   ["target"]["mpjpe"], rel=1e-6)
    np.savez(tmp_path / "in.npz", joints_2d=np.random.default_rng(0).uniform(200, 800, (5, 16, 2)),
             image_size=np.array([1000, 1000]))
    rc, _, err = call(lift_main, ["--checkpoint", ckpt, "--input", tmp_path / "in.npz", "--out", tmp_path / "o.npz"],
                      capsys)
    assert rc == 0, err
    assert np.load(tmp_path / "o.npz")["joints_3d"].shape == (5, 16, 3)


def test_widths():
    assert lifter_width_kwargs("simple", -1) == {"width": 512} and lifter_width_kwargs("simple", 0) == {}
    assert lifter_width_kwargs("videopose", -1) == {"channels": 512}
    assert lifter_width_kwargs("videopose", 256) == {"channels": 256}
    assert lifter_width_kwargs("semgcn", -1) == {"hidden": 128} and lifter_width_kwargs("semgcn", 64) == {"hidden": 64}
    assert lifter_width_kwargs("stgcn", -1) == {} == lifter_width_kwargs("stgcn", 0)
    with pytest.raises(ValueError, match="stgcn backbone has no width"):
        lifter_width_kwargs("stgcn", 128)
    with pytest.raises(ValueError, match="backbone_width: expected -1"):
        lifter_width_kwargs("simple", -2)
