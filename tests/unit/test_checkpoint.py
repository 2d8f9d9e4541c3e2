"""The plain-dict model file: every broken file is a CheckpointError with a one-line message."""

from __future__ import annotations

import pickle
import shutil

import pytest
import torch

from molvae.checkpoint import FORMAT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from molvae.vae import MolVAE

#: Calls made while unpickling (a safe loader never makes any).
CALLS: list[str] = []


def _record(name: str) -> str:
    CALLS.append(name)
    return name


class Payload:
    """Runs code when unpickled, as a malicious pickle would."""

    def __reduce__(self):
        return (_record, ("payload ran",))


class Plain:
    def __init__(self):
        self.weights = [1, 2, 3]


def one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert msg and "\n" not in msg, msg
    assert "Traceback" not in msg
    return msg


@pytest.fixture
def ckpt(model_path) -> dict:
    return torch.load(model_path, map_location="cpu", weights_only=True)


def test_the_trained_file_loads(model_path):
    c = load_checkpoint(model_path)
    assert c["format"] == "molvae-checkpoint" and c["format_version"] == FORMAT_VERSION
    assert c["model_type"] == "selfies-gru-vae"


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "missing.pt")
    assert "not found" in one_line(info.value)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path)  # a folder is not a model file


@pytest.mark.parametrize("keep", [0, 10, 1000, 0.5, 0.99])
def test_truncated_file(model_path, tmp_path, keep):
    data = model_path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    p = tmp_path / "cut.pt"
    p.write_bytes(data[:n])
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    assert "cut.pt" in one_line(info.value)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(bytes(range(256)) * 20, id="binary"),
        pytest.param(b'{"state_dict": {}}', id="json"),
        pytest.param(b"x", id="one-byte"),
        pytest.param(b"this is not a model\n" * 10, id="text"),
        pytest.param(b"smiles\nCCO\n", id="csv"),
        pytest.param(pickle.dumps({"a": 1}, protocol=2), id="pickle-not-by-torch"),
        pytest.param(b"\x80\x04garbage" * 4, id="broken-pickle"),
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_not_a_torch_file(tmp_path, content):
    p = tmp_path / "junk.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    msg = one_line(info.value)
    assert "junk.pt" in msg and "not a model file" in msg
    assert "unpickle" not in msg  # not mistaken for a file of refused Python objects



@pytest.mark.parametrize("obj", [{"a": 1}, [1, 2, 3], torch.zeros(3), {"format": "other", "state_dict": {}}])
def test_foreign_torch_file(tmp_path, obj):
    p = tmp_path / "foreign.pt"
    torch.save(obj, p)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    assert "not a molvae model file" in one_line(info.value)


def test_newer_format_version(tmp_path, ckpt):
    p = tmp_path / "future.pt"
    torch.save({**ckpt, "format_version": 999}, p)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    msg = one_line(info.value)
    assert "999" in msg and "upgrade" in msg
    with pytest.raises(CheckpointError):
        MolVAE.load(p)


