"""Expected values for ``tests/unit/test_moses_metrics.py``, from the MOSES reference code.

How the numbers stored in that test were produced (run once, from the repository root, after
``python data/prepare_moses.py``)::

    python data/moses_reference_values.py --make-sample       # -> tests/data/moses_test_3k_eval.csv
    python data/moses_reference_values.py --wheel /path/to/molsets-0.3.1-py3-none-any.whl

1. The sample: 3,000 molecules drawn without replacement from MOSES test
   (``numpy.random.default_rng(2020).choice(176074, 3000, replace=False)``, in drawing order).
   A second file, ``tests/data/moses_probe_eval.csv`` (1,200 rows), exercises what that sample
   cannot (on it validity, uniqueness and Filters are all 1): 1,000 random edits of sample
   molecules (substituents such as nitrile, azo, catechol, Michael acceptors; element swaps;
   single bonds made double), 100 repeats of them, and 100 invalid rows (empty, unclosed
   rings, impossible valences), shuffled.
2. The "training set" for novelty: ``tests/data/moses_train_3k.csv`` plus every 10th
   molecule of the sample (so that novelty is neither 0 nor 1).
3. The wheel of ``molsets`` 0.3.1 (MOSES, Polykovskiy et al. 2020, MIT licence) is unpacked into
   a temporary folder and its ``moses.metrics.get_all_metrics`` is run on the sample with
   ``n_jobs=1, device="cpu"``, the default test / test-scaffolds sets and their shipped
   statistics, and the training set of step 2. Nothing of MOSES is copied into molvae; this
   script edits the unpacked copy in four places only, where today's libraries removed an API
   the 2020 code used (the arithmetic is untouched):

   * ``moses/utils.py``: ``from matplotlib import pyplot`` removed (plots only; matplotlib is
     not a molvae dependency);
   * ``moses/metrics/utils.py``: ``_mcf.append(_pains, sort=True)`` becomes
     ``pd.concat([_mcf, _pains], sort=True)`` (``DataFrame.append`` was removed in pandas 2)
     and ``np.NaN`` becomes ``np.nan`` (removed in NumPy 2);
   * ``moses/metrics/SA_Score/sascorer.py``: ``from rdkit.six import iteritems`` is replaced by a
     one-line ``iteritems`` (``rdkit.six`` was removed from RDKit).

   Library versions of the run that produced the stored values: Python 3.11, RDKit 2026.09.1,
   NumPy 2.4, pandas 3.1, SciPy 1.17, torch 2.13 (CPU), fcd_torch 1.0.7.

The script prints one JSON object per file with the MOSES names of the metrics (``valid``,
``unique@1000``, ``FCD/Test``, ``FCD/TestSF``, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "moses_test_3k_eval.csv"
PROBE = ROOT / "tests" / "data" / "moses_probe_eval.csv"
TRAIN_3K = ROOT / "tests" / "data" / "moses_train_3k.csv"
SEED, N = 2020, 3000

#: (file inside the wheel, old text, new text): the only edits made to the reference code.
PATCHES = [
    ("moses/utils.py", "from matplotlib import pyplot as plt\n", "plt = None\n"),
    ("moses/metrics/utils.py", "_mcf.append(_pains, sort=True)", "pd.concat([_mcf, _pains], sort=True)"),
    ("moses/metrics/utils.py", "np.NaN", "np.nan"),
    ("moses/metrics/SA_Score/sascorer.py", "from rdkit.six import iteritems\n", "def iteritems(d):\n    return iter(d.items())\n"),
]


def make_sample(moses_dir: Path) -> None:
    import numpy as np
    import pandas as pd

    test = pd.read_csv(moses_dir / "test.csv.gz")["SMILES"].to_numpy()
    idx = np.random.default_rng(SEED).choice(len(test), N, replace=False)
    pd.DataFrame({"smiles": test[idx]}).to_csv(SAMPLE, index=False)
    print(f"wrote {SAMPLE}")


#: Substituents attached by the random edits of :func:`make_probe` (many are MCF/PAINS motifs).
SUBSTITUENTS = ["C#N", "N=O", "C=O", "OO", "N=N", "S", "C=C", "CCl", "CBr", "SS", "C(=O)Cl", "N=C=S", "C=CC(=O)",
                "Oc1ccccc1O", "C=NN", "NN", "c1ccc(O)c(O)c1", "C(=S)N", "N=Cc1ccccc1", "C=C(C#N)C#N", "OC(=O)C=C",
                "C1=CC(=O)C=CC1=O", "[SH]", "SC#N", "N(C)c1ccccc1", "C=Cc1ccccc1", "c1ccc2ccccc2c1", "C(F)(F)F",
                "P", "C=CC=O", "NC(=S)N", "OC", "N", "O", "Br", "Cl", "F", "[N+](=O)[O-]", "I"]
INVALID = ["", "C1CC", "c1cccc1", "xyz", "C(C)(C)(C)(C)C", "CC(", "N1=CC=CC=C1=C", "C%", "[Xx]", "c1ccccc"]


def _edit(smiles: str, rng) -> str:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    subs = [Chem.MolFromSmiles(s) for s in SUBSTITUENTS]
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        try:
            if op < 0.45:
                sites = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]
                if not sites:
                    continue
                n = mol.GetNumAtoms()
                new = Chem.RWMol(Chem.CombineMols(mol, rng.choice(subs)))
                new.AddBond(rng.choice(sites), n, Chem.BondType.SINGLE)
            elif op < 0.75:
                new = Chem.RWMol(mol)
                atom = new.GetAtomWithIdx(rng.randrange(mol.GetNumAtoms()))
                atom.SetAtomicNum(rng.choice([6, 7, 8, 16, 17, 35, 9]))
                atom.SetNoImplicit(False)
            else:
                bonds = [b.GetIdx() for b in mol.GetBonds() if b.GetBondType() == Chem.BondType.SINGLE and not b.IsInRing()]
                if not bonds:
                    continue
                new = Chem.RWMol(mol)
                new.GetBondWithIdx(rng.choice(bonds)).SetBondType(Chem.BondType.DOUBLE)
            m = new.GetMol()
            Chem.SanitizeMol(m)
            again = Chem.MolFromSmiles(Chem.MolToSmiles(m))
            if again is not None:
                mol = again
        except Exception:  # an edit RDKit rejects is skipped
            continue
    return Chem.MolToSmiles(mol)


def make_probe() -> None:
    import random

    import pandas as pd
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    rng = random.Random(SEED)
    base = pd.read_csv(SAMPLE)["smiles"].tolist()
    edited = [_edit(rng.choice(base), rng) for _ in range(1000)]
    rows = edited + rng.sample(edited, 100) + [INVALID[i % len(INVALID)] for i in range(100)]
    rng.shuffle(rows)
    pd.DataFrame({"smiles": rows}).to_csv(PROBE, index=False)
    print(f"wrote {PROBE}")


def novelty_train() -> list[str]:
    import pandas as pd

    sample = pd.read_csv(SAMPLE)["smiles"].tolist()
    return pd.read_csv(TRAIN_3K)["smiles"].tolist() + sample[::10]


def run_reference(wheel: Path) -> dict:
    import pandas as pd
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
        for rel, old, new in PATCHES:
            p = Path(tmp) / rel
            text = p.read_text()
            if old not in text:
                raise SystemExit(f"patch target not found in {rel}: {old!r}")
            p.write_text(text.replace(old, new))
        sys.path.insert(0, tmp)
        warnings.simplefilter("ignore")
        from moses.metrics import get_all_metrics

        results = {}
        for path in (SAMPLE, PROBE):
            gen = pd.read_csv(path, dtype=str, keep_default_na=False)["smiles"].tolist()
            metrics = get_all_metrics(gen, n_jobs=1, device="cpu", train=novelty_train())
            results[path.name] = {k: float(v) for k, v in metrics.items()}
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--moses", type=Path, default=ROOT / "data" / "moses", help="folder of test.csv.gz")
    p.add_argument("--make-sample", action="store_true", help="(re)write the 3,000-molecule sample and the probe file")
    p.add_argument("--wheel", type=Path, help="molsets-0.3.1-py3-none-any.whl: run the reference code")
    args = p.parse_args(argv)
    if args.make_sample:
        make_sample(args.moses)
        make_probe()
    if args.wheel:
        print(json.dumps(run_reference(args.wheel), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
