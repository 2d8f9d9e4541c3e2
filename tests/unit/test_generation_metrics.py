"""generate() and the MOSES-style metrics."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molvae import metrics
from molvae.chem import PROPERTY_NAMES
from molvae.generation import generate


@pytest.fixture(scope="module")
def generated(vae):
    return generate(vae, 25, seed=7, n_jobs=1)


def test_generate_unique_valid_canonical(generated):
    t = generated.table
    assert len(t) == 25
    assert {"smiles", "novel", "qed", "logp", "sa", "mw"} <= set(t.columns)
    assert t["smiles"].is_unique
    for s in t["smiles"]:
        assert s and Chem.MolFromSmiles(s) is not None
        assert Chem.CanonSmiles(s) == s
    assert t[["qed", "logp", "sa", "mw"]].notna().all().all()
    assert t["novel"].dtype == bool
    # each row's properties are its own molecule's
    from molvae.chem import properties

    want = pd.DataFrame([properties(s) for s in t["smiles"]])
    pd.testing.assert_frame_equal(t[list(PROPERTY_NAMES)], want[list(PROPERTY_NAMES)], check_dtype=False)


def test_generation_statistics_are_consistent(generated):
    r = generated
    assert r.draws >= 25 and r.valid <= r.draws and r.unique <= r.valid and r.novel <= r.unique
    assert r.unique >= 25
    assert r.validity == pytest.approx(r.valid / r.draws)
    assert r.uniqueness == pytest.approx(r.unique / r.valid) and r.novelty == pytest.approx(r.novel / r.unique)
    s = r.summary()
    assert s["written"] == 25 and s["draws"] == r.draws and s["seconds"] == r.seconds
    assert (s["validity"], s["uniqueness"], s["novelty"]) == (r.validity, r.uniqueness, r.novelty)
    assert s["molecules_per_s"] == pytest.approx(25 / r.seconds)


def test_decodes_only_the_draws_still_needed(vae):
    """25 molecules do not cost a whole batch of DRAW_BATCH decodes; a top-up batch is small too."""
    from molvae.generation import DRAW_BATCH

    assert generate(vae, 25, seed=7, n_jobs=1, temperature=1.0, with_properties=False).draws < DRAW_BATCH // 4
    r = generate(vae, DRAW_BATCH + 5, seed=3, n_jobs=1, temperature=1.0, with_properties=False)
    assert len(r.table) == DRAW_BATCH + 5
    assert r.draws < 2 * DRAW_BATCH  # the second batch decoded what was missing, not 1,000 more


def test_same_seed_same_molecules_whatever_the_workers(vae, generated):
    again = generate(vae, 25, seed=7, n_jobs=2)
    pd.testing.assert_frame_equal(again.table, generated.table)
    pd.testing.assert_frame_equal(generate(vae, 25, seed=7).table, generated.table)  # the default number
    other = generate(vae, 25, seed=8, n_jobs=1)
    assert other.table["smiles"].tolist() != generated.table["smiles"].tolist()


def test_chunks_come_back_in_draw_order_whatever_the_workers(vae):
    """Several chunks and batches: the workers' output is the decoder's own, in draw order."""
    import torch

    from molvae.generation import CHUNK, DRAW_BATCH

    n = DRAW_BATCH + CHUNK + 7  # two batches, the second cut short, several chunks each
    gen = torch.Generator().manual_seed(5)
    z = torch.cat([torch.randn((DRAW_BATCH, vae.d_z), generator=gen), torch.randn((n - DRAW_BATCH, vae.d_z), generator=gen)])
    r = generate(vae, n, seed=5, all_draws=True, n_jobs=2, with_properties=False)
    assert r.draws == n
    assert r.table["smiles"].tolist() == vae.decode(z.numpy())
    # temperature sampling: the same tokens whatever the number of workers
    one = generate(vae, 3 * CHUNK, seed=5, temperature=1.0, n_jobs=1)
    two = generate(vae, 3 * CHUNK, seed=5, temperature=1.0, n_jobs=2)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert one.draws == two.draws


def test_all_draws_keeps_every_draw(vae):
    r = generate(vae, 40, seed=1, all_draws=True, n_jobs=1)
    assert len(r.table) == r.draws == 40
    invalid = r.table["smiles"] == ""
    assert r.valid == int((~invalid).sum())
    assert r.table.loc[invalid, "qed"].isna().all()
    assert not r.table.loc[invalid, "novel"].any()
    # the draws are the same as the decoder's own sampling of the same prior points
    r2 = generate(vae, 40, seed=1, all_draws=True, n_jobs=2)
    pd.testing.assert_frame_equal(r.table, r2.table)


def test_fitted_latent_draws_come_from_the_models_density(vae, train_smiles):
    """latent='fitted' draws from the model file's Gaussian mixture, not N(0, I): with a
    density that is one point (a tiny covariance), every draw decodes to that point's
    molecule, where prior draws decode to several."""
    from molvae.vae import MolVAE

    point = vae.encode(train_smiles[0])[0].astype(np.float64)
    density = {"weights": np.ones(1), "means": point[None], "cholesky": 1e-6 * np.eye(vae.d_z)[None]}
    fitted = MolVAE(vae.model, vae.alphabet, {**vae.checkpoint, "latent_density": density}, vae.path)
    np.testing.assert_allclose(fitted.sample_latent(20, seed=3, latent="fitted"), np.repeat(point[None], 20, 0), atol=1e-4)
    (expected,) = vae.decode(point[None])
    kw = dict(seed=3, all_draws=True, n_jobs=1, with_properties=False, temperature=0.0)
    assert generate(fitted, 20, latent="fitted", **kw).table["smiles"].tolist() == [expected] * 20
    assert generate(fitted, 20, latent="prior", **kw).table["smiles"].nunique() > 1  # the test can tell


def test_novel_flags_match_the_model(vae, generated):
    flags = vae.is_novel(generated.table["smiles"].tolist())
    assert generated.table["novel"].tolist() == flags.tolist()


def test_bad_arguments(vae):
    with pytest.raises(ValueError):
        generate(vae, 0)
    for t in (-1, float("nan"), 1e-300):
        with pytest.raises(ValueError, match="temperature"):
            generate(vae, 5, temperature=t)


def test_generate_refuses_an_n_that_is_not_an_integer(vae):
    """generate(vae, 2.5) returned 3 molecules and generate(vae, '3') or (vae, None)
    failed with "'<' not supported between instances of 'str' and 'int'"; the docstring
    promises a ValueError for an n that is not from 1 to MAX_MOLECULES. Now every such
    n is refused naming it, as MolVAE.sample does; numpy integers still work."""
    for bad in (2.5, "3", None, True, 0, -1):
        with pytest.raises(ValueError, match=re.escape(f"the number of molecules must be an integer >= 1, got {bad!r}")):
            generate(vae, bad, n_jobs=1)
    assert len(generate(vae, np.int64(2), n_jobs=1, with_properties=False).table) == 2


@pytest.mark.parametrize("n_jobs", [0, -1, 2.5, "2", True])
def test_n_jobs_must_be_an_integer_of_at_least_1(vae, n_jobs):
    # generate and compute_properties ran 0 and -1 in this process; None (compute_properties),
    # 2.5 and "2" gave bare TypeErrors from inside multiprocessing or a comparison
    from molvae.generation import compute_properties

    for call in (
        lambda: generate(vae, 5, n_jobs=n_jobs),
        lambda: compute_properties(["CCO"] * 300, n_jobs=n_jobs),
        lambda: metrics.fcd_statistics(["CCO", "CCN"], n_jobs=n_jobs),
        lambda: metrics.fcd(["CCO", "CCN"], ["CCO", "CCC"], n_jobs=n_jobs),
    ):
        with pytest.raises(ValueError, match=r"n_jobs must be an integer >= 1 .*got"):
            call()


def test_compute_properties_with_n_jobs_none_is_one_process():
    from molvae.generation import compute_properties

    assert len(compute_properties(["CCO"] * 300, n_jobs=None)) == 300


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_compute_properties_gives_each_molecule_its_own_row(n_jobs, test_smiles):
    """The rows are the properties of the molecules in order (NaN for an empty or invalid
    one), in this process and across workers (more than 200 molecules start a pool)."""
    from molvae.chem import properties
    from molvae.generation import compute_properties

    smiles = test_smiles[:230] + ["", "C1CC"]
    smiles[10:10] = ["", "C1CC"]
    got = compute_properties(smiles, n_jobs=n_jobs)
    want = pd.DataFrame([properties(s) for s in smiles], columns=list(PROPERTY_NAMES))
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_compute_properties_takes_a_single_smiles_as_one_molecule():
    """compute_properties('CCO') gave three rows, the properties of C, C and O."""
    from molvae.generation import compute_properties

    one = compute_properties("CCO", n_jobs=1)
    assert one.shape == (1, len(PROPERTY_NAMES))
    pd.testing.assert_frame_equal(one, compute_properties(["CCO"], n_jobs=1))


def test_without_properties(vae):
    r = generate(vae, 5, seed=0, n_jobs=1, with_properties=False)
    assert list(r.table.columns) == ["smiles", "novel"]


# ---------------------------------------------------------------------- metrics
def test_validity_uniqueness_novelty():
    smiles = ["CCO", "OCC", "c1ccccc1", "C1CC", ""]
    assert metrics.validity(smiles) == pytest.approx(3 / 5)
    assert metrics.uniqueness(smiles) == pytest.approx(2 / 3)
    assert metrics.novelty(smiles, {"CCO"}) == pytest.approx(1 / 2)
    assert metrics.novelty(smiles, lambda xs: np.array([x != "c1ccccc1" for x in xs])) == pytest.approx(1 / 2)
    assert math.isnan(metrics.validity([]))
    assert math.isnan(metrics.uniqueness(["C1CC"]))
    assert math.isnan(metrics.novelty(["xx"], set()))


def test_validity_takes_numpy_arrays_series_and_generators_like_the_other_metrics():
    """validity tested `if not smiles`, so a numpy array or pandas Series of several
    molecules raised 'The truth value of an array ... is ambiguous' and a generator
    'object of type generator has no len()', while uniqueness and the others took them."""
    import pandas as pd

    smiles = ["CCO", "C1CC", "c1ccccc1", None]
    for given in (np.array(smiles, dtype=object), np.array(smiles[:3]), pd.Series(smiles, index=[9, 8, 7, 6]), (s for s in smiles), tuple(smiles)):
        expected = 2 / 3 if isinstance(given, np.ndarray) and given.dtype != object else 2 / 4
        assert metrics.validity(given) == pytest.approx(expected)
    assert math.isnan(metrics.validity(np.array([], dtype=str))) and math.isnan(metrics.validity(pd.Series([], dtype=object)))


def test_a_single_smiles_string_is_one_molecule_not_one_per_character(vae):
    """validity('C1CC') read 'C', '1', 'C', 'C' and said 0.75 (an invalid molecule is 0);
    uniqueness, novelty, internal_diversity, mean_heavy_atoms, chem.tanimoto(query,
    'CCO') (three similarities, to C, C and O) and MolVAE.is_novel('CCO') (three flags)
    likewise counted characters, without a word. A single string is now one molecule,
    as in MolVAE.encode."""
    from molvae.chem import tanimoto

    for one, invalid in (("CCO", False), ("C1CC", True)):
        if invalid:
            assert metrics.validity(one) == 0.0
            assert all(math.isnan(f(one)) for f in (metrics.uniqueness, metrics.internal_diversity, metrics.mean_heavy_atoms))
            assert math.isnan(metrics.novelty(one, set()))
        else:
            assert metrics.validity(one) == 1.0 and metrics.uniqueness(one) == 1.0
            assert metrics.novelty(one, {"CCO"}) == 0.0
            assert metrics.internal_diversity(one) == pytest.approx(0.0, abs=1e-12)
            assert metrics.mean_heavy_atoms(one) == 3.0
    np.testing.assert_array_equal(tanimoto("CCO", "CCO"), [1.0])
    assert tanimoto("CCO", "CCO").shape == (1,)
    assert vae.is_novel("CCO").shape == (1,)
    assert vae.is_novel("CCO")[0] == vae.is_novel(["CCO"])[0]


def test_internal_diversity():
    assert metrics.internal_diversity(["CCO", "CCO"]) == pytest.approx(0.0, abs=1e-12)
    d = metrics.internal_diversity(["CCO", "c1ccccc1", "CC(=O)Nc1ccc(O)cc1", "C1CCNCC1"])
    assert 0.5 < d < 1.0
    # two molecules of similarity T: the mean over the 4 ordered pairs is (2 + 2 T^p) / 4
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    t = DataStructs.TanimotoSimilarity(*(gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in ("CCO", "CCCO")))
    assert 0 < t < 1  # 5/9
    for p in (1, 2, 3):
        assert metrics.internal_diversity(["CCO", "CCCO"], p=p) == pytest.approx(1 - ((1 + t**p) / 2) ** (1 / p)), p
    assert metrics.internal_diversity(["CCO", "c1ccccc1"], p=2) == pytest.approx(1 - 0.5**0.5)  # T = 0
    assert math.isnan(metrics.internal_diversity(["C1CC", ""]))


def test_internal_diversity_refuses_a_power_below_1():
    """p=0 raised ZeroDivisionError and a negative p returned a number: IntDiv_p is defined
    for p >= 1 (MOSES reports p = 1 and 2)."""
    for bad in (0, -1, 0.5):
        with pytest.raises(ValueError, match=rf"the power p must be >= 1 \(a finite real number\), got {bad!r}"):
            metrics.internal_diversity(["CCO", "c1ccccc1"], p=bad)
    with pytest.raises(ValueError, match="n_bits"):
        metrics.internal_diversity(["CCO"], n_bits=0)


def test_internal_diversity_refuses_an_n_bits_that_is_not_an_integer():
    """n_bits=1.5 and numpy's int64(512) failed inside RDKit with a Boost.Python
    ArgumentError (a C++ signature dump), True was taken as 1 bit."""
    for bad in (1.5, True, "1024"):
        with pytest.raises(ValueError, match=re.escape(f"n_bits must be an integer >= 1, got {bad!r}")):
            metrics.internal_diversity(["CCO", "c1ccccc1"], n_bits=bad)
    assert metrics.internal_diversity(["CCO", "c1ccccc1"], n_bits=np.int64(512)) == metrics.internal_diversity(["CCO", "c1ccccc1"], n_bits=512)


def test_generate_refuses_a_max_draws_below_1(vae):
    """generate(max_draws=0) silently used the default and max_draws=-5 returned an empty
    table with a warning only."""
    for bad in (0, -5, 2.5, True):
        with pytest.raises(ValueError, match=re.escape(f"max_draws must be an integer >= 1, got {bad!r}")):
            generate(vae, 2, max_draws=bad, n_jobs=1)
    assert len(generate(vae, 2, max_draws=np.int64(500), n_jobs=1, with_properties=False).table) == 2


def test_mean_heavy_atoms():
    assert metrics.mean_heavy_atoms(["CCO", "c1ccccc1", "xx"]) == pytest.approx(4.5)
    assert math.isnan(metrics.mean_heavy_atoms([]))


def test_without_fork_the_work_stays_in_this_process(vae, generated, monkeypatch):
    """Where the platform cannot fork (Windows), generate works inline with the same output."""
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(multiprocessing, "get_context", lambda *a: pytest.fail("no pool may start"))
    pd.testing.assert_frame_equal(generate(vae, 25, seed=7, n_jobs=2).table, generated.table)


def test_a_small_request_starts_no_workers_by_default(vae, generated, monkeypatch):
    """No more workers than chunks: 25 molecules (one chunk) are made in this process."""
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_context", lambda *a: pytest.fail("no pool may start"))
    pd.testing.assert_frame_equal(generate(vae, 25, seed=7).table, generated.table)


def test_fcd_drops_invalid_smiles_as_documented():
    ref = ["CCO", "c1ccccc1", "CCN", "CC(=O)O", "CCCl"]
    gen = ["CCO", "c1ccccc1O", "CCC"]
    expected = metrics.fcd(gen, ref)
    # an unparsable string among the samples or the reference is dropped (fcd_torch raised on it)
    assert metrics.fcd([*gen, "XX", ""], [*ref, "C1CC"]) == pytest.approx(expected)
    stats = metrics.fcd_statistics([*gen, "XX"])
    assert stats["mu"].shape == (512,)


def _sigint_ignored(_=None):
    import signal

    import torch

    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN, torch.get_num_threads()


def test_pool_workers_leave_ctrl_c_to_the_main_process():
    """Ctrl-C reaches the whole process group: generate's workers took it too, and one
    printed 'Process ForkPoolWorker-N:' above 'interrupted'. They ignore SIGINT (and
    still run their own initializer); the main process stops the pool."""
    import signal

    from molvae import moses
    from molvae.generation import _pool, _worker_init

    # as in a terminal (a shell's background job, where pytest may run, starts ignoring it)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        pool = _pool(2, initializer=_worker_init)
        try:
            assert pool.map(_sigint_ignored, range(4), chunksize=1) == [(True, 1)] * 4
        finally:
            pool.terminate()
            pool.join()
        with moses._pool(2, moses._POOL_MIN_ITEMS + 1) as mpool:
            assert all(ignored for ignored, _ in mpool.map(_sigint_ignored, range(4), chunksize=1))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the main process keeps its handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_generate_refuses_more_than_max_molecules(vae):
    from molvae.generation import MAX_MOLECULES

    for all_draws in (False, True):
        with pytest.raises(ValueError, match="MAX_MOLECULES|10,000,000"):
            generate(vae, MAX_MOLECULES + 1, all_draws=all_draws, n_jobs=1)


def test_fcd_takes_a_single_smiles_as_one_molecule_and_needs_two(caplog):
    """fcd('CCO', ref) split the string into the molecules C, C and O and returned a
    number (52.0 against MOSES test); one molecule has no covariance, so it is NaN now,
    with a logged warning instead of fcd_torch's UserWarning. fcd_statistics of fewer than
    two molecules returned {} where its documentation promises mu and sigma."""
    import math
    import warnings

    ref = metrics.moses_reference_fcd("test")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # fcd_torch's own are not let through
        with caplog.at_level("WARNING", logger="molvae.metrics"):
            assert math.isnan(metrics.fcd("CCO", ref))
            assert math.isnan(metrics.fcd(["CCO", "XX"], ref))
            assert math.isnan(metrics.fcd(["CCO", "CCN"], ["CCO", "XX"]))
    assert "at least 2 valid molecules, got 1" in caplog.text and "valid reference molecules, got 1" in caplog.text
    for few in ("CCO", ["CCO", "XX"]):
        with pytest.raises(ValueError, match="at least 2 valid molecules, got 1"):
            metrics.fcd_statistics(few)


def test_fcd_reference_given_by_name_or_as_bad_statistics():
    """A string reference was a molecule per character: fcd(gen, 'test') gave NaN (no
    valid 't', 'e', 's'), a typo the same; statistics of another shape failed with a bare
    AssertionError from fcd_torch, {} with a UserWarning. A MOSES set's name now means its
    shipped statistics, another string and malformed statistics are a ValueError."""
    gen = ["CCO", "c1ccccc1CCOCC", "CC(=O)Nc1ccc(O)cc1"]
    assert metrics.fcd(gen, "test") == pytest.approx(metrics.fcd(gen, metrics.moses_reference_fcd("test")))
    assert metrics.fcd(gen, "test_scaffolds") == pytest.approx(metrics.fcd(gen, metrics.moses_reference_fcd("test_scaffolds")))
    with pytest.raises(ValueError, match="got the string 'tset'"):
        metrics.fcd(gen, "tset")
    for bad in ({}, {"mu": np.zeros(3), "sigma": np.eye(3)}, {"mu": np.full(512, np.nan), "sigma": np.eye(512)}):
        with pytest.raises(ValueError, match=r"'mu' of shape \(512,\)"):
            metrics.fcd(gen, bad)


def test_functions_taking_many_molecules_refuse_none_with_a_message(vae):
    """metrics.validity(None), tanimoto('CCO', None), compute_properties(None),
    rdkit_labels(None, ...) and MolVAE.is_novel(None) raised Python's bare "'NoneType' object
    is not iterable", which names no argument and says nothing of what was expected."""
    from molvae.chem import tanimoto
    from molvae.generation import compute_properties
    from molvae.predictors import rdkit_labels

    calls = [
        lambda v: metrics.validity(v),
        lambda v: metrics.uniqueness(v),
        lambda v: metrics.novelty(v, set()),
        lambda v: metrics.internal_diversity(v),
        lambda v: metrics.mean_heavy_atoms(v),
        lambda v: tanimoto("CCO", v),
        lambda v: compute_properties(v, n_jobs=1),
        lambda v: rdkit_labels(v, ["qed"]),
    ]
    for bad in (None, 3):
        for call in calls:
            with pytest.raises(TypeError, match=f"a SMILES string or a sequence of them, got {type(bad).__name__}"):
                call(bad)
        with pytest.raises(TypeError, match="is_novel takes a SMILES string or a sequence of them"):
            vae.is_novel(bad)
    assert metrics.validity(("CCO", "x")) == 0.5