def test_older_or_equal_version_is_fine(tmp_path, ckpt):
    p = tmp_path / "same.pt"
    torch.save(ckpt, p)
    assert load_checkpoint(p)["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize("key", ["hparams", "alphabet", "state_dict", "format_version", "model_type"])
def test_missing_key(tmp_path, ckpt, key):
    p = tmp_path / "partial.pt"
    torch.save({k: v for k, v in ckpt.items() if k != key}, p)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    assert key in one_line(info.value)


def test_other_model_type(tmp_path, ckpt):
    p = tmp_path / "other.pt"
    torch.save({**ckpt, "model_type": "smiles-transformer"}, p)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    assert "smiles-transformer" in one_line(info.value)


@pytest.mark.parametrize("make", [lambda c: Plain(), lambda c: Payload(), lambda c: {**c, "training": {**c["training"], "extra": Payload()}}])
def test_pickled_objects_are_refused_without_running_them(tmp_path, ckpt, make):
    p = tmp_path / "pickled.pt"
    obj = make(ckpt)
    torch.save(obj, p)
    CALLS.clear()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(p)
    assert "does not unpickle" in one_line(info.value)
    assert CALLS == []  # nothing was executed
    # an unsafe loader would have run it: the test can tell
    torch.load(p, weights_only=False)
    assert CALLS == ([] if isinstance(obj, Plain) else ["payload ran"])


def test_inconsistent_contents_are_checkpoint_errors(tmp_path, ckpt):
    # one token fewer than the embedding expects
    short = {**ckpt, "alphabet": {**ckpt["alphabet"], "tokens": ckpt["alphabet"]["tokens"][:-1]}}
    torch.save(short, tmp_path / "short.pt")
    with pytest.raises(CheckpointError) as info:
        MolVAE.load(tmp_path / "short.pt")
    assert "tokens" in one_line(info.value)
    # weights of another shape
    wrong = {**ckpt, "hparams": {**ckpt["hparams"], "d_z": ckpt["hparams"]["d_z"] + 1}}
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(CheckpointError) as info:
        MolVAE.load(tmp_path / "wrong.pt")
    one_line(info.value)
    # an unknown hyper-parameter
    extra = {**ckpt, "hparams": {**ckpt["hparams"], "attention_heads": 4}}
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(CheckpointError):
        MolVAE.load(tmp_path / "extra.pt")


def test_save_is_atomic_and_fills_the_header(tmp_path, ckpt):
    body = {k: v for k, v in ckpt.items() if k not in ("format", "format_version", "model_type")}
    out = save_checkpoint(body, tmp_path / "sub" / "m.pt")
    assert out == tmp_path / "sub" / "m.pt"
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.pt"]  # no temporary left behind
    back = load_checkpoint(out)
    assert back["format_version"] == FORMAT_VERSION
    assert torch.equal(back["state_dict"]["embedding.weight"], ckpt["state_dict"]["embedding.weight"])


def test_a_file_that_cannot_be_written_is_an_os_error(tmp_path, ckpt, monkeypatch):
    """torch.save(path) raised a RuntimeError ('open file failed with strerror: ...') when
    the file could not be opened, which the CLI showed as a traceback (fit-density -o
    /sys/x.pt); writing through a file object raises an OSError naming the file asked
    for, and a write failing midway leaves no file and no temporary."""

    def full(obj, fh, *args, **kwargs):
        fh.write(b"partial")
        raise OSError(28, "No space left on device")

    (tmp_path / "m.pt").write_bytes(b"old")
    with monkeypatch.context() as m:
        m.setattr(torch, "save", full)
        with pytest.raises(OSError, match="No space left on device") as info:
            save_checkpoint(ckpt, tmp_path / "m.pt")
    assert str(info.value.filename) == str(tmp_path / "m.pt")
    assert (tmp_path / "m.pt").read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.pt"]
    save_checkpoint(ckpt, tmp_path / "n.pt")  # a writable file loads back
    assert load_checkpoint(tmp_path / "n.pt")["format_version"] == FORMAT_VERSION


def test_save_leaves_a_users_file_named_like_a_temporary_alone(tmp_path, ckpt):
    # the temporary was MODEL.pt.tmp: a file of that name was overwritten and removed
    (tmp_path / "m.pt.tmp").write_text("mine")
    save_checkpoint(ckpt, tmp_path / "m.pt")
    assert (tmp_path / "m.pt.tmp").read_text() == "mine"
    assert load_checkpoint(tmp_path / "m.pt")["format_version"] == FORMAT_VERSION


def test_checkpoint_error_is_a_user_error():
    from molvae.errors import USER_ERRORS

    assert issubclass(CheckpointError, ValueError)
    assert CheckpointError in USER_ERRORS


def test_copy_loads_like_the_original(model_path, tmp_path):
    shutil.copy(model_path, tmp_path / "copy.pt")
    a, b = MolVAE.load(model_path), MolVAE.load(tmp_path / "copy.pt")
    for (k, v), (k2, v2) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)


def test_a_plain_pickle_file_is_refused_without_a_torch_warning(tmp_path):
    # pickle.dump's default protocol (4+) made torch.load warn on stderr before the error
    import warnings

    path = tmp_path / "pickled.pt"
    with open(path, "wb") as fh:
        pickle.dump({"weights": [1, 2, 3]}, fh, protocol=pickle.DEFAULT_PROTOCOL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
    one_line(info.value)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("version", ["x", None, 1.5, True, [1]])
def test_a_format_version_that_is_not_an_integer_is_a_checkpoint_error(tmp_path, ckpt, version):
    # 'x' gave a bare ValueError from int(), None a TypeError (a traceback in the CLI)
    p = tmp_path / "m.pt"
    torch.save({**ckpt, "format_version": version}, p)
    with pytest.raises(CheckpointError, match="format version") as info:
        load_checkpoint(p)
    one_line(info.value)


@pytest.mark.parametrize(
    "key, value",
    [
        ("latent_density", "x"),
        ("latent_density", {"means": torch.zeros(2, 8)}),
        ("latent_density", {"means": torch.zeros(2, 3), "cholesky": torch.zeros(2, 3, 3), "weights": torch.ones(2)}),
        ("train_hashes", "x"),
        ("train_hashes", {"first": 1}),
    ],
)
def test_a_broken_density_or_hash_table_is_a_checkpoint_error(tmp_path, ckpt, key, value):
    # these loaded, then generate --latent fitted / novelty ended in a TypeError, KeyError
    # or AttributeError traceback
    p = tmp_path / "m.pt"
    torch.save({**ckpt, key: value}, p)
    with pytest.raises(CheckpointError, match=key) as info:
        MolVAE.load(p)
    one_line(info.value)
