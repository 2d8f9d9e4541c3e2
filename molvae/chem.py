"""RDKit layer: parse, standardize, canonical SMILES, validity, properties, fingerprints.

Failure contract (after datamol): functions that turn text into molecules return ``None``
on failure (or raise :class:`InvalidMoleculeError` when asked to), and properties of an
invalid molecule are ``NaN``, never 0.

This module knows nothing of torch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections.abc import Iterable, Iterator

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, MolSurf, rdMolDescriptors
from rdkit.Chem import FilterCatalog, rdFingerprintGenerator
from rdkit.Chem.MolStandardize import rdMolStandardize
from rdkit.Contrib.SA_Score import sascorer

__all__ = [
    "InvalidMoleculeError",
    "PROPERTY_NAMES",
    "MAX_SMILES_LENGTH",
    "quiet_rdkit",
    "to_mol",
    "standardize",
    "canonical_smiles",
    "is_valid",
    "properties",
    "qed_properties",
    "load_property_tables",
    "penalized_logp",
    "morgan_fingerprint",
    "tanimoto",
    "smiles_hash",
    "as_smiles_list",
]

log = logging.getLogger(__name__)

#: Columns produced by :func:`properties`, in order.
PROPERTY_NAMES = ("qed", "logp", "sa", "mw", "tpsa", "hbd", "hba", "rings", "heavy_atoms", "penalized_logp")

# Normalization constants of the penalized-logP terms over ZINC250k, as used by the
# JT-VAE Bayesian-optimization code (Jin et al. 2018, github.com/wengong-jin/icml18-jtnn,
# bo/run_bo.py): mean and standard deviation of logP, -SA and -cycle penalty.
_PLOGP_NORM = {
    "logp": (2.4570953396190123, 1.434324401111988),
    "sa": (-3.0525811293166134, 0.8335207024513095),
    "cycle": (-0.0485696876403053, 0.2860212110245455),
}

_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

#: The longest SMILES read, in characters (and the most atoms of a molecule read from an
#: SDF record). RDKit's SMILES writer recurses along the molecule and overflows the C stack
#: on a chain of about 19,000 atoms, killing the process (a segmentation fault, no
#: exception), and sanitizing takes seconds per molecule at this size; no molecule the
#: model can write comes near it.
MAX_SMILES_LENGTH = 10_000


class InvalidMoleculeError(ValueError):
    """A string could not be parsed or standardized into a molecule.

    Attributes
    ----------
    molecule : str
        The input.
    reason : str
        Why it failed.
    """

    def __init__(self, molecule: str, reason: str):
        self.molecule = molecule
        self.reason = reason
        super().__init__(f"{reason}: {molecule!r}")


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's C++ logger inside the block (invalid inputs are expected there)."""
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def to_mol(smiles: str) -> Chem.Mol | None:
    """Parse a SMILES string; ``None`` if it is empty, RDKit rejects it, it is longer than
    :data:`MAX_SMILES_LENGTH`, or it is not all SMILES (see :func:`_smiles_text_problem`).

    Surrounding whitespace is ignored. RDKit reads text after a space, a tab or some
    non-ASCII characters as the molecule's name and drops it without a word (``'CCO
    ethanol'`` and ``'CCé'`` gave ethanol and ethane); such a string is no molecule here.
    """
    if not isinstance(smiles, str) or not smiles.strip() or _smiles_text_problem(smiles):
        return None
    with quiet_rdkit():
        return Chem.MolFromSmiles(smiles.strip())


def _smiles_text_problem(smiles: str) -> str | None:
    """Why a string cannot be a SMILES string before RDKit reads it, or ``None``.

    SMILES are ASCII without whitespace (surrounding whitespace is ignored). RDKit would
    silently drop what follows a space or certain non-ASCII characters.

    Parameters
    ----------
    smiles : str

    Returns
    -------
    str or None
        The reason of an :class:`InvalidMoleculeError`: ``"not a SMILES string: whitespace
        inside the SMILES"``, ``"not a SMILES string: non-ASCII character 'é' (U+00E9)"``
        or ``"SMILES of 20,000 characters, more than the 10,000 read"`` (see
        :data:`MAX_SMILES_LENGTH`); ``None`` when the text has none of them.
    """
    text = smiles.strip()
    if len(text) > MAX_SMILES_LENGTH:  # before RDKit, which could crash the process on it
        return f"SMILES of {len(text):,} characters, more than the {MAX_SMILES_LENGTH:,} read"
    if any(c.isspace() for c in text):
        return "not a SMILES string: whitespace inside the SMILES"
    if not text.isascii():
        c = next(c for c in text if not c.isascii())
        return f"not a SMILES string: non-ASCII character {c!r} (U+{ord(c):04X})"
    return None


