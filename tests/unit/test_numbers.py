"""Numeric literals of the text format (pywazero.text.numbers)."""
from __future__ import annotations

import struct

import pytest

from pywazero.text.numbers import parse_f32_bits, parse_f64_bits, parse_int, parse_uint


# --- integers ----------------------------------------------------------------------

@pytest.mark.parametrize("text, bits, expected", [
    ("0", 32, 0),
    ("42", 32, 42),
    ("-1", 32, 0xFFFFFFFF),
    ("-0", 32, 0),
    ("+0", 32, 0),
    ("0xffffffff", 32, 0xFFFFFFFF),
    ("0xFFFF_ffff", 32, 0xFFFFFFFF),
    ("4294967295", 32, 0xFFFFFFFF),
    ("-0x80000000", 32, 0x80000000),
    ("-2147483648", 32, 0x80000000),
    ("+0x7fffffff", 32, 0x7FFFFFFF),
    ("+2147483647", 32, 0x7FFFFFFF),
    ("1_000_000", 32, 1000000),
    ("0xdead_beef", 32, 0xDEADBEEF),
    ("18446744073709551615", 64, 2**64 - 1),
    ("-9223372036854775808", 64, 2**63),
    ("-0x8000_0000_0000_0000", 64, 2**63),
    ("0" * 5000 + "7", 32, 7),
    ("-" + "0" * 5000 + "1", 32, 0xFFFFFFFF),
    ("255", 8, 255),
    ("-128", 8, 0x80),
])
def test_parse_int_values(text, bits, expected):
    assert parse_int(text, bits) == expected


@pytest.mark.parametrize("text, bits", [
    ("4294967296", 32),
    ("0x1_0000_0000", 32),
    ("-2147483649", 32),
    ("-0x80000001", 32),
    ("+2147483648", 32),      # a sign makes it an sN: must fit in the signed range
    ("+0x80000000", 32),
    ("18446744073709551616", 64),
    ("-9223372036854775809", 64),
    ("256", 8),
    ("9" * 5000, 32),
])
def test_parse_int_out_of_range(text, bits):
    with pytest.raises(ValueError, match="constant out of range"):
        parse_int(text, bits)


@pytest.mark.parametrize("text", [
    "", "_1", "1_", "1__0", "0x", "0x_1", "0x1_", "0_x1", "0X1", "1.0", "1e3", "+", "-",
    "0xg", "nan", "inf", "--1", "+-1", " 1", "1 ", "\u0663", "0x1p0", "1_000_",
])
def test_parse_int_malformed(text):
    with pytest.raises(ValueError) as exc:
        parse_int(text, 32)
    assert "out of range" not in str(exc.value)


def test_parse_uint():
    assert parse_uint("0", 32) == 0
    assert parse_uint("0x10", 32) == 16
    assert parse_uint("4_096", 32) == 4096
    assert parse_uint("4294967295", 32) == 2**32 - 1
    assert parse_uint("255", 8) == 255
    with pytest.raises(ValueError, match="constant out of range"):
        parse_uint("4294967296", 32)
    with pytest.raises(ValueError, match="constant out of range"):
        parse_uint("256", 8)
    for bad in ("-1", "+1", "-0", "1_", "0x", "1.0"):
        with pytest.raises(ValueError):
            parse_uint(bad, 32)


