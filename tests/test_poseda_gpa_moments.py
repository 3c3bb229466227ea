"""``poseda.gpa_moments=target-3d``, the diagnostic that gives GPA's "matched" placements the target's TRUE root-depth
and root-ray moments (measured on the target's 3D training labels) instead of the ones estimated from its 2D."""
import pytest
import torch

from posefast.cli.config import TrainConfig
from posefast.data.domains import load_domains, load_target_labels
from posefast.engine.distributed import DistContext
from posefast.methods import lifting_method
from posefast.methods.poseda import log_depth_moments, ray_moments, true_moments


@pytest.fixture(scope="module")
def domains():
    return load_domains("synthetic:h36m", "synthetic:h36m+bodies", "h36m16", "cpu", n_source=2048, n_target=2048,
                        n_test=64, seed=0)


def _gpa(data, **poseda):
    cfg = TrainConfig(method="gpa", target=data.target_spec, backbone_width=64, epochs=1, batch_size=128,
                      progress=False, n_source=2048, n_target=2048, n_test=64, seed=0)
    for key, value in poseda.items():
        setattr(cfg.poseda, key, value)
    return lifting_method("gpa")(cfg, data, DistContext())


def test_true_moments_are_the_target_training_roots(domains):
    src = domains.source_train["joints_3d"]
    truth = load_target_labels("synthetic:h36m+bodies", "h36m16", "cpu", 2048, 0)["joints_3d"]
    (mu_s, sd_s, mu_t, sd_t), (ray_ms, ray_ss, ray_mt, ray_st) = true_moments(src, truth)
    logz = truth[:, 0, 2].double().log()
    assert mu_t == pytest.approx(float(logz.mean())) and sd_t == pytest.approx(float(logz.std()))
    estimated = log_depth_moments(src, domains.target_train["joints_2d"], domains.target_train["camera"])
    assert (mu_s, sd_s) == pytest.approx(estimated[:2])  # the source half is the same measurement
    # the root ray is what the 2D root shows: the estimate of the ray is already the truth
    ray = ray_moments(src, domains.target_train["joints_2d"], domains.target_train["camera"])
    torch.testing.assert_close(ray_mt, ray[2], atol=1e-4, rtol=0)
    torch.testing.assert_close(ray_st, ray[3], atol=1e-4, rtol=0)
    torch.testing.assert_close(ray_ms, ray[0]) and torch.testing.assert_close(ray_ss, ray[1])


def test_oracle_placement_takes_the_true_depth_distribution(domains):
    src = domains.source_train["joints_3d"]
    oracle = _gpa(domains, gpa_moments="target-3d")
    out, _ = oracle.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    truth = load_target_labels("synthetic:h36m+bodies", "h36m16", "cpu", 2048, 0)["joints_3d"]
    logz, true_logz = out[:, 0, 2].double().log(), truth[:, 0, 2].double().log()
    assert float(logz.mean()) == pytest.approx(float(true_logz.mean()), abs=1e-3)
    assert float(logz.std()) == pytest.approx(float(true_logz.std()), abs=1e-3)
    shipped = _gpa(domains)  # the default estimates the moments from 2D and differs on this target
    assert shipped.pc.gpa_moments == "target-2d"
    assert abs(shipped.depth_map[2] - oracle.depth_map[2]) > 0.02
    assert oracle.ray_map is not None


def test_oracle_depth_only_keeps_each_pose_on_its_own_ray(domains):
    src = domains.source_train["joints_3d"]
    method = _gpa(domains, gpa_moments="target-3d-depth")
    out, _ = method.place(src, torch.arange(src.shape[0]), torch.Generator().manual_seed(5))
    torch.testing.assert_close(out[:, 0, :2] / out[:, 0, 2:], src[:, 0, :2] / src[:, 0, 2:], atol=1e-5, rtol=1e-4)
    truth = load_target_labels("synthetic:h36m+bodies", "h36m16", "cpu", 2048, 0)["joints_3d"]
    assert float(out[:, 0, 2].double().log().mean()) == pytest.approx(float(truth[:, 0, 2].double().log().mean()),
                                                                      abs=1e-3)


@pytest.mark.parametrize("moments", ["target-3d", "target-3d-depth"])
def test_oracle_moments_need_a_matched_placement(domains, moments):
    with pytest.raises(ValueError, match=f"poseda.gpa_moments={moments}: replaces the moments of gpa_align=matched"):
        _gpa(domains, gpa_moments=moments, gpa_align="pair")
    with pytest.raises(ValueError, match="gpa_align=matched-depth"):
        _gpa(domains, gpa_moments=moments, gpa_align="matched-depth")


def test_the_diagnostic_switch_is_recorded_only_when_on(domains, tmp_path):
    """Off (the default), ``gpa_moments`` is not part of the settings a resumed run must keep, so GPA/PoseDA run
    folders written before it existed resume; on, it is, and a resume with another value is refused."""
    from posefast.engine.trainer import Trainer

    off = Trainer(_gpa(domains).cfg, _gpa(domains), tmp_path / "off").resume_settings()
    assert "gpa_moments" not in off["poseda"] and off["poseda"]["gpa_align"] == "matched"
    on = _gpa(domains, gpa_moments="target-3d")
    assert Trainer(on.cfg, on, tmp_path / "on").resume_settings()["poseda"]["gpa_moments"] == "target-3d"
