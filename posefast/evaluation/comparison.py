"""What a finished comparison's records say: per seed and method (or variant) results, and per-sample records, become
the summary dicts the tables print (:mod:`posefast.evaluation.tables`): means ± std over seeds, paired gains with
their intervals (:func:`posefast.evaluation.stats.paired_difference`), and gains per group of test poses (pose
classes the source repertoire has or lacks, each class, viewpoint bins).

This layer knows no method by name: the baseline every row is compared with and the extra pairs come from the
caller (the jobs pass ``posefast.methods.registry.BASELINE``)."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from posefast.evaluation.stats import mean_of, mean_std, paired_difference, pck_of_hits
from posefast.evaluation.tables import LIFTING_METRICS

__all__ = ["LIFTING_KEYS", "VIEW_BINS", "class_groups", "each_class", "view_groups", "grouped_gains",
           "lifting_summary", "targets_summary", "variant_rows"]

LIFTING_KEYS = tuple(k for k, _ in LIFTING_METRICS)
# Viewpoint bins by the elevation of the body axis (pelvis → thorax) toward the camera: > 0 seen from above.
VIEW_BINS = ((-90.0, -10.0), (-10.0, 5.0), (5.0, 20.0), (20.0, 35.0), (35.0, 90.0))


def class_groups(records: dict, source_classes) -> dict:
    """``{"in source repertoire (...)": mask, "not in source repertoire (...)": mask}`` over the target test poses of
    a labelled synthetic target (empty for real data)."""
    names = [str(n) for n in records.get("class_names", ())]
    if not names or "pose_class" not in records or not source_classes:
        return {}  # a source without pose classes (real mocap) has no repertoire to compare with
    seen = np.isin(np.array(names), list(source_classes))
    is_seen = seen[records["pose_class"]]
    inside = ", ".join(n for n, k in zip(names, seen) if k)
    outside = ", ".join(n for n, k in zip(names, seen) if not k)
    return {f"in source repertoire ({inside})": is_seen, f"not in source repertoire ({outside})": ~is_seen}


def each_class(records: dict) -> dict:
    """``{class name: mask}`` over the target test poses of a labelled synthetic target (empty for real data)."""
    names = [str(n) for n in records.get("class_names", ())]
    if not names or "pose_class" not in records:
        return {}
    return {n: records["pose_class"] == i for i, n in enumerate(names)}


def view_groups(records: dict) -> dict:
    """``{"view elevation a..b°": mask}`` over the target test poses (every target with 3D labels)."""
    if "view_elevation_deg" not in records:
        return {}
    e = records["view_elevation_deg"]
    return {f"{lo:+.0f}° to {hi:+.0f}°": (e > lo) & (e <= hi) for lo, hi in VIEW_BINS}


def grouped_gains(records: dict, seeds, methods, groups_of: Callable[[dict], dict], n_boot: int, baseline: str,
                  pairs: Sequence[tuple[str, str]] = ()) -> dict:
    """Per group of target test poses (``groups_of(records) -> {name: mask}``, the same poses at every seed of a
    synthetic target's test draw, so each seed's own masks are used): every method's MPJPE (mean over seeds) and
    its paired gain vs ``baseline`` (and the ``pairs`` ``(method, against)`` gains) on that group, with
    intervals. ``records``: ``{method: {seed: per-pose records}}``."""
    mpjpe = mean_of("mpjpe")
    out = {}
    for name in groups_of(records[baseline][seeds[0]]):
        masks = {s: groups_of(records[baseline][s])[name] for s in seeds}
        if any(not m.any() for m in masks.values()):
            continue  # a seed without poses in this group: nothing to pair
        sub = {m: {s: {"mpjpe": records[m][s]["mpjpe"][masks[s]]} for s in seeds} for m in methods}
        entry = {"n": int(np.mean([masks[s].sum() for s in seeds])), "methods": {}}
        for m in methods:
            e = {"mpjpe": mean_std(float(np.mean(sub[m][s]["mpjpe"])) for s in seeds)[0]}
            if m != baseline:
                e["vs_source_only"] = paired_difference(sub[baseline], sub[m], mpjpe, False, n_boot)
            entry["methods"][m] = e
        for m, against in pairs:
            if m in methods and against in methods:
                entry["methods"][m][f"vs_{against}"] = paired_difference(sub[against], sub[m], mpjpe, False, n_boot)
        out[name] = entry
    return out


def lifting_summary(records: dict, per_seed: dict, seeds, methods, meta: dict, curves: dict, n_boot: int,
                    baseline: str, pairs: Sequence[tuple[str, str]] = ()) -> dict:
    """The summary dict of one target of a lifting comparison (what it holds: :mod:`posefast.cli.compare`).

    ``records``: ``{method: {seed: per-pose target records}}``; ``per_seed``: ``{method: {seed: target metrics}}``;
    ``curves``: the pretraining's per-epoch curves by seed; ``meta``: the settings the summary names first."""
    errors = {m: {s: {"mpjpe": records[m][s]["mpjpe"]} for s in seeds} for m in methods}
    methods_out = {}
    mpjpe = mean_of("mpjpe")
    for m in methods:
        row = {}
        for k in LIFTING_KEYS:
            row[k], _ = mean_std(per_seed[m][s][k] for s in seeds)
        row["std"] = {k: mean_std(per_seed[m][s][k] for s in seeds)[1] for k in LIFTING_KEYS}
        row["seeds"] = {str(s): {k: per_seed[m][s][k] for k in LIFTING_KEYS} for s in seeds}
        if m != baseline:
            row["vs_source_only"] = paired_difference(errors[baseline], errors[m], mpjpe, higher_is_better=False,
                                                      n_boot=n_boot)
        classes = per_seed[m][seeds[0]].get("per_class")
        if classes:
            row["per_class"] = {c: mean_std(per_seed[m][s]["per_class"][c]["mpjpe"] for s in seeds)[0]
                                for c in classes}
        methods_out[m] = row
    source_classes = meta.get("source_classes", ())
    pair_gains = {f"{m}_vs_{a}": paired_difference(errors[a], errors[m], mpjpe, False, n_boot)
                  for m, a in pairs if m in methods and a in methods}

    def gains(groups_of):
        return grouped_gains(records, seeds, methods, groups_of, n_boot, baseline, pairs)

    return {**meta, "seeds": list(seeds), "methods": methods_out, "pairs": pair_gains,
            "class_groups": gains(lambda r: class_groups(r, source_classes)),
            "view_groups": gains(view_groups),
            "classes": gains(each_class),
            "pretrain_curves": curves}


