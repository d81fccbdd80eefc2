"""Fuel against wasmtime-py (``Config.consume_fuel``), the dev-only oracle: for every
call that completes, both engines consume exactly the fuel wasmtime does, and a call
given too little traps "all fuel consumed" at the same check point as wasmtime (the
same side effects before it).  The rule is documented in ``engine/limits.py``.

Programs: hand-written spec-style modules, the C WASI test programs
(``tests/wasi/bin``, the deterministic cases), ``examples/*.wasm`` and random modules
from binaryen's ``wasm-opt -ttf`` (as ``test_differential.py`` makes them).
"""
from __future__ import annotations

import os
import sys

import pytest

import pywazero as wz
from pywazero.wasm.types import F32, F64, I32, I64, V128

from ..wasi import harness
from .test_differential import WASM_OPT, make_module

if sys.implementation.name == "cpython":
    import wasmtime  # the oracle is a test dependency on CPython
else:  # pragma: no cover
    wasmtime = pytest.importorskip("wasmtime")

ENGINES = ["compiler", "interpreter"]
BIG = 10 ** 15
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)


def _wt_store():
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    engine = wasmtime.Engine(cfg)
    return engine, wasmtime.Store(engine)


# -- hand-written modules ------------------------------------------------------------------

# (wat, export, argument tuples): each call completes
MODULES = [
    ('(module (func (export "f")))', "f", [()]),
    ('(module (func (export "f") nop nop))', "f", [()]),
    ('(module (func (export "f") (result i32) i32.const 1 i32.const 2 i32.add))', "f", [()]),
    ('(module (func (export "f") block loop end end return))', "f", [()]),
    ('(module (func (export "f") (param i32) (result i32) local.get 0 if (result i32) i32.const 1 '
     'else i32.const 2 i32.const 3 i32.add end))', "f", [(0,), (1,)]),
    ('(module (func (export "f") (param i32) local.get 0 if i32.const 1 drop end i32.const 1 drop))', "f",
     [(0,), (5,)]),
    # loops: br_if forward out, br back, br_if back
    ('(module (func (export "f") (param i32) (result i32) (local i32)'
     ' block loop local.get 0 local.get 1 i32.le_u br_if 1 local.get 1 i32.const 1 i32.add local.set 1'
     ' br 0 end end local.get 1))', "f", [(10,)]),
    ('(module (func (export "f") (param i32) (local i32)'
     ' loop local.get 0 i32.const 1 i32.sub local.tee 0 br_if 0 end))', "f", [(7,)]),
    # br_table, nested blocks, select, return from deep inside
    ('(module (func (export "f") (param i32) (result i32)'
     ' block block block local.get 0 br_table 0 1 2 end i32.const 10 return end i32.const 20 return end'
     ' i32.const 30 i32.const 31 local.get 0 select))', "f", [(1,), (7,)]),
    # calls, recursion, call_indirect
    ('(module (func $fib (export "f") (param i32) (result i32) local.get 0 i32.const 2 i32.lt_u'
     ' if (result i32) local.get 0 else local.get 0 i32.const 1 i32.sub call $fib'
     ' local.get 0 i32.const 2 i32.sub call $fib i32.add end))', "f", [(12,)]),
    ('(module (type $t (func (param i32) (result i32))) (table 2 funcref) (elem (i32.const 0) $a $b)'
     ' (func $a (param i32) (result i32) local.get 0 i32.const 1 i32.add)'
     ' (func $b (param i32) (result i32) local.get 0 i32.const 2 i32.mul)'
     ' (func (export "f") (param i32) (result i32) local.get 0 local.get 0 i32.const 1 i32.and'
     ' call_indirect (type $t)))', "f", [(5,)]),
    # memory, globals, bulk operators with constant and dynamic lengths, grow
    ('(module (memory 1 4) (global $g (mut i32) (i32.const 0)) (data $d "hello")'
     ' (func (export "f") (param i32) (result i32) (local i32)'
     ' i32.const 8 local.set 1'
     ' i32.const 0 i32.const 7 local.get 0 memory.fill'
     ' i32.const 100 i32.const 0 i32.const 5 memory.copy'
     ' i32.const 200 i32.const 0 local.get 1 memory.copy'
     ' i32.const 300 i32.const 1 i32.const 3 memory.init $d'
     ' local.get 0 memory.grow global.set $g i32.const 1 memory.grow drop'
     ' i32.const 100 memory.grow drop'
     ' i32.const 0 i32.load global.get $g i32.add))', "f", [(40,)]),
    ('(module (table $t 4 10 funcref) (elem $e func $h $h) (func $h)'
     ' (func (export "f") (param i32) (result i32)'
     ' i32.const 0 ref.func $h local.get 0 table.fill $t'
     ' i32.const 1 i32.const 0 i32.const 2 table.copy'
     ' i32.const 0 i32.const 0 local.get 0 table.init $t $e'
     ' ref.null func local.get 0 table.grow $t ref.null func i32.const 100 table.grow $t i32.add))',
     "f", [(2,)]),
    # straight-line code ending in debt: only the entry checks
    ('(module (func (export "f") (result i32) i32.const 1 i32.const 2 i32.add i32.const 3 i32.mul))', "f", [()]),
]


