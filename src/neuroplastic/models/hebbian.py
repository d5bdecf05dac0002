r"""Hebbian feature network + linear readout as a scikit-learn classifier: :class:`HebbianNetwork`.

Two training phases, no gradient through the features:

1. **Unsupervised plasticity**, layer by layer (greedy, as in SoftHebb): each layer standardises
   its input with training statistics and learns its weights with a competitive Hebbian rule on
   mini-batches for ``hebb_epochs`` passes. Convolutional layers
   (:class:`~._hebb_layers.HebbianConv2d`) use SoftHebb with anti-Hebbian non-winners, a triangle
   activation and max-pooling (Journé et al. 2023); dense layers
   (:class:`~._hebb_layers.HebbianDense`) use SoftHebb or Krotov-Hopfield (2019).
2. **Linear readout**: the frozen features (divided by one global scale) feed a softmax
   classifier trained with Adam, cross-entropy and a cosine learning-rate decay
   (:func:`~.readout.train_linear_readout`).

``architecture="auto"`` picks convolutions for square images (``n_features`` a square >= 8x8,
e.g. 8x8 digits or 28x28 MNIST, or any ``input_shape=(C, H, W)``) and dense layers otherwise. The
default convolutional stack is SoftHebb's first two blocks: 96 filters 5x5 (rate 0.08,
temperature 1, triangle power 0.7) and 256 filters 3x3 (rate 0.04, temperature 1/0.65, power
1.4), each followed by 4x4 max-pooling with stride 2.

Dense SoftHebb layers can start with a rank-ordered competition,
``hebb_competition="rank"``: neural gas (Martinetz & Schulten 1991) over the first half of the
passes, then the layer's own winner-take-all (:func:`rank_competition_step`).

``feature_learning`` gives the baselines of the same architecture: ``"random"`` keeps the random
initial weights (a random projection of the same size) and ``"kmeans"`` sets each layer's filters
to k-means centroids of its (standardised) input patches, normalised to unit length (Coates &
Ng 2011): a plasticity layer has to beat both.

Example:
    >>> from neuroplastic.datasets import load_split
    >>> s = load_split("digits")
    >>> clf = HebbianNetwork(n_hidden=(16,), readout_epochs=10, random_state=0).fit(s.x_train, s.y_train)
    >>> clf.score(s.x_test, s.y_test) > 0.9
    True
"""
from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from neuroplastic._core.threads import cpu_threads, threads_for
from neuroplastic.io import register_serializable
from neuroplastic.models._base import TransformingEstimator, looks_like_image
from neuroplastic.plasticity.networks._hebb_layers import HebbianConv2d, HebbianDense
from neuroplastic.plasticity.networks.neural_gas import RANK_FRACTION, rank_competition_step, rank_schedule
from neuroplastic.plasticity.networks.readout import assign_labels, assignment_scores, one_hot_winners, train_linear_readout

__all__ = ["HebbianNetwork"]

CONV_DEFAULTS = {"n_hidden": (96, 256), "kernel_size": (5, 3), "hebb_lr": (0.08, 0.04), "temperature": (1.0, 1 / 0.65),
                 "power": (0.7, 1.4)}
DENSE_DEFAULTS = {"n_hidden": (1000,), "hebb_lr": (1.0,), "temperature": (0.1,), "power": (1.0,)}
HEBB_EPOCHS = {"conv": 1, "dense": 10}   # passes when hebb_epochs=None
TABLE_POPULATION = 6   # Gaussian receptive fields per feature in front of a dense layer on tabular input
HEBB_RATES = ("count", "constant")
FEATURE_LEARNING = ("hebbian", "random", "kmeans")
HEBB_COMPETITIONS = ("softmax", "rank")


def _per_layer(value: Any, default: Sequence[Any], n: int, name: str) -> list[Any]:
    """One setting per layer: a scalar is repeated, a sequence must have one entry per layer; the
    defaults are cut to the stack (or their last entry repeated)."""
    if value is None:
        vals = list(default)[:n]
        return vals + [vals[-1]] * (n - len(vals))
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) != n:
        raise ValueError(f"{name} has {len(value)} entries but the network has {n} layers: pass one value or one per layer")
    return list(value)


