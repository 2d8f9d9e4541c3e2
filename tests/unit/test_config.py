"""TrainConfig: TOML + overrides, strict validation, schedules."""

from __future__ import annotations

import pytest

from molvae.training import ConfigError, TrainConfig, resolve_precision


def test_defaults_are_valid():
    c = TrainConfig()
    assert c.precision == "auto"
    assert c.beta(0) == c.beta_start


@pytest.mark.parametrize("accelerator", ["cpu", "auto"])
def test_auto_precision_uses_bf16_only_where_the_hardware_has_it(monkeypatch, accelerator):
    """Emulated bf16 autocast trained about 20x slower than float32 on an AVX2-only CPU."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert resolve_precision(TrainConfig(accelerator=accelerator)) == "32-true"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert resolve_precision(TrainConfig(accelerator=accelerator)) == "bf16-mixed"
    # a setting other than auto is kept as it is
    assert resolve_precision(TrainConfig(accelerator=accelerator, precision="32-true")) == "32-true"


def test_flat_toml_and_tables(tmp_path):
    flat = tmp_path / "flat.toml"
    flat.write_text('d_z = 16\nbatch_size = 32\nprecision = "32-true"\nremove_stereo = true\n')
    c = TrainConfig.from_sources(flat)
    assert (c.d_z, c.batch_size, c.precision, c.remove_stereo) == (16, 32, "32-true", True)
    tables = tmp_path / "tables.toml"
    tables.write_text("[model]\nd_z = 24\ndec_hidden = 128\n\n[training]\nlr = 3e-4\nepochs = 2\n")
    c = TrainConfig.from_sources(tables)
    assert (c.d_z, c.dec_hidden, c.lr, c.epochs) == (24, 128, 3e-4, 2)


def test_overrides_win_and_none_is_ignored(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("d_z = 16\nmax_steps = 100\n")
    c = TrainConfig.from_sources(p, {"d_z": 32, "max_steps": None, "seed": 7})
    assert (c.d_z, c.max_steps, c.seed) == (32, 100, 7)
    assert TrainConfig.from_sources(None, {"lr": "0.01"}).lr == 0.01  # strings are converted


def test_shipped_default_config_parses():
    from pathlib import Path

    p = Path(__file__).resolve().parents[2] / "data" / "default_model.toml"
    if not p.is_file():
        pytest.skip("data/default_model.toml not present")
    c = TrainConfig.from_sources(p)
    assert c.d_z == 128 and c.dec_hidden == 512


@pytest.mark.parametrize("key", ["d_zz", "learning_rate", "hidden"])
def test_unknown_key(tmp_path, key):
    p = tmp_path / "typo.toml"
    p.write_text(f"{key} = 3\n")
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_sources(p)
    assert key in str(info.value)
    with pytest.raises(ConfigError):
        TrainConfig.from_sources(None, {key: 3})


@pytest.mark.parametrize(
    "values",
    [
        {"d_z": 0},
        {"batch_size": -1},
        {"epochs": 0},
        {"checkpoint_every": 0},
        {"lr": 0.0},
        {"lr": -1e-3},
        {"dropout": 1.0},
        {"dropout": -0.1},
        {"beta_end": -0.5},
        {"free_bits": -1.0},
        {"val_size": -5},
        {"max_length": -1},
        {"precision": "64-true"},
        {"n_jobs": 0},
        {"lr": float("nan")},
        {"lr": float("inf")},
        {"discriminator_lr": float("nan")},
        {"beta_end": float("inf")},
        {"beta_start": float("nan")},
        {"free_bits": float("nan")},
        {"grad_clip": float("inf")},
        {"property_weight": float("nan")},
        {"aggregate_weight": float("inf")},
        {"dropout": float("nan")},
        {"lr_min_factor": -0.5},
        {"lr_min_factor": 1.5},
        {"max_steps": -5},
        {"max_steps": 0},
        {"threads": -1},
        {"seed": -1},
        {"seed": 2**32},
    ],
)
def test_bad_values(values):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_sources(None, values)
    assert next(iter(values)) in str(info.value)
    with pytest.raises(ConfigError):
        TrainConfig(**values)


@pytest.mark.parametrize("values", [{"d_z": "big"}, {"lr": "fast"}, {"batch_size": [1, 2]}])
def test_wrong_types(values):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_sources(None, values)
    assert next(iter(values)) in str(info.value)


@pytest.mark.parametrize("values", [{"lr": "nan"}, {"lr": "inf"}, {"beta_end": "-inf"}, {"free_bits": "NaN"}])
def test_non_finite_strings_are_refused(values):
    """``--lr nan`` used to train an all-NaN model."""
    with pytest.raises(ConfigError, match=f"{next(iter(values))} must be a finite number"):
        TrainConfig.from_sources(None, values)


@pytest.mark.parametrize(
    "line, fragments",
    [
        ("d_z = 2.7", ["d_z", "2.7", "integer"]),  # was truncated to 2
        ("d_z = true", ["d_z", "True", "integer"]),  # was 1
        ("batch_size = 1e400", ["batch_size", "inf"]),
        ("remove_stereo = 1", ["remove_stereo", "true or false", "1"]),  # was True
        ('remove_stereo = "maybe"', ["remove_stereo", "maybe"]),
        ("precision = 32", ["precision", "string", "32"]),  # was "32"
        ("lr = true", ["lr", "number", "True"]),
        ("lr = nan", ["lr", "finite", "nan"]),
        ("free_bits = inf", ["free_bits", "finite", "inf"]),
    ],
)
def test_toml_values_are_not_coerced(tmp_path, line, fragments):
    p = tmp_path / "c.toml"
    p.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_sources(p)
    for f in fragments:
        assert f in str(info.value), (f, str(info.value))


@pytest.mark.parametrize(
    "values, fragments",
    [
        ({"remove_stereo": "maybe"}, ["remove_stereo", "true or false", "'maybe'"]),  # was False
        ({"remove_stereo": "2"}, ["remove_stereo", "'2'"]),
        ({"d_z": "2.7"}, ["d_z", "'2.7'"]),
        ({"d_z": "true"}, ["d_z", "'true'"]),
        ({"epochs": "nan"}, ["epochs", "'nan'"]),
        ({"max_steps": "1e400"}, ["max_steps"]),
    ],
)
def test_set_strings_are_not_coerced(values, fragments):
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_sources(None, values)
    for f in fragments:
        assert f in str(info.value), (f, str(info.value))


def test_lossless_conversions_are_kept(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("d_z = 16.0\nbeta_end = 1\nremove_stereo = false\n")
    c = TrainConfig.from_sources(p)
    assert (c.d_z, c.beta_end, c.remove_stereo) == (16, 1.0, False)
    assert type(c.d_z) is int and type(c.beta_end) is float
    for text, want in [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False), ("No", False)]:
        assert TrainConfig.from_sources(None, {"remove_stereo": text}).remove_stereo is want, text
    c = TrainConfig.from_sources(None, {"max_steps": "1e4", "epochs": "+3", "lr": "3e-4", "lr_min_factor": "0"})
    assert (c.max_steps, c.epochs, c.lr, c.lr_min_factor) == (10_000, 3, 3e-4, 0.0)
    assert TrainConfig(max_steps=-1).max_steps == -1  # no limit


def test_direct_construction_checks_types():
    with pytest.raises(ConfigError, match="d_z must be an integer"):
        TrainConfig(d_z=2.7)
    with pytest.raises(ConfigError, match="remove_stereo must be true or false"):
        TrainConfig(remove_stereo="maybe")


def test_missing_or_broken_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        TrainConfig.from_sources(tmp_path / "none.toml")
    p = tmp_path / "broken.toml"
    p.write_text("d_z = = 3\n")
    with pytest.raises(ConfigError, match="TOML"):
        TrainConfig.from_sources(p)


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_beta_schedule():
    c = TrainConfig(beta_start=0.1, beta_end=0.5, beta_warmup_steps=10, beta_anneal_steps=100)
    assert c.beta(0) == c.beta(9) == 0.1
    assert c.beta(10) == pytest.approx(0.1)
    assert c.beta(60) == pytest.approx(0.3)
    assert c.beta(110) == c.beta(10_000) == pytest.approx(0.5)
    assert TrainConfig(beta_anneal_steps=0, beta_end=0.7).beta(0) == 0.7


def test_lr_schedule():
    assert TrainConfig().lr_factor(10_000) == 1.0  # no decay by default
    c = TrainConfig(lr_decay_start=100, lr_decay_steps=200, lr_min_factor=0.1)
    assert c.lr_factor(0) == c.lr_factor(99) == 1.0
    assert c.lr_factor(100) == pytest.approx(1.0)
    assert c.lr_factor(200) == pytest.approx(0.55)
    assert c.lr_factor(300) == c.lr_factor(5000) == pytest.approx(0.1)
    factors = [c.lr_factor(s) for s in range(100, 301, 10)]
    assert factors == sorted(factors, reverse=True)


def test_model_config():
    m = TrainConfig(d_z=12, d_emb=20).model_config(vocab_size=30, max_length=40)
    assert (m.vocab_size, m.max_length, m.d_z, m.d_emb) == (30, 40, 12, 20)


def test_aggregate_term_gradients_reach_the_encoder_or_the_discriminator_never_both():
    """The KL(q(z)||p(z)) estimate moves the posterior only; D's logistic loss moves D only."""
    import torch

    from molvae.alphabet import Alphabet
    from molvae.training import TrainConfig, VAEModule

    cfg = TrainConfig(d_z=4, d_emb=8, enc_hidden=8, dec_hidden=8, aggregate_weight=1.0)
    module = VAEModule(cfg, Alphabet.build(["[C][O]", "[C][C]"]))
    mu = torch.randn(16, 4, requires_grad=True)
    logvar = torch.zeros(16, 4, requires_grad=True)
    agg, d_loss = module.aggregate_terms(mu, logvar)
    g_mu = torch.autograd.grad(agg, [mu], retain_graph=True)[0]
    assert g_mu.abs().sum() > 0
    agg.backward(retain_graph=True)
    assert all(p.grad is None for p in module.discriminator.parameters())
    mu.grad = None
    d_loss.backward()
    assert all(p.grad is not None for p in module.discriminator.parameters())
    assert mu.grad is None
    assert TrainConfig().aggregate(100) == 0.0 and cfg.aggregate(250) == 0.5 and cfg.aggregate(10_000) == 1.0


