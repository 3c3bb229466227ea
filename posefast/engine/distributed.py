"""torchrun / DistributedDataParallel support: one process per device, the global batch sharded across ranks.

One answer per run: only rank 0 prints and writes (:func:`is_main_process`), and :meth:`DistContext.sync_buffers`
gives every rank rank 0's buffers before an evaluation, so all ranks evaluate (and rank 0 saves) the same model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from posefast.engine.device import resolve_device


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """DDP-wrap a module with trainable parameters (identity in a single process)."""
        if not self.enabled or not any(p.requires_grad for p in module.parameters()):
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def shard(self, index: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch of indices (strided, so every rank gets the same count)."""
        if not self.enabled:
            return index
        usable = index.shape[0] - index.shape[0] % self.world_size
        return index[self.rank:usable:self.world_size]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    @torch.no_grad()
    def sync_buffers(self, *modules: torch.nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm running statistics) to every rank.

        DDP keeps parameters equal across ranks, but in training mode each rank updates its own running statistics
        from its own shard; DDP's broadcast of rank 0's buffers only happens at the start of the next forward, so
        after an epoch's last step the ranks hold different models. Called before every evaluation (and so before
        the checkpoint that follows it), it makes the evaluated and saved model rank 0's on every rank — the model
        a 1-process evaluation of the checkpoint sees.
        """
        if not self.enabled:
            return
        for module in modules:
            for buffer in unwrap(module).buffers():
                dist.broadcast(buffer, src=0)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, torch.nn.parallel.DistributedDataParallel) else module


def is_main_process() -> bool:
    """True in a single process and on torchrun's rank 0 (readable before the process group exists)."""
    return int(os.environ.get("RANK", "0")) == 0


def init_from_env(device: str) -> DistContext:
    """Join the process group torchrun describes in the environment (WORLD_SIZE > 1), else a single process.
    ``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (:func:`posefast.errors.resolve_device`)."""
    device = str(resolve_device(device)[0])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 1, torch.device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        dev = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistContext(rank, world, dev)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
