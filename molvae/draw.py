"""Pictures of molecules (RDKit drawing): grids and strips with legends."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from rdkit.Chem import Draw

from molvae.checks import is_integer
from molvae.chem import as_smiles_list, to_mol

__all__ = ["grid_image", "spread_indices", "MAX_DRAWN"]

#: Most molecules drawn in one image.
MAX_DRAWN = 50


def spread_indices(n: int, k: int) -> list[int]:
    """``min(n, k)`` distinct indices of ``range(n)``, evenly spread, first and last included.

    For drawing a path of ``n`` steps in at most ``k`` cells without losing its ends.

    Parameters
    ----------
    n : int
        Items, >= 0.
    k : int
        Most indices wanted, >= 0.

    Returns
    -------
    list of int
        Increasing; ``range(n)`` when ``n <= k``; ``[0]`` for ``k = 1``.

    Raises
    ------
    ValueError
        If ``n`` or ``k`` is not an integer >= 0 (a float ``n`` gave float indices, which
        cannot index a list, and a negative one an empty list).
    """
    for name, value in (("n", n), ("k", k)):
        if not is_integer(value) or value < 0:
            raise ValueError(f"spread_indices: {name} must be an integer >= 0, got {value!r}")
    n, k = int(n), int(k)
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
    smiles : str or sequence of str
        One SMILES string is one molecule. Invalid entries are drawn as empty cells.
    path : path-like
        ``.png`` file to write (any case of the extension); missing folders are created.
    legends : str or sequence, optional
        One caption per molecule (e.g. a similarity or a property), as many as
        ``smiles``; each is shown as ``str(caption)``. A single string is one caption.
    per_row : int
        Molecules per row, >= 1 (use ``len(smiles)`` for a single strip).
    size : (int, int)
        Cell width and height in pixels, each >= 1.
    max_molecules : int
        Only the first this many are drawn, >= 1.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        If the path does not end in ``.png``, there is nothing to draw, the legends are
        not one per molecule, or ``per_row``, ``size`` or ``max_molecules`` is not as
        above (RDKit aborted with a C++ stack dump, or divided by zero).
    TypeError
        If ``smiles`` is neither a string nor iterable.
    OSError
        The file cannot be written; no partial file is left (the image is written to a
        temporary file beside ``path`` and renamed into place).
    """
    from molvae.data import check_file_name

    path = Path(path)
    check_file_name(path, example=".png")  # '.png' is no file name (and has no suffix to Python)
    if path.suffix.lower() != ".png":
        raise ValueError(f"image must be a .png file, got {str(path)!r}")
    smiles = as_smiles_list(smiles, what="grid_image")  # 'CCO' is one molecule, not C, C and O
    if isinstance(legends, str):  # one caption, not one per letter
        legends = [legends]
    legends = [""] * len(smiles) if legends is None else [str(x) for x in legends]  # an array has no truth value
    if len(legends) != len(smiles):
        raise ValueError(f"legends must be one per molecule: {len(legends)} for {len(smiles)} molecules")
    for name, value in (("per_row", per_row), ("max_molecules", max_molecules)):
        if not is_integer(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if not isinstance(size, Sequence) or isinstance(size, str) or len(size) != 2 or not all(is_integer(v) and v >= 1 for v in size):
        raise ValueError(f"size must be two integers >= 1 (width, height in pixels), got {size!r}")
    smiles, legends = smiles[:max_molecules], legends[:max_molecules]
    if not smiles:
        raise ValueError("no molecules to draw")
    mols = [to_mol(s) for s in smiles]
    img = Draw.MolsToGridImage(mols, molsPerRow=min(int(per_row), len(mols)), subImgSize=(int(size[0]), int(size[1])), legends=legends)
    path.parent.mkdir(parents=True, exist_ok=True)
    from molvae.data import write_atomically  # all at once, or the old file left as it was

    write_atomically(path, lambda tmp: img.save(tmp, format="PNG"))
    return path
