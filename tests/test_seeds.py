"""derive_seed: one table of seed derivations, each reproducing the formula its caller used before the table
existed, so every run, checkpoint and table made before it replays bit for bit."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from posefast.engine.loop import epoch_order
from posefast.methods.multilevel.stage import order_seed
from posefast.seeds import PURPOSES, derive_seed

SEEDS = (0, 1, 2, 7, 12345)


def test_each_purpose_gives_the_numbers_of_its_old_formula():
    for seed in SEEDS:
        for epoch in (0, 1, 17, 49):
            for stream in (0, 1, 2, 3):
                assert derive_seed(seed, "epoch-order", stream=stream, epoch=epoch) == \
                    seed * 1_000_003 + stream * 10_007 + epoch  # engine/loop.py epoch_order
            assert derive_seed(seed, "train-split", epoch=epoch) == seed * 7919 + epoch  # poseaug.py, poseda.py
        assert derive_seed(seed, "multilevel-loop") == seed * 10_007  # multilevel/stage.py order_seed
        assert derive_seed(seed, "poseda-lpa") == seed * 104729 + 1  # poseda.py train_lpa
        assert derive_seed(seed, "adain-decoder") == seed * 7919 + 17  # multilevel/adain.py
        assert derive_seed(seed, "target-test-draw") == seed + 1_000_003  # multilevel/image_domains.py
        for salt in (1, 2, 3, 4):
            assert derive_seed(seed, "subset", salt=salt) == seed + salt  # data/domains.py cap


def test_literal_values():
    """A few values written out, in case a formula above and in the table were changed together."""
    assert derive_seed(3, "epoch-order", stream=2, epoch=5) == 3_020_028
    assert derive_seed(2, "train-split", epoch=4) == 15_842
    assert derive_seed(1, "multilevel-loop") == 10_007
    assert derive_seed(2, "poseda-lpa") == 209_459
    assert derive_seed(2, "poseaug-warmup", round=3) == 209_463
    assert derive_seed(1, "adain-decoder") == 7936
    assert derive_seed(0, "target-test-draw") == 1_000_003
    assert derive_seed(5, "subset", salt=4) == 9


def test_callers_draw_what_they_drew_before():
    for seed, stream, epoch in ((0, 0, 0), (2, 1, 7), (10_007 * 3, 3, 40)):
        old = torch.randperm(50, generator=torch.Generator().manual_seed(seed * 1_000_003 + stream * 10_007 + epoch))
        assert torch.equal(epoch_order(50, seed, epoch, stream), old)
    assert [order_seed(s) for s in SEEDS] == [s * 10_007 for s in SEEDS]


def test_numpy_integers_are_seeds_too():
    assert derive_seed(np.int64(2), "subset", salt=np.int32(3)) == 5


@pytest.mark.parametrize("args, kwargs, match", [
    ((0, "epoch"), {}, "purpose: unknown 'epoch'"),
    ((0, "epoch-order"), {"epoch": 1}, r"takes parts \['stream', 'epoch'\]"),
    ((0, "poseda-lpa"), {"epoch": 1}, r"takes parts \[\]"),
    ((1.5, "poseda-lpa"), {}, "seed: expected an int"),
    ((True, "poseda-lpa"), {}, "seed: expected an int"),
    ((0, "train-split"), {"epoch": "3"}, "epoch: expected an int"),
])
def test_bad_arguments_name_themselves(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        derive_seed(*args, **kwargs)


def test_every_purpose_is_documented():
    for name, purpose in PURPOSES.items():
        assert purpose.used_by, name


def test_no_seed_multiplier_outside_the_table():
    """The derivations' constants appear in posefast/seeds.py only: a new derivation goes into the table."""
    package = Path(__file__).resolve().parents[1] / "posefast"
    constants = re.compile(r"\b(?:1_?000_?003|10_?007|7919|104_?729)\b")
    found = [f"{p.relative_to(package.parent)}:{i}: {line.strip()}" for p in sorted(package.rglob("*.py"))
             if p.name != "seeds.py" for i, line in enumerate(p.read_text().splitlines(), 1)
             if constants.search(line)]
    assert not found, "seed constants outside posefast/seeds.py:\n" + "\n".join(found)
