"""Sparse storage of pruned weights: CSR index arrays in a safetensors checkpoint.

safetensors (and :mod:`neuroplastic.io`) store only dense (strided) tensors, so a pruned weight
``W`` (viewed as ``[rows, cols]`` = ``[out, in * kh * kw]``) is stored as three dense tensors, the
compressed-sparse-row arrays of its *mask* (not of its nonzeros, so a regrown synapse that is
still exactly zero keeps its place):

* ``<name>.crow_indices`` int32 ``[rows + 1]``, ``<name>.col_indices`` int16/int32 ``[nnz]``,
* ``<name>.values`` ``[nnz]`` in the weight's dtype.

At 90 % sparsity a float32 layer shrinks from 4 bytes per synapse to about
``0.1 * (4 + 2) = 0.6`` bytes (int16 columns) plus the row pointers.

Example:
    >>> import tempfile, torch
    >>> from torch import nn
    >>> from neuroplastic import io
    >>> from neuroplastic.compress import prune_magnitude
    >>> net = nn.Sequential(nn.Linear(100, 50)); _ = prune_magnitude(net, 0.9)
    >>> packed = to_sparse(net)
    >>> packed.nbytes < 0.2 * packed.dense_nbytes
    True
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = io.save(packed, f"{d}/sparse")
    ...     net2 = from_sparse(io.load(f"{d}/sparse"), nn.Sequential(nn.Linear(100, 50)))
    >>> bool(torch.equal(net2[0].weight, net[0].weight))
    True
"""
from __future__ import annotations

from typing import Any

import torch

from neuroplastic.compress.prune import MASK_SUFFIX, _module, install_masks
from neuroplastic.io.checkpoint import register_serializable

__all__ = ["SparseState", "from_sparse", "to_sparse"]

_PARTS = ("crow_indices", "col_indices", "values")


def _csr(weight: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    w2 = weight.detach().reshape(weight.shape[0], -1).cpu()
    m2 = mask.reshape(w2.shape).cpu().to(torch.bool)
    rows, cols = torch.nonzero(m2, as_tuple=True)          # row-major order
    crow = torch.zeros(w2.shape[0] + 1, dtype=torch.int64)
    crow[1:] = torch.bincount(rows, minlength=w2.shape[0]).cumsum(0)
    col_dtype = torch.int16 if w2.shape[1] <= torch.iinfo(torch.int16).max else torch.int32
    return {"crow_indices": crow.to(torch.int32), "col_indices": cols.to(col_dtype), "values": w2[rows, cols].clone()}


def _dense(parts: dict[str, torch.Tensor], shape: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    crow = parts["crow_indices"].long()
    cols = parts["col_indices"].long()
    n_rows = crow.numel() - 1
    n_cols = int(torch.tensor(shape[1:]).prod()) if len(shape) > 1 else 1
    rows = torch.repeat_interleave(torch.arange(n_rows), crow[1:] - crow[:-1])
    w = torch.zeros(n_rows, n_cols, dtype=parts["values"].dtype)
    w[rows, cols] = parts["values"]
    mask = torch.zeros(n_rows, n_cols, dtype=torch.bool)
    mask[rows, cols] = True
    return w.reshape(shape), mask.reshape(shape)


@register_serializable("neuroplastic.compress.SparseState")
class SparseState:
    """A state dict whose masked weights are stored as CSR arrays (save it with ``neuroplastic.io.save``).

    Attributes:
        sparse: ``{param name: {"shape": [...]}}`` of the CSR-stored weights.
        tensors: the stored tensors (CSR parts ``<name>.<part>`` and the other entries dense).
    """

    def __init__(self, sparse: dict[str, dict[str, Any]] | None = None, tensors: dict[str, torch.Tensor] | None = None) -> None:
        self.sparse = dict(sparse or {})
        self.tensors = dict(tensors or {})

    # io protocol
    def get_config(self) -> dict[str, Any]:
        specs = {k: {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")} for k, t in self.tensors.items()}
        return {"sparse": self.sparse, "tensors": specs}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SparseState":
        """Placeholders of the recorded names, shapes and dtypes (filled by ``load_state_dict``)."""
        tensors = {k: torch.empty(spec["shape"], dtype=getattr(torch, spec["dtype"]))
                   for k, spec in config.get("tensors", {}).items()}
        return cls(config["sparse"], tensors)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.tensors)

    def load_state_dict(self, state: dict[str, torch.Tensor], strict: bool = True) -> None:
        self.tensors = dict(state)

    def _is_part(self, key: str) -> bool:
        name, _, part = key.rpartition(".")
        return part in _PARTS and name in self.sparse

    # views
    @property
    def nbytes(self) -> int:
        """Bytes of all stored tensors."""
        return sum(t.numel() * t.element_size() for t in self.tensors.values())

    @property
    def dense_nbytes(self) -> int:
        """Bytes of the same state stored densely (without masks)."""
        total = sum(t.numel() * t.element_size() for k, t in self.tensors.items() if not self._is_part(k))
        for name, spec in self.sparse.items():
            n = int(torch.tensor(spec["shape"]).prod())
            total += n * self.tensors[f"{name}.values"].element_size()
        return total

    def to_state_dict(self) -> dict[str, torch.Tensor]:
        """The dense state dict, masks included (``<name>_mask``)."""
        out = {k: t for k, t in self.tensors.items() if not self._is_part(k)}
        for name, spec in self.sparse.items():
            parts = {p: self.tensors[f"{name}.{p}"] for p in _PARTS}
            w, mask = _dense(parts, list(spec["shape"]))
            out[name] = w
            out[name + MASK_SUFFIX] = mask
        return out

    def __repr__(self) -> str:
        return f"SparseState({len(self.sparse)} sparse weights, {self.nbytes} bytes vs {self.dense_nbytes} dense)"


def to_sparse(model: Any) -> SparseState:
    """Pack a pruned model's ``state_dict`` with every masked parameter in CSR form.

    Args:
        model: module or ``Model`` pruned with :mod:`neuroplastic.compress.prune` (unmasked
            parameters and buffers are stored densely).
    """
    state = _module(model).state_dict()
    sparse: dict[str, dict[str, Any]] = {}
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(MASK_SUFFIX) and key[: -len(MASK_SUFFIX)] in state:
            continue
        mask = state.get(key + MASK_SUFFIX)
        if mask is None or value.ndim == 0:
            tensors[key] = value.detach().cpu()
            continue
        sparse[key] = {"shape": list(value.shape)}
        for part, t in _csr(value, mask).items():
            tensors[f"{key}.{part}"] = t
    return SparseState(sparse, tensors)


def from_sparse(state: SparseState, model: Any, strict: bool = True) -> Any:
    """Load a :class:`SparseState` into ``model`` (same architecture), restoring weights and masks.

    Returns:
        ``model`` (its masks are installed, so the sparsity survives further training).
    """
    if not isinstance(state, SparseState):
        raise TypeError(f"from_sparse needs a SparseState (from to_sparse or io.load), got {type(state).__name__}")
    module = _module(model)
    dense = state.to_state_dict()
    install_masks(module, [k[: -len(MASK_SUFFIX)] for k in dense if k.endswith(MASK_SUFFIX)])
    ref = module.state_dict()
    dense = {k: v.to(ref[k].dtype) if k in ref else v for k, v in dense.items()}
    module.load_state_dict(dense, strict=strict)
    return model
