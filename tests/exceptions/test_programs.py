"""Real programs that use WebAssembly exception handling: ``programs/calc.c``, whose
setjmp/longjmp error handling clang lowers to wasm exceptions, built by build.sh
(the ``ziglang`` package's clang and wasi-libc) in the standard encoding
(``bin/calc.wasm``: try_table, throw, throw_ref) and the legacy one
(``bin/calc-legacy.wasm``: try, catch, rethrow, delegate).  Both run on both engines
and must print what wasmtime prints for the standard build (``expected.json`` was
recorded with wasmtime; with wasmtime installed the comparison is also made live;
wasmtime does not run the legacy encoding)."""
from __future__ import annotations

import io
import json
import os

import pytest

import pywazero as wz
import pywazero.wasi as wasi

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = json.load(open(os.path.join(HERE, "expected.json")))["calc"]
ENGINES = ["interpreter", "compiler"]
BUILDS = ["calc.wasm", "calc-legacy.wasm"]


def run_pywazero(build: str, engine: str, args, env):
    rt = wz.Runtime(wz.RuntimeConfig(
        engine=engine, core_features=wz.CoreFeatures.V3 | wz.CoreFeatures.LEGACY_EXCEPTIONS))
    wasi.instantiate(rt)
    out = io.BytesIO()
    code = 0
    with open(os.path.join(HERE, "bin", build), "rb") as f:
        compiled = rt.compile(f.read())
    try:
        rt.instantiate(compiled, wz.ModuleConfig(stdout=out, args=["calc", *args], env=env))
    except wz.ExitError as e:
        code = e.exit_code
    return code, out.getvalue().decode()


def run_wasmtime(args, env, tmp_path):
    wasmtime = pytest.importorskip("wasmtime")
    engine = wasmtime.Engine(wasmtime.Config())
    module = wasmtime.Module.from_file(engine, os.path.join(HERE, "bin", "calc.wasm"))
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig()
    path = str(tmp_path / "stdout")
    cfg.stdout_file = path
    cfg.argv = ["calc", *args]
    cfg.env = list(env.items())
    store.set_wasi(cfg)
    code = 0
    try:
        linker.instantiate(store, module).exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        code = e.code
    with open(path) as f:
        return code, f.read()


def test_builds_use_exception_handling():
    from pywazero.binary.decoder import decode_module

    ops = {}
    for build in BUILDS:
        with open(os.path.join(HERE, "bin", build), "rb") as f:
            m = decode_module(f.read(), wz.CoreFeatures.V3 | wz.CoreFeatures.LEGACY_EXCEPTIONS)
        ops[build] = {op for fn in m.funcs for op, _ in fn.body}
        assert m.tags or any(i.kind == 4 for i in m.imports)
    assert {0x1F, 0x08, 0x0A} <= ops["calc.wasm"]          # try_table, throw, throw_ref
    assert not {0x06, 0x07, 0x18, 0x19} & ops["calc.wasm"]
    assert {0x06, 0x08} <= ops["calc-legacy.wasm"] and 0x1F not in ops["calc-legacy.wasm"]


@pytest.mark.parametrize("case", sorted(EXPECTED))
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("build", BUILDS)
def test_same_output_as_wasmtime(build, engine, case):
    c = EXPECTED[case]
    code, out = run_pywazero(build, engine, c["args"], c["env"])
    assert (code, out) == (c["exit"], c["stdout"])


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_expected_is_what_wasmtime_prints(case, tmp_path):
    c = EXPECTED[case]
    assert run_wasmtime(c["args"], c["env"], tmp_path) == (c["exit"], c["stdout"])
