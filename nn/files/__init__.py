"""Model files: ``io`` (``save``, ``load``: ``nn.save``, ``nn.load``), ``model_file`` (the
pickle-free ``.npz`` read and checked before anything is allocated) and ``model_meta`` (the
metadata checks)."""
from nn.files.io import ModelFormatError, load, model_to_bytes, save

__all__ = ["ModelFormatError", "load", "model_to_bytes", "save"]
