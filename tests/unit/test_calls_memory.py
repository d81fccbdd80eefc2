"""Calls and memory access on both engines: call_indirect through tables that change
between calls (the compiler caches checked callees per function instance), and
loads/stores of every width at every alignment, at the memory's edges and across
``memory.grow`` (the compiler reads and writes through typed memoryviews on CPython,
through struct elsewhere: both schemes are run).  Expected values are worked out
here with ``struct``, independently of either engine."""
from __future__ import annotations

import math
import struct

import pytest

import pywazero as wz
from pywazero.engine import compiler as C
from pywazero.engine.compiler import codegen

ENGINES = ["interpreter", "compiler"]
# the compiler with each memory scheme (views are only used where they are correct)
SCHEMES = [("interpreter", False), ("compiler", False), ("compiler", True)]


@pytest.fixture(params=SCHEMES, ids=["interpreter", "compiler-struct", "compiler-views"])
def rt(request, monkeypatch):
    engine, views = request.param
    monkeypatch.setattr(codegen, "MEMORY_VIEWS", views)
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as r:
        yield r


# -- call_indirect ------------------------------------------------------------------

TABLE = """
(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (import "env" "host" (func $host (type $ii)))
  (table $t (export "t") 5 10 funcref)
  (func $inc (export "inc") (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $ii) (i32.mul (local.get 0) (i32.const 2)))
  (func $nop (type $v))
  (elem $e func $dbl $inc)
  (elem (i32.const 0) $inc $dbl $nop $host)
  (func (export "call") (param i32 i32) (result i32)
    (call_indirect (type $ii) (local.get 1) (local.get 0)))
  (func (export "sum") (param $i i32) (param $n i32) (result i32) (local $s i32)
    ;; calls slot $i n times: a hot call site
    (block (loop
      (br_if 1 (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s)
        (call_indirect (type $ii) (local.get $n) (local.get $i))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br 0)))
    (local.get $s))
  (func (export "copy") (param i32 i32) (table.set (local.get 0) (table.get (local.get 1))))
  (func (export "null") (param i32) (table.set (local.get 0) (ref.null func)))
  (func (export "grow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "fill") (param i32 i32 i32)
    (table.fill (local.get 0) (table.get (local.get 1)) (local.get 2)))
  (func (export "tcopy") (param i32 i32 i32) (table.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32) (table.init $e (local.get 0) (i32.const 0) (i32.const 2)))
)
"""

# a second module sharing the table and writing its own function into it
WRITER = """
(module
  (type $ii (func (param i32) (result i32)))
  (import "m" "t" (table $t 5 funcref))
  (func $neg (type $ii) (i32.sub (i32.const 0) (local.get 0)))
  (func (export "put") (param i32) (table.set (local.get 0) (ref.func $neg)))
  (elem declare func $neg)
)
"""


def outcome(f, *args):
    try:
        return f(*args)
    except wz.Trap as e:
        return e.reason


@pytest.mark.parametrize("engine", ENGINES)
def test_call_indirect_follows_every_table_write(engine):
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
        rt.host_module("env").function("host", lambda x: x + 100, params=[wz.I32],
                                       results=[wz.I32]).instantiate()
        m = rt.instantiate(TABLE)
        rt.register("m", m)
        w = rt.instantiate(WRITER)
        call = m.function("call")
        for _ in range(2):   # the second round hits the compiler's caches
            assert [outcome(call, i, 5) for i in range(6)] == [
                6, 10, "indirect call type mismatch", 105, "uninitialized element", "undefined element"]
        assert m.function("sum")(0, 4) == 5 + 4 + 3 + 2   # inc of 4..1
        m.function("copy")(0, 1)             # slot 0: $dbl
        assert call(0, 5) == 10
        assert m.function("sum")(0, 4) == 20
        m.function("copy")(0, 2)             # slot 0: $nop, the wrong type
        assert outcome(call, 0, 5) == "indirect call type mismatch"
        m.function("null")(1)
        assert outcome(call, 1, 5) == "uninitialized element"
        assert outcome(m.function("sum"), 1, 3) == "uninitialized element"
        assert m.function("grow")(2) == 5
        assert outcome(call, 5, 5) == "uninitialized element"
        assert outcome(call, 7, 5) == "undefined element"
        m.function("fill")(4, 3, 3)          # slots 4-6: $host
        assert [call(i, 1) for i in (4, 5, 6)] == [101, 101, 101]
        m.function("tcopy")(5, 0, 1)         # slot 5: $nop again
        assert outcome(call, 5, 1) == "indirect call type mismatch"
        m.function("init")(5)                # slots 5, 6: $dbl $inc
        assert (call(5, 7), call(6, 7)) == (14, 8)
        w.function("put")(6)                 # another instance writes the shared table
        assert call(6, 7) == -7   # (the API gives i32 results signed)
        assert m.function("sum")(6, 2) == -3
        m.table("t").set(6, m.function("inc"))  # and the API
        assert call(6, 7) == 8
        m.table("t").set(6, None)
        assert outcome(call, 6, 7) == "uninitialized element"


