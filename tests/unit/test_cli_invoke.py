"""``pywazero run --invoke FUNC [ARGS...]`` on both engines: typed arguments,
results one per line, reactors, errors and exit statuses."""
from __future__ import annotations

import math
import struct

import pytest

from pywazero import cli
from pywazero.cli_values import ValueSyntaxError, format_value, parse_value
from pywazero.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128

from .test_cli import ENGINES, assert_one_line_error, run_cli, write

MATH = """(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64) (i64.add (local.get 0) (local.get 1)))
  (func (export "fdiv") (param f64 f64) (result f64) (f64.div (local.get 0) (local.get 1)))
  (func (export "fmul32") (param f32 f32) (result f32) (f32.mul (local.get 0) (local.get 1)))
  (func (export "bits32") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "bits64") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "three") (result i32 i64 f64) (i32.const -7) (i64.const 0x7fffffffffffffff) (f64.const 0.5))
  (func (export "nothing"))
  (func (export "boom") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "vec") (param v128))
  (func (export "ref") (param externref))
  (func (export "ret_vec") (result v128) (v128.const i32x4 1 2 3 4))
  (func (export "ret_null") (result funcref) (ref.null func))
  (func (export "_start") unreachable))
"""


@pytest.fixture
def math_wat(tmp_path):
    return write(tmp_path, "math.wat", MATH)


def invoke(path, func, *args, engine=()):
    return run_cli(["run", *engine, "--invoke", func, path, *args])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("func, args, want", [
    ("add", ["2", "40"], "42"),
    ("add", ["-1", "0x10"], "15"),
    ("add", ["4294967295", "1"], "0"),          # unsigned range, wraps
    ("add", ["0x7fffffff", "1"], "-2147483648"),  # printed signed
    ("add", ["+3", "-0"], "3"),
    ("add64", ["-9223372036854775808", "0xffffffffffffffff"], "9223372036854775807"),
    ("fdiv", ["1", "4"], "0.25"),
    ("fdiv", ["1", "-0"], "-inf"),
    ("fdiv", ["0", "0"], "NAN"),                 # (a NaN's sign is not specified)
    ("fdiv", ["0x1.8p3", "2"], "6.0"),
    ("fdiv", ["-inf", "2"], "-inf"),
    ("fdiv", ["1e-3", "1"], "0.001"),
    ("fmul32", ["0.1", "1"], "0.1"),
    ("fmul32", ["3", "0.5"], "1.5"),
    ("fmul32", ["-0", "1"], "-0.0"),
    ("fmul32", ["inf", "0"], "NAN"),
    ("three", [], "-7\n9223372036854775807\n0.5"),
])
def test_results(engine, math_wat, func, args, want):
    code, out, err = invoke(math_wat, func, *args, engine=engine)
    assert (code, err) == (0, "")
    if want == "NAN":
        assert out in ("nan\n", "-nan\n")
    else:
        assert out == want + "\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_float_arguments_arrive_as_their_bits(engine, math_wat):
    # -0 keeps its sign, 0.1 rounds to the nearest single, nan is the canonical NaN
    for text, bits in [("-0", 0x80000000), ("0.1", struct.unpack("<I", struct.pack("<f", 0.1))[0]),
                       ("nan", 0x7FC00000), ("inf", 0x7F800000)]:
        code, out, _ = invoke(math_wat, "bits32", text, engine=engine)
        assert code == 0 and int(out) & 0xFFFFFFFF == bits, text
    code, out, _ = invoke(math_wat, "bits64", "-0", engine=engine)
    assert int(out) & (2 ** 64 - 1) == 1 << 63


@pytest.mark.parametrize("engine", ENGINES)
def test_no_results_prints_nothing_and_start_not_called(engine, math_wat):
    # _start traps (unreachable): invoking another function must not call it
    assert invoke(math_wat, "nothing", engine=engine) == (0, "", "")


def test_ref_and_vector_results(math_wat):
    assert invoke(math_wat, "ret_vec") == (0, "0x00000004000000030000000200000001\n", "")
    assert invoke(math_wat, "ret_null") == (0, "null\n", "")


@pytest.mark.parametrize("engine", ENGINES)
def test_trap_in_invoked_function(engine, math_wat):
    code, out, err = invoke(math_wat, "boom", "0", engine=engine)
    assert code == cli.EXIT_TRAP and out == ""
    assert "wasm trap: integer divide by zero" in err and "boom" in err


@pytest.mark.parametrize("args, needle", [
    (["add", "1"], "expected 2 arguments ([i32 i32] -> [i32]), got 1"),
    (["add", "1", "2", "3"], "expected 2 arguments"),
    (["nothing", "1"], "expected 0 arguments"),
    (["add", "1", "4294967296"], "argument 2: '4294967296' does not fit in i32"),
    (["add", "-2147483649", "0"], "does not fit in i32"),
    (["add64", "18446744073709551616", "0"], "does not fit in i64"),
    (["add", "1.5", "0"], "argument 1: '1.5' is not an i32"),
    (["add", "0x", "0"], "is not an i32"),
    (["add", "", "0"], "is not an i32"),
    (["add", "1_000", "0"], "is not an i32"),
    (["fdiv", "abc", "1"], "argument 1: 'abc' is not an f64"),
    (["fdiv", "1", " 2"], "is not an f64"),
    (["fmul32", "1e39", "1"], "'1e39' is out of range for f32"),
    (["vec", "0"], "v128 value (v128) cannot be given on the command line"),
    (["ref", "0"], "reference value (externref) cannot be given on the command line"),
])
def test_bad_arguments_exit_2(math_wat, args, needle):
    func, *rest = args
    code, out, err = invoke(math_wat, func, *rest)
    assert code == cli.EXIT_USAGE and out == ""
    assert err.startswith(f"pywazero: error: --invoke {func}: ") and err.count("\n") == 1, err
    assert needle in err


