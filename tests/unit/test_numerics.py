"""Scalar numerics (pywazero.wasm.numerics): boundary cases derived from the spec's
numerics chapter, an exact rational reference for the rounding operations, and checks
that the INLINE templates agree with the functions."""
from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pywazero.wasm import numerics as N
from pywazero.errors import Trap
from pywazero.wasm import opcodes
from pywazero.wasm.types import F32, F64, I32, I64

f32b = N.f32_from_bits
f64b = N.f64_from_bits
bits32 = N.f32_to_bits
bits64 = N.f64_to_bits

INF = float("inf")
F32_MAX = f32b(0x7F7FFFFF)
F32_MIN_SUB = f32b(1)


def is_canonical32(x):
    return x != x and bits32(x) & 0x7FFFFFFF == 0x7FC00000


def is_arithmetic32(x):
    return x != x and bool(bits32(x) & 0x400000)


def is_canonical64(x):
    return x != x and bits64(x) & 0x7FFFFFFFFFFFFFFF == 0x7FF8000000000000


def is_arithmetic64(x):
    return x != x and bool(bits64(x) & 0x0008000000000000)


def is_f32_value(x):
    """A float is a valid f32 representation: exactly single precision, or a NaN
    whose low 29 double mantissa bits are clear (the payload mapping)."""
    if x != x:
        return bits64(x) & 0x1FFFFFFF == 0
    return N.round_f32(x) == x or math.isinf(x)


def same(a, b):
    return bits64(a) == bits64(b)


# --- exact reference rounding -------------------------------------------------------

