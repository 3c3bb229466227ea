"""The shared epoch loop's batch order (posefast.engine.loop): what every lifting method and multilevel stage draws."""
from __future__ import annotations

import pytest
import torch

from posefast.engine.loop import EpochLoop, batch_indices, epoch_order
from posefast.methods.multilevel.stage import order_seed


def test_stream_zero_is_the_lifting_runs_permutation():
    # Lifting runs have drawn randperm(seed * 1_000_003 + epoch) since issue 13: changing it changes their numbers.
    for seed, epoch in ((0, 0), (3, 7)):
        expected = torch.randperm(50, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        assert torch.equal(epoch_order(50, seed, epoch), expected)


def test_streams_epochs_and_seeds_draw_different_permutations():
    orders = {(s, e, k): epoch_order(200, s, e, k) for s in (0, 1) for e in (0, 1) for k in (0, 1, 2, 3)}
    keys = list(orders)
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            assert not torch.equal(orders[a], orders[b]), (a, b)
    assert torch.equal(epoch_order(200, 1, 1, 3), epoch_order(200, 1, 1, 3))  # a pure function: a resume replays it


def test_batches_are_cut_at_the_end_or_wrap_around():
    order = torch.arange(10) * 10
    assert batch_indices(order, 1, 4, wrap=False).tolist() == [40, 50, 60, 70]
    assert batch_indices(order, 2, 4, wrap=False).tolist() == [80, 90]  # the lifting loop's rule
    assert batch_indices(order, 2, 4, wrap=True).tolist() == [80, 90, 0, 10]
    assert batch_indices(order, 3, 4, wrap=True).tolist() == [20, 30, 40, 50]  # (3 * 4) % 10 = 2
    assert batch_indices(torch.arange(3), 0, 7, wrap=True).tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_multilevel_stages_draw_the_permutations_they_drew_before_the_shared_loop():
    # multilevel's own epoch_order (removed in issue 16) seeded randperm with (seed * 1_000_003 + stream) * 10_007
    # + epoch; the 2D table in docs/results.md was measured with it.
    for seed, epoch, stream in ((0, 0, 0), (1, 2, 3), (4, 5, 1)):
        expected = torch.randperm(40, generator=torch.Generator().manual_seed((seed * 1_000_003 + stream) * 10_007
                                                                             + epoch))
        assert torch.equal(epoch_order(40, order_seed(seed), epoch, stream), expected)


def test_a_checkpoint_from_before_the_shared_loop_is_refused_by_name(tmp_path):
    torch.save({"stage": {}, "epoch": 1, "rng": None, "metrics": {}, "settings": {}}, tmp_path / "checkpoint.pt")
    loop = EpochLoop(None, tmp_path, epochs=2, batch_size=4, seed=0)
    with pytest.raises(ValueError, match=r"checkpoint\.pt is not a checkpoint of posefast's epoch loop \(no step;"):
        loop.fit(resume=True)
