"""Pictures of molecules (RDKit drawing): grids and strips with legends."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rdkit.Chem import Draw

from molvae.chem import to_mol

__all__ = ["grid_image"]


def grid_image(
    smiles: Sequence[str],
    path: str | os.PathLike,
    *,
    legends: Sequence[str] | None = None,
    per_row: int = 5,
    size: tuple[int, int] = (250, 200),
    max_molecules: int = 50,
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
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"image must be a .png file, got {path.name}")
    smiles = list(smiles)[:max_molecules]
    if not smiles:
        raise ValueError("no molecules to draw")
    mols = [to_mol(s) for s in smiles]
    legends = [str(x) for x in (legends or [""] * len(mols))][: len(mols)]
    img = Draw.MolsToGridImage(mols, molsPerRow=min(per_row, len(mols)), subImgSize=size, legends=legends)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
