"""``MolVAE``: a trained model with its alphabet, as users meet it.

>>> from molvae import MolVAE
>>> vae = MolVAE.load()                      # the shipped default model
>>> z = vae.encode(["Nc1cccc2c(C(=O)N3CCOCC3)nccc12"])  # (1, d_z) posterior means
>>> vae.decode(z)                             # ['Nc1cccc2c(C(=O)N3CCOCC3)nccc12']: reconstructed
>>> vae.sample(5, seed=0)                     # five SMILES from the prior
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import selfies as sf
import torch
from rdkit import Chem

from molvae.alphabet import Alphabet, AlphabetError
from molvae.checks import MAX_SEED, check_seed, is_integer, real_array
from molvae.chem import InvalidMoleculeError, as_smiles_list, quiet_rdkit, smiles_hash, to_mol
from molvae.checkpoint import CheckpointError, load_checkpoint, unpack_hashes
from molvae.data import RowError, to_selfies
from molvae.model import SequenceVAE, VAEConfig

__all__ = ["MolVAE", "default_model_path", "DEFAULT_TEMPERATURE", "MIN_TEMPERATURE", "MAX_SEED", "check_temperature", "check_seed"]

log = logging.getLogger(__name__)


#: Decoder temperature of :meth:`MolVAE.sample` and ``molvae generate`` when none is given:
#: greedy decoding of each latent draw. On the default model (10,000 prior draws) it gives
#: FCD 1.77 to MOSES test against 3.04 when tokens are sampled at temperature 1, with
#: uniqueness 0.9996 and novelty 0.96 (benchmarks/results/generation.json, generation_t1.json).
DEFAULT_TEMPERATURE = 0.0

#: Smallest positive decoder temperature. The sampler divides float32 logits by the
#: temperature; far below this they overflow to infinity and the softmax gives NaN.
MIN_TEMPERATURE = 1e-30


def check_temperature(temperature: float) -> None:
    """Refuse a temperature that is not 0 (greedy) or a finite number >= :data:`MIN_TEMPERATURE`.

    Raises
    ------
    TypeError
        Not a real number: a bool (``True`` was taken as 1), a string, None.
    ValueError
        Negative, NaN, infinite, or positive but below :data:`MIN_TEMPERATURE`.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a real number, got {type(temperature).__name__} {temperature!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature}")
    if 0 < temperature < MIN_TEMPERATURE:
        raise ValueError(f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE:g}, got {temperature}")


def default_model_path() -> Path:
    """Path of the default model shipped inside the package (``molvae/assets/default.pt``)."""
    return Path(str(resources.files("molvae") / "assets" / "default.pt"))


#: Molecules whose stereo removal :meth:`MolVAE.tokenize` remembers having logged (so that
#: one query tokenized several times logs once, without growing with a large input file).
_STEREO_LOG_MEMORY = 10_000

#: Most molecules of one batch whose stereo removal is logged one line each; beyond, one
#: line counts them.
_STEREO_LINES = 3


def _selfies_to_mol(selfies_string: str):
    """Decode one SELFIES string: ``(canonical SMILES, RDKit Mol)``, or ``('', None)``.

    Call inside :func:`molvae.chem.quiet_rdkit`.
    """
    try:
        smi = sf.decoder(selfies_string) if selfies_string else ""
    except sf.DecoderError:
        smi = ""
    mol = to_mol(smi) if smi else None
    canonical = Chem.MolToSmiles(mol) if mol is not None else ""
    return (canonical, mol) if canonical else ("", None)


def _selfies_to_smiles(selfies_strings: Sequence[str]) -> list[str]:
    """Decode SELFIES and canonicalize with RDKit; '' where no valid molecule results."""
    with quiet_rdkit():
        return [_selfies_to_mol(s)[0] for s in selfies_strings]


def _writable(array: np.ndarray) -> np.ndarray:
    """``array``, copied if it is read-only.

    torch warns ("The given NumPy array is not writable ...") when a tensor shares a
    read-only array's memory: a DataFrame's ``to_numpy()`` under copy-on-write, a
    memory-mapped ``np.load``, ``np.broadcast_to``.
    """
    return array if array.flags.writeable else array.copy()


