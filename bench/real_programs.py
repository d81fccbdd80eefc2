"""Real-program benchmarks: C programs compiled to WASI beside their plain-Python twins.

    python bench/real_programs.py [--no-interpreter] [--no-wasmtime] [--no-pywasm]
                                  [--no-pypy | --pypy PATH] [--before REV]
                                  [--scale 1.0] [--only nbody,vm] [--repeat 1] [--json out.json]

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

In the same run, when available:

* **pywasm** (``pip install pywasm``, dev-only, Python 3.10+), in a child process at
  ``--pywasm-scale`` of the sizes (default 1/50: it runs ~0.1-0.2 Minstr/s) with a
  time limit per program, through its own WASI preview1;
* **PyPy**: when ``pypy3`` is on PATH (or ``--pypy PATH``), this script runs under it
  in a child process (``--json``) and a second table puts its compiler and twin times
  beside CPython's (PyPy speed-up = CPython time / PyPy time);
* **before/after**: ``--before REV`` exports ``src/`` of git revision ``REV`` (issue
  12's starting point is ``d391174``) and runs the compiler of that tree on the same
  programs in a child process (``--src``), for a before/after table.
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent
PROGRAMS = ROOT / "programs"


def _src_dir(argv: List[str]) -> str:
    """The pywazero source tree to import: ``--src DIR`` (how ``--before`` runs an old
    revision in a child process), else this checkout's ``src/``."""
    for i, a in enumerate(argv[:-1]):
        if a == "--src":
            return argv[i + 1]
    return str(ROOT.parent / "src")


sys.path.insert(0, _src_dir(sys.argv) if __name__ == "__main__" else str(ROOT.parent / "src"))
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
        Program("wordcount", [s(150000)], twins.wordcount, stdin=words_text),
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


# pywasm (``pip install pywasm``, dev-only) runs a program in a child process, so
# that a run past its time limit can be killed; its WASI preview1 takes stdin and
# stdout as in-memory pipes
PYWASM_CHILD = r"""
import io, json, sys, time
import pywasm
path, stdin_path, argv = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
runtime = pywasm.core.Runtime()
w = pywasm.wasi.Preview1(argv, {}, {})
with open(stdin_path, "rb") as f:
    w.fd[0].pipe = io.BytesIO(f.read())
w.fd[1].pipe, w.fd[2].pipe = io.BytesIO(), io.BytesIO()
w.bind(runtime)
t0 = time.perf_counter()
code = w.main(runtime, runtime.instance_from_file(path))
t = time.perf_counter() - t0
print(json.dumps({"t": t, "code": code, "out": w.fd[1].pipe.getvalue().decode("utf-8", "replace")}))
"""


def pywasm_available() -> bool:
    try:
        import pywasm  # noqa: F401
    except Exception:   # (pywasm 2 needs Python 3.10+: a SyntaxError before that)
        return False
    return True


def _failure(p: "subprocess.CompletedProcess[str]") -> str:
    """Why a child process failed: the last line of its stderr, else its status."""
    return (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]


