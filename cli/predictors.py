"""``predictors train``, ``predictors show`` and ``predict``: property predictors on the latent space."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from molvae_cli.common import console, err_console, fail, load_model, progress_bar, refuse_output_over_inputs, report_row_errors, run_guarded
from molvae_cli.main import app

predictors_app = typer.Typer(
    name="predictors",
    help="Property predictors on VAE latent means: train (with cross-validation) and inspect.",
    no_args_is_help=True,
)
app.add_typer(predictors_app, name="predictors")


def _num(v, fmt: str) -> str:
    """A metric for the table: ``n/a`` when undefined (NaN, or None in a stored file)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if v != v else format(v, fmt)


def _print_cv(cv) -> None:
    from rich.table import Table

    t = Table(title=f"{int(cv['folds'].iloc[0])}-fold cross-validation ({cv['model'].iloc[0]})", title_justify="left")
    for col in ("target", "n", "R²", "± sd", "MAE", "RMSE", "Spearman ρ", "fit s"):
        t.add_column(col, justify="left" if col == "target" else "right")
    for _, r in cv.iterrows():
        t.add_row(str(r["target"]), str(int(r["n"])), _num(r["r2"], ".3f"), _num(r["r2_sd"], ".3f"), _num(r["mae"], ".4g"), _num(r["rmse"], ".4g"), _num(r["spearman"], ".3f"), _num(r["seconds"], ".1f"))
    console.print(t)


