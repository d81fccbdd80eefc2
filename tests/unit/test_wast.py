"""Unit tests for pywazero.script.wast (WAST script reader)."""
from __future__ import annotations

import struct

import pytest

from pywazero.errors import DecodeError
from pywazero.script import wast
from pywazero.script.wast import (
    ARITHMETIC,
    CANONICAL,
    NanPattern,
    RefPattern,
    V128Pattern,
    Value,
    read_script,
)
from pywazero.wasm.types import NULLEXTERNREF, NULLFUNCREF, ref_type
from pywazero.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128


def one(text):
    cmds = read_script(text)
    assert len(cmds) == 1
    return cmds[0]


def args_of(consts):
    return one(f'(invoke "f" {consts})').args


def results_of(results):
    return one(f'(assert_return (invoke "f") {results})').results


def f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


# --- constants -----------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("(i32.const 0)", Value(I32, 0)),
    ("(i32.const -1)", Value(I32, 0xFFFFFFFF)),
    ("(i32.const 0xffff_ffff)", Value(I32, 0xFFFFFFFF)),
    ("(i32.const -0x80000000)", Value(I32, 0x80000000)),
    ("(i64.const -1)", Value(I64, 0xFFFFFFFFFFFFFFFF)),
    ("(i64.const 0x7fffffffffffffff)", Value(I64, 0x7FFFFFFFFFFFFFFF)),
    ("(f32.const 1.5)", Value(F32, f32(1.5))),
    ("(f32.const -0x1p-149)", Value(F32, 0x80000001)),
    ("(f32.const -0)", Value(F32, 0x80000000)),
    ("(f32.const inf)", Value(F32, 0x7F800000)),
    ("(f32.const -nan)", Value(F32, 0xFFC00000)),
    ("(f32.const nan:0x200000)", Value(F32, 0x7FA00000)),
    ("(f64.const 0.1)", Value(F64, f64(0.1))),
    ("(f64.const -inf)", Value(F64, 0xFFF0000000000000)),
    ("(f64.const nan:0x4000000000000)", Value(F64, 0x7FF4000000000000)),
    ("(ref.null func)", Value(FUNCREF, None)),
    ("(ref.null extern)", Value(EXTERNREF, None)),
    ("(ref.extern 0)", Value(EXTERNREF, 0)),
    ("(ref.extern 137)", Value(EXTERNREF, 137)),
])
def test_scalar_constants(text, value):
    assert args_of(text) == (value,)
    assert results_of(text) == (value,)


def test_several_arguments_keep_order():
    assert args_of("(i32.const 1) (i64.const 2) (f32.const 0) (ref.null extern)") == (
        Value(I32, 1), Value(I64, 2), Value(F32, 0), Value(EXTERNREF, None))


@pytest.mark.parametrize("text, bits", [
    ("(v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 -1)",
     int.from_bytes(bytes(range(15)) + b"\xff", "little")),
    ("(v128.const i16x8 1 2 3 4 5 6 7 -1)",
     int.from_bytes(struct.pack("<8H", 1, 2, 3, 4, 5, 6, 7, 0xFFFF), "little")),
    ("(v128.const i32x4 0x01020304 0 -1 0x80000000)",
     int.from_bytes(struct.pack("<4I", 0x01020304, 0, 0xFFFFFFFF, 0x80000000), "little")),
    ("(v128.const i64x2 -2 0x0102030405060708)",
     int.from_bytes(struct.pack("<2Q", 2**64 - 2, 0x0102030405060708), "little")),
    ("(v128.const f32x4 1.0 -0 inf nan:0x1)",
     int.from_bytes(struct.pack("<4I", f32(1.0), 0x80000000, 0x7F800000, 0x7F800001), "little")),
    ("(v128.const f64x2 0.5 -nan)",
     int.from_bytes(struct.pack("<2Q", f64(0.5), 0xFFF8000000000000), "little")),
    ("(v128.const i8x16 255 255 255 255 255 255 255 255 255 255 255 255 255 255 255 255)", 2**128 - 1),
])
def test_v128_shapes(text, bits):
    assert args_of(text) == (Value(V128, bits),)
    assert results_of(text) == (Value(V128, bits),)


@pytest.mark.parametrize("text", [
    "(v128.const i32x4 1 2 3)",                 # too few lanes
    "(v128.const i32x4 1 2 3 4 5)",             # too many lanes
    "(v128.const i8x16 256 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)",  # lane out of range
    "(v128.const i16x8 0x10000 0 0 0 0 0 0 0)",
    "(v128.const i32x3 1 2 3)",                 # unknown shape
    "(v128.const 1 2 3 4)",
    "(v128.const f32x4 nan:canonical 0 0 0)",   # pattern in an argument
])
def test_bad_v128_arguments(text):
    with pytest.raises(DecodeError):
        args_of(text)


