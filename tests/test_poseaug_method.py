"""PoseAug's training step: the RT root-depth floor keeps augmented poses off the camera plane, so the 2D
discriminator sees bounded inputs; 0 reproduces the release."""
import math

import pytest
import torch

from posefast.methods import lifting_method
from posefast.data.domains import load_domains
from posefast.cli.config import TrainConfig
from posefast.engine.distributed import DistContext


@pytest.fixture(scope="module")
def domains():
    return load_domains("synthetic:h36m", "synthetic:3dhp", "h36m16", "cpu", n_source=256, n_target=64, n_test=32,
                        seed=0)


def _poseaug(data, **poseaug):
    cfg = TrainConfig(method="poseaug", backbone_width=64, epochs=4, batch_size=64, progress=False)
    for key, value in poseaug.items():
        setattr(cfg.poseaug, key, value)
    return lifting_method("poseaug")(cfg, data, DistContext())


def test_root_depth_floor_bounds_the_augmented_2d(domains):
    method = _poseaug(domains, warmup_epochs=0)
    split = method.train_split(0)
    for step in range(3):
        batch = {k: v[step * 64:(step + 1) * 64] for k, v in split.items()}
        losses = method.train_step(batch, epoch=0, step=step)
        assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
        assert losses["adv_2d"] < 100.0  # floor 0 (release): ~1e12 here; 1 m: 3e7 in a full run
        rt, uv = method._last_aug
        assert (rt[:, 0, 2] >= method.pc.min_root_depth).all()
        assert torch.isfinite(uv).all() and uv.abs().max() < 50


def test_zero_floor_reproduces_the_release(domains):
    method = _poseaug(domains, min_root_depth=0.0)
    assert torch.equal(method.depth_floor, torch.zeros(3))


def test_rotation_angle_folds_axis_angle_norms_into_0_180():
    from posefast.methods.diagnostics import rotation_angle_deg

    axis = torch.tensor([0.0, 0.6, 0.8])
    norms = torch.tensor([0.0, 0.5, torch.pi, 1.5 * torch.pi, 2 * torch.pi + 0.25, torch.pi * 3 ** 0.5])
    got = rotation_angle_deg(norms[:, None] * axis)
    expected = torch.rad2deg(torch.tensor([0.0, 0.5, torch.pi, 0.5 * torch.pi, 0.25, 2 * torch.pi - torch.pi * 3 ** 0.5]))
    torch.testing.assert_close(got, expected)


def test_epoch_distributions_summarise_and_round_trip():
    from posefast.methods.diagnostics import EpochDistributions, real_fake_accuracy

    d = EpochDistributions(per_step=4)
    d.add("x", torch.arange(10.0), band=(1.0, 2.0))  # only the first 4 values of a step are kept
    d.add("x", torch.tensor([3.0, float("nan")]))
    copy = EpochDistributions()
    copy.load_state_dict(d.state_dict())
    for summary in (d.summary(), copy.summary()):
        assert summary["x"]["mean"] == pytest.approx(1.8) and summary["x"]["p50"] == pytest.approx(2.0)
        assert summary["x"]["band"] == [1.0, 2.0] and summary["x"]["in_band"] == pytest.approx(0.4)
    assert d.summary() == {}  # a summary starts the next epoch
    real, fake = real_fake_accuracy(torch.tensor([[0.9, 0.2], [0.6, 0.7]]), torch.tensor([[0.1], [0.8]]))
    torch.testing.assert_close(real, torch.tensor([0.5, 1.0], dtype=torch.float64))
    torch.testing.assert_close(fake, torch.tensor([1.0, 0.0], dtype=torch.float64))


