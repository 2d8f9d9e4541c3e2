"""Checks of argument types shared by the public API."""

from __future__ import annotations

import numbers

__all__ = ["is_integer"]


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
