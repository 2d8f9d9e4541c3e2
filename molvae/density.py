"""A density fitted to training-set latents: an optional alternative to the prior.

A VAE's aggregate posterior q(z) = E_x q(z|x) rarely matches its prior N(0, I) after a
short training run; prior draws that fall where no training molecule was encoded (the
"prior hole", Hoffman & Johnson 2016) decode to unusual molecules. Fitting a Gaussian
mixture to the posterior means of training molecules and sampling from it instead is a
common remedy (e.g. the ex-post density estimation of Ghosh et al. 2020, "From
Variational to Deterministic Autoencoders"). molvae never does this silently: the prior
is the default everywhere, and ``--latent fitted`` names this choice.

The mixture is stored in the model file under ``latent_density`` as plain arrays, with
``base_sha256`` (the model file it was first added to) and ``weights_sha256`` (the weights
it was fitted for, :func:`molvae.predictors.vae_weights_sha256`): a property predictor
trained on that model file serves the copy with the density too, and the other way round.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np

from molvae.checks import is_integer, real_array

__all__ = ["fit_latent_density", "sample_density", "density_provenance", "MAX_SEED"]

log = logging.getLogger(__name__)

#: Largest seed :func:`fit_latent_density` takes (scikit-learn's ``random_state`` is 32-bit).
MAX_SEED = 2**32 - 1


def fit_latent_density(z: np.ndarray, *, components: int = 32, seed: int = 0, source: str = "") -> dict:
    """Fit a full-covariance Gaussian mixture (scikit-learn) to latent vectors.

    Parameters
    ----------
    z : ndarray, shape (n, d_z)
        Posterior means of training molecules.
    components : int
        Mixture components.
    seed : int
        0 to :data:`MAX_SEED` (2**32 - 1); same seed, same mixture.
    source : str
        Description of the molecules, stored with the density.

    Returns
    -------
    dict
        Plain values: ``type`` ("gmm"), ``weights`` (k,), ``means`` (k, d_z),
        ``cholesky`` (k, d_z, d_z) lower Cholesky factors of the covariances,
        ``n_fit``, ``source``, ``avg_log_likelihood``.

    Raises
    ------
    ValueError
        If ``z`` is not 2-D, holds NaN, or has fewer rows than components, ``components``
        is not an integer >= 1, or ``seed`` is outside 0..:data:`MAX_SEED`.
    TypeError
        If ``z`` holds complex numbers, booleans, text or other objects
        (:func:`molvae.checks.real_array`): they were cast to numbers without a word.
    """
    from sklearn.mixture import GaussianMixture

    if not is_integer(seed) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer between 0 and {MAX_SEED}, got {seed!r}")
    if not is_integer(components) or components < 1:  # True: a bare TypeError; 0, 2.0: scikit-learn's words
        raise ValueError(f"components must be an integer >= 1, got {components!r}")
    z = real_array(z, np.float64, "latent vectors")  # complex lost its imaginary part, "0.1" was read as a number
    if z.ndim != 2 or not np.isfinite(z).all():
        raise ValueError("latent vectors must be a finite (n, d_z) array")
    if z.shape[0] < components:
        raise ValueError(f"need at least {components} latent vectors, got {z.shape[0]}")
    gmm = GaussianMixture(n_components=components, covariance_type="full", reg_covar=1e-4, max_iter=200, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:  # scikit-learn's warnings (duplicate points ...) go to the log
        warnings.simplefilter("always")
        gmm.fit(z)
    for w in dict.fromkeys(str(w.message) for w in caught):
        log.warning("Gaussian mixture: %s", w)
    log.info("fitted a %d-component Gaussian mixture to %d latent vectors (converged: %s)", components, z.shape[0], gmm.converged_)
    return {
        "type": "gmm",
        "weights": gmm.weights_.astype(np.float64).tolist(),
        "means": gmm.means_.astype(np.float32),
        "cholesky": np.linalg.cholesky(gmm.covariances_).astype(np.float32),
        "n_fit": int(z.shape[0]),
        "source": source,
        "avg_log_likelihood": float(gmm.score(z)),
    }


def sample_density(density: dict, n: int, *, seed: int = 0) -> np.ndarray:
    """Draw from a stored mixture.

    Parameters
    ----------
    density : dict
        As returned by :func:`fit_latent_density` (arrays may be torch tensors).
    n : int
        Points to draw (>= 0).
    seed : int
        Same seed, same draws; an integer >= 0 (numpy's ``default_rng`` takes any size).

    Returns
    -------
    ndarray, shape (n, d_z), float32

    Raises
    ------
    ValueError
        If ``n`` is not an integer >= 0, or ``seed`` is not an integer >= 0 (None drew
        other points on every call, ``True`` was taken as 1).
    """
    if not is_integer(n) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if not is_integer(seed) or seed < 0:  # None: fresh OS entropy, so no two calls agreed
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    means = np.asarray(density["means"], dtype=np.float64)
    chol = np.asarray(density["cholesky"], dtype=np.float64)
    weights = np.asarray(density["weights"], dtype=np.float64)
    rng = np.random.default_rng(seed)
    comp = rng.choice(len(weights), size=n, p=weights / weights.sum())
    eps = rng.standard_normal((n, means.shape[1]))
    return (means[comp] + np.einsum("nij,nj->ni", chol[comp], eps)).astype(np.float32)


def density_provenance(vae) -> dict:
    """The model-file hashes a density fitted to ``vae``'s latents records.

    ``weights_sha256`` is the hash of the weights the density is for
    (:func:`molvae.predictors.vae_weights_sha256`). ``base_sha256`` names the model file
    the predictors of the copy were trained on: the SHA-256 of ``vae``'s own model file
    or, when ``vae`` already carries a density (a density fitted again) whose recorded
    ``weights_sha256`` matches these weights, that density's ``base_sha256``, so that
    refitting a copy keeps pointing at the first model file. A density with no
    ``base_sha256``, or one recorded for other weights, is not reused.

    Parameters
    ----------
    vae : MolVAE
        The model the density is fitted for; its ``path`` (the model file),
        ``latent_density`` (a stored density or None) and weights are read.

    Returns
    -------
    dict
        ``{"base_sha256": str, "weights_sha256": str}``, each 64 lowercase hex digits.

    Raises
    ------
    ValueError
        ``vae`` has no model file (``path`` is None) and no density to reuse.
    OSError
        The model file cannot be read.
    """
    from molvae.predictors import density_base_sha256, file_sha256, vae_weights_sha256

    weights = vae_weights_sha256(vae)
    base = density_base_sha256(vae, weights)
    if base is None:
        path = getattr(vae, "path", None)
        if path is None:
            raise ValueError("the VAE has no model file, so the density cannot record which one it was fitted for")
        base = file_sha256(path)
    return {"base_sha256": base, "weights_sha256": weights}
