"""PoseDA: GPA pairing (target 2D only, one target camera per pose, re-drawn per epoch), the estimated-camera rule,
LPA (generator + anchor discriminator, no lifter feedback, generated once) and the ablation switches."""
import json

import pytest
import torch

from posefast.methods import lifting_method
from posefast.data.domains import load_domains, root_relative
from posefast.methods.poseda import estimate_camera
from posefast.ops import project
from posefast.cli.config import TrainConfig
from posefast.engine.distributed import DistContext


@pytest.fixture(scope="module")
def domains():
    return load_domains("synthetic:h36m", "synthetic:3dhp", "h36m16", "cpu", n_source=512, n_target=384,
                        n_test=64, seed=0)


def _method(name, data, **poseda):
    cfg = TrainConfig(method=name, backbone_width=64, epochs=2, batch_size=128, progress=False)
    cfg.poseda.lpa_epochs, cfg.poseda.lpa_batch_size = 1, 128
    for key, value in poseda.items():
        setattr(cfg.poseda, key, value)
    return lifting_method(name)(cfg, data, DistContext())


def test_estimate_camera_rule():
    cam = estimate_camera(torch.tensor([[1000.0, 1002.0], [2048.0, 2048.0], [640.0, 480.0]]))
    expected = torch.tensor([[1002.0, 1002.0, 500.0, 501.0], [2048.0, 2048.0, 1024.0, 1024.0],
                             [640.0, 640.0, 320.0, 240.0]])
    torch.testing.assert_close(cam, expected)


def test_target_train_never_carries_3d(domains):
    assert "joints_3d" not in domains.target_train
    assert "joints_3d" in domains.target_test  # evaluation only


def test_gpa_moves_each_pose_onto_its_paired_target_root(domains):
    method = _method("gpa", domains, gpa_align="pair")  # the release's depth: the paired target's 2D scale
    src = domains.source_train["joints_3d"]
    tgt = domains.target_train
    g = torch.Generator().manual_seed(3)
    aligned, uv = method.place(src, torch.arange(src.shape[0]), g)
    pick = torch.randint(0, tgt["joints_2d"].shape[0], (src.shape[0],), generator=torch.Generator().manual_seed(3))
    # the root-relative pose is untouched; only the root moves
    torch.testing.assert_close(root_relative(aligned), root_relative(src), atol=1e-5, rtol=0)
    # re-projected with the paired target's camera the root lands on the target's 2D root (inside the depth clamp)
    root_px = project(aligned, tgt["camera"][pick])[:, 0]
    inside = (aligned[:, 0, 2] > method.pc.depth_min + 1e-3) & (aligned[:, 0, 2] < method.pc.depth_max - 1e-3)
    assert inside.float().mean() > 0.9
    torch.testing.assert_close(root_px[inside], tgt["joints_2d"][pick][inside, 0], atol=1e-2, rtol=0)
    # the 2D scale follows the target's (exact under weak perspective; a few percent under full perspective)
    def box_scale(p):
        extent = p.amax(-2) - p.amin(-2)
        return extent.mean(-1)

    ratio = box_scale(project(aligned, tgt["camera"][pick]))[inside] / box_scale(tgt["joints_2d"][pick])[inside]
    assert (ratio - 1).abs().median() < 0.05
    assert torch.isfinite(uv).all() and uv.shape == (src.shape[0], 16, 2)


def test_gpa_uses_no_target_3d_and_no_source_camera(domains):
    """Poisoning everything GPA must not read leaves its output unchanged."""
    method = _method("gpa", domains)
    src = domains.source_train["joints_3d"]
    ref = method.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(1))
    poisoned = dict(domains.source_train, camera=torch.full_like(domains.source_train["camera"], float("nan")))
    method.data = type(domains)(**{**domains.__dict__, "source_train": poisoned})
    out = method.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(1))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_gpa_pairing_is_redrawn_per_epoch_and_reproducible(domains):
    method = _method("gpa", domains)
    e0, e0_again, e1 = method.train_split(0), method.train_split(0), method.train_split(1)
    torch.testing.assert_close(e0["joints_2d_norm"], e0_again["joints_2d_norm"], rtol=0, atol=0)
    assert not torch.allclose(e0["joints_2d_norm"], e1["joints_2d_norm"])
    torch.testing.assert_close(root_relative(e0["joints_3d"]), root_relative(e1["joints_3d"]), atol=1e-5, rtol=0)


