"""The ``pywazero`` command line (also ``python -m pywazero``).

``pywazero run [options] MODULE [ARGS...]`` runs a WASI command (or any module
exporting ``_start``), or with ``--invoke FUNC`` calls one exported function with
ARGS and prints its results; ``--preload NAME=MODULE`` links other modules in first.
``pywazero compile [--cache-dir DIR] [--all] MODULE`` compiles a module (checking
it) and, with ``--cache-dir``, stores it in that compilation cache;
``pywazero inspect [--json] MODULE`` describes a module; ``pywazero wast FILE...``
runs spec scripts; ``pywazero version`` prints the version.  MODULE may be binary
(``.wasm``) or text (``.wat``).

Exit status of ``run``:

* the guest's own exit code when it exits (WASI ``proc_exit``, or 0 when ``_start``
  returns);
* ``134`` (128 + SIGABRT, as wasmtime on Unix) when the guest traps; the trap and its
  wasm stack trace go to stderr;
* ``124`` (as GNU ``timeout``) when ``--timeout`` expires: the guest is interrupted
  in-process (``Runtime.deadline``) and its trap is reported like any other;
* ``134`` also when ``--fuel`` runs out ("all fuel consumed by WebAssembly");
* ``1`` when the module cannot be run at all (missing file, malformed or invalid
  module, unknown import, nothing to run, a resource budget exceeded or memory the
  host cannot allocate), with a one-line message on stderr;
* ``2`` for a bad command line (an ``--invoke`` argument that does not fit its
  parameter included).

With ``--invoke``, the function's results are printed on stdout, one per line.

:func:`main` takes the arguments and, for embedding and tests, the binary streams the
guest's stdio and the CLI's messages use.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

from .engine.limits import DEADLINE

EXIT_TRAP = 134
EXIT_TIMEOUT = 124
EXIT_ERROR = 1
EXIT_USAGE = 2

_WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


class CliError(Exception):
    """A failure reported as one line on stderr with exit status 1."""

    status = EXIT_ERROR


class UsageError(CliError):
    """A bad command line found after parsing (e.g. an --invoke argument that does
    not fit its parameter's type): one line on stderr, exit status 2."""

    status = EXIT_USAGE


# -- argument parsing -----------------------------------------------------------------


def parse_mount(spec: str) -> Tuple[str, str, bool]:
    """Split ``HOST[:GUEST][:ro]`` into ``(host, guest, read_only)``.

    Without GUEST, the guest sees the directory at HOST's path as written (like
    wasmtime's ``--dir``).  A Windows drive letter (``C:\\data``) is not a separator.

    >>> parse_mount("/tmp/data:/data:ro")
    ('/tmp/data', '/data', True)
    >>> parse_mount(".:/")
    ('.', '/', False)
    >>> parse_mount("out")
    ('out', 'out', False)
    >>> parse_mount(r"C:\\work:/w")
    ('C:\\\\work', '/w', False)
    """
    read_only = False
    rest = spec
    if rest.endswith(":ro"):
        read_only, rest = True, rest[:-3]
    elif rest.endswith(":rw"):
        rest = rest[:-3]
    drive = ""
    m = re.match(r"^[A-Za-z]:(?=[\\/]|$)", rest)
    if m:
        drive, rest = m.group(0), rest[2:]
    host, sep, guest = rest.partition(":")
    host = drive + host
    if not host:
        raise argparse.ArgumentTypeError(f"invalid mount {spec!r}: the host directory is empty")
    if not sep:
        guest = host
    elif not guest:
        raise argparse.ArgumentTypeError(f"invalid mount {spec!r}: the guest path is empty")
    return host, guest, read_only


def _parse_env(spec: str) -> Tuple[str, Optional[str]]:
    """``KEY=VALUE`` sets KEY; a bare ``NAME`` passes the host's NAME through
    (``(NAME, None)``; looked up when the guest starts, not passed if unset)."""
    key, sep, value = spec.partition("=")
    if not key:
        raise argparse.ArgumentTypeError(
            f"invalid environment variable {spec!r}: expected KEY=VALUE or NAME")
    return (key, value) if sep else (key, None)


def _parse_preload(spec: str) -> Tuple[str, str]:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"invalid preload {spec!r}: expected NAME=MODULE")
    return name, path


