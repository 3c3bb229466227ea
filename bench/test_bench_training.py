"""End-to-end training steps with ``use_kernels(True)`` against ``use_kernels(False)`` (the same step on the twins).

* PoseAug: ``PoseAug.train_step`` after warm-up (generator + feedback, the discriminators every second step, lifter)
  with the default ``TrainConfig`` (SimpleBaseline lifter of width 1024, batch 256) and with a narrow lifter (width
  128), which shows how much of a step the pose ops are once the lifter is cheap. One timed call = 2 steps (one
  with, one without the discriminator update).
* PoseDA: ``PoseDA.train_lpa`` for one pass over 2048 source poses (8 LPA generator/anchor-discriminator steps of
  256: BA/BL heads, ``bone_angle_augment``, ``bone_length_augment``, GPA, projection).
* Multi-level 2D: ``adapt_step`` of the full method (AdaIN image level, GRL patch discriminator, information
  maximisation, mean teacher) at the default 64 px crops, batch 32.
"""
import pytest
import torch

from workloads import DEVICES, THREADS, require_device, require_extension

posefast = require_extension()

IMPLS = [pytest.param(True, id="kernels"), pytest.param(False, id="twins")]


def _run(benchmark, group: str, kernels: bool, device: str, steps_per_call: int, call) -> None:
    import os

    with posefast.use_kernels(kernels):
        call()  # warm-up: first-call allocations, the optimisers' state
        benchmark.group = group
        benchmark.extra_info.update(family="train", op=group.split("/")[1], impl="kernels" if kernels else "twins",
                                    device=device, steps_per_call=steps_per_call, threads=THREADS,
                                    load_1min=round(os.getloadavg()[0], 2))
        benchmark(call)


def _sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


# ---- lifting methods ---------------------------------------------------------------------------------------------
def _lifting(method: str, device: str, **overrides):
    from posefast.methods import lifting_method, load_domains
    from posefast.train.checkpoint import seed_everything
    from posefast.train.config import TrainConfig
    from posefast.train.distributed import DistContext

    cfg = TrainConfig(method=method, n_source=2048, n_target=1024, n_test=256, epochs=2, progress=False,
                      device=device)
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        setattr(getattr(cfg, section) if section else cfg, name, value)
    data = load_domains(cfg.source, cfg.target, cfg.skeleton, device, cfg.n_source, cfg.n_target, cfg.n_test, 0)
    seed_everything(0)
    return cfg, lifting_method(method)(cfg, data, DistContext(device=torch.device(device)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("width", [0, 128], ids=["lifter-default", "lifter-128"])
@pytest.mark.parametrize("kernels", IMPLS)
def test_poseaug_step(benchmark, kernels, width, device):
    require_device(device)
    cfg, method = _lifting("poseaug", device, backbone_width=width, **{"poseaug.warmup_epochs": 0})
    with posefast.use_kernels(kernels):
        split = method.train_split(1)
    bs, n = cfg.batch_size, split["joints_3d"].shape[0]
    counter = [0]

    def two_steps():
        for _ in range(2):
            i = counter[0] % (n // bs)
            method.train_step({k: v[i * bs:(i + 1) * bs] for k, v in split.items()}, 1, counter[0])
            counter[0] += 1
        _sync(device)

    label = "default" if width == 0 else str(width)
    _run(benchmark, f"train/poseaug_step/lifter-{label}/{device}", kernels, device, 2, two_steps)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernels", IMPLS)
def test_poseda_lpa_steps(benchmark, kernels, device):
    require_device(device)
    cfg, method = _lifting("poseda", device, **{"poseda.lpa_epochs": 1, "poseda.lpa_batch_size": 256})
    steps = cfg.n_source // cfg.poseda.lpa_batch_size

    def lpa_pass():
        method.train_lpa()
        _sync(device)

    _run(benchmark, f"train/poseda_lpa_step/{device}", kernels, device, steps, lpa_pass)


# ---- multi-level 2D ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernels", IMPLS)
def test_multilevel_step(benchmark, kernels, device):
    require_device(device)
    try:
        from posefast.data2d import make_domain
        from posefast.methods import multilevel as mlmod
        from posefast.methods.multilevel_adain import build_style_transfer
        from posefast.methods.multilevel_train import Augment, adapt_step
        from posefast.methods.multilevel_warp import AffineRanges
    except ImportError as exc:
        pytest.skip(f"the multi-level 2D method is not importable: {exc}")
    from posefast.train.config import TrainConfig

    ml = TrainConfig().multilevel
    batch = 32
    torch.manual_seed(0)
    src = make_domain("source", batch, ml.image_size, 0)
    tgt = make_domain("target", batch, ml.image_size, 0)
    student = mlmod.build_pose_net(ml, src.num_keypoints).to(device)
    style = build_style_transfer(ml.adain_width).to(device).eval()
    stage = mlmod.Stage("multilevel", ("image", "feature", "pose"), student, 1e-3, ml, style)
    aug = Augment(AffineRanges(ml.rotation, ml.scale_min, ml.scale_max, ml.shear, ml.translate), ml.color_jitter,
                  ml.image_size, student.output_stride, ml.sigma)
    source_batch = tuple(t.to(device) for t in (src.images, src.keypoints, src.visible))
    target_images = tgt.images.to(device)

    def step():
        adapt_step(stage, aug, ml, source_batch, target_images)
        _sync(device)

    _run(benchmark, f"train/multilevel_step/batch-{batch}/{device}", kernels, device, 1, step)