def test_estimated_target_camera(domains):
    method = _method("gpa", domains, target_camera="estimate")
    torch.testing.assert_close(method.target_camera, estimate_camera(domains.target_train["image_size"]))
    split = method.train_split(0)
    assert torch.isfinite(split["joints_2d_norm"]).all()
    with pytest.raises(ValueError, match="poseda.target_camera"):
        _method("gpa", domains, target_camera="guess")


def test_ablation_switches(domains):
    gpa, lpa, full = _method("gpa", domains), _method("lpa", domains), _method("poseda", domains)
    assert (gpa.gpa, gpa.lpa) == (True, False) and "ba_head" not in gpa.modules()
    assert (lpa.gpa, lpa.lpa) == (False, True) and "anchor_d" in lpa.modules()
    assert (full.gpa, full.lpa) == (True, True) and set(full.optimizers()) == {"lifter", "generator", "anchor_d"}
    # LPA only: poses stay in their source camera, so their 2D is the source 2D
    src = domains.source_train
    n = src["joints_3d"].shape[0]
    _, uv = lpa.place(src["joints_3d"], torch.arange(n), torch.Generator().manual_seed(0))
    torch.testing.assert_close(uv, src["joints_2d_norm"], atol=1e-4, rtol=0)


def test_lpa_trains_generator_without_lifter_feedback_then_generates_once(domains):
    method = _method("poseda", domains, lpa_copies=2)
    lifter_before = {k: v.clone() for k, v in method.eval_lifter.state_dict().items()}
    heads_before = {k: v.clone() for k, v in method.ba_head.state_dict().items()}
    d_before = {k: v.clone() for k, v in method.anchor_d.state_dict().items()}
    method.begin_epoch(0)
    for k, v in method.eval_lifter.state_dict().items():  # LPA never touches the lifter
        torch.testing.assert_close(v, lifter_before[k], rtol=0, atol=0)
    assert any(not torch.equal(v, heads_before[k]) for k, v in method.ba_head.state_dict().items())
    assert any(not torch.equal(v, d_before[k]) for k, v in method.anchor_d.state_dict().items())

    src = domains.source_train["joints_3d"]
    n = src.shape[0]
    gen, origin = method.generated, method.generated_from
    assert gen.shape == (2 * n, 16, 3) and torch.equal(origin, torch.arange(n).repeat(2))
    assert torch.isfinite(gen).all()
    # local changes only: the root stays, bones change direction and (boundedly) length
    torch.testing.assert_close(gen[:, 0], src[origin][:, 0], atol=1e-5, rtol=0)
    moved = (gen - src[origin]).norm(dim=-1).mean()
    assert moved > 1e-3
    parents = torch.tensor(method.skeleton.parents[1:])
    bone = lambda p: (p[:, 1:] - p[:, parents]).norm(dim=-1)  # noqa: E731
    ratio = bone(gen) / bone(src[origin])
    assert ((ratio - 1).abs() < 0.5).all()

    generated = gen.clone()
    method.begin_epoch(1)  # generated once: later epochs reuse the same poses
    assert torch.equal(method.generated, generated)
    split = method.train_split(0)
    assert split["joints_3d"].shape[0] == 3 * n
    # state for resume
    restored = _method("poseda", domains, lpa_copies=2)
    restored.load_extra_state(method.extra_state())
    assert torch.equal(restored.generated, generated)


def test_lpa_generator_moves_fakes_towards_the_anchor_discriminator(domains):
    """One LPA epoch lowers the generator's adversarial loss against a frozen copy of the final discriminator
    relative to the untrained generator — the anchor discriminator is what shapes the generator."""
    from posefast.methods.losses import lsgan

    method = _method("poseda", domains)
    src = domains.source_train["joints_3d"]
    idx = torch.arange(256)

    def adv_loss():
        torch.manual_seed(7)  # the heads' noise
        with torch.no_grad():
            pose, _, _ = method.augment(src[idx])
            _, uv = method.place(pose, idx, torch.Generator().manual_seed(5))
            return float(lsgan(method.anchor_d(uv), True))

    torch.manual_seed(0)
    heads = {k: v.clone() for k, v in method.ba_head.state_dict().items()}, \
        {k: v.clone() for k, v in method.bl_head.state_dict().items()}
    method.pc.lpa_epochs = 3
    method.train_lpa()
    trained = adv_loss()
    method.ba_head.load_state_dict(heads[0])
    method.bl_head.load_state_dict(heads[1])
    untrained = adv_loss()
    assert trained < untrained


