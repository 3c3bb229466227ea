"""Lifting backbones: shapes, root-relative output, parameter counts, graph construction, errors."""
import numpy as np
import pytest
import torch

from posefast.models import LIFTERS, SemGCN, SemGraphConv, STGCNSingleFrame, build_lifter
from posefast.models.lifting.semgcn import skeleton_adjacency_mask
from posefast.models.lifting.stgcn import body_part_pooling, spatial_partition
from posefast.skeleton import H36M16, H36M17, get_skeleton

SKELETONS = ["h36m16", "h36m17"]


# Sizes reported by PoseAug for its 16-joint configurations.
REPORTED = {"simple": 4.3e6, "videopose": 8.5e6, "semgcn": 0.27e6, "stgcn": 3.6e6}


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {(name, sk): build_lifter(name, sk, zero_output=False) for name in LIFTERS for sk in SKELETONS}


@pytest.mark.parametrize("sk", SKELETONS)
@pytest.mark.parametrize("name", list(LIFTERS))
def test_parameter_count_near_reported(models, name, sk):
    count = n_params(models[name, sk])
    assert abs(count - REPORTED[name]) <= 0.1 * REPORTED[name], count


@pytest.mark.parametrize("sk", SKELETONS)
def test_parameter_counts_closed_form(models, sk):
    J = get_skeleton(sk).num_joints
    B = J - 1
    lin = lambda i, o, bias=True: i * o + (o if bias else 0)  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    simple = lin(2 * J, 1024) + bn(1024) + 2 * 2 * (lin(1024, 1024) + bn(1024)) + lin(1024, 3 * B)
    videopose = lin(2 * J, 1024, False) + bn(1024) + 4 * 2 * (lin(1024, 1024, False) + bn(1024)) + lin(1024, 3 * B)
    edges = J + 2 * B  # self loops + both directions of every bone
    gconv = lambda i, o: 2 * i * o + edges + o  # noqa: E731
    semgcn = gconv(2, 128) + bn(128) + 4 * 2 * (gconv(128, 128) + bn(128)) + gconv(128, 3)
    assert n_params(models["simple", sk]) == simple
    assert n_params(models["videopose", sk]) == videopose
    assert n_params(models["semgcn", sk]) == semgcn


def test_stgcn_count_matches_original_17_joint_model(models):
    # The original 17-joint single-frame ST-GCN has 3,627,847 parameters; only the input BN depends on J.
    assert n_params(models["stgcn", "h36m17"]) == 3_627_847
    assert n_params(models["stgcn", "h36m16"]) == 3_627_847 - 4


@pytest.mark.parametrize("sk", SKELETONS)
@pytest.mark.parametrize("name", list(LIFTERS))
def test_shapes_and_zero_root(models, name, sk):
    m = models[name, sk]
    J = m.num_joints
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, J, 2, generator=g)
    m.train()
    y = m(x)
    assert y.shape == (6, J, 3)
    assert torch.all(y[:, 0] == 0)
    assert torch.isfinite(y).all()
    m.eval()
    with torch.no_grad():
        full = m(x)
        assert torch.allclose(m(x.reshape(2, 3, J, 2)), full.reshape(2, 3, J, 3), atol=1e-5)
        one = m(x[:1])
        assert one.shape == (1, J, 3)
        assert torch.allclose(one, full[:1], atol=1e-5)
        assert m(x[0]).shape == (J, 3)  # no batch dim
        assert torch.all(full[:, 0] == 0) and bool((full[:, 1:].abs() > 0).any())


@pytest.mark.parametrize("name", list(LIFTERS))
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    kwargs = {"stgcn": {}, "semgcn": {"hidden": 16, "num_blocks": 1},
              "simple": {"width": 32}, "videopose": {"channels": 32, "num_blocks": 1}}[name]
    m = build_lifter(name, "h36m16", zero_output=False, **kwargs)
    m(torch.randn(4, 16, 2)).square().sum().backward()
    for pname, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
        # the non-local output BN starts at zero, so only it may legitimately see a zero gradient path upstream
        if "non_local" not in pname:
            assert p.grad.abs().sum() > 0, pname


def test_small_simple_baseline_fits_a_batch():
    torch.manual_seed(0)
    m = build_lifter("simple", "h36m16", zero_output=False, width=64, dropout=0.0)
    x, target = torch.randn(32, 16, 2), torch.randn(32, 16, 3)
    target[:, 0] = 0
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = (m(x) - target).square().mean()
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first