def _is_missing(value) -> bool:
    """Whether ``value`` is a missing value of a table: None, a float NaN (numpy's
    float32 included) or pandas' ``NA`` (a ``string`` column's missing cell, whose truth
    value raises "boolean value of NA is ambiguous")."""
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return type(value).__name__ == "NAType"


_largest_fragment = rdMolStandardize.LargestFragmentChooser(preferOrganic=True)
_uncharger = rdMolStandardize.Uncharger()


def standardize(smiles: str, *, remove_stereo: bool = False) -> str:
    """Standardize a molecule for the model and return its canonical SMILES.

    Steps (RDKit MolStandardize): keep the largest organic fragment (drops salts and
    solvents), neutralize charges where a neutral form exists, optionally remove
    stereochemistry (for models whose alphabet has no stereo tokens), canonicalize.

    Parameters
    ----------
    smiles : str
    remove_stereo : bool
        Drop tetrahedral and double-bond stereo.

    Returns
    -------
    str
        Canonical SMILES.

    Raises
    ------
    InvalidMoleculeError
        If the input is empty (or None, NaN), not a string, longer than
        :data:`MAX_SMILES_LENGTH`, or RDKit cannot parse or sanitize it.
    """
    mol = to_mol(smiles)
    if mol is None:
        if isinstance(smiles, str):
            problem = _smiles_text_problem(smiles)
            if not smiles.strip():
                reason = "empty SMILES"
            elif problem:
                reason = problem
            else:
                reason = "RDKit cannot parse SMILES"
        elif _is_missing(smiles):  # None, NaN of any float type, pandas' NA
            reason = "empty SMILES"
        else:
            reason = f"not a SMILES string ({type(smiles).__name__})"
        raise InvalidMoleculeError(str(smiles), reason)
    with quiet_rdkit():
        try:
            if len(Chem.GetMolFrags(mol)) > 1:
                mol = _largest_fragment.choose(mol)
            if any(a.GetFormalCharge() for a in mol.GetAtoms()):
                mol = _uncharger.uncharge(mol)
            if remove_stereo:
                Chem.RemoveStereochemistry(mol)
            out = Chem.MolToSmiles(mol)
        except Exception as exc:  # RDKit raises several C++-mapped types
            raise InvalidMoleculeError(str(smiles), f"RDKit cannot standardize ({exc})") from None
    if not out:
        raise InvalidMoleculeError(str(smiles), "standardization left no atoms")
    return out


