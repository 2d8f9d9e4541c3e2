"""Training through the Python API: the model file it writes, resuming, restarting."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest
import selfies as sf
import torch

from molvae.checkpoint import load_checkpoint
from molvae.chem import smiles_hash
from molvae.training import train
from molvae.vae import MolVAE


def metrics_files(run_dir: Path) -> list[Path]:
    """metrics.csv files of a run dir, oldest first (one per training segment)."""
    return sorted(run_dir.rglob("metrics.csv"), key=lambda p: (p.stat().st_mtime, str(p)))


def logged_steps(path: Path) -> list[int]:
    with open(path) as fh:
        return sorted({int(float(r["step"])) for r in csv.DictReader(fh) if r.get("step")})


def loader_state(ckpt_path: Path) -> dict:
    """The LengthBucketBatches state ({'epoch', 'consumed'}) saved in a Lightning checkpoint."""
    found = []

    def walk(x):
        if isinstance(x, dict):
            if set(x) == {"epoch", "consumed"}:
                found.append(x)
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(torch.load(ckpt_path, map_location="cpu", weights_only=False)["loops"])
    assert len(found) == 1, found
    return found[0]


def model_steps(path: Path) -> int:
    return int(load_checkpoint(path)["training"]["steps"])


def test_model_file_contents(trained, prepared):
    ckpt = load_checkpoint(trained.path)
    assert set(ckpt) >= {"format", "format_version", "model_type", "hparams", "alphabet", "selfies_version", "training", "state_dict", "train_hashes"}
    assert ckpt["selfies_version"] == sf.__version__
    assert ckpt["alphabet"] == prepared.alphabet.to_dict()
    h = ckpt["hparams"]
    assert (h["d_z"], h["d_emb"], h["enc_hidden"], h["dec_hidden"]) == (8, 16, 32, 64)
    assert h["vocab_size"] == len(prepared.alphabet) and h["max_length"] == prepared.alphabet.max_length
    t = ckpt["training"]
    assert t["steps"] == 60
    assert t["molecules_seen"] > 60 and t["molecules_seen"] <= 60 * 64
    assert t["config"]["d_z"] == 8 and t["config"]["max_steps"] == 60
    assert t["data"]["file"] == "moses_train_3k.csv" and t["data"]["molecules"] == 3000
    assert t["data"]["train_molecules"] + t["data"]["val_molecules"] == 3000
    assert len(t["data"]["sha256"]) == 64
    assert {"val_token_recon_acc", "val_active_units"} <= set(t["metrics"])
    assert t["wall_time_s"] >= 0 and t["torch_version"] == torch.__version__
    from molvae.checkpoint import unpack_hashes

    arr = unpack_hashes(ckpt["train_hashes"])
    assert np.all(np.diff(arr) > 0)  # sorted, unique
    assert arr.size == prepared.hashes.size
    assert smiles_hash("COCCCCSc1nc2c(c(=O)[nH]1)CCC2") in set(arr.tolist())  # first training row
    # plain values only: the file loads with weights_only=True (load_checkpoint did) and the weights are float32
    assert all(v.dtype == torch.float32 for v in ckpt["state_dict"].values())


def test_model_file_is_usable(trained):
    vae = MolVAE.load(trained.path)
    assert vae.encode(["CCO", "c1ccccc1"]).shape == (2, 8)
    assert len(vae.sample(5, seed=0)) == 5


def test_training_reduces_the_loss(trained):
    steps_loss = []
    for f in metrics_files(trained.run_dir):
        with open(f) as fh:
            steps_loss += [(int(r["step"]), float(r["recon"])) for r in csv.DictReader(fh) if r.get("recon")]
    steps_loss.sort()
    assert len(steps_loss) >= 3
    assert steps_loss[-1][1] < steps_loss[0][1]


def test_lightning_checkpoints_in_run_dir(trained):
    assert (trained.run_dir / "last.ckpt").is_file()
    state = torch.load(trained.run_dir / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 60


def test_resume_continues_from_the_checkpoint(prepared, make_config, tmp_path):
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=20, checkpoint_every=10, val_every=10), run_dir=run_dir, progress=False)
    assert model_steps(out) == 20
    seen20 = load_checkpoint(out)["training"]["molecules_seen"]
    first = metrics_files(run_dir)
    assert first and logged_steps(first[-1])[0] < 10
    time.sleep(1.1)  # metrics folders are named by the second
    train(prepared, out, make_config(max_steps=40, checkpoint_every=10, val_every=10), run_dir=run_dir, progress=False)
    assert model_steps(out) == 40
    seen40 = load_checkpoint(out)["training"]["molecules_seen"]
    assert seen40 > 1.5 * seen20  # counted over both segments, not only the second
    last = metrics_files(run_dir)[-1]
    steps = logged_steps(last)
    # the second segment logged steps 20..39 only: it did not start over at 0
    assert steps and steps[0] >= 20 and steps[-1] == 39
    assert torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 40
    # the data position was restored too: 40 batches of epoch 0 consumed, not 20
    assert loader_state(run_dir / "last.ckpt") == {"epoch": 0, "consumed": 40}



def test_a_validation_interval_longer_than_an_epoch_validates_at_the_epochs_end(prepared, make_config, tmp_path):
    """val_every is capped at an epoch's batches; the cap was the molecules over the batch
    size (45 for 2,900 molecules in batches of 64), fewer than the epoch's batches of
    molecules of one length, so val_every = 1000 validated every 45 steps, and not at the
    epoch's end."""
    run_dir = tmp_path / "run"
    train(prepared, tmp_path / "m.pt", make_config(epochs=1, max_steps=-1, val_every=1000, checkpoint_every=1000), run_dir=run_dir, progress=False)
    steps = model_steps(tmp_path / "m.pt")  # the epoch's batches
    assert steps > 45
    with open(metrics_files(run_dir)[-1]) as fh:
        validated = [int(r["step"]) for r in csv.DictReader(fh) if r.get("val_recon")]
    assert validated == [steps - 1]


