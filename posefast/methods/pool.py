"""History pool of generated samples for discriminator updates (Shrivastava et al. 2017, as PoseAug uses it)."""
from __future__ import annotations

import torch


class SamplePool:
    """Fixed-size tensor pool. The first ``size`` samples are stored and passed through; after that each incoming
    sample, with probability 1/2, is swapped with a random stored one (the stored one is returned instead).

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
            chosen = slot[swap]
            out[fill:][swap] = self.items[chosen]
            self.items[chosen] = rest[swap]
        return out

    def state_dict(self) -> dict:
        return {"items": self.items, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.items, self.count = state["items"], state["count"]
