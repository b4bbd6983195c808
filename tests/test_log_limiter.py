"""lguapi._log.WarningLimiter: a burst of lines per interval, the rest counted and told by the
next line, at WARNING or (for a monitor's failed sink writes) ERROR with the traceback."""
from __future__ import annotations

import logging

import pytest

from lguapi._log import WarningLimiter

log = logging.getLogger("lguapi.test_limiter")


def test_warnings_beyond_the_burst_are_counted_and_told_by_the_next_line(caplog):
    now = [0.0]
    lim = WarningLimiter(burst=2, interval=10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger=log.name):
        for i in range(5):
            lim.warning(log, "bad frame", "bad frame %d", i)
        now[0] = 10.0  # a new window
        lim.warning(log, "bad frame", "bad frame %d", 5)
        lim.warning(log, "other", "other")
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame 0", "bad frame 1", "bad frame 5 (3 similar warnings not logged)", "other"]
    assert all(r.levelno == logging.WARNING for r in caplog.records) and lim.suppressed == 3


def test_errors_carry_the_traceback_and_are_limited_the_same_way(caplog):
    now = [0.0]
    lim = WarningLimiter(burst=1, interval=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.ERROR, logger=log.name):
        for i in range(4):
            try:
                raise OSError(28, "No space left on device")
            except OSError as exc:
                lim.error(log, "write", "a sink write failed (%s)", exc, exc_info=True)
        now[0] = 60.0
        try:
            raise OSError(28, "No space left on device")
        except OSError as exc:
            lim.error(log, "write", "a sink write failed (%s)", exc, exc_info=True)
    assert [r.getMessage() for r in caplog.records] == [
        "a sink write failed ([Errno 28] No space left on device)",
        "a sink write failed ([Errno 28] No space left on device) (3 similar errors not logged)"]
    assert all(r.levelno == logging.ERROR and r.exc_info and r.exc_info[0] is OSError for r in caplog.records)


@pytest.mark.parametrize("burst, interval", [(0, 1.0), (1.5, 1.0), (1, 0.0)])
def test_bad_limits_are_refused(burst, interval):
    with pytest.raises(ValueError):
        WarningLimiter(burst=burst, interval=interval)
