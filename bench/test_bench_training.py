"""End-to-end training steps with ``use_kernels(True)`` against ``use_kernels(False)`` (the same step on the twins).

* PoseAug: ``PoseAug.train_step`` after warm-up (generator + feedback, the discriminators every second step, lifter)
  with the default ``TrainConfig`` (SimpleBaseline lifter of width 1024, batch 256) and with a narrow lifter (width
  128), which shows how much of a step the pose ops are once the lifter is cheap. One timed call = 2 steps (one
  with, one without the discriminator update).
* PoseDA: ``PoseDA.train_lpa`` for one pass over 2048 source poses (8 LPA generator/anchor-discriminator steps of
  256: BA/BL heads, ``bone_angle_augment``, ``bone_length_augment``, GPA, projection).
* Multi-level 2D: ``adapt_step`` of the full method (AdaIN image level, GRL patch discriminator, information
  maximisation, mean teacher) at the default 64 px crops, batch 32.

Kernels and twins are timed *paired*, in one benchmark: two identical instances of the method (same seed, same
data), one call of each per round, in alternating order, each call started from the same snapshot of its method
(weights, optimisers, schedulers, pools, RNG; restored outside the timed region). On a shared machine consecutive
benchmarks drift by 10-20 %, and a method left training while timed drifts too (PoseAug's lifter batch grows with
the augmented poses it keeps): pairing and restoring make the ratio compare the same steps under the same
conditions. The per-implementation medians and the median of the per-round ratios go into ``extra_info``; the time
pytest-benchmark records for these rows (a pair plus two restores) is not used. Rounds:
``POSEFAST_BENCH_TRAIN_ROUNDS`` (default 5, 15 with ``POSEFAST_BENCH_FULL=1``).
"""
import copy
import os
import statistics
import time

import pytest
import torch

from workloads import DEVICES, FULL, THREADS, require_device, require_extension

posefast = require_extension()
ROUNDS = int(os.environ.get("POSEFAST_BENCH_TRAIN_ROUNDS", "15" if FULL else "5"))


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


class _State:
    """Snapshot/restore of objects with ``state_dict``/``load_state_dict`` plus the global torch RNG."""

    def __init__(self, objects: dict):
        self.objects = objects
        self.saved = None

    def save(self) -> None:
        self.saved = ({k: copy.deepcopy(v.state_dict()) for k, v in self.objects.items()}, torch.get_rng_state(),
                      torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None)

    def restore(self) -> None:
        states, rng, cuda_rng = self.saved
        for k, v in self.objects.items():
            v.load_state_dict(copy.deepcopy(states[k]))  # deep copy: Adam keeps the tensors it is given
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def _paired(benchmark, group: str, device: str, steps_per_call: int, build) -> None:
    """``build()`` -> ``(call, state)`` for a fresh method instance; time kernels vs twins paired per round."""
    runs = {}
    for kernels in (True, False):
        call, state = build()
        with posefast.use_kernels(kernels):
            call()  # warm-up: first-call allocations, the optimisers' state
        state.save()
        runs[kernels] = (call, state)
    times = {True: [], False: []}
    turn = [0]

    def one_round():
        order = (True, False) if turn[0] % 2 == 0 else (False, True)
        turn[0] += 1
        for kernels in order:
            call, state = runs[kernels]
            state.restore()
            with posefast.use_kernels(kernels):
                t = time.perf_counter()
                call()
                times[kernels].append(time.perf_counter() - t)

    benchmark.group = group
    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=0)
    k, t = statistics.median(times[True]), statistics.median(times[False])
    benchmark.extra_info.update(
        family="train", op=group.split("/")[1], impl="paired", device=device, steps_per_call=steps_per_call,
        threads=THREADS, load_1min=round(os.getloadavg()[0], 2), rounds=ROUNDS,
        kernels_median_s=k, twins_median_s=t,
        kernels_iqr_s=_iqr(times[True]), twins_iqr_s=_iqr(times[False]),
        ratio_median=statistics.median(b / a for a, b in zip(times[True], times[False])))


def _iqr(values) -> float:
    if len(values) < 4:
        return float("nan")
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


