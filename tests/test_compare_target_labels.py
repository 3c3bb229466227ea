"""The ``target-labels`` reference row (the closable gap of a target, not an adaptation method): it reads the target's
3D labels from its training split only, its run is deterministic, a target without such labels is refused with
one line naming it, and the comparison lists it last, says it is a reference and gives each method's gain as a
share of its gain."""
import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_data_mpi3dhp import _test_set, _write_like_poseaug, _write_like_spin

from posefast.data.pose3d.mpi3dhp import MPI3DHP_TEST_VALID_FRAMES

TINY = {"n_source": 512, "n_target": 384, "n_test": 256, "batch_size": 128, "backbone_width": 64, "epochs": 1,
        "plots": False, "progress": False, "target": "synthetic:h36m+bodies"}


def _cfg(**changes):
    from posefast.cli.config import TrainConfig, apply_overrides

    cfg = TrainConfig()
    apply_overrides(cfg, {**TINY, **changes}, "test")
    return cfg


def _data(cfg):
    from posefast.data.domains import load_domains

    return load_domains(cfg.source, cfg.target, cfg.skeleton, "cpu", cfg.n_source, cfg.n_target, cfg.n_test, cfg.seed)


def test_target_labels_read_only_the_target_training_split(monkeypatch):
    from posefast.data import domains
    from posefast.data.spec import load
    from posefast.engine.distributed import DistContext
    from posefast.methods.registry import lifting_method

    cfg = _cfg()
    data = _data(cfg)
    calls = []
    real = domains.load_split

    def spy(spec, split, *args, **kwargs):
        calls.append((spec, split))
        return real(spec, split, *args, **kwargs)

    monkeypatch.setattr(domains, "load_split", spy)
    method = lifting_method("target-labels")(copy.deepcopy(cfg), data, DistContext())
    assert calls == [("synthetic:h36m+bodies", "train")]  # never the test split, never the source
    split = method.train_split(0)
    # the poses the methods see as the target's 2D, with their own 3D — not the test poses
    assert torch.equal(split["joints_2d_norm"], data.target_train["joints_2d_norm"])
    truth = load("synthetic:h36m+bodies", split="train", skeleton=cfg.skeleton, seed=cfg.seed, n=cfg.n_target)
    assert torch.equal(split["joints_3d"], torch.as_tensor(truth.joints_3d, dtype=split["joints_3d"].dtype))
    test_3d = data.target_test["joints_3d"]
    assert split["joints_3d"].shape[0] == cfg.n_target != test_3d.shape[0]
    assert not any(torch.equal(p, q) for p in split["joints_3d"][:50] for q in test_3d[:50])
    # the shared data record still has no target 3D for the adaptation methods
    assert "joints_3d" not in data.target_train
    x, y = method.training_pairs({k: v[:4] for k, v in split.items()}, 0)
    assert torch.equal(y, split["joints_3d"][:4] - split["joints_3d"][:4, :1])


def test_target_labels_refuse_data_of_another_draw():
    from posefast.engine.distributed import DistContext
    from posefast.methods.registry import lifting_method

    data = _data(_cfg())
    with pytest.raises(ValueError, match=r"--target 'synthetic:h36m\+bodies': the labelled training split does not"):
        lifting_method("target-labels")(_cfg(seed=1), data, DistContext())


