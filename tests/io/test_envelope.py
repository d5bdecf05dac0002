"""The one checkpoint envelope: write/read, kinds, versions and migrations, file modes, stale folders."""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import neuroplastic as npl
from neuroplastic.io import (
    CheckpointError,
    load_config,
    migrate,
    read_checkpoint,
    read_header,
    register_migration,
    write_checkpoint,
)
from neuroplastic.io._envelope import TRAINING_PREFIX

SRC = Path(__file__).resolve().parents[2] / "src"


def test_write_read_round_trip(tmp_path: Path) -> None:
    t = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor([7], dtype=torch.int64)}
    d = write_checkpoint(tmp_path / "ck", kind="tests.io.stream", config={"a": 0.1, "b": [1, 2]}, tensors=t,
                         version=3, extra={"note": "x"}, training={"epoch": 2}, training_tensors={"s": torch.ones(2)})
    doc = json.loads((d / "config.json").read_text())
    assert (doc["format"], doc["format_version"], doc["kind"], doc["version"]) == ("neuroplastic-checkpoint", 2,
                                                                                   "tests.io.stream", 3)
    assert sorted(p.name for p in d.iterdir()) == ["config.json", "weights.safetensors"]
    ck = read_checkpoint(d, kind="tests.io.stream", version=3)
    assert ck.config == {"a": 0.1, "b": [1, 2]} and ck.extra == {"note": "x"} and ck.training == {"epoch": 2}
    assert set(ck.tensors) == {"w", "n"} and torch.equal(ck.tensors["w"], t["w"]) and ck.tensors["n"].dtype == torch.int64
    assert torch.equal(ck.training_tensors["s"], torch.ones(2))
    with pytest.raises(CheckpointError, match="holds a 'tests.io.stream' checkpoint, not 'other'"):
        read_checkpoint(d, kind="other")
    with pytest.raises(CheckpointError, match="reserved"):
        write_checkpoint(tmp_path / "bad", kind="k", config={}, tensors={TRAINING_PREFIX + "x": torch.ones(1)})


def test_migration_chain(tmp_path: Path) -> None:
    kind = "tests.io.migrating"

    @register_migration(kind, 1)
    def _one(c: dict) -> dict:
        c["width"] = c.pop("size")
        return c

    @register_migration(kind, 2)
    def _two(c: dict) -> dict:
        c["width"] = [c["width"]] * 2
        return c

    assert migrate(kind, {"size": 3}, 1) == {"width": [3, 3]}
    assert migrate(kind, {"size": 3}, 1, 2) == {"width": 3}
    d = write_checkpoint(tmp_path / "old", kind=kind, config={"size": 4}, version=1)
    ck = read_checkpoint(d, kind=kind)
    assert (ck.saved_version, ck.version, ck.config) == (1, 3, {"width": [4, 4]})
    assert read_checkpoint(write_checkpoint(tmp_path / "new", kind=kind, config={"width": [1, 1]}), kind=kind).version == 3
    newer = write_checkpoint(tmp_path / "newer", kind=kind, config={}, version=4)
    with pytest.raises(CheckpointError, match="newer than the 3.*upgrade neuroplastic"):
        read_checkpoint(newer)
    with pytest.raises(CheckpointError, match="no migration of tests.io.gap configs from version 1 to 2"):
        migrate("tests.io.gap", {}, 1, 2)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        d = write_checkpoint(tmp_path / "ck", kind="k", config={}, tensors={"w": torch.ones(3)})
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    assert stat.S_IMODE((d / "config.json").stat().st_mode) == want
    assert stat.S_IMODE((d / "weights.safetensors").stat().st_mode) == want


_KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys, torch
    import safetensors.torch as st
    from neuroplastic.io import write_checkpoint
    real = st.save_file
    def save_then_die(tensors, path, metadata=None):
        real(tensors, path, metadata=metadata)
        os.kill(os.getpid(), signal.SIGKILL)   # killed half-way through the save
    st.save_file = save_then_die
    write_checkpoint(sys.argv[1], kind="k", config={"v": 2}, tensors={"w": torch.full((4,), 2.0)})
