"""Exception handling benchmark: a throw/catch loop on both engines beside the same
loop in plain Python (raise/except), in one run.

    python bench/exceptions.py [--n 100000] [--repeat 3] [--engines interpreter,compiler]

Workloads (each returns a checksum the runs must agree on):

* ``throw_call``: each iteration calls a function that throws an exception
  carrying the loop counter; a try_table in the loop catches it and adds the
  payload (the common shape: an error raised deep, handled by a caller);
* ``throw_local``: the throw is in the try_table's own body (no call);
* ``throw_legacy``: ``throw_call`` with the legacy try/catch (the encoding toolchains
  still emit);
* ``no_throw``: the same loop with a try_table whose body never throws (what a
  handler costs when nothing is thrown).

Times are CPU times (``time.process_time``: load from other processes does not
count), the best of ``--repeat`` runs; the ratio column is engine time / plain
Python time.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "src"))

import pywazero as wz  # noqa: E402

WAT = """
(module
  (tag $e (param i32))
  (func $thrower (param i32) (throw $e (local.get 0)))
  (func $quiet (param i32) (result i32) (local.get 0))
  (func (export "throw_call") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (call $thrower (local.get $i)))
        (i32.const 0))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "throw_local") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (catch $e $h) (throw $e (local.get $i)))
        (i32.const 0))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "throw_legacy") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (try (result i32)
        (do (call $thrower (local.get $i)) (i32.const 0))
        (catch $e))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
  (func (export "no_throw") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (block $h (result i32)
        (try_table (result i32) (catch $e $h) (call $quiet (local.get $i))))
      (local.set $acc (i32.add (local.get $acc)))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $acc))
)
"""


class E(Exception):
    def __init__(self, v: int) -> None:
        self.v = v


def _thrower(i: int) -> None:
    raise E(i)


def throw_call_py(n: int) -> int:
    acc = 0
    for i in range(n):
        try:
            _thrower(i)
            v = 0
        except E as e:
            v = e.v
        acc = (acc + v) & 0xFFFFFFFF
    return acc


def throw_local_py(n: int) -> int:
    acc = 0
    for i in range(n):
        try:
            raise E(i)
        except E as e:
            v = e.v
        acc = (acc + v) & 0xFFFFFFFF
    return acc


def no_throw_py(n: int) -> int:
    acc = 0
    for i in range(n):
        try:
            v = (lambda x: x)(i)
        except E as e:  # pragma: no cover
            v = e.v
        acc = (acc + v) & 0xFFFFFFFF
    return acc


PLAIN = {"throw_call": throw_call_py, "throw_local": throw_local_py,
         "throw_legacy": throw_call_py, "no_throw": no_throw_py}


def best(fn, repeat: int):
    t = float("inf")
    r = None
    for _ in range(repeat):
        t0 = time.process_time()
        r = fn()
        t = min(t, time.process_time() - t0)
    return t, r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--engines", default="interpreter,compiler")
    a = ap.parse_args(argv)
    engines = a.engines.split(",")
    features = wz.CoreFeatures.V3 | wz.CoreFeatures.LEGACY_EXCEPTIONS
    mods = {}
    for eng in engines:
        rt = wz.Runtime(wz.RuntimeConfig(engine=eng, core_features=features))
        mods[eng] = rt.instantiate(rt.compile(WAT))
    print(f"n = {a.n}, best of {a.repeat}")
    print(f"{'workload':14} {'python':>9} " + " ".join(f"{e:>12} {'ratio':>6}" for e in engines))
    for name, py in PLAIN.items():
        tp, want = best(lambda: py(a.n), a.repeat)
        row = f"{name:14} {tp:9.3f} "
        for eng in engines:
            f = mods[eng].function(name)
            f(10)   # compile outside the timing
            te, got = best(lambda: f(a.n), a.repeat)
            if got & 0xFFFFFFFF != want:
                raise SystemExit(f"{name} on {eng}: {got} != {want}")
            row += f"{te:12.3f} {te / tp:6.1f} "
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
