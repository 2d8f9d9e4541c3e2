"""Objectives of optimization campaigns: what an oracle call computes for one molecule.

An objective maps canonical SMILES to one float. Specifications are strings:

``qed``
    RDKit QED (Bickerton et al. 2012), maximized.
``logp``
    Crippen logP, maximized.
``penalized_logp``
    logP - SA - long-ring penalty, unnormalized (:func:`molvae.chem.penalized_logp`),
    maximized.
``sa``
    Synthetic accessibility (Ertl & Schuffenhauer 2009, 1 easy .. 10 hard), *minimized*:
    a campaign on ``sa`` alone has direction ``minimize``.
``similarity:<SMILES or drug name>``
    Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits) to a molecule.
``predictor:<file>:<target>``
    A latent-space property predictor (:mod:`molvae.predictors`) applied to the
    molecule's encoding; ``:<target>`` may be left out for a single-target predictor.
``package.module:function`` or ``path/to/file.py:function``
    (the current directory is searched for the module last) Any Python callable ``f(smiles: str) -> float``, or a batch form
    ``f(smiles: list[str]) -> list[float]``. The batch form is recognized by an attribute
    ``f.batch = True`` (see :func:`batch_objective`) or by a first-parameter annotation
    ``list[...]`` / ``Sequence[...]``. ``f.direction = "minimize"`` flips the direction.

Weighted sums combine terms: ``"qed + 0.5*similarity:celecoxib"``, ``"qed - 0.1*sa"``.
A sum means what it says and is *maximized*: to penalize a lower-is-better term, subtract
it (``"qed - 0.3*sa"``); adding one (``"qed + 0.3*sa"``) rewards high values and logs a
warning. Inside a term that holds a
``:`` (a SMILES, a drug name, a path), only operators with a space on both sides
separate terms, so SMILES charges and bonds (``[N+]``, ``C-C``) are safe; elsewhere
``qed+0.5*logp`` works without spaces.

An objective that raises (``sys.exit`` included), or returns NaN, infinity or a non-number
(a string too, even ``"0.5"``) for a molecule, gives
an :class:`Evaluation` with ``error`` set; the campaign records that oracle call as failed
and goes on.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import logging
import math
import re
import sys
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molvae.campaign.errors import ObjectiveError

log = logging.getLogger(__name__)

__all__ = [
    "BUILTIN_OBJECTIVES",
    "Evaluation",
    "Objective",
    "Term",
    "batch_objective",
    "parse_objective",
    "split_terms",
]

#: Built-in property objectives and their directions.
BUILTIN_OBJECTIVES = {"qed": "maximize", "logp": "maximize", "penalized_logp": "maximize", "sa": "minimize"}
_ALIASES = {"plogp": "penalized_logp", "penalized-logp": "penalized_logp", "sascore": "sa", "sa_score": "sa"}

_NUM = r"[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?"
_WEIGHTED = re.compile(rf"^\s*({_NUM})\s*\*\s*(.+?)\s*$", re.S)
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_HELP = (
    "use qed, logp, penalized_logp, sa, similarity:<SMILES or drug>, predictor:<file>:<target>, "
    "package.module:function or path/to/file.py:function, or a weighted sum such as 'qed + 0.5*similarity:celecoxib'"
)


def batch_objective(fn: Callable | None = None, *, direction: str = "maximize"):
    """Mark ``fn(list[str]) -> list[float]`` as a batch objective (one call per batch).

    Usable as ``@batch_objective`` or ``@batch_objective(direction="minimize")``.

    Parameters
    ----------
    fn : callable, optional
        The objective: called with a list of n canonical SMILES, returns n scores (a
        failed molecule's score may be NaN or None, or an exception instance).
    direction : {"maximize", "minimize"}
        Stored on the function as ``fn.direction``.

    Returns
    -------
    callable
        ``fn`` itself with ``fn.batch = True`` set, or, without ``fn``, the decorator.
    """

    def mark(f):
        f.batch = True
        f.direction = direction
        return f

    return mark(fn) if fn is not None else mark


@dataclass
class Evaluation:
    """The outcome of one oracle call.

    Attributes
    ----------
    score : float or None
        The objective value; None when the call failed.
    terms : dict of str to float
        Value of each term (raw, before weights and directions).
    error : str or None
        One-line reason when the call failed.
    """

    score: float | None
    terms: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Term:
    """One objective term.

    Attributes
    ----------
    name : str
        Its specification (``"qed"``, ``"similarity:celecoxib"``, ``"pkg.mod:f"``).
    direction : {"maximize", "minimize"}
    fn : callable
        ``fn(smiles: list[str], props: list[dict]) -> list[float | Exception]``, one entry
        per molecule.
    kind : str
        ``builtin``, ``similarity``, ``predictor`` or ``custom``.
    prepare : callable, optional
        ``prepare(vae)``, called once with the campaign's model before any call (a
        predictor checks that it was trained on that model).
    target : str, optional
        The standardized SMILES a ``similarity`` term compares with.
    batch : bool
        ``fn`` scores a list of molecules in one call (a batch-form custom function, a
        predictor), so a batch cannot be split into one call per molecule.
    path : str, optional
        The file a ``predictor`` term reads (hashed by campaigns, so a resumed campaign
        scores with the same predictor).
    """

    name: str
    direction: str
    fn: Callable[[list[str], list[dict]], list]
    kind: str = "builtin"
    prepare: Callable | None = None
    target: str | None = None
    batch: bool = False
    path: str | None = None


class Objective:
    """A parsed objective: one term, or a weighted sum of terms.

    Parameters
    ----------
    terms : list of (float, Term)
        Weights and terms.
    spec : str, optional
        Canonical text of the objective (built from the terms when None).

    Attributes
    ----------
    direction : {"maximize", "minimize"}
        The direction of a single unweighted term; ``maximize`` for sums (weighted
        terms are added as written).
    """

    def __init__(self, terms: list[tuple[float, Term]], spec: str | None = None):
        if not terms:
            raise ObjectiveError("an objective needs at least one term")
        for w, t in terms:
            if not math.isfinite(w):
                raise ObjectiveError(f"the weight of {t.name} must be a finite number, got {w:g}")
            if w == 0:
                raise ObjectiveError(f"the weight of {t.name} is 0: the term would be computed and ignored; leave it out")
        self.terms = terms
        self.plain = len(terms) == 1 and terms[0][0] == 1.0
        self.direction = terms[0][1].direction if self.plain else "maximize"
        self.spec = spec or _canonical(terms)
        if not self.plain:
            for w, t in terms:
                if t.direction == "minimize" and w > 0:
                    log.warning("%s is lower-is-better, but %r adds it to a maximized sum (it rewards high %s); write '- %g*%s' to penalize it", t.name, self.spec, t.name, w, t.name)

    def __repr__(self) -> str:
        return f"Objective({self.spec!r}, direction={self.direction!r})"

    @property
    def batched(self) -> bool:
        """Whether a term scores a whole batch in one call (a batch-form function, a
        predictor); otherwise :meth:`evaluate` may be called one molecule at a time."""
        return any(t.batch for _, t in self.terms)

    @property
    def needs_model(self) -> bool:
        """Whether a term (a predictor) needs the VAE to score molecules."""
        return any(t.kind == "predictor" for _, t in self.terms)

    def prepare(self, vae) -> None:
        """Give the terms the campaign's model (predictors check they were trained on it).

        Parameters
        ----------
        vae : molvae.vae.MolVAE
            The campaign's model.

        Raises
        ------
        ValueError
            A predictor trained on another model (:class:`molvae.predictors.PredictorError`).
        """
        for _, term in self.terms:
            if term.prepare is not None:
                term.prepare(vae)

    def evaluate(self, smiles: Sequence[str], props: Sequence[Mapping] | None = None) -> list[Evaluation]:
        """Score molecules: one oracle call each.

        Parameters
        ----------
        smiles : str or sequence of str, length n
            Canonical SMILES of valid molecules; a single string is one molecule (n = 1).
        props : sequence of dict, length n, optional
            Their :func:`molvae.chem.properties`, reused by built-in terms (for a single
            string, one dict or a list of one).

        Returns
        -------
        list of Evaluation, length n
        """
        if isinstance(smiles, str):  # list('CCO') would score C, C and O
            smiles = [smiles]
            if isinstance(props, Mapping):
                props = [props]
        smiles = list(smiles)
        if props is None:
            from molvae.chem import properties

            props = [properties(s) for s in smiles]
        props = list(props)
        out = [Evaluation(0.0) for _ in smiles]
        for weight, term in self.terms:
            try:
                values = list(term.fn(smiles, props))
            except (Exception, SystemExit) as exc:  # a batch call failed as a whole
                values = [exc] * len(smiles)
            if len(values) != len(smiles):
                bad = ObjectiveError(f"returned {len(values)} values for {len(smiles)} molecules")
                values = [bad] * len(smiles)
            for ev, v in zip(out, values):
                if ev.error is not None:
                    continue
                value, err = _as_float(v)
                if err is not None:
                    ev.error, ev.score = f"{term.name}: {err}", None
                    continue
                ev.terms[term.name] = value
                ev.score += weight * value
        for ev in out:
            if ev.error is None and not math.isfinite(ev.score):
                ev.error, ev.score = f"score is {ev.score}", None
        return out

    def latent_estimate(self, vae) -> Callable[[np.ndarray], np.ndarray] | None:
        """The model's own estimate of the objective on latent points, or None.

        Each term needs one, and the estimate is their weighted sum:

        - ``qed``, ``logp`` and ``sa`` are outputs of the model's jointly trained property
          head, ``penalized_logp`` is ``logp - sa`` (the long-ring penalty has no head
          output); the head must predict what the term needs;
        - ``similarity:<molecule>`` is ``exp(-||z - z_t||^2 / (2 sum(sigma_t^2)))``: 1 at
          the target's anchor ``z_t`` (:func:`molvae.interpolation.anchor`, a point that
          decodes back to it), falling with the distance on the scale of its posterior
          spread (``sigma_t`` the posterior standard deviations): the encoder places
          similar molecules near each other. The target must be encodable.

        A Bayesian-optimization campaign uses it to screen its initial design and as its
        surrogate's prior mean (:class:`~molvae.campaign.sampler.LatentBOSampler`), which
        fits ``a + b * estimate`` to the scores, so the estimate's units matter only
        between the terms of a sum.

        Parameters
        ----------
        vae : MolVAE

        Returns
        -------
        callable or None
            ``f(z)`` for ``z`` of shape (n, d_z), returning shape (n,) in the objective's
            units (weighted sum as written, not oriented by direction). None when a term
            is a custom function or predictor, the head lacks a property, or a
            similarity target cannot be encoded.
        """
        heads = set(vae.property_names)
        parts: list[tuple[float, Callable[[np.ndarray, dict], np.ndarray]]] = []
        for weight, term in self.terms:
            if term.kind == "similarity" and term.target:
                near = _latent_neighbourhood(vae, term.target)
                if near is None:
                    return None
                parts.append((weight, near))
                continue
            if term.kind != "builtin":
                return None
            coef = {"penalized_logp": {"logp": 1.0, "sa": -1.0}}.get(term.name, {term.name: 1.0})
            if not set(coef) <= heads:
                return None
            parts.append((weight, lambda z, pred, coef=coef: sum(c * pred[name] for name, c in coef.items())))
        needs_head = any(term.kind == "builtin" for _, term in self.terms)

        def estimate(z: np.ndarray) -> np.ndarray:
            z = np.asarray(z, dtype=np.float32)
            pred = vae.predict_properties(z) if needs_head else {}
            out = np.zeros(len(z))
            for weight, part in parts:
                out += weight * np.asarray(part(z, pred), dtype=float)
            return out

        return estimate

    def __call__(self, smiles: str) -> float:
        """Score one molecule; NaN when the call fails."""
        ev = self.evaluate([smiles])[0]
        return math.nan if ev.score is None else ev.score

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_callable(cls, fn: Callable, *, name: str | None = None, batch: bool | None = None, direction: str | None = None) -> Objective:
        """An objective from a Python callable (single-molecule or batch form).

        Parameters
        ----------
        fn : callable
            ``f(smiles: str) -> float`` or ``f(smiles: list[str]) -> list[float]``.
        name : str, optional
            Label stored in the ledger (default: ``module:qualname``).
        batch : bool, optional
            Force the batch form; detected from ``fn`` when None.
        direction : {"maximize", "minimize"}, optional
            Default: ``fn.direction`` or ``maximize``.
        """
        label = name or f"{getattr(fn, '__module__', 'callable')}:{getattr(fn, '__qualname__', type(fn).__name__)}"
        return cls([(1.0, _custom_term(label, fn, batch=batch, direction=direction))])


def _as_float(v) -> tuple[float | None, str | None]:
    if isinstance(v, SystemExit):  # a wrapped command-line tool: its call failed, the campaign goes on
        return None, f"SystemExit: {v.code} (the objective called sys.exit)"[:300]
    if isinstance(v, BaseException):
        msg = " ".join(str(v).split()) or "(no message)"
        return None, f"{type(v).__name__}: {msg}"[:300]
    if isinstance(v, bool) or v is None:
        return None, f"returned {v!r}, not a number"
    if isinstance(v, (str, bytes)):  # float("0.5") would pass: a string is not a score
        return None, f"returned {v[:50]!r} (a {type(v).__name__}), not a number"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None, f"returned {str(v)[:50]!r}, not a number"
    if math.isnan(f):
        return None, "returned NaN"
    if math.isinf(f):
        return None, f"returned {f}"
    return f, None


def _canonical(terms: list[tuple[float, Term]]) -> str:
    parts = []
    for i, (w, t) in enumerate(terms):
        text = t.name if w == 1.0 else f"{abs(w):g}*{t.name}" if i else f"{w:g}*{t.name}"
        parts.append(text if i == 0 else (f"- {text}" if w < 0 else f"+ {text}"))
    return " ".join(parts)


# ---------------------------------------------------------------------- parsing
def split_terms(text: str) -> list[tuple[float, str]]:
    """Split a weighted-sum specification into ``(weight, term)`` pairs.

    Parameters
    ----------
    text : str
        E.g. ``"qed + 0.5*similarity:celecoxib"`` or ``"qed-0.1*logp"``.

    Returns
    -------
    list of (float, str)

    Raises
    ------
    ObjectiveError
        Empty text, an operator with no term after it, a weight that is not a number.
    """
    if not isinstance(text, str) or not text.strip():
        raise ObjectiveError("empty objective: " + _HELP)
    pieces: list[tuple[float, str]] = []
    for sign, chunk in _split_ops(text, text.strip(), spaced=True):
        if ":" in chunk or "/" in chunk or "\\" in chunk:  # a SMILES, drug name or path: one term
            pieces.append((sign, chunk))
        else:
            pieces.extend((sign * s2, c2) for s2, c2 in _split_ops(text, chunk.strip(), spaced=False))

    out = []
    for sign, piece in pieces:
        piece = piece.strip()
        m = _WEIGHTED.match(piece)
        if m:
            weight, name = float(m.group(1)), m.group(2).strip()
        else:
            head = piece.split("*", 1)[0].strip() if "*" in piece else None
            if head is not None and re.fullmatch(_NUM, head) and not piece.split("*", 1)[1].strip():
                raise ObjectiveError(f"malformed term {piece!r} in {text!r}: no objective after the weight")
            if head is not None and ":" not in head and not head.startswith(("similarity", "predictor")):
                raise ObjectiveError(f"malformed term {piece!r} in {text!r}: write a weight as a number before '*', as in 0.5*qed")
            weight, name = 1.0, piece
        if re.fullmatch(_NUM, name):
            raise ObjectiveError(f"malformed term {piece!r} in {text!r}: a number with no objective")
        if not name or name == "*":
            raise ObjectiveError(f"malformed term {piece!r} in {text!r}: no objective after the weight")
        out.append((sign * weight, name))
    return out


def _split_ops(text: str, src: str, *, spaced: bool) -> list[tuple[float, str]]:
    """Split ``src`` at ``+``/``-`` outside brackets: only space-delimited ones if ``spaced``."""
    pieces: list[tuple[float, str]] = []
    sign, cur, depth, i = 1.0, "", 0, 0
    if src[:1] in ("+", "-"):
        sign, i = (-1.0 if src[0] == "-" else 1.0), 1
    last_op = src[0] if src[:1] in ("+", "-") else None
    while i < len(src):
        c = src[i]
        if c in "[(":
            depth += 1
        elif c in "])":
            depth = max(depth - 1, 0)
        if c in "+-" and depth == 0:
            if not cur.strip():
                # a sign right after another ('--qed', '+-qed') is no term either: '--qed' was +qed
                if last_op is not None and (not spaced or src[i - 1].isspace() or src[i - 1] in "+-"):
                    raise ObjectiveError(f"malformed objective {text!r}: {last_op!r} followed by {c!r} with no term between")
            else:
                is_spaced = src[i - 1].isspace() and i + 1 < len(src) and src[i + 1].isspace()
                exponent = re.fullmatch(r"\s*[0-9]*\.?[0-9]+[eE]", cur) is not None
                if (spaced and is_spaced) or (not spaced and not exponent):
                    pieces.append((sign, cur))
                    sign, cur, last_op = (-1.0 if c == "-" else 1.0), "", c
                    i += 1
                    continue
        cur += c
        i += 1
    if not cur.strip():
        raise ObjectiveError(f"malformed objective {text!r}: it ends with {last_op!r} and no term after it")
    pieces.append((sign, cur))
    return pieces


def parse_objective(spec, *, vae=None, model_loader: Callable[[], object] | None = None) -> Objective:
    """Parse an objective specification.

    Parameters
    ----------
    spec : str, mapping, callable or Objective
        A string (see the module docs), a mapping ``{term: weight}`` (the TOML form), a
        Python callable, or an :class:`Objective` (returned as is).
    vae : MolVAE, optional
        The model, for predictor terms (which score a molecule's encoding).
    model_loader : callable, optional
        Returns the model when first needed, if ``vae`` is not given.

    Returns
    -------
    Objective

    Raises
    ------
    ObjectiveError
        Unknown objective, malformed weighted sum, a term given twice (``qed + qed``,
        also through an alias), missing file/module/function, predictors not available.
    """
    if isinstance(spec, Objective):
        return spec
    if callable(spec) and not isinstance(spec, str):
        return Objective.from_callable(spec)
    if isinstance(spec, Mapping):
        if not spec:
            raise ObjectiveError("empty objective table: give at least one term = weight")
        items = []
        for name, w in spec.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise ObjectiveError(f"objective table: weight of {name!r} must be a number, got {w!r}")
            items.append((float(w), str(name).strip()))
    elif isinstance(spec, str):
        items = split_terms(spec)
    else:
        raise ObjectiveError(f"an objective must be a string, a table or a callable, got {type(spec).__name__}")
    context = {"vae": vae, "loader": model_loader}
    terms = [(w, _make_term(name, context)) for w, name in items]
    seen: set[str] = set()
    for _, term in terms:  # 'qed + qed' scored 2*qed with one term:qed column, 'qed - qed' 0
        if term.name in seen:
            raise ObjectiveError(f"{term.name!r} appears twice in the objective: give it once, with its total weight (e.g. 2*{term.name})")
        seen.add(term.name)
    return Objective(terms)


def _make_term(name: str, context: dict) -> Term:
    key = name.strip()
    low = _ALIASES.get(key.lower(), key.lower())
    if low in BUILTIN_OBJECTIVES:
        return Term(low, BUILTIN_OBJECTIVES[low], _builtin_fn(low), "builtin")
    if ":" in key:
        head, rest = key.split(":", 1)
        if head.strip().lower() == "similarity":
            return _similarity_term(rest.strip())
        if head.strip().lower() == "predictor":
            return _predictor_term(rest.strip(), context)
        ref, func = key.rsplit(":", 1)
        return _custom_term(key, load_callable(ref.strip(), func.strip()))
    hint = difflib.get_close_matches(low, [*BUILTIN_OBJECTIVES, "similarity"], n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise ObjectiveError(f"unknown objective {key!r}{suggestion}: {_HELP}")


# ---------------------------------------------------------------------- built-in terms
def _builtin_fn(name: str):
    def fn(smiles: list[str], props: list[dict]) -> list:
        out = []
        for s, p in zip(smiles, props):
            v = p.get(name) if p else None
            if v is None:
                from molvae.chem import properties

                v = properties(s)[name]
            out.append(v if not (isinstance(v, float) and math.isnan(v)) else ValueError(f"RDKit could not compute {name} for {s}"))
        return out

    return fn


def _similarity_term(query: str) -> Term:
    from rdkit import DataStructs

    from molvae.chem import morgan_fingerprint
    from molvae.drugs import UnknownDrugError, resolve_molecule

    if not query:
        raise ObjectiveError("similarity: needs a molecule, as in similarity:celecoxib or similarity:CCO")
    try:
        smiles, _ = resolve_molecule(query)
    except UnknownDrugError as exc:
        raise ObjectiveError(f"similarity:{query}: {exc}") from None
    fq = morgan_fingerprint(smiles)
    if fq is None:
        raise ObjectiveError(f"similarity:{query}: RDKit cannot read {smiles!r}")

    def fn(smiles_list: list[str], props: list[dict]) -> list:
        out = []
        for s in smiles_list:
            f = morgan_fingerprint(s)
            out.append(DataStructs.TanimotoSimilarity(fq, f) if f is not None else ValueError(f"RDKit cannot read {s}"))
        return out

    return Term(f"similarity:{query}", "maximize", fn, "similarity", target=smiles)


def _latent_neighbourhood(vae, target: str) -> Callable[[np.ndarray, dict], np.ndarray] | None:
    """``exp(-||z - z_t||^2 / (2 sum(sigma_t^2)))`` around ``target``'s anchor (see
    :meth:`Objective.latent_estimate`); None when the model cannot encode ``target``."""
    from molvae.interpolation import anchor

    try:  # the encoding errors (unknown token, too long, invalid) are ValueErrors
        z_t = anchor(vae, target)[0].astype(float)
    except ValueError as exc:
        log.info("similarity to %s: no latent estimate (%s)", target, exc)
        return None
    _, logvar, _ = vae.try_encode([target], return_logvar=True)  # anchor() encoded it: no errors
    scale2 = float(np.exp(logvar[0].astype(float)).sum())

    def near(z: np.ndarray, pred: dict) -> np.ndarray:
        return np.exp(-((np.asarray(z, dtype=float) - z_t) ** 2).sum(axis=1) / (2.0 * scale2))

    return near


def _predictor_term(rest: str, context: dict) -> Term:
    if importlib.util.find_spec("molvae.predictors") is None:
        raise ObjectiveError("predictor objectives are not available yet: molvae.predictors is missing from this installation")
    path, target = rest.rsplit(":", 1) if ":" in rest else (rest, None)
    # a target name may hold ':' (IC50:EGFR): split after the first prefix that is a file
    for i, c in enumerate(rest):
        if c == ":" and Path(rest[:i]).is_file():
            path, target = rest[:i], rest[i + 1 :]
            break
    if not path:
        raise ObjectiveError("predictor: needs a file, as in predictor:model.skops:target")
    if not Path(path).is_file():
        raise ObjectiveError(f"predictor file {path} does not exist")
    from molvae import predictors

    try:
        predictor = predictors.LatentPredictor.load(path)
    except (OSError, ValueError) as exc:
        raise ObjectiveError(f"cannot load predictor {path}: {exc}") from None
    targets = list(getattr(predictor, "targets", None) or [])
    column = 0
    if target is not None:
        if target not in targets:
            raise ObjectiveError(f"predictor {path} has no target {target!r}; it has {', '.join(map(str, targets)) or 'none'}")
        column = targets.index(target)
    elif len(targets) > 1:
        raise ObjectiveError(f"predictor {path} has {len(targets)} targets; name one, as in predictor:{path}:{targets[0]}")

    def model():
        vae = context.get("vae")
        if vae is None and context.get("loader") is not None:
            vae = context["vae"] = context["loader"]()
        if vae is None:
            raise ObjectiveError("a predictor objective needs the model (pass vae=)")
        return vae

    def prepare(vae) -> None:
        context["vae"] = vae
        predictor.check_vae(vae)

    def fn(smiles: list[str], props: list[dict]) -> list:
        import numpy as np

        z, errors = model().try_encode(smiles)
        bad = {e.row: e.reason for e in errors}
        out: list = [ValueError(f"cannot encode: {bad[i]}") if i in bad else None for i in range(len(smiles))]
        good = [i for i in range(len(smiles)) if i not in bad]
        if good:
            pred = np.asarray(predictor.predict(z[good]), dtype=float).reshape(len(good), -1)[:, column]
            for i, v in zip(good, pred):
                out[i] = float(v)
        return out

    label = f"predictor:{path}" + (f":{target}" if target else "")
    return Term(label, "maximize", fn, "predictor", prepare, batch=True, path=path)


# ---------------------------------------------------------------------- custom terms
def load_callable(ref: str, func: str) -> Callable:
    """Import ``package.module`` (or load ``path/to/file.py``) and return its ``func``.

    Parameters
    ----------
    ref : str
        A dotted module name, or the path of a Python file.
    func : str
        Name of the callable in it.

    Returns
    -------
    callable

    Raises
    ------
    ObjectiveError
        The file or module does not exist or fails to import (an exception or
        ``sys.exit()`` while it runs), or has no such callable.
    """
    if not func or not func.isidentifier():
        raise ObjectiveError(f"objective {ref}:{func}: {func!r} is not a function name")
    if ref.endswith(".py") or "/" in ref or "\\" in ref:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ObjectiveError(f"objective file {ref} does not exist")
        digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=6).hexdigest()
        mod_name = f"molvae_objective_{path.stem}_{digest}"
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, path)
            if spec is None or spec.loader is None:
                raise ObjectiveError(f"cannot load objective file {ref}")
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except (Exception, SystemExit) as exc:  # sys.exit() at import is a failure too, not an exit
                raise ObjectiveError(f"cannot load objective file {ref}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
            sys.modules[mod_name] = module
        where = f"file {ref}"
    elif _DOTTED.match(ref):
        cwd = str(Path.cwd())
        if cwd not in sys.path and "" not in sys.path:  # console scripts do not see the current directory
            sys.path.append(cwd)
        try:
            module = importlib.import_module(ref)
        except ModuleNotFoundError as exc:
            if exc.name and (ref == exc.name or ref.startswith(exc.name + ".")):
                raise ObjectiveError(f"unknown objective {ref}:{func}: no module named {exc.name!r} (and not a built-in: {_HELP})") from None
            raise ObjectiveError(f"cannot import objective module {ref}: {exc}") from None
        except (Exception, SystemExit) as exc:
            raise ObjectiveError(f"cannot import objective module {ref}: {type(exc).__name__}: {' '.join(str(exc).split())}") from None
        where = f"module {ref}"
    else:
        raise ObjectiveError(f"unknown objective {ref}:{func}: {_HELP}")
    fn = getattr(module, func, None)
    if fn is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_") and getattr(v, "__module__", None) == module.__name__]
        hint = f"; it has {', '.join(sorted(names)[:8])}" if names else ""
        raise ObjectiveError(f"objective {where} has no function {func!r}{hint}")
    if not callable(fn):
        raise ObjectiveError(f"objective {ref}:{func} is not callable")
    return fn


def _is_batch(fn: Callable) -> bool:
    flag = getattr(fn, "batch", None)
    if flag is None:
        flag = getattr(fn, "batched", None)
    if flag is not None:
        return bool(flag)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    ann = params[0].annotation
    if ann is inspect.Parameter.empty:
        return False
    if isinstance(ann, str):
        return ann.replace("typing.", "").replace("collections.abc.", "").startswith(("list", "List", "Sequence", "Iterable", "tuple", "Tuple"))
    origin = typing.get_origin(ann) or ann
    return origin in (list, tuple) or origin in (Sequence, Iterable) or (isinstance(origin, type) and issubclass(origin, (list, tuple)))


def _custom_term(label: str, fn: Callable, *, batch: bool | None = None, direction: str | None = None) -> Term:
    direction = direction or getattr(fn, "direction", None) or "maximize"
    if direction not in ("maximize", "minimize"):
        raise ObjectiveError(f"objective {label}: direction must be 'maximize' or 'minimize', got {direction!r}")
    is_batch = _is_batch(fn) if batch is None else batch

    if is_batch:

        def call(smiles: list[str], props: list[dict]) -> list:
            out = fn(list(smiles))
            if isinstance(out, (str, bytes, Mapping)) or not isinstance(out, Iterable):
                # list() of a string gives its characters, of a dict its keys
                raise ObjectiveError(f"returned a {type(out).__name__}, not a list of numbers (one per molecule)")
            return list(out)

    else:

        def call(smiles: list[str], props: list[dict]) -> list:
            out = []
            for s in smiles:
                try:
                    out.append(fn(s))
                except (Exception, SystemExit) as exc:  # recorded as a failed call; the campaign goes on
                    out.append(exc)
            return out

    return Term(label, direction, call, "custom", batch=is_batch)
