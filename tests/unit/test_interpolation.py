"""Latent paths, interpolation between molecules, analogue search, fitted density."""

from __future__ import annotations

import numpy as np
import pytest

from molvae.interpolation import ANALOG_POOL, ANALOG_POOL_MIN, analog_pool, analogs, anchor, geodesic, interpolate, invert, latent_path, linear, refine, slerp

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"


def test_slerp_endpoints_and_norms():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    path = slerp(a, b, np.linspace(0, 1, 7))
    assert path.shape == (7, 16)
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    # slerp between vectors of equal norm keeps the norm; the straight line does not
    b_same = b / np.linalg.norm(b) * np.linalg.norm(a)
    s_norms = np.linalg.norm(slerp(a, b_same, np.linspace(0, 1, 9)), axis=1)
    l_norms = np.linalg.norm(linear(a, b_same, np.linspace(0, 1, 9)), axis=1)
    np.testing.assert_allclose(s_norms, np.linalg.norm(a), rtol=1e-4)
    assert l_norms[4] < 0.9 * np.linalg.norm(a)


def test_slerp_parallel_falls_back_to_linear():
    a = np.ones(4)
    np.testing.assert_allclose(slerp(a, 2 * a, np.array([0.5])), linear(a, 2 * a, np.array([0.5])), atol=1e-6)


def test_path_ends_must_be_two_points_of_one_length():
    """latent_path with rows of points as ends ((2, d_z) each) returned an array of shape
    (1, 2, d_z) for two steps, not (steps, d_z), and a broadcasting error for more; ends of
    different lengths gave numpy's matmul message, and linear took no list. Each is now a
    ValueError naming the shapes (TypeError for values that are not numbers)."""
    rows = np.ones((2, 8))
    for method in ("slerp", "linear"):
        for a, b in ((rows, rows), (np.ones(8), np.ones(4)), (np.ones(8), 1.0)):
            with pytest.raises(ValueError, match="the ends must be two latent points of one shape"):
                latent_path(a, b, 2, method)
    with pytest.raises(ValueError, match=r"the fractions t must have shape \(k,\), got \(\)"):
        linear(np.ones(3), np.zeros(3), 0.5)
    with pytest.raises(TypeError, match="the start point must be real numbers"):
        slerp(np.array(["a", "b"]), np.ones(2), np.array([0.5]))
    np.testing.assert_allclose(linear([0.0, 2.0], [2.0, 0.0], [0.5]), [[1.0, 1.0]])


def test_latent_path_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        latent_path(np.zeros(3), np.ones(3), 1)
    with pytest.raises(ValueError, match="method"):
        latent_path(np.zeros(3), np.ones(3), 5, method="cubic")


def test_path_steps_must_be_a_sensible_integer(vae):
    """steps=10**10 tried to allocate a 74.5 GiB array (a MemoryError traceback from
    'molvae interpolate --steps 10000000000'); steps=3.0 or '3' failed inside numpy."""
    from molvae.interpolation import MAX_STEPS

    for bad in (MAX_STEPS + 1, 10**10, 3.0, "3", True):
        with pytest.raises(ValueError, match="steps"):
            latent_path(np.zeros(3), np.ones(3), bad)
        with pytest.raises(ValueError, match="steps"):
            vae.interpolate("CCO", "CCN", bad)
    assert latent_path(np.zeros(3), np.ones(3), np.int64(3)).shape == (3, 3)


@pytest.mark.parametrize("method", ["slerp", "linear", "geodesic"])
def test_interpolate_table(vae, method):
    df = interpolate(vae, ASPIRIN, PARACETAMOL, steps=6, method=method)
    assert list(df.columns) == ["step", "t", "smiles", "tanimoto_to_start", "tanimoto_to_end", "qed", "logp", "sa", "mw", "note"]
    assert df["step"].tolist() == list(range(6))
    assert df["t"].iloc[0] == 0 and df["t"].iloc[-1] == 1
    # the ends are the decodings of the end points' anchors, and the note says whether they reconstruct
    assert df["smiles"].iloc[0] == anchor(vae, ASPIRIN)[1]
    assert df["smiles"].iloc[-1] == anchor(vae, PARACETAMOL)[1]
    assert ("reconstructs start" == df["note"].iloc[0]) == df.attrs["start_reconstructed"]
    assert df.attrs["method"] == method
    assert df.attrs["distinct"] == df.loc[df["smiles"] != "", "smiles"].nunique()
    # each step's similarities to its own ends (NaN for an invalid step) and its properties
    from molvae.chem import properties, tanimoto

    assert (df.attrs["start"], df.attrs["end"]) == (ASPIRIN, PARACETAMOL)
    np.testing.assert_allclose(df["tanimoto_to_start"], tanimoto(ASPIRIN, df["smiles"]))
    np.testing.assert_allclose(df["tanimoto_to_end"], tanimoto(PARACETAMOL, df["smiles"]))
    np.testing.assert_allclose(df["qed"], [properties(s)["qed"] for s in df["smiles"]])


def test_interpolate_says_which_ends_it_reconstructs(vae, monkeypatch):
    """The tiny model reconstructs neither end, so test_interpolate_table cannot tell a
    right 'reconstructs' verdict from a wrong one: here the path decodes to the start
    molecule first and never to the end molecule."""
    monkeypatch.setattr(vae, "decode", lambda z, **kw: [ASPIRIN] + ["CCO"] * (len(z) - 1))
    df = interpolate(vae, ASPIRIN, PARACETAMOL, steps=4, anchor_samples=0, invert_steps=0)
    assert df["smiles"].tolist() == [ASPIRIN, "CCO", "CCO", "CCO"]
    assert (df.attrs["start_reconstructed"], df.attrs["end_reconstructed"]) == (True, False)
    assert df["note"].tolist() == ["reconstructs start", "", "", f"does not reconstruct end {PARACETAMOL}"]


def test_guided_path_keeps_the_ends_and_is_deterministic(vae):
    plain = interpolate(vae, ASPIRIN, PARACETAMOL, steps=6)
    guided = interpolate(vae, ASPIRIN, PARACETAMOL, steps=6, guide=30, guide_radius=1.0)
    assert guided.attrs["guide"] == 30 and plain.attrs["guide"] == 0
    assert guided["smiles"].iloc[0] == plain["smiles"].iloc[0] and guided["smiles"].iloc[-1] == plain["smiles"].iloc[-1]
    again = interpolate(vae, ASPIRIN, PARACETAMOL, steps=6, guide=30, guide_radius=1.0)
    assert again["smiles"].tolist() == guided["smiles"].tolist()
    with pytest.raises(ValueError, match="guide"):
        interpolate(vae, ASPIRIN, PARACETAMOL, steps=6, guide=-1)
    with pytest.raises(ValueError, match="radius"):
        interpolate(vae, ASPIRIN, PARACETAMOL, steps=6, guide=5, guide_radius=0)