def test_settings_are_checked_without_importing_lightning():
    """`molvae train` refuses a bad setting before the 4-5 s import of Lightning."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from molvae.config import TrainConfig, check_paths, resolve_precision\n"
        "c = TrainConfig.from_sources(None, {'lr': '3e-4', 'precision': 'auto'})\n"
        "check_paths('model.pt'); resolve_precision(c)\n"
        "try:\n"
        "    TrainConfig.from_sources(None, {'lr': 'abc'})\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning', 'torchmetrics')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["lr must be a number, got 'abc'", "[]"]


def test_property_names_take_any_case():
    """--properties QED,logP was refused, while predictors train --rdkit took it."""
    c = TrainConfig(properties=" QED, logP ,sa")
    assert c.property_names == ["qed", "logp", "sa"]
    with pytest.raises(ConfigError, match="names qed twice"):
        TrainConfig(properties="qed,QED")


@pytest.mark.parametrize(
    "sizes, fragment",
    [(dict(d_z=10**30), "more than this machine's memory"), (dict(d_emb=3 * 10**9), "more than this machine's memory")],
)
def test_train_refuses_a_model_too_large_to_build(prepared, make_config, tmp_path, sizes, fragment):
    """train() on sizes no machine can build ended in torch's TypeError ('Overflow when
    unpacking long long') or an allocation RuntimeError from deep inside nn.Linear or
    nn.Embedding; it is now a ConfigError naming the sizes, before anything is written."""
    from molvae.training import check_trainer_settings, train

    config = make_config(**sizes)
    with pytest.raises(ConfigError, match=fragment):
        check_trainer_settings(config)
    with pytest.raises(ConfigError, match=fragment):
        train(prepared, tmp_path / "m.pt", config, run_dir=tmp_path / "run", progress=False)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "sizes",
    [dict(), dict(enc_layers=3, dec_layers=2, d_z=7, d_emb=5, enc_hidden=9, dec_hidden=11), dict(properties="qed,logp"), dict(properties="qed", property_hidden=13, enc_layers=2)],
)
def test_weight_count_is_the_models(sizes):
    """The size check counts weights from the sizes alone; it must count what SequenceVAE builds."""
    from molvae.model import SequenceVAE
    from molvae.training import weight_count

    config = TrainConfig(**{"d_emb": 8, "enc_hidden": 16, "dec_hidden": 24, "d_z": 4, **sizes})
    model = SequenceVAE(config.model_config(37, 10))
    assert weight_count(config, 37) == sum(p.numel() for p in model.parameters())


def test_check_paths_names_the_callers_run_dir(tmp_path):
    """check_paths told a Python caller to 'name another --run-dir', a flag of molvae
    train; a Python call is now told of its own argument, and the CLI (flags=CLI_FLAGS)
    keeps the flag."""
    from molvae.config import CLI_FLAGS, check_paths

    out = tmp_path / "m.pt"
    (tmp_path / "afile").write_text("x")
    for flags, name in ((None, "run_dir"), (CLI_FLAGS, "--run-dir")):
        with pytest.raises(ConfigError) as info:
            check_paths(out, out, flags=flags)
        assert str(info.value) == f"run directory {out} is the model file's path: name another {name} (default: m.pt.run)"
        with pytest.raises(ConfigError) as info:
            check_paths(out, tmp_path / "afile", flags=flags)
        assert str(info.value) == f"run directory {tmp_path / 'afile'} exists and is not a directory: name another {name}"
    with pytest.raises(ConfigError, match="name another run_dir"):  # flags left out: the Python name
        check_paths(out, out)


def _fake_run_dir(tmp_path, **entries):
    """A run dir whose last.ckpt holds what the resume checks read: no weights, a step-10
    checkpoint of a run with seed 42 in its fourth epoch (``entries`` replace these)."""
    import torch

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    saved = {"state_dict": {}, "loops": {}, "global_step": 10, "epoch": 3, "molvae": {"config": {"seed": 42}}, **entries}
    torch.save(saved, run_dir / "last.ckpt")
    return run_dir


def test_resume_errors_name_the_python_arguments_of_a_python_call(tmp_path):
    """plan_run (and train) told a Python caller to 'start over with --restart', 'use
    another --run-dir', 'start a new run with --init-from' and 'give --epochs 3': flags it
    never used. It is now told of resume=False, run_dir, init_from and epochs."""
    from molvae.training import plan_run, read_run_checkpoint

    run_dir = _fake_run_dir(tmp_path)
    last = run_dir / "last.ckpt"
    with pytest.raises(ConfigError) as info:
        plan_run(TrainConfig(seed=7, epochs=2), run_dir)
    assert str(info.value) == (
        f"cannot resume {last}: seed 42 then, 7 now (the seed chooses the held-out validation molecules and the batch order); "
        "to train its model on with the new settings, start a new run with init_from and the model file; "
        "its checkpoint (step 10) is past epoch 2, the epochs set now (give epochs=3 or more to resume it); "
        "start over with resume=False (the old checkpoints are moved aside) or use another run_dir"
    )
    assert "--" not in str(info.value).replace(str(last), "")
    (tmp_path / "aggregate").mkdir()
    with pytest.raises(ConfigError, match=r"resume with aggregate_weight > 0, or start over with resume=False$"):
        plan_run(TrainConfig(), _fake_run_dir(tmp_path / "aggregate", state_dict={"discriminator.w": 0}))
    last.write_bytes(b"hello\n")
    with pytest.raises(ConfigError, match=r"is unreadable, truncated or damaged .*; start over with resume=False \(the old checkpoints are moved aside\) or use another run_dir$"):
        read_run_checkpoint(last)
    with pytest.raises(ConfigError, match=r"start over with resume=False .* another run_dir$"):
        plan_run(TrainConfig(), run_dir)


def test_resume_errors_of_molvae_train_name_its_flags(tmp_path):
    """molvae train passes flags=CLI_FLAGS: its messages name the flags, word for word as before."""
    from molvae.config import CLI_FLAGS
    from molvae.training import plan_run, prepare_data, read_run_checkpoint

    run_dir = _fake_run_dir(tmp_path)
    last = run_dir / "last.ckpt"
    with pytest.raises(ConfigError) as info:
        plan_run(TrainConfig(seed=7, epochs=2), run_dir, flags=CLI_FLAGS)
    assert str(info.value) == (
        f"cannot resume {last}: seed 42 then, 7 now (the seed chooses the held-out validation molecules and the batch order); "
        "to train its model on with the new settings, start a new run with --init-from and the model file; "
        "its checkpoint (step 10) is past epoch 2, the epochs set now (give --epochs 3 or more to resume it); "
        "start over with --restart (the old checkpoints are moved aside) or use another --run-dir"
    )
    (tmp_path / "aggregate").mkdir()
    with pytest.raises(ConfigError, match=r"resume with aggregate_weight > 0, or start over with --restart$"):
        plan_run(TrainConfig(), _fake_run_dir(tmp_path / "aggregate", state_dict={"discriminator.w": 0}), flags=CLI_FLAGS)
    last.write_bytes(b"hello\n")
    with pytest.raises(ConfigError, match=r"is unreadable, truncated or damaged .*; start over with --restart \(the old checkpoints are moved aside\) or use another --run-dir$"):
        read_run_checkpoint(last, flags=CLI_FLAGS)
    # prepare_data reads the checkpoint of a resumed init_from run (its alphabet)
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    for flags, fragment in ((CLI_FLAGS, "start over with --restart"), (None, "start over with resume=False")):
        with pytest.raises(ConfigError, match=fragment):
            prepare_data(tmp_path / "in.csv", TrainConfig(init_from="m.pt"), resume_dir=run_dir, cache_dir=tmp_path / "cache", flags=flags)


def test_data_differences_name_the_callers_settings(tmp_path):
    """Resuming on other data advised '--init-from' and '--smiles-column' to Python callers too."""
    from types import SimpleNamespace

    from molvae.alphabet import Alphabet
    from molvae.config import CLI_FLAGS
    from molvae.training import _data_differences

    alphabet = Alphabet(["[C]", "[O]"], max_length=4)
    saved = {"molvae": {"data": {"file": "a.csv", "sha256": "a" * 64, "molecules": 3, "tokens_sha256": "t"}, "alphabet": alphabet.to_dict()}}
    last = tmp_path / "last.ckpt"
    for flags, init_from, column in ((None, "init_from", "smiles_column"), (CLI_FLAGS, "--init-from", "--smiles-column")):
        other = SimpleNamespace(source={"file": "b.csv", "sha256": "b" * 64}, alphabet=alphabet)
        (diff,) = _data_differences(saved, other, 3, last, "t", flags=flags)
        assert diff.endswith(f"to go on training its model on new data, start a new run with {init_from} and the model file)"), diff
        same = SimpleNamespace(source={"file": "a.csv", "sha256": "a" * 64}, alphabet=alphabet)
        assert _data_differences(saved, same, 2, last, "t", flags=flags) == [f"the same data file gives 2 molecules now, 3 then (remove_stereo, max_length or {column} changed)"]
        assert _data_differences(saved, same, 3, last, "u", flags=flags) == [f"the same data file gives other molecules now (another {column}, or remove_stereo changed)"]
