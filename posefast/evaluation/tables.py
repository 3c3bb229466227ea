"""The Markdown result tables of the comparison jobs — the lifting comparison (``python -m posefast.train``) and
multilevel's variants — built by one function, :func:`summary_table`: a row per method with each metric's mean ±
std over seeds and its paired gains with their 95 % intervals (:func:`posefast.evaluation.stats.paired_difference`).

Row labels come from the caller (``label``: name -> text, ``posefast.methods.registry.label`` in the jobs), so this
layer knows no method by name."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = ["LIFTING_METRICS", "Gain", "format_gain", "summary_table", "interval_kind", "comparison_table",
           "targets_table", "variants_table", "closable_shares"]

Label = Callable[[str], str]

# The lifting comparison's columns: (key in a summary row, header).
LIFTING_METRICS = (("mpjpe", "MPJPE (mm)"), ("p_mpjpe", "P-MPJPE (mm)"), ("pck", "PCK@150 (%)"), ("auc", "AUC (%)"))


@dataclass(frozen=True)
class Gain:
    """A column of paired gains: ``row[key]`` (a :func:`~posefast.evaluation.stats.paired_difference` dict; rows
    without one show "—"), printed with ``unit`` and, with ``percent_of``, also as a percentage of the baseline
    row's value of that metric."""
    key: str
    header: str
    unit: str = ""
    percent_of: str | None = None


def format_gain(d: dict, unit: str = "", base: float | None = None) -> str:
    """``+1.2 mm (+3.4 %) [+0.5, +1.9]`` (the percentage when ``base`` is given), with " — no measurable effect"
    when the interval holds 0."""
    lo, hi = d["ci95"]
    verdict = " — no measurable effect" if d["effect"] == "no measurable effect" else ""
    percent = f" ({100 * d['mean'] / base:+.1f} %)" if base is not None else ""
    return f"{d['mean']:+.1f}{unit}{percent} [{lo:+.1f}, {hi:+.1f}]{verdict}"


def summary_table(rows: dict, metrics: Sequence[tuple[str, str]], gains: Sequence[Gain], label: Label,
                  baseline: str | None = None, first: str = "method") -> list[str]:
    """The lines of a Markdown table, one row per entry of ``rows`` (name -> ``{metric: mean, "std": {metric: std},
    gain key: paired difference}``): the ``metrics`` (key, header) as mean ± std, then the ``gains`` columns.
    ``baseline``: the row whose values ``Gain.percent_of`` refers to; ``first``: the first column's header."""
    lines = [f"| {first} | " + " | ".join(h for _, h in metrics) + "".join(f" | {g.header}" for g in gains) + " |",
             "|---|" + "---:|" * len(metrics) + "---|" * len(gains)]
    for name, r in rows.items():
        cells = [f"{r[k]:.1f} ± {r['std'][k]:.1f}" for k, _ in metrics]
        for g in gains:
            d = r.get(g.key)
            base = rows[baseline][g.percent_of] if g.percent_of and baseline in rows else None
            cells.append("—" if d is None else format_gain(d, g.unit, base))
        lines.append(f"| {label(name)} | " + " | ".join(cells) + " |")
    return lines


def interval_kind(rows: dict, key: str = "vs_source_only") -> str:
    """How the rows' intervals were computed (``ci95_kind`` of the first gain), for the table's footnote."""
    return next((r[key]["ci95_kind"] for r in rows.values() if key in r), "")


def _group_table(groups: dict, methods: dict, title: str, label: Label) -> list[str]:
    if not groups:
        return []
    lines = ["", f"Target MPJPE by {title}; gain vs source-only with its 95 % CI:", "",
             "| group | poses | " + " | ".join(label(n) for n in methods) + " |", "|---|---:|" + "---:|" * len(methods)]
    for g, entry in groups.items():
        cells = []
        for n in methods:
            e = entry["methods"][n]
            d = e.get("vs_source_only")
            cells.append(f"{e['mpjpe']:.1f}" if d is None else
                         f"{e['mpjpe']:.1f} ({d['mean']:+.1f} [{d['ci95'][0]:+.1f}, {d['ci95'][1]:+.1f}])")
        lines.append(f"| {g} | {entry['n']} | " + " | ".join(cells) + " |")
    for g, entry in groups.items():
        for m, e in entry["methods"].items():  # the extra pairs (e.g. PoseDA vs GPA): "vs_<other>" entries
            for key, d in e.items():
                if key.startswith("vs_") and key != "vs_source_only":
                    a = key[len("vs_"):]
                    gain = format_gain(d, " mm", entry["methods"][a]["mpjpe"])
                    lines.append(f"\n{label(m)} vs {label(a)}, {g}: {gain}.")
    return lines


