"""The SELFIES alphabet: building, encoding, decoding, errors, persistence."""

from __future__ import annotations

import logging
import random

import pytest
import selfies as sf

from molvae.alphabet import SPECIAL_TOKENS, Alphabet, AlphabetError, SequenceTooLongError, UnknownTokenError


@pytest.fixture(scope="module")
def moses_selfies(train_smiles) -> list[str]:
    return [sf.encoder(s) for s in train_smiles[:1000]]


@pytest.fixture(scope="module")
def alphabet(moses_selfies) -> Alphabet:
    return Alphabet.build(moses_selfies)


def test_special_tokens_come_first(alphabet):
    assert alphabet.itos[:3] == list(SPECIAL_TOKENS)
    assert (alphabet.pad_id, alphabet.start_id, alphabet.end_id) == (0, 1, 2)
    assert len(alphabet) == len(alphabet.tokens) + 3
    assert "[C]" in alphabet.tokens and "[=O]" in alphabet.tokens


def test_max_length_is_longest_training_molecule(alphabet, moses_selfies):
    assert alphabet.max_length == max(sf.len_selfies(s) for s in moses_selfies)


def test_ids_do_not_depend_on_input_order(moses_selfies, alphabet):
    shuffled = list(moses_selfies)
    random.Random(1).shuffle(shuffled)
    assert Alphabet.build(shuffled).stoi == alphabet.stoi


def test_round_trip_on_real_molecules(alphabet, moses_selfies):
    for s in moses_selfies[:200]:
        ids = alphabet.encode(s)
        assert all(isinstance(i, int) and i >= 3 for i in ids)
        assert len(ids) == sf.len_selfies(s)
        assert alphabet.decode(ids) == s


def test_decode_stops_at_end_and_skips_pad_and_start(alphabet):
    ids = alphabet.encode("[C][C][O]")
    noisy = [alphabet.start_id, *ids, alphabet.end_id, *ids, alphabet.pad_id]
    assert alphabet.decode(noisy) == "[C][C][O]"
    assert alphabet.decode([alphabet.pad_id, *ids[:1], alphabet.pad_id, *ids[1:]]) == "[C][C][O]"
    assert alphabet.decode([alphabet.end_id, *ids]) == ""


@pytest.mark.parametrize("smiles, token", [("C[Se]C", "[Se]"), ("CC[Si](C)C", "[Si]"), ("CCI", "[I]")])
def test_unknown_token_is_named(alphabet, smiles, token):
    with pytest.raises(UnknownTokenError) as info:
        alphabet.encode(sf.encoder(smiles), molecule=smiles)
    err = info.value
    assert isinstance(err, AlphabetError) and isinstance(err, ValueError)
    assert err.tokens == [token]
    assert err.molecule == smiles
    assert token in str(err) and smiles in str(err)
    assert "\n" not in str(err)


def test_every_unknown_token_is_listed_once(alphabet):
    s = sf.encoder("C[Se]C[Si](C)C[Se]C")
    with pytest.raises(UnknownTokenError) as info:
        alphabet.encode(s)
    assert info.value.tokens == ["[Se]", "[Si]"]
    assert info.value.molecule == s  # without a name the SELFIES is reported
    assert alphabet.uncovered_tokens(s) == ["[Se]", "[Si]"]
    assert alphabet.uncovered_tokens(sf.encoder("CCO")) == []


@pytest.mark.parametrize("text", ["C", ".[C]", "CC[O]", "[C", "[C][O] ", "[C]]"])
def test_malformed_selfies_is_a_typed_error(alphabet, text):
    # selfies drops text before the first bracket ("C" gave no token at all, silently)
    # and raises a plain ValueError on a hanging bracket
    with pytest.raises(AlphabetError, match="malformed SELFIES"):
        alphabet.encode(text)
    with pytest.raises(AlphabetError, match="malformed SELFIES"):
        alphabet.uncovered_tokens(text)
    assert alphabet.encode("") == []