# ---- lifting methods ---------------------------------------------------------------------------------------------
def _lifting(method: str, device: str, **overrides):
    from posefast.data.domains import load_domains
    from posefast.methods import lifting_method
    from posefast.engine.checkpoint import seed_everything
    from posefast.cli.config import TrainConfig
    from posefast.engine.distributed import DistContext

    cfg = TrainConfig(method=method, n_source=2048, n_target=1024, n_test=256, epochs=2, progress=False,
                      device=device)
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        setattr(getattr(cfg, section) if section else cfg, name, value)
    data = load_domains(cfg.source, cfg.target, cfg.skeleton, device, cfg.n_source, cfg.n_target, cfg.n_test, 0)
    seed_everything(0)
    return cfg, lifting_method(method)(cfg, data, DistContext(device=torch.device(device)))


def _lifting_state(method) -> _State:
    """Everything a checkpoint of the method holds (the resume contract of posefast.train)."""
    class Extra:
        def state_dict(self):
            return method.extra_state()

        def load_state_dict(self, state):
            method.load_extra_state(state)

    return _State({**{f"module/{k}": v for k, v in method.modules().items()},
                   **{f"optimizer/{k}": v for k, v in method.optimizers().items()},
                   **{f"scheduler/{k}": v for k, v in method.schedulers().items()}, "extra": Extra()})


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("width", [0, 128], ids=["lifter-default", "lifter-128"])
def test_poseaug_step(benchmark, width, device):
    require_device(device)

    def build():
        cfg, method = _lifting("poseaug", device, backbone_width=width, **{"poseaug.warmup_epochs": 0})
        split = method.train_split(1)
        bs = cfg.batch_size

        def two_steps():  # the checkpointed step_count decides the discriminator update: one step with, one without
            for i in range(2):
                method.train_step({k: v[i * bs:(i + 1) * bs] for k, v in split.items()}, 1, i)
            _sync(device)

        return two_steps, _lifting_state(method)

    label = "default" if width == 0 else str(width)
    _paired(benchmark, f"train/poseaug_step/lifter-{label}/{device}", device, 2, build)


