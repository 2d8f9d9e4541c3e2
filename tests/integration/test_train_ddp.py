"""`molvae train --devices 2 --strategy ddp`: two CPU processes (gloo) train one model."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.checkpoint import load_checkpoint
from molvae.chem import properties
from molvae.vae import MolVAE

MOLVAE = shutil.which("molvae") or str(Path(sys.executable).with_name("molvae"))
TRAIN_CSV = Path(__file__).resolve().parents[1] / "data" / "moses_train_3k.csv"


def test_two_process_ddp_run_writes_one_resumable_model(tmp_path, make_toml):
    """Lightning's DDP launcher re-runs the command as rank 1; rank 0 writes the files.

    Batches of 128 give each rank 21 batches an epoch, fewer than the whole set's 22: the
    validation interval (at most an epoch) was the whole set's, and Lightning refused it.
    The run trains a logP head jointly (--properties): its validation R^2 is summed over
    both ranks' molecules. The data has two invalid rows, and the cache folder cannot be
    created: the skipped rows and the cache warnings are reported once, by rank 0 (rank 1
    repeated the warnings)."""
    config = make_toml(tmp_path / "tiny.toml", val_every=1000, batch_size=128, aggregate_weight=1.0, property_molecules=500)
    out, run_dir = tmp_path / "model.pt", tmp_path / "run"
    data = tmp_path / "train.csv"
    data.write_text(TRAIN_CSV.read_text() + "not_a_smiles\nC1CC\n")
    (tmp_path / "a-file").write_text("")
    no_cache = {**os.environ, "MOLVAE_CACHE": str(tmp_path / "a-file" / "cache")}  # writing there fails

    def cmd(max_steps: int) -> list[str]:
        return [MOLVAE, "train", str(data), "-o", str(out), "-c", str(config), "--max-steps", str(max_steps), "--checkpoint-every", "7", "--run-dir", str(run_dir), "--devices", "2", "--strategy", "ddp", "--properties", "logp"]

    r = subprocess.run(cmd(21), capture_output=True, text=True, env=no_cache, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    # rank 0 alone reports (each rank used to log its INFO lines and print 'wrote', and
    # its warnings), and Lightning has nothing to warn about (all_gather, sync_dist, the
    # logging interval)
    assert r.stdout.count("wrote ") == 1, r.stdout
    assert r.stderr.count("training / 100 validation molecules") == 1, r.stderr
    assert r.stderr.count("skipped 2 training rows") == 1 and r.stderr.count("row 3001: RDKit cannot parse SMILES") == 1, r.stderr
    assert r.stderr.count("could not write token cache") == 1 and r.stderr.count("could not write label cache") == 1, r.stderr
    for noise in ("all_gather", "sync_dist", "logging interval"):
        assert noise not in r.stderr, r.stderr
    assert not re.search(r"\.py:\d+: ", r.stderr), r.stderr  # no warning at all
    t = load_checkpoint(out)["training"]
    assert t["steps"] == 21 and t["world_size"] == 2
    # the logP head's R^2 at the last validation (step 21, the model file's weights) is the
    # whole validation set's: recomputed here from the model file
    vae = MolVAE.load(out)
    molecules = pd.read_csv(TRAIN_CSV)["smiles"].tolist()
    val = [molecules[i] for i in np.random.default_rng(t["config"]["seed"]).permutation(len(molecules))[:100]]
    y = np.array([properties(m)["logp"] for m in val])
    pred = vae.predict_properties(vae.encode(val))["logp"]
    r2 = 1 - ((pred - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert t["metrics"]["val_property_r2_logp"] == pytest.approx(r2, rel=1e-4, abs=1e-4)
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


def test_a_resumed_two_process_run_ends_as_an_uninterrupted_one(tmp_path, make_toml):
    """The checkpoint held the first process's random state only, which both processes
    took on resuming: the second drew other z noise than in the uninterrupted run, whose
    weights the resumed run then missed. Each process now resumes with its own."""
    config = make_toml(tmp_path / "tiny.toml", val_every=1000)

    def run(out: Path, max_steps: int) -> None:
        cmd = [MOLVAE, "-q", "train", str(TRAIN_CSV), "-o", str(out), "-c", str(config), "--max-steps", str(max_steps), "--checkpoint-every", "5", "--devices", "2", "--strategy", "ddp"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
        assert r.returncode == 0, r.stderr[-3000:]

    run(tmp_path / "ref.pt", 16)
    run(tmp_path / "m.pt", 8)
    run(tmp_path / "m.pt", 16)
    a, b = load_checkpoint(tmp_path / "m.pt"), load_checkpoint(tmp_path / "ref.pt")
    assert a["training"]["steps"] == b["training"]["steps"] == 16
    assert a["training"]["molecules_seen"] == b["training"]["molecules_seen"]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])
    # the molecules of both processes' 16 batches (it was the first's batch sizes times 2)
    from molvae.data import LengthBucketBatches, prepare_training_set

    data = prepare_training_set(TRAIN_CSV)
    cfg = b["training"]["config"]
    order = np.random.default_rng(cfg["seed"]).permutation(len(data.tokens))
    tokens = [data.tokens[i] for i in order[min(cfg["val_size"], len(data.tokens) // 10) :]]
    batches = [LengthBucketBatches(tokens, cfg["batch_size"], seed=cfg["seed"], rank=r, world_size=2).batches()[:16] for r in (0, 1)]
    assert b["training"]["molecules_seen"] == sum(len(ix) for rank in batches for ix in rank)
