"""The eager fast path of every kernel op (posefast/ops/_kernel_op.py): eager calls skip the torch.library
dispatcher, traced and transformed calls do not, and both paths compute the same values and gradients."""
import contextlib
import itertools
from typing import Optional

import pytest
import torch

import posefast
from op_testing import F64, cameras, leaves, pipeline_inputs, poses, rand
from posefast import H36M16, H36M17
from posefast.ops import _kernel_op, heatmap, metrics, skeleton, transforms
from posefast.ops._kernel_op import KernelOp, use_fast_path


def all_kernel_ops():
    ops = {}
    for module in (metrics, skeleton, transforms, heatmap):
        for value in vars(module).values():
            if isinstance(value, KernelOp):
                ops[value.name] = value
                if value.backward_op is not None:  # built from the same description
                    ops[value.backward_op.name] = value.backward_op
    return ops


@contextlib.contextmanager
def count_dispatcher_calls():
    """Counts, per op name, the calls that went through the registered custom op."""
    counts = {}
    originals = {}
    for name, op in all_kernel_ops().items():
        inner = op._op

        def counted(*args, _inner=inner, _name=name):
            counts[_name] = counts.get(_name, 0) + 1
            return _inner(*args)

        originals[name] = (op, inner)
        op.__dict__["_op"] = counted
    try:
        yield counts
    finally:
        for op, inner in originals.values():
            op.__dict__["_op"] = inner


def test_every_op_is_a_kernel_op():
    names = set(all_kernel_ops())
    assert len(names) == 35  # 16 differentiable ops and their 16 backward ops, pose_errors, the two heatmap ops
    assert {"posefast::mpjpe", "posefast::mpjpe_backward", "posefast::part_kcs_compact",
            "posefast::part_kcs_compact_backward", "posefast::augment_pipeline_backward"} <= names
    for name in names:  # every one is registered with torch.library (what compile and opcheck see)
        assert hasattr(torch.ops.posefast, name.split("::")[1])


def test_eager_calls_skip_the_dispatcher():
    pred, target = leaves(rand((64, 17, 3), 1), rand((64, 17, 3), 2))
    with count_dispatcher_calls() as counts:
        err = posefast.mpjpe(pred, target)
        torch.autograd.grad(err.sum(), (pred, target))
        posefast.p_mpjpe(pred.detach(), target.detach())
    assert counts == {}
    with use_fast_path(False), count_dispatcher_calls() as counts:
        err = posefast.mpjpe(pred, target)
        torch.autograd.grad(err.sum(), (pred, target))
    assert counts == {"posefast::mpjpe": 1, "posefast::mpjpe_backward": 1}


# One call of every public kernel op (inputs from the op tests' builders), returning what is compared.
def _cases():
    joints16 = poses((5,), H36M16, 3)
    bones16 = joints16[:, 1:] - joints16[:, list(H36M16.parents[1:])]
    pred, target = poses((5,), H36M17, 4), poses((5,), H36M17, 5)
    kp = torch.rand(3, 4, 2, generator=torch.Generator().manual_seed(6), dtype=F64) * 15
    return {
        "bone_vectors": (lambda j: posefast.bone_vectors(j, H36M16), [joints16]),
        "forward_kinematics": (lambda b, r: posefast.forward_kinematics(b, H36M16, r), [bones16, joints16[:, 0]]),
        "kcs": (posefast.kcs, [bones16]),
        "part_kcs": (lambda j: posefast.part_kcs(j, H36M16), [joints16]),
        "part_kcs_compact": (lambda j: posefast.part_kcs_compact(j, H36M16), [joints16]),
        "mpjpe": (lambda a, b: posefast.mpjpe(a, b, root=0), [pred, target]),
        "n_mpjpe": (posefast.n_mpjpe, [pred, target]),
        "p_mpjpe": (posefast.p_mpjpe, [pred, target]),
        "procrustes_align": (posefast.procrustes_align, [pred, target]),
        "pose_errors": (lambda a, b: posefast.pose_errors(a, b).p_mpjpe, [pred, target]),
        "rotvec_to_rotmat": (posefast.rotvec_to_rotmat, [rand((5, 3), 7)]),
        "rigid_transform": (posefast.rigid_transform, [joints16, rand((5, 3), 8), rand((5, 3), 9)]),
        "project": (posefast.project, [poses((5,), H36M16, 10, depth=5.0), cameras((5,), 11)]),
        "bone_angle_augment": (lambda j, d: posefast.bone_angle_augment(j, d, H36M16),
                               [joints16, rand((5, 15, 3), 12, 0.3)]),
        "bone_length_augment": (lambda j, r: posefast.bone_length_augment(j, r, H36M16),
                                [joints16, rand((5, H36M16.num_groups), 13, 0.1)]),
        "global_position_align": (lambda x, t, c: posefast.global_position_align(x, t, c),
                                  [poses((5,), H36M16, 14, depth=3.0),
                                   posefast.project(poses((5,), H36M16, 15, depth=6.0), cameras((5,), 16, 4)),
                                   cameras((5,), 16, 4)]),
        "augment_pipeline": (lambda *a: posefast.augment_pipeline(*a, H36M16), pipeline_inputs((5,), H36M16, 17)),
        "render_heatmaps": (lambda k: posefast.render_heatmaps(k, torch.ones(k.shape[:-1], dtype=torch.bool),
                                                               (16, 16), 2.0), [kp]),
        "decode_heatmaps": (lambda m: posefast.decode_heatmaps(m)[0], [rand((3, 4, 16, 16), 18)]),
    }