def test_an_epoch_shorter_than_the_logging_interval_is_still_logged(prepared, make_config, tmp_path):
    """Lightning warned that the epoch (3 batches) was shorter than the logging interval
    (10 steps): the interval is now at most an epoch's batches."""
    import dataclasses
    import warnings

    by_length: dict = {}
    for i, t in enumerate(prepared.tokens):
        by_length.setdefault(len(t), []).append(i)
    picked = [i for ix in [v for v in by_length.values() if len(v) >= 10][:3] for i in ix[:10]]
    small = dataclasses.replace(prepared, tokens=[prepared.tokens[i] for i in picked], rows=prepared.rows[picked])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(small, tmp_path / "m.pt", make_config(max_steps=6, batch_size=64, val_size=0), run_dir=tmp_path / "run", progress=False)
    assert not [w for w in caught if "logging interval" in str(w.message)], [str(w.message) for w in caught]
    assert logged_steps(metrics_files(tmp_path / "run")[-1]) == [2, 5]  # every 3 steps

def test_auto_precision_is_recorded_as_the_setting_it_chose(prepared, make_config, tmp_path):
    from molvae.training import resolve_precision

    out = tmp_path / "m.pt"
    config = make_config(max_steps=2, checkpoint_every=2, val_every=2, precision="auto")
    train(prepared, out, config, run_dir=tmp_path / "run", progress=False)
    recorded = load_checkpoint(out)["training"]["config"]["precision"]
    assert recorded == resolve_precision(config) and recorded in ("bf16-mixed", "32-true")


def test_resume_false_starts_over(prepared, make_config, tmp_path):
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=20, checkpoint_every=10, val_every=10), run_dir=run_dir, progress=False)
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=30, checkpoint_every=10, val_every=10), run_dir=run_dir, resume=False, progress=False)
    assert model_steps(out) == 30
    assert logged_steps(metrics_files(run_dir)[-1])[0] < 10


def test_resume_after_restart_continues_the_new_run(prepared, make_config, tmp_path):
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    cfg = dict(checkpoint_every=10, val_every=10)
    train(prepared, out, make_config(max_steps=40, **cfg), run_dir=run_dir, progress=False)
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, resume=False, progress=False)
    assert model_steps(out) == 20
    time.sleep(1.1)
    # resuming must continue the restarted run (step 20 -> 30), not the old one (step 40)
    train(prepared, out, make_config(max_steps=30, **cfg), run_dir=run_dir, progress=False)
    assert model_steps(out) == 30


def test_a_restart_moves_the_earlier_runs_logs_aside_with_its_checkpoints(prepared, make_config, tmp_path):
    """--restart moved the old run's checkpoints into previous-*/ and left its metrics.csv
    in logs/, beside the new run's: the run's logs held steps 0-9 twice, of two runs."""
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    cfg = dict(checkpoint_every=10, val_every=10)
    train(prepared, out, make_config(max_steps=10, **cfg), run_dir=run_dir, progress=False)
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=10, lr=3e-4, **cfg), run_dir=run_dir, resume=False, progress=False)
    logs = list((run_dir / "logs").rglob("metrics.csv"))
    assert len(logs) == 1, logs
    (old,) = run_dir.glob("previous-*")
    assert (old / "last.ckpt").is_file() and len(list((old / "logs").rglob("metrics.csv"))) == 1


def test_resume_from_a_checkpoint_behind_the_logs_keeps_each_step_once(prepared, make_config, tmp_path):
    """A run killed (kill -9) after logging steps past its last checkpoint is resumed from
    that checkpoint and logs those steps again in a new metrics.csv: the run's files held
    them twice, the killed run's values beside the resumed run's. They are removed from the
    earlier file when the run resumes."""
    import shutil

    cfg = dict(checkpoint_every=10, val_every=5)
    train(prepared, tmp_path / "ref.pt", make_config(max_steps=20, **cfg), run_dir=tmp_path / "ref", progress=False)
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=10, **cfg), run_dir=run_dir, progress=False)
    shutil.copy(run_dir / "last.ckpt", tmp_path / "step10.ckpt")
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, progress=False)
    shutil.copy(tmp_path / "step10.ckpt", run_dir / "last.ckpt")  # as if killed before the step-20 checkpoint
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, progress=False)
    rows = logged_rows(run_dir)
    assert len(rows) == len(set(rows))
    assert rows == logged_rows(tmp_path / "ref")


def test_resume_with_another_checkpoint_interval_keeps_one_last_ckpt(prepared, make_config, tmp_path):
    """Changing checkpoint_every on resume must still update last.ckpt (not write last-v1.ckpt)."""
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=20, checkpoint_every=10, val_every=10), run_dir=run_dir, progress=False)
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=30, checkpoint_every=5, val_every=10), run_dir=run_dir, progress=False)
    assert sorted(p.name for p in run_dir.glob("last*.ckpt")) == ["last.ckpt"]
    assert torch.load(run_dir / "last.ckpt", weights_only=False)["global_step"] == 30


def test_cli_resume_with_another_checkpoint_interval_says_nothing_of_callbacks(cli, cli_process, make_toml, tmp_path):
    """Resuming with another --checkpoint-every printed Lightning's warning 'Be aware that
    when using `ckpt_path`, callbacks used to create the checkpoint need to be provided
    ... Please add the following callbacks', which asks the user for what molvae does."""
    import re

    data = tmp_path / "in.csv"
    data.write_text("smiles\nCCO\nc1ccccc1\nCCN\n")
    config = make_toml(tmp_path / "tiny.toml")
    args = ("train", data, "-o", tmp_path / "m.pt", "-c", config, "--run-dir", tmp_path / "run")
    r = cli(*args, "--max-steps", 2, "--checkpoint-every", 1)
    assert r.returncode == 0, r.stderr
    r = cli_process(*args, "--max-steps", 4, "--checkpoint-every", 2)  # a process: Python warnings reach stderr
    assert r.returncode == 0, r.stderr
    assert "resuming from" in r.stderr and model_steps(tmp_path / "m.pt") == 4
    assert "Be aware" not in r.stderr and not re.search(r"\.py:\d+: ", r.stderr), r.stderr


