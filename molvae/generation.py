"""The generate pipeline: prior draws, batched decoding, parallel validation, dedupe, novelty.

Latent points come in fixed-size batches from one seeded generator and are split into
chunks. Each chunk goes to one worker process, which decodes it with torch (one thread)
and turns the SELFIES into RDKit-canonical SMILES and properties, computed from the same
parsed RDKit molecule; the workers fill the cores without oversubscribing them, and
chunks are collected in draw order. Temperature sampling draws each chunk's tokens from
a generator seeded from the main one. Only the first rows of a last batch that the
request still needs (with a margin for duplicates) are decoded, and that decision
depends on the results collected so far, never on timing, so the same seed gives the
same molecules whatever the number of worker processes.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from molvae.checks import check_n_jobs, is_integer
from molvae.chem import PROPERTY_NAMES, as_smiles_list, load_property_tables, properties
from molvae.chem import quiet_rdkit
from molvae.vae import DEFAULT_TEMPERATURE, MolVAE, _selfies_to_mol, check_seed, check_temperature
from molvae.workers import ignore_sigint

__all__ = ["GenerationResult", "generate", "compute_properties", "available_cores", "MAX_MOLECULES"]

log = logging.getLogger(__name__)

#: Draws per batch taken from the seeded generator. Fixed, so that output depends only on the seed.
DRAW_BATCH = 1000
#: Latent points per worker task: each batch is split into chunks of this size.
CHUNK = 250
#: Draws decoded ahead (in flight in the workers) before the oldest chunk is collected.
MAX_PENDING = 2 * DRAW_BATCH
#: The most molecules (or draws, with ``all_draws``) one :func:`generate` call makes: all
#: of them are held in memory (about 1 kB each with properties), so a larger request
#: would run for hours and end when memory runs out. Split larger jobs over seeds.
MAX_MOLECULES = 10_000_000


@dataclass
class GenerationResult:
    """Molecules and the statistics of the run that made them.

    Attributes
    ----------
    table : DataFrame
        One row per molecule (or per draw with ``all_draws``): ``smiles, novel`` (bool;
        with ``all_draws`` pandas' nullable ``boolean``, NA for invalid draws) and the
        RDKit properties (``qed, logp, sa, mw, ...``; NaN for invalid draws).
    draws : int
        Latent points decoded.
    valid : int
        Draws that gave a valid molecule.
    unique : int
        Distinct valid molecules among the draws.
    novel : int
        Distinct valid molecules absent from the training set.
    seconds : float
        Wall time.
    """

    table: pd.DataFrame
    draws: int
    valid: int
    unique: int
    novel: int
    seconds: float
    stats: dict = field(default_factory=dict)

    @property
    def validity(self) -> float:
        """valid / draws (MOSES definition)."""
        return self.valid / self.draws if self.draws else math.nan

    @property
    def uniqueness(self) -> float:
        """unique / valid (MOSES definition)."""
        return self.unique / self.valid if self.valid else math.nan

    @property
    def novelty(self) -> float:
        """novel / unique (MOSES definition)."""
        return self.novel / self.unique if self.unique else math.nan

    def summary(self) -> dict:
        """The run's figures as a flat dict (for logging or JSON).

        Returns
        -------
        dict
            ``draws`` (int), ``validity``, ``uniqueness``, ``novelty`` (floats in [0, 1],
            NaN when undefined), ``seconds`` (wall time, s), ``molecules_per_s`` (rows of
            ``table`` per second of wall time, NaN for 0 s; rows, not draws) and
            ``written`` (int, ``len(table)``).
        """
        n = len(self.table)
        return {
            "draws": self.draws,
            "validity": self.validity,
            "uniqueness": self.uniqueness,
            "novelty": self.novelty,
            "seconds": self.seconds,
            "molecules_per_s": n / self.seconds if self.seconds > 0 else math.nan,
            "written": n,
        }


def _decode_chunk(selfies: list[str], with_properties: bool = True) -> list[tuple[str, dict | None]]:
    """``(canonical SMILES or '', properties or None)`` per SELFIES string."""
    out = []
    with quiet_rdkit():
        for s in selfies:
            smi, mol = _selfies_to_mol(s)
            out.append((smi, properties(mol) if with_properties and mol is not None else None))
    return out


#: What :func:`_decode_task` needs, set by :func:`generate` before it forks the workers.
_WORKER: dict = {}


def _worker_init() -> None:
    # one torch thread per worker process: the workers already fill the cores
    torch.set_num_threads(1)


def _pool_worker_init(initializer: Callable[[], None] | None) -> None:
    """Every pool worker leaves Ctrl-C to the main process, which stops the pool (Ctrl-C
    reaches the whole process group; a worker taking it printed the start of a traceback)."""
    ignore_sigint()
    if initializer is not None:
        initializer()


def _decode_task(task: tuple[torch.Tensor, int | None]) -> list[tuple[str, dict | None]]:
    """Decode one chunk of latent points and validate it (in a worker process, or inline).

    ``task`` is ``(z, sampling seed)``, with ``z`` of shape ``(rows, d_z)`` and the seed
    ``None`` for greedy decoding.
    """
    z, sample_seed = task
    vae, temperature, with_properties = _WORKER["vae"], _WORKER["temperature"], _WORKER["with_properties"]
    generator = torch.Generator().manual_seed(sample_seed) if sample_seed is not None else None
    return _decode_chunk(vae.decode_selfies(z, temperature=temperature, generator=generator), with_properties)


def _properties_chunk(smiles: list[str]) -> list[dict]:
    # properties gives all NaN for '', None, NaN and pandas' NA (`if s` raised for NA)
    return [properties(s) for s in smiles]


def _chunks(items: list, k: int) -> list[list]:
    size = max(1, math.ceil(len(items) / k))
    return [items[i : i + size] for i in range(0, len(items), size)]


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _pool(n_jobs: int, initializer: Callable[[], None] | None = None):
    if n_jobs <= 1:
        return None
    if "fork" not in mp.get_all_start_methods():
        # the workers inherit the model by forking; without fork (Windows) work inline
        log.info("no fork start method on this platform: decoding in this process only")
        return None
    # forked workers inherit the SA-score fragment table (and the model) instead of reading them
    load_property_tables()
    return mp.get_context("fork").Pool(n_jobs, initializer=_pool_worker_init, initargs=(initializer,))


def compute_properties(smiles: list[str], *, n_jobs: int = 2, pool=None) -> pd.DataFrame:
    """RDKit properties of many molecules, in parallel.

    Parameters
    ----------
    smiles : str or sequence of str, length n
        A single string is one molecule (n = 1).
    n_jobs : int or None
        Worker processes, an integer >= 1 (None: 1); ignored when ``pool`` is given.
    pool : multiprocessing.Pool, optional
        Reuse an existing pool.

    Returns
    -------
    DataFrame, shape (n, len(PROPERTY_NAMES))
        Columns :data:`molvae.chem.PROPERTY_NAMES`, float64 (also for n = 0); index
        ``0..n-1`` (positions, whatever the index of a Series given); NaN for invalid
        molecules.

    Raises
    ------
    ValueError
        If ``n_jobs`` is not an integer >= 1 (:func:`molvae.checks.check_n_jobs`).
    """
    n_jobs = check_n_jobs(n_jobs)  # None compared with 1 raised a bare TypeError, 0 and -1 ran serially
    smiles = as_smiles_list(smiles)
    own = pool is None and n_jobs > 1 and len(smiles) > 200
    pool = _pool(n_jobs) if own else pool
    try:
        if pool is not None:
            parts = pool.map(_properties_chunk, _chunks(smiles, 4 * n_jobs))
            rows = [r for p in parts for r in p]
        else:
            rows = _properties_chunk(smiles)
    finally:
        if own:
            pool.close()
            pool.join()
    # float64 columns also when there are no rows (they were object then)
    return pd.DataFrame(rows, columns=list(PROPERTY_NAMES), dtype=np.float64)


def generate(
    vae: MolVAE,
    n: int,
    *,
    seed: int = 0,
    temperature: float = DEFAULT_TEMPERATURE,
    all_draws: bool = False,
    max_draws: int | None = None,
    n_jobs: int | None = None,
    with_properties: bool = True,
    latent: str = "prior",
    progress: Callable[[int, int], None] | None = None,
) -> GenerationResult:
    """Generate molecules from the prior.

    Parameters
    ----------
    vae : MolVAE
    n : int
        Unique valid molecules wanted (or draws, with ``all_draws``), 1 to
        :data:`MAX_MOLECULES`.
    seed : int
        Same seed, same molecules in the same order; 0 to :data:`molvae.vae.MAX_SEED`
        (2**63 - 1).
    temperature : float
        Decoder temperature: 0 (default, :data:`molvae.vae.DEFAULT_TEMPERATURE`) decodes
        each draw greedily, 1 samples tokens from the decoder's distribution.
    all_draws : bool
        Keep every draw, duplicates and invalid ones included (what metric tools need).
    max_draws : int, optional
        Give up after this many draws (an integer >= 1; default ``max(20 n, 10_000)``); a
        warning says how many unique molecules were found.
    n_jobs : int, optional
        Worker processes, each decoding (one torch thread), SELFIES-decoding and running
        RDKit on its chunks of latent points; default: :func:`available_cores`, but no
        more than the request has chunks of :data:`CHUNK` draws. 1 works in this process.
        The output does not depend on it.
    with_properties : bool
        Add the RDKit property columns.
    latent : {"prior", "fitted"}
        Draw latent points from N(0, I) (default) or from the density fitted to training
        latents (:mod:`molvae.density`).
    progress : callable(done, total), optional

    Returns
    -------
    GenerationResult

    Raises
    ------
    ValueError
        If ``max_draws`` is given and not an integer >= 1, if ``n`` is not an integer from 1 to :data:`MAX_MOLECULES`, ``temperature`` is refused by :func:`molvae.vae.check_temperature`,
        ``seed`` by :func:`molvae.vae.check_seed`, ``latent`` is unknown or not available,
        or ``n_jobs`` is given and not an integer >= 1.
    TypeError
        A ``temperature`` that is not a real number (a bool, a string).
    """
    if not is_integer(n) or n < 1:  # 2.5 gave 3 molecules, '3' a TypeError
        raise ValueError(f"the number of molecules must be an integer >= 1, got {n!r}")
    if n > MAX_MOLECULES:
        raise ValueError(f"the number of molecules must be at most {MAX_MOLECULES:,} (MAX_MOLECULES; split larger jobs over seeds), got {n:,}")
    check_temperature(temperature)
    seed = check_seed(seed)  # as an int
    if latent not in ("prior", "fitted"):
        raise ValueError(f"unknown latent source {latent!r}: use prior or fitted")
    if latent == "fitted" and vae.latent_density is None:
        raise ValueError("this model file has no fitted latent density (add one with `molvae fit-density`)")
    if max_draws is not None and (not is_integer(max_draws) or max_draws < 1):
        raise ValueError(f"max_draws must be an integer >= 1, got {max_draws!r}")  # 0 meant the default, -5 an empty table
    max_draws = n if all_draws else (max_draws or max(20 * n, 10_000))
    if n_jobs is None:  # no more workers than the request has chunks to give them
        n_jobs = min(available_cores(), math.ceil(min(n, max_draws) / CHUNK))
    elif not is_integer(n_jobs) or n_jobs < 1:  # 0 and -1 worked in this process, 2.5 failed in multiprocessing
        raise ValueError(f"n_jobs must be an integer >= 1 (or None for the default), got {n_jobs!r}")
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    kept: list[str] = []
    kept_props: list[dict | None] = []
    seen: set[str] = set()
    draws = valid = 0

    def collect(part: list[tuple[str, dict | None]]) -> None:
        nonlocal valid
        for smi, props in part:
            if smi:
                valid += 1
            if all_draws:
                kept.append(smi)
                kept_props.append(props)
            if smi and smi not in seen:
                seen.add(smi)
                if not all_draws and len(kept) < n:
                    kept.append(smi)
                    kept_props.append(props)
        if progress:
            progress(min(len(kept), n), n)

    def next_batch(pending: int) -> torch.Tensor | None:
        """The next latent points to decode, or None when the draws in flight should do.

        Decisions depend only on the results collected so far and on the number of draws
        in flight, never on timing, so the draws (and the output) are fixed by the seed.
        """
        if draws >= max_draws:
            return None
        if all_draws:
            size = min(DRAW_BATCH, max_draws - draws)
        else:
            per_new = (draws - pending) / len(seen) if seen else 1.0  # draws per new molecule so far
            need = n - len(kept) - pending / per_new  # still missing once the pending draws are in
            if need <= 0 or (pending and math.ceil(1.1 * need * per_new) + 16 < DRAW_BATCH):
                return None  # a last, partial batch is sized once the draws in flight are in
            size = DRAW_BATCH
        if latent == "prior":
            z = torch.randn((size, vae.d_z), generator=gen)
        else:
            from molvae.density import sample_density

            z = torch.from_numpy(sample_density(vae.latent_density, size, seed=seed * 1_000_003 + draws))
        if not all_draws:
            # decode only what is still missing, with a margin for duplicates and invalid
            # draws: the first rows of the batch, so greedy output does not change
            z = z[: min(size, max_draws - draws, math.ceil(1.1 * need * per_new) + 16)]
        return z

    # Each chunk of latent points is decoded (torch, one thread) and validated (SELFIES,
    # RDKit) by one worker process, so every core works all the time without
    # oversubscription; chunks are collected in draw order.
    _WORKER.update(vae=vae, temperature=temperature, with_properties=with_properties)
    threads = torch.get_num_threads()
    pool = _pool(n_jobs, initializer=_worker_init)
    inflight: deque = deque()  # (async result, or the task itself without a pool; rows)
    try:
        if pool is None:
            torch.set_num_threads(1)  # as in the workers, so the output does not depend on n_jobs
        while True:
            pending = sum(rows for _, rows in inflight)
            z = next_batch(pending) if pending < MAX_PENDING else None
            if z is not None:
                draws += len(z)
                for i in range(0, len(z), CHUNK):
                    chunk = z[i : i + CHUNK]
                    sample_seed = int(torch.randint(2**62, (1,), generator=gen)) if temperature > 0 else None
                    task = (chunk, sample_seed)
                    inflight.append((pool.apply_async(_decode_task, (task,)) if pool is not None else task, len(chunk)))
                continue
            if not inflight:
                break
            job, _ = inflight.popleft()
            collect(job.get() if pool is not None else _decode_task(job))
    finally:
        torch.set_num_threads(threads)
        _WORKER.clear()
        if pool is not None:
            if inflight:  # interrupted: do not wait for the rest
                pool.terminate()
            else:
                pool.close()
            pool.join()
    if not all_draws and len(kept) < n:
        log.warning("found %d unique valid molecules in %d draws (asked for %d)", len(kept), draws, n)
    table = pd.DataFrame({"smiles": kept})
    valid_rows = [s for s in kept if s]
    novel_map = dict(zip(valid_rows, vae.is_novel(valid_rows)))
    if all_draws:  # an invalid draw has no novelty: NA (an empty cell), not False
        table["novel"] = pd.array([bool(novel_map[s]) if s else None for s in kept], dtype="boolean")
    else:  # every molecule is valid
        table["novel"] = np.array([bool(novel_map[s]) for s in kept], dtype=bool)
    if with_properties:
        empty = dict.fromkeys(PROPERTY_NAMES, math.nan)
        props = pd.DataFrame([p if p is not None else empty for p in kept_props], columns=list(PROPERTY_NAMES))
        table = pd.concat([table, props], axis=1)
    # statistics over all draws made (in unique mode the last batch may overshoot n)
    unique = len(seen)
    novel = int(vae.is_novel(sorted(seen)).sum()) if seen else 0
    return GenerationResult(table, draws, valid, unique, novel, time.perf_counter() - t0)
