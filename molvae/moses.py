"""The MOSES distribution-learning metrics, reimplemented for today's RDKit, NumPy and pandas.

MOSES (Polykovskiy et al. 2020, "Molecular Sets (MOSES): A Benchmarking Platform for
Molecular Generation Models", Front. Pharmacol. 11:565644) defines the metrics below; its
reference code (``molsets`` 0.3.1, ``moses/metrics``) no longer runs on current pandas and
RDKit. This module is an independent implementation of the same definitions, with the same
choices as that code so that the numbers agree (``tests/unit/test_moses_metrics.py`` checks
them against values produced by the reference code, see ``data/moses_reference_values.py``):

* **validity**: fraction of the samples that RDKit parses and sanitizes (``MolFromSmiles``
  followed by ``SanitizeMol``); empty strings and non-strings are invalid.
* The valid samples are then **canonicalized** (``MolToSmiles``) and parsed again from the
  canonical SMILES; duplicates are kept. Every metric below uses these molecules.
* **unique@k**: distinct canonical SMILES among the first ``k`` valid samples, divided by
  ``k`` (undefined here when fewer than ``k`` samples are valid; MOSES warns and divides by
  the smaller number).
* **novelty**: fraction of the distinct valid molecules whose canonical SMILES is not in the
  training set (the training SMILES are canonicalized too; MOSES compares with the training
  strings as given, which is the same thing for the MOSES training set, whose SMILES are
  RDKit-canonical).
* **FCD**: Fréchet ChemNet Distance (Preuer et al. 2018) of the canonical SMILES, with
  ``fcd_torch`` (ChemNet activations, mean and covariance; at least 2 molecules).
* **SNN**: mean over the generated molecules of the largest Tanimoto similarity to a
  reference molecule; Morgan fingerprints of radius 2 folded to 1024 bits (RDKit, the bit
  vector of ``GetMorganFingerprintAsBitVect(mol, 2, nBits=1024)``); two all-zero
  fingerprints have similarity 1.
* **Frag** / **Scaf**: cosine similarity of the count vectors of BRICS fragments
  (``FragmentOnBRICSBonds``, canonical SMILES of the pieces, attachment points included) and
  of Bemis-Murcko scaffolds (``MurckoScaffold.GetScaffoldForMol``; scaffolds with fewer than
  two rings are not counted), generated vs reference; undefined when either side is empty.
* **IntDiv_p** (p = 1, 2): ``1 - mean_j ((1/n) sum_i T(i, j)^p)^(1/p)`` over all ordered pairs
  of generated molecules, ``i = j`` included, with the SNN fingerprints. For p = 2 this is the
  formula of the reference code (the power mean is taken per molecule, then averaged), which
  produced the published tables; the paper writes ``1 - sqrt(mean_ij T^2)``.
* **Filters**: fraction of molecules that have no ring of 8 or more atoms, no charged atom,
  only C, N, S, O, F, Cl, Br and H, match none of the MCF and PAINS SMARTS (tested on the
  molecule with explicit hydrogens), and whose non-isomeric SMILES parses again: the rules
  the MOSES data set itself was filtered with.
* **logP / SA / QED / weight**: 1-Wasserstein distance (``scipy.stats.wasserstein_distance``)
  between the property values of the generated and reference molecules: Crippen logP, the
  synthetic-accessibility score (Ertl & Schuffenhauer 2009, RDKit Contrib ``sascorer``),
  QED (Bickerton et al. 2012) and average molecular weight (``Descriptors.MolWt``).

A metric that cannot be computed (no valid molecule, fewer than ``k`` for unique@k, no
training set for novelty, ...) is ``None``, never an exception.

Reference statistics of MOSES test and test-scaffolds ship with molvae, converted by
``data/reference_stats.py`` from the statistics MOSES itself ships (so the reference side is
exactly MOSES's): the FCD mean and covariance, fragment and scaffold counts, the sorted
property values, and the reference SMILES. Their 176k Morgan fingerprints (22 MB as bits) are
not shipped: they are computed from the shipped SMILES on first use (about a minute) and
cached under ``$MOLVAE_CACHE/moses`` (default ``~/.cache/molvae/moses``); the 6 per set that
today's RDKit computes differently from MOSES's (fused azole systems whose aromaticity
perception changed) are replaced by MOSES's, which ship. Statistics of a user's reference file, and the canonical
training set for novelty, are cached there too, keyed by the file's content.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import multiprocessing as mp
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator, rdmolops
from rdkit.Chem.Scaffolds import MurckoScaffold
from rdkit.Contrib.SA_Score import sascorer

from molvae.checks import check_n_jobs, is_integer
from molvae.chem import MAX_SMILES_LENGTH, as_smiles_list, quiet_rdkit
from molvae.data import save_cache_file, sha256_of_file

__all__ = [
    "METRICS",
    "HIGHER_IS_BETTER",
    "MOSES_BASELINES",
    "moses_baseline",
    "REFERENCE_METRICS",
    "REFERENCES",
    "PROPERTIES",
    "ReferenceStats",
    "SampleStats",
    "evaluate",
    "sample_statistics",
    "read_samples",
    "reference_statistics",
    "compute_reference_statistics",
    "fingerprints",
    "snn",
    "internal_diversity",
    "internal_diversities",
    "cosine_similarity",
    "fragments",
    "scaffold",
    "passes_filters",
    "unique_at_k",
]

log = logging.getLogger(__name__)

#: Keys of the dict returned by :func:`evaluate`, in display order.
METRICS = (
    "validity",
    "unique@1k",
    "unique@10k",
    "novelty",
    "FCD",
    "SNN",
    "Frag",
    "Scaf",
    "IntDiv1",
    "IntDiv2",
    "Filters",
    "logP",
    "SA",
    "QED",
    "weight",
)
#: The MOSES reference sets shipped with molvae.
REFERENCES = ("test", "test_scaffolds")
#: Properties compared with the 1-Wasserstein distance.
PROPERTIES = ("logP", "SA", "QED", "weight")

#: Whether a larger value is better, per metric.
HIGHER_IS_BETTER = {m: m not in ("FCD", "logP", "SA", "QED", "weight") for m in METRICS}

#: Baselines of the MOSES paper (Polykovskiy et al. 2020, Front. Pharmacol. 11:565644): mean and
#: standard deviation over three runs of each model, 30,000 samples per run. Transcribed from
#: the results table of the MOSES README (github.com/molecularsets/moses, the version that cites
#: the 2020 paper). FCD, SNN, Frag and Scaf have one value against MOSES test (``/Test``) and
#: one against test-scaffolds (``/TestSF``). The property distances (logP, SA, QED, weight)
#: are not in that table and are deliberately not given here.
MOSES_BASELINES: dict[str, dict[str, tuple[float, float]]] = {
    "CharRNN": {
        "validity": (0.9748, 0.0264), "unique@1k": (1.0, 0.0), "unique@10k": (0.9994, 0.0003),
        "FCD/Test": (0.0732, 0.0247), "FCD/TestSF": (0.5204, 0.0379),
        "SNN/Test": (0.6015, 0.0206), "SNN/TestSF": (0.5649, 0.0142),
        "Frag/Test": (0.9998, 0.0002), "Frag/TestSF": (0.9983, 0.0003),
        "Scaf/Test": (0.9242, 0.0058), "Scaf/TestSF": (0.1101, 0.0081),
        "IntDiv1": (0.8562, 0.0005), "IntDiv2": (0.8503, 0.0005),
        "Filters": (0.9943, 0.0034), "novelty": (0.8419, 0.0509),
    },
    "VAE": {
        "validity": (0.9767, 0.0012), "unique@1k": (1.0, 0.0), "unique@10k": (0.9984, 0.0005),
        "FCD/Test": (0.099, 0.0125), "FCD/TestSF": (0.567, 0.0338),
        "SNN/Test": (0.6257, 0.0005), "SNN/TestSF": (0.5783, 0.0008),
        "Frag/Test": (0.9994, 0.0001), "Frag/TestSF": (0.9984, 0.0003),
        "Scaf/Test": (0.9386, 0.0021), "Scaf/TestSF": (0.0588, 0.0095),
        "IntDiv1": (0.8558, 0.0004), "IntDiv2": (0.8498, 0.0004),
        "Filters": (0.997, 0.0002), "novelty": (0.6949, 0.0069),
    },
    "AAE": {
        "validity": (0.9368, 0.0341), "unique@1k": (1.0, 0.0), "unique@10k": (0.9973, 0.002),
        "FCD/Test": (0.5555, 0.2033), "FCD/TestSF": (1.0572, 0.2375),
        "SNN/Test": (0.6081, 0.0043), "SNN/TestSF": (0.5677, 0.0045),
        "Frag/Test": (0.991, 0.0051), "Frag/TestSF": (0.9905, 0.0039),
        "Scaf/Test": (0.9022, 0.0375), "Scaf/TestSF": (0.0789, 0.009),
        "IntDiv1": (0.8557, 0.0031), "IntDiv2": (0.8499, 0.003),
        "Filters": (0.996, 0.0006), "novelty": (0.7931, 0.0285),
    },
    "JTN-VAE": {
        "validity": (1.0, 0.0), "unique@1k": (1.0, 0.0), "unique@10k": (0.9996, 0.0003),
        "FCD/Test": (0.3954, 0.0234), "FCD/TestSF": (0.9382, 0.0531),
        "SNN/Test": (0.5477, 0.0076), "SNN/TestSF": (0.5194, 0.007),
        "Frag/Test": (0.9965, 0.0003), "Frag/TestSF": (0.9947, 0.0002),
        "Scaf/Test": (0.8964, 0.0039), "Scaf/TestSF": (0.1009, 0.0105),
        "IntDiv1": (0.8551, 0.0034), "IntDiv2": (0.8493, 0.0035),
        "Filters": (0.976, 0.0016), "novelty": (0.9143, 0.0058),
    },
}


#: The metrics whose value depends on the reference set (MOSES reports /Test and /TestSF).
REFERENCE_METRICS = ("FCD", "SNN", "Frag", "Scaf")


def moses_baseline(model: str, metric: str, reference: str | None = "test") -> tuple[float, float] | None:
    """A MOSES paper baseline (mean, std) for one of :data:`METRICS`, or ``None`` if not published.

    Parameters
    ----------
    model : {"CharRNN", "VAE", "AAE", "JTN-VAE"}
    metric : str
        A key of :data:`METRICS`.
    reference : {"test", "test_scaffolds"} or None
        Picks the ``/Test`` or ``/TestSF`` value of FCD, SNN, Frag and Scaf. None stands
        for a reference set of the user's own: those four then have no baseline (None),
        since the paper measured them against MOSES's sets only.

    Raises
    ------
    ValueError
        If ``model`` is not one of :data:`MOSES_BASELINES` or ``reference`` is not one of
        :data:`REFERENCES` or None (a mistyped 'test_scaffold' used to give the /Test
        values, an unknown model a bare KeyError).
    """
    if model not in MOSES_BASELINES:
        raise ValueError(f"no MOSES baseline for model {model!r}: use one of {', '.join(MOSES_BASELINES)}")
    if reference is not None and reference not in REFERENCES:
        raise ValueError(f"unknown MOSES reference {reference!r}: use one of {', '.join(REFERENCES)}, or None for another reference set")
    table = MOSES_BASELINES[model]
    if metric in REFERENCE_METRICS:
        if reference is None:
            return None
        metric = f"{metric}/{'TestSF' if reference == 'test_scaffolds' else 'Test'}"
    return table.get(metric)


FP_BITS = 1024
FP_BYTES = FP_BITS // 8
_STATS_VERSION = 1
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FP_BITS)
_ALLOWED_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})
_PROPERTY_FUNCS = {
    "logP": Crippen.MolLogP,
    "SA": sascorer.calculateScore,
    "QED": QED.qed,
    "weight": Descriptors.MolWt,
}


# ---------------------------------------------------------------------- molecules
def _get_mol(smiles) -> Chem.Mol | None:
    """MOSES's parser: ``MolFromSmiles`` then ``SanitizeMol``; ``None`` for empty/invalid,
    and for a SMILES longer than :data:`molvae.chem.MAX_SMILES_LENGTH` characters (RDKit's
    SMILES writer, used on every valid sample, overflows the C stack on a chain of about
    19,000 atoms and kills the process)."""
    if not isinstance(smiles, str) or not smiles or len(smiles) > MAX_SMILES_LENGTH:
        return None
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises several C++-mapped types
        return None
    return mol


_FILTERS: list | None = None
_SCREEN: _FilterScreen | None = None


def _filter_patterns() -> list:
    """The MCF (23) and PAINS (479) SMARTS that MOSES filters with, parsed once."""
    global _FILTERS, _SCREEN
    if _FILTERS is None:
        import csv
        from importlib import resources

        # moses_mcf.csv and moses_wehi_pains.csv are data files copied unchanged from the MOSES
        # package (molsets 0.3.1, moses/metrics/mcf.csv and wehi_pains.csv), MIT licence,
        # Copyright 2018 Insilico Medicine; see molvae/assets/MOSES_LICENSE.txt.
        assets = resources.files("molvae") / "assets"
        smarts = []
        with (assets / "moses_mcf.csv").open() as fh:  # header: names,smarts
            smarts += [row["smarts"] for row in csv.DictReader(fh)]
        with (assets / "moses_wehi_pains.csv").open() as fh:  # no header: smarts,names
            smarts += [row[0] for row in csv.reader(fh) if row]
        patterns = [Chem.MolFromSmarts(s.strip()) for s in smarts]
        if any(p is None for p in patterns):  # pragma: no cover - would be a broken asset
            raise RuntimeError("RDKit cannot parse a MOSES filter SMARTS")
        _FILTERS = patterns
        _SCREEN = _FilterScreen(patterns)
    return _FILTERS


def _query_tree(description: str):
    """Parse RDKit's ``DescribeQuery`` text (two spaces of indent per level) into (name, children)."""
    lines = [line for line in description.split("\n") if line.strip()]

    def parse(i: int, depth: int):
        children, j = [], i + 1
        while j < len(lines) and (len(lines[j]) - len(lines[j].lstrip())) // 2 > depth:
            child, j = parse(j, depth + 1)
            children.append(child)
        return (lines[i].strip(), children), j

    return parse(0, 0)[0] if lines else ("", [])


