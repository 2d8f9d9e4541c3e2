"""LengthBucketBatches: same-length batches, one pass per epoch, determinism, resume, sharding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae.data import LengthBucketBatches


@pytest.fixture(scope="module")
def tokens() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    lengths = rng.choice([3, 4, 5, 7, 11], size=203)
    # token i carries its own index so batches can be traced back to molecules
    return [np.full(L, i, dtype=np.int16) for i, L in enumerate(lengths)]


def ids_of(batch: torch.Tensor) -> list[int]:
    return batch[:, 0].tolist()


def test_batches_have_one_length_and_cover_the_set_once(tokens):
    loader = LengthBucketBatches(tokens, 8, seed=3)
    seen = []
    n = 0
    for batch in loader:
        n += 1
        assert batch.dtype == torch.long and batch.ndim == 2
        assert 1 <= batch.shape[0] <= 8
        rows = ids_of(batch)
        assert all(len(tokens[i]) == batch.shape[1] for i in rows)
        assert (batch == torch.tensor(rows)[:, None]).all()  # the molecule's own tokens
        seen.extend(rows)
    assert sorted(seen) == list(range(len(tokens)))
    assert n == len(loader)


def test_len_counts_batches_per_length(tokens):
    lengths = [len(t) for t in tokens]
    expected = sum(-(-lengths.count(L) // 8) for L in set(lengths))
    assert len(LengthBucketBatches(tokens, 8)) == expected


def test_same_seed_same_order_other_epoch_other_order(tokens):
    a = [ids_of(b) for b in LengthBucketBatches(tokens, 8, seed=5)]
    b = [ids_of(b) for b in LengthBucketBatches(tokens, 8, seed=5)]
    c = [ids_of(b) for b in LengthBucketBatches(tokens, 8, seed=6)]
    assert a == b
    assert a != c
    loader = LengthBucketBatches(tokens, 8, seed=5)
    loader.set_epoch(1)
    e1 = [ids_of(b) for b in loader]
    assert e1 != a and sorted(sum(e1, [])) == list(range(len(tokens)))


def test_no_shuffle_is_sorted_by_length(tokens):
    loader = LengthBucketBatches(tokens, 8, shuffle=False)
    widths = [b.shape[1] for b in loader]
    assert widths == sorted(widths)
    flat = sum((ids_of(b) for b in loader), [])
    assert sorted(flat) == list(range(len(tokens)))


@pytest.mark.parametrize("consumed", [0, 1, 7, 20])
def test_resume_yields_exactly_the_remaining_batches(tokens, consumed):
    full = LengthBucketBatches(tokens, 8, seed=11)
    full.set_epoch(2)
    epoch2 = [ids_of(b) for b in full]

    resumed = LengthBucketBatches(tokens, 8, seed=11)
    resumed.load_state_dict({"epoch": 2, "consumed": consumed})
    assert resumed.state_dict() == {"epoch": 2, "consumed": consumed}
    resumed.set_epoch(2)  # what Lightning does when it restarts the epoch loop
    assert [ids_of(b) for b in resumed] == epoch2[consumed:]
    # the skip applies once: the next pass over the same epoch, and the next epoch, are whole
    assert [ids_of(b) for b in resumed] == epoch2
    resumed.set_epoch(3)
    full.set_epoch(3)
    assert [ids_of(b) for b in resumed] == [ids_of(b) for b in full]


def test_state_dict_round_trip(tokens):
    a = LengthBucketBatches(tokens, 8, seed=1)
    a.set_epoch(4)
    it = iter(a)
    for _ in range(3):
        next(it)
        a.consumed += 1  # the training module counts batches as they start
    b = LengthBucketBatches(tokens, 8, seed=1)
    b.load_state_dict(a.state_dict())
    rest = [ids_of(x) for x in it]
    assert [ids_of(x) for x in b] == rest


def test_ranks_partition_batches(tokens):
    whole = LengthBucketBatches(tokens, 8, seed=2)
    r0 = LengthBucketBatches(tokens, 8, seed=2, rank=0, world_size=2)
    r1 = LengthBucketBatches(tokens, 8, seed=2, rank=1, world_size=2)
    b0, b1 = [ids_of(b) for b in r0], [ids_of(b) for b in r1]
    assert len(b0) == len(b1) == len(r0) == len(r1) == len(whole) // 2
    s0, s1 = set(sum(b0, [])), set(sum(b1, []))
    assert not s0 & s1
    # together they are the single-process epoch, less at most one batch
    all_batches = [ids_of(b) for b in whole]
    assert sorted(b0 + b1) == sorted(all_batches[: 2 * (len(whole) // 2)])
    assert len(s0 | s1) >= len(tokens) - 8


def test_three_ranks(tokens):
    ranks = [[ids_of(b) for b in LengthBucketBatches(tokens, 4, seed=9, rank=r, world_size=3)] for r in range(3)]
    assert len({len(r) for r in ranks}) == 1
    flat = [i for r in ranks for b in r for i in b]
    assert len(flat) == len(set(flat))


def test_bad_batch_size(tokens):
    with pytest.raises(ValueError):
        LengthBucketBatches(tokens, 0)


def test_labels_travel_with_their_molecules(tokens):
    labels = np.arange(len(tokens), dtype=np.float32)[:, None] * np.array([[1.0, -1.0]], dtype=np.float32)
    labels[5] = np.nan
    n = 0
    for batch, y in LengthBucketBatches(tokens, 8, seed=3, labels=labels):
        assert y.dtype == torch.float32 and y.shape == (batch.shape[0], 2)
        torch.testing.assert_close(y, torch.from_numpy(labels[ids_of(batch)]), equal_nan=True)
        n += batch.shape[0]
    assert n == len(tokens)


def test_labels_must_match_the_molecules(tokens):
    with pytest.raises(ValueError, match="label rows"):
        LengthBucketBatches(tokens, 8, labels=np.zeros((3, 1)))


@pytest.mark.parametrize("world_size", [2, 3])
def test_validation_batches_cover_every_molecule_across_ranks(tokens, world_size):
    """Validation under DDP left out the batches that did not make a whole round of ranks:
    with one batch per length (21 lengths, 2 ranks), 3 of 100 validation molecules were
    never seen, and the metrics (the property head's R^2 included) were not the whole
    set's. With cover_all, batches are split until each rank gets as many."""
    val = tokens[:40]  # 5 lengths: one batch each with batches of 512
    ranks = [LengthBucketBatches(val, 512, shuffle=False, rank=r, world_size=world_size, cover_all=True) for r in range(world_size)]
    batches = [[ids_of(b) for b in loader] for loader in ranks]
    assert len({len(b) for b in batches}) == 1 and len(batches[0]) == len(ranks[0]) > 0
    flat = sorted(i for b in batches for batch in b for i in batch)
    assert flat == list(range(len(val)))
    for b in batches:
        for batch in b:
            assert len({len(val[i]) for i in batch}) == 1
    # too few molecules to split evenly: the smallest batches are still left out, ranks equal
    few = [np.full(L, i, dtype=np.int16) for i, L in enumerate([3, 4, 5])]
    ranks = [[ids_of(b) for b in LengthBucketBatches(few, 512, shuffle=False, rank=r, world_size=2, cover_all=True)] for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 1
