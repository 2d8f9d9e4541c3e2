"""``drugs``: list the shipped registry of approved drugs and the model's alphabet coverage."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import typer

from molvae_cli.common import console, err_console, fail, load_model, run_guarded
from molvae_cli.main import app


@app.command()
def drugs(
    search: Optional[str] = typer.Option(None, "--search", "-s", help="Only drugs whose name or a synonym contains TEXT (any case)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model file whose alphabet is checked (default: the shipped model)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Also write the listed drugs to a .csv file."),
):
    """List the known-drug registry: name, formula, ChEMBL id, and whether the model's alphabet covers each drug."""

    def _run():
        from rich.table import Table
        from rich.text import Text

        from molvae.drugs import load_drugs, missing_tokens, search_drugs
        from molvae.drugs import too_long as too_long_reason

        if output is not None:
            from molvae.data import check_output_path

            check_output_path(output, allowed=(".csv",), flag="-o")
        rows = search_drugs(search) if search is not None else load_drugs()
        if not rows:
            fail(f"no drug name or synonym contains {search!r}")

        vae = None
        model_name = None
        if model is None:
            import molvae.vae

            default = molvae.vae.default_model_path()
            if default.is_file():
                vae, model_name = load_model(None), default.name
            else:
                err_console.print(f"warning: default model not found ({default}); coverage shown as 'unknown'", markup=False)
        else:
            vae, model_name = load_model(model), model.name

        missing = [missing_tokens(vae, d.smiles) if vae is not None else None for d in rows]
        # covered means the model can encode it: every token in the alphabet, and not too long
        too_long = [too_long_reason(vae, d.smiles) if miss == [] else None for d, miss in zip(rows, missing)]

        # the CSV first: a reader that stops early (`| head`) must not cost the file
        if output is not None:
            from molvae.data import write_atomically

            def write(tmp: Path) -> None:
                with open(tmp, "w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(["name", "synonyms", "smiles", "formula", "chembl_id", "chembl_checked", "covered", "missing_tokens", "too_long", "notes"])
                    for d, miss, long in zip(rows, missing, too_long):
                        covered = "unknown" if miss is None else ("no" if miss or long else "yes")
                        w.writerow([d.name, ";".join(d.synonyms), d.smiles, d.formula, d.chembl_id or "", "yes" if d.chembl_checked else "", covered, " ".join(miss or []), long or "", d.notes])

            write_atomically(output, write)  # all at once or not at all

        table = Table(title=None, show_lines=False, header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column("formula", no_wrap=True)
        table.add_column("ChEMBL id", no_wrap=True)
        table.add_column(f"covered by {model_name}" if model_name else "covered")
        for d, miss, long in zip(rows, missing, too_long):
            chembl = (d.chembl_id or "") + ("" if d.chembl_checked or not d.chembl_id else " (unchecked)")
            table.add_row(Text(d.name), Text(d.formula), Text(chembl), Text(f"no ({long})" if long else _covered(miss)))
        console.print(table)

        counted = f"{len(rows)} drug" + ("" if len(rows) == 1 else "s")
        if vae is None:
            console.print(counted)
        else:
            n_cov = sum(1 for m, long in zip(missing, too_long) if not m and not long)
            console.print(f"{counted}, {n_cov} covered by the alphabet of {model_name}" + _too_long_note(sum(map(bool, too_long))))

        if output is not None:
            console.print(f"wrote {output}")

    run_guarded(_run)


def _too_long_note(k: int) -> str:
    return f" ({k} other{'s' if k > 1 else ''} too long)" if k else ""


def _covered(missing: list[str] | None) -> str:
    """Table cell: 'yes', 'no (missing ...)' or 'unknown' (no model)."""
    if missing is None:
        return "unknown"
    if not missing:
        return "yes"
    return "no (missing " + " ".join(missing) + ")"
