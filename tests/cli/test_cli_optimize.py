"""`molvae optimize` and `molvae campaign show`: outputs, resume, one-line errors."""

from __future__ import annotations

import csv
import sqlite3

import pytest


def test_optimize_writes_table_plot_and_ledger(tmp_path, cli, model_path):
    args = [
        "optimize", "--objective", "qed + 0.5*similarity:aspirin", "--budget", "8", "--batch-size", "4",
        "--seed", "0", "--model", model_path, "--name", "cli", "-o", "top.csv", "--plot", "trace.png",
        "--start", "aspirin", "--no-model-prior",
    ]  # fmt: skip
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "oracle calls 8/8" in r.stdout and "PMO AUC top-10" in r.stdout and "this run: 8 oracle calls" in r.stdout
    assert "optuna-dashboard sqlite:///cli.db" in r.stdout

    rows = list(csv.DictReader(open(tmp_path / "top.csv")))
    assert 1 <= len(rows) <= 8
    for col in ("rank", "smiles", "score", "term:qed", "term:similarity:aspirin", "qed", "sa", "mw", "trial", "oracle_call"):
        assert col in rows[0], col
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert sorted(int(r["oracle_call"]) for r in rows) == sorted({int(r["oracle_call"]) for r in rows})
    png = (tmp_path / "trace.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000

    # the ledger is a plain optuna SQLite study (optuna-dashboard opens it)
    con = sqlite3.connect(tmp_path / "cli.db")
    (name,) = con.execute("select study_name from studies").fetchone()
    n_trials = con.execute("select count(*) from trials").fetchone()[0]
    con.close()
    assert name == "cli" and n_trials >= 8

    show = cli("campaign", "show", "cli", "-k", "3", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "campaign cli: qed + 0.5*similarity:aspirin (maximize), sampler bo" in show.stdout
    assert "oracle calls 8/8" in show.stdout and "rank" in show.stdout and rows[0]["smiles"] in show.stdout

    from molvae.campaign import StoredCampaign

    assert StoredCampaign("cli", f"sqlite:///{tmp_path / 'cli.db'}").meta["model_prior"] is False


def test_optimize_one_line_error_from_the_console_script(tmp_path, cli, expect_error):
    expect_error(cli("optimize", "--objective", "qedd", "--budget", "5", "-o", "x.csv", cwd=tmp_path), "unknown objective 'qedd'", "did you mean 'qed'")
    assert not list(tmp_path.glob("*.db"))


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["optimize", "--objective", "qed", "--budget", "0", "-o", "x.csv"], ["budget must be a positive number"]),
        (["optimize", "--objective", "nowhere/score.py:f", "--budget", "5", "-o", "x.csv"], ["objective file nowhere/score.py does not exist"]),
        (["optimize", "--objective", "qed + 0.5*", "--budget", "5", "-o", "x.csv"], ["malformed", "no objective after the weight"]),
        (["optimize", "--objective", "no_such_pkg.mod:f", "--budget", "5", "-o", "x.csv"], ["no module named 'no_such_pkg'"]),
        (["optimize", "--budget", "5", "-o", "x.csv"], ["give an objective"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.txt"], ["--output must be a .csv file, got x.txt"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--plot", "t.jpg"], ["--plot must be a .png file, got t.jpg"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--sampler", "cmaes"], ["unknown sampler 'cmaes'"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--min-similarity", "0.4"], ["--min-similarity and --to go together"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--filters", "pains,foo"], ["unknown structural filter 'foo'"]),
        (["campaign", "show", "ghost"], ["no campaign storage", "ghost.db"]),
        # an in-memory storage is empty in a new process: it said "no campaign named 'ghost' in this storage"
        (["campaign", "show", "ghost", "--storage", "memory"], ["--storage memory keeps nothing: an in-memory campaign ends with its run"]),
        # a missing start file was taken for a SMILES or a drug name ('neither a known drug name nor a valid SMILES')
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--start", "leads.smi"], ["--start file leads.smi does not exist"]),
        # zero or negative counts used to run an empty campaign with exit 0
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--patience", "0"], ["patience must be a positive number", "got 0"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--patience", "-3"], ["patience must be a positive number", "got -3"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--max-proposals", "0"], ["max_proposals must be a positive number", "got 0"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--max-proposals", "-1"], ["max_proposals must be a positive number", "got -1"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--n-init", "0"], ["n_init must be a positive number", "got 0"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--seed", "-1"], ["seed must be an integer >= 0", "got -1"]),
        # --sampler tpe --seed 99999999999 ended in numpy's 'Seed must be between 0 and 2**32 - 1' traceback
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--sampler", "tpe", "--seed", "99999999999"], ["seed must be at most 4294967295"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--batch-size", "-2"], ["batch size must be >= 1"]),
        (["optimize", "--objective", "qed", "--budget", "-1", "-o", "x.csv"], ["budget must be a positive number"]),
        # a batch is decoded at once: --batch-size 100000000 ran for ever on a budget of 5
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--batch-size", "100000000"], ["batch size must be between 1 and 4096"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--top-k", "0"], ["--top-k must be >= 1"]),
        # non-finite weights and thresholds (1e400 parses as inf)
        (["optimize", "--objective", "qed + 1e400*logp", "--budget", "5", "-o", "x.csv"], ["the weight of logp must be a finite number, got inf"]),
        (["optimize", "--objective", "1e400*qed", "--budget", "5", "-o", "x.csv"], ["the weight of qed must be a finite number, got inf"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--mw-range", "0,1e400"], ["--mw-range must be finite"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--max-sa", "inf"], ["--max-sa must be between 1 and 10"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--min-similarity", "nan", "--to", "aspirin"], ["--min-similarity must be in (0, 1]"]),
        # a folder was 'config file not found'
        (["optimize", "--config", ".", "-o", "x.csv"], ["--config . is a folder, not a config file"]),
        # only bo uses them: the other samplers ran without a word of them being ignored
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--sampler", "random", "--acquisition", "ei"], ["--acquisition ei is for --sampler bo only (sampler random does not use it)"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--sampler", "tpe", "--no-model-prior"], ["--no-model-prior is for --sampler bo only (sampler tpe"]),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--sampler", "gp", "--model-prior"], ["--model-prior is for --sampler bo only (sampler gp"]),
    ],
)
def test_optimize_one_line_errors(args, fragments, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from molvae_cli import campaign as _register  # noqa: F401
    from molvae_cli.main import app

    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert r.exit_code == 1, (r.exit_code, r.output)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    assert not list(tmp_path.glob("*.db"))  # a failed command creates no ledger


def test_optimize_config_file(tmp_path, monkeypatch):
    from molvae_cli.campaign import _read_config

    cfg = tmp_path / "c.toml"
    cfg.write_text('budget = 5\n[objective]\nqed = 1.0\n"similarity:aspirin" = 0.5\n[constraints]\nmax_sa = 4.5\n')
    assert _read_config(cfg) == {"budget": 5, "objective": {"qed": 1.0, "similarity:aspirin": 0.5}, "max_sa": 4.5}
    bad = tmp_path / "bad.toml"
    bad.write_text("budgt = 5\n")
    import pytest as _pytest

    from molvae.campaign.errors import CampaignError

    with _pytest.raises(CampaignError, match="unknown key budgt"):
        _read_config(bad)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('objective = "qed"\nbudget = 5\nseed = "3"\n', 'seed must be an integer, got "3" (a string)'),
        ('objective = "qed"\nbudget = 5\ntop_k = "5"\n', 'top_k must be an integer, got "5" (a string)'),
        ('objective = "qed"\nbudget = 5\npatience = "10"\n', 'patience must be an integer, got "10" (a string)'),
        ('objective = "qed"\nbudget = 5\nstart = 5\n', "start must be a string or a list of strings (SMILES, drug names or files), got 5 (an integer)"),
        ('objective = "qed"\nbudget = 5.5\n', "budget must be an integer, got 5.5 (a float)"),
        ('objective = 5\nbudget = 5\n', "objective must be a string or a table of term = weight, got 5 (an integer)"),
        ('objective = "qed"\nbudget = 5\nmodel_prior = "no"\n', 'model_prior must be true or false, got "no" (a string)'),
        ('objective = "qed"\nbudget = 5\n[constraints]\nmax_sa = "4"\n', 'max_sa must be a number, got "4" (a string)'),
        ('objective = "qed"\nbudget = 5\n[constraints]\nmw_range = [100]\n', "mw_range must be a string LO,HI or a list of two numbers, got [100] (a list)"),
        ('objective = "qed"\nbudget = 5\nconstraints = 3\n', "constraints must be a table"),
        ('budget = 5\n[objective]\nqed = 1e400\n', "the weight of qed must be a finite number, got inf"),
        ('objective = "qed"\nbudget = 5\npatience = 0\n', "patience must be a positive number of proposals, got 0"),
    ],
)
def test_optimize_config_values_of_the_wrong_type_are_one_line_errors(text, fragment, tmp_path, monkeypatch):
    """Wrongly typed --config values used to raise tracebacks (TypeError, ValueError)."""
    from typer.testing import CliRunner

    from molvae_cli import campaign as _register  # noqa: F401
    from molvae_cli.main import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(text)
    r = CliRunner().invoke(app, ["optimize", "-c", "c.toml", "-o", "x.csv"], env={"COLUMNS": "300"})
    assert r.exit_code == 1, (r.exit_code, r.output)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], r.stderr
    assert not list(tmp_path.glob("*.db"))


