"""The command line (``pywazero.cli``) on modules that need no WASI: errors,
exit statuses, --timeout, --fuel, inspect, version, help."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pytest

import pywazero
from pywazero import cli

from ._wasm_bytes import section, uleb

ENGINES = [[], ["--interpreter"]]
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "src")


def run_cli(argv, stdin=b""):
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(argv, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


def run_subprocess(argv, timeout=60):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pywazero"] + argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=timeout)


def write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, str):
        p.write_text(content)
    else:
        p.write_bytes(content)
    return str(p)


def assert_one_line_error(code, err, *needles):
    assert code == 1
    assert err.startswith("pywazero: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err


# -- version and help ------------------------------------------------------------------


def test_version():
    code, out, _ = run_cli(["version"])
    assert code == 0 and out.startswith(f"pywazero {pywazero.__version__} (")


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["inspect", "--help"], ["version", "--help"],
                                  ["compile", "--help"], ["wast", "--help"]])
def test_help(argv):
    code, out, err = run_cli(argv)
    assert code == 0 and out.startswith("usage: pywazero") and not err
    if argv[0] == "run":
        for opt in ("--mount", "--env", "--env-inherit", "--timeout", "--fuel", "--interpreter", "134", "124"):
            assert opt in out


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["run"], ["run", "--env", "=VALUE", "m.wasm"],
                                  ["run", "--timeout", "soon", "m.wasm"], ["run", "--timeout", "-1", "m.wasm"],
                                  ["run", "--fuel", "-1", "m.wasm"], ["run", "--fuel", "1e6", "m.wasm"],
                                  ["run", "--mount", ":/x", "m.wasm"], ["inspect"]])
def test_usage_errors(argv):
    code, out, err = run_cli(argv)
    assert code == 2
    assert "Traceback" not in err


def test_parse_mount():
    assert cli.parse_mount("/a/b") == ("/a/b", "/a/b", False)
    assert cli.parse_mount("/a/b:/data") == ("/a/b", "/data", False)
    assert cli.parse_mount("/a/b:/data:ro") == ("/a/b", "/data", True)
    assert cli.parse_mount("/a/b:ro") == ("/a/b", "/a/b", True)
    assert cli.parse_mount(".:/") == (".", "/", False)
    assert cli.parse_mount("C:\\data:/d:ro") == ("C:\\data", "/d", True)
    assert cli.parse_mount("C:\\data") == ("C:\\data", "C:\\data", False)


# -- run: the module cannot be run -----------------------------------------------------


def test_missing_file(tmp_path):
    code, _, err = run_cli(["run", str(tmp_path / "nope.wasm")])
    assert_one_line_error(code, err, "nope.wasm", "no such file")


def test_directory_as_module(tmp_path):
    code, _, err = run_cli(["run", str(tmp_path)])
    assert_one_line_error(code, err, "directory")


def test_malformed_binary(tmp_path):
    path = write(tmp_path, "bad.wasm", b"\0asm\x01\0\0\0\x01\x05\x01")
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "bad.wasm", "malformed module")


def test_not_wasm_at_all(tmp_path):
    path = write(tmp_path, "hello.wasm", b"#!/bin/sh\necho hi\n")
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "malformed module")


def test_malformed_text(tmp_path):
    path = write(tmp_path, "bad.wat", "(module (func $f (i32.add))")
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "malformed module", "line")


def test_invalid_module(tmp_path):
    path = write(tmp_path, "invalid.wat", '(module (func (export "_start") (i32.add (i32.const 1) (f32.const 2)) drop))')
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "invalid module", "type mismatch")


def test_unknown_import(tmp_path):
    path = write(tmp_path, "imp.wat", '(module (import "env" "missing" (func)) (func (export "_start")))')
    code, _, err = run_cli(["run", path])
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "cannot link" in err and "env" in err and "missing" in err


def test_nothing_to_run(tmp_path):
    path = write(tmp_path, "lib.wat", '(module (func (export "add") (param i32 i32) (result i32) '
                                      'local.get 0 local.get 1 i32.add))')
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "_start")


def test_start_with_parameters(tmp_path):
    path = write(tmp_path, "p.wat", '(module (func (export "_start") (param i32)))')
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "_start", "parameters")


def test_start_not_a_function(tmp_path):
    path = write(tmp_path, "g.wat", '(module (global (export "_start") i32 (i32.const 0)))')
    code, _, err = run_cli(["run", path])
    assert_one_line_error(code, err, "nothing to run")


def test_missing_mount_dir(tmp_path):
    path = write(tmp_path, "ok.wat", '(module (func (export "_start")))')
    code, _, err = run_cli(["run", "--mount", str(tmp_path / "absent") + ":/x", path])
    assert_one_line_error(code, err, "absent")


# -- run: outcomes ----------------------------------------------------------------------

TRAPPING = """
(module $trapper
  (func $inner (export "inner") unreachable)
  (func $outer call $inner)
  (func (export "_start") call $outer))
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_start_returns(engine, tmp_path):
    path = write(tmp_path, "ok.wat", '(module (func (export "_start")))')
    assert run_cli(["run"] + engine + [path]) == (0, "", "")


