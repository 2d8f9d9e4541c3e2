"""SequenceVAE: shapes, padding, sampling determinism, and that it can learn (overfit a batch)."""

from __future__ import annotations

import pytest
import selfies as sf
import torch

from molvae.alphabet import Alphabet
from molvae.model import DECODE_PRECISION_ENV, SequenceVAE, VAEConfig, decode_dtype, native_bf16
from molvae.training import elbo_terms

END = SequenceVAE.END


def make_model(vocab=20, max_length=30, seed=0, **kw) -> SequenceVAE:
    torch.manual_seed(seed)
    cfg = VAEConfig(vocab_size=vocab, max_length=max_length, **{"d_emb": 8, "enc_hidden": 16, "dec_hidden": 32, "d_z": 6, **kw})
    return SequenceVAE(cfg)


def padded(seqs: list[list[int]]):
    """Right-padded inputs, lengths, and targets (tokens + <end>, padded)."""
    L = max(map(len, seqs))
    x = torch.zeros(len(seqs), L, dtype=torch.long)
    y = torch.zeros(len(seqs), L + 1, dtype=torch.long)
    for r, s in enumerate(seqs):
        x[r, : len(s)] = torch.tensor(s)
        y[r, : len(s) + 1] = torch.tensor([*s, END])
    return x, torch.tensor([len(s) for s in seqs]), y


