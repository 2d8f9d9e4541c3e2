"""Probe: fine-tune a model with a linear Morgan-fingerprint head on z (issue 3's paths).

Issue 3 asks that Tanimoto to the start fall along a spherical interpolation path. This
probe tests one recipe for a latent space where it might: joint training with a head that
predicts each molecule's Morgan fingerprint (radius 2, 2,048 bits, as
:func:`molvae.chem.morgan_fingerprint`) from the sampled ``z`` by one linear layer, so
that ``z`` carries the fingerprint linearly and a path between two points passes through
points whose predicted fingerprints blend the two ends'.
The same idea as the property head of joint training (Gómez-Bombarelli et al. 2018), with
fingerprint bits as the targets.

The loss of each batch (``--batch-size`` molecules of neighbouring lengths, the batches in
random order) is

    recon + beta * sum_d max(KL_d, free_bits) + weight * BCE(head(z), fingerprint)

with ``recon`` and ``KL_d`` as in :func:`molvae.training.elbo_terms` (nats per molecule)
and the binary cross-entropy summed over the bits (nats per molecule). The aggregate
discriminator and the property head of the default model's training are left out: the
property head is kept as it is, untrained.

It is a probe, not a way to train molvae models: plain PyTorch on one process, the
molecules read into memory, no checkpoints to resume from. The model file it writes is the
input model's with the fine-tuned weights; its latent density (fitted to the old weights)
is dropped and its ``training`` record gains a ``probe`` entry with this run's settings.

    python benchmarks/fingerprint_head_probe.py -o fp.pt --weight 0.1 --steps 2000 --molecules 200000

Prints one JSON object: the settings, the mean loss terms over the first and the last 100
steps, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from molvae.alphabet import SequenceTooLongError, UnknownTokenError
from molvae.chem import InvalidMoleculeError, morgan_fingerprint, quiet_rdkit
from molvae.data import read_molecules
from molvae.model import SequenceVAE
from molvae.training import elbo_terms
from _args import MOSES_TRAIN, at_least, existing_file, load_model, positive, seed  # benchmarks/_args.py

non_negative_number = at_least(0, float)


def _prepare(vae, path: Path, n: int, bits: int) -> tuple[list[np.ndarray], np.ndarray, int, int]:
    """Token ids and packed fingerprints of those of the first ``n`` molecules of ``path``
    that the model can encode; also the count of those it cannot, and of the file's
    unreadable rows."""
    rows, errors = read_molecules(path)
    tokens, fps, skipped = [], [], 0
    with quiet_rdkit():
        for _, smiles in rows[:n]:
            try:
                canonical, ids = vae.tokenize(smiles)
            except (InvalidMoleculeError, UnknownTokenError, SequenceTooLongError):
                skipped += 1
                continue
            on = np.zeros(bits, dtype=bool)
            on[list(morgan_fingerprint(canonical).GetOnBits())] = True
            tokens.append(np.asarray(ids, dtype=np.int64))
            fps.append(np.packbits(on))
    return tokens, np.stack(fps) if fps else np.zeros((0, bits // 8), np.uint8), skipped, len(errors)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="model to start from (default: the shipped one)")
    p.add_argument("--train", type=existing_file, default=str(MOSES_TRAIN), help="training molecules: CSV with a smiles column (any case), SMI or SDF")
    p.add_argument("-o", "--out", type=Path, required=True, help="model file to write")
    p.add_argument("--weight", type=non_negative_number, default=0.1, help="weight of the fingerprint BCE (0: fine-tuning alone, the control)")
    p.add_argument("--steps", type=positive, default=2000)
    p.add_argument("--molecules", type=positive, default=200_000, help="first N molecules of --train")
    p.add_argument("--batch-size", type=positive, default=256)
    p.add_argument("--lr", type=non_negative_number, default=1e-4, help="Adam learning rate of the model")
    p.add_argument("--head-lr", type=non_negative_number, default=1e-3, help="Adam learning rate of the fingerprint head")
    p.add_argument("--beta", type=non_negative_number, default=0.6)
    p.add_argument("--free-bits", type=non_negative_number, default=0.05, help="nats per latent dimension")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--threads", type=positive, default=2, help="torch threads")
    args = p.parse_args(argv)
    if args.out.is_dir():
        p.error(f"--out: {args.out} is a folder")
    vae = load_model(p, args.model)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    bits = 2048  # molvae.chem.morgan_fingerprint's
    t0 = time.perf_counter()
    tokens, fps, skipped, unreadable = _prepare(vae, args.train, args.molecules, bits)
    if not tokens:
        p.error(f"--train: none of the first {args.molecules} molecules of {args.train} can be encoded by the model")
    prepared_s = time.perf_counter() - t0

    model = vae.model.train()
    head = torch.nn.Linear(model.config.d_z, bits)
    opt = torch.optim.Adam([{"params": model.parameters(), "lr": args.lr}, {"params": head.parameters(), "lr": args.head_lr}])
    lengths = np.array([len(t) for t in tokens])
    order = np.argsort(lengths, kind="stable")
    batches = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]
    terms: list[tuple[float, float, float]] = []
    t0 = time.perf_counter()
    while len(terms) < args.steps:
        for b in rng.permutation(len(batches)):
            if len(terms) >= args.steps:
                break
            ix = batches[b]
            batch = torch.zeros((len(ix), int(lengths[ix].max())), dtype=torch.long)
            for r, i in enumerate(ix):
                batch[r, : lengths[i]] = torch.from_numpy(tokens[i])
            target = torch.from_numpy(np.unpackbits(fps[ix], axis=1)[:, :bits]).float()
            mu, logvar = model.encode(batch, torch.from_numpy(lengths[ix]))
            z = model.reparameterize(mu, logvar)
            start = torch.full((len(ix), 1), model.START, dtype=batch.dtype)
            logits = model.decode_logits(z, torch.cat([start, batch], dim=1))
            targets = torch.cat([batch, torch.full_like(batch[:, :1], SequenceVAE.END)], dim=1)
            recon, kl_dim = elbo_terms(logits, targets, mu, logvar)
            bce = F.binary_cross_entropy_with_logits(head(z.float()), target, reduction="sum") / len(ix)
            loss = recon + args.beta * torch.clamp(kl_dim, min=args.free_bits).sum() + args.weight * bce
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            terms.append((recon.item(), kl_dim.sum().item(), bce.item()))
            if len(terms) % 100 == 0:
                print(f"step {len(terms)}: recon {np.mean([t[0] for t in terms[-100:]]):.2f}", file=sys.stderr, flush=True)
    seconds = time.perf_counter() - t0

    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    ckpt = torch.load(vae.path, map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ckpt.pop("latent_density", None)
    ckpt["training"] = {**ckpt.get("training", {}), "probe": {"script": "benchmarks/fingerprint_head_probe.py", **settings}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, args.out)

    def mean(rows):
        return {name: round(float(np.mean([r[i] for r in rows])), 3) for i, name in enumerate(("recon_nats", "kl_nats", "fingerprint_bce_nats"))}

    print(json.dumps({
        "model": str(vae.path),
        "out": str(args.out),
        **{k: v for k, v in settings.items() if k not in ("model", "out")},
        "molecules_used": len(tokens),
        "not_encodable": skipped,
        "unreadable_rows_in_file": unreadable,
        "first_100_steps": mean(terms[:100]),
        "last_100_steps": mean(terms[-100:]),
        "prepare_seconds": round(prepared_s, 1),
        "train_seconds": round(seconds, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
