"""Tests of the spec runner itself: classification, the engine hook, the ratchet file."""
from __future__ import annotations

import json
import sys

import pytest

from pywazero.errors import LinkError, Trap
from pywazero.script import wast
from pywazero.script.wast import Value
from pywazero.wasm.types import F32, I32

from . import runner

FAILED, PASSED, SKIPPED = runner.FAILED, runner.PASSED, runner.SKIPPED


def run(text, engine=None):
    return runner.run_commands(wast.read_script(text), engine)


def statuses(outcomes):
    return [(o.kind, o.status) for o in outcomes]


def test_compile_only_classification():
    out = run(
        '(module (func (result i32) (i32.const 1)))\n'
        '(module (func (result i32) (i64.const 1)))\n'                       # invalid
        '(assert_malformed (module quote "(func") "unexpected end")\n'
        '(assert_malformed (module quote "(func)") "should fail")\n'          # accepted
        '(assert_invalid (module (func (result i32))) "type mismatch")\n'
        '(assert_invalid (module (func)) "nothing wrong")\n'                   # accepted
        '(assert_invalid (module quote "(func") "x")\n'                        # DecodeError
        '(assert_return (invoke "f") (i32.const 1))\n'
        '(assert_trap (module (func $s unreachable) (start $s)) "unreachable")\n'
        '(register "m")\n'
    )
    assert statuses(out) == [
        ("module", PASSED), ("module", FAILED),
        ("assert_malformed", PASSED), ("assert_malformed", FAILED),
        ("assert_invalid", PASSED), ("assert_invalid", FAILED), ("assert_invalid", FAILED),
        ("assert_return", SKIPPED), ("assert_trap", SKIPPED), ("register", SKIPPED),
    ]
    assert [o.line for o in out] == list(range(1, 11))
    assert out[1].reason.startswith("ValidationError")
    assert "DecodeError instead of ValidationError" in out[6].group
    assert out[7].reason == runner.NEEDS_EXECUTION
    assert [o.form for o in out[:3]] == ["text", "text", "quote"]
    assert out[8].category == "assert_trap/text" and out[7].category == "assert_return"


def test_binary_modules():
    out = run('(module binary "\\00asm\\01\\00\\00\\00")\n'
              '(assert_malformed (module binary "\\00asm") "unexpected end")\n'
              '(module binary "\\00asm\\02\\00\\00\\00")\n')
    assert statuses(out) == [("module", PASSED), ("assert_malformed", PASSED), ("module", FAILED)]
    assert out[2].reason.startswith("DecodeError")


