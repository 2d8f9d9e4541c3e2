#!/usr/bin/env bash
# Every figure of the default model that the README and the model card quote, in one run,
# written to benchmarks/results/ (or $OUT). Run from a checkout after
# `python data/prepare_moses.py`, with nothing else on the machine:
#   bash benchmarks/default_model.sh [MODEL]
# Each campaign run keeps its ledgers in a temporary folder of its own (campaigns.py's default),
# so that runs in the two lanes never share a campaign.
# The timed steps (generation throughput, the 1,000-call campaign) run alone; then two
# lanes, one per core, each in order of priority (predictor cross-validation, then the
# longer similarity-constrained campaigns; the other: reconstruction, interpolation,
# sampler variants, the MOSES scorecard, the other campaigns). Over 90 minutes on 2 cores.
# The current figures (benchmarks/results/) come from one uninterrupted run, 1 h 45 min;
# stage 4's (benchmarks/results/stage4/) from two sittings with the same commands.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:+--model $1}
out=${OUT:-benchmarks/results}
mkdir -p "$out" "$out/logs"
run() { # NAME CMD...: stdout to $out/NAME.json, stderr to $out/logs/NAME.log
    local name=$1; shift
    echo "$(date +%T) $name: $*" >&2
    "$@" >"$out/$name.json" 2>"$out/logs/$name.log"
}
auc() { # OBJECTIVE [SUFFIX EXTRA-FLAGS...]
    local objective=$1 suffix=${2:-}; shift; shift || true
    run "campaign_auc_${objective//:/_}${suffix}" python benchmarks/campaigns.py auc $model --objective "$objective" --budget "${AUC_BUDGET:-300}" --seeds 0 1 2 "$@"
}

# timed, alone
run generation python benchmarks/generation.py $model --draws 10000 --throughput-n 5000
run generate_stages python benchmarks/generate_stages.py $model -n 2000 --repeats 5
run campaign_timing python benchmarks/campaigns.py timing $model --budget 1000

# then two lanes, one core each, in order of what the README leans on most
lane_a() {
    python benchmarks/predictors.py $model -n 10000 --models ridge,mlp,rf,gp --json "$out/predictors.json" >"$out/predictors.md" 2>"$out/logs/predictors.log"
    # the same predictors on MOSES test molecules, which the VAE never saw (ridge only)
    python benchmarks/predictors.py $model -n 10000 --models ridge --train data/moses/test.csv.gz --json "$out/predictors_moses_test.json" >"$out/predictors_moses_test.md" 2>"$out/logs/predictors_moses_test.log"
    run campaign_constrained_10_p2000 python benchmarks/campaigns.py constrained $model --drugs 10 --patience 2000
    # the similarity-constrained tasks at the library's default patience
    run campaign_constrained python benchmarks/campaigns.py constrained $model
    run campaign_constrained_qed python benchmarks/campaigns.py constrained $model --objective qed
    run campaign_constrained_10 python benchmarks/campaigns.py constrained $model --drugs 10
}
lane_b() {
    run reconstruction python benchmarks/reconstruction.py $model -n 1000
    run exploration python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10
    run exploration_seed1 python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --seed 1
    run exploration_seed2 python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --seed 2
    run exploration_seed3 python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --seed 3
    run exploration_noinvert python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --invert-steps 0
    run exploration_pool25 python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --pool 25
    run exploration_guided python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --guide 50
    run exploration_guided_seed1 python benchmarks/exploration.py $model --pairs 10 --analogs 5 -n 20 --steps 10 --guide 50 --seed 1
    run exploration_pairs0 python benchmarks/exploration.py $model --pairs 0 --analogs 5 -n 20
    for t in 0.8 1; do
        run "generation_t${t/./}" python benchmarks/generation.py $model --draws 10000 --throughput-n 0 --temperature "$t" --n-jobs 1
    done
    run generation_fitted_t0 python benchmarks/generation.py $model --draws 10000 --throughput-n 0 --latent fitted --temperature 0 --n-jobs 1
    run generation_fitted python benchmarks/generation.py $model --draws 10000 --throughput-n 0 --latent fitted --temperature 1 --n-jobs 1
    run prior_gap python benchmarks/prior_gap.py $model -n 10000 --n-jobs 1
    OUT=$out bash benchmarks/moses_scorecard.sh ${1:-} >"$out/logs/moses_scorecard.log" 2>&1
    run campaign_qed python benchmarks/campaigns.py qed $model --budget 500
    run campaign_plogp python benchmarks/campaigns.py plogp $model --budget 1000
    # similarity-constrained QED with more patience (2,000 proposals without an oracle call before a
    # campaign stops); penalized logP with it is lane A's 10-drug run, whose first five are these drugs
    run campaign_constrained_qed_p2000 python benchmarks/campaigns.py constrained $model --objective qed --patience 2000
    for objective in sa logp penalized_logp qed similarity:celecoxib; do auc "$objective"; done
    # the bo sampler without the model prior (flat GP prior mean, unscreened design)
    for objective in sa logp penalized_logp qed similarity:celecoxib; do auc "$objective" _noprior --no-model-prior; done
}
lane_a &
lane_b "${1:-}"
wait
echo "$(date +%T) done: $out" >&2