def test_shapes():
    m = make_model()
    x = torch.randint(3, 20, (5, 12))
    logits, mu, logvar = m(x)
    assert logits.shape == (5, 13, 20)
    assert mu.shape == logvar.shape == (5, 6)
    z = torch.randn(4, 6)
    assert m.decode_logits(z, torch.ones(4, 7, dtype=torch.long)).shape == (4, 7, 20)
    out = m.sample_tokens(z, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.long and out.shape[0] == 4 and out.shape[1] <= 31


def test_stacked_layers_shapes():
    m = make_model(enc_layers=2, dec_layers=2, dropout=0.1)
    logits, mu, _ = m(torch.randint(3, 20, (3, 9)))
    assert logits.shape == (3, 10, 20) and mu.shape == (3, 6)
    assert m.sample_tokens(torch.zeros(2, 6)).shape[0] == 2


def test_padding_does_not_change_the_encoding():
    """A padded row with its length encodes exactly as the unpadded sequence alone."""
    m = make_model().eval()
    seqs = [[5, 6, 7], [8, 9, 10, 11, 12, 13, 14], [4, 4]]
    x, lengths, _ = padded(seqs)
    with torch.no_grad():
        mu, logvar = m.encode(x, lengths)
        for r, s in enumerate(seqs):
            mu1, lv1 = m.encode(torch.tensor([s]))
            torch.testing.assert_close(mu[r], mu1[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(logvar[r], lv1[0], atol=1e-5, rtol=1e-5)
        # and padding without lengths would have changed it (the test can tell)
        mu_nolen, _ = m.encode(x)
    assert not torch.allclose(mu_nolen[0], mu[0], atol=1e-4)


def test_sampling_is_reproducible_with_a_generator():
    m = make_model().eval()
    z = torch.randn(16, 6, generator=torch.Generator().manual_seed(1))
    a = m.sample_tokens(z, temperature=1.0, generator=torch.Generator().manual_seed(42))
    b = m.sample_tokens(z, temperature=1.0, generator=torch.Generator().manual_seed(42))
    c = m.sample_tokens(z, temperature=1.0, generator=torch.Generator().manual_seed(43))
    assert torch.equal(a, b)
    assert a.shape != c.shape or not torch.equal(a, c)
    assert torch.equal(m.sample_tokens(z), m.sample_tokens(z))  # greedy needs no generator


def test_sampled_rows_end_then_pad():
    m = make_model(max_length=10).eval()
    out = m.sample_tokens(torch.randn(64, 6), temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert out.shape[1] <= 11
    for row in out.tolist():
        if END in row:
            k = row.index(END)
            assert all(t == SequenceVAE.PAD for t in row[k + 1 :])
    assert m.sample_tokens(torch.randn(3, 6), max_length=4).shape[1] <= 5


@pytest.mark.parametrize("dec_layers", [1, 2])
def test_greedy_sampling_agrees_with_the_teacher_forced_decoder(dec_layers):
    """The sampler's recurrence gives the same argmax tokens as ``decode_logits`` (nn.GRU)."""
    m = make_model(vocab=12, max_length=15, dec_layers=dec_layers, seed=dec_layers).eval()
    # a sharper output layer so that argmax is not decided by rounding
    with torch.no_grad():
        m.to_logits.weight.mul_(4)
    z = torch.randn(32, 6, generator=torch.Generator().manual_seed(0))
    tokens = m.sample_tokens(z, matmul_dtype=torch.float32)
    inputs = torch.cat([torch.full((32, 1), SequenceVAE.START), tokens[:, :-1].clamp(min=0)], dim=1)
    with torch.no_grad():
        expected = m.decode_logits(z, inputs).argmax(-1)
    for row, exp in zip(tokens.tolist(), expected.tolist()):
        n = row.index(END) + 1 if END in row else len(row)
        n = min(n, m.config.max_length)  # position max_length holds a forced <end>
        assert row[:n] == exp[:n]
    # the bf16 recurrence (the default where the CPU has bf16) decodes (almost) the same tokens
    fast = m.sample_tokens(z, matmul_dtype=torch.bfloat16)
    width = min(fast.shape[1], tokens.shape[1])
    assert (fast[:, :width] == tokens[:, :width]).float().mean() > 0.9


@pytest.mark.parametrize("setting, expected", [("bf16", torch.bfloat16), ("fp32", torch.float32), (" FP32 ", torch.float32)])
def test_decode_precision_can_be_pinned(monkeypatch, setting, expected):
    import molvae.model

    monkeypatch.setenv(DECODE_PRECISION_ENV, setting)
    assert decode_dtype() == expected
    m = make_model().eval()
    z = torch.randn(20, 6, generator=torch.Generator().manual_seed(1))
    assert torch.equal(m.sample_tokens(z), m.sample_tokens(z, matmul_dtype=expected))
    # the recurrent products are computed in that precision, or in the one given: the
    # tokens alone cannot tell (both precisions mostly decode the same tokens)
    used, real_mm = [], molvae.model._mm
    monkeypatch.setattr(molvae.model, "_mm", lambda a, b: used.append(b.dtype) or real_mm(a, b))
    other = torch.float32 if expected == torch.bfloat16 else torch.bfloat16
    for given, want in ((None, expected), (other, other)):
        used.clear()
        m.sample_tokens(z, matmul_dtype=given)
        assert used[0] == torch.float32 and set(used[1:]) == {want}, (given, used)  # used[0]: the z projection


def test_decode_precision_follows_the_hardware(monkeypatch):
    """``auto`` (and no setting) uses bf16 only where the CPU multiplies bf16 in hardware:
    elsewhere torch emulates it, several times slower than float32."""
    monkeypatch.delenv(DECODE_PRECISION_ENV, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not native_bf16("cpu")
    assert decode_dtype() == torch.float32
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert decode_dtype() == torch.bfloat16
    monkeypatch.setenv(DECODE_PRECISION_ENV, "auto")
    assert decode_dtype() == torch.bfloat16
    monkeypatch.setenv(DECODE_PRECISION_ENV, "fp32")
    assert decode_dtype() == torch.float32


def test_bad_decode_precision_setting_is_refused(monkeypatch):
    monkeypatch.setenv(DECODE_PRECISION_ENV, "fp16")
    with pytest.raises(ValueError, match="MOLVAE_DECODE_PRECISION must be bf16, fp32 or auto, got 'fp16'"):
        make_model().sample_tokens(torch.zeros(1, 6))


def test_negative_temperature_is_refused():
    with pytest.raises(ValueError):
        make_model().sample_tokens(torch.zeros(1, 6), temperature=-0.5)


def test_elbo_terms_ignore_padding():
    logits = torch.randn(2, 4, 7)
    targets = torch.tensor([[3, 4, END, 0], [5, 6, 5, END]])
    mu, logvar = torch.zeros(2, 3), torch.zeros(2, 3)
    recon, kl = elbo_terms(logits, targets, mu, logvar)
    ce = torch.nn.functional.cross_entropy
    expected = (ce(logits[0, :3], targets[0, :3], reduction="sum") + ce(logits[1], targets[1], reduction="sum")) / 2
    torch.testing.assert_close(recon, expected)
    torch.testing.assert_close(kl, torch.zeros(3))  # N(0, I) posterior: no KL
    _, kl2 = elbo_terms(logits, targets, torch.ones(2, 3), torch.zeros(2, 3))
    torch.testing.assert_close(kl2, torch.full((3,), 0.5))


def test_overfits_a_small_batch(train_smiles):
    """The key learning test: 8 real molecules are memorized exactly within 250 Adam steps."""
    selfies = [sf.encoder(s) for s in train_smiles[:8]]
    alphabet = Alphabet.build(selfies)
    seqs = [alphabet.encode(s) for s in selfies]
    x, lengths, targets = padded(seqs)
    torch.manual_seed(0)
    model = SequenceVAE(VAEConfig(vocab_size=len(alphabet), max_length=alphabet.max_length, d_emb=32, enc_hidden=64, dec_hidden=128, d_z=16))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(250):
        logits, mu, logvar = model(x, lengths)
        recon, kl = elbo_terms(logits, targets, mu, logvar)
        loss = recon + 0.01 * kl.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else recon.item()
    assert recon.item() < 2.0 < first / 10  # nats per molecule, from ~100 at the start
    model.eval()
    with torch.no_grad():
        mu, _ = model.encode(x, lengths)
        decoded = model.sample_tokens(mu)
    got = [alphabet.decode(row) for row in decoded.tolist()]
    assert got == selfies
    # the latent codes tell the molecules apart
    assert torch.cdist(mu, mu).add(torch.eye(8) * 1e3).min() > 1e-3


def test_sampled_molecules_never_exceed_max_length():
    import torch

    from molvae.model import DECODE_PRECISION_ENV, SequenceVAE, VAEConfig, decode_dtype, native_bf16

    torch.manual_seed(0)
    model = SequenceVAE(VAEConfig(vocab_size=8, max_length=5, d_emb=4, enc_hidden=4, dec_hidden=8, d_z=2))
    with torch.no_grad():  # a decoder that never ends on its own
        model.to_logits.bias.fill_(0.0)
        model.to_logits.bias[SequenceVAE.END] = -1e4
    tokens = model.sample_tokens(torch.randn(16, 2), temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert tokens.shape[1] == 6
    assert (tokens[:, -1] == SequenceVAE.END).all()
    assert ((tokens != SequenceVAE.END) & (tokens != SequenceVAE.PAD)).sum(1).max() <= 5
