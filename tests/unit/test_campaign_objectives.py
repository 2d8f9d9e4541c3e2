"""Objectives of optimization campaigns: parsing, weighted sums, custom callables, failures."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from molvae.campaign.errors import ObjectiveError
from molvae.campaign.objectives import Objective, batch_objective, parse_objective, split_terms
from molvae.chem import properties

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ETHANOL = "CCO"


def test_builtins_and_directions():
    for name, direction in [("qed", "maximize"), ("logp", "maximize"), ("penalized_logp", "maximize"), ("sa", "minimize"), ("PLOGP", "maximize")]:
        obj = parse_objective(name)
        assert obj.direction == direction, name
    obj = parse_objective("qed")
    assert obj(ASPIRIN) == pytest.approx(properties(ASPIRIN)["qed"])
    assert parse_objective("sa")(ASPIRIN) == pytest.approx(properties(ASPIRIN)["sa"])
    assert parse_objective("penalized_logp")(ASPIRIN) == pytest.approx(properties(ASPIRIN)["penalized_logp"])


def test_similarity_by_name_and_smiles():
    by_name = parse_objective("similarity:aspirin")
    assert by_name(ASPIRIN) == pytest.approx(1.0)
    by_smiles = parse_objective(f"similarity:{ASPIRIN}")
    assert by_smiles(ASPIRIN) == pytest.approx(1.0)
    assert 0 <= by_smiles(ETHANOL) < 0.3
    with pytest.raises(ObjectiveError, match="similarity:"):
        parse_objective("similarity:notadrugname")
    with pytest.raises(ObjectiveError, match="needs a molecule"):
        parse_objective("similarity:")


def test_weighted_sums():
    p = properties(ASPIRIN)
    obj = parse_objective("qed + 0.5*similarity:aspirin")
    assert obj.direction == "maximize" and len(obj.terms) == 2
    ev = obj.evaluate([ASPIRIN])[0]
    assert ev.score == pytest.approx(p["qed"] + 0.5)
    assert ev.terms == pytest.approx({"qed": p["qed"], "similarity:aspirin": 1.0})
    # a sum is maximized as written: subtract a lower-is-better term to penalize it
    assert parse_objective("qed - 0.3*sa")(ASPIRIN) == pytest.approx(p["qed"] - 0.3 * p["sa"])
    # compact form, negative weight, exponent
    assert parse_objective("qed-0.1*logp")(ASPIRIN) == pytest.approx(p["qed"] - 0.1 * p["logp"])
    assert parse_objective("1e-1*logp + qed")(ASPIRIN) == pytest.approx(0.1 * p["logp"] + p["qed"])
    # the TOML table form
    assert parse_objective({"qed": 1.0, "logp": 0.5})(ASPIRIN) == pytest.approx(p["qed"] + 0.5 * p["logp"])
    # a lone negated term is a sum (maximized)
    assert parse_objective("-sa").direction == "maximize"
    assert parse_objective("-sa")(ASPIRIN) == pytest.approx(-p["sa"])


@pytest.mark.parametrize("spec", ["1e400*qed", "qed + 1e400*logp", "qed - 1e999*sa", {"qed": float("inf")}, {"qed": 1.0, "logp": float("nan")}])
def test_non_finite_weights_are_refused(spec):
    with pytest.raises(ObjectiveError, match="must be a finite number"):
        parse_objective(spec)


@pytest.mark.parametrize("spec", ["qed + 0*logp", "0*qed", "qed - 0.0*sa", {"qed": 1.0, "logp": 0}])
def test_zero_weights_are_refused(spec):
    """A zero-weight term used to be accepted: computed (an oracle cost) and ignored."""
    with pytest.raises(ObjectiveError, match="is 0: the term would be computed and ignored"):
        parse_objective(spec)


def test_adding_a_lower_is_better_term_warns(caplog):
    with caplog.at_level("WARNING", logger="molvae.campaign.objectives"):
        parse_objective("qed + 0.3*sa")
    assert "lower-is-better" in caplog.text and "- 0.3*sa" in caplog.text


def test_smiles_with_charges_and_bonds_is_one_term():
    assert split_terms("similarity:C[N+](C)(C)CC-C + qed") == [(1.0, "similarity:C[N+](C)(C)CC-C"), (1.0, "qed")]
    assert split_terms("qed - 2*sa") == [(1.0, "qed"), (-2.0, "sa")]


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("", "empty objective"),
        ("qed +", "ends with"),
        ("qed + + sa", "followed by"),
        # two leading signs were read as a product of signs: '--qed' maximized qed, '+-qed' minimized it
        ("--qed", "'-' followed by '-' with no term between"),
        ("+-qed", "'+' followed by '-' with no term between"),
        ("0.5*", "no objective"),
        ("abc*sa", "weight as a number"),
        ("qed + 0.5", "number with no objective"),
        ("qedd", "did you mean 'qed'"),
        ("foo", "unknown objective"),
        ("no.such.module_xyz:f", "no module named"),
        ("missing/dir/objective.py:f", "does not exist"),
    ],
)
def test_bad_specs(spec, fragment):
    with pytest.raises(ObjectiveError) as info:
        parse_objective(spec)
    msg = str(info.value)
    assert fragment.lower() in msg.lower(), msg
    assert "\n" not in msg


def test_custom_module_and_file(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "scores.py").write_text(
        textwrap.dedent(
            """
            def heavy(smiles: str) -> float:
                return float(len(smiles))

            def batch(smiles: list[str]) -> list[float]:
                return [float(s.count("C")) for s in smiles]

            def low(smiles):
                return float(len(smiles))
            low.direction = "minimize"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    obj = parse_objective("mypkg.scores:heavy")
    assert obj(ETHANOL) == 3.0 and obj.direction == "maximize"
    b = parse_objective("mypkg.scores:batch")
    assert b.terms[0][1].kind == "custom"
    assert [e.score for e in b.evaluate([ETHANOL, ASPIRIN])] == [2.0, 3.0]
    assert parse_objective("mypkg.scores:low").direction == "minimize"
    with pytest.raises(ObjectiveError, match="has no function 'nope'"):
        parse_objective("mypkg.scores:nope")

    f = tmp_path / "obj.py"
    f.write_text("def score(smiles):\n    return 0.25 * len(smiles)\n")
    assert parse_objective(f"{f}:score")(ETHANOL) == 0.75
    # in a weighted sum, next to a built-in
    assert parse_objective(f"qed + 2*{f}:score")(ETHANOL) == pytest.approx(properties(ETHANOL)["qed"] + 1.5)

    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(ObjectiveError, match="cannot load objective file"):
        parse_objective(f"{broken}:f")