def test_interpolate_with_a_guide_takes_the_best_blend_at_each_step(vae, monkeypatch):
    """The tiny model decodes the whole aspirin-paracetamol neighbourhood to one molecule, so
    the other guided-path tests could not tell whether interpolate guided at all. With a
    decoder that gives a pool molecule by the size of a point's first coordinate, each
    interior step of the guided path is the pool's best blend of the two ends."""
    from molvae.chem import tanimoto

    pool = [ASPIRIN, "CC(=O)Oc1ccccc1", "CC(=O)Nc1ccccc1", PARACETAMOL, "CCCCCCCC"]
    monkeypatch.setattr(vae, "decode", lambda z, **kw: [pool[int(abs(v[0]) * 7) % len(pool)] for v in np.atleast_2d(np.asarray(z))])
    kw = dict(steps=5, anchor_samples=0, invert_steps=0)
    plain = interpolate(vae, ASPIRIN, PARACETAMOL, **kw)
    guided = interpolate(vae, ASPIRIN, PARACETAMOL, guide=40, guide_radius=1.0, **kw)
    t = guided["t"].to_numpy()
    for k in (1, 2, 3):
        score = lambda m: (1 - t[k]) * tanimoto(ASPIRIN, [m])[0] + t[k] * tanimoto(PARACETAMOL, [m])[0]  # noqa: E731
        assert score(guided["smiles"][k]) == pytest.approx(max(map(score, pool))), k
    assert guided["smiles"].tolist()[1:-1] != plain["smiles"].tolist()[1:-1]  # the plain path is not already the best


def test_guided_step_is_the_best_blend_of_the_two_ends():
    from molvae.chem import tanimoto
    from molvae.interpolation import _guided

    pool = [ASPIRIN, "CC(=O)Oc1ccccc1", "CC(=O)Nc1ccccc1", PARACETAMOL, "CCCCCCCC", ""]

    class Stub:  # decodes a point to a pool molecule chosen by the size of its first coordinate
        def decode(self, z):
            return [pool[int(abs(v[0]) * 7) % len(pool)] for v in np.asarray(z)]

    points = np.linspace(0, 1, 5)[:, None] * np.ones((5, 3))
    t = np.linspace(0, 1, 5)
    plain = Stub().decode(points)
    out = _guided(Stub(), points, plain, t, ASPIRIN, PARACETAMOL, 40, 1.0, 0)
    assert out[0] == plain[0] and out[-1] == plain[-1]
    for k in range(1, 4):
        score = lambda m: (1 - t[k]) * np.nan_to_num(tanimoto(ASPIRIN, [m]), nan=-1)[0] + t[k] * np.nan_to_num(tanimoto(PARACETAMOL, [m]), nan=-1)[0]  # noqa: E731
        assert score(out[k]) >= score(plain[k])
        assert score(out[k]) == pytest.approx(max(score(m) for m in pool[:-1]))  # 40 draws reach every molecule of the pool
    assert out[1] in (ASPIRIN, "CC(=O)Oc1ccccc1") and out[3] in (PARACETAMOL, "CC(=O)Nc1ccccc1")


def test_guided_points_are_drawn_in_pieces(monkeypatch):
    """interpolate --guide 10000000000 drew every guide point of every step at once and
    ended in a RuntimeError traceback ('can't allocate memory: 320000000000 bytes'). Above
    ANALOG_CHUNK points, each step's points are drawn and decoded in pieces, keeping the
    best blend so far; below, the path is drawn at once as before (same output)."""
    import molvae.interpolation
    from molvae.chem import tanimoto
    from molvae.interpolation import _guided

    pool = [ASPIRIN, "CC(=O)Oc1ccccc1", "CC(=O)Nc1ccccc1", PARACETAMOL, "CCCCCCCC", ""]
    sizes = []

    class Stub:
        def decode(self, z):
            sizes.append(len(z))
            return [pool[int(abs(v[0]) * 7) % len(pool)] for v in np.asarray(z)]

    points = np.linspace(0, 1, 5)[:, None] * np.ones((5, 3), dtype=np.float32)
    t = np.linspace(0, 1, 5)
    plain = [pool[4]] * 5
    whole = _guided(Stub(), points, plain, t, ASPIRIN, PARACETAMOL, 40, 1.0, 0)
    assert sizes == [120]  # 3 interior steps x 40 points, one decoding: unchanged
    monkeypatch.setattr(molvae.interpolation, "ANALOG_CHUNK", 16)
    sizes.clear()
    out = _guided(Stub(), points, plain, t, ASPIRIN, PARACETAMOL, 40, 1.0, 0)
    assert max(sizes) <= 16 and sum(sizes) == 120
    assert out == _guided(Stub(), points, plain, t, ASPIRIN, PARACETAMOL, 40, 1.0, 0)  # same seed, same path
    assert out[0] == plain[0] and out[-1] == plain[-1]
    for k in range(1, 4):
        score = lambda m: (1 - t[k]) * np.nan_to_num(tanimoto(ASPIRIN, [m]), nan=-1)[0] + t[k] * np.nan_to_num(tanimoto(PARACETAMOL, [m]), nan=-1)[0]  # noqa: E731
        assert score(out[k]) == pytest.approx(max(score(m) for m in pool[:-1])) == pytest.approx(score(whole[k]))


def test_interpolate_without_anchor_samples_walks_between_the_means(vae):
    df = interpolate(vae, ASPIRIN, PARACETAMOL, steps=4, anchor_samples=0)
    z = vae.encode([ASPIRIN, PARACETAMOL])
    assert df["smiles"].iloc[0] == vae.decode(z[:1])[0]
    assert df["smiles"].iloc[-1] == vae.decode(z[1:])[0]


