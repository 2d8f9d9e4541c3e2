"""CLI: interpolate, analogs, fit-density and generate --latent fitted."""

from __future__ import annotations

import pandas as pd


def test_interpolate_writes_path_and_image(cli, model_path, tmp_path):
    out, img = tmp_path / "path.csv", tmp_path / "path.png"
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "5", "-o", out, "--image", img, "--model", model_path)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 5 and {"tanimoto_to_start", "tanimoto_to_end", "qed"} <= set(df.columns)
    assert img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    distinct = df["smiles"][df["smiles"] != ""].nunique()
    assert f"5 steps, {distinct} distinct molecule{'' if distinct == 1 else 's'};" in r.stdout


def test_interpolate_from_a_molecule_to_itself_counts_one_molecule(cli, model_path, tmp_path):
    # it printed "1 distinct molecules"
    r = cli("interpolate", "CCO", "CCO", "--steps", "3", "-o", tmp_path / "same.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(tmp_path / "same.csv", keep_default_na=False)
    assert df["smiles"].nunique() == 1
    assert "3 steps, 1 distinct molecule;" in r.stdout


def test_interpolate_refine_steps_reach_the_path(cli, model_path, tmp_path, monkeypatch):
    import molvae.interpolation

    calls, real = [], molvae.interpolation.interpolate
    monkeypatch.setattr(molvae.interpolation, "interpolate", lambda *a, **kw: calls.append(kw["refine_steps"]) or real(*a, **kw))
    for extra, want in (((), 0), (("--refine-steps", "5"), 5)):
        out = tmp_path / f"p{want}.csv"
        r = cli("interpolate", "aspirin", "paracetamol", "--steps", "3", *extra, "-o", out, "--model", model_path)
        assert r.returncode == 0 and calls[-1] == want and len(pd.read_csv(out)) == 3, r.stderr


def test_interpolate_image_of_a_long_path_shows_both_ends(cli, model_path, tmp_path):
    """--image drew only the first 50 steps of a longer path, silently leaving out its end."""
    from molvae.draw import MAX_DRAWN, spread_indices

    assert spread_indices(60, MAX_DRAWN) == sorted(set(spread_indices(60, MAX_DRAWN)))
    assert len(spread_indices(60, MAX_DRAWN)) == MAX_DRAWN and spread_indices(60, MAX_DRAWN)[-1] == 59
    assert spread_indices(7, MAX_DRAWN) == list(range(7)) and spread_indices(5, 3) == [0, 2, 4]
    out, img = tmp_path / "path.csv", tmp_path / "path.png"
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "60", "--anchor-samples", "0", "-o", out, "--image", img, "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert f"drew {MAX_DRAWN} of the 60 steps" in r.stdout and "both ends" in r.stdout
    from PIL import Image

    assert Image.open(img).size[1] == 200 * -(-MAX_DRAWN // 6)  # rows of 6 cells, 200 px high


def _failing_png_save(monkeypatch):
    """Make every PIL image save write a partial PNG, then fail (a full disk, say)."""
    from PIL import Image

    def save(self, fp, format=None, **params):
        data = b"\x89PNG\r\n\x1a\n partial"
        if hasattr(fp, "write"):
            fp.write(data)
        else:
            with open(fp, "wb") as fh:
                fh.write(data)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


def test_a_failed_image_save_leaves_no_partial_file(monkeypatch, tmp_path):
    """grid_image saved straight to the final name: a save failing midway left a partial PNG
    under it. It writes a temporary beside it and renames it into place; on failure the
    temporary is removed and an existing image is left as it was."""
    import pytest

    from molvae.draw import grid_image

    _failing_png_save(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        grid_image(["CCO", "c1ccccc1"], tmp_path / "new.png")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "old.png").write_bytes(b"old image")
    with pytest.raises(OSError):
        grid_image(["CCO"], tmp_path / "old.png")
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"] and (tmp_path / "old.png").read_bytes() == b"old image"


def test_interpolate_image_save_failure_is_one_error_and_no_partial_file(cli, expect_error, model_path, monkeypatch, tmp_path):
    out, img = tmp_path / "path.csv", tmp_path / "path.png"
    _failing_png_save(monkeypatch)
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "3", "-o", out, "--image", img, "--model", model_path)
    expect_error(r, f"cannot use {img}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["path.csv"]  # no path.png, no temporary


def test_a_failed_table_write_is_one_error_and_leaves_the_old_file(cli, expect_error, model_path, monkeypatch, tmp_path):
    """generate, interpolate, analogs and drugs wrote their table straight to -o: a write
    failing midway (a full disk) left the rows before it as a complete-looking file, over
    an earlier one. Each now writes a temporary beside it and renames it into place: one
    error line naming the file, the old file as it was, no temporary left."""
    import csv

    def to_csv(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("smiles\nCCO\n")
        raise OSError(28, "No space left on device")

    class Writer:
        def __init__(self, fh, **kwargs):
            self.fh = fh

        def writerow(self, row):
            self.fh.write("name\n")
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    monkeypatch.setattr(csv, "writer", Writer)
    out = tmp_path / "old.csv"
    out.write_text("old\n")
    commands = {
        "generate": ("generate", "-n", "3"),
        "interpolate": ("interpolate", "aspirin", "paracetamol", "--steps", "3"),
        "analogs": ("analogs", "aspirin", "-n", "1"),
        "drugs": ("drugs", "--search", "aspirin"),
    }
    for name, args in commands.items():
        r = cli(*args, "-o", out, "--model", model_path)
        expect_error(r, f"cannot use {out}: No space left on device")
        assert "wrote" not in r.stdout, name
        assert [p.name for p in tmp_path.iterdir()] == ["old.csv"] and out.read_text() == "old\n", name


def test_interpolate_uncovered_drug_names_tokens(cli, expect_error, model_path, tmp_path):
    r = cli("interpolate", "cisplatin", "aspirin", "-o", tmp_path / "p.csv", "--model", model_path)
    expect_error(r, "cisplatin", "[Pt]", "not in the model's alphabet")


def test_interpolate_bad_inputs(cli, expect_error, model_path, tmp_path):
    expect_error(cli("interpolate", "notadrugatall", "aspirin", "-o", tmp_path / "p.csv", "--model", model_path), "neither a known drug name")
    expect_error(cli("interpolate", "aspirin", "caffeine", "-o", tmp_path / "p.txt", "--model", model_path), "extension")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--method", "cubic", "-o", tmp_path / "p.csv", "--model", model_path), "slerp, linear or geodesic")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--method", "geodesic", "--steps", "1001", "-o", tmp_path / "p.csv", "--model", model_path), "at most 1,000 with --method geodesic")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--anchor-samples", "-2", "-o", tmp_path / "p.csv", "--model", model_path), "--anchor-samples")
    expect_error(cli("analogs", "aspirin", "--anchor-samples", "-2", "-o", tmp_path / "a.csv", "--model", model_path), "--anchor-samples")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--invert-steps", "-1", "-o", tmp_path / "p.csv", "--model", model_path), "--invert-steps")
    expect_error(cli("analogs", "aspirin", "--invert-steps", "-1", "-o", tmp_path / "a.csv", "--model", model_path), "--invert-steps")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--refine-steps", "-1", "-o", tmp_path / "p.csv", "--model", model_path), "--refine-steps must be >= 0, got -1")
    expect_error(cli("analogs", "aspirin", "--refine-steps", "-1", "-o", tmp_path / "a.csv", "--model", model_path), "--refine-steps must be >= 0, got -1")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--guide", "-1", "-o", tmp_path / "p.csv", "--model", model_path), "--guide")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--guide", "5", "--guide-radius", "0", "-o", tmp_path / "p.csv", "--model", model_path), "--guide-radius")


