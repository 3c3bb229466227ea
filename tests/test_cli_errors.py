"""A mistake in the input ends in one line ``error: ...`` naming the argument (exit status 2), the traceback only
with POSEFAST_DEBUG=1; ``--device auto`` picks CUDA only when torch sees a GPU and posefast was built with it."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from cli_testing import TINY, evaluate, one_error_line, train

import posefast._ext
from posefast.cli.common import run_cli
from posefast.engine.device import resolve_device
from posefast.errors import UsageError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_errors")
    (d / "random.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    (d / "random.pt").write_bytes(np.random.default_rng(1).bytes(4096))
    return d


TRAIN_CASES = [  # (argv, words the error line must hold)
    (["--source", "bogus"], ["--source", "'bogus'", "synthetic:"]),
    (["--target", "{d}/absent.npz"], ["--target", "absent.npz", "no such file"]),
    (["--source", "h36m:{d}/no_dir"], ["--source", "data_3d_h36m.npz", "not found"]),
    (["--source", "{d}/random.npz"], ["--source", "random.npz", "not a valid .npz file"]),
    (["--set", "n_sorce=5"], ["--set", "unknown setting 'n_sorce'"]),
    (["--set", "n_source"], ["--set", "KEY=VALUE"]),
    (["--set", "epochs=2.5"], ["'epochs'", "whole number"]),
    (["--backbone", "resnet"], ["backbone", "'resnet'", "simple"]),
    (["--backbone", "stgcn", "--set", "backbone_width=64"], ["backbone_width", "stgcn", "no width"]),
]


@pytest.mark.parametrize("argv,words", TRAIN_CASES, ids=[" ".join(a) for a, _ in TRAIN_CASES])
def test_train_input_errors_are_one_line(argv, words, files, tmp_path, capsys):
    argv = [a.format(d=files) for a in argv]
    rc, out, err = train(["source-only", *TINY, "--out", tmp_path / "run", *argv], capsys)
    line = one_error_line(err)
    assert rc == 2
    for word in words:
        assert word.format(d=files) in line, line


EVALUATE_CASES = [
    (["--checkpoint", "{d}/absent.pt", "--data", "synthetic:3dhp"], ["--checkpoint", "absent.pt", "no such file"]),
    (["--checkpoint", "{d}/random.pt", "--data", "synthetic:3dhp"], ["--checkpoint", "not a posefast checkpoint"]),
]


@pytest.mark.parametrize("argv,words", EVALUATE_CASES, ids=["missing checkpoint", "random checkpoint"])
def test_evaluate_input_errors_are_one_line(argv, words, files, capsys):
    rc, _, err = evaluate([a.format(d=files) for a in argv], capsys)
    line = one_error_line(err)
    assert rc == 2 and all(w in line for w in words), line


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_device_cuda_without_cuda_is_one_line(tmp_path, capsys):
    rc, _, err = train(["source-only", *TINY, "--out", tmp_path / "run", "--device", "cuda"], capsys)
    line = one_error_line(err)
    assert rc == 2 and "--device cuda" in line and "no CUDA device" in line and "--device cpu" in line


def test_device_auto(monkeypatch):
    """auto: CUDA only when torch sees a GPU *and* the extension has its CUDA backend; it says why."""
    built = {"cuda": False}
    monkeypatch.setattr(posefast._ext, "build_info", lambda: dict(built))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    device, why = resolve_device("auto")
    assert device.type == "cpu" and "torch sees no CUDA device" in why
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    device, why = resolve_device("auto")
    assert device.type == "cpu" and "no CUDA backend" in why
    with pytest.raises(UsageError, match="--device cuda: this posefast build has no CUDA backend"):
        resolve_device("cuda")
    built["cuda"] = True
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
    device, why = resolve_device("auto")
    assert device.type == "cuda" and "Fake GPU" in why
    with pytest.raises(UsageError, match="--device: expected one of auto, cpu, cuda"):
        resolve_device("tpu")


def test_debug_variable_shows_the_traceback(monkeypatch):
    def main(argv):
        raise ValueError("--thing: broken")

    monkeypatch.setenv("POSEFAST_DEBUG", "1")
    with pytest.raises(ValueError, match="--thing: broken"):
        run_cli(main)
    monkeypatch.setenv("POSEFAST_DEBUG", "0")
    assert run_cli(main) == 2


def test_entry_point_prints_one_line_and_exits_2(tmp_path):
    """The real ``python -m`` entry point (its __main__ goes through the wrapper)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("POSEFAST_DEBUG", None)
    cmd = [sys.executable, "-m", "posefast.train", "source-only", "--source", "bogus", "--out", str(tmp_path / "r")]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert res.returncode == 2 and one_error_line(res.stderr).startswith("error: --source"), res.stderr
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**env, "POSEFAST_DEBUG": "1"},
                         timeout=300)
    assert res.returncode == 1 and "Traceback" in res.stderr
