"""The C test programs (``programs/*.c``, built into ``bin/``) under ``pywazero run``
on both engines, judged on stdout, exit status and the files left behind against
``expected.json`` (recorded under wasmtime), plus a live comparison with wasmtime
when it is installed (a dev-only oracle)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from . import harness

ENGINES = ["compiler", "interpreter"]


def _wasi_available() -> bool:
    try:
        import pywazero.wasi as wasi
    except ImportError:
        return False
    return hasattr(wasi, "instantiate")


pytestmark = pytest.mark.skipif(not _wasi_available(), reason="pywazero.wasi is not available")

EXPECTED = harness.load_expected()


def _run(case: harness.Case, tmp_path, engine: str):
    root = str(tmp_path / "root")
    harness.make_tree(case, root)
    code, out, err = harness.run_pywazero(case, root, engine)
    if case.name == "sandbox":  # nothing outside the mounts was created or changed
        assert sorted(os.listdir(root)) == ["outside-dir", "ro", "secret.txt", "work"]
        assert os.listdir(os.path.join(root, "outside-dir")) == ["secret.txt"]
        with open(os.path.join(root, "secret.txt")) as f:
            assert f.read() == "top secret\n"
    if case.name == "escape_rename":  # the host files next to the mount were not touched
        for name in ("secret.txt", "outside-dir"):  # (before listing: that may set atime)
            assert os.stat(os.path.join(root, name)).st_mtime_ns == harness.ESCAPE_TIMES_NS, name
        assert sorted(os.listdir(root)) == ["host-link", "outside-dir", "ro", "secret.txt", "work"]
        assert os.listdir(os.path.join(root, "outside-dir")) == []
    return harness.result(case, root, code, out), err


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", [c.name for c in harness.CASES])
def test_program(name, engine, tmp_path):
    case = harness.CASES_BY_NAME[name]
    got, err = _run(case, tmp_path, engine)
    want = EXPECTED[name]
    assert got["stdout"] == want["stdout"], err.decode(errors="replace")
    assert got["files"] == want["files"]
    assert got["exit"] == want["exit"], err.decode(errors="replace")
    if want["exit"] == harness.TRAP_EXIT:
        assert b"wasm trap" in err
    if name == "trap_divzero":
        # (frames: name, function index and byte offset; the program has no DWARF)
        assert re.search(rb"wasm trap: integer divide by zero\nwasm stack trace:\n"
                         rb"  at do_divzero \(func \d+, offset 0x[0-9a-f]+\)\n"
                         rb"  at main \(func \d+, offset 0x[0-9a-f]+\)\n", err), err
    if name == "trap_recurse":  # thousands of frames: the middle is elided
        assert b"more frames" in err and err.count(b"\n") < 50


@pytest.mark.parametrize("engine", ENGINES)
def test_cpu_clocks(engine, tmp_path):
    # wasmtime lacks the process and thread CPU-time clocks, so clocks.c reports them
    # on stderr, outside the comparison; pywazero provides them.
    _, err = _run(harness.CASES_BY_NAME["clocks"], tmp_path, engine)
    assert b"process_cputime: getres=0 res_ok=1 gettime=0" in err
    assert b"thread_cputime: getres=0 res_ok=1 gettime=0" in err


def _subprocess(argv, stdin=b""):
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(harness.HERE), os.pardir, "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "pywazero"] + argv, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=300)


@pytest.mark.parametrize("name", ["stdio", "exit_3", "files", "trap_unreachable", "args_env"])
def test_program_subprocess(name, tmp_path):
    """The real command line, with the process's own stdin/stdout/stderr."""
    case = harness.CASES_BY_NAME[name]
    root = str(tmp_path / "root")
    harness.make_tree(case, root)
    p = _subprocess(harness.cli_argv(case, root, "compiler"), case.stdin)
    want = EXPECTED[name]
    got = harness.result(case, root, p.returncode, p.stdout)
    assert got == want, p.stderr.decode(errors="replace")
    if name == "stdio":
        assert p.stderr == b"stderr line\n"
    if name.startswith("trap"):
        assert p.stderr.startswith(b"pywazero: ") and b"wasm trap: unreachable" in p.stderr