def closable_shares(rows: dict, reference: str, baseline: str, references: Sequence[str] = ()) -> dict | None:
    """Each method's mean MPJPE gain over ``baseline`` as a fraction of the reference row's (the closable gap:
    ``target-labels``), ``{method: fraction}`` for the rows that are neither the baseline nor a reference; None when
    the reference's own gain is not measurably positive (there is no gap to take a fraction of)."""
    ref = rows.get(reference, {}).get("vs_source_only")
    if ref is None or ref["effect"] != "better":
        return None
    skip = {baseline, reference, *references}
    return {m: r["vs_source_only"]["mean"] / ref["mean"] for m, r in rows.items()
            if m not in skip and "vs_source_only" in r}


def _share_line(rows: dict, reference: str, baseline: str, references: Sequence[str], label: Label,
                where: str = "") -> str:
    """One line: the closable gap (the reference's gain) and each method's gain as a percentage of it."""
    gain = _short_gain(rows[reference]["vs_source_only"])
    shares = closable_shares(rows, reference, baseline, references)
    if shares is None:
        return f"{where}{label(reference)}: {gain} mm, no measurable gap to close; no shares."
    parts = ", ".join(f"{label(m)} {100 * v:+.0f} %" for m, v in shares.items())
    return f"{where}closable gap {gain} mm ({label(reference)}); each method's gain as a share of it: {parts}."


def _reference_note(references: Sequence[str], label: Label, baseline: str) -> str:
    return (f"{', '.join(label(r) for r in references)}: a reference, not a method — the same budget from the same "
            f"pretrained lifter, trained on the target's labelled training split (3D labels no adaptation method "
            f"has); its gain over {label(baseline)} is the gap a lifter can close here, never a result to beat.")


def comparison_table(summary: dict, label: Label, baseline: str, references: Sequence[str] = ()) -> str:
    """Markdown of a lifting comparison's summary (:func:`posefast.evaluation.comparison.lifting_summary`): the main table, the
    extra pairs, target MPJPE by pose-class group, view elevation and pose class, the pretraining plateau.
    ``references``: rows that are upper bounds, not methods (``target-labels``): a note says so and each method's
    gain is also given as a share of theirs."""
    methods = summary["methods"]
    seeds = summary["seeds"]
    lines = [f"Target metrics, {summary['source']} → {summary['target']}: {summary['backbone']} lifter, source-only "
             f"pretrained {summary['pretrain_epochs']} epochs, then {summary['epochs']} epochs per method from that "
             f"checkpoint; mean ± std over {len(seeds)} seed(s) {', '.join(map(str, seeds))}; "
             f"{summary['n_target_test']} target test poses.", ""]
    lines += summary_table(methods, LIFTING_METRICS,
                           [Gain("vs_source_only", "MPJPE gain vs source-only, 95 % CI", " mm", "mpjpe")], label,
                           baseline)
    lines += ["", f"Gain = source-only MPJPE − method MPJPE (positive = better), paired per seed; interval: "
                  f"{interval_kind(methods)}."]
    for key, d in summary.get("pairs", {}).items():
        m, a = key.split("_vs_")
        lines.append(f"{label(m)} vs {label(a)}: {format_gain(d, ' mm', methods[a]['mpjpe'])}.")
    refs = [r for r in references if r in methods]
    if refs:
        lines += ["", _reference_note(refs, label, baseline)]
        lines += [_share_line(methods, r, baseline, refs, label, "MPJPE: ") for r in refs]
    for key, title in (("class_groups", "pose class group"), ("view_groups", "view elevation (body axis toward the "
                                                                            "camera; > 0 = seen from above)")):
        lines += _group_table(summary.get(key) or {}, methods, title, label)
    seen = set()
    for group in summary.get("class_groups", {}):
        if group.startswith("in source repertoire"):
            seen = {c.strip() for c in group[group.index("(") + 1:-1].split(",")}
    marked = {(f"{c} *" if c in seen else c): e for c, e in (summary.get("classes") or {}).items()}
    lines += _group_table(marked, methods, "pose class (* = in the source repertoire)", label)
    curves = summary.get("pretrain_curves", {})
    if curves:
        src = np.array([v["source_test_mpjpe"] for v in curves.values()])
        n = src.shape[1]
        marks = sorted({max(0, round(n * f) - 1) for f in (0.25, 0.5, 0.75, 1.0)})
        lines += ["", "Pretraining (source-only) source-test MPJPE, mean over seeds: " +
                  ", ".join(f"epoch {i + 1}: {src[:, i].mean():.1f}" for i in marks) + " mm."]
    return "\n".join(lines) + "\n"


