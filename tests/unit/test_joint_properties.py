"""Joint property training: the masked loss, the head, labels, and initializing from a model file."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molvae.chem import properties
from molvae.data import property_labels
from molvae.errors import ConfigError
from molvae.model import SequenceVAE, VAEConfig
from molvae.training import TrainConfig, VAEModule, _initialize_from, property_loss


def test_property_loss_leaves_out_missing_labels():
    pred = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 5.0]])
    labels = torch.tensor([[0.0, float("nan")], [1.0, 0.0], [float("nan"), float("nan")]])
    # property 0: errors 1 and 2 over 2 labels -> (1 + 4) / 2; property 1: error 2 over 1 label -> 4
    assert property_loss(pred, labels).item() == pytest.approx(2.5 + 4.0)
    assert property_loss(pred, torch.full_like(labels, float("nan"))).item() == 0.0


def test_config_names_properties_and_rejects_unknown_ones():
    assert TrainConfig(properties=" logp, qed ,sa").property_names == ["logp", "qed", "sa"]
    assert TrainConfig().property_names == []
    assert TrainConfig(properties="logp,qed").model_config(10, 20).n_properties == 2
    with pytest.raises(ConfigError, match="unknown property solubility"):
        TrainConfig(properties="logp,solubility")
    with pytest.raises(ConfigError, match="property_weight"):
        TrainConfig(property_weight=-1)


def test_head_outputs_one_prediction_per_property():
    model = SequenceVAE(VAEConfig(vocab_size=10, max_length=8, d_emb=4, enc_hidden=8, dec_hidden=8, d_z=4, n_properties=3))
    out = model(torch.randint(3, 10, (5, 6)))
    assert len(out) == 4 and out[3].shape == (5, 3)
    assert len(SequenceVAE(VAEConfig(vocab_size=10, max_length=8, d_z=4))(torch.randint(3, 10, (2, 6)))) == 3


def test_property_labels_are_rdkit_properties(prepared):
    labels = property_labels(prepared.alphabet, prepared.tokens[:20], ["logp", "qed", "sa"])
    assert labels.shape == (20, 3) and labels.dtype == np.float32
    import selfies as sf

    for toks, row in zip(prepared.tokens[:20], labels):
        want = properties(sf.decoder(prepared.alphabet.decode(toks)))
        np.testing.assert_allclose(row, [want["logp"], want["qed"], want["sa"]], rtol=1e-5)
    with pytest.raises(ValueError, match="unknown property"):
        property_labels(prepared.alphabet, prepared.tokens[:2], ["toxicity"])


def test_initialize_copies_weights_and_leaves_the_new_head(prepared, model_path, make_config):
    from molvae.checkpoint import load_checkpoint

    module = VAEModule(make_config(properties="logp"), prepared.alphabet)
    head_before = module.model.property_head.weight.clone()
    source = load_checkpoint(model_path)
    _initialize_from(module, source, prepared.alphabet, name=model_path.name)
    for k, v in source["state_dict"].items():
        torch.testing.assert_close(module.model.state_dict()[k], v)
    torch.testing.assert_close(module.model.property_head.weight, head_before)
    assert module.init_meta["steps"] == source["training"]["steps"] and module.init_meta["file"] == model_path.name


def test_initialize_refuses_another_architecture_or_alphabet(prepared, model_path, make_config):
    from molvae.checkpoint import load_checkpoint

    source = load_checkpoint(model_path)
    with pytest.raises(ConfigError, match="different architecture.*d_z 8 vs 16"):
        _initialize_from(VAEModule(make_config(d_z=16), prepared.alphabet), source, prepared.alphabet, name="m.pt")
    from molvae.alphabet import Alphabet

    other = Alphabet.build(["[C][C][O]", "[N][C]"], max_length=prepared.alphabet.max_length)
    with pytest.raises(ConfigError, match="alphabet differs"):
        _initialize_from(VAEModule(make_config(), other), source, other, name="m.pt")


def test_encoder_and_head_overfit_a_property_of_a_tiny_batch(prepared):
    """Trained jointly on 48 molecules, the head predicts their logP from the posterior mean."""
    from molvae.training import elbo_terms

    torch.manual_seed(0)
    toks = [t for t in prepared.tokens if len(t) == 30][:48]
    x = torch.from_numpy(np.stack(toks).astype(np.int64))
    y = torch.from_numpy(property_labels(prepared.alphabet, toks, ["logp"]))
    y = (y - y.mean()) / y.std()
    model = SequenceVAE(VAEConfig(vocab_size=len(prepared.alphabet), max_length=prepared.alphabet.max_length, d_emb=16, enc_hidden=32, dec_hidden=32, d_z=8, n_properties=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    targets = torch.cat([x, torch.full_like(x[:, :1], SequenceVAE.END)], dim=1)
    for _ in range(150):
        logits, mu, logvar, pred = model(x)
        recon, kl = elbo_terms(logits, targets, mu, logvar)
        loss = recon + 0.01 * kl.sum() + 5.0 * property_loss(pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        mu, _ = model.encode(x)
        mse = property_loss(model.property_head(mu), y).item()
    assert mse < 0.1  # R^2 > 0.9 on the batch it was trained on (it starts near 1)


def test_initialize_keeps_a_head_for_the_same_properties(prepared, model_path, make_config):
    """Fine-tuning a model that has a head for the same properties keeps that head; others start anew."""
    from molvae.checkpoint import load_checkpoint

    source = load_checkpoint(model_path)
    torch.manual_seed(3)
    trained_head = torch.randn(1, source["hparams"]["d_z"])
    source["state_dict"]["property_head.weight"] = trained_head
    source["state_dict"]["property_head.bias"] = torch.zeros(1)
    source["hparams"] = {**source["hparams"], "n_properties": 1, "property_hidden": 0}
    source["training"] = {**source["training"], "properties": {"names": ["logp"], "mean": [2.0], "std": [1.0]}}
    same = VAEModule(make_config(properties="logp"), prepared.alphabet, property_stats={"names": ["logp"], "mean": [2.1], "std": [1.1]})
    _initialize_from(same, source, prepared.alphabet, name="src.pt")
    torch.testing.assert_close(same.model.property_head.weight, trained_head)
    assert same.init_meta["property_head"] == "copied"
    other = VAEModule(make_config(properties="qed"), prepared.alphabet, property_stats={"names": ["qed"], "mean": [0.6], "std": [0.1]})
    before = other.model.property_head.weight.clone()
    _initialize_from(other, source, prepared.alphabet, name="src.pt")
    torch.testing.assert_close(other.model.property_head.weight, before)
    assert other.init_meta["property_head"] == "new"


def test_label_cache_is_keyed_by_the_molecules_not_their_positions(prepared, make_config):
    """Two trainings on one file but other molecules at the same positions (another
    --smiles-column of the same CSV, remove_stereo) used to share the property-label
    cache: the second run's head was trained on the first run's labels."""
    import dataclasses

    from molvae.training import _standardized_labels

    config = make_config(properties="logp")
    n = 40
    first = dataclasses.replace(prepared, tokens=prepared.tokens[:n])
    other = dataclasses.replace(prepared, tokens=prepared.tokens[n : 2 * n])  # same source file
    train_ix, val_ix = np.arange(30), np.arange(30, 40)
    a, _, _ = _standardized_labels(first, config, train_ix, val_ix)
    b, _, stats = _standardized_labels(other, config, train_ix, val_ix)
    want = property_labels(other.alphabet, [other.tokens[i] for i in train_ix], ["logp"])[:, 0]
    np.testing.assert_allclose(b[:, 0] * stats["std"][0] + stats["mean"][0], want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(a, b)


def test_a_label_cache_write_cut_short_is_not_read_back(prepared, make_config, tmp_path, monkeypatch, caplog):
    """The property-label cache was written in place (np.save to labels-KEY.npy): a run
    killed during the write left a file cut short, and every later joint training on the
    same molecules failed to load it. It is now written through a temporary file, and an
    unreadable one is computed again."""
    import dataclasses
    import logging

    import molvae.training as training
    from molvae.training import _standardized_labels

    monkeypatch.setenv("MOLVAE_CACHE", str(tmp_path / "cache"))
    config = make_config(properties="logp")
    data = dataclasses.replace(prepared, tokens=prepared.tokens[:40])
    train_ix, val_ix = np.arange(30), np.arange(30, 40)
    save = np.save

    def killed_while_writing(file, values, *args, **kwargs):
        with open(file, "wb") as fh:
            fh.write(b"\x93NUMPY")  # the first bytes, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(training.np, "save", killed_while_writing)
    with pytest.raises(KeyboardInterrupt):
        _standardized_labels(data, config, train_ix, val_ix)
    assert not list((tmp_path / "cache").iterdir())  # nothing cut short left behind
    monkeypatch.setattr(training.np, "save", save)
    want, _, _ = _standardized_labels(data, config, train_ix, val_ix)
    (entry,) = (tmp_path / "cache").glob("labels-*.npy")
    entry.write_bytes(entry.read_bytes()[:90])  # as an older molvae left it
    with caplog.at_level(logging.WARNING, logger="molvae"):
        got, _, _ = _standardized_labels(data, config, train_ix, val_ix)
    assert "ignoring unreadable property-label cache" in caplog.text
    np.testing.assert_array_equal(got, want)
    assert np.load(entry).shape == (40, 1)  # written again


def test_a_property_named_twice_is_refused():
    with pytest.raises(ConfigError, match="qed.*twice"):
        TrainConfig(properties="qed,logp,qed")