# --- result patterns -------------------------------------------------------------------

def test_nan_patterns():
    (c32,) = results_of("(f32.const nan:canonical)")
    (a64,) = results_of("(f64.const nan:arithmetic)")
    assert c32 == NanPattern(F32, True) and a64 == NanPattern(F64, False)
    assert str(c32) == "(f32.const nan:canonical)"
    assert c32.matches(Value(F32, 0x7FC00000))
    assert c32.matches(Value(F32, 0xFFC00000))          # sign is free
    assert not c32.matches(Value(F32, 0x7FC00001))      # payload must be canonical
    assert not c32.matches(Value(F64, 0x7FF8000000000000))
    assert a64.matches(Value(F64, 0x7FF8000000000001))
    assert a64.matches(Value(F64, 0xFFFC000000000000))
    assert not a64.matches(Value(F64, 0x7FF0000000000001))  # signalling NaN
    assert not a64.matches(Value(F64, 0x7FF0000000000000))  # infinity


def test_v128_lane_nan_patterns():
    (p,) = results_of("(v128.const f32x4 nan:canonical 1.0 nan:arithmetic -0)")
    assert isinstance(p, V128Pattern)
    assert p.shape == "f32x4"
    assert p.lanes == (CANONICAL, f32(1.0), ARITHMETIC, 0x80000000)
    good = int.from_bytes(struct.pack("<4I", 0xFFC00000, f32(1.0), 0x7FE00001, 0x80000000), "little")
    assert p.matches(Value(V128, good))
    bad_lane1 = good ^ (1 << 32)
    assert not p.matches(Value(V128, bad_lane1))
    not_canonical = good | 1
    assert not p.matches(Value(V128, not_canonical))
    assert not p.matches(Value(F32, 0))
    (q,) = results_of("(v128.const f64x2 0 nan:arithmetic)")
    assert q.lanes == (0, ARITHMETIC)
    assert q.matches(Value(V128, 0x7FF8000000000000 << 64))
    assert not q.matches(Value(V128, 0x7FF0000000000001 << 64))


def test_v128_without_patterns_is_exact_value():
    (v,) = results_of("(v128.const f32x4 0 0 0 1)")
    assert v == Value(V128, f32(1.0) << 96)
    assert v.matches(Value(V128, f32(1.0) << 96))
    assert not v.matches(Value(V128, 0))


def test_nan_pattern_not_allowed_on_integers():
    with pytest.raises(DecodeError):
        results_of("(i32.const nan:canonical)")
    with pytest.raises(DecodeError):
        results_of("(v128.const i32x4 nan:canonical 0 0 0)")


def test_nan_pattern_not_allowed_in_arguments():
    with pytest.raises(DecodeError):
        args_of("(f32.const nan:canonical)")


def test_reference_patterns():
    assert results_of("(ref.func)") == (RefPattern(FUNCREF),)
    assert results_of("(ref.extern)") == (RefPattern(EXTERNREF),)
    (rf,) = results_of("(ref.func)")
    assert rf.matches(Value(FUNCREF, object()))
    assert not rf.matches(Value(FUNCREF, None))
    assert not rf.matches(Value(EXTERNREF, 1))
    null = Value(FUNCREF, None)
    assert null.matches(Value(FUNCREF, None)) and not null.matches(Value(EXTERNREF, None))
    # 3.0: a null of any type of the same hierarchy
    assert null.matches(Value(ref_type(0), None)) and null.matches(Value(NULLFUNCREF, None))
    assert not null.matches(Value(NULLEXTERNREF, None))
    assert results_of("(ref.null)")[0].matches(Value(EXTERNREF, None))
    assert results_of("(ref.null nofunc)") == (Value(NULLFUNCREF, None),)
    with pytest.raises(DecodeError):
        args_of("(ref.func)")  # a pattern, not a value
    with pytest.raises(DecodeError):
        args_of("(ref.extern)")


def test_exact_float_match_is_bitwise():
    (z,) = results_of("(f32.const 0)")
    assert z.matches(Value(F32, 0)) and not z.matches(Value(F32, 0x80000000))
    (n,) = results_of("(f64.const nan:0x1)")
    assert n.matches(Value(F64, 0x7FF0000000000001))
    assert not n.matches(Value(F64, 0x7FF8000000000000))