def test_joint_property_training_from_a_model_file(prepared, trained, make_config, tmp_path):
    """Fine-tune the tiny model with logP and QED heads: labels, statistics and metrics are stored."""
    out, run_dir = tmp_path / "joint.pt", tmp_path / "run"
    cfg = make_config(max_steps=60, properties="logp,qed", property_molecules=1500, property_weight=5.0, init_from=str(trained.path), beta_anneal_steps=0)
    train(prepared, out, cfg, run_dir=run_dir, progress=False)
    ckpt = load_checkpoint(out)
    stats = ckpt["training"]["properties"]
    assert stats["names"] == ["logp", "qed"] and stats["labelled_molecules"] == 1500
    assert 1.5 < stats["mean"][0] < 3.5 and 0.5 < stats["mean"][1] < 0.95  # MOSES logP and QED
    assert ckpt["training"]["initialized_from"]["steps"] == 60
    assert ckpt["state_dict"]["property_head.weight"].shape == (2, 8)
    assert {"val_property_r2_logp", "val_property_r2_qed"} <= set(ckpt["training"]["metrics"])
    mse = []
    for f in metrics_files(run_dir):
        with open(f) as fh:
            mse += [float(r["prop_mse"]) for r in csv.DictReader(fh) if r.get("prop_mse")]
    assert len(mse) >= 5 and all(np.isfinite(mse))  # the property loss was logged
    # the file is an ordinary model file
    assert MolVAE.load(out).encode(["CCO"]).shape == (1, 8)


@pytest.mark.parametrize("properties, head, said", [
    ("", "left out", "its logp, qed property head left out: this run trains none"),
    ("logp,qed", "copied", "its logp, qed property head copied"),
    ("sa", "new", "property head new (the file's predicts logp, qed)"),
])
def test_init_from_says_what_became_of_the_files_property_head(prepared, trained, cfg, caplog, properties, head, said):
    """A model file with a property head used by a run that trains none (fine-tuning the
    shipped model without --properties) said 'property head new', and recorded it."""
    from molvae.training import VAEModule, _initialize_from

    ckpt = load_checkpoint(trained.path)
    ckpt["training"]["properties"] = {"names": ["logp", "qed"], "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    ckpt["state_dict"]["property_head.weight"] = torch.zeros(2, 8)
    ckpt["state_dict"]["property_head.bias"] = torch.zeros(2)
    config = cfg(properties=properties)
    module = VAEModule(config, prepared.alphabet, property_stats={"names": config.property_names} if properties else None)
    with caplog.at_level("INFO", logger="molvae.training"):
        _initialize_from(module, ckpt, prepared.alphabet, name="joint.pt")
    assert module.init_meta["property_head"] == head
    assert f"weights initialized from joint.pt (step 60; {said})" in caplog.text


def test_aggregate_posterior_term_trains_a_discriminator_kept_out_of_the_model_file(prepared, trained, make_config, tmp_path):
    """aggregate_weight > 0: D's loss and the KL(q(z)||p(z)) estimate are logged; the file has no D."""
    out, run_dir = tmp_path / "agg.pt", tmp_path / "run"
    cfg = make_config(max_steps=40, init_from=str(trained.path), beta_anneal_steps=0, aggregate_weight=1.0, aggregate_warmup_steps=10)
    train(prepared, out, cfg, run_dir=run_dir, progress=False)
    ckpt = load_checkpoint(out)
    assert not any(k.startswith("discriminator") for k in ckpt["state_dict"])
    assert ckpt["training"]["config"]["aggregate_weight"] == 1.0
    rows = []
    for f in metrics_files(run_dir):
        with open(f) as fh:
            rows += [r for r in csv.DictReader(fh) if r.get("disc_loss")]
    d_loss = [float(r["disc_loss"]) for r in rows]
    assert len(d_loss) >= 3 and all(np.isfinite(d_loss)) and all(np.isfinite([float(r["agg_kl"]) for r in rows]))
    # the Lightning checkpoint carries D, so a resumed run continues its training
    state = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    assert any(k.startswith("discriminator.") for k in state)
    assert MolVAE.load(out).encode(["CCO"]).shape == (1, 8)


def test_resume_with_the_aggregate_term_switched_on_is_refused(prepared, make_config, tmp_path):
    """A run dir trained without the discriminator cannot be resumed with one (and vice versa)."""
    from molvae.errors import ConfigError

    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=10, checkpoint_every=5), run_dir=run_dir, progress=False)
    with pytest.raises(ConfigError, match="without the aggregate-posterior term"):
        train(prepared, out, make_config(max_steps=20, checkpoint_every=5, aggregate_weight=1.0), run_dir=run_dir, progress=False)
    # starting over is allowed
    train(prepared, out, make_config(max_steps=10, checkpoint_every=5, aggregate_weight=1.0), run_dir=run_dir, resume=False, progress=False)
    assert model_steps(out) == 10


def same_weights(a: Path, b: Path) -> bool:
    sa, sb = load_checkpoint(a)["state_dict"], load_checkpoint(b)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_continues_the_random_stream(prepared, make_config, tmp_path):
    """A run stopped at a checkpoint and resumed draws the same z noise as an uninterrupted
    run (the RNG states are in the checkpoint; validation's draws are kept out of them), so
    it ends with the same weights."""
    cfg = dict(checkpoint_every=3, val_every=4)
    ref = tmp_path / "ref.pt"
    train(prepared, ref, make_config(max_steps=12, **cfg), run_dir=tmp_path / "ref", progress=False)
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=6, **cfg), run_dir=run_dir, progress=False)
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=12, **cfg), run_dir=run_dir, progress=False)
    assert model_steps(out) == model_steps(ref) == 12
    assert same_weights(out, ref)


