"""Before/after: the 2.0 workloads on this tree and on an earlier commit, in one run.

    python bench/before_after.py [--ref 29de4fd] [--repeat 5] [--engines interpreter,compiler]

The earlier commit's ``src/`` is exported with ``git archive`` into a temporary
directory; every measurement runs in a fresh child process that imports pywazero
from one of the two trees, and the children alternate (before, after, before, ...)
so that load from other processes on the machine falls on both sides alike.  Times
are the child's CPU time for the call alone (compilation excluded), and the table
shows medians and the after/before ratio: 1.00 means unchanged.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent

# name -> (workload source attribute, argument, repetitions per measurement), sized so
# that one measurement takes a few tenths of a second; TINY_WAT is timed as that many
# host->wasm calls.
WORKLOADS = {
    "fib(27)": ("FIB_WAT", 27, 1),
    "i64 loop 2M": ("LOOP_WAT", 2_000_000, 1),
    "sieve 200k x5": ("SIEVE_WAT", 200_000, 5),
    "f64 matmul 60 x3": ("MATMUL_WAT", 60, 3),
    "300k calls": ("TINY_WAT", 300_000, 1),
}

# What one child runs: compile the workload, call it once to warm up, then time it.
CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
import pywazero, workloads
name, attr, arg, reps, engine = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
fn = rt.instantiate(rt.compile(getattr(workloads, attr))).function("run")
if attr == "TINY_WAT":
    run = lambda: [fn(i) for i in range(arg)]
else:
    run = lambda: [fn(arg) for _ in range(reps)]
run()
t0 = time.process_time()
run()
print(json.dumps(time.process_time() - t0))
"""


def export_src(ref: str, into: Path) -> Path:
    """``src/`` of commit ``ref`` under ``into``, via ``git archive``."""
    archive = into / "src.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into)
    return into / "src"


def measure(src: Path, name: str, engine: str) -> float:
    attr, arg, reps = WORKLOADS[name]
    out = subprocess.run([sys.executable, "-c", CHILD, str(src), str(ROOT), name, attr, str(arg), str(reps), engine],
                         capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="29de4fd", help="the 'before' commit (default: the last 2.0-only commit)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--engines", default="interpreter,compiler")
    args = ap.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    with tempfile.TemporaryDirectory() as tmp:
        before_src = export_src(args.ref, Path(tmp))
        after_src = REPO / "src"
        rows: List[List[str]] = []
        for engine in engines:
            for name in WORKLOADS:
                times: Dict[str, List[float]] = {"before": [], "after": []}
                for _ in range(args.repeat):
                    times["before"].append(measure(before_src, name, engine))
                    times["after"].append(measure(after_src, name, engine))
                b = statistics.median(times["before"])
                a = statistics.median(times["after"])
                rows.append([engine, name, f"{b:.3f}", f"{a:.3f}", f"{a / b:.2f}"])
                print("  ".join(rows[-1]), file=sys.stderr, flush=True)
    header = ["engine", "workload", f"before ({args.ref}) s", "after s", "after/before"]
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    print(f"Python {sys.version.split()[0]}, CPU seconds, median of {args.repeat} alternating runs")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
