"""Run the WebAssembly spec test scripts (.wast) and keep a ratchet of what passes.

Each command of a script is classified as passed, failed (with a reason) or skipped.
``engine=None`` is *compile-only* mode: modules must compile (decode or parse, then
validate), ``assert_malformed`` modules must raise DecodeError, ``assert_invalid``
modules must decode and then raise ValidationError, and every command that needs
execution is skipped.  An :class:`Engine` plugged in runs the rest.

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
import re
import signal
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

try:
    import pywazero  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from pywazero.errors import (DecodeError, LinkError, Trap, ValidationError, WasmError,  # noqa: E402
                             WasmException)
from pywazero.script import wast  # noqa: E402
from pywazero.wasm.features import CoreFeatures  # noqa: E402

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

COMPILE_ONLY = "compile-only"
NEEDS_EXECUTION = "needs execution"

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


# --- engines ----------------------------------------------------------------------------

class Engine:
    """What the runner needs from an execution engine (subclass and override).

    One engine object runs one script at a time: :meth:`start_script` is called before
    each script and should give a fresh store with the ``spectest`` module registered.
    Values cross the boundary as :class:`pywazero.script.wast.Value` (type + raw bits).
    Failures are reported by raising :class:`~pywazero.errors.LinkError` (imports not
    satisfied) or :class:`~pywazero.errors.Trap` (including call-stack exhaustion).

    Before :meth:`start_script`, :func:`run_file` calls :meth:`configure` with the
    script's key and the :class:`~pywazero.wasm.features.CoreFeatures` its modules
    are compiled with, so the engine can run them under the same rules.
    """

    name = "engine"
    # the current script's key ("wast-1.0/data.wast", ...) and core features
    script_key: str = ""
    features: CoreFeatures = CoreFeatures.V2

    def configure(self, key: str, features: CoreFeatures) -> None:
        """Called before :meth:`start_script` for each script run by :func:`run_file`."""
        self.script_key = key
        self.features = features

    def start_script(self) -> None:
        pass

    def instantiate(self, module: Any, command: "wast.ModuleCommand") -> Any:
        """Instantiate a validated Module; return an instance handle."""
        raise NotImplementedError

    def register(self, name: str, instance: Any) -> None:
        """Make ``instance``'s exports importable under module name ``name``."""
        raise NotImplementedError

    def invoke(self, instance: Any, name: str, args: Sequence["wast.Value"]) -> List["wast.Value"]:
        raise NotImplementedError

    def get(self, instance: Any, name: str) -> "wast.Value":
        """The value of exported global ``name``."""
        raise NotImplementedError


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


# --- results ----------------------------------------------------------------------------

@dataclass
class Outcome:
    """What happened to one command."""

    line: int
    kind: str                 # "module", "assert_return", ...
    form: str                 # module form ("text"/"binary"/"quote"), or ""
    status: str               # PASSED / FAILED / SKIPPED
    reason: str = ""          # why it failed or was skipped
    group: str = ""           # reason without the details, for grouping failures
    note: str = ""            # e.g. passed, but with a different message

    @property
    def category(self) -> str:
        return f"{self.kind}/{self.form}" if self.form else self.kind


@dataclass
class FileReport:
    key: str                  # "wast-2.0/simd/simd_lane.wast"
    mode: str
    outcomes: List[Outcome] = field(default_factory=list)
    error: Optional[str] = None   # the script itself could not be read
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def passed_lines(self) -> List[int]:
        """Lines on which every command passed."""
        ok: Dict[int, bool] = {}
        for o in self.outcomes:
            ok[o.line] = ok.get(o.line, True) and o.status == PASSED
        return sorted(line for line, good in ok.items() if good)

    def by_line(self) -> Dict[int, List[Outcome]]:
        out: Dict[int, List[Outcome]] = collections.defaultdict(list)
        for o in self.outcomes:
            out[o.line].append(o)
        return out

    def summary(self) -> Dict[str, Any]:
        """JSON-friendly counts (used by the pytest terminal summary)."""
        return {"key": self.key, "mode": self.mode, "total": len(self.outcomes),
                PASSED: self.count(PASSED), FAILED: self.count(FAILED),
                SKIPPED: self.count(SKIPPED), "error": self.error,
                "seconds": round(self.seconds, 3)}


# --- helpers ----------------------------------------------------------------------------

class CommandTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: Optional[float]) -> Iterator[None]:
    """Raise CommandTimeout in the body after ``seconds`` (POSIX main thread only;
    elsewhere no limit)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise CommandTimeout(f"timed out after {seconds:g} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame inside pywazero (or the innermost frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if "pywazero" in fr.filename.replace("\\", "/"):
            return f"{Path(fr.filename).name}:{fr.lineno}"
    if frames:
        return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
    return "?"


def describe(exc: BaseException) -> Tuple[str, str]:
    """(reason, group) for an exception: the full message and a short grouping key."""
    name = type(exc).__name__
    if isinstance(exc, WasmError):
        bare = getattr(exc, "reason", None) or str(exc)
        return f"{name}: {exc}", f"{name}: {bare}"
    if isinstance(exc, ImportError):
        return f"component missing: {name}: {exc}", f"component missing: {exc}"
    if isinstance(exc, NotImplementedError):
        where = _where(exc)
        return f"not implemented: {exc} ({where})", f"not implemented ({where})"
    if isinstance(exc, CommandTimeout):
        return str(exc), "timeout"
    where = _where(exc)
    msg = str(exc)
    if len(msg) > 200:
        msg = msg[:200] + "..."
    return f"crash: {name}: {msg} ({where})", f"crash: {name} at {where}"


def _message_note(exc: BaseException, expected: str) -> str:
    got = getattr(exc, "reason", None) or str(exc)
    if expected and not got.startswith(expected) and expected not in got:
        return f"message {got!r}, spec says {expected!r}"
    return ""


def compile_module(cmd: "wast.ModuleCommand", features: CoreFeatures = CoreFeatures.V2) -> Any:
    """Decode or parse ``cmd``'s module and validate it under ``features``; return the
    Module."""
    from pywazero.wasm.validation import validate_module

    module = cmd.parse(features)
    validate_module(module, features)
    return module


def _values_str(values: Iterable[Any]) -> str:
    return "[" + " ".join(str(v) for v in values) + "]"


# --- running a script --------------------------------------------------------------------

class ScriptRun:
    """Runs the commands of one script with an optional engine."""

    def __init__(self, engine: Optional[Engine] = None, timeout: Optional[float] = None,
                 features: CoreFeatures = CoreFeatures.V2) -> None:
        self.engine = engine
        self.timeout = timeout
        self.features = features
        self.current: Any = None
        self.named: Dict[str, Any] = {}
        # module definitions (3.0 scripts): name -> (Module, command); the last one
        self.definitions: Dict[str, Tuple[Any, Any]] = {}
        self.last_definition: Optional[Tuple[Any, Any]] = None
        self.outcomes: List[Outcome] = []

    def run(self, commands: Sequence["wast.Command"]) -> List[Outcome]:
        if self.engine is not None:
            self.engine.start_script()
        for cmd in commands:
            self.outcomes.append(self.command(cmd))
        return self.outcomes

    def command(self, cmd: "wast.Command") -> Outcome:
        module = getattr(cmd, "module", None)
        form = module.form if isinstance(module, wast.ModuleCommand) else ""
        if isinstance(cmd, wast.ModuleCommand):
            form = cmd.form
        out = Outcome(cmd.line, cmd.kind, form, PASSED)
        hname = "do_" + type(cmd).__name__
        handler = getattr(self, hname, None)
        if handler is None:
            return self.fail(out, f"runner does not know {cmd.kind}", "runner: unknown command")
        if self.engine is None and hname in _EXECUTION_HANDLERS:
            out.status = SKIPPED
            out.reason = out.group = NEEDS_EXECUTION
            return out
        try:
            with _time_limit(self.timeout):
                handler(cmd, out)
        except Exception as e:  # noqa: BLE001 - any escape is a failure of that command
            reason, group = describe(e)
            self.fail(out, reason, group)
        return out

    @staticmethod
    def fail(out: Outcome, reason: str, group: Optional[str] = None) -> Outcome:
        out.status = FAILED
        out.reason = reason
        out.group = group if group is not None else reason
        return out

    # -- modules
    def do_ModuleCommand(self, cmd: "wast.ModuleCommand", out: Outcome) -> None:
        if self.engine is not None:
            # A failing module leaves no current module: later actions fail.
            self.current = None
        module = compile_module(cmd, self.features)
        self.last_definition = (module, cmd)
        if cmd.definition:
            # (module definition $m ...): compiled, instantiated by (module instance)
            if cmd.name is not None:
                self.definitions[cmd.name] = (module, cmd)
            return
        if self.engine is None:
            return
        instance = self.engine.instantiate(module, cmd)
        self.current = instance
        if cmd.name is not None:
            self.named[cmd.name] = instance

    def do_ModuleInstance(self, cmd: "wast.ModuleInstance", out: Outcome) -> None:
        self.current = None
        if cmd.module is None:
            if self.last_definition is None:
                raise LookupError("no module defined before (module instance)")
            module, mcmd = self.last_definition
        else:
            try:
                module, mcmd = self.definitions[cmd.module]
            except KeyError:
                raise LookupError(f"unknown module definition {cmd.module}") from None
        instance = self.engine.instantiate(module, mcmd)
        self.current = instance
        if cmd.instance is not None:
            self.named[cmd.instance] = instance

    def do_AssertMalformed(self, cmd: "wast.AssertMalformed", out: Outcome) -> None:
        try:
            module = cmd.module.parse(self.features)
        except DecodeError as e:
            out.note = _message_note(e, cmd.message)
            return
        except ValidationError as e:
            self.fail(out, f"raised ValidationError ({e}), expected DecodeError ({cmd.message!r})",
                      f"ValidationError instead of DecodeError: {e.reason}")
            return
        try:
            from pywazero.wasm.validation import validate_module

            validate_module(module, self.features)
            after = "and it validates"
        except ValidationError as e:
            after = f"validation then says: {e.reason}"
        except Exception as e:  # noqa: BLE001
            after = f"validation then: {describe(e)[0]}"
        self.fail(out, f"decoded without DecodeError, expected {cmd.message!r} ({after})",
                  f"accepted malformed: {cmd.message}")

    def do_AssertInvalid(self, cmd: "wast.AssertInvalid", out: Outcome) -> None:
        from pywazero.wasm.validation import validate_module

        try:
            module = cmd.module.parse(self.features)
        except DecodeError as e:
            self.fail(out, f"raised DecodeError ({e}), expected ValidationError ({cmd.message!r})",
                      f"DecodeError instead of ValidationError: {e.reason}")
            return
        except ValidationError as e:  # a front end may check some rules itself
            out.note = _message_note(e, cmd.message)
            return
        try:
            validate_module(module, self.features)
        except ValidationError as e:
            out.note = _message_note(e, cmd.message)
            return
        except DecodeError as e:
            self.fail(out, f"validation raised DecodeError ({e}), expected ValidationError "
                      f"({cmd.message!r})", f"DecodeError in validation: {e.reason}")
            return
        self.fail(out, f"validated, expected ValidationError {cmd.message!r}",
                  f"accepted invalid: {cmd.message}")

    # -- everything below needs an engine
    def _instantiate_expecting(self, cmd: Any, out: Outcome, exc_type: type) -> None:
        module = compile_module(cmd.module, self.features)
        try:
            instance = self.engine.instantiate(module, cmd.module)
        except exc_type as e:
            out.note = _message_note(e, cmd.message)
            return
        except WasmError as e:
            self.fail(out, f"raised {describe(e)[0]}, expected {exc_type.__name__} {cmd.message!r}",
                      f"{type(e).__name__} instead of {exc_type.__name__}: {getattr(e, 'reason', e)}")
            return
        # The module instantiated after all: like the reference interpreter, it stays
        # usable under its name but does not become the current module.
        if cmd.module.name is not None:
            self.named[cmd.module.name] = instance
        self.fail(out, f"instantiated, expected {exc_type.__name__} {cmd.message!r}",
                  f"no {exc_type.__name__}: {cmd.message}")

    def do_AssertUnlinkable(self, cmd: "wast.AssertUnlinkable", out: Outcome) -> None:
        self._instantiate_expecting(cmd, out, LinkError)

    def do_AssertUninstantiable(self, cmd: "wast.AssertUninstantiable", out: Outcome) -> None:
        self._instantiate_expecting(cmd, out, Trap)

    def _instance(self, name: Optional[str]) -> Any:
        if name is None:
            if self.current is None:
                raise LookupError("no current module (the last module failed or none was defined)")
            return self.current
        try:
            return self.named[name]
        except KeyError:
            raise LookupError(f"unknown module {name}") from None

    def _act(self, action: "wast.Action") -> List["wast.Value"]:
        instance = self._instance(action.module)
        if isinstance(action, wast.Get):
            return [self.engine.get(instance, action.name)]
        return list(self.engine.invoke(instance, action.name, action.args))

    def do_Register(self, cmd: "wast.Register", out: Outcome) -> None:
        self.engine.register(cmd.name, self._instance(cmd.module))

    def do_Invoke(self, cmd: "wast.Invoke", out: Outcome) -> None:
        self._act(cmd)

    def do_Get(self, cmd: "wast.Get", out: Outcome) -> None:
        self._act(cmd)

    def do_AssertReturn(self, cmd: "wast.AssertReturn", out: Outcome) -> None:
        got = self._act(cmd.action)
        want = cmd.results
        if len(got) != len(want) or not all(w.matches(g) for w, g in zip(want, got)):
            self.fail(out, f"{cmd.action.name}: got {_values_str(got)}, expected {_values_str(want)}",
                      "wrong result")

    def do_AssertReturnNan(self, cmd: "wast.AssertReturnNan", out: Outcome) -> None:
        got = self._act(cmd.action)
        ok = (len(got) == 1 and got[0].type in (wast.F32, wast.F64)
              and cmd.pattern_for(got[0].type).matches(got[0]))
        if not ok:
            what = "canonical" if cmd.canonical else "arithmetic"
            self.fail(out, f"{cmd.action.name}: got {_values_str(got)}, expected a {what} NaN",
                      "wrong result")

    do_AssertReturnCanonicalNan = do_AssertReturnNan
    do_AssertReturnArithmeticNan = do_AssertReturnNan

    def do_AssertTrap(self, cmd: "wast.AssertTrap", out: Outcome) -> None:
        if cmd.module is not None:
            self._instantiate_expecting(cmd, out, Trap)
            return
        try:
            got = self._act(cmd.action)
        except Trap as e:
            out.note = _message_note(e, cmd.message)
            return
        self.fail(out, f"{cmd.action.name}: returned {_values_str(got)}, expected trap {cmd.message!r}",
                  "no trap")

    def do_AssertException(self, cmd: "wast.AssertException", out: Outcome) -> None:
        try:
            got = self._act(cmd.action)
        except WasmException:
            return
        self.fail(out, f"{cmd.action.name}: returned {_values_str(got)}, expected an exception",
                  "no exception")

    def do_AssertExhaustion(self, cmd: "wast.AssertExhaustion", out: Outcome) -> None:
        try:
            got = self._act(cmd.action)
        except Trap as e:
            out.note = _message_note(e, cmd.message)
            return
        self.fail(out, f"{cmd.action.name}: returned {_values_str(got)}, expected {cmd.message!r}",
                  "no exhaustion")


_EXECUTION_HANDLERS = frozenset(
    name for name in dir(ScriptRun)
    if name.startswith("do_") and name not in ("do_ModuleCommand", "do_AssertMalformed", "do_AssertInvalid")
)


def run_commands(commands: Sequence["wast.Command"], engine: Optional[Engine] = None,
                 timeout: Optional[float] = None,
                 features: CoreFeatures = CoreFeatures.V2) -> List[Outcome]:
    """Run already-read commands, compiling modules under ``features``;
    ``engine=None`` is compile-only mode."""
    return ScriptRun(engine, timeout, features).run(commands)


def default_timeout() -> float:
    try:
        return float(os.environ.get("PYWAZERO_SPEC_TIMEOUT", DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def run_file(path: "os.PathLike[str] | str", engine: Optional[Engine] = None,
             key: Optional[str] = None, mode: Optional[str] = None,
             timeout: Optional[float] = None,
             features: Optional[CoreFeatures] = None) -> FileReport:
    """Run one .wast file command by command; ``engine=None`` means compile-only.

    Modules are compiled (and the engine configured) with ``features``, by default
    :func:`features_for` the key."""
    path = Path(path)
    if mode is None:
        mode = COMPILE_ONLY if engine is None else getattr(engine, "name", "engine")
    report = FileReport(key or path.name, mode)
    start = time.perf_counter()
    try:
        commands = wast.read_script_file(path)
    except Exception as e:  # noqa: BLE001
        report.error = describe(e)[0]
        report.seconds = time.perf_counter() - start
        return report
    if features is None:
        features = features_for(report.key)
    if engine is not None:
        configure = getattr(engine, "configure", None)
        if configure is not None:
            configure(report.key, features)
        elif hasattr(engine, "script_key"):
            engine.script_key = report.key  # lets an engine follow 1.0 rules in wast-1.0
    report.outcomes = run_commands(commands, engine, default_timeout() if timeout is None else timeout,
                                   features)
    report.seconds = time.perf_counter() - start
    return report


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
