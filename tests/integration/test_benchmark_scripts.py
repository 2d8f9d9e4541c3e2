"""The generation and generate-stages benchmarks run end to end and print the figures the README quotes.

They are smoke runs on the tiny test model: the figures themselves are measured by hand
(see benchmarks/README.md), never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args) -> dict:
    r = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_generation_benchmark(model_path, tmp_path):
    out = _run("benchmarks/generation.py", "--model", model_path, "--draws", 60, "--throughput-n", 20, "--test", tmp_path / "absent.csv.gz")
    assert out["throughput"]["n"] == 20 and out["throughput"]["valid_unique_per_s"] > 0
    assert out["throughput_no_properties"]["valid_unique_per_s"] > 0
    assert out["draws"] == 60 and 0 < out["validity"] <= 1
    assert out["fcd_moses_test"] > 0 and out["peak_rss_mb"] > 0


def test_generate_stages_benchmark(model_path, tmp_path):
    out = _run("benchmarks/generate_stages.py", "--model", model_path, "-n", 40, "--repeats", 1, "--test", tmp_path / "absent.csv.gz")
    assert out["molecules"] == 40
    medians = out["ms_per_molecule_median"]
    assert set(medians) >= {"gru_sampler", "selfies_decoder", "rdkit_parse", "canonical_smiles", "rdkit_QED.properties", "molvae_qed_properties", "molvae_properties"}
    assert all(v > 0 for v in medians.values())
