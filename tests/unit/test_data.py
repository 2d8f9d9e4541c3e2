"""Reading molecule files, SELFIES conversion, the prepared (cached) training set, writing."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pandas as pd
import pytest
import selfies as sf
from rdkit import Chem

from molvae.chem import InvalidMoleculeError, smiles_hash
from molvae.data import (
    InputError,
    RowError,
    check_output_path,
    check_smiles_column,
    prepare_training_set,
    read_molecules,
    to_selfies,
    write_molecules,
)


# ---------------------------------------------------------------------- reading
def test_csv_with_empty_rows_reports_row_numbers(tmp_path):
    p = tmp_path / "mols.csv"
    p.write_text("id,smiles\na,CCO\nb,\nc,C1CC\n\nd,  c1ccccc1  \n")
    rows, errors = read_molecules(p)
    # 1-based data rows; invalid SMILES are kept here (the reader does not parse them)
    assert rows == [(1, "CCO"), (3, "C1CC"), (5, "c1ccccc1")]
    assert [(e.row, e.input) for e in errors] == [(2, ""), (4, "")]
    assert all("empty" in e.reason for e in errors)
    assert str(errors[0]).startswith("row 2:")


def test_csv_quote_left_open_is_a_skipped_row(tmp_path):
    """A quote left open made the csv reader take the rest of the file as one field: the
    rows after it silently became one molecule's text (evaluate counted 1 sample, RDKit
    reading the first line of it). A field that runs over several lines is a skipped row,
    with the reason and the lines it took in."""
    p = tmp_path / "mols.csv"
    p.write_text('smiles\nCCO\n"CCN\nc1ccccc1\nCCCl\n')
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [(e.row, e.input) for e in errors] == [(2, "CCN")]
    assert errors[0].reason == "a quoted field runs from line 3 to line 5 of the file (a quote left open?)"
    # a closed quote around a field with a line break is no better a SMILES
    p.write_text('id,smiles\na,"CC\nO"\nb,CCN\n')
    rows, errors = read_molecules(p)
    assert rows == [(2, "CCN")] and [(e.row, e.input) for e in errors] == [(1, "CC")]
    assert errors[0].reason == "a quoted field runs from line 2 to line 3 of the file (a quote left open?)"


def test_csv_quote_left_open_in_another_column_is_a_skipped_row(tmp_path):
    """A quote left open in a name column took in the rows after it without a word: after
    the SMILES column, the row was read as its molecule and the rest of the file lost;
    before it, the row was called an 'empty row'; closed by a later stray quote, the rows
    between were lost; and with over 128 KiB after it, the whole file was unreadable
    ('field larger than field limit'). A quoted name with a line break is still read."""
    p = tmp_path / "mols.csv"
    p.write_text('smiles,name\nCCO,ethanol\nCCN,"5 tube\nCCC,propane\nCCCC,butane\n')
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [str(e) for e in errors] == ["row 2: a quoted field runs from line 3 to the end of the file (line 5) (a quote left open?) ('5 tube')"]
    p.write_text('name,smiles\nethanol,CCO\n"5 tube,CCN\npropane,CCC\nbutane 5" x,CCCC\npentane,CCCCC\n')
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO"), (3, "CCCCC")]
    assert [str(e) for e in errors] == ["row 2: a quoted field runs from line 3 to line 5 of the file (a quote left open?) ('5 tube,CCN')"]
    p.write_text("name,smiles\nethanol,CCO\n\"5 tube,CCN\n" + "propane,CCC\n" * 20_000)
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [str(e) for e in errors] == ["row 2: a quoted field runs from line 3 to the end of the file (line 20003) (a quote left open?) ('5 tube,CCN')"]
    p.write_text('name,smiles\n"multi\nline, name",CCO\n"say ""hi""\nthere",CCN\nlast,CCC\n')
    assert read_molecules(p) == ([(1, "CCO"), (2, "CCN"), (3, "CCC")], [])


@pytest.mark.parametrize(
    "content, smiles_column, message",
    [
        # ';' and tabs are read (test_csv_separated_by_semicolons_or_tabs); '|' is not
        (b"Name|SMILES\r\naspirin|CC(=O)Oc1ccccc1C(=O)O\r\n", None, "has its column names separated by '|', not commas (header 'Name|SMILES'): save it as comma-separated CSV"),
        (b"\nsmiles\nCCO\n", None, "has no column names on its first line, where a CSV file has its header"),
        ("smiles,name\nCCO,ethanol\n".encode("utf-16"), None, "is UTF-16 text, not UTF-8: save it as UTF-8"),
        ("smiles,name\nCCO,ethanol\nCCN,caf\u00e9\n".encode("latin-1"), None, "is not UTF-8 text (line 3 has byte 0xe9): save it as UTF-8"),
        (b"CCO\nc1ccccc1\n", None, "has no 'smiles' column (columns: CCO); name one with smiles_column, or, if its first line, 'CCO', is a molecule (no column names), name the file mols.smi"),
        (gzip.compress(b"smiles\nCCO\n"), None, "is gzip-compressed: name it mols.csv.gz"),
        (b"PK\x03\x04" + bytes(range(128, 256)), None, "is a zip archive (an Excel workbook?), not text"),
    ],
    ids=["pipe", "blank-first-line", "utf-16", "latin-1", "no-header", "gzip", "zip"],
)
def test_csv_written_otherwise_is_named_for_what_it_is(tmp_path, content, smiles_column, message):
    """A ';'- or tab-separated file was said to have no 'smiles' column (and the message
    advised --smiles-column); a blank first line was 'is empty'; UTF-16 (Excel's Unicode
    Text) was 'undecodable byte 0xff', a Latin-1 byte did not say on which line, a file of
    SMILES without a header only named its first molecule as the columns, and a gzip
    file without .gz or a zip archive (an .xlsx renamed) was 'undecodable byte'."""
    p = tmp_path / "mols.csv"
    p.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_molecules(p, smiles_column=smiles_column)
    assert str(info.value) == f"{p} {message}"
    with pytest.raises(InputError) as info:
        check_smiles_column(p, smiles_column)
    assert str(info.value) == f"{p} {message}"


def test_csv_from_excel_with_commas(tmp_path):
    """A byte-order mark, CRLF, empty trailing columns, a quoted field with a comma and a
    line break, and a SMILES column named 'SMILES ' are read."""
    p = tmp_path / "mols.csv"
    p.write_bytes(b'\xef\xbb\xbfName,SMILES ,,\r\n"aspirin, 1",CC(=O)Oc1ccccc1C(=O)O,,\r\n"ethanol\r\n(dry)",CCO,,\r\n')
    assert read_molecules(p) == ([(1, "CC(=O)Oc1ccccc1C(=O)O"), (2, "CCO")], [])
    assert read_molecules(p, smiles_column="smiles")[0] == [(1, "CC(=O)Oc1ccccc1C(=O)O"), (2, "CCO")]


# ChEMBL's download: every field quoted, ';' between them, a column 'Smiles', a name
# holding ';' and ',', a byte-order mark and CRLF (Excel), a blank line
CHEMBL = (
    b'\xef\xbb\xbf"ChEMBL ID";"Name";"Smiles";"Molecular Weight"\r\n'
    b'"CHEMBL25";"ASPIRIN; acetylsalicylic acid, 2-acetoxybenzoic acid";"CC(=O)Oc1ccccc1C(=O)O";"180.16"\r\n'
    b"\r\n"
    b'"CHEMBL545";"ETHANOL";"CCO";"46.07"\r\n'
    b'"CHEMBL17";"multi\r\nline; name";"CCN";"45.08"\r\n'
    b'"CHEMBL1";"NONE";"";""\r\n'
)


def test_csv_separated_by_semicolons_or_tabs(tmp_path):
    """A ';'-separated CSV (ChEMBL's downloads, Excel in many locales) or a tab-separated
    one was refused ('has its column names separated by ';', not commas ... save it as
    comma-separated CSV'); it is read with the separator of its header line, by
    read_molecules, check_smiles_column and read_csv_rows alike (same rows, same numbers)."""
    from molvae.predictors import read_csv_rows

    p = tmp_path / "chembl.csv"
    p.write_bytes(CHEMBL)
    rows, errors = read_molecules(p)
    assert rows == [(1, "CC(=O)Oc1ccccc1C(=O)O"), (3, "CCO"), (4, "CCN")]
    assert [str(e) for e in errors] == ["row 2: empty row", "row 5: empty row"]
    assert read_molecules(p, smiles_column="smiles")[0] == rows
    assert read_molecules(p, smiles_column="Name")[0][0] == (1, "ASPIRIN; acetylsalicylic acid, 2-acetoxybenzoic acid")
    check_smiles_column(p)
    check_smiles_column(p, "Smiles")
    with pytest.raises(InputError, match=r"has no column 'formula' \(columns: ChEMBL ID, Name, Smiles, Molecular Weight\)"):
        check_smiles_column(p, "formula")
    gz = tmp_path / "chembl.csv.gz"
    gz.write_bytes(gzip.compress(CHEMBL))
    assert read_molecules(gz) == (rows, errors)
    table = read_csv_rows(p)  # predict's reader: row i is read_molecules' row i + 1
    assert list(table.columns) == ["ChEMBL ID", "Name", "Smiles", "Molecular Weight"]
    assert [(i + 1, s) for i, s in enumerate(table["Smiles"]) if s] == rows and len(table) == 5
    assert table["Name"].tolist()[:4] == ["ASPIRIN; acetylsalicylic acid, 2-acetoxybenzoic acid", "", "ETHANOL", "multi\r\nline; name"]
    assert read_csv_rows(gz).equals(table)
    p.write_bytes(CHEMBL + b'"CHEMBL2";"LONG";"CCC";"1";"spare"\r\n')  # a row too long is shown as written
    assert [str(e) for e in read_molecules(p)[1]][-1] == "row 6: 5 fields, the header has 4 ('CHEMBL2;LONG;CCC;1;spare')"

    t = tmp_path / "tabs.csv"
    t.write_text('name\tsmiles\tnote\n"ethanol, dry"\tCCO\ta;b\n\nbenzene\tc1ccccc1\t\n')
    molecules, errors = read_molecules(t)
    assert molecules == [(1, "CCO"), (3, "c1ccccc1")]
    assert [str(e) for e in errors] == ["row 2: empty row"]
    check_smiles_column(t)
    assert read_csv_rows(t).values.tolist() == [["ethanol, dry", "CCO", "a;b"], ["", "", ""], ["benzene", "c1ccccc1", ""]]


@pytest.mark.parametrize(
    "header, sep",
    [("smiles", ","), ("name,smiles", ","), ("name,smiles;notes", ","), ('"a;b",smiles', ","), ('"a;b"', ","),
     ("Name;SMILES", ";"), ('"ChEMBL ID";"Name";"Smiles"', ";"), ("a;b\tsmiles", ";"), ("a\tb;c\tsmiles", "\t"), ("", ",")],
)
def test_csv_separator_is_decided_from_the_header_line(tmp_path, header, sep):
    """Commas unless the header read with commas is one column holding a ';' or a tab: a
    comma CSV is read as before."""
    from molvae.data import csv_separator

    p = tmp_path / "mols.csv"
    p.write_text(f"{header}\nCCO\n")
    assert csv_separator(p) == sep


def test_csv_row_without_its_smiles_field_is_not_called_empty(tmp_path):
    """A row with fewer fields than the header, none of them the SMILES one, was an
    'empty row' (and evaluate did not list it), though it holds text."""
    p = tmp_path / "mols.csv"
    p.write_text("name,id,smiles\nethanol,1,CCO\nmethanol\n,,\nbenzene,2\n")
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [str(e) for e in errors] == [
        "row 2: 1 field, the header has 3 (no 'smiles' field) ('methanol')",
        "row 3: empty row",
        "row 4: 2 fields, the header has 3 (no 'smiles' field) ('benzene,2')",
    ]


def test_csv_smiles_column_any_case_or_named(tmp_path):
    p = tmp_path / "mols.csv"
    p.write_text("Name,SMILES,other\nethanol,CCO,x\nbenzene,c1ccccc1,y\n")
    assert read_molecules(p)[0] == [(1, "CCO"), (2, "c1ccccc1")]
    assert read_molecules(p, smiles_column="other")[0] == [(1, "x"), (2, "y")]


def test_csv_with_two_columns_of_the_same_name_says_which_is_read(tmp_path, caplog):
    """Two columns named 'smiles' (an input and a canonical form): the first was read
    without a word."""
    p = tmp_path / "mols.csv"
    p.write_text("id,smiles,smiles\n1,OCC,CCO\n")
    with caplog.at_level("WARNING", logger="molvae.data"):
        assert read_molecules(p)[0] == [(1, "OCC")]
        assert read_molecules(p, smiles_column="smiles")[0] == [(1, "OCC")]
    assert [r.getMessage() for r in caplog.records] == [f"{p} has 2 columns named 'smiles': reading the first (column 2)"] * 2


def test_csv_with_two_smiles_columns_in_different_case_says_which_is_read(tmp_path, caplog):
    """'Smiles' and 'SMILES' (an input and a canonical form) are both the default column
    'smiles' in any case: the first was read without a word, where two columns of one
    name were named in a warning. Now both cases warn; a column named with
    --smiles-column is read without one."""
    p = tmp_path / "mols.csv"
    p.write_text("id,Smiles,SMILES\n1,OCC,CCN\n")
    with caplog.at_level("WARNING", logger="molvae.data"):
        assert read_molecules(p)[0] == [(1, "OCC")]
        assert read_molecules(p, smiles_column="SMILES")[0] == [(1, "CCN")]
    assert [r.getMessage() for r in caplog.records] == [f"{p} has 2 columns named 'smiles' in some case (Smiles, SMILES): reading the first, 'Smiles' (column 2)"]


def test_csv_na_strings_are_not_dropped(tmp_path):
    p = tmp_path / "mols.csv"
    p.write_text("smiles\nNA\nnan\nCCO\n")
    rows, errors = read_molecules(p)
    assert [r for r, _ in rows] == [1, 2, 3] and errors == []


def test_wrong_column_names_the_columns(tmp_path):
    p = tmp_path / "mols.csv"
    p.write_text("name,structure\nethanol,CCO\n")
    with pytest.raises(InputError) as info:
        read_molecules(p)
    msg = str(info.value)
    assert "smiles" in msg and "name" in msg and "structure" in msg
    with pytest.raises(InputError) as info:
        read_molecules(p, smiles_column="smi")
    assert "'smi'" in str(info.value) and "structure" in str(info.value)


def test_named_column_falls_back_to_its_only_match_in_any_case(tmp_path):
    """--smiles-column smiles found 'SMILES' only by default; a named column now too."""
    p = tmp_path / "mols.csv"
    p.write_text("Name,Canonical_SMILES,x\nethanol,CCO,1\n")
    assert read_molecules(p, smiles_column="canonical_smiles")[0] == [(1, "CCO")]
    both = tmp_path / "both.csv"
    both.write_text("mol,MOL\nCCO,CCN\n")
    assert read_molecules(both, smiles_column="MOL")[0] == [(1, "CCN")]  # the exact name first
    with pytest.raises(InputError, match="no column 'Mol'"):
        read_molecules(both, smiles_column="Mol")  # two matches in other cases: which one?


def test_check_smiles_column_reads_the_header_only(tmp_path):
    p = tmp_path / "ref.csv"
    p.write_text("id,mol\n1,CCO\n2,not a smiles\n")
    check_smiles_column(p, "mol")
    check_smiles_column(p, "MOL")
    with pytest.raises(InputError, match="no 'smiles' column .*name one with --reference-column"):
        check_smiles_column(p, option="--reference-column")
    with pytest.raises(InputError, match="no column 'smi'"):
        check_smiles_column(p, "smi")
    with pytest.raises(InputError, match="not found"):
        check_smiles_column(tmp_path / "absent.csv")
    smi = tmp_path / "ref.smi"
    smi.write_text("CCO\n")
    check_smiles_column(smi)  # no columns to check in a .smi file


def _molecule_file(path):
    """Two molecules in the format the name says (.smi, .smi.gz, .txt or .sdf)."""
    if path.suffix == ".sdf":
        with Chem.SDWriter(str(path)) as w:
            for s in ["CCO", "c1ccccc1"]:
                w.write(Chem.MolFromSmiles(s))
    elif path.suffix == ".gz":
        with gzip.open(path, "wt") as fh:
            fh.write("smiles\nCCO\nc1ccccc1\n")
    else:
        path.write_text("smiles\nCCO\nc1ccccc1\n")
    return path



def test_python_calls_name_the_smiles_column_argument_not_the_cli_flag(tmp_path):
    """read_molecules, check_smiles_column, csv_smiles_column and moses.read_samples
    named the CLI's --smiles-column in their errors by default, so a Python call
    (read_molecules(path, smiles_column="x")) was told of a flag it never gave. They
    name the argument, smiles_column, now; the CLI passes its flag (tests/cli)."""
    from molvae.data import csv_smiles_column
    from molvae.moses import read_samples

    smi = _molecule_file(tmp_path / "mols.smi")
    calls = [
        lambda: read_molecules(smi, smiles_column="smiles"),
        lambda: check_smiles_column(smi, "smiles"),
        lambda: read_samples(smi, smiles_column="smiles"),
    ]
    for call in calls:
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == "smiles_column applies only to CSV input (.csv, .csv.gz), not mols.smi"
    csv = tmp_path / "mols.csv"
    csv.write_text("name,structure\nethanol,CCO\n")
    calls = [
        lambda: read_molecules(csv),
        lambda: check_smiles_column(csv),
        lambda: csv_smiles_column(csv, ["name", "structure"]),
        lambda: read_samples(csv),
    ]
    for call in calls:
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == f"{csv} has no 'smiles' column (columns: name, structure); name one with smiles_column"
    with pytest.raises(InputError) as info:  # the CLI names its flag, as before
        read_molecules(csv, option="--smiles-column")
    assert str(info.value).endswith("; name one with --smiles-column")

@pytest.mark.parametrize("name", ["mols.smi", "mols.smi.gz", "mols.txt", "mols.sdf"])
def test_smiles_column_is_refused_for_input_that_is_not_csv(tmp_path, name):
    """A SMILES column named for a file without columns was ignored without a word."""
    p = _molecule_file(tmp_path / name)
    message = f"smiles_column applies only to CSV input (.csv, .csv.gz), not {name}"
    with pytest.raises(InputError) as info:
        read_molecules(p, smiles_column="smiles")
    assert str(info.value) == message
    with pytest.raises(InputError) as info:
        check_smiles_column(p, "smiles", option="--reference-column")
    assert str(info.value) == message.replace("smiles_column", "--reference-column")
    with pytest.raises(InputError) as info:
        prepare_training_set(p, smiles_column="smiles", cache_dir=tmp_path / "cache")
    assert str(info.value) == message
    assert [s for _, s in read_molecules(p)[0]] == ["CCO", "c1ccccc1"]  # without one, read as before


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("smiles\n", "holds no molecules"),
        ("smiles\n\n\n", "holds no molecules (2 empty or unreadable rows)"),
        ("smiles\n\n", "holds no molecules (1 empty or unreadable row)"),
        # the one line a command prints said only '1 empty or unreadable rows': why is said now
        ('name,smiles\n"5 tube,CCO\nx,CCN\n', "holds no molecules (1 empty or unreadable row; row 1: a quoted field runs from line 2 to the end of the file (line 3) (a quote left open?) ('5 tube,CCO'))"),
        ("smiles\n\n\nx,y,z\n", "holds no molecules (3 empty or unreadable rows; row 3: 3 fields, the header has 1 ('x,y,z'))"),
    ],
)
def test_empty_csv(tmp_path, content, message):
    # the whole message: the file's name alone ("empty.csv") was in any error about the file
    p = tmp_path / "empty.csv"
    p.write_text(content)
    with pytest.raises(InputError) as info:
        read_molecules(p)
    assert str(info.value) == f"{p} {message}"


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_molecules(tmp_path / "nope.csv")


@pytest.mark.parametrize("name, shown", [("mols.xyz", "'.xyz'"), ("mols.json", "'.json'"), ("mols", "''"), ("mols.mol2.gz", "'.mol2.gz'")])
def test_unsupported_extension(tmp_path, name, shown):
    """The message names the whole extension (.mol2.gz, not .gz) and every accepted one."""
    p = tmp_path / name
    p.write_text("CCO\n")
    with pytest.raises(InputError, match="extension") as info:
        read_molecules(p)
    assert str(info.value) == f"unsupported input extension {shown}: use .csv, .csv.gz, .smi, .smi.gz, .txt, .sdf or .sdf.gz"


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_smi_with_header_names_and_blank_lines(tmp_path):
    p = tmp_path / "mols.smi"
    p.write_text("smiles name\nCCO ethanol\n\nc1ccccc1\tbenzene\nC1CC broken\n")
    rows, errors = read_molecules(p)
    assert rows == [(2, "CCO"), (4, "c1ccccc1"), (5, "C1CC")]
    assert [e.row for e in errors] == [3]


def test_smi_comment_lines_are_no_rows(tmp_path):
    """A line starting with '#' was a row whose SMILES was '#' (evaluate counted it as an
    invalid draw); it is a comment, and the header may follow comments."""
    p = tmp_path / "mols.smi"
    p.write_text("# my molecules\n# made today\nSMILES Name\nCCO ethanol\n#CCN left out\nc1ccccc1 benzene\n")
    assert read_molecules(p) == ([(4, "CCO"), (6, "c1ccccc1")], [])


@pytest.mark.parametrize("name", ["mols.txt", "mols.smi"])
def test_smi_that_is_sdf_or_csv_is_refused(tmp_path, name):
    """An SDF file named .txt was read a line at a time: its title, counts and atom lines
    were rows (a property value such as 'CCO' a molecule); a CSV named .smi made every line
    one unparsable row. One message says what the file is."""
    p = tmp_path / name
    with Chem.SDWriter(str(p)) as w:
        w.write(Chem.MolFromSmiles("CCO"))
    with pytest.raises(InputError) as info:
        read_molecules(p)
    assert str(info.value) == f"{p} holds SDF records (line 10 is 'M  END'), not a SMILES on each line: name it .sdf"
    p.write_text("smiles,name\nCCO,ethanol\n")
    with pytest.raises(InputError) as info:
        read_molecules(p)
    assert str(info.value) == f"{p} starts with the CSV header 'smiles,name', not a SMILES: name it .csv"


def test_smi_gz_and_txt(tmp_path):
    gz = tmp_path / "mols.smi.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("CCO\nCCN\n")
    assert read_molecules(gz)[0] == [(1, "CCO"), (2, "CCN")]
    txt = tmp_path / "mols.txt"
    txt.write_text("CCO\n")
    assert read_molecules(txt)[0] == [(1, "CCO")]
    csvgz = tmp_path / "mols.csv.gz"
    with gzip.open(csvgz, "wt") as fh:
        fh.write("smiles\nCCO\n")
    assert read_molecules(csvgz)[0] == [(1, "CCO")]


def test_sdf_with_an_unreadable_record(tmp_path):
    good1 = Chem.MolToMolBlock(Chem.MolFromSmiles("c1ccccc1O"))
    good2 = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    # carbon with two triple bonds: RDKit refuses the record
    bad = good2.replace("  1  2  1  0", "  1  2  3  0").replace("  2  3  1  0", "  2  3  3  0")
    assert bad != good2
    p = tmp_path / "mols.sdf"
    p.write_text("$$$$\n".join([good1, bad, good2]) + "$$$$\n")
    rows, errors = read_molecules(p)
    assert rows == [(1, "Oc1ccccc1"), (3, "CCO")]
    assert [e.row for e in errors] == [2]


def test_sdf_record_without_a_molecule_block_loses_no_other_record(tmp_path):
    """RDKit's SDMolSupplier, after a record without a molecule block (only data fields)
    or an empty one, read on to the end of the next record: that good molecule was lost
    without a word. Every record is read or reported, by its number, title and lines."""
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    acid = Chem.MolToMolBlock(Chem.MolFromSmiles("CC(=O)O"))
    p = tmp_path / "mols.sdf"
    p.write_text(good + "$$$$\n> <name>\nfoo\n\n$$$$\n" + acid + "$$$$\n$$$$\n" + good + "$$$$\n")
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO"), (3, "CC(=O)O"), (5, "CCO")]
    n = good.count("\n")
    assert [str(e) for e in errors] == [
        f"row 2: SDF record '> <name>' (lines {n + 2}-{n + 5} of the file): no molecule block (no 'M  END' line)",
        f"row 4: empty SDF record (line {n + 6 + acid.count(chr(10)) + 1} of the file)",
    ]


def test_sdf_skipped_record_says_why(tmp_path):
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    bad = good.replace("  1  2  1  0", "  1  2  3  0").replace("  2  3  1  0", "  2  3  3  0")  # C with two triple bonds
    named = Chem.MolFromSmiles("CCO")
    named.SetProp("_Name", "ethanol 7")
    broken = Chem.MolToMolBlock(named).replace("  3  2  0", "  3  5  0")  # five bonds announced, two given
    p = tmp_path / "mols.sdf"
    p.write_text(good + "$$$$\n" + bad + "$$$$\n" + broken + "$$$$\n" + Chem.MolToMolBlock(Chem.Mol()) + "$$$$\n")
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [e.row for e in errors] == [2, 3, 4]
    assert errors[0].reason.startswith("SDF record (lines 12-22 of the file): RDKit cannot sanitize its molecule (Explicit valence for atom # 1 C")
    assert errors[1].reason == "SDF record 'ethanol 7' (lines 23-33 of the file): RDKit cannot read its molecule block"
    assert errors[2].reason == "SDF record (lines 34-39 of the file): no atoms"


def test_sdf_gz_v3000_crlf_and_other_encodings_in_data_fields(tmp_path):
    """.sdf.gz was refused as an unknown extension; V3000 and CRLF records are read, and a
    data field that is not UTF-8 (a Latin-1 name) does not stop the file."""
    mols = [Chem.MolFromSmiles(s) for s in ["C[C@H](N)C(=O)O", "F/C=C/F", "CC(=O)[O-].[Na+]"]]
    plain = tmp_path / "v3.sdf"
    with Chem.SDWriter(str(plain)) as w:
        w.SetForceV3000(True)
        for m in mols:
            m.SetProp("odd name <x>", "caf\u00e9")
            w.write(m)
    text = plain.read_text()
    assert "V3000" in text
    expected = [(1, "C[C@H](N)C(=O)O"), (2, "F/C=C/F"), (3, "CC(=O)[O-].[Na+]")]
    with gzip.open(tmp_path / "v3.sdf.gz", "wb") as fh:
        fh.write(text.replace("\n", "\r\n").replace("caf\u00e9", "caf\u00e9").encode("latin-1"))
    assert read_molecules(tmp_path / "v3.sdf.gz") == (expected, [])
    (tmp_path / "v3.SDF.GZ").write_bytes((tmp_path / "v3.sdf.gz").read_bytes())
    assert read_molecules(tmp_path / "v3.SDF.GZ") == (expected, [])
    plain.write_bytes(text.encode("latin-1"))
    assert read_molecules(plain) == (expected, [])
    cut = tmp_path / "cut.sdf.gz"
    cut.write_bytes((tmp_path / "v3.sdf.gz").read_bytes()[:-30])
    with pytest.raises(InputError, match="cut.sdf.gz cannot be read"):
        read_molecules(cut)


def test_sdf_record_too_large_for_rdkit_is_a_skipped_row(tmp_path):
    """A record of 20,000 atoms (a polymer) killed the process in RDKit's SMILES writer (a
    segmentation fault, no message); it is a skipped row. Run in a child process, so that
    the old crash fails this test instead of ending the session."""
    import subprocess
    import sys

    n = 20_000
    chain = "\n".join(
        ["chain", "  molvae", "", "  0  0  0     0  0            999 V3000", "M  V30 BEGIN CTAB", f"M  V30 COUNTS {n} {n - 1} 0 0 0", "M  V30 BEGIN ATOM"]
        + [f"M  V30 {i} C 0 0 0 0" for i in range(1, n + 1)]
        + ["M  V30 END ATOM", "M  V30 BEGIN BOND"]
        + [f"M  V30 {i} 1 {i} {i + 1}" for i in range(1, n)]
        + ["M  V30 END BOND", "M  V30 END CTAB", "M  END", "$$$$", ""]
    )
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")) + "$$$$\n"
    p = tmp_path / "mols.sdf"
    p.write_text(good + chain + good)
    code = f"from molvae.data import read_molecules\nrows, errors = read_molecules({str(p)!r})\nprint(rows)\nprint([str(e) for e in errors])\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines() == ["[(1, 'CCO'), (3, 'CCO')]", "[\"row 2: SDF record 'chain' (lines 12-40023 of the file): 20,000 atoms, more than the 10,000 read\"]"]


@pytest.mark.parametrize(
    "content, message",
    [
        (gzip.compress(Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")).encode() + b"$$$$\n"), "is gzip-compressed: name it mols.sdf.gz"),
        ("CCO\nCCN\n".encode("utf-16"), "is UTF-16 text, not UTF-8: save it as UTF-8"),
        (b"smiles\nCCO\n", "is no SDF file: no line 'M  END' ends a molecule block in it"),
    ],
    ids=["gzip", "utf-16", "smiles"],
)
def test_sdf_that_is_something_else_is_named_for_it(tmp_path, content, message):
    """A gzip file named .sdf, UTF-16 text or a SMILES list was one record that RDKit
    could not read, 'the file is cut off inside it', its title the file's first bytes."""
    p = tmp_path / "mols.sdf"
    p.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_molecules(p)
    assert str(info.value) == f"{p} {message}"


def test_sdf_written_by_rdkit(tmp_path):
    p = tmp_path / "mols.sdf"
    with Chem.SDWriter(str(p)) as w:
        for s in ["CCO", "c1ccncc1", "CC(=O)Oc1ccccc1C(=O)O"]:
            w.write(Chem.MolFromSmiles(s))
    rows, errors = read_molecules(p)
    assert [s for _, s in rows] == ["CCO", "c1ccncc1", "CC(=O)Oc1ccccc1C(=O)O"]
    assert [r for r, _ in rows] == [1, 2, 3] and errors == []


def test_a_row_error_shows_a_long_input_shortened():
    """Each skipped row is printed with its input: a 20,000-character SMILES was printed
    whole, hundreds of lines of it."""
    assert str(RowError(2, "C" * 20_000, "too long")) == f"row 2: too long ('{'C' * 80}... (20,000 characters)')"
    assert str(RowError(3, "C" * 100, "x")) == f"row 3: x ('{'C' * 100}')"
    assert str(RowError(4, "", "empty row")) == "row 4: empty row"


# ---------------------------------------------------------------------- SELFIES
def test_to_selfies_round_trip():
    canonical, s = to_selfies("CC(=O)[O-].[Na+]")
    assert canonical == "CC(=O)O"
    assert Chem.CanonSmiles(sf.decoder(s)) == canonical
    _, s2 = to_selfies("C[C@H](N)O", remove_stereo=True)
    assert "@" not in s2


def test_to_selfies_names_the_standardized_form_selfies_cannot_encode():
    """RDKit reads cisplatin's bonds to Pt as dative ('->'), which selfies cannot parse:
    the reason was 'selfies cannot encode (failed to parse input)' beside a SMILES that
    parses, without the text selfies was given."""
    with pytest.raises(InvalidMoleculeError) as info:
        to_selfies("Cl[Pt](Cl)([NH3])[NH3]")
    assert info.value.reason == "selfies cannot encode the standardized '[NH3]->[Pt](<-[NH3])([Cl])[Cl]' (failed to parse input)"
    with pytest.raises(InvalidMoleculeError) as info:
        to_selfies(" *C ")  # kept as it is by standardization: the input says it all
    assert info.value.reason == "selfies cannot encode (failed to parse input)"


def test_to_selfies_invalid():
    with pytest.raises(InvalidMoleculeError):
        to_selfies("C1CC")


# ---------------------------------------------------------------------- prepared set
def test_prepare_training_set_reports_rows_and_caches(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("MOLVAE_CACHE", str(cache))
    p = tmp_path / "train.csv"
    p.write_text("smiles\nCCO\n\nC1CC\nCC(=O)[O-].[Na+]\nc1ccccc1\nOCC\n" + "C" * 30 + "\n")
    prep = prepare_training_set(p, max_length=20)
    assert sorted((e.row, e.reason.split()[0]) for e in prep.errors) == [(2, "empty"), (3, "RDKit"), (7, "30")]
    assert list(prep.rows) == [1, 4, 5, 6]
    assert prep.alphabet.max_length == 20
    assert [prep.alphabet.decode(t) for t in prep.tokens] == [sf.encoder(s) for s in ["CCO", "CC(=O)O", "c1ccccc1", "CCO"]]
    # hashes: sorted, unique (CCO twice), of the canonical SMILES
    expected = sorted({smiles_hash(c) for c in ["CCO", "CC(=O)O", "c1ccccc1"]})
    assert list(prep.hashes) == expected
    assert prep.source["file"] == "train.csv" and len(prep.source["sha256"]) == 64
    # the cache lives where MOLVAE_CACHE says and gives back the same set
    files = list(cache.glob("tokens-*.npz"))
    assert len(files) == 1
    again = prepare_training_set(p, max_length=20)
    assert [t.tolist() for t in again.tokens] == [t.tolist() for t in prep.tokens]
    assert again.alphabet.itos == prep.alphabet.itos
    assert list(again.rows) == list(prep.rows) and list(again.hashes) == list(prep.hashes)
    assert [(e.row, e.input, e.reason) for e in again.errors] == [(e.row, e.input, e.reason) for e in prep.errors]
    # another option or changed content: another cache entry, never a stale one
    prepare_training_set(p)
    assert len(list(cache.glob("tokens-*.npz"))) == 2
    p.write_text("smiles\nCCN\n")
    changed = prepare_training_set(p, max_length=20)
    assert [changed.alphabet.decode(t) for t in changed.tokens] == [sf.encoder("CCN")]
    assert not list(cache.glob("*.tmp*"))


def test_prepare_training_set_does_not_reuse_a_set_read_the_old_way(tmp_path, monkeypatch):
    """The token cache was keyed by the file and the options only: a set prepared before
    the reader changed (an SDF whose records after an empty one were lost) was reused."""
    import hashlib
    import json

    from molvae.data import sha256_of_file

    cache = tmp_path / "cache"
    monkeypatch.setenv("MOLVAE_CACHE", str(cache))
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    p = tmp_path / "train.sdf"
    p.write_text(good + "$$$$\n$$$$\n" + Chem.MolToMolBlock(Chem.MolFromSmiles("c1ccccc1")) + "$$$$\n")
    # the entry the old code wrote for this file: its key, and the one molecule it read
    old_key = hashlib.sha256(json.dumps([sha256_of_file(p), None, False, None, sf.__version__]).encode()).hexdigest()[:20]
    one = tmp_path / "one.csv"
    one.write_text("smiles\nCCO\n")
    prepare_training_set(one, cache_dir=tmp_path / "scratch")
    cache.mkdir()
    next((tmp_path / "scratch").glob("tokens-*.npz")).rename(cache / f"tokens-{old_key}.npz")
    prep = prepare_training_set(p)
    assert [sf.decoder(prep.alphabet.decode(t)) for t in prep.tokens] == ["CCO", "C1=CC=CC=C1"]
    assert list(prep.rows) == [1, 3] and [e.row for e in prep.errors] == [2]


def test_two_processes_preparing_one_set_write_the_token_cache_each(tmp_path, monkeypatch, caplog):
    """Two trainings started together on one file (a sweep; DDP ranks) both write the token
    cache, and both wrote it through one temporary name (tokens-KEY.tmp.npz): one truncated
    or renamed the file the other was writing. Here the second writes its cache while the
    first is between writing its temporary file and renaming it: the first's rename found
    no file ('could not write token cache ... No such file'). Each now has its own."""
    import logging

    import molvae.data as data

    cache = tmp_path / "cache"
    monkeypatch.setenv("MOLVAE_CACHE", str(cache))
    p = tmp_path / "train.csv"
    p.write_text("smiles\nCCO\nc1ccccc1\nCC(=O)O\n")
    savez, other = np.savez, []

    def savez_then_the_other_process_writes(file, *args, **kwargs):
        savez(file, *args, **kwargs)
        if not other:  # the first writer, before its rename
            monkeypatch.setattr(data.np, "savez", savez)
            other.append(prepare_training_set(p))

    monkeypatch.setattr(data.np, "savez", savez_then_the_other_process_writes)
    with caplog.at_level(logging.WARNING, logger="molvae"):
        first = prepare_training_set(p)
    assert other and not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert [f.name for f in cache.iterdir()] == [next(cache.glob("tokens-*.npz")).name]  # no temporary file left
    again = prepare_training_set(p)
    assert [t.tolist() for t in again.tokens] == [t.tolist() for t in first.tokens] == [t.tolist() for t in other[0].tokens]


def test_an_unreadable_token_cache_is_prepared_again(tmp_path, monkeypatch, caplog):
    """A token cache cut short (written in place by a process killed meanwhile) made every
    later training on the file fail to load it; it is now ignored with a warning and
    written again."""
    import logging

    cache = tmp_path / "cache"
    monkeypatch.setenv("MOLVAE_CACHE", str(cache))
    p = tmp_path / "train.csv"
    p.write_text("smiles\nCCO\nc1ccccc1\n")
    want = prepare_training_set(p)
    (entry,) = cache.glob("tokens-*.npz")
    entry.write_bytes(entry.read_bytes()[:100])
    with caplog.at_level(logging.WARNING, logger="molvae"):
        got = prepare_training_set(p)
    assert "ignoring unreadable token cache" in caplog.text
    assert [t.tolist() for t in got.tokens] == [t.tolist() for t in want.tokens]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="molvae"):
        assert [t.tolist() for t in prepare_training_set(p).tokens] == [t.tolist() for t in want.tokens]
    assert not caplog.text  # written again, whole


def test_prepare_training_set_with_nothing_usable(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLVAE_CACHE", str(tmp_path / "cache"))
    p = tmp_path / "bad.csv"
    p.write_text("smiles\nC1CC\nxx\n")
    with pytest.raises(InputError, match="no molecule"):
        prepare_training_set(p)
    with pytest.raises(InputError, match="not found"):
        prepare_training_set(tmp_path / "missing.csv")


def test_session_cache_is_isolated(prepared, molvae_cache):
    assert os.environ["MOLVAE_CACHE"] == str(molvae_cache)
    assert list(molvae_cache.glob("tokens-*.npz"))
    assert len(prepared.tokens) == 3000 and prepared.errors == []


# ---------------------------------------------------------------------- writing
@pytest.mark.parametrize("name", ["out.txt", "out.png", "out"])
def test_check_output_path_rejects_unknown_extension(tmp_path, name):
    with pytest.raises(InputError, match="extension"):
        check_output_path(tmp_path / name)


def test_check_output_path_names_a_folder_without_an_extension_as_a_folder(tmp_path):
    """'-o adir' (an existing folder) said "unknown output extension '(none)' for adir"."""
    (tmp_path / "adir").mkdir()
    with pytest.raises(InputError, match="output path is a folder"):
        check_output_path(tmp_path / "adir")


def test_check_output_path_names_a_file_used_as_a_folder(tmp_path, cli, expect_error, model_path):
    """'-o afile.csv/x.csv' (afile.csv an existing file) said "output folder does not exist:
    afile.csv", which exists; it now says it is a file, for -o and --image alike."""
    afile = tmp_path / "afile.csv"
    afile.write_text("smiles\nCCO\n")
    with pytest.raises(InputError, match=r"afile.csv is a file, not a folder \(for x.csv\)"):
        check_output_path(afile / "x.csv")
    expect_error(cli("generate", "-n", "2", "-o", "afile.csv/x.csv", "--model", model_path, cwd=tmp_path), "error: afile.csv is a file, not a folder (for x.csv)")
    expect_error(cli("generate", "-n", "2", "-o", "g.csv", "--image", "afile.csv/g.png", "--model", model_path, cwd=tmp_path), "afile.csv is a file, not a folder (for g.png)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.csv"]


def test_check_output_path_rejects_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "no" / "out.csv")
    assert check_output_path(tmp_path / "out.SDF") == tmp_path / "out.SDF"


@pytest.fixture
def table():
    return pd.DataFrame({"smiles": ["CCO", "c1ccccc1", ""], "qed": [0.4, 0.44, float("nan")], "novel": [True, False, False]})


def test_write_csv_smi_sdf(tmp_path, table):
    write_molecules(table, tmp_path / "m.csv")
    back = pd.read_csv(tmp_path / "m.csv", keep_default_na=False)
    assert list(back.columns) == ["smiles", "qed", "novel"]
    assert back["smiles"].tolist() == ["CCO", "c1ccccc1", ""]

    write_molecules(table, tmp_path / "m.smi")
    assert (tmp_path / "m.smi").read_text() == "CCO\nc1ccccc1\n\n"

    write_molecules(table, tmp_path / "m.sdf")
    mols = list(Chem.SDMolSupplier(str(tmp_path / "m.sdf")))
    assert len(mols) == 3
    assert Chem.MolToSmiles(mols[0]) == "CCO" and mols[0].GetProp("qed") == "0.4"
    assert mols[1].GetProp("novel") == "False"
    assert mols[2].GetNumAtoms() == 0  # invalid rows are kept as empty records


class _DiskFull:
    """A cell whose formatting fails as a full disk would, after the rows before it are written."""

    def __str__(self):
        raise OSError(28, "No space left on device")

    __repr__ = __str__

    def __format__(self, spec):
        return str(self)


@pytest.mark.parametrize("suffix", [".csv", ".smi", ".sdf"])
def test_a_failed_write_leaves_no_partial_file(tmp_path, table, suffix):
    """write_molecules wrote straight to the final name: a write failing midway (a full
    disk) left the rows before it as a complete-looking file, over an earlier one. It now
    writes a temporary beside it and renames it into place: on failure the temporary is
    removed, the old file is left as it was, and the error names the file asked for."""
    column = "smiles" if suffix == ".smi" else "qed"
    bad = table.astype(object)
    bad.loc[2, column] = _DiskFull()
    path = tmp_path / f"m{suffix}"
    with pytest.raises(OSError, match="No space left on device") as info:
        write_molecules(bad, path)
    assert info.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []
    path.write_text("old")
    with pytest.raises(OSError):
        write_molecules(bad, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name] and path.read_text() == "old"
    write_molecules(table, path)  # and a good table replaces it
    assert [p.name for p in tmp_path.iterdir()] == [path.name] and "CCO" in path.read_text()


def test_a_write_goes_through_a_link_and_straight_to_a_device(tmp_path, table):
    """The all-at-once write (2874ac1) renamed its temporary over the path itself: '-o
    link.csv', a link to a file, replaced the link by a file and left its target as it
    was, and '-o full.csv', a link to /dev/full, wrote a file instead of failing. A link is
    now written through (its target replaced, the link kept) and a device written directly."""
    import os

    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_molecules(table, link)
    assert link.is_symlink() and "CCO" in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]
    bad = table.astype(object)
    bad.loc[2, "qed"] = _DiskFull()
    before = target.read_text()
    with pytest.raises(OSError) as info:
        write_molecules(bad, link)
    assert info.value.filename == str(link) and target.read_text() == before and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "target.csv"]
    if os.path.exists("/dev/full"):
        (tmp_path / "full.csv").symlink_to("/dev/full")
        with pytest.raises(OSError, match="No space left on device") as info:
            write_molecules(table, tmp_path / "full.csv")
        assert info.value.filename == str(tmp_path / "full.csv")


