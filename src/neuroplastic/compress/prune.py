r"""Pruning and synaptic turnover with persistent masks.

A pruned weight ``W`` carries a boolean buffer ``W_mask`` (``weight_mask`` beside ``weight``) and
the effective synapses are :math:`W \odot M`. Masks are enforced

* after **every optimizer step** (a global ``torch.optim`` step post-hook re-applies the mask of
  every masked parameter the optimizer holds, whatever optimizer it is and whenever it was built),
* before **every forward pass** of the layer (a forward pre-hook; covers in-place plasticity
  updates and manual edits),

so pruned synapses stay exactly zero through further training. Masks are part of the module's
``state_dict``; a pruned :class:`~neuroplastic.training.Model` built by a registered architecture
is re-tagged as architecture ``"pruned"`` (base architecture + masked parameter names), so
:func:`neuroplastic.io.save` / :func:`neuroplastic.io.load` round-trip masks and weights. For a
plain module use :func:`load_pruned_state_dict`.

Methods:

* :func:`prune_magnitude` -- remove the fraction ``s`` of weights with the smallest :math:`|w|`,
  per layer (``scope="layer"``) or with one threshold over all layers (``scope="global"``).
* :func:`prune_structured` -- remove whole neurons: the output rows (dense) or filters (conv) with
  the smallest L2 norm :math:`\|W_{i,:}\|_2`, and their bias.
* :func:`prune_regrow` -- synaptic turnover: drop the fraction ``f`` of active synapses with the
  smallest magnitude and regrow as many inactive ones, at random (SET, Mocanu et al. 2018) or
  where :math:`|\partial L/\partial w|` is largest (RigL, Evci et al. 2020). Regrown synapses start
  at zero. :class:`TurnoverCallback` runs it during ``Model.fit``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(10, 10))
    >>> round(prune_magnitude(net, 0.9)["0.weight"], 2)
    0.9
    >>> opt = torch.optim.SGD(net.parameters(), lr=1.0)
    >>> net(torch.randn(4, 10)).sum().backward(); opt.step()
    >>> int((net[0].weight != 0).sum())
    10
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Iterable

import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from neuroplastic.training.architectures import ARCHITECTURES, full_config, register_architecture
from neuroplastic.training.history import Callback

__all__ = [
    "TurnoverCallback", "apply_masks", "load_pruned_state_dict", "masks", "prunable", "prune_magnitude",
    "prune_regrow", "prune_structured", "remove_masks", "sparsity",
]

MASK_SUFFIX = "_mask"
# id(parameter) -> (weakref to the parameter, weakref to its module); keyed by id because tensors
# compare elementwise
_MASKED: dict[int, tuple[weakref.ref, weakref.ref]] = {}
_PRE_HOOK_ATTR = "_neuroplastic_mask_hook"


# --------------------------------------------------------------------------- enforcement


def _apply_module(module: nn.Module) -> None:
    """Multiply every masked parameter of ``module`` (not its children) by its mask."""
    with torch.no_grad():
        for name, mask in module._buffers.items():
            if mask is None or not name.endswith(MASK_SUFFIX):
                continue
            pname = name[: -len(MASK_SUFFIX)]
            p = module._parameters.get(pname)
            if p is None:
                continue
            if _lookup(p) is None:  # e.g. a deepcopy or a freshly loaded module
                _register(p, module)
            p.mul_(mask.to(p.dtype))


def _register(p: torch.Tensor, module: nn.Module) -> None:
    key = id(p)
    _MASKED[key] = (weakref.ref(p, lambda _, key=key: _MASKED.pop(key, None)), weakref.ref(module))


def _lookup(p: torch.Tensor) -> nn.Module | None:
    entry = _MASKED.get(id(p))
    if entry is None or entry[0]() is not p:
        return None
    return entry[1]()


def _pre_hook(module: nn.Module, args: Any) -> None:
    _apply_module(module)


def _optimizer_post_hook(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
    seen: set[int] = set()
    for group in optimizer.param_groups:
        for p in group["params"]:
            module = _lookup(p)
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                _apply_module(module)


register_optimizer_step_post_hook(_optimizer_post_hook)


def _install(module: nn.Module, pname: str, mask: torch.Tensor) -> None:
    """Attach (or replace) the mask of ``module.<pname>`` and the hooks that enforce it."""
    p = module._parameters[pname]
    mask = mask.to(device=p.device, dtype=torch.bool)
    bname = pname + MASK_SUFFIX
    if bname in module._buffers:
        module._buffers[bname] = mask
    else:
        module.register_buffer(bname, mask)
    if not getattr(module, _PRE_HOOK_ATTR, None):
        handle = module.register_forward_pre_hook(_pre_hook)
        object.__setattr__(module, _PRE_HOOK_ATTR, handle)
    _register(p, module)
    _apply_module(module)


def apply_masks(model: Any) -> None:
    """Re-apply every mask in ``model`` now (done automatically after optimizer steps and before forwards)."""
    for m in _module(model).modules():
        _apply_module(m)


# --------------------------------------------------------------------------- selection


def _module(model: Any) -> nn.Module:
    if isinstance(model, nn.Module):
        return model
    inner = getattr(model, "module", None)
    if isinstance(inner, nn.Module):
        return inner
    raise TypeError(f"expected an nn.Module or a neuroplastic Model, got {type(model).__name__}")


def prunable(model: Any, layers: Iterable[str] | None = None) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of the synaptic layers (``nn.Linear``/``nn.Conv2d`` and subclasses).

    Args:
        model: module or ``Model``.
        layers: restrict to these module names (as in ``named_modules()``); unknown names raise.
    """
    root = _module(model)
    found = [(n, m) for n, m in root.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
             and isinstance(m._parameters.get("weight"), torch.Tensor)]
    if layers is None:
        return found
    wanted = list(layers)
    names = {n for n, _ in found}
    missing = [n for n in wanted if n not in names]
    if missing:
        raise ValueError(f"layers {missing} are not prunable synaptic layers: choose among {sorted(names)}")
    return [(n, m) for n, m in found if n in wanted]


