"""Reading molecules (CSV, SMI, SDF), turning them into token ids, and length-bucketed batches.

Invalid rows never abort a batch: readers and tokenizers return the good rows together
with a list of :class:`RowError` (row number, input, reason) for the caller to report.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import multiprocessing as mp
import os
import secrets
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import selfies as sf

from molvae.alphabet import Alphabet, AlphabetError
from molvae.checks import check_n_jobs
from molvae.chem import MAX_SMILES_LENGTH, InvalidMoleculeError, quiet_rdkit, smiles_hash, standardize, to_mol
from molvae.workers import ignore_sigint

__all__ = [
    "RowError",
    "InputError",
    "read_molecules",
    "check_smiles_column",
    "csv_smiles_column",
    "csv_separator",
    "to_selfies",
    "PreparedSet",
    "prepare_training_set",
    "LengthBucketBatches",
    "property_labels",
    "sha256_of_file",
]

log = logging.getLogger(__name__)

#: Input file kinds by suffix (``.gz`` allowed after ``.csv``, ``.smi`` and ``.sdf``).
SUFFIXES = (".csv", ".smi", ".sdf", ".csv.gz", ".smi.gz", ".sdf.gz", ".txt")


class InputError(ValueError):
    """The input as a whole cannot be used (missing file, no molecules, wrong column ...).

    Attributes
    ----------
    errors : list of RowError
        When no row was usable: why each row was skipped (empty otherwise).
    """

    def __init__(self, message: str, errors=()):
        super().__init__(message)
        self.errors = list(errors)


@dataclass(frozen=True)
class RowError:
    """A row that was skipped.

    Attributes
    ----------
    row : int
        From the file readers (:func:`read_molecules`, ``molvae`` commands): the 1-based
        row number in the input (data rows for CSV, lines for SMI, records for SDF). From
        functions given molecules in memory (:meth:`molvae.vae.MolVAE.try_encode`,
        :func:`molvae.metrics.reconstruction_accuracy`, :func:`molvae.predictors.annotate`):
        the 0-based position in what was given, whatever a Series' index.
    input : str
        The row's molecule text (may be empty).
    reason : str
        Why it was skipped.
    """

    row: int
    input: str
    reason: str

    def __str__(self) -> str:
        """``row 3: reason ('input')``; an input of over 100 characters is shown by its
        first 80 and its length (a 20,000-character SMILES filled the screen)."""
        return f"row {self.row}: {self.reason}" + (f" ({shortened(self.input)!r})" if self.input else "")


def shortened(text: str) -> str:
    """``text``, or its first 80 characters and its length when it has over 100 (a
    20,000-character SMILES in a row report filled the screen)."""
    return text if len(text) <= 100 else f"{text[:80]}... ({len(text):,} characters)"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in (".csv.gz", ".smi.gz", ".sdf.gz"):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def _open_text(path: Path, kind: str):
    """Open a text input, gunzipping ``.gz``; UTF-8 (a byte-order mark is dropped)."""
    if kind.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _csv_column(path: Path, header: list[str] | None, smiles_column: str | None, option: str) -> int:
    """Index of the SMILES column in a CSV header: ``smiles_column`` (exactly, else its
    only case-insensitive match), or the first column named ``smiles`` in any case.

    When there is none, a header that is one column holding a ``|`` (a file written with
    a separator that is not read; ``;`` and tabs are, see :func:`csv_separator`) is
    named as the cause, instead of a list of columns that is one name."""
    if header is None:
        raise InputError(f"{path} is empty")
    if not any(h.strip() for h in header):
        raise InputError(f"{path} has no column names on its first line, where a CSV file has its header")
    if smiles_column is None:
        matches = [c for c in header if c.strip().lower() == "smiles"]
        if not matches:
            _check_separator(path, header)
            smi = ""
            if to_mol(header[0].strip()) is not None:  # no header, perhaps: a file of SMILES alone
                smi = f", or, if its first line, {header[0].strip()!r}, is a molecule (no column names), name the file {path.name.split('.')[0]}.smi"
            raise InputError(f"{path} has no 'smiles' column (columns: {', '.join(header)}); name one with {option}{smi}")
        return header.index(matches[0])
    if smiles_column in header:
        return header.index(smiles_column)
    folded = [c for c in header if c.strip().lower() == smiles_column.strip().lower()]
    if len(folded) == 1:  # 'SMILES' for 'smiles', as the default column is found in any case
        return header.index(folded[0])
    _check_separator(path, header)
    raise InputError(f"{path} has no column {smiles_column!r} (columns: {', '.join(header)})")


def _check_separator(path: Path, header: list[str]) -> None:
    """InputError for a CSV header that is one column with a ``|`` inside (a separator
    that is not read)."""
    if len(header) == 1 and "|" in header[0]:
        raise InputError(f"{path} has its column names separated by '|', not commas (header {header[0]!r}): save it as comma-separated CSV")


def _separator_of(header_line: str) -> str:
    """The field separator of a CSV whose first line is ``header_line``: ``','`` unless
    the line read with commas is one column holding a ``;`` or a tab; then whichever of
    the two splits it into more columns (``;`` on a tie). A header that is one column
    (``smiles``) keeps ``','``, so a comma CSV is read exactly as before."""
    fields = next(csv.reader([header_line]), [])
    if len(fields) != 1:
        return ","
    best, most = ",", 1
    for sep in (";", "\t"):
        if sep in fields[0]:
            n = len(next(csv.reader([header_line], delimiter=sep), []))
            if n > most:
                best, most = sep, n
    return best


def csv_separator(path: str | os.PathLike) -> str:
    """The field separator of a CSV file, decided from its first line.

    ChEMBL's downloads, and Excel in many locales, write ``;`` between fields; a ``.csv``
    may also be tab-separated. :func:`read_molecules` and
    :func:`molvae.predictors.read_csv_rows` both read a file with this separator, so that
    they see the same records.

    Parameters
    ----------
    path : path-like
        A ``.csv`` or ``.csv.gz`` file (UTF-8, a byte-order mark dropped).

    Returns
    -------
    str
        ``','`` unless the first line, read with commas, is one column that holds a ``;``
        or a tab (``"ChEMBL ID";"Name";"Smiles"``); then ``';'`` or ``'\\t'``, whichever
        splits it into more columns.

    Raises
    ------
    UnicodeDecodeError, OSError, EOFError, zlib.error
        The first line cannot be read (callers turn these into their own messages).
    """
    path = Path(path)
    with _open_text(path, _suffix(path)) as fh:
        line = fh.readline()
    with _csv_field_limit():  # a first line over csv's 128 KiB field limit
        return _separator_of(line.rstrip("\r\n"))


def csv_smiles_column(path: str | os.PathLike, columns: Sequence[str], smiles_column: str | None = None, *, option: str = "smiles_column") -> str:
    """The SMILES column among a CSV's ``columns``, chosen as :func:`read_molecules` does.

    Parameters
    ----------
    path : path-like
        The CSV file (for the messages).
    columns : sequence of str
        Its header, as read (a ``pandas`` table's columns).
    smiles_column : str, optional
        That name exactly, else its only match in any case; None: the first column named
        ``smiles`` in any case.
    option : str
        How the caller names the column setting, for the messages: ``smiles_column``
        (this argument) by default; the CLI passes its flag, ``--smiles-column``.

    Returns
    -------
    str
        The column's name as it is in ``columns``.

    Raises
    ------
    InputError
        No such column.
    """
    columns = list(columns)
    return columns[_csv_column(Path(path), [str(c) for c in columns], smiles_column, option)]


#: The largest CSV field read (csv's default, 128 KiB, made a whole file unreadable when a
#: quote left open early in it took in the rest of the file as one field).
_CSV_FIELD_LIMIT = 2**31 - 1


@contextlib.contextmanager
def _csv_field_limit():
    """csv reads fields of up to :data:`_CSV_FIELD_LIMIT` characters inside the block."""
    before = csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _broken_quotes(path: Path, spans: dict[int, tuple[int, int]], sep: str = ",") -> dict[int, bool]:
    """Which of the CSV records that run over several lines a strict reader refuses.

    Parameters
    ----------
    path : Path
    spans : dict of int to (int, int)
        Row number -> first and last file line of the record.
    sep : str
        The file's field separator (:func:`csv_separator`).

    Returns
    -------
    dict of int to bool
        For each refused row, whether its quote is never closed (the file ends inside it).
    """
    order = sorted(spans.items(), key=lambda item: item[1][0])  # records do not overlap
    texts: dict[int, list[str]] = {}
    k = 0
    with _open_text(path, _suffix(path)) as fh:
        for n, line in enumerate(fh, start=1):
            while k < len(order) and n > order[k][1][1]:
                k += 1
            if k == len(order):
                break
            row, (first, _) = order[k]
            if n >= first:
                texts.setdefault(row, []).append(line)
    out = {}
    with _csv_field_limit():
        for row, lines in texts.items():
            try:
                for _ in csv.reader(io.StringIO("".join(lines), newline=""), delimiter=sep, strict=True):
                    pass
            except csv.Error as exc:
                out[row] = "unexpected end of data" in str(exc)
    return out


def _read_csv(path: Path, smiles_column: str | None, option: str = "smiles_column") -> tuple[list[tuple[int, str]], list[RowError]]:
    """CSV records numbered from 1 after the header (a blank line is a row, as in pandas).

    A quoted field may run over several lines (a name with a line break). A record that
    does so and has its SMILES field over several lines, or that a strict CSV reader
    refuses (a quote left open takes in the rows after it, up to the next quote or to
    the end of the file), is a skipped row naming the lines it took in, not a molecule.
    Fields are separated as :func:`csv_separator` finds from the first line (``,``,
    ``;`` or a tab)."""
    sep = csv_separator(path)
    rows: list[tuple[int, str]] = []
    errors: list[RowError] = []
    spans: dict[int, tuple[int, int]] = {}  # records over several lines: row -> first and last line
    shown: dict[int, str] = {}
    with _open_text(path, _suffix(path)) as fh, _csv_field_limit():
        reader = csv.reader(fh, delimiter=sep)
        header = next(reader, None)
        col = _csv_column(path, header, smiles_column, option)
        # the default column is 'smiles' in any case: 'Smiles' and 'SMILES' are two candidates
        alike = [h for h in header if h.strip().lower() == "smiles"] if smiles_column is None else []
        if len(alike) > header.count(header[col]):
            log.warning("%s has %d columns named 'smiles' in some case (%s): reading the first, %r (column %d)", path, len(alike), ", ".join(alike), header[col], col + 1)
        elif header.count(header[col]) > 1:
            log.warning("%s has %d columns named %r: reading the first (column %d)", path, header.count(header[col]), header[col], col + 1)
        first_line = reader.line_num + 1  # the file line where the next record starts
        for i, fields in enumerate(reader, start=1):
            start, first_line = first_line, reader.line_num + 1
            if start < reader.line_num:
                spans[i] = (start, reader.line_num)
                shown[i] = next((f for f in fields if "\n" in f or "\r" in f), "").strip().splitlines()[0].strip()
            if len(fields) > len(header):
                errors.append(RowError(i, sep.join(fields), f"{len(fields)} fields, the header has {len(header)}"))
                continue
            s = fields[col].strip() if col < len(fields) else ""
            if "\n" in s or "\r" in s:
                errors.append(RowError(i, shown[i], f"a quoted field runs from line {start} to line {reader.line_num} of the file (a quote left open?)"))
                del spans[i]
                continue
            if s:
                rows.append((i, s))
            elif col >= len(fields) and any(f.strip() for f in fields):  # not empty: its SMILES field is missing
                errors.append(RowError(i, sep.join(fields), f"{len(fields)} field{'s' if len(fields) > 1 else ''}, the header has {len(header)} (no {header[col]!r} field)"))
            else:
                errors.append(RowError(i, s, "empty row"))
        end = reader.line_num
    broken = _broken_quotes(path, spans, sep) if spans else {}
    if broken:
        rows = [r for r in rows if r[0] not in broken]
        errors = [e for e in errors if e.row not in broken]
        for i, to_the_end in broken.items():
            first, last = spans[i]
            lines = f"from line {first} to the end of the file (line {end})" if to_the_end else f"from line {first} to line {last} of the file"
            errors.append(RowError(i, shown[i], f"a quoted field runs {lines} (a quote left open?)"))
        errors.sort(key=lambda e: e.row)
    return rows, errors


def _read_smi(path: Path) -> tuple[list[tuple[int, str]], list[RowError]]:
    """The first field of each line, numbered by line.

    A blank line is a row (reported); a line starting with ``#`` is a comment (no SMILES
    starts with a bond symbol) and no row; the first other line is a header, and no row,
    when its first field is ``smiles`` in any case. A file that holds SDF records (a line
    ``$$$$`` or ``M  END``) or starts with a CSV header (``smiles,name``) is refused: each
    of its lines would be a row that is no molecule."""
    rows: list[tuple[int, str]] = []
    errors: list[RowError] = []
    first = True  # no line but blank ones and comments yet
    with _open_text(path, _suffix(path)) as fh:
        for i, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields:
                errors.append(RowError(i, "", "empty line"))
                continue
            if fields[0].startswith("#"):
                continue
            if fields[0] == "$$$$" or fields == ["M", "END"]:
                raise InputError(f"{path} holds SDF records (line {i} is {line.strip()!r}), not a SMILES on each line: name it .sdf")
            if first and fields[0].lower().startswith("smiles,"):
                raise InputError(f"{path} starts with the CSV header {line.strip()!r}, not a SMILES: name it .csv")
            if not (first and fields[0].lower() == "smiles"):
                rows.append((i, fields[0]))
            first = False
    return rows, errors


def _sdf_records(fh):
    """The records of an SDF file opened in binary, split at its ``$$$$`` lines.

    Yields
    ------
    first, last : int
        1-based file lines of the record (its ``$$$$`` line included).
    text : bytes
        The record without its ``$$$$`` line.
    terminated : bool
        False for text after the last ``$$$$`` (a last record without one, or a file cut
        off inside its last record); text there that is only blank lines is no record.
    """
    lines: list[bytes] = []
    first = n = 1
    for n, line in enumerate(fh, start=1):
        if line.rstrip() == b"$$$$":
            yield first, n, b"".join(lines), True
            lines, first = [], n + 1
        else:
            lines.append(line)
    if any(line.strip() for line in lines):
        yield first, n, b"".join(lines), False


def _sdf_record_problem(text: str, terminated: bool) -> str:
    """Why RDKit cannot read an SDF record (only called for one it cannot read)."""
    from rdkit import Chem

    if not terminated:
        return "the file is cut off inside it"
    if "M  END" not in text:
        return "no molecule block (no 'M  END' line)"
    mol = Chem.MolFromMolBlock(text, sanitize=False, removeHs=False)
    if mol is not None:
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit raises several C++-mapped types
            return f"RDKit cannot sanitize its molecule ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    return "RDKit cannot read its molecule block"


def _read_sdf(path: Path) -> tuple[list[tuple[int, str]], list[RowError]]:
    """SDF records numbered from 1, each read by RDKit as its ``SDMolSupplier`` would.

    The file is split at its ``$$$$`` lines here rather than by ``SDMolSupplier``, which
    resynchronizes after a record without a molecule block (or an empty one) by skipping
    to the end of the next record, losing a good molecule without a word. A skipped
    record's reason names its title and its lines in the file. Only the molecule blocks
    are read: the text of the data fields may be in any encoding."""
    from rdkit import Chem

    rows: list[tuple[int, str]] = []
    errors: list[RowError] = []
    opener = gzip.open if _suffix(path) == ".sdf.gz" else open
    blocks = 0  # records with an 'M  END' line
    with opener(path, "rb") as fh, quiet_rdkit():
        problem = _start_problem(path, fh.read(4), gz=opener is not open)
        if problem:
            raise InputError(problem)
        fh.seek(0)
        for i, (first, last, raw, terminated) in enumerate(_sdf_records(fh), start=1):
            text = raw.decode("utf-8", errors="replace")
            blocks += "M  END" in text
            if not text.strip():
                errors.append(RowError(i, "", f"empty SDF record (line {last} of the file)"))
                continue
            mol = Chem.MolFromMolBlock(text)
            n = mol.GetNumAtoms() if mol is not None else 0
            smiles = Chem.MolToSmiles(mol) if 0 < n <= MAX_SMILES_LENGTH else ""  # more could crash the process
            if smiles:
                rows.append((i, smiles))
                continue
            title = text.splitlines()[0].strip()
            if mol is None:
                reason = _sdf_record_problem(text, terminated)
            else:
                reason = f"{n:,} atoms, more than the {MAX_SMILES_LENGTH:,} read" if n else "no atoms"
            errors.append(RowError(i, "", f"SDF record{f' {title!r}' if title else ''} (lines {first}-{last} of the file): {reason}"))
    if errors and not blocks:  # not one molecule block: no SDF file at all ('cut off inside' its one record said)
        raise InputError(f"{path} is no SDF file: no line 'M  END' ends a molecule block in it")
    return rows, errors


def _input_kind(path: Path, smiles_column: str | None = None, option: str = "smiles_column") -> str:
    """The file's kind (its suffix, ``.gz`` included); InputError if missing or unsupported,
    or if a SMILES column is named for a file that has no columns (it would be ignored)."""
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file of molecules")
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    kind = _suffix(path)
    if kind not in SUFFIXES:
        shown = "".join(path.suffixes[-2:]) if path.suffix.lower() == ".gz" else path.suffix
        raise InputError(f"unsupported input extension {shown!r}: use .csv, .csv.gz, .smi, .smi.gz, .txt, .sdf or .sdf.gz")
    if smiles_column is not None and kind not in (".csv", ".csv.gz"):
        raise InputError(f"{option} applies only to CSV input (.csv, .csv.gz), not {path.name}")
    return kind


def _start_problem(path: Path, start: bytes, *, gz: bool) -> str | None:
    """What a text file whose first 4 bytes (after gunzipping, when ``gz``) are ``start``
    is instead: UTF-16 text, gzip data without the ``.gz`` name, or a zip archive; None
    when it is none of them."""
    if start[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's 'Unicode Text', Notepad's 'Unicode'
        return f"{path} is UTF-16 text, not UTF-8: save it as UTF-8"
    if start[:2] == b"\x1f\x8b" and not gz:
        return f"{path} is gzip-compressed: name it {path.name}.gz"
    if start == b"PK\x03\x04":
        return f"{path} is a zip archive (an Excel workbook?), not text"
    return None


def _not_utf8(path: Path) -> str:
    """Why a file that failed to decode is not UTF-8: UTF-16 (a byte-order mark), gzip or
    zip data, or the first line with a byte that is not UTF-8 (``"line 3 has byte 0xe9"``)."""
    try:
        gz = path.name.lower().endswith(".gz")
        with (gzip.open if gz else open)(path, "rb") as fh:
            problem = _start_problem(path, fh.read(4), gz=gz)
            if problem:
                return problem
            fh.seek(0)
            for n, line in enumerate(fh, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return f"{path} is not UTF-8 text (line {n} has byte {line[exc.start]:#04x}): save it as UTF-8"
    except (OSError, EOFError, zlib.error):
        pass
    return f"{path} is not UTF-8 text"


@contextlib.contextmanager
def _read_errors(path: Path):
    """Turn a failed read of ``path`` (not UTF-8, UTF-16, not gzip, unreadable) into InputError."""
    try:
        yield
    except UnicodeDecodeError:
        raise InputError(_not_utf8(path)) from None
    except (OSError, EOFError, zlib.error, csv.Error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path} cannot be read ({detail})") from None


def check_smiles_column(path: str | os.PathLike, smiles_column: str | None = None, *, option: str = "smiles_column") -> None:
    """Check, from its header alone, that :func:`read_molecules` can read a file's SMILES.

    For a slow job, so that a wrong column is refused before the work, not after it.

    Parameters
    ----------
    path : path-like
    smiles_column : str, optional
        As in :func:`read_molecules`.
    option : str
        How the caller names the column setting, for the message: ``smiles_column``
        (this argument) by default; the CLI passes its flag, ``--smiles-column``.

    Raises
    ------
    InputError
        Missing file, unsupported extension, unreadable or empty CSV, missing column, or
        a column named for a file that is not CSV.
    """
    path = Path(path)
    kind = _input_kind(path, smiles_column, option)
    if kind not in (".csv", ".csv.gz"):
        return
    with _read_errors(path):
        sep = csv_separator(path)
        with _open_text(path, kind) as fh:
            header = next(csv.reader(fh, delimiter=sep), None)
    _csv_column(path, header, smiles_column, option)


def read_molecules(path: str | os.PathLike, *, smiles_column: str | None = None, option: str = "smiles_column") -> tuple[list[tuple[int, str]], list[RowError]]:
    """Read SMILES from a CSV, SMI or SDF file.

    Parameters
    ----------
    path : path-like
        ``.csv`` / ``.csv.gz`` (column chosen by ``smiles_column``, else the first column
        named ``smiles`` in any case; fields separated by ``,``, or by ``;`` or tabs as
        :func:`csv_separator` finds from the header line), ``.smi`` / ``.smi.gz`` / ``.txt`` (first
        whitespace-separated field of each line), or ``.sdf`` / ``.sdf.gz`` (records
        between ``$$$$`` lines, each molecule block read by RDKit as its SDMolSupplier
        reads it, and written as canonical SMILES).
    smiles_column : str, optional
        CSV column that holds SMILES: that name exactly, else its only match in any case.
        Only for CSV input: naming one for another kind of file is an error.
    option : str
        How the caller names the column setting, for the messages (no column given and
        none named ``smiles``; a column named for a file that is not CSV):
        ``smiles_column`` (this argument) by default; the CLI passes its flag,
        ``--smiles-column``.

    Returns
    -------
    rows : list of (int, str)
        1-based row number and SMILES of each non-empty row: CSV data rows counted
        from 1 after the header (a blank line is a row), SMI lines (the header line
        counted), SDF records.
    errors : list of RowError
        Empty rows, CSV rows with more fields than the header or a quote left open
        (the lines it took in are named), and SDF records that
        RDKit cannot read or that hold no atoms (the reason names the record's title
        and its lines in the file).

    Raises
    ------
    InputError
        Missing file, unsupported extension, missing column, ``smiles_column`` given for
        a file that is not CSV, a file that is not UTF-8 text or not valid gzip, or a
        file with no rows. CSV rows with more fields than the header are reported in
        ``errors``, not read.
    """
    path = Path(path)
    kind = _input_kind(path, smiles_column, option)
    with _read_errors(path):
        if kind in (".csv", ".csv.gz"):
            rows, errors = _read_csv(path, smiles_column, option)
        elif kind in (".sdf", ".sdf.gz"):
            rows, errors = _read_sdf(path)
        else:
            rows, errors = _read_smi(path)
    if not rows:
        # the first row that is not merely empty says why (the caller may print only this line)
        first = next((e for e in errors if e.reason not in ("empty row", "empty line")), None)
        detail = f" ({len(errors)} empty or unreadable row{'s' if len(errors) > 1 else ''}{f'; {first}' if first else ''})" if errors else ""
        raise InputError(f"{path} holds no molecules{detail}", errors)
    return rows, errors


def to_selfies(smiles: str, *, remove_stereo: bool = False) -> tuple[str, str]:
    """Standardize a molecule and write it as SELFIES.

    Parameters
    ----------
    smiles : str
    remove_stereo : bool
        Drop stereochemistry first (see :func:`molvae.chem.standardize`).

    Returns
    -------
    canonical : str
        Standardized canonical SMILES.
    selfies : str

    Raises
    ------
    InvalidMoleculeError
        If RDKit or selfies cannot handle the molecule.
    """
    canonical = standardize(smiles, remove_stereo=remove_stereo)
    try:
        s = sf.encoder(canonical)
    except sf.EncoderError as exc:
        # what selfies failed on, when standardization changed it (RDKit writes the bonds to a
        # metal as dative, '->', which selfies cannot parse): the input alone would not show it
        form = f" the standardized {canonical!r}" if canonical != smiles.strip() else ""
        raise InvalidMoleculeError(smiles, f"selfies cannot encode{form} ({str(exc).splitlines()[0]})") from None
    if s is None:
        raise InvalidMoleculeError(smiles, "selfies cannot encode")
    return canonical, s


def _parallel_map(fn, args: list, n_jobs: int, chunksize: int) -> list:
    """``[fn(a) for a in args]``, in ``n_jobs`` processes when there is more than a chunk.

    The workers ignore SIGINT: Ctrl-C reaches the whole process group, and the main
    process alone turns it into ``KeyboardInterrupt`` and stops them (workers taking it
    too would each print a traceback). ``n_jobs`` is checked by
    :func:`molvae.checks.check_n_jobs` (an integer >= 1, None for 1)."""
    n_jobs = check_n_jobs(n_jobs)  # 0 and -1 ran serially, 2.5 failed inside multiprocessing
    if n_jobs > 1 and len(args) > chunksize:
        with mp.get_context("spawn" if os.name == "nt" else "fork").Pool(n_jobs, initializer=ignore_sigint) as pool:
            return pool.map(fn, args, chunksize=chunksize)
    return [fn(a) for a in args]


def _to_selfies_row(args):
    row, smiles, remove_stereo = args
    try:
        c, s = to_selfies(smiles, remove_stereo=remove_stereo)
        return row, c, s, None
    except InvalidMoleculeError as exc:
        return row, None, None, exc.reason


def convert_rows(rows: Sequence[tuple[int, str]], *, remove_stereo: bool = False, n_jobs: int = 1, chunksize: int = 2000):
    """Standardize and SELFIES-encode many rows, in parallel processes when ``n_jobs > 1``.

    Parameters
    ----------
    rows : sequence of (int, str)
        Row numbers and SMILES, as :func:`read_molecules` gives them.
    remove_stereo : bool
        Drop stereo information (for an alphabet without stereo tokens).
    n_jobs : int or None
        Worker processes, an integer >= 1 (None: 1).
    chunksize : int
        Rows per task; with no more rows than this, the work stays in this process.

    Returns
    -------
    good : list of (row, canonical, selfies)
    errors : list of RowError

    Raises
    ------
    ValueError
        If ``n_jobs`` is not an integer >= 1.
    """
    results = _parallel_map(_to_selfies_row, [(r, s, remove_stereo) for r, s in rows], n_jobs, chunksize)
    good, errors = [], []
    smiles_of = dict(rows)
    for row, c, s, reason in results:
        if reason is None:
            good.append((row, c, s))
        else:
            errors.append(RowError(row, smiles_of[row], reason))
    return good, errors


def _labels_of(args):
    selfies_string, names = args
    from molvae.chem import properties

    with quiet_rdkit():
        try:
            props = properties(sf.decoder(selfies_string))
        except sf.DecoderError:
            return [float("nan")] * len(names)
    return [props[n] for n in names]


def property_labels(alphabet: Alphabet, tokens: Sequence[np.ndarray], names: Sequence[str], *, n_jobs: int = 1, chunksize: int = 2000) -> np.ndarray:
    """RDKit properties of tokenized molecules, the labels of joint property training.

    Parameters
    ----------
    alphabet : Alphabet
        The alphabet the token ids belong to.
    tokens : list of int ndarrays, length n
    names : sequence of str
        Keys of :func:`molvae.chem.properties` (``qed``, ``logp``, ``sa`` ...).
    n_jobs : int or None
        Worker processes, an integer >= 1 (None: 1).

    Returns
    -------
    ndarray of float32, shape (n, len(names))
        NaN where RDKit could not compute a property.

    Raises
    ------
    ValueError
        For a name that is not a property, or an ``n_jobs`` that is not an integer >= 1.
    """
    from molvae.chem import PROPERTY_NAMES

    unknown = [n for n in names if n not in PROPERTY_NAMES]
    if unknown:
        raise ValueError(f"unknown property {', '.join(unknown)}: use {', '.join(PROPERTY_NAMES)}")
    rows = _parallel_map(_labels_of, [(alphabet.decode(t), tuple(names)) for t in tokens], n_jobs, chunksize)
    return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(names))


@dataclass
class PreparedSet:
    """A tokenized training set.

    Attributes
    ----------
    alphabet : Alphabet
    tokens : list of ndarray
        One int array of token ids per molecule (length ``L_i <= alphabet.max_length``).
    rows : ndarray, shape (n,)
        Input row numbers of the kept molecules.
    hashes : ndarray, shape (n_unique,)
        Sorted unique 48-bit hashes of the canonical SMILES (for novelty).
    errors : list of RowError
    source : dict
        File name, size and SHA-256 of the input.
    """

    alphabet: Alphabet
    tokens: list
    rows: np.ndarray
    hashes: np.ndarray
    errors: list
    source: dict


#: How files are read and molecules standardized, in the key of the token cache: raised
#: whenever the same file would be read into other rows or other molecules (2: SDF records
#: split at $$$$ lines, quotes left open in CSV, comments in SMI), so that a set prepared by
#: an older reading is prepared again instead of reused.
_READER = 2


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where prepared data is cached: ``cache_dir``, else ``$MOLVAE_CACHE``, else ``~/.cache/molvae``."""
    return Path(cache_dir or os.environ.get("MOLVAE_CACHE") or Path.home() / ".cache" / "molvae")