def test_interpolate_refines_only_the_ends_that_reconstruct(vae, monkeypatch):
    """refine_steps > 0 moves each end's anchor by refine before the path is laid, but only
    an anchor that decodes back to its molecule; 0 (the default) leaves both alone."""
    import molvae.interpolation as interp

    good, bad = np.full(vae.d_z, 0.25, dtype=np.float32), np.full(vae.d_z, -0.25, dtype=np.float32)
    monkeypatch.setattr(interp, "anchor", lambda v, s, *a, **kw: (good, v.tokenize(s)[0], 1.0) if v.tokenize(s)[0] == ASPIRIN else (bad, "CCO", 0.1))
    calls = []
    monkeypatch.setattr(interp, "refine", lambda v, ids, z, can, steps: (calls.append((can, steps)), (z + 1.0, True))[1])
    paths = []
    real_decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda z, **kw: (paths.append(np.array(z)), real_decode(z, **kw))[1])
    interp.interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, method="linear", refine_steps=7)
    assert calls == [(ASPIRIN, 7)]  # paracetamol's anchor decodes elsewhere: not refined
    np.testing.assert_allclose(paths[-1][0], good + 1.0)
    np.testing.assert_allclose(paths[-1][-1], bad)
    calls.clear()
    interp.interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, method="linear")
    assert calls == [] and np.allclose(paths[-1][0], good)
    with pytest.raises(ValueError, match="refine_steps must be an integer >= 0"):
        interp.interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, refine_steps=-2)


class _StubVAE:
    """Decodes by the first latent coordinate: > 1 gives the query, > 0.5 a close analogue."""

    d_z = 4

    def __init__(self, query: str, mean_first: float):
        self.query, self.mean_first = query, mean_first

    def tokenize(self, smiles):
        from molvae.chem import canonical_smiles

        return canonical_smiles(smiles), [3, 4]

    def try_encode(self, smiles, return_logvar=False):
        mu = np.array([[self.mean_first, 0, 0, 0]], dtype=np.float32)
        return mu, np.zeros_like(mu), []

    def decode(self, z):
        z = np.atleast_2d(z)
        return [self.query if r[0] > 1 else "CC(=O)Oc1ccccc1" if r[0] > 0.5 else "" for r in z]


def test_anchor_keeps_a_mean_that_reconstructs():
    stub = _StubVAE(ASPIRIN, mean_first=2.0)
    z, decoded, sim = anchor(stub, ASPIRIN, 16)
    np.testing.assert_array_equal(z, [2, 0, 0, 0])
    assert (decoded, sim) == (ASPIRIN, 1.0)


def test_anchor_picks_a_posterior_sample_that_reconstructs():
    stub = _StubVAE(ASPIRIN, mean_first=0.0)  # the mean decodes to nothing
    z, decoded, sim = anchor(stub, ASPIRIN, 64, seed=0)
    assert z[0] > 1 and (decoded, sim) == (ASPIRIN, 1.0)
    # the same seed, the same point; no samples, the mean
    np.testing.assert_array_equal(anchor(stub, ASPIRIN, 64, seed=0)[0], z)
    z0, decoded0, _ = anchor(stub, ASPIRIN, 0)
    np.testing.assert_array_equal(z0, [0, 0, 0, 0])
    assert decoded0 == ""
    with pytest.raises(ValueError, match="samples"):
        anchor(stub, ASPIRIN, -1)
    with pytest.raises(ValueError, match="invert_steps"):
        anchor(stub, ASPIRIN, 4, invert_steps=-1)


def test_anchor_falls_back_to_the_most_similar_decoding():
    from molvae.chem import tanimoto

    class Near(_StubVAE):
        def decode(self, z):  # never the query itself
            return ["CC(=O)Oc1ccccc1" if r[0] > 0.5 else "CCCC" for r in np.atleast_2d(z)]

    z, decoded, sim = anchor(Near(ASPIRIN, 0.0), ASPIRIN, 64, invert_steps=0, seed=0)
    assert z[0] > 0.5 and decoded == "CC(=O)Oc1ccccc1"
    assert sim == pytest.approx(tanimoto(ASPIRIN, [decoded])[0]) and sim < 1


def test_anchor_on_a_real_model_reports_its_own_decoding(vae, train_smiles):
    from molvae.chem import tanimoto

    for smi in train_smiles[:10]:
        can, _ = vae.tokenize(smi)
        mu = vae.encode([smi])[0]
        z, decoded, sim = anchor(vae, smi, 16, seed=1)
        assert z.shape == (vae.d_z,)
        assert vae.decode(z[None, :])[0] == decoded
        mean_sim = np.nan_to_num(tanimoto(can, [vae.decode(mu[None, :])[0]])[0], nan=-1.0)
        assert np.nan_to_num(sim, nan=-1.0) >= mean_sim - 1e-12


def _nll(vae, ids, z):
    import torch

    m = vae.model
    x = torch.tensor(ids)[None, :].expand(len(z), -1)
    inputs = torch.cat([torch.full((len(z), 1), m.START), x], 1)
    targets = torch.cat([x, torch.full((len(z), 1), m.END)], 1)
    with torch.no_grad():
        logits = m.decode_logits(torch.tensor(z), inputs)
        return torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none").sum(1).numpy()


def test_invert_raises_the_likelihood_of_the_molecule(vae, train_smiles):
    # from random latent points, gradient steps make the molecule's tokens more likely
    can, ids = vae.tokenize(train_smiles[3])
    z0 = np.random.default_rng(0).standard_normal((3, vae.d_z)).astype(np.float32)
    z, decoded, steps = invert(vae, ids, z0, can, steps=30, check_every=10)
    assert z.shape == z0.shape and len(decoded) == 3 and 1 <= steps <= 30
    assert decoded == vae.decode(z)
    assert (_nll(vae, ids, z) < _nll(vae, ids, z0)).all()
    if can not in decoded:
        assert steps == 30
    # deterministic
    z_again, _, _ = invert(vae, ids, z0, can, steps=30, check_every=10)
    np.testing.assert_array_equal(z, z_again)


def test_refine_moves_a_point_up_the_likelihood_and_keeps_its_decoding(vae, train_smiles):
    z0 = vae.encode(train_smiles[:8])
    decoded0 = vae.decode(z0)
    i = next(i for i, d in enumerate(decoded0) if d)
    can, ids = vae.tokenize(decoded0[i])
    z, moved = refine(vae, ids, z0[i], can, steps=20)
    assert z.shape == (vae.d_z,) and z.dtype == np.float32
    assert moved  # on the tiny model the point moves; a point that may not is the next test's
    assert vae.decode(z[None, :]) == [can]  # kept only while it still decodes to the molecule
    assert _nll(vae, ids, z[None, :])[0] < _nll(vae, ids, z0[i : i + 1])[0]  # and more likely
    np.testing.assert_array_equal(refine(vae, ids, z0[i], can, steps=20)[0], z)  # deterministic
    same, moved0 = refine(vae, ids, z0[i], can, steps=0)
    assert not moved0
    np.testing.assert_array_equal(same, z0[i])
    for bad in (-1, 2.5, None):
        with pytest.raises(ValueError, match="steps must be an integer >= 0"):
            refine(vae, ids, z0[i], can, steps=bad)


