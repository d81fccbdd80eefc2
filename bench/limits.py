"""What execution limits cost: every workload with limits off, with interruption, with
a deadline and with fuel, on each engine, in one run, as ratios to limits off.

    python bench/limits.py [--engines compiler,interpreter] [--scale 1.0] [--repeat 3]

Workloads: the compute kernels of bench/run.py (fib, an i64 loop, a sieve, an f64
matrix product), 100k host->wasm calls of a tiny function, and C programs compiled
with wasi-libc (bench/programs/*.c, built by bench/programs/build.sh) run through
WASI.  Every mode's result is checked against limits off.  Modes:

* ``off``: ``RuntimeConfig()``, the code every user gets by default;
* ``interrupt``: ``RuntimeConfig(interruptible=True)`` (checks at function entry and
  loop headers);
* ``deadline``: the same runtime, every call inside ``with rt.deadline(3600)``;
* ``fuel``: ``RuntimeConfig(consume_fuel=True)`` with a budget that never runs out
  (the reported fuel is what the workload consumed).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import pywazero  # noqa: E402
import pywazero.wasi  # noqa: E402
import workloads as W  # noqa: E402
from run import COMPUTE, same, scaled  # noqa: E402

MODES = ("off", "interrupt", "deadline", "fuel")
BUDGET = 10 ** 18

# C programs: name, argument at scale 1.0
PROGRAMS = [("crc32", 200_000), ("qsort", 20_000), ("nbody", 5_000), ("strings", 5_000)]


def runtime_for(engine: str, mode: str) -> pywazero.Runtime:
    extra: Dict[str, Any] = {}
    if mode in ("interrupt", "deadline"):
        extra["interruptible"] = True
    elif mode == "fuel":
        extra["consume_fuel"] = True
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, **extra))
    if mode == "fuel":
        rt.set_fuel(BUDGET)
    return rt


def scope(rt: pywazero.Runtime, mode: str) -> Any:
    return rt.deadline(3600) if mode == "deadline" else contextlib.nullcontext()


def best_of(fn: Callable[[], Any], repeat: int) -> Tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def compute_case(wat: str, arg: int) -> Callable[[str, str, int], Tuple[float, Any, Optional[int]]]:
    def run(engine: str, mode: str, repeat: int) -> Tuple[float, Any, Optional[int]]:
        rt = runtime_for(engine, mode)
        fn = rt.instantiate(rt.compile(wat)).function("run")
        with scope(rt, mode):
            fn(arg)  # warm up: the compiler translates on first call
            if mode == "fuel":
                rt.set_fuel(BUDGET)
            t, got = best_of(lambda: fn(arg), repeat)
        return t, got, (BUDGET - rt.get_fuel()) // repeat if mode == "fuel" else None
    return run


def calls_case(count: int) -> Callable[[str, str, int], Tuple[float, Any, Optional[int]]]:
    def run(engine: str, mode: str, repeat: int) -> Tuple[float, Any, Optional[int]]:
        rt = runtime_for(engine, mode)
        fn = rt.instantiate(rt.compile(W.TINY_WAT)).function("run")
        with scope(rt, mode):
            fn(1)
            if mode == "fuel":
                rt.set_fuel(BUDGET)
            t, got = best_of(lambda: [fn(i) for i in range(count)][-1], repeat)
        return t, got, (BUDGET - rt.get_fuel()) // repeat if mode == "fuel" else None
    return run


def program_case(name: str, arg: int) -> Callable[[str, str, int], Tuple[float, Any, Optional[int]]]:
    wasm = (ROOT / "programs" / f"{name}.wasm").read_bytes()

    def run(engine: str, mode: str, repeat: int) -> Tuple[float, Any, Optional[int]]:
        rt = runtime_for(engine, mode)
        pywazero.wasi.instantiate(rt)
        compiled = rt.compile(wasm)

        def once() -> bytes:
            out = io.BytesIO()
            rt.instantiate(compiled, pywazero.ModuleConfig(args=(name, str(arg)), stdout=out))
            return out.getvalue()

        with scope(rt, mode):
            once()
            if mode == "fuel":
                rt.set_fuel(BUDGET)
            t, got = best_of(once, repeat)
        return t, got, (BUDGET - rt.get_fuel()) // repeat if mode == "fuel" else None
    return run


def cases(scale: float) -> List[Tuple[str, Callable[[str, str, int], Any]]]:
    out = [(name, compute_case(wat, scaled(name, arg, scale))) for name, wat, _, arg in COMPUTE]
    calls = max(1000, int(100_000 * scale))
    out.append((f"{calls // 1000}k host->wasm calls", calls_case(calls)))
    for name, arg in PROGRAMS:
        n = max(10, int(arg * scale))
        out.append((f"C {name}({n})", program_case(name, n)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="compiler,interpreter")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink workloads for a quick run")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    # the interpreter is ~10-50x slower: run it on smaller inputs
    header = ["engine", "workload", "off s"] + [f"{m}/off" for m in MODES[1:]] + ["fuel used"]
    rows: List[List[str]] = []
    for engine in engines:
        scale = args.scale * (0.1 if engine == "interpreter" else 1.0)
        for name, run in cases(scale):
            times: Dict[str, Optional[float]] = {}
            results: Dict[str, Any] = {}
            fuel_used: Optional[int] = None
            for mode in MODES:
                try:
                    t, got, used = run(engine, mode, args.repeat)
                except Exception as e:  # one mode failing must not hide the others
                    print(f"!! {name} on {engine} ({mode}): {type(e).__name__}: {e}", file=sys.stderr)
                    times[mode] = None
                    continue
                times[mode], results[mode] = t, got
                if used is not None:
                    fuel_used = used
                if mode != "off" and "off" in results and not same_result(got, results["off"]):
                    print(f"!! {name} on {engine} ({mode}): {got!r} != {results['off']!r}", file=sys.stderr)
            base = times.get("off")
            row = [engine, name, "-" if base is None else f"{base:.4f}"]
            for m in MODES[1:]:
                t = times.get(m)
                row.append("-" if t is None or not base else f"{t / base:.2f}x")
            row.append("-" if fuel_used is None else f"{fuel_used:,}")
            rows.append(row)
            print("  ".join(row), flush=True)
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
    return 0


def same_result(a: Any, b: Any) -> bool:
    if isinstance(a, bytes) or isinstance(b, bytes):
        return a == b
    return same(a, b)


if __name__ == "__main__":
    sys.exit(main())
