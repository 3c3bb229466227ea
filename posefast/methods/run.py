"""Train and evaluate one lifting method: the library call behind ``python -m posefast.train METHOD`` and every stage
of the comparison."""
from __future__ import annotations

from posefast.data.domains import load_domains
from posefast.engine.checkpoint import seed_everything
from posefast.engine.config import TrainConfig
from posefast.engine.distributed import init_from_env
from posefast.engine.run_folder import default_out
from posefast.engine.trainer import Trainer
from posefast.evaluation.plots import plot_diagnostics, plot_run
from posefast.methods.registry import lifting_method

__all__ = ["run_lifting"]


def run_lifting(cfg: TrainConfig, method_name: str, data=None, dist=None) -> dict:
    """Train and evaluate one lifting method with the settings ``cfg`` (a :class:`posefast.engine.config.TrainConfig`);
    returns the final metrics dict (also in OUT/metrics.json)."""
    dist = dist or init_from_env(cfg.device)
    seed_everything(cfg.seed)
    if data is None:
        data = load_domains(cfg.source, cfg.target, cfg.skeleton, dist.device, cfg.n_source, cfg.n_target,
                            cfg.n_test, cfg.seed)
    cfg.method = method_name
    method = lifting_method(method_name)(cfg, data, dist)
    trainer = Trainer(cfg, method, cfg.out or default_out(method_name))
    metrics = trainer.fit()
    if cfg.plots and dist.is_main:
        plot_run(method, trainer.out)
        plot_diagnostics(trainer.metrics_path, trainer.out / "diagnostics.png")
    return metrics
