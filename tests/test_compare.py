"""The comparison protocol: statistics on hand-made examples, the staged pretrain → adapt scheduler, ``--init``
checks, and the main job end to end (summary schema, intervals, per-class groups, same numbers in 1 or 2 processes)."""
import copy
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from posefast.engine.jobs import parse_seeds, plan_workers, run_staged
from posefast.evaluation.stats import mean_of, mean_std, paired_difference, pck_of_hits, t_quantile_975


# -- statistics -----------------------------------------------------------------------------------------------------
def test_t_quantiles_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    for df in [*range(1, 41), 60, 120, 1000]:
        assert t_quantile_975(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=2e-4), df
    with pytest.raises(ValueError, match="df"):
        t_quantile_975(0)


def _records(values_by_seed):
    return {s: {"mpjpe": np.asarray(v, dtype=np.float64)} for s, v in values_by_seed.items()}


def test_paired_difference_t_interval_by_hand():
    rng = np.random.default_rng(0)
    base_vals = {s: rng.uniform(50, 150, 400) for s in (0, 1, 2)}
    shift = {0: 1.0, 1: -1.0, 2: 0.5}  # the method's MPJPE is lower by this much at each seed
    base = _records(base_vals)
    other = _records({s: base_vals[s] - shift[s] for s in base_vals})
    d = paired_difference(base, other, mean_of("mpjpe"), higher_is_better=False, n_boot=200)
    deltas = np.array([1.0, -1.0, 0.5])
    half = 4.302653 * deltas.std(ddof=1) / math.sqrt(3)
    assert d["mean"] == pytest.approx(deltas.mean())
    assert d["per_seed"] == {k: pytest.approx(v) for k, v in {"0": 1.0, "1": -1.0, "2": 0.5}.items()}
    assert d["ci95"] == pytest.approx([deltas.mean() - half, deltas.mean() + half], abs=1e-3)
    assert d["ci95_kind"] == "t over seeds"
    assert d["effect"] == "no measurable effect"  # the interval holds 0
    # Paired resampling: a per-seed constant shift is resampled as exactly that shift, however noisy the poses.
    assert d["ci95_test"] == pytest.approx([deltas.mean(), deltas.mean()])


def test_paired_difference_effect_signs_and_one_seed():
    rng = np.random.default_rng(1)
    vals = {s: rng.uniform(50, 150, 300) for s in (0, 1, 2)}
    better = paired_difference(_records(vals), _records({s: v - 10 + 0.1 * s for s, v in vals.items()}),
                               mean_of("mpjpe"), False, n_boot=100)
    assert better["effect"] == "better" and better["ci95"][0] > 0
    worse = paired_difference(_records(vals), _records({s: v + 10 for s, v in vals.items()}), mean_of("mpjpe"),
                              False, n_boot=100)
    assert worse["effect"] == "worse" and worse["ci95"][1] < 0 and worse["mean"] == pytest.approx(-10)
    # higher is better (PCK): a higher value is a positive gain
    pck = paired_difference(_records(vals), _records({s: v + 3 for s, v in vals.items()}), mean_of("mpjpe"), True,
                            n_boot=100)
    assert pck["mean"] == pytest.approx(3) and pck["effect"] == "better"
    # One seed: no spread over seeds; the interval is the test-sampling bootstrap, and it says so.
    noisy = {0: rng.uniform(50, 150, 500)}
    one = paired_difference(_records(noisy), _records({0: noisy[0] + rng.normal(0, 20, 500)}), mean_of("mpjpe"),
                            False, n_boot=500)
    assert one["ci95_kind"] == "test bootstrap (one seed)" and one["ci95"] == one["ci95_test"]
    assert one["ci95"][0] < one["mean"] < one["ci95"][1]
    # unpaired noise of sd 20 on 500 poses: the test interval is about ±2 * 20 / sqrt(500) = ±1.8 mm wide
    assert 2.0 < one["ci95"][1] - one["ci95"][0] < 5.0


