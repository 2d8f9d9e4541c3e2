"""What every pool of molvae's worker processes shares (data preparation, MOSES metrics,
generation): the workers leave Ctrl-C to the main process."""

from __future__ import annotations

__all__ = ["ignore_sigint"]


def ignore_sigint() -> None:
    """Make this process ignore SIGINT (Ctrl-C): the initializer of molvae's worker pools.

    Ctrl-C reaches the whole process group. The main process alone turns it into
    ``KeyboardInterrupt`` and stops its pool; workers that took it too each printed
    ``Process ForkPoolWorker-N:`` and the start of a traceback.

    Examples
    --------
    >>> import multiprocessing as mp
    >>> pool = mp.get_context("fork").Pool(2, initializer=ignore_sigint)  # doctest: +SKIP
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
