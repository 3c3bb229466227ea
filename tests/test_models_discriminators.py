"""PoseAug discriminators (part KCS, 2D) and the LPA anchor discriminator."""

import pytest
import torch

from posefast.models import AnchorDiscriminator, PartKCSDiscriminator, PoseDiscriminator2D, anchor_features
from posefast.skeleton import H36M16, H36M17



def part_kcs_reference(bones, part_masks):
    """Ψ_p = (B ⊙ m_p)(B ⊙ m_p)ᵀ for bones [N, B, 3], masks [P, B] -> [N, P, B, B] (test-side reference)."""
    m = torch.tensor(part_masks, dtype=bones.dtype)
    masked = bones[:, None] * m[None, :, :, None]
    return masked @ masked.transpose(-1, -2)


def test_full_kcs_discriminator_shapes_and_size():
    d = PartKCSDiscriminator(5, 15)
    # PoseAug: 5 paths of 225→256→256→256→100→1
    per_path = (225 * 256 + 256) + 2 * (256 * 256 + 256) + (256 * 100 + 100) + (100 + 1)
    assert sum(p.numel() for p in d.parameters()) == 5 * per_path
    psi = part_kcs_reference(torch.randn(4, 15, 3), H36M16.part_masks)
    assert d(psi).shape == (4, 5)
    assert d(psi.reshape(2, 2, 5, 15, 15)).shape == (2, 2, 5)
    assert torch.allclose(d(psi[:1]), d(psi)[:1], atol=1e-6)


@pytest.mark.parametrize("skeleton", [H36M16, H36M17])
def test_compact_equals_full_with_mapped_weights(skeleton):
    torch.manual_seed(0)
    full = PartKCSDiscriminator.from_skeleton(skeleton).double()
    compact = PartKCSDiscriminator.from_full(full, skeleton.part_masks)
    assert compact.first.weight.dtype == torch.float64
    bones = torch.randn(6, skeleton.num_bones, 3, dtype=torch.float64)
    bones = bones / bones.norm(dim=-1, keepdim=True)  # PoseAug feeds unit bones
    psi = part_kcs_reference(bones, skeleton.part_masks)
    out_full, out_compact = full(psi), compact(psi)
    assert torch.allclose(out_full, out_compact, rtol=1e-10, atol=1e-10)
    # and the gradients w.r.t. the shared deeper layers agree too
    out_full.sum().backward()
    out_compact.sum().backward()
    assert torch.allclose(full.third.weight.grad, compact.third.weight.grad, rtol=1e-9, atol=1e-10)


def test_compact_uses_only_distinct_entries():
    d = PartKCSDiscriminator.from_skeleton(H36M16, compact=True)
    assert d.entries_per_part == [28, 15, 15, 10, 10] and sum(d.entries_per_part) == 78
    # padding columns are zero and receive no gradient
    psi = part_kcs_reference(torch.randn(3, 15, 3), H36M16.part_masks)
    d(psi).sum().backward()
    for p, n in enumerate(d.entries_per_part):
        assert torch.all(d.first.weight[p, n:] == 0)
        assert torch.all(d.first.weight.grad[p, n:] == 0)
        assert d.first.weight.grad[p, :n].abs().sum() > 0


@pytest.mark.parametrize("skeleton", [H36M16, H36M17])
def test_compact_discriminator_reads_part_kcs_compact(skeleton):
    # the compact op's layout is the discriminator's: same scores and gradients as gathering from the full matrices
    import posefast

    torch.manual_seed(2)
    d = PartKCSDiscriminator.from_skeleton(skeleton, compact=True).double()
    joints = torch.randn(4, skeleton.num_joints, 3, dtype=torch.float64, requires_grad=True)
    compact = posefast.part_kcs_compact(joints, skeleton)
    assert compact.shape == (4,) + skeleton.compact_kcs_pairs.shape[:2]
    out_compact = d(compact)
    out_full = d(posefast.part_kcs(joints, skeleton))
    torch.testing.assert_close(out_compact, out_full, rtol=1e-12, atol=1e-12)
    g_compact, = torch.autograd.grad(out_compact.sum(), joints)
    g_full, = torch.autograd.grad(out_full.sum(), joints)
    torch.testing.assert_close(g_compact, g_full, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match=r"psi: expected shape \[\.\.\., 5, \d+\] \(compact part KCS\) or"):
        d(compact[..., :-1])