def test_a_run_stopped_by_max_steps_between_checkpoints_resumes_at_its_last_step(prepared, make_config, tmp_path):
    """max_steps 12 with checkpoint_every 5 left last.ckpt at step 10 behind the step-12
    model file; the same command again retrained steps 10-11 and Lightning then wrote a
    last.ckpt marking epoch 0 finished, so raising max_steps resumed at the first batch of
    epoch 1, skipping the rest of epoch 0. last.ckpt is now written at the step max_steps
    stops, and the run ends as an uninterrupted one does."""
    cfg = dict(checkpoint_every=5, val_every=5)
    ref = tmp_path / "ref.pt"
    train(prepared, ref, make_config(max_steps=20, **cfg), run_dir=tmp_path / "ref", progress=False)
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(prepared, out, make_config(max_steps=12, **cfg), run_dir=run_dir, progress=False)
    assert torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["global_step"] == 12
    assert loader_state(run_dir / "last.ckpt") == {"epoch": 0, "consumed": 12}
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=12, **cfg), run_dir=run_dir, progress=False)  # the same command again
    assert torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)["epoch"] == 0
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, progress=False)
    a, b = load_checkpoint(out)["training"], load_checkpoint(ref)["training"]
    assert a["steps"] == b["steps"] == 20
    assert a["molecules_seen"] == b["molecules_seen"]
    assert same_weights(out, ref)


def test_ctrl_c_in_the_middle_of_a_batch_resumes_at_that_batch(prepared, make_config, tmp_path, monkeypatch):
    """Ctrl-C during a batch's forward/backward pass: the checkpoint written on the way out
    does not count that batch (data position, molecules, random numbers), so the resumed
    run trains on it and ends exactly where an uninterrupted run does."""
    import signal

    from molvae.training import VAEModule

    cfg = dict(checkpoint_every=5, val_every=5)
    ref = tmp_path / "ref.pt"
    train(prepared, ref, make_config(max_steps=12, **cfg), run_dir=tmp_path / "ref", progress=False)

    forward = VAEModule.training_step

    def interrupted_at_step_7(self, batch, batch_idx):
        loss = forward(self, batch, batch_idx)  # z drawn, molecules counted ...
        if self.global_step == 7:
            raise KeyboardInterrupt  # ... but no optimizer step
        return loss

    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)
    try:
        with monkeypatch.context() as m:
            m.setattr(VAEModule, "training_step", interrupted_at_step_7)
            # Lightning ends with sys.exit(1) after its graceful shutdown; train raises
            # KeyboardInterrupt instead, so that callers (the CLI: exit code 130) see Ctrl-C
            with pytest.raises(KeyboardInterrupt):
                train(prepared, out, make_config(max_steps=12, **cfg), run_dir=run_dir, progress=False)
        # Lightning ignores further Ctrl-C after the first; train puts the handler back
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, handler)
    state = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=False)
    assert state["global_step"] == 7
    assert loader_state(run_dir / "last.ckpt") == {"epoch": 0, "consumed": 7}  # not 8: batch 8 did not finish
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=12, **cfg), run_dir=run_dir, progress=False)
    a, b = load_checkpoint(out)["training"], load_checkpoint(ref)["training"]
    assert a["steps"] == b["steps"] == 12
    assert a["molecules_seen"] == b["molecules_seen"]
    assert same_weights(out, ref)


def logged_rows(run_dir: Path) -> list[tuple]:
    """(step, molecules, val_recon) of every metrics.csv row of a run dir, all segments."""
    rows = []
    for f in metrics_files(run_dir):
        with open(f) as fh:
            rows += [(int(r["step"]), r.get("molecules", ""), r.get("val_recon", "")) for r in csv.DictReader(fh)]
    return sorted(rows)


@pytest.mark.parametrize("hook, at", [("training_step", 7), ("validation_step", 10)])
def test_ctrl_c_then_resume_logs_and_trains_as_an_uninterrupted_run(prepared, make_config, tmp_path, monkeypatch, hook, at):
    """Ctrl-C in the middle of a batch: the resumed run's metrics.csv rows each had the
    next step's number (step 19's row held step 18's loss and molecule count), as
    Lightning's restore counted the unfinished batch as stepped. Ctrl-C during
    validation: the checkpoint held the random state of the validation's z draws, so the
    resumed run trained on other noise and ended with other weights."""
    import signal

    from molvae.training import VAEModule

    cfg = dict(checkpoint_every=50, val_every=5)
    ref = tmp_path / "ref.pt"
    train(prepared, ref, make_config(max_steps=20, **cfg), run_dir=tmp_path / "ref", progress=False)

    original = getattr(VAEModule, hook)

    def interrupted(self, batch, batch_idx):
        out = original(self, batch, batch_idx)
        if self.global_step == at:
            raise KeyboardInterrupt
        return out

    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    handler = signal.getsignal(signal.SIGINT)
    try:
        with monkeypatch.context() as m:
            m.setattr(VAEModule, hook, interrupted)
            with pytest.raises(KeyboardInterrupt):
                train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, progress=False)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert model_steps(out) == at
    time.sleep(1.1)
    train(prepared, out, make_config(max_steps=20, **cfg), run_dir=run_dir, progress=False)
    assert same_weights(out, ref)
    # the rows logged before the interruption and after the resume are the uninterrupted run's
    assert set(logged_rows(run_dir)) == set(logged_rows(tmp_path / "ref"))


@pytest.fixture(scope="module")
def cfg(make_config):
    """``cfg(**overrides)``: the tiny config, checkpointing every 5 steps."""
    return lambda **overrides: make_config(**{"checkpoint_every": 5, "val_every": 5, **overrides})


@pytest.fixture(scope="module")
def run_dir_of_10_steps(prepared, cfg, tmp_path_factory):
    """A run dir whose last.ckpt is at step 10 (tiny config); tests copy it."""
    root = tmp_path_factory.mktemp("ten-steps")
    train(prepared, root / "m.pt", cfg(max_steps=10), run_dir=root / "run", progress=False)
    return root / "run"


