"""The known-drug registry (``molvae/assets/drugs.csv``, ``molvae.drugs``) and ``molvae drugs``."""

from __future__ import annotations

import os
import csv
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from molvae.drugs import (
    Drug,
    UnknownDrugError,
    find_drug,
    is_covered,
    load_drugs,
    missing_tokens,
    resolve_molecule,
    search_drugs,
    too_long,
)

DRUGS = load_drugs()


def _default_model_exists() -> bool:
    from importlib import resources

    return resources.files("molvae").joinpath("assets", "default.pt").is_file()


def _composition(formula: str) -> Counter:
    """Element counts of a neutral molecular formula such as 'C9H8O4' (any element order)."""
    parts = re.findall(r"([A-Z][a-z]?)(\d*)", formula)
    assert "".join(e + n for e, n in parts) == formula, f"not a plain formula: {formula!r}"
    counts: Counter = Counter()
    for element, n in parts:
        counts[element] += int(n) if n else 1
    return counts


# ------------------------------------------------------------------------ the table
def test_at_least_100_drugs():
    assert len(DRUGS) >= 100
    assert all(isinstance(d, Drug) for d in DRUGS)


def test_required_fields_and_chembl_id_format():
    for d in DRUGS:
        assert d.name and d.smiles and d.formula, d
        assert d.name == d.name.strip() and all(s == s.strip() and s for s in d.synonyms), d.name
        if d.chembl_id is not None:
            assert re.fullmatch(r"CHEMBL[1-9]\d*", d.chembl_id), (d.name, d.chembl_id)
    ids = Counter(d.chembl_id for d in DRUGS if d.chembl_id)
    assert [i for i, n in ids.items() if n > 1] == []


def test_checked_chembl_ids_match_their_recorded_sources():
    """Every 'checked' identifier is the one data/drugs_chembl_sources.csv names a page for, and back."""
    path = Path(__file__).resolve().parents[2] / "data" / "drugs_chembl_sources.csv"
    with open(path, newline="", encoding="utf-8") as fh:
        sources = list(csv.DictReader(fh))
    assert all(row["source_url"].startswith(("http://", "https://")) for row in sources)
    by_name = {row["name"]: row["chembl_id"] for row in sources}
    assert len(by_name) == len(sources) >= 100
    checked = {d.name: d.chembl_id for d in DRUGS if d.chembl_checked}
    assert checked == by_name


@pytest.mark.parametrize("drug", DRUGS, ids=[d.name for d in DRUGS])
def test_smiles_parses_and_matches_formula(drug):
    mol = Chem.MolFromSmiles(drug.smiles)
    assert mol is not None, f"{drug.name}: RDKit cannot parse {drug.smiles!r}"
    rdkit_formula = rdMolDescriptors.CalcMolFormula(mol)
    # Same composition; RDKit writes carbon-free formulas with H first (cisplatin:
    # 'H6Cl2N2Pt'), the table uses Hill order ('Cl2H6N2Pt').
    assert _composition(drug.formula) == _composition(rdkit_formula), (drug.name, drug.formula, rdkit_formula)


def test_no_two_rows_are_the_same_molecule():
    canon = Counter(Chem.MolToSmiles(Chem.MolFromSmiles(d.smiles)) for d in DRUGS)
    assert [s for s, n in canon.items() if n > 1] == []


def test_stereo_is_given_or_declared_omitted():
    for d in DRUGS:
        mol = Chem.MolFromSmiles(d.smiles)
        centers = Chem.FindMolChiralCenters(mol, includeUnassigned=True, useLegacyImplementation=False)
        unassigned = [idx for idx, label in centers if label == "?"]
        if "@" in d.smiles:
            assert unassigned == [], f"{d.name}: isomeric SMILES leaves centres {unassigned} unassigned"
        elif centers:
            assert "stereo omitted" in d.notes or "achiral" in d.notes, f"{d.name}: stereocentres but notes={d.notes!r}"


def test_every_row_can_be_selfies_encoded():
    """What MolVAE.coverage does before looking at the alphabet must never fail for a row."""
    from molvae.data import to_selfies

    for d in DRUGS:
        for fragment in d.smiles.split("."):
            to_selfies(fragment, remove_stereo=True)
            to_selfies(fragment, remove_stereo=False)


def test_names_and_synonyms_are_unique_across_drugs():
    owner: dict[str, str] = {}
    for d in DRUGS:
        keys = {" ".join(n.split()).casefold() for n in d.names}
        for k in keys:
            assert k not in owner, f"{k!r} names both {owner[k]!r} and {d.name!r}"
            owner[k] = d.name


