"""``pywazero run --trace[=FILTER]`` and ``--host-logging`` (both engines)."""
from __future__ import annotations

import io
import pathlib

import pytest

from pywazero import cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = ROOT / "tests" / "wasi" / "bin"
EXAMPLES = ROOT / "examples"

ENGINES = [[], ["--interpreter"]]


def run_cli(argv):
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(argv, stdin=io.BytesIO(), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


PROG = '''(module
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $twice (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2)))
  (func (export "_start")
    (drop (call $fib (i32.const 2)))
    (drop (call $twice (i64.const -4)))))'''


@pytest.fixture
def prog(tmp_path):
    p = tmp_path / "prog.wat"
    p.write_text(PROG)
    return str(p)


@pytest.mark.parametrize("engine", ENGINES)
def test_trace_all(prog, engine):
    code, out, err = run_cli(["run"] + engine + ["--trace", prog])
    assert code == 0 and out == ""
    assert err.splitlines() == [
        "--> _start()",
        "  --> fib(2)",
        "    --> fib(1)",
        "    <-- fib = 1",
        "    --> fib(0)",
        "    <-- fib = 0",
        "  <-- fib = 1",
        "  --> twice(-4)",
        "  <-- twice = -8",
        "<-- _start",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_trace_filter(prog, engine):
    code, out, err = run_cli(["run"] + engine + ["--trace=twice,_st*", prog])
    assert code == 0
    assert err.splitlines() == ["--> _start()", "  --> twice(-4)", "  <-- twice = -8", "<-- _start"]
    code, _, err = run_cli(["run"] + engine + ["--trace=nothing", prog])
    assert code == 0 and err == ""


@pytest.mark.parametrize("engine", ENGINES)
def test_trace_trap(tmp_path, engine):
    p = tmp_path / "t.wat"
    p.write_text('(module (func $f (unreachable)) (func (export "_start") (call $f)))')
    code, _, err = run_cli(["run"] + engine + ["--trace", str(p)])
    assert code == cli.EXIT_TRAP
    lines = err.splitlines()
    assert lines[:4] == ["--> _start()", "  --> f()", "  <-- f !! Trap: unreachable", "<-- _start !! Trap: unreachable"]
    assert "wasm trap: unreachable" in err


def test_trace_keeps_guest_arguments():
    code, out, err = run_cli(["run", "--trace=main", str(EXAMPLES / "hello.wasm"), "--trace", "x"])
    assert code == 0
    assert out == "Hello, --trace! (from WebAssembly)\n"
    assert err.splitlines()[0].startswith("--> main(3, ")
    # without the flag a guest's '--trace' is just an argument
    code, out, err = run_cli(["run", str(EXAMPLES / "hello.wasm"), "--trace"])
    assert out == "Hello, --trace! (from WebAssembly)\n" and err == ""


@pytest.mark.parametrize("engine", ENGINES)
def test_host_logging_filesystem(engine):
    code, out, err = run_cli(["run"] + engine + ["--host-logging", "--mount", f"{EXAMPLES}:/ex:ro",
                                                 str(EXAMPLES / "cat.wasm"), "/ex/hello.c"])
    assert code == 0
    assert out == (EXAMPLES / "hello.c").read_text()
    lines = err.splitlines()
    assert "--> wasi_snapshot_preview1.fd_prestat_dir_name(fd=3, path_len=3)" in lines
    assert '<-- errno=SUCCESS path="/ex"' in lines
    assert "<-- errno=BADF" in lines     # the end of the pre-opened directories
    i = next(k for k, line in enumerate(lines) if "path_open(" in line)
    assert 'fd=3, dirflags=0x1, path="hello.c"' in lines[i]
    assert lines[i + 1] == "<-- errno=SUCCESS opened_fd=4"
    size = (EXAMPLES / "hello.c").stat().st_size
    assert "--> wasi_snapshot_preview1.fd_read(fd=4, iovs=2 iovecs)" in lines
    assert f"<-- errno=SUCCESS nread={size}" in lines
    assert f'<-- errno=SUCCESS argv=["{EXAMPLES / "cat.wasm"}", "/ex/hello.c"]' in lines
    assert "--> wasi_snapshot_preview1.fd_close(fd=4)" in lines


@pytest.mark.parametrize("engine", ENGINES)
def test_host_logging_errors_clock_random_exit(engine, tmp_path):
    code, _, err = run_cli(["run"] + engine + ["--host-logging", "--mount", f"{EXAMPLES}:/ex:ro",
                                               str(EXAMPLES / "cat.wasm"), "/ex/missing.txt"])
    assert code != 0
    i = err.index('path="missing.txt"')
    assert err[i:].splitlines()[1] == "<-- errno=NOENT"
    code, _, err = run_cli(["run"] + engine + ["--host-logging", str(BIN / "clocks.wasm")])
    assert code == 0
    assert "--> wasi_snapshot_preview1.clock_time_get(id=monotonic, precision=1)" in err
    assert "--> wasi_snapshot_preview1.clock_res_get(id=realtime)" in err
    assert "<-- errno=SUCCESS timestamp=" in err
    code, _, err = run_cli(["run"] + engine + ["--host-logging", str(BIN / "random.wasm")])
    assert code == 0 and "random_get(buf=0x" in err and "buf_len=256)" in err
    code, _, err = run_cli(["run"] + engine + ["--host-logging", str(BIN / "exit.wasm")])
    assert code == 2
    assert err.splitlines()[-2:] == ["--> wasi_snapshot_preview1.proc_exit(rval=2)",
                                     "<-- ExitError: module exited with code 2"]


def test_host_logging_environ(tmp_path):
    code, _, err = run_cli(["run", "--host-logging", "--env", "A=1", "--env", "B=two words",
                            str(BIN / "args_env.wasm")])
    assert code == 0
    assert "<-- errno=SUCCESS environc=2 environ_len=16" in err
    assert '<-- errno=SUCCESS environ=["A=1", "B=two words"]' in err


def test_help_mentions_flags():
    code, out, err = run_cli(["run", "--help"])
    assert "--trace" in out + err and "--host-logging" in out + err

