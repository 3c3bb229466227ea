"""Determinism (issue 13): the same command, seed and thread count give bit-identical metrics files, at 2 threads,
with the machine loaded, and after a SIGKILL + ``--resume``. (conftest.py runs the suite at 1 thread, which hid a
race that only 2 threads under load showed; these tests run the training CLI in subprocesses at 2 threads.)"""
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import posefast
from posefast.methods.pool import SamplePool, last_occurrence

THREADS = 2
LIFTING = ("source-only", "gpa", "lpa", "poseda", "poseaug")
# Batch 256: PoseAug's pool (256 slots, so it is full after the first discriminator step) then swaps ~128 poses per
# call, enough for torch to split their write across threads, which is where issue 13's race lived.
SMALL = ["--epochs", "3", "--batch-size", "256", "--seed", "1", "--set", "n_source=1024", "--set", "n_target=512",
         "--set", "n_test=256", "--set", "backbone_width=64", "--set", "eval_batch_size=256",
         "--set", "poseaug.pool_size=256", "--set", "poseda.lpa_epochs=1", "--set", "checkpoint_every=2",
         "--quiet", "--no-plots"]
STEPS_PER_EPOCH = 1024 // 256
MULTILEVEL = ["multilevel", "--epochs", "2", "--batch-size", "8", "--seed", "1", "--set", "multilevel.image_size=32",
              "--set", "multilevel.n_source=32", "--set", "multilevel.n_target=32", "--set", "multilevel.n_test=16",
              "--set", "multilevel.pretrain_epochs=1", "--set", "multilevel.deconv_channels=8",
              "--set", "multilevel.discriminator_widths=4,4", "--set", "multilevel.adain_width=0.0625",
              "--set", "multilevel.adain_steps=4", "--set", "multilevel.adain_batch_size=4",
              "--set", "multilevel.variants=source-only,multilevel", "--set", "checkpoint_every=2", "--quiet",
              "--no-plots"]
ML_STEPS = 32 // 8  # steps per multilevel epoch; its stages: pretrain (1 epoch), source-only (2), multilevel (2)
# --precision bf16 (issue 27): the networks' forward passes in bf16 on the same loop; the same guarantees. PoseAug
# (lifter, generator, discriminators), PoseDA (its LPA generator heads) and multilevel cover every network kind.
BF16 = ["--precision", "bf16"]
BF16_LIFTING = ("poseda", "poseaug")

# Runs `posefast.train`'s CLI once per argv list given as JSON, in one process (one torch import for many runs).
# POSEFAST_TEST_KILL="step:N" SIGKILLs the process right after its N-th training step on the shared epoch loop (its
# state is then ahead of the last checkpoint); "save:E" SIGKILLs it just before the first end-of-epoch checkpoint
# (E, 0) is written, i.e. after epoch E-1's metrics line. Both hook posefast.engine.loop.EpochLoop, which every
# lifting method and every multilevel stage runs on.
RUNNER = r"""
import json, os, signal, sys
from posefast.cli import train as cli
from posefast.engine.loop import EpochLoop
runs = json.loads(sys.argv[1])
kind, _, where = os.environ.get("POSEFAST_TEST_KILL", "").partition(":")
if kind == "step":
    count, real_step = [0], EpochLoop.step
    def step(self, *args, **kwargs):
        out = real_step(self, *args, **kwargs)
        count[0] += 1
        if count[0] == int(where):
            os.kill(os.getpid(), signal.SIGKILL)
        return out
    EpochLoop.step = step
elif kind == "save":
    real_save = EpochLoop.save
    def save(self, epoch, step):
        if (epoch, step) == (int(where), 0):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(self, epoch, step)
    EpochLoop.save = save
for argv in runs:
    cli.main(argv)
"""


