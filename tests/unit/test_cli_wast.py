"""``pywazero wast FILE...``: spec scripts run through the package's runner on both
engines; per-file counts, failures with their lines, --features, exit statuses."""
from __future__ import annotations

import argparse

import pytest

from pywazero import cli
from pywazero.wasm.features import CoreFeatures

from .test_cli import ENGINES, run_cli, write

GOOD = """;; 7 commands, all passing
(module $lib
  (import "spectest" "global_i32" (global $g i32))
  (func (export "base") (result i32) (global.get $g))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))
(register "lib" $lib)
(module
  (import "lib" "base" (func $base (result i32)))
  (func (export "plus") (param i32) (result i32) (i32.add (call $base) (local.get 0))))
(assert_return (invoke "plus" (i32.const 1)) (i32.const 667))
(assert_trap (invoke $lib "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
(assert_malformed (module quote "(func (i32.const))") "unexpected token")
"""

BAD = """(module (func (export "f") (result i32) (i32.const 1)))
(assert_return (invoke "f") (i32.const 1))
(assert_return (invoke "f") (i32.const 2))
(assert_trap (invoke "f") "unreachable")
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_all_pass(engine, tmp_path):
    path = write(tmp_path, "good.wast", GOOD)
    code, out, err = run_cli(["wast"] + engine + [path])
    assert (code, err) == (0, "")
    assert out == f"{path}: 7 passed, 0 failed, 0 skipped\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_failures_are_listed_with_lines(engine, tmp_path):
    good = write(tmp_path, "good.wast", GOOD)
    bad = write(tmp_path, "bad.wast", BAD)
    code, out, err = run_cli(["wast"] + engine + [bad, good])
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{bad}: 2 passed, 2 failed, 0 skipped"
    assert lines[1].startswith(f"  {bad}:3: assert_return: f: got [(i32.const 0x00000001)]")
    assert lines[2].startswith(f"  {bad}:4: assert_trap: f: returned")
    assert lines[3] == f"{good}: 7 passed, 0 failed, 0 skipped"    # later files still run


def test_quiet_and_verbose(tmp_path):
    many = write(tmp_path, "many.wast", "(module (func (export \"f\")))\n"
                 + "(assert_trap (invoke \"f\") \"unreachable\")\n" * 12)
    code, out, _ = run_cli(["wast", "-q", many])
    assert code == 1 and out == f"{many}: 1 passed, 12 failed, 0 skipped\n"
    code, out, _ = run_cli(["wast", many])
    assert out.count("assert_trap") == 10 and out.endswith("  ... and 2 more failures (--verbose lists all)\n")
    code, out, _ = run_cli(["wast", "--verbose", many])
    assert out.count("assert_trap") == 12 and "more failures" not in out
    code, _, err = run_cli(["wast", "-q", "-v", many])
    assert code == 2 and "not allowed with" in err


def test_unreadable_scripts(tmp_path):
    broken = write(tmp_path, "broken.wast", "(module)\n(bogus)\n")
    good = write(tmp_path, "good.wast", GOOD)
    missing = str(tmp_path / "missing.wast")
    code, out, err = run_cli(["wast", broken, missing, str(tmp_path), good])
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith(f"{broken}: cannot read: ") and "bogus" in lines[0] and "line 2" in lines[0]
    assert lines[1] == f"{missing}: cannot read: no such file"
    assert lines[2] == f"{tmp_path}: cannot read: is a directory"
    assert lines[3] == f"{good}: 7 passed, 0 failed, 0 skipped"


TAIL = """(module (func $f (export "f") (param i32) (result i32)
  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 9))
    (else (return_call $f (i32.sub (local.get 0) (i32.const 1)))))))
(assert_return (invoke "f" (i32.const 3)) (i32.const 9))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_features(engine, tmp_path):
    path = write(tmp_path, "tail.wast", TAIL)
    assert run_cli(["wast"] + engine + [path])[0] == 0                       # default: 3.0
    code, out, _ = run_cli(["wast"] + engine + ["--features", "v2", path])
    assert code == 1 and "1 failed" not in out and "0 passed, 2 failed" in out
    assert "requires the tail-call feature" in out
    assert run_cli(["wast"] + engine + ["--features", "v2,+tail-call", path])[0] == 0
    assert run_cli(["wast"] + engine + ["--features=-tail-call", path])[0] == 1


@pytest.mark.parametrize("spec, want", [
    ("v1", CoreFeatures.V1), ("v2", CoreFeatures.V2), ("v3", CoreFeatures.V3), ("all", CoreFeatures.ALL),
    ("default", CoreFeatures.DEFAULT), ("v2,tail-call", CoreFeatures.V2 | CoreFeatures.TAIL_CALL),
    ("V2, +GC", CoreFeatures.V2 | CoreFeatures.GC),
    ("-simd", CoreFeatures.V3 & ~CoreFeatures.SIMD),
    ("v3,+legacy-exceptions,-exceptions",
     (CoreFeatures.V3 | CoreFeatures.LEGACY_EXCEPTIONS) & ~CoreFeatures.EXCEPTIONS),
])
def test_parse_features(spec, want):
    assert cli.parse_features(spec) == want


@pytest.mark.parametrize("spec", ["", "v4", "+nothing", "simd,bogus"])
def test_parse_features_errors(spec, tmp_path):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid features"):
        cli.parse_features(spec)
    code, _, err = run_cli(["wast", "--features=" + spec, write(tmp_path, "t.wast", "(module)")])
    assert code == 2 and "invalid features" in err and "Traceback" not in err


def test_usage(tmp_path):
    code, _, err = run_cli(["wast"])
    assert code == 2 and "FILE" in err
    path = write(tmp_path, "t.wast", "(module)")
    code, _, err = run_cli(["wast", "--engine", "jit", path])
    assert code == 2 and "invalid choice" in err
    code, out, _ = run_cli(["wast", "--help"])
    assert code == 0 and "--features" in out and "--engine" in out


@pytest.mark.parametrize("engine", ENGINES)
def test_a_spec_script(engine):
    from tests.spec import runner as spec_runner

    path = spec_runner.spec_dir() / "wast-2.0" / "i32.wast"
    if not path.is_file():
        pytest.skip(f"the spec tests are not at {spec_runner.spec_dir()} (set PYWAZERO_SPEC_DIR)")
    code, out, err = run_cli(["wast"] + engine + [str(path)])
    assert (code, err) == (0, "")
    passed = int(out.split(": ")[1].split()[0])
    assert passed > 400 and out.endswith(" passed, 0 failed, 0 skipped\n")


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_per_command(engine, tmp_path):
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no interval timers on this platform")
    path = write(tmp_path, "spin.wast", '(module (func (export "spin") (loop (br 0))))\n'
                                        '(invoke "spin")\n'
                                        '(assert_return (invoke "spin"))\n')
    code, out, _ = run_cli(["wast"] + engine + ["--timeout", "200ms", path])
    assert code == 1
    assert out.splitlines() == [f"{path}: 1 passed, 2 failed, 0 skipped",
                                f"  {path}:2: invoke: timed out after 0.2 s",
                                f"  {path}:3: assert_return: timed out after 0.2 s"]