def _check_fraction(name: str, value: float, *, upper_inclusive: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number in [0, 1), got {value!r}") from None
    ok = 0.0 <= v <= 1.0 if upper_inclusive else 0.0 <= v < 1.0
    if not ok or math.isnan(v):
        bound = "[0, 1]" if upper_inclusive else "[0, 1) (1 would remove every synapse)"
        raise ValueError(f"{name} must be in {bound}, got {value!r}: pass e.g. {name}=0.9 for 90 %")
    return v


def _current_mask(module: nn.Module, pname: str = "weight") -> torch.Tensor:
    m = module._buffers.get(pname + MASK_SUFFIX)
    w = module._parameters[pname]
    return torch.ones_like(w, dtype=torch.bool) if m is None else m.to(torch.bool)


def _smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Flat indices of the ``k`` smallest scores (stable: ties broken by position)."""
    if k <= 0:
        return torch.zeros(0, dtype=torch.long, device=scores.device)
    return torch.argsort(scores.reshape(-1), stable=True)[:k]


def _retag(model: Any) -> None:
    """Record masked parameter names in a ``Model``'s architecture so checkpoints restore masks."""
    arch = getattr(model, "architecture", None)
    if isinstance(model, nn.Module) or arch is None:
        return
    names = sorted(n for n, _ in _module(model).named_buffers() if n.endswith(MASK_SUFFIX))
    names = [n[: -len(MASK_SUFFIX)] for n in names]
    if arch["name"] == "pruned":
        cfg = dict(arch["config"])
        cfg["masked"] = names
        model.architecture = {"name": "pruned", "config": cfg}
        return
    base_cfg = {k: v for k, v in arch.get("config", {}).items() if k not in ("n_in", "n_out")}
    cfg = full_config("pruned", n_in=arch["config"]["n_in"], n_out=arch["config"]["n_out"], base=arch["name"],
                      base_config=base_cfg, masked=names)
    model.architecture = {"name": "pruned", "config": cfg}


# --------------------------------------------------------------------------- pruning


def prune_magnitude(model: Any, sparsity: float, *, scope: str = "layer", layers: Iterable[str] | None = None) -> dict[str, float]:
    """Zero the fraction ``sparsity`` of weights with the smallest magnitude.

    Already pruned weights count as zero, so repeated calls with growing ``sparsity`` prune
    iteratively (gradual magnitude pruning).

    Args:
        model: module or ``Model``.
        sparsity: target fraction of zero weights in ``[0, 1)``, per layer or overall.
        scope: ``"layer"`` (each layer pruned to ``sparsity``) or ``"global"`` (one magnitude
            threshold over all selected layers; layers end up with different sparsities).
        layers: module names to prune (default: every ``Linear``/``Conv2d``).

    Returns:
        The resulting sparsity of each pruned weight, keyed ``"<module>.weight"``.
    """
    s = _check_fraction("sparsity", sparsity)
    if scope not in ("layer", "global"):
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    targets = prunable(model, layers)
    if not targets:
        raise ValueError("the model has no Linear/Conv2d weights to prune")
    if scope == "layer":
        for _, m in targets:
            w = m.weight.detach()
            score = w.abs() * _current_mask(m)
            drop = _smallest(score, round(s * w.numel()))
            mask = torch.ones(w.numel(), dtype=torch.bool, device=w.device)
            mask[drop] = False
            _install(m, "weight", mask.reshape(w.shape) & _current_mask(m))
    else:
        scores = torch.cat([(m.weight.detach().abs() * _current_mask(m)).reshape(-1).float().cpu() for _, m in targets])
        drop = _smallest(scores, round(s * scores.numel()))
        keep = torch.ones(scores.numel(), dtype=torch.bool)
        keep[drop] = False
        start = 0
        for _, m in targets:
            n = m.weight.numel()
            _install(m, "weight", keep[start:start + n].reshape(m.weight.shape).to(m.weight.device) & _current_mask(m))
            start += n
    _retag(model)
    return {f"{n}.weight": float((~_current_mask(m)).float().mean()) for n, m in targets}


def prune_structured(model: Any, fraction: float, *, layers: Iterable[str] | None = None,
                     include_output: bool = False) -> dict[str, list[int]]:
    r"""Remove whole neurons: zero the output rows (filters) with the smallest L2 norm, and their bias.

    A removed neuron receives no input and has no bias, so a LIF unit never fires and a ReLU unit
    outputs 0 (a sigmoid unit outputs the constant 0.5 and is better removed by shrinking the layer).

    Args:
        model: module or ``Model``.
        fraction: fraction of each layer's output neurons to remove, in ``[0, 1)``.
        layers: module names (default: every synaptic layer except the last one, whose outputs
            are the classes, unless ``include_output``).
        include_output: also prune the last synaptic layer when ``layers`` is None.

    Returns:
        The removed neuron indices of each layer.
    """
    f = _check_fraction("fraction", fraction)
    targets = prunable(model, layers)
    if layers is None and not include_output:
        targets = targets[:-1]
    if not targets:
        raise ValueError("no hidden synaptic layer to prune: pass layers=[...] or include_output=True")
    removed: dict[str, list[int]] = {}
    for name, m in targets:
        w = m.weight.detach()
        mask = _current_mask(m)
        norms = (w * mask).reshape(w.shape[0], -1).norm(dim=1)
        rows = _smallest(norms, round(f * w.shape[0]))
        mask = mask.clone()
        mask[rows] = False
        _install(m, "weight", mask)
        if isinstance(m._parameters.get("bias"), torch.Tensor):
            bmask = _current_mask(m, "bias").clone()
            bmask[rows] = False
            _install(m, "bias", bmask)
        removed[name] = sorted(int(r) for r in rows)
    _retag(model)
    return removed


def prune_regrow(model: Any, fraction: float, *, mode: str = "random", layers: Iterable[str] | None = None,
                 generator: torch.Generator | None = None) -> dict[str, int]:
    """One step of synaptic turnover: prune the weakest active synapses, regrow as many elsewhere.

    Layers without a mask are first given a full mask (nothing pruned), so turnover on a dense
    layer only moves zero-magnitude synapses; prune first to set the sparsity.

    Args:
        model: module or ``Model``.
        fraction: fraction of each layer's active synapses to turn over, in ``[0, 1]``.
        mode: ``"random"`` (SET: regrow uniformly among inactive synapses) or ``"gradient"``
            (RigL: regrow where ``|grad|`` is largest; needs ``weight.grad`` from a backward pass).
        layers: module names (default: every layer that already has a mask).
        generator: random generator for ``"random"`` mode.

    Returns:
        Number of synapses turned over per layer. The number of active synapses is unchanged.
    """
    f = _check_fraction("fraction", fraction, upper_inclusive=True)
    if mode not in ("random", "gradient"):
        raise ValueError(f"mode must be 'random' (SET) or 'gradient' (RigL), got {mode!r}")
    targets = prunable(model, layers)
    if layers is None:
        targets = [(n, m) for n, m in targets if "weight" + MASK_SUFFIX in m._buffers]
        if not targets:
            raise ValueError("no pruned layer to turn over: prune first (e.g. prune_magnitude(model, 0.9)) or pass layers=[...]")
    moved: dict[str, int] = {}
    for name, m in targets:
        w = m.weight.detach()
        mask = _current_mask(m).reshape(-1).clone()
        active = torch.nonzero(mask).reshape(-1)
        inactive = torch.nonzero(~mask).reshape(-1)
        k = min(round(f * active.numel()), inactive.numel())
        if k == 0:
            moved[name] = 0
            continue
        if mode == "gradient" and m.weight.grad is None:
            raise ValueError(f"mode='gradient' needs {name}.weight.grad: call loss.backward() before prune_regrow")
        # choose the new synapses among currently inactive ones (not those dropped now)
        if mode == "random":
            pick = inactive[torch.randperm(inactive.numel(), generator=generator, device="cpu")[:k].to(inactive.device)]
        else:
            g = m.weight.grad.detach().abs().reshape(-1)[inactive]
            pick = inactive[torch.argsort(g, descending=True, stable=True)[:k]]
        drop = active[_smallest(w.abs().reshape(-1)[active], k)]
        mask[drop] = False
        mask[pick] = True
        with torch.no_grad():
            m.weight.view(-1)[pick] = 0.0
        _install(m, "weight", mask.reshape(w.shape))
        moved[name] = int(k)
    _retag(model)
    return moved


class TurnoverCallback(Callback):
    """Synaptic turnover during ``Model.fit``: :func:`prune_regrow` every ``every`` batches.

    The turnover fraction decays with a cosine schedule over training (RigL's schedule):
    :math:`f_t = \\tfrac{f_0}{2}(1 + \\cos(\\pi t / t_{end}))` where ``t_end`` is the total number of
    training batches (or ``end_step``). In ``"gradient"`` mode it runs right after the optimizer
    step of a batch, when that batch's gradients are still in ``.grad``.

    Args:
        fraction: initial fraction of active synapses turned over per event.
        every: batches between turnover events.
        mode: ``"random"`` or ``"gradient"``.
        end_step: batch index after which turnover stops (default: the end of training).
        seed: seed of the random regrowth.
    """

    def __init__(self, fraction: float = 0.3, every: int = 50, mode: str = "random", end_step: int | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        self.fraction = _check_fraction("fraction", fraction, upper_inclusive=True)
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of batches, got {every!r}")
        self.every, self.mode, self.end_step = int(every), mode, end_step
        self.generator = torch.Generator().manual_seed(int(seed))
        self.step = 0
        self.events: list[dict[str, int]] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        end = self.end_step
        if end is None:
            steps, epochs = self.params.get("steps"), self.params.get("epochs")
            end = steps * epochs if steps and epochs else None
        if self.step % self.every or (end is not None and self.step >= end):
            return
        f = self.fraction if end is None else 0.5 * self.fraction * (1 + math.cos(math.pi * self.step / end))
        self.events.append(prune_regrow(self.model, f, mode=self.mode, generator=self.generator))


# --------------------------------------------------------------------------- inspection, persistence


def masks(model: Any) -> dict[str, torch.Tensor]:
    """``{"<module>.<param>": bool mask}`` of every masked parameter."""
    return {n[: -len(MASK_SUFFIX)]: b for n, b in _module(model).named_buffers() if n.endswith(MASK_SUFFIX)}


def sparsity(model: Any, layers: Iterable[str] | None = None) -> float:
    """Fraction of exactly-zero weights over the synaptic layers (biases excluded)."""
    targets = prunable(model, layers)
    zeros = sum(int((m.weight == 0).sum()) for _, m in targets)
    total = sum(m.weight.numel() for _, m in targets)
    return zeros / max(total, 1)


def remove_masks(model: Any) -> None:
    """Make pruning permanent: weights stay zero, masks and hooks are removed (training may regrow them)."""
    root = _module(model)
    apply_masks(root)
    for m in root.modules():
        for name in [b for b in m._buffers if b.endswith(MASK_SUFFIX)]:
            del m._buffers[name]
            p = m._parameters.get(name[: -len(MASK_SUFFIX)])
            if p is not None:
                _MASKED.pop(id(p), None)
        handle = getattr(m, _PRE_HOOK_ATTR, None)
        if handle is not None:
            handle.remove()
            object.__setattr__(m, _PRE_HOOK_ATTR, None)
    arch = getattr(model, "architecture", None)
    if not isinstance(model, nn.Module) and arch is not None and arch["name"] == "pruned":
        model.architecture = {"name": arch["config"]["base"],
                              "config": full_config(arch["config"]["base"], n_in=arch["config"]["n_in"],
                                                    n_out=arch["config"]["n_out"], **arch["config"]["base_config"])}


def install_masks(model: Any, names: Iterable[str]) -> None:
    """Give the parameters ``names`` (``"<module>.<param>"``) an all-true mask (to load masks into)."""
    root = _module(model)
    for full in names:
        mod_name, _, pname = full.rpartition(".")
        m = root.get_submodule(mod_name) if mod_name else root
        if pname not in m._parameters:
            raise ValueError(f"{full} is not a parameter of the model: the checkpoint does not fit this architecture")
        _install(m, pname, torch.ones_like(m._parameters[pname], dtype=torch.bool))


def load_pruned_state_dict(module: nn.Module, state_dict: dict[str, torch.Tensor], strict: bool = True) -> Any:
    """``module.load_state_dict`` that first installs the masks found in ``state_dict`` (``*_mask`` keys)."""
    install_masks(module, [k[: -len(MASK_SUFFIX)] for k in state_dict if k.endswith(MASK_SUFFIX)])
    out = module.load_state_dict(state_dict, strict=strict)
    apply_masks(module)
    return out


def _pruned_builder(n_in: int, n_out: int, base: str = "snn", base_config: dict | None = None,
                    masked: list | None = None) -> nn.Module:
    """Architecture ``"pruned"``: the ``base`` architecture with all-true masks on ``masked`` params."""
    from neuroplastic.training.architectures import build

    net = build(base, n_in=n_in, n_out=n_out, **(base_config or {}))
    install_masks(net, masked or [])
    return net


register_architecture(
    "pruned",
    compile=lambda cfg: ARCHITECTURES[cfg["base"]].compile(full_config(cfg["base"], n_in=cfg["n_in"], n_out=cfg["n_out"],
                                                                         **cfg["base_config"])),
)(_pruned_builder)