def run_cli(runs, threads=THREADS, kill=None, timeout=600):
    """Runs the CLI for each argv in ``runs`` in a fresh process with ``threads`` OpenMP/torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           # Idle OpenMP threads sleep instead of spinning: against busy loops, spinning made a run ~6x slower.
           # How a thread waits changes no result; the race this file guards against still showed (checked).
           "OMP_WAIT_POLICY": "PASSIVE",
           # the posefast this test imports (the source tree in development, the installed package in CI)
           "PYTHONPATH": os.pathsep.join(p for p in (str(Path(posefast.__file__).parents[1]),
                                                     os.environ.get("PYTHONPATH")) if p)}
    env.pop("POSEFAST_TEST_KILL", None)
    if kill:
        env["POSEFAST_TEST_KILL"] = kill
    # cwd: the runs' folder, never a checkout (`python -c` puts the working directory first on sys.path)
    out = Path(runs[0][runs[0].index("--out") + 1])
    return subprocess.run([sys.executable, "-c", RUNNER, json.dumps(runs)], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=out.parent)


@contextlib.contextmanager
def cpu_load(processes=2):
    """Keeps ``processes`` busy loops running (as two `yes > /dev/null` did in the issue), so the OS scheduler,
    not the program, decides when each of a run's threads gets a core."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)]
    try:
        yield
    finally:
        for p in busy:
            p.kill()
            p.wait()


def without_wall_time(text: str) -> str:
    """A summary's text less its ``"seconds"`` fields (wall-clock time is the one thing no run repeats)."""
    return re.sub(r'"seconds": [^,}]+(, )?', "", text)


def assert_same_files(a: Path, b: Path, pattern: str):
    files = sorted(p.relative_to(a) for p in a.rglob(pattern))
    assert files, f"no {pattern} under {a}"
    assert files == sorted(p.relative_to(b) for p in b.rglob(pattern))
    for f in files:
        if f.name.startswith("metrics."):  # wall times live in timing.jsonl: the metrics files repeat byte for byte
            assert (a / f).read_bytes() == (b / f).read_bytes(), str(a / f)
        else:
            assert without_wall_time((a / f).read_text()) == without_wall_time((b / f).read_text()), str(a / f)


def lifting_runs(root: Path, extra=(), methods=LIFTING):
    return [[m, *SMALL, *extra, "--out", str(root / m)] for m in methods]


def bf16_runs(root: Path):
    return lifting_runs(root, BF16, BF16_LIFTING) + [[*MULTILEVEL, *BF16, "--out", str(root / "multilevel")]]


@pytest.fixture(scope="module")
def quiet_runs(tmp_path_factory):
    """Every lifting method and multilevel, once, at 2 threads on an otherwise idle machine (this suite's share)."""
    root = tmp_path_factory.mktemp("quiet")
    done = run_cli(lifting_runs(root) + [[*MULTILEVEL, "--out", str(root / "multilevel")]])
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def quiet_runs_bf16(tmp_path_factory):
    """PoseDA, PoseAug and multilevel at --precision bf16, once, at 2 threads on an otherwise idle machine."""
    root = tmp_path_factory.mktemp("quiet-bf16")
    done = run_cli(bf16_runs(root))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "precision: bf16 (requested" in done.stderr
    return root


def runs_at(request, precision: str) -> tuple[Path, list]:
    """The quiet runs' folder and the extra flags of ``precision``."""
    if precision == "bf16":
        return request.getfixturevalue("quiet_runs_bf16"), BF16
    return request.getfixturevalue("quiet_runs"), []


def test_two_threads_under_load_repeat_every_method_bit_for_bit(quiet_runs, tmp_path):
    with cpu_load():
        done = run_cli(lifting_runs(tmp_path) + [[*MULTILEVEL, "--out", str(tmp_path / "multilevel")]])
    assert done.returncode == 0, done.stderr[-3000:]
    for method in (*LIFTING, "multilevel"):
        assert_same_files(quiet_runs / method, tmp_path / method, "metrics.json*")
    assert_same_files(quiet_runs / "multilevel", tmp_path / "multilevel", "summary.json")


