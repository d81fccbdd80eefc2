"""Execution benchmarks: pywazero's engines beside pywasm and plain Python, in one run.

    python bench/run.py [--engines interpreter,compiler] [--no-pywasm] [--scale 1.0]

Every workload runs on each engine and as plain Python; results are checked to agree
and reported as seconds and as ratios (engine time / plain-Python time, and pywasm
time / engine time).  pywasm is a bench-only dependency: ``pip install pywasm``.
"""
from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(ROOT))

import pywazero  # noqa: E402
import workloads as W  # noqa: E402
from timing import timed  # noqa: E402


class PywasmRunner:
    """Runs a workload's binary on pywasm."""

    def __init__(self, wasm: bytes) -> None:
        import io

        import pywasm

        self.pywasm = pywasm
        self.rt = pywasm.core.Runtime()
        self.mod = self.rt.instance(pywasm.core.ModuleDesc.from_reader(io.BytesIO(wasm)))

    def call(self, *args):
        out = self.rt.invocate(self.mod, "run", list(args))
        return out[0] if out else None


def pywasm_available() -> bool:
    try:
        import pywasm  # noqa: F401
    except Exception:
        return False
    return True


COMPUTE = [
    # name, wat, python function, argument
    ("fib(25)", W.FIB_WAT, W.fib_py, 25),
    ("i64 loop 1M", W.LOOP_WAT, W.loop_py, 1_000_000),
    ("sieve 200k", W.SIEVE_WAT, W.sieve_py, 200_000),
    ("f64 matmul 60", W.MATMUL_WAT, W.matmul_py, 60),
]


def scaled(name: str, arg: int, scale: float) -> int:
    if scale == 1.0:
        return arg
    if name.startswith("fib"):
        return max(10, arg + round(__import__("math").log(scale, 1.618)))
    if name.startswith("f64 matmul"):
        return max(4, round(arg * scale ** (1 / 3)))
    return max(10, round(arg * scale))


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="interpreter,compiler")
    ap.add_argument("--no-pywasm", action="store_true")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink workloads for a quick run")
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    use_pywasm = not args.no_pywasm and pywasm_available()

    rows: List[List[str]] = []
    header = ["workload", "python s"] + [f"{e} s" for e in engines] + (["pywasm s"] if use_pywasm else [])
    header += [f"{e}/python" for e in engines]
    if use_pywasm:
        header += [f"pywasm/{e}" for e in engines]

    for name, wat, py_fn, arg in COMPUTE:
        arg = scaled(name, arg, args.scale)
        t_py, expected = timed(lambda: py_fn(arg), repeat=3)
        times: Dict[str, Optional[float]] = {}
        for engine in engines:
            try:
                rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
                mod = rt.instantiate(rt.compile(wat))
                fn = mod.function("run")
                t, got = timed(lambda: fn(arg), repeat=2)
                if not same(got, expected):
                    print(f"!! {name} on {engine}: {got!r} != {expected!r}", file=sys.stderr)
                times[engine] = t
            except Exception as e:  # an engine not built yet must not hide the others
                print(f"!! {name} on {engine}: {type(e).__name__}: {e}", file=sys.stderr)
                times[engine] = None
        t_pw = None
        if use_pywasm:
            runner = PywasmRunner(pywazero.wat2wasm(wat))
            t_pw, got = timed(lambda: runner.call(arg))
            if not same(got, expected):
                print(f"!! {name} on pywasm: {got!r} != {expected!r}", file=sys.stderr)
        rows.append(_row(f"{name}", t_py, times, t_pw, engines, use_pywasm))

    # host -> wasm calls of a tiny function
    calls = max(1000, int(100_000 * args.scale))
    t_py, _ = timed(lambda: [W.tiny_py(i) for i in range(calls)], repeat=3)
    times = {}
    for engine in engines:
        try:
            rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
            fn = rt.instantiate(rt.compile(W.TINY_WAT)).function("run")
            times[engine], _ = timed(lambda: [fn(i) for i in range(calls)], repeat=3)
        except Exception as e:
            print(f"!! calls on {engine}: {type(e).__name__}: {e}", file=sys.stderr)
            times[engine] = None
    t_pw = None
    if use_pywasm:
        runner = PywasmRunner(pywazero.wat2wasm(W.TINY_WAT))
        t_pw, _ = timed(lambda: [runner.call(i) for i in range(calls)])
    rows.append(_row(f"{calls // 1000}k host->wasm calls", t_py, times, t_pw, engines, use_pywasm))
    for engine in engines:
        if times.get(engine):
            print(f"{engine}: one host->wasm call {times[engine] / calls * 1e6:.2f} us "
                  f"({times[engine] / t_py:.1f}x a plain Python call)")

    # instantiate one compiled 200-function module many times
    count = max(10, int(1000 * args.scale))
    wat = W.many_functions_wat(200)
    for engine in engines:
        try:
            rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
            gc.collect()  # earlier rows' garbage must not be charged to this compile
            t_compile, compiled = timed(lambda: rt.compile(wat))

            def instantiate_many() -> None:
                for _ in range(count):
                    rt.instantiate(compiled)  # each instance is dropped at once

            t_inst, _ = timed(instantiate_many)
            print(f"{engine}: compile 200-function module {t_compile * 1e3:.1f} ms; "
                  f"instantiate x{count} {t_inst:.3f} s = {t_inst / count * 1e3:.3f} ms each "
                  f"({t_inst / count / t_compile * 100:.2f}% of compile)")
        except Exception as e:
            print(f"!! instantiate on {engine}: {type(e).__name__}: {e}", file=sys.stderr)

    # compile throughput for a large module
    from decode_validate import synthetic_module_bytes

    big = synthetic_module_bytes(int(1_000_000 * max(args.scale, 0.1)))
    mb = len(big) / 1e6
    for engine in engines:
        try:
            rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
            t_compile, compiled = timed(lambda: rt.compile(big))
            line = (f"{engine}: compile a {mb:.2f} MB module {t_compile:.2f} s = {mb / t_compile:.2f} MB/s "
                    "(decode, validate, engine setup)")
            code = compiled._engine_code()
            if hasattr(code, "compile_all"):  # lazy engines: also generate every function now
                t_all, _ = timed(code.compile_all)
                line += f"; generating all functions eagerly {t_all:.2f} s = {mb / t_all:.2f} MB/s"
            print(line)
        except Exception as e:
            print(f"!! large compile on {engine}: {type(e).__name__}: {e}", file=sys.stderr)

    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


def _row(name, t_py, times, t_pw, engines, use_pywasm) -> List[str]:
    def f(t):
        return "-" if t is None else f"{t:.4f}"

    row = [name, f(t_py)] + [f(times[e]) for e in engines] + ([f(t_pw)] if use_pywasm else [])
    row += ["-" if times[e] is None else f"{times[e] / t_py:.1f}x" for e in engines]
    if use_pywasm:
        row += ["-" if (times[e] is None or t_pw is None) else f"{t_pw / times[e]:.1f}x" for e in engines]
    return row


if __name__ == "__main__":
    sys.exit(main())
