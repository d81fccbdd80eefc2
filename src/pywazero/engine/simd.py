"""Exact WebAssembly SIMD (v128) numerics, shared by the interpreter and the compiler.

A v128 is a Python int holding the unsigned 128-bit pattern, lane 0 in the low bits.
Scalars are in the representation of :mod:`pywazero.wasm.numerics` (unsigned ints
for i32/i64, floats for f32/f64 with the f32 NaN mapping).

Every SIMD instruction without memory access has a function named after it
(``i8x16_add(a, b)``, ``v128_bitselect(a, b, c)``, ``i8x16_bitmask(a) -> i32``...).
Instructions with a lane immediate take the lane after the vector:
``i8x16_extract_lane_s(v, lane)``, ``i32x4_replace_lane(v, lane, x)``;
``i8x16_shuffle(a, b, lanes)`` takes the 16 lane indices as ``bytes``.

Strategy: bitwise operations, add/sub/neg/abs, shifts, comparisons, min/max,
saturating arithmetic, avgr_u, splat and lane access work on the 128-bit int directly
(SIMD-within-a-register bit tricks); the rest unpacks lanes with precompiled
``struct`` objects, maps over them and packs back (``bytes.translate`` for the byte
tables of swizzle, popcnt and abs).  f32 lanes are unpacked with ``struct`` too: that may
quiet a signalling NaN, which is harmless for operations whose NaN results only need
to be canonical/arithmetic, and the operations that must preserve bits (abs, neg,
pmin, pmax, lane moves) never convert lanes to floats.  f32 results are rounded by
packing with ``'<f'`` (round to nearest even), with a per-lane fallback when a lane
overflows single precision.

Relaxed SIMD (WebAssembly 3.0) is implemented with the spec's *deterministic
profile*: every implementation-dependent choice takes the first (index 0) of the
behaviours the spec allows, so results are the same on both engines and every host:

* ``i8x16.relaxed_swizzle`` is ``i8x16.swizzle`` (an index >= 16 selects 0);
* ``i32x4.relaxed_trunc_*`` are the saturating ``i32x4.trunc_sat_*`` (NaN -> 0,
  out of range -> the nearest bound);
* ``f32x4/f64x2.relaxed_madd(a, b, c)`` is *unfused*: ``a * b`` rounded, then
  ``+ c`` rounded (two roundings); ``relaxed_nmadd(a, b, c)`` is ``madd(-a, b, c)``;
* ``*.relaxed_laneselect(a, b, m)`` is ``v128.bitselect(a, b, m)`` (bit by bit);
* ``f32x4/f64x2.relaxed_min/max`` are ``f32x4.min``/``max`` ... (NaN in, NaN out;
  ``-0`` below ``+0``);
* ``i16x8.relaxed_q15mulr_s`` is ``i16x8.q15mulr_sat_s`` (saturates);
* ``i16x8.relaxed_dot_i8x16_i7x16_s`` treats both operands as signed and adds each
  pair of products with signed saturation; ``i32x4.relaxed_dot_i8x16_i7x16_add_s``
  adds that result's pairs (sign-extended) and the accumulator, wrapping.

(wasmtime's ``relaxed_simd_deterministic`` mode differs on two points: its madd is
fused, and its dot product wraps instead of saturating when both pairs are
``-128 * -128``.)

>>> hex(i8x16_relaxed_swizzle(0x0F0E0D0C0B0A09080706050403020100, 0x11) & 0xFF)
'0x0'
>>> a = f32x4_splat(f32_from_bits(0x3F800001))   # 1 + 2**-23
>>> c = f32x4_splat(f32_from_bits(0xBF800002))   # -(1 + 2**-22)
>>> f32x4_relaxed_madd(a, a, c)                   # unfused: the 2**-46 is rounded away
0
"""
from __future__ import annotations

import operator
import re
import struct
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..wasm import opcodes
from ..wasm.opcodes import BY_NAME
from ..wasm.numerics import (
    f32_ceil, f32_floor, f32_from_bits, f32_max, f32_min, f32_nearest, f32_sqrt,
    f32_to_bits, f32_trunc, f32_demote_f64, f64_ceil, f64_div, f64_floor, f64_from_bits,
    f64_max, f64_min, f64_nearest, f64_promote_f32, f64_sqrt, f64_to_bits, f64_trunc,
    i32_trunc_sat_f32_s, i32_trunc_sat_f32_u, i32_trunc_sat_f64_s, i32_trunc_sat_f64_u,
    round_f32,
)

__all__ = ["FUNCTIONS", "INLINE", "NEEDS_TEMP", "NAMESPACE"]

# v128 operations on the 128-bit int form: one, two or three operands
_V1 = Callable[[int], int]
_V2 = Callable[[int, int], int]
_V3 = Callable[[int, int, int], int]
# struct unpackers/packers of lanes
_Unpack = Callable[[bytes], Tuple[Any, ...]]
_Pack = Callable[..., bytes]

_fb = int.from_bytes
_MASK = (1 << 128) - 1

_B16 = struct.Struct("<16B")
_b16 = struct.Struct("<16b")
_H8 = struct.Struct("<8H")
_h8 = struct.Struct("<8h")
_I4 = struct.Struct("<4I")
_i4 = struct.Struct("<4i")
_Q2 = struct.Struct("<2Q")
_q2 = struct.Struct("<2q")
_F4 = struct.Struct("<4f")
_D2 = struct.Struct("<2d")