@pytest.mark.parametrize("name", sorted(_cases()))
def test_fast_and_dispatcher_paths_agree(name):
    fn, inputs = _cases()[name]
    results = []
    for fast in (True, False):
        xs = leaves(*inputs)
        with use_fast_path(fast):
            out = fn(*xs)
            outs = out if isinstance(out, tuple) else (out,)
            diff = [o for o in outs if o.requires_grad]
            grads = torch.autograd.grad(diff, xs, [torch.ones_like(o) for o in diff], allow_unused=True) if diff else ()
        results.append((outs, grads))
    (fast_out, fast_grad), (slow_out, slow_grad) = results
    for a, b in zip(fast_out, slow_out):
        torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    assert len(fast_grad) == len(slow_grad)
    for a, b in zip(fast_grad, slow_grad):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_traced_calls_use_the_custom_op():
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):  # no data: the fast path would fail on data_ptr()
        # (allow_non_fake_inputs: the skeleton tables are real tensors, cached across calls)
        pred, target = torch.empty(7, 17, 3), torch.empty(7, 17, 3)
        assert posefast.p_mpjpe(pred, target).shape == (7,)
        assert posefast.part_kcs_compact(torch.empty(2, 16, 3), H36M16).shape == (2, 5, 28)
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    pred, target = leaves(rand((4, 17, 3), 19, dtype=torch.float32), rand((4, 17, 3), 20, dtype=torch.float32),
                          dtype=torch.float32)
    compiled = torch.compile(lambda a, b: posefast.mpjpe(a, b).sum(), fullgraph=True, backend=backend)
    out = compiled(pred, target)
    grads = torch.autograd.grad(out, (pred, target))
    assert any("posefast.mpjpe" in str(node.target) for gm in graphs for node in gm.graph.nodes)
    out_eager = posefast.mpjpe(pred, target).sum()
    for a, b in zip(grads, torch.autograd.grad(out_eager, (pred, target))):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_parameters_and_modes_use_the_custom_op():
    pred = torch.nn.Parameter(rand((3, 17, 3), 21))
    target = rand((3, 17, 3), 22)
    with count_dispatcher_calls() as counts:
        err = posefast.mpjpe(pred, target)
        (g,) = torch.autograd.grad(err.sum(), pred)
    assert counts["posefast::mpjpe"] == 1
    with use_fast_path(False):
        (g_slow,) = torch.autograd.grad(posefast.mpjpe(pred, target).sum(), pred)
    torch.testing.assert_close(g, g_slow, rtol=0, atol=0)
    with count_dispatcher_calls() as counts, torch.device("cpu"):  # a TorchFunctionMode
        posefast.mpjpe(pred.detach(), target)
    assert counts == {"posefast::mpjpe": 1}


