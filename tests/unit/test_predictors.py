"""molvae.predictors: fit/predict shapes, cross-validation, safe files, annotation, label reading."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molvae.data import InputError
from molvae.predictors import (
    MODEL_TYPES,
    LatentPredictor,
    PredictorError,
    annotate,
    cross_validate,
    file_sha256,
    rdkit_labels,
    read_labeled_csv,
    scatter_plot,
    train_predictor,
)

MEASURED = Path(__file__).resolve().parents[1] / "data" / "measured_labels.csv"

#: Small, fast settings per model type (the defaults are sized for thousands of rows).
FAST = {"gp": {}, "ridge": {}, "rf": {"n_estimators": 10}, "mlp": {"hidden_layer_sizes": (16,), "max_iter": 60}}


def synthetic(n=120, d_z=8, seed=0):
    """z ~ N(0, I); two smooth targets of z plus a little noise."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d_z))
    y = np.column_stack([z[:, 0] + 0.5 * z[:, 1] + 0.05 * rng.normal(size=n), np.tanh(z[:, 2]) + 0.05 * rng.normal(size=n)])
    return z, y


@pytest.fixture(scope="module")
def fitted():
    """One fitted predictor per model type on the synthetic data."""
    z, y = synthetic()
    return {m: LatentPredictor(m, ["a", "b"], **FAST[m]).fit(z, y) for m in MODEL_TYPES}


# ---------------------------------------------------------------------- fit / predict
@pytest.mark.parametrize("model", MODEL_TYPES)
def test_fit_predict_shapes(fitted, model):
    z, _ = synthetic(n=7, seed=1)
    p = fitted[model]
    mean = p.predict(z)
    assert mean.shape == (7, 2) and np.isfinite(mean).all()
    mean2, std = p.predict(z, return_std=True)
    assert std.shape == (7, 2)
    np.testing.assert_allclose(mean, mean2)
    assert p.has_std == (model == "gp")
    assert np.isfinite(std).all() if model == "gp" else np.isnan(std).all()
    assert p.d_z == 8 and p.n_train_ == [120, 120] and p.n_skipped_ == [0, 0]


def test_predict_and_fit_refuse_latents_that_are_not_real_numbers(fitted):
    # complex points lost their imaginary part (ComplexWarning), text such as "0.1" was read as numbers
    z, y = synthetic(n=4)
    for bad, kind in ((z + 1j, "complex"), (z.astype(str), "text"), (z > 0, "booleans")):
        with pytest.raises(PredictorError, match=f"latent points must be real numbers, got {kind}"):
            fitted["ridge"].predict(bad)
        with pytest.raises(PredictorError, match=f"latent points must be real numbers, got {kind}"):
            LatentPredictor("ridge").fit(bad, y)


def test_one_dimensional_y_and_default_target_names():
    z, y = synthetic()
    p = LatentPredictor("ridge").fit(z, y[:, 0])
    assert p.targets == ["y0"]
    assert p.predict(z[:3]).shape == (3, 1)
    assert p.predict(z[0]).shape == (1, 1)  # a single latent vector


def test_nan_latent_rows_predict_nan(fitted):
    z, _ = synthetic(n=4, seed=2)
    z[1] = np.nan
    mean, std = fitted["gp"].predict(z, return_std=True)
    assert np.isnan(mean[1]).all() and np.isnan(std[1]).all()
    assert np.isfinite(mean[[0, 2, 3]]).all()


def test_nan_labels_are_skipped_per_target():
    z, y = synthetic()
    y[:10, 0] = np.nan
    y[5:8, 1] = np.inf
    p = LatentPredictor("ridge", ["a", "b"]).fit(z, y)
    assert p.n_train_ == [110, 117] and p.n_skipped_ == [10, 3]


def test_ridge_learns_a_linear_target(fitted):
    z, y = synthetic(n=50, seed=3)
    r2 = 1 - np.mean((fitted["ridge"].predict(z)[:, 0] - y[:, 0]) ** 2) / np.var(y[:, 0])
    assert r2 > 0.95


