"""A non-editable install carries every module and asset (the tests otherwise run editable)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", minversion="68")  # the build backend; a test extra
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("molvae", "cli"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-q", "-w", str(out)]
    done = subprocess.run(cmd, cwd=src, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"building the wheel failed:\n{done.stderr[-2000:]}"
    (built,) = out.glob("molvae-*.whl")
    return built


def test_the_wheel_holds_every_module_and_asset(wheel):
    with zipfile.ZipFile(wheel) as zf:
        wheel_names = set(zf.namelist())
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "molvae").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {f"molvae_cli/{p.relative_to(ROOT / 'cli').as_posix()}" for p in (ROOT / "cli").rglob("*.py") if "__pycache__" not in p.parts}
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "molvae" / "assets").iterdir() if p.is_file()}
    assert "molvae/campaign/ledger.py" in expected and "molvae/assets/default.pt" in expected
    missing = sorted(expected - wheel_names)
    assert not missing, f"a non-editable install would lack: {missing}"


def test_the_wheel_installs_the_molvae_command(wheel):
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(name).decode()
    assert "molvae = molvae_cli.main:main" in text
