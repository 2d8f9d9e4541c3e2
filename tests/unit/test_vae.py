"""MolVAE, the user-facing model: encode, try_encode, decode, sample, novelty."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from rdkit import Chem

from molvae.alphabet import SequenceTooLongError, UnknownTokenError
from molvae.chem import InvalidMoleculeError, standardize
from molvae.checkpoint import CheckpointError
from molvae.vae import MolVAE

LONG = "C" * 200


def test_load_and_describe(vae, model_path):
    assert vae.d_z == 8
    assert vae.max_length == vae.alphabet.max_length > 0
    assert vae.path == model_path
    assert "state_dict" not in vae.checkpoint and "train_hashes" not in vae.checkpoint
    assert vae.checkpoint["training"]["steps"] == 60
    assert "d_z=8" in repr(vae)
    assert not vae.model.training


def test_load_missing(tmp_path):
    with pytest.raises(CheckpointError):
        MolVAE.load(tmp_path / "nothing.pt")


def test_encode_shape_and_determinism(vae, test_smiles):
    smiles = test_smiles[:20]
    z = vae.encode(smiles)
    assert z.shape == (20, 8) and z.dtype == np.float32
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z, vae.encode(smiles))
    assert vae.encode("CCO").shape == (1, 8)
    assert vae.encode([]).shape == (0, 8)
    assert len({tuple(r) for r in z.round(5)}) > 1  # not one point for everything


def test_encode_does_not_depend_on_batch_company(vae, test_smiles):
    """Molecules of different lengths in one batch are encoded as if alone (padding is masked)."""
    smiles = sorted(test_smiles[:12], key=len)
    together = vae.encode(smiles)
    for i in (0, 5, 11):
        np.testing.assert_allclose(together[i], vae.encode(smiles[i])[0], atol=1e-5)
    np.testing.assert_allclose(vae.encode(smiles[::-1])[::-1], together, atol=1e-5)


def test_salts_and_stereo_are_standardized_before_encoding(vae):
    np.testing.assert_allclose(vae.encode("CC(=O)[O-].[Na+]"), vae.encode("CC(=O)O"), atol=1e-6)
    assert not vae.alphabet.has_stereo  # MOSES has no stereo
    np.testing.assert_allclose(vae.encode("C[C@H](N)c1ccccc1"), vae.encode("CC(N)c1ccccc1"), atol=1e-6)
    assert vae.tokenize("C[C@H](N)c1ccccc1") == vae.tokenize("CC(N)c1ccccc1")


def test_stereo_removal_is_logged_once_per_molecule(model_path, caplog):
    fresh = MolVAE.load(model_path)  # its own record of what it has logged
    with caplog.at_level("INFO", logger="molvae.vae"):
        for _ in range(3):  # e.g. anchor, fingerprint and analogues of one query
            fresh.tokenize("C[C@H](N)c1ccccc1")
        fresh.tokenize("C[C@@H](O)c1ccccc1")
    logged = [r.getMessage() for r in caplog.records if "stereochemistry removed" in r.getMessage()]
    assert logged == [
        "stereochemistry removed from C[C@H](N)c1ccccc1 (the model has no stereo tokens)",
        "stereochemistry removed from C[C@@H](O)c1ccccc1 (the model has no stereo tokens)",
    ]


def test_stereo_removal_in_a_batch_is_one_line(model_path, caplog):
    """A file of many stereo molecules logs one line that counts them, not one per row."""
    fresh = MolVAE.load(model_path)
    stereo = [f"C[C@H](N){'C' * k}O" for k in range(1, 11)]
    with caplog.at_level("INFO", logger="molvae.vae"):
        mu, errors = fresh.try_encode([*stereo, "CCO", "C1CC"])
        fresh.encode(stereo[:2] + ["C[C@@H](O)c1ccccc1"])  # two already logged: one new line
    logged = [r.getMessage() for r in caplog.records if "stereochemistry removed" in r.getMessage()]
    assert logged == [
        "stereochemistry removed from 10 of 12 molecules (the model has no stereo tokens), first C[C@H](N)CO",
        "stereochemistry removed from C[C@@H](O)c1ccccc1 (the model has no stereo tokens)",
    ]
    assert [e.row for e in errors] == [11] and np.isfinite(mu[:11]).all()


def test_encode_raises_for_the_first_bad_molecule(vae):
    with pytest.raises(InvalidMoleculeError):
        vae.encode(["CCO", "C1CC"])
    with pytest.raises(UnknownTokenError) as info:
        vae.encode(["CCO", "C[Se]C"])
    assert info.value.tokens == ["[Se]"] and info.value.molecule == "C[Se]C"
    with pytest.raises(SequenceTooLongError):
        vae.encode([LONG])


def test_encode_of_none_or_a_number_names_what_it_takes(vae):
    """encode(None) ended in "'NoneType' object is not iterable"."""
    for bad in (None, 5):
        with pytest.raises(TypeError, match=f"encode takes a SMILES string or a sequence of them, got {type(bad).__name__}"):
            vae.encode(bad)


def test_try_encode_of_none_or_a_number_names_what_it_takes(vae):
    """try_encode(None) ended in "'NoneType' object is not iterable", as encode(None) did."""
    for bad in (None, 5):
        with pytest.raises(TypeError, match=f"try_encode takes a SMILES string or a sequence of them, got {type(bad).__name__}"):
            vae.try_encode(bad)


def test_try_encode_reports_rows(vae):
    smiles = ["CCO", "C1CC", "C[Se]C", LONG, "", "c1ccccc1O"]
    mu, errors = vae.try_encode(smiles)
    assert mu.shape == (6, 8)
    bad = {e.row for e in errors}
    assert bad == {1, 2, 3, 4}
    for i in range(6):
        assert np.isnan(mu[i]).all() == (i in bad)
    np.testing.assert_allclose(mu[[0, 5]], vae.encode(["CCO", "c1ccccc1O"]), atol=1e-6)
    reasons = {e.row: e.reason for e in errors}
    assert "parse" in reasons[1]
    assert "[Se]" in reasons[2]
    assert "200" in reasons[3] and str(vae.max_length) in reasons[3]
    # the report shows each molecule once (the reason used to repeat it: "(molecule C[Se]C) ('C[Se]C')")
    assert str(errors[1]) == "row 2: token [Se] not in the model's alphabet ('C[Se]C')"
    assert "molecule" not in reasons[3]
    assert "empty" in reasons[4]
    assert {e.row: e.input for e in errors}[2] == "C[Se]C"


def test_try_encode_with_logvar_and_all_bad(vae):
    mu, logvar, errors = vae.try_encode(["CCO", "xx"], return_logvar=True)
    assert logvar.shape == (2, 8) and np.isfinite(logvar[0]).all() and np.isnan(logvar[1]).all()
    mu, errors = vae.try_encode(["xx", "C[Se]C"])
    assert np.isnan(mu).all() and len(errors) == 2


def test_coverage(vae):
    assert vae.coverage("CCO") == []
    assert vae.coverage("C[Se]C[Si](C)C") == ["[Se]", "[Si]"]
    with pytest.raises(InvalidMoleculeError):
        vae.coverage("C1CC")


def test_decode_returns_one_canonical_smiles_per_point(vae, test_smiles):
    z = vae.encode(test_smiles[:10])
    out = vae.decode(z)
    assert isinstance(out, list) and len(out) == 10
    for s in out:
        assert isinstance(s, str)
        if s:
            assert Chem.CanonSmiles(s) == s
    assert out == vae.decode(z)  # greedy decoding is deterministic
    assert len(vae.decode(np.zeros(8))) == 1  # a single point
    assert len(vae.decode_selfies(z)) == 10


def test_decode_rejects_bad_latents(vae):
    with pytest.raises(ValueError, match="shape"):
        vae.decode(np.zeros((3, 5)))
    # the shape given is named, not the (1, 0) it was reshaped to
    with pytest.raises(ValueError, match=re.escape("got (0,)")):
        vae.decode([])
    assert vae.decode(np.zeros((0, 8))) == []
    with pytest.raises(ValueError, match="NaN"):
        vae.decode(np.full((2, 8), np.nan))
    with pytest.raises(ValueError, match="infinite"):
        vae.decode(np.full((1, 8), np.inf))
    with pytest.raises(ValueError, match="infinite"):
        vae.decode(np.full((1, 8), 1e39))  # finite in float64, infinite in float32
    for t in (-1.0, float("nan"), float("inf"), 1e-40):  # 1e-40: logits / t overflow float32
        with pytest.raises(ValueError, match="temperature"):
            vae.decode(np.zeros((1, 8)), temperature=t)
    assert len(vae.decode(np.zeros((2, 8)), temperature=1e-30, seed=0)) == 2


def test_decode_batch_size_must_be_a_positive_integer(vae):
    """decode_selfies(z, batch_size=-5) decoded nothing and returned [] for 3 points, without
    a word; 0 failed inside range(), 2.5 and None with Python's TypeError. Each is now a
    ValueError naming batch_size; any batch size >= 1 gives the same output."""
    z = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    for bad in (-5, 0, 2.5, True, None):
        with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1, got {bad!r}"):
            vae.decode_selfies(z, batch_size=bad)
    assert vae.decode_selfies(z, batch_size=1) == vae.decode_selfies(z, batch_size=np.int64(2)) == vae.decode_selfies(z)


def test_temperature_must_be_a_real_number(vae):
    """temperature=True was taken as 1 and sampled tokens; '1' and None ended in Python's
    'must be real number, not str', naming no argument. Each is now a TypeError naming
    the temperature, in decode, sample and generate; numpy numbers are still taken."""
    from molvae.generation import generate

    z = np.zeros((1, 8))
    for bad in (True, "1", None, np.array([1.0])):
        message = f"temperature must be a real number, got {type(bad).__name__}"
        with pytest.raises(TypeError, match=message):
            vae.decode(z, temperature=bad)
        with pytest.raises(TypeError, match=message):
            vae.sample(2, temperature=bad)
        with pytest.raises(TypeError, match=message):
            generate(vae, 2, temperature=bad, n_jobs=1)
    assert vae.decode(z, temperature=np.float32(1.0), seed=0) == vae.decode(z, temperature=1.0, seed=0)


@pytest.mark.parametrize(
    "z, kind",
    [
        (np.zeros((1, 8)) + 1j, "complex"),  # the imaginary part was dropped with a ComplexWarning
        (torch.zeros(1, 8, dtype=torch.complex64), "complex"),
        ([["0.1"] * 8], "text"),  # read as numbers
        (np.zeros((1, 8), dtype=bool), "booleans"),  # read as 0 and 1
        (np.array([[None] * 8]), "objects"),  # was "latent points contain NaN"
    ],
)
def test_decode_and_predict_refuse_what_is_not_real_numbers(vae, z, kind):
    with pytest.raises(TypeError, match=f"latent points must be real numbers, got .*{kind}"):
        vae.decode(z)
    with pytest.raises(TypeError, match=f"must be real numbers, got .*{kind}"):
        vae.decode_selfies(z)


def test_decode_takes_tensors_of_any_real_type(vae):
    want = vae.decode(np.zeros((2, 8)))
    assert vae.decode(torch.zeros(2, 8, requires_grad=True)) == want
    assert vae.decode(torch.zeros(2, 8, dtype=torch.bfloat16)) == want  # numpy has no bfloat16
    assert vae.decode(np.zeros((2, 8), dtype=np.int64)) == want
    with pytest.raises(ValueError, match="rectangular"):
        vae.decode([[0.0] * 8, [0.0]])


def test_try_encode_takes_one_string_as_one_molecule(vae):
    mu, errors = vae.try_encode("CCO")
    assert mu.shape == (1, 8) and not errors
    np.testing.assert_array_equal(mu, vae.encode("CCO"))


def test_sample_is_reproducible(vae):
    a = vae.sample(30, seed=3)
    assert len(a) == 30 and all(isinstance(s, str) for s in a)
    assert a == vae.sample(30, seed=3)
    assert a != vae.sample(30, seed=4)
    valid = [s for s in a if s]
    assert valid and all(Chem.MolFromSmiles(s) is not None for s in valid)
    assert vae.sample(0) == []
    for bad in (-1, 2.5, "3", True):  # 2.5 and "3" were torch TypeErrors
        with pytest.raises(ValueError, match="n must be an integer"):
            vae.sample(bad)
    assert len(vae.sample(np.int64(2))) == 2
    np.testing.assert_array_equal(vae.sample_latent(5, seed=1), vae.sample_latent(5, seed=1))
    assert vae.sample_latent(5).shape == (5, 8)


def test_temperature_sampling_depends_on_seed(vae):
    z = vae.sample_latent(30, seed=0)
    assert vae.decode(z, temperature=1.0, seed=1) == vae.decode(z, temperature=1.0, seed=1)
    assert vae.decode(z, temperature=1.0, seed=1) != vae.decode(z, temperature=1.0, seed=2)


def test_is_novel(vae, train_smiles):
    seen = [standardize(s) for s in train_smiles[:50]]
    assert not vae.is_novel(seen).any()
    fresh = ["O", "C[Se]C", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "N#N"]
    assert vae.is_novel(fresh).all()
    flags = vae.is_novel([seen[0], "O"])
    assert flags.tolist() == [False, True]
    assert vae.train_hashes.size > 0 and vae.train_hashes.size <= len(train_smiles)


def test_is_novel_without_hashes(vae):
    bare = MolVAE(vae.model, vae.alphabet, {k: v for k, v in vae.checkpoint.items()}, None)
    assert bare.train_hashes.size == 0
    assert bare.is_novel(["CCO", "O"]).all()
    assert bare.is_novel(["", "CCO"]).tolist() == [False, True]


def test_is_novel_empty_string_is_not_novel_and_none_is_refused(vae):
    # '' (an invalid decoding) was "novel"; None gave a bare AttributeError from its hash
    assert vae.is_novel(["", "O"]).tolist() == [False, True]
    for bad in ([None], ["O", 5]):
        with pytest.raises(TypeError, match=r"is_novel takes canonical SMILES strings; entry \d is (NoneType|int)"):
            vae.is_novel(bad)


def test_reconstruction_accuracy(vae, test_smiles):
    from molvae.metrics import reconstruction_accuracy

    smiles = test_smiles[:15] + ["C1CC", "C[Se]C"]
    acc, table, errors = reconstruction_accuracy(vae, smiles)
    assert 0.0 <= acc <= 1.0
    assert len(table) == 15 and list(table.columns) == ["input", "canonical", "decoded", "reconstructed"]
    assert sorted(e.row for e in errors) == [15, 16]
    assert table["reconstructed"].tolist() == (table["canonical"] == table["decoded"]).tolist()
    assert acc == pytest.approx(table["reconstructed"].mean())
    # the decodings are the model's greedy decodings of the posterior means, not the inputs
    assert table["input"].tolist() == test_smiles[:15]
    assert table["decoded"].tolist() == vae.decode(vae.encode(test_smiles[:15]))
    assert table["canonical"].tolist() == [standardize(s, remove_stereo=True) for s in test_smiles[:15]]
    acc, table, errors = reconstruction_accuracy(vae, ["xx"])
    assert math.isnan(acc) and len(table) == 0 and len(errors) == 1


def test_reconstruction_accuracy_takes_a_series_by_position_and_a_string_as_one_molecule(vae, test_smiles):
    """reconstruction_accuracy read the input by label (smiles[i]) but try_encode counts
    positions: a Series with another index (after df.sample() or a filter) put each
    decoding beside another molecule's input, a wrong accuracy without a word; a single
    string was encoded as one molecule but read back one character at a time
    (InvalidMoleculeError for 'c'). Both are now taken by position."""
    import pandas as pd

    from molvae.metrics import reconstruction_accuracy

    smiles = test_smiles[:6] + ["C1CC"]
    acc, table, errors = reconstruction_accuracy(vae, smiles)
    shuffled = pd.Series(smiles, index=[6, 3, 0, 5, 1, 4, 2])
    acc_s, table_s, errors_s = reconstruction_accuracy(vae, shuffled)
    assert acc_s == acc and errors_s == errors
    pd.testing.assert_frame_equal(table_s, table)
    acc_1, table_1, errors_1 = reconstruction_accuracy(vae, smiles[0])
    pd.testing.assert_frame_equal(table_1, table.iloc[:1])
    assert errors_1 == [] and acc_1 == float(table["reconstructed"].iloc[0])


def test_sample_decodes_prior_draws_greedily_by_default(vae):
    from molvae.vae import DEFAULT_TEMPERATURE

    assert DEFAULT_TEMPERATURE == 0.0
    assert vae.sample(20, seed=4) == vae.decode(vae.sample_latent(20, seed=4))
    assert vae.sample(20, seed=4, temperature=1.0) == vae.decode(vae.sample_latent(20, seed=4), temperature=1.0, seed=4)


def test_a_point_decodes_the_same_alone_and_in_a_batch():
    """Small batches take other GEMM paths; padding keeps each point's decoding the same.

    The first two points are near-ties of the default model that decoded differently
    alone than in a batch before decoding padded its matrix products to 16 rows.
    """
    from pathlib import Path

    import molvae.model

    vae = MolVAE.load()
    z = np.load(Path(__file__).parents[1] / "data" / "near_tie_latents.npy")
    together = vae.decode_selfies(z)
    alone = [vae.decode_selfies(z[i : i + 1])[0] for i in range(len(z))]
    assert alone == together
    assert molvae.model.MIN_ROWS == 16


def test_repr_says_when_the_steps_are_those_of_a_fine_tuning_run():
    # the shipped model's last stage (stage 5) ran 9,000 steps from stage 4's weights
    assert "steps=9000 (fine-tuned from stage4.pt)" in repr(MolVAE.load())


def test_sample_refuses_more_than_max_molecules(vae):
    # sample(10**13) ended in a RuntimeError from torch's allocator (40 PB of latent points)
    from molvae.generation import MAX_MOLECULES

    for method in (vae.sample, vae.sample_latent):
        with pytest.raises(ValueError, match="at most 10,000,000"):
            method(MAX_MOLECULES + 1)
    assert vae.sample_latent(3, seed=1).shape == (3, vae.d_z)


def test_seeds_beyond_the_accepted_range_are_refused_by_every_sampling_function():
    """sample(2, seed=2**70) ended in torch's 'Overflow when unpacking long long'
    (ValueError without the seed or the range); decode, generate, interpolate, anchor and
    analogs likewise. Every public function taking a seed now refuses one outside
    0..MAX_SEED (2**63 - 1, the CLI's --seed range) with a message naming both."""
    from molvae.generation import generate
    from molvae.interpolation import analogs, anchor, interpolate
    from molvae.vae import MAX_SEED, check_seed

    vae = MolVAE.load()  # the shipped model: the checks come before any model work
    z = np.zeros((1, vae.d_z), dtype=np.float32)
    calls = {
        "sample": lambda s: vae.sample(2, seed=s),
        "sample_latent": lambda s: vae.sample_latent(2, seed=s),
        "decode": lambda s: vae.decode(z, temperature=1.0, seed=s),
        "decode_selfies": lambda s: vae.decode_selfies(z, temperature=1.0, seed=s),
        "MolVAE.analogs": lambda s: vae.analogs("CCO", 2, seed=s),
        "generate": lambda s: generate(vae, 2, seed=s, n_jobs=1),
        "interpolate": lambda s: interpolate(vae, "CCO", "CCN", steps=2, seed=s),
        "anchor": lambda s: anchor(vae, "CCO", seed=s),
        "analogs": lambda s: analogs(vae, "CCO", 2, seed=s),
    }
    for name, call in calls.items():
        for bad in (2**70, 2**64, MAX_SEED + 1, -1, 1.5, True, "3"):
            with pytest.raises(ValueError, match=re.escape(f"seed must be an integer between 0 and {MAX_SEED} (2**63 - 1), got {bad!r}")) as info:
                call(bad)
            assert "Overflow" not in str(info.value), name
    check_seed(MAX_SEED)
    check_seed(np.int64(5))
    assert len(vae.sample(2, seed=MAX_SEED)) == 2
    assert len(vae.decode(z, temperature=1.0, seed=MAX_SEED)) == 1


def test_numpy_integer_seeds_work_like_python_ints_in_every_sampling_function(vae):
    """check_seed accepted np.int64 (a seed from np.arange or a DataFrame), but torch's
    manual_seed then failed with a bare "TypeError: an integer is required" in sample,
    sample_latent, decode at temperature > 0, generate, interpolate, anchor and analogs.
    Each now gives what the same Python int gives."""
    from molvae.generation import generate
    from molvae.interpolation import analogs, anchor, interpolate

    z = vae.sample_latent(3, seed=1)
    calls = {
        "sample": lambda s: vae.sample(3, seed=s, temperature=1.0),
        "sample_latent": lambda s: vae.sample_latent(3, seed=s).tolist(),
        "decode": lambda s: vae.decode(z, temperature=1.0, seed=s),
        "decode_selfies": lambda s: vae.decode_selfies(z, temperature=1.0, seed=s),
        "generate": lambda s: generate(vae, 3, seed=s, n_jobs=1, all_draws=True, with_properties=False).table["smiles"].tolist(),
        "interpolate": lambda s: interpolate(vae, "CCO", "CCN", steps=3, seed=s, anchor_samples=4, invert_steps=0, guide=2)["smiles"].tolist(),
        "anchor": lambda s: anchor(vae, "CCOc1ccccc1", samples=4, invert_steps=0, seed=s)[0].tolist(),
        "analogs": lambda s: analogs(vae, "CCOc1ccccc1", 2, seed=s, pool=20, anchor_samples=4, invert_steps=0)["smiles"].tolist(),
    }
    for name, call in calls.items():
        for np_seed in (np.int64(7), np.uint32(7), np.int8(7)):
            assert call(np_seed) == call(7), name


def test_predict_properties_names_the_shape_it_was_given():
    """predict_properties([]) said 'got (1, 0)', the shape it had reshaped the input to
    (decode names the shape given since it was fixed the same way); one point of shape
    (d_z,) is accepted, as the message now says."""
    vae = MolVAE.load()  # the shipped model has a property head
    assert vae.property_names
    with pytest.raises(ValueError, match=re.escape(f"shape (n, {vae.d_z}) or ({vae.d_z},), got (0,)")):
        vae.predict_properties([])
    with pytest.raises(ValueError, match=re.escape("got (3,)")):
        vae.predict_properties(np.zeros(3))
    assert all(v.shape == (1,) for v in vae.predict_properties(np.zeros(vae.d_z)).values())


def test_decode_and_predict_take_a_read_only_array_without_a_warning(vae, test_smiles):
    """A read-only array (a DataFrame's to_numpy() under copy-on-write, np.load with
    mmap_mode, np.broadcast_to) made torch warn 'The given NumPy array is not writable'
    on every decode and predict_properties call; it is copied first now, same output."""
    import warnings

    z = vae.encode(test_smiles[:3])
    frozen = z.copy()
    frozen.setflags(write=False)
    shipped = MolVAE.load()  # has a property head
    z2 = shipped.encode(["CCO", "c1ccccc1"])
    frozen2 = z2.copy()
    frozen2.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert vae.decode(frozen) == vae.decode(z)
        assert vae.decode(np.broadcast_to(z[0], (2, vae.d_z))) == vae.decode(z[[0, 0]])
        got = shipped.predict_properties(frozen2)
    for name, values in shipped.predict_properties(z2).items():
        np.testing.assert_array_equal(got[name], values)
    assert not frozen.flags.writeable  # the caller's array is left as it was


def test_predict_properties_is_nan_for_rows_that_are_not_finite():
    """A row with an infinite coordinate gave +-inf predictions (QED -inf) from the shipped
    model's linear head, and would give a saturated finite value from a tanh head; NaN in,
    NaN out was undocumented. Such rows now give NaN, and the other rows are unchanged."""
    vae = MolVAE.load()
    z = vae.encode(["CCO", "c1ccccc1", "CCN"]).astype(np.float64)
    z[0, 3] = -np.inf
    z[1, 5] = np.nan
    z[2, 7] = 1e39  # infinite in float32
    clean = vae.encode(["CC(=O)O"])
    got = vae.predict_properties(np.vstack([z, clean]))
    expected = vae.predict_properties(clean)
    assert set(got) == set(vae.property_names)
    for name, values in got.items():
        assert values.shape == (4,) and values.dtype == np.float64
        assert np.isnan(values[:3]).all(), (name, values)
        np.testing.assert_allclose(values[3:], expected[name], rtol=1e-6)


def test_latent_api_shapes_and_dtypes_are_as_documented(vae, test_smiles):
    """The docstrings now state what the code did: encode, try_encode and sample_latent
    give float32 (n, d_z) arrays (0 rows for no molecules), and decode takes one point of
    shape (d_z,), float64 or a tensor alike. Pins that behaviour (a docstring fix)."""
    import pandas as pd

    z = vae.encode(pd.Series(test_smiles[:2], index=[10, 3]))
    assert z.shape == (2, vae.d_z) and z.dtype == np.float32
    np.testing.assert_array_equal(z, vae.encode(test_smiles[:2]))
    assert vae.encode([]).shape == (0, vae.d_z) and vae.encode([]).dtype == np.float32
    mu, logvar, errors = vae.try_encode([test_smiles[0], "C1CC"], return_logvar=True)
    assert mu.dtype == logvar.dtype == np.float32 and np.isnan(logvar[1]).all() and [e.row for e in errors] == [1]
    draws = vae.sample_latent(3, seed=0)
    assert draws.shape == (3, vae.d_z) and draws.dtype == np.float32
    one = vae.decode(z[0])
    assert one == vae.decode(z[:1]) == vae.decode(z[0].astype(np.float64)) == vae.decode(torch.from_numpy(z[0]))


def test_predict_properties_checks_z_also_without_a_property_head(vae):
    """On a model without a property head predict_properties returned {} for any z, text
    or a wrong shape included, though its Raises section says such z is refused; z is
    checked first now, and a good z still gives {}."""
    assert vae.property_names == []  # the tiny test model has no head
    with pytest.raises(ValueError, match=r"latent points must have shape"):
        vae.predict_properties(np.zeros((2, vae.d_z + 1)))
    with pytest.raises(TypeError, match="latent points must be real numbers"):
        vae.predict_properties(np.array(["a"] * vae.d_z))
    assert vae.predict_properties(np.zeros((2, vae.d_z))) == {}


def test_a_latent_beyond_float32_is_refused_without_a_numpy_warning(vae):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's 'overflow encountered in cast' came before the error
        with pytest.raises(ValueError, match="beyond float32's range"):
            vae.decode(np.full((1, vae.d_z), 1e39))