def test_too_long_raises(alphabet):
    s = sf.encoder("C" * 200)
    with pytest.raises(SequenceTooLongError) as info:
        alphabet.encode(s, molecule="C" * 200)
    err = info.value
    assert (err.length, err.max_length) == (200, alphabet.max_length)
    assert err.molecule == "C" * 200
    # exactly max_length tokens is fine, one more is not
    assert len(alphabet.encode("[C]" * alphabet.max_length)) == alphabet.max_length
    with pytest.raises(SequenceTooLongError):
        alphabet.encode("[C]" * (alphabet.max_length + 1))


def test_explicit_max_length():
    a = Alphabet.build(["[C][C][O]", "[C]"], max_length=5)
    assert a.max_length == 5
    a.encode("[C][C][C][C][O]")
    with pytest.raises(SequenceTooLongError):
        a.encode("[C][C][C][C][C][O]")


def test_build_from_nothing_fails():
    with pytest.raises(ValueError):
        Alphabet.build([])


def test_dict_round_trip(alphabet):
    d = alphabet.to_dict()
    assert set(d) == {"tokens", "max_length", "selfies_version", "constraints"}
    assert all(isinstance(t, str) for t in d["tokens"]) and isinstance(d["max_length"], int)
    back = Alphabet.from_dict(d)
    assert back.itos == alphabet.itos
    assert back.stoi == alphabet.stoi
    assert back.max_length == alphabet.max_length
    assert back.selfies_version == sf.__version__
    s = sf.encoder("CC(=O)Nc1ccccc1")
    assert back.encode(s) == alphabet.encode(s)


def test_from_dict_warns_about_another_selfies_version(alphabet, caplog):
    d = {**alphabet.to_dict(), "selfies_version": "0.0.1"}
    with caplog.at_level(logging.WARNING, logger="molvae.alphabet"):
        back = Alphabet.from_dict(d)
    assert back.selfies_version == "0.0.1"
    assert "0.0.1" in caplog.text


def test_has_stereo():
    assert not Alphabet.build([sf.encoder("CC(N)O")]).has_stereo
    assert Alphabet.build([sf.encoder("C[C@H](N)O")]).has_stereo
    assert Alphabet.build([sf.encoder("C/C=C/C")]).has_stereo


@pytest.mark.parametrize("bad", [-1, 10_000])
def test_decode_of_an_unknown_token_id_is_a_typed_error(alphabet, bad):
    # -1 silently became the last token (Python indexing), 10000 an IndexError
    ids = alphabet.encode("[C][C][O]")
    with pytest.raises(AlphabetError, match=f"token id {bad} "):
        alphabet.decode([*ids, bad])


def test_decode_refuses_token_ids_that_are_not_integers(alphabet):
    """decode read each id with int(): 1.5 was silently id 1 (and 4.9 id 4), True id 1,
    'x' a bare ValueError. A token id that is not an integer is now an AlphabetError
    naming it; numpy and torch integers are still taken, one by one or as arrays."""
    import numpy as np
    import torch

    ids = alphabet.encode("[C][C][O]")
    for bad in (1.5, float(ids[0]), True, "x", np.float32(2.0), torch.tensor(1.0)):
        with pytest.raises(AlphabetError, match="is not an integer"):
            alphabet.decode([*ids, bad])
    assert alphabet.decode(np.array(ids)) == alphabet.decode(torch.tensor(ids)) == alphabet.decode([np.int64(i) for i in ids]) == "[C][C][O]"


@pytest.mark.parametrize("bad", [None, 5, b"[C]"])
def test_encode_refuses_what_is_not_a_string(alphabet, bad):
    # None gave a bare AttributeError from inside selfies.split_selfies
    with pytest.raises(TypeError, match=r"a SELFIES string is a str, got (NoneType|int|bytes)"):
        alphabet.encode(bad)
    with pytest.raises(TypeError, match="a SELFIES string is a str"):
        alphabet.uncovered_tokens(bad)
