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
    train_hashes    int64 tensor, sorted 48-bit hashes of the training set's canonical
                    SMILES (novelty); may be empty
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import torch

__all__ = ["FORMAT", "FORMAT_VERSION", "MODEL_TYPE", "CheckpointError", "save_checkpoint", "load_checkpoint"]

log = logging.getLogger(__name__)

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 1
MODEL_TYPE = "selfies-gru-vae"
_REQUIRED = ("format_version", "model_type", "hparams", "alphabet", "state_dict")


class CheckpointError(ValueError):
    """A model file is missing, truncated, foreign or from a newer molvae."""


def save_checkpoint(ckpt: dict, path: str | os.PathLike) -> Path:
    """Write a checkpoint dict atomically (temporary file, then rename).

    Parameters
    ----------
    ckpt : dict
        Plain values only; ``format``/``format_version``/``model_type`` are filled in.
    path : path-like
        Destination.

    Returns
    -------
    Path
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format": FORMAT, "format_version": FORMAT_VERSION, "model_type": MODEL_TYPE, **ckpt}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


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
        With a one-line reason if the file is missing, unreadable (truncated or not a
        torch file), holds anything but plain values, is not a molvae model, or was
        written by a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} holds Python objects other than tensors, numbers, strings and lists; "
            "molvae does not unpickle them"
        ) from None
    except Exception as exc:  # torch raises many types on foreign or cut files (RuntimeError, EOFError, IndexError ...)
        raise CheckpointError(f"{path} is truncated or not a model file ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a molvae model file")
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    if int(ckpt["format_version"]) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {ckpt['format_version']}; this molvae reads up to "
            f"{FORMAT_VERSION}: upgrade molvae"
        )
    if ckpt["model_type"] != MODEL_TYPE:
        raise CheckpointError(f"{path} holds a {ckpt['model_type']!r} model, not {MODEL_TYPE!r}")
    return ckpt