def test_refine_gives_back_the_point_when_the_moved_one_decodes_elsewhere(vae, train_smiles, monkeypatch):
    can, ids = vae.tokenize(train_smiles[0])
    z0 = np.zeros(vae.d_z, dtype=np.float32)
    monkeypatch.setattr(vae, "decode", lambda z, **kw: ["C"] * len(z))  # never the molecule
    z, moved = refine(vae, ids, z0, can, steps=5)
    assert not moved
    np.testing.assert_array_equal(z, z0)


def test_analogs_draw_around_the_refined_centre(vae, monkeypatch):
    """With refine_steps=0 the points are drawn around the anchor itself; otherwise
    around refine's point, and attrs says which."""
    import molvae.interpolation as interp

    seen = []
    monkeypatch.setattr(interp, "refine", lambda vae, ids, z, can, steps: (seen.append(steps), (z + 100.0, True))[1])
    monkeypatch.setattr(interp, "anchor", lambda vae, s, *a, **kw: (np.zeros(vae.d_z, dtype=np.float32), vae.tokenize(s)[0], 1.0))
    centres = []
    real_decode = vae.decode
    monkeypatch.setattr(vae, "decode", lambda z, **kw: (centres.append(float(np.mean(z))), real_decode(z, **kw))[1])
    df = interp.analogs(vae, ASPIRIN, n=2, radius=1e-3, pool=8, refine_steps=7)
    assert seen == [7] and df.attrs["refined"] is True
    assert abs(centres[-1] - 100.0) < 0.1  # the draws sit around the moved centre
    centres.clear()
    df = interp.analogs(vae, ASPIRIN, n=2, radius=1e-3, pool=8, refine_steps=0)
    assert seen == [7] and df.attrs["refined"] is False and abs(centres[-1]) < 0.1
    with pytest.raises(ValueError, match="refine_steps must be an integer >= 0"):
        interp.analogs(vae, ASPIRIN, n=2, refine_steps=-1)


def test_invert_stops_at_once_when_a_start_reconstructs(vae, train_smiles):
    # the molecule a point decodes to is reconstructed by that point: no step is taken
    z0 = vae.encode(train_smiles[:8])
    decoded0 = vae.decode(z0)
    i = next(i for i, d in enumerate(decoded0) if d)
    can, ids = vae.tokenize(decoded0[i])
    z, decoded, steps = invert(vae, ids, z0[i : i + 1], can, steps=50)
    assert steps == 0 and decoded == [can]
    np.testing.assert_array_equal(z, z0[i : i + 1])
    with pytest.raises(ValueError):
        invert(vae, ids, z0[:1], can, steps=-1)


def test_anchor_inversion_never_does_worse_than_the_samples(vae, train_smiles):
    from molvae.chem import tanimoto

    for smi in train_smiles[20:26]:
        can, _ = vae.tokenize(smi)
        _, _, sim_samples = anchor(vae, smi, 8, invert_steps=0, seed=2)
        z, decoded, sim = anchor(vae, smi, 8, invert_steps=40, seed=2)
        assert vae.decode(z[None, :])[0] == decoded
        assert np.nan_to_num(sim, nan=-1.0) >= np.nan_to_num(sim_samples, nan=-1.0)
        assert sim == 1.0 or sim == pytest.approx(np.nan_to_num(tanimoto(can, [decoded])[0], nan=np.nan), nan_ok=True)


def test_slerp_and_linear_walk_different_points(vae):
    z = vae.encode([ASPIRIN, PARACETAMOL])
    mid_s = latent_path(z[0], z[1], 3, "slerp")[1]
    mid_l = latent_path(z[0], z[1], 3, "linear")[1]
    assert not np.allclose(mid_s, mid_l)


def test_geodesic_keeps_the_ends_and_lowers_the_path_energy(vae):
    """With the decodings held (redecode_every beyond the steps), Adam lowers the energy it
    is given; the ends never move; the same path gives the same result."""
    import torch

    from molvae.interpolation import _greedy_inputs, _path_energy

    # ends far apart: between two encodings the tiny model's decodings barely change
    a, b = 3 * np.random.default_rng(0).standard_normal((2, vae.d_z))
    path = latent_path(a, b, 6, "slerp")
    bent = geodesic(vae, path, 30, redecode_every=100)
    assert bent.shape == path.shape and bent.dtype == np.float32
    np.testing.assert_array_equal(bent[[0, -1]], path[[0, -1]])
    assert not np.allclose(bent[1:-1], path[1:-1])
    inputs, mask = _greedy_inputs(vae.model, torch.tensor(path))
    with torch.no_grad():
        before = float(_path_energy(vae.model, torch.tensor(path), inputs, mask))
        after = float(_path_energy(vae.model, torch.tensor(bent), inputs, mask))
    assert after < 0.9 * before
    np.testing.assert_array_equal(bent, geodesic(vae, path, 30, redecode_every=100))
    # nothing to bend: no steps, or no interior point
    np.testing.assert_array_equal(geodesic(vae, path, 0), path)
    np.testing.assert_array_equal(geodesic(vae, path[[0, -1]], 10), path[[0, -1]])


def test_geodesic_path_energy_is_zero_for_one_point_repeated(vae):
    import torch

    from molvae.interpolation import _greedy_inputs, _path_energy

    z = torch.tensor(np.repeat(vae.encode([ASPIRIN]), 4, axis=0))
    inputs, mask = _greedy_inputs(vae.model, z)
    assert mask[:, 0].all() and (inputs[:, 0] == vae.model.START).all()
    with torch.no_grad():
        assert float(_path_energy(vae.model, z, inputs, mask)) == pytest.approx(0.0, abs=1e-5)


