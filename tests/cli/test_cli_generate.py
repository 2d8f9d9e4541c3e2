"""`molvae generate`: files, formats, determinism, images."""

from __future__ import annotations

import pandas as pd
import pytest
from rdkit import Chem

from molvae.data import read_molecules

N = 15


@pytest.fixture(scope="module")
def gen_dir(tmp_path_factory, cli, model_path):
    """Two runs with the same seed (one with an image, one with one worker), and .smi/.sdf runs."""
    d = tmp_path_factory.mktemp("generate")
    runs = {
        "a": cli("generate", "-n", N, "-o", "a.csv", "--model", model_path, "--seed", 0, "--image", "grid.png", cwd=d),
        "b": cli("generate", "-n", N, "-o", "b.csv", "--model", model_path, "--seed", 0, "-j", 1, cwd=d),
        "smi": cli("generate", "-n", N, "-o", "a.smi", "--model", model_path, "--seed", 0, cwd=d),
        "sdf": cli("generate", "-n", N, "-o", "a.sdf", "--model", model_path, "--seed", 0, cwd=d),
    }
    for name, r in runs.items():
        assert r.returncode == 0, (name, r.stderr)
        assert "Traceback" not in r.stderr
    return d, runs


def test_writes_n_valid_unique_canonical_molecules(gen_dir):
    d, runs = gen_dir
    t = pd.read_csv(d / "a.csv", keep_default_na=False)
    assert len(t) == N
    assert {"smiles", "qed", "logp", "sa", "mw", "novel"} <= set(t.columns)
    assert t.columns[0] == "smiles"
    assert t["smiles"].is_unique
    for s in t["smiles"]:
        mol = Chem.MolFromSmiles(s)
        assert mol is not None, s
        assert Chem.MolToSmiles(mol) == s  # canonical
    assert set(t["novel"].astype(str)) <= {"True", "False"}
    for col in ("qed", "logp", "sa", "mw"):
        assert pd.to_numeric(t[col]).notna().all()
    assert t["qed"].between(0, 1).all() and t["sa"].between(1, 10).all() and (t["mw"] > 0).all()


def test_prints_statistics(gen_dir):
    _, runs = gen_dir
    out = runs["a"].stdout
    for word in ("draws", "validity", "uniqueness", "novelty", "molecules/s"):
        assert word in out
    assert f"wrote {N} molecules to a.csv" in out


def test_same_seed_gives_the_same_file(gen_dir):
    d, _ = gen_dir
    assert (d / "a.csv").read_bytes() == (d / "b.csv").read_bytes()  # also with one worker


def test_smi_and_sdf_hold_the_same_molecules(gen_dir):
    d, _ = gen_dir
    smiles = pd.read_csv(d / "a.csv", keep_default_na=False)["smiles"].tolist()
    assert (d / "a.smi").read_text().splitlines() == smiles
    rows, errors = read_molecules(d / "a.sdf")
    assert errors == [] and [s for _, s in rows] == smiles
    mol = next(iter(Chem.SDMolSupplier(str(d / "a.sdf"))))
    assert {"smiles", "qed", "novel"} <= set(mol.GetPropNames())


def test_image(gen_dir):
    d, runs = gen_dir
    png = (d / "grid.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert "grid.png" in runs["a"].stdout
    assert "note:" not in runs["a"].stdout  # 15 molecules: all drawn


def test_image_of_more_molecules_than_it_draws_says_so(cli, model_path, tmp_path):
    """--image draws the first 30 molecules; it did not say so when there were more."""
    r = cli("generate", "-n", 35, "-o", "g.csv", "--image", "g.png", "--model", model_path, "--seed", 1, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "note: drew the first 30 of the 35 molecules in g.png" in r.stdout
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_all_draws_writes_every_draw(cli, model_path, tmp_path):
    r = cli("generate", "-n", 37, "-o", "all.csv", "--model", model_path, "--seed", 2, "--all-draws", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    t = pd.read_csv(tmp_path / "all.csv", keep_default_na=False)
    assert len(t) == 37
    assert "draws 37" in r.stdout
    invalid = t["smiles"] == ""
    assert t.loc[~invalid, "smiles"].map(lambda s: Chem.MolFromSmiles(s) is not None).all()


def test_image_with_no_valid_draw_is_a_note_not_a_crash(cli, vae, model_path, tmp_path):
    from molvae.generation import generate

    # a seed whose single draw is invalid (tokens sampled almost uniformly)
    seed = next(s for s in range(500) if generate(vae, 1, seed=s, temperature=1000, all_draws=True, n_jobs=1).table["smiles"][0] == "")
    out, img = tmp_path / "e.csv", tmp_path / "e.png"
    r = cli("generate", "-n", 1, "--all-draws", "--temperature", 1000, "--seed", seed, "-o", out, "--image", img, "--model", model_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "no valid molecule to draw" in r.stdout and not img.exists()
    assert len(pd.read_csv(out)) == 1
    # an invalid draw has no novelty: an empty cell, as its properties are (it read False)
    row = pd.read_csv(out, keep_default_na=False).iloc[0]
    assert row["smiles"] == "" and row["novel"] == "" and row["qed"] == ""


def test_too_many_molecules_is_one_line_error(cli, expect_error, model_path, tmp_path):
    # -n 10000000000000 used to start generating and run until memory ran out
    from molvae.generation import MAX_MOLECULES

    for flags in ((), ("--all-draws",)):
        r = cli("generate", "-n", str(MAX_MOLECULES + 1), "-o", "g.csv", "--model", model_path, *flags, cwd=tmp_path)
        expect_error(r, "-n", f"{MAX_MOLECULES:,}")
    assert not (tmp_path / "g.csv").exists()