def test_target_without_training_labels_is_refused(tmp_path):
    from posefast.data.domains import load_target_labels
    from posefast.data.spec import load

    with pytest.raises(ValueError, match=r"^--target '3dhp:/no/file\.npz': target 3D labels need a training split "
                                         r"apart from the test split"):
        load_target_labels("3dhp:/no/file.npz", "h36m16", "cpu", 100, 0)
    archive = tmp_path / "only2d.npz"
    load("synthetic:h36m", split="train", skeleton="h36m16", seed=0, n=200).without_3d().save(archive)
    with pytest.raises(ValueError, match=r"^--target '.*only2d\.npz': target 3D labels need joints_3d on the target's "
                                         r"training split, and it has none$"):
        load_target_labels(str(archive), "h36m16", "cpu", 0, 0)
    # through the command line, on a file in the release's format: one line, exit status 2, naming the target
    truth = _test_set({k: MPI3DHP_TEST_VALID_FRAMES[f"TS{k}"] for k in range(1, 7)}, seed=11)
    _write_like_spin(tmp_path / "mpi_inf_3dhp_valid.npz", truth)
    _write_like_poseaug(tmp_path / "mpi_inf_3dhp_valid.npz", tmp_path / "test_3dhp.npz")
    target = f"3dhp:{tmp_path / 'test_3dhp.npz'}"
    r = subprocess.run([sys.executable, "-m", "posefast.train", "target-labels", "--target", target, "--out",
                        str(tmp_path / "run"), "--set", "n_source=256", "--set", "n_target=256", "--set", "n_test=256",
                        "--no-plots", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1].startswith(f"error: --target '{target}': target 3D labels need a "
                                                        "training split apart from the test split"), r.stderr[-2000:]


def test_target_labels_run_is_deterministic(tmp_path):
    from posefast.cli.train import run_lifting

    pre = run_lifting(_cfg(out=str(tmp_path / "pre")), "source-only")
    assert pre["target"]["mpjpe"] > 0
    init = str(tmp_path / "pre" / "checkpoint.pt")
    runs = [run_lifting(_cfg(out=str(tmp_path / n), init=init, epochs=2), "target-labels") for n in ("a", "b")]
    assert runs[0]["target"] == runs[1]["target"] and runs[0]["method"] == "target-labels"
    lines = [(tmp_path / n / "metrics.jsonl").read_text() for n in ("a", "b")]
    assert lines[0] == lines[1]
    a, b = (torch.load(tmp_path / n / "checkpoint.pt", weights_only=False)["modules"]["lifter"] for n in ("a", "b"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # it trained on other pairs than source-only from the same start
    so = run_lifting(_cfg(out=str(tmp_path / "so"), init=init, epochs=2), "source-only")
    assert so["target"]["mpjpe"] != runs[0]["target"]["mpjpe"]


def test_closable_shares_by_hand():
    from posefast.evaluation.tables import closable_shares

    def gain(mean, effect):
        return {"mean": mean, "ci95": [mean - 1, mean + 1], "effect": effect}

    rows = {"source-only": {}, "gpa": {"vs_source_only": gain(2.0, "better")},
            "poseda": {"vs_source_only": gain(-1.0, "worse")}, "target-labels": {"vs_source_only": gain(8.0, "better")}}
    assert closable_shares(rows, "target-labels", "source-only") == {"gpa": 0.25, "poseda": -0.125}
    rows["target-labels"]["vs_source_only"] = gain(0.5, "no measurable effect")
    assert closable_shares(rows, "target-labels", "source-only") is None


def test_factors_default_adds_the_reference_row_unless_methods_are_given():
    from posefast.cli.train import build_parser, config_from_args

    def methods(*argv):
        return config_from_args(build_parser().parse_args(list(argv))).compare.methods

    assert methods("--factors") == ["source-only", "gpa", "poseda", "poseaug", "target-labels"]
    assert methods() == ["source-only", "gpa", "poseda", "poseaug"]  # the main job's cost is unchanged
    assert methods("--factors", "--set", "compare.methods=source-only,gpa") == ["source-only", "gpa"]


COMPARE = ["--set", "n_source=768", "--set", "n_target=512", "--set", "n_test=384", "--batch-size", "128",
           "--set", "backbone_width=64", "--set", "compare.pretrain_epochs=1", "--epochs", "1",
           "--set", "compare.bootstrap=50", "--seeds", "0,1", "--no-plots", "--quiet"]


def test_compare_lists_the_reference_last_and_says_what_it_is(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    r = subprocess.run([sys.executable, "-m", "posefast.train", "--out", str(tmp_path / "run"), "--jobs", "2",
                        "--target", "synthetic:h36m+position,synthetic:h36m+bodies",
                        "--set", "compare.methods=target-labels,gpa,source-only", *COMPARE],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    combined = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert combined["methods"] == ["source-only", "gpa", "target-labels"]
    table = (tmp_path / "run" / "summary.md").read_text()
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows == ["Source only", "GPA only", "Target 3D labels (upper bound, not adaptation)"]
    assert "a reference, not a method" in table
    shares = [line for line in table.splitlines() if line.startswith("- h36m+")]
    assert len(shares) == 2 and all("Target 3D labels" in line for line in shares)
    per = json.loads((tmp_path / "run" / "h36m+bodies" / "summary.json").read_text())
    ref = per["methods"]["target-labels"]
    gains = [per["methods"]["source-only"]["seeds"][s]["mpjpe"] - ref["seeds"][s]["mpjpe"] for s in ("0", "1")]
    assert ref["vs_source_only"]["mean"] == pytest.approx(np.mean(gains), abs=1e-3)
    assert "a reference, not a method" in (tmp_path / "run" / "h36m+bodies" / "summary.md").read_text()
