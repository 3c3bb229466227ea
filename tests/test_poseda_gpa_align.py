"""GPA's placement readings (``poseda.gpa_align``): "pair" (the release: the paired target pose's root, at the depth
giving its 2D scale), "matched-depth" (the paired root, the source pose's own depth mapped onto the target's depth
distribution) and "matched" (the source pose's own root ray and depth, both mapped onto the target's distributions
estimated from its 2D), and the closed-form pieces they use."""
import math

import pytest
import torch

from posefast.cli.config import TrainConfig
from posefast.data.domains import load_domains, root_relative
from posefast.engine.distributed import DistContext
from posefast.methods import lifting_method
from posefast.methods.poseda import log_depth_moments, matched_depth, matched_ray, place_root, ray_moments
from posefast.ops import global_position_align, project


@pytest.fixture(scope="module")
def domains():
    return load_domains("synthetic:h36m", "synthetic:h36m+position", "h36m16", "cpu", n_source=2048,
                        n_target=2048, n_test=64, seed=0)


def _gpa(data, **poseda):
    cfg = TrainConfig(method="gpa", backbone_width=64, epochs=1, batch_size=128, progress=False)
    for key, value in poseda.items():
        setattr(cfg.poseda, key, value)
    return lifting_method("gpa")(cfg, data, DistContext())


def _angular_box(uv, camera):
    box = uv.amax(-2) - uv.amin(-2)
    return (box[..., 0] / camera[..., 0] + box[..., 1] / camera[..., 1]) / 2


def _extent(joints_3d):
    return (joints_3d[..., :2].amax(-2) - joints_3d[..., :2].amin(-2)).mean(-1)


def _moved(src, factor):
    """The source poses moved along their camera ray to ``factor`` times their depth, and their pixel 2D."""
    rel = root_relative(src["joints_3d"])
    moved = rel + src["joints_3d"][:, :1] * factor
    return moved, project(moved, src["camera"])


def test_moments_of_a_target_that_is_the_source_map_depth_to_itself(domains):
    src = domains.source_train
    mu_s, sd_s, mu_t, sd_t = moments = log_depth_moments(src["joints_3d"], src["joints_2d"], src["camera"])
    logz = src["joints_3d"][:, 0, 2].double().log()
    assert mu_s == pytest.approx(float(logz.mean())) and sd_s == pytest.approx(float(logz.std()))
    # estimated from the 2D alone, the source's own depth distribution comes back (weak perspective, 2D noise)
    assert abs(mu_t - mu_s) < 0.03 and abs(sd_t - sd_s) < 0.03
    z = src["joints_3d"][:, 0, 2]
    assert ((matched_depth(z, moments) / z - 1).abs().median()) < 0.05


def test_moments_follow_a_target_filmed_twice_as_far(domains):
    src = domains.source_train
    near = log_depth_moments(src["joints_3d"], src["joints_2d"], src["camera"])
    _, uv = _moved(src, 2.0)
    far = log_depth_moments(src["joints_3d"], uv, src["camera"])
    assert far[2] - near[2] == pytest.approx(math.log(2.0), abs=0.02)
    assert far[3] == pytest.approx(near[3], abs=0.02)  # the spread of log depth is unchanged by a common factor
    z = src["joints_3d"][:, 0, 2]
    assert ((matched_depth(z, far) / (2 * z) - 1).abs().median()) < 0.05


def test_matched_depth_is_monotone_and_exact_on_its_moments():
    z = torch.tensor([2.0, 3.0, 4.0, 6.0], dtype=torch.float64)
    torch.testing.assert_close(matched_depth(z, (1.0, 0.5, 1.0, 0.5)), z)
    out = matched_depth(z, (math.log(3.0), 0.2, math.log(5.0), 0.4))
    torch.testing.assert_close(out, 5.0 * (z / 3.0) ** 2)  # log-affine: ratio of spreads is the exponent
    assert (out.diff() > 0).all()
    # a source without depth spread goes to the target's typical depth; a target without spread likewise
    torch.testing.assert_close(matched_depth(z, (1.0, 0.0, math.log(4.0), 0.3)), torch.full_like(z, 4.0))
    torch.testing.assert_close(matched_depth(z, (1.0, 0.3, math.log(4.0), 0.0)), torch.full_like(z, 4.0))


def test_moments_ignore_degenerate_samples_and_refuse_when_nothing_is_left(domains):
    src = domains.source_train
    ref = log_depth_moments(src["joints_3d"], src["joints_2d"], src["camera"])
    uv = src["joints_2d"].clone()
    uv[:5] = uv[:5, :1]  # collapsed boxes (zero scale) carry no depth information
    uv[5, 3, 0] = float("nan")
    out = log_depth_moments(src["joints_3d"], uv, src["camera"])
    assert out[2] == pytest.approx(ref[2], abs=0.01) and math.isfinite(out[3])
    with pytest.raises(ValueError, match="target 2D scale"):
        log_depth_moments(src["joints_3d"], uv[:, :1].expand_as(uv), src["camera"])
    bad = src["joints_3d"].clone()
    bad[:, 0, 2] = -1.0
    with pytest.raises(ValueError, match="source root depth"):
        log_depth_moments(bad, src["joints_2d"], src["camera"])


