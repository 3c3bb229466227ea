"""The one summary table (posefast.evaluation.tables) both comparison jobs print: the lifting comparison's and
multilevel's variants."""
from __future__ import annotations

from posefast.evaluation.tables import Gain, comparison_table, format_gain, summary_table, variants_table
from posefast.methods.registry import label


def _gain(mean, lo, hi, kind="t over seeds"):
    effect = "no measurable effect" if lo <= 0 <= hi else ("better" if mean > 0 else "worse")
    return {"mean": mean, "ci95": [lo, hi], "effect": effect, "ci95_kind": kind}


def test_format_gain_units_percent_and_verdict():
    assert format_gain(_gain(2.0, 1.0, 3.0)) == "+2.0 [+1.0, +3.0]"
    assert format_gain(_gain(-5.0, -6.0, -4.0), " mm", 50.0) == "-5.0 mm (-10.0 %) [-6.0, -4.0]"
    assert format_gain(_gain(0.5, -1.0, 2.0)).endswith(" — no measurable effect")


def test_summary_table_rows_columns_and_labels():
    rows = {"source-only": {"pck": 10.0, "std": {"pck": 1.0}},
            "image": {"pck": 14.25, "std": {"pck": 0.5}, "vs_source_only": _gain(4.25, 2.0, 6.5)},
            "unknown": {"pck": 9.0, "std": {"pck": 0.0}, "vs_source_only": _gain(-1.0, -2.0, -0.5),
                        "vs_previous": _gain(-5.25, -9.0, 1.0)}}
    gains = [Gain("vs_source_only", "vs base"), Gain("vs_previous", "vs up")]
    lines = summary_table(rows, [("pck", "PCK@0.05")], gains, label, first="variant")
    assert lines[:2] == ["| variant | PCK@0.05 | vs base | vs up |", "|---|---:|---|---|"]
    assert lines[2] == "| Source only | 10.0 ± 1.0 | — | — |"  # the registry's label; no gain: a dash
    assert lines[3] == "| + image level (AdaIN) | 14.2 ± 0.5 | +4.2 [+2.0, +6.5] | — |"
    assert lines[4] == "| unknown | 9.0 ± 0.0 | -1.0 [-2.0, -0.5] | -5.2 [-9.0, +1.0] — no measurable effect |"
    # a percentage is of the baseline row's value, not the row's own
    pct = summary_table(rows, [("pck", "PCK")], [Gain("vs_source_only", "g", " pt", "pck")], str, "source-only")
    assert pct[3].endswith("| +4.2 pt (+42.5 %) [+2.0, +6.5] |")


def test_both_jobs_print_the_same_table_shape():
    ml = variants_table({"source-only": {"pck": 10.0, "std": {"pck": 1.0}},
                         "multilevel": {"pck": 12.0, "std": {"pck": 2.0}, "vs_source_only": _gain(2.0, 1.0, 3.0)}},
                        "info", label)
    assert ml.splitlines()[2:6] == [
        "| variant | PCK@0.05 | gain vs source-only, 95 % CI | gain vs the row above, 95 % CI |", "|---|---:|---|---|",
        "| Source only | 10.0 ± 1.0 | — | — |",
        "| + pose level (info-max) = multi-level | 12.0 ± 2.0 | +2.0 [+1.0, +3.0] | — |"]
    assert ml.rstrip().endswith("interval: t over seeds.")
    metrics = {"mpjpe": 50.0, "p_mpjpe": 40.0, "pck": 90.0, "auc": 60.0}
    summary = {"source": "s", "target": "t", "backbone": "b", "pretrain_epochs": 1, "epochs": 2, "seeds": [0, 1],
               "n_target_test": 3,
               "methods": {"source-only": {**metrics, "std": dict.fromkeys(metrics, 1.0)},
                           "poseda": {**metrics, "mpjpe": 45.0, "std": dict.fromkeys(metrics, 0.5),
                                      "vs_source_only": _gain(5.0, 4.0, 6.0)}}}
    lifting = comparison_table(summary, label, "source-only").splitlines()
    assert lifting[2] == ("| method | MPJPE (mm) | P-MPJPE (mm) | PCK@150 (%) | AUC (%) | MPJPE gain vs source-only, "
                          "95 % CI |")
    assert lifting[5] == ("| PoseDA (GPA + LPA) | 45.0 ± 0.5 | 40.0 ± 0.5 | 90.0 ± 0.5 | 60.0 ± 0.5 | "
                          "+5.0 mm (+10.0 %) [+4.0, +6.0] |")
