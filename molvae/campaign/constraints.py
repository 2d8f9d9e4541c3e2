"""Feasibility constraints of a campaign, checked with RDKit before any oracle call.

A decoded molecule that violates a constraint is recorded in the ledger as
``infeasible`` with the reason; it costs no oracle call and never counts as a hit.

* ``min_similarity`` + ``to``: Tanimoto similarity (Morgan r=2, 2048 bits) to a reference
  molecule of at least ``min_similarity`` -- the constrained lead-optimization task of
  Jin et al. 2018 (JT-VAE, similarity thresholds 0.4 and 0.6).
* ``max_sa``: synthetic-accessibility score at most ``max_sa``.
* ``mw_range``: average molecular weight within ``[lo, hi]`` Da.
* ``filters``: RDKit FilterCatalog structural alerts, e.g. ``pains`` (Baell & Holloway
  2010) and ``brenk`` (Brenk et al. 2008); a match names the alert.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

from molvae.campaign.errors import CampaignError
from molvae.checks import flag, given

__all__ = ["Constraints", "FILTER_CATALOGS", "parse_mw_range"]

#: Structural filter names accepted in ``filters`` (RDKit FilterCatalogParams.FilterCatalogs).
FILTER_CATALOGS = ("pains", "pains_a", "pains_b", "pains_c", "brenk", "nih", "zinc", "chembl")


def _value(value) -> float:
    """A property value as float: None (how a ledger stores NaN) and non-numbers are NaN."""
    try:
        return math.nan if value is None else float(value)
    except (TypeError, ValueError):
        return math.nan


def parse_mw_range(text, *, flags: dict | None = None) -> tuple[float, float] | None:
    """Parse ``"200,500"``, ``"200:500"``, ``"200-500"`` or a pair into ``(lo, hi)``.

    Parameters
    ----------
    text : str, pair of numbers, or None
        The range in Da.

    Returns
    -------
    tuple of float or None
        ``(lo, hi)`` in Da; None when ``text`` is None.

    Raises
    ------
    CampaignError
        Not two numbers (a single number or a boolean included), or not
        ``0 <= lo < hi < inf``.
    """
    if text is None:
        return None
    try:
        if isinstance(text, str):
            parts = [p for p in re.split(r"\s*[,:]\s*|(?<=\d)\s*-\s*(?=\d)", text.strip()) if p != ""]
        else:
            parts = list(text)  # 5 is not a pair: TypeError
        if any(isinstance(p, bool) for p in parts):  # float(True) is 1.0, as _number refuses
            raise TypeError
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise CampaignError(f"{flag('mw_range', flags)} must be two numbers LO,HI (Da), got {text!r}") from None
    if not (0 <= lo < hi < math.inf):
        raise CampaignError(f"{flag('mw_range', flags)} must be finite and satisfy 0 <= LO < HI, got {lo:g},{hi:g}")
    return lo, hi


def _number(option: str, value) -> float | None:
    """``value`` as a float (None stays None); a non-number is a :class:`CampaignError`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) and not hasattr(value, "__float__"):
        raise CampaignError(f"{option} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CampaignError(f"{option} must be a number, got {value!r}") from None


@functools.lru_cache(maxsize=None)
def _catalog(name: str):
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    params = FilterCatalogParams()
    params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name.upper()))
    return FilterCatalog(params)


