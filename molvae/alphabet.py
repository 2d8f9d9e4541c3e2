"""SELFIES alphabet: build from data, map SELFIES <-> token ids, report unknown tokens.

The alphabet is the model's vocabulary. It is built from the training set, saved inside
the checkpoint together with the ``selfies`` version and the semantic-constraint preset
(SELFIES' robustness depends on those constraints; Krenn et al. 2020,
https://github.com/aspuru-guzik-group/selfies), and never kept apart from the weights.

This module knows nothing of torch or RDKit.
"""

from __future__ import annotations

import logging
import numbers
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import selfies as sf

__all__ = [
    "PAD",
    "START",
    "END",
    "SPECIAL_TOKENS",
    "Alphabet",
    "AlphabetError",
    "UnknownTokenError",
    "SequenceTooLongError",
]

log = logging.getLogger(__name__)

PAD = "<pad>"
START = "<start>"
END = "<end>"
SPECIAL_TOKENS = (PAD, START, END)

#: SELFIES tokens that carry stereochemistry (tetrahedral ``@`` or double-bond ``/``, ``\``).
_STEREO_CHARS = ("@", "/", "\\")


class AlphabetError(ValueError):
    """Base class for errors raised when a molecule cannot be written in an alphabet."""


class UnknownTokenError(AlphabetError):
    """A SELFIES token of the molecule is not in the model's alphabet.

    Attributes
    ----------
    tokens : list of str
        The unknown tokens, in order of first appearance.
    molecule : str
        The molecule (SMILES or SELFIES) that contained them.
    """

    def __init__(self, tokens: Sequence[str], molecule: str):
        self.tokens = list(tokens)
        self.molecule = molecule
        #: The message without the molecule, for per-row reports that show it already.
        self.reason = f"token{'s' if len(self.tokens) > 1 else ''} {', '.join(self.tokens)} not in the model's alphabet"
        super().__init__(f"{self.reason} (molecule {molecule})")


class SequenceTooLongError(AlphabetError):
    """The molecule's SELFIES is longer than the model's maximum length.

    Attributes
    ----------
    length : int
        Number of SELFIES tokens of the molecule.
    max_length : int
        The model's maximum number of tokens.
    molecule : str
        The molecule.
    """

    def __init__(self, length: int, max_length: int, molecule: str):
        self.length = length
        self.max_length = max_length
        self.molecule = molecule
        #: The message without the molecule, for per-row reports that show it already.
        self.reason = f"{length} SELFIES tokens, more than the model's maximum of {max_length}"
        super().__init__(f"{self.reason} (molecule {molecule})")


def _split(selfies_string: str) -> list[str]:
    """SELFIES tokens of a string, refusing text that is not made of ``[...]`` tokens.

    ``selfies.split_selfies`` silently drops text before the first bracket (``"C"`` gives
    no token at all) and raises a plain ValueError on a hanging bracket.

    Raises
    ------
    AlphabetError
        If the string is not a sequence of bracketed tokens (and ``.``).
    TypeError
        If it is not a string (None gave a bare AttributeError inside selfies).
    """
    if not isinstance(selfies_string, str):
        raise TypeError(f"a SELFIES string is a str, got {type(selfies_string).__name__}")
    try:
        toks = list(sf.split_selfies(selfies_string))
    except ValueError as exc:
        raise AlphabetError(f"malformed SELFIES {selfies_string!r} ({exc})") from None
    if "".join(toks) != selfies_string:
        raise AlphabetError(f"malformed SELFIES {selfies_string!r}: text outside [...] tokens")
    return toks