def test_gp_subsamples_above_max_train():
    z, y = synthetic(n=150)
    p = LatentPredictor("gp", max_train=60).fit(z, y[:, 0])
    assert p.n_train_ == [60]
    assert p.estimators_[0].X_train_.shape == (60, 8)


def test_max_train_limits_the_gp_only():
    """max_train is documented as the GP's limit; ridge, rf and mlp fitted on a random
    max_train rows as well (with --max-train 5, ridge used 5 of 60 rows)."""
    z, y = synthetic(n=60)
    for model in ("ridge", "rf", "mlp"):
        p = LatentPredictor(model, max_train=5, **FAST[model]).fit(z, y[:, 0])
        assert p.n_train_ == [60] and p.max_train is None
    assert LatentPredictor("gp", max_train=50).fit(z, y[:, 0]).n_train_ == [50]


@pytest.mark.parametrize(
    "z, y, fragment",
    [
        (np.zeros((5, 8)), np.zeros(4), "rows"),
        (np.zeros((5, 8, 1)), np.zeros(5), "shape"),
        (np.full((5, 8), np.nan), np.zeros(5), "nan"),
        (np.zeros((5, 8)), np.full(5, np.nan), "labelled rows"),
    ],
)
def test_fit_rejects_bad_input(z, y, fragment):
    with pytest.raises(PredictorError, match=f"(?i){fragment}"):
        LatentPredictor("ridge").fit(z, y)


def test_bad_model_type_and_unfitted_and_wrong_d_z(fitted):
    with pytest.raises(PredictorError, match="unknown model type 'svm'"):
        LatentPredictor("svm")
    with pytest.raises(PredictorError, match="not fitted"):
        LatentPredictor("ridge").predict(np.zeros((1, 8)))
    with pytest.raises(PredictorError, match=r"shape \(n, 8\)"):
        fitted["ridge"].predict(np.zeros((2, 5)))


# ---------------------------------------------------------------------- cross-validation
def test_cross_validate_table_and_predictions():
    z, y = synthetic()
    y[:6, 1] = np.nan
    table, oof = cross_validate(z, y, "ridge", folds=4, seed=0, targets=["a", "b"], return_predictions=True)
    assert list(table.columns) == ["target", "model", "n", "folds", "r2", "r2_sd", "mae", "rmse", "spearman", "seconds"]
    assert table["target"].tolist() == ["a", "b"] and table["n"].tolist() == [120, 114]
    a = table.set_index("target").loc["a"]
    assert a["r2"] > 0.95 and a["spearman"] > 0.95 and 0 < a["mae"] <= a["rmse"]
    assert oof.shape == (120, 2) and np.isnan(oof[:6, 1]).all() and np.isfinite(oof[6:]).all()
    # same seed, same folds, same numbers
    again = cross_validate(z, y, "ridge", folds=4, seed=0, targets=["a", "b"])
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), again.drop(columns="seconds"))