def test_smiles_that_rdkit_would_cut_short_are_refused(cli, expect_error, model_path, tmp_path):
    """'CCé' and benzene followed by a pasted zero-width space were read by RDKit as ethane
    and benzene (what follows is taken for a name), so interpolate and analogs walked from
    a molecule the user never gave, exit 0. They are now one error line."""
    out = tmp_path / "p.csv"
    expect_error(cli("interpolate", "CC\u00e9", "aspirin", "-o", out, "--model", model_path), "'CCé' is neither a known drug name nor a valid SMILES")
    expect_error(cli("analogs", "c1ccccc1\u200b", "-n", "2", "-o", out, "--model", model_path), "neither a known drug name nor a valid SMILES")
    assert not out.exists()


def test_interpolate_guided(cli, model_path, tmp_path):
    out = tmp_path / "g.csv"
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "5", "--guide", "20", "-o", out, "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "guided, 20 points per step" in r.stdout
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 5 and (df["smiles"] != "").all()


def test_interpolate_geodesic(cli, model_path, tmp_path, monkeypatch):
    """--method geodesic reaches geodesic() (starting from the slerp path) and writes the table."""
    import molvae.interpolation

    calls, real = [], molvae.interpolation.geodesic
    monkeypatch.setattr(molvae.interpolation, "geodesic", lambda vae, path, **kw: calls.append(path.shape) or real(vae, path, **kw))
    out = tmp_path / "g.csv"
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "5", "--method", "geodesic", "-o", out, "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert len(calls) == 1 and calls[0][0] == 5
    df = pd.read_csv(out, keep_default_na=False)
    assert len(df) == 5 and (df["smiles"] != "").all() and df["t"].tolist() == [0, 0.25, 0.5, 0.75, 1]


