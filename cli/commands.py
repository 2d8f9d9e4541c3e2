"""``generate``, ``encode``, ``decode`` and ``reconstruct``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from molvae_cli.common import add_predictions, check_n_jobs, check_seed, check_temperature, console, load_predictor, fail, load_model, plural, progress_bar, refuse_output_over_inputs, report_row_errors, run_guarded
from molvae_cli.main import app

MODEL_OPTION = typer.Option(None, "--model", "-m", help="Model file (default: the shipped model).")


#: Molecules drawn by `generate --image`: the first ones, a grid of 6 rows of 5.
GENERATE_DRAWN = 30


@app.command()
def generate(
    n: int = typer.Option(1000, "-n", "--number", help="Unique valid molecules to write (draws with --all-draws)."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .csv, .smi or .sdf."),
    model: Optional[Path] = MODEL_OPTION,
    seed: int = typer.Option(0, help="Random seed: same seed, same file."),
    temperature: float = typer.Option(0.0, help="Decoder temperature: 0 (default) decodes each prior draw greedily; 1 samples tokens from the decoder."),
    all_draws: bool = typer.Option(False, "--all-draws", help="Write every draw, duplicates and invalid ones included."),
    image: Optional[Path] = typer.Option(None, "--image", help="Also draw the first molecules as a PNG grid."),
    n_jobs: Optional[int] = typer.Option(None, "--n-jobs", "-j", help="Worker processes for decoding, SELFIES and RDKit (default: the available cores); the output does not depend on it."),
    latent: str = typer.Option("prior", help="Latent source: prior (N(0, I), default) or fitted (the density fitted to training latents, see fit-density)."),
    predictor: Optional[Path] = typer.Option(None, "--predictor", help="Add predicted properties from a predictor file (.skops)."),
):
    """Sample molecules from the prior, validate them with RDKit and write them with properties."""

    def _run():
        from molvae.data import check_output_path, write_molecules

        check_output_path(output, flag="-o")
        if image is not None:
            check_output_path(image, allowed=(".png",), flag="--image")
        from molvae.generation import MAX_MOLECULES

        if not 1 <= n <= MAX_MOLECULES:  # all are held in memory: a huge -n ran until memory ran out
            fail(f"-n must be between 1 and {MAX_MOLECULES:,} (split larger jobs over seeds), got {n}")
        check_temperature(temperature)
        check_seed(seed)
        if predictor is not None and output.suffix.lower() == ".smi":
            fail(f"--predictor needs a .csv or .sdf output: {output.name} would hold SMILES only")
        if latent not in ("prior", "fitted"):
            fail(f"--latent must be prior or fitted, got {latent!r}")
        if n_jobs is not None:  # -j 1000 forked 1,000 workers
            check_n_jobs(n_jobs)
        vae = load_model(model)
        if latent == "fitted" and vae.latent_density is None:
            fail(f"{vae.path} has no fitted latent density: add one with `molvae fit-density`, or use --latent prior")
        pred = load_predictor(predictor, vae)
        from molvae.generation import generate as run_generate

        with progress_bar("generating", total=n) as update:
            result = run_generate(vae, n, seed=seed, temperature=temperature, all_draws=all_draws, n_jobs=n_jobs, latent=latent, progress=update)
        table = add_predictions(result.table, pred, vae)
        write_molecules(table, output)
        s = result.summary()
        console.print(
            f"draws {s['draws']}  validity {s['validity']:.4f}  uniqueness {s['uniqueness']:.4f}  "
            f"novelty {s['novelty']:.4f}  seconds {s['seconds']:.2f}  molecules/s {s['molecules_per_s']:.0f}"
        )
        console.print(f"wrote {s['written']} molecules to {output}")
        if image is not None:
            from molvae.draw import grid_image

            valid = result.table[result.table["smiles"] != ""]
            t = valid.head(GENERATE_DRAWN)
            if len(t):
                grid_image(t["smiles"], image, legends=[f"QED {q:.2f}" for q in t["qed"]] if "qed" in t else None)
                if len(valid) > len(t):
                    console.print(f"note: drew the first {len(t)} of the {len(valid)} molecules in {image}")
                console.print(f"wrote {image}")
            else:  # --all-draws with only invalid draws
                console.print(f"note: no valid molecule to draw; {image} not written")

    run_guarded(_run)


@app.command()
def encode(
    input: Path = typer.Argument(..., help="Molecules: .csv (SMILES column), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz)."),
    output: Path = typer.Option(..., "-o", "--output", help="Latent means: .npy (n, d_z) or .csv (row, smiles, z0..)."),
    model: Optional[Path] = MODEL_OPTION,
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES."),
):
    """Encode molecules to their posterior means; rows that cannot be encoded are reported and skipped."""

    def _run():
        import numpy as np
        import pandas as pd

        from molvae.data import check_output_path, read_molecules

        check_output_path(output, allowed=(".npy", ".csv"), flag="-o")
        refuse_output_over_inputs("-o", output, [(input, f"the input file {input}")])
        rows, errors = read_molecules(input, smiles_column=smiles_column, option="--smiles-column")
        vae = load_model(model)
        smiles = [s for _, s in rows]
        mu, enc_errors = vae.try_encode(smiles)
        # report by input row number
        errors = errors + [type(e)(rows[e.row][0], e.input, e.reason) for e in enc_errors]
        report_row_errors(sorted(errors, key=lambda e: e.row))
        ok = ~np.isnan(mu).any(axis=1)
        if not ok.any():
            fail(f"no molecule of {input} could be encoded")
        from molvae.data import write_atomically  # all at once or not at all

        if output.suffix.lower() == ".npy":

            def write(tmp):
                with open(tmp, "wb") as fh:  # a file object: np.save would append .npy to x.NPY
                    np.save(fh, mu[ok], allow_pickle=False)

            write_atomically(output, write)
        else:
            df = pd.DataFrame(mu[ok], columns=[f"z{i}" for i in range(vae.d_z)])
            df.insert(0, "smiles", [s for s, k in zip(smiles, ok) if k])
            df.insert(0, "row", [r for (r, _), k in zip(rows, ok) if k])
            # 9 significant digits give back each float32 exactly: with 6 the .csv decoded
            # differently from the .npy of the same molecules (6 of 1,000 MOSES molecules)
            write_atomically(output, lambda tmp: df.to_csv(tmp, index=False, float_format="%.9g"))
        console.print(f"encoded {int(ok.sum())} of {len(rows) + len(errors) - len(enc_errors)} rows to {output} (shape {int(ok.sum())} x {vae.d_z})")

    run_guarded(_run)


def _read_latent(path: Path, d_z: int):
    """Latent points of a .npy or .csv (.csv.gz) file, with the rows that cannot be decoded.

    A .csv (fields separated by commas, or by ``;`` or tabs as :func:`molvae.data.csv_separator`
    finds them) needs columns ``z0..z{d_z-1}`` (other columns are ignored); spaces around
    column names and cells are ignored.

    Returns
    -------
    z : ndarray, shape (n, d_z), float32
        Unusable rows are zero (and listed in ``errors``).
    errors : list of RowError
        1-based row numbers of rows holding NaN, infinite (in float32) or non-numeric values,
        or (.csv) more fields than the header.
    """
    import re

    import numpy as np
    import pandas as pd

    from molvae.data import InputError, RowError

    if path.is_dir():  # it said 'input file not found', as if nothing were there
        raise InputError(f"{path} is a folder, not a file of latent points")
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    kind = ".csv.gz" if path.name.lower().endswith(".csv.gz") else path.suffix.lower()
    if kind == ".npy":
        with open(path, "rb") as fh:
            magic = fh.read(6)
        # np.load reads a zip (.npz) as an NpzFile (a traceback on .dtype) and calls any
        # other file pickled object data; neither is what the file is
        if magic != b"\x93NUMPY":
            if not magic:
                raise InputError(f"{path} is empty")
            what = "a .npz archive" if magic.startswith(b"PK") else "no NumPy header"
            raise InputError(f"{path} is not a .npy array file ({what}); decode reads one array saved with numpy.save")
        try:
            z = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path} is not a readable .npy array ({str(exc).splitlines()[0]})") from None
        if z.dtype.kind not in "iuf":
            raise InputError(f"{path} holds {z.dtype} values; latent points are real numbers")
        if z.ndim == 1:
            z = z[None, :]
        if z.ndim != 2 or z.shape[1] != d_z:
            raise InputError(f"{path} holds an array of shape {z.shape}; the model needs (n, {d_z})")
        with np.errstate(over="ignore"):
            z = z.astype(np.float32)
        text = [None] * len(z)
        long_rows = {}
    elif kind in (".csv", ".csv.gz"):
        df, long_rows = _read_latent_csv(path)
        # 'z0, z1, z2' (a space after each comma) or 'z0 ,z1' names the same columns as 'z0,z1,z2'
        df.columns = [str(c).strip() for c in df.columns]
        # a name given twice: 'z0, z0' is duplicated now, 'z0,z0' pandas renamed to 'z0', 'z0.1'
        dup = [c for c in df.columns[df.columns.duplicated()] if re.fullmatch(r"z\d+", c)]
        dup += [m[1] for c in df.columns if (m := re.fullmatch(r"(z\d+)\.\d+", c)) and m[1] in df.columns]
        twice = dup[0] if dup else None
        if twice:
            raise InputError(f"{path} has latent column {twice} more than once")
        cols = [f"z{i}" for i in range(d_z)]
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise InputError(f"{path} lacks latent columns {missing[0]}..; expected z0..z{d_z - 1}")
        extra = [c for c in df.columns if re.fullmatch(r"z\d+", c) and c not in cols]
        if extra:  # latents of a model with a larger d_z: decoding the first d_z would be silently wrong
            raise InputError(f"{path} has latent columns beyond z{d_z - 1} ({extra[0]} ...); the model needs exactly z0..z{d_z - 1}")
        numbers = df[cols].apply(lambda col: pd.to_numeric(col.str.strip(), errors="coerce"))
        with np.errstate(over="ignore"):
            z = numbers.to_numpy(dtype=np.float64).astype(np.float32)
        # the first unreadable cell of each row that has one, for the report (only those
        # rows are looked at: iterating over all rows took about as long as reading the file)
        unread = numbers.isna().to_numpy()
        text = [None] * len(df)
        for i in np.flatnonzero(unread.any(axis=1)):
            c = cols[int(np.argmax(unread[i]))]
            text[i] = f"{c}={df[c].iat[i]!r}"
    else:
        raise InputError(f"unsupported latent file {path.suffix!r}: use .npy, .csv or .csv.gz")
    if len(z) == 0:
        raise InputError(f"{path} holds no latent points")
    errors = [RowError(i + 1, "", reason) for i, reason in long_rows.items()]
    for i in long_rows:
        z[i] = 0.0
    for i in np.flatnonzero(~np.isfinite(z).all(axis=1)):
        if text[i]:
            errors.append(RowError(int(i) + 1, text[i], "not a number"))
        else:
            errors.append(RowError(int(i) + 1, "", "NaN or infinite value (beyond float32's range counts as infinite)"))
        z[i] = 0.0
    return z, sorted(errors, key=lambda e: e.row)


def _read_latent_csv(path: Path):
    """A latent CSV as a table of strings, with the rows that have more fields than the header.

    pandas reads the file; a row with more (non-empty) fields than the header made it drop
    the extra fields with a bare ``ParserWarning`` when it was the first data row (and decode
    the rest of the row as if nothing were wrong) or refuse the whole file when it was a
    later one. Such a file is read again with the ``csv`` module (the common case pays
    nothing), and those rows are returned to be reported, as :func:`molvae.data.read_molecules`
    reports them. Empty fields past the header (a comma at the end of each line) are ignored,
    as pandas ignores them.

    Returns
    -------
    table : DataFrame, shape (n, columns)
        Every cell a string; a blank line is a row of empty strings.
    long_rows : dict of int to str
        0-based row index -> reason (``"130 fields, the header has 128"``).

    Raises
    ------
    InputError
        Empty file, or not a readable CSV (not UTF-8, a quote left open ...).
    """
    import csv
    import re
    import warnings
    import zlib

    import pandas as pd

    from molvae.data import InputError, _open_text, csv_separator

    gz = path.name.lower().endswith(".gz")
    try:  # ';' or tabs, as the molecule readers take them (an Excel or ChEMBL-style .csv)
        sep = csv_separator(path)
    except (UnicodeDecodeError, OSError, EOFError, zlib.error):
        sep = ","  # pandas says what is wrong with the file, as before

    def unreadable(exc):
        return InputError(f"{path} is not a readable CSV ({str(exc).splitlines()[0]})")

    def not_gzip(exc):  # .csv.gz: not gzip data, or cut short
        if not gz:
            raise exc
        return InputError(f"{path} cannot be read as gzip-compressed text ({str(exc).splitlines()[0]})")

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            # a blank line is a row (reported), so row numbers are the file's data rows, as for molecules
            df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, index_col=False, skip_blank_lines=False)
        long = False
        for w in caught:
            if issubclass(w.category, pd.errors.ParserWarning):
                long = True
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty") from None
    except pd.errors.ParserError as exc:
        if not re.search(r"Expected \d+ fields in line \d+, saw \d+", str(exc)):
            raise unreadable(exc) from None
        long = True
    except UnicodeDecodeError as exc:
        raise unreadable(exc) from None
    except (OSError, EOFError) as exc:
        raise not_gzip(exc) from None
    if not long:
        return df, {}
    try:
        with _open_text(path, ".csv.gz" if gz else ".csv") as fh:
            reader = csv.reader(fh, delimiter=sep)
            header = next(reader)
            rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise unreadable(exc) from None
    except (OSError, EOFError) as exc:
        raise not_gzip(exc) from None
    n = len(header)
    long_rows = {}
    for i, fields in enumerate(rows):
        while len(fields) > n and not fields[-1].strip():
            fields.pop()
        if len(fields) > n:
            long_rows[i] = f"{len(fields)} fields, the header has {n}"
    table = pd.DataFrame([f[:n] + [""] * (n - len(f)) for f in rows], columns=header, dtype=str)
    return table, long_rows


@app.command()
def decode(
    input: Path = typer.Argument(..., help="Latent points: .npy of shape (n, d_z), or .csv (.csv.gz) with columns z0..z{d_z-1}."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file: .csv, .smi or .sdf."),
    model: Optional[Path] = MODEL_OPTION,
    temperature: float = typer.Option(0.0, help="Decoder temperature (0: greedy)."),
    seed: int = typer.Option(0, help="Random seed (with temperature > 0)."),
):
    """Decode latent points to molecules (one row per point, in order; rows with NaN,
    infinite or non-numeric values are reported and written empty, with valid false)."""

    def _run():
        import pandas as pd

        from molvae.data import check_output_path, write_molecules
        from molvae.generation import compute_properties

        check_output_path(output, flag="-o")
        refuse_output_over_inputs("-o", output, [(input, f"the input file {input}")])
        check_temperature(temperature)
        check_seed(seed)
        vae = load_model(model)
        z, errors = _read_latent(input, vae.d_z)
        if len(errors) == len(z):
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            fail(f"no latent point of {input} can be decoded: {errors[0]}{more}")
        report_row_errors(errors, what="latent points")
        smiles = vae.decode(z, temperature=temperature, seed=seed)
        for e in errors:
            smiles[e.row - 1] = ""
        table = pd.concat([pd.DataFrame({"smiles": smiles, "valid": [bool(s) for s in smiles]}), compute_properties(smiles)[["qed", "logp", "sa", "mw"]]], axis=1)
        write_molecules(table, output)
        console.print(f"decoded {len(smiles)} {plural(len(smiles), 'point')} ({sum(map(bool, smiles))} valid) to {output}")

    run_guarded(_run)


@app.command()
def reconstruct(
    input: Path = typer.Argument(..., help="Molecules: .csv (SMILES column), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz)."),
    model: Optional[Path] = MODEL_OPTION,
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES."),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="Score the first N molecules that can be encoded (rows that cannot are reported, not counted)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Per-molecule CSV: row (the input row number, as in encode and predict), input, canonical, decoded, reconstructed."),
):
    """Reconstruction accuracy: exact canonical-SMILES match of greedy decoding of the posterior mean."""

    def _run():
        from molvae.data import check_output_path, read_molecules
        from molvae.metrics import reconstruction_accuracy

        if output is not None:
            check_output_path(output, allowed=(".csv",), flag="-o")
            refuse_output_over_inputs("-o", output, [(input, f"the input file {input}")])
        if limit is not None and limit < 1:
            fail(f"-n/--limit must be >= 1, got {limit}")
        import pandas as pd

        rows, errors = read_molecules(input, smiles_column=smiles_column, option="--smiles-column")
        vae = load_model(model)
        # -n N scores the first N molecules that can be encoded: rows are taken in order, in
        # pieces, until N are encoded; a row that fails is reported and does not count
        wanted = len(rows) if limit is None else limit
        tables, done, scored = [], 0, 0
        while done < len(rows) and scored < wanted:
            piece = rows[done : done + wanted - scored]
            _, table, enc_errors = reconstruction_accuracy(vae, [s for _, s in piece])
            failed = {e.row for e in enc_errors}  # the table holds the others, in order
            table.insert(0, "row", [r for i, (r, _) in enumerate(piece) if i not in failed])
            tables.append(table)
            scored += len(table)
            errors = errors + [type(e)(piece[e.row][0], e.input, e.reason) for e in enc_errors]
            done += len(piece)
        if done < len(rows):  # rows past the last one scored are not used, so neither are they reported
            errors = [e for e in errors if e.row <= rows[done - 1][0]]
        report_row_errors(sorted(errors, key=lambda e: e.row))
        table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
        if len(table) == 0:
            fail(f"no molecule of {input} could be encoded")
        if output is not None:
            from molvae.data import write_atomically  # all at once or not at all

            write_atomically(output, lambda tmp: table.to_csv(tmp, index=False))
        hits = int(table["reconstructed"].sum())
        console.print(f"reconstruction accuracy {hits / len(table):.4f} ({hits}/{len(table)} molecules)")

    run_guarded(_run)


@app.command("fit-density")
def fit_density(
    data: Path = typer.Argument(..., help="Training molecules: .csv (SMILES column), .smi, .txt or .sdf, or gzipped (.csv.gz, .smi.gz, .sdf.gz)."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write: a copy of --model with the density added (may be the same path)."),
    model: Optional[Path] = MODEL_OPTION,
    number: int = typer.Option(50_000, "-n", "--number", help="Molecules to encode (a random sample of DATA)."),
    components: int = typer.Option(32, help="Gaussian mixture components."),
    seed: int = typer.Option(0, help="Random seed."),
    smiles_column: Optional[str] = typer.Option(None, "--smiles-column", help="CSV column holding SMILES."),
):
    """Fit a Gaussian mixture to training-set latent means and store it in a model file (used by generate --latent fitted)."""

    def _run():
        import random

        import torch

        from molvae.checkpoint import load_checkpoint, save_checkpoint
        from molvae.data import check_output_path, read_molecules
        from molvae.density import MAX_SEED, density_provenance, fit_latent_density
        from molvae.vae import default_model_path

        check_output_path(output, allowed=(".pt",), flag="-o")
        if not 0 <= seed <= MAX_SEED:  # scikit-learn's Gaussian mixture takes 32-bit seeds
            fail(f"--seed must be between 0 and {MAX_SEED}, got {seed}")
        if components < 1:
            fail(f"--components must be >= 1, got {components}")
        if number < components:
            fail(f"-n must be at least --components ({components})")
        vae = load_model(model)
        rows, read_errors = read_molecules(data, smiles_column=smiles_column, option="--smiles-column")
        rng = random.Random(seed)
        picked = rng.sample(rows, min(number, len(rows)))
        mu, errors = vae.try_encode([s for _, s in picked])
        mu = mu[~torch.isnan(torch.from_numpy(mu)).any(1).numpy()]
        # report by input row number (try_encode numbers the rows of the random sample)
        errors = read_errors + [type(e)(picked[e.row][0], e.input, e.reason) for e in errors]
        report_row_errors(sorted(errors, key=lambda e: e.row), what="rows")
        if len(mu) < components:
            if len(mu) == 0:  # "0 molecules ... could be encoded; 1 components need at least 1"
                fail(f"no molecule of {data} could be encoded")
            fail(f"only {len(mu)} {plural(len(mu), 'molecule')} of {data} could be encoded; {components} components need at least {components}")
        density = fit_latent_density(mu, components=components, seed=seed, source=f"{len(mu)} molecules of {data.name}")
        ckpt = load_checkpoint(model or default_model_path())
        # the copy keeps the predictors of the model it was made from: record that model
        # file (the first one, for a density fitted again) and the weights the density is for
        ckpt["latent_density"] = {
            **density,
            "means": torch.from_numpy(density["means"]),
            "cholesky": torch.from_numpy(density["cholesky"]),
            **density_provenance(vae),
        }
        save_checkpoint(ckpt, output)
        console.print(f"fitted {components} components to {len(mu)} latent means (mean log-likelihood {density['avg_log_likelihood']:.1f}); wrote {output}")

    run_guarded(_run)
