"""``molvae predictors train|show`` and ``molvae predict``: end to end, and each bad input as one error line.

Every case runs the typer app in this process (``cli`` and ``invoke``, conftest's
``invoke_cli``), which checks the same ``error: ...`` contract as the console script without
paying a Python start-up per case; ``tests/cli/test_console_script.py`` runs the real one.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

DATA = Path(__file__).resolve().parents[1] / "data"
MEASURED = DATA / "measured_labels.csv"
TARGETS = ("-t", "logp_meas", "-t", "qed_meas", "-t", "toxic")


@pytest.fixture(scope="module")
def invoke():
    """``invoke(*args, cwd=None)``: run the CLI app in this process (conftest's ``invoke_cli``)."""
    from tests.conftest import invoke_cli

    def run(*args, cwd=None):
        return invoke_cli(*args, cwd=cwd, env={"COLUMNS": "1000"})

    return run


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("predictors")
    (d / "in.csv").write_text("name,smiles\nethanol,CCO\nbenzene,c1ccccc1\nbroken,C1CC\nnothing,\nacid,CC(=O)O\n")
    (d / "text.csv").write_text("smiles,y\nCCO,1.0\nCCN,high\nCCC,2.0\n")
    (d / "small.smi").write_text("\n".join(pd.read_csv(DATA / "moses_train_3k.csv")["smiles"].head(40)) + "\n")
    return d


@pytest.fixture(scope="module")
def ridge_run(cli, work, model_path):
    """The real console script: a ridge predictor on the measured-label CSV (three targets, labels missing here and there)."""
    r = cli("predictors", "train", MEASURED, "-o", "p.skops", *TARGETS, "--model", "ridge", "--folds", "3", "--vae", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    return r


def test_train_prints_cv_and_writes_files(ridge_run, work):
    out = ridge_run.stdout
    assert "3-fold cross-validation (ridge)" in out
    for fragment in ("R²", "MAE", "RMSE", "Spearman", "logp_meas", "qed_meas", "toxic", "wrote p.skops and p.cv.png"):
        assert fragment in out, fragment
    assert "rows without a label skipped for this target" in ridge_run.stderr  # NaN labels counted per target
    assert (work / "p.cv.png").read_bytes()[:4] == b"\x89PNG"
    assert zipfile.is_zipfile(work / "p.skops")


def test_predict_adds_columns_and_keeps_rows(invoke, ridge_run, work, model_path):
    r = invoke("predict", "in.csv", "--predictor", "p.skops", "-o", "out.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(work / "out.csv")
    # the input row number first, as for .smi input (a CSV had none)
    assert list(out.columns) == ["row", "name", "smiles", "pred_logp_meas", "pred_qed_meas", "pred_toxic"]  # ridge: no std
    assert out["row"].tolist() == [1, 2, 3, 4, 5]
    assert out["name"].tolist() == ["ethanol", "benzene", "broken", "nothing", "acid"]
    assert out["pred_logp_meas"].isna().tolist() == [False, False, True, True, False]
    assert "skipped 2 rows that could not be encoded" in r.stderr and "row 3" in r.stderr
    assert "for 3 of 5 molecules" in r.stdout


def test_predict_finds_the_named_column_in_another_case(invoke, ridge_run, work, model_path):
    """--smiles-column SMILES for a column 'smiles' passed the checks (a named column is
    found in another case when it has one such match, as everywhere else), and then failed
    with 'the table has no column 'SMILES''."""
    r = invoke("predict", "in.csv", "--predictor", "p.skops", "-o", "out_case.csv", "--model", model_path, "--smiles-column", "SMILES", cwd=work)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(work / "out_case.csv")
    assert list(out.columns[:3]) == ["row", "name", "smiles"] and out["pred_logp_meas"].notna().sum() == 3


def test_train_finds_the_named_column_in_another_case(invoke, work, model_path):
    """predictors train --target y --smiles-column SMILES refused a column 'smiles' that
    --rdkit, encode and predict all accept."""
    (work / "case.csv").write_text("smiles,y\n" + "".join(f"{'C' * (i + 1)}O,{i}\n" for i in range(6)))
    r = invoke("predictors", "train", "case.csv", "-o", "case.skops", "-t", "y", "--smiles-column", "SMILES", "--model", "ridge", "--folds", "2", "--vae", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert "6 of 6 rows used" in r.stdout


def test_show_prints_metadata(invoke, ridge_run, work, model_path):
    r = invoke("predictors", "show", "p.skops", "--vae", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert "targets    logp_meas, qed_meas, toxic" in r.stdout and "sha256" in r.stdout and "matches the predictor's VAE" in r.stdout


def test_gp_from_rdkit_properties_gives_std(invoke, work, model_path, tmp_path):
    r = invoke("predictors", "train", work / "small.smi", "-o", tmp_path / "gp.skops", "--rdkit", "logp,qed", "--folds", "2", "--max-train", "15", "--vae", model_path, "--plot", tmp_path / "cv.png")
    assert r.returncode == 0, r.stderr
    assert "gp fitted on a random 15 rows per target" in r.stdout and (tmp_path / "cv.png").is_file()
    r = invoke("predict", work / "in.csv", "-p", tmp_path / "gp.skops", "-o", tmp_path / "out.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    assert {"pred_logp", "pred_logp_std", "pred_qed", "pred_qed_std"} <= set(pd.read_csv(tmp_path / "out.csv").columns)


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("-t", "solubility"), ("no target column 'solubility'", "columns: smiles, logp_meas, qed_meas, toxic")),
        (("-t", "logp_meas", "--model", "svm"), ("unknown --model 'svm'",)),
        ((), ("--target",)),
        (("-t", "logp_meas", "--rdkit", "qed"), ("not both",)),
        (("-t", "logp_meas", "--folds", "1"), ("--folds",)),
        (("-t", "logp_meas", "--seed", "-1"), ("--seed must be between 0 and 2**32 - 1, got -1",)),
        (("-t", "logp_meas", "--max-train", "1"), ("--max-train must be >= 2",)),
        (("-t", "logp_meas", "--model", "ridge", "--max-train", "5"), ("--max-train limits the rows of --model gp only",)),
        (("--rdkit", "qed,bogus"), ("unknown RDKit property bogus",)),
        # comma-separated, as --rdkit takes them: the error did not say how to give several targets
        (("-t", "logp_meas,qed_meas"), ("no target column 'logp_meas,qed_meas'", "for several targets, repeat --target: --target logp_meas --target qed_meas")),
        # no cross-validation, no plot: --plot was ignored without a word
        (("-t", "logp_meas", "--folds", "0", "--plot", "cv.png"), ("--plot draws the cross-validation's predictions, and --folds 0 skips it",)),
    ],
)
def test_train_errors(invoke, expect_error, work, model_path, args, fragments):
    r = invoke("predictors", "train", MEASURED, "-o", "bad.skops", *args, "--vae", model_path, cwd=work)
    expect_error(r, *fragments)
    assert not (work / "bad.skops").exists()


def test_non_numeric_labels_are_reported_and_skipped(invoke, expect_error, work, model_path):
    """A text label ('>10', 'high') refused the whole file ('column 'y' has non-numeric
    labels'). Such rows are now reported (row number, reason) and skipped, and the
    others are used; the file is refused only when too few usable rows remain."""
    table = pd.read_csv(MEASURED, dtype=str, keep_default_na=False)
    table.loc[[1, 4], "logp_meas"] = [">10", "high"]
    table.to_csv(work / "some_text.csv", index=False)
    r = invoke("predictors", "train", "some_text.csv", "-o", "text.skops", "-t", "logp_meas", "--model", "ridge", "--folds", "2", "--vae", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert "row 2: label logp_meas is not a number: '>10'" in r.stderr and "row 5: label logp_meas is not a number: 'high'" in r.stderr
    usable = int(pd.to_numeric(table["logp_meas"], errors="coerce").notna().sum())  # the file also has empty labels
    assert f"{usable} of {len(table)} rows used" in r.stdout and (work / "text.skops").is_file()
    # two usable rows of three are too few for 5-fold cross-validation: refused, rows listed first
    r = invoke("predictors", "train", "text.csv", "-o", "bad.skops", "-t", "y", "--vae", model_path, cwd=work)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "row 2: label y is not a number: 'high' ('CCN')" in r.stderr
    assert r.stderr_lines[-1].startswith("error: ") and "too few" in r.stderr_lines[-1], r.stderr
    assert not (work / "bad.skops").exists()


def test_predictor_from_another_vae(invoke, expect_error, ridge_run, work, model_path, tmp_path):
    from molvae.checkpoint import save_checkpoint

    ckpt = torch.load(model_path, map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
    save_checkpoint(ckpt, tmp_path / "other.pt")
    r = invoke("predict", "in.csv", "-p", "p.skops", "-o", "out2.csv", "-m", tmp_path / "other.pt", cwd=work)
    expect_error(r, "trained against VAE sha256", "use that VAE or retrain")
    assert not (work / "out2.csv").exists()


def test_tampered_and_foreign_predictor_files(invoke, expect_error, ridge_run, work, model_path, tmp_path):
    data = (work / "p.skops").read_bytes()
    (tmp_path / "cut.skops").write_bytes(data[: len(data) // 2])
    expect_error(invoke("predict", work / "in.csv", "-p", tmp_path / "cut.skops", "-o", tmp_path / "o.csv", "-m", model_path), "corrupt or truncated")
    src = zipfile.ZipFile(work / "p.skops")
    arrays = [n for n in src.namelist() if n.endswith(".npy")]
    with zipfile.ZipFile(tmp_path / "edited.skops", "w") as dst:
        for info in src.infolist():
            b = src.read(info.filename)
            dst.writestr(info, b[:-1] + bytes([b[-1] ^ 1]) if info.filename == arrays[-1] else b)
    expect_error(invoke("predict", work / "in.csv", "-p", tmp_path / "edited.skops", "-o", tmp_path / "o.csv", "-m", model_path), "modified after it was written")
    expect_error(invoke("predictors", "show", model_path), "not a molvae predictor file")
    assert not (tmp_path / "o.csv").exists()


def test_a_model_and_a_predictor_given_for_each_other_are_named(invoke, expect_error, ridge_run, work, model_path, tmp_path):
    """A predictor given as --model said 'p.skops is truncated or not a model file
    (RuntimeError)', a VAE given as -p 'not a molvae predictor file (no skops schema)', and
    a folder given as -p 'predictor file not found'. Each is now named for what it is."""
    skops = work / "p.skops"
    for args in (("predict", work / "in.csv", "-p", skops, "-o", tmp_path / "o.csv", "-m", skops), ("encode", work / "in.csv", "-o", tmp_path / "z.npy", "-m", skops)):
        expect_error(invoke(*args), f"{skops} is a property predictor file (from 'molvae predictors train'), not a model file")
    expect_error(invoke("predict", work / "in.csv", "-p", model_path, "-o", tmp_path / "o.csv", "-m", model_path), "not a molvae predictor file: it is a VAE model file")
    expect_error(invoke("predictors", "show", model_path), "it is a VAE model file")
    expect_error(invoke("predictors", "show", tmp_path), f"{tmp_path} is a folder, not a predictor file")
    assert sorted(tmp_path.iterdir()) == []


def test_row_numbers_count_blank_lines_as_encode_does(invoke, ridge_run, work, model_path, tmp_path):
    """``molvae encode`` (read_molecules) numbers CSV data rows from 1 and counts blank
    lines; ``predict`` and ``predictors train`` used to skip blank lines and so reported
    other row numbers for the same file."""
    from molvae.data import read_molecules

    (tmp_path / "blank.csv").write_text("name,smiles\nethanol,CCO\n\nbroken,C1CC\n\nacid,CC(=O)O\n")
    rows, _ = read_molecules(tmp_path / "blank.csv")
    broken_row = next(r for r, s in rows if s == "C1CC")
    assert broken_row == 3
    r = invoke("predict", tmp_path / "blank.csv", "-p", work / "p.skops", "-o", tmp_path / "out.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    assert "row 3: " in r.stderr and "'C1CC'" in r.stderr.split("row 3: ")[1].splitlines()[0]
    assert "row 2: empty SMILES" in r.stderr and "row 4: empty SMILES" in r.stderr
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert len(out) == 5 and out["smiles"].tolist()[4] == "CC(=O)O"  # one output row per input row
    assert out["row"].tolist() == [1, 2, 3, 4, 5]  # the numbers of the error report

    (tmp_path / "blank.smi").write_text("CCO\n\nC1CC\nCC(=O)O\n")  # .smi: line numbers, as read_molecules gives them
    r = invoke("predict", tmp_path / "blank.smi", "-p", work / "p.skops", "-o", tmp_path / "out_smi.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    assert "row 2: empty line" in r.stderr and "'C1CC'" in r.stderr.split("row 3: ")[1].splitlines()[0]
    assert pd.read_csv(tmp_path / "out_smi.csv")["row"].tolist() == [1, 3, 4]

    lines = MEASURED.read_text().splitlines()
    text = "\n".join(lines[:3] + [""] + lines[3:6] + ["", "C1CC,1.0,0.5,0"] + lines[6:30]) + "\n"
    (tmp_path / "labels.csv").write_text(text)
    rows, _ = read_molecules(tmp_path / "labels.csv")
    broken_row = next(r for r, s in rows if s == "C1CC")
    assert broken_row == 8
    r = invoke("predictors", "train", tmp_path / "labels.csv", "-o", tmp_path / "b.skops", "-t", "logp_meas", "--model", "ridge", "--folds", "0", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    assert f"row {broken_row}: " in r.stderr and "'C1CC'" in r.stderr.split(f"row {broken_row}: ")[1].splitlines()[0]
    assert "row 3: empty SMILES" in r.stderr and "row 7: empty SMILES" in r.stderr


def test_constant_target_has_no_r2(invoke, work, model_path, tmp_path):
    """A constant label used to get R² 1.000 in the CV table, as if the model were perfect;
    the stored NaN metrics must not break 'predictors show' either."""
    df = pd.read_csv(MEASURED).head(30)
    df["flat"] = 2.5
    df.to_csv(tmp_path / "flat.csv", index=False)
    r = invoke("predictors", "train", tmp_path / "flat.csv", "-o", tmp_path / "flat.skops", "-t", "flat", "--model", "ridge", "--folds", "3", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    row = next(line for line in r.stdout.splitlines() if "flat" in line and "│" in line)
    assert "n/a" in row and "1.000" not in row
    assert "note: every label of flat is 2.5: R² is undefined for a constant target" in r.stderr
    show = invoke("predictors", "show", tmp_path / "flat.skops")
    assert show.returncode == 0, show.stderr
    assert "n/a" in next(line for line in show.stdout.splitlines() if "flat" in line and "│" in line)


def test_repeated_molecules_are_noted(invoke, model_path, tmp_path):
    """A molecule listed twice with two measurements: the note names the rows, and the
    file records how many rows repeat one (cross-validation keeps them in one fold)."""
    df = pd.read_csv(MEASURED).dropna(subset=["logp_meas"]).head(20)[["smiles", "logp_meas"]]
    again = df.head(3).assign(logp_meas=lambda d: d["logp_meas"] + 1.0)
    pd.concat([df, again]).to_csv(tmp_path / "twice.csv", index=False)
    r = invoke("predictors", "train", tmp_path / "twice.csv", "-o", tmp_path / "t.skops", "-t", "logp_meas", "--model", "ridge", "--folds", "3", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    assert "note: 3 rows repeat the molecule of an earlier row (row 21 that of row 1); cross-validation keeps a molecule's rows in one fold" in r.stderr
    from molvae.predictors import LatentPredictor

    assert LatentPredictor.load(tmp_path / "t.skops").training_data["repeated_rows"] == 3
    # without cross-validation (--folds 0) the note said what cross-validation does with them
    r = invoke("predictors", "train", tmp_path / "twice.csv", "-o", tmp_path / "t0.skops", "-t", "logp_meas", "--model", "ridge", "--folds", "0", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    assert "note: 3 rows repeat the molecule of an earlier row (row 21 that of row 1)" in r.stderr
    assert "cross-validation" not in r.stderr


def test_unusable_output_paths_are_refused_before_the_work(invoke, expect_error, model_path, tmp_path):
    """-o naming a folder failed only when the file was written, after cross-validation
    (and left a .tmp file behind); predict the same after encoding."""
    (tmp_path / "p.skops").mkdir()
    r = invoke("predictors", "train", MEASURED, "-o", tmp_path / "p.skops", "-t", "logp_meas", "--model", "ridge", "--vae", model_path)
    expect_error(r, "output path is a folder")
    assert "rows used" not in r.stdout and not list(tmp_path.glob("*.tmp"))
    (tmp_path / "cv.png").mkdir()
    r = invoke("predictors", "train", MEASURED, "-o", tmp_path / "q.skops", "-t", "logp_meas", "--model", "ridge", "--plot", tmp_path / "cv.png", "--vae", model_path)
    expect_error(r, "output path is a folder")
    assert not (tmp_path / "q.skops").exists()
    (tmp_path / "out.csv").mkdir()
    expect_error(invoke("predict", MEASURED, "-p", tmp_path / "q.skops", "-o", tmp_path / "out.csv", "--vae", model_path), "output path is a folder")
    # each output is checked once, with its own message for another extension
    r = invoke("predictors", "train", MEASURED, "-o", tmp_path / "p.pkl", "-t", "logp_meas", "--vae", model_path)
    expect_error(r, "output must end in .skops, got p.pkl")
    r = invoke("predictors", "train", MEASURED, "-o", tmp_path / "q.skops", "-t", "logp_meas", "--plot", tmp_path / "cv.jpg", "--vae", model_path)
    expect_error(r, "--plot must be a .png file, got cv.jpg")


def test_too_few_usable_rows_lists_the_skipped_ones(invoke, model_path, tmp_path):
    """When the rows left were too few, the error line came alone: the rows skipped on
    the way (empty, unparseable, unlabelled) were not reported."""
    (tmp_path / "few.csv").write_text("smiles,y\nCCO,1\n,2\nC1CC,3\n")
    r = invoke("predictors", "train", tmp_path / "few.csv", "-o", tmp_path / "few.skops", "-t", "y", "--model", "ridge", "--folds", "0", "--vae", model_path)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines[-1] == "error: target 'y' has 1 labelled row; at least 2 are needed"
    assert "  row 2: empty SMILES" in lines and any(line.startswith("  row 3: ") and "C1CC" in line for line in lines)
    (tmp_path / "none.csv").write_text("smiles,y\n,1\nCCO,\n")
    r = invoke("predictors", "train", tmp_path / "none.csv", "-o", tmp_path / "few.skops", "-t", "y", "--vae", model_path)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 1 and lines[-1].startswith("error: ") and "no row with a SMILES and a label" in lines[-1]
    assert "  row 1: empty SMILES" in lines and "  row 2: no label (y all missing) ('CCO')" in lines


def test_predict_keeps_an_input_column_named_row(invoke, ridge_run, work, model_path, tmp_path):
    """A CSV that has a column 'row' of its own (say the output of 'molvae encode') keeps it
    unchanged; the input row number is then written as 'input_row'."""
    (tmp_path / "encoded.csv").write_text("row,smiles\n7,CCO\n9,c1ccccc1\n")
    r = invoke("predict", tmp_path / "encoded.csv", "-p", work / "p.skops", "-o", tmp_path / "out.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns[:3]) == ["input_row", "row", "smiles"]
    assert out["input_row"].tolist() == [1, 2] and out["row"].tolist() == [7, 9]


def test_a_fitted_density_keeps_the_vae_s_predictors(invoke, expect_error, work, model_path, tmp_path):
    """fit-density writes a copy of the VAE with a Gaussian mixture added; its weights are
    those of the VAE, but predictors trained on the VAE were refused on the copy ('trained
    against VAE sha256 ...'), so 'generate --latent fitted --predictor P' never worked
    without retraining P, and fitting the density in place broke every predictor."""
    import shutil

    from tests.conftest import TRAIN_CSV

    base = tmp_path / "base.pt"
    shutil.copy(model_path, base)
    r = invoke("predictors", "train", work / "small.smi", "-o", tmp_path / "p.skops", "--rdkit", "qed", "--model", "ridge", "--folds", "0", "--vae", base)
    assert r.returncode == 0, r.stderr
    fitted, refitted = tmp_path / "fitted.pt", tmp_path / "refitted.pt"
    for src, dst in ((base, fitted), (fitted, refitted)):
        r = invoke("fit-density", TRAIN_CSV, "-o", dst, "--model", src, "-n", "100", "--components", "2")
        assert r.returncode == 0, r.stderr
    for vae in (fitted, refitted):
        r = invoke("generate", "-n", "3", "-o", tmp_path / "g.csv", "--latent", "fitted", "--temperature", "1", "--model", vae, "--predictor", tmp_path / "p.skops")
        assert r.returncode == 0, r.stderr
        assert "pred_qed" in pd.read_csv(tmp_path / "g.csv").columns
    # a predictor trained on a fitted copy serves the VAE itself and its other copies
    r = invoke("predictors", "train", work / "small.smi", "-o", tmp_path / "q.skops", "--rdkit", "qed", "--model", "ridge", "--folds", "0", "--vae", fitted)
    assert r.returncode == 0, r.stderr
    for vae in (base, refitted):
        r = invoke("predict", work / "small.smi", "--predictor", tmp_path / "q.skops", "-o", tmp_path / "o.csv", "--vae", vae)
        assert r.returncode == 0, r.stderr
    r = invoke("predictors", "show", tmp_path / "q.skops", "--vae", refitted)
    assert r.returncode == 0 and "matches the predictor's VAE" in r.stdout, r.stderr
    # other weights with a copied density are still another VAE
    ckpt = torch.load(refitted, weights_only=False)
    name = next(k for k, v in ckpt["state_dict"].items() if v.dtype.is_floating_point)
    ckpt["state_dict"][name] = ckpt["state_dict"][name] + 1.0
    torch.save(ckpt, tmp_path / "other.pt")
    r = invoke("predict", work / "small.smi", "--predictor", tmp_path / "p.skops", "-o", tmp_path / "o.csv", "--vae", tmp_path / "other.pt")
    expect_error(r, "trained against VAE sha256")


def test_show_does_not_claim_a_match_it_could_not_check(invoke, model_path, tmp_path):
    """A predictor saved through the Python API without its VAE records no VAE hash;
    'predictors show P --vae M' then said 'M matches the predictor's VAE' unchecked."""
    import numpy as np

    from molvae.predictors import LatentPredictor

    rng = np.random.default_rng(0)
    p = LatentPredictor("ridge", ["y"]).fit(rng.standard_normal((20, 8)), rng.standard_normal(20))
    p.save(tmp_path / "loose.skops")
    r = invoke("predictors", "show", tmp_path / "loose.skops", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    assert "matches" not in r.stdout
    assert "records no VAE" in r.stdout + r.stderr


def test_predict_refuses_an_output_over_its_input(invoke, expect_error, ridge_run, work, model_path, tmp_path):
    """'predict in.csv -o in.csv' overwrote the input with the predictions (exit 0), where
    every other command refuses an output over an input; now refused before any work."""
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    r = invoke("predict", "in.csv", "-p", work / "p.skops", "-o", "./in.csv", "-m", model_path, cwd=tmp_path)
    expect_error(r, "-o in.csv is the input file in.csv", "give another -o")
    assert (tmp_path / "in.csv").read_text() == "smiles\nCCO\n"


@pytest.mark.parametrize("vae, message", [("absent.pt", "model file not found: absent.pt (--vae)"), ("folder", "folder is a folder, not a model file (--vae)")])
def test_show_refuses_a_missing_or_folder_vae_before_printing(invoke, expect_error, ridge_run, work, tmp_path, vae, message):
    """'predictors show P --vae absent.pt' printed the whole table, then
    'error: cannot use /abs/path/absent.pt: No such file or directory' (a folder: 'Is a
    directory'); now one error line naming the path as given, and nothing on stdout."""
    (tmp_path / "folder").mkdir()
    r = invoke("predictors", "show", work / "p.skops", "--vae", vae, cwd=tmp_path)
    expect_error(r, message)
    assert r.stdout == ""


def test_show_refuses_another_vae_before_printing(invoke, expect_error, ridge_run, work, model_path, tmp_path):
    """'predictors show P --vae OTHER.pt' (a VAE that is not the one P was trained with)
    printed the whole metadata and cross-validation table, then the error line; the VAE
    is now checked first: one error line, exit 1, nothing on stdout."""
    ckpt = torch.load(model_path, weights_only=False)
    name = next(k for k, v in ckpt["state_dict"].items() if v.dtype.is_floating_point)
    ckpt["state_dict"][name] = ckpt["state_dict"][name] + 1.0
    torch.save(ckpt, tmp_path / "other.pt")
    r = invoke("predictors", "show", work / "p.skops", "--vae", tmp_path / "other.pt")
    expect_error(r, "trained against VAE sha256", "other.pt")
    assert r.stdout == "", r.stdout
    r = invoke("predictors", "show", work / "p.skops", "--vae", model_path)  # the VAE it was trained with
    assert r.returncode == 0, r.stderr
    assert "targets" in r.stdout and r.stdout.rstrip().endswith("matches the predictor's VAE"), r.stdout


def test_a_failed_predict_write_leaves_the_old_file(invoke, expect_error, ridge_run, work, model_path, monkeypatch, tmp_path):
    """predict -o wrote straight to the file: a write failing midway left a partial file
    over an earlier one. Now one error line naming the file and the old file as it was."""

    def to_csv(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("partial\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    out = tmp_path / "old.csv"
    out.write_text("old\n")
    (work / "clean.csv").write_text("smiles\nCCO\nc1ccccc1\n")  # no row to report: the error is the only line
    r = invoke("predict", work / "clean.csv", "-p", work / "p.skops", "-o", out, "--model", model_path)
    expect_error(r, f"cannot use {out}: No space left on device")
    assert out.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["old.csv"]


def test_predict_reads_a_chembl_csv_separated_by_semicolons(invoke, ridge_run, work, model_path, tmp_path):
    """ChEMBL's downloads are ';'-separated, every field quoted, the SMILES in a column
    'Smiles'. predict refused such a file ('has its column names separated by ';', not
    commas'); it now predicts each row, keeping every input column as it was (a name
    holding ';' and ',' included) and numbering rows as encode does (a blank line is a row)."""
    (tmp_path / "chembl.csv").write_bytes(
        b'\xef\xbb\xbf"ChEMBL ID";"Name";"Smiles";"Molecular Weight"\r\n'
        b'"CHEMBL25";"ASPIRIN; acetylsalicylic acid, 2";"CC(=O)Oc1ccccc1C(=O)O";"180.16"\r\n'
        b"\r\n"
        b'"CHEMBL545";"ETHANOL";"CCO";"46.07"\r\n'
        b'"CHEMBL1";"BROKEN";"C1CC";""\r\n'
    )
    r = invoke("predict", tmp_path / "chembl.csv", "-p", work / "p.skops", "-o", tmp_path / "out.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    assert "row 2: empty SMILES" in r.stderr and "'C1CC'" in r.stderr.split("row 4: ")[1].splitlines()[0]
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert list(out.columns) == ["row", "ChEMBL ID", "Name", "Smiles", "Molecular Weight", "pred_logp_meas", "pred_qed_meas", "pred_toxic"]
    assert out["row"].tolist() == ["1", "2", "3", "4"]
    assert out["Name"].tolist() == ["ASPIRIN; acetylsalicylic acid, 2", "", "ETHANOL", "BROKEN"]
    assert out["Molecular Weight"].tolist() == ["180.16", "", "46.07", ""]
    assert [v != "" for v in out["pred_logp_meas"]] == [True, False, True, False]

    (tmp_path / "tabs.csv").write_text("name\tsmiles\nethanol\tCCO\nacid\tCC(=O)O\n")
    r = invoke("predict", tmp_path / "tabs.csv", "-p", work / "p.skops", "-o", tmp_path / "out_tabs.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    out = pd.read_csv(tmp_path / "out_tabs.csv")
    assert out[["row", "name", "smiles"]].values.tolist() == [[1, "ethanol", "CCO"], [2, "acid", "CC(=O)O"]]
    assert out["pred_logp_meas"].notna().all()


def test_predict_leaves_a_record_the_reader_refuses_unpredicted(invoke, ridge_run, work, model_path, tmp_path):
    """A quote left open in another column takes the lines after it into one record.
    'molvae encode' skips that record and names the lines it took in; predict read it with
    pandas and predicted its SMILES field, so the molecules it swallowed were lost without
    a word. It is now reported with the reader's reason and left unpredicted, as is a row
    whose SMILES field is missing (it was called an empty SMILES)."""
    (tmp_path / "q.csv").write_text('name,smiles,note\nethanol,CCO,ok\namine,CCN,"5 tube\npropane,CCC,x\nbenzene,c1ccccc1,y\nacid,CC(=O)O,"z"\nethylamine_only\n')
    r = invoke("predict", tmp_path / "q.csv", "-p", work / "p.skops", "-o", tmp_path / "out.csv", "-m", model_path)
    assert r.returncode == 0, r.stderr
    assert "skipped 2 rows that could not be read (predictions left empty):" in r.stderr
    assert "row 2: a quoted field runs from line 3 to line 6 of the file (a quote left open?) ('5 tube')" in r.stderr
    assert "row 3: 1 field, the header has 3 (no 'smiles' field) ('ethylamine_only')" in r.stderr
    assert "for 1 of 3 molecules" in r.stdout
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["row"].tolist() == [1, 2, 3] and out["smiles"].tolist() == ["CCO", "CCN", ""]
    assert [v != "" for v in out["pred_logp_meas"]] == [True, False, False]


def test_a_plot_that_cannot_be_written_leaves_the_predictor_saved(invoke, work, model_path, tmp_path, monkeypatch):
    """The cross-validation plot was written before the predictor, so a plot that failed
    (a full disk) ended the run with the fitted predictor lost. The predictor is saved first."""
    import molvae.predictors

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "p.cv.png"))

    monkeypatch.setattr(molvae.predictors, "scatter_plot", no_space)
    r = invoke("predictors", "train", work / "small.smi", "-o", tmp_path / "p.skops", "--rdkit", "logp", "--folds", "2", "--model", "ridge", "--vae", model_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert [line for line in r.stderr.splitlines() if line.strip()][-1] == f"error: cannot use {tmp_path / 'p.cv.png'}: No space left on device"
    assert (tmp_path / "p.skops").is_file()
    show = invoke("predictors", "show", tmp_path / "p.skops")
    assert show.returncode == 0 and "logp" in show.stdout