@dataclass(frozen=True)
class Constraints:
    """Constraints on candidate molecules.

    Attributes
    ----------
    min_similarity : float or None
        Lowest Tanimoto similarity to ``to`` allowed, in (0, 1].
    to : str or None
        Reference molecule (SMILES or drug name) as given.
    to_smiles : str or None
        Its SMILES (resolved from a drug name).
    max_sa : float or None
    mw_range : (float, float) or None
    filters : tuple of str
        Names from :data:`FILTER_CATALOGS`.
    """

    min_similarity: float | None = None
    to: str | None = None
    to_smiles: str | None = None
    max_sa: float | None = None
    mw_range: tuple[float, float] | None = None
    filters: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def create(cls, *, min_similarity: float | None = None, to: str | None = None, max_sa: float | None = None, mw_range=None, filters: Iterable[str] | str | None = None, flags: dict | None = None) -> Constraints:
        """Validate and build constraints (``to`` may be a drug name).

        Parameters
        ----------
        min_similarity : float, optional
            Least Tanimoto similarity (Morgan r=2, 2048 bits) to ``to``, in (0, 1].
        to : str, optional
            Reference molecule: a drug name or a SMILES; needs ``min_similarity``.
        max_sa : float, optional
            Largest synthetic-accessibility score (1-10).
        mw_range : str or pair of float, optional
            Molecular-weight range in Da (see :func:`parse_mw_range`).
        filters : str or iterable of str, optional
            Structural-alert catalogs (:data:`FILTER_CATALOGS`), a list or comma-separated.
        flags : dict, optional
            How the caller names these settings in the messages: the parameters'
            names by default; the CLI passes :data:`~molvae.campaign.errors.CLI_FLAGS`.

        Returns
        -------
        Constraints

        Raises
        ------
        CampaignError
            Similarity out of (0, 1], ``to`` without ``min_similarity`` or the reverse,
            bad MW range, unknown filter, a ``filters`` string of separators only (``","``;
            an empty or blank string is no filter).
        """
        from molvae.drugs import UnknownDrugError, resolve_molecule

        min_similarity, max_sa = _number(flag("min_similarity", flags), min_similarity), _number(flag("max_sa", flags), max_sa)
        if to is not None and not isinstance(to, str):
            raise CampaignError(f"{flag('to', flags)} must be a molecule (SMILES or drug name), got {to!r}")
        if (min_similarity is None) != (to is None):
            raise CampaignError(f"{flag('min_similarity', flags)} and {flag('to', flags)} go together: {given('min_similarity', 0.4, flags)} {given('to', 'celecoxib', flags)}")
        to_smiles = None
        if min_similarity is not None:
            if not (0 < float(min_similarity) <= 1):
                raise CampaignError(f"{flag('min_similarity', flags)} must be in (0, 1], got {min_similarity}")
            try:
                to_smiles = resolve_molecule(to)[0]
            except UnknownDrugError as exc:
                raise CampaignError(f"{flag('to', flags)}: {exc}") from None
            min_similarity = float(min_similarity)
        if max_sa is not None and not (1 <= float(max_sa) <= 10):
            raise CampaignError(f"{flag('max_sa', flags)} must be between 1 and 10 (the SA scale), got {max_sa}")
        if isinstance(filters, str):
            text, filters = filters, [f for f in re.split(r"[,\s]+", filters) if f]
            if text.strip() and not filters:  # ',' was taken as no filter at all, without a word
                raise CampaignError(f"{flag('filters', flags)} names no catalog ({text!r}): give names such as pains,brenk, or leave it out")
        if filters is not None and (not isinstance(filters, (list, tuple)) or not all(isinstance(f, str) for f in filters)):
            raise CampaignError(f"{flag('filters', flags)} must be catalog names such as pains,brenk, got {filters!r}")
        names = []
        for f in filters or ():
            key = f.strip().lower()
            if key not in FILTER_CATALOGS:
                raise CampaignError(f"unknown structural filter {f!r}: use {', '.join(FILTER_CATALOGS)}")
            if key not in names:
                names.append(key)
        return cls(min_similarity, to, to_smiles, None if max_sa is None else float(max_sa), parse_mw_range(mw_range, flags=flags), tuple(names))

    @property
    def active(self) -> bool:
        """Whether any constraint is set (similarity, SA, MW range or a structural filter);
        when False, :meth:`check` returns None and :meth:`slack` NaN without RDKit work."""
        return bool(self.min_similarity is not None or self.max_sa is not None or self.mw_range or self.filters)

    def to_dict(self) -> dict:
        """JSON-ready form stored in the campaign metadata.

        Returns
        -------
        dict
            The fields of the dataclass (``min_similarity``, ``to``, ``to_smiles``,
            ``max_sa``, ``mw_range``, ``filters``), with ``mw_range`` as a ``[lo, hi]`` list
            or None and ``filters`` as a list of str.
        """
        d = asdict(self)
        d["mw_range"] = list(self.mw_range) if self.mw_range else None
        d["filters"] = list(self.filters)
        return d

    @classmethod
    def from_dict(cls, d: Mapping | None) -> Constraints:
        """Rebuild constraints from :meth:`to_dict` output, without validating them.

        Parameters
        ----------
        d : mapping or None
            Missing keys take the defaults; None or an empty mapping gives no constraint.

        Returns
        -------
        Constraints
            The reference molecule is not resolved again: ``to_smiles`` is taken as stored.
        """
        if not d:
            return cls()
        return cls(d.get("min_similarity"), d.get("to"), d.get("to_smiles"), d.get("max_sa"), tuple(d["mw_range"]) if d.get("mw_range") else None, tuple(d.get("filters") or ()))

    def describe(self) -> str:
        """A one-line human-readable description, e.g.
        ``"similarity >= 0.4 to celecoxib; SA <= 4; MW in [200, 500]; no PAINS alerts"``;
        ``"none"`` when no constraint is set."""
        parts = []
        if self.min_similarity is not None:
            parts.append(f"similarity >= {self.min_similarity:g} to {self.to}")
        if self.max_sa is not None:
            parts.append(f"SA <= {self.max_sa:g}")
        if self.mw_range:
            parts.append(f"MW in [{self.mw_range[0]:g}, {self.mw_range[1]:g}]")
        if self.filters:
            parts.append("no " + "/".join(f.upper() for f in self.filters) + " alerts")
        return "; ".join(parts) or "none"

    def similarity(self, smiles: str) -> float | None:
        """Tanimoto similarity to the reference molecule (Morgan r=2, 2048 bits).

        Parameters
        ----------
        smiles : str
            SMILES of the candidate.

        Returns
        -------
        float or None
            In [0, 1]; NaN when either molecule is invalid
            (:func:`molvae.chem.tanimoto`); None when there is no reference
            (``to_smiles`` is None).
        """
        if self.to_smiles is None:
            return None
        from molvae.chem import tanimoto

        return float(tanimoto(self.to_smiles, [smiles])[0])

    def slack(self, smiles: str, props: Mapping | None = None) -> float:
        """Signed constraint value: <= 0 when every constraint holds, > 0 when one fails.

        The largest of the relative slacks ``(min_similarity - sim) / min_similarity``,
        ``(sa - max_sa) / max_sa``, ``max(lo - mw, mw - hi) / (hi - lo)`` and, per
        structural catalog, +1 with an alert and -1 without: a smooth-ish target for the
        sampler's constraint model (SCBO, Eriksson & Poloczek 2021). NaN without
        constraints.

        Parameters
        ----------
        smiles : str
            Canonical SMILES of the candidate.
        props : mapping, optional
            Its :func:`molvae.chem.properties` (computed when not given); a missing or
            None value counts as NaN, which fails its constraint (slack +1).

        Returns
        -------
        float
            Dimensionless; <= 0 feasible, > 0 infeasible, NaN without constraints.
        """
        if not self.active:
            return math.nan
        if props is None:
            from molvae.chem import properties

            props = properties(smiles)
        parts = []
        if self.min_similarity is not None:
            sim = self.similarity(smiles)
            sim = 0.0 if sim is None or math.isnan(sim) else sim
            parts.append((self.min_similarity - sim) / self.min_similarity)
        if self.max_sa is not None:
            sa = _value(props.get("sa"))
            parts.append(1.0 if math.isnan(sa) else (sa - self.max_sa) / self.max_sa)
        if self.mw_range:
            mw = _value(props.get("mw"))
            lo, hi = self.mw_range
            parts.append(1.0 if math.isnan(mw) else max(lo - mw, mw - hi) / (hi - lo))
        if self.filters:
            from molvae.chem import to_mol

            mol = to_mol(smiles)
            parts.extend(1.0 if mol is None or _catalog(name).HasMatch(mol) else -1.0 for name in self.filters)
        return float(max(parts))

    def check(self, smiles: str, props: Mapping | None = None) -> str | None:
        """The first violated constraint, as a one-line reason; None when feasible.

        Parameters
        ----------
        smiles : str
            Canonical SMILES of a valid molecule.
        props : mapping, optional
            Its :func:`molvae.chem.properties` (computed when not given).
        """
        if not self.active:
            return None
        if props is None:
            from molvae.chem import properties

            props = properties(smiles)
        if self.min_similarity is not None:
            sim = _value(self.similarity(smiles))
            if math.isnan(sim) or sim < self.min_similarity:
                value = "unknown" if math.isnan(sim) else f"{sim:.3f}"
                return f"similarity {value} to {self.to} < {self.min_similarity:g}"
        if self.max_sa is not None:
            sa = _value(props.get("sa"))
            if not (sa <= self.max_sa):
                return f"SA {sa:.2f} > {self.max_sa:g}"
        if self.mw_range:
            mw = _value(props.get("mw"))
            lo, hi = self.mw_range
            if not (lo <= mw <= hi):
                return f"MW {mw:.1f} outside [{lo:g}, {hi:g}]"
        if self.filters:
            from molvae.chem import to_mol

            mol = to_mol(smiles)
            if mol is None:  # as slack: a molecule the filters cannot be checked on fails them
                return "RDKit cannot parse the molecule for the structural filters"
            for name in self.filters:
                match = _catalog(name).GetFirstMatch(mol)
                if match is not None:
                    return f"{name.upper()} alert: {match.GetDescription()}"
        return None