def test_cross_validate_reports_no_r2_for_a_constant_target(tmp_path):
    """R² is undefined when every label is equal; scikit-learn reported 1.0 for the exact
    constant prediction, which read as a perfect model."""
    from molvae.predictors import constant_targets

    z, y = synthetic()
    y[:, 1] = 3.0
    table, oof = cross_validate(z, y, "ridge", folds=4, seed=0, targets=["a", "const"], return_predictions=True)
    const = table.set_index("target").loc["const"]
    assert np.isnan(const["r2"]) and np.isnan(const["r2_sd"]) and const["mae"] == pytest.approx(0, abs=1e-9)
    assert table.set_index("target").loc["a", "r2"] > 0.95
    assert constant_targets(y, ["a", "const"]) == {"const": 3.0}
    out = scatter_plot(y, oof, ["a", "const"], tmp_path / "cv.png", cv=table)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_cross_validate_keeps_a_molecules_rows_in_one_fold():
    """Rows with the same latent mean (the same molecule twice) fell in different folds:
    each test molecule had its twin in the training part (pure-noise labels, every row
    twice: GP R² about 0.8 instead of about 0)."""
    rng = np.random.default_rng(0)
    z, noise = rng.normal(size=(40, 8)), rng.normal(size=40)
    table, oof = cross_validate(np.vstack([z, z]), np.concatenate([noise, noise]), "gp", folds=4, return_predictions=True)
    assert table["r2"].iloc[0] < 0.3
    fold_of = {}
    for i in range(80):  # out-of-fold predictions of twins come from the same fold's model
        fold_of.setdefault(i % 40, []).append(oof[i, 0])
    assert all(a == pytest.approx(b) for a, b in fold_of.values())
    # without repeated rows, the folds are plain shuffled k-fold ones (same numbers as before)
    from sklearn.model_selection import KFold

    zs, ys = synthetic()
    _, mine = cross_validate(zs, ys[:, 0], "ridge", folds=4, seed=3, return_predictions=True)
    plain = np.full(len(ys), np.nan)
    for tr, te in KFold(4, shuffle=True, random_state=3).split(zs):
        plain[te] = LatentPredictor("ridge", seed=3).fit(zs[tr], ys[tr, 0]).predict(zs[te])[:, 0]
    assert mine[:, 0] == pytest.approx(plain)
    with pytest.raises(PredictorError, match="3 distinct molecules"):
        cross_validate(np.vstack([z[:3]] * 4), np.arange(12.0), "ridge", folds=4)


def test_cross_validate_needs_enough_rows():
    z, y = synthetic(n=8)
    with pytest.raises(PredictorError, match="too few"):
        cross_validate(z, y, "ridge", folds=5)
    with pytest.raises(PredictorError, match="at least 2 folds"):
        cross_validate(z, y, "ridge", folds=1)


def test_scatter_plot_writes_png(tmp_path):
    z, y = synthetic()
    table, oof = cross_validate(z, y, "ridge", folds=3, targets=["a", "b"], return_predictions=True)
    out = scatter_plot(y, oof, ["a", "b"], tmp_path / "cv.png", cv=table, title="ridge")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scatter_plot_is_written_all_at_once_or_not_at_all(tmp_path, monkeypatch):
    """The cross-validation plot (predictors train's OUTPUT.cv.png or --plot) was saved in
    place: a failure while writing (a full disk, Ctrl-C) left a cut-off PNG in place of the
    old plot. Now it is written through a temporary file: the old plot is kept and no
    temporary is left behind."""
    from matplotlib.figure import Figure

    z, y = synthetic()
    table, oof = cross_validate(z, y, "ridge", folds=3, targets=["a", "b"], return_predictions=True)
    (tmp_path / "cv.png").write_bytes(b"old plot")

    def full(self, fname, *args, **kwargs):
        with open(fname, "wb") as fh:
            fh.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full)
    with pytest.raises(OSError, match="No space left on device"):
        scatter_plot(y, oof, ["a", "b"], tmp_path / "cv.png", cv=table)
    assert (tmp_path / "cv.png").read_bytes() == b"old plot"
    assert [p.name for p in tmp_path.iterdir()] == ["cv.png"]


# ---------------------------------------------------------------------- files
@pytest.mark.parametrize("model", MODEL_TYPES)
def test_save_load_round_trip_gives_identical_predictions(fitted, model, tmp_path):
    p = fitted[model]
    p.vae_sha256, p.vae_path, p.training_data = "ab" * 32, "/models/x.pt", {"source": "x.csv"}
    p.cv = pd.DataFrame({"target": ["a", "b"], "r2": [0.5, np.nan]})
    path = p.save(tmp_path / f"{model}.skops")
    q = LatentPredictor.load(path)
    z, _ = synthetic(n=20, seed=4)
    m1, s1 = p.predict(z, return_std=True)
    m2, s2 = q.predict(z, return_std=True)
    assert np.array_equal(m1, m2) and np.array_equal(s1, s2, equal_nan=True)
    assert (q.model, q.targets, q.d_z, q.n_train_) == (model, ["a", "b"], 8, [120, 120])
    assert q.vae_sha256 == "ab" * 32 and q.training_data == {"source": "x.csv"}
    assert q.cv["r2"].iloc[0] == 0.5 and np.isnan(q.cv["r2"].iloc[1])
    assert q.versions["molvae"] and q.versions["sklearn"]


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "gp.skops"
    fitted["gp"].save(path)
    return path


