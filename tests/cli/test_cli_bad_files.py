"""Unreadable inputs, unusable output paths and out-of-range values: one `error:` line, or a per-row report."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_files")
    (d / "latin.smi").write_bytes("CCO\nCC\xe9N\n".encode("latin-1"))
    (d / "binary.smi").write_bytes(bytes(range(128, 256)) * 4)
    (d / "plain.smi.gz").write_text("CCO\nCCN\n")  # not gzip at all
    whole = gzip.compress(("CCO\n" * 20 + "c1ccccc1\n" * 20).encode())
    (d / "cut.smi.gz").write_bytes(whole[: len(whole) // 2])
    (d / "empty.sdf").write_bytes(b"")
    (d / "utf16.smi").write_bytes("CCO\nCCN\n".encode("utf-16"))
    (d / "semicolon.csv").write_bytes(b"\xef\xbb\xbfName;SMILES\r\nethanol;CCO\r\n")
    (d / "tabs.csv").write_text("Name\tSMILES\nethanol\tCCO\n\nbenzene\tc1ccccc1\n")
    (d / "in.csv").write_text("smiles\nCCO\nc1ccccc1\n")
    (d / "in.smi").write_text("CCO\nc1ccccc1\n")
    # an extra field in the first data row: pandas would make the first column the index
    (d / "extra.csv").write_text("smiles,name\nCCO,ethanol,spare\nCCN,ethylamine\nc1ccccc1,benzene\n")
    np.save(d / "z.npy", np.zeros((2, 8), dtype=np.float32))
    np.save(d / "z_str.npy", np.array([["a"] * 8]))
    (d / "z_empty.csv").write_text("")
    cols = ",".join(f"z{i}" for i in range(8))
    (d / "z_cells.csv").write_text(f"{cols}\n{','.join(['0.1'] * 8)}\n{','.join(['abc'] + ['0'] * 7)}\n{','.join(['1e39'] + ['0'] * 7)}\n{','.join(['0'] * 8)}\n")
    # a blank line between points: rows keep the file's numbering
    (d / "z_blank.csv").write_text(f"{cols}\n{','.join(['0.1'] * 8)}\n\n{','.join(['abc'] + ['0'] * 7)}\n{','.join(['0'] * 8)}\n")
    # latents of a model with a larger d_z (16 columns for the tiny model's 8)
    (d / "z_wide.csv").write_text(",".join(f"z{i}" for i in range(16)) + "\n" + ",".join(["0"] * 16) + "\n")
    (d / "folder.csv").mkdir()
    return d


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("latin.smi", "not UTF-8"),
        ("binary.smi", "not UTF-8"),
        ("plain.smi.gz", "cannot be read"),
        ("cut.smi.gz", "cannot be read"),
        ("empty.sdf", "holds no molecules"),
        ("utf16.smi", "is UTF-16 text, not UTF-8: save it as UTF-8"),
    ],
)
def test_unreadable_input_file(cli, expect_error, files, model_path, name, fragment):
    expect_error(cli("encode", name, "-o", "out.npy", "--model", model_path, cwd=files), name, fragment)
    assert not (files / "out.npy").exists()


@pytest.mark.parametrize("name", ["semicolon.csv", "tabs.csv"])
def test_csv_separated_by_semicolons_or_tabs_is_read(cli, files, model_path, name, tmp_path):
    """A ';'-separated .csv (Excel in many locales, ChEMBL) or a tab-separated one was
    refused ('has its column names separated by ';', not commas'); encode and reconstruct
    read it as a comma CSV, with the same row numbers."""
    r = cli("encode", name, "-o", tmp_path / "z.csv", "--model", model_path, cwd=files)
    assert r.returncode == 0, r.stderr
    z = pd.read_csv(tmp_path / "z.csv")
    assert z[["row", "smiles"]].values.tolist() == ([[1, "CCO"]] if name == "semicolon.csv" else [[1, "CCO"], [3, "c1ccccc1"]])
    r = cli("reconstruct", name, "--model", model_path, "-o", tmp_path / "rec.csv", cwd=files)
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(tmp_path / "rec.csv")["row"].tolist() == z["row"].tolist()


@pytest.mark.parametrize("command", [["reconstruct"], ["evaluate"], ["train", "-o", "m.pt", "--run-dir", "run"]])
def test_unreadable_input_file_in_other_commands(cli, files, model_path, command):
    args = [command[0], "latin.smi", *command[1:]] + (["--model", model_path] if command[0] == "reconstruct" else [])
    r = cli(*args, cwd=files)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr_lines[-1].startswith("error: latin.smi is not UTF-8"), r.stderr



@pytest.mark.parametrize(
    "args",
    [
        ["train", "in.smi", "-o", "m.pt", "--run-dir", "run", "--max-steps", "1"],
        ["encode", "in.smi", "-o", "out.npy", "--model", "MODEL"],
        ["reconstruct", "in.smi", "--model", "MODEL"],
        ["fit-density", "in.smi", "-o", "m.pt", "--model", "MODEL"],
        ["evaluate", "in.smi"],
        ["predict", "in.smi", "-p", "absent.skops", "-o", "out.csv"],
        ["predictors", "train", "in.smi", "-o", "p.skops", "--rdkit", "qed", "--vae", "MODEL"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_smiles_column_of_input_that_is_not_csv(cli, expect_error, files, model_path, args):
    """--smiles-column was ignored without a word for .smi, .txt and .sdf input."""
    args = [model_path if a == "MODEL" else a for a in args]
    r = cli(*args, "--smiles-column", "smiles", cwd=files)
    expect_error(r, "--smiles-column applies only to CSV input (.csv, .csv.gz), not in.smi")
    assert not any((files / f).exists() for f in ("m.pt", "run", "out.npy", "out.csv", "p.skops"))


@pytest.mark.parametrize(
    "args",
    [
        ["train", "nosmiles.csv", "-o", "m.pt", "--run-dir", "run", "--max-steps", "1"],
        ["encode", "nosmiles.csv", "-o", "out.npy", "--model", "MODEL"],
        ["reconstruct", "nosmiles.csv", "--model", "MODEL"],
        ["fit-density", "nosmiles.csv", "-o", "m.pt", "--model", "MODEL"],
        ["evaluate", "nosmiles.csv"],
        ["predict", "nosmiles.csv", "-p", "absent.skops", "-o", "out.csv"],
        ["predictors", "train", "nosmiles.csv", "-o", "p.skops", "--rdkit", "qed", "--vae", "MODEL"],
        ["predictors", "train", "nosmiles.csv", "-o", "p.skops", "-t", "y", "--vae", "MODEL"],
    ],
    ids=lambda args: " ".join(args[:2]) + (" -t" if "-t" in args else ""),
)
def test_csv_without_a_smiles_column_names_the_flag(cli, expect_error, files, model_path, args):
    """The library's readers name their Python argument, smiles_column, by default; the
    commands pass their flag, so that the CLI's message still names --smiles-column."""
    (files / "nosmiles.csv").write_text("structure,y\nCCO,1\nCCN,2\n")
    args = [model_path if a == "MODEL" else a for a in args]
    r = cli(*args, cwd=files)
    expect_error(r, "nosmiles.csv has no 'smiles' column (columns: structure, y); name one with --smiles-column")
    assert "smiles_column" not in r.stderr, r.stderr


