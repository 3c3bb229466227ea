"""Statistics of a comparison over seeds: mean ± std per metric and, per method, the paired difference to a
baseline with a 95 % interval — so that a difference inside the noise is never reported as an effect.

Two sources of noise, two intervals (both paired: the method and the baseline of a seed share the seed's data,
initialisation and test samples):

- ``ci95`` (the claim): a Student-t interval over the per-seed differences Δ_s = stat(baseline_s) − stat(method_s)
  (signed so that positive = better). Each Δ_s carries both the training noise of its seed and the sampling noise
  of its test set, so their spread over seeds estimates the whole error of the mean. With one seed no spread can be
  estimated; the interval is then the test-sampling one below, and the summary says so.
- ``ci95_test``: a percentile bootstrap over test samples, resampled within each seed with the same indices for
  method and baseline, averaged over seeds — how much of the difference the finite test set alone could explain.

Per-sample records are dicts of numpy arrays with a leading sample axis; a *statistic* maps such a record (or a
resampled one) to a number: :func:`mean_of` for per-pose means (MPJPE, PCK of a 3D pose), :func:`pck_of_hits` for
the 2D PCK (accuracy per keypoint, then averaged over keypoints).
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

Record = Mapping[str, np.ndarray]
Statistic = Callable[[Record], float]

# Two-sided 95 % quantiles of Student's t, t_{0.975, df} for df = 1..30.
_T975 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010, 2.1788, 2.1604,
         2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555,
         2.0518, 2.0484, 2.0452, 2.0423)


def t_quantile_975(df: int) -> float:
    """t_{0.975, df}: a table up to 30 degrees of freedom, then the Cornish-Fisher expansion (error < 1e-4)."""
    if df < 1:
        raise ValueError(f"df: expected at least 1 degree of freedom, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


def mean_of(key: str) -> Statistic:
    """The statistic 'mean of ``record[key]``' (per-pose MPJPE → MPJPE, per-pose PCK → PCK, ...)."""
    def statistic(record: Record) -> float:
        return float(np.mean(record[key]))
    statistic.__name__ = f"mean_{key}"
    return statistic


def pck_of_hits(record: Record) -> float:
    """2D PCK (percent) of ``record["hits"]`` / ``record["visible"]`` ``[N, K]``: accuracy of each keypoint over
    its visible instances, averaged over keypoints that are visible at least once (RegDA/UDAPE's PCK)."""
    hits = record["hits"].sum(0, dtype=np.float64)
    counts = record["visible"].sum(0, dtype=np.float64)
    valid = counts > 0
    return float(np.mean(hits[valid] / counts[valid]) * 100.0) if valid.any() else float("nan")


def _take(record: Record, index: np.ndarray) -> dict:
    return {k: v[index] for k, v in record.items()}


def _check_paired(base: Mapping[int, Record], other: Mapping[int, Record]) -> list:
    if not base:
        raise ValueError("records: expected at least one seed")
    if sorted(base) != sorted(other):
        raise ValueError(f"records: the method was run with seeds {sorted(other)}, the baseline with {sorted(base)}; "
                         f"a paired comparison needs the same seeds")
    for s in base:
        lengths = {len(v) for r in (base[s], other[s]) for v in r.values()}
        nb, no = (len(next(iter(r.values()))) for r in (base[s], other[s]))
        if len(lengths) != 1 or nb == 0:
            raise ValueError(f"records: seed {s} has {no} test samples for the method and {nb} for the baseline; "
                             f"a paired comparison needs the same non-empty test set")
    return sorted(base)


def paired_difference(base: Mapping[int, Record], other: Mapping[int, Record], statistic: Statistic,
                      higher_is_better: bool, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean over seeds of the per-seed difference of ``statistic`` between ``other`` and ``base`` (positive =
    ``other`` is better) with both intervals of the module docstring.

    Returns ``{"mean", "per_seed": {seed: Δ}, "ci95": [lo, hi], "ci95_kind": "t over seeds" | "test bootstrap
    (one seed)", "ci95_test": [lo, hi], "effect": "better" | "worse" | "no measurable effect"}``.
    """
    seeds = _check_paired(base, other)
    sign = 1.0 if higher_is_better else -1.0
    per_seed = {s: sign * (statistic(other[s]) - statistic(base[s])) for s in seeds}
    deltas = np.array([per_seed[s] for s in seeds], dtype=np.float64)
    mean = float(deltas.mean())

    rng = np.random.default_rng(seed)
    boot = np.zeros(n_boot)
    for s in seeds:  # the same resampled indices for both: paired within the seed
        n = len(next(iter(base[s].values())))
        for b in range(n_boot):
            index = rng.integers(0, n, n)
            boot[b] += sign * (statistic(_take(other[s], index)) - statistic(_take(base[s], index)))
    boot /= len(seeds)
    ci_test = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))] if n_boot else [mean, mean]

    if len(seeds) >= 2:
        half = t_quantile_975(len(seeds) - 1) * float(deltas.std(ddof=1)) / math.sqrt(len(seeds))
        ci, kind = [mean - half, mean + half], "t over seeds"
    else:
        ci, kind = ci_test, "test bootstrap (one seed)"
    effect = "better" if ci[0] > 0 else "worse" if ci[1] < 0 else "no measurable effect"
    return {"mean": mean, "per_seed": {str(s): per_seed[s] for s in seeds}, "ci95": ci, "ci95_kind": kind,
            "ci95_test": ci_test, "effect": effect}


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value) of a sequence of numbers."""
    v = np.asarray(list(values), dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