def test_write_rejects_unknown_extension(tmp_path, table):
    with pytest.raises(InputError):
        write_molecules(table, tmp_path / "m.xlsx")
    assert not (tmp_path / "m.xlsx").exists()


def test_row_error_str():
    assert str(RowError(7, "C1CC", "RDKit cannot parse SMILES")) == "row 7: RDKit cannot parse SMILES ('C1CC')"


def _sigint_disposition(_):
    import signal

    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_preparation_workers_leave_ctrl_c_to_the_main_process():
    """Ctrl-C reaches the whole process group: workers that took it too each printed
    'Process ForkPoolWorker-N:' and the start of a traceback under molvae train's
    'interrupted'. They ignore SIGINT; the main process stops them."""
    import signal

    from molvae.data import _parallel_map

    # as in a terminal (a shell's background job, where pytest may run, starts ignoring it)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert _parallel_map(_sigint_disposition, list(range(4)), n_jobs=2, chunksize=1) == [True] * 4
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the main process keeps its handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_worker_pools_share_one_public_sigint_initializer():
    """The workers' SIGINT initializer was molvae.data's private _ignore_sigint, imported by
    molvae.generation and molvae.moses too. It is molvae.workers.ignore_sigint, public and
    documented, and no module uses the private name."""
    import inspect
    import signal

    from molvae import data, generation, moses
    from molvae.workers import ignore_sigint

    assert ignore_sigint.__doc__ and "SIGINT" in ignore_sigint.__doc__
    for module in (data, generation, moses):
        assert "_ignore_sigint" not in inspect.getsource(module), module.__name__
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ignore_sigint()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_sdf_cut_off_in_its_last_header_is_reported(tmp_path):
    # RDKit's SDMolSupplier silently drops a last record cut before its counts line is complete
    good = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO"))
    p = tmp_path / "mols.sdf"
    p.write_text(good + "$$$$\n" + good[:20])
    rows, errors = read_molecules(p)
    assert rows == [(1, "CCO")]
    assert [e.row for e in errors] == [2] and "cut off" in errors[0].reason
    p.write_text(good + "$$$$\n" + good + "$$$$\n\n  \n")  # trailing blank lines are no record
    assert read_molecules(p) == ([(1, "CCO"), (2, "CCO")], [])
    p.write_text(good + "$$$$\n" + good)  # a complete last record without $$$$ is read
    assert read_molecules(p) == ([(1, "CCO"), (2, "CCO")], [])


@pytest.mark.parametrize("n_jobs", [0, -1, 2.5, "2"])
def test_convert_rows_refuses_an_n_jobs_below_1(n_jobs):
    # 0 and -1 ran in this process; 2.5 failed inside multiprocessing with a bare TypeError
    from molvae.data import convert_rows

    with pytest.raises(ValueError, match=r"n_jobs must be an integer >= 1 .*got"):
        convert_rows([(1, "CCO")], n_jobs=n_jobs)


def test_convert_rows_with_n_jobs_none_is_one_process():
    from molvae.data import convert_rows

    good, errors = convert_rows([(1, "CCO"), (2, "xx")], n_jobs=None)
    assert [g[:2] for g in good] == [(1, "CCO")] and [e.row for e in errors] == [2]