def run_pywasm(prog: Program, data: bytes, timeout: float) -> Tuple[Optional[float], str, str]:
    """(seconds, or None past ``timeout``; stdout; error) of ``prog`` on pywasm, the
    time including its decoding and instantiation."""
    with tempfile.TemporaryDirectory() as d:
        stdin = os.path.join(d, "stdin")
        with open(stdin, "wb") as f:
            f.write(data)
        argv = json.dumps([prog.name] + prog.argv())
        try:
            p = subprocess.run([sys.executable, "-c", PYWASM_CHILD, str(wasm_path(prog.name)), stdin, argv],
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, "", ""
    if p.returncode != 0:
        return None, "", _failure(p)
    r = json.loads(p.stdout)
    if r["code"]:
        return None, r["out"], "exit status %s" % r["code"]
    return r["t"], r["out"], ""


def child_rows(python: str, args: argparse.Namespace, names: List[str], src: Optional[str],
               log: Callable[[str], None]) -> Tuple[Dict[str, dict], str]:
    """This script's compiler and twin measurements, run by ``python`` (PyPy) or with
    the pywazero of ``src`` (an older revision) in a child process: rows by program
    name and the child's Python, or ({}, reason) when it failed."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "rows.json")
        cmd = [python, str(Path(__file__).resolve()), "--no-interpreter", "--no-wasmtime",
               "--no-pypy", "--no-pywasm", "--scale", repr(args.scale), "--repeat", str(args.repeat),
               "--only", ",".join(names), "--json", out]
        if src:
            cmd += ["--src", src]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if not os.path.exists(out):
            err = _failure(p)
            log(f"  {python} {'--src ' + src if src else ''} failed: {err}")
            return {}, err
        with open(out) as f:
            res = json.load(f)
    return {r["name"]: r for r in res["rows"]}, res["python"]


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

    mismatches: List[str] = field(default_factory=list)
    # the same program elsewhere: "pypy" (this script under PyPy), "before" (the
    # compiler of an older revision): that run's row as a dict (see ``child_rows``)
    others: Dict[str, dict] = field(default_factory=dict)
    # pywasm, at its own (smaller) size: seconds (None: did not finish in time),
    # its arguments, the instructions executed at that size, and why it failed
    pywasm: Optional[dict] = None

    def rate_time(self, engine: str) -> Optional[float]:
        """The time instructions per second are computed from."""
        return self.run_only.get(engine, self.times.get(engine))


def measure(prog: Program, tiny: Program, engines: List[str], repeat: int,
            log: Callable[[str], None], pywasm_small: Optional[Program] = None,
            pywasm_timeout: float = 60.0) -> Row:
    """Runs ``prog`` everywhere (``tiny``, the same program on a size-1 input, for the
    compiler's start-up cost; ``pywasm_small``, the program at pywasm's smaller size)
    and checks every output against the twin's."""
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
    if pywasm_small is not None:
        small_data = pywasm_small.input()
        t, out, err = run_pywasm(pywasm_small, small_data, pywasm_timeout)
        row.pywasm = {"time": t, "args": pywasm_small.args, "error": err, "instructions": None}
        if t is not None and out != pywasm_small.run_twin(small_data):
            row.mismatches.append("pywasm")
            log(f"  MISMATCH {prog.name} {pywasm_small.args} on pywasm:\n    got      {out!r}")
        if t is not None and "wasmtime" in engines:
            row.pywasm["instructions"] = run_wasmtime(pywasm_small, small_data, fuel=True)[3]
        log(f"  {prog.name}: pywasm {pywasm_small.args}: "
            + (f"{t:.3f}s" if t is not None else err or f"> {pywasm_timeout:g}s"))
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


def _pywasm_cells(r: Row, timeout: float) -> List[str]:
    """pywasm's time at its size and its instruction rate."""
    pw = r.pywasm
    if pw is None:
        return ["-", "-"]
    size = ",".join(map(str, pw["args"]))
    if pw["time"] is None:
        return [(f"fails ({pw['error'][:40]})" if pw["error"] else f">{timeout:g}") + f" @{size}", "-"]
    return [f"{pw['time']:.2f} @{size}", fmt_rate(pw["instructions"], pw["time"])]


def _pywasm_rate(r: Row) -> Optional[float]:
    pw = r.pywasm
    if not pw or pw["time"] is None or not pw["instructions"]:
        return None
    return pw["instructions"] / pw["time"] / 1e6


def table(rows: List[Row], engines: List[str], pywasm_timeout: float = 60.0) -> List[str]:
    with_pywasm = any(r.pywasm is not None for r in rows)
    cols = ["program", "size", "Minstr"] + [f"{e} s" for e in engines]
    cols += ["python s", "compiler/python", "compiler start-up s"]
    cols += [f"{e} Minstr/s" for e in engines]
    if with_pywasm:
        cols += ["pywasm s @size", "pywasm Minstr/s"]
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
        if with_pywasm:
            cells += _pywasm_cells(r, pywasm_timeout)
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
    if any(r.pywasm is not None for r in rows):
        rates = [x for x in map(_pywasm_rate, rows) if x]
        gm += ["", f"{geomean(rates):.2f}" if rates else "-"]
    return "| " + " | ".join(gm) + " |"


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


def _fmt_x(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}x"


def _with_geomeans(rows: List[Row], cells: Callable[[Row], List[Optional[float]]],
                   fmts: List[Callable[[Optional[float]], str]], head: List[str]) -> List[str]:
    """A markdown table: one line per row from ``cells`` (numbers, formatted by
    ``fmts``), then the geometric means of each column over the six kernels and over
    all programs."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    values = {r.name: cells(r) for r in rows}
    for r in rows:
        lines.append("| " + " | ".join([r.name] + [f(v) for f, v in zip(fmts, values[r.name])]) + " |")
    core = [r for r in rows if r.core]
    groups = ([("geometric mean (the six kernels)", core)] if core and len(core) < len(rows) else [])
    for title, group in groups + [("geometric mean", rows)]:
        cols = zip(*[values[r.name] for r in group])
        lines.append("| " + " | ".join([title] + [f(geomean(list(c)) if any(c) else None)
                                                   for f, c in zip(fmts, map(list, cols))]) + " |")
    return lines


def before_table(rows: List[Row], rev: str) -> List[str]:
    """The compiler of revision ``rev`` (``before``) and of this tree, same run."""
    def cells(r: Row) -> List[Optional[float]]:
        b = r.others.get("before", {})
        bt, at = b.get("times", {}).get("compiler"), r.times.get("compiler")
        return [bt, at, _ratio(bt, at), b.get("startup"), r.startup,
                _ratio(r.instructions, bt) and r.instructions / bt / 1e6,
                _ratio(r.instructions, at) and r.instructions / at / 1e6]
    rate = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
    return _with_geomeans(rows, cells, [fmt_s, fmt_s, _fmt_x, fmt_s, fmt_s, rate, rate],
                          ["program", f"before ({rev}) s", "after s", "speed-up",
                           "before start-up s", "after start-up s", "before Minstr/s", "after Minstr/s"])


def pypy_table(rows: List[Row], pypy: str) -> List[str]:
    """The compiler and the twins under PyPy beside CPython (this process)."""
    def cells(r: Row) -> List[Optional[float]]:
        o = r.others.get("pypy", {})
        ot = o.get("times", {})
        pc, pp = ot.get("compiler"), ot.get("python")
        cc, cp = r.times.get("compiler"), r.times.get("python")
        return [cc, pc, _ratio(cc, pc), cp, pp, _ratio(cp, pp), _ratio(pc, pp), o.get("startup"),
                _ratio(r.instructions, pc) and r.instructions / pc / 1e6]
    rate = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
    return _with_geomeans(rows, cells, [fmt_s, fmt_s, _fmt_x, fmt_s, fmt_s, _fmt_x, _fmt_x, fmt_s, rate],
                          ["program", "CPython compiler s", f"{pypy} compiler s", "PyPy speed-up",
                           "CPython python s", "PyPy python s", "python speed-up",
                           "PyPy compiler/python", "PyPy start-up s", "PyPy Minstr/s"])


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-interpreter", action="store_true", help="skip the (slow) interpreter")
    ap.add_argument("--no-wasmtime", action="store_true",
                    help="skip wasmtime-py (then no instruction counts)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every input size")
    ap.add_argument("--only", default="", help="comma-separated program names")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs")
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--pypy", default="", metavar="PATH",
                    help="the PyPy to run the same programs under (default: pypy3 on PATH)")
    ap.add_argument("--no-pypy", action="store_true", help="no PyPy table")
    ap.add_argument("--no-pywasm", action="store_true", help="skip pywasm")
    ap.add_argument("--pywasm-scale", type=float, default=0.02,
                    help="pywasm's sizes, relative to the others' (it is slow)")
    ap.add_argument("--pywasm-timeout", type=float, default=30.0,
                    help="seconds pywasm may take per program")
    ap.add_argument("--before", default="", metavar="REV",
                    help="also time the compiler of git revision REV (e.g. d391174, issue "
                         "12's starting point) on the same programs, in a child process")
    ap.add_argument("--src", default="", help=argparse.SUPPRESS)   # (see _src_dir)
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
    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    use_pywasm = not args.no_pywasm and pywasm_available()
    if not args.no_pywasm and not use_pywasm:
        log("pywasm not installed (pip install pywasm; Python 3.10+): no pywasm column")
    smalls = {p.name: p for p in programs(args.scale * args.pywasm_scale)}
    rows = [measure(p, tinies[p.name], engines, args.repeat, log,
                    smalls[p.name] if use_pywasm else None, args.pywasm_timeout) for p in progs]
    names = [p.name for p in progs]
    extra: List[str] = []
    if args.before:
        with tempfile.TemporaryDirectory() as d:
            from before_after import export_src
            log(f"compiler of {args.before}:")
            src = export_src(args.before, Path(d))
            before, _ = child_rows(sys.executable, args, names, str(src), log)
        for r in rows:
            if r.name in before:
                r.others["before"] = before[r.name]
                r.mismatches += ["before: " + m for m in before[r.name]["mismatches"]]
        extra += ["", f"## before/after: the compiler of {args.before} and of this tree (CPython)", ""]
        extra += before_table(rows, args.before)
    pypy = args.pypy or ("" if args.no_pypy or platform.python_implementation() == "PyPy"
                         else shutil.which("pypy3") or "")
    if pypy:
        log(f"{pypy}:")
        other, pypy_impl = child_rows(pypy, args, names, None, log)
        for r in rows:
            if r.name in other:
                r.others["pypy"] = other[r.name]
                r.mismatches += ["pypy " + m for m in other[r.name]["mismatches"]]
        extra += ["", f"## {pypy_impl} beside {impl}", ""]
        extra += pypy_table(rows, "PyPy") if other else [f"(PyPy run failed: {pypy_impl})"]
    print("\n".join(table(rows, engines, args.pywasm_timeout)))
    print("pywazero times include decode, validation, compilation and instantiation; "
          "Minstr = wasm instructions executed (wasmtime fuel); wasmtime s includes "
          "Cranelift compilation, its Minstr/s uses the time in _start alone; compiler "
          "start-up = the compiler's time on a size-1 input (mostly translating the "
          "functions reached, on first call).")
    if use_pywasm:
        print(f"pywasm runs each program at {args.pywasm_scale:g} of the size (@ its arguments), "
              f"for at most {args.pywasm_timeout:g} s; its Minstr/s counts that run's instructions.")
    for p in progs:
        if p.note:
            print(f"{p.name}: {p.note}")
    if extra:
        print("\n".join(extra))
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