def test_reference_column_of_a_reference_that_is_not_csv(cli, expect_error, files):
    r = cli("evaluate", "in.csv", "--reference", "in.smi", "--reference-column", "smiles", cwd=files)
    expect_error(r, "--reference-column applies only to CSV input (.csv, .csv.gz), not in.smi")

def test_extra_field_is_a_reported_row_not_a_shifted_table(cli, files, model_path):
    r = cli("encode", "extra.csv", "-o", "out_extra.csv", "--model", model_path, cwd=files)
    assert r.returncode == 0, r.stderr
    assert "row 1: 3 fields, the header has 2" in r.stderr
    out = pd.read_csv(files / "out_extra.csv")
    assert out["row"].tolist() == [2, 3]
    assert out["smiles"].tolist() == ["CCN", "c1ccccc1"]


def test_npy_output_keeps_the_given_name(cli, files, model_path):
    r = cli("encode", "in.csv", "-o", "upper.NPY", "--model", model_path, cwd=files)
    assert r.returncode == 0, r.stderr
    assert np.load(files / "upper.NPY").shape == (2, 8)
    assert not (files / "upper.NPY.npy").exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["encode", "in.csv", "-o", "nowhere/out.npy"], "does not exist"),
        (["reconstruct", "in.csv", "-o", "nowhere/out.csv"], "does not exist"),
        (["decode", "z.npy", "-o", "folder.csv"], "is a folder"),
        (["interpolate", "aspirin", "ibuprofen", "-o", "nowhere/out.csv"], "does not exist"),
        (["analogs", "aspirin", "-o", "folder.csv"], "is a folder"),
        (["generate", "-n", 2, "-o", "out.csv", "--image", "nowhere/grid.png"], "does not exist"),
        (["fit-density", "in.csv", "-o", "nowhere/m.pt"], "does not exist"),
    ],
)
def test_unusable_output_path_fails_before_the_work(cli, expect_error, files, model_path, args, fragment):
    expect_error(cli(*args, "--model", model_path, cwd=files), fragment)
    assert not (files / "out.csv").exists()