def test_call_indirect_cache_is_per_instance_and_checked():
    """The same function instance reached from two instances' caches; a function of
    the same type from another module passes the check."""
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as rt:
        rt.host_module("env").function("host", lambda x: x * 3, params=[wz.I32],
                                       results=[wz.I32]).instantiate()
        a = rt.instantiate(TABLE)
        b = rt.instantiate(TABLE)
        assert (a.function("call")(3, 2), b.function("call")(3, 2)) == (6, 6)
        b.table("t").set(0, a.function("inc"))
        assert b.function("sum")(0, 3) == 4 + 3 + 2
        assert b.function("call")(0, 1) == 2
        # the caches live in each instance's namespace and hold checked callees only
        caches = {k: v for k, v in b.instance.engine_data.items() if k.startswith("_CI") and k[3].isdigit()}
        assert caches and all(isinstance(v, C._CalleeCache) for v in caches.values())
        assert all(f.type == v.ft for v in caches.values() for f in v)


def test_call_ref_cache_traps_on_null():
    src = """
    (module
      (type $ii (func (param i32) (result i32)))
      (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
      (elem declare func $inc)
      (table $t 2 (ref null $ii))
      (func (export "set") (table.set $t (i32.const 0) (ref.func $inc)))
      (func (export "go") (param i32) (result i32)
        (call_ref $ii (local.get 0) (table.get $t (i32.const 0)))))
    """
    for engine in ENGINES:
        with wz.Runtime(wz.RuntimeConfig(engine=engine)) as rt:
            m = rt.instantiate(src)
            assert outcome(m.function("go"), 1) == "null function reference"
            m.function("set")()
            assert [m.function("go")(k) for k in (1, 2)] == [2, 3]


# -- loads and stores -----------------------------------------------------------------

MEM = """
(module
  (memory (export "mem") 1 4)
  (func (export "l32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "l32o") (param i32) (result i32) (i32.load offset=3 (local.get 0)))
  (func (export "l64") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "l16s") (param i32) (result i32) (i32.load16_s (local.get 0)))
  (func (export "l16u") (param i32) (result i32) (i32.load16_u (local.get 0)))
  (func (export "l8s") (param i32) (result i32) (i32.load8_s (local.get 0)))
  (func (export "l64_8s") (param i32) (result i64) (i64.load8_s (local.get 0)))
  (func (export "l64_16s") (param i32) (result i64) (i64.load16_s (local.get 0)))
  (func (export "l64_32s") (param i32) (result i64) (i64.load32_s (local.get 0)))
  (func (export "l64_32u") (param i32) (result i64) (i64.load32_u (local.get 0)))
  (func (export "lf64") (param i32) (result i64) (i64.reinterpret_f64 (f64.load (local.get 0))))
  (func (export "lf32") (param i32) (result i32) (i32.reinterpret_f32 (f32.load (local.get 0))))
  (func (export "s32") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "s64") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "s16") (param i32 i32) (i32.store16 (local.get 0) (local.get 1)))
  (func (export "s64_32") (param i32 i64) (i64.store32 (local.get 0) (local.get 1)))
  (func (export "sf64") (param i32 i64) (f64.store (local.get 0) (f64.reinterpret_i64 (local.get 1))))
  (func (export "sf32") (param i32 i32) (f32.store (local.get 0) (f32.reinterpret_i32 (local.get 1))))
  ;; an address computed in the function (wrapping i32.add) and a constant one
  (func (export "wrap") (param i32) (result i32)
    (i32.load (i32.add (local.get 0) (i32.const 8))))
  (func (export "const") (result i64) (i64.load (i32.const 65527)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_and_touch") (param i32) (result i32)
    ;; grows, then stores and loads in the new page in the same call
    (drop (memory.grow (i32.const 1)))
    (i32.store (local.get 0) (i32.const 0x01020304))
    (i32.load (local.get 0)))
)
"""