def _refuse_many(smiles, function: str, many: str = " (or use molvae.generation.compute_properties)") -> None:
    """Raise TypeError for a collection given to a function of one molecule.

    ``properties(df["smiles"])`` or ``is_valid(["CCO"])`` read the list as one invalid
    molecule: all NaN, or False, without a word. ``many`` ends the message: what to use
    for many molecules besides a call per molecule (compute_properties by default, which
    computes no fingerprint or similarity: ``""`` for those).
    """
    if isinstance(smiles, Iterable) and not isinstance(smiles, (str, Chem.Mol)):
        raise TypeError(
            f"{function} takes one molecule (a SMILES string), got a {type(smiles).__name__}; "
            f"for many, call it per molecule{many}"
        )


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES, or ``None`` if the input does not parse.

    Parameters
    ----------
    smiles : str
        One SMILES string; a missing value (None, NaN) gives ``None``.

    Returns
    -------
    str or None

    Raises
    ------
    TypeError
        If ``smiles`` is a collection (list, tuple, array, Series): it was read as one
        invalid molecule.
    """
    _refuse_many(smiles, "canonical_smiles")
    mol = to_mol(smiles)
    if mol is None:
        return None
    out = Chem.MolToSmiles(mol)
    return out or None


def is_valid(smiles: str) -> bool:
    """Whether RDKit parses and sanitizes the SMILES into a non-empty molecule.

    Raises
    ------
    TypeError
        If ``smiles`` is a collection (list, tuple, array, Series): it gave False.
    """
    _refuse_many(smiles, "is_valid")
    mol = to_mol(smiles)
    return mol is not None and mol.GetNumAtoms() > 0


def _cycle_penalty(mol: Chem.Mol) -> int:
    """Largest ring size minus 6, at least 0 (Jin et al. 2018), over RDKit's smallest set
    of smallest rings.

    The JT-VAE reference code takes the rings of networkx's ``cycle_basis`` instead, which
    for some bridged or fused systems holds a larger ring (11 atoms for the acenaphthene
    CNC(=O)OCCc1ccc2c3c(cccc13)CC2, the order of the atoms deciding):
    the penalty differs for 10 of the 3,000 molecules of the committed MOSES sample."""
    sizes = [len(r) for r in mol.GetRingInfo().AtomRings()]
    return max(max(sizes, default=0) - 6, 0)


def penalized_logp(mol: Chem.Mol | str, *, normalized: bool = False) -> float:
    """Penalized logP: Crippen logP - SA score - long-ring penalty.

    As defined by Gómez-Bombarelli et al. 2018 and Jin et al. 2018; the ring penalty is
    ``max(largest ring size - 6, 0)``, over RDKit's smallest set of smallest rings (the
    JT-VAE code's networkx ``cycle_basis`` gives a larger ring for some bridged or fused
    systems, about 0.3% of MOSES molecules).

    Parameters
    ----------
    mol : rdkit.Chem.Mol or str
        A molecule, or a SMILES string (parsed with :func:`to_mol`).
    normalized : bool
        If False (default) the raw sum ``logP - SA - cycle``, the form most later papers
        report. If True, each term is first standardized with the ZINC250k mean and
        standard deviation used by JT-VAE's Bayesian-optimization code (its reported
        5.30 / 4.93 / 4.49 are on this scale).

    Returns
    -------
    float
        NaN if any term cannot be computed, or the SMILES is invalid or missing.

    Raises
    ------
    TypeError
        If ``mol`` is a collection (list, tuple, array, Series) instead of one molecule.
    """
    _refuse_many(mol, "penalized_logp")
    if not isinstance(mol, Chem.Mol):  # a SMILES string gave NaN, as for a failed term
        mol = to_mol(mol)
    if mol is None:
        return math.nan
    try:
        logp = Crippen.MolLogP(mol)
        sa = sascorer.calculateScore(mol)
        cycle = _cycle_penalty(mol)
    except Exception:
        return math.nan
    if not normalized:
        return float(logp - sa - cycle)
    (ml, sl), (ms, ss), (mc, sc) = _PLOGP_NORM["logp"], _PLOGP_NORM["sa"], _PLOGP_NORM["cycle"]
    return float((logp - ml) / sl + (-sa - ms) / ss + (-cycle - mc) / sc)


def load_property_tables() -> None:
    """Read the SA score's fragment table and build the QED alert catalog now, if not yet.

    ``sascorer`` (RDKit Contrib) reads its table on its first call, and
    :func:`qed_properties` builds its catalog on its first call; a process about to fork
    workers calls this first so that they inherit both instead of each building them.
    """
    if getattr(sascorer, "_fscores", None) is None:
        sascorer.readFragmentScores()
    _qed_alert_catalog()


_QED_ALERTS: FilterCatalog.FilterCatalog | None = None


def _qed_alert_catalog() -> FilterCatalog.FilterCatalog:
    """RDKit's QED structural alerts (``QED.StructuralAlerts``) as one FilterCatalog."""
    global _QED_ALERTS
    if _QED_ALERTS is None:
        catalog = FilterCatalog.FilterCatalog()
        for i, alert in enumerate(QED.StructuralAlerts):
            catalog.AddEntry(FilterCatalog.FilterCatalogEntry(f"qed_alert_{i}", FilterCatalog.SmartsMatcher(alert)))
        _QED_ALERTS = catalog
    return _QED_ALERTS