def test_compact_is_not_equivalent_on_asymmetric_input():
    # guards the test above: the mapping only holds under the documented precondition
    torch.manual_seed(1)
    full = PartKCSDiscriminator.from_skeleton(H36M16).double()
    compact = PartKCSDiscriminator.from_full(full, H36M16.part_masks)
    psi = torch.randn(2, 5, 15, 15, dtype=torch.float64)
    assert not torch.allclose(full(psi), compact(psi))


def test_kcs_discriminator_errors():
    d = PartKCSDiscriminator(5, 15)
    with pytest.raises(ValueError, match=r"psi: expected shape \[\.\.\., 5, 15, 15\]"):
        d(torch.zeros(2, 5, 16, 16))
    with pytest.raises(ValueError, match="part_masks: required"):
        PartKCSDiscriminator(5, 15, compact=True)
    with pytest.raises(ValueError, match=r"part_masks: expected shape \(5, 16\)"):
        PartKCSDiscriminator(5, 16, compact=True, part_masks=H36M16.part_masks)
    with pytest.raises(ValueError, match="full: expected"):
        PartKCSDiscriminator.from_full(PartKCSDiscriminator.from_skeleton(H36M16, compact=True), H36M16.part_masks)
    with pytest.raises(ValueError, match="num_parts"):
        PartKCSDiscriminator(0, 15)


def test_pose_discriminator_2d():
    d = PoseDiscriminator2D(16)
    assert sum(p.numel() for p in d.parameters()) == (32 * 100 + 100) + 4 * (100 * 100 + 100) + 101
    x = torch.randn(5, 16, 2)
    assert d(x).shape == (5, 1)
    assert d(x.reshape(1, 5, 16, 2)).shape == (1, 5, 1)
    assert torch.allclose(d(x[:1]), d(x)[:1], atol=1e-6)
    with pytest.raises(ValueError, match=r"pose_2d: expected shape \[\.\.\., 16, 2\]"):
        d(torch.randn(5, 17, 2))


def test_anchor_features_invariances():
    g = torch.Generator().manual_seed(0)
    pose = torch.randn(4, 16, 2, generator=g, dtype=torch.float64)
    shape, dirs = anchor_features(pose, "h36m16")
    assert shape.shape == (4, 15, 2) and dirs.shape == (4, 15, 2)
    assert torch.allclose(dirs.norm(dim=-1), torch.ones(4, 15, dtype=torch.float64))
    # RMS root distance over all J joints is one
    assert torch.allclose(shape.square().sum(dim=(-2, -1)) / 16, torch.ones(4, dtype=torch.float64))
    moved = 3.7 * pose + torch.tensor([0.5, -2.0], dtype=torch.float64)
    s2, d2 = anchor_features(moved, "h36m16")
    assert torch.allclose(shape, s2) and torch.allclose(dirs, d2)


def test_anchor_discriminator_scores_shape_not_placement():
    torch.manual_seed(0)
    d = AnchorDiscriminator("h36m16").double()
    pose = torch.randn(3, 16, 2, dtype=torch.float64)
    out = d(pose)
    assert out.shape == (3, 1)
    assert torch.allclose(d(0.2 * pose + 1.0), out, atol=1e-10)
    bent = pose.clone()
    bent[:, 12] += torch.tensor([0.7, 0.3], dtype=torch.float64)  # move the left wrist
    assert not torch.allclose(d(bent), out)
    assert d(pose.reshape(1, 3, 16, 2)).shape == (1, 3, 1)


def test_anchor_discriminator_degenerate_pose_is_finite():
    d = AnchorDiscriminator("h36m17")
    pose = torch.full((2, 17, 2), 0.3, requires_grad=True)  # every joint at one point
    out = d(pose)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(pose.grad).all()
    with pytest.raises(ValueError, match="pose_2d"):
        d(torch.zeros(2, 16, 2))
    with pytest.raises(ValueError, match="eps"):
        AnchorDiscriminator("h36m16", eps=0.0)