def _conjuncts(node) -> Iterator[str]:
    """The leaves of a query that every match must satisfy (through AND nodes only)."""
    name, children = node
    if name in ("AtomAnd", "BondAnd"):
        for child in children:
            yield from _conjuncts(child)
    else:
        yield name


class _FilterScreen:
    """Exact pre-screen of the filter SMARTS: counts a molecule must reach for a pattern to match.

    A substructure match maps the pattern's atoms one-to-one onto atoms of the molecule, and
    its bonds onto distinct bonds. So if every match of a query atom must be, say, an aromatic
    nitrogen, the molecule needs at least as many aromatic nitrogens as the pattern has such
    atoms; likewise for elements, and for bonds of a required order between required elements.
    Only requirements that hold for every match are used (leaves reached through AND nodes:
    ``AtomAtomicNum``, ``AtomType`` (element + 1000 if aromatic), ``BondOrder``), so a pattern
    screened out cannot match: the screen changes the speed, never the result. Patterns that
    require a charged atom are screened out too, since :func:`passes_filters` only gets to the
    SMARTS with neutral molecules. The count keys: ``("el", Z)``, ``("ar"|"al", Z)``,
    ``("b", order)`` and ``("b", order, Z1, Z2)`` with ``Z1 <= Z2``.
    """

    def __init__(self, patterns: list):
        reqs = [self._requirements(p) for p in patterns]
        keys = sorted({k for r in reqs if r for k in r}, key=str)
        self.index = {k: i for i, k in enumerate(keys)}
        self.need = np.zeros((len(patterns), len(keys)), dtype=np.int32)
        for i, r in enumerate(reqs):
            for k, n in (r or {}).items():
                self.need[i, self.index[k]] = n
        self.possible = np.array([r is not None for r in reqs])

    @staticmethod
    def _requirements(pattern) -> Counter | None:
        need: Counter = Counter()
        element: dict[int, int | None] = {}
        for atom in pattern.GetAtoms():
            z = aromatic = None
            for leaf in _conjuncts(_query_tree(atom.DescribeQuery())):
                parts = leaf.split()
                if len(parts) != 4 or parts[2:] != ["=", "val"]:
                    continue  # negations, OR nodes, recursive SMARTS, ... constrain nothing here
                kind, value = parts[0], int(parts[1])
                if kind == "AtomAtomicNum":
                    z = value
                elif kind == "AtomType":
                    z, aromatic = value % 1000, value >= 1000
                elif kind == "AtomFormalCharge" and value != 0:
                    return None  # needs a charged atom: never matches a neutral molecule
            element[atom.GetIdx()] = z
            if z is not None:
                need[("el", z)] += 1
                if aromatic is not None:
                    need[("ar" if aromatic else "al", z)] += 1
        for bond in pattern.GetBonds():
            order = None
            for leaf in _conjuncts(_query_tree(bond.DescribeQuery())):
                parts = leaf.split()
                if len(parts) == 4 and parts[0] == "BondOrder" and parts[2:] == ["=", "val"]:
                    order = int(parts[1])
            if order is None:
                continue
            need[("b", order)] += 1
            z1, z2 = element[bond.GetBeginAtomIdx()], element[bond.GetEndAtomIdx()]
            if z1 is not None and z2 is not None:
                need[("b", order, min(z1, z2), max(z1, z2))] += 1
        return need

    def candidates(self, h_mol) -> np.ndarray:
        """Indices of the patterns that could match ``h_mol`` (a neutral molecule)."""
        have = np.zeros(len(self.index), dtype=np.int32)
        index = self.index
        for atom in h_mol.GetAtoms():
            z = atom.GetAtomicNum()
            for k in (("el", z), ("ar" if atom.GetIsAromatic() else "al", z)):
                i = index.get(k)
                if i is not None:
                    have[i] += 1
        for bond in h_mol.GetBonds():
            order = int(bond.GetBondType())
            z1, z2 = bond.GetBeginAtom().GetAtomicNum(), bond.GetEndAtom().GetAtomicNum()
            for k in (("b", order), ("b", order, min(z1, z2), max(z1, z2))):
                i = index.get(k)
                if i is not None:
                    have[i] += 1
        return np.flatnonzero(self.possible & (self.need <= have).all(axis=1))


