"""What every lifting method shares: the lifter, its optimiser and schedule, the supervised step, and the state a
checkpoint must hold so a resumed run continues exactly."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from posefast.data.domains import DomainData, root_relative
from posefast.models import build_lifter
from posefast.models.lifting import lifter_width_kwargs
from posefast.models.lifting.spec import check_init_checkpoint
from posefast.engine.config import TrainConfig
from posefast.engine.distributed import DistContext, unwrap
from posefast.engine.optim import adam


class LiftingMethod:
    """Source-only baseline: the lifter trained on source 2D → root-relative 3D pairs (MSE, Adam, linear decay).

    Subclasses change :meth:`training_pairs` (which 2D/3D pairs the lifter sees) and add their own networks through
    :meth:`modules` / :meth:`optimizers` / :meth:`extra_state`.
    """

    name = "source-only"
    config_section: str | None = None  # its own settings section (``poseaug``), checked on --resume

    def __init__(self, cfg: TrainConfig, data: DomainData, dist: DistContext):
        self.cfg, self.data, self.dist = cfg, data, dist
        self.device = dist.device
        self.skeleton = data.skeleton
        torch.manual_seed(cfg.seed)  # same lifter initialisation for every method at the same seed
        kwargs = lifter_width_kwargs(cfg.backbone, cfg.backbone_width)
        self._lifter = build_lifter(cfg.backbone, self.skeleton, **kwargs).to(self.device)
        self.lifter = dist.wrap(self._lifter)
        self.opt_lifter = adam(self._lifter.parameters(), lr=cfg.lr)
        total = cfg.epochs
        decay = (lambda e: 1.0 - e / (total + 1)) if cfg.lr_decay else (lambda e: 1.0)
        self.sched_lifter = torch.optim.lr_scheduler.LambdaLR(self.opt_lifter, decay)

    # -- what a checkpoint holds -------------------------------------------------------------------------------
    def modules(self) -> dict[str, torch.nn.Module]:
        return {"lifter": self._lifter}

    def optimizers(self) -> dict:
        return {"lifter": self.opt_lifter}

    def schedulers(self) -> dict:
        return {"lifter": self.sched_lifter}

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def init_lifter(self, state: dict, path) -> None:
        """Start from the lifter (weights and batch-norm statistics) of another run's checkpoint ``state`` — the
        papers' pretrain → adapt protocol. The optimiser and schedule start fresh: every method adapting from the
        same checkpoint then takes the same lifter steps at the same learning rates."""
        check_init_checkpoint(state, self.cfg, path, self._lifter)
        self._lifter.load_state_dict(state["modules"]["lifter"])

    def epoch_diagnostics(self) -> dict:
        """Numbers describing what the method did this epoch (logged in metrics.jsonl); none by default."""
        return {}

    # -- the loop's hooks -----------------------------------------------------------------------------------------
    def train_split(self, epoch: int) -> dict:
        """The tensors an epoch draws its batches from (the source training split unless a method changes it)."""
        return self.data.source_train

    def begin_epoch(self, epoch: int) -> None:
        pass

    def end_epoch(self, epoch: int) -> None:
        for sched in self.schedulers().values():
            sched.step()

    def training_pairs(self, batch: dict, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(normalised 2D [n, J, 2], root-relative 3D [n, J, 3]) the lifter learns from in this step."""
        return batch["joints_2d_norm"], root_relative(batch["joints_3d"])

    def lifter_step(self, inputs_2d: torch.Tensor, targets_3d: torch.Tensor, grad_clip: float = 0.0) -> torch.Tensor:
        """One MSE step of the lifter; returns its loss (0-dim, detached: the epoch loop sums it without a host
        read). ``grad_clip`` > 0 clips the gradient norm first (PoseAug's released lifter passes clip at 1:
        function_poseaug/model_pos_train.py:41); 0 leaves it unclipped (the default)."""
        self.lifter.train()
        loss = F.mse_loss(self.lifter(inputs_2d), targets_3d)
        self.opt_lifter.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self._lifter.parameters(), grad_clip)
        self.opt_lifter.step()
        return loss.detach()

    def train_step(self, batch: dict, epoch: int, step: int) -> dict[str, torch.Tensor]:
        x, y = self.training_pairs(batch, epoch)
        return {"loss_lifter": self.lifter_step(x, y)}

    @property
    def eval_lifter(self) -> torch.nn.Module:
        return unwrap(self.lifter)
