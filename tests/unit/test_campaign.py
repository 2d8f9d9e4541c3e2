"""Campaigns in-process on the tiny model: exact call accounting, ledger cache, failures,
constraints, determinism, resume checks, the claim replay and crash recovery."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from molvae.campaign import Campaign, CampaignError, Constraints, ObjectiveError, StoredCampaign
from molvae.campaign.ledger import Ledger, ProcessIdentity, open_storage, replay
from molvae.campaign.report import pmo_auc, trace

torch.set_num_threads(1)


def _db(tmp_path, name="c"):
    return f"sqlite:///{tmp_path / name}.db"


def _check_accounting(c: Campaign, budget: int) -> pd.DataFrame:
    h = c.history()
    calls = h[h["oracle_call"].notna()]
    assert sorted(calls["oracle_call"].astype(int)) == list(range(1, budget + 1))
    assert not calls["smiles"].duplicated().any()  # no molecule scored twice
    scored = h[h["status"] == "scored"].set_index("trial")
    for row in h[(h["status"] == "cached") & h["score"].notna()].itertuples():
        src = scored.loc[row.cached_from]
        assert src["smiles"] == row.smiles and src["score"] == row.score
    assert h.loc[h["status"] == "cached", "oracle_call"].isna().all()
    return h


def test_exact_budget_and_ledger_cache(tmp_path, vae):
    c = Campaign("qed", 12, _db(tmp_path), "random", model=vae, batch_size=4, seed=0, n_init=4)
    seen = []
    s = c.run(progress=seen.append)
    assert s.calls_used == 12 and s.calls_this_run == 12 and s.budget == 12
    calls = [p["calls"] for p in seen]
    assert calls == sorted(calls) and calls[0] == 0 and calls[-1] == 12 and seen[-1]["best_score"] == s.best_score
    assert seen[-1]["best_smiles"] == s.best_smiles and seen[-1]["budget"] == 12
    h = _check_accounting(c, 12)
    assert s.counts["cached"] > 0  # the tiny model decodes many points to the same molecules
    assert set(h["status"]) <= {"scored", "cached", "invalid"}
    best = c.best(5)
    assert list(best.columns[:3]) == ["rank", "smiles", "score"] and {"qed", "trial", "oracle_call"} <= set(best.columns)
    assert best["score"].is_monotonic_decreasing and not best["smiles"].duplicated().any()
    assert s.best_score == best["score"].iloc[0] and 0 < s.auc_top10 <= s.best_score
    # a second run of the same campaign makes no call: the budget is used
    again = Campaign("qed", 12, _db(tmp_path), "random", model=vae, batch_size=4, seed=0, n_init=4).run()
    assert again.calls_used == 12 and again.calls_this_run == 0 and again.trials == s.trials


def test_bo_campaign_same_seed_same_campaign(vae):
    runs = []
    for _ in range(2):
        c = Campaign("logp", 6, "memory", "bo", model=vae, batch_size=3, seed=7, n_init=3, sampler_options={"n_candidates": 64})
        c.run()
        h = c.history()
        runs.append(list(zip(h["smiles"], h["status"], h["source"])))
    assert runs[0] == runs[1]
    assert any(src == "bo" for _, _, src in runs[0])


def test_failures_are_recorded_and_the_campaign_goes_on(tmp_path, vae):
    def picky(smiles: str) -> float:
        if len(smiles) % 3 == 0:
            raise RuntimeError(f"cannot dock {len(smiles)}-character SMILES")
        return float(len(smiles))

    c = Campaign(picky, 10, _db(tmp_path), "random", model=vae, batch_size=4, seed=1, n_init=4, name="picky")
    s = c.run()
    h = _check_accounting(c, 10)
    failed = h[h["status"] == "failed"]
    assert len(failed) > 0 and s.calls_used == 10
    assert failed["reason"].str.contains("RuntimeError: cannot dock").all()
    assert failed["oracle_call"].notna().all() and failed["score"].isna().all()
    assert not set(c.best(100)["smiles"]) & set(failed["smiles"])


def test_ctrl_c_during_the_oracle_then_rerun(tmp_path, vae):
    calls = []

    def flaky(smiles):
        calls.append(smiles)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return float(len(smiles))

    c = Campaign(flaky, 9, _db(tmp_path), "random", model=vae, batch_size=3, seed=4, n_init=3, name="ctrlc")
    with pytest.raises(KeyboardInterrupt):
        c.run()
    h = c.history()
    stopped = h[h["status"] == "interrupted"]
    assert len(stopped) >= 1  # the claims of the batch in flight: they count, their results are lost
    scored = int((h["status"] == "scored").sum())
    assert scored <= 4 and h["oracle_call"].notna().sum() == scored + len(stopped)
    assert stopped["reason"].str.contains("KeyboardInterrupt").all() and stopped["oracle_call"].notna().all()
    assert (~h["state"].isin(["RUNNING", "WAITING"])).all()
    s = Campaign(flaky, 9, _db(tmp_path), "random", model=vae, batch_size=3, seed=4, n_init=3, name="ctrlc").run()
    assert s.calls_used == 9 and s.counts["interrupted"] == len(stopped)


def test_ctrl_c_mid_batch_keeps_finished_calls_and_releases_unstarted_claims(tmp_path, vae):
    """Ctrl-C at the second call of a batch of three claims: the first call is saved with
    its score, the second is interrupted (it counts), the third never started: cancelled,
    no oracle call, no budget used, and its molecule is scored by the next run."""
    calls, seen = [], []

    def length(smiles):  # Ctrl-C at the second call of the first run
        (seen if calls and len(calls) >= 2 else calls).append(smiles)
        if len(calls) == 2 and not seen:
            raise KeyboardInterrupt
        return float(len(smiles))

    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=6, seed=0, n_init=6, name="midbatch")
    c = Campaign(length, 10, **kw)
    with pytest.raises(KeyboardInterrupt):
        c.run()
    h = c.history().set_index("smiles")
    assert len(calls) == 2
    first, second = h.loc[calls[0]], h.loc[calls[1]]
    assert first["status"] == "scored" and first["score"] == float(len(calls[0])) and first["oracle_call"] == 1
    assert second["status"] == "interrupted" and second["oracle_call"] == 2 and "KeyboardInterrupt" in second["reason"]
    cancelled = h[h["status"] == "cancelled"]
    assert len(cancelled) >= 1 and cancelled["oracle_call"].isna().all() and cancelled["score"].isna().all()
    assert cancelled["reason"].str.contains("before this oracle call started").all()
    assert (h["state"] != "COMPLETE").sum() == len(h) - 1 and (~h["state"].isin(["RUNNING", "WAITING"])).all()
    s = c.summary()
    assert s.calls_used == 2 and s.counts["cancelled"] == len(cancelled)

    again = Campaign(length, 10, **kw).run()
    assert again.calls_used == 10 and again.calls_this_run == 8  # the cancelled claims used no budget
    assert set(cancelled.index) <= set(seen)  # ... and their molecules were scored after all
    h2 = Campaign(length, 10, **kw).history()
    assert sorted(h2["oracle_call"].dropna().astype(int)) == list(range(1, 11))
    assert calls[0] not in seen and calls[1] in seen  # the saved call is reused, the interrupted one is retried


def test_heartbeat_marks_claims_of_silent_hosts(tmp_path):
    import time

    # the database clock (SQLite's CURRENT_TIMESTAMP) counts whole seconds, so a heartbeat
    # 1.01 s old can read as 2 s old: with a grace period of 1 s, a loaded machine taking
    # a second from the claim to the first recover() saw the fresh claim as stale
    storage = open_storage(_db(tmp_path, "hb"), heartbeat_interval=1, grace_period=2)
    ledger = Ledger(storage, "hb", direction="maximize")
    me = ledger.me
    ledger.me = ProcessIdentity("another-host", 4242, None)
    tid, n = ledger.claim(np.zeros(2), {"smiles": "CCO"}, budget=5)  # records one heartbeat
    assert ledger.start_call(tid)
    ledger.release(tid)
    ledger.me = me
    assert ledger.recover() == []  # fresh heartbeat: the other host may be alive
    time.sleep(3.2)  # more than the grace period, in whole seconds
    assert ledger.recover() == [n]
    assert ledger.view().trials[n].user_attrs["status"] == "interrupted"


def _silent_host_claim(tmp_path, name):
    """A claim of a process on another host whose heartbeat stopped, and a ledger of this
    process that judges it: (worker ledger, judging ledger, trial id, trial number)."""
    import time

    storage = open_storage(_db(tmp_path, name), heartbeat_interval=1, grace_period=1)
    worker = Ledger(storage, name, direction="maximize")
    judge = Ledger(open_storage(_db(tmp_path, name), heartbeat_interval=1, grace_period=1), name)
    worker.me = ProcessIdentity("another-host", 4242, None)
    tid, n = worker.claim(np.zeros(2), {"smiles": "CCO"}, budget=5)  # records one heartbeat
    time.sleep(2.2)  # the heartbeat stalls (a paused VM, a network partition ...)
    return worker, judge, tid, n


def test_a_stale_claim_is_not_cancelled_once_its_call_started(tmp_path):
    """The judge reads the claim as not started ('claimed'), the worker then starts the
    oracle call, and the judge, going by what it read, cancelled the claim: a call was
    made that used no budget (and the budget could be exceeded by one per such race).
    Starting a call and cancelling a claim now both take the claim from WAITING to
    RUNNING by one compare-and-set; exactly one of them wins."""
    worker, judge, tid, n = _silent_host_claim(tmp_path, "race1")
    view = judge.view()  # the judge's snapshot: the call has not started
    assert view.trials[n].user_attrs["status"] == "claimed" and view.calls_used == 1
    assert worker.start_call(tid)  # the worker wakes up and starts the call
    judge.recover(view)  # judged on the snapshot
    after = judge.view()
    assert after.trials[n].user_attrs["status"] != "cancelled"
    assert after.calls_used == 1  # the call that started counts
    assert judge.recover() == [n]  # still silent: now judged as an interrupted call
    assert judge.view().trials[n].user_attrs["status"] == "interrupted" and judge.view().calls_used == 1


def test_a_cancelled_claim_is_never_called(tmp_path):
    """The other order: the judge cancels the silent claim first; the worker, waking up,
    must not call the oracle for it (the cancelled claim used no budget)."""
    worker, judge, tid, n = _silent_host_claim(tmp_path, "race2")
    assert judge.recover() == [n]
    assert judge.view().trials[n].user_attrs["status"] == "cancelled" and judge.view().calls_used == 0
    assert not worker.start_call(tid)


def test_broken_objective_fails_fast(tmp_path, vae):
    def broken(smiles):
        raise KeyError("model weights not found")

    c = Campaign(broken, 30, _db(tmp_path), "random", model=vae, batch_size=3, seed=0, fail_fast=4, name="broken")
    with pytest.raises(CampaignError, match="failed on each of the first"):
        c.run()
    assert 4 <= c.summary().calls_used < 30  # the calls made are recorded


def test_constraints_make_infeasible_trials(tmp_path, vae):
    cons = Constraints.create(mw_range="0,120")
    c = Campaign("qed", 6, _db(tmp_path), "random", model=vae, batch_size=4, seed=2, constraints=cons, n_init=4, patience=400)
    c.run()
    h = c.history()
    bad = h[h["status"] == "infeasible"]
    assert len(bad) > 0 and bad["reason"].str.startswith("MW ").all()
    assert bad["oracle_call"].isna().all() and bad["score"].isna().all()
    assert (c.best(100)["mw"] <= 120).all()


def test_max_proposals_stops_a_campaign_whose_candidates_are_mostly_infeasible(tmp_path, vae):
    cons = Constraints.create(mw_range="0,60")  # almost nothing the model decodes is this small
    c = Campaign("qed", 50, _db(tmp_path), "random", model=vae, batch_size=5, seed=0, constraints=cons, n_init=5, patience=1000, max_proposals=40)
    s = c.run()
    assert s.stopped and "max_proposals 40" in s.stopped
    assert 40 <= s.trials < 50 and s.calls_used < 50
    assert c.max_proposals == 40
    assert Campaign("qed", 50, _db(tmp_path), "random", model=vae, name="other").max_proposals == 1000  # 20 x budget


def test_resume_extends_the_budget_and_checks_identity(tmp_path, vae):
    c = Campaign("qed", 6, _db(tmp_path), "random", model=vae, batch_size=3, seed=0, name="grow")
    c.run()
    before = c.history()
    more = Campaign("qed", 9, _db(tmp_path), "random", model=vae, batch_size=3, seed=0, name="grow")
    s = more.run()
    assert s.calls_used == 9 and s.calls_this_run == 3
    after = more.history()
    kept = after[after["trial"].isin(before["trial"])]
    pd.testing.assert_frame_equal(kept[["trial", "smiles", "score", "status"]].reset_index(drop=True), before[["trial", "smiles", "score", "status"]].reset_index(drop=True))
    with pytest.raises(CampaignError, match="exists with objective 'qed'"):
        Campaign("logp", 9, _db(tmp_path), "random", model=vae, name="grow").run()
    stored = StoredCampaign("grow", _db(tmp_path))
    assert stored.summary().calls_used == 9 and stored.meta["objective"] == "qed"
    with pytest.raises(CampaignError, match="no campaign named 'nope'"):
        StoredCampaign("nope", _db(tmp_path))


def test_resume_refuses_a_budget_below_the_stored_one(tmp_path, vae):
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=3, seed=0, name="shrink")
    Campaign("qed", 6, **kw).run()
    stored = StoredCampaign("shrink", _db(tmp_path))
    auc = stored.summary().auc_top10
    with pytest.raises(CampaignError, match=r"campaign 'shrink' has a budget of 6 oracle calls \(6 made\), not 4: give budget=6 to continue it"):
        Campaign("qed", 4, **kw).run()
    assert stored.budget == 6 and stored.summary().auc_top10 == auc  # nothing rewritten
    s = Campaign("qed", 6, **kw).run()  # the same budget again: nothing to do
    assert s.calls_this_run == 0 and s.budget == 6 and s.auc_top10 == auc


def test_a_budget_is_never_lowered_even_above_the_calls_made(tmp_path, vae):
    """The budget is a campaign setting (the PMO AUC is normalized by it): a re-run may
    extend it, not lower it, also when the calls made are fewer (a campaign that stopped
    early): the last run's --budget used to overwrite the stored one."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=3, seed=0, name="grow", n_init=3)
    Campaign("qed", 6, **kw).run()
    Campaign("qed", 9, **kw).run()
    with pytest.raises(CampaignError, match=r"has a budget of 9 oracle calls \(9 made\), not 6: give budget=9 to continue it, or a larger one to extend it"):
        Campaign("qed", 6, **kw).run()
    assert StoredCampaign("grow", _db(tmp_path)).budget == 9
    c = Campaign("qed", 20, patience=3, **kw)  # stops early: 3 proposals without a call
    s = c.run()
    assert s.budget == 20
    with pytest.raises(CampaignError, match=rf"has a budget of 20 oracle calls \({s.calls_used} made\), not 12"):
        Campaign("qed", 12, **kw).run()
    assert StoredCampaign("grow", _db(tmp_path)).budget == 20


