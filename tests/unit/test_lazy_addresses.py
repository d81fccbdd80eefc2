"""Addresses computed by wrapping arithmetic, on both engines and both memory schemes
of the compiler.  The compiler indexes memory with an address left unmasked when the
arithmetic producing it may only have overflowed 2**32 (it retries with the masked
address when that access fails), so these tests put addresses right where the
unmasked and the masked values differ: sums that wrap around to a valid address
(which must not trap), sums whose wrapped value is out of bounds, offsets added
past the end without wrapping, in loads, stores and loops.  Expected values come
from a model of the memory written here with ``struct``; each store's effect is
compared with the whole memory, not only the bytes it should touch."""
from __future__ import annotations

import struct

import pytest

import pywazero as wz
from pywazero.engine import compiler as C
from pywazero.engine.compiler import codegen

M32 = 0xFFFFFFFF
PAGE = 65536
# runs each test on the interpreter and both memory schemes of the compiler
from .test_calls_memory import rt  # noqa: E402,F401  (a pytest fixture)


def outcome(f, *args):
    try:
        return f(*args)
    except wz.Trap as e:
        return e.reason if hasattr(e, "reason") else str(e).split(":")[0]


# (export, offset, struct format, result kind) of loads at (p + k) + offset
LOADS = [("ld32", 0, "<I", "i32"), ("ld32o", 8, "<I", "i32"), ("ld64", 0, "<Q", "i64"),
         ("ld8s", 0, "<b", "i32"), ("ld16u", 2, "<H", "i32"), ("ld16s", 0, "<h", "i64"),
         ("ldf64", 0, "<d", "f64"), ("ldf32", 4, "<f", "f32")]

MODULE = """
(module
  (memory (export "mem") 1)
  (func (export "ld32") (param i32 i32) (result i32) (i32.load (i32.add (local.get 0) (local.get 1))))
  (func (export "ld32o") (param i32 i32) (result i32)
    (i32.load offset=8 (i32.add (local.get 0) (local.get 1))))
  (func (export "ld64") (param i32 i32) (result i64) (i64.load (i32.add (local.get 0) (local.get 1))))
  (func (export "ld8s") (param i32 i32) (result i32) (i32.load8_s (i32.add (local.get 0) (local.get 1))))
  (func (export "ld16u") (param i32 i32) (result i32)
    (i32.load16_u offset=2 (i32.add (local.get 0) (local.get 1))))
  (func (export "ld16s") (param i32 i32) (result i64)
    (i64.load16_s (i32.add (local.get 0) (local.get 1))))
  (func (export "ldf64") (param i32 i32) (result f64) (f64.load (i32.add (local.get 0) (local.get 1))))
  (func (export "ldf32") (param i32 i32) (result f32)
    (f32.load offset=4 (i32.add (local.get 0) (local.get 1))))
  ;; differences (negative before masking), and a sum with a negated operand
  (func (export "ldsub") (param i32 i32) (result i32) (i32.load (i32.sub (local.get 0) (local.get 1))))
  (func (export "ldneg") (param i32 i32) (result i32)
    (i32.load8_u (i32.add (local.get 0) (i32.sub (i32.const 0) (local.get 1)))))
  ;; scaled indexes: p + (i << 2), i * 8 + p (+ 4), (p | 3) + i
  (func (export "ldshl") (param i32 i32) (result i32)
    (i32.load (i32.add (local.get 0) (i32.shl (local.get 1) (i32.const 2)))))
  (func (export "ldmul") (param i32 i32) (result i64)
    (i64.load offset=4 (i32.add (i32.mul (local.get 1) (i32.const 8)) (local.get 0))))
  (func (export "ldor") (param i32 i32) (result i32)
    (i32.load8_u (i32.add (i32.or (local.get 0) (i32.const 3)) (local.get 1))))
  ;; stores at p + k (+ offset)
  (func (export "st32") (param i32 i32 i32) (i32.store (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "st8") (param i32 i32 i32) (i32.store8 (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "st16o") (param i32 i32 i32)
    (i32.store16 offset=6 (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "st64") (param i32 i32 i64) (i64.store (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "st64_32") (param i32 i32 i64)
    (i64.store32 offset=1 (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func (export "stf32") (param i32 i32 f32) (f32.store (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  ;; the value stored is itself wrapping arithmetic
  (func (export "stsum") (param i32 i32 i32)
    (i32.store (i32.add (local.get 0) (local.get 1)) (i32.add (local.get 2) (local.get 1))))
  ;; a loop reading n words at p + i * s (i = n .. 1), the address wrapping as it goes
  (func (export "walk") (param $p i32) (param $s i32) (param $n i32) (result i32) (local $acc i32)
    (block (loop
      (br_if 1 (i32.eqz (local.get $n)))
      (local.set $acc (i32.add (local.get $acc)
        (i32.load (i32.add (local.get $p) (i32.mul (local.get $n) (local.get $s))))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br 0)))
    (local.get $acc))
  ;; a loop writing i to n words at p, p + s, ...: the pointer is a local stepped by s
  (func (export "fill") (param $p i32) (param $s i32) (param $n i32) (local $i i32)
    (block (loop
      (br_if 1 (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (local.get $p) (local.get $i))
      (local.set $p (i32.add (local.get $p) (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br 0))))
  ;; the old value of p stays on the stack while p is overwritten by the load at p
  (func (export "chase") (param $p i32) (result i32)
    (local.get $p)
    (local.set $p (i32.load (local.get $p)))
    (i32.sub (local.get $p)))
  ;; a tee'd load used twice, and a load compared signed
  (func (export "tee") (param $p i32) (param $k i32) (result i32) (local $v i32)
    (i32.add (local.tee $v (i32.load (i32.add (local.get $p) (local.get $k)))) (local.get $v)))
  (func (export "neg") (param $p i32) (param $k i32) (result i32)
    (i32.lt_s (i32.load (i32.add (local.get $p) (local.get $k))) (i32.const 0)))
)
"""

