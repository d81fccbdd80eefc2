r"""Running WAST scripts (the spec's test scripts) command by command.

Each command of a script is classified as passed, failed (with a reason) or
skipped.  ``engine=None`` is *compile-only* mode: modules must compile (decode or
parse, then validate), ``assert_malformed`` modules must raise DecodeError,
``assert_invalid`` modules must decode and then raise ValidationError, and every
command that needs execution is skipped.  An :class:`Engine` plugged in runs the
rest (:class:`pywazero.wast_engine.PywazeroEngine` runs them on pywazero's own
engines; ``pywazero wast FILE...`` is the command line over both).

>>> from pywazero.script import wast
>>> outcomes = run_commands(wast.read_script(
...     '(module (func (export "f") (result i32) (i32.const 1)))\n'
...     '(assert_invalid (module (func (result i32) (i64.const 1))) "type mismatch")\n'
...     '(assert_return (invoke "f") (i32.const 1))'))
>>> [(o.kind, o.status) for o in outcomes]
[('module', 'passed'), ('assert_invalid', 'passed'), ('assert_return', 'skipped')]

This module is engine-neutral (it sits with the script reader above both formats
and imports no engine and no public API).
"""
from __future__ import annotations

import collections
import os
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type, Union

from ..errors import DecodeError, LinkError, Trap, ValidationError, WasmError, WasmException
from ..wasm.features import CoreFeatures
from ..wasm.types import F32, F64
from . import wast

__all__ = ["PASSED", "FAILED", "SKIPPED", "COMPILE_ONLY", "NEEDS_EXECUTION", "Engine", "Outcome",
           "FileReport", "CommandTimeout", "describe", "compile_module", "ScriptRun", "run_commands",
           "run_file"]

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

COMPILE_ONLY = "compile-only"
NEEDS_EXECUTION = "needs execution"

# --- the engine interface -----------------------------------------------------------------

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
    features: CoreFeatures = CoreFeatures.DEFAULT

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
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not seconds or not usable:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
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
    if isinstance(exc, LookupError) and not isinstance(exc, (IndexError, KeyError)):
        # the script names a module or export that is not there (a failed module)
        return str(exc), "lookup: " + str(exc).partition(" (")[0]
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


def compile_module(cmd: "wast.ModuleCommand", features: CoreFeatures = CoreFeatures.DEFAULT) -> Any:
    """Decode or parse ``cmd``'s module and validate it under ``features``; return the
    Module."""
    from ..wasm.validation import validate_module

    module = cmd.parse(features)
    validate_module(module, features)
    return module


def _module_of(cmd: Any) -> "wast.ModuleCommand":
    if cmd.module is None:
        raise LookupError(f"{cmd.kind} has no module")
    module: wast.ModuleCommand = cmd.module
    return module


def _action_name(action: Optional["wast.Action"]) -> str:
    return "?" if action is None else action.name


def _values_str(values: Iterable[Any]) -> str:
    return "[" + " ".join(str(v) for v in values) + "]"


# --- running a script --------------------------------------------------------------------