def passes_filters(mol: Chem.Mol | None, *, screen: bool = True) -> bool:
    """Whether a molecule passes the MOSES filters (see the module docstring).

    The rules, in MOSES's order: no ring of 8 or more atoms, no charged atom, only C, N, S,
    O, F, Cl, Br, H, no match of an MCF or PAINS SMARTS on the molecule with explicit
    hydrogens, and a non-isomeric SMILES that RDKit reads back.

    Parameters
    ----------
    mol : rdkit.Chem.Mol or None
    screen : bool
        Skip SMARTS that cannot match by atom and bond counts (:class:`_FilterScreen`; the
        same answer, about 20 times faster). ``False`` tries every pattern.

    Returns
    -------
    bool
        False for ``None``.
    """
    if mol is None:
        return False
    ring_info = mol.GetRingInfo()
    if ring_info.NumRings() and any(len(r) >= 8 for r in ring_info.AtomRings()):
        return False
    for atom in mol.GetAtoms():
        if atom.GetFormalCharge() != 0 or atom.GetSymbol() not in _ALLOWED_ATOMS:
            return False
    patterns = _filter_patterns()
    h_mol = Chem.AddHs(mol)
    todo = _SCREEN.candidates(h_mol) if screen else range(len(patterns))
    if any(h_mol.HasSubstructMatch(patterns[i]) for i in todo):
        return False
    smiles = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smiles) and Chem.MolFromSmiles(smiles) is not None


def fragments(mol: Chem.Mol) -> list[str]:
    """BRICS fragments of a molecule: canonical SMILES of the pieces after cutting BRICS bonds."""
    return Chem.MolToSmiles(rdmolops.FragmentOnBRICSBonds(mol)).split(".")


def scaffold(mol: Chem.Mol, min_rings: int = 2) -> str | None:
    """Bemis-Murcko scaffold SMILES, or ``None`` if it has fewer than ``min_rings`` rings.

    Parameters
    ----------
    mol : rdkit.Chem.Mol
        A parsed molecule (see :func:`molvae.chem.to_mol` for SMILES).
    min_rings : int
        Fewest rings a scaffold must have to count (MOSES uses 2 for its Scaf metric).

    Returns
    -------
    str or None

    Raises
    ------
    TypeError
        If ``mol`` is not an RDKit molecule (a SMILES string or None included).
    """
    if not isinstance(mol, Chem.Mol):  # RDKit's ArgumentError names a C++ signature
        raise TypeError(f"scaffold takes an RDKit molecule (rdkit.Chem.Mol), got {type(mol).__name__}")
    try:
        scaf = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    n_rings = scaf.GetRingInfo().NumRings()
    smiles = Chem.MolToSmiles(scaf)
    if not smiles or n_rings < min_rings:
        return None
    return smiles


def _fingerprint(mol: Chem.Mol) -> np.ndarray:
    """Morgan radius 2, 1024 bits, packed into 128 bytes."""
    return np.packbits(_MORGAN.GetFingerprintAsNumPy(mol).astype(np.uint8))


def _property(name: str, mol: Chem.Mol) -> float:
    try:
        return float(_PROPERTY_FUNCS[name](mol))
    except Exception as exc:  # a failed property is left out, and said so
        log.debug("%s failed for %s: %s", name, Chem.MolToSmiles(mol), exc)
        return math.nan


@dataclass
class _Features:
    """Everything the metrics need from a list of molecules (one entry per usable molecule)."""

    fps: list = field(default_factory=list)
    frags: Counter = field(default_factory=Counter)
    scafs: Counter = field(default_factory=Counter)
    props: dict = field(default_factory=lambda: {p: [] for p in PROPERTIES})
    passes: list = field(default_factory=list)
    smiles: list = field(default_factory=list)  # the SMILES of the usable molecules

    def merge(self, other: _Features) -> None:
        self.fps += other.fps
        self.frags.update(other.frags)
        self.scafs.update(other.scafs)
        for p in PROPERTIES:
            self.props[p] += other.props[p]
        self.passes += other.passes
        self.smiles += other.smiles


def _features_chunk(args) -> tuple[list, _Features]:
    """Worker: validity, canonical SMILES and features of a chunk of SMILES.

    ``args = (smiles, canonicalize, with_filters)``. With ``canonicalize`` (generated
    molecules) each valid molecule is written as canonical SMILES and parsed again from it,
    as MOSES does; without (reference molecules) it is used as parsed.

    Returns
    -------
    canonical : list of (str or None)
        One per input: the canonical SMILES, or ``None`` if invalid.
    features : _Features
        Of the molecules that parse (again).
    """
    smiles, canonicalize, with_filters = args
    canonical: list = []
    feats = _Features()
    with quiet_rdkit():
        for s in smiles:
            mol = _get_mol(s)
            if mol is None:
                canonical.append(None)
                continue
            can = Chem.MolToSmiles(mol)
            canonical.append(can)
            if canonicalize:
                mol = _get_mol(can)
                if mol is None:  # a canonical SMILES that RDKit cannot read back: rare
                    log.debug("canonical SMILES does not parse again: %s", can)
                    continue
            feats.smiles.append(can if canonicalize else s)
            feats.fps.append(_fingerprint(mol))
            feats.frags.update(fragments(mol))
            sc = scaffold(mol)
            if sc is not None:
                feats.scafs[sc] += 1
            for p in PROPERTIES:
                feats.props[p].append(_property(p, mol))
            if with_filters:
                feats.passes.append(passes_filters(mol))
    return canonical, feats


def _chunks(items: Sequence, size: int) -> list:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _map(fn, tasks: list, pool) -> list:
    if pool is None or len(tasks) < 2:
        return [fn(t) for t in tasks]
    return pool.map(fn, tasks, chunksize=1)


def _features(smiles: Sequence, *, canonicalize: bool, with_filters: bool, pool=None, chunk: int = 1000) -> tuple[list, _Features]:
    canonical: list = []
    feats = _Features()
    if with_filters:
        _filter_patterns()  # parsed once, before workers fork
    tasks = [(list(c), canonicalize, with_filters) for c in _chunks(list(smiles), chunk)]
    for can, f in _map(_features_chunk, tasks, pool):
        canonical += can
        feats.merge(f)
    return canonical, feats


def _canonical_chunk(smiles: list) -> list:
    with quiet_rdkit():
        out = []
        for s in smiles:
            mol = _get_mol(s)
            out.append(Chem.MolToSmiles(mol) if mol is not None else None)
        return out


