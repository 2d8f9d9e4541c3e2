"""data/prepare_moses.py without the network: a small stand-in wheel and pinned hashes."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "data" / "prepare_moses.py"


def _load():
    spec = importlib.util.spec_from_file_location("prepare_moses", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def script():
    return _load()


@pytest.fixture
def fake_wheel(tmp_path, script, monkeypatch):
    """A wheel with small members in molsets' layout; the script's pinned hashes point at them."""
    contents = {m: f"good {m}\n".encode() * 100 for m in script.MEMBERS}
    wheel = tmp_path / "molsets-0.3.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for m, data in contents.items():
            zf.writestr(f"moses/dataset/data/{m}", data)
    monkeypatch.setattr(script, "SHA256", {m: hashlib.sha256(d).hexdigest() for m, d in contents.items()}, raising=False)
    return wheel, contents


def test_a_truncated_earlier_output_is_redone_not_trusted(tmp_path, script, fake_wheel):
    wheel, contents = fake_wheel
    out = tmp_path / "moses"
    assert script.main(["--wheel", str(wheel), "--out", str(out)]) == 0
    # an interrupted run: the last file cut short, all five names present
    last = out / script.MEMBERS[-1]
    last.write_bytes(contents[script.MEMBERS[-1]][:10])
    assert script.main(["--wheel", str(wheel), "--out", str(out)]) == 0
    for m, data in contents.items():
        assert (out / m).read_bytes() == data, m
    assert not list(out.glob("*.part"))


def test_the_data_here_matches_the_pinned_hashes(tmp_path, script, capsys):
    """Re-running on an intact data/moses/ does nothing (and never reaches for a wheel)."""
    here = ROOT / "data" / "moses"
    if not all((here / m).is_file() for m in script.MEMBERS):
        pytest.skip("data/moses/ not prepared")
    out = tmp_path / "moses"
    shutil.copytree(here, out)
    assert script.main(["--wheel", str(tmp_path / "absent.whl"), "--out", str(out)]) == 0
    assert "already in" in capsys.readouterr().out


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("missing", "molsets.whl: No such file or directory"),
        ("not a zip", "molsets.whl: File is not a zip file"),
        ("not molsets", "molsets.whl is not a molsets==0.3.1 wheel"),
        ("damaged", "molsets.whl: Error -3 while decompressing data"),  # was a zlib.error traceback
        ("out is a file", "moses is a file, not a folder"),  # the wheel is missing too: this error comes first
    ],
)
def test_a_bad_wheel_or_out_is_one_error_line(tmp_path, script, capsys, case, fragment):
    wheel, out = tmp_path / "molsets.whl", tmp_path / "moses"
    if case == "not a zip":
        wheel.write_text("hello")
    elif case == "not molsets":
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr("other/file.txt", "x")
    elif case == "out is a file":
        out.write_text("x")
    elif case == "damaged":  # a member's compressed data spoilt (a reserved deflate block type)
        with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for m in script.MEMBERS:
                zf.writestr(f"moses/dataset/data/{m}", b"x" * 1000)
        info = zipfile.ZipFile(wheel).infolist()[0]
        data = bytearray(wheel.read_bytes())
        data[info.header_offset + 30 + len(info.filename) + len(info.extra)] = 0x07
        wheel.write_bytes(bytes(data))
    assert script.main(["--wheel", str(wheel), "--out", str(out)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:"), err
    assert "Traceback" not in err[0] and fragment in err[0], err


def test_help_describes_every_option(script, capsys):
    with pytest.raises(SystemExit) as exc:
        script.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--out OUT" in text and "folder to write" in text and "--wheel WHEEL" in text


@pytest.mark.parametrize("pip_rc", [1, 0], ids=["offline", "no wheel fetched"])
def test_a_failed_download_is_one_error_line_naming_wheel(tmp_path, script, capsys, monkeypatch, pip_rc):
    """pip fails (no network), or succeeds without leaving a molsets wheel (an sdist-only mirror)."""
    import subprocess

    monkeypatch.setattr(script.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, pip_rc))
    assert script.main(["--out", str(tmp_path / "moses")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: could not download"), err
    assert "--wheel" in err[0]
