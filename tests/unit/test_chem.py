"""RDKit layer: standardization, canonical SMILES, properties, similarity, hashes."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rdkit import Chem

from molvae.chem import (
    PROPERTY_NAMES,
    InvalidMoleculeError,
    canonical_smiles,
    is_valid,
    morgan_fingerprint,
    penalized_logp,
    properties,
    smiles_hash,
    standardize,
    tanimoto,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("CC(=O)[O-].[Na+]", "CC(=O)O"),  # salt stripped, acid neutralized
        ("[Na+].[O-]C(=O)C", "CC(=O)O"),  # order does not matter
        ("CC(=O)O.O.O", "CC(=O)O"),  # solvent dropped
        ("C[NH3+].[Cl-]", "CN"),  # ammonium salt
        ("CC(=O)[O-]", "CC(=O)O"),  # lone anion neutralized
        ("OCC", "CCO"),  # canonical form
        ("C1=CC=CC=C1", "c1ccccc1"),  # aromatized
    ],
)
def test_standardize(given, expected):
    assert standardize(given) == expected


def test_standardize_keeps_a_charge_that_cannot_be_neutralized():
    # a quaternary ammonium has no neutral form
    out = standardize("C[N+](C)(C)C.[Cl-]")
    assert "." not in out and "+" in out


def test_stereo_kept_by_default_and_removed_when_asked():
    assert standardize("CC[C@H](N)O") == "CC[C@H](N)O"
    assert standardize("CC[C@H](N)O", remove_stereo=True) == "CCC(N)O"
    assert standardize("C/C=C/C") == "C/C=C/C"
    assert standardize("C/C=C/C", remove_stereo=True) == "CC=CC"
    assert standardize("C/C=C\\[C@@H](N)O", remove_stereo=True) == standardize("CC=CC(N)O")


@pytest.mark.parametrize("bad", ["", "   ", "C1CC", "xyz", "c1cccc1", "C(C", "CC)(O"])
def test_standardize_rejects_invalid(bad):
    with pytest.raises(InvalidMoleculeError) as info:
        standardize(bad)
    assert info.value.molecule == bad
    assert info.value.reason
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("value, reason", [(None, "empty SMILES"), (float("nan"), "empty SMILES"), (5, "not a SMILES string (int)"), (b"CCO", "not a SMILES string (bytes)")])
def test_standardize_names_a_value_that_is_not_a_string(value, reason):
    with pytest.raises(InvalidMoleculeError) as info:
        standardize(value)
    assert info.value.reason == reason


def test_invalid_molecule_error_is_a_value_error():
    assert issubclass(InvalidMoleculeError, ValueError)


def test_canonical_and_valid():
    assert canonical_smiles("OCC") == canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles("C1CC") is None
    assert canonical_smiles("") is None
    assert is_valid("c1ccccc1") and not is_valid("c1cccc1") and not is_valid("")


@pytest.mark.parametrize("bad", ["", "C1CC", "not a molecule", "c1cccc1"])
def test_properties_of_invalid_are_all_nan(bad):
    props = properties(bad)
    assert list(props) == list(PROPERTY_NAMES)
    assert all(math.isnan(v) for v in props.values()), props


def test_properties_of_aspirin():
    p = properties(ASPIRIN)
    assert list(p) == list(PROPERTY_NAMES)
    assert p["mw"] == pytest.approx(180.16, abs=0.01)
    assert p["qed"] == pytest.approx(0.55, abs=0.01)
    assert p["logp"] == pytest.approx(1.31, abs=0.01)  # Crippen
    assert 1.0 <= p["sa"] <= 2.5  # an easy molecule on the 1..10 scale
    assert p["tpsa"] == pytest.approx(63.6, abs=0.1)
    assert (p["hbd"], p["hba"], p["rings"], p["heavy_atoms"]) == (1, 3, 1, 13)
    assert p["penalized_logp"] == pytest.approx(p["logp"] - p["sa"], abs=1e-9)  # no large ring


def test_properties_of_a_parsed_molecule_equal_those_of_its_smiles():
    assert properties(Chem.MolFromSmiles(ASPIRIN)) == properties(ASPIRIN)
    assert all(math.isnan(v) for v in properties(None).values())


def test_logp_matches_crippen_although_it_comes_from_qed():
    from rdkit.Chem import Crippen

    for smi in (ASPIRIN, "CCN(CC)CCOC(=O)c1ccc(N)cc1", "c1ccc2[nH]ccc2c1"):
        assert properties(smi)["logp"] == Crippen.MolLogP(Chem.MolFromSmiles(smi))


def test_a_failing_property_is_nan_and_the_others_survive(monkeypatch):
    from rdkit.Contrib.SA_Score import sascorer

    from molvae import chem

    def boom(*args, **kwargs):
        raise RuntimeError("simulated RDKit failure")

    monkeypatch.setattr(sascorer, "calculateScore", boom)
    p = properties(ASPIRIN)
    assert math.isnan(p["sa"]) and math.isnan(p["penalized_logp"])
    assert p["qed"] == pytest.approx(0.55, abs=0.01) and p["mw"] == pytest.approx(180.16, abs=0.01)
    monkeypatch.setattr(chem, "qed_properties", boom)
    p = properties(ASPIRIN)
    assert math.isnan(p["qed"])
    assert p["logp"] == pytest.approx(1.31, abs=0.01)  # falls back to Crippen directly


def test_penalized_logp_ring_penalty_and_normalization():
    small = Chem.MolFromSmiles("C1CCCCC1")
    big = Chem.MolFromSmiles("C1CCCCCCCCC1")  # 10-membered ring: penalty 4
    from rdkit.Chem import Crippen
    from rdkit.Contrib.SA_Score import sascorer

    assert penalized_logp(big) == pytest.approx(Crippen.MolLogP(big) - sascorer.calculateScore(big) - 4)
    assert penalized_logp(small) == pytest.approx(Crippen.MolLogP(small) - sascorer.calculateScore(small))
    aspirin = Chem.MolFromSmiles(ASPIRIN)
    raw, norm = penalized_logp(aspirin), penalized_logp(aspirin, normalized=True)
    assert math.isfinite(raw) and math.isfinite(norm)
    assert raw != pytest.approx(norm, abs=0.1)
    # normalized is a different affine scale: the ordering of molecules is kept for logP-dominated pairs
    greasy = Chem.MolFromSmiles("CCCCCCCCCCCCCCCC")
    assert penalized_logp(greasy, normalized=True) > penalized_logp(aspirin, normalized=True)
    # JT-VAE's standardization (the ZINC250k means and standard deviations of its
    # Bayesian-optimization code), each term with its sign: logP, -SA, -cycle
    for mol, cycle in ((big, 4), (aspirin, 0)):
        terms = ((Crippen.MolLogP(mol), 2.4570953396190123, 1.434324401111988), (-sascorer.calculateScore(mol), -3.0525811293166134, 0.8335207024513095), (-cycle, -0.0485696876403053, 0.2860212110245455))
        assert penalized_logp(mol, normalized=True) == pytest.approx(sum((x - mean) / sd for x, mean, sd in terms))


def test_penalized_logp_of_nothing_is_nan():
    assert math.isnan(penalized_logp(None))


def test_tanimoto():
    sims = tanimoto("CCO", ["CCO", "c1ccccc1", "C1CC", "CCCO"])
    assert sims.shape == (4,)
    assert sims[0] == pytest.approx(1.0)
    assert 0.0 <= sims[1] < 0.2
    assert math.isnan(sims[2])
    assert 0.0 < sims[3] < 1.0
    assert all(math.isnan(x) for x in tanimoto("C1CC", ["CCO", "CC"]))
    # the Jaccard index of the Morgan bits (radius 2, 2048 bits), not another similarity (Dice ...)
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bits = {s: set(gen.GetFingerprint(Chem.MolFromSmiles(s)).GetOnBits()) for s in (ASPIRIN, "CC(=O)Nc1ccc(O)cc1", "CCCO", "c1ccccc1O")}
    others = list(bits)[1:]
    want = [len(bits[ASPIRIN] & bits[o]) / len(bits[ASPIRIN] | bits[o]) for o in others]
    assert all(0 < w < 1 for w in want)
    np.testing.assert_allclose(tanimoto(ASPIRIN, others), want, rtol=1e-12)


def test_missing_values_give_nan_properties_and_similarities_not_a_traceback():
    """A column read with pandas holds NaN for an empty cell: properties(nan) raised
    AttributeError ('float' object has no attribute 'GetNumAtoms'), and tanimoto or
    morgan_fingerprint with NaN (as query or among the others) a Boost ArgumentError,
    against the contract that an invalid molecule gives NaN. Now NaN and None are no
    molecule: every property NaN, fingerprint None, similarity NaN."""
    import pandas as pd

    column = pd.read_csv(io.StringIO("smiles\nCCO\n\nCCN\n"), skip_blank_lines=False)["smiles"]
    assert math.isnan(column[1])
    for missing in (math.nan, None, column[1]):
        props = properties(missing)
        assert list(props) == list(PROPERTY_NAMES) and all(math.isnan(v) for v in props.values())
        assert morgan_fingerprint(missing) is None
        assert np.isnan(tanimoto(missing, ["CCO"])).all()
    sims = tanimoto("CCO", column)
    assert sims[0] == pytest.approx(1.0) and math.isnan(sims[1]) and 0 < sims[2] < 1
    assert [math.isnan(p["qed"]) for p in map(properties, column)] == [False, True, False]


def test_smiles_hash_is_stable_48_bit():
    h = smiles_hash("CCO")
    assert h == smiles_hash("CCO")
    assert 0 <= h < 2**48
    # the same in every process (model files store these hashes for novelty): pinned values
    # of BLAKE2b-48, little-endian; a per-process salted hash would pass the checks above
    assert (h, smiles_hash("c1ccccc1")) == (212017137007985, 203227246740250)
    assert smiles_hash("CCO") != smiles_hash("CCN")
    hashes = {smiles_hash("C" * i) for i in range(1, 500)}
    assert len(hashes) == 499


def test_qed_properties_equal_rdkits():
    """The FilterCatalog alert count gives RDKit's QED descriptors exactly, alerts included."""
    import pandas as pd
    from rdkit.Chem import QED

    from molvae.chem import qed_properties
    from tests.conftest import TEST_CSV

    smiles = pd.read_csv(TEST_CSV)["smiles"].tolist()[:400]
    smiles += ["O=[N+]([O-])c1ccccc1", "CC(=O)OO", "C=CC=O", "ClCCl", "[2H]OC"]  # alerts, a kept H
    with_alerts = 0
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        rdkits = QED.properties(mol)
        assert qed_properties(mol) == rdkits, s
        assert qed_properties(Chem.AddHs(mol)) == rdkits, s  # explicit hydrogens
        assert QED.qed(mol, qedProperties=qed_properties(mol)) == QED.qed(mol)
        with_alerts += rdkits.ALERTS > 0
    assert with_alerts > 50  # the comparison covers molecules that match alerts
    with pytest.raises(ValueError):
        qed_properties(None)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("CCO ethanol", "whitespace inside the SMILES"),
        ("CC\tO", "whitespace inside the SMILES"),
        ("CC\u00e9", "non-ASCII character 'é' (U+00E9)"),
        ("c1ccccc1\u200b", "non-ASCII character '\\u200b' (U+200B)"),
        ("CC\u2082", "non-ASCII character '₂' (U+2082)"),
    ],
)
def test_text_rdkit_would_cut_short_is_no_molecule(text, reason):
    """RDKit reads what follows a space, a tab or some non-ASCII characters as the
    molecule's name and drops it: 'CCO ethanol' was ethanol, 'CCé' ethane and benzene with
    a zero-width space pasted after it benzene, valid and without a word. Such text is now
    no molecule: to_mol gives None, its properties are NaN, and standardize (so encoding,
    and a file's rows) names the reason."""
    assert Chem.MolFromSmiles(text) is not None  # what RDKit alone does
    assert canonical_smiles(text) is None and not is_valid(text)
    assert all(math.isnan(v) for v in properties(text).values())
    with pytest.raises(InvalidMoleculeError) as info:
        standardize(text)
    assert info.value.reason == f"not a SMILES string: {reason}"
    # surrounding whitespace is still ignored
    assert standardize(" CCO\n") == "CCO"



