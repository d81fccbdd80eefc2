"""Accesses through a local kept split into ``l // n`` and ``l & (n-1)`` (the
compiler's ``split_access``): C's ``p->field`` through a pointer parameter or the
frame pointer.  Each function runs on the interpreter and on the compiler with and
without memoryviews, and its results and traps are compared with a model of the
memory written here with ``struct``: bases at every alignment, fields right at the
end of memory (the last valid one and the first past it), bases reassigned in
loops and branches, a self tail call that changes the base, a memory that grows
between two accesses, and the cheap tier's on-stack replacement entering a loop
over such accesses."""
from __future__ import annotations

import struct

import pytest

import pywazero as wz
from pywazero.engine.compiler import CompilerEngine, codegen, dump

from .test_calls_memory import rt  # noqa: F401  (a pytest fixture)

PAGE = 65536

MODULE = """
(module
  (memory (export "mem") 1 4)
  ;; p->a + p->b + p->c (i32 at 0, 4, 12) and p->d (i64 at 16) into p->e (at 24)
  (func (export "fields") (param $p i32) (result i64)
    (i64.store offset=24 (local.get $p)
      (i64.add (i64.load offset=16 (local.get $p))
        (i64.extend_i32_u (i32.add (i32.load (local.get $p))
          (i32.add (i32.load offset=4 (local.get $p)) (i32.load offset=12 (local.get $p)))))))
    (i64.load offset=24 (local.get $p)))
  ;; sums n i32 fields p[0..n) walking p by 4 (the base changes each iteration)
  (func (export "walk") (param $p i32) (param $n i32) (result i32) (local $s i32)
    (block (loop
      (br_if 1 (i32.eqz (local.get $n)))
      (local.set $s (i32.add (local.get $s) (i32.load (local.get $p))))
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (local.get $p))))
      (i32.store offset=4 (local.get $p) (local.get $s))
      (local.set $p (i32.add (local.get $p) (i32.const 4)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br 0)))
    (local.get $s))
  ;; a base assigned in one branch only: the other keeps the parameter's value
  (func (export "branch") (param $p i32) (param $q i32) (param $c i32) (result i32)
    (if (local.get $c) (then (local.set $p (local.get $q))))
    (i32.add (i32.load (local.get $p)) (i32.load offset=8 (local.get $p))))
  ;; a frame-pointer local set once, fields written then read back
  (func (export "frame") (param $v i32) (result i32) (local $fp i32)
    (local.set $fp (i32.const 1000))
    (i32.store offset=8 (local.get $fp) (local.get $v))
    (i32.store offset=12 (local.get $fp) (i32.mul (local.get $v) (i32.const 3)))
    (i32.add (i32.load offset=8 (local.get $fp)) (i32.load offset=12 (local.get $fp))))
  ;; f64 and i16 views through the same base
  (func (export "mixed") (param $p i32) (result f64)
    (f64.store offset=8 (local.get $p) (f64.add (f64.load (local.get $p)) (f64.load offset=8 (local.get $p))))
    (i32.store16 offset=2 (local.get $p) (i32.add (i32.load16_u (local.get $p)) (i32.load16_u offset=2 (local.get $p))))
    (f64.load offset=8 (local.get $p)))
  ;; grows memory between two accesses through the same split base
  (func (export "grow_between") (param $p i32) (result i32)
    (i32.store (local.get $p) (i32.const 7))
    (drop (memory.grow (i32.const 1)))
    (i32.store offset=4 (local.get $p) (i32.const 9))
    (i32.add (i32.load (local.get $p)) (i32.load offset=4 (local.get $p))))
  ;; a self tail call with a new base: the parts are computed again
  (func $chain (export "chain") (param $p i32) (param $n i32) (param $s i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $s))
      (else (return_call $chain (i32.add (local.get $p) (i32.const 8)) (i32.sub (local.get $n) (i32.const 1))
        (i32.add (local.get $s) (i32.add (i32.load (local.get $p)) (i32.load offset=4 (local.get $p))))))))
)
"""


