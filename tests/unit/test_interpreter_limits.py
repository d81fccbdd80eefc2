"""The interpreter's fuel and interruption check points (issue 9): fuel consumed equals
wasmtime's, exhaustion traps at the same point for every budget, interruption stops
tight loops and loop-free recursion from another thread or a signal handler, and
code translated without limits is left exactly as it was."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time

import pytest

import pywazero as wz
from pywazero.engine.interpreter import execute, execute_interruptible, execute_limited
from pywazero.engine.interpreter.kinds import K_FUEL, KIND_NAMES
from pywazero.wasm.types import F32, F64, I32, I64, V128

from ..tools import external_tool

LIMIT_KINDS = {k for k in KIND_NAMES if k >= K_FUEL}

LOOP = '''(module (func (export "f") (param i32) (result i32) (local i32)
  (block $d (loop $l (br_if $d (i32.ge_u (local.get 1) (local.get 0)))
    (local.set 1 (i32.add (local.get 1) (i32.const 1))) (br $l))) (local.get 1)))'''

# (wat, export, argument lists): every construct that starts, ends or joins a run
CASES = [
    (LOOP, "f", [[0], [1], [10]]),
    ('''(module (func $fib (export "fib") (param i32) (result i32)
      (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
        (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                       (call $fib (i32.sub (local.get 0) (i32.const 2))))))))''', "fib", [[0], [1], [5], [8]]),
    ('''(module (memory 1) (func (export "f") (param i32) (result i32) (local i32)
      (loop $l (i32.store (i32.mul (local.get 1) (i32.const 4)) (local.get 1))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
      (block $a (block $b (block $c (br_table $a $b $c (i32.and (local.get 0) (i32.const 3))))
         (return (i32.const 7))) (drop (i32.const 5)) (nop))
      (select (i32.load (i32.const 8)) (i32.const 9) (local.get 0))))''', "f", [[1], [2], [3], [4], [7]]),
    # bulk operators: constant and dynamic lengths, grows that succeed and fail (when
    # wasmtime charges a *failed* grow's length is not settled yet: engine/limits.py)
    ('''(module (memory 1) (func (export "f") (param i32) (result i32)
      (memory.fill (i32.const 0) (i32.const 1) (local.get 0))
      (memory.fill (i32.const 0) (i32.const 1) (i32.const 100))
      (memory.copy (i32.const 10) (i32.const 0) (local.get 0))
      (drop (memory.grow (local.get 0)))
      (drop (memory.grow (i32.const 2)))
      (memory.size)))''', "f", [[0], [1], [50], [70000]]),
    ('''(module (table 2 funcref) (elem (i32.const 0) $a $b) (type $t (func (param i32) (result i32)))
      (func $a (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $b (param i32) (result i32) (if (local.get 0) (then (return (i32.const 3)))) (i32.const 4))
      (func (export "f") (param i32) (result i32)
        (call_indirect (type $t) (local.get 0) (i32.and (local.get 0) (i32.const 1)))))''', "f", [[0], [1], [2]]),
    ('''(module (func (export "f") (param i32) (result i32) (local i32)
      (block $out (result i32)
        (loop $l (result i32)
          (local.set 1 (i32.add (local.get 1) (i32.const 3)))
          (if (i32.gt_u (local.get 1) (local.get 0)) (then (br $out (local.get 1))))
          (if (i32.eq (local.get 1) (i32.const 9)) (then (nop)) (else (drop (i32.const 1))))
          (br_if $l (i32.const 1))
          (unreachable)))))''', "f", [[0], [10], [30]]),
    ('''(module (func (export "f") (param i32) (result i32)
      (if (result i32) (local.get 0)
        (then (if (result i32) (i32.gt_u (local.get 0) (i32.const 5)) (then (i32.const 1))
                (else (br_if 1 (i32.const 2) (i32.eq (local.get 0) (i32.const 3))) (drop) (i32.const 4))))
        (else (i32.const 0)))))''', "f", [[0], [3], [4], [9]]),
]


def _wasmtime():
    return pytest.importorskip("wasmtime", reason="wasmtime-py is the dev-only fuel oracle")


def wasmtime_instance(wasm: bytes, budget: int):
    """``(store, exports)`` of ``wasm`` instantiated on wasmtime with fuel on (every
    import a function doing nothing)."""
    wasmtime = _wasmtime()
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    store.set_fuel(budget)
    module = wasmtime.Module(engine, wasm)
    linker = wasmtime.Linker(engine)
    for imp in module.imports:
        linker.define_func(imp.module, imp.name, imp.type, lambda *a: None)
    return store, linker.instantiate(store, module).exports(store)


def wasmtime_run(wasm: bytes, name: str, args, budget: int):
    """(outcome, fuel consumed, fuel left) of one call on wasmtime."""
    wasmtime = _wasmtime()
    store, exports = wasmtime_instance(wasm, budget)
    before = store.get_fuel()
    try:
        exports[name](store, *args)
        outcome = "ok"
    except (wasmtime.Trap, wasmtime.WasmtimeError) as e:
        outcome = "out of fuel" if "fuel" in str(e) else "trap"
    return outcome, before - store.get_fuel(), store.get_fuel()


def pywazero_run(wasm: bytes, name: str, args, budget: int, engine: str = "interpreter"):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, consume_fuel=True))
    rt.set_fuel(budget)
    m = rt.instantiate(wasm)
    before = rt.get_fuel()
    try:
        m.function(name)(*args)
        outcome = "ok"
    except wz.Trap as e:
        outcome = "out of fuel" if "fuel" in str(e) else "trap"
    return outcome, before - rt.get_fuel(), rt.get_fuel()


def comparable(result):
    """After a trap other than running out of fuel the fuel left is only bounded (the
    engines flush it at check points), so only the outcome is compared then."""
    return result if result[0] != "trap" else result[0]


def test_counts_by_hand():
    # entry 1; 11 loop tests of 4; 10 bodies of 5 (local.get, const, add, set, br); the
    # final local.get: the loop/block/end are free
    wasm = wz.wat2wasm(LOOP)
    assert pywazero_run(wasm, "f", [10], 1000) == ("ok", 1 + 11 * 4 + 10 * 5 + 1, 1000 - 96)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fuel_matches_wasmtime(case: int):
    wat, name, argsets = CASES[case]
    wasm = wz.wat2wasm(wat)
    for args in argsets:
        ref = wasmtime_run(wasm, name, args, 10 ** 9)
        assert comparable(pywazero_run(wasm, name, args, 10 ** 9)) == comparable(ref), args
        # exhaustion: the same check point traps for every budget up to enough
        for budget in range(1, ref[1] + 2):
            assert comparable(pywazero_run(wasm, name, args, budget)) == \
                comparable(wasmtime_run(wasm, name, args, budget)), (args, budget)


def test_function_run_by_interpreter_for_compiler_shares_fuel():
    # nested too deeply for Python: the compiler engine runs it on the interpreter,
    # with the runtime's fuel
    body = "(local.set 1 (i32.add (local.get 1) (i32.const 1)))"
    for d in range(2100):
        body = "(loop $l%d %s (br_if $l%d (i32.lt_u (local.get 1) (i32.const %d))))" % (d, body, d, 2 + d % 3)
    wasm = wz.wat2wasm('(module (func (export "f") (param i32) (result i32) (local i32) %s (local.get 1)))' % body)
    ref = wasmtime_run(wasm, "f", [0], 10 ** 9)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", consume_fuel=True))
    cm = rt.compile(wasm)
    assert pywazero_run(wasm, "f", [0], 10 ** 9, "compiler") == ref
    for budget in (1, 2, ref[1] // 2, ref[1] - 1, ref[1], ref[1] + 1):
        assert pywazero_run(wasm, "f", [0], budget, "compiler") == wasmtime_run(wasm, "f", [0], budget)
    rt.set_fuel(10 ** 9)
    rt.instantiate(cm).function("f")(0)
    assert cm._engine_code().fallback_reasons  # it did run on the interpreter


WASM_OPT = external_tool("wasm-opt", "binaryen")


@pytest.mark.skipif(WASM_OPT is None, reason="needs binaryen's wasm-opt")
@pytest.mark.parametrize("seed", range(6))
def test_fuel_matches_wasmtime_on_fuzzed_modules(seed: int, tmp_path):
    wasmtime = _wasmtime()
    rnd = random.Random(1000 + seed)
    inp = tmp_path / "in.dat"
    out = tmp_path / "out.wasm"
    inp.write_bytes(bytes(rnd.getrandbits(8) for _ in range(6000)))
    subprocess.run([WASM_OPT, "-ttf", str(inp), "-o", str(out), "--enable-bulk-memory",
                    "--enable-multivalue", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
                    "--enable-mutable-globals", "--denan"], check=True, capture_output=True)
    wasm = out.read_bytes()
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", consume_fuel=True))
    hb = rt.host_module("fuzzing-support")
    for name, t in (("log-i32", I32), ("log-i64", I64), ("log-f32", F32), ("log-f64", F64),
                    ("log-v128", V128)):
        hb = hb.function(name, lambda *a: None, params=[t], raw=True)
    hb.instantiate()
    m = rt.instantiate(wasm, wz.ModuleConfig(start_functions=()))
    store, exports = wasmtime_instance(wasm, 0)
    names = [e.name for e in m.instance.module.exports if e.kind == 0]
    compared = 0
    for name in names:
        if name == "hangLimitInitializer":
            continue
        f = m.function(name)
        for arg in (0, 1):
            rt.set_fuel(10 ** 12)
            store.set_fuel(10 ** 12)
            for reset in ("hangLimitInitializer",) if "hangLimitInitializer" in names else ():
                m.function(reset)()   # (bounds every loop and recursion of the module)
                exports[reset](store)
            rt.set_fuel(10 ** 12)
            store.set_fuel(10 ** 12)
            args = [arg if t in (I32, I64) else 0 for t in f.type.params]
            try:
                f.call_raw(*args)
                mine = "ok"
            except wz.Trap:
                mine = "trap"
            try:
                exports[name](store, *[a if t in (I32, I64) else 0.0 for a, t in zip(args, f.type.params)])
                theirs = "ok"
            except (wasmtime.Trap, wasmtime.WasmtimeError):
                theirs = "trap"
            assert mine == theirs, (name, arg)
            if mine == "ok":  # (after a trap the fuel left is only bounded)
                assert 10 ** 12 - rt.get_fuel() == 10 ** 12 - store.get_fuel(), (name, arg)
                compared += 1
    assert compared


# -- the code itself ---------------------------------------------------------------------

def _kinds(rt, wat):
    m = rt.instantiate(wat)
    m.function("f")(3)
    return {ins[0] for ins in m.instance.funcs[0].code.code}


def test_limits_off_code_is_unchanged():
    off = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
    assert off._engine.execute is execute
    assert not _kinds(off, LOOP) & LIMIT_KINDS
    on = wz.Runtime(wz.RuntimeConfig(engine="interpreter", interruptible=True))
    assert on._engine.execute is execute_interruptible()
    fuel = wz.Runtime(wz.RuntimeConfig(engine="interpreter", consume_fuel=True, interruptible=True))
    assert fuel._engine.execute is execute_limited()
    # (made from execute's source: keep its dispatch recognisable, see _limits_first)
    assert execute_limited() is not execute and execute_limited().__name__ == "execute_limited"
    assert execute_interruptible().__name__ == "execute_interruptible"
    kinds = _kinds(on, LOOP)
    assert kinds & LIMIT_KINDS and not {k for k in kinds if "FUEL" in KIND_NAMES[k] or "_F" in KIND_NAMES[k]}


def test_limited_loop_reports_real_source_lines():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", consume_fuel=True))
    rt.set_fuel(5)
    m = rt.instantiate(LOOP)
    with pytest.raises(wz.Trap, match="fuel") as ei:
        m.function("f")(100)
    frames = [tb for tb in __import__("traceback").extract_tb(ei.value.__traceback__)
              if tb.name == "execute_limited"]
    assert frames and frames[0].filename.endswith(os.path.join("interpreter", "__init__.py"))
    assert "refill" in (frames[0].line or "")   # the check point's own line
    rt.add_fuel(1000)
    assert m.function("f")(10) == 10   # usable again once refuelled


# -- interruption ------------------------------------------------------------------------

SPIN = '''(module
  (func (export "spin") (loop $l (br $l)))
  (func (export "spin2") (param i32) (loop $l (br_if $l (i32.ne (local.get 0) (i32.const 7)))))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2))))))))'''


def _interrupted_after(rt, call, how: str) -> float:
    """Interrupt ``call()`` 0.2 s in (from a timer thread or a SIGALRM handler);
    return how long the trap took to arrive after the interrupt."""
    fired = []

    def fire(*_):
        fired.append(time.perf_counter())
        rt.interrupt()

    if how == "thread":
        timer = threading.Timer(0.2, fire)
        timer.start()
    else:
        old = signal.signal(signal.SIGALRM, fire)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
    try:
        with pytest.raises(wz.Trap, match="interrupted"):
            call()
        return time.perf_counter() - fired[0]
    finally:
        if how != "thread":
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("fuel", [False, True])
@pytest.mark.parametrize("how", ["thread", "signal"])
def test_interrupt_tight_loops_and_recursion(how: str, fuel: bool):
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", interruptible=True, consume_fuel=fuel))
    if fuel:
        rt.set_fuel(10 ** 15)
    m = rt.instantiate(SPIN)
    for call in (m.function("spin"), lambda: m.function("spin2")(0), lambda: m.function("fib")(60)):
        assert _interrupted_after(rt, call, how) < 0.05
        # the runtime is usable again at once
        assert m.function("fib")(10) == 55


TAIL_SPIN = '''(module
  (type $t (func (param i32)))
  (table funcref (elem $a $b))
  (func $self (export "self") (param i32) (return_call $self (i32.add (local.get 0) (i32.const 1))))
  (func $a (export "pingpong") (param i32) (return_call_indirect (type $t) (local.get 0) (i32.const 1)))
  (func $b (param i32) (return_call_indirect (type $t) (local.get 0) (i32.const 0))))'''


@pytest.mark.parametrize("how", ["thread", "signal"])
def test_interrupt_endless_tail_calls(how: str):
    # no loop and no frame growth: only the checks made at calls stop these (code
    # with interruption but no fuel has no entry checks: calls_check_interrupts)
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", interruptible=True,
                                     core_features=wz.CoreFeatures.V2 | wz.CoreFeatures.TAIL_CALL))
    m = rt.instantiate(TAIL_SPIN)
    for name in ("self", "pingpong"):
        assert _interrupted_after(rt, lambda: m.function(name)(0), how) < 0.05
    fib = rt.instantiate(SPIN).function("fib")
    assert fib(10) == 55
    assert not {ins[0] for ins in fib._fn.code.code} & LIMIT_KINDS   # (no entry check)


def test_interrupt_from_thread_while_other_thread_runs():
    rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter", interruptible=True))
    m = rt.instantiate(SPIN)
    out = []

    def work():
        try:
            m.function("spin")()
        except wz.Trap as e:
            out.append(str(e))

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.1)
    rt.interrupt()
    t.join(5)
    assert not t.is_alive() and out and out[0].startswith("interrupted")
    assert m.function("fib")(12) == 144
