"""The ``pywazero`` command line (also ``python -m pywazero``).

``pywazero run [options] MODULE [ARGS...]`` runs a WASI command (or any module
exporting ``_start``); ``pywazero compile [--cache-dir DIR] [--all] MODULE``
compiles a module (checking it) and, with ``--cache-dir``, stores it in that
compilation cache; ``pywazero inspect MODULE`` describes a module;
``pywazero version`` prints the version.  MODULE may be binary (``.wasm``) or text
(``.wat``).

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
* ``2`` for a bad command line.

:func:`main` takes the arguments and, for embedding and tests, the binary streams the
guest's stdio and the CLI's messages use.
"""
from __future__ import annotations

import argparse
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


def _parse_env(spec: str) -> Tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"invalid environment variable {spec!r}: expected KEY=VALUE")
    return key, value


def _parse_fuel(spec: str) -> int:
    try:
        value = int(spec, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid fuel {spec!r}: expected a whole number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"invalid fuel {spec!r}: must not be negative")
    return value


def _parse_timeout(spec: str) -> float:
    try:
        value = float(spec)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timeout {spec!r}: expected a number of seconds")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"invalid timeout {spec!r}: must be positive")
    return value


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
            "its arguments (argv[0] is MODULE as given).  The guest sees only the "
            "directories given with --mount and only the environment given with "
            "--env/--env-inherit."),
        epilog=(
            f"exit status: the guest's exit code; {EXIT_TRAP} when it traps (the trap "
            f"and its wasm stack trace are printed to stderr); {EXIT_TIMEOUT} when "
            f"--timeout expires (the guest is interrupted and its trap printed); "
            f"{EXIT_ERROR} when the module cannot be run (missing "
            f"file, malformed module, unknown import, nothing to run); {EXIT_USAGE} "
            "for a bad command line.  Put '--' before ARGS that start with '-'."),
    )
    run.add_argument("--mount", action="append", default=[], type=parse_mount,
                     metavar="HOST[:GUEST][:ro]",
                     help="make host directory HOST visible to the guest at GUEST (default: "
                          "HOST as written); ':ro' makes it read-only.  Repeatable.")
    run.add_argument("--env", action="append", default=[], type=_parse_env, metavar="KEY=VALUE",
                     help="set an environment variable for the guest.  Repeatable.")
    run.add_argument("--env-inherit", action="store_true",
                     help="pass this process's environment to the guest (--env wins)")
    run.add_argument("--timeout", type=_parse_timeout, metavar="SECONDS",
                     help="interrupt the guest (status 124) if it runs longer than SECONDS "
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
    _cache_arguments(run)
    run.add_argument("module", metavar="MODULE", help="the module to run (.wasm or .wat)")
    run.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS",
                     help="arguments passed to the guest")

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
        epilog=f"exit status: 0 when the module compiles; {EXIT_ERROR} when it does not.",
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
        description="Decode and validate MODULE (.wasm or .wat) and describe it.",
    )
    inspect.add_argument("module", metavar="MODULE", help="the module to describe (.wasm or .wat)")

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
        env[key] = value
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
    starts = [e for e in compiled.exports if e.name == "_start" and e.kind == "func"]
    if starts and starts[0].type.params:
        raise CliError(f"{args.module}: its _start function takes parameters "
                       f"({starts[0].type}); it must take none")
    if not starts and module.start is None:
        raise CliError(f"{args.module}: nothing to run: the module exports no _start function "
                       "(and has no start function)")
    mounts = _mounts(args)
    if _uses_wasi(compiled):
        try:
            from . import wasi
        except ImportError:
            raise CliError(f"{args.module}: needs WASI, which this build of pywazero lacks")
        wasi.instantiate(rt, log=_TextOut(stderr) if args.host_logging else None)
    mcfg = pywazero.ModuleConfig(
        args=[args.module] + list(args.args),
        env=_guest_env(args),
        stdin=stdin, stdout=stdout, stderr=stderr,
        mounts=mounts,
        start_functions=(),  # _execute calls _start itself, to keep hold of the instance
    )
    return rt, compiled, mcfg