def test_mix_of_covered_and_uncovered_elements():
    elements = Counter()
    for d in DRUGS:
        elements.update({a.GetSymbol() for a in Chem.MolFromSmiles(d.smiles).GetAtoms()})
    for e in ("P", "I", "B", "Pt"):
        assert elements[e] >= 1, e
    plain = {"C", "N", "O", "S", "F", "Cl", "Br"}
    assert sum(1 for d in DRUGS if {a.GetSymbol() for a in Chem.MolFromSmiles(d.smiles).GetAtoms()} <= plain) >= 100


# ------------------------------------------------------------------------ lookups
def test_load_drugs_is_cached_and_returns_a_fresh_list():
    a, b = load_drugs(), load_drugs()
    assert a == b and a is not b and a[0] is b[0]
    a.clear()
    assert len(load_drugs()) == len(DRUGS)


@pytest.mark.parametrize(
    "query, name",
    [
        ("aspirin", "aspirin"),
        ("ASPIRIN", "aspirin"),
        ("  Aspirin \n", "aspirin"),
        ("acetaminophen", "paracetamol"),
        ("TYLENOL", "paracetamol"),
        ("albuterol", "salbutamol"),
        ("glyburide", "glibenclamide"),
        ("Mefenamic   Acid", "mefenamic acid"),
        ("penicillin g", "benzylpenicillin"),
    ],
)
def test_find_drug_ignores_case_and_accepts_synonyms(query, name):
    assert find_drug(query).name == name


def test_unknown_name_raises_with_suggestion():
    with pytest.raises(UnknownDrugError) as info:
        find_drug("asprin")
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in msg and "asprin" in msg and "'aspirin'" in msg


def test_unknown_name_without_close_match_points_to_the_list():
    with pytest.raises(UnknownDrugError, match="molvae drugs"):
        find_drug("qqqqqqqqqqqq")


def test_search_drugs_is_a_case_insensitive_substring_search():
    names = [d.name for d in search_drugs("PRIL")]
    assert {"captopril", "enalapril", "lisinopril"} <= set(names)
    assert "omeprazole" in names  # via its synonym Prilosec
    assert [d.name for d in search_drugs("aspirin")] == ["aspirin"]
    assert search_drugs("no such drug") == []
    assert len(search_drugs("")) == len(DRUGS)


def test_search_drugs_takes_only_a_string():
    """search_drugs(None) returned [] (no drug), where the CLI's no --search lists them
    all, and search_drugs(5) matched the names with a 5 in them."""
    for bad in (None, 5, b"aspirin"):
        with pytest.raises(TypeError, match=f"search_drugs takes a string, got {type(bad).__name__} {bad!r}"):
            search_drugs(bad)


def test_resolve_molecule_name_smiles_and_garbage():
    aspirin = find_drug("aspirin")
    assert resolve_molecule("Aspirin") == (aspirin.smiles, "aspirin")
    assert resolve_molecule(" tylenol ") == (find_drug("paracetamol").smiles, "paracetamol")
    assert resolve_molecule(" c1ccccc1O ") == ("c1ccccc1O", None)
    assert resolve_molecule("CCO") == ("CCO", None)
    with pytest.raises(UnknownDrugError, match="neither a known drug name nor a valid SMILES"):
        resolve_molecule("not a molecule!")
    with pytest.raises(UnknownDrugError, match="neither"):
        resolve_molecule("C1CC")  # unclosed ring
    with pytest.raises(UnknownDrugError, match="empty"):
        resolve_molecule("   ")


def test_resolve_molecule_refuses_text_after_a_smiles():
    """RDKit reads 'CCO CCN' as the SMILES CCO titled 'CCN', so two molecules in one
    argument, or an unknown name whose first word is a SMILES ('CN gas'), silently became
    the first word's molecule."""
    for text in ("CCO CCN", "CN gas", "CCO\tethanol"):
        with pytest.raises(UnknownDrugError, match="neither a known drug name nor a valid SMILES.*space"):
            resolve_molecule(text)
    # names with spaces, and a SMILES with surrounding whitespace, still work
    assert resolve_molecule("  acetylsalicylic   acid ")[1] == "aspirin"
    assert resolve_molecule("\tCCO\n") == ("CCO", None)


