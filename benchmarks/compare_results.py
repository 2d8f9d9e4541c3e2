"""Two folders of benchmark results side by side, as a Markdown table.

Reads the JSON files that ``benchmarks/default_model.sh`` writes (a file absent from a
folder shows as "not run"), e.g. the previous default model's against the shipped one's:

    python benchmarks/compare_results.py benchmarks/results/stage4 benchmarks/results --names "stage 4" "stage 5"
"""

from __future__ import annotations

import argparse
import json
import os


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="folder of the first column (e.g. benchmarks/results)")
    p.add_argument("other", help="folder of the second column")
    p.add_argument("--names", nargs=2, default=("default model", "probe"), metavar=("BASE", "OTHER"), help="column titles")
    args = p.parse_args(argv)
    A, B = args.base, args.other
    for d in (A, B):
        if not os.path.isdir(d):
            p.error(f"not a folder: {d}")
    def load(d, f):
        path = os.path.join(d, f + ".json")
        if not os.path.exists(path):
            return None  # that step was not run for this folder
        with open(path) as fh:
            return json.load(fh)  # a truncated file raises: its step did not finish
    rows = []
    def cell(d, get):
        if d is None:
            return "not run"
        text = get(d)
        if d.get("covered_drugs", 193) != 193:  # exploration's drug list before session 15 (194 drugs)
            text += " (old drug list of 194: other drugs)"
        return text
    def row(label, f, get):
        rows.append(f"| {label} | {cell(load(A, f), get)} | {cell(load(B, f), get)} | `{f}.json` |")
    r = lambda x, n=3: f"{x:.{n}f}"
    row("FCD, prior, greedy, seed 0", "generation", lambda d: r(d["fcd_moses_test"]))
    row("validity / uniqueness / novelty, seed 0", "generation", lambda d: f"{d['validity']:.4f} / {d['uniqueness']:.4f} / {d['novelty']:.4f}")
    row("IntDiv1 / mean heavy atoms", "generation", lambda d: f"{d['intdiv1']:.3f} / {d['mean_heavy_atoms']:.2f}")
    row("generate throughput with / without properties (molecules/s)", "generation", lambda d: f"{d['throughput']['valid_unique_per_s']:,.0f} / {d['throughput_no_properties']['valid_unique_per_s']:,.0f}")
    for f, l in [("generation_t08", "FCD, prior, T = 0.8"), ("generation_t1", "FCD, prior, T = 1"), ("generation_fitted_t0", "FCD, fitted, greedy"), ("generation_fitted", "FCD, fitted, T = 1")]:
        row(l, f, lambda d: r(d["fcd_moses_test"]))
    row("reconstruction, 1,000 MOSES test", "reconstruction", lambda d: r(d["reconstruction_accuracy"]))
    row("reconstruction, all MOSES test", "reconstruction_all", lambda d: r(d["reconstruction_accuracy"], 4))
    row("prior gap FCD: means / samples / prior", "prior_gap", lambda d: f"{d['posterior_means']['fcd_moses_test']} / {d['posterior_samples']['fcd_moses_test']} / {d['prior']['fcd_moses_test']}")
    for f in ["exploration", "exploration_seed1", "exploration_seed2", "exploration_seed3", "exploration_noinvert", "exploration_pool25", "exploration_guided", "exploration_guided_seed1"]:
        row(f"{f}: mean Spearman; ends reconstructed; analogue medians", f, lambda d: f"{d['mean_spearman']:.2f}; {sum(p['start_reconstructed'] + p['end_reconstructed'] for p in d['pairs'])}/{2 * len(d['pairs'])}; " + ", ".join(f"{a['drug']} {a['median_tanimoto']:.2f}" for a in d["analogs"]))
    row("exploration_pairs0: analogue medians", "exploration_pairs0", lambda d: ", ".join(f"{a['drug']} {a['median_tanimoto']:.2f}" for a in d["analogs"]))
    row("MOSES scorecard FCD / SNN / Filters", "moses_scorecard", lambda d: " / ".join(f"{d['metrics'].get(k, float('nan')):.3f}" for k in ("FCD", "SNN", "Filters")))
    row("campaign timing, 1,000 calls: seconds; best; top-10", "campaign_timing", lambda d: f"{d['seconds']:.0f}; {d['best']:.3f}; {d['top10_mean']:.3f}")
    row("QED campaign, 500 calls: best; top-10", "campaign_qed", lambda d: f"{d['best']:.3f}; {d['top10_mean']:.3f}")
    row("penalized logP campaign, 1,000 calls: best", "campaign_plogp", lambda d: f"{d['best']:.2f}")
    for f in ["campaign_constrained", "campaign_constrained_qed", "campaign_constrained_10", "campaign_constrained_10_p2000", "campaign_constrained_qed_p2000"]:
        row(f"{f}: improved; mean improvement", f, lambda d: f"{sum(x['success'] for x in d['drugs'])} of {len(d['drugs'])}; {d['mean_improvement']:.2f}")
    for o in ["qed", "logp", "penalized_logp", "sa", "similarity_celecoxib"]:
        for suf in ["", "_noprior"]:
            row(f"AUC top-10 {o}{suf}: mean ± sd (ratio)", f"campaign_auc_{o}{suf}", lambda d: f"bo {d['mean_auc']['bo']:.3f} ± {d['sd_auc']['bo']:.3f}, random {d['mean_auc']['random']:.3f} ({d['ratio']:.2f}×)")
    def pred(d):
        return ", ".join(f"{rr['target']} {rr['r2']:.3f}" for rr in d["rows"] if rr["model"] == "ridge")
    row("predictors, ridge R²", "predictors", pred)
    row("predictors on MOSES test, ridge R²", "predictors_moses_test", pred)

    print(f"| figure | {args.names[0]} | {args.names[1]} | file |\n|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