def copied_run(src: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / "run"
    dst.mkdir()
    shutil.copy(src / "last.ckpt", dst / "last.ckpt")
    return dst


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"d_z": 16}, "d_z 8 then, 16 now"),
        ({"dec_hidden": 32, "enc_layers": 2}, "enc_layers 1 then, 2 now; dec_hidden 64 then, 32 now"),
        ({"properties": "logp"}, "properties '' then, 'logp' now"),
    ],
)
def test_resume_with_another_architecture_is_refused(prepared, run_dir_of_10_steps, tmp_path, overrides, fragment, cfg):
    """It used to fail inside Lightning with a state_dict RuntimeError."""
    from molvae.errors import ConfigError
    from molvae.training import plan_run

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    config = cfg(max_steps=20, **overrides)
    for check in (lambda: plan_run(config, run_dir), lambda: train(prepared, tmp_path / "m.pt", config, run_dir=run_dir, progress=False)):
        with pytest.raises(ConfigError) as info:
            check()
        msg = str(info.value)
        assert msg.startswith(f"cannot resume {run_dir / 'last.ckpt'}: ") and fragment in msg and msg.endswith("; start over with resume=False (the old checkpoints are moved aside) or use another run_dir"), msg
    # resume=False (--restart) is the way out
    train(prepared, tmp_path / "m.pt", cfg(max_steps=5, **{k: v for k, v in overrides.items() if k != "properties"}), run_dir=run_dir, resume=False, progress=False)
    assert model_steps(tmp_path / "m.pt") == 5


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"seed": 7}, "seed 42 then, 7 now (the seed chooses the held-out validation molecules"),
        ({"val_size": 50}, "val_size 100 then, 50 now"),
        ({"batch_size": 32}, "batch_size 64 then, 32 now (the position in the epoch is counted in batches)"),
        ({"devices": 2, "strategy": "ddp"}, "devices x num_nodes 1 x 1 then, 2 x 1 now"),
    ],
)
def test_resume_with_another_data_order_is_refused(run_dir_of_10_steps, tmp_path, overrides, fragment, cfg):
    """Another seed or validation size used to move validation molecules into training, and
    another batch size or process count to resume at another place of the epoch, silently."""
    from molvae.errors import ConfigError
    from molvae.training import plan_run

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    with pytest.raises(ConfigError) as info:
        plan_run(cfg(max_steps=20, **overrides), run_dir)
    msg = str(info.value)
    assert fragment in msg and "start a new run with init_from and the model file" in msg and "start over with resume=False" in msg and "--" not in msg, msg
    plan_run(cfg(max_steps=20, lr=3e-4, checkpoint_every=7), run_dir)  # other settings resume


def test_resume_with_fewer_epochs_than_reached_is_refused_before_the_data_is_prepared(prepared, run_dir_of_10_steps, tmp_path, cfg):
    """plan_run let it pass, so molvae train prepared the data (minutes for a large file)
    before train refused it; plan_run now refuses it with the other resume settings."""
    from molvae.errors import ConfigError
    from molvae.training import plan_run

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    state = torch.load(run_dir / "last.ckpt", weights_only=False)
    state["epoch"] = 3  # a run in its fourth epoch
    torch.save(state, run_dir / "last.ckpt")
    fragment = "its checkpoint (step 10) is past epoch 2, the epochs set now (give epochs=3 or more to resume it)"
    for check in (lambda: plan_run(cfg(max_steps=20, epochs=2), run_dir), lambda: train(prepared, tmp_path / "m.pt", cfg(max_steps=20, epochs=2), run_dir=run_dir, progress=False)):
        with pytest.raises(ConfigError) as info:
            check()
        msg = str(info.value)
        assert msg.startswith(f"cannot resume {run_dir / 'last.ckpt'}: {fragment}; ") and "resume=False" in msg, msg
    plan_run(cfg(max_steps=20, epochs=3), run_dir)  # as many epochs as reached: it resumes


def test_a_resumed_init_from_run_reads_its_checkpoint_once(prepared, trained, tmp_path, cfg, monkeypatch):
    """plan_run, prepare_data (the model's alphabet, which the checkpoint records) and
    train each loaded the run's last.ckpt, weights and optimizer state: three loads before
    Lightning's own. The three now read it once."""
    import molvae.training as training

    run_dir = tmp_path / "run"
    config = cfg(max_steps=5, init_from=str(trained.path))
    train(prepared, tmp_path / "m.pt", config, run_dir=run_dir, progress=False)
    reads = []
    real = training.read_run_checkpoint
    monkeypatch.setattr(training, "read_run_checkpoint", lambda path, **kw: reads.append(Path(path).name) or real(path, **kw))
    planned = training.plan_run(cfg(max_steps=10, init_from=str(trained.path)), run_dir)
    assert training.init_alphabet(planned, run_dir).to_dict() == prepared.alphabet.to_dict()  # what prepare_data prepares the data with
    train(prepared, tmp_path / "m.pt", planned, run_dir=run_dir, progress=False)
    assert reads == ["last.ckpt"] and model_steps(tmp_path / "m.pt") == 10
    # the next resume reads the checkpoint Lightning wrote since
    reads.clear()
    with pytest.raises(training.ConfigError, match=r"cannot resume .*: d_z 8 then, 16 now"):
        training.plan_run(cfg(max_steps=20, d_z=16, init_from=str(trained.path)), run_dir)
    assert reads == ["last.ckpt"]
    # and a checkpoint changed since it was read is read again
    state = torch.load(run_dir / "last.ckpt", weights_only=False)
    state["epoch"] = 3
    torch.save(state, run_dir / "last.ckpt")
    with pytest.raises(training.ConfigError, match=r"its checkpoint \(step 10\) is past epoch 2"):
        training.plan_run(cfg(max_steps=20, epochs=2, init_from=str(trained.path)), run_dir)
    assert reads == ["last.ckpt"] * 2


def test_resume_with_another_alphabet_is_refused(prepared, run_dir_of_10_steps, tmp_path, cfg):
    import dataclasses

    from molvae.alphabet import Alphabet
    from molvae.errors import ConfigError

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    longer = dataclasses.replace(prepared, alphabet=Alphabet(prepared.alphabet.tokens, max_length=prepared.alphabet.max_length + 12))
    with pytest.raises(ConfigError, match=rf"the alphabet differs \(max_length {prepared.alphabet.max_length} then, {prepared.alphabet.max_length + 12} now\).*resume=False"):
        train(longer, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, progress=False)
    fewer = dataclasses.replace(prepared, alphabet=Alphabet([t for t in prepared.alphabet.tokens if t != "[Br]"], max_length=prepared.alphabet.max_length))
    with pytest.raises(ConfigError, match=r"token only then: \[Br\]"):
        train(fewer, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, progress=False)


