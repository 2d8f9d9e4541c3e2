"""Property predictors on the latent space: fit, cross-validate, save safely, annotate tables.

A :class:`LatentPredictor` maps VAE posterior means ``z`` (shape ``(n, d_z)``) to one or
more measured properties ``y`` (shape ``(n, n_targets)``) with a scikit-learn regressor,
one regressor per target (each target gets its own hyper-parameters and uses every row
where *its* label is known).

>>> from molvae import MolVAE
>>> from molvae.predictors import LatentPredictor, annotate
>>> vae = MolVAE.load()
>>> z = vae.encode(smiles)                                   # (n, d_z)
>>> p = LatentPredictor("gp", targets=["logS"]).fit(z, y)    # y: (n,) or (n, 1)
>>> mean, std = p.predict(z, return_std=True)                # (n, 1), (n, 1)
>>> p.save("logS.skops", vae=vae)                            # records the VAE's SHA-256
>>> annotate(table, LatentPredictor.load("logS.skops"), vae)  # adds pred_logS, pred_logS_std

Model types (:data:`MODEL_TYPES`)
---------------------------------
``gp``
    Gaussian process with kernel ``C * RBF + C * DotProduct + WhiteKernel``: a smooth
    isotropic part (an ARD kernel over 128 latent dimensions would need an ``(n, n, d_z)``
    gradient array), a linear part (latent means are often nearly linear in a property)
    and observation noise; the RBF length scale starts at the median distance between
    training points; ``normalize_y``; hyper-parameters by maximum marginal likelihood
    (two optimizer restarts up to 300 rows). The only model with a predictive standard
    deviation (noise included). Exact GPs cost O(n³) time and O(n²) memory (and the
    fitted Cholesky factor, n² floats, is saved in the file), so at most ``max_train``
    rows (default 2000) are used: a random subsample, logged when it happens.
``ridge``
    ``StandardScaler`` then ``RidgeCV`` (penalty chosen by efficient leave-one-out CV).
``rf``
    Random forest, 100 trees, a third of the dimensions per split, leaves of >= 2 rows.
``mlp``
    One hidden layer of 256 ReLU units, strong L2 (``alpha=1``; weaker penalties or a
    second layer overfit a few thousand rows), early stopping on 10 % of the rows,
    standardized targets (``TransformedTargetRegressor``).

The latent means are *not* standardized for ``gp``/``mlp``/``rf``: they already live on
the N(0, I) scale of the prior, and standardizing would blow up nearly collapsed latent
dimensions (tiny variance, no information) to the weight of informative ones.

Files
-----
Predictor files are skops archives (``skops.io``): loading them never unpickles, and only
the scikit-learn/numpy types listed in :data:`TRUSTED_TYPES` are accepted; any other type
in a file is refused before anything is built. A SHA-256 digest of the archive members
is stored inside the archive and checked on load, so a truncated or edited file is
reported as such. The file records the SHA-256 of the VAE model file it was trained
against; :meth:`LatentPredictor.check_vae` (called by :func:`annotate` and the CLI)
refuses another VAE.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import logging
import math
import os
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from molvae.checks import is_integer, real_array
from molvae.data import InputError, RowError, csv_separator, csv_smiles_column, sha256_of_file

__all__ = [
    "MODEL_TYPES",
    "TRUSTED_TYPES",
    "PredictorError",
    "LatentPredictor",
    "make_estimator",
    "cross_validate",
    "scatter_plot",
    "annotate",
    "file_sha256",
    "vae_weights_sha256",
    "LabeledData",
    "read_labeled_csv",
    "read_csv_rows",
    "rdkit_labels",
    "TrainResult",
    "train_predictor",
    "constant_targets",
]

log = logging.getLogger(__name__)

#: Model types accepted by :class:`LatentPredictor`.
MODEL_TYPES = ("gp", "ridge", "rf", "mlp")

#: Rows used by the Gaussian process at most (random subsample above that).
GP_MAX_TRAIN = 2000

#: Types that skops does not trust by default but that our estimators contain; a file
#: holding any other untrusted type is refused.
TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.gaussian_process.kernels.ConstantKernel",
    "sklearn.gaussian_process.kernels.RBF",
    "sklearn.gaussian_process.kernels.DotProduct",
    "sklearn.gaussian_process.kernels.Matern",
    "sklearn.gaussian_process.kernels.WhiteKernel",
    "sklearn.gaussian_process.kernels.Sum",
    "sklearn.gaussian_process.kernels.Product",
)

FORMAT = "molvae-latent-predictor"
FORMAT_VERSION = 1
_DIGEST_MEMBER = "molvae-digest.json"

#: Cell values read as "no label" (case-insensitive), besides the empty cell.
NA_TOKENS = frozenset({"nan", "na", "n/a", "null", "none", "-"})


class PredictorError(InputError):
    """A predictor file or its use is wrong: corrupt or tampered file, unexpected types,
    a VAE other than the one it was trained with, bad shapes. One-line message."""


# ---------------------------------------------------------------------- hashing
_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """:func:`molvae.data.sha256_of_file`, remembered for each (resolved path, size,
    modification time), so that a VAE file checked by several predictors is read once.

    Raises ``OSError`` where the file cannot be read (missing, a folder, no permission).
    """
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        _HASH_CACHE[key] = sha256_of_file(p)
    return _HASH_CACHE[key]


def vae_weights_sha256(vae) -> str:
    """SHA-256 of what encoding depends on: a VAE's parameters, hyper-parameters and alphabet.

    Unlike the model file's hash, it ignores what ``molvae fit-density`` adds (the fitted
    latent density), which :func:`molvae.density` stores beside the weights.

    Parameters
    ----------
    vae : MolVAE

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(vae.model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tensor.dtype).encode() + str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    for key in ("hparams", "alphabet"):
        h.update(json.dumps(vae.checkpoint.get(key), sort_keys=True, default=str).encode())
    return h.hexdigest()


def _vae_sha256(vae) -> str:
    """The hash a predictor records for ``vae``: its model file's SHA-256 or, for a copy
    with a fitted latent density (``molvae fit-density``) whose weights are unchanged, the
    SHA-256 of the model file the density was added to."""
    path = _vae_path(vae)
    base = density_base_sha256(vae)
    return base if base is not None else file_sha256(path)


def _vae_path(vae):
    path = getattr(vae, "path", None)
    if path is None:
        raise PredictorError("the VAE has no model file, so it cannot be matched to a predictor")
    return path