#: every call of MODULES: (wat, export, args)
CALLS = [(wat, export, args) for wat, export, calls in MODULES for args in calls]


def _wasmtime_consumed(wat, export, args):
    engine, store = _wt_store()
    store.set_fuel(BIG)
    inst = wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
    before = store.get_fuel()
    result = inst.exports(store)[export](store, *args)
    return result, before - store.get_fuel()


def _pywazero_consumed(engine, wat, export, args):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, consume_fuel=True))
    rt.set_fuel(BIG)
    f = rt.instantiate(wat).function(export)
    before = rt.get_fuel()
    result = f(*args)
    return result, before - rt.get_fuel()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", range(len(CALLS)))
def test_hand_written_consumed(engine, case):
    wat, export, args = CALLS[case]
    assert _pywazero_consumed(engine, wat, export, args) == _wasmtime_consumed(wat, export, args)


# Exhaustion point: every budget from 0 to a little beyond what the call needs, with
# the side effects made before the trap (a global counting steps, memory) compared.
STEPPING = [
    # a loop that counts in a global: traps at a loop header
    '(module (global $n (export "n") (mut i32) (i32.const 0))'
    ' (func (export "f") (param i32) (local i32)'
    ' loop global.get $n i32.const 1 i32.add global.set $n'
    ' local.get 1 i32.const 1 i32.add local.tee 1 local.get 0 i32.lt_u br_if 0 end))',
    # calls: traps at a callee's entry
    '(module (global $n (export "n") (mut i32) (i32.const 0))'
    ' (func $step global.get $n i32.const 1 i32.add global.set $n)'
    ' (func (export "f") (param i32) call $step call $step local.get 0 drop call $step call $step))',
    # a dynamic-length fill is a check point too
    '(module (global $n (export "n") (mut i32) (i32.const 0)) (memory 1)'
    ' (func (export "f") (param i32) i32.const 1 global.set $n i32.const 0 i32.const 1 local.get 0 memory.fill'
    ' i32.const 2 global.set $n i32.const 0 i32.const 2 local.get 0 memory.fill i32.const 3 global.set $n))',
    # recursion without loops
    '(module (global $n (export "n") (mut i32) (i32.const 0))'
    ' (func $r (export "f") (param i32) global.get $n i32.const 1 i32.add global.set $n'
    ' local.get 0 if local.get 0 i32.const 1 i32.sub call $r end))',
]


def _wasmtime_outcome(wat, fuel, arg):
    engine, store = _wt_store()
    store.set_fuel(BIG)
    inst = wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
    store.set_fuel(fuel)
    try:
        inst.exports(store)["f"](store, arg)
        outcome = "ok"
    except wasmtime.Trap as e:
        outcome = "out of fuel" if "all fuel consumed" in str(e) else str(e)
    return outcome, store.get_fuel(), inst.exports(store)["n"].value(store)


