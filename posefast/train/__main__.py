"""``python -m posefast.train``: the entry point of :mod:`posefast.cli.train`."""
import sys

from posefast.cli.common import run_cli
from posefast.cli.train import main

sys.exit(run_cli(main))