def ref_round(q: Fraction, prec: int, emin: int, emax: int) -> float:
    """``q`` rounded to a binary format (``prec`` bits, normal exponents
    ``emin..emax``) with ties to even; returned as a float (exact in double)."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    q = abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    quantum = Fraction(2) ** (max(e, emin) - (prec - 1))
    n = q / quantum
    fl = n.numerator // n.denominator
    rem = n - fl
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl & 1):
        fl += 1
    r = fl * quantum
    if r >= Fraction(2) ** (emax + 1):
        return sign * INF
    return sign * float(r)


def ref32(q):
    return ref_round(q, 24, -126, 127)


def ref64(q):
    return ref_round(q, 53, -1022, 1023)


f32_finite = st.integers(0, 0xFFFFFFFF).filter(lambda b: b & 0x7F800000 != 0x7F800000).map(f32b)
f32_any = st.integers(0, 0xFFFFFFFF).map(f32b)
f64_any = st.integers(0, 0xFFFFFFFFFFFFFFFF).map(f64b)
SPECIAL32 = [0x0, 0x80000000, 0x1, 0x80000001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
             0x7FC00000, 0xFFC00000, 0x7FA00000, 0xFFA00001, 0x7FFFFFFF, 0x3F800000, 0xBF000000,
             0x3F000000, 0x4B000000, 0x4B000001, 0xCB7FFFFF, 0x4F000000, 0xCF000000, 0x5F000000,
             0xDF000000, 0x00800000, 0x007FFFFF, 0x40200000, 0x3FC00000]
SPECIAL64 = [0x0, 0x8000000000000000, 0x1, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000,
             0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000000,
             0x7FF0000000000001, 0x3FF0000000000000, 0xBFE0000000000000, 0x4330000000000000,
             0x4330000000000001, 0xC1E0000000000000, 0x41DFFFFFFFC00000, 0xC1E0000000200000,
             0x43E0000000000000, 0xC3E0000000000000, 0x43F0000000000000, 0x0010000000000000,
             0x000FFFFFFFFFFFFF, 0x3FE0000000000001, 0x4004000000000000]


# --- representation ---------------------------------------------------------------

@pytest.mark.parametrize("b", SPECIAL32 + [0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x12345678])
def test_f32_bits_roundtrip(b):
    x = f32b(b)
    assert bits32(x) == b
    assert is_f32_value(x)


@pytest.mark.parametrize("b", SPECIAL64 + [0x7FF0000000000001, 0xFFF7FFFFFFFFFFFF])
def test_f64_bits_roundtrip(b):
    assert bits64(f64b(b)) == b


def test_f32_nan_mapping():
    assert bits64(f32b(0x7FA00000)) == 0x7FF4000000000000
    assert bits64(f32b(0xFFC00001)) == 0xFFF8000020000000


def test_signalling_nan_survives_sign_ops():
    s = f32b(0x7FA00000)
    assert bits32(N.f32_neg(s)) == 0xFFA00000
    assert bits32(N.f32_abs(f32b(0xFFA00000))) == 0x7FA00000
    assert bits32(N.f32_copysign(s, -1.0)) == 0xFFA00000
    assert bits32(N.f32_copysign(f32b(0xFFA00000), f32b(0x7FC00000))) == 0x7FA00000
    d = f64b(0x7FF0000000000001)
    assert bits64(N.f64_neg(d)) == 0xFFF0000000000001
    assert bits64(N.f64_abs(N.f64_neg(d))) == 0x7FF0000000000001
    assert bits64(N.f64_copysign(1.0, f64b(0xFFF0000000000001))) == 0xBFF0000000000000


def test_reinterpret():
    assert N.i32_reinterpret_f32(f32b(0x7FA00000)) == 0x7FA00000
    assert N.f32_reinterpret_i32(0xFF800001) is not None
    assert bits32(N.f32_reinterpret_i32(0xFF800001)) == 0xFF800001
    assert N.i64_reinterpret_f64(-0.0) == 0x8000000000000000
    assert N.f64_reinterpret_i64(0x3FF0000000000000) == 1.0


def test_round_f32():
    assert N.round_f32(1.0 + 2.0 ** -24) == 1.0             # tie -> even
    assert N.round_f32(1.0 + 3 * 2.0 ** -24) == 1.0 + 2.0 ** -22
    assert N.round_f32(2.0 ** 128 - 2.0 ** 103) == INF       # midpoint -> even (2**128)
    assert N.round_f32(-(2.0 ** 128 - 2.0 ** 103)) == -INF
    assert N.round_f32(2.0 ** 128 - 2.0 ** 103 - 2.0 ** 75) == F32_MAX
    assert N.round_f32(1e300) == INF
    assert N.round_f32(2.0 ** -150) == 0.0                   # tie with 0 -> 0
    assert N.round_f32(3 * 2.0 ** -150) == 2.0 ** -148       # tie -> even (2 quanta)
    assert N.round_f32(2.0 ** -150 + 2.0 ** -200) == 2.0 ** -149
    assert same(N.round_f32(-1e-300), -0.0)
    assert bits32(N.round_f32(f64b(0x7FF0000000000001))) & 0x7FC00000 == 0x7FC00000


# --- integer ------------------------------------------------------------------------

def test_int_division_traps():
    for fn in (N.i32_div_s, N.i32_div_u, N.i32_rem_s, N.i32_rem_u,
               N.i64_div_s, N.i64_div_u, N.i64_rem_s, N.i64_rem_u):
        with pytest.raises(Trap) as e:
            fn(1, 0)
        assert e.value.reason == "integer divide by zero"
    with pytest.raises(Trap, match="integer overflow"):
        N.i32_div_s(0x80000000, 0xFFFFFFFF)
    with pytest.raises(Trap, match="integer overflow"):
        N.i64_div_s(0x8000000000000000, 0xFFFFFFFFFFFFFFFF)
    assert N.i32_rem_s(0x80000000, 0xFFFFFFFF) == 0
    assert N.i64_rem_s(0x8000000000000000, 0xFFFFFFFFFFFFFFFF) == 0


def _s32(x):
    return x - (1 << 32) if x >> 31 else x


@given(st.integers(0, 0xFFFFFFFF), st.integers(1, 0xFFFFFFFF))
def test_i32_div_rem_signed(a, b):
    sa, sb = _s32(a), _s32(b)
    q = abs(sa) // abs(sb) * (1 if (sa < 0) == (sb < 0) else -1)
    if q == 2 ** 31:
        with pytest.raises(Trap):
            N.i32_div_s(a, b)
    else:
        assert N.i32_div_s(a, b) == q & 0xFFFFFFFF
    assert N.i32_rem_s(a, b) == (sa - q * sb) & 0xFFFFFFFF


def test_int_div_examples():
    assert N.i32_div_s(0xFFFFFFF9, 2) == 0xFFFFFFFD    # -7 / 2 = -3 (towards zero)
    assert N.i32_rem_s(0xFFFFFFF9, 2) == 0xFFFFFFFF    # -7 % 2 = -1 (sign of dividend)
    assert N.i32_rem_s(7, 0xFFFFFFFE) == 1
    assert N.i64_div_s(7, 0xFFFFFFFFFFFFFFFE) == 0xFFFFFFFFFFFFFFFD
    assert N.i64_div_u(0xFFFFFFFFFFFFFFFF, 2) == 0x7FFFFFFFFFFFFFFF


def test_bit_counting():
    assert N.i32_clz(0) == 32 and N.i32_ctz(0) == 32 and N.i32_popcnt(0) == 0
    assert N.i32_clz(0x80000000) == 0 and N.i32_ctz(0x80000000) == 31
    assert N.i32_popcnt(0xFFFFFFFF) == 32
    assert N.i64_clz(0) == 64 and N.i64_ctz(0) == 64 and N.i64_popcnt(0xFFFFFFFFFFFFFFFF) == 64
    assert N.i64_clz(1) == 63 and N.i64_ctz(0x8000000000000000) == 63


def test_shifts_and_rotates():
    assert N.i32_shl(1, 33) == 2
    assert N.i32_shr_s(0x80000000, 31) == 0xFFFFFFFF
    assert N.i32_shr_s(0x80000000, 32) == 0x80000000
    assert N.i32_shr_u(0x80000000, 63) == 1
    assert N.i32_rotl(0x80000001, 1) == 3 and N.i32_rotl(0x12345678, 32) == 0x12345678
    assert N.i32_rotr(3, 1) == 0x80000001
    assert N.i64_rotl(0x8000000000000001, 65) == 3
    assert N.i64_rotr(1, 0xFFFFFFFFFFFFFFFF) == 2
    assert N.i64_shr_s(0x8000000000000000, 0x3F) == 0xFFFFFFFFFFFFFFFF


def test_comparisons_and_extensions():
    assert N.i32_lt_s(0x80000000, 0) == 1 and N.i32_lt_u(0x80000000, 0) == 0
    assert N.i64_ge_s(0, 0xFFFFFFFFFFFFFFFF) == 1 and N.i64_ge_u(0, 0xFFFFFFFFFFFFFFFF) == 0
    assert type(N.i32_eq(1, 1)) is int and type(N.f32_lt(1.0, 2.0)) is int
    assert N.i32_eqz(0) == 1 and N.i64_eqz(5) == 0
    assert N.i32_extend8_s(0x80) == 0xFFFFFF80 and N.i32_extend8_s(0x17F) == 0x7F
    assert N.i32_extend16_s(0x8000) == 0xFFFF8000
    assert N.i64_extend32_s(0x180000000) == 0xFFFFFFFF80000000
    assert N.i64_extend_i32_s(0xFFFFFFFF) == 0xFFFFFFFFFFFFFFFF
    assert N.i64_extend_i32_u(0xFFFFFFFF) == 0xFFFFFFFF
    assert N.i32_wrap_i64(0x123456789) == 0x23456789


# --- float arithmetic ---------------------------------------------------------------

def test_f32_rounding_examples():
    assert N.f32_add(1.0, 2.0 ** -24) == 1.0
    assert N.f32_add(1.0, 2.0 ** -24 + 2.0 ** -47) == 1.0 + 2.0 ** -23
    assert N.f32_mul(F32_MAX, 2.0) == INF
    assert N.f32_sub(-F32_MAX, F32_MAX) == -INF
    assert N.f32_mul(F32_MIN_SUB, 0.5) == 0.0
    assert N.f32_div(1.0, 3.0) == f32b(0x3EAAAAAB)
    assert N.f32_sqrt(2.0) == f32b(0x3FB504F3)


@pytest.mark.parametrize("fn,exp", [(N.f32_div, N.f32_div), (N.f64_div, N.f64_div)])
def test_division_by_zero(fn, exp):
    assert fn(1.0, 0.0) == INF and fn(1.0, -0.0) == -INF and fn(-1.0, -0.0) == INF
    assert fn(INF, -0.0) == -INF
    assert fn(0.0, 0.0) != fn(0.0, 0.0)


def test_nan_results():
    can32, snan32 = f32b(0x7FC00000), f32b(0x7FA00000)
    for fn in (N.f32_add, N.f32_sub, N.f32_mul, N.f32_div, N.f32_min, N.f32_max):
        assert is_canonical32(fn(can32, 1.0)) and is_canonical32(fn(1.0, f32b(0xFFC00000)))
        r = fn(snan32, 1.0)
        assert is_arithmetic32(r) and is_f32_value(r)
        assert is_arithmetic32(fn(2.0, snan32))
    assert is_canonical32(N.f32_add(INF, -INF)) and is_canonical32(N.f32_mul(0.0, INF))
    assert is_canonical32(N.f32_div(INF, INF)) and is_canonical32(N.f32_div(0.0, -0.0))
    assert is_canonical32(N.f32_sqrt(-1.0)) and is_canonical32(N.f32_sqrt(-INF))
    for fn in (N.f32_sqrt, N.f32_ceil, N.f32_floor, N.f32_trunc, N.f32_nearest):
        r = fn(snan32)
        assert is_arithmetic32(r) and is_f32_value(r)
        assert is_canonical32(fn(can32))
    s64 = f64b(0x7FF0000000000001)
    for fn in (N.f64_sqrt, N.f64_ceil, N.f64_floor, N.f64_trunc, N.f64_nearest):
        assert is_arithmetic64(fn(s64))
    for fn in (N.f64_add, N.f64_sub, N.f64_mul, N.f64_div, N.f64_min, N.f64_max):
        assert is_arithmetic64(fn(s64, 1.0)) and is_arithmetic64(fn(1.0, s64))
        assert is_canonical64(fn(f64b(0xFFF8000000000000), 3.0))


def test_min_max_zeros():
    for mn, mx in ((N.f32_min, N.f32_max), (N.f64_min, N.f64_max)):
        assert same(mn(0.0, -0.0), -0.0) and same(mn(-0.0, 0.0), -0.0)
        assert same(mx(0.0, -0.0), 0.0) and same(mx(-0.0, 0.0), 0.0)
        assert same(mn(-0.0, -0.0), -0.0) and same(mx(0.0, 0.0), 0.0)
        assert mn(-INF, 1.0) == -INF and mx(-INF, INF) == INF
        assert mn(2.0, 2.0) == 2.0 and mx(-3.0, -3.0) == -3.0


def test_rounding_to_integral():
    cases = [  # x, ceil, floor, trunc, nearest
        (2.5, 3.0, 2.0, 2.0, 2.0), (3.5, 4.0, 3.0, 3.0, 4.0), (-2.5, -2.0, -3.0, -2.0, -2.0),
        (-0.5, -0.0, -1.0, -0.0, -0.0), (0.5, 1.0, 0.0, 0.0, 0.0), (-0.0, -0.0, -0.0, -0.0, -0.0),
        (0.49999997, 1.0, 0.0, 0.0, 0.0), (-1.5, -1.0, -2.0, -1.0, -2.0),
        (F32_MIN_SUB, 1.0, 0.0, 0.0, 0.0), (-F32_MIN_SUB, -0.0, -1.0, -0.0, -0.0),
        (8388609.0, 8388609.0, 8388609.0, 8388609.0, 8388609.0),
        (4503599627370497.0, 4503599627370497.0, 4503599627370497.0, 4503599627370497.0,
         4503599627370497.0),
        (-4503599627370495.5, -4503599627370495.0, -4503599627370496.0, -4503599627370495.0,
         -4503599627370496.0),
        (1e300, 1e300, 1e300, 1e300, 1e300), (-INF, -INF, -INF, -INF, -INF),
    ]
    for x, c, f, t, n in cases:
        for fam in ("f32", "f64"):
            if fam == "f32" and N.round_f32(x) != x:
                continue
            assert same(getattr(N, fam + "_ceil")(x), c), (fam, x)
            assert same(getattr(N, fam + "_floor")(x), f), (fam, x)
            assert same(getattr(N, fam + "_trunc")(x), t), (fam, x)
            assert same(getattr(N, fam + "_nearest")(x), n), (fam, x)


def test_sqrt():
    assert same(N.f64_sqrt(-0.0), -0.0) and same(N.f32_sqrt(-0.0), -0.0)
    assert N.f64_sqrt(INF) == INF and N.f32_sqrt(INF) == INF
    assert is_canonical64(N.f64_sqrt(-1e-300))


@settings(max_examples=400, deadline=None)
@given(f32_finite, f32_finite)
def test_f32_arith_matches_exact_reference(a, b):
    qa, qb = Fraction(a), Fraction(b)
    assert same(N.f32_add(a, b), ref32(qa + qb)) or (qa + qb == 0)
    assert same(N.f32_sub(a, b), ref32(qa - qb)) or (qa - qb == 0)
    assert N.f32_mul(a, b) == ref32(qa * qb)
    if b:
        assert N.f32_div(a, b) == ref32(qa / qb)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 0xFFFFFFFFFFFFFFFF))
def test_int_to_float_matches_exact_reference(n):
    s = n - (1 << 64) if n >> 63 else n
    assert N.f32_convert_i64_u(n) == ref32(Fraction(n))
    assert N.f32_convert_i64_s(n) == ref32(Fraction(s))
    assert N.f64_convert_i64_u(n) == ref64(Fraction(n))
    assert N.f64_convert_i64_s(n) == ref64(Fraction(s))
    m = n & 0xFFFFFFFF
    assert N.f32_convert_i32_u(m) == ref32(Fraction(m))
    assert N.f32_convert_i32_s(m) == ref32(Fraction(_s32(m)))
    assert N.f64_convert_i32_s(m) == _s32(m) and N.f64_convert_i32_u(m) == m


def test_int_to_float_double_rounding_cases():
    # Rounding through a double first would give 2**53 here.
    assert N.f32_convert_i64_u(2 ** 53 + 2 ** 29 + 1) == 2.0 ** 53 + 2.0 ** 30
    assert N.f32_convert_i64_s((-(2 ** 53 + 2 ** 29 + 1)) & (2 ** 64 - 1)) == -(2.0 ** 53 + 2.0 ** 30)
    assert N.f32_convert_i64_u(0xFFFFFFFFFFFFFFFF) == 2.0 ** 64
    assert N.f32_convert_i64_s(0x8000000000000000) == -(2.0 ** 63)
    assert N.f32_convert_i32_u(16777217) == 16777216.0
    assert N.f32_convert_i32_u(16777219) == 16777220.0
    assert N.f64_convert_i64_u(2 ** 64 - 1) == 2.0 ** 64
    assert N.f64_convert_i64_u(2 ** 53 + 1) == 2.0 ** 53
    assert N.f64_convert_i64_u(2 ** 53 + 3) == 2.0 ** 53 + 4


@settings(max_examples=300, deadline=None)
@given(f64_any)
def test_demote_matches_exact_reference(x):
    r = N.f32_demote_f64(x)
    if x != x:
        assert is_arithmetic32(r) and is_f32_value(r)
        if is_canonical64(x):
            assert is_canonical32(r)
    elif math.isinf(x):
        assert r == x
    else:
        assert same(r, math.copysign(ref32(Fraction(x)), x))


def test_demote_promote():
    assert N.f32_demote_f64(f64b(0x7FEFFFFFFFFFFFFF)) == INF
    assert N.f32_demote_f64(float.fromhex("0x1.fffffefffffffp127")) == F32_MAX
    assert N.f32_demote_f64(float.fromhex("0x1.ffffffp127")) == INF
    assert N.f32_demote_f64(float.fromhex("0x1p-150")) == 0.0
    assert N.f32_demote_f64(float.fromhex("0x1.0000000000001p-150")) == F32_MIN_SUB
    assert is_arithmetic32(N.f32_demote_f64(f64b(0x7FF0000000000001)))
    assert bits32(N.f32_demote_f64(f64b(0xFFF4000020000000))) == 0xFFE00001
    assert is_canonical32(N.f32_demote_f64(f64b(0x7FF8000000000000)))
    assert is_arithmetic64(N.f64_promote_f32(f32b(0x7FA00000)))
    assert is_canonical64(N.f64_promote_f32(f32b(0xFFC00000)))
    assert N.f64_promote_f32(F32_MIN_SUB) == 2.0 ** -149
    assert same(N.f64_promote_f32(-0.0), -0.0)


# --- float -> int -------------------------------------------------------------------

TRUNC_CASES = [
    # fn, ok inputs -> results, overflowing inputs
    (N.i32_trunc_f64_s, [(-2147483648.9, 0x80000000), (2147483647.9, 0x7FFFFFFF), (-0.9, 0),
                         (-1.5, 0xFFFFFFFF)], [-2147483649.0, 2147483648.0, INF, -INF]),
    (N.i32_trunc_f32_s, [(-2147483648.0, 0x80000000), (2147483520.0, 0x7FFFFF80)],
     [2147483648.0, -2147483904.0]),
    (N.i32_trunc_f64_u, [(-0.9, 0), (4294967295.9, 0xFFFFFFFF)], [-1.0, 4294967296.0, -INF]),
    (N.i32_trunc_f32_u, [(4294967040.0, 0xFFFFFF00), (-0.0, 0)], [4294967296.0, -1.0]),
    (N.i64_trunc_f64_s, [(-9223372036854775808.0, 0x8000000000000000),
                         (9223372036854774784.0, 0x7FFFFFFFFFFFFC00), (-1.0, 2 ** 64 - 1)],
     [9223372036854775808.0, -9223372036854777856.0, INF]),
    (N.i64_trunc_f64_u, [(18446744073709549568.0, 0xFFFFFFFFFFFFF800), (-0.99, 0)],
     [18446744073709551616.0, -1.0]),
    (N.i64_trunc_f32_s, [(-9223372036854775808.0, 0x8000000000000000)], [9223372036854775808.0]),
    (N.i64_trunc_f32_u, [(18446742974197923840.0, 0xFFFFFF0000000000)], [18446744073709551616.0]),
]


@pytest.mark.parametrize("fn,oks,bads", TRUNC_CASES)
def test_trunc_boundaries(fn, oks, bads):
    for x, r in oks:
        assert fn(x) == r, x
    for x in bads:
        with pytest.raises(Trap) as e:
            fn(x)
        assert e.value.reason == "integer overflow"
    for nan in (f32b(0x7FC00000), f32b(0xFFA00000), f64b(0x7FF0000000000001)):
        with pytest.raises(Trap) as e:
            fn(nan)
        assert e.value.reason == "invalid conversion to integer"


def test_trunc_sat():
    nan = f32b(0xFFC00000)
    assert N.i32_trunc_sat_f32_s(nan) == 0 and N.i64_trunc_sat_f64_u(nan) == 0
    assert N.i32_trunc_sat_f64_s(1e10) == 0x7FFFFFFF and N.i32_trunc_sat_f64_s(-1e10) == 0x80000000
    assert N.i32_trunc_sat_f32_u(-INF) == 0 and N.i32_trunc_sat_f32_u(INF) == 0xFFFFFFFF
    assert N.i64_trunc_sat_f64_s(-INF) == 0x8000000000000000
    assert N.i64_trunc_sat_f64_s(9223372036854775808.0) == 0x7FFFFFFFFFFFFFFF
    assert N.i64_trunc_sat_f64_u(18446744073709551616.0) == 0xFFFFFFFFFFFFFFFF
    assert N.i64_trunc_sat_f32_u(-0.99) == 0 and N.i32_trunc_sat_f64_s(-2147483648.5) == 0x80000000


# --- coverage, robustness, templates ------------------------------------------------

SCALAR_OPS = sorted(
    info.name for info in opcodes.BY_NAME.values()
    if info.params is not None and info.op < (opcodes.PREFIX_FD << 16)
    and info.imm == opcodes.IMM_NONE and info.name != "nop"
)


def test_every_scalar_instruction_has_a_function():
    assert SCALAR_OPS == sorted(N.FUNCTIONS)
    assert len(SCALAR_OPS) == 136
    for name in SCALAR_OPS:
        assert getattr(N, name.replace(".", "_")) is N.FUNCTIONS[name]
        assert name in N.INLINE


VALUES = {
    I32: [0, 1, 2, 5, 31, 32, 33, 0x7FFFFFFF, 0x80000000, 0x80000001,
          0xFFFFFFFE, 0xFFFFFFFF, 0x12345678, 0x00FF0000],
    I64: [0, 1, 3, 63, 64, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0xFFFFFFFFFFFFFFFF,
           0x20000000000001, 0x20000020000001, 0xFFDFFFFFDFFFFFFF, 0x80000000, 0xFFFFFFFF],
    F32: [f32b(b) for b in SPECIAL32],
    F64: [f64b(b) for b in SPECIAL64],
}


def _outcome(thunk):
    try:
        r = thunk()
    except Trap as t:
        return ("trap", t.reason)
    if isinstance(r, float):
        return ("float", bits64(r))
    return (type(r), r)


def _template_function(name, arity):
    tpl = N.INLINE[name]
    args = ["a%d" % k for k in range(arity)]
    if name in N.NEEDS_TEMP:
        body = tpl.format(*args)
    else:
        # Substitute non-trivial expressions, to check the parenthesization.
        body = tpl.format(*["%s if True else 0" % a for a in args])
    src = "def f(%s):\n    return %s\n" % (", ".join(args), body)
    ns = dict(N.NAMESPACE)
    exec(src, ns)
    return ns["f"]


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_inline_template_agrees_with_function(name):
    info = opcodes.BY_NAME[name]
    fn = N.FUNCTIONS[name]
    inl = _template_function(name, len(info.params))
    pools = [VALUES[t] for t in info.params]
    combos = [[]]
    for pool in pools:
        combos = [c + [v] for c in combos for v in pool]
    for args in combos:
        a = _outcome(lambda: fn(*args))
        b = _outcome(lambda: inl(*args))
        assert a == b, (name, args, a, b)


@pytest.mark.parametrize("name", sorted(N.INLINE))
def test_inline_template_shape(name):
    tpl = N.INLINE[name]
    arity = len(opcodes.BY_NAME[name].params)
    counts = [tpl.count("{%d}" % k) for k in range(arity)]
    assert set(re.findall(r"\{(\d+)\}", tpl)) == {str(k) for k in range(arity)}
    if name not in N.NEEDS_TEMP:
        assert counts == [1] * arity
        # Operands are evaluated in stack order.
        order = []
        ns = dict(N.NAMESPACE, rec=lambda k, v: (order.append(k), v)[1])
        sample = [VALUES[t][3] for t in opcodes.BY_NAME[name].params]
        expr = tpl.format(*["rec(%d, %r)" % (k, v) for k, v in enumerate(sample)])
        try:
            eval(expr, ns)
        except Trap:
            pass
        assert order == list(range(arity))
    else:
        assert max(counts) > 1
    # Every global name a template uses is available.
    code = compile(tpl.format(*["a%d" % k for k in range(arity)]), "<tpl>", "eval")
    for n in code.co_names:
        assert n in N.NAMESPACE or re.match(r"a\d$", n) or n in (
            "_nt", "float", "int", "round", "bit_count", "bit_length", "count", "bin"), n


NUMERIC_STRATEGY = {I32: st.integers(0, 0xFFFFFFFF), I64: st.integers(0, 0xFFFFFFFFFFFFFFFF),
                    F32: f32_any, F64: f64_any}


@pytest.mark.parametrize("name", SCALAR_OPS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_only_traps_escape_and_results_are_well_formed(name, data):
    info = opcodes.BY_NAME[name]
    args = [data.draw(NUMERIC_STRATEGY[t]) for t in info.params]
    try:
        r = N.FUNCTIONS[name](*args)
    except Trap:
        return
    (rt,) = info.results
    if rt == I32:
        assert type(r) is int and 0 <= r < 2 ** 32
    elif rt == I64:
        assert type(r) is int and 0 <= r < 2 ** 64
    elif rt == F32:
        assert type(r) is float and is_f32_value(r)
    else:
        assert type(r) is float