@predictors_app.command("train")
def train(
    data: Path = typer.Argument(..., help="CSV with a SMILES column and numeric label columns (with --rdkit: any molecule file)."),
    output: Path = typer.Option(..., "-o", "--output", help="Predictor file to write (.skops)."),
    target: Optional[List[str]] = typer.Option(None, "--target", "-t", help="Label column to learn; repeat for several targets."),
    rdkit: Optional[str] = typer.Option(None, "--rdkit", help="Learn RDKit-computed properties instead of label columns, e.g. qed,logp,sa."),
    model: str = typer.Option("gp", "--model", help="Regressor: gp (with uncertainty), ridge, rf or mlp."),
    folds: int = typer.Option(5, "--folds", help="k-fold cross-validation before the final fit (0: skip)."),
    vae: Optional[Path] = typer.Option(None, "--vae", help="VAE model file whose latent means are used (default: the shipped model)."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES (default: 'smiles', any case)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Predicted-vs-measured PNG of the cross-validation (default: OUTPUT with .cv.png; none with --folds 0)."),
    seed: int = typer.Option(0, help="Random seed (folds and models)."),
    max_train: Optional[int] = typer.Option(None, "--max-train", help="gp only: fit on at most this many rows (default 2000; O(n³))."),
):
    """Train a property predictor on latent means, cross-validate it, and save it (.skops)."""

    def _run():
        from molvae.data import InputError, check_output_path, read_molecules
        from molvae.predictors import MODEL_TYPES, LabeledData, constant_targets, file_sha256, rdkit_labels, read_labeled_csv, scatter_plot, train_predictor

        # each output checked once, before the work: the extension here, the rest (a name that
        # is only '.skops', a folder, a missing or unwritable folder) by check_output_path
        if not output.name.lower().endswith(".skops"):
            fail(f"output must end in .skops, got {output.name}")
        check_output_path(output, allowed=(".skops",), flag="-o")
        if model not in MODEL_TYPES:
            fail(f"unknown --model {model!r}: use one of {', '.join(MODEL_TYPES)}")
        if folds < 0 or folds == 1:
            fail(f"--folds must be 0 (no cross-validation) or >= 2, got {folds}")
        if not 0 <= seed < 2**32:
            fail(f"--seed must be between 0 and 2**32 - 1, got {seed}")
        if max_train is not None and max_train < 2:
            fail(f"--max-train must be >= 2, got {max_train}")
        if max_train is not None and model != "gp":
            fail(f"--max-train limits the rows of --model gp only (the {model} model fits every row)")
        if plot is not None and not folds:  # the plot is of the cross-validation: it was skipped without a word
            fail(f"--plot draws the cross-validation's predictions, and --folds 0 skips it: give --folds 2 or more, or leave --plot {plot} out")
        png = plot if plot is not None else output.with_suffix(".cv.png")
        if not png.name.lower().endswith(".png"):
            fail(f"--plot must be a .png file, got {png.name}")
        if folds:
            check_output_path(png, allowed=(".png",), flag="--plot")
        if target and rdkit:
            fail("give either --target (label columns) or --rdkit (computed properties), not both")
        if not target and not rdkit:
            fail("give --target COLUMN (repeatable) for measured labels, or --rdkit qed,logp,... for RDKit properties")

        try:
            if rdkit:
                names = [n.strip().lower() for n in rdkit.split(",") if n.strip()]
                rows, errors = read_molecules(data, smiles_column=smiles_column, option="--smiles-column")
                smiles = [s for _, s in rows]
                y = rdkit_labels(smiles, names)
                labelled = LabeledData([r for r, _ in rows], smiles, y, names, errors, {}, str(data))
                kind = "rdkit"
            else:
                labelled = read_labeled_csv(data, target, smiles_column=smiles_column, option="--smiles-column", target_option="--target")
                kind = "measured"
            vae_model = load_model(vae)
            description = {"labels": kind, "sha256": file_sha256(data)}
            total = len(labelled.rows) + len(labelled.errors)
            if folds:
                with progress_bar(f"cross-validating {model}", total=folds) as update:
                    result = train_predictor(vae_model, labelled, model, folds=folds, seed=seed, max_train=max_train, description=description, progress=update)
            else:
                result = train_predictor(vae_model, labelled, model, folds=0, seed=seed, max_train=max_train, description=description)
        except InputError as exc:
            # too few usable rows left: say why each row was skipped before the error line
            report_row_errors(exc.errors)
            raise
        report_row_errors(sorted(labelled.errors + result.errors, key=lambda e: e.row))
        p = result.predictor
        for t, n in p.training_data["nan_labels"].items():
            if n:
                err_console.print(f"{t}: {n} rows without a label skipped for this target", markup=False)
        if result.repeats:
            row, earlier = result.repeats[0]
            err_console.print(
                f"note: {len(result.repeats)} row{'s' if len(result.repeats) > 1 else ''} repeat{'' if len(result.repeats) > 1 else 's'} the molecule of an earlier row "
                f"(row {row} that of row {earlier})" + ("; cross-validation keeps a molecule's rows in one fold" if folds else ""),
                markup=False,
            )
        console.print(f"{len(result.rows)} of {total} rows used; model {model}, {len(p.targets)} target{'s' if len(p.targets) > 1 else ''}: {', '.join(p.targets)}")
        if model == "gp" and any(n < len(result.rows) - k for n, k in zip(p.n_train_, p.n_skipped_)):
            console.print(f"gp fitted on a random {p.max_train} rows per target (exact GPs cost O(n³); --max-train to change)")
        if p.cv is not None:
            _print_cv(p.cv)
        for t, value in constant_targets(result.measured, p.targets).items():
            err_console.print(
                f"note: every label of {t} is {value:g}: R² is undefined for a constant target (n/a), and the predictor can only predict {value:g}",
                markup=False,
            )
        p.save(output)  # the predictor first: a plot that fails to be written leaves it saved
        if p.cv is not None:
            scatter_plot(result.measured, result.predicted, p.targets, png, cv=p.cv, title=f"{model}, {folds}-fold CV, {data.name}")
        console.print(f"wrote {output}" + (f" and {png}" if p.cv is not None else ""))

    run_guarded(_run)


@predictors_app.command("show")
def show(
    predictor: Path = typer.Argument(..., help="Predictor file (.skops)."),
    vae: Optional[Path] = typer.Option(None, "--vae", help="Also check that this VAE model file is the one it was trained with."),
):
    """Print a predictor file's metadata and cross-validation table."""

    def _run():
        from molvae.predictors import LatentPredictor

        if vae is not None and not vae.is_file():  # before the table; was 'cannot use /abs/path: ...' after it
            fail(f"{vae} is a folder, not a model file (--vae)" if vae.is_dir() else f"model file not found: {vae} (--vae)")
        p = LatentPredictor.load(predictor)
        if vae is not None:  # before the table: another VAE printed it all, then the error
            p.check_vae(vae)  # a predictor that records no VAE passes with a logged warning
        m = p.describe()
        console.print(f"model      {m['model']}  (standard deviation: {'yes' if p.has_std else 'no'})")
        console.print(f"targets    {', '.join(m['targets'])}")
        console.print(f"rows       {m['n_train']} per target (d_z {m['d_z']})")
        console.print(f"vae        sha256 {m['vae_sha256']}  ({m['vae_path']})")
        console.print(f"data       {m['training_data']}")
        console.print(f"written    {m['created']} by molvae {m['versions'].get('molvae')}, scikit-learn {m['versions'].get('sklearn')}")
        if p.cv is not None:
            _print_cv(p.cv)
        if vae is not None:
            if p.vae_sha256 is None:
                console.print(f"not checked: the predictor records no VAE, so {vae} cannot be matched to it")
            else:
                console.print(f"{vae} matches the predictor's VAE")

    run_guarded(_run)


@app.command()
def predict(
    input: Path = typer.Argument(..., help="Molecules: .csv (SMILES column; other columns are kept), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz)."),
    predictor: Path = typer.Option(..., "--predictor", "-p", help="Predictor file (.skops) from 'molvae predictors train'."),
    output: Path = typer.Option(..., "-o", "--output", help="Output .csv: row (the input row number; input_row when a CSV has a column row), the input, and pred_<target> (and pred_<target>_std for gp)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", "--vae", help="VAE model file the predictor was trained with (default: the shipped model)."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES."),
):
    """Predict properties of molecules with a trained predictor (mean, and std where the model gives one)."""

    def _run():
        import pandas as pd

        from molvae.data import RowError, check_output_path, check_smiles_column, csv_smiles_column, read_molecules
        from molvae.predictors import LatentPredictor, annotate, read_csv_rows

        check_output_path(output, allowed=(".csv",), flag="-o")
        refuse_output_over_inputs("-o", output, [(input, f"the input file {input}")])
        check_smiles_column(input, smiles_column, option="--smiles-column")  # the file, its kind and (CSV) its SMILES column
        p = LatentPredictor.load(predictor)
        name = input.name.lower()
        is_csv = name.endswith(".csv") or name.endswith(".csv.gz")
        unread = {}  # input row -> the reader's RowError, for rows it could not read
        if is_csv:
            _, read_errors = read_molecules(input, smiles_column=smiles_column, option="--smiles-column")  # also checks that it holds molecules
            # every record, blank lines included: table row i is input row i + 1, as in 'molvae encode'
            table = read_csv_rows(input)
            column = csv_smiles_column(input, table.columns, smiles_column, option="--smiles-column")  # 'SMILES' finds 'smiles', as read_molecules does
            row_number = list(range(1, len(table) + 1))
            # a record the reader refuses (a quote left open took in the lines after it, a
            # missing SMILES field) is not predicted: pandas read its SMILES field as a
            # molecule, and the rows it took in were lost without a word
            unread = {e.row: e for e in read_errors if e.reason != "empty row" and 1 <= e.row <= len(table)}
        else:
            rows, errors = read_molecules(input, option="--smiles-column")
            report_row_errors(errors)
            table = pd.DataFrame({"row": [r for r, _ in rows], "smiles": [s for _, s in rows]})
            column = "smiles"
            row_number = [r for r, _ in rows]
        vae = load_model(model)
        scored = table
        if unread:
            scored = table.copy()
            scored.loc[[r - 1 for r in unread], column] = ""
        out, errors = annotate(scored, p, vae, smiles_column=column, return_errors=True)
        if unread:
            out[column] = table[column].to_numpy()  # the input as it was, predictions left empty
            errors = [e for e in errors if row_number[e.row] not in unread]
            report_row_errors(sorted(unread.values(), key=lambda e: e.row), what="rows that could not be read (predictions left empty)")
        if is_csv:  # the input row number first, as for .smi and .sdf input (and in 'molvae encode')
            label = "row"
            while label in out.columns:  # the input has a column 'row' of its own: keep it as it is
                label = f"input_{label}"
            out.insert(0, label, row_number)
        report_row_errors([RowError(row_number[e.row], e.input, e.reason) for e in errors], what="rows that could not be encoded (predictions left empty)")
        from molvae.data import write_atomically  # all at once or not at all

        write_atomically(output, lambda tmp: out.to_csv(tmp, index=False, float_format="%.6g"))
        ok = len(out) - len(errors) - len(unread)
        console.print(f"predicted {', '.join(p.targets)} for {ok} of {len(out)} molecules ({p.model}{', with std' if p.has_std else ''}); wrote {output}")

    run_guarded(_run)