def test_campaign_show_of_a_half_created_study(tmp_path, monkeypatch):
    """A study created by a run stopped before it recorded its settings used to print
    empty fields (objective '', sampler '', calls 0/0); a study that optuna alone wrote
    is not a campaign."""
    import optuna
    from typer.testing import CliRunner

    from molvae.campaign.ledger import Ledger, open_storage
    from molvae_cli import campaign as _register  # noqa: F401
    from molvae_cli.main import app

    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'half.db'}"
    Ledger(open_storage(url), "half", direction="maximize")
    r = CliRunner().invoke(app, ["campaign", "show", "half", "--storage", url], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    assert "campaign half in sqlite:///" in r.stdout and "was created, but no run got as far as recording its settings" in r.stdout
    assert "sampler" not in r.stdout and "0/0" not in r.stdout

    study = optuna.create_study(study_name="foreign", storage=url)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    r = CliRunner().invoke(app, ["campaign", "show", "foreign", "--storage", url], env={"COLUMNS": "300"})
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: study 'foreign'") and "is not a molvae campaign" in lines[0], r.output


@pytest.mark.parametrize("where", [["-o", "out.csv"], ["-o", "x.csv", "--plot", "out.png"]])
def test_optimize_refuses_a_folder_as_output_before_any_oracle_call(where, tmp_path, monkeypatch):
    """-o (or --plot) naming a folder failed after the campaign had spent its budget."""
    from typer.testing import CliRunner

    from molvae_cli import campaign as _register  # noqa: F401
    from molvae_cli.main import app

    monkeypatch.chdir(tmp_path)
    (tmp_path / where[-1]).mkdir()
    r = CliRunner().invoke(app, ["optimize", "--objective", "qed", "--budget", "5", *where], env={"COLUMNS": "300"})
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.exit_code == 1 and len(lines) == 1 and lines[0] == f"error: output path is a folder: {where[-1]}", r.output
    assert not list(tmp_path.glob("*.db"))


# an objective that is "interrupted" (KeyboardInterrupt, as Ctrl-C raises it) at its 4th call
_CTRL_C_AT_4 = """
from pathlib import Path

COUNT = Path(__file__).with_name("calls.txt")

def score(smiles):
    n = int(COUNT.read_text()) + 1 if COUNT.exists() else 1
    COUNT.write_text(str(n))
    if n == 4:
        raise KeyboardInterrupt
    return float(len(smiles))
"""


def test_optimize_ctrl_c_writes_the_outputs_of_the_calls_made(tmp_path, cli, model_path):
    """Ctrl-C during `molvae optimize -o OUT.csv` wrote no OUT.csv: the table of what was
    already scored was lost. Now it is written (and the plot), exit 130 with one line."""
    (tmp_path / "obj.py").write_text(_CTRL_C_AT_4)
    args = [
        "optimize", "--objective", "obj.py:score", "--budget", "8", "--batch-size", "4", "--sampler", "random",
        "--seed", "0", "--model", model_path, "--name", "cc", "-o", "top.csv", "--plot", "trace.png",
    ]  # fmt: skip
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 130, (r.returncode, r.stderr)
    assert r.stderr_lines == ["interrupted"], r.stderr
    assert "interrupted: wrote the 3 best molecules of the oracle calls finished so far to top.csv" in r.stdout, r.stdout
    assert "rerun the same command to continue campaign cc" in r.stdout
    rows = list(csv.DictReader(open(tmp_path / "top.csv")))
    assert sorted(int(row["oracle_call"]) for row in rows) == [1, 2, 3]
    assert (tmp_path / "trace.png").read_bytes()[:4] == b"\x89PNG"

    again = cli(*args, cwd=tmp_path)  # the rerun resumes: 3 calls kept, the interrupted one counts
    assert again.returncode == 0, again.stderr
    assert "oracle calls 8/8" in again.stdout and "this run: 4 oracle calls" in again.stdout, again.stdout


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--start", "notamolecule"], "start molecule 'notamolecule' is neither a known drug name nor a valid SMILES"),
        (["--model", "nope.pt"], "model file not found: nope.pt"),
        (["--model", "garbage.pt"], "garbage.pt is not a model file"),
    ],
)
def test_optimize_failed_checks_create_no_ledger(extra, fragment, tmp_path, cli, expect_error, model_path):
    """These checks ran after the campaign's SQLite study was created: the failed command
    left an empty ledger (x.db, x.db-wal, x.db-shm) behind."""
    (tmp_path / "garbage.pt").write_text("not a model")
    args = ["optimize", "--objective", "qed", "--budget", "5", "-o", "x.csv", "--name", "x"]
    if "--model" not in extra:
        args += ["--model", model_path]
    expect_error(cli(*args, *extra, cwd=tmp_path), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.pt"]


@pytest.mark.parametrize("clash", ["storage", "start"])
def test_optimize_refuses_an_output_that_is_one_of_its_inputs(clash, tmp_path, cli, expect_error, model_path):
    """-o same.csv with --storage sqlite:///same.csv wrote the table over the ledger after
    the campaign ran (campaign show then: 'database disk image is malformed'), and -o
    leads.csv with --start leads.csv overwrote the user's start molecules. Both are now
    refused before any work, and nothing is written."""
    (tmp_path / "leads.csv").write_text("smiles\nCCO\n")
    args = ["optimize", "--objective", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--name", "c"]
    if clash == "storage":
        args += ["--storage", "sqlite:///same.csv", "-o", "same.csv"]
    else:
        args += ["--start", "leads.csv", "-o", "leads.csv"]
    expect_error(cli(*args, cwd=tmp_path), "-o", "is also the campaign's")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]
    assert (tmp_path / "leads.csv").read_text() == "smiles\nCCO\n"


def test_optimize_skips_unusable_rows_of_a_start_file(tmp_path, cli, expect_error, model_path):
    """One row of a --start file that is no SMILES (row 2 of 3) refused the whole command
    ('start molecule ... is neither a known drug name nor a valid SMILES', naming no file
    or row); rows that cannot be used are now listed with their row number and the rest
    goes on, as for every other input file."""
    (tmp_path / "leads.smi").write_text("CCO\nnotasmiles\nc1ccccc1\n")
    args = ["optimize", "--objective", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--name", "s", "--start", "leads.smi", "-o", "top.csv"]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "skipped 1 row of leads.smi" in r.stderr and "row 2" in r.stderr and "notasmiles" in r.stderr, r.stderr
    from molvae.campaign import StoredCampaign

    assert StoredCampaign("s", f"sqlite:///{tmp_path / 's.db'}").meta["start"] == ["CCO", "c1ccccc1"]
    (tmp_path / "bad.smi").write_text("notasmiles\n")
    r = cli(*args[:-6], "--name", "b", "--start", "bad.smi", "-o", "top.csv", cwd=tmp_path)
    expect_error(r, "no molecule of --start file bad.smi can be used", "row 1", "notasmiles")
    assert not (tmp_path / "b.db").exists()


def test_optimize_in_memory_does_not_point_to_a_ledger(tmp_path, cli, model_path):
    """--storage memory ended with 'ledger: memory (study ...); browse it with:
    optuna-dashboard memory', a ledger that no longer existed and a command that fails.
    It now says that the in-memory campaign kept nothing."""
    args = ["optimize", "--objective", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--storage", "memory", "-o", "top.csv"]
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "optuna-dashboard" not in r.stdout and "in memory: nothing was kept" in r.stdout, r.stdout


@pytest.mark.parametrize("name", ["", "   "])
def test_optimize_with_an_empty_name_is_refused(name, cli, expect_error, model_path, tmp_path):
    """'optimize --name ""' ran under the default name without a word ('campaign show ""' is refused)."""
    r = cli("optimize", "--objective", "qed", "--budget", "2", "--sampler", "random", "--name", name, "-o", "top.csv", "--model", model_path, cwd=tmp_path)
    expect_error(r, "the campaign name is empty", "qed-random-s0")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "   "])
@pytest.mark.parametrize("storage", [[], ["--storage", "memory"]])
def test_campaign_show_of_an_empty_name(name, storage, cli, expect_error, tmp_path):
    """'campaign show ""' looked for the default storage sqlite:///.db and said 'no
    campaign storage at .db (give --storage URL)'; with --storage it said 'no campaign
    named '''."""
    r = cli("campaign", "show", name, *storage, cwd=tmp_path)
    line = expect_error(r, "the campaign name is empty")
    assert ".db" not in line
    assert list(tmp_path.iterdir()) == []


def test_optimize_resolves_the_rows_of_a_start_file_once(tmp_path, cli, model_path, monkeypatch):
    """The rows of a --start file were resolved (drug name or SMILES) twice: once by the
    CLI to skip the unusable ones, again by the campaign before encoding them. The CLI now
    passes the SMILES it resolved on (Campaign(start_smiles=...)); the file is read once,
    and the campaign records the rows as they are written."""
    from collections import Counter

    from rdkit import Chem

    import molvae.data
    import molvae.drugs

    writer = Chem.SDWriter(str(tmp_path / "leads.sdf"))
    for smiles in ("CCO", "c1ccccc1O"):
        writer.write(Chem.MolFromSmiles(smiles))
    writer.close()
    (tmp_path / "names.smi").write_text("aspirin\n")
    resolved, reads = Counter(), Counter()
    resolve, read = molvae.drugs.resolve_molecule, molvae.data.read_molecules

    def counting_resolve(text):
        resolved[text] += 1
        return resolve(text)

    def counting_read(path, **kw):
        reads[str(path)] += 1
        return read(path, **kw)

    monkeypatch.setattr(molvae.drugs, "resolve_molecule", counting_resolve)
    monkeypatch.setattr(molvae.data, "read_molecules", counting_read)
    args = ["optimize", "--objective", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--name", "s", "-o", "top.csv"]
    r = cli(*args, "--start", "leads.sdf", "--start", "names.smi", "--start", "CCN", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert resolved == {"CCO": 1, "Oc1ccccc1": 1, "aspirin": 1, "CCN": 1}, resolved
    assert reads == {"leads.sdf": 1, "names.smi": 1}, reads
    from molvae.campaign import StoredCampaign

    assert StoredCampaign("s", f"sqlite:///{tmp_path / 's.db'}").meta["start"] == ["CCO", "Oc1ccccc1", "aspirin", "CCN"]


def test_a_minimized_objective_gets_a_valid_default_name(tmp_path, cli, model_path):
    """'--objective -qed' (or '-1*qed', '-0.5*sa + qed') without --name was refused with
    "campaign name '-1xqed-random-s0' may hold letters, digits ...": the default name
    began with '-', which names may not. The leading '-' is now spelled 'minus', so the
    name differs from that of the maximized objective."""
    from molvae.campaign.campaign import default_name

    assert default_name("-1*qed", "bo", 0) == "minus1xqed-bo-s0"
    assert default_name("-0.5*sa + qed", "bo", 0) != default_name("0.5*sa + qed", "bo", 0)
    r = cli("optimize", "--objective", "-qed", "--budget", "2", "--sampler", "random", "--model", model_path, "-o", "top.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "campaign minus1xqed-random-s0" in r.stdout
    assert (tmp_path / "minus1xqed-random-s0.db").is_file()


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('objective = "qed"\nbudget = 5\nmax_sa = 3\n[constraints]\nmax_sa = 5\n', "max_sa is set twice (at the top level and in [constraints])"),
        ('objective = "qed"\n[constraints]\nbudget = 5\n', "budget in [constraints] is not a constraint"),
    ],
)
def test_optimize_config_refuses_a_constraint_set_twice_or_an_option_in_the_constraints_table(text, fragment, tmp_path, cli, expect_error):
    """A key both at the top level and in [constraints] was taken without a word (the
    table's value won: max_sa 5 above), and an option that is no constraint was taken
    from the table as if it were at the top level. Both are now one error line."""
    (tmp_path / "c.toml").write_text(text)
    expect_error(cli("optimize", "-c", "c.toml", "-o", "x.csv", cwd=tmp_path), fragment)
    assert not list(tmp_path.glob("*.db"))


def test_optimize_outputs_are_written_all_at_once_or_not_at_all(tmp_path, cli, expect_error, model_path, monkeypatch):
    """optimize wrote its -o table and --plot straight to their names: a write failing
    midway (a full disk) left part of a table or image, over an earlier one. Both now go
    through a temporary file renamed into place: one error line naming the file, the old
    file kept, no temporary left."""
    import matplotlib.figure
    import pandas as pd

    def to_csv(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("rank,smiles\n1,C")
        raise OSError(28, "No space left on device")

    def savefig(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"\x89PNG")
        raise OSError(28, "No space left on device")

    out, png = tmp_path / "top.csv", tmp_path / "trace.png"
    out.write_text("old\n")
    png.write_bytes(b"old image")
    args = ["optimize", "-O", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--storage", "memory", "-o", out, "--plot", png]
    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_csv", to_csv)
        r = cli(*args, cwd=tmp_path)
    expect_error(r, f"cannot use {out}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["top.csv", "trace.png"] and out.read_text() == "old\n"
    with monkeypatch.context() as m:
        m.setattr(matplotlib.figure.Figure, "savefig", savefig)
        r = cli(*args, cwd=tmp_path)
    expect_error(r, f"cannot use {png}: No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["top.csv", "trace.png"] and png.read_bytes() == b"old image"
    assert out.read_text().startswith("rank,smiles,score")  # the table of that run was written whole


def test_campaign_plot_takes_only_png_names(tmp_path, model_path):
    """Campaign.plot('trace') wrote trace.png (matplotlib adds the extension) and returned
    Path('trace'), a file that does not exist; plot('t.txt') ended in matplotlib's format
    error. Both are now a ValueError naming the file, and nothing is written."""
    from molvae.campaign import Campaign

    c = Campaign("qed", 2, "memory", "random", model=str(model_path))
    c.run()
    for name in ("trace", "t.txt", ".png"):
        with pytest.raises(ValueError, match="png"):
            c.plot(tmp_path / name)
    assert list(tmp_path.iterdir()) == []
    assert c.plot(tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_a_run_whose_few_oracle_calls_failed_says_why(tmp_path, cli, model_path):
    """With a budget below fail_fast (10), an objective that failed on every call ended with
    exit 0, an empty table and 'no molecule scored yet', the reason recorded in the ledger
    but shown nowhere. The run now logs one warning with the count and the first reason."""
    (tmp_path / "score.py").write_text("def f(smiles):\n    raise ValueError('no assay for ' + smiles[:0] + 'this')\n")
    r = cli("optimize", "--objective", "score.py:f", "--budget", "3", "--sampler", "random", "--model", model_path, "--storage", "memory", "-o", "top.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stderr.split())
    assert "3 of the 3 oracle calls of this run failed" in text and "no assay for this" in text, r.stderr


def test_a_campaign_goes_on_with_its_model_file_after_fit_density(tmp_path, cli, model_path):
    """fit-density -o the campaign's own model file (documented: -o may be the same path)
    adds a density and leaves the weights as they were, yet resuming the campaign was
    refused: 'was run with another model file ...; its latent points mean other molecules
    with this one'. The campaign now records the model as predictors do (the density's
    base_sha256 for unchanged weights), so it goes on; other weights are still refused."""
    import shutil

    from tests.conftest import TRAIN_CSV

    shutil.copy(model_path, tmp_path / "m.pt")
    base = ["optimize", "-O", "qed", "--sampler", "random", "--model", "m.pt", "--name", "c", "-o", "top.csv"]
    assert cli(*base, "--budget", "2", cwd=tmp_path).returncode == 0
    r = cli("fit-density", TRAIN_CSV, "-m", "m.pt", "-o", "m.pt", "-n", "50", "--components", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli(*base, "--budget", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "oracle calls 3/3" in r.stdout
    # the same file with other weights (its density no longer theirs): refused as before
    from molvae.checkpoint import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(tmp_path / "m.pt")
    key = sorted(ckpt["state_dict"])[0]
    ckpt["state_dict"][key] = ckpt["state_dict"][key] + 0.01
    save_checkpoint(ckpt, tmp_path / "m.pt")
    r = cli(*base, "--budget", "4", cwd=tmp_path)
    assert r.returncode == 1 and "was run with another model file" in r.stderr, r.stderr


def test_start_file_rows_the_model_cannot_encode_are_reported_and_skipped(tmp_path, cli, expect_error, model_path):
    """A --start file's rows that are not molecules were listed and skipped, but one the
    model cannot encode (a token outside its alphabet) ended the whole command: 'error:
    start molecule '[Pt]' cannot be encoded'. It is now listed with its row number and
    skipped like the others; a file with no usable row is still refused."""
    (tmp_path / "start.csv").write_text("smiles\n[Pt]\nCCO\nxx\n")
    args = ["optimize", "-O", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--storage", "memory", "-o", "top.csv"]
    r = cli(*args, "--start", "start.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "skipped 2 rows of start.csv:" in r.stderr
    assert "row 1: cannot be encoded: token [Pt] not in the model's alphabet ('[Pt]')" in r.stderr and "row 3:" in r.stderr
    (tmp_path / "pt.csv").write_text("smiles\n[Pt]\n")
    expect_error(cli(*args, "--start", "pt.csv", cwd=tmp_path), "no molecule of --start file pt.csv can be used (row 1: cannot be encoded")
    # a molecule given on the command line is still refused (it was asked for by name)
    expect_error(cli(*args, "--start", "[Pt]", cwd=tmp_path), "start molecule '[Pt]' cannot be encoded")


def test_a_start_of_separators_only_is_refused(tmp_path, cli, expect_error, model_path):
    """--start ',' (commas and spaces only) was taken as no start molecule, without a word,
    and the campaign ran from prior draws alone; an empty --start is still no molecule."""
    args = ["optimize", "-O", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "--storage", "memory", "-o", "top.csv"]
    expect_error(cli(*args, "--start", " , ", cwd=tmp_path), "--start names no molecule (','): give SMILES or drug names")
    assert cli(*args, "--start", "", cwd=tmp_path).returncode == 0


def test_a_storage_url_naming_a_folder_is_named_as_such(tmp_path, cli, expect_error, model_path):
    """--storage sqlite:///adir, adir a folder, said 'cannot open SQLite storage adir: unable
    to open database file' in optimize and 'no campaign storage at adir' in campaign show,
    though adir exists. Both now say it is a folder, before any work."""
    (tmp_path / "adir").mkdir()
    args = ["optimize", "-O", "qed", "--budget", "2", "--sampler", "random", "--model", model_path, "-o", "top.csv", "--storage", "sqlite:///adir"]
    expect_error(cli(*args, cwd=tmp_path), "--storage sqlite:///adir names a folder, adir, not a database file: give sqlite:///adir/campaign.db")
    expect_error(cli("campaign", "show", "c", "--storage", "sqlite:///adir", cwd=tmp_path), "names a folder, adir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"] and not list((tmp_path / "adir").iterdir())


def test_a_rerun_keeps_the_seed_the_campaign_was_created_with(tmp_path, cli, expect_error, model_path):
    """A campaign created with --seed 3 and rerun without --seed (or with another) went on
    with seed 0 (or that one) without a word, drawing the rest of its initial design from
    it. The rerun now keeps seed 3; another --seed is refused, as another --n-init is."""
    args = ["optimize", "--objective", "qed", "--sampler", "random", "--batch-size", "2", "--n-init", "6", "--model", model_path, "--name", "s", "-o", "top.csv"]
    assert cli(*args, "--budget", "2", "--seed", "3", cwd=tmp_path).returncode == 0
    expect_error(cli(*args, "--budget", "4", "--seed", "1", cwd=tmp_path), "campaign 's' was created with seed 3, not 1", "leave --seed out (or give --seed 3)")
    r = cli(*args, "--budget", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "oracle calls 4/4" in r.stdout


def test_campaign_show_of_a_ledger_file_or_url_names_the_mistake(tmp_path, cli, expect_error):
    """'campaign show x.db' (the ledger that optimize prints) looked for x.db.db ('no
    campaign storage at x.db.db'), and 'campaign show sqlite:///x.db' for a folder
    'sqlite:' ('storage directory sqlite: does not exist (from --storage ...)', with no
    --storage given). Both now say what was given and how to give it."""
    (tmp_path / "x.db").write_bytes(b"")
    expect_error(cli("campaign", "show", "x.db", cwd=tmp_path), "x.db is a file, not a campaign name", "(--storage sqlite:///x.db)")
    expect_error(cli("campaign", "show", "sqlite:///x.db", cwd=tmp_path), "sqlite:///x.db is a storage URL, not a campaign name", "(--storage sqlite:///x.db)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]


def test_one_oracle_call_and_one_molecule_are_singular(tmp_path, cli, model_path):
    """A campaign of one oracle call printed 'this run: 1 oracle calls' and 'wrote 1 molecules'."""
    r = cli("optimize", "-O", "qed", "--budget", "1", "--sampler", "random", "--storage", "memory", "--model", model_path, "-o", "top.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "this run: 1 oracle call in " in r.stdout and "wrote 1 molecule to top.csv" in r.stdout, r.stdout


def test_a_start_csv_without_a_smiles_column_names_no_missing_option(tmp_path, cli, expect_error):
    """A --start CSV without a 'smiles' column was refused with '...; name one with
    --smiles-column', an option optimize does not have."""
    (tmp_path / "leads.csv").write_text("name,y\na,1\n")
    line = expect_error(cli("optimize", "-O", "qed", "-n", "3", "-o", "top.csv", "--start", "leads.csv", cwd=tmp_path), "leads.csv has no 'smiles' column (columns: name, y)", "the header 'smiles'")
    assert "--smiles-column" not in line


def test_a_start_file_in_a_comma_list_is_named_as_a_file(tmp_path, cli, expect_error):
    """'--start leads.smi,aspirin' took leads.smi for a molecule: 'start molecule
    'leads.smi' is neither a known drug name nor a valid SMILES'."""
    (tmp_path / "leads.smi").write_text("CCO\n")
    r = cli("optimize", "-O", "qed", "-n", "3", "-o", "top.csv", "--start", "leads.smi,aspirin", cwd=tmp_path)
    expect_error(r, "--start leads.smi,aspirin: leads.smi is a file", "give the file on its own, as in --start leads.smi --start ...")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.smi"]
