"""Every seed posefast derives from a run's seed, in one table: :func:`derive_seed` ``(seed, purpose, **parts)``.

A run has one seed (``--seed`` / ``--seeds``). Whatever else draws random numbers in a way a resumed run must
replay (the batch order of an epoch, a method's per-epoch training split, the AdaIN decoder's image pairs, the
held-out synthetic test draw, a real dataset's seeded subset) seeds its own generator from that run seed through
this function, under a named purpose, so the derivations live in one place and can be read side by side.

Each purpose keeps the formula its caller used before this table existed, so runs, checkpoints and tables made
before it reproduce bit for bit (``tests/test_seeds.py`` pins each one). The multipliers are primes so that, within
a purpose, distinct inputs in the documented ranges give distinct generator seeds; two *different* purposes may
share a value (e.g. ``train-split`` at epoch 17 and ``adain-decoder``): they seed generators of different draws in
different places, which never need to be independent of each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

__all__ = ["PURPOSES", "derive_seed"]


def _epoch_order(seed: int, stream: int, epoch: int) -> int:
    return seed * 1_000_003 + stream * 10_007 + epoch


def _loop_seed(seed: int) -> int:
    return seed * 10_007


def _train_split(seed: int, epoch: int) -> int:
    return seed * 7919 + epoch


def _poseda_lpa(seed: int) -> int:
    return seed * 104729 + 1


def _poseaug_warmup(seed: int, round: int) -> int:
    return seed * 104_729 + 2 + round


def _adain_decoder(seed: int) -> int:
    return seed * 7919 + 17


def _target_test_draw(seed: int) -> int:
    return seed + 1_000_003


def _subset(seed: int, salt: int) -> int:
    return seed + salt


@dataclass(frozen=True)
class Purpose:
    """One use of a derived seed: the extra integers it takes (``parts``), its formula and who draws with it."""

    parts: tuple[str, ...]
    formula: Callable[..., int]
    used_by: str


PURPOSES: dict[str, Purpose] = {
    "epoch-order": Purpose(
        ("stream", "epoch"), _epoch_order,
        "engine.loop.epoch_order: the permutation draw `stream` follows in `epoch` (streams < 99 and epochs < 10 007 "
        "of one seed never collide with each other or with another seed's)"),
    "multilevel-loop": Purpose(
        (), _loop_seed,
        "methods.multilevel.stage: the seed a 2D stage hands to the epoch loop (which then derives `epoch-order` "
        "from it), kept from before the 2D stages ran on the shared loop"),
    "train-split": Purpose(
        ("epoch",), _train_split,
        "PoseAug's bone-length template swap and PoseDA's GPA placement of an epoch's source poses"),
    "poseda-lpa": Purpose(
        (), _poseda_lpa, "PoseDA's LPA generator pretraining: its source batches and target 2D anchors"),
    "poseaug-warmup": Purpose(
        ("round",), _poseaug_warmup,
        "PoseAug's GAN warm-up before the first epoch (poseaug.warmup_steps): the template swap and batch order of "
        "each pass over the source, `round` counting the passes"),
    "adain-decoder": Purpose(
        (), _adain_decoder, "methods.multilevel.adain: the image pairs the AdaIN decoder trains on"),
    "target-test-draw": Purpose(
        (), _target_test_draw,
        "the synthetic 2D target's labelled test crops, drawn apart from the unlabelled target crops (seed itself)"),
    "subset": Purpose(
        ("salt",), _subset,
        "data.domains: the seeded subset that caps a real split at n poses; salt = data.domains.SPLIT_SALTS[split]"),
}


def derive_seed(seed: int, purpose: str, **parts: int) -> int:
    """The generator seed for ``purpose`` (a key of :data:`PURPOSES`) of a run with seed ``seed``.

    ``parts`` are the purpose's named integers (e.g. ``stream`` and ``epoch`` for ``"epoch-order"``), all required.
    A wrong purpose, a missing or unexpected part, or a non-integer raises ``ValueError`` naming it.
    """
    entry = PURPOSES.get(purpose)
    if entry is None:
        raise ValueError(f"purpose: unknown {purpose!r}; expected one of {sorted(PURPOSES)}")
    missing = [p for p in entry.parts if p not in parts]
    extra = sorted(set(parts) - set(entry.parts))
    if missing or extra:
        raise ValueError(f"derive_seed({purpose!r}): takes parts {list(entry.parts)}, got {sorted(parts)}")
    for name, value in (("seed", seed), *parts.items()):
        # numpy integers are accepted (they come from configs and arrays); bools and floats are not
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise ValueError(f"{name}: expected an int, got {value!r}")
    return entry.formula(int(seed), **{k: int(v) for k, v in parts.items()})
