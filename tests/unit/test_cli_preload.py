"""``pywazero run --preload NAME=MODULE``: other modules satisfy the main module's
imports (both engines), WASI in preloads, order, errors."""
from __future__ import annotations

import pytest

from pywazero import cli

from .test_cli import ENGINES, assert_one_line_error, run_cli, write

LIB = """(module
  (global (export "base") i32 (i32.const 100))
  (memory (export "memory") 1)
  (func (export "square") (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "peek") (param i32) (result i32) (i32.load8_u (local.get 0))))"""

APP = """(module
  (import "math" "square" (func $sq (param i32) (result i32)))
  (import "math" "base" (global $base i32))
  (import "math" "memory" (memory 1))
  (import "math" "peek" (func $peek (param i32) (result i32)))
  (func (export "f") (param i32) (result i32) (i32.add (call $sq (local.get 0)) (global.get $base)))
  (func (export "shared") (result i32)
    ;; written through the imported memory, read back by the library's own code
    (i32.store8 (i32.const 9) (i32.const 77)) (call $peek (i32.const 9))))"""


@pytest.fixture
def files(tmp_path):
    return write(tmp_path, "lib.wat", LIB), write(tmp_path, "app.wat", APP), tmp_path


@pytest.mark.parametrize("engine", ENGINES)
def test_preload_satisfies_imports(engine, files):
    lib, app, _ = files
    argv = ["run"] + engine + ["--preload", f"math={lib}", "--invoke"]
    assert run_cli(argv + ["f", app, "7"]) == (0, "149\n", "")
    assert run_cli(argv + ["shared", app]) == (0, "77\n", "")


def test_without_preload_the_import_is_unknown(files):
    _, app, _ = files
    code, _, err = run_cli(["run", "--invoke", "f", app, "7"])
    assert code == 1 and "cannot link: unknown import: 'math'.'square'" in err and app in err


@pytest.mark.parametrize("engine", ENGINES)
def test_preloads_chain_in_order(engine, tmp_path):
    base = write(tmp_path, "base.wat", '(module (func (export "one") (result i32) (i32.const 1)))')
    mid = write(tmp_path, "mid.wat", '(module (import "base" "one" (func $one (result i32)))'
                                     ' (func (export "two") (result i32) (i32.add (call $one) (call $one))))')
    top = write(tmp_path, "top.wat", '(module (import "mid" "two" (func $two (result i32)))'
                                     ' (import "base" "one" (func $one (result i32)))'
                                     ' (func (export "three") (result i32) (i32.add (call $two) (call $one))))')
    argv = ["run"] + engine + ["--preload", f"base={base}", "--preload", f"mid={mid}"]
    assert run_cli(argv + ["--invoke", "three", top]) == (0, "3\n", "")
    # the other way round, mid cannot see base yet
    code, _, err = run_cli(["run", "--preload", f"mid={mid}", "--preload", f"base={base}",
                            "--invoke", "three", top])
    assert code == 1 and f"pywazero: {mid}: cannot link: unknown import: 'base'.'one'" in err


SAY = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory 1)
  (data (i32.const 16) "from the preload\\n")
  (global $calls (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $calls (i32.const 10)))
  (func (export "say") (result i32)
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls)))"""

MAIN = """(module
  (import "speaker" "say" (func $say (result i32)))
  (func (export "_start") (drop (call $say)) (drop (call $say)))
  (func (export "twice") (result i32) (drop (call $say)) (call $say)))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_preload_uses_wasi_main_does_not(engine, tmp_path):
    say = write(tmp_path, "say.wat", SAY)
    main = write(tmp_path, "main.wat", MAIN)
    code, out, err = run_cli(["run"] + engine + ["--preload", f"speaker={say}", main])
    assert (code, err) == (0, "") and out == "from the preload\n" * 2
    # the preload's _initialize ran once, before the main module called it
    code, out, err = run_cli(["run"] + engine + ["--preload", f"speaker={say}", "--invoke", "twice", main])
    assert (code, err) == (0, "") and out == "from the preload\n" * 2 + "12\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_trap_in_preload_start_names_the_preload(engine, tmp_path):
    bad = write(tmp_path, "bad.wat", '(module (func $s unreachable) (start $s))')
    main = write(tmp_path, "main.wat", '(module (func (export "_start")))')
    code, _, err = run_cli(["run"] + engine + ["--preload", f"x={bad}", main])
    assert code == cli.EXIT_TRAP and err.startswith(f"pywazero: {bad}: wasm trap: unreachable")


def test_preload_start_export_is_not_run(tmp_path):
    cmd = write(tmp_path, "cmd.wat", '(module (func (export "_start") unreachable)'
                                     ' (func (export "ok") (result i32) (i32.const 5)))')
    main = write(tmp_path, "main.wat", '(module (import "c" "ok" (func $ok (result i32)))'
                                       ' (func (export "_start") (drop (call $ok))))')
    assert run_cli(["run", "--preload", f"c={cmd}", main]) == (0, "", "")


def test_preload_errors(files):
    lib, app, tmp = files
    code, _, err = run_cli(["run", "--preload", f"math={tmp / 'missing.wasm'}", "--invoke", "f", app, "1"])
    assert_one_line_error(code, err, "missing.wasm: no such file")
    bad = write(tmp, "bad.wasm", b"\0asm\x01\0\0\0\x01")
    code, _, err = run_cli(["run", "--preload", f"math={bad}", "--invoke", "f", app, "1"])
    assert_one_line_error(code, err, "bad.wasm: malformed module")
    code, _, err = run_cli(["run", "--preload", f"math={lib}", "--preload", f"math={lib}", app])
    assert code == cli.EXIT_USAGE and "the name 'math' is already preloaded" in err


@pytest.mark.parametrize("spec", ["math", "=lib.wat", "math="])
def test_preload_syntax(spec, files):
    _, app, _ = files
    code, _, err = run_cli(["run", "--preload", spec, app])
    assert code == cli.EXIT_USAGE and "invalid preload" in err and "NAME=MODULE" in err


def test_help_mentions_preload():
    code, out, _ = run_cli(["run", "--help"])
    assert code == 0 and "--preload NAME=MODULE" in out