def test_ops_without_backward_stay_undifferentiable():
    # an op with no autograd formula, called on an input that requires grad, goes to the custom op, so
    # differentiating it raises instead of silently returning no gradient; so does double backward through a
    # kernel backward (the backward op has no formula)
    maps = rand((2, 3, 8, 8), 23).requires_grad_(True)
    with count_dispatcher_calls() as counts:
        coords, _ = heatmap._decode_heatmaps(maps)
    assert counts == {"posefast::decode_heatmaps": 1}
    with pytest.raises(RuntimeError, match="no autograd formula"):
        torch.autograd.grad(coords.sum(), maps)
    pred, target = leaves(rand((3, 17, 3), 24), rand((3, 17, 3), 25))
    (g,) = torch.autograd.grad(posefast.mpjpe(pred, target).sum(), pred, create_graph=True)
    with pytest.raises(RuntimeError, match="no autograd formula"):
        torch.autograd.grad(g.sum(), pred)


def test_use_fast_path_switch():
    assert _kernel_op.fast_path_enabled()
    with use_fast_path(False):
        assert not _kernel_op.fast_path_enabled()
    assert _kernel_op.fast_path_enabled()


# ---- the registration mechanism: one description per op ----------------------------------------------------------
def test_every_op_comes_from_one_description():
    ops = all_kernel_ops()
    assert ops == {name: op for name, op in _kernel_op.registered_ops().items() if name.startswith("posefast::")}
    from torch._library.simple_registry import singleton

    forwards = {name: op for name, op in ops.items() if not name.endswith("_backward")}
    assert len(forwards) == 19
    for name, op in forwards.items():
        assert singleton.find(name).fake_impl.kernel is not None, name  # a fake impl, for tracing
        if op.backward_op is None:  # evaluation only: no formula, no fast-path Function
            assert name in {"posefast::pose_errors", "posefast::render_heatmaps", "posefast::decode_heatmaps"}
            assert op._op._backward_fn is None and op._function is None
            continue
        backward = op.backward_op
        assert backward.name == name + "_backward" and ops[backward.name] is backward
        assert singleton.find(backward.name).fake_impl.kernel is not None, name
        assert op._op._backward_fn is not None and op._function is not None, name
        assert backward.backward_op is None and backward._op._backward_fn is None  # no double backward


_TOY_OPS = itertools.count()


def _toy_op(**overrides):
    """A pure-torch op declared like the kernel ops: out = a * b * scale (and a - b), saving an input, an output
    and a number; each call registers a fresh op name in a test namespace."""
    attrs = dict(
        name=f"posefast_test::toy{next(_TOY_OPS)}",
        outputs=("prod", "diff"),
        saves=("b", "prod", "scale"),
        grads=("a", "b"),
        forward=_toy_forward,
        fake=lambda a, b, scale: (torch.empty_like(a), torch.empty_like(a)),
        backward=_toy_backward,
        backward_fake=lambda grad_prod, grad_diff, b, prod, scale: (torch.empty_like(b), torch.empty_like(b)),
    )
    attrs.update(overrides)
    return _kernel_op.kernel_op(type("toy", (), attrs))