def test_compute_properties_columns_are_float_even_for_no_molecules():
    """compute_properties([]) gave object columns, so a concatenation with it, or a mean
    of it, was no longer numeric; every column is float64 now, for 0 rows as for n."""
    from molvae.generation import compute_properties

    for smiles in ([], ["CCO", "C1CC"], pd.Series(["CCO"], index=[7])):
        table = compute_properties(smiles, n_jobs=1)
        assert list(table.columns) == list(PROPERTY_NAMES)
        assert (table.dtypes == np.float64).all(), table.dtypes
        assert list(table.index) == list(range(len(smiles)))


def test_internal_diversity_refuses_a_power_that_is_not_a_finite_number():
    """p=None or p='2' ended in a bare TypeError from the comparison ('>=' not supported),
    p=True was taken as 1, and p=inf returned 0.0 whatever the molecules."""
    for bad in (None, "2", True, math.inf, math.nan):
        with pytest.raises(ValueError, match=r"the power p must be >= 1 \(a finite real number\), got"):
            metrics.internal_diversity(["CCO", "c1ccccc1"], p=bad)
    assert metrics.internal_diversity(["CCO", "c1ccccc1"], p=np.int64(2)) == pytest.approx(1 - 0.5**0.5)
    assert metrics.internal_diversity(["CCO", "c1ccccc1"], p=2.0) == pytest.approx(1 - 0.5**0.5)


