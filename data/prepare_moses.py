"""Fetch the MOSES data set (Polykovskiy et al. 2020) from the ``molsets`` wheel on PyPI.

The wheel's dependency pins no longer install, so it is downloaded with ``--no-deps`` and
only its data files are extracted:

    python data/prepare_moses.py            # -> data/moses/{train,test,test_scaffolds}.csv.gz (+ *_stats.npz)

Files: train.csv.gz (1,584,663 SMILES), test.csv.gz (176,074), test_scaffolds.csv.gz
(176,226), and the MOSES reference statistics test_stats.npz / test_scaffolds_stats.npz.
Each CSV has one column, ``SMILES``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "molsets==0.3.1"
MEMBERS = ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz", "test_stats.npz", "test_scaffolds_stats.npz")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "moses")
    parser.add_argument("--wheel", type=Path, help="use this molsets wheel instead of downloading it")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if all((args.out / m).is_file() for m in MEMBERS):
        print(f"MOSES already in {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
            if subprocess.run(cmd).returncode != 0:
                print(f"error: could not download {WHEEL} from PyPI", file=sys.stderr)
                return 1
            wheel = next(Path(tmp).glob("molsets-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for m in MEMBERS:
                target = args.out / m
                target.write_bytes(zf.read(f"moses/dataset/data/{m}"))
                print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
