"""Integer code shapes of the compiler's arithmetic, at their edge values, on the
interpreter and both memory schemes of the compiler: rotates by a literal used as
unmasked ("raw") forms inside xor/add chains, differences and narrow sums reduced
with ``%`` instead of ``&``.  Expected values come from a Python model of each
function."""
from __future__ import annotations

import itertools

import pytest

import pywazero as wz
from pywazero.engine.compiler import codegen

from .test_calls_memory import rt  # noqa: F401  (a pytest fixture)

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def u(vals, mask=M32):
    """Results as unsigned numbers (exports return signed ones)."""
    return [v & mask for v in vals] if isinstance(vals, (list, tuple)) else vals & mask


def rotl(x: int, k: int, n: int) -> int:
    k %= n
    return ((x << k) | (x >> (n - k))) & ((1 << n) - 1)


def rotr(x: int, k: int, n: int) -> int:
    return rotl(x, -k % n, n)


ROTATES = """
(module
  (func (export "rotl32") (param i32) (result i32 i32 i32 i32 i32)
    (i32.rotl (local.get 0) (i32.const 0)) (i32.rotl (local.get 0) (i32.const 1))
    (i32.rotl (local.get 0) (i32.const 31)) (i32.rotl (local.get 0) (i32.const 32))
    (i32.rotl (local.get 0) (i32.const 37)))
  (func (export "rotr32") (param i32) (result i32 i32 i32 i32)
    (i32.rotr (local.get 0) (i32.const 0)) (i32.rotr (local.get 0) (i32.const 7))
    (i32.rotr (local.get 0) (i32.const 31)) (i32.rotr (local.get 0) (i32.const -1)))
  (func (export "rotl64") (param i64) (result i64 i64 i64 i64)
    (i64.rotl (local.get 0) (i64.const 1)) (i64.rotl (local.get 0) (i64.const 63))
    (i64.rotl (local.get 0) (i64.const 64)) (i64.rotr (local.get 0) (i64.const 13)))
  ;; SHA-256's sigma: three rotates xored, added to more words, masked once
  (func (export "sigma") (param i32 i32 i32) (result i32)
    (i32.add
      (i32.add
        (i32.xor (i32.xor (i32.rotr (local.get 0) (i32.const 2)) (i32.rotr (local.get 0) (i32.const 13)))
                 (i32.rotr (local.get 0) (i32.const 22)))
        (i32.and (local.get 1) (local.get 2)))
      (i32.rotl (i32.add (local.get 1) (local.get 2)) (i32.const 5))))
  ;; a rotate of a rotate, shifted and compared: the raw form must not leak
  (func (export "nested") (param i32) (result i32 i32 i32 i32)
    (i32.rotl (i32.rotl (local.get 0) (i32.const 30)) (i32.const 9))
    (i32.shr_u (i32.rotl (local.get 0) (i32.const 3)) (i32.const 1))
    (i32.lt_s (i32.rotr (local.get 0) (i32.const 1)) (i32.const 0))
    (i32.eq (i32.rotl (local.get 0) (i32.const 16)) (i32.rotr (local.get 0) (i32.const 16))))
  (func (export "load") (param i32) (result i32)
    (i32.load (i32.rotl (local.get 0) (i32.const 8))))
  (memory 1)
  (data (i32.const 256) "\\01\\02\\03\\04")
)
"""

VALUES32 = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF, 0x12345678, 0xDEADBEEF]
VALUES64 = [0, 1, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, M64, 0x0123456789ABCDEF]


def test_rotates_by_literals(rt):
    m = rt.instantiate(rt.compile(ROTATES))
    f = m.exports
    for x in VALUES32:
        assert u(f["rotl32"](x)) == [rotl(x, k, 32) for k in (0, 1, 31, 32, 37)]
        assert u(f["rotr32"](x)) == [rotr(x, k, 32) for k in (0, 7, 31, M32)]
        assert u(f["nested"](x)) == [rotl(rotl(x, 30, 32), 9, 32), rotl(x, 3, 32) >> 1,
                                  int(rotr(x, 1, 32) >= 0x80000000),
                                  int(rotl(x, 16, 32) == rotr(x, 16, 32))]
    for x in VALUES64:
        assert u(f["rotl64"](x), M64) == [rotl(x, 1, 64), rotl(x, 63, 64), x, rotr(x, 13, 64)]
    for x, y, z in itertools.product(VALUES32[::2], repeat=3):
        want = (rotr(x, 2, 32) ^ rotr(x, 13, 32) ^ rotr(x, 22, 32)) + (y & z) + rotl((y + z) & M32, 5, 32)
        assert u(f["sigma"](x, y, z)) == want & M32
    assert u(f["load"](rotr(256, 8, 32))) == 0x04030201
    assert u(f["load"](0xFF)) == 0        # rotl(0xFF, 8) = 0xFF00: within the page
    with pytest.raises(wz.Trap):
        f["load"](0xFF00)              # 0xFF0000 is not


