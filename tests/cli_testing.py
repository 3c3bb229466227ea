"""Shared helpers of the CLI tests: tiny run sizes and in-process calls of the ``python -m posefast.*`` mains
through the same error wrapper their ``__main__`` uses (a subprocess per call would cost seconds of imports)."""
import json

from posefast.cli.common import run_cli

# Sizes that train any lifting method in about a second (2 epochs: PoseAug's augmentor joins after its warm-up).
TINY = ["--epochs", "2", "--set", "n_source=512", "--set", "n_target=512", "--set", "n_test=256", "--batch-size",
        "128", "--set", "steps_per_epoch=2", "--set", "poseaug.warmup_epochs=1", "--set", "poseda.lpa_epochs=1",
        "--no-plots", "--quiet"]


def call(main, argv, capsys):
    """``(exit status, stdout, stderr)`` of ``main(argv)`` behind :func:`posefast.errors.run_cli`."""
    capsys.readouterr()
    rc = run_cli(main, [str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def train(argv, capsys):
    from posefast.cli.train import main

    return call(main, argv, capsys)


def evaluate(argv, capsys):
    from posefast.cli.evaluate import main

    return call(main, argv, capsys)


def one_error_line(err: str) -> str:
    """The single ``error: ...`` line of stderr (other lines: the device note); fails if there is not exactly one."""
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def read_json(path):
    return json.loads(open(path).read())
