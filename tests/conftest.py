"""Shared fixtures: an isolated token cache, one tiny trained model, and a CLI runner.

The tiny model (d_z = 8, 60 optimizer steps on ``tests/data/moses_train_3k.csv``) is
trained once per session through the Python API and reused by every test that needs a
model file; tests that change a model file copy it first.
"""

from __future__ import annotations

import os

# Small GRUs on a 2-core machine: one torch thread per process is much faster than two
# threads competing with everything else (and it is inherited by CLI subprocesses).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
TRAIN_CSV = DATA / "moses_train_3k.csv"
TEST_CSV = DATA / "moses_test_1k.csv"

#: Hyper-parameters of the session's tiny model (also written as TOML for CLI training).
TINY = dict(
    d_emb=16,
    enc_hidden=32,
    dec_hidden=64,
    d_z=8,
    batch_size=64,
    max_steps=60,
    checkpoint_every=20,
    val_every=20,
    val_size=100,
    precision="32-true",
    n_jobs=1,
    epochs=5,
)


def tiny_config(**overrides):
    from molvae.training import TrainConfig

    return TrainConfig(**{**TINY, **overrides})


def write_toml(path: Path, **overrides) -> Path:
    """Write the tiny configuration (plus overrides) as a flat TOML file."""
    lines = []
    for k, v in {**TINY, **overrides}.items():
        lines.append(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session", autouse=True)
def molvae_cache(tmp_path_factory):
    """Point the token cache (``MOLVAE_CACHE``) at a session temp dir, for us and subprocesses."""
    cache = tmp_path_factory.mktemp("molvae-cache")
    old = os.environ.get("MOLVAE_CACHE")
    os.environ["MOLVAE_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("MOLVAE_CACHE", None)
    else:
        os.environ["MOLVAE_CACHE"] = old


@pytest.fixture(scope="session")
def train_smiles() -> list[str]:
    import pandas as pd

    return pd.read_csv(TRAIN_CSV)["smiles"].tolist()


@pytest.fixture(scope="session")
def test_smiles() -> list[str]:
    import pandas as pd

    return pd.read_csv(TEST_CSV)["smiles"].tolist()


@pytest.fixture(scope="session")
def prepared(molvae_cache):
    """The tokenized training set (alphabet, token ids, hashes)."""
    from molvae.data import prepare_training_set

    return prepare_training_set(TRAIN_CSV)


@dataclass
class TrainedModel:
    path: Path
    run_dir: Path


@pytest.fixture(scope="session")
def trained(prepared, tmp_path_factory) -> TrainedModel:
    """Train the tiny model once (60 steps) and return its model file and run dir."""
    from molvae.training import train

    root = tmp_path_factory.mktemp("tiny-model")
    out, run_dir = root / "tiny.pt", root / "run"
    train(prepared, out, tiny_config(), run_dir=run_dir, resume=True, progress=False)
    assert out.is_file()
    return TrainedModel(out, run_dir)


@pytest.fixture(scope="session")
def model_path(trained) -> Path:
    return trained.path


@pytest.fixture(scope="session")
def vae(model_path):
    from molvae.vae import MolVAE

    return MolVAE.load(model_path)


# ---------------------------------------------------------------------- CLI helpers
MOLVAE = shutil.which("molvae") or str(Path(sys.executable).with_name("molvae"))


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(*args, cwd=None, timeout=300, env: dict | None = None) -> Result:
    """Run the real ``molvae`` console script."""
    full_env = {**os.environ, **(env or {})}
    full_env = {k: v for k, v in full_env.items() if v is not None}
    p = subprocess.run(
        [MOLVAE, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit code 1, exactly one non-empty stderr line starting with 'error:', no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr_lines
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:"), lines[0]
    for f in fragments:
        assert f.lower() in lines[0].lower(), (f, lines[0])
    return lines[0]


def invoke_cli(*args, cwd=None, timeout=None, env: dict | None = None) -> Result:
    """Run ``molvae ARGS`` in this process (typer's ``CliRunner``), as :func:`run_cli` would.

    The same app as the console script, without a new interpreter's imports (about 2 s a
    call on a 2-core machine). ``env`` values of None unset a variable; ``cwd`` is entered
    for the call. An exception that escapes the app is written to stderr as a traceback,
    so the one-line error contract is checked as strictly as in a subprocess. ``timeout``
    is accepted for the same signature and not enforced.
    """
    import logging
    import signal
    import traceback

    from typer.testing import CliRunner

    from molvae_cli.main import app, register_commands

    register_commands()
    here, threads, sigint = os.getcwd(), torch.get_num_threads(), signal.getsignal(signal.SIGINT)
    # the CLI configures logging (configure_logging): put the test process's back afterwards
    loggers = [logging.getLogger(name) for name in ("", "molvae", "lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    if cwd is not None:
        os.chdir(cwd)
    try:
        r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "300", **(env or {})}, catch_exceptions=True)
    finally:
        # what a process would have taken with it: working directory, torch threads, SIGINT
        # handler, logging configuration
        os.chdir(here)
        torch.set_num_threads(threads)
        signal.signal(signal.SIGINT, sigint)
        for lg, level, handlers, propagate in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
    stderr, code = r.stderr, r.exit_code
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        stderr += "".join(traceback.format_exception(r.exception))
        code = code or 1
    return Result(code, r.stdout, stderr)


@pytest.fixture(scope="session")
def cli():
    """``cli(*args, cwd=..., env=...)`` runs ``molvae ARGS`` in this process (:func:`invoke_cli`)."""
    return invoke_cli


@pytest.fixture(scope="session")
def cli_process():
    """``cli_process(*args, cwd=..., env=...)`` runs the real ``molvae`` console script in a
    new process: for what only a process shows (its exit status, signals, the entry point)."""
    return run_cli


@pytest.fixture(scope="session")
def expect_error():
    """``expect_error(result, *fragments)``: the one-line ``error:`` contract of the CLI."""
    return assert_one_line_error


@pytest.fixture(scope="session")
def make_config():
    """``make_config(**overrides)``: the tiny TrainConfig."""
    return tiny_config


@pytest.fixture(scope="session")
def make_toml():
    """``make_toml(path, **overrides)``: the tiny config as a flat TOML file."""
    return write_toml