@pytest.mark.parametrize("text", [
    "(i32.const 0x100000000)",
    "(i32.const -2147483649)",
    "(i64.const 18446744073709551616)",
    "(f32.const 1e39)",
    "(f32.const abc)",
    "(i32.const)",
    "(i32.const 1 2)",
    "(i32.const $x)",
    "(i128.const 0)",
    "(ref.null anything)",
    "(ref.null)",            # (a pattern: any null)
    "(ref.null func extern)",
    "(ref.extern -1)",
    "i32.const",
    "(i32.add)",
])
def test_bad_constants(text):
    with pytest.raises(DecodeError):
        args_of(text)


def test_value_str():
    assert str(Value(I32, 42)) == "(i32.const 0x0000002a)"
    assert str(Value(FUNCREF, None)) == "(ref.null func)"
    assert str(Value(EXTERNREF, 3)) == "(ref.extern 3)"
    assert str(NanPattern(F64, False)) == "(f64.const nan:arithmetic)"
    assert "nan:canonical" in str(V128Pattern("f32x4", (CANONICAL, 0, 0, 0)))


# --- commands --------------------------------------------------------------------------

def test_module_text_form():
    src = '(module $M (func (export "f")))'
    m = one(src)
    assert isinstance(m, wast.ModuleCommand)
    assert (m.kind, m.form, m.name, m.line, m.data) == ("module", "text", "$M", 1, None)
    assert m.node.head == "module"
    assert m.text == src
    anon = one("(module)")
    assert anon.name is None and anon.form == "text"


def test_module_binary_form():
    m = one('(module $B binary "\\00asm" "\\01\\00\\00\\00")')
    assert (m.form, m.name, m.data) == ("binary", "$B", b"\x00asm\x01\x00\x00\x00")
    assert m.node is None
    assert one("(module binary)").data == b""


def test_module_quote_form():
    m = one('(module quote "(func" " $f)" "\\n(memory 1)")')
    assert (m.form, m.name) == ("quote", None)
    assert m.data == b"(func $f)\n(memory 1)"  # concatenated, no separator
    assert m.text == "(func $f)\n(memory 1)"
    assert one('(module $q quote)').name == "$q"
    bad = one('(module quote "\\ff")')
    assert bad.data == b"\xff"  # invalid UTF-8 is kept for the parser to reject


def test_module_bytes_must_be_strings():
    with pytest.raises(DecodeError):
        read_script("(module binary 0)")
    with pytest.raises(DecodeError):
        read_script('(module quote "a" (func))')


def test_inline_module_script():
    cmds = read_script('(func) (memory 0) (func (export "f"))')
    assert len(cmds) == 1
    m = cmds[0]
    assert (m.kind, m.form, m.line, m.name) == ("module", "text", 1, None)
    assert m.node.head == "module"
    assert [item.head for item in m.node.items[1:]] == ["func", "memory", "func"]
    assert m.text == '(func) (memory 0) (func (export "f"))'


def test_register():
    r = one('(register "M" $m)')
    assert (r.kind, r.name, r.module) == ("register", "M", "$m")
    assert one('(register "x")').module is None
    for bad in ["(register)", "(register $m)", '(register "a" "b")', '(register "a" $m $n)']:
        with pytest.raises(DecodeError):
            read_script(bad)


def test_invoke_and_get():
    i = one('(invoke $m "add" (i32.const 1) (i32.const 2))')
    assert (i.kind, i.module, i.name, i.args) == ("invoke", "$m", "add", (Value(I32, 1), Value(I32, 2)))
    i2 = one('(invoke "no-args")')
    assert (i2.module, i2.args) == (None, ())
    g = one('(get $m "glob")')
    assert (g.kind, g.module, g.name) == ("get", "$m", "glob")
    assert one('(get "g")').module is None
    u = one('(invoke "\\e2\\82\\ac")')
    assert u.name == "\u20ac"
    for bad in ['(invoke)', '(invoke $m)', '(get "g" (i32.const 0))', '(invoke "f" 1)',
                '(invoke "\\ff")']:
        with pytest.raises(DecodeError):
            read_script(bad)


def test_assert_return():
    a = one('(assert_return (invoke "f" (i32.const 1)) (i64.const 2) (f32.const nan:canonical))')
    assert a.kind == "assert_return"
    assert isinstance(a.action, wast.Invoke) and a.action.args == (Value(I32, 1),)
    assert a.results == (Value(I64, 2), NanPattern(F32, True))
    b = one('(assert_return (get $M "g") (ref.null extern))')
    assert isinstance(b.action, wast.Get) and b.action.module == "$M"
    assert one('(assert_return (invoke "f"))').results == ()
    for bad in ['(assert_return)', '(assert_return (module))', '(assert_return "f")',
                '(assert_return (invoke "f") "x")']:
        with pytest.raises(DecodeError):
            read_script(bad)