REMAINDERS = """
(module
  (memory 1)
  (func (export "diff") (param i32 i32) (result i32 i32)
    (i32.sub (local.get 0) (local.get 1))
    (i32.sub (i32.sub (local.get 0) (local.get 1)) (i32.const 3)))
  (func (export "diff64") (param i64 i64) (result i64) (i64.sub (local.get 0) (local.get 1)))
  ;; sums with a narrow operand (a byte, a flag)
  (func (export "narrow") (param i32 i32) (result i32 i32 i32)
    (i32.add (local.get 0) (i32.and (local.get 1) (i32.const 255)))
    (i32.add (i32.lt_u (local.get 1) (local.get 0)) (local.get 0))
    (i32.add (local.get 0) (i32.load8_u (local.get 1))))
  (func (export "narrow64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (i64.and (local.get 1) (i64.const 0xFFFF))))
  ;; a pointer stepped by a difference: the sum is a load address
  (func (export "walk") (param i32 i32 i32) (result i32)
    (i32.load8_u (i32.add (local.get 0) (i32.sub (local.get 1) (local.get 2)))))
  (data (i32.const 0) "\\ff\\01\\02")
  (data (i32.const 65535) "\\07")
)
"""


def test_differences_and_narrow_sums(rt):
    m = rt.instantiate(rt.compile(REMAINDERS))
    f = m.exports
    for x, y in itertools.product(VALUES32, repeat=2):
        assert u(f["diff"](x, y)) == [(x - y) & M32, (x - y - 3) & M32]
        assert u(f["narrow"](x, y % 3)) == [(x + (y % 3 & 255)) & M32, (x + int(y % 3 < x)) & M32,
                                         (x + (0xFF, 1, 2)[y % 3]) & M32]
    for x, y in itertools.product(VALUES64, repeat=2):
        assert u(f["diff64"](x, y), M64) == (x - y) & M64
        assert u(f["narrow64"](x, y), M64) == (x + (y & 0xFFFF)) & M64
    assert u(f["walk"](65535, 0, 0)) == 7
    assert u(f["walk"](0, 1, 0)) == 1
    assert u(f["walk"](2, 0, 2)) == 0xFF
    with pytest.raises(wz.Trap):
        f["walk"](1, 0, 2)             # 1 + (0 - 2) = 0xFFFFFFFF
    with pytest.raises(wz.Trap):
        f["walk"](65535, 1, 0)


def test_remainder_masks_are_emitted():
    # (guards the test above: it exercises the % forms only if they are generated)
    if not codegen.REMAINDER_MASKS:
        pytest.skip("CPython only")
    from pywazero.engine.compiler import dump
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(REMAINDERS)
        assert "((l0 - l1) % 4294967296)" in dump(cm, 0)
        assert dump(cm, 2).count("% 4294967296") == 3
        rot = dump(r.compile(ROTATES), 3)
        assert rot.count("0xFFFFFFFF") == 2     # (rotl needs (y + z) masked)


# Read-modify-write of one element (C's ``p->x += v``): the compiler's store reuses
# the load's view and index when nothing in between can change them
RMW = """
(module
  (memory (export "mem") 1 2)
  (func $nop)
  (func (export "add64") (param i32 i64)
    (i64.store (local.get 0) (i64.add (i64.load (local.get 0)) (local.get 1))))
  (func (export "addf") (param i32 f64)
    (f64.store offset=8 (local.get 0) (f64.add (f64.load offset=8 (local.get 0)) (local.get 1))))
  (func (export "add32") (param i32 i32)
    (i32.store (local.get 0) (i32.add (i32.load (local.get 0)) (local.get 1))))
  ;; i64.load32_u and i32.store share the 32-bit view
  (func (export "mixed") (param i32)
    (i32.store (local.get 0) (i32.wrap_i64 (i64.add (i64.load32_u (local.get 0)) (i64.const 1)))))
  ;; the address local changes in between: the store goes to the new address
  (func (export "moved") (param i32 i32) (local i32)
    (local.set 2 (i32.load (local.get 0)))
    (local.set 0 (local.get 1))
    (i32.store (local.get 0) (i32.add (local.get 2) (i32.const 1))))
  ;; a memory.grow or a call in between
  (func (export "grown") (param i32) (local i32)
    (local.set 1 (i32.load (local.get 0)))
    (drop (memory.grow (i32.const 1)))
    (i32.store (local.get 0) (i32.add (local.get 1) (i32.const 5))))
  (func (export "called") (param i32) (local i32)
    (local.set 1 (i32.load (local.get 0)))
    (call $nop)
    (i32.store (local.get 0) (i32.add (local.get 1) (i32.const 7))))
  ;; another offset or another width: no reuse
  (func (export "other") (param i32)
    (i32.store offset=4 (local.get 0) (i32.load (local.get 0)))
    (i32.store16 (local.get 0) (i32.add (i32.load (local.get 0)) (i32.const 1))))
)
"""


