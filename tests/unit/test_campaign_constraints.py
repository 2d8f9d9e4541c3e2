"""Campaign constraints: validation and the reasons given for infeasible molecules."""

from __future__ import annotations

import numpy as np
import pytest

from molvae.campaign.constraints import Constraints, parse_mw_range
from molvae.campaign.errors import CampaignError
from molvae.chem import properties

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"
# a catechol: a PAINS (catechol_A) and Brenk alert
CATECHOL = "Oc1ccccc1O"


def test_no_constraints_accept_everything():
    c = Constraints.create()
    assert not c.active and c.check("C") is None and c.describe() == "none"


def test_similarity_bound():
    c = Constraints.create(min_similarity=0.6, to="aspirin")
    assert c.to_smiles and c.check(ASPIRIN) is None
    reason = c.check("CCCCCCCC")
    assert reason.startswith("similarity 0.") and "aspirin" in reason and "< 0.6" in reason


def test_sa_mw_and_filters():
    p = properties(ASPIRIN)
    assert Constraints.create(max_sa=p["sa"] + 0.1).check(ASPIRIN) is None
    assert Constraints.create(max_sa=1.0).check(ASPIRIN).startswith("SA ")
    assert Constraints.create(mw_range="150,200").check(ASPIRIN) is None
    assert "outside [200, 500]" in Constraints.create(mw_range="200:500").check(ASPIRIN)
    assert Constraints.create(filters="pains,brenk").check(IBUPROFEN) is None
    assert Constraints.create(filters="brenk").check(ASPIRIN) == "BRENK alert: phenol_ester"
    assert Constraints.create(filters=["pains"]).check(CATECHOL).startswith("PAINS alert: catechol")
    assert Constraints.create(filters="brenk").check(CATECHOL).startswith("BRENK alert:")


def test_roundtrip_and_describe():
    c = Constraints.create(min_similarity=0.4, to="aspirin", max_sa=4, mw_range=(100, 400), filters="pains")
    assert Constraints.from_dict(c.to_dict()) == c
    assert c.describe() == "similarity >= 0.4 to aspirin; SA <= 4; MW in [100, 400]; no PAINS alerts"


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(min_similarity=0.4), "go together"),
        (dict(to="aspirin"), "go together"),
        (dict(min_similarity=1.5, to="aspirin"), "(0, 1]"),
        (dict(min_similarity=0.4, to="notamolecule"), "to: "),
        (dict(max_sa=0.5), "between 1 and 10"),
        (dict(mw_range="500,200"), "LO < HI"),
        (dict(mw_range="abc"), "two numbers"),
        (dict(filters="pains,nope"), "unknown structural filter 'nope'"),
        (dict(mw_range="0,1e400"), "must be finite"),
        (dict(mw_range=[0, float("inf")]), "must be finite"),
        (dict(max_sa=float("nan")), "between 1 and 10"),
        (dict(max_sa="four"), "max_sa must be a number, got 'four'"),
        (dict(min_similarity=True, to="aspirin"), "min_similarity must be a number"),
        (dict(min_similarity=0.4, to=5), "to must be a molecule"),
        (dict(filters=["pains", 3]), "filters must be catalog names"),
        # taken as no filter at all, without a word (as --properties ',' was in train)
        (dict(filters=","), "filters names no catalog (','): give names such as pains,brenk, or leave it out"),
        (dict(filters=" , "), "filters names no catalog"),
        # a bare TypeError ('int' object is not iterable), and [True, 200] was taken as (1, 200)
        (dict(mw_range=5), "mw_range must be two numbers LO,HI (Da), got 5"),
        (dict(mw_range=[True, 200]), "mw_range must be two numbers LO,HI (Da), got [True, 200]"),
    ],
)
def test_bad_constraints(kwargs, fragment):
    with pytest.raises(CampaignError, match=None) as info:
        Constraints.create(**kwargs)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "kwargs, python, cli",
    [
        (dict(min_similarity=0.4), "min_similarity and to go together: min_similarity=0.4 to='celecoxib'", "--min-similarity and --to go together: --min-similarity 0.4 --to celecoxib"),
        (dict(min_similarity=1.5, to="aspirin"), "min_similarity must be in (0, 1], got 1.5", "--min-similarity must be in (0, 1], got 1.5"),
        (dict(min_similarity=0.4, to="notamolecule"), "to: ", "--to: "),
        (dict(max_sa=0.5), "max_sa must be between 1 and 10", "--max-sa must be between 1 and 10"),
        (dict(max_sa="four"), "max_sa must be a number, got 'four'", "--max-sa must be a number, got 'four'"),
        (dict(mw_range="abc"), "mw_range must be two numbers LO,HI (Da), got 'abc'", "--mw-range must be two numbers LO,HI (Da), got 'abc'"),
        (dict(mw_range="500,200"), "mw_range must be finite and satisfy 0 <= LO < HI", "--mw-range must be finite and satisfy 0 <= LO < HI"),
        (dict(filters=","), "filters names no catalog (',')", "--filters names no catalog (',')"),
        (dict(filters=[3]), "filters must be catalog names", "--filters must be catalog names"),
    ],
)
def test_constraints_name_the_python_arguments_not_the_cli_flags(kwargs, python, cli):
    """A Python call was told of --mw-range, --max-sa ..., flags it never gave; the CLI
    passes flags=CLI_FLAGS, so 'molvae optimize' still names its flags."""
    with pytest.raises(CampaignError) as info:
        Constraints.create(**kwargs)
    assert str(info.value).startswith(python) and "--" not in str(info.value)
    from molvae.campaign.errors import CLI_FLAGS

    with pytest.raises(CampaignError) as info:
        Constraints.create(**kwargs, flags=CLI_FLAGS)
    assert str(info.value).startswith(cli)


def test_mw_range_forms():
    assert parse_mw_range("200-500") == (200.0, 500.0)
    assert parse_mw_range("200, 500") == (200.0, 500.0)
    assert parse_mw_range([1, 2]) == (1.0, 2.0)
    assert parse_mw_range(None) is None


def test_slack_is_signed():
    assert np.isnan(Constraints.create().slack(ASPIRIN))
    c = Constraints.create(min_similarity=0.5, to="aspirin")
    assert c.slack(ASPIRIN) == pytest.approx(-1.0)  # similarity 1: far inside
    assert c.slack("CCCCCCCC") > 0
    assert Constraints.create(mw_range="150,200").slack(ASPIRIN) < 0 < Constraints.create(mw_range="200,300").slack(ASPIRIN)
    assert Constraints.create(filters="brenk").slack(ASPIRIN) == 1.0 and Constraints.create(filters="brenk").slack(IBUPROFEN) == -1.0


def test_check_gives_a_reason_where_a_value_is_missing():
    # a similarity bound without its reference molecule (constraints read back from older
    # metadata), properties read back from a ledger (NaN stored as None), an unparsable
    # SMILES with filters: each is a reason, agreeing with slack (> 0), never a TypeError
    c = Constraints(min_similarity=0.4, to="aspirin")
    assert "similarity" in c.check("CCO")
    assert c.slack("CCO") > 0
    c = Constraints(max_sa=4.0, mw_range=(100.0, 500.0))
    assert "SA" in c.check("CCO", {"sa": None, "mw": 46.0})
    assert c.slack("CCO", {"sa": None, "mw": 46.0}) > 0
    assert "MW" in Constraints(mw_range=(100.0, 500.0)).check("CCO", {"mw": None})
    c = Constraints(filters=("pains",))
    assert c.slack("C1CC") > 0
    assert c.check("C1CC") is not None
