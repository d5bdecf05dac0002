"""The one training loop of :meth:`Model.fit <neuroplastic.training.Model.fit>`: gradients, local rules, or both.

The order of a step (forward, loss and backward, the rules of ``Plastic`` layers, clipping and the
optimizer step, held in-place updates, callbacks) is documented in
:mod:`neuroplastic.training._plastic`. Strategies (``strategy="ddp"``) are found by name in the
component registry of :mod:`neuroplastic._core.registry`, which imports
:mod:`neuroplastic.distributed` on the first lookup (this package sits below it).
"""
from __future__ import annotations

import contextlib
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from neuroplastic._core.registry import component_names, get_component
from neuroplastic._core.seed import seed_everything
from neuroplastic.training import _resume
from neuroplastic.training._data import _Arrays, _is_loader, _Loader
from neuroplastic.training._plastic import PlasticStep, plastic_layers, resolve_learning
from neuroplastic.training.history import Callback, CallbackList, History, ProgbarLogger
from neuroplastic.training.silence import SilenceWarning, is_spiking

__all__ = ["STRATEGY_HOOKS", "resolve_strategy", "run_fit"]

#: what ``fit`` calls on a strategy object (see :class:`neuroplastic.distributed.Strategy`)
STRATEGY_HOOKS = ("setup", "shard", "callbacks", "should_stop", "reduce_epoch", "finish")


def resolve_strategy(strategy: Any) -> Any:
    """``fit``'s ``strategy``: None (this process), a registered name (``"ddp"``, ``"auto"``) or a strategy object."""
    if strategy is not None and not isinstance(strategy, str):
        missing = [h for h in STRATEGY_HOOKS if not callable(getattr(strategy, h, None))]
        if missing:
            raise TypeError(f"strategy {strategy!r} lacks {missing}: pass None, 'ddp', 'auto' or a "
                            "neuroplastic.distributed.Strategy subclass such as DDPStrategy(...)")
        return strategy
    key = "none" if strategy is None else strategy.strip().lower()
    try:
        factory = get_component("strategies", key)
    except KeyError:
        raise ValueError(f"unknown strategy {strategy!r}: pass None, one of {component_names('strategies')} or a "
                         "neuroplastic.distributed.DDPStrategy(...)") from None
    return factory()


def _has_labels(model: Any, x: Any, y: Any, learning: str) -> bool:
    if not _is_loader(x):
        return y is not None
    if learning == "plastic":  # labels the loader may yield are not used
        return False
    # a DataLoader carries its own labels (or not): a compiled model, or one without Plastic layers, expects them
    return model.loss is not None or not plastic_layers(model.module)


def _validation(model: Any, train: Any, validation_data: Any, validation_split: float, batch_size: int | None) -> tuple[Any, Any]:
    val: _Arrays | _Loader | None = None
    if validation_data is not None:
        if _is_loader(validation_data):
            val = _Loader(validation_data, True)
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            val = model._data(validation_data[0], validation_data[1], batch_size, True, "x_val")
        else:
            raise ValueError("validation_data must be (x_val, y_val) or a DataLoader")
    elif validation_split > 0:
        if not isinstance(train, _Arrays):
            raise ValueError("validation_split needs array data: with a DataLoader pass validation_data")
        n = train.x.shape[0]
        n_val = int(n * validation_split)
        if n_val < 1 or n_val >= n:
            raise ValueError(f"validation_split={validation_split} leaves {n - n_val} training and {n_val} "
                             f"validation samples out of {n}: choose a fraction giving at least one of each")
        val = _Arrays(train.x[n - n_val:], None if train.y is None else train.y[n - n_val:], train.batch_size)
        train = _Arrays(train.x[:n - n_val], None if train.y is None else train.y[:n - n_val], train.batch_size)
    if val is not None and (model.loss is None or (isinstance(val, _Arrays) and val.y is None)):
        raise ValueError("validation needs labels and a loss: pass validation_data=(x_val, y_val) and call "
                         "model.compile(loss=...) first, or drop validation_data/validation_split")
    return train, val