def _execute(rt: Any, compiled: Any, mcfg: Any, module_path: str, stderr: IO[bytes]) -> int:
    """Instantiate, call _start; map the outcome to an exit status."""
    from .errors import ExitError, LinkError, Trap

    module = None
    try:
        module = rt.instantiate(compiled, mcfg)
        start = module.instance.exports.get("_start")
        if start is not None and hasattr(start, "call"):
            start.call([])
    except ExitError as e:
        return e.exit_code & 0xFF if e.exit_code >= 0 else EXIT_ERROR
    except Trap as e:
        _write_line(stderr, f"pywazero: {module_path}: wasm trap: {format_trap(e)}")
        if getattr(e, "reason", None) == DEADLINE:   # --timeout
            return EXIT_TIMEOUT
        return EXIT_TRAP
    except LinkError as e:
        _write_line(stderr, f"pywazero: {module_path}: cannot link: {e}")
        return EXIT_ERROR
    except RecursionError:
        _write_line(stderr, f"pywazero: {module_path}: wasm trap: call stack exhausted")
        return EXIT_TRAP
    except MemoryError:
        # the host could not allocate what the module asked for (a memory, a table):
        # one line, like any other module that cannot be run
        _write_line(stderr, f"pywazero: {module_path}: out of host memory")
        return EXIT_ERROR
    finally:
        if module is not None and _uses_wasi(compiled):
            from . import wasi

            wasi.close(module)  # the files the guest left open
    return 0


def format_trap(trap: Any, limit: int = 20) -> str:
    """The trap's reason and wasm stack trace (innermost first: function index,
    byte offset in the module and, with DWARF line information, ``file:line``),
    with the middle of a very deep stack (runaway recursion) elided."""
    from .errors import format_trap_message

    frames = getattr(trap, "frames", None)
    stack = [str(f) for f in frames] if frames is not None else list(getattr(trap, "wasm_stack", ()))
    return format_trap_message(getattr(trap, "reason", str(trap)), stack, limit)


def _flush(*streams: IO[bytes]) -> None:
    for s in streams:
        try:
            s.flush()
        except (OSError, ValueError, AttributeError):
            pass


def cmd_run(args: argparse.Namespace, stdin: IO[bytes], stdout: IO[bytes],
            stderr: IO[bytes]) -> int:
    rt, compiled, mcfg = _prepare(args, stdin, stdout, stderr)
    if args.timeout is None:
        try:
            return _execute(rt, compiled, mcfg, args.module, stderr)
        finally:
            _flush(stdout, stderr)
            compiled.close()
    # the runtime is interruptible: the deadline interrupts the guest in this thread
    with rt.deadline(args.timeout):
        try:
            status = _execute(rt, compiled, mcfg, args.module, stderr)
        finally:
            _flush(stdout)
            compiled.close()
    if status == EXIT_TIMEOUT:
        _write_line(stderr, f"pywazero: {args.module}: timed out after {args.timeout:g} seconds")
    _flush(stderr)
    return status


# -- compile ---------------------------------------------------------------------------


def cmd_compile(args: argparse.Namespace, stdout: IO[bytes]) -> int:
    import pywazero

    cfg = pywazero.RuntimeConfig(engine=_engine_of(args), consume_fuel=args.fuel,
                                 interruptible=args.timeout, cache=_cache_of(args))
    rt = pywazero.Runtime(cfg)
    try:
        compiled = _compile(rt, args.module)
        try:
            if args.all:
                translate_all = getattr(compiled._engine_code(), "compile_all", None)
                if translate_all is not None:
                    translate_all()
        finally:
            compiled.close()   # (with a cache: the translated functions are stored)
    finally:
        rt.close()
    return 0


# -- inspect ---------------------------------------------------------------------------