def outcome(f, *args):
    try:
        return f(*args)
    except wz.Trap as e:
        return "trap: " + str(e).split("\n")[0]


def fill(mem, seed=1):
    """Known bytes everywhere (a byte pattern), returned as the model."""
    data = bytearray((i * 37 + seed) & 0xFF for i in range(mem.size))
    mem.write(0, bytes(data))
    return data


def u32(b, a):
    return struct.unpack_from("<I", b, a)[0]


def test_the_compiler_keeps_struct_bases_split(monkeypatch):
    monkeypatch.setattr(codegen, "MEMORY_VIEWS", True)   # (PyPy's default is struct)
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(MODULE)
        src = dump(cm, 0)
        assert "_q4_0 = l0 // 4" in src and "_r4_0 = l0 & 3" in src
        assert "_VI0[_r4_0][_q4_0 + 3]" in src and "_VQ0[_r8_0][_q8_0 + 3]" in src
        walk = dump(cm, 1)   # reassigned in the loop: split again after each assignment
        assert walk.count("_q4_0 = l0 // 4") == 2


@pytest.mark.parametrize("base", [0, 1, 2, 3, 4, 5, 6, 7, 1000, PAGE - 32, PAGE - 31, PAGE - 29,
                                  PAGE - 28, PAGE - 27, PAGE - 1, PAGE, 0xFFFFFFF0])
def test_fields_at_every_alignment_and_at_the_end(rt, base):  # noqa: F811
    inst = rt.instantiate(MODULE)
    mem = inst.memory("mem")
    data = fill(mem)
    got = outcome(inst.function("fields"), base)
    if base + 32 > PAGE:
        assert got == "trap: out of bounds memory access"
        assert mem.read(0, PAGE) == bytes(data)   # nothing written
        return
    want = (struct.unpack_from("<Q", data, base + 16)[0]
            + ((u32(data, base) + u32(data, base + 4) + u32(data, base + 12)) & 0xFFFFFFFF)) & (2**64 - 1)
    assert got == want - (1 << 64 if want >= 1 << 63 else 0)
    struct.pack_into("<Q", data, base + 24, want)
    assert mem.read(0, PAGE) == bytes(data)


@pytest.mark.parametrize("p,n", [(0, 5), (3, 9), (PAGE - 24, 5), (PAGE - 24, 6), (PAGE - 8, 1), (PAGE - 7, 1)])
def test_a_base_reassigned_in_a_loop(rt, p, n):  # noqa: F811
    inst = rt.instantiate(MODULE)
    mem = inst.memory("mem")
    data = fill(mem, 5)
    s = 0
    want = None
    for k in range(n):
        a = p + 4 * k
        if a + 8 > PAGE:
            want = "trap: out of bounds memory access"
            break
        s = (s + u32(data, a)) & 0xFFFFFFFF
        s = (s + u32(data, a + 4)) & 0xFFFFFFFF
        struct.pack_into("<I", data, a + 4, s)
    got = outcome(inst.function("walk"), p, n)
    assert got == (want if want else s - (1 << 32 if s >= 1 << 31 else 0))
    assert mem.read(0, PAGE) == bytes(data)


