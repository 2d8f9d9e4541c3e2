"""The installed ``molvae`` console script, each call a new process.

The other CLI tests run the typer app in the test process (conftest's ``invoke_cli``); these
check what only a real process shows: the entry point registers every command, exit
statuses reach the shell, an error is one stderr line without a traceback, and two
processes with the same seed write the same bytes (no state carried within one process).
"""

from __future__ import annotations

import pandas as pd

COMMANDS = (
    "train", "generate", "encode", "decode", "reconstruct", "fit-density", "evaluate", "drugs",
    "interpolate", "analogs", "optimize", "predict", "campaign", "predictors",
)


def test_help_lists_every_command(cli_process):
    r = cli_process("--help", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    listed = {line.strip("│ ").split(" ")[0] for line in r.stdout.splitlines()}
    assert set(COMMANDS) <= listed, set(COMMANDS) - listed


def test_generate_same_seed_same_bytes_across_processes(cli_process, model_path, tmp_path):
    for name in ("a.csv", "b.csv"):
        r = cli_process("generate", "-n", "8", "-o", name, "--seed", "3", "--model", model_path, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        # nothing on stderr, not even the blank line a finished progress bar left when stderr is no terminal
        assert r.stderr == "", repr(r.stderr)
    a, b = (tmp_path / "a.csv").read_bytes(), (tmp_path / "b.csv").read_bytes()
    assert a == b
    df = pd.read_csv(tmp_path / "a.csv")
    assert len(df) == 8 and df["smiles"].is_unique


def test_a_user_error_exits_1_with_one_line(cli_process, expect_error, model_path, tmp_path):
    r = cli_process("encode", "missing.csv", "-o", "z.npy", "--model", model_path, cwd=tmp_path)
    expect_error(r, "missing.csv")
    assert not (tmp_path / "z.npy").exists()


def test_an_unknown_option_exits_2(cli_process):
    r = cli_process("generate", "--no-such-option")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "--no-such-option" in r.stderr


def test_a_usage_error_is_one_line_with_exit_2(cli_process, tmp_path):
    """A value of the wrong type, a missing option or a mistyped command: one ``error:``
    line naming it and the command's help, not typer's boxed usage message."""
    cases = {
        ("optimize", "--budget", "abc"): ("'--budget'", "valid integer", "molvae optimize --help"),
        ("generate", "-n", "5"): ("Missing option", "'--output'", "molvae generate --help"),
        ("generat",): ("No such command 'generat'", "Did you mean 'generate'?", "molvae --help"),
    }
    for args, words in cases.items():
        r = cli_process(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, r.stderr)
        assert all(w in lines[0] for w in words), (args, lines[0])
        assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_an_option_given_twice_is_a_usage_error(cli_process, tmp_path):
    """An option that takes one value, given twice, was taken silently from its last
    occurrence: evaluate -o a.json -o b.json wrote b.json alone, drugs -s aspirin -s
    ibuprofen listed ibuprofen alone. Now it is one error line naming the option, exit 2,
    before any work; repeatable options (--target) and flags may still repeat."""
    (tmp_path / "s.csv").write_text("smiles\nCCO\n")
    cases = {
        ("evaluate", "s.csv", "-o", "a.json", "-o", "b.json"): "-o/--output is given more than once",
        ("evaluate", "s.csv", "--output=a.json", "-ob.json"): "-o/--output is given more than once",
        ("drugs", "-s", "aspirin", "-s", "ibuprofen"): "--search/-s is given more than once",
        ("predictors", "train", "s.csv", "--rdkit", "qed", "-o", "a.skops", "--model", "gp", "--model", "ridge"): "--model is given more than once",
        ("predict", "s.csv", "-p", "p.skops", "-o", "out.csv", "-m", "a.pt", "--vae", "b.pt"): "--model/-m/--vae is given more than once",
    }
    for args, words in cases.items():
        r = cli_process(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], (args, r.stderr)
        assert r.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv"]
    # a repeatable option given twice is not refused (-t: the missing columns are the error)
    r = cli_process("predictors", "train", "s.csv", "-t", "a", "-t", "b", "-o", "a.skops", cwd=tmp_path)
    assert "more than once" not in r.stderr, r.stderr
    r = cli_process("drugs", "-s", "aspirin", "--search=aspirin", cwd=tmp_path)
    assert r.returncode == 2 and "--search/-s is given more than once" in r.stderr


def test_no_arguments_prints_the_help(cli_process):
    for args in ((), ("campaign",)):
        r = cli_process(*args, env={"COLUMNS": "200"})
        assert r.returncode == 2
        assert "Usage" in r.stdout and "error" not in r.stderr


def test_drugs_runs_on_the_default_model(cli_process):
    r = cli_process("drugs", "--search", "aspirin", env={"COLUMNS": "200"})
    assert r.returncode == 0, r.stderr
    assert "aspirin" in r.stdout.lower()
