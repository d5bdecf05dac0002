"""Networks trained by plasticity (filled in below)."""
from neuroplastic.plasticity.networks._dc_engine import (
    DiehlCookParams,
    DiehlCookState,
    diehl_cook_init,
    diehl_cook_step,
    poisson_spikes,
)
from neuroplastic.plasticity.networks.diehl_cook import DiehlCook
from neuroplastic.plasticity.networks.readout import (
    assign_labels,
    assignment_scores,
    kmeans_label_accuracy,
    one_hot_winners,
    train_linear_readout,
)