def density_base_sha256(vae, weights: str | None = None) -> str | None:
    """``base_sha256`` of ``vae``'s fitted density when the density records the weights it
    was fitted for and they are this VAE's; else None.

    The rule by which predictors, densities fitted again and campaigns follow a model file
    to which ``molvae fit-density`` added a density: the weights, hence the latent space,
    are those of the file the density was first added to. ``weights`` is
    :func:`vae_weights_sha256` of ``vae`` when the caller has it already."""
    density = getattr(vae, "latent_density", None) or {}
    base, recorded = density.get("base_sha256"), density.get("weights_sha256")
    if base and recorded and recorded == (weights or vae_weights_sha256(vae)):
        return str(base)
    return None


# ---------------------------------------------------------------------- estimators
def make_estimator(model: str, *, seed: int = 0, n_train: int | None = None, length_scale: float | None = None, **params):
    """A fresh single-target scikit-learn regressor of a model type.

    Parameters
    ----------
    model : {"gp", "ridge", "rf", "mlp"}
    seed : int
        ``random_state`` of the models that have one.
    n_train : int, optional
        Rows it will be fitted on (switches MLP early stopping off below 50 rows; the GP
        restarts its optimizer twice up to 300 rows).
    length_scale : float, optional
        GP only: initial RBF length scale (default 5), bounded to [0.1, 100] times it.
        :meth:`LatentPredictor.fit` passes the median distance between training points.
    **params
        Override the keyword arguments of the core regressor (``GaussianProcessRegressor``,
        ``RidgeCV``, ``RandomForestRegressor`` or ``MLPRegressor``), e.g. ``n_estimators=50``.

    Returns
    -------
    sklearn estimator
    """
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, DotProduct, WhiteKernel
    from sklearn.linear_model import RidgeCV
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if model == "gp":
        ls = float(length_scale) if length_scale else 5.0
        # (normalize_y: signal and noise variances are in units of the target variance; a
        # noise floor of 1e-3 stops the optimizer from interpolating noisy labels exactly)
        kw = dict(
            kernel=ConstantKernel(1.0, (1e-3, 1e3)) * RBF(ls, (0.1 * ls, 100 * ls))
            + ConstantKernel(0.01, (1e-5, 1e2)) * DotProduct(1.0, (1e-3, 1e3))
            + WhiteKernel(0.1, (1e-3, 1e1)),
            normalize_y=True,
            n_restarts_optimizer=2 if n_train is not None and n_train <= 300 else 0,
            random_state=seed,
        )
        return GaussianProcessRegressor(**{**kw, **params})
    if model == "ridge":
        kw = dict(alphas=np.logspace(-3, 4, 15))
        return Pipeline([("scale", StandardScaler()), ("ridge", RidgeCV(**{**kw, **params}))])
    if model == "rf":
        kw = dict(n_estimators=100, max_features=0.33, min_samples_leaf=2, n_jobs=1, random_state=seed)
        return RandomForestRegressor(**{**kw, **params})
    if model == "mlp":
        small = n_train is not None and n_train < 50
        kw = dict(
            hidden_layer_sizes=(256,),
            alpha=1.0,
            learning_rate_init=1e-3,
            max_iter=500,
            early_stopping=not small,
            validation_fraction=0.1,
            n_iter_no_change=20,
            random_state=seed,
        )
        return TransformedTargetRegressor(regressor=MLPRegressor(**{**kw, **params}), transformer=StandardScaler())
    raise PredictorError(f"unknown model type {model!r}: use one of {', '.join(MODEL_TYPES)}")


def _target_names(targets) -> list:
    """Target names as a list; a single string is one name (``list("logS")`` was the four
    targets l, o, g and S)."""
    return [targets] if isinstance(targets, str) else list(targets)


def _as_2d(y, name: str = "y") -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise PredictorError(f"{name} must have shape (n,) or (n, n_targets), got {y.shape}")
    return y


def _as_z(z, d_z: int | None = None) -> np.ndarray:
    try:
        z = real_array(z, np.float64)
    except (TypeError, ValueError) as exc:  # complex values lost their imaginary part, "0.1" was read as a number
        raise PredictorError(str(exc)) from None
    if z.ndim == 1 and d_z is not None and z.shape[0] == d_z:
        z = z[None, :]
    if z.ndim != 2 or (d_z is not None and z.shape[1] != d_z):
        raise PredictorError(f"latent points must have shape (n, {d_z if d_z is not None else 'd_z'}), got {z.shape}")
    return z