def _limits(lim: Any) -> str:
    return f"min {lim.min}" + ("" if lim.max is None else f", max {lim.max}")


def _at(t: Any) -> str:
    """"i64 " for a 64-bit memory or table (memory64), else nothing."""
    from .wasm.types import I64

    return "i64 " if getattr(t, "address_type", None) == I64 else ""


def describe(compiled: Any) -> List[str]:
    """The lines ``pywazero inspect`` prints for a compiled module."""
    from .wasm import types as T

    m = compiled.module
    lines = [f"module name: {m.names.module if m.names.module is not None else '(none)'}"]

    def section(title: str, items: List[str]) -> None:
        lines.append(f"{title} ({len(items)}):" if items else f"{title}: none")
        lines.extend(f"  {item}" for item in items)

    def kind_desc(kind: str, t: Any) -> str:
        if kind == "func":
            return f"func {t}"
        if kind == "memory":
            return f"memory {_at(t)}{_limits(t.limits)} (pages of 64 KiB)"
        if kind == "table":
            return f"table {_at(t)}{T.valtype_name(t.elem_type)} {_limits(t.limits)}"
        if kind == "tag":
            return f"tag {t}"
        return f"global {t}"

    section("imports", [f"{imp.module}.{imp.name}: {kind_desc(imp.kind, imp.type)}"
                        for imp in compiled.imports])
    section("exports", [f"{e.name}: {kind_desc(e.kind, e.type)}" for e in compiled.exports])
    imported_mems = len(m.imported(T.EXTERN_MEMORY))
    section("memories", [
        f"{i}: {_at(mt)}{_limits(mt.limits)} pages{' (imported)' if i < imported_mems else ''}"
        for i, mt in enumerate(m.mem_types())])
    imported_tables = len(m.imported(T.EXTERN_TABLE))
    # (typed references spelled out: (ref (func (param i32))), not a type index)
    describe_type = compiled._describe
    section("tables", [
        f"{i}: {_at(tt)}{T.valtype_name(describe_type(tt).elem_type)} {_limits(tt.limits)}"
        f"{' (imported)' if i < imported_tables else ''}"
        for i, tt in enumerate(m.table_types())])
    imported_globals = len(m.imported(T.EXTERN_GLOBAL))
    section("globals", [
        f"{i}: {describe_type(gt)}{' (imported)' if i < imported_globals else ''}"
        for i, gt in enumerate(m.global_types())])
    # exception handling's tags: the payload's types (a tag's type has no results)
    imported_tags = len(m.imported(T.EXTERN_TAG))
    section("tags", [
        f"{i}: {describe_type(m.types[ti])}{' (imported)' if i < imported_tags else ''}"
        for i, ti in enumerate(m.tag_types())])
    nfuncs = len(m.funcs)
    lines.append(f"functions: {nfuncs} defined, {m.num_imported_funcs()} imported")
    if m.start is not None:
        name = m.names.functions.get(m.start)
        lines.append(f"start function: {m.start}" + (f" ({name})" if name else ""))
    section("custom sections", [f"{c.name}: {len(c.data)} bytes" for c in m.customs])
    return lines


def cmd_inspect(args: argparse.Namespace, stdout: IO[bytes]) -> int:
    import pywazero

    # (describe anything pywazero implements, whatever the runtime default)
    features = pywazero.CoreFeatures.DEFAULT | pywazero.CoreFeatures.LEGACY_EXCEPTIONS
    rt = pywazero.Runtime(pywazero.RuntimeConfig(engine="interpreter", core_features=features))
    compiled = _compile(rt, args.module)
    try:
        out = "\n".join(describe(compiled)) + "\n"
    finally:
        compiled.close()
    stdout.write(out.encode("utf-8", "replace"))
    stdout.flush()
    return 0


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
        if args.command == "version":
            return cmd_version(stdout)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except CliError as e:
        _write_line(stderr, f"pywazero: error: {e}")
        return EXIT_ERROR
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
