"""The smoke test .ci/smoke runs inside a fresh venv holding an installed wheel or
sdist of pywazero: run it with that venv's python, from outside the source tree.

    python smoke_check.py REPO_DIR

Checks that the installed copy (not the source tree) is imported, that a small module
compiles, instantiates and runs on both engines, that a committed WASI example runs
through the ``pywazero`` console script, and that ``pywazero --version`` reports the
version written in src/pywazero/_version.py.  Exits non-zero with a message on the
first failure.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def fail(msg: str) -> None:
    sys.exit(f"smoke test FAILED ({sys.version.split()[0]} {sys.implementation.name}): {msg}")


def main(repo: Path) -> None:
    import pywazero

    where = Path(pywazero.__file__).resolve()
    if repo.resolve() in where.parents:
        fail(f"imported pywazero from the source tree ({where}), not the installed copy")
    if not (where.parent / "py.typed").exists() and (repo / "src" / "pywazero" / "py.typed").exists():
        fail("py.typed is in the source tree but was not installed")

    wat = """(module
      (func $fac (export "fac") (param i64) (result i64)
        (if (result i64) (i64.eqz (local.get 0))
          (then (i64.const 1))
          (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1))))))))"""
    for engine in ("interpreter", "compiler"):
        rt = pywazero.Runtime(pywazero.RuntimeConfig(engine=engine))
        mod = rt.instantiate(rt.compile(wat))
        got = mod.function("fac")(20)
        if got != 2432902008176640000:
            fail(f"fac(20) on the {engine} gave {got}")
        binary = pywazero.wat2wasm(wat)
        if rt.instantiate(rt.compile(binary)).function("fac")(5) != 120:
            fail(f"the binary module gave a wrong fac(5) on the {engine}")

    # The console script next to this python, as a user's shell would find it.
    script = Path(sys.executable).with_name("pywazero.exe" if os.name == "nt" else "pywazero")
    if not script.exists():
        fail(f"console script not installed: {script}")
    out = subprocess.run([str(script), "run", str(repo / "examples" / "hello.wasm"), "smoke"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0 or out.stdout != "Hello, smoke! (from WebAssembly)\n":
        fail(f"pywazero run examples/hello.wasm: exit {out.returncode}, "
             f"stdout {out.stdout!r}, stderr {out.stderr[-2000:]!r}")
    out = subprocess.run([str(script), "run", "--mount", f"{repo / 'examples'}:/ex:ro",
                          str(repo / "examples" / "cat.wasm"), "/ex/hello.c"],
                         capture_output=True, text=True, timeout=120)
    expected = (repo / "examples" / "hello.c").read_text()
    if out.returncode != 0 or out.stdout != expected:
        fail(f"pywazero run examples/cat.wasm /ex/hello.c: exit {out.returncode}, "
             f"stderr {out.stderr[-2000:]!r}")

    source = (repo / "src" / "pywazero" / "_version.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"', source, re.M)
    if match is None:
        fail("no __version__ in src/pywazero/_version.py")
    version = match.group(1)
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0 or out.stdout.split() != ["pywazero", version]:
        fail(f"pywazero --version printed {out.stdout!r} (exit {out.returncode}); _version.py says {version}")
    if pywazero.__version__ != version:
        fail(f"pywazero.__version__ is {pywazero.__version__}; _version.py says {version}")
    print(f"smoke test passed: pywazero {version} on {sys.implementation.name} {sys.version.split()[0]}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
