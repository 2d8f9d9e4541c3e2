"""Walks and neighbourhoods in latent space: interpolation between molecules, analogue search.

Interpolation anchors both ends in the latent space (:func:`anchor`: the posterior mean
when it decodes back to the molecule; otherwise a posterior sample that does, or a point
moved by gradient steps on the decoder's likelihood of the molecule until it does, see
:func:`invert`; failing all, the closest decoding found), walks ``steps`` points between
them and decodes each greedily. Spherical interpolation (slerp; Shoemake 1985, advocated for
Gaussian latent spaces by White 2016, "Sampling Generative Networks") is the default:
the straight line between two points of a high-dimensional Gaussian passes through a
region of low prior density near the origin.

A *guided* path (``guide > 0``, off by default) decodes a few points around each interior
step and keeps the molecule whose similarity to the two ends best matches the step's
position, ``(1 - t) Tanimoto(start) + t Tanimoto(end)``. The plain path shows the latent
space as it is; the guided one trades that for a gradual change of structure, which is
what a chemist browsing from one drug to another usually wants.

Analogue search samples latent points around a molecule's anchor (moved further into the
region that decodes to the molecule, :func:`refine`) and keeps the distinct valid
decodings, ranked by Tanimoto similarity to the query (the neighbourhood view of JT-VAE,
Jin et al. 2018).

Choosing, among several posterior samples, the one that decodes back to the input follows
Gómez-Bombarelli et al. 2018 (chemical_vae), who decode many samples of the encoder's
posterior per molecule.
"""

from __future__ import annotations

import logging
import math
import numbers

import numpy as np
import pandas as pd
import torch

from molvae.checks import is_integer, real_array
from molvae.chem import properties, tanimoto
from molvae.vae import check_seed

__all__ = ["slerp", "linear", "latent_path", "geodesic", "invert", "anchor", "interpolate", "analogs", "analog_pool", "refine"]

log = logging.getLogger(__name__)

_PROPS = ("qed", "logp", "sa", "mw")

#: Default analogue search scale (latent standard deviations), used when no radius is
#: given; also the scale of a guided interpolation's points.
DEFAULT_RADIUS = 0.5

#: Largest accepted radius: latent points are float32, and ``radius * eps`` must stay far
#: inside its range (about 3.4e38) to be decoded.
MAX_RADIUS = 1e30


