r"""Plasticity across ranks: every rank applies the same, globally averaged weight change.

A local rule computes :math:`\Delta W_r` from rank :math:`r`'s shard of the batch. For the
replicas to stay identical every rank must apply the average

.. math::
    \Delta W = \frac1R \sum_{r=1}^{R} \Delta W_r ,

which, for a rule with ``reduction="mean"`` and equal shards of ``b`` samples, is exactly the
update of one process on the global batch of :math:`Rb` samples (every rule is a batch mean of
per-sample terms). Two ways to get there:

* ``update="grad"`` connections write :math:`-\Delta W_r` into ``weight.grad``; if this happens
  *before* ``loss.backward()`` on a DDP-wrapped model, DDP's gradient all-reduce averages it with
  the surrogate gradients. Plasticity without a backward pass (or applied after it) is not
  seen by DDP;
* :class:`SyncPlastic` (or :func:`convert_sync_plastic` on a whole network, like
  :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`) averages :math:`\Delta W` itself with
  :func:`sync_plastic_update` at every step, for ``"inplace"`` and ``"grad"`` alike. It also
  averages the rule's *shared* state (state not indexed by sample, e.g. the BCM threshold
  :math:`\theta` or a homeostatic rate), so that state stays identical on all ranks too;
  per-sample traces (STDP's ``x_pre``/``x_post``) stay local to their shard.

Without a process group (or with one rank) all of this is the identity.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from neuroplastic.plasticity import Plastic
    >>> net = nn.Sequential(Plastic(nn.Linear(4, 2, bias=False), "oja"), nn.ReLU())
    >>> net = convert_sync_plastic(net)
    >>> type(net[0]).__name__
    'SyncPlastic'
"""
from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.distributed as dist
from torch import nn

from neuroplastic.distributed.process_group import DistributedError, is_distributed, peer_lost_message
from neuroplastic.plasticity.base import Rule
from neuroplastic.plasticity.connection import Plastic, apply_update

__all__ = ["SyncPlastic", "convert_sync_plastic", "shared_state_fields", "sync_plastic_update", "sync_rule_state"]


def _world(group: Any = None) -> int:
    return dist.get_world_size(group) if is_distributed() else 1


def _average_(t: torch.Tensor, group: Any, what: str) -> torch.Tensor:
    world = _world(group)
    if world == 1:
        return t
    t = t if t.is_contiguous() else t.contiguous()
    try:
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
    except RuntimeError as e:
        raise DistributedError(peer_lost_message(what, e)) from e
    return t.div_(world)


def sync_plastic_update(dw: torch.Tensor, group: Any = None) -> torch.Tensor:
    r"""Average a weight change over ranks, :math:`\Delta W \leftarrow \frac1R \sum_r \Delta W_r` (in place).

    Call it between ``rule.step`` and applying ``dw`` in a hand-written loop. Identity without a
    process group.

    Args:
        dw: this rank's weight change (any shape; made contiguous if needed).
        group: process group (default: the whole job).

    Returns:
        The averaged ``dw`` (the same tensor when it was contiguous).
    """
    return _average_(dw, group, "averaging a plastic weight change")


def shared_state_fields(rule: Rule, weight: torch.Tensor) -> tuple[str, ...]:
    """Names of the rule-state fields shared by the batch (their shape does not depend on it).

    Found by building the state at rest for batches of 1 and 2: fields whose shapes agree
    (BCM's ``theta`` ``[n_out]``) are shared; the others (traces ``[B, n]``) are per sample.
    """
    w = weight.detach().reshape(weight.shape[0], -1)
    n_out, n_in = w.shape
    kw = {"dtype": w.dtype, "device": w.device}
    one = rule.init_state(torch.zeros(1, n_in, **kw), torch.zeros(1, n_out, **kw), w)
    two = rule.init_state(torch.zeros(2, n_in, **kw), torch.zeros(2, n_out, **kw), w)
    return tuple(f for f in one._fields if isinstance(getattr(one, f), torch.Tensor)
                 and getattr(one, f).shape == getattr(two, f).shape)