@pytest.mark.parametrize("device", DEVICES)
def test_poseda_lpa_steps(benchmark, device):
    require_device(device)
    steps = []

    def build():
        cfg, method = _lifting("poseda", device, **{"poseda.lpa_epochs": 1, "poseda.lpa_batch_size": 256})
        steps.append(cfg.n_source // cfg.poseda.lpa_batch_size)

        def lpa_pass():
            method.train_lpa()
            _sync(device)

        return lpa_pass, _lifting_state(method)

    _paired(benchmark, f"train/poseda_lpa_step/{device}", device, 8, build)
    assert steps == [8, 8], "one timed call is expected to be 8 LPA steps"


# ---- multi-level 2D ----------------------------------------------------------------------------------------------
def _multilevel_step_workload(device):
    """``(batch, build)``: one multi-level adaptation step (image + feature + pose levels) on a batch of the embedded
    2D domains; ``build()`` gives a fresh ``(step, state)`` (the same workload for the fp32 and precision entries)."""
    try:
        from posefast.data.image2d import make_domain
        from posefast.methods.multilevel import stage as mlmod
        from posefast.methods.multilevel.adain import build_style_transfer
        from posefast.methods.multilevel.steps import Augment, adapt_step
        from posefast.methods.multilevel.warp import AffineRanges
    except ImportError as exc:
        pytest.skip(f"the multi-level 2D method is not importable: {exc}")
    from posefast.cli.config import TrainConfig

    ml = TrainConfig().multilevel
    batch = 32
    src = make_domain("source", batch, ml.image_size, 0)
    tgt = make_domain("target", batch, ml.image_size, 0)
    source_batch = tuple(t.to(device) for t in (src.images, src.keypoints, src.visible))
    target_images = tgt.images.to(device)

    def build():
        torch.manual_seed(0)
        student = mlmod.build_pose_net(ml, src.num_keypoints).to(device)
        style = build_style_transfer(ml.adain_width).to(device).eval()
        stage = mlmod.Stage("multilevel", ("image", "feature", "pose"), student, 1e-3, ml, style)
        aug = Augment(AffineRanges(ml.rotation, ml.scale_min, ml.scale_max, ml.shear, ml.translate),
                      ml.color_jitter, ml.image_size, student.output_stride, ml.sigma)

        def step():
            adapt_step(stage, aug, ml, source_batch, target_images)
            _sync(device)

        return step, _State({"stage": stage})

    return batch, build


@pytest.mark.parametrize("device", DEVICES)
def test_multilevel_step(benchmark, device):
    require_device(device)
    batch, build = _multilevel_step_workload(device)
    _paired(benchmark, f"train/multilevel_step/batch-{batch}/{device}", device, 1, build)


# ---- precision: fp32 against bf16 (issue 27) ----------------------------------------------------------------------
# The same pairing as above, with the kernels on in both and the two instances differing only in the precision
# context the engine's epoch loop enters around a step (posefast.engine.precision). ``ratio_median`` is fp32 time
# over bf16 time (> 1: bf16 faster). The methods run with the jobs' default settings (lifter width -1: 512 on the
# CPU; multilevel's defaults at batch 32).
def _paired_precision(benchmark, group: str, device: str, steps_per_call: int, build) -> None:
    from posefast.engine.precision import FP32, resolve_precision

    bf16 = resolve_precision("bf16", device)
    precisions = {"fp32": FP32, "bf16": bf16}
    runs = {}
    for name, precision in precisions.items():
        call, state = build()
        with precision.networks():
            call()  # warm-up
        state.save()
        runs[name] = (call, state)
    times = {name: [] for name in precisions}
    turn = [0]

    def one_round():
        order = ("fp32", "bf16") if turn[0] % 2 == 0 else ("bf16", "fp32")
        turn[0] += 1
        for name in order:
            call, state = runs[name]
            state.restore()
            with precisions[name].networks():
                t = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - t)

    benchmark.group = group
    benchmark.pedantic(one_round, rounds=ROUNDS, warmup_rounds=0)
    a, b = statistics.median(times["fp32"]), statistics.median(times["bf16"])
    benchmark.extra_info.update(
        family="train", op=group.split("/")[1], impl="precision", device=device, steps_per_call=steps_per_call,
        threads=THREADS, load_1min=round(os.getloadavg()[0], 2), rounds=ROUNDS, bf16=bf16.describe(),
        fp32_median_s=a, bf16_median_s=b, fp32_iqr_s=_iqr(times["fp32"]), bf16_iqr_s=_iqr(times["bf16"]),
        ratio_median=statistics.median(x / y for x, y in zip(times["fp32"], times["bf16"])))
    print(f"\n{group}: fp32 {a * 1e3:.1f} ms, bf16 {b * 1e3:.1f} ms per call of {steps_per_call} step(s); "
          f"fp32/bf16 {benchmark.extra_info['ratio_median']:.2f}x (median of {ROUNDS} paired rounds, "
          f"{THREADS} thread(s))")


@pytest.mark.parametrize("device", DEVICES)
def test_precision_poseaug_step(benchmark, device):
    require_device(device)

    def build():
        cfg, method = _lifting("poseaug", device, **{"poseaug.warmup_epochs": 0})
        split = method.train_split(1)
        bs = cfg.batch_size

        def two_steps():  # one step with the discriminator update, one without
            for i in range(2):
                method.train_step({k: v[i * bs:(i + 1) * bs] for k, v in split.items()}, 1, i)
            _sync(device)

        return two_steps, _lifting_state(method)

    _paired_precision(benchmark, f"precision/poseaug_step/{device}", device, 2, build)


@pytest.mark.parametrize("device", DEVICES)
def test_precision_poseda_steps(benchmark, device):
    """PoseDA's LPA pass (8 generator/discriminator steps of 256) and one lifter step on its training split."""
    require_device(device)

    def build():
        cfg, method = _lifting("poseda", device, **{"poseda.lpa_epochs": 1, "poseda.lpa_batch_size": 256})
        method.begin_epoch(0)
        split = method.train_split(0)

        def lpa_and_lifter_step():
            method.train_lpa()
            method.train_step({k: v[:cfg.batch_size] for k, v in split.items()}, 0, 0)
            _sync(device)

        return lpa_and_lifter_step, _lifting_state(method)

    _paired_precision(benchmark, f"precision/poseda_lpa+lifter_step/{device}", device, 9, build)


@pytest.mark.parametrize("device", DEVICES)
def test_precision_multilevel_step(benchmark, device):
    require_device(device)
    batch, build = _multilevel_step_workload(device)
    _paired_precision(benchmark, f"precision/multilevel_step/batch-{batch}/{device}", device, 1, build)
