"""`molvae encode`, `decode`, `reconstruct`: outputs, and per-row reports for bad rows."""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

LONG = "C" * 200
#: data rows 1..7: good, empty, unparsable, unparsable, out-of-alphabet, too long, good
BAD_ROWS = ["CCO", "", "C1CC", "xx", "C[Se]C", LONG, "c1ccccc1O"]


@pytest.fixture(scope="module")
def work(tmp_path_factory, test_smiles):
    d = tmp_path_factory.mktemp("encode")
    pd.DataFrame({"name": [f"m{i}" for i in range(10)], "smiles": test_smiles[:10]}).to_csv(d / "good.csv", index=False)
    (d / "bad.csv").write_text("smiles\n" + "\n".join(BAD_ROWS) + "\n")
    (d / "good.smi").write_text("\n".join(test_smiles[:4]) + "\n")
    with Chem.SDWriter(str(d / "good.sdf")) as w:
        for s in test_smiles[:3]:
            w.write(Chem.MolFromSmiles(s))
    return d


@pytest.fixture(scope="module")
def encoded(work, cli, model_path):
    npy = cli("encode", "good.csv", "-o", "z.npy", "--model", model_path, cwd=work)
    csv = cli("encode", "good.csv", "-o", "z.csv", "--model", model_path, cwd=work)
    for r in (npy, csv):
        assert r.returncode == 0, r.stderr
    return npy, csv


def test_encode_npy_matches_the_library(work, encoded, vae, test_smiles):
    z = np.load(work / "z.npy")
    assert z.shape == (10, 8) and z.dtype == np.float32
    np.testing.assert_allclose(z, vae.encode(test_smiles[:10]), atol=1e-5)
    assert "10 of 10" in encoded[0].stdout


def test_encode_csv_has_rows_smiles_and_latents(work, encoded, test_smiles):
    t = pd.read_csv(work / "z.csv")
    assert list(t.columns) == ["row", "smiles"] + [f"z{i}" for i in range(8)]
    assert t["row"].tolist() == list(range(1, 11))
    assert t["smiles"].tolist() == test_smiles[:10]
    np.testing.assert_allclose(t[[f"z{i}" for i in range(8)]].to_numpy(), np.load(work / "z.npy"), atol=1e-5)


def test_encode_csv_latents_are_the_npy_latents_exactly(work, encoded):
    """encode's .csv held 6 significant digits: read back as float32 they differed from
    the .npy of the same molecules, and decoding them gave other molecules for 6 of
    1,000 MOSES test molecules on the default model. 9 digits give each float32 back."""
    t = pd.read_csv(work / "z.csv")  # pandas' default parser: 9 digits read back to the same float32 (float_precision is deprecated)
    np.testing.assert_array_equal(t[[f"z{i}" for i in range(8)]].to_numpy().astype(np.float32), np.load(work / "z.npy"))


