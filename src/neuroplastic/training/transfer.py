"""Transfer learning: reuse a trained model's layers on another task, frozen or fine-tuned.

``transfer(model, n_out)`` copies a :class:`~neuroplastic.training.Model` (or module), replaces
its last affine layer (``Dense``/``nn.Linear``/``Conv``) by a fresh one with ``n_out`` outputs,
and freezes everything else, so ``fit`` on the new task trains only the new head; ``unfreeze()``
then fine-tunes all of it. ``features(model)`` is the copy without that head: the learned
representation as a model of its own (spike trains ``[T, B, units]`` for a spiking network).
Features learned by plasticity transfer the same way; for the estimators, see
:meth:`neuroplastic.models.HebbianNetwork.fit_readout`.

Example:
    >>> import numpy as np
    >>> from neuroplastic.training import build_model
    >>> from neuroplastic.training.transfer import transfer
    >>> src = build_model("mlp_wide", n_in=8, n_out=3, hidden=[16], seed=0, device="cpu")  # Rate(16), Rate(3)
    >>> dst = transfer(src, n_out=2, seed=0)
    >>> sorted({n.split(".")[0] for n, p in dst.module.named_parameters() if p.requires_grad})
    ['1']
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from neuroplastic.training.model import Model

__all__ = ["features", "last_affine", "transfer"]

_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d)


def _module(source: Any) -> nn.Module:
    if isinstance(source, Model):
        return source.module
    if isinstance(source, nn.Module):
        return source
    raise TypeError(f"transfer takes a neuroplastic Model or an nn.Module, got {type(source).__name__}")


def last_affine(module: nn.Module) -> tuple[str, nn.Module]:
    """The name and module of the last affine layer (``Linear``/``Dense``, ``Conv``) in ``module``."""
    found = [(n, m) for n, m in module.named_modules() if isinstance(m, _AFFINE)]
    if not found:
        raise ValueError(f"{type(module).__name__} has no affine layer (Dense, nn.Linear, Conv) to replace: pass "
                         "head= with the new output layer")
    return found[-1]


def _fresh(old: nn.Module, n_out: int, seed: int) -> nn.Module:
    """A copy of ``old`` with ``n_out`` outputs and freshly initialised weights."""
    new = copy.deepcopy(old)
    w = old.weight
    new.weight = nn.Parameter(torch.empty((n_out, *w.shape[1:]), dtype=w.dtype, device=w.device))
    if getattr(old, "bias", None) is not None:
        new.bias = nn.Parameter(torch.empty(n_out, dtype=w.dtype, device=w.device))
    if isinstance(new, nn.Linear):
        new.out_features = n_out
    else:
        new.out_channels = n_out
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new.reset_parameters()
    return new


def _set(module: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = module.get_submodule(parent_name) if parent_name else module
    setattr(parent, leaf, new)


def _wrap(source: Any, module: nn.Module, n_out: int | None) -> Model:
    if isinstance(source, Model):
        arch = copy.deepcopy(source.architecture)
        if arch is not None and n_out is not None and "n_out" in arch.get("config", {}):
            arch["config"]["n_out"] = int(n_out)
        elif n_out is None:
            arch = None
        m = Model(module, device=source.device_setting, architecture=arch)
        m.input_shape = source.input_shape
        m.fit_defaults = dict(source.fit_defaults)
        return m
    return Model(module, device="cpu")


def transfer(source: Any, n_out: int | None = None, *, head: nn.Module | None = None, freeze: bool = True,
             seed: int = 0) -> Model:
    """A new :class:`Model` for another task, built from a copy of ``source``'s layers.

    Args:
        source: a trained :class:`Model` (or ``nn.Module``); it is not changed.
        n_out: outputs of the new task (classes): the last affine layer is replaced by a fresh
            one of that size, the layers after it (a readout neuron, say) are kept.
        head: instead of ``n_out``, a module that replaces the last affine layer.
        freeze: the copied layers get no gradients (train the head only); call
            :meth:`Model.unfreeze` to fine-tune everything afterwards.
        seed: seed of the new head's initial weights.

    Returns:
        An uncompiled :class:`Model` (compile it for the new task); ``classes`` are not carried over.
    """
    if (n_out is None) == (head is None):
        raise ValueError("give exactly one of n_out= (a fresh last layer of that size) and head= (your own layer)")
    if n_out is not None and (int(n_out) != n_out or n_out < 1):
        raise ValueError(f"n_out must be a positive integer, got {n_out!r}")
    module = copy.deepcopy(_module(source))
    name, old = last_affine(module)
    new = head if head is not None else _fresh(old, int(n_out), seed)
    if freeze:
        for p in module.parameters():
            p.requires_grad_(False)
    _set(module, name, new)
    for p in new.parameters():
        p.requires_grad_(True)
    return _wrap(source, module, int(n_out) if n_out is not None and head is None else None)


def features(source: Any, *, freeze: bool = True) -> Model:
    """The layers of ``source`` before its last affine layer, copied, as a :class:`Model` of their own.

    Works on :class:`~neuroplastic.network.Sequential` and ``nn.Sequential`` models whose last
    affine layer is a direct child (as every built-in architecture's is). ``predict_outputs`` of
    the result gives the learned representation; ``freeze`` switches its gradients off.
    """
    module = _module(source)
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"features() needs a Sequential model, got {type(module).__name__}: use transfer(head=...) "
                        "or take the layers you need by hand")
    name, _ = last_affine(module)
    top = name.split(".")[0]
    idx = [n for n, _ in module.named_children()].index(top)
    part = copy.deepcopy(module[:idx])
    if freeze:
        for p in part.parameters():
            p.requires_grad_(False)
    return _wrap(source, part, None)
