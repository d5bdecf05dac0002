"""Training: Keras-style ``Model`` (compile/fit/evaluate/predict), callbacks, losses, metrics,
baselines, config-driven architectures and scikit-learn estimators."""
from neuroplastic.training.architectures import (
    ARCHITECTURES,
    build,
    build_model,
    register_architecture,
    snn_classifier,
)
from neuroplastic.training.baselines import founding_mlp, founding_model, wide_mlp, wide_model
from neuroplastic.training.callbacks import (
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
    WandbCallback,
    cosine,
)
from neuroplastic.training.history import Callback, CallbackList, History, ProgbarLogger
from neuroplastic.training.losses import (
    BinaryCrossEntropy,
    CrossEntropy,
    FirstSpikeCrossEntropy,
    Loss,
    MeanSquaredError,
    SpikeCountMSE,
    get_loss,
    keras_binary_crossentropy,
    readout,
)
from neuroplastic.training.metrics import Accuracy, Metric, TopKAccuracy, get_metric
from neuroplastic.training.model import Model

__all__ = [
    "CSVLogger", "EarlyStopping", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint",
    "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN", "WandbCallback", "cosine",
    "ARCHITECTURES", "Accuracy", "BinaryCrossEntropy", "Callback", "CallbackList", "CrossEntropy",
    "FirstSpikeCrossEntropy", "History", "Loss", "MLPClassifier", "MeanSquaredError", "Metric", "Model",
    "ProgbarLogger", "SNNClassifier", "SpikeCountMSE", "TopKAccuracy", "build", "build_model", "compare_classifiers", "default_classifiers", "founding_mlp",
    "founding_model", "get_loss", "get_metric", "keras_binary_crossentropy", "readout",
    "register_architecture", "snn_classifier", "wide_mlp", "wide_model",
]


def __getattr__(name: str):
    # scikit-learn takes seconds to import; load the estimators (and it) on first use only,
    # which also keeps every torchrun rank's start-up fast.
    if name in ("SNNClassifier", "MLPClassifier"):
        from neuroplastic.training import sklearn as _sk

        return getattr(_sk, name)
    if name in ("compare_classifiers", "default_classifiers"):  # deprecated alias (warns)
        from neuroplastic.training import compare as _cmp

        return getattr(_cmp, name)
    raise AttributeError(f"module 'neuroplastic.training' has no attribute {name!r}")
