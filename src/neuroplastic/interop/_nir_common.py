"""Helpers shared by the NIR exporters of ``Sequential`` layers (:mod:`.nir_export`) and of the graph
``Network`` (:mod:`.nir_network`)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


def _arr(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A parameter (number or per-neuron tensor) as a float64 array of the neurons' shape."""
    a = value.detach().cpu().double().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(a, shape).astype(np.float64).copy()
    except ValueError:
        raise ValueError(f"a per-neuron parameter of shape {a.shape} does not fit the layer's neurons {shape}: "
                         "pass sample_data so the shapes are known, or one value per neuron") from None


def check_cuba_exportable(what: str, p: Any, shape: tuple[int, ...], more_fix: str = "") -> None:
    """Refuse CUBA LIF parameters NIR's CubaLIF cannot express (a refractory period, a bias current)."""
    if p.t_ref > 0:
        raise ValueError(f"{what} has t_ref={p.t_ref}: NIR neurons have no refractory period; build it with t_ref=0")
    if bool(np.any(_arr(p.i_bias, shape) != 0)):
        raise ValueError(f"{what} has a bias current i_bias={p.i_bias}, which NIR's CubaLIF lacks: fold it into "
                         f"v_rest (v_rest + i_bias){more_fix}")
