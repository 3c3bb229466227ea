"""History pool of generated samples for discriminator updates (Shrivastava et al. 2017, as PoseAug uses it)."""
from __future__ import annotations

import torch


def last_occurrence(slots: torch.Tensor) -> torch.Tensor:
    """Mask of the entries of the 1-D index tensor ``slots`` that are the last one naming their slot.

    Why: ``items[slots] = values`` with a repeated slot leaves *some* of its values there, and which one is not
    specified. Torch's CPU index_put splits the writes across its threads, so at 2 threads the winner followed
    the scheduler: the pool's contents, then the discriminator and every later number of a PoseAug run changed
    with machine load (issue 13). Writing only the last occurrence makes the indices unique, so the result is
    "last write wins" (what one thread gives) at any thread count and on any device.
    """
    order = torch.sort(slots, stable=True).indices  # stable: a slot's repeats stay in batch order
    ranked = slots[order]
    last_in_run = torch.ones_like(ranked, dtype=torch.bool)
    last_in_run[:-1] = ranked[1:] != ranked[:-1]
    mask = torch.empty_like(last_in_run)
    mask[order] = last_in_run  # `order` is a permutation: no index repeats here
    return mask


class SamplePool:
    """Fixed-size tensor pool. The first ``size`` samples are stored and passed through; after that each incoming
    sample, with probability 1/2, is swapped with a random stored one (the stored one is returned instead).
    Swaps of one batch that draw the same slot all return its stored sample, and the last of them is kept.

    Vectorised over the batch and driven by torch's global RNG, so its state is a plain tensor in checkpoints.
    """

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"size: expected a positive pool size, got {size}")
        self.size = size
        self.items: torch.Tensor | None = None
        self.count = 0

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        batch = batch.detach()
        if self.items is None:
            self.items = batch.new_zeros((self.size,) + batch.shape[1:])
        out = batch.clone()
        fill = min(self.size - self.count, batch.shape[0])
        if fill > 0:
            self.items[self.count:self.count + fill] = batch[:fill]
            self.count += fill
        rest = batch[fill:]
        if rest.shape[0]:
            swap = torch.rand(rest.shape[0], device=batch.device) > 0.5
            slot = torch.randint(0, self.size, (rest.shape[0],), device=batch.device)
            chosen, incoming = slot[swap], rest[swap]
            out[fill:][swap] = self.items[chosen]
            last = last_occurrence(chosen)
            self.items[chosen[last]] = incoming[last]
        return out

    def state_dict(self) -> dict:
        return {"items": self.items, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.items, self.count = state["items"], state["count"]
