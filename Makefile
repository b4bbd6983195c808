# lguapi — the two commands are `make demo` and `make test`; each sets up what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
SOURCES = pyproject.toml setup.py $(wildcard src/lgucore/*.pyx src/lgucore/*.pxd src/lgucore/*.h)
PYTEST_ARGS ?=

.PHONY: all venv build test test-core test-pure demo bench fuzz clean

all: test

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Editable install with the test extras; re-run when the build inputs change.
$(STAMP): $(PY) $(SOURCES)
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -c "import lgucore, sys; print('lgucore compiled:', lgucore.HAS_EXTENSIONS); sys.exit(0 if lgucore.HAS_EXTENSIONS else 1)"
	touch $(STAMP)

venv: $(STAMP)

build: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

# The whole suite on the compiled core (core tests run on both twins), then the
# lguapi suite once more on the pure twin.
test: build
	$(PY) -X dev -m pytest $(PYTEST_ARGS)
	LGUCORE_NO_EXTENSIONS=1 $(PY) -X dev -m pytest -m "not slow" --ignore=tests/core $(PYTEST_ARGS)

test-core: build
	$(PY) -m pytest tests/core $(PYTEST_ARGS)

demo: build
	$(PY) -m pip install -q -e ".[cli]"
	$(VENV)/bin/lguapi demo --extensions 3001-3300 $(DEMO_ARGS)

# Every fuzz target for FUZZ_RUNS inputs (docs/core.md "Fuzzing"); the grown corpus and any
# crash file land in .fuzz/ (git-ignored), the checked-in seeds stay in fuzz/corpus/.
FUZZ_RUNS ?= 200000
FUZZ_TARGETS = frames tokens batch cipher events tracker session
fuzz: build
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p .fuzz/$$t; echo "== fuzz_$$t ($(FUZZ_RUNS) runs, log .fuzz/$$t.log)"; \
		$(PY) fuzz/fuzz_$$t.py -runs=$(FUZZ_RUNS) -max_len=4096 -artifact_prefix=.fuzz/ .fuzz/$$t fuzz/corpus/$$t \
			> .fuzz/$$t.log 2>&1; rc=$$?; grep -E "^Done" .fuzz/$$t.log; \
		if [ $$rc -ne 0 ]; then tail -40 .fuzz/$$t.log; exit 1; fi; \
	done

bench: build
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf build dist src/*.egg-info src/lgucore/*.c src/lgucore/*.so src/lgucore/*.html .pytest_cache