LOADS = {  # export: (struct format of the stored bytes, width, result bits)
    "l32": ("<I", 4, 32), "l64": ("<Q", 8, 64), "l16s": ("<h", 2, 32), "l16u": ("<H", 2, 32),
    "l8s": ("<b", 1, 32), "l64_8s": ("<b", 1, 64), "l64_16s": ("<h", 2, 64),
    "l64_32s": ("<i", 4, 64), "l64_32u": ("<I", 4, 64), "lf64": ("<Q", 8, 64),
    "lf32": ("<I", 4, 32),
}
PATTERN = bytes((i * 37 + 11) & 0xFF for i in range(64)) + bytes(range(0xF0, 0x100)) * 4


def expected_load(data: bytes, a: int, fmt: str, bits: int) -> int:
    return struct.unpack_from(fmt, data, a)[0] & ((1 << bits) - 1)


def test_loads_at_every_alignment(rt):
    m = rt.instantiate(MEM)
    mem = m.memory("mem")
    base = 65536 - len(PATTERN)
    mem.write(base, PATTERN)
    data = bytes(65536 - len(PATTERN)) + PATTERN
    for name, (fmt, width, bits) in LOADS.items():
        f = m.function(name)
        for a in list(range(base, base + 17)) + list(range(65536 - width - 8, 65536 - width + 1)):
            assert f(a) & ((1 << bits) - 1) == expected_load(data, a, fmt, bits), (name, a)
        for a in range(65536 - width + 1, 65536 + 2):
            assert outcome(f, a) == "out of bounds memory access", (name, a)
        assert outcome(f, 0xFFFFFFFF) == "out of bounds memory access"
    # the offset is added without wrapping; the i32.add in the address wraps
    assert m.function("l32o")(65529) & 0xFFFFFFFF == expected_load(data, 65532, "<I", 32)
    assert outcome(m.function("l32o"), 65530) == "out of bounds memory access"
    assert outcome(m.function("l32o"), 0xFFFFFFFE) == "out of bounds memory access"
    mem.write(0, b"\x05\x06\x07\x08")
    assert m.function("wrap")(0xFFFFFFF8) == 0x08070605
    assert m.function("const")() & (1 << 64) - 1 == expected_load(data, 65527, "<Q", 64)


STORES = {  # export: (struct format, value bits)
    "s32": ("<I", 32), "s64": ("<Q", 64), "s16": ("<H", 16), "s64_32": ("<I", 32),
    "sf64": ("<Q", 64), "sf32": ("<I", 32),
}


def test_stores_at_every_alignment(rt):
    m = rt.instantiate(MEM)
    mem = m.memory("mem")
    for name, (fmt, bits) in STORES.items():
        f = m.function(name)
        width = struct.calcsize(fmt)
        value = 0x8877665544332211F0E0D0C0B0A09080 & ((1 << 64) - 1)
        arg = value if name in ("s64", "s64_32", "sf64") else value & 0xFFFFFFFF
        for a in list(range(100, 109)) + [65536 - width]:
            want = b"\0" + struct.pack(fmt, arg & ((1 << bits) - 1))
            if a + width < 65536:
                want += b"\0"
            mem.write(a - 1, bytes(len(want)))
            f(a, arg)
            assert mem.read(a - 1, len(want)) == want, (name, a)
        before = mem.read(65536 - 16, 16)
        for a in range(65536 - width + 1, 65536 + 1):
            assert outcome(f, a, arg) == "out of bounds memory access", (name, a)
        assert mem.read(65536 - 16, 16) == before   # a trapping store writes nothing