def _operands(a, b, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a``, ``b`` and ``t`` as float64 arrays of shapes ``(d_z,)``, ``(d_z,)`` and ``(k,)``.

    Raises
    ------
    ValueError
        Other shapes: rows of points as ends gave a path of shape ``(1, 2, d_z)`` for two
        steps (and a broadcasting error otherwise), ends of different lengths numpy's
        ``matmul`` message. NaN or infinite values in ``a``, ``b`` or ``t`` (they gave a
        path of NaN points).
    TypeError
        Values that are not real numbers (:func:`molvae.checks.real_array`).
    """
    a, b = real_array(a, np.float64, "the start point"), real_array(b, np.float64, "the end point")
    t = real_array(t, np.float64, "the fractions t")
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"the ends must be two latent points of one shape (d_z,), got shapes {a.shape} and {b.shape}")
    if t.ndim != 1:
        raise ValueError(f"the fractions t must have shape (k,), got {t.shape}")
    # a NaN end (a try_encode row of a molecule that failed) gave a path of NaN points without a word
    for name, values in (("the start point", a), ("the end point", b), ("the fractions t", t)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} must be finite numbers, got {int((~np.isfinite(values)).sum())} NaN or infinite values")
    return a, b, t


def linear(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Points ``(1 - t) a + t b``.

    Parameters
    ----------
    a, b : array-like, shape (d_z,)
    t : array-like, shape (k,)
        Fractions in [0, 1].

    Returns
    -------
    ndarray, shape (k, d_z), float32

    Raises
    ------
    ValueError
        ``a`` and ``b`` are not two 1-D arrays of one length, ``t`` is not 1-D, or any of
        them holds NaN or infinite values.
    TypeError
        Values that are not real numbers.
    """
    a, b, t = _operands(a, b, t)
    t = t[:, None]
    return ((1 - t) * a[None, :] + t * b[None, :]).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical linear interpolation (Shoemake 1985).

    ``sin((1-t) w)/sin(w) a + sin(t w)/sin(w) b`` with ``w`` the angle between ``a`` and
    ``b``; falls back to :func:`linear` when they are (anti)parallel or zero.

    Parameters
    ----------
    a, b : array-like, shape (d_z,)
    t : array-like, shape (k,)

    Returns
    -------
    ndarray, shape (k, d_z), float32
        The end points are exactly ``a`` (t = 0) and ``b`` (t = 1).

    Raises
    ------
    ValueError
        ``a`` and ``b`` are not two 1-D arrays of one length, ``t`` is not 1-D, or any of
        them holds NaN or infinite values.
    TypeError
        Values that are not real numbers.
    """
    a64, b64, t = _operands(a, b, t)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0 or nb == 0:
        return linear(a, b, t)
    cos = np.clip(a64 @ b64 / (na * nb), -1.0, 1.0)
    omega = math.acos(cos)
    if abs(math.sin(omega)) < 1e-6:
        return linear(a, b, t)
    t = t[:, None]
    out = (np.sin((1 - t) * omega) * a64[None, :] + np.sin(t * omega) * b64[None, :]) / math.sin(omega)
    return out.astype(np.float32)


#: Most points on a path (both ends included). Every step is decoded and gets its
#: properties and similarities, so a path of this many points already takes minutes;
#: far more would not fit in memory (10**10 fractions alone are 75 GiB).
MAX_STEPS = 100_000


def latent_path(a: np.ndarray, b: np.ndarray, steps: int, method: str = "slerp") -> np.ndarray:
    """``steps`` evenly spaced points from ``a`` to ``b`` (both included).

    Parameters
    ----------
    a, b : ndarray, shape (d_z,)
        The ends (latent units).
    steps : int
        Points on the path, 2 to :data:`MAX_STEPS`.
    method : {"slerp", "linear"}
        Spherical (:func:`slerp`) or straight (:func:`linear`) interpolation.

    Returns
    -------
    ndarray, shape (steps, d_z), float32
        Row ``i`` is the point at fraction ``i / (steps - 1)``.

    Raises
    ------
    ValueError
        If ``steps`` is not an integer from 2 to :data:`MAX_STEPS`, the method is not
        ``slerp`` or ``linear``, or ``a`` and ``b`` are not two 1-D arrays of one length
        or hold NaN or infinite values.
    TypeError
        Ends that are not real numbers.
    """
    _check_path(steps, method)
    t = np.linspace(0.0, 1.0, int(steps))
    return slerp(a, b, t) if method == "slerp" else linear(a, b, t)


def _check_path(steps: int, method: str, methods: tuple[str, ...] = ("slerp", "linear")) -> None:
    if not is_integer(steps):
        raise ValueError(f"steps must be an integer, got {steps!r}")
    if not 2 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 2 and {MAX_STEPS}, got {steps}")
    if method not in methods:
        raise ValueError(f"unknown interpolation method {method!r}: use {', '.join(methods[:-1])} or {methods[-1]}")


#: Interpolation methods of :func:`interpolate` (``latent_path`` takes the first two).
METHODS = ("slerp", "linear", "geodesic")
#: Adam steps of :func:`geodesic`. On the default model they give a mean Spearman of
#: Tanimoto-to-start with the step index of -0.89 over the 10 registry drug pairs of
#: ``benchmarks/exploration.py --method geodesic --pairs 10 --analogs 0`` (slerp: -0.71);
#: 60 steps gave -0.75 in a prototype outside the repository. A 10-step path takes about
#: 10 s on 2 CPU cores.
GEODESIC_ITERATIONS = 200
#: Most points on a geodesic path: each Adam step runs the decoder over 3 x steps
#: molecules at once.
MAX_GEODESIC_STEPS = 1000
#: Adam learning rate of :func:`geodesic` (latent units per step, roughly).
GEODESIC_LR = 0.05
#: Adam steps between the greedy decodings that :func:`geodesic`'s energy is evaluated on.
GEODESIC_REDECODE = 10


def _greedy_inputs(model, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy decodings of ``z`` (batch, d_z) as teacher-forcing inputs ``<start> x``
    (batch, T) and a mask (batch, T) of the positions up to and including ``<end>``."""
    with torch.no_grad():
        tokens = model.sample_tokens(z, matmul_dtype=torch.float32)  # float32: the same path on every CPU
    end = (tokens == model.END).int().argmax(dim=1)  # every row has an <end>
    length = int(end.max()) + 1
    tokens = tokens[:, :length]
    inputs = torch.cat([torch.full((len(z), 1), model.START, dtype=tokens.dtype), tokens[:, :-1]], dim=1)
    mask = (torch.arange(length)[None, :] <= end[:, None]).float()
    return inputs, mask


def _path_energy(model, z: torch.Tensor, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over neighbouring points of KL(p(x | z_i) || p(x | z_j)), both directions,
    each teacher-forced on the greedy decoding of ``z_i`` (one batched decoder pass)."""
    k = len(z)
    # rows: z_i on x_i; z_{i+1} on x_i (i < k - 1); z_{i-1} on x_i (i > 0)
    zs = torch.cat([z, z[1:], z[:-1]])
    xs = torch.cat([inputs, inputs[:-1], inputs[1:]])
    logp = torch.log_softmax(model.decode_logits(zs, xs).float(), dim=-1)
    own, nxt, prv = logp[:k], logp[k : 2 * k - 1], logp[2 * k - 1 :]
    p = own.exp()
    kl_next = ((p[:-1] * (own[:-1] - nxt)).sum(-1) * mask[:-1]).sum()
    kl_prev = ((p[1:] * (own[1:] - prv)).sum(-1) * mask[1:]).sum()
    return kl_next + kl_prev


def geodesic(vae, path: np.ndarray, iterations: int = GEODESIC_ITERATIONS, *, lr: float = GEODESIC_LR, redecode_every: int = GEODESIC_REDECODE, progress=None) -> np.ndarray:
    """Bend a latent path towards a geodesic of the decoder's output distributions.

    The ends stay fixed; the interior points move by Adam steps that lower the discrete
    path energy ``sum_i KL(p(x | z_i) || p(x | z_i+1)) + KL(p(x | z_i+1) || p(x | z_i))``,
    where each KL is summed over the token positions of the greedy decoding of its first
    point, teacher-forced (re-decoded every ``redecode_every`` steps). The KL between the
    decoder's distributions is, to second order, the pull-back (Fisher) metric of the
    decoder, so the path's points spread out where decodings change slowly and crowd
    where they change fast, and the path bends through latent regions where neighbouring
    points decode alike. Geometry from Arvanitidis, Hansen and Hauberg 2018, "Latent
    Space Oddity: on the Curvature of Deep Generative Models" (ICLR); the discrete path
    energy minimized point by point as in Chen et al. 2018, "Metrics for Deep Generative
    Models" (AISTATS). Nothing here looks at fingerprints or properties.

    Parameters
    ----------
    vae : MolVAE
    path : ndarray, shape (steps, d_z)
        The starting path, ends included (e.g. :func:`latent_path`).
    iterations : int
        Adam steps, an integer >= 0 (0 returns the path unchanged).
    lr : float
        Adam learning rate (latent units per step, roughly), a number > 0.
    redecode_every : int
        Steps between greedy decodings, an integer >= 1.
    progress : callable, optional
        Called as ``progress(steps_done, iterations)`` after each greedy decoding and at
        the end.

    Returns
    -------
    ndarray, shape (steps, d_z), float32
        Row 0 and the last row are the given ends, unchanged.

    Raises
    ------
    ValueError
        If ``path`` is not a finite (steps, d_z) array with ``2 <= steps <=``
        :data:`MAX_GEODESIC_STEPS` and the model's ``d_z``, or ``iterations``, ``lr`` or
        ``redecode_every`` is out of range.
    TypeError
        A path that is not real numbers.
    """
    path = real_array(path, np.float32, "the path")
    if path.ndim != 2 or not 2 <= len(path) <= MAX_GEODESIC_STEPS or path.shape[1] != vae.d_z or not np.isfinite(path).all():
        raise ValueError(f"path must be a finite array of shape (steps, {vae.d_z}) with 2 <= steps <= {MAX_GEODESIC_STEPS}, got shape {path.shape}")
    if not is_integer(iterations) or iterations < 0 or not is_integer(redecode_every) or redecode_every < 1:
        raise ValueError(f"iterations must be an integer >= 0 and redecode_every an integer >= 1, got {iterations!r} and {redecode_every!r}")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    if len(path) == 2 or iterations == 0:
        return path.copy()
    model = vae.model
    ends = torch.tensor(path[[0, -1]])
    inner = torch.tensor(path[1:-1]).requires_grad_(True)
    opt = torch.optim.Adam([inner], lr=float(lr))
    whole = lambda interior: torch.cat([ends[:1], interior, ends[1:]])  # noqa: E731
    for step in range(int(iterations)):
        if step % redecode_every == 0:
            inputs, mask = _greedy_inputs(model, whole(inner.detach()))
            if progress is not None:
                progress(step, int(iterations))
        _descend(lambda interior: _path_energy(model, whole(interior), inputs, mask), inner, opt)
    if progress is not None:
        progress(int(iterations), int(iterations))
    return whole(inner.detach()).numpy()

#: Posterior samples tried by :func:`anchor` when the posterior mean does not reconstruct.
ANCHOR_SAMPLES = 64
#: Most posterior samples :func:`anchor` takes: they are drawn and decoded at once
#: (65,536 points of d_z = 128 are 32 MB and take about half a minute to decode).
MAX_ANCHOR_SAMPLES = 65_536

#: Most analogues :func:`analogs` returns (``n``): its pool decodes :func:`analog_pool`
#: ``(n)`` latent points, 250 million at this bound (about 21 hours at the 3,372 decodings/s
#: of ``generate`` without properties on 2 CPU cores). A larger ``n`` (a typo such as
#: ``-n 1000000000``) ran on without a word until the machine's memory ran out.
MAX_ANALOGS = 1_000_000

#: Most points decoded around each interior step of a guided path (``guide``).
MAX_GUIDE = 100_000
#: Gradient steps of latent inversion (:func:`invert`) tried by :func:`anchor` when no
#: posterior sample reconstructs the molecule. On the default model it brings the
#: reconstructed ends of 10 interpolations between registry drugs from 4 of 20 (mean and 64
#: posterior samples) to 19 of 20, mostly within 10-30 steps (``benchmarks/exploration.py``
#: against ``--invert-steps 0``).
INVERT_STEPS = 200
#: Starting points of latent inversion: the posterior mean and the posterior samples
#: whose decodings are most similar to the molecule.
INVERT_STARTS = 16
#: Adam learning rate of latent inversion (latent units per step, roughly).
INVERT_LR = 0.05


def invert(vae, ids: list[int], z0: np.ndarray, canonical: str, steps: int = INVERT_STEPS, *, lr: float = INVERT_LR, check_every: int = 10) -> tuple[np.ndarray, list[str], int]:
    """Move latent points until greedy decoding gives back a molecule (latent inversion).

    Gradient descent (Adam) on the teacher-forced negative log-likelihood
    ``-log p(x | z)`` of the molecule's SELFIES tokens, from each starting point at once;
    every ``check_every`` steps the points are decoded greedily and the walk stops as
    soon as one decodes to ``canonical``. This narrows the gap between the encoder's
    amortized posterior mean and a point the decoder maps back to the input (the
    amortization gap; refining ``z`` by gradient steps follows Kim et al. 2018,
    "Semi-Amortized Variational Autoencoders"). There is no prior term: it stops at the
    first reconstruction, so points move only as far as needed.

    Parameters
    ----------
    vae : MolVAE
    ids : list of int
        Token ids of the molecule (``vae.tokenize(smiles)[1]``).
    z0 : ndarray, shape (k, d_z)
        Starting points.
    canonical : str
        Canonical SMILES that counts as reconstruction.
    steps : int
        Most gradient steps, an integer >= 0.
    lr : float
        Adam learning rate.
    check_every : int
        Steps between greedy decodings, an integer >= 1.

    Returns
    -------
    z : ndarray, shape (k, d_z)
        The points at the last check.
    decoded : list of str, length k
        Their greedy decodings (canonical SMILES, '' if invalid).
    step : int
        Gradient steps taken.

    Raises
    ------
    ValueError
        If ``steps`` is not an integer >= 0 or ``check_every`` not an integer >= 1
        (``steps=2.5`` was never reached: the walk ran until it reconstructed, forever
        for a molecule it could not).
    """
    if not is_integer(steps) or not is_integer(check_every) or steps < 0 or check_every < 1:
        raise ValueError(f"steps must be an integer >= 0 and check_every an integer >= 1, got {steps!r} and {check_every!r}")
    z = torch.tensor(np.asarray(z0, dtype=np.float32)).requires_grad_(True)
    nll = _nll(vae.model, ids, len(z))
    opt = torch.optim.Adam([z], lr=lr)
    step = 0
    while True:
        if step % check_every == 0 or step == steps:
            decoded = vae.decode(z.detach().numpy())
            if canonical in decoded or step == steps:
                return z.detach().numpy().copy(), decoded, step
        _descend(nll, z, opt)
        step += 1


def _nll(model, ids: list[int], k: int):
    """``-log p(x | z)`` of one token sequence, teacher-forced, summed over ``k`` points
    (batch, d_z) at once: a function of z."""
    x = torch.tensor(ids, dtype=torch.long)[None, :].expand(k, -1)
    inputs = torch.cat([torch.full((k, 1), model.START, dtype=torch.long), x], dim=1)
    targets = torch.cat([x, torch.full((k, 1), model.END, dtype=torch.long)], dim=1)
    return lambda z: torch.nn.functional.cross_entropy(model.decode_logits(z, inputs).float().transpose(1, 2), targets, reduction="sum")


def _descend(loss, z: torch.Tensor, opt) -> None:
    """One optimizer step on ``loss(z)``; only ``z`` gets a gradient (not the model)."""
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(loss(z), z)
    z.grad = grad
    opt.step()


#: Adam steps by which :func:`analogs` moves its centre further up the decoder's
#: likelihood of the query once the centre decodes back to it (:func:`refine`). With the
#: default pool, on 85 registry-drug queries of the default model, it raised the number
#: whose median Tanimoto of 20 analogues reaches 0.4 from 82 to 84, and the median of the
#: medians from 0.60 to 0.69 (``benchmarks/results/analogs/``), for well under a second.
REFINE_STEPS = 50


def refine(vae, ids: list[int], z: np.ndarray, canonical: str, steps: int = REFINE_STEPS, *, lr: float = INVERT_LR) -> tuple[np.ndarray, bool]:
    """Move a latent point that decodes to a molecule further up ``log p(x | z)``.

    :func:`invert` stops at the first point that decodes back, which often lies at the
    edge of the region of latent space that decodes to the molecule, so that most of its
    neighbours decode to other, less similar molecules. ``steps`` more Adam steps on the
    teacher-forced negative log-likelihood (no prior term, as in :func:`invert`) move it
    inwards; the moved point is kept only if it still decodes to ``canonical``. It moves
    away from the prior's bulk (its norm grows), which is why :func:`interpolate` uses it
    only when asked (``refine_steps``).

    Parameters
    ----------
    vae : MolVAE
    ids : list of int
        Token ids of the molecule (``vae.tokenize(smiles)[1]``).
    z : ndarray, shape (d_z,)
        A point whose greedy decoding is ``canonical``.
    canonical : str
        Canonical SMILES of the molecule.
    steps : int
        Adam steps, an integer >= 0 (0 returns ``z``).
    lr : float
        Adam learning rate.

    Returns
    -------
    z : ndarray, shape (d_z,), float32
    moved : bool
        Whether the moved point was kept.

    Raises
    ------
    ValueError
        If ``steps`` is not an integer >= 0.
    """
    _check_count(steps, "steps")
    z0 = np.asarray(z, dtype=np.float32)
    if steps == 0:
        return z0, False
    zt = torch.tensor(z0[None, :]).requires_grad_(True)
    nll = _nll(vae.model, ids, 1)
    opt = torch.optim.Adam([zt], lr=lr)
    for _ in range(int(steps)):
        _descend(nll, zt, opt)
    moved = zt.detach().numpy()
    if vae.decode(moved)[0] != canonical:
        return z0, False
    return moved[0], True


def anchor(vae, smiles: str, samples: int = ANCHOR_SAMPLES, *, invert_steps: int = INVERT_STEPS, seed: int = 0) -> tuple[np.ndarray, str, float]:
    """The latent point that stands for a molecule in walks and neighbourhoods.

    Tried in turn, stopping at the first point whose greedy decoding is the molecule
    itself: the posterior mean ``mu``; ``samples`` draws ``mu + sigma * eps``
    (eps ~ N(0, I), sigma the posterior standard deviation; the earliest draw that
    reconstructs wins); latent inversion (:func:`invert`, ``invert_steps`` gradient
    steps) from ``mu`` and the draws whose decodings are most similar to the molecule.
    When none reconstructs, the point whose decoding has the highest Tanimoto similarity
    to the molecule (ties go to the earlier point, ``mu`` first).

    Parameters
    ----------
    vae : MolVAE
    smiles : str
    samples : int
        Posterior draws to try, 0 to :data:`MAX_ANCHOR_SAMPLES`; 0 gives ``mu``
        unconditionally (no inversion either).
    invert_steps : int
        Most gradient steps of latent inversion, an integer >= 0; 0 skips it.
    seed : int
        Seeds the draws, 0 to :data:`molvae.vae.MAX_SEED` (2**63 - 1).

    Returns
    -------
    z : ndarray, shape (d_z,)
    decoded : str
        Canonical SMILES decoded from ``z`` ('' if invalid).
    similarity : float
        Tanimoto (Morgan radius 2, 2048 bits) of ``decoded`` to the standardized input;
        1.0 when it is the input, NaN when no tried point decodes to a valid molecule.

    Raises
    ------
    InvalidMoleculeError, UnknownTokenError, SequenceTooLongError
        When the molecule cannot be encoded.
    ValueError
        If ``samples`` is not an integer from 0 to :data:`MAX_ANCHOR_SAMPLES`,
        ``invert_steps`` not an integer >= 0, or ``seed`` is not an integer from 0 to
        :data:`molvae.vae.MAX_SEED`.
    """
    _check_anchor_samples(samples, "samples")
    seed = check_seed(seed)  # as an int
    _check_count(invert_steps, "invert_steps")
    samples, invert_steps = int(samples), int(invert_steps)  # numpy integers overflow in arithmetic
    canonical, ids = vae.tokenize(smiles)
    mu, logvar, _ = vae.try_encode([smiles], return_logvar=True)  # tokenize raised if it cannot
    mu, sigma = mu[0], np.exp(0.5 * logvar[0])
    first = vae.decode(mu[None, :])[0]
    if first == canonical or samples == 0:
        return mu, first, 1.0 if first == canonical else float(tanimoto(canonical, [first])[0])
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn((samples, vae.d_z), generator=gen).numpy()
    z = np.concatenate([mu[None, :], mu[None, :] + sigma[None, :] * eps]).astype(np.float32)
    decoded = [first, *vae.decode(z[1:])]
    sims = _ranking(canonical, decoded)
    if sims.max() < 2.0 and invert_steps > 0:
        order = np.lexsort((np.arange(len(z)), -sims))
        starts = np.concatenate([[0], order[order != 0][: INVERT_STARTS - 1]])
        moved, moved_decoded, steps = invert(vae, ids, z[starts], canonical, invert_steps)
        log.debug("latent inversion of %s: %d steps, reconstructed: %s", canonical, steps, canonical in moved_decoded)
        z = np.concatenate([z, moved])
        decoded = [*decoded, *moved_decoded]
        sims = np.concatenate([sims, _ranking(canonical, moved_decoded)])
    best = int(np.argmax(sims))
    log.debug("anchor of %s: point %d of %d decodes to %s", canonical, best, len(z), decoded[best])
    similarity = 1.0 if sims[best] == 2.0 else math.nan if sims[best] < 0 else float(sims[best])
    return z[best], decoded[best], similarity


def _check_radius(radius: float, name: str) -> None:
    """ValueError unless ``radius`` is a real number in (0, :data:`MAX_RADIUS`] (a bool is not)."""
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) or not (0 < radius <= MAX_RADIUS):
        raise ValueError(f"{name} must be a number > 0 and <= {MAX_RADIUS:g}, got {radius!r}")


def _check_count(value: int, name: str) -> None:
    """ValueError naming ``name`` unless ``value`` is an integer >= 0 (a step count: an
    ``invert_steps`` of 2.5 made :func:`invert` run until it reconstructed, forever for a
    molecule it could not; None was a bare TypeError)."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")


def _check_anchor_samples(samples: int, name: str = "anchor samples") -> None:
    """ValueError naming ``name`` unless ``samples`` is an integer from 0 to :data:`MAX_ANCHOR_SAMPLES`."""
    if not is_integer(samples) or not 0 <= samples <= MAX_ANCHOR_SAMPLES:
        raise ValueError(f"{name} must be between 0 and {MAX_ANCHOR_SAMPLES}, got {samples!r}")


def _check_covered(vae, smiles: str) -> None:
    """Raise :class:`~molvae.alphabet.UnknownTokenError` when a fragment of ``smiles`` other
    than a common counterion has tokens outside the model's alphabet.

    Encoding keeps one fragment, so without this a metal in a small fragment (cisplatin,
    ``N.N.Cl[Pt]Cl``) would be dropped and the walk would start from ammonia; see
    :func:`molvae.drugs.missing_tokens`.
    """
    from molvae.alphabet import UnknownTokenError
    from molvae.drugs import missing_tokens

    missing = missing_tokens(vae, smiles)
    if missing:
        raise UnknownTokenError(missing, smiles)


def _warn_dropped_fragments(smiles: str, canonical: str, role: str) -> None:
    """Log a warning when ``smiles`` has distinct fragments other than common counterions
    (a mixture, a salt with an organic counterion): encoding keeps only the largest,
    ``canonical``, and the others were dropped without a word."""
    from molvae.drugs import _fragments

    fragments = set(_fragments(smiles))
    if len(fragments) > 1:
        log.warning("the %s %s has %d fragments other than common counterions and solvents; only the largest, %s, is used", role, smiles, len(fragments), canonical)


def _ranking(canonical: str, decoded: list[str]) -> np.ndarray:
    """2 for an exact reconstruction, else Tanimoto to ``canonical`` (-1 if invalid)."""
    return np.where([d == canonical for d in decoded], 2.0, np.nan_to_num(tanimoto(canonical, decoded), nan=-1.0))


def _guided(vae, points: np.ndarray, smiles: list[str], t: np.ndarray, s_can: str, e_can: str, guide: int, radius: float, seed: int) -> list[str]:
    """Interior steps of a guided path (see :func:`interpolate`); the ends are kept.

    Up to :data:`ANALOG_CHUNK` points in all, the whole path's noise is drawn and decoded
    at once; beyond that, each step's points are drawn and decoded in pieces of at most
    :data:`ANALOG_CHUNK`, keeping the best blend so far, so that memory stays bounded
    whatever ``guide`` is. Either way, ties go to the path point itself, then to the
    earliest draw.
    """
    inner = np.arange(1, len(points) - 1)
    d_z = points.shape[1]
    gen = torch.Generator().manual_seed(seed)
    if len(inner) * guide <= ANALOG_CHUNK:
        eps = torch.randn((len(inner), guide, d_z), generator=gen).numpy()
        z = (points[inner, None, :] + radius * eps).reshape(-1, d_z)
        decoded = np.array(vae.decode(z), dtype=object).reshape(len(inner), guide)

        def pieces(row: int):
            yield list(decoded[row])

    else:

        def pieces(row: int):
            for done in range(0, guide, ANALOG_CHUNK):
                eps = torch.randn((min(ANALOG_CHUNK, guide - done), d_z), generator=gen).numpy()
                yield vae.decode(points[inner[row]][None, :] + radius * eps)

    def blend(k: int, cands: list[str]) -> np.ndarray:
        return (1 - t[k]) * np.nan_to_num(tanimoto(s_can, cands), nan=-1.0) + t[k] * np.nan_to_num(tanimoto(e_can, cands), nan=-1.0)

    out = list(smiles)
    for row, k in enumerate(inner):
        best, best_score = smiles[k], blend(k, [smiles[k]])[0]  # ties: the path point itself first
        for cands in pieces(row):
            score = blend(k, cands)
            j = int(np.argmax(score))
            if score[j] > best_score:
                best, best_score = cands[j], score[j]
        out[k] = best
    return out


def _with_properties(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the columns of :data:`_PROPS` for its ``smiles`` (NaN where RDKit fails);
    an empty table gets the columns too."""
    props = pd.DataFrame([properties(s) for s in df["smiles"]], columns=list(_PROPS), dtype=float)[list(_PROPS)]
    return pd.concat([df.reset_index(drop=True), props], axis=1)


def interpolate(
    vae,
    start: str,
    end: str,
    steps: int = 10,
    method: str = "slerp",
    *,
    anchor_samples: int = ANCHOR_SAMPLES,
    invert_steps: int = INVERT_STEPS,
    seed: int = 0,
    guide: int = 0,
    guide_radius: float = DEFAULT_RADIUS,
    refine_steps: int = 0,
    geodesic_iterations: int = GEODESIC_ITERATIONS,
    progress=None,
) -> pd.DataFrame:
    """Decode a latent path between two molecules.

    Parameters
    ----------
    vae : MolVAE
    start, end : str
        SMILES (drug names are resolved by the caller, see :func:`molvae.drugs.resolve_molecule`).
        Common counterions and solvents are dropped; of a SMILES with other fragments
        left (a mixture), the largest is used and a warning is logged.
    steps : int
        Points on the path including both ends (2 to :data:`MAX_STEPS`).
    method : {"slerp", "linear", "geodesic"}
        Spherical or straight interpolation between the two anchors; ``"geodesic"``
        starts from the spherical path and bends it towards a geodesic of the decoder
        (:func:`geodesic`, about 10 s for 10 steps on 2 CPU cores): each step is still
        the greedy decoding of its point, and ``t`` is then the fraction of the path
        before it was bent.
    anchor_samples : int
        Posterior samples tried per end when its mean does not decode back to it (see
        :func:`anchor`), 0 to :data:`MAX_ANCHOR_SAMPLES`; 0 walks between the posterior
        means.
    invert_steps : int
        Most gradient steps of latent inversion per end (see :func:`invert`); 0 skips it.
    seed : int
        Seeds those samples and a guided path's draws, 0 to :data:`molvae.vae.MAX_SEED`
        (2**63 - 1).
    guide : int
        0 (default): decode each path point greedily. ``> 0``: a *guided* path; at each
        interior step ``k`` (fraction ``t``) the point itself and ``guide`` points
        ``z(t) + guide_radius * eps`` around it are decoded, and the molecule with the
        highest ``(1 - t) * Tanimoto(start) + t * Tanimoto(end)`` is kept, so that each
        step resembles the two ends in proportion to how far along the path it is.
        The molecules are still decodings of points near the latent path, but chosen
        by fingerprint similarity: the walk is smoother than the latent space itself.
    guide_radius : float
        Scale of those points (latent units), a number in (0, :data:`MAX_RADIUS`];
        checked only when ``guide > 0``.
    refine_steps : int
        0 (default): the path joins the two anchors. ``> 0``: each anchor that decodes
        back to its molecule is first moved by :func:`refine` (this many gradient steps
        up the decoder's likelihood of the molecule, kept while it still decodes to it),
        as :func:`analogs` does with its centre; an integer >= 0.
    geodesic_iterations : int
        Adam steps that bend a ``"geodesic"`` path (:func:`geodesic`), an integer >= 0;
        ignored by the other methods. Time grows in proportion. On the README's 40
        registry-drug pairs, 400 steps gave a mean Spearman of Tanimoto-to-start with the
        step index of -0.80, against -0.79 for 200 (``benchmarks/results/interpolation/``).
    progress : callable, optional
        Passed to :func:`geodesic` (``method="geodesic"`` only).

    Returns
    -------
    DataFrame
        One row per step: ``step, t, smiles, tanimoto_to_start, tanimoto_to_end, qed,
        logp, sa, mw, note``. Row 0 and the last row are the decodings of the end points'
        anchors; ``note`` says whether they reconstruct the inputs. ``attrs``
        holds ``start``/``end`` (standardized inputs: largest fragment, stereo removed
        when the alphabet has none), ``start_reconstructed``, ``end_reconstructed``
        (bool), ``distinct`` (distinct valid molecules on the path), ``method`` and
        ``guide``, all plain Python values.

    Raises
    ------
    InvalidMoleculeError, UnknownTokenError, SequenceTooLongError
        When an end point cannot be encoded; UnknownTokenError also when a fragment
        other than a common counterion has tokens outside the alphabet (cisplatin's
        platinum), though encoding alone would keep another fragment.
    ValueError
        Bad ``steps`` (at most :data:`MAX_GEODESIC_STEPS` for ``"geodesic"``),
        ``method``, ``anchor_samples``, ``invert_steps``, ``refine_steps``,
        ``geodesic_iterations`` (integers >= 0), ``seed``,
        ``guide`` (an integer from 0 to :data:`MAX_GUIDE`) or ``guide_radius``.
    """
    _check_path(steps, method, METHODS)
    if method == "geodesic" and steps > MAX_GEODESIC_STEPS:  # before the ends are searched
        raise ValueError(f"steps must be at most {MAX_GEODESIC_STEPS} for a geodesic path, got {steps}")
    _check_anchor_samples(anchor_samples)
    _check_count(invert_steps, "invert_steps")
    _check_count(refine_steps, "refine_steps")
    _check_count(geodesic_iterations, "geodesic_iterations")  # before the ends are searched
    seed = check_seed(seed)  # as an int
    if not is_integer(guide) or not 0 <= guide <= MAX_GUIDE:  # 2.5 failed in numpy
        raise ValueError(f"guide must be an integer from 0 to {MAX_GUIDE:,}, got {guide!r}")
    if guide:  # True was a radius of 1, '0.5' and None a bare TypeError from '<'
        _check_radius(guide_radius, "guide radius")
        guide_radius = float(guide_radius)  # Fraction(1, 2) made the points an object array
    # Python ints from here on: a numpy uint8 guide overflowed in len(inner) * guide
    steps, guide, anchor_samples, invert_steps, refine_steps, geodesic_iterations = int(steps), int(guide), int(anchor_samples), int(invert_steps), int(refine_steps), int(geodesic_iterations)
    _check_covered(vae, start)
    _check_covered(vae, end)
    (s_can, s_ids), (e_can, e_ids) = vae.tokenize(start), vae.tokenize(end)
    _warn_dropped_fragments(start, s_can, "start")
    _warn_dropped_fragments(end, e_can, "end")

    def end_point(smiles, can, ids):
        z, decoded, _ = anchor(vae, smiles, anchor_samples, invert_steps=invert_steps, seed=seed)
        return refine(vae, ids, z, can, refine_steps)[0] if refine_steps and decoded == can else z

    z_start = end_point(start, s_can, s_ids)
    # one molecule at both ends (in any spelling) has one anchor: searching it twice doubled the time
    z_end = z_start if e_can == s_can else end_point(end, e_can, e_ids)
    points = latent_path(z_start, z_end, steps, "slerp" if method == "geodesic" else method)
    if method == "geodesic":
        points = geodesic(vae, points, iterations=geodesic_iterations, progress=progress)
    smiles = vae.decode(points)
    t = np.linspace(0.0, 1.0, steps)
    if guide and steps > 2:
        smiles = _guided(vae, points, smiles, t, s_can, e_can, guide, guide_radius, seed)
    df = pd.DataFrame(
        {
            "step": np.arange(steps),
            "t": np.round(t, 6),
            "smiles": smiles,
            "tanimoto_to_start": tanimoto(s_can, smiles),
            "tanimoto_to_end": tanimoto(e_can, smiles),
        }
    )
    df = _with_properties(df)
    start_ok, end_ok = smiles[0] == s_can, smiles[-1] == e_can
    notes = [""] * steps
    notes[0] = "reconstructs start" if start_ok else f"does not reconstruct start {s_can}"
    notes[-1] = "reconstructs end" if end_ok else f"does not reconstruct end {e_can}"
    df["note"] = notes
    df.attrs.update(
        start=s_can,
        end=e_can,
        start_reconstructed=bool(start_ok),
        end_reconstructed=bool(end_ok),
        distinct=len({s for s in smiles if s}),
        method=method,
        guide=guide,
    )
    for side, ok, can, dec in (("start", start_ok, s_can, smiles[0]), ("end", end_ok, e_can, smiles[-1])):
        if not ok:
            log.debug("the model does not reconstruct the %s molecule %s (decodes to %s)", side, can, dec)
    return df


#: Latent points drawn per requested analogue before the most similar are kept. On the
#: default model, 250 instead of 25 raised the median Tanimoto of 20 analogues of 10
#: registry drugs from 0.29-0.52 to 0.42-0.72 (``benchmarks/exploration.py --pool 25``
#: against ``--pool 250``).
ANALOG_POOL = 250

#: Fewest latent points drawn for a query, whatever ``n``: a few analogues are still the
#: most similar of this many decodings. For 20 analogues (the default ``n``) this is 1,000
#: per analogue instead of 250; on 85 registry-drug queries it raised the number whose
#: median Tanimoto reaches 0.4 from 77 to 82 (median of the medians 0.53 to 0.60;
#: ``benchmarks/results/analogs/``), for about three times the decoding time.
ANALOG_POOL_MIN = 20_000


def analog_pool(n: int) -> int:
    """Latent points :func:`analogs` draws for ``n`` analogues by default.

    Parameters
    ----------
    n : int
        Analogues requested (a Python or numpy integer).

    Returns
    -------
    int
        ``max(ANALOG_POOL_MIN, ANALOG_POOL * n)``: 20,000 up to 80 analogues, 250 per
        analogue beyond.
    """
    return max(ANALOG_POOL_MIN, ANALOG_POOL * int(n))


#: Most latent points drawn and decoded at once by :func:`analogs` (bounds its memory:
#: the pool for a large ``n`` is drawn in pieces of this size).
ANALOG_CHUNK = 8192


def analogs(vae, query: str, n: int = 20, radius: float | None = DEFAULT_RADIUS, *, seed: int = 0, max_draws: int | None = None, pool: int | None = None, anchor_samples: int = ANCHOR_SAMPLES, invert_steps: int = INVERT_STEPS, refine_steps: int = REFINE_STEPS, progress=None) -> pd.DataFrame:
    """Molecules decoded from latent points around a query, most similar first.

    Points are ``z0 + radius * eps`` (eps ~ N(0, I)), or ``z0 + sigma * eps`` with the
    posterior standard deviation when ``radius`` is None, where ``z0`` is the query's
    :func:`anchor`, moved by :func:`refine` further into the region that decodes to the
    query when it decodes back to it; each is decoded greedily. ``pool`` points (default
    :func:`analog_pool`, ``max(20,000, 250 n)``) are drawn, then more until ``n`` distinct valid molecules
    other than the query are found, never more than ``max_draws`` in all (default the
    larger of ``50 n`` and ``pool``; a smaller ``max_draws`` cuts the pool short); the
    ``n`` most similar to the query are returned.

    Parameters
    ----------
    vae : MolVAE
    query : str
        SMILES. Common counterions and solvents are dropped; of a SMILES with other
        fragments left (a mixture), the largest is used and a warning is logged.
    n : int
        Analogues wanted.
    radius : float or None
        Scale of the latent noise (same units as the latent space); None for the
        posterior sigma.
    seed : int
        0 to :data:`molvae.vae.MAX_SEED` (2**63 - 1).
    max_draws, pool : int, optional
        Most latent points decoded, and how many to decode before stopping at ``n``
        analogues; each >= 1.
    anchor_samples : int
        Posterior samples tried for the centre (see :func:`anchor`), 0 to
        :data:`MAX_ANCHOR_SAMPLES`; 0 centres on the posterior mean.
    invert_steps : int
        Most gradient steps of latent inversion for the centre; 0 skips it.
    refine_steps : int
        Gradient steps of :func:`refine` once the centre decodes to the query, an integer
        >= 0; 0 draws around the anchor itself.
    progress : callable, optional
        Called as ``progress(draws_done, draws_planned)`` after each piece of at most
        :data:`ANALOG_CHUNK` points.

    Returns
    -------
    DataFrame
        ``rank, smiles, tanimoto, qed, logp, sa, mw, count`` (count: draws that gave the
        molecule), best first by Tanimoto to the query; ``attrs`` holds ``query`` (the
        standardized query), ``draws`` (int), ``radius`` (float, or the string
        ``'posterior sigma'`` when ``radius`` is None), ``centre`` (the decoding of the
        anchor the points are drawn around; '' if invalid), ``query_reconstructed``
        (bool: ``centre`` is the query) and ``refined`` (bool: :func:`refine` moved the
        centre).

    Raises
    ------
    InvalidMoleculeError, UnknownTokenError, SequenceTooLongError
        When the query cannot be encoded; UnknownTokenError also when a fragment other
        than a common counterion has tokens outside the alphabet.
    ValueError
        If ``n`` is not an integer from 1 to :data:`MAX_ANALOGS`, ``max_draws`` or
        ``pool`` is not an integer >= 1, ``radius`` is not a
        number in (0, :data:`MAX_RADIUS`], ``anchor_samples`` is not in 0..:data:`MAX_ANCHOR_SAMPLES`,
        ``invert_steps`` or ``refine_steps`` is not an integer >= 0, or ``seed`` is not an integer from 0 to
        :data:`molvae.vae.MAX_SEED`.
    """
    if not is_integer(n) or not 1 <= n <= MAX_ANALOGS:
        raise ValueError(f"n must be an integer from 1 to {MAX_ANALOGS:,}, got {n!r}")
    if radius is not None:
        _check_radius(radius, "radius")
    for name, value in (("max_draws", max_draws), ("pool", pool)):  # 0 meant the default, -5 no analogues
        if value is not None and (not is_integer(value) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    _check_anchor_samples(anchor_samples)
    _check_count(invert_steps, "invert_steps")
    _check_count(refine_steps, "refine_steps")
    seed = check_seed(seed)  # as an int
    # Python numbers from here on: ANALOG_POOL * n overflowed for a numpy int8 or uint8 n
    # (an OverflowError, or silently fewer draws), and attrs kept numpy scalars
    n, anchor_samples, invert_steps, refine_steps = int(n), int(anchor_samples), int(invert_steps), int(refine_steps)
    pool, max_draws = (None if v is None else int(v) for v in (pool, max_draws))
    radius = None if radius is None else float(radius)
    _check_covered(vae, query)
    q_can, ids = vae.tokenize(query)
    _warn_dropped_fragments(query, q_can, "query")
    centre, centre_decodes, _ = anchor(vae, query, anchor_samples, invert_steps=invert_steps, seed=seed)
    refined = False
    if centre_decodes == q_can and refine_steps:
        centre, refined = refine(vae, ids, centre, q_can, refine_steps)
    if radius is None:
        scale = np.exp(0.5 * vae.try_encode([query], return_logvar=True)[1][0])
    else:
        scale = np.full(vae.d_z, radius, dtype=np.float32)
    pool = analog_pool(n) if pool is None else pool
    max_draws = max_draws or max(50 * n, pool)
    gen = torch.Generator().manual_seed(seed)
    counts: dict[str, int] = {}
    draws = 0
    while draws < max_draws and (draws < pool or len([s for s in counts if s != q_can]) < n):
        # the pool (in pieces of ANALOG_CHUNK), then top-ups of 4 n until n distinct analogues are found
        batch = min(pool - draws if draws < pool else max(4 * n, 64), max_draws - draws, ANALOG_CHUNK)
        eps = torch.randn((batch, vae.d_z), generator=gen).numpy()
        z = centre[None, :] + scale[None, :] * eps
        for s in vae.decode(z):
            if s:
                counts[s] = counts.get(s, 0) + 1
        draws += batch
        if progress is not None:
            progress(draws, max(pool, draws))
    found = [s for s in counts if s != q_can]
    if len(found) < n:
        log.warning("found %d distinct analogues of %s in %d draws (asked for %d)", len(found), q_can, draws, n)
    sims = tanimoto(q_can, found)
    order = np.lexsort((np.arange(len(found)), -sims))[:n]
    # dtypes given, so that a table without analogues has those of one with (smiles and count were float64)
    df = pd.DataFrame(
        {
            "smiles": pd.Series([found[i] for i in order], dtype=str),
            "tanimoto": pd.Series(sims[order], dtype=np.float64),
            "count": pd.Series([counts[found[i]] for i in order], dtype=np.int64),
        }
    )
    df.insert(0, "rank", np.arange(1, len(df) + 1))
    df = _with_properties(df)
    df = df[["rank", "smiles", "tanimoto", *_PROPS, "count"]]
    df.attrs.update(query=q_can, draws=int(draws), radius=radius if radius is not None else "posterior sigma", centre=centre_decodes, query_reconstructed=centre_decodes == q_can, refined=refined)
    return df