def _wasmtime_available() -> bool:
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _wasmtime_available(), reason="wasmtime (dev-only oracle) is not installed")
@pytest.mark.parametrize("name", [c.name for c in harness.CASES])
def test_same_as_wasmtime(name, tmp_path):
    case = harness.CASES_BY_NAME[name]
    root_w = str(tmp_path / "w" / "root")
    harness.make_tree(case, root_w)
    code, out, _ = harness.run_wasmtime(case, root_w)
    from_wasmtime = harness.result(case, root_w, code, out)
    assert from_wasmtime == EXPECTED[name], "expected.json no longer matches wasmtime"
    got, err = _run(case, tmp_path / "p", "compiler")
    assert got == from_wasmtime, err.decode(errors="replace")


def _cli(argv, stdin=b""):
    import io

    from pywazero import cli

    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(argv, stdin=io.BytesIO(stdin), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.mark.parametrize("engine", [[], ["--interpreter"]])
def test_env_inherit(engine, monkeypatch):
    monkeypatch.setenv("PYWAZERO_TEST_INHERITED", "from the host")
    monkeypatch.setenv("GREETING", "host value")
    prog = os.path.join(harness.BIN, "args_env.wasm")
    code, out, _ = _cli(["run", "--env-inherit", "--env", "GREETING=overridden"] + engine + [prog])
    assert code == 0
    assert "env: PYWAZERO_TEST_INHERITED=from the host\n" in out
    assert "getenv(GREETING)=overridden\n" in out
    code, out, _ = _cli(["run"] + engine + [prog])
    assert "environ count=0\n" in out  # nothing leaks without --env-inherit


def test_mount_default_guest_path(tmp_path, monkeypatch):
    # without GUEST the directory appears at HOST as written (here a relative path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f.txt").write_text("content\n")
    monkeypatch.chdir(tmp_path)
    cat = os.path.join(harness.HERE, os.pardir, os.pardir, "examples", "cat.wasm")
    assert _cli(["run", "--mount", "data", cat, "data/f.txt"]) == (0, "content\n", "")


def test_read_only_mount_from_cli(tmp_path):
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "ro.txt").write_text("x\n")
    prog = os.path.join(harness.BIN, "files.wasm")
    code, out, _ = _cli(["run", "--mount", str(tmp_path / "ro") + ":/sandbox:ro", prog, "/sandbox"])
    assert code == 1 and "open O_CREAT|O_EXCL: FAIL" in out
    assert os.listdir(str(tmp_path / "ro")) == ["ro.txt"]


def test_args_after_module_reach_the_guest():
    prog = os.path.join(harness.BIN, "args_env.wasm")
    code, out, _ = _cli(["run", prog, "--env", "X=1", "--", "-h"])
    assert code == 0
    assert "argv[1]=[--env]" in out and "argv[2]=[X=1]" in out
    assert "argv[3]=[--]" in out and "argv[4]=[-h]" in out and "environ count=0" in out


def test_timeout_with_wasi(tmp_path):
    # a WASI program sleeping in poll_oneoff, stopped from outside
    src = tmp_path / "sleep.wat"
    src.write_text("""(module
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      ;; one clock subscription: relative 60 s on the monotonic clock
      (data (i32.const 8) "\\00\\00\\00\\00\\00\\00\\00\\00" "\\00" "\\00\\00\\00\\00\\00\\00\\00"
                          "\\01\\00\\00\\00\\00\\00\\00\\00" "\\00\\58\\47\\f8\\0d\\00\\00\\00"
                          "\\00\\00\\00\\00\\00\\00\\00\\00" "\\00\\00\\00\\00\\00\\00\\00\\00")
      (func (export "_start") (drop (call $poll (i32.const 8) (i32.const 256) (i32.const 1) (i32.const 512)))))""")
    p = _subprocess(["run", "--timeout", "1", str(src)])
    assert p.returncode == 124 and b"timed out after 1 seconds" in p.stderr