# ---------------------------------------------------------------------- predictor
class LatentPredictor:
    """Property predictor on VAE latent means; one scikit-learn regressor per target.

    Parameters
    ----------
    model : {"gp", "ridge", "rf", "mlp"}
        See the module docstring.
    targets : str or sequence of str, optional
        Target names (default ``y0, y1, ...``, set by :meth:`fit`); a single string is
        one name.
    seed : int
        Random state of the regressors and of the GP subsample.
    max_train : int, optional
        GP only: most rows used for fitting (default :data:`GP_MAX_TRAIN`); the other
        models fit every row and ignore it.
    **params
        Passed to :func:`make_estimator` (override the core regressor's arguments).

    Attributes
    ----------
    estimators_ : list
        Fitted regressors, one per target.
    d_z : int
        Latent dimension seen by :meth:`fit`.
    n_train_ : list of int
        Rows used per target (finite label, after any GP subsampling).
    n_skipped_ : list of int
        Rows skipped per target because the label was NaN.
    fit_seconds_ : list of float
    cv : pandas.DataFrame or None
        Cross-validation table (see :func:`cross_validate`), kept in the file.
    vae_sha256 : str or None
        SHA-256 of the VAE model file whose latent means were used.
    vae_path : str or None
        Where that file was at training time (informative only).
    training_data : dict
        Free-form description of the training data (source, rows, skipped ...).
    versions : dict
        ``molvae`` and ``sklearn`` versions at fit time.
    """

    def __init__(self, model: str = "gp", targets: Sequence[str] | None = None, *, seed: int = 0, max_train: int | None = None, **params):
        if model not in MODEL_TYPES:
            raise PredictorError(f"unknown model type {model!r}: use one of {', '.join(MODEL_TYPES)}")
        self.model = model
        self.targets = _target_names(targets) if targets is not None else None
        if self.targets is not None and len(set(self.targets)) != len(self.targets):
            raise PredictorError(f"target names must be distinct, got {self.targets}")
        if not is_integer(seed) or not 0 <= seed < 2**32:
            raise PredictorError(f"seed must be an integer between 0 and 2**32 - 1, got {seed!r}")
        if max_train is not None and (not is_integer(max_train) or max_train < 2):
            raise PredictorError(f"max_train must be an integer >= 2, got {max_train!r}")
        self.seed = int(seed)
        # the other models use every row: max_train is the GP's (O(n^3)) limit only
        self.max_train = (int(max_train) if max_train is not None else GP_MAX_TRAIN) if model == "gp" else None
        self.params = dict(params)
        self.estimators_: list | None = None
        self.d_z: int | None = None
        self.n_train_: list[int] = []
        self.n_skipped_: list[int] = []
        self.fit_seconds_: list[float] = []
        self.cv: pd.DataFrame | None = None
        self.vae_sha256: str | None = None
        self.vae_path: str | None = None
        self.training_data: dict = {}
        self.versions: dict = {}
        self.created: str | None = None

    # -------------------------------------------------------------- fit / predict
    @property
    def has_std(self) -> bool:
        """Whether :meth:`predict` gives a standard deviation (Gaussian process only)."""
        return self.model == "gp"

    @property
    def is_fitted(self) -> bool:
        return self.estimators_ is not None

    def fit(self, z, y) -> LatentPredictor:
        """Fit one regressor per target.

        Parameters
        ----------
        z : array-like, shape (n, d_z)
            Latent means; must be finite (drop molecules that failed to encode first).
        y : array-like, shape (n,) or (n, n_targets)
            Numeric labels; NaN and infinite labels are skipped for that target only
            (counted in ``n_skipped_``; ``molvae predictors train`` refuses infinite
            labels before this).

        Returns
        -------
        self

        Raises
        ------
        PredictorError
            Shape mismatch, NaN in ``z``, a target with fewer than 2 labelled rows.
        ValueError
            Labels that are not numbers (numpy cannot convert them to float).
        """
        from sklearn.utils import check_random_state

        z = _as_z(z)
        y = _as_2d(y)
        if y.shape[0] != z.shape[0]:
            raise PredictorError(f"z has {z.shape[0]} rows but y has {y.shape[0]}")
        if not np.isfinite(z).all():
            bad = int((~np.isfinite(z)).any(axis=1).sum())
            raise PredictorError(f"z has {bad} rows with NaN or infinite values (molecules that failed to encode?); drop them first")
        if self.targets is None:
            self.targets = [f"y{j}" for j in range(y.shape[1])]
        if len(self.targets) != y.shape[1]:
            raise PredictorError(f"{len(self.targets)} target names for {y.shape[1]} label columns")
        y = np.where(np.isfinite(y), y, np.nan)
        estimators, n_train, n_skipped, seconds = [], [], [], []
        for j, name in enumerate(self.targets):
            ok = np.flatnonzero(~np.isnan(y[:, j]))
            if ok.size < 2:
                raise PredictorError(f"target {name!r} has {ok.size} labelled row{'' if ok.size == 1 else 's'}; at least 2 are needed")
            if self.max_train is not None and ok.size > self.max_train:
                log.info("%s: fitting the %s on a random %d of %d rows (O(n^3) cost)", name, self.model, self.max_train, ok.size)
                ok = np.sort(check_random_state(self.seed + j).choice(ok, self.max_train, replace=False))
            extra = {}
            if self.model == "gp" and not {"kernel", "length_scale"} & set(self.params):
                extra["length_scale"] = _median_distance(z[ok], self.seed)
            est = make_estimator(self.model, seed=self.seed, n_train=ok.size, **extra, **self.params)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module="sklearn")  # convergence chatter
                est.fit(z[ok], y[ok, j])
            seconds.append(time.perf_counter() - t0)
            estimators.append(est)
            n_train.append(int(ok.size))
            n_skipped.append(int(np.isnan(y[:, j]).sum()))
        self.estimators_ = estimators
        self.d_z = int(z.shape[1])
        self.n_train_, self.n_skipped_, self.fit_seconds_ = n_train, n_skipped, seconds
        self.versions = _versions()
        self.created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return self

    def predict(self, z, return_std: bool = False):
        """Predict every target.

        Parameters
        ----------
        z : array-like, shape (n, d_z)
            Rows with NaN (molecules that failed to encode) give NaN predictions.
        return_std : bool
            Also return the predictive standard deviation (observation noise included);
            NaN for models without one (see :attr:`has_std`).

        Returns
        -------
        mean : ndarray, shape (n, n_targets)
        std : ndarray, shape (n, n_targets)
            Only when ``return_std``.
        """
        if not self.is_fitted:
            raise PredictorError("the predictor is not fitted")
        z = _as_z(z, self.d_z)
        ok = np.isfinite(z).all(axis=1)
        k = len(self.targets)
        mean = np.full((z.shape[0], k), np.nan)
        std = np.full((z.shape[0], k), np.nan)
        if ok.any():
            for j, est in enumerate(self.estimators_):
                if return_std and self.has_std:
                    m, s = est.predict(z[ok], return_std=True)
                    std[ok, j] = s
                else:
                    m = est.predict(z[ok])
                mean[ok, j] = np.asarray(m).ravel()
        return (mean, std) if return_std else mean

    # -------------------------------------------------------------- VAE check
    def check_vae(self, vae) -> None:
        """Raise :class:`PredictorError` unless ``vae`` is the model this predictor was trained on.

        ``vae`` is a :class:`~molvae.vae.MolVAE` (its ``path`` is hashed) or a path.
        A copy of the model with a latent density added by ``molvae fit-density`` counts
        as the model: the density records the model file it was added to and the weights
        it was fitted for. A predictor that records no VAE (built through the Python API
        without setting ``vae_sha256``) is accepted with a warning when the latent
        dimensions agree.

        Parameters
        ----------
        vae : MolVAE or path-like

        Raises
        ------
        PredictorError
            Another latent dimension, or another model file (and weights).
        """
        d_z = getattr(vae, "d_z", None)
        if d_z is not None and self.d_z is not None and d_z != self.d_z:
            raise PredictorError(f"the predictor expects {self.d_z}-dimensional latent vectors but the VAE has d_z = {d_z}; it was trained with another VAE")
        if self.vae_sha256 is None:
            log.warning("the predictor records no VAE checkpoint hash; cannot check that it matches the VAE in use")
            return
        actual = file_sha256(vae) if isinstance(vae, (str, os.PathLike)) else file_sha256(_vae_path(vae))
        if actual != self.vae_sha256:
            if isinstance(vae, (str, os.PathLike)):
                from molvae.vae import MolVAE

                vae = MolVAE.load(vae)
            if density_base_sha256(vae) == self.vae_sha256:
                return
            where = getattr(vae, "path", vae)
            trained = f" ({self.vae_path})" if self.vae_path else ""
            raise PredictorError(
                f"the predictor was trained against VAE sha256 {self.vae_sha256[:12]}{trained}, "
                f"but the VAE in use ({where}) has sha256 {actual[:12]}; use that VAE or retrain the predictor"
            )

    # -------------------------------------------------------------- save / load
    def _metadata(self) -> dict:
        return {
            "model": self.model,
            "targets": list(self.targets),
            "seed": self.seed,
            "max_train": self.max_train,
            "params": _jsonable(self.params),
            "d_z": self.d_z,
            "n_train": list(self.n_train_),
            "n_skipped": list(self.n_skipped_),
            "fit_seconds": [float(s) for s in self.fit_seconds_],
            "cv": None if self.cv is None else _jsonable(self.cv.to_dict(orient="list")),
            "vae_sha256": self.vae_sha256,
            "vae_path": self.vae_path,
            "training_data": _jsonable(self.training_data),
            "versions": dict(self.versions),
            "created": self.created,
        }

    def save(self, path: str | os.PathLike, *, vae=None) -> Path:
        """Write the predictor as a skops archive (``.skops``), metadata included.

        Metadata: model type, targets, CV table, VAE checkpoint SHA-256, molvae and
        scikit-learn versions, training-data description.

        Parameters
        ----------
        path : path-like
            The file to write (``.skops`` by convention; the name is not checked). It is
            written all at once or not at all (:func:`molvae.data.write_atomically`).
        vae : MolVAE, optional
            Record this VAE (the SHA-256 of its model file, and its path) as the one the
            latent vectors came from; otherwise ``vae_sha256`` as already set. Without
            either a warning is logged: :meth:`check_vae` cannot check the file later.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        PredictorError
            The predictor is not fitted.
        OSError
            The file cannot be written; ``path`` is left as it was.
        """
        import skops.io as sio

        if not self.is_fitted:
            raise PredictorError("the predictor is not fitted")
        if vae is not None:
            self.vae_sha256, self.vae_path = _vae_sha256(vae), str(vae.path)
        if self.vae_sha256 is None:
            log.warning("saving a predictor that records no VAE: it cannot be checked against the VAE it is used with")
        path = Path(path)
        # metadata travels as one JSON string: no object of ours needs to be trusted
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": json.dumps(self._metadata()), "estimators": list(self.estimators_)}
        data = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_DIGEST_MEMBER, json.dumps({"sha256": _members_digest(zf)}))
        from molvae.data import write_atomically  # all at once or not at all

        write_atomically(path, lambda tmp: tmp.write_bytes(buf.getvalue()))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, vae=None) -> LatentPredictor:
        """Read a predictor file without executing code from it.

        Parameters
        ----------
        path : path-like
        vae : MolVAE or path, optional
            When given, :meth:`check_vae` is called.

        Raises
        ------
        PredictorError
            Missing, corrupt, tampered or foreign file; types outside
            :data:`TRUSTED_TYPES`; a VAE mismatch.
        """
        import skops.io as sio

        path = Path(path)
        if path.is_dir():  # it said 'predictor file not found', as if nothing were there
            raise PredictorError(f"{path} is a folder, not a predictor file")
        if not path.is_file():
            raise PredictorError(f"predictor file not found: {path}")
        data = path.read_bytes()
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                names = zf.namelist()
                if "schema.json" not in names:
                    if any(n.endswith("/data.pkl") for n in names):  # torch.save's archive: a VAE given as -p
                        raise PredictorError(f"{path} is not a molvae predictor file: it is a VAE model file (a predictor comes from 'molvae predictors train')")
                    raise PredictorError(f"{path} is not a molvae predictor file (no skops schema)")
                if _DIGEST_MEMBER not in names:
                    raise PredictorError(f"{path} is not a molvae predictor file (no digest); it was not written by molvae or was modified")
                stored = json.loads(zf.read(_DIGEST_MEMBER)).get("sha256")
                actual = _members_digest(zf)
        except PredictorError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise PredictorError(f"{path} is not a readable predictor file (corrupt or truncated: {_first_line(exc)})") from None
        if stored != actual:
            raise PredictorError(f"{path} was modified after it was written (content digest mismatch); refusing to load it")
        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # a malformed schema
            raise PredictorError(f"{path} is not a readable predictor file ({_first_line(exc)})") from None
        unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
        if unexpected:
            raise PredictorError(f"{path} contains types that molvae does not trust ({', '.join(unexpected)}); refusing to load it")
        try:
            payload = sio.loads(data, trusted=list(TRUSTED_TYPES))
        except Exception as exc:  # skops raises many kinds on damaged content
            raise PredictorError(f"{path} could not be loaded ({type(exc).__name__}: {_first_line(exc)}); it may come from an incompatible scikit-learn or skops version") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise PredictorError(f"{path} is a skops file but not a molvae predictor")
        if payload.get("format_version") != FORMAT_VERSION:
            raise PredictorError(f"{path} has predictor format version {payload.get('format_version')}; this molvae reads version {FORMAT_VERSION}")
        try:
            meta = json.loads(payload["metadata"])
            self = cls(meta["model"], meta["targets"], seed=meta["seed"], max_train=meta["max_train"], **meta["params"])
            self.estimators_ = list(payload["estimators"])
            if len(self.estimators_) != len(self.targets):
                raise ValueError("estimator count does not match the targets")
            self.d_z = meta["d_z"]
            self.n_train_, self.n_skipped_, self.fit_seconds_ = meta["n_train"], meta["n_skipped"], meta["fit_seconds"]
            self.cv = None if meta["cv"] is None else pd.DataFrame(meta["cv"])
            self.vae_sha256, self.vae_path = meta["vae_sha256"], meta["vae_path"]
            self.training_data, self.versions, self.created = meta["training_data"], meta["versions"], meta["created"]
        except (KeyError, TypeError, ValueError) as exc:
            raise PredictorError(f"{path} has inconsistent predictor metadata ({_first_line(exc)})") from None
        sk = self.versions.get("sklearn")
        if sk and sk != _versions()["sklearn"]:
            log.warning("%s was written with scikit-learn %s; this is %s", path, sk, _versions()["sklearn"])
        if vae is not None:
            self.check_vae(vae)
        return self

    def describe(self) -> dict:
        """The file's metadata as a plain dict (what ``molvae predictors show`` prints)."""
        return self._metadata()

    def __repr__(self) -> str:
        state = f"d_z={self.d_z}, n_train={self.n_train_}" if self.is_fitted else "unfitted"
        return f"LatentPredictor(model={self.model!r}, targets={self.targets}, {state})"