def test_a_write_that_fails_after_the_work_is_one_line(cli, expect_error, tmp_path, model_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    (tmp_path / "full.csv").symlink_to("/dev/full")
    expect_error(cli("generate", "-n", 5, "-o", "full.csv", "--model", model_path, cwd=tmp_path), "No space left")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "-n", 2, "-o", "out.csv", "--temperature", "nan"], "--temperature"),
        (["generate", "-n", 2, "-o", "out.csv", "--seed", "99999999999999999999"], "--seed"),
        (["generate", "-n", 2, "-o", "out.csv", "--seed", "-1"], "--seed"),
        (["decode", "z.npy", "-o", "out.csv", "--temperature", "-1"], "--temperature"),
        (["decode", "z.npy", "-o", "out.csv", "--temperature", "1e-40"], "at least 1e-30"),
        (["generate", "-n", 2, "-o", "out.csv", "--temperature", "1e-300"], "at least 1e-30"),
        (["decode", "z_str.npy", "-o", "out.csv"], "real numbers"),
        (["decode", "z_empty.csv", "-o", "out.csv"], "is empty"),
        (["decode", "z_wide.csv", "-o", "out.csv"], "beyond z7"),
        (["reconstruct", "in.csv", "-n", "-2"], "-n/--limit must be >= 1, got -2"),  # the flag the user typed: it said "--limit" of -n
        (["generate", "-n", 2, "-o", "out.smi", "--predictor", "p.skops"], "--predictor needs a .csv or .sdf"),
        (["analogs", "aspirin", "-o", "out.csv", "--radius", "inf"], "--radius"),
        (["interpolate", "aspirin", "ibuprofen", "-o", "out.csv", "--guide", "2", "--guide-radius", "nan"], "--guide-radius"),
    ],
)
def test_out_of_range_values(cli, expect_error, files, model_path, args, fragment):
    expect_error(cli(*args, "--model", model_path, cwd=files), fragment)
    assert not (files / "out.csv").exists() and not (files / "out.smi").exists()