def test_branches_frames_views_growth_and_tail_calls(rt):  # noqa: F811
    inst = rt.instantiate(MODULE)
    mem = inst.memory("mem")
    data = fill(mem, 9)
    f = inst.function("branch")
    for p, q, c in [(16, 403, 0), (16, 403, 1), (PAGE - 12, 6, 1), (PAGE - 12, 6, 0), (PAGE - 11, 6, 0)]:
        b = q if c else p
        want = ("trap: out of bounds memory access" if b + 12 > PAGE
                else (u32(data, b) + u32(data, b + 8)) & 0xFFFFFFFF)
        got = outcome(f, p, q, c)
        assert got == (want if isinstance(want, str) else want - (1 << 32 if want >= 1 << 31 else 0))
    assert inst.function("frame")(11) == 44 and inst.function("frame")(-5) == -20
    struct.pack_into("<ii", data, 1008, -5, -15)
    for k, x in enumerate([1.5, -2.25, 1e300, 3.0, 0.1, -7.0, 2.0]):
        struct.pack_into("<d", data, 8 * k, x)
    mem.write(0, bytes(data[:56]))
    for p in (0, 8, 12, 40):
        x, y = struct.unpack_from("<dd", data, p)
        h = (struct.unpack_from("<H", data, p)[0] + struct.unpack_from("<H", data, p + 2)[0]) & 0xFFFF
        got = inst.function("mixed")(p)
        assert got == x + y
        struct.pack_into("<d", data, p + 8, x + y)
        struct.pack_into("<H", data, p + 2, h)
        assert mem.read(0, PAGE) == bytes(data)
    want = sum((u32(data, 64 + 8 * k) + u32(data, 68 + 8 * k)) for k in range(4)) & 0xFFFFFFFF
    assert inst.function("chain")(64, 4, 0) == want - (1 << 32 if want >= 1 << 31 else 0)
    assert outcome(inst.function("chain"), PAGE - 16, 3, 0) == "trap: out of bounds memory access"
    # the memory grows between two stores through the same base; then past it
    # (a store right at the old end, then one past it: in bounds once grown)
    grow = inst.function("grow_between")
    for pages in (2, 3, 4):
        assert grow(pages * PAGE - PAGE - 4) == 16 and mem.size == pages * PAGE
    assert outcome(grow, 4 * PAGE - 4) == "trap: out of bounds memory access"   # (at its maximum)
    assert mem.read(4 * PAGE - 4, 4) == b"\x07\0\0\0"


def test_the_cheap_tier_enters_a_loop_over_split_bases(monkeypatch):
    """On-stack replacement moves a running loop to compiled code: the compiled
    variant's bases are split on entry and the loop goes on from where it was."""
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    monkeypatch.setattr(CompilerEngine, "tier_calls", 5)
    monkeypatch.setattr(CompilerEngine, "tier_calls_scale", 0)
    monkeypatch.setattr(CompilerEngine, "tier_loop", 3)
    monkeypatch.setattr(CompilerEngine, "tier_loop_scale", 0)
    results = {}
    for engine in ("interpreter", "compiler"):
        with wz.Runtime(wz.RuntimeConfig(engine=engine)) as r:
            inst = r.instantiate(MODULE)
            mem = inst.memory("mem")
            fill(mem, 3)
            walk = inst.function("walk")
            results[engine] = ([outcome(walk, p, 50) for p in (0, 3, 200, PAGE - 100)],
                               mem.read(0, PAGE))
    assert results["interpreter"] == results["compiler"]
    assert results["compiler"][0][-1] == "trap: out of bounds memory access"


# -- array elements: base + (i << k) and literal + (i << k) ---------------------------------

ARRAYS = """
(module
  (memory (export "mem") 1)
  ;; a[i] and a[i + 1] through a pointer parameter also used directly
  (func (export "elems") (param $a i32) (param $i i32) (result i64)
    (i32.store (local.get $a) (i32.const 5))
    (i32.store offset=4 (local.get $a) (i32.add (i32.load (local.get $a)) (i32.const 1)))
    (i32.store offset=4 (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))
      (i32.load (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2)))))
    (i64.add (i64.load offset=8 (i32.add (i32.add (local.get $a) (i32.const 8)) (i32.shl (local.get $i) (i32.const 3))))
      (i64.extend_i32_u (i32.load16_u (i32.add (local.get $a) (i32.mul (local.get $i) (i32.const 2)))))))
  ;; a table at a literal address (1024), as C's static arrays
  (func (export "table") (param $i i32) (result i32)
    (i32.add (i32.load (i32.add (i32.shl (local.get $i) (i32.const 2)) (i32.const 1024)))
      (i32.load offset=4 (i32.add (i32.const 1024) (i32.shl (local.get $i) (i32.const 2))))))
  (func (export "table_store") (param $i i32) (param $v f64)
    (f64.store (i32.add (i32.shl (local.get $i) (i32.const 3)) (i32.const 2048)) (local.get $v)))
  ;; the index changes between computing the address and the load
  (func (export "moved") (param $a i32) (param $i i32) (result i32)
    local.get $a
    local.get $i
    i32.const 2
    i32.shl
    i32.add
    i32.const 1
    local.set $i
    i32.load
    local.get $a
    local.get $i
    i32.const 2
    i32.shl
    i32.add
    i32.load
    i32.add
    ;; (two direct uses make $a a split base)
    (i32.add (i32.load offset=4 (local.get $a)) (i32.load offset=4 (local.get $a)))
    i32.add)
)
"""