def test_failures_become_reasons():
    def picky(smiles):
        if "O" in smiles:
            raise RuntimeError("no oxygen, please")
        return math.nan if smiles == "CC" else 1.0

    obj = Objective.from_callable(picky)
    ok, raised, nan = obj.evaluate(["CCC", ETHANOL, "CC"])
    assert ok.score == 1.0 and ok.error is None
    assert raised.score is None and "RuntimeError: no oxygen, please" in raised.error
    assert nan.score is None and "NaN" in nan.error

    @batch_objective
    def short(smiles):
        return [1.0]

    evs = Objective.from_callable(short).evaluate(["C", "CC"])
    assert all(e.score is None and "returned 1 values for 2 molecules" in e.error for e in evs)

    @batch_objective
    def boom(smiles):
        raise ValueError("docking server down")

    evs = Objective.from_callable(boom).evaluate(["C", "CC"])
    assert all("docking server down" in e.error for e in evs)

    text = Objective.from_callable(lambda s: "high").evaluate(["C"])[0]
    assert "not a number" in text.error


def test_predictor_objective(tmp_path, vae, train_smiles):
    from molvae import predictors  # part of molvae: an import error must fail the test, not skip it
    smiles = train_smiles[:60]
    z = vae.encode(smiles)
    y = [properties(s)["logp"] for s in smiles]
    path = tmp_path / "logp.skops"
    p = predictors.LatentPredictor("ridge", targets=["logp"]).fit(z, y)
    p.vae_sha256 = predictors.file_sha256(vae.path)
    p.save(path)
    obj = parse_objective(f"predictor:{path}:logp", vae=vae)
    obj.prepare(vae)
    ev = obj.evaluate(smiles[:3])
    expected = p.predict(vae.encode(smiles[:3]))[:, 0]
    assert [e.score for e in ev] == pytest.approx(list(expected))
    with pytest.raises(ObjectiveError, match="no target 'qed'"):
        parse_objective(f"predictor:{path}:qed", vae=vae)
    # a target name with a colon was split at its last one ("predictor file x.skops:IC50 does not exist")
    colon = tmp_path / "colon.skops"
    q = predictors.LatentPredictor("ridge", targets=["IC50:EGFR", "logp"]).fit(z, np.column_stack([y, y]))
    q.vae_sha256 = predictors.file_sha256(vae.path)
    q.save(colon)
    obj = parse_objective(f"predictor:{colon}:IC50:EGFR", vae=vae)
    assert obj.terms[0][1].path == str(colon) and [e.score for e in obj.evaluate(smiles[:3])] == pytest.approx(list(expected))
    with pytest.raises(ObjectiveError, match="no target 'IC50'"):
        parse_objective(f"predictor:{colon}:IC50", vae=vae)
    with pytest.raises(ObjectiveError, match="does not exist"):
        parse_objective(f"predictor:{tmp_path / 'none.skops'}:logp")


