"""Before/after on the real C programs, interleaved: a verdict that survives a noisy machine.

    python bench/real_ab.py [--before d391174] [--rounds 5] [--scale 1.0] [--only sort,vm]
    python bench/real_ab.py --pypy [pypy3] [--rounds 5] [--scale 4] [--only sort,vm]

``bench/real_programs.py`` times each side once or best-of-N, one after the other; on
a shared machine the load changes between the two halves of such a run by more than
the difference being measured.  Here every measurement is a fresh child process
(``--child``) and the children alternate per round: the compiler of ``--before``
(its ``src/`` exported with ``git archive``), the compiler of this tree, and the
plain-Python twin of the program (``bench/programs/twins.py``).  Each child warms up
on a tiny program (imports, WASI) and reports the CPU time (``time.process_time``)
of one whole ``pywazero run``-like execution (decode, validation, compilation,
instantiation and the run), or of the twin.  The table shows medians over the rounds
and the ratios before/after and after/twin with their geometric means over the six
kernels of issue 12 (nbody, sha256, sort, vm, wordcount, lz77).

``--pypy`` compares interpreters instead of revisions: the compiler of this tree
under CPython (this script's Python) and under PyPy, alternating the same way, each
child measuring the CPU time of the whole run (PyPy's JIT warm-up included), with
the twin under both; the table shows the PyPy speed-up (CPython time / PyPy time).
PyPy's warm-up is a large share of the default sizes' runs (0.3-0.6 s on CPython):
``--scale 4`` makes the CPython runs last ~1-2 s, the run length issue 12 speaks of.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent
KERNELS = ["nbody", "sha256", "sort", "vm", "wordcount", "lz77"]

# One measurement: import pywazero from the given tree first (the bench module then
# reuses it), warm up, then time one run of the program (or of its twin).
CHILD = r"""
import json, sys, time
src, bench, name, scale, side = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
sys.path.insert(0, src)
import pywazero
sys.path.insert(0, bench)
import real_programs as rp
sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
prog = [p for p in rp.programs(scale) if p.name == name][0]
data = prog.input()
if side == "twin":
    t0 = time.process_time(); out = prog.run_twin(data); t = time.process_time() - t0
else:
    rp.run_pywazero(rp.Program("strings", [10], rp.twins.strings), "compiler", b"")
    t0 = time.process_time(); _, _, out = rp.run_pywazero(prog, "compiler", data)
    t = time.process_time() - t0
print(json.dumps({"time": t, "out": out}))
"""


def measure(src: Path, name: str, scale: float, side: str,
            python: str = sys.executable) -> Dict[str, object]:
    p = subprocess.run([python, "-c", CHILD, str(src), str(ROOT), name, repr(scale), side],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{side} {name} failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def geomean(xs: List[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def run_rounds(plan: Dict[str, Tuple[Path, str, str]], names: List[str], rounds: int,
               scale: float) -> Tuple[Dict[str, Dict[str, List[float]]], List[str]]:
    """CPU seconds per program and side over ``rounds`` alternating rounds (each
    measurement a fresh child), and the programs whose sides' outputs differ."""
    times: Dict[str, Dict[str, List[float]]] = {n: {s: [] for s in plan} for n in names}
    bad: List[str] = []
    for r in range(rounds):
        for n in names:
            outs = {}
            for s, (tree, python, what) in plan.items():
                m = measure(tree, n, scale, what, python)
                times[n][s].append(float(m["time"]))  # type: ignore[arg-type]
                outs[s] = m["out"]
            if len(set(outs.values())) != 1 and n not in bad:
                bad.append(n)
            print(f"round {r + 1}: {n} " + " ".join(f"{s} {times[n][s][-1]:.3f}" for s in plan),
                  file=sys.stderr, flush=True)
    return times, bad


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="d391174", help="the earlier revision (default: issue 12's start)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (medians are reported)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every input size")
    ap.add_argument("--only", default=",".join(KERNELS), help="comma-separated program names")
    ap.add_argument("--pypy", nargs="?", const="pypy3", default="", metavar="PYPY",
                    help="CPython against PyPy (default pypy3) instead of before/after")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from before_after import export_src

    names = [n for n in args.only.split(",") if n]
    src = ROOT.parent / "src"
    with tempfile.TemporaryDirectory() as tmp:
        if args.pypy:
            # side: (tree, Python, what the child runs)
            plan = {"cpython": (src, sys.executable, "compiler"), "pypy": (src, args.pypy, "compiler"),
                    "twin": (src, sys.executable, "twin"), "pypy twin": (src, args.pypy, "twin")}
        else:
            plan = {"before": (export_src(args.before, Path(tmp)), sys.executable, "compiler"),
                    "after": (src, sys.executable, "compiler"), "twin": (src, sys.executable, "twin")}
        times, bad = run_rounds(plan, names, args.rounds, args.scale)
    if args.pypy:
        header = ["program", "CPython s", "PyPy s", "PyPy speed-up", "twin CPython s", "twin PyPy s",
                  "PyPy / twin PyPy"]
    else:
        header = ["program", f"before ({args.before}) s", "after s", "before/after", "twin s", "after/twin"]
    rows, ratios, gaps = [], [], []
    for n in names:
        med = {s: statistics.median(times[n][s]) for s in plan}
        if args.pypy:
            c, p, t, pt = med["cpython"], med["pypy"], med["twin"], med["pypy twin"]
            rows.append([n, f"{c:.3f}", f"{p:.3f}", f"{c / p:.2f}x", f"{t:.3f}", f"{pt:.3f}", f"{p / pt:.1f}x"])
            ratio, gap = c / p, p / pt
        else:
            b, a, t = med["before"], med["after"], med["twin"]
            rows.append([n, f"{b:.3f}", f"{a:.3f}", f"{b / a:.2f}x", f"{t:.3f}", f"{a / t:.1f}x"])
            ratio, gap = b / a, a / t
        if n in KERNELS:
            ratios.append(ratio)
            gaps.append(gap)
    mean = ["geometric mean (kernels)", "", "", f"{geomean(ratios):.2f}x", "", f"{geomean(gaps):.1f}x"]
    if args.pypy:
        mean[5:5] = [""]
    rows.append(mean)
    pythons = sys.version.split()[0] + (f" and {args.pypy}" if args.pypy else "")
    print(f"Python {pythons}, CPU seconds of a fresh process per measurement "
          f"(whole run, compilation included), median of {args.rounds} alternating rounds, scale {args.scale:g}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if bad:
        print("OUTPUT MISMATCH: " + ", ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