_uB16, _pB16 = _B16.unpack, _B16.pack
_ub16, _pb16 = _b16.unpack, _b16.pack
_uH8, _pH8 = _H8.unpack, _H8.pack
_uh8, _ph8 = _h8.unpack, _h8.pack
_uI4, _pI4 = _I4.unpack, _I4.pack
_ui4, _pi4 = _i4.unpack, _i4.pack
_uQ2, _pQ2 = _Q2.unpack, _Q2.pack
_pq2 = _q2.pack
_uF4, _pF4 = _F4.unpack, _F4.pack
_uD2, _pD2 = _D2.unpack, _D2.pack


def _lane_consts(w: int) -> Tuple[int, int]:
    """(lowest bit of every lane, every bit but the lane's top bit)"""
    lo = 0
    for k in range(0, 128, w):
        lo |= 1 << k
    return lo, _MASK ^ (lo << (w - 1))


_L8, _N8 = _lane_consts(8)
_L16, _N16 = _lane_consts(16)
_L32, _N32 = _lane_consts(32)
_L64, _N64 = _lane_consts(64)

_TRUE = (0, -1)          # bool -> signed lane value of a comparison


# --- v128 ------------------------------------------------------------------------------

def v128_not(a: int) -> int:
    return a ^ _MASK


def v128_and(a: int, b: int) -> int:
    return a & b


def v128_andnot(a: int, b: int) -> int:
    return a & (b ^ _MASK)


def v128_or(a: int, b: int) -> int:
    return a | b


def v128_xor(a: int, b: int) -> int:
    return a ^ b


def v128_bitselect(a: int, b: int, c: int) -> int:
    return (a & c) | (b & (c ^ _MASK))


def v128_any_true(a: int) -> int:
    return 1 if a else 0


# --- SWAR building blocks ----------------------------------------------------------------

def _make_add(n: int) -> _V2:
    def add(a: int, b: int) -> int:
        return ((a & n) + (b & n)) ^ ((a ^ b) & (n ^ _MASK))
    return add


def _make_sub(n: int) -> _V2:
    h = n ^ _MASK

    def sub(a: int, b: int) -> int:
        return ((a | h) - (b & n)) ^ ((a ^ b ^ h) & h)
    return sub


def _make_shifts(w: int, lo: int) -> Tuple[_V2, _V2, _V2]:
    ones = (1 << w) - 1
    hi = lo << (w - 1)
    m = w - 1

    def shl(a: int, s: int) -> int:
        s &= m
        return (a << s) & (((ones << s) & ones) * lo)

    def shr_u(a: int, s: int) -> int:
        s &= m
        return (a >> s) & ((ones >> s) * lo)

    def shr_s(a: int, s: int) -> int:
        s &= m
        return ((a >> s) & ((ones >> s) * lo)) | (((a & hi) >> m) * (((1 << s) - 1) << (w - s)))

    return shl, shr_s, shr_u


def _make_all_true(lo: int, n: int) -> _V1:
    h = n ^ _MASK

    def all_true(a: int) -> int:
        # The high bit of a lane is set iff the lane is nonzero.
        return 1 if ((((a & n) + n) | a) & h) == h else 0
    return all_true


i8x16_add = _make_add(_N8)
i16x8_add = _make_add(_N16)
i32x4_add = _make_add(_N32)
i64x2_add = _make_add(_N64)
i8x16_sub = _make_sub(_N8)
i16x8_sub = _make_sub(_N16)
i32x4_sub = _make_sub(_N32)
i64x2_sub = _make_sub(_N64)
i8x16_shl, i8x16_shr_s, i8x16_shr_u = _make_shifts(8, _L8)
i16x8_shl, i16x8_shr_s, i16x8_shr_u = _make_shifts(16, _L16)
i32x4_shl, i32x4_shr_s, i32x4_shr_u = _make_shifts(32, _L32)
i64x2_shl, i64x2_shr_s, i64x2_shr_u = _make_shifts(64, _L64)
i8x16_all_true = _make_all_true(_L8, _N8)
i16x8_all_true = _make_all_true(_L16, _N16)
i32x4_all_true = _make_all_true(_L32, _N32)
i64x2_all_true = _make_all_true(_L64, _N64)


def i8x16_neg(a: int) -> int:
    return i8x16_sub(0, a)


def i16x8_neg(a: int) -> int:
    return i16x8_sub(0, a)


def i32x4_neg(a: int) -> int:
    return i32x4_sub(0, a)


def i64x2_neg(a: int) -> int:
    return i64x2_sub(0, a)


# --- splat / lanes -----------------------------------------------------------------------

def i8x16_splat(x: int) -> int:
    return (x & 0xFF) * _L8


def i16x8_splat(x: int) -> int:
    return (x & 0xFFFF) * _L16


def i32x4_splat(x: int) -> int:
    return x * _L32


def i64x2_splat(x: int) -> int:
    return x * _L64


def f32x4_splat(x: float) -> int:
    return f32_to_bits(x) * _L32


def f64x2_splat(x: float) -> int:
    return f64_to_bits(x) * _L64


def i8x16_extract_lane_s(v: int, lane: int) -> int:
    return ((((v >> (lane << 3)) & 0xFF) ^ 0x80) - 0x80) & 0xFFFFFFFF


