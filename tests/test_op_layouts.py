"""Every kernel op with non-contiguous inputs (batch-dim-last permutations and every-other-element slices): the fake
impls promise the strides the real ops produce, which torch.library.opcheck compares, and torch.compile with
inductor (which asserts each custom op's output strides at run time) agrees with eager, values and gradients."""
import math

import pytest
import torch

import posefast
from posefast import H36M16
from posefast.ops._tables import table
from op_testing import F64, cameras, pipeline_inputs, poses, rand

SKEL = H36M16
J, B, G = SKEL.num_joints, SKEL.num_bones, SKEL.num_groups
N = 3


def permuted(t: torch.Tensor) -> torch.Tensor:
    """Same values, batch dim with stride 1 (as after ``x.transpose``); 1-D tensors are sliced instead."""
    if t.dim() < 2:
        return sliced(t)
    return t.movedim(0, -1).contiguous().movedim(-1, 0)


def sliced(t: torch.Tensor) -> torch.Tensor:
    """Same values, every other element of a twice-as-long last dim (as ``x[..., ::2]``)."""
    return torch.stack((t, torch.zeros_like(t)), -1)[..., 0]


LAYOUTS = {"permuted": permuted, "sliced": sliced}


def _relayout(args, layout):
    """Float tensors of ``args`` in ``layout`` (same values, requires_grad kept); numbers and the skeleton tables
    (the public ops always pass their cached contiguous copies; launch rejects any other) unchanged."""
    masks = table(SKEL, "part_masks", torch.device("cpu"), F64)
    out = []
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point() and a.numel() > 1 and a is not masks:
            b = LAYOUTS[layout](a.detach())
            assert not b.is_contiguous()
            out.append(b.requires_grad_(a.requires_grad))
        else:
            out.append(a)
    return out


