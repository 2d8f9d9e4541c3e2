"""A campaign storage that fails inside optuna or SQLAlchemy (a damaged SQLite file) gives
one error line naming the database's own reason, not a traceback."""

from __future__ import annotations

import sqlite3


def _damaged_campaign(tmp_path, cli, model_path):
    db = tmp_path / "c.db"
    args = ["optimize", "--objective", "qed", "--budget", "4", "--batch-size", "2", "--sampler", "random", "--seed", "0", "--model", model_path, "--name", "c", "--storage", f"sqlite:///{db}"]
    first = cli(*args, "-o", tmp_path / "first.csv")
    assert first.returncode == 0, first.stderr
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.close()
    assert pages > 2
    with open(db, "r+b") as f:  # the second page is garbage; the schema on the first still reads
        f.seek(4096)
        f.write(b"\xff" * 3000)
    return args


def test_optimize_and_campaign_show_on_a_damaged_storage(tmp_path, cli, model_path, expect_error):
    """optimize and campaign show on a damaged SQLite campaign ended in a traceback of
    optuna's StorageInternalError ('An exception is raised during the commit')."""
    args = _damaged_campaign(tmp_path, cli, model_path)
    again = cli(*[a if a != "4" else "8" for a in args], "-o", tmp_path / "again.csv")
    expect_error(again, "campaign storage failed", "database disk image is malformed")
    assert not (tmp_path / "again.csv").exists()
    show = cli("campaign", "show", "c", "--storage", f"sqlite:///{tmp_path / 'c.db'}")
    expect_error(show, "campaign storage failed", "malformed")