def qed_properties(mol: Chem.Mol) -> QED.QEDproperties:
    """The eight descriptors of QED, as :func:`rdkit.Chem.QED.properties` computes them.

    The same RDKit calls and patterns as ``QED.properties`` (RDKit 2026.09; Bickerton et
    al. 2012), with two savings: the 116 structural alerts are matched in one pass of an
    RDKit ``FilterCatalog`` built from ``QED.StructuralAlerts`` instead of one
    Python-level ``HasSubstructMatch`` call each, which halves the cost of the alert count
    (the largest part of QED), and the molecule is copied without its hydrogens only when
    it has explicit ones. ``tests/unit/test_chem.py`` checks that every field equals
    RDKit's on the committed MOSES sample, with and without explicit hydrogens.

    Parameters
    ----------
    mol : rdkit.Chem.Mol

    Returns
    -------
    rdkit.Chem.QED.QEDproperties
        ``MW`` (Da), ``ALOGP`` (Crippen), ``HBA``, ``HBD``, ``PSA`` (Å²), ``ROTB``,
        ``AROM`` and ``ALERTS``; pass it to ``QED.qed(mol, qedProperties=...)``.

    Raises
    ------
    ValueError
        If ``mol`` is None.
    TypeError
        If ``mol`` is not an RDKit molecule (a SMILES string gave "'str' object has no
        attribute 'GetNumAtoms'"; parse it with :func:`to_mol` first).
    """
    if mol is None:
        raise ValueError("qed_properties needs a molecule, got None")
    if not isinstance(mol, Chem.Mol):
        raise TypeError(f"qed_properties takes an RDKit Mol (parse SMILES with molvae.chem.to_mol), got {type(mol).__name__}")
    if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():  # explicit hydrogens: RDKit removes them
        mol = Chem.RemoveHs(mol)
    return QED.QEDproperties(
        MW=rdMolDescriptors._CalcMolWt(mol),
        ALOGP=Crippen.MolLogP(mol),
        HBA=sum(len(mol.GetSubstructMatches(p)) for p in QED.Acceptors if mol.HasSubstructMatch(p)),
        HBD=rdMolDescriptors.CalcNumHBD(mol),
        PSA=MolSurf.TPSA(mol),
        ROTB=rdMolDescriptors.CalcNumRotatableBonds(mol, rdMolDescriptors.NumRotatableBondsOptions.Strict),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
        ALERTS=len(_qed_alert_catalog().GetMatches(mol)),
    )


def properties(smiles: str | Chem.Mol) -> dict[str, float]:
    """RDKit properties of one molecule.

    Keys (see :data:`PROPERTY_NAMES`): ``qed`` (Bickerton et al. 2012, RDKit QED),
    ``logp`` (Crippen, Wildman & Crippen 1999), ``sa`` (synthetic accessibility 1-10,
    Ertl & Schuffenhauer 2009, RDKit Contrib sascorer), ``mw`` (average molecular weight,
    Da), ``tpsa`` (Å²), ``hbd``/``hba`` (Lipinski donors/acceptors), ``rings`` (ring
    count), ``heavy_atoms``, ``penalized_logp`` (unnormalized, see :func:`penalized_logp`).

    Parameters
    ----------
    smiles : str or rdkit.Chem.Mol
        A SMILES string, or a molecule already parsed (saves a parse).

    Returns
    -------
    dict of str to float
        Every value is NaN when the SMILES is invalid or missing (None, NaN); a single property that RDKit fails
        to compute is NaN, never 0.

    Raises
    ------
    TypeError
        If ``smiles`` is a collection (list, tuple, array, Series): it was read as one
        invalid molecule, all NaN. :func:`molvae.generation.compute_properties` takes many.
    """
    _refuse_many(smiles, "properties")
    mol = smiles if isinstance(smiles, Chem.Mol) else to_mol(smiles)  # NaN, None, ...: no molecule
    out = dict.fromkeys(PROPERTY_NAMES, math.nan)
    if mol is None or mol.GetNumAtoms() == 0:
        return out
    try:
        # QED's descriptor set includes Crippen logP (RDKit computes it with Crippen.MolLogP),
        # so both come from one pass; QED (alerts and logP first) is most of this function's cost
        qed_props = qed_properties(mol)
        out["qed"] = float(QED.qed(mol, qedProperties=qed_props))
        out["logp"] = float(qed_props.ALOGP)
    except Exception as exc:  # a failed property is NaN, and said so
        log.debug("QED/logP failed for %s: %s", Chem.MolToSmiles(mol), exc)
    calcs = {
        "sa": sascorer.calculateScore,
        "mw": Descriptors.MolWt,
        "tpsa": rdMolDescriptors.CalcTPSA,
        "hbd": rdMolDescriptors.CalcNumHBD,
        "hba": rdMolDescriptors.CalcNumHBA,
        "rings": rdMolDescriptors.CalcNumRings,
        "heavy_atoms": lambda m: m.GetNumHeavyAtoms(),
    }
    for name, fn in calcs.items():
        try:
            out[name] = float(fn(mol))
        except Exception as exc:  # a failed property is NaN, and said so
            log.debug("property %s failed for %s: %s", name, Chem.MolToSmiles(mol), exc)
    if math.isnan(out["logp"]):
        with contextlib.suppress(Exception):
            out["logp"] = float(Crippen.MolLogP(mol))
    # penalized logP from the logP and SA just computed (NaN propagates)
    out["penalized_logp"] = out["logp"] - out["sa"] - _cycle_penalty(mol)
    return out