def test_missing_component_is_a_failure_not_a_crash(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywazero.wasm.validation", None)  # import fails
    out = run("(module)\n(assert_invalid (module (func (result i32))) \"type mismatch\")")
    assert statuses(out) == [("module", FAILED), ("assert_invalid", FAILED)]
    assert out[0].reason.startswith("component missing: ")


def test_crash_is_reported_with_location(monkeypatch):
    def boom(self, *args, **kwargs):
        raise IndexError("oops")
    monkeypatch.setattr(wast.ModuleCommand, "parse", boom)
    (o,) = run("(module)")
    assert o.status == FAILED
    assert o.reason.startswith("crash: IndexError: oops (")
    assert o.group.startswith("crash: IndexError at ")


def test_timeout(monkeypatch):
    import time

    def slow(self, *args, **kwargs):
        time.sleep(5)
    monkeypatch.setattr(wast.ModuleCommand, "parse", slow)
    (o,) = runner.run_commands(wast.read_script("(module)"), None, timeout=0.2)
    assert o.status == FAILED and o.group == "timeout"


def test_passed_lines_need_every_command_on_the_line():
    out = run('(module) (module (func (result i32)))\n(module)')
    report = runner.FileReport("k", "compile-only", out)
    assert report.passed_lines() == [2]
    regs = runner.regressions(report, [1, 2])
    assert [line for line, _ in regs] == [1]
    text = runner.format_regressions(report, regs)
    assert "k:1: module/text failed: ValidationError" in text


def test_script_error_is_reported(tmp_path):
    p = tmp_path / "bad.wast"
    p.write_text("(module)\n(bogus)\n")
    report = runner.run_file(p)
    assert report.error and "bogus" in report.error and "line 2" in report.error
    assert report.outcomes == []


def test_dump_expected_is_valid_sorted_json():
    data = {"b-mode": {"z.wast": [5, 3, 3], "a.wast": []},
            "a-mode": {"x.wast": list(range(1, 450, 7))}}
    text = runner.dump_expected(data)
    loaded = json.loads(text)
    assert loaded == {"a-mode": {"x.wast": list(range(1, 450, 7))},
                      "b-mode": {"a.wast": [], "z.wast": [3, 5]}}
    assert text.index('"a-mode"') < text.index('"b-mode"')
    assert text.index('"a.wast"') < text.index('"z.wast"')
    # one JSON line per 200 source lines
    bucket_lines = [ln for ln in text.splitlines() if ln.startswith("      ")]
    assert len(bucket_lines) == 4  # x.wast: 0-199, 200-399, 400-449; z.wast: one
    assert runner.dump_expected(loaded) == text


def test_main_update_never_drops_silently(tmp_path, monkeypatch):
    spec = tmp_path / "spec"
    (spec / "wast-2.0").mkdir(parents=True)
    (spec / "wast-2.0" / "t.wast").write_text("(module)\n(module (func (result i32)))\n(module)\n")
    monkeypatch.setenv("PYWAZERO_SPEC_DIR", str(spec))
    exp = tmp_path / "expected.json"
    exp.write_text(json.dumps({"compile-only": {"wast-2.0/t.wast": [2]}}))
    args = ["--expected", str(exp), "-j", "1", "--reasons", "0"]
    assert runner.main(args) == 1                      # line 2 regressed
    assert runner.main(args + ["--update"]) == 1       # still failing, but 1 and 3 recorded
    assert json.loads(exp.read_text())["compile-only"]["wast-2.0/t.wast"] == [1, 2, 3]
    assert runner.main(args + ["--update", "--allow-regressions"]) == 0
    assert json.loads(exp.read_text())["compile-only"]["wast-2.0/t.wast"] == [1, 3]
    assert runner.main(args) == 0


# --- the engine hook -------------------------------------------------------------------------

class FakeEngine(runner.Engine):
    """Instances are dicts of export name -> callable(args) or Value; the module's text
    decides the behaviour through a table keyed by the module command's line."""

    name = "fake"

    def __init__(self, behaviours):
        self.behaviours = behaviours
        self.registered = {}
        self.started = 0

    def start_script(self):
        self.started += 1

    def instantiate(self, module, command):
        b = self.behaviours.get(command.line, {})
        if isinstance(b, Exception):
            raise b
        return b

    def register(self, name, instance):
        self.registered[name] = instance

    def invoke(self, instance, name, args):
        return instance[name](args)

    def get(self, instance, name):
        return instance[name]


def trap(msg):
    def f(args):
        raise Trap(msg)
    return f


def test_engine_hook():
    script = (
        '(module $A)\n'                                                      # 1
        '(register "a" $A)\n'                                                # 2
        '(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))\n'  # 3
        '(assert_return (invoke "add" (i32.const 1) (i32.const 1)) (i32.const 3))\n'  # 4 wrong
        '(assert_return (get "g") (i32.const 7))\n'                          # 5
        '(assert_return (invoke "nan") (f32.const nan:canonical))\n'         # 6
        '(assert_return_arithmetic_nan (invoke "nan"))\n'                    # 7
        '(assert_trap (invoke "div0") "integer divide by zero")\n'           # 8
        '(assert_trap (invoke "add" (i32.const 0) (i32.const 0)) "x")\n'     # 9 no trap
        '(assert_exhaustion (invoke "deep") "call stack exhausted")\n'       # 10
        '(assert_unlinkable (module) "unknown import")\n'                    # 11
        '(assert_trap (module) "unreachable")\n'                             # 12
        '(assert_uninstantiable (module) "unreachable")\n'                   # 13 instantiates
        '(module $B)\n'                                                      # 14
        '(invoke $A "div0")\n'                                               # 15 traps
        '(assert_return (invoke $B "add"))\n'                                # 16 no such export
        '(assert_return (invoke $C "add"))\n'                                # 17 unknown module
        '(module (func (result i32)))\n'                                     # 18 invalid
        '(assert_return (invoke "add"))\n'                                   # 19 no current
    )
    a = {
        "add": lambda args: [Value(I32, (args[0].bits + args[1].bits) & 0xFFFFFFFF)],
        "g": Value(I32, 7),
        "nan": lambda args: [Value(F32, 0x7FC00000)],
        "div0": trap("integer divide by zero"),
        "deep": trap("call stack exhausted"),
    }
    engine = FakeEngine({1: a, 11: LinkError("unknown import"), 12: Trap("unreachable"), 14: {}})
    out = run(script, engine)
    assert engine.started == 1
    assert engine.registered == {"a": a}
    want = [PASSED, PASSED, PASSED, FAILED, PASSED, PASSED, PASSED, PASSED, FAILED, PASSED,
            PASSED, PASSED, FAILED, PASSED, FAILED, FAILED, FAILED, FAILED, FAILED]
    assert [(o.line, o.status) for o in out] == list(zip(range(1, 20), want))
    assert "got [(i32.const 0x00000002)], expected [(i32.const 0x00000003)]" in out[3].reason
    assert out[14].reason.startswith("Trap: integer divide by zero")
    assert "unknown module $C" in out[16].reason
    assert "no current module" in out[18].reason
    assert out[7].note == ""


def test_engine_message_mismatch_is_a_note():
    engine = FakeEngine({1: {"f": trap("integer overflow")}})
    out = run('(module)\n(assert_trap (invoke "f") "integer divide by zero")', engine)
    assert out[1].status == PASSED
    assert "integer overflow" in out[1].note


def test_modes_registry():
    assert runner.ENGINES[runner.COMPILE_ONLY] is None
    assert runner.make_engine(runner.COMPILE_ONLY) is None
    with pytest.raises(ValueError):
        runner.make_engine("no-such-engine")


# --- core features per spec directory ----------------------------------------------------------

def test_features_for_spec_dirs():
    from pywazero.wasm.features import CoreFeatures

    assert runner.features_for("wast-1.0/func.wast") == CoreFeatures.V1
    assert runner.features_for("wast-2.0/func.wast") == CoreFeatures.V2
    assert runner.features_for("wast-2.0/simd/simd_lane.wast") == CoreFeatures.V2
    assert runner.features_for("wast-3.0/call_ref.wast") == CoreFeatures.V3
    assert runner.features_for("wast-3.0/gc/i31.wast") == CoreFeatures.V3
    assert CoreFeatures.LEGACY_EXCEPTIONS in runner.features_for("wast-3.0-legacy-exceptions/try_catch.wast")
    assert CoreFeatures.LEGACY_EXCEPTIONS not in runner.features_for("wast-3.0/exceptions/throw.wast")


def test_compile_only_uses_the_features():
    from pywazero.wasm.features import CoreFeatures

    script = ('(assert_invalid (module (func (result i32 i32) unreachable)) "invalid result arity")\n'
              '(module binary "\\00asm\\01\\00\\00\\00" "\\0c\\01\\00")\n')   # data count section
    assert statuses(run(script)) == [("assert_invalid", FAILED), ("module", PASSED)]
    out = runner.run_commands(wast.read_script(script), features=CoreFeatures.V1)
    assert statuses(out) == [("assert_invalid", PASSED), ("module", FAILED)]
    assert "malformed section id" in out[1].reason


def test_run_file_configures_the_engine(tmp_path):
    from pywazero.wasm.features import CoreFeatures

    (tmp_path / "wast-1.0").mkdir()
    p = tmp_path / "wast-1.0" / "t.wast"
    p.write_text("(module (func (result i32 i32) unreachable))\n(module)\n")
    engine = FakeEngine({2: {}})
    report = runner.run_file(p, engine, key="wast-1.0/t.wast")
    assert (engine.script_key, engine.features, engine.started) == ("wast-1.0/t.wast", CoreFeatures.V1, 1)
    assert [o.status for o in report.outcomes] == [FAILED, PASSED]
    report = runner.run_file(p, engine, key="wast-2.0/t.wast")
    assert engine.features == CoreFeatures.V2
    assert [o.status for o in report.outcomes] == [PASSED, PASSED]

    class DuckEngine:  # not an Engine subclass, no configure(): still runs
        name = "duck"
        script_key = ""

        def start_script(self):
            pass

        def instantiate(self, module, command):
            return {}

    duck = DuckEngine()
    report = runner.run_file(p, duck, key="wast-1.0/t.wast")
    assert duck.script_key == "wast-1.0/t.wast"
    assert [o.status for o in report.outcomes] == [FAILED, PASSED]


def test_module_definitions_and_instances():
    """(module definition ...) compiles without instantiating; every
    (module instance ...) of it is a new instance (3.0 scripts)."""
    from .engines import PywazeroEngine

    script = (
        '(module definition $M (global (export "g") (mut i32) (i32.const 0))\n'
        '  (func (export "inc") (result i32) (global.set 0 (i32.add (global.get 0) (i32.const 1))) (global.get 0)))\n'
        '(module instance $I1 $M)\n'
        '(module instance $I2 $M)\n'
        '(assert_return (invoke $I1 "inc") (i32.const 1))\n'
        '(assert_return (invoke $I1 "inc") (i32.const 2))\n'
        '(assert_return (invoke $I2 "inc") (i32.const 1))\n'
        '(assert_return (invoke "inc") (i32.const 2))\n'          # current: the last instance
        '(module definition (import "nope" "f" (func)))\n'        # never linked
        '(module instance $I3)\n'                                  # the last definition
        '(module instance $I4 $nope)\n'
    )
    for engine in (None, PywazeroEngine("interpreter")):
        out = run(script, engine)
        kinds = [(o.kind, o.status) for o in out]
        if engine is None:
            assert kinds == [("module", PASSED)] + [("module instance", SKIPPED)] * 2 \
                + [("assert_return", SKIPPED)] * 4 + [("module", PASSED)] \
                + [("module instance", SKIPPED)] * 2
            continue
        assert kinds[:8] == [("module", PASSED)] + [("module instance", PASSED)] * 2 \
            + [("assert_return", PASSED)] * 4 + [("module", PASSED)], out
        # the import cannot be satisfied; $nope is unknown
        assert [o.status for o in out[8:]] == [FAILED, FAILED]
        assert "unknown module definition $nope" in out[9].reason
