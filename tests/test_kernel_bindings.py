"""The pybind11 boundary (csrc/bind_util.h, csrc/ops/*_bind.cpp): every kernel entry point is bound with a name for
each parameter, keyword-only, and those names are the ones its header (csrc/ops/<family>.h) and its definition
(csrc/ops/<family>.inl) give, with the same pointer roles; a call with a misspelt, swapped-in, missing or positional
argument is a TypeError before any kernel runs (issue 16)."""
import pathlib
import re
import shutil
import subprocess

import pytest
import torch

from posefast import H36M17, _C, _ext
from posefast.ops._tables import table

CSRC = pathlib.Path(__file__).resolve().parents[1] / "csrc"
FAMILIES = ("skeleton", "metrics", "heatmap", "transforms")
POINTER_ROLES = {"In", "InOrNull", "Out"}


def _signatures(path: pathlib.Path) -> dict:
    """``{entry point: [(type, name), ...]}`` of every ``void name(...)`` in a C++ file (comments dropped)."""
    text = re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    out = {}
    for m in re.finditer(r"\bvoid\s+(\w+)\s*\(([^)]*)\)", text):
        params = [" ".join(p.split()) for p in m.group(2).split(",")]
        out[m.group(1)] = [tuple(re.fullmatch(r"(.*?)\s*(\w+)", p).groups()) for p in params]
    return out


def _header_entry_points() -> dict:
    found = {}
    for family in FAMILIES:
        found.update(_signatures(CSRC / "ops" / f"{family}.h"))
    return found


def _bound_parameters(fn) -> list[str]:
    """Parameter names of a pybind11 function, from the signature line pybind11 writes into its docstring."""
    first = fn.__doc__.splitlines()[0]
    inside = first[first.index("(") + 1: first.rindex(")")]
    return [p.split(":")[0].strip() for p in re.split(r",\s*(?![^\[]*\])", inside)]


def test_every_entry_point_is_bound_by_its_header_names():
    entries = _header_entry_points()
    assert len(entries) == 35  # the 35 custom ops' kernels (tests/test_kernel_op.py)
    bound = {name for name in dir(_C) if callable(getattr(_C, name)) and getattr(_C, name).__doc__
             and "device" in _bound_parameters(getattr(_C, name))}
    assert bound == set(entries)
    for name, params in entries.items():
        assert params[0] == ("const Stream&", "stream") and params[1] == ("int", "dtype"), name
        # keyword-only ('*' first): device and stream replace the header's Stream, the rest as declared
        assert _bound_parameters(getattr(_C, name)) == ["*", "device", "stream", *[n for _, n in params[1:]]], name


def test_definitions_match_their_declarations():
    # the .inl parameter names and pointer roles are the header's (C++ does not check names, so this does)
    for family in FAMILIES:
        declared = _signatures(CSRC / "ops" / f"{family}.h")
        defined = _signatures(CSRC / "ops" / f"{family}.inl")
        assert set(defined) == set(declared), family
        for name, params in declared.items():
            assert [t for t, _ in defined[name]][1:] == [t for t, _ in params][1:], name
            assert [n for _, n in defined[name]][1:] == [n for _, n in params][1:], name
            assert {t for t, _ in params if t in POINTER_ROLES} <= POINTER_ROLES
            assert not any(t in ("Ptr", "std::uintptr_t", "uintptr_t") for t, _ in params), name  # typed roles only


def _bone_vectors_buffers():
    x = torch.randn(2, 17, 3)
    return x, table(H36M17, "parents", x.device), torch.full((2, 16, 3), 7.0)


def test_a_wrong_or_swapped_in_keyword_is_an_error_before_the_kernel_runs():
    x, parents, bones = _bone_vectors_buffers()
    ok = dict(device=0, stream=0, dtype=0, joints=x.data_ptr(), parents=parents.data_ptr(), bones=bones.data_ptr(),
              N=2, J=17)
    misspelt = {**{k: v for k, v in ok.items() if k != "bones"}, "out": bones.data_ptr()}
    missing = {k: v for k, v in ok.items() if k != "parents"}
    extra = {**ok, "grad_joints": bones.data_ptr()}
    for kwargs in (misspelt, missing, extra):
        with pytest.raises(TypeError, match="incompatible function arguments"):
            _C.bone_vectors_forward(**kwargs)
    with pytest.raises(TypeError, match="incompatible function arguments"):  # positional: keyword-only
        _C.bone_vectors_forward(*ok.values())
    with pytest.raises(TypeError, match="incompatible function arguments"):  # a tensor is not a pointer
        _C.bone_vectors_forward(**{**ok, "joints": x})
    assert (bones == 7.0).all()  # nothing ran
    _C.bone_vectors_forward(**ok)
    torch.testing.assert_close(bones, x[:, 1:] - x[:, parents[1:]])


def test_launch_passes_names_through_and_rejects_unknown_ones():
    x, parents, bones = _bone_vectors_buffers()
    with pytest.raises(TypeError, match="incompatible function arguments"):
        _ext.launch("bone_vectors_forward", x, joints=x, parent=parents, bones=bones, N=2, J=17)
    assert (bones == 7.0).all()
    # the same buffers named for their roles: the result lands in bones, the inputs are untouched
    x0 = x.clone()
    _ext.launch("bone_vectors_forward", x, bones=bones, J=17, N=2, parents=parents, joints=x)
    torch.testing.assert_close(bones, x[:, 1:] - x[:, parents[1:]])
    assert torch.equal(x, x0)


_WRAPPER = """
#include "posefast/common.h"
float* write_target(posefast::In target, posefast::Out err) {{
  {body}
}}
"""


@pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler")
@pytest.mark.parametrize("body,compiles", [
    ("return posefast::as<float>(err);", True),
    ("(void)posefast::as<const float>(target); return posefast::as<float>(err);", True),
    ("(void)err; return posefast::as<float>(target);", False),  # writing through an input
    ("return posefast::as<float>(target.addr + err.addr);", False),  # a bare address is no pointer role
])
def test_pointer_roles_are_checked_by_the_compiler(tmp_path, body, compiles):
    src = tmp_path / "wrapper.cpp"
    src.write_text(_WRAPPER.format(body=body))
    result = subprocess.run(["c++", "-std=c++17", "-fsyntax-only", f"-I{CSRC / 'include'}", str(src)],
                            capture_output=True, text=True)
    assert (result.returncode == 0) is compiles, result.stderr
    if not compiles and "target)" in body:
        assert "an In pointer is read-only" in result.stderr