def morgan_fingerprint(smiles_or_mol):
    """Morgan fingerprint, radius 2, 2048 bits (RDKit ExplicitBitVect); ``None`` if invalid
    (also for a missing value: None, NaN).

    Raises
    ------
    TypeError
        If given a collection (list, tuple, array, Series) instead of one molecule: it
        gave None, as for an invalid molecule.
    """
    _refuse_many(smiles_or_mol, "morgan_fingerprint", "")
    mol = smiles_or_mol if isinstance(smiles_or_mol, Chem.Mol) else to_mol(smiles_or_mol)
    if mol is None:
        return None
    return _MORGAN.GetFingerprint(mol)


def tanimoto(query: str, others: Iterable[str]) -> np.ndarray:
    """Tanimoto similarity of Morgan fingerprints (r=2, 2048 bits).

    Parameters
    ----------
    query : str
        SMILES.
    others : str or iterable of str
        SMILES, length ``n``; a single string is one molecule (n = 1).

    Returns
    -------
    ndarray, shape (n,)
        NaN where either molecule is invalid or missing (None, NaN).

    Raises
    ------
    TypeError
        If ``others`` is neither a string nor iterable, or ``query`` is a collection
        (``tanimoto(["CCO"], others)`` gave all NaN, as for an invalid query).
    """
    _refuse_many(query, "tanimoto's query", " (the molecules compared with it may be many)")
    others = as_smiles_list(others)
    fq = morgan_fingerprint(query)
    out = np.full(len(others), np.nan)
    if fq is None:
        return out
    for i, s in enumerate(others):
        f = morgan_fingerprint(s)
        if f is not None:
            out[i] = DataStructs.TanimotoSimilarity(fq, f)
    return out


def as_smiles_list(smiles: str | Iterable[str], what: str | None = None) -> list:
    """Molecules given as "a SMILES string or a sequence of them", as a list.

    A single string is one molecule: ``list("CCO")`` would be the three molecules C, C
    and O. The functions of molvae that take either form go through this.

    Parameters
    ----------
    smiles : str or iterable of str
        One SMILES string, or any iterable of them (list, tuple, numpy array, pandas
        Series, taken by position, generator).
    what : str, optional
        The function the molecules were given to, named in the error (``encode``).

    Returns
    -------
    list
        ``[smiles]`` for a string, else ``list(smiles)``.

    Raises
    ------
    TypeError
        If ``smiles`` is neither a string nor iterable (``None``, a number), is
        ``bytes`` (iterating gave one integer per byte), or is a DataFrame or an array
        that is not 1-D (a DataFrame gave its column names as molecules): the message
        says what was expected and names the function when ``what`` is given.
    """
    if isinstance(smiles, str):
        return [smiles]
    # None: "'NoneType' object is not iterable", naming nothing; bytes: one molecule per byte,
    # each an int ("not a SMILES string (int): '67'")
    if not isinstance(smiles, Iterable) or isinstance(smiles, (bytes, bytearray)):
        who = what if what is not None else "molecules must be given as"
        hint = " (decode bytes to str first)" if isinstance(smiles, (bytes, bytearray)) else ""
        raise TypeError(f"{who} {'takes ' if what is not None else ''}a SMILES string or a sequence of them, got {type(smiles).__name__}{hint}")
    # a DataFrame iterates over its column names (validity(df) scored the names), a 2-D
    # array over its rows
    if hasattr(smiles, "columns") or getattr(smiles, "ndim", 1) != 1:
        who = what if what is not None else "molecules must be given as"
        shape = f" of shape {tuple(smiles.shape)}" if hasattr(smiles, "shape") else ""
        advice = "pass the string itself (.item())" if getattr(smiles, "ndim", 1) == 0 else "pass one column, as df['smiles']"
        raise TypeError(
            f"{who} {'takes ' if what is not None else ''}a SMILES string or a sequence of them, got a "
            f"{type(smiles).__name__}{shape}; {advice}"
        )
    return list(smiles)


def smiles_hash(canonical: str) -> int:
    """48-bit hash (BLAKE2b) of a canonical SMILES, used for compact novelty look-ups.

    Parameters
    ----------
    canonical : str
        RDKit canonical SMILES (hashed as UTF-8 text, so ``OCC`` and ``CCO`` differ).

    Returns
    -------
    int
        From 0 to 2**48 - 1.

    Raises
    ------
    TypeError
        If ``canonical`` is not a string (None gave "'NoneType' object has no attribute
        'encode'").
    """
    if not isinstance(canonical, str):
        raise TypeError(f"smiles_hash takes a canonical SMILES string, got {type(canonical).__name__}")
    return int.from_bytes(hashlib.blake2b(canonical.encode(), digest_size=6).digest(), "little")
