"""Fast in-memory batching: every array lives on the target device and a batch is one ``index_select`` per key.

No ``DataLoader``, no per-sample Python: an epoch is a single ``torch.randperm`` drawn from a
``torch.Generator`` (reproducible), sliced into index batches.
"""
from __future__ import annotations

from typing import Iterator, Mapping

import torch

from posefast.data.pose3d.dataset import PoseDataset

__all__ = ["TensorBatcher", "dataset_batcher", "infinite", "paired_batches"]


class TensorBatcher:
    """Mini-batches over a dict of tensors that share their first dimension N (all on one device).

    Args:
        tensors: key -> tensor [N, ...].
        batch_size: samples per batch.
        shuffle: a fresh permutation per epoch (else the stored order).
        drop_last: skip the final short batch.
        generator: ``torch.Generator`` for the permutation. A CPU generator with CUDA tensors is allowed: the
            permutation is drawn on the CPU and moved once per epoch.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor], batch_size: int, *, shuffle: bool = True,
                 drop_last: bool = False, generator: "torch.Generator | None" = None):
        if not tensors:
            raise ValueError("tensors: expected at least one tensor")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")
        sizes = {k: int(v.shape[0]) for k, v in tensors.items()}
        devices = {v.device for v in tensors.values()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"tensors: first dimensions differ: {sizes}")
        if len(devices) != 1:
            raise ValueError(f"tensors: on several devices {sorted(map(str, devices))}")
        self.tensors = dict(tensors)
        self.n = next(iter(sizes.values()))
        if self.n == 0:
            raise ValueError("tensors: no samples")
        self.device = devices.pop()
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        if drop_last and self.n < batch_size:
            raise ValueError(f"batch_size: {batch_size} > {self.n} samples with drop_last=True gives no batch")

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def permutation(self) -> torch.Tensor:
        """int64 [N] on the tensors' device: this epoch's sample order."""
        if not self.shuffle:
            return torch.arange(self.n, device=self.device)
        g = self.generator
        gen_device = g.device if g is not None else torch.device("cpu")
        perm = torch.randperm(self.n, generator=g, device=gen_device)
        return perm.to(self.device, non_blocking=True)

    def __iter__(self) -> Iterator[dict]:
        perm = self.permutation()
        for b in range(len(self)):
            idx = perm[b * self.batch_size:(b + 1) * self.batch_size]
            yield {k: v.index_select(0, idx) for k, v in self.tensors.items()}


def dataset_batcher(dataset: PoseDataset, batch_size: int, device="cpu", *, keys=None, shuffle: bool = True,
                    drop_last: bool = False, generator: "torch.Generator | None" = None) -> TensorBatcher:
    """A :class:`TensorBatcher` over a dataset's tensors (``PoseDataset.tensors``: archive keys plus
    ``joints_2d_norm``); ``keys`` restricts them (e.g. ``("joints_2d_norm", "joints_3d")``)."""
    tensors = dataset.tensors(device)
    if keys is not None:
        missing = [k for k in keys if k not in tensors]
        if missing:
            raise ValueError(f"keys: {missing} not in {dataset.name} (has {sorted(tensors)})")
        tensors = {k: tensors[k] for k in keys}
    return TensorBatcher(tensors, batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)


def infinite(batcher: TensorBatcher) -> Iterator[dict]:
    """Batches forever, a new permutation each epoch."""
    while True:
        yield from batcher


def paired_batches(source: TensorBatcher, target: TensorBatcher) -> Iterator[tuple[dict, dict]]:
    """One source epoch of (source batch, target batch) pairs; the target cycles as often as needed
    (domain adaptation: the two domains rarely have the same size)."""
    target_iter = infinite(target)
    for batch in source:
        yield batch, next(target_iter)