def save_cache_file(path: Path, save: Callable[[Path], object]) -> None:
    """Write a cache file (``save(tmp)``) under a temporary name of this call's own, then
    rename it over ``path`` (atomic): a process reading the cache sees the whole file or
    none, and processes preparing the same data at once (two trainings, a sweep) each write
    their own file. A fixed temporary name let one process truncate or rename the file
    another was writing; writing ``path`` itself left a file cut short when the process
    was killed, which every later run then failed to read.

    Parameters
    ----------
    path : Path
        The cache file; its folder is created. The temporary file has the same suffix
        (``np.save`` and ``np.savez`` add theirs to any other name).
    save : callable
        Writes the file at the path it is given.

    Raises
    ------
    OSError
        From creating the folder, ``save`` or the rename; the temporary file is removed
        (also when ``save`` raises anything else, Ctrl-C included).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def sha256_of_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks: the one file hash of molvae
    (training-set and MOSES cache names, campaign and predictor records).

    Parameters
    ----------
    path : path-like
        Any readable file.

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    OSError
        The file cannot be opened or read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare_training_set(
    path: str | os.PathLike,
    *,
    smiles_column: str | None = None,
    remove_stereo: bool = False,
    max_length: int | None = None,
    n_jobs: int = 1,
    cache_dir: str | os.PathLike | None = None,
    alphabet: Alphabet | None = None,
) -> PreparedSet:
    """Read, standardize, SELFIES-encode and tokenize a training file; build its alphabet.

    The result is cached (keyed by the file's SHA-256 and the options) so a resumed or
    repeated training run does not redo the work.

    Parameters
    ----------
    path : path-like
        CSV / SMI / SDF file (see :func:`read_molecules`).
    smiles_column : str, optional
        CSV column holding SMILES (CSV input only).
    remove_stereo : bool
    max_length : int, optional
        Molecules with more SELFIES tokens are skipped (and reported); default: keep all.
    n_jobs : int
        Worker processes for RDKit and selfies.
    cache_dir : path-like, optional
        Where to keep the cache; default ``$MOLVAE_CACHE`` or ``~/.cache/molvae``.
    alphabet : Alphabet, optional
        Tokenize with this alphabet instead of building one from the data: a model's, to
        fine-tune it (``init_from``) on data whose tokens it covers. Molecules with a
        token outside it, or with more than its ``max_length`` tokens, are skipped and
        reported; ``max_length`` is then the alphabet's.

    Returns
    -------
    PreparedSet

    Raises
    ------
    InputError
        As :func:`read_molecules`, or when no molecule survives.
    """
    path = Path(path)
    _input_kind(path, smiles_column)  # before the cache is looked up
    digest = sha256_of_file(path)
    if alphabet is not None:
        max_length = alphabet.max_length
    given = alphabet.to_dict() if alphabet is not None else None
    key = hashlib.sha256(json.dumps([digest, smiles_column, remove_stereo, max_length, sf.__version__] + ([given] if given else []) + [_READER]).encode()).hexdigest()[:20]
    cache = cache_root(cache_dir) / f"tokens-{key}.npz"
    source = {"file": path.name, "bytes": path.stat().st_size, "sha256": digest}
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                offsets, flat, cached_rows, cached_hashes = z["offsets"], z["flat"], z["rows"], z["hashes"]
            cached_alphabet = Alphabet.from_dict(meta["alphabet"])
            cached_errors = [RowError(*e) for e in meta["errors"]]
        except Exception as exc:  # a file cut short (written in place by an older molvae, killed) ...
            log.warning("ignoring unreadable token cache %s (%s): preparing the data again", cache, " ".join(str(exc).split())[:200] or type(exc).__name__)
        else:
            log.info("using tokenized cache %s", cache)
            tokens = [flat[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
            return PreparedSet(cached_alphabet, tokens, cached_rows, cached_hashes, cached_errors, source)

    rows, errors = read_molecules(path, smiles_column=smiles_column)
    log.info("standardizing and SELFIES-encoding %d molecules with %d process(es)", len(rows), n_jobs)
    good, bad = convert_rows(rows, remove_stereo=remove_stereo, n_jobs=n_jobs)
    errors += bad
    if max_length is not None:
        kept = []
        for r, c, s in good:
            n = sf.len_selfies(s)
            if n > max_length:
                errors.append(RowError(r, c, f"{n} SELFIES tokens, more than max_length {max_length}"))
            else:
                kept.append((r, c, s))
        good = kept
    if alphabet is not None:  # the model's alphabet: molecules it cannot write are skipped
        kept, tokens = [], []
        for r, c, s in good:
            try:
                tokens.append(np.asarray(alphabet.encode(s, molecule=c), dtype=np.int16))
                kept.append((r, c, s))
            except AlphabetError as exc:
                errors.append(RowError(r, c, getattr(exc, "reason", None) or str(exc)))
        good = kept
    if not good:
        raise InputError(f"no molecule of {path} could be used ({len(errors)} rows skipped)", sorted(errors, key=lambda e: e.row))
    if alphabet is None:
        alphabet = Alphabet.build((s for _, _, s in good), max_length=max_length)
        tokens = [np.asarray(alphabet.encode(s), dtype=np.int16) for _, _, s in good]
    hashes = np.unique(np.fromiter((smiles_hash(c) for _, c, _ in good), dtype=np.int64, count=len(good)))
    row_ids = np.asarray([r for r, _, _ in good], dtype=np.int64)
    errors.sort(key=lambda e: e.row)
    offsets = np.zeros(len(tokens) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(t) for t in tokens])
    meta = {"alphabet": alphabet.to_dict(), "errors": [[e.row, e.input, e.reason] for e in errors]}
    try:
        save_cache_file(cache, lambda tmp: np.savez(tmp, flat=np.concatenate(tokens), offsets=offsets, rows=row_ids, hashes=hashes, meta=json.dumps(meta)))
    except OSError as exc:  # a cache is a convenience
        log.warning("could not write token cache %s: %s", cache, exc)
    return PreparedSet(alphabet, tokens, row_ids, hashes, errors, source)


def _split_evenly(batches: list, parts: int) -> list:
    """Split the largest batch (the first of the largest) in two, its halves in its place,
    until the number of batches is a multiple of ``parts`` or no batch has two molecules.

    ``batches`` are index arrays, or anything with ``len`` and slicing (``range`` objects
    stand in for them to count the batches: the split depends on the sizes alone)."""
    out = list(batches)
    while len(out) % parts:
        i = max(range(len(out)), key=lambda j: (len(out[j]), -j))
        if len(out[i]) < 2:
            break
        h = (len(out[i]) + 1) // 2
        out[i : i + 1] = [out[i][:h], out[i][h:]]
    return out


class LengthBucketBatches:
    """Batches of molecules that all have the same number of tokens (no padding computed).

    Each epoch, molecules of each length are shuffled and cut into batches of at most
    ``batch_size``; the batch order is shuffled too. The order is a pure function of
    ``(seed, epoch)``, so a resumed run sees exactly the batches it would have seen.
    Under data parallelism each of ``world_size`` ranks takes every ``world_size``-th
    batch (all ranks get the same number of batches): the last batches of an epoch that
    do not make a whole round are left out, or, with ``cover_all``, batches are split
    until there are none left over.

    Implements ``state_dict`` / ``load_state_dict`` (epoch and batches consumed) and
    ``set_epoch``, which PyTorch Lightning uses to resume mid-epoch.

    Parameters
    ----------
    tokens : list of int ndarrays
    batch_size : int
    shuffle : bool
    seed : int
    rank, world_size : int
    labels : ndarray, shape (n, n_properties), optional
        Property labels (NaN: unlabelled), batched with the tokens.
    cover_all : bool
        With ``world_size > 1``: split the largest batches in two until their number is a
        multiple of ``world_size``, so that the ranks together see every molecule (for
        validation). Only where there are too few molecules for that (fewer than the
        rounded-up number of batches) are the smallest batches still left out.

    Yields
    ------
    LongTensor, shape (batch, L)
        Or, with ``labels``, a pair of it and a float tensor of shape (batch, n_properties).
    """

    def __init__(self, tokens: Sequence[np.ndarray], batch_size: int, *, shuffle: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1, labels: np.ndarray | None = None, cover_all: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if labels is not None and len(labels) != len(tokens):
            raise ValueError(f"{len(labels)} label rows for {len(tokens)} molecules")
        self.tokens = tokens
        self.labels = labels
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.cover_all = cover_all
        self.epoch = 0
        self.consumed = 0
        self._skip = 0
        self.sampler = self  # Lightning calls dataloader.sampler.set_epoch(epoch)
        self.batch_sampler = None
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
        self._by_length = {int(L): np.flatnonzero(lengths == L) for L in np.unique(lengths)}
        n = sum(-(-len(ix) // batch_size) for ix in self._by_length.values())
        if world_size > 1 and cover_all:  # the batches' sizes, as ranges, give their number after the split
            n = len(_split_evenly([range(min(batch_size, len(ix) - i)) for ix in self._by_length.values() for i in range(0, len(ix), batch_size)], world_size))
        self._n_batches = n // world_size if world_size > 1 else n

    def __len__(self) -> int:
        return self._n_batches

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self._skip = 0
        self.epoch = epoch

    def batches(self) -> list[np.ndarray]:
        """Index arrays of this rank's batches for the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch])
        out = []
        for L in sorted(self._by_length):
            ix = self._by_length[L]
            if self.shuffle:
                ix = rng.permutation(ix)
            out.extend(ix[i : i + self.batch_size] for i in range(0, len(ix), self.batch_size))
        if self.shuffle:
            out = [out[i] for i in rng.permutation(len(out))]
        if self.world_size > 1:
            if self.cover_all:
                out = _split_evenly(out, self.world_size)
            out = out[self.rank :: self.world_size][: self._n_batches]
        return out

    def __iter__(self):
        import torch

        skip, self._skip = self._skip, 0
        self.consumed = skip
        for ix in self.batches()[skip:]:
            batch = torch.from_numpy(np.stack([self.tokens[i] for i in ix]).astype(np.int64))
            yield batch if self.labels is None else (batch, torch.from_numpy(np.ascontiguousarray(self.labels[ix], dtype=np.float32)))

    def state_dict(self) -> dict:
        return {"epoch": int(self.epoch), "consumed": int(self.consumed)}

    def load_state_dict(self, state: dict) -> None:
        self.epoch = int(state["epoch"])
        self._skip = int(state["consumed"])
        self.consumed = self._skip


#: Table outputs by extension.
OUTPUT_SUFFIXES = (".csv", ".smi", ".sdf")


def check_file_name(path: str | os.PathLike, flag: str | None = None, *, example: str = "") -> None:
    """InputError when the file name is only an extension (``.png``, ``out/.csv``).

    Such a name has no suffix to Python (``Path(".png").suffix == ""``), so the extension
    checks would report "unknown extension '(none)'"; this names the real mistake:
    ``--image .png has no file name, only an extension: give one, e.g. --image molecules.png``. ``flag`` is
    the option the path was given with; ``example`` an extension for the suggestion.
    """
    path = Path(path)
    name = path.name
    if len(name) > 1 and name.startswith(".") and "." not in name[1:]:
        given = f"{flag} {path}" if flag else str(path)
        ext = example or name
        raise InputError(f"{given} has no file name, only an extension: give one, e.g. {flag + ' ' if flag else ''}{path.with_name('molecules' + ext)}")


def check_output_path(path: str | os.PathLike, allowed: Sequence[str] = OUTPUT_SUFFIXES, *, flag: str | None = None) -> Path:
    """Check an output path before any work starts.

    Parameters
    ----------
    path : path-like
        The file to write.
    allowed : sequence of str
        Accepted extensions, lower case with the dot (matched case-insensitively).
    flag : str, optional
        The option the path was given with (``-o``, ``--image``), named in the message
        for a name that is only an extension.

    Returns
    -------
    Path

    Raises
    ------
    InputError
        A name that is only an extension (``.csv``), unknown extension, the path is a
        folder, its parent is a file, or its parent folder does not exist or is not
        writable.
    """
    path = Path(path)
    check_file_name(path, flag, example=path.name.lower() if path.name.lower() in allowed else allowed[0])
    if path.is_dir():  # before the extension: 'adir' said "unknown output extension '(none)'"
        raise InputError(f"output path is a folder: {path}")
    if path.suffix.lower() not in allowed:
        raise InputError(f"unknown output extension {path.suffix or '(none)'!r} for {path.name}: use {', '.join(allowed)}")
    parent = path.parent
    if parent.exists() and not parent.is_dir():  # 'b.csv/x.csv' said "output folder does not exist: b.csv"
        raise InputError(f"{parent} is a file, not a folder (for {path.name})")
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise InputError(f"cannot write {path}: permission denied")
    return path


def write_atomically(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Write a file all at once, or not at all.

    ``write`` writes the whole content to a new temporary file beside ``path`` (same
    folder, so the rename is atomic), which is then renamed over ``path``
    (``os.replace``). On any failure, Ctrl-C included, the temporary is removed and
    ``path`` is left as it was: absent, or with its old content. A symbolic link is
    written through, as ``open`` would: its target is replaced and the link kept. A path
    that is neither absent nor a regular file (a device such as ``/dev/stdout``, a named
    pipe) cannot be replaced, and is written directly.

    Parameters
    ----------
    path : path-like
        The file to write.
    write : callable(Path)
        Writes the content to the path it is given (an empty file created for it).

    Returns
    -------
    Path

    Raises
    ------
    OSError
        What ``write`` or the rename raises; one about the temporary file, the link's
        target, or no file names ``path`` instead (``cannot use out.csv: No space left on
        device``).
    """
    path = Path(path)
    target = Path(os.path.realpath(path))  # a link is written through
    direct = target.exists() and not target.is_file()  # a device or a pipe: nothing to rename over
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    created = False
    try:
        if direct:
            write(target)
        else:
            with open(tmp, "x"):  # a name of our own (never an existing file), usual permissions
                created = True
            write(tmp)
            os.replace(tmp, target)
    except BaseException as exc:
        if created:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.strerror and (exc.filename is None or os.fspath(exc.filename) in (os.fspath(tmp), os.fspath(target))):
            raise OSError(exc.errno, exc.strerror, os.fspath(path)) from exc  # the file asked for, not the temporary
        raise
    return path


def write_molecules(table, path: str | os.PathLike, *, smiles_column: str = "smiles") -> Path:
    """Write a table of molecules as CSV, SMI (SMILES only, one per line) or SDF (properties as SD tags).

    The file is written all at once or not at all (:func:`write_atomically`).

    Parameters
    ----------
    table : pandas.DataFrame
        Must have ``smiles_column``.
    path : path-like
        Extension picks the format (see :data:`OUTPUT_SUFFIXES`).

    Returns
    -------
    Path

    Raises
    ------
    InputError
        ``path`` is refused by :func:`check_output_path`.
    OSError
        The file cannot be written; ``path`` is left as it was.
    """
    path = check_output_path(path)
    kind = path.suffix.lower()

    def write(tmp: Path) -> None:
        if kind == ".csv":
            table.to_csv(tmp, index=False, float_format="%.6g")
        elif kind == ".smi":
            with open(tmp, "w") as fh:
                fh.writelines(f"{s}\n" for s in table[smiles_column])
        else:
            from rdkit import Chem

            with Chem.SDWriter(str(tmp)) as writer:
                for _, row in table.iterrows():
                    mol = Chem.MolFromSmiles(row[smiles_column]) if row[smiles_column] else None
                    if mol is None:
                        mol = Chem.Mol()
                    for col, val in row.items():
                        mol.SetProp(str(col), "" if val is None else (f"{val:.6g}" if isinstance(val, float) else str(val)))
                    writer.write(mol)

    return write_atomically(path, write)