def test_decode_reports_unusable_rows_and_keeps_the_others_in_place(cli, files, model_path):
    r = cli("decode", "z_cells.csv", "-o", "cells.csv", "--model", model_path, cwd=files)
    assert r.returncode == 0, r.stderr
    assert "row 2: not a number" in r.stderr and "z0='abc'" in r.stderr
    assert "row 3: NaN or infinite" in r.stderr  # 1e39 overflows float32
    out = pd.read_csv(files / "cells.csv", keep_default_na=False)
    assert len(out) == 4
    assert out["valid"].tolist()[1:3] == [False, False] and out["smiles"].tolist()[1:3] == ["", ""]


def test_decode_counts_a_blank_line_as_a_row(cli, files, model_path):
    r = cli("decode", "z_blank.csv", "-o", "blank.csv", "--model", model_path, cwd=files)
    assert r.returncode == 0, r.stderr
    assert "row 2: not a number" in r.stderr and "row 3: not a number" in r.stderr and "z0='abc'" in r.stderr
    out = pd.read_csv(files / "blank.csv", keep_default_na=False)
    assert out["valid"].tolist() == [True, False, False, True]


def test_salts_are_stripped_for_interpolation_and_analogues(cli, files, model_path):
    # sodium acetate: the model has no [Na+1] token, but encoding keeps the largest fragment
    r = cli("analogs", "CC(=O)[O-].[Na+]", "-n", 2, "-o", "salt.csv", "--model", model_path, "--anchor-samples", 0, cwd=files)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(files / "salt.csv")) >= 1


def test_decode_reads_latent_columns_named_with_spaces_after_the_commas(cli, expect_error, tmp_path, model_path):
    """'z0, z1, ..., z7' (as spreadsheets and hand-written files have it) was refused with
    'lacks latent columns z1..': the names kept their leading spaces. Spaces around the
    names are now ignored, so the file decodes as its plain 'z0,z1,...' twin."""
    z = np.random.default_rng(0).standard_normal((3, 8)).round(4)
    names = [f"z{i}" for i in range(8)]
    (tmp_path / "plain.csv").write_text(",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in z) + "\n")
    (tmp_path / "spaced.csv").write_text(", ".join(names) + " \n" + "\n".join(", ".join(map(str, r)) for r in z) + "\n")
    (tmp_path / "twice.csv").write_text("z0, " + ", ".join(names) + "\n" + ",".join(["0"] * 9) + "\n")
    (tmp_path / "twice_exact.csv").write_text("z0," + ",".join(names) + "\n" + ",".join(["0"] * 9) + "\n")
    for name in ("plain", "spaced"):
        r = cli("decode", f"{name}.csv", "-o", f"{name}_out.csv", "--model", model_path, cwd=tmp_path)
        assert r.returncode == 0 and "row" not in r.stderr, r.stderr
    assert (tmp_path / "spaced_out.csv").read_text() == (tmp_path / "plain_out.csv").read_text()
    assert len(pd.read_csv(tmp_path / "spaced_out.csv")) == 3
    expect_error(cli("decode", "twice.csv", "-o", "twice_out.csv", "--model", model_path, cwd=tmp_path), "twice.csv has latent column z0 more than once")
    expect_error(cli("decode", "twice_exact.csv", "-o", "twice_out.csv", "--model", model_path, cwd=tmp_path), "has latent column z0 more than once")


def test_decode_reports_a_latent_row_with_more_fields_than_the_header(cli, tmp_path, model_path):
    """A row with an extra field was decoded from its first d_z fields, with a bare pandas
    ParserWarning, when it was the first data row, and refused the whole file ('Error
    tokenizing data. C error: Expected 8 fields in line 4, saw 9') when it was a later one.
    Now each such row is reported by number, as encode reports molecules, and written empty
    in its place; a comma at the end of every line (empty fields) still reads."""
    cols = ",".join(f"z{i}" for i in range(8))
    row = ",".join(["0.1"] * 8)
    (tmp_path / "long.csv").write_text(f"{cols}\n{row},5\n{row}\n{row},7\n{row},,\n")
    (tmp_path / "trailing.csv").write_text(f"{cols}\n{row},\n{row},\n")
    r = cli("decode", "long.csv", "-o", "long_out.csv", "--model", model_path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "skipped 2 latent points:" in r.stderr
    assert "row 1: 9 fields, the header has 8" in r.stderr and "row 3: 9 fields, the header has 8" in r.stderr
    assert "ParserWarning" not in r.stderr and "row 2" not in r.stderr and "row 4" not in r.stderr
    out = pd.read_csv(tmp_path / "long_out.csv", keep_default_na=False)
    assert out["valid"].tolist() == [False, True, False, True]
    r = cli("decode", "trailing.csv", "-o", "trailing_out.csv", "--model", model_path, cwd=tmp_path)
    assert r.returncode == 0 and "row" not in r.stderr, r.stderr
    assert pd.read_csv(tmp_path / "trailing_out.csv")["valid"].tolist() == [True, True]


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("zipped.npy", "npz", "is not a .npy array file (a .npz archive)"),  # was a traceback: 'NpzFile' object has no attribute 'dtype'
        ("text.npy", b"z0,z1\n0,1\n", "is not a .npy array file (no NumPy header)"),  # was: 'This file contains pickled (object) data'
        ("nothing.npy", b"", "nothing.npy is empty"),
    ],
)
def test_decode_of_a_file_that_is_not_a_npy_array(cli, expect_error, tmp_path, model_path, name, content, fragment):
    if content == "npz":
        with open(tmp_path / name, "wb") as fh:
            np.savez(fh, np.zeros((2, 8), dtype=np.float32))
    else:
        (tmp_path / name).write_bytes(content)
    line = expect_error(cli("decode", name, "-o", "out.csv", "--model", model_path, cwd=tmp_path), fragment)
    assert "pickled" not in line
    assert not (tmp_path / "out.csv").exists()


