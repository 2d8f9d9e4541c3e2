"""The sequence VAE: bidirectional GRU encoder, GRU decoder conditioned on the latent.

Architecture after Gómez-Bombarelli et al. 2018 (ACS Cent. Sci. 4, 268) with recurrent
encoder and decoder as in the MOSES VAE baseline (Polykovskiy et al. 2020):

``tokens (batch, L) -> embedding -> bi-GRU -> [h_fwd; h_bwd] -> mu, log sigma^2 (batch, d_z)``
``z = mu + sigma * eps``; the decoder GRU starts from ``tanh(W z)`` and reads
``[embedding(previous token); z]`` at every step (teacher forcing during training).

This module knows nothing of RDKit or SELFIES strings: it works on token ids.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["VAEConfig", "SequenceVAE", "decode_dtype", "native_bf16", "DECODE_PRECISION_ENV"]

#: Environment variable that pins the precision of decoding's matrix products: ``bf16``,
#: ``fp32`` or ``auto`` (the default, see :func:`decode_dtype`).
DECODE_PRECISION_ENV = "MOLVAE_DECODE_PRECISION"


def native_bf16(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` multiplies bf16 matrices in hardware.

    On the CPU: AVX512-BF16 or AMX, as PyTorch's own CPU feature checks report them
    (``torch.cpu._is_avx512_bf16_supported``, ``torch.cpu._is_amx_tile_supported``).
    Without them PyTorch emulates bf16 products, several times slower than float32 (about
    6.5x for the default model's decoder on an AVX2 CPU: ``benchmarks/generate_stages.py``).
    On CUDA: ``torch.cuda.is_bf16_supported()``. Other devices: False.

    Parameters
    ----------
    device : torch.device or str

    Returns
    -------
    bool
    """
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        except (RuntimeError, AssertionError):  # a build or driver without CUDA
            return False
    if device.type != "cpu":
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def decode_dtype(device: torch.device | str = "cpu") -> torch.dtype:
    """Precision of the recurrent matrix products when decoding on ``device``.

    ``bf16`` where the device has it in hardware (:func:`native_bf16`), as in bf16
    training; ``float32`` elsewhere. The environment variable
    :data:`DECODE_PRECISION_ENV` (``MOLVAE_DECODE_PRECISION=bf16|fp32|auto``) pins it, for
    example to reproduce on one machine a file written on another: the two precisions
    decode about 95% of the default model's prior draws to the same tokens, not all.

    Parameters
    ----------
    device : torch.device or str

    Returns
    -------
    torch.dtype
        ``torch.bfloat16`` or ``torch.float32``.

    Raises
    ------
    ValueError
        If the environment variable holds anything but ``bf16``, ``fp32`` or ``auto``.
    """
    setting = os.environ.get(DECODE_PRECISION_ENV, "auto").strip().lower()
    if setting == "bf16":
        return torch.bfloat16
    if setting == "fp32":
        return torch.float32
    if setting not in ("auto", ""):
        raise ValueError(f"{DECODE_PRECISION_ENV} must be bf16, fp32 or auto, got {setting!r}")
    return torch.bfloat16 if native_bf16(device) else torch.float32