def test_samples_rows_follow_one_source_each(domains):
    """samples.png's PoseDA rows are made from the same source samples: row i of the GPA row is source i placed by
    GPA, row i of the LPA row is the first pose generated from source i, placed with the same target sample (its
    2D root lands where its source's does)."""
    method = _method("poseda", domains, lpa_copies=2)
    method.begin_epoch(0)
    groups = method.plot_groups(count=32)
    assert set(method.plot_paired) == set(groups) and method.plot_reference == {"LPA": "GPA-aligned source"}
    src = domains.source_train
    (s3d, s2d), (g3d, g2d), (l3d, l2d) = groups["source"], groups["GPA-aligned source"], groups["LPA"]
    assert s3d.shape == g3d.shape == l3d.shape == (32, 16, 3)
    torch.testing.assert_close(torch.as_tensor(s2d), src["joints_2d_norm"][:32])
    rel = lambda p: p - p[:, :1]  # noqa: E731
    torch.testing.assert_close(torch.as_tensor(rel(g3d)), root_relative(src["joints_3d"][:32]), atol=1e-5, rtol=0)
    # the generated copy 0 of source i is row i of generated (generate() writes copy 0 of every source first)
    torch.testing.assert_close(torch.as_tensor(rel(l3d)), root_relative(method.generated[:32]), atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.as_tensor(l2d[:, 0]), torch.as_tensor(g2d[:, 0]), atol=2e-3, rtol=0)
    # first_generated finds the first copy whatever the order
    method.generated_from = method.generated_from.flip(0)
    n = src["joints_3d"].shape[0]
    assert torch.equal(method.first_generated(torch.tensor([0, 5])), n - 1 - torch.tensor([0, 5]))  # [n-1..0, n-1..0]


def test_plot_samples_pairs_rows_and_checks_sizes(tmp_path):
    pytest.importorskip("matplotlib")
    from posefast.evaluation.plots import plot_samples
    from posefast.skeleton import get_skeleton

    sk = get_skeleton("h36m16")
    a = (torch.randn(10, 16, 3).numpy(), torch.rand(10, 16, 2).numpy())
    b = (torch.randn(10, 16, 3).numpy(), torch.rand(10, 16, 2).numpy())
    out = plot_samples({"a": a, "b": b}, sk, tmp_path / "s.png", paired=("a", "b"), reference={"b": "a"})
    assert out.exists()
    # a reference to a row this run does not have (GPA alone: no LPA row) is skipped
    assert plot_samples({"a": a, "b": b}, sk, tmp_path / "u.png", paired=("a", "b", "c"), reference={"c": "a"}).exists()
    short = (torch.randn(5, 16, 3).numpy(), torch.rand(5, 16, 2).numpy())
    with pytest.raises(ValueError, match="paired"):
        plot_samples({"a": a, "b": short}, sk, tmp_path / "t.png", paired=("a", "b"))


@pytest.mark.parametrize("anchor, modules", [("target2d-local", {"anchor_d"}), ("target2d", {"anchor_d"}),
                                             ("source3d", {"pose_d"}), ("both", {"anchor_d", "pose_d"})])
