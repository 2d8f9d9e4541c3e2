"""`molvae train` killed with SIGKILL after its first checkpoint, then re-run: it resumes."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sys
import subprocess
import time
from pathlib import Path

from molvae.checkpoint import load_checkpoint

MOLVAE = shutil.which("molvae") or str(Path(sys.executable).with_name("molvae"))
TRAIN_CSV = Path(__file__).resolve().parents[1] / "data" / "moses_train_3k.csv"

MAX_STEPS = 150
EVERY = 20


def latest_metrics(run_dir: Path) -> Path:
    files = sorted(run_dir.rglob("metrics.csv"), key=lambda p: (p.stat().st_mtime, str(p)))
    assert files, f"no metrics.csv under {run_dir}"
    return files[-1]


def steps_in(path: Path) -> list[int]:
    with open(path) as fh:
        return sorted({int(float(r["step"])) for r in csv.DictReader(fh) if r.get("step")})


def wait_for_first_checkpoint(proc: subprocess.Popen, run_dir: Path, seconds: float = 240) -> None:
    """Wait until ``proc`` (a training run) has written ``run_dir/last.ckpt``."""
    deadline = time.monotonic() + seconds
    while not (run_dir / "last.ckpt").is_file():
        assert proc.poll() is None, f"training ended before its first checkpoint:\n{proc.stderr.read()}"
        assert time.monotonic() < deadline, f"no checkpoint within {seconds:g} s"
        time.sleep(0.02)


def _signal_after_first_checkpoint(tmp_path: Path, make_toml, sig: int):
    """Start a long `molvae train`, send it ``sig`` once it has written its first
    checkpoint, and wait: ``(process, stdout, stderr, model file, run dir)``."""
    config = make_toml(tmp_path / "tiny.toml", val_every=50)
    out, run_dir = tmp_path / "model.pt", tmp_path / "run"
    cmd = [MOLVAE, "train", str(TRAIN_CSV), "-o", str(out), "-c", str(config), "--max-steps", "100000", "--checkpoint-every", str(EVERY), "--run-dir", str(run_dir)]
    # a shell's background job (CI started with `&`) ignores SIGINT, and a Python started
    # with SIGINT ignored keeps ignoring it: give the run the default disposition, as in a terminal
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        wait_for_first_checkpoint(run, run_dir)
        run.send_signal(sig)
        stdout, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    return run, stdout, err, out, run_dir


def test_sigkill_then_rerun_resumes(tmp_path, make_toml):
    config = make_toml(tmp_path / "tiny.toml", val_every=50)
    out, run_dir = tmp_path / "model.pt", tmp_path / "run"
    cmd = [MOLVAE, "train", str(TRAIN_CSV), "-o", str(out), "-c", str(config), "--max-steps", str(MAX_STEPS), "--checkpoint-every", str(EVERY), "--run-dir", str(run_dir)]
    env = dict(os.environ)

    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    try:
        wait_for_first_checkpoint(first, run_dir)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
        first.stderr.close()
    assert first.returncode == -signal.SIGKILL
    killed_at = [p for p in run_dir.glob("step=*.ckpt")]
    assert killed_at, list(run_dir.iterdir())
    ckpt_step = max(int(p.stem.split("=")[1]) for p in killed_at)
    assert EVERY <= ckpt_step < MAX_STEPS, ckpt_step
    if out.exists():  # the model file, if already exported, is complete and not finished
        assert load_checkpoint(out)["training"]["steps"] < MAX_STEPS
    time.sleep(1.1)  # metrics folders are named by the second

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert "resuming from" in second.stderr
    assert f"wrote {out}" in second.stdout.splitlines(), second.stdout  # the model file, not just any 'wrote'

    training = load_checkpoint(out)["training"]
    assert training["steps"] == MAX_STEPS
    assert training["config"]["max_steps"] == MAX_STEPS
    # the re-run started from the checkpoint: its metrics begin after ckpt_step, not at 0
    steps = steps_in(latest_metrics(run_dir))
    assert steps and steps[0] >= ckpt_step and steps[-1] == MAX_STEPS - 1, steps[:5]


def test_ctrl_c_exits_130_after_saving_a_resumable_checkpoint(tmp_path, make_toml):
    """Lightning ends an interrupted fit with sys.exit(1); the CLI now says 'interrupted'
    and exits with 130, the shell's code for SIGINT, after writing the checkpoint."""
    run, _, err, out, _ = _signal_after_first_checkpoint(tmp_path, make_toml, signal.SIGINT)
    assert run.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "interrupted", lines[-3:]
    assert any("interrupted at step" in line and "checkpoint saved" in line for line in lines), lines[-5:]
    steps = load_checkpoint(out)["training"]["steps"]
    assert EVERY <= steps < 100000


def test_sigterm_saves_a_resumable_checkpoint_and_exits_143(tmp_path, make_toml):
    """SIGTERM (kill, a job scheduler's time limit) ends training like Ctrl-C: the state at
    that step is saved and the exit code says the run did not finish (Lightning raised a
    SystemExit without a code, so molvae exited 0 without a word and lost the steps since
    the last periodic checkpoint)."""
    run, stdout, err, out, run_dir = _signal_after_first_checkpoint(tmp_path, make_toml, signal.SIGTERM)
    assert run.returncode == 128 + signal.SIGTERM, (run.returncode, err[-2000:])
    assert "Traceback" not in err
    assert "wrote" not in stdout
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == "terminated", lines[-3:]
    stopped = [line for line in lines if "terminated at step" in line and "checkpoint saved" in line]
    assert stopped, lines[-5:]
    steps = load_checkpoint(out)["training"]["steps"]
    assert f"terminated at step {steps}:" in stopped[0]
    import torch

    assert torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == steps