def test_processes_with_different_budgets_share_one_budget(tmp_path, vae):
    """Two processes on one campaign with different --budget values: the one started
    with the smaller budget is refused when the larger one is stored, and a running
    process follows an extension made by another one; the stored budget was the last
    writer's, so a campaign could hold 10 calls with a stored budget of 6 (oracle calls
    10/6, and an AUC normalized by 6)."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=2, seed=0, name="two", n_init=2)
    refused = []

    def join_smaller(info):
        if not refused:
            with pytest.raises(CampaignError, match=r"has a budget of 10 oracle calls \(\d+ made\), not 6") as err:
                Campaign("qed", 6, **kw).run()
            refused.append(str(err.value))

    s = Campaign("qed", 10, **kw).run(progress=join_smaller)
    assert refused and s.calls_used == 10 and s.budget == 10
    assert StoredCampaign("two", _db(tmp_path)).summary().budget == 10

    kw["name"] = "three"
    extended = []

    def join_larger(info):
        if not extended:
            other = Campaign("qed", 9, **kw)
            other._check_meta(other._model())  # a second process starts with --budget 9
            extended.append(True)

    s = Campaign("qed", 5, **kw).run(progress=join_larger)
    assert s.calls_used == 9 and s.budget == 9  # the running process followed the extension
    assert StoredCampaign("three", _db(tmp_path)).budget == 9


def test_resume_refuses_a_changed_predictor_file(tmp_path, vae, train_smiles):
    from molvae import predictors
    from molvae.chem import properties

    smiles = train_smiles[:40]
    z = vae.encode(smiles)
    path = tmp_path / "logp.skops"

    def save(prop):
        p = predictors.LatentPredictor("ridge", targets=["logp"]).fit(z, [properties(s)[prop] for s in smiles])
        p.vae_sha256 = predictors.file_sha256(vae.path)
        p.save(path)

    save("logp")
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=3, seed=0, name="pred")
    Campaign(f"predictor:{path}:logp", 3, **kw).run()
    assert StoredCampaign("pred", _db(tmp_path)).meta["objective_files"] == {str(path): predictors.file_sha256(path)[:16]}
    Campaign(f"predictor:{path}:logp", 4, **kw).run()  # the same file: resumes
    save("qed")  # another predictor under the same name
    with pytest.raises(CampaignError, match=r"scored with another predictor file .*logp\.skops \(sha [0-9a-f]{16}; now sha [0-9a-f]{16}\)"):
        Campaign(f"predictor:{path}:logp", 6, **kw).run()
    assert StoredCampaign("pred", _db(tmp_path)).summary().calls_used == 4


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        (dict(objective="qed", budget=0), CampaignError, "budget must be a positive number"),
        (dict(objective="qed", budget=5, sampler="cmaes"), CampaignError, "unknown sampler"),
        (dict(objective="qed", budget=5, name="a/b"), CampaignError, "may hold letters"),
        (dict(objective="qed + ", budget=5), ObjectiveError, "ends with"),
        (dict(objective="qed", budget=5, batch_size=0), CampaignError, "batch size"),
        # decoded (and, with bo, screened) at once: a run with batch_size 10**8 or n_init 10**9 never ended
        (dict(objective="qed", budget=5, batch_size=10**8), CampaignError, "batch size must be between 1 and 4096, got 100000000"),
        (dict(objective="qed", budget=5, n_init=10**9), CampaignError, "n_init must be between 1 and 4096, got 1000000000"),
        (dict(objective="qed", budget=5, patience=0), CampaignError, "patience must be a positive number of proposals, got 0"),
        (dict(objective="qed", budget=5, patience=-2), CampaignError, "patience must be a positive number of proposals, got -2"),
        (dict(objective="qed", budget=5, max_proposals=0), CampaignError, "max_proposals must be a positive number of proposals, got 0"),
        (dict(objective="qed", budget=5, max_proposals="10"), CampaignError, "max_proposals must be a positive number of proposals, got '10'"),
        (dict(objective="qed", budget=5, n_init=0), CampaignError, "n_init must be a positive number"),
        (dict(objective="qed", budget=5, seed=-1), CampaignError, "seed must be an integer >= 0"),
        (dict(objective="qed", budget=5, seed="3"), CampaignError, "seed must be an integer >= 0, got '3'"),
        # numpy's legacy seeding (tpe, gp) ended in a ValueError traceback
        (dict(objective="qed", budget=5, seed=2**32), CampaignError, "seed must be at most 4294967295, got 4294967296"),
        (dict(objective="qed", budget=5, bound=float("inf")), CampaignError, "bound must be a positive finite number"),
        (dict(objective="qed", budget=5, fail_fast=-1), CampaignError, "fail_fast must be an integer >= 0"),
        (dict(objective="qed + 1e400*logp", budget=5), ObjectiveError, "the weight of logp must be a finite number, got inf"),
        (dict(objective="qed", budget=5, storage="sqlite:////no/such/dir/x.db"), CampaignError, "does not exist"),
        (dict(objective="qed", budget=5, storage="sqlite:///"), CampaignError, "storage='sqlite:///' names no file"),
        (dict(objective="qed", budget=5, storage="sqlite://"), CampaignError, "storage='sqlite://' names no file"),
        (dict(objective="qed", budget=5, storage="sqlite:///:memory:"), CampaignError, "names no file (an in-memory database keeps nothing,"),
        # a dict was taken and failed in run() ('dict' object has no attribute 'to_dict'); 5 gave re's bare TypeError
        (dict(objective="qed", budget=5, constraints={"max_sa": 3}), CampaignError, "constraints must be a Constraints (e.g. Constraints.create(max_sa=4)), got dict"),
        (dict(objective="qed", budget=5, name=5), CampaignError, "campaign name must be a string, got int 5"),
    ],
)
def test_bad_arguments(kwargs, error, fragment, tmp_path):
    kwargs.setdefault("storage", "memory")
    with pytest.raises(error, match=None) as info:
        Campaign(**kwargs)
    assert fragment in str(info.value)


class _T:
    """Just enough of a FrozenTrial for :func:`replay`."""

    def __init__(self, number, smiles, budget, retry_of=(), status="calling"):
        self.number = number
        self.user_attrs = {"smiles": smiles, "status": status, "claim": {"budget": budget, "retry_of": list(retry_of)}}


def test_replay_rules():
    trials = [_T(0, "A", 3), _T(1, "B", 3), _T(2, "A", 3), _T(3, "C", 3), _T(4, "D", 3), _T(5, "D", 5), _T(6, "B", 5, retry_of=[1])]
    rep = replay(trials)
    assert rep.calls == [0, 1, 3, 5, 6] and rep.call_index == {0: 1, 1: 2, 3: 3, 5: 4, 6: 5}
    assert rep.duplicate_of == {2: 0}  # the same molecule again: no second call
    assert rep.over_budget == {4}  # budget 3 was used up before it
    # unclaimed trials (cache hits, invalid ...) never count
    assert replay([type("U", (), {"number": 9, "user_attrs": {"smiles": "X"}})()]).n_calls == 0


def test_replay_skips_cancelled_claims_and_keeps_other_verdicts():
    """A claim cancelled before its call (Ctrl-C mid-batch) holds no budget slot; claims
    already finished as over_budget or duplicate stay what they were judged."""
    trials = [_T(0, "A", 2, status="scored"), _T(1, "B", 2, status="cancelled"), _T(2, "C", 2, status="over_budget"), _T(3, "B", 2, status="duplicate"), _T(4, "D", 2)]
    rep = replay(trials)
    assert rep.calls == [0, 4] and rep.call_index == {0: 1, 4: 2} and rep.over_budget == set() and rep.duplicate_of == {}


def test_recover_marks_dead_claims_and_spares_live_ones(tmp_path):
    storage = open_storage(_db(tmp_path, "rec"), heartbeat_interval=1, grace_period=30)
    ledger = Ledger(storage, "rec", direction="maximize")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    me = ledger.me
    ledger.me = ProcessIdentity(me.host, int(dead), "12345")
    tid_dead, n_dead = ledger.claim(np.zeros(2), {"smiles": "CCO"}, budget=5)
    assert ledger.view().trials[n_dead].user_attrs["status"] == "claimed"
    assert ledger.start_call(tid_dead)  # killed during this call
    ledger.release(tid_dead)
    tid_unstarted, n_unstarted = ledger.claim(np.zeros(2), {"smiles": "CCF"}, budget=5)  # killed before this call
    ledger.release(tid_unstarted)
    ledger.me = ProcessIdentity(me.host, 1, None)  # pid 1 is alive
    tid_live, n_live = ledger.claim(np.zeros(2), {"smiles": "CCN"}, budget=5)
    ledger.release(tid_live)
    ledger.me = me
    tid_mine, n_mine = ledger.claim(np.zeros(2), {"smiles": "CCC"}, budget=5)  # this process, active
    assert ledger.view().calls_used == 4
    assert ledger.recover() == [n_dead, n_unstarted]
    view = ledger.view()
    t = view.trials[n_dead]
    assert t.state.name == "FAIL" and t.user_attrs["status"] == "interrupted" and t.user_attrs["oracle_call"] == 1
    u = view.trials[n_unstarted]  # it used to be marked interrupted and counted
    assert u.state.name == "FAIL" and u.user_attrs["status"] == "cancelled" and "oracle_call" not in u.user_attrs
    assert "before the call started" in u.user_attrs["reason"]
    assert view.trials[n_live].state.name == "WAITING" and view.trials[n_mine].state.name == "WAITING"  # claimed, spared
    assert view.calls_used == 3  # the interrupted call counts against the budget, the cancelled claim does not
    assert view.interrupted == {"CCO": [n_dead]} and "CCO" not in view.answer  # ... and may be retried
    assert ledger.finish(tid_mine, {"status": "scored", "oracle_call": 3}, 1.0)
    ledger.release(tid_mine)
    assert ledger.recover() == []


def test_trace_and_pmo_auc():
    h = pd.DataFrame(
        {
            "oracle_call": pd.array([1, 2, 3, None], dtype="Int64"),
            "status": ["scored", "failed", "scored", "cached"],
            "smiles": ["A", "B", "C", "A"],
            "score": [0.5, np.nan, 1.0, 0.5],
        }
    )
    tr = trace(h)
    assert tr["best"].tolist() == [0.5, 0.5, 1.0]
    assert tr["top10_mean"].tolist() == [0.5, 0.5, 0.75]
    # (0.5 + 0.5 + 0.75 + 0.75 carried to the budget) / 4
    assert pmo_auc(tr, 4) == pytest.approx(2.5 / 4)
    assert np.isnan(pmo_auc(trace(h.iloc[:0]), 4))


def test_top_k_and_trace_refuse_counts_below_their_least():
    # top_k(h, -1) dropped the worst molecule (head(-1)); trace(h, top=0) gave NaN for
    # best and the mean throughout, though molecules were scored
    from molvae.campaign.report import top_k

    h = pd.DataFrame(
        {
            "oracle_call": pd.array([1, 2], dtype="Int64"),
            "status": ["scored", "scored"],
            "smiles": ["A", "B"],
            "score": [0.5, 1.0],
            "trial": [0, 1],
            **{p: [np.nan, np.nan] for p in __import__("molvae.chem", fromlist=["PROPERTY_NAMES"]).PROPERTY_NAMES},
        }
    )
    assert top_k(h, 0).empty and len(top_k(h, np.int64(5))) == 2
    for k in (-1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an integer >= 0"):
            top_k(h, k)
    for top in (0, -2, 1.5):
        with pytest.raises(ValueError, match="top must be an integer >= 1"):
            trace(h, top=top)


def test_lead_optimization_searches_through_the_start_molecules_point(tmp_path, vae, train_smiles, monkeypatch):
    """With a start molecule and a similarity bound, the first design point is the start's
    anchor and the coordinates the sampler does not move keep that point's values."""
    from molvae.interpolation import anchor

    searched = np.arange(vae.d_z // 2)  # the tiny model uses all its coordinates: search half of them
    monkeypatch.setattr("molvae.campaign.campaign.active_dimensions", lambda *a, **k: searched)
    lead = train_smiles[5]
    cons = Constraints.create(min_similarity=0.05, to=lead)
    c = Campaign("qed", 8, _db(tmp_path), "bo", model=vae, batch_size=4, seed=3, start=[lead], constraints=cons, n_init=3, patience=200, sampler_options={"n_candidates": 64})
    c.run()
    h = c.history(latent=True)
    z = h[[f"z{i}" for i in range(vae.d_z)]].to_numpy(dtype=float)
    z_lead = anchor(vae, vae.tokenize(lead)[0], seed=3)[0]
    np.testing.assert_allclose(z[h["source"].eq("start").idxmax()], np.clip(z_lead, -c.bound, c.bound), atol=1e-6)
    fixed = np.setdiff1d(np.arange(vae.d_z), searched)
    bo_rows = z[h["source"].eq("bo").to_numpy()]
    assert len(bo_rows) > 0 and len(fixed) > 0
    np.testing.assert_allclose(bo_rows[:, fixed], np.repeat(np.clip(z_lead, -c.bound, c.bound)[None, fixed], len(bo_rows), 0), atol=1e-6)


@pytest.mark.parametrize("lead", [True, False])
def test_lead_optimization_draws_no_candidates_from_the_prior(lead, tmp_path, vae, train_smiles, monkeypatch):
    """Prior draws are almost never similar to the lead, and their wide posterior wins
    Thompson sampling whenever their sampled constraint passes: lead optimization leaves
    them out of the bo candidates (explore=0); other campaigns keep them."""
    import molvae.campaign.campaign as cc

    built = []
    real = cc.make_sampler

    def spy(*a, **k):
        built.append(real(*a, **k))
        return built[-1]

    monkeypatch.setattr(cc, "make_sampler", spy)
    ref = train_smiles[5]
    cons = Constraints.create(min_similarity=0.05, to=ref)
    c = Campaign("qed", 6, _db(tmp_path), "bo", model=vae, batch_size=3, seed=1, start=[ref] if lead else None, constraints=cons, n_init=3, patience=30)
    c.run()
    assert built and built[-1].explore == (0.0 if lead else 0.02)
    assert c.history()["source"].eq("bo").any()  # the sampler proposed


# ---------------------------------------------------------------------- the model prior: what the model knows of the objective
@pytest.fixture(scope="module")
def headed_vae(model_path, tmp_path_factory):
    """The tiny model with a linear property head (logp, qed, sa) of known weights."""
    from molvae.checkpoint import load_checkpoint
    from molvae.vae import MolVAE

    ckpt = load_checkpoint(model_path)
    d_z = ckpt["hparams"]["d_z"]
    ckpt["hparams"] = {**ckpt["hparams"], "n_properties": 3, "property_hidden": 0}
    gen = torch.Generator().manual_seed(0)
    ckpt["state_dict"] = {**ckpt["state_dict"], "property_head.weight": torch.randn(3, d_z, generator=gen), "property_head.bias": torch.tensor([0.1, -0.2, 0.3])}
    ckpt["training"] = {**ckpt["training"], "properties": {"names": ["logp", "qed", "sa"], "mean": [2.0, 0.8, 2.5], "std": [1.0, 0.1, 0.5], "labelled_molecules": 10}}
    path = tmp_path_factory.mktemp("headed") / "headed.pt"
    torch.save(ckpt, path)
    return MolVAE.load(path)


def test_property_head_predictions_are_in_property_units(headed_vae, vae):
    z = np.random.default_rng(0).standard_normal((5, headed_vae.d_z)).astype(np.float32)
    pred = headed_vae.predict_properties(z)
    W = headed_vae.model.property_head.weight.detach().numpy()
    raw = z @ W.T + np.array([0.1, -0.2, 0.3])
    assert headed_vae.property_names == ["logp", "qed", "sa"]
    np.testing.assert_allclose(pred["sa"], raw[:, 2] * 0.5 + 2.5, rtol=1e-5)
    np.testing.assert_allclose(pred["qed"], raw[:, 1] * 0.1 + 0.8, rtol=1e-5)
    assert vae.property_names == [] and vae.predict_properties(z) == {}
    with pytest.raises(ValueError, match="shape"):
        headed_vae.predict_properties(z[:, :2])


def test_latent_estimate_of_builtin_and_similarity_objectives(headed_vae, vae, train_smiles, tmp_path):
    from molvae.campaign.objectives import parse_objective
    from molvae.interpolation import anchor

    z = np.random.default_rng(1).standard_normal((4, headed_vae.d_z))
    p = headed_vae.predict_properties(z)
    est = lambda spec, model=headed_vae: parse_objective(spec).latent_estimate(model)  # noqa: E731
    np.testing.assert_allclose(est("sa")(z), p["sa"])
    np.testing.assert_allclose(est("penalized_logp")(z), p["logp"] - p["sa"])  # no head output for the ring penalty
    np.testing.assert_allclose(est("qed - 0.5*sa")(z), p["qed"] - 0.5 * p["sa"])
    assert parse_objective("qed").latent_estimate(vae) is None  # no head

    # similarity: 1 at the target's anchor, falling with the distance from it; no head needed
    target = vae.tokenize(train_smiles[3])[0]
    z_t = anchor(vae, target)[0].astype(float)
    direction = np.random.default_rng(2).standard_normal(vae.d_z)
    line = z_t[None, :] + np.linspace(0, 20, 6)[:, None] * direction[None, :] / np.linalg.norm(direction)
    near = est(f"similarity:{target}", vae)(line)
    assert near[0] == pytest.approx(1.0) and np.all(np.diff(near) < 0) and near[-1] > 0
    np.testing.assert_allclose(est(f"qed + 0.5*similarity:{target}")(line), headed_vae.predict_properties(line)["qed"] + 0.5 * near, rtol=1e-5)

    # no estimate for a term the model cannot estimate
    (tmp_path / "f.py").write_text("def f(s):\n    return 1.0\n")
    assert est(f"qed + {tmp_path / 'f.py'}:f") is None  # a custom function
    assert est("similarity:C[Si](C)(C)C", vae) is None  # silicon: outside the alphabet


@pytest.mark.parametrize("objective", ["qed", "sa"])
def test_model_prior_screens_the_initial_design(objective, tmp_path, headed_vae):
    from molvae.campaign.campaign import SCREEN

    c = Campaign(objective, 6, _db(tmp_path), "bo", model=headed_vae, batch_size=3, seed=0, n_init=3)
    c.run()
    h = c.history(latent=True)
    design = h[h["source"] == "prior"].sort_values("trial")
    zcols = [f"z{i}" for i in range(headed_vae.d_z)]
    got = design[zcols].to_numpy(dtype=float)
    pool = headed_vae.sample_latent(SCREEN * 3, seed=0).astype(float)
    score = headed_vae.predict_properties(pool)[objective] * (1 if objective == "qed" else -1)
    best = pool[np.sort(np.argsort(-score)[:3])]
    np.testing.assert_allclose(got, np.clip(best, -4, 4), atol=1e-6)
    # without the model prior the design is the first n_init prior draws
    c2 = Campaign(objective, 6, _db(tmp_path, "flat"), "bo", model=headed_vae, batch_size=3, seed=0, n_init=3, model_prior=False)
    c2.run()
    h2 = c2.history(latent=True)
    flat = h2[h2["source"] == "prior"].sort_values("trial")[zcols].to_numpy(dtype=float)
    np.testing.assert_allclose(flat, np.clip(headed_vae.sample_latent(3, seed=0), -4, 4), atol=1e-6)


def test_model_prior_of_a_similarity_objective_screens_by_latent_distance(tmp_path, vae, train_smiles):
    """The initial design keeps the prior draws nearest the target's anchor (no head needed)."""
    from molvae.campaign.campaign import SCREEN
    from molvae.interpolation import anchor

    target = vae.tokenize(train_smiles[3])[0]
    c = Campaign(f"similarity:{target}", 6, _db(tmp_path), "bo", model=vae, batch_size=3, seed=0, n_init=3)
    c.run()
    h = c.history(latent=True)
    got = h[h["source"] == "prior"].sort_values("trial")[[f"z{i}" for i in range(vae.d_z)]].to_numpy(dtype=float)
    pool = vae.sample_latent(SCREEN * 3, seed=0).astype(float)
    dist = np.linalg.norm(pool - anchor(vae, target)[0].astype(float), axis=1)
    np.testing.assert_allclose(got, np.clip(pool[np.sort(np.argsort(dist)[:3])], -4, 4), atol=1e-6)
    assert c.meta["model_prior"] is True


def test_a_bo_campaign_says_when_the_model_cannot_estimate_its_objective(vae, caplog):
    """model_prior (on by default, or --model-prior) with an objective the model cannot
    estimate (here qed, with no property head) was dropped without a word."""
    import logging

    caplog.set_level(logging.INFO, logger="molvae.campaign")
    kw = dict(storage="memory", sampler="bo", model=vae, batch_size=3, seed=0, n_init=3)
    Campaign("qed", 3, **kw).run()
    assert "the model cannot estimate qed" in caplog.text and "no model prior" in caplog.text
    caplog.clear()
    Campaign("qed", 3, model_prior=False, **kw).run()  # not asked for: nothing to say
    assert "cannot estimate" not in caplog.text


@pytest.mark.parametrize("content", ["table", "empty"])
def test_reading_a_foreign_sqlite_file_leaves_it_untouched(tmp_path, content):
    """StoredCampaign (``campaign show``) opened any SQLite file with optuna, which wrote
    its schema (and WAL mode) into a database that was not a campaign storage."""
    import sqlite3

    path = tmp_path / "other.db"
    if content == "table":
        con = sqlite3.connect(path)
        con.execute("create table t (x)")
        con.commit()
        con.close()
    else:
        path.write_bytes(b"")
    before = path.read_bytes()
    with pytest.raises(CampaignError, match=r"other\.db is not an optuna campaign storage"):
        StoredCampaign("other", f"sqlite:///{path}")
    assert path.read_bytes() == before and not (tmp_path / "other.db-wal").exists()


@pytest.mark.parametrize("tables, accepted", [(["studies"], True), (["studies", "version_info", "study_directions"], True), (["studies", "molecules"], False)])
def test_a_schema_another_process_is_creating_is_not_a_foreign_database(tmp_path, tables, accepted):
    """Two `optimize` processes started together on a new SQLite campaign: the second one
    found some of optuna's tables (the first was creating them, one after another) and
    refused the file as 'not an optuna campaign storage' (CI, stop 27). A file holding only
    optuna's tables is accepted for a new campaign; one with a table of another schema is not."""
    import sqlite3

    from molvae.campaign.ledger import check_storage

    path = tmp_path / "new.db"
    con = sqlite3.connect(path)
    for t in tables:
        con.execute(f"create table {t} (x)")
    con.commit()
    con.close()
    url = f"sqlite:///{path}"
    if accepted:
        assert check_storage(url) == url
    else:
        with pytest.raises(CampaignError, match=r"new\.db is not an optuna campaign storage"):
            check_storage(url)
    with pytest.raises(CampaignError, match=r"new\.db is not an optuna campaign storage"):
        check_storage(url, create=False)  # reading one (campaign show) needs the whole schema


def test_a_late_result_is_not_a_second_oracle_call(tmp_path):
    """A call judged interrupted while it ran (another host saw no heartbeat) and whose
    result came back later is one oracle call: the summary counted the late result's row
    as a second one (oracle calls 2/1, while the ledger said 1)."""
    from molvae.campaign.campaign import META

    url = _db(tmp_path, "late")
    ledger = Ledger(open_storage(url), "late", direction="maximize")
    ledger.set_attr(META, {"objective": "qed", "sampler": "random"})
    ledger.set_attr("budget", 1)
    tid, n = ledger.claim(np.zeros(2), {"smiles": "CCO", "source": "prior"}, budget=1)
    assert ledger.start_call(tid)
    assert ledger.interrupt(tid, "no heartbeat", 1)  # another process judged it dead
    out = {"status": "scored", "oracle_call": 1, "terms": {"qed": 0.4}}
    assert not ledger.finish(tid, out, 0.4)  # the call returns: its claim is already finished
    ledger.add(np.zeros(2), {"smiles": "CCO", "source": "prior", **out, "late_result_of": n}, value=0.4)
    assert ledger.view().calls_used == 1
    s = StoredCampaign("late", url).summary()
    assert s.calls_used == 1 and s.best_score == 0.4
    assert s.counts["interrupted"] == 1 and s.counts["scored"] == 1
    assert StoredCampaign("late", url).trace()["oracle_call"].tolist() == [1]


def test_resume_refuses_changed_start_molecules(tmp_path, vae, train_smiles):
    """The design's points are numbered, and a resumed campaign skips the numbers it has
    done: new start molecules were silently never proposed."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=3, seed=0, name="st")
    Campaign("qed", 3, start=[train_smiles[0]], **kw).run()
    for other, shown in (([train_smiles[1]], repr(train_smiles[1])), ([], "no start molecules")):
        with pytest.raises(CampaignError, match="campaign 'st' was started from") as info:
            Campaign("qed", 6, start=other, **kw).run()
        assert shown in str(info.value) and "use another name (or storage)" in str(info.value)
    s = Campaign("qed", 6, start=[train_smiles[0]], **kw).run()  # the same start molecules: resumes
    assert s.calls_used == 6


def test_a_bad_start_molecule_does_not_create_the_campaign(tmp_path, vae, train_smiles):
    """A start molecule that cannot be used was refused only after the campaign's settings
    were stored: the corrected command was then refused too ('campaign was started from
    'notamolecule'), and the typo could only be left behind with another --name."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=3, seed=0, name="typo")
    with pytest.raises(CampaignError, match="start molecule 'notamolecule' is neither a known drug name nor a valid SMILES"):
        Campaign("qed", 3, start=["notamolecule"], **kw).run()
    assert not list(tmp_path.iterdir())  # not even an empty study: the checks come before the storage
    s = Campaign("qed", 3, start=[train_smiles[0]], **kw).run()
    assert s.calls_used == 3


def test_two_campaigns_in_one_process_leave_each_other_s_claims_alone(tmp_path, monkeypatch):
    """Claims were known to be live per storage object: a second Campaign (or Ledger) on
    the same database in the same process, say in another thread, judged the first one's
    in-flight claims those of a dead run (same pid) and interrupted or cancelled them."""
    monkeypatch.chdir(tmp_path)
    a = Ledger(open_storage("sqlite:///shared.db"), "shared", direction="maximize")
    b = Ledger(open_storage(f"sqlite:///{tmp_path / 'shared.db'}"), "shared", direction="maximize")
    tid, n = a.claim(np.zeros(2), {"smiles": "CCO"}, budget=5)
    assert a.start_call(tid)
    tid2, n2 = a.claim(np.zeros(2), {"smiles": "CCN"}, budget=5)
    assert b.recover() == []
    view = b.view()
    assert view.trials[n].state.name == "RUNNING" and view.trials[n2].user_attrs["status"] == "claimed"
    a.release(tid), a.release(tid2)  # now nobody works on them: this process's dead claims
    assert sorted(b.recover()) == [n, n2]


def test_failed_checks_leave_no_storage_behind(tmp_path, vae):
    """A run whose checks failed (a model file that cannot be loaded, a start molecule that
    cannot be used) left an empty SQLite study behind: the storage was created by the
    constructor, before the checks of run(). Now it is created when the checks have passed,
    and the constructor only validates the storage URL."""
    kw = dict(storage=_db(tmp_path), sampler="random", batch_size=3, seed=0, name="chk")
    c = Campaign("qed", 3, model=tmp_path / "missing.pt", **kw)
    assert not list(tmp_path.iterdir())
    from molvae.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="model file not found"):
        c.run()
    with pytest.raises(CampaignError, match="start molecule 'CCX'"):
        Campaign("qed", 3, model=vae, start=["CCX"], **kw).run()
    assert not list(tmp_path.iterdir())
    s = Campaign("qed", 3, model=vae, **kw).run()
    assert s.calls_used == 3 and (tmp_path / "c.db").is_file()


