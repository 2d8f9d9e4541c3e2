"""What molvae's processes share: the workers of its pools (data preparation, MOSES
metrics, generation) leave Ctrl-C to the main process, and each process of a distributed
training run knows its rank."""

from __future__ import annotations

import os

__all__ = ["ignore_sigint", "process_rank"]


def process_rank() -> int:
    """This process's rank among the processes of a distributed run (0 outside one).

    Read, before Lightning is imported, from the environment its launcher (or torchrun,
    SLURM, LSF) gives each process, in the order Lightning reads it: ``RANK``,
    ``LOCAL_RANK``, ``SLURM_PROCID``, ``JSM_NAMESPACE_RANK``. Lightning's DDP launcher
    re-runs the whole command in each further process, whose output would repeat rank 0's.
    """
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        value = os.environ.get(key, "").strip()
        if value.isdigit():
            return int(value)
    return 0


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