def _median_distance(z: np.ndarray, seed: int, m: int = 500) -> float:
    """Median Euclidean distance between (at most ``m`` random) rows: the GP's initial length scale."""
    from scipy.spatial.distance import pdist

    if z.shape[0] > m:
        z = z[np.random.default_rng(seed).choice(z.shape[0], m, replace=False)]
    d = pdist(z)
    med = float(np.median(d)) if d.size else 0.0
    return med if med > 0 else 1.0


def _members_digest(zf: zipfile.ZipFile) -> str:
    h = hashlib.sha256()
    for name in sorted(n for n in zf.namelist() if n != _DIGEST_MEMBER):
        h.update(name.encode() + b"\0")
        h.update(hashlib.sha256(zf.read(name)).digest())
    return h.hexdigest()


def _fmt(v, spec: str) -> str:
    """A metric as text; ``n/a`` when undefined (NaN or None)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if math.isnan(v) else format(v, spec)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _versions() -> dict:
    import sklearn

    from molvae import __version__

    return {"molvae": __version__, "sklearn": sklearn.__version__}


def _jsonable(obj):
    """Turn numpy scalars/arrays and NaN into JSON-friendly values (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


# ---------------------------------------------------------------------- validation
def _metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import mean_absolute_error, r2_score

    if y_true.size < 2:
        return dict(r2=math.nan, mae=math.nan, rmse=math.nan, spearman=math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input
        rho = spearmanr(y_true, y_pred).statistic
    # R² compares the error with the variance of the labels: undefined for a constant
    # target (scikit-learn reports 1.0 for an exact constant prediction, 0.0 otherwise)
    constant = bool(np.all(y_true == y_true[0]))
    return dict(
        r2=math.nan if constant else float(r2_score(y_true, y_pred)),
        mae=float(mean_absolute_error(y_true, y_pred)),
        rmse=float(np.sqrt(np.mean((y_true - y_pred) ** 2))),
        spearman=float(rho),
    )


def cross_validate(
    z,
    y,
    model: str = "gp",
    folds: int = 5,
    seed: int = 0,
    *,
    targets: Sequence[str] | None = None,
    max_train: int | None = None,
    return_predictions: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **params,
):
    """k-fold cross-validation of a :class:`LatentPredictor`.

    The same shuffled folds serve every target; rows whose label is NaN are left out of
    that target's training and scoring. Rows with identical latent means (one molecule
    listed twice, say with two measurements) always share a fold. Metrics are computed on the pooled out-of-fold
    predictions; ``r2_sd`` is the standard deviation of R² over the folds. R² is NaN
    (undefined) for a target whose labels are all equal, and folds whose labels are all
    equal are left out of ``r2_sd``.

    Parameters
    ----------
    z : array-like, shape (n, d_z)
    y : array-like, shape (n,) or (n, n_targets)
    model : {"gp", "ridge", "rf", "mlp"}
    folds : int
        k >= 2.
    seed : int
        Shuffles the folds and seeds the models.
    targets : str or sequence of str, optional
        Target names (default ``y0, y1, ...``); a single string is one name.
    max_train : int, optional
        GP subsample size (see :class:`LatentPredictor`).
    return_predictions : bool
        Also return the out-of-fold predictions, shape (n, n_targets) (NaN where the label is).
    progress : callable(done, total), optional
    **params
        Passed to :func:`make_estimator`.

    Returns
    -------
    table : DataFrame
        One row per target: ``target, model, n, folds, r2, r2_sd, mae, rmse, spearman,
        seconds`` (``seconds``: fitting time summed over the folds).
    predictions : ndarray, shape (n, n_targets)
        Only when ``return_predictions``.
    """
    from sklearn.model_selection import KFold

    z = _as_z(z)
    y = _as_2d(y)
    if y.shape[0] != z.shape[0]:
        raise PredictorError(f"z has {z.shape[0]} rows but y has {y.shape[0]}")
    targets = _target_names(targets) if targets is not None else [f"y{j}" for j in range(y.shape[1])]
    if len(targets) != y.shape[1]:
        raise PredictorError(f"{len(targets)} target names for {y.shape[1]} label columns")
    y = np.where(np.isfinite(y), y, np.nan)
    counts = (~np.isnan(y)).sum(axis=0)
    if folds < 2:
        raise PredictorError(f"cross-validation needs at least 2 folds, got {folds}")
    if counts.min() < 2 * folds:
        j = int(counts.argmin())
        raise PredictorError(f"target {targets[j]!r} has {int(counts[j])} labelled row{'' if int(counts[j]) == 1 else 's'}, too few for {folds}-fold cross-validation (need {2 * folds})")
    oof = np.full(y.shape, np.nan)
    fold_r2: list[list[float]] = [[] for _ in targets]
    seconds = np.zeros(len(targets))
    # rows with the same latent mean are one molecule (written twice, or as two SMILES):
    # they share a fold, or each test molecule would have its twin in the training part.
    # Groups are numbered by first appearance, so without repeats these are plain k-fold splits
    _, first, inverse = np.unique(z, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=int)
    rank[np.argsort(first)] = np.arange(len(first))
    group = rank[inverse.ravel()]
    if len(first) < folds:
        raise PredictorError(f"the data hold {len(first)} distinct molecules (latent means), too few for {folds}-fold cross-validation")
    splits = [
        (np.flatnonzero(np.isin(group, g_tr)), np.flatnonzero(np.isin(group, g_te)))
        for g_tr, g_te in KFold(folds, shuffle=True, random_state=seed).split(np.arange(len(first)))
    ]
    for i, (tr, te) in enumerate(splits):
        # a fold whose training part lacks labels for a target: fit the others only
        p = LatentPredictor(model, targets, seed=seed, max_train=max_train, **params)
        p.fit(z[tr], y[tr])
        oof[te] = p.predict(z[te])
        seconds += np.asarray(p.fit_seconds_)
        for j in range(len(targets)):
            m = ~np.isnan(y[te, j])
            if m.sum() >= 2:
                r2 = _metrics(y[te, j][m], oof[te, j][m])["r2"]
                if not math.isnan(r2):  # undefined in a fold whose labels are all equal
                    fold_r2[j].append(r2)
        if progress is not None:
            progress(i + 1, folds)
    rows = []
    for j, name in enumerate(targets):
        m = ~np.isnan(y[:, j])
        rows.append(
            dict(
                target=name,
                model=model,
                n=int(m.sum()),
                folds=folds,
                **_metrics(y[m, j], oof[m, j]),
                r2_sd=float(np.std(fold_r2[j])) if fold_r2[j] else math.nan,
                seconds=float(seconds[j]),
            )
        )
    table = pd.DataFrame(rows, columns=["target", "model", "n", "folds", "r2", "r2_sd", "mae", "rmse", "spearman", "seconds"])
    oof[np.isnan(y)] = np.nan
    return (table, oof) if return_predictions else table


def scatter_plot(measured, predicted, targets: Sequence[str], path: str | os.PathLike, *, cv: pd.DataFrame | None = None, title: str | None = None) -> Path:
    """Predicted-versus-measured scatter plots, one panel per target, as PNG.

    Parameters
    ----------
    measured, predicted : array-like, shape (n, n_targets)
        NaN pairs are left out.
    targets : str or sequence of str
        One name per column; a single string is one name.
    path : path-like
        ``.png`` file.
    cv : DataFrame, optional
        :func:`cross_validate` table; its R², MAE and Spearman ρ go in the panel titles.
    title : str, optional

    Returns
    -------
    Path
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    measured, predicted = _as_2d(measured, "measured"), _as_2d(predicted, "predicted")
    targets = _target_names(targets)  # one string is one panel, not one per letter
    k = len(targets)
    fig = Figure(figsize=(4.2 * k, 4.8 if title else 4.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, k, squeeze=False)[0]
    for j, (ax, name) in enumerate(zip(axes, targets)):
        m = ~(np.isnan(measured[:, j]) | np.isnan(predicted[:, j]))
        x, yp = measured[m, j], predicted[m, j]
        if x.size > 3000:
            ax.hexbin(x, yp, gridsize=60, mincnt=1, bins="log", cmap="viridis")
        else:
            ax.scatter(x, yp, s=8, alpha=0.5, edgecolors="none")
        if x.size:
            lo, hi = float(min(x.min(), yp.min())), float(max(x.max(), yp.max()))
            pad = 0.03 * (hi - lo or 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=0.8, ls="--")
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
        label = name
        if cv is not None and (cv["target"] == name).any():
            r = cv[cv["target"] == name].iloc[0]
            label += f"\nR² {_fmt(r['r2'], '.3f')}  MAE {_fmt(r['mae'], '.3g')}  ρ {_fmt(r['spearman'], '.3f')}"
        ax.set_title(label, fontsize=10)
        ax.set_xlabel(f"measured {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_aspect("equal", adjustable="box")
    if title:
        fig.suptitle(title, fontsize=11)
    from molvae.data import write_atomically  # all at once, or the old plot left as it was

    return write_atomically(path, lambda tmp: fig.savefig(tmp, format="png"))


# ---------------------------------------------------------------------- annotation
def annotate(table: pd.DataFrame, predictor: LatentPredictor, vae, smiles_column: str = "smiles", *, return_errors: bool = False):
    """Add predicted properties to a table of molecules.

    Parameters
    ----------
    table : DataFrame
        Has ``smiles_column``; empty or invalid SMILES are allowed.
    predictor : LatentPredictor
    vae : MolVAE
        Must be the VAE the predictor was trained against (else :class:`PredictorError`).
    smiles_column : str
    return_errors : bool
        Also return the rows that could not be encoded.

    Returns
    -------
    DataFrame
        A copy of ``table`` (same index and order) with ``pred_<target>`` per target and,
        when the model gives one (``predictor.has_std``: Gaussian process),
        ``pred_<target>_std`` right after it. NaN for rows that cannot be encoded.
        Existing columns of those names are replaced; an existing ``pred_<target>_std``
        is dropped when this model gives no standard deviation, since it belonged to the
        earlier prediction that this one replaces.
    errors : list of RowError
        Only when ``return_errors``; ``row`` is the 0-based position in ``table``.
    """
    if smiles_column not in table.columns:
        raise InputError(f"the table has no column {smiles_column!r} (columns: {', '.join(map(str, table.columns))})")
    predictor.check_vae(vae)
    from molvae.chem import _is_missing

    # a missing cell (None, NaN, pandas' NA: str(NA) was '<NA>', "RDKit cannot parse") is empty
    smiles = ["" if _is_missing(s) else str(s).strip() for s in table[smiles_column]]
    todo = [i for i, s in enumerate(smiles) if s]
    errors = [RowError(i, "", "empty SMILES") for i, s in enumerate(smiles) if not s]
    z = np.full((len(smiles), vae.d_z), np.nan)
    if todo:
        mu, enc_errors = vae.try_encode([smiles[i] for i in todo])
        z[todo] = mu
        errors += [RowError(todo[e.row], e.input, e.reason) for e in enc_errors]
    errors.sort(key=lambda e: e.row)
    if errors:
        log.debug("annotate: %d of %d rows could not be encoded", len(errors), len(smiles))
    mean, std = predictor.predict(z, return_std=True)
    out = table.copy()
    for j, name in enumerate(predictor.targets):
        for col in (f"pred_{name}", f"pred_{name}_std"):
            if col in out.columns:
                del out[col]
        out[f"pred_{name}"] = mean[:, j]
        if predictor.has_std:
            out[f"pred_{name}_std"] = std[:, j]
    return (out, errors) if return_errors else out


# ---------------------------------------------------------------------- labelled data
@dataclass
class LabeledData:
    """Molecules with labels read from a CSV (or computed).

    Attributes
    ----------
    rows : list of int
        1-based input row numbers of the kept rows.
    smiles : list of str
    y : ndarray, shape (n, n_targets)
        NaN where a label is missing.
    targets : list of str
    errors : list of RowError
        Rows skipped (empty SMILES, a label that is not a number, no label at all).
    nan_labels : dict of str to int
        Missing labels per target among the kept rows (those rows are skipped for that
        target only).
    source : str
    """

    rows: list[int]
    smiles: list[str]
    y: np.ndarray
    targets: list[str]
    errors: list[RowError] = field(default_factory=list)
    nan_labels: dict[str, int] = field(default_factory=dict)
    source: str = ""


def _parse_labels(values: Sequence[str], column: str) -> tuple[np.ndarray, dict[int, str]]:
    """Labels of one column: ``(y, bad)``.

    ``y`` has shape ``(len(values),)``, NaN where a cell is missing (empty or an
    :data:`NA_TOKENS` word) or unusable; ``bad`` maps the 0-based index of each cell that
    is text other than those words (``>10``, ``high``) or infinite to the reason it
    cannot be a label.
    """
    out = np.full(len(values), np.nan)
    bad: dict[int, str] = {}
    for i, v in enumerate(values):
        v = (v or "").strip()
        if not v or v.lower() in NA_TOKENS:
            continue
        try:
            x = float(v)
        except ValueError:
            bad[i] = f"label {column} is not a number: {v[:30]!r}"
            continue
        if math.isinf(x):
            bad[i] = f"label {column} is infinite: {v[:30]!r}"
        else:
            out[i] = x
    return out, bad


def read_csv_rows(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV as strings, one row per record after the header, blank lines included.

    Row ``i`` (0-based) is input row ``i + 1``: the numbering of
    :func:`molvae.data.read_molecules` (``molvae encode``), where a blank line is a row
    (with empty cells) and data rows count from 1 after the header.

    Parameters
    ----------
    path : path-like
        A CSV file (``.csv.gz`` is read through gzip), its fields separated by ``,``, or
        by ``;`` or tabs: the separator :func:`molvae.data.csv_separator` finds from the
        header line, as ``read_molecules`` reads the file.

    Returns
    -------
    DataFrame
        Every cell a string (``''`` where empty; no NA conversion), columns as in the
        header.

    Raises
    ------
    InputError
        An empty or unreadable file.
    """
    try:
        sep = csv_separator(path)
    except (UnicodeDecodeError, OSError, EOFError, zlib.error):
        sep = ","  # pandas says what is wrong with the file, as before
    try:
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{path} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a readable CSV ({_first_line(exc)})") from None


def _csv_header(path: str | os.PathLike) -> list[str]:
    """The column names of a CSV as written (pandas renames a repeated name), or [] when
    the header cannot be read (read_csv_rows says why)."""
    import csv

    from molvae.data import _open_text, _suffix

    path = Path(path)
    try:
        with _open_text(path, _suffix(path)) as fh:
            return next(csv.reader(fh, delimiter=csv_separator(path)), [])
    except (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error):
        return []


def read_labeled_csv(path: str | os.PathLike, targets: Sequence[str], *, smiles_column: str | None = None, option: str = "smiles_column", target_option: str = "targets") -> LabeledData:
    """Read SMILES and numeric label columns from a CSV.

    Empty cells and ``NaN``/``NA``/``n/a``/``null``/``none``/``-`` are missing labels: the
    row is skipped for that target (counted in ``nan_labels``), and skipped altogether (a
    :class:`RowError`) when every label is missing. A row with a label that is other
    text (``>10``, ``high``) or infinite is skipped altogether too, a :class:`RowError`
    naming the column and the cell, so that the other rows are still used. Rows are numbered as
    :func:`molvae.data.read_molecules` numbers them (from 1 after the header, a blank
    line counting as a row; see :func:`read_csv_rows`).

    Parameters
    ----------
    path : path-like
        A ``.csv`` or ``.csv.gz`` file.
    targets : str or sequence of str
        Label columns (names exactly as in the header); a single string is one column.
    smiles_column : str, optional
        The SMILES column, found as :func:`molvae.data.read_molecules` finds it: this
        name exactly, else its only match in any case; None: the first column named
        ``smiles`` in any case.
    option, target_option : str
        How the caller names ``smiles_column`` and ``targets``, for the messages: these
        arguments' names by default; the CLI passes its flags, ``--smiles-column`` and
        ``--target``.

    Returns
    -------
    LabeledData
        ``y`` has shape ``(n_kept_rows, len(targets))``, NaN for missing labels;
        ``errors`` lists the skipped rows (empty SMILES, a label that is not a number,
        no label at all) with their reasons.

    Raises
    ------
    InputError
        Missing file or column, duplicate targets, or no usable row (its ``errors``
        say why each row was skipped).
    """
    path = Path(path)
    targets = _target_names(targets)  # "logS" is one column, not l, o, g and S
    if not path.is_file():
        raise InputError(f"input file not found: {path}")
    name = path.name.lower()
    if not (name.endswith(".csv") or name.endswith(".csv.gz")):
        raise InputError(f"labelled data must be a .csv file (SMILES and label columns), got {path.name}")
    if len(set(targets)) != len(targets):
        raise InputError(f"{target_option} names repeat: {', '.join(targets)}")
    if not targets:
        raise InputError("no target column given")
    df = read_csv_rows(path)
    columns = ", ".join(map(str, df.columns))
    # as read_molecules finds it: the named column (else its only match in any case), or 'smiles' in any case
    smiles_column = csv_smiles_column(path, df.columns, smiles_column, option=option)
    missing = [t for t in targets if t not in df.columns]
    if missing:
        # '-t a,b' (as --rdkit a,b takes them): say that several targets are given one by one
        listed = [t for t in missing if "," in t and all(part.strip() in df.columns for part in t.split(","))]
        if not listed:
            hint = ""
        elif target_option.startswith("-"):  # the CLI's flag, given once per target
            hint = f"; for several targets, repeat {target_option}: {' '.join(f'{target_option} ' + part.strip() for part in listed[0].split(','))}"
        else:  # a Python call: one name per item of the list
            hint = f"; for several targets, give one name each: {target_option}={[part.strip() for part in listed[0].split(',')]!r}"
        raise InputError(f"{path} has no target column {', '.join(map(repr, missing))} (columns: {columns}){hint}")
    if smiles_column in targets:
        raise InputError(f"the SMILES column {smiles_column!r} cannot be a target")
    header = _csv_header(path)  # pandas renamed a second 'y' to 'y.1': the first was learned without a word
    for t in targets:
        if header.count(t) > 1:
            log.warning("%s has %d columns named %r: reading the first (column %d) as the target", path, header.count(t), t, header.index(t) + 1)
    parsed = [_parse_labels(df[t].tolist(), t) for t in targets]
    y = np.column_stack([labels for labels, _ in parsed])
    bad: dict[int, str] = {}  # the first unusable label of each row, in target order
    for _, column_bad in parsed:
        for i, reason in column_bad.items():
            bad.setdefault(i, reason)
    rows, smiles, keep, errors = [], [], [], []
    for i, s in enumerate(df[smiles_column].tolist()):
        s = (s or "").strip()
        if not s:
            errors.append(RowError(i + 1, s, "empty SMILES"))
        elif i in bad:
            errors.append(RowError(i + 1, s, bad[i]))
        elif np.isnan(y[i]).all():
            errors.append(RowError(i + 1, s, "no label (" + ", ".join(targets) + " all missing)"))
        else:
            rows.append(i + 1)
            smiles.append(s)
            keep.append(i)
    if not keep:
        raise InputError(f"{path} has no row with a SMILES and a label" + (f" ({len(errors)} rows skipped)" if errors else ""), errors)
    y = y[keep]
    nan_labels = {t: int(np.isnan(y[:, j]).sum()) for j, t in enumerate(targets)}
    return LabeledData(rows, smiles, y, targets, errors, nan_labels, str(path))


def constant_targets(y, targets: Sequence[str]) -> dict[str, float]:
    """Targets whose known labels all have one value, with that value.

    Their R² is undefined (see :func:`cross_validate`), and a predictor trained on them
    can only predict that value.

    Parameters
    ----------
    y : array-like, shape (n,) or (n, n_targets)
        Labels; NaN (missing) labels are ignored.
    targets : str or sequence of str
        Their names, one per column (a single string is one name).

    Returns
    -------
    dict of str to float
        Target name to its single value; targets with two or more values, or none, are
        left out.

    Raises
    ------
    PredictorError
        If ``y`` has more than two dimensions, or ``targets`` does not name one target
        per column (more names gave a bare IndexError, fewer left columns unchecked).
    """
    y = _as_2d(y)
    targets = _target_names(targets)  # 'qed' is one name, not q, e, d
    if len(targets) != y.shape[1]:
        raise PredictorError(f"{len(targets)} target names for {y.shape[1]} label columns")
    out = {}
    for j, name in enumerate(targets):
        known = y[:, j][np.isfinite(y[:, j])]
        if known.size and np.all(known == known[0]):
            out[name] = float(known[0])
    return out


def rdkit_labels(smiles: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """RDKit-computed properties as labels (see :func:`molvae.chem.properties` for units).

    Parameters
    ----------
    smiles : str or iterable of str, length n
        A single string is one molecule (n = 1).
    names : str or sequence of str
        Distinct names from :data:`molvae.chem.PROPERTY_NAMES` (``qed``, ``logp``,
        ``sa``, ``mw`` ...); a single string is one name.

    Returns
    -------
    ndarray, shape (n, len(names))
        NaN for an invalid molecule, and for a property RDKit fails to compute (never 0).

    Raises
    ------
    InputError
        An unknown or repeated name, or no name.
    """
    from molvae.chem import PROPERTY_NAMES, as_smiles_list, properties, quiet_rdkit

    # a single string is one molecule / one name, not one per character
    smiles = as_smiles_list(smiles)
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in PROPERTY_NAMES]
    if unknown or not names:
        raise InputError(f"unknown RDKit propert{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown) or '(none)'}: choose from {', '.join(PROPERTY_NAMES)}")
    if len(set(names)) != len(names):
        raise InputError(f"RDKit properties repeat: {', '.join(names)}")
    out = np.full((len(smiles), len(names)), np.nan)
    with quiet_rdkit():
        for i, s in enumerate(smiles):
            p = properties(s)
            out[i] = [p[n] for n in names]
    return out


# ---------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What :func:`train_predictor` produced.

    Attributes
    ----------
    predictor : LatentPredictor
        Fitted on every encoded row, with ``cv``, ``vae_sha256`` and ``training_data`` set.
    measured : ndarray, shape (m, n_targets)
        Labels of the encoded rows.
    predicted : ndarray, shape (m, n_targets) or None
        Out-of-fold predictions (None when ``folds`` is 0).
    rows : list of int
        Input row numbers of the encoded rows.
    errors : list of RowError
        Rows that could not be encoded (input row numbers).
    repeats : list of (int, int)
        ``(row, earlier_row)``: encoded rows whose molecule (latent mean) an earlier row
        already holds; cross-validation keeps them in one fold.
    """

    predictor: LatentPredictor
    measured: np.ndarray
    predicted: np.ndarray | None
    rows: list[int]
    errors: list[RowError]
    repeats: list[tuple[int, int]] = field(default_factory=list)


def train_predictor(
    vae,
    data: LabeledData,
    model: str = "gp",
    *,
    folds: int = 5,
    seed: int = 0,
    max_train: int | None = None,
    description: dict | None = None,
    progress: Callable[[int, int], None] | None = None,
    **params,
) -> TrainResult:
    """Encode labelled molecules, cross-validate, then fit on all of them.

    Parameters
    ----------
    vae : MolVAE
        Its model file's SHA-256 is recorded.
    data : LabeledData
    model : {"gp", "ridge", "rf", "mlp"}
    folds : int
        k of k-fold CV; 0 skips cross-validation.
    seed : int
    max_train : int, optional
    description : dict, optional
        Extra entries for ``training_data``.
    progress : callable(done, total), optional
        Called after each fold.

    Raises
    ------
    PredictorError
        No molecule could be encoded; too few rows for the folds or the fit. Its
        ``errors`` are the skipped rows (of ``data`` and those not encoded), which
        explain where the rows went.
    """
    sha = _vae_sha256(vae)
    mu, enc_errors = vae.try_encode(data.smiles)
    errors = [RowError(data.rows[e.row], e.input, e.reason) for e in enc_errors]
    skipped = sorted(data.errors + errors, key=lambda e: e.row)
    ok = np.isfinite(mu).all(axis=1)
    if not ok.any():
        raise PredictorError(f"none of the {len(data.smiles)} molecules of {data.source or 'the data'} could be encoded by the VAE", skipped)
    z, y = mu[ok].astype(np.float64), data.y[ok]
    rows = [r for r, k in zip(data.rows, ok) if k]
    _, first, inverse = np.unique(z, axis=0, return_index=True, return_inverse=True)
    repeats = [(r, rows[first[g]]) for i, (r, g) in enumerate(zip(rows, inverse.ravel())) if first[g] != i]
    predicted, cv = None, None
    try:
        if folds:
            cv, predicted = cross_validate(z, y, model, folds, seed, targets=data.targets, max_train=max_train, return_predictions=True, progress=progress, **params)
        predictor = LatentPredictor(model, data.targets, seed=seed, max_train=max_train, **params).fit(z, y)
    except PredictorError as exc:  # too few rows left: say which rows were skipped, and why
        if exc.errors or not skipped:
            raise
        raise PredictorError(str(exc), skipped) from None
    predictor.cv = cv
    predictor.vae_sha256 = sha
    predictor.vae_path = str(vae.path)
    predictor.training_data = {
        "source": data.source,
        "rows_read": len(data.rows) + len(data.errors),
        "rows_used": int(ok.sum()),
        "rows_skipped": len(data.errors) + len(errors),
        "nan_labels": {t: int(np.isnan(y[:, j]).sum()) for j, t in enumerate(data.targets)},
        "repeated_rows": len(repeats),
        **(description or {}),
    }
    return TrainResult(predictor, y, predicted, rows, errors, repeats)
