#!/usr/bin/env bash
# The default model's MOSES scorecard (README "Results"): 30,000 prior draws, every draw kept,
# evaluated against MOSES test with the MOSES training set for novelty.
#   bash benchmarks/moses_scorecard.sh [MODEL]      (after python data/prepare_moses.py)
# DRAWS, REFERENCE and TRAIN (default 30000, test, data/moses/train.csv.gz) change the
# number of draws, the reference set and the training set, for a smoke run of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:+--model $1}
out=${OUT:-benchmarks/results}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
draws=$tmp/draws.csv
molvae generate -n "${DRAWS:-30000}" --all-draws --seed 0 $model -o "$draws"
/usr/bin/time -f "evaluate: %e s, %M KB peak" molvae evaluate "$draws" --reference "${REFERENCE:-test}" --train "${TRAIN:-data/moses/train.csv.gz}" --compare -o "$out/moses_scorecard.json"
