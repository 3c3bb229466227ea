"""In-memory batching: exact epoch coverage, reproducibility, pairing of domains."""
import numpy as np
import pytest
import torch

from posefast.data import TensorBatcher, dataset_batcher, generate_synthetic, infinite, paired_batches


def _tensors(n, device):
    return {"x": torch.arange(n, device=device), "y": torch.arange(n, device=device).float()[:, None] * 2}


def test_epoch_covers_every_sample_once(device):
    b = TensorBatcher(_tensors(103, device), 10, generator=torch.Generator().manual_seed(0))
    assert len(b) == 11
    seen = torch.cat([batch["x"] for batch in b])
    assert seen.device.type == device.type
    assert sorted(seen.tolist()) == list(range(103))
    for batch in b:
        torch.testing.assert_close(batch["y"][:, 0], batch["x"].float() * 2)  # keys stay aligned


def test_reproducible_and_drop_last(device):
    def order(seed):
        b = TensorBatcher(_tensors(50, device), 8, generator=torch.Generator().manual_seed(seed), drop_last=True)
        return [batch["x"].tolist() for batch in b]
    first = order(3)
    assert first == order(3) and first != order(4)
    assert len(first) == 6 and all(len(x) == 8 for x in first)
    unshuffled = TensorBatcher(_tensors(5, device), 2, shuffle=False)
    assert [batch["x"].tolist() for batch in unshuffled] == [[0, 1], [2, 3], [4]]


def test_two_epochs_differ_and_infinite(device):
    b = TensorBatcher(_tensors(64, device), 64, generator=torch.Generator().manual_seed(0))
    it = infinite(b)
    e1, e2 = next(it)["x"], next(it)["x"]
    assert sorted(e1.tolist()) == sorted(e2.tolist()) and not torch.equal(e1, e2)


def test_bad_input():
    with pytest.raises(ValueError, match="first dimensions differ"):
        TensorBatcher({"a": torch.zeros(3), "b": torch.zeros(4)}, 2)
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatcher({"a": torch.zeros(3)}, 0)
    with pytest.raises(ValueError, match="no batch"):
        TensorBatcher({"a": torch.zeros(3)}, 4, drop_last=True)


def test_dataset_batcher_and_pairs(device):
    src = generate_synthetic("h36m", n=70, seed=0)
    tgt = generate_synthetic("3dhp", n=25, seed=0).without_3d()
    g = torch.Generator().manual_seed(1)
    sb = dataset_batcher(src, 16, device, keys=("joints_2d_norm", "joints_3d"), generator=g)
    tb = dataset_batcher(tgt, 16, device, keys=("joints_2d_norm",), generator=g)
    pairs = list(paired_batches(sb, tb))
    assert len(pairs) == len(sb) == 5
    s, t = pairs[0]
    assert s["joints_2d_norm"].shape == (16, 17, 2) and s["joints_3d"].dtype == torch.float32
    assert set(t) == {"joints_2d_norm"}
    np.testing.assert_allclose(torch.cat([p[0]["joints_3d"] for p in pairs]).sum(0).cpu().numpy(),
                               src.joints_3d.sum(0), rtol=1e-4)
    with pytest.raises(ValueError, match="joints_3d"):
        dataset_batcher(tgt, 4, device, keys=("joints_3d",))
