"""``Campaign``: property optimization in the latent space, persisted and resumable.

"Find molecules that maximize this score within this many oracle calls." A campaign
proposes latent points (an initial design from the prior and from start molecules, then
a sampler), decodes each to a canonical SMILES, checks the constraints with RDKit, and
calls the objective -- the *oracle* -- only for feasible molecules it has never scored.
Everything goes to the ledger, an optuna study (:mod:`molvae.campaign.ledger`): re-running
the same campaign after a crash continues it, and several processes can work on one
campaign at once, each proposing from its own stream (the ``seed`` parameter of
:class:`Campaign`).

>>> from molvae.campaign import Campaign
>>> c = Campaign("qed", budget=500, storage="sqlite:///qed.db", sampler="bo", seed=0)
>>> summary = c.run()
>>> c.best(10)        # DataFrame: rank, smiles, score, properties, trial, oracle_call
>>> c.history()       # DataFrame: one row per trial (proposal)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from molvae.campaign.constraints import Constraints
from molvae.campaign.errors import CampaignError
from molvae.campaign.ledger import HeartbeatThread, Ledger, LedgerView, check_storage, default_storage_url, open_storage
from molvae.campaign.objectives import Objective, parse_objective
from molvae.campaign.report import STATUSES, history_frame, plot_trace, pmo_auc, top_k, trace
from molvae.campaign.sampler import SAMPLERS, make_sampler
from molvae.checks import flag, given, is_integer

__all__ = ["Campaign", "CampaignSummary", "StoredCampaign", "default_name", "default_n_init", "worker_seed"]

log = logging.getLogger(__name__)

#: With ``model_prior``, the initial design keeps the best ``n_init`` of ``SCREEN * n_init``
#: prior draws by the model's estimate of the objective.
SCREEN = 50

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=-]{0,119}$")
#: Key of the campaign's metadata in the study's user attributes.
META = "molvae_campaign"


def default_name(objective: str, sampler: str, seed: int) -> str:
    """A campaign name from its objective, sampler and seed (``qed-bo-s0``).

    The objective is turned into a slug: ``*`` becomes ``x``, spaces are dropped, runs of
    characters other than letters, digits and ``.+=-`` become ``_``, leading or
    trailing ``_``/``.`` are stripped, a leading ``-`` becomes ``minus`` and a leading
    ``+`` or ``=`` is dropped (a name starts with a letter or digit: the objective
    ``-1*qed`` gives ``minus1xqed-bo-s0``). A slug that is empty or longer than 60 characters
    is cut to 40 and followed by an 8-hex-digit BLAKE2b hash of the objective.

    Parameters
    ----------
    objective : str
        The objective's specification (e.g. ``"qed + 0.5*similarity:celecoxib"``).
    sampler : str
        Sampler name (``"bo"``, ``"tpe"``, ...).
    seed : int
        Campaign seed.

    Returns
    -------
    str
        ``"{slug}-{sampler}-s{seed}"``. Not checked against the allowed name pattern;
        :class:`Campaign` checks it.
    """
    slug = re.sub(r"[^A-Za-z0-9.+=-]+", "_", objective.replace("*", "x").replace(" ", "")).strip("_.")
    slug = slug.lstrip("+=_.")
    if slug.startswith("-"):  # '-1*qed' (minimize QED): '-1xqed...' is not a valid name
        slug = "minus" + slug[1:]
    if len(slug) > 60 or not slug:
        slug = (slug[:40].strip("_.") or "objective") + "-" + hashlib.blake2b(objective.encode(), digest_size=4).hexdigest()
    return f"{slug}-{sampler}-s{seed}"


#: Largest ``seed`` (2**32 - 1): what numpy's legacy seeding, used by optuna's samplers, accepts.
MAX_SEED = 2**32 - 1
#: Largest ``batch_size``: a round's latent points are drawn, decoded and scored at once.
MAX_BATCH_SIZE = 4096
#: Largest ``n_init``: the initial design screens 50 x ``n_init`` prior draws at once.
MAX_N_INIT = 4096


def worker_seed(seed: int, slot: int) -> int:
    """The sampler seed of a worker that joins a campaign other workers are running.

    Its own stream, spawned from the seed a lone run would use, as
    ``numpy.random.SeedSequence(seed).spawn(...)`` spawns children: the child with spawn
    key ``(slot,)``. Slots are unique on a campaign (see
    :meth:`molvae.campaign.ledger.Ledger.register_worker`), so two workers never share a
    stream, and the stream depends only on the seed and the slot.

    Parameters
    ----------
    seed : int
        The sampler seed of a lone run (the campaign seed, mixed with the ledger's size
        when the run started).
    slot : int
        The worker's slot.

    Returns
    -------
    int
        In ``0 .. 2**32 - 1`` (what optuna's samplers accept).
    """
    return int(np.random.SeedSequence(int(seed), spawn_key=(int(slot),)).generate_state(1, dtype=np.uint32)[0])


def default_n_init(budget: int) -> int:
    """Prior draws in a campaign's initial design when ``n_init`` is not given:
    ``min(20, max(2, budget // 4))`` for the budget the campaign is created with.

    Parameters
    ----------
    budget : int
        Oracle calls.

    Returns
    -------
    int
    """
    return min(20, max(2, int(budget) // 4))


def active_dimensions(vae, *, n: int = 256, seed: int = 0, threshold: float = 0.1) -> np.ndarray:
    """Latent coordinates that the model uses ("active units").

    Decodes ``n`` prior draws, encodes the molecules obtained, and keeps the coordinates
    whose mean KL divergence ``KL(q(z_i | x) || N(0, 1))`` exceeds ``threshold`` nats.
    The others sit at the free-bits floor: the decoder all but ignores them, so a search
    that moves along them only re-decodes the same molecules, and they swamp the
    distances a GP kernel sees. (Active units as in Burda et al. 2016, measured by KL.)

    Parameters
    ----------
    vae : MolVAE
        The model whose latent coordinates are measured.
    n : int
        Prior draws decoded (``vae.sample_latent(n, seed=seed)``); the distinct valid
        molecules among their decodings are encoded.
    seed : int
        Seed of the prior draws: same seed, same coordinates.
    threshold : float
        Mean KL, in nats, above which a coordinate counts as active.

    Returns
    -------
    ndarray of int, shape (k,)
        Sorted indices in ``0 .. d_z - 1``; all ``d_z`` coordinates when fewer than 2
        pass, or when fewer than 2 of the decoded molecules can be encoded.
    """
    z = vae.sample_latent(n, seed=seed)
    smiles = sorted({s for s in vae.decode(z) if s})
    if smiles:
        mu, logvar, _ = vae.try_encode(smiles, return_logvar=True)
        ok = ~np.isnan(mu).any(axis=1)
        if ok.sum() >= 2:
            mu, logvar = mu[ok].astype(float), logvar[ok].astype(float)
            kl = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar).mean(axis=0)
            active = np.flatnonzero(kl > threshold)
            if len(active) >= 2:
                return active
    return np.arange(vae.d_z)


def _positive_int(value) -> bool:
    return is_integer(value) and value >= 1


def _model_sha(path) -> str | None:
    """The first 16 hex digits of a file's SHA-256 (None for no file)."""
    if path is None or not Path(path).is_file():
        return None
    from molvae.data import sha256_of_file  # here, as in report.py: the campaign modules do not load molvae.data

    return sha256_of_file(path)[:16]


def _vae_sha(vae) -> str | None:
    """The model a campaign records (``model_sha``, 16 hex digits): its file's SHA-256, or,
    for a file to which ``molvae fit-density`` added a density fitted for these very
    weights, the SHA-256 of the file the density was added to (``base_sha256``), the rule
    predictors follow. Adding a density (``fit-density -o`` the same file) changes the
    file, not the latent space: a campaign run with the file before goes on with it."""
    from molvae.predictors import density_base_sha256

    base = density_base_sha256(vae)
    return base[:16] if base else _model_sha(vae.path)


def _refuse_a_storage_for_a_name(name: str, flags: dict | None = None) -> None:
    """Refuse, as the name of a campaign whose storage is the default one, a storage URL
    or the ledger file itself (what ``molvae optimize`` prints as the campaign's ledger):
    ``campaign show x.db`` looked for ``x.db.db`` ("no campaign storage at x.db.db"), and
    ``campaign show sqlite:///x.db`` for a folder ``sqlite:``. A SQLite file (``.db``,
    ``.sqlite``, ``.sqlite3``) is taken for the ledger only when there is no file
    ``NAME.db``, the default storage of a campaign with that very name.

    Raises
    ------
    CampaignError
    """
    from molvae.campaign.ledger import sqlite_path

    if "://" in name:
        raise CampaignError(f"{name} is a storage URL, not a campaign name: give the campaign's name, and the URL as its storage ({given('storage', name, flags)})")
    default = sqlite_path(default_storage_url(name))
    if Path(name).suffix.lower() in (".db", ".sqlite", ".sqlite3") and Path(name).is_file() and default is not None and not default.exists():
        raise CampaignError(f"{name} is a file, not a campaign name: give the campaign's name, and the file as its storage ({given('storage', 'sqlite:///' + name, flags)})")


@dataclass
class CampaignSummary:
    """What :meth:`Campaign.run` and :meth:`StoredCampaign.summary` report.

    Attributes
    ----------
    name, storage, objective, direction : str
    sampler : str
        The sampler the campaign started with (:meth:`StoredCampaign.summary`); of a
        :class:`Campaign`, its own, followed by ``(started with X)`` when a resumed run
        uses another.
    budget : int
    calls_used : int
        Oracle calls made (scored + failed + interrupted), over all runs and processes.
    trials : int
        Proposals recorded.
    counts : dict of str to int
        Trials by status.
    best_score : float
    best_smiles : str
    top10_mean : float
    auc_top10 : float
        PMO figure of merit (see :mod:`molvae.campaign.report`).
    stopped : str or None
        Why this run stopped before the budget was used, if it did.
    seconds : float
        Wall time of this run (0 for stored summaries).
    timings : dict of str to float
        Seconds of this run spent in each stage (``setup`` (loading the model, checking
        the settings, the start molecules' latent points, the initial design), ``sampler``,
        ``decode``, ``rdkit`` (properties and constraints), ``oracle``, ``ledger``).
    calls_this_run : int
    """

    name: str
    storage: str
    objective: str
    direction: str
    sampler: str
    budget: int
    calls_used: int
    trials: int
    counts: dict
    best_score: float
    best_smiles: str
    top10_mean: float
    auc_top10: float
    stopped: str | None = None
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    calls_this_run: int = 0

    def lines(self) -> list[str]:
        """A short human-readable summary."""
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        out = [
            f"campaign {self.name}: {self.objective} ({self.direction}), sampler {self.sampler}",
            f"oracle calls {self.calls_used}/{self.budget}; trials {self.trials} ({counts or 'none'})",
        ]
        if self.best_smiles:
            out.append(f"best {self.best_score:.4g} {self.best_smiles}")
            out.append(f"top-10 mean {self.top10_mean:.4g}; PMO AUC top-10 {self.auc_top10:.4f}")
        else:
            out.append("no molecule scored yet")
        if self.stopped:
            out.append(f"stopped early: {self.stopped}")
        return out


class StoredCampaign:
    """A campaign in a storage, for reading: :meth:`history`, :meth:`best`, :meth:`trace`.

    Parameters
    ----------
    name : str
        The campaign's (study's) name; not empty or blank.
    storage : str or optuna storage, optional
        Default ``sqlite:///NAME.db``.
    flags : dict, optional
        How the caller names ``storage`` in the messages: ``storage`` by default;
        ``molvae campaign show`` passes :data:`~molvae.campaign.errors.CLI_FLAGS`.

    Raises
    ------
    CampaignError
        An empty or blank name, or no such storage or campaign.
    """

    def __init__(self, name: str, storage=None, *, flags: dict | None = None, _ledger: Ledger | None = None):
        if not isinstance(name, str) or not name.strip():
            # the default storage would be the file '.db' ("no campaign storage at .db")
            raise CampaignError(f"the campaign name is empty (got {name!r}): give the name of a stored campaign")
        self.name = name
        self.storage_url = storage if isinstance(storage, str) else default_storage_url(name) if storage is None else type(storage).__name__
        if _ledger is None and storage is None:
            _refuse_a_storage_for_a_name(name, flags)
        if _ledger is None and isinstance(storage, str) and check_storage(storage, create=False, flags=flags) is None:  # memory: said 'no campaign named ...'
            raise CampaignError(f"{given('storage', storage.strip(), flags)} keeps nothing: an in-memory campaign ends with its run; give the storage URL the campaign ran with")
        if _ledger is None:
            st = open_storage(storage if storage is not None else default_storage_url(name), create=False, flags=flags)
            _ledger = Ledger(st, name, direction=None)
        self.ledger = _ledger

    @property
    def study(self) -> optuna.Study:
        """The optuna study (open it in optuna-dashboard with the storage URL)."""
        return self.ledger.study

    @property
    def meta(self) -> dict:
        """A copy of the campaign's metadata (study user attribute ``molvae_campaign``):
        objective, direction, d_z, bound, model path and sha, constraints, sampler, seed,
        start molecules, ``n_init``, ``search_dims``, creation time; ``{}`` when the
        campaign has none yet. Reads the storage; on a :class:`Campaign` it opens the
        ledger, creating the storage and the study if needed."""
        return dict(self.ledger.attrs().get(META) or {})

    @property
    def direction(self) -> str:
        """The study's optimization direction, ``"maximize"`` or ``"minimize"``."""
        return self.ledger.study.direction.name.lower()

    @property
    def budget(self) -> int:
        """The stored budget of oracle calls: the largest ever registered in the ledger
        (:meth:`Ledger.budget`), 0 when none was."""
        return self.ledger.budget()

    def history(self, latent: bool = False):
        """One row per trial, in trial order, read from the ledger.

        Parameters
        ----------
        latent : bool
            Add the latent coordinates as columns ``z0 .. z{d_z-1}``.

        Returns
        -------
        DataFrame
            Columns as :func:`molvae.campaign.report.history_frame` (``trial, state,
            status, smiles, score, oracle_call, source, ...``); ``oracle_call`` is the
            1-based call index from the ledger replay.
        """
        view = self.ledger.view()
        return history_frame(view.trials.values(), view.replay.call_index, latent=latent)

    def best(self, k: int = 10):
        """The ``k`` best distinct molecules scored by real oracle calls.

        Parameters
        ----------
        k : int
            Number of molecules (fewer if fewer were scored), >= 0.

        Returns
        -------
        DataFrame
            ``rank`` (1-based), ``smiles``, ``score``, term values, RDKit properties,
            ``trial``, ``oracle_call`` (:func:`molvae.campaign.report.top_k`), best first
            in the study's direction. With no molecule scored, the columns are there
            all the same.

        Raises
        ------
        ValueError
            ``k`` is not an integer >= 0.
        """
        return top_k(self.history(), k, self.direction, **self._table_columns())

    def _sampler_label(self, meta: dict) -> str:
        """The sampler a summary names: the stored one (the campaign's first run's)."""
        return meta.get("sampler", "")

    def _table_columns(self) -> dict:
        """What :func:`top_k` needs to give an empty table its columns: the objective's
        term names and whether a similarity constraint applies (from the stored settings)."""
        meta = self.meta
        try:
            from molvae.campaign.objectives import split_terms

            terms = [t for _, t in split_terms(meta["objective"])] if meta.get("objective") else []
        except Exception:  # an unreadable stored objective: no term columns
            terms = []
        return {"terms": terms, "similarity": bool((meta.get("constraints") or {}).get("min_similarity"))}

    def trace(self, top: int = 10):
        """Best so far and top-``top`` mean after each oracle call.

        Parameters
        ----------
        top : int
            Size of the running top-``top`` mean, >= 1.

        Returns
        -------
        DataFrame
            ``oracle_call`` (1..n), ``score`` (NaN for failed or interrupted calls),
            ``best``, ``top{top}_mean`` (:func:`molvae.campaign.report.trace`).

        Raises
        ------
        ValueError
            ``top`` is not an integer >= 1.
        """
        return trace(self.history(), self.direction, top)

    def auc(self, top: int = 10, budget: int | None = None) -> float:
        """PMO AUC of the top-``top`` mean over the budget, divided by the budget.

        The PMO figure of merit, computed by :func:`molvae.campaign.report.pmo_auc`
        (see :mod:`molvae.campaign.report` for its source and how it is sampled).

        Parameters
        ----------
        top : int
            Size of the top-``top`` mean.
        budget : int, optional
            Oracle calls to normalize by; default (and for 0) the stored :attr:`budget`.

        Returns
        -------
        float
            In [0, 1] for scores in [0, 1]; NaN when no call was scored or the budget is 0.
        """
        return pmo_auc(self.trace(top), budget or self.budget, self.direction, top)

    def plot(self, path, *, top: int = 10) -> Path:
        """Write the trace figure (PNG): oracle-call scores, best so far and top-``top`` mean.

        Parameters
        ----------
        path : str or Path
            Output ``.png`` file; written with matplotlib's Agg backend, all at once or
            not at all (an existing file is replaced).
        top : int
            Size of the top-``top`` mean; the title shows its PMO AUC.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        ValueError
            ``path`` does not end in ``.png``.
        OSError
            The file cannot be written (no partial file is left).
        """
        meta = self.meta
        budget = self.budget
        auc = self.auc(top, budget)
        title = f"{self.name}: {meta.get('objective', '')} ({meta.get('sampler', '')}), AUC top-{top} {auc:.3f}"
        return plot_trace(self.trace(top), path, title=title, budget=budget, top=top)

    def summary(self, *, stopped: str | None = None, seconds: float = 0.0, timings: dict | None = None, calls_this_run: int = 0) -> CampaignSummary:
        """Summarize the campaign as stored in the ledger.

        Parameters
        ----------
        stopped : str, optional
            Why a run stopped early, copied into the summary.
        seconds : float
            Wall time of the run, in seconds (0 for a stored campaign).
        timings : dict of str to float, optional
            Seconds per stage of the run, copied.
        calls_this_run : int
            Oracle calls made by the run.

        Returns
        -------
        CampaignSummary
            ``calls_used`` is the replay's count of real calls (over all runs and
            processes); the best and top-10 figures come from real calls' scores
            (NaN and ``""`` when none); ``auc_top10`` is NaN when no budget is stored.
        """
        view = self.ledger.view()
        h = history_frame(view.trials.values(), view.replay.call_index)
        counts = {s: int((h["status"] == s).sum()) for s in STATUSES} if not h.empty else {}
        best = top_k(h, 10, self.direction)
        budget = self.budget
        meta = self.meta
        return CampaignSummary(
            name=self.name,
            storage=self.storage_url,
            objective=meta.get("objective", ""),
            direction=self.direction,
            sampler=self._sampler_label(meta),
            budget=budget,
            calls_used=view.calls_used,  # the replay's count: a late result's row is no second call
            trials=len(h),
            counts=counts,
            best_score=float(best["score"].iloc[0]) if len(best) else math.nan,
            best_smiles=str(best["smiles"].iloc[0]) if len(best) else "",
            top10_mean=float(best["score"].mean()) if len(best) else math.nan,
            auc_top10=pmo_auc(trace(h, self.direction), budget, self.direction) if budget else math.nan,
            stopped=stopped,
            seconds=seconds,
            timings=dict(timings or {}),
            calls_this_run=calls_this_run,
        )


@dataclass
class _Proposal:
    z: np.ndarray
    source: str
    design_index: int | None = None
    smiles: str = ""
    props: dict | None = None
    trial_id: int | None = None
    number: int | None = None
    started: bool = False  # its oracle call began
    result: object = None  # its Evaluation, once the oracle returned


class _Timer:
    """Seconds spent per stage of a run (``with timer("ledger"): ...``). A stage entered
    again inside itself (a ledger write inside a ledger block) is counted once, by its
    outermost block, so the stages never add up to more than the run's wall time."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._open: set[str] = set()

    @contextlib.contextmanager
    def __call__(self, key: str):
        if key in self._open:
            yield
            return
        self._open.add(key)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._open.discard(key)
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0


class Campaign(StoredCampaign):
    """A property-optimization campaign: Bayesian optimization in the latent space.

    Parameters
    ----------
    objective : str, mapping, callable or Objective
        See :mod:`molvae.campaign.objectives` (``"qed"``, ``"qed + 0.5*similarity:celecoxib"``,
        ``"pkg.mod:f"``, ``"path/f.py:f"``, a ``{term: weight}`` table, a Python callable).
    budget : int
        Oracle calls for the campaign (over all runs and processes). A re-run with a
        larger budget extends it, and every process working on the campaign follows the
        extension; a budget below the stored one is refused (:meth:`run` raises): the
        PMO AUC is normalized by the budget, and processes sharing a campaign share one
        budget.
    storage : str or optuna storage, optional
        Optuna storage URL; default ``sqlite:///NAME.db``; ``"memory"`` keeps nothing.
        The URL is checked here, but the storage is opened (a SQLite file and the study
        created) only when the campaign is first read or run: :meth:`run` opens it after
        its own checks (model, objective, start molecules), so a refused run leaves no
        empty study behind.
    sampler : {"bo", "tpe", "gp", "random"}
        ``bo`` trust-region GP BO (:class:`~molvae.campaign.sampler.LatentBOSampler`),
        optuna's ``tpe`` or ``gp`` on the latent coordinates, or ``random`` prior draws.
    name : str, optional
        Study name, not empty or blank; default (None) from objective, sampler and seed
        (``qed-bo-s0``).
    model : MolVAE or path, optional
        Default: the shipped model.
    batch_size : int
        Latent points proposed per round (one GP fit, one batched decode, one batch of
        oracle calls); at most :data:`MAX_BATCH_SIZE`.
    start : str or sequence of str
        Start molecules (SMILES or drug names), encoded into the initial design (with a
        similarity constraint, the rest of the design is drawn around them too); a
        single string is one molecule.
    start_smiles : mapping of str to str, optional
        The SMILES that entries of ``start`` resolve to (``start`` text -> SMILES, the
        first value :func:`molvae.drugs.resolve_molecule` returns), from a caller that
        already resolved them while checking them (``molvae optimize`` does for the rows
        of ``--start`` files): these are not resolved again. Entries not in it are
        resolved by :meth:`run`. Not stored: the campaign records ``start`` as given.
    seed : int, optional
        Same seed, same campaign (for one process starting from an empty ledger); 0 to
        :data:`MAX_SEED`; default 0 for a new campaign. A setting of the campaign, fixed
        when it is created (it draws the initial design and the start molecules'
        anchors): a resumed campaign keeps its stored seed when none is given, and
        another explicit seed is refused by :meth:`run`. A run that starts while other
        runs of the campaign are live (workers in other processes or on other hosts,
        sharing its storage; see :mod:`molvae.campaign.ledger`) draws its proposals from
        a stream of its own, spawned from the seed with its worker slot
        (:func:`worker_seed`), and leaves the points of the initial design still to do
        to its peers; which process gets which slot depends on which registered first,
        the streams themselves only on the seed, the ledger's size when the run started
        and the slot. A lone run, including one resuming a campaign that no other worker
        runs, is unchanged.
    constraints : Constraints, optional
    n_init : int, optional
        Prior draws in the initial design (default ``min(20, max(2, budget // 4))``,
        :func:`default_n_init`). A setting of the campaign, fixed when it is created: a
        resumed campaign keeps its initial design whatever its new budget (another
        explicit ``n_init`` is refused by :meth:`run`).
    acquisition : {"ts", "ei"}
        For ``bo``: Thompson sampling or expected improvement.
    bound : float
        Latent coordinates are searched in ``[-bound, bound]``.
    heartbeat_interval, grace_period : int
        Seconds (RDB storages; see :mod:`molvae.campaign.ledger`).
    patience : int, optional
        Stop after this many proposals in a row that lead to no oracle call (all cached,
        invalid or infeasible); default ``max(500, 50 * batch_size)``; >= 1.
    max_proposals : int, optional
        Stop once the ledger holds this many proposals in all (every run counted), when
        oracle calls come too rarely to reach the budget (a tight constraint);
        default ``max(20 * budget, patience)``; >= 1.
    fail_fast : int
        Stop with an error when the first ``fail_fast`` oracle calls of a run all fail (a
        broken objective); 0 disables. A run that ends with failed calls otherwise (fewer
        calls than ``fail_fast``, or only some failed) logs one warning with their number
        and the first reason.
    sampler_options : dict, optional
        Extra keyword arguments for :class:`~molvae.campaign.sampler.LatentBOSampler`.
    model_prior : bool
        For ``bo``: when the model can estimate every term of the objective on latent
        points (built-in ``qed``, ``logp``, ``sa``, ``penalized_logp`` through its
        property head, ``similarity:<molecule>`` through the latent distance to the
        molecule's anchor; see
        :meth:`~molvae.campaign.objectives.Objective.latent_estimate`), use the estimate
        as the GP's prior mean, and screen the initial design's prior draws with it, so
        the search starts from what the model knows instead of from a flat surrogate. No
        oracle call is spent on it.
    search_dims : {"active", "all"}
        Coordinates the samplers move (``bo``, ``tpe``, ``gp``): the model's active
        latent units (:func:`active_dimensions`; the others are set to 0, the prior
        mean) or all of them. Fixed when the campaign is created. ``random`` always
        draws from the full prior, and the initial design uses full prior draws.
    flags : dict, optional
        How the caller names the settings in the messages (``budget``, ``seed``,
        ``n_init``, ``name``, ``storage``, ``start``): the parameters' names by default;
        ``molvae optimize`` passes :data:`~molvae.campaign.errors.CLI_FLAGS`.

    Raises
    ------
    CampaignError, ObjectiveError
        Bad arguments (budget, batch_size, n_init, patience or max_proposals < 1,
        batch_size above :data:`MAX_BATCH_SIZE` or n_init above :data:`MAX_N_INIT`, a
        negative seed, unknown sampler, a name that is not a string of the allowed
        characters, constraints that are not a :class:`Constraints` ...), unusable
        objective.
    """

    def __init__(
        self,
        objective,
        budget: int,
        storage=None,
        sampler: str = "bo",
        *,
        name: str | None = None,
        model=None,
        batch_size: int = 10,
        start: Sequence[str] = (),
        start_smiles: Mapping[str, str] | None = None,
        seed: int | None = None,
        constraints: Constraints | None = None,
        n_init: int | None = None,
        acquisition: str = "ts",
        bound: float = 4.0,
        heartbeat_interval: int = 10,
        grace_period: int = 60,
        patience: int | None = None,
        max_proposals: int | None = None,
        fail_fast: int = 10,
        sampler_options: dict | None = None,
        search_dims: str = "active",
        model_prior: bool = True,
        flags: dict | None = None,
    ):
        self._flags = dict(flags or {})  # the CLI's names of the settings, for the messages (CLI_FLAGS)
        if not _positive_int(budget):
            raise CampaignError(f"budget must be a positive number of oracle calls, got {budget!r}")
        if not _positive_int(batch_size):
            raise CampaignError(f"batch size must be >= 1, got {batch_size!r}")
        if batch_size > MAX_BATCH_SIZE:  # a round's points are drawn and decoded at once
            raise CampaignError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
        if sampler not in SAMPLERS:
            raise CampaignError(f"unknown sampler {sampler!r}: use {', '.join(SAMPLERS)}")
        if acquisition not in ("ts", "ei"):
            raise CampaignError(f"unknown acquisition {acquisition!r}: use ts (Thompson sampling) or ei (expected improvement)")
        if search_dims not in ("active", "all"):
            raise CampaignError(f"search_dims must be 'active' or 'all', got {search_dims!r}")
        self.search_dims = search_dims
        for label, value in (("n_init", n_init), ("patience", patience), ("max_proposals", max_proposals)):
            if value is not None and not _positive_int(value):
                raise CampaignError(f"{label} must be a positive number of proposals, got {value!r}")
        if n_init is not None and n_init > MAX_N_INIT:  # 50 x n_init prior draws are screened at once
            raise CampaignError(f"n_init must be between 1 and {MAX_N_INIT}, got {n_init}")
        self._seed_given = seed is not None
        seed = 0 if seed is None else seed
        if not is_integer(seed) or seed < 0:
            raise CampaignError(f"seed must be an integer >= 0, got {seed!r}")
        if seed > MAX_SEED:  # numpy's legacy seeding (optuna's tpe and gp samplers) refuses more
            raise CampaignError(f"seed must be at most {MAX_SEED}, got {seed}")
        if not is_integer(fail_fast) or fail_fast < 0:
            raise CampaignError(f"fail_fast must be an integer >= 0 (0 disables it), got {fail_fast!r}")
        if isinstance(bound, bool) or not isinstance(bound, (int, float, np.number)) or not (0 < bound < math.inf):
            raise CampaignError(f"bound must be a positive finite number, got {bound!r}")
        for label, value in (("heartbeat_interval", heartbeat_interval), ("grace_period", grace_period)):
            if not _positive_int(value):
                raise CampaignError(f"{label} must be a positive number of seconds, got {value!r}")
        self._model_arg = model
        self._vae = None
        self.objective: Objective = parse_objective(objective, model_loader=self._model)
        self.budget_target = int(budget)
        self.sampler_name = sampler
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        if isinstance(start, str):  # one molecule: list('CCO') would start from C, C and O
            start = [start]
        self.start = [s for s in (start or ()) if str(s).strip()]
        self._start_smiles = dict(start_smiles or {})
        if constraints is not None and not isinstance(constraints, Constraints):  # a dict failed in run()
            raise CampaignError(f"constraints must be a Constraints (e.g. Constraints.create(max_sa=4)), got {type(constraints).__name__}")
        self.constraints = constraints or Constraints()
        # a setting of the campaign: stored when it is created, reused on resume (_check_meta)
        self._n_init_given = n_init is not None
        self.n_init = int(n_init) if n_init is not None else default_n_init(self.budget_target)
        self.acquisition = acquisition
        self.bound = float(bound)
        self.patience = int(patience) if patience is not None else max(500, 50 * self.batch_size)
        self.max_proposals = int(max_proposals) if max_proposals is not None else max(20 * self.budget_target, self.patience)
        self._default_max_proposals = max_proposals is None
        self.fail_fast = int(fail_fast)
        self.sampler_options = dict(sampler_options or {})
        self.model_prior = bool(model_prior)
        self._base: np.ndarray | None = None  # the point whose unsearched coordinates proposals share (set by _design)
        if name is not None and not isinstance(name, str):  # re.match's bare TypeError
            raise CampaignError(f"campaign name must be a string, got {type(name).__name__} {name!r}")
        if name is not None and not name.strip():  # "" fell back to the default name without a word
            raise CampaignError(f"the campaign name is empty (got {name!r}): give a name, or none for the default ({default_name(self.objective.spec, sampler, self.seed)})")
        name = default_name(self.objective.spec, sampler, self.seed) if name is None else name
        if not _NAME.match(name):
            raise CampaignError(f"campaign name {name!r} may hold letters, digits and _.+=- only (at most 120 characters)")
        self.name = name
        storage_arg = storage if storage is not None else default_storage_url(name)
        self.storage_url = storage_arg if isinstance(storage_arg, str) else type(storage_arg).__name__
        # the storage is checked now but opened (a SQLite file created) only when first
        # used: by run() once its checks have passed, so a refused run leaves nothing behind
        check_storage(storage_arg, flags=flags)
        self._storage_arg = storage_arg
        self._ledger: Ledger | None = None
        self.heartbeat_interval = int(heartbeat_interval)
        self.grace_period = int(grace_period)

    @property
    def ledger(self) -> Ledger:
        """The campaign's ledger; opening it creates the storage and the study if needed."""
        if self._ledger is None:
            st = open_storage(self._storage_arg, heartbeat_interval=self.heartbeat_interval, grace_period=self.grace_period, flags=self._flags)
            self._ledger = Ledger(st, self.name, direction=self.objective.direction)
        return self._ledger

    @property
    def opened(self) -> bool:
        """Whether the ledger was opened (the storage and the study may exist)."""
        return self._ledger is not None

    # -------------------------------------------------------------- set-up
    def _model(self):
        if self._vae is None:
            from molvae.vae import MolVAE

            self._vae = self._model_arg if isinstance(self._model_arg, MolVAE) else MolVAE.load(self._model_arg)
        return self._vae

    @property
    def budget(self) -> int:
        """This campaign's budget of oracle calls: the one given, raised to the stored one
        when another process extended it during :meth:`run`. Does not open the ledger."""
        return self.budget_target

    def _check_meta(self, vae) -> dict:
        meta = self.meta
        mine = {
            "version": 1,
            "objective": self.objective.spec,
            "direction": self.objective.direction,
            "d_z": vae.d_z,
            "bound": self.bound,
            "model": str(vae.path) if vae.path else None,
            "model_sha": _vae_sha(vae),
            "constraints": self.constraints.to_dict(),
            "objective_files": self._objective_files(),
            "sampler": self.sampler_name,
            "model_prior": self.model_prior,
            "seed": self.seed,
            "start": list(self.start),
            "n_init": self.n_init,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        created = False
        if not meta:
            dims = active_dimensions(vae) if self.search_dims == "active" else np.arange(vae.d_z)
            mine["search_dims"] = [int(i) for i in dims]
            # written only if absent: a process creating the same campaign at this moment
            # may have written its settings since they were read; then they are checked
            created, meta = self.ledger.add_attr(META, mine)
            meta = dict(meta or {})
        if not created:
            for key, what in (("objective", "objective"), ("constraints", "constraints"), ("d_z", "latent dimension"), ("bound", "latent bound")):
                if meta.get(key) != mine[key]:
                    raise CampaignError(f"campaign {self.name!r} exists with {what} {_show(meta.get(key))}, not {_show(mine[key])}: use another {flag('name', self._flags)} (or {flag('storage', self._flags)}) for a new campaign")
            if meta.get("start") is not None and list(meta["start"]) != mine["start"]:
                # the design's points are numbered and a resumed run skips the numbers done:
                # other start molecules would silently never be proposed
                raise CampaignError(
                    f"campaign {self.name!r} was started from {_molecules(meta['start'])}, not {_molecules(mine['start'])}: "
                    f"give the same {flag('start', self._flags)} to continue it, or use another {flag('name', self._flags)} (or {flag('storage', self._flags)}) for a new campaign"
                )
            if meta.get("model_sha") and mine["model_sha"] and meta["model_sha"] != mine["model_sha"]:
                raise CampaignError(f"campaign {self.name!r} was run with another model file ({meta.get('model')}, sha {meta['model_sha']}); its latent points mean other molecules with this one: use another {flag('name', self._flags)}")
            for path, sha in mine["objective_files"].items():
                old = (meta.get("objective_files") or {}).get(path)
                if old and sha != old:
                    now = f"sha {sha}" if sha else "missing"
                    raise CampaignError(
                        f"campaign {self.name!r} was scored with another predictor file {path} (sha {old}; now {now}): "
                        f"its stored scores would not compare with new ones; restore that file, or use another {flag('name', self._flags)} for a new campaign"
                    )
            self._resume_n_init(meta)
            self._resume_seed(meta)
            if meta.get("sampler") != self.sampler_name:
                log.info("campaign %s continues with sampler %s (it started with %s)", self.name, self.sampler_name, meta.get("sampler"))
            if meta.get("model_prior", self.model_prior) != self.model_prior:
                log.info("campaign %s continues with model_prior=%s (it started with %s)", self.name, self.model_prior, meta.get("model_prior"))
        self._register_budget()
        return meta

    def _sampler_label(self, meta: dict) -> str:
        """This campaign's sampler, and the stored one when a resumed run changed it: the
        summary of a run with ``sampler="tpe"`` on a campaign started with ``random``
        named ``random``."""
        stored = meta.get("sampler")
        return self.sampler_name if stored in (None, self.sampler_name) else f"{self.sampler_name} (started with {stored})"

    def _table_columns(self) -> dict:
        """As :meth:`StoredCampaign._table_columns`, from this campaign's own objective and constraints."""
        return {"terms": [t.name for _, t in self.objective.terms], "similarity": bool(self.constraints.min_similarity)}

    def _resume_n_init(self, meta: dict) -> None:
        """Take the stored ``n_init`` of a resumed campaign (the budget of this run would
        give another default, and another initial design); refuse another explicit one.
        Ledgers of older versions stored none: the default for the budget the campaign
        was created with (the smallest registered: a budget only grows), unless given."""
        stored = meta.get("n_init")
        if stored is None:
            if not self._n_init_given:
                first = self.ledger.first_budget()
                self.n_init = default_n_init(first) if first else self.n_init
            return
        if self._n_init_given and int(stored) != self.n_init:
            raise CampaignError(
                f"campaign {self.name!r} was created with n_init {stored} (prior draws in its initial design), not {self.n_init}: "
                f"leave {flag('n_init', self._flags)} out (or give {given('n_init', int(stored), self._flags)}) to continue it, or use another {flag('name', self._flags)} (or {flag('storage', self._flags)}) for a new campaign"
            )
        if int(stored) != self.n_init:
            log.debug("campaign %s keeps its initial design of %s prior draws (n_init)", self.name, stored)
        self.n_init = int(stored)

    def _resume_seed(self, meta: dict) -> None:
        """Take the stored seed of a resumed campaign when none was given: it drew the
        initial design, and a resumed run goes on with the design's points not done yet.
        Refuse another explicit one (it was used without a word, drawing the rest of the
        design from another seed, while the campaign still recorded the first)."""
        stored = meta.get("seed")
        if stored is None or int(stored) == self.seed:
            return
        if self._seed_given:
            raise CampaignError(
                f"campaign {self.name!r} was created with seed {stored}, not {self.seed}: "
                f"leave {flag('seed', self._flags)} out (or give {given('seed', int(stored), self._flags)}) to continue it, or use another {flag('name', self._flags)} (or {flag('storage', self._flags)}) for a new campaign"
            )
        log.debug("campaign %s keeps the seed it was created with (%s)", self.name, stored)
        self.seed = int(stored)

    def _register_budget(self) -> None:
        """Check this run's budget against the stored one and register it.

        The budget is a setting of the campaign, as its objective is: a run may extend it
        (every process on the campaign then follows, see :meth:`run`), but not lower it,
        since the PMO AUC is normalized by it and a campaign shared by processes has one
        budget. Registering is a write that cannot lower it (:meth:`Ledger.raise_budget`):
        two processes starting at once with different budgets both end with the larger.
        """
        stored = self.ledger.budget()
        used = self.ledger.view().calls_used
        floor = max(stored, used)
        if self.budget_target < floor:
            raise CampaignError(
                f"campaign {self.name!r} has a budget of {floor} oracle calls ({used} made), not {self.budget_target}: "
                f"give {given('budget', floor, self._flags)} to continue it, or a larger one to extend it (a budget is never lowered)"
            )
        if stored and self.budget_target > stored:
            log.info("campaign %s: budget extended from %d to %d oracle calls", self.name, stored, self.budget_target)
        if self.budget_target > stored:
            self.ledger.raise_budget(self.budget_target)

    def _follow_budget(self) -> None:
        """Take up an extension of the budget registered by another process."""
        stored = self.ledger.budget()
        if stored > self.budget_target:
            log.info("campaign %s: budget extended to %d oracle calls by another process", self.name, stored)
            self.budget_target = stored
            if self._default_max_proposals:
                self.max_proposals = max(20 * self.budget_target, self.patience)

    def _objective_files(self) -> dict:
        """SHA-256 prefixes of the files the objective reads (predictors), by path."""
        return {t.path: _model_sha(t.path) for _, t in self.objective.terms if t.path}

    def _start_points(self, vae) -> list[tuple[str, np.ndarray]]:
        """The start molecules' SMILES and posterior standard deviations (see
        :meth:`_design`, which finds their latent points with the campaign's seed, stored
        or given): the checks of the start molecules, made before the ledger is opened.

        Raises
        ------
        CampaignError
            A start molecule that is neither a drug name nor a SMILES, or cannot be encoded.
        """
        from molvae.drugs import UnknownDrugError, resolve_molecule

        out = []
        for text in self.start:
            smiles = self._start_smiles.get(text)
            if smiles is None:  # not resolved by the caller
                try:
                    smiles, _ = resolve_molecule(text)
                except UnknownDrugError as exc:
                    raise CampaignError(f"start molecule {exc}") from None
            mu, logvar, errors = vae.try_encode([smiles], return_logvar=True)
            if errors:
                raise CampaignError(f"start molecule {text!r} cannot be encoded: {errors[0].reason}")
            out.append((smiles, np.exp(0.5 * logvar[0].astype(float))))
        return out

    def _design(self, vae, starts: list[tuple[str, np.ndarray]], estimate: Callable[[np.ndarray], np.ndarray] | None = None) -> list[_Proposal]:
        """The initial design: the start molecules' anchors, then ``n_init`` draws.

        A start molecule's point is its :func:`molvae.interpolation.anchor`: the
        posterior mean, or, when that does not decode back to the molecule, a posterior
        sample or a latent-inversion point that does (failing both, the closest decoding
        found). The draws come from the prior N(0, I), except in lead optimization
        (start molecules and a similarity constraint), where prior molecules are almost
        never similar enough: there they are draws ``z + 0.5 * sigma * eps`` around the
        start molecules' points (round robin; sigma the posterior standard deviation),
        like LOLBO's local samples; and the coordinates that the samplers do not search
        (``search_dims``) stay at the first start molecule's point, not at 0. The ``bo``
        sampler then draws no candidates from the prior either (``explore=0``; a
        ``sampler_options`` value overrides it).

        With ``estimate`` (the model's estimate of the objective, see
        ``model_prior``), the prior draws are the best ``n_init`` of ``SCREEN * n_init``
        prior draws by that estimate: a screen that costs no oracle call. ``starts``:
        :meth:`_start_points`.
        """
        from molvae.interpolation import anchor

        points = [anchor(vae, smiles, seed=self.seed)[0].astype(float) for smiles, _ in starts]
        sds = [sd for _, sd in starts]
        out = [_Proposal(np.clip(p, -self.bound, self.bound), "start", i) for i, p in enumerate(points)]
        self._base = np.zeros(vae.d_z)
        if points and self._lead_optimization():
            # lead optimization: the coordinates the samplers do not move stay at the
            # first start molecule's point instead of the prior mean
            self._base = np.clip(points[0], -self.bound, self.bound)
            rng = np.random.default_rng([self.seed, 7])
            for j in range(self.n_init):
                k = j % len(points)
                z = points[k] + 0.5 * sds[k] * rng.standard_normal(vae.d_z)
                out.append(_Proposal(np.clip(z, -self.bound, self.bound), "start", len(self.start) + j))
            return out
        if estimate is None:
            prior = vae.sample_latent(self.n_init, seed=self.seed)
        else:
            pool = vae.sample_latent(SCREEN * self.n_init, seed=self.seed)
            sign = 1.0 if self.objective.direction == "maximize" else -1.0
            score = sign * np.asarray(estimate(pool), dtype=float)
            prior = pool[np.sort(np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")[: self.n_init])]
        for j, z in enumerate(prior):
            out.append(_Proposal(np.clip(z.astype(float), -self.bound, self.bound), "prior", len(self.start) + j))
        return out

    def _lead_optimization(self) -> bool:
        """Start molecules and a similarity constraint: search near the start molecules."""
        return bool(self.start) and self.constraints.min_similarity is not None

    # -------------------------------------------------------------- running
    def run(self, progress: Callable[[dict], None] | None = None) -> CampaignSummary:
        """Run (or continue) the campaign until the budget of oracle calls is used.

        Parameters
        ----------
        progress : callable, optional
            Called after each round with a dict: ``calls``, ``budget``, ``trials``,
            ``best_score``, ``best_smiles``.

        Returns
        -------
        CampaignSummary

        Raises
        ------
        CampaignError
            Resume mismatch (objective, constraints, model, predictor file, start
            molecules, an explicit n_init or seed other than the stored one), a budget
            below the stored one, a start molecule that cannot be encoded,
            or an objective that failed on every one of the first ``fail_fast`` calls.
        """
        t_start = time.perf_counter()
        timer = _Timer()
        with timer("setup"):  # the model, the start molecules' anchors, the design's screen: tens of seconds untold
            vae = self._model()
            self.objective.prepare(vae)
            estimate = self.objective.latent_estimate(vae) if self.model_prior and self.sampler_name == "bo" else None
            # the start molecules first: one that cannot be used is refused before the ledger is
            # opened and the campaign's settings are stored (they would refuse the corrected command);
            # the design after, with the campaign's stored n_init and seed
            starts = self._start_points(vae)
            meta = self._check_meta(vae)
            design = self._design(vae, starts, estimate)
        if estimate is not None:
            log.info("campaign %s: the model's estimate of %s screens the initial design and is the GP's prior mean", self.name, self.objective.spec)
        elif self.model_prior and self.sampler_name == "bo":  # said nowhere: the GP started flat
            log.info(
                "campaign %s: the model cannot estimate %s (a model with a property head estimates qed, logp, sa and penalized_logp; any model, similarity:MOL), "
                "so there is no model prior: the initial design is unscreened and the GP's prior mean is flat",
                self.name, self.objective.spec,
            )  # fmt: skip
        dims = list(range(vae.d_z)) if self.sampler_name == "random" else list(meta.get("search_dims") or range(vae.d_z))
        names = [f"z{i}" for i in dims]
        space = {n: FloatDistribution(-self.bound, self.bound) for n in names}
        # registered before the ledger is read: of two runs starting at once, the one that
        # registers second finds the first live and draws from its own stream
        worker = self.ledger.register_worker()
        with contextlib.ExitStack() as cleanup:  # the worker ends, and the rest is undone, however the run ends
            cleanup.callback(self.ledger.end_worker, worker)
            view = self.ledger.view()
            self.ledger.recover(view)
            n_at_start = len(view.trials)
            sampler_seed = self.seed if n_at_start == 0 else (self.seed * 1_000_003 + n_at_start) % (2**31)
            if worker.peers:
                sampler_seed = worker_seed(sampler_seed, worker.slot)
                log.info(
                    "campaign %s: %d other worker%s live on it; this run is worker %d and draws its proposals from its own stream",
                    self.name, len(worker.peers), "s are" if len(worker.peers) > 1 else " is", worker.slot,
                )  # fmt: skip
            shadow, verbosity = self._shadow(sampler_seed, dims, names, estimate, vae.d_z)
            cleanup.callback(optuna.logging.set_verbosity, verbosity)
            mirrored: set[int] = set()
            heart = HeartbeatThread(self.ledger, self.heartbeat_interval, worker)
            cleanup.callback(heart.stop)
            state = dict(idle=0, calls=0, failures=0, first_reason=None, round=0)
            stopped = None
            while True:
                with timer("ledger"):
                    self._follow_budget()
                    view = self.ledger.view()
                    if self.ledger.recover(view):
                        view = self.ledger.view()
                if progress is not None:
                    progress(self._progress_info(view))
                if view.calls_used >= self.budget_target:
                    break
                if state["idle"] >= self.patience:
                    stopped = f"{state['idle']} proposals in a row gave no new molecule to score (all cached, invalid or infeasible)"
                    break
                if len(view.trials) >= self.max_proposals:
                    stopped = f"{len(view.trials)} proposals gave {view.calls_used} oracle calls (max_proposals {self.max_proposals}); the rest were cached, invalid or infeasible"
                    break
                done_design = {t.user_attrs.get("design_index") for t in view.trials.values()}
                # a worker with live peers leaves the initial design to them: two workers
                # reading the ledger at once would both take its next points
                pending = [p for p in design if p.design_index not in done_design]
                if pending and not worker.peers:
                    props = pending[: self.batch_size]
                else:
                    with timer("sampler"):
                        self._mirror(shadow, view, mirrored, dims, space)
                        props = self._ask(shadow, space, dims, vae.d_z)
                # no round goes past max_proposals (it was checked only between rounds)
                props = props[: self.max_proposals - len(view.trials)]
                self._round(props, view, timer, heart, state)
                if self.fail_fast and state["calls"] >= self.fail_fast and state["failures"] == state["calls"] and not state.get("checked"):
                    raise CampaignError(
                        f"the objective failed on each of the first {state['calls']} oracle calls of this run ({state['first_reason']}); "
                        "the calls are recorded; fix the objective and re-run"
                    )
                if state["calls"] >= self.fail_fast:
                    state["checked"] = True
        if state["failures"]:  # fewer than fail_fast calls, or not all failed: said nowhere else
            log.warning(
                "campaign %s: %d of the %d oracle calls of this run failed (the first: %s); a failed call scores NaN and counts against the budget",
                self.name, state["failures"], state["calls"], state["first_reason"],
            )  # fmt: skip
        view = self.ledger.view()
        if progress is not None:
            progress(self._progress_info(view))
        return self.summary(stopped=stopped, seconds=time.perf_counter() - t_start, timings=timer.seconds, calls_this_run=state["calls"])

    def _shadow(self, seed: int, dims: list[int], names: list[str], estimate, d_z: int) -> tuple[optuna.Study, int]:
        """The sampler's in-memory study (ledger trials are mirrored into it, see
        :meth:`_mirror`), its sampler seeded with ``seed``; and optuna's logging verbosity
        before it was lowered to ERROR for the run (to restore when the run ends)."""
        opts = dict(self.sampler_options)
        if self.sampler_name == "bo":
            opts.setdefault("n_init", 1)
            if self._lead_optimization():
                # every candidate in the boxes around similar molecules: a prior draw is
                # almost never similar enough, yet its wide objective posterior wins the
                # acquisition whenever its sampled constraint happens to pass
                opts.setdefault("explore", 0.0)
            if estimate is not None:
                opts.setdefault("prior_mean", self._subspace(estimate, dims, d_z))
        opts["names"] = names
        sampler = make_sampler(self.sampler_name, len(dims), bound=self.bound, batch_size=self.batch_size, seed=seed, acquisition=self.acquisition, **(opts if self.sampler_name in ("bo", "random") else {}))
        verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        return optuna.create_study(direction=self.objective.direction, sampler=sampler), verbosity

    def _subspace(self, f: Callable[[np.ndarray], np.ndarray], dims: list[int], d_z: int) -> Callable[[np.ndarray], np.ndarray]:
        """``f`` on full latent points, as a function of the searched coordinates only
        (the others at the base point, as in :meth:`_ask`)."""
        return lambda X: f(self._full(X, dims, d_z))

    def _full(self, X: np.ndarray, dims: list[int], d_z: int) -> np.ndarray:
        """Full latent points, shape (n, d_z), from values ``X`` (n, len(dims)) of the
        searched coordinates; the others are the base point's (see :meth:`_design`)."""
        z = np.repeat((self._base if self._base is not None else np.zeros(d_z))[None, :], len(X), axis=0).astype(float)
        z[:, dims] = X
        return z

    def _progress_info(self, view: LedgerView) -> dict:
        sign = 1.0 if self.objective.direction == "maximize" else -1.0
        best, best_smiles = math.nan, ""
        for t in view.answer.values():
            if t.state == TrialState.COMPLETE and t.value is not None and (math.isnan(best) or sign * t.value > sign * best):
                best, best_smiles = t.value, t.user_attrs.get("smiles", "")
        return {"calls": view.calls_used, "budget": self.budget_target, "trials": len(view.trials), "best_score": best, "best_smiles": best_smiles}

    def _mirror(self, shadow: optuna.Study, view: LedgerView, mirrored: set[int], dims: list[int], space: dict) -> None:
        """Copy finished ledger trials into the sampler's in-memory study (searched coordinates of ``z`` -> parameters)."""
        new = []
        for n in sorted(view.trials):
            t = view.trials[n]
            z = t.user_attrs.get("z")
            if n in mirrored or not t.state.is_finished() or z is None or len(z) <= max(dims):
                continue
            keep = {k: t.user_attrs.get(k) for k in ("status", "source", "batch", "smiles", "constraint") if k in t.user_attrs}
            new.append(
                optuna.trial.create_trial(
                    state=t.state,
                    value=t.value if t.state == TrialState.COMPLETE else None,
                    params={f"z{i}": float(np.clip(z[i], -self.bound, self.bound)) for i in dims},
                    distributions=space,
                    user_attrs=keep,
                )
            )
            mirrored.add(n)
        if new:
            shadow.add_trials(new)

    def _ask(self, shadow: optuna.Study, space: dict, dims: list[int], d_z: int) -> list[_Proposal]:
        asked = [shadow.ask(fixed_distributions=space) for _ in range(self.batch_size)]
        X = np.array([[t.params[f"z{i}"] for i in dims] for t in asked])
        out = [_Proposal(z, self.sampler_name) for z in self._full(X, dims, d_z)]
        for t in asked:  # keep the shadow clean: proposals re-enter as mirrored ledger trials
            t.set_user_attr("status", "dropped")
            shadow.tell(t, state=TrialState.FAIL)
        return out

    def _round(self, proposals: list[_Proposal], view: LedgerView, timer: _Timer, heart: HeartbeatThread, state: dict) -> None:
        from molvae.chem import properties

        vae = self._model()
        state["round"] += 1
        batch = f"{self.ledger.me.host}:{self.ledger.me.pid}:{time.time_ns()}"
        with timer("decode"):
            smiles = vae.decode(np.stack([p.z for p in proposals]))
        records, to_claim, siblings = [], [], []
        claimed_smiles = set()
        with timer("rdkit"):
            for p, s in zip(proposals, smiles):
                p.smiles = s
                base = {"smiles": s, "source": p.source, "batch": batch}
                if p.design_index is not None:
                    base["design_index"] = p.design_index
                if not s:
                    records.append((p, {**base, "status": "invalid", "reason": "the latent point decodes to no valid molecule"}, None))
                    continue
                p.props = properties(s)
                base["props"] = dict(p.props)
                if self.constraints.min_similarity is not None:
                    base["props"]["similarity_to_reference"] = self.constraints.similarity(s)
                if self.constraints.active:
                    base["constraint"] = self.constraints.slack(s, p.props)
                reason = self.constraints.check(s, p.props)
                if reason is not None:
                    records.append((p, {**base, "status": "infeasible", "reason": reason}, None))
                elif s in view.answer:
                    records.append(self._cached(p, base, view.answer[s]))
                elif s in view.inflight:
                    records.append((p, {**base, "status": "duplicate", "reason": f"being scored by trial {view.inflight[s]}"}, None))
                elif s in claimed_smiles:
                    siblings.append((p, base))
                else:
                    claimed_smiles.add(s)
                    to_claim.append((p, base, view.interrupted.get(s, [])))
        room = self.budget_target - view.calls_used
        dropped = {p.smiles for p, _, _ in to_claim[room:]}
        to_claim = to_claim[: max(room, 0)]
        siblings = [(p, b) for p, b in siblings if p.smiles not in dropped]
        with timer("ledger"):
            for p, attrs, value in records:
                p.number = self.ledger.add(p.z, attrs, value=value)
        claims: list[tuple[_Proposal, dict]] = []
        real: list[tuple[_Proposal, dict, int]] = []
        rep = view.replay
        try:
            with timer("ledger"):
                for p, attrs, retry_of in to_claim:
                    p.trial_id, p.number = self.ledger.claim(p.z, attrs, self.budget_target, retry_of)
                    heart.add(p.trial_id)
                    claims.append((p, attrs))
            if claims:
                with timer("ledger"):
                    rep = self.ledger.view().replay
                for p, attrs in claims:
                    if p.number in rep.call_index:
                        real.append((p, attrs, rep.call_index[p.number]))
                    elif p.number in rep.over_budget:
                        self._finish(p, {"status": "over_budget", "reason": "the budget was used up by other calls when this claim was judged"}, None, heart, timer, started=False)
                    else:
                        siblings.append((p, attrs))
            if real:
                if self.objective.batched:  # one call scores the whole batch
                    real = [r for r in real if self._start_call(r[0], heart, timer)]
                    if real:
                        with timer("oracle"):
                            evals = self.objective.evaluate([p.smiles for p, _, _ in real], [p.props for p, _, _ in real])
                        for (p, _, _), ev in zip(real, evals):
                            p.result = ev
                        for p, attrs, index in real:
                            self._record(p, attrs, index, state, heart, timer)
                else:  # one molecule at a time: Ctrl-C keeps the calls that returned
                    for p, attrs, index in real:
                        if not self._start_call(p, heart, timer):
                            continue
                        with timer("oracle"):
                            p.result = self.objective.evaluate([p.smiles], [p.props])[0]
                        self._record(p, attrs, index, state, heart, timer)
        except BaseException as exc:  # Ctrl-C or a crash: keep what returned, release what never started
            why = type(exc).__name__
            rep = self.ledger.view().replay if claims else rep
            for p, attrs in claims:
                if p.trial_id is None:
                    continue
                if p.number in rep.call_index:
                    if p.result is not None:  # the oracle returned: record its result
                        self._record(p, attrs, rep.call_index[p.number], state, heart, timer)
                        continue
                    if p.started:
                        self.ledger.interrupt(p.trial_id, f"interrupted ({why}) during the oracle call; the call counts, its result is lost", rep.call_index[p.number])
                    else:
                        self.ledger.cancel(p.trial_id, f"run stopped ({why}) before this oracle call started; it does not count")
                else:  # a claim that was not a call (duplicate) and was not finished yet
                    self.ledger.settle(p.trial_id, {"status": "duplicate", "reason": f"run stopped ({why})"}, None)
                heart.discard(p.trial_id)
                p.trial_id = None
            raise
        if siblings:  # same molecule twice in the batch, or a claim that duplicated another process's
            with timer("ledger"):
                fresh = self.ledger.view()
                for p, base in siblings:
                    if p.smiles in fresh.answer:
                        _, attrs, value = self._cached(p, base, fresh.answer[p.smiles])
                    else:
                        holder = fresh.inflight.get(p.smiles)
                        attrs, value = {**base, "status": "duplicate", "reason": f"being scored by trial {holder}" if holder is not None else "scored by a concurrent claim"}, None
                    if p.trial_id is not None:
                        keep = {k: v for k, v in attrs.items() if k in ("status", "reason", "cached_from", "terms")}
                        self._finish(p, keep, value, heart, timer, started=False)
                    else:
                        self.ledger.add(p.z, attrs, value=value)
        state["idle"] = 0 if real else state["idle"] + len(proposals)

    def _start_call(self, p: _Proposal, heart: HeartbeatThread, timer: _Timer) -> bool:
        """Mark ``p``'s claim ``calling`` right before its oracle call; False (and the claim
        dropped) when another process has settled it meanwhile, judging this one dead."""
        with timer("ledger"):
            ok = self.ledger.start_call(p.trial_id)
        if ok:
            p.started = True
            return True
        log.warning("trial %s was settled by another process before its oracle call started; the call is not made", p.number)
        self.ledger.release(p.trial_id)
        heart.discard(p.trial_id)
        p.trial_id = None
        return False

    def _record(self, p: _Proposal, attrs: dict, index: int, state: dict, heart: HeartbeatThread, timer: _Timer) -> None:
        """Write the result of ``p``'s oracle call (``p.result``) to its claim."""
        ev = p.result
        out = {"status": "scored" if ev.error is None else "failed", "oracle_call": index, "terms": ev.terms}
        if ev.error is not None:
            out["reason"] = ev.error
            state["failures"] += 1
            state["first_reason"] = state["first_reason"] or ev.error
        state["calls"] += 1
        if not self._finish(p, out, ev.score, heart, timer):
            log.warning("trial %s was judged interrupted while its oracle call ran; its result is recorded as a late result", p.number)
            with timer("ledger"):
                self.ledger.add(p.z, {**attrs, **out, "late_result_of": p.number}, value=ev.score)

    def _finish(self, p: _Proposal, attrs: dict, value, heart: HeartbeatThread, timer: _Timer, *, started: bool = True) -> bool:
        """Write ``p``'s claim's outcome; ``started=False`` for a claim whose call never
        started (taken first, see :meth:`Ledger.settle`)."""
        with timer("ledger"):
            ok = self.ledger.finish(p.trial_id, attrs, value) if started else self.ledger.settle(p.trial_id, attrs, value)
        heart.discard(p.trial_id)
        p.trial_id = None
        return ok

    @staticmethod
    def _cached(p: _Proposal, base: dict, answer: FrozenTrial):
        attrs = {**base, "status": "cached", "cached_from": answer.number}
        if answer.state == TrialState.COMPLETE:
            attrs["terms"] = answer.user_attrs.get("terms") or {}
            return p, attrs, answer.value
        attrs["reason"] = answer.user_attrs.get("reason") or "the objective failed for this molecule"
        return p, attrs, None



def _molecules(start) -> str:
    return ", ".join(map(repr, start)) if start else "no start molecules"


def _show(v) -> str:
    if isinstance(v, dict):
        return Constraints.from_dict(v).describe() if "min_similarity" in v else str(v)
    return repr(v)