def test_paired_difference_refuses_unpaired_records():
    a = _records({0: [1.0, 2.0], 1: [1.0, 2.0]})
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference(a, _records({0: [1.0, 2.0]}), mean_of("mpjpe"), False)
    with pytest.raises(ValueError, match="same non-empty test set"):
        paired_difference(a, _records({0: [1.0, 2.0], 1: [1.0]}), mean_of("mpjpe"), False)


def test_pck_of_hits_averages_keypoints_over_their_visible_instances():
    hits = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    visible = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 0], [0, 1, 0]], dtype=bool)
    # keypoint 0: 2 of 3 visible, keypoint 1: 2 of 4, keypoint 2 never visible (left out)
    assert pck_of_hits({"hits": hits, "visible": visible}) == pytest.approx(100 * (2 / 3 + 2 / 4) / 2)
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2)))
    assert mean_std([5.0]) == (5.0, 0.0)


# -- the staged scheduler -------------------------------------------------------------------------------------------
def _toy_pretrain(folder, seed):
    torch.manual_seed(seed)
    value = float(torch.randn(()).item())
    (folder / f"pre{seed}").write_text(repr(value))
    return {"value": value}


def _toy_adapt(folder, seed, variant):
    pre = folder / f"pre{seed}"
    assert pre.exists(), "adapt ran before its seed's pretraining"
    return {"value": float(pre.read_text()) + len(variant), "threads": torch.get_num_threads()}


def test_run_staged_same_results_in_one_or_two_processes(tmp_path):
    from functools import partial

    results = {}
    for jobs in (1, 2):
        folder = tmp_path / f"jobs{jobs}"
        folder.mkdir()
        done = []
        results[jobs] = run_staged(partial(_toy_pretrain, folder), partial(_toy_adapt, folder), [3, 0, 5],
                                   ["a", "bb"], jobs=jobs, threads=1, on_done=lambda *a: done.append(a[:3]))
        assert sorted(done) == sorted([("pretrain", s, None) for s in (3, 0, 5)] +
                                      [("adapt", s, v) for s in (3, 0, 5) for v in ("a", "bb")])
    assert results[1] == results[2]
    assert list(results[2]) == [3, 0, 5] and list(results[2][3]) == ["pretrain", "a", "bb"]
    assert results[2][0]["a"]["threads"] == 1


def test_seeds_and_workers_are_checked():
    assert parse_seeds("0, 1,2") == [0, 1, 2] and parse_seeds(7) == [7]
    for bad in ("", "0,0", "a,1", "-1", "1.5"):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)
    assert plan_workers(0, 3, threads=2) == (2, 1)
    assert plan_workers(0, 1, threads=2) == (1, 2)
    assert plan_workers(1, 3, threads=4) == (1, 4)
    with pytest.raises(ValueError, match="jobs"):
        plan_workers(-1, 3)


# -- --init -------------------------------------------------------------------------------------------------------
TINY = {"n_source": 512, "n_target": 512, "n_test": 256, "batch_size": 128, "backbone_width": 64, "epochs": 1,
        "plots": False, "progress": False}


def _cfg(**changes):
    from posefast.cli.config import TrainConfig, apply_overrides

    cfg = TrainConfig()
    apply_overrides(cfg, {**TINY, **changes}, "test")
    return cfg


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    from posefast.cli.train import run_lifting

    out = tmp_path_factory.mktemp("pre") / "run"
    run_lifting(_cfg(out=str(out)), "source-only")
    return out / "checkpoint.pt"


def test_init_starts_every_method_from_the_checkpoints_lifter(pretrained, tmp_path):
    from posefast.data.domains import load_domains
    from posefast.methods import lifting_method
    from posefast.engine.distributed import DistContext
    from posefast.engine.trainer import Trainer

    state = torch.load(pretrained, weights_only=False)
    assert state["lifter_spec"]["arguments"] == {"width": 64}
    cfg = _cfg(init=str(pretrained), epochs=1)
    data = load_domains(cfg.source, cfg.target, cfg.skeleton, "cpu", cfg.n_source, cfg.n_target, cfg.n_test, 0)
    for name in ("source-only", "poseaug", "gpa"):
        method = lifting_method(name)(copy.deepcopy(cfg), data, DistContext())
        trainer = Trainer(method.cfg, method, tmp_path / name)
        trainer.start_from_init()
        for k, v in method.eval_lifter.state_dict().items():
            assert torch.equal(v, state["modules"]["lifter"][k]), (name, k)


