"""Where the FCD of prior samples comes from: decoder versus prior hole.

Greedy decodings of (a) posterior means and (b) posterior samples of training molecules,
each compared with MOSES test by FCD, next to (c) prior draws: (a) measures the decoder
alone, (b) - (a) its sensitivity to posterior noise, (c) - (b) the gap between the
aggregate posterior and the prior N(0, I) (the "prior hole"). (d) draws from the Gaussian
with the aggregate posterior's mean and covariance (Cov of the means + mean posterior
variance) test whether that gap is a mismatch of first and second moments: if so, (d)
would score like (b); ``aggregate_gaussian`` also reports its KL divergence to N(0, I).

    python benchmarks/prior_gap.py -n 10000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from molvae import metrics
from molvae.data import read_molecules
from _args import MOSES_TRAIN, at_least, existing_file, load_model, positive, seed  # benchmarks/_args.py



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("-n", type=at_least(2), default=10_000, help="training molecules (and prior draws)")
    p.add_argument("--train", type=existing_file, default=str(MOSES_TRAIN), help="training molecules: CSV with a smiles column (any case), SMI or SDF")
    p.add_argument("--seed", type=seed, default=1)
    p.add_argument("--n-jobs", type=positive, default=2)
    args = p.parse_args(argv)
    vae = load_model(p, args.model)
    smiles = pd.Series([s for _, s in read_molecules(args.train)[0]]).sample(args.n, random_state=args.seed).tolist()
    mu, logvar, errors = vae.try_encode(smiles, return_logvar=True)
    ok = ~np.isnan(mu).any(axis=1)
    mu, logvar = mu[ok], logvar[ok]
    rng = np.random.default_rng(args.seed)
    samples = (mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape)).astype(np.float32)
    prior = vae.sample_latent(args.n, seed=args.seed)
    m = mu.astype(np.float64).mean(axis=0)
    cov = np.cov(mu.astype(np.float64).T) + np.diag(np.exp(logvar.astype(np.float64)).mean(axis=0))
    gaussian = (m + rng.standard_normal(mu.shape) @ np.linalg.cholesky(cov).T).astype(np.float32)
    eig = np.linalg.eigvalsh(cov)
    ref = metrics.moses_reference_fcd("test")
    out: dict = {"model": str(vae.path), "n": args.n, "not_encoded": len(errors)}
    out["aggregate_gaussian"] = {
        "kl_to_prior_nats": round(0.5 * float(np.trace(cov) + m @ m - len(m) - np.linalg.slogdet(cov)[1]), 3),
        "covariance_eigenvalues_min_median_max": [round(float(v), 3) for v in (eig.min(), np.median(eig), eig.max())],
    }
    for name, z in (("posterior_means", mu), ("posterior_samples", samples), ("prior", prior), ("aggregate_gaussian_draws", gaussian)):
        decoded = [s for s in vae.decode(z) if s]
        out[name] = {"valid": len(decoded), "unique": round(len(set(decoded)) / max(len(decoded), 1), 4), "fcd_moses_test": round(metrics.fcd(decoded, ref, n_jobs=args.n_jobs), 3)}
    out["training_molecules_fcd_moses_test"] = round(metrics.fcd(smiles, ref, n_jobs=args.n_jobs), 3)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
