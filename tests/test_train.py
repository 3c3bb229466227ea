"""Training infrastructure: configs, CLI, exact resume after SIGKILL, torchrun/DDP, kernels vs twins in the loop."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from posefast.cli.config import TrainConfig, apply_overrides

TINY = ["--set", "n_source=1536", "--set", "n_target=1024", "--set", "n_test=512", "--batch-size", "128",
        "--set", "backbone_width=128", "--no-plots", "--quiet"]


def run_train(args, out, env_extra=None, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    # cwd outside the checkout: `python -m` puts the working directory first on sys.path
    return subprocess.run([sys.executable, "-m", "posefast.train", *args, "--out", str(out), *TINY],
                          capture_output=True, text=True, env=env, cwd=out.parent, **kw)


def test_config_overrides_are_checked():
    cfg = TrainConfig()
    apply_overrides(cfg, {"epochs": 3, "poseaug": {"feedback": "paper"}}, "test")
    assert cfg.epochs == 3 and cfg.poseaug.feedback == "paper"
    with pytest.raises(ValueError, match="unknown setting 'epoch'"):
        apply_overrides(cfg, {"epoch": 3}, "test")
    with pytest.raises(ValueError, match="'batch_size' expects a number"):
        apply_overrides(cfg, {"batch_size": "big"}, "test")
    with pytest.raises(ValueError, match="'epochs' expects a whole number"):
        apply_overrides(cfg, {"epochs": 2.5}, "test")  # never silently truncated
    with pytest.raises(ValueError, match="'epochs' expects a whole number"):
        apply_overrides(cfg, {"epochs": float("inf")}, "test")
    apply_overrides(cfg, {"lr": "1e-3", "epochs": "4"}, "test")  # YAML 1.1 reads 1e-3 as a string
    assert cfg.lr == 1e-3 and cfg.epochs == 4
    with pytest.raises(ValueError, match="'poseaug' expects a mapping"):
        apply_overrides(cfg, {"poseaug": 3}, "test")


def test_cli_help_documents_methods_and_specs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "posefast.train", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0
    for word in ("poseaug", "poseda", "multilevel", "synthetic:h36m", "--resume", "torchrun", "--device"):
        assert word in out.stdout


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    args = ["poseaug", "--epochs", "3", "--seed", "3", "--set", "checkpoint_every=4", "--set", "poseaug.warmup_epochs=1"]
    full = run_train(args, tmp_path / "full", timeout=600)
    assert full.returncode == 0, full.stderr[-3000:]
    expected = json.loads((tmp_path / "full" / "metrics.json").read_text())

    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "posefast.train", *args, "--out", str(out), *TINY], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once a mid-run checkpoint of the second epoch exists
        ckpt = out / "checkpoint.pt"
        if ckpt.exists():
            try:
                state = torch.load(ckpt, weights_only=False)
            except Exception:
                state = None
            if state and (state["epoch"], state["step"]) >= (1, 4):
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists(), "the run finished before it could be killed"
    resumed = run_train(args + ["--resume"], out, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    got = json.loads((out / "metrics.json").read_text())
    assert got["target"] == expected["target"] and got["source_test"] == expected["source_test"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [0, 1, 2]


@pytest.mark.slow
def test_torchrun_two_processes_gloo(tmp_path, capsys):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "posefast.train", "source-only", "--epochs", "1", "--out", str(tmp_path / "ddp"), *TINY]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["method"] == "source-only"
    assert all(v == v and v > 0 for k, v in metrics["target"].items() if k in ("mpjpe", "p_mpjpe"))
    # one answer: only rank 0 prints, and it is what a 1-process evaluation of the saved weights gives
    results = [json.loads(ln) for ln in out.stdout.splitlines() if ln.startswith('{"method"')]
    assert len(results) == 1, out.stdout
    from posefast.cli.common import run_cli
    from posefast.cli.evaluate import main as evaluate

    assert run_cli(evaluate, ["--checkpoint", str(tmp_path / "ddp" / "checkpoint.pt"), "--data", "synthetic:3dhp",
                              "--json", str(tmp_path / "e.json")]) == 0
    single = json.loads((tmp_path / "e.json").read_text())
    for key in ("mpjpe", "p_mpjpe", "pck", "auc"):
        assert single[key] == pytest.approx(metrics["target"][key], rel=1e-6)
        assert results[0]["target"][key] == round(metrics["target"][key], 2)


def test_kernels_and_twins_give_the_same_poseaug_losses():
    import posefast
    from posefast.data.domains import load_domains
    from posefast.methods import lifting_method
    from posefast.engine.checkpoint import seed_everything
    from posefast.engine.distributed import DistContext

    cfg = TrainConfig(n_source=512, n_target=256, n_test=128, batch_size=64, backbone_width=64, epochs=2)
    cfg.poseaug.warmup_epochs = 0
    cfg.method = "poseaug"
    data = load_domains(cfg.source, cfg.target, cfg.skeleton, "cpu", cfg.n_source, cfg.n_target, cfg.n_test, 0)
    runs = []
    for enabled in (True, False):
        with posefast.use_kernels(enabled):
            seed_everything(0)
            method = lifting_method("poseaug")(cfg, data, DistContext())
            split = method.train_split(0)
            steps = []
            for step in range(3):
                batch = {k: v[step * 64:(step + 1) * 64] for k, v in split.items()}
                steps.append({k: float(v) for k, v in method.train_step(batch, 1, step).items()})  # 0-dim tensors
            runs.append(steps)
    for a, b in zip(*runs):
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-3, abs=1e-5), k
