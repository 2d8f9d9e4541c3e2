"""``optimize`` and ``campaign show``: property-optimization campaigns in the latent space."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import List, Optional

import typer

from molvae_cli.common import console, err_console, fail, plural, refuse_output_over_inputs, run_guarded
from molvae_cli.main import app

campaign_app = typer.Typer(help="Inspect stored optimization campaigns.", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(campaign_app, name="campaign")

#: Keys accepted in an ``optimize --config`` TOML file (flat, or constraints in [constraints]).
CONFIG_KEYS = (
    "objective", "budget", "batch_size", "sampler", "acquisition", "storage", "name", "start", "seed",
    "top_k", "n_init", "patience", "max_proposals", "model", "min_similarity", "to", "max_sa", "mw_range", "filters", "model_prior",
)  # fmt: skip


#: The ``--config`` keys that may also be given in a ``[constraints]`` table.
CONSTRAINT_KEYS = ("min_similarity", "to", "max_sa", "mw_range", "filters")


def _read_config(path: Path) -> dict:
    from molvae.campaign.errors import CampaignError

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    if path.is_dir():  # was 'config file not found'
        raise CampaignError(f"--config {path} is a folder, not a config file")
    if not path.is_file():
        raise CampaignError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CampaignError(f"cannot read config {path}: {exc}") from None
    cons = data.pop("constraints", None)
    if isinstance(cons, dict):
        # a key in [constraints] and at the top level, or an option that is no constraint,
        # was taken without a word (the table's value won)
        misplaced = sorted(set(cons) & set(CONFIG_KEYS) - set(CONSTRAINT_KEYS))
        if misplaced:
            raise CampaignError(f"{path}: {', '.join(misplaced)} in [constraints] is not a constraint: move it out of the table ([constraints] holds {', '.join(CONSTRAINT_KEYS)})")
        twice = sorted(set(cons) & set(data))
        if twice:
            raise CampaignError(f"{path}: {', '.join(twice)} is set twice (at the top level and in [constraints]): set it once")
        data.update(cons)
    elif cons is not None:
        raise CampaignError(f"{path}: constraints must be a table ([constraints] with {', '.join(CONSTRAINT_KEYS)}), got {_toml_repr(cons)}")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise CampaignError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} in {path}: use {', '.join(CONFIG_KEYS)}")
    for key, value in data.items():
        expected = _CONFIG_TYPES[key]
        if not _config_type_ok(expected, value):
            raise CampaignError(f"{path}: {key} must be {expected}, got {_toml_repr(value)}")
    return data


#: What each ``--config`` key holds (the error message names it).
_CONFIG_TYPES = {
    "objective": "a string or a table of term = weight",
    "budget": "an integer",
    "batch_size": "an integer",
    "seed": "an integer",
    "top_k": "an integer",
    "n_init": "an integer",
    "patience": "an integer",
    "max_proposals": "an integer",
    "sampler": "a string",
    "acquisition": "a string",
    "storage": "a string",
    "name": "a string",
    "model": "a string",
    "to": "a string",
    "start": "a string or a list of strings (SMILES, drug names or files)",
    "min_similarity": "a number",
    "max_sa": "a number",
    "mw_range": "a string LO,HI or a list of two numbers",
    "filters": "a string or a list of strings",
    "model_prior": "true or false",
}


def _config_type_ok(expected: str, value) -> bool:
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if expected == "an integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "a number":
        return number(value)
    if expected == "true or false":
        return isinstance(value, bool)
    if expected == "a string":
        return isinstance(value, str)
    if expected.startswith("a string or a table"):
        return isinstance(value, (str, dict))
    if expected.startswith("a string LO,HI"):
        return isinstance(value, str) or (isinstance(value, list) and len(value) == 2 and all(number(v) for v in value))
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))  # string or list of strings


def _toml_repr(value) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = ("true" if value else "false") if isinstance(value, bool) else f'"{value}"' if isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


#: Suffixes that make a ``--start`` value a file of molecules.
_START_SUFFIXES = (".csv", ".smi", ".sdf", ".txt", ".gz")


def _start_molecules(values, model=None) -> tuple[list[str], dict[str, str]]:
    """``--start`` values: names or SMILES, comma-separated, or files of molecules.

    Returns the start molecules' texts and, for the rows of files (resolved here to find
    the usable ones), the SMILES each resolves to, for ``Campaign(start_smiles=...)``:
    a file is read, and its rows resolved, once. ``model`` (a callable returning the
    MolVAE, called only when there is a file) lets the rows the model cannot encode be
    reported and skipped like the others; without it they are kept."""
    from molvae.campaign.errors import CampaignError
    from molvae.data import read_molecules

    out: list[str] = []
    resolved: dict[str, str] = {}
    for v in [values] if isinstance(values, str) else values or []:
        v = str(v).strip()
        p = Path(v)
        if v and "," not in v and p.suffix.lower() in _START_SUFFIXES:
            if not p.is_file():  # no SMILES or drug name ends so: it was taken for one
                raise CampaignError(f"--start file {v} does not exist")
            # optimize has no --smiles-column, which read_molecules' message named
            rows = _usable_rows(p, *read_molecules(p, option="the header 'smiles' (--start reads a CSV's column of that name)"), vae=model() if model is not None else None)
            out.extend(text for text, _ in rows)
            resolved.update(rows)
        else:
            names = [x.strip() for x in v.split(",") if x.strip()]
            if v and not names:  # ',' was taken as no start molecule, without a word
                raise CampaignError(f"--start names no molecule ({v!r}): give SMILES or drug names, comma-separated, or a file")
            files = [x for x in names if Path(x).suffix.lower() in _START_SUFFIXES and Path(x).is_file()]
            if files:  # was 'start molecule 'a.smi' is neither a known drug name nor a valid SMILES'
                raise CampaignError(f"--start {v}: {files[0]} is a file, and a list holds molecules only: give the file on its own, as in --start {files[0]} --start ...")
            out.extend(names)
    return out, resolved


def _check_bo_options(opt: dict) -> None:
    """Refuse ``--acquisition`` and ``--model-prior/--no-model-prior`` (flags or
    ``--config`` keys) with a sampler other than ``bo``: only ``bo`` uses them, and the
    others ran without a word of them being ignored."""
    from molvae.campaign.errors import CampaignError
    from molvae.campaign.sampler import SAMPLERS

    sampler = opt.get("sampler", "bo")
    if sampler == "bo" or sampler not in SAMPLERS:  # an unknown sampler: the campaign names it
        return
    for key, flag in (("acquisition", f"--acquisition {opt.get('acquisition')}"), ("model_prior", "--model-prior" if opt.get("model_prior") else "--no-model-prior")):
        if opt.get(key) is not None:
            raise CampaignError(f"{flag} is for --sampler bo only (sampler {sampler} does not use it): leave it out, or use --sampler bo")


def _check_outputs_are_not_inputs(outputs, storage_url: str, start) -> None:
    """Refuse an output path (``-o``, ``--plot``) that is the campaign's SQLite storage or
    one of its ``--start`` files: writing it after the run would destroy that input."""
    from molvae.campaign.ledger import sqlite_path

    inputs = []
    db = sqlite_path(storage_url) if isinstance(storage_url, str) else None
    if db is not None:
        inputs.append((db, "also the campaign's storage"))
    for v in [start] if isinstance(start, str) else start or []:
        p = Path(str(v).strip())
        if "," not in str(v) and p.is_file():
            inputs.append((p, "also the campaign's --start file"))
    for flag, out in outputs:
        refuse_output_over_inputs(flag, out, inputs)


def _usable_rows(path: Path, rows, errors, vae=None) -> list[tuple[str, str]]:
    """The molecules of a ``--start`` file's rows that are drug names or SMILES (and, given
    ``vae``, that it can encode), as (text, resolved SMILES) pairs; the other rows are
    listed (row number and reason) and skipped. None usable is an error."""
    from molvae.campaign.errors import CampaignError
    from molvae.data import RowError
    from molvae.drugs import UnknownDrugError, resolve_molecule
    from molvae_cli.common import report_row_errors

    good: list[tuple[int, str, str]] = []  # row number, text, SMILES
    errors = list(errors)
    for row, text in rows:
        try:
            smiles, _ = resolve_molecule(text)
        except UnknownDrugError as exc:
            errors.append(RowError(row, text, str(exc)))
            continue
        good.append((row, text, smiles))
    if vae is not None and good:  # a row the model cannot encode ended the command ('token [Pt] not in ...')
        _, failed = vae.try_encode([smiles for _, _, smiles in good])
        bad = {e.row: e.reason for e in failed}  # try_encode numbers the positions in good
        errors.extend(RowError(good[i][0], good[i][1], f"cannot be encoded: {reason}") for i, reason in bad.items())
        good = [g for i, g in enumerate(good) if i not in bad]
    errors.sort(key=lambda e: e.row)
    if not good:
        raise CampaignError(f"no molecule of --start file {path} can be used ({errors[0] if errors else 'no rows'})")
    report_row_errors(errors, what=f"rows of {path}")
    return [(text, smiles) for _, text, smiles in good]


class _Progress:
    """Progress bar on stderr: oracle calls used, best score and the current best molecule."""

    def __init__(self, budget: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(
            TextColumn("oracle calls"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("best {task.fields[best]}"), console=err_console, transient=True,
            disable=not err_console.is_terminal,
        )  # fmt: skip
        self._task = self._p.add_task("optimize", total=budget, best="-")

    def __enter__(self):
        self._p.start()
        return self.update

    def update(self, info: dict) -> None:
        best = info.get("best_score")
        text = "-" if best is None or (isinstance(best, float) and math.isnan(best)) else f"{best:.4g}  {info.get('best_smiles', '')[:60]}"
        self._p.update(self._task, completed=min(info["calls"], info["budget"]), total=info["budget"], best=text)

    def __exit__(self, *exc):
        self._p.stop()
        return False


class _no_ctrl_c:
    """Ignore SIGINT while the outputs are written (a second Ctrl-C would leave half a
    file); only the main thread can change signal handlers, elsewhere this does nothing."""

    def __enter__(self):
        import signal
        import threading

        self._old = None
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(self, *exc):
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def _write_outputs(campaign, k: int, output: Path, plot: Optional[Path], message: str) -> None:
    """Write the top-k table (``message`` formatted with ``n``, ``molecules`` (the word, in
    the number of ``n``) and ``output``) and the plot, each all at once or not at all."""
    from molvae.data import write_atomically

    best = campaign.best(k)
    write_atomically(output, lambda tmp: best.to_csv(tmp, index=False, float_format="%.6g"))
    console.print(message.format(n=len(best), molecules=plural(len(best), "molecule"), output=output), markup=False)
    if plot is not None:
        campaign.plot(plot)
        console.print(f"wrote {plot}", markup=False)


def _in_memory(campaign) -> bool:
    """Whether the campaign's ledger is an in-memory study (``--storage memory``)."""
    from molvae.campaign.ledger import check_storage

    return isinstance(campaign.storage_url, str) and check_storage(campaign.storage_url) is None


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """While the campaign runs, SIGTERM (``kill``, a scheduler's time limit) stops it as
    Ctrl-C does: the calls made are kept and written. Yields a list that is non-empty once
    SIGTERM has arrived. Without it the process died at once, writing no ``-o``."""
    import signal
    import threading

    terminated: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signal handlers belong to the main thread
        yield terminated
        return

    def on_sigterm(signum, frame):
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield terminated
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_interrupted(campaign, k: int, output: Path, plot: Optional[Path]) -> None:
    """After Ctrl-C: write the top-k table (and the plot) of the oracle calls finished so
    far, and say that a rerun continues the campaign."""
    if not campaign.opened:  # stopped before the campaign was opened: nothing to write
        return
    with _no_ctrl_c():
        _write_outputs(campaign, k, output, plot, "interrupted: wrote the {n} best {molecules} of the oracle calls finished so far to {output}")
        if not _in_memory(campaign):  # an in-memory campaign cannot be continued
            console.print(f"rerun the same command to continue campaign {campaign.name} ({campaign.storage_url})", markup=False)