def test_a_resumed_campaign_keeps_its_initial_design(tmp_path, vae):
    """The default n_init was derived from each run's budget (min(20, max(2, budget // 4))):
    a rerun with a larger budget had a larger initial design than the campaign it resumed
    (more prior draws, done after the sampler's proposals). n_init is now a setting of the
    campaign, stored when it is created and reused on resume; another explicit n_init is
    refused, as other start settings are."""
    from molvae.campaign.campaign import META

    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=2, seed=0, name="design")
    first = Campaign("qed", 8, **kw)  # default n_init: 2
    first.run()
    assert first.n_init == 2 and first.meta["n_init"] == 2
    extended = Campaign("qed", 24, **kw)  # the default for 24 calls would be 6
    s = extended.run()
    assert s.calls_used == 24 and extended.n_init == 2 and extended.meta["n_init"] == 2
    assert (extended.history()["source"] == "prior").sum() == 2

    with pytest.raises(CampaignError, match=r"campaign 'design' was created with n_init 2 \(prior draws in its initial design\), not 5") as info:
        Campaign("qed", 30, n_init=5, **kw).run()
    assert "leave n_init out (or give n_init=2)" in str(info.value)
    assert Campaign("qed", 30, n_init=2, **kw).run().calls_used == 30  # the stored value: resumes

    # a ledger of an older version stored no n_init: the default of the budget it was created with
    meta = dict(extended.meta)
    del meta["n_init"]
    extended.ledger.set_attr(META, meta)
    legacy = Campaign("qed", 40, **kw)
    assert legacy.run().calls_used == 40 and legacy.n_init == 2