def test_assert_return_nan_1_0():
    c = one('(assert_return_canonical_nan (invoke "f" (f32.const 1)))')
    a = one('(assert_return_arithmetic_nan (invoke "g"))')
    assert c.kind == "assert_return_canonical_nan" and isinstance(c, wast.AssertReturnNan)
    assert a.kind == "assert_return_arithmetic_nan" and isinstance(a, wast.AssertReturnNan)
    assert c.action.args == (Value(F32, f32(1.0)),)
    assert c.pattern_for(F64) == NanPattern(F64, True)
    assert a.pattern_for(F32) == NanPattern(F32, False)
    with pytest.raises(DecodeError):
        read_script('(assert_return_canonical_nan (invoke "f") (f32.const 0))')


def test_assert_trap_action_and_module():
    t = one('(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")')
    assert (t.kind, t.message, t.module) == ("assert_trap", "integer divide by zero", None)
    assert t.action.name == "div"
    tm = one('(assert_trap (module (func $main unreachable) (start $main)) "unreachable")')
    assert tm.action is None and tm.module.form == "text" and tm.message == "unreachable"
    for bad in ['(assert_trap (invoke "f"))', '(assert_trap (invoke "f") 1)',
                '(assert_trap "x")', '(assert_trap (invoke "f") "a" "b")']:
        with pytest.raises(DecodeError):
            read_script(bad)


def test_assert_exhaustion():
    e = one('(assert_exhaustion (invoke "runaway") "call stack exhausted")')
    assert (e.kind, e.action.name, e.message) == ("assert_exhaustion", "runaway", "call stack exhausted")


@pytest.mark.parametrize("kind, cls", [
    ("assert_malformed", wast.AssertMalformed),
    ("assert_invalid", wast.AssertInvalid),
    ("assert_unlinkable", wast.AssertUnlinkable),
    ("assert_uninstantiable", wast.AssertUninstantiable),
])
def test_module_assertions(kind, cls):
    for module, form in [('(module binary "\\00asm")', "binary"),
                         ('(module quote "(func")', "quote"),
                         ("(module (func))", "text")]:
        c = one(f'({kind} {module} "some message")')
        assert isinstance(c, cls) and c.kind == kind
        assert c.module.form == form and c.message == "some message"
    with pytest.raises(DecodeError):
        read_script(f'({kind} (invoke "f") "msg")')
    with pytest.raises(DecodeError):
        read_script(f'({kind} (module))')


def test_line_numbers():
    text = (
        ";; a comment\n"
        "(module\n"
        "  (func))\n"
        "\n"
        "(; block\n comment ;)\n"
        '(assert_return (invoke "f")) (assert_return (invoke "g"))\n'
        "(assert_malformed\n"
        '  (module quote "x")\n'
        '  "unexpected token")\n'
    )
    cmds = read_script(text)
    assert [(c.kind, c.line) for c in cmds] == [
        ("module", 2), ("assert_return", 7), ("assert_return", 7), ("assert_malformed", 8)]
    assert cmds[1].action.line == 7
    assert cmds[3].module.line == 9


def test_crlf_and_bytes_input():
    cmds = read_script(b'(module)\r\n(module)\r\n')
    assert [c.line for c in cmds] == [1, 2]


@pytest.mark.parametrize("text, line, column", [
    ("(module)\n(foo)", 2, 1),
    ("(module)\n  (assert_return (invoke \"f\") (i32.const 0x1_0000_0000))", 2, 42),
    ("(module", 1, 1),
    ("(module))", 1, 9),
    ("\n\n  42", 3, 3),
    ('(module)\n(invoke "f" (i32.const 1) (f32.const nan:canonical))', 2, 38),
    ("(assert_return\n (invoke \"f\")\n (v128.const i32x4 1 2 3))", 3, 25),
    ("(script)", 1, 1),
    ("()", 1, 1),
])
def test_errors_have_line_and_column(text, line, column):
    with pytest.raises(DecodeError) as info:
        read_script(text)
    assert (info.value.line, info.value.column) == (line, column)


def test_empty_script():
    assert read_script("") == []
    assert read_script(";; nothing\n(; here ;)") == []


