"""Argument types shared by the benchmark scripts: a bad count, seed or model file is
refused by argparse (``usage`` and one ``error:`` line, exit 2) before any work, not met
later as a traceback from numpy, torch or the checkpoint loader."""

from __future__ import annotations

import argparse

MAX_SEED = 2**32 - 1  # numpy's legacy RandomState, the narrowest seed the scripts use


def at_least(low: int):
    """An ``int`` argument type that refuses values below ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


positive = at_least(1)
non_negative = at_least(0)


def seed(text: str) -> int:
    value = non_negative(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SEED}, got {value}")
    return value


def load_model(parser: argparse.ArgumentParser, path):
    """``MolVAE.load(path)``; a missing or unreadable model file is a usage error naming it."""
    from molvae.checkpoint import CheckpointError
    from molvae.vae import MolVAE

    try:
        return MolVAE.load(path)
    except (CheckpointError, OSError) as exc:
        parser.error(f"--model: {exc}")
