"""Data plumbing of :class:`~neuroplastic.training.Model`: devices, optimizers, in-memory and loader batches."""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Union

import torch
from torch import nn

__all__ = ["DEFAULT_BATCH_SIZE", "OPTIMIZERS", "make_optimizer", "resolve_device"]

#: name -> (optimizer class, Keras default kwargs)
OPTIMIZERS: dict[str, tuple[type, dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "eps": 1e-7}),
    "adamw": (torch.optim.AdamW, {"lr": 1e-3, "eps": 1e-7, "weight_decay": 4e-3}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
    "adagrad": (torch.optim.Adagrad, {"lr": 1e-3}),
}
OptimizerLike = Union[str, type, torch.optim.Optimizer, Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]]
DEFAULT_BATCH_SIZE = 32


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else goes to ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _n_samples(x: Any) -> int:
    return int(x.shape[0]) if hasattr(x, "shape") and len(x.shape) else len(x)


def _is_loader(x: Any) -> bool:
    return isinstance(x, torch.utils.data.DataLoader)


class _Arrays:
    """In-memory ``(x, y)`` tensors served in (optionally shuffled) mini-batches."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None, batch_size: int) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size

    def n_batches(self) -> int:
        return math.ceil(self.x.shape[0] / self.batch_size)

    def batches(self, shuffle: bool = False, generator: torch.Generator | None = None) -> Iterator[tuple]:
        n = self.x.shape[0]
        order = torch.randperm(n, generator=generator) if shuffle else None
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size] if order is not None else slice(i, i + self.batch_size)
            yield self.x[idx], None if self.y is None else self.y[idx]


class _Loader:
    """A user's ``DataLoader`` yielding ``(x, y)`` (or ``x`` alone for ``predict``)."""

    def __init__(self, loader: torch.utils.data.DataLoader, needs_y: bool) -> None:
        self.loader, self.needs_y = loader, needs_y

    def n_batches(self) -> int | None:
        try:
            return len(self.loader)
        except TypeError:  # an iterable-style dataset without a length
            return None

    def batches(self, shuffle: bool = False, generator: torch.Generator | None = None) -> Iterator[tuple]:
        for item in self.loader:
            if isinstance(item, (tuple, list)):
                if len(item) < 2 and self.needs_y:
                    raise ValueError("the DataLoader must yield (x, y) pairs for fit/evaluate (to train only "
                                     "Plastic layers without labels, pass learning='plastic' to fit)")
                yield item[0], (item[1] if len(item) > 1 else None)
            elif isinstance(item, torch.Tensor) and not self.needs_y:
                yield item, None
            else:
                raise ValueError(
                    f"the DataLoader yielded a {type(item).__name__}: it must yield (x, y) tuples "
                    "(e.g. from TensorDataset(x, y)), or x alone with fit(..., learning='plastic')"
                )


def make_optimizer(optimizer: OptimizerLike, module: nn.Module, lr: float | None,
                   optimizer_options: dict[str, Any]) -> tuple[torch.optim.Optimizer, str | None]:
    """Resolve a name, class, instance or factory into an optimizer over ``module``'s parameters.

    Returns ``(optimizer, name)`` where ``name`` is the registry key of a named optimizer (None
    otherwise: such a choice cannot be stored in a checkpoint config).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    opt_name: str | None = None
    if isinstance(optimizer, str):
        key = optimizer.strip().lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}, "
                             "or pass a torch.optim class, instance or factory")
        cls, defaults = OPTIMIZERS[key]
        kwargs = {**defaults, **optimizer_options, **({"lr": lr} if lr is not None else {})}
        opt, opt_name = cls(params, **kwargs), key
    elif isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        kwargs = {**optimizer_options, **({"lr": lr} if lr is not None else {})}
        opt = optimizer(params, **kwargs)
    elif isinstance(optimizer, torch.optim.Optimizer):
        mine = {id(p) for p in module.parameters()}
        theirs = {id(p) for g in optimizer.param_groups for p in g["params"]}
        if not theirs & mine:
            raise ValueError("the optimizer holds none of this model's parameters: build it on "
                             "model.module.parameters(), or pass the optimizer class or a factory")
        if optimizer_options:
            raise TypeError("optimizer options apply to a name or class, not an optimizer instance")
        if lr is not None:
            for g in optimizer.param_groups:
                g["lr"] = lr
        opt = optimizer
    elif callable(optimizer):
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"the optimizer factory returned {type(opt).__name__}, not a torch.optim.Optimizer")
    else:
        raise TypeError(f"optimizer must be a name, class, instance or factory, got {type(optimizer).__name__}")
    return opt, opt_name
