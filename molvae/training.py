"""Training: the ELBO with KL annealing and free bits, as a PyTorch Lightning module.

Lightning gives checkpoint/resume (optimizer, step and data position), bf16 autocast,
gradient clipping, CSV logging and DDP. ``molvae train`` calls :func:`train`.

Loss per molecule (Kingma & Welling 2014; free bits after Kingma et al. 2016)::

    recon = sum_t CE(logits_t, token_t)                  (nats, summed over tokens incl. <end>)
    KL_d  = mean_batch 0.5 * (mu_d^2 + sigma_d^2 - log sigma_d^2 - 1)
    loss  = recon + beta(step) * sum_d max(KL_d, free_bits)

beta rises linearly from ``beta_start`` to ``beta_end`` over ``beta_anneal_steps`` after
``beta_warmup_steps`` (Bowman et al. 2016).

Optionally (``aggregate_weight > 0``) a term penalizes the divergence between the aggregate
posterior q(z) = E_x q(z|x) and the prior, the "prior hole" that makes prior draws decode
worse than posterior samples, without penalizing the information z carries about x (the
InfoVAE decomposition, Zhao et al. 2019). KL(q(z) || p(z)) is estimated with the
density-ratio trick (Sugiyama et al. 2012; as in adversarial variational Bayes, Mescheder et
al. 2017, and adversarial autoencoders, Makhzani et al. 2016): a discriminator D learns to
tell posterior samples from prior draws by logistic regression, so its logit approximates
log q(z)/p(z), and ::

    loss += aggregate_weight * mean_batch logit_D(z),   z ~ q(z|x)

with D's parameters held fixed in that term (D itself is trained only by its logistic loss,
added unweighted). The weight ramps up linearly over ``aggregate_warmup_steps`` so that D is
trained before the encoder follows it. Sampling still draws from N(0, I).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from molvae.alphabet import Alphabet
from molvae.checkpoint import pack_hashes, save_checkpoint, unpack_hashes
from molvae.checks import flag, given
from molvae.config import PRECISIONS, TrainConfig, check_paths, resolve_precision  # noqa: F401  (re-exported)
from molvae.data import LengthBucketBatches, PreparedSet, write_atomically
from molvae.errors import ConfigError, TrainingTerminated
from molvae.model import SequenceVAE
from molvae.workers import process_rank

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint

__all__ = ["TrainConfig", "ConfigError", "VAEModule", "train", "export_model", "check_paths", "check_trainer_settings", "plan_run", "prepare_data", "read_run_checkpoint", "resolve_precision", "init_alphabet"]

log = logging.getLogger(__name__)


def elbo_terms(logits: torch.Tensor, targets: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor):
    """Reconstruction and per-dimension KL of a batch.

    Parameters
    ----------
    logits : Tensor, shape (batch, T, vocab)
    targets : LongTensor, shape (batch, T)
        Padding (id 0) is ignored.
    mu, logvar : Tensor, shape (batch, d_z)

    Returns
    -------
    recon : Tensor, scalar
        Cross-entropy summed over tokens, mean over the batch (nats per molecule).
    kl_per_dim : Tensor, shape (d_z,)
        KL(q(z|x) || N(0, I)) per dimension, mean over the batch (nats).
    """
    ce = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=0, reduction="sum")
    recon = ce / targets.shape[0]
    mu, logvar = mu.float(), logvar.float()
    kl_per_dim = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean(0)
    return recon, kl_per_dim


def property_loss(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over properties of the mean squared error over the labelled molecules.

    Parameters
    ----------
    pred : Tensor, shape (batch, n_properties)
        Head outputs (standardized units).
    labels : Tensor, shape (batch, n_properties)
        Standardized labels; NaN marks a missing label, which is left out.

    Returns
    -------
    Tensor, scalar
        0 when the batch has no label.
    """
    mask = ~torch.isnan(labels)
    sq = (pred.float() - torch.nan_to_num(labels)).pow(2) * mask
    return (sq.sum(0) / mask.sum(0).clamp(min=1)).sum()


