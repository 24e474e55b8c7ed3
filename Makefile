# make run  — set up .venv and start the app
# make test — set up .venv (with the dev tools) and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test bench setup dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed
dev: $(VENV)/.installed-dev

run: setup
	$(BIN)/streamlit run dashboard.py --server.port $(PORT)

test: dev
	$(BIN)/python -m pytest -q

bench: dev
	$(BIN)/python benchmarks/bench_mnist.py

clean:
	rm -rf $(VENV) .pytest_cache
