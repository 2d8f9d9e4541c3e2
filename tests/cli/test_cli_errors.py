"""User mistakes: exit code 1, one `error: ...` line on stderr, no traceback, nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

@pytest.fixture(scope="module")
def files(tmp_path_factory, model_path):
    d = tmp_path_factory.mktemp("errors")
    (d / "in.csv").write_text("smiles\nCCO\nc1ccccc1\n")
    (d / "in.xyz").write_text("CCO\n")
    (d / "nocol.csv").write_text("name,structure\nethanol,CCO\n")
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("smiles\n")
    (d / "blank.smi").write_text("\n\n\n")
    data = model_path.read_bytes()
    (d / "cut.pt").write_bytes(data[: len(data) // 2])
    torch.save({"a": 1}, d / "foreign.pt")
    ckpt = torch.load(model_path, map_location="cpu", weights_only=True)
    torch.save({**ckpt, "format_version": 999}, d / "future.pt")
    torch.save(ValueError("not a model"), d / "pickled.pt")
    (d / "text.pt").write_text("hello\n")
    np.save(d / "z_wrong.npy", np.zeros((3, 5), dtype=np.float32))
    np.save(d / "z_nan.npy", np.full((2, 8), np.nan, dtype=np.float32))
    np.save(d / "z.npy", np.zeros((2, 8), dtype=np.float32))
    (d / "typo.toml").write_text("d_zz = 3\n")
    return d


def test_wrong_column_names_the_columns(cli, expect_error, files, model_path):
    r = cli("encode", "nocol.csv", "-o", "out.npy", "--model", model_path, cwd=files)
    expect_error(r, "nocol.csv", "smiles", "name", "structure")
    r = cli("encode", "nocol.csv", "-o", "out.npy", "--model", model_path, "--smiles-column", "smi", cwd=files)
    expect_error(r, "'smi'", "structure")
    assert not (files / "out.npy").exists()


@pytest.mark.parametrize("name, message", [("empty.csv", "is empty"), ("header.csv", "holds no molecules"), ("blank.smi", "holds no molecules")])
def test_empty_input(cli, expect_error, files, model_path, name, message):
    # the file name alone matched any error about the file (see test_empty_csv)
    expect_error(cli("encode", name, "-o", "out.npy", "--model", model_path, cwd=files), f"{name} {message}")


def test_missing_input_and_unsupported_input(cli, expect_error, files, model_path):
    expect_error(cli("encode", "missing.csv", "-o", "out.npy", "--model", model_path, cwd=files), "not found", "missing.csv")
    expect_error(cli("reconstruct", "in.xyz", "--model", model_path, cwd=files), "extension")


@pytest.mark.parametrize(
    "command, model, fragment",
    [
        ("encode", "cut.pt", "truncated"),
        ("encode", "foreign.pt", "not a molvae model"),
        ("encode", "future.pt", "999"),
        ("encode", "pickled.pt", "does not unpickle"),
        ("encode", "nothing.pt", "not found"),
        ("generate", "cut.pt", "truncated"),
        ("reconstruct", "foreign.pt", "not a molvae model"),
    ],
)
def test_bad_model_file(cli, expect_error, files, command, model, fragment):
    args = {
        "generate": ["generate", "-n", 3, "-o", "out.csv"],
        "encode": ["encode", "in.csv", "-o", "out.npy"],
        "reconstruct": ["reconstruct", "in.csv", "-o", "out.csv"],
    }[command]
    expect_error(cli(*args, "--model", model, cwd=files), fragment, model)
    assert not (files / "out.csv").exists() and not (files / "out.npy").exists()


def test_text_file_as_model(cli, expect_error, files):
    expect_error(cli("encode", "in.csv", "-o", "out.npy", "--model", "text.pt", cwd=files), "text.pt is not a model file")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "-n", 3, "-o", "out.txt"], "extension"),
        (["encode", "in.csv", "-o", "out.txt"], "extension"),
        (["decode", "z.npy", "-o", "out.xyz"], "extension"),
        (["reconstruct", "in.csv", "-o", "out.txt"], ".csv"),
        (["generate", "-n", 3, "-o", "out.csv", "--image", "grid.jpg"], ".png"),
        (["generate", "-n", 3, "-o", "no/such/dir/out.csv"], "does not exist"),
    ],
)
def test_bad_output_path_fails_before_any_work(cli, expect_error, files, model_path, args, fragment):
    r = cli(*args, "--model", model_path, cwd=files)
    expect_error(r, fragment)
    assert not any(p.name.startswith("out") for p in files.iterdir())


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "-n", 3, "-o", "out.csv", "--image", ".png"], "--image .png has no file name"),
        (["generate", "-n", 3, "-o", ".csv"], "-o .csv has no file name"),
        (["generate", "-n", 3, "-o", ".sdf"], "-o .sdf has no file name"),
        (["encode", "in.csv", "-o", ".npy"], "-o .npy has no file name"),
        (["interpolate", "aspirin", "caffeine", "-o", "out.csv", "--image", ".PNG"], "--image .PNG has no file name"),
        (["analogs", "aspirin", "-o", "out.csv", "--image", "sub/.png"], "--image sub/.png has no file name"),
        (["analogs", "aspirin", "-o", ".csv"], "-o .csv has no file name"),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", ".csv"], "-o .csv has no file name"),
        (["optimize", "--objective", "qed", "--budget", "5", "-o", "out.csv", "--plot", ".png"], "--plot .png has no file name"),
        (["predictors", "train", "in.csv", "--rdkit", "qed", "-o", ".skops"], "-o .skops has no file name"),
        (["predictors", "train", "in.csv", "--rdkit", "qed", "-o", "out.skops", "--plot", ".png"], "--plot .png has no file name"),
    ],
)
def test_an_output_name_that_is_only_an_extension_is_named_as_such(cli, expect_error, files, model_path, args, fragment):
    """'--image .png' or '-o .csv' was refused as "unknown output extension '(none)'" (to
    Python '.png' is a name with no suffix): the error now says the name is missing."""
    model = ["--vae" if args[0] == "predictors" else "--model", model_path]
    r = cli(*args, *model, cwd=files)
    expect_error(r, fragment, "give one, e.g.")
    assert "(none)" not in r.stderr
    assert not any(p.name.startswith(("out", ".")) for p in files.iterdir())


def test_grid_image_to_a_name_that_is_only_an_extension_is_refused(tmp_path):
    """molvae.draw.grid_image refused '.png' as "image must be a .png file, got .png"."""
    from molvae.draw import grid_image

    with pytest.raises(ValueError, match="has no file name"):
        grid_image(["CCO"], tmp_path / ".png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "-n", 0, "-o", "out.csv"], "-n"),
        (["generate", "-n", 3, "-o", "out.csv", "--temperature", -1], "temperature"),
        (["generate", "-n", 3, "-o", "out.csv", "--n-jobs", 0], "--n-jobs"),
        (["generate", "-n", 3, "-o", "out.csv", "--n-jobs", 100000], "--n-jobs must be between 1 and"),  # forked 100,000 workers
        (["decode", "z_wrong.npy", "-o", "out.csv"], "(n, 8)"),
        (["decode", "z_nan.npy", "-o", "out.csv"], "NaN"),
        (["decode", "in.csv", "-o", "out.csv"], "z0"),
    ],
)
def test_bad_values(cli, expect_error, files, model_path, args, fragment):
    expect_error(cli(*args, "--model", model_path, cwd=files), fragment)


def test_bad_decode_precision_setting(cli, expect_error, files, model_path):
    result = cli("generate", "-n", 3, "-o", "out.csv", "--model", model_path, cwd=files, env={"MOLVAE_DECODE_PRECISION": "half"})
    expect_error(result, "MOLVAE_DECODE_PRECISION", "'half'")
    assert not (files / "out.csv").exists()


def test_train_output_must_be_pt(cli, expect_error, files):
    expect_error(cli("train", "in.csv", "-o", "model.pth", cwd=files), ".pt")


def test_train_bad_config(cli, expect_error, files):
    # the same happens for a missing -c file and for --batch-size 0
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "typo.toml", "--run-dir", "run", cwd=files)
    expect_error(r, "d_zz")


def test_train_unknown_property(cli, expect_error, files):
    r = cli("train", "in.csv", "-o", "model.pt", "--properties", "logp,toxicity", "--run-dir", "run", cwd=files)
    expect_error(r, "unknown property toxicity")


def test_train_init_from_a_missing_model_file(cli, expect_error, files):
    r = cli("train", "in.csv", "-o", "model.pt", "--init-from", "nowhere.pt", "--run-dir", "run", cwd=files)
    # checked before the data is prepared: the error is the only line
    expect_error(r, "model file not found: nowhere.pt (--init-from)")
    assert not (files / "model.pt").exists()


def test_usage_errors_exit_2_without_traceback(cli, files):
    r = cli("generate", "-n", 3, cwd=files)  # -o is required
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--output" in r.stderr


def test_help_lists_the_commands(cli):
    r = cli("--help")
    assert r.returncode == 0
    for command in ("generate", "encode", "decode", "reconstruct", "train"):
        assert command in r.stdout


def test_long_error_stays_on_one_line_when_piped(cli, expect_error, tmp_path, model_path):
    # stderr is a pipe here; rich must not wrap at its default 80 columns
    name = "a_rather_long_input_file_name_that_users_do_have_sometimes.csv"
    (tmp_path / name).write_text("name,structure\nethanol,CCO\n")
    r = cli("encode", tmp_path / name, "-o", "out.npy", "--model", model_path, cwd=tmp_path, env={"COLUMNS": "80"})
    line = expect_error(r, name, "structure")
    assert len(line) > 120


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (a folder where no file can be created)")
def test_an_output_the_system_refuses_is_named_with_the_reason(cli, expect_error, model_path, tmp_path):
    # /proc passes the up-front checks (it exists and, for root, is writable) but refuses
    # the file when it is written: the message names the file and the reason, not '[Errno 2] ...'
    line = expect_error(cli("generate", "-n", "2", "-o", "/proc/molvae_out.csv", "--model", model_path, cwd=tmp_path), "/proc/molvae_out.csv")
    assert "Errno" not in line and "no such file" in line.lower()


@pytest.mark.parametrize(
    "name, args",
    [
        ("mols.csv", ["encode", "mols.csv", "-o", "mols.csv"]),
        ("mols.csv", ["reconstruct", "mols.csv", "-o", "./mols.csv"]),
        ("z.csv", ["decode", "z.csv", "-o", "z.csv"]),
    ],
)
def test_output_over_the_input_is_one_line_error(cli, expect_error, model_path, tmp_path, name, args):
    # encode/decode/reconstruct -o IN replaced the input with their output
    text = "smiles\nCCO\nc1ccccc1\n" if name == "mols.csv" else "z0,z1,z2,z3,z4,z5,z6,z7\n" + ",".join(["0"] * 8) + "\n"
    (tmp_path / name).write_text(text)
    expect_error(cli(*args, "--model", model_path, cwd=tmp_path), "input", name)
    assert (tmp_path / name).read_text() == text


def test_log_records_are_one_line_each_when_stderr_is_not_a_terminal(monkeypatch):
    """Piped or redirected stderr (a log file, CI): rich wrapped a record at 80 columns
    and padded every line with spaces, so a grep for a message missed its end."""
    import io
    import logging
    import sys

    from molvae_cli import common

    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.delenv("COLUMNS", raising=False)
    root, pkg = logging.getLogger(), logging.getLogger("molvae")
    saved = [(lg, lg.level, list(lg.handlers)) for lg in (root, pkg)]
    message = "fitted a 32-component Gaussian mixture to 30000 latent means of train.csv.gz (converged: True)"
    try:
        common.configure_logging(logging.INFO)
        logging.getLogger("molvae.density").info(message)
        logging.getLogger("molvae.data").warning("row 7: skipped")
    finally:
        for lg, level, handlers in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
    assert stderr.getvalue().splitlines() == [f"INFO     {message}", "WARNING  row 7: skipped"]
