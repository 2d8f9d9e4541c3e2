"""Reconstruction accuracy on MOSES test molecules (greedy decoding of the posterior mean).

    python benchmarks/reconstruction.py -n 1000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from molvae.data import read_molecules
from molvae.metrics import reconstruction_accuracy
from molvae.model import decode_dtype
from _args import MOSES_TEST, existing_file, load_model, positive, seed  # benchmarks/_args.py



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("-n", type=positive, default=1000)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--test", type=existing_file, default=str(MOSES_TEST), help="molecules to reconstruct: CSV with a smiles column (any case), SMI or SDF")
    args = p.parse_args(argv)
    vae = load_model(p, args.model)
    smiles = pd.Series([s for _, s in read_molecules(args.test)[0]]).sample(args.n, random_state=args.seed).tolist()
    t0 = time.perf_counter()
    acc, table, errors = reconstruction_accuracy(vae, smiles)
    print(json.dumps({
        "model": str(vae.path),
        "decode_precision": str(decode_dtype()).removeprefix("torch."),
        "steps": vae.checkpoint.get("training", {}).get("steps"),
        "molecules": args.n,
        "encoded": len(table),
        "not_encodable": len(errors),
        "reconstruction_accuracy": round(acc, 4),
        "seconds": round(time.perf_counter() - t0, 1),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