class ScriptRun:
    """Runs the commands of one script with an optional engine."""

    def __init__(self, engine: Optional[Engine] = None, timeout: Optional[float] = None,
                 features: CoreFeatures = CoreFeatures.DEFAULT) -> None:
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
        instance = self._engine.instantiate(module, cmd)
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
        instance = self._engine.instantiate(module, mcmd)
        self.current = instance
        if cmd.instance is not None:
            self.named[cmd.instance] = instance

    def do_AssertMalformed(self, cmd: "wast.AssertMalformed", out: Outcome) -> None:
        try:
            module = _module_of(cmd).parse(self.features)
        except DecodeError as e:
            out.note = _message_note(e, cmd.message)
            return
        except ValidationError as e:
            self.fail(out, f"raised ValidationError ({e}), expected DecodeError ({cmd.message!r})",
                      f"ValidationError instead of DecodeError: {e.reason}")
            return
        try:
            from ..wasm.validation import validate_module

            validate_module(module, self.features)
            after = "and it validates"
        except ValidationError as e:
            after = f"validation then says: {e.reason}"
        except Exception as e:  # noqa: BLE001
            after = f"validation then: {describe(e)[0]}"
        self.fail(out, f"decoded without DecodeError, expected {cmd.message!r} ({after})",
                  f"accepted malformed: {cmd.message}")

    def do_AssertInvalid(self, cmd: "wast.AssertInvalid", out: Outcome) -> None:
        from ..wasm.validation import validate_module

        try:
            module = _module_of(cmd).parse(self.features)
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
    @property
    def _engine(self) -> Engine:
        # (the handlers that use it are skipped in compile-only mode)
        if self.engine is None:
            raise RuntimeError("this command needs an engine")
        return self.engine

    def _instantiate_expecting(self, cmd: Any, out: Outcome, exc_type: Type[BaseException]) -> None:
        module = compile_module(cmd.module, self.features)
        try:
            instance = self._engine.instantiate(module, cmd.module)
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

    def _act(self, action: Optional["wast.Action"]) -> List["wast.Value"]:
        if action is None:
            raise LookupError("the command has no action")
        instance = self._instance(action.module)
        if isinstance(action, wast.Get):
            return [self._engine.get(instance, action.name)]
        return list(self._engine.invoke(instance, action.name, action.args))

    def do_Register(self, cmd: "wast.Register", out: Outcome) -> None:
        self._engine.register(cmd.name, self._instance(cmd.module))

    def do_Invoke(self, cmd: "wast.Invoke", out: Outcome) -> None:
        self._act(cmd)

    def do_Get(self, cmd: "wast.Get", out: Outcome) -> None:
        self._act(cmd)

    def do_AssertReturn(self, cmd: "wast.AssertReturn", out: Outcome) -> None:
        got = self._act(cmd.action)
        want = cmd.results
        if len(got) != len(want) or not all(w.matches(g) for w, g in zip(want, got)):
            self.fail(out, f"{_action_name(cmd.action)}: got {_values_str(got)}, expected {_values_str(want)}",
                      "wrong result")

    def do_AssertReturnNan(self, cmd: "wast.AssertReturnNan", out: Outcome) -> None:
        got = self._act(cmd.action)
        ok = (len(got) == 1 and got[0].type in (F32, F64)
              and cmd.pattern_for(got[0].type).matches(got[0]))
        if not ok:
            what = "canonical" if cmd.canonical else "arithmetic"
            self.fail(out, f"{_action_name(cmd.action)}: got {_values_str(got)}, expected a {what} NaN",
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
        self.fail(out, f"{_action_name(cmd.action)}: returned {_values_str(got)}, expected trap {cmd.message!r}",
                  "no trap")

    def do_AssertException(self, cmd: "wast.AssertException", out: Outcome) -> None:
        try:
            got = self._act(cmd.action)
        except WasmException:
            return
        self.fail(out, f"{_action_name(cmd.action)}: returned {_values_str(got)}, expected an exception",
                  "no exception")

    def do_AssertExhaustion(self, cmd: "wast.AssertExhaustion", out: Outcome) -> None:
        try:
            got = self._act(cmd.action)
        except Trap as e:
            out.note = _message_note(e, cmd.message)
            return
        self.fail(out, f"{_action_name(cmd.action)}: returned {_values_str(got)}, expected {cmd.message!r}",
                  "no exhaustion")


_EXECUTION_HANDLERS = frozenset(
    name for name in dir(ScriptRun)
    if name.startswith("do_") and name not in ("do_ModuleCommand", "do_AssertMalformed", "do_AssertInvalid")
)


def run_commands(commands: Sequence["wast.Command"], engine: Optional[Engine] = None,
                 timeout: Optional[float] = None,
                 features: CoreFeatures = CoreFeatures.DEFAULT) -> List[Outcome]:
    """Run already-read commands, compiling modules under ``features``;
    ``engine=None`` is compile-only mode."""
    return ScriptRun(engine, timeout, features).run(commands)


def run_file(path: Union["os.PathLike[str]", str], engine: Optional[Engine] = None,
             key: Optional[str] = None, mode: Optional[str] = None,
             timeout: Optional[float] = None,
             features: CoreFeatures = CoreFeatures.DEFAULT) -> FileReport:
    """Run one .wast file command by command; ``engine=None`` means compile-only.

    Modules are compiled (and the engine configured) with ``features``; a command
    running longer than ``timeout`` seconds fails (POSIX main thread only).  A
    script that cannot be read is reported in :attr:`FileReport.error`.

    >>> import pathlib, tempfile
    >>> from pywazero.wast_engine import PywazeroEngine
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = pathlib.Path(d, "t.wast")
    ...     _ = p.write_text('(module (func (export "f") (result i32) (i32.const 7)))'
    ...                      '(assert_return (invoke "f") (i32.const 7))')
    ...     report = run_file(p, PywazeroEngine("interpreter"))
    >>> report.count(PASSED), report.count(FAILED)
    (2, 0)
    """
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
    if engine is not None:
        configure = getattr(engine, "configure", None)
        if configure is not None:
            configure(report.key, features)
        elif hasattr(engine, "script_key"):
            engine.script_key = report.key  # lets an engine follow 1.0 rules in wast-1.0
    report.outcomes = run_commands(commands, engine, timeout, features)
    report.seconds = time.perf_counter() - start
    return report
