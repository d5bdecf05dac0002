"""Tests for neuroplastic.io checkpoints (safetensors + JSON, no pickle)."""
from __future__ import annotations

import ast
import json
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

import neuroplastic.io.checkpoint as ckpt_mod
from neuroplastic.io import CheckpointError, load, register_serializable, save
from neuroplastic.io.checkpoint import CheckpointWarning, load_config, load_tensors


@register_serializable("tests.io.TinyNet")
class TinyNet(nn.Module):
    def __init__(self, n_in: int = 4, n_hidden: int = 8, tied: bool = False) -> None:
        super().__init__()
        self.n_in, self.n_hidden, self.tied = n_in, n_hidden, tied
        self.enc = nn.Linear(n_in, n_hidden)
        self.dec = nn.Linear(n_hidden, n_in, bias=False)
        if tied:
            self.dec.weight = nn.Parameter(self.enc.weight.t())  # a view: shares storage
        self.register_buffer("scale", torch.linspace(0.5, 1.5, n_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dec(torch.tanh(self.enc(x))) * self.scale

    def get_config(self) -> dict:
        return {"n_in": self.n_in, "n_hidden": self.n_hidden, "tied": self.tied}

    @classmethod
    def from_config(cls, config: dict) -> "TinyNet":
        return cls(**config)


@register_serializable("tests.io.Prototypes")
class Prototypes:
    """Not an nn.Module: a nearest-prototype classifier with tensors and non-tensor extras."""

    def __init__(self, dim: int = 3, class_names: list[str] | None = None) -> None:
        self.dim = dim
        self.class_names = list(class_names or ["a", "b"])
        self.protos = torch.zeros(len(self.class_names), dim)
        self.history: list[float] = []

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> "Prototypes":
        for c in range(len(self.class_names)):
            self.protos[c] = x[y == c].mean(0)
        self.history.append(float(x.var()))
        return self

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cdist(x, self.protos).argmin(1)

    def get_config(self) -> dict:
        return {"dim": self.dim, "class_names": self.class_names, "history": self.history}

    @classmethod
    def from_config(cls, config: dict) -> "Prototypes":
        obj = cls(config["dim"], config["class_names"])
        obj.history = list(config["history"])
        return obj

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"protos": self.protos}

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        self.protos = state["protos"].clone()


def _net(seed: int = 0, **kw) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kw)


def _edit_config(d: Path, fn) -> None:
    cfg = json.loads((d / "config.json").read_text())
    fn(cfg)
    (d / "config.json").write_text(json.dumps(cfg))


def test_module_round_trip(tmp_path: Path) -> None:
    net = _net()
    x = torch.randn(5, 4)
    out = save(net, tmp_path / "ck", extra={"epoch": 7, "note": "hi"})
    assert out == tmp_path / "ck"
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "weights.safetensors"]
    net2 = load(out)
    assert isinstance(net2, TinyNet) and net2 is not net
    assert torch.equal(net(x), net2(x))
    doc = load_config(out / "config.json")  # a file inside the directory is accepted too
    assert doc["format"] == "neuroplastic-checkpoint" and doc["format_version"] == 2 and doc["version"] == 1
    assert doc["kind"] == "tests.io.TinyNet"
    assert doc["class"] == "tests.io.TinyNet" and doc["extra"] == {"epoch": 7, "note": "hi"}
    assert doc["config"] == {"n_in": 4, "n_hidden": 8, "tied": False}
    assert doc["tensors"]["enc.weight"]["shape"] == [8, 4]
    assert doc["tensors"]["scale"]["dtype"] == "float32"
    assert set(load_tensors(out)) == set(net.state_dict())


def test_tied_weights_and_odd_dtypes(tmp_path: Path) -> None:
    net = _net(tied=True)
    net.register_buffer("steps", torch.tensor(3, dtype=torch.int64))  # 0-dim
    net.register_buffer("mask", torch.tensor([True, False]))
    net.register_buffer("bf16", torch.randn(2, 3).to(torch.bfloat16).t())  # non-contiguous
    net.register_buffer("empty", torch.zeros(0, 3))
    save(net, tmp_path / "ck")
    t = load_tensors(tmp_path / "ck")
    for k, v in net.state_dict().items():
        assert t[k].dtype == v.dtype and torch.equal(t[k], v), k


def test_non_module_round_trip(tmp_path: Path) -> None:
    x = torch.tensor([[0.0, 0, 0], [0.1, 0, 0], [5, 5, 5], [5.1, 5, 5]])
    y = torch.tensor([0, 0, 1, 1])
    model = Prototypes(3, ["cat", "dog"]).fit(x, y)
    save(model, tmp_path / "p")
    m2 = load(tmp_path / "p")
    assert isinstance(m2, Prototypes)
    assert m2.class_names == ["cat", "dog"] and m2.history == model.history
    assert torch.equal(m2.protos, model.protos)
    assert torch.equal(m2.predict(x), y)