def test_semgraphconv_adjacency_is_row_softmax_on_the_skeleton():
    mask = skeleton_adjacency_mask(H36M16)
    assert mask.sum() == 16 + 2 * 15 and torch.equal(mask, mask.T)
    layer = SemGraphConv(2, 4, mask)
    with torch.no_grad():
        layer.edge_logits.copy_(torch.randn_like(layer.edge_logits))
    a = layer.adjacency()
    assert torch.all(a[~mask] == 0)
    assert torch.allclose(a.sum(dim=1), torch.ones(16))
    # explicit per-node formula
    x = torch.randn(3, 16, 2)
    y = layer(x)
    i = 2
    expect = a[i, i] * x[:, i] @ layer.weight[0] + sum(a[i, j] * x[:, j] @ layer.weight[1]
                                                      for j in range(16) if j != i) + layer.bias
    assert torch.allclose(y[:, i], expect, atol=1e-5)


def test_stgcn_partition_on_h36m17():
    # distances to the spine and the five pooling parts of Cai et al.'s 17-joint graph
    m = STGCNSingleFrame("h36m17")
    assert m.parts == [[11, 12, 13], [14, 15, 16], [4, 5, 6], [1, 2, 3], [0, 7, 8, 9, 10]]
    dist = np.array([1, 2, 3, 4, 2, 3, 4, 0, 1, 2, 3, 2, 3, 4, 2, 3, 4])
    A = m.joint_kernels.numpy().astype(np.float64)
    assert A.shape == (4, 17, 17)
    # together the kernels are the degree-normalised adjacency: every column sums to one
    assert np.allclose(A.sum(axis=(0, 1)), 1.0)
    assert np.allclose(A[0], np.diag(np.diag(A[0])))
    v, w = np.nonzero(A[1])
    assert np.all(dist[v] > dist[w])
    v, w = np.nonzero(A[2])
    assert np.all(dist[v] < dist[w])
    mirrors = {frozenset(p) for p in zip(H36M17.left, H36M17.right)}
    assert {frozenset(p) for p in zip(*np.nonzero(A[3]))} == mirrors
    # Pelvis: self, RHip, LHip, Spine -> degree 4
    assert np.isclose(A[0, 0, 0], 0.25) and np.isclose(A[1, 1, 0], 0.25) and np.isclose(A[2, 7, 0], 0.25)


def test_spatial_partition_rejects_equidistant_neighbours():
    with pytest.raises(ValueError, match="same distance"):
        spatial_partition(3, [(0, 1), (1, 2)], [], [0, 1, 1])


def test_body_part_pooling_covers_every_joint_once():
    for sk in (H36M16, H36M17):
        parts = body_part_pooling(sk)
        assert sorted(j for p in parts for j in p) == list(range(sk.num_joints))


def test_unknown_lifter_lists_known_names():
    with pytest.raises(ValueError, match=r"unknown lifter 'resnet'.*\['semgcn', 'simple', 'stgcn', 'videopose'\]"):
        build_lifter("resnet", "h36m16")


@pytest.mark.parametrize("name", list(LIFTERS))
def test_wrong_joint_count_and_dims(models, name):
    m = models[name, "h36m16"]
    with pytest.raises(ValueError, match=r"joints_2d: expected shape \[\.\.\., 16, 2\]"):
        m(torch.zeros(4, 17, 2))
    with pytest.raises(ValueError, match="joints_2d"):
        m(torch.zeros(4, 16, 3))
    with pytest.raises(TypeError, match="joints_2d"):
        m(torch.zeros(4, 16, 2, dtype=torch.long))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="skeleton"):
        build_lifter("simple", "coco")
    with pytest.raises(ValueError, match="dropout"):
        build_lifter("simple", "h36m16", dropout=1.5)
    with pytest.raises(ValueError, match="num_blocks"):
        SemGCN("h36m16", num_blocks=0)
    with pytest.raises(TypeError):
        build_lifter("semgcn", "h36m16", width=3)


@pytest.mark.parametrize("name", ["simple", "videopose", "semgcn", "stgcn"])
def test_build_lifter_starts_from_the_zero_pose_and_still_learns(name):
    model = build_lifter(name, "h36m16")
    x = torch.randn(8, 16, 2)
    assert model.eval()(x).abs().max() == 0
    model.train()
    loss = model(x).square().sum() + (model(x) - 1).square().sum()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert any(g.abs().max() > 0 for g in grads)
    assert build_lifter(name, "h36m16", zero_output=False).eval()(x).abs().max() > 0