@pytest.mark.parametrize("engine", ENGINES)
def test_start_section_only(engine, tmp_path):
    path = write(tmp_path, "start.wat", "(module (func $s) (start $s))")
    assert run_cli(["run"] + engine + [path])[0] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_trap(engine, tmp_path):
    path = write(tmp_path, "trap.wat", TRAPPING)
    code, out, err = run_cli(["run"] + engine + [path])
    assert code == cli.EXIT_TRAP == 134
    assert out == ""
    assert err.startswith(f"pywazero: {path}: wasm trap: unreachable\nwasm stack trace:\n")
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) >= 5 and "inner" in lines[2] and "outer" in lines[3], err


@pytest.mark.parametrize("engine", ENGINES)
def test_trap_in_start_section(engine, tmp_path):
    path = write(tmp_path, "t.wat", "(module (func $s unreachable) (start $s))")
    code, _, err = run_cli(["run"] + engine + [path])
    assert code == 134 and "wasm trap: unreachable" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_stack_exhausted(engine, tmp_path):
    path = write(tmp_path, "rec.wat", '(module (func $f (export "_start") call $f))')
    code, _, err = run_cli(["run"] + engine + [path])
    assert code == 134 and "call stack exhausted" in err


def test_timeout_not_reached(tmp_path):
    path = write(tmp_path, "ok.wat", '(module (func (export "_start")))')
    assert run_cli(["run", "--timeout", "30", path]) == (0, "", "")


def test_timeout_trap_in_thread(tmp_path):
    path = write(tmp_path, "trap.wat", TRAPPING)
    code, _, err = run_cli(["run", "--timeout", "30", path])
    assert code == 134 and "unreachable" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_expires(engine, tmp_path):
    path = write(tmp_path, "loop.wat", '(module (func (export "_start") (loop br 0)))')
    p = run_subprocess(["run", "--timeout", "0.5"] + engine + [path])
    assert p.returncode == cli.EXIT_TIMEOUT == 124
    err = p.stderr.decode()
    # the guest was interrupted in-process: its trap is reported like any other
    assert err.startswith(f"pywazero: {path}: wasm trap: interrupted: deadline exceeded")
    assert err.endswith(f"pywazero: {path}: timed out after 0.5 seconds\n")
    assert "Traceback" not in err


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_in_process_leaves_no_thread(engine, tmp_path):
    path = write(tmp_path, "loop.wat", '(module (func (export "_start") (loop br 0)))')
    before = {t for t in threading.enumerate() if t.name != "pywazero-wasm-stack"}
    t0 = time.perf_counter()
    code, out, err = run_cli(["run", "--timeout", "0.2"] + engine + [path])
    assert code == 124 and "deadline exceeded" in err and out == ""
    assert time.perf_counter() - t0 < 5
    # the guest ran here and the timer is joined (the compiler's big-stack worker on
    # CPython < 3.11, kept per thread by design, is not the guest)
    after = {t for t in threading.enumerate() if t.name != "pywazero-wasm-stack"}
    assert after == before


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_in_start_function(engine, tmp_path):
    path = write(tmp_path, "start.wat", '(module (func $s (loop br 0)) (start $s))')
    code, _, err = run_cli(["run", "--timeout", "0.2"] + engine + [path])
    assert code == 124 and "interrupted: deadline exceeded" in err