def test_a_resumed_campaign_keeps_its_seed(tmp_path, vae):
    """A campaign resumed with another seed (or with none, i.e. 0) took it without a word:
    the rest of its initial design was drawn from that seed while the ledger still
    recorded the first. A resumed campaign now keeps its stored seed when none is given,
    and another explicit seed is refused, as another n_init is."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=2, n_init=6, name="seeded")
    first = Campaign("qed", 2, seed=3, **kw)
    first.run()
    assert first.meta["seed"] == 3
    with pytest.raises(CampaignError, match=r"campaign 'seeded' was created with seed 3, not 0") as info:
        Campaign("qed", 8, seed=0, **kw).run()
    assert "leave seed out (or give seed=3)" in str(info.value)
    assert StoredCampaign("seeded", _db(tmp_path)).summary().calls_used == 2
    resumed = Campaign("qed", 8, **kw)  # no seed given: the stored one
    assert resumed.run().calls_used == 8 and resumed.seed == 3
    h = resumed.history(latent=True)
    got = h[h["source"] == "prior"][[f"z{i}" for i in range(vae.d_z)]].to_numpy(dtype=float)
    expected = np.clip(vae.sample_latent(6, seed=3), -4, 4)
    assert len(got) == 6
    assert all(np.abs(expected - row).max(axis=1).min() < 1e-6 for row in got)  # each a draw of seed 3
    assert Campaign("qed", 8, seed=3, **kw).run().calls_used == 8  # the stored seed, given: resumes


def test_the_summary_of_a_resumed_run_names_its_own_sampler(tmp_path, vae):
    """A run resuming with another sampler logged 'continues with sampler tpe (it started
    with random)', then its summary said 'sampler random', the stored one."""
    kw = dict(storage=_db(tmp_path), model=vae, batch_size=2, n_init=2, name="switch")
    Campaign("qed", 2, sampler="random", **kw).run()
    s = Campaign("qed", 4, sampler="tpe", **kw).run()
    assert s.sampler == "tpe (started with random)"
    assert s.lines()[0] == "campaign switch: qed (maximize), sampler tpe (started with random)"
    assert StoredCampaign("switch", _db(tmp_path)).summary().sampler == "random"  # what the campaign started with
    assert Campaign("qed", 4, sampler="random", **kw).run().sampler == "random"


