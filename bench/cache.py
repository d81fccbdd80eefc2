"""Cold vs warm start with the on-disk compilation cache, on the large modules.

    python bench/cache.py [--only quickjs,python] [--rounds 3] [--interpreter]
                          [--cache-dir DIR] [--json out.json]

The modules and their runs are bench/large_modules.py's (fetched the same way, into
the same directory outside the repository).  Each round, every measurement in a
fresh process:

* **plain**: ``Runtime.compile`` and the run, without a cache (the reference);
* **cold**: the same with ``RuntimeConfig(cache=...)`` on an empty cache directory:
  compiled, stored, and the functions translated during the run added to the entry
  when the module is closed (**store**: that close, wall time, which also
  translates the functions that ran only on the cheap tier's interpreter);
* **warm**: again in a new process, with the cache the cold process filled.

Times: **compile** is ``Runtime.compile`` (a hit: reading the entry and
``Runtime.deserialize``); **translate** is the time spent translating functions
during the run (the compiler's code generation and ``compile()``, and the
interpreter's translation for the cheap tier); **exec** the rest of the run;
**first** the time from the start of compile to the guest's first output, **total**
to its end.  compile and translate are CPU time (``time.process_time``), the others
wall time; each figure is the best of the rounds, and the ratios compare cold with
warm measured in the same round.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from large_modules import MODULES, SRC, LargeModule, cache_dir, fetch  # noqa: E402

CHILD = r'''
import json, os, sys, time
src, path, engine, spec, cache = sys.argv[1:6]
sys.path.insert(0, src)
import pywazero
from pywazero import wasi
from pywazero.engine.compiler import CompiledWasm
from pywazero.engine.interpreter import compile as icompile

spent = [0.0]
def timed(f):
    def wrapper(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            spent[0] += time.process_time() - t
    return wrapper
CompiledWasm._translate = timed(CompiledWasm._translate)
icompile.compile_function = timed(icompile.compile_function)

spec = json.loads(spec)
data = open(path, "rb").read()
rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine, cache=cache or None))
first = []
class Sink:
    def __init__(self):
        self.parts = []
    def write(self, b):
        if not first and b:
            first.append(time.perf_counter())
        self.parts.append(bytes(b))
        return len(b)
    def flush(self):
        pass
so, se = Sink(), Sink()
mounts = [pywazero.Mount(spec["dir"], "/")] if spec["dir"] else []
cfg = pywazero.ModuleConfig(args=[spec["name"]] + spec["args"], stdin=bytes.fromhex(spec["stdin"]),
                            stdout=so, stderr=se, mounts=mounts)
code = 0
t0, c0 = time.perf_counter(), time.process_time()
cm = rt.compile(data)
t1, c1 = time.perf_counter(), time.process_time()
wasi.instantiate(rt)
try:
    rt.instantiate(cm, cfg)
except pywazero.ExitError as e:
    code = e.exit_code
t2, c2 = time.perf_counter(), time.process_time()
run_spent = spent[0]   # (the close below may translate more: that is store time)
cm.close()
t3 = time.perf_counter()
print(json.dumps({"compile": c1 - c0, "translate": run_spent, "exec": (t2 - t1) - run_spent,
                  "first": (first[0] if first else t2) - t0, "total": t2 - t0, "store": t3 - t2,
                  "exit": code, "stdout": b"".join(so.parts).decode("utf-8", "replace"),
                  "stderr": b"".join(se.parts).decode("utf-8", "replace")[-2000:]}))
'''


def child(wasm: Path, engine: str, spec: dict, cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(SRC), str(wasm), engine, json.dumps(spec), cache],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"run of {wasm.name} on {engine} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(mod: LargeModule, wasm: Path, engine: str, workdir: Optional[str], rounds: int,
            tmp: Path) -> dict:
    spec = {"name": mod.name, "args": mod.args, "stdin": mod.stdin.hex(), "dir": workdir or ""}
    runs: Dict[str, List[dict]] = {"plain": [], "cold": [], "warm": []}
    entry_bytes = 0
    for k in range(rounds):
        d = tmp / f"{mod.name}-{engine}-{k}"
        d.mkdir(mode=0o700)
        runs["plain"].append(child(wasm, engine, spec, ""))
        runs["cold"].append(child(wasm, engine, spec, str(d)))
        runs["warm"].append(child(wasm, engine, spec, str(d)))
        entry_bytes = sum(p.stat().st_size for p in d.iterdir())
    bad = [r for rs in runs.values() for r in rs if r["stdout"] != mod.expected or r["exit"] != mod.exit_code]
    best = {kind: {f: min(r[f] for r in rs) for f in ("compile", "translate", "exec", "first", "total", "store")}
            for kind, rs in runs.items()}
    # ratios per round (cold and warm of the same round), then the median
    ratios = sorted((c["compile"] + c["translate"]) / max(w["compile"] + w["translate"], 1e-9)
                    for c, w in zip(runs["cold"], runs["warm"]))
    return {"module": mod.name, "engine": engine, "size": wasm.stat().st_size, "entry": entry_bytes,
            "best": best, "ratio": ratios[len(ratios) // 2], "ok": not bad,
            "mismatch": None if not bad else {"stdout": bad[0]["stdout"][:300], "exit": bad[0]["exit"],
                                              "stderr": bad[0]["stderr"][-300:]}}


def table(results: List[dict]) -> str:
    head = ("| module | MB | engine | start | compile s | translate s | exec s | first output s "
            "| total s | store s |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        for kind in ("plain", "cold", "warm"):
            b = r["best"][kind]
            lines.append(f"| {r['module']} | {r['size'] / 1e6:.1f} | {r['engine']} | {kind} "
                         f"| {b['compile']:.2f} | {b['translate']:.2f} | {b['exec']:.2f} | {b['first']:.2f} "
                         f"| {b['total']:.2f} | {b['store']:.2f} |")
    lines += ["", "| module | engine | entry MB | compile+translate cold/warm | first output cold/warm "
                  "| first output plain/warm | output |", "|---|---|---|---|---|---|---|"]
    for r in results:
        b = r["best"]
        lines.append(f"| {r['module']} | {r['engine']} | {r['entry'] / 1e6:.1f} | {r['ratio']:.1f}x "
                     f"| {b['cold']['first'] / b['warm']['first']:.1f}x "
                     f"| {b['plain']['first'] / b['warm']['first']:.1f}x | {'ok' if r['ok'] else 'DIFFERS'} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated module names (default: all but yosys)")
    ap.add_argument("--interpreter", action="store_true", help="also measure the interpreter")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of plain/cold/warm (best of)")
    ap.add_argument("--cache-dir", default=None, help="where fetched modules are kept")
    ap.add_argument("--json", default="", help="write the raw results here")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    mods = [m for m in MODULES if (m.name in names if names else m.default)]
    unknown = set(names) - {m.name for m in MODULES}
    if unknown:
        ap.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    fetched = cache_dir(args.cache_dir)
    engines = ["compiler"] + (["interpreter"] if args.interpreter else [])
    results: List[dict] = []
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        for mod in mods:
            wasm = fetch(mod, fetched)
            workdir = None
            if mod.files:
                workdir = str(Path(tmp) / mod.name)
                os.makedirs(workdir, exist_ok=True)
                for fname, content in mod.files.items():
                    (Path(workdir) / fname).write_bytes(content)
            for engine in engines:
                r = measure(mod, wasm, engine, workdir, args.rounds, Path(tmp))
                results.append(r)
                if not r["ok"]:
                    print(f"{mod.name} on {engine}: output differs from wasmtime's: {r['mismatch']}")
                    status = 1
                b = r["best"]
                print(f"  {mod.name:<10} {engine:<11} compile+translate cold "
                      f"{b['cold']['compile'] + b['cold']['translate']:.2f} s, warm "
                      f"{b['warm']['compile'] + b['warm']['translate']:.2f} s ({r['ratio']:.1f}x)",
                      file=sys.stderr)
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return status


if __name__ == "__main__":
    sys.exit(main())