def test_nan_payloads_survive_memory(rt):
    m = rt.instantiate(MEM)
    for bits in (0x7FF0000000000001, 0xFFF4000000000ABC, 0x7FF8000000000000):
        for a in (8, 13):
            m.function("sf64")(a, bits)
            assert m.function("lf64")(a) & (1 << 64) - 1 == bits
    for bits in (0x7F800001, 0xFFA00ABC):
        for a in (8, 13):
            m.function("sf32")(a, bits)
            assert m.function("lf32")(a) & 0xFFFFFFFF == bits


def test_loads_and_stores_follow_memory_grow(rt):
    m = rt.instantiate(MEM)
    mem = m.memory("mem")
    l32, s32 = m.function("l32"), m.function("s32")
    s32(65532, 0xDEADBEEF)
    assert outcome(l32, 65536) == "out of bounds memory access"   # (views made, if any)
    assert m.function("grow")(1) == 1                             # grown by wasm
    s32(65534, 0x11223344)
    assert l32(65534) == 0x11223344 and l32(65532) == 0x33440000 | 0xBEEF
    assert l32(2 * 65536 - 4) == 0
    assert outcome(l32, 2 * 65536 - 3) == "out of bounds memory access"
    assert mem.grow(1) == 2                                       # by the API
    s32(3 * 65536 - 4, 7)
    assert mem.read(3 * 65536 - 4, 4) == b"\x07\0\0\0"
    assert m.function("grow_and_touch")(3 * 65536 + 1) == 0x01020304
    assert m.function("grow")(1) == -1                           # past the maximum
    assert outcome(l32, 4 * 65536 - 3) == "out of bounds memory access"
    assert m.function("lf64")(4 * 65536 - 8) == 0


def test_memory_grown_by_an_importer_is_seen_by_the_exporter(rt):
    a = rt.instantiate(MEM)
    rt.register("a", a)
    b = rt.instantiate("""
    (module (import "a" "mem" (memory 1))
      (func (export "grow") (result i32) (memory.grow (i32.const 2)))
      (func (export "put") (param i32 i64) (i64.store (local.get 0) (local.get 1))))""")
    a.function("s64")(8, 5)          # the exporter's code runs first
    assert b.function("grow")() == 1
    b.function("put")(3 * 65536 - 9, 0x0102030405060708)
    assert a.function("l64")(3 * 65536 - 9) == 0x0102030405060708
    assert a.function("l16u")(3 * 65536 - 3) == 0x0102
    assert outcome(a.function("l64"), 3 * 65536 - 7) == "out of bounds memory access"


def test_memory64_addresses_beyond_the_index_range_trap(rt):
    m = rt.instantiate("""
    (module (memory i64 1)
      (func (export "l") (param i64) (result i64) (i64.load offset=0xFFFFFFFFFFFFFFF0 (local.get 0)))
      (func (export "s") (param i64) (f64.store (local.get 0) (f64.const 1.5)))
      (func (export "g") (param i64) (result f64) (f64.load (local.get 0))))""")
    for a in (0, 8, 0xFFFFFFFFFFFFFFFF):
        assert outcome(m.function("l"), a) == "out of bounds memory access"
    m.function("s")(65528)
    assert m.function("g")(65528) == 1.5
    for a in (65529, 1 << 40, (1 << 64) - 1):
        assert outcome(m.function("s"), a) == "out of bounds memory access"
        assert outcome(m.function("g"), a) == "out of bounds memory access"
    assert not math.isnan(m.function("g")(0))


