"""Pictures of molecules (RDKit drawing): grids and strips with legends."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rdkit.Chem import Draw

from molvae.chem import to_mol

__all__ = ["grid_image", "spread_indices", "MAX_DRAWN"]

#: Most molecules drawn in one image.
MAX_DRAWN = 50


def spread_indices(n: int, k: int) -> list[int]:
    """``min(n, k)`` distinct indices of ``range(n)``, evenly spread, first and last included.

    For drawing a path of ``n`` steps in at most ``k`` cells without losing its ends.
    """
    if n <= k:
        return list(range(n))
    if k < 2:
        return [0][:k]
    # floor(i * (n - 1) / (k - 1)): strictly increasing since n - 1 >= k - 1
    return [i * (n - 1) // (k - 1) for i in range(k)]


def grid_image(
    smiles: Sequence[str],
    path: str | os.PathLike,
    *,
    legends: Sequence[str] | None = None,
    per_row: int = 5,
    size: tuple[int, int] = (250, 200),
    max_molecules: int = MAX_DRAWN,
) -> Path:
    """Draw molecules in a grid and save it as PNG.

    Parameters
    ----------
    smiles : sequence of str
        Invalid entries are drawn as empty cells.
    path : path-like
        ``.png`` file to write.
    legends : sequence of str, optional
        One caption per molecule (e.g. a similarity or a property).
    per_row : int
        Molecules per row (use ``len(smiles)`` for a single strip).
    size : (int, int)
        Cell size in pixels.
    max_molecules : int
        Only the first this many are drawn.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the path does not end in ``.png`` or there is nothing to draw.
    OSError
        The file cannot be written; no partial file is left (the image is written to a
        temporary file beside ``path`` and renamed into place).
    """
    from molvae.data import check_file_name

    path = Path(path)
    check_file_name(path, example=".png")  # '.png' is no file name (and has no suffix to Python)
    if path.suffix.lower() != ".png":
        raise ValueError(f"image must be a .png file, got {path.name}")
    smiles = list(smiles)[:max_molecules]
    if not smiles:
        raise ValueError("no molecules to draw")
    mols = [to_mol(s) for s in smiles]
    legends = [str(x) for x in (legends or [""] * len(mols))][: len(mols)]
    img = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=size, legends=legends)
    path.parent.mkdir(parents=True, exist_ok=True)
    from molvae.data import write_atomically  # all at once, or the old file left as it was

    write_atomically(path, lambda tmp: img.save(tmp, format="PNG"))
    return path
