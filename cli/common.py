"""Shared pieces of the CLI: output, logging set-up, and turning errors into one line."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler

from molvae.workers import process_rank

# soft_wrap: never break a message over lines (an error is one line, even when piped)
console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

#: How many skipped rows are listed one by one before the rest are only counted.
MAX_ROWS_SHOWN = 20


_LEVEL = logging.INFO


def configure_logging(level: int) -> None:
    """Route library logging to stderr through rich (the CLI alone configures output).

    Processes other than rank 0 of a distributed run log errors only: they run the same
    command on the same data, so their information and warnings (a skipped row, a cache
    that cannot be written) would repeat rank 0's, and Python warnings are left to rank 0
    for the same reason."""
    global _LEVEL
    floor = logging.WARNING
    if process_rank() != 0:
        level = floor = max(level, logging.ERROR)
        import warnings

        warnings.simplefilter("ignore")
    _LEVEL = level
    if err_console.is_terminal:
        handler = RichHandler(console=err_console, show_time=False, show_path=False, markup=False)
    else:  # piped or redirected: one line per record (rich wraps at 80 columns and pads lines)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)-8s %(message)s"))
    logging.basicConfig(level=floor, handlers=[handler], format="%(message)s", force=True)
    logging.getLogger("molvae").setLevel(level)
    quiet_lightning()


def quiet_lightning() -> None:
    """Keep Lightning's INFO chatter out unless --verbose (call again after importing it:
    Lightning sets its own logger levels and handlers at import)."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
        lg = logging.getLogger(name)
        lg.setLevel(max(logging.WARNING, _LEVEL) if _LEVEL > logging.DEBUG else _LEVEL)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True


def fail(message: str, code: int = 1):
    """Print one error line and exit."""
    raise UserError(message, code)


def plural(n: int, word: str) -> str:
    """``word`` for one, ``word + "s"`` for any other number ('wrote 1 molecules' before)."""
    return word if n == 1 else word + "s"


def check_seed(seed: int, flag: str = "--seed") -> None:
    """Refuse, with one error line naming ``flag``, a seed that :func:`molvae.checks.check_seed`
    refuses (outside 0..:data:`molvae.checks.MAX_SEED`, 2**63 - 1): the rule of the library's
    sampling functions."""
    from molvae.checks import check_seed as check  # no torch import for a bad --seed

    try:
        check(seed)
    except ValueError as exc:  # "seed must be ..." -> "--seed must be ..."
        fail(flag + str(exc).removeprefix("seed"))


def check_n_jobs(n_jobs: int, flag: str = "--n-jobs") -> None:
    """Refuse, with one error line naming ``flag``, a number of worker processes outside
    1..the CPUs of this machine: more never help, and 1,000 forked as many workers (or
    set as many torch threads, which ran out of memory)."""
    import os

    cpus = os.cpu_count() or 1
    if not 1 <= n_jobs <= cpus:
        fail(f"{flag} must be between 1 and {cpus} (the CPUs of this machine), got {n_jobs}")


def check_temperature(temperature: float, flag: str = "--temperature") -> None:
    """Refuse, with one error line naming ``flag``, a decoder temperature that
    :func:`molvae.vae.check_temperature` refuses (negative, non-finite, or too small)."""
    from molvae.vae import check_temperature as check

    try:
        check(temperature)
    except ValueError as exc:  # "temperature must be ..." -> "--temperature must be ..."
        fail(flag + str(exc).removeprefix("temperature"))


class UserError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _user_error_types() -> tuple[type[BaseException], ...]:
    from molvae.errors import USER_ERRORS

    return USER_ERRORS


def _terminated_type() -> type[BaseException]:
    from molvae.errors import Terminated

    return Terminated


def run_guarded(fn: Callable[[], None]) -> None:
    """Run a command body; user mistakes become ``error: ...`` and exit code 1 (2 for usage)."""
    try:
        fn()
    except UserError as exc:
        err_console.print(f"error: {exc}", markup=False)
        raise typer.Exit(exc.code) from None
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        raise typer.Exit(130) from None
    except _terminated_type():
        err_console.print("terminated", markup=False)
        raise typer.Exit(143) from None
    except _user_error_types() as exc:
        err_console.print(f"error: {_describe(exc)}", markup=False)
        raise typer.Exit(1) from None
    except _storage_error_types() as exc:  # an empty tuple (no storage imported) matches nothing
        err_console.print(f"error: the campaign storage failed: {_storage_reason(exc)}", markup=False)
        raise typer.Exit(1) from None


