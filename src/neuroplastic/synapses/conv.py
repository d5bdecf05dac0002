"""Convolutional synapses over time-first image sequences ``[T, B, C, H, W]``."""
from __future__ import annotations

import torch
from torch import nn


class Conv2d(nn.Conv2d):
    """2-D convolution applied to all ``T x B`` frames in one call.

    Accepts ``[T, B, C, H, W]`` (time-first; ``T`` and ``B`` are merged for the convolution) or a
    single step ``[B, C, H, W]``. Arguments are those of :class:`torch.nn.Conv2d`.
    """

    stateful = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return super().forward(x)
        if x.ndim != 5:
            raise ValueError(f"Conv2d expects [T, B, C, H, W] or [B, C, H, W], got shape {tuple(x.shape)}")
        t, b = x.shape[:2]
        y = super().forward(x.reshape(t * b, *x.shape[2:]))
        return y.reshape(t, b, *y.shape[1:])


class MaxPool2d(nn.MaxPool2d):
    """Max pooling over ``[T, B, C, H, W]`` or ``[B, C, H, W]`` frames."""

    stateful = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5:
            t, b = x.shape[:2]
            y = super().forward(x.reshape(t * b, *x.shape[2:]))
            return y.reshape(t, b, *y.shape[1:])
        return super().forward(x)


class AvgPool2d(nn.AvgPool2d):
    """Average pooling over ``[T, B, C, H, W]`` or ``[B, C, H, W]`` frames (linear, so it commutes
    with rate coding: the pooled spike rate is the rate of the pooled input)."""

    stateful = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 5:
            t, b = x.shape[:2]
            y = super().forward(x.reshape(t * b, *x.shape[2:]))
            return y.reshape(t, b, *y.shape[1:])
        return super().forward(x)
