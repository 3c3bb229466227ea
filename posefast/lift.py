"""``python -m posefast.lift``: the entry point of :mod:`posefast.cli.lift`."""
import sys

from posefast.cli.lift import main
from posefast.cli.common import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
