"""Generation and reconstruction metrics.

Definitions follow MOSES (Polykovskiy et al. 2020, Front. Pharmacol. 11:565644):
validity = valid / all; uniqueness = unique valid / valid; novelty = unique valid not in
the training set / unique valid; internal diversity IntDiv_p = 1 - (mean over pairs of
T^p)^(1/p) with Tanimoto T of Morgan fingerprints (radius 2, 1024 bits, as MOSES);
FCD = Fréchet ChemNet Distance (Preuer et al. 2018) computed with ``fcd_torch``.

The full MOSES suite (unique@k, SNN, Frag, Scaf, IntDiv1/2 as the MOSES code computes them,
Filters, property distances), matching the MOSES reference implementation, is
:func:`evaluate` (:mod:`molvae.moses`).
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Container, Iterable, Sequence

import numpy as np

from molvae.checks import check_n_jobs, is_integer
from molvae.chem import as_smiles_list, canonical_smiles, quiet_rdkit

__all__ = [
    "validity",
    "uniqueness",
    "novelty",
    "internal_diversity",
    "mean_heavy_atoms",
    "fcd_statistics",
    "fcd",
    "reconstruction_accuracy",
    "moses_reference_fcd",
    "evaluate",
]

log = logging.getLogger(__name__)


def _canon_all(smiles: Iterable[str]) -> list[str | None]:
    with quiet_rdkit():
        # `if s` raised "boolean value of NA is ambiguous" for pandas' NA; anything but a
        # non-empty string is no molecule
        return [canonical_smiles(s) if isinstance(s, str) and s else None for s in smiles]


def validity(smiles: Sequence[str]) -> float:
    """Fraction of strings that RDKit parses into a molecule; NaN for an empty list.

    ``smiles`` may be any iterable of strings (list, tuple, numpy array, pandas Series);
    a single string is one molecule, as in the other metrics of this module.
    """
    smiles = as_smiles_list(smiles)  # `not array` is ambiguous for a numpy array or Series of several
    if not smiles:
        return math.nan
    return sum(c is not None for c in _canon_all(smiles)) / len(smiles)


def uniqueness(smiles: Sequence[str]) -> float:
    """Distinct canonical SMILES / valid molecules; NaN if none is valid."""
    valid = [c for c in _canon_all(as_smiles_list(smiles)) if c]
    return len(set(valid)) / len(valid) if valid else math.nan


def novelty(smiles: Sequence[str], is_novel) -> float:
    """Fraction of distinct valid molecules that are not in the training set.

    Parameters
    ----------
    smiles : str or sequence of str
        A single string is one molecule.
    is_novel : callable(list of canonical SMILES) -> bool array, or a set of canonical SMILES
        The training set, as :meth:`molvae.vae.MolVAE.is_novel` or a set (any container
        of strings). Its SMILES must be RDKit canonical: the generated molecules are
        canonicalized and compared as text, so a non-canonical ``OCC`` does not match
        ``CCO`` (use :func:`molvae.chem.canonical_smiles` on a raw training list).

    Returns
    -------
    float
        In [0, 1]; NaN when no molecule is valid.

    Raises
    ------
    TypeError
        If ``smiles`` is neither a string nor iterable, or ``is_novel`` is neither
        callable nor a container (None gave "argument of type 'NoneType' is not
        iterable").
    """
    if not callable(is_novel) and not isinstance(is_novel, Container):
        raise TypeError(f"novelty takes is_novel as a callable or a set of canonical SMILES, got {type(is_novel).__name__}")
    uniq = sorted({c for c in _canon_all(as_smiles_list(smiles)) if c})
    if not uniq:
        return math.nan
    if callable(is_novel):
        flags = np.asarray(is_novel(uniq), dtype=bool)
    else:
        flags = np.asarray([c not in is_novel for c in uniq])
    return float(flags.mean())


def internal_diversity(smiles: Sequence[str], p: int = 1, *, n_bits: int = 1024) -> float:
    """Internal diversity IntDiv_p of the valid molecules (the MOSES paper's formula).

    ``1 - (mean_{i,j} T(i,j)^p)^(1/p)`` over all ordered pairs including i = j, with
    Morgan fingerprints of radius 2 and ``n_bits`` bits (Polykovskiy et al. 2020). So one
    molecule, or n copies of one, has IntDiv_p 0. For p = 1 this equals what the MOSES
    code computes; for p = 2 the MOSES code, and so its published IntDiv2, takes a
    per-molecule power mean instead: :func:`molvae.moses.internal_diversity` gives that.

    Parameters
    ----------
    smiles : sequence of str
        Molecules; invalid ones are left out.
    p : int or float
        The power, a finite real number >= 1 (MOSES reports IntDiv1 and IntDiv2).
    n_bits : int
        Fingerprint length, an integer >= 1.

    Returns
    -------
    float
        NaN if no molecule is valid.

    Raises
    ------
    ValueError
        If ``p`` is below 1, infinite, or not a real number (None, a string, a bool),
        or ``n_bits`` is not an integer >= 1.
    """
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from molvae.chem import to_mol

    # p = 0 divided by zero, a negative p inverted the mean; None or '2' ended in a bare
    # TypeError from the comparison, True was taken as 1 and inf returned 0 for any molecules
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (1 <= p < math.inf):
        raise ValueError(f"the power p must be >= 1 (a finite real number), got {p!r}")
    if not is_integer(n_bits) or n_bits < 1:  # 1.5 failed in RDKit with a Boost.Python ArgumentError
        raise ValueError(f"n_bits must be an integer >= 1, got {n_bits!r}")
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=int(n_bits))  # Boost takes no numpy integer
    fps = [gen.GetFingerprint(m) for m in (to_mol(s) for s in as_smiles_list(smiles)) if m is not None]  # to_mol: None for '', NaN, NA
    if not fps:
        return math.nan
    total = 0.0
    for f in fps:
        sims = np.asarray(DataStructs.BulkTanimotoSimilarity(f, fps))
        total += float((sims**p).sum())
    mean = total / (len(fps) ** 2)
    return 1.0 - mean ** (1.0 / p)


def mean_heavy_atoms(smiles: Sequence[str]) -> float:
    """Mean number of heavy atoms of the valid molecules (NaN if none)."""
    from molvae.chem import to_mol

    counts = [m.GetNumHeavyAtoms() for m in (to_mol(s) for s in as_smiles_list(smiles)) if m is not None]  # to_mol: None for '', NaN, NA
    return float(np.mean(counts)) if counts else math.nan


def fcd_statistics(smiles: Sequence[str], *, n_jobs: int = 1) -> dict[str, np.ndarray]:
    """Mean and covariance of ChemNet penultimate activations (``fcd_torch``).

    Parameters
    ----------
    smiles : str or sequence of str
        Invalid entries (empty, or not read by RDKit) are dropped; a single string is one
        molecule.
    n_jobs : int or None
        Data-loading worker processes of ``fcd_torch``; an integer >= 1 (None: 1).

    Returns
    -------
    dict
        ``mu`` shape (512,), ``sigma`` shape (512, 512).

    Raises
    ------
    ValueError
        If ``n_jobs`` is not an integer >= 1 (:func:`molvae.checks.check_n_jobs`), or fewer
        than 2 molecules are valid (a covariance needs two; ``fcd_torch`` returned ``{}``).
    """
    n_jobs = check_n_jobs(n_jobs)
    valid = _valid_only(smiles)
    if len(valid) < _FCD_MIN:
        raise ValueError(f"FCD statistics need at least {_FCD_MIN} valid molecules, got {len(valid)}")
    from fcd_torch import FCD

    return _precalc(valid, FCD(device="cpu", n_jobs=n_jobs))


#: Fewest valid molecules whose ChemNet statistics (a covariance) FCD can use.
_FCD_MIN = 2

#: Length of ChemNet's penultimate activations: the shape of FCD statistics.
_FCD_DIM = 512


def _precalc(valid: list[str], chemnet) -> dict[str, np.ndarray]:
    """``chemnet.precalc`` (an ``fcd_torch.FCD``) of at least :data:`_FCD_MIN` valid SMILES."""
    with quiet_rdkit():  # fcd_torch parses each molecule again with RDKit's logger on
        return chemnet.precalc(valid)


def _valid_only(smiles: str | Iterable[str]) -> list[str]:
    """The strings RDKit reads (fcd_torch raises on the first it cannot), as given; a
    single string is one molecule (``list("CCO")`` made the molecules C, C and O)."""
    smiles = as_smiles_list(smiles)
    return [s for s, c in zip(smiles, _canon_all(smiles)) if c]


def _reference_stats(reference) -> dict[str, np.ndarray]:
    """Statistics given as a dict: ``mu`` (512,) and ``sigma`` (512, 512), finite."""
    try:
        mu = np.asarray(reference["mu"], dtype=np.float64)
        sigma = np.asarray(reference["sigma"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        mu = sigma = None
    if mu is None or mu.shape != (_FCD_DIM,) or sigma.shape != (_FCD_DIM, _FCD_DIM) or not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        shapes = "" if mu is None else f"; got mu {mu.shape}, sigma {sigma.shape}"
        raise ValueError(f"reference statistics must hold finite 'mu' of shape ({_FCD_DIM},) and 'sigma' of shape ({_FCD_DIM}, {_FCD_DIM}), as fcd_statistics gives them{shapes}")
    return {"mu": mu, "sigma": sigma}


def fcd(smiles: Sequence[str], reference: dict[str, np.ndarray] | Sequence[str] | str, *, n_jobs: int = 1) -> float:
    """Fréchet ChemNet Distance between generated molecules and a reference.

    Parameters
    ----------
    smiles : str or sequence of str
        Generated molecules (invalid entries are dropped, as MOSES does); a single
        string is one molecule.
    reference : dict with ``mu`` and ``sigma``, sequence of str, or {"test", "test_scaffolds"}
        Precomputed reference statistics (see :func:`fcd_statistics`), molecules (invalid
        ones dropped), or the name of a MOSES set (:func:`moses_reference_fcd`).
    n_jobs : int or None
        Data-loading worker processes of ``fcd_torch``; an integer >= 1 (None: 1).

    Returns
    -------
    float
        NaN (and a logged warning) if fewer than 2 generated or reference molecules are
        valid: ChemNet statistics need a covariance.

    Raises
    ------
    ValueError
        If ``n_jobs`` is not an integer >= 1 (:func:`molvae.checks.check_n_jobs`),
        ``reference`` is a string other than a MOSES set name (it was taken as one
        molecule per character), or a dict without ``mu`` (512,) and ``sigma`` (512, 512).
    """
    n_jobs = check_n_jobs(n_jobs)
    if isinstance(reference, str):
        if reference not in ("test", "test_scaffolds"):
            raise ValueError(f"reference must be FCD statistics, a sequence of SMILES, or test or test_scaffolds (MOSES); got the string {reference!r}")
        reference = moses_reference_fcd(reference)
    ref = _reference_stats(reference) if isinstance(reference, dict) else None
    valid = _valid_only(smiles)
    if len(valid) < _FCD_MIN:
        log.warning("FCD needs at least %d valid molecules, got %d: NaN", _FCD_MIN, len(valid))
        return math.nan
    if ref is None:
        ref_valid = _valid_only(reference)
        if len(ref_valid) < _FCD_MIN:
            log.warning("FCD needs at least %d valid reference molecules, got %d: NaN", _FCD_MIN, len(ref_valid))
            return math.nan
    from fcd_torch import FCD
    from fcd_torch.utils import calculate_frechet_distance

    chemnet = FCD(device="cpu", n_jobs=n_jobs)
    if ref is None:
        ref = _precalc(ref_valid, chemnet)
    gen = _precalc(valid, chemnet)
    return float(calculate_frechet_distance(ref["mu"], ref["sigma"], gen["mu"], gen["sigma"]))


def reconstruction_accuracy(vae, smiles: Sequence[str]):
    """Exact-match reconstruction: greedy decoding of the posterior mean.

    A molecule counts as reconstructed when the canonical SMILES of the decoding equals
    the canonical SMILES of the standardized input.

    Parameters
    ----------
    vae : MolVAE
    smiles : str or sequence of str, length n
        A single string is one molecule (n = 1); a pandas Series is taken by position,
        whatever its index.

    Returns
    -------
    accuracy : float
        Over the molecules that could be encoded (NaN if none).
    table : DataFrame
        ``input, canonical, decoded, reconstructed`` for each encodable row.
    errors : list of RowError
        Rows that could not be encoded (0-based index).
    """
    import pandas as pd

    from molvae.chem import standardize

    # by position: a Series indexed by label gave rows of other molecules (try_encode counts positions)
    smiles = as_smiles_list(smiles)
    mu, errors = vae.try_encode(smiles)
    ok = ~np.isnan(mu).any(axis=1)
    rows = np.flatnonzero(ok)
    decoded = vae.decode(mu[rows]) if rows.size else []
    remove_stereo = not vae.alphabet.has_stereo
    canonical = [standardize(smiles[i], remove_stereo=remove_stereo) for i in rows]
    table = pd.DataFrame(
        {
            "input": [smiles[i] for i in rows],
            "canonical": canonical,
            "decoded": decoded,
        }
    )
    table["reconstructed"] = table["canonical"] == table["decoded"]
    acc = float(table["reconstructed"].mean()) if len(table) else math.nan
    return acc, table, errors


def moses_reference_fcd(name: str = "test") -> dict[str, np.ndarray]:
    """ChemNet statistics of a MOSES reference set, shipped with molvae.

    Parameters
    ----------
    name : {"test", "test_scaffolds"}

    Returns
    -------
    dict
        ``mu`` shape (512,), ``sigma`` shape (512, 512), as computed by MOSES over the
        full set (converted by ``data/reference_stats.py``).
    """
    from importlib import resources

    if name not in ("test", "test_scaffolds"):
        raise ValueError(f"unknown MOSES reference {name!r}: use test or test_scaffolds")
    path = resources.files("molvae") / "assets" / f"moses_{name}_fcd.npz"
    with resources.as_file(path) as p, np.load(p, allow_pickle=False) as z:
        return {"mu": z["mu"], "sigma": z["sigma"]}


def evaluate(samples, reference="test", train=None, n_jobs: int = 1, **kwargs) -> dict:
    """All MOSES distribution-learning metrics of generated molecules.

    A shortcut to :func:`molvae.moses.evaluate` (see there for the definitions, the
    parameters and the ``None`` returned for undefined metrics).

    Parameters
    ----------
    samples : sequence of str or path
        One SMILES per draw, duplicates and invalid strings kept.
    reference : {"test", "test_scaffolds"}, path or sequence of str
    train : path or sequence of str, optional
        Training set for novelty.
    n_jobs : int

    Returns
    -------
    dict
        ``validity, unique@1k, unique@10k, novelty, FCD, SNN, Frag, Scaf, IntDiv1, IntDiv2,
        Filters, logP, SA, QED, weight``: float, or ``None`` where undefined.
    """
    from molvae.moses import evaluate as _evaluate

    return _evaluate(samples, reference=reference, train=train, n_jobs=n_jobs, **kwargs)
