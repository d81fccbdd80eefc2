"""``pywazero run`` options: ``--env NAME`` (pass one variable through),
``--timeout`` durations; ``pywazero compile``."""
from __future__ import annotations

import pathlib

import pytest

from pywazero import cli

from .test_cli import ENGINES, assert_one_line_error, run_cli, write

BIN = pathlib.Path(__file__).resolve().parents[2] / "tests" / "wasi" / "bin"
ARGS_ENV = str(BIN / "args_env.wasm")


def _env_lines(out):
    return [line[len("env: "):] for line in out.splitlines() if line.startswith("env: ")]


# -- --env NAME ------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_env_name_passes_host_variable(engine, monkeypatch):
    monkeypatch.setenv("PYWAZERO_T_GREETING", "hello there")
    monkeypatch.setenv("PYWAZERO_T_OTHER", "not passed")
    code, out, err = run_cli(["run"] + engine + ["--env", "PYWAZERO_T_GREETING", "--env", "A=1", ARGS_ENV])
    assert code == 0, err
    assert _env_lines(out) == ["A=1", "PYWAZERO_T_GREETING=hello there"]


def test_env_name_unset_is_not_passed(monkeypatch):
    monkeypatch.delenv("PYWAZERO_T_UNSET", raising=False)
    code, out, err = run_cli(["run", "--env", "PYWAZERO_T_UNSET", "--env", "B=2", ARGS_ENV])
    assert code == 0, err
    assert _env_lines(out) == ["B=2"]


def test_env_name_unset_drops_earlier_value(monkeypatch):
    monkeypatch.delenv("PYWAZERO_T_UNSET", raising=False)
    code, out, _ = run_cli(["run", "--env", "PYWAZERO_T_UNSET=x", "--env", "PYWAZERO_T_UNSET", ARGS_ENV])
    assert code == 0 and _env_lines(out) == []


def test_env_value_with_equals_and_empty_value():
    code, out, _ = run_cli(["run", "--env", "A=b=c", "--env", "E=", ARGS_ENV])
    assert code == 0 and _env_lines(out) == ["A=b=c", "E="]


def test_env_name_overrides_inherit(monkeypatch):
    monkeypatch.setenv("PYWAZERO_T_X", "host")
    code, out, _ = run_cli(["run", "--env-inherit", "--env", "PYWAZERO_T_X=mine", ARGS_ENV])
    assert code == 0 and "PYWAZERO_T_X=mine" in _env_lines(out)


@pytest.mark.parametrize("spec", ["=x", ""])
def test_env_bad(spec):
    code, _, err = run_cli(["run", "--env", spec, ARGS_ENV])
    assert code == 2 and "invalid environment variable" in err and "Traceback" not in err


# -- --timeout durations ---------------------------------------------------------------


@pytest.mark.parametrize("spec, seconds", [
    ("300ms", 0.3), ("2s", 2.0), ("1.5m", 90.0), ("1h", 3600.0), ("10", 10.0), ("0.25", 0.25),
    (".5s", 0.5), ("1e3ms", 1.0)])
def test_parse_duration(spec, seconds):
    assert cli.parse_duration(spec) == pytest.approx(seconds)


@pytest.mark.parametrize("spec", ["", "soon", "5 minutes", "1d", "-1s", "0", "0ms", "ms", "1.5.2s", "inf",
                                  "nan", "1e999"])
def test_timeout_bad_values_exit_2(spec, tmp_path):
    mod = write(tmp_path, "m.wat", '(module (func (export "_start")))')
    code, out, err = run_cli(["run", "--timeout=" + spec, mod])  # (= : "-1s" is no option)
    assert code == 2 and "invalid timeout" in err and "Traceback" not in err


LOOP = '(module (func (export "_start") (loop (br 0))))'


@pytest.mark.parametrize("engine", ENGINES)
def test_timeout_duration_expires(engine, tmp_path):
    mod = write(tmp_path, "loop.wat", LOOP)
    code, _, err = run_cli(["run"] + engine + ["--timeout", "200ms", mod])
    assert code == cli.EXIT_TIMEOUT, err
    assert "timed out after 0.2 seconds" in err


def test_timeout_duration_not_reached(tmp_path):
    mod = write(tmp_path, "m.wat", '(module (func (export "_start")))')
    assert run_cli(["run", "--timeout", "1m", mod]) == (0, "", "")


# -- compile ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine, name", [([], "compiler"), (["--engine", "interpreter"], "interpreter")])
def test_compile_reports_what_it_checked(engine, name, tmp_path):
    path = write(tmp_path, "m.wat", '(module (import "env" "f" (func)) (func (export "a")) (func (export "b"))'
                                    ' (func) (memory (export "mem") 1))')
    code, out, err = run_cli(["compile"] + engine + [path])
    assert (code, err) == (0, "")
    assert out == f"{path}: valid: 3 functions defined, 1 imported, 3 exports; compiled for the {name} engine\n"


def test_compile_all_says_so(tmp_path):
    path = write(tmp_path, "m.wat", '(module (func (export "a") (result i32) (i32.const 1)))')
    code, out, _ = run_cli(["compile", "--all", path])
    assert code == 0 and out.rstrip().endswith("compiled for the compiler engine, every function translated")


@pytest.mark.parametrize("content, kind", [
    (b"\0asm\x01\0\0\0\x01\x05", "malformed module"),
    ("(module (func (result i32) (i64.const 0)))", "invalid module"),
    ("(module (func $f (call $missing)))", "malformed module"),
    ("(module (memory 1) (data (i32.const 0) \"x\") (func (export \"f\") (result i32) (f32.const 1)))",
     "invalid module"),
])
def test_compile_rejects_bad_modules(content, kind, tmp_path):
    path = write(tmp_path, "bad.wasm" if isinstance(content, bytes) else "bad.wat", content)
    code, out, err = run_cli(["compile", path])
    assert out == ""
    assert_one_line_error(code, err, path, kind)


def test_compile_missing_file(tmp_path):
    code, out, err = run_cli(["compile", str(tmp_path / "nope.wasm")])
    assert out == ""
    assert_one_line_error(code, err, "no such file")