def _short_gain(d: dict) -> str:
    """``+1.2 [+0.5, +1.9]``, with `` ~0`` when the interval holds 0."""
    lo, hi = d["ci95"]
    return f"{d['mean']:+.1f} [{lo:+.1f}, {hi:+.1f}]" + (" ~0" if d["effect"] == "no measurable effect" else "")


def targets_table(summary: dict, label: Label, baseline: str, references: Sequence[str] = ()) -> str:
    """Markdown of a several-target comparison (:func:`posefast.evaluation.comparison.targets_summary`): one row per method,
    per target an MPJPE and a P-MPJPE column; the baseline's cells hold its mean ± std over seeds, every other
    cell the method's paired gain over the baseline with its 95 % interval (P-MPJPE: the mean, then the gain).
    ``references`` (upper bounds such as ``target-labels``, not methods): a note, and per target each method's gain
    as a share of the reference's (the closable gap)."""
    table, targets = summary["table"], summary["targets"]
    methods = list(table[targets[0]]["methods"])
    seeds = summary["seeds"]
    lines = [f"Paired gains over source-only on each target, {summary['source']} → each column's target: "
             f"{summary['backbone']} lifter, source-only pretrained {summary['pretrain_epochs']} epochs (once per seed, "
             f"shared by every target), then {summary['epochs']} epochs per method; {len(seeds)} seed(s) "
             f"{', '.join(map(str, seeds))}.", "",
             "| method | " + " | ".join(f"{table[t]['folder']}: MPJPE gain (mm) | P-MPJPE (mm)" for t in targets) + " |",
             "|---|" + "---|---|" * len(targets)]
    for m in methods:
        cells = []
        for t in targets:
            r = table[t]["methods"][m]
            if m == baseline:
                cells += [f"{r['mpjpe']:.1f} ± {r['std']['mpjpe']:.1f}", f"{r['p_mpjpe']:.1f} ± {r['std']['p_mpjpe']:.1f}"]
            else:
                cells += [_short_gain(r["vs_source_only"]),
                          f"{r['p_mpjpe']:.1f} ({_short_gain(r['p_mpjpe_vs_source_only'])})"]
        lines.append(f"| {label(m)} | " + " | ".join(cells) + " |")
    kind = interval_kind(table[targets[0]]["methods"])
    lines += ["", f"{label(baseline)}: target MPJPE and P-MPJPE, mean ± std over seeds. Other rows: gain = "
                  f"{label(baseline)} − method (positive = better), paired per seed, 95 % interval ({kind}); "
                  "~0 = the interval holds 0 (no measurable effect). Target test poses: " +
              ", ".join(f"{t} {table[t]['n_target_test']}" for t in targets) + "; each target's full tables in "
              "OUT/<column>/summary.md (" + ", ".join(f"{table[t]['folder']} = {t}" for t in targets) + ")."]
    refs = [r for r in references if r in methods]
    if refs:
        lines += ["", _reference_note(refs, label, baseline), ""]
        lines += [_share_line(table[t]["methods"], r, baseline, refs, label, f"- {table[t]['folder']}: ")
                  for r in refs for t in targets]
    return "\n".join(lines) + "\n"


def variants_table(rows: dict, info: str, label: Label) -> str:
    """Markdown of the 2D job's rows (:func:`posefast.evaluation.comparison.variant_rows`): PCK@0.05 mean ± std over
    seeds, the gain vs source-only and vs the row above, with 95 % CIs."""
    gains = [Gain("vs_source_only", "gain vs source-only, 95 % CI"),
             Gain("vs_previous", "gain vs the row above, 95 % CI")]
    lines = [f"Target PCK@0.05 (%), {info}", "", *summary_table(rows, [("pck", "PCK@0.05")], gains, label,
                                                                first="variant"),
             "", f"Gains in PCK points (positive = better), paired per seed; interval: {interval_kind(rows)}."]
    return "\n".join(lines) + "\n"
