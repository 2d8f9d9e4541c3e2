"""Checks of arguments shared by the public API and the CLI (no torch, no RDKit: a
bad value is refused before the heavy imports)."""

from __future__ import annotations

import numbers

__all__ = ["is_integer", "check_seed", "check_n_jobs", "real_array", "MAX_SEED", "flag", "given"]


def is_integer(value) -> bool:
    """Whether ``value`` is a whole number of an integer type: ``int`` or a numpy integer.

    ``bool`` is not (``True`` is an ``int`` to Python, but ``n=True`` is a mistake), and
    neither is a float with an integral value (``2.0``) or a string (``"3"``).

    Parameters
    ----------
    value : object

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> [is_integer(v) for v in (3, np.int64(3), True, 3.0, "3")]
    [True, True, False, False, False]
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: Largest seed of the sampling functions (:meth:`molvae.vae.MolVAE.sample`, :meth:`molvae.vae.MolVAE.decode`,
#: :func:`molvae.generation.generate`, :mod:`molvae.interpolation`) and of the CLI's
#: ``--seed``: torch's generators take 64-bit seeds, numpy's non-negative ones; 0 to
#: 2**63 - 1 suits both.
MAX_SEED = 2**63 - 1


def check_seed(seed: int) -> int:
    """Refuse a seed that is not an integer from 0 to :data:`MAX_SEED` (2**63 - 1).

    Parameters
    ----------
    seed : int
        A Python or numpy integer.

    Returns
    -------
    int
        ``seed`` as a Python ``int`` (torch's ``manual_seed`` takes no numpy integer).

    Raises
    ------
    ValueError
        ``seed`` is not an integer (``bool`` included) or is outside 0..:data:`MAX_SEED`;
        the message names the seed and the range. Without this check torch failed with
        "Overflow when unpacking long long" beyond 2**64 - 1.
    """
    if not is_integer(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer between 0 and {MAX_SEED} (2**63 - 1), got {seed!r}")
    return int(seed)


def check_n_jobs(n_jobs: int | None) -> int:
    """Refuse a number of worker processes that is not an integer >= 1.

    Parameters
    ----------
    n_jobs : int or None
        Worker processes; None means 1 (scikit-learn's convention).

    Returns
    -------
    int
        ``n_jobs`` as a Python ``int`` (1 for None).

    Raises
    ------
    ValueError
        ``n_jobs`` is not an integer (``bool`` and ``2.0`` included) or is below 1. Before
        this check ``None`` gave a bare TypeError from ``int()`` and 0 or -1 silently ran
        in one process.
    """
    if n_jobs is None:
        return 1
    if not is_integer(n_jobs) or n_jobs < 1:
        raise ValueError(f"n_jobs must be an integer >= 1 (or None for 1), got {n_jobs!r}")
    return int(n_jobs)


def real_array(values, dtype="float32", what: str = "latent points"):
    """``values`` as a numpy array of real numbers, refusing what is not numbers.

    ``numpy.asarray(values, dtype=float32)`` alone dropped the imaginary part of complex
    values (with a warning), read strings such as ``"0.1"`` as numbers and booleans as 0
    and 1. Integers and floats of any width are taken; a torch tensor is detached and
    moved to the CPU first (bfloat16 included, which numpy cannot hold).

    Parameters
    ----------
    values : array-like or torch.Tensor
    dtype : numpy dtype or str
        Type of the array returned.
    what : str
        What the values are, for the messages.

    Returns
    -------
    ndarray of ``dtype``, the shape of ``values``
        A value beyond the range of ``dtype`` (``1e39`` in float32) is ``inf``, without
        numpy's overflow warning: callers refuse infinite values with their own message.

    Raises
    ------
    TypeError
        The values are complex, boolean, text or other objects (None included).
    ValueError
        The values do not form a rectangular array (rows of different lengths).
    """
    import numpy as np

    if hasattr(values, "detach") and hasattr(values, "is_complex"):  # a torch tensor
        values = values.detach().cpu()
        if values.is_complex():
            raise TypeError(f"{what} must be real numbers, got a complex tensor ({values.dtype})")
        if values.is_floating_point():
            values = values.double()  # bfloat16: numpy has no such type
        values = values.numpy()
    try:
        arr = np.asarray(values)
    except ValueError as exc:  # numpy: "setting an array element with a sequence ... inhomogeneous shape"
        raise ValueError(f"{what} must be a rectangular array of numbers ({exc})") from None
    if arr.dtype.kind not in "iuf":
        kind = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "O": "objects"}.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(f"{what} must be real numbers, got {kind} (dtype {arr.dtype})")
    with np.errstate(over="ignore"):  # a value beyond the dtype's range becomes inf, which the callers refuse by name
        return arr.astype(dtype, copy=False)


def flag(key: str, flags: dict | None = None) -> str:
    """How a caller names the setting ``key`` in a message.

    Library errors name a setting by its Python name (a parameter or config key, e.g.
    ``n_init``, ``run_dir``); a CLI command passes its mapping of those names to its flags
    (:data:`molvae.config.CLI_FLAGS`, :data:`molvae.campaign.errors.CLI_FLAGS`), so that
    its messages name the flags the user typed.

    Parameters
    ----------
    key : str
        The Python name of the setting.
    flags : dict of str to str, optional
        Python name -> CLI flag; ``None`` for a Python caller.

    Returns
    -------
    str
        ``flags[key]`` when there, else ``key``.
    """
    return (flags or {}).get(key, key)


def given(key: str, value, flags: dict | None = None) -> str:
    """The setting ``key`` given ``value``, as the caller writes it: ``--n-init 5`` for a
    CLI flag, ``n_init=5`` for a Python argument (see :func:`flag`)."""
    name = flag(key, flags)
    return f"{name} {value}" if name.startswith("-") else f"{name}={value!r}"