def run_fit(model: Any, x: Any, y: Any, epochs: int, batch_size: int | None, validation_data: Any,
            validation_split: float, callbacks: Sequence[Callback] | None, verbose: int, shuffle: bool,
            seed: int | None, initial_epoch: int, strategy: Any, resume: Any, learning: str, augment: Any = None,
            warn_silent: bool = True) -> History:
    """The body of ``Model.fit`` (see its docstring)."""
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be an Augment or a callable batch -> batch, got {type(augment).__name__}: "
                        "e.g. augment=Augment(RandomShift(2, image_shape=(8, 8)), seed=0)")
    mode = resolve_learning(learning, _has_labels(model, x, y, learning), model.module)
    supervised = mode in ("both", "grad")
    if supervised:
        model._require_compiled("fit")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if not 0.0 <= float(validation_split) < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if seed is not None:
        generator = seed_everything(seed)
    else:
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
    initial_epoch, batch_size, callbacks = _resume.start(  # records the fit settings; resume: weights, optimizer, RNG
        model, resume, generator, callbacks, batch_size, epochs, shuffle, seed, validation_split, initial_epoch)
    model._fit_settings["learning"] = mode
    strat = resolve_strategy(strategy)
    net = strat.setup(model)

    if model.input_shape is None and not _is_loader(x):
        model.input_shape = tuple(int(s) for s in np.shape(x)[1:]) if not isinstance(x, torch.Tensor) else tuple(x.shape[1:])
    train = model._data(x, y if supervised else None, batch_size, needs_y=supervised)
    if supervised and model.task is None and isinstance(train, _Arrays):
        assert train.y is not None
        model.task = "classification" if not train.y.is_floating_point() else "regression"
    train, val = _validation(model, train, validation_data, validation_split, batch_size)
    if supervised and isinstance(train, _Arrays):
        with torch.no_grad():
            model.module.eval()
            assert train.y is not None
            model._check_labels(model._forward(train.x[:2].to(model.device)), train.y.to(model.device))
    train = strat.shard(train, seed=seed, initial_epoch=int(initial_epoch))
    rules = PlasticStep(model.module, model.optimizer, getattr(strat, "world_size", 1), model._plastic_state) \
        if mode in ("both", "plastic") else None

    cbs: list[Callback] = list(callbacks or [])
    if warn_silent and not any(isinstance(c, SilenceWarning) for c in cbs) \
            and any(is_spiking(m) for m in model.module.modules()):
        cbs.append(SilenceWarning())
    if verbose:
        cbs.append(ProgbarLogger(verbose))
    history = History()
    cbs.append(history)
    cbs = strat.callbacks(cbs)
    params = {"epochs": int(epochs), "steps": train.n_batches(), "verbose": verbose,
              "batch_size": getattr(train, "batch_size", None), "learning": mode}
    cb = CallbackList(cbs, model, params)
    model.stop_training = False
    model.history = history
    with rules if rules is not None else contextlib.nullcontext():
        epoch_logs = _epochs(model, net, train, val, cb, strat, rules, supervised, shuffle, generator,
                             int(initial_epoch), int(epochs), augment)
    strat.finish(model)
    model.module.eval()
    return history


def _epochs(model: Any, net: nn.Module, train: Any, val: Any, cb: CallbackList, strat: Any, rules: PlasticStep | None,
            supervised: bool, shuffle: bool, generator: torch.Generator, first: int, epochs: int,
            augment: Any = None) -> dict[str, float]:
    cb.on_train_begin({})
    epoch_logs: dict[str, float] = {}
    for epoch in range(first, epochs):
        cb.on_epoch_begin(epoch, {})
        if hasattr(augment, "start_epoch"):
            augment.start_epoch(epoch)
        model.module.train()
        for m in model.metrics:
            m.reset()
        total, count, change = 0.0, 0, 0.0
        for i, (xb, yb) in enumerate(train.batches(shuffle, generator)):
            cb.on_train_batch_begin(i, {"size": int(len(xb))})
            xb, yb = model._prepare(train, xb, yb if supervised else None)
            if augment is not None:
                xb = augment(xb)
            n = int(xb.shape[0])
            loss, out = _step(model, net, xb, yb, rules, supervised, isinstance(train, _Loader))
            count += n
            batch_logs: dict[str, float] = {}
            if rules is not None:
                change += rules.last_change * n
                batch_logs["weight_change"] = change / count
            if supervised:
                total += float(loss.detach()) * n
                with torch.no_grad():
                    scores = model.loss.decode(out.detach())
                    for m in model.metrics:
                        m.update(scores, yb, model.loss)
                batch_logs = {"loss": total / count, **{m.name: m.result() for m in model.metrics}, **batch_logs}
            cb.on_train_batch_end(i, batch_logs)
            if strat.should_stop(model):
                break
        if supervised:
            total, count_all = strat.reduce_epoch(total, count, model.metrics)
            epoch_logs = {"loss": total / max(count_all, 1), **{m.name: m.result() for m in model.metrics}}
        else:
            epoch_logs = {}
        if rules is not None:
            epoch_logs["weight_change"] = change / max(count, 1)
        if val is not None:
            val_logs = model._run_eval(val, cb)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cb.on_epoch_end(epoch, epoch_logs)
        if strat.should_stop(model):
            break
    cb.on_train_end(epoch_logs)
    return epoch_logs


def _step(model: Any, net: nn.Module, xb: torch.Tensor, yb: torch.Tensor | None, rules: PlasticStep | None,
          supervised: bool, from_loader: bool) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """One training step, in the order documented in :mod:`neuroplastic.training._plastic`."""
    opt = model.optimizer
    if opt is not None:
        opt.zero_grad(set_to_none=True)
    if rules is not None:
        rules.recording = True
    try:
        with torch.no_grad() if not supervised else contextlib.nullcontext():
            out = model._forward(xb, net)
    finally:
        if rules is not None:
            rules.recording = False
    loss = None
    if supervised:
        if from_loader:  # arrays were checked once before the loop
            if model.task is None:
                model.task = "classification" if not yb.is_floating_point() else "regression"
            model._check_labels(out, yb)
        loss = model.loss(out, yb)
        loss.backward()
    if rules is not None:
        rules.compute()
    if supervised or (rules is not None and rules.needs_optimizer_step):
        if model.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.module.parameters(), model.clip_grad_norm)
        opt.step()
    if rules is not None:
        rules.apply()
    return loss, out