#: Fewest rows given to a matrix product while decoding. CPU GEMM kernels take other
#: paths (other summation orders) for a handful of rows, so without padding a point could
#: decode differently alone than in a batch (a bf16 near-tie of two tokens; 3 of 1,000
#: points on the default model); padded to 16 rows, each point's tokens are the same in
#: any batch (``tests/unit/test_model.py``).
MIN_ROWS = 16


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` computed on at least :data:`MIN_ROWS` rows (zero rows appended, then cut)."""
    m = a.shape[0]
    if m >= MIN_ROWS:
        return torch.mm(a, b)
    return torch.mm(torch.cat([a, a.new_zeros(MIN_ROWS - m, a.shape[1])]), b)[:m]


def _linear(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)`` for a 2-d ``x`` (``addmm``, as ``nn.Linear``), computed on at least :data:`MIN_ROWS` rows."""
    m = x.shape[0]
    if m < MIN_ROWS:
        x = torch.cat([x, x.new_zeros(MIN_ROWS - m, x.shape[1])])
    return torch.addmm(layer.bias, x, layer.weight.T)[:m]

@dataclass
class VAEConfig:
    """Hyperparameters of :class:`SequenceVAE` (all plain numbers, stored in checkpoints).

    Parameters
    ----------
    vocab_size : int
        Number of tokens including ``<pad>``, ``<start>``, ``<end>`` (ids 0, 1, 2).
    max_length : int
        Maximum number of SELFIES tokens of a molecule (without start/end).
    d_emb : int
        Token embedding size.
    enc_hidden : int
        Hidden size of each direction of the encoder GRU.
    enc_layers : int
        Encoder GRU layers.
    dec_hidden : int
        Decoder GRU hidden size.
    dec_layers : int
        Decoder GRU layers.
    d_z : int
        Latent dimension.
    dropout : float
        Dropout between stacked GRU layers (only used when layers > 1).
    n_properties : int
        Outputs of the property head (0: no head). The head predicts standardized
        molecular properties from ``z`` during joint training (Gómez-Bombarelli et al.
        2018), which arranges the latent space by those properties.
    property_hidden : int
        Hidden units of the property head; 0 makes it linear.
    """

    vocab_size: int
    max_length: int
    d_emb: int = 64
    enc_hidden: int = 256
    enc_layers: int = 1
    dec_hidden: int = 512
    dec_layers: int = 1
    d_z: int = 128
    dropout: float = 0.0
    n_properties: int = 0
    property_hidden: int = 0

    def to_dict(self) -> dict:
        """The hyperparameters as a plain dict (``dataclasses.asdict``), field name to
        value, as stored in checkpoints; ``VAEConfig(**d)`` rebuilds the config."""
        return asdict(self)


class SequenceVAE(nn.Module):
    """GRU VAE over token ids.

    Parameters
    ----------
    config : VAEConfig
        Hyperparameters.
    """

    PAD, START, END = 0, 1, 2

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.d_emb, padding_idx=self.PAD)
        self.encoder_rnn = nn.GRU(
            c.d_emb,
            c.enc_hidden,
            num_layers=c.enc_layers,
            batch_first=True,
            bidirectional=True,
            dropout=c.dropout if c.enc_layers > 1 else 0.0,
        )
        self.to_mu = nn.Linear(2 * c.enc_hidden, c.d_z)
        self.to_logvar = nn.Linear(2 * c.enc_hidden, c.d_z)
        self.z_to_hidden = nn.Linear(c.d_z, c.dec_hidden * c.dec_layers)
        self.decoder_rnn = nn.GRU(
            c.d_emb + c.d_z,
            c.dec_hidden,
            num_layers=c.dec_layers,
            batch_first=True,
            dropout=c.dropout if c.dec_layers > 1 else 0.0,
        )
        self.to_logits = nn.Linear(c.dec_hidden, c.vocab_size)
        if c.n_properties:
            if c.property_hidden:
                self.property_head = nn.Sequential(nn.Linear(c.d_z, c.property_hidden), nn.Tanh(), nn.Linear(c.property_hidden, c.n_properties))
            else:
                self.property_head = nn.Linear(c.d_z, c.n_properties)

    # ------------------------------------------------------------------ encoder
    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None):
        """Posterior parameters of a batch.

        Parameters
        ----------
        tokens : LongTensor, shape (batch, L)
            Token ids without start/end, right-padded with 0.
        lengths : LongTensor, shape (batch,), optional
            True lengths. Omit when every row has length ``L`` (no padding).

        Returns
        -------
        mu, logvar : Tensor, shape (batch, d_z)
            Mean and log-variance of the diagonal Gaussian posterior q(z|x).
        """
        emb = self.embedding(tokens)
        if lengths is not None and bool((lengths != tokens.shape[1]).any()):
            emb = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h = self.encoder_rnn(emb)  # (layers*2, batch, enc_hidden)
        h = torch.cat([h[-2], h[-1]], dim=-1)
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + exp(logvar / 2) * eps``, eps ~ N(0, I) (Kingma & Welling 2014).

        Shapes ``(batch, d_z)`` in and out.
        """
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    # ------------------------------------------------------------------ decoder
    def _initial_hidden(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        h = torch.tanh(self.z_to_hidden(z))  # (batch, layers*hidden)
        return h.view(z.shape[0], c.dec_layers, c.dec_hidden).transpose(0, 1).contiguous()

    def decode_logits(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder logits.

        Parameters
        ----------
        z : Tensor, shape (batch, d_z)
        inputs : LongTensor, shape (batch, T)
            ``<start>`` followed by the tokens of the molecule.

        Returns
        -------
        Tensor, shape (batch, T, vocab_size)
        """
        emb = self.embedding(inputs)
        zz = z.unsqueeze(1).expand(-1, inputs.shape[1], -1)
        out, _ = self.decoder_rnn(torch.cat([emb, zz.to(emb.dtype)], dim=-1), self._initial_hidden(z))
        return self.to_logits(out)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None):
        """One ELBO pass.

        Parameters
        ----------
        tokens : LongTensor, shape (batch, L)
            Token ids without start/end, right-padded with 0.
        lengths : LongTensor, shape (batch,), optional

        Returns
        -------
        logits : Tensor, shape (batch, L + 1, vocab_size)
            Predictions of ``tokens + <end>``.
        mu, logvar : Tensor, shape (batch, d_z)
        properties : Tensor, shape (batch, n_properties)
            Only when the model has a property head: its standardized predictions from
            the sampled ``z``.
        """
        mu, logvar = self.encode(tokens, lengths)
        z = self.reparameterize(mu, logvar)
        start = torch.full((tokens.shape[0], 1), self.START, dtype=tokens.dtype, device=tokens.device)
        logits = self.decode_logits(z, torch.cat([start, tokens], dim=1))
        if self.config.n_properties:
            return logits, mu, logvar, self.property_head(z)
        return logits, mu, logvar

    @torch.no_grad()
    def sample_tokens(
        self,
        z: torch.Tensor,
        *,
        temperature: float = 0.0,
        max_length: int | None = None,
        generator: torch.Generator | None = None,
        matmul_dtype: torch.dtype | None = None,
    ) -> torch.Tensor:
        """Decode latent points autoregressively.

        The GRU recurrence is unrolled by hand with the weights of ``decoder_rnn`` (same
        equations as :class:`torch.nn.GRU`): the input projection of ``z`` is computed
        once, the projection of each token's embedding is a table look-up, and rows that
        have produced ``<end>`` are dropped from the batch, so the cost per step is one
        ``(active, hidden) x (hidden, 3 hidden)`` product per layer.

        Parameters
        ----------
        z : Tensor, shape (batch, d_z)
        temperature : float
            0 for greedy decoding (argmax); otherwise tokens are drawn from
            ``softmax(logits / temperature)``.
        max_length : int, optional
            Maximum number of tokens; defaults to ``config.max_length``.
        generator : torch.Generator, optional
            Source of randomness for temperature sampling (same seed, same tokens).
        matmul_dtype : torch.dtype, optional
            Precision of the recurrent matrix products; gates and hidden state stay in
            fp32. Default: :func:`decode_dtype` (bf16 where the device has bf16 in
            hardware, several times faster there; float32 elsewhere, where bf16 is
            emulated and several times slower).

        Returns
        -------
        LongTensor, shape (batch, T)
            Token ids, ``T <= max_length + 1``; every row has an ``<end>`` (id 2) within
            its first ``max_length + 1`` positions (forced there when the decoder has not
            ended by then), so no molecule has more than ``max_length`` tokens; positions
            after ``<end>`` are ``<pad>``.

        Raises
        ------
        ValueError
            If ``temperature < 0``, or :func:`decode_dtype` refuses its environment
            variable.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        c = self.config
        max_length = max_length or c.max_length
        batch = z.shape[0]
        z = z.float()
        rnn = self.decoder_rnn
        H = c.dec_hidden
        w_ih0 = rnn.weight_ih_l0  # (3H, d_emb + d_z)
        # input projection of layer 0 = token part (table look-up) + z part (constant)
        token_proj = self.embedding.weight @ w_ih0[:, : c.d_emb].T + rnn.bias_ih_l0  # (V, 3H)
        z_proj = _mm(z, w_ih0[:, c.d_emb :].T)  # (batch, 3H)
        md = matmul_dtype if matmul_dtype is not None else decode_dtype(z.device)
        w_hh = [getattr(rnn, f"weight_hh_l{k}").T.to(md) for k in range(c.dec_layers)]
        b_hh = [getattr(rnn, f"bias_hh_l{k}") for k in range(c.dec_layers)]
        w_ih = [None] + [getattr(rnn, f"weight_ih_l{k}").T.to(md) for k in range(1, c.dec_layers)]
        b_ih = [None] + [getattr(rnn, f"bias_ih_l{k}") for k in range(1, c.dec_layers)]
        h0 = torch.tanh(_linear(z, self.z_to_hidden)).view(batch, c.dec_layers, H).transpose(0, 1)
        h = [hk.float().contiguous() for hk in h0.unbind(0)]  # layers x (batch, H)
        out = torch.full((batch, max_length + 1), self.PAD, dtype=torch.long, device=z.device)
        active = torch.arange(batch, device=z.device)
        token = torch.full((batch,), self.START, dtype=torch.long, device=z.device)
        for t in range(max_length + 1):
            # the GRU cell of torch.nn.GRU, in place on the step's temporaries (same values:
            # only commuted sums and products, no reassociation)
            x_proj = token_proj[token]
            x_proj += z_proj
            for k in range(c.dec_layers):
                if k > 0:
                    x_proj = _mm(h[k - 1].to(md), w_ih[k]).float()
                    x_proj += b_ih[k]
                gh = _mm(h[k].to(md), w_hh[k]).float()
                gh += b_hh[k]
                gates = x_proj[:, : 2 * H]  # reset r, then update u
                gates += gh[:, : 2 * H]
                gates.sigmoid_()
                n = gh[:, 2 * H :]  # n = tanh(i_n + r * h_n)
                n *= gates[:, :H]
                n += x_proj[:, 2 * H :]
                n.tanh_()
                h_new = h[k] - n  # h' = n + u * (h - n)
                h_new *= gates[:, H:]
                h_new += n
                h[k] = h_new
            logits = _linear(h[-1], self.to_logits).float()
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            if t == max_length:  # at most max_length tokens: the molecule ends here
                nxt = torch.full_like(nxt, self.END)
            out[active, t] = nxt
            keep = nxt != self.END
            if not bool(keep.all()):
                active, nxt, z_proj = active[keep], nxt[keep], z_proj[keep]
                h = [hk[keep] for hk in h]
                if active.numel() == 0:
                    return out[:, : t + 1]
            token = nxt
        return out
