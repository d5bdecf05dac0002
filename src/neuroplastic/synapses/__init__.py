"""Synapse layers: dense, convolutional and recurrent."""
from neuroplastic.synapses.conv import AvgPool2d, Conv2d, MaxPool2d
from neuroplastic.synapses.dense import Dense, Flatten
from neuroplastic.synapses.recurrent import RecurrentLIF, RecurrentState

__all__ = ["AvgPool2d", "Conv2d", "Dense", "Flatten", "MaxPool2d", "RecurrentLIF", "RecurrentState"]
