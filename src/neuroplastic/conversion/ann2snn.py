r"""ANN-to-SNN conversion: a trained ReLU network becomes a rate-coded spiking network.

Each ReLU becomes an integrate-and-fire neuron with a subtractive ("soft") reset, whose firing
rate over :math:`T` steps approximates the ReLU's activation clipped at the threshold. Thresholds
are balanced from data (Diehl et al. 2015; Rueckauer et al. 2017): for each ReLU layer
:math:`l`, :math:`\lambda_l` is a high percentile of its activations on calibration data, and
the affine layer in front of it is rescaled

.. math::
    W'_l = W_l \, \lambda_{l-1} / \lambda_l, \qquad b'_l = b_l / \lambda_l ,

so that every IF neuron has threshold 1 and a spike of layer :math:`l` stands for the activation
:math:`\lambda_l` (:math:`\lambda_0 = 1`: the analog input is injected as a current at every
step). The output layer keeps its scale (:math:`W'_L = W_L \lambda_{L-1}`, :math:`b'_L = b_L`),
so the converted network returns per-step logits ``[T, B, classes]`` whose mean over time
approaches the ANN's logits, and whose sum over time predicts the class. Since the input is
static, the first affine layer runs once and its current is repeated for ``T`` steps. Membranes start at half
the threshold (``v_init = 0.5``), which halves the quantisation error of a spike count.

Supported layers: ``nn.Linear``, ``nn.Conv2d`` (and neuroplastic's ``Dense`` / ``Conv2d``),
``nn.ReLU``, ``nn.Flatten``, ``nn.AvgPool2d``, ``nn.MaxPool2d`` (as a spike gate that passes the
spikes of the unit with the highest spike count so far in each window, Rueckauer et al. 2017),
``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` directly after an affine layer (folded into it),
``nn.Dropout`` and ``nn.Identity`` (dropped: they are the identity at inference).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from neuroplastic.conversion import convert
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> ann = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    >>> x = torch.rand(64, 4)
    >>> snn = convert(ann, x, T=512)
    >>> out, _ = snn(x)
    >>> out.shape
    torch.Size([512, 64, 3])
    >>> bool((out.mean(0) - ann(x)).abs().max() < 0.05)
    True
"""
from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from neuroplastic.encoding import ConstantEncoder
from neuroplastic.network import Sequential
from neuroplastic.neurons import IF
from neuroplastic.synapses import AvgPool2d, Conv2d, Dense, Flatten

__all__ = ["ConversionError", "MaxPoolGate", "convert", "SUPPORTED_LAYERS"]

SUPPORTED_LAYERS = ("Linear", "Conv2d", "ReLU", "Flatten", "AvgPool2d", "MaxPool2d", "BatchNorm1d",
                    "BatchNorm2d", "Dropout", "Identity")


class ConversionError(ValueError):
    """The module cannot be converted (an unsupported layer or layout); the message names it."""


class MaxPoolGateState(NamedTuple):
    """Running spike counts of the gate's inputs."""

    count: torch.Tensor


