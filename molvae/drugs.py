"""A registry of approved small-molecule drugs shipped with molvae.

The table lives in ``molvae/assets/drugs.csv``, one row per drug, so that every row can
be read and checked by hand. Its columns are:

``name``
    International non-proprietary name (INN) or the common English name.
``synonyms``
    Other names, separated by semicolons: US names (acetaminophen, albuterol),
    abbreviations (ASA, 5-FU), brand names (Tylenol, Viagra).
``smiles``
    The parent compound (free acid or base) of a drug sold as a salt or hydrate. Where
    the approved drug is a single stereoisomer, the SMILES gives its configuration. Each
    such configuration was checked against the drug's CIP descriptors (R/S, E/Z) with
    RDKit's CIP labeler, and ``notes`` records it. Racemates, and the few drugs whose
    stereo is left out, have flat SMILES, and ``notes`` says "stereo omitted".
``formula``
    Molecular formula in Hill order. It was written from knowledge of the drug, not
    computed from the SMILES. ``tests/unit/test_drugs.py`` checks that it has the same
    composition as RDKit's formula for the SMILES, which catches a wrong SMILES.
``chembl_id``
    ChEMBL identifier of the parent compound. An empty field means the identifier is
    unknown, not that the drug is missing from ChEMBL.
``chembl_checked``
    ``yes`` where a stored copy of a public source showed this identifier for the drug;
    ``data/drugs_chembl_sources.csv`` names the page or file for each. All 225 rows are
    checked. 130 identifiers were checked against reference pages about the drug (mostly
    revisions of its Wikipedia drugbox; for two drugs, Open Targets' table of FDA
    approvals on GitHub, at a fixed commit). The other 95 were checked against an export
    of DrugBank's structure links (name, DrugBank id and ChEMBL id of each drug) kept in a
    GitHub repository, at a fixed commit: 59 identifiers first recorded from memory agree
    with it, and 34 rows that had no identifier were filled from it. Two identifiers
    recorded from memory were wrong and were replaced: methotrexate (CHEMBL34, now
    CHEMBL34259) and ranitidine (CHEMBL1790, now CHEMBL1790041). For both, the DrugBank
    export and ChEMBL 36's list of compound names (as exported by biopragmatics'
    obo-db-ingest, at a fixed commit; the sources file cites it for these two) agree on
    the new identifier, and ChEMBL 36 names no compound with the old one. For ranitidine
    one stored drugbox copy showed CHEMBL512 instead, which ChEMBL 36 also leaves
    unnamed. Every source was read as a stored copy, none live; check an identifier
    against ChEMBL before relying on it. A row added later without a source stays
    unchecked, and ``molvae drugs`` marks its identifier ``(unchecked)``.
``notes``
    Stereo, salt or hydrate form, and other caveats.

Name lookups (:func:`find_drug`, :func:`resolve_molecule`) ignore case and surrounding
whitespace, and they accept any synonym. No name or synonym belongs to two drugs.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "Drug",
    "UnknownDrugError",
    "load_drugs",
    "find_drug",
    "search_drugs",
    "resolve_molecule",
    "missing_tokens",
    "too_long",
    "is_covered",
]

#: Columns of ``assets/drugs.csv``, in order.
COLUMNS = ("name", "synonyms", "smiles", "formula", "chembl_id", "chembl_checked", "notes")


class UnknownDrugError(ValueError):
    """A name matches no drug in the registry, or a text is neither a drug name nor a SMILES."""


@dataclass(frozen=True)
class Drug:
    """One row of the drug registry.

    Attributes
    ----------
    name : str
        Main name (INN or common English name).
    synonyms : tuple of str
        Other accepted names (US names, abbreviations, brand names).
    smiles : str
        SMILES of the parent compound; isomeric where the approved drug is one stereoisomer.
    formula : str
        Molecular formula (Hill order) of ``smiles``.
    chembl_id : str or None
        ChEMBL identifier; ``None`` where it is unknown.
    chembl_checked : bool
        Whether a stored public source showed ``chembl_id`` for this drug (otherwise it
        was recorded from memory and is unchecked).
    notes : str
        Stereo, salt form and other caveats (may be empty).
    """

    name: str
    synonyms: tuple[str, ...]
    smiles: str
    formula: str
    chembl_id: str | None
    chembl_checked: bool = False
    notes: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the synonyms."""
        return (self.name, *self.synonyms)


def _key(text: str) -> str:
    """Lookup key: surrounding whitespace removed, inner whitespace collapsed, case folded."""
    return " ".join(str(text).split()).casefold()