def test_geodesic_bad_arguments(vae):
    from molvae.interpolation import MAX_GEODESIC_STEPS

    path = latent_path(np.zeros(vae.d_z), np.ones(vae.d_z), 4)
    for bad in (path[:1], path[:, :3], np.full_like(path, np.nan), np.zeros((MAX_GEODESIC_STEPS + 1, vae.d_z))):
        with pytest.raises(ValueError, match="path must be"):
            geodesic(vae, bad, 2)
    with pytest.raises(TypeError):
        geodesic(vae, path.astype(complex), 2)
    for kw in ({"iterations": -1}, {"iterations": 2.5}, {"redecode_every": 0}, {"lr": 0}, {"lr": float("nan")}, {"lr": "0.1"}, {"lr": True}):
        with pytest.raises(ValueError):
            geodesic(vae, path, **{"iterations": 2, **kw})
    with pytest.raises(ValueError, match="at most"):
        interpolate(vae, ASPIRIN, PARACETAMOL, MAX_GEODESIC_STEPS + 1, "geodesic")
    with pytest.raises(ValueError, match="geodesic"):
        interpolate(vae, ASPIRIN, PARACETAMOL, 4, "cubic")


def test_interpolate_passes_geodesic_iterations(vae, monkeypatch):
    """geodesic_iterations reaches geodesic (the default GEODESIC_ITERATIONS), is checked
    before the ends are searched, and 0 leaves the spherical path as it is."""
    import molvae.interpolation as interp

    seen = []
    real = interp.geodesic
    monkeypatch.setattr(interp, "geodesic", lambda v, path, iterations=interp.GEODESIC_ITERATIONS, **kw: (seen.append(iterations), real(v, path, 0))[1])
    interp.interpolate(vae, ASPIRIN, PARACETAMOL, 4, "geodesic", anchor_samples=0)
    interp.interpolate(vae, ASPIRIN, PARACETAMOL, 4, "geodesic", anchor_samples=0, geodesic_iterations=3)
    interp.interpolate(vae, ASPIRIN, PARACETAMOL, 4, "slerp", anchor_samples=0, geodesic_iterations=3)  # ignored
    assert seen == [interp.GEODESIC_ITERATIONS, 3]
    monkeypatch.setattr(interp, "geodesic", real)
    flat = interpolate(vae, ASPIRIN, PARACETAMOL, 5, "geodesic", anchor_samples=0, geodesic_iterations=0)
    assert flat["smiles"].tolist() == interpolate(vae, ASPIRIN, PARACETAMOL, 5, "slerp", anchor_samples=0)["smiles"].tolist()
    monkeypatch.setattr(interp, "anchor", lambda *a, **kw: pytest.fail("anchor searched before the check"))
    for bad in (-1, 2.5, None):
        with pytest.raises(ValueError, match="geodesic_iterations must be an integer >= 0"):
            interp.interpolate(vae, ASPIRIN, PARACETAMOL, 4, "geodesic", geodesic_iterations=bad)


def test_interpolate_unknown_token(vae):
    from molvae.alphabet import UnknownTokenError

    with pytest.raises(UnknownTokenError) as info:
        interpolate(vae, "CCCCI", ASPIRIN, steps=3)
    assert "[I]" in info.value.tokens


def test_a_metal_in_a_small_fragment_is_refused_not_dropped(vae):
    """vae.interpolate('cisplatin', ...) and vae.analogs('cisplatin') walked from ammonia:
    encoding keeps one fragment of N.N.Cl[Pt]Cl, so the platinum the model cannot write
    went unnoticed, while the CLI refuses cisplatin."""
    from molvae.alphabet import UnknownTokenError

    for call in (
        lambda: vae.interpolate("cisplatin", "aspirin", steps=3),
        lambda: vae.interpolate("aspirin", "Cisplatin", steps=3),
        lambda: vae.analogs("cisplatin", n=2),
        lambda: interpolate(vae, "N.N.Cl[Pt]Cl", ASPIRIN, steps=3),
        lambda: analogs(vae, "N.N.Cl[Pt]Cl", n=2),
    ):
        with pytest.raises(UnknownTokenError) as info:
            call()
        assert "[Pt]" in info.value.tokens
    # a salt's counterion is still stripped, as the CLI strips it
    assert interpolate(vae, "CC(=O)[O-].[Na+]", ASPIRIN, steps=2, anchor_samples=0).attrs["start"] == "CC(=O)O"


def test_facade_resolves_drug_names(vae):
    df = vae.interpolate("Aspirin", "acetaminophen", steps=4)
    assert df.attrs["start"] == ASPIRIN
    assert df.attrs["end"] == PARACETAMOL


def test_analogs(vae):
    df = analogs(vae, ASPIRIN, n=5, radius=1.0, seed=1)
    assert list(df.columns) == ["rank", "smiles", "tanimoto", "qed", "logp", "sa", "mw", "count"]
    assert len(df) <= 5 and len(df) == df["smiles"].nunique()
    assert ASPIRIN not in set(df["smiles"])
    assert (df["tanimoto"].diff().dropna() <= 1e-12).all()  # best first
    from molvae.chem import tanimoto

    assert len(df) > 1  # the checks below compare rows
    np.testing.assert_allclose(df["tanimoto"], tanimoto(ASPIRIN, df["smiles"]))  # each row's own similarity
    assert (df["count"] >= 1).all() and df["count"].sum() <= df.attrs["draws"]
    assert df.attrs["draws"] >= ANALOG_POOL_MIN  # a few analogues still come from the full pool
    again = analogs(vae, ASPIRIN, n=5, radius=1.0, seed=1)
    assert df["smiles"].tolist() == again["smiles"].tolist()


def test_analog_pool_has_a_floor_and_grows_with_n():
    """Few analogues are the most similar of at least ANALOG_POOL_MIN draws (250 per
    analogue left memantine's median Tanimoto at 0.38 for 20); many, of 250 each."""
    assert analog_pool(1) == analog_pool(20) == ANALOG_POOL_MIN == 20_000
    assert analog_pool(200) == 200 * ANALOG_POOL == 50_000
    assert analog_pool(np.int8(100)) == 25_000  # no int8 overflow


def test_analogs_draw_a_large_pool_in_pieces(vae, monkeypatch):
    """A large n must not draw 250 n points at once (n = 100,000 was killed for memory)."""
    import molvae.interpolation

    monkeypatch.setattr(molvae.interpolation, "ANALOG_CHUNK", 40)
    seen = []
    df = analogs(vae, ASPIRIN, n=2, radius=1.0, pool=100, seed=1, progress=lambda done, total: seen.append((done, total)))
    assert seen[:3] == [(40, 100), (80, 100), (100, 100)]
    assert df.attrs["draws"] >= 100


