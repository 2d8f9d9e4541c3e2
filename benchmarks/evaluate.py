"""Time ``molvae.moses.evaluate`` (the ``molvae evaluate`` command) on N samples.

    python benchmarks/evaluate.py                         # 30,000 molecules drawn from MOSES test
    python benchmarks/evaluate.py --samples gen.csv -n 30000 --n-jobs 2
    python benchmarks/evaluate.py --cold                  # include the one-off reference fingerprinting

Prints one JSON object: the number of samples, workers, seconds in total and per stage, and
the metrics. By default the samples are a random subset of MOSES test (seed 0; ``--test``
names another file to draw from), evaluated against MOSES test; with ``--samples`` the
first N rows of that file are used. The reference fingerprints are computed once per machine
and cached (``~/.cache/molvae/moses``); ``--cold`` uses an empty temporary cache so that
this one-off cost is included.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from _args import MOSES_TEST, existing_file, positive, seed  # benchmarks/_args.py



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=existing_file, help="CSV/SMI of generated molecules (default: N drawn from --test)")
    p.add_argument("--test", type=existing_file, default=MOSES_TEST, help="molecules the samples are drawn from without --samples (default: MOSES test)")
    p.add_argument("-n", type=positive, default=30_000, help="number of samples")
    p.add_argument("--reference", default="test")
    p.add_argument("--train", type=existing_file, help="training set for novelty")
    p.add_argument("--n-jobs", type=positive, default=1)
    p.add_argument("--threads", type=positive, help="torch threads outside evaluate (default: n-jobs)")
    p.add_argument("--cold", action="store_true", help="start from an empty cache")
    p.add_argument("--seed", type=seed, default=0)
    args = p.parse_args(argv)
    if args.samples is None:  # the default --test is needed only without --samples
        try:
            existing_file(args.test)
        except argparse.ArgumentTypeError as exc:
            p.error(f"argument --test: {exc}")

    import numpy as np
    import torch

    torch.set_num_threads(args.threads or args.n_jobs)
    from molvae.data import read_molecules
    from molvae.moses import evaluate, read_samples

    if args.samples is None:
        test = np.array([s for _, s in read_molecules(args.test)[0]], dtype=object)
        idx = np.random.default_rng(args.seed).choice(len(test), args.n, replace=False)
        smiles = test[idx].tolist()
        source = f"{'MOSES test' if args.test == MOSES_TEST else args.test}, {args.n} drawn with seed {args.seed}"
    else:
        smiles = read_samples(args.samples)[: args.n]
        source = str(args.samples)

    with tempfile.TemporaryDirectory() as tmp:
        cache = tmp if args.cold else None
        timings: dict = {}
        t0 = time.perf_counter()
        metrics = evaluate(smiles, reference=args.reference, train=args.train, n_jobs=args.n_jobs, cache_dir=cache, timings=timings)
        seconds = time.perf_counter() - t0
    out = {
        "samples": source,
        "n": len(smiles),
        "reference": args.reference,
        "n_jobs": args.n_jobs,
        "cpus": os.cpu_count(),
        "cold_cache": args.cold,
        "seconds": round(seconds, 1),
        "stage_seconds": {k: round(v, 1) for k, v in timings.items()},
        "metrics": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in metrics.items()},
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
