"""The package imports under ``python -OO``, and an import that finds no compiled extension says what happened
(a source folder shadowing the installed package, or a checkout not built) and what to do."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

import posefast
from posefast._ext import missing_extension_message


def test_import_under_OO(tmp_path):
    """Every module of the package (walked, not listed) imports under -OO (docstrings stripped)."""
    code = ("import importlib, pkgutil, posefast\n"
            "for m in pkgutil.walk_packages(posefast.__path__, 'posefast.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n")
    res = subprocess.run([sys.executable, "-OO", "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]


def _checkout(root: Path) -> Path:
    (root / "csrc").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'posefast'\n")
    return root / "posefast"


def test_missing_extension_messages(tmp_path):
    source = _checkout(tmp_path / "clone")
    source.mkdir()
    installed = tmp_path / "site" / "posefast"
    installed.mkdir(parents=True)
    (installed / "_C.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    msg = missing_extension_message(source, search_path=[str(tmp_path / "clone"), str(tmp_path / "site")])
    assert "shadows" in msg and str(installed) in msg and str(source.resolve()) in msg and "pip install -e" in msg
    msg = missing_extension_message(source, search_path=[str(tmp_path / "elsewhere")])
    assert "not built for the source checkout" in msg and "pip install -e" in msg and "cmake" in msg
    (source / "_C.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    msg = missing_extension_message(source, "undefined symbol: foo", search_path=[])
    assert "did not load (undefined symbol: foo)" in msg


def test_import_from_an_unbuilt_checkout_says_what_to_do(tmp_path):
    """``python -c 'import posefast'`` in a checkout whose ``posefast/`` has no extension (the shadowing case)."""
    clone = tmp_path / "clone"
    source = _checkout(clone)
    shutil.copytree(Path(posefast.__file__).parent, source, ignore=shutil.ignore_patterns("_C*", "__pycache__"))
    # -S: no site hooks (an editable install's import redirect), so the working directory's posefast/ is found first
    env = {**os.environ, "PYTHONPATH": str(Path(torch.__file__).parents[1])}
    res = subprocess.run([sys.executable, "-S", "-c", "import posefast"], capture_output=True, text=True, cwd=clone,
                         env=env, timeout=300)
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: ") and str(source) in last and "pip install -e" in last, res.stderr[-2000:]


def test_ci_runs_the_readme_setup_block_then_the_entry_points_from_the_root():
    """The README's set-up installs editable (so its commands work from the repository root) and CI runs that very
    block, read from README.md, then ``--help`` and an -OO import from the root (the check a clean clone needs)."""
    import importlib.util

    root = Path(__file__).resolve().parents[1]
    if not (root / ".ci" / "readme_block.py").is_file():
        import pytest

        pytest.skip("not a checkout (no .ci/)")
    spec = importlib.util.spec_from_file_location("readme_block", root / ".ci" / "readme_block.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (root / "README.md").read_text()
    setup = module.readme_block(readme, "Set up")
    assert "pip install torch==2.13.0" in setup and 'pip install -e ".[test,viz]"' in setup
    assert module.readme_block(readme, "Test") == "pytest"
    ci = (root / ".ci" / "run").read_text()
    assert 'readme_block.py README.md "Set up"' in ci and 'eval "$setup"' in ci
    assert 'readme_block.py README.md "Test"' in ci and "cd \"$(dirname \"$0\")/..\"" in ci
    for line in ("python -m posefast.train --help", "python -m posefast.evaluate --help", "python -OO -c"):
        assert line in ci
