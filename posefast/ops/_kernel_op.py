"""How every posefast op is declared and called: one description per op, from which this module builds the
``torch.library`` custom op, its fake impl, its backward op and autograd formula, and an eager fast path.

Each kernel op is one class body (a namespace only: plain functions, no ``self``), turned into a callable
:class:`KernelOp` by :func:`kernel_op`::

    @kernel_op
    class _mpjpe:
        name = "posefast::mpjpe"
        saves = ("pred", "target", "root")   # what the backward op takes after the output gradients
        grads = ("pred", "target")           # the forward inputs the backward op returns gradients for

        def forward(pred: Tensor, target: Tensor, root: int) -> Tensor: ...              # the kernel call
        def fake(pred, target, root): ...                                                 # shapes, for tracing
        def backward(grad: Tensor, pred: Tensor, target: Tensor, root: int) -> tuple[Tensor, Tensor]: ...
        def backward_fake(grad, pred, target, root): ...

From that this module registers ``posefast::mpjpe`` (schema from ``forward``'s annotations) with ``fake``, the op
``posefast::mpjpe_backward`` from ``backward``/``backward_fake``, and the autograd formula linking them: the forward
saves ``saves`` (names of forward inputs, or of outputs listed in ``outputs``; tensors through
``save_for_backward``, numbers on the context), the backward op is called with ``(*output_grads, *saved)`` and its
results become the gradients of ``grads``, None for every other input. ``materialize_grads = False`` passes an
unused output's gradient as None (the backward's parameter is then ``Optional[Tensor]``: a null pointer for the
kernel) instead of zeros. An op without ``backward`` (evaluation only) has no autograd formula: differentiating it
raises. The description is checked when the module is imported: the backward's arity must be ``outputs + saves``,
``saves`` and ``grads`` must name inputs (or outputs), and ``grads`` must match the backward's results.

The registered custom op (``torch.ops.posefast.mpjpe``) is what ``torch.compile``, ``torch.export`` and
``torch.library.opcheck`` see. In plain eager execution, going through it costs the dispatcher, the custom op's
autograd wrapper and its schema checks on every call, a fixed cost per call that is as large as an eager twin's
whole computation at PoseAug's batch sizes (measured in docs/results.md, "The eager fast path"). So in eager mode a
:class:`KernelOp` calls the Python implementation directly, through one ``torch.autograd.Function`` built from the
same description when a gradient is needed (the backward op is itself a :class:`KernelOp`, so the backward takes
the fast path too).

The fast path is taken only when nothing could observe the difference; otherwise the call goes to the custom op:

* not while ``torch.compile``/``torch.export`` traces (``torch.compiler.is_compiling()``);
* every tensor argument is a plain ``torch.Tensor`` (FakeTensor, FunctionalTensor and other subclasses, and
  ``nn.Parameter``, go to the custom op), no TorchDispatchMode or TorchFunctionMode is active and no functorch
  transform (vmap, grad) is;
* an op without a backward, called with grad enabled on an input that requires grad, goes to the custom op too,
  so that differentiating it still raises instead of silently yielding no gradient (this also keeps double
  backward through a kernel backward an error, as before).

Both paths run the same Python implementation, so they return the same values; ``use_fast_path(False)`` turns the
fast path off (the tests compare the two).
"""
from __future__ import annotations

import inspect
import typing

import torch

from posefast.ops._switch import ProcessSwitch

__all__ = ["kernel_op", "KernelOp", "registered_ops", "use_fast_path", "fast_path_enabled"]

_FAST = [True]
_AUTOCAST_DEVICES = tuple(d for d in ("cpu", "cuda") if torch.amp.is_autocast_available(d))


def fast_path_enabled() -> bool:
    return _FAST[0]


class use_fast_path(ProcessSwitch):
    """Switch the eager fast path on (default) or off for the process; as a context manager, for the block."""

    _state = _FAST


def _plain_call(args) -> tuple[bool, bool]:
    """``(plain, needs_grad)``: every tensor argument is a plain tensor and no mode or transform is active;
    some tensor argument requires grad while grad mode is on."""
    if (not _FAST[0] or torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack()
            or torch._C._is_torch_function_mode_enabled() or torch._C._are_functorch_transforms_active()):
        return False, False
    needs_grad = False
    for a in args:
        if isinstance(a, torch.Tensor):
            if type(a) is not torch.Tensor:
                return False, False
            needs_grad = needs_grad or a.requires_grad
    return True, needs_grad and torch.is_grad_enabled()