def _check_optional_parts(ckpt: dict, d_z: int, path: Path) -> None:
    """Refuse a model file whose training-set hashes or fitted latent density are broken.

    Raises
    ------
    CheckpointError
        Naming ``train_hashes`` or ``latent_density``: without this check such a file
        loaded, and novelty or ``generate --latent fitted`` failed later with a traceback.
    """
    try:
        unpack_hashes(ckpt.get("train_hashes"))
    except Exception as exc:  # a str, a dict without its keys, a tensor of another type ...
        raise CheckpointError(f"{path} has unreadable train_hashes ({type(exc).__name__})") from None
    density = ckpt.get("latent_density")
    if density is None:
        return
    try:
        means = np.asarray(density["means"], dtype=np.float64)
        chol = np.asarray(density["cholesky"], dtype=np.float64)
        weights = np.asarray(density["weights"], dtype=np.float64)
        k = len(weights)
        ok = (
            weights.shape == (k,) and k >= 1 and means.shape == (k, d_z) and chol.shape == (k, d_z, d_z)
            and np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0
            and np.isfinite(means).all() and np.isfinite(chol).all()
        )
    except Exception as exc:  # not a dict, a missing key, values that are not numbers
        raise CheckpointError(f"{path} has an unreadable latent_density ({type(exc).__name__}: {str(exc).splitlines()[0][:100] if str(exc) else ''})") from None
    if not ok:
        raise CheckpointError(
            f"{path} has a latent_density that does not fit the model: means {means.shape}, cholesky {chol.shape}, "
            f"weights {weights.shape} (d_z = {d_z}; weights must be finite, >= 0, not all 0)"
        )