def test_views_are_used_only_where_chosen(monkeypatch):
    src = "(module (memory 1) (func (export \"f\") (param i32) (result i32) (i32.load (local.get 0))))"
    for views in (False, True):
        monkeypatch.setattr(codegen, "MEMORY_VIEWS", views)
        with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as rt:
            text = C.dump(rt.compile(src), 0)
            assert ("_VI0[" in text) == views and ("_lI(" in text) != views


# -- host functions -------------------------------------------------------------------

RETURNS = [0, 5, -1, 2**31 - 1, -2**31, 2**32 - 1, 2**32, -2**31 - 1, 2**63, -2**63, 2**64 - 1, 2**64,
           True, 1.5, -0.0, float("inf"), 10**400, "x", None, (7,), [7], (1, 2), [], (2.5,), object()]


def _host_outcome(make, t_params, t_result, ret, args):
    from pywazero.host import make_host_function

    seen = []

    def fn(*a):
        seen.append(a)
        return ret

    hf = make_host_function(fn, t_params, [t_result] if t_result is not None else [], name="h")
    try:
        out = hf.raw(None, list(args))
    except Exception as e:  # noqa: BLE001 - compared by type and message
        out = (type(e).__name__, str(e))
    return seen, out


@pytest.mark.parametrize("t_result", [None, wz.I32, wz.I64, wz.F32, wz.F64, wz.EXTERNREF])
def test_host_functions_written_out_convert_as_the_generic_path(monkeypatch, t_result):
    """make_host_function writes ``call`` out per signature; the generic ``call`` is
    the reference: same arguments seen by the Python function, same results, same
    errors."""
    from pywazero import host

    params = [wz.I32, wz.I64, wz.F32, wz.F64]
    raw_args = [0xFFFFFFFF, 0x8000000000000000, 1.5, float("-inf")]
    for ret in RETURNS:
        special = _host_outcome(None, params, t_result, ret, raw_args)
        monkeypatch.setattr(host, "_MAX_SPECIALISED", -1)
        generic = _host_outcome(None, params, t_result, ret, raw_args)
        monkeypatch.undo()
        assert special == generic, (t_result, ret)
    # the values the Python function sees, worked out by hand
    assert special[0] == [(-1, -2**63, 1.5, float("-inf"))]


def test_host_function_with_caller_and_references(monkeypatch):
    from pywazero import host

    for params in ([wz.EXTERNREF, wz.EXTERNREF], [wz.I32, wz.EXTERNREF], [wz.FUNCREF]):
        outs = []
        for limit in (16, -1):
            monkeypatch.setattr(host, "_MAX_SPECIALISED", limit)
            seen = []
            hf = host.make_host_function(lambda caller, *a: seen.append((type(caller).__name__, a)),
                                         params, [], name="h", with_caller=True)
            args = [None] * len(params) if params == [wz.FUNCREF] else [3, "obj"][:len(params)]
            outs.append((hf.raw(None, list(args)), seen))
        assert outs[0] == outs[1]
        assert outs[0][1][0][0] == "Caller"


def test_call_indirect_nested_too_deep_for_a_try(monkeypatch):
    """A call_indirect inside as many Python loops as the compiler allows has no room
    for the cache's try statement: it checks through ``_ci`` and still traps
    exactly."""
    depth = codegen.MAX_PY_LOOPS
    opens = "".join("(loop $l%d (br_if $l%d (i32.const 0)) " % (k, k) for k in range(depth))
    src = """
    (module
      (type $ii (func (param i32) (result i32)))
      (table 2 funcref)
      (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
      (elem (i32.const 0) $inc)
      (func (export "f") (param i32) (result i32) (local $r i32)
        %s(local.set $r (call_indirect (type $ii) (i32.const 41) (local.get 0)))%s
        (local.get $r)))""" % (opens, ")" * depth)
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as rt:
        cm = rt.compile(src)
        assert "_ci(T0" in C.dump(cm, 1)
        m = rt.instantiate(cm)
        assert [outcome(m.function("f"), i) for i in range(3)] == [
            42, "uninitialized element", "undefined element"]
        assert cm._engine_code().fallback_reasons == {}
