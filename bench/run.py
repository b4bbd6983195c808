"""Run the benchmarks: every ``bench/bench_*.py`` (or those named by ``--only``).

    python bench/run.py                     # all modules, writes bench/RESULTS.md
    python bench/run.py --only core,cipher  # bench_core.py and bench_cipher.py
    python bench/run.py --quick             # tiny sizes: a smoke test, timings meaningless
    python bench/run.py --only gateway      # the HTTP gateway (BENCH_GATEWAY_SIZES=1000,5000)

Each module's ``run(report)`` adds its scenarios to one report (bench/_harness.py); the
markdown table is printed and written to ``--output`` (default bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One core per measurement: keep numpy's BLAS pool from spinning on the other one.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, str(HERE))
if not any((Path(p) / "lgucore").is_dir() for p in sys.path if p):
    sys.path.insert(1, str(HERE.parent / "src"))  # a checkout without an installed lgucore

from _harness import Report  # noqa: E402


def discover(only: list | None) -> list:
    """Paths of the benchmark modules to run, in name order."""
    found = {p.stem[len("bench_"):]: p for p in sorted(HERE.glob("bench_*.py"))}
    if not only:
        return list(found.values())
    missing = [name for name in only if name not in found]
    if missing:
        raise SystemExit(f"no bench/bench_<name>.py for: {', '.join(missing)} (have: {', '.join(found)})")
    return [found[name] for name in only]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated module names, e.g. core,cipher")
    ap.add_argument("--quick", action="store_true", help="shrink sizes (smoke test; timings meaningless)")
    ap.add_argument("--output", default=str(HERE / "RESULTS.md"), help="markdown file to write")
    args = ap.parse_args(argv)

    only = [s.strip() for s in args.only.split(",") if s.strip()]
    report = Report(quick=args.quick)
    failed = []
    for path in discover(only):
        t0 = time.perf_counter()
        print(f"# {path.name} ...", file=sys.stderr, flush=True)
        try:
            load(path).run(report)
        except Exception as exc:  # noqa: BLE001 - report it, run the other modules, fail at the end
            import traceback

            traceback.print_exc()
            failed.append(f"{path.name}: {type(exc).__name__}: {exc}")
        print(f"# {path.name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)

    text = "# Benchmark results\n\n" + report.render_markdown() + "\n"
    if failed:
        text += "\nFailed modules:\n" + "".join(f"- {f}\n" for f in failed)
    print(text)
    Path(args.output).write_text(text, encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