def test_analogs_that_find_nothing_return_an_empty_table(vae, monkeypatch, caplog):
    """Every draw decoding back to the query (a tiny radius) crashed with a KeyError
    while adding properties to the empty table, instead of returning no analogues."""
    import logging

    monkeypatch.setattr(vae, "decode", lambda z, **kw: ["CCO"] * len(z))
    with caplog.at_level(logging.WARNING, logger="molvae"):
        df = analogs(vae, "CCO", n=3, radius=1e-9, pool=10)
    assert list(df.columns) == ["rank", "smiles", "tanimoto", "qed", "logp", "sa", "mw", "count"]
    assert len(df) == 0 and df.attrs["query"] == "CCO"
    assert any("found 0 distinct analogues" in r.getMessage() for r in caplog.records)


def test_analogs_bad_arguments(vae):
    with pytest.raises(ValueError, match="radius"):
        analogs(vae, ASPIRIN, n=3, radius=0)
    for bad in (float("nan"), float("inf"), 1e39):  # 1e39: the points overflow float32
        with pytest.raises(ValueError, match="radius"):
            analogs(vae, ASPIRIN, n=3, radius=bad)
        with pytest.raises(ValueError, match="radius"):
            interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, guide=5, guide_radius=bad)
    with pytest.raises(ValueError, match="n must"):
        analogs(vae, ASPIRIN, n=0)


def test_analogs_count_and_radius_must_be_numbers(vae):
    """analogs(n=2.5) failed inside torch.randn with a message about tuples of ints, n=True
    was taken as 1, and radius='1' raised a TypeError from a comparison."""
    for bad in (2.5, True, "3"):
        with pytest.raises(ValueError, match="n must be an integer"):
            vae.analogs(ASPIRIN, bad)
    with pytest.raises(ValueError, match="radius"):
        vae.analogs(ASPIRIN, 2, "1")


def test_analogs_draw_counts_and_guide_must_be_whole_numbers(vae):
    """analogs(max_draws=0) or pool=0 silently meant the default and a negative value
    returned an empty table; interpolate(guide=2.5) failed inside numpy. Each is now the
    documented ValueError naming the argument."""
    for name in ("max_draws", "pool"):
        for bad in (0, -5, 2.5, True):
            with pytest.raises(ValueError, match=f"{name} must be an integer >= 1, got {bad!r}"):
                analogs(vae, ASPIRIN, n=2, **{name: bad})
    for bad in (2.5, True, -1):
        with pytest.raises(ValueError, match=f"guide must be an integer from 0 to 100,000, got {bad!r}"):
            interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, guide=bad)


def test_analogue_count_and_guide_are_bounded(vae, cli, expect_error, tmp_path):
    """analogs -n 1000000000 (a typo for 1000) ran on without a word, planning ten billion
    decodes, until memory ran out; --guide had no bound either. Both are refused now,
    before the model is loaded, with the bound in the message."""
    from molvae.interpolation import MAX_ANALOGS, MAX_GUIDE

    with pytest.raises(ValueError, match="n must be an integer from 1 to 1,000,000, got 1000001"):
        analogs(vae, ASPIRIN, n=MAX_ANALOGS + 1)
    with pytest.raises(ValueError, match="guide must be an integer from 0 to 100,000, got 100001"):
        interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, guide=MAX_GUIDE + 1)
    expect_error(cli("analogs", ASPIRIN, "-n", "1000000000", "-o", tmp_path / "a.csv", "--model", "/nonexistent.pt"), "-n must be between 1 and 1,000,000, got 1000000000")
    expect_error(cli("interpolate", ASPIRIN, PARACETAMOL, "--guide", "100001", "-o", tmp_path / "p.csv", "--model", "/nonexistent.pt"), "--guide must be between 0 and 100,000")
    assert not list(tmp_path.iterdir())


def test_fitted_density_round_trip(vae, train_smiles):
    from molvae.density import fit_latent_density, sample_density

    mu, _ = vae.try_encode(train_smiles[:400])
    mu = mu[~np.isnan(mu).any(1)]
    d = fit_latent_density(mu, components=3, seed=0)
    a, b = sample_density(d, 50, seed=3), sample_density(d, 50, seed=3)
    assert a.shape == (50, vae.d_z) and np.array_equal(a, b)
    # draws follow the fitted data, not N(0, I)
    assert np.allclose(a.mean(0), mu.mean(0), atol=4 * mu.std(0).max() / np.sqrt(50) + 0.5)
    # named: scikit-learn's own ValueError ('n_samples=2 should be >= n_components=3') also matched a bare ValueError
    with pytest.raises(ValueError, match="need at least 3 latent vectors, got 2"):
        fit_latent_density(mu[:2], components=3)


def test_fitted_density_logs_scikit_learns_warnings(caplog, recwarn):
    import logging

    from molvae.density import fit_latent_density

    z = np.zeros((10, 4), dtype=np.float32)  # one distinct point for 3 components
    with caplog.at_level(logging.WARNING, logger="molvae"):
        fit_latent_density(z, components=3, seed=0)
    assert any("distinct clusters" in r.getMessage() for r in caplog.records)
    assert not [w for w in recwarn if "distinct clusters" in str(w.message)]


def test_fitted_density_refuses_a_seed_scikit_learn_cannot_take():
    """A seed of 2**32 or more reached GaussianMixture, whose InvalidParameterError about
    'random_state' did not say which argument of fit_latent_density was wrong."""
    from molvae.density import fit_latent_density

    z = np.random.default_rng(0).standard_normal((20, 3))
    for bad in (2**32, -1):
        with pytest.raises(ValueError, match="seed must be"):
            fit_latent_density(z, components=2, seed=bad)
    assert fit_latent_density(z, components=2, seed=2**32 - 1)["n_fit"] == 20


def test_fitted_density_refuses_components_that_are_not_a_count():
    """components=True raised a bare 'TypeError: an integer is required', '2' a TypeError
    from a comparison, and 0 or 2.0 scikit-learn's InvalidParameterError about
    'n_components', a name fit_latent_density does not use."""
    from molvae.density import fit_latent_density

    z = np.random.default_rng(0).standard_normal((20, 3))
    for bad in (True, "2", 0, -1, 2.0):
        with pytest.raises(ValueError, match="components must be an integer >= 1, got"):
            fit_latent_density(z, components=bad)
    assert len(fit_latent_density(z, components=np.int64(2))["weights"]) == 2