def test_bf16_at_two_threads_under_load_repeats_bit_for_bit(quiet_runs_bf16, quiet_runs, tmp_path):
    with cpu_load():
        done = run_cli(bf16_runs(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    for method in (*BF16_LIFTING, "multilevel"):
        assert_same_files(quiet_runs_bf16 / method, tmp_path / method, "metrics.json*")
        # and bf16 did run: the same command at fp32 computes other numbers
        final = Path(method, "metrics.json") if method != "multilevel" else Path(method, "seed1", method, "metrics.json")
        assert (quiet_runs_bf16 / final).read_bytes() != (quiet_runs / final).read_bytes(), method
    assert_same_files(quiet_runs_bf16 / "multilevel", tmp_path / "multilevel", "summary.json")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_poseaug_killed_after_warmup_resumes_bit_for_bit(request, precision, tmp_path):
    # Epoch 0 is PoseAug's warm-up. Kill 1: after the 3rd step of epoch 1, where the augmentor's feedback, the
    # discriminators and the full pool are in play and the last checkpoint is the one after the 2nd step. Kill 2
    # (in the resumed run): after epoch 1's metrics line is written, before that epoch's checkpoint.
    quiet, extra = runs_at(request, precision)
    run = [["poseaug", *SMALL, *extra, "--out", str(tmp_path / "poseaug")]]
    first = run_cli(run, kill=f"step:{STEPS_PER_EPOCH + 3}")
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    assert not (tmp_path / "poseaug" / "metrics.json").exists()
    resume = [run[0] + ["--resume"]]
    second = run_cli(resume, kill="save:2")
    assert second.returncode == -signal.SIGKILL, second.stderr[-3000:]
    assert len((tmp_path / "poseaug" / "metrics.jsonl").read_text().splitlines()) == 2  # epoch 1's line, uncheckpointed
    third = run_cli(resume)
    assert third.returncode == 0, third.stderr[-3000:]
    assert_same_files(quiet / "poseaug", tmp_path / "poseaug", "metrics.json*")


def test_poseaug_gan_warmup_killed_in_the_first_epoch_resumes_bit_for_bit(tmp_path):
    # poseaug.warmup_steps runs before the first step; the kill comes after step 3 of epoch 0, the last checkpoint
    # (after step 2) holds the warmed-up GAN and the warm-up's diagnostics, which epoch 0's line must still carry.
    run = ["poseaug", *SMALL, "--set", "poseaug.warmup_steps=6", "--out"]
    ref = run_cli([run + [str(tmp_path / "ref")]])
    assert ref.returncode == 0, ref.stderr[-3000:]
    first = run_cli([run + [str(tmp_path / "poseaug")]], kill="step:3")
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    again = run_cli([run + [str(tmp_path / "poseaug"), "--resume"]])
    assert again.returncode == 0, again.stderr[-3000:]
    assert_same_files(tmp_path / "ref", tmp_path / "poseaug", "metrics.json*")
    line = json.loads((tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()[0])
    assert "warmup_d2d_acc_fake" in line["diagnostics"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_multilevel_stage_killed_mid_epoch_resumes_bit_for_bit(request, precision, tmp_path):
    # Kill 1: after the 3rd step of the multilevel variant's first epoch (pretraining and source-only are done; the
    # last checkpoint is the mid-epoch one after its 2nd step, so the teacher, discriminator and RNG states are
    # ahead of it). Kill 2 (in the resumed run): after that variant's last metrics line, before its checkpoint.
    quiet, extra = runs_at(request, precision)
    run = [[*MULTILEVEL, *extra, "--out", str(tmp_path / "multilevel")]]
    first = run_cli(run, kill=f"step:{ML_STEPS * (1 + 2) + 3}")
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    variant = tmp_path / "multilevel" / "seed1" / "multilevel"
    state = torch.load(variant / "checkpoint.pt", weights_only=False)
    assert state["step"] == 2 and state["precision"] == precision  # resumes inside the epoch, at its precision
    assert not (tmp_path / "multilevel" / "summary.json").exists()
    resume = [run[0] + ["--resume"]]
    second = run_cli(resume, kill="save:2")
    assert second.returncode == -signal.SIGKILL, second.stderr[-3000:]
    assert len((variant / "metrics.jsonl").read_text().splitlines()) == 2  # epoch 1's line, uncheckpointed
    third = run_cli(resume)
    assert third.returncode == 0, third.stderr[-3000:]
    assert_same_files(quiet / "multilevel", tmp_path / "multilevel", "metrics.json*")
    assert_same_files(quiet / "multilevel", tmp_path / "multilevel", "summary.json")


# -- the pieces ---------------------------------------------------------------------------------------------------
def test_last_occurrence_marks_the_last_of_each_repeated_slot():
    slots = torch.tensor([3, 1, 3, 0, 1, 3, 2])
    assert last_occurrence(slots).tolist() == [False, False, False, True, True, True, True]
    assert last_occurrence(torch.tensor([], dtype=torch.long)).tolist() == []


def test_sample_pool_keeps_the_last_swap_into_a_slot_at_two_threads():
    """The pool equals a one-sample-at-a-time loop in which later swaps overwrite earlier ones. Torch splits a
    large index_put across threads, so with repeated slots the old code kept whichever write came last in time."""
    size, n = 32, 512  # ~256 swaps into 32 slots: every slot is drawn many times in one call
    batches = [torch.randn(n, 16, 3, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        pool = SamplePool(size)
        outs = [pool(b) for b in batches]
    finally:
        torch.set_num_threads(threads)
    torch.manual_seed(0)  # replay the pool's draws
    items = batches[0][:size].clone()
    for i, b in enumerate(batches):
        fill = size if i == 0 else 0
        rest = b[fill:]
        swap = torch.rand(rest.shape[0]) > 0.5
        slot = torch.randint(0, size, (rest.shape[0],))
        expected_out = b.clone()
        expected_out[fill:][swap] = items[slot[swap]]  # every swap of a call returns what was stored before it
        for k in torch.nonzero(swap).flatten().tolist():
            items[slot[k]] = rest[k]
        assert torch.equal(outs[i], expected_out)
    assert torch.equal(pool.items, items)


def test_kernels_give_the_same_bits_at_one_and_two_openmp_threads():
    """posefast's CPU kernels split the batch statically and never sum across poses, so the thread count cannot
    change a bit of their forward or backward results."""
    from posefast import _C
    from posefast.ops import augment_pipeline, decode_heatmaps, mpjpe, p_mpjpe, part_kcs, render_heatmaps
    from posefast.skeleton import get_skeleton

    if not posefast.build_info()["openmp"]:
        pytest.skip("built without OpenMP")
    skel = get_skeleton("h36m16")
    g = torch.Generator().manual_seed(0)
    n = 1000  # well above the 64 poses below which the kernels stay on one thread
    depth = torch.tensor([0.0, 0.0, 4.0])
    inputs = [torch.randn(n, skel.num_joints, 3, generator=g) * 0.3 + depth,  # joints
              torch.randn(n, skel.num_bones, 3, generator=g) * 0.2,  # BA offsets
              torch.rand(n, len(skel.bone_groups), generator=g) * 0.2 - 0.1,  # BL ratios
              torch.randn(n, 3, generator=g) * 0.5, torch.randn(n, 3, generator=g) * 0.2 + depth]  # RT
    camera = torch.tensor([1.2, 1.2, 0.01, -0.02]).expand(n, 4).contiguous()
    keypoints = torch.rand(n, skel.num_joints, 2, generator=g) * 32

    def run():
        leaves = [x.clone().requires_grad_() for x in inputs]
        joints = leaves[0]
        ba, bl, rt, uv, cos = augment_pipeline(*leaves, camera, skel)
        kcs = part_kcs(rt, skel)
        err = mpjpe(rt, joints) + p_mpjpe(bl, joints)
        (ba.square().sum() + uv.sin().sum() + cos.sum() + kcs.cos().sum() + err.sum()).backward()
        maps = render_heatmaps(keypoints, torch.ones(n, skel.num_joints, dtype=torch.bool), (32, 32), 1.5)
        return [ba, bl, rt, uv, cos, kcs, err, maps, *decode_heatmaps(maps)] + [x.grad for x in leaves]

    before = _C.get_num_threads()
    try:
        results = []
        for t in (1, 2):
            _C.set_num_threads(t)
            assert _C.get_num_threads() == t
            results.append([r.detach().clone() for r in run()])
    finally:
        _C.set_num_threads(before)
    for i, (a, b) in enumerate(zip(*results)):
        assert torch.equal(a, b), i