def test_diagnostics_reach_metrics_jsonl_and_their_plot(tmp_path):
    import json

    from posefast.cli.train import run_lifting

    cfg = TrainConfig(method="poseaug", backbone_width=64, epochs=2, batch_size=64, progress=False, n_source=256,
                      n_target=128, n_test=64, out=str(tmp_path / "run"))
    cfg.poseaug.warmup_epochs = 1
    cfg.poseaug.beta_rt_center, cfg.poseaug.beta_rt_width = 17.0, 15.0  # the release's RT band
    run_lifting(cfg, "poseaug")
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    warm, adapt = lines[0]["diagnostics"], lines[1]["diagnostics"]
    assert "hardness_ba" not in warm and "hardness_ba" in adapt  # the lifter's feedback starts after warm-up
    assert adapt["hardness_rt"]["band"] == [2.0, 32.0] and 0 <= adapt["hardness_rt"]["in_band"] <= 1
    for name in ("rt_angle_deg", "root_depth_m", "ba_change", "bl_ratio_abs", "d3d_acc_real", "d2d_acc_fake"):
        assert name in warm and name in adapt
    assert 0 <= warm["rt_angle_deg"]["p10"] <= warm["rt_angle_deg"]["p90"] <= 180
    assert warm["root_depth_m"]["p10"] >= cfg.poseaug.min_root_depth
    assert 0 <= adapt["dropped"]["mean"] <= 1 and 0 <= adapt["d3d_acc_real"]["mean"] <= 1
    assert (tmp_path / "run" / "diagnostics.png").exists()


def test_identity_init_and_rotation_limit_reach_the_augmentor(domains):
    from posefast.methods.diagnostics import rotation_angle_deg

    release = _poseaug(domains, generator_init="release", rotation_limit_deg=180.0, translation_limit_m=0.0)
    ident = _poseaug(domains, generator_init="identity", generator_init_scale=0.0, rotation_limit_deg=30.0)
    src = domains.source_train["joints_3d"][:64]
    params = ident.augmentor(src - src[:, :1])
    assert torch.equal(params["rotvec"], torch.zeros_like(params["rotvec"]))
    # the root starts at the source's mean root (the floor added back)
    root = params["translation"][0] + ident.depth_floor
    torch.testing.assert_close(root, domains.source_train["joints_3d"][:, 0].mean(0), atol=1e-4, rtol=0)
    assert ident._augmentor.rt.rotation_limit == pytest.approx(math.radians(30))
    assert rotation_angle_deg(release.augmentor(src - src[:, :1])["rotvec"]).median() > 60
    for bad in ({"generator_init": "zero"}, {"rotation_limit_deg": 0.0}, {"rotation_limit_deg": 200.0}):
        with pytest.raises(ValueError, match="poseaug"):
            _poseaug(domains, **bad)


def test_translation_limit_keeps_the_root_near_the_source(domains):
    method = _poseaug(domains, generator_init="identity", translation_limit_m=0.5)
    with torch.no_grad():
        method._augmentor.rt.translation_mlp.net[-1].weight.mul_(1e4)  # saturate the tanh
    src = domains.source_train["joints_3d"][:64]
    root = method.augmentor(src - src[:, :1])["translation"] + method.depth_floor
    mean_root = domains.source_train["joints_3d"][:, 0].mean(0)
    assert ((root - mean_root).abs() <= 0.5 + 1e-4).all()
    assert ((root - mean_root).abs() > 0.49).any()
    with pytest.raises(ValueError, match="translation_limit_m"):
        _poseaug(domains, translation_limit_m=-1.0)


@pytest.mark.parametrize("lifter_real", ["original", "swapped"])
def test_lifter_real_pairs(domains, lifter_real):
    """The GAN sees the template-swapped source; the lifter's real pairs are the source's own poses (as released)
    or, with lifter_real="swapped", the swapped ones."""
    method = _poseaug(domains, lifter_real=lifter_real)
    split = method.train_split(0)
    assert not torch.allclose(split["joints_3d"], domains.source_train["joints_3d"])
    own = split["real_joints_3d"] is domains.source_train["joints_3d"] or torch.equal(
        split["real_joints_3d"], domains.source_train["joints_3d"])
    assert own == (lifter_real == "original")
    if lifter_real == "swapped":
        assert torch.equal(split["real_joints_2d_norm"], split["joints_2d_norm"])
    with pytest.raises(ValueError, match="lifter_real"):
        _poseaug(domains, lifter_real="target")