def test_sample_density_refuses_a_bad_count():
    """sample_density(d, -1) or (d, 2.5) failed inside numpy ('negative dimensions are not
    allowed', 'expected a sequence of integers')."""
    from molvae.density import sample_density

    d = {"weights": [1.0], "means": np.zeros((1, 2)), "cholesky": np.eye(2)[None]}
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n must be an integer >= 0"):
            sample_density(d, bad)
    assert sample_density(d, 0).shape == (0, 2)


def test_anchor_samples_are_bounded(vae):
    """anchor_samples=10**11 drew every posterior sample at once: a RuntimeError traceback
    ('can't allocate memory: 3200000000000 bytes') from interpolate --anchor-samples."""
    from molvae.interpolation import MAX_ANCHOR_SAMPLES

    for bad in (MAX_ANCHOR_SAMPLES + 1, -1):
        with pytest.raises(ValueError, match="samples must be between 0 and"):
            anchor(vae, ASPIRIN, bad)
        with pytest.raises(ValueError, match="samples must be between 0 and"):
            interpolate(vae, ASPIRIN, PARACETAMOL, steps=2, anchor_samples=bad)
        with pytest.raises(ValueError, match="samples must be between 0 and"):
            analogs(vae, ASPIRIN, n=1, anchor_samples=bad)


def test_density_provenance_reuses_the_first_model_files_hash_only_for_the_same_weights(tmp_path):
    """fit-density records base_sha256 (the model file whose predictors the copy keeps)
    and weights_sha256. Refitting a copy whose density was fitted for the same weights
    keeps the earlier base_sha256; a density for other weights, or one without a base,
    gives the hash of the model file in use."""
    from types import SimpleNamespace

    import torch

    from molvae.density import density_provenance
    from molvae.predictors import file_sha256, vae_weights_sha256

    torch.manual_seed(0)
    path = tmp_path / "copy.pt"
    path.write_bytes(b"model file bytes")
    vae = SimpleNamespace(model=torch.nn.Linear(3, 2), checkpoint={"hparams": {"d_z": 2}, "alphabet": ["[C]"]}, path=path, latent_density=None)
    weights, own = vae_weights_sha256(vae), file_sha256(path)

    assert density_provenance(vae) == {"base_sha256": own, "weights_sha256": weights}
    vae.latent_density = {"base_sha256": "a" * 64, "weights_sha256": weights}
    assert density_provenance(vae) == {"base_sha256": "a" * 64, "weights_sha256": weights}
    vae.latent_density = {"base_sha256": "a" * 64, "weights_sha256": "b" * 64}  # other weights
    assert density_provenance(vae)["base_sha256"] == own
    vae.latent_density = {"base_sha256": "", "weights_sha256": weights}  # no base recorded
    assert density_provenance(vae)["base_sha256"] == own
    vae.latent_density, vae.path = None, None
    with pytest.raises(ValueError, match="no model file"):
        density_provenance(vae)


def test_inversion_steps_must_be_whole_numbers(vae):
    """invert(steps=2.5) never reached its last step and ran until the molecule was
    reconstructed (forever for one it cannot be); anchor, interpolate and analogs passed
    invert_steps=2.5 on to it, and None was a bare TypeError. Each is now a ValueError
    naming the argument, before any work."""
    can, ids = vae.tokenize(ASPIRIN)
    z0 = vae.encode([ASPIRIN])
    for bad in (None, "3", True, -1, 2.5):  # on the old code, None fails at once and 2.5 hangs
        with pytest.raises(ValueError, match="steps must be an integer >= 0"):
            invert(vae, ids, z0, "not the molecule", steps=bad)
        with pytest.raises(ValueError, match=f"invert_steps must be an integer >= 0, got {bad!r}"):
            anchor(vae, ASPIRIN, 4, invert_steps=bad)
        with pytest.raises(ValueError, match=f"invert_steps must be an integer >= 0, got {bad!r}"):
            interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, invert_steps=bad)
        with pytest.raises(ValueError, match=f"invert_steps must be an integer >= 0, got {bad!r}"):
            analogs(vae, ASPIRIN, n=2, invert_steps=bad)
    with pytest.raises(ValueError, match="check_every an integer >= 1"):
        invert(vae, ids, z0, can, steps=3, check_every=0.5)
    # an integer still ends at its last step, reconstructed or not
    assert invert(vae, ids, z0, "not the molecule", steps=np.int64(3))[2] == 3


def test_guide_radius_must_be_a_number(vae):
    """interpolate(guide_radius=True) walked with a radius of 1, and '0.5' or None ended in
    a bare TypeError from '<'; as analogs' radius, each is now a ValueError naming it."""
    for bad in (True, "0.5", None):
        with pytest.raises(ValueError, match=f"guide radius must be a number > 0 and <= 1e\\+30, got {bad!r}"):
            interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, guide=5, guide_radius=bad)
    # unused without guide, so not checked then
    assert len(interpolate(vae, ASPIRIN, PARACETAMOL, steps=3, guide_radius=None)) == 3



def test_numpy_integer_counts_give_what_python_ints_give(vae, monkeypatch):
    """Counts of a small numpy integer type overflowed in the arithmetic on them:
    analogs(n=np.int8(2)) raised OverflowError (250 * n), n=np.uint8(2) drew 244 points
    instead of 500 (other analogues, and a RuntimeWarning), and interpolate(guide=np.uint8(1))
    over 258 steps raised OverflowError (256 interior steps * guide). attrs kept numpy
    scalars (json.dumps(df.attrs) failed). Each now runs on Python ints."""
    import json

    import molvae.interpolation

    monkeypatch.setattr(molvae.interpolation, "ANALOG_POOL_MIN", 0)  # the pool is ANALOG_POOL * n
    kw = dict(radius=np.float32(1.0), seed=1, anchor_samples=0, invert_steps=0)
    want = analogs(vae, ASPIRIN, 2, **kw)
    assert want.attrs["draws"] == 500
    for n in (np.int8(2), np.uint8(2)):
        got = analogs(vae, ASPIRIN, n, **kw)
        assert got["smiles"].tolist() == want["smiles"].tolist() and got.attrs == want.attrs
        assert type(got.attrs["draws"]) is int and type(got.attrs["radius"]) is float
        json.dumps(got.attrs)
    kw = dict(anchor_samples=np.uint8(0), invert_steps=np.uint8(0), guide_radius=0.5)
    want = interpolate(vae, ASPIRIN, PARACETAMOL, 258, guide=1, **kw)
    got = interpolate(vae, ASPIRIN, PARACETAMOL, np.uint16(258), guide=np.uint8(1), **kw)
    assert got["smiles"].tolist() == want["smiles"].tolist() and got.attrs == want.attrs
    assert type(got.attrs["guide"]) is int
    json.dumps(got.attrs)


