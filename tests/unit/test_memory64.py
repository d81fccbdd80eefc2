"""Multiple memories and memory64/table64 (WebAssembly 3.0): the API, host modules,
import matching, feature gating, and exact bounds checks on both engines.

The 64-bit memories here are small (a page or two) with large declared maxima:
what is tested above 4 GiB is the bounds check of addresses and offsets (which must
trap, never wrap), not allocation."""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.text.parser import parse_module_text
from pywazero.wasm.types import Limits, MemoryType, TableType

ENGINES = ["interpreter", "compiler"]
MM = wz.CoreFeatures.V2 | wz.CoreFeatures.MULTI_MEMORY
M64 = wz.CoreFeatures.V2 | wz.CoreFeatures.MEMORY64
BOTH = MM | wz.CoreFeatures.MEMORY64
U64 = (1 << 64) - 1
OOB = "out of bounds memory access"


def runtime(engine: str, features=BOTH, **kw) -> wz.Runtime:
    return wz.Runtime(wz.RuntimeConfig(engine=engine, core_features=features, **kw))


def instance(rt: wz.Runtime, wat: str):
    return rt.instantiate(rt.compile(wat))


MEM64_WAT = """
(module
  (memory $m (export "mem") i64 1 0x1_0000_0000)
  (data (memory $m) (i64.const 16) "\\01\\02\\03\\04\\05\\06\\07\\08")
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "load_off") (param i64) (result i32) (i32.load offset=0xFFFFFFFFFFFFFFFF (local.get 0)))
  (func (export "load_4g") (param i64) (result i32) (i32.load offset=0x100000000 (local.get 0)))
  (func (export "load8") (param i64) (result i32) (i32.load8_u (local.get 0)))
  (func (export "load64") (param i64) (result i64) (i64.load offset=8 (local.get 0)))
  (func (export "store") (param i64 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "store8") (param i64 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "store_off") (param i64 i32)
    (i32.store offset=0xFFFFFFFFFFFFFFF0 (local.get 0) (local.get 1)))
  (func (export "vload") (param i64) (result i32)
    (i32x4.extract_lane 0 (v128.load (local.get 0))))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_memory64_loads_stores_and_exact_bounds(engine):
    with runtime(engine) as rt:
        e = instance(rt, MEM64_WAT).exports
        assert e["load"](16) == 0x04030201
        assert e["load64"](8) == 0x0807060504030201
        e["store"](65532, 0xAABBCCDD)
        assert e["load"](65532) == 0xAABBCCDD - (1 << 32)   # i32 results are signed
        assert e["load8"](65535) == 0xAA
        # the last byte fits, one more does not; addresses beyond 4 GiB and near
        # 2^64 trap, and address + offset + size beyond 2^64 traps (never wraps)
        for f, arg in [("load", 65533), ("load", 1 << 32), ("load", (1 << 32) + 16),
                       ("load", U64 - 3), ("load", U64), ("load8", 65536), ("load8", 1 << 40),
                       ("load8", U64), ("load_off", 0), ("load_off", 1), ("load_off", U64),
                       ("load_4g", 0), ("load_4g", 16), ("load64", U64 - 7), ("load64", 65528),
                       ("vload", 65521), ("vload", 1 << 63), ("vload", U64)]:
            with pytest.raises(wz.Trap) as exc:
                e[f](arg)
            assert exc.value.reason == OOB, (f, arg)
        assert e["vload"](65520) & 0xFF == 0   # (the store above wrote 65532..65535)
        mem = e["mem"]
        before = mem.read(0, 65536)
        for f, a in [("store", 65533), ("store", 1 << 32), ("store", U64), ("store8", 65536),
                     ("store8", U64), ("store_off", 0), ("store_off", 16)]:
            with pytest.raises(wz.Trap) as exc:
                e[f](a, 0x7F7F7F7F)
            assert exc.value.reason == OOB, (f, a)
        assert mem.read(0, 65536) == before   # a trapping store writes nothing


@pytest.mark.parametrize("engine", ENGINES)
def test_memory64_size_grow_and_bulk(engine):
    with runtime(engine, memory_limit_pages=4) as rt:
        e = instance(rt, MEM64_WAT).exports
        assert e["size"]() == 1
        assert e["grow"](1) == 1
        assert e["size"]() == 2
        # beyond memory_limit_pages (and far beyond what could be allocated): i64 -1
        assert e["grow"](1 << 40) == -1
        assert e["grow"](U64) == -1
        assert e["grow"](3) == -1
        assert e["size"]() == 2
        mem = e["mem"]
        assert mem.pages == 2 and mem.size == 2 * 65536
        e["fill"](100, 0x5A, 4)
        assert mem.read(100, 4) == b"\x5a" * 4
        e["copy"](200, 100, 4)
        assert mem.read(200, 4) == b"\x5a" * 4
        for args in [(1 << 32, 0, 1), (0, 0, 1 << 32), (U64, 0, 1), (1, 0, U64),
                     (2 * 65536 - 3, 0, 4)]:
            with pytest.raises(wz.Trap) as exc:
                e["fill"](*args)
            assert exc.value.reason == OOB
        for args in [(0, 1 << 32, 1), (1 << 32, 0, 1), (0, 0, U64), (U64, U64, 1)]:
            with pytest.raises(wz.Trap) as exc:
                e["copy"](*args)
            assert exc.value.reason == OOB
        # zero-length operations at the end are fine, one byte past the end is not
        e["fill"](2 * 65536, 0, 0)
        with pytest.raises(wz.Trap):
            e["fill"](2 * 65536 + 1, 0, 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_table64(engine):
    wat = """
    (module
      (type $r (func (result i32)))
      (table $t (export "t") i64 3 10 funcref)
      (elem (table $t) (i64.const 1) func $seven)
      (func $seven (result i32) (i32.const 7))
      (func (export "size") (result i64) (table.size $t))
      (func (export "grow") (param i64) (result i64) (table.grow $t (ref.null func) (local.get 0)))
      (func (export "call") (param i64) (result i32) (call_indirect $t (type $r) (local.get 0)))
      (func (export "is_null") (param i64) (result i32) (ref.is_null (table.get $t (local.get 0))))
      (func (export "fill") (param i64 i64) (table.fill $t (local.get 0) (ref.null func) (local.get 1))))
    """
    with runtime(engine) as rt:
        e = instance(rt, wat).exports
        assert e["call"](1) == 7
        assert e["size"]() == 3
        assert e["is_null"](0) == 1 and e["is_null"](1) == 0
        for f, args in [("call", (3,)), ("call", (1 << 32,)), ("call", (U64,)),
                        ("is_null", (1 << 32 | 1,)), ("is_null", (U64,)),
                        ("fill", (U64, 1)), ("fill", (1, U64))]:
            with pytest.raises(wz.Trap):
                e[f](*args)
        assert e["call"](1) == 7    # the failed fills wrote nothing
        assert e["grow"](2) == 3
        assert e["grow"](1 << 40) == -1
        assert e["size"]() == 5
        t = e["t"]
        assert t.address_type == wz.I64 and t.type == TableType(wz.FUNCREF, Limits(5, 10), wz.I64)
        assert str(t.type) == "table i64 5..10 funcref"


@pytest.mark.parametrize("engine", ENGINES)
def test_multiple_memories(engine):
    wat = """
    (module
      (memory $a 1)
      (memory $b (export "b") 1 2)
      (memory $c i64 1)
      (data (memory $b) (i32.const 8) "hello")
      (data $p "world")
      (func (export "load_b") (param i32) (result i32) (i32.load8_u $b (local.get 0)))
      (func (export "store_a") (param i32 i32) (i32.store $a (local.get 0) (local.get 1)))
      (func (export "load_a") (param i32) (result i32) (i32.load 0 (local.get 0)))
      (func (export "b_to_c") (param i64 i32 i32) (memory.copy $c $b (local.get 0) (local.get 1) (local.get 2)))
      (func (export "c_to_a") (param i32 i64 i32) (memory.copy $a $c (local.get 0) (local.get 1) (local.get 2)))
      (func (export "load_c") (param i64) (result i64) (i64.load $c (local.get 0)))
      (func (export "init_c") (param i64) (memory.init $c $p (local.get 0) (i32.const 0) (i32.const 5)))
      (func (export "sizes") (result i32 i32 i64) (memory.size $a) (memory.size $b) (memory.size $c))
      (func (export "grow_b") (param i32) (result i32) (memory.grow $b (local.get 0)))
      (func (export "v_b") (param i32) (result i32)
        (i32x4.extract_lane 0 (v128.load $b offset=8 (local.get 0)))))
    """
    with runtime(engine) as rt:
        e = instance(rt, wat).exports
        assert bytes(e["load_b"](8 + i) for i in range(5)) == b"hello"
        assert e["v_b"](0) == int.from_bytes(b"hell", "little")
        e["store_a"](8, 0x01020304)
        assert e["load_a"](8) == 0x01020304
        assert e["load_b"](8) == ord("h")      # memory 0 and 1 are separate
        e["b_to_c"](100, 8, 5)
        e["init_c"](105)
        assert e["load_c"](100).to_bytes(8, "little") == b"hellowor"
        e["c_to_a"](0, 100, 10)
        assert e["load_a"](4) == int.from_bytes(b"owor", "little")
        assert e["sizes"]() == (1, 1, 1)
        assert e["grow_b"](1) == 1 and e["grow_b"](1) == -1
        assert e["sizes"]() == (1, 2, 1)
        with pytest.raises(wz.Trap):
            e["b_to_c"](65535, 0, 2)
        with pytest.raises(wz.Trap):
            e["c_to_a"](0, 1 << 32, 1)
        assert e["b"].read(8, 5) == b"hello"


@pytest.mark.parametrize("engine", ENGINES)
def test_budgets_cover_every_memory(engine):
    wat = "(module (memory 1 4) (memory i64 1 0x1000000) (func (export \"g\") (param i64) (result i64) (memory.grow 1 (local.get 0))))"
    with runtime(engine, max_memory_bytes=3 * 65536) as rt:
        g = instance(rt, wat).exports["g"]
        assert g(1) == 1        # 3 pages in all now
        assert g(1) == -1       # the budget counts both memories
    with runtime(engine, max_memory_bytes=65536) as rt:
        with pytest.raises(wz.ResourceLimitError):
            instance(rt, wat)


def test_memory_api_and_host_memory64():
    with runtime("interpreter") as rt:
        (rt.host_module("env")
         .memory("m64", 1, 1 << 40, address_type=wz.I64)
         .memory("m32", 1, 2)
         .table("t64", wz.FUNCREF, 2, address_type=wz.I64)
         .instantiate())
        wat = """(module
          (import "env" "m64" (memory $m i64 1))
          (import "env" "m32" (memory 1))
          (import "env" "t64" (table i64 1 funcref))
          (func (export "peek") (param i64) (result i32) (i32.load8_u $m (local.get 0)))
          (func (export "grow") (param i64) (result i64) (memory.grow $m (local.get 0))))"""
        e = instance(rt, wat).exports
        # the host memory as the API sees it
        host = rt.instantiate(rt.compile(
            '(module (import "env" "m64" (memory $m i64 1)) (export "m" (memory $m)))')).exports["m"]
        assert host.address_type == wz.I64 and host.max_pages == 1 << 40
        assert host.type == MemoryType(Limits(1, 1 << 40), wz.I64)
        assert str(host.type) == "memory i64 1..1099511627776"
        host.write(65535, b"\x09")
        assert e["peek"](65535) == 9
        assert e["grow"](1) == 1
        assert host.pages == 2 and host.size == 2 * 65536
        host.write_u64(2 * 65536 - 8, U64)
        assert host.read_u64(2 * 65536 - 8) == U64
        # offsets beyond 4 GiB (and beyond 2^64) are out of range, as ints
        for off in [1 << 32, (1 << 32) + 5, U64, 1 << 70]:
            with pytest.raises(IndexError):
                host.read(off, 1)
            with pytest.raises(IndexError):
                host.write(off, b"x")
        with pytest.raises(ValueError):
            rt.host_module("x").memory("m", 1, (1 << 48) + 1, address_type=wz.I64)
        with pytest.raises(ValueError):
            rt.host_module("x").memory("m", 1, 65537)
        with pytest.raises(ValueError):
            rt.host_module("x").memory("m", 1, address_type=0x7F7F)


def test_import_matching_checks_address_types():
    with runtime("interpreter") as rt:
        (rt.host_module("env")
         .memory("m32", 1).memory("m64", 1, address_type=wz.I64)
         .table("t32", wz.FUNCREF, 1).table("t64", wz.FUNCREF, 1, address_type=wz.I64)
         .instantiate())
        for imp in ['(memory i64 1)', '(table 1 funcref)']:
            with pytest.raises(wz.LinkError, match="incompatible import type"):
                instance(rt, f'(module (import "env" "{"m32" if "memory" in imp else "t64"}" {imp}))')
        for imp in ['(memory 1)', '(table i64 1 funcref)']:
            with pytest.raises(wz.LinkError, match="incompatible import type"):
                instance(rt, f'(module (import "env" "{"m64" if "memory" in imp else "t32"}" {imp}))')
        instance(rt, '(module (import "env" "m64" (memory i64 1)) (import "env" "t64" (table i64 1 funcref)))')


def test_feature_gating():
    two = "(module (memory 1) (memory 1))"
    m64 = "(module (memory i64 1))"
    t64 = "(module (table i64 1 funcref))"
    with runtime("interpreter", wz.CoreFeatures.V2) as rt:
        for wat, feature in [(two, "multi-memory"), (m64, "memory64"), (t64, "memory64")]:
            with pytest.raises(wz.ValidationError, match=f"requires the {feature} feature"):
                rt.compile(wat)
    with runtime("interpreter", MM) as rt:
        rt.compile(two)
        with pytest.raises(wz.ValidationError, match="memory64"):
            rt.compile(m64)
    with runtime("interpreter", M64) as rt:
        rt.compile(m64)
        rt.compile(t64)
        with pytest.raises(wz.ValidationError, match="multi-memory"):
            rt.compile(two)
        # i64 memories take i64 addresses and give i64 sizes
        with pytest.raises(wz.ValidationError, match="type mismatch"):
            rt.compile("(module (memory i64 1) (func (drop (i32.load (i32.const 0)))))")
        with pytest.raises(wz.ValidationError, match="type mismatch"):
            rt.compile("(module (memory i64 1) (func (result i32) (memory.size)))")
        with pytest.raises(wz.ValidationError, match="offset out of range"):
            rt.compile("(module (memory 1) (func (drop (i32.load offset=0x100000000 (i32.const 0)))))")
        with pytest.raises(wz.ValidationError, match="memory size"):
            rt.compile("(module (memory i64 0x1000000000001))")
        rt.compile("(module (memory i64 0 0x1000000000000))")   # 2^48 pages is the maximum


def test_binary_round_trip_and_2_0_format():
    wat = """(module (memory 1) (memory $b i64 1 0x100000000) (table i64 1 funcref)
      (func (param i64) (result i32)
        (i32.load $b offset=0x123456789 align=2 (local.get 0)))
      (func (memory.copy 0 1 (i32.const 0) (i64.const 0) (i32.const 0))
        (drop (memory.size 1))))"""
    m = parse_module_text(wat, BOTH)
    data = encode_module(m)
    back = decode_module(data, BOTH)
    assert back.mems == [MemoryType(Limits(1)), MemoryType(Limits(1, 1 << 32), wz.I64)]
    assert back.tables[0].address_type == wz.I64
    assert back.funcs[0].body[1] == (0x28, (1, 0x123456789, 1))   # align=2: exponent 1
    assert (0x3F, 1) in back.funcs[1].body
    # WebAssembly 2.0's binary format has no memory indices: the memarg flag bit and
    # the index byte of memory.size are malformed there
    with pytest.raises(wz.DecodeError):
        decode_module(data, wz.CoreFeatures.V2)
    # limits flag 0x04 decodes; the validator names the missing feature
    with runtime("interpreter", wz.CoreFeatures.V2) as rt:
        with pytest.raises(wz.ValidationError, match="memory64"):
            rt.compile(b"\0asm\1\0\0\0\x05\x03\x01\x04\x01")


def test_inspect_shows_64_bit_and_multiple_memories(tmp_path):
    import io

    from pywazero import cli

    path = tmp_path / "m.wat"
    path.write_text('(module (import "env" "m" (memory i64 1 2)) (memory 1) '
                    '(memory (export "big") i64 2 0x100000000) (table (export "t") i64 3 funcref))')
    out, err = io.BytesIO(), io.BytesIO()
    assert cli.main(["inspect", str(path)], stdin=io.BytesIO(), stdout=out, stderr=err) == 0, err.getvalue()
    text = out.getvalue().decode()
    assert "env.m: memory i64 min 1, max 2 (pages of 64 KiB)" in text
    assert "big: memory i64 min 2, max 4294967296" in text
    assert "t: table i64 funcref min 3" in text
    assert "memories (3):\n  0: i64 min 1, max 2 pages (imported)\n  1: min 1 pages\n" \
           "  2: i64 min 2, max 4294967296 pages\n" in text


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("segment, reason", [
    ('(memory i64 1) (data (i64.const 0x100000000) "x")', OOB),
    ('(memory i64 1) (data (i64.const -1) "x")', OOB),
    ('(memory i64 1) (data (i64.const 65535) "xy")', OOB),
    ('(table i64 1 funcref) (elem (i64.const -1) func $f) (func $f)', "out of bounds table access"),
    ('(table i64 1 funcref) (elem (i64.const 0x100000000) func $f) (func $f)', "out of bounds table access"),
])
def test_segments_beyond_4gib_trap_at_instantiation(engine, segment, reason):
    with runtime(engine) as rt:
        with pytest.raises(wz.Trap) as exc:
            instance(rt, f"(module {segment})")
        assert exc.value.reason == reason
        # in range, the same segments initialise (i64 offsets, no wrap-around)
        e = instance(rt, '(module (memory (export "m") i64 1) (data (i64.const 65535) "z"))').exports
        assert e["m"].read(65535, 1) == b"z"


@pytest.mark.parametrize("engine", ENGINES)
def test_failed_64_bit_grow_costs_no_fuel(engine):
    # a grow's dynamic length is charged only when it succeeds; -1 of a 64-bit
    # memory or table is 2^64-1, not 2^32-1
    wat = """(module (memory i64 1 4) (table i64 1 funcref)
      (func (export "g") (param i64) (result i64) (memory.grow (local.get 0)))
      (func (export "t") (param i64) (result i64) (table.grow (ref.null func) (local.get 0))))"""
    with runtime(engine, consume_fuel=True) as rt:
        rt.set_fuel(10_000)
        e = instance(rt, wat).exports
        assert e["g"](1 << 40) == -1
        assert e["t"](1 << 40) == -1
        assert rt.get_fuel() > 9_000
        assert e["g"](1) == 1
        with pytest.raises(wz.Trap, match="fuel"):
            e["t"](20_000)     # succeeds (no table cap in the way), then costs 20000


FUEL_CASES = [
    ('(memory i64 1 4) (func (export "f") (result i64) (memory.grow (i64.const 2)))', ()),
    ('(memory i64 1 4) (func (export "f") (result i64) (memory.grow (i64.const 9)))', ()),
    ('(memory i64 1 4) (func (export "f") (param i64) (result i64) (memory.grow (local.get 0)))', (2,)),
    ('(memory i64 1 4) (func (export "f") (param i64) (result i64) (memory.grow (local.get 0)))', (9,)),
    ('(memory i64 1 4) (func (export "f") (param i64) (result i64) (memory.grow (local.get 0)))', (1 << 40,)),
    ('(memory i64 1) (func (export "f") (memory.fill (i64.const 0) (i32.const 1) (i64.const 100)))', ()),
    ('(memory i64 1) (func (export "f") (param i64) (memory.fill (i64.const 0) (i32.const 1) (local.get 0)))',
     (100,)),
    ('(memory i64 1) (memory 1) (func (export "f") (memory.copy 1 0 (i32.const 0) (i64.const 0) (i32.const 50)))',
     ()),
    ('(table i64 1 funcref) (func (export "f") (result i64) (table.grow (ref.null func) (i64.const 3)))', ()),
    ('(table i64 1 funcref) (func (export "f") (table.fill (i64.const 0) (ref.null func) (i64.const 1)))', ()),
]


@pytest.mark.parametrize("wat, args", FUEL_CASES)
def test_fuel_of_64_bit_bulk_operators_as_wasmtime(wat, args):
    # the length operand of memory.grow/fill/copy and table.grow/fill is charged as
    # wasmtime charges it: an i64.const like an i32.const (statically), a dynamic one
    # once the operator succeeded
    wasmtime = pytest.importorskip("wasmtime")
    wat = f"(module {wat})"
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    cfg.wasm_memory64 = True
    cfg.wasm_multi_memory = True
    engine = wasmtime.Engine(cfg)
    store = wasmtime.Store(engine)
    store.set_fuel(10 ** 6)
    expected = wasmtime.Instance(store, wasmtime.Module(engine, wat), []).exports(store)["f"](store, *args)
    used = 10 ** 6 - store.get_fuel()
    for engine_name in ENGINES:
        with runtime(engine_name, consume_fuel=True) as rt:
            rt.set_fuel(10 ** 6)
            assert instance(rt, wat).exports["f"](*args) == expected
            assert 10 ** 6 - rt.get_fuel() == used, engine_name
