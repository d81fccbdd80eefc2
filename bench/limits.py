"""Cost of the execution limits: each workload with limits off, with interruption on
(``RuntimeConfig(interruptible=True)``, what deadlines use) and with fuel on
(``consume_fuel=True``), as ratios to limits off.

    python bench/limits.py [--engines compiler,interpreter] [--scale 1.0] [--rounds 15]

Each round times every mode once, back to back, in a rotating order, measuring CPU
time (``time.process_time``); a ratio is the median over the rounds of the mode's
time divided by limits off's time *in the same round*, so load that comes and goes
on a shared machine cancels out.  The spread column gives the interquartile range
of those per-round ratios (the larger of the two modes'): a row whose spread is wide
was measured in noise.
"""
from __future__ import annotations

import argparse
import datetime
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import pywazero  # noqa: E402
import workloads as W  # noqa: E402

#: the budget given in fuel mode (more than any workload here needs)
FUEL = 10 ** 9

MODES = {"off": {}, "interrupt": {"interruptible": True}, "fuel": {"consume_fuel": True}}


def workloads(scale: float):
    """(name, wat, argument, calls per timing)"""
    yield "fib(22)", W.FIB_WAT, max(12, 22 + round(math.log(scale, 1.618))), 1
    yield "i64 loop", W.LOOP_WAT, int(300_000 * scale), 1
    yield "sieve", W.SIEVE_WAT, int(100_000 * scale), 1
    yield "f64 matmul", W.MATMUL_WAT, max(4, round(30 * scale ** (1 / 3))), 1
    yield "host->wasm calls", W.TINY_WAT, 1, int(30_000 * scale)


C_PROGRAMS = [("C stdio (WASI)", ROOT.parent / "tests" / "wasi" / "bin" / "stdio.wasm", b"x" * 20000, 5),
              ("C args_env (WASI)", ROOT.parent / "tests" / "wasi" / "bin" / "args_env.wasm", b"", 30)]


def c_program_runner(engine: str, cfg: dict, path: Path, stdin: bytes, fuel: int) -> Callable[[], None]:
    """A callable running the C WASI program once (fresh instance, output dropped)."""
    import io

    from pywazero import wasi

    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, **cfg))
    wasi.instantiate(rt)
    compiled = rt.compile(path.read_bytes())

    def run() -> None:
        if cfg.get("consume_fuel"):
            rt.set_fuel(fuel)
        try:
            m = rt.instantiate(compiled, pywazero.ModuleConfig(args=["prog", "a", "b"], stdin=io.BytesIO(stdin)))
            m.close()
        except pywazero.ExitError:
            pass

    return run


def wat_runner(engine: str, cfg: dict, wat: str, arg: int, calls: int, fuel: int) -> Callable[[], None]:
    """A callable calling the workload's ``run`` export ``calls`` times."""
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, **cfg))
    fn = rt.instantiate(rt.compile(wat)).function("run")

    def run() -> None:
        if cfg.get("consume_fuel"):
            rt.set_fuel(fuel)
        for _ in range(calls):
            fn(arg)

    return run


def measure(runs: Dict[str, Callable[[], None]], repeat: int, rounds: int) -> Dict[str, List[float]]:
    """CPU times per mode, one per round (each timing ``repeat`` runs)."""
    for run in runs.values():   # warm up: lazy compilation, caches
        run()
    names = list(runs)
    times: Dict[str, List[float]] = {m: [] for m in names}
    for r in range(rounds):
        k = r % len(names)
        for mode in names[k:] + names[:k]:
            run = runs[mode]
            t0 = time.process_time()
            for _ in range(repeat):
                run()
            times[mode].append(time.process_time() - t0)
    return times


def row(engine: str, name: str, times: Dict[str, List[float]]) -> List[str]:
    off = times["off"]
    cells = [engine, name, "%.1f" % (statistics.median(off) * 1000)]
    spread = 0.0
    for mode in ("interrupt", "fuel"):
        ratios = sorted(t / o for t, o in zip(times[mode], off))
        cells.append("%.2fx" % statistics.median(ratios))
        q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        spread = max(spread, q[2] - q[0])
    cells.append("%.2f" % spread)
    return cells


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="compiler,interpreter")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--fuel", type=int, default=FUEL, help="the budget in fuel mode")
    args = ap.parse_args()
    print("%s %s, %s" % (platform.python_implementation(), platform.python_version(),
                         datetime.date.today().isoformat()))
    rows = []
    for engine in [e for e in args.engines.split(",") if e]:
        for name, wat, arg, calls in workloads(args.scale):
            runs = {mode: wat_runner(engine, cfg, wat, arg, calls, args.fuel) for mode, cfg in MODES.items()}
            rows.append(row(engine, name, measure(runs, 1, args.rounds)))
        for name, path, stdin, repeat in C_PROGRAMS:
            runs = {mode: c_program_runner(engine, cfg, path, stdin, args.fuel) for mode, cfg in MODES.items()}
            rows.append(row(engine, name, measure(runs, max(1, int(repeat * args.scale)), args.rounds)))
    header = ["engine", "workload", "off ms", "interrupt", "fuel", "spread"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
