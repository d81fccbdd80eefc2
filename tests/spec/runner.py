"""Run the WebAssembly spec test scripts (.wast) and keep a ratchet of what passes.

The commands are run by the package's runner (:mod:`pywazero.script.runner`: each
command passed, failed with a reason, or skipped; ``engine=None`` is compile-only
mode) on pywazero's engines (:mod:`pywazero.wast_engine`); this module adds what is
particular to the spec suite: where the scripts are, the core features of each
folder, the modes, the per-command time limit and the ratchet.

``expected.json`` (next to this file) records, per mode and per file, the lines of the
commands that passed.  A line with several commands counts as passing only when all
of them passed.  The pytest suite fails when a recorded line no longer passes;
``--update`` records newly passing lines and never silently drops one.

Command line (from the repository root)::

    python -m tests.spec.runner                 # table of every file, and totals
    python -m tests.spec.runner wast-2.0/i32.wast --failures
    python -m tests.spec.runner --update        # record newly passing lines

The spec directory is ``<repo>/../shared/spec`` unless ``PYWAZERO_SPEC_DIR`` says
otherwise.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

try:
    import pywazero  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from pywazero.script import runner as _runner  # noqa: E402
from pywazero.script.runner import (COMPILE_ONLY, FAILED, NEEDS_EXECUTION, PASSED, SKIPPED,  # noqa: E402,F401
                                    CommandTimeout, Engine, FileReport, Outcome, ScriptRun,
                                    compile_module, describe)
from pywazero.script import wast  # noqa: E402
from pywazero.wasm.features import CoreFeatures  # noqa: E402

SPEC_SUBDIRS = ("wast-1.0", "wast-2.0", "wast-2.0/simd",
                "wast-3.0", "wast-3.0/bulk-memory", "wast-3.0/exceptions", "wast-3.0/gc",
                "wast-3.0/memory64", "wast-3.0/multi-memory", "wast-3.0/relaxed-simd",
                "wast-3.0/simd", "wast-3.0-legacy-exceptions")
REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTED_PATH = Path(__file__).resolve().with_name("expected.json")

# Default time limit for one command, in seconds (PYWAZERO_SPEC_TIMEOUT overrides).
DEFAULT_TIMEOUT = 60.0

# The core features each spec directory's modules are compiled (and run) with: the
# 1.0 scripts assert 1.0's rules (no multi-value, one table, 1.0 br_table typing,
# call_indirect's zero flag, ...), and use no feature beyond mutable globals.
# The 3.0 scripts (and their sub-folders) run with all of 3.0, the legacy exception
# scripts with legacy exceptions on as well.  Anything not listed gets CoreFeatures.V2.
SPEC_FEATURES: Dict[str, CoreFeatures] = {
    "wast-1.0": CoreFeatures.V1,
    "wast-3.0": CoreFeatures.V3,
    "wast-3.0-legacy-exceptions": CoreFeatures.V3 | CoreFeatures.LEGACY_EXCEPTIONS,
}


def features_for(key: str) -> CoreFeatures:
    """The core features of the spec script ``key`` ("wast-1.0/address.wast", ...)."""
    folder = key.rpartition("/")[0]
    if folder.startswith("wast-3.0/"):
        folder = "wast-3.0"
    return SPEC_FEATURES.get(folder, CoreFeatures.V2)


# Mode name -> factory of the engine (None: compile-only).  The execution issues add
# their engines here; test_spec.py checks every mode listed.
ENGINES: Dict[str, Optional[Callable[[], Engine]]] = {COMPILE_ONLY: None}


def _interpreter_engine() -> Engine:
    from .engines import PywazeroEngine

    return PywazeroEngine("interpreter")


ENGINES["interpreter"] = _interpreter_engine


def _compiler_engine() -> Engine:
    from .engines import PywazeroEngine

    return PywazeroEngine("compiler")


ENGINES["compiler"] = _compiler_engine


def make_engine(mode: str) -> Optional[Engine]:
    try:
        factory = ENGINES[mode]
    except KeyError:
        raise ValueError(f"unknown mode {mode!r}; known: {', '.join(ENGINES)}") from None
    return factory() if factory is not None else None


def run_commands(commands: Sequence["wast.Command"], engine: Optional[Engine] = None,
                 timeout: Optional[float] = None,
                 features: CoreFeatures = CoreFeatures.V2) -> List[Outcome]:
    """The package's :func:`~pywazero.script.runner.run_commands`, compiling under
    the spec suite's default features (2.0) unless told otherwise."""
    return _runner.run_commands(commands, engine, timeout, features)