def _std(f: torch.Tensor) -> float:
    """Standard deviation of all entries, accumulated in float64 in chunks (f may be float16)."""
    n, s1, s2 = f.numel(), 0.0, 0.0
    for i in range(0, len(f), 4096):
        c = f[i:i + 4096].double()
        s1, s2 = s1 + float(c.sum()), s2 + float((c * c).sum())
    mean = s1 / max(n, 1)
    return max((s2 / max(n, 1) - mean * mean) ** 0.5, 1e-12)


@register_serializable("neuroplastic.plasticity.HebbianNetwork")
class HebbianNetwork(TransformingEstimator):
    """Features learned by competitive Hebbian plasticity, read out by a softmax trained with Adam.

    Args:
        n_hidden: units (dense) or channels (conv) per layer; None: ``(96, 256)`` conv,
            ``(min(1000, n_samples),)`` dense.
        architecture: ``"auto"``, ``"conv"`` or ``"dense"`` (see the module docstring).
        rule: dense layers only: ``"softhebb"`` or ``"krotov"`` (conv layers use SoftHebb).
        input_shape: ``(C, H, W)`` of the images (None: square single-channel images inferred).
        kernel_size, hebb_lr, temperature, power: per layer (one value or one per layer; None:
            defaults above). ``power`` is the exponent of the activation.
        activation: dense layers: ``"triangle"`` or ``"relu_power"`` (Krotov's ``relu(h)^n``;
            None: triangle for SoftHebb, relu_power with n = 4.5 for Krotov).
        feature_learning: ``"hebbian"``, ``"random"`` or ``"kmeans"`` (baselines).
        hebb_init: dense SoftHebb layers: where the units start before plasticity:
            ``"spread"`` (novelty-gated recruitment = k-means++ seeding on the unit sphere, from
            up to 10,000 training samples) or ``"random"`` (uniformly random samples; units pile
            up on common shapes). See :meth:`~._hebb_layers.HebbianDense.init_from_data`.
        hebb_rate: dense SoftHebb layers: ``"count"`` (each unit's rate decays as 1 / its win
            count, online k-means: see :meth:`~._hebb_layers.HebbianDense.learn`; ``hebb_lr`` is
            its initial rate, default 1) or ``"constant"`` (``hebb_lr``, default 0.1 then, the layer
            before the count rate: its units barely leave their starting samples).
        hebb_competition: dense SoftHebb layers: ``"softmax"`` (the layer's soft
            winner-take-all at its temperature) or ``"rank"`` (neural gas over the first half of the
            passes of ``fit``, range annealed from ``n_units / 2`` to 0.01 and rate from 0.5 to
            0.05, then softmax:
            :func:`rank_competition_step`; ``partial_fit`` uses softmax). On digits and MNIST "rank" reads out no better than
            "softmax" (benchmarks/RESULTS.md).
        population: dense layers: Gaussian receptive fields per input feature in front of the first
            layer (see :class:`~._hebb_layers.HebbianDense`); None: 6 for tables (non-image input),
            0 (off) for images; 0 turns it off. Chosen by 5-fold cross-validation on the training
            splits of iris, wine, breast cancer and digits (iris 83.5 -> 90.7 %, the others within
            +-0.4 points).
        hebb_epochs: unsupervised passes (None: 1 for conv layers, 10 for dense layers).
        hebb_batch_size: mini-batch size of the plasticity.
        hebb_samples: at most this many training samples are used for plasticity (None: all).
        readout_epochs, readout_batch_size, readout_lr, dropout, weight_decay: the softmax readout.
        random_state: seed of weights, sample order and dropout. verbose: 1 prints the phases.

    Attributes:
        classes_, n_features_in_, input_shape_, layers_ (``nn.ModuleList``), readout_
        (``nn.Linear``), feature_scale_, n_features_out_, n_hidden_ (resolved layer sizes), timings_
        (seconds per phase). ``save(path)`` writes a safetensors + JSON checkpoint (see
        :mod:`neuroplastic.models._checkpoint`); :func:`neuroplastic.load` reads it back.
    """

    _dtypes = (np.float32, np.float64)

    def __init__(self, n_hidden: int | Sequence[int] | None = None, architecture: str = "auto", rule: str = "softhebb",
                 input_shape: Sequence[int] | None = None, kernel_size: Any = None, hebb_lr: Any = None,
                 temperature: Any = None, power: Any = None, activation: str | None = None,
                 feature_learning: str = "hebbian", hebb_init: str = "spread", hebb_rate: str = "count",
                 hebb_competition: str = "softmax", population: int | None = None, hebb_epochs: int | None = None,
                 hebb_batch_size: int = 10,
                 hebb_samples: int | None = None, readout_epochs: int = 15, readout_batch_size: int = 64,
                 readout_lr: float = 5e-3, dropout: float = 0.0, weight_decay: float = 0.0,
                 random_state: Any = None, verbose: int = 0) -> None:
        self.n_hidden = n_hidden
        self.architecture = architecture
        self.rule = rule
        self.input_shape = input_shape
        self.kernel_size = kernel_size
        self.hebb_lr = hebb_lr
        self.temperature = temperature
        self.power = power
        self.activation = activation
        self.feature_learning = feature_learning
        self.hebb_init = hebb_init
        self.hebb_rate = hebb_rate
        self.hebb_competition = hebb_competition
        self.population = population
        self.hebb_epochs = hebb_epochs
        self.hebb_batch_size = hebb_batch_size
        self.hebb_samples = hebb_samples
        self.readout_epochs = readout_epochs
        self.readout_batch_size = readout_batch_size
        self.readout_lr = readout_lr
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ construction
    def _resolve_shape(self, n_features: int) -> tuple[str, tuple[int, ...]]:
        if self.architecture not in ("auto", "conv", "dense"):
            raise ValueError(f"architecture must be 'auto', 'conv' or 'dense', got {self.architecture!r}")
        if self.input_shape is not None:
            shape = tuple(int(s) for s in self.input_shape)
            if len(shape) == 2:
                shape = (1, *shape)
            if len(shape) != 3 or math.prod(shape) != n_features:
                raise ValueError(f"input_shape {tuple(self.input_shape)} does not match {n_features} features: pass "
                                 "(C, H, W) or (H, W) whose product is the number of features")
            arch = "conv" if self.architecture == "auto" else self.architecture
            return arch, shape
        side = math.isqrt(n_features)
        square = side * side == n_features and side >= 8
        if self.architecture == "conv" and not square:
            raise ValueError(f"architecture='conv' needs images: {n_features} features is not a square image; pass "
                             "input_shape=(C, H, W) or use architecture='dense'")
        arch = self.architecture if self.architecture != "auto" else ("conv" if square else "dense")
        return arch, ((1, side, side) if square else (n_features,))

    def _build(self, n_features: int, gen: torch.Generator, n_samples: int, hidden: Sequence[int] | None = None) -> None:
        arch, shape = self._resolve_shape(n_features)
        if self.feature_learning not in FEATURE_LEARNING:
            raise ValueError(f"feature_learning must be one of {FEATURE_LEARNING}, got {self.feature_learning!r}")
        if self.rule not in ("softhebb", "krotov"):
            raise ValueError(f"rule must be 'softhebb' or 'krotov', got {self.rule!r}")
        if arch == "conv" and self.hebb_competition == "rank":
            raise ValueError("hebb_competition='rank' is for dense layers: pass architecture='dense'")
        defaults = CONV_DEFAULTS if arch == "conv" else DENSE_DEFAULTS
        if hidden is not None:   # the resolved sizes of a saved network
            hidden = [int(h) for h in hidden]
        elif self.n_hidden is not None:
            hidden = [int(h) for h in np.atleast_1d(self.n_hidden)]
        elif arch == "dense":   # one unit per training sample at most (units start on samples)
            hidden = [min(int(defaults["n_hidden"][0]), max(2, n_samples))]
        else:
            hidden = list(defaults["n_hidden"])
        if not hidden or min(hidden) < 1:
            raise ValueError(f"n_hidden must hold positive layer sizes, got {self.n_hidden!r}")
        n = len(hidden)
        dense_lr = (0.02,) if self.rule == "krotov" else ((0.1,) if self.hebb_rate == "constant" else defaults["hebb_lr"])
        lrs = _per_layer(self.hebb_lr, defaults["hebb_lr"] if arch == "conv" else dense_lr, n, "hebb_lr")
        temps = _per_layer(self.temperature, defaults["temperature"], n, "temperature")
        krotov = arch == "dense" and self.rule == "krotov"
        powers = _per_layer(self.power, (4.5,) if krotov else defaults["power"], n, "power")
        layers = nn.ModuleList()
        if arch == "conv":
            kernels = _per_layer(self.kernel_size, CONV_DEFAULTS["kernel_size"], n, "kernel_size")
            c, h, w = shape
            for k, (ch, ks, lr, t, p) in enumerate(zip(hidden, kernels, lrs, temps, powers)):
                if int(ks) > min(h, w) or int(ks) % 2 == 0:
                    raise ValueError(f"layer {k}: kernel_size {ks} must be odd and at most the {h}x{w} input")
                layer = HebbianConv2d(c, ch, int(ks), lr=float(lr), temperature=float(t), power=float(p), generator=gen)
                layers.append(layer)
                c, h, w = layer.output_shape((c, h, w))
            n_out = c * h * w
        else:
            act = self.activation or ("relu_power" if krotov else "triangle")
            image = len(shape) == 3 or looks_like_image(n_features)
            pop = (0 if image else TABLE_POPULATION) if self.population is None else int(self.population)
            prev = n_features
            for k, (ch, lr, t, p) in enumerate(zip(hidden, lrs, temps, powers)):
                layers.append(HebbianDense(prev, ch, rule=self.rule, lr=float(lr), temperature=float(t), power=float(p),
                                           activation=act, standardise="global" if image or k > 0 else "feature",
                                           rate=self.hebb_rate if self.rule == "softhebb" else "constant",
                                           population=pop if k == 0 else 0, generator=gen))
                prev = ch
            n_out = prev
        self.architecture_, self.input_shape_, self.layers_, self.n_features_out_ = arch, shape, layers, n_out
        self.n_hidden_ = hidden

    # ---- checkpoints (neuroplastic.models._checkpoint): rebuild the layers and the readout before loading
    def _checkpoint_modules(self) -> dict[str, nn.Module]:
        self._build(int(self.n_features_in_), torch.Generator(), 0, hidden=self.n_hidden_)
        n_classes = self._saved_shape("classes_")[0]
        return {"layers_": self.layers_, "readout_": nn.Linear(int(self.n_features_out_), n_classes)}

    def _after_checkpoint_load(self) -> None:
        """A loaded network continues ``partial_fit`` with a generator seeded by ``random_state``."""
        self._gen = torch.Generator().manual_seed(self._draw_seed())

    def _check_settings(self) -> None:
        for name in ("readout_epochs", "readout_batch_size", "hebb_batch_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.hebb_epochs is not None and (not isinstance(self.hebb_epochs, (int, np.integer)) or self.hebb_epochs < 0):
            raise ValueError(f"hebb_epochs must be None or an integer >= 0 (0 keeps the random weights), got {self.hebb_epochs!r}")
        if self.hebb_rate not in HEBB_RATES:
            raise ValueError(f"hebb_rate must be one of {HEBB_RATES}, got {self.hebb_rate!r}")
        if self.hebb_competition not in HEBB_COMPETITIONS:
            raise ValueError(f"hebb_competition must be one of {HEBB_COMPETITIONS}, got {self.hebb_competition!r}")
        if self.hebb_competition == "rank" and self.rule != "softhebb":
            raise ValueError("hebb_competition='rank' needs rule='softhebb' (the competition of the dense layer)")
        if self.hebb_init not in ("spread", "random"):
            raise ValueError(f"hebb_init must be 'spread' (k-means++-style recruitment) or 'random', got {self.hebb_init!r}")
        if self.hebb_samples is not None and self.hebb_samples < 1:
            raise ValueError(f"hebb_samples must be a positive integer or None, got {self.hebb_samples!r}")
        if not float(self.readout_lr) > 0:
            raise ValueError(f"readout_lr must be > 0, got {self.readout_lr!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    # ------------------------------------------------------------------ features
    def _images(self, X: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        return x.reshape(len(x), *self.input_shape_)

    def _forward_to(self, x: torch.Tensor, n_layers: int) -> torch.Tensor:
        with torch.no_grad():
            for layer in self.layers_[:n_layers]:
                x = layer(x)
        return x

    def _batched(self, x: torch.Tensor, n_layers: int, batch: int = 250) -> torch.Tensor:
        return torch.cat([self._forward_to(x[i:i + batch], n_layers) for i in range(0, len(x), batch)])

    def _kmeans_filters(self, layer: nn.Module, inp: torch.Tensor, gen: torch.Generator) -> None:
        from sklearn.cluster import MiniBatchKMeans

        with torch.no_grad():
            if isinstance(layer, HebbianConv2d):
                w = layer.weight
                patches = torch.nn.functional.unfold(layer._padded(inp), w.shape[2:])
                rows = patches.transpose(1, 2).reshape(-1, patches.shape[1])
            else:
                rows = layer.code(inp)
            pick = torch.randperm(len(rows), generator=gen)[:50_000]
            k = layer.weight.shape[0]
            km = MiniBatchKMeans(n_clusters=k, random_state=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)),
                                 n_init=3, batch_size=4096).fit(rows[pick].double().numpy())
            c = torch.as_tensor(km.cluster_centers_, dtype=layer.weight.dtype)
            c = c / c.norm(dim=1, keepdim=True).clamp_min(1e-12)
            layer.weight.copy_(c.reshape(layer.weight.shape))

    def _learn_features(self, x: torch.Tensor, gen: torch.Generator, fit_stats: bool) -> None:
        """Greedy layer-wise plasticity on ``x`` (already shaped)."""
        for k, layer in enumerate(self.layers_):
            t0 = time.perf_counter()
            if fit_stats:
                probe = self._batched(x[torch.randperm(len(x), generator=gen)[:2000]], k)
                layer.fit_standardiser(probe)
            if self.feature_learning == "kmeans":
                self._kmeans_filters(layer, self._batched(x[torch.randperm(len(x), generator=gen)[:2000]], k), gen)
            elif self.feature_learning == "hebbian":
                if fit_stats and isinstance(layer, HebbianDense) and layer.rule_name == "softhebb":   # not per partial_fit
                    pool = layer.weight.shape[0] if self.hebb_init == "random" else max(layer.weight.shape[0], 10_000)
                    layer.init_from_data(self._batched(x[torch.randperm(len(x), generator=gen)[:pool]], k), gen,
                                         method=self.hebb_init)
                epochs = HEBB_EPOCHS[self.architecture_] if self.hebb_epochs is None else int(self.hebb_epochs)
                total = epochs * len(x)
                done = 0
                rank = self.hebb_competition == "rank" and isinstance(layer, HebbianDense) and fit_stats
                for _ in range(epochs):
                    if isinstance(layer, HebbianDense):
                        layer.new_pass()
                    order = torch.randperm(len(x), generator=gen)
                    for i in range(0, len(x), int(self.hebb_batch_size)):
                        xb = self._forward_to(x[order[i:i + int(self.hebb_batch_size)]], k)
                        if isinstance(layer, HebbianDense) and layer.rule_name == "krotov":
                            layer.set_lr(1.0 - done / total)
                        if rank and done < RANK_FRACTION * total:
                            lam, eps = rank_schedule(done / (RANK_FRACTION * total), layer.weight.shape[0])
                            rank_competition_step(layer, xb, lam, eps)
                        else:
                            layer.learn(xb)
                        done += len(xb)
            self.timings_[f"layer{k}"] = self.timings_.get(f"layer{k}", 0.0) + time.perf_counter() - t0
            if self.verbose:
                print(f"HebbianNetwork: layer {k} ({self.feature_learning}) {self.timings_[f'layer{k}']:.1f} s", flush=True)

    def _features(self, x: torch.Tensor, store: bool = False) -> torch.Tensor:
        """Features ``[n, n_features_out_]``; with ``store``, kept in float16 when they would take
        more than 1 GB in float32 (Fashion-MNIST: 70k x 12,544), the readout casts each batch back."""
        out = [self._forward_to(x[i:i + 250], len(self.layers_)).flatten(1) for i in range(0, len(x), 250)]
        big = store and len(x) * self.n_features_out_ * 4 > 1 << 30
        return torch.cat([o.half() for o in out] if big else out)

    # ------------------------------------------------------------------ scikit-learn API
    def _prepare(self, X: Any, y: Any, first: bool, classes: Any = None) -> tuple[np.ndarray, np.ndarray]:
        X, y = self._validate(X, y, reset=first)
        if first:
            self.classes_ = self._labels(y, classes)
        return X, self._encode(y)

    def _init(self, n_features: int, n_samples: int) -> torch.Generator:
        self._check_settings()
        self._gen = torch.Generator().manual_seed(self._draw_seed())
        self.timings_: dict[str, float] = {}
        self._build(n_features, self._gen, n_samples)
        return self._gen

    def _fit_readout(self, feats: torch.Tensor, y_idx: np.ndarray, readout: nn.Linear | None) -> None:
        t0 = time.perf_counter()
        self.readout_ = train_linear_readout(
            feats, torch.as_tensor(y_idx), len(self.classes_), epochs=int(self.readout_epochs),
            batch_size=int(self.readout_batch_size), lr=float(self.readout_lr), dropout=float(self.dropout),
            weight_decay=float(self.weight_decay), readout=readout, generator=self._gen,
            feature_scale=self.feature_scale_)
        self.timings_["readout"] = self.timings_.get("readout", 0.0) + time.perf_counter() - t0

    def fit(self, X: Any, y: Any) -> "HebbianNetwork":
        """Learn the features by plasticity on ``X``, then the softmax readout on ``(X, y)``. Returns self.

        A small network (under 200,000 weights with its readout, e.g. on a table) is fitted on
        one CPU thread (see :mod:`neuroplastic._core.threads`)."""
        X, y_idx = self._prepare(X, y, True)
        gen = self._init(X.shape[1], len(X))
        n_weights = sum(t.numel() for layer in self.layers_ for t in (*layer.parameters(), *layer.buffers())
                        if t.is_floating_point())
        with cpu_threads(threads_for(n_weights + self.n_features_out_ * len(self.classes_))):
            return self._fit_all(X, y_idx, gen)

    def _fit_all(self, X: np.ndarray, y_idx: np.ndarray, gen: torch.Generator) -> "HebbianNetwork":
        x = self._images(X)
        sub = x if self.hebb_samples is None else x[torch.randperm(len(x), generator=gen)[:int(self.hebb_samples)]]
        self._learn_features(sub, gen, fit_stats=True)
        t0 = time.perf_counter()
        feats = self._features(x, store=True)
        self.timings_["features"] = time.perf_counter() - t0
        self.feature_scale_ = _std(feats)
        self._fit_readout(feats, y_idx, None)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Sequence[Any] | None = None) -> "HebbianNetwork":
        """One plasticity pass over this batch (all layers), then ``readout_epochs`` of readout training on it.

        The first call builds the network (standardisation statistics and feature scale come from
        that batch; pass ``classes=`` if later batches may hold other labels).
        """
        first = not hasattr(self, "layers_")
        X, y_idx = self._prepare(X, y, first, classes)
        if not first:
            self._check_same_classes(classes)
        gen = self._init(X.shape[1], len(X)) if first else self._gen
        x = self._images(X)
        self._learn_features(x, gen, fit_stats=first)
        feats = self._features(x, store=True)
        if first:
            self.feature_scale_ = _std(feats)
        self._fit_readout(feats, y_idx, None if first else self.readout_)
        return self

    def fit_readout(self, X: Any, y: Any) -> "HebbianNetwork":
        """Transfer: keep the learned features frozen and train a new softmax readout on ``(X, y)``.

        For reusing features learned on one task on another (new classes allowed): the layers and
        their input statistics stay as they are, ``classes_`` becomes the labels of ``y``, and the
        readout (same settings as ``fit``'s) is trained from scratch on the features of ``X``.
        ``partial_fit`` afterwards fine-tunes features and readout on the new task. Returns self.
        """
        self._check_fitted("layers_")
        X, y = self._validate(X, y, reset=False)
        self.classes_ = self._labels(y)
        feats = self._features(self._images(X), store=True)
        self._fit_readout(feats, self._encode(y), None)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The learned features ``[n, n_features_out_]`` (before the readout's scaling)."""
        self._check_fitted("layers_")
        X = self._validate(X, reset=False)
        return self._features(self._images(X)).numpy()

    def _logits(self, X: Any) -> np.ndarray:
        """Readout logits ``[n, n_classes]``, computed in float64 (a float32 matrix product changes in
        the last bits with the batch size: one sample alone would not score as in a batch)."""
        self._check_fitted("readout_")
        f = self.transform(X)
        w = self.readout_.weight.detach().double()
        b = self.readout_.bias.detach().double()
        out = [(torch.as_tensor(f[i:i + 4096]).double() / self.feature_scale_) @ w.T + b for i in range(0, len(f), 4096)]
        return (torch.cat(out) if out else torch.zeros(0, len(b), dtype=torch.float64)).numpy()

    def decision_function(self, X: Any) -> np.ndarray:
        """Readout logits ``[n, n_classes]``; for two classes, scikit-learn's ``[n]`` score of
        ``classes_[1]`` (its logit minus that of ``classes_[0]``)."""
        z = self._logits(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the readout logits, columns in the order of ``classes_``."""
        z = self._logits(X)
        z = z - z.max(1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        idx = self._logits(X).argmax(1)
        return self.classes_[idx]

    def label_assignment_score(self, X_train: Any, y_train: Any, X_test: Any, y_test: Any, layer: int = 0,
                               responses: str = "winner") -> float:
        """Accuracy of the winner-take-all readout of a dense layer (no trained readout).

        Each unit of ``layers_[layer]`` is labelled with :func:`~.readout.assign_labels` from its
        responses to ``(X_train, y_train)`` and a test sample goes to the class whose units respond
        most on average (:func:`~.readout.assignment_scores`). ``responses="winner"``: one-hot
        winners (a test sample gets its winner's label, as k-means + label assignment:
        compare with :func:`~.readout.kmeans_label_accuracy` with the same number of clusters);
        ``"soft"``: the layer's soft winner-take-all, ``softmax(u / temperature)`` with its own
        SoftHebb temperature (graded responses of all units, as Diehl & Cook's spike counts).
        """
        self._check_fitted("layers_")
        if responses not in ("winner", "soft"):
            raise ValueError(f"responses must be 'winner' or 'soft', got {responses!r}")
        dense = self.layers_[layer]
        if not isinstance(dense, HebbianDense):
            raise ValueError("label assignment reads out a dense winner-take-all layer; this one is convolutional")
        temperature = getattr(dense.plastic.rule, "temperature", None)
        if responses == "soft" and temperature is None:
            raise ValueError("responses='soft' needs a SoftHebb layer (its temperature); use responses='winner'")

        def respond(X: Any) -> torch.Tensor:
            x = self._forward_to(self._images(self._validate(X, reset=False)), layer)
            with torch.no_grad():
                u = dense.preactivation(x).double()
                return one_hot_winners(u) if responses == "winner" else torch.softmax(u / temperature, dim=1)

        _, ytr = self._prepare(X_train, y_train, False)
        _, yte = self._prepare(X_test, y_test, False)
        labels, _ = assign_labels(respond(X_train), ytr, len(self.classes_))
        pred = assignment_scores(respond(X_test), labels, len(self.classes_)).argmax(1).numpy()
        return float((pred == yte).mean())