def _check_fake(name: str, impl, fake) -> None:
    """The fake impl names the implementation's parameters in the same order (a shared fake may end in *args):
    a fake bound to the wrong parameters would describe the wrong tensors."""
    impl_params = list(inspect.signature(impl).parameters)
    fake_params = inspect.signature(fake).parameters.values()
    named = [p.name for p in fake_params if p.kind != p.VAR_POSITIONAL]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in fake_params)
    if named != impl_params[:len(named)] or (not varargs and len(named) != len(impl_params)):
        raise TypeError(f"{name}: the fake impl takes {tuple(named)}{' + *args' if varargs else ''}, the "
                        f"implementation {tuple(impl_params)}")


class KernelOp:
    """A custom op and its eager fast path; see the module docstring. Attributes not defined here (e.g.
    ``register_kernel``, ``_opoverload``) are the custom op's. ``backward_op`` is the backward's KernelOp (None
    for an evaluation-only op or a backward op)."""

    def __init__(self, name: str, fn, fake):
        self.name = name
        self._fn = fn
        self._op = torch.library.custom_op(name, mutates_args=())(fn)
        self._op.register_fake(fake)
        # Under autocast (a network's forward at --precision bf16, or the user's own) the dispatcher path casts
        # bf16/fp16 inputs to float32 and runs the kernel with autocast off: the kernels compute in float32/float64
        # only. The public ops do the same before their checks (ops._checks.fp32_boundary), which the eager fast
        # path, bypassing the dispatcher, needs.
        for device_type in _AUTOCAST_DEVICES:
            self._op.register_autocast(device_type, torch.float32)
        self._function = None  # the autograd.Function of the fast path, when the op has a backward
        self.backward_op = None
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)
        _REGISTRY[name] = self

    def __call__(self, *args):
        plain, needs_grad = _plain_call(args)
        if plain:
            if not needs_grad:
                return self._fn(*args)
            if self._function is not None:
                return self._function.apply(*args)
        return self._op(*args)

    def __getattr__(self, attr):
        op = self.__dict__.get("_op")
        if op is None:  # not constructed yet (copy/pickle probing)
            raise AttributeError(attr)
        return getattr(op, attr)


_REGISTRY: dict[str, KernelOp] = {}


def registered_ops() -> dict[str, KernelOp]:
    """Every KernelOp built so far (forward and backward ops), by custom-op name."""
    return dict(_REGISTRY)


def _result_count(fn) -> int:
    """How many tensors ``fn`` returns, from its return annotation (``Tensor`` or ``tuple[Tensor, ...]``)."""
    ret = typing.get_type_hints(fn).get("return")
    if typing.get_origin(ret) is tuple:
        return len(typing.get_args(ret))
    if ret is torch.Tensor:
        return 1
    raise TypeError(f"{fn.__qualname__}: annotate the return as Tensor or tuple[Tensor, ...], got {ret!r}")


