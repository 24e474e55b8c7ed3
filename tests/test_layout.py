"""nn/'s parts are packages (core, data, files, views, runs, cli, sweep) below the app: the library
imports without Streamlit."""
import subprocess
import sys


def test_the_library_imports_without_streamlit():
    code = ("import sys, nn, nn.views.inspect, nn.views.draw, nn.data.tables, nn.sweep, "
            "nn.cli; sys.exit('streamlit' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
