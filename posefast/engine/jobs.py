"""The one runner of every comparison job (the lifting ``compare``, the 2D ``multilevel``, and any job added later):
seeds × stages × variants in worker processes, the per-process data cache, stage folders, per-pose records,
progress lines, resume and ``summary.{md,json}``. A job is a *description* — a :class:`Job` subclass that says what
its pretraining and adaptation stages train and how its finished stages become tables — and :func:`run_job` runs
it. ``tests/test_layering.py`` keeps this the only module that creates worker pools, names seed folders or writes
a summary.

The shape is the papers' pretrain → adapt protocol (PoseAug's README: "pretrain the baseline models and then train
these baseline models with PoseAug"; the multi-level paper's first 40 of 70 epochs are source-only): per seed one
*pretraining* stage, then every *variant* adapts from that same pretrained state with the same budget.

:func:`run_staged` runs the stages as tasks: ``pretrain(seed)`` first, then ``adapt(seed, variant)`` for each variant
once its seed's pretraining is done. With ``jobs > 1`` the tasks run in that many worker processes (spawned, each
with ``threads`` torch threads), scheduled as soon as their pretraining is done; otherwise in this process in a
fixed order. A task's result depends only on its arguments and its thread count — never on the schedule — so a
comparison is reproducible for a given (settings, seeds, threads per task). Stages write their own folders
(:func:`stage_dir`) through the epoch loop, which is what makes an interrupted comparison resumable stage by stage:
with ``resume`` every stage continues from its own checkpoint.
"""
from __future__ import annotations

import json
import multiprocessing
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Sequence

import numpy as np
import torch

from posefast.engine.checkpoint import write_text_atomic

__all__ = ["Job", "Summary", "Workers", "run_job", "run_staged", "plan_workers", "parse_list", "parse_seeds",
           "seed_dir", "stage_dir", "read_records", "collect_records", "read_metrics_lines", "cached",
           "cached_entry"]

SUMMARY_MD, SUMMARY_JSON = "summary.md", "summary.json"


# -- settings -------------------------------------------------------------------------------------------------------
def parse_list(value, key: str, allowed: Sequence | None = None, *, item: Callable[[str], Any] = str,
               expected: str = "names", distinct: bool = True, at_least_one: bool = True,
               allow_empty_items: bool = False) -> list:
    """A list setting given as a list or as comma-separated text (``"a, b"``, what ``--set`` and old YAML files
    hold) → a list of non-empty items (``distinct``: no repeats; ``at_least_one``), each converted by ``item``
    and, with ``allowed``, one of those. Empty items of a text are dropped unless ``allow_empty_items`` (then they
    are an error, e.g. a trailing comma). Anything else is a ``ValueError`` naming ``key``, the value and what is
    allowed."""
    allowed_text = f" from {list(allowed)}" if allowed is not None else ""
    kind = "distinct comma-separated" if distinct else "comma-separated"
    problem = ValueError(f"{key}: expected {kind} {expected}{allowed_text}, got {value!r}")
    if isinstance(value, (list, tuple)):
        raw = list(value)
    elif isinstance(value, str):
        raw = [p.strip() for p in value.split(",")]
        if not allow_empty_items:
            raw = [p for p in raw if p]
    else:
        raw = [value]
    try:
        items = [item(p) for p in raw]
    except (TypeError, ValueError):
        raise problem from None
    if (at_least_one and not items) or any(p == "" for p in items) or \
            (distinct and len(set(map(repr, items))) != len(items)):
        raise problem
    if allowed is not None and any(p not in allowed for p in items):
        raise problem
    return items


def _seed(text) -> int:
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, int):
        if text < 0:
            raise ValueError(text)
        return text
    if not str(text).strip().isdigit():
        raise ValueError(text)
    return int(str(text).strip())


def parse_seeds(value) -> list[int]:
    """``"0,1,2"`` (or an int, or a list) → ``[0, 1, 2]``: distinct non-negative seeds, at least one."""
    return parse_list(value, "--seeds", item=_seed, expected="non-negative integers like 0,1,2 (at least one)")


# -- workers and stages ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workers:
    """How a job's stages run: ``jobs`` worker processes of ``threads`` torch threads each (``threads=None``: this
    process's default)."""
    jobs: int
    threads: int | None

    @property
    def parallel(self) -> bool:
        return self.jobs > 1


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


def run_staged(pretrain: Callable[[int], Any], adapt: Callable[[int, Any], Any], seeds: Sequence[int],
               variants: Sequence, jobs: int = 1, threads: int | None = None,
               on_done: Callable[[str, int, Any, Any], None] | None = None) -> dict:
    """Run ``pretrain(seed)`` for every seed and ``adapt(seed, variant)`` after it; returns
    ``{seed: {"pretrain": result, variant: result, ...}}``. ``on_done(kind, seed, variant, result)`` is called in
    this process as each task finishes (progress lines). Task functions must be picklable (module-level functions,
    bound methods of picklable objects, or ``functools.partial`` of them). ``jobs``/``threads``: see
    :func:`plan_workers`."""
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


# -- folders and records --------------------------------------------------------------------------------------------
def seed_dir(out, seed: int) -> Path:
    """``OUT/seed<S>``: a seed's stages (and what they share, e.g. the 2D job's AdaIN)."""
    return Path(out) / f"seed{seed}"


