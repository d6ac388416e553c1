# Every target installs what it needs into .venv first; the install is skipped
# when pyproject.toml has not changed since the last one (stamp keyed on its hash).
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# torch first and pinned: an unpinned torch pulls a multi-GB CUDA build (RUNTIME.md).
TORCH  := torch==2.13.0

.PHONY: install test test-url check lint typecheck format demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The benchmark suite (bench/README.md): its extra packages (chromadb, matplotlib) are
# installed only here, with their own stamp keyed on pyproject.toml, never for `make test`.
BENCH_STAMP := $(VENV)/.bench-installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: bench-install bench-quick bench-load bench-soak

bench-install: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	rm -f $(VENV)/.bench-installed-*
	touch $@

bench: bench-install
	$(PY) -m bench --readme README.md

# The load benchmark (bench/README.md): many callers sharing one store, ~30 min.
bench-load: bench-install
	$(PY) -m bench.load --readme README.md

# The mixed load on the store for 10 minutes (~13 min with the setup): memory, connections,
# lost writes. Writes soak.md, not load.md.
bench-soak: bench-install
	$(PY) -m bench.load --soak 600

bench-quick: bench-install
	$(PY) -m bench --quick
