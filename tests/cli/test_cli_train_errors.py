"""`molvae train` user mistakes: one `error: ...` line, exit code 1, no traceback.

A bad setting fails before the data is prepared: the error line is the only line on stderr.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from molvae.checkpoint import CheckpointError, load_checkpoint
from molvae.vae import default_model_path

GPU = torch.cuda.is_available()
TRAIN_CSV = Path(__file__).resolve().parents[1] / "data" / "moses_train_3k.csv"


@pytest.fixture(scope="module")
def files(tmp_path_factory, make_toml):
    d = tmp_path_factory.mktemp("train-errors")
    (d / "in.csv").write_text("smiles\nCCO\nc1ccccc1\n")
    (d / "bad.csv").write_text("smiles\nC1CC\nnot_a_smiles\nCC(C)(C)(C)(C)C\n")
    (d / "afile").write_text("not a directory\n")
    (d / "dir.pt").mkdir()
    make_toml(d / "tiny.toml")
    return d


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--lr", "nan"], ["lr must be a finite number, got nan"]),  # trained an all-NaN model
        (["--lr", "inf"], ["lr must be a finite number, got inf"]),
        (["--set", "lr_min_factor=-1"], ["lr_min_factor must be in [0, 1]", "-1"]),  # was accepted
        (["--max-steps", "-5"], ["max_steps must be >= 1, or -1 for no limit, got -5"]),  # Lightning traceback
        (["--threads", "-1"], ["threads must be >= 0, got -1"]),  # torch traceback
        (["--strategy", "nonsense"], ["unknown strategy 'nonsense'", "ddp"]),  # Lightning traceback
        (["--set", "accelerator=banana"], ["unknown accelerator 'banana'", "cpu"]),
        (["--set", "remove_stereo=maybe"], ["remove_stereo must be true or false, got 'maybe'"]),  # was False
        (["--set", "d_z=2.7"], ["d_z must be an integer, got '2.7'"]),
        (["--run-dir", "afile"], ["run directory afile exists and is not a directory"]),  # FileExistsError traceback
        (["--run-dir", "model.pt"], ["run directory model.pt is the model file's path"]),  # failed after training
        (["--run-dir", "afile/run"], ["cannot create run directory afile/run: afile is not a directory"]),  # failed after the data preparation
        (["--threads", "100000"], ["threads must be at most", "the CPUs of this machine, got 100000"]),  # thread-start traceback
        (["--properties", ","], ["properties names no property (','): give comma-separated names of qed, logp"]),  # trained without a head
        (["--precision", "bf16-true"], ["precision bf16-true (bf16 weights) is not supported: use bf16-mixed"]),  # dtype traceback at the first validation
        (["--set", "d_z=1e30"], ["d_z 1000000000000000019884624838656", "more than this machine's memory"]),  # torch TypeError traceback after the data preparation
        (["--set", "enc_layers=100000000"], ["enc_layers 100000000", "more than this machine's memory"]),  # hours of building, then an allocation error
        (["--set", "d_emb=3000000000"], ["d_emb 3000000000", "GB in float32, more than this machine's memory"]),  # allocation RuntimeError traceback
        (["--set", "lr=0.1", "--set", "lr=0.2"], ["--set lr is given twice (lr=0.1 and lr=0.2): give each key once"]),  # the last one won, silently
        (["--set", "beta_end=0.6", "--beta", "0.4"], ["beta_end is given twice (--set beta_end=0.6 and --beta 0.4): give it once"]),  # the flag won, silently
        (["--set", "max_steps=5", "--max-steps", "5"], ["max_steps is given twice (--set max_steps=5 and --max-steps 5): give it once"]),
    ],
)
def test_bad_settings_fail_before_any_work(cli, expect_error, files, args, fragments):
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", *args, cwd=files)
    expect_error(r, *fragments)
    assert not (files / "model.pt").exists() and not (files / "model.pt.run").exists()


@pytest.mark.skipif(GPU, reason="this machine has a GPU")
@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--set", "accelerator=gpu"], ["accelerator=gpu", "on this machine", "No supported gpu backend"]),
        (["--precision", "16-mixed"], ["precision 16-mixed needs a GPU"]),  # Lightning switched to bf16 silently
    ],
)
def test_settings_this_machine_cannot_run(cli, expect_error, files, args, fragments):
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", *args, cwd=files)
    expect_error(r, *fragments)
    assert not (files / "model.pt.run").exists()


def test_an_output_name_that_is_only_the_extension(cli, expect_error, files):
    """'-o .pt' said "output must end in .pt, got .pt"."""
    for out in (".pt", "sub/.pt"):
        expect_error(cli("train", "in.csv", "-o", out, cwd=files), f"-o {out} has no file name, only an extension")
    assert not (files / "sub").exists()


def test_an_upper_case_pt_extension_is_taken(cli, expect_error, files, make_toml):
    """'-o m.PT' was refused ("output must end in .pt"), while fit-density -o and --model take it:
    here the run goes on to the config, whose own error is the one reported."""
    make_toml(files / "bad_dz.toml", d_z=2.7)
    r = cli("train", "in.csv", "-o", "upper.PT", "-c", "bad_dz.toml", cwd=files)
    expect_error(r, "d_z must be an integer, got 2.7")
    assert "must end in .pt" not in r.stderr


def test_toml_values_are_not_coerced(cli, expect_error, files, make_toml):
    make_toml(files / "float.toml", d_z=2.7)  # used to train with d_z = 2
    expect_error(cli("train", "in.csv", "-o", "model.pt", "-c", "float.toml", cwd=files), "d_z must be an integer, got 2.7")
    (files / "bool.toml").write_text((files / "tiny.toml").read_text().replace("d_z = 8", "d_z = true"))
    expect_error(cli("train", "in.csv", "-o", "model.pt", "-c", "bool.toml", cwd=files), "d_z must be an integer, got True")


def test_a_config_file_that_is_not_utf8_text(cli, expect_error, files):
    """A config file with a byte that is not UTF-8 ended in a UnicodeDecodeError traceback."""
    (files / "latin1.toml").write_bytes("d_z = 8 # réglage\n".encode("latin-1"))
    expect_error(cli("train", "in.csv", "-o", "model.pt", "-c", "latin1.toml", cwd=files), "latin1.toml is not UTF-8 text")
    assert not (files / "model.pt.run").exists()


def test_toml_keys_set_twice_or_in_an_unknown_table(cli, expect_error, files):
    """A key set at the top level and again in [model] took the table's value without a
    word, and a table other than [model] or [training] (a typo such as [modle]) was read
    as if it were one. Both are refused, naming the key or the table."""
    tiny = (files / "tiny.toml").read_text()
    (files / "twice.toml").write_text(tiny + "\n[model]\nd_z = 16\n")
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "twice.toml", cwd=files)
    expect_error(r, "d_z is set twice in twice.toml (at the top level and in [model])")
    (files / "twice2.toml").write_text("[model]\nd_z = 16\n[training]\nd_z = 8\n")
    expect_error(cli("train", "in.csv", "-o", "model.pt", "-c", "twice2.toml", cwd=files), "d_z is set twice in twice2.toml (in [model] and in [training])")
    (files / "typo.toml").write_text(tiny + "\n[modle]\nd_emb = 32\n")
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "typo.toml", cwd=files)
    expect_error(r, "unknown table [modle] in typo.toml: use [model] and [training], or no table")
    assert not (files / "model.pt").exists() and not (files / "model.pt.run").exists()


@pytest.mark.parametrize(
    "output, fragment",
    [
        ("dir.pt", "output dir.pt is a directory"),  # used to fail only after training
        ("no/such/dir/model.pt", "directory no/such/dir does not exist (for model.pt)"),
        ("afile/model.pt", "afile is not a directory (for model.pt)"),  # said 'directory afile does not exist'
    ],
)
def test_output_path_is_checked_before_any_work(cli, expect_error, files, output, fragment):
    r = cli("train", "in.csv", "-o", output, "-c", "tiny.toml", cwd=files)
    expect_error(r, fragment)
    assert not (files / "no").exists()
    assert list((files / "dir.pt").iterdir()) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["-o", "locked/model.pt"], "cannot write model.pt in locked: permission denied"),
        (["-o", "model.pt", "--run-dir", "locked"], "cannot write in run directory locked: permission denied"),
        (["-o", "model.pt", "--run-dir", "locked/new/run"], "cannot create run directory locked/new/run in locked: permission denied"),
    ],
)
def test_an_unwritable_output_folder_or_run_directory_is_refused_before_any_work(cli, expect_error, files, monkeypatch, args, fragment):
    """An output folder or run directory without write permission was found out only at
    the first checkpoint, after training had started; it is now refused with the other
    path checks. The tests run as root, for whom every folder is writable, so os.access
    is monkeypatched in molvae.config (which calls it) to deny the folder 'locked'."""
    import molvae.config

    locked = files / "locked"
    locked.mkdir(exist_ok=True)
    real = os.access

    def access(path, mode, **kwargs):
        if Path(path).resolve() == locked.resolve() and mode & os.W_OK:
            return False
        return real(path, mode, **kwargs)

    monkeypatch.setattr(molvae.config.os, "access", access)
    r = cli("train", "in.csv", *args, "-c", "tiny.toml", cwd=files)
    expect_error(r, fragment)
    assert list(locked.iterdir()) == []
    assert not (files / "model.pt").exists() and not (files / "model.pt.run").exists()



@pytest.mark.parametrize(
    "args, message",
    [
        (["absent.csv"], "error: input file not found: absent.csv"),
        (["in.xyz"], "error: unsupported input extension '.xyz': use .csv, .csv.gz, .smi, .smi.gz, .txt, .sdf or .sdf.gz"),
        (["in.csv", "--smiles-column", "mol"], "error: in.csv has no column 'mol' (columns: smiles)"),
        (["in.csv", "--init-from", "absent.pt"], "error: model file not found: absent.pt (--init-from)"),
    ],
)
def test_input_files_are_checked_before_lightning_is_imported(files, args, message):
    """A missing data file was reported only after Lightning's import (5.6 s); the data file
    and the --init-from model file are now checked with the output path, before it."""
    import subprocess
    import sys

    (files / "in.xyz").write_text("CCO\n")
    code = (
        "import sys\n"
        "from molvae_cli.main import main\n"
        f"sys.argv = ['molvae', 'train', *{args!r}, '-o', 'model.pt', '-c', 'tiny.toml']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    print(exc.code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'lightning', 'pytorch_lightning'}), 'molvae.training' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=files, capture_output=True, text=True, timeout=120)
    assert [line for line in r.stderr.splitlines() if line.strip()] == [message], r.stderr
    assert r.stdout.splitlines() == ["1", "[] False"], r.stdout
    assert not (files / "model.pt.run").exists()

def test_a_folder_given_as_data_is_named_as_a_folder(cli, expect_error, files):
    """A folder named like a data file was reported as 'input file not found'."""
    (files / "folder.smi").mkdir()
    r = cli("train", "folder.smi", "-o", "model.pt", "-c", "tiny.toml", cwd=files)
    expect_error(r, "error: folder.smi is a folder, not a file of molecules")


def test_init_from_a_folder_is_named_as_a_folder(cli, expect_error, files):
    """--init-from naming a folder said 'model file not found', as if nothing were there."""
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", "--init-from", "dir.pt", cwd=files)
    expect_error(r, "dir.pt is a folder, not a model file (--init-from)")
    with pytest.raises(CheckpointError, match="dir.pt is a folder, not a model file"):
        load_checkpoint(files / "dir.pt")


def test_no_usable_row_lists_the_reasons(cli, files):
    """The error used to come without the reason of any row."""
    r = cli("train", "bad.csv", "-o", "model.pt", "-c", "tiny.toml", "--run-dir", "run-bad", cwd=files)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr_lines
    assert lines[-1] == "error: no molecule of bad.csv could be used (3 rows skipped)", lines
    assert "skipped 3 training rows:" in lines
    reasons = [line.strip() for line in lines if line.strip().startswith("row ")]
    assert [x.split(":")[0] for x in reasons] == ["row 1", "row 2", "row 3"], lines
    assert "'not_a_smiles'" in reasons[1] and "'CC(C)(C)(C)(C)C'" in reasons[2], reasons


@pytest.fixture()
def run_dir_of_tiny(tmp_path, trained):
    """A copy of the session's tiny model's run dir (trained on moses_train_3k.csv, d_z 8)."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(trained.run_dir / "last.ckpt", run / "last.ckpt")
    return run