def test_bad_arguments_checked_before_anything_runs(tmp_path):
    # the start function would trap: a usage error must come first
    path = write(tmp_path, "m.wat", '(module (func $s unreachable) (start $s)'
                                    ' (func (export "f") (param i32)))')
    code, _, err = invoke(path, "f", "x")
    assert code == cli.EXIT_USAGE and "is not an i32" in err


def test_unknown_function(math_wat):
    code, _, err = invoke(math_wat, "nope")
    assert_one_line_error(code, err, "no exported function 'nope' to invoke", "'add'")


def test_export_that_is_not_a_function(tmp_path):
    path = write(tmp_path, "m.wat", '(module (memory (export "mem") 1))')
    code, _, err = invoke(path, "mem")
    assert_one_line_error(code, err, "no exported function 'mem'", "it exports no functions")


@pytest.mark.parametrize("engine", ENGINES)
def test_module_without_start_or_wasi(engine, tmp_path):
    path = write(tmp_path, "lib.wat", '(module (func (export "answer") (result i32) (i32.const 42)))')
    assert invoke(path, "answer", engine=engine) == (0, "42\n", "")
    # without --invoke such a module has nothing to run
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "nothing to run")


@pytest.mark.parametrize("engine", ENGINES)
def test_start_function_runs_before_invoke(engine, tmp_path):
    path = write(tmp_path, "m.wat", """(module (global $g (mut i32) (i32.const 1))
      (func $s (global.set $g (i32.const 5))) (start $s)
      (func (export "g") (result i32) (global.get $g)))""")
    assert invoke(path, "g", engine=engine) == (0, "5\n", "")


REACTOR = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ready\\n")
  (global $ready (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $ready (i32.const 1)))
  (func (export "ready") (result i32) (global.get $ready))
  (func (export "hello") (result i32)
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.get $ready))
  (func (export "quit") (param i32) (call $exit (local.get 0))))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_wasi_reactor_initialized_then_invoked(engine, tmp_path):
    path = write(tmp_path, "reactor.wat", REACTOR)
    assert invoke(path, "ready", engine=engine) == (0, "1\n", "")
    # the guest's own output and the result share stdout, in order
    assert invoke(path, "hello", engine=engine) == (0, "ready\n1\n", "")


@pytest.mark.parametrize("engine", ENGINES)
def test_invoked_function_exits(engine, tmp_path):
    path = write(tmp_path, "reactor.wat", REACTOR)
    assert invoke(path, "quit", "3", engine=engine) == (3, "", "")


def test_negative_argument_after_module_is_not_an_option(math_wat):
    assert run_cli(["run", "--invoke", "add", math_wat, "-5", "-6"]) == (0, "-11\n", "")


def test_help_mentions_invoke():
    code, out, _ = run_cli(["run", "--help"])
    assert code == 0 and "--invoke FUNC" in out


# -- the value syntax itself ---------------------------------------------------------------


@pytest.mark.parametrize("t, text, raw", [
    (I32, "0", 0), (I32, "-1", 0xFFFFFFFF), (I32, "0XFF", 255), (I32, "-0x80000000", 0x80000000),
    (I64, "-1", 2 ** 64 - 1), (I64, "18446744073709551615", 2 ** 64 - 1),
    (F64, "1.5", 1.5), (F64, "-0", -0.0), (F64, "infinity", math.inf), (F64, "-0x1p-2", -0.25),
])
def test_parse_value(t, text, raw):
    got = parse_value(text, t)
    assert got == raw and math.copysign(1, got) == math.copysign(1, raw)


@pytest.mark.parametrize("t", [V128, FUNCREF, EXTERNREF])
def test_parse_value_refuses_unwritable_types(t):
    with pytest.raises(ValueSyntaxError, match="cannot be given on the command line"):
        parse_value("0", t)


@pytest.mark.parametrize("t, text", [(F32, "0.1"), (F32, "3.4028234663852886e+38"), (F32, "1e-45"),
                                     (F64, "0.1"), (F64, "-2.5e-300"), (I32, "-5"), (I64, "123")])
def test_format_reads_back(t, text):
    raw = parse_value(text, t)
    assert parse_value(format_value(t, raw), t) == raw


@pytest.mark.parametrize("engine", ENGINES)
def test_invoke_with_trace_and_timeout(engine, math_wat, tmp_path):
    code, out, err = run_cli(["run"] + engine + ["--trace", "--invoke", "add", math_wat, "2", "3"])
    assert (code, out) == (0, "5\n")
    assert "add(2, 3)" in err
    loop = write(tmp_path, "loop.wat", '(module (func (export "spin") (param i32) (loop (br 0))))')
    code, out, err = run_cli(["run"] + engine + ["--timeout", "100ms", "--invoke", "spin", loop, "1"])
    assert code == cli.EXIT_TIMEOUT and out == "" and "timed out" in err


def test_invoke_with_fuel(math_wat, tmp_path):
    loop = write(tmp_path, "loop.wat", '(module (func (export "spin") (loop (br 0))))')
    code, _, err = run_cli(["run", "--fuel", "1000", "--invoke", "spin", loop])
    assert code == cli.EXIT_TRAP and "fuel" in err
    assert run_cli(["run", "--fuel", "1000", "--invoke", "add", math_wat, "1", "1"]) == (0, "2\n", "")
