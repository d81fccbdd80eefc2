"""Tail calls: loops written as tail calls on both engines beside the same loops in
plain Python, and the 2.0 call workloads before/after (one run, interleaved).

    python bench/tailcall.py [--engines interpreter,compiler] [--scale 1.0]
                             [--before GIT-REV [--after GIT-REV]] [--rounds 3]

The tail-call workloads (n steps each):

* ``count``: a function tail-calling itself (``return_call``) with two i64s;
* ``even/odd``: two functions tail-calling each other (a mutual recursion);
* ``state machine``: three states tail-calling each other through a table
  (``return_call_indirect``), the dispatch of a threaded interpreter.

Plain Python has no tail calls: its versions are what one writes instead, a loop
(``count``) and a loop over state functions that return the next state (the usual
Python trampoline).  ``--before REV`` (e.g. the commit before tail calls landed)
also times the 2.0 call workloads (recursive ``fib``, ``call_indirect`` in a loop,
host->wasm calls) on that revision's source (``git archive``, nothing in the
repository changes) and on this tree, alternating rounds in fresh subprocesses,
(``--after``: on another revision instead of this tree), and prints each best CPU time and the after/before ratio (bench/before_after.py
does the same for the compute workloads).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from timing import timed  # (bench/ is on sys.path: these run as scripts)

ROOT = Path(__file__).resolve().parent
SRC = ROOT.parent / "src"

COUNT_WAT = """(module
  (func $count (export "run") (param $n i64) (result i64) (return_call $loop (local.get $n) (i64.const 0)))
  (func $loop (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
      (else (return_call $loop (i64.sub (local.get $n) (i64.const 1))
                               (i64.add (local.get $acc) (i64.xor (local.get $n) (i64.const 5))))))))"""


def count_py(n: int) -> int:
    acc = 0
    while n:
        acc = (acc + (n ^ 5)) & 0xFFFFFFFFFFFFFFFF
        n -= 1
    return acc


EVEN_ODD_WAT = """(module
  (func $even (export "run") (param $n i64) (result i64) (return_call $ev (local.get $n) (i64.const 1)))
  (func $ev (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n)) (then (local.get $acc))
      (else (return_call $od (i64.sub (local.get $n) (i64.const 1))
                             (i64.add (local.get $acc) (i64.const 3))))))
  (func $od (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n)) (then (i64.sub (i64.const 0) (local.get $acc)))
      (else (return_call $ev (i64.sub (local.get $n) (i64.const 1))
                             (i64.mul (local.get $acc) (i64.const 7)))))))"""


def even_odd_py(n: int) -> int:
    M = 0xFFFFFFFFFFFFFFFF

    def ev(n, acc):
        if n == 0:
            return None, acc
        return od, (n - 1, (acc + 3) & M)

    def od(n, acc):
        if n == 0:
            return None, (-acc) & M
        return ev, (n - 1, (acc * 7) & M)

    f, args = ev, (n, 1)
    while f is not None:
        f, args = f(*args)
    r = args
    return r - (1 << 64) if r >= 1 << 63 else r


# states: 0 -> 1 -> 2 -> 0 ..., each step through the table
STATE_WAT = """(module
  (type $st (func (param i64 i64) (result i64)))
  (table 3 funcref) (elem (i32.const 0) $s0 $s1 $s2)
  (func (export "run") (param $n i64) (result i64)
    (return_call_indirect (type $st) (local.get $n) (i64.const 0) (i32.const 0)))
  (func $s0 (type $st)
    (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
      (else (return_call_indirect (type $st) (i64.sub (local.get 0) (i64.const 1))
                                  (i64.add (local.get 1) (i64.const 1)) (i32.const 1)))))
  (func $s1 (type $st)
    (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
      (else (return_call_indirect (type $st) (i64.sub (local.get 0) (i64.const 1))
                                  (i64.shl (local.get 1) (i64.const 1)) (i32.const 2)))))
  (func $s2 (type $st)
    (if (result i64) (i64.eqz (local.get 0)) (then (local.get 1))
      (else (return_call_indirect (type $st) (i64.sub (local.get 0) (i64.const 1))
                                  (i64.xor (local.get 1) (i64.const 0x5bd1e995)) (i32.const 0))))))"""


def state_py(n: int) -> int:
    M = 0xFFFFFFFFFFFFFFFF

    def s0(n, acc):
        return (None, acc) if n == 0 else (1, (n - 1, (acc + 1) & M))

    def s1(n, acc):
        return (None, acc) if n == 0 else (2, (n - 1, (acc << 1) & M))

    def s2(n, acc):
        return (None, acc) if n == 0 else (0, (n - 1, acc ^ 0x5bd1e995))

    table = (s0, s1, s2)
    state, args = 0, (n, 0)
    while state is not None:
        state, args = table[state](*args)
    r = args
    return r - (1 << 64) if r >= 1 << 63 else r


TAIL = [
    ("count (return_call) 300k", COUNT_WAT, count_py, 300_000),
    ("even/odd (return_call) 300k", EVEN_ODD_WAT, even_odd_py, 300_000),
    ("state machine (return_call_indirect) 300k", STATE_WAT, state_py, 300_000),
]

# --- 2.0 call workloads, timed in a subprocess against a given source tree ---------
CALLS_SCRIPT = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import pywazero
engine, scale = sys.argv[2], float(sys.argv[3])
FIB = '''(module (func $fib (export "run") (param $n i32) (result i32)
  (if (result i32) (i32.lt_u (local.get $n) (i32.const 2)) (then (local.get $n))
    (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                   (call $fib (i32.sub (local.get $n) (i32.const 2))))))))'''
INDIRECT = '''(module (type $t (func (param i32) (result i32)))
  (table 2 funcref) (elem (i32.const 0) $inc $dec)
  (func $inc (type $t) (i32.add (local.get 0) (i32.const 3)))
  (func $dec (type $t) (i32.sub (local.get 0) (i32.const 1)))
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $x i32)
    (block $done (loop $top
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $x (call_indirect (type $t) (local.get $x) (i32.and (local.get $i) (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $top)))
    (local.get $x)))'''
TINY = '(module (func (export "run") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))'
rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
def best(fn, k=3):   # CPU time: other processes' load does not count
    b = float("inf")
    for _ in range(k):
        t = time.process_time(); fn(); b = min(b, time.process_time() - t)
    return b
fib = rt.instantiate(rt.compile(FIB)).function("run")
ind = rt.instantiate(rt.compile(INDIRECT)).function("run")
tiny = rt.instantiate(rt.compile(TINY)).function("run")
n_fib = 22 if scale < 1 else 25
n_ind = max(1000, int(200_000 * scale))
n_tiny = max(1000, int(100_000 * scale))
print("fib(%d)" % n_fib, best(lambda: fib(n_fib)))
print("call_indirect x%dk" % (n_ind // 1000), best(lambda: ind(n_ind)))
print("host->wasm x%dk" % (n_tiny // 1000), best(lambda: [tiny(i) for i in range(n_tiny)]))
"""


