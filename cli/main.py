"""The ``molvae`` command line (typer + rich).

Each command parses its arguments, calls the library and prints. User mistakes end with
one ``error: ...`` line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from molvae_cli import common
from molvae_cli.common import console, fail, run_guarded


def _repeated_option(cmd, args, ctx, name):
    """``(context, parameter)`` of the first option taking one value that ``args`` give
    twice for the command ``cmd`` (a group: its command named next), or None."""
    sub = cmd.context_class(cmd, info_name=name, parent=ctx, resilient_parsing=True)
    while args and hasattr(cmd, "get_command"):  # a group ('predictors'): down to its command
        name, args = args[0], args[1:]
        cmd = cmd.get_command(sub, name)
        if cmd is None:
            return None
        sub = cmd.context_class(cmd, info_name=name, parent=sub, resilient_parsing=True)
    _, _, order = cmd.make_parser(sub).parse_args(args=list(args))
    seen = set()
    for param in order:
        takes_value = getattr(param, "param_type_name", "") == "option" and not (param.is_flag or param.multiple or param.count)
        if takes_value and param.name in seen:
            return sub, param
        seen.add(param.name)
    return None


class _Group(typer.core.TyperGroup):
    """The root command group: an option that takes one value, given more than once
    (``-o a.json -o b.json``), is a usage error; the last one won, silently. Repeatable
    options (``--target``, ``--set``) and flags may repeat."""

    def resolve_command(self, ctx, args):
        name, cmd, rest = super().resolve_command(ctx, args)
        try:
            repeated = _repeated_option(cmd, list(rest), ctx, name) if cmd is not None else None
        except Exception:  # an unknown option, a missing value: the command's own parsing reports it
            repeated = None
        if repeated is not None:
            sub, param = repeated
            # typer vendors click privately (typer._click) and exports UsageError (exit 2,
            # the usage line) only as BadParameter's base class
            usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
            raise usage_error(f"{'/'.join(param.opts)} is given more than once: give it once", ctx=sub)
        return name, cmd, rest


app = typer.Typer(
    cls=_Group,
    name="molvae",
    help="SELFIES GRU-VAE for molecules: generate, encode, decode, reconstruct, train.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show debug logging."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
):
    common.configure_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


@app.command()
def train(
    data: Path = typer.Argument(..., help="Training molecules: .csv (SMILES column), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz)."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (.pt)."),
    config: Optional[Path] = typer.Option(None, "--config", "-c", help="TOML config; flags below override it."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES (default: 'smiles', any case)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many optimizer steps."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Molecules per batch."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    beta_end: Optional[float] = typer.Option(None, "--beta", help="Final KL weight beta."),
    free_bits: Optional[float] = typer.Option(None, "--free-bits", help="Free bits per latent dimension (nats)."),
    d_z: Optional[int] = typer.Option(None, "--d-z", help="Latent dimension."),
    precision: Optional[str] = typer.Option(None, help="auto (default: bf16-mixed where the CPU or GPU has bf16 in hardware, else 32-true), bf16-mixed or 32-true."),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="Steps between checkpoints."),
    devices: Optional[int] = typer.Option(None, help="Processes/devices for data-parallel training."),
    strategy: Optional[str] = typer.Option(None, help="Lightning strategy, e.g. ddp."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    threads: Optional[int] = typer.Option(None, help="Torch threads per process (0: torch's default)."),
    run_dir: Optional[Path] = typer.Option(None, "--run-dir", help="Checkpoints (last.ckpt) and the training log, logs/version_N/metrics.csv (losses every 10 steps, validation metrics; one file per run segment) (default: OUTPUT.run/)."),
    restart: bool = typer.Option(False, "--restart", help="Start over: an earlier run's checkpoints and logs in the run directory are moved to previous-TIME/ in it."),
    properties: Optional[str] = typer.Option(None, "--properties", help="Train a property head jointly on these RDKit properties, e.g. logp,qed,sa (arranges the latent space by them)."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start a new run from this model file's weights (fine-tuning; same architecture). The data is written in the model's alphabet: molecules it cannot write are skipped and reported. A resumed run does not read the file (its checkpoint holds the alphabet)."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override any config key: --set lr_decay_steps=3000 (repeatable, each key once; not with the key's own flag, e.g. --set beta_end with --beta)."),
):
    """Train a VAE; re-running the same command resumes an interrupted run."""

    def _run():
        # the settings, paths and input files are checked before Lightning is imported (about 5 s)
        from molvae.config import CLI_FLAGS, TrainConfig, check_paths
        from molvae.data import check_file_name, check_smiles_column

        check_file_name(output, "-o", example=".pt")  # '-o .pt' said "must end in .pt, got .pt"
        if output.suffix.lower() != ".pt":  # m.PT was refused, which fit-density -o and --model take
            fail(f"output must end in .pt, got {output.name}")
        extra = {}
        for item in set_ or []:
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                fail(f"--set takes KEY=VALUE, got {item!r}")
            if key in extra:  # the last one won, silently
                fail(f"--set {key} is given twice ({key}={extra[key]} and {key}={value}): give each key once")
            extra[key] = value
        flags = {
            "epochs": epochs,
            "max_steps": max_steps,
            "batch_size": batch_size,
            "lr": lr,
            "beta_end": beta_end,
            "free_bits": free_bits,
            "d_z": d_z,
            "precision": precision,
            "checkpoint_every": checkpoint_every,
            "devices": devices,
            "strategy": strategy,
            "seed": seed,
            "threads": threads,
            "properties": properties,
            "init_from": str(init_from) if init_from is not None else None,
        }
        for key, value in flags.items():  # the flag won over --set, silently
            if value is not None and key in extra:
                flag = "--beta" if key == "beta_end" else "--" + key.replace("_", "-")
                fail(f"{key} is given twice (--set {key}={extra[key]} and {flag} {value}): give it once")
        cfg = TrainConfig.from_sources(config, {**extra, **{k: v for k, v in flags.items() if v is not None}})
        # everything that can be checked before the (long) data preparation is checked here
        runs_in = check_paths(output, run_dir, flags=CLI_FLAGS)
        check_smiles_column(data, smiles_column, option="--smiles-column")  # exists, a known kind, (CSV) the column
        resuming = not restart and (runs_in / "last.ckpt").is_file()  # (a resumed run does not read --init-from)
        if cfg.init_from and Path(cfg.init_from).is_dir():
            fail(f"{cfg.init_from} is a folder, not a model file (--init-from)")
        if cfg.init_from and not resuming and not Path(cfg.init_from).is_file():
            fail(f"model file not found: {cfg.init_from} (--init-from)")
        if cfg.init_from:  # the model file is rewritten as the run goes: the source model would be lost
            common.refuse_output_over_inputs("-o", output, [(cfg.init_from, f"the --init-from model file {cfg.init_from}")])

        from molvae.data import InputError
        from molvae.training import check_trainer_settings, plan_run, prepare_data, train as fit

        common.quiet_lightning()
        import warnings

        for noise in ("Checkpoint directory .* exists and is not empty", ".*isinstance\\(treespec, LeafSpec\\).*", "Experiment logs directory .* exists"):
            warnings.filterwarnings("ignore", message=noise)
        check_trainer_settings(cfg)
        cfg = plan_run(cfg, runs_in, resume=not restart, flags=CLI_FLAGS)  # max_length and remove_stereo settled
        try:
            prepared = prepare_data(data, cfg, smiles_column=smiles_column, resume_dir=runs_in if resuming else None, flags=CLI_FLAGS)
        except InputError as exc:
            # no molecule survived: say why each row was skipped before the error line
            common.report_row_errors(exc.errors, what="training rows")
            raise
        first = common.process_rank() == 0  # the other processes of a DDP run repeat its report
        if first:
            common.report_row_errors(prepared.errors, what="training rows")
        fit(prepared, output, cfg, run_dir=runs_in, resume=not restart, flags=CLI_FLAGS)
        if first:
            console.print(f"wrote {output}")

    run_guarded(_run)


def register_commands() -> None:
    """Import the modules that add the other commands to :data:`app` (importing them is cheap)."""
    from molvae_cli import commands  # noqa: F401
    from molvae_cli import evaluate  # noqa: F401
    from molvae_cli import drugs  # noqa: F401
    from molvae_cli import explore  # noqa: F401
    from molvae_cli import campaign  # noqa: F401
    from molvae_cli import predictors  # noqa: F401


def _click_exception_type() -> type[Exception]:
    """click's ``ClickException``, the base of usage errors, whether typer vendors click
    (``typer._click``, typer >= 0.20) or depends on it (older typer)."""
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def main() -> None:
    """Console-script entry point.

    A usage mistake (an unknown command or option, a value of the wrong type, a missing
    option) ends, like every other user error, with one ``error: ...`` line on stderr,
    here with exit code 2, instead of typer's boxed usage message.
    """
    register_commands()
    try:
        code = app(standalone_mode=False)
    except _click_exception_type() as exc:
        # without arguments a command group has printed its help already (no_args_is_help)
        if type(exc).__name__ != "NoArgsIsHelpError":
            message = " ".join(exc.format_message().split())
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            common.err_console.print(f"error: {message}{hint}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Abort:  # click's Abort, e.g. end of input at a prompt
        common.err_console.print("error: aborted", markup=False)
        sys.exit(1)
    # not standalone, typer returns the command's return value (None), or the code of a typer.Exit
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
