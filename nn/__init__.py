"""nn: neural networks written from scratch in NumPy (multilayer perceptrons, and convolutional
networks as a list of layers), with their training loop, datasets, presets, save/load, views and
the sweep engine."""
from .config import ConfigError, RunConfig, TrainConfig
from .core import (Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU, Sequential, Sigmoid, Tanh,
                   build_network)
from .io import ModelFormatError, load
from .model import MLP
from .training import Trainer, TrainingDiverged

__all__ = ["MLP", "Sequential", "Dense", "Conv2D", "MaxPool2D", "Flatten", "ReLU", "Tanh", "Sigmoid",
           "Dropout", "build_network", "Trainer", "TrainConfig", "RunConfig", "ConfigError",
           "TrainingDiverged", "ModelFormatError", "load"]