def stage_dir(out, seed: int, stage: str) -> Path:
    """``OUT/seed<S>/<stage>``: one stage's run folder (``pretrain`` or a variant's name)."""
    return seed_dir(out, seed) / stage


def read_records(path) -> dict:
    """A stage's per-sample records (``.npz``: what the paired intervals resample) as ``{name: array}``."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def collect_records(out, seeds, stages, filename: str) -> dict:
    """``{stage: {seed: records}}`` of ``OUT/seed<S>/<stage>/<filename>`` for every stage and seed."""
    return {st: {s: read_records(stage_dir(out, s, st) / filename) for s in seeds} for st in stages}


def read_metrics_lines(folder) -> list[dict]:
    """A stage's ``metrics.jsonl``: one dict per finished epoch."""
    return [json.loads(x) for x in (Path(folder) / "metrics.jsonl").read_text().splitlines() if x.strip()]


# -- the per-process data cache -------------------------------------------------------------------------------------
_CACHE: dict = {}  # per process: data loaded for one seed, shared by that seed's stages


def cached(key: Hashable, seed: int, build: Callable[[], Any]) -> Any:
    """The data of ``(key, seed)``, built once per process by ``build()``. Only one seed's data stays: a worker
    runs a seed's stages one after another, and the data of a finished seed would only hold memory."""
    if (key, seed) not in _CACHE:
        for k in [k for k in _CACHE if k[1] != seed]:
            del _CACHE[k]
        _CACHE[key, seed] = build()
    return _CACHE[key, seed]


def cached_entry(key: Hashable, seed: int) -> Any | None:
    """What :func:`cached` holds for ``(key, seed)`` in this process, or None (nothing is built)."""
    return _CACHE.get((key, seed))


# -- jobs ---------------------------------------------------------------------------------------------------------
@dataclass
class Summary:
    """One table of a finished job: ``folder/summary.md`` (``table``) and ``folder/summary.json`` (``data``)."""
    folder: Path
    data: dict
    table: str


class Job:
    """A comparison job's description; :func:`run_job` runs it. Subclasses set ``name`` (the progress prefix),
    ``out`` (the run folder), ``seeds``, ``variants`` and ``workers_setting`` (the user's ``jobs``, 0 = automatic)
    and write:

    - :meth:`pretrain` ``(seed)`` and :meth:`adapt` ``(seed, variant)``: the stages (the job object travels to the
      worker processes, so it must pickle); ``self.workers`` is set before they run (``self.workers.parallel``:
      progress bars would interleave);
    - :meth:`progress` ``(seed, variant, result)``: the text of a finished stage's line;
    - :meth:`summarize` ``(results)``: the finished stages as :class:`Summary` tables (the last one is printed).
    """

    name = "job"
    out: Path
    seeds: list
    variants: list
    workers_setting: int = 0
    one_process = False  # a GPU or torchrun ranks: the stages run one after another
    is_main = True  # only the main rank prints and writes the summaries
    workers: Workers = Workers(1, None)
    started: float = 0.0

    def pretrain(self, seed: int) -> Any:
        raise NotImplementedError

    def adapt(self, seed: int, variant) -> Any:
        raise NotImplementedError

    def header(self) -> str:
        """The line printed before the stages run."""
        return (f"{len(self.seeds)} seed(s) × (pretrain + {len(self.variants)} variants) in {self.workers.jobs} "
                f"process(es) × {self.workers.threads or 'default'} thread(s); run folder {self.out}")

    def progress(self, seed: int, variant, result) -> str:
        return "pretrain (source-only)" if variant is None else str(variant)

    def summarize(self, results: dict) -> list[Summary]:
        raise NotImplementedError

    def finish(self, summaries: list[Summary]) -> None:
        """After the summaries are written (plots)."""

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def _print_progress(job: Job):
    def report(kind, seed, variant, result):
        print(f"[{job.name}] seed {seed} {job.progress(seed, variant, result)}", flush=True)
    return report


def run_job(job: Job) -> dict:
    """Run ``job``'s stages over its seeds (:func:`run_staged`), write its summaries and print the last table;
    returns the last summary's data (``{}`` on ranks other than the main one)."""
    job.started = time.perf_counter()
    jobs, threads = plan_workers(job.workers_setting, len(job.seeds))
    job.workers = Workers(1, None) if job.one_process else Workers(jobs, threads)
    if job.is_main:
        print(f"[{job.name}] {job.header()}", flush=True)
    results = run_staged(job.pretrain, job.adapt, job.seeds, job.variants, job.workers.jobs, job.workers.threads,
                         on_done=_print_progress(job) if job.is_main else None)
    if not job.is_main:
        return {}
    summaries = job.summarize(results)
    for s in summaries:
        s.folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(s.folder / SUMMARY_MD, s.table)  # a full disk keeps the old file and says so
        write_text_atomic(s.folder / SUMMARY_JSON, json.dumps(s.data, indent=2))
    job.finish(summaries)
    last = summaries[-1]
    others = (f", each of the other {len(summaries) - 1} in its own folder under {job.out}"
              if len(summaries) > 1 else "")
    print("\n" + last.table + f"\nwritten to {last.folder}/{SUMMARY_MD} and {SUMMARY_JSON}{others} "
          f"({job.seconds():.0f} s)")
    return last.data
