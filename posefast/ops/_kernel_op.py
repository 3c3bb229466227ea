"""How every posefast op is called: a ``torch.library`` custom op plus an eager fast path.

Each kernel op is defined once, with :func:`kernel_op` in place of ``torch.library.custom_op``::

    @kernel_op("posefast::mpjpe")
    def _mpjpe(pred: Tensor, target: Tensor, root: int) -> Tensor: ...   # the kernel call
    @_mpjpe.register_fake
    def _(pred, target, root): ...                                        # shapes, for tracing
    _mpjpe.register_autograd(backward, setup_context=setup)               # as torch.library

The registered custom op (``torch.ops.posefast.mpjpe``) is what ``torch.compile``, ``torch.export`` and
``torch.library.opcheck`` see. In plain eager execution, going through it costs the dispatcher, the custom op's
autograd wrapper and its schema checks on every call: ~20-28 µs forward and ~166 µs forward + backward per call
(bench/NOTES.md), as much as an eager twin's whole computation at PoseAug's batch sizes. So in eager mode the
object returned by :func:`kernel_op` calls the Python implementation directly, through one
``torch.autograd.Function`` built from the same ``backward``/``setup_context`` when a gradient is needed (the
backward op is itself a kernel op, so the backward takes the fast path too).

The fast path is taken only when nothing could observe the difference; otherwise the call goes to the custom op:

* not while ``torch.compile``/``torch.export`` traces (``torch.compiler.is_compiling()``);
* every tensor argument is a plain ``torch.Tensor`` (FakeTensor, FunctionalTensor and other subclasses, and
  ``nn.Parameter``, go to the custom op), no TorchDispatchMode or TorchFunctionMode is active and no functorch
  transform (vmap, grad) is;
* an op without a registered backward, called with grad enabled on an input that requires grad, goes to the
  custom op too, so that differentiating it still raises instead of silently yielding no gradient (this also
  keeps double backward through a kernel backward an error, as before).

Both paths run the same Python implementation, so they return the same values; ``use_fast_path(False)`` turns the
fast path off (the tests compare the two).
"""
from __future__ import annotations

import torch

__all__ = ["kernel_op", "use_fast_path", "fast_path_enabled"]

_FAST = [True]


def fast_path_enabled() -> bool:
    return _FAST[0]


class use_fast_path:
    """Switch the eager fast path on (default) or off for the process; as a context manager, for the block."""

    def __init__(self, enabled: bool = True):
        self._previous = _FAST[0]
        _FAST[0] = bool(enabled)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _FAST[0] = self._previous
        return False


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


class KernelOp:
    """A custom op and its eager fast path; see the module docstring. Attributes not defined here (e.g.
    ``register_kernel``, ``_opoverload``) are the custom op's."""

    def __init__(self, name: str, fn, mutates_args):
        self.name = name
        self._fn = fn
        self._op = torch.library.custom_op(name, mutates_args=mutates_args)(fn)
        self._function = None  # the autograd.Function of the fast path, once a backward is registered
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", name)

    def register_fake(self, fake):
        self._op.register_fake(fake)
        return fake

    def register_autograd(self, backward, *, setup_context=None):
        self._op.register_autograd(backward, setup_context=setup_context)
        fn = self._fn

        # forward(ctx, *args) rather than a separate setup_context: with one, Function.apply binds the arguments
        # through inspect.signature on every call (~20 µs).
        def forward(ctx, *args):
            output = fn(*args)
            if setup_context is not None:
                setup_context(ctx, args, output)
            return output

        def backward_(ctx, *grads):
            return backward(ctx, *grads)

        name = self.name.split("::")[-1]
        self._function = type(f"{name}_eager", (torch.autograd.Function,),
                              {"forward": staticmethod(forward), "backward": staticmethod(backward_)})

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


def kernel_op(name: str, *, mutates_args=()):
    """Decorator: ``torch.library.custom_op(name, mutates_args=...)`` with the eager fast path of this module."""

    def wrap(fn):
        return KernelOp(name, fn, mutates_args)

    return wrap