def _parse_fuel(spec: str) -> int:
    try:
        value = int(spec, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid fuel {spec!r}: expected a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid fuel {spec!r}: must not be negative")
    return value


_WAST_FAILURES_SHOWN = 10   # failures listed per script without --verbose

_DURATION = re.compile(r"^\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(spec: str) -> float:
    """A duration in seconds: a number of seconds, or a number with a unit ``ms``,
    ``s``, ``m`` or ``h``.

    >>> parse_duration("300ms"), parse_duration("2s"), parse_duration("1.5m"), parse_duration("10")
    (0.3, 2.0, 90.0, 10.0)
    """
    m = _DURATION.match(spec)
    if m is None:
        raise argparse.ArgumentTypeError(
            f"invalid timeout {spec!r}: expected a number of seconds or a duration "
            "such as 300ms, 2s, 1.5m, 1h")
    value = float(m.group(1)) * _DURATION_UNITS[m.group(2)]
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"invalid timeout {spec!r}: must be positive and finite")
    return value


def parse_features(spec: str) -> Any:
    """A :class:`~pywazero.CoreFeatures` set from comma-separated words: ``v1``,
    ``v2``, ``v3``, ``default`` or ``all`` start over from that set; a proposal name
    (``tail-call``, or ``+tail-call``) adds it; ``-name`` removes it.

    >>> from pywazero import CoreFeatures
    >>> parse_features("v2,+tail-call") == CoreFeatures.V2 | CoreFeatures.TAIL_CALL
    True
    >>> parse_features("-simd,-relaxed-simd") == CoreFeatures.V3 & ~(CoreFeatures.SIMD | CoreFeatures.RELAXED_SIMD)
    True
    """
    from .wasm.features import CoreFeatures, feature_name

    sets = {"v1": CoreFeatures.V1, "v2": CoreFeatures.V2, "v3": CoreFeatures.V3,
            "default": CoreFeatures.DEFAULT, "all": CoreFeatures.ALL}
    by_name = {feature_name(f): f for f in CoreFeatures if f.name and f.name not in
               ("V1", "V2", "V3", "ALL", "DEFAULT") and bin(int(f)).count("1") == 1}
    features = int(CoreFeatures.DEFAULT)
    words = [w.strip() for w in spec.split(",")]
    if not any(words):
        raise argparse.ArgumentTypeError("invalid features '': expected e.g. 'v2,+tail-call'")
    for word in words:
        name = word.lower().lstrip("+-")
        if word.lower() in sets:
            features = int(sets[word.lower()])
        elif name in by_name:
            flag = int(by_name[name])
            features = features & ~flag if word.startswith("-") else features | flag
        else:
            known = ", ".join(list(sets) + sorted(by_name))
            raise argparse.ArgumentTypeError(f"invalid features {spec!r}: unknown {word!r} (known: {known})")
    return CoreFeatures(features)


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _parse_size(spec: str) -> int:
    """A byte count: digits with an optional binary unit (``64M``, ``1GiB``, ``65536``)."""
    text = spec.strip().upper().replace("_", "")
    digits = text.rstrip("KMGIB")
    unit = text[len(digits):]
    unit = unit[:-1] if unit.endswith("B") else unit
    unit = unit[:-1] if unit.endswith("I") and len(unit) == 2 else unit
    if not digits.isdigit() or unit not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(f"invalid size {spec!r}: use bytes, or a number with K, M or G")
    return int(digits) * _SIZE_UNITS[unit]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors go to our stderr stream."""

    out: Optional[IO[bytes]] = None
    err: Optional[IO[bytes]] = None

    def _print_message(self, message: str, file: Any = None) -> None:
        if not message:
            return
        stream = self.err if file is sys.stderr else self.out
        if stream is None:
            super()._print_message(message, file)
        else:
            stream.write(message.encode("utf-8", "replace"))
            stream.flush()


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="pywazero",
        description="Run and inspect WebAssembly modules with pywazero, a pure-Python runtime.",
        epilog="Run 'pywazero COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run a WASI command (or a module exporting _start)",
        description=(
            "Instantiate MODULE (binary .wasm or text .wat) with WASI "
            "(wasi_snapshot_preview1) and call its _start function, passing ARGS as "
            "its arguments (argv[0] is MODULE as given); with --invoke FUNC, call the "
            "exported FUNC with ARGS instead and print its results.  --preload links "
            "other modules in first.  The guest sees only the directories given with "
            "--mount and only the environment given with --env/--env-inherit."),
        epilog=(
            f"exit status: the guest's exit code; {EXIT_TRAP} when it traps (the trap "
            f"and its wasm stack trace are printed to stderr); {EXIT_TIMEOUT} when "
            f"--timeout expires (the guest is interrupted and its trap printed); "
            f"{EXIT_ERROR} when the module cannot be run (missing "
            f"file, malformed module, unknown import, nothing to run); {EXIT_USAGE} "
            "for a bad command line (an --invoke argument that does not fit "
            "included).  Put '--' before ARGS that start with '-' (negative numbers "
            "need none)."),
    )
    run.add_argument("--mount", action="append", default=[], type=parse_mount,
                     metavar="HOST[:GUEST][:ro]",
                     help="make host directory HOST visible to the guest at GUEST (default: "
                          "HOST as written); ':ro' makes it read-only.  Repeatable.")
    run.add_argument("--env", action="append", default=[], type=_parse_env, metavar="KEY=VALUE|NAME",
                     help="set an environment variable for the guest; a bare NAME passes this "
                          "process's NAME through (nothing if it is unset).  Repeatable.")
    run.add_argument("--env-inherit", action="store_true",
                     help="pass this process's environment to the guest (--env wins)")
    run.add_argument("--timeout", type=parse_duration, metavar="DURATION",
                     help="interrupt the guest (status 124) if it runs longer than DURATION: "
                          "seconds, or with a unit: '300ms', '2s', '1.5m', '1h' "
                          "(wall clock, instantiation included).  A guest sleeping in "
                          "poll_oneoff is stopped too; one blocked reading a descriptor "
                          "when the read returns.")
    run.add_argument("--fuel", type=_parse_fuel, metavar="N", default=None,
                     help="give the guest N units of fuel (about one per wasm instruction, "
                          "counted as wasmtime counts them); when it runs out the guest "
                          "traps (status 134)")
    run.add_argument("--max-memory", type=_parse_size, metavar="SIZE", default=None,
                     help="the most linear memory the guest may hold, all memories together "
                          "(bytes, or with K, M or G: '64M'); memory.grow past it fails")
    run.add_argument("--interpreter", action="store_true",
                     help="use the interpreter engine instead of the compiler")
    run.add_argument("--engine", choices=("compiler", "interpreter"), default=None,
                     help="the engine to run the guest with (default: compiler; "
                          "'--interpreter' is short for '--engine interpreter')")
    run.add_argument("--trace", nargs="?", const="*", default=None, metavar="FILTER",
                     help="print every call of a wasm function to stderr, indented by depth, "
                          "with its arguments and results; '--trace=FILTER' only the "
                          "functions whose name or export name matches one of FILTER's "
                          "comma-separated shell patterns (e.g. '--trace=fib*,main').  The "
                          "filter must be attached with '='.")
    run.add_argument("--host-logging", action="store_true",
                     help="print every WASI call to stderr with its arguments decoded (paths "
                          "and strings, clock ids, whence) and its results (errno names and "
                          "the values it wrote back)")
    run.add_argument("--preload", action="append", default=[], type=_parse_preload,
                     metavar="NAME=MODULE",
                     help="instantiate MODULE first and let the modules after it import its "
                          "exports from module name NAME (with env=libc.wasm, imports from "
                          "\"env\" come from libc.wasm).  Preloaded modules may import WASI "
                          "and earlier preloads; their start function (or a reactor's "
                          "_initialize) runs, their _start does not.  Repeatable.")
    run.add_argument("--invoke", metavar="FUNC", default=None,
                     help="call the exported function FUNC instead of _start, with ARGS as its "
                          "arguments, and print its results one per line.  The module is "
                          "instantiated first (its start function runs; a WASI reactor's "
                          "_initialize too).  Arguments are read by parameter type: integers "
                          "in decimal or 0x hex, signed or unsigned; floats as 1.5, -0, 1e-3, "
                          "0x1.8p3, nan, inf, -inf.  v128 and reference parameters cannot be "
                          "given.  Works for modules without WASI too.")
    _cache_arguments(run)
    run.add_argument("module", metavar="MODULE", help="the module to run (.wasm or .wat)")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                     help="arguments passed to the guest (its argv after MODULE), or with "
                          "--invoke to FUNC")

    comp = sub.add_parser(
        "compile",
        help="compile (check) a module; with --cache-dir, store it in a compilation cache",
        description=(
            "Decode and validate MODULE and do the engine's per-module work, reporting "
            "errors as 'run' does.  With --cache-dir the compiled module is stored "
            "there, so that 'pywazero run --cache-dir DIR' (with the same engine, "
            "fuel and timeout settings) starts from it.  Functions are translated "
            "on first call; a run adds those it needed to the entry.  --all "
            "translates every function now (slow for modules of many MB)."),
        epilog=(f"prints one line saying what was checked and compiled.  exit status: 0 when "
                f"the module compiles; {EXIT_ERROR} when it does not (malformed or invalid "
                "module, missing file), with a one-line message."),
    )
    comp.add_argument("--all", action="store_true",
                      help="translate every function now (compiler engine), not only the "
                           "ones runs call")
    comp.add_argument("--interpreter", action="store_true",
                      help="compile for the interpreter engine")
    comp.add_argument("--engine", choices=("compiler", "interpreter"), default=None,
                      help="the engine to compile for (default: compiler)")
    comp.add_argument("--fuel", action="store_true",
                      help="compile for runs with --fuel (fuel metering changes the code)")
    comp.add_argument("--timeout", action="store_true",
                      help="compile for runs with --timeout (interruption checks change the code)")
    _cache_arguments(comp)
    comp.add_argument("module", metavar="MODULE", help="the module to compile (.wasm or .wat)")

    inspect = sub.add_parser(
        "inspect",
        help="describe a module's imports, exports, memories, tables, globals and custom sections",
        description=(
            "Decode and validate MODULE (.wasm or .wat) and describe it: imports and "
            "exports with their types, memories, tables, globals (type and initial value: "
            "the value when it is a plain constant, else the constant expression), tags, "
            "function names (from the name section), the start function, the numbers of "
            "data and element segments, custom sections."),
    )
    inspect.add_argument("--json", action="store_true",
                         help="print the description as JSON (floats JSON cannot hold, such as "
                              "NaN, as strings: \"nan\", \"inf\")")
    inspect.add_argument("module", metavar="MODULE", help="the module to describe (.wasm or .wat)")

    wast_cmd = sub.add_parser(
        "wast",
        help="run WebAssembly spec scripts (.wast) and report their results",
        description=(
            "Run each FILE, a WAST script (the WebAssembly spec tests' format: modules, "
            "assert_return, assert_trap, assert_invalid, register, ...), command by "
            "command, and print per file how many commands passed, failed and were "
            "skipped, and each failure with its line.  Scripts import the spec's "
            "'spectest' module (its print functions print nothing)."),
        epilog=(f"exit status: 0 when every command of every script passed; {EXIT_ERROR} when "
                f"one failed or a script could not be read; {EXIT_USAGE} for a bad command line."),
    )
    wast_cmd.add_argument("--interpreter", action="store_true",
                          help="use the interpreter engine instead of the compiler")
    wast_cmd.add_argument("--engine", choices=("compiler", "interpreter"), default=None,
                          help="the engine to run the scripts with (default: compiler)")
    wast_cmd.add_argument("--features", type=parse_features, default=None, metavar="FEATURES",
                          help="the WebAssembly features modules are compiled with: "
                               "comma-separated 'v1', 'v2', 'v3' (the default: all of 3.0), "
                               "'all' (3.0 and legacy exceptions), and proposal names to add "
                               "('+tail-call' or 'tail-call') or remove ('-simd'), e.g. "
                               "'--features=v2,+tail-call'.  The spec's wast-1.0 and wast-2.0 "
                               "scripts assert those versions' rules: run them with v1 and v2.")
    wast_cmd.add_argument("--timeout", type=parse_duration, metavar="DURATION", default=None,
                          help="fail a command that runs longer than DURATION (e.g. '10s'; "
                               "where the platform has interval timers, i.e. not on Windows)")
    shown = wast_cmd.add_mutually_exclusive_group()
    shown.add_argument("--quiet", "-q", action="store_true",
                       help="print only the per-file counts, not the failures")
    shown.add_argument("--verbose", "-v", action="store_true",
                       help=f"print every failure (default: the first {_WAST_FAILURES_SHOWN} per file)")
    wast_cmd.add_argument("files", nargs="+", metavar="FILE", help="the scripts to run (.wast)")

    sub.add_parser("version", help="print the version", description="Print pywazero's version.")
    parser.add_argument("--version", action="version", version=f"pywazero {__version__}")
    return parser


def _cache_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="use the compilation cache in DIR (created, mode 0700, if missing; "
                        "it must be private to this user): compiled modules are loaded "
                        "from it and stored in it, with the functions runs translated")


# -- shared helpers ---------------------------------------------------------------------


def _engine_of(args: argparse.Namespace) -> str:
    engine = args.engine or ("interpreter" if args.interpreter else "compiler")
    if args.interpreter and engine != "interpreter":
        raise CliError("--interpreter contradicts --engine " + engine)
    return engine


def _cache_of(args: argparse.Namespace) -> Any:
    if args.cache_dir is None:
        return None
    from .cache import CacheError, CompilationCache

    try:
        return CompilationCache(args.cache_dir)
    except CacheError as e:
        raise CliError(f"--cache-dir: {e}")


def _read_module_source(path: str) -> Any:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file")
    except IsADirectoryError:
        raise CliError(f"{path}: is a directory, not a module")
    except OSError as e:
        raise CliError(f"{path}: cannot read: {e.strerror or e}")
    return data


def _compile(rt: Any, path: str) -> Any:
    from .errors import CompileError

    data = _read_module_source(path)
    try:
        return rt.compile(data)
    except CompileError as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        kind = "malformed" if type(e).__name__ == "DecodeError" else "invalid"
        raise CliError(f"{path}: {kind} module: {first}")


def _write_line(stream: IO[bytes], text: str) -> None:
    try:
        stream.write((text + "\n").encode("utf-8", "replace"))
        stream.flush()
    except (OSError, ValueError):
        pass


# -- run -------------------------------------------------------------------------------


def _guest_env(args: argparse.Namespace) -> Dict[str, str]:
    env: Dict[str, str] = {}
    if args.env_inherit:
        env.update(os.environ)
    for key, value in args.env:
        if value is not None:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
        else:
            # unset on the host: not passed, even if an earlier --env set it
            env.pop(key, None)
    return env


def _mounts(args: argparse.Namespace) -> List[Any]:
    from .config import Mount

    out = []
    for host, guest, ro in args.mount:
        if not os.path.isdir(host):
            raise CliError(f"--mount {host}: no such directory")
        out.append(Mount(host, guest, ro))
    return out


class _TextOut:
    """Lines of text (--trace, --host-logging) written to a binary stream."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    def write(self, s: str) -> None:
        self.stream.write(s.encode("utf-8", "backslashreplace"))


def _trace_flag(argv: Sequence[str]) -> List[str]:
    """``argv`` with a bare ``--trace`` before the module made ``--trace=*``, so that
    argparse never takes the next word (the module) for its FILTER; the guest's own
    arguments are left alone (see main)."""
    return ["--trace=*" if a == "--trace" else a for a in argv]


def _uses_wasi(compiled: Any) -> bool:
    return any(imp.module in _WASI_MODULES for imp in compiled.imports)


def _prepare(args: argparse.Namespace, stdin: IO[bytes], stdout: IO[bytes],
             stderr: IO[bytes]) -> Tuple[Any, Any, Any]:
    """Everything up to (not including) instantiation: runtime, compiled module,
    module config.  Raises CliError."""
    import pywazero

    _check_preload_names(args.preload)
    listener = None
    if args.trace is not None:
        from .listener import tracer

        listener = tracer(_TextOut(stderr), None if args.trace == "*" else args.trace)
    cfg = pywazero.RuntimeConfig(engine=_engine_of(args), max_memory_bytes=args.max_memory,
                                 consume_fuel=args.fuel is not None,
                                 interruptible=args.timeout is not None,
                                 cache=_cache_of(args), function_listener=listener)
    rt = pywazero.Runtime(cfg)
    if args.fuel is not None:
        rt.set_fuel(args.fuel)
    compiled = _compile(rt, args.module)
    module = compiled.module
    if args.invoke is not None:
        args.invoke_args = _invoke_arguments(compiled, args.module, args.invoke, args.args)
    else:
        starts = [e for e in compiled.exports if e.name == "_start" and e.kind == "func"]
        if starts and starts[0].type.params:
            raise CliError(f"{args.module}: its _start function takes parameters "
                           f"({starts[0].type}); it must take none")
        if not starts and module.start is None:
            raise CliError(f"{args.module}: nothing to run: the module exports no _start "
                           "function (and has no start function)")
    preloads = _compile_preloads(rt, args.preload)
    mounts = _mounts(args)
    if any(_uses_wasi(c) for c in [compiled] + [p[2] for p in preloads]):
        try:
            from . import wasi
        except ImportError:
            raise CliError(f"{args.module}: needs WASI, which this build of pywazero lacks")
        wasi.instantiate(rt, log=_TextOut(stderr) if args.host_logging else None)
    mcfg = pywazero.ModuleConfig(
        # (with --invoke, ARGS are FUNC's arguments, not the guest's argv)
        args=[args.module] + (list(args.args) if args.invoke is None else []),
        env=_guest_env(args),
        stdin=stdin, stdout=stdout, stderr=stderr,
        mounts=mounts,
        start_functions=(),  # _execute calls _start itself, to keep hold of the instance
    )
    args.preloaded = preloads
    return rt, compiled, mcfg


def _compile_preloads(rt: Any, specs: Sequence[Tuple[str, str]]) -> List[Tuple[str, str, Any]]:
    """``(name, path, compiled)`` for each ``--preload NAME=MODULE``, in order."""
    return [(name, path, _compile(rt, path)) for name, path in specs]


def _check_preload_names(specs: Sequence[Tuple[str, str]]) -> None:
    seen: Dict[str, str] = {}
    for name, path in specs:
        if name in seen:
            raise UsageError(f"--preload {name}={path}: the name {name!r} is already preloaded "
                             f"from {seen[name]}")
        seen[name] = path


def _invoke_arguments(compiled: Any, module_path: str, name: str, texts: Sequence[str]) -> List[Any]:
    """The raw arguments of ``--invoke name``, checked against the export's type
    before anything runs.  A missing export is CliError (exit 1); a bad count or
    value UsageError (exit 2)."""
    from .cli_values import ValueSyntaxError, parse_value

    funcs = [e for e in compiled.exports if e.kind == "func"]
    found = [e for e in funcs if e.name == name]
    if not found:
        names = ", ".join(repr(e.name) for e in funcs[:20]) + (", ..." if len(funcs) > 20 else "")
        raise CliError(f"{module_path}: no exported function {name!r} to invoke"
                       + (f" (exported functions: {names})" if funcs else " (it exports no functions)"))
    ftype = found[0].type
    params = list(ftype.params)
    if len(texts) != len(params):
        raise UsageError(f"--invoke {name}: expected {len(params)} argument"
                         f"{'' if len(params) == 1 else 's'} ({ftype}), got {len(texts)}")
    values = []
    for i, (text, t) in enumerate(zip(texts, params)):
        try:
            values.append(parse_value(text, t))
        except ValueSyntaxError as e:
            raise UsageError(f"--invoke {name}: argument {i + 1}: {e}") from None
    return values


def _call_export(module: Any, name: str, args: Sequence[Any]) -> Tuple[Any, List[Any]]:
    fn = module.instance.exports[name]
    return fn.type, list(fn.call(list(args)))


def _execute(rt: Any, compiled: Any, mcfg: Any, module_path: str, stderr: IO[bytes], *,
             stdout: Optional[IO[bytes]] = None, invoke: Optional[str] = None,
             invoke_args: Sequence[Any] = (), preloads: Sequence[Tuple[str, str, Any]] = ()) -> int:
    """Instantiate the preloads (defining each in a Linker under its name), then the
    module; call its _start (or, with ``invoke``, a reactor's _initialize and then
    ``invoke`` with ``invoke_args``, printing its results); map the outcome to an
    exit status."""
    from .errors import ExitError, LinkError, Trap
    from .linker import Linker

    linker = Linker(rt)
    opened: List[Tuple[Any, Any]] = []   # (instance, compiled): WASI files to close
    current = module_path                # the module errors are reported against
    try:
        for name, path, pre in preloads:
            current = path
            config = dataclasses.replace(mcfg, args=[path])
            instance = linker.instantiate(pre, config)
            opened.append((instance, pre))
            if _is_initializer(instance.instance.exports.get("_initialize")):
                instance.instance.exports["_initialize"].call([])
            linker.define_instance(name, instance)
        current = module_path
        # (with nothing preloaded the runtime's registry, WASI included, is all there is)
        module = (linker.instantiate if preloads else rt.instantiate)(compiled, mcfg)
        opened.append((module, compiled))
        exports = module.instance.exports
        if invoke is None:
            start = exports.get("_start")
            if start is not None and hasattr(start, "call"):
                start.call([])
        else:
            if invoke != "_initialize" and _is_initializer(exports.get("_initialize")):
                exports["_initialize"].call([])
            ftype, results = _call_export(module, invoke, invoke_args)
            from .cli_values import format_value

            out = stdout if stdout is not None else mcfg.stdout
            for t, v in zip(ftype.results, results):
                out.write((format_value(t, v) + "\n").encode())
    except ExitError as e:
        return e.exit_code & 0xFF if e.exit_code >= 0 else EXIT_ERROR
    except Trap as e:
        _write_line(stderr, f"pywazero: {current}: wasm trap: {format_trap(e)}")
        if getattr(e, "reason", None) == DEADLINE:   # --timeout
            return EXIT_TIMEOUT
        return EXIT_TRAP
    except LinkError as e:
        _write_line(stderr, f"pywazero: {current}: cannot link: {e}")
        return EXIT_ERROR
    except RecursionError:
        _write_line(stderr, f"pywazero: {current}: wasm trap: call stack exhausted")
        return EXIT_TRAP
    except MemoryError:
        # the host could not allocate what the module asked for (a memory, a table):
        # one line, like any other module that cannot be run
        _write_line(stderr, f"pywazero: {current}: out of host memory")
        return EXIT_ERROR
    finally:
        for instance, cm in opened:
            if _uses_wasi(cm):
                from . import wasi

                wasi.close(instance)  # the files the guest left open
    return 0


def _is_initializer(fn: Any) -> bool:
    """A WASI reactor's ``_initialize``: an exported function of type [] -> []."""
    return fn is not None and hasattr(fn, "call") and not fn.type.params and not fn.type.results


def format_trap(trap: Any, limit: int = 40) -> str:
    """The trap's reason and wasm stack trace (innermost first), with the middle of a
    very deep stack (runaway recursion) elided."""
    from .errors import format_trap_message

    return format_trap_message(getattr(trap, "reason", str(trap)),
                               list(getattr(trap, "wasm_stack", ())), limit)


def _flush(*streams: IO[bytes]) -> None:
    for s in streams:
        try:
            s.flush()
        except (OSError, ValueError, AttributeError):
            pass


def cmd_run(args: argparse.Namespace, stdin: IO[bytes], stdout: IO[bytes],
            stderr: IO[bytes]) -> int:
    rt, compiled, mcfg = _prepare(args, stdin, stdout, stderr)

    def execute() -> int:
        try:
            return _execute(rt, compiled, mcfg, args.module, stderr, stdout=stdout,
                            invoke=args.invoke, invoke_args=getattr(args, "invoke_args", ()),
                            preloads=args.preloaded)
        finally:
            _flush(stdout)
            for cm in [compiled] + [p[2] for p in args.preloaded]:
                cm.close()

    if args.timeout is None:
        try:
            return execute()
        finally:
            _flush(stderr)
    # the runtime is interruptible: the deadline interrupts the guest in this thread
    with rt.deadline(args.timeout):
        status = execute()
    if status == EXIT_TIMEOUT:
        _write_line(stderr, f"pywazero: {args.module}: timed out after {args.timeout:g} seconds")
    _flush(stderr)
    return status


# -- compile ---------------------------------------------------------------------------


def cmd_compile(args: argparse.Namespace, stdout: IO[bytes]) -> int:
    import pywazero

    engine = _engine_of(args)
    cfg = pywazero.RuntimeConfig(engine=engine, consume_fuel=args.fuel,
                                 interruptible=args.timeout, cache=_cache_of(args))
    rt = pywazero.Runtime(cfg)
    try:
        compiled = _compile(rt, args.module)
        try:
            translated = False
            if args.all:
                translate_all = getattr(compiled._engine_code(), "compile_all", None)
                if translate_all is not None:
                    translate_all()
                    translated = True
            m = compiled.module
            summary = (f"{args.module}: valid: {len(m.funcs)} functions defined, "
                       f"{m.num_imported_funcs()} imported, {len(m.exports)} exports; "
                       f"compiled for the {engine} engine"
                       + (", every function translated" if translated else ""))
        finally:
            compiled.close()   # (with a cache: the translated functions are stored)
    finally:
        rt.close()
    if args.cache_dir is not None:
        summary += f"; stored in the cache {args.cache_dir}"
    _write_line(stdout, summary)
    return 0


# -- inspect ---------------------------------------------------------------------------


def describe(compiled: Any) -> List[str]:
    """The lines ``pywazero inspect`` prints for a compiled module."""
    from .module_info import describe_lines

    return describe_lines(compiled)


def cmd_inspect(args: argparse.Namespace, stdout: IO[bytes]) -> int:
    import pywazero

    # (describe anything pywazero implements, whatever the runtime default)
    features = pywazero.CoreFeatures.DEFAULT | pywazero.CoreFeatures.LEGACY_EXCEPTIONS
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine="interpreter", core_features=features))
    compiled = _compile(rt, args.module)
    try:
        if args.json:
            import json

            from .module_info import module_info

            out = json.dumps(module_info(compiled), indent=2) + "\n"
        else:
            out = "\n".join(describe(compiled)) + "\n"
    finally:
        compiled.close()
    stdout.write(out.encode("utf-8", "replace"))
    stdout.flush()
    return 0