def test_bl_tanh_limit_bounds_the_length_ratios(domains):
    method = _poseaug(domains, bl_tanh_limit=0.05)
    assert method._augmentor.bl.tanh_limit == pytest.approx(0.05)
    with torch.no_grad():
        method._augmentor.bl.mlp.net[-1].weight.mul_(1e3)
    src = domains.source_train["joints_3d"][:64]
    ratio = method.augmentor(src - src[:, :1])["ratio"]
    assert ratio.abs().max() <= 0.05 + 1e-6 and ratio.abs().max() > 0.049
    with pytest.raises(ValueError, match="bl_tanh_limit"):
        _poseaug(domains, bl_tanh_limit=1.5)


def _lifter_pairs(method, batch, epoch):
    """The (2D, 3D) pairs the lifter's step receives in one train_step."""
    seen = {}
    step = method.lifter_step

    def capture(x, y, grad_clip=0.0):
        seen["x"], seen["y"] = x, y
        return step(x, y, grad_clip)

    method.lifter_step = capture
    method.train_step(batch, epoch=epoch, step=0)
    return seen.get("x"), seen.get("y")  # None under lifter_schedule="release" (the lifter learns at the epoch's end)


@pytest.mark.parametrize("schedule", ["joint", "release"])
def test_augment_none_feeds_the_lifter_the_source_pairs_twice(domains, schedule):
    """The pipeline's control: no operation and no template swap make every fake exactly its source pair, so the
    lifter's batch ("joint") or fake pass ("release") is the source batch again (same 2D normalisation, same
    root-relative 3D frame)."""
    method = _poseaug(domains, augment="none", template_swap=False, warmup_epochs=0, lifter_schedule=schedule,
                      generator_init="release", translation_limit_m=0.0)  # released heads: far from the identity
    batch = {k: v[:64] for k, v in method.train_split(0).items()}
    x, y = _lifter_pairs(method, batch, epoch=0)
    src_2d, src_3d = domains.source_train["joints_2d_norm"][:64], domains.source_train["joints_3d"][:64]
    if schedule == "joint":
        assert x.shape[0] == 128
        torch.testing.assert_close(x[:64], src_2d)
        fake_2d, fake_3d = x[64:], y[64:]
    else:
        assert x is None
        (fake_2d, fake_3d), = method._fakes
    torch.testing.assert_close(fake_2d, src_2d, atol=1e-5, rtol=0)
    torch.testing.assert_close(fake_3d, src_3d - src_3d[:, :1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("augment, moved", [("ba", {"ba"}), ("bl", {"bl"}), ("rt", {"rt"}), ("ba,rt", {"ba", "rt"}),
                                            ("ba,bl,rt", {"ba", "bl", "rt"})])
def test_augment_applies_only_the_named_operations(domains, augment, moved):
    method = _poseaug(domains, augment=augment, template_swap=False, warmup_epochs=0, generator_init="release",
                      translation_limit_m=0.0)
    batch = {k: v[:64] for k, v in method.train_split(0).items()}
    heads = {"ba": method._augmentor.ba, "bl": method._augmentor.bl, "rt": method._augmentor.rt}
    before = {k: [p.detach().clone() for p in h.parameters()] for k, h in heads.items()}
    _lifter_pairs(method, batch, epoch=0)
    fake = method._last_aug[0]  # every RT pose of the batch, before the out-of-frame ones are dropped
    src = batch["joints_3d"]
    parents = torch.as_tensor(method.skeleton.parents_array[1:].copy())
    bones = lambda p: (p[:, 1:] - p[:, parents]).norm(dim=-1)  # noqa: E731
    directions = lambda p: torch.nn.functional.normalize(p[:, 1:] - p[:, parents], dim=-1)  # noqa: E731
    # a left-out operation leaves its head's weights where they were (zero gradients, no Adam step)
    for k, h in heads.items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[k], h.parameters()))
        assert changed == (k in moved), k
    same_lengths = torch.allclose(bones(fake), bones(src), atol=1e-4)
    assert same_lengths == ("bl" not in moved)  # BA and RT keep every bone's length
    same_place = torch.allclose(fake[:, 0], src[:, 0], atol=1e-4)
    assert same_place == ("rt" not in moved)
    if moved <= {"bl"}:  # no BA, no rotation: every bone keeps its direction
        torch.testing.assert_close(directions(fake), directions(src), atol=1e-4, rtol=0)
    else:
        assert not torch.allclose(directions(fake), directions(src), atol=1e-3)


