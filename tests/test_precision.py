"""``--precision`` (issue 27): what runs in bf16 (the networks' forward passes, through the engine's one context),
what stays float32/float64 (the ops, the code between network calls, parameters), how ``auto`` decides, and how the
setting is checked, recorded and refused on resume."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import posefast
from posefast import _ext
from posefast.engine import precision as prec
from posefast.engine.config import TrainConfig, apply_overrides
from posefast.engine.loop import Draw, EpochLoop, EpochPlan, batch_indices, epoch_order
from posefast.engine.precision import FP32, Precision, resolve_precision
from posefast.errors import UsageError

BF16 = Precision("bf16", "test")


class Recorder(nn.Module):
    """A network whose inner layer records the dtype it was given and whether autocast was on."""

    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)
        self.seen = []
        self.inner.register_forward_hook(lambda m, a, out: self.seen.append((out.dtype, torch.is_autocast_enabled("cpu"))))

    def forward(self, x):
        return self.head(torch.relu(self.inner(x))), {"aux": self.inner(x)}


def test_bf16_runs_the_networks_forward_in_bf16_and_hands_back_float32():
    net = Recorder()
    x = torch.randn(4, 6)
    with BF16.networks():
        out, extra = net(x)
        between = torch.is_autocast_enabled("cpu")  # the code between network calls: losses, ops, glue
        loss = ((out - 1) ** 2).mean()
        loss.backward()
    assert net.seen == [(torch.bfloat16, True)] * 2  # the layers inside ran under autocast
    assert out.dtype == extra["aux"].dtype == loss.dtype == torch.float32
    assert not between and not torch.is_autocast_enabled("cpu")
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in net.parameters())


def test_fp32_is_no_autocast_at_all():
    net = Recorder()
    with FP32.networks():
        out, _ = net(torch.randn(4, 6))
    assert net.seen == [(torch.float32, False)] * 2 and out.dtype == torch.float32


def test_a_forward_that_raises_leaves_no_autocast_and_no_hooks_behind():
    hooks = (dict(torch.nn.modules.module._global_forward_pre_hooks),
             dict(torch.nn.modules.module._global_forward_hooks))
    net = nn.Sequential(nn.Linear(6, 6), nn.Linear(5, 2))
    with BF16.networks():
        with pytest.raises(RuntimeError):
            net(torch.randn(3, 6))
        assert not torch.is_autocast_enabled("cpu")
        assert net[0](torch.randn(3, 6)).dtype == torch.float32  # the next call is wrapped as the first was
        with BF16.networks():  # re-entrant: an evaluation inside a step installs no second set of hooks
            assert net[0](torch.randn(3, 6)).dtype == torch.float32
    assert (dict(torch.nn.modules.module._global_forward_pre_hooks),
            dict(torch.nn.modules.module._global_forward_hooks)) == hooks


def test_ops_inside_a_network_run_in_float32_at_their_boundary():
    pred, target = torch.randn(8, 16, 3), torch.randn(8, 16, 3)
    expected = posefast.mpjpe(pred, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = posefast.mpjpe(pred.bfloat16(), target)
        kcs = posefast.part_kcs(pred.bfloat16(), "h36m16")
        aligned = posefast.p_mpjpe(pred, target)  # float32 in: the twin's matmuls must not drop to bf16
        dispatched = torch.ops.posefast.mpjpe(pred.bfloat16(), target.bfloat16(), 0)  # the custom op's own rule
        double = posefast.mpjpe(pred.double(), target.double())
    assert got.dtype == kcs.dtype == aligned.dtype == dispatched.dtype == torch.float32
    assert double.dtype == torch.float64  # float64 is not cast down
    torch.testing.assert_close(got, posefast.mpjpe(pred.bfloat16().float(), target))
    torch.testing.assert_close(aligned, posefast.p_mpjpe(pred, target))
    assert not torch.equal(got, expected)  # the input was rounded to bf16, the op computed in float32


@pytest.mark.parametrize("call", [lambda x: posefast.mpjpe(x, torch.zeros(2, 16, 3)),
                                  lambda x: posefast.bone_vectors(x, "h36m16")])
def test_ops_refuse_a_bf16_tensor_outside_autocast_naming_the_argument(call):
    with pytest.raises(TypeError) as err:
        call(torch.zeros(2, 16, 3, dtype=torch.bfloat16))
    text = str(err.value)
    assert "\n" not in text and "torch.bfloat16" in text and text.split(":")[0] in ("pred", "joints")


def test_auto_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(_ext, "cpu_bf16_units", lambda: ("avx512_bf16",))
    p = resolve_precision("auto", "cpu")
    assert p.name == "bf16" and "avx512_bf16" in p.describe()
    monkeypatch.setattr(_ext, "cpu_bf16_units", lambda: ())
    p = resolve_precision("auto", "cpu")
    assert p.name == "fp32" and "amx_bf16" in p.why
    assert resolve_precision("bf16", "cpu").name == "bf16"  # honoured without the units, and says so
    assert "emulated" in resolve_precision("bf16", "cpu").why
    assert resolve_precision("fp32", "cpu").name == "fp32"
    with pytest.raises(UsageError, match=r"--precision: expected one of fp32, bf16, auto, got 'fp16'"):
        resolve_precision("fp16", "cpu")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n\nprocessor\t: 1\n")
    assert _ext.cpu_bf16_units(str(info)) == ("avx512_bf16",)
    info.write_text("flags\t\t: fpu amx_bf16 avx512_bf16\n")
    assert _ext.cpu_bf16_units(str(info)) == ("amx_bf16", "avx512_bf16")
    assert _ext.cpu_bf16_units(str(tmp_path / "missing")) == ()
    assert isinstance(posefast.build_info()["cpu_bf16_units"], str)


def test_the_setting_is_checked_when_loaded():
    cfg = TrainConfig()
    assert cfg.precision == "fp32"  # until the jobs' tables are re-measured at bf16 (bench/NOTES.md)
    apply_overrides(cfg, {"precision": "auto"}, "--set")
    assert cfg.precision == "auto"
    with pytest.raises(ValueError, match=r"--set: 'precision' expects one of \['fp32', 'bf16', 'auto'\], got 'fp16'"):
        apply_overrides(cfg, {"precision": "fp16"}, "--set")


class ToyTask:
    """A network trained on the shared loop: enough to check the loop's precision handling in-process."""
    name = "toy"

    def __init__(self):
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-2)
        g = torch.Generator().manual_seed(1)
        self.x, self.y = torch.randn(64, 8, generator=g), torch.randn(64, 2, generator=g)
        self.dtypes = set()
        self.net[0].register_forward_hook(lambda m, a, out: self.dtypes.add(out.dtype))

    def begin_epoch(self, epoch):
        return EpochPlan(4, (Draw(64),))

    def train_step(self, indices, epoch, step):
        index, = indices
        out = self.net(self.x[index])
        loss = ((out - self.y[index]) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.item()}

    def end_epoch(self, epoch):
        pass

    def evaluate(self):
        with torch.no_grad():
            return {"loss": ((self.net(self.x) - self.y) ** 2).mean().item()}

    def epoch_diagnostics(self):
        return {}

    def checkpoint_state(self):
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict()}

    def load_checkpoint_state(self, state, path):
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])

    def resume_settings(self):
        return {}

    def progress_line(self, metrics):
        return ""


