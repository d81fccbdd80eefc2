"""Memory and compile-time bombs: tiny or modest inputs that once cost gigabytes.

Each case runs in a child process (this file run as a script) under
``resource.setrlimit(RLIMIT_AS)`` with a timeout, on both engines, so a regression
fails the test instead of taking the machine down.  A case must end in a clear
error (CompileError, ResourceLimitError) or succeed within the limits; never a
MemoryError, RecursionError or hang.
"""
import json
import os
import subprocess
import sys
import time

import pytest

resource = pytest.importorskip("resource")  # (POSIX only)

ENGINES = ["compiler", "interpreter"]
GIB = 1 << 30
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


# -- binary module builders ------------------------------------------------------------
if __package__:
    from ._wasm_bytes import HEADER, section, uleb
else:   # run as a script (a case's child process, see run()): this folder is sys.path[0]
    from _wasm_bytes import HEADER, section, uleb


def one_function(body: bytes, locals_: bytes = b"\0") -> bytes:
    """A module exporting "f" of type [] -> [] with ``body`` (ending in ``end``)."""
    code = locals_ + body
    return (HEADER + section(1, b"\x01\x60\x00\x00") + section(3, b"\x01\x00")
            + section(7, b"\x01\x01f\x00\x00") + section(10, b"\x01" + uleb(len(code)) + code))


I32_CONST_1, DROP, END, I32_ADD = b"\x41\x01", b"\x1a", b"\x0b", b"\x6a"

RECIPES = {
    # a function declaring 4 million / 2^32-1 locals (36 and 37 bytes)
    "locals_4m": lambda: one_function(END, b"\x01" + uleb(4_000_000) + b"\x7f"),
    "locals_max": lambda: one_function(END, b"\x01" + uleb(2**32 - 1) + b"\x7f"),
    # a 750 KB function: 250,000 x (i32.const 1, drop)
    "big_function": lambda: one_function((I32_CONST_1 + DROP) * 250_000 + END),
    # a 1 MB function: one expression 330,000 additions long
    "deep_expression": lambda: one_function(
        b"\x20\x00" + b"\x20\x00\x6a" * 330_000 + DROP + END, b"\x01\x01\x7f"),
    # a 1 MB function: 330,000 values on the stack, then added up
    "deep_stack": lambda: one_function(I32_CONST_1 * 330_000 + I32_ADD * 329_999 + DROP + END),
    # 400,000 nested blocks (1.2 MB)
    "nested_blocks": lambda: one_function(b"\x02\x40" * 400_000 + END * 400_000 + END),
    # 100,000 nested loops and ifs
    "nested_loops": lambda: one_function(b"\x03\x40" * 100_000 + END * 100_000 + END),
    "nested_ifs": lambda: one_function(b"\x41\x01\x04\x40" * 100_000 + END * 100_000 + END),
    # br_table with a million targets (1 MB), and one at the limit (131,072)
    "br_table_huge": lambda: one_function(
        b"\x02\x40\x41\x00\x0e" + uleb(1_000_000) + b"\x00" * 1_000_001 + END + END),
    "br_table_limit": lambda: one_function(
        b"\x02\x40\x41\x00\x0e" + uleb(131_072) + b"\x00" * 131_073 + END + END),
    # counts past the implementation limits
    "types": lambda: HEADER + section(1, uleb(1_000_001) + b"\x60\x00\x00" * 1_000_001),
    "exports": lambda: (HEADER + section(1, b"\x01\x60\x00\x00") + section(3, b"\x01\x00")
                        + section(7, uleb(100_001) + b"".join(
                            uleb(len(b"%x" % i)) + b"%x" % i + b"\x00\x00" for i in range(100_001)))
                        + section(10, b"\x01\x02\x00\x0b")),
    "data_segments": lambda: (HEADER + section(5, b"\x01\x00\x01")
                              + section(11, uleb(100_001) + b"\x01\x00" * 100_001)),
    "element_segments": lambda: HEADER + section(9, uleb(100_001) + b"\x05\x70\x01\xd0\x70\x0b" * 100_001),
    "globals": lambda: HEADER + section(6, uleb(1_000_001) + b"\x7f\x00\x41\x00\x0b" * 1_000_001),
    # a 37-byte function with 49,000 i64 locals calling itself forever: 10,000 frames
    # of it would be 4 GB of locals
    "recursion_big_frames": lambda: one_function(b"\x10\x00\x0b", b"\x01" + uleb(49_000) + b"\x7e"),
    # at the function-count limit: proportional, so it compiles
    "many_functions": lambda: (HEADER + section(1, b"\x01\x60\x00\x00")
                               + section(3, uleb(300_000) + b"\x00" * 300_000)
                               + section(10, uleb(300_000) + b"\x02\x00\x0b" * 300_000)),
}

