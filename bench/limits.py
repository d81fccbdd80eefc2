"""Cost of the execution limits: each workload with limits off, with interruption on
(``RuntimeConfig(interruptible=True)``, what deadlines use) and with fuel on
(``consume_fuel=True``), as ratios to limits off.

    python bench/limits.py [--engines compiler,interpreter] [--scale 1.0] [--rounds 5]

Runs are interleaved and the best CPU time (``time.process_time``) of each is kept, so
other load on the machine disturbs the ratios little.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import pywazero  # noqa: E402
import workloads as W  # noqa: E402

#: the budget given in fuel mode (more than any workload here needs).  Below 2**30
#: fuel is a one-digit int, whose arithmetic CPython specialises: a budget of 10**18
#: costs about 0.1x more on the call- and loop-heavy rows.
FUEL = 10 ** 9

MODES = {"off": {}, "interrupt": {"interruptible": True}, "fuel": {"consume_fuel": True}}


def workloads(scale: float):
    yield "fib(22)", W.FIB_WAT, max(12, 22 + round(__import__("math").log(scale, 1.618))), 1
    yield "i64 loop", W.LOOP_WAT, int(300_000 * scale), 1
    yield "sieve", W.SIEVE_WAT, int(100_000 * scale), 1
    yield "f64 matmul", W.MATMUL_WAT, max(4, round(30 * scale ** (1 / 3))), 1
    yield "host->wasm calls", W.TINY_WAT, 1, int(30_000 * scale)


C_PROGRAMS = [("C stdio (WASI)", ROOT.parent / "tests" / "wasi" / "bin" / "stdio.wasm", b"x" * 20000),
              ("C args_env (WASI)", ROOT.parent / "tests" / "wasi" / "bin" / "args_env.wasm", b"")]


def c_program_runner(engine: str, cfg: dict, path: Path, stdin: bytes, fuel: int):
    """A callable running the C WASI program once (fresh instance, output dropped)."""
    import io

    from pywazero import wasi

    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, **cfg))
    wasi.instantiate(rt)
    compiled = rt.compile(path.read_bytes())

    def run(_arg: object) -> None:
        if cfg.get("consume_fuel"):
            rt.set_fuel(fuel)
        try:
            m = rt.instantiate(compiled, pywazero.ModuleConfig(args=["prog", "a", "b"], stdin=io.BytesIO(stdin)))
            m.close()
        except pywazero.ExitError:
            pass

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="compiler,interpreter")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--fuel", type=int, default=FUEL, help="the budget in fuel mode")
    args = ap.parse_args()
    rows = []
    for engine in [e for e in args.engines.split(",") if e]:
        for name, wat, arg, calls in workloads(args.scale):
            fns = {}
            for mode, cfg in MODES.items():
                rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, **cfg))
                if cfg.get("consume_fuel"):
                    rt.set_fuel(args.fuel)
                fns[mode] = rt.instantiate(rt.compile(wat)).function("run")
            best = {m: float("inf") for m in MODES}
            for _ in range(args.rounds):
                for mode, fn in fns.items():
                    t0 = time.process_time()
                    for _ in range(calls):
                        fn(arg)
                    best[mode] = min(best[mode], time.process_time() - t0)
            base = best["off"]
            rows.append([engine, name, "%.4f" % base, "%.2fx" % (best["interrupt"] / base),
                         "%.2fx" % (best["fuel"] / base)])
        for name, path, stdin in C_PROGRAMS:
            runs = {mode: c_program_runner(engine, cfg, path, stdin, args.fuel) for mode, cfg in MODES.items()}
            best = {m: float("inf") for m in MODES}
            for _ in range(args.rounds):
                for mode, run in runs.items():
                    t0 = time.process_time()
                    for _ in range(max(1, int(5 * args.scale))):
                        run(None)
                    best[mode] = min(best[mode], time.process_time() - t0)
            base = best["off"]
            rows.append([engine, name, "%.4f" % base, "%.2fx" % (best["interrupt"] / base),
                         "%.2fx" % (best["fuel"] / base)])
    header = ["engine", "workload", "off s", "interrupt", "fuel"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