def test_the_timings_of_a_run_include_its_setup(vae):
    """A run's timings left out its setup (the model, the start molecules' latent points,
    the initial design): optimize printed 'this run: 5 oracle calls in 32.9s' beside stages
    that added up to 7 s."""
    s = Campaign("qed", 2, "memory", "random", model=vae, batch_size=2, seed=0, n_init=2).run()
    assert s.timings["setup"] > 0
    assert sum(s.timings.values()) <= s.seconds


def test_a_stage_timed_inside_itself_counts_once():
    """A ledger write timed inside a ledger block (finishing a duplicate's claim) was
    counted twice, so a run's stages could add up to more than its wall time."""
    import time

    from molvae.campaign.campaign import _Timer

    timer = _Timer()
    t0 = time.perf_counter()
    with timer("ledger"):
        with timer("ledger"):
            time.sleep(0.05)
        with timer("oracle"):
            time.sleep(0.02)
    wall = time.perf_counter() - t0
    assert 0.07 <= timer.seconds["ledger"] <= wall
    assert 0.02 <= timer.seconds["oracle"] < timer.seconds["ledger"]
    with timer("ledger"):  # counted again once closed
        time.sleep(0.01)
    assert timer.seconds["ledger"] >= 0.08


def test_pmo_auc_of_a_huge_budget_allocates_nothing():
    """--budget 100000000000000 ended a campaign (after its work, before its outputs) in
    a numpy MemoryError traceback: pmo_auc padded the trace to the budget with an array
    of 10^14 floats. The carried value is now added without an array."""
    h = pd.DataFrame({"oracle_call": pd.array([1, 2], dtype="Int64"), "status": ["scored", "scored"], "smiles": ["A", "B"], "score": [0.5, 1.0]})
    budget = 10**14
    assert pmo_auc(trace(h), budget) == pytest.approx((0.5 + 0.75 * (budget - 1)) / budget)
    assert pmo_auc(trace(h), 10**30) == pytest.approx(0.75)


