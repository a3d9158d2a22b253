# kerfer developer targets. PYTHON may point at a venv: make test PYTHON=.venv/bin/python
PYTHON ?= python3
SHARED ?= ../shared
# pytest-xdist workers for the default run (2 workers beat 1 on 2 cores: docs/testing.md has the timing)
TEST_WORKERS ?= 2

.PHONY: install install-dev test test-install test-pi test-all lint mutate bench bench-parse bench-train

install:            ## install kerfer and its test tools into the current Python
	$(PYTHON) -m pip install -e ".[test]"

test:               ## the default test run (offline; CI runs it, then test-install)
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) -m "not slow and not install and not pi"

test-install:       ## the runtime-only install in a fresh venv (needs the package registry)
	$(PYTHON) -m pytest -q -m install

test-pi:            ## kerfer on an emulated 64-bit Raspberry Pi OS Lite vs this machine (root, network; cached image)
	$(PYTHON) -m pytest -q -m pi

test-all:           ## every test: the default run, test-install and test-pi in one process (no test is marked slow now)
	$(PYTHON) -m pytest -q

lint:
	$(PYTHON) -m ruff check kerfer tests benchmarks tools
	$(PYTHON) -m ruff format --check kerfer tests benchmarks tools

mutate:             ## mutation testing (mutmut, pip install ".[mutate]") of the fast modules; scores per module
	$(PYTHON) -m mutmut run || true
	$(PYTHON) tools/mutation_scores.py

bench: bench-parse bench-train

bench-parse:        ## kerfer's CSV parser vs pandas on the full shared CSV
	$(PYTHON) benchmarks/parse_csv.py --csv $(SHARED)/data/fer2013.csv.gz

bench-train:        ## training images/s per architecture at its default size
	$(PYTHON) benchmarks/train_throughput.py
