"""The sequence VAE: bidirectional GRU encoder, GRU decoder conditioned on the latent.

Architecture after Gómez-Bombarelli et al. 2018 (ACS Cent. Sci. 4, 268) with recurrent
encoder and decoder as in the MOSES VAE baseline (Polykovskiy et al. 2020):

``tokens (batch, L) -> embedding -> bi-GRU -> [h_fwd; h_bwd] -> mu, log sigma^2 (batch, d_z)``
``z = mu + sigma * eps``; the decoder GRU starts from ``tanh(W z)`` and reads
``[embedding(previous token); z]`` at every step (teacher forcing during training).

This module knows nothing of RDKit or SELFIES strings: it works on token ids.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["VAEConfig", "SequenceVAE"]


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

    def to_dict(self) -> dict:
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
        """
        mu, logvar = self.encode(tokens, lengths)
        z = self.reparameterize(mu, logvar)
        start = torch.full((tokens.shape[0], 1), self.START, dtype=tokens.dtype, device=tokens.device)
        logits = self.decode_logits(z, torch.cat([start, tokens], dim=1))
        return logits, mu, logvar

    @torch.no_grad()
    def sample_tokens(
        self,
        z: torch.Tensor,
        *,
        temperature: float = 0.0,
        max_length: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decode latent points autoregressively.

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

        Returns
        -------
        LongTensor, shape (batch, T)
            Token ids, ``T <= max_length + 1``; each row ends at its first ``<end>`` (id 2),
            positions after it are ``<pad>``.
        """
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        max_length = max_length or self.config.max_length
        batch = z.shape[0]
        h = self._initial_hidden(z)
        token = torch.full((batch, 1), self.START, dtype=torch.long, device=z.device)
        zz = z.unsqueeze(1)
        done = torch.zeros(batch, dtype=torch.bool, device=z.device)
        out = []
        for _ in range(max_length + 1):
            x = torch.cat([self.embedding(token), zz.to(self.embedding.weight.dtype)], dim=-1)
            y, h = self.decoder_rnn(x, h)
            logits = self.to_logits(y[:, 0]).float()
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            nxt = torch.where(done, torch.full_like(nxt, self.PAD), nxt)
            out.append(nxt)
            done = done | (nxt == self.END)
            if bool(done.all()):
                break
            token = nxt.unsqueeze(1)
        return torch.stack(out, dim=1)