def _pywazero_outcome(engine, wat, fuel, arg):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, consume_fuel=True))
    rt.set_fuel(BIG)
    m = rt.instantiate(wat)
    rt.set_fuel(fuel)
    try:
        m.function("f")(arg)
        outcome = "ok"
    except wz.Trap as e:
        outcome = "out of fuel" if e.reason == "all fuel consumed by WebAssembly" else e.reason
    return outcome, rt.get_fuel(), m.global_("n").value


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", range(len(STEPPING)))
def test_exhaustion_point_matches_wasmtime(engine, case):
    wat = STEPPING[case]
    arg = 5
    _, need = _wasmtime_consumed(wat, "f", (arg,))
    for fuel in range(0, need + 3):
        assert _pywazero_outcome(engine, wat, fuel, arg) == _wasmtime_outcome(wat, fuel, arg), fuel


def test_start_section_costs_as_in_wasmtime():
    wat = '(module (global (export "n") (mut i32) (i32.const 0)) (func $s i32.const 1 global.set 0) (start $s))'
    for fuel in range(0, 7):
        engine, store = _wt_store()
        store.set_fuel(fuel)
        try:
            wasmtime.Instance(store, wasmtime.Module(engine, wat), [])
            expected = ("ok", store.get_fuel())
        except wasmtime.Trap:
            expected = ("trap", store.get_fuel())
        for name in ENGINES:
            rt = wz.Runtime(wz.RuntimeConfig(engine=name, consume_fuel=True))
            rt.set_fuel(fuel)
            try:
                rt.instantiate(wat)
                got = ("ok", rt.get_fuel())
            except wz.Trap as e:
                assert "fuel" in e.reason
                got = ("trap", rt.get_fuel())
            assert got == expected, (name, fuel)


# -- the C WASI programs and the examples ------------------------------------------------

# Excluded: outputs that depend on the clock or on random bytes change what runs;
# ``files`` and ``readdir`` get answers from pywazero's WASI that differ from
# wasmtime's in ways the C library's work depends on (directory entries, file
# metadata), so the same program runs different code (their output agrees).
DETERMINISTIC = [c for c in harness.CASES if c.program not in ("clocks", "random", "files", "readdir")]


def _wasmtime_wasi_consumed(case, root, path):
    engine, store = _wt_store()
    store.set_fuel(BIG)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    wasi = wasmtime.WasiConfig()
    wasi.argv = [path] + case.args   # argv[0] as the CLI gives it (its length matters)
    wasi.env = list(case.env.items())
    io_dir = os.path.join(root, ".io")
    os.makedirs(io_dir, exist_ok=True)
    with open(os.path.join(io_dir, "stdin"), "wb") as f:
        f.write(case.stdin)
    wasi.stdin_file = os.path.join(io_dir, "stdin")
    wasi.stdout_file = os.path.join(io_dir, "stdout")
    wasi.stderr_file = os.path.join(io_dir, "stderr")
    wasi.preopen_dir(os.path.join(root, "work"), "/sandbox")
    if case.read_only_mount:
        wasi.preopen_dir(os.path.join(root, "ro"), "/ro", False)
    store.set_wasi(wasi)
    module = wasmtime.Module.from_file(engine, path)
    instance = linker.instantiate(store, module)
    before = store.get_fuel()
    status = "ok"
    try:
        instance.exports(store)["_start"](store)
    except wasmtime.ExitTrap as e:
        status = "exit %d" % e.code if e.code else "ok"
    except wasmtime.Trap:
        status = "trap"
    except wasmtime.WasmtimeError as e:
        status = "exit %s" % str(e).split("exit status")[1].split()[0] if "exit status" in str(e) else "trap"
        if status == "exit 0":
            status = "ok"
    with open(os.path.join(io_dir, "stdout"), "rb") as f:
        out = f.read()
    return status, out, before - store.get_fuel()