def test_novelty_refuses_a_training_set_that_is_not_one():
    """novelty(smiles, None) ended in "argument of type 'NoneType' is not iterable" (and
    only when a molecule was valid); now a TypeError naming is_novel, whatever the input."""
    for bad in (None, 3, 2.5):
        for smiles in (["CCO"], []):
            with pytest.raises(TypeError, match="novelty takes is_novel as a callable or a set"):
                metrics.novelty(smiles, bad)
    assert metrics.novelty(["CCO", "c1ccccc1"], {"CCO"}) == 0.5
    assert metrics.novelty(["CCO", "c1ccccc1"], ["CCO"]) == 0.5
    assert metrics.novelty(["OCC"], lambda c: np.ones(len(c), bool)) == 1.0


def test_bytes_are_refused_not_read_one_molecule_per_byte(vae):
    """encode(b'CCO') read the bytes as three molecules, the integers 67, 67 and 79, and
    failed with "not a SMILES string (int): '67'"; validity(b'CCO') gave 0.0 and
    try_encode three row errors. Now a TypeError that says to decode the bytes."""
    for call in (vae.encode, vae.try_encode, metrics.validity, metrics.uniqueness):
        for raw in (b"CCO", bytearray(b"CCO")):
            with pytest.raises(TypeError, match=r"a SMILES string or a sequence of them, got (bytes|bytearray) \(decode bytes to str first\)"):
                call(raw)


