"""`molvae train --devices 2 --strategy ddp`: two CPU processes (gloo) train one model."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from molvae.checkpoint import load_checkpoint
from molvae.vae import MolVAE

MOLVAE = shutil.which("molvae") or str(Path(sys.executable).with_name("molvae"))
TRAIN_CSV = Path(__file__).resolve().parents[1] / "data" / "moses_train_3k.csv"


def test_two_process_ddp_run_writes_one_resumable_model(tmp_path, make_toml):
    """Lightning's DDP launcher re-runs the command as rank 1; rank 0 writes the files.

    Batches of 128 give each rank 21 batches an epoch, fewer than the whole set's 22: the
    validation interval (at most an epoch) was the whole set's, and Lightning refused it."""
    config = make_toml(tmp_path / "tiny.toml", val_every=1000, batch_size=128, aggregate_weight=1.0)
    out, run_dir = tmp_path / "model.pt", tmp_path / "run"

    def cmd(max_steps: int) -> list[str]:
        return [MOLVAE, "train", str(TRAIN_CSV), "-o", str(out), "-c", str(config), "--max-steps", str(max_steps), "--checkpoint-every", "6", "--run-dir", str(run_dir), "--devices", "2", "--strategy", "ddp"]

    r = subprocess.run(cmd(24), capture_output=True, text=True, env=dict(os.environ), timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    # rank 0 alone reports (each rank used to log its INFO lines and print 'wrote'), and
    # Lightning has nothing to warn about (all_gather, sync_dist, the logging interval)
    assert r.stdout.count("wrote ") == 1, r.stdout
    assert r.stderr.count("training / 100 validation molecules") == 1, r.stderr
    for noise in ("all_gather", "sync_dist", "logging interval"):
        assert noise not in r.stderr, r.stderr
    assert not re.search(r"\.py:\d+: ", r.stderr), r.stderr  # no warning at all
    t = load_checkpoint(out)["training"]
    assert t["steps"] == 24 and t["world_size"] == 2
    assert (t["config"]["devices"], t["config"]["strategy"]) == (2, "ddp")
    # validation ran across both ranks (statistics gathered) and was recorded
    assert 0 <= t["metrics"]["val_token_recon_acc"] <= 1 and t["metrics"]["val_active_units"] >= 0
    # one Lightning checkpoint, with the discriminator; the model file has none
    assert any(k.startswith("discriminator.") for k in torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"])
    assert MolVAE.load(out).encode(["CCO"]).shape == (1, 8)
    # re-running with a higher step limit resumes the two-process run
    r = subprocess.run(cmd(30), capture_output=True, text=True, env=dict(os.environ), timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    assert load_checkpoint(out)["training"]["steps"] == 30
    assert r.stdout.count("wrote ") == 1 and r.stderr.count("resuming from") == 1, r.stdout + r.stderr