def _storage_error_types() -> tuple[type[BaseException], ...]:
    """optuna's and SQLAlchemy's storage errors, where a command has imported them (a damaged
    SQLite file, a database server that went away during a campaign)."""
    found: list[type[BaseException]] = []
    if "optuna" in sys.modules:
        found.append(sys.modules["optuna"].exceptions.StorageInternalError)
    if "sqlalchemy" in sys.modules:
        found.append(sys.modules["sqlalchemy"].exc.SQLAlchemyError)
    return tuple(found)


def _storage_reason(exc: BaseException) -> str:
    """The first cause of a storage error, in one line: ``database disk image is malformed
    (sqlite3.DatabaseError)``, not optuna's generic 'An exception is raised during the commit'."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    text = " ".join(str(root).split()) or type(root).__name__
    return f"{text} ({type(root).__module__}.{type(root).__qualname__})"


def refuse_output_over_inputs(flag: str, output, inputs: Iterable[tuple[object, str]]) -> None:
    """One error line when ``output`` (given as ``flag``) is one of ``inputs``.

    ``inputs`` are ``(path, description)`` pairs, e.g. ``(in.csv, "the input file in.csv")``;
    a path counts as the output when both resolve to the same file, whether it exists yet
    (a SQLite ledger created by the run) or not. Writing the output would destroy it.
    """
    if output is None:
        return
    out = Path(output)
    for path, what in inputs:
        path = Path(path)
        if out.resolve() == path.resolve() or (out.exists() and path.exists() and os.path.samefile(out, path)):
            fail(f"{flag} {output} is {what}: writing it would destroy it; give another {flag}")


def _describe(exc: BaseException) -> str:
    """An error's message; an operating-system error names its file after the reason
    (``cannot use /proc/x.csv: No such file or directory``, not ``[Errno 2] ...``)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror}"
    return str(exc)


def report_row_errors(errors: Sequence, what: str = "rows", *, heading: str | None = None) -> None:
    """Print skipped rows (row number and reason), the first few one by one.

    ``heading`` replaces the first line ("skipped N rows:"), for rows that are reported
    but not skipped (``evaluate``'s invalid samples, which validity counts)."""
    if not errors:
        return
    if len(errors) == 1:  # "skipped 1 row", "skipped 1 latent point"
        what = what.replace("rows", "row", 1).replace("points", "point", 1)
    err_console.print(heading if heading is not None else f"skipped {len(errors)} {what}:", markup=False)
    for e in errors[:MAX_ROWS_SHOWN]:
        err_console.print(f"  {e}", markup=False)
    if len(errors) > MAX_ROWS_SHOWN:
        err_console.print(f"  ... and {len(errors) - MAX_ROWS_SHOWN} more", markup=False)


def load_model(path):
    """Load a model file (or the default model) for a command."""
    from molvae.model import decode_dtype
    from molvae.vae import MolVAE

    try:
        dtype = decode_dtype()  # a bad MOLVAE_DECODE_PRECISION is refused before any work
    except ValueError as exc:
        raise UserError(str(exc)) from None
    logging.getLogger("molvae").debug("decoding with %s matrix products", str(dtype).removeprefix("torch."))
    return MolVAE.load(path)


class progress_bar:
    """Context manager yielding ``update(done, total)`` that drives a rich progress bar on stderr.

    Shown only when stderr is a terminal: elsewhere (a pipe, a log file) a transient bar
    draws nothing and leaves a blank line behind."""

    def __init__(self, description: str, total: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=True, disable=not err_console.is_terminal,
        )
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self):
        self._progress.start()

        def update(done: int, total: int) -> None:
            self._progress.update(self._task, completed=done, total=total)

        return update

    def __exit__(self, *exc):
        self._progress.stop()
        return False


def load_predictor(path, vae):
    """Load a predictor file and check it belongs to ``vae`` (before any long work); None passes."""
    if path is None:
        return None
    from molvae.predictors import LatentPredictor

    return LatentPredictor.load(path, vae=vae)


def add_predictions(table, predictor, vae):
    """Annotate a table of molecules with a predictor's columns (``pred_<target>``[``_std``]), keeping ``attrs``."""
    if predictor is None:
        return table
    from molvae.predictors import annotate

    attrs = dict(table.attrs)
    out = annotate(table, predictor, vae)
    out.attrs.update(attrs)
    return out
