"""Latent property predictors: k-fold CV of the four model types on logP, QED and SA of MOSES training molecules.

    python benchmarks/predictors.py --model /tmp/default.pt -n 10000      # the README figures
    python benchmarks/predictors.py -n 1000 --models ridge,gp             # a quick look

Encodes N random MOSES *training* molecules (posterior means of the VAE), computes their
RDKit logP (Crippen), QED and SA score, and runs ``molvae.predictors.cross_validate``
(same shuffled folds for every model) for each model type. Prints a Markdown table (R²
with its fold-to-fold sd, MAE, RMSE, Spearman ρ, MAE relative to predicting the mean,
fitting seconds summed over the folds) and, with ``--json``, writes the rows.

Single-threaded on purpose (torch threads 1, ``n_jobs=1`` everywhere): the figures are
for one core. The Gaussian process is fitted on a random ``--max-train`` rows (default
2000) of each training fold: exact GPs cost O(n³).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from molvae.data import read_molecules  # noqa: E402
from molvae.predictors import MODEL_TYPES, cross_validate, file_sha256, rdkit_labels  # noqa: E402
from _args import MOSES_TRAIN, at_least, existing_file, load_model, positive, seed  # benchmarks/_args.py

TARGETS = ("logp", "qed", "sa")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="VAE model file (default: the shipped model)")
    p.add_argument("-n", type=positive, default=10_000, help="molecules")
    p.add_argument("--folds", type=at_least(2), default=5)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--models", default=",".join(MODEL_TYPES), help="comma-separated subset of gp,ridge,rf,mlp")
    p.add_argument("--max-train", type=positive, default=None, help="GP subsample per fit (default 2000)")
    p.add_argument("--train", type=existing_file, default=str(MOSES_TRAIN), help="molecules: CSV with a smiles column (any case), SMI or SDF")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    vae = load_model(p, args.model)
    smiles = pd.Series([s for _, s in read_molecules(args.train)[0]]).sample(args.n, random_state=args.seed).tolist()
    t0 = time.perf_counter()
    mu, errors = vae.try_encode(smiles)
    t_encode = time.perf_counter() - t0
    t0 = time.perf_counter()
    y = rdkit_labels(smiles, TARGETS)
    t_props = time.perf_counter() - t0
    ok = np.isfinite(mu).all(axis=1) & np.isfinite(y).all(axis=1)
    z, y = mu[ok].astype(np.float64), y[ok]
    mean_mae = np.mean(np.abs(y - y.mean(axis=0)), axis=0)

    training = vae.checkpoint.get("training", {})
    header = {
        "vae": str(vae.path),
        "vae_sha256": file_sha256(vae.path)[:12],
        "vae_steps": training.get("steps"),
        "molecules": args.n,
        "used": int(ok.sum()),
        "not_encodable": len(errors),
        "d_z": vae.d_z,
        "folds": args.folds,
        "encode_s": round(t_encode, 1),
        "rdkit_s": round(t_props, 1),
    }
    print(json.dumps(header))
    rows = []
    for model in args.models.split(","):
        t0 = time.perf_counter()
        table = cross_validate(z, y, model, args.folds, args.seed, targets=TARGETS, max_train=args.max_train)
        wall = time.perf_counter() - t0
        for j, r in table.iterrows():
            rows.append({**r.to_dict(), "mae_vs_mean": r["mae"] / mean_mae[j], "cv_wall_s": wall})
        print(f"# {model}: {wall:.0f} s", flush=True)

    df = pd.DataFrame(rows)
    print()
    print(f"{args.folds}-fold CV, {int(ok.sum())} MOSES training molecules, latent means of {vae.path.name} (d_z {vae.d_z}, step {training.get('steps')})")
    print()
    print("| model | target | R² | ± sd | MAE | RMSE | Spearman ρ | MAE / MAE(mean) | fit s (5 folds) |".replace("5 folds", f"{args.folds} folds"))
    print("|---|---|---|---|---|---|---|---|---|")
    for r in df.itertuples():
        print(f"| {r.model} | {r.target} | {r.r2:.3f} | {r.r2_sd:.3f} | {r.mae:.3f} | {r.rmse:.3f} | {r.spearman:.3f} | {r.mae_vs_mean:.2f} | {r.seconds:.0f} |")
    print()
    best = df.loc[df.groupby("target")["r2"].idxmax()].set_index("target")
    print("best per target: " + ", ".join(f"{t} {best.loc[t, 'model']} R² {best.loc[t, 'r2']:.3f}" for t in TARGETS if t in best.index))
    print("MAE of predicting the mean: " + ", ".join(f"{t} {m:.3f}" for t, m in zip(TARGETS, mean_mae)))
    if args.json:
        args.json.write_text(json.dumps({**header, "mean_mae": dict(zip(TARGETS, mean_mae.tolist())), "rows": df.to_dict(orient="records")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