def test_a_smiles_too_long_for_rdkit_is_no_molecule_and_does_not_kill_the_process():
    """RDKit's SMILES writer overflows the C stack on a chain of about 19,000 atoms: a
    20,000-character SMILES in a file killed molvae with a segmentation fault (no message,
    no report; canonical_smiles, standardize and so encode, train, evaluate). Run in a
    child process, so that the old crash fails this test instead of ending the session."""
    import subprocess
    import sys

    code = (
        "import math\n"
        "from molvae.chem import InvalidMoleculeError, canonical_smiles, is_valid, properties, standardize\n"
        "s = 'C' * 20000\n"
        "assert canonical_smiles(s) is None and not is_valid(s)\n"
        "assert all(math.isnan(v) for v in properties(s).values())\n"
        "try:\n"
        "    standardize(s)\n"
        "except InvalidMoleculeError as exc:\n"
        "    print(exc.reason)\n"
        "print(standardize('C' * 10000) == 'C' * 10000)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["SMILES of 20,000 characters, more than the 10,000 read", "True"]


def test_functions_of_one_molecule_refuse_a_collection():
    """properties(df["smiles"]) gave all NaN, is_valid(["CCO"]) False and
    canonical_smiles(("CCO",)) None, as if the list were one invalid molecule; now a
    TypeError. Missing values and invalid strings keep their NaN / False / None."""
    import pandas as pd

    for many in (["CCO"], ("CCO",), np.array(["CCO"]), pd.Series(["CCO"], index=[7]), {"CCO"}):
        for fn in (properties, is_valid, canonical_smiles):
            with pytest.raises(TypeError, match=f"{fn.__name__} takes one molecule"):
                fn(many)
    assert all(math.isnan(v) for v in properties(None).values())
    assert not is_valid(float("nan")) and canonical_smiles(None) is None
    assert properties(Chem.MolFromSmiles("CCO"))["heavy_atoms"] == 3


def test_smiles_hash_refuses_what_is_not_a_string():
    """smiles_hash(None) ended in AttributeError ('NoneType' object has no attribute
    'encode'), as did bytes and numbers; now a TypeError."""
    from molvae.chem import smiles_hash

    for bad in (None, 3, b"CCO", float("nan")):
        with pytest.raises(TypeError, match="smiles_hash takes a canonical SMILES string"):
            smiles_hash(bad)
    h = smiles_hash("CCO")
    assert 0 <= h < 2**48 and h == smiles_hash(np.str_("CCO")) and h != smiles_hash("OCC")


def test_fingerprint_and_tanimoto_query_refuse_a_collection():
    """tanimoto(["CCO"], others) gave all NaN and morgan_fingerprint(["CCO"]) None, as if
    the list were one invalid molecule; now a TypeError. An invalid query is still NaN."""
    from molvae.chem import morgan_fingerprint, tanimoto

    for many in (["CCO"], ("CCO",), np.array(["CCO"])):
        with pytest.raises(TypeError, match="tanimoto's query takes one molecule"):
            tanimoto(many, ["CCO"])
        with pytest.raises(TypeError, match="morgan_fingerprint takes one molecule"):
            morgan_fingerprint(many)
    assert np.isnan(tanimoto("C1CC", ["CCO"])).all() and morgan_fingerprint(None) is None
    assert tanimoto("CCO", ["CCO"])[0] == 1.0
    # neither message points to compute_properties, which computes no fingerprint or similarity
    for call in (lambda: tanimoto(["CCO"], ["CCO"]), lambda: morgan_fingerprint(["CCO"])):
        with pytest.raises(TypeError) as info:
            call()
        assert "compute_properties" not in str(info.value)


def test_penalized_logp_takes_a_smiles_string():
    """penalized_logp("CCO") returned NaN, as for a term RDKit failed to compute, though
    the molecule is valid (properties takes a SMILES string, so a notebook passes one);
    it is parsed now, and a list is a TypeError. Invalid or missing SMILES stay NaN."""
    for normalized in (False, True):
        assert penalized_logp("CCO", normalized=normalized) == penalized_logp(Chem.MolFromSmiles("CCO"), normalized=normalized)
    assert penalized_logp("CCO") == pytest.approx(properties("CCO")["penalized_logp"])
    for bad in ("C1CC", "", None, float("nan")):
        assert math.isnan(penalized_logp(bad))
    with pytest.raises(TypeError, match="penalized_logp takes one molecule"):
        penalized_logp(["CCO"])


def test_qed_properties_refuses_what_is_not_a_molecule():
    """qed_properties("CCO") ended in AttributeError ('str' object has no attribute
    'GetNumAtoms'); now a TypeError that says to parse the SMILES first."""
    from molvae.chem import qed_properties, to_mol

    for bad in ("CCO", ["CCO"], 3):
        with pytest.raises(TypeError, match="qed_properties takes an RDKit Mol"):
            qed_properties(bad)
    with pytest.raises(ValueError, match="got None"):
        qed_properties(None)
    assert qed_properties(to_mol("CCO")).MW == pytest.approx(46.069, abs=1e-3)