def test_augment_rejects_unknown_operations(domains):
    for bad in ("", "ba,ba", "ba,xx", "none,ba"):
        with pytest.raises(ValueError, match="poseaug.augment"):
            _poseaug(domains, augment=bad)


def test_release_lifter_schedule_trains_after_the_gan_epoch_fakes_then_reals(domains):
    """lifter_schedule="release": no lifter step during the GAN steps; at the epoch's end one pass over the
    epoch's in-frame fakes, then one over the real pairs, never mixed in one batch; none in warm-up."""
    method = _poseaug(domains, lifter_schedule="release", warmup_epochs=1, augment="none", template_swap=False)
    calls = []
    step = method.lifter_step

    def record(x, y, grad_clip=0.0):
        calls.append((x.clone(), y.clone()))
        return step(x, y, grad_clip)

    method.lifter_step = record
    split = method.train_split(0)
    lifter = [p.detach().clone() for p in method._lifter.parameters()]
    for epoch in range(2):
        split = method.train_split(epoch)
        for s in range(2):
            method.train_step({k: v[s * 64:(s + 1) * 64] for k, v in split.items()}, epoch=epoch, step=s)
        assert not calls and all(torch.equal(a, b) for a, b in zip(lifter, method._lifter.parameters()))
        method.end_epoch(epoch)
        if epoch == 0:  # warm-up: the release trains only the GAN
            assert not calls
    # 128 fakes (augment none: the source pairs of the two batches) in 2 steps, then 256 real pairs in 4
    assert [c[0].shape[0] for c in calls] == [64, 64, 64, 64, 64, 64]
    fakes = torch.cat([c[0] for c in calls[:2]])
    src = domains.source_train["joints_2d_norm"]
    assert sorted(fakes.flatten(1).sum(1).tolist()) == pytest.approx(sorted(src[:128].flatten(1).sum(1).tolist()),
                                                                     abs=1e-4)
    reals = torch.cat([c[0] for c in calls[2:]])
    assert sorted(reals.flatten(1).sum(1).tolist()) == pytest.approx(sorted(src.flatten(1).sum(1).tolist()),
                                                                     abs=1e-4)
    assert not any(torch.equal(a, b) for a, b in zip(lifter, method._lifter.parameters()))
    with pytest.raises(ValueError, match="lifter_schedule"):
        _poseaug(domains, lifter_schedule="late")


def test_release_lifter_schedule_keeps_its_fakes_in_checkpoints(domains):
    method = _poseaug(domains, lifter_schedule="release", warmup_epochs=0)
    split = method.train_split(0)
    method.train_step({k: v[:64] for k, v in split.items()}, epoch=0, step=0)
    state = method.extra_state()
    other = _poseaug(domains, lifter_schedule="release", warmup_epochs=0)
    other.load_extra_state(state)
    assert len(other._fakes) == 1 and torch.equal(other._fakes[0][0], method._fakes[0][0])
    method.end_epoch(0)
    assert "fakes_2d" not in method.extra_state()


