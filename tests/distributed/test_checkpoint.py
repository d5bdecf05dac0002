"""Checkpoints cross between distributed and single-process runs; resuming reproduces a straight run."""
from __future__ import annotations

import pytest
import safetensors.torch
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset

from neuroplastic.distributed import init_distributed, load_state_dict, resume_epoch, unwrap_state_dict
from neuroplastic.training import Model, ModelCheckpoint, build_model

N, B, LR, SEED = 32, 4, 0.1, 3


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(N, 6, generator=g)
    return x, (x[:, 0] > 0).long()


def _fresh(seed: int) -> Model:
    return build_model("mlp_wide", n_in=6, n_out=2, hidden=[8], device="cpu", seed=seed).compile(
        "sgd", "cross_entropy", lr=LR)


def test_resume_and_loader_input(launch, tmp_path):
    """Rank 0 alone reads the checkpoint (DDP broadcasts its weights); the resumed run equals a
    straight one, and a shuffled DataLoader is split exactly like arrays."""
    x, y = _data()
    ckpt = tmp_path / "ckpt"

    def work(rank, world):
        straight = _fresh(0)
        straight.fit(x, y, epochs=3, batch_size=B, seed=SEED, verbose=0, strategy="ddp")
        first = _fresh(0)
        first.fit(x, y, epochs=1, batch_size=B, seed=SEED, verbose=0, strategy="ddp",
                  callbacks=[ModelCheckpoint(ckpt, monitor="loss")])
        if rank == 0:
            resumed, start = Model.load(ckpt).compile("sgd", "cross_entropy", lr=LR), resume_epoch(ckpt)
        else:  # different weights and no file access: setup() must broadcast rank 0's
            resumed, start = _fresh(123), 1
        resumed.fit(x, y, epochs=3, batch_size=B, seed=SEED, verbose=0, strategy="ddp", initial_epoch=start)
        from_loader = _fresh(0)
        from_loader.fit(DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True), epochs=3, seed=SEED,
                        verbose=0, strategy="ddp")
        return straight.get_weights(), resumed.get_weights(), from_loader.get_weights(), start

    for straight, resumed, from_loader, start in launch.ok(work):
        assert start == 1
        for k in straight:
            torch.testing.assert_close(resumed[k], straight[k], rtol=0, atol=1e-7)
            torch.testing.assert_close(from_loader[k], straight[k], rtol=0, atol=1e-7)


def test_ddp_state_dicts_load_in_one_process_and_back(launch, tmp_path):
    torch.manual_seed(5)
    single = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    safetensors.torch.save_file(single.state_dict(), str(tmp_path / "single.safetensors"))
    wrapped_file = tmp_path / "wrapped.safetensors"

    def work(rank, world):
        init_distributed()
        torch.manual_seed(100 + rank)
        ddp = DDP(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
        if rank == 0:
            safetensors.torch.save_file({k: v.contiguous() for k, v in ddp.state_dict().items()}, str(wrapped_file))
        sd = ddp.state_dict()
        load_state_dict(ddp, safetensors.torch.load_file(str(tmp_path / "single.safetensors")))
        return list(sd), {k: v.clone() for k, v in ddp.module.state_dict().items()}

    (keys, loaded), _ = launch.ok(work)
    assert all(k.startswith("module.") for k in keys)  # what DDP writes ...
    for k, v in single.state_dict().items():  # ... and a single-process file loads into the wrapper
        assert torch.equal(loaded[k], v)
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    wrapped = safetensors.torch.load_file(str(wrapped_file))
    load_state_dict(plain, wrapped)  # the distributed file loads into a plain module
    for k, v in unwrap_state_dict(wrapped).items():
        assert torch.equal(plain.state_dict()[k], v)


def test_unwrap_state_dict_only_strips_a_common_prefix():
    sd = {"module.a": torch.zeros(1), "b": torch.ones(1)}
    assert unwrap_state_dict(sd) == sd  # mixed keys: left alone
    assert list(unwrap_state_dict({"module.module.w": 1})) == ["module.w"]


def test_resume_epoch_needs_a_model_checkpoint(tmp_path):
    from neuroplastic.io import save

    m = build_model("mlp_wide", n_in=2, n_out=2, hidden=[3], device="cpu")
    save(m, tmp_path / "plain")
    with pytest.raises(ValueError, match="initial_epoch"):
        resume_epoch(tmp_path / "plain")
    save(m, tmp_path / "mc", extra={"epoch": 4})
    assert resume_epoch(tmp_path / "mc") == 5


def test_save_on_main_passes_training_options(tmp_path):
    """Outside a launch this process is the main one: save_on_main writes what fit(resume=) needs."""
    from neuroplastic.distributed.checkpoint import save_on_main
    from neuroplastic.io import load_config

    x, y = _data()
    straight = _fresh(0)
    straight.fit(x, y, epochs=3, batch_size=B, seed=SEED, verbose=0)
    first = _fresh(0)
    first.fit(x, y, epochs=1, batch_size=B, seed=SEED, verbose=0)
    save_on_main(first, tmp_path / "ck", include_optimizer=True)
    assert load_config(tmp_path / "ck")["training"]["epoch"] == 0
    resumed = Model.load(tmp_path / "ck")
    resumed.fit(x, y, epochs=3, verbose=0, resume=tmp_path / "ck")
    for k, v in straight.get_weights().items():
        assert torch.equal(resumed.get_weights()[k], v)
