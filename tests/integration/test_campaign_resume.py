"""Campaign crash safety and cooperation, with real processes.

* ``kill -9`` while the oracle is running, then the same command again: the stored study
  ends with exactly the budget of oracle calls, and every call finished before the kill
  is still there, unchanged.
* Two processes run the same campaign against one SQLite storage at once: together they
  make exactly the budget of calls, and no molecule is scored twice.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

MOLVAE = shutil.which("molvae") or str(Path(sys.executable).with_name("molvae"))

# A "slow oracle": QED after a pause; a flag file exists while a call is running.
# ORACLE_HANG (a file): this process's 7th call creates it and then waits until the test
# signals the process, so the signal lands inside an oracle call whatever the machine's load.
# ORACLE_BARRIER (a folder): each process's first call waits until ORACLE_PARTIES processes
# have made theirs, so that every process started makes calls, however late it starts.
SLOW = """
import os, time
from rdkit import Chem
from rdkit.Chem import QED

FLAG = os.environ["ORACLE_FLAG"]
CALLS = 0

def _wait_for_the_others(folder, parties):
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 240
    while len(os.listdir(folder)) < parties and time.monotonic() < deadline:
        time.sleep(0.01)

def score(smiles):
    global CALLS
    CALLS += 1
    open(FLAG, "w").close()
    if CALLS == 1 and os.environ.get("ORACLE_BARRIER"):
        _wait_for_the_others(os.environ["ORACLE_BARRIER"], int(os.environ["ORACLE_PARTIES"]))
    if CALLS == 7 and os.environ.get("ORACLE_HANG"):
        open(os.environ["ORACLE_HANG"], "w").close()
        time.sleep(300)  # the test signals this process now; no test waits this long
    time.sleep(float(os.environ.get("ORACLE_SECONDS", "0.1")))
    value = QED.qed(Chem.MolFromSmiles(smiles))
    os.remove(FLAG)
    return value