WAT = {
    "memory_max": '(module (memory 65536))',
    "grow_beyond_host": ('(module (memory 1) (func (export "f") (result i32)'
                         ' (memory.grow (i32.const 65535))))'),
    "table_max": '(module (table 0xffffffff funcref))',
    "fill_copy_1gib": ('(module (memory (export "m") 16384) (func (export "f")'
                       ' (memory.fill (i32.const 0) (i32.const 0xab) (i32.const 0x40000000))'
                       ' (memory.copy (i32.const 1) (i32.const 0) (i32.const 0x3fffffff))'
                       ' (memory.copy (i32.const 0) (i32.const 7) (i32.const 0x3ffffff0))))'),
}


def child(recipe: str, engine: str, limit: int) -> None:
    """Run one case (in the child process) and print its outcome as JSON."""
    import faulthandler

    # a hang shows where it is (on stderr, which the parent reports) and ends the child
    faulthandler.dump_traceback_later(float(os.environ.get("BOMB_TIMEOUT", "200")), exit=True)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sys.path.insert(0, SRC)
    import pywazero as wz

    source = RECIPES[recipe]() if recipe in RECIPES else WAT[recipe]
    out = {"outcome": "ok"}
    try:
        rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
        m = rt.instantiate(source)
        if "f" in m.instance.export_kinds:
            result = m.function("f")()
            out["result"] = result
        if recipe == "fill_copy_1gib":
            mem = m.memory("m")
            out["probe"] = [mem.read(0, 8).hex(), mem.read(0x3FFFFFF0, 16).hex()]
    except (wz.CompileError, wz.LinkError, wz.Trap) as e:
        out = {"outcome": type(e).__name__, "message": str(e)[:300],
               "limit": getattr(e, "limit", None)}
    except BaseException as e:  # noqa: BLE001 - reported to the parent as a failure
        import traceback

        out = {"outcome": "unexpected " + type(e).__name__, "message": str(e)[:300],
               "where": traceback.format_exc()[-1500:]}
    out["maxrss_mb"] = _peak_rss_mb()
    print(json.dumps(out))