def test_truncated_weights(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    w = d / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"weights\.safetensors.*truncated or corrupt"):
        load(d)
    w.write_bytes(b"\x01\x02")
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_tensors(d)


def test_tampered_weights_fail_sha256(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    w = d / "weights.safetensors"
    data = bytearray(w.read_bytes())
    (header_len,) = struct.unpack("<Q", data[:8])
    data[8 + header_len + 3] ^= 0xFF  # a byte in the data region: still a valid file
    w.write_bytes(bytes(data))
    load_tensors(d, verify=False)  # readable...
    with pytest.raises(CheckpointError, match="sha256"):  # ...but detected
        load(d)


def test_edited_config_shape_and_kwargs(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    _edit_config(d, lambda c: c["tensors"]["enc.weight"].__setitem__("shape", [4, 8]))
    with pytest.raises(CheckpointError, match=r"enc\.weight.*shape \[8, 4\].*says \[4, 8\]"):
        load(d)
    d = save(_net(), tmp_path / "ck2")
    _edit_config(d, lambda c: c["config"].__setitem__("n_hidden", 16))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load(d)


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nope")
    d = save(_net(), tmp_path / "ck")
    (d / "weights.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"weights\.safetensors is missing"):
        load(d)
    (d / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json is missing"):
        load(d)


def test_bad_config_documents(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    _edit_config(d, lambda c: c.__setitem__("format_version", 99))
    with pytest.raises(CheckpointError, match="upgrade neuroplastic"):
        load(d)
    _edit_config(d, lambda c: c.__setitem__("format", "keras"))
    with pytest.raises(CheckpointError, match="not a neuroplastic checkpoint"):
        load(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(d)


def test_unknown_class_lists_registered(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    _edit_config(d, lambda c: c.update({"class": "NoSuchNet", "kind": "NoSuchNet"}))
    with pytest.raises(CheckpointError, match=r"'NoSuchNet'.*tests\.io\.TinyNet"):
        load(d)


def test_major_version_mismatch_warns(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    _edit_config(d, lambda c: c.__setitem__("library_version", "99.0.0"))
    with pytest.warns(CheckpointWarning, match="99.0.0"):
        load(d)


def test_strict_key_mismatch(tmp_path: Path) -> None:
    net = _net()
    net.register_buffer("stray", torch.ones(2))  # not created by from_config
    d = save(net, tmp_path / "ck")
    with pytest.raises(CheckpointError, match=r"unexpected keys \['stray'\].*strict=False"):
        load(d)
    net2 = load(d, strict=False)
    assert torch.equal(net2.enc.weight, net.enc.weight)


def test_save_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not registered"):
        save(nn.Linear(2, 2), tmp_path / "a")

    class Bad(TinyNet):  # unregistered subclass
        pass

    with pytest.raises(CheckpointError, match="register_serializable"):
        save(Bad(), tmp_path / "b")
    model = Prototypes()
    model.history = [torch.tensor(1.0)]  # not JSON-able
    with pytest.raises(CheckpointError, match="JSON"):
        save(model, tmp_path / "c")
    assert not (tmp_path / "c").exists()
    other = tmp_path / "user_dir"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="refusing to replace"):
        save(_net(), other)
    assert (other / "precious.txt").read_text() == "keep me"
    with pytest.raises(TypeError, match="lacks"):
        register_serializable("x")(type("NoMethods", (), {}))
    with pytest.raises(ValueError, match="already registered"):
        register_serializable("tests.io.TinyNet")(type("Other", (nn.Module,), {
            "get_config": lambda self: {}, "from_config": classmethod(lambda cls, c: cls())}))


def test_atomic_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = tmp_path / "ck"
    old_net, new_net = _net(0), _net(1)
    save(old_net, d)
    before = {p.name: p.read_bytes() for p in d.iterdir()}

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(CheckpointError, match="disk full.*nothing was changed"):
        save(new_net, d)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]  # no temp dirs left
    assert torch.equal(load(d).enc.weight, old_net.enc.weight)

    monkeypatch.undo()
    save(new_net, d)  # a successful replace
    assert torch.equal(load(d).enc.weight, new_net.enc.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_interrupted_replace_is_named(tmp_path: Path) -> None:
    d = save(_net(), tmp_path / "ck")
    d.rename(tmp_path / ".ck.old-abc123")  # as if killed between the two renames
    with pytest.raises(CheckpointError, match=r"\.ck\.old-abc123"):
        load(d)


def test_no_pickle_in_source() -> None:
    src = Path(ckpt_mod.__file__).read_text()
    tree = ast.parse(src)
    banned = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & banned
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in banned
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "torch":
                assert node.attr not in {"load", "save"}, f"torch.{node.attr} used"
            assert node.attr not in {"loads", "load"} or (
                isinstance(node.value, ast.Name) and node.value.id == "json"
            ), ast.unparse(node)
    assert "torch.load(" not in src and "import pickle" not in src
