"""PCK@0.05 per keypoint group of a finished 2D comparison (the animal papers' per-group table: eye, chin, hoof,
hip, knee, shoulder, elbow for SynAnimal -> TigDog in UDAPE), from the variants' per-crop tallies.

A group's PCK is the mean of its keypoints' PCKs (UDAPE's ``group_accuracy``), i.e.
:func:`posefast.evaluation.stats.pck_of_hits` of the tallies restricted to the group's columns, so the gains and
their intervals come from the same :func:`~posefast.evaluation.stats.paired_difference` as the overall table's."""
from __future__ import annotations

import math

from posefast.evaluation.stats import mean_std, paired_difference, pck_of_hits

__all__ = ["group_rows", "group_table", "unscored_groups"]


def _columns(records: dict, cols) -> dict:
    return {"hits": records["hits"][:, cols], "visible": records["visible"][:, cols]}


def group_rows(records: dict, seeds, variants, groups: dict, evaluated: tuple, n_boot: int,
               baseline: str = "source-only") -> dict:
    """``{group: {variant: {"pck": mean over seeds, "std", "vs_source_only": paired gain}}}``.

    ``records``: ``{variant: {seed: {"hits", "visible"} [N, K']}}`` over the ``evaluated`` keypoint ids (the
    columns, in that order); ``groups``: group -> keypoint ids of the layout. A group none of whose keypoints was
    evaluated, or none of whose keypoints is labelled in any test crop (its PCK is undefined, not 0), is left out;
    :func:`unscored_groups` names those."""
    out = {}
    for g, ids in groups.items():
        cols = [evaluated.index(k) for k in ids if k in evaluated]
        if not cols:
            continue
        sub = {v: {s: _columns(records[v][s], cols) for s in seeds} for v in variants}
        if not any(sub[v][s]["visible"].any() for v in variants for s in seeds):
            continue
        entry = {}
        for v in variants:
            pck, std = mean_std(pck_of_hits(sub[v][s]) for s in seeds)
            row = {"pck": pck, "std": std}
            if v != baseline and baseline in variants:
                row["vs_source_only"] = paired_difference(sub[baseline], sub[v], pck_of_hits, True, n_boot)
            entry[v] = row
        out[g] = entry
    return out


def unscored_groups(rows: dict, groups: dict) -> list[str]:
    """The layout's groups :func:`group_rows` left out (no keypoint evaluated or labelled), for the table's note."""
    return [g for g in groups if g not in rows]


def _fmt(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def group_table(rows: dict, variants, label=str, title: str = "") -> str:
    """Markdown: one row per variant, one column per group, ``PCK ± std`` and under it the gain vs source-only with
    its 95 % interval."""
    groups = list(rows)
    head = "| variant | " + " | ".join(groups) + " |\n|---|" + "---:|" * len(groups) + "\n"
    lines = []
    for v in variants:
        cells = []
        for g in groups:
            r = rows[g][v]
            cell = f"{_fmt(r['pck'])} ± {_fmt(r['std'])}"
            d = r.get("vs_source_only")
            if d:
                cell += f"<br>{d['mean']:+.1f} [{d['ci95'][0]:+.1f}, {d['ci95'][1]:+.1f}]"
            cells.append(cell)
        lines.append(f"| {label(v)} | " + " | ".join(cells) + " |")
    note = "\n\n(cell: PCK@0.05 ± std over seeds; below it the paired gain vs source-only [95 % interval])"
    return (f"{title}\n\n" if title else "") + head + "\n".join(lines) + note + "\n"
