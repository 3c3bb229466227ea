"""The staged shape both comparison jobs share (the 3D ``compare`` and the 2D ``multilevel``): for every seed, one
source-only *pretraining* stage, then every *variant* adapts from that same pretrained state with the same budget —
the papers' pretrain → adapt protocol (PoseAug's README: "pretrain the baseline models and then train these
baseline models with PoseAug"; the multi-level paper's first 40 of 70 epochs are source-only).

:func:`run_staged` runs the stages as tasks: ``pretrain(seed)`` first, then ``adapt(seed, variant)`` for each
variant once its seed's pretraining is done. With ``jobs > 1`` the tasks run in that many worker processes (spawned,
each with ``threads`` torch threads), scheduled as soon as their pretraining is done; otherwise in this process in
a fixed order. A task's result depends only on its arguments and its thread count — never on the schedule — so a
comparison is reproducible for a given (settings, seeds, threads per task). Task functions must be picklable
(module-level functions, or ``functools.partial`` of them with picklable arguments) and write their own run folders,
which is what makes an interrupted comparison resumable stage by stage.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

import torch

__all__ = ["parse_seeds", "plan_workers", "run_staged"]


def parse_seeds(text) -> list[int]:
    """``"0,1,2"`` (or an int, or a list) → ``[0, 1, 2]``: distinct non-negative seeds, at least one."""
    if isinstance(text, int) and not isinstance(text, bool):
        items = [text]
    elif isinstance(text, (list, tuple)):
        items = list(text)
    else:
        parts = [p.strip() for p in str(text).split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise ValueError(f"--seeds: expected comma-separated non-negative integers like 0,1,2, got {text!r}")
        items = [int(p) for p in parts]
    if not items or len(set(items)) != len(items) or any(isinstance(s, bool) or not isinstance(s, int) or s < 0
                                                         for s in items):
        raise ValueError(f"--seeds: expected distinct non-negative integers (at least one), got {text!r}")
    return items


def plan_workers(jobs: int, n_seeds: int, threads: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads per worker). ``jobs = 0`` picks ``min(n_seeds, threads)``: seeds are
    independent, and on a few cores separate processes use them better than intra-op threads do for these small
    networks. The threads (default: torch's, i.e. the cores or ``OMP_NUM_THREADS``) are shared out evenly."""
    threads = threads or torch.get_num_threads()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        raise ValueError(f"jobs: expected a non-negative int (0 = automatic), got {jobs!r}")
    workers = jobs or max(1, min(n_seeds, threads))
    return workers, max(1, threads // workers)


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def run_staged(pretrain: Callable[[int], Any], adapt: Callable[[int, str], Any], seeds: Sequence[int],
               variants: Sequence[str], jobs: int = 1, threads: int | None = None,
               on_done: Callable[[str, int, str | None, Any], None] | None = None) -> dict:
    """Run ``pretrain(seed)`` for every seed and ``adapt(seed, variant)`` after it; returns
    ``{seed: {"pretrain": result, variant: result, ...}}``. ``on_done(kind, seed, variant, result)`` is called in
    this process as each task finishes (progress lines). ``jobs``/``threads``: see :func:`plan_workers`."""
    results: dict = {s: {} for s in seeds}
    report = on_done or (lambda *a: None)
    if jobs <= 1:
        if threads:
            torch.set_num_threads(threads)
        for s in seeds:
            results[s]["pretrain"] = pretrain(s)
            report("pretrain", s, None, results[s]["pretrain"])
            for v in variants:
                results[s][v] = adapt(s, v)
                report("adapt", s, v, results[s][v])
        return results

    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and locks
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(threads or 1,)) as pool:
        pending = {pool.submit(pretrain, s): ("pretrain", s, None) for s in seeds}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                kind, s, v = pending.pop(future)
                result = future.result()  # a failed task stops the comparison with its own error
                results[s]["pretrain" if v is None else v] = result
                report(kind, s, v, result)
                if kind == "pretrain":
                    for variant in variants:
                        pending[pool.submit(adapt, s, variant)] = ("adapt", s, variant)
    return {s: {k: results[s][k] for k in ["pretrain", *variants]} for s in seeds}