@dataclass
class Alphabet:
    """The SELFIES vocabulary of a model.

    Token ids 0, 1, 2 are the special tokens ``<pad>``, ``<start>``, ``<end>``; SELFIES
    tokens follow in sorted order, so the same training set always gives the same ids.

    Parameters
    ----------
    tokens : sequence of str
        SELFIES tokens (without the special tokens), e.g. ``["[C]", "[=O]", "[Ring1]"]``.
    max_length : int
        Largest number of SELFIES tokens (without start/end) a molecule may have.
    selfies_version : str, optional
        Version of the ``selfies`` package that built the alphabet.
    constraints : str, optional
        Name of the selfies semantic-constraint preset in force (``"default"``).
    """

    tokens: list[str]
    max_length: int
    selfies_version: str = field(default_factory=lambda: sf.__version__)
    constraints: str = "default"

    def __post_init__(self) -> None:
        self.tokens = sorted(set(self.tokens) - set(SPECIAL_TOKENS))
        self.itos: list[str] = list(SPECIAL_TOKENS) + self.tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, selfies_strings: Iterable[str], *, max_length: int | None = None) -> Alphabet:
        """Build an alphabet from the SELFIES of a training set.

        Parameters
        ----------
        selfies_strings : iterable of str
            SELFIES strings of the training molecules.
        max_length : int, optional
            Maximum length; by default the longest training molecule.

        Returns
        -------
        Alphabet

        Raises
        ------
        ValueError
            If no SELFIES string is given.
        """
        counts: Counter[str] = Counter()
        longest = 0
        for s in selfies_strings:
            toks = list(sf.split_selfies(s))
            counts.update(toks)
            longest = max(longest, len(toks))
        if not counts:
            raise ValueError("cannot build an alphabet from an empty set of molecules")
        return cls(tokens=list(counts), max_length=max_length or longest)

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        """Token id of the padding token ``<pad>``; always 0."""
        return 0

    @property
    def start_id(self) -> int:
        """Token id of the start-of-sequence token ``<start>``; always 1."""
        return 1

    @property
    def end_id(self) -> int:
        """Token id of the end-of-sequence token ``<end>``; always 2."""
        return 2

    @property
    def has_stereo(self) -> bool:
        """Whether any token carries stereochemistry (``@``, ``/`` or ``\\``)."""
        return any(c in t for t in self.tokens for c in _STEREO_CHARS)

    # ------------------------------------------------------------------ conversion
    def encode(self, selfies_string: str, *, molecule: str | None = None) -> list[int]:
        """Token ids of a SELFIES string, without start and end tokens.

        Parameters
        ----------
        selfies_string : str
            A SELFIES string.
        molecule : str, optional
            How to name the molecule in errors (e.g. its SMILES); defaults to the SELFIES.

        Returns
        -------
        list of int
            Length ``L`` with ``L <= max_length``.

        Raises
        ------
        UnknownTokenError
            If a token is not in the alphabet; the error names every unknown token.
        SequenceTooLongError
            If the molecule has more than ``max_length`` tokens.
        AlphabetError
            If the string is not made of ``[...]`` tokens (``"C"``, a hanging bracket).
        TypeError
            If ``selfies_string`` is not a string (None included).
        """
        toks = _split(selfies_string)
        unknown = [t for t in dict.fromkeys(toks) if t not in self.stoi or t in SPECIAL_TOKENS]
        if unknown:
            raise UnknownTokenError(unknown, molecule or selfies_string)
        if len(toks) > self.max_length:
            raise SequenceTooLongError(len(toks), self.max_length, molecule or selfies_string)
        return [self.stoi[t] for t in toks]

    def decode(self, ids: Iterable[int]) -> str:
        """SELFIES string of token ids; stops at the first end token, skips pad/start.

        Parameters
        ----------
        ids : iterable of int
            Token ids, e.g. one row of a ``(batch, length)`` sample.

        Returns
        -------
        str
            The SELFIES string (possibly empty).

        Raises
        ------
        AlphabetError
            If an id (before the first end token) is not an integer (a Python, numpy or
            torch integer) or not one of the alphabet's ``0 .. len(alphabet) - 1``; the
            message names it.
        """
        out = []
        size = len(self.itos)
        for i in ids:
            if type(i) is not int:  # rows of .tolist() are ints; numpy and torch scalars give theirs
                value = i.item() if hasattr(i, "item") else i
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):  # 1.5 was read as id 1
                    raise AlphabetError(f"token id {i!r} is not an integer")
                i = int(value)
            if i == self.end_id:
                break
            if not 0 <= i < size:  # -1 would silently be the last token
                raise AlphabetError(f"token id {i} is not in the model's alphabet (ids 0 to {size - 1})")
            if i in (self.pad_id, self.start_id):
                continue
            out.append(self.itos[i])
        return "".join(out)

    def uncovered_tokens(self, selfies_string: str) -> list[str]:
        """Tokens of a SELFIES string that the alphabet lacks (empty if covered).

        Raises
        ------
        AlphabetError
            If the string is not made of ``[...]`` tokens.
        TypeError
            If ``selfies_string`` is not a string.
        """
        return [t for t in dict.fromkeys(_split(selfies_string)) if t not in self.stoi]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """Plain-dict form stored in checkpoints (strings, ints and lists only)."""
        return {
            "tokens": list(self.tokens),
            "max_length": int(self.max_length),
            "selfies_version": self.selfies_version,
            "constraints": self.constraints,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Alphabet:
        """Rebuild an alphabet from its :meth:`to_dict` form.

        Logs a warning (it does not raise) if the alphabet was built with another
        ``selfies`` version than the installed one. The constraint preset is only
        recorded, not put in force; call :meth:`set_constraints` for that.

        Parameters
        ----------
        d : dict
            Mapping with ``"tokens"`` (list of str) and ``"max_length"`` (int);
            ``"selfies_version"`` defaults to ``"unknown"`` and ``"constraints"`` to
            ``"default"`` when absent (older checkpoints).

        Returns
        -------
        Alphabet

        Raises
        ------
        KeyError
            If ``"tokens"`` or ``"max_length"`` is missing.
        ValueError
            If ``"max_length"`` is not convertible to int.
        """
        alphabet = cls(
            tokens=list(d["tokens"]),
            max_length=int(d["max_length"]),
            selfies_version=str(d.get("selfies_version", "unknown")),
            constraints=str(d.get("constraints", "default")),
        )
        if alphabet.selfies_version != sf.__version__:
            log.warning(
                "model alphabet was built with selfies %s, this is selfies %s",
                alphabet.selfies_version,
                sf.__version__,
            )
        return alphabet

    def set_constraints(self) -> None:
        """Put the alphabet's selfies semantic-constraint preset in force.

        Raises
        ------
        ValueError
            If the preset is unknown to the installed selfies.
        """
        sf.set_semantic_constraints(self.constraints)