# p and k: sums that wrap to small addresses, to the last bytes, past the end, and
# that stay below 2**32 but out of bounds
VALUES = [0, 1, 4, 7, 100, PAGE - 8, PAGE - 4, PAGE - 1, PAGE, PAGE + 4, 0x7FFFFFFF, 0x80000000,
          0xFFFF0000, 0xFFFFFFF0, 0xFFFFFFF8, 0xFFFFFFFC, 0xFFFFFFFF]
TRAP = "out of bounds memory access"


def memory_pattern() -> bytes:
    return bytes((i * 131 + (i >> 8) * 7 + 5) & 0xFF for i in range(PAGE))


def model_load(data: bytes, a: int, fmt: str):
    size = struct.calcsize(fmt)
    if a + size > len(data):
        return TRAP
    return struct.unpack_from(fmt, data, a)[0]


def as_kind(value, kind):
    if kind == "i32":
        return value & M32
    if kind == "i64":
        return value & (1 << 64) - 1
    return value


def test_loads_at_wrapping_addresses(rt):
    m = rt.instantiate(MODULE)
    data = memory_pattern()
    m.memory("mem").write(0, data)
    for name, offset, fmt, kind in LOADS:
        f = m.function(name)
        for p in VALUES:
            for k in VALUES:
                want = model_load(data, ((p + k) & M32) + offset, fmt)
                got = outcome(f, p, k)
                if want == TRAP or got == TRAP:
                    assert got == want, (name, p, k)
                elif kind == "f32" or kind == "f64":
                    assert struct.pack(fmt, got) == struct.pack(fmt, want), (name, p, k)
                else:
                    assert as_kind(got, kind) == as_kind(want, kind), (name, p, k)


def test_differences_as_addresses(rt):
    m = rt.instantiate(MODULE)
    data = memory_pattern()
    m.memory("mem").write(0, data)
    for p in VALUES:
        for k in VALUES:
            got = outcome(m.function("ldsub"), p, k)
            want = model_load(data, (p - k) & M32, "<I")
            assert (got if got == TRAP else got & M32) == want, ("ldsub", p, k)
            assert outcome(m.function("ldneg"), p, k) == model_load(data, (p - k) & M32, "<B")


def test_scaled_indexes(rt):
    m = rt.instantiate(MODULE)
    data = memory_pattern()
    m.memory("mem").write(0, data)
    for p in VALUES:
        for i in VALUES + [0x3FFFFFFF, 0x40000000, 0x1FFFFFFF, 0x20000000]:
            got = outcome(m.function("ldshl"), p, i)
            want = model_load(data, (p + (i << 2)) & M32, "<I")
            assert (got if got == TRAP else got & M32) == want, ("ldshl", p, i)
            got = outcome(m.function("ldmul"), p, i)
            want = model_load(data, ((i * 8 + p) & M32) + 4, "<Q")
            assert (got if got == TRAP else got & (1 << 64) - 1) == want, ("ldmul", p, i)
            got = outcome(m.function("ldor"), p, i)
            assert got == model_load(data, ((p | 3) + i) & M32, "<B"), ("ldor", p, i)


