"""TEMPORARY during the floor-plan refactor: the settings moved to nn.core.config and
nn.core.settings; this file goes once every importer uses the new paths."""
from nn.core.config import RunConfig, TrainConfig  # noqa: F401
from nn.core.settings import (AUGMENT_KEYS, CNN_ACTIVATIONS, CNN_INITS, IMAGE_SHAPES,  # noqa: F401
                              OWN_DATASETS, SETTINGS, ConfigError)

LR_RANGE = (SETTINGS["lr"].low, SETTINGS["lr"].high)
MAX_EPOCHS = SETTINGS["epochs"].high
MAX_HIDDEN_LAYERS = SETTINGS["hidden"].count[1]
MAX_HIDDEN_SIZE = SETTINGS["hidden"].high
LR_SCHEDULES = SETTINGS["lr_schedule"].choices
