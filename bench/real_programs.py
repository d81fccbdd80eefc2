"""Real-program benchmarks: C programs compiled to WASI beside their plain-Python twins.

    python bench/real_programs.py [--no-interpreter] [--no-wasmtime] [--scale 1.0]
                                  [--only nbody,vm] [--repeat 1] [--json out.json]

Each program of ``bench/programs/`` (``*.c``, built to the committed ``*.wasm`` by
``bench/programs/build.sh``) runs, in one process, on pywazero's compiler, its
interpreter, wasmtime-py (a dev-only oracle: ``pip install wasmtime``; never a runtime
dependency) and as its plain-Python twin (``bench/programs/twins.py``: the same
algorithm on the same input).  Every run's stdout must be the twin's, byte for byte;
a mismatch is reported and makes the exit status 1.

Reported per program: seconds on each (pywazero times include decoding, validation,
compilation and instantiation: the whole ``pywazero run``), the ratio compiler /
Python, the number of wasm instructions executed (wasmtime's fuel, which charges one
unit per instruction except ``nop``, ``drop``, ``block``, ``loop`` and the like, so
it is a close count) and the instructions per second that makes on each engine;
geometric means at the bottom.  ``--scale`` multiplies every input size (the
defaults make a compiler run last about 0.5-2 s on the project's machine).
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent
PROGRAMS = ROOT / "programs"
sys.path.insert(0, str(ROOT.parent / "src"))
sys.path.insert(0, str(PROGRAMS))

import pywazero  # noqa: E402
import twins  # noqa: E402

M32 = 0xFFFFFFFF


def words_text(size: int) -> bytes:
    """Generated English-like text for wordcount: a vocabulary of 5000 made-up words
    drawn with a skewed (roughly Zipfian) distribution, capitalised after a full stop,
    with punctuation and line breaks; deterministic."""
    syll = ["an", "be", "co", "de", "el", "fo", "gu", "hi", "in", "jo", "ka", "lu", "me",
            "no", "or", "pa", "qu", "re", "st", "th", "ul", "ve", "wa", "xe", "yo", "ze"]
    x = 7
    def rnd() -> int:
        nonlocal x
        x = (x * 1103515245 + 12345) & M32
        return x >> 16
    vocab = []
    for _ in range(5000):
        vocab.append("".join(syll[rnd() % 26] for _ in range(1 + rnd() % 4)))
    out: List[str] = []
    n = 0
    capital = True
    while n < size:
        u = rnd() / 65536.0
        w = vocab[int(5000 * u * u * u)]
        if capital:
            w = w.capitalize()
        r = rnd() % 20
        sep = ". " if r == 0 else ", " if r == 1 else "\n" if r == 2 else " "
        capital = r == 0
        out.append(w + sep)
        n += len(w) + len(sep)
    return "".join(out).encode()[:size]


@dataclass
class Program:
    name: str
    args: List[int]                      # the size arguments (scaled)
    twin: Callable[..., str]
    stdin: Optional[Callable[[int], bytes]] = None   # input from the first size
    note: str = ""
    # one of the six kernels (the rest: programs that existed before the
    # suite, whose twins do their work in C-coded builtins: printf vs %, qsort vs sorted)
    core: bool = True

    def argv(self) -> List[str]:
        return [] if self.stdin else [str(a) for a in self.args]

    def input(self) -> bytes:
        return self.stdin(self.args[0]) if self.stdin else b""

    def run_twin(self, data: bytes) -> str:
        return self.twin(data) if self.stdin else self.twin(*self.args)


def programs(scale: float) -> List[Program]:
    def s(n: float) -> int:   # scale 0: every size 1, the start-up run
        return max(1, int(n * scale))
    return [
        Program("nbody", [s(10000)], twins.nbody),
        Program("sha256", [s(20000), 4], twins.sha256),
        Program("crc32", [s(500000)], twins.crc32, core=False),
        Program("qsort", [s(10000)], twins.qsort,
                note="libc qsort vs sorted(key=cmp_to_key): same job, not same algorithm",
                core=False),
        Program("sort", [s(12000)], twins.sort),
        Program("vm", [s(4000)], twins.vm),
        Program("wordcount", [s(150000)], twins.wordcount, stdin=words_text,
                note="the twin tokenises with re.findall (the idiom), the C program by hand"),
        Program("lz77", [s(40000)], twins.lz77),
        Program("strings", [s(5000)], twins.strings, core=False,
                note="musl's snprintf/strcmp vs Python's % and str comparison"),
    ]


def wasm_path(name: str) -> Path:
    return PROGRAMS / (name + ".wasm")


def run_pywazero(prog: Program, engine: str, data: bytes) -> Tuple[float, float, str]:
    """(total seconds, of which compile seconds, stdout) of one ``pywazero run``-like
    execution in-process."""
    from pywazero import wasi
    from pywazero.errors import ExitError

    wasm = wasm_path(prog.name).read_bytes()
    out = io.BytesIO()
    gc.collect()
    t0 = time.perf_counter()
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
    wasi.instantiate(rt)
    compiled = rt.compile(wasm)
    t_compile = time.perf_counter() - t0
    cfg = pywazero.ModuleConfig(args=[prog.name] + prog.argv(), stdin=data, stdout=out,
                                stderr=io.BytesIO(), start_functions=())
    module = rt.instantiate(compiled, cfg)
    try:
        module.instance.exports["_start"].call([])
    except ExitError as e:
        if e.exit_code != 0:
            raise RuntimeError(f"{prog.name} exited with {e.exit_code} on {engine}")
    total = time.perf_counter() - t0
    wasi.close(module)
    return total, t_compile, out.getvalue().decode("utf-8", "replace")


def run_wasmtime(prog: Program, data: bytes,
                 fuel: bool) -> Tuple[float, float, str, Optional[int]]:
    """(total seconds, seconds in ``_start`` alone, stdout, instructions executed when
    ``fuel``) under wasmtime-py.  The total includes Cranelift's compilation, which
    dominates at these sizes; the instruction rate uses the ``_start`` time."""
    import wasmtime

    big = 1 << 62
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("stdin", "stdout", "stderr")}
        with open(paths["stdin"], "wb") as f:
            f.write(data)
        t0 = time.perf_counter()
        cfg = wasmtime.Config()
        cfg.consume_fuel = fuel
        engine = wasmtime.Engine(cfg)
        store = wasmtime.Store(engine)
        if fuel:
            store.set_fuel(big)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        w = wasmtime.WasiConfig()
        w.argv = [prog.name] + prog.argv()
        w.stdin_file = paths["stdin"]
        w.stdout_file, w.stderr_file = paths["stdout"], paths["stderr"]
        store.set_wasi(w)
        module = wasmtime.Module.from_file(engine, str(wasm_path(prog.name)))
        inst = linker.instantiate(store, module)
        t1 = time.perf_counter()
        try:
            inst.exports(store)["_start"](store)
        except wasmtime.ExitTrap as e:
            if e.code != 0:
                raise
        t2 = time.perf_counter()
        count = big - store.get_fuel() if fuel else None
        del store
        with open(paths["stdout"], "rb") as f:
            return t2 - t0, t2 - t1, f.read().decode("utf-8", "replace"), count


def best_of(repeat: int, fn: Callable[[], tuple]) -> tuple:
    best = None
    for _ in range(repeat):
        r = fn()
        if best is None or r[0] < best[0]:
            best = r
    return best


def geomean(xs: List[float]) -> float:
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


@dataclass
class Row:
    name: str
    args: List[int]
    core: bool = True
    instructions: Optional[int] = None
    times: Dict[str, float] = field(default_factory=dict)
    compile: Dict[str, float] = field(default_factory=dict)
    run_only: Dict[str, float] = field(default_factory=dict)   # wasmtime: _start alone
    # the compiler on a size-1 input: decoding, compiling, translating the functions
    # the run reaches on their first call, libc's start-up; a fixed cost in every run
    startup: Optional[float] = None

    def rate_time(self, engine: str) -> Optional[float]:
        """The time instructions per second are computed from."""
        return self.run_only.get(engine, self.times.get(engine))
    mismatches: List[str] = field(default_factory=list)


def measure(prog: Program, tiny: Program, engines: List[str], repeat: int,
            log: Callable[[str], None]) -> Row:
    """Runs ``prog`` everywhere (``tiny``, the same program on a size-1 input, for the
    compiler's start-up cost) and checks every output against the twin's."""
    row = Row(prog.name, prog.args, core=prog.core)
    data = prog.input()
    t0 = time.perf_counter()
    gc.collect()
    expected = prog.run_twin(data)
    row.times["python"] = time.perf_counter() - t0
    for _ in range(max(repeat, 3) - 1):
        t0 = time.perf_counter()
        prog.run_twin(data)
        row.times["python"] = min(row.times["python"], time.perf_counter() - t0)
    log(f"  {prog.name}: python {row.times['python']:.3f}s  {expected.splitlines()[0]!r}")

    def check(engine: str, out: str) -> None:
        if out != expected:
            row.mismatches.append(engine)
            log(f"  MISMATCH {prog.name} {prog.args} on {engine}:\n    got      {out!r}\n"
                f"    expected {expected!r}")

    if "wasmtime" in engines:
        _, _, out, row.instructions = run_wasmtime(prog, data, fuel=True)
        check("wasmtime (fuel)", out)
        t, t_run, out, _ = best_of(repeat, lambda: run_wasmtime(prog, data, fuel=False))
        row.times["wasmtime"] = t
        row.run_only["wasmtime"] = t_run
        check("wasmtime", out)
    for engine in ("compiler", "interpreter"):
        if engine in engines:
            t, tc, out = best_of(repeat, lambda: run_pywazero(prog, engine, data))
            row.times[engine], row.compile[engine] = t, tc
            check(engine, out)
            log(f"  {prog.name}: {engine} {t:.3f}s (compile {tc:.3f}s)")
    if "compiler" in engines:
        tiny_data = tiny.input()
        row.startup, _, out = run_pywazero(tiny, "compiler", tiny_data)
        if out != tiny.run_twin(tiny_data):
            row.mismatches.append("compiler (size 1)")
            log(f"  MISMATCH {tiny.name} {tiny.args} on compiler:\n    got      {out!r}\n"
                f"    expected {tiny.run_twin(tiny_data)!r}")
    return row


def fmt_s(t: Optional[float]) -> str:
    return "-" if t is None else f"{t:.3f}"


def fmt_rate(instr: Optional[int], t: Optional[float]) -> str:
    return "-" if not instr or not t else f"{instr / t / 1e6:.1f}"


def table(rows: List[Row], engines: List[str]) -> List[str]:
    cols = ["program", "size", "Minstr"] + [f"{e} s" for e in engines]
    cols += ["python s", "compiler/python", "compiler start-up s"]
    cols += [f"{e} Minstr/s" for e in engines]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [r.name + (" (MISMATCH)" if r.mismatches else ""),
                 ",".join(map(str, r.args)),
                 "-" if r.instructions is None else f"{r.instructions / 1e6:.1f}"]
        cells += [fmt_s(r.times.get(e)) for e in engines] + [fmt_s(r.times["python"])]
        c, p = r.times.get("compiler"), r.times["python"]
        cells.append("-" if c is None else f"{c / p:.2f}x")
        cells.append(fmt_s(r.startup))
        cells += [fmt_rate(r.instructions, r.rate_time(e)) for e in engines]
        lines.append("| " + " | ".join(cells) + " |")
    core = [r for r in rows if r.core]
    if core and len(core) < len(rows):
        lines.append(_geomean_row("geometric mean (the six kernels)", core, engines))
    lines.append(_geomean_row("geometric mean", rows, engines))
    return lines


def _geomean_row(title: str, rows: List[Row], engines: List[str]) -> str:
    gm = [title, "", ""]
    gm += [fmt_s(geomean([r.times.get(e) for r in rows])) for e in engines]
    gm.append(fmt_s(geomean([r.times["python"] for r in rows])))
    ratios = [r.times["compiler"] / r.times["python"] for r in rows if "compiler" in r.times]
    gm.append(f"{geomean(ratios):.2f}x" if ratios else "-")
    gm.append(fmt_s(geomean([r.startup for r in rows])))
    for e in engines:
        rates = [r.instructions / r.rate_time(e) / 1e6 for r in rows
                 if r.instructions and e in r.times]
        gm.append(f"{geomean(rates):.1f}" if rates else "-")
    return "| " + " | ".join(gm) + " |"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-interpreter", action="store_true", help="skip the (slow) interpreter")
    ap.add_argument("--no-wasmtime", action="store_true",
                    help="skip wasmtime-py (then no instruction counts)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every input size")
    ap.add_argument("--only", default="", help="comma-separated program names")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs")
    ap.add_argument("--json", default="", help="also write the results here")
    args = ap.parse_args(argv)

    engines = ["compiler"]
    if not args.no_interpreter:
        engines.append("interpreter")
    if not args.no_wasmtime:
        try:
            import wasmtime  # noqa: F401
            engines.append("wasmtime")
        except ImportError:
            print("wasmtime-py not installed: no wasmtime column, no instruction counts")
    progs = programs(args.scale)
    tinies = {p.name: p for p in programs(0)}
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {p.name for p in progs}
        if unknown:
            ap.error("unknown program(s): " + ", ".join(sorted(unknown)))
        progs = [p for p in progs if p.name in wanted]

    impl = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"# real programs on {impl}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    # warm up: the first run would otherwise pay for importing the engines and WASI
    warm = Program("strings", [10], twins.strings)
    for e in engines:
        if e in ("compiler", "interpreter"):
            run_pywazero(warm, e, b"")
    rows = [measure(p, tinies[p.name], engines, args.repeat,
                    lambda s: print(s, file=sys.stderr, flush=True)) for p in progs]
    print("\n".join(table(rows, engines)))
    print("pywazero times include decode, validation, compilation and instantiation; "
          "Minstr = wasm instructions executed (wasmtime fuel); wasmtime s includes "
          "Cranelift compilation, its Minstr/s uses the time in _start alone; compiler "
          "start-up = the compiler's time on a size-1 input (mostly translating the "
          "functions reached, on first call).")
    for p in progs:
        if p.note:
            print(f"{p.name}: {p.note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"python": impl, "rows": [r.__dict__ for r in rows]}, f, indent=1)
    bad = [r.name for r in rows if r.mismatches]
    if bad:
        print("OUTPUT MISMATCH: " + ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
