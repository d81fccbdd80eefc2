"""The WebAssembly 3.0 test programs (``programs/*.c`` built into ``bin/`` by
``build.sh``) and how to run them: on pywazero (either engine) and on wasmtime-py
(the dev-only oracle, with the 3.0 proposals switched on).

``python -m tests.wasm3.programs --regen`` re-records ``expected.json`` under
wasmtime; ``python -m tests.wasm3.programs NAME ENGINE`` runs one case on pywazero
and prints its output and time.
"""
from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "bin")
EXPECTED_PATH = os.path.join(HERE, "expected.json")

# A position-independent executable expects its loader to place it: data at
# __memory_base, its functions at __table_base in the imported table, the stack
# below __stack_pointer.  (Table base 1: entry 0 stays null, as C's NULL.)
PIE_MEMORY_BASE = 1024
PIE_TABLE_BASE = 1
PIE_STACK_POINTER = 65536


@dataclass(frozen=True)
class Case:
    name: str
    wasm: str
    args: Tuple[str, ...] = ()
    pie: bool = False
    # RuntimeConfig settings for pywazero (e.g. a small max_call_depth: a chain of
    # tail calls must not need more)
    config: Dict[str, Any] = field(default_factory=dict)
    long: bool = False   # minutes on the interpreter: there only with PYWAZERO_LONG_TESTS=1


CASES = [
    # 200 000 steps of each tail-call chain, with at most 64 frames
    Case("musttail_short", "musttail.wasm", ("200000",), config={"max_call_depth": 64}),
    # the full 10 million steps of each chain
    Case("musttail", "musttail.wasm", config={"max_call_depth": 64}, long=True),
    Case("baseline", "baseline.wasm"),
    Case("baseline_pie", "baseline_pie.wasm", pie=True),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def _wasm(case: Case) -> bytes:
    with open(os.path.join(BIN, case.wasm), "rb") as f:
        return f.read()


def run_pywazero(case: Case, engine: str) -> Tuple[str, int]:
    """(stdout, exit status) of ``case`` on pywazero's ``engine``."""
    import pywazero.wasi
    from pywazero import CoreFeatures, ExitError, ModuleConfig, Runtime, RuntimeConfig
    from pywazero.wasm.types import FUNCREF, I32

    rt = Runtime(RuntimeConfig(engine=engine, core_features=CoreFeatures.V3 & ~CoreFeatures.GC,
                               **case.config))
    pywazero.wasi.instantiate(rt)
    out = io.BytesIO()
    argv = ["prog"] + list(case.args)
    try:
        if case.pie:
            (rt.host_module("env")
             .table("__indirect_function_table", FUNCREF, min=PIE_TABLE_BASE + 16)
             .global_("__stack_pointer", I32, PIE_STACK_POINTER, mutable=True)
             .global_("__memory_base", I32, PIE_MEMORY_BASE)
             .global_("__table_base", I32, PIE_TABLE_BASE)
             .instantiate())
            m = rt.instantiate(_wasm(case), ModuleConfig(args=argv, stdout=out, start_functions=()))
            m.exports["__wasm_apply_data_relocs"]()
            m.exports["_start"]()
        else:
            rt.instantiate(_wasm(case), ModuleConfig(args=argv, stdout=out))
        code = 0
    except ExitError as e:
        code = e.exit_code
    return out.getvalue().decode("utf-8", "replace"), code


def wasmtime_config() -> Any:
    """A wasmtime Config with the WebAssembly 3.0 proposals on."""
    import wasmtime

    cfg = wasmtime.Config()
    for name in ("wasm_tail_call", "wasm_extended_const", "wasm_function_references", "wasm_multi_memory",
                 "wasm_memory64", "wasm_exceptions", "wasm_relaxed_simd", "wasm_reference_types",
                 "wasm_bulk_memory", "wasm_multi_value", "wasm_simd"):
        if hasattr(cfg, name):
            setattr(cfg, name, True)
    return cfg


def run_wasmtime(case: Case) -> Tuple[str, int]:
    """(stdout, exit status) of ``case`` on wasmtime."""
    import wasmtime

    engine = wasmtime.Engine(wasmtime_config())
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["prog"] + list(case.args)
    fd, path = tempfile.mkstemp()
    os.close(fd)
    try:
        wasi.stdout_file = path
        store.set_wasi(wasi)
        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        if case.pie:
            i32 = wasmtime.ValType.i32()
            table = wasmtime.Table(store, wasmtime.TableType(wasmtime.ValType.funcref(),
                                                             wasmtime.Limits(PIE_TABLE_BASE + 16, None)), None)
            linker.define(store, "env", "__indirect_function_table", table)
            linker.define(store, "env", "__stack_pointer",
                          wasmtime.Global(store, wasmtime.GlobalType(i32, True), PIE_STACK_POINTER))
            linker.define(store, "env", "__memory_base",
                          wasmtime.Global(store, wasmtime.GlobalType(i32, False), PIE_MEMORY_BASE))
            linker.define(store, "env", "__table_base",
                          wasmtime.Global(store, wasmtime.GlobalType(i32, False), PIE_TABLE_BASE))
        module = wasmtime.Module(engine, _wasm(case))
        inst = linker.instantiate(store, module)
        code = 0
        try:
            if case.pie:
                inst.exports(store)["__wasm_apply_data_relocs"](store)
            inst.exports(store)["_start"](store)
        except wasmtime.ExitTrap as e:
            code = e.code
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace"), code
    finally:
        os.unlink(path)


def load_expected() -> Dict[str, Any]:
    with open(EXPECTED_PATH) as f:
        return json.load(f)


def regen() -> None:
    out = {}
    for case in CASES:
        stdout, code = run_wasmtime(case)
        out[case.name] = {"stdout": stdout, "exit": code}
        print(case.name, code, stdout.splitlines()[:2])
    with open(EXPECTED_PATH, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--regen"]:
        regen()
    elif len(sys.argv) == 3:
        t = time.perf_counter()
        stdout, code = run_pywazero(CASES_BY_NAME[sys.argv[1]], sys.argv[2])
        print(stdout, "exit", code, "%.1fs" % (time.perf_counter() - t))
    else:
        sys.exit("usage: python -m tests.wasm3.programs --regen | NAME ENGINE")
