"""The campaign ledger: an optuna study with one trial per proposal, and exact oracle accounting.

Every latent point the campaign proposes becomes a trial. Its user attributes hold the
latent point ``z`` (a list of d_z floats: one database row, where d_z optuna parameters
would take d_z rows), the decoded canonical ``smiles``, its RDKit properties ``props``,
``source`` (``start``, ``prior`` or the sampler), ``batch``, and the ``status``; the score
is the trial value. The ``status`` says what happened:

==============  =========  ===========  ==================================================
status          state      oracle call  meaning
==============  =========  ===========  ==================================================
``claimed``     WAITING    no (yet)     a budget slot is held; the call has not started
                                        (transient)
``calling``     RUNNING    yes          the oracle is being called (transient)
``scored``      COMPLETE   yes          the oracle returned the score (the trial value)
``failed``      FAIL       yes          the objective raised or returned NaN (``reason``)
``interrupted`` FAIL       yes          the process died or was stopped during the call
``cancelled``   FAIL       no           claimed, but the run stopped (Ctrl-C, kill -9)
                                        before the oracle was called for it: the claim is
                                        released
``cached``      COMPLETE   no           molecule already scored: answered from the ledger
                or FAIL                 (``cached_from`` = trial of the real call)
``duplicate``   FAIL       no           the molecule is being scored by another trial now
``over_budget`` FAIL       no           lost the race for the last budget slot
``invalid``     FAIL       no           the latent point decodes to no molecule
``infeasible``  FAIL       no           a constraint is violated (``reason``)
==============  =========  ===========  ==================================================

Exactly-once accounting (crash safety and cooperating processes)
---------------------------------------------------------------
Before calling the oracle a process *claims* the call by creating a trial already holding
everything needed to judge it: state WAITING, status ``claimed``, the decoded ``smiles``
and a ``claim`` attribute with the campaign budget at that moment and the process
identity (host, pid, start time). Right before the call starts, the process *takes* the
claim: its state goes from WAITING to RUNNING by one compare-and-set on the trial row
(:func:`_take_waiting`), and its status becomes ``calling``. The state, not the status,
says whether a call started.
Optuna numbers trials atomically (the RDB storage locks the study row while it counts),
so claims are totally ordered and a claim sees every claim numbered before it. The
ledger is then *replayed* in trial-number order (:func:`replay`), a deterministic rule
that every process computes identically:

* a claim for a molecule that an earlier real call already covers is a ``duplicate``
  (unless that earlier call was known to be interrupted when the claim was made --
  ``retry_of``);
* otherwise, if fewer than ``budget`` real calls precede it, it is real call number
  ``k`` (``oracle_call``, 1-based);
* otherwise it is ``over_budget`` and the oracle is not called.

So two processes never call the oracle twice for one molecule, and the number of real
calls never exceeds the budget, whatever the interleaving. The result of a call is
written to its trial right after the call returns.

The ``oracle_call`` attribute stored with a result is the call's number as its process
computed it when claiming. A claim numbered before it that is later ``cancelled`` (its
process stopped or died before that call started) holds no slot, so the replay numbers
the calls after it lower: after a worker is stopped mid-run, two stored trials can show
the same ``oracle_call`` in the raw study (optuna-dashboard). The reports (the history,
``-o`` tables, ``campaign show``, the trace) take the number from the replay, where each
call has its own.

A ``kill -9`` leaves at most the batch's unfinished claims. On the next start (and before
every batch) unfinished claims whose process is dead -- same host and the pid gone (or
reused, or a zombie), or, for other hosts with an RDB storage, no heartbeat for
``grace_period`` seconds (optuna's heartbeat, recorded every ``heartbeat_interval``
seconds for each live claim) -- are settled: a claim whose call had started (RUNNING,
``calling``) is marked ``interrupted``, and one whose call had not (WAITING, ``claimed``)
is ``cancelled``, using no budget.

A silent heartbeat is not a dead process: a host may stall (a paused VM, a network
partition) and wake up. Judging a claim by reading its status and then writing
``cancelled`` left a window: the judge read ``claimed``, the stalled process woke up and
started its call, and the judge then cancelled a claim whose call had started, so a real
call used no budget. Now cancelling a claim also *takes* it from WAITING to RUNNING by the
same compare-and-set as starting its call, so exactly one of the two happens: either the
judge takes it (the woken process finds its claim taken and does not call the oracle) or
the call starts (the judge's take fails, and the claim is judged again as a call:
``interrupted`` if the heartbeat stays silent, counting against the budget). Claims
finished without a call for other reasons (``duplicate``, ``over_budget``) are taken the
same way. A woken process whose call was judged ``interrupted`` meanwhile records its
result as a late result (``late_result_of``); a finished call's state (COMPLETE, or FAIL
with status ``failed``) wins over a status that an interrupting process wrote at the same
moment. Claims of older molvae versions (RUNNING from the start) are judged by their
status as before. An interrupted call **counts against the budget** (the
oracle may have run, and for a docking job that cost is real), its result is lost, and
its molecule is not answered from the ledger: if it is proposed again it is scored again. Ctrl-C marks the in-flight claims interrupted in the
same way before the process exits. A claim of a live process is never touched: same-host
claims are judged by their pid, others by the heartbeat.

Ctrl-C in the middle of a batch: the calls that returned are recorded with their
results, the call in progress is ``interrupted`` (it counts), and the claims whose call
had not started yet are ``cancelled``: the replay skips them (as it skips claims finished
as ``duplicate``, ``cached`` or ``over_budget``: they were never calls), so they use no
budget and their molecules may be proposed and scored again.

Workers: several processes on one campaign
------------------------------------------
The accounting above keeps the oracle from being called twice for one molecule; it does
not keep two processes from *proposing* the same molecules. Every run of a campaign (a
*worker*) therefore registers itself when it starts (:meth:`Ledger.register_worker`): it
writes the study attribute ``worker:N`` for the first free ``N`` (its *slot*, from 0,
never reused) by the same first-writer-wins insert as :meth:`Ledger.add_attr`, so that
slots are totally ordered whatever the interleaving. The record holds the process
identity, a ``beat`` (wall-clock seconds, refreshed every ``heartbeat_interval`` seconds
while the run lasts) and ``done``, set when the run ends (normally, by an error or by
Ctrl-C). Its *peers* are the workers of lower slots that are live when it registers:
not ``done``, and, on the same host, a process that still runs (pid and start time, as
for claims); on another host, a ``beat`` at most ``grace_period`` seconds old (the hosts'
clocks must agree to within that). A worker without peers works alone (a campaign's only
worker, or one resuming its own stopped campaign) and behaves as it did before workers
were registered; a worker with peers leaves the initial design to them and draws its
proposals from a stream of its own (see :class:`molvae.campaign.campaign.Campaign`). Its
peers are judged once, when it registers.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from molvae.campaign.errors import CampaignError
from molvae.checks import flag, given

__all__ = ["Ledger", "Replay", "replay", "open_storage", "check_storage", "default_storage_url", "sqlite_path", "ProcessIdentity", "Worker"]

log = logging.getLogger(__name__)

#: Statuses that are oracle calls (when the replay says the claim is real).
CALL_STATUSES = ("calling", "scored", "failed", "interrupted")
#: Statuses of claims finished without an oracle call: the replay never counts them.
NOT_CALLED = ("cancelled", "duplicate", "cached", "over_budget")
#: Prefix of the study attributes that register budgets (see :meth:`Ledger.raise_budget`).
BUDGET_KEY = "budget>="

# trial ids of claims that this process is working on, per database (see _database_key); a
# RUNNING claim with this process's identity that is not in here belongs to a dead run (same pid).
_ACTIVE: set[tuple[object, int]] = set()
_ACTIVE_LOCK = threading.Lock()
# worker slots (see Ledger.register_worker) of the runs of this process that have not ended, per
# database: a registration with this process's identity that is not in here is a finished run's.
_WORKERS: set[tuple[object, int]] = set()
#: Prefix of the study attributes that register workers (see :meth:`Ledger.register_worker`).
WORKER_KEY = "worker:"


# ---------------------------------------------------------------------- storage
def default_storage_url(name: str) -> str:
    """``sqlite:///NAME.db`` in the current directory.

    Parameters
    ----------
    name : str
        Campaign (study) name.

    Returns
    -------
    str
    """
    return f"sqlite:///{name}.db"


def sqlite_path(url: str) -> Path | None:
    """The database file a SQLite storage URL names.

    Parameters
    ----------
    url : str
        A storage URL (already stripped), e.g. ``sqlite:///runs/campaign.db``.

    Returns
    -------
    Path or None
        The file, relative to the current directory unless the URL gives an absolute
        path (``sqlite:////abs/campaign.db``); None for a URL that is not
        ``sqlite:///...`` (another database, ``memory``) or that names no file
        (``sqlite:///``, ``sqlite:///:memory:``). Nothing is checked on disk. The URL is
        read by SQLAlchemy's ``make_url``, as optuna reads it: query parameters
        (``?timeout=30``) are not part of the file name, ``%20`` is a space, and a driver
        (``sqlite+pysqlite:///``) is allowed.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # not a URL ('memory')
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_storage(storage, *, heartbeat_interval: int = 10, grace_period: int = 60, create: bool = True, flags: dict | None = None) -> BaseStorage:
    """Open an optuna storage.

    Parameters
    ----------
    storage : str or BaseStorage
        An optuna RDB URL (``sqlite:///file.db``, ``postgresql://...``, ``mysql://...``),
        ``"memory"`` for an in-memory study (nothing persists), or a storage object.
    heartbeat_interval, grace_period : int
        Seconds; enable optuna's heartbeat on RDB storages (see the module docs).
    create : bool
        Allow creating a new SQLite file.
    flags : dict, optional
        How the caller names ``storage`` in the messages: ``storage`` by default; the
        CLI passes :data:`~molvae.campaign.errors.CLI_FLAGS` (``--storage``).

    Returns
    -------
    optuna.storages.BaseStorage
        ``storage`` itself when it is a storage object; an in-memory storage for
        ``"memory"``; else an RDB storage (with the heartbeat).

    Raises
    ------
    CampaignError
        Unparseable URL, a SQLite file in a missing directory, a SQLite URL naming a
        folder, an existing file that is not a SQLite database or holds tables but not
        optuna's, or (``create=False``) a SQLite file that does not exist or holds no
        optuna tables.
    """
    if isinstance(storage, BaseStorage):
        return storage
    url = check_storage(storage, create=create, flags=flags)
    if url is None:
        return optuna.storages.InMemoryStorage()
    path = sqlite_path(url)
    if path is not None:
        _sqlite_wal(path)
    engine_kwargs = {"connect_args": {"timeout": 120}} if path is not None else {}
    for attempt in range(6):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rdb = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
            break
        except Exception as exc:  # sqlalchemy ArgumentError, missing driver, connection refused ...
            text = " ".join(str(exc).split())
            # two processes creating the schema of a new database at once: the loser retries
            if attempt < 5 and any(m in text for m in ("already exists", "locked", "UNIQUE constraint failed")):
                time.sleep(0.2 * (attempt + 1))
                continue
            raise CampaignError(f"cannot open storage {url}: {text[:300]}") from None
    if path is not None:
        import sqlalchemy

        @sqlalchemy.event.listens_for(rdb.engine, "connect")
        def _pragmas(dbapi_conn, _record):  # pragma: no cover - runs inside sqlalchemy
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        rdb.engine.dispose()
    return optuna.storages.get_storage(rdb)


def check_storage(storage, *, create: bool = True, flags: dict | None = None) -> str | None:
    """Check a storage argument as :func:`open_storage` does, creating and opening nothing.

    Parameters
    ----------
    storage : str or BaseStorage
        See :func:`open_storage`.
    create : bool
        Allow a SQLite file that does not exist yet.
    flags : dict, optional
        As in :func:`open_storage`.

    Returns
    -------
    str or None
        The URL, stripped; None for a storage object or an in-memory storage.

    Raises
    ------
    CampaignError
        As :func:`open_storage` (a database server is not contacted: what only
        connecting shows is found by :func:`open_storage`); a SQLite URL naming a folder.
    """
    if isinstance(storage, BaseStorage):
        return None
    if not isinstance(storage, str) or not storage.strip():
        raise CampaignError(f"{flag('storage', flags)} must be an optuna storage URL such as sqlite:///campaign.db, got {storage!r}")
    url = storage.strip()
    if url in ("memory", ":memory:", "inmemory"):
        return None
    scheme = url.split(":", 1)[0]
    if "://" in url and scheme != scheme.lower():  # SQLAlchemy finds no dialect 'SQLITE'
        raise CampaignError(f"{given('storage', url, flags)}: write the URL's scheme in lower case ({scheme.lower()}://...)")
    path = sqlite_path(url)
    if path is None and url.lower().startswith("sqlite"):  # sqlite:///, sqlite://, sqlite:///:memory:
        raise CampaignError(f"{given('storage', url, flags)} names no file (an in-memory database keeps nothing, so the campaign could not be resumed): give sqlite:///campaign.db, or memory for a throwaway campaign")
    if path is not None:
        if not path.parent.exists() and str(path.parent) not in ("", "."):
            raise CampaignError(f"storage directory {path.parent} does not exist (from {given('storage', url, flags)})")
        if path.is_dir():  # SQLite's 'unable to open database file', or 'no campaign storage at'
            raise CampaignError(f"{given('storage', url, flags)} names a folder, {path}, not a database file: give sqlite:///{(path / 'campaign.db').as_posix()}")
        if not create:
            if not path.is_file():
                raise CampaignError(f"no campaign storage at {path} (give {flag('storage', flags)}{' ' if flag('storage', flags).startswith('-') else '='}URL)")
            _check_optuna_sqlite(path)
        elif path.is_file() and path.stat().st_size > 0:
            # a database of someone else's: optuna would write its schema into it
            _check_optuna_sqlite(path, allow_empty=True)
    elif "://" not in url:
        raise CampaignError(f"{flag('storage', flags)} must be an optuna storage URL such as sqlite:///{url}, got {url!r}")
    return url


def _check_optuna_sqlite(path: Path, allow_empty: bool = False) -> None:
    """Refuse a SQLite file that holds no optuna study tables, reading it only: opening it
    with optuna would write optuna's schema into someone else's database.

    Parameters
    ----------
    path : Path
        An existing SQLite file.
    allow_empty : bool
        Accept a database without any table, or with only some of optuna's (a new campaign
        may create its tables there, and another process may be creating them now).

    Raises
    ------
    CampaignError
        Not a SQLite database, or a database with tables but not optuna's.
    """
    import sqlite3

    try:
        # mode=rw (never create) and only a SELECT: nothing is written, and unlike a read-only
        # connection, closing it removes the -wal and -shm files of a WAL-mode database
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=120)
        try:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise CampaignError(f"cannot open SQLite storage {path}: {exc}") from None
    if allow_empty and all(_optuna_table(t) for t in tables):
        # none yet, or only optuna's: another process opening the same new campaign may be
        # creating the schema at this moment, one table after another
        return
    if not {"studies", "trials", "version_info"} <= tables:
        raise CampaignError(f"{path} is not an optuna campaign storage (it has no optuna tables)")


def _optuna_table(name: str) -> bool:
    """Whether a table name is one of optuna's RDB schema (``studies``, ``trial_values``,
    ``version_info``, ...; alembic's ``alembic_version`` after a schema upgrade)."""
    return name in ("studies", "trials", "version_info", "alembic_version") or name.startswith(("study_", "trial_"))


def _sqlite_wal(path: Path) -> None:
    """Put a SQLite file in WAL mode: readers never block the writer, commits are cheap."""
    import sqlite3

    for attempt in range(10):
        try:
            con = sqlite3.connect(str(path), timeout=120)
            try:
                con.execute("PRAGMA journal_mode=WAL")
            finally:
                con.close()
            return
        except sqlite3.OperationalError as exc:
            # switching the journal mode needs the file to itself: another process opening
            # the same new campaign at this moment makes it fail at once, not wait
            if "locked" in str(exc) and attempt < 9:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise CampaignError(f"cannot open SQLite storage {path}: {exc}") from None
        except sqlite3.Error as exc:
            raise CampaignError(f"cannot open SQLite storage {path}: {exc}") from None


def _database_key(storage: BaseStorage) -> object:
    """What identifies the database behind a storage object within this process: its URL
    for an RDB storage (several objects, say one per Campaign in threads, open one file),
    the object itself otherwise (an in-memory storage is its own database)."""
    backend = getattr(storage, "_backend", storage)  # optuna wraps RDB storages in a cache
    engine = getattr(backend, "engine", None)
    if engine is None:
        return ("object", id(storage))
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return ("sqlite", os.path.abspath(url.database))
    return ("url", url.render_as_string(hide_password=False))


def _take_waiting(storage: BaseStorage, trial_id: int) -> bool:
    """Compare-and-set a trial's state from WAITING to RUNNING; True if this call did it.

    Optuna's own ``set_trial_state_values(trial_id, RUNNING)`` is this operation (it is how
    optuna hands an enqueued trial to one worker), but its check and write are atomic only
    where ``SELECT ... FOR UPDATE`` locks the row (PostgreSQL, MySQL): SQLite ignores it and
    its Python driver opens the transaction only at the write, so two processes could both
    succeed. On an RDB storage the transition is therefore one conditional ``UPDATE`` on
    optuna's trial table (its ORM model), which every database applies atomically; other
    storages (in-memory: one process, under its lock) use optuna's method.

    Raises
    ------
    optuna.exceptions.UpdateFinishedTrialError
        The trial is finished.
    """
    backend = getattr(storage, "_backend", storage)  # optuna wraps RDB storages in a cache
    if not isinstance(backend, optuna.storages.RDBStorage):
        return bool(storage.set_trial_state_values(trial_id, TrialState.RUNNING))
    import sqlalchemy
    from optuna.storages._rdb import models

    table = models.TrialModel
    with backend.engine.begin() as conn:
        done = conn.execute(
            sqlalchemy.update(table)
            .where(table.trial_id == trial_id, table.state == TrialState.WAITING)
            .values(state=TrialState.RUNNING, datetime_start=datetime.now())
        ).rowcount
        if done == 1:
            return True
        state = conn.execute(sqlalchemy.select(table.state).where(table.trial_id == trial_id)).scalar_one_or_none()
    if state is not None and state.is_finished():
        raise optuna.exceptions.UpdateFinishedTrialError(f"trial {trial_id} is finished")
    return False


def _grace_seconds(storage) -> float:
    """Seconds of silence after which a claim or worker of another host counts as dead:
    the storage's ``grace_period``, else twice its ``heartbeat_interval`` (optuna's
    default), else 60 for a storage without heartbeats."""
    backend = getattr(storage, "_backend", storage)
    grace = getattr(backend, "grace_period", None)
    if grace is None:
        interval = getattr(backend, "heartbeat_interval", None)
        grace = 2 * interval if interval else 60
    return float(grace)


def _stale_trial_ids(storage: BaseStorage, study_id: int) -> set[int]:
    """Ids of the study's unfinished trials (WAITING or RUNNING) whose last optuna
    heartbeat is older than the storage's grace period.

    Optuna's ``_get_stale_trial_ids`` looks at RUNNING trials only, and a claim waits in
    WAITING until its call starts (the module docs); this is the same query over both
    states, against the database clock as optuna's."""
    backend = getattr(storage, "_backend", storage)
    if not isinstance(backend, optuna.storages.RDBStorage):
        return set(storage._get_stale_trial_ids(study_id))
    from datetime import timedelta

    import sqlalchemy
    from optuna.storages._rdb import models

    grace = _grace_seconds(backend)
    trial, beat = models.TrialModel, models.TrialHeartbeatModel
    with backend.engine.connect() as conn:
        now = conn.execute(sqlalchemy.select(sqlalchemy.func.now())).scalar()
        rows = conn.execute(
            sqlalchemy.select(trial.trial_id, beat.heartbeat)
            .join(beat, beat.trial_id == trial.trial_id)
            .where(trial.study_id == study_id, trial.state.in_([TrialState.WAITING, TrialState.RUNNING]))
        ).all()
    if isinstance(now, str):  # pragma: no cover - a driver that returns text
        now = datetime.fromisoformat(now)
    now = now.replace(tzinfo=None)
    return {tid for tid, hb in rows if hb is not None and now - hb.replace(tzinfo=None) > timedelta(seconds=grace)}


# ---------------------------------------------------------------------- processes
def _proc_start(pid: int) -> str | None:
    """Start time of a process (Linux ``/proc/PID/stat`` field 22), to detect pid reuse."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None


@dataclass(frozen=True)
class ProcessIdentity:
    """Who made a claim: host name, pid and the process start time."""

    host: str
    pid: int
    start: str | None

    @classmethod
    def current(cls) -> ProcessIdentity:
        """The identity of the calling process.

        Returns
        -------
        ProcessIdentity
            ``socket.gethostname()``, ``os.getpid()`` and the start time read from
            ``/proc/PID/stat`` (in clock ticks since boot, as a string; None where
            ``/proc`` is unavailable, e.g. not on Linux).
        """
        return cls(socket.gethostname(), os.getpid(), _proc_start(os.getpid()))

    def attrs(self) -> dict:
        """The identity as claim attributes: ``{"host": str, "pid": int, "pstart": str or None}``."""
        return {"host": self.host, "pid": self.pid, "pstart": self.start}


def _claim_dead(attrs: Mapping, me: ProcessIdentity, active: bool) -> bool | None:
    """Whether the process behind a claim is dead: True, False, or None (other host: unknown)."""
    host, pid, start = attrs.get("host"), attrs.get("pid"), attrs.get("pstart")
    if host != me.host or pid is None:
        return None
    if pid == me.pid and start == me.start:
        return not active
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    if _proc_state(int(pid)) in ("Z", "X"):
        return True
    now = _proc_start(int(pid))
    return start is not None and now is not None and now != start


@dataclass(frozen=True)
class Worker:
    """A run registered on a campaign (:meth:`Ledger.register_worker`).

    Attributes
    ----------
    slot : int
        Its registration number on the campaign: 0 for the first run ever, then 1, 2 ...
        in the order the registrations were written (never reused).
    peers : tuple of int
        Slots of the workers registered before it that were live when it registered
        (empty: it works alone).
    record : dict
        What was registered: ``host``, ``pid``, ``pstart``, ``beat``, ``done``.
    """

    slot: int
    peers: tuple[int, ...] = ()
    record: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """Its study attribute, ``worker:SLOT``."""
        return f"{WORKER_KEY}{self.slot}"


def _worker_slots(attrs: Mapping) -> dict[int, object]:
    """Registered workers in a study's attributes: slot -> record."""
    out = {}
    for k, v in attrs.items():
        if k.startswith(WORKER_KEY) and k[len(WORKER_KEY) :].isdigit():
            out[int(k[len(WORKER_KEY) :])] = v
    return out


# ---------------------------------------------------------------------- replay
@dataclass
class Replay:
    """Classification of the claims of a ledger (see the module docs).

    Attributes
    ----------
    calls : list of int
        Trial numbers of the real oracle calls, in call order.
    call_index : dict of int to int
        Trial number -> 1-based oracle-call index.
    duplicate_of : dict of int to int
        Claims that duplicate an earlier real call -> that call's trial number.
    over_budget : set of int
    """

    calls: list[int] = field(default_factory=list)
    call_index: dict[int, int] = field(default_factory=dict)
    duplicate_of: dict[int, int] = field(default_factory=dict)
    over_budget: set[int] = field(default_factory=set)

    @property
    def n_calls(self) -> int:
        """Number of real oracle calls in the replay (``len(calls)``), in flight or finished."""
        return len(self.calls)


def replay(trials: Iterable[FrozenTrial]) -> Replay:
    """Replay the claims in trial-number order (deterministic; see the module docs).

    Parameters
    ----------
    trials : iterable of FrozenTrial
        The study's trials, in any order.

    Returns
    -------
    Replay
        Real calls (``call_index``), duplicates and claims over budget.
    """
    out = Replay()
    real_by_smiles: dict[str, list[int]] = {}
    # a claim finished without a call (cancelled before its call started; or judged a
    # duplicate or over budget, as the replay would judge it again) holds no budget slot
    claims = sorted((t for t in trials if t.user_attrs.get("claim") and t.user_attrs.get("status") not in NOT_CALLED), key=lambda t: t.number)
    for t in claims:
        smiles = t.user_attrs.get("smiles")
        claim = t.user_attrs["claim"]
        excused = set(claim.get("retry_of") or ())
        earlier = [d for d in real_by_smiles.get(smiles, ()) if d not in excused]
        if earlier:
            out.duplicate_of[t.number] = earlier[0]
            continue
        budget = claim.get("budget")
        if budget is None or out.n_calls < int(budget):
            out.calls.append(t.number)
            out.call_index[t.number] = out.n_calls
            real_by_smiles.setdefault(smiles, []).append(t.number)
        else:
            out.over_budget.add(t.number)
    return out


@dataclass
class LedgerView:
    """A snapshot of the ledger for one round of proposals.

    Attributes
    ----------
    trials : dict of int to FrozenTrial
        By trial number.
    replay : Replay
    answer : dict of str to FrozenTrial
        Molecule -> the finished real call (or late result) that answers it.
    inflight : dict of str to int
        Molecule -> trial number of a RUNNING real call.
    interrupted : dict of str to list of int
        Molecule -> its interrupted real calls.
    running_calls : int
        Real calls still RUNNING.
    """

    trials: dict[int, FrozenTrial]
    replay: Replay
    answer: dict[str, FrozenTrial]
    inflight: dict[str, int]
    interrupted: dict[str, list[int]]
    running_calls: int

    @property
    def calls_used(self) -> int:
        """Oracle calls made or in flight (the budget counts these)."""
        return self.replay.n_calls


# ---------------------------------------------------------------------- ledger
class Ledger:
    """Read and write a campaign's study.

    Parameters
    ----------
    storage : BaseStorage
    study_name : str
    direction : {"maximize", "minimize"}, optional
        Creates the study when it does not exist (None: it must exist).

    Raises
    ------
    CampaignError
        No such study (``direction=None``), or a direction that differs from the stored one.
    """

    def __init__(self, storage: BaseStorage, study_name: str, direction: str | None = None):
        self.storage = storage
        self.name = study_name
        try:
            self.study = optuna.load_study(study_name=study_name, storage=storage)
        except KeyError:
            if direction is None:
                names = [s.study_name for s in storage.get_all_studies()]
                hint = f"; it holds {', '.join(names[:10])}" if names else ""
                raise CampaignError(f"no campaign named {study_name!r} in this storage{hint}") from None
            verbosity = optuna.logging.get_verbosity()
            optuna.logging.set_verbosity(optuna.logging.WARNING)
            try:
                self.study = optuna.create_study(study_name=study_name, storage=storage, direction=direction)
            except optuna.exceptions.DuplicatedStudyError:  # created by a cooperating process just now
                self.study = optuna.load_study(study_name=study_name, storage=storage)
            finally:
                optuna.logging.set_verbosity(verbosity)
        self.study_id = storage.get_study_id_from_name(study_name)
        self._db = _database_key(storage)
        if direction is not None and self.study.direction.name.lower() != direction:
            raise CampaignError(f"campaign {study_name!r} was created to {self.study.direction.name.lower()} its objective, not to {direction}")
        self.me = ProcessIdentity.current()
        self.heartbeat = optuna.storages._heartbeat.is_heartbeat_enabled(storage)

    # -------------------------------------------------------------- reading
    def trials(self) -> list[FrozenTrial]:
        """All trials of the study, in every state, read from the storage.

        Returns
        -------
        list of FrozenTrial
            Not deep-copied (``deepcopy=False``): callers must not modify them.
        """
        return self.storage.get_all_trials(self.study_id, deepcopy=False)

    def view(self) -> LedgerView:
        """Read the ledger and replay it (:func:`replay`) into a :class:`LedgerView`.

        Real calls that are not finished (WAITING or RUNNING) go to ``inflight``; finished
        ones that are COMPLETE or FAIL with status ``failed`` go to ``answer``; the rest
        (interrupted) go to ``interrupted``. Late results (``late_result_of``) with status
        ``scored`` or ``failed`` also answer their molecule when no real call does.
        ``running_calls`` counts the unfinished real calls, claimed ones included.

        Returns
        -------
        LedgerView
        """
        trials = {t.number: t for t in self.trials()}
        rep = replay(trials.values())
        answer: dict[str, FrozenTrial] = {}
        inflight: dict[str, int] = {}
        interrupted: dict[str, list[int]] = {}
        running = 0
        for n in rep.calls:
            t = trials[n]
            smiles = t.user_attrs.get("smiles")
            if not t.state.is_finished():  # WAITING (claimed) or RUNNING (calling)
                inflight.setdefault(smiles, n)
                running += 1
            elif t.state == TrialState.COMPLETE or (t.state == TrialState.FAIL and t.user_attrs.get("status") == "failed"):
                # by the state first: a worker that woke up and finished its call while
                # another process was marking it interrupted may leave the status "interrupted"
                answer.setdefault(smiles, t)
            else:
                interrupted.setdefault(smiles, []).append(n)
        for t in trials.values():  # results written after their claim was judged interrupted
            if t.user_attrs.get("late_result_of") is not None and t.user_attrs.get("status") in ("scored", "failed"):
                answer.setdefault(t.user_attrs.get("smiles"), t)
        return LedgerView(trials, rep, answer, inflight, interrupted, running)

    def attrs(self) -> dict:
        """The study's user attributes (campaign metadata, registered budgets), read from the storage.

        Returns
        -------
        dict of str to JSON value
        """
        return self.storage.get_study_user_attrs(self.study_id)

    def set_attr(self, key: str, value) -> None:
        """Write one user attribute of the study to the optuna storage (overwriting it).

        Parameters
        ----------
        key : str
            Attribute name.
        value : JSON-serializable
            Stored as is (no :func:`_jsonable` conversion); RDB storages serialize it
            with ``json.dumps``, so it must be JSON-serializable.

        Raises
        ------
        TypeError
            From an RDB storage, for a value that is not JSON-serializable.
        """
        self.storage.set_study_user_attr(self.study_id, key, value)

    def add_attr(self, key: str, value) -> tuple[bool, object]:
        """Write one user attribute of the study unless it exists: the first writer wins.

        :meth:`set_attr` overwrites, so two processes that both found the attribute
        missing and both wrote it left the last writer's value, and each went on with its
        own. Here the write is one ``INSERT`` on an RDB storage, which the unique
        (study, key) index of optuna's table makes fail for every writer but the first;
        other storages (in-memory: one process) write under a lock.

        Parameters
        ----------
        key : str
            Attribute name.
        value : JSON-serializable
            Stored as is (see :meth:`set_attr`).

        Returns
        -------
        tuple of (bool, JSON value)
            Whether this call wrote it, and the stored value (``value`` when it did).
        """
        import json

        backend = getattr(self.storage, "_backend", self.storage)  # optuna wraps RDB storages in a cache
        if isinstance(backend, optuna.storages.RDBStorage):
            import sqlalchemy
            from optuna.storages._rdb import models

            try:
                with backend.engine.begin() as conn:
                    conn.execute(sqlalchemy.insert(models.StudyUserAttributeModel).values(study_id=self.study_id, key=key, value_json=json.dumps(value)))
                return True, value
            except sqlalchemy.exc.IntegrityError:
                return False, self.attrs().get(key)
        with _ACTIVE_LOCK:
            stored = self.attrs()
            if key in stored:
                return False, stored[key]
            self.set_attr(key, value)
            return True, value

    def budget(self) -> int:
        """The campaign's budget of oracle calls: the largest one ever registered
        (:meth:`raise_budget`), 0 when none was.

        Returns
        -------
        int
        """
        attrs = self.attrs()
        values = [v for k, v in attrs.items() if k == "budget" or k.startswith(BUDGET_KEY)]  # "budget": ledgers of older versions
        return max((int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)), default=0)

    def first_budget(self) -> int:
        """The smallest budget ever registered (:meth:`raise_budget`): the one the campaign
        was created with, since a budget only grows; 0 when none was.

        Returns
        -------
        int
        """
        attrs = self.attrs()
        values = [v for k, v in attrs.items() if k == "budget" or k.startswith(BUDGET_KEY)]
        return min((int(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)), default=0)

    # -------------------------------------------------------------- workers
    def register_worker(self) -> Worker:
        """Register this run as a worker of the campaign and find its live peers.

        Writes the study attribute ``worker:N`` for the first ``N`` not taken (one insert
        that only the first writer wins, :meth:`add_attr`), then reads which workers of
        lower slots are live (see the module docs). Each call is a new worker, also in a
        process that runs the campaign twice; :meth:`end_worker` ends it.

        Returns
        -------
        Worker
            Its slot and its live peers.
        """
        slots = _worker_slots(self.attrs())
        slot = max(slots, default=-1) + 1
        record = {**self.me.attrs(), "beat": time.time(), "done": False}
        while True:
            wrote, _ = self.add_attr(f"{WORKER_KEY}{slot}", record)
            if wrote:
                break
            slot += 1  # another process registered at this moment: the next slot
        with _ACTIVE_LOCK:
            _WORKERS.add((self._db, slot))
        slots = _worker_slots(self.attrs())
        peers = tuple(sorted(j for j, rec in slots.items() if j < slot and self._worker_live(j, rec)))
        worker = Worker(slot, peers, record)
        if peers:
            log.debug("campaign %s: worker %d registered beside live worker%s %s", self.name, slot, "s" if len(peers) > 1 else "", ", ".join(map(str, peers)))
        return worker

    def beat_worker(self, worker: Worker) -> None:
        """Refresh a worker's ``beat`` (what workers on other hosts judge it live by).

        Parameters
        ----------
        worker : Worker
            A worker of this process that has not ended.

        Notes
        -----
        Best effort: a failed write is logged at debug level, never raised.
        """
        with _ACTIVE_LOCK:
            if (self._db, worker.slot) not in _WORKERS:
                return
        try:
            self.set_attr(worker.key, {**worker.record, "beat": time.time()})
        except Exception as exc:  # pragma: no cover - a beat is best effort
            log.debug("worker beat failed: %s", exc)

    def end_worker(self, worker: Worker) -> None:
        """Mark a worker ``done``: it no longer counts as a peer of workers that register later.

        Parameters
        ----------
        worker : Worker
            A worker of this process.

        Notes
        -----
        Best effort: a failed write is logged at debug level, never raised (a worker of
        this host is judged by its pid anyway).
        """
        with _ACTIVE_LOCK:
            _WORKERS.discard((self._db, worker.slot))
        try:
            self.set_attr(worker.key, {**worker.record, "beat": time.time(), "done": True})
        except Exception as exc:  # pragma: no cover - e.g. the storage went away during Ctrl-C
            log.debug("could not mark worker %d done: %s", worker.slot, exc)

    def _worker_live(self, slot: int, record) -> bool:
        """Whether a registered worker is live: not ``done``; on this host, its process
        runs (this process: the run has not ended); on another host, its ``beat`` is at
        most the storage's grace period old."""
        if not isinstance(record, Mapping) or record.get("done"):
            return False
        with _ACTIVE_LOCK:
            active = (self._db, slot) in _WORKERS
        dead = _claim_dead(record, self.me, active)
        if dead is not None:
            return not dead
        beat = record.get("beat")
        if not isinstance(beat, (int, float)) or isinstance(beat, bool):
            return False
        return time.time() - float(beat) <= _grace_seconds(self.storage)

    def raise_budget(self, budget: int) -> None:
        """Register ``budget``; the campaign's budget becomes the largest registered.

        Each value is its own study attribute (``budget>=N``), written once and never
        changed, so processes registering different budgets at the same moment cannot
        overwrite each other: the budget only grows, whatever the interleaving (one
        ``budget`` attribute rewritten by each run kept the last writer's value).

        Parameters
        ----------
        budget : int
            Oracle calls.
        """
        self.set_attr(f"{BUDGET_KEY}{int(budget)}", int(budget))

    # -------------------------------------------------------------- writing
    def _template(self, state: TrialState, attrs: Mapping, value: float | None = None) -> FrozenTrial:
        now = datetime.now()
        return FrozenTrial(
            number=-1,
            state=state,
            value=value,
            values=None,
            datetime_start=now,
            datetime_complete=now if state.is_finished() else None,
            params={},
            distributions={},
            user_attrs={k: _jsonable(v) for k, v in attrs.items()},
            system_attrs={},
            intermediate_values={},
            trial_id=-1,
        )

    def add(self, z: Sequence[float], attrs: Mapping, *, value: float | None = None) -> int:
        """Record a finished proposal that made no oracle call; returns its trial number.

        The latent point is stored as the user attribute ``z`` (a list of d_z floats), not
        as d_z optuna parameters: one row instead of d_z rows per trial.

        Parameters
        ----------
        z : sequence of float
            The latent point.
        attrs : mapping
            User attributes (``smiles``, ``status``, ``source`` ...).
        value : float, optional
            The score (a COMPLETE trial, e.g. ``cached``); None makes it FAIL.

        Returns
        -------
        int
            Trial number.
        """
        state = TrialState.COMPLETE if value is not None else TrialState.FAIL
        tid = self.storage.create_new_trial(self.study_id, template_trial=self._template(state, {"z": _latent(z), **attrs}, value))
        return self.storage.get_trial_number_from_id(tid)

    def claim(self, z: Sequence[float], attrs: Mapping, budget: int, retry_of: Sequence[int] = ()) -> tuple[int, int]:
        """Create a WAITING claim (status ``claimed``) for an oracle call; returns ``(trial_id, number)``.

        The claim attribute ``claim`` holds the budget, the process identity and
        ``retry_of`` (interrupted calls of the same molecule this claim may repeat).

        Parameters
        ----------
        z : sequence of float
            The latent point.
        attrs : mapping
            User attributes (``smiles``, ``props``, ``source`` ...).
        budget : int
            The campaign's budget when the claim is made.
        retry_of : sequence of int
            Trial numbers of interrupted calls of the same molecule.

        Returns
        -------
        tuple of (int, int)
            Optuna trial id and trial number.
        """
        claim = {"budget": int(budget), **self.me.attrs(), "retry_of": list(retry_of), "waits": True}
        attrs = {"z": _latent(z), **attrs, "status": "claimed", "claim": claim}
        with _ACTIVE_LOCK:
            tid = self.storage.create_new_trial(self.study_id, template_trial=self._template(TrialState.WAITING, attrs))
            _ACTIVE.add((self._db, tid))
        if self.heartbeat:
            try:
                self.storage.record_heartbeat(tid)
            except Exception as exc:  # pragma: no cover - a heartbeat is best effort
                log.debug("heartbeat failed: %s", exc)
        return tid, self.storage.get_trial_number_from_id(tid)

    def take(self, trial_id: int) -> bool:
        """Take a claim whose oracle call has not started: its state goes from WAITING to
        RUNNING by one compare-and-set (:func:`_take_waiting`). True for the one process
        that does it; False when the claim was taken (its call started, or another
        process is cancelling it) or finished already.

        Parameters
        ----------
        trial_id : int
            Optuna trial id.

        Returns
        -------
        bool
        """
        try:
            return _take_waiting(self.storage, trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            return False

    def start_call(self, trial_id: int) -> bool:
        """Take the claim (:meth:`take`) and mark it ``calling``: its oracle call starts now
        (see the module docs).

        Returns False when another process took or settled the claim first (judged its
        process dead and cancelled it): the call must then not be made. When True, the
        call counts against the budget whatever happens next.
        """
        if not self.take(trial_id):
            return False
        try:
            self.storage.set_trial_user_attr(trial_id, "status", "calling")
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # judged interrupted right after it was taken: the call counts; its result will be a late result
        return True

    def settle(self, trial_id: int, attrs: Mapping, value: float | None) -> bool:
        """Finish a claim whose oracle call never started (duplicate, over budget,
        cancelled): take it first (:meth:`take`), so that it cannot be finished while its
        call starts elsewhere. False when it was taken or finished by another process.

        Parameters
        ----------
        trial_id : int
            Optuna trial id.
        attrs : mapping
            Attributes to write (``status``, ``reason`` ...).
        value : float or None
            The trial value (COMPLETE), or None (FAIL).

        Returns
        -------
        bool
        """
        if not self.take(trial_id):
            self.release(trial_id)
            return False
        return self.finish(trial_id, attrs, value)

    def release(self, trial_id: int) -> None:
        """Forget that this process is working on a claim (drop it from the module's set
        of live claims), so that :meth:`recover` may judge it; writes nothing to the storage.

        Parameters
        ----------
        trial_id : int
            Optuna trial id (not the trial number).
        """
        with _ACTIVE_LOCK:
            _ACTIVE.discard((self._db, trial_id))

    def finish(self, trial_id: int, attrs: Mapping, value: float | None) -> bool:
        """Write a claim's outcome: attributes first, then the state.

        Returns False when another process had already finished the trial (judged it
        interrupted); the caller then records a late result.
        """
        try:
            for k, v in attrs.items():
                self.storage.set_trial_user_attr(trial_id, k, _jsonable(v))
            if value is not None:
                self.storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [value])
            else:
                self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
            return True
        except optuna.exceptions.UpdateFinishedTrialError:
            return False
        finally:
            self.release(trial_id)

    def record_heartbeats(self, trial_ids: Iterable[int]) -> None:
        """Record an optuna heartbeat in the storage for each trial (RDB storages with
        heartbeats enabled; a no-op otherwise).

        Parameters
        ----------
        trial_ids : iterable of int
            Optuna trial ids of live claims.

        Notes
        -----
        Best effort: a failing heartbeat is logged at debug level, never raised.
        """
        if not self.heartbeat:
            return
        for tid in list(trial_ids):
            try:
                self.storage.record_heartbeat(tid)
            except Exception as exc:  # pragma: no cover
                log.debug("heartbeat failed for trial %s: %s", tid, exc)

    def recover(self, view: LedgerView | None = None) -> list[int]:
        """Settle the unfinished claims of dead processes: ``interrupted`` where the oracle
        call had started, ``cancelled`` where it had not; returns their trial numbers.

        ``view`` may be older than the claims' states: a claim read as not started is
        cancelled only if this process takes it from WAITING (:meth:`settle`), which
        fails once its call has started; it is then judged again as a call next time.

        Parameters
        ----------
        view : LedgerView, optional
            A snapshot to judge (default: read the ledger now).

        Returns
        -------
        list of int
            Trial numbers marked ``interrupted``, then those ``cancelled``.
        """
        view = view or self.view()
        stale: set[int] = set()
        if self.heartbeat:
            try:
                stale = _stale_trial_ids(self.storage, self.study_id)
            except Exception as exc:  # pragma: no cover
                log.debug("stale-trial query failed: %s", exc)
        out: list[int] = []
        cancelled: list[int] = []
        for t in view.trials.values():
            if t.state.is_finished() or not t.user_attrs.get("claim"):
                continue
            with _ACTIVE_LOCK:
                active = (self._db, t._trial_id) in _ACTIVE
            dead = _claim_dead(t.user_attrs["claim"], self.me, active)
            if dead is None:
                dead = t._trial_id in stale
            if not dead:
                continue
            legacy_unstarted = not t.user_attrs["claim"].get("waits") and t.user_attrs.get("status") == "claimed"
            if t.state == TrialState.WAITING or legacy_unstarted:
                reason = "the process that claimed this oracle call stopped (killed or crashed) before the call started; it does not count"
                if self.cancel(t._trial_id, reason, started=legacy_unstarted):
                    cancelled.append(t.number)
                continue
            reason = "the process making this oracle call stopped before it returned (killed or crashed); the call counts, its result is lost"
            if self.interrupt(t._trial_id, reason, view.replay.call_index.get(t.number)):
                out.append(t.number)
        if out:
            log.warning("campaign %s: %d oracle call%s of a stopped process marked interrupted (trials %s)", self.name, len(out), "s" if len(out) > 1 else "", ", ".join(map(str, out)))
        if cancelled:
            log.warning("campaign %s: %d claim%s of a stopped process cancelled before %s oracle call started (trials %s); no budget used", self.name, len(cancelled), "s" if len(cancelled) > 1 else "", "its" if len(cancelled) == 1 else "their", ", ".join(map(str, cancelled)))
        return out + cancelled

    def cancel(self, trial_id: int, reason: str, *, started: bool = False) -> bool:
        """Release a claim whose oracle call never started: ``cancelled``, not a call.

        The claim is taken first (:meth:`settle`); ``started=True`` skips that, for a
        RUNNING claim of an older molvae version (claims were RUNNING from the start).

        Parameters
        ----------
        trial_id : int
            Optuna trial id.
        reason : str
            Stored as the trial's ``reason`` attribute.
        started : bool
            The claim is RUNNING already (an older molvae version's claim).

        Returns
        -------
        bool
            False when another process took or finished the claim first.
        """
        attrs = {"status": "cancelled", "reason": reason}
        return self.finish(trial_id, attrs, None) if started else self.settle(trial_id, attrs, None)

    def interrupt(self, trial_id: int, reason: str, call_index: int | None) -> bool:
        """Mark a claim whose oracle call started as ``interrupted`` (the call counts).

        Writes ``status``, ``reason`` and, when given, ``oracle_call`` to the trial, then
        sets it FAIL (:meth:`finish`); releases the claim either way.

        Parameters
        ----------
        trial_id : int
            Optuna trial id.
        reason : str
            Stored as the trial's ``reason`` attribute.
        call_index : int or None
            1-based oracle-call index from the replay, stored as ``oracle_call``.

        Returns
        -------
        bool
            False if another process had already finished the trial.
        """
        attrs = {"status": "interrupted", "reason": reason}
        if call_index is not None:
            attrs["oracle_call"] = call_index
        return self.finish(trial_id, attrs, None)


class HeartbeatThread:
    """Records optuna heartbeats for this process's live claims every ``interval`` seconds,
    and refreshes the beat of ``worker`` (:meth:`Ledger.beat_worker`) when one is given."""

    def __init__(self, ledger: Ledger, interval: float, worker: Worker | None = None):
        self.ledger = ledger
        self.interval = interval
        self.worker = worker
        self.ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if ledger.heartbeat:
            self._thread = threading.Thread(target=self._loop, name="molvae-heartbeat", daemon=True)
            self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.interval):
            with self._lock:
                ids = list(self.ids)
            self.ledger.record_heartbeats(ids)
            if self.worker is not None:
                self.ledger.beat_worker(self.worker)

    def add(self, trial_id: int) -> None:
        """Start recording heartbeats for a claim; thread-safe.

        Parameters
        ----------
        trial_id : int
            Optuna trial id of a live claim of this process.
        """
        with self._lock:
            self.ids.add(trial_id)

    def discard(self, trial_id: int) -> None:
        """Stop recording heartbeats for a claim; thread-safe, no error if absent.

        Parameters
        ----------
        trial_id : int
            Optuna trial id.
        """
        with self._lock:
            self.ids.discard(trial_id)

    def stop(self) -> None:
        """Stop the heartbeat thread and wait for it up to 5 seconds (no-op without a thread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _latent(z) -> list[float]:
    return [float(x) for x in z]


def _jsonable(v):
    """User attributes are JSON: NaN/inf become None, numpy scalars become Python numbers."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        try:
            return _jsonable(v.item())
        except (ValueError, AttributeError):
            return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v