def test_read_modify_write(rt):
    m = rt.instantiate(rt.compile(RMW))
    f = m.exports
    mem = m.exports["mem"]

    def word(a, n=4):
        return int.from_bytes(bytes(mem.read(a, n)), "little")

    for a in (0, 1, 3, 8, 13, 65528):           # aligned and misaligned, the last word
        f["add64"](a, 5)
        assert word(a, 8) == 5
        f["add64"](a, -6)
        assert word(a, 8) == (1 << 64) - 1
        f["add64"](a, 1)
    for a in (0, 1, 5, 65520):
        f["addf"](a, 1.5)
        f["addf"](a, 2.25)
        assert struct_d(mem.read(a + 8, 8)) == 3.75
        f["addf"](a, -3.75)
    for a in (2, 7, 65532):
        f["add32"](a, 0xFFFFFFFF)
        f["add32"](a, 3)
        assert word(a) == 2
        f["mixed"](a)
        assert word(a) == 3
        f["add32"](a, -3)
    for bad in (65533, 65535, 0xFFFFFFFF):
        with pytest.raises(wz.Trap):
            f["add32"](bad, 1)
    with pytest.raises(wz.Trap):
        f["add64"](65529, 1)
    with pytest.raises(wz.Trap):
        f["addf"](65521, 1.0)
    assert word(65528, 8) == 0                   # (a trapping access wrote nothing)
    mem.write(100, (41).to_bytes(4, "little"))
    f["moved"](100, 200)
    assert word(100) == 41 and word(200) == 42
    f["called"](100)
    assert word(100) == 48
    f["grown"](100)
    assert word(100) == 53
    mem.write(300, (0x1234FFFF).to_bytes(4, "little"))
    f["other"](300)
    assert word(300) == 0x12340000 and word(304) == 0x1234FFFF


def struct_d(b) -> float:
    import struct
    return struct.unpack("<d", bytes(b))[0]


def test_read_modify_write_reuses_the_view():
    if not codegen.MEMORY_VIEWS:
        pytest.skip("memory views: CPython on little-endian hosts")
    from pywazero.engine.compiler import dump
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(RMW)
        for i, reused in [(1, True), (2, True), (3, True), (4, True), (5, False), (6, False),
                          (7, False), (8, False)]:
            assert ("_v" in dump(cm, i)) == reused, i


def _divs(a: int, b: int, n: int) -> int:
    sa = a - (1 << n) if a >> (n - 1) else a
    sb = b - (1 << n) if b >> (n - 1) else b
    q = abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1)
    return q & ((1 << n) - 1)


def _rems(a: int, b: int, n: int) -> int:
    sa = a - (1 << n) if a >> (n - 1) else a
    sb = b - (1 << n) if b >> (n - 1) else b
    return (abs(sa) % abs(sb)) * (-1 if sa < 0 else 1) & ((1 << n) - 1)


DIVISORS = [1, 2, 3, 7, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0]


def _div_module(n: int) -> str:
    t = "i%d" % n
    funcs = []
    for k, c in enumerate(DIVISORS):
        c = c if n == 32 or c < 0x7FFFFFFF else {0x7FFFFFFF: (1 << 63) - 1, 0x80000000: 1 << 63,
                                                   0xFFFFFFFF: (1 << 64) - 1}[c]
        for op in ("div_s", "div_u", "rem_s", "rem_u"):
            funcs.append('(func (export "%s_%d") (param %s) (result %s) (%s.%s (local.get 0) (%s.const %d)))'
                         % (op, k, t, t, t, op, t, c - (1 << n) if c >> (n - 1) else c))
    return "(module %s)" % "\n".join(funcs)


@pytest.mark.parametrize("n", [32, 64])
def test_division_by_literals(rt, n):
    m = rt.instantiate(rt.compile(_div_module(n)))
    f = m.exports
    mask = (1 << n) - 1
    top = 1 << (n - 1)
    dividends = [0, 1, 7, 100, top - 1, top, top + 1, mask, mask - 6]
    for k, c in enumerate(DIVISORS):
        c = c if n == 32 or c < 0x7FFFFFFF else {0x7FFFFFFF: top - 1, 0x80000000: top, 0xFFFFFFFF: mask}[c]
        for x in dividends:
            arg = x - (1 << n) if x >> (n - 1) else x
            if c == 0:
                for op in ("div_s", "div_u", "rem_s", "rem_u"):
                    with pytest.raises(wz.Trap):
                        f["%s_%d" % (op, k)](arg)
                continue
            if x == top and c == mask:
                with pytest.raises(wz.Trap):
                    f["div_s_%d" % k](arg)     # INT_MIN / -1 overflows
            else:
                assert u(f["div_s_%d" % k](arg), mask) == _divs(x, c, n)
            assert u(f["rem_s_%d" % k](arg), mask) == _rems(x, c, n)
            assert u(f["div_u_%d" % k](arg), mask) == x // c
            assert u(f["rem_u_%d" % k](arg), mask) == x % c
