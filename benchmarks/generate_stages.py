"""Cost of each stage of a `generate` worker, in ms per molecule on one core.

    python benchmarks/generate_stages.py -n 2000 --repeats 5

The worker's stages, on the model's greedy decodings of ``n`` prior draws: the GRU
sampler (one torch thread, chunks of ``molvae.generation.CHUNK`` latent points), SELFIES
decoding, RDKit parsing and canonical SMILES. Then the RDKit properties, on ``n`` parsed
MOSES test molecules: RDKit's ``QED.properties`` against
:func:`molvae.chem.qed_properties` (the same descriptors with the alerts matched by one
FilterCatalog), the parts of QED, the SA score, and the whole of
:func:`molvae.chem.properties`. Every stage is timed in alternating repeats (this
machine's speed drifts by tens of percent from minute to minute); prints JSON with the
median and range of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import QED, Crippen
import selfies as sf
import torch
from rdkit.Contrib.SA_Score import sascorer

from molvae.chem import load_property_tables, properties, qed_properties
from molvae.data import read_molecules
from molvae.generation import CHUNK
from molvae.model import decode_dtype
from _args import MOSES_TEST, ROOT, existing_file, load_model, positive  # benchmarks/_args.py



def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path)
    p.add_argument("-n", type=positive, default=2000, help="molecules (default 2000)")
    p.add_argument("--repeats", type=positive, default=5)
    p.add_argument("--test", type=existing_file, default=None, help="molecules to time RDKit on (default: data/moses/test.csv.gz, else the committed tests/data/moses_test_1k.csv; a file given must exist)")
    p.add_argument("--smiles-column", help="CSV column of --test holding SMILES (default: smiles, any case)")
    args = p.parse_args(argv)

    test_path = args.test or (MOSES_TEST if MOSES_TEST.is_file() else None)  # a mistyped --test fell back silently
    if test_path is not None:
        smiles = [s for _, s in read_molecules(test_path, smiles_column=args.smiles_column)[0]][: args.n]
    else:  # the committed sample, for a checkout without the MOSES download
        smiles = [s for _, s in read_molecules(ROOT / "tests" / "data" / "moses_test_1k.csv")[0]][: args.n]
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    t0 = time.perf_counter()
    load_property_tables()  # what generate does once before its workers start (SA fragment table, QED alerts)
    tables_s = time.perf_counter() - t0
    alerts = QED.StructuralAlerts
    timed = {
        "rdkit_QED.properties": QED.properties,
        "molvae_qed_properties": qed_properties,
        "rdkit_qed_alert_loop": lambda m: sum(1 for a in alerts if m.HasSubstructMatch(a)),
        "crippen_logp": Crippen.MolLogP,
        "sa_score": sascorer.calculateScore,
        "molvae_properties": properties,
    }
    vae = load_model(p, args.model)
    torch.set_num_threads(1)  # as in a generate worker
    z = torch.randn((args.n, vae.d_z), generator=torch.Generator().manual_seed(0))
    selfies = vae.decode_selfies(z)
    decoded = [sf.decoder(s) for s in selfies]
    parsed = [m for m in (Chem.MolFromSmiles(s) for s in decoded) if m is not None]
    stages = {  # name: (work on all inputs, number of inputs)
        "gru_sampler": (lambda: [vae.model.sample_tokens(z[i : i + CHUNK]) for i in range(0, len(z), CHUNK)], len(z)),
        # generate's chunk size against half and double: greedy tokens do not depend on it
        f"gru_sampler_chunk_{CHUNK // 2}": (lambda: [vae.model.sample_tokens(z[i : i + CHUNK // 2]) for i in range(0, len(z), CHUNK // 2)], len(z)),
        f"gru_sampler_chunk_{2 * CHUNK}": (lambda: [vae.model.sample_tokens(z[i : i + 2 * CHUNK]) for i in range(0, len(z), 2 * CHUNK)], len(z)),
        "selfies_decoder": (lambda: [sf.decoder(s) for s in selfies], len(selfies)),
        "rdkit_parse": (lambda: [Chem.MolFromSmiles(s) for s in decoded], len(decoded)),
        "canonical_smiles": (lambda: [Chem.MolToSmiles(m) for m in parsed], len(parsed)),
    }
    runs: dict[str, list[float]] = {k: [] for k in [*stages, *timed]}
    for _ in range(args.repeats):
        for name, (work, count) in stages.items():
            t0 = time.perf_counter()
            work()
            runs[name].append((time.perf_counter() - t0) / count * 1e3)
        for name, fn in timed.items():
            fresh = [Chem.Mol(m) for m in mols]  # no descriptor cached from an earlier call
            t0 = time.perf_counter()
            for m in fresh:
                fn(m)
            runs[name].append((time.perf_counter() - t0) / len(fresh) * 1e3)
    out = {
        "model": str(vae.path),
        "decode_precision": str(decode_dtype()).removeprefix("torch."),
        "molecules": len(mols),
        "repeats": args.repeats,
        "chunk": CHUNK,
        "property_tables_load_s": round(tables_s, 3),
        "ms_per_molecule_median": {k: round(statistics.median(v), 3) for k, v in runs.items()},
        "ms_per_molecule_range": {k: [round(min(v), 3), round(max(v), 3)] for k, v in runs.items()},
    }
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