def test_init_refuses_another_lifter_or_a_missing_file(pretrained, tmp_path):
    from posefast.cli.train import run_lifting

    with pytest.raises(ValueError, match=r"--init: .*arguments \{'width': 64\} \(this run: \{'width': 128\}\)"):
        run_lifting(_cfg(init=str(pretrained), backbone_width=128, out=str(tmp_path / "w")), "poseaug")
    with pytest.raises(ValueError, match=r"--init: .*skeleton 'h36m16' \(this run: 'h36m17'\)"):
        run_lifting(_cfg(init=str(pretrained), skeleton="h36m17", out=str(tmp_path / "s")), "gpa")
    with pytest.raises(FileNotFoundError, match="--init: no checkpoint"):
        run_lifting(_cfg(init=str(tmp_path / "nothing.pt"), out=str(tmp_path / "m")), "gpa")
    torch.save({"epoch": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a lifting run's checkpoint"):
        run_lifting(_cfg(init=str(tmp_path / "other.pt"), out=str(tmp_path / "o")), "gpa")


def test_init_changes_the_result_and_resume_keeps_the_runs_own_lifter(pretrained, tmp_path):
    from posefast.cli.train import run_lifting

    scratch = run_lifting(_cfg(out=str(tmp_path / "scratch")), "source-only")
    adapted = run_lifting(_cfg(init=str(pretrained), out=str(tmp_path / "adapted")), "source-only")
    assert adapted["init"] == str(pretrained) and scratch["init"] is None
    assert adapted["target"]["mpjpe"] != scratch["target"]["mpjpe"]
    # resuming the finished adapted run re-reports it; --init does not overwrite the run's own lifter
    again = run_lifting(_cfg(init=str(pretrained), out=str(tmp_path / "adapted"), resume=True), "source-only")
    assert again["target"] == adapted["target"]


# -- the main job ---------------------------------------------------------------------------------------------------
COMPARE = ["--set", "n_source=768", "--set", "n_target=512", "--set", "n_test=384", "--batch-size", "128",
           "--set", "backbone_width=64", "--set", "compare.pretrain_epochs=1", "--epochs", "1",
           "--set", "compare.bootstrap=50", "--set", "poseda.lpa_epochs=1", "--seeds", "0,1", "--no-plots", "--quiet"]


def _compare(out, jobs, threads):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.run([sys.executable, "-m", "posefast.train", "--out", str(out), "--jobs", str(jobs), *COMPARE],
                          capture_output=True, text=True, env=env, cwd=out.parent, timeout=900)


def test_compare_summary_schema_and_same_numbers_in_one_or_two_processes(tmp_path):
    one = _compare(tmp_path / "one", jobs=1, threads=1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _compare(tmp_path / "two", jobs=2, threads=2)  # two workers with one thread each
    assert two.returncode == 0, two.stderr[-3000:]
    a = json.loads((tmp_path / "one" / "summary.json").read_text())
    b = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert b["jobs"] == 2 and b["threads_per_job"] == 1
    assert a["methods"] == b["methods"]  # every seed's numbers bit-identical, whatever the schedule

    methods = a["methods"]
    assert list(methods) == ["source-only", "gpa", "poseda", "poseaug"] and a["seeds"] == [0, 1]
    for name, row in methods.items():
        for key in ("mpjpe", "p_mpjpe", "pck", "auc"):
            per_seed = [row["seeds"][s][key] for s in ("0", "1")]
            assert row[key] == pytest.approx(np.mean(per_seed)) and row["std"][key] == pytest.approx(
                np.std(per_seed, ddof=1))
            # metrics.json of each stage holds the same number
            stage = json.loads((tmp_path / "one" / "seed0" / name / "metrics.json").read_text())
            assert stage["target"][key] == row["seeds"]["0"][key] and stage["init"].endswith("pretrain/checkpoint.pt")
        if name != "source-only":
            d = row["vs_source_only"]
            gains = [methods["source-only"]["seeds"][s]["mpjpe"] - row["seeds"][s]["mpjpe"] for s in ("0", "1")]
            assert d["mean"] == pytest.approx(np.mean(gains), abs=1e-3)
            assert d["ci95"][0] <= d["mean"] <= d["ci95"][1] and d["ci95_kind"] == "t over seeds"
            assert d["effect"] in ("better", "worse", "no measurable effect")
        assert len(row["per_class"]) == 12
    seen, novel = a["class_groups"]
    assert seen == "in source repertoire (bend, gesture, sit_chair, stand, walk)"
    assert novel.startswith("not in source repertoire (crouch, exercise,")
    assert a["class_groups"][seen]["n"] + a["class_groups"][novel]["n"] == 384
    assert "vs_gpa" in a["class_groups"][seen]["methods"]["poseda"]
    assert len(a["classes"]) == 12 and abs(sum(c["n"] for c in a["classes"].values()) - 384) <= 12
    for name, c in a["classes"].items():  # per-class means over seeds agree with the stages' per_class numbers
        assert c["methods"]["gpa"]["mpjpe"] == pytest.approx(methods["gpa"]["per_class"][name], rel=1e-6)
    assert sum(g["n"] for g in a["view_groups"].values()) <= 384 and len(a["view_groups"]) >= 3
    for group in a["view_groups"].values():
        d = group["methods"]["poseaug"]["vs_source_only"]
        assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert a["epochs"] == 1 and a["lr"] == 1e-4 and a["pretrain_lr"] == 1e-3
    assert len(a["pretrain_curves"]["0"]["source_test_mpjpe"]) == 1
    table = (tmp_path / "one" / "summary.md").read_text()
    assert "| Source only |" in table and "95 % CI" in table and "by pose class (" in table
    assert "view elevation" in table
    assert (tmp_path / "one" / "seed1" / "pretrain" / "checkpoint.pt").exists()  # kept for adapting again


def test_view_elevation_is_the_body_axis_toward_the_camera():
    from posefast import H36M16
    from posefast.evaluation.lifting import view_elevation_deg
    from posefast.evaluation.comparison import VIEW_BINS, view_groups

    thorax = H36M16.joint("Thorax")
    poses = torch.zeros(3, 16, 3, dtype=torch.float64)
    poses[:, 0] = torch.tensor([0.0, 0.0, 5.0])
    poses[0, thorax] = torch.tensor([0.0, -0.5, 5.0])  # upright in front of a level camera
    poses[1, thorax] = torch.tensor([0.0, -0.5, 5.0 - 0.5])  # top 45° nearer the camera: seen from above
    poses[2, thorax] = torch.tensor([0.0, -0.5 * 3 ** 0.5, 5.5])  # top 30° farther: seen from below
    got = view_elevation_deg(poses, H36M16)
    np.testing.assert_allclose(got, [0.0, 45.0, -30.0], atol=1e-9)
    groups = view_groups({"view_elevation_deg": got})
    assert len(groups) == len(VIEW_BINS) and sum(int(m.sum()) for m in groups.values()) == 3
    assert groups["+35° to +90°"].tolist() == [False, True, False]


# -- several targets -------------------------------------------------------------------------------------------------
def test_pretraining_does_not_depend_on_the_target(tmp_path):
    """The shared pretraining of a several-target run is exactly each single-target run's: same weights, same
    source-test curve, whatever target it scores per epoch."""
    from posefast.cli.compare import LiftingComparison

    states = {}
    for target in ("synthetic:3dhp", "synthetic:h36m+classes"):
        cfg = _cfg(target=target, device="cpu")
        cfg.compare.pretrain_epochs = 2
        cfg.out = str(tmp_path / target.replace(":", "_"))
        LiftingComparison(cfg).pretrain(0)
        folder = tmp_path / target.replace(":", "_") / "seed0" / "pretrain"
        states[target] = (torch.load(folder / "checkpoint.pt", weights_only=False)["modules"]["lifter"],
                          [json.loads(x)["source_test"] for x in (folder / "metrics.jsonl").read_text().splitlines()])
    (a, curve_a), (b, curve_b) = states.values()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert curve_a == curve_b


def test_target_lists_and_folders_are_checked():
    from posefast.cli.compare import FACTOR_TARGETS, parse_targets, target_tag
    from posefast.data.synth3d.synthetic import FACTOR_PRESETS

    assert parse_targets(" synthetic:3dhp , synthetic:h36m+view") == ["synthetic:3dhp", "synthetic:h36m+view"]
    assert [target_tag(t) for t in FACTOR_TARGETS] == list(FACTOR_PRESETS)
    assert target_tag("cmu:/data/x y") == "cmu__data_x_y"
    for bad in ("synthetic:3dhp,synthetic:3dhp", "synthetic:3dhp,", "a:b/c,a:b_c"):
        with pytest.raises(ValueError, match="--target"):
            parse_targets(bad)


def test_factors_flag_errors():
    for argv, message in ((["--factors", "--target", "synthetic:3dhp"], "--factors"), (["gpa", "--factors"], "--factors"),
                          (["gpa", "--target", "synthetic:3dhp,synthetic:h36m+view"], "--target")):
        r = subprocess.run([sys.executable, "-m", "posefast.train", *argv], capture_output=True, text=True, timeout=300)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith(f"error: {message}"), r.stderr


def test_several_targets_share_the_pretraining_and_equal_single_target_runs(tmp_path):
    several = ["--target", "synthetic:h36m+view,synthetic:h36m+classes", "--set", "compare.methods=source-only,gpa"]
    for name, extra in (("multi", several), ("single", ["--target", "synthetic:h36m+classes",
                                                       "--set", "compare.methods=source-only,gpa"])):
        env = {**os.environ, "OMP_NUM_THREADS": "2"}
        r = subprocess.run([sys.executable, "-m", "posefast.train", "--out", str(tmp_path / name), "--jobs", "2",
                            *COMPARE, *extra], capture_output=True, text=True, env=env, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    multi = tmp_path / "multi"
    assert (multi / "seed0" / "pretrain" / "checkpoint.pt").exists()
    assert not (multi / "h36m+view" / "seed0" / "pretrain").exists()  # one pretraining per seed, shared
    one = json.loads((tmp_path / "single" / "summary.json").read_text())
    same = json.loads((multi / "h36m+classes" / "summary.json").read_text())
    assert one["methods"] == same["methods"] and one["classes"] == same["classes"]  # bit-identical stages
    assert "target_mpjpe" not in same["pretrain_curves"]["0"]  # the shared pretraining scored the first target
    view = json.loads((multi / "h36m+view" / "summary.json").read_text())
    assert "target_mpjpe" in view["pretrain_curves"]["0"] and view["target"] == "synthetic:h36m+view"
    combined = json.loads((multi / "summary.json").read_text())
    assert combined["targets"] == ["synthetic:h36m+view", "synthetic:h36m+classes"]
    for target, per in (("synthetic:h36m+view", view), ("synthetic:h36m+classes", same)):
        rows = combined["table"][target]["methods"]
        assert rows["gpa"]["vs_source_only"] == per["methods"]["gpa"]["vs_source_only"]
        assert rows["gpa"]["p_mpjpe"] == per["methods"]["gpa"]["p_mpjpe"]
        d = rows["gpa"]["p_mpjpe_vs_source_only"]
        gains = [per["methods"]["source-only"]["seeds"][s]["p_mpjpe"] - per["methods"]["gpa"]["seeds"][s]["p_mpjpe"]
                 for s in ("0", "1")]
        assert d["mean"] == pytest.approx(np.mean(gains), abs=1e-3) and d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    table = (multi / "summary.md").read_text()
    assert "| h36m+view: MPJPE gain (mm) | P-MPJPE (mm) | h36m+classes: MPJPE gain (mm) |" in table
    assert table.count("\n| ") == 3  # header + source-only + GPA
