"""``evaluate``: the MOSES distribution-learning metrics of a file of generated molecules."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Optional

import typer

from molvae_cli.common import check_n_jobs, console, err_console, fail, plural, report_row_errors, run_guarded
from molvae_cli.main import app

#: How each metric is shown: label, and whether it is a fraction (else a distance).
_LABELS = {
    "validity": "Valid",
    "unique@1k": "Unique@1k",
    "unique@10k": "Unique@10k",
    "novelty": "Novelty",
    "FCD": "FCD",
    "SNN": "SNN",
    "Frag": "Frag",
    "Scaf": "Scaf",
    "IntDiv1": "IntDiv1",
    "IntDiv2": "IntDiv2",
    "Filters": "Filters",
    "logP": "logP (W1)",
    "SA": "SA (W1)",
    "QED": "QED (W1)",
    "weight": "weight (W1)",
}


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4f}"


def _table(metrics: dict, *, title: str, reference: str, compare: bool):
    from rich.table import Table

    from molvae.moses import HIGHER_IS_BETTER, METRICS, MOSES_BASELINES, REFERENCES, moses_baseline

    # a file of the user's own: the paper's FCD/SNN/Frag/Scaf are against MOSES's sets, not shown
    reference = reference if reference in REFERENCES else None

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("", justify="center")
    table.add_column("value", justify="right")
    models = list(MOSES_BASELINES) if compare else []
    for m in models:
        table.add_column(m, justify="right", style="dim")
    for key in METRICS:
        row = [_LABELS[key], "↑" if HIGHER_IS_BETTER[key] else "↓", _fmt(metrics.get(key))]
        for model in models:
            b = moses_baseline(model, key, reference)
            row.append("—" if b is None else f"{b[0]:.4f}")
        table.add_row(*row)
    return table


@app.command()
def evaluate(
    samples: Path = typer.Argument(..., help="Generated molecules, one row per draw: .csv (SMILES column), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz). Duplicates count; empty or invalid rows are invalid draws."),
    reference: str = typer.Option("test", "--reference", "-r", help="test or test_scaffolds (MOSES, statistics shipped), or a file of reference molecules."),
    train: Optional[Path] = typer.Option(None, "--train", help="Training molecules, for novelty (e.g. data/moses/train.csv.gz); canonicalized once and cached."),
    n_jobs: int = typer.Option(1, "--n-jobs", "-j", help="Processes for RDKit, and torch threads for ChemNet and similarities."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the metrics as JSON (.json)."),
    compare: bool = typer.Option(False, "--compare", help="Show the MOSES paper's baselines (CharRNN, VAE, AAE, JTN-VAE) beside."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding the samples' SMILES (default: 'smiles', any case)."),
    reference_column: Optional[str] = typer.Option(None, "--reference-column", help="CSV column holding the SMILES of a reference file (default: 'smiles', any case)."),
    train_column: Optional[str] = typer.Option(None, "--train-column", help="CSV column holding the SMILES of the --train file (default: 'smiles', any case)."),
):
    """MOSES metrics (Polykovskiy et al. 2020): validity, unique@k, novelty, FCD, SNN, Frag, Scaf, IntDiv, Filters, property distances."""

    def _run():
        from molvae.data import check_output_path, check_smiles_column
        from molvae.moses import REFERENCES, evaluate as run_evaluate, read_samples

        if output is not None:
            check_output_path(output, allowed=(".json",), flag="-o")
        check_n_jobs(n_jobs)  # as many torch threads too: 100000 ran out of memory
        for flag, given in (("--reference", None if reference in REFERENCES else Path(reference)), ("--train", train)):
            if given is not None and given.is_dir():
                fail(f"{given} is a folder, not a file of molecules ({flag})")
        if reference not in REFERENCES and not Path(reference).is_file():
            fail(f"--reference must be test, test_scaffolds or a file of molecules; {reference!r} is neither")
        if train is not None and not train.is_file():
            fail(f"training file not found: {train}")
        # options that would be ignored are refused, and the files' columns are checked
        # from their headers now, not after minutes of work on the samples
        if reference_column is not None and reference in REFERENCES:
            fail(f"--reference-column names the SMILES column of a reference file; the MOSES set {reference!r} is not one")
        if train_column is not None and train is None:
            fail("--train-column names the SMILES column of the --train file; give --train too")
        if reference not in REFERENCES:
            check_smiles_column(reference, reference_column, option="--reference-column")
        if train is not None:
            check_smiles_column(train, train_column, option="--train-column")
        numbers: list[int] = []
        unread: dict[int, str] = {}
        smiles = read_samples(samples, smiles_column=smiles_column, numbers=numbers, reasons=unread, option="--smiles-column")
        invalid: list[int] = []
        timings: dict = {}
        t0 = time.perf_counter()
        with err_console.status("evaluating") as status:
            metrics = run_evaluate(
                smiles,
                reference=reference,
                train=train,
                n_jobs=n_jobs,
                progress=lambda stage: status.update(f"evaluating: {stage}"),
                timings=timings,
                reference_column=reference_column,
                train_column=train_column,
                invalid=invalid,
            )
        seconds = time.perf_counter() - t0
        # which rows validity counted as invalid draws: listed (capped), none left out of the metrics
        from molvae.chem import MAX_SMILES_LENGTH, _smiles_text_problem
        from molvae.data import RowError

        def why(i: int) -> str:
            if numbers[i] in unread:
                return unread[numbers[i]]
            if len(smiles[i]) > MAX_SMILES_LENGTH:  # not parsed: RDKit's writer could crash on it
                return _smiles_text_problem(smiles[i])
            return "RDKit cannot parse SMILES"

        bad = [RowError(numbers[i], smiles[i], why(i)) for i in invalid]
        report_row_errors(bad, heading=f"{len(bad)} invalid {plural(len(bad), 'sample')} (counted as invalid draws in validity):")
        n_valid = round((metrics["validity"] or 0.0) * len(smiles))
        ref_name = reference if reference in REFERENCES else Path(reference).name
        title = f"MOSES metrics of {samples.name}: {len(smiles)} {plural(len(smiles), 'sample')}, {n_valid} valid, reference {ref_name}"
        # the JSON first: a reader that stops early (`| head`) must not cost the file
        if output is not None:
            report = {
                "samples": str(samples),
                "reference": reference,
                "train": str(train) if train is not None else None,
                "n_samples": len(smiles),
                "n_valid": n_valid,
                "metrics": metrics,
                "seconds": round(seconds, 2),
                "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
            }
            from molvae.data import write_atomically

            text = json.dumps(report, indent=2) + "\n"
            write_atomically(output, lambda tmp: Path(tmp).write_text(text))  # all at once or not at all
        console.print(_table(metrics, title=title, reference=reference, compare=compare))
        if compare:
            console.print(
                "baselines: Polykovskiy et al. 2020 (Front. Pharmacol. 11:565644), mean of 3 runs of 30,000 samples, "
                + ("vs test-scaffolds" if reference == "test_scaffolds" else "vs MOSES test" if reference == "test" else
                   f"vs MOSES test, so FCD, SNN, Frag and Scaf, measured here against {Path(reference).name}, have none")
                + "; — not published in that table"
            )
        console.print(f"seconds {seconds:.1f}")
        if output is not None:
            console.print(f"wrote {output}")

    run_guarded(_run)
