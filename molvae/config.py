"""The training configuration: :class:`TrainConfig` (TOML and flag overrides, strictly
checked), the output-path checks and the precision a run uses.

Everything here is checked before Lightning is imported (about 5 s on a 2-core machine,
most of it torchmetrics, which Lightning imports), so that ``molvae train`` refuses a bad
setting or path at once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from molvae.checks import flag, is_integer
from molvae.errors import ConfigError

if TYPE_CHECKING:
    from molvae.model import VAEConfig

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib

__all__ = ["TrainConfig", "ConfigError", "PRECISIONS", "CLI_FLAGS", "check_paths", "resolve_precision"]

#: The ``molvae train`` flag for each setting named in training messages, keyed by how a
#: Python caller names it: a parameter of :func:`check_paths`, :func:`molvae.training.train`
#: and the functions before it (``run_dir``, ``resume=False``, ``smiles_column``), or a
#: :class:`TrainConfig` key (``init_from``, ``epochs``, ``max_steps``). A Python call is told
#: of its own arguments; ``molvae train`` passes ``flags=CLI_FLAGS``, so its messages name
#: the flags (as :data:`molvae.campaign.errors.CLI_FLAGS` does for campaigns).
CLI_FLAGS = {
    "run_dir": "--run-dir", "resume=False": "--restart", "smiles_column": "--smiles-column",
    "init_from": "--init-from", "epochs": "--epochs", "max_steps": "--max-steps",
}  # fmt: skip



#: Precision settings a run may use: ``auto`` (see :func:`resolve_precision`) or one of
#: Lightning's (``16-mixed`` needs a GPU). Not ``bf16-true``: its bf16 weights fail in
#: validation's greedy decoding and in the aggregate-posterior term, which compute in float32.
PRECISIONS = ("auto", "bf16-mixed", "32-true", "16-mixed")

_FIELD_TYPES = {"int": int, "float": float, "bool": bool, "str": str}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")
#: The tables a TOML config may group its keys in (a flat file is read the same).
_TABLES = ("model", "training")


def _type_name(t: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[t]


def _checked_type(name: str, want: type, value):
    """``value`` if it has the field's type (an int is a float too); ConfigError otherwise.

    Floats must be finite: NaN or infinity in a learning rate or weight trains nothing."""
    if want is bool:
        ok = isinstance(value, bool)
    elif want is int:
        ok = is_integer(value)
        value = int(value) if ok else value
    elif want is float:
        ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        if ok:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value}")
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ConfigError(f"{name} must be {_type_name(want)}, got {value!r}")
    return value


def _converted(name: str, want: type, value):
    """A TOML or ``--set`` value as the field's type, without losing anything (see
    :meth:`TrainConfig.from_sources`); ConfigError naming the key and the value otherwise."""
    bad = ConfigError(f"{name} must be {_type_name(want)}, got {value!r}")
    if isinstance(value, str) and want is not str:
        text = value.strip()
        if want is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise bad
        try:
            value = int(text) if want is int and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise bad from None
    if want is int and isinstance(value, float):
        if not value.is_integer():  # 2.7, nan, inf
            raise bad
        value = int(value)
    return _checked_type(name, want, value)


@dataclass
class TrainConfig:
    """Everything a training run needs besides the data. TOML keys have the same names.

    Model: ``d_emb, enc_hidden, enc_layers, dec_hidden, dec_layers, d_z, dropout`` (see
    :class:`molvae.model.VAEConfig`). Optimisation: ``batch_size`` (molecules),
    ``lr`` (Adam), ``lr_decay_start``/``lr_decay_steps``/``lr_min_factor`` (cosine decay
    of the learning rate from ``lr`` to ``lr * lr_min_factor`` over those steps; no decay
    when ``lr_decay_steps`` is 0), ``grad_clip`` (global norm), ``epochs``, ``max_steps``
    (-1: no limit). ELBO: ``beta_start, beta_end, beta_warmup_steps, beta_anneal_steps,
    free_bits`` (nats per latent dimension). Bookkeeping: ``checkpoint_every`` (steps),
    ``val_every`` (steps; counted from each epoch's start, and at most an epoch's
    batches, so that a longer interval validates at each epoch's end),
    ``val_size`` (molecules held out), ``seed``, ``precision``
    (``auto``, the default: ``bf16-mixed`` where the device has bf16 in hardware,
    ``32-true`` elsewhere, see :func:`resolve_precision`; or a Lightning setting such as
    ``bf16-mixed`` or ``32-true``), ``n_jobs`` (data preparation processes),
    ``threads`` (torch threads; 1 is fastest on a machine whose other cores are busy,
    since a descheduled thread stalls every parallel operation).
    Aggregate posterior (module docstring): ``aggregate_weight`` (0: off),
    ``aggregate_warmup_steps``, ``discriminator_hidden`` (units of D's two hidden layers),
    ``discriminator_lr`` (Adam, D's own learning rate, not decayed).
    Scale: ``accelerator``, ``devices``, ``num_nodes``, ``strategy`` (Lightning names,
    e.g. ``ddp`` with ``devices = 2``).
    Joint property training (Gómez-Bombarelli et al. 2018): ``properties`` (comma-separated
    names of :func:`molvae.chem.properties`, e.g. ``"logp,qed,sa"``; empty: none) are
    predicted from ``z`` by a head (``property_hidden`` units, 0: linear), adding
    ``property_weight`` times the sum over properties of the mean squared error (in
    standard deviations of the training labels) to the loss; ``property_molecules``
    training molecules, drawn at random, are labelled (0: all). ``init_from``: a model file
    whose weights start a new run (same alphabet and architecture; its property head is
    kept when it predicts the same properties, otherwise the head starts at random); a
    resumed run ignores it.
    """

    # model
    d_emb: int = 64
    enc_hidden: int = 256
    enc_layers: int = 1
    dec_hidden: int = 512
    dec_layers: int = 1
    d_z: int = 128
    dropout: float = 0.0
    max_length: int = 0  # 0: longest training molecule
    remove_stereo: bool = False
    # optimisation
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay_start: int = 0
    lr_decay_steps: int = 0
    lr_min_factor: float = 0.1
    grad_clip: float = 5.0
    epochs: int = 10
    max_steps: int = -1
    # ELBO
    beta_start: float = 0.0
    beta_end: float = 0.5
    beta_warmup_steps: int = 0
    beta_anneal_steps: int = 4000
    free_bits: float = 0.05
    # aggregate posterior vs prior (density-ratio estimate of KL(q(z) || p(z)))
    aggregate_weight: float = 0.0
    aggregate_warmup_steps: int = 500
    discriminator_hidden: int = 512
    discriminator_lr: float = 1e-3
    # bookkeeping
    checkpoint_every: int = 500
    val_every: int = 1000
    val_size: int = 2000
    seed: int = 42
    precision: str = "auto"
    n_jobs: int = 2
    threads: int = 0  # torch intra-op threads per process; 0: torch's default
    # scale
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    # joint property training and fine-tuning
    properties: str = ""
    property_weight: float = 1.0
    property_molecules: int = 0
    property_hidden: int = 0
    init_from: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, _checked_type(f.name, _FIELD_TYPES[f.type], getattr(self, f.name)))
        positive = ("d_emb", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers", "d_z", "batch_size", "epochs", "checkpoint_every", "val_every", "devices", "num_nodes", "n_jobs")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("lr", "discriminator_lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.lr_min_factor <= 1:
            raise ConfigError(f"lr_min_factor must be in [0, 1] (the fraction of lr left after the decay), got {self.lr_min_factor}")
        if self.max_steps < 1 and self.max_steps != -1:
            raise ConfigError(f"max_steps must be >= 1, or -1 for no limit, got {self.max_steps}")
        non_negative = (
            "beta_start", "beta_end", "free_bits", "grad_clip", "val_size", "max_length", "beta_warmup_steps", "beta_anneal_steps",
            "lr_decay_start", "lr_decay_steps", "threads",
            "property_weight", "property_molecules", "property_hidden", "aggregate_weight", "aggregate_warmup_steps", "discriminator_hidden",
        )  # fmt: skip
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be in [0, 2**32 - 1], got {self.seed}")
        from molvae.chem import PROPERTY_NAMES

        unknown = [n for n in self.property_names if n not in PROPERTY_NAMES]
        if unknown:
            raise ConfigError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}: use {', '.join(PROPERTY_NAMES)}")
        if self.properties.strip() and not self.property_names:  # "," or " , ": no head, silently
            raise ConfigError(f"properties names no property ({self.properties!r}): give comma-separated names of {', '.join(PROPERTY_NAMES)}, or none to train without a property head")
        twice = sorted({n for n in self.property_names if self.property_names.count(n) > 1})
        if twice:
            raise ConfigError(f"properties names {', '.join(twice)} twice ({self.properties!r}): name each property once")
        if self.precision == "bf16-true":
            raise ConfigError("precision bf16-true (bf16 weights) is not supported: use bf16-mixed (bf16 computation, float32 weights) or 32-true")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @classmethod
    def from_sources(cls, toml_path: str | os.PathLike | None = None, overrides: dict | None = None) -> TrainConfig:
        """Build from a TOML file (flat, or with ``[model]``/``[training]`` tables) and overrides.

        Values are converted only where nothing is lost: an override string such as
        ``"0.01"`` or ``"true"`` (from ``--set``) becomes the key's type; an integer key
        takes an integral number (``16`` or ``16.0``, not ``2.7`` nor ``true``); a boolean
        key takes ``true``/``false`` (or the strings ``1``/``0``/``yes``/``no``).

        Parameters
        ----------
        toml_path : path-like, optional
            A UTF-8 TOML file; keys at the top level or in ``[model]``/``[training]``
            (any key in either table).
        overrides : dict, optional
            Key to value (strings from ``--set``, typed values from flags); a value of
            None is ignored. Overrides win over the file.

        Returns
        -------
        TrainConfig
            Checked as :class:`TrainConfig` checks every instance.

        Raises
        ------
        ConfigError
            Unknown keys or tables (typos are not ignored), a key set twice in the file
            (at the top level and in a table, or in both tables), wrong types,
            out-of-range values.
        """
        values: dict = {}
        if toml_path is not None:
            try:
                with open(toml_path, "rb") as fh:
                    raw = tomllib.load(fh)
            except FileNotFoundError:
                raise ConfigError(f"config file not found: {toml_path}") from None
            except IsADirectoryError:
                raise ConfigError(f"config file {toml_path} is a directory") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{toml_path} is not valid TOML ({exc})") from None
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{toml_path} is not UTF-8 text (undecodable byte {exc.object[exc.start]:#04x})") from None
            except OSError as exc:
                raise ConfigError(f"cannot read config file {toml_path}: {exc.strerror or exc}") from None
            where: dict[str, str] = {}  # each key's place, to refuse one set twice
            for k, v in raw.items():
                if isinstance(v, dict) and k not in _TABLES:
                    raise ConfigError(f"unknown table [{k}] in {Path(toml_path).name}: use {' and '.join(f'[{t}]' for t in _TABLES)}, or no table")
                place = f"in [{k}]" if isinstance(v, dict) else "at the top level"
                for key, value in v.items() if isinstance(v, dict) else [(k, v)]:
                    if key in where:
                        raise ConfigError(f"{key} is set twice in {Path(toml_path).name} ({where[key]} and {place})")
                    where[key], values[key] = place, value
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
        typed = {k: _converted(k, _FIELD_TYPES[known[k].type], v) for k, v in values.items()}
        return cls(**typed)

    @property
    def property_names(self) -> list[str]:
        """The jointly trained properties, in head-output order (lower case, as
        :data:`molvae.chem.PROPERTY_NAMES` and ``predictors train --rdkit`` take them)."""
        return [n.strip().lower() for n in self.properties.split(",") if n.strip()]

    def model_config(self, vocab_size: int, max_length: int) -> VAEConfig:
        """The model hyperparameters of this run as a :class:`molvae.model.VAEConfig`.

        Copies ``d_emb, enc_hidden, enc_layers, dec_hidden, dec_layers, d_z, dropout`` and
        ``property_hidden``; ``n_properties`` is ``len(property_names)``.

        Parameters
        ----------
        vocab_size : int
            Size of the alphabet, special tokens included (``len(alphabet)``).
        max_length : int
            Maximum number of SELFIES tokens per molecule (the alphabet's, not this
            config's ``max_length``, which may be 0 for "longest training molecule").

        Returns
        -------
        VAEConfig
            Not validated further (VAEConfig does no checks).
        """
        from molvae.model import VAEConfig

        return VAEConfig(
            vocab_size=vocab_size,
            max_length=max_length,
            d_emb=self.d_emb,
            enc_hidden=self.enc_hidden,
            enc_layers=self.enc_layers,
            dec_hidden=self.dec_hidden,
            dec_layers=self.dec_layers,
            d_z=self.d_z,
            dropout=self.dropout,
            n_properties=len(self.property_names),
            property_hidden=self.property_hidden,
        )

    def beta(self, step: int) -> float:
        """KL weight (beta of the ELBO) at an optimizer step: linear annealing.

        ``beta_start`` for ``step < beta_warmup_steps``, then linear from ``beta_start``
        to ``beta_end`` over ``beta_anneal_steps`` steps, then ``beta_end``
        (``beta_end`` at once after the warm-up when ``beta_anneal_steps`` is 0).

        Parameters
        ----------
        step : int
            Optimizer step (0-based global step).

        Returns
        -------
        float
            Dimensionless weight of the KL term.
        """
        if step < self.beta_warmup_steps:
            return self.beta_start
        if self.beta_anneal_steps == 0:
            return self.beta_end
        frac = min((step - self.beta_warmup_steps) / self.beta_anneal_steps, 1.0)
        return self.beta_start + frac * (self.beta_end - self.beta_start)

    def aggregate(self, step: int) -> float:
        """Weight of the aggregate-posterior term at an optimizer step (linear warm-up).

        ``aggregate_weight * min(step / aggregate_warmup_steps, 1)``; ``aggregate_weight``
        at every step when ``aggregate_warmup_steps`` is 0. There is no delay: the ramp
        starts at step 0.

        Parameters
        ----------
        step : int
            Optimizer step (0-based global step).

        Returns
        -------
        float
            Dimensionless weight; 0 throughout when ``aggregate_weight`` is 0 (term off).
        """
        if self.aggregate_warmup_steps == 0:
            return self.aggregate_weight
        return self.aggregate_weight * min(step / self.aggregate_warmup_steps, 1.0)

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at a step (1, then cosine decay to ``lr_min_factor``).

        1 before ``lr_decay_start`` (and always when ``lr_decay_steps`` is 0); then
        ``m + (1 - m) * (1 + cos(pi * t)) / 2`` with ``m = lr_min_factor`` and
        ``t = min((step - lr_decay_start) / lr_decay_steps, 1)``, so ``m`` from
        ``lr_decay_start + lr_decay_steps`` on.

        Parameters
        ----------
        step : int
            Optimizer step (0-based global step).

        Returns
        -------
        float
            In ``[lr_min_factor, 1]``; the learning rate is ``lr * lr_factor(step)``.
        """
        if self.lr_decay_steps == 0 or step < self.lr_decay_start:
            return 1.0
        frac = min((step - self.lr_decay_start) / self.lr_decay_steps, 1.0)
        return self.lr_min_factor + (1 - self.lr_min_factor) * 0.5 * (1 + math.cos(math.pi * frac))


def check_paths(out: str | os.PathLike, run_dir: str | os.PathLike | None = None, *, flags: dict | None = None) -> Path:
    """Check, before any work, that the model file can be written and the run dir used.

    Parameters
    ----------
    out : path-like
        The model file.
    run_dir : path-like, optional
        Default ``<out>.run/``.
    flags : dict, optional
        How the caller names ``run_dir`` in the messages (see :func:`flag`): ``molvae
        train`` passes :data:`CLI_FLAGS` (``--run-dir``); None names the parameter.

    Returns
    -------
    Path
        The run directory (not created).

    Raises
    ------
    ConfigError
        ``out`` is a directory, its folder does not exist or cannot be written in;
        ``run_dir`` exists but is not a directory, is ``out`` itself, or cannot be written
        in (when it does not exist yet: its nearest existing parent is not a directory or
        cannot be written in, so it could not be created); ``run_dir/last.ckpt`` exists
        but is not a file (a folder).
    """
    out = Path(out)
    if out.is_dir():
        raise ConfigError(f"output {out} is a directory: name the model file to write, e.g. {out / 'model.pt'}")
    if out.resolve().parent.exists() and not out.resolve().parent.is_dir():
        raise ConfigError(f"{out.parent} is not a directory (for {out.name}): name the model file to write in a directory")
    if not out.resolve().parent.is_dir():
        raise ConfigError(f"directory {out.parent} does not exist (for {out.name})")
    run_dir = Path(run_dir) if run_dir else out.with_name(out.name + ".run")
    if run_dir.resolve() == out.resolve():
        raise ConfigError(f"run directory {run_dir} is the model file's path: name another {flag('run_dir', flags)} (default: {out.name}.run)")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"run directory {run_dir} exists and is not a directory: name another {flag('run_dir', flags)}")
    # the model file is written beside itself and renamed (molvae.checkpoint.save_checkpoint):
    # its folder must take new files; without this, a run found out at its first checkpoint
    if not _writable_dir(out.resolve().parent):
        where = out.parent if str(out.parent) != "." else "the current directory"
        raise ConfigError(f"cannot write {out.name} in {where}: permission denied")
    if run_dir.is_dir():
        if not _writable_dir(run_dir):
            raise ConfigError(f"cannot write in run directory {run_dir}: permission denied; name another {flag('run_dir', flags)}")
        # a folder there: the run started over without a word, and Lightning wrote its
        # checkpoints into it as temporary files (so every rerun started over again)
        last = run_dir / "last.ckpt"
        if last.exists() and not last.is_file():
            what = "a folder" if last.is_dir() else "not a file"
            raise ConfigError(f"{last} is {what}, where the run's checkpoint goes: move it out of the run directory or name another {flag('run_dir', flags)}")
    else:  # created by the run: its nearest existing parent must be a folder that takes new entries
        parent = run_dir.parent  # as given, to name it as the user wrote it ('.' and '/' exist)
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ConfigError(f"cannot create run directory {run_dir}: {parent} is not a directory; name another {flag('run_dir', flags)}")
        if not _writable_dir(parent):
            where = parent if str(parent) != "." else "the current directory"
            raise ConfigError(f"cannot create run directory {run_dir} in {where}: permission denied; name another {flag('run_dir', flags)}")
    return run_dir


def _writable_dir(path: Path) -> bool:
    """Whether new files can be made in the folder ``path`` (write and search permission)."""
    return os.access(path, os.W_OK | os.X_OK)


def resolve_precision(config: TrainConfig) -> str:
    """The Lightning precision a run of ``config`` uses: ``config.precision``, or for
    ``auto`` ``bf16-mixed`` where the training device multiplies bf16 in hardware
    (:func:`molvae.model.native_bf16`) and ``32-true`` elsewhere.

    bf16 autocast is about 2.3x faster than float32 for the default architecture on a CPU
    with AVX512-BF16, and about 20x slower on one without it (AVX2 only), where PyTorch
    emulates bf16 (``benchmarks/training.py``).

    Parameters
    ----------
    config : TrainConfig

    Returns
    -------
    str
        A Lightning precision setting.
    """
    if config.precision != "auto":
        return config.precision
    import torch

    from molvae.model import native_bf16

    accelerator = config.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    device = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda"}.get(accelerator)
    return "bf16-mixed" if device is not None and native_bf16(device) else "32-true"


