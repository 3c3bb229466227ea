"""Per-epoch distributions of what an adversarial method produces (angles, depths, ratios, accuracies), kept
small and checkpointable so a resumed epoch reports exactly what the uninterrupted one would."""
from __future__ import annotations

import numpy as np
import torch


class EpochDistributions:
    """Collects up to ``per_step`` values of each named quantity per step; :meth:`summary` gives their mean and
    10/50/90th percentiles (and, for quantities with a target band, the fraction inside it), then starts over."""

    def __init__(self, per_step: int = 64):
        self.per_step = per_step
        # float64 tensors where the values were made (no host read per step: a synchronisation on a GPU); to numpy
        # once, in summary
        self.values: dict[str, list[torch.Tensor]] = {}
        self.bands: dict[str, tuple[float, float]] = {}

    def add(self, name: str, values: torch.Tensor, band: tuple[float, float] | None = None) -> None:
        flat = values.detach().reshape(-1)[: self.per_step].to(torch.float64, copy=True)
        self.values.setdefault(name, []).append(flat)
        if band is not None:
            self.bands[name] = (float(band[0]), float(band[1]))

    def summary(self) -> dict:
        out = {}
        for name, chunks in self.values.items():
            v = np.concatenate([c.cpu().numpy() for c in chunks])
            v = v[np.isfinite(v)]
            if v.size == 0:
                continue
            p10, p50, p90 = np.percentile(v, [10, 50, 90])
            entry = {"mean": float(v.mean()), "p10": float(p10), "p50": float(p50), "p90": float(p90)}
            if name in self.bands:
                lo, hi = self.bands[name]
                entry.update(band=[lo, hi], in_band=float(np.mean((v >= lo) & (v <= hi))))
            out[name] = entry
        self.values = {}
        return out

    def state_dict(self) -> dict:
        # tensors, not numpy arrays: a checkpoint holds what torch.load(weights_only=True) reads
        return {"values": {k: [c.cpu().clone() for c in v] for k, v in self.values.items()},
                "bands": dict(self.bands)}

    def load_state_dict(self, state: dict) -> None:
        self.values = {k: [c if isinstance(c, torch.Tensor) else torch.as_tensor(np.asarray(c), dtype=torch.float64)
                           for c in v] for k, v in state["values"].items()}
        self.bands = dict(state["bands"])


def rotation_angle_deg(rotvec: torch.Tensor) -> torch.Tensor:
    """The angle (degrees, in [0, 180]) of the rotation an axis-angle vector ``[..., 3]`` describes: its norm folded
    into [0, π] (a norm θ > π is the rotation by 2π − θ about the opposite axis; PoseAug's head reaches π√3)."""
    theta = torch.remainder(rotvec.detach().norm(dim=-1), 2 * torch.pi)
    return torch.rad2deg(torch.where(theta > torch.pi, 2 * torch.pi - theta, theta))


def real_fake_accuracy(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample accuracies of an LSGAN discriminator (targets 1 / 0, so 0.5 is its decision threshold): the
    fraction of each real sample's scores above 0.5 and of each fake sample's below it."""
    real = (real_scores.detach() > 0.5).double().reshape(real_scores.shape[0], -1).mean(-1)
    fake = (fake_scores.detach() < 0.5).double().reshape(fake_scores.shape[0], -1).mean(-1)
    return real, fake
