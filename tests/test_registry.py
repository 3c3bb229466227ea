"""The method registry is the one list of names: the CLI's choices and help, and the classes that train them, come
from it."""
import pytest

from posefast.cli.train import METHODS, build_parser
from posefast.methods.base import LiftingMethod
from posefast.methods.registry import (BASELINE, IMAGE_METHODS, LIFTING_METHODS, MULTILEVEL_VARIANTS, label,
                                       lifting_method)


def test_cli_choices_are_the_registry():
    assert METHODS == (*LIFTING_METHODS, *IMAGE_METHODS, "compare")
    choices = next(a.choices for a in build_parser()._actions if a.dest == "method")
    assert tuple(choices) == METHODS


def test_help_has_every_method_with_its_registry_text():
    text = " ".join(build_parser().format_help().split())
    for name, info in {**LIFTING_METHODS, **IMAGE_METHODS}.items():
        assert f"{name} {' '.join(info.help.split())}" in text, name


@pytest.mark.parametrize("name", list(LIFTING_METHODS))
def test_each_lifting_method_has_its_class(name):
    cls = lifting_method(name)
    assert issubclass(cls, LiftingMethod) and cls.name == name


def test_labels_and_unknown_names():
    assert BASELINE in LIFTING_METHODS and BASELINE in MULTILEVEL_VARIANTS
    assert label("poseda") == LIFTING_METHODS["poseda"].label
    assert label("image+feature") == MULTILEVEL_VARIANTS["image+feature"].label
    assert label("not-a-method") == "not-a-method"
    with pytest.raises(ValueError, match="METHOD: unknown lifting method 'multilevel'"):
        lifting_method("multilevel")
