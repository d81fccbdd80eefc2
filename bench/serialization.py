"""Serialized compiled modules: compile + translate cold vs deserialize warm.

    python bench/serialization.py [--only quickjs,python] [--repeat 3] [--cache-dir DIR]

For each large module of ``large_modules.py`` (fetched into its cache), in fresh
processes, on the compiler engine:

* **cold**: ``Runtime.compile`` then the module's run (WASI, to exit); the
  compile/translate part is the compile plus the time spent translating functions
  during the run (the compiler's code generation and ``compile()``, and the cheap
  tier's interpreter translation), measured by wrapping those two functions.
  The process then serializes the module (timed too) into a temporary file
  (with ``--translate-used``: ``serialize(translate_used=True)``).
* **warm**: ``Runtime.deserialize`` of that file then the same run; its
  compile/translate part is the deserialize plus whatever the run still
  translates.

Every figure is CPU time (``time.process_time``), the median of ``--repeat``
fresh process pairs; the output is checked against the recorded one.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from large_modules import MODULES, cache_dir, fetch  # noqa: E402

SRC = ROOT.parent / "src"

CHILD = r'''
import json, sys, time
src, mode, wasm_path, blob_path, spec = sys.argv[1:6]
sys.path.insert(0, src)
import pywazero
from pywazero import wasi
from pywazero.engine import compiler
from pywazero.engine.interpreter import compile as icompile

spent = [0.0, 0]
def timed(fn):
    def wrapper(*a, **k):
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            spent[0] += time.process_time() - t
            spent[1] += 1
    return wrapper
compiler.CompiledWasm._translate = timed(compiler.CompiledWasm._translate)
icompile.compile_function = timed(icompile.compile_function)

spec = json.loads(spec)
rt = pywazero.Runtime()
t0 = time.process_time()
if mode == "cold":
    cm = rt.compile(open(wasm_path, "rb").read())
else:
    cm = rt.deserialize(open(blob_path, "rb").read())
load = time.process_time() - t0
out = []
class Sink:
    def write(self, b):
        out.append(bytes(b)); return len(b)
    def flush(self): pass
wasi.instantiate(rt)
cfg = pywazero.ModuleConfig(args=[spec["name"]] + spec["args"], stdin=bytes.fromhex(spec["stdin"]),
                            stdout=Sink(), stderr=Sink())
t1 = time.process_time()
try:
    rt.instantiate(cm, cfg)
except pywazero.ExitError:
    pass
run = time.process_time() - t1
res = {"load": load, "translate": spent[0], "translations": spent[1], "run": run,
       "stdout": b"".join(out).decode("utf-8", "replace")}
if mode == "cold":
    t2 = time.process_time()
    blob = cm.serialize(translate_used=spec["used"])
    res["serialize"] = time.process_time() - t2
    res["blob"] = len(blob)
    res["translated"] = len(cm._engine_code().translated())
    open(blob_path, "wb").write(blob)
print(json.dumps(res))
'''


def child(mode: str, wasm: Path, blob: Path, spec: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(SRC), mode, str(wasm), str(blob), json.dumps(spec)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-3000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="quickjs,python")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cache-dir")
    ap.add_argument("--translate-used", action="store_true",
                    help="serialize(translate_used=True): also carry the functions run interpreted")
    args = ap.parse_args()
    cache = cache_dir(args.cache_dir)
    print("%-10s %9s %9s %9s %9s %8s %9s %9s %7s" % (
        "module", "compile", "transl.", "cold c+t", "deser.", "transl.", "warm d+t", "ratio", "blob MB"))
    for mod in MODULES:
        if mod.name not in args.only.split(","):
            continue
        wasm = fetch(mod, cache)
        spec = {"name": mod.name, "args": mod.args, "stdin": mod.stdin.hex(), "used": args.translate_used}
        colds, warms = [], []
        with tempfile.TemporaryDirectory() as tmp:
            blob = Path(tmp) / "m.pwz"
            for _ in range(args.repeat):
                c = child("cold", wasm, blob, spec)
                w = child("warm", wasm, blob, spec)
                for r in (c, w):
                    if mod.expected and r["stdout"] != mod.expected:
                        raise RuntimeError("%s: unexpected output %r" % (mod.name, r["stdout"]))
                colds.append(c)
                warms.append(w)
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        cold = statistics.median(r["load"] + r["translate"] for r in colds)
        warm = statistics.median(r["load"] + r["translate"] for r in warms)
        print("%-10s %9.3f %9.3f %9.3f %9.3f %8.3f %9.3f %8.1fx %7.1f" % (
            mod.name, med(colds, "load"), med(colds, "translate"), cold, med(warms, "load"),
            med(warms, "translate"), warm, cold / warm, colds[-1]["blob"] / 1e6))
        print("%-10s translations cold %d, warm %d; functions in blob %d; serialize %.3f s; "
              "run cold %.3f s, warm %.3f s" % (
                  "", colds[-1]["translations"], warms[-1]["translations"], colds[-1]["translated"],
                  med(colds, "serialize"), med(colds, "run"), med(warms, "run")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