"""


def _ledger(db: Path) -> list[dict]:
    """Trials straight from the SQLite file: number, state, value and user attributes."""
    con = sqlite3.connect(db, timeout=60)
    try:
        rows = con.execute(
            "select t.trial_id, t.number, t.state, v.value from trials t left join trial_values v on v.trial_id = t.trial_id order by t.number"
        ).fetchall()
        attrs: dict[int, dict] = {}
        for tid, key, value in con.execute("select trial_id, key, value_json from trial_user_attributes"):
            attrs.setdefault(tid, {})[key] = json.loads(value)
    finally:
        con.close()
    return [{"number": n, "state": s, "value": v, **attrs.get(tid, {})} for tid, n, s, v in rows]


def _calls(trials: list[dict]) -> list[dict]:
    """Real oracle calls (claims that the replay kept), as the ledger defines them."""
    from molvae.campaign.ledger import replay

    class T:
        def __init__(self, d):
            self.number, self.user_attrs = d["number"], d

    rep = replay([T(d) for d in trials])
    by_number = {d["number"]: d for d in trials}
    return [dict(by_number[n], oracle_call=rep.call_index[n]) for n in rep.calls]


def _command(tmp_path: Path, model_path, budget: int, name: str, extra=()) -> list[str]:
    obj = tmp_path / "slow.py"
    obj.write_text(SLOW)
    return [
        MOLVAE, "optimize", "--objective", f"{obj}:score", "--budget", str(budget), "--batch-size", "4",
        "--sampler", "random", "--seed", "0", "--model", str(model_path), "--name", name,
        "--storage", f"sqlite:///{tmp_path / name}.db", "-o", str(tmp_path / f"{name}.csv"), *extra,
    ]  # fmt: skip


def test_kill_9_during_an_oracle_call_then_rerun(tmp_path, model_path):
    budget, name = 16, "killed"
    db, flag = tmp_path / f"{name}.db", tmp_path / "in-oracle"
    cmd = _command(tmp_path, model_path, budget, name)
    env = {**os.environ, "ORACLE_FLAG": str(flag), "ORACLE_SECONDS": "0.15"}
    hang = tmp_path / "in-7th-call"

    # killed inside its 7th oracle call, which waits for the kill: waiting for a call of
    # 0.15 s to be in flight and then killing missed it when this process was descheduled
    # in between on a loaded machine (then no call or a later one was in flight)
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**env, "ORACLE_HANG": str(hang)}, text=True)
    deadline = time.monotonic() + 240
    try:
        while not hang.exists():
            assert first.poll() is None, f"the campaign ended before it was killed:\n{first.stderr.read()}"
            assert time.monotonic() < deadline, "no 7th oracle call within 240 s"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()  # killed already, or an assertion failed: do not leave it running
        first.wait(timeout=60)
        first.stderr.close()
    assert first.returncode == -signal.SIGKILL

    before = _ledger(db)
    running = [t for t in before if t["state"] in ("RUNNING", "WAITING")]  # calling, claimed
    # killed inside one oracle call: the batch's later claims had not started theirs
    assert [t["status"] for t in running].count("calling") == 1, running
    assert all(t["status"] in ("calling", "claimed") for t in running), running
    done_before = {t["number"]: t for t in _calls(before) if t["state"] not in ("RUNNING", "WAITING")}
    assert len(done_before) == 6  # the calls before the 7th
    flag.unlink(missing_ok=True)

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert "marked interrupted" in second.stderr

    after = _ledger(db)
    calls = _calls(after)
    assert len(calls) == budget  # exactly the budget, the interrupted calls included
    assert [c["oracle_call"] for c in calls] == list(range(1, budget + 1))
    by_number = {t["number"]: t for t in after}
    for n, t in done_before.items():  # every call finished before the kill is still there, unchanged
        assert {k: by_number[n].get(k) for k in ("state", "value", "smiles", "status")} == {k: t.get(k) for k in ("state", "value", "smiles", "status")}
    for t in running:  # the call in progress counts; the claims whose call never started do not
        assert by_number[t["number"]]["status"] == ("interrupted" if t["status"] == "calling" else "cancelled"), by_number[t["number"]]
        assert by_number[t["number"]]["state"] == "FAIL"
    assert not [t for t in after if t["state"] in ("RUNNING", "WAITING")]
    assert f"oracle calls {budget}/{budget}" in second.stdout


def test_two_processes_cooperate_on_one_campaign(tmp_path, model_path):
    budget, name = 14, "shared"
    db = tmp_path / f"{name}.db"
    cmd = _command(tmp_path, model_path, budget, name)
    # each process's first call waits for the other's: on a loaded machine one process could
    # start so late that the other had made the whole budget of calls alone
    (tmp_path / "barrier").mkdir()
    env = {**os.environ, "ORACLE_SECONDS": "0.1", "ORACLE_BARRIER": str(tmp_path / "barrier"), "ORACLE_PARTIES": "2"}
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**env, "ORACLE_FLAG": str(tmp_path / f"flag{i}")})
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err

    trials = _ledger(db)
    calls = _calls(trials)
    assert len(calls) == budget  # budget respected, across both processes
    smiles = [c["smiles"] for c in calls]
    assert len(set(smiles)) == len(smiles)  # no molecule scored twice
    assert all(c["state"] in ("COMPLETE", "FAIL") for c in calls)
    pids = {c["claim"]["pid"] for c in calls}
    assert pids == {p.pid for p in procs}  # both processes made calls
    assert not [t for t in trials if t["state"] == "RUNNING"]


@pytest.mark.parametrize("sig, code, line", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_writes_the_table_of_the_calls_made_then_rerun_resumes(tmp_path, model_path, sig, code, line):
    """Ctrl-C (a real SIGINT) during `molvae optimize -o OUT.csv` exited 130 without writing
    OUT.csv: the table of the molecules already scored was lost. Now the calls finished
    so far are written, the run exits 130 with one stderr line, and a rerun resumes.
    SIGTERM (kill, a scheduler's time limit) killed the process without writing OUT.csv;
    now it does the same as Ctrl-C and exits 143."""
    budget, name = 16, "ctrlc"
    db, flag, out = tmp_path / f"{name}.db", tmp_path / "in-oracle", tmp_path / f"{name}.csv"
    cmd = _command(tmp_path, model_path, budget, name)
    env = {**os.environ, "ORACLE_FLAG": str(flag), "ORACLE_SECONDS": "0.15"}
    hang = tmp_path / "in-7th-call"

    # a shell's background job ignores SIGINT, and a Python started with SIGINT ignored keeps
    # ignoring it: give the run the default disposition, as in a terminal. The signal lands
    # in the 7th oracle call, which waits for it (see SLOW)
    first = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**env, "ORACLE_HANG": str(hang)}, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    deadline = time.monotonic() + 240
    try:
        while not hang.exists():
            assert first.poll() is None, f"the campaign ended before Ctrl-C:\n{first.stderr.read()}"
            assert time.monotonic() < deadline, "no 7th oracle call within 240 s"
            time.sleep(0.01)
        first.send_signal(sig)
        stdout, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == code, (first.returncode, stderr[-3000:])
    assert "Traceback" not in stderr
    assert [x for x in stderr.splitlines() if x.strip()] == [line], stderr
    assert out.is_file(), stdout
    assert "interrupted" in stdout and "rerun" in stdout and str(out) in stdout, stdout

    scored = {t["smiles"]: t["value"] for t in _ledger(db) if t.get("status") == "scored"}
    assert len(scored) == 6  # the calls before the 7th
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert {r["smiles"] for r in rows} == set(scored)  # every molecule scored before Ctrl-C, nothing else
    for r in rows:
        assert float(r["score"]) == pytest.approx(scored[r["smiles"]], rel=1e-5)
    assert not [t for t in _ledger(db) if t["state"] in ("RUNNING", "WAITING")]

    flag.unlink(missing_ok=True)
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"oracle calls {budget}/{budget}" in second.stdout
    with open(out) as fh:
        assert {r["smiles"] for r in csv.DictReader(fh)} >= set(scored)