def test_a_string_column_with_missing_cells_is_read_as_missing_molecules(vae):
    """A pandas 'string' column holds pd.NA for a missing cell; metrics.validity,
    uniqueness, novelty, internal_diversity, mean_heavy_atoms and compute_properties
    raised "boolean value of NA is ambiguous" on it, and try_encode and annotate reported
    it as "not a SMILES string (NAType)" / an unparsable '<NA>' instead of an empty
    SMILES (as for None and NaN; numpy's float32 NaN too)."""
    from molvae.generation import compute_properties

    column = pd.Series(["CCO", None, "C1CC", "OCC"], dtype="string", index=[9, 8, 7, 6])
    assert column.isna().tolist() == [False, True, False, False]
    assert metrics.validity(column) == 0.5
    assert metrics.uniqueness(column) == 0.5
    assert metrics.novelty(column, set()) == 1.0
    assert metrics.internal_diversity(column) == pytest.approx(0.0, abs=1e-12)
    assert metrics.mean_heavy_atoms(column) == 3.0
    qed = compute_properties(column, n_jobs=1)["qed"]
    assert qed.isna().tolist() == [False, True, True, False]
    _, errors = vae.try_encode(list(column) + [np.float32("nan")])
    assert [(e.row, e.reason) for e in errors if e.reason == "empty SMILES"] == [(1, "empty SMILES"), (4, "empty SMILES")]


def test_a_dataframe_or_2d_array_is_refused_not_read_by_its_column_names(vae):
    """metrics.validity(df) scored the DataFrame's column names as molecules (0.0 for
    columns smiles and y, 1.0 for a column named CCO) and try_encode(df) reported one row
    error per column name; a 2-D array gave its rows as 'not a SMILES string (ndarray)'.
    Now a TypeError that says to pass one column."""
    df = pd.DataFrame({"smiles": ["CCO", "CCN"], "y": [1, 2]})
    for given in (df, pd.DataFrame({"CCO": [1]}), np.array([["CCO"], ["CCN"]])):
        for call in (metrics.validity, metrics.uniqueness, vae.encode, vae.try_encode):
            with pytest.raises(TypeError, match=r"pass one column, as df\['smiles'\]"):
                call(given)
    assert metrics.validity(df["smiles"]) == 1.0 and vae.try_encode(df["smiles"])[1] == []