class MolVAE:
    """A trained SELFIES GRU-VAE.

    Use :meth:`load` to build one. Latent arrays are ``numpy`` arrays of shape
    ``(n, d_z)``, ``float32``.

    Attributes
    ----------
    model : SequenceVAE
    alphabet : Alphabet
    checkpoint : dict
        The model file's metadata (``training``, ``hparams`` ...), without the weights.
    path : Path or None
    """

    def __init__(self, model: SequenceVAE, alphabet: Alphabet, checkpoint: dict | None = None, path: Path | None = None):
        self.model = model.eval()
        self.alphabet = alphabet
        self.checkpoint = {k: v for k, v in (checkpoint or {}).items() if k not in ("state_dict", "train_hashes")}
        self.train_hashes = unpack_hashes((checkpoint or {}).get("train_hashes"))
        self.path = path
        self._stereo_logged: set[str] = set()  # molecules whose stereo removal was logged (bounded)
        self.alphabet.set_constraints()

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> MolVAE:
        """Load a model file, or the shipped default model when ``path`` is None.

        Parameters
        ----------
        path : path-like, optional

        Returns
        -------
        MolVAE

        Raises
        ------
        CheckpointError
            Missing, truncated, foreign or newer-version file (one-line message).
        """
        p = Path(path) if path is not None else default_model_path()
        ckpt = load_checkpoint(p)
        try:
            config = VAEConfig(**ckpt["hparams"])
            model = SequenceVAE(config)
            model.load_state_dict(ckpt["state_dict"])
            alphabet = Alphabet.from_dict(ckpt["alphabet"])
        except (TypeError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{p} has inconsistent contents ({str(exc).splitlines()[0][:200]})") from None
        if len(alphabet) != config.vocab_size:
            raise CheckpointError(f"{p}: alphabet has {len(alphabet)} tokens, model expects {config.vocab_size}")
        _check_optional_parts(ckpt, config.d_z, p)
        return cls(model, alphabet, ckpt, p)

    @property
    def d_z(self) -> int:
        """Latent dimension."""
        return self.model.config.d_z

    @property
    def max_length(self) -> int:
        """Maximum number of SELFIES tokens."""
        return self.alphabet.max_length

    # ------------------------------------------------------------------ tokens
    def tokenize(self, smiles: str) -> tuple[str, list[int]]:
        """Standardize a molecule and write it in the model's alphabet.

        Stereochemistry is removed (and logged, once per molecule) when the alphabet has no
        stereo tokens; :meth:`encode` and :meth:`try_encode` log a batch of more than
        three such molecules as one line that counts them.

        Returns
        -------
        canonical : str
        ids : list of int

        Raises
        ------
        InvalidMoleculeError
            RDKit or selfies cannot read the molecule.
        UnknownTokenError
            A token is not in the alphabet (the error names it and the molecule).
        SequenceTooLongError
            More tokens than ``max_length``.
        """
        return self._tokenize(smiles, None)

    def _tokenize(self, smiles: str, stereo_removed: list[str] | None) -> tuple[str, list[int]]:
        """:meth:`tokenize`; with a list, molecules whose stereo was removed are appended
        to it instead of logged (a batch logs them together: :meth:`_log_stereo`)."""
        remove_stereo = not self.alphabet.has_stereo
        canonical, s = to_selfies(smiles, remove_stereo=remove_stereo)
        if remove_stereo and ("@" in smiles or "/" in smiles or "\\" in smiles):
            if stereo_removed is not None:
                stereo_removed.append(smiles)
            else:
                self._log_stereo([smiles])
        return canonical, self.alphabet.encode(s, molecule=smiles)

    def _log_stereo(self, molecules: list[str], total: int | None = None) -> None:
        """Log stereo removal: one line per molecule not logged before, or, for more than
        :data:`_STEREO_LINES` new ones (a batch), one line that counts them."""
        new = [m for m in dict.fromkeys(molecules) if m not in self._stereo_logged]
        if len(self._stereo_logged) + len(new) > _STEREO_LOG_MEMORY:  # a large input file: forget, do not grow
            self._stereo_logged.clear()
        self._stereo_logged.update(new[:_STEREO_LOG_MEMORY])
        if len(new) > _STEREO_LINES:
            of = f" of {total}" if total is not None else ""
            log.info("stereochemistry removed from %d%s molecules (the model has no stereo tokens), first %s", len(new), of, new[0])
            return
        for m in new:
            log.info("stereochemistry removed from %s (the model has no stereo tokens)", m)

    def coverage(self, smiles: str) -> list[str]:
        """SELFIES tokens of a molecule that the alphabet lacks (empty list if covered).

        Raises
        ------
        InvalidMoleculeError
        """
        _, s = to_selfies(smiles, remove_stereo=not self.alphabet.has_stereo)
        return self.alphabet.uncovered_tokens(s)

    # ------------------------------------------------------------------ encode
    @torch.inference_mode()
    def _encode_ids(self, ids: list[list[int]], batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        mu_out = np.zeros((len(ids), self.d_z), dtype=np.float32)
        lv_out = np.zeros((len(ids), self.d_z), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            L = max(len(ids[i]) for i in chunk)
            x = torch.zeros((len(chunk), L), dtype=torch.long)
            for r, i in enumerate(chunk):
                x[r, : len(ids[i])] = torch.tensor(ids[i])
            lengths = torch.tensor([len(ids[i]) for i in chunk])
            mu, logvar = self.model.encode(x, lengths)
            mu_out[chunk] = mu.float().numpy()
            lv_out[chunk] = logvar.float().numpy()
        return mu_out, lv_out

    def try_encode(self, smiles: Sequence[str], *, return_logvar: bool = False):
        """Encode many molecules, reporting failures per row instead of raising.

        Parameters
        ----------
        smiles : str or sequence of str, length n
            A single string is one molecule (n = 1).
        return_logvar : bool
            Also return the posterior log-variances.

        Returns
        -------
        mu : ndarray, shape (n, d_z), float32
            Posterior means; rows of molecules that failed are NaN.
        logvar : ndarray, shape (n, d_z), float32
            Only when ``return_logvar``; NaN rows as in ``mu``.
        errors : list of RowError
            ``row`` is the 0-based index in ``smiles``.

        Raises
        ------
        TypeError
            If ``smiles`` is neither a string nor an iterable (None, a number), as
            :meth:`encode`.
        """
        smiles = as_smiles_list(smiles, "try_encode")
        ids, rows, errors, stereo = [], [], [], []
        for i, s in enumerate(smiles):
            try:
                ids.append(self._tokenize(s, stereo)[1])
                rows.append(i)
            except (InvalidMoleculeError, AlphabetError) as exc:
                errors.append(RowError(i, str(s), getattr(exc, "reason", None) or str(exc)))
        self._log_stereo(stereo, len(smiles))
        mu = np.full((len(smiles), self.d_z), np.nan, dtype=np.float32)
        logvar = mu.copy()
        if ids:
            m, lv = self._encode_ids(ids)
            mu[rows], logvar[rows] = m, lv
        return (mu, logvar, errors) if return_logvar else (mu, errors)

    def encode(self, smiles: str | Sequence[str]) -> np.ndarray:
        """Posterior means of molecules.

        Parameters
        ----------
        smiles : str or sequence of str, length n

        Returns
        -------
        ndarray, shape (n, d_z), float32
            Row ``i`` is molecule ``i`` (a pandas Series is taken by position); ``(0,
            d_z)`` for no molecules.

        Raises
        ------
        InvalidMoleculeError, UnknownTokenError, SequenceTooLongError
            For the first molecule that cannot be encoded (use :meth:`try_encode` to get
            per-row reports instead).
        TypeError
            If ``smiles`` is neither a string nor an iterable (None, a number).
        """
        smiles = as_smiles_list(smiles, "encode")
        stereo: list[str] = []
        ids = [self._tokenize(s, stereo)[1] for s in smiles]
        self._log_stereo(stereo, len(smiles))
        return self._encode_ids(ids)[0] if ids else np.zeros((0, self.d_z), dtype=np.float32)

    # ------------------------------------------------------------------ decode
    @torch.inference_mode()
    def decode_selfies(self, z, *, temperature: float = 0.0, seed: int | None = None, generator: torch.Generator | None = None, batch_size: int = 2048) -> list[str]:
        """Decode latent points to SELFIES strings (no RDKit).

        Parameters
        ----------
        z : array-like or torch.Tensor, shape (n, d_z) or (d_z,)
            Latent points, any real dtype (cast to float32); a 1-D array is one point.
        temperature : float
            0: greedy; > 0: sampling from ``softmax(logits / temperature)``.
        seed : int, optional
            Seeds the sampling generator (ignored when ``generator`` is given), 0 to
            :data:`MAX_SEED`.
        generator : torch.Generator, optional
        batch_size : int
            Latent points decoded at once, an integer >= 1. Greedy output (temperature
            0) does not depend on it; sampled output does: each step draws the tokens of
            a whole batch from ``generator``, so the same seed gives other tokens with
            another ``batch_size`` (or when a point is decoded with other points).

        Returns
        -------
        list of str, length n

        Raises
        ------
        ValueError
            If ``z`` does not have shape ``(n, d_z)``, holds NaN or infinite values (also
            after the cast to float32: ``1e39`` is infinite there), or ``temperature`` is
            negative, not finite, or below :data:`MIN_TEMPERATURE` but not 0, ``seed``
            is refused by :func:`check_seed`, or ``batch_size`` is not an integer >= 1.
        TypeError
            If ``z`` holds complex numbers, booleans, text or other objects
            (:func:`molvae.checks.real_array`), or ``temperature`` is not a real number
            (a bool, a string).
        """
        check_temperature(temperature)
        if not is_integer(batch_size) or batch_size < 1:  # -5 decoded nothing and returned [], 0 failed in range()
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if seed is not None:
            seed = check_seed(seed)  # as an int
        z = torch.as_tensor(_writable(real_array(z, np.float32)))  # complex, text or booleans were cast silently
        given = tuple(z.shape)  # named in the error: decode([]) reported the reshaped (1, 0)
        if z.ndim == 1:
            z = z.unsqueeze(0)
        if z.ndim != 2 or z.shape[1] != self.d_z:
            raise ValueError(f"latent points must have shape (n, {self.d_z}) or ({self.d_z},), got {given}")
        if torch.isnan(z).any():
            raise ValueError("latent points contain NaN")
        if torch.isinf(z).any():
            raise ValueError("latent points contain infinite values (|z| beyond float32's range counts as infinite)")
        if generator is None and temperature > 0:
            generator = torch.Generator().manual_seed(0 if seed is None else seed)
        out: list[str] = []
        for start in range(0, z.shape[0], batch_size):
            tokens = self.model.sample_tokens(z[start : start + batch_size], temperature=temperature, generator=generator)
            out.extend(self.alphabet.decode(row) for row in tokens.tolist())
        return out

    def decode(self, z, *, temperature: float = 0.0, seed: int | None = None) -> list[str]:
        """Decode latent points to canonical SMILES.

        Parameters
        ----------
        z : array-like or torch.Tensor, shape (n, d_z) or (d_z,)
            Latent points, any real dtype (cast to float32); a 1-D array is one point.
        temperature : float
            0 (default): greedy decoding; > 0: sampling.
        seed : int, optional
            Seeds the token sampling, 0 to :data:`MAX_SEED`. The tokens of all ``n``
            points come from one stream, so a point decoded with others gets other tokens
            than alone (greedy decoding, the default, is the same either way).

        Returns
        -------
        list of str, length n
            RDKit canonical SMILES; ``''`` where the decoded SELFIES gives no molecule.

        Raises
        ------
        ValueError
            Wrong shape, NaN or infinite values in ``z``, a ``temperature`` that is
            negative, not finite, or below :data:`MIN_TEMPERATURE` but not 0, or a
            ``seed`` refused by :func:`check_seed`.
        TypeError
            If ``z`` holds complex numbers, booleans, text or other objects, or
            ``temperature`` is not a real number.
        """
        return _selfies_to_smiles(self.decode_selfies(z, temperature=temperature, seed=seed))

    # ------------------------------------------------------------------ sample
    @property
    def latent_density(self) -> dict | None:
        """The Gaussian mixture fitted to training latents, if the model file has one."""
        return self.checkpoint.get("latent_density")

    def sample_latent(self, n: int, *, seed: int = 0, latent: str = "prior") -> np.ndarray:
        """Draw ``n`` latent points.

        Parameters
        ----------
        n : int
            0 to :data:`molvae.generation.MAX_MOLECULES` (10,000,000).
        seed : int
            0 to :data:`MAX_SEED` (2**63 - 1).
        latent : {"prior", "fitted"}
            ``prior``: N(0, I) (default). ``fitted``: the Gaussian mixture fitted to
            training-set posterior means (see :mod:`molvae.density`).

        Returns
        -------
        ndarray, shape (n, d_z), float32

        Raises
        ------
        ValueError
            ``n`` not an integer from 0 to ``MAX_MOLECULES``, ``seed`` refused by
            :func:`check_seed`, unknown ``latent``, or ``fitted`` on a model file without
            a fitted density.
        """
        from molvae.generation import MAX_MOLECULES

        if not is_integer(n) or n < 0:
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        if n > MAX_MOLECULES:  # a huge n ran out of memory (or decoded for days)
            raise ValueError(f"n must be at most {MAX_MOLECULES:,} (MAX_MOLECULES; split larger jobs over seeds), got {n:,}")
        seed = check_seed(seed)  # as an int
        if latent == "prior":
            g = torch.Generator().manual_seed(seed)
            return torch.randn((n, self.d_z), generator=g).numpy()
        if latent == "fitted":
            if self.latent_density is None:
                raise ValueError("this model file has no fitted latent density (add one with `molvae fit-density`)")
            from molvae.density import sample_density

            return sample_density(self.latent_density, n, seed=seed)
        raise ValueError(f"unknown latent source {latent!r}: use prior or fitted")

    def sample(self, n: int, *, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, latent: str = "prior") -> list[str]:
        """Sample molecules: z ~ N(0, I) (or the fitted density), then decode.

        Parameters
        ----------
        n : int
            Number of draws (duplicates and invalid draws are kept; see
            :func:`molvae.generation.generate` for unique valid molecules).
        temperature : float
            Decoder temperature; 0 (the default) means greedy, 1 samples tokens from the
            decoder's distribution.
        seed : int
            0 to :data:`MAX_SEED` (2**63 - 1).
        latent : {"prior", "fitted"}
            Where latent points come from (see :meth:`sample_latent`).

        Returns
        -------
        list of str, length n
            Canonical SMILES, ``''`` for invalid draws.

        Raises
        ------
        ValueError
            As :meth:`sample_latent` (``n`` not from 0 to
            :data:`molvae.generation.MAX_MOLECULES`, ``seed`` not from 0 to
            :data:`MAX_SEED`, unknown ``latent``), or a ``temperature`` refused by
            :func:`check_temperature`.
        TypeError
            A ``temperature`` that is not a real number (a bool, a string).
        """
        return self.decode(self.sample_latent(n, seed=seed, latent=latent), temperature=temperature, seed=seed)

    # ------------------------------------------------------------------ exploration
    def interpolate(self, start: str, end: str, steps: int = 10, method: str = "slerp"):
        """Decode a latent path between two molecules (SMILES or registry drug names).

        Parameters
        ----------
        start, end : str
            SMILES or names of drugs in :mod:`molvae.drugs` (case-insensitive, synonyms).
        steps : int
            Points including both ends, 2 to
            :data:`molvae.interpolation.MAX_STEPS` (100,000).
        method : {"slerp", "linear", "geodesic"}
            ``"geodesic"`` bends the spherical path towards a geodesic of the decoder
            (:func:`molvae.interpolation.geodesic`; at most 1,000 steps).

        Returns
        -------
        DataFrame
            ``step, t, smiles, tanimoto_to_start, tanimoto_to_end, qed, logp, sa, mw,
            note``; see :func:`molvae.interpolation.interpolate`.

        Raises
        ------
        UnknownDrugError
            Neither a drug name nor a valid SMILES.
        InvalidMoleculeError
            A molecule RDKit reads but SELFIES cannot encode (``*C``).
        UnknownTokenError
            A molecule has tokens outside the model's alphabet (named in the message),
            in any fragment other than a common counterion (cisplatin's platinum).
        SequenceTooLongError
            A molecule has more SELFIES tokens than the model's maximum length.
        ValueError
            ``steps`` not an integer from 2 to 100,000 (1,000 for ``"geodesic"``), or an
            unknown ``method``.
        """
        from molvae.drugs import resolve_molecule
        from molvae.interpolation import interpolate

        return interpolate(self, resolve_molecule(start)[0], resolve_molecule(end)[0], steps, method)

    def analogs(self, smiles: str, n: int = 20, radius: float | None = 0.5, *, seed: int = 0):
        """Distinct molecules decoded around a molecule's encoding, most similar first.

        Parameters
        ----------
        smiles : str
            SMILES or registry drug name.
        n : int
            Distinct molecules wanted, 1 to :data:`molvae.interpolation.MAX_ANALOGS`
            (1,000,000).
        radius : float or None
            Latent noise scale; None for the posterior sigma.
        seed : int
            0 to :data:`MAX_SEED` (2**63 - 1).

        Returns
        -------
        DataFrame
            ``rank, smiles, tanimoto, qed, logp, sa, mw, count``; see
            :func:`molvae.interpolation.analogs`. Fewer than ``n`` rows (a warning is
            logged) when the draws give fewer distinct molecules.

        Raises
        ------
        UnknownDrugError
            Neither a drug name nor a valid SMILES.
        InvalidMoleculeError
            A molecule RDKit reads but SELFIES cannot encode (``*C``).
        UnknownTokenError
            The molecule has tokens outside the model's alphabet, in any fragment other
            than a common counterion.
        SequenceTooLongError
            More SELFIES tokens than the model's maximum length.
        ValueError
            ``n`` not an integer from 1 to :data:`molvae.interpolation.MAX_ANALOGS`,
            ``radius`` not a number in (0, 1e30], or ``seed`` not an integer from 0 to
            :data:`MAX_SEED`.
        """
        from molvae.drugs import resolve_molecule
        from molvae.interpolation import analogs

        return analogs(self, resolve_molecule(smiles)[0], n, radius, seed=seed)

    # ------------------------------------------------------------------ property head
    @property
    def property_names(self) -> list[str]:
        """Properties predicted by the model's property head (empty without a head)."""
        if not self.model.config.n_properties:
            return []
        return list(self.checkpoint.get("training", {}).get("properties", {}).get("names", []))

    def predict_properties(self, z) -> dict[str, np.ndarray]:
        """The property head's predictions at latent points, in the properties' units.

        The head was trained jointly with the VAE on standardized labels (Gómez-Bombarelli
        et al. 2018); predictions are mapped back with the stored label mean and standard
        deviation. They are estimates, not RDKit values.

        Parameters
        ----------
        z : array-like, shape (n, d_z) or (d_z,)
            Latent points (one point for a 1-D array). Rows with NaN or infinite values
            (as :meth:`try_encode` gives for molecules it could not encode, or ``|z|``
            beyond float32's range) give NaN predictions.

        Returns
        -------
        dict of str to ndarray, shape (n,), float64
            One entry per name in :attr:`property_names` (empty without a head); NaN for
            rows that are not finite.

        Raises
        ------
        ValueError
            If ``z`` does not have shape ``(n, d_z)`` or ``(d_z,)`` (one point).
        TypeError
            If ``z`` holds complex numbers, booleans, text or other objects.
        """
        names = self.property_names
        z = real_array(z, np.float32)
        given = z.shape  # named in the error: predict_properties([]) reported the reshaped (1, 0)
        if z.ndim == 1:
            z = z[None, :]
        if z.ndim != 2 or z.shape[1] != self.d_z:
            raise ValueError(f"latent points must have shape (n, {self.d_z}) or ({self.d_z},), got {given}")
        if not names:  # checked first: without a head any z, "text" or a wrong shape, gave {}
            return {}
        stats = self.checkpoint["training"]["properties"]
        with torch.no_grad():
            pred = self.model.property_head(torch.from_numpy(_writable(z))).double().numpy()
        pred = pred * np.asarray(stats["std"], dtype=float) + np.asarray(stats["mean"], dtype=float)
        # an infinite coordinate gave +-inf (a linear head) or a saturated finite value (tanh)
        pred[~np.isfinite(z).all(axis=1)] = np.nan
        return {n: pred[:, i] for i, n in enumerate(names)}

    # ------------------------------------------------------------------ training set
    def is_novel(self, canonical: str | Sequence[str]) -> np.ndarray:
        """Whether each canonical SMILES is absent from the model's training set.

        Uses the 48-bit hashes stored in the model file (false "seen" rate about
        n_train / 2^48).

        Parameters
        ----------
        canonical : str or sequence of str, length n
            RDKit canonical SMILES (as :meth:`decode` gives them); a single string is one
            molecule. ``''`` (no molecule, as :meth:`decode` gives for an invalid point)
            is not novel.

        Returns
        -------
        ndarray of bool, shape (n,)
            All True for the molecules when the model file carries no training-set hashes.

        Raises
        ------
        TypeError
            If ``canonical`` is neither a string nor an iterable (None, a number), or an
            entry is not a string (None, a number): it gave a bare AttributeError.
        """
        canonical = as_smiles_list(canonical, "is_novel")
        for i, c in enumerate(canonical):
            if not isinstance(c, str):
                raise TypeError(f"is_novel takes canonical SMILES strings; entry {i} is {type(c).__name__}")
        molecule = np.fromiter((bool(c) for c in canonical), dtype=bool, count=len(canonical))
        if self.train_hashes.size == 0:
            return molecule
        h = np.fromiter((smiles_hash(c) for c in canonical), dtype=np.int64, count=len(canonical))
        pos = np.searchsorted(self.train_hashes, h)
        pos = np.clip(pos, 0, self.train_hashes.size - 1)
        return (self.train_hashes[pos] != h) & molecule

    def __repr__(self) -> str:
        t = self.checkpoint.get("training", {})
        init = t.get("initialized_from")
        # a fine-tuning run counts its own steps; say where it started (the model card has the full history)
        steps = f"{t.get('steps')} (fine-tuned from {init.get('file')})" if isinstance(init, dict) else t.get("steps")
        return f"MolVAE(d_z={self.d_z}, tokens={len(self.alphabet)}, max_length={self.max_length}, steps={steps}, path={self.path})"
