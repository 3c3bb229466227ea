"""Before an evaluation every rank holds rank 0's buffers (batch-norm running statistics), so all ranks evaluate the
model rank 0 saves (gloo, two processes)."""
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from posefast.engine.distributed import DistContext


def _rank(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        ctx = DistContext(rank, world, torch.device("cpu"))
        wrapped = ctx.wrap(net)
        wrapped.train()
        torch.manual_seed(rank)  # each rank's own shard: its own running statistics
        wrapped(torch.randn(8, 3) * (rank + 1))
        before = net[1].running_var.clone()
        ctx.sync_buffers(wrapped)
        torch.save({"before": before, "after": {k: v.clone() for k, v in net.named_buffers()}}, f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_sync_buffers_gives_every_rank_rank0s_statistics(tmp_path):
    fd, name = tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    os.remove(name)
    # spawn, not fork: a fork of the test process can inherit locks held by its threads and hang
    mp.start_processes(_rank, args=(2, f"file://{name}", str(tmp_path)), nprocs=2, join=True, start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    assert not torch.equal(r0["before"], r1["before"])  # they differed after the last training forward
    for key in r0["after"]:
        assert torch.equal(r0["after"][key], r1["after"][key]), key
    assert torch.equal(r0["after"]["1.running_var"], r0["before"])  # rank 0's, the ones its checkpoint holds
