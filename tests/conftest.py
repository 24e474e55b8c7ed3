"""Shared fixtures: real MNIST (when MNIST_PATH names it), a live Streamlit server, and a
headless Chromium driven by Playwright."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = ROOT / "tests" / "artifacts"          # screenshots land here (git-ignored)


@pytest.fixture(scope="session")
def mnist_path() -> str:
    """Path to the real MNIST .npz; skipped when MNIST_PATH is not set (CI always sets it)."""
    path = os.environ.get("MNIST_PATH")
    if not path or not Path(path).is_file():
        if os.environ.get("CI"):
            pytest.fail("CI must provide MNIST_PATH (../shared/data/mnist.npz)")
        pytest.skip("MNIST_PATH is not set")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError("streamlit did not become healthy in time")


SERVER_ARGS = ["--server.headless", "true", "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]


@contextlib.contextmanager
def streamlit_server(command: list[str], log_path: Path, **env: str):
    """A Streamlit server from ``command`` (+ its port and SERVER_ARGS) on a free loopback port,
    its output in ``log_path``; yields its URL once healthy, ends it afterwards."""
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*command, "--server.port", str(port), *SERVER_ARGS], cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), **env})
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def app_url() -> str:
    """A `streamlit run dashboard.py` server on a free loopback port, for the whole session."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server([sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py")],
                          ARTIFACTS / "streamlit-server.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright (no Playwright browser download)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it with apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    """A fresh browser context (its own Streamlit session) and page, 1400x1000."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots to look at (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _streamlit_error_details():
    """``client.showErrorDetails`` is process-wide and dashboard.py sets it to 'none' in hosting
    mode (NN_PUBLIC=1): put it back after every test, so a later local-mode test sees details."""
    from streamlit import config
    before = config.get_option("client.showErrorDetails")
    yield
    config.set_option("client.showErrorDetails", before)