def _parse(text: str) -> tuple[Drug, ...]:
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise RuntimeError(f"drugs.csv has columns {reader.fieldnames}, expected {list(COLUMNS)}")
    drugs = []
    for row in reader:
        drugs.append(
            Drug(
                name=row["name"].strip(),
                synonyms=tuple(s.strip() for s in row["synonyms"].split(";") if s.strip()),
                smiles=row["smiles"].strip(),
                formula=row["formula"].strip(),
                chembl_id=row["chembl_id"].strip() or None,
                chembl_checked=_checked(row["chembl_checked"], row["name"]),
                notes=row["notes"].strip(),
            )
        )
    return tuple(drugs)


def _checked(value: str, name: str) -> bool:
    value = value.strip()
    if value not in ("", "yes"):
        raise RuntimeError(f"drugs.csv: chembl_checked of {name} must be 'yes' or empty, got {value!r}")
    return value == "yes"


@functools.lru_cache(maxsize=1)
def _registry() -> tuple[Drug, ...]:
    text = resources.files("molvae").joinpath("assets", "drugs.csv").read_text(encoding="utf-8")
    return _parse(text)


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Drug]:
    index: dict[str, Drug] = {}
    for drug in _registry():
        for name in drug.names:
            other = index.setdefault(_key(name), drug)
            if other is not drug:
                raise RuntimeError(f"drugs.csv: name {name!r} is used by both {other.name!r} and {drug.name!r}")
    return index


def load_drugs() -> list[Drug]:
    """All drugs of the registry, in table order (alphabetical by name).

    The table is read once, then served from a cache.

    Returns
    -------
    list of Drug
    """
    return list(_registry())


def _suggestions(text: str, n: int = 3) -> list[str]:
    """Display names close to ``text`` (the drug's own spelling, best first)."""
    index = _index()
    display = {_key(name): name for drug in _registry() for name in drug.names}
    return [display[k] for k in difflib.get_close_matches(_key(text), list(index), n=n, cutoff=0.6)]


def _hint(text: str) -> str:
    close = _suggestions(text)
    if close:
        return "; did you mean " + ", ".join(repr(c) for c in close) + "?"
    return " (`molvae drugs` lists the known drugs)"


def find_drug(name: str) -> Drug:
    """Look a drug up by name or synonym.

    Parameters
    ----------
    name : str
        A name or synonym. Case and surrounding whitespace are ignored.

    Returns
    -------
    Drug

    Raises
    ------
    UnknownDrugError
        If no drug has this name (or ``name`` is not a string). The one-line message
        suggests close names.

    Examples
    --------
    >>> find_drug("  Tylenol ").name
    'paracetamol'
    """
    if not isinstance(name, str):  # None was looked up as 'None' (did you mean 'nicotine'?)
        raise UnknownDrugError(f"expected a drug name, got {type(name).__name__} {name!r}")
    drug = _index().get(_key(name))
    if drug is None:
        raise UnknownDrugError(f"unknown drug name {name.strip()!r}{_hint(name)}")
    return drug


def search_drugs(text: str) -> list[Drug]:
    """Drugs whose name or a synonym contains ``text``, ignoring case.

    Parameters
    ----------
    text : str
        Substring to look for. An empty or blank string matches every drug.

    Returns
    -------
    list of Drug
        In table order; empty if nothing matches.

    Raises
    ------
    TypeError
        If ``text`` is not a string (None found nothing and 5 found the drugs with a 5
        in a name, as if they had been strings).
    """
    if not isinstance(text, str):
        raise TypeError(f"search_drugs takes a string, got {type(text).__name__} {text!r}")
    key = _key(text)
    return [d for d in _registry() if any(key in _key(n) for n in d.names)]


def resolve_molecule(text: str) -> tuple[str, str | None]:
    """Turn a drug name or a SMILES string into a SMILES string.

    A registry name or synonym wins over a SMILES reading of the same text.

    Parameters
    ----------
    text : str
        Drug name or synonym (any case), or a SMILES string.

    Returns
    -------
    smiles : str
        The registry SMILES for a drug name; otherwise the input without surrounding
        whitespace.
    drug_name : str or None
        The drug's main name, or ``None`` when ``text`` was read as a SMILES string.

    Raises
    ------
    UnknownDrugError
        If ``text`` is not a string, or neither a known drug name nor a SMILES string that RDKit can parse;
        a text that is not a drug name and has whitespace inside is refused (RDKit would
        read what follows the first space as a title and drop it).
    """
    if not isinstance(text, str):  # 5 or None was called "empty input"
        raise UnknownDrugError(f"expected a drug name or a SMILES string, got {type(text).__name__} {text!r}")
    if not text.strip():
        raise UnknownDrugError("empty input: give a drug name or a SMILES string")
    drug = _index().get(_key(text))
    if drug is not None:
        return drug.smiles, drug.name
    from molvae.chem import to_mol

    smiles = text.strip()
    if any(c.isspace() for c in smiles):
        # RDKit would read 'CCO CCN' as CCO titled 'CCN' and silently drop the rest
        close = _suggestions(text)
        hint = "; did you mean " + ", ".join(repr(c) for c in close) + "?" if close else "; `molvae drugs` lists the known drugs)"
        raise UnknownDrugError(f"{smiles!r} is neither a known drug name nor a valid SMILES (a SMILES has no spaces" + (")" + hint if close else hint))
    mol = to_mol(smiles)
    if mol is not None and mol.GetNumAtoms() > 0:
        return smiles, None
    raise UnknownDrugError(f"{smiles!r} is neither a known drug name nor a valid SMILES{_hint(text)}")