def test_strings_are_not_numbers():
    """A string that looks like a number ("0.5") was scored 0.5, and a batch function
    returning one string had it read character by character (one score per digit)."""
    ev = Objective.from_callable(lambda s: "0.5").evaluate(["C"])[0]
    assert ev.score is None and "returned '0.5' (a str), not a number" in ev.error
    assert Objective.from_callable(lambda s: b"1").evaluate(["C"])[0].score is None

    @batch_objective
    def digits(smiles):
        return "123"

    evs = Objective.from_callable(digits).evaluate(["C", "CC", "CCC"])
    assert all(e.score is None and "returned a str, not a list of numbers" in e.error for e in evs)

    @batch_objective
    def by_smiles(smiles):
        return {s: 1.0 for s in smiles}

    evs = Objective.from_callable(by_smiles).evaluate(["C", "CC"])
    assert all(e.score is None and "returned a dict, not a list of numbers" in e.error for e in evs)

    @batch_objective
    def numpy_batch(smiles):
        return np.array([len(s) for s in smiles], dtype=np.float32)

    assert [e.score for e in Objective.from_callable(numpy_batch).evaluate(["C", "CC"])] == [1.0, 2.0]


def test_an_objective_that_calls_sys_exit_fails_the_call():
    """An objective wrapping a command-line tool (argparse exits with status 2 on bad
    arguments) ended the whole campaign with that exit status and no message."""
    import sys

    def tool(smiles):
        sys.exit(2)

    ev = Objective.from_callable(tool).evaluate(["C"])[0]
    assert ev.score is None and "SystemExit: 2" in ev.error and "sys.exit" in ev.error

    @batch_objective
    def batch_tool(smiles):
        raise SystemExit("docking tool not configured")

    evs = Objective.from_callable(batch_tool).evaluate(["C", "CC"])
    assert all(e.score is None and "docking tool not configured" in e.error for e in evs)


@pytest.mark.parametrize("where", ["file", "module"])
def test_an_objective_that_exits_on_import_is_an_objective_error(where, tmp_path, monkeypatch):
    """An objective file or module calling sys.exit(0) at import ended `molvae optimize`
    with exit status 0, no output and no message (SystemExit is no Exception); it is now
    an ObjectiveError naming the file, as any other import failure."""
    from molvae.campaign.objectives import load_callable

    name = f"exits_on_import_{where}"
    (tmp_path / f"{name}.py").write_text("import sys\nsys.exit(0)\n\ndef f(smiles):\n    return 1.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    ref = str(tmp_path / f"{name}.py") if where == "file" else name
    with pytest.raises(ObjectiveError, match=r"SystemExit: 0"):
        load_callable(ref, "f")


def test_evaluate_takes_a_single_smiles_as_one_molecule():
    # evaluate('CCO') iterated the string and scored C, C and O: three results for one molecule
    obj = parse_objective("qed")
    (one,) = obj.evaluate("CCO")
    assert one.score == pytest.approx(obj.evaluate(["CCO"])[0].score)
    (again,) = obj.evaluate("CCO", properties("CCO"))
    assert again.score == one.score


@pytest.mark.parametrize("spec", ["qed + qed", "qed - qed", "plogp + 0.5*penalized_logp", {"qed": 1, "QED": 2}, "similarity:CCO + similarity:CCO"])
def test_a_term_given_twice_is_refused(spec):
    # 'qed + qed' scored 2*qed with a single term:qed column, 'qed - qed' a constant 0
    with pytest.raises(ObjectiveError, match=r"appears twice in the objective: give it once, with its total weight"):
        parse_objective(spec)