# -- wast ------------------------------------------------------------------------------


def cmd_wast(args: argparse.Namespace, stdout: IO[bytes]) -> int:
    from .script.runner import FAILED, PASSED, SKIPPED, run_file
    from .wasm.features import CoreFeatures
    from .wast_engine import PywazeroEngine

    engine = PywazeroEngine(_engine_of(args))
    features = CoreFeatures.DEFAULT if args.features is None else args.features
    status = 0
    try:
        for path in args.files:
            if not os.path.isfile(path):
                _write_line(stdout, f"{path}: cannot read: "
                                    f"{'is a directory' if os.path.isdir(path) else 'no such file'}")
                status = EXIT_ERROR
                continue
            report = run_file(path, engine, key=path, features=features, timeout=args.timeout)
            if report.error is not None:
                _write_line(stdout, f"{path}: cannot read: {report.error}")
                status = EXIT_ERROR
                continue
            failed = report.count(FAILED)
            _write_line(stdout, f"{path}: {report.count(PASSED)} passed, {failed} failed, "
                                f"{report.count(SKIPPED)} skipped")
            if failed:
                status = EXIT_ERROR
                if not args.quiet:
                    limit = failed if args.verbose else _WAST_FAILURES_SHOWN
                    failures = [o for o in report.outcomes if o.status == FAILED]
                    for o in failures[:limit]:
                        _write_line(stdout, f"  {path}:{o.line}: {o.kind}: {o.reason}")
                    if failed > limit:
                        _write_line(stdout, f"  ... and {failed - limit} more failures (--verbose lists all)")
    finally:
        engine.close()
    return status


