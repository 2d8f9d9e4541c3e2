"""molvae.draw: the grid images of generate, interpolate and analogs."""

from __future__ import annotations

import numpy as np
import pytest

from molvae.draw import grid_image


def _cells(path) -> int:
    """Number of 250 x 200 cells in a one-row grid image."""
    from PIL import Image

    width, height = Image.open(path).size
    assert height == 200
    return width // 250


def test_one_smiles_string_is_one_molecule(tmp_path):
    """grid_image('CCO', ...) drew three molecules (C, C and O): the string was taken
    letter by letter."""
    path = grid_image("CCO", tmp_path / "one.png")
    assert _cells(path) == 1


def test_legends_may_be_an_array_and_must_be_one_per_molecule(tmp_path):
    """A numpy array of legends raised 'The truth value of an array ... is ambiguous', and
    fewer legends than molecules aborted in RDKit ('Pre-condition Violation') after a C++
    stack dump on stderr; more were cut silently."""
    path = grid_image(["CCO", "c1ccccc1"], tmp_path / "a.png", legends=np.array([0.25, 0.5]))
    assert _cells(path) == 2
    for legends in (["only one"], ["a", "b", "c"]):
        with pytest.raises(ValueError, match=f"legends must be one per molecule: {len(legends)} for 2 molecules"):
            grid_image(["CCO", "c1ccccc1"], tmp_path / "b.png", legends=legends)
    assert not (tmp_path / "b.png").exists()
    # legends for all the molecules, max_molecules cuts both
    assert _cells(grid_image(["CCO", "CCN", "CCC"], tmp_path / "c.png", legends=["1", "2", "3"], max_molecules=2)) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"per_row": 0}, "per_row must be an integer >= 1, got 0"),  # ZeroDivisionError
        ({"per_row": -1}, "per_row must be an integer >= 1, got -1"),  # RDKit's Pre-condition Violation
        ({"per_row": 2.5}, "per_row must be an integer >= 1, got 2.5"),
        ({"size": (0, 0)}, r"size must be two integers >= 1 \(width, height in pixels\), got \(0, 0\)"),  # RDKit
        ({"size": 200}, "size must be two integers >= 1"),
        ({"max_molecules": 0}, "max_molecules must be an integer >= 1, got 0"),  # was "no molecules to draw"
    ],
)
def test_bad_layout_is_a_value_error_naming_the_argument(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        grid_image(["CCO", "CCN"], tmp_path / "g.png", **kwargs)
    assert not (tmp_path / "g.png").exists()


def test_numpy_integers_are_taken_for_the_layout(tmp_path):
    """per_row=np.int64(2) failed in RDKit's Boost.Python layer (ArgumentError)."""
    path = grid_image(["CCO", "CCN"], tmp_path / "g.PNG", per_row=np.int64(2), size=(np.int64(250), 200), max_molecules=np.int32(5))
    assert _cells(path) == 2


def test_one_legend_string_is_one_caption(tmp_path, monkeypatch):
    """grid_image('CCO', legends='ethanol') captioned the molecule 'e': the legend string
    was taken letter by letter and cut to the number of molecules."""
    from rdkit.Chem import Draw

    seen = []
    real = Draw.MolsToGridImage
    monkeypatch.setattr(Draw, "MolsToGridImage", lambda mols, **kw: seen.append(kw["legends"]) or real(mols, **kw))
    grid_image("CCO", tmp_path / "one.png", legends="ethanol")
    assert seen == [["ethanol"]]
    with pytest.raises(ValueError, match="legends must be one per molecule: 1 for 2 molecules"):
        grid_image(["CCO", "CCN"], tmp_path / "two.png", legends="ethanol")


def test_spread_indices_takes_counts_only():
    """spread_indices(10.0, 3) returned the floats [0.0, 4.0, 9.0], which cannot index a
    list, spread_indices(2.0, 3) failed in range(), and a negative n or k gave [] without
    a word; now a ValueError naming the argument."""
    from molvae.draw import spread_indices

    for n, k, name in ((10.0, 3, "n"), (2.0, 3, "n"), (-3, 2, "n"), (10, -1, "k"), (10, True, "k"), (None, 3, "n")):
        with pytest.raises(ValueError, match=f"spread_indices: {name} must be an integer >= 0"):
            spread_indices(n, k)
    assert spread_indices(np.int64(10), 3) == [0, 4, 9] and all(type(i) is int for i in spread_indices(np.int64(10), 3))
    assert spread_indices(0, 3) == [] and spread_indices(10, 0) == [] and spread_indices(10, 1) == [0]