def test_import_does_not_load_torch():
    code = (
        "import sys, molvae.drugs as m; m.load_drugs(); m.find_drug('aspirin'); m.search_drugs('x'); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# ------------------------------------------------------------------------ coverage
class _FakeVAE:
    """``coverage`` like MolVAE's, over a fixed alphabet without metals."""

    tokens = {"[C]", "[N]", "[O]", "[Cl]", "[=O]", "[Branch1]", "[Ring1]"}

    def coverage(self, smiles):
        from molvae.data import to_selfies
        import selfies as sf

        _, s = to_selfies(smiles, remove_stereo=True)
        return [t for t in dict.fromkeys(sf.split_selfies(s)) if t not in self.tokens]


def test_missing_tokens_checks_every_fragment():
    # standardization keeps only the largest fragment, which for cisplatin is ammonia
    cisplatin = find_drug("cisplatin").smiles
    assert _FakeVAE().coverage(cisplatin) == []
    assert "[Pt]" in missing_tokens(_FakeVAE(), cisplatin)
    assert missing_tokens(_FakeVAE(), "CCO") == []


@pytest.fixture(scope="module")
def default_vae():
    if not _default_model_exists():
        pytest.skip("molvae/assets/default.pt is missing")
    from molvae.vae import MolVAE

    return MolVAE.load()


def test_default_model_coverage_of_every_row(default_vae):
    missing = {d.name: missing_tokens(default_vae, d.smiles) for d in DRUGS}  # must not raise
    assert missing["aspirin"] == []
    assert "[I]" in missing["amiodarone"]
    assert "[B]" in missing["bortezomib"]
    assert "[Pt]" in missing["cisplatin"]
    assert sum(1 for m in missing.values() if not m) >= 100


def test_covered_means_the_model_can_encode_the_drug(default_vae):
    """is_covered agrees with encoding itself for every registry drug; too_long names the count."""
    assert too_long(default_vae, find_drug("sildenafil").smiles) == "59 SELFIES tokens, more than 55"
    assert too_long(default_vae, find_drug("aspirin").smiles) is None
    assert not is_covered(default_vae, find_drug("cisplatin").smiles)  # [Pt]: its largest fragment, ammonia, encodes
    assert not is_covered(default_vae, find_drug("sildenafil").smiles)
    covered = 0
    for d in DRUGS:
        try:
            default_vae.tokenize(d.smiles)
            encodes = not missing_tokens(default_vae, d.smiles)
        except ValueError:
            encodes = False
        assert is_covered(default_vae, d.smiles) == encodes, d.name
        covered += encodes
    assert covered == 193


# ------------------------------------------------------------------------ CLI
def test_cli_drugs_search(cli):
    r = cli("drugs", "--search", "aspirin", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    rows = [line for line in r.stdout.splitlines() if "aspirin" in line]
    assert rows and "C9H8O4" in rows[0] and "CHEMBL25" in rows[0]
    assert "unchecked" not in rows[0]  # aspirin's id was checked against a reference page
    if _default_model_exists():
        assert "yes" in rows[0]
    else:
        assert "unknown" in rows[0] and "warning" in r.stderr


def test_cli_drugs_writes_csv(cli, tmp_path):
    out = tmp_path / "drugs.csv"
    r = cli("drugs", "-s", "AMIODARONE", "-o", out, timeout=120)
    assert r.returncode == 0, r.stderr
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [row["name"] for row in rows] == ["amiodarone"]
    assert rows[0]["formula"] == "C25H29I2NO3"
    assert rows[0]["chembl_id"] == "CHEMBL633" and rows[0]["chembl_checked"] == "yes"
    if _default_model_exists():
        assert rows[0]["covered"] == "no" and "[I]" in rows[0]["missing_tokens"]
        assert "[I]" in r.stdout
    else:
        assert rows[0]["covered"] == "unknown"


def test_cli_drugs_writes_its_csv_even_when_the_reader_stops_early(tmp_path, model_path):
    """`molvae drugs -o d.csv | head -1` wrote no CSV: printing the table to the closed
    pipe failed before the file was written."""
    import shlex

    from tests.conftest import MOLVAE

    out = tmp_path / "d.csv"
    cmd = f"{shlex.quote(MOLVAE)} drugs -m {shlex.quote(str(model_path))} -o {shlex.quote(str(out))} | head -1"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert r.stdout.strip(), r.stderr
    with open(out, newline="") as fh:
        assert len(list(csv.DictReader(fh))) == len(DRUGS)


def test_cli_drugs_marks_unchecked_ids(monkeypatch, tmp_path):
    """The shipped ids are all checked, so the marking is tested on a row made
    unchecked: the table shows '(unchecked)' after its id, and not after a checked one."""
    import dataclasses

    import molvae.drugs
    import molvae.vae
    from typer.testing import CliRunner

    from molvae_cli import drugs as _register  # noqa: F401
    from molvae_cli.main import app

    aspirin, amiodarone = find_drug("aspirin"), find_drug("amiodarone")
    rows = (dataclasses.replace(aspirin, chembl_checked=False), amiodarone)
    monkeypatch.setattr(molvae.drugs, "search_drugs", lambda text: rows)
    monkeypatch.setattr(molvae.vae, "default_model_path", lambda: tmp_path / "missing.pt")
    r = CliRunner().invoke(app, ["drugs", "--search", "a"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    (row,) = [line for line in r.stdout.splitlines() if " aspirin " in f" {line} "]
    assert f"{aspirin.chembl_id} (unchecked)" in row
    (row,) = [line for line in r.stdout.splitlines() if " amiodarone " in f" {line} "]
    assert amiodarone.chembl_id in row and "unchecked" not in row


def test_cli_drugs_no_match_is_one_line_error(cli, expect_error):
    expect_error(cli("drugs", "--search", "zzzz", timeout=120), "no drug name or synonym contains 'zzzz'")


def test_cli_drugs_without_default_model_says_unknown(monkeypatch, tmp_path):
    """No default model file: the list is still printed, coverage 'unknown', one warning line."""
    import molvae.vae
    from typer.testing import CliRunner

    from molvae_cli import drugs as _register  # noqa: F401
    from molvae_cli.main import app

    monkeypatch.setattr(molvae.vae, "default_model_path", lambda: tmp_path / "missing.pt")
    r = CliRunner().invoke(app, ["drugs", "--search", "aspirin"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "aspirin" in r.stdout and "unknown" in r.stdout
    warnings = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning:"), r.stderr


def test_cli_drugs_missing_model_file_is_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from molvae_cli import drugs as _register  # noqa: F401
    from molvae_cli.main import app

    r = CliRunner().invoke(app, ["drugs", "-s", "aspirin", "--model", str(tmp_path / "nope.pt")], env={"COLUMNS": "200"})
    assert r.exit_code == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr


def test_cli_drugs_output_path_checked_before_listing(cli, expect_error, tmp_path):
    r = cli("drugs", "-s", "aspirin", "-o", tmp_path / "missing" / "d.csv", timeout=120)
    expect_error(r, "does not exist")
    assert "aspirin" not in r.stdout
    (tmp_path / "folder.csv").mkdir()
    expect_error(cli("drugs", "-s", "aspirin", "-o", tmp_path / "folder.csv", timeout=120), "is a folder")
    expect_error(cli("drugs", "-s", "aspirin", "-o", tmp_path / "d.txt", timeout=120), "extension")


@pytest.mark.skipif(not _default_model_exists(), reason="needs the default model")
def test_cli_drugs_a_drug_too_long_for_the_model_is_not_covered(cli, tmp_path):
    # sildenafil has only tokens of the default alphabet, but 59 of them (max_length 55):
    # interpolate and analogs cannot encode it, so it is not covered
    out = tmp_path / "d.csv"
    r = cli("drugs", "-s", "sildenafil", "-o", out, timeout=120)
    assert r.returncode == 0, r.stderr
    (row,) = list(csv.DictReader(open(out, newline="")))
    assert row["covered"] == "no" and row["missing_tokens"] == "" and "SELFIES tokens, more than 55" in row["too_long"]
    assert "0 covered" in r.stdout and "(1 other too long)" in r.stdout
    assert "INFO" not in r.stderr


def test_a_name_that_is_not_a_string_is_named_as_such():
    """resolve_molecule(5) said "empty input" and find_drug(None) looked up 'None'
    ("did you mean 'nicotine'?")."""
    with pytest.raises(UnknownDrugError, match="expected a drug name or a SMILES string, got int 5"):
        resolve_molecule(5)
    with pytest.raises(UnknownDrugError, match="expected a drug name, got NoneType None"):
        find_drug(None)
    with pytest.raises(UnknownDrugError, match="empty input"):
        resolve_molecule("  ")


def test_missing_tokens_of_a_non_string_is_an_invalid_molecule(vae):
    """missing_tokens(vae, None), and so interpolate(vae, None, ...) and analogs(vae, 5),
    ended in a bare TypeError ("argument of type 'NoneType' is not iterable"); a list was
    already the documented InvalidMoleculeError. Each is that error now."""
    from molvae.chem import InvalidMoleculeError
    from molvae.interpolation import analogs, interpolate

    for bad in (None, 5, ["CCO"]):
        with pytest.raises(InvalidMoleculeError):
            missing_tokens(vae, bad)
        with pytest.raises(InvalidMoleculeError):
            interpolate(vae, bad, "CCO", steps=2)
        with pytest.raises(InvalidMoleculeError):
            analogs(vae, bad, n=1)
