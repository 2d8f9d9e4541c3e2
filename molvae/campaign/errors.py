"""Errors of property-optimization campaigns (light module: no optuna, no torch)."""

from __future__ import annotations

__all__ = ["CampaignError", "ObjectiveError"]


class CampaignError(ValueError):
    """A campaign cannot start or go on: bad budget, storage, sampler, constraints, resume mismatch."""


class ObjectiveError(ValueError):
    """An objective specification cannot be used: unknown name, malformed weighted sum,
    missing file, module or function, unreadable predictor."""
