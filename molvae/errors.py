"""The exceptions a user can cause, gathered in one place.

Every error raised for bad input derives from :class:`ValueError` or :class:`OSError` and
carries a one-line message meant for people; the CLI prints it without a traceback.
"""

from __future__ import annotations

from molvae.alphabet import AlphabetError, SequenceTooLongError, UnknownTokenError
from molvae.chem import InvalidMoleculeError
from molvae.checkpoint import CheckpointError
from molvae.data import InputError
from molvae.drugs import UnknownDrugError

__all__ = [
    "AlphabetError",
    "UnknownTokenError",
    "SequenceTooLongError",
    "InvalidMoleculeError",
    "CheckpointError",
    "InputError",
    "UnknownDrugError",
    "USER_ERRORS",
]

#: Exception types that mean "the user's input is wrong", not "molvae is broken".
USER_ERRORS: tuple[type[BaseException], ...] = (
    AlphabetError,
    InvalidMoleculeError,
    CheckpointError,
    InputError,
    UnknownDrugError,
    FileNotFoundError,
    IsADirectoryError,
    PermissionError,
)
