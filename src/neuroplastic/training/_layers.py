"""A hand-built module as JSON: how :meth:`Model.save` stores a ``Sequential`` of library layers.

A :class:`~neuroplastic.training.Model` built by a registered architecture is saved by name and
config. One around a hand-built module, ``Model(Sequential(Dense(4, 8), LIF(), ...))``, is saved
as a *layer spec*: a JSON tree ``{"layer": name, "config": {...}, "children": [...]}`` with one
node per layer, naming only classes of the allow-list below (never an import path from the file),
and :meth:`Model.load` builds the same layers again before the weights are filled in (the
checkpoint then checks every tensor's name and shape against the file).

Allowed layers: the containers ``Sequential`` (neuroplastic's and torch's); ``Dense``,
``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``; every neuron of
:mod:`neuroplastic.neurons` (``LIF``, ``LI``, ``ALIF``, ``Izhikevich``, ``IF``, their cells)
and ``Rate``; the encoders ``ConstantEncoder``, ``RateEncoder``, ``LatencyEncoder``,
``PopulationEncoder``; ``Plastic`` (its rule by registered name and settings); and torch's
``Linear``, ``Conv2d``, ``Dropout``, ``Flatten``, ``Identity``, ``ReLU``, ``Sigmoid``, ``Tanh``,
``GELU``, ``ELU``, ``LeakyReLU``, ``Softplus``, ``Softmax``, ``LogSoftmax``. Anything else
raises :class:`~neuroplastic.io.CheckpointError` naming the layer and the way out (register an
architecture builder).
"""
from __future__ import annotations

import dataclasses
import inspect
import warnings
from typing import Any, Callable

from torch import nn

import neuroplastic.encoding as _encoding
import neuroplastic.neurons as _neurons
from neuroplastic.io.checkpoint import CheckpointError
from neuroplastic.network.sequential import Sequential
from neuroplastic.neurons.rate import Rate
from neuroplastic.plasticity.base import rule_from_config
from neuroplastic.plasticity.connection import Plastic
from neuroplastic.synapses.conv import AvgPool2d, Conv2d, MaxPool2d
from neuroplastic.synapses.dense import Dense, Flatten

__all__ = ["LAYER_TYPES", "build_layers", "describe_layers"]

SPEC_VERSION = 1
_JSON = (bool, int, float, str, type(None))


@dataclasses.dataclass(frozen=True)
class _LayerType:
    cls: type
    get: Callable[[nn.Module], dict[str, Any]]
    build: Callable[[dict[str, Any], list[nn.Module]], nn.Module]
    container: bool = False


LAYER_TYPES: dict[str, _LayerType] = {}


