r"""Spike-triggered plasticity (STDP, triplet STDP) on the CSR synapses of a graph network.

The rule is the library's (:mod:`neuroplastic.plasticity.stdp`): each step its traces advance
by one tick, for one sample (batch 1), through the rule's own trace step, which returns the four
factors of every spike-triggered rule,

.. math::
    \Delta w_{ij} = f_+(w_{ij})\, a^{ltp}_i c^{ltp}_j \;-\; f_-(w_{ij})\, a^{ltd}_i c^{ltd}_j ,

where :math:`a^{ltp}` is non-zero only at post-synaptic spikes and :math:`c^{ltd}` only at
pre-synaptic spikes (``i`` post, ``j`` pre; :math:`f_\pm` the rule's weight dependence). Two
ways to apply it, with the same values:

* :func:`clock_update_` (the reference): the rule's dense ``step`` on the whole ``[n_post, n_pre]``
  matrix, every synapse updated every step;
* :func:`event_update_`: only the synapses that can change are read and written, the outgoing
  row of each pre neuron that spiked (depression, read against the post traces) and the incoming
  column of each post neuron that spiked (potentiation, read against the pre traces). A synapse
  in both gets the two terms combined as the dense step combines them.

The traces decay per tick (one multiplication per neuron and step, the rule's own
``trace_step``), not lazily by elapsed time: a power :math:`a^k` is not bit-identical to ``k``
multiplications, and per tick is what makes event and clock runs agree exactly. The pairing uses
the spike steps of the two neurons (the synaptic delay moves the current, not the pairing).
Then ``w <- clamp(w + dw, wmin, wmax)`` (:func:`~neuroplastic.plasticity.apply_update`).
Propagation in a step uses the weights from before that step's update (Brian2's ``on_pre``
order: the target current gets the old weight).
"""
from __future__ import annotations

import torch

from neuroplastic.network._types import PlasticLink
from neuroplastic.plasticity import apply_update


def gather_ranges(ptr: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Concatenate ``arange(ptr[i], ptr[i + 1])`` for every ``i`` in ``idx`` (CSR row gather)."""
    start = ptr[idx]
    count = ptr[idx + 1] - start
    total = int(count.sum()) if count.numel() else 0
    if total == 0:
        return torch.zeros(0, dtype=torch.int64, device=ptr.device)
    first = torch.cumsum(count, 0) - count
    return torch.repeat_interleave(start - first, count) + torch.arange(total, device=ptr.device)


def _spikes(link: PlasticLink, s: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    (a0, a1), (b0, b1) = link.pre, link.post
    return s[a0:a1].to(dtype).unsqueeze(0), s[b0:b1].to(dtype).unsqueeze(0)


def event_update_(link: PlasticLink, weight: torch.Tensor, s: torch.Tensor, rule_state):
    """One step of ``link``'s rule, event-driven: updates ``weight`` (global CSR order) in place.

    Args:
        link: the compiled plastic projection.
        weight: all synaptic weights ``[nnz]``; only the touched synapses are written.
        s: this step's spike mask over all neurons ``[N]``.
        rule_state: the rule's traces (batch 1).

    Returns:
        ``(new_rule_state, n_touched)``: the advanced traces and how many synapses were updated.
    """
    pre, post = _spikes(link, s, weight.dtype)
    rule = link.rule
    a_ltp, c_ltp, a_ltd, c_ltd, new = rule._terms(pre, post, rule_state)  # the rule's trace step
    pre_idx = pre[0].nonzero().squeeze(1)
    post_idx = post[0].nonzero().squeeze(1)
    if pre_idx.numel() == 0 and post_idx.numel() == 0:
        return new, 0
    out_syn = gather_ranges(link.row_ptr, pre_idx)                 # rows of the pre neurons that spiked
    in_syn = link.col_perm[gather_ranges(link.col_ptr, post_idx)]  # columns of the post neurons that spiked
    if pre_idx.numel() and post_idx.numel():
        syn = torch.unique(torch.cat([out_syn, in_syn]))
    else:
        syn = out_syn if pre_idx.numel() else in_syn
    if syn.numel() == 0:
        return new, 0
    j, i, g = link.pre_local[syn], link.post_local[syn], link.gpos[syn]
    w = weight[g]
    ltp = a_ltp[0, i] * c_ltp[0, j]
    ltd = a_ltd[0, i] * c_ltd[0, j]
    if rule.weight_dependence == "additive":
        dw = ltp - ltd
    else:  # soft bounds, read on the weight before the update (as the dense step does)
        dw = ltp.mul_(rule._up(w)).sub_(ltd.mul_(rule._down(w)))
    apply_update(w, dw, "inplace", wmin=link.wmin, wmax=link.wmax)
    weight[g] = w
    return new, int(syn.numel())


def dense_weight(link: PlasticLink, weight: torch.Tensor) -> torch.Tensor:
    """The projection's ``[n_post, n_pre]`` weight matrix (zeros where there is no synapse)."""
    (a0, a1), (b0, b1) = link.pre, link.post
    w = torch.zeros(b1 - b0, a1 - a0, dtype=weight.dtype, device=weight.device)
    w[link.post_local, link.pre_local] = weight[link.gpos]
    return w


def clock_update_(link: PlasticLink, weight: torch.Tensor, s: torch.Tensor, rule_state):
    """One step of ``link``'s rule, clock-driven: the rule's dense ``step``, every synapse updated.

    Same arguments and returns as :func:`event_update_` (``n_touched`` is every synapse).
    """
    pre, post = _spikes(link, s, weight.dtype)
    dw, new = link.rule.step(pre, post, dense_weight(link, weight), rule_state)
    w = weight[link.gpos]
    apply_update(w, dw[link.post_local, link.pre_local], "inplace", wmin=link.wmin, wmax=link.wmax)
    weight[link.gpos] = w
    return new, int(link.gpos.numel())
