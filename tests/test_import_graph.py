"""The floor plan holds: read from every ``import`` statement at any depth (tests/import_graph.py)."""
import subprocess
import sys

from import_graph import ROOT, LAYERS, cycles, external_imports, graph, layer, upward_imports


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    assert "nn.core.training" in edges and len(edges) > 50
    # nn.data.tables.reading imports the Parquet reader inside a function (pyarrow loads lazily)
    assert "nn.data.tables.parquet" in edges["nn.data.tables.reading"]


def test_nn_core_imports_nothing_else_from_nn():
    outside = sorted((source, target) for source, targets in graph().items() if source.startswith("nn.core")
                     for target in targets if not target.startswith("nn.core"))
    assert outside == []


def test_no_module_imports_from_a_higher_floor():
    assert upward_imports(graph()) == []


def test_no_import_cycle_in_nn_or_app():
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_imports_streamlit_runtime_and_nn_never_imports_streamlit():
    external = external_imports()
    runtime = sorted(m for m, names in external.items() if any(n.startswith("streamlit.runtime") for n in names))
    in_nn = sorted(m for m, names in external.items()
                   if m.startswith("nn") and any(n.split(".")[0] == "streamlit" for n in names))
    assert runtime == [] and in_nn == []
    pages = [p for p in (ROOT / "app").rglob("*.py")] + [ROOT / "dashboard.py"]
    assert not any("streamlit.runtime" in p.read_text() for p in pages)


def test_every_package_has_a_floor():
    assert all(layer(m) in LAYERS.values() for m in graph())


def test_import_nn_adds_no_import_hook():
    code = ("import sys; before = list(sys.meta_path); import nn, nn.cli.commands, nn.sweep; "
            "print(len(sys.meta_path) - len(before))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