# --- f32 -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("0", 0x00000000),
    ("-0", 0x80000000),
    ("-0.0", 0x80000000),
    ("+0x0p0", 0x00000000),
    ("1", 0x3F800000),
    ("1.", 0x3F800000),
    ("1.e0", 0x3F800000),
    ("1.5", 0x3FC00000),
    ("-1.5", 0xBFC00000),
    ("0.1", 0x3DCCCCCD),
    ("1E1", 0x41200000),
    ("1_000.000_1", 0x447A0002),  # 1000 + 1.64 ulp (ulp = 2**-14) -> 1000 + 2 ulp
    ("0x1_0p0", 0x41800000),
    ("0x1.8p1", 0x40400000),
    ("0x.8p0", None),
    ("inf", 0x7F800000),
    ("-inf", 0xFF800000),
    ("+inf", 0x7F800000),
    ("nan", 0x7FC00000),
    ("-nan", 0xFFC00000),
    ("nan:0x200000", 0x7FA00000),
    ("+nan:0x1", 0x7F800001),
    ("-nan:0x7f_ffff", 0xFFFFFFFF),
    # the largest finite value and the boundary to overflow
    ("0x1.fffffep127", 0x7F7FFFFF),
    ("-0x1.fffffep127", 0xFF7FFFFF),
    ("0x1.fffffefffffffffffp127", 0x7F7FFFFF),
    ("3.4028234663852886e38", 0x7F7FFFFF),
    ("3.4028235677973366e38", 0x7F7FFFFF),   # just below max + ulp/2
    # subnormals and ties to even at the bottom
    ("0x1p-149", 0x00000001),
    ("0x1p-150", 0x00000000),          # exactly half the smallest subnormal: to even (0)
    ("0x1.000002p-150", 0x00000001),   # just above half
    ("0x1.8p-149", 0x00000002),        # 1.5 ulp: tie, to even (2)
    ("1e-45", 0x00000001),
    ("1e-50", 0x00000000),
    ("0x1p-126", 0x00800000),
    ("0x0.fffffep-126", 0x007FFFFF),
    ("0x0.ffffffp-126", 0x00800000),   # rounds up into the smallest normal
    # ties to even in the normal range
    ("16777217", 0x4B800000),
    ("16777219", 0x4B800002),
    ("0x1.000001p0", 0x3F800000),
    ("0x1.000003p0", 0x3F800002),
    ("0x1.0000010000000000000000001p0", 0x3F800001),
    # literals just off an f32 midpoint whose nearest double IS the midpoint:
    # rounding through a double would pick the wrong neighbour.
    ("1.000000178813934326", 0x3F800001),   # just below 1 + 3*2**-24
    ("1.000000059604644776", 0x3F800001),   # just above 1 + 2**-24
    ("0." + "0" * 5000 + "1e5000", 0x3DCCCCCD),
])
def test_f32(text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            parse_f32_bits(text)
    else:
        assert parse_f32_bits(text) == expected


def test_f32_double_rounding_case_really_differs():
    # The two literals above are genuine double-rounding traps.
    d = float("1.000000178813934326")
    assert struct.unpack("<I", struct.pack("<f", d))[0] == 0x3F800002


@pytest.mark.parametrize("text", [
    "1e40", "-1e40", "0x1p128", "0x1.ffffffp127", "-0x1.ffffffp127",
    "3.4028235677973367e38", "340282356779733661637539395458142568448",
    "1e99999999999999999999", "nan:0x0", "nan:0x800000", "-nan:0x80_0000",
])
def test_f32_out_of_range(text):
    with pytest.raises(ValueError, match="constant out of range"):
        parse_f32_bits(text)


@pytest.mark.parametrize("text", [
    "", "-", "_100", "+_100", "-_100", "99_", "1__000", "_1.0", "1.0_", "1_.0", "1._0",
    "_1e1", "1e1_", "1_e1", "1e_1", "_1.0e1", "1.0e1_", "1.0_e1", "1.0e_1", "1.0e+_1",
    "1.0e_+1", "_0x100", "0_x100", "0x_100", "0x00_", "0xff__ffff", "0x_1.0", "0x1.0_",
    "0x1_.0", "0x1._0", "0x_1p1", "0x1p_1", "0x1p1_", ".5", "1.e", "1e", "0x1p", "0x",
    "infinity", "nan:", "nan:0x", "nan:1", "nan:canonical", "nan:arithmetic", "0x1.8e1x",
    "1.5f", "Inf", "NaN",
])
def test_f32_malformed(text):
    with pytest.raises(ValueError) as exc:
        parse_f32_bits(text)
    assert "out of range" not in str(exc.value)


# --- f64 -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("0", 0),
    ("-0", 0x8000000000000000),
    ("1.5", 0x3FF8000000000000),
    ("0.1", 0x3FB999999999999A),
    ("1_0e-1_0", 0x3E112E0BE826D695),   # 10e-10 == 1e-9
    ("inf", 0x7FF0000000000000),
    ("-inf", 0xFFF0000000000000),
    ("nan", 0x7FF8000000000000),
    ("-nan", 0xFFF8000000000000),
    ("nan:0x1", 0x7FF0000000000001),
    ("nan:0x8000000000000", 0x7FF8000000000000),
    ("-nan:0xf_ffff_ffff_ffff", 0xFFFFFFFFFFFFFFFF),
    ("0x1.fffffffffffffp1023", 0x7FEFFFFFFFFFFFFF),
    ("0x1.fffffffffffff7ffffp1023", 0x7FEFFFFFFFFFFFFF),
    ("1.7976931348623157e308", 0x7FEFFFFFFFFFFFFF),
    ("1.7976931348623158e308", 0x7FEFFFFFFFFFFFFF),
    ("0x1p-1074", 1),
    ("0x1p-1075", 0),
    ("0x1.8p-1074", 2),
    ("4.9e-324", 1),
    ("2.4703282292062327e-324", 0),
    ("2.4703282292062328e-324", 1),
    ("0x1.00000000000008p0", 0x3FF0000000000000),
    ("0x1.00000000000018p0", 0x3FF0000000000002),
    ("0x1.000000000000080000000000001p0", 0x3FF0000000000001),
])
def test_f64(text, expected):
    assert parse_f64_bits(text) == expected


@pytest.mark.parametrize("text", [
    "1e400", "-1e309", "0x1p1024", "0x1.fffffffffffff8p1023", "1.7976931348623159e308",
    "nan:0x0", "nan:0x10000000000000",
])
def test_f64_out_of_range(text):
    with pytest.raises(ValueError, match="constant out of range"):
        parse_f64_bits(text)


@pytest.mark.parametrize("text", ["1__0", "0x_1p0", "1.0e", "nan:canonical", "inf_", "1e+", "0x1P+"])
def test_f64_malformed(text):
    with pytest.raises(ValueError):
        parse_f64_bits(text)
