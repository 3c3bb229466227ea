"""Paired MPJPE / P-MPJPE difference between two sets of finished comparison stages that need not share a run folder
(e.g. PoseDA with one ``poseda.anchor`` in one folder against another reading, or GPA, in another), with the
comparison's own statistics (:func:`posefast.evaluation.stats.paired_difference`: a t interval over the seeds).

Both stage sets must adapt from the same pretrained lifters and be scored on the same target test poses (the
records are checked to be paired); the summary of a comparison job does the same for stages of one run::

    python tools/paired_stages.py BASE_FOLDER/h36m+bodies:gpa OTHER_FOLDER/h36m+bodies:poseda --seeds 0,1,2

``FOLDER:STAGE`` reads ``FOLDER/seed<S>/STAGE/target_errors.npz``. Positive = the second is better (lower error).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from posefast.engine.jobs import parse_seeds, read_records, stage_dir  # noqa: E402
from posefast.evaluation.stats import mean_of, paired_difference  # noqa: E402


def stages(spec: str, seeds) -> dict:
    folder, sep, stage = spec.rpartition(":")
    if not sep or not folder or not stage:
        raise SystemExit(f"error: {spec!r}: expected FOLDER:STAGE")
    records = {}
    for s in seeds:
        path = stage_dir(folder, s, stage) / "target_errors.npz"
        if not path.is_file():
            raise SystemExit(f"error: {spec!r}: no {path}")
        records[s] = read_records(path)
    return records


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="FOLDER:STAGE of the reference stages")
    p.add_argument("other", help="FOLDER:STAGE of the stages compared with them")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--bootstrap", type=int, default=2000)
    args = p.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    base, other = stages(args.base, seeds), stages(args.other, seeds)
    for s in seeds:
        if not np.array_equal(base[s].get("pose_class", 0), other[s].get("pose_class", 0)):
            raise SystemExit(f"error: seed {s}: the two stage sets were scored on different target test poses")
    for key in ("mpjpe", "p_mpjpe"):
        d = paired_difference({s: {key: base[s][key]} for s in seeds}, {s: {key: other[s][key]} for s in seeds},
                              mean_of(key), False, args.bootstrap)
        lo, hi = d["ci95"]
        a = np.mean([float(base[s][key].mean()) for s in seeds])
        b = np.mean([float(other[s][key].mean()) for s in seeds])
        per = ", ".join(f"{v:+.1f}" for v in d["per_seed"].values())
        print(f"{key}: {a:.1f} -> {b:.1f} mm, gain {d['mean']:+.1f} [{lo:+.1f}, {hi:+.1f}] ({d['effect']}; "
              f"per seed {per}; {d['ci95_kind']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