def _fit(out, precision, epochs=2, resume=False):
    task = ToyTask()
    loop = EpochLoop(task, out, epochs=epochs, batch_size=16, seed=0, precision=precision)
    return task, loop.fit(resume)


def test_the_loop_trains_in_its_precision_and_records_it(tmp_path):
    bf16, m16 = _fit(tmp_path / "bf16", BF16)
    fp32, m32 = _fit(tmp_path / "fp32", FP32)
    assert bf16.dtypes == {torch.bfloat16} and fp32.dtypes == {torch.float32}
    assert m16 != m32  # the precision changed the numbers
    assert torch.load(tmp_path / "bf16" / "checkpoint.pt", weights_only=False)["precision"] == "bf16"
    assert all(v.dtype == torch.float32 for v in bf16.net.state_dict().values())
    again, m16b = _fit(tmp_path / "bf16-again", BF16)
    assert m16b == m16 and (tmp_path / "bf16" / "metrics.jsonl").read_bytes() == \
        (tmp_path / "bf16-again" / "metrics.jsonl").read_bytes()
    # resuming a finished bf16 run at bf16 reports the same; at fp32 it is refused by name
    assert _fit(tmp_path / "bf16", BF16, resume=True)[1] == m16
    with pytest.raises(ValueError, match=r"different settings: precision 'bf16' \(now 'fp32'"):
        _fit(tmp_path / "bf16", FP32, resume=True)