class MaxPoolGate(nn.Module):
    """Spiking max pooling: in each window, pass the spikes of the input unit that has spiked most
    so far (ties go to the first unit in the window). Input and output ``[T, B, C, H, W]``.

    The running count is the rate estimate, so as ``T`` grows the output rate of a window tends
    to the largest input rate in it, which is what max pooling of the ANN's activations gives.
    """

    stateful = True

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x: torch.Tensor, state: MaxPoolGateState | None = None) -> tuple[torch.Tensor, MaxPoolGateState]:
        if x.ndim != 5:
            raise ValueError(f"MaxPoolGate expects [T, B, C, H, W], got shape {tuple(x.shape)}")
        count = torch.zeros_like(x[0]) if state is None else state.count
        # tie-break towards the first unit of a window: a tiny decreasing offset per position
        h, w = x.shape[-2:]
        offset = torch.arange(h * w, 0, -1, dtype=x.dtype, device=x.device).reshape(h, w) * (0.5 / (h * w + 1))
        outs = []
        for t in range(x.shape[0]):
            count = count + x[t]
            _, idx = F.max_pool2d(count + offset, self.kernel_size, self.stride, self.padding, return_indices=True)
            flat = x[t].flatten(2)
            outs.append(flat.gather(2, idx.flatten(2)).reshape(idx.shape))
        return torch.stack(outs), MaxPoolGateState(count)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _kind(layer: nn.Module) -> str:
    for cls, name in ((nn.Linear, "Linear"), (nn.Conv2d, "Conv2d"), (nn.ReLU, "ReLU"), (nn.Flatten, "Flatten"),
                      (nn.AvgPool2d, "AvgPool2d"), (nn.MaxPool2d, "MaxPool2d"), (nn.BatchNorm1d, "BatchNorm1d"),
                      (nn.BatchNorm2d, "BatchNorm2d"), (nn.Dropout, "Dropout"), (nn.Identity, "Identity")):
        if isinstance(layer, cls):
            return name
    if isinstance(layer, Flatten):
        return "Flatten"
    return ""


def _layers(module: nn.Module) -> list[tuple[str, nn.Module]]:
    if not isinstance(module, nn.Sequential):
        raise ConversionError(
            f"convert() takes an nn.Sequential of {', '.join(SUPPORTED_LAYERS)}, got {type(module).__name__}: "
            "write the network as nn.Sequential")
    out: list[tuple[str, nn.Module]] = []
    for i, layer in enumerate(module):
        if isinstance(layer, nn.Sequential):
            out.extend((f"{i}.{n}", m) for n, m in _layers(layer))
            continue
        if not _kind(layer):
            raise ConversionError(
                f"layer {i} ({type(layer).__name__}) cannot be converted: supported layers are "
                f"{', '.join(SUPPORTED_LAYERS)}. Replace it (e.g. other activations by ReLU) and retrain")
        out.append((str(i), layer))
    return out


