"""Errors of property-optimization campaigns (light module: no optuna, no torch)."""

from __future__ import annotations

__all__ = ["CampaignError", "ObjectiveError", "CLI_FLAGS"]


class CampaignError(ValueError):
    """A campaign cannot start or go on: bad budget, storage, sampler, constraints, resume mismatch."""


class ObjectiveError(ValueError):
    """An objective specification cannot be used: unknown name, malformed weighted sum,
    missing file, module or function, unreadable predictor."""


#: The CLI's flag for each Python parameter named in campaign errors. A Python call is
#: told of its own arguments (``budget``, ``n_init``, ``storage``); ``molvae optimize`` and
#: ``molvae campaign show`` pass ``flags=CLI_FLAGS``, so their messages name the flags.
CLI_FLAGS = {
    "storage": "--storage", "name": "--name", "start": "--start", "n_init": "--n-init", "seed": "--seed", "budget": "--budget",
    "mw_range": "--mw-range", "min_similarity": "--min-similarity", "to": "--to", "max_sa": "--max-sa", "filters": "--filters",
}  # fmt: skip