# What wasmtime's fd_fdstat_get says of stdio files (filetype unknown, only
# fd_read/fd_write rights); pywazero describes the real files.  The C library picks
# its buffering from it, so the fixture makes both runs take the same path.
_WT_STDIO_FDSTAT = {0: bytes.fromhex("000000000000000002000000000000000200000000000000"),
                    1: bytes.fromhex("000000000000000040000000000000004000000000000000"),
                    2: bytes.fromhex("000000000000000040000000000000004000000000000000")}


def _stdio_like_wasmtime(rt):
    mod = rt._modules.get("wasi_snapshot_preview1")
    if mod is None:
        return
    f = mod.exports["fd_fdstat_get"]
    raw = f.raw

    def fdstat(caller, args):
        res = raw(caller, args)
        fd, ptr = args
        if fd in _WT_STDIO_FDSTAT and res == [0]:
            mem = caller.exports["memory"].data
            mem[ptr:ptr + 24] = _WT_STDIO_FDSTAT[fd]
        return res

    f.raw = fdstat
    # wasmtime reads and writes one (the first non-empty) iovec per call; the C
    # library loops for the rest
    for name in ("fd_write", "fd_read", "fd_pwrite", "fd_pread"):
        _first_iovec_only(mod.exports[name])


def _first_iovec_only(f):
    raw = f.raw

    def call(caller, args):
        fd, iovs, n = args[0], args[1], args[2]
        mem = caller.exports["memory"].data
        for k in range(n):
            if int.from_bytes(mem[iovs + 8 * k + 4:iovs + 8 * k + 8], "little"):
                n = k + 1
                break
        return raw(caller, [fd, iovs, n] + list(args[3:]))

    f.raw = call


def _pywazero_wasi_consumed(engine, case, root, path):
    from pywazero import cli

    argv = ["run", "--fuel", str(BIG)] + harness.mount_args(case, root)
    for k, v in case.env.items():
        argv += ["--env", f"{k}={v}"]
    argv += ["--engine", engine, path, "--"] + case.args
    args = cli.build_parser().parse_args(argv)
    # real files, as wasmtime is given: the C library picks its buffering (and so
    # the code it runs) from what the descriptors are
    io_dir = os.path.join(root, ".io")
    os.makedirs(io_dir, exist_ok=True)
    with open(os.path.join(io_dir, "stdin"), "wb") as f:
        f.write(case.stdin)
    with open(os.path.join(io_dir, "stdin"), "rb") as fin, \
            open(os.path.join(io_dir, "stdout"), "w+b") as out, \
            open(os.path.join(io_dir, "stderr"), "w+b") as err:
        rt, compiled, mcfg = cli._prepare(args, fin, out, err)
        _stdio_like_wasmtime(rt)
        code = cli._execute(rt, compiled, mcfg, path, err)
        out.flush()
        out.seek(0)
        stdout = out.read()
    status = "ok" if code == 0 else ("trap" if code == 134 else "exit %d" % code)
    # (the instantiation itself runs no wasm for these programs: no start section)
    return status, stdout, BIG - rt.get_fuel()


def _two_trees(case, tmp_path):
    """Two identical work directories for ``case``: one for wasmtime, one for us."""
    trees = []
    for k in range(2):
        root = str(tmp_path / ("root%d" % k))
        harness.make_tree(case, root)
        trees.append(root)
    return trees


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", DETERMINISTIC, ids=lambda c: c.name)
def test_wasi_programs_consumed(engine, case, tmp_path):
    path = os.path.join(harness.BIN, case.program + ".wasm")
    trees = _two_trees(case, tmp_path)
    expected = _wasmtime_wasi_consumed(case, trees[0], path)
    got = _pywazero_wasi_consumed(engine, case, trees[1], path)
    if expected[0] == "trap":   # wasmtime's fuel after a trap is not meaningful
        assert got[:2] == expected[:2]
    else:
        assert got == expected