def _fingerprint_chunk(smiles: list, sanitize_twice: bool = True) -> np.ndarray:
    with quiet_rdkit():
        out = np.zeros((len(smiles), FP_BYTES), dtype=np.uint8)
        for i, s in enumerate(smiles):
            if sanitize_twice:
                mol = _get_mol(s)
            else:  # see fingerprints()
                mol = Chem.MolFromSmiles(s) if isinstance(s, str) and s and len(s) <= MAX_SMILES_LENGTH else None
            if mol is not None:
                out[i] = _fingerprint(mol)
        return out


def fingerprints(smiles: Sequence[str], *, n_jobs: int = 1, sanitize_twice: bool = True) -> np.ndarray:
    """Packed Morgan fingerprints (radius 2, 1024 bits) of molecules as given (not canonicalized).

    Parameters
    ----------
    smiles : str or sequence of str, length n
        A single string is one molecule (n = 1).
    n_jobs : int or None
        Processes. An integer >= 1 (None: 1), else ValueError.
    sanitize_twice : bool
        Parse as MOSES's ``get_mol`` does, ``MolFromSmiles`` then ``SanitizeMol`` again
        (default). False skips the second sanitization, a third of the cost; the MOSES
        reference sets use it, since on all 352,299 molecules of test and test_scaffolds
        it changes no fingerprint (checked with RDKit 2026.09), and their metrics are
        compared with MOSES's own numbers in ``tests/unit/test_moses_metrics.py``.

    Returns
    -------
    ndarray of uint8, shape (n, 128)
        Bits in ``numpy.packbits`` order; all zero for a SMILES that does not parse.
    """
    n_jobs = check_n_jobs(n_jobs)
    smiles = as_smiles_list(smiles)
    chunk = functools.partial(_fingerprint_chunk, sanitize_twice=sanitize_twice)
    with _pool(n_jobs, len(smiles)) as pool:
        parts = _map(chunk, _chunks(smiles, 5000), pool)
    return np.concatenate(parts) if parts else np.zeros((0, FP_BYTES), dtype=np.uint8)


#: Fewer items than this are done in-process (starting workers costs more than it saves).
_POOL_MIN_ITEMS = 2000


@contextlib.contextmanager
def _pool(n_jobs: int, n_items: int):
    """A fork pool of ``n_jobs`` RDKit workers, or ``None`` when one process is enough."""
    if n_jobs > 1 and n_items > _POOL_MIN_ITEMS:
        from molvae.workers import ignore_sigint

        pool = mp.get_context("fork").Pool(n_jobs, initializer=ignore_sigint)  # Ctrl-C is the main process's
        try:
            yield pool
        finally:
            pool.terminate()
            pool.join()
    else:
        yield None


# ---------------------------------------------------------------------- similarity
def _popcount(fps: np.ndarray) -> np.ndarray:
    return _POPCOUNT8[fps].sum(axis=1)


_KERNEL: str | None = None


def _intersections(kernel: str, x, y):
    """``x @ y.T`` of 0/1 bit matrices (torch tensors of the kernel's dtype), as float32."""
    import torch

    if kernel == "int8":
        return torch._int_mm(x, y.T).float()
    return (x @ y.T).float()


def _as_kernel(bits: np.ndarray, kernel: str):
    import torch

    dtype = {"int8": torch.int8, "bf16": torch.bfloat16, "f32": torch.float32}[kernel]
    return torch.from_numpy(np.unpackbits(bits, axis=1)).to(dtype)


def _matmul_kernel(max_bits: int) -> str:
    """The fastest exact way to count common bits on this machine (timed once per process).

    ``int8`` (``torch._int_mm``, int32 results) and ``f32`` are always exact; ``bf16`` only
    when no fingerprint has more than 256 bits set (its results are rounded to bfloat16,
    whose integers are exact up to 256). On CPUs with VNNI / AVX512-BF16 the first two are
    several times faster than float32.
    """
    import torch

    global _KERNEL
    if _KERNEL is None:
        bits = np.packbits((np.random.default_rng(0).random((512, FP_BITS)) < 0.05).astype(np.uint8), axis=1)
        ref = None
        times = {}
        for kernel in ("f32", "int8", "bf16"):
            try:
                x = _as_kernel(bits, kernel)
                out = _intersections(kernel, x, x)
                t0 = time.perf_counter()
                for _ in range(3):
                    _intersections(kernel, x, x)
                times[kernel] = time.perf_counter() - t0
            except (RuntimeError, AttributeError, NotImplementedError):
                continue
            if ref is None:
                ref = out
            elif not torch.equal(out, ref):
                times.pop(kernel)
        _KERNEL = ",".join(sorted(times, key=times.get))
        log.debug("Tanimoto kernels, fastest first: %s", _KERNEL)
    for kernel in _KERNEL.split(","):
        if kernel != "bf16" or max_bits <= 256:
            return kernel
    return "f32"


def _tanimoto_reduce(ref: np.ndarray, gen: np.ndarray, *, mode: str, ref_block: int = 2048, gen_block: int = 2048) -> np.ndarray:
    """Per generated molecule: the largest Tanimoto similarity to ``ref``, or mean powers of it.

    Parameters
    ----------
    ref, gen : ndarray of uint8, shape (n, 128)
        Packed fingerprints.
    mode : {"max", "mean"}
        ``"max"``: array (n_gen,) of ``max_i T(i, j)``. ``"mean"``: array (2, n_gen) of
        ``mean_i T(i, j)`` and ``mean_i T(i, j)^2``.

    Notes
    -----
    Common bits are counted with a matrix product of the 0/1 matrices (exact integers, see
    :func:`_matmul_kernel`); the similarity is then ``c / (a + b - c)`` in float32, the
    arithmetic of MOSES, and 0/0 (two empty fingerprints) counts as 1, as in MOSES.
    """
    import torch

    n_gen = gen.shape[0]
    out = np.zeros((1 if mode == "max" else 2, n_gen), dtype=np.float64)
    if n_gen == 0 or ref.shape[0] == 0:
        return out[0] if mode == "max" else out
    a_all = _popcount(ref).astype(np.float32)
    b_all = _popcount(gen).astype(np.float32)
    kernel = _matmul_kernel(int(max(a_all.max(), b_all.max())))
    any_empty = bool((a_all == 0).any() and (b_all == 0).any())
    gen_bits = _as_kernel(gen, kernel)
    b_t = torch.from_numpy(b_all)
    for r0 in range(0, ref.shape[0], ref_block):
        r_bits = _as_kernel(ref[r0 : r0 + ref_block], kernel)
        a_t = torch.from_numpy(a_all[r0 : r0 + ref_block])
        for g0 in range(0, n_gen, gen_block):
            g1 = min(g0 + gen_block, n_gen)
            sim = _intersections(kernel, r_bits, gen_bits[g0:g1])
            denom = a_t[:, None] + b_t[None, g0:g1]
            denom.sub_(sim)
            sim.div_(denom)  # Tanimoto similarity, float32
            if any_empty:
                torch.nan_to_num_(sim, nan=1.0)
            if mode == "max":
                np.maximum(out[0, g0:g1], sim.amax(dim=0).double().numpy(), out=out[0, g0:g1])
            else:
                out[0, g0:g1] += sim.sum(dim=0, dtype=torch.float64).numpy()
                out[1, g0:g1] += sim.square_().sum(dim=0, dtype=torch.float64).numpy()
    if mode == "max":
        return out[0]
    return out / ref.shape[0]


def snn(gen_fps: np.ndarray, ref_fps: np.ndarray) -> float | None:
    """Similarity to the nearest neighbour (MOSES SNN).

    Parameters
    ----------
    gen_fps, ref_fps : ndarray of uint8, shape (n, 128)
        Packed fingerprints (see :func:`fingerprints`).

    Returns
    -------
    float or None
        Mean over ``gen_fps`` of the largest Tanimoto similarity to ``ref_fps``; ``None`` if
        either set is empty.
    """
    if len(gen_fps) == 0 or len(ref_fps) == 0:
        return None
    return float(np.mean(_tanimoto_reduce(ref_fps, gen_fps, mode="max")))


def internal_diversities(fps: np.ndarray) -> tuple[float | None, float | None]:
    """IntDiv1 and IntDiv2 in one pass over the pairs (see :func:`internal_diversity`)."""
    if len(fps) == 0:
        return None, None
    mean1, mean2 = _tanimoto_reduce(fps, fps, mode="mean")
    return float(1.0 - mean1.mean()), float(1.0 - np.sqrt(mean2).mean())