FUEL_LOOP = """(module (global $n (mut i32) (i32.const 0))
  (func (export "_start") (loop (global.set $n (i32.add (global.get $n) (i32.const 1))) (br 0))))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_runs_out(engine, tmp_path):
    path = write(tmp_path, "loop.wat", FUEL_LOOP)
    code, _, err = run_cli(["run", "--fuel", "1000"] + engine + [path])
    assert code == 134
    assert err.startswith(f"pywazero: {path}: wasm trap: all fuel consumed by WebAssembly")


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_enough(engine, tmp_path):
    # costs 4 (entry 1, three i32.const; drop is free); the only check is at entry, so
    # fuel 2 completes (ending in debt, reported as 0) and fuel 1 traps, as in wasmtime
    path = write(tmp_path, "ok.wat", '(module (func (export "_start") i32.const 1 drop i32.const 2 drop i32.const 3 drop))')
    assert run_cli(["run", "--fuel", "2"] + engine + [path]) == (0, "", "")
    code, _, err = run_cli(["run", "--fuel", "1"] + engine + [path])
    assert code == 134 and "all fuel consumed" in err


def test_subprocess_trap(tmp_path):
    path = write(tmp_path, "trap.wat", TRAPPING)
    p = run_subprocess(["run", path])
    assert p.returncode == 134 and b"wasm stack trace" in p.stderr and b"Traceback" not in p.stderr


def test_subprocess_missing_file(tmp_path):
    p = run_subprocess(["run", str(tmp_path / "x.wasm")])
    assert p.returncode == 1 and p.stderr.count(b"\n") == 1 and b"Traceback" not in p.stderr


def test_subprocess_version():
    p = run_subprocess(["version"])
    assert p.returncode == 0 and p.stdout.startswith(b"pywazero ")


# -- inspect ----------------------------------------------------------------------------

INSPECTED = """
(module $demo
  (import "env" "log" (func $log (param i32 i32)))
  (import "env" "mem" (memory 1 2))
  (import "env" "g" (global i64))
  (table (export "tab") 2 10 funcref)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (func $add (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func $pair (export "pair") (result i32 f64) i32.const 1 f64.const 2)
  (func $init)
  (start $init)
  (export "memory" (memory 0)))
"""


def _custom_section(name: bytes, payload: bytes) -> bytes:
    return section(0, uleb(len(name)) + name + payload)


def test_inspect_text(tmp_path):
    path = write(tmp_path, "demo.wat", INSPECTED)
    code, out, err = run_cli(["inspect", path])
    assert code == 0, err
    assert "module name: demo" in out
    assert "imports (3):\n  env.log: func [i32 i32] -> []\n  env.mem: memory min 1, max 2" in out
    assert "env.g: global i64" in out
    assert "  add: func [i32 i32] -> [i32]\n" in out
    assert "  pair: func [] -> [i32 f64]\n" in out
    assert "  counter: global (mut i32)\n" in out
    assert "  tab: table funcref min 2, max 10\n" in out
    assert "memories (1):\n  0: min 1, max 2 pages (imported)" in out
    assert "tables (1):\n  0: funcref min 2, max 10\n" in out
    assert "globals (2):\n  0: i64 (imported from env.g)\n  1: (mut i32) = 0\n" in out
    assert "functions: 3 defined, 1 imported" in out
    assert "function names (4):\n  0: log\n  1: add\n  2: pair\n  3: init\n" in out
    assert "start function: 3 (init)" in out
    assert "data segments: 0\nelement segments: 0\n" in out
    assert "custom sections: none" in out


def test_inspect_binary_with_custom_sections(tmp_path):
    data = pywazero.wat2wasm('(module (memory (export "memory") 1))')
    data += _custom_section(b"producers", b"\x00") + _custom_section(b"my-data", b"x" * 100)
    path = write(tmp_path, "m.wasm", data)
    code, out, err = run_cli(["inspect", path])
    assert code == 0, err
    assert "custom sections (2):\n  producers: 1 bytes\n  my-data: 100 bytes" in out
    assert "module name: (none)" in out
    assert "imports: none" in out


def test_inspect_errors(tmp_path):
    code, _, err = run_cli(["inspect", str(tmp_path / "none.wasm")])
    assert_one_line_error(code, err, "no such file")
    path = write(tmp_path, "bad.wasm", b"\0asm\x02\0\0\0")
    code, _, err = run_cli(["inspect", path])
    assert_one_line_error(code, err, "malformed module")


@pytest.mark.parametrize("argv, engine", [
    ([], "compiler"), (["--engine", "interpreter"], "interpreter"), (["--engine", "compiler"], "compiler"),
    (["--interpreter"], "interpreter"), (["--interpreter", "--engine", "interpreter"], "interpreter")])
def test_engine_option(tmp_path, monkeypatch, argv, engine):
    seen = []
    real = pywazero.Runtime

    def spy(config=None, *args, **kwargs):
        seen.append(config.engine)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(pywazero, "Runtime", spy)
    mod = write(tmp_path, "m.wat", '(module (func (export "_start")))')
    assert run_cli(["run"] + argv + [mod]) == (0, "", "")
    assert seen == [engine]


def test_engine_option_errors(tmp_path):
    mod = write(tmp_path, "m.wat", '(module (func (export "_start")))')
    code, _, err = run_cli(["run", "--engine", "jit", mod])
    assert code == 2 and "invalid choice: 'jit'" in err
    code, _, err = run_cli(["run", "--interpreter", "--engine", "compiler", mod])
    assert code == 1 and err == "pywazero: error: --interpreter contradicts --engine compiler\n"
