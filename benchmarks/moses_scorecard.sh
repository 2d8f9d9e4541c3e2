#!/usr/bin/env bash
# The default model's MOSES scorecard (README "Results"): 30,000 prior draws, every draw kept,
# evaluated against MOSES test with the MOSES training set for novelty.
#   bash benchmarks/moses_scorecard.sh [MODEL]      (after python data/prepare_moses.py)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:+--model $1}
out=${OUT:-benchmarks/results}
mkdir -p "$out"
draws=$(mktemp -d)/draws30k.csv
molvae generate -n 30000 --all-draws --seed 0 $model -o "$draws"
/usr/bin/time -f "evaluate: %e s, %M KB peak" molvae evaluate "$draws" --reference test --train data/moses/train.csv.gz --compare -o "$out/moses_scorecard.json"