def test_resume_on_other_data_is_refused(prepared, run_dir_of_10_steps, tmp_path, cfg):
    """It used to continue silently (with the data position of the other file)."""
    import dataclasses

    from molvae.errors import ConfigError

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    other = dataclasses.replace(prepared, source={**prepared.source, "file": "other.csv", "sha256": "f" * 64})
    with pytest.raises(ConfigError) as info:
        train(other, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, progress=False)
    msg = str(info.value)
    assert "trained on other data (moses_train_3k.csv, sha256 " + prepared.source["sha256"][:12] in msg, msg
    assert "not other.csv, sha256 ffffffffffff" in msg and "start a new run with init_from and the model file" in msg and "resume=False" in msg, msg
    fewer = dataclasses.replace(prepared, tokens=prepared.tokens[:2000])
    with pytest.raises(ConfigError, match="gives 2000 molecules now, 3000 then"):
        train(fewer, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, progress=False)
    # the same data resumes
    train(prepared, tmp_path / "m.pt", cfg(max_steps=15), run_dir=run_dir, progress=False)
    assert model_steps(tmp_path / "m.pt") == 15


@pytest.mark.parametrize("cut", ["half", "empty", "text"])
def test_unreadable_checkpoint_says_so(prepared, run_dir_of_10_steps, tmp_path, cut, cfg):
    """A last.ckpt cut short (full disk) used to end in an OSError/RuntimeError traceback."""
    from molvae.errors import ConfigError
    from molvae.training import plan_run

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    data = (run_dir / "last.ckpt").read_bytes()
    (run_dir / "last.ckpt").write_bytes({"half": data[: len(data) // 2], "empty": b"", "text": b"hello\n"}[cut])
    config = cfg(max_steps=20)
    for check in (lambda: plan_run(config, run_dir), lambda: train(prepared, tmp_path / "m.pt", config, run_dir=run_dir, progress=False)):
        with pytest.raises(ConfigError, match=r"checkpoint .*last.ckpt is unreadable, truncated or damaged .*resume=False"):
            check()
    train(prepared, tmp_path / "m.pt", cfg(max_steps=5), run_dir=run_dir, resume=False, progress=False)
    assert model_steps(tmp_path / "m.pt") == 5


def test_resume_of_a_checkpoint_without_recorded_settings_compares_shapes(prepared, run_dir_of_10_steps, tmp_path, cfg):
    """Checkpoints that do not record the config (older versions) still get a clear error."""
    from molvae.errors import ConfigError

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    state = torch.load(run_dir / "last.ckpt", weights_only=False)
    del state["molvae"]["config"], state["molvae"]["data"]
    torch.save(state, run_dir / "last.ckpt")
    with pytest.raises(ConfigError, match=r"cannot resume .*the model's shape differs \(model\..* \[.*8.*\] then, \[.*16.*\] now.*resume=False"):
        train(prepared, tmp_path / "m.pt", cfg(max_steps=20, d_z=16), run_dir=run_dir, progress=False)


def test_init_from_a_model_of_another_max_length_names_it(prepared, trained, tmp_path, cfg):
    """The error used to say only 'alphabet differs'."""
    import dataclasses

    from molvae.alphabet import Alphabet
    from molvae.errors import ConfigError
    from molvae.training import plan_run

    shorter = dataclasses.replace(prepared, alphabet=Alphabet(prepared.alphabet.tokens, max_length=40))
    config = cfg(max_steps=5, init_from=str(trained.path))
    with pytest.raises(ConfigError, match=r"init_from tiny.pt: its alphabet differs from the training data's \(max_length 48 in the model, 40 in the data\); prepare the data with max_length = 48"):
        train(shorter, tmp_path / "m.pt", config, run_dir=tmp_path / "run", progress=False)
    # molvae train prepares the data with the model's max_length when none is set
    assert plan_run(config, tmp_path / "run").max_length == 48
    assert plan_run(dataclasses.replace(config, max_length=40), tmp_path / "run").max_length == 40
    assert plan_run(cfg(), tmp_path / "run").max_length == 0



def test_init_from_plans_and_prepares_the_data_in_the_models_alphabet(tmp_path, cfg, caplog):
    """What molvae train does with --init-from was decided in the CLI; a Python caller of
    plan_run and prepare_data gets it too: the model's max_length and alphabet, and stereo
    removed when the model has no stereo tokens (a stereo molecule is kept, not skipped)."""
    import logging

    from molvae.alphabet import Alphabet
    from molvae.training import plan_run, prepare_data
    from molvae.vae import default_model_path

    model = load_checkpoint(default_model_path())
    assert not Alphabet.from_dict(model["alphabet"]).has_stereo
    data = tmp_path / "mine.csv"
    data.write_text("smiles\nCCO\nC[C@H](N)C(=O)Nc1ccccc1\nC[Se]c1ccccc1\n")
    shape = {k: model["hparams"][k] for k in ("d_emb", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers", "d_z", "dropout")}
    config = cfg(init_from=str(default_model_path()), **shape)  # the model's architecture (plan_run checks it)
    with caplog.at_level(logging.INFO, logger="molvae"):
        planned = plan_run(config, tmp_path / "run")
    assert planned.remove_stereo and planned.max_length == 55
    assert "stereochemistry removed from the training molecules: default.pt has no stereo tokens" in caplog.text
    prepared = prepare_data(data, planned, cache_dir=tmp_path / "cache")
    assert prepared.alphabet.to_dict() == model["alphabet"]
    assert len(prepared.tokens) == 2 and [(e.row, e.reason) for e in prepared.errors] == [(3, "token [Se] not in the model's alphabet")]
    # without a model file: the config's settings, and an alphabet built from the data
    plain = prepare_data(data, plan_run(cfg(), tmp_path / "run"), cache_dir=tmp_path / "cache")
    assert len(plain.tokens) == 3 and plain.alphabet.has_stereo

def test_run_dir_and_output_paths_are_checked_first(prepared, tmp_path, cfg):
    from molvae.errors import ConfigError

    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="run directory .*afile exists and is not a directory"):
        train(prepared, tmp_path / "m.pt", cfg(max_steps=5), run_dir=tmp_path / "afile", progress=False)
    (tmp_path / "d.pt").mkdir()
    with pytest.raises(ConfigError, match="output .*d.pt is a directory"):
        train(prepared, tmp_path / "d.pt", cfg(max_steps=5), progress=False)
    with pytest.raises(ConfigError, match="directory .*nowhere does not exist"):
        train(prepared, tmp_path / "nowhere" / "m.pt", cfg(max_steps=5), progress=False)
    assert not (tmp_path / "nowhere").exists()  # the default run dir beside it was not created either


def test_rerunning_a_finished_run_says_there_is_nothing_to_train(prepared, run_dir_of_10_steps, tmp_path, cfg, caplog):
    """It used to resume, train nothing and rewrite the model file without a word. (The
    warning named the CLI's --max-steps to Python callers too.)"""
    from molvae.config import CLI_FLAGS

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    with caplog.at_level("WARNING", logger="molvae.training"):
        train(prepared, tmp_path / "m.pt", cfg(max_steps=10), run_dir=run_dir, progress=False, flags=CLI_FLAGS)
    assert "already at step 10 (max_steps 10): nothing to train; raise --max-steps to train on" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="molvae.training"):
        train(prepared, tmp_path / "m.pt", cfg(max_steps=10), run_dir=run_dir, progress=False)
    assert "already at step 10 (max_steps 10): nothing to train; raise max_steps to train on" in caplog.text
    # the model file asked for is written, with the run's weights (it was not written at all)
    assert model_steps(tmp_path / "m.pt") == 10
    assert same_weights(tmp_path / "m.pt", run_dir_of_10_steps.parent / "m.pt")


def test_resume_with_another_learning_rate_trains_with_it(prepared, run_dir_of_10_steps, tmp_path, cfg):
    """A resumed run takes a new lr (and discriminator_lr); it used to keep the lr restored
    with the optimizer and scheduler state while the model file recorded the new one."""
    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    config = cfg(max_steps=12, lr=3e-4, lr_decay_steps=100, lr_min_factor=0.5)
    train(prepared, tmp_path / "m.pt", config, run_dir=run_dir, progress=False)
    saved = torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["lr_schedulers"][0]["base_lrs"] == [3e-4]
    assert saved["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(3e-4 * config.lr_factor(12))
    assert load_checkpoint(tmp_path / "m.pt")["training"]["config"]["lr"] == 3e-4


def test_resume_on_other_molecules_of_the_same_file_is_refused(prepared, run_dir_of_10_steps, tmp_path, cfg):
    """Another --smiles-column of the same CSV (here: the same molecules in another order,
    so the same count and alphabet) used to resume silently, moving validation molecules
    into training."""
    import dataclasses

    from molvae.errors import ConfigError

    run_dir = copied_run(run_dir_of_10_steps, tmp_path)
    order = np.random.default_rng(0).permutation(len(prepared.tokens))
    shuffled = dataclasses.replace(prepared, tokens=[prepared.tokens[i] for i in order])
    with pytest.raises(ConfigError, match=r"the same data file gives other molecules now \(another smiles_column, or remove_stereo changed\).*resume=False"):
        train(shuffled, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, progress=False)
    train(prepared, tmp_path / "m.pt", cfg(max_steps=15), run_dir=run_dir, progress=False)
    assert model_steps(tmp_path / "m.pt") == 15


def test_epochs_completed_counts_whole_epochs_only(trained):
    """60 steps of the tiny model are part of its first epoch; the model file said 1 (the
    epoch Lightning counts when max_steps stops it mid-epoch)."""
    t = load_checkpoint(trained.path)["training"]
    assert t["molecules_seen"] < t["data"]["train_molecules"]
    assert t["epochs_completed"] == 0


@pytest.mark.parametrize("restart, cli", [(False, False), (True, False), (True, True)])
def test_ctrl_c_says_how_to_resume_a_run_started_with_restart(prepared, run_dir_of_10_steps, tmp_path, cfg, caplog, monkeypatch, restart, cli):
    """Ctrl-C in a run started with resume=False (--restart) said 'run the same command to
    resume', and the same command, --restart included, moved the checkpoint aside and
    started over. The advice now says to leave --restart out (and stays as it was for a
    run that resumes). A Python call (not ``molvae train``, which passes flags=CLI_FLAGS)
    is told of resume=False, not of --restart."""
    import signal

    from molvae.config import CLI_FLAGS
    from molvae.training import VAEModule

    run_dir = copied_run(run_dir_of_10_steps, tmp_path) if restart else tmp_path / "run"
    forward = VAEModule.training_step

    def interrupted_at_step_2(self, batch, batch_idx):
        if self.global_step == 2:
            raise KeyboardInterrupt
        return forward(self, batch, batch_idx)

    handler = signal.getsignal(signal.SIGINT)
    try:
        monkeypatch.setattr(VAEModule, "training_step", interrupted_at_step_2)
        with caplog.at_level("WARNING", logger="molvae.training"), pytest.raises(KeyboardInterrupt):
            train(prepared, tmp_path / "m.pt", cfg(max_steps=20), run_dir=run_dir, resume=not restart, progress=False, flags=CLI_FLAGS if cli else None)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert "interrupted at step 2" in caplog.text
    if cli:
        assert "run the same command without --restart to resume (with it, the run starts over)" in caplog.text
    elif restart:
        assert "call train again without resume=False to resume (with it, the run starts over)" in caplog.text and "--restart" not in caplog.text
    else:
        assert "call train again to resume" in caplog.text and "resume=False" not in caplog.text


def test_rerunning_a_run_that_trained_all_its_epochs_writes_the_model_file(tmp_path, cfg, caplog):
    """A resumed run whose epochs were all trained (not stopped by max_steps) trained
    nothing, and Lightning called no end hook: the model file was not written, though the
    CLI said 'wrote'. It is written now, with the run's weights, and a warning says why
    nothing was trained."""
    from molvae.config import CLI_FLAGS
    from molvae.data import prepare_training_set

    # three batches, none held out for validation (Lightning called the end hook again in
    # some runs with validation or with the last checkpoint at a multiple of checkpoint_every)
    (tmp_path / "small.csv").write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")
    data = prepare_training_set(tmp_path / "small.csv", cache_dir=tmp_path / "cache")
    config = cfg(epochs=1, max_steps=-1)
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(data, out, config, run_dir=run_dir, progress=False)
    first = load_checkpoint(out)
    assert first["training"]["epochs_completed"] == 1
    out.rename(tmp_path / "first.pt")
    with caplog.at_level("WARNING", logger="molvae.training"):
        train(data, out, config, run_dir=run_dir, progress=False)
    assert out.is_file()
    assert "has already trained its 1 epoch (step 3): nothing to train; raise epochs to train on" in caplog.text  # said '1 epochs' (and --epochs to a Python call)
    again = load_checkpoint(out)["training"]
    assert (again["steps"], again["epochs_completed"], again["molecules_seen"]) == (first["training"]["steps"], 1, 3)
    assert same_weights(out, tmp_path / "first.pt")
    caplog.clear()
    with caplog.at_level("WARNING", logger="molvae.training"):  # molvae train's words
        train(data, out, config, run_dir=run_dir, progress=False, flags=CLI_FLAGS)
    assert "has already trained its 1 epoch (step 3): nothing to train; raise --epochs to train on" in caplog.text


def test_raising_epochs_twice_trains_each_epoch_once(tmp_path, cfg, caplog):
    """A run resumed from a checkpoint of an epoch's last batch (here: checkpoint_every = an
    epoch's batches) went on with the next epoch without Lightning counting it as started,
    so its checkpoint said that epoch was done: --epochs 1, then 2, then 2 again trained a
    third epoch (9 steps, 'epochs_completed' 2), and nothing said the run was finished.
    Now the same command once more trains nothing and says so, and --epochs 3 ends as an
    uninterrupted 3-epoch run."""
    from molvae.data import prepare_training_set

    (tmp_path / "small.csv").write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")
    data = prepare_training_set(tmp_path / "small.csv", cache_dir=tmp_path / "cache")
    ref = tmp_path / "ref.pt"
    train(data, ref, cfg(epochs=3, max_steps=-1, checkpoint_every=3), run_dir=tmp_path / "ref", progress=False)
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    for epochs in (1, 2):
        train(data, out, cfg(epochs=epochs, max_steps=-1, checkpoint_every=3), run_dir=run_dir, progress=False)
    assert model_steps(out) == 6
    with caplog.at_level("WARNING", logger="molvae.training"):
        train(data, out, cfg(epochs=2, max_steps=-1, checkpoint_every=3), run_dir=run_dir, progress=False)
    t = load_checkpoint(out)["training"]
    assert (t["steps"], t["epochs_completed"]) == (6, 2)
    assert "has already trained its 2 epochs (step 6): nothing to train" in caplog.text
    train(data, out, cfg(epochs=3, max_steps=-1, checkpoint_every=3), run_dir=run_dir, progress=False)
    assert (load_checkpoint(out)["training"]["epochs_completed"], model_steps(out)) == (3, 9)
    assert same_weights(out, ref)


def test_a_rerun_with_nothing_to_train_keeps_a_model_file_ahead_of_the_checkpoint(tmp_path, cfg, caplog):
    """Without validation, last.ckpt is written every checkpoint_every steps only: a run of
    3 epochs (9 steps, checkpoint at 5) re-run with epochs=1 restored step 5, trained
    nothing, and overwrote the step-9 model file with step 5's weights. It is kept now."""
    from molvae.data import prepare_training_set

    (tmp_path / "small.csv").write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")
    data = prepare_training_set(tmp_path / "small.csv", cache_dir=tmp_path / "cache")
    out, run_dir = tmp_path / "m.pt", tmp_path / "run"
    train(data, out, cfg(epochs=3, max_steps=-1), run_dir=run_dir, progress=False)
    assert model_steps(out) == 9
    before = out.read_bytes()
    with caplog.at_level("WARNING", logger="molvae.training"):
        train(data, out, cfg(epochs=1, max_steps=-1), run_dir=run_dir, progress=False)
    assert out.read_bytes() == before
    assert "holds step 9, later than the run's checkpoint (step 5): left as it is" in caplog.text


def test_a_fine_tuned_model_counts_the_init_models_molecules_as_seen(prepared, trained, tmp_path, cfg):
    """A model fine-tuned with init_from kept only the fine-tuning set's hashes, so
    generate called molecules of the starting model's training set (all of MOSES, for the
    shipped model) novel. The model file now holds both sets, also after a resume (which
    does not read the init_from file)."""
    from molvae.checkpoint import pack_hashes, save_checkpoint, unpack_hashes

    init = load_checkpoint(trained.path)
    theirs = np.array([smiles_hash("CC(C)(C)c1ccc(O)cc1"), smiles_hash("O=C(O)c1ccccc1O")], dtype=np.int64)
    assert not np.isin(theirs, prepared.hashes).any()
    save_checkpoint({**init, "train_hashes": pack_hashes(np.union1d(unpack_hashes(init["train_hashes"]), theirs))}, tmp_path / "init.pt")
    out, run_dir = tmp_path / "ft.pt", tmp_path / "run"
    train(prepared, out, cfg(max_steps=5, init_from=str(tmp_path / "init.pt")), run_dir=run_dir, progress=False)
    seen = unpack_hashes(load_checkpoint(out)["train_hashes"])
    assert np.isin(theirs, seen).all() and np.isin(prepared.hashes, seen).all()
    assert not MolVAE.load(out).is_novel(["O=C(O)c1ccccc1O"]).any()
    time.sleep(1.1)
    train(prepared, out, cfg(max_steps=10, init_from=str(tmp_path / "init.pt")), run_dir=run_dir, progress=False)  # resumed
    assert model_steps(out) == 10
    assert np.array_equal(unpack_hashes(load_checkpoint(out)["train_hashes"]), seen)
