"""The main job: several lifting methods on one source → target pair with the same backbone, seed and budget, and
one table of target metrics (MPJPE, P-MPJPE, PCK@150, AUC and the change vs source-only)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from posefast.train.cli import default_out, run_lifting

LABELS = {"source-only": "Source only", "gpa": "GPA only", "lpa": "LPA only", "poseda": "PoseDA (GPA + LPA)",
          "poseaug": "PoseAug"}
KEYS = ("mpjpe", "p_mpjpe", "pck", "auc")


def summary_table(source: str, target: str, results: dict) -> str:
    base = results.get("source-only")
    lines = [f"Target metrics, {source} → {target}", "",
             "| method | MPJPE (mm) | P-MPJPE (mm) | PCK@150 (%) | AUC (%) | MPJPE vs source-only |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, m in results.items():
        change = "—" if base is None or name == "source-only" else f"{100 * (m['mpjpe'] - base['mpjpe']) / base['mpjpe']:+.1f} %"
        lines.append(f"| {LABELS.get(name, name)} | {m['mpjpe']:.1f} | {m['p_mpjpe']:.1f} | {m['pck']:.1f} | "
                     f"{m['auc']:.1f} | {change} |")
    return "\n".join(lines) + "\n"


def run_comparison(cfg, methods) -> dict:
    """Train each method in ``methods`` on the same loaded data; write OUT/summary.{md,json}."""
    from posefast.methods import load_domains
    from posefast.train.checkpoint import seed_everything
    from posefast.train.distributed import init_from_env

    out = Path(cfg.out or default_out("compare"))
    dist = init_from_env(cfg.device)
    seed_everything(cfg.seed)
    data = load_domains(cfg.source, cfg.target, cfg.skeleton, dist.device, cfg.n_source, cfg.n_target, cfg.n_test,
                        cfg.seed)
    results = {}
    for name in methods:
        run_cfg = copy.deepcopy(cfg)
        run_cfg.out = str(out / name)
        metrics = run_lifting(run_cfg, name, data=data, dist=dist)
        results[name] = {k: metrics["target"][k] for k in KEYS}
    summary = {"source": cfg.source, "target": cfg.target, "backbone": cfg.backbone, "seed": cfg.seed,
               "epochs": cfg.epochs, "methods": results}
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        table = summary_table(cfg.source, cfg.target, results)
        (out / "summary.md").write_text(table)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        print("\n" + table + f"\nwritten to {out}/summary.md and summary.json")
    return summary
