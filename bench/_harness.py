"""The benchmark harness: time callables, collect results, print ratios to a baseline.

A benchmark module ``bench/bench_<area>.py`` defines ``run(report)`` and, per scenario,
times each variant with :meth:`Report.timeit` and records it with :meth:`Report.add`;
one variant per scenario is the ``baseline`` the others are compared with.
``bench/run.py`` collects every module into one markdown table.

>>> r = Report()
>>> t = r.timeit(lambda: sum(range(100)))
>>> r.add("sum 100", "builtin", 1 / t, "calls/s", baseline=True)
>>> print(r.render_markdown())  # doctest: +SKIP
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

__all__ = ["Report", "Result", "machine_info", "cpu_us_per_item"]


@dataclass
class Result:
    """One measured variant of one scenario."""

    scenario: str
    variant: str
    value: float
    unit: str
    baseline: bool = False
    higher_is_better: bool = True


@dataclass
class Report:
    """Results of one benchmark run.

    ``quick`` is for smoke tests: :meth:`timeit` calibrates to a few milliseconds and
    repeats at most twice, and benchmark modules read ``report.quick`` to shrink their
    inputs. Timings taken in quick mode mean nothing.
    """

    quick: bool = False
    results: list = field(default_factory=list)
    min_time: float = 0.2

    def timeit(self, fn: Callable[[], object], *, number: Optional[int] = None, repeat: int = 5) -> float:
        """Median seconds per call of ``fn`` over ``repeat`` runs of ``number`` calls.

        With ``number=None`` the count is calibrated so that one run lasts at least
        0.2 s (a few ms in quick mode). The garbage collector stays on: the code under
        test runs as it would in an application.
        """
        min_time = 0.005 if self.quick else self.min_time
        if self.quick:
            repeat = min(repeat, 2)
        if number is None:
            number = 1
            while True:
                elapsed = _run(fn, number)
                if elapsed >= min_time:
                    break
                # aim past the target in one or two steps, never more than 10x at once
                number = max(number + 1, int(number * min(10.0, 1.5 * min_time / max(elapsed, 1e-9))))
            runs = [elapsed]
            repeat -= 1
        else:
            runs = []
        runs += [_run(fn, number) for _ in range(max(repeat, 0))]
        return statistics.median(runs) / number

    def add(self, scenario: str, variant: str, value: float, unit: str, *, baseline: bool = False,
            higher_is_better: bool = True) -> None:
        """Record ``value`` (in ``unit``) for ``variant`` of ``scenario``."""
        self.results.append(Result(scenario, variant, float(value), unit, baseline, higher_is_better))

    def scenarios(self) -> list:
        """Scenario names in the order they were first added."""
        seen: dict = {}
        for r in self.results:
            seen.setdefault(r.scenario, None)
        return list(seen)

    def ratio(self, scenario: str, variant: str) -> Optional[float]:
        """How many times better ``variant`` is than the scenario's baseline (None without one)."""
        rows = [r for r in self.results if r.scenario == scenario]
        base = next((r for r in rows if r.baseline), None)
        row = next((r for r in rows if r.variant == variant), None)
        if base is None or row is None or base.value == 0 or row.value == 0:
            return None
        return row.value / base.value if row.higher_is_better else base.value / row.value

    def render_markdown(self) -> str:
        """The machine line and one table: per scenario each variant, its value and ratio."""
        lines = [machine_info(), ""]
        if self.quick:
            lines += ["(quick run: sizes shrunk, timings meaningless)", ""]
        lines += ["| scenario | variant | value | unit | vs baseline |", "|---|---|---:|---|---:|"]
        for scenario in self.scenarios():
            for r in (r for r in self.results if r.scenario == scenario):
                if r.baseline:
                    rel = "baseline"
                else:
                    q = self.ratio(scenario, r.variant)
                    rel = "n/a" if q is None else f"{q:.2f}x"
                lines.append(f"| {scenario} | {r.variant} | {_fmt(r.value)} | {r.unit} | {rel} |")
        lines.append("")
        lines.append("Ratios are \"times better than the baseline\" (for times: baseline time / "
                     "variant time). Medians; compare only numbers from one run.")
        return "\n".join(lines)


def _run(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - t0


def cpu_us_per_item(fn: Callable[[], object], n: int, repeat: int = 3,
                    setup: Optional[Callable[[], object]] = None) -> float:
    """The best of ``repeat`` runs of ``fn`` in this thread's CPU time, in µs per one of its
    ``n`` items, with the garbage collector off during each run; ``setup`` runs untimed before
    each run (fresh inputs for work that changes them, such as decoding lazy messages)."""
    import gc

    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            if setup is not None:
                setup()
            t = time.thread_time()
            fn()
            best = min(best, time.thread_time() - t)
    finally:
        gc.enable()
    return 1e6 * best / n


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> str:
    """One line: CPU model, cores, Python version and whether lgucore runs compiled."""
    try:
        import lgucore

        ext = str(lgucore.HAS_EXTENSIONS)
    except Exception as exc:  # noqa: BLE001 - the line must still print
        ext = f"unavailable ({type(exc).__name__})"
    return (f"Machine: {_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()} "
            f"({sys.implementation.name}), lgucore.HAS_EXTENSIONS={ext}")


# --- process metrics shared by the benchmarks that run servers and clients -----------------


def child_env(pure: bool) -> dict:
    """The environment of a benchmark child process: this checkout's ``src`` first, and the
    pure twin forced (``LGUCORE_NO_EXTENSIONS=1``) or not."""
    from pathlib import Path

    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("LGUCORE_NO_EXTENSIONS", None)
    if pure:
        env["LGUCORE_NO_EXTENSIONS"] = "1"
    return env


def raise_nofile() -> None:
    """Raise the soft open-file limit to the hard one (thousands of sockets in one process)."""
    from lguapi.runtime import raise_nofile_limit

    raise_nofile_limit()


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def standalone(run, argv: list[str]) -> int:
    """``python bench/bench_x.py [--quick]``: run one module's scenarios and print its table."""
    report = Report(quick="--quick" in argv)
    run(report)
    print(report.render_markdown())
    return 0

