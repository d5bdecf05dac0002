"""Applying plasticity to a connection: ``Plastic(layer, rule, update="inplace" | "grad")``.

One connection, one choice:

* ``"inplace"``: ``w <- clamp(w + lr * dw, wmin, wmax)`` right away (classic local learning);
* ``"grad"``: ``w.grad += -lr * dw``, so any :mod:`torch.optim` optimizer, learning-rate schedule
  or gradient clipping applies the update, and it adds to surrogate gradients from ``backward()``
  in the same model (call ``optimizer.zero_grad()`` before, ``optimizer.step()`` after, then
  :meth:`Plastic.constrain_` to re-apply the bounds). With :class:`torch.optim.SGD` at
  ``lr=1`` both modes give the same weights.

Inside :meth:`neuroplastic.training.Model.fit` none of this is written by hand: the loop records
each ``Plastic`` layer's activity in the forward pass and applies its rule at the fixed point of
the step that its mode names (``"grad"``: into ``weight.grad`` before the optimizer step;
``"inplace"``: right after it), with ``fit(x)`` (no labels) training the plastic layers alone.

Dense (:class:`torch.nn.Linear`, neuroplastic ``Dense``) and convolutional
(:class:`torch.nn.Conv2d`, neuroplastic ``Conv2d``) synapses share one path: a convolution is
unfolded (im2col) so that every (sample, output position) pair becomes one row of ``pre``
(``[B*L, C*kh*kw]``) and ``post`` (``[B*L, out_channels]``), the rule sees a dense weight
``[out_channels, C*kh*kw]``, and ``dw`` is reshaped back to the kernel. The rule's ``reduction``
then runs over all ``B*L`` rows: ``"mean"`` averages over samples *and* positions (so the
learning rate does not depend on the image size), ``"sum"`` sums over both (the convention of a
convolution's weight gradient).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neuroplastic._core.checks import check_in_choices
from neuroplastic.plasticity.base import Rule, check_bounds, get_rule
from neuroplastic.plasticity.homeostasis import normalize_weights_

UPDATES = ("inplace", "grad")


def apply_update(
    weight: torch.Tensor,
    dw: torch.Tensor,
    mode: str = "inplace",
    *,
    lr: float = 1.0,
    wmin: float = -math.inf,
    wmax: float = math.inf,
) -> torch.Tensor:
    """Apply ``dw`` to ``weight`` (a parameter or plain tensor); returns ``weight``.

    ``"inplace"``: ``weight <- clamp(weight + lr * dw, wmin, wmax)`` under ``no_grad``.
    ``"grad"``: ``weight.grad <- weight.grad - lr * dw`` (created if None); bounds are not
    applied here (apply them after the optimizer step, see :meth:`Plastic.constrain_`).
    """
    check_in_choices("update", mode, UPDATES)
    wmin, wmax = check_bounds(wmin, wmax)
    if dw.shape != weight.shape:
        raise ValueError(f"dw has shape {tuple(dw.shape)} but the weight is {tuple(weight.shape)}: reduce dw over the "
                         "batch first (reduction='mean' or 'sum')")
    with torch.no_grad():
        dw = dw.to(device=weight.device, dtype=weight.dtype)
        if mode == "inplace":
            weight.add_(dw, alpha=lr)
            if wmin > -math.inf or wmax < math.inf:
                weight.clamp_(min=None if wmin == -math.inf else wmin, max=None if wmax == math.inf else wmax)
        else:
            g = dw * (-lr)
            if weight.grad is None:
                weight.grad = g
            else:
                weight.grad.add_(g)
    return weight


def _same_padding(conv: nn.Conv2d) -> tuple[int, int]:
    pads = []
    for k, d in zip(conv.kernel_size, conv.dilation):
        total = d * (k - 1)
        if total % 2:
            raise ValueError("padding='same' with an even effective kernel pads asymmetrically, which the unfold path "
                             "does not support: use an odd kernel or explicit integer padding")
        pads.append(total // 2)
    return pads[0], pads[1]


def conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """Integer padding of ``conv`` (resolving ``"valid"``/``"same"``); zero padding only."""
    if conv.padding_mode != "zeros":
        raise ValueError(f"padding_mode={conv.padding_mode!r} is not supported by the unfold path: use padding_mode='zeros' "
                         "or pad the input yourself")
    if isinstance(conv.padding, str):
        return (0, 0) if conv.padding == "valid" else _same_padding(conv)
    return tuple(conv.padding)  # type: ignore[return-value]


def unfold_conv(
    pre: torch.Tensor,
    post: torch.Tensor | None,
    kernel_size: tuple[int, int],
    *,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """im2col: turn conv activity into dense rows.

    Args:
        pre: input activity ``[B, C, H, W]``.
        post: output activity ``[B, O, H', W']`` (or None).
        kernel_size, stride, padding, dilation: those of the convolution.

    Returns:
        ``pre_rows`` ``[B*L, C*kh*kw]`` (one receptive-field patch per row, in the order of
        ``weight.reshape(O, -1)``) and ``post_rows`` ``[B*L, O]``, with ``L = H' * W'``.
    """
    if pre.ndim != 4:
        raise ValueError(f"conv pre must be one step [B, C, H, W], got shape {tuple(pre.shape)}: index one time step x[t]")
    cols = F.unfold(pre, kernel_size, dilation=dilation, padding=padding, stride=stride)  # [B, C*k*k, L]
    b, n_in, n_pos = cols.shape
    pre_rows = cols.transpose(1, 2).reshape(b * n_pos, n_in)
    if post is None:
        return pre_rows, None
    if post.ndim != 4 or post.shape[0] != b or post.shape[2] * post.shape[3] != n_pos:
        raise ValueError(f"conv post has shape {tuple(post.shape)} but [{b}, out_channels, H', W'] with H'*W' = {n_pos} "
                         "is expected: pass the layer's output at the same time step")
    post_rows = post.permute(0, 2, 3, 1).reshape(b * n_pos, post.shape[1])
    return pre_rows, post_rows


def _rule_and_scale(rule: Rule | str, lr: float | None) -> tuple[Rule, float]:
    """The rule to run and the multiplier of its ``dw`` for ``Plastic(layer, rule, lr=lr)``."""
    has_rate = lambda r: any(f.name == "lr" for f in dataclasses.fields(r))  # noqa: E731
    if isinstance(rule, str):
        built = get_rule(rule)
        if lr is None:
            return built, 1.0
        if has_rate(built):  # one number: the rule at unit rate, scaled by lr (every rule is linear in its lr)
            return dataclasses.replace(built, lr=1.0), _finite_lr(lr)
        return built, _finite_lr(lr)
    if not isinstance(rule, Rule):
        raise TypeError(f"rule must be a Rule or a registered rule name, got {type(rule).__name__}")
    if lr is None:
        return rule, 1.0
    scale = _finite_lr(lr)
    if scale != 1.0 and has_rate(rule) and rule.lr != 1.0:
        warnings.warn(f"Plastic(lr={lr}) multiplies the rate of {type(rule).__name__}(lr={rule.lr}): the update is "
                      f"scaled by {scale * rule.lr:g}. Set the rate once: Plastic(layer, {rule.name!r}, lr=...) or "
                      f"{type(rule).__name__}(lr=...) without Plastic's lr", UserWarning, stacklevel=3)
    return rule, scale


def _finite_lr(lr: float) -> float:
    v = float(lr)
    if not math.isfinite(v):
        raise ValueError(f"lr must be finite, got {lr!r}")
    return v


class Plastic(nn.Module):
    """A dense or convolutional layer whose weight learns with a local rule.

    ``forward`` is the wrapped layer's (time-first input works as for the layer itself);
    learning is explicit and returns the rule state (the module holds no runtime state)::

        conn = Plastic(nn.Linear(784, 100, bias=False), "oja", lr=1.0, update="inplace")
        state = None
        for x in batches:                       # x: [B, 784]
            y = conn(x)
            state = conn.update(x, y, state)    # dw computed and applied

    Args:
        layer: :class:`torch.nn.Linear` or :class:`torch.nn.Conv2d` (``groups=1``), or
            subclasses (neuroplastic ``Dense``/``Conv2d``).
        rule: a rule object or a registered rule name (settings via ``get_rule``).
        update: ``"inplace"`` or ``"grad"`` (see the module docstring).
        lr: the learning rate, one number set once; :attr:`lr` multiplies the rule's ``dw``.
            With a rule given by name whose settings include a rate (``"oja"``, ``"hebb"``,
            ``"bcm"``, ``"rstdp"``, ``"krotov"``, ``"softhebb"``, ...), the rule is built at unit
            rate (``self.rule.lr == 1``, every rule is linear in it), so
            ``Plastic(layer, "oja", lr=0.01)`` learns at exactly 0.01. For rules without a rate of
            their own (STDP's amplitudes, the seed rule's ``t1``) it scales ``dw`` (BindsNET's
            ``nu``). A rule *object* keeps its own rate, and ``lr`` multiplies it: a value other
            than 1 on an object whose rate is not 1 warns, since the two rates then multiply.
            None (default): the rule's own rate (``lr`` 1). Change :attr:`lr` between epochs for a
            schedule; in ``"grad"`` mode the optimizer's rate multiplies it again.
        wmin, wmax: hard weight bounds: the weight is clamped into them when wrapped, after every
            ``"inplace"`` update (where it changed) and by :meth:`constrain_`.
        reduction: override the rule's batch ``reduction`` (``"mean"`` or ``"sum"``).
        norm: if set, :meth:`normalize_` rescales each output unit's incoming weights to sum to
            ``norm`` (Diehl & Cook: 78 for 784 inputs; call it once per sample or batch).
    """

    stateful = False

    def __init__(
        self,
        layer: nn.Module,
        rule: Rule | str,
        *,
        update: str = "inplace",
        lr: float | None = None,
        wmin: float = -math.inf,
        wmax: float = math.inf,
        reduction: str | None = None,
        norm: float | None = None,
    ) -> None:
        super().__init__()
        if isinstance(layer, nn.Conv2d):
            if layer.groups != 1:
                raise ValueError(f"grouped convolutions (groups={layer.groups}) are not supported: use groups=1")
            conv_padding(layer)
        elif not isinstance(layer, nn.Linear):
            raise TypeError(f"Plastic wraps nn.Linear/Dense or nn.Conv2d/Conv2d layers, got {type(layer).__name__}: "
                            "for a raw weight tensor use rule.step(...) and apply_update(...)")
        rule, scale = _rule_and_scale(rule, lr)
        if reduction is not None:
            rule = dataclasses.replace(rule, reduction=reduction)
        if rule.reduction == "none":
            raise ValueError("a connection needs one dw per step: use reduction='mean' or 'sum', not 'none'")
        check_in_choices("update", update, UPDATES)
        self.layer = layer
        self.rule = rule
        self.update_mode = update
        self.lr = scale
        self.wmin, self.wmax = check_bounds(wmin, wmax)
        if norm is not None and not math.isfinite(float(norm)):
            raise ValueError(f"norm must be finite, got {norm!r}")
        self.norm = None if norm is None else float(norm)
        self.constrain_()

    # ------------------------------------------------------------------ plumbing
    @property
    def weight(self) -> nn.Parameter:
        return self.layer.weight

    @property
    def is_conv(self) -> bool:
        return isinstance(self.layer, nn.Conv2d)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.layer(x, *args, **kwargs)

    def rows(self, pre: torch.Tensor, post: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The rule's view of one step: ``(pre [N, n_in], post [N, n_out])`` (``N = B`` or ``B*L``)."""
        if self.is_conv:
            conv = self.layer
            return unfold_conv(pre.detach().to(self.weight.dtype), None if post is None else post.detach(),
                               conv.kernel_size, stride=conv.stride, padding=conv_padding(conv), dilation=conv.dilation)
        if pre.ndim > 2:
            pre = pre.flatten(1)
        return pre, post

    def _rule_weight(self) -> torch.Tensor:
        w = self.weight.detach()
        return w.reshape(w.shape[0], -1) if self.is_conv else w

    def _rows_modulator(self, modulator: Any, batch: int, n_rows: int) -> Any:
        """Expand a per-sample modulator ``[B]`` / ``[B, O]`` to the ``B*L`` rows of a convolution."""
        if modulator is None or not self.is_conv:
            return modulator
        m = torch.as_tensor(modulator, device=self.weight.device, dtype=self.weight.dtype)
        if m.ndim == 0 or m.shape[0] != batch:
            return m  # scalars pass through; wrong shapes are reported by the rule
        return m.repeat_interleave(n_rows // batch, dim=0)

    # ------------------------------------------------------------------ learning
    def init_state(self, pre: torch.Tensor, post: torch.Tensor) -> NamedTuple:
        """The rule's state at rest for one step of ``pre`` and ``post``."""
        p, q = self.rows(pre, post)
        return self.rule.init_state(p, q, self._rule_weight())

    def compute(
        self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *, modulator: Any = None
    ) -> tuple[torch.Tensor, NamedTuple]:
        """``(dw, new_state)`` for one step, ``dw`` in the weight's shape; nothing is applied."""
        p, q = self.rows(pre, post)
        m = self._rows_modulator(modulator, pre.shape[0], p.shape[0])
        dw, state = self.rule.step(p, q, self._rule_weight(), state, modulator=m)
        return dw.reshape(self.weight.shape), state

    def update(
        self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *, modulator: Any = None
    ) -> NamedTuple:
        """Compute ``dw`` for one step and apply it (``"inplace"`` or ``"grad"``); returns the new state.

        Uses the rule's fused :meth:`~neuroplastic.plasticity.Rule.accumulate_`, so spike-driven
        rules touch only the synapses of neurons that spiked; the result equals
        ``apply_update(weight, compute(...)[0], ...)``.
        """
        p, q = self.rows(pre, post)
        m = self._rows_modulator(modulator, pre.shape[0], p.shape[0])
        w2 = self._rule_weight()
        with torch.no_grad():
            if self.update_mode == "inplace":
                target, alpha = self.weight.detach(), self.lr
            else:
                if self.weight.grad is None:
                    self.weight.grad = torch.zeros_like(self.weight)
                target, alpha = self.weight.grad, -self.lr
            target2 = target.view(w2.shape) if target.is_contiguous() else None
            if target2 is None:  # unusual memory layout: dense path
                dw, state = self.rule.step(p, q, w2, state, modulator=m)
                target.add_(dw.reshape(target.shape), alpha=alpha)
                touched = None
            else:
                state, touched = self.rule.accumulate_(target2, p, q, w2, state, alpha=alpha, modulator=m)
            if self.update_mode == "inplace":
                self._clamp(target2 if target2 is not None else target, touched)
        return state

    def _clamp(self, w: torch.Tensor, touched: tuple[torch.Tensor, torch.Tensor] | None) -> None:
        lo = None if self.wmin == -math.inf else self.wmin
        hi = None if self.wmax == math.inf else self.wmax
        if lo is None and hi is None:
            return
        if touched is None:
            w.clamp_(min=lo, max=hi)
            return
        rows, cols = touched
        if rows.numel():
            w.index_copy_(0, rows, w.index_select(0, rows).clamp_(min=lo, max=hi))
        if cols.numel():
            w.index_copy_(1, cols, w.index_select(1, cols).clamp_(min=lo, max=hi))

    def learn_sequence(
        self,
        pre: torch.Tensor,
        post: torch.Tensor | None,
        state: NamedTuple | None = None,
        *,
        modulator: Any = None,
        modulator_steps: str = "all",
        apply: str = "step",
    ) -> NamedTuple:
        """Learn from time-first ``pre`` ``[T, B, ...]`` and ``post`` ``[T, B, ...]``.

        Args:
            modulator: applied at every step (``modulator_steps="all"``) or only at the last
                (``"last"``: e.g. one reward per sample at the end of its presentation). For rewards
                that vary per step, call :meth:`update` in your own loop.
            apply: ``"step"`` updates the weight after every step (online, as in Diehl & Cook);
                ``"end"`` holds the weight fixed during the presentation and applies the summed
                update once (:meth:`Rule.sequence`: vectorised over time, typically 10-100x faster;
                identical when the per-step changes are small).
        """
        check_in_choices("modulator_steps", modulator_steps, ("all", "last"))
        check_in_choices("apply", apply, ("step", "end"))
        n = pre.shape[0]
        if post is not None and post.shape[0] != n:
            raise ValueError(f"pre has {n} time steps but post has {post.shape[0]}: pass time-first [T, B, ...] for both")
        if apply == "step":
            for t in range(n):
                m = modulator if (modulator_steps == "all" or t == n - 1) else None
                state = self.update(pre[t], None if post is None else post[t], state, modulator=m)
            return state
        if modulator_steps == "all":
            dw, state = self.compute_sequence(pre, post, state, modulator=modulator)
        else:  # unmodulated steps, then the last one with the modulator
            dw = None
            if n > 1:
                dw, state = self.compute_sequence(pre[:-1], None if post is None else post[:-1], state)
            last, state = self.compute(pre[-1], None if post is None else post[-1], state, modulator=modulator)
            dw = last if dw is None else dw.add_(last)
        apply_update(self.weight, dw, self.update_mode, lr=self.lr, wmin=self.wmin, wmax=self.wmax)
        return state

    def compute_sequence(
        self, pre: torch.Tensor, post: torch.Tensor | None, state: NamedTuple | None = None, *, modulator: Any = None
    ) -> tuple[torch.Tensor, NamedTuple]:
        """Summed ``dw`` (weight shape) of a whole presentation with the weight held fixed; nothing applied."""
        n, batch = pre.shape[:2]
        p, q = self.rows(pre.flatten(0, 1), None if post is None else post.flatten(0, 1))
        p = p.reshape(n, p.shape[0] // n, p.shape[1])
        q = None if q is None else q.reshape(n, q.shape[0] // n, q.shape[1])
        m = self._rows_modulator(modulator, batch, p.shape[1])
        dw, state = self.rule.sequence(p, q, self._rule_weight(), state, modulator=m)
        return dw.reshape(self.weight.shape), state

    def normalize_(self) -> None:
        """Rescale each output unit's incoming weights to sum to ``norm`` (no-op if ``norm`` is None)."""
        if self.norm is not None:
            normalize_weights_(self.weight, self.norm)

    def constrain_(self) -> None:
        """Clamp to ``[wmin, wmax]`` (after an optimizer step in ``"grad"`` mode)."""
        if self.wmin > -math.inf or self.wmax < math.inf:
            with torch.no_grad():
                self.weight.clamp_(min=None if self.wmin == -math.inf else self.wmin,
                                   max=None if self.wmax == math.inf else self.wmax)

    def extra_repr(self) -> str:
        return (f"rule={self.rule!r}, update={self.update_mode!r}, lr={self.lr}, wmin={self.wmin}, wmax={self.wmax}, "
                f"norm={self.norm}")
