"""When inputs are checked for NaN/inf: ``set_finite_checks`` modes, the environment variable, and
that data handed to ``Model`` is checked whatever the mode."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import neuroplastic
from neuroplastic._core import checks
from neuroplastic.neurons import LIF


@pytest.fixture
def mode():
    previous = checks.finite_check_mode()
    yield neuroplastic.set_finite_checks
    neuroplastic.set_finite_checks(previous)


def _nan_current() -> torch.Tensor:
    x = torch.ones(4, 2, 3)
    x[2, 1, 0] = float("nan")
    return x


def test_auto_checks_cpu_tensors(mode) -> None:
    mode("auto")
    with pytest.raises(ValueError, match=r"1 (NaN|infinite)"):
        LIF()(_nan_current())


def test_auto_skips_non_cpu_tensors_and_always_checks_them(mode) -> None:
    # The meta device stands in for an accelerator: any non-CPU tensor is skipped under "auto"
    # (a check there would synchronise the device); "always" reaches the reduction on it.
    x = torch.empty(3, device="meta")
    mode("auto")
    assert checks.check_finite("x", x) is x
    mode("always")
    with pytest.raises((RuntimeError, NotImplementedError)):  # meta tensors have no values to read
        checks.check_finite("x", x)


def test_never_lets_nan_through_and_returns_previous_mode(mode) -> None:
    assert mode("never") in checks.FINITE_CHECK_MODES
    spikes, _ = LIF()(_nan_current())
    assert spikes.shape == (4, 2, 3)
    assert mode("auto") == "never"


def test_model_data_is_checked_in_every_mode(mode) -> None:
    mode("never")
    m = neuroplastic.Model(nn.Linear(3, 2), device="cpu").compile("sgd", "cross_entropy")
    x = np.ones((4, 3), dtype=np.float32)
    x[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"x contains 1 (NaN|infinite)"):
        m.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)


def test_bad_mode_names_the_choices(mode) -> None:
    with pytest.raises(ValueError, match="'auto', 'always', 'never'"):
        mode("sometimes")


def test_environment_variable_sets_the_mode_and_a_bad_value_is_explained() -> None:
    code = "import neuroplastic._core.checks as c; print(c.finite_check_mode())"
    run = lambda v: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,  # noqa: E731
                                   env={**os.environ, "NEUROPLASTIC_CHECK_FINITE": v}, timeout=120)
    assert run("never").stdout.strip() == "never"
    bad = run("maybe")
    assert bad.returncode != 0 and "NEUROPLASTIC_CHECK_FINITE='maybe'" in bad.stderr


@pytest.mark.parametrize(("model", "reset"), [(m, r) for m in ("lif", "alif") for r in ("subtract", "zero", "none")]
                         + [("li", None)])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("where", [0, 5, 11])
@pytest.mark.parametrize("backend", [None, "reference"])
def test_any_nonfinite_input_raises_through_the_final_state_check(mode, model, reset, bad, where, backend) -> None:
    # LIF/ALIF/LI check their input through the final membrane (NaN/inf never leaves it): every
    # reset mode, the first/middle/last step, fused and reference backends must still raise.
    from neuroplastic.neurons import ALIF, LI

    mode("auto")
    if model == "li":
        neuron = LI(backend=backend)
    else:
        neuron = (LIF if model == "lif" else ALIF)(reset=reset, backend=backend)
    x = torch.randn(12, 3, 4) * 3
    x[where, 1, 2] = bad
    with pytest.raises(ValueError, match=r"1 (NaN|infinite)"):
        neuron(x)


def test_refractory_lif_still_scans_the_input(mode) -> None:
    # With t_ref > 0 the membrane is clamped while refractory, so an inf then can vanish from the
    # final state: the input itself must be scanned.
    mode("auto")
    x = torch.full((6, 1, 1), 5.0)
    x[1, 0, 0] = float("inf")  # arrives during the refractory period after the spike at step 0
    with pytest.raises(ValueError, match=r"1 (NaN|infinite)"):
        LIF(t_ref=3e-3)(x)
