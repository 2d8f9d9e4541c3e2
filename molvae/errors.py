"""The exceptions a user can cause, gathered in one place.

Every error raised for bad input derives from :class:`ValueError` or :class:`OSError` and
carries a one-line message meant for people; the CLI prints it without a traceback.
"""

from __future__ import annotations

from molvae.alphabet import AlphabetError, SequenceTooLongError, UnknownTokenError
from molvae.campaign.errors import CampaignError, ObjectiveError
from molvae.chem import InvalidMoleculeError
from molvae.checkpoint import CheckpointError
from molvae.data import InputError
from molvae.drugs import UnknownDrugError

class ConfigError(ValueError):
    """A training configuration has an unknown key or a value out of range."""


class Terminated(BaseException):
    """Work stopped on SIGTERM (``kill``, a scheduler's time limit) after keeping what it
    had done, as for Ctrl-C: like ``KeyboardInterrupt``, a ``BaseException`` so that
    ``except Exception`` does not swallow it; the CLI exits with 143, the shell's code for
    SIGTERM."""


class TrainingTerminated(Terminated):
    """Training stopped on SIGTERM after saving a resumable checkpoint."""


__all__ = [
    "ConfigError",
    "Terminated",
    "TrainingTerminated",
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
    ConfigError,
    InvalidMoleculeError,
    CheckpointError,
    InputError,
    UnknownDrugError,
    CampaignError,
    ObjectiveError,
    # the operating system refusing a read or a write (missing folder, read-only file
    # system, full disk, permissions) is the environment, not a molvae bug
    OSError,
)
