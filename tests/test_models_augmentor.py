"""PoseAug generator heads: parameter shapes, ranges, frozen groups, root-relative inputs, noise handling."""
import math

import numpy as np
import pytest
import torch

from posefast.models import BAHead, BLHead, GeneratorMLP, PoseAugmentor, RTHead, bone_lengths
from posefast.skeleton import H36M16, H36M17



@pytest.mark.parametrize("skeleton", [H36M16, H36M17])
def test_augmentor_parameter_shapes(skeleton):
    torch.manual_seed(0)
    aug = PoseAugmentor(skeleton)
    pose = torch.randn(8, skeleton.num_joints, 3)
    out = aug(pose)
    B, G = skeleton.num_bones, skeleton.num_groups
    assert out["delta"].shape == (8, B, 3)
    assert out["ratio"].shape == (8, G)
    assert out["rotvec"].shape == (8, 3) and out["translation"].shape == (8, 3)
    out = aug(pose.reshape(2, 4, skeleton.num_joints, 3))
    assert out["delta"].shape == (2, 4, B, 3) and out["ratio"].shape == (2, 4, G)
    aug.eval()
    out = aug(pose[:1])
    assert out["rotvec"].shape == (1, 3)
    for v in out.values():
        assert torch.isfinite(v).all()


def test_ranges_and_frozen_group():
    torch.manual_seed(0)
    aug = PoseAugmentor(H36M16)
    with torch.no_grad():  # push the pre-activations far out so the bounds are exercised
        aug.bl.mlp.net[-1].weight.mul_(100.0)
        aug.rt.rotation_mlp.net[-1].weight.mul_(100.0)
    out = aug(torch.randn(64, 16, 3))
    thorax_group = int(H36M16.bone_group_index[H36M16.bone("Thorax")])
    assert thorax_group == 4  # PoseAug's group 4: spine -> thorax
    assert torch.all(out["ratio"][:, thorax_group] == 0)
    assert out["ratio"].abs().max() <= 0.2 and out["ratio"].abs().max() > 0.19
    assert out["rotvec"].abs().max() <= math.pi and out["rotvec"].abs().max() > 3.0
    assert torch.all(out["translation"][:, 2] >= 0)


def test_custom_frozen_groups():
    head = BLHead(H36M16, frozen_groups=(0, 8))
    pose = torch.randn(5, 16, 3)
    ratio = head(pose, bone_lengths(pose, H36M16))
    assert torch.all(ratio[:, [0, 8]] == 0) and bool((ratio[:, 4] != 0).all())
    assert BLHead(H36M16, frozen_groups=()).frozen_groups == ()
    with pytest.raises(ValueError, match="frozen_groups"):
        BLHead(H36M16, frozen_groups=(9,))
    with pytest.raises(ValueError, match="tanh_limit"):
        BLHead(H36M16, tanh_limit=1.5)


def test_heads_see_root_relative_pose_and_given_noise():
    torch.manual_seed(0)
    ba, rt = BAHead(H36M16).eval(), RTHead(H36M16).eval()
    pose = torch.randn(3, 16, 3)
    z = torch.randn(3, 48)
    shifted = pose + torch.tensor([1.0, -2.0, 5.0])
    assert torch.allclose(ba(pose, z), ba(shifted, z), atol=1e-5)
    r1, t1 = rt(pose, z, z)
    r2, t2 = rt(shifted, z, z)
    assert torch.allclose(r1, r2, atol=1e-5) and torch.allclose(t1, t2, atol=1e-5)
    assert not torch.allclose(ba(pose, z), ba(pose, z + 1.0))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(ba(pose, generator=g1), ba(pose, generator=g2))


def test_translation_depth_is_squared():
    torch.manual_seed(0)
    rt = RTHead(H36M16).eval()
    pose, z = torch.randn(4, 16, 3), torch.randn(4, 48)
    raw = rt.translation_mlp(torch.cat([(pose - pose[:, :1]).flatten(1), z], dim=1))
    _, t = rt(pose, torch.randn(4, 48), z)
    assert torch.allclose(t[:, :2], raw[:, :2]) and torch.allclose(t[:, 2], raw[:, 2] ** 2)