def test_anchor_readings_train_their_discriminators(domains, anchor, modules):
    """Each reading of the anchor discriminator builds its discriminator(s), trains them against the generator
    and reports their accuracies; the 3D one's real samples are source poses, the 2D ones' the target's 2D."""
    from posefast.models import AnchorDiscriminator, PartKCSDiscriminator, PoseDiscriminator2D

    method = _method("poseda", domains, anchor=anchor)
    assert modules == {k for k in method.modules() if k in ("anchor_d", "pose_d")}
    kinds = {"anchor_d": AnchorDiscriminator if anchor != "target2d" else PoseDiscriminator2D,
             "pose_d": PartKCSDiscriminator}
    before = {k: {n: v.clone() for n, v in method.modules()[k].state_dict().items()} for k in modules}
    for k in modules:
        assert isinstance(method.modules()[k], kinds[k])
    method.begin_epoch(0)
    for k in modules:
        assert any(not torch.equal(v, before[k][n]) for n, v in method.modules()[k].state_dict().items())
    diag = method.epoch_diagnostics()
    for k, name in (("anchor_d", "anchor"), ("pose_d", "kcs")):
        assert (f"{name}_acc_real" in diag) == (k in modules)
    assert {"lpa_change", "lpa_bl_ratio", "generated_change", "generated_angle_deg"} <= set(diag)
    assert diag["lpa_change"]["band"] == [0.0, 0.2]
    with pytest.raises(ValueError, match="poseda.anchor"):
        _method("poseda", domains, anchor="target3d")


def test_identity_init_starts_lpa_near_the_source_pose(domains):
    src = domains.source_train["joints_3d"][:128]
    torch.manual_seed(0)
    release = _method("poseda", domains, generator_init="release")
    torch.manual_seed(0)
    ident = _method("poseda", domains, generator_init="identity", generator_init_scale=0.0)
    for m in (release, ident):
        m.ba_head.eval(), m.bl_head.eval()
    with torch.no_grad():
        pose, change, ratio = ident.augment(src)
        torch.testing.assert_close(pose, src, atol=1e-5, rtol=0)
        assert float(change.abs().max()) < 1e-6 and float(ratio.abs().max()) == 0.0
        assert float(release.augment(src)[1].mean()) > 0.1  # Kaiming output layers: large changes at step 0
    with pytest.raises(ValueError, match="poseda.generator_init"):
        _method("poseda", domains, generator_init="zero")


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_generate_mode_sets_the_heads_batch_norm(domains, mode):
    """generate() produces what augment() gives with the heads in the chosen batch-norm mode (one chunk here)."""
    method = _method("poseda", domains, generate_mode=mode)
    src = domains.source_train["joints_3d"]
    torch.manual_seed(3)
    method.generate()
    method.ba_head.train(mode == "train"), method.bl_head.train(mode == "train")
    torch.manual_seed(3)
    with torch.no_grad():
        expected = method.augment(src)[0]
    torch.testing.assert_close(method.generated, expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="generate_mode"):
        _method("poseda", domains, generate_mode="test").generate()


class _Killed(Exception):
    pass


def test_resume_mid_epoch_matches_uninterrupted_run(domains, tmp_path):
    """A PoseDA run interrupted after its LPA phase, mid-epoch, continues from the checkpoint (generated poses,
    generator/discriminator/lifter state, RNG) to the same final metrics as a run that was never interrupted."""
    from posefast.engine.trainer import Trainer

    def make(out, resume=False):
        m = _method("poseda", domains)
        m.cfg.checkpoint_every, m.cfg.resume = 1, resume
        return m, Trainer(m.cfg, m, out)

    method, trainer = make(tmp_path / "full")
    full = trainer.fit()
    generated = method.generated

    method, trainer = make(tmp_path / "killed")
    real_step, calls = method.train_step, []

    def dying_step(batch, epoch, step):
        calls.append(step)
        if epoch == 1 and step == 2:
            raise _Killed
        return real_step(batch, epoch, step)

    method.train_step = dying_step
    with pytest.raises(_Killed):
        trainer.fit()
    method, trainer = make(tmp_path / "killed", resume=True)
    resumed = trainer.fit()
    assert resumed["target"] == full["target"] and resumed["source_test"] == full["source_test"]
    assert torch.equal(method.generated, generated)
    lines = (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(ln)["epoch"] for ln in lines] == [0, 1]


def test_the_shipped_anchor_reading_is_both():
    """The default reading of the anchor discriminator (docs/results.md, the factor table: the one that works across
    the single-factor targets and the full pair): the source-3D part-KCS discriminator for "reality" and the
    target-2D local-shape anchor for "quality"."""
    from posefast.methods.poseda_config import PoseDAConfig

    assert PoseDAConfig().anchor == "both" and TrainConfig().poseda.anchor == "both"
