"""Old module paths, kept importable: ``nn/`` was flat until its parts got packages (core, data,
files, views, runs, cli). ``import nn.model`` or ``from nn.preprocess import to_mnist`` still
work and give the very module that now lives at the new path (not a copy), so monkeypatching
either name patches both."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "nn.model": "nn.core.mlp",
    "nn.classifier": "nn.core.classifier",
    "nn.activations": "nn.core.activations",
    "nn.losses": "nn.core.losses",
    "nn.init": "nn.core.init",
    "nn.optimizers": "nn.core.optimizers",
    "nn.training": "nn.core.training",
    "nn.blas_threads": "nn.core.blas_threads",
    "nn.io": "nn.files.io",
    "nn.model_file": "nn.files.model_file",
    "nn.model_meta": "nn.files.model_meta",
    "nn.preprocess": "nn.data.preprocess",
    "nn.augment": "nn.data.augment",
    "nn.tables": "nn.data.tables",
    "nn.plots": "nn.views.plots",
    "nn.pictures": "nn.views.pictures",
    "nn.cnn_pictures": "nn.views.cnn_pictures",
    "nn.draw": "nn.views.draw",
    "nn.inspect": "nn.views.inspect",
    "nn.cli_data": "nn.cli.data_options",
    "nn.config": "nn.runs.config",
    "nn.presets": "nn.runs.presets",
    "nn.experiment": "nn.runs.experiment",
    "nn.run_slots": "nn.runs.slots",
    "nn.app_state": "nn.runs.app_state",
}


def new_name(name: str) -> str | None:
    """The current path of module ``name`` if it moved (its submodules moved with it)."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        new = new_name(name)
        return None if new is None else importlib.util.spec_from_loader(name, self)

    def create_module(self, spec) -> ModuleType:
        module = importlib.import_module(new_name(spec.name))
        spec.loader_state = module.__spec__     # importlib sets __spec__ to ours: put it back below
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = module.__spec__.loader_state   # already executed under its new name


def install() -> None:
    if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())    # before the path finder: a moved
        # package's submodules (nn.tables.reading) would otherwise load a second time
