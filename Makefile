# lguapi — the two commands are `make demo` and `make test`; each sets up what it needs.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed
SOURCES = pyproject.toml setup.py $(wildcard src/lgucore/*.pyx src/lgucore/*.pxd)
PYTEST_ARGS ?=

.PHONY: all venv build browser services test test-core test-pure demo bench clean

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

# The whole suite on the compiled core (core tests run on both twins), then the
# lguapi suite once more on the pure twin.
test: build browser services
	$(PY) -X dev -m pytest $(PYTEST_ARGS)
	LGUCORE_NO_EXTENSIONS=1 $(PY) -X dev -m pytest -m "not slow" --ignore=tests/core $(PYTEST_ARGS)

test-core: build
	$(PY) -m pytest tests/core $(PYTEST_ARGS)

demo: build
	$(PY) -m pip install -q -e ".[cli]"
	$(PY) -m pip install -q -e ".[gateway]"
	$(VENV)/bin/lguapi demo --extensions 3001-3300 $(DEMO_ARGS)

bench: build
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf build dist src/*.egg-info src/lgucore/*.c src/lgucore/*.so src/lgucore/*.html .pytest_cache
