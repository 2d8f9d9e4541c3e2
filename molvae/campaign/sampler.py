"""Samplers over the latent space, written against optuna's sampler interface.

:class:`LatentBOSampler` is trust-region Bayesian optimization in the VAE's latent space:
TuRBO-1 (Eriksson et al. 2019, "Scalable global optimization via local Bayesian
optimization", NeurIPS) as LOLBO applied it to molecule VAEs (Maus et al. 2022, "Local
latent space Bayesian optimization over structured inputs", NeurIPS), without LOLBO's
joint VAE fine-tuning. Each batch:

1. fits a Gaussian-process surrogate (scikit-learn, Matern-5/2 kernel, ARD length scales
   up to 40 latent dimensions and one shared length scale above, a white-noise term,
   marginal-likelihood fit) on the latent points scored so far -- at most
   ``max_gp_points`` of them: the best ones and those nearest the trust region's
   centre, a local GP as in TuRBO;
2. draws ``n_candidates`` points in the trust region: boxes of side ``length * w_i``
   (``w`` the length scales normalized to geometric mean 1) around the best latent points
   -- the best point of each of the ``n_centers`` best distinct molecules, sharing one
   length, as TuRBO-m shares a batch between regions -- perturbing about 20 coordinates
   of a centre per candidate (TuRBO's Sobol perturbation); a small share ``explore`` of
   the candidates are prior draws, so the acquisition can leave the regions when the
   GP is uncertain enough elsewhere;
3. picks ``batch_size`` of them by Thompson sampling (argmax of joint posterior draws,
   the default) or by expected improvement (greedy batch with kriging-believer
   fantasies);
4. the trust region doubles after ``success_tolerance`` batches in a row that improve the
   best score and halves after ``failure_tolerance = ceil(max(4, d) / batch_size)``
   batches in a row that do not; below ``length_min`` it restarts at ``length_init``
   around the best point. One deviation from TuRBO, for decoders that are locally
   constant: a batch whose points all decode to molecules already scored (``cached``
   trials of a campaign) is not a failure -- a smaller region could only repeat them --
   and doubles the region instead (up to ``length_max``).

With a ``prior_mean`` (in a campaign: the model's estimate of the objective, from its jointly
trained property head or, for similarity to a molecule, the latent distance to that
molecule's anchor), the GP models the residual of the scores from a fitted
``a + b * prior_mean`` instead of from a constant, so the acquisition favours regions the
model already predicts to be good before any oracle call is spent there (in the spirit of
chemical_vae, Gómez-Bombarelli et al. 2018, whose latent space was shaped by the same head).

Constraints follow SCBO (Eriksson & Poloczek 2021, "Scalable constrained Bayesian
optimization"): a campaign records a signed constraint value ``constraint`` (<= 0 when
feasible) on every molecule; once a point is infeasible a second GP models it, Thompson
sampling takes the best sampled objective among candidates whose sampled constraint is
<= 0 (the smallest sampled constraint when there is none), and expected improvement is
multiplied by P(constraint <= 0). The objective GP is fitted on feasible points only.
While nothing is feasible, the regions sit around the least-violating points and a batch
that lowers the smallest violation counts as a success, so a similarity-constrained
campaign first climbs towards its reference molecule. Other failures (no molecule, an
objective error) enter the objective GP with the worst observed score.

The trust-region state is *recomputed from the study's trials* for every batch (a replay
of the batches in trial order), so it survives a crash and is shared by processes working
on the same study.

Why scikit-learn rather than BoTorch/GPyTorch: scikit-learn is already a dependency of
molvae (predictors), and an exact GP on a few hundred points is a few hundredths of a
second on a CPU, far below one decoding + oracle round; BoTorch would add GPyTorch,
linear_operator and pyro-style dependencies for features (sparse GPs for 10^4+ points,
Monte-Carlo q-acquisitions, deep kernels) that budgets of hundreds to thousands of oracle
calls on a 2-core machine do not need. Thompson sampling and kriging-believer EI are
simple closed forms on top of the exact posterior.

:class:`PriorSampler` draws from the VAE prior N(0, I): the screening baseline.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.samplers import BaseSampler
from optuna.trial import TrialState

__all__ = [
    "LatentBOSampler",
    "PriorSampler",
    "TrustRegion",
    "latent_names",
    "latent_space",
    "make_sampler",
    "observations",
    "SAMPLERS",
]

#: Sampler names accepted by :func:`make_sampler`.
SAMPLERS = ("bo", "tpe", "gp", "random")

#: Trial statuses that carry no information about the objective surface.
_SKIP_STATUSES = {"duplicate", "over_budget", "interrupted", "cancelled", "dropped", "claimed", "calling"}


def latent_names(d_z: int) -> list[str]:
    """Parameter names of the latent coordinates: ``z0 .. z{d_z-1}``.

    Parameters
    ----------
    d_z : int
        Latent dimension.

    Returns
    -------
    list of str, length d_z
    """
    return [f"z{i}" for i in range(d_z)]


def latent_space(d_z: int, bound: float) -> dict[str, FloatDistribution]:
    """The search space: each latent coordinate in ``[-bound, bound]``.

    Parameters
    ----------
    d_z : int
        Latent dimension.
    bound : float
        Half-width of the box, in latent units (prior standard deviations).

    Returns
    -------
    dict of str to FloatDistribution
        ``{"z0": FloatDistribution(-bound, bound), ...}``, ``d_z`` entries.

    Raises
    ------
    ValueError
        From optuna, when ``bound`` is negative (``low > high``).
    """
    return {n: FloatDistribution(-bound, bound) for n in latent_names(d_z)}


# ---------------------------------------------------------------------- trust region
@dataclass
class TrustRegion:
    """TuRBO trust-region state (Eriksson et al. 2019).

    Attributes
    ----------
    dim : int
    batch_size : int
    length : float
        Side length (latent units, before length-scale weighting).
    length_init, length_min, length_max : float
        0.8, 0.5**7 and 1.6 as in TuRBO/LOLBO.
    success_tolerance : int
        Consecutive improving batches before the region doubles (3).
    failure_tolerance : int
        Consecutive non-improving batches before it halves: ``ceil(max(4, dim) / batch_size)``.
    successes, failures, restarts : int
    """

    dim: int
    batch_size: int = 1
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    success_tolerance: int = 3
    failure_tolerance: int = 0
    length: float = 0.0
    successes: int = 0
    failures: int = 0
    restarts: int = 0
    history: list = field(default_factory=list)

    def __post_init__(self):
        if not self.failure_tolerance:
            self.failure_tolerance = int(math.ceil(max(4.0 / self.batch_size, self.dim / self.batch_size)))
        if not self.length:
            self.length = self.length_init

    def update(self, improved: bool) -> None:
        """Apply one batch's outcome: grow on success, shrink on failure, restart when tiny.

        TuRBO's rule (Eriksson et al. 2019): ``success_tolerance`` successes in a row double
        the side length (at most ``length_max``), ``failure_tolerance`` failures in a row
        halve it; below ``length_min`` the region restarts at ``length_init`` and
        ``restarts`` counts it. Each call appends the new length to ``history``.

        Parameters
        ----------
        improved : bool
            Whether the batch improved on the best score found so far.
        """
        if improved:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= self.success_tolerance:
            self.length, self.successes = min(2.0 * self.length, self.length_max), 0
        elif self.failures >= self.failure_tolerance:
            self.length, self.failures = self.length / 2.0, 0
        if self.length < self.length_min:
            self.length, self.successes, self.failures = self.length_init, 0, 0
            self.restarts += 1
        self.history.append(self.length)

    def expand(self) -> None:
        """Double the region (up to ``length_max``) after a batch that decoded nothing new."""
        self.length = min(2.0 * self.length, self.length_max)
        self.successes = self.failures = 0
        self.history.append(self.length)


# ---------------------------------------------------------------------- observations
@dataclass
class Observations:
    """Latent points and scores read from a study (scores oriented so that higher is better).

    Attributes
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
        Score, or the worst observed score for failed points.
    failed : ndarray of bool, shape (n,)
        Whether the point had no score (imputed).
    design : ndarray of bool, shape (n,)
        Initial-design points (not part of the trust-region replay).
    group : list
        Batch key of each point.
    numbers : list of int
        Trial numbers.
    smiles : list of str or None
        Decoded molecule of each point (campaign trials).
    constraint : ndarray, shape (n,)
        Signed constraint slack of each point's molecule, <= 0 when feasible (NaN where
        unknown: no constraints, or no molecule).
    repeated : ndarray of bool, shape (n,)
        The point decoded to a molecule already scored (a ``cached`` trial of a campaign).
    sign : float
        +1 for a maximized study, -1 for a minimized one (``y`` is the score times it).
    """

    X: np.ndarray
    y: np.ndarray
    failed: np.ndarray
    design: np.ndarray
    group: list
    numbers: list
    repeated: np.ndarray = None
    smiles: list = None
    constraint: np.ndarray = None
    sign: float = 1.0

    def __len__(self) -> int:
        return len(self.y)


def observations(study: optuna.Study, names: list[str], *, n_init: int = 0, batch_size: int = 1) -> Observations:
    """Collect finished trials that carry the latent parameters.

    Trials from a molvae campaign carry user attributes ``status``, ``source`` and
    ``batch``; trials of a plain optuna study have none, and then the first ``n_init``
    are the initial design and batches are consecutive runs of ``batch_size`` trials.

    Returns
    -------
    Observations
    """
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL)):
        if any(n not in t.params for n in names):
            continue
        status = t.user_attrs.get("status")
        if status in _SKIP_STATUSES:
            continue
        value = sign * t.value if t.state == TrialState.COMPLETE and t.value is not None else None
        slack = t.user_attrs.get("constraint")
        rows.append((t.number, [t.params[n] for n in names], value, t.user_attrs.get("source"), t.user_attrs.get("batch"), status == "cached", t.user_attrs.get("smiles"), math.nan if slack is None else float(slack)))
    rows.sort(key=lambda r: r[0])
    d = len(names)
    if not rows:
        return Observations(np.zeros((0, d)), np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), [], [], np.zeros(0, bool), [], np.zeros(0), sign)
    X = np.array([r[1] for r in rows], dtype=float)
    vals = [r[2] for r in rows]
    failed = np.array([v is None for v in vals])
    finite = [v for v in vals if v is not None]
    worst = min(finite) if finite else 0.0
    y = np.array([worst if v is None else v for v in vals], dtype=float)
    tagged = any(r[3] is not None for r in rows)
    design = np.array([(r[3] in ("prior", "start")) if tagged else (i < n_init) for i, r in enumerate(rows)])
    group = [r[4] if r[4] is not None else ("n", r[0] // max(batch_size, 1)) for r in rows]
    return Observations(X, y, failed, design, group, [r[0] for r in rows], np.array([r[5] for r in rows], dtype=bool), [r[6] for r in rows], np.array([r[7] for r in rows], dtype=float), sign)


def replay_trust_region(obs: Observations, dim: int, batch_size: int, **tr_kwargs) -> tuple[TrustRegion, float]:
    """Recompute the trust region by replaying the BO batches in trial order.

    Returns
    -------
    TrustRegion
    best : float
        Best score so far (higher is better), ``-inf`` without any.
    """
    tr = TrustRegion(dim=dim, batch_size=batch_size, **tr_kwargs)
    ok = ~obs.failed
    best = float(np.max(obs.y[obs.design & ok])) if np.any(obs.design & ok) else -math.inf
    order: list = []
    groups: dict = {}
    for i in np.flatnonzero(~obs.design):
        g = obs.group[i]
        if g not in groups:
            groups[g] = []
            order.append(g)
        groups[g].append(i)
    repeated = obs.repeated if obs.repeated is not None else np.zeros(len(obs), bool)
    cons = obs.constraint if obs.constraint is not None else np.full(len(obs), np.nan)
    design_c = cons[obs.design & ~np.isnan(cons)]
    best_c = float(design_c.min()) if design_c.size else math.inf
    for g in order:
        if all(repeated[i] for i in groups[g]):
            tr.expand()  # nothing new decoded: the region is inside one plateau of the decoder
            continue
        idx = [i for i in groups[g] if ok[i] and not repeated[i]]
        top = float(np.max(obs.y[idx])) if idx else -math.inf
        gc = [cons[i] for i in groups[g] if not np.isnan(cons[i])]
        low_c = min(gc) if gc else math.inf
        if math.isfinite(best):
            improved = top > best + 1e-3 * abs(best)
        elif math.isfinite(top):
            improved = True  # the first feasible score
        else:  # nothing feasible yet: progress is a smaller constraint violation (SCBO)
            improved = low_c < best_c - 1e-3 * abs(best_c) if math.isfinite(best_c) else math.isfinite(low_c)
        tr.update(improved)
        best = max(best, top)
        best_c = min(best_c, low_c)
    return tr, best


# ---------------------------------------------------------------------- GP
def fit_gp(X: np.ndarray, y: np.ndarray, *, ard: bool, seed: int = 0, previous=None, optimize: bool = True):
    """Fit a GP regressor (Matern-5/2 x constant + white noise, normalized targets).

    Parameters
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
    ard : bool
        One length scale per dimension (else one shared length scale).
    previous : sklearn kernel, optional
        A fitted kernel to start the marginal-likelihood optimization from.
    optimize : bool
        Fit the hyper-parameters (L-BFGS on the log marginal likelihood); False keeps
        those of ``previous`` and only conditions on the data.

    Returns
    -------
    sklearn.gaussian_process.GaussianProcessRegressor
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    d = X.shape[1]
    if previous is not None and _kernel_dims(previous) == (d if ard else 1):
        kernel = previous
    else:
        diffs = X[:, None, :] - X[None, :, :] if len(X) <= 400 else X[:400, None, :] - X[None, :400, :]
        med = float(np.median(np.sqrt((diffs**2).sum(-1))[np.triu_indices(min(len(X), 400), 1)])) if len(X) > 1 else math.sqrt(d)
        ls0 = max(med, 1e-2)
        kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern(length_scale=np.full(d, ls0) if ard else ls0, length_scale_bounds=(1e-2, 1e3), nu=2.5) + WhiteKernel(1e-2, (1e-6, 1.0))
    if previous is None or kernel is not previous:
        optimize = True
    gp = GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=0, random_state=seed, optimizer="fmin_l_bfgs_b" if optimize else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        gp.fit(X, y)
    return gp