def i8x16_extract_lane_u(v: int, lane: int) -> int:
    return (v >> (lane << 3)) & 0xFF


def i16x8_extract_lane_s(v: int, lane: int) -> int:
    return ((((v >> (lane << 4)) & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFF


def i16x8_extract_lane_u(v: int, lane: int) -> int:
    return (v >> (lane << 4)) & 0xFFFF


def i32x4_extract_lane(v: int, lane: int) -> int:
    return (v >> (lane << 5)) & 0xFFFFFFFF


def i64x2_extract_lane(v: int, lane: int) -> int:
    return (v >> (lane << 6)) & 0xFFFFFFFFFFFFFFFF


def f32x4_extract_lane(v: int, lane: int) -> float:
    return f32_from_bits((v >> (lane << 5)) & 0xFFFFFFFF)


def f64x2_extract_lane(v: int, lane: int) -> float:
    return f64_from_bits((v >> (lane << 6)) & 0xFFFFFFFFFFFFFFFF)


def i8x16_replace_lane(v: int, lane: int, x: int) -> int:
    s = lane << 3
    return (v & (_MASK ^ (0xFF << s))) | ((x & 0xFF) << s)


def i16x8_replace_lane(v: int, lane: int, x: int) -> int:
    s = lane << 4
    return (v & (_MASK ^ (0xFFFF << s))) | ((x & 0xFFFF) << s)


def i32x4_replace_lane(v: int, lane: int, x: int) -> int:
    s = lane << 5
    return (v & (_MASK ^ (0xFFFFFFFF << s))) | (x << s)


def i64x2_replace_lane(v: int, lane: int, x: int) -> int:
    s = lane << 6
    return (v & (_MASK ^ (0xFFFFFFFFFFFFFFFF << s))) | (x << s)


def f32x4_replace_lane(v: int, lane: int, x: float) -> int:
    s = lane << 5
    return (v & (_MASK ^ (0xFFFFFFFF << s))) | (f32_to_bits(x) << s)


def f64x2_replace_lane(v: int, lane: int, x: float) -> int:
    s = lane << 6
    return (v & (_MASK ^ (0xFFFFFFFFFFFFFFFF << s))) | (f64_to_bits(x) << s)


def i8x16_shuffle(a: int, b: int, lanes: bytes) -> int:
    ab = a.to_bytes(16, "little") + b.to_bytes(16, "little")
    return _fb(bytes(map(ab.__getitem__, lanes)), "little")


_ZEROS240 = bytes(240)


def i8x16_swizzle(a: int, b: int) -> int:
    # Translate the index bytes through a 256-entry table: a's bytes, then zeros.
    return _fb(b.to_bytes(16, "little").translate(a.to_bytes(16, "little") + _ZEROS240), "little")


# --- integer lane-wise ------------------------------------------------------------------

def _bin(unpack: _Unpack, pack: _Pack, f: Callable[..., Any]) -> _V2:
    def op(a: int, b: int) -> int:
        return _fb(pack(*map(f, unpack(a.to_bytes(16, "little")), unpack(b.to_bytes(16, "little")))),
                   "little")
    return op


def _make_int_lanes(shape: str, w: int, lo: int) -> None:
    """SWAR comparisons, min/max, saturating arithmetic and rounding average for one
    integer shape, working on the whole 128-bit int at once."""
    h = lo << (w - 1)          # top bit of every lane
    n = _MASK ^ h              # all the other bits
    ones = (1 << w) - 1
    m = w - 1
    add = _make_add(n)
    sub = _make_sub(n)

    def ne(a: int, b: int) -> int:
        x = a ^ b
        # The top bit of ((x & n) + n) | x is set iff the lane of x is nonzero.
        return (((((x & n) + n) | x) & h) >> m) * ones

    def eq(a: int, b: int) -> int:
        x = a ^ b
        return ((((((x & n) + n) | x) & h) >> m) * ones) ^ _MASK

    def lt_u(a: int, b: int) -> int:
        # Lane-wise borrow of a - b (Hacker's Delight 2-12): set iff a < b.
        return (((((a ^ _MASK) & b) | ((a ^ b ^ _MASK) & sub(a, b))) & h) >> m) * ones

    def lt_s(a: int, b: int) -> int:
        return lt_u(a ^ h, b ^ h)

    def gt_u(a: int, b: int) -> int:
        return lt_u(b, a)

    def gt_s(a: int, b: int) -> int:
        return lt_u(b ^ h, a ^ h)

    def le_u(a: int, b: int) -> int:
        return lt_u(b, a) ^ _MASK

    def le_s(a: int, b: int) -> int:
        return lt_u(b ^ h, a ^ h) ^ _MASK

    def ge_u(a: int, b: int) -> int:
        return lt_u(a, b) ^ _MASK

    def ge_s(a: int, b: int) -> int:
        return lt_u(a ^ h, b ^ h) ^ _MASK

    def min_u(a: int, b: int) -> int:
        c = lt_u(a, b)
        return (a & c) | (b & (c ^ _MASK))

    def min_s(a: int, b: int) -> int:
        c = lt_u(a ^ h, b ^ h)
        return (a & c) | (b & (c ^ _MASK))

    def max_u(a: int, b: int) -> int:
        c = lt_u(b, a)
        return (a & c) | (b & (c ^ _MASK))

    def max_s(a: int, b: int) -> int:
        c = lt_u(b ^ h, a ^ h)
        return (a & c) | (b & (c ^ _MASK))

    def add_sat_u(a: int, b: int) -> int:
        r = add(a, b)
        return r | lt_u(r, a)  # wrapped around: saturate to all ones

    def sub_sat_u(a: int, b: int) -> int:
        return sub(a, b) & (lt_u(a, b) ^ _MASK)

    def add_sat_s(a: int, b: int) -> int:
        r = add(a, b)
        over = ((((r ^ a) & (r ^ b)) & h) >> m) * ones
        sat = n ^ (((a & h) >> m) * ones)  # 0x7F.. for a >= 0, 0x80.. for a < 0
        return r ^ ((r ^ sat) & over)

    def sub_sat_s(a: int, b: int) -> int:
        r = sub(a, b)
        over = ((((a ^ b) & (a ^ r)) & h) >> m) * ones
        sat = n ^ (((a & h) >> m) * ones)
        return r ^ ((r ^ sat) & over)

    def avgr_u(a: int, b: int) -> int:
        # (a + b + 1) >> 1 == (a | b) - ((a ^ b) >> 1); no lane borrows.
        return (a | b) - (((a ^ b) >> 1) & n)

    def abs_(a: int) -> int:
        neg = (a & h) >> m  # 1 in the low bit of each negative lane
        return add(a ^ (neg * ones), neg)

    g = globals()
    for name, fn in (("eq", eq), ("ne", ne), ("lt_s", lt_s), ("lt_u", lt_u), ("gt_s", gt_s),
                     ("gt_u", gt_u), ("le_s", le_s), ("le_u", le_u), ("ge_s", ge_s), ("ge_u", ge_u),
                     ("min_s", min_s), ("min_u", min_u), ("max_s", max_s), ("max_u", max_u),
                     ("add_sat_s", add_sat_s), ("add_sat_u", add_sat_u), ("sub_sat_s", sub_sat_s),
                     ("sub_sat_u", sub_sat_u), ("avgr_u", avgr_u), ("abs", abs_)):
        if "%s.%s" % (shape, name) in BY_NAME:  # only the instructions that exist
            fn.__name__ = fn.__qualname__ = "%s_%s" % (shape, name)
            g[fn.__name__] = fn


_make_int_lanes("i8x16", 8, _L8)
_make_int_lanes("i16x8", 16, _L16)
_make_int_lanes("i32x4", 32, _L32)
_make_int_lanes("i64x2", 64, _L64)

_I8 = struct.Struct("<8I")
_H16 = struct.Struct("<16H")
_p_I8 = _I8.pack
_u_H16 = _H16.unpack
_mul = operator.mul


def i16x8_mul(a: int, b: int) -> int:
    # Full products as u32 lanes; their low halves are the wrapped results.
    p = _u_H16(_p_I8(*map(_mul, _uH8(a.to_bytes(16, "little")), _uH8(b.to_bytes(16, "little")))))
    return _fb(_pH8(*p[0::2]), "little")


def i32x4_mul(a: int, b: int) -> int:
    return ((((a & 0xFFFFFFFF) * (b & 0xFFFFFFFF)) & 0xFFFFFFFF)
            | (((((a >> 32) & 0xFFFFFFFF) * ((b >> 32) & 0xFFFFFFFF)) & 0xFFFFFFFF) << 32)
            | (((((a >> 64) & 0xFFFFFFFF) * ((b >> 64) & 0xFFFFFFFF)) & 0xFFFFFFFF) << 64)
            | ((((a >> 96) * (b >> 96)) & 0xFFFFFFFF) << 96))


def i64x2_mul(a: int, b: int) -> int:
    return ((((a & 0xFFFFFFFFFFFFFFFF) * (b & 0xFFFFFFFFFFFFFFFF)) & 0xFFFFFFFFFFFFFFFF)
            | ((((a >> 64) * (b >> 64)) & 0xFFFFFFFFFFFFFFFF) << 64))


def _q15(p: int, q: int) -> int:
    r = (p * q + 0x4000) >> 15
    return 32767 if r > 32767 else r  # only -32768 * -32768 overflows


i16x8_q15mulr_sat_s = _bin(_uh8, _ph8, _q15)


_ABS8 = bytes(b if b < 128 else (256 - b) & 0xFF for b in range(256))
_POPCNT8 = bytes(bin(b).count("1") for b in range(256))


def i8x16_abs(a: int) -> int:
    return _fb(a.to_bytes(16, "little").translate(_ABS8), "little")


def i8x16_popcnt(a: int) -> int:
    return _fb(a.to_bytes(16, "little").translate(_POPCNT8), "little")


# Bitmask: read the lanes' most significant bytes in big-endian order and turn their
# top bits into the digits of a binary number.
_BIT_DIGIT = bytes(0x31 if b & 0x80 else 0x30 for b in range(256))


def i8x16_bitmask(a: int) -> int:
    return int(a.to_bytes(16, "big").translate(_BIT_DIGIT), 2)


def i16x8_bitmask(a: int) -> int:
    return int(a.to_bytes(16, "big")[0::2].translate(_BIT_DIGIT), 2)


def i32x4_bitmask(a: int) -> int:
    return int(a.to_bytes(16, "big")[0::4].translate(_BIT_DIGIT), 2)


def i64x2_bitmask(a: int) -> int:
    return int(a.to_bytes(16, "big")[0::8].translate(_BIT_DIGIT), 2)


def _narrow(unpack: _Unpack, pack: _Pack, lo: int, hi: int) -> _V2:
    def clamp(x: int) -> int:
        return lo if x < lo else (hi if x > hi else x)

    def op(a: int, b: int) -> int:
        return _fb(pack(*map(clamp, unpack(a.to_bytes(16, "little")) + unpack(b.to_bytes(16, "little")))),
                   "little")
    return op


i8x16_narrow_i16x8_s = _narrow(_uh8, _pb16, -128, 127)
i8x16_narrow_i16x8_u = _narrow(_uh8, _pB16, 0, 255)
i16x8_narrow_i32x4_s = _narrow(_ui4, _ph8, -32768, 32767)
i16x8_narrow_i32x4_u = _narrow(_ui4, _pH8, 0, 65535)


def _extend(unpack: _Unpack, pack: _Pack, start: int, n: int) -> _V1:
    end = start + n

    def op(a: int) -> int:
        return _fb(pack(*unpack(a.to_bytes(16, "little"))[start:end]), "little")
    return op


# Signed lanes packed with a signed struct of the wider shape sign-extend.
i16x8_extend_low_i8x16_s = _extend(_ub16, _ph8, 0, 8)
i16x8_extend_high_i8x16_s = _extend(_ub16, _ph8, 8, 8)
i16x8_extend_low_i8x16_u = _extend(_uB16, _pH8, 0, 8)
i16x8_extend_high_i8x16_u = _extend(_uB16, _pH8, 8, 8)
i32x4_extend_low_i16x8_s = _extend(_uh8, _pi4, 0, 4)
i32x4_extend_high_i16x8_s = _extend(_uh8, _pi4, 4, 4)
i32x4_extend_low_i16x8_u = _extend(_uH8, _pI4, 0, 4)
i32x4_extend_high_i16x8_u = _extend(_uH8, _pI4, 4, 4)
i64x2_extend_low_i32x4_s = _extend(_ui4, _pq2, 0, 2)
i64x2_extend_high_i32x4_s = _extend(_ui4, _pq2, 2, 2)
i64x2_extend_low_i32x4_u = _extend(_uI4, _pQ2, 0, 2)
i64x2_extend_high_i32x4_u = _extend(_uI4, _pQ2, 2, 2)


def _extmul(unpack: _Unpack, pack: _Pack, start: int, n: int, mask: int) -> _V2:
    end = start + n

    def op(a: int, b: int) -> int:
        x = unpack(a.to_bytes(16, "little"))[start:end]
        y = unpack(b.to_bytes(16, "little"))[start:end]
        return _fb(pack(*[(p * q) & mask for p, q in zip(x, y)]), "little")
    return op


i16x8_extmul_low_i8x16_s = _extmul(_ub16, _pH8, 0, 8, 0xFFFF)
i16x8_extmul_high_i8x16_s = _extmul(_ub16, _pH8, 8, 8, 0xFFFF)
i16x8_extmul_low_i8x16_u = _extmul(_uB16, _pH8, 0, 8, 0xFFFF)
i16x8_extmul_high_i8x16_u = _extmul(_uB16, _pH8, 8, 8, 0xFFFF)
i32x4_extmul_low_i16x8_s = _extmul(_uh8, _pI4, 0, 4, 0xFFFFFFFF)
i32x4_extmul_high_i16x8_s = _extmul(_uh8, _pI4, 4, 4, 0xFFFFFFFF)
i32x4_extmul_low_i16x8_u = _extmul(_uH8, _pI4, 0, 4, 0xFFFFFFFF)
i32x4_extmul_high_i16x8_u = _extmul(_uH8, _pI4, 4, 4, 0xFFFFFFFF)
i64x2_extmul_low_i32x4_s = _extmul(_ui4, _pQ2, 0, 2, 0xFFFFFFFFFFFFFFFF)
i64x2_extmul_high_i32x4_s = _extmul(_ui4, _pQ2, 2, 2, 0xFFFFFFFFFFFFFFFF)
i64x2_extmul_low_i32x4_u = _extmul(_uI4, _pQ2, 0, 2, 0xFFFFFFFFFFFFFFFF)
i64x2_extmul_high_i32x4_u = _extmul(_uI4, _pQ2, 2, 2, 0xFFFFFFFFFFFFFFFF)


def _extadd(unpack: _Unpack, pack: _Pack) -> _V1:
    def op(a: int) -> int:
        x = unpack(a.to_bytes(16, "little"))
        return _fb(pack(*map(operator.add, x[0::2], x[1::2])), "little")
    return op


# Pairwise sums of 8/16-bit lanes always fit the (signed or unsigned) wider lane.
i16x8_extadd_pairwise_i8x16_s = _extadd(_ub16, _ph8)
i16x8_extadd_pairwise_i8x16_u = _extadd(_uB16, _pH8)
i32x4_extadd_pairwise_i16x8_s = _extadd(_uh8, _pi4)
i32x4_extadd_pairwise_i16x8_u = _extadd(_uH8, _pI4)


def i32x4_dot_i16x8_s(a: int, b: int) -> int:
    x = _uh8(a.to_bytes(16, "little"))
    y = _uh8(b.to_bytes(16, "little"))
    p = list(map(operator.mul, x, y))
    return _fb(_pI4(*[(p[k] + p[k + 1]) & 0xFFFFFFFF for k in (0, 2, 4, 6)]), "little")


# --- floating point ------------------------------------------------------------------------

_ABS32 = 0x7FFFFFFF * _L32
_SIGN32 = 0x80000000 * _L32
_ABS64 = 0x7FFFFFFFFFFFFFFF * _L64
_SIGN64 = 0x8000000000000000 * _L64


def f32x4_abs(a: int) -> int:
    return a & _ABS32


def f32x4_neg(a: int) -> int:
    return a ^ _SIGN32


def f64x2_abs(a: int) -> int:
    return a & _ABS64


def f64x2_neg(a: int) -> int:
    return a ^ _SIGN64


def _f32x4_out(r: Sequence[float]) -> int:
    """Four doubles (f32 values, or doubles still to be rounded) as a v128."""
    try:
        return _fb(_pF4(*r), "little")
    except OverflowError:  # a lane beyond the single-precision range
        return (f32_to_bits(round_f32(r[0])) | f32_to_bits(round_f32(r[1])) << 32
                | f32_to_bits(round_f32(r[2])) << 64 | f32_to_bits(round_f32(r[3])) << 96)


def _f32_bin(f: Callable[..., Any]) -> _V2:
    def op(a: int, b: int) -> int:
        return _f32x4_out(list(map(f, _uF4(a.to_bytes(16, "little")), _uF4(b.to_bytes(16, "little")))))
    return op


def _f32_un(f: Callable[..., Any]) -> _V1:
    def op(a: int) -> int:
        return _f32x4_out(list(map(f, _uF4(a.to_bytes(16, "little")))))
    return op


def _f64_bin(f: Callable[..., Any]) -> _V2:
    def op(a: int, b: int) -> int:
        return _fb(_pD2(*map(f, _uD2(a.to_bytes(16, "little")), _uD2(b.to_bytes(16, "little")))), "little")
    return op


def _f64_un(f: Callable[..., Any]) -> _V1:
    def op(a: int) -> int:
        return _fb(_pD2(*map(f, _uD2(a.to_bytes(16, "little")))), "little")
    return op


# Lane arithmetic in double precision; packing into '<f' rounds once (see numerics).
f32x4_add = _f32_bin(operator.add)
f32x4_sub = _f32_bin(operator.sub)
f32x4_mul = _f32_bin(operator.mul)
f32x4_div = _f32_bin(f64_div)
f32x4_min = _f32_bin(f32_min)
f32x4_max = _f32_bin(f32_max)
f32x4_sqrt = _f32_un(f32_sqrt)
f32x4_ceil = _f32_un(f32_ceil)
f32x4_floor = _f32_un(f32_floor)
f32x4_trunc = _f32_un(f32_trunc)
f32x4_nearest = _f32_un(f32_nearest)
f64x2_add = _f64_bin(operator.add)
f64x2_sub = _f64_bin(operator.sub)
f64x2_mul = _f64_bin(operator.mul)
f64x2_div = _f64_bin(f64_div)
f64x2_min = _f64_bin(f64_min)
f64x2_max = _f64_bin(f64_max)
f64x2_sqrt = _f64_un(f64_sqrt)
f64x2_ceil = _f64_un(f64_ceil)
f64x2_floor = _f64_un(f64_floor)
f64x2_trunc = _f64_un(f64_trunc)
f64x2_nearest = _f64_un(f64_nearest)


def _fcmp(unpack: _Unpack, pack: _Pack, f: Callable[..., Any]) -> _V2:
    def op(a: int, b: int) -> int:
        return _fb(pack(*map(_TRUE.__getitem__, map(
            f, unpack(a.to_bytes(16, "little")), unpack(b.to_bytes(16, "little"))))), "little")
    return op


for _name, _f in (("eq", operator.eq), ("ne", operator.ne), ("lt", operator.lt),
                  ("gt", operator.gt), ("le", operator.le), ("ge", operator.ge)):
    globals()["f32x4_" + _name] = _fcmp(_uF4, _pi4, _f)
    globals()["f64x2_" + _name] = _fcmp(_uD2, _pq2, _f)
del _name, _f


def _pminmax(unpack_f: _Unpack, unpack_bits: _Unpack, pack_bits: _Pack, pick_b: Callable[[float, float], bool]) -> _V2:
    # pmin: b < a ? b : a;  pmax: a < b ? b : a.  The chosen lane's bits are kept.
    def op(a: int, b: int) -> int:
        ab = a.to_bytes(16, "little")
        bb = b.to_bytes(16, "little")
        return _fb(pack_bits(*[q if c else p for p, q, c in zip(
            unpack_bits(ab), unpack_bits(bb), map(pick_b, unpack_f(ab), unpack_f(bb)))]), "little")
    return op


f32x4_pmin = _pminmax(_uF4, _uI4, _pI4, operator.gt)  # a > b  <=>  b < a
f32x4_pmax = _pminmax(_uF4, _uI4, _pI4, operator.lt)
f64x2_pmin = _pminmax(_uD2, _uQ2, _pQ2, operator.gt)
f64x2_pmax = _pminmax(_uD2, _uQ2, _pQ2, operator.lt)


def f32x4_convert_i32x4_s(a: int) -> int:
    # i32 values are exact doubles; packing rounds them once to single precision.
    return _fb(_pF4(*_ui4(a.to_bytes(16, "little"))), "little")


def f32x4_convert_i32x4_u(a: int) -> int:
    return _fb(_pF4(*_uI4(a.to_bytes(16, "little"))), "little")


def f64x2_convert_low_i32x4_s(a: int) -> int:
    x = _ui4(a.to_bytes(16, "little"))
    return _fb(_pD2(x[0], x[1]), "little")


def f64x2_convert_low_i32x4_u(a: int) -> int:
    return _fb(_pD2(a & 0xFFFFFFFF, (a >> 32) & 0xFFFFFFFF), "little")


def i32x4_trunc_sat_f32x4_s(a: int) -> int:
    return _fb(_pI4(*map(i32_trunc_sat_f32_s, _uF4(a.to_bytes(16, "little")))), "little")


def i32x4_trunc_sat_f32x4_u(a: int) -> int:
    return _fb(_pI4(*map(i32_trunc_sat_f32_u, _uF4(a.to_bytes(16, "little")))), "little")


def i32x4_trunc_sat_f64x2_s_zero(a: int) -> int:
    x = _uD2(a.to_bytes(16, "little"))
    return i32_trunc_sat_f64_s(x[0]) | (i32_trunc_sat_f64_s(x[1]) << 32)


def i32x4_trunc_sat_f64x2_u_zero(a: int) -> int:
    x = _uD2(a.to_bytes(16, "little"))
    return i32_trunc_sat_f64_u(x[0]) | (i32_trunc_sat_f64_u(x[1]) << 32)


def f32x4_demote_f64x2_zero(a: int) -> int:
    x = _uD2(a.to_bytes(16, "little"))
    return f32_to_bits(f32_demote_f64(x[0])) | (f32_to_bits(f32_demote_f64(x[1])) << 32)


def f64x2_promote_low_f32x4(a: int) -> int:
    return _fb(_pD2(f64_promote_f32(f32_from_bits(a & 0xFFFFFFFF)),
                    f64_promote_f32(f32_from_bits((a >> 32) & 0xFFFFFFFF))), "little")


# --- relaxed SIMD (WebAssembly 3.0) --------------------------------------------------------
#
# The spec leaves each relaxed instruction a list of allowed behaviours chosen by a
# global parameter R; its deterministic profile fixes every R to 0, the first entry.
# pywazero always runs that choice, on both engines and every host (see the module
# docstring), so each relaxed instruction is one of the exact operations below.

i8x16_relaxed_swizzle = i8x16_swizzle                      # out-of-range index -> 0
i32x4_relaxed_trunc_f32x4_s = i32x4_trunc_sat_f32x4_s      # NaN -> 0, saturating
i32x4_relaxed_trunc_f32x4_u = i32x4_trunc_sat_f32x4_u
i32x4_relaxed_trunc_f64x2_s_zero = i32x4_trunc_sat_f64x2_s_zero
i32x4_relaxed_trunc_f64x2_u_zero = i32x4_trunc_sat_f64x2_u_zero
f32x4_relaxed_min = f32x4_min                              # NaN and -0/+0 as min/max
f32x4_relaxed_max = f32x4_max
f64x2_relaxed_min = f64x2_min
f64x2_relaxed_max = f64x2_max
i16x8_relaxed_q15mulr_s = i16x8_q15mulr_sat_s              # -1 * -1 (Q15) saturates


def i8x16_relaxed_laneselect(a: int, b: int, c: int) -> int:
    """Bitwise select (every bit of the mask counts, not only each lane's top bit)."""
    return (a & c) | (b & (c ^ _MASK))


i16x8_relaxed_laneselect = i8x16_relaxed_laneselect
i32x4_relaxed_laneselect = i8x16_relaxed_laneselect
i64x2_relaxed_laneselect = i8x16_relaxed_laneselect


def _madd32(x: float, y: float, z: float) -> float:
    # Unfused: the product is rounded to single precision before the addition.  (A
    # double holds the exact product of two singles, and the double sum of two
    # singles rounded once more to single is the correctly rounded single sum.)
    return round_f32(x * y) + z


def _nmadd32(x: float, y: float, z: float) -> float:
    return round_f32(-x * y) + z


def _madd64(x: float, y: float, z: float) -> float:
    return x * y + z


def _nmadd64(x: float, y: float, z: float) -> float:
    return -x * y + z


def _f32_tern(f: Callable[..., Any]) -> _V3:
    def op(a: int, b: int, c: int) -> int:
        return _f32x4_out(list(map(f, _uF4(a.to_bytes(16, "little")), _uF4(b.to_bytes(16, "little")),
                                   _uF4(c.to_bytes(16, "little")))))
    return op


def _f64_tern(f: Callable[..., Any]) -> _V3:
    def op(a: int, b: int, c: int) -> int:
        return _fb(_pD2(*map(f, _uD2(a.to_bytes(16, "little")), _uD2(b.to_bytes(16, "little")),
                             _uD2(c.to_bytes(16, "little")))), "little")
    return op


f32x4_relaxed_madd = _f32_tern(_madd32)
f32x4_relaxed_nmadd = _f32_tern(_nmadd32)
f64x2_relaxed_madd = _f64_tern(_madd64)
f64x2_relaxed_nmadd = _f64_tern(_nmadd64)


def _dot_i8_lanes(a: int, b: int) -> List[int]:
    """The eight i16 lanes of i16x8.relaxed_dot_i8x16_i7x16_s, as signed ints: both
    operands signed, each pair of products added with signed saturation."""
    p = list(map(operator.mul, _ub16(a.to_bytes(16, "little")), _ub16(b.to_bytes(16, "little"))))
    out = []
    for k in range(0, 16, 2):
        s = p[k] + p[k + 1]
        out.append(32767 if s > 32767 else s)  # only -128*-128 twice exceeds i16
    return out


def i16x8_relaxed_dot_i8x16_i7x16_s(a: int, b: int) -> int:
    return _fb(_ph8(*_dot_i8_lanes(a, b)), "little")


def i32x4_relaxed_dot_i8x16_i7x16_add_s(a: int, b: int, c: int) -> int:
    d = _dot_i8_lanes(a, b)
    acc = _ui4(c.to_bytes(16, "little"))
    return _fb(_pI4(*[(d[2 * k] + d[2 * k + 1] + acc[k]) & 0xFFFFFFFF for k in range(4)]), "little")


# --- tables for the engines ----------------------------------------------------------------

def _collect() -> Dict[str, Callable[..., Any]]:
    out = {}
    g = globals()
    skip = (opcodes.IMM_MEMARG, opcodes.IMM_MEMARG_LANE, opcodes.IMM_V128)
    for info in opcodes.BY_NAME.values():
        if info.op >= (opcodes.PREFIX_FD << 16) and info.imm not in skip:
            out[info.name] = g[info.name.replace(".", "_")]
    return out


#: instruction name -> function, for every SIMD instruction without memory access.
FUNCTIONS = _collect()

#: Expression templates, as in numerics.INLINE: ``{0}``, ``{1}``, ``{2}`` are the stack
#: operands in order; lane instructions use ``{lane}`` (an int literal) and
#: ``i8x16.shuffle`` uses ``{lanes}`` (a bytes literal), so format them with
#: ``tpl.format(*operands, lane=repr(lane))`` / ``lanes=repr(lanes)``.
INLINE: Dict[str, str] = {}


def _templates() -> None:
    for name in FUNCTIONS:
        info = opcodes.BY_NAME[name]
        fn = name.replace(".", "_")
        ops = ["{%d}" % k for k in range(len(info.params))]  # type: ignore[arg-type]  # (an instruction's)
        if info.imm == opcodes.IMM_LANE:
            args = [ops[0], "{lane}"] + ops[1:]
        elif info.imm == opcodes.IMM_SHUFFLE:
            args = ops + ["{lanes}"]
        else:
            args = ops
        INLINE[name] = "%s(%s)" % (fn, ", ".join(args))
    m = "0x%X" % _MASK
    INLINE.update({
        "v128.not": "({0} ^ %s)" % m,
        "v128.and": "({0} & {1})",
        "v128.or": "({0} | {1})",
        "v128.xor": "({0} ^ {1})",
        "v128.andnot": "({0} & ({1} ^ %s))" % m,
        "v128.bitselect": "v128_bitselect({0}, {1}, {2})",
        "v128.any_true": "(1 if {0} else 0)",
        "i8x16.extract_lane_u": "(({0} >> (8 * {lane})) & 0xFF)",
        "i16x8.extract_lane_u": "(({0} >> (16 * {lane})) & 0xFFFF)",
        "i32x4.extract_lane": "(({0} >> (32 * {lane})) & 0xFFFFFFFF)",
        "i64x2.extract_lane": "(({0} >> (64 * {lane})) & 0xFFFFFFFFFFFFFFFF)",
        "i8x16.splat": "(({0} & 0xFF) * 0x%X)" % _L8,
        "i16x8.splat": "(({0} & 0xFFFF) * 0x%X)" % _L16,
        "i32x4.splat": "({0} * 0x%X)" % _L32,
        "i64x2.splat": "({0} * 0x%X)" % _L64,
    })
    for shape, n in (("i8x16", _N8), ("i16x8", _N16), ("i32x4", _N32), ("i64x2", _N64)):
        h = n ^ _MASK
        INLINE[shape + ".add"] = "((({0} & 0x%X) + ({1} & 0x%X)) ^ (({0} ^ {1}) & 0x%X))" % (n, n, h)
        INLINE[shape + ".sub"] = "((({0} | 0x%X) - ({1} & 0x%X)) ^ (({0} ^ {1} ^ 0x%X) & 0x%X))" % (h, n, h, h)
    for name in INLINE:
        INLINE[name] = re.sub(r"\{(\d)\}", r"({\1})", INLINE[name])


_templates()

NEEDS_TEMP = frozenset(n for n, tpl in INLINE.items() if any(tpl.count("{%d}" % k) > 1 for k in range(3)))

NAMESPACE = {name.replace(".", "_"): fn for name, fn in FUNCTIONS.items()}

for _name, _fn in NAMESPACE.items():  # name the closures made by the factories
    if hasattr(_fn, "__code__") and _fn.__name__ != _name:
        _fn.__name__ = _fn.__qualname__ = _name
del _name, _fn