def test_translation_origin_own_displaces_each_pose_from_its_own_root(domains):
    """translation_origin="own": the bounded RT root is the pose's own root plus at most translation_limit_m per
    axis (at the identity initialisation exactly its own root), so fakes keep the source's spread of positions."""
    src = domains.source_train["joints_3d"][:64]
    ident = _poseaug(domains, translation_origin="own", generator_init="identity", generator_init_scale=0.0,
                     translation_limit_m=0.5, warmup_epochs=0, template_swap=False)
    batch = {k: v[:64] for k, v in ident.train_split(0).items()}
    _lifter_pairs(ident, batch, epoch=0)
    rt = ident._last_aug[0]
    torch.testing.assert_close(rt[:, 0], src[:, 0], atol=1e-5, rtol=0)
    method = _poseaug(domains, translation_origin="own", translation_limit_m=0.5, warmup_epochs=0,
                      template_swap=False)
    with torch.no_grad():
        method._augmentor.rt.translation_mlp.net[-1].weight.mul_(1e4)  # saturate the tanh
    _lifter_pairs(method, {k: v[:64] for k, v in method.train_split(0).items()}, epoch=0)
    shift = (method._last_aug[0][:, 0] - src[:, 0]).abs()
    assert (shift <= 0.5 + 1e-4).all() and (shift > 0.49).any()
    mean_origin = _poseaug(domains, generator_init="identity", generator_init_scale=0.0, warmup_epochs=0,
                           template_swap=False)
    _lifter_pairs(mean_origin, {k: v[:64] for k, v in mean_origin.train_split(0).items()}, epoch=0)
    assert not torch.allclose(mean_origin._last_aug[0][:, 0], src[:, 0], atol=1e-2)  # all near the mean root
    for bad in ({"translation_origin": "target"}, {"translation_origin": "own", "translation_limit_m": 0.0}):
        with pytest.raises(ValueError, match="translation_origin"):
            _poseaug(domains, **bad)


def test_release_lifter_schedule_refuses_several_processes(domains):
    cfg = TrainConfig(method="poseaug", backbone_width=64, epochs=4, batch_size=64, progress=False)
    with pytest.raises(ValueError, match="lifter_schedule"):
        lifting_method("poseaug")(cfg, domains, DistContext(world_size=2))


@pytest.mark.parametrize("bad", [{"warmup_steps": -1}, {"discriminator_every": 0}, {"pool_size": 0},
                                 {"warmup_steps": 2.5}, {"beta_width": 0.0}, {"beta_rt_width": -1.0}])
def test_schedule_settings_are_checked(domains, bad):
    (key, _), = bad.items()
    with pytest.raises(ValueError, match=f"poseaug.{key}"):
        _poseaug(domains, **bad)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_warmup_steps_train_only_the_gan_before_the_first_epoch(domains):
    """poseaug.warmup_steps: that many generator steps (and a discriminator step every discriminator_every) before
    the first epoch, none after; the lifter untouched, no feedback; the diagnostics under warmup_ in epoch 0."""
    method = _poseaug(domains, warmup_steps=7, discriminator_every=3, lifter_schedule="release")
    lifter, gen, d2d = _params(method._lifter), _params(method._augmentor), _params(method._d2d)
    d_steps = []
    step = method.opt_d.step
    method.opt_d.step = lambda *a, **k: (d_steps.append(1), step(*a, **k))[1]
    feedback = []
    fb = method._feedback
    method._feedback = lambda *a, **k: (feedback.append(1), fb(*a, **k))[1]
    method.begin_epoch(0)
    assert method.step_count == 7 and len(d_steps) == 3  # steps 0, 3, 6
    assert not feedback and not method._fakes
    assert _same(lifter, method._lifter.parameters())
    assert not _same(gen, method._augmentor.parameters()) and not _same(d2d, method._d2d.parameters())
    after = _params(method._augmentor)
    method.begin_epoch(1)  # once only
    assert method.step_count == 7 and _same(after, method._augmentor.parameters())
    diag = method.epoch_diagnostics()
    assert "warmup_rt_angle_deg" in diag and "warmup_d2d_acc_fake" in diag and "rt_angle_deg" not in diag
    assert "warmup_rt_angle_deg" not in method.epoch_diagnostics()  # reported with the first epoch only
    # 7 steps of 64 over 256 source poses: two passes (4 + 3 steps), each with its own template swap
    none = _poseaug(domains, warmup_steps=0)
    none.begin_epoch(0)
    assert none.step_count == 0 and none.warmed_up


