"""Argument types shared by the benchmark scripts: a bad count, seed, model or input file
is refused by argparse (``usage`` and one ``error:`` line, exit 2) before any work, not met
later as a traceback from numpy, torch or the checkpoint loader."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

MAX_SEED = 2**32 - 1  # numpy's legacy RandomState, the narrowest seed the scripts use

ROOT = Path(__file__).resolve().parents[1]  # the checkout
MOSES_TRAIN = ROOT / "data" / "moses" / "train.csv.gz"  # written by data/prepare_moses.py
MOSES_TEST = ROOT / "data" / "moses" / "test.csv.gz"


def at_least(low: int, kind: type = int):
    """An ``int`` argument type that refuses values below ``low``; with ``kind=float``, a
    ``float`` one that also refuses NaN and infinities."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = kind.__name__
    return parse


positive = at_least(1)
non_negative = at_least(0)


def seed(text: str) -> int:
    value = non_negative(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def existing_file(text) -> Path:
    """A ``Path`` argument type for an input file that must exist and be readable, so a
    mistyped ``--test`` or ``--train`` is refused at once, not after the model has loaded
    (or as a traceback from the reader). Give a default as ``str`` to have it checked too."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"file not found: {path}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"cannot read {path}: permission denied")
    return path


existing_file.__name__ = "file"


def load_model(parser: argparse.ArgumentParser, path):
    """``MolVAE.load(path)``; a missing or unreadable model file is a usage error naming it."""
    from molvae.checkpoint import CheckpointError
    from molvae.vae import MolVAE

    try:
        return MolVAE.load(path)
    except (CheckpointError, OSError) as exc:
        parser.error(f"--model: {exc}")