def internal_diversity(fps: np.ndarray, p: int = 1) -> float | None:
    """Internal diversity IntDiv_p (p = 1 or 2) as the MOSES code computes it.

    ``1 - mean_j ((1/n) sum_i T(i, j)^p)^(1/p)`` over all ordered pairs, ``i = j`` included
    (for p = 1 the same as the paper's ``1 - mean_ij T``; for p = 2 the published numbers use
    this per-molecule power mean). See :func:`molvae.metrics.internal_diversity` for the
    paper's formula on SMILES.

    Parameters
    ----------
    fps : ndarray of uint8, shape (n, 128)
    p : {1, 2}

    Returns
    -------
    float or None
        ``None`` for an empty set.
    """
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p}")
    return internal_diversities(fps)[p - 1]


def cosine_similarity(ref_counts: dict, gen_counts: dict) -> float | None:
    """Cosine similarity of two count vectors given as ``{key: count}`` (absent keys count 0).

    Returns
    -------
    float or None
        ``None`` if either is empty (MOSES returns NaN).
    """
    if not ref_counts or not gen_counts:
        return None
    dot = sum(int(c) * int(gen_counts[k]) for k, c in ref_counts.items() if k in gen_counts)
    rr = sum(int(c) ** 2 for c in ref_counts.values())
    gg = sum(int(c) ** 2 for c in gen_counts.values())
    if rr == 0 or gg == 0:
        return None
    return float(min(max(dot / math.sqrt(rr * gg), -1.0), 1.0))


def unique_at_k(canonical: Sequence[str], k: int) -> float | None:
    """Distinct molecules among the first ``k`` valid ones, over ``k``.

    Parameters
    ----------
    canonical : sequence of str
        Canonical SMILES of the valid samples, in sampling order.
    k : int
        At least 1.

    Returns
    -------
    float or None
        ``None`` when fewer than ``k`` molecules are valid.

    Raises
    ------
    ValueError
        ``k`` is not an integer >= 1.
    """
    if not is_integer(k) or k < 1:  # k = 0 divided by zero, k < 0 gave a negative fraction
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if len(canonical) < k:
        return None
    return len(set(canonical[:k])) / k


def _wasserstein(ref_values: np.ndarray, gen_values: Sequence[float]) -> float | None:
    from scipy.stats import wasserstein_distance

    gen = np.asarray(gen_values, dtype=np.float64)
    gen = gen[np.isfinite(gen)]
    if gen.size == 0 or len(ref_values) == 0:
        return None
    return float(wasserstein_distance(ref_values, gen))


# ---------------------------------------------------------------------- FCD
@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _fcd_stats(smiles: Sequence[str], n_jobs: int) -> dict:
    """ChemNet activation mean and covariance (``fcd_torch``); ``{}`` for fewer than 2 molecules."""
    if len(smiles) < 2:
        return {}
    from fcd_torch import FCD

    with warnings.catch_warnings(), quiet_rdkit():  # fcd_torch parses again, RDKit's logger on
        warnings.simplefilter("ignore")
        return FCD(device="cpu", n_jobs=n_jobs).precalc(list(smiles))


def _fcd(ref: dict, gen: dict) -> float | None:
    if not ref or not gen:
        return None
    from fcd_torch.utils import calculate_frechet_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(calculate_frechet_distance(ref["mu"], ref["sigma"], gen["mu"], gen["sigma"]))
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- reference statistics
@dataclass
class ReferenceStats:
    """What the metrics need from a reference set.

    Attributes
    ----------
    name : str
        ``test``, ``test_scaffolds``, a file name, or ``smiles``.
    size : int
        Molecules in the reference.
    fcd : dict
        ``mu`` (512,) and ``sigma`` (512, 512), or empty.
    fingerprints : ndarray of uint8, shape (size, 128)
        Packed Morgan fingerprints (radius 2, 1024 bits).
    fragments, scaffolds : dict of str to int
        BRICS fragment and Bemis-Murcko scaffold (>= 2 rings) counts.
    properties : dict of str to ndarray
        Sorted values of logP, SA, QED and weight.
    skipped : tuple of (int, int, str)
        Rows left out because they hold no valid molecule: their number, the number of
        rows, and the first few of them by row number (``(0, size, "")`` if none).
    """

    name: str
    size: int
    fcd: dict
    fingerprints: np.ndarray
    fragments: dict
    scaffolds: dict
    properties: dict
    skipped: tuple = (0, 0, "")

    def warn_skipped(self) -> None:
        """Log the rows left out, if any (again when the statistics come from the cache)."""
        bad, total, rows = self.skipped
        if bad:
            log.warning("%d of %d rows of the reference %s hold no valid molecule and are left out: %s", bad, total, self.name, rows)


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    return Path(cache_dir or os.environ.get("MOLVAE_CACHE") or Path.home() / ".cache" / "molvae") / "moses"


def _versions_tag() -> str:
    import rdkit

    return f"v{_STATS_VERSION}-rdkit{rdkit.__version__}"


def _file_tag() -> str:
    """:func:`_versions_tag` and the version of the molecule-file reader
    (``molvae.data._READER``), for what is cached by a file's content: the rows read
    from the same bytes change when the reader does (its SDF reading did)."""
    from molvae.data import _READER

    return f"{_versions_tag()}-reader{_READER}"


