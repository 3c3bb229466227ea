"""Typed run settings that every layer from the engine up can hold: :class:`TrainConfig` (the settings every run
shares) and one *section* per method and per job, which its owner registers with :func:`section` — the engine
names none of them. YAML in (``configs/*.yaml``, ``--config``, ``--set``) and YAML out (:func:`dump_yaml`: the run
folder keeps the resolved settings as ``config.yaml``).

Every value is checked once, when it is loaded (:func:`apply_overrides`): its type, the allowed values of a choice
(:func:`choice`), the items of a list (:func:`listing`; a comma-separated string, what old YAML files and ``--set``
hold, is read as the list it names), and a section's own cross-field rules (its ``validate()``). An error names the
key, the value and what is allowed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from posefast.engine.jobs import parse_list

__all__ = ["RESOLVED", "TrainConfig", "section", "sections", "choice", "listing", "apply_overrides", "parse_setting",
           "load_yaml", "dump_yaml", "non_negative_int", "positive_int"]

_SECTIONS: dict[str, type] = {}
# The first key of a file written by dump_yaml: its settings are already resolved (the command line's shorthands,
# e.g. compare's --epochs meaning compare.adapt_epochs, are applied), so reading it back applies them as they are.
RESOLVED = "resolved"


def section(name: str):
    """Class decorator: register a dataclass as the settings section ``name`` (``cfg.<name>``, ``--set
    <name>.key=value``, ``<name>:`` in YAML). Every :class:`TrainConfig` made afterwards carries one."""
    def register(cls):
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"section {name!r}: {cls.__name__} must be a dataclass")
        known = _SECTIONS.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"section {name!r}: already registered by {known.__module__}.{known.__qualname__}")
        if name in {f.name for f in dataclasses.fields(TrainConfig)}:
            raise ValueError(f"section {name!r}: a top-level setting has that name")
        _SECTIONS[name] = cls
        return cls
    return register


def sections() -> tuple[str, ...]:
    """The registered section names."""
    return tuple(_SECTIONS)


def choice(default: str, allowed: Sequence[str]):
    """A string setting that is one of ``allowed``."""
    return field(default=default, metadata={"choices": tuple(allowed)})


def listing(default: Sequence, item: Callable[[Any], Any] = str, allowed: Sequence | Callable[[], Sequence] | None = None,
            distinct: bool = True, at_least_one: bool = True, expected: str = "names"):
    """A list setting: given as a list or as comma-separated text, stored as a list of ``item(...)`` values (one of
    ``allowed``, which may be a function giving them when they are registered later than the section)."""
    return field(default_factory=lambda: list(default),
                 metadata={"list": dict(item=item, allowed=allowed, distinct=distinct, at_least_one=at_least_one,
                                        expected=expected)})


def non_negative_int(value) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ValueError(value)
    return int(value)


def positive_int(value) -> int:
    if non_negative_int(value) < 1:
        raise ValueError(value)
    return int(value)


@dataclass
class TrainConfig:
    """The settings every run shares; the registered sections (``cfg.poseaug``, ``cfg.compare``, ...) are added
    as attributes when it is made."""

    method: str = "source-only"
    source: str = "synthetic:h36m"
    target: str = "synthetic:3dhp"  # compare takes several (comma-separated or a list)
    skeleton: str = "h36m16"
    backbone: str = "simple"
    backbone_width: int = -1  # -1: the backbone's CPU width (simple/videopose 512, semgcn 128, stgcn fixed); 0: its
    # own (1024 for SimpleBaseline/VideoPose, as the papers); N: N channels (models.lifting.lifter_width_kwargs)
    epochs: int = 8
    batch_size: int = 256
    steps_per_epoch: int = 0  # 0 = one pass over the source training split
    lr: float = 1e-3
    lr_decay: bool = True  # linear decay lr * (1 - e / (epochs + 1)) as PoseAug
    n_source: int = 20000
    n_target: int = 20000
    n_test: int = 10000  # source and target test poses (the comparison's intervals want >= 10,000)
    seed: int = 0
    device: str = "auto"  # auto: CUDA when torch sees a GPU and posefast has its CUDA backend (posefast.errors)
    out: str = ""
    resume: bool = False
    flip_test: bool = False
    checkpoint_every: int = 0  # also checkpoint every N steps inside an epoch (0 = at epoch ends only)
    init: str = ""  # a lifting run's checkpoint.pt to start the lifter from (same backbone, width, skeleton)
    # the comparison jobs (compare, multilevel): one full run per seed, intervals over them
    seeds: list = listing([0, 1, 2], item=non_negative_int, expected="non-negative integers like 0,1,2")
    jobs: int = 0  # worker processes for the comparison jobs (0 = min(seeds, threads)); threads are shared out
    eval_batch_size: int = 4096
    plots: bool = True
    progress: bool = True

    def __post_init__(self):
        for name, cls in _SECTIONS.items():
            setattr(self, name, cls())

    def to_dict(self) -> dict:
        """Every setting as plain data (sections as nested dicts): what checkpoints and ``config.yaml`` hold."""
        values = dataclasses.asdict(self)
        values.update({name: dataclasses.asdict(getattr(self, name)) for name in _SECTIONS if hasattr(self, name)})
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        cfg = cls()
        apply_overrides(cfg, {k: v for k, v in values.items() if k != RESOLVED}, "config")
        return cfg


def _settable(cfg) -> dict:
    names = {f.name: f for f in dataclasses.fields(cfg)}
    if isinstance(cfg, TrainConfig):
        names.update({name: None for name in _SECTIONS if hasattr(cfg, name)})
    return names


def _convert(spec: dataclasses.Field | None, current, value, key: str, where: str, path: str):
    """``value`` checked and converted for a setting whose current value is ``current`` (``path``: its section's
    dotted name and a dot, or empty)."""
    meta = spec.metadata if spec is not None else {}
    if "list" in meta:
        m = dict(meta["list"])
        allowed = m.pop("allowed")
        allowed = allowed() if callable(allowed) else allowed
        try:
            return parse_list(value, f"{path}{key}", allowed, **m)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: {key!r} expects true/false, got {value!r}")
    elif isinstance(current, (int, float)) and not isinstance(current, bool):
        if isinstance(value, str):  # YAML 1.1 reads '1e-3' (no dot) as a string
            try:
                value = int(value) if isinstance(current, int) else float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: {key!r} expects a number, got {value!r}")
        if isinstance(current, int) and not float(value).is_integer():  # 2.5, inf, nan
            raise ValueError(f"{where}: {key!r} expects a whole number, got {value!r}")
        value = type(current)(value)
    elif isinstance(current, str) and not isinstance(value, str):
        raise ValueError(f"{where}: {key!r} expects a string, got {value!r}")
    if "choices" in meta and value not in meta["choices"]:
        raise ValueError(f"{where}: {key!r} expects one of {list(meta['choices'])}, got {value!r}")
    return value


def apply_overrides(cfg, values: dict, where: str, _path: str = "") -> None:
    """Set settings of ``cfg`` (a :class:`TrainConfig` or a section) from a dict, nested for sections; unknown keys,
    wrong types, values outside a choice and bad list items are errors naming the key, the value and what is
    allowed. A section's ``validate()`` runs after its keys are set."""
    names = _settable(cfg)
    for key, value in values.items():
        key_py = key.replace("-", "_")
        if key_py not in names:
            raise ValueError(f"{where}: unknown setting {key!r}; expected one of {sorted(names)}")
        current = getattr(cfg, key_py)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {key!r} expects a mapping of settings, got {value!r}")
            apply_overrides(current, value, f"{where}.{key_py}", f"{_path}{key_py}.")
            continue
        setattr(cfg, key_py, _convert(names[key_py], current, value, key, where, _path))
    check = getattr(cfg, "validate", None)
    if callable(check) and not isinstance(cfg, TrainConfig):
        check(where)


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def parse_setting(raw: str, where: str):
    """A ``--set`` value as YAML (numbers, lists, strings); a YAML error is a ValueError naming ``where``."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: {raw!r} is not a YAML value ({_yaml_problem(exc)})") from None


def load_yaml(path: str | Path) -> dict:
    """A YAML file of settings (``--config``) as a dict; every problem is one error naming ``--config``."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise FileNotFoundError(f"--config: no such file {path}") from None
    except yaml.YAMLError as exc:  # a syntax error, or a tag naming Python code (safe_load builds none)
        raise ValueError(f"--config: {path} is not a YAML mapping of settings ({_yaml_problem(exc)})") from None
    except OSError as exc:  # a folder, unreadable
        raise OSError(f"--config: {path}: cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # not UTF-8 text
        raise ValueError(f"--config: {path}: cannot be read ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"--config: {path} must hold a mapping of settings, got {type(values).__name__}")
    return values


def dump_yaml(cfg: TrainConfig) -> str:
    """The resolved settings as YAML that ``--config`` and :meth:`TrainConfig.from_dict` read back to the same
    config (marked :data:`RESOLVED`)."""
    return yaml.safe_dump({RESOLVED: True, **cfg.to_dict()}, sort_keys=False, default_flow_style=None)