def targets_summary(records: dict, targets, seeds, methods, summaries: dict, folders: dict, n_boot: int,
                    baseline: str) -> dict:
    """The several-target table: per target, every method's MPJPE and P-MPJPE (mean over seeds) and their paired
    gains over ``baseline`` (``vs_source_only``, ``p_mpjpe_vs_source_only``). ``records``:
    ``{target: {method: {seed: per-pose records}}}``; ``summaries``: each target's :func:`lifting_summary`."""
    p_mpjpe = mean_of("p_mpjpe")
    table = {}
    for t in targets:
        p = {m: {s: {"p_mpjpe": records[t][m][s]["p_mpjpe"]} for s in seeds} for m in methods}
        rows = {}
        for m in methods:
            row = {k: summaries[t]["methods"][m][k] for k in ("mpjpe", "p_mpjpe", "std")}
            if m != baseline:
                row["vs_source_only"] = summaries[t]["methods"][m]["vs_source_only"]
                row["p_mpjpe_vs_source_only"] = paired_difference(p[baseline], p[m], p_mpjpe, False, n_boot)
            rows[m] = row
        table[t] = {"folder": folders[t], "n_target_test": summaries[t]["n_target_test"], "methods": rows}
    return table


def variant_rows(records: dict, results: dict, seeds, variants, n_boot: int, baseline: str = "source-only") -> dict:
    """The 2D job's rows: ``{variant: {"pck": mean, "std": {"pck"}, "seeds": {...}, "per_joint": mean,
    "vs_source_only": Δ with intervals, "vs_previous": Δ to the row above (each level's contribution)}}``.
    ``records``: ``{variant: {seed: per-crop PCK tallies}}``; ``results``: ``{seed: {variant: final metrics}}``."""
    rows = {}
    for i, v in enumerate(variants):
        per_seed = {str(s): results[s][v] for s in seeds}
        pck, std = mean_std(r["pck"] for r in per_seed.values())
        row = {"pck": pck, "std": {"pck": std},
               "seeds": {k: {key: r[key] for key in ("pck", "pck_student") if key in r} for k, r in per_seed.items()},
               "per_joint": {j: mean_std(r["per_joint"][j] for r in per_seed.values())[0]
                             for j in per_seed[str(seeds[0])]["per_joint"]}}
        if "pck_student" in per_seed[str(seeds[0])]:
            row["pck_student"] = mean_std(r["pck_student"] for r in per_seed.values())[0]
        if v != baseline and baseline in variants:
            row["vs_source_only"] = paired_difference(records[baseline], records[v], pck_of_hits, True, n_boot)
        if i > 0 and variants[i - 1] != baseline:
            prev = variants[i - 1]
            row["vs_previous"] = {"against": prev, **paired_difference(records[prev], records[v], pck_of_hits, True,
                                                                       n_boot)}
        rows[v] = row
    return rows