def test_place_root_puts_the_root_on_its_ray_and_has_exact_gradients():
    g = torch.Generator().manual_seed(0)
    joints = torch.randn(6, 16, 3, generator=g, dtype=torch.float64) * 0.3 + torch.tensor([0.0, 0.0, 5.0],
                                                                                          dtype=torch.float64)
    camera = torch.tensor([1500.0, 1490.0, 1017.0, 1043.0], dtype=torch.float64).repeat(6, 1)
    root_2d = torch.rand(6, 2, generator=g, dtype=torch.float64) * 2000
    depth = torch.rand(6, generator=g, dtype=torch.float64) * 4 + 2
    out = place_root(joints, root_2d, depth, camera)
    torch.testing.assert_close(root_relative(out), root_relative(joints))
    torch.testing.assert_close(out[:, 0, 2], depth)
    torch.testing.assert_close(project(out, camera)[:, 0], root_2d)
    args = [t.clone().requires_grad_(True) for t in (joints, root_2d, depth, camera)]
    assert torch.autograd.gradcheck(place_root, args)


def test_pair_reading_is_the_release_op(domains):
    """gpa_align="pair" places every pose exactly as the op the parity test checks against the release."""
    method = _gpa(domains, gpa_align="pair")
    src, tgt = domains.source_train["joints_3d"], domains.target_train
    out, _ = method.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    pick = torch.randint(0, tgt["joints_2d"].shape[0], (src.shape[0],), generator=torch.Generator().manual_seed(5))
    ref = global_position_align(src, tgt["joints_2d"][pick], tgt["camera"][pick][:, :4], depth_range=(1.0, 20.0))
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_matched_readings_keep_the_size_cue(domains):
    src, tgt = domains.source_train["joints_3d"], domains.target_train
    n = src.shape[0]
    pick = torch.randint(0, tgt["joints_2d"].shape[0], (n,), generator=torch.Generator().manual_seed(5))
    cam = tgt["camera"][pick]
    corr = {}
    for reading in ("matched", "matched-depth", "pair"):
        out, uv = _gpa(domains, gpa_align=reading).place(src, torch.arange(n), torch.Generator().manual_seed(5))
        torch.testing.assert_close(root_relative(out), root_relative(src), atol=1e-5, rtol=0)
        if reading != "matched":  # the paired target pose's root
            torch.testing.assert_close(project(out, cam)[:, 0], tgt["joints_2d"][pick, 0], atol=1e-2, rtol=0)
        a = _angular_box(project(out, cam), cam).log()
        corr[reading] = float(torch.corrcoef(torch.stack([a, _extent(src).log()]))[0, 1])
        if reading != "pair":  # depth: a function of the source's own depth, never of the paired target pose
            z = out[:, 0, 2]
            assert float(torch.corrcoef(torch.stack([z.log(), _extent(src).log()]))[0, 1]) < 0.1
            assert (z.log().argsort() == src[:, 0, 2].log().argsort()).float().mean() > 0.99
    # the source's own projections: a bigger pose looks bigger. "pair" gives every pose its partner's 2D size
    assert corr["matched"] > 0.25 and corr["matched-depth"] > 0.25 and abs(corr["pair"]) < 0.1


def test_matched_reading_takes_the_targets_root_and_depth_distributions(domains):
    src, tgt = domains.source_train["joints_3d"], domains.target_train
    method = _gpa(domains)  # the default
    assert method.pc.gpa_align == "matched"
    out, _ = method.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    mu_s, sd_s, mu_t, sd_t = log_depth_moments(src, tgt["joints_2d"], tgt["camera"])
    logz = out[:, 0, 2].double().log()
    assert float(logz.mean()) == pytest.approx(mu_t, abs=1e-3) and float(logz.std()) == pytest.approx(sd_t, abs=1e-3)
    ray = (out[:, 0, :2] / out[:, 0, 2:]).double()
    cam = tgt["camera"]
    ray_t = ((tgt["joints_2d"][:, 0] - cam[:, 2:4]) / cam[:, :2]).double()
    torch.testing.assert_close(ray.mean(0), ray_t.mean(0), atol=1e-3, rtol=0)
    torch.testing.assert_close(ray.std(0), ray_t.std(0), atol=1e-3, rtol=0)


def test_matched_reading_is_about_the_identity_on_a_target_filmed_like_the_source():
    data = load_domains("synthetic:h36m", "synthetic:h36m", "h36m16", "cpu", n_source=2048, n_target=2048,
                        n_test=64, seed=0)
    src = data.source_train["joints_3d"]
    out, _ = _gpa(data).place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    assert float((out[:, 0] - src[:, 0]).norm(dim=-1).median()) < 0.1  # metres, at ~5 m
    assert float((out[:, 0, 2] / src[:, 0, 2] - 1).abs().median()) < 0.02
    pair, _ = _gpa(data, gpa_align="pair").place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    assert float((pair[:, 0] - src[:, 0]).norm(dim=-1).median()) > 0.3  # the release moves every pose


def test_matched_ray_is_an_affine_map_per_axis():
    ray = torch.tensor([[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2]], dtype=torch.float64)
    same = (torch.zeros(2), torch.ones(2), torch.zeros(2), torch.ones(2))
    torch.testing.assert_close(matched_ray(ray, same), ray)
    moments = (torch.tensor([0.1, 0.0]), torch.tensor([0.2, 0.0]), torch.tensor([0.0, -0.1]), torch.tensor([0.4, 0.3]))
    expected = torch.stack([(ray[:, 0] - 0.1) * 2.0, torch.full((3,), -0.1, dtype=torch.float64)], -1)
    torch.testing.assert_close(matched_ray(ray, moments), expected)  # the axis without source spread: target mean


def test_ray_moments_refuse_without_finite_roots(domains):
    src = domains.source_train
    bad = src["joints_2d"].clone()
    bad[..., 0, :] = float("nan")
    with pytest.raises(ValueError, match="target 2D root"):
        ray_moments(src["joints_3d"], bad, src["camera"])


def test_unknown_placement_reading_is_one_clear_error(domains):
    with pytest.raises(ValueError, match="poseda.gpa_align"):
        _gpa(domains, gpa_align="nearest")
