"""The 2D network's optimiser groups: the backbone at a fraction of the head's learning rate (UDAPE's ``finetune``
option), frozen stages out of the optimiser and without gradients, the multilevel stage wiring them, and a stage's
evaluation after its last epoch only (``multilevel.eval_every``)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from posefast.cli.config import TrainConfig
from posefast.data.image2d.domains import make_domain
from posefast.evaluation.heatmap2d import pck_records
from posefast.methods.multilevel.stage import Stage, StageTask
from posefast.methods.multilevel.steps import Augment
from posefast.methods.multilevel.warp import AffineRanges
from posefast.models import PoseResNet


def _net(frozen: int) -> PoseResNet:
    torch.manual_seed(0)
    return PoseResNet(16, backbone="efficientnet-lite0", deconv_channels=8, num_deconv=3, frozen_stages=frozen,
                      stages=5)


def test_groups_split_backbone_and_head_learning_rates():
    net = _net(frozen=2)
    groups = net.parameter_groups(1e-3, 0.1)
    assert [g["lr"] for g in groups] == [pytest.approx(1e-4), pytest.approx(1e-3)]
    ids = lambda params: {id(p) for p in params}  # noqa: E731
    head = ids(list(net.deconv.parameters()) + list(net.head.parameters()))
    assert ids(groups[1]["params"]) == head
    trainable_backbone = ids(p for p in net.backbone.parameters() if p.requires_grad)
    assert ids(groups[0]["params"]) == trainable_backbone and trainable_backbone
    frozen = ids(p for p in net.backbone.parameters() if not p.requires_grad)
    assert frozen and not frozen & ids(p for g in groups for p in g["params"])


def test_whole_frozen_backbone_leaves_one_group_and_gets_no_grad():
    net = _net(frozen=5)
    groups = net.parameter_groups(1e-3, 0.1)
    assert len(groups) == 1 and groups[0]["lr"] == pytest.approx(1e-3)
    net.train()
    net(torch.rand(2, 3, 64, 64)).heatmaps.square().mean().backward()
    assert all(p.grad is None for p in net.backbone.parameters())
    assert all(p.grad is not None for p in net.head.parameters())


def test_bad_multiplier_is_refused():
    with pytest.raises(ValueError, match="backbone_lr_mult"):
        _net(frozen=0).parameter_groups(1e-3, 0.0)
    with pytest.raises(ValueError, match="lr"):
        _net(frozen=0).parameter_groups(float("nan"), 0.1)


def test_stage_optimizer_steps_backbone_at_its_fraction():
    """One Adam step moves each parameter by about its group's lr (Adam's first step is ±lr per element)."""
    ml = dataclasses.replace(TrainConfig().multilevel, frozen_stages=3, backbone_lr_mult=0.1)
    net = _net(frozen=3)
    stage = Stage("pretrain", None, net, 1e-2, ml)
    assert sorted(g["lr"] for g in stage.optimizer.param_groups) == [pytest.approx(1e-3), pytest.approx(1e-2)]
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    net.train()
    net(torch.rand(4, 3, 64, 64)).heatmaps.sum().backward()
    stage.optimizer.step()
    moved = {n: (p.detach() - before[n]).abs().max().item() for n, p in net.named_parameters()}
    assert moved["backbone._conv_stem.weight"] == 0.0  # frozen
    assert moved["backbone._blocks.10._project_conv.weight"] == pytest.approx(1e-3, rel=1e-3)
    assert moved["head.weight"] == pytest.approx(1e-2, rel=1e-3)


def test_stage_task_evaluates_after_its_last_epoch_with_the_records_of_that_pass():
    ml = dataclasses.replace(TrainConfig().multilevel, eval_every=0, eval_batch_size=4)
    net = _net(frozen=5)
    data = {"source": make_domain("source", 8, 64, 0), "target": make_domain("target", 8, 64, 1),
            "target_test": make_domain("target", 6, 64, 2)}
    aug = Augment(AffineRanges(0.0, 1.0, 1.0, 0.0, 0.0), 0.0, 64, net.output_stride, 1.5)
    task = StageTask(Stage("pretrain", None, net, 1e-3, ml), data, aug, ml, {}, 4, (0, 1), epochs=3)
    task.end_epoch(0)
    assert task.evaluate() == {} and task.records is None
    task.end_epoch(2)
    metrics = task.evaluate()
    ref = pck_records(net, data["target_test"], 4)
    assert set(task.records) == set(ref) and all((task.records[k] == ref[k]).all() for k in ref)
    assert metrics["target"]["count"] == int(ref["visible"].sum())
    assert "target" in task.evaluate()  # a finished stage asked again (resume) evaluates
    every = StageTask(Stage("pretrain", None, net, 1e-3, dataclasses.replace(ml, eval_every=1)), data, aug,
                      dataclasses.replace(ml, eval_every=1), {}, 4, (0, 1), epochs=3)
    every.end_epoch(0)
    assert "target" in every.evaluate()
