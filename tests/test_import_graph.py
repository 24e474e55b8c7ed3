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


# Streamlit has no public API for two things the hosted demo needs (app/internals.py says why):
# whether this script run was asked to stop (so long work ends within a second, issue 17 row 5) and
# dropping an uploaded file once read (rows 1 and 3; streamlit/streamlit#9218, #12607). Those two
# reach streamlit.runtime from one module, and nothing else may.
RUNTIME_GATEWAY = {"app.internals": {
    "streamlit.runtime.scriptrunner", "streamlit.runtime.scriptrunner.get_script_run_ctx",
    "streamlit.runtime.scriptrunner_utils.script_requests",
    "streamlit.runtime.scriptrunner_utils.script_requests.ScriptRequestType"}}


def test_only_app_internals_imports_streamlit_runtime_and_nn_never_imports_streamlit():
    external = external_imports()
    runtime = {m: {n for n in names if n.startswith("streamlit.runtime")} for m, names in external.items()}
    assert {m: names for m, names in runtime.items() if names} == RUNTIME_GATEWAY
    in_nn = sorted(m for m, names in external.items()
                   if m.startswith("nn") and any(n.split(".")[0] == "streamlit" for n in names))
    assert in_nn == []
    others = [p for p in (ROOT / "app").rglob("*.py") if p.name != "internals.py"] + [ROOT / "dashboard.py"]
    assert [p.name for p in others if "streamlit.runtime" in p.read_text()] == []


def test_every_package_has_a_floor():
    assert all(layer(m) in LAYERS.values() for m in graph())


def test_import_nn_adds_no_import_hook():
    code = ("import sys; before = list(sys.meta_path); import nn, nn.cli.commands, nn.sweep; "
            "print(len(sys.meta_path) - len(before))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