def default_timeout() -> float:
    try:
        return float(os.environ.get("PYWAZERO_SPEC_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def run_file(path: "os.PathLike[str] | str", engine: Optional[Engine] = None,
             key: Optional[str] = None, mode: Optional[str] = None,
             timeout: Optional[float] = None,
             features: Optional[CoreFeatures] = None) -> FileReport:
    """The package's :func:`~pywazero.script.runner.run_file` with the spec suite's
    defaults: the core features of the script's folder (:func:`features_for` the
    key) and the per-command time limit (:func:`default_timeout`)."""
    key = key or Path(path).name
    return _runner.run_file(path, engine, key=key, mode=mode,
                            timeout=default_timeout() if timeout is None else timeout,
                            features=features_for(key) if features is None else features)


# --- spec files and the ratchet -------------------------------------------------------------

def spec_dir() -> Path:
    env = os.environ.get("PYWAZERO_SPEC_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "spec"


def discover(root: Optional[Path] = None) -> List[str]:
    """Keys ("wast-1.0/address.wast", ...) of every spec script, sorted."""
    root = spec_dir() if root is None else root
    keys: List[str] = []
    for sub in SPEC_SUBDIRS:
        d = root / sub
        if d.is_dir():
            keys.extend(f"{sub}/{p.name}" for p in d.glob("*.wast"))
    return sorted(keys)


GAPS_PATH = Path(__file__).resolve().with_name("gaps.json")


def load_gaps(path: Path = GAPS_PATH) -> Dict[str, str]:
    """The spec scripts allowed to have failing commands, each with the reason
    (``gaps.json``: ``{"wast-3.0/gc/i31.wast": "needs GC (issue 11)", ...}``).
    Every other script must pass completely in every mode."""
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {key: str(reason) for key, reason in data.items()}


def load_expected(path: Path = EXPECTED_PATH) -> Dict[str, Dict[str, List[int]]]:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {mode: {key: list(lines) for key, lines in files.items()} for mode, files in data.items()}


# A file's lines are written in buckets of this many source lines, one bucket per JSON
# line, so a newly passing command changes one line of the diff.
_BUCKET = 200


def dump_expected(data: Dict[str, Dict[str, List[int]]]) -> str:
    """expected.json text: sorted keys; per file, one JSON line per 200 source lines."""
    out = ["{"]
    modes = sorted(data)
    for mi, mode in enumerate(modes):
        out.append(f"  {json.dumps(mode)}: {{")
        files = sorted(data[mode])
        for fi, key in enumerate(files):
            lines = sorted(set(data[mode][key]))
            comma = "," if fi < len(files) - 1 else ""
            if not lines:
                out.append(f"    {json.dumps(key)}: []{comma}")
                continue
            out.append(f"    {json.dumps(key)}: [")
            buckets: Dict[int, List[int]] = collections.OrderedDict()
            for n in lines:
                buckets.setdefault(n // _BUCKET, []).append(n)
            chunks = list(buckets.values())
            for ci, chunk in enumerate(chunks):
                tail = "," if ci < len(chunks) - 1 else ""
                out.append("      " + ", ".join(str(n) for n in chunk) + tail)
            out.append(f"    ]{comma}")
        out.append("  }" + ("," if mi < len(modes) - 1 else ""))
    out.append("}")
    return "\n".join(out) + "\n"


def regressions(report: FileReport, expected_lines: Iterable[int]) -> List[Tuple[int, List[Outcome]]]:
    """Expected-passing lines that did not pass, with the commands on each."""
    by_line = report.by_line()
    passed = set(report.passed_lines())
    out = []
    for line in sorted(set(expected_lines)):
        if line not in passed:
            out.append((line, by_line.get(line, [])))
    return out


def format_regressions(report: FileReport, regs: List[Tuple[int, List[Outcome]]], limit: int = 50) -> str:
    lines = []
    if report.error:
        lines.append(f"{report.key}: script could not be read: {report.error}")
    for line, outcomes in regs[:limit]:
        if not outcomes:
            lines.append(f"{report.key}:{line}: no command on this line any more")
        for o in outcomes:
            if o.status != PASSED:
                lines.append(f"{report.key}:{line}: {o.category} {o.status}: {o.reason}")
    if len(regs) > limit:
        lines.append(f"... and {len(regs) - limit} more lines")
    return "\n".join(lines)


# --- command line ------------------------------------------------------------------------------

def _run_one(args: Tuple[str, str, str]) -> FileReport:
    root, key, mode = args
    return run_file(Path(root) / key, make_engine(mode), key=key, mode=mode)


def run_many(keys: Sequence[str], mode: str, root: Path, jobs: int = 1) -> List[FileReport]:
    tasks = [(str(root), key, mode) for key in keys]
    if jobs <= 1 or len(tasks) <= 1:
        return [_run_one(t) for t in tasks]
    from concurrent.futures import ProcessPoolExecutor

    # Longest files first keeps the workers busy until the end.
    order = sorted(range(len(tasks)), key=lambda i: -(root / tasks[i][1]).stat().st_size)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_run_one, [tasks[i] for i in order], chunksize=1))
    reports: List[Optional[FileReport]] = [None] * len(tasks)
    for i, r in zip(order, results):
        reports[i] = r
    return [r for r in reports if r is not None]


def _key_of(arg: str, root: Path) -> str:
    p = Path(arg)
    if p.exists():
        try:
            return p.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise SystemExit(f"{arg} is not under the spec directory {root}") from None
    if (root / arg).exists():
        return Path(arg).as_posix()
    raise SystemExit(f"no such spec file: {arg}")


def print_tables(reports: Sequence[FileReport], expected: Dict[str, List[int]],
                 out=sys.stdout, reasons: int = 10, failures: bool = False) -> None:
    w = max([len(r.key) for r in reports] + [4])
    header = f"{'file':<{w}} {'cmds':>6} {'pass':>6} {'fail':>6} {'skip':>6} {'new':>5} {'regr':>5} {'secs':>6}"
    print(header, file=out)
    print("-" * len(header), file=out)
    tot = collections.Counter()
    for r in reports:
        exp = set(expected.get(r.key, []))
        passed = set(r.passed_lines())
        new, regr = len(passed - exp), len(exp - passed)
        row = (len(r.outcomes), r.count(PASSED), r.count(FAILED), r.count(SKIPPED), new, regr)
        tot.update(dict(zip(("cmds", "pass", "fail", "skip", "new", "regr"), row)))
        tot["secs"] += r.seconds
        err = f"  ERROR: {r.error}" if r.error else ""
        print(f"{r.key:<{w}} {row[0]:>6} {row[1]:>6} {row[2]:>6} {row[3]:>6} {row[4]:>5} {row[5]:>5} "
              f"{r.seconds:>6.2f}{err}", file=out)
    print("-" * len(header), file=out)
    print(f"{'total (' + str(len(reports)) + ' files)':<{w}} {tot['cmds']:>6} {tot['pass']:>6} "
          f"{tot['fail']:>6} {tot['skip']:>6} {tot['new']:>5} {tot['regr']:>5} {tot['secs']:>6.1f}",
          file=out)

    cats: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in reports:
        for o in r.outcomes:
            cats[o.category][o.status] += 1
            if o.note:
                cats[o.category]["note"] += 1
    print(file=out)
    cw = max([len(c) for c in cats] + [8])
    print(f"{'category':<{cw}} {'total':>6} {'pass':>6} {'fail':>6} {'skip':>6} {'msg!=':>6}", file=out)
    for cat in sorted(cats):
        c = cats[cat]
        total = c[PASSED] + c[FAILED] + c[SKIPPED]
        print(f"{cat:<{cw}} {total:>6} {c[PASSED]:>6} {c[FAILED]:>6} {c[SKIPPED]:>6} {c['note']:>6}",
              file=out)

    if reasons:
        groups: Dict[str, List[Tuple[str, int]]] = collections.defaultdict(list)
        for r in reports:
            for o in r.outcomes:
                if o.status == FAILED:
                    groups[f"[{o.category}] {o.group}"].append((r.key, o.line))
        if groups:
            print(f"\ntop failure reasons (of {len(groups)}):", file=out)
            for g, where in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:reasons]:
                print(f"{len(where):>6}  {g}   e.g. {where[0][0]}:{where[0][1]}", file=out)
    if failures:
        print("\nfailures:", file=out)
        for r in reports:
            for o in r.outcomes:
                if o.status == FAILED:
                    print(f"{r.key}:{o.line}: {o.category}: {o.reason}", file=out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.spec.runner", description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", help="spec files (paths, or keys like wast-2.0/i32.wast); default all")
    ap.add_argument("--mode", default=COMPILE_ONLY, choices=sorted(ENGINES), help="engine to run with")
    ap.add_argument("--update", action="store_true", help="record newly passing lines in expected.json")
    ap.add_argument("--allow-regressions", action="store_true",
                    help="with --update: also drop lines that no longer pass")
    ap.add_argument("--failures", action="store_true", help="list every failed command with its reason")
    ap.add_argument("--reasons", type=int, default=15, metavar="N", help="show the N commonest failure reasons")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    ap.add_argument("--expected", default=str(EXPECTED_PATH), help="ratchet file")
    args = ap.parse_args(argv)

    root = spec_dir()
    if not root.is_dir():
        print(f"spec directory not found: {root} (set PYWAZERO_SPEC_DIR)", file=sys.stderr)
        return 2
    keys = [_key_of(f, root) for f in args.files] if args.files else discover(root)
    if not keys:
        print(f"no .wast files under {root}", file=sys.stderr)
        return 2
    expected_path = Path(args.expected)
    expected_all = load_expected(expected_path)
    expected = expected_all.get(args.mode, {})

    reports = run_many(keys, args.mode, root, args.jobs)
    print_tables(reports, expected, reasons=args.reasons, failures=args.failures)

    regressed = {r.key: regressions(r, expected.get(r.key, [])) for r in reports}
    regressed = {k: v for k, v in regressed.items() if v}
    if regressed:
        print(f"\nREGRESSIONS: {sum(len(v) for v in regressed.values())} recorded lines no longer pass:")
        by_key = {r.key: r for r in reports}
        for k, regs in regressed.items():
            print(format_regressions(by_key[k], regs, limit=10))

    if args.update:
        new_mode = dict(expected)
        for r in reports:
            passed = set(r.passed_lines())
            if args.allow_regressions:
                new_mode[r.key] = sorted(passed)
            else:
                new_mode[r.key] = sorted(passed | set(expected.get(r.key, [])))
        expected_all[args.mode] = new_mode
        text = dump_expected(expected_all)
        old = expected_path.read_text(encoding="utf-8") if expected_path.exists() else ""
        if text != old:
            expected_path.write_text(text, encoding="utf-8")
            print(f"\nwrote {expected_path}")
        else:
            print(f"\n{expected_path} unchanged")
        if regressed and not args.allow_regressions:
            print("regressions kept in the ratchet (use --allow-regressions to drop them)")
            return 1
        return 0
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main())