def test_decode_reads_gzipped_csv_latents(cli, expect_error, tmp_path, model_path):
    """Molecule files may be .csv.gz but latent files were refused: 'unsupported latent
    file '.gz': use .npy or .csv'. A .csv.gz now decodes as its plain twin (rows with more
    fields than the header reported the same way); data that is not gzip is one line."""
    cols = ",".join(f"z{i}" for i in range(8))
    rows = [",".join(f"{v:.4f}" for v in r) for r in np.random.default_rng(1).standard_normal((4, 8))]
    rows[2] += ",5"
    text = f"{cols}\n" + "\n".join(rows) + "\n"
    (tmp_path / "z.csv").write_text(text)
    (tmp_path / "z.csv.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "fake.csv.gz").write_text(text)
    plain = cli("decode", "z.csv", "-o", "plain.csv", "--model", model_path, cwd=tmp_path)
    zipped = cli("decode", "z.csv.gz", "-o", "zipped.csv", "--model", model_path, cwd=tmp_path)
    assert plain.returncode == 0 and zipped.returncode == 0, zipped.stderr
    assert "row 3: 9 fields, the header has 8" in zipped.stderr
    assert (tmp_path / "zipped.csv").read_text() == (tmp_path / "plain.csv").read_text()
    expect_error(cli("decode", "fake.csv.gz", "-o", "fake.csv", "--model", model_path, cwd=tmp_path), "fake.csv.gz cannot be read as gzip-compressed text")


def test_decode_of_a_folder_says_it_is_a_folder(cli, expect_error, tmp_path, model_path):
    """decode of a folder said 'input file not found: zs.npy', as if nothing were there;
    the other commands say the path is a folder."""
    (tmp_path / "zs.npy").mkdir()
    expect_error(cli("decode", "zs.npy", "-o", "out.csv", "--model", model_path, cwd=tmp_path), "zs.npy is a folder, not a file of latent points")
    expect_error(cli("decode", "absent.npy", "-o", "out.csv", "--model", model_path, cwd=tmp_path), "input file not found: absent.npy")
