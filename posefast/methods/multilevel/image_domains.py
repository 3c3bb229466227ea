"""The image domains of a multilevel run: rendered synthetic source crops, the unlabelled target and its labelled
test split (synthetic draws, or the first / last crops of an ``lsp:``/``coco:`` file)."""
from __future__ import annotations

from posefast.data.image2d import image_spec_kind, load_image_spec, make_domain
from posefast.seeds import derive_seed

__all__ = ["load_image_domains", "load_target_splits"]


def load_image_domains(ml, seed: int) -> dict:
    """``{"source", "target", "target_test"}`` ImagePoseDatasets of ``ml.image_size`` crops (Body16)."""
    if ml.source != "synthetic":
        raise ValueError(f"multilevel.source: only 'synthetic' is supported as the labelled domain, got {ml.source!r}")
    for name in ("n_source", "n_target", "n_test"):
        v = getattr(ml, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"multilevel.{name}: expected a positive int, got {v!r}")
    image_spec_kind(ml.target)  # a bad spec fails before the source is rendered
    target, test = load_target_splits(ml, seed)
    return {"source": make_domain("source", ml.n_source, ml.image_size, seed), "target": target, "target_test": test}


def load_target_splits(ml, seed: int, parts=("train", "test")) -> tuple:
    """The unlabelled target (``train``: ``ml.n_target`` crops) and its labelled test split (``test``: ``ml.n_test``
    crops) of ``ml.target``: a fresh synthetic draw each, or the first / last crops of an ``lsp:``/``coco:`` file
    (overlap refused). ``ml`` is the ``multilevel`` config section (or an object with its fields)."""
    size = ml.image_size
    if image_spec_kind(ml.target) == "synthetic":
        draws = {"train": lambda: make_domain("target", ml.n_target, size, seed),
                 "test": lambda: make_domain("target", ml.n_test, size, derive_seed(seed, "target-test-draw"))}  # disjoint, eval only
        return tuple(draws[p]() for p in parts)
    everything = load_image_spec(ml.target, size)
    if ml.n_target + ml.n_test > len(everything):
        raise ValueError(f"multilevel.target: {ml.target!r} has {len(everything)} crops, fewer than "
                         f"n_target + n_test = {ml.n_target + ml.n_test} (the two splits must not overlap)")
    splits = {"train": slice(0, ml.n_target), "test": slice(len(everything) - ml.n_test, len(everything))}
    return tuple(everything.subset(splits[p]) for p in parts)