def _text_array(strings: Iterable[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode(), dtype=np.uint8)


def _text_list(arr: np.ndarray) -> list[str]:
    text = arr.tobytes().decode()
    return text.split("\n") if text else []


def _sorted_bits_diff(values) -> np.ndarray:
    """Sorted float64 values as first differences of their bit patterns (compresses well, exact)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    return np.diff(v.view(np.int64), prepend=np.int64(0))


def _from_sorted_bits_diff(diff: np.ndarray) -> np.ndarray:
    return np.cumsum(diff.astype(np.int64)).view(np.float64)


def stats_arrays(stats: ReferenceStats, *, smiles: Sequence[str] | None = None, with_fingerprints: bool = True, with_fcd: bool = True) -> dict[str, np.ndarray]:
    """Plain arrays (``allow_pickle=False``) that :func:`stats_from_arrays` reads back.

    Counts are stored as parallel key texts (newline-joined UTF-8 bytes) and int64 arrays;
    property values sorted, as int64 differences of their IEEE bit patterns (lossless, and
    about a fifth smaller once compressed than the floats themselves).
    """
    frag_keys = sorted(stats.fragments)
    scaf_keys = sorted(stats.scaffolds)
    out = {
        "format": np.array([_STATS_VERSION]),
        "size": np.array([stats.size]),
        "frag_keys": _text_array(frag_keys),
        "frag_counts": np.array([stats.fragments[k] for k in frag_keys], dtype=np.int64),
        "scaf_keys": _text_array(scaf_keys),
        "scaf_counts": np.array([stats.scaffolds[k] for k in scaf_keys], dtype=np.int64),
    }
    for p in PROPERTIES:
        out[f"{p}_sorted_bits_diff"] = _sorted_bits_diff(stats.properties[p])
    if smiles is not None:
        out["smiles"] = _text_array(smiles)
    if with_fingerprints:
        out["fingerprints"] = np.asarray(stats.fingerprints, dtype=np.uint8)
    if with_fcd and stats.fcd:
        out["fcd_mu"] = np.asarray(stats.fcd["mu"], dtype=np.float64)
        out["fcd_sigma"] = np.asarray(stats.fcd["sigma"], dtype=np.float64)
    if stats.skipped[0]:
        out["skipped_counts"] = np.array(stats.skipped[:2], dtype=np.int64)
        out["skipped_rows"] = _text_array([stats.skipped[2]])
    return out


def stats_from_arrays(z, name: str) -> tuple[ReferenceStats, list[str] | None]:
    """Inverse of :func:`stats_arrays`; returns the statistics and the SMILES if stored."""
    files = set(z.files) if hasattr(z, "files") else set(z)
    fcd = {"mu": z["fcd_mu"], "sigma": z["fcd_sigma"]} if "fcd_mu" in files else {}
    fps = z["fingerprints"] if "fingerprints" in files else np.zeros((0, FP_BYTES), dtype=np.uint8)
    stats = ReferenceStats(
        name=name,
        size=int(z["size"][0]),
        fcd=fcd,
        fingerprints=fps,
        fragments=dict(zip(_text_list(z["frag_keys"]), z["frag_counts"].tolist())),
        scaffolds=dict(zip(_text_list(z["scaf_keys"]), z["scaf_counts"].tolist())),
        properties={p: _from_sorted_bits_diff(z[f"{p}_sorted_bits_diff"]) for p in PROPERTIES},
    )
    if "skipped_counts" in files:
        bad, total = z["skipped_counts"].tolist()
        stats.skipped = (bad, total, "\n".join(_text_list(z["skipped_rows"])))
    smiles = _text_list(z["smiles"]) if "smiles" in files else None
    return stats, smiles


def _invalid_rows(smiles: Sequence[str], canonical: Sequence, row_numbers: Sequence[int] | None, shown: int = 5, row_reasons: dict | None = None) -> tuple[int, int, str]:
    """Rows whose molecule is invalid: their number, the number of rows, the first few
    named (with the reader's reason for a row it could not read, from ``row_reasons``)."""
    from molvae.data import shortened

    numbers = range(1, len(smiles) + 1) if row_numbers is None else row_numbers
    bad = [(n, s) for n, s, c in zip(numbers, smiles, canonical) if c is None]
    reasons = row_reasons or {}
    text = ", ".join(f"row {n} ({shortened(s)!r})" if s else f"row {n} ({reasons.get(n, 'empty')})" for n, s in bad[:shown])
    if len(bad) > shown:
        text += f" and {len(bad) - shown} more"
    return len(bad), len(smiles), text


def compute_reference_statistics(smiles: Sequence[str], *, name: str = "smiles", n_jobs: int = 1, with_fcd: bool = True, row_numbers: Sequence[int] | None = None, row_reasons: dict[int, str] | None = None) -> ReferenceStats:
    """Reference statistics of a set of molecules, as MOSES computes them (molecules as given).

    Molecules that do not parse (empty strings included) are left out (MOSES would fail on
    them), with a warning that names their rows: ``row_numbers`` (the file's row of each
    entry), else their 1-based positions; an empty entry is named with its reason in
    ``row_reasons`` (row number to the reader's reason), else as empty. A single string
    is one molecule.
    """
    n_jobs = check_n_jobs(n_jobs)
    smiles = as_smiles_list(smiles)
    with _pool(n_jobs, len(smiles)) as pool:
        canonical, feats = _features(smiles, canonicalize=False, with_filters=False, pool=pool)
    skipped = _invalid_rows(smiles, canonical, row_numbers, row_reasons=row_reasons)
    if not feats.smiles:
        from molvae.data import InputError

        raise InputError(f"the reference {name} holds no valid molecule")
    fcd = {}
    if skipped[0]:
        log.warning("%d of %d rows of the reference %s hold no valid molecule and are left out: %s", skipped[0], skipped[1], name, skipped[2])
    if with_fcd:
        with _torch_threads(n_jobs):
            fcd = _fcd_stats(feats.smiles, n_jobs)
    return ReferenceStats(
        name=name,
        size=len(feats.smiles),
        fcd={k: np.asarray(v, dtype=np.float64) for k, v in fcd.items()},
        fingerprints=np.array(feats.fps, dtype=np.uint8).reshape(-1, FP_BYTES),
        fragments=dict(feats.frags),
        scaffolds=dict(feats.scafs),
        properties={p: np.sort(np.array([v for v in feats.props[p] if math.isfinite(v)], dtype=np.float64)) for p in PROPERTIES},
        skipped=skipped,
    )


def _atomic_save(path: Path, save: Callable[[Path], None]) -> None:
    """Write a cache file as :func:`molvae.data.save_cache_file` does; a failure to write
    it is a warning, not an error (the cache is recomputed next time)."""
    try:
        save_cache_file(path, save)
    except OSError as exc:
        log.warning("could not write the cache file %s (%s); it will be recomputed next time", path, exc)


def _file_digest(path: Path) -> str:
    """The first 20 hex digits of a file's SHA-256 (:func:`molvae.data.sha256_of_file`): the
    file's part of a cache file name."""
    return sha256_of_file(path)[:20]


def _moses_fingerprints(name: str, smiles: list[str], *, n_jobs: int, cache_dir) -> np.ndarray:
    digest = hashlib.sha256("\n".join(smiles).encode()).hexdigest()[:12]
    path = _cache_root(cache_dir) / f"{name}_morgan2_{FP_BITS}_{digest}_{_versions_tag()}.npy"
    if path.is_file():
        try:
            fps = np.load(path, allow_pickle=False)
            if fps.shape == (len(smiles), FP_BYTES) and fps.dtype == np.uint8:
                return fps
        except (OSError, ValueError):
            pass
        log.warning("ignoring a damaged cache file %s", path)
    log.info("fingerprinting the %d molecules of MOSES %s (once; cached in %s)", len(smiles), name, path.parent)
    fps = fingerprints(smiles, n_jobs=n_jobs, sanitize_twice=False)  # the same bits for these sets, see fingerprints()
    _atomic_save(path, lambda p: np.save(p, fps, allow_pickle=False))
    return fps


def reference_statistics(reference: str | os.PathLike | Sequence[str] = "test", *, n_jobs: int = 1, cache_dir=None, smiles_column: str | None = None, option: str = "smiles_column") -> ReferenceStats:
    """Load or compute the statistics of a reference set.

    Parameters
    ----------
    reference : {"test", "test_scaffolds"}, path or sequence of str
        A MOSES set (shipped statistics; fingerprints computed once and cached), a file of
        molecules (statistics computed once per file content and cached), or SMILES.
    n_jobs : int or None
        Processes for RDKit work and torch threads for ChemNet. An integer >= 1 (None: 1), else ValueError.
    cache_dir : path-like, optional
        Cache root; default ``$MOLVAE_CACHE`` or ``~/.cache/molvae``.
    smiles_column : str, optional
        CSV column of a reference file.
    option : str
        How the caller names ``smiles_column``, for the messages.

    Raises
    ------
    molvae.data.InputError
        Unknown reference name, unreadable file, or no valid molecule.
    """
    n_jobs = check_n_jobs(n_jobs)
    from molvae.data import InputError

    if isinstance(reference, str) and reference in REFERENCES:
        from importlib import resources

        from molvae.metrics import moses_reference_fcd

        path = resources.files("molvae") / "assets" / f"moses_{reference}_reference.npz"
        with resources.as_file(path) as p, np.load(p, allow_pickle=False) as z:
            stats, smiles = stats_from_arrays(z, reference)
            fix_rows, fix_bits = z["fp_fix_rows"], z["fp_fix_bits"]
        stats.fcd = moses_reference_fcd(reference)
        fps = _moses_fingerprints(reference, smiles, n_jobs=n_jobs, cache_dir=cache_dir)
        # MOSES's own fingerprints of the few molecules (6 per set) whose aromaticity today's
        # RDKit perceives differently, so that the reference is exactly MOSES's
        fps[fix_rows] = fix_bits
        stats.fingerprints = fps
        return stats
    if isinstance(reference, (str, os.PathLike)):
        path = Path(reference)
        if not path.is_file():
            raise InputError(f"reference must be test, test_scaffolds or a file of molecules; {str(reference)!r} is neither")
        cache = _cache_root(cache_dir) / f"reference_{_file_digest(path)}_{smiles_column or ''}_{_file_tag()}.npz"
        if cache.is_file():
            try:
                with np.load(cache, allow_pickle=False) as z:
                    stats = stats_from_arrays(z, path.name)[0]
                stats.warn_skipped()
                return stats
            except (OSError, ValueError, KeyError):
                log.warning("ignoring a damaged cache file %s", cache)
        reasons: dict[int, str] = {}
        rows, numbers = _read_numbered(path, smiles_column, option, reasons=reasons)
        stats = compute_reference_statistics(rows, name=path.name, n_jobs=n_jobs, row_numbers=numbers, row_reasons=reasons)
        arrays = stats_arrays(stats)
        _atomic_save(cache, lambda p: np.savez_compressed(p, **arrays))
        return stats
    return compute_reference_statistics(list(reference), n_jobs=n_jobs)


# ---------------------------------------------------------------------- training set
def _hash64(smiles: str) -> int:
    return int.from_bytes(hashlib.blake2b(smiles.encode(), digest_size=8).digest(), "little")


def _training_hashes(train, *, n_jobs: int, cache_dir, smiles_column: str | None = None, option: str = "smiles_column") -> np.ndarray:
    """Sorted 64-bit hashes of the canonical SMILES of a training set (file results cached);
    ``option`` names ``smiles_column`` in the messages."""
    if isinstance(train, (str, os.PathLike)):
        path = Path(train)
        from molvae.data import InputError

        if not path.is_file():
            raise InputError(f"training file not found: {path}")
        cache = _cache_root(cache_dir) / f"train_{_file_digest(path)}_{smiles_column or ''}_{_file_tag()}.npy"
        if cache.is_file():
            try:
                hashes = np.load(cache, allow_pickle=False)
                if len(hashes):  # an empty set was cached by versions that did not refuse it
                    return hashes
            except (OSError, ValueError):
                log.warning("ignoring a damaged cache file %s", cache)
        reasons: dict[int, str] = {}
        rows, numbers = _read_numbered(path, smiles_column, option, reasons=reasons)
        hashes = _canonical_hashes(rows, n_jobs=n_jobs, name=f"training file {path.name}", row_numbers=numbers, row_reasons=reasons)
        _atomic_save(cache, lambda p: np.save(p, hashes, allow_pickle=False))
        return hashes
    return _canonical_hashes(list(train), n_jobs=n_jobs, name="training set")


def _canonical_hashes(smiles: list, *, n_jobs: int, name: str, row_numbers: Sequence[int] | None = None, row_reasons: dict | None = None) -> np.ndarray:
    """Sorted 64-bit hashes of the canonical SMILES of the molecules that parse.

    Raises
    ------
    molvae.data.InputError
        If none parses: novelty against an empty training set would call every sample novel.
    """
    with _pool(n_jobs, len(smiles)) as pool:
        parts = _map(_canonical_chunk, _chunks(smiles, 20000), pool)
    canonical = [c for part in parts for c in part]
    valid = [c for c in canonical if c is not None]
    if not valid:
        from molvae.data import InputError

        raise InputError(f"the {name} holds no valid molecule ({len(canonical)} rows), so novelty cannot be computed")
    if len(valid) < len(canonical):
        bad, total, rows = _invalid_rows(smiles, canonical, row_numbers, row_reasons=row_reasons)
        log.warning("%d of %d rows of the %s hold no valid molecule and are left out: %s", bad, total, name, rows)
    return np.array(sorted({_hash64(c) for c in valid}), dtype=np.uint64)


def _novelty(canonical: Sequence[str], train_hashes: np.ndarray) -> float | None:
    unique = sorted(set(canonical))
    if not unique:
        return None
    h = np.array([_hash64(c) for c in unique], dtype=np.uint64)
    return float(np.mean(~np.isin(h, train_hashes)))


# ---------------------------------------------------------------------- input
def _read_numbered(path: Path, smiles_column: str | None, option: str = "smiles_column", *, reasons: dict | None = None) -> tuple[list[str], list[int]]:
    """Every row of a molecule file, in order, with empty and unreadable rows as ``""``,
    and the row number of each in the file (1-based);
    ``option`` names ``smiles_column`` in the messages. ``reasons``, if given, is filled
    with why each row the reader could not read (other than an empty one) is ``""``: row
    number to reason."""
    from molvae.data import InputError, read_molecules

    try:
        rows, errors = read_molecules(path, smiles_column=smiles_column, option=option)
    except InputError as exc:
        if not exc.errors:
            raise
        rows, errors = [], exc.errors  # every row is empty or unreadable: still rows, all invalid
    by_row = {r: s for r, s in rows}
    by_row.update({e.row: "" for e in errors})
    if reasons is not None:
        reasons.update({e.row: e.reason + (f": {e.input!r}" if e.input else "") for e in errors if e.reason not in ("empty row", "empty line")})
    numbers = sorted(by_row)
    return [by_row[i] for i in numbers], numbers


def read_samples(path: str | os.PathLike, *, smiles_column: str | None = None, numbers: list | None = None, reasons: dict | None = None, option: str = "smiles_column") -> list[str]:
    """Read generated molecules, one per draw: duplicates kept, empty/unreadable rows as ``""``.

    Parameters
    ----------
    path : path-like
        ``.csv``/``.csv.gz`` (column ``smiles`` in any case, or ``smiles_column``), ``.smi``
        (first field of each line), or ``.sdf``.
    smiles_column : str, optional
    numbers : list, optional
        If given, filled with the 1-based row number in the file of each returned sample
        (numbered as :func:`molvae.data.read_molecules` numbers rows).
    reasons : dict, optional
        If given, filled with row number -> why the sample of that row is ``""``, for the
        rows that were empty or that the reader could not read.
    option : str
        How the caller names ``smiles_column``, for the messages: this argument's name by
        default; the CLI passes its flag, ``--smiles-column``.

    Returns
    -------
    list of str
        One string per row, in file order.

    Raises
    ------
    molvae.data.InputError
        Missing or empty file, unknown extension, missing column.
    """
    unread: dict[int, str] = {}
    rows, rows_numbers = _read_numbered(Path(path), smiles_column, option, reasons=unread)
    if not rows:
        from molvae.data import InputError

        raise InputError(f"{path} is empty")
    if numbers is not None:
        numbers.extend(rows_numbers)
    if reasons is not None:
        reasons.update({r: unread.get(r, "empty row") for r, s in zip(rows_numbers, rows) if not s})
    return rows


# ---------------------------------------------------------------------- evaluate
@dataclass
class SampleStats:
    """What the metrics need from a set of generated molecules (see :func:`sample_statistics`).

    Attributes
    ----------
    n_samples : int
        Draws, valid or not.
    canonical : list of str
        Canonical SMILES of the valid draws, in sampling order, duplicates kept.
    smiles : list of str
        Canonical SMILES of the molecules the other statistics describe (the valid ones whose
        canonical SMILES RDKit reads back: all of them but for rare RDKit round-trip failures).
    fingerprints : ndarray of uint8, shape (len(smiles), 128)
    fragments, scaffolds : Counter
    properties : dict of str to list of float
    passes_filters : list of bool
    fcd : dict
        ChemNet ``mu`` and ``sigma``, or empty for fewer than 2 molecules.
    invalid : list of int
        0-based indices of the draws that are not valid molecules (``""`` included): those
        that validity counts against.
    """

    n_samples: int
    canonical: list
    smiles: list
    fingerprints: np.ndarray
    fragments: Counter
    scaffolds: Counter
    properties: dict
    passes_filters: list
    fcd: dict
    invalid: list = field(default_factory=list)


class _Stages:
    """Times the stages of an evaluation and reports each one as it starts."""

    def __init__(self, progress, timings):
        self.progress, self.timings = progress, timings if timings is not None else {}
        self.name, self.t0 = None, time.perf_counter()

    def __call__(self, name: str | None) -> None:
        now = time.perf_counter()
        if self.name is not None:
            self.timings[self.name] = self.timings.get(self.name, 0.0) + now - self.t0
        self.name, self.t0 = name, now
        if name is not None:
            log.debug("evaluate: %s", name)
            if self.progress is not None:
                self.progress(name)


def _sample_list(samples) -> Iterable:
    """``samples`` if it can be iterated as molecules, else a TypeError that says what is taken."""
    if samples is None or isinstance(samples, (bytes, int, float, np.number)) or not isinstance(samples, Iterable):
        raise TypeError(f"samples must be a sequence of SMILES strings, a file of molecules or SampleStats, got {type(samples).__name__}")
    return samples


def sample_statistics(samples: Sequence[str] | str | os.PathLike, *, n_jobs: int = 1, progress: Callable[[str], None] | None = None, timings: dict | None = None) -> SampleStats:
    """Parse, canonicalize and describe generated molecules once, for one or more references.

    Parameters
    ----------
    samples : sequence of str, or path
        As for :func:`evaluate`.
    n_jobs : int or None
        Worker processes for RDKit, torch threads for ChemNet. An integer >= 1 (None: 1), else ValueError.
    progress, timings
        As for :func:`evaluate`.

    Raises
    ------
    TypeError
        ``samples`` is neither a sequence of SMILES nor a path (``None``, a number).
    molvae.data.InputError
        A samples file that is missing or empty, as :func:`read_samples`.
    """
    if isinstance(samples, (str, os.PathLike)):
        samples = read_samples(samples)
    samples = list(_sample_list(samples))
    n_jobs = check_n_jobs(n_jobs)
    stage = _Stages(progress, timings)
    stage("parsing samples")
    with _pool(n_jobs, len(samples)) as pool:
        canonical, feats = _features(samples, canonicalize=True, with_filters=True, pool=pool)
    fcd: dict = {}
    if len(feats.smiles) >= 2:
        stage("ChemNet (FCD)")
        with _torch_threads(n_jobs):
            fcd = _fcd_stats(feats.smiles, n_jobs)
    stage(None)
    return SampleStats(
        n_samples=len(samples),
        canonical=[c for c in canonical if c is not None],
        smiles=feats.smiles,
        fingerprints=np.array(feats.fps, dtype=np.uint8).reshape(-1, FP_BYTES),
        fragments=feats.frags,
        scaffolds=feats.scafs,
        properties=feats.props,
        passes_filters=feats.passes,
        fcd=fcd,
        invalid=[i for i, c in enumerate(canonical) if c is None],
    )


def evaluate(
    samples: Sequence[str] | str | os.PathLike | SampleStats,
    reference: str | os.PathLike | Sequence[str] | ReferenceStats = "test",
    train: str | os.PathLike | Sequence[str] | None = None,
    n_jobs: int = 1,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    timings: dict | None = None,
    reference_column: str | None = None,
    train_column: str | None = None,
    invalid: list | None = None,
) -> dict[str, float | None]:
    """All MOSES distribution-learning metrics of a set of generated molecules.

    Parameters
    ----------
    samples : sequence of str, path, or SampleStats
        Generated SMILES, one per draw, in sampling order: duplicates and invalid strings
        (including ``""``) are kept, since validity and unique@k count them. A ``str`` or
        path is read with :func:`read_samples`; a :class:`SampleStats` (from
        :func:`sample_statistics`) is reused, e.g. to score the same samples against
        test and test-scaffolds.
    reference : {"test", "test_scaffolds"}, path, sequence of str, or ReferenceStats
        Reference set for FCD, SNN, Frag, Scaf and the property distances (see
        :func:`reference_statistics`).
    train : path or sequence of str, optional
        Training set for novelty; without it novelty is ``None``.
    n_jobs : int or None
        Worker processes for the RDKit work, and torch threads for ChemNet and similarities. An integer >= 1 (None: 1), else ValueError.
    cache_dir : path-like, optional
        Cache root (default ``$MOLVAE_CACHE`` or ``~/.cache/molvae``).
    progress : callable(str), optional
        Called with the name of each stage as it starts.
    timings : dict, optional
        Filled with the seconds spent in each stage.
    reference_column, train_column : str, optional
        CSV column holding the SMILES of a reference or training file (default: ``smiles``
        in any case). Only for such a file: naming one for a MOSES set, for SMILES given
        as a sequence, or for a file that is not CSV is an error. The files' columns are
        checked from their headers before any work.
    invalid : list, optional
        If given, filled with the 0-based indices of the samples that are not valid
        molecules (``SampleStats.invalid``): which draws validity counts as invalid.

    Returns
    -------
    dict
        Keys :data:`METRICS`, in that order: ``validity``, ``unique@1k``, ``unique@10k``,
        ``novelty``, ``FCD``, ``SNN``, ``Frag``, ``Scaf``, ``IntDiv1``, ``IntDiv2``,
        ``Filters``, and the Wasserstein distances ``logP``, ``SA``, ``QED``, ``weight``.
        Values are floats, or ``None`` where undefined (no sample, no valid molecule, fewer
        than k valid molecules for unique@k, no training set, fewer than 2 molecules for FCD,
        no fragment or scaffold on one side).

    Raises
    ------
    TypeError
        ``samples``, ``reference`` or ``train`` is neither molecules nor a path (``None``
        for ``samples`` or ``reference``, a number).
    molvae.data.InputError
        A samples file that is missing or empty (:func:`read_samples`), an unknown
        reference name, a reference or training file that does not exist or
        lacks its SMILES column, a column argument with no file to apply to, or a
        training set in which no molecule is valid. Messages name ``reference_column`` or
        ``train_column``, not the CLI's ``--smiles-column``.

    Examples
    --------
    >>> evaluate(["CCO", "c1ccccc1", "not a smiles"], reference="test")["validity"]  # doctest: +SKIP
    0.6666666666666666
    """
    from molvae.data import InputError

    if not isinstance(samples, SampleStats):
        _sample_list(samples)
    for what, value, takes in (("reference", reference, "test, test_scaffolds, a file of molecules, a sequence of SMILES or ReferenceStats"), ("train", train, "a file of molecules, a sequence of SMILES or None")):
        if (value is None and what == "reference") or isinstance(value, (bytes, int, float, np.number)) or (value is not None and not isinstance(value, (Iterable, os.PathLike, ReferenceStats))):
            raise TypeError(f"{what} must be {takes}, got {type(value).__name__}")
    ref_path = reference if isinstance(reference, os.PathLike) or (isinstance(reference, str) and reference not in REFERENCES) else None
    train_path = train if isinstance(train, (str, os.PathLike)) else None
    for what, path in (("reference", ref_path), ("train", train_path)):
        if path is not None and Path(path).is_dir():
            raise InputError(f"{path} is a folder, not a file of molecules ({what})")
    if isinstance(reference, str) and reference not in REFERENCES and not Path(reference).is_file():
        raise InputError(f"reference must be test, test_scaffolds or a file of molecules; {reference!r} is neither")
    if isinstance(reference, os.PathLike) and not Path(reference).is_file():
        raise InputError(f"reference file not found: {reference}")
    if isinstance(train, (str, os.PathLike)) and not Path(train).is_file():
        raise InputError(f"training file not found: {train}")
    # the files' SMILES columns, from their headers: refused now, not after the samples' work
    from molvae.data import check_smiles_column

    if ref_path is not None:
        check_smiles_column(ref_path, reference_column, option="reference_column")
    elif reference_column is not None:
        what = f"the MOSES set {reference!r}" if isinstance(reference, str) else "ReferenceStats" if isinstance(reference, ReferenceStats) else "a reference given as molecules"
        raise InputError(f"reference_column names the SMILES column of a reference file; {what} is not one")
    if train_path is not None:
        check_smiles_column(train_path, train_column, option="train_column")
    elif train_column is not None:
        raise InputError("train_column names the SMILES column of a training file; " + ("give train too" if train is None else "a training set given as molecules is not one"))
    n_jobs = check_n_jobs(n_jobs)
    timings = {} if timings is None else timings
    train_hashes = None
    if train is not None:  # first: a training set that cannot be used is refused before any work
        stage = _Stages(progress, timings)
        stage("training set")
        train_hashes = _training_hashes(train, n_jobs=n_jobs, cache_dir=cache_dir, smiles_column=train_column, option="train_column")
        stage(None)
    gen = samples if isinstance(samples, SampleStats) else sample_statistics(samples, n_jobs=n_jobs, progress=progress, timings=timings)
    if invalid is not None:
        invalid.extend(gen.invalid)
    stage = _Stages(progress, timings)

    out: dict[str, float | None] = dict.fromkeys(METRICS)
    out["validity"] = len(gen.canonical) / gen.n_samples if gen.n_samples else None
    out["unique@1k"] = unique_at_k(gen.canonical, 1000)
    out["unique@10k"] = unique_at_k(gen.canonical, 10000)
    if train_hashes is not None and gen.canonical:
        out["novelty"] = _novelty(gen.canonical, train_hashes)
    if gen.smiles:
        stage("reference statistics")
        ref = reference if isinstance(reference, ReferenceStats) else reference_statistics(reference, n_jobs=n_jobs, cache_dir=cache_dir, smiles_column=reference_column, option="reference_column")
        out["FCD"] = _fcd(ref.fcd, gen.fcd)
        out["Frag"] = cosine_similarity(ref.fragments, gen.fragments)
        out["Scaf"] = cosine_similarity(ref.scaffolds, gen.scaffolds)
        out["Filters"] = float(np.mean(gen.passes_filters))
        for p in PROPERTIES:
            out[p] = _wasserstein(ref.properties[p], gen.properties[p])
        with _torch_threads(n_jobs):
            stage("SNN")
            out["SNN"] = snn(gen.fingerprints, ref.fingerprints)
            stage("IntDiv")
            out["IntDiv1"], out["IntDiv2"] = internal_diversities(gen.fingerprints)
    stage(None)
    return out
