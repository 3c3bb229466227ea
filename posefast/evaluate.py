"""``python -m posefast.evaluate``: the entry point of :mod:`posefast.cli.evaluate`."""
import sys

from posefast.cli.evaluate import main
from posefast.cli.common import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