STORES = [("st32", 0, "<I", 0x89ABCDEF), ("st8", 0, "<B", 0x1F2), ("st16o", 6, "<H", 0x5A5A7),
          ("st64", 0, "<Q", 0xF1E2D3C4B5A69788), ("st64_32", 1, "<I", 0x1122334455667788),
          ("stf32", 0, "<f", -2.5)]


def test_stores_at_wrapping_addresses(rt):
    m = rt.instantiate(MODULE)
    mem = m.memory("mem")
    model = bytearray(PAGE)
    for name, offset, fmt, value in STORES:
        f = m.function(name)
        size = struct.calcsize(fmt)
        for p in VALUES:
            for k in VALUES:
                a = ((p + k) & M32) + offset
                got = outcome(f, p, k, value)
                if a + size > PAGE:
                    assert got == TRAP, (name, p, k)
                else:
                    assert got is None, (name, p, k)
                    v = value if fmt == "<f" else value & ((1 << 8 * size) - 1)
                    struct.pack_into(fmt, model, a, v)
        # (a trapping store writes nothing: the whole memory matches the model)
        assert mem.read(0, PAGE) == bytes(model), name
    for p in VALUES:
        for k in VALUES:
            a = (p + k) & M32
            got = outcome(m.function("stsum"), p, k, 0xFFFFFFF0)
            if a + 4 > PAGE:
                assert got == TRAP
            else:
                struct.pack_into("<I", model, a, (0xFFFFFFF0 + k) & M32)
    assert mem.read(0, PAGE) == bytes(model)


def test_loops_over_wrapping_pointers(rt):
    m = rt.instantiate(MODULE)
    mem = m.memory("mem")
    data = memory_pattern()
    mem.write(0, data)
    walk = m.function("walk")
    for p, s, n in [(0, 4, 100), (PAGE - 4, 0xFFFFFFFC, 200), (0xFFFFFF00, 0x10, 100),
                    (0xFFFFFFFC, 4, 50), (0xFFFFFFF0, 0xFFFFFFFF, 40), (PAGE - 8, 4, 3),
                    (0x80000000, 0x80000000, 7)]:
        acc = 0
        want = None
        for i in range(n, 0, -1):
            v = model_load(data, (p + i * s) & M32, "<I")
            if v == TRAP:
                want = TRAP
                break
            acc += v
        got = outcome(walk, p, s, n)
        assert (got if got == TRAP else got & M32) == (want or acc & M32), (p, s, n)
    fill = m.function("fill")
    model = bytearray(data)
    for p, s, n in [(PAGE - 40, 8, 5), (0xFFFFFFF8, 4, 6), (100, 0xFFFFFFFC, 20), (PAGE - 8, 4, 3)]:
        for i in range(n):
            a = (p + i * s) & M32
            if a + 4 > PAGE:
                break
            struct.pack_into("<I", model, a, i)
        got = outcome(fill, p, s, n)
        assert got == (TRAP if a + 4 > PAGE else None), (p, s, n)
        assert mem.read(0, PAGE) == bytes(model), (p, s, n)


def test_loaded_values_set_to_locals(rt):
    m = rt.instantiate(MODULE)
    mem = m.memory("mem")
    mem.write(200, struct.pack("<I", 0x80000010))
    assert m.function("chase")(200) & M32 == (200 - 0x80000010) & M32
    assert m.function("tee")(0xFFFFFFFF, 201) & M32 == (0x80000010 * 2) & M32
    assert m.function("neg")(100, 100) == 1
    assert m.function("neg")(0xFFFFFFF0, 216) == 1
    assert outcome(m.function("tee"), PAGE, 0xFFFFFFFD) == TRAP


def test_unmasked_addresses_are_used(monkeypatch):
    # (the point of the scheme: no mask on the fast path of p + k)
    monkeypatch.setattr(codegen, "MEMORY_VIEWS", True)
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        compiled = r.compile(MODULE)
        text = C.dump(compiled, 0)
        assert "try: " in text and "(_a := (l0 + l1))" in text
        # a constant of the top half (a negative offset) keeps its mask
        src = "(module (memory 1) (func (param i32) (result i32) (i32.load (i32.add (local.get 0) (i32.const -4)))))"
        assert "try: " not in C.dump(r.compile(src), 0)