class _Autograd:
    """The autograd formula of one description: which inputs/outputs to save, how to call the backward op, where
    its results go. Index lists are computed once, so a call does no name lookups."""

    def __init__(self, spec, forward, backward):
        name = spec.name
        params = list(inspect.signature(forward).parameters)
        hints = typing.get_type_hints(forward)
        outputs = tuple(getattr(spec, "outputs", ()))
        n_out = _result_count(forward)
        if outputs and (len(outputs) != n_out or set(outputs) & set(params)):
            raise TypeError(f"{name}: outputs {outputs} must name the forward's {n_out} results, unlike its inputs")
        saves, grads = tuple(spec.saves), tuple(spec.grads)
        n_back = len(inspect.signature(backward).parameters)
        if n_back != n_out + len(saves):
            raise TypeError(f"{name}: the backward takes {n_back} arguments, expected {n_out} output gradients + "
                            f"{len(saves)} saved values {saves}")
        if _result_count(backward) != len(grads):
            raise TypeError(f"{name}: the backward returns {_result_count(backward)} gradients for grads={grads}")
        unknown = [g for g in grads if g not in params] + [v for v in saves if v not in params and v not in outputs]
        if unknown:
            raise TypeError(f"{name}: {unknown} name no input of forward{tuple(params)} (nor an output {outputs})")
        self.multi_out, self.multi_grad = n_out > 1, len(grads) > 1
        self.n_inputs = len(params)
        self.grad_positions = [params.index(g) for g in grads]
        # each saved value: (from_output, index, is_tensor); forward inputs annotated Tensor and outputs are tensors
        where = [(True, outputs.index(v), True) if v not in params
                 else (False, params.index(v), hints.get(v) is torch.Tensor) for v in saves]
        self.tensor_saves = [(o, i) for o, i, t in where if t]
        self.other_saves = [i for o, i, t in where if not t]
        self.order = [t for _, _, t in where]  # True: next saved tensor, False: next saved number
        self.materialize = bool(getattr(spec, "materialize_grads", True))
        self.backward = None  # the backward's KernelOp, once registered
        # fast forms of the common cases (each µs counts on the eager path): only tensors saved; the gradients are
        # those of the leading inputs
        self.only_tensors = all(self.order)
        leading = self.grad_positions == list(range(len(grads)))
        self.trailing_nones = (None,) * (self.n_inputs - len(grads)) if leading else None

    def setup_context(self, ctx, inputs, output):
        outs = output if self.multi_out else (output,)
        ctx.save_for_backward(*[(outs if o else inputs)[i] for o, i in self.tensor_saves])
        if not self.only_tensors:
            ctx.saved_numbers = [inputs[i] for i in self.other_saves]
        if not self.materialize:
            ctx.set_materialize_grads(False)  # unused outputs' cotangents reach the backward as None

    def backward_formula(self, ctx, *grads):
        if self.only_tensors:
            saved = ctx.saved_tensors
        else:
            tensors, numbers = iter(ctx.saved_tensors), iter(ctx.saved_numbers)
            saved = [next(tensors) if is_tensor else next(numbers) for is_tensor in self.order]
        result = self.backward(*grads, *saved)
        result = result if self.multi_grad else (result,)
        if self.trailing_nones is not None:
            return (*result, *self.trailing_nones)
        out = [None] * self.n_inputs
        for position, grad in zip(self.grad_positions, result):
            out[position] = grad
        return tuple(out)

    def eager_function(self, fn, name: str):
        """The fast path's autograd.Function. forward(ctx, *args) rather than a separate setup_context: with one,
        Function.apply binds the arguments through inspect.signature on every call (~20 µs)."""
        setup, formula = self.setup_context, self.backward_formula

        def forward(ctx, *args):
            output = fn(*args)
            setup(ctx, args, output)
            return output

        def backward(ctx, *grads):
            return formula(ctx, *grads)

        return type(f"{name}_eager", (torch.autograd.Function,),
                    {"forward": staticmethod(forward), "backward": staticmethod(backward)})


_BACKWARD_ATTRS = {"backward", "backward_fake", "saves", "grads", "outputs", "materialize_grads"}


def kernel_op(spec) -> KernelOp:
    """Class decorator: the custom op, fake impl, backward op, autograd formula and eager fast path of one
    description (see the module docstring for the attributes it reads). The whole description is checked before
    anything is registered with torch.library."""
    body = {k: v for k, v in vars(spec).items() if not (k.startswith("__") and k.endswith("__"))}
    missing = [a for a in ("name", "forward", "fake") if a not in body]
    allowed = {"name", "forward", "fake"}
    if "backward" in body:
        missing += [a for a in ("backward_fake", "saves", "grads") if a not in body]
        allowed |= _BACKWARD_ATTRS
    unknown = sorted(set(body) - allowed)  # a misspelt attribute (or a backward's without one) would be ignored
    if missing or unknown:
        raise TypeError(f"kernel_op {spec.__qualname__}: missing {missing}, not understood {unknown}")
    name, forward = body["name"], body["forward"]
    _check_fake(name, forward, body["fake"])
    formula = None
    if "backward" in body:
        _check_fake(name + "_backward", body["backward"], body["backward_fake"])
        formula = _Autograd(spec, forward, body["backward"])
    op = KernelOp(name, forward, body["fake"])
    op.__doc__ = spec.__doc__ or op.__doc__
    if formula is not None:
        formula.backward = op.backward_op = KernelOp(name + "_backward", body["backward"], body["backward_fake"])
        op._op.register_autograd(formula.backward_formula, setup_context=formula.setup_context)
        op._function = formula.eager_function(forward, name.split("::")[-1])
    return op
