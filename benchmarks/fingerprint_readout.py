"""How much of the Morgan fingerprint a linear map can read from a model's posterior means.

Fits one linear layer from the posterior means (greedy encoding, ``MolVAE.encode``) of the
first ``--fit`` molecules of ``--train`` to their Morgan fingerprints (radius 2, 2,048 bits,
as :func:`molvae.chem.morgan_fingerprint`) by full-batch Adam on the binary cross-entropy,
and scores it on the next ``--held-out`` molecules. The base rate is the cross-entropy of
predicting each bit by its frequency in the fitted molecules. All figures are nats per
molecule (summed over the bits). Used by issue 3's fingerprint-head probe
(``fingerprint_head_probe.py``) to check that its term shaped the latent means.

    python benchmarks/fingerprint_readout.py --model fp.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from molvae.chem import morgan_fingerprint
from molvae.data import read_molecules
from _args import MOSES_TRAIN, at_least, existing_file, load_model, positive, seed  # benchmarks/_args.py


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="model to read (default: the shipped one)")
    p.add_argument("--train", type=existing_file, default=str(MOSES_TRAIN), help="molecules: CSV with a smiles column (any case), SMI or SDF")
    p.add_argument("--fit", type=positive, default=16_000, help="molecules the linear map is fitted on")
    p.add_argument("--held-out", type=positive, default=4_000, help="the next molecules, which it is scored on")
    p.add_argument("--steps", type=positive, default=600, help="full-batch Adam steps")
    p.add_argument("--lr", type=at_least(0, float), default=0.01)
    p.add_argument("--seed", type=seed, default=0)
    args = p.parse_args(argv)
    vae = load_model(p, args.model)
    t0 = time.perf_counter()
    rows, _ = read_molecules(args.train)
    smiles = [s for _, s in rows[: args.fit + args.held_out]]
    mu, _ = vae.try_encode(smiles)  # NaN rows: not encodable
    fps = [morgan_fingerprint(s) for s in smiles]
    ok = np.array([fp is not None for fp in fps]) & np.isfinite(mu).all(axis=1)
    bits = np.zeros((len(smiles), 2048), dtype=np.float32)
    for i, fp in enumerate(fps):
        if fp is not None:
            bits[i, list(fp.GetOnBits())] = 1
    fit = np.flatnonzero(ok[: args.fit])
    held = args.fit + np.flatnonzero(ok[args.fit :])
    if len(fit) == 0 or len(held) == 0:
        p.error(f"--train: too few molecules of {args.train} could be encoded and fingerprinted")
    x, y = torch.from_numpy(np.asarray(mu, dtype=np.float32)), torch.from_numpy(bits)
    torch.manual_seed(args.seed)
    head = torch.nn.Linear(x.shape[1], y.shape[1])
    opt = torch.optim.Adam(head.parameters(), lr=args.lr)
    for _ in range(args.steps):
        loss = F.binary_cross_entropy_with_logits(head(x[fit]), y[fit], reduction="sum") / len(fit)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        fitted = F.binary_cross_entropy_with_logits(head(x[fit]), y[fit], reduction="sum").item() / len(fit)
        held_out = F.binary_cross_entropy_with_logits(head(x[held]), y[held], reduction="sum").item() / len(held)
        rate = y[fit].mean(0).clamp(1e-6, 1 - 1e-6)
        base = -(y[held] * rate.log() + (1 - y[held]) * (1 - rate).log()).sum(1).mean().item()
    print(json.dumps({
        "model": str(vae.path),
        "train": str(args.train),
        "fitted_molecules": len(fit),
        "held_out_molecules": len(held),
        "steps": args.steps,
        "lr": args.lr,
        "seed": args.seed,
        "fitted_bce_nats": round(fitted, 1),
        "held_out_bce_nats": round(held_out, 1),
        "base_rate_bce_nats": round(base, 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
