"""Interpolation and analogue figures on registry drugs (issue 3's acceptance measurements).

For pairs of registry drugs that the model's alphabet covers: validity at every step,
whether the ends are reconstructed, distinct intermediates, and the Spearman correlation
of Tanimoto-to-start with the step index (also with each run of steps that decode to one
molecule counted once, ``spearman_runs_collapsed``: ties at the ends raise the first). For
single drugs: how many of N requested analogues are distinct valid molecules, and their
median Tanimoto to the query.

    python benchmarks/exploration.py --pairs 10 --analogs 5 -n 20 --steps 10

The pairs and the analogue queries are one draw of ``2 * pairs + analogs`` distinct
molecules, so the pairs of a seed depend on ``--analogs`` too: ``--pairs 10 --analogs 0``
walks other pairs than ``--pairs 10 --analogs 5`` (the README's figures use the latter).

With ``--molecules FILE`` the pairs and queries are drawn from a molecule file instead
(for example MOSES test molecules, the model's own distribution, to compare with the
registry drugs, which lie outside it); each is named by its SMILES.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.stats import spearmanr

from molvae.chem import InvalidMoleculeError
from molvae.data import read_molecules
from molvae.drugs import is_covered, load_drugs
from molvae.interpolation import ANCHOR_SAMPLES, DEFAULT_RADIUS, GEODESIC_ITERATIONS, INVERT_STEPS, REFINE_STEPS, analog_pool, analogs, interpolate
from molvae.model import decode_dtype
from _args import at_least, existing_file, load_model, non_negative, positive, seed  # benchmarks/_args.py


def covered_drugs(vae):
    """The registry drugs the model covers, as `molvae drugs` and `interpolate` judge it
    (:func:`molvae.drugs.is_covered`: every token in the alphabet after salts are
    stripped, and not too long to encode)."""
    return [d for d in load_drugs() if is_covered(vae, d.smiles)]


class Molecule(NamedTuple):
    """A molecule of a ``--molecules`` file, named by its SMILES (as a registry drug by its name)."""

    name: str
    smiles: str


def covered_molecules(vae, path):
    """The distinct molecules of a file that the model covers, in file order; how many rows
    were left out (unreadable, not parsed, not covered or repeated) goes to stderr."""

    def covered(smiles):
        try:
            return is_covered(vae, smiles)
        except InvalidMoleculeError:
            return False

    rows, errors = read_molecules(path)
    kept = [s for s in dict.fromkeys(s for _, s in rows) if covered(s)]
    if len(kept) < len(rows) + len(errors):
        print(f"{path}: {len(rows) + len(errors) - len(kept)} of {len(rows) + len(errors)} rows left out (unreadable, not parsed, not covered by the model or repeated)", file=sys.stderr)
    return [Molecule(s, s) for s in kept]


def path_figures(df) -> dict:
    """Issue 3's figures of one decoded path (a DataFrame of :func:`molvae.interpolation.interpolate`).

    ``spearman_sim_start_vs_step``: Spearman correlation of Tanimoto-to-start with the step
    index (scipy; ties get average ranks). ``spearman_runs_collapsed``: the same with each
    run of neighbouring steps that decode to one molecule counted once, so that a path
    that dwells on its ends gains nothing from the ties (None with fewer than 3 runs).
    ``distinct_intermediates``: distinct valid molecules of the interior steps;
    ``distinct_intermediates_besides_ends`` leaves out the molecules of the first and last
    steps, which a path that dwells on its ends repeats. ``tanimoto_to_start``: per step,
    rounded to 3 decimals (NaN for an invalid step).
    """
    inter = df["smiles"].iloc[1:-1]
    ends = ["", df["smiles"].iloc[0], df["smiles"].iloc[-1]]
    rho = spearmanr(df["step"], df["tanimoto_to_start"]).correlation
    runs = df[df["smiles"] != df["smiles"].shift()]
    rho_runs = spearmanr(np.arange(len(runs)), runs["tanimoto_to_start"]).correlation if len(runs) > 2 else float("nan")
    return {
        "all_valid": bool((df["smiles"] != "").all()),
        "start_reconstructed": df.attrs["start_reconstructed"],
        "end_reconstructed": df.attrs["end_reconstructed"],
        "distinct_intermediates": int(inter[inter != ""].nunique()),
        "distinct_intermediates_besides_ends": int(inter[~inter.isin(ends)].nunique()),
        "spearman_sim_start_vs_step": round(float(rho), 3),
        "spearman_runs_collapsed": None if np.isnan(rho_runs) else round(float(rho_runs), 3),
        "tanimoto_to_start": [round(float(x), 3) for x in df["tanimoto_to_start"]],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--pairs", type=non_negative, default=10)
    p.add_argument("--analogs", type=non_negative, default=5)
    p.add_argument("-n", type=positive, default=20, help="analogues per drug")
    p.add_argument("--steps", type=at_least(2), default=10)
    p.add_argument("--radius", type=float, default=DEFAULT_RADIUS)
    p.add_argument("--method", choices=("slerp", "linear", "geodesic"), default="slerp")
    p.add_argument("--geodesic-iterations", type=non_negative, default=GEODESIC_ITERATIONS, help="Adam steps that bend a --method geodesic path")
    p.add_argument("--anchor-samples", type=non_negative, default=ANCHOR_SAMPLES, help="posterior samples tried per end / centre (0: posterior means)")
    p.add_argument("--invert-steps", type=non_negative, default=INVERT_STEPS, help="most gradient steps of latent inversion per end / centre (0: none)")
    p.add_argument("--path-refine-steps", type=non_negative, default=0, help="gradient steps that move each path end's anchor up the likelihood of its molecule (0, the default: none)")
    p.add_argument("--refine-steps", type=non_negative, default=REFINE_STEPS, help="gradient steps that move an analogue centre further up the likelihood of its query (0: none)")
    p.add_argument("--pool", type=positive, help="latent points drawn per requested analogue (default: the library's, max(20,000, 250 n) in all)")
    p.add_argument("--guide", type=non_negative, default=0, help="guided interpolation: latent points decoded around each interior step (0: plain path)")
    p.add_argument("--guide-radius", type=float, default=DEFAULT_RADIUS)
    p.add_argument("--molecules", type=existing_file, help="draw the pairs and queries from this molecule file (CSV with a smiles column, SMI or SDF) instead of the drug registry")
    p.add_argument("--seed", type=seed, default=0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    vae = load_model(p, args.model)
    drugs = covered_drugs(vae) if args.molecules is None else covered_molecules(vae, args.molecules)
    if len(drugs) < 2 * args.pairs + args.analogs:
        p.error(f"{len(drugs)} covered molecules, fewer than the {2 * args.pairs + args.analogs} that --pairs and --analogs need")
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(len(drugs), size=2 * args.pairs + args.analogs, replace=False)
    pairs = [(drugs[pick[2 * i]], drugs[pick[2 * i + 1]]) for i in range(args.pairs)]
    singles = [drugs[i] for i in pick[2 * args.pairs :]]
    rows = []
    for a, b in pairs:
        df = interpolate(vae, a.smiles, b.smiles, args.steps, args.method, anchor_samples=args.anchor_samples, invert_steps=args.invert_steps, seed=args.seed, guide=args.guide, guide_radius=args.guide_radius, refine_steps=args.path_refine_steps, geodesic_iterations=args.geodesic_iterations)
        rows.append({"start": a.name, "end": b.name, **path_figures(df)})
    ana = []
    pool_draws = analog_pool(args.n) if args.pool is None else args.pool * args.n  # per query
    for d in singles:
        df = analogs(vae, d.smiles, args.n, args.radius, seed=args.seed, anchor_samples=args.anchor_samples, invert_steps=args.invert_steps, refine_steps=args.refine_steps, pool=pool_draws)
        ana.append({
            "drug": d.name,
            "distinct_valid_fraction": round(len(df) / args.n, 3),
            "median_tanimoto": round(float(df["tanimoto"].median()), 3) if len(df) else None,
            "draws": df.attrs["draws"],
            "refined": df.attrs["refined"],
        })
    summary = {
        "model": str(vae.path),
        "decode_precision": str(decode_dtype()).removeprefix("torch."),
        "steps": vae.checkpoint.get("training", {}).get("steps"),  # the model's training steps, as in the other benchmarks
        "path_steps": args.steps,
        "method": args.method,
        "geodesic_iterations": args.geodesic_iterations if args.method == "geodesic" else None,
        "molecules": None if args.molecules is None else str(args.molecules),  # None: the drug registry
        "covered_drugs": len(drugs),
        "pairs": rows,
        # None with --pairs 0 (analogues only), where numpy's mean of nothing would warn and give NaN
        "mean_distinct_intermediates": float(np.mean([r["distinct_intermediates"] for r in rows])) if rows else None,
        "mean_distinct_intermediates_besides_ends": float(np.mean([r["distinct_intermediates_besides_ends"] for r in rows])) if rows else None,
        "mean_spearman": float(np.nanmean([r["spearman_sim_start_vs_step"] for r in rows])) if rows else None,
        "mean_spearman_runs_collapsed": float(np.mean(c)) if (c := [r["spearman_runs_collapsed"] for r in rows if r["spearman_runs_collapsed"] is not None]) else None,
        "all_paths_valid": all(r["all_valid"] for r in rows),
        "analogs": ana,
        "radius": args.radius,
        "path_refine_steps": args.path_refine_steps,
        "refine_steps": args.refine_steps,
        "pool": args.pool,  # per analogue; None: the library's default
        "pool_draws": pool_draws,
        "anchor_samples": args.anchor_samples,
        "invert_steps": args.invert_steps,
        "guide": args.guide,
        "guide_radius": args.guide_radius,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