def _op_cases():
    """(op name, args) for every posefast custom op, forward ones with inputs that require grad."""
    req = lambda t: t.detach().clone().requires_grad_(True)  # noqa: E731
    x, d, r, rv, t, cam = pipeline_inputs((N,), SKEL, 50)
    parents = table(SKEL, "parents", x.device)
    masks = table(SKEL, "part_masks", x.device, F64)
    frozen = table(SKEL, "frozen", x.device, torch.uint8)
    groups = table(SKEL, "bone_groups", x.device)
    pairs, offsets, items = (table(SKEL, f"compact_{k}", x.device) for k in ("pairs", "offsets", "items"))
    width = SKEL.compact_kcs_pairs.shape[1]
    pts = x + torch.tensor([0.0, 0.0, 4.0], dtype=F64)
    target = poses((N,), SKEL, 51)
    tgt2d = posefast.project(poses((N,), SKEL, 52, depth=6.0), cam[..., :4])
    bones = rand((N, B, 3), 53, 0.3)
    g = lambda *shape: rand(shape, 54)  # noqa: E731
    ops = torch.ops.posefast
    saved = [o.detach() for o in ops.augment_pipeline(x, d, r, rv, t, cam, parents, frozen, groups, 1e-6, 1e-6)[:3]]
    kp = torch.rand(N, 4, 2, generator=torch.Generator().manual_seed(55), dtype=F64) * 8
    vis = torch.tensor([[True, False, True, True]] * N)
    thr = torch.tensor([0.0, 50.0, 150.0], dtype=F64)
    return [
        ("bone_vectors", (req(x), parents)),
        ("bone_vectors_backward", (g(N, B, 3), parents)),
        ("forward_kinematics", (req(bones), req(x[:, 0]), parents)),
        ("forward_kinematics_backward", (g(N, J, 3), parents)),
        ("kcs", (req(bones),)),
        ("kcs_backward", (g(N, B, B), bones)),
        ("part_kcs", (req(x), parents, masks, True, 1e-6)),
        ("part_kcs_backward", (g(N, masks.shape[0], B, B), x, parents, masks, False, 1e-6)),
        ("part_kcs_compact", (req(x), parents, pairs, offsets, items, width, True, 1e-6)),
        ("part_kcs_compact_backward", (g(N, pairs.shape[0] // width, width), x, parents, offsets, items, False, 1e-6)),
        ("mpjpe", (req(x), req(target), 0)),
        ("mpjpe_backward", (g(N), x, target, -1)),
        ("n_mpjpe", (req(x), req(target))),
        ("n_mpjpe_backward", (g(N), x, target)),
        ("p_mpjpe", (req(x), req(target))),
        ("p_mpjpe_backward", (g(N), x, target)),
        ("procrustes_align", (req(x), req(target))),
        ("procrustes_align_backward", (g(N, J, 3), g(N), g(N, 3, 3), g(N, 3), x, target)),
        ("pose_errors", (x, target, torch.tensor([0, 2, 5]), thr, 0, 1000.0)),
        ("render_heatmaps", (kp, vis, 9, 7, 1.5, math.inf)),
        ("decode_heatmaps", (rand((N, 4, 9, 7), 56),)),
        ("rotvec_to_rotmat", (req(rv),)),
        ("rotvec_to_rotmat_backward", (g(N, 3, 3), rv)),
        ("bone_angle_augment", (req(x), req(d), parents, frozen, 1e-6)),
        ("bone_angle_augment_backward", (g(N, J, 3), g(N, B), x, d, parents, frozen, 1e-6)),
        ("bone_length_augment", (req(x), req(r), parents, groups)),
        ("bone_length_augment_backward", (g(N, J, 3), x, r, parents, groups)),
        ("rigid_transform", (req(x), req(rv), req(t))),
        ("rigid_transform_backward", (g(N, J, 3), x, rv)),
        ("project", (req(pts), req(cam), 1e-6)),
        ("project_backward", (g(N, J, 2), pts, cam[..., :4], 1e-6)),
        ("global_position_align", (req(x), req(tgt2d), req(cam[..., :4]), 1e-6, 0.5, 50.0)),
        ("global_position_align_backward", (g(N, J, 3), x, tgt2d, cam[..., :4], 1e-6, 0.5, 50.0)),
        ("augment_pipeline", (req(x), req(d), req(r), req(rv), req(t), req(cam), parents, frozen, groups, 1e-6,
                              1e-6)),
        ("augment_pipeline_backward", (g(N, J, 3), None, g(N, J, 3), g(N, J, 2), g(N, B), x, d, r, rv, cam, *saved,
                                       parents, frozen, groups, 1e-6, 1e-6)),
    ]


def test_every_op_is_covered():
    ours = {name.split(".")[0] for name in dir(torch.ops.posefast) if not name.startswith("_")}
    ours -= {"name"}  # the namespace object's own attribute
    assert {name for name, _ in _op_cases()} == {n for n in ours if hasattr(getattr(torch.ops.posefast, n), "default")}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", [name for name, _ in _op_cases()])
def test_opcheck_non_contiguous(name, layout):
    args = dict(_op_cases())[name]
    torch.library.opcheck(getattr(torch.ops.posefast, name), tuple(_relayout(args, layout)))


def _every_public_op(x, d, r, rv, t, cam, target, bones, tgt2d, maps, kp, vis, thr):
    """Every kernel-backed public op once, each on its own inputs (lists), so no gradient is accumulated by codegen."""
    return (
        posefast.bone_vectors(x[0], SKEL),
        posefast.forward_kinematics(bones[0], SKEL, x[1][:, 0]),
        posefast.kcs(bones[1]),
        posefast.part_kcs(x[2], SKEL, normalize=False),
        posefast.part_kcs_compact(x[14], SKEL),
        posefast.mpjpe(x[3], target[0], root=0),
        posefast.n_mpjpe(x[4], target[1]),
        posefast.p_mpjpe(x[5], target[2]),
        *posefast.procrustes_align(x[6], target[3]),
        *torch.ops.posefast.pose_errors(x[7].detach(), target[4].detach(), torch.tensor([0, 3]), thr, 0, 1000.0),
        posefast.render_heatmaps(kp, vis, (9, 7), 1.5),
        *posefast.decode_heatmaps(maps),
        posefast.rotvec_to_rotmat(rv[0]),
        *posefast.bone_angle_augment(x[8], d[0], SKEL),
        posefast.bone_length_augment(x[9], r[0], SKEL),
        posefast.rigid_transform(x[10], rv[1], t[0]),
        posefast.project(x[11] + torch.tensor([0.0, 0.0, 4.0], dtype=x[11].dtype), cam[0]),
        posefast.global_position_align(x[12], tgt2d, cam[1][..., :4]),
        *posefast.augment_pipeline(x[13], d[1], r[1], rv[2], t[1], cam[2], SKEL),
    )


def _compile_inputs(layout):
    f32 = torch.float32
    lists = {
        "x": [poses((N,), SKEL, 60 + i, dtype=f32) for i in range(15)],
        "d": [rand((N, B, 3), 80 + i, 0.3, f32) for i in range(2)],
        "r": [rand((N, G), 82 + i, 0.1, f32) for i in range(2)],
        "rv": [rand((N, 3), 84 + i, 1.0, f32) for i in range(3)],
        "t": [rand((N, 3), 87 + i, 0.5, f32) + torch.tensor([0.0, 0.0, 5.0]) for i in range(2)],
        "cam": [cameras((N,), 89 + i, dtype=f32) for i in range(3)],
        "target": [poses((N,), SKEL, 92 + i, dtype=f32) for i in range(5)],
        "bones": [rand((N, B, 3), 98 + i, 0.3, f32) for i in range(2)],
    }
    args = {k: [LAYOUTS[layout](v).requires_grad_(True) for v in vs] for k, vs in lists.items()}
    tgt2d = posefast.project(poses((N,), SKEL, 97, depth=6.0, dtype=f32), cameras((N,), 90, 4, f32))
    args["tgt2d"] = LAYOUTS[layout](tgt2d).requires_grad_(True)
    args["maps"] = LAYOUTS[layout](rand((N, 4, 9, 7), 100, 1.0, f32))
    args["kp"] = LAYOUTS[layout](torch.rand(N, 4, 2, generator=torch.Generator().manual_seed(101)) * 8)
    args["vis"] = torch.tensor([[True, False, True, True]] * N)
    args["thr"] = torch.tensor([0.0, 50.0, 150.0], dtype=F64)
    leaves = [v for vs in args.values() for v in (vs if isinstance(vs, list) else [vs]) if v.requires_grad]
    return args, leaves


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_torch_compile_inductor_non_contiguous(layout):
    from torch._functorch import config as functorch_config
    from torch._inductor import config as inductor_config

    (args_c, leaves_c), (args_e, leaves_e) = _compile_inputs(layout), _compile_inputs(layout)
    torch._dynamo.reset()
    # No cached graphs: a cache hit would replay the output strides recorded with an earlier fake impl.
    with inductor_config.patch(fx_graph_cache=False), functorch_config.patch(enable_autograd_cache=False):
        out_c = torch.compile(_every_public_op, fullgraph=True, backend="inductor")(**args_c)
        out_e = _every_public_op(**args_e)
        assert len(out_c) == len(out_e)
        for a, b in zip(out_c, out_e):
            assert a.stride() == b.stride()
            torch.testing.assert_close(a, b, equal_nan=True)
        diff = [i for i, o in enumerate(out_e) if o.requires_grad]
        gen = torch.Generator().manual_seed(102)
        cots = [torch.randn(out_e[i].shape, generator=gen, dtype=out_e[i].dtype) for i in diff]
        grads_c = torch.autograd.grad([out_c[i] for i in diff], leaves_c, cots, allow_unused=True)
        grads_e = torch.autograd.grad([out_e[i] for i in diff], leaves_e, cots, allow_unused=True)
    for a, b in zip(grads_c, grads_e):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b)