def _kernel_dims(kernel) -> int:
    ls = _length_scales(kernel)
    return 0 if ls is None else int(np.size(ls))


def _length_scales(kernel):
    for k in (getattr(kernel, "k1", None), kernel):
        if k is None:
            continue
        inner = getattr(k, "k2", None)
        if inner is not None and hasattr(inner, "length_scale"):
            return np.atleast_1d(inner.length_scale)
    return None


def _without_noise(kernel):
    return getattr(kernel, "k1", kernel)


# ---------------------------------------------------------------------- samplers
class _LatentSampler(BaseSampler):
    """Shared plumbing: the latent search space and an independent fallback."""

    def __init__(self, d_z: int, bound: float = 4.0, seed: int | None = None, names: list[str] | None = None):
        self.d_z = int(d_z)
        self.bound = float(bound)
        self.names = list(names) if names is not None else latent_names(self.d_z)
        if len(self.names) != self.d_z:
            raise ValueError(f"{len(self.names)} parameter names for {self.d_z} dimensions")
        self._space = {n: FloatDistribution(-self.bound, self.bound) for n in self.names}
        self._seed = 0 if seed is None else int(seed)

    def infer_relative_search_space(self, study, trial):
        return dict(self._space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        rng = np.random.default_rng([self._seed, trial.number, zlib.crc32(param_name.encode())])
        x = rng.standard_normal()
        low, high = getattr(param_distribution, "low", -self.bound), getattr(param_distribution, "high", self.bound)
        return float(np.clip(x, low, high))

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])

    def _prior(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.clip(rng.standard_normal((n, self.d_z)), -self.bound, self.bound)

    def _as_params(self, z: np.ndarray, search_space) -> dict:
        return {n: float(v) for n, v in zip(self.names, z) if n in search_space}


class PriorSampler(_LatentSampler):
    """Latent points drawn from the VAE prior N(0, I) (clipped to ``[-bound, bound]``).

    The screening baseline: decode random prior draws and score them. Draws depend only
    on ``seed`` and the trial number, so a resumed campaign does not repeat them.

    Parameters
    ----------
    d_z : int
    bound : float
    seed : int, optional
    """

    def sample_relative(self, study, trial, search_space):
        """Optuna sampler hook: one prior draw for ``trial``.

        Parameters
        ----------
        study : optuna.Study
            Unused.
        trial : optuna.trial.FrozenTrial
            Its ``number`` seeds the draw (with the sampler's seed).
        search_space : dict of str to BaseDistribution
            The relative search space (:meth:`infer_relative_search_space`).

        Returns
        -------
        dict of str to float
            One N(0, 1) value per latent coordinate named in ``search_space``, clipped to
            ``[-bound, bound]``; ``{}`` for an empty search space.
        """
        if not search_space:
            return {}
        rng = np.random.default_rng([self._seed, trial.number])
        return self._as_params(self._prior(rng, 1)[0], search_space)


class LatentBOSampler(_LatentSampler):
    """TuRBO-style trust-region Bayesian optimization on latent coordinates (see module docs).

    Parameters
    ----------
    d_z : int
        Latent dimension; the parameters are ``z0 .. z{d_z-1}`` in ``[-bound, bound]``.
    bound : float
        Box of the search space (the prior N(0, I) puts 99.99 % of each coordinate in
        +-4).
    batch_size : int
        Points proposed per GP fit; the first ``ask`` of a batch computes it, the next
        ``batch_size - 1`` asks are served from a queue.
    acquisition : {"ts", "ei"}
        Thompson sampling (TuRBO's default) or expected improvement.
    n_init : int
        Observed points before the GP takes over (prior draws until then). In a molvae
        campaign the initial design is made by the campaign and tagged, so this is only
        for plain optuna use.
    n_candidates : int, optional
        Candidates scored by the acquisition per batch (default ``min(100 d, 1000)``).
    n_centers : int
        Trust-region boxes, around the best points of the best distinct molecules (1 is
        TuRBO-1's single region around the best point).
    explore : float
        Share of the candidates drawn from the prior N(0, I) instead of the boxes.
    max_gp_points : int
        Largest GP training set.
    ard : bool, optional
        Per-dimension length scales; default: when ``d_z <= 40``.
    seed : int, optional
    length_init, length_min, length_max : float
        Trust-region side lengths (latent units).
    success_tolerance : int
    failure_tolerance : int, optional
        Default ``ceil(max(4, d_z) / batch_size)``.
    names : list of str, optional
        Parameter names (default ``z0 .. z{d_z-1}``); a campaign searching a subspace
        of the latent space passes the names of its coordinates.
    prior_mean : callable, optional
        ``f(X)`` for points ``X`` of shape (n, d) in the searched coordinates, returning
        an estimate of the objective, shape (n,), in the study's units (the sampler
        orients it by the study's direction). Each batch fits ``a + b f(X)`` to the
        scores by least squares (``b >= 0``), and the GP models the residual (a GP
        with an explicit basis function, Rasmussen & Williams 2006, sec. 2.7). A
        campaign passes the model's estimate of the objective here, where it has one
        (:meth:`~molvae.campaign.objectives.Objective.latent_estimate`).
    refit_every : int
        Fit the GP hyper-parameters by marginal likelihood on every ``refit_every``-th
        batch (the first included); in between the last ones are kept and only the
        posterior is updated -- the fit is most of the sampler's time.

    Attributes
    ----------
    last_batch : dict or None
        Diagnostics of the latest batch: ``center`` (d,) the best point, ``lower``/``upper``
        (d,) its box, ``centers`` (k, d) and ``boxes`` (k pairs of bounds) of all regions,
        ``length``, ``points`` (batch_size, d), ``n_train``, ``best``.
    """

    def __init__(
        self,
        d_z: int,
        bound: float = 4.0,
        *,
        batch_size: int = 1,
        acquisition: str = "ts",
        n_init: int = 10,
        n_candidates: int | None = None,
        max_gp_points: int = 256,
        ard: bool | None = None,
        seed: int | None = None,
        length_init: float = 0.8,
        length_min: float = 0.5**7,
        length_max: float = 1.6,
        success_tolerance: int = 3,
        failure_tolerance: int | None = None,
        refit_every: int = 3,
        names: list[str] | None = None,
        n_centers: int = 5,
        explore: float = 0.02,
        prior_mean: Callable[[np.ndarray], np.ndarray] | None = None,
    ):
        super().__init__(d_z, bound, seed, names)
        if acquisition not in ("ts", "ei"):
            raise ValueError(f"acquisition must be 'ts' or 'ei', got {acquisition!r}")
        self.batch_size = max(int(batch_size), 1)
        self.acquisition = acquisition
        self.n_init = max(int(n_init), 1)
        self.n_candidates = int(n_candidates or min(100 * self.d_z, 1000))
        self.max_gp_points = int(max_gp_points)
        self.ard = (self.d_z <= 40) if ard is None else bool(ard)
        self._tr_kwargs = dict(length_init=length_init, length_min=length_min, length_max=length_max, success_tolerance=success_tolerance, failure_tolerance=failure_tolerance or 0)
        self._queue: list[np.ndarray] = []
        self._queue_key = None
        self.refit_every = max(int(refit_every), 1)
        self.n_centers = max(int(n_centers), 1)
        self.explore = float(explore)
        self._kernel = None
        self._kernel_c = None
        self._fits = 0
        self.prior_mean = prior_mean
        self._sign = 1.0
        self._coef = (0.0, 1.0)
        self.last_batch: dict | None = None

    # -------------------------------------------------------------- optuna interface
    def sample_relative(self, study, trial, search_space):
        """Optuna sampler hook: the next latent point of the current batch.

        Reads the study's observations (:func:`observations`); when the queue is empty
        or the observations changed (another study or a different number of points), a
        new batch of ``batch_size`` points is proposed (:meth:`propose`, one GP fit) with
        a generator seeded by ``(seed, len(obs), trial.number)``, and the first point is
        returned; later calls pop the queued points.

        Parameters
        ----------
        study : optuna.Study
            The campaign's study, read for observations.
        trial : optuna.trial.FrozenTrial
            The trial being sampled (its number seeds a new batch).
        search_space : dict of str to BaseDistribution
            The relative search space (:meth:`infer_relative_search_space`).

        Returns
        -------
        dict of str to float
            Latent coordinate name -> value for the names in ``search_space``; ``{}``
            for an empty search space.
        """
        if not search_space:
            return {}
        obs = observations(study, self.names, n_init=self.n_init, batch_size=self.batch_size)
        key = (id(study), len(obs))
        if not self._queue or self._queue_key != key:
            self._queue = list(self.propose(obs, self.batch_size, rng=np.random.default_rng([self._seed, len(obs), trial.number])))
            self._queue_key = key
        return self._as_params(self._queue.pop(0), search_space)

    # -------------------------------------------------------------- the algorithm
    def trust_region(self, obs: Observations) -> tuple[TrustRegion, float]:
        """The trust-region state after the observed batches (a replay; see module docs).

        TuRBO's success/failure rule (Eriksson et al. 2019) applied to the observed BO
        batches in trial order (:func:`replay_trust_region`), with this sampler's
        dimension, batch size and trust-region settings.

        Parameters
        ----------
        obs : Observations
            Points and scores read from the study.

        Returns
        -------
        TrustRegion
            The state after the last batch.
        best : float
            Best score so far, oriented so that higher is better; ``-inf`` without any.
        """
        return replay_trust_region(obs, self.d_z, self.batch_size, **self._tr_kwargs)

    def propose(self, obs: Observations, n: int, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """Propose ``n`` latent points.

        Parameters
        ----------
        obs : Observations
        n : int
        rng : numpy Generator, optional

        Returns
        -------
        ndarray, shape (n, d_z)
            Prior draws while fewer than ``n_init`` points (or no usable point) are
            observed; trust-region BO proposals afterwards.
        """
        rng = rng or np.random.default_rng(self._seed)
        self._sign, self._coef = obs.sign, (0.0, 1.0)  # this batch's orientation and calibration (see _calibrate)
        ok = ~obs.failed
        cons = obs.constraint if obs.constraint is not None else np.full(len(obs), np.nan)
        known = ~np.isnan(cons)
        infeasible = known & (cons > 0)
        if len(obs) < self.n_init or not (ok.any() or known.any()):
            self.last_batch = None
            return self._prior(rng, n)
        tr, best = self.trust_region(obs)
        if ok.any():  # regions around the best scored molecules
            centers = self._centers(obs, obs.y, ok)
        else:  # nothing feasible yet: around the least-violating points (SCBO)
            centers = self._centers(obs, -np.nan_to_num(cons, nan=np.inf), known)
        center = centers[0]
        gp_f = gp_c = None
        X = y = None
        if ok.any():
            keep = ~infeasible  # infeasible points are modelled by the constraint GP only
            X, y = self._training_set(obs.X[keep], obs.y[keep], center)
            self._calibrate(X, y)
            gp_f, self._kernel = self._fit(X, y - self._mean(X), self._kernel)
        if infeasible.any():
            Xc, yc = self._training_set(obs.X[known], cons[known], center, higher_is_better=False)
            gp_c, self._kernel_c = self._fit(Xc, yc, self._kernel_c)
        self._fits += 1
        ls = _length_scales((gp_f or gp_c).kernel_) if (gp_f or gp_c) is not None else None
        w = np.ones(self.d_z)
        if ls is not None and np.size(ls) == self.d_z:
            w = ls / ls.mean()
            w = w / np.prod(np.power(w, 1.0 / self.d_z))
        half = w * tr.length / 2.0
        boxes = [(np.clip(c - half, -self.bound, self.bound), np.clip(c + half, -self.bound, self.bound)) for c in centers]
        lower, upper = boxes[0]
        n_global = int(round(self.explore * self.n_candidates))
        per = max((self.n_candidates - n_global) // len(centers), 1)
        parts = [self._candidates(c, lo, hi, rng, per) for c, (lo, hi) in zip(centers, boxes)]
        if n_global:
            parts.append(self._prior(rng, n_global))
        cand = np.vstack(parts)
        if gp_f is None and gp_c is None:
            picks = cand[rng.choice(len(cand), size=min(n, len(cand)), replace=False)]
        elif self.acquisition == "ts":
            picks = self._thompson(gp_f, gp_c, cand, n, rng, self._mean(cand))
        else:
            m_train = self._mean(X) if X is not None else None  # X is None while nothing is feasible
            picks = self._expected_improvement(gp_f, gp_c, X, y, cand, n, m_train, self._mean(cand))
        if len(picks) < n:
            picks = np.vstack([picks, cand[rng.choice(len(cand), size=n - len(picks))]])
        self.last_batch = dict(
            center=center, lower=lower, upper=upper, centers=np.array(centers), boxes=boxes, length=tr.length,
            points=picks, n_train=0 if y is None else len(y), best=best, restarts=tr.restarts, constrained=gp_c is not None,
        )  # fmt: skip
        return picks

    def _raw_mean(self, X: np.ndarray) -> np.ndarray:
        m = self._sign * np.asarray(self.prior_mean(X), dtype=float).reshape(-1)
        return np.where(np.isfinite(m), m, 0.0)

    def _calibrate(self, X: np.ndarray, y: np.ndarray) -> None:
        """Fit ``a + b * prior_mean`` to the GP's training set by least squares (``b >= 0``).

        The prior mean enters as an explicit basis function whose coefficients are fitted
        (Rasmussen & Williams 2006, sec. 2.7): where the estimate stops tracking the scores
        (a linear head extrapolating past a property's ceiling, say) its weight shrinks.
        """
        if self.prior_mean is None or len(y) < 3:
            return
        m = self._raw_mean(X)
        var = float(np.var(m))
        if var <= 1e-12:
            return
        b = max(float(np.mean((m - m.mean()) * (y - y.mean()))) / var, 0.0)
        self._coef = (float(y.mean() - b * m.mean()), b)

    def _mean(self, X: np.ndarray) -> np.ndarray:
        """The surrogate's prior mean at ``X`` (n, d), oriented so that higher is better and
        calibrated (:meth:`_calibrate`); zeros without one."""
        if self.prior_mean is None or len(X) == 0:
            return np.zeros(len(X))
        a, b = self._coef
        return a + b * self._raw_mean(X)

    def _fit(self, X, y, previous):
        """Fit a GP (hyper-parameters every ``refit_every`` batches); (None, previous) on failure."""
        try:
            refit = previous is None or self._fits % self.refit_every == 0
            gp = fit_gp(X, y, ard=self.ard, seed=self._seed, previous=previous, optimize=refit)
            return gp, gp.kernel_
        except Exception:  # a degenerate fit: the other model, or uniform draws in the regions
            return None, previous

    def _centers(self, obs: Observations, score: np.ndarray, valid: np.ndarray) -> list[np.ndarray]:
        """The best valid points by ``score``, one per distinct molecule, best first (at most ``n_centers``)."""
        idx = np.flatnonzero(valid)
        order = idx[np.argsort(-score[idx], kind="stable")]
        seen, out = set(), []
        for i in order:
            key = obs.smiles[i] if obs.smiles is not None and obs.smiles[i] else ("point", i)
            if key in seen:
                continue
            seen.add(key)
            out.append(obs.X[i])
            if len(out) >= self.n_centers:
                break
        return out

    def _training_set(self, X: np.ndarray, y: np.ndarray, center: np.ndarray, higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """At most ``max_gp_points``: the best eighth by ``y`` and the rest nearest the centre."""
        if len(y) <= self.max_gp_points:
            return X, y
        n_top = self.max_gp_points // 8
        top = np.argsort(-y if higher_is_better else y, kind="stable")[:n_top]
        dist = np.linalg.norm(X - center, axis=1)
        taken = set(top.tolist())
        near = [i for i in np.argsort(dist, kind="stable") if i not in taken][: self.max_gp_points - n_top]
        idx = np.concatenate([top, np.array(near, dtype=int)])
        return X[idx], y[idx]

    def _candidates(self, center, lower, upper, rng, n: int) -> np.ndarray:
        from scipy.stats import qmc

        sobol = qmc.Sobol(d=self.d_z, scramble=True, seed=rng)
        m = int(math.ceil(math.log2(max(n, 2))))
        pert = lower + (upper - lower) * sobol.random_base2(m)[:n]
        prob = min(20.0 / self.d_z, 1.0)
        mask = rng.random((n, self.d_z)) <= prob
        empty = ~mask.any(axis=1)
        mask[np.flatnonzero(empty), rng.integers(0, self.d_z, size=int(empty.sum()))] = True
        cand = np.repeat(center[None, :], n, axis=0)
        cand[mask] = pert[mask]
        return cand

    @staticmethod
    def _draws(gp, cand: np.ndarray, n: int, rng) -> np.ndarray:
        """``n`` joint posterior draws at the candidates, shape (n_cand, n)."""
        mu, cov = gp.predict(cand, return_cov=True)
        cov = 0.5 * (cov + cov.T)
        jitter = 1e-8 * max(float(np.mean(np.diag(cov))), 1e-12)
        for _ in range(6):
            try:
                L = np.linalg.cholesky(cov + jitter * np.eye(len(cand)))
                break
            except np.linalg.LinAlgError:
                jitter *= 10
        else:
            L = np.diag(np.sqrt(np.clip(np.diag(cov), 0, None)))
        return mu[:, None] + L @ rng.standard_normal((len(cand), n))

    def _thompson(self, gp_f, gp_c, cand: np.ndarray, n: int, rng, offset: np.ndarray | None = None) -> np.ndarray:
        """Thompson sampling; with a constraint GP, SCBO's rule: the best sampled objective
        among candidates whose sampled constraint is <= 0, else the smallest sampled constraint.
        ``offset`` (n_cand,) is the prior mean added to the objective GP's draws."""
        F = self._draws(gp_f, cand, n, rng) if gp_f is not None else None
        if F is not None and offset is not None:
            F = F + offset[:, None]
        C = self._draws(gp_c, cand, n, rng) if gp_c is not None else None
        chosen: list[int] = []
        for j in range(n):
            if C is None:
                order = np.argsort(-F[:, j], kind="stable")
            else:
                feasible = C[:, j] <= 0
                if F is not None and feasible.any():
                    key = np.where(feasible, F[:, j], -np.inf)
                    order = np.concatenate([np.argsort(-key, kind="stable")[: int(feasible.sum())], np.argsort(C[:, j], kind="stable")])
                else:
                    order = np.argsort(C[:, j], kind="stable")
            for i in order:
                if i not in chosen:
                    chosen.append(int(i))
                    break
        return cand[chosen]

    @staticmethod
    def _expected_improvement(gp_f, gp_c, X, y, cand: np.ndarray, n: int, m_train=None, m_cand=None) -> np.ndarray:
        """Greedy batch EI with kriging-believer fantasies, times P(constraint <= 0)
        (constrained EI, Gardner et al. 2014). ``gp_f`` models ``y - m_train``; the prior
        mean ``m_cand`` is added back at the candidates."""
        from scipy.stats import norm
        from sklearn.gaussian_process import GaussianProcessRegressor

        p_feasible = np.ones(len(cand))
        if gp_c is not None:
            mc, sc = gp_c.predict(cand, return_std=True)
            p_feasible = norm.cdf(-mc / np.maximum(sc, 1e-12))
        chosen: list[int] = []
        if gp_f is None:
            order = np.argsort(-p_feasible, kind="stable")
            return cand[order[:n]]
        best = float(np.max(y))
        m_train = np.zeros(len(X)) if m_train is None else m_train
        m_cand = np.zeros(len(cand)) if m_cand is None else m_cand
        Xa, ya, model = X, y - m_train, gp_f
        for _ in range(n):
            resid, sd = model.predict(cand, return_std=True)
            mu = resid + m_cand
            sd = np.maximum(sd, 1e-12)
            zz = (mu - best) / sd
            ei = ((mu - best) * norm.cdf(zz) + sd * norm.pdf(zz)) * p_feasible
            ei[chosen] = -np.inf
            i = int(np.argmax(ei))
            chosen.append(i)
            if len(chosen) < n:  # kriging believer: pretend the mean was observed
                Xa, ya = np.vstack([Xa, cand[i]]), np.append(ya, resid[i])
                model = GaussianProcessRegressor(kernel=gp_f.kernel_, optimizer=None, normalize_y=True).fit(Xa, ya)
        return cand[chosen]


def make_sampler(name: str, d_z: int, *, bound: float = 4.0, batch_size: int = 1, seed: int | None = None, acquisition: str = "ts", **kwargs) -> BaseSampler:
    """Build a sampler by name.

    Parameters
    ----------
    name : {"bo", "tpe", "gp", "random"}
        ``bo``: :class:`LatentBOSampler`; ``tpe``: optuna's multivariate TPE on the latent
        coordinates; ``gp``: optuna's GPSampler on them; ``random``: :class:`PriorSampler`.
    d_z : int
        Number of searched latent coordinates (``bo`` and ``random``; optuna's samplers
        take the search space from the study).
    bound : float
        Coordinates lie in ``[-bound, bound]`` (``bo`` and ``random``).
    batch_size : int
        Points ``bo`` proposes per round.
    seed : int, optional
        Same seed, same proposals for the same observations.
    acquisition : {"ts", "ei"}
        For ``bo``: Thompson sampling or expected improvement.
    **kwargs
        Further arguments of :class:`LatentBOSampler` (``bo``); ``random`` takes only
        ``names``; ``tpe`` and ``gp`` ignore them.

    Returns
    -------
    optuna.samplers.BaseSampler

    Raises
    ------
    ValueError
        Unknown name.
    """
    if name == "bo":
        return LatentBOSampler(d_z, bound, batch_size=batch_size, acquisition=acquisition, seed=seed, **kwargs)
    if name == "random":
        return PriorSampler(d_z, bound, seed=seed, names=kwargs.get("names"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if name == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=0, multivariate=True)
        if name == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=0)
    raise ValueError(f"unknown sampler {name!r}: use {', '.join(SAMPLERS)}")