def _rng_state() -> dict:
    """The global random number generators' states, as plain data (tensors, ints, lists),
    so that a checkpoint holding them still loads with ``weights_only=True``."""
    import random

    kind, key, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [str(kind), torch.from_numpy(np.asarray(key, dtype=np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    """Restore what :func:`_rng_state` returned (the parts that are there)."""
    import random

    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        kind, key, pos, has_gauss, gauss = state["numpy"]
        np.random.set_state((kind, np.asarray(key, dtype=np.uint32), int(pos), int(has_gauss), float(gauss)))
    if "python" in state:
        v, internal, gauss = state["python"]
        random.setstate((v, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda"]])


class VAEModule(pl.LightningModule):
    """Lightning wrapper of :class:`SequenceVAE` with the annealed, free-bits ELBO.

    Parameters
    ----------
    config : TrainConfig
    alphabet : Alphabet
    train_tokens, val_tokens : list of int ndarrays
        Token ids of the training and validation molecules.
    train_labels, val_labels : ndarray, shape (n, n_properties), optional
        Standardized property labels (NaN: unlabelled) for joint property training.
    property_stats : dict, optional
        ``{"names", "mean", "std"}`` of the labels (how to undo the standardization).
    """

    def __init__(self, config: TrainConfig, alphabet: Alphabet, train_tokens=None, val_tokens=None, train_labels=None, val_labels=None, property_stats=None):
        super().__init__()
        self.config = config
        self.alphabet = alphabet
        self.model = SequenceVAE(config.model_config(len(alphabet), alphabet.max_length))
        self.train_tokens = train_tokens or []
        self.val_tokens = val_tokens or []
        self.train_loader: LengthBucketBatches | None = None
        self.molecules_seen = 0
        self.wall_time_s = 0.0
        self._t0 = None
        self.last_val: dict = {}
        self._val_mu: list = []
        self._val_hits: list = []
        self.train_labels, self.val_labels = train_labels, val_labels
        self.property_stats = dict(property_stats or {})
        self.init_meta: dict = {}
        #: novelty hashes of the init_from model's training set: a fine-tuned model has
        #: seen those molecules too (sorted int64; empty without init_from)
        self.init_hashes: np.ndarray = np.zeros(0, dtype=np.int64)
        self.data_source: dict = {}  # the training data's file, sha256 and molecule count (resume check)
        self._batch_open: tuple | None = None  # (step, molecules_seen, RNG states) at the start of a batch
        self._rng_to_restore: dict | None = None
        self._resumed = False  # restored from a checkpoint, before its first batch
        self.batches_trained = 0  # batches started by this process's fit (0: it trained nothing)
        self._rng_outside_val: dict | None = None
        self._val_prop: list = []
        self.discriminator = None
        if config.aggregate_weight > 0:
            h = config.discriminator_hidden
            self.discriminator = torch.nn.Sequential(
                torch.nn.Linear(config.d_z, h), torch.nn.SiLU(), torch.nn.Linear(h, h), torch.nn.SiLU(), torch.nn.Linear(h, 1)
            )

    # -- data
    def train_dataloader(self):
        self.train_loader = LengthBucketBatches(
            self.train_tokens,
            self.config.batch_size,
            shuffle=True,
            seed=self.config.seed,
            rank=self.global_rank,
            world_size=self.trainer.world_size,
            labels=self.train_labels,
        )
        return self.train_loader

    def val_dataloader(self):
        # cover_all: the ranks together validate on every molecule (the batches that did
        # not make a whole round of ranks were left out)
        return LengthBucketBatches(
            self.val_tokens,
            512,
            shuffle=False,
            rank=self.global_rank,
            world_size=self.trainer.world_size,
            labels=self.val_labels,
            cover_all=True,
        )

    # -- optimisation
    def configure_optimizers(self):
        groups = [{"params": list(self.model.parameters()), "lr": self.config.lr}]
        factors = [self.config.lr_factor]
        if self.discriminator is not None:
            groups.append({"params": list(self.discriminator.parameters()), "lr": self.config.discriminator_lr})
            factors.append(lambda step: 1.0)
        opt = torch.optim.Adam(groups)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factors)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_batch_start(self, batch, batch_idx):
        # counted at the start, so that the checkpoint written at the end of the batch counts
        # it; a checkpoint written on Ctrl-C in the middle of the batch uncounts it first
        # (rewind_unfinished_batch)
        self._batch_open = (int(self.trainer.global_step), self.molecules_seen, _rng_state())
        self.batches_trained += 1
        if self._resumed:
            # metrics.csv's step is Lightning's count of batches that stepped, which its
            # restore puts one ahead of the optimizer steps for a checkpoint written on
            # Ctrl-C in the middle of a batch (or in the first batch of an epoch): every row
            # of the resumed run had the next step's number. One optimizer without gradient
            # accumulation steps once a batch, so the two counts are equal.
            self._resumed = False
            self.trainer.fit_loop.epoch_loop._batches_that_stepped = int(self.trainer.global_step)
            # a run resumed from a checkpoint of an epoch's last batch goes on with the next
            # epoch without counting it as started (Lightning's restart state is still
            # "mid-epoch"): its checkpoints then said that epoch was done, and the same
            # command once more trained an epoch more than --epochs. An epoch being trained
            # is one started and not yet processed.
            epochs = self.trainer.fit_loop.epoch_progress
            for tracker in (epochs.total, epochs.current):
                if tracker.started == tracker.processed:
                    tracker.ready = tracker.started = tracker.processed + 1
        if self.train_loader is not None:
            self.train_loader.consumed += 1
        if self._t0 is None:
            self._t0 = time.perf_counter()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self._batch_open = None

    def rewind_unfinished_batch(self) -> bool:
        """Undo the bookkeeping of a batch whose optimizer step did not happen (Ctrl-C
        in its forward or backward pass): the data position, the molecule count and the
        random number generators go back to the batch's start, so that a run resumed from
        a checkpoint written now continues with exactly that batch.

        Returns
        -------
        bool
            Whether a batch was rewound.
        """
        if self._batch_open is None:
            return False
        step, seen, rng = self._batch_open
        self._batch_open = None
        if int(self.trainer.global_step) != step:  # its optimizer step happened: it counts
            return False
        if self.train_loader is not None and self.train_loader.consumed > 0:
            self.train_loader.consumed -= 1
        self.molecules_seen = seen
        _set_rng_state(rng)
        return True

    def on_train_start(self):
        if self._rng_to_restore is not None:
            _set_rng_state(self._rng_to_restore)
            self._rng_to_restore = None
        self._apply_learning_rates()

    def _apply_learning_rates(self) -> None:
        """Train with the config's ``lr`` and ``discriminator_lr``: a resumed run restores
        the optimizer's and the scheduler's state, learning rates included, which would
        otherwise keep the run's first ones whatever the config now says."""
        sched = self.lr_schedulers()
        if sched is None:
            return
        bases = [self.config.lr] + ([self.config.discriminator_lr] if self.discriminator is not None else [])
        if list(sched.base_lrs) == bases:
            return
        log.info("learning rate %s then, %s now: the resumed run trains with the new one", "/".join(f"{b:g}" for b in sched.base_lrs), "/".join(f"{b:g}" for b in bases))
        sched.base_lrs = bases
        for group, base, factor in zip(sched.optimizer.param_groups, bases, sched.lr_lambdas):
            group["initial_lr"] = base
            group["lr"] = base * factor(sched.last_epoch)
        sched._last_lr = [group["lr"] for group in sched.optimizer.param_groups]

    def on_validation_start(self):
        # validation samples z too: keep its draws out of the training's random stream, so
        # that a run resumed from a checkpoint draws what the uninterrupted run would have
        self._rng_outside_val = _rng_state()

    def on_validation_end(self):
        if self._rng_outside_val is not None:
            _set_rng_state(self._rng_outside_val)
            self._rng_outside_val = None

    def training_step(self, batch, batch_idx):
        batch, labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
        targets = torch.cat([batch, torch.full_like(batch[:, :1], SequenceVAE.END)], dim=1)
        logits, mu, logvar, *props = self.model(batch)
        recon, kl_dim = elbo_terms(logits, targets, mu, logvar)
        beta = self.config.beta(self.global_step)
        kl_fb = torch.clamp(kl_dim, min=self.config.free_bits).sum()
        loss = recon + beta * kl_fb
        if self.discriminator is not None:
            agg, d_loss = self.aggregate_terms(mu, logvar)
            loss = loss + self.config.aggregate(self.global_step) * agg + d_loss
            self.log_dict({"agg_kl": agg, "disc_loss": d_loss}, prog_bar=True, on_step=True, batch_size=batch.shape[0])
        if props and labels is not None:
            prop = property_loss(props[0], labels)
            loss = loss + self.config.property_weight * prop
            self.log("prop_mse", prop, prog_bar=True, on_step=True, batch_size=batch.shape[0])
        # the processes' batches differ in size (molecules of one length per batch): the
        # first one's times the process count was not the molecules trained on; one process
        # needs no tensor (on a GPU, int() of one is a device sync every step)
        n = batch.shape[0]
        if self.trainer.world_size > 1:
            n = int(self._sum_over_ranks(torch.tensor([n], device=batch.device))[0])
        self.molecules_seen += n
        now = time.perf_counter()
        self.wall_time_s += now - self._t0
        self._t0 = now
        self.log_dict(
            {"recon": recon, "kl": kl_dim.sum(), "beta": beta},
            prog_bar=True,
            on_step=True,
            batch_size=batch.shape[0],
        )
        self.log_dict({"loss": loss, "lr": self.optimizers().param_groups[0]["lr"], "molecules": float(self.molecules_seen)}, on_step=True, batch_size=batch.shape[0])
        return loss

    def aggregate_terms(self, mu: torch.Tensor, logvar: torch.Tensor):
        """Density-ratio estimate of KL(q(z) || p(z)) and the discriminator's loss.

        Parameters
        ----------
        mu, logvar : Tensor, shape (batch, d_z)

        Returns
        -------
        agg : Tensor, scalar
            Mean over posterior samples z ~ q(z|x) of D's logit (≈ log q(z)/p(z), nats),
            differentiable in the encoder only.
        d_loss : Tensor, scalar
            D's logistic loss (posterior samples: label 1; N(0, I) draws: label 0),
            differentiable in D only.
        """
        z = SequenceVAE.reparameterize(mu.float(), logvar.float())
        prior = torch.randn_like(z)
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        agg = torch.func.functional_call(self.discriminator, frozen, (z,)).float().mean()
        logits = self.discriminator(torch.cat([z.detach(), prior])).float().squeeze(1)
        target = torch.cat([torch.ones(len(z), device=z.device), torch.zeros(len(prior), device=z.device)])
        d_loss = F.binary_cross_entropy_with_logits(logits, target)
        return agg, d_loss

    # -- validation: ELBO terms, reconstruction accuracy of greedy decoding of mu, active units
    def validation_step(self, batch, batch_idx):
        batch, labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
        targets = torch.cat([batch, torch.full_like(batch[:, :1], SequenceVAE.END)], dim=1)
        logits, mu, logvar, *_ = self.model(batch)
        recon, kl_dim = elbo_terms(logits, targets, mu, logvar)
        mu_det, _ = self.model.encode(batch)
        if labels is not None:
            # R^2 statistics of the head's prediction from mu: n, sum y, sum y^2, SSE per property
            pred = self.model.property_head(mu_det).float()
            mask = ~torch.isnan(labels)
            y = torch.nan_to_num(labels)
            self._val_prop.append(torch.stack([mask.sum(0), y.sum(0), y.pow(2).sum(0), ((pred - y).pow(2) * mask).sum(0)]).double())
        decoded = self.model.sample_tokens(mu_det.float(), temperature=0.0, max_length=batch.shape[1])
        width = min(decoded.shape[1], targets.shape[1])
        same_len = decoded.shape[1] >= targets.shape[1]
        hits = (decoded[:, :width] == targets[:, :width]).all(1) & torch.tensor(same_len)
        self._val_mu.append(mu_det.float())
        self._val_hits.append(hits)
        self.log_dict({"val_recon": recon, "val_kl": kl_dim.sum()}, on_epoch=True, batch_size=batch.shape[0], sync_dist=True)

    def on_validation_epoch_end(self):
        if not self._val_mu:
            return
        mu = torch.cat(self._val_mu)
        hits = torch.cat(self._val_hits).float()
        self._val_mu, self._val_hits = [], []
        # sufficient statistics of fixed shape, so that ranks with different numbers of
        # molecules can be summed: [n, hits, sum(mu) (d_z), sum(mu^2) (d_z)]
        count = torch.full((1,), float(mu.shape[0]), device=mu.device)
        stats = torch.cat([count, hits.sum().reshape(1), mu.sum(0), mu.pow(2).sum(0)]).double()
        stats = self._sum_over_ranks(stats)
        n, n_hits = float(stats[0]), float(stats[1])
        d = (stats.numel() - 2) // 2
        mean = stats[2 : 2 + d] / n
        var = (stats[2 + d :] / n - mean.pow(2)) * n / max(n - 1, 1)
        # active units: Cov_x(E_q[z_d]) > 0.01 (Burda et al. 2016)
        active = int((var > 0.01).sum()) if n > 1 else 0
        acc = n_hits / n
        # every rank holds the same values, computed from the summed statistics: sync_dist
        # averages equal numbers, and tells Lightning they are the whole validation set's
        self.log_dict({"val_recon_acc": acc, "val_active_units": float(active)}, prog_bar=True, sync_dist=True)
        self.last_val = {"val_token_recon_acc": acc, "val_active_units": active}
        if self._val_prop:
            st = torch.stack(self._val_prop).sum(0)  # (4, n_properties)
            self._val_prop = []
            n, sy, syy, sse = self._sum_over_ranks(st)
            sst = syy - sy.pow(2) / n.clamp(min=1)
            for name, r2 in zip(self.property_stats.get("names", []), (1 - sse / sst.clamp(min=1e-12)).tolist()):
                self.last_val[f"val_property_r2_{name}"] = r2
                self.log(f"val_r2_{name}", r2, sync_dist=True)  # the same on every rank, as above

    def _sum_over_ranks(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` summed over the processes training together (all-reduce); ``t`` itself
        with one process. Every rank must call it, with a tensor of the same shape."""
        if self.trainer.world_size == 1:
            return t
        return self.trainer.strategy.reduce(t, reduce_op="sum")

    # -- resume bookkeeping
    def on_save_checkpoint(self, checkpoint):
        # inside validation (Ctrl-C there): the training's state, not validation's draws
        rng = self._rng_outside_val if self._rng_outside_val is not None else _rng_state()
        ranks = [rng]
        if _world_size(self) > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            # every process draws its own z noise: each resumes with its own random state
            # (all of them take part in a checkpoint; only the first one writes it)
            ranks = [None] * _world_size(self)
            torch.distributed.all_gather_object(ranks, rng)
        checkpoint["molvae"] = {
            "molecules_seen": int(self.molecules_seen),
            "wall_time_s": float(self.wall_time_s),
            "last_val": dict(self.last_val),
            "alphabet": self.alphabet.to_dict(),
            "config": dataclasses.asdict(self.config),
            "property_stats": dict(self.property_stats),
            "init_meta": dict(self.init_meta),
            "init_hashes": pack_hashes(self.init_hashes),  # a resumed run does not read the init_from file
            "data": dict(self.data_source),
            "rng": rng,
            "rng_ranks": ranks,  # each process's, by global rank
        }

    def on_load_checkpoint(self, checkpoint):
        meta = checkpoint.get("molvae", {})
        self.molecules_seen = int(meta.get("molecules_seen", 0))
        self.wall_time_s = float(meta.get("wall_time_s", 0.0))
        self.last_val = dict(meta.get("last_val", {}))
        self.init_meta = dict(meta.get("init_meta", {}))
        self.init_hashes = unpack_hashes(meta.get("init_hashes"))
        ranks = meta.get("rng_ranks") or []
        # applied when training starts; a checkpoint of an older version holds the first
        # process's only, which every process took
        self._rng_to_restore = ranks[self.global_rank] if len(ranks) == _world_size(self) else meta.get("rng")
        self._resumed = True


def _world_size(module: VAEModule) -> int:
    """Processes training together (DDP ranks x nodes); 1 outside a trainer."""
    try:
        return int(module.trainer.world_size)
    except RuntimeError:  # not attached to a trainer
        return 1


def _model_file_steps(path: Path) -> int | None:
    """The optimizer steps a model file records, or None when there is no readable one."""
    from molvae.checkpoint import CheckpointError, load_checkpoint

    try:
        return int(load_checkpoint(path).get("training", {}).get("steps"))
    except (CheckpointError, OSError, TypeError, ValueError):
        return None


def _epochs_completed(module: VAEModule) -> int:
    """Whole epochs trained: the data loader's epoch, plus one when all its batches are
    consumed (Lightning's ``current_epoch`` counts an epoch that max_steps stopped midway)."""
    loader = module.train_loader
    if loader is None:
        return int(module.current_epoch)
    return int(loader.epoch) + (1 if loader.consumed >= len(loader) else 0)


def export_model(module: VAEModule, path, *, source: dict, hashes: np.ndarray | None, extra: dict | None = None) -> Path:
    """Write the plain-dict molvae model file of a (possibly still training) module.

    Parameters
    ----------
    module : VAEModule
    path : path-like
    source : dict
        Description of the training data (file, size, sha256, molecules).
    hashes : ndarray of int64, optional
        Sorted 48-bit hashes of the training set's canonical SMILES (novelty). Those of
        the ``init_from`` model's training set (``module.init_hashes``) are added: a
        fine-tuned model has seen both sets, and a molecule of either is not novel.
    extra : dict, optional
        More training metadata (command line, hardware ...).

    Returns
    -------
    Path
    """
    import platform

    import selfies as sf

    state = {k: v.detach().float().cpu().clone() for k, v in module.model.state_dict().items()}
    training = {
        "data": dict(source),
        "steps": int(module.global_step),
        "epochs_completed": _epochs_completed(module),
        "molecules_seen": int(module.molecules_seen),
        "world_size": _world_size(module),
        "wall_time_s": round(float(module.wall_time_s), 1),
        "config": dataclasses.asdict(module.config),
        "metrics": dict(module.last_val),
        "torch_version": str(torch.__version__),
        "lightning_version": str(pl.__version__),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        **(extra or {}),
    }
    if module.property_stats:
        training["properties"] = dict(module.property_stats)
    if module.init_meta:
        training["initialized_from"] = dict(module.init_meta)
    return save_checkpoint(
        {
            "hparams": module.model.config.to_dict(),
            "alphabet": module.alphabet.to_dict(),
            "selfies_version": sf.__version__,
            "training": training,
            "state_dict": state,
            "train_hashes": pack_hashes(np.union1d(np.asarray(hashes if hashes is not None else [], dtype=np.int64), module.init_hashes)),
        },
        path,
    )


class _RunCheckpoint(ModelCheckpoint):
    """Lightning's checkpoints, plus ``last.ckpt`` at the step where ``max_steps`` stops.

    Lightning writes ``last.ckpt`` at the end of ``fit`` only when it wrote none during it,
    and then after marking the epoch as finished: a resumed run stopped by ``max_steps``
    between two ``checkpoint_every`` steps saved a checkpoint whose next epoch started at
    its first batch, so a run resumed from it skipped the rest of the epoch's batches; a
    new run stopped so kept its last checkpoint behind the model file. Written at the end
    of the last batch, the checkpoint is a mid-epoch one like every other, and a resume
    continues with the next batch.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if self.save_last and trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class _ExportCallback(pl.Callback):
    """Writes the plain model file at each checkpoint interval, at the end, and on Ctrl-C."""

    def __init__(self, out, source, hashes, every, run_dir, extra, restarted=False, flags=None):
        self.out, self.source, self.hashes, self.every, self.run_dir, self.extra = out, source, hashes, every, Path(run_dir), extra
        self.restarted = restarted  # a run started with resume=False (--restart): running it so again starts over
        self.flags = flags  # how the caller names resume=False (see molvae.checks.flag)
        self.ended = False  # on_train_end came (not when a resumed run has nothing left to train)
        self.interrupted = False  # set by Ctrl-C (KeyboardInterrupt inside fit)
        self.terminated = False  # set by SIGTERM (Lightning's SIGTERMException inside fit)

    def _export(self, trainer, module):
        if trainer.is_global_zero:
            export_model(module, self.out, source=self.source, hashes=self.hashes, extra=self.extra)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step % self.every == 0:
            self._export(trainer, module)

    def on_train_end(self, trainer, module):
        self.ended = True
        self._export(trainer, module)

    def on_exception(self, trainer, module, exception):
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        # Lightning raises SIGTERMException (a SystemExit without a code) at the end of the
        # batch during which SIGTERM arrived: save that step as for Ctrl-C
        terminated = isinstance(exception, SIGTERMException)
        if isinstance(exception, KeyboardInterrupt) or terminated:
            self.interrupted = not terminated
            self.terminated = terminated
            module.rewind_unfinished_batch()
            trainer.save_checkpoint(self.run_dir / "last.ckpt")
            self._export(trainer, module)
            restart = flag("resume=False", self.flags)
            again = "run the same command" if restart.startswith("-") else "call train again"
            how = f"{again} without {restart} to resume (with it, the run starts over)" if self.restarted else f"{again} to resume"
            log.warning("%s at step %d: checkpoint saved to %s; %s", "terminated" if terminated else "interrupted", trainer.global_step, self.run_dir / "last.ckpt", how)


def _move_earlier_run_aside(run_dir: Path) -> None:
    """A run starting at step 0 in ``run_dir``: move an earlier run's checkpoints (a
    restart) and metrics logs into ``run_dir/previous-<time>/``, so that a later resume
    continues this run and ``logs/`` holds this run's steps only (the logs of a run
    restarted, or killed before its first checkpoint, stayed beside the new run's, with
    the same steps)."""
    earlier = sorted(run_dir.glob("*.ckpt")) + ([run_dir / "logs"] if (run_dir / "logs").is_dir() else [])
    if not earlier:
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    old, n = run_dir / f"previous-{stamp}", 1
    while old.exists():  # two restarts within a second
        n += 1
        old = run_dir / f"previous-{stamp}-{n}"
    old.mkdir()
    for f in earlier:
        f.rename(old / f.name)
    what = "checkpoints and logs" if any(f.suffix == ".ckpt" for f in earlier) else "logs"
    log.info("starting over: the earlier run's %s moved to %s", what, old)


def _drop_rows_from_step(logs: Path, step: int) -> None:
    """Remove the rows of ``step`` and later from the metrics.csv files under ``logs``:
    a run resumed from its checkpoint at ``step`` trains those steps again and logs them
    in a new file (a run killed after its checkpoint had logged some of them, so the
    files together held those steps twice, with the killed run's values)."""
    import csv

    for path in sorted(logs.rglob("metrics.csv")) if logs.is_dir() else []:
        try:
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                fields, rows = reader.fieldnames, list(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            log.warning("cannot read %s (%s): left as it is", path, exc)
            continue
        try:
            kept = [r for r in rows if not r.get("step") or float(r["step"]) < step]
        except ValueError:
            log.warning("%s has a step that is not a number: left as it is", path)
            continue
        if len(kept) == len(rows) or not fields:
            continue
        def write(tmp: Path, fields=fields, kept=kept) -> None:
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)

        write_atomically(path, write)  # whole or not at all; no .tmp file left behind
        log.info("%s: %d row%s of step %d and later removed (the resumed run trains them again)", path, len(rows) - len(kept), "" if len(rows) - len(kept) == 1 else "s", step)


def _standardized_labels(data: PreparedSet, config: TrainConfig, train_ix: np.ndarray, val_ix: np.ndarray):
    """Labels of joint property training: a random ``property_molecules`` of the training
    molecules and every validation molecule, standardized by the training labels' mean
    and standard deviation (cached beside the token cache)."""
    import hashlib
    import json

    from molvae.data import cache_root, property_labels, save_cache_file

    names = config.property_names
    k = config.property_molecules or len(train_ix)
    labelled = np.sort(np.random.default_rng([config.seed, 1]).permutation(len(train_ix))[: min(k, len(train_ix))])
    rows = np.concatenate([train_ix[labelled], val_ix])
    # keyed by the molecules themselves, not only their positions: one file can give other
    # molecules at the same positions (another --smiles-column, remove_stereo)
    key = hashlib.sha256(json.dumps([data.source.get("sha256"), names, data.alphabet.to_dict(), _tokens_digest(data.tokens[i] for i in rows)]).encode() + rows.astype(np.int64).tobytes()).hexdigest()[:20]
    cache = cache_root() / f"labels-{key}.npy"
    values = None
    if cache.is_file():
        try:
            values = np.load(cache, allow_pickle=False)
            if values.shape != (rows.size, len(names)):
                raise ValueError(f"{values.shape} labels, not {(rows.size, len(names))}")
        except Exception as exc:  # a file cut short (written in place by an older molvae, killed) ...
            log.warning("ignoring unreadable property-label cache %s (%s): computing the labels again", cache, " ".join(str(exc).split())[:200] or type(exc).__name__)
            values = None
        else:
            log.info("using property-label cache %s", cache)
    if values is None:
        log.info("computing %s of %d molecules for joint training (%d processes)", ",".join(names), rows.size, config.n_jobs)
        values = property_labels(data.alphabet, [data.tokens[i] for i in rows], names, n_jobs=config.n_jobs)
        try:
            # through a temporary file: written in place, a run killed meanwhile left a file
            # cut short that every later run failed to load
            save_cache_file(cache, lambda tmp: np.save(tmp, values))
        except OSError as exc:  # a cache is a convenience
            log.warning("could not write label cache %s: %s", cache, exc)
    train_values = values[: labelled.size]
    mean = np.nanmean(train_values, axis=0)
    std = np.nanstd(train_values, axis=0)
    std[~(std > 0)] = 1.0
    train_labels = np.full((len(train_ix), len(names)), np.nan, dtype=np.float32)
    train_labels[labelled] = (train_values - mean) / std
    val_labels = ((values[labelled.size :] - mean) / std).astype(np.float32)
    stats = {"names": list(names), "mean": [float(m) for m in mean], "std": [float(s) for s in std], "labelled_molecules": int(labelled.size)}
    return train_labels, val_labels, stats


def _initialize_from(module: VAEModule, ckpt: dict, alphabet: Alphabet, *, name: str) -> None:
    """Copy the weights of a loaded model file into a new run's model (fine-tuning).

    Parameters
    ----------
    module : VAEModule
    ckpt : dict
        From :func:`molvae.checkpoint.load_checkpoint`.
    alphabet : Alphabet
        The training data's.
    name : str
        The file's name, for messages and the training metadata.

    Raises
    ------
    ConfigError
        When the file's alphabet or architecture differs from the new run's.
    """
    if ckpt["alphabet"] != alphabet.to_dict():
        diffs = _alphabet_differences(ckpt["alphabet"], alphabet.to_dict(), "in the model", "in the data")
        hint = ""
        if ckpt["alphabet"].get("max_length") != alphabet.max_length:
            hint = f"; prepare the data with max_length = {ckpt['alphabet'].get('max_length')} (molvae train does when max_length is not set)"
        raise ConfigError(
            f"init_from {name}: its alphabet differs from the training data's ({'; '.join(diffs)}){hint}; "
            "prepare the data with the model's alphabet (prepare_data(path, plan_run(config, run_dir)), as molvae train does)"
        )
    ours = module.model.config.to_dict()
    _check_init_architecture(ckpt["hparams"], ours, name)
    t = ckpt.get("training", {})
    theirs = (t.get("properties") or {}).get("names", [])
    ours_names = module.property_stats.get("names", [])
    keep_head = bool(ours_names) and list(theirs) == list(ours_names) and ckpt["hparams"].get("property_hidden", 0) == ours.get("property_hidden", 0)
    state = {k: v for k, v in ckpt["state_dict"].items() if keep_head or not k.startswith("property_head.")}
    missing, _ = module.model.load_state_dict(state, strict=False)
    assert all(k.startswith("property_head.") for k in missing), missing
    # "new" said of a run that trains no head that it had one, its file's head left out
    head = "copied" if keep_head else "new" if ours_names else "left out" if theirs else "none"
    module.init_hashes = unpack_hashes(ckpt.get("train_hashes"))
    module.init_meta = {"file": name, "steps": int(t.get("steps", 0)), "molecules_seen": int(t.get("molecules_seen", 0)), "wall_time_s": float(t.get("wall_time_s", 0.0)), "property_head": head}
    names = ", ".join(theirs)
    about = {
        "copied": f"its {names} property head copied",
        "new": f"property head new (the file's predicts {names})" if theirs else "property head new",
        "left out": f"its {names} property head left out: this run trains none",
        "none": "no property head",
    }[head]
    log.info("weights initialized from %s (step %d; %s)", name, module.init_meta["steps"], about)


def _check_init_architecture(hparams: dict, ours: dict, name: str) -> None:
    """ConfigError naming what differs between a model file's architecture (``hparams``)
    and a new run's (``ours``, a :class:`molvae.model.VAEConfig` as a dict); the
    property head, which a run may add or replace, is left out."""
    arch = [k for k in ours if not k.startswith(("n_properties", "property_")) and hparams.get(k, ours[k]) != ours[k]]
    if arch:
        diff = ", ".join(f"{k} {hparams[k]} vs {ours[k]}" for k in arch)
        raise ConfigError(f"init_from {name}: different architecture ({diff})")


def init_alphabet(config: TrainConfig, resume_dir: str | os.PathLike | None = None, *, flags: dict | None = None) -> Alphabet | None:
    """The alphabet of the ``init_from`` model file, to prepare the data with
    (:func:`molvae.data.prepare_training_set`'s ``alphabet``), or None without one.

    For a run resumed from ``resume_dir`` (its ``last.ckpt`` exists), the alphabet its
    checkpoint recorded: the model file's, which the run started with, so that a resumed
    run does not need the model file.

    Parameters
    ----------
    config : TrainConfig
    resume_dir : path-like, optional
        The run directory of a run that resumes.
    flags : dict, optional
        As :func:`train`.

    Returns
    -------
    Alphabet or None

    Raises
    ------
    molvae.checkpoint.CheckpointError
        The file is missing or unreadable (when it is read).
    ConfigError
        The run's checkpoint is unreadable.
    """
    if not config.init_from:
        return None
    recorded = _recorded_alphabet(Path(resume_dir) / "last.ckpt", flags=flags) if resume_dir is not None else None
    if recorded is not None:
        return recorded
    from molvae.checkpoint import load_checkpoint

    return Alphabet.from_dict(load_checkpoint(config.init_from)["alphabet"])


def _recorded_alphabet(last: Path, saved: dict | None = None, *, flags: dict | None = None) -> Alphabet | None:
    """The alphabet a run's checkpoint ``last`` (summarized: ``saved``, from
    :func:`_run_summary`) trained with, or None when there is no such checkpoint or it
    records none (an older molvae wrote it). ``flags``: as :func:`read_run_checkpoint`."""
    if saved is None:
        if not last.is_file():
            return None
        saved = _run_summary(last, flags=flags)
    recorded = (saved.get("molvae") or {}).get("alphabet")
    return Alphabet.from_dict(recorded) if isinstance(recorded, dict) else None


def _start_over(flags: dict | None = None) -> str:
    """The way out of a run directory that cannot be resumed, as the caller names it
    (``flags``: see :func:`molvae.checks.flag`)."""
    return f"start over with {flag('resume=False', flags)} (the old checkpoints are moved aside) or use another {flag('run_dir', flags)}"

#: Settings that shape the model's parameters (besides the alphabet).
_ARCHITECTURE = ("d_emb", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers", "d_z", "property_hidden", "properties")

#: Settings that decide which molecules a run holds out and in what order it draws the
#: others; a resumed run must keep them (the data position is counted in batches).
_DATA_ORDER = (
    (("seed",), "the seed chooses the held-out validation molecules and the batch order"),
    (("val_size",), "it sets how many molecules are held out for validation"),
    (("batch_size",), "the position in the epoch is counted in batches"),
    (("devices", "num_nodes"), "each process's share of the batches depends on their number"),
)


def read_run_checkpoint(path: str | os.PathLike, *, flags: dict | None = None) -> dict:
    """A run directory's Lightning checkpoint (``last.ckpt``), loaded as plain data.

    Parameters
    ----------
    path : path-like
        The checkpoint.
    flags : dict, optional
        How the caller names its settings in the messages (see
        :func:`molvae.checks.flag`): ``molvae train`` passes
        :data:`molvae.config.CLI_FLAGS` (``--restart``, ``--run-dir``); None names the
        Python arguments (``resume=False``, ``run_dir``).

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        When it is unreadable (truncated by a full disk, damaged) or not a checkpoint of a
        training run, saying to start over (``resume=False``, ``--restart``).
    """
    path = Path(path)
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError ... on a cut file
        detail = " ".join(str(exc).split())[:160]
        raise ConfigError(f"checkpoint {path} is unreadable, truncated or damaged ({type(exc).__name__}{': ' + detail if detail else ''}); {_start_over(flags)}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("state_dict"), dict) or "loops" not in saved:
        raise ConfigError(f"checkpoint {path} is not a checkpoint of a training run; {_start_over(flags)}")
    return saved


#: The last run checkpoint summarized by :func:`_run_summary`: (what identifies the file
#: read, the summary).
_summary_memo: tuple[tuple, dict] | None = None


def _run_summary(last: Path, *, keep: bool = True, flags: dict | None = None) -> dict:
    """What the resume checks need of a run's checkpoint ``last``, read by
    :func:`read_run_checkpoint`: its ``molvae``, ``global_step`` and ``epoch`` entries
    (those it has), and its ``state_dict`` with each entry's shape (a tuple; None for an
    entry that is not a tensor) instead of the tensor.

    :func:`plan_run`, :func:`init_alphabet` (through :func:`prepare_data`) and
    :func:`train` each need it, and the checkpoint holds the weights and the optimizer
    state: the summary of the last file read is kept while that file is unchanged (same
    path, inode, size, and modification and change times), so that a run resumed through
    the three loads it once.

    Parameters
    ----------
    last : Path
        The checkpoint (it exists).
    keep : bool
        False: forget the summary after this call (:func:`train`, the last to need it,
        before Lightning rewrites the file).
    flags : dict, optional
        As :func:`read_run_checkpoint`.

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        As :func:`read_run_checkpoint`.
    """
    global _summary_memo
    st = last.stat()
    key = (str(last.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if _summary_memo is None or _summary_memo[0] != key:
        saved = read_run_checkpoint(last, flags=flags)
        summary = {k: saved[k] for k in ("molvae", "global_step", "epoch") if k in saved}
        summary["state_dict"] = {k: tuple(v.shape) if hasattr(v, "shape") else None for k, v in saved["state_dict"].items()}
        _summary_memo = (key, summary)
    summary = _summary_memo[1]
    if not keep:
        _summary_memo = None
    return summary


def _alphabet_differences(a: dict, b: dict, a_is: str = "then", b_is: str = "now") -> list[str]:
    """How two ``Alphabet.to_dict()`` differ, e.g. ``["max_length 55 then, 48 now"]``."""
    out = []
    if a.get("max_length") != b.get("max_length"):
        out.append(f"max_length {a.get('max_length')} {a_is}, {b.get('max_length')} {b_is}")
    for where, toks in ((b_is, sorted(set(b.get("tokens", [])) - set(a.get("tokens", [])))), (a_is, sorted(set(a.get("tokens", [])) - set(b.get("tokens", []))))):
        if toks:
            out.append(f"token{'s' if len(toks) > 1 else ''} only {where}: {' '.join(toks[:5])}{' ...' if len(toks) > 5 else ''}")
    out += [f"{k} {a.get(k)!r} {a_is}, {b.get(k)!r} {b_is}" for k in sorted(a.keys() | b.keys()) if k not in ("max_length", "tokens") and a.get(k) != b.get(k)]
    return out


def _config_differences(saved: dict, config: TrainConfig, last: Path, flags: dict | None = None) -> list[str]:
    """Settings of a run dir's checkpoint (``saved``, from :func:`_run_summary`) that the config changes and that a
    resumed run cannot take: the model's shape, the aggregate-posterior term, the data
    order, fewer ``epochs`` than the checkpoint has reached (empty: none). ``flags``: how
    the caller names its settings (see :func:`molvae.checks.flag`).

    Raises
    ------
    ConfigError
        The aggregate-posterior term is switched on or off.
    """
    had = any(k.startswith("discriminator.") for k in saved["state_dict"])
    if had != (config.aggregate_weight > 0):
        raise ConfigError(
            f"{last} was trained {'with' if had else 'without'} the aggregate-posterior term; "
            f"resume with aggregate_weight {'> 0' if had else '= 0'}, or start over with {flag('resume=False', flags)}"
        )
    old = (saved.get("molvae") or {}).get("config") or {}
    diffs = []
    for k in _ARCHITECTURE + (("discriminator_hidden",) if had else ()):
        if k not in old:
            continue
        a, b = old[k], getattr(config, k)
        if k == "properties":
            a, b = ",".join(x.strip().lower() for x in str(a).split(",") if x.strip()), ",".join(config.property_names)
        if a != b:
            diffs.append(f"{k} {a!r} then, {b!r} now" if isinstance(a, str) else f"{k} {a} then, {b} now")
    order_changed = False
    for keys, why in _DATA_ORDER:
        then = [old[k] for k in keys if k in old]
        now = [getattr(config, k) for k in keys if k in old]
        if then != now:
            shown = " x ".join(keys)
            a, b = (" x ".join(map(str, v)) for v in (then, now))
            diffs.append(f"{shown} {a} then, {b} now ({why})")
            order_changed = True
    if order_changed:
        diffs.append(f"to train its model on with the new settings, start a new run with {flag('init_from', flags)} and the model file")
    epochs_done = int(saved.get("epoch", 0) or 0)  # Lightning's current_epoch when it was saved
    if epochs_done > config.epochs:  # Lightning refuses it with a MisconfigurationException
        diffs.append(f"its checkpoint (step {int(saved.get('global_step', 0))}) is past epoch {config.epochs}, the epochs set now (give {given('epochs', epochs_done, flags)} or more to resume it)")
    return diffs


def _tokens_digest(tokens) -> str:
    """SHA-256 of a tokenized set, molecule by molecule in order: which molecules a run
    trains on, and where (one file gives others with another --smiles-column)."""
    import hashlib

    tokens = [np.asarray(t, dtype=np.int16) for t in tokens]
    h = hashlib.sha256(np.fromiter((t.size for t in tokens), dtype=np.int64, count=len(tokens)).tobytes())
    if tokens:
        h.update(np.concatenate(tokens).tobytes())
    return h.hexdigest()


def _data_differences(saved: dict, data: PreparedSet, n: int, last: Path, digest: str | None = None, flags: dict | None = None) -> list[str]:
    """How the training data differs from the data a run dir's checkpoint (``saved``, from
    :func:`_run_summary`) was trained on:
    another file, another number of molecules, other molecules (``digest``, from
    :func:`_tokens_digest`), another alphabet (empty: none). ``flags``: how the caller
    names its settings (see :func:`molvae.checks.flag`)."""
    meta = saved.get("molvae") or {}
    diffs = []
    then, now = meta.get("data") or {}, data.source
    if not then.get("sha256"):
        log.warning("%s does not record its training data (an older molvae wrote it): not checked", last)
    elif then["sha256"] != now.get("sha256"):
        diffs.append(
            f"it was trained on other data ({then.get('file')}, sha256 {then['sha256'][:12]}, "
            f"not {now.get('file')}, sha256 {str(now.get('sha256'))[:12]}; to go on training its model on new data, "
            f"start a new run with {flag('init_from', flags)} and the model file)"
        )
    elif then.get("molecules") is not None and int(then["molecules"]) != n:
        diffs.append(f"the same data file gives {n} molecules now, {then['molecules']} then (remove_stereo, max_length or {flag('smiles_column', flags)} changed)")
    elif then.get("tokens_sha256") and digest and then["tokens_sha256"] != digest:
        diffs.append(f"the same data file gives other molecules now (another {flag('smiles_column', flags)}, or remove_stereo changed)")
    if meta.get("alphabet") and meta["alphabet"] != data.alphabet.to_dict():
        diffs.append("the alphabet differs (" + "; ".join(_alphabet_differences(meta["alphabet"], data.alphabet.to_dict())) + ")")
    return diffs


def plan_run(config: TrainConfig, run_dir: str | os.PathLike, *, resume: bool = True, flags: dict | None = None) -> TrainConfig:
    """Check a run against the checkpoint it would resume, before the data is prepared,
    and settle how to prepare the data (``max_length``, ``remove_stereo``) for
    :func:`prepare_data`.

    A run being resumed keeps the ``max_length`` it was started with; a new run that starts
    from a model file (``init_from``) takes the model's, since its weights only fit data of
    that length (a log line says so). Otherwise (or when ``max_length`` is set) the
    config's ``max_length`` stays (0: the longest training molecule). With ``init_from``,
    new or resumed, stereochemistry is removed from the training molecules when the
    model's alphabet has no stereo tokens (a log line says so), so that such molecules are
    trained on without it rather than skipped. :func:`train` checks the data itself later
    (same file, same alphabet).

    Parameters
    ----------
    config : TrainConfig
    run_dir : path-like
        The run directory (see :func:`check_paths`).
    resume : bool
        As :func:`train`.
    flags : dict, optional
        As :func:`train`.

    Returns
    -------
    TrainConfig

    Raises
    ------
    ConfigError
        The run's checkpoint is unreadable, or the config changes the model's shape (of
        the run being resumed, or, for a new run, of the ``init_from`` model), or another
        setting the run cannot resume with (its data order, fewer ``epochs`` than it has
        reached).
    CheckpointError
        The ``init_from`` model file is missing or unreadable (a resumed run does not read
        it: its checkpoint records the model's alphabet).
    """
    last = Path(run_dir) / "last.ckpt"
    resuming = resume and last.is_file()
    alphabet = None  # with init_from: the model's, as a resumed run's checkpoint recorded it
    if resuming:
        saved = _run_summary(last, flags=flags)
        diffs = _config_differences(saved, config, last, flags)
        if diffs:
            raise ConfigError(f"cannot resume {last}: {'; '.join(diffs)}; {_start_over(flags)}")
        m = ((saved.get("molvae") or {}).get("config") or {}).get("max_length", 0)
        alphabet = _recorded_alphabet(last, saved)
        del saved
        if not config.max_length and isinstance(m, int) and m > 0:
            log.info("max_length %d, as the run in %s was started with", m, run_dir)
            config = dataclasses.replace(config, max_length=m)
    if not config.init_from:
        return config
    name = Path(config.init_from).name
    if alphabet is None:  # a new run (or a checkpoint of an older molvae): the model file's
        from molvae.checkpoint import load_checkpoint

        model = load_checkpoint(config.init_from)
        alphabet = Alphabet.from_dict(model["alphabet"])
    if not resuming:  # the architecture, before the data is prepared (train checks it again)
        _check_init_architecture(model["hparams"], config.model_config(len(alphabet), alphabet.max_length).to_dict(), name)
    if not resuming and not config.max_length:
        m = int(model["hparams"]["max_length"])
        log.info("max_length %d from %s (the model's; set max_length to choose another)", m, name)
        config = dataclasses.replace(config, max_length=m)
    if not config.remove_stereo and not alphabet.has_stereo:
        log.info("stereochemistry removed from the training molecules: %s has no stereo tokens", name)
        config = dataclasses.replace(config, remove_stereo=True)
    return config


def prepare_data(
    path: str | os.PathLike,
    config: TrainConfig,
    *,
    smiles_column: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    resume_dir: str | os.PathLike | None = None,
    flags: dict | None = None,
) -> PreparedSet:
    """Read, standardize and tokenize a training file as a run of ``config`` trains on it.

    :func:`molvae.data.prepare_training_set` with the config's ``remove_stereo``,
    ``max_length`` (0: the longest molecule) and ``n_jobs``, and, with ``init_from``, the
    model's alphabet (:func:`init_alphabet`): a molecule it cannot write is skipped and
    reported in the result's ``errors``. For a run being resumed (``resume_dir``), the
    model's alphabet is the one the run's checkpoint recorded, and the ``init_from`` file
    is not read: a resumed run does not need it.

    Parameters
    ----------
    path : path-like
        CSV / SMI / SDF file (see :func:`molvae.data.read_molecules`).
    config : TrainConfig
        As returned by :func:`plan_run`, which settles ``max_length`` and
        ``remove_stereo`` for a run that resumes or starts from a model file.
    smiles_column : str, optional
        CSV column holding SMILES (CSV input only).
    cache_dir : path-like, optional
        Where the tokenized set is cached (see :func:`molvae.data.prepare_training_set`).
    resume_dir : path-like, optional
        The run directory of a run that resumes (``train(..., resume=True)`` with its
        ``last.ckpt``); None (the default) or a directory without a checkpoint: the
        ``init_from`` file's alphabet.
    flags : dict, optional
        As :func:`train`.

    Returns
    -------
    PreparedSet

    Raises
    ------
    molvae.data.InputError
        As :func:`molvae.data.prepare_training_set` (its ``errors`` say why each row was
        skipped when none is usable).
    molvae.checkpoint.CheckpointError
        The ``init_from`` model file is missing or unreadable (when it is read).
    """
    from molvae.data import prepare_training_set

    return prepare_training_set(
        path,
        smiles_column=smiles_column,
        remove_stereo=config.remove_stereo,
        max_length=config.max_length or None,
        n_jobs=config.n_jobs,
        cache_dir=cache_dir,
        alphabet=init_alphabet(config, resume_dir, flags=flags),
    )


def _trainer(config: TrainConfig, **kwargs) -> pl.Trainer:
    """A Trainer on the config's accelerator, devices, nodes, strategy and precision; a
    setting Lightning cannot use on this machine is a ConfigError naming it."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.accelerators import AcceleratorRegistry, CPUAccelerator
    from lightning.pytorch.strategies import StrategyRegistry

    accelerators = ["auto", "gpu", *sorted(AcceleratorRegistry.available_accelerators())]
    if config.accelerator not in accelerators:
        raise ConfigError(f"unknown accelerator {config.accelerator!r}: use {', '.join(accelerators)}")
    strategies = ["auto", *StrategyRegistry.available_strategies()]
    if config.strategy not in strategies:
        shown = [s for s in strategies if not any(x in s for x in ("find_unused", "stage", "offload", "notebook", "xla", "tpu"))]
        raise ConfigError(f"unknown strategy {config.strategy!r}: use {', '.join(shown)} (or another of Lightning's registered names)")
    precision = resolve_precision(config)
    scale = f"accelerator={config.accelerator} devices={config.devices} num_nodes={config.num_nodes} strategy={config.strategy} precision={precision}"
    try:
        trainer = pl.Trainer(
            accelerator=config.accelerator,
            devices=config.devices,
            num_nodes=config.num_nodes,
            strategy=config.strategy,
            precision=precision,
            **kwargs,
        )
    except (MisconfigurationException, ValueError, ImportError, RuntimeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"cannot train with {scale} on this machine: {reason}") from None
    if precision == "16-mixed" and isinstance(trainer.accelerator, CPUAccelerator):
        # Lightning would switch to bf16-mixed with a warning
        raise ConfigError("precision 16-mixed needs a GPU: use bf16-mixed or 32-true on the CPU")
    return trainer


def check_trainer_settings(config: TrainConfig) -> None:
    """Check, before any work, that Lightning can use the config's accelerator, devices,
    strategy and precision here (a GPU accelerator on a machine without one, an unknown
    strategy ...), that ``threads`` is no more than this machine's CPUs, and that the
    weights of a model of the config's sizes fit in this machine's memory
    (:func:`_check_model_size`, for an alphabet of :data:`_PROBE_VOCAB` tokens:
    :func:`train` checks again with the real one).

    Parameters
    ----------
    config : TrainConfig

    Raises
    ------
    ConfigError
        Naming the setting (and, for the sizes, the bytes the weights need).
    """
    _check_threads(config)
    _check_model_size(config)
    _processes(config)


#: Token count assumed by :func:`check_trainer_settings` before the data (and so the
#: alphabet) is read; it changes only the embedding and output layers.
_PROBE_VOCAB = 100


def weight_count(config: TrainConfig, vocab_size: int) -> int:
    """The number of weights of the :class:`molvae.model.SequenceVAE` a run of ``config``
    trains, computed from the sizes alone (nothing is built or allocated).

    Parameters
    ----------
    config : TrainConfig
    vocab_size : int
        Tokens of the alphabet, special tokens included.

    Returns
    -------
    int
        Exactly ``sum(p.numel() for p in SequenceVAE(...).parameters())``, as a Python
        integer (no overflow, whatever the sizes).
    """

    def gru(inputs: int, hidden: int, layers: int, directions: int) -> int:
        # per layer and direction: weight_ih (3H x in), weight_hh (3H x H), two biases (3H)
        first = 3 * hidden * (inputs + hidden) + 6 * hidden
        later = 3 * hidden * (directions * hidden + hidden) + 6 * hidden
        return directions * (first + (layers - 1) * later)

    c, v = config, int(vocab_size)
    n = v * c.d_emb  # embedding
    n += gru(c.d_emb, c.enc_hidden, c.enc_layers, 2)
    n += 2 * (2 * c.enc_hidden * c.d_z + c.d_z)  # to_mu, to_logvar
    n += (c.d_z + 1) * c.dec_hidden * c.dec_layers  # z_to_hidden
    n += gru(c.d_emb + c.d_z, c.dec_hidden, c.dec_layers, 1)
    n += (c.dec_hidden + 1) * v  # to_logits
    k = len(c.property_names)
    if k:
        n += (c.d_z + 1) * c.property_hidden + (c.property_hidden + 1) * k if c.property_hidden else (c.d_z + 1) * k
    return n


def _check_model_size(config: TrainConfig, vocab_size: int = _PROBE_VOCAB) -> None:
    """Refuse an architecture whose weights cannot exist on this machine, before any work.

    Sizes such as ``d_emb = 3e9`` (37 TB of float32 weights) failed to allocate, and
    ``d_z = 1e30`` overflowed torch's 64-bit sizes, each in a traceback from deep inside
    torch after the data preparation. The weights are counted from the sizes
    (:func:`weight_count`; nothing is built, so this is instant whatever the sizes), and
    refused when their float32 bytes exceed this machine's physical memory (not checked
    where the system does not report it).

    Parameters
    ----------
    config : TrainConfig
    vocab_size : int
        The alphabet's, when known (:data:`_PROBE_VOCAB` otherwise).

    Raises
    ------
    ConfigError
        Naming the model sizes, the weights and bytes they need and the bytes of memory
        this machine has.
    """
    need = 4 * weight_count(config, vocab_size)  # float32 weights alone
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not reported here: no check
        return
    if need > memory:
        sizes = ", ".join(f"{k} {getattr(config, k)}" for k in ("d_emb", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers", "d_z", "property_hidden"))
        raise ConfigError(f"a model with {sizes} has {need // 4:,} weights, {need / 1e9:,.1f} GB in float32, more than this machine's memory ({memory / 1e9:,.1f} GB): choose smaller sizes")


def _check_threads(config: TrainConfig) -> None:
    """Refuse more torch threads than this machine has CPUs: they never help, and a
    very large number ends in a thread-start error in Lightning's progress bar."""
    cpus = os.cpu_count() or 1
    if config.threads > cpus:
        raise ConfigError(f"threads must be at most {cpus}, the CPUs of this machine, got {config.threads} (0: torch's default)")


def _processes(config: TrainConfig) -> int:
    """How many processes a run of ``config`` trains in (devices x nodes), from a Trainer
    that is not started; ConfigError as :func:`check_trainer_settings`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe = _trainer(config, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    return int(probe.num_nodes) * int(probe.num_devices)


def train(
    data: PreparedSet,
    out: str | os.PathLike,
    config: TrainConfig,
    *,
    run_dir: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    extra_metadata: dict | None = None,
    flags: dict | None = None,
) -> Path:
    """Train (or resume training) a VAE on a prepared set and write the model file.

    Parameters
    ----------
    data : PreparedSet
        From :func:`molvae.data.prepare_training_set`.
    out : path-like
        The model file (plain-dict checkpoint), rewritten every ``checkpoint_every`` steps.
    config : TrainConfig
    run_dir : path-like, optional
        Lightning checkpoints and the training log, ``logs/version_N/metrics.csv`` (one
        per run segment; a resumed run removes the earlier files' rows of the steps it
        trains again); default ``<out>.run/``.
    resume : bool
        Continue from ``run_dir/last.ckpt`` when it exists (step, optimizer, data position).
        A run that starts at step 0 moves an earlier run's checkpoints and logs in
        ``run_dir`` to ``run_dir/previous-<time>/``.
    progress : bool
        Show a progress bar.
    extra_metadata : dict, optional
        Stored in the model file's ``training`` section.
    flags : dict, optional
        How the caller names its settings in errors and warnings (see
        :func:`molvae.checks.flag`): ``molvae train`` passes
        :data:`molvae.config.CLI_FLAGS`, so they name its flags (``--restart``,
        ``--run-dir``, ``--max-steps``); None (the default) names the Python arguments and
        config keys (``resume=False``, ``run_dir``, ``max_steps``).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    molvae.errors.ConfigError
        A setting this machine cannot run, or a run dir that cannot be resumed with this
        configuration and data (the message names the difference).
    KeyboardInterrupt
        Ctrl-C: the run dir's ``last.ckpt`` and the model file were written first, so the
        same call resumes. (Lightning ends an interrupted ``fit`` with ``sys.exit(1)`` and
        ignores later Ctrl-C; this function raises ``KeyboardInterrupt`` instead and puts
        the caller's SIGINT handler back.)
    molvae.errors.TrainingTerminated
        SIGTERM (``kill``, a scheduler's time limit): as for Ctrl-C, the step reached is
        saved first. (Lightning ends ``fit`` with a ``SystemExit`` without an exit code.)
    """
    from lightning.pytorch.loggers import CSVLogger

    out = Path(out)
    run_dir = check_paths(out, run_dir, flags=flags)
    _check_threads(config)
    _check_model_size(config, len(data.alphabet))
    world_size = _processes(config)  # checks the trainer settings
    if config.precision == "auto":
        config = dataclasses.replace(config, precision=resolve_precision(config))
        log.info("precision auto: %s on this machine", config.precision)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    if config.threads:
        torch.set_num_threads(config.threads)

    n = len(data.tokens)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(n)
    n_val = min(config.val_size, n // 10) if n > 1 else 0
    val_ix, train_ix = order[:n_val], order[n_val:]
    train_tokens = [data.tokens[i] for i in train_ix]
    val_tokens = [data.tokens[i] for i in val_ix]
    log.info("%d training / %d validation molecules, alphabet of %d tokens", len(train_tokens), len(val_tokens), len(data.alphabet))
    # each process's batches an epoch: the validation and logging intervals fit in one
    # (Lightning refuses a longer validation interval, and warns of a longer logging one)
    per_rank = len(LengthBucketBatches(train_tokens, config.batch_size, world_size=world_size))
    if per_rank == 0:  # each process would train on nothing, and the model file would not be written
        batches = len(LengthBucketBatches(train_tokens, config.batch_size))
        raise ConfigError(
            f"{len(train_tokens)} training molecule{'s make' if len(train_tokens) != 1 else ' makes'} {batches} batch{'es' if batches != 1 else ''} "
            f"(molecules of one length per batch), fewer than the {world_size} processes training together, so no process has a batch: "
            "train with fewer devices, or on more molecules"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create run directory {run_dir} ({exc.strerror or exc})") from None

    last = run_dir / "last.ckpt"
    resuming = resume and last.is_file()
    digest = _tokens_digest(data.tokens)
    saved_shapes: dict = {}
    finished = False  # a resumed run already at max_steps: Lightning trains nothing and calls no end hook
    if resuming:
        saved = _run_summary(last, keep=False, flags=flags)  # read by plan_run already, when it was called
        saved_shapes = {k: v for k, v in saved["state_dict"].items() if v is not None}
        diffs = _config_differences(saved, config, last, flags) + _data_differences(saved, data, n, last, digest, flags)
        done = int(saved.get("global_step", 0))
        del saved
        finished = not diffs and config.max_steps != -1 and done >= config.max_steps
        if finished:
            log.warning("the run in %s is already at step %d (max_steps %d): nothing to train; raise %s to train on", run_dir, done, config.max_steps, flag("max_steps", flags))
        if diffs:
            raise ConfigError(f"cannot resume {last}: {'; '.join(diffs)}; {_start_over(flags)}")
    init = None
    if config.init_from and not resuming:  # checked before the (long) label computation
        from molvae.checkpoint import load_checkpoint

        init = load_checkpoint(config.init_from)
    train_labels = val_labels = None
    stats: dict = {}
    if config.property_names:
        train_labels, val_labels, stats = _standardized_labels(data, config, train_ix, val_ix)
    module = VAEModule(config, data.alphabet, train_tokens, val_tokens, train_labels, val_labels, stats)
    module.data_source = {"file": data.source.get("file"), "sha256": data.source.get("sha256"), "molecules": n, "tokens_sha256": digest}
    if saved_shapes:  # what the recorded settings did not explain (checkpoints of older versions)
        ours = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        bad = sorted(k for k in ours.keys() | saved_shapes.keys() if ours.get(k) != saved_shapes.get(k))
        if bad:
            shown = ", ".join(f"{k} {list(saved_shapes[k]) if k in saved_shapes else 'absent'} then, {list(ours[k]) if k in ours else 'absent'} now" for k in bad[:3])
            raise ConfigError(f"cannot resume {last}: the model's shape differs ({shown}{' ...' if len(bad) > 3 else ''}); {_start_over(flags)}")
    # enable_version_counter=False: always (over)write last.ckpt, even when a resumed run
    # changed checkpoint_every (Lightning would otherwise write last-v1.ckpt beside it)
    ckpt_cb = _RunCheckpoint(
        dirpath=run_dir,
        filename="{step}",
        every_n_train_steps=config.checkpoint_every,
        save_last=True,
        save_top_k=1,
        monitor=None,
        enable_version_counter=False,
    )
    extra = {"command": " ".join(sys.argv), **(extra_metadata or {})}
    export_cb = _ExportCallback(out, {**data.source, "molecules": n, "train_molecules": len(train_tokens), "val_molecules": len(val_tokens), "skipped_rows": len(data.errors)}, data.hashes, config.checkpoint_every, run_dir, extra, restarted=not resume, flags=flags)
    callbacks = [ckpt_cb, export_cb]
    if progress:
        from lightning.pytorch.callbacks import RichProgressBar

        callbacks.append(RichProgressBar())
    trainer = _trainer(
        config,
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        gradient_clip_val=config.grad_clip or None,
        val_check_interval=min(config.val_every, per_rank) if n_val else None,
        check_val_every_n_epoch=1 if n_val else None,
        limit_val_batches=1.0 if n_val else 0,
        num_sanity_val_steps=0,
        logger=CSVLogger(run_dir, name="logs"),  # logs/version_N/metrics.csv: one per (resumed) segment
        log_every_n_steps=min(10, per_rank),
        callbacks=callbacks,
        enable_progress_bar=progress,
        enable_model_summary=False,
        default_root_dir=run_dir,
        use_distributed_sampler=False,
    )
    if process_rank() == 0:  # the other processes of a DDP run start later, beside this one's files
        if resuming:
            _drop_rows_from_step(run_dir / "logs", done)
        else:
            _move_earlier_run_aside(run_dir)
    ckpt_path = str(last) if resuming else None
    if ckpt_path:
        log.info("resuming from %s", last)
    elif init is not None:
        _initialize_from(module, init, data.alphabet, name=Path(config.init_from).name)
    sigint = signal.getsignal(signal.SIGINT)
    try:
        with warnings.catch_warnings():
            # a resumed run with another checkpoint_every: the callbacks are this run's on
            # purpose, and Lightning's advice to add the old ones would mislead
            warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`, callbacks")
            trainer.fit(module, ckpt_path=ckpt_path)
        if resuming and not module.batches_trained and not finished:  # max_epochs reached (finished: max_steps, the warning above)
            # (Lightning calls the end hooks or not, depending on where its checkpoint was written)
            log.warning("the run in %s has already trained its %d epoch%s (step %d): nothing to train; raise %s to train on", run_dir, config.epochs, "" if config.epochs == 1 else "s", int(trainer.global_step), flag("epochs", flags))
        if not export_cb.ended:  # Lightning trained nothing and called no end hook
            if not finished:
                # the data loader's position was not restored; Lightning's epoch count is right here
                module.train_loader = None
            later = _model_file_steps(out)
            if later is not None and later > int(trainer.global_step):
                # last.ckpt is written every checkpoint_every steps (and at validations): a run
                # that ended between two has a model file ahead of it, which is kept
                log.warning("%s holds step %d, later than the run's checkpoint (step %d): left as it is", out, later, int(trainer.global_step))
            else:
                export_cb._export(trainer, module)
    except SystemExit:
        if export_cb.interrupted:
            raise KeyboardInterrupt from None
        if export_cb.terminated:
            raise TrainingTerminated(f"terminated at step {int(trainer.global_step)}") from None
        raise
    finally:
        if sigint is not None and signal.getsignal(signal.SIGINT) != sigint and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, sigint)
    return out
