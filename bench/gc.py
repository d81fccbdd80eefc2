"""GC: allocate and traverse binary trees of wasm structs (the binary-trees
benchmark's core) on both engines, beside the same in plain Python and on
wasmtime-py (when installed: a dev-only oracle), as ratios in one run.

    python bench/gc.py [--depth 16] [--engines interpreter,compiler] [--repeat 2]

``run(d)`` builds a complete binary tree of depth ``d`` (2**(d+1) - 1 structs of
two nullable references each), walks it counting the nodes and drops it; the
count is checked against plain Python's.  Plain Python's version uses a class
with ``__slots__``, which is what the structs are in pywazero.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from timing import timed  # (bench/ is on sys.path: these run as scripts)

SRC = Path(__file__).resolve().parent.parent / "src"

TREES_WAT = """(module
  (type $node (struct (field (ref null $node)) (field (ref null $node))))
  (func $make (param $d i32) (result (ref $node))
    (if (result (ref $node)) (i32.eqz (local.get $d))
      (then (struct.new $node (ref.null $node) (ref.null $node)))
      (else (struct.new $node (call $make (i32.sub (local.get $d) (i32.const 1)))
                              (call $make (i32.sub (local.get $d) (i32.const 1)))))))
  (func $check (param $n (ref $node)) (result i32)
    (local $l (ref null $node))
    (local.set $l (struct.get $node 0 (local.get $n)))
    (if (result i32) (ref.is_null (local.get $l))
      (then (i32.const 1))
      (else (i32.add (i32.const 1)
              (i32.add (call $check (ref.as_non_null (local.get $l)))
                       (call $check (ref.as_non_null (struct.get $node 1 (local.get $n)))))))))
  (func (export "run") (param $d i32) (result i32) (call $check (call $make (local.get $d)))))"""


class Node:
    __slots__ = ("left", "right")

    def __init__(self, left: Optional["Node"], right: Optional["Node"]) -> None:
        self.left = left
        self.right = right


def make_py(d: int) -> Node:
    if d == 0:
        return Node(None, None)
    return Node(make_py(d - 1), make_py(d - 1))


def check_py(n: Node) -> int:
    if n.left is None:
        return 1
    return 1 + check_py(n.left) + check_py(n.right)  # type: ignore[arg-type]


def run_py(d: int) -> int:
    return check_py(make_py(d))


def wasmtime_run() -> Optional[Callable[[int], int]]:
    try:
        import wasmtime
    except ImportError:
        return None
    cfg = wasmtime.Config()
    cfg.wasm_function_references = True
    cfg.wasm_gc = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, wasmtime.wat2wasm(TREES_WAT))
    inst = wasmtime.Instance(store, module, [])
    fn = inst.exports(store)["run"]
    return lambda d: fn(store, d)


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--engines", default="interpreter,compiler")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(SRC))
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    import pywazero

    d = args.depth
    t_py, want = timed(lambda: run_py(d), args.repeat)
    times: Dict[str, float] = {}
    for engine in args.engines.split(","):
        rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, core_features=pywazero.CoreFeatures.V3))
        fn = rt.instantiate(rt.compile(TREES_WAT)).function("run")
        times[engine], got = timed(lambda: fn(d), args.repeat)
        if got != want:
            print(f"!! {engine}: {got} nodes, expected {want}", file=sys.stderr)
    wt = wasmtime_run()
    if wt is not None:
        times["wasmtime"], got = timed(lambda: wt(d), args.repeat)
        if got != want:
            print(f"!! wasmtime: {got} nodes, expected {want}", file=sys.stderr)
    print(f"binary trees, depth {d} ({want} structs): best of {args.repeat}")
    print(f"  {'python':12s} {t_py:9.4f} s   1.0x")
    for name, t in times.items():
        print(f"  {name:12s} {t:9.4f} s   {t / t_py:.2f}x python")


if __name__ == "__main__":
    main()