def sync_rule_state(state: NamedTuple, fields: tuple[str, ...], group: Any = None) -> NamedTuple:
    """Average the named (shared) fields of a rule state over ranks; other fields stay local."""
    if _world(group) == 1 or not fields:
        return state
    new = {f: _average_(getattr(state, f).clone(), group, f"averaging the rule state field {f!r}") for f in fields}
    return state._replace(**new)


class SyncPlastic(Plastic):
    """A :class:`~neuroplastic.plasticity.Plastic` connection whose ``dw`` is averaged over ranks.

    Same arguments as ``Plastic`` plus ``group`` (default: the whole job). :meth:`compute`,
    :meth:`compute_sequence` and :meth:`update` (so also ``learn_sequence`` with
    ``apply="step"`` or ``"end"``) all-reduce ``dw`` and the rule's shared state before anything
    is applied, so all ranks apply the same change and stay identical. Costs one all-reduce of
    the weight's size per step (or per presentation with ``apply="end"``) and connection;
    ``update`` takes the dense path instead of the rule's sparse ``accumulate_``, since the
    averaged ``dw`` is dense anyway.
    """

    def __init__(self, layer: nn.Module, rule: Rule | str, *, group: Any = None, **kwargs: Any) -> None:
        super().__init__(layer, rule, **kwargs)
        self.group = group
        self._shared: tuple[str, ...] | None = None

    @classmethod
    def from_plastic(cls, conn: Plastic, group: Any = None) -> "SyncPlastic":
        """A ``SyncPlastic`` sharing ``conn``'s layer (same parameters) and settings."""
        new = cls(conn.layer, conn.rule, update=conn.update_mode, lr=conn.lr, wmin=conn.wmin, wmax=conn.wmax,
                  norm=conn.norm, group=group)
        new.train(conn.training)
        return new

    def _sync(self, dw: torch.Tensor, state: NamedTuple) -> tuple[torch.Tensor, NamedTuple]:
        if _world(self.group) > 1:
            dw = sync_plastic_update(dw, self.group)
            if self._shared is None:
                self._shared = shared_state_fields(self.rule, self._rule_weight())
            state = sync_rule_state(state, self._shared, self.group)
        return dw, state

    def compute(self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *,
                modulator: Any = None) -> tuple[torch.Tensor, NamedTuple]:
        """``(dw, new_state)`` for one step, averaged over ranks; nothing is applied."""
        return self._sync(*super().compute(pre, post, state, modulator=modulator))

    def compute_sequence(self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *,
                         modulator: Any = None) -> tuple[torch.Tensor, NamedTuple]:
        """Summed ``dw`` of a presentation (weight held fixed), averaged over ranks."""
        return self._sync(*super().compute_sequence(pre, post, state, modulator=modulator))

    def update(self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *,
               modulator: Any = None) -> NamedTuple:
        """Compute ``dw`` for one step, average it over ranks, then apply it (dense path:
        ``apply_update(weight, compute(...)[0], ...)``, which ``Plastic.update`` equals)."""
        dw, state = self.compute(pre, post, state, modulator=modulator)
        apply_update(self.weight, dw, self.update_mode, lr=self.lr, wmin=self.wmin, wmax=self.wmax)
        return state


def convert_sync_plastic(module: nn.Module, group: Any = None) -> nn.Module:
    """Replace every ``Plastic`` in ``module`` by a :class:`SyncPlastic` on the same layer.

    Returns the converted module (a new object if ``module`` itself is a ``Plastic``). Parameters
    are shared, not copied, so optimizers built before the conversion stay valid.
    """
    if isinstance(module, Plastic) and not isinstance(module, SyncPlastic):
        return SyncPlastic.from_plastic(module, group)
    for name, child in list(module.named_children()):
        new = convert_sync_plastic(child, group)
        if new is not child:
            setattr(module, name, new)
    return module