def test_tampered_member_is_refused(saved, tmp_path):
    bad = tmp_path / "bad.skops"
    src = zipfile.ZipFile(saved)
    arrays = [n for n in src.namelist() if n.endswith(".npy")]
    with zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == arrays[0]:
                data = data[:-1] + bytes([data[-1] ^ 1])  # one bit of one fitted array
            dst.writestr(info, data)
    with pytest.raises(PredictorError, match="modified after it was written"):
        LatentPredictor.load(bad)


@pytest.mark.parametrize(
    "mangle, fragment",
    [
        (lambda b: b[: len(b) // 2], "corrupt or truncated"),
        (lambda b: b"not a zip file at all", "corrupt or truncated"),
        (lambda b: b"", "corrupt or truncated"),
    ],
)
def test_corrupt_file_is_refused(saved, tmp_path, mangle, fragment):
    bad = tmp_path / "bad.skops"
    bad.write_bytes(mangle(saved.read_bytes()))
    with pytest.raises(PredictorError, match=fragment):
        LatentPredictor.load(bad)


def test_foreign_skops_file_and_missing_file(tmp_path):
    import skops.io as sio

    sio.dump({"a": 1}, tmp_path / "other.skops")
    with pytest.raises(PredictorError, match="not a molvae predictor"):
        LatentPredictor.load(tmp_path / "other.skops")
    with pytest.raises(PredictorError, match="not found"):
        LatentPredictor.load(tmp_path / "missing.skops")


class Payload:
    """Stands for arbitrary code an attacker would like to have constructed."""

    def predict(self, z):
        return np.zeros(len(z))


def test_untrusted_types_are_refused_before_loading(fitted, tmp_path):
    z, y = synthetic(n=20)
    p = LatentPredictor("ridge", ["a"]).fit(z, y[:, 0])
    p.estimators_ = [Payload()]  # the file's digest is valid: only the type check can stop it
    p.save(tmp_path / "evil.skops")
    with pytest.raises(PredictorError, match=r"does not trust \(.*Payload\)"):
        LatentPredictor.load(tmp_path / "evil.skops")


def test_digest_member_is_required(saved, tmp_path):
    bad = tmp_path / "nodigest.skops"
    src = zipfile.ZipFile(saved)
    with zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            if info.filename != "molvae-digest.json":
                dst.writestr(info, src.read(info.filename))
    with pytest.raises(PredictorError, match="no digest"):
        LatentPredictor.load(bad)
    members = zipfile.ZipFile(saved).namelist()
    assert json.loads(zipfile.ZipFile(saved).read("molvae-digest.json"))["sha256"] and "schema.json" in members


# ---------------------------------------------------------------------- VAE binding
def test_file_sha256(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    assert file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_predictor_refuses_another_vae(vae, model_path, tmp_path):
    z = vae.encode(["CCO", "c1ccccc1", "CCN", "CC(=O)O", "CCCC", "CCOC"])
    p = LatentPredictor("ridge", ["t"]).fit(z, np.arange(6.0))
    p.vae_sha256 = file_sha256(model_path)
    p.check_vae(vae)  # same file: fine
    p.check_vae(model_path)
    other = tmp_path / "other.pt"
    other.write_bytes(model_path.read_bytes() + b"\0")
    with pytest.raises(PredictorError, match="trained against VAE sha256 .* use that VAE or retrain"):
        p.check_vae(other)
    p.vae_sha256 = "0" * 64
    with pytest.raises(PredictorError, match="trained against VAE"):
        annotate(pd.DataFrame({"smiles": ["CCO"]}), p, vae)
    p.d_z = 16
    with pytest.raises(PredictorError, match="d_z = 8"):
        p.check_vae(vae)


def test_annotate_adds_columns_and_nan_for_bad_rows(vae, model_path):
    smiles = ["CCO", "c1ccccc1", "CCN", "CC(=O)O", "CCCC", "CCOC", "CCOCC", "c1ccncc1"]
    z = vae.encode(smiles)
    p = LatentPredictor("gp", ["t"]).fit(z, np.arange(8.0))
    p.vae_sha256 = file_sha256(model_path)
    table = pd.DataFrame({"smiles": ["CCO", "not a smiles", "", None, "CCN"], "qed": [0.4, np.nan, np.nan, np.nan, 0.4]}, index=[10, 11, 12, 13, 14])
    out, errors = annotate(table, p, vae, return_errors=True)
    assert list(out.columns) == ["smiles", "qed", "pred_t", "pred_t_std"]
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert np.isfinite(out["pred_t"].to_numpy()[[0, 4]]).all() and out["pred_t"].isna().tolist() == [False, True, True, True, False]
    assert [e.row for e in errors] == [1, 2, 3]
    # each row's prediction is that of its own molecule
    mean, std = p.predict(vae.encode(["CCO", "CCN"]), return_std=True)
    np.testing.assert_allclose(out["pred_t"].to_numpy()[[0, 4]], mean[:, 0], rtol=1e-6)
    np.testing.assert_allclose(out["pred_t_std"].to_numpy()[[0, 4]], std[:, 0], rtol=1e-6)
    assert "pred_t" not in table.columns  # a copy
    # models without a standard deviation add only the mean
    r = LatentPredictor("ridge", ["t"]).fit(z, np.arange(8.0))
    r.vae_sha256 = p.vae_sha256
    assert list(annotate(table, r, vae).columns) == ["smiles", "qed", "pred_t"]
    # and re-annotating the GP's output drops the GP's std next to the ridge's mean
    again = annotate(out, r, vae)
    assert list(again.columns) == ["smiles", "qed", "pred_t"]
    assert not np.allclose(again["pred_t"].to_numpy()[[0, 4]], out["pred_t"].to_numpy()[[0, 4]])
    with pytest.raises(InputError, match="no column 'SMILES'"):
        annotate(table, r, vae, smiles_column="SMILES")


# ---------------------------------------------------------------------- labelled data
def test_read_labeled_csv_counts_missing_labels():
    d = read_labeled_csv(MEASURED, ["logp_meas", "toxic"])
    assert d.y.shape == (len(d.smiles), 2) and d.targets == ["logp_meas", "toxic"]
    assert d.nan_labels["logp_meas"] > 0 and d.nan_labels["toxic"] > 0
    assert len(d.smiles) + len(d.errors) == 300
    assert all("no label" in e.reason for e in d.errors)


def write(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_read_labeled_csv_keeps_triple_bonds_and_na_tokens(tmp_path):
    p = write(tmp_path, "SMILES,y\nC#N,1.5\nCC#CC,NaN\nCCO,\nCCC,NA\nCCCC,-2e-1\n,3\n")
    d = read_labeled_csv(p, ["y"])
    assert d.smiles == ["C#N", "CCCC"] and d.rows == [1, 5]
    np.testing.assert_allclose(d.y[:, 0], [1.5, -0.2])
    assert [e.row for e in d.errors] == [2, 3, 4, 6]


def test_read_labeled_csv_numbers_rows_like_read_molecules(tmp_path):
    """A blank line is a row, as in read_molecules (``molvae encode``), and a label error names that row."""
    from molvae.data import read_molecules

    p = write(tmp_path, "smiles,y\nCCO,1\n\nCCN,2\n\n\nCCC,3\n")
    d = read_labeled_csv(p, ["y"])
    assert d.rows == [1, 3, 6] == [r for r, _ in read_molecules(p)[0]]
    assert [(e.row, e.reason) for e in d.errors] == [(2, "empty SMILES"), (4, "empty SMILES"), (5, "empty SMILES")]
    d = read_labeled_csv(write(tmp_path, "smiles,y\nCCO,1\n\n\nCCN,high\n"), ["y"])
    assert [(e.row, e.reason) for e in d.errors if e.input] == [(4, "label y is not a number: 'high'")]


def test_read_labeled_csv_says_which_of_two_target_columns_of_one_name_is_read(tmp_path, caplog):
    """Two columns named 'y' (a value and its unit, a repeated export): pandas renamed the
    second 'y.1' and the first was learned without a word, where read_molecules names a
    repeated SMILES column in a warning. Now the target says so too."""
    p = tmp_path / "labels.csv"
    p.write_text("smiles,y,y\nCCO,1.5,100\nCCN,2.5,200\n")
    with caplog.at_level("WARNING", logger="molvae.predictors"):
        d = read_labeled_csv(p, ["y"])
    assert d.y[:, 0].tolist() == [1.5, 2.5]
    assert [r.getMessage() for r in caplog.records] == [f"{p} has 2 columns named 'y': reading the first (column 2) as the target"]


def test_read_labeled_csv_finds_the_named_smiles_column_in_another_case(tmp_path):
    """--smiles-column SMILES for a column 'smiles' was refused with --target, while
    read_molecules (--rdkit, encode, predict) finds it, as its only match in any case."""
    p = write(tmp_path, "Smiles,y,SMILES_2\nCCO,1\nCCN,2\n")
    assert read_labeled_csv(p, ["y"], smiles_column="SMILES").smiles == ["CCO", "CCN"]
    assert read_labeled_csv(p, ["y"], smiles_column="Smiles").rows == [1, 2]
    with pytest.raises(InputError, match="no column 'mol'"):
        read_labeled_csv(p, ["y"], smiles_column="mol")


@pytest.mark.parametrize(
    "text, targets, fragment",
    [
        ("smiles,a\nCCO,1\n", ["logS"], "no target column 'logS' (columns: smiles, a)"),
        ("smiles,a\nCCO,>10\nCCN,high\n", ["a"], "no row with a SMILES and a label (2 rows skipped)"),
        ("smiles,a\nCCO,inf\n", ["a"], "no row with a SMILES and a label (1 rows skipped)"),
        ("name,a\nx,1\n", ["a"], "no 'smiles' column"),
        ("smiles,a\nCCO,\nCCN,nan\n", ["a"], "no row with a SMILES and a label"),
        ("smiles,a\nCCO,1\n", ["a", "a"], "repeat"),
        ("smiles,a\nCCO,1\n", ["smiles"], "cannot be a target"),
    ],
)
def test_read_labeled_csv_errors(tmp_path, text, targets, fragment):
    with pytest.raises(InputError) as err:
        read_labeled_csv(write(tmp_path, text), targets)
    assert fragment in str(err.value)


def test_read_labeled_csv_skips_and_reports_rows_whose_label_is_not_a_number(tmp_path):
    """A text label ('>10', 'high') or an infinite one refused the whole file; such a row
    is now a RowError naming the column and the cell, and the other rows are used. With
    several targets, one unusable label skips the row (the first such column is named)."""
    p = write(tmp_path, "smiles,a,b\nCCO,1,5\nCCN,>10,6\nCCC,2,high\nCCCC,-inf,x\nCOC,n/a,7\nCOCC,3,\n")
    data = read_labeled_csv(p, ["a", "b"])
    assert data.rows == [1, 5, 6] and data.smiles == ["CCO", "COC", "COCC"]
    np.testing.assert_array_equal(data.y, [[1, 5], [np.nan, 7], [3, np.nan]])
    assert [(e.row, e.input, e.reason) for e in data.errors] == [
        (2, "CCN", "label a is not a number: '>10'"),
        (3, "CCC", "label b is not a number: 'high'"),
        (4, "CCCC", "label a is infinite: '-inf'"),
    ]
    assert str(data.errors[0]) == "row 2: label a is not a number: '>10' ('CCN')"
    assert data.nan_labels == {"a": 1, "b": 1}
    only_a = read_labeled_csv(p, ["a"])  # b is not read: its text does not matter
    assert only_a.rows == [1, 3, 6] and [e.row for e in only_a.errors] == [2, 4, 5]  # 5: a is n/a
    with pytest.raises(InputError) as err:  # every label unusable: refused, with the reasons
        read_labeled_csv(write(tmp_path, "smiles,a\nCCO,>10\nCCN,\n"), ["a"])
    assert [e.reason for e in err.value.errors] == ["label a is not a number: '>10'", "no label (a all missing)"]


def test_rdkit_labels():
    from molvae.chem import properties

    y = rdkit_labels(["CCO", "xx"], ["logp", "qed"])
    assert y.shape == (2, 2) and np.isfinite(y[0]).all() and np.isnan(y[1]).all()
    p = properties("CCO")
    assert y[0].tolist() == [p["logp"], p["qed"]]  # the columns in the order the names are given
    assert rdkit_labels(["CCO"], ["qed", "logp"])[0].tolist() == [p["qed"], p["logp"]]
    with pytest.raises(InputError, match="unknown RDKit property foo"):
        rdkit_labels(["CCO"], ["foo"])


def test_rdkit_labels_take_a_single_smiles_or_name_as_one():
    """rdkit_labels('CCO', ['qed']) labelled 'C', 'C' and 'O' (three rows for one
    molecule, no word), and rdkit_labels(smiles, 'qed') said 'unknown RDKit properties
    q, e, d'; a generator failed with 'has no len()'. A single string is now one
    molecule or one name, and any iterable of SMILES is taken."""
    expected = rdkit_labels(["CCO"], ["qed"])
    assert expected.shape == (1, 1) and np.isfinite(expected).all()
    np.testing.assert_array_equal(rdkit_labels("CCO", ["qed"]), expected)
    np.testing.assert_array_equal(rdkit_labels(["CCO"], "qed"), expected)
    np.testing.assert_array_equal(rdkit_labels((s for s in ["CCO", "xx"]), "qed")[:1], expected)
    assert np.isnan(rdkit_labels("C1CC", "qed")).all() and rdkit_labels("C1CC", "qed").shape == (1, 1)


def test_train_predictor_end_to_end(vae, model_path, tmp_path):
    data = read_labeled_csv(MEASURED, ["logp_meas", "qed_meas"])
    res = train_predictor(vae, data, "ridge", folds=3, seed=0, description={"labels": "measured"})
    p = res.predictor
    assert p.vae_sha256 == file_sha256(model_path) and p.cv["target"].tolist() == ["logp_meas", "qed_meas"]
    assert res.predicted.shape == res.measured.shape == (len(res.rows), 2)
    assert len(res.rows) + len(res.errors) == len(data.rows)
    assert p.training_data["rows_used"] == len(res.rows) and p.training_data["labels"] == "measured"
    q = LatentPredictor.load(p.save(tmp_path / "p.skops"), vae=vae)
    z = vae.encode(["CCO", "c1ccccc1"])
    assert np.array_equal(p.predict(z), q.predict(z))


def test_save_with_vae_records_it(vae, model_path, tmp_path):
    z = vae.encode(["CCO", "c1ccccc1", "CCN", "CC(=O)O"])
    p = LatentPredictor("ridge", ["t"]).fit(z, np.arange(4.0))
    q = LatentPredictor.load(p.save(tmp_path / "p.skops", vae=vae), vae=vae)
    assert q.vae_sha256 == file_sha256(model_path) and q.vae_path == str(model_path)


def test_constant_targets_needs_one_name_per_label_column():
    """More names than label columns ended in a bare IndexError, fewer left the other
    columns unchecked (a constant second column was not reported), and one name as a
    string was read letter by letter; now a PredictorError, and a string is one name."""
    from molvae.predictors import constant_targets

    y = np.array([[1.0, 3.0], [2.0, 3.0]])
    for names in (["a"], ["a", "b", "c"]):
        with pytest.raises(PredictorError, match=f"{len(names)} target names for 2 label columns"):
            constant_targets(y, names)
    assert constant_targets([3.0, 3.0, np.nan], "qed") == {"qed": 3.0}
    assert constant_targets(y, ("a", "b")) == {"b": 3.0}


def test_one_target_name_as_a_string_is_one_target(tmp_path):
    """LatentPredictor(targets="logS") had the targets l, o, g and S (so fit refused one
    label column as '4 target names for 1 label columns'), cross_validate(targets="q")
    reported target q but targets="qed" failed, and read_labeled_csv(path, "logS") asked
    for a column 'l'. A single string is one name now."""
    z, y = synthetic()
    y = y[:, 0]
    p = LatentPredictor("ridge", targets="logS").fit(z, y)
    assert p.targets == ["logS"] and p.predict(z[:2]).shape == (2, 1)
    table = cross_validate(z, y, "ridge", folds=2, targets="logS")
    assert list(table["target"]) == ["logS"]
    csv = tmp_path / "labels.csv"
    csv.write_text("smiles,logS\nCCO,1.5\nc1ccccc1,2.0\n")
    data = read_labeled_csv(csv, "logS")
    assert data.targets == ["logS"] and data.y.shape == (2, 1)
    out = scatter_plot(y[:, None], y[:, None], "logS", tmp_path / "s.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_annotate_reads_a_missing_string_cell_as_empty(vae, model_path):
    """A pandas 'string' column's missing cell (pd.NA) became the text '<NA>', reported as
    'RDKit cannot parse SMILES'; it is an empty SMILES now, as None and NaN are."""
    z = vae.encode(["CCO", "c1ccccc1", "CCN"])
    p = LatentPredictor("ridge", ["t"]).fit(z, np.arange(3.0))
    p.vae_sha256 = file_sha256(model_path)
    table = pd.DataFrame({"smiles": pd.array(["CCO", pd.NA], dtype="string")})
    out, errors = annotate(table, p, vae, return_errors=True)
    assert [(e.row, e.input, e.reason) for e in errors] == [(1, "", "empty SMILES")]
    assert out["pred_t"].isna().tolist() == [False, True]


def test_read_labeled_csv_names_its_python_arguments_not_the_cli_flags(tmp_path):
    """read_labeled_csv said '--target names repeat', 'repeat --target: --target a
    --target b' and 'name one with --smiles-column' to a Python call, which gives
    targets=[...] and smiles_column=. It names those arguments now; the CLI passes its
    flags (option=, target_option=) and its messages are unchanged."""
    p = tmp_path / "labels.csv"
    p.write_text("smiles,a,b\nCCO,1,2\nCCN,3,4\n")
    with pytest.raises(InputError, match=r"^targets names repeat: a, a$"):
        read_labeled_csv(p, ["a", "a"])
    with pytest.raises(InputError) as info:
        read_labeled_csv(p, ["a,b"])
    assert str(info.value).endswith("; for several targets, give one name each: targets=['a', 'b']")
    assert "--" not in str(info.value)
    with pytest.raises(InputError) as info:
        read_labeled_csv(p, ["a,b"], target_option="--target")
    assert str(info.value).endswith("; for several targets, repeat --target: --target a --target b")
    with pytest.raises(InputError, match=r"^--target names repeat: a, a$"):
        read_labeled_csv(p, ["a", "a"], target_option="--target")
    q = tmp_path / "no_smiles.csv"
    q.write_text("structure,a\nCCO,1\n")
    with pytest.raises(InputError) as info:
        read_labeled_csv(q, ["a"])
    assert str(info.value) == f"{q} has no 'smiles' column (columns: structure, a); name one with smiles_column"
    with pytest.raises(InputError) as info:
        read_labeled_csv(q, ["a"], option="--smiles-column")
    assert str(info.value).endswith("name one with --smiles-column")