EXAMPLES = [("hello.wasm", b""), ("cat.wasm", b"some text for cat\n" * 50)]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e[0])
def test_examples_consumed(engine, example, tmp_path):
    name, stdin = example
    path = os.path.join(ROOT, "examples", name)
    case = harness.Case(name, name, stdin=stdin)
    trees = _two_trees(case, tmp_path)
    expected = _wasmtime_wasi_consumed(case, trees[0], path)
    assert expected[0] == "ok" and expected[2] > 0
    assert _pywazero_wasi_consumed(engine, case, trees[1], path) == expected


# -- random modules ----------------------------------------------------------------------

LOGGERS = (("log-i32", I32), ("log-i64", I64), ("log-f32", F32), ("log-f64", F64))
_WT_TYPES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64"}


def _fuzz_wasmtime(wasm):
    engine, store = _wt_store()
    store.set_fuel(BIG)
    module = wasmtime.Module(engine, wasm)
    imports = []
    for imp in module.imports:
        t = imp.type
        assert imp.module == "fuzzing-support" and isinstance(t, wasmtime.FuncType), imp.name
        imports.append(wasmtime.Func(store, t, lambda *a: None))
    inst = wasmtime.Instance(store, module, imports)
    return store, inst, [e.name for e in module.exports if isinstance(e.type, wasmtime.FuncType)]


def _fuzz_calls(wasm):
    """Per export call: (name, argument, fuel consumed) for calls that complete under
    wasmtime, and the list of all calls with their outcome."""
    store, inst, names = _fuzz_wasmtime(wasm)
    ex = inst.exports(store)
    out = []
    for name in names:
        if name == "hangLimitInitializer":
            continue
        f = ex[name]
        nparams = len(f.type(store).params)
        for arg in (0, 1):
            if "hangLimitInitializer" in names:
                ex["hangLimitInitializer"](store)
            args = [arg if str(p) in ("i32", "i64") else (0.0 if str(p) in ("f32", "f64") else None)
                    for p in f.type(store).params]
            before = store.get_fuel()
            try:
                f(store, *args)
                out.append((name, arg, before - store.get_fuel()))
            except wasmtime.Trap:
                out.append((name, arg, "trap"))
            if not nparams:
                break
    return out


def _fuzz_pywazero(engine, wasm, calls):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, consume_fuel=True))
    rt.set_fuel(BIG)
    hb = rt.host_module("fuzzing-support")
    for name, t in LOGGERS + (("log-v128", V128),):
        hb = hb.function(name, lambda *a: None, params=[t], raw=True)
    hb.instantiate()
    m = rt.instantiate(wasm, wz.ModuleConfig(start_functions=()))
    names = {e.name for e in m.instance.module.exports}
    out = []
    for name, arg, _ in calls:
        f = m.function(name)
        if "hangLimitInitializer" in names:
            m.function("hangLimitInitializer")()
        args = [arg if t in (I32, I64) else (0 if t in (F32, F64) else None) for t in f.type.params]
        before = rt.get_fuel()
        try:
            f.call_raw(*args) if hasattr(f, "call_raw") else f(*args)
            out.append((name, arg, before - rt.get_fuel()))
        except wz.Trap:
            out.append((name, arg, "trap"))
    return out


FUZZ_SEEDS = [int(s) for s in os.environ.get("PYWAZERO_FUEL_SEEDS", "0,1,2,3,4,5,6,7").split(",") if s]


@pytest.mark.skipif(WASM_OPT is None, reason="needs binaryen's wasm-opt (apt-get install binaryen)")
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_random_modules_consumed(engine, seed, tmp_path):
    wasm = make_module(seed, tmp_path)
    expected = _fuzz_calls(wasm)
    assert expected, "the module exports nothing to call"
    assert _fuzz_pywazero(engine, wasm, expected) == expected
