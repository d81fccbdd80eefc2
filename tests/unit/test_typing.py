"""The package's types as a user's type checker sees them: ``py.typed`` ships, and
mypy (strict) checks a small script written against the public API, naming the
real classes in ``reveal_type`` and flagging misuse.

mypy runs only where it is installed (it needs Python 3.10+; the test extras
install it there).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest

import pywazero

PACKAGE = Path(pywazero.__file__).resolve().parent
ROOT = PACKAGE.parents[1]

USER_SCRIPT = '''
import io
import random
from typing import TYPE_CHECKING, List

import pywazero
from pywazero import I32, Caller, FuncType, Linker, ModuleConfig, Runtime, wasi

WAT = """(module
  (import "env" "log" (func $log (param i32)))
  (memory (export "mem") 1)
  (data (i32.const 8) "\\\\2a\\\\00\\\\00\\\\00")
  (func (export "add") (param i32 i32) (result i32)
    (call $log (local.get 0))
    (i32.add (local.get 0) (local.get 1))))"""

logged: List[int] = []


def log(caller: Caller, x: int) -> None:
    logged.append(x)


rt = Runtime()
cm = rt.compile(WAT)
linker = Linker(rt).define_func("env", "log", FuncType([I32], []), log)
config = ModuleConfig(stdout=io.BytesIO(), clock=wasi.FakeClock(), random=random.Random(0))
m = linker.instantiate(cm, config)
add = m.function("add")
mem = m.memory("mem")
data = mem.read(8, 4)
word = mem.read_u32(8)
host = rt.host_module("env2").function("one", lambda: 1, [], [I32]).instantiate()
preview1 = wasi.instantiate(rt)
binary = pywazero.wat2wasm("(module)")
assert add(2, 3) == 5 and logged == [2] and word == 42 and data == b"*\\0\\0\\0"
assert host.function("one")() == 1 and binary.startswith(b"\\0asm")

if TYPE_CHECKING:
    reveal_type(rt)
    reveal_type(cm)
    reveal_type(linker)
    reveal_type(m)
    reveal_type(add)
    reveal_type(mem)
    reveal_type(data)
    reveal_type(word)
    reveal_type(mem.size)
    reveal_type(host)
    reveal_type(preview1)
    reveal_type(binary)
    reveal_type(rt.module("env2"))
    reveal_type(m.exports)
    reveal_type(m.global_("g").value)
'''

# what each reveal_type above must show, in order (mypy's spelling, without the
# "builtins." that mypy before 2.0 puts before builtin classes)
EXPECTED = [
    "pywazero.runtime.Runtime",
    "pywazero.runtime.CompiledModule",
    "pywazero.linker.Linker",
    "pywazero.api.Module",
    "pywazero.api.Function",
    "pywazero.api.Memory",
    "bytes",
    "int",
    "int",
    "pywazero.api.Module",
    "pywazero.api.Module",
    "bytes",
    "pywazero.api.Module | None",
    "dict[str, pywazero.api.Function | pywazero.api.Memory | pywazero.api.Table"
    " | pywazero.api.Global | pywazero.api.Tag]",
    "Any",   # a global's value: an int, float, reference... known only at run time
]

MISUSE = '''
import pywazero

rt = pywazero.Runtime()
m = rt.instantiate('(module (memory (export "mem") 1))')
m.memory("mem").read("0", 4)
rt.compile(42)
m.function(1)
'''


def _mypy(tmp_path: Path, source: str) -> List[str]:
    """mypy --strict's messages about the script ``source`` (not about pywazero)."""
    pytest.importorskip("mypy", reason="mypy is not installed (it runs on Python 3.10+)")
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(source), encoding="utf-8")
    config = tmp_path / "mypy.ini"   # (not the project's: the script is what is checked)
    config.write_text("[mypy]\nstrict = True\n", encoding="utf-8")
    env: Dict[str, str] = dict(os.environ)
    if PACKAGE.parent.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(PACKAGE.parent)   # a source tree: find pywazero there
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir",
         str(tmp_path / "cache"), "--no-error-summary", "--show-absolute-path", str(script)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert not proc.stderr.strip() or "error" not in proc.stderr, proc.stderr
    return [line for line in proc.stdout.splitlines() if line.startswith(str(script))]


def test_user_script_type_checks_with_the_real_classes(tmp_path: Path) -> None:
    lines = _mypy(tmp_path, USER_SCRIPT)
    errors = [line for line in lines if ": error:" in line]
    assert errors == []
    revealed = [re.sub(r'^.*Revealed type is "(.*)"$', r"\1", line).replace("builtins.", "")
                for line in lines if ": note: Revealed type" in line]
    assert revealed == EXPECTED


def test_user_script_runs(tmp_path: Path) -> None:
    # the script checked above is a working program, not only a well-typed one
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_misuse_is_flagged(tmp_path: Path) -> None:
    # real types, not Any: wrong argument types are errors, one per misuse
    errors = [line for line in _mypy(tmp_path, MISUSE) if ": error:" in line]
    assert len(errors) == 3, errors
    assert all("[arg-type]" in e for e in errors), errors
    assert '"read" of "Memory"' in errors[0]
    assert '"compile" of "Runtime"' in errors[1]
    assert '"function" of "Module"' in errors[2]


def test_py_typed_ships() -> None:
    assert (PACKAGE / "py.typed").is_file()
    pyproject = ROOT / "pyproject.toml"
    if pyproject.is_file():   # (a source tree: the wheel's package data lists it)
        text = pyproject.read_text(encoding="utf-8")
        section = text.split("[tool.setuptools.package-data]", 1)
        assert len(section) == 2, "pyproject.toml has no [tool.setuptools.package-data]"
        assert re.search(r'^pywazero\s*=\s*\[[^\]]*"py\.typed"', section[1], re.M)