def test_bone_lengths_matches_numpy():
    pose = torch.randn(2, 17, 3, dtype=torch.float64)
    p = pose.numpy()
    expect = np.stack([np.linalg.norm(p[:, c] - p[:, par], axis=-1) for par, c in H36M17.bones], axis=-1)
    assert np.allclose(bone_lengths(pose, "h36m17").numpy(), expect)


def test_generator_mlp_residual_option():
    torch.manual_seed(0)
    plain = GeneratorMLP(10, 4, width=8, num_blocks=2, residual=False).eval()
    res = GeneratorMLP(10, 4, width=8, num_blocks=2, residual=True).eval()
    res.load_state_dict(plain.state_dict())
    x = torch.randn(3, 10)
    h = plain.net[:3](x)
    blocks = plain.net[3:5]
    assert torch.allclose(plain(x), plain.net[5](blocks[1](blocks[0](h))))
    expect = h + blocks[0].body(h)
    expect = expect + blocks[1].body(expect)
    assert torch.allclose(res(x), res.net[5](expect), atol=1e-6)


def test_argument_errors():
    ba = BAHead(H36M16)
    with pytest.raises(ValueError, match=r"pose_3d: expected shape \[\.\.\., 16, 3\]"):
        ba(torch.randn(4, 17, 3))
    with pytest.raises(ValueError, match="noise"):
        ba(torch.randn(4, 16, 3), torch.randn(4, 47))
    with pytest.raises(ValueError, match="noise"):
        ba(torch.randn(4, 16, 3), torch.randn(3, 48))
    with pytest.raises(ValueError, match="bone_lengths"):
        BLHead(H36M16)(torch.randn(4, 16, 3), torch.rand(4, 14))
    with pytest.raises(ValueError, match="noise_dim"):
        RTHead(H36M16, noise_dim=0)


def test_init_near_identity_starts_every_head_at_the_unchanged_pose():
    torch.manual_seed(0)
    aug = PoseAugmentor(H36M16)
    aug.init_near_identity(0.0, (0.1, -0.5, 3.0))
    out = aug(torch.randn(32, 16, 3))
    assert torch.equal(out["delta"], torch.zeros_like(out["delta"]))
    assert torch.equal(out["ratio"], torch.zeros_like(out["ratio"]))
    assert torch.equal(out["rotvec"], torch.zeros_like(out["rotvec"]))
    torch.testing.assert_close(out["translation"], torch.tensor([[0.1, -0.5, 3.0]]).expand(32, 3))
    # a small scale keeps the outputs pose- and noise-dependent but small
    torch.manual_seed(0)
    small, release = PoseAugmentor(H36M16), PoseAugmentor(H36M16)
    small.load_state_dict(release.state_dict())
    small.init_near_identity(0.05, (0.0, 0.0, 5.0))
    pose = torch.randn(64, 16, 3)
    torch.manual_seed(1)
    a = small(pose)
    torch.manual_seed(1)
    b = release(pose)
    assert a["rotvec"].std() > 0 and a["delta"].std() > 0
    assert a["rotvec"].abs().mean() < 0.2 * b["rotvec"].abs().mean()
    assert a["delta"].abs().mean() < 0.2 * b["delta"].abs().mean()
    with pytest.raises(ValueError, match="scale"):
        aug.init_near_identity(-1.0, (0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="root"):
        aug.init_near_identity(0.1, (0.0, 0.0, -1.0))


def test_rotation_limit_bounds_each_axis():
    torch.manual_seed(0)
    head = RTHead(H36M16, rotation_limit=math.radians(30))
    with torch.no_grad():
        head.rotation_mlp.net[-1].weight.mul_(100.0)
    rotvec, _ = head(torch.randn(64, 16, 3))
    assert rotvec.abs().max() <= math.radians(30) + 1e-6
    assert rotvec.abs().max() > math.radians(29)
