"""The plain-dict checkpoint format.

A molvae model file is a dict of plain values (tensors, numbers, strings, lists, dicts)
written with :func:`torch.save` and read with ``torch.load(..., weights_only=True)``, so
loading never unpickles arbitrary objects. Keys::

    format          "molvae-checkpoint"
    format_version  int (this module writes FORMAT_VERSION)
    model_type      "selfies-gru-vae"
    hparams         VAEConfig as a dict
    alphabet        Alphabet.to_dict()
    selfies_version str
    training        dict: data source, steps, molecules seen, wall time, config, metrics ...
    state_dict      model weights
    train_hashes    the training set's canonical SMILES as sorted unique 48-bit hashes
                    (novelty), packed by :func:`pack_hashes`: ``{"first": int, "delta":
                    int32 tensor}`` (gaps stored as uint32 bit patterns) or, when a gap does
                    not fit in 32 bits, a plain int64 tensor; may be empty
"""

from __future__ import annotations

import logging
import os
import pickle
import warnings
from pathlib import Path

import torch

__all__ = ["FORMAT", "FORMAT_VERSION", "MODEL_TYPE", "CheckpointError", "save_checkpoint", "load_checkpoint", "pack_hashes", "unpack_hashes"]

log = logging.getLogger(__name__)

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 1
MODEL_TYPE = "selfies-gru-vae"
_REQUIRED = ("format_version", "model_type", "hparams", "alphabet", "state_dict")
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save since torch 1.6
_PICKLE_MAGIC = b"\x80"  # a pickle stream (protocol >= 2): torch.save before 1.6


def pack_hashes(hashes) -> dict | torch.Tensor:
    """Pack sorted unique int64 hashes as a first value and 32-bit gaps (half the size).

    Parameters
    ----------
    hashes : array-like of int64, shape (n,)
        Sorted, unique, non-negative.

    Returns
    -------
    dict or Tensor
        ``{"first": int, "delta": int32 tensor (n - 1,)}``, or the int64 tensor itself
        when it is empty or a gap is 2**32 or more.
    """
    import numpy as np

    h = np.asarray(hashes, dtype=np.int64)
    if h.size == 0:
        return torch.zeros(0, dtype=torch.int64)
    d = np.diff(h)
    if d.size and (d.min() <= 0 or d.max() >= 2**32):
        return torch.from_numpy(h.copy())
    return {"first": int(h[0]), "delta": torch.from_numpy(d.astype(np.uint32).view(np.int32).copy())}


def unpack_hashes(packed):
    """Inverse of :func:`pack_hashes`; returns a sorted int64 ndarray."""
    import numpy as np

    if packed is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(packed, dict):
        gaps = packed["delta"].numpy().view(np.uint32).astype(np.int64)
        return np.concatenate([[int(packed["first"])], int(packed["first"]) + np.cumsum(gaps)]).astype(np.int64)
    return np.asarray(packed.numpy(), dtype=np.int64)


class CheckpointError(ValueError):
    """A model file is missing, truncated, foreign or from a newer molvae."""


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (:func:`molvae.data.write_atomically`: a
    temporary file beside it, then a rename; a symbolic link is written through).

    Parameters
    ----------
    ckpt : dict
        Plain values only; ``format``/``format_version``/``model_type`` are filled in.
    path : path-like
        Destination.

    Returns
    -------
    Path

    Raises
    ------
    OSError
        The file cannot be written (the message names it); no partial file is left.
    """
    from molvae.data import write_atomically  # here: RDKit stays out of this module's imports

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format": FORMAT, "format_version": FORMAT_VERSION, "model_type": MODEL_TYPE, **ckpt}

    def write(tmp: Path) -> None:
        # a file object: torch.save(path) reports a file it cannot open as a RuntimeError
        with open(tmp, "wb") as fh:
            torch.save(ckpt, fh)

    # one mechanism for every output: a temporary of its own beside the file (the fixed
    # name MODEL.pt.tmp overwrote a user's file of that name), a link written through
    write_atomically(path, write)
    return path


def _is_skops(path: Path) -> bool:
    """Whether ``path`` is a skops archive (a zip with its ``schema.json``): what
    ``molvae predictors train`` writes."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return "schema.json" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and check a model file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        The checkpoint (see the module docstring for keys).

    Raises
    ------
    CheckpointError
        With a one-line reason if the file is missing or a folder, unreadable (truncated or not a
        torch file), holds anything but plain values, is not a molvae model, or was
        written by a newer format version.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    with path.open("rb") as fh:
        head = fh.read(4)
    if head != _ZIP_MAGIC and head[:1] != _PICKLE_MAGIC:
        # torch.save writes a zip archive (a pickle stream before torch 1.6); anything
        # else (text, CSV, JSON, an empty file) is not worth handing to the unpickler
        raise CheckpointError(f"{path} is not a model file (not a file written by torch.save)")
    try:
        with warnings.catch_warnings():
            # a pickle of protocol > 2 (pickle.dump's default) makes torch warn on stderr
            # before it fails; the CheckpointError below is the one report
            warnings.simplefilter("ignore", UserWarning)
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # a damaged pickle stream, not a refused object
            raise CheckpointError(f"{path} is truncated or not a model file (UnpicklingError)") from None
        raise CheckpointError(
            f"{path} holds Python objects other than tensors, numbers, strings and lists; "
            "molvae does not unpickle them"
        ) from None
    except Exception as exc:  # torch raises many types on foreign or cut files (RuntimeError, EOFError, IndexError ...)
        if head == _ZIP_MAGIC and _is_skops(path):  # a predictor given as --model: it said 'truncated'
            raise CheckpointError(f"{path} is a property predictor file (from 'molvae predictors train'), not a model file") from None
        raise CheckpointError(f"{path} is truncated or not a model file ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a molvae model file")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    version = ckpt["format_version"]
    if isinstance(version, bool) or not isinstance(version, int):  # int('x') / int(None) escaped as ValueError / TypeError
        raise CheckpointError(f"{path} has format version {version!r}, not an integer: not a molvae model file")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {ckpt['format_version']}; this molvae reads up to "
            f"{FORMAT_VERSION}: upgrade molvae"
        )
    if ckpt["model_type"] != MODEL_TYPE:
        raise CheckpointError(f"{path} holds a {ckpt['model_type']!r} model, not {MODEL_TYPE!r}")
    return ckpt
