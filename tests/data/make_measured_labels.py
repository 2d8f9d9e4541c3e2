"""Make ``measured_labels.csv``: a small "measured" data set for the predictor tests and demos.

No public measurement table can be fetched here, so the labels are RDKit properties with
Gaussian noise (fixed seed), standing in for a chemist's few hundred measured molecules:

* ``logp_meas``: Crippen logP + N(0, 0.3²) (a typical experimental logP error);
* ``qed_meas``: RDKit QED + N(0, 0.03²), clipped to [0, 1];
* ``toxic``: a 0/1 flag, 1 when logP + N(0, 0.5²) > 3.5 (a made-up rule).

The first 300 molecules of ``moses_test_1k.csv`` are used; about 5 % of each label column
is left empty (unknown), to exercise NaN handling. Regenerate with
``python tests/data/make_measured_labels.py`` (same output on every run).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from molvae.chem import properties

HERE = Path(__file__).resolve().parent


def main() -> None:
    rng = np.random.default_rng(20240601)
    smiles = pd.read_csv(HERE / "moses_test_1k.csv")["smiles"].head(300).tolist()
    props = pd.DataFrame([properties(s) for s in smiles])
    n = len(smiles)
    logp = props["logp"].to_numpy() + rng.normal(0, 0.3, n)
    qed = np.clip(props["qed"].to_numpy() + rng.normal(0, 0.03, n), 0, 1)
    toxic = (props["logp"].to_numpy() + rng.normal(0, 0.5, n) > 3.5).astype(float)
    for col in (logp, qed, toxic):
        col[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({"smiles": smiles, "logp_meas": logp.round(2), "qed_meas": qed.round(3), "toxic": toxic})
    df["toxic"] = df["toxic"].map(lambda v: "" if np.isnan(v) else str(int(v)))
    df.to_csv(HERE / "measured_labels.csv", index=False)


if __name__ == "__main__":
    main()
