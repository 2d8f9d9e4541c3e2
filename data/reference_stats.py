"""Convert MOSES's precomputed FCD reference statistics into plain arrays shipped with molvae.

MOSES (Polykovskiy et al. 2020) ships, in its ``molsets`` wheel, the ChemNet activation mean
and covariance of its full test and test-scaffolds sets (computed with ``fcd_torch``), inside
pickled ``*_stats.npz`` files. This script reads them once (run ``data/prepare_moses.py``
first) and writes plain ``float`` arrays that load with ``allow_pickle=False``:

    python data/reference_stats.py   # -> molvae/assets/moses_{test,test_scaffolds}_fcd.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moses", type=Path, default=HERE / "moses")
    parser.add_argument("--out", type=Path, default=HERE.parent / "molvae" / "assets")
    args = parser.parse_args(argv)
    for name in ("test", "test_scaffolds"):
        # The MOSES file is a pickle from the official molsets wheel; it is read here once,
        # and only plain arrays leave this script.
        stats = np.load(args.moses / f"{name}_stats.npz", allow_pickle=True)["stats"].item()["FCD"]
        out = args.out / f"moses_{name}_fcd.npz"
        np.savez(out, mu=np.asarray(stats["mu"], dtype=np.float64), sigma=np.asarray(stats["sigma"], dtype=np.float64))
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
