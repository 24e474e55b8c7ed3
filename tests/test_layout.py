"""nn/'s parts are packages (core, data, files, views, runs, cli, sweep); the module paths of
the flat layout that came before stay importable, as the very same modules."""
import importlib
import subprocess
import sys

import pytest

import nn
from nn._moved import MOVED, new_name


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_gives_the_module_at_its_new_path(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_submodules_of_a_moved_package_move_with_it():
    from nn.data.tables import reading
    from nn.tables.reading import read_table           # the old path of nn.data.tables.reading
    assert read_table is reading.read_table
    assert new_name("nn.inspect.health") == "nn.views.inspect.health"
    assert new_name("nn.core.mlp") is None and new_name("nn.modelx") is None


def test_the_public_names_of_the_old_layout_still_work():
    from nn.model import MLP
    from nn.preprocess import to_mnist
    import nn.inspect
    assert MLP is nn.MLP and callable(to_mnist) and nn.inspect.HealthMonitor
    assert importlib.import_module("nn.model").__spec__.name == "nn.core.mlp"


def test_the_library_imports_without_streamlit():
    code = ("import sys, nn, nn.views.inspect, nn.views.draw, nn.data.tables, nn.sweep, nn.runs.app_state, "
            "nn.cli; sys.exit('streamlit' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
