"""Latent-space samplers: TuRBO trust region, proposals inside it, replay, determinism."""

from __future__ import annotations

import math
import warnings

import numpy as np
import optuna
import pytest

from molvae.campaign.sampler import (
    LatentBOSampler,
    PriorSampler,
    TrustRegion,
    latent_names,
    make_sampler,
    observations,
    replay_trust_region,
)

optuna.logging.set_verbosity(optuna.logging.ERROR)
D = 4
TARGET = np.array([0.5, -0.3, 0.2, 0.0])


def _objective(trial):
    z = np.array([trial.suggest_float(n, -4, 4) for n in latent_names(D)])
    return -float(np.sum((z - TARGET) ** 2))


def _run(sampler, n_trials=24):
    study = optuna.create_study(direction="maximize", sampler=sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(_objective, n_trials=n_trials)
    return study


def test_trust_region_grows_shrinks_and_restarts():
    tr = TrustRegion(dim=8, batch_size=4)
    assert tr.failure_tolerance == 2 and tr.length == 0.8
    for _ in range(3):
        tr.update(True)
    assert tr.length == 1.6
    for _ in range(3):
        tr.update(True)
    assert tr.length == 1.6  # capped at length_max
    tr.update(False)
    tr.update(False)
    assert tr.length == 0.8
    while tr.restarts == 0:
        tr.update(False)
    assert tr.length == 0.8 and tr.restarts == 1
    assert min(tr.history) >= tr.length_min


def test_proposals_stay_in_the_trust_region():
    sampler = LatentBOSampler(D, batch_size=4, n_init=8, seed=0, n_candidates=256, n_centers=1, explore=0.0)
    study = _run(sampler, 28)
    info = sampler.last_batch
    assert info is not None
    lower, upper, center = info["lower"], info["upper"], info["center"]
    pts = info["points"]
    assert pts.shape == (4, D)
    assert np.all(pts >= lower - 1e-12) and np.all(pts <= upper + 1e-12)
    assert np.all(lower <= center) and np.all(center <= upper)
    # the centre is the best point seen, and the box has side length * w_i
    best = study.best_trial
    assert np.allclose(center, [best.params[n] for n in latent_names(D)])
    obs = observations(study, latent_names(D), n_init=8, batch_size=4)
    tr, _ = sampler.trust_region(obs)
    assert info["length"] == tr.length
    if np.all(np.abs(center) + (upper - lower) < 4):  # not clipped: side lengths have geometric mean = length
        assert np.exp(np.mean(np.log(upper - lower))) == pytest.approx(tr.length)
    # BO beats the first (prior) batch on this smooth objective
    values = [t.value for t in study.trials]
    assert max(values[8:]) > max(values[:8])


def test_several_regions_around_the_best_distinct_points():
    sampler = LatentBOSampler(D, batch_size=4, n_init=8, seed=2, n_candidates=256, n_centers=3, explore=0.0)
    study = _run(sampler, 20)
    info = sampler.last_batch
    assert len(info["centers"]) == 3 and len(info["boxes"]) == 3
    inside = [any(np.all(p >= lo - 1e-12) and np.all(p <= hi + 1e-12) for lo, hi in info["boxes"]) for p in info["points"]]
    assert all(inside)
    # in sequential optuna use every new result refreshes the batch: the last proposal
    # (trial 19) saw trials 0-18, and the centres are their 3 best points
    top = sorted((t for t in study.trials if t.number < 19), key=lambda t: -t.value)[:3]
    assert np.allclose(info["centers"], [[t.params[n] for n in latent_names(D)] for t in top])


def test_ei_acquisition_and_batches_are_distinct():
    sampler = LatentBOSampler(D, batch_size=3, n_init=6, seed=1, acquisition="ei", n_candidates=128)
    _run(sampler, 15)
    pts = sampler.last_batch["points"]
    assert len({tuple(p) for p in pts}) == 3


def test_same_seed_same_proposals():
    a = _run(LatentBOSampler(D, batch_size=2, n_init=4, seed=3, n_candidates=128), 10)
    b = _run(LatentBOSampler(D, batch_size=2, n_init=4, seed=3, n_candidates=128), 10)
    assert [t.params for t in a.trials] == [t.params for t in b.trials]


def test_replay_counts_failed_batches_as_failures():
    study = optuna.create_study(direction="maximize")
    dist = {n: optuna.distributions.FloatDistribution(-4, 4) for n in latent_names(2)}
    def add(v, source, batch, state=optuna.trial.TrialState.COMPLETE, status=None):
        attrs = {"source": source, "batch": batch}
        if status:
            attrs["status"] = status
        study.add_trial(optuna.trial.create_trial(params={"z0": 0.0, "z1": 0.0}, distributions=dist, value=v if state == optuna.trial.TrialState.COMPLETE else None, state=state, user_attrs=attrs))
    add(1.0, "prior", "a")
    add(2.0, "bo", "b")  # success
    add(None, "bo", "c", optuna.trial.TrialState.FAIL, "invalid")  # failure
    add(1.5, "bo", "d")  # failure
    add(None, "bo", "e", optuna.trial.TrialState.FAIL, "duplicate")  # ignored: no information
    obs = observations(study, latent_names(2), batch_size=1)
    assert len(obs) == 4 and obs.failed.tolist() == [False, False, True, False]
    assert obs.y[2] == 1.0  # imputed with the worst observed score
    tr, best = replay_trust_region(obs, 2, 1, failure_tolerance=10)
    assert best == 2.0 and tr.successes == 0 and tr.failures == 2


def test_prior_sampler_and_factory():
    study = _run(PriorSampler(D, seed=0), 50)
    z = np.array([[t.params[n] for n in latent_names(D)] for t in study.trials])
    assert abs(z.mean()) < 0.3 and 0.7 < z.std() < 1.3  # N(0, I), not uniform in [-4, 4]
    again = _run(PriorSampler(D, seed=0), 5)
    assert [t.params for t in again.trials] == [t.params for t in study.trials[:5]]
    assert isinstance(make_sampler("bo", D), LatentBOSampler)
    assert isinstance(make_sampler("random", D), PriorSampler)
    assert isinstance(make_sampler("tpe", D, seed=0), optuna.samplers.TPESampler)
    assert isinstance(make_sampler("gp", D, seed=0), optuna.samplers.GPSampler)
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("cmaes", D)
    assert math.isfinite(TrustRegion(dim=128, batch_size=10).failure_tolerance)


@pytest.mark.parametrize("acquisition", ["ts", "ei"])
def test_constrained_proposals_follow_the_constraint_model(acquisition):
    """SCBO-style: infeasible points train a constraint GP, and proposals move to the feasible
    ball (also while no point is feasible yet, when EI has no objective model)."""
    sampler = LatentBOSampler(2, batch_size=4, n_init=6, seed=0, n_candidates=256, n_centers=2, explore=0.0, acquisition=acquisition)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    center, radius = np.array([1.5, 1.5]), 1.0
    feasible_late = []
    for i in range(40):
        t = study.ask()
        z = np.array([t.suggest_float(n, -4, 4) for n in latent_names(2)])
        slack = float(np.linalg.norm(z - center) - radius)
        t.set_user_attr("constraint", slack)
        if slack > 0:
            t.set_user_attr("status", "infeasible")
            study.tell(t, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(t, -float(np.sum(z**2)))  # best feasible point: nearest the origin
        if i >= 24:
            feasible_late.append(slack <= 0)
    assert sampler.last_batch["constrained"]
    assert np.mean(feasible_late) >= 0.5
    best = np.array([study.best_trial.params[n] for n in latent_names(2)])
    assert np.linalg.norm(best - center) <= radius


@pytest.mark.parametrize("acquisition", ["ts", "ei"])
@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_prior_mean_that_knows_the_objective_finds_better_points(direction, acquisition):
    sign = 1.0 if direction == "maximize" else -1.0

    def f(z):  # the objective in the study's units (negated when minimized)
        return sign * -np.sum((np.atleast_2d(z) - TARGET) ** 2, axis=1)

    def objective(trial):
        return float(f(np.array([trial.suggest_float(n, -4, 4) for n in latent_names(D)]))[0])

    def run(prior_mean):
        sampler = LatentBOSampler(D, batch_size=4, n_init=8, seed=5, n_candidates=256, acquisition=acquisition, prior_mean=prior_mean)
        study = optuna.create_study(direction=direction, sampler=sampler)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study.optimize(objective, n_trials=16)
        return -sign * np.array([t.value for t in study.trials[8:]])  # distance to TARGET, squared

    flat, informed = run(None), run(f)
    # the sampler orients the prior mean by the study's direction: with it, the proposals
    # after the design are closer to the optimum than a flat GP's
    assert np.median(informed) < np.median(flat)
    assert informed.min() < 0.05
