r"""Local learning inside :meth:`Model.fit <neuroplastic.training.Model.fit>`: the rules of ``Plastic`` layers.

``fit`` runs every kind of learning in one loop. Each training step does, in this order:

1. ``optimizer.zero_grad()``, then the forward pass of the batch (each batch starts from rest);
   forward hooks record, for every :class:`~neuroplastic.plasticity.Plastic` layer, its input
   (``pre``) and the activity it drives (``post``: the output of the next layer when that is a
   stateful neuron layer of a ``Sequential``, such as ``LIF``; otherwise the layer's own output,
   the linear response that Oja's and Hebb's rules expect);
2. with labels: the loss and ``loss.backward()`` (surrogate gradients through spikes);
3. the rule of every unfrozen ``Plastic`` layer, from the activity of that same forward pass and
   the weight it ran with, under ``torch.no_grad()``: ``compute`` for one step
   (``[B, ...]``), ``compute_sequence`` (the sum over time, weight held fixed) for time-first
   activity ``[T, B, ...]`` or several calls in one forward. Under data parallelism the update
   (and the rule's shared state, e.g. BCM's threshold) is averaged over the ranks, so every
   replica applies the same change. Then, per layer:

   * ``update="grad"``: ``weight.grad -= lr * dw``, so the optimizer (its schedule, clipping)
     applies it together with the gradients of step 2;
   * ``update="inplace"``: held until after the optimizer step;
4. gradient clipping, ``optimizer.step()``; then the held ``"inplace"`` updates
   ``w <- clamp(w + lr * dw, wmin, wmax)``, the bounds of ``"grad"`` layers
   (:meth:`~neuroplastic.plasticity.Plastic.constrain_`) and, where set, ``norm``
   (:meth:`~neuroplastic.plasticity.Plastic.normalize_`); then the callbacks.

With :class:`torch.optim.SGD` at ``lr=1`` the two update modes give the same weights. A
``"grad"`` layer whose weight the optimizer does not hold (no ``compile``, or frozen before
``compile``) gets its update as that same SGD step.

The state of a rule that is shared by the batch (BCM's sliding threshold) carries over from one
batch to the next within a ``fit`` call; per-sample traces (STDP's) start at rest with each batch,
like the neurons.

``learning`` chooses what runs (:func:`resolve_learning`): ``"plastic"`` (rules only, no labels,
no loss, no ``compile`` needed), ``"grad"`` (gradients only), ``"both"``, or ``"auto"``: rules
only for ``fit(x)``, both for ``fit(x, y)`` (gradients only when there is no ``Plastic`` layer).
Freezing (:func:`set_trainable`, ``Model.freeze``) switches gradients off for parameters; the
rules of frozen ``Plastic`` layers keep running when ``learning`` includes them.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import torch
import torch.distributed as dist
from torch import nn

from neuroplastic._core.checks import check_in_choices
from neuroplastic.network.sequential import is_stateful
from neuroplastic.plasticity.connection import Plastic, apply_update

__all__ = ["LEARNING", "PlasticStep", "plastic_layers", "resolve_learning", "set_trainable"]

LEARNING = ("auto", "both", "plastic", "grad")


def plastic_layers(module: nn.Module) -> list[tuple[str, Plastic]]:
    """``(name, layer)`` of every :class:`Plastic` inside ``module`` (``module`` itself included)."""
    return [(name, m) for name, m in module.named_modules() if isinstance(m, Plastic)]


def resolve_learning(learning: str, has_labels: bool, module: nn.Module) -> str:
    """``fit``'s ``learning`` argument resolved to ``"both"``, ``"plastic"`` or ``"grad"``.

    Raises:
        ValueError: an unknown value, or a combination that cannot train (rules asked for but no
            ``Plastic`` layer, labels missing or given where they are not used); the message
            names the fix.
    """
    check_in_choices("learning", learning, LEARNING)
    has_plastic = bool(plastic_layers(module))
    if learning == "auto":
        if not has_labels:
            if not has_plastic:
                raise ValueError("fit(x) without y trains only Plastic layers (local rules), and this model has none: "
                                 "pass labels, fit(x, y), for gradient training, or wrap a layer in "
                                 "neuroplastic.plasticity.Plastic(layer, rule)")
            return "plastic"
        return "both" if has_plastic else "grad"
    if learning in ("plastic", "both") and not has_plastic:
        raise ValueError(f"learning={learning!r} runs the rules of Plastic layers, and this model has none: use "
                         "learning='grad', or wrap a layer in neuroplastic.plasticity.Plastic(layer, rule)")
    if learning == "plastic" and has_labels:
        raise ValueError("learning='plastic' trains without labels: call fit(x, learning='plastic') without y, or "
                         "use learning='both' to train the other layers on y as well")
    return learning


def _resolve_targets(module: nn.Module, layers: Iterable[Any]) -> list[nn.Module]:
    named = dict(module.named_modules())
    mods: list[nn.Module] = []
    for item in layers:
        if isinstance(item, str):
            if item not in named:
                choices = ", ".join(repr(n) for n in list(named)[1:12])
                raise ValueError(f"no layer named {item!r} in this model: pass a module, or one of its names "
                                 f"(model.module.named_modules(): {choices}, ...)")
            mods.append(named[item])
        elif isinstance(item, nn.Module):
            if not any(item is m for m in named.values()):
                raise ValueError(f"{type(item).__name__} is not part of this model: pass one of its own layers")
            mods.append(item)
        elif isinstance(item, type) and issubclass(item, nn.Module):
            mods.extend(m for m in named.values() if isinstance(m, item))
        else:
            raise TypeError(f"freeze/unfreeze take layers (modules), their names or a layer class, got "
                            f"{type(item).__name__}")
    return mods


def set_trainable(module: nn.Module, layers: Iterable[Any], trainable: bool) -> list[str]:
    """Switch gradients on or off (``requires_grad``) for ``layers`` of ``module`` (all if empty).

    ``layers`` are modules of ``module``, their names in ``module.named_modules()`` (``"0"``,
    ``"2.layer"``) or a class (every layer of that class, e.g. ``Plastic``). Returns the names
    of the parameters changed.
    """
    layers = list(layers)
    targets = [module] if not layers else _resolve_targets(module, layers)
    ids = {id(p) for m in targets for p in m.parameters()}
    changed = []
    for name, p in module.named_parameters():
        if id(p) in ids and p.requires_grad != trainable:
            p.requires_grad_(trainable)
            changed.append(name)
    return changed


class _Record:
    """What the hooks saw of one ``Plastic`` layer during one forward pass."""

    __slots__ = ("pre", "post", "own")

    def __init__(self) -> None:
        self.pre: list[torch.Tensor] = []
        self.post: list[torch.Tensor] = []   # from the driven neuron layer, if any
        self.own: list[torch.Tensor] = []    # the layer's own outputs


def _shared_fields(conn: Plastic) -> tuple[str, ...]:
    """Fields of the rule state whose shape does not depend on the batch (shared by it)."""
    w = conn.weight.detach().reshape(conn.weight.shape[0], -1)
    n_out, n_in = w.shape
    kw = {"dtype": w.dtype, "device": w.device}
    one = conn.rule.init_state(torch.zeros(1, n_in, **kw), torch.zeros(1, n_out, **kw), w)
    two = conn.rule.init_state(torch.zeros(2, n_in, **kw), torch.zeros(2, n_out, **kw), w)
    return tuple(f for f in one._fields if isinstance(getattr(one, f), torch.Tensor)
                 and getattr(one, f).shape == getattr(two, f).shape)


def _first_step(x: torch.Tensor, time_first: bool) -> torch.Tensor:
    return x[0] if time_first else x


class PlasticStep:
    """Runs the local rules of a module's ``Plastic`` layers inside the training loop (see the module).

    Args:
        module: the model's module (not a DDP wrapper: hooks go on its layers).
        optimizer: the compiled optimizer, or None.
        world_size: ranks that train together; above 1 updates are averaged with
            ``torch.distributed`` (the process group of the strategy).
        states: layer name -> the shared fields of its rule state; read at the first batch and
            updated after each (``Model`` keeps it across ``fit`` calls and in checkpoints).
    """

    def __init__(self, module: nn.Module, optimizer: torch.optim.Optimizer | None, world_size: int = 1,
                 states: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        self.layers = [(n, c) for n, c in plastic_layers(module)]
        self._names = {id(c): n for n, c in self.layers}
        self.optimizer = optimizer
        self.world_size = int(world_size)
        held = set() if optimizer is None else {id(p) for g in optimizer.param_groups for p in g["params"]}
        self._by_optimizer = {id(c): id(c.weight) in held for _, c in self.layers}
        self._post_of = self._driven_neurons(module)
        self._records: dict[int, _Record] = {}
        self._handles: list[Any] = []
        self.states: dict[str, dict[str, torch.Tensor]] = {} if states is None else states
        self._shared: dict[int, tuple[str, ...]] = {}
        self._pending: list[tuple[Plastic, torch.Tensor]] = []
        self._updated: list[Plastic] = []
        self.recording = False
        self.last_change = 0.0

    def _driven_neurons(self, module: nn.Module) -> dict[int, nn.Module]:
        """``Plastic`` -> the stateful layer right after it in a sequential container."""
        out: dict[int, nn.Module] = {}
        for m in module.modules():
            if isinstance(m, nn.Sequential):
                children = list(m.children())
                for a, b in zip(children, children[1:]):
                    if isinstance(a, Plastic) and is_stateful(b):
                        out[id(a)] = b
        return out

    # ------------------------------------------------------------------ hooks
    def __enter__(self) -> "PlasticStep":
        for _, conn in self.layers:
            rec = self._records.setdefault(id(conn), _Record())
            self._handles.append(conn.register_forward_hook(self._own_hook(rec)))
            driven = self._post_of.get(id(conn))
            if driven is not None:
                self._handles.append(driven.register_forward_hook(self._post_hook(rec)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.clear()

    def _own_hook(self, rec: _Record):
        def hook(mod: nn.Module, inputs: tuple, output: Any) -> None:
            if self.recording:
                rec.pre.append(inputs[0].detach())
                rec.own.append((output[0] if isinstance(output, (tuple, list)) else output).detach())
        return hook

    def _post_hook(self, rec: _Record):
        def hook(mod: nn.Module, inputs: tuple, output: Any) -> None:
            if self.recording:
                rec.post.append((output[0] if isinstance(output, (tuple, list)) else output).detach())
        return hook

    def clear(self) -> None:
        for rec in self._records.values():
            rec.pre.clear()
            rec.post.clear()
            rec.own.clear()
        self._pending.clear()
        self._updated.clear()

    # ------------------------------------------------------------------ the rules
    def _activity(self, conn: Plastic, rec: _Record) -> tuple[torch.Tensor, torch.Tensor, bool]:
        post_list = rec.post if len(rec.post) == len(rec.pre) else rec.own
        step_ndim = 4 if conn.is_conv else 2
        time_first = rec.pre[0].ndim > step_ndim
        if len(rec.pre) == 1:
            return rec.pre[0], post_list[0], time_first
        if time_first:  # several time-first calls: one long presentation
            return torch.cat(rec.pre), torch.cat(post_list), True
        return torch.stack(rec.pre), torch.stack(post_list), True  # one step per call

    def _shared_of(self, conn: Plastic) -> tuple[str, ...]:
        if id(conn) not in self._shared:
            self._shared[id(conn)] = _shared_fields(conn)
        return self._shared[id(conn)]

    def _start_state(self, conn: Plastic, pre: torch.Tensor, post: torch.Tensor, time_first: bool) -> Any:
        prev = self.states.get(self._names[id(conn)])
        if not prev:
            return None
        fresh = conn.init_state(_first_step(pre, time_first), _first_step(post, time_first))
        keep = {f: t.to(getattr(fresh, f)) for f, t in prev.items() if f in fresh._fields
                and getattr(fresh, f).shape == t.shape}
        return fresh._replace(**keep)

    def _average(self, t: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1 and dist.is_available() and dist.is_initialized():
            t = t.contiguous()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t.div_(self.world_size)
        return t

    def compute(self) -> float:
        """Step 3: every ``Plastic`` layer's ``dw`` from the activity recorded in this forward pass.

        ``"grad"`` layers held by the optimizer get ``-lr * dw`` in ``weight.grad`` now; the
        others are applied by :meth:`apply`. Returns the Frobenius norm of all the changes
        ``lr * dw`` (logged as ``weight_change``).
        """
        total = 0.0
        self.last_change = 0.0
        for _, conn in self.layers:
            rec = self._records.get(id(conn))
            if rec is None or not rec.pre:
                continue
            pre, post, time_first = self._activity(conn, rec)
            with torch.no_grad():
                state = self._start_state(conn, pre, post, time_first)
                if time_first:
                    dw, state = conn.compute_sequence(pre, post, state)
                else:
                    dw, state = conn.compute(pre, post, state)
                dw = self._average(dw)
                shared = self._shared_of(conn)
                self.states[self._names[id(conn)]] = {f: self._average(getattr(state, f).clone()) for f in shared}
            self._updated.append(conn)
            total += float(dw.double().pow(2).sum()) * conn.lr ** 2
            if conn.update_mode == "grad" and self._by_optimizer[id(conn)]:
                apply_update(conn.weight, dw, "grad", lr=conn.lr)
            else:
                self._pending.append((conn, dw))
            rec.pre.clear()
            rec.post.clear()
            rec.own.clear()
        self.last_change = math.sqrt(total)
        return self.last_change

    def apply(self) -> None:
        """Step 4, after the optimizer step: held updates, bounds of ``"grad"`` layers, ``norm``."""
        for conn, dw in self._pending:
            # "inplace", or a "grad" layer outside the optimizer: the SGD step at rate 1 it would get
            apply_update(conn.weight, dw, "inplace", lr=conn.lr, wmin=conn.wmin, wmax=conn.wmax)
        self._pending.clear()
        for conn in self._updated:
            if conn.update_mode == "grad":
                conn.constrain_()
            conn.normalize_()
        self._updated.clear()

    @property
    def needs_optimizer_step(self) -> bool:
        """Whether some ``"grad"`` layer put its update into the optimizer's hands."""
        return any(c.update_mode == "grad" and self._by_optimizer[id(c)] for _, c in self.layers)