def tail_rows(engines: List[str], scale: float) -> None:
    sys.path.insert(0, str(SRC))
    import pywazero

    feats = pywazero.CoreFeatures.V2 | pywazero.CoreFeatures.TAIL_CALL
    header = ["workload", "python s"] + [f"{e} s" for e in engines] + [f"{e}/python" for e in engines]
    rows = []
    for name, wat, py_fn, n in TAIL:
        n = max(100, int(n * scale))
        t_py, want = timed(lambda: py_fn(n), repeat=3)
        times: Dict[str, float] = {}
        for engine in engines:
            # max_call_depth 100: the chain must not keep frames
            rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, core_features=feats, max_call_depth=100))
            fn = rt.instantiate(rt.compile(wat)).function("run")
            times[engine], got = timed(lambda: fn(n), repeat=2)
            if got != want:
                print(f"!! {name} on {engine}: {got!r} != {want!r}", file=sys.stderr)
        rows.append([name, f"{t_py:.4f}"] + [f"{times[e]:.4f}" for e in engines]
                    + [f"{times[e] / t_py:.1f}x" for e in engines])
        print(f"{name}: per step python {t_py / n * 1e6:.2f} us, "
              + ", ".join(f"{e} {times[e] / n * 1e6:.2f} us" for e in engines))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _calls(src: str, engine: str, scale: float) -> Dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(CALLS_SCRIPT)
        script = f.name
    try:
        out = subprocess.run([sys.executable, script, src, engine, str(scale)], check=True,
                             stdout=subprocess.PIPE, universal_newlines=True, env=dict(os.environ, PYTHONPATH="")).stdout
    finally:
        os.unlink(script)
    res = {}
    for line in out.splitlines():
        name, t = line.rsplit(" ", 1)
        res[name] = float(t)
    return res


def _export(rev: str, into: str) -> str:
    from before_after import export_src

    return str(export_src(rev, Path(into)))


def before_after(rev: str, after: Optional[str], engines: List[str], scale: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as tmp2:
        trees = {"before": _export(rev, tmp), "after": _export(after, tmp2) if after else str(SRC)}
        print(f"\n2.0 call workloads: before = {rev}, after = {after or 'this tree'} "
              f"(best of {rounds} alternating rounds, each best of 3)")
        for engine in engines:
            best: Dict[str, Dict[str, float]] = {"before": {}, "after": {}}
            for _ in range(rounds):
                for which in ("before", "after"):
                    for k, v in _calls(trees[which], engine, scale).items():
                        best[which][k] = min(v, best[which].get(k, v))
            for k in best["before"]:
                b, a = best["before"][k], best["after"][k]
                print(f"  {engine:<11} {k:<22} before {b:.4f} s  after {a:.4f} s  after/before {a / b:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="interpreter,compiler")
    ap.add_argument("--scale", type=float, default=1.0, help="shrink workloads for a quick run")
    ap.add_argument("--before", metavar="GIT-REV", help="also compare the 2.0 call workloads with this revision")
    ap.add_argument("--after", metavar="GIT-REV", help="with --before: this revision instead of the tree")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    tail_rows(engines, args.scale)
    if args.before:
        before_after(args.before, args.after, engines, args.scale, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
