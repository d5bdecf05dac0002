"""seed_everything, the backend registry and the state helpers."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from neuroplastic import seed_everything
from neuroplastic._core import (
    available_backends,
    detach_state,
    get_backend,
    map_state,
    register_backend,
    state_to,
)
from neuroplastic._core.registry import _REGISTRY
from neuroplastic.neurons import LIFState


def draw(g: torch.Generator):
    return (random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.rand(2, generator=g).tolist())


def test_same_seed_same_numbers() -> None:
    a = draw(seed_everything(123))
    b = draw(seed_everything(123))
    c = draw(seed_everything(124))
    assert a == b
    assert a[0] != c[0] and a[1] != c[1] and a[2] != c[2] and a[3] != c[3]
    seed_everything(5)
    net1 = torch.nn.Linear(3, 3).weight.detach().clone()
    seed_everything(5)
    assert torch.equal(torch.nn.Linear(3, 3).weight, net1)


def test_seed_rejects_bad_values() -> None:
    for bad in (-1, 1.5, "7"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            seed_everything(bad)


@pytest.fixture
def scratch_op():
    op = "_test_scratch_op"
    yield op
    _REGISTRY.pop(op, None)


def test_registry_priority_device_and_availability(scratch_op, monkeypatch) -> None:
    monkeypatch.delenv("NEUROPLASTIC_BACKEND", raising=False)
    register_backend(scratch_op, "reference")(lambda: "ref")
    register_backend(scratch_op, "fast_cpu", device_types=("cpu",), priority=10)(lambda: "fast")
    register_backend(scratch_op, "gpu_only", device_types=("cuda",), priority=20)(lambda: "gpu")
    register_backend(scratch_op, "broken", priority=30, available=lambda: False)(lambda: "broken")
    assert available_backends(scratch_op, "cpu") == ["fast_cpu", "reference"]
    assert available_backends(scratch_op, "cuda") == ["gpu_only", "reference"]
    assert available_backends(scratch_op) == ["gpu_only", "fast_cpu", "reference"]
    assert get_backend(scratch_op, "cpu")() == "fast"
    assert get_backend(scratch_op, torch.device("cuda"))() == "gpu"
    assert get_backend(scratch_op, "cpu", name="reference")() == "ref"
    with pytest.raises(ValueError, match=r"backend 'gpu_only' is not available for '_test_scratch_op' on cpu: choose one of \['fast_cpu', 'reference'\]"):
        get_backend(scratch_op, "cpu", name="gpu_only")
    monkeypatch.setenv("NEUROPLASTIC_BACKEND", "reference")
    assert get_backend(scratch_op, "cpu")() == "ref"
    monkeypatch.setenv("NEUROPLASTIC_BACKEND", "gpu_only")  # not for this device: falls back
    assert get_backend(scratch_op, "cpu")() == "ref"
    # Re-registering a name replaces it.
    register_backend(scratch_op, "fast_cpu", device_types=("cpu",), priority=10)(lambda: "fast2")
    monkeypatch.delenv("NEUROPLASTIC_BACKEND")
    assert get_backend(scratch_op, "cpu")() == "fast2"
    assert available_backends(scratch_op, "cpu").count("fast_cpu") == 1


def test_unknown_op() -> None:
    with pytest.raises(KeyError, match="unknown operation 'no_such_op': registered are"):
        available_backends("no_such_op")


def test_state_helpers_walk_nested_namedtuples() -> None:
    v = torch.ones(2, requires_grad=True)
    st = {"a": LIFState(v * 2, torch.zeros(2)), "b": [LIFState(v * 3, torch.ones(2)), None]}
    d = detach_state(st)
    assert not d["a"].v.requires_grad and isinstance(d["b"][0], LIFState) and d["b"][1] is None
    torch.testing.assert_close(d["b"][0].v, torch.full((2,), 3.0))
    h = state_to(st, torch.float64)
    assert h["a"].ref.dtype == torch.float64 and isinstance(h["a"], LIFState)
    m = map_state(lambda t: t + 1, st)
    torch.testing.assert_close(m["b"][0].ref, torch.full((2,), 2.0))
    assert torch.equal(st["b"][0].ref, torch.ones(2))  # inputs untouched


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")  # torch's own import
def test_run_eagerly_runs_outside_the_traced_graph_even_when_first_called_under_compile() -> None:
    """The disable is built lazily (importing torch._dynamo at definition cost every import ~2 s);
    its first call may come from inside torch.compile and must still run eagerly."""
    from neuroplastic._core.registry import run_eagerly

    seen = []

    @run_eagerly
    def g(x):
        seen.append(torch.compiler.is_compiling())
        return x * 2

    torch._dynamo.reset()
    out = torch.compile(lambda x: g(x + 1) - 1)(torch.ones(3))
    assert seen == [False] and torch.equal(out, torch.full((3,), 3.0))
    assert g(torch.ones(2)).tolist() == [2.0, 2.0] and seen == [False, False]


def test_import_neuroplastic_leaves_scikit_learn_and_dynamo_unloaded() -> None:
    """Both cost ~2 s each at import (and at every `neuroplastic --help`); they load on first use."""
    import subprocess
    import sys

    code = ("import sys, neuroplastic; print('sklearn' in sys.modules, 'torch._dynamo' in sys.modules); "
            "neuroplastic.HebbianNetwork; print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "True"]


def test_thread_policy_for_small_models() -> None:
    from neuroplastic._core.threads import SMALL_MODEL_PARAMS, cpu_threads, threads_for

    assert threads_for(SMALL_MODEL_PARAMS - 1) == 1 and threads_for(SMALL_MODEL_PARAMS) is None
    assert threads_for(10, 3) == 3 and threads_for(10, None) is None
    for bad in (0, -1, 1.5, True, "many"):
        with pytest.raises(ValueError, match="threads must be"):
            threads_for(10, bad)
    before = torch.get_num_threads()
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
    with pytest.raises(RuntimeError):
        with cpu_threads(2):
            assert torch.get_num_threads() == 2
            raise RuntimeError("restored even on error")
    assert torch.get_num_threads() == before
