"""Training throughput (molecules/s) of a model's architecture on real MOSES batches.

Times forward + backward + Adam steps on length-bucketed batches, under bf16 autocast and
in fp32, after a few warm-up steps. Lightning's own per-step overhead is not included.

    python benchmarks/training.py --steps 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import numpy as np

from molvae.data import LengthBucketBatches, read_molecules
from molvae.model import SequenceVAE, VAEConfig
from molvae.training import elbo_terms
from _args import ROOT, existing_file, load_model, positive  # benchmarks/_args.py



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--data", type=existing_file, default=str(ROOT / "tests" / "data" / "moses_train_3k.csv"), help="molecules: CSV with a smiles column (any case), SMI or SDF")
    p.add_argument("--batch-size", type=positive, default=256)
    p.add_argument("--steps", type=positive, default=30)
    args = p.parse_args(argv)
    vae = load_model(p, args.model)
    tokens = []
    for _, smi in read_molecules(args.data)[0]:
        try:
            tokens.append(np.asarray(vae.tokenize(smi)[1], dtype=np.int64))
        except ValueError:
            pass
    out = {"model": str(vae.path), "batch_size": args.batch_size, "threads": torch.get_num_threads()}
    for label, bf16 in (("bf16", True), ("fp32", False)):
        model = SequenceVAE(VAEConfig(**vae.checkpoint["hparams"]))
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        batches = iter(LengthBucketBatches(tokens, args.batch_size, seed=0))
        n = 0
        t0 = None
        for step in range(args.steps + 3):
            try:
                x = next(batches)
            except StopIteration:
                batches = iter(LengthBucketBatches(tokens, args.batch_size, seed=step))
                x = next(batches)
            if step == 3:
                t0, n = time.perf_counter(), 0
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, mu, logvar = model(x)[:3]  # a model with a property head also returns its predictions
            targets = torch.cat([x, torch.full_like(x[:, :1], 2)], 1)
            recon, kl = elbo_terms(logits, targets, mu, logvar)
            loss = recon + 0.1 * kl.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += x.shape[0]
        out[f"{label}_molecules_per_s"] = round(n / (time.perf_counter() - t0), 1)
    out["bf16_speedup"] = round(out["bf16_molecules_per_s"] / out["fp32_molecules_per_s"], 2)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