""")


def test_sigkill_mid_save_keeps_old_and_next_save_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "model"
    write_checkpoint(target, kind="k", config={"v": 1}, tensors={"w": torch.ones(4)})
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], env=env, capture_output=True, timeout=120)
    assert res.returncode == -signal.SIGKILL, res.stderr.decode()
    leftovers = list(tmp_path.glob(".model.tmp-*"))
    assert len(leftovers) == 1 and (leftovers[0] / "weights.safetensors").exists()
    assert read_checkpoint(target).config == {"v": 1}  # the previous checkpoint is intact
    # a live writer's temporary folder is left alone
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        from neuroplastic.io._fs import _HOST

        live = tmp_path / f".other.tmp-{sleeper.pid}-{_HOST}-abcd1234"
        live.mkdir()
        write_checkpoint(target, kind="k", config={"v": 3}, tensors={"w": torch.zeros(4)})
        assert not leftovers[0].exists(), "the killed writer's folder was not removed"
        assert live.is_dir(), "a live writer's folder was removed"
    finally:
        sleeper.kill()
        sleeper.wait()
    assert read_checkpoint(target).config == {"v": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "model"]


def test_foreign_files_are_never_removed(tmp_path: Path) -> None:
    odd = tmp_path / ".notes.tmp-1-aaaaaa-x"
    odd.mkdir()
    (odd / "mine.txt").write_text("keep")
    os.utime(odd, (time.time() - 10**5, time.time() - 10**5))
    write_checkpoint(tmp_path / "ck", kind="k", config={})
    assert (odd / "mine.txt").read_text() == "keep"


def test_read_header_without_loading(tmp_path: Path) -> None:
    d = write_checkpoint(tmp_path / "ck", kind="k", config={}, tensors={"a": torch.zeros(3, 5), "b": torch.ones(2, dtype=torch.int32)})
    assert read_header(d / "weights.safetensors") == {"a": {"dtype": "float32", "shape": [3, 5]},
                                                       "b": {"dtype": "int32", "shape": [2]}}
    raw = (d / "weights.safetensors").read_bytes()
    (d / "weights.safetensors").write_bytes(raw[:-4])  # truncated
    with pytest.raises(CheckpointError, match="does not fit the file"):
        read_header(d / "weights.safetensors")
    (d / "weights.safetensors").write_bytes((10**12).to_bytes(8, "little") + b"{}")
    with pytest.raises(CheckpointError, match="declares a 1000000000000-byte header"):
        read_checkpoint(d)


def test_pickle_file_gets_a_message_naming_the_fix(tmp_path: Path) -> None:
    f = tmp_path / "model.pkl"
    f.write_bytes(b"\x80\x04N.")  # a real (harmless) pickle of None: it must not be opened as one
    with pytest.raises(CheckpointError) as e:
        npl.load(f)
    msg = str(e.value)
    assert "is a file, not a checkpoint folder" in msg and "pickle" in msg and "never loaded" in msg
    assert "does not exist" not in msg and "obj.save(folder)" in msg
    with pytest.raises(CheckpointError, match="does not exist"):
        npl.load(tmp_path / "absent")


def test_format_1_documents_read_as_version_1(tmp_path: Path) -> None:
    d = write_checkpoint(tmp_path / "ck", kind="tests.io.v1", config={"x": 1}, tensors={"w": torch.ones(1)})
    doc = json.loads((d / "config.json").read_text())
    for k in ("kind", "version"):
        del doc[k]
    doc["format_version"] = 1
    (d / "config.json").write_text(json.dumps(doc))
    assert load_config(d)["kind"] == "tests.io.v1"
    ck = read_checkpoint(d, kind="tests.io.v1")
    assert ck.saved_version == 1 and ck.config == {"x": 1}
