"""Generation throughput, peak memory and distribution metrics of prior samples.

    python benchmarks/generation.py --draws 10000            # metrics on 10k draws
    python benchmarks/generation.py --throughput-n 5000      # also time `generate -n 5000`
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from molvae import metrics
from molvae.data import read_molecules
from molvae.generation import available_cores, generate
from molvae.vae import DEFAULT_TEMPERATURE
from molvae.model import decode_dtype
from _args import MOSES_TEST, existing_file, load_model, non_negative, positive, seed  # benchmarks/_args.py



def peak_rss_mb() -> float:
    self_ = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (self_ + children) / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--draws", type=positive, default=10_000)
    p.add_argument("--throughput-n", type=non_negative, default=5000)
    p.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE, help="decoder temperature (default 0: greedy, as generate)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--latent", default="prior", help="prior (default) or fitted")
    p.add_argument("--n-jobs", type=positive, default=None, help="worker processes (default: the available cores)")
    p.add_argument("--test", type=existing_file, default=None, help="MOSES test (CSV with a smiles column, any case) for its mean heavy atoms (default: data/moses/test.csv.gz, skipped when absent; a file given must exist)")
    p.add_argument("--save", type=Path, help="write the draws to this CSV")
    args = p.parse_args(argv)
    if args.n_jobs is None:
        args.n_jobs = available_cores()

    vae = load_model(p, args.model)
    out: dict = {"model": str(vae.path), "decode_precision": str(decode_dtype()).removeprefix("torch."), "steps": vae.checkpoint.get("training", {}).get("steps"), "temperature": args.temperature, "latent": args.latent}
    if args.throughput_n:
        t0 = time.perf_counter()
        r = generate(vae, args.throughput_n, seed=args.seed, temperature=args.temperature, n_jobs=args.n_jobs)
        dt = time.perf_counter() - t0
        out["throughput"] = {"n": args.throughput_n, "seconds": round(dt, 2), "valid_unique_per_s": round(args.throughput_n / dt, 1)}
        t0 = time.perf_counter()
        r = generate(vae, args.throughput_n, seed=args.seed, temperature=args.temperature, n_jobs=args.n_jobs, with_properties=False)
        dt = time.perf_counter() - t0
        out["throughput_no_properties"] = {"seconds": round(dt, 2), "valid_unique_per_s": round(args.throughput_n / dt, 1)}
    r = generate(vae, args.draws, seed=args.seed, temperature=args.temperature, all_draws=True, n_jobs=args.n_jobs, with_properties=False, latent=args.latent)
    smiles = r.table["smiles"].tolist()
    if args.save:
        r.table.to_csv(args.save, index=False)
    valid = [s for s in smiles if s]
    test_path = args.test or (MOSES_TEST if MOSES_TEST.is_file() else None)  # a mistyped --test was skipped silently
    test = [s for _, s in read_molecules(test_path)[0]] if test_path is not None else None
    out["draws"] = args.draws
    out["validity"] = round(r.validity, 4)
    out["uniqueness"] = round(r.uniqueness, 4)
    out["novelty"] = round(r.novelty, 4)
    out["intdiv1"] = round(metrics.internal_diversity(sorted(set(valid))[:5000]), 4)
    out["mean_heavy_atoms"] = round(metrics.mean_heavy_atoms(valid), 2)
    if test is not None:
        out["moses_test_mean_heavy_atoms"] = round(metrics.mean_heavy_atoms(test[:20000]), 2)
    t0 = time.perf_counter()
    out["fcd_moses_test"] = round(metrics.fcd(valid, metrics.moses_reference_fcd("test"), n_jobs=args.n_jobs), 3)
    out["fcd_seconds"] = round(time.perf_counter() - t0, 1)
    out["peak_rss_mb"] = round(peak_rss_mb(), 0)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