def _fold_batchnorm(affine: nn.Module, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    w = affine.weight.detach().double()
    b = affine.bias.detach().double() if affine.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
    gamma = bn.weight.detach().double() if bn.affine else torch.ones_like(bn.running_mean, dtype=torch.float64)
    beta = bn.bias.detach().double() if bn.affine else torch.zeros_like(bn.running_mean, dtype=torch.float64)
    scale = gamma / torch.sqrt(bn.running_var.double() + bn.eps)
    shape = (-1,) + (1,) * (w.ndim - 1)
    return w * scale.reshape(shape), (b - bn.running_mean.double()) * scale + beta


class _Block(NamedTuple):
    kind: str            # "affine" | "pool_avg" | "pool_max" | "flatten"
    layer: nn.Module | None
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    relu: bool


def _blocks(layers: list[tuple[str, nn.Module]]) -> list[_Block]:
    blocks: list[_Block] = []
    i = 0
    while i < len(layers):
        name, layer = layers[i]
        kind = _kind(layer)
        if kind in ("Dropout", "Identity"):
            i += 1
            continue
        if kind in ("Linear", "Conv2d"):
            w = layer.weight.detach().double()
            b = (layer.bias.detach().double() if layer.bias is not None
                 else torch.zeros(w.shape[0], dtype=torch.float64))
            j = i + 1
            while j < len(layers) and _kind(layers[j][1]) in ("Dropout", "Identity"):
                j += 1
            if j < len(layers) and _kind(layers[j][1]).startswith("BatchNorm"):
                w, b = _fold_batchnorm(layer, layers[j][1])
                j += 1
            while j < len(layers) and _kind(layers[j][1]) in ("Dropout", "Identity"):
                j += 1
            relu = j < len(layers) and _kind(layers[j][1]) == "ReLU"
            pool_first = (not relu and j + 1 < len(layers) and _kind(layers[j][1]) == "MaxPool2d"
                          and _kind(layers[j + 1][1]) == "ReLU")
            if relu:
                j += 1
            blocks.append(_Block("affine", layer, w, b, relu or pool_first))
            if pool_first:  # max pooling and ReLU commute: pool the spikes after the IF neurons
                i = j
                layers = layers[:j + 1] + layers[j + 2:]
                continue
            i = j
            continue
        if kind == "ReLU":
            raise ConversionError(f"layer {name} (ReLU) does not follow a Linear or Conv2d layer: put each ReLU "
                                  "right after an affine layer (BatchNorm in between is folded)")
        if kind.startswith("BatchNorm"):
            raise ConversionError(f"layer {name} ({kind}) does not directly follow a Linear or Conv2d layer, so it "
                                  "cannot be folded: move it right after one")
        if kind == "AvgPool2d":
            blocks.append(_Block("pool_avg", layer, None, None, False))
        elif kind == "MaxPool2d":
            if layer.dilation not in (1, (1, 1)) or layer.ceil_mode:
                raise ConversionError(f"layer {name} (MaxPool2d) uses dilation or ceil_mode, which conversion "
                                      "does not support: use dilation=1, ceil_mode=False")
            blocks.append(_Block("pool_max", layer, None, None, False))
        else:  # Flatten
            start = getattr(layer, "start_dim", 1)
            if start != 1 or getattr(layer, "end_dim", -1) != -1:
                raise ConversionError(f"layer {name} (Flatten) must flatten all dims after the batch "
                                      "(start_dim=1, end_dim=-1)")
            blocks.append(_Block("flatten", layer, None, None, False))
        i += 1
    affine = [k for k, b in enumerate(blocks) if b.kind == "affine"]
    if not affine:
        raise ConversionError("the network has no Linear or Conv2d layer to convert")
    if blocks[affine[-1]].relu:
        raise ConversionError("the last affine layer is followed by a ReLU: the output layer must give logits "
                              "(drop the final ReLU)")
    for k in affine[:-1]:
        if not blocks[k].relu:
            raise ConversionError(f"affine layer {blocks[k].layer} is not followed by a ReLU: only the output "
                                  "layer may be linear (merge consecutive affine layers)")
    last = affine[-1]
    if any(b.kind != "flatten" for b in blocks[last + 1:]):
        raise ConversionError("layers after the output layer cannot be converted: end with the last Linear/Conv2d")
    return blocks


@torch.no_grad()
def _ann_activations(blocks: list[_Block], x: torch.Tensor) -> list[torch.Tensor]:
    """Post-ReLU activations of each hidden affine block, in float64, on calibration data."""
    acts = []
    h = x.double()
    for blk in blocks:
        if blk.kind == "affine":
            if isinstance(blk.layer, nn.Conv2d):
                conv = blk.layer
                h = F.conv2d(h, blk.weight, blk.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
            else:
                h = F.linear(h, blk.weight, blk.bias)
            if blk.relu:
                h = h.clamp_min(0.0)
                acts.append(h)
        elif blk.kind == "pool_avg":
            p = blk.layer
            h = F.avg_pool2d(h, p.kernel_size, p.stride, p.padding, p.ceil_mode, p.count_include_pad, p.divisor_override)
        elif blk.kind == "pool_max":
            p = blk.layer
            h = F.max_pool2d(h, p.kernel_size, p.stride, p.padding)
        else:
            h = h.flatten(1)
    return acts


def _percentile(a: torch.Tensor, q: float) -> float:
    flat = a.detach().flatten().cpu().numpy()
    if flat.size > 4_000_000:  # a uniform subsample keeps memory bounded; the percentile barely moves
        flat = np.random.default_rng(0).choice(flat, 4_000_000, replace=False)
    value = float(np.percentile(flat, q))
    if value <= 0.0:
        value = float(flat.max())
    return value


def convert(module: nn.Module, calibration_data: Any, T: int = 128, *, percentile: float = 99.9,
            v_init: float = 0.5, max_calibration: int = 2048) -> Sequential:
    """Convert a trained ReLU ``nn.Sequential`` into a rate-coded spiking :class:`~neuroplastic.Sequential`.

    Args:
        module: the ANN (``Linear``, ``Conv2d``, ``ReLU``, ``Flatten``, ``AvgPool2d``, ``MaxPool2d``,
            ``BatchNorm`` after an affine layer, ``Dropout``); it is not modified.
        calibration_data: inputs ``[N, ...]`` (tensor or array) drawn from the training data; the
            first ``max_calibration`` rows set the thresholds.
        T: number of time steps the static input is presented. The first affine layer runs
            once on the static input and a ``ConstantEncoder(T)`` repeats its current (set
            ``num_steps`` of that encoder to run longer).
        percentile: percentile of each layer's activations used as its scale :math:`\\lambda_l`
            (100 = the maximum; 99.9 is robust to outliers).
        v_init: initial membrane potential as a fraction of the threshold.

    Returns:
        ``Sequential(first affine layer, ConstantEncoder(T), IF, ...)``:
        ``forward(x[B, ...]) -> (logits[T, B, C], state)``.
        The attribute ``scales`` holds the :math:`\\lambda_l` of each hidden layer.

    Raises:
        ConversionError: an unsupported layer or layout, naming the layer and the fix.
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer number of time steps, got {T!r}")
    if not 0.0 < float(percentile) <= 100.0:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    if not 0.0 <= float(v_init) < 1.0:
        raise ValueError(f"v_init is a fraction of the threshold in [0, 1), got {v_init!r}")
    blocks = _blocks(_layers(module))
    x = torch.as_tensor(np.asarray(calibration_data) if not torch.is_tensor(calibration_data) else calibration_data)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"calibration_data must be a non-empty batch [N, ...], got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("calibration_data contains NaN or inf: clean or impute it")
    x = x[:max_calibration].to(next(module.parameters()).device)
    acts = _ann_activations(blocks, x)
    scales = [_percentile(a, percentile) for a in acts]

    layers: list[nn.Module] = [ConstantEncoder(int(T))]
    dtype = next(module.parameters()).dtype
    lam_prev, k = 1.0, 0
    for blk in blocks:
        if blk.kind == "affine":
            lam = scales[k] if blk.relu else 1.0
            w = blk.weight * lam_prev / lam
            b = blk.bias / lam
            if isinstance(blk.layer, nn.Conv2d):
                c = blk.layer
                new = Conv2d(c.in_channels, c.out_channels, c.kernel_size, stride=c.stride, padding=c.padding,
                             dilation=c.dilation, groups=c.groups, bias=True, padding_mode=c.padding_mode)
            else:
                new = Dense(blk.weight.shape[1], blk.weight.shape[0], bias=True)
            with torch.no_grad():
                new.weight.copy_(w.to(dtype))
                new.bias.copy_(b.to(dtype))
            layers.append(new.to(blk.weight.device if blk.layer is None else blk.layer.weight.device))
            if blk.relu:
                layers.append(IF(v_th=1.0, v_init=float(v_init), reset="subtract"))
                lam_prev, k = lam, k + 1
        elif blk.kind == "pool_avg":
            p = blk.layer
            layers.append(AvgPool2d(p.kernel_size, p.stride, p.padding, p.ceil_mode, p.count_include_pad,
                                    p.divisor_override))
        elif blk.kind == "pool_max":
            p = blk.layer
            layers.append(MaxPoolGate(p.kernel_size, p.stride, p.padding))
        else:
            layers.append(Flatten(keep_dims=2))
    # The input is static, so the first affine layer's current is the same at every step: compute
    # it once, before the encoder repeats it (T times fewer MACs than direct coding of the input).
    if len(layers) > 1 and isinstance(layers[1], (Dense, Conv2d)):
        layers[0], layers[1] = layers[1], layers[0]
    snn = Sequential(*layers)
    snn.scales = scales  # type: ignore[attr-defined]
    return snn.eval()


def ann_copy(module: nn.Module) -> nn.Module:
    """A detached deep copy (helper for comparisons in tests and benchmarks)."""
    return copy.deepcopy(module).eval()
