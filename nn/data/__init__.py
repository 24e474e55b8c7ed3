"""The data part: datasets (``nn.data.datasets``, re-exported here so ``from nn.data import
load_dataset`` keeps working), drawing preprocessing (``preprocess``), training-time augmentation
(``augment``) and the user's own tables (``tables``)."""
from nn.data.datasets import (DATASETS, FASHION_CLASSES, IMAGE_DATASETS, TOY_DATASETS, Dataset,
                              DatasetUnavailable, load_dataset, mnist_available)

__all__ = ["DATASETS", "FASHION_CLASSES", "IMAGE_DATASETS", "TOY_DATASETS", "Dataset",
           "DatasetUnavailable", "load_dataset", "mnist_available"]