def test_truncated_checkpoint(cli, expect_error, files, run_dir_of_tiny):
    """It used to end in an OSError traceback from inside torch."""
    data = (run_dir_of_tiny / "last.ckpt").read_bytes()
    (run_dir_of_tiny / "last.ckpt").write_bytes(data[: len(data) // 3])
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", "--run-dir", run_dir_of_tiny, cwd=files)
    expect_error(r, "last.ckpt is unreadable, truncated or damaged", "--restart")


def test_a_folder_named_last_ckpt_in_the_run_dir_is_refused(cli, expect_error, files):
    """A folder last.ckpt in the run directory: the run started over from scratch without a
    word, and Lightning wrote its checkpoints into the folder as temporary files, so every
    rerun started over again. It is refused before any work, with --restart too (which
    only moves a checkpoint file aside)."""
    (files / "folder-run" / "last.ckpt").mkdir(parents=True)
    for restart in ([], ["--restart"]):
        r = cli("train", "in.csv", "-o", "fr.pt", "-c", "tiny.toml", "--run-dir", "folder-run", *restart, cwd=files)
        expect_error(r, f"{Path('folder-run', 'last.ckpt')} is a folder, where the run's checkpoint goes: move it out of the run directory or name another --run-dir")
    assert not (files / "fr.pt").exists() and not any((files / "folder-run" / "last.ckpt").iterdir())


def test_resume_with_another_latent_size(cli, expect_error, files, run_dir_of_tiny):
    """It used to end in a state_dict RuntimeError traceback from inside Lightning."""
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", "--d-z", 16, "--run-dir", run_dir_of_tiny, cwd=files)
    expect_error(r, "cannot resume", "d_z 8 then, 16 now", "--restart")


def test_resume_on_other_data(cli, files, run_dir_of_tiny):
    """It used to go on silently."""
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", "--run-dir", run_dir_of_tiny, cwd=files)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr_lines[-1]
    assert last.startswith("error: cannot resume ") and "trained on other data (moses_train_3k.csv" in last and "not in.csv" in last, last
    assert "--restart" in last
    assert not (files / "model.pt").exists()


def test_init_from_a_model_of_another_architecture_fails_before_any_work(cli, expect_error, files, model_path):
    """--init-from a model with d_z 8 and --d-z 16 was refused only after the data was
    prepared, below its log lines; it is refused with the other settings, alone."""
    r = cli("train", "in.csv", "-o", "model.pt", "-c", "tiny.toml", "--init-from", model_path, "--d-z", 16, "--run-dir", "run-arch", cwd=files)
    expect_error(r, f"init_from {model_path.name}: different architecture (d_z 8 vs 16)")
    assert not (files / "run-arch").exists()


def test_output_over_the_init_from_model_is_refused(cli, expect_error, files, model_path):
    """-o naming the --init-from file was accepted, and the run overwrote the model it
    started from. It is refused before any work, as other commands refuse an output over
    an input, whichever way the two paths are written."""
    shutil.copy(model_path, files / "start.pt")
    before = (files / "start.pt").read_bytes()
    for out, init in (("start.pt", "start.pt"), ("start.pt", files / "start.pt"), ("sub/../start.pt", "start.pt")):
        (files / "sub").mkdir(exist_ok=True)
        r = cli("train", "in.csv", "-o", out, "-c", "tiny.toml", "--init-from", init, cwd=files)
        expect_error(r, f"-o {out} is the --init-from model file", "give another -o")
    assert (files / "start.pt").read_bytes() == before and not (files / "start.pt.run").exists()


def test_init_from_writes_the_data_in_the_models_alphabet(cli, tmp_path):
    """Fine-tuning the shipped model on one's own molecules was refused whenever their
    alphabet was not exactly the model's ('token only in the model: [=S]'), so almost
    always. The data is now written in the model's alphabet: a molecule it cannot write
    is reported and skipped, and stereo is removed as the model has none."""
    lines = TRAIN_CSV.read_text().splitlines()
    data = tmp_path / "mine.csv"
    data.write_text("\n".join([lines[0], *lines[1:41], "C[C@H](N)C(=O)Nc1ccccc1", "C[Se]c1ccccc1"]) + "\n")
    out = tmp_path / "tuned.pt"
    args = ("train", data, "-o", out, "--init-from", default_model_path(), "--max-steps", 1, "--batch-size", 16,
            "--precision", "32-true", "--set", "val_size=0", "--set", "n_jobs=1", "--run-dir", tmp_path / "run")  # fmt: skip
    r = cli(*args, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    err = " ".join(r.stderr.split())
    assert "row 42: token [Se] not in the model's alphabet ('C[Se]c1ccccc1')" in err
    assert "stereochemistry removed from the training molecules: default.pt has no stereo tokens" in err
    ckpt, model = load_checkpoint(out), load_checkpoint(default_model_path())
    assert ckpt["alphabet"] == model["alphabet"]
    assert ckpt["training"]["data"]["train_molecules"] == 41 and ckpt["training"]["data"]["skipped_rows"] == 1
    assert ckpt["training"]["initialized_from"]["file"] == "default.pt"
    # the same command resumes the run (same molecules, same tokens)
    r = cli(*args[:7], 2, *args[8:], timeout=600)  # --max-steps 2
    assert r.returncode == 0, r.stderr[-3000:]
    assert load_checkpoint(out)["training"]["steps"] == 2


def test_a_resumed_init_from_run_does_not_need_the_model_file(cli, tmp_path, model_path, make_toml):
    """A resumed --init-from run ignores the model file (its weights are the checkpoint's),
    yet it was refused when the file had gone ('model file not found'), and its alphabet
    was read from it. The run's checkpoint records the alphabet: the run now resumes
    without the file, and the data is written in the recorded alphabet."""
    lines = TRAIN_CSV.read_text().splitlines()
    (tmp_path / "mine.csv").write_text("\n".join(lines[:41]) + "\n")
    shutil.copy(model_path, tmp_path / "init.pt")
    make_toml(tmp_path / "tiny.toml", batch_size=16, val_size=0, checkpoint_every=1)
    args = ["train", "mine.csv", "-o", "tuned.pt", "-c", "tiny.toml", "--init-from", "init.pt", "--run-dir", "run"]
    r = cli(*args, "--max-steps", 1, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    (tmp_path / "init.pt").rename(tmp_path / "moved.pt")
    r = cli(*args, "--max-steps", 2, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = load_checkpoint(tmp_path / "tuned.pt")
    assert ckpt["training"]["steps"] == 2 and ckpt["training"]["initialized_from"]["file"] == "init.pt"
    assert ckpt["alphabet"] == load_checkpoint(tmp_path / "moved.pt")["alphabet"]
    # a new run (--restart) still needs it
    r = cli(*args, "--max-steps", 2, "--restart", cwd=tmp_path)
    assert r.returncode == 1 and "model file not found: init.pt (--init-from)" in r.stderr


def test_init_from_a_model_of_another_max_length(cli, files, tmp_path):
    """The default model has max_length 55, moses_train_3k.csv's longest molecule 48: the
    run takes the model's max_length (it used to fail with 'alphabet differs')."""
    out = tmp_path / "tuned.pt"
    r = cli(
        "train", TRAIN_CSV, "-o", out, "--init-from", default_model_path(), "--max-steps", 1, "--batch-size", 16,
        "--precision", "32-true", "--set", "val_size=0", "--set", "n_jobs=1", "--run-dir", tmp_path / "run",
        timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "max_length 55 from default.pt" in " ".join(r.stderr.split())
    ckpt = load_checkpoint(out)
    assert ckpt["hparams"]["max_length"] == 55 and ckpt["training"]["steps"] == 1
    assert ckpt["training"]["initialized_from"]["file"] == "default.pt"


def test_ddp_with_fewer_batches_than_processes_is_refused(cli_process, expect_error, files):
    """One molecule with --devices 2 --strategy ddp gave each process no batch: Lightning
    trained nothing, no model file was written, and the command said 'wrote model.pt' with
    exit code 0. It is now refused before training, naming the numbers."""
    (files / "one.csv").write_text("smiles\nCCO\n")
    # a process of its own: the old code's DDP launcher re-ran its command line as rank 1
    r = cli_process("-q", "train", "one.csv", "-o", "one.pt", "-c", "tiny.toml", "--devices", "2", "--strategy", "ddp", cwd=files)
    expect_error(r, "1 training molecule makes 1 batch", "fewer than the 2 processes training together", "train with fewer devices")
    assert not (files / "one.pt").exists() and not (files / "one.pt.run").exists()


def test_resume_with_fewer_epochs_than_trained_is_refused(cli, expect_error, tmp_path, make_toml):
    """Re-running a run that had trained 3 epochs with --epochs 1 ended in Lightning's
    MisconfigurationException traceback ('You restored a checkpoint with current_epoch=...')."""
    (tmp_path / "three.csv").write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")  # 3 batches an epoch
    make_toml(tmp_path / "tiny.toml", checkpoint_every=3, max_steps=100, epochs=3)
    r = cli("train", "three.csv", "-o", "m.pt", "-c", "tiny.toml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("-q", "train", "three.csv", "-o", "m.pt", "-c", "tiny.toml", "--epochs", 1, cwd=tmp_path)
    expect_error(r, "cannot resume", "is past epoch 1, the epochs set now (give --epochs 2 or more to resume it)", "--restart")