def test_interpolate_anchor_samples_zero_starts_at_the_mean(cli, model_path, vae, tmp_path, monkeypatch):
    import molvae.interpolation

    # the tiny model decodes the means and the posterior samples of both ends alike, so the
    # path alone cannot tell: the option must reach anchor() (whose own tests show that
    # no samples means the mean)
    samples, real_anchor = [], molvae.interpolation.anchor
    monkeypatch.setattr(molvae.interpolation, "anchor", lambda vae, smiles, n, **kw: samples.append((n, kw["invert_steps"])) or real_anchor(vae, smiles, n, **kw))
    methods, real_path = [], molvae.interpolation.latent_path
    monkeypatch.setattr(molvae.interpolation, "latent_path", lambda a, b, steps, method: methods.append(method) or real_path(a, b, steps, method))
    out = tmp_path / "p.csv"
    r = cli("interpolate", "aspirin", "paracetamol", "--steps", "3", "--anchor-samples", "0", "--invert-steps", "7", "--method", "linear", "-o", out, "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert samples == [(0, 7), (0, 7)] and methods == ["linear"]  # --invert-steps and --method too
    df = pd.read_csv(out, keep_default_na=False)
    from molvae.drugs import resolve_molecule

    z = vae.encode([resolve_molecule("aspirin")[0], resolve_molecule("paracetamol")[0]])
    assert df["smiles"].tolist()[0] == vae.decode(z[:1])[0] and df["smiles"].tolist()[-1] == vae.decode(z[1:])[0]


def test_analogs_writes_ranked_table(cli, model_path, tmp_path, monkeypatch):
    import molvae.interpolation

    calls, real_analogs = [], molvae.interpolation.analogs
    monkeypatch.setattr(molvae.interpolation, "analogs", lambda vae, q, n, radius, **kw: calls.append((n, radius, kw["seed"], kw["refine_steps"])) or real_analogs(vae, q, n, radius, **kw))
    out, img = tmp_path / "an.csv", tmp_path / "an.png"
    r = cli("analogs", "aspirin", "-n", "4", "--radius", "1.0", "--seed", "5", "-o", out, "--image", img, "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert calls == [(4, 1.0, 5, 50)]  # the options reach the search (the table's ranges alone did not tell --radius 1.0 from the default)
    df = pd.read_csv(out)
    assert 1 <= len(df) <= 4 and df["tanimoto"].is_monotonic_decreasing
    assert img.is_file()
    r = cli("analogs", "aspirin", "-n", "2", "--refine-steps", "0", "-o", tmp_path / "a0.csv", "--model", model_path)
    assert r.returncode == 0 and calls[-1] == (2, 0.5, 0, 0), r.stderr


def test_fit_density_then_generate_fitted(cli, expect_error, model_path, tmp_path):
    from tests.conftest import TRAIN_CSV

    fitted = tmp_path / "fitted.pt"
    expect_error(cli("generate", "-n", "5", "-o", tmp_path / "x.csv", "--latent", "fitted", "--model", model_path), "no fitted latent density")
    r = cli("fit-density", TRAIN_CSV, "-o", fitted, "--model", model_path, "-n", "300", "--components", "2")
    assert r.returncode == 0, r.stderr
    from molvae.checkpoint import load_checkpoint

    density = load_checkpoint(fitted)["latent_density"]  # -n molecules sampled, --components kept
    assert density["n_fit"] == 300 and tuple(density["means"].shape) == (2, 8)
    out = tmp_path / "f.csv"
    # temperature 1: greedy decoding of the 60-step tiny model gives too few distinct molecules
    r = cli("generate", "-n", "20", "-o", out, "--latent", "fitted", "--model", fitted, "--seed", "1", "--temperature", "1")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 20


def test_predictor_columns_on_generate_interpolate_analogs(cli, model_path, tmp_path):
    from tests.conftest import TRAIN_CSV

    pred = tmp_path / "p.skops"
    train = tmp_path / "train400.csv"  # enough for a ridge fit; the test is about the columns
    pd.read_csv(TRAIN_CSV).head(400).to_csv(train, index=False)
    r = cli("predictors", "train", train, "-o", pred, "--rdkit", "logp", "--model", "ridge", "--folds", "2", "--vae", model_path)
    assert r.returncode == 0, r.stderr
    runs = {
        "generate": ("generate", "-n", "5", "-o", tmp_path / "g.csv"),
        "interpolate": ("interpolate", "aspirin", "caffeine", "--steps", "3", "-o", tmp_path / "i.csv"),
        "analogs": ("analogs", "aspirin", "-n", "3", "--radius", "1.0", "-o", tmp_path / "a.csv"),
    }
    for name, args in runs.items():
        r = cli(*args, "--model", model_path, "--predictor", pred)
        assert r.returncode == 0, (name, r.stderr)
        df = pd.read_csv(args[args.index("-o") + 1])
        # rows the model cannot re-encode (rare) are NaN, never 0
        assert "pred_logp" in df.columns and df["pred_logp"].notna().mean() >= 0.5, name
        assert (df["pred_logp"].dropna() != 0).all(), name


def test_fit_density_reports_input_rows_and_refuses_too_few(cli, model_path, tmp_path):
    data = tmp_path / "few.csv"
    data.write_text("smiles\nCCO\nXX\nc1ccccc1\n\nCCN\nC[Xe]C\nCCCC\n")
    r = cli("fit-density", data, "-o", tmp_path / "f.pt", "--model", model_path, "-n", "10", "--components", "2")
    assert r.returncode == 0, r.stderr
    # input row numbers (data rows of the CSV), not positions in the random sample
    assert "row 2: RDKit cannot parse SMILES ('XX')" in r.stderr
    assert "row 4: empty row" in r.stderr
    assert "row 6: token [Xe]" in r.stderr
    r = cli("fit-density", data, "-o", tmp_path / "g.pt", "--model", model_path, "-n", "10", "--components", "5")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr_lines[-1].startswith(f"error: only 4 molecules of {data} could be encoded") and "at least 5" in r.stderr_lines[-1]
    assert not (tmp_path / "g.pt").exists()


def test_radius_beyond_float32_is_one_line_error(cli, expect_error, model_path, tmp_path):
    expect_error(cli("analogs", "aspirin", "-n", "2", "--radius", "1e39", "-o", tmp_path / "a.csv", "--model", model_path), "--radius", "<=")
    expect_error(cli("interpolate", "aspirin", "caffeine", "--guide", "2", "--guide-radius", "1e39", "-o", tmp_path / "p.csv", "--model", model_path), "--guide-radius", "<=")


def test_too_long_molecule_names_its_role(cli, expect_error, model_path, tmp_path):
    long = "C" * 300  # more SELFIES tokens than any model's max_length here
    expect_error(cli("interpolate", "aspirin", long, "-o", tmp_path / "p.csv", "--model", model_path), "end ", "300 SELFIES tokens")
    expect_error(cli("analogs", long, "-o", tmp_path / "a.csv", "--model", model_path), "query ", "300 SELFIES tokens")


def test_analogs_that_find_nothing_write_an_empty_table(cli, model_path, tmp_path, monkeypatch):
    """analogs ended in a KeyError traceback when no draw decoded to another molecule."""
    from molvae.vae import MolVAE

    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCO"] * len(z))
    out, img = tmp_path / "a.csv", tmp_path / "a.png"
    r = cli("analogs", "CCO", "-n", "2", "--radius", "1e-9", "-o", out, "--image", img, "--model", model_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "found 0 distinct analogues" in r.stderr
    assert "0 analogues of CCO" in r.stdout and "median Tanimoto n/a" in r.stdout
    df = pd.read_csv(out)
    assert len(df) == 0 and list(df.columns) == ["rank", "smiles", "tanimoto", "qed", "logp", "sa", "mw", "count"]
    assert img.is_file()


def test_fit_density_seed_beyond_32_bits_is_one_line_error(cli, expect_error, model_path, tmp_path):
    """--seed 2**32 passed check_seed (64-bit seeds) and failed in scikit-learn with a traceback."""
    data = tmp_path / "few.csv"
    data.write_text("smiles\nCCO\nc1ccccc1\nCCN\nCCCC\n")
    r = cli("fit-density", data, "-o", tmp_path / "f.pt", "--model", model_path, "-n", "10", "--components", "2", "--seed", str(2**32))
    expect_error(r, "--seed", "4294967295")
    assert not (tmp_path / "f.pt").exists()


def test_interpolate_too_many_steps_is_one_line_error(cli, expect_error, model_path, tmp_path):
    """--steps 10000000000 ended in a MemoryError traceback (a 74.5 GiB array of fractions)."""
    from molvae.interpolation import MAX_STEPS

    r = cli("interpolate", "CCO", "CCN", "--steps", "10000000000", "-o", tmp_path / "p.csv", "--model", model_path)
    expect_error(r, "--steps", str(MAX_STEPS))


def test_fit_density_unwritable_model_file_is_one_line_error(cli, expect_error, model_path, tmp_path, monkeypatch):
    """fit-density ended in a RuntimeError traceback from torch.save when the model file
    could not be opened for writing; a write that fails is one line naming the file."""
    import torch

    def full(obj, fh, *args, **kwargs):
        raise OSError(28, "No space left on device")

    data = tmp_path / "few.csv"
    data.write_text("smiles\nCCO\nc1ccccc1\nCCN\nCCCC\n")
    monkeypatch.setattr(torch, "save", full)
    r = cli("fit-density", data, "-o", tmp_path / "f.pt", "--model", model_path, "-n", "10", "--components", "2")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr  # the fit's INFO line comes first
    assert r.stderr_lines[-1] == f"error: cannot use {tmp_path / 'f.pt'}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.csv"]


def test_too_many_anchor_samples_is_one_line_error(cli, expect_error, model_path, tmp_path):
    """--anchor-samples 100000000000 ended in a RuntimeError traceback (3.2 TB of draws)."""
    from molvae.interpolation import MAX_ANCHOR_SAMPLES

    r = cli("interpolate", "CCO", "CCN", "--steps", "2", "--anchor-samples", "100000000000", "-o", tmp_path / "p.csv", "--model", model_path)
    expect_error(r, "--anchor-samples", str(MAX_ANCHOR_SAMPLES))
    r = cli("analogs", "CCO", "-n", "1", "--anchor-samples", "100000000000", "-o", tmp_path / "a.csv", "--model", model_path)
    expect_error(r, "--anchor-samples", str(MAX_ANCHOR_SAMPLES))


def test_infinite_radius_is_told_its_bound(cli, expect_error, model_path, tmp_path):
    """--radius inf was refused with '--radius must be > 0, got inf', which it is."""
    expect_error(cli("analogs", "aspirin", "-n", "2", "--radius", "inf", "-o", tmp_path / "a.csv", "--model", model_path), "--radius must be a number > 0 and <= 1e+30", "got inf")
    r = cli("interpolate", "aspirin", "caffeine", "--guide", "2", "--guide-radius", "inf", "-o", tmp_path / "p.csv", "--model", model_path)
    expect_error(r, "--guide-radius must be a number > 0 and <= 1e+30", "got inf")


def test_a_smiles_that_selfies_cannot_read_names_its_role(cli, expect_error, model_path, tmp_path):
    """RDKit reads '*C' (a dummy atom), selfies does not: the error was selfies' message
    alone, without saying which molecule (start or end) could not be encoded."""
    r = cli("interpolate", "aspirin", "*C", "-o", tmp_path / "p.csv", "--model", model_path)
    expect_error(r, "end *C cannot be encoded: ", "'*C'")
    expect_error(cli("analogs", "*C", "-o", tmp_path / "a.csv", "--model", model_path), "query *C cannot be encoded: ")
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "a.csv").exists()


def test_one_analogue_is_counted_in_the_singular(cli, model_path, tmp_path, monkeypatch):
    """analogs -n 1 printed '1 analogues of ...'."""
    from molvae.vae import MolVAE

    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCN"] * len(z))
    r = cli("analogs", "CCO", "-n", "1", "--anchor-samples", "0", "-o", tmp_path / "a.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "1 analogue of CCO from 20000 draws" in r.stdout  # the pool's floor, ANALOG_POOL_MIN


def test_interpolate_says_what_it_did_at_the_ends_and_between(cli, model_path, tmp_path, monkeypatch):
    """With --anchor-samples 0 an end that does not reconstruct is the posterior mean's
    decoding, but the note said the path started at 'the closest decoding found' (no search
    was made); and --steps 2 --guide 3, which has no interior step to guide, printed
    '(guided, 3 points per step)'."""
    from molvae.vae import MolVAE

    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCN"] * len(z))
    r = cli("interpolate", "CCO", "CCC", "-k", "2", "--guide", "3", "--anchor-samples", "0", "-o", tmp_path / "p.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "the path starts at its posterior mean's decoding (--anchor-samples 0)" in r.stdout
    assert "closest decoding found" not in r.stdout
    assert "2 steps, 1 distinct molecule;" in r.stdout and "guided" not in r.stdout
    r = cli("interpolate", "CCO", "CCC", "-k", "2", "--anchor-samples", "1", "--invert-steps", "0", "-o", tmp_path / "p.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "the path starts at the closest decoding found" in r.stdout


def test_a_long_path_keeps_each_steps_fraction(cli, model_path, tmp_path, monkeypatch):
    """The CSV wrote t with 4 significant digits, as the other numbers, so neighbouring
    steps of a path of more than 10,000 steps had the same t (0.1234 and 0.1234 for steps
    2468 and 2469 of 20,001)."""
    import numpy as np

    import molvae.interpolation
    from molvae.vae import MolVAE

    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCN"] * len(z))  # fast: one molecule
    monkeypatch.setattr(molvae.interpolation, "tanimoto", lambda q, others: np.zeros(len(others)))
    monkeypatch.setattr(molvae.interpolation, "properties", lambda s: {})
    out = tmp_path / "p.csv"
    r = cli("interpolate", "CCO", "CCC", "-k", "20001", "--anchor-samples", "0", "-o", out, "--model", model_path)
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    assert len(df) == 20001 and df["t"].is_unique and df["t"].is_monotonic_increasing
    assert df["t"][2468] == 0.1234 and df["t"][2469] == 0.12345


def test_analogs_say_when_the_query_is_not_reconstructed(cli, model_path, tmp_path, monkeypatch):
    """interpolate says when an end does not decode back to its molecule; analogs said
    nothing when the query's anchor decoded to another molecule, so the analogues seemed
    to surround the query while they surrounded that other one."""
    from molvae.vae import MolVAE

    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCN"] * len(z))
    r = cli("analogs", "CCO", "-n", "1", "--anchor-samples", "0", "-o", tmp_path / "a.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "note: the model does not reconstruct the query CCO; the analogues are drawn around its posterior mean's decoding (--anchor-samples 0), CCN" in r.stdout
    monkeypatch.setattr(MolVAE, "decode", lambda self, z, **kw: ["CCO"] * len(z))  # the query itself
    r = cli("analogs", "CCO", "-n", "1", "--anchor-samples", "0", "-o", tmp_path / "b.csv", "--model", model_path)
    assert r.returncode == 0, r.stderr
    assert "does not reconstruct" not in r.stdout
