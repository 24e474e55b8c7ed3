"""nn: a multilayer perceptron written from scratch in NumPy, with its training loop,
datasets, presets, save/load and plot builders."""
from .config import ConfigError, RunConfig, TrainConfig
from .io import ModelFormatError, load
from .model import MLP
from .training import Trainer, TrainingDiverged

__all__ = ["MLP", "Trainer", "TrainConfig", "RunConfig", "ConfigError", "TrainingDiverged",
           "ModelFormatError", "load"]
