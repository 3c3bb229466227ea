"""The generic ``python -m posefast.train`` settings under ``multilevel`` and ``adain``: each one the user gave
(flag, ``--config`` or ``--set``) either means the same thing for the 2D method or is refused — never ignored.

=================  =====================================================  ==========================================
setting            multilevel                                             adain
=================  =====================================================  ==========================================
``--epochs``       each variant's epochs after the shared pretraining     refused: ``multilevel.adain_steps``
                   (``multilevel.default_epochs`` = ``pretrain_epochs`` +
                   N, as ``compare``'s ``--epochs`` is each method's
                   adaptation)
``--batch-size``   the batch (``multilevel.default_batch_size``)          refused: ``multilevel.adain_batch_size``
``--lr``           the network's learning rate                            refused: ``multilevel.adain_lr``
``--target``       ``multilevel.target``: synthetic, lsp:<dir>, coco:<json>  the same (the style target)
``--source``       only ``synthetic`` (the rendered labelled domain)      the same
lifting-only       refused: ``--backbone``, ``backbone_width``, ``skeleton``, ``n_source``/``n_target``/``n_test``
                   (the 2D counts are ``multilevel.n_*``), ``--flip-test``
=================  =====================================================  ==========================================

With an animal task (``--task animal`` or ``mouse``) ``--source`` / ``--target`` set ``animal.source`` /
``animal.target`` (animal specs) instead.
"""
from __future__ import annotations

from posefast.errors import UsageError

__all__ = ["apply_generic_settings", "LIFTING_ONLY"]

LIFTING_ONLY = {
    "backbone": "multilevel trains its own PoseResNet (--set multilevel.depth=...)",
    "backbone_width": "multilevel trains its own PoseResNet (--set multilevel.deconv_channels=...)",
    "skeleton": "the 2D method's keypoints are Body16",
    "n_source": "the 2D crop counts are multilevel.n_source/n_target/n_test",
    "n_target": "the 2D crop counts are multilevel.n_source/n_target/n_test",
    "n_test": "the 2D crop counts are multilevel.n_source/n_target/n_test",
    "flip_test": "the 2D evaluation has no flip test",
    "init": "multilevel pretrains its own network per seed (multilevel.pretrain_epochs)",
}
_ADAIN_INSTEAD = {"epochs": "adain_steps", "batch_size": "adain_batch_size", "lr": "adain_lr"}
_FLAG = {"epochs": "--epochs", "batch_size": "--batch-size", "lr": "--lr", "source": "--source", "target": "--target",
         "backbone": "--backbone", "flip_test": "--flip-test"}


def apply_generic_settings(cfg, given: dict, method: str, flip_test: bool = False) -> None:
    """Map the top-level settings in ``given`` (name -> value, as the user gave them) onto ``cfg.multilevel`` for
    ``method`` (``multilevel`` or ``adain``), or raise :class:`UsageError` naming the setting and what to use."""
    ml = cfg.multilevel
    given = dict(given)
    if flip_test:
        given["flip_test"] = True
    for key, why in LIFTING_ONLY.items():
        if key in given:
            raise UsageError(f"{_FLAG.get(key, key)}: not used by {method}: {why}")
    if cfg.multilevel.task != "human":  # an animal task: --source/--target replace its specs (animal section)
        for key in ("source", "target"):
            if key in given:
                setattr(cfg.animal, key, given.pop(key))
    if "source" in given:
        if given["source"] != "synthetic":
            raise UsageError(f"--source: {method} learns from the rendered synthetic 2D domain only; expected "
                             f"'synthetic', got {given['source']!r}")
        ml.source = "synthetic"
    if "target" in given:
        ml.target = given["target"]
    if method == "adain":
        for key, instead in _ADAIN_INSTEAD.items():
            if key in given:
                raise UsageError(f"{_FLAG[key]}: not used by adain; set --set multilevel.{instead}=...")
        return
    if "epochs" in given:  # one meaning in every job: the epochs each method trains from its starting point
        ml.default_epochs = ml.pretrain_epochs + cfg.epochs
    if "batch_size" in given:
        ml.default_batch_size = cfg.batch_size