def missing_tokens(vae, smiles: str) -> list[str]:
    """SELFIES tokens of a molecule that a model's alphabet lacks, checked per fragment.

    Common counterions and solvents (RDKit's ``rdMolStandardize.FragmentRemover`` list:
    ``[Na+]``, ``Cl``, water ...) are removed first, as encoding would drop them anyway
    (it keeps the largest fragment). Each remaining fragment is then checked, not only
    the largest: :meth:`molvae.vae.MolVAE.coverage` standardizes a molecule to its largest
    fragment, and for a registry SMILES such as cisplatin (``N.N.Cl[Pt]Cl``) that would
    be ammonia, so the metal would go unnoticed.

    Parameters
    ----------
    vae : molvae.vae.MolVAE
        A loaded model.
    smiles : str

    Returns
    -------
    list of str
        Missing tokens in order of first appearance; empty if the alphabet covers the
        molecule (salts included: sodium acetate is covered when acetate is).

    Raises
    ------
    molvae.chem.InvalidMoleculeError
        If a fragment cannot be parsed or SELFIES-encoded.
    """
    missing: dict[str, None] = {}
    for fragment in _fragments(smiles):
        missing.update(dict.fromkeys(vae.coverage(fragment)))
    return list(missing)


def _fragments(smiles: str) -> Sequence[str]:
    """The fragments of a SMILES once common counterions and solvents are removed
    (RDKit's ``FragmentRemover``, which keeps the last fragment when all are on its list).

    A SMILES without a dot is one fragment, as given; with dots, the fragments are
    RDKit's canonical SMILES (the text split at its dots when RDKit cannot parse it).
    Anything but a string is one fragment too, for the caller's parser to refuse
    (``"." in None`` was a bare TypeError).
    """
    if not isinstance(smiles, str) or "." not in smiles:
        return (smiles,)
    from rdkit import Chem
    from rdkit.Chem.MolStandardize import rdMolStandardize

    from molvae.chem import quiet_rdkit, to_mol

    mol = to_mol(smiles)
    if mol is not None:
        with quiet_rdkit():
            smiles = Chem.MolToSmiles(rdMolStandardize.FragmentRemover().remove(mol))
    return smiles.split(".")


def too_long(vae, smiles: str) -> str | None:
    """Why a molecule has more SELFIES tokens than a model allows, or None if it has not.

    The molecule is encoded as :meth:`molvae.vae.MolVAE.tokenize` encodes it
    (standardized, largest fragment, stereo removed when the alphabet has none), with
    :meth:`molvae.alphabet.Alphabet.encode`'s own length rule, so this and encoding cannot
    disagree; the stereo-removal log lines of ``tokenize`` are not written.

    Parameters
    ----------
    vae : molvae.vae.MolVAE
    smiles : str
        A molecule whose tokens the alphabet covers (see :func:`missing_tokens`).

    Returns
    -------
    str or None
        ``'N SELFIES tokens, more than M'``, or None.

    Raises
    ------
    molvae.chem.InvalidMoleculeError
        If the molecule cannot be parsed or SELFIES-encoded.
    molvae.alphabet.UnknownTokenError
        If the alphabet lacks one of its tokens.
    """
    from molvae.alphabet import SequenceTooLongError
    from molvae.data import to_selfies

    try:
        vae.alphabet.encode(to_selfies(smiles, remove_stereo=not vae.alphabet.has_stereo)[1], molecule=smiles)
    except SequenceTooLongError as exc:
        return f"{exc.length} SELFIES tokens, more than {exc.max_length}"
    return None


def is_covered(vae, smiles: str) -> bool:
    """Whether a model can encode a molecule: every SELFIES token in its alphabet
    (:func:`missing_tokens`, salts stripped) and not too long (:func:`too_long`).

    This is the "covered" of ``molvae drugs``; ``interpolate`` and ``analogs`` refuse the
    drugs it says no to.

    Parameters
    ----------
    vae : molvae.vae.MolVAE
    smiles : str

    Returns
    -------
    bool

    Raises
    ------
    molvae.chem.InvalidMoleculeError
        If the molecule cannot be parsed or SELFIES-encoded.
    """
    return not missing_tokens(vae, smiles) and too_long(vae, smiles) is None
