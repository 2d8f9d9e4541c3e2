"""Every script in benchmarks/ runs end to end and prints the figures the README quotes.

They are smoke runs with tiny arguments, on the tiny test model where the script takes
``--model``, and on the shipped default model where the script's code depends on what only
that model has (a property head, a fitted latent density). The figures themselves are
measured by hand (see benchmarks/README.md), never asserted here: the tests check that each
script finishes and that its fields hold values in their valid ranges. They read only the
committed samples in tests/data/, never the MOSES download (data/moses/).
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
TEST_CSV = DATA / "moses_test_1k.csv"
TRAIN_CSV = DATA / "moses_train_3k.csv"


def _completed(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """A benchmark script run to exit status 0, with its stdout and stderr."""
    r = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr[-2000:]
    return r


def _run_text(*args, env: dict | None = None) -> str:
    return _completed(*args, env=env).stdout


def _run(*args) -> dict:
    return json.loads(_run_text(*args))


def _fraction(x) -> bool:
    return isinstance(x, (int, float)) and 0 <= x <= 1


def _correlation(x) -> bool:
    """A rank correlation, or NaN where one side is constant (a tiny model's flat paths)."""
    return isinstance(x, float) and (math.isnan(x) or -1 <= x <= 1)


@pytest.fixture(scope="module")
def reference_csv(tmp_path_factory) -> Path:
    """60 MOSES test molecules as a reference set: FCD statistics and fingerprints in a second."""
    path = tmp_path_factory.mktemp("reference") / "reference60.csv"
    lines = TEST_CSV.read_text().splitlines()
    path.write_text("\n".join([lines[0], *lines[501:561]]) + "\n")
    return path


def test_generation_benchmark(model_path, tmp_path):
    out = _run("benchmarks/generation.py", "--model", model_path, "--draws", 60, "--throughput-n", 20, "--test", TEST_CSV)
    assert out["throughput"]["n"] == 20 and out["throughput"]["valid_unique_per_s"] > 0
    assert out["throughput_no_properties"]["valid_unique_per_s"] > 0
    assert out["draws"] == 60 and 0 < out["validity"] <= 1
    assert out["fcd_moses_test"] > 0 and out["peak_rss_mb"] > 0
    assert out["decode_precision"] in ("bfloat16", "float32")  # what the figures were decoded with


def test_generate_stages_benchmark(model_path, tmp_path):
    out = _run("benchmarks/generate_stages.py", "--model", model_path, "-n", 40, "--repeats", 1, "--test", TEST_CSV)
    assert out["molecules"] == 40
    medians = out["ms_per_molecule_median"]
    assert set(medians) >= {"gru_sampler", "selfies_decoder", "rdkit_parse", "canonical_smiles", "rdkit_QED.properties", "molvae_qed_properties", "molvae_properties"}
    assert all(v > 0 for v in medians.values())
    assert out["chunk"] == 250 and {"gru_sampler_chunk_125", "gru_sampler_chunk_500"} <= set(medians)
    assert out["property_tables_load_s"] > 0


def test_generation_benchmark_fitted_latent_and_committed_test_sample():
    """The default model's fitted latent density; ``--test`` the committed sample, whose column is ``smiles``."""
    out = _run("benchmarks/generation.py", "--draws", 30, "--throughput-n", 0, "--latent", "fitted", "--n-jobs", 1, "--test", TEST_CSV)
    assert out["latent"] == "fitted" and out["draws"] == 30 and "throughput" not in out
    assert all(_fraction(out[k]) for k in ("validity", "uniqueness", "novelty", "intdiv1"))
    assert out["moses_test_mean_heavy_atoms"] > 10 and out["mean_heavy_atoms"] > 0 and out["fcd_moses_test"] > 0


def test_training_benchmark(model_path):
    out = _run("benchmarks/training.py", "--model", model_path, "--steps", 1, "--batch-size", 16)
    assert out["model"] == str(model_path) and out["batch_size"] == 16 and out["threads"] >= 1
    assert out["bf16_molecules_per_s"] > 0 and out["fp32_molecules_per_s"] > 0 and out["bf16_speedup"] > 0


def test_training_benchmark_on_a_model_with_a_property_head():
    """The default model predicts properties from z: its forward pass returns 4 values, not 3."""
    from molvae.vae import MolVAE

    assert MolVAE.load(None).checkpoint["hparams"]["n_properties"] > 0
    out = _run("benchmarks/training.py", "--steps", 1, "--batch-size", 4)
    assert out["model"].endswith("default.pt") and out["batch_size"] == 4
    assert out["bf16_molecules_per_s"] > 0 and out["fp32_molecules_per_s"] > 0 and out["bf16_speedup"] > 0


def test_reconstruction_benchmark(model_path):
    out = _run("benchmarks/reconstruction.py", "--model", model_path, "-n", 20, "--test", TEST_CSV)
    assert out["molecules"] == 20 and out["steps"] == 60
    assert out["encoded"] + out["not_encodable"] == 20 and out["encoded"] > 0
    assert _fraction(out["reconstruction_accuracy"]) and out["seconds"] >= 0


def test_prior_gap_benchmark(model_path):
    out = _run("benchmarks/prior_gap.py", "--model", model_path, "-n", 40, "--train", TRAIN_CSV, "--n-jobs", 1)
    assert out["n"] == 40 and 0 <= out["not_encoded"] < 40
    gaussian = out["aggregate_gaussian"]
    assert gaussian["kl_to_prior_nats"] >= 0
    lo, median, hi = gaussian["covariance_eigenvalues_min_median_max"]
    assert 0 < lo <= median <= hi
    for name in ("posterior_means", "posterior_samples", "prior", "aggregate_gaussian_draws"):
        assert 0 < out[name]["valid"] <= 40 and 0 < out[name]["unique"] <= 1 and out[name]["fcd_moses_test"] > 0, name
    assert out["training_molecules_fcd_moses_test"] > 0


def test_predictors_benchmark(model_path, tmp_path):
    text = _run_text("benchmarks/predictors.py", "--model", model_path, "-n", 60, "--folds", 2, "--train", TRAIN_CSV, "--json", tmp_path / "rows.json")
    header = json.loads(text.splitlines()[0])
    assert header["molecules"] == 60 and 0 < header["used"] <= 60 and header["d_z"] == 8 and header["folds"] == 2
    assert "| model | target | R² |" in text and "best per target: logp" in text
    out = json.loads((tmp_path / "rows.json").read_text())
    assert set(out["mean_mae"]) == {"logp", "qed", "sa"} and all(v > 0 for v in out["mean_mae"].values())
    rows = out["rows"]
    assert {(r["model"], r["target"]) for r in rows} == {(m, t) for m in ("gp", "ridge", "rf", "mlp") for t in ("logp", "qed", "sa")}
    for r in rows:
        assert r["r2"] <= 1 and r["r2_sd"] >= 0 and 0 <= r["mae"] <= r["rmse"] and _correlation(r["spearman"]), r
        assert r["mae_vs_mean"] > 0 and r["seconds"] >= 0 and r["n"] == header["used"], r


@pytest.mark.parametrize("guide", [0, 2])
def test_exploration_benchmark(model_path, guide):
    out = _run("benchmarks/exploration.py", "--model", model_path, "--pairs", 1, "--analogs", 1, "-n", 3, "--steps", 4, "--anchor-samples", 4, "--invert-steps", 5, "--pool", 5, "--guide", guide)
    assert out["covered_drugs"] > 3 and out["guide"] == guide and out["steps"] == 60
    assert out["path_steps"] == 4 and out["method"] == "slerp" and out["geodesic_iterations"] is None  # the path's settings are recorded
    (pair,) = out["pairs"]
    sims = pair["tanimoto_to_start"]  # per step: the figures the Spearman is taken of
    assert len(sims) == 4 and all(_fraction(x) for x in sims if not math.isnan(x))
    assert (sims[0] == 1.0) == pair["start_reconstructed"]  # step 0 is the start's anchor
    assert pair["start"] != pair["end"] and 0 <= pair["distinct_intermediates_besides_ends"] <= pair["distinct_intermediates"] <= 2
    assert all(isinstance(pair[k], bool) for k in ("all_valid", "start_reconstructed", "end_reconstructed"))
    assert _correlation(pair["spearman_sim_start_vs_step"]) and _correlation(out["mean_spearman"])
    assert pair["spearman_runs_collapsed"] == out["mean_spearman_runs_collapsed"]  # one pair
    assert pair["spearman_runs_collapsed"] is None or _correlation(pair["spearman_runs_collapsed"])
    assert out["mean_distinct_intermediates_besides_ends"] == pair["distinct_intermediates_besides_ends"]
    assert out["mean_distinct_intermediates"] == pair["distinct_intermediates"] and out["all_paths_valid"] == pair["all_valid"]
    (analog,) = out["analogs"]
    assert _fraction(analog["distinct_valid_fraction"]) and analog["draws"] > 0
    assert analog["median_tanimoto"] is None or _fraction(analog["median_tanimoto"])


def test_exploration_path_figures(monkeypatch):
    """A path that dwells on its ends: the tied steps raise the plain Spearman, the runs
    count once in the collapsed one, and the ends' repeats are not new intermediates."""
    import importlib.util

    import pandas as pd

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # for its `_args`
    spec = importlib.util.spec_from_file_location("exploration", ROOT / "benchmarks" / "exploration.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    smiles = ["A", "A", "A", "B", "C", "", "E", "E"]
    sims = [1.0, 1.0, 1.0, 0.2, 0.3, float("nan"), 0.1, 0.1]
    df = pd.DataFrame({"step": range(8), "smiles": smiles, "tanimoto_to_start": sims})
    df.attrs.update(start_reconstructed=True, end_reconstructed=False)
    out = mod.path_figures(df)
    assert out["distinct_intermediates"] == 4 and out["distinct_intermediates_besides_ends"] == 2  # A, B, C, E; B, C
    assert out["all_valid"] is False and out["start_reconstructed"] is True and out["end_reconstructed"] is False
    assert out["tanimoto_to_start"][:5] == [1.0, 1.0, 1.0, 0.2, 0.3] and math.isnan(out["tanimoto_to_start"][5])
    clean = df.drop(index=5).reset_index(drop=True).assign(step=range(7))
    out = mod.path_figures(clean)
    # steps 0-6 against 1, 1, 1, .2, .3, .1, .1 (scipy: average ranks); runs A B C E against 1, .2, .3, .1
    assert out["spearman_sim_start_vs_step"] == pytest.approx(-0.917, abs=1e-3) and out["spearman_runs_collapsed"] == pytest.approx(-0.8, abs=1e-3)
    out = mod.path_figures(clean.iloc[[0, 1, 5, 6]].assign(step=range(4)))  # A A E E: two runs
    assert out["spearman_runs_collapsed"] is None and out["distinct_intermediates_besides_ends"] == 0


def test_exploration_benchmark_geodesic_records_its_iterations(model_path):
    out = _run("benchmarks/exploration.py", "--model", model_path, "--pairs", 1, "--analogs", 0, "--steps", 3, "--anchor-samples", 0, "--method", "geodesic", "--geodesic-iterations", 2)
    assert out["method"] == "geodesic" and out["geodesic_iterations"] == 2
    assert len(out["pairs"][0]["tanimoto_to_start"]) == 3


def test_fingerprint_head_probe_writes_a_loadable_fine_tuned_model(model_path, tmp_path):
    import torch

    from molvae.vae import MolVAE

    out_file = tmp_path / "fp.pt"
    out = _run("benchmarks/fingerprint_head_probe.py", "--model", model_path, "--train", TRAIN_CSV, "-o", out_file, "--steps", 3, "--molecules", 40, "--batch-size", 8, "--threads", 1)
    assert out["steps"] == 3 and out["weight"] == 0.1
    assert out["molecules_used"] + out["not_encodable"] == 40 and out["molecules_used"] > 0
    assert out["first_100_steps"]["fingerprint_bce_nats"] > 0 and out["last_100_steps"]["recon_nats"] > 0
    before, after = torch.load(model_path, weights_only=True), torch.load(out_file, weights_only=True)
    assert before["state_dict"].keys() == after["state_dict"].keys()
    assert any(not torch.equal(before["state_dict"][k], after["state_dict"][k]) for k in before["state_dict"])  # the steps moved the weights
    assert "latent_density" not in after and after["training"]["probe"]["steps"] == 3 and after["hparams"] == before["hparams"]
    assert len(MolVAE.load(out_file).decode(torch.zeros(2, before["hparams"]["d_z"]).numpy())) == 2


def test_fingerprint_readout_fits_on_some_molecules_and_scores_the_next(model_path):
    out = _run("benchmarks/fingerprint_readout.py", "--model", model_path, "--train", TRAIN_CSV, "--fit", 60, "--held-out", 20, "--steps", 200)
    assert 0 < out["fitted_molecules"] <= 60 and 0 < out["held_out_molecules"] <= 20
    # 200 full-batch steps on 60 molecules fit them far better than their bits' base rates
    assert 0 < out["fitted_bce_nats"] < out["base_rate_bce_nats"] and out["held_out_bce_nats"] > 0


def test_exploration_benchmark_without_pairs_reports_no_path_means(model_path):
    """--pairs 0 (analogues only) gives null path means, without numpy's empty-mean warning."""
    r = _completed("benchmarks/exploration.py", "--model", model_path, "--pairs", 0, "--analogs", 1, "-n", 2, "--anchor-samples", 2, "--invert-steps", 2, "--pool", 3)
    out = json.loads(r.stdout)
    assert out["pairs"] == [] and out["mean_spearman"] is None and out["mean_distinct_intermediates"] is None
    assert len(out["analogs"]) == 1 and "RuntimeWarning" not in r.stderr, r.stderr[-2000:]


def test_exploration_benchmark_draws_pairs_from_a_molecule_file(model_path, tmp_path):
    """--molecules: pairs and queries come from the file, named by their SMILES; rows that do
    not parse are left out, and too few covered molecules is a usage error."""
    smiles = ["CCO", "c1ccccc1O", "not a smiles", "CC(=O)Nc1ccc(O)cc1", "CCO"]
    path = tmp_path / "m.csv"
    path.write_text("smiles\n" + "\n".join(smiles) + "\n")
    out = _run("benchmarks/exploration.py", "--model", model_path, "--molecules", path, "--pairs", 1, "--analogs", 1, "-n", 2, "--steps", 3, "--anchor-samples", 2, "--invert-steps", 2, "--pool", 3)
    assert out["molecules"] == str(path) and out["covered_drugs"] == 3
    (pair,) = out["pairs"]
    (analog,) = out["analogs"]
    assert {pair["start"], pair["end"], analog["drug"]} == {"CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"}
    r = subprocess.run([sys.executable, "benchmarks/exploration.py", "--model", str(model_path), "--molecules", str(path), "--pairs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "3 covered molecules, fewer than the 9 that --pairs and --analogs need" in r.stderr, r.stderr
    assert "2 of 5 rows left out" in r.stderr, r.stderr  # the unparsable row and the repeat


def test_evaluate_benchmark(reference_csv):
    """Samples drawn from a file (``--test``), a reference file, a training file, an empty cache."""
    out = _run("benchmarks/evaluate.py", "--test", TEST_CSV, "-n", 40, "--reference", reference_csv, "--train", TRAIN_CSV, "--cold")
    assert out["n"] == 40 and out["samples"].endswith("40 drawn with seed 0") and out["cold_cache"] is True
    assert {"parsing samples", "ChemNet (FCD)", "training set", "reference statistics", "SNN"} <= set(out["stage_seconds"])
    m = out["metrics"]
    assert m["validity"] == 1.0 and m["unique@1k"] is None  # MOSES test molecules; fewer than 1,000
    assert all(_fraction(m[k]) for k in ("novelty", "SNN", "Frag", "Scaf", "IntDiv1", "IntDiv2", "Filters"))
    assert m["FCD"] > 0 and all(m[k] >= 0 for k in ("logP", "SA", "QED", "weight"))


def _check_campaign_row(r: dict, budget: int, *, minimize: bool = False) -> None:
    assert 0 < r["calls"] <= budget and r["trials"] >= r["calls"] and r["seconds"] >= 0, r
    assert r["best_smiles"] and r["auc_top10"] is not None, r
    assert (r["top10_mean"] >= r["best"]) if minimize else (r["top10_mean"] <= r["best"]), r


# task, model (None: the default model, whose property head is the bo sampler's prior), extra arguments
CAMPAIGNS = {
    "qed": (None, ["--budget", 10]),
    "plogp": ("tiny", ["--budget", 10]),
    "timing": ("tiny", ["--budget", 10]),
    "constrained": (None, ["--budget", 5, "--drugs", 1, "--patience", 20]),
    "auc": ("tiny", ["--budget", 5, "--seeds", 0, 1, "--objective", "sa", "--no-model-prior"]),
}


@pytest.mark.parametrize("task", sorted(CAMPAIGNS))
def test_campaigns_benchmark(task, model_path, tmp_path):
    model, extra = CAMPAIGNS[task]
    model_args = ["--model", model_path] if model == "tiny" else []
    out = _run("benchmarks/campaigns.py", task, *model_args, "--out-dir", tmp_path, *extra)
    assert out["task"] == task and out["d_z"] == (8 if model == "tiny" else 128) and out["batch_size"] == 10
    if task == "qed":
        _check_campaign_row(out, 10)
        assert _fraction(out["best"]) and isinstance(out["pass"], bool)
    elif task == "plogp":
        _check_campaign_row(out, 10)
        assert len(out["top3_raw"]) == len(out["top3_normalized"]) == len(out["top3_carbon_chains"]) > 0
        assert out["top3_raw"] == sorted(out["top3_raw"], reverse=True) and out["top3_raw"][0] == out["best"]
        for chains in out["top3_carbon_chains"]:
            assert chains["longest_chain"] <= chains["chain_carbons"] and (math.isnan(chains["chain_share"]) or chains["chain_share"] <= 1)
    elif task == "timing":
        _check_campaign_row(out, 10)
        assert out["wall_seconds"] > 0 and out["seconds_per_call"] > 0 and out["torch_threads"] == 1 and out["pass"] is True
    elif task == "constrained":
        (drug,) = out["drugs"]
        assert drug["drug"] == "celecoxib" and out["objective"] == "penalized_logp" and out["min_similarity"] == 0.4
        assert drug["calls"] <= 5 and drug["infeasible"] >= 0 and _fraction(out["success_rate"])
        if drug["best_smiles"]:  # a feasible molecule: the start itself at worst
            assert drug["improvement"] == drug["best_plogp"] - drug["start_plogp"] >= 0
    else:
        assert out["objective"] == "sa" and out["direction"] == "minimize" and out["budget"] == 5
        assert sorted(r["sampler"] for r in out["runs"]) == ["bo", "bo", "random", "random"]
        for r in out["runs"]:
            _check_campaign_row(r, 5, minimize=True)
            assert r["name"].endswith(("-noprior-s0-b5", "-noprior-s1-b5")) == (r["sampler"] == "bo"), r["name"]
        assert set(out["mean_auc"]) == set(out["sd_auc"]) == {"bo", "random"} and all(v >= 0 for v in out["sd_auc"].values())
        assert out["ratio"] > 0 and out["pass"] == (out["ratio"] >= 1.2)
    assert list(tmp_path.glob("*.db")), "no campaign ledger under --out-dir"


def test_moses_scorecard_script(model_path, reference_csv, tmp_path):
    """The scorecard's own commands (molvae generate, then molvae evaluate) on 40 draws."""
    if not Path("/usr/bin/time").is_file():
        pytest.skip("moses_scorecard.sh times evaluate with GNU time (/usr/bin/time)")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # the venv's molvae
        "OUT": str(tmp_path),
        "DRAWS": "40",
        "REFERENCE": str(reference_csv),
        "TRAIN": str(TRAIN_CSV),
    }
    r = subprocess.run(["bash", "benchmarks/moses_scorecard.sh", str(model_path)], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:] + r.stdout[-2000:]
    out = json.loads((tmp_path / "moses_scorecard.json").read_text())
    assert out["n_samples"] == 40 and 0 < out["n_valid"] <= 40
    m = out["metrics"]
    assert _fraction(m["validity"]) and _fraction(m["novelty"]) and m["FCD"] > 0 and _fraction(m["IntDiv1"])
    assert "evaluate:" in r.stderr + r.stdout  # GNU time's line


def _accepted_options(script: Path) -> set[str]:
    """The options a benchmark script's argparse parser declares."""
    return set(re.findall(r"add_argument\(\s*\"(-[\w-]+)\"", script.read_text()))


def test_default_model_script_calls_benchmarks_with_options_they_accept():
    """default_model.sh runs for over 90 minutes: check its syntax and that every benchmark it
    calls exists and accepts each option (and campaigns.py task) it passes."""
    sh = ROOT / "benchmarks" / "default_model.sh"
    r = subprocess.run(["bash", "-n", str(sh)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    campaigns_src = (ROOT / "benchmarks" / "campaigns.py").read_text()
    tasks = set(re.findall(r'"(\w+)": task_\w+', campaigns_src))
    assert tasks >= {"qed", "plogp", "constrained", "auc", "timing"}
    calls = 0
    for line in sh.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("#"):
            continue
        for m in re.finditer(r"\bpython benchmarks/(\w+\.py)\s*(.*)", line):
            script, words = ROOT / "benchmarks" / m.group(1), shlex.split(m.group(2).split(">")[0].split(";")[0])
            assert script.is_file(), line
            if script.name == "campaigns.py":
                assert words[0] in tasks, line
            _check_options(script, words, line)
            calls += 1
        m = re.match(r'auc "\$objective"\s*(.*?)\s*;', line.split("do ", 1)[-1])  # auc OBJECTIVE [SUFFIX FLAGS...]
        if m:
            _check_options(ROOT / "benchmarks" / "campaigns.py", shlex.split(m.group(1))[1:], line)
        for m in re.finditer(r"\bbash (benchmarks/[\w.]+\.sh)", line):
            assert (ROOT / m.group(1)).is_file(), line
    assert calls >= 20


def _check_options(script: Path, words: list[str], line: str) -> None:
    accepted = _accepted_options(script) | {"-h", "--help"}
    for w in words:
        if w == "$model":
            w = "--model"
        if re.fullmatch(r"--?[A-Za-z][\w-]*", w):
            assert w in accepted, f"{script.name} has no option {w}: {line}"


@pytest.mark.parametrize(
    "script, args, fragment",
    [
        ("generate_stages.py", ["-n", "0"], "argument -n: must be >= 1"),  # was ZeroDivisionError
        ("reconstruction.py", ["-n", "-3"], "argument -n: must be >= 1"),  # was a pandas traceback
        ("predictors.py", ["--seed", "-1"], "argument --seed: must be >= 0"),  # was a numpy traceback
        ("exploration.py", ["--model", "absent.pt"], "--model: model file not found"),  # was a CheckpointError traceback
        ("exploration.py", ["--method", "spline"], "argument --method: invalid choice: 'spline'"),  # was a ValueError traceback after the model loaded
        ("fingerprint_head_probe.py", ["-o", "fp.pt", "--weight", "-1"], "argument --weight: must be >= 0, got -1.0"),
        ("fingerprint_head_probe.py", ["-o", "fp.pt", "--lr", "nan"], "argument --lr: expected a finite number, got 'nan'"),
        # --train given: without data/moses (a fresh clone) its default is refused first
        ("fingerprint_head_probe.py", ["--train", "tests/data/moses_train_3k.csv"], "the following arguments are required: -o/--out"),
        ("fingerprint_readout.py", ["--held-out", "0"], "argument --held-out: must be >= 1"),
        # a missing input file was met after the model had loaded, as a traceback from the reader
        ("reconstruction.py", ["--test", "absent.csv"], "argument --test: file not found: absent.csv"),
        ("generation.py", ["--test", "absent.csv"], "argument --test: file not found: absent.csv"),  # was skipped without a word
        ("generate_stages.py", ["--test", "absent.csv"], "argument --test: file not found: absent.csv"),  # fell back to the committed sample
        ("prior_gap.py", ["--train", "absent.csv"], "argument --train: file not found: absent.csv"),
        ("predictors.py", ["--train", "benchmarks"], "argument --train: benchmarks is a folder, not a file"),
        ("training.py", ["--data", "absent.smi"], "argument --data: file not found: absent.smi"),
        ("evaluate.py", ["--test", "absent.csv"], "argument --test: file not found: absent.csv"),
        ("evaluate.py", ["--samples", "absent.csv"], "argument --samples: file not found: absent.csv"),
        ("evaluate.py", ["--test", "tests/data/moses_test_1k.csv", "--train", "absent.csv"], "argument --train: file not found: absent.csv"),
    ],
)
def test_bad_arguments_are_refused_by_argparse(script, args, fragment):
    r = subprocess.run([sys.executable, f"benchmarks/{script}", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith(f"{script}: error:") and fragment in r.stderr, r.stderr


def test_compare_results_sets_two_folders_side_by_side(tmp_path):
    base, other = tmp_path / "base", tmp_path / "other"
    base.mkdir(), other.mkdir()
    (base / "reconstruction.json").write_text(json.dumps({"reconstruction_accuracy": 0.636}))
    (other / "reconstruction.json").write_text(json.dumps({"reconstruction_accuracy": 0.616}))
    text = _run_text("benchmarks/compare_results.py", base, other)
    assert "| reconstruction, 1,000 MOSES test | 0.636 | 0.616 | `reconstruction.json` |" in text
    assert "| FCD, prior, greedy, seed 0 | not run | not run | `generation.json` |" in text
