"""Skeleton plots of source, augmented and target poses for a run folder (needs the ``viz`` extra: matplotlib)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _draw_2d(ax, joints_2d: np.ndarray, skeleton, color: str) -> None:
    for p, c in skeleton.bones:
        ax.plot(joints_2d[[p, c], 0], joints_2d[[p, c], 1], color=color, lw=1.5)
    ax.scatter(joints_2d[:, 0], joints_2d[:, 1], s=4, color=color)


def _draw_3d(ax, joints_3d: np.ndarray, skeleton, color: str) -> None:
    # camera frame has y down: plot (x, z, -y) so people stand upright
    for p, c in skeleton.bones:
        ax.plot(joints_3d[[p, c], 0], joints_3d[[p, c], 2], -joints_3d[[p, c], 1], color=color, lw=1.5)


def plot_samples(groups: dict, skeleton, path: str | Path, per_group: int = 4, seed: int = 0,
                 paired: tuple = (), reference: dict | None = None) -> Path | None:
    """One row per group ``{title: (joints_3d [N, J, 3] root-relative or None, joints_2d_norm [N, J, 2])}``: 3D
    views and their normalised 2D. Returns the PNG path, or None without matplotlib.

    ``paired``: titles of groups whose rows are index-aligned (sample i of each was made from the same source
    sample): they show the same indices, so each column follows one source pose down the rows. ``reference``
    (``{title: other title}``) draws the other group's pose of the same index in grey behind each pose of that
    group, in the same axes (what the method changed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    paired = tuple(t for t in paired if t in groups)
    sizes = {groups[t][1].shape[0] for t in paired}
    if len(sizes) > 1:
        raise ValueError(f"paired: the groups {paired} must hold the same number of samples, got {sorted(sizes)}")
    reference = {t: o for t, o in (reference or {}).items() if t in groups}  # e.g. no LPA row without LPA
    for title, other in reference.items():
        if title not in paired or other not in paired:
            raise ValueError(f"reference: {title!r} -> {other!r}: both must be paired groups {paired}")
    rng = np.random.default_rng(seed)
    shared = None
    if paired:
        n = sizes.pop()
        shared = rng.choice(n, size=min(per_group, n), replace=False) if n else []
    fig = plt.figure(figsize=(2.6 * per_group * 2, 2.6 * len(groups)))
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for row, (title, (j3d, j2d)) in enumerate(groups.items()):
        n = j2d.shape[0]
        if title in paired:
            pick = shared
        else:
            pick = rng.choice(n, size=min(per_group, n), replace=False) if n else []
        ref = groups[reference[title]] if title in reference else None
        for col, i in enumerate(pick):
            color = colors[row % len(colors)]
            if j3d is not None:
                ax = fig.add_subplot(len(groups), per_group * 2, row * per_group * 2 + 2 * col + 1, projection="3d")
                if ref is not None and ref[0] is not None:
                    _draw_3d(ax, ref[0][i] - ref[0][i, :1], skeleton, "0.75")
                rel = j3d[i] - j3d[i, :1]
                _draw_3d(ax, rel, skeleton, color)
                ax.set_xlim(-1, 1), ax.set_ylim(-1, 1), ax.set_zlim(-1, 1)
                ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
                ax.set_title(f"{title} 3D", fontsize=7)
            ax = fig.add_subplot(len(groups), per_group * 2, row * per_group * 2 + 2 * col + 2)
            if ref is not None:
                _draw_2d(ax, ref[1][i], skeleton, "0.75")
            _draw_2d(ax, j2d[i], skeleton, color)
            ax.set_xlim(-1, 1), ax.set_ylim(1, -1), ax.set_aspect("equal")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{title} 2D", fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_run(method, out_dir: str | Path) -> Path | None:
    """Source / method-specific augmented / target samples of a finished lifting run into OUT/samples.png."""
    data = method.data
    groups = {"source": (data.source_train["joints_3d"].cpu().numpy(), data.source_train["joints_2d_norm"].cpu().numpy())}
    extra = getattr(method, "plot_groups", None)
    if extra is not None:
        groups.update(extra())  # a method may replace "source" by the source samples its own rows were made from
    groups["target"] = (None, data.target_train["joints_2d_norm"].cpu().numpy())
    return plot_samples(groups, method.skeleton, Path(out_dir) / "samples.png",
                        paired=tuple(getattr(method, "plot_paired", ())),
                        reference=dict(getattr(method, "plot_reference", {})))


def plot_diagnostics(metrics_jsonl: str | Path, path: str | Path) -> Path | None:
    """Per-epoch ``diagnostics`` of a run's metrics.jsonl (e.g. PoseAug's rotation angles, root depths, hardness
    ratios and discriminator accuracies): median and 10-90 % range per epoch, the target band shaded where the
    method has one. Returns the PNG path, or None without matplotlib or diagnostics."""
    import json

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    records = [json.loads(x) for x in Path(metrics_jsonl).read_text().splitlines() if x.strip()]
    records = [r for r in records if r.get("diagnostics")]
    if not records:
        return None
    names = list(dict.fromkeys(k for r in records for k in r["diagnostics"]))
    cols = 4
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        got = [(r["epoch"] + 1, r["diagnostics"][name]) for r in records if name in r["diagnostics"]]
        epochs = [e for e, _ in got]
        ax.fill_between(epochs, [d["p10"] for _, d in got], [d["p90"] for _, d in got], alpha=0.3, label="p10-p90")
        ax.plot(epochs, [d["p50"] for _, d in got], marker="o", ms=3, label="median")
        band = got[-1][1].get("band")
        if band:
            ax.axhspan(band[0], band[1], color="tab:green", alpha=0.12, label="target band")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("epoch", fontsize=7)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_pretrain_curves(curves: dict, path: Path) -> Path | None:
    """A comparison's shared pretraining per seed (``{seed: {"source_test_mpjpe": [...], "target_mpjpe": [...]}}``,
    the summary's ``pretrain_curves``): source-test and target MPJPE per epoch. None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    for s, c in curves.items():
        epochs = np.arange(1, len(c["source_test_mpjpe"]) + 1)
        ax[0].plot(epochs, c["source_test_mpjpe"], label=f"seed {s}")
        if "target_mpjpe" in c:  # a shared pretraining scored another target
            ax[1].plot(epochs, c["target_mpjpe"], label=f"seed {s}")
    for a, title in zip(ax, ("source test", "target test")):
        a.set_xlabel("pretraining epoch"), a.set_ylabel("MPJPE (mm)"), a.set_title(f"source-only: {title}")
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