@app.command()
def optimize(
    objective: Optional[str] = typer.Option(None, "--objective", "-O", help="qed, logp, penalized_logp, sa, similarity:<SMILES|drug>, predictor:<file>:<target>, pkg.module:f, path/f.py:f, or a weighted sum 'qed + 0.5*similarity:celecoxib'."),
    budget: Optional[int] = typer.Option(None, "--budget", "-n", help="Oracle calls for the whole campaign, over all runs and processes. Re-running continues it; a larger budget extends it (processes running on it follow), a smaller one than stored is refused."),
    output: Path = typer.Option(..., "-o", "--output", help="Top-k table (.csv): smiles, score, properties, trial, oracle_call."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", help="Latent points per round (default 10, at most 4096)."),
    sampler: Optional[str] = typer.Option(None, "--sampler", help="bo (trust-region GP BO, default), tpe, gp or random (prior draws)."),
    acquisition: Optional[str] = typer.Option(None, "--acquisition", help="For bo: ts (Thompson sampling, default) or ei."),
    model_prior: Optional[bool] = typer.Option(None, "--model-prior/--no-model-prior", help="For bo with qed, logp, sa, penalized_logp, similarity:MOL (or sums of them): the model's estimate (property head; latent distance to MOL) screens the initial design and is the GP's prior mean (default on)."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite:///NAME.db)."),
    name: Optional[str] = typer.Option(None, "--name", help="Campaign (study) name (default from objective, sampler and seed)."),
    start: Optional[List[str]] = typer.Option(None, "--start", help="Start molecules: SMILES or drug names (comma-separated or repeated), or a .smi/.csv file."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed, 0 to 4294967295 (default 0), part of the default --name; fixed when the campaign is created: a rerun with --name and no --seed keeps it, another is refused."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Trace plot (.png): best so far and top-10 mean versus oracle calls."),
    top_k: Optional[int] = typer.Option(None, "--top-k", "-k", help="Rows of the output table (default 100)."),
    n_init: Optional[int] = typer.Option(None, "--n-init", help="Prior draws in the initial design (default min(20, budget/4), at most 4096); fixed when the campaign is created, a rerun keeps it."),
    patience: Optional[int] = typer.Option(None, "--patience", help="Stop after this many proposals in a row without an oracle call (default max(500, 50 x batch size))."),
    max_proposals: Optional[int] = typer.Option(None, "--max-proposals", help="Stop once the campaign holds this many proposals in all, cached and infeasible ones included (default max(20 x budget, patience))."),
    min_similarity: Optional[float] = typer.Option(None, "--min-similarity", help="Constraint: Tanimoto similarity to --to of at least this."),
    to: Optional[str] = typer.Option(None, "--to", help="Reference molecule of --min-similarity (SMILES or drug name)."),
    max_sa: Optional[float] = typer.Option(None, "--max-sa", help="Constraint: SA score at most this."),
    mw_range: Optional[str] = typer.Option(None, "--mw-range", help="Constraint: molecular weight LO,HI (Da)."),
    filters: Optional[str] = typer.Option(None, "--filters", help="Constraint: no structural alerts of these RDKit catalogs, e.g. pains,brenk."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML file with these options (flags override it)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model file (default: the shipped model)."),
):
    """Optimize a molecular property in the latent space within a budget of oracle calls."""

    def _run():
        from molvae.campaign import Campaign, Constraints
        from molvae.campaign.errors import CLI_FLAGS
        from molvae.campaign.errors import CampaignError, ObjectiveError

        cfg = _read_config(config) if config is not None else {}
        flags = dict(
            objective=objective, budget=budget, batch_size=batch_size, sampler=sampler, acquisition=acquisition, model_prior=model_prior, storage=storage,
            name=name, start=start or None, seed=seed, top_k=top_k, n_init=n_init, patience=patience, max_proposals=max_proposals, model=str(model) if model else None,
            min_similarity=min_similarity, to=to, max_sa=max_sa, mw_range=mw_range, filters=filters,
        )  # fmt: skip
        opt = {**cfg, **{k: v for k, v in flags.items() if v is not None}}
        if opt.get("objective") in (None, ""):
            raise ObjectiveError("give an objective: --objective qed (or objective = ... in --config)")
        if opt.get("budget") is None:
            raise CampaignError("give a budget of oracle calls: --budget 500")
        _check_bo_options(opt)
        from molvae.data import check_output_path

        # each output checked once, before any oracle call (a folder or an unwritable path
        # failed after the campaign ran): the extension here, the rest (a name that is only
        # '.csv', a folder, a missing or unwritable folder) by check_output_path
        for option, flag, path, ext in (("--output", "-o", output, ".csv"), ("--plot", "--plot", plot, ".png")):
            if path is None:
                continue
            if not path.name.lower().endswith(ext):
                fail(f"{option} must be a {ext} file, got {path.name}")
            check_output_path(path, allowed=(ext,), flag=flag)
        k = int(opt.get("top_k", 100))
        if k < 1:
            fail(f"--top-k must be >= 1, got {k}")
        cons = Constraints.create(
            min_similarity=opt.get("min_similarity"), to=opt.get("to"), max_sa=opt.get("max_sa"),
            mw_range=opt.get("mw_range"), filters=opt.get("filters"), flags=CLI_FLAGS,
        )  # fmt: skip
        loaded: dict = {}  # the model, loaded only to check the rows of --start files

        def start_model():
            if "vae" not in loaded:
                from molvae_cli.common import load_model

                loaded["vae"] = load_model(opt.get("model"))
            return loaded["vae"]

        start_texts, start_smiles = _start_molecules(opt.get("start"), model=start_model)
        campaign = Campaign(
            opt["objective"], opt["budget"], opt.get("storage"), opt.get("sampler", "bo"),
            name=opt.get("name"), model=loaded.get("vae", opt.get("model")), batch_size=opt.get("batch_size", 10), start=start_texts, start_smiles=start_smiles,
            seed=opt.get("seed"), constraints=cons, n_init=opt.get("n_init"), acquisition=opt.get("acquisition", "ts"),
            patience=opt.get("patience"), max_proposals=opt.get("max_proposals"), model_prior=bool(opt.get("model_prior", True)), flags=CLI_FLAGS,
        )  # fmt: skip
        _check_outputs_are_not_inputs((("-o", output), ("--plot", plot)), campaign.storage_url, opt.get("start"))
        try:
            with _Progress(campaign.budget) as update, _sigterm_as_interrupt() as terminated:
                summary = campaign.run(progress=update)
        except KeyboardInterrupt:
            # Ctrl-C: the calls that returned are in the ledger (the run recorded them before
            # the interrupt left it); write their table, then exit 130 through run_guarded
            # (SIGTERM: the same, then 143)
            _write_interrupted(campaign, k, output, plot)
            if terminated:
                from molvae.errors import Terminated

                raise Terminated("terminated") from None
            raise
        for line in summary.lines():
            console.print(line, markup=False)
        t = summary.timings
        if t:
            parts = "  ".join(f"{key} {sec:.1f}s" for key, sec in sorted(t.items(), key=lambda kv: -kv[1]))
            console.print(f"this run: {summary.calls_this_run} oracle {plural(summary.calls_this_run, 'call')} in {summary.seconds:.1f}s ({parts})", markup=False)
        _write_outputs(campaign, k, output, plot, "wrote {n} {molecules} to {output}")
        if _in_memory(campaign):
            console.print(f"ledger: in memory: nothing was kept (study {campaign.name}); give --storage sqlite:///{campaign.name}.db to keep a campaign", markup=False)
        else:
            console.print(f"ledger: {campaign.storage_url} (study {campaign.name}); browse it with: optuna-dashboard {campaign.storage_url}", markup=False)

    run_guarded(_run)


@campaign_app.command("show")
def show(
    name: str = typer.Argument(..., help="Campaign (study) name."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna storage URL (default sqlite:///NAME.db)."),
    top_k: int = typer.Option(10, "--top-k", "-k", help="Best molecules to list."),
):
    """Summarize a stored campaign: calls used, outcomes, best molecules, PMO AUC."""

    def _run():
        from molvae.campaign import StoredCampaign
        from molvae.campaign.errors import CLI_FLAGS

        if top_k < 0:
            fail(f"--top-k must be >= 0, got {top_k}")
        c = StoredCampaign(name, storage, flags=CLI_FLAGS)
        meta = c.meta
        if not meta:  # the study exists, but no run recorded the campaign's settings
            if c.ledger.trials():
                fail(f"study {name!r} in {c.storage_url} is not a molvae campaign (it records no campaign settings)")
            console.print(
                f"campaign {name} in {c.storage_url} was created, but no run got as far as recording its settings: "
                f"no objective, budget or trial yet; start it with: molvae optimize --name {name} --storage {c.storage_url} ...",
                markup=False,
            )
            return
        s = c.summary()
        for line in s.lines():
            console.print(line, markup=False)
        cons = meta.get("constraints") or {}
        if any(v for v in cons.values()):
            from molvae.campaign.constraints import Constraints

            console.print(f"constraints: {Constraints.from_dict(cons).describe()}", markup=False)
        if meta.get("model"):
            console.print(f"model: {meta.get('model')} (sha {meta.get('model_sha')})", markup=False)
        best = c.best(top_k) if top_k else None
        if best is not None and len(best):
            from rich.table import Table

            table = Table(show_edge=False, box=None, pad_edge=False)
            for col in ("rank", "score", "oracle_call", "trial", "smiles"):
                table.add_column(col, justify="right" if col != "smiles" else "left")
            for r in best.itertuples(index=False):
                table.add_row(str(r.rank), f"{r.score:.4g}", str(r.oracle_call), str(r.trial), r.smiles)
            console.print(table)
        console.print(f"storage: {c.storage_url}", markup=False)

    run_guarded(_run)