def s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


@pytest.mark.parametrize("a,i", [(0, 0), (16, 3), (17, 2), (64, 100), (PAGE - 16, 0), (PAGE - 16, 1),
                                 (16, 0x3FFFFFFC), (64, 0x3FFFFFF0), (PAGE - 8, 0x40000000), (3, 0xFFFFFFFF)])
def test_array_elements_wrap_and_trap_exactly(rt, a, i):  # noqa: F811
    inst = rt.instantiate(ARRAYS)
    mem = inst.memory("mem")
    data = fill(mem, 11)
    M = 0xFFFFFFFF

    def ld(fmt, addr, off=0):
        addr = (addr & M) + off
        if addr + struct.calcsize(fmt) > PAGE:
            raise IndexError
        return struct.unpack_from(fmt, data, addr)[0]

    def st(fmt, addr, v, off=0):
        addr = (addr & M) + off
        if addr + struct.calcsize(fmt) > PAGE:
            raise IndexError
        struct.pack_into(fmt, data, addr, v)

    try:
        st("<I", a, 5)
        st("<I", a, (ld("<I", a) + 1) & M, 4)
        st("<I", a + (i << 2), ld("<I", a + (i << 2)), 4)
        want = (ld("<Q", a + 8 + (i << 3), 8) + ld("<H", a + i * 2)) & (2**64 - 1)
        want = want - (1 << 64) if want >= 1 << 63 else want
    except IndexError:
        want = "trap: out of bounds memory access"
    assert outcome(inst.function("elems"), a, s32(i)) == want
    assert mem.read(0, PAGE) == bytes(data)
    try:
        want = s32(ld("<I", (i << 2) + 1024) + ld("<I", (i << 2) + 1024, 4))
    except IndexError:
        want = "trap: out of bounds memory access"
    assert outcome(inst.function("table"), s32(i)) == want
    try:
        st("<d", (i << 3) + 2048, 2.5)
        want = None
    except IndexError:
        want = "trap: out of bounds memory access"
    assert outcome(inst.function("table_store"), s32(i), 2.5) == want
    assert mem.read(0, PAGE) == bytes(data)
    try:
        want = s32(ld("<I", a + (i << 2)) + ld("<I", a + 4) + 2 * ld("<I", a, 4))
    except IndexError:
        want = "trap: out of bounds memory access"
    assert outcome(inst.function("moved"), a, s32(i)) == want


def test_the_compiler_indexes_array_elements_from_the_split_base(monkeypatch):
    monkeypatch.setattr(codegen, "MEMORY_VIEWS", True)   # (PyPy's default is struct)
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(ARRAYS)
        src = dump(cm, 0)
        assert "_VI0[_r4_0][_q4_0 + l1]" in src            # a[i]
        assert "_VI0[_r4_0][_q4_0 + 1 + l1]" in src        # a[i + 1]
        # (a is split for the 4-byte accesses only: two of them take it directly)
        assert "_VQ0[_r8_0]" not in src and "_VH0[_r2_0]" not in src
        # an index assigned after the address was computed: the address is kept
        moved = dump(cm, 3)
        assert "_q4_0 = l0 // 4" in moved
        assert "t1 = ((l0 + (l1 << 2)) & 0xFFFFFFFF)\n l1 = 1\n t2 = _VI0[t1 & 3][t1 // 4]" in moved
        table = dump(cm, 1)
        assert "_VI0[0][256 + l0]" in table and "_VI0[0][257 + l0]" in table
        assert "_Vd0[0][256 + l0]" in dump(cm, 2)