def cmd_version(stdout: IO[bytes]) -> int:
    import platform

    from . import __version__

    stdout.write(f"pywazero {__version__} ({platform.python_implementation()} "
                 f"{platform.python_version()})\n".encode())
    stdout.flush()
    return 0


# -- entry point -----------------------------------------------------------------------


def _binary(stream: Any) -> Any:
    return getattr(stream, "buffer", stream)


def main(argv: Optional[Sequence[str]] = None, *, stdin: Optional[IO[bytes]] = None,
         stdout: Optional[IO[bytes]] = None, stderr: Optional[IO[bytes]] = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit
    status.  ``stdin``/``stdout``/``stderr`` are binary streams (default: this
    process's); the guest's stdio is connected to them.

    A ``--timeout`` that expires interrupts the guest where it runs (no thread is
    left behind) and ``main`` returns 124.
    """
    if argv is None:
        argv = sys.argv[1:]
    stdin = stdin if stdin is not None else _binary(sys.stdin)
    stdout = stdout if stdout is not None else _binary(sys.stdout)
    stderr = stderr if stderr is not None else _binary(sys.stderr)
    parser = build_parser()
    for p in [parser] + [a for a in parser._subparsers._group_actions[0].choices.values()]:  # type: ignore[union-attr]
        p.out, p.err = stdout, stderr  # type: ignore[attr-defined]
    argv = list(argv)
    try:
        args = parser.parse_args(_trace_flag(argv) if "--trace" in argv else argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    if "--trace" in argv and getattr(args, "args", None):
        # (the guest's arguments are argv's tail: as given, '--trace' included)
        args.args = argv[len(argv) - len(args.args):]
    try:
        if args.command == "run":
            return cmd_run(args, stdin, stdout, stderr)
        if args.command == "compile":
            return cmd_compile(args, stdout)
        if args.command == "inspect":
            return cmd_inspect(args, stdout)
        if args.command == "wast":
            return cmd_wast(args, stdout)
        if args.command == "version":
            return cmd_version(stdout)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except CliError as e:
        _write_line(stderr, f"pywazero: error: {e}")
        return e.status
    except MemoryError:  # e.g. while compiling: still one line, not a traceback
        _write_line(stderr, "pywazero: error: out of host memory")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _write_line(stderr, "pywazero: interrupted")
        return 130


def console_main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
