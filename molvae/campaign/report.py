"""Tables, curves and figures of merit from a campaign ledger.

The PMO figure of merit (Gao et al. 2022, "Sample efficiency matters: a benchmark for
practical molecular optimization", NeurIPS Datasets & Benchmarks) is the area under the
curve of the top-10 mean score versus oracle calls, divided by the budget. With scores
in [0, 1] (QED, similarity, PMO's oracles) it lies in [0, 1]. Here the curve is taken at
every call (PMO samples it every 100 calls and uses the trapezoid rule); a campaign that
stops before its budget carries its last value to the budget, as PMO does; calls before
the first scored molecule contribute 0 (for a minimized objective, the first top-10 value).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from optuna.trial import FrozenTrial, TrialState

from molvae.checks import is_integer
from molvae.chem import PROPERTY_NAMES

__all__ = ["history_frame", "top_k", "trace", "pmo_auc", "plot_trace", "STATUSES"]

#: Trial statuses, in the order summaries list them.
STATUSES = ("scored", "failed", "interrupted", "cached", "duplicate", "over_budget", "cancelled", "invalid", "infeasible", "claimed", "calling")

_FIRST = ["trial", "state", "status", "smiles", "score", "oracle_call", "source", "reason", "cached_from"]


def history_frame(trials: Iterable[FrozenTrial], call_index: dict[int, int], *, latent: bool = False) -> pd.DataFrame:
    """One row per trial, in trial order.

    Parameters
    ----------
    trials : iterable of FrozenTrial
    call_index : dict of int to int
        Trial number -> 1-based oracle-call index (from the ledger replay).
    latent : bool
        Add the latent coordinates as columns ``z0 ..``.

    Returns
    -------
    DataFrame
        ``trial, state, status, smiles, score, oracle_call, source, reason, cached_from,
        batch, datetime_start, datetime_complete,`` the RDKit properties, one column per
        objective term (``term:<name>``) and, with ``latent``, ``z0 ..``.
    """
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        a = t.user_attrs
        row = {
            "trial": t.number,
            "state": t.state.name,
            "status": a.get("status", "scored" if t.state == TrialState.COMPLETE else t.state.name.lower()),
            "smiles": a.get("smiles", ""),
            "score": t.value if t.state == TrialState.COMPLETE else math.nan,
            "oracle_call": call_index.get(t.number, a.get("oracle_call")) if a.get("claim") or a.get("late_result_of") is not None else None,
            "source": a.get("source"),
            "reason": a.get("reason"),
            "cached_from": a.get("cached_from"),
            "batch": a.get("batch"),
            "datetime_start": t.datetime_start,
            "datetime_complete": t.datetime_complete,
        }
        props = a.get("props") or {}
        for p in PROPERTY_NAMES:
            v = props.get(p)
            row[p] = math.nan if v is None else v
        if "similarity_to_reference" in props:
            v = props["similarity_to_reference"]
            row["similarity_to_reference"] = math.nan if v is None else v
        for k, v in (a.get("terms") or {}).items():
            row[f"term:{k}"] = math.nan if v is None else v
        if latent:
            for i, v in enumerate(a.get("z") or ()):
                row[f"z{i}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=_FIRST + ["batch", "datetime_start", "datetime_complete", *PROPERTY_NAMES])
    df["oracle_call"] = pd.array(df["oracle_call"].tolist(), dtype="Int64")
    df["cached_from"] = pd.array(df["cached_from"].tolist(), dtype="Int64")
    return df


def _whole(name: str, value, least: int) -> int:
    """``value`` as an int, or a ValueError naming ``name`` when it is not an integer >= ``least``."""
    if not is_integer(value) or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _scored(history: pd.DataFrame) -> pd.DataFrame:
    """Rows of real oracle calls that returned a score, one per molecule, in call order."""
    if history.empty:
        return history
    h = history[(history["status"] == "scored") & history["oracle_call"].notna() & history["score"].notna()]
    return h.sort_values("oracle_call", kind="stable").drop_duplicates("smiles", keep="first")


def top_k(history: pd.DataFrame, k: int = 10, direction: str = "maximize", *, terms: Iterable[str] = (), similarity: bool = False) -> pd.DataFrame:
    """The ``k`` best distinct molecules found by real oracle calls.

    Parameters
    ----------
    history : DataFrame
        From :func:`history_frame`.
    k : int
        Rows, >= 0 (0 gives the empty table).
    direction : {"maximize", "minimize"}
    terms : iterable of str
        The objective's term names: their ``term:`` columns are in the table even when
        no molecule was scored (the history then has none).
    similarity : bool
        The same for ``similarity_to_reference`` (a similarity constraint).

    Returns
    -------
    DataFrame
        ``rank, smiles, score,`` term values, properties (and ``similarity_to_reference``
        under a similarity constraint), ``trial, oracle_call``.

    Raises
    ------
    ValueError
        ``k`` is not an integer >= 0.
    """
    k = _whole("k", k, 0)  # head(-1) dropped the last molecule
    h = _scored(history)
    if h.empty:  # the columns a scored table has, so that readers of the table need no special case
        extra = ["similarity_to_reference"] if similarity or "similarity_to_reference" in history.columns else []
        return pd.DataFrame(columns=["rank", "smiles", "score", *(f"term:{t}" for t in terms), *PROPERTY_NAMES, *extra, "trial", "oracle_call"])
    h = h.sort_values(["score", "oracle_call"], ascending=[direction == "minimize", True], kind="stable").head(k)
    terms = [c for c in h.columns if c.startswith("term:")]
    extra = ["similarity_to_reference"] if "similarity_to_reference" in h.columns else []
    out = h[["smiles", "score", *terms, *PROPERTY_NAMES, *extra, "trial", "oracle_call"]].copy()
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def trace(history: pd.DataFrame, direction: str = "maximize", top: int = 10) -> pd.DataFrame:
    """Best-so-far and top-``top`` mean after each oracle call.

    Parameters
    ----------
    history : DataFrame
        From :func:`history_frame`.
    direction : {"maximize", "minimize"}
    top : int
        Size of the running top-``top`` mean, >= 1.

    Returns
    -------
    DataFrame
        ``oracle_call`` (1..n, every real call, failed ones included), ``score`` (NaN for
        a failed or interrupted call), ``best``, ``top{top}_mean`` (NaN before the first score).

    Raises
    ------
    ValueError
        ``top`` is not an integer >= 1.
    """
    top = _whole("top", top, 1)  # top=0 kept no score: best and the mean were NaN throughout
    if history.empty or history["oracle_call"].notna().sum() == 0:
        return pd.DataFrame(columns=["oracle_call", "score", "best", f"top{top}_mean"])
    calls = history[history["oracle_call"].notna() & history["status"].isin(["scored", "failed", "interrupted", "calling"])]
    calls = calls.assign(_late=calls["status"].ne("scored")).sort_values(["oracle_call", "_late"], kind="stable").drop_duplicates("oracle_call")
    sign = 1.0 if direction == "maximize" else -1.0
    seen: set[str] = set()
    best_vals: list[float] = []  # kept sorted descending by goodness, at most `top`
    best_col, top_col = [], []
    for smi, status, score in zip(calls["smiles"], calls["status"], calls["score"]):
        if status == "scored" and not (isinstance(score, float) and math.isnan(score)) and smi not in seen:
            seen.add(smi)
            best_vals.append(sign * float(score))
            best_vals.sort(reverse=True)
            del best_vals[top:]
        best_col.append(sign * best_vals[0] if best_vals else math.nan)
        top_col.append(sign * float(np.mean(best_vals)) if best_vals else math.nan)
    return pd.DataFrame({"oracle_call": calls["oracle_call"].astype(int).to_numpy(), "score": calls["score"].to_numpy(dtype=float), "best": best_col, f"top{top}_mean": top_col})


def pmo_auc(tr: pd.DataFrame, budget: int, direction: str = "maximize", top: int = 10) -> float:
    """PMO area under the top-``top`` mean curve over ``budget`` calls, divided by ``budget``.

    Parameters
    ----------
    tr : DataFrame
        From :func:`trace`.
    budget : int
    direction : {"maximize", "minimize"}

    Returns
    -------
    float
        In [0, 1] for scores in [0, 1]; NaN when no call was scored.
    """
    col = f"top{top}_mean"
    if tr.empty or tr[col].notna().sum() == 0 or budget < 1:
        return math.nan
    values = tr[col].to_numpy(dtype=float)[:budget]
    first = values[~np.isnan(values)][0]
    values = np.where(np.isnan(values), 0.0 if direction == "maximize" else first, values)
    # the last value is carried to the budget; added, not padded: a budget of 10^14
    # calls would be an array of 10^14 floats
    carried = (budget - len(values)) * float(values[-1]) if len(values) < budget else 0.0
    return float((float(values.sum()) + carried) / budget)


def plot_trace(tr: pd.DataFrame, path: str | Path, *, title: str = "", budget: int | None = None, top: int = 10) -> Path:
    """Draw best-so-far and top-``top`` mean versus oracle calls (PNG).

    Parameters
    ----------
    tr : pandas.DataFrame
        :func:`trace`'s table: ``oracle_call``, ``score``, ``best``, ``top{top}_mean``
        (empty: the figure says that no call was scored yet).
    path : str or Path
        The ``.png`` file to write, all at once or not at all
        (:func:`molvae.data.write_atomically`); an existing file is replaced.
    title : str
        Figure title.
    budget : int, optional
        Right end of the x axis (the campaign's budget).
    top : int
        Which ``top{top}_mean`` column to draw.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        ``path`` does not end in ``.png`` (or is only an extension, ``.png``).
    OSError
        The file cannot be written; no partial file is left and an existing one is kept.
    """
    from molvae.data import check_file_name, write_atomically

    path = Path(path)
    check_file_name(path, example=".png")  # '.png' is no file name (and has no suffix to Python)
    if path.suffix.lower() != ".png":  # matplotlib appended '.png' to a name without suffix
        raise ValueError(f"trace plot must be a .png file, got {path.name}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if not tr.empty:
        ax.scatter(tr["oracle_call"], tr["score"], s=6, color="0.75", label="oracle calls", zorder=1)
        ax.plot(tr["oracle_call"], tr["best"], color="tab:red", lw=1.8, label="best so far", zorder=3)
        ax.plot(tr["oracle_call"], tr[f"top{top}_mean"], color="tab:blue", lw=1.8, label=f"top-{top} mean", zorder=2)
    if budget:
        ax.set_xlim(0, budget)
    ax.set_xlabel("oracle calls")
    ax.set_ylabel("score")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if not tr.empty:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no oracle call scored yet", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))
    finally:
        plt.close(fig)
    return path