def test_decode_samples_at_the_temperature_and_seed_given(work, encoded, cli, model_path, vae):
    z = np.load(work / "z.npy")
    r = cli("decode", "z.npy", "-o", "d_t1.csv", "--temperature", 1, "--seed", 3, "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    got = pd.read_csv(work / "d_t1.csv", keep_default_na=False)["smiles"].tolist()
    assert got == vae.decode(z, temperature=1.0, seed=3)
    assert got != vae.decode(z)  # not the greedy decoding: the options were used


def test_decode_of_one_point_says_point(work, encoded, cli, model_path):
    np.save(work / "z1.npy", np.load(work / "z.npy")[:1])
    r = cli("decode", "z1.npy", "-o", "d1.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert "decoded 1 point (" in r.stdout, r.stdout


def test_decode_npy_and_csv(work, encoded, cli, model_path, vae):
    r = cli("decode", "z.npy", "-o", "d.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(work / "d.csv", keep_default_na=False)
    assert len(t) == 10
    assert {"smiles", "valid", "qed", "logp", "sa", "mw"} <= set(t.columns)
    assert t["smiles"].tolist() == vae.decode(np.load(work / "z.npy"))
    assert "decoded 10 points" in r.stdout
    r2 = cli("decode", "z.csv", "-o", "d.smi", "--model", model_path, cwd=work)
    assert r2.returncode == 0, r2.stderr
    assert (work / "d.smi").read_text().splitlines() == t["smiles"].tolist()


@pytest.mark.parametrize("sep", [";", "\t"], ids=["semicolon", "tab"])
def test_decode_reads_a_latent_csv_separated_by_semicolons_or_tabs(work, encoded, cli, model_path, sep):
    """encode's latent CSV saved again by Excel (';') or as tab-separated .csv: decode read
    it with commas only, as one column, and said 'lacks latent columns z0..' of a file that
    has them all, while every molecule reader takes ';' and tabs (molvae.data.csv_separator).
    It is read with the separator of its header line and decodes as the comma file does."""
    t = pd.read_csv(work / "z.csv", dtype=str, keep_default_na=False)
    (work / "z_sep.csv").write_text(t.to_csv(sep=sep, index=False))
    r = cli("decode", "z_sep.csv", "-o", "d_sep.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    r = cli("decode", "z.csv", "-o", "d_comma.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "d_sep.csv").read_bytes() == (work / "d_comma.csv").read_bytes()


def test_encode_smi_and_sdf(work, cli, model_path, vae, test_smiles):
    r = cli("encode", "good.smi", "-o", "s.npy", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(work / "s.npy"), vae.encode(test_smiles[:4]), atol=1e-5)
    r = cli("encode", "good.sdf", "-o", "f.npy", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(work / "f.npy"), vae.encode(test_smiles[:3]), atol=1e-5)


def test_reconstruct(work, cli, model_path, vae, test_smiles):
    r = cli("reconstruct", "good.csv", "--model", model_path, "-n", 5, "-o", "rows.csv", cwd=work)
    assert r.returncode == 0, r.stderr
    m = re.search(r"reconstruction accuracy (\d\.\d{4}) \((\d+)/(\d+) molecules\)", r.stdout)
    assert m, r.stdout
    acc, hits, total = float(m.group(1)), int(m.group(2)), int(m.group(3))
    assert total == 5 and acc == pytest.approx(hits / 5, abs=1e-4)
    t = pd.read_csv(work / "rows.csv", keep_default_na=False)
    assert list(t.columns) == ["row", "input", "canonical", "decoded", "reconstructed"]
    assert t["row"].tolist() == [1, 2, 3, 4, 5]  # the input row numbers, as encode and predict write them
    assert len(t) == 5 and int(t["reconstructed"].astype(str).eq("True").sum()) == hits
    # the model's decodings of the first 5 molecules, not copies of the inputs
    assert t["input"].tolist() == test_smiles[:5]
    assert t["decoded"].tolist() == vae.decode(vae.encode(test_smiles[:5]))


def assert_rows_reported(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "skipped 5 rows" in stderr
    lines = {int(m.group(1)): m.group(0) for m in re.finditer(r"row (\d+): [^\n]*", stderr)}
    assert sorted(lines) == [2, 3, 4, 5, 6], stderr
    assert "empty" in lines[2]
    assert "parse" in lines[3] and "C1CC" in lines[3]
    assert "parse" in lines[4]
    assert "[Se]" in lines[5]
    assert "200 SELFIES tokens" in lines[6]


def test_encode_reports_bad_rows_and_goes_on(work, cli, model_path):
    r = cli("encode", "bad.csv", "-o", "bad.npy", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert_rows_reported(r.stderr)
    assert np.load(work / "bad.npy").shape == (2, 8)
    assert "encoded 2 of 7 rows" in r.stdout
    r = cli("encode", "bad.csv", "-o", "bad_z.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert pd.read_csv(work / "bad_z.csv")["row"].tolist() == [1, 7]


def test_reconstruct_reports_bad_rows_and_goes_on(work, cli, model_path):
    r = cli("reconstruct", "bad.csv", "--model", model_path, cwd=work)
    assert r.returncode == 0, r.stderr
    assert_rows_reported(r.stderr)
    assert "/2 molecules)" in r.stdout


def test_nothing_encodable_is_an_error(work, cli, model_path):
    (work / "none.csv").write_text("smiles\nC1CC\nC[Se]C\n")
    r = cli("encode", "none.csv", "-o", "none.npy", "--model", model_path, cwd=work)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr_lines
    assert lines[-1].startswith("error:") and "could be encoded" in lines[-1]
    assert any("row 1:" in line for line in lines) and any("row 2:" in line for line in lines)
    assert not (work / "none.npy").exists()


def test_fit_density_with_too_few_encodable_molecules_says_so(work, cli, expect_error, model_path):
    """fit-density of a file with no encodable molecule said '0 molecules of none.csv
    could be encoded; 1 components need at least 1', and '1 molecules' for one."""
    (work / "nothing.csv").write_text("smiles\nC1CC\nC[Se]C\n")
    (work / "one.csv").write_text("smiles\nC1CC\nCCO\n")
    r = cli("fit-density", "nothing.csv", "-o", "none.pt", "--components", 1, "--model", model_path, cwd=work)
    assert r.returncode == 1 and r.stderr_lines[-1] == "error: no molecule of nothing.csv could be encoded", r.stderr
    r = cli("fit-density", "one.csv", "-o", "one.pt", "--components", 2, "-n", 2, "--model", model_path, cwd=work)
    assert r.returncode == 1 and r.stderr_lines[-1] == "error: only 1 molecule of one.csv could be encoded; 2 components need at least 2", r.stderr
    assert not (work / "none.pt").exists() and not (work / "one.pt").exists()


def test_reconstruct_limit_reports_only_the_rows_it_reads(work, cli, model_path):
    r = cli("reconstruct", "bad.csv", "--model", model_path, "-n", "1", "-o", "lim.csv", cwd=work)
    assert r.returncode == 0, r.stderr
    assert not re.search(r"row \d+:", r.stderr), r.stderr  # row 1 encodes; rows 2-7 are not read
    assert "/1 molecules)" in r.stdout
    assert pd.read_csv(work / "lim.csv")["input"].tolist() == [BAD_ROWS[0]]


def test_reconstruct_limit_counts_molecules_not_rows(work, cli, model_path):
    # rows 2-6 cannot be encoded: -n 2 reads on to row 7 and scores 2 molecules, not 1
    r = cli("reconstruct", "bad.csv", "--model", model_path, "-n", "2", "-o", "lim2.csv", cwd=work)
    assert r.returncode == 0, r.stderr
    assert_rows_reported(r.stderr)
    assert "/2 molecules)" in r.stdout
    rows = pd.read_csv(work / "lim2.csv")
    assert rows["input"].tolist() == [BAD_ROWS[0], BAD_ROWS[6]] and rows["row"].tolist() == [1, 7]


def test_reconstruct_nothing_encodable_writes_no_rows_file(work, cli, model_path):
    (work / "none2.csv").write_text("smiles\nC1CC\nC[Se]C\n")
    r = cli("reconstruct", "none2.csv", "--model", model_path, "-o", "none2_rows.csv", cwd=work)
    assert r.returncode == 1 and r.stderr_lines[-1].startswith("error:"), r.stderr
    assert not (work / "none2_rows.csv").exists()


def test_a_failed_write_leaves_the_old_file(work, cli, expect_error, model_path, monkeypatch, tmp_path):
    """encode (.npy, .csv) and reconstruct -o wrote straight to the file: a write failing
    midway (a full disk) left a partial file over an earlier one. Now one error line
    naming the file, the old file as it was, no temporary left."""

    def partial(path, *args, **kwargs):
        target = path if isinstance(path, (str, os.PathLike)) else path.name
        with open(target, "w") as fh:
            fh.write("partial\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, path, *a, **k: partial(path))
    monkeypatch.setattr(np, "save", lambda fh, *a, **k: partial(fh))
    for args, name in ((("encode",), "old.npy"), (("encode",), "old.csv"), (("reconstruct",), "old_rows.csv")):
        out = tmp_path / name
        out.write_text("old\n")
        r = cli(*args, work / "good.csv", "-o", out, "--model", model_path)
        expect_error(r, f"cannot use {out}: No space left on device")
        assert out.read_text() == "old\n", name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.csv", "old.npy", "old_rows.csv"]
