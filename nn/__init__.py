"""nn: neural networks written from scratch in NumPy (multilayer perceptrons, and convolutional
networks as a list of layers), with their training loop, datasets, presets, save/load, views and
the sweep engine.

Its parts: ``nn.core`` (the network: layers, MLP, Sequential, losses, optimizers, the training
loop), ``nn.data`` (datasets, drawing preprocessing, augmentation, the user's tables),
``nn.files`` (``nn.save``, ``nn.load``), ``nn.views`` (figures and pictures, inside the network),
``nn.sweep`` (the sweep engine), ``nn.runs`` (a run's settings, presets, the app's sessions) and
``nn.cli`` (``python -m nn``). ``nn.hosting`` holds the server's limits.
"""
from nn.core import (Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential, Sigmoid, Tanh,
                     build_network)
from nn.core.mlp import MLP
from nn.core.config import RunConfig, TrainConfig
from nn.core.settings import SETTINGS, ConfigError
from nn.core.training import Trainer, TrainingDiverged
from nn.files.io import ModelFormatError, load, save

__all__ = ["MLP", "Sequential", "Dense", "Conv2D", "MaxPool2D", "Flatten", "ReLU", "Tanh", "Sigmoid",
           "Dropout", "build_network", "Trainer", "TrainConfig", "RunConfig", "ConfigError",
           "TrainingDiverged", "ModelFormatError", "SETTINGS", "load", "save"]
