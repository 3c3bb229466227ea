"""The training methods: source-only, PoseAug, PoseDA (and its GPA-only / LPA-only ablations), multi-level 2D."""
from __future__ import annotations

from posefast.methods.base import LiftingMethod
from posefast.methods.data import DomainData, load_domains, root_relative

LIFTING_METHODS: dict[str, type] = {"source-only": LiftingMethod}


def register(name: str):
    def deco(cls):
        LIFTING_METHODS[name] = cls
        return cls

    return deco


def lifting_method(name: str) -> type:
    _import_all()
    try:
        return LIFTING_METHODS[name]
    except KeyError:
        raise ValueError(f"METHOD: unknown lifting method {name!r}; expected one of {sorted(LIFTING_METHODS)}") from None


def _import_all() -> None:
    # Each method module registers itself; importing here keeps `import posefast.methods` light.
    import importlib

    for module in ("poseaug", "poseda"):
        try:
            importlib.import_module(f"posefast.methods.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"posefast.methods.{module}":
                raise


__all__ = ["LiftingMethod", "DomainData", "load_domains", "root_relative", "LIFTING_METHODS", "lifting_method", "register"]