def _toy_forward(a: torch.Tensor, b: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    return a * b * scale, a - b


def _toy_backward(grad_prod: Optional[torch.Tensor], grad_diff: Optional[torch.Tensor], b: torch.Tensor,
                  prod: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    # d prod / d a = b * scale; d prod / d b = prod / b (a * scale), from the saved output
    gp = torch.zeros_like(b) if grad_prod is None else grad_prod
    gd = torch.zeros_like(b) if grad_diff is None else grad_diff
    return gp * b * scale + gd, gp * prod / b - gd


@pytest.mark.parametrize("fast", [True, False], ids=["fast_path", "dispatcher"])
def test_a_described_op_is_differentiable_on_both_paths(fast):
    op = _toy_op()
    a, b = leaves(rand((4, 3), 30), rand((4, 3), 31) + 3.0)
    with use_fast_path(fast):
        assert torch.autograd.gradcheck(lambda x, y: op(x, y, 0.5), (a, b))
        (ga,) = torch.autograd.grad(op(a, b, 0.5)[1].sum(), a)  # only one output used: the other's grad is zeros
    torch.testing.assert_close(ga, torch.ones_like(a))
    torch.library.opcheck(op._op, (a, b, 0.5))
    assert op.backward_op.name == op.name + "_backward"


def _toy_backward_b_first(grad_prod: Optional[torch.Tensor], grad_diff: Optional[torch.Tensor], b: torch.Tensor,
                          prod: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    grad_a, grad_b = _toy_backward(grad_prod, grad_diff, b, prod, scale)
    return grad_b, grad_a


def test_gradients_land_on_the_inputs_grads_names():
    # grads listed out of input order: each result goes to the input it names
    ops = [_toy_op(), _toy_op(grads=("b", "a"), backward=_toy_backward_b_first)]
    a, b = leaves(rand((3, 3), 34), rand((3, 3), 35) + 3.0)
    for fast in (True, False):
        with use_fast_path(fast):
            want, got = (torch.autograd.grad(op(a, b, 1.5)[0].sum(), (a, b)) for op in ops)
        for w, g in zip(want, got):
            torch.testing.assert_close(g, w, rtol=0, atol=0)


@pytest.mark.parametrize("materialize", [True, False])
def test_materialize_grads_passes_an_unused_outputs_gradient_as_none(materialize):
    seen = []

    def backward(grad_prod: Optional[torch.Tensor], grad_diff: Optional[torch.Tensor], b: torch.Tensor,
                 prod: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        seen.append(grad_prod is None)
        return _toy_backward(grad_prod, grad_diff, b, prod, scale)

    op = _toy_op(backward=backward, materialize_grads=materialize)
    a, b = leaves(rand((2, 3), 32), rand((2, 3), 33) + 3.0)
    for fast in (True, False):
        with use_fast_path(fast):
            torch.autograd.grad(op(a, b, 2.0)[1].sum(), (a, b))
    assert seen == [not materialize] * 2


@pytest.mark.parametrize("overrides,message", [
    ({"saves": ("b", "prod")}, r"the backward takes 5 arguments, expected 2 output gradients \+ 2 saved values"),
    ({"grads": ("a",)}, r"the backward returns 2 gradients for grads=\('a',\)"),
    ({"grads": ("a", "c")}, r"\['c'\] name no input of forward"),
    ({"saves": ("b", "product", "scale")}, r"\['product'\] name no input of forward"),
    ({"outputs": ("prod",)}, r"outputs \('prod',\) must name the forward's 2 results"),
    ({"outputs": ("a", "diff")}, r"outputs \('a', 'diff'\) must name the forward's 2 results, unlike its inputs"),
    ({"fake": lambda a, scale, b: None}, r"the fake impl takes \('a', 'scale', 'b'\), the implementation"),
    ({"backward_fake": lambda grad, b, *rest: None}, r"toy\d+_backward: the fake impl takes \('grad', 'b'\) \+ \*args"),
    ({"materialise_grads": False}, r"not understood \['materialise_grads'\]"),
    ({"backward_fake": None}, r"missing \['backward_fake'\]"),
])
def test_an_inconsistent_description_is_rejected_before_registration(overrides, message):
    before = set(_kernel_op.registered_ops())
    attrs = {k: v for k, v in overrides.items() if v is not None}
    with pytest.raises(TypeError, match=message):
        if "backward_fake" in overrides and overrides["backward_fake"] is None:  # left out
            spec = dict(name="posefast_test::no_fake", forward=_toy_forward, fake=lambda a, b, scale: None,
                        backward=_toy_backward, saves=("b", "prod", "scale"), grads=("a", "b"))
            _kernel_op.kernel_op(type("toy", (), spec))
        else:
            _toy_op(**attrs)
    assert set(_kernel_op.registered_ops()) == before  # nothing half-registered


def test_backward_attributes_without_a_backward_are_rejected():
    # an evaluation-only op that names what to save has lost its backward somewhere
    spec = {"name": "posefast_test::no_backward", "forward": _toy_forward, "fake": lambda a, b, scale: None,
            "saves": ("b",)}
    with pytest.raises(TypeError, match=r"not understood \['saves'\]"):
        _kernel_op.kernel_op(type("toy", (), spec))
    assert "posefast_test::no_backward" not in _kernel_op.registered_ops()