def test_warmup_steps_repeat_and_survive_a_checkpoint(domains):
    a, b = _poseaug(domains, warmup_steps=5), _poseaug(domains, warmup_steps=5)
    for m in (a, b):
        torch.manual_seed(3)
        m.begin_epoch(0)
    assert _same(_params(a._augmentor), b._augmentor.parameters()) and _same(_params(a._d3d), b._d3d.parameters())
    assert torch.equal(a.pool_2d.items, b.pool_2d.items)
    state = a.extra_state()
    c = _poseaug(domains, warmup_steps=5)
    c.load_extra_state(state)
    c.begin_epoch(0)  # a resumed run does not warm up again
    assert c.step_count == 5 and c.epoch_diagnostics().keys() == a.epoch_diagnostics().keys()


@pytest.mark.parametrize("every", [1, 2, 4])
def test_discriminator_every_sets_the_discriminator_steps(domains, every):
    method = _poseaug(domains, discriminator_every=every, warmup_epochs=1)
    calls = []
    step = method.opt_d.step
    method.opt_d.step = lambda *a, **k: (calls.append(1), step(*a, **k))[1]
    split = method.train_split(0)
    for s in range(4):
        method.train_step({k: v[s * 64:(s + 1) * 64] for k, v in split.items()}, epoch=0, step=s)
    assert len(calls) == len(range(0, 4, every))


def test_pool_size_is_the_discriminators_history(domains):
    method = _poseaug(domains, pool_size=100, warmup_epochs=1)
    assert method.pool_2d.size == 100 and method.pool_3d.size == 100
    split = method.train_split(0)
    method.train_step({k: v[:64] for k, v in split.items()}, epoch=0, step=0)
    method.train_step({k: v[64:128] for k, v in split.items()}, epoch=0, step=1)
    method.train_step({k: v[128:192] for k, v in split.items()}, epoch=0, step=2)
    assert method.pool_2d.count == 100  # full after the second discriminator step (64 + 36 of the next batch)


def test_default_hardness_bands_and_the_feedback_they_set(domains):
    """Default bands 1.5 ± 0.5 (the release's 3 → 5 ± 2 and 17 ± 15 are settings): the band the feedback's range
    loss holds each hardness ratio in, so a pose as hard as the release asks for is pushed back by the default."""
    from posefast.methods.losses import range_loss

    pc = _poseaug(domains).pc
    assert (pc.beta_start, pc.beta_end, pc.beta_width, pc.beta_rt_center, pc.beta_rt_width) == (1.5, 1.5, 0.5, 1.5, 0.5)
    ratio = torch.tensor([1.5, 3.0, 17.0])
    assert range_loss(ratio[:1], pc.beta_rt_center, pc.beta_rt_width) == 0
    assert range_loss(ratio[1:], pc.beta_rt_center, pc.beta_rt_width) > 0
    assert range_loss(ratio[1:], 17.0, 15.0) == 0
    method = _poseaug(domains, warmup_epochs=0)
    release = _poseaug(domains, warmup_epochs=0, beta_start=3.0, beta_end=5.0, beta_width=2.0, beta_rt_center=17.0,
                       beta_rt_width=15.0)
    batch = {k: v[:64] for k, v in method.train_split(0).items()}
    torch.manual_seed(0)
    a = method.train_step(batch, epoch=0, step=0)["feedback"]
    torch.manual_seed(0)
    b = release.train_step({k: v[:64] for k, v in release.train_split(0).items()}, epoch=0, step=0)["feedback"]
    assert a != b  # the bands reach the generator's loss