def test_a_bf16_run_resumed_from_its_first_epoch_ends_where_the_whole_run_does(tmp_path):
    _, whole = _fit(tmp_path / "whole", BF16, epochs=3)
    _fit(tmp_path / "split", BF16, epochs=1)
    _, resumed = _fit(tmp_path / "split", BF16, epochs=3, resume=True)
    assert resumed == whole
    assert (tmp_path / "whole" / "metrics.jsonl").read_bytes() == (tmp_path / "split" / "metrics.jsonl").read_bytes()


class HookTrainingTask(ToyTask):
    """Trains in its epoch hooks too (as PoseDA's LPA pass in begin_epoch and PoseAug's release-schedule lifter passes
    in end_epoch do) and returns its losses as 0-dim tensors (as the methods do)."""

    def __init__(self):
        super().__init__()
        self.hook_dtypes = {}

    def _hook_step(self, where):
        self.dtypes.clear()
        self.train_step((torch.arange(16),), 0, 0)
        self.hook_dtypes[where] = set(self.dtypes)

    def begin_epoch(self, epoch):
        self._hook_step("begin")
        return super().begin_epoch(epoch)

    def train_step(self, indices, epoch, step):
        index, = indices
        loss = ((self.net(self.x[index]) - self.y[index]) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return {"loss": loss.detach(), "half": (loss / 2).detach()}

    def end_epoch(self, epoch):
        self._hook_step("end")


@pytest.mark.parametrize("precision", [BF16, FP32], ids=["bf16", "fp32"])
def test_epoch_hooks_train_in_the_run_precision_and_tensor_losses_log_as_floats(tmp_path, precision):
    task = HookTrainingTask()
    EpochLoop(task, tmp_path, epochs=1, batch_size=16, seed=0, precision=precision).fit(False)
    assert task.hook_dtypes == {"begin": {precision.dtype}, "end": {precision.dtype}}
    # the loop sums the tensors in float64, as it summed Python floats: the same means, written as JSON numbers
    line = json.loads((tmp_path / "metrics.jsonl").read_text())
    assert set(line["losses"]) == {"loss", "half"} and all(type(v) is float for v in line["losses"].values())
    replay = HookTrainingTask()
    with precision.networks():
        replay.begin_epoch(0)
    order = epoch_order(64, 0, 0)
    sums = [0.0, 0.0]
    for step in range(4):
        with precision.networks():
            losses = replay.train_step((batch_indices(order, step, 16, False),), 0, step)
        sums = [sums[0] + float(losses["loss"]), sums[1] + float(losses["half"])]
    assert [line["losses"]["loss"], line["losses"]["half"]] == [sums[0] / 4, sums[1] / 4]


def test_the_flag_reaches_the_config_and_adain_refuses_bf16():
    from posefast.cli.train import build_parser, config_from_args

    cfg = config_from_args(build_parser().parse_args(["poseaug", "--precision", "auto"]))
    assert cfg.precision == "auto"
    assert config_from_args(build_parser().parse_args(["poseaug"])).precision == "fp32"
    with pytest.raises(UsageError, match=r"--precision bf16: the adain job trains its decoder outside"):
        config_from_args(build_parser().parse_args(["adain", "--precision", "bf16"]))
    with pytest.raises(SystemExit):
        build_parser().parse_args(["poseaug", "--precision", "fp16"])


def test_a_run_from_before_the_setting_resumes_at_fp32_and_the_loop_alone_judges_precision(tmp_path):
    """A lifting stage's resume settings leave ``precision`` to the loop (which compares the resolved name), so a
    checkpoint written before ``--precision`` existed — no ``precision`` in its settings or state — resumes at fp32
    and is refused at bf16."""
    from posefast.engine.trainer import lifting_resume_settings

    settings = {"epochs": 3, "precision": "auto", "poseaug": {"pool_size": 8}, "poseda": {"gpa": True}}
    assert lifting_resume_settings(settings, "poseaug") == {"epochs": 3, "poseaug": {"pool_size": 8}}
    _fit(tmp_path / "old", FP32, epochs=1)
    path = tmp_path / "old" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    del state["precision"]  # as written before the setting existed
    torch.save(state, path)
    assert _fit(tmp_path / "old", FP32, epochs=2, resume=True)[1] == _fit(tmp_path / "new", FP32, epochs=2)[1]
    with pytest.raises(ValueError, match=r"precision 'fp32' \(now 'bf16'"):
        _fit(tmp_path / "old", BF16, epochs=3, resume=True)
