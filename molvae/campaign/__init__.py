"""Property-optimization campaigns: Bayesian optimization in the latent space.

>>> from molvae.campaign import Campaign
>>> c = Campaign("qed + 0.5*similarity:celecoxib", budget=500, sampler="bo", seed=0)
>>> c.run()            # resumable: re-running continues the stored campaign
>>> c.best(10), c.history()

Modules: :mod:`~molvae.campaign.objectives` (what an oracle call computes),
:mod:`~molvae.campaign.constraints` (feasibility, checked before calls),
:mod:`~molvae.campaign.sampler` (TuRBO-style latent BO and the other samplers),
:mod:`~molvae.campaign.ledger` (the optuna study and exactly-once call accounting),
:mod:`~molvae.campaign.report` (top-k, trace, PMO AUC, plot),
:mod:`~molvae.campaign.campaign` (the :class:`Campaign` loop).

Names are imported lazily, so ``import molvae.campaign`` does not import optuna.
"""

from __future__ import annotations

from molvae.campaign.errors import CampaignError, ObjectiveError

__all__ = [
    "Campaign",
    "CampaignSummary",
    "StoredCampaign",
    "Constraints",
    "Objective",
    "parse_objective",
    "batch_objective",
    "LatentBOSampler",
    "PriorSampler",
    "make_sampler",
    "pmo_auc",
    "CampaignError",
    "ObjectiveError",
]

_WHERE = {
    "Campaign": "campaign",
    "CampaignSummary": "campaign",
    "StoredCampaign": "campaign",
    "Constraints": "constraints",
    "Objective": "objectives",
    "parse_objective": "objectives",
    "batch_objective": "objectives",
    "LatentBOSampler": "sampler",
    "PriorSampler": "sampler",
    "make_sampler": "sampler",
    "pmo_auc": "report",
}


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"molvae.campaign.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'molvae.campaign' has no attribute {name!r}")