def test_a_dropped_fragment_is_said(vae, caplog):
    """A mixture or a salt with an organic counterion walked from its largest fragment
    alone, without a word (aspirin.paracetamol started from aspirin, paracetamol sodium
    benzoate's query was paracetamol); it is now a warning naming the molecule and the
    fragment used. A common counterion or solvent dropped (HCl, ethanol) is not."""
    import logging

    with caplog.at_level(logging.WARNING, logger="molvae"):
        df = interpolate(vae, f"{ASPIRIN}.{PARACETAMOL}", "CCO.Cl", steps=2, anchor_samples=0, invert_steps=0)
        found = analogs(vae, f"{PARACETAMOL}.[O-]C(=O)c1ccccc1.[Na+]", n=1, pool=10, anchor_samples=0, invert_steps=0)
    assert df.attrs["start"] == ASPIRIN and found.attrs["query"] == PARACETAMOL
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "fragments" in r.getMessage()]
    assert warnings == [
        f"the start {ASPIRIN}.{PARACETAMOL} has 2 fragments other than common counterions and solvents; only the largest, {ASPIRIN}, is used",
        f"the query {PARACETAMOL}.[O-]C(=O)c1ccccc1.[Na+] has 2 fragments other than common counterions and solvents; only the largest, {PARACETAMOL}, is used",
    ]


def test_a_table_without_analogues_has_the_column_types_of_one_with(vae, monkeypatch):
    """With no analogue found, smiles and count came back as float64 columns (strings and
    integers otherwise), so a loop that concatenated the tables of several queries got
    mixed columns."""
    import pandas as pd

    monkeypatch.setattr(vae, "decode", lambda z, **kw: ["CCN"] * len(z))
    some = analogs(vae, "CCO", n=2, pool=10, anchor_samples=0, invert_steps=0)
    monkeypatch.setattr(vae, "decode", lambda z, **kw: ["CCO"] * len(z))
    none = analogs(vae, "CCO", n=2, pool=10, anchor_samples=0, invert_steps=0)
    assert len(some) == 1 and len(none) == 0
    assert none.dtypes.to_dict() == some.dtypes.to_dict()
    assert some["count"].dtype == np.int64 and pd.api.types.is_string_dtype(none["smiles"])


def test_one_molecule_at_both_ends_is_anchored_once(vae, monkeypatch):
    """interpolate(vae, m, m) searched the same anchor twice (the same seed gives the same
    point), doubling the time of a walk from a molecule back to itself."""
    import molvae.interpolation

    calls = []
    real = molvae.interpolation.anchor
    monkeypatch.setattr(molvae.interpolation, "anchor", lambda vae, smiles, *a, **kw: calls.append(smiles) or real(vae, smiles, *a, **kw))
    df = interpolate(vae, "CCO", "OCC", steps=3, anchor_samples=4, invert_steps=0)
    assert calls == ["CCO"]
    assert df.attrs["start"] == df.attrs["end"] == "CCO" and df["smiles"].nunique() == 1
    calls.clear()
    interpolate(vae, "CCO", "CCN", steps=2, anchor_samples=0)
    assert calls == ["CCO", "CCN"]


def test_any_real_guide_radius_is_taken(vae):
    """guide_radius=Fraction(1, 2) passed the check (a real number) and then failed with
    'latent points must be real numbers, got objects (dtype object)'; it now walks as 0.5."""
    from fractions import Fraction

    kw = dict(steps=3, anchor_samples=0, invert_steps=0, guide=2)
    want = interpolate(vae, ASPIRIN, PARACETAMOL, guide_radius=0.5, **kw)
    got = interpolate(vae, ASPIRIN, PARACETAMOL, guide_radius=Fraction(1, 2), **kw)
    assert got["smiles"].tolist() == want["smiles"].tolist()


def test_path_ends_and_fractions_must_be_finite():
    """A NaN end (the try_encode row of a molecule that failed) or a NaN fraction gave a
    path of NaN points without a word; now a ValueError naming the operand."""
    good = np.ones(4)
    for method in ("slerp", "linear"):
        for bad in (np.nan, np.inf):
            end = good.copy()
            end[1] = bad
            with pytest.raises(ValueError, match="the start point must be finite"):
                latent_path(end, good, 3, method)
            with pytest.raises(ValueError, match="the end point must be finite"):
                latent_path(good, end, 3, method)
    for fn in (slerp, linear):
        with pytest.raises(ValueError, match="the fractions t must be finite"):
            fn(good, -good, [0.0, np.nan])


def test_fitted_density_refuses_latents_that_are_not_real_numbers():
    """Complex latents lost their imaginary part (a ComplexWarning), text such as "0.1" and
    booleans were read as numbers, and a mixture was fitted to them; now a TypeError."""
    from molvae.density import fit_latent_density

    z = np.random.default_rng(0).standard_normal((20, 3))
    for bad, kind in ((z + 1j, "complex"), (z.astype(str), "text"), (z > 0, "booleans")):
        with pytest.raises(TypeError, match=f"latent vectors must be real numbers, got {kind}"):
            fit_latent_density(bad, components=2)
    assert fit_latent_density(z.astype(np.float32).tolist(), components=2)["n_fit"] == 20


def test_sample_density_refuses_a_seed_that_is_not_a_count():
    """seed=None drew other points on every call (numpy's fresh entropy), True was taken as
    1, and -1 or 1.5 gave numpy's messages that named no argument; now a ValueError."""
    from molvae.density import sample_density

    d = {"weights": [1.0], "means": np.zeros((1, 2)), "cholesky": np.eye(2)[None]}
    for bad in (None, True, -1, 1.5, "3"):
        with pytest.raises(ValueError, match="seed must be an integer >= 0"):
            sample_density(d, 2, seed=bad)
    np.testing.assert_array_equal(sample_density(d, 2, seed=np.int64(3)), sample_density(d, 2, seed=3))
    assert sample_density(d, 1, seed=2**70).shape == (1, 2)  # generate seeds it past 2**63