def _peak_rss_mb() -> int:
    """This process's own peak resident memory.  Linux's ru_maxrss is not it: exec
    records the forking parent's peak into it, so a child of a big test worker would
    report the worker's size; VmHWM belongs to the process's own address space."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def run(recipe: str, engine: str, limit: int = GIB, timeout: float = 240) -> dict:
    start = time.monotonic()
    env = dict(os.environ)
    if sys.implementation.name == "pypy":
        # PyPy sizes its nursery from the CPU's last-level cache: half of a 480 MiB
        # L3 is a 240 MB nursery, in every child's resident memory and address
        # space, which alone breaks the bounds checked here.  A nursery of a usual
        # machine's size keeps them about pywazero's memory, on any CPU.
        env.setdefault("PYPY_GC_NURSERY", "4MB")
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), recipe, engine, str(limit)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["seconds"] = time.monotonic() - start
    return out


# -- refused fast ----------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("recipe, words", [
    ("locals_4m", "too many locals"),
    ("locals_max", "too many locals"),
    ("br_table_huge", "too many br_table targets"),
    ("types", "too many types"),
    ("exports", "too many exports"),
    ("data_segments", "too many data segments"),
    ("element_segments", "too many element segments"),
    ("globals", "too many globals"),
])
def test_counts_past_the_implementation_limits_are_compile_errors(recipe, engine, words):
    out = run(recipe, engine)
    assert out["outcome"] == "ValidationError", out
    assert words in out["message"], out


# -- compiled and run in bounded memory ------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("recipe", ["big_function", "deep_expression", "deep_stack", "nested_blocks",
                                    "nested_loops", "nested_ifs", "br_table_limit", "many_functions"])
def test_large_bodies_compile_and_run_in_bounded_memory(recipe, engine, request):
    if sys.implementation.name == "pypy" and (recipe, engine) == ("nested_blocks", "interpreter"):
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "known PyPy limitation: the interpreter's translation of 10^5 nested blocks "
            "peaks at ~840 MB resident on PyPy (its GC lets garbage grow), over the 600 MB bound")))
    out = run(recipe, engine, limit=GIB)
    assert out["outcome"] == "ok", out
    assert out["maxrss_mb"] < 600, out


@pytest.mark.parametrize("engine", ENGINES)
def test_recursion_of_huge_frames_traps_in_bounded_memory(engine):
    out = run("recursion_big_frames", engine, limit=GIB)
    assert out["outcome"] == "Trap" and "call stack exhausted" in out["message"], out
    assert out["maxrss_mb"] < 600, out


def test_big_frames_recurse_normally_within_the_slot_limit():
    sys.path.insert(0, SRC)
    import pywazero as wz
    from pywazero.wasm import impl_limits as L

    nlocals = 5000
    depth = L.INTERPRETER_MAX_STACK_SLOTS // (nlocals + 1)
    src = ("(module (func $f (export \"f\") (param i32) (result i32) (local %s)"
           " (if (result i32) (local.get 0) (then (call $f (i32.sub (local.get 0) (i32.const 1))))"
           " (else (i32.const 7)))))" % " ".join(["i64"] * (nlocals - 1)))
    for engine in ENGINES:
        rt = wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=100_000))
        f = rt.instantiate(src).function("f")
        assert f(100) == 7
        if engine == "interpreter":
            assert f(depth - 10) == 7
            with pytest.raises(wz.Trap, match="call stack exhausted"):
                f(depth + 10)


# -- allocation ------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_memory_the_host_cannot_allocate_is_a_resource_limit_error(engine):
    out = run("memory_max", engine, limit=GIB)
    assert out["outcome"] == "ResourceLimitError", out
    assert out["limit"] == "host memory" and "65536 pages" in out["message"], out


@pytest.mark.parametrize("engine", ENGINES)
def test_grow_the_host_cannot_allocate_returns_minus_one(engine):
    out = run("grow_beyond_host", engine, limit=GIB)
    assert out == {**out, "outcome": "ok", "result": -1}, out


@pytest.mark.parametrize("engine", ENGINES)
def test_table_of_2_to_the_32_is_refused(engine):
    out = run("table_max", engine, limit=GIB)
    assert out["outcome"] == "ResourceLimitError" and out["limit"] == "max_table_elements", out


@pytest.mark.parametrize("engine", ENGINES)
def test_fill_and_copy_of_a_gibibyte_need_no_big_temporaries(engine):
    # the memory itself is 1 GiB: a 1 GiB temporary would not fit in 1.5 GiB
    out = run("fill_copy_1gib", engine, limit=GIB + GIB // 2)
    assert out["outcome"] == "ok", out
    # fill 0xab everywhere; copy by +1 keeps 0xab; copy from 7 down to 0 too
    assert out["probe"] == ["ab" * 8, "ab" * 16], out


def test_documented_implementation_limits():
    sys.path.insert(0, SRC)
    from pywazero.wasm import impl_limits as L

    # the JS API's numbers (and wasmparser's where it has none)
    assert (L.MAX_TYPES, L.MAX_FUNCTIONS, L.MAX_IMPORTS, L.MAX_EXPORTS, L.MAX_GLOBALS) == (
        1_000_000, 1_000_000, 100_000, 100_000, 1_000_000)
    assert (L.MAX_DATA_SEGMENTS, L.MAX_ELEMENT_SEGMENTS, L.MAX_TABLES, L.MAX_MEMORIES) == (
        100_000, 100_000, 100, 100)
    assert (L.MAX_FUNCTION_LOCALS, L.MAX_FUNCTION_PARAMS, L.MAX_FUNCTION_RESULTS) == (50_000, 1000, 1000)
    assert (L.MAX_FUNCTION_SIZE, L.MAX_BR_TABLE_TARGETS, L.MAX_SEGMENT_ITEMS) == (
        7_654_321, 131_072, 10_000_000)


@pytest.mark.parametrize("name, ok, bad, words", [
    ("MAX_FUNCTIONS", '(import "m" "f" (func)) (func) (func)',
     '(import "m" "f" (func)) (func) (func) (func)', "too many functions"),
    ("MAX_IMPORTS", '(import "m" "a" (func)) (import "m" "b" (global i32)) (import "m" "c" (func))',
     '(import "m" "a" (func)) (import "m" "b" (global i32)) (import "m" "c" (func)) '
     '(import "m" "d" (memory 1))', "too many imports"),
    ("MAX_TABLES", "(table 0 funcref) (table 0 funcref) (table 0 funcref)",
     "(table 0 funcref) (table 0 funcref) (table 0 funcref) (table 0 funcref)", "too many tables"),
    ("MAX_FUNCTION_PARAMS", "(func (param i32 i32 i32))", "(func (param i32 i32 i32 i32))",
     "too many parameters"),
    ("MAX_FUNCTION_RESULTS", "(func (result i32 i32 i32) unreachable)",
     "(func (result i32 i32 i32 i32) unreachable)", "too many results"),
    ("MAX_FUNCTION_SIZE", "(func nop nop)", "(func nop nop nop)", "function too large"),
    ("MAX_SEGMENT_ITEMS", "(func $f) (elem func $f $f $f)", "(func $f) (elem func $f $f $f $f)",
     "too many items"),
    ("MAX_FUNCTION_LOCALS", "(func (param i32) (local i32 i32))", "(func (param i32) (local i32 i32 i32))",
     "too many locals"),
])
def test_each_implementation_limit_is_enforced(monkeypatch, name, ok, bad, words):
    """(with the limit lowered to 3, so the modules stay small)"""
    sys.path.insert(0, SRC)
    import pywazero as wz
    from pywazero.wasm import impl_limits as L

    monkeypatch.setattr(L, name, 3)
    rt = wz.Runtime()
    rt.compile("(module %s)" % ok)
    with pytest.raises(wz.ValidationError, match=words):
        rt.compile("(module %s)" % bad)


def test_compiler_hands_huge_functions_to_the_interpreter():
    sys.path.insert(0, SRC)
    import pywazero as wz
    from pywazero.wasm import impl_limits as L

    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler"))
    body = (I32_CONST_1 + DROP) * (L.COMPILER_MAX_INSTRUCTIONS // 2 + 1) + END
    deep = b"\x02\x40" * (L.COMPILER_MAX_DEPTH + 1) + END * (L.COMPILER_MAX_DEPTH + 2)
    many_locals = one_function(END, b"\x01" + uleb(L.COMPILER_MAX_LOCALS + 1) + b"\x7f")
    for source, words in [(one_function(body), "instructions"), (one_function(deep), "nested"),
                          (many_locals, "locals")]:
        cm = rt.compile(source)
        rt.instantiate(cm).function("f")()
        reasons = cm._engine_code().fallback_reasons
        assert list(reasons) == [0] and words in reasons[0], reasons
    small = rt.compile(one_function(b"\x02\x40" * 50 + END * 51))
    rt.instantiate(small).function("f")()
    assert small._engine_code().fallback_reasons == {}


def test_running_out_of_host_memory_is_a_clear_error(monkeypatch):
    """Within the limits a module costs memory in proportion to its size, but a host
    may still run out: compile and instantiate say so with their own errors."""
    sys.path.insert(0, SRC)
    import pywazero as wz
    from pywazero import runtime as runtime_module
    from pywazero.wasm import validation

    rt = wz.Runtime()

    def no_memory(*args, **kwargs):
        raise MemoryError

    with monkeypatch.context() as m:
        m.setattr(validation, "validate_module", no_memory)
        with pytest.raises(wz.CompileError, match="ran out of memory"):
            rt.compile("(module)")
    cm = rt.compile("(module (func (export \"f\")))")
    with monkeypatch.context() as m:
        m.setattr(runtime_module, "instantiate", no_memory)
        with pytest.raises(wz.ResourceLimitError, match="ran out of memory") as info:
            rt.instantiate(cm)
        assert info.value.limit == "host memory"
    rt.instantiate(cm).function("f")()


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2], int(sys.argv[3]))
