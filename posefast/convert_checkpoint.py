"""``python -m posefast.convert_checkpoint OLD NEW --trust``: the entry point of
:mod:`posefast.cli.convert_checkpoint`."""
import sys

from posefast.cli.common import run_cli
from posefast.cli.convert_checkpoint import main

if __name__ == "__main__":
    sys.exit(run_cli(main))
