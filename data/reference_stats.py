"""Convert MOSES's precomputed reference statistics into plain arrays shipped with molvae.

MOSES (Polykovskiy et al. 2020) ships, in its ``molsets`` wheel, the statistics of its full
test and test-scaffolds sets inside pickled ``*_stats.npz`` files: the ChemNet activation mean
and covariance (computed with ``fcd_torch``), Morgan fingerprints, BRICS fragment and scaffold
counts, and the logP / SA / QED / weight values. This script reads them once (run
``data/prepare_moses.py`` first) and writes files that load with ``allow_pickle=False``:

    python data/reference_stats.py            # -> molvae/assets/moses_{test,test_scaffolds}_{fcd,reference}.npz
    python data/reference_stats.py --verify   # also recompute everything with molvae and compare
    python data/reference_stats.py --wheel molsets-0.3.1-py3-none-any.whl   # also the filter SMARTS

``moses_<set>_fcd.npz``
    ``mu`` (512,) and ``sigma`` (512, 512), float64.
``moses_<set>_reference.npz`` (see :func:`molvae.moses.stats_arrays`)
    the set's SMILES (newline-joined UTF-8 bytes), fragment and scaffold counts (keys as
    newline-joined bytes, counts int64), the sorted property values (int64 differences of the
    float64 bit patterns: lossless and about a fifth smaller compressed), and
    ``fp_fix_rows`` / ``fp_fix_bits``: MOSES's fingerprints (packed) of the rows where today's
    RDKit computes a different Morgan fingerprint (6 per set: fused azoles whose aromaticity
    perception changed since 2019).

The 176k fingerprints per set (22 MB of bits) are not shipped: molvae computes them from the
shipped SMILES on first use, caches them and patches in the rows above (``molvae.moses``), which
gives MOSES's stored fingerprints bit for bit. ``--verify`` also recomputes fragments,
scaffolds and property values with today's RDKit and compares them with MOSES's (the shipped
ones are MOSES's; this takes tens of minutes per set).

With ``--wheel``, ``moses/metrics/mcf.csv`` and ``wehi_pains.csv`` (the MCF and PAINS SMARTS
of the Filters metric) and the package's MIT licence are copied, unchanged, to
``molvae/assets/moses_mcf.csv``, ``moses_wehi_pains.csv`` and ``MOSES_LICENSE.txt``.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

FILTER_FILES = {
    "moses/metrics/mcf.csv": "moses_mcf.csv",
    "moses/metrics/wehi_pains.csv": "moses_wehi_pains.csv",
    "molsets-0.3.1.dist-info/LICENSE": "MOSES_LICENSE.txt",
}


def convert(name: str, moses: Path, out: Path, verify: bool, n_jobs: int) -> None:
    import pandas as pd

    from molvae.moses import PROPERTIES, ReferenceStats, compute_reference_statistics, fingerprints, stats_arrays

    # The MOSES file is a pickle from the official molsets wheel; it is read here once,
    # and only plain arrays leave this script.
    stats = np.load(moses / f"{name}_stats.npz", allow_pickle=True)["stats"].item()
    smiles = pd.read_csv(moses / f"{name}.csv.gz")["SMILES"].tolist()
    if len(smiles) != len(stats["SNN"]["fps"]):
        raise SystemExit(f"{name}: {len(smiles)} SMILES but {len(stats['SNN']['fps'])} MOSES fingerprints")

    fcd = stats["FCD"]
    path = out / f"moses_{name}_fcd.npz"
    np.savez(path, mu=np.asarray(fcd["mu"], dtype=np.float64), sigma=np.asarray(fcd["sigma"], dtype=np.float64))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")

    ref = ReferenceStats(
        name=name,
        size=len(smiles),
        fcd={},
        fingerprints=np.zeros((0, 128), dtype=np.uint8),
        fragments={str(k): int(v) for k, v in stats["Frag"]["frag"].items()},
        scaffolds={str(k): int(v) for k, v in stats["Scaf"]["scaf"].items()},
        properties={p: np.asarray(stats[p]["values"], dtype=np.float64) for p in PROPERTIES},
    )
    # Fingerprints are recomputed by molvae from the SMILES (not shipped: 22 MB); the rows where
    # today's RDKit disagrees with MOSES's stored bits ship, so that molvae's reference is MOSES's.
    fps = fingerprints(smiles, n_jobs=n_jobs)
    moses_fps = np.packbits(np.asarray(stats["SNN"]["fps"], dtype=np.uint8), axis=1)
    fix_rows = np.flatnonzero((fps != moses_fps).any(axis=1))
    print(f"{name}: {len(fix_rows)} of {len(fps)} fingerprints differ from MOSES's: {[smiles[i] for i in fix_rows]}")
    arrays = stats_arrays(ref, smiles=smiles, with_fingerprints=False, with_fcd=False)
    arrays["fp_fix_rows"] = fix_rows.astype(np.int64)
    arrays["fp_fix_bits"] = moses_fps[fix_rows]
    path = out / f"moses_{name}_reference.npz"
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")

    if verify:
        mine = compute_reference_statistics(smiles, name=name, n_jobs=n_jobs, with_fcd=False)
        print(f"{name}: fragments equal: {mine.fragments == ref.fragments}, scaffolds equal: {mine.scaffolds == ref.scaffolds}")
        for p in PROPERTIES:
            diff = np.abs(mine.properties[p] - np.sort(ref.properties[p])).max()
            print(f"{name}: {p} largest difference {diff:.3g}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moses", type=Path, default=HERE / "moses")
    parser.add_argument("--out", type=Path, default=ROOT / "molvae" / "assets")
    parser.add_argument("--wheel", type=Path, help="molsets 0.3.1 wheel: also copy the filter SMARTS and licence")
    parser.add_argument("--verify", action="store_true", help="recompute with molvae and compare (minutes)")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    for name in ("test", "test_scaffolds"):
        convert(name, args.moses, args.out, args.verify, args.n_jobs)
    if args.wheel:
        with zipfile.ZipFile(args.wheel) as zf:
            for member, target in FILTER_FILES.items():
                (args.out / target).write_bytes(zf.read(member))
                print(f"wrote {args.out / target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