def _jsonable(v: Any) -> bool:
    if isinstance(v, (list, tuple)):
        return all(_jsonable(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _jsonable(x) for k, x in v.items())
    return isinstance(v, _JSON)


def _by_signature(cls: type, skip: tuple[str, ...] = ("device", "dtype")) -> Callable[[nn.Module], dict[str, Any]]:
    """Constructor arguments read back from attributes of the same name (``bias`` as a flag)."""
    names = [p.name for p in list(inspect.signature(cls.__init__).parameters.values())[1:]
             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in skip]

    def get(m: nn.Module) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        for n in names:
            if not hasattr(m, n):
                continue
            v = getattr(m, n)
            if n == "bias":
                v = v is not None
            cfg[n] = list(v) if isinstance(v, tuple) else v
        return cfg

    return get


def _register(name: str, cls: type, get: Callable | None = None, build: Callable | None = None,
              container: bool = False) -> None:
    LAYER_TYPES[name] = _LayerType(cls, get or _by_signature(cls),
                                   build or (lambda cfg, children, c=cls: c(**cfg)), container)


def _plastic_get(m: nn.Module) -> dict[str, Any]:
    return {"rule": m.rule.get_config(), "update": m.update_mode, "lr": m.lr, "wmin": m.wmin, "wmax": m.wmax,
            "norm": m.norm}


def _plastic_build(cfg: dict[str, Any], children: list[nn.Module]) -> nn.Module:
    cfg = dict(cfg)
    rule = rule_from_config(cfg.pop("rule"))
    with warnings.catch_warnings():  # the rate was set when the layer was first built
        warnings.simplefilter("ignore", UserWarning)
        return Plastic(children[0], rule, **cfg)


def _neuron_build(cls: type) -> Callable[[dict[str, Any], list[nn.Module]], nn.Module]:
    def build(cfg: dict[str, Any], children: list[nn.Module]) -> nn.Module:
        return cls(**cfg)
    return build


def _neuron_get(m: nn.Module) -> dict[str, Any]:
    cfg = dict(m.get_config())
    if getattr(m, "backend", None) is not None:
        cfg["backend"] = m.backend
    return cfg


_register("Sequential", Sequential, lambda m: {}, lambda cfg, ch: Sequential(*ch), container=True)
_register("torch.Sequential", nn.Sequential, lambda m: {}, lambda cfg, ch: nn.Sequential(*ch), container=True)
_register("Plastic", Plastic, _plastic_get, _plastic_build, container=True)
_register("Dense", Dense)
_register("Flatten", Flatten)
_register("Conv2d", Conv2d, _by_signature(nn.Conv2d))
_register("MaxPool2d", MaxPool2d, _by_signature(nn.MaxPool2d))
_register("AvgPool2d", AvgPool2d, _by_signature(nn.AvgPool2d))
_register("Rate", Rate, lambda m: {"in_features": m.linear.in_features, "out_features": m.linear.out_features,
                                   "activation": m.activation, "bias": m.linear.bias is not None})
for _name in ("ConstantEncoder", "RateEncoder", "LatencyEncoder", "PopulationEncoder"):
    _register(_name, getattr(_encoding, _name))
for _name in _neurons.__all__:
    _cls = getattr(_neurons, _name)
    if isinstance(_cls, type) and issubclass(_cls, nn.Module) and hasattr(_cls, "params_cls"):
        _register(_name, _cls, _neuron_get, _neuron_build(_cls))
for _cls in (nn.Linear, nn.Conv2d, nn.Dropout, nn.Flatten, nn.Identity, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU,
             nn.ELU, nn.LeakyReLU, nn.Softplus, nn.Softmax, nn.LogSoftmax):
    _register(f"torch.{_cls.__name__}", _cls)
_BY_CLASS = {t.cls: name for name, t in LAYER_TYPES.items()}


def describe_layers(module: nn.Module, where: str = "module") -> dict[str, Any]:
    """The layer spec of ``module`` (see the module docstring).

    Raises:
        CheckpointError: a layer whose class is not on the allow-list (subclasses are not, since
            they may take other arguments), or a setting that is not JSON-able.
    """
    name = _BY_CLASS.get(type(module))
    if name is None:
        raise CheckpointError(
            f"{where} is a {type(module).__module__}.{type(module).__qualname__}, which a checkpoint cannot rebuild "
            "from a config: build the model from library layers (neuroplastic.training._layers lists them), or "
            "register a builder with @neuroplastic.training.register_architecture and create the model with "
            "build_model(name, ...), or save model.module.state_dict() yourself")
    kind = LAYER_TYPES[name]
    cfg = kind.get(module)
    if not _jsonable(cfg):
        bad = sorted(k for k, v in cfg.items() if not _jsonable(v))
        raise CheckpointError(f"{where} ({name}) has settings {bad} that are not JSON-able (a callable activation or "
                              "surrogate?): use a registered name instead, or register an architecture builder")
    node: dict[str, Any] = {"layer": name, "config": cfg}
    children = list(module.named_children())
    if kind.container:
        node["children"] = [describe_layers(c, f"{where}.{n}") for n, c in children]
    elif children:
        raise CheckpointError(f"{where} ({name}) has sub-modules a checkpoint cannot rebuild: build it from library "
                              "layers, or register an architecture builder")
    return node


def build_layers(spec: dict[str, Any]) -> nn.Module:
    """Build the module described by :func:`describe_layers` (weights freshly initialised)."""
    if spec.get("version", SPEC_VERSION) > SPEC_VERSION:
        raise CheckpointError(f"the layer spec has version {spec['version']}, newer than this library reads "
                              f"({SPEC_VERSION}): upgrade neuroplastic")
    return _build(spec.get("root", spec))


def _build(node: dict[str, Any]) -> nn.Module:
    name = node.get("layer")
    if name not in LAYER_TYPES:
        raise CheckpointError(f"the checkpoint names layer {name!r}, which is not on the allow-list of layers a "
                              f"checkpoint may build ({', '.join(sorted(LAYER_TYPES))})")
    kind = LAYER_TYPES[name]
    children = [_build(c) for c in node.get("children", [])]
    try:
        return kind.build(dict(node.get("config", {})), children)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"layer {name} cannot be built from the checkpoint's config ({e}): the config was "
                              "edited or written by another version") from e


def spec_of(module: nn.Module) -> dict[str, Any]:
    """``{"version": ..., "root": describe_layers(module)}``: what a Model config stores."""
    return {"version": SPEC_VERSION, "root": describe_layers(module)}