def test_malformed_module_is_not_a_script_error():
    # The module inside is broken, the script is not: reading succeeds.
    cmds = read_script('(assert_malformed (module quote "(func (i32.const 0x1_0000_0000))") "x")')
    assert cmds[0].module.data == b"(func (i32.const 0x1_0000_0000))"
    cmds = read_script('(assert_invalid (module (func (result i32))) "type mismatch")')
    assert cmds[0].module.node is not None


def test_read_script_file(tmp_path):
    p = tmp_path / "t.wast"
    p.write_bytes(b'(module $m)\n(register "m" $m)\n')
    cmds = wast.read_script_file(p)
    assert [c.kind for c in cmds] == ["module", "register"]
    assert cmds[0].source is not None


def test_module_parse_dispatches_to_front_ends():
    """ModuleCommand.parse() uses the decoder for binary and the parser otherwise."""
    mod = pytest.importorskip("pywazero.text.parser")  # noqa: F841
    pytest.importorskip("pywazero.binary.decoder")
    text, binary, quote = read_script(
        '(module $t (func))\n(module binary "\\00asm\\01\\00\\00\\00")\n(module quote "(memory 1)")')
    assert len(text.parse().funcs) == 1
    assert binary.parse().funcs == []
    assert len(quote.parse().mems) == 1
    with pytest.raises(DecodeError):
        one('(module binary "\\00asm")').parse()
    with pytest.raises(DecodeError):
        one('(module quote "(func")').parse()


def test_either_results():
    cmd = one('(assert_return (invoke "f") (either (i32.const 1) (i32.const -1)) '
              '(either (v128.const f32x4 nan:canonical 0 0 0) (v128.const i32x4 0 0 0 0)))')
    first, second = cmd.results
    assert isinstance(first, wast.Either) and first.type == I32
    assert first.matches(Value(I32, 1)) and first.matches(Value(I32, 0xFFFFFFFF))
    assert not first.matches(Value(I32, 2)) and not first.matches(Value(I64, 1))
    assert second.matches(Value(V128, 0x7FC00000)) and second.matches(Value(V128, 0))
    assert not second.matches(Value(V128, 1 << 32))
    assert str(first) == "(either (i32.const 0x00000001) (i32.const 0xffffffff))"


@pytest.mark.parametrize("text", [
    '(assert_return (invoke "f") (either))',
    '(invoke "f" (either (i32.const 1)))',     # not in arguments
    '(assert_return (invoke "f") (either (i32.const 1) 2))',
])
def test_bad_either(text):
    with pytest.raises(DecodeError):
        read_script(text)


def test_3_0_reference_results():
    from pywazero.wasm.types import ANYREF, EXNREF, NULLFUNCREF, ref_type

    (any_null,) = args_of("(ref.null any)")
    assert any_null == Value(ANYREF, None)
    (null,) = results_of("(ref.null)")
    assert isinstance(null, wast.NullPattern)
    assert null.matches(Value(EXTERNREF, None)) and null.matches(Value(ref_type(3), None))
    assert not null.matches(Value(FUNCREF, object())) and not null.matches(Value(I32, 0))
    (typed_null,) = results_of("(ref.null $t)")
    assert typed_null.matches(Value(FUNCREF, None))
    # a null of the same hierarchy, whatever the static result type
    (fnull,) = results_of("(ref.null func)")
    assert fnull.matches(Value(NULLFUNCREF, None)) and fnull.matches(Value(ref_type(0), None))
    assert not fnull.matches(Value(EXNREF, None))
    # (ref.func) matches a non-null typed function reference, (ref.extern N) a (ref extern)
    (rf,) = results_of("(ref.func)")
    assert rf.matches(Value(ref_type(2, False), object())) and not rf.matches(Value(EXTERNREF, 1))
    (ext,) = results_of("(ref.extern 7)")
    assert ext.matches(Value(ref_type(EXTERNREF - 0x80, False), 7))
    assert not ext.matches(Value(FUNCREF, 7))
    (i31,) = results_of("(ref.i31)")
    assert str(i31) == "(ref.i31)" and not i31.matches(Value(ANYREF, None))


def test_ref_host_and_formatting():
    from pywazero.wasm.types import ANYREF, ref_type

    (host,) = args_of("(ref.host 3)")
    assert host == Value(ANYREF, 3) and str(host) == "(ref.host 3)"
    assert results_of("(ref.host 3)")[0].matches(Value(ANYREF, 3))
    assert str(Value(ref_type(0), None)) == "(ref.null 0)"
    assert str(Value(ANYREF, None)) == "(ref.null any)"
