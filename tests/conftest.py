"""Suite-wide fixtures.

* Coroutine test functions run in a fresh event loop in asyncio debug mode (uvloop's
  when ``LGUAPI_TEST_UVLOOP=1`` and it is installed), with a hard timeout so a hung
  test fails instead of hanging CI. ``LGUAPI_TEST_ASYNCIO_DEBUG=0`` leaves debug mode off:
  ``make test``'s second pass (the pure twin) does, since its first pass already ran every test
  with asyncio's debug checks, which double the CPU time of the event-heavy tests. A scale test
  marked ``asyncio_debug(False)`` runs without them too: at thousands of connections the debug
  mode's stack capture per callback costs five times the test itself, and its smaller
  siblings run the same code paths with the checks.
* ``impl`` parametrizes core tests over the built twins of lgucore (ids ``py``/``c``).
* The longest files are collected first, then the other tests marked ``slow``, then the rest
  (see ``pytest_collection_modifyitems``).
"""
from __future__ import annotations

import asyncio
import inspect
import os

import pytest

import lgucore

ASYNC_TIMEOUT = float(os.environ.get("LGUAPI_TEST_TIMEOUT", "60"))
ASYNCIO_DEBUG = os.environ.get("LGUAPI_TEST_ASYNCIO_DEBUG", "1") != "0"


def _new_loop():
    if os.environ.get("LGUAPI_TEST_UVLOOP") == "1":
        import uvloop  # an explicit request: fail loudly when missing

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    marker = pyfuncitem.get_closest_marker("timeout")
    timeout = marker.args[0] if marker else ASYNC_TIMEOUT
    loop = _new_loop()
    debug = pyfuncitem.get_closest_marker("asyncio_debug")
    loop.set_debug(ASYNCIO_DEBUG and (debug is None or bool(debug.args[0])))
    loop.slow_callback_duration = 1.0
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(asyncio.wait_for(fn(**kwargs), timeout))
        # leave no task behind: a test that does is a bug
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            names = ", ".join(sorted({t.get_coro().__qualname__ for t in pending}))
            raise AssertionError(f"test left {len(pending)} task(s) running: {names}")
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return True


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): timeout of an async test")
    config.addinivalue_line("markers", "asyncio_debug(on): asyncio's debug mode for an async test (default on)")


#: the files that take longest on the 2-core machine (tens of seconds each, waits included),
#: longest first: xdist hands out files in collection order, so these start at once on
#: ``make test``'s workers and overlap with the rest instead of one running alone at the end
LONGEST_FIRST = (
    "test_cluster_stream.py", "test_wheel.py", "test_make_demo_fresh_clone.py", "test_readme.py",
    "test_cluster_monitor.py", "test_packaging.py", "test_typing.py", "test_capture.py", "test_demo.py",
    "test_client_hardening.py", "test_server_scale.py", "test_cli_exit_codes.py", "test_monitor.py",
    "test_cluster_gateway.py", "test_calls_e2e.py", "test_replay.py", "test_server_admin_serve.py",
)


def pytest_collection_modifyitems(config, items):
    """The longest files first, then the other slow tests, then the rest (a stable sort)."""
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in LONGEST_FIRST:
            return LONGEST_FIRST.index(name)
        return len(LONGEST_FIRST) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)


IMPLS = lgucore.implementations()


def pytest_generate_tests(metafunc):
    if "impl" in metafunc.fixturenames:
        ids = ["py"] if lgucore.NO_EXTENSIONS else ["py", "c"]
        metafunc.parametrize("impl", ids, indirect=True)


@pytest.fixture
def impl(request):
    """One twin of lgucore as a namespace (``impl.tokenize``, ``impl.Seed``, ...)."""
    if request.param not in IMPLS:
        pytest.fail(f"lgucore's {request.param!r} twin is not built (run `make build`)")
    return IMPLS[request.param]


@pytest.fixture
def redis_server():
    """A fresh real redis-server on a free loopback port (tests/kit/redisserver.py); missing redis
    fails the test as root (CI: `make services` installs it) and skips it otherwise."""
    from kit.redisserver import RedisServer, find_redis_server

    if find_redis_server() is None:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.fail("redis-server is missing: `make services` installs Debian's redis-server")
        pytest.skip("redis-server is not installed and we are not root to install it (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()
