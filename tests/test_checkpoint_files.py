"""Checkpoints a user is handed run no code (issue 23): posefast writes plain data that
``torch.load(weights_only=True)`` reads, every path that reads a checkpoint refuses a pickled object before it runs,
an old-format checkpoint is refused with the command that converts it, the converter needs ``--trust``, and a run
converted that way resumes bit for bit. A write that fails midway (disk full) keeps the previous checkpoint, says so
in one line, and the run resumes to the same bits."""
import builtins
import errno
import os
import pickle
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_testing import TINY, call, one_error_line, train

from posefast.cli.evaluate import main as evaluate_main
from posefast.cli.lift import main as lift_main
from posefast.engine import trainer as trainer_mod

RUN = ["poseaug", *TINY, "--set", "checkpoint_every=1"]


class _RunsCommand:
    """Unpickling this runs ``touch MARKER`` (what a hostile file does)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _hostile_checkpoint(path, marker):
    """A checkpoint-shaped file whose unpickling runs a command (the command then returns 0, and the dict looks
    like a run's checkpoint)."""
    torch.save({"config": {"x": _RunsCommand(marker)}, "modules": {}, "epoch": 1, "step": 0, "rng": {},
                "settings": {}}, path)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 2-epoch PoseAug run (its metrics.jsonl is what every resumed run must reproduce)."""
    from posefast.cli.common import run_cli
    from posefast.cli.train import main

    out = tmp_path_factory.mktemp("ckpt") / "ref"
    assert run_cli(main, [*RUN, "--out", str(out)]) == 0
    return out


def test_checkpoints_are_plain_data_with_a_format_version(reference):
    state = torch.load(reference / "checkpoint.pt", weights_only=True)  # raises on any pickled object
    assert state["posefast_format"] == 2
    assert isinstance(state["rng"]["numpy"]["keys"], torch.Tensor)
    assert isinstance(state["rng"]["python"]["state"], torch.Tensor)
    assert isinstance(state["config"], dict) and state["config"]["seed"] == 0


@pytest.mark.parametrize("entry", ["evaluate", "lift", "init", "resume"])
def test_a_checkpoint_that_runs_code_is_refused_before_it_runs(entry, reference, tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = tmp_path / "checkpoint.pt"
    _hostile_checkpoint(evil, marker)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, joints_2d=np.zeros((2, 16, 2)) + 100.0, image_size=np.array([1000.0, 1000.0]))
    if entry == "evaluate":
        rc, _, err = call(evaluate_main, ["--checkpoint", evil, "--data", "synthetic:3dhp"], capsys)
    elif entry == "lift":
        rc, _, err = call(lift_main, ["--checkpoint", evil, "--input", inputs, "--out", tmp_path / "o.npz"], capsys)
    elif entry == "init":
        rc, _, err = train([*RUN, "--out", tmp_path / "run", "--init", evil], capsys)
    else:
        rc, _, err = train([*RUN, "--out", tmp_path, "--resume"], capsys)
    assert not marker.exists(), "unpickling the checkpoint ran its command"
    assert rc == 2
    line = one_error_line(err)
    assert str(evil) in line and "pickled" in line and "python -m posefast.convert_checkpoint" in line, line


def _as_format_1(path):
    """Rewrite a checkpoint as posefast wrote it before format 2: the RNG states as random.getstate() /
    np.random.get_state() tuples, PoseAug's diagnostics as numpy arrays, no format key."""
    state = torch.load(path, weights_only=True)
    py, npy = state["rng"]["python"], state["rng"]["numpy"]
    state["rng"]["python"] = (py["version"], tuple(py["state"].tolist()), py["gauss_next"])
    state["rng"]["numpy"] = (npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                             npy["cached_gaussian"])
    values = state["extra"]["diagnostics"]["values"]
    state["extra"]["diagnostics"]["values"] = {k: [c.numpy() for c in v] for k, v in values.items()}
    del state["posefast_format"]
    torch.save(state, path)


def _interrupt_at(monkeypatch, epoch, step):
    real = trainer_mod.Trainer.train_step

    def dying(self, indices, e, s):
        if (e, s) == (epoch, step):
            raise KeyboardInterrupt
        return real(self, indices, e, s)

    monkeypatch.setattr(trainer_mod.Trainer, "train_step", dying)
    return real


def test_an_old_checkpoint_is_refused_and_a_converted_one_resumes_bit_for_bit(reference, tmp_path, capsys,
                                                                              monkeypatch):
    out = tmp_path / "run"
    real = _interrupt_at(monkeypatch, 1, 1)  # after the augmentor's warm-up: diagnostics hold arrays
    with pytest.raises(KeyboardInterrupt):
        train([*RUN, "--out", out], capsys)
    monkeypatch.setattr(trainer_mod.Trainer, "train_step", real)
    _as_format_1(out / "checkpoint.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(out / "checkpoint.pt", weights_only=True)

    rc, _, err = train([*RUN, "--out", out, "--resume"], capsys)
    assert rc == 2
    line = one_error_line(err)
    assert "python -m posefast.convert_checkpoint OLD NEW --trust" in line and "--resume" in line, line

    from posefast.cli.convert_checkpoint import main as convert_main  # new in format 2: imported here, so the
    # other tests of this file run (and fail) on a posefast without it

    new = tmp_path / "converted.pt"
    rc, _, err = call(convert_main, [out / "checkpoint.pt", new], capsys)
    assert rc == 2 and "--trust" in one_error_line(err) and not new.exists()
    rc, _, err = call(convert_main, [out / "checkpoint.pt", new, "--trust"], capsys)
    assert rc == 0, err
    assert torch.load(new, weights_only=True)["posefast_format"] == 2
    rc, _, err = call(convert_main, [out / "checkpoint.pt", new, "--trust"], capsys)  # never overwrites
    assert rc == 2 and "already exists" in one_error_line(err)

    shutil.move(new, out / "checkpoint.pt")
    rc, _, err = train([*RUN, "--out", out, "--resume"], capsys)
    assert rc == 0, err
    assert (out / "metrics.jsonl").read_bytes() == (reference / "metrics.jsonl").read_bytes()


def test_the_rng_states_round_trip_exactly():
    from posefast.engine import checkpoint as ckpt

    random.random(), np.random.standard_normal(), torch.rand(1)  # has_gauss / gauss states in use
    state = ckpt.rng_state()
    expected = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    ckpt.set_rng_state(state)
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == expected
    ckpt.check_plain(state)
    with pytest.raises(TypeError, match=r"x\.y: numpy.ndarray is not plain data"):
        ckpt.check_plain({"y": np.zeros(2)}, "x")


class _DiskFull:
    """A file whose writes put down half their bytes and then fail as a full disk does."""

    def __init__(self, f):
        self._f = f

    def write(self, data):
        self._f.write(data[: len(data) // 2])
        self._f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __getattr__(self, name):
        return getattr(self._f, name)


def _fill_disk_on(monkeypatch, matches, after: int = 0):
    """Make the (``after`` + 1)-th and later opens for writing of a file whose name ``matches`` fail like a full
    disk."""
    real_open = builtins.open
    seen = {"n": 0}

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if any(c in mode for c in "wa") and matches(Path(str(file)).name):
            seen["n"] += 1
            if seen["n"] > after:
                return _DiskFull(f)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)


@pytest.mark.parametrize("what", ["checkpoint", "metrics line"])
def test_a_full_disk_keeps_the_previous_checkpoint_and_the_run_resumes(what, reference, tmp_path, capsys,
                                                                       monkeypatch):
    out = tmp_path / "run"
    if what == "checkpoint":  # the 4th checkpoint (the end of epoch 1) fails midway
        _fill_disk_on(monkeypatch, lambda name: name.startswith(".checkpoint.pt"), after=3)
    else:  # the second epoch's metrics line fails midway
        _fill_disk_on(monkeypatch, lambda name: name == "metrics.jsonl", after=1)
    rc, _, err = train([*RUN, "--out", out], capsys)
    monkeypatch.undo()
    assert rc == 2
    line = one_error_line(err)
    assert "No space left on device" in line and "intact" in line and "--resume" in line, line
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # no temporary file left
    state = torch.load(out / "checkpoint.pt", weights_only=True)  # the previous checkpoint, whole
    assert (state["epoch"], state["step"]) == (1, 1)
    rc, _, err = train([*RUN, "--out", out, "--resume"], capsys)
    assert rc == 0, err
    assert (out / "metrics.jsonl").read_bytes() == (reference / "metrics.jsonl").read_bytes()