def test_a_campaign_refuses_a_foreign_sqlite_file_before_writing_to_it(tmp_path, vae):
    """optimize --storage sqlite:///other.db on a SQLite database of someone else's (tables,
    no optuna ones) wrote optuna's schema and a campaign into it. It is refused now, and
    the file is left as it was; an empty file may still become a campaign storage."""
    import sqlite3

    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("create table t (x)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(CampaignError, match=r"other\.db is not an optuna campaign storage"):
        Campaign("qed", 2, f"sqlite:///{path}", "random", model=vae, batch_size=2, n_init=2).run()
    assert path.read_bytes() == before and not (tmp_path / "other.db-wal").exists()
    (tmp_path / "empty.db").write_bytes(b"")
    assert Campaign("qed", 2, _db(tmp_path, "empty"), "random", model=vae, batch_size=2, n_init=2).run().calls_used == 2


def test_two_processes_creating_one_campaign_with_different_objectives(tmp_path, vae, monkeypatch):
    """Two `optimize --name shared` processes started together with different objectives
    (qed, logp) both found no settings stored, both wrote theirs (the last writer won) and
    both ran: a campaign stored as qed held logp scores. The settings are now written only
    if absent, atomically; the process that lost sees the winner's and is refused."""
    kw = dict(storage=_db(tmp_path), sampler="random", model=vae, batch_size=2, seed=0, name="shared", n_init=2)
    first = Campaign("qed", 4, **kw)
    first._check_meta(first._model())
    late = Campaign("logp", 4, **kw)
    # the late process read the settings before the first one wrote them
    monkeypatch.setattr(Campaign, "meta", property(lambda self: {}))
    with pytest.raises(CampaignError, match="exists with objective 'qed', not 'logp'"):
        late._check_meta(late._model())
    monkeypatch.undo()
    assert StoredCampaign("shared", _db(tmp_path)).meta["objective"] == "qed"


def test_checking_a_campaign_storage_leaves_no_side_files(tmp_path):
    """Checking a WAL-mode campaign storage (a refused optimize, campaign show) read it
    through a read-only connection, which cannot remove the -wal and -shm files it opens:
    a refused command left them behind."""
    import sqlite3

    from molvae.campaign.ledger import check_storage

    path = tmp_path / "c.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    for table in ("studies", "trials", "version_info"):
        con.execute(f"create table {table} (x)")
    con.commit()
    con.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    for create in (True, False):
        check_storage(f"sqlite:///{path}", create=create)
        assert sorted(p.name for p in tmp_path.iterdir()) == before == ["c.db"]


def test_the_table_of_a_campaign_with_no_score_has_the_same_columns(tmp_path, vae):
    """When no proposal could be scored (every one infeasible), best() -- and so the -o
    table -- had no term column (term:qed), and no similarity_to_reference under a
    similarity constraint: a script reading top.csv broke on exactly the campaigns that
    found nothing. The empty table now has the columns a scored one has."""
    cons = Constraints.create(mw_range="5000,6000", min_similarity=0.4, to="CCO")
    c = Campaign("qed + 0.5*logp", 2, "memory", "random", model=vae, batch_size=2, seed=0, constraints=cons, n_init=2, patience=4)
    assert c.run().calls_used == 0
    best = c.best(5)
    assert best.empty
    assert list(best.columns[:5]) == ["rank", "smiles", "score", "term:qed", "term:logp"]
    assert "similarity_to_reference" in best.columns and list(best.columns[-2:]) == ["trial", "oracle_call"]


def test_max_proposals_is_not_overshot_by_a_round(vae):
    """--max-proposals 3 with batches of 10 made 10 proposals (and 10 oracle calls): the
    limit was checked only between rounds. A round now proposes no more than are left."""
    c = Campaign("qed", 50, "memory", "random", model=vae, batch_size=10, seed=0, n_init=2, max_proposals=3)
    s = c.run()
    assert s.trials == 3 and s.calls_used <= 3 and "max_proposals 3" in s.stopped


def test_sqlite_path_is_public_and_names_the_database_file():
    """The CLI needed the file behind a sqlite:/// URL (to refuse writing an output over
    the storage) and imported the private ledger._sqlite_path for it."""
    from pathlib import Path

    from molvae.campaign import ledger

    assert "sqlite_path" in ledger.__all__
    assert ledger.sqlite_path("sqlite:///runs/c.db") == Path("runs/c.db")
    assert ledger.sqlite_path("sqlite:////abs/c.db") == Path("/abs/c.db")
    for url in ("sqlite:///", "sqlite:///:memory:", "memory", "postgresql://host/db"):
        assert ledger.sqlite_path(url) is None
    cli_source = Path(__file__).parents[2] / "cli" / "campaign.py"
    assert "_sqlite_path" not in cli_source.read_text()


def test_sqlite_urls_are_read_as_sqlalchemy_reads_them(tmp_path, monkeypatch):
    """'sqlite:///c.db?timeout=30' named the file 'c.db?timeout=30' (optuna opens c.db), a
    driver ('sqlite+pysqlite:///') was no SQLite file, and 'SQLITE:///c.db' (no dialect for
    SQLAlchemy) was said to name no file."""
    from pathlib import Path

    from molvae.campaign import ledger

    assert ledger.sqlite_path("sqlite:///c.db?timeout=30") == Path("c.db")
    assert ledger.sqlite_path("sqlite+pysqlite:///runs/c.db") == Path("runs/c.db")
    assert ledger.sqlite_path("sqlite:///my%20runs.db") == Path("my runs.db")
    assert ledger.sqlite_path("sqlite://") is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    with pytest.raises(CampaignError, match="names a folder"):
        ledger.check_storage("sqlite:///adir?timeout=30")  # the folder is found behind the query
    for url in ("SQLITE:///c.db", "Sqlite:///c.db"):
        with pytest.raises(CampaignError, match=r"scheme in lower case \(sqlite://"):
            ledger.check_storage(url)


def test_a_single_start_molecule_given_as_a_string_is_one_molecule():
    # start='CCO' iterated the string: the campaign started from C, C and O
    c = Campaign("qed", 2, "memory", "random", start="CCO")
    assert c.start == ["CCO"]
    assert Campaign("qed", 2, "memory", "random", start=("CCO", "aspirin")).start == ["CCO", "aspirin"]


def _latent_rows(h: pd.DataFrame, d_z: int) -> list[tuple[float, ...]]:
    return [tuple(np.round(r, 6)) for r in h[[f"z{i}" for i in range(d_z)]].to_numpy(dtype=float)]


def test_a_worker_joining_a_live_campaign_proposes_from_its_own_stream(tmp_path, vae):
    """Two workers on one campaign (`optimize` twice on one --storage) started from the
    same ledger proposed the same latent points: each drew the initial design and then
    the sampler's stream from the campaign's seed, so the second one's molecules were all
    cached or duplicates. A worker that registers while another is live now leaves the
    design to it and proposes from a stream spawned for its slot; the worker that was
    there first, alone until then, proposes what a lone run proposes."""
    from molvae.campaign.campaign import worker_seed
    from molvae.campaign.ledger import WORKER_KEY

    kw = dict(sampler="random", model=vae, batch_size=3, seed=0, n_init=3, name="w")
    lone = Campaign("qed", 9, _db(tmp_path, "lone"), **kw)
    lone.run()
    h = lone.history(latent=True)
    lone_first = _latent_rows(h[h["batch"] == h["batch"].iloc[0]], vae.d_z)
    assert len(lone_first) == 3 and set(h["source"].iloc[:3]) == {"prior"}

    joined = {}

    def second_worker(info):
        if not joined:  # the first worker is registered and has proposed nothing yet
            other = Campaign("qed", 9, _db(tmp_path, "shared"), max_proposals=3, **kw)
            joined["summary"] = other.run()  # one round, then it stops (max_proposals)
            joined["history"] = other.history(latent=True)

    first = Campaign("qed", 9, _db(tmp_path, "shared"), **kw)
    s = first.run(progress=second_worker)
    assert s.calls_used == 9
    hj = joined["history"]
    assert len(hj) == 3 and set(hj["source"]) == {"random"}  # the design was left to the first worker
    second = _latent_rows(hj, vae.d_z)
    assert not set(second) & set(lone_first)  # the old code proposed exactly lone_first here
    shared = first.history(latent=True)
    mine = shared[shared["batch"] != hj["batch"].iloc[0]]
    assert _latent_rows(mine.iloc[:3], vae.d_z) == lone_first  # the first worker's design, as alone
    assert not set(second) & set(_latent_rows(mine, vae.d_z))
    # its stream: the random sampler's draws with the spawned seed (trial numbers 0, 1, 2)
    expected = [np.clip(np.random.default_rng([worker_seed(0, 1), n]).standard_normal(vae.d_z), -4, 4) for n in range(3)]
    assert second == [tuple(np.round(z, 6)) for z in expected]
    workers = {k: v for k, v in first.ledger.attrs().items() if k.startswith(WORKER_KEY)}
    assert sorted(workers) == ["worker:0", "worker:1"] and all(v["done"] for v in workers.values())
    # both ended: the next run works alone again
    assert first.ledger.register_worker().peers == ()


@pytest.mark.parametrize("where", ["_shadow", "_round"])
def test_a_run_that_fails_ends_its_worker_and_restores_optuna_logging(tmp_path, vae, monkeypatch, where):
    """A run that raises, while setting up its sampler or in a round, leaves no live worker
    behind (the next run would otherwise leave the initial design to a dead peer) and
    optuna's log level as it was."""
    import optuna

    kw = dict(sampler="random", model=vae, batch_size=3, seed=0, n_init=3, name="w")
    c = Campaign("qed", 9, _db(tmp_path, "fails"), **kw)

    def boom(*args, **kwargs):
        raise RuntimeError(f"{where} failed")

    monkeypatch.setattr(Campaign, where, boom)
    before = optuna.logging.get_verbosity()
    with pytest.raises(RuntimeError, match=f"{where} failed"):
        c.run()
    assert optuna.logging.get_verbosity() == before
    assert c.ledger.register_worker().peers == ()


def test_workers_register_in_order_and_judge_which_are_live(tmp_path):
    """The slots and peers of Ledger.register_worker: a peer is a worker of a lower slot
    that has not ended; of this host, one whose process runs; of another host, one whose
    beat is at most the grace period old."""
    import time

    storage = open_storage(_db(tmp_path))
    a = Ledger(storage, "w", direction="maximize")
    b = Ledger(storage, "w")
    wa = a.register_worker()
    assert (wa.slot, wa.peers) == (0, ())
    wb = b.register_worker()
    assert (wb.slot, wb.peers) == (1, (0,))
    a.end_worker(wa)
    wc = a.register_worker()
    assert (wc.slot, wc.peers) == (2, (1,))
    b.end_worker(wb)
    a.end_worker(wc)
    wd = a.register_worker()
    assert (wd.slot, wd.peers) == (3, ())  # the others ended: alone
    a.end_worker(wd)

    far = Ledger(storage, "w")
    far.me = ProcessIdentity("another-host", 4242, None)
    wf = far.register_worker()
    assert a.register_worker().peers == (wf.slot,)  # beating on another host: live
    far.set_attr(wf.key, {**wf.record, "beat": time.time() - 3600})  # silent for an hour
    wg = a.register_worker()
    assert wf.slot not in wg.peers
    a.end_worker(wg)

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    gone = Ledger(storage, "w")
    gone.me = ProcessIdentity(a.me.host, int(dead), "1")  # a process of this host that exited
    wk = gone.register_worker()
    assert wk.slot not in a.register_worker().peers


def test_storage_errors_name_the_python_argument_not_the_cli_flag(tmp_path):
    """Campaign(...), StoredCampaign(...) and check_storage/open_storage called from Python
    were told of --storage, a flag they never gave; the CLI passes flags=CLI_FLAGS, so
    'molvae optimize' and 'molvae campaign show' still name it."""
    from molvae.campaign.ledger import check_storage, open_storage

    missing = f"sqlite:///{(tmp_path / 'missing.db').as_posix()}"
    cases = [
        (lambda **f: check_storage("sqlite://", **f), "storage='sqlite://' names no file", "--storage sqlite:// names no file"),
        (lambda **f: check_storage("", **f), "storage must be an optuna storage URL", "--storage must be an optuna storage URL"),
        (lambda **f: open_storage(missing, create=False, **f), "(give storage=URL)", "(give --storage URL)"),
        (lambda **f: StoredCampaign("x", "memory", **f), "storage='memory' keeps nothing", "--storage memory keeps nothing"),
        (lambda **f: StoredCampaign("sqlite:///x.db", **f), "as its storage (storage='sqlite:///x.db')", "as its storage (--storage sqlite:///x.db)"),
        (lambda **f: Campaign("qed", 5, "sqlite:///", **f), "storage='sqlite:///' names no file", "--storage sqlite:/// names no file"),
        (lambda **f: Campaign("qed", 5, "campaign.db", **f), "storage must be an optuna storage URL such as sqlite:///campaign.db", "--storage must be an optuna storage URL such as sqlite:///campaign.db"),
    ]
    for call, python, _ in cases:
        with pytest.raises(CampaignError) as info:
            call()
        assert python in str(info.value) and "--" not in str(info.value), str(info.value)
    from molvae.campaign.errors import CLI_FLAGS

    for call, _, cli in cases:
        with pytest.raises(CampaignError) as info:
            call(flags=CLI_FLAGS)
        assert cli in str(info.value), str(info.value)
