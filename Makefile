# Every target installs what it needs into .venv first; the install is skipped when
# pyproject.toml and constraints.txt have not changed since the last one (a stamp keyed
# on their hash). Versions come from constraints.txt, so every machine and every CI run
# resolves the same; `make lock` updates it, deliberately.
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PINS   := constraints.txt
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(PINS) | sha1sum | cut -c1-12)
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build (RUNTIME.md).
TORCH  := torch==2.13.0
PIP    := -m pip install -q --disable-pip-version-check

.PHONY: install test test-url test-floors check lint typecheck format demo bench clean lock

install: $(STAMP)

$(STAMP): pyproject.toml $(PINS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) $(PIP) --upgrade pip
	$(PY) $(PIP) $(TORCH)
	$(PY) $(PIP) -c $(PINS) -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# Re-resolve every dependency (dev and bench extras) to its newest allowed version in a
# scratch venv and write the pins to constraints.txt. Run it on purpose, then `make check`.
lock:
	rm -rf .venv-lock && python3 -m venv .venv-lock
	.venv-lock/bin/python $(PIP) --upgrade pip
	.venv-lock/bin/python $(PIP) $(TORCH)
	.venv-lock/bin/python $(PIP) -e '.[dev,bench]'
	.venv-lock/bin/python -m pip freeze --exclude-editable --disable-pip-version-check \
		| grep -v '^torch==' > $(PINS)
	rm -rf .venv-lock

# The lowest versions pyproject.toml allows for each runtime dependency (.ci/floors.py),
# in a venv of their own: the unit tests and the docs page example must pass on them.
FLOORS := .venv-floors
test-floors:
	test -x $(FLOORS)/bin/python || python3 -m venv $(FLOORS)
	$(FLOORS)/bin/python $(PIP) $(TORCH)
	$(FLOORS)/bin/python $(PIP) $$(python3 .ci/floors.py) pytest pytest-timeout hypothesis
	$(FLOORS)/bin/python $(PIP) --no-deps -e .
	$(FLOORS)/bin/python -m pytest -q -p no:cacheprovider tests/unit \
		tests/integration/test_store.py::test_docs_page_example

test: install
	$(PY) -m pytest

# The integration suite once more, through REDIS_URL, against a server started apart
# (`docstore serve` in the background, stopped by its pid): the testing plugin's url path.
test-url: install
	$(PY) .ci/with_server.py $(PY) -m pytest -q tests/integration

lint: install
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples

typecheck: install
	$(BIN)/mypy --strict src

check: lint typecheck test

format: install
	$(BIN)/ruff format src tests examples
	$(BIN)/ruff check --fix src tests examples

demo: install
	$(BIN)/docstore demo

clean:
	rm -rf $(VENV) $(FLOORS) .pytest_cache .mypy_cache .ruff_cache

# The benchmark suite (bench/README.md): its extra packages (chromadb, matplotlib) are
# installed only here, with their own stamp keyed on pyproject.toml, never for `make test`.
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml $(PINS) | sha1sum | cut -c1-12)

.PHONY: bench-install bench-quick bench-load bench-soak

bench-install: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) $(PIP) -c $(PINS) -e '.[dev,bench]'
	rm -f $(VENV)/.bench-installed-*
	touch $@

# The full report goes into bench/README.md, its summary table into README.md.
bench: bench-install
	$(PY) -m bench --readme bench/README.md --summary README.md

# The load benchmark (bench/README.md): many callers sharing one store, ~30 min. Its
# summary goes into bench/README.md, its two rows of the summary table into README.md.
bench-load: bench-install
	$(PY) -m bench.load --readme bench/README.md --summary README.md

# The mixed load on the store for 10 minutes (~13 min with the setup): memory, connections,
# lost writes. Writes soak.md, not load.md.
bench-soak: bench-install
	$(PY) -m bench.load --soak 600

bench-quick: bench-install
	$(PY) -m bench --quick
