"""Unit tests for the binary decoder (pywazero.binary.decoder).

Binaries are assembled by hand with the tiny helpers below (and ``_wasm_bytes``), so
every expected value is spelled out independently of the code under test.
"""
from __future__ import annotations

import random

import pytest

from pywazero.binary.decoder import decode_module, read_leb128
from pywazero.errors import CompileError, DecodeError
from pywazero.wasm import opcodes as op
from pywazero.wasm.module import MODE_ACTIVE, MODE_DECLARATIVE, MODE_PASSIVE
from pywazero.wasm.types import HT_FUNC, ref_type
from pywazero.wasm.types import (
    EXTERN_FUNC,
    EXTERN_GLOBAL,
    EXTERN_MEMORY,
    EXTERN_TABLE,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    FuncType,
    GlobalType,
    Limits,
    MemoryType,
    TableType,
)

from ._wasm_bytes import HEADER, section, sleb, uleb

END = (0x0B, None)


# -- helpers -------------------------------------------------------------------------
def vec(items) -> bytes:
    items = list(items)
    return uleb(len(items)) + b"".join(items)


def name(s: str) -> bytes:
    raw = s.encode("utf-8")
    return uleb(len(raw)) + raw


def mod(*sections: bytes) -> bytes:
    return HEADER + b"".join(sections)


def body(code: bytes, locals_: bytes = b"\x00") -> bytes:
    """A code entry: size, local declarations, code (which must include the end)."""
    inner = locals_ + code
    return uleb(len(inner)) + inner


TYPE_VOID = section(1, vec([b"\x60\x00\x00"]))          # type 0: [] -> []
FUNC_1 = section(3, vec([b"\x00"]))                      # one function of type 0
MEM_1 = section(5, vec([b"\x00\x01"]))                   # memory 1


def one_func(code: bytes, locals_: bytes = b"\x00", extra: bytes = b"") -> bytes:
    """A module with one function of type [] -> [] whose body is ``code``; ``extra``
    (e.g. a memory section) goes between the function and code sections."""
    return mod(TYPE_VOID, FUNC_1, extra, section(10, vec([body(code, locals_)])))


def code_offset(data: bytes) -> int:
    """Offset of the first instruction of the (only) function built by one_func with
    the default single-byte local declaration count."""
    # code section: id, size(1 byte here), count, body size, local decl count
    return data.rindex(b"\x0a") + 5


def decode_error(data: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_module(data)
    return info.value


# -- preamble ------------------------------------------------------------------------
def test_empty_module():
    m = decode_module(HEADER)
    assert m.types == [] and m.funcs == [] and m.start is None and m.data_count is None
    assert m.customs == [] and m.names.functions == {}


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x00as", b"\x00asm", b"\x00asm\x01\x00\x00"])
def test_truncated_preamble(data):
    e = decode_error(data)
    assert e.reason == "unexpected end"
    assert e.offset == len(data)


@pytest.mark.parametrize("data", [b"asm\x00\x01\x00\x00\x00", b"\x00ASM\x01\x00\x00\x00",
                                  b"\xef\xbb\xbf\x00asm\x01\x00\x00\x00"])
def test_bad_magic(data):
    e = decode_error(data)
    assert e.reason == "magic header not detected"
    assert e.offset == 0


@pytest.mark.parametrize("version", [b"\x00\x00\x00\x00", b"\x02\x00\x00\x00", b"\x01\x00\x00\x01"])
def test_bad_version(version):
    e = decode_error(b"\x00asm" + version)
    assert e.reason == "unknown binary version"
    assert e.offset == 4


def test_accepts_bytearray_and_memoryview():
    data = mod(TYPE_VOID)
    assert decode_module(bytearray(data)).types == [FuncType()]
    assert decode_module(memoryview(data)).types == [FuncType()]


def test_rejects_non_bytes():
    with pytest.raises(TypeError):
        decode_module("(module)")  # type: ignore[arg-type]


def test_decode_error_is_compile_error():
    assert isinstance(decode_error(b""), CompileError)


# -- LEB128 --------------------------------------------------------------------------
@pytest.mark.parametrize("raw, value, length", [
    (b"\x00", 0, 1),
    (b"\x7f", 127, 1),
    (b"\x80\x01", 128, 2),
    (b"\xe5\x8e\x26", 624485, 3),
    (b"\x83\x00", 3, 2),                      # trailing zero bytes are allowed
    (b"\x80\x80\x80\x80\x00", 0, 5),          # ... up to the length limit
    (b"\xff\xff\xff\xff\x0f", 2**32 - 1, 5),
    (b"\x05\xff", 5, 1),                      # stops after the value
])
def test_u32(raw, value, length):
    assert read_leb128(raw) == (value, length)


@pytest.mark.parametrize("raw, reason, offset", [
    (b"\x80\x80\x80\x80\x80\x00", "integer representation too long", 4),
    (b"\xff\xff\xff\xff\x1f", "integer too large", 4),
    (b"\x80\x80\x80\x80\x10", "integer too large", 4),
    (b"\x80\x80\x80\x80\x70", "integer too large", 4),
    (b"\x80", "unexpected end", 1),
    (b"", "unexpected end", 0),
])
def test_u32_errors(raw, reason, offset):
    with pytest.raises(DecodeError) as info:
        read_leb128(raw)
    assert info.value.reason == reason
    assert info.value.offset == offset


@pytest.mark.parametrize("raw, bits, value", [
    (b"\x7f", 32, -1),
    (b"\x3f", 32, 63),
    (b"\x40", 32, -64),
    (b"\xc0\x00", 32, 64),
    (b"\xff\x7f", 32, -1),                    # padded negative
    (b"\x80\x80\x80\x80\x78", 32, -(2**31)),
    (b"\xff\xff\xff\xff\x07", 32, 2**31 - 1),
    (b"\xff\xff\xff\xff\x7f", 32, -1),
    (b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 64, -(2**63)),
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 64, 2**63 - 1),
    (b"\xff\xff\xff\xff\x0f", 33, 2**32 - 1),   # s33: a type index may use all 32 bits
])
def test_signed(raw, bits, value):
    assert read_leb128(raw, bits=bits, signed=True) == (value, len(raw))


@pytest.mark.parametrize("raw, bits, reason", [
    (b"\xff\xff\xff\xff\x0f", 32, "integer too large"),       # 2**32-1 is not an s32
    (b"\x80\x80\x80\x80\x70", 32, "integer too large"),       # sign bits disagree
    (b"\xff\xff\xff\xff\x4f", 32, "integer too large"),
    (b"\x80\x80\x80\x80\x80\x00", 32, "integer representation too long"),
    (b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 64, "integer too large"),
    (b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 64, "integer representation too long"),
    (b"\x80\x80\x80\x80\x20", 33, "integer too large"),
])
def test_signed_errors(raw, bits, reason):
    with pytest.raises(DecodeError) as info:
        read_leb128(raw, bits=bits, signed=True)
    assert info.value.reason == reason


def test_leb_in_module_too_long():
    # Function section: count 1, type index written with 6 bytes.
    data = mod(TYPE_VOID, section(3, b"\x01\x80\x80\x80\x80\x80\x00"))
    e = decode_error(data)
    assert e.reason == "integer representation too long"
    assert e.section == "function"


def test_i32_and_i64_const_immediates():
    code = (b"\x41" + sleb(-(2**31)) + b"\x1a"
            + b"\x41" + sleb(2**31 - 1) + b"\x1a"
            + b"\x41\x40\x1a"                         # one byte, negative: -64
            + b"\x42" + sleb(-(2**63)) + b"\x1a"
            + b"\x42" + sleb(2**63 - 1) + b"\x1a\x0b")
    f = decode_module(one_func(code)).funcs[0]
    consts = [imm for (o, imm) in f.body if o in (0x41, 0x42)]
    assert consts == [-(2**31), 2**31 - 1, -64, -(2**63), 2**63 - 1]


def test_i32_const_out_of_range():
    # 2**31 needs an s33; as an s32 its last byte has inconsistent sign bits.
    e = decode_error(one_func(b"\x41\x80\x80\x80\x80\x08\x1a\x0b"))
    assert e.reason == "integer too large"


def test_float_constants_keep_raw_bits():
    code = (b"\x43" + bytes.fromhex("0100c07f") + b"\x1a"            # f32 NaN with payload
            + b"\x44" + bytes.fromhex("0100000000000080") + b"\x1a\x0b")  # f64 bits 0x8000000000000001
    f = decode_module(one_func(code)).funcs[0]
    assert f.body[0] == (0x43, 0x7FC00001)
    assert f.body[2] == (0x44, 0x8000000000000001)


# -- sections ------------------------------------------------------------------------
def test_type_section():
    data = mod(section(1, vec([b"\x60" + vec([b"\x7f", b"\x7e"]) + vec([b"\x7d"]),
                               b"\x60" + vec([b"\x7c", b"\x7b", b"\x70", b"\x6f"]) + vec([])])))
    m = decode_module(data)
    assert m.types == [FuncType((I32, I64), (F32,)), FuncType((F64, V128, FUNCREF, EXTERNREF), ())]


def test_type_section_bad_form_and_valtype():
    assert decode_error(mod(section(1, vec([b"\x61\x00\x00"])))).reason == "malformed function type"
    e = decode_error(mod(section(1, b"\x01\xe0\x7f\x00\x00")))
    assert e.reason == "integer representation too long"
    e = decode_error(mod(section(1, vec([b"\x60\x01\x7a\x00"]))))
    assert e.reason == "malformed value type"
    assert e.offset == 8 + 2 + 3  # header, section id+size, count+form+param count


def test_import_section():
    imports = vec([
        name("env") + name("f") + b"\x00" + uleb(0),
        name("env") + name("t") + b"\x01\x70\x01\x02\x0a",
        name("env") + name("m") + b"\x02\x00\x01",
        name("env") + name("g") + b"\x03\x7e\x01",
        name("ünï") + name("€") + b"\x03\x6f\x00",
    ])
    m = decode_module(mod(TYPE_VOID, section(2, imports)))
    got = [(i.module, i.name, i.kind, i.desc) for i in m.imports]
    assert got == [
        ("env", "f", EXTERN_FUNC, 0),
        ("env", "t", EXTERN_TABLE, TableType(FUNCREF, Limits(2, 10))),
        ("env", "m", EXTERN_MEMORY, MemoryType(Limits(1))),
        ("env", "g", EXTERN_GLOBAL, GlobalType(I64, True)),
        ("ünï", "€", EXTERN_GLOBAL, GlobalType(EXTERNREF, False)),
    ]


@pytest.mark.parametrize("kind", [b"\x04", b"\x05", b"\x80"])
def test_malformed_import_kind(kind):
    data = mod(section(2, vec([name("a") + name("b") + kind + b"\x00"])))
    e = decode_error(data)
    assert e.reason == "malformed import kind"
    assert e.offset == 8 + 2 + 1 + 2 + 2
    assert e.section == "import"


@pytest.mark.parametrize("mut", [b"\x02", b"\xff"])
def test_malformed_mutability(mut):
    data = mod(section(6, vec([b"\x7f" + mut + b"\x41\x00\x0b"])))
    assert decode_error(data).reason == "malformed mutability"


def test_table_and_memory_sections():
    m = decode_module(mod(section(4, vec([b"\x70\x00\x05", b"\x6f\x01\x00\x80\x01"])),
                          section(5, vec([b"\x01\x01\x80\x80\x04"]))))
    assert m.tables == [TableType(FUNCREF, Limits(5)), TableType(EXTERNREF, Limits(0, 128))]
    assert m.mems == [MemoryType(Limits(1, 65536))]


@pytest.mark.parametrize("flag, reason", [
    (b"\x02", "integer too large"),
    (b"\x08", "integer too large"),
    (b"\x81", "integer representation too long"),
])
def test_limits_flag(flag, reason):
    e = decode_error(mod(section(5, vec([flag + b"\x00\x00"]))))
    assert e.reason == reason
    assert e.offset == 8 + 2 + 1


def test_table_reftype():
    e = decode_error(mod(section(4, vec([b"\x7f\x00\x01"]))))
    assert e.reason == "malformed reference type"


def test_global_section():
    data = mod(section(6, vec([b"\x7f\x00\x41\x2a\x0b",
                               b"\x7c\x01\x44" + bytes(8) + b"\x0b",
                               b"\x70\x00\xd0\x70\x0b"])))
    m = decode_module(data)
    assert [(g.type, g.init) for g in m.globals] == [
        (GlobalType(I32, False), [(0x41, 42), END]),
        (GlobalType(F64, True), [(0x44, 0), END]),
        (GlobalType(FUNCREF, False), [(0xD0, FUNCREF), END]),
    ]


def test_constant_expressions_are_decoded_not_validated():
    # Any instruction may appear at decode time; rejecting it is validation's job.
    data = mod(section(6, vec([b"\x7f\x00\x41\x01\x41\x02\x6a\x0b"])))
    assert decode_module(data).globals[0].init == [(0x41, 1), (0x41, 2), (0x6A, None), END]


def test_export_and_start_sections():
    data = mod(TYPE_VOID, FUNC_1,
               section(7, vec([name("main") + b"\x00\x00", name("mem") + b"\x02\x00",
                               name("t") + b"\x01\x03", name("g") + b"\x03\x81\x01"])),
               section(8, b"\x00"),
               section(10, vec([body(b"\x0b")])))
    m = decode_module(data)
    assert [(e.name, e.kind, e.index) for e in m.exports] == [
        ("main", EXTERN_FUNC, 0), ("mem", EXTERN_MEMORY, 0), ("t", EXTERN_TABLE, 3),
        ("g", EXTERN_GLOBAL, 129)]
    assert m.start == 0


def test_malformed_export_kind():
    assert decode_error(mod(section(7, vec([name("x") + b"\x04\x00"])))).reason == "malformed export kind"


def ref_func(i):
    return [(0xD2, i), END]


OFFSET_0 = b"\x41\x00\x0b"
REF_FUNC = ref_type(HT_FUNC, False)   # 3.0: the type of a vector of function indices


@pytest.mark.parametrize("seg, mode, elem_type, init, table, offset", [
    (b"\x00" + OFFSET_0 + vec([b"\x00", b"\x01"]),
     MODE_ACTIVE, REF_FUNC, [ref_func(0), ref_func(1)], 0, [(0x41, 0), END]),
    (b"\x01\x00" + vec([b"\x01"]),
     MODE_PASSIVE, REF_FUNC, [ref_func(1)], 0, None),
    (b"\x02\x03" + b"\x41\x07\x0b" + b"\x00" + vec([b"\x00"]),
     MODE_ACTIVE, REF_FUNC, [ref_func(0)], 3, [(0x41, 7), END]),
    (b"\x03\x00" + vec([b"\x00", b"\x00"]),
     MODE_DECLARATIVE, REF_FUNC, [ref_func(0), ref_func(0)], 0, None),
    (b"\x04" + OFFSET_0 + vec([b"\xd2\x01\x0b", b"\xd0\x70\x0b"]),
     MODE_ACTIVE, FUNCREF, [ref_func(1), [(0xD0, FUNCREF), END]], 0, [(0x41, 0), END]),
    (b"\x05\x6f" + vec([b"\xd0\x6f\x0b"]),
     MODE_PASSIVE, EXTERNREF, [[(0xD0, EXTERNREF), END]], 0, None),
    (b"\x06\x02" + b"\x23\x00\x0b" + b"\x70" + vec([b"\xd2\x00\x0b"]),
     MODE_ACTIVE, FUNCREF, [ref_func(0)], 2, [(0x23, 0), END]),
    (b"\x07\x70" + vec([b"\xd2\x01\x0b"]),
     MODE_DECLARATIVE, FUNCREF, [ref_func(1)], 0, None),
])
def test_element_encodings(seg, mode, elem_type, init, table, offset):
    m = decode_module(mod(section(9, vec([seg]))))
    (e,) = m.elems
    assert (e.mode, e.elem_type, e.init, e.table, e.offset) == (mode, elem_type, init, table, offset)


@pytest.mark.parametrize("seg, reason", [
    (b"\x01\x01" + vec([b"\x00"]), "malformed element kind"),
    (b"\x05\x7f" + vec([b"\xd2\x00\x0b"]), "malformed reference type"),
    (b"\x08" + OFFSET_0 + vec([]), "malformed elements segment kind"),
    (b"\x05\x70" + vec([b"\xf3\x00\x0b"]), "illegal opcode"),
])
def test_element_errors(seg, reason):
    e = decode_error(mod(section(9, vec([seg]))))
    assert e.reason == reason
    assert e.section == "element"


def test_data_encodings():
    data = mod(MEM_1, section(11, vec([
        b"\x00" + b"\x41\x10\x0b" + vec([b"h", b"i"]),
        b"\x01" + vec([b"\x00", b"\xff"]),
        b"\x02\x01" + OFFSET_0 + vec([]),
    ])))
    m = decode_module(data)
    got = [(d.mode, d.init, d.memory, d.offset) for d in m.datas]
    assert got == [
        (MODE_ACTIVE, b"hi", 0, [(0x41, 16), END]),
        (MODE_PASSIVE, b"\x00\xff", 0, None),
        (MODE_ACTIVE, b"", 1, [(0x41, 0), END]),
    ]
    assert isinstance(m.datas[0].init, bytes)


def test_data_segment_kind():
    assert decode_error(mod(section(11, vec([b"\x03" + vec([])])))).reason == "malformed data segment kind"


def test_data_count():
    m = decode_module(mod(MEM_1, section(12, b"\x01"), section(11, vec([b"\x01" + vec([b"a"])]))))
    assert m.data_count == 1 and len(m.datas) == 1


@pytest.mark.parametrize("data", [
    mod(MEM_1, section(12, b"\x02"), section(11, vec([b"\x01" + vec([])]))),
    mod(MEM_1, section(12, b"\x01")),                       # no data section at all
    mod(MEM_1, section(12, b"\x00"), section(11, vec([b"\x01" + vec([])]))),
])
def test_data_count_mismatch(data):
    assert decode_error(data).reason == "data count and data section have inconsistent lengths"


@pytest.mark.parametrize("code", [
    b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b",    # memory.init 0
    b"\xfc\x09\x00\x0b",                                # data.drop 0
])
def test_data_count_required(code):
    data = mod(TYPE_VOID, FUNC_1, MEM_1, section(10, vec([body(code)])),
               section(11, vec([b"\x01" + vec([])])))
    e = decode_error(data)
    assert e.reason == "data count section required"
    assert e.section == "code" and e.func_index == 0
    assert data[e.offset] == 0xFC
    # With the data count section the same module decodes.
    ok = mod(TYPE_VOID, FUNC_1, MEM_1, section(12, b"\x01"), section(10, vec([body(code)])),
             section(11, vec([b"\x01" + vec([])])))
    assert decode_module(ok).funcs[0].body[-2][0] in (op.fc(8), op.fc(9))


def test_code_section_locals_and_body():
    locals_ = vec([b"\x02\x7f", b"\x01\x7e", b"\x00\x7b"])
    data = mod(section(1, vec([b"\x60\x01\x7f\x01\x7f"])), FUNC_1,
               section(10, vec([body(b"\x20\x00\x20\x01\x6a\x0b", locals_)])))
    f = decode_module(data).funcs[0]
    assert f.type_index == 0
    assert f.locals == [(2, I32), (1, I64), (0, V128)]
    assert f.body == [(0x20, 0), (0x20, 1), (0x6A, None), END]


def test_function_and_code_counts_must_agree():
    e = decode_error(mod(TYPE_VOID, section(3, vec([b"\x00", b"\x00"])), section(10, vec([body(b"\x0b")]))))
    assert e.reason == "function and code section have inconsistent lengths"
    e = decode_error(mod(TYPE_VOID, FUNC_1))                # code section missing
    assert e.reason == "function and code section have inconsistent lengths"
    e = decode_error(mod(TYPE_VOID, section(10, vec([body(b"\x0b")]))))
    assert e.reason == "function and code section have inconsistent lengths"


def test_too_many_locals():
    locals_ = vec([b"\xff\xff\xff\xff\x0f\x7f", b"\x02\x7e"])
    e = decode_error(one_func(b"\x0b", locals_))
    assert e.reason == "too many locals"
    # 2**32 - 1 in total is allowed by the binary format.
    locals_ = vec([b"\xfe\xff\xff\xff\x0f\x7f", b"\x01\x7e"])
    assert decode_module(one_func(b"\x0b", locals_)).funcs[0].locals == [(2**32 - 2, I32), (1, I64)]


def test_malformed_local_type():
    assert decode_error(one_func(b"\x0b", vec([b"\x01\x40"]))).reason == "malformed value type"


# -- section framing -------------------------------------------------------------------
@pytest.mark.parametrize("sid", [b"\x0e", b"\x7f", b"\x80", b"\xff"])   # (0x0d: the tag section)
def test_malformed_section_id(sid):
    e = decode_error(HEADER + sid + b"\x00")
    assert e.reason == "malformed section id"
    assert e.offset == 8


@pytest.mark.parametrize("sections", [
    [TYPE_VOID, TYPE_VOID],                                     # duplicate
    [section(2, vec([])), section(1, vec([]))],                 # import before type
    [section(8, b"\x00"), section(8, b"\x00")],
    [section(10, vec([])), section(12, b"\x00")],               # data count after code
    [section(11, vec([])), section(10, vec([]))],
    [section(12, b"\x00"), section(9, vec([]))],                # element after data count
])
def test_section_order(sections):
    data = mod(*sections)
    e = decode_error(data)
    assert e.reason == "unexpected content after last section"
    assert e.offset == 8 + len(sections[0])


def test_data_count_between_element_and_code():
    data = mod(TYPE_VOID, FUNC_1, section(9, vec([])), section(12, b"\x00"),
               section(10, vec([body(b"\x0b")])), section(11, vec([])))
    assert decode_module(data).data_count == 0


def test_section_size_mismatch():
    # Type section declares 7 bytes but its vector only takes 4.
    data = HEADER + b"\x01\x07\x01\x60\x00\x00\x60\x00\x00"
    e = decode_error(data)
    assert e.reason == "section size mismatch"
    assert e.section == "type"
    assert e.offset == 8 + 2 + 4


def test_section_too_short_for_contents():
    # Type section of 3 bytes holding a 4-byte vector: the read runs past its end.
    data = HEADER + b"\x01\x03\x01\x60\x00" + b"\x00"
    e = decode_error(data)
    assert e.reason == "unexpected end of section or function"
    assert e.offset == 8 + 2 + 3


def test_section_size_beyond_input():
    e = decode_error(HEADER + b"\x00\x26\x10" + b"a custom section" + b"payload")
    assert e.reason == "length out of bounds"
    assert e.offset == 9


def test_vector_length_beyond_input():
    e = decode_error(HEADER + b"\x01\x04\x05\x60\x00\x00")
    assert e.reason == "length out of bounds"
    assert e.offset == 10


def test_vector_count_larger_than_section():
    # 2 types declared, one given, at the end of the input.
    e = decode_error(HEADER + b"\x01\x04\x02\x60\x00\x00")
    assert e.reason == "unexpected end of section or function"


def test_huge_counts_do_not_allocate():
    # Counts of 2**32-1 everywhere are rejected quickly by the length checks.
    many = b"\xff\xff\xff\xff\x0f"
    for sid in (1, 2, 3, 4, 5, 6, 7, 9, 10, 11):
        e = decode_error(HEADER + bytes([sid, 5]) + many)
        assert e.reason == "length out of bounds"


# -- instructions ----------------------------------------------------------------------
def test_control_instructions_and_block_types():
    types = section(1, vec([b"\x60\x00\x00", b"\x60\x01\x7f\x01\x7f"]))
    code = (b"\x02\x40"                     # block (empty)
            b"\x03\x7f\x41\x01\x0b\x1a"     # loop (result i32) i32.const 1 end drop
            b"\x41\x00\x04\x01\x05\x0b"     # i32.const 0; if (type 1) else end
            b"\x1a"
            b"\x02\x80\x00\x0b"             # block with type index 0 in two bytes
            b"\x0e\x02\x00\x01\x00"         # br_table 0 1 default 0
            b"\x0b"                         # end of the outer block
            b"\x0b")
    data = mod(types, FUNC_1, section(10, vec([body(code)])))
    f = decode_module(data).funcs[0]
    assert f.body == [
        (0x02, -64),
        (0x03, -1), (0x41, 1), END, (0x1A, None),
        (0x41, 0), (0x04, 1), (0x05, None), END,
        (0x1A, None),
        (0x02, 0), END,
        (0x0E, ((0, 1), 0)),
        END,
        END,
    ]


def test_call_indirect_select_and_references():
    tables = section(4, vec([b"\x70\x00\x00", b"\x70\x00\x00"]))
    code = (b"\x41\x00\x11\x00\x01"          # call_indirect (type 0) (table 1)
            b"\x41\x00\x41\x00\x41\x00\x1c\x01\x7f\x1a"   # select (result i32)
            b"\x41\x00\x41\x00\x41\x00\x1b\x1a"
            b"\xd0\x6f\xd1\x1a"              # ref.null extern, ref.is_null
            b"\xd2\x00\x1a"                  # ref.func 0
            b"\x41\x00\x25\x01\x1a"          # table.get 1
            b"\x0b")
    data = mod(TYPE_VOID, FUNC_1, tables, section(10, vec([body(code)])))
    body_ = decode_module(data).funcs[0].body
    assert (0x11, (0, 1)) in body_
    assert (0x1C, (I32,)) in body_
    assert (0x1B, None) in body_
    assert (0xD0, EXTERNREF) in body_ and (0xD1, None) in body_
    assert (0xD2, 0) in body_ and (0x25, 1) in body_


def test_memory_instructions():
    code = (b"\x41\x00\x28\x02\x10\x1a"      # i32.load offset=16 align=4
            b"\x41\x00\x42\x00\x37\x03\x80\x01"  # i64.store offset=128 align=8
            b"\x3f\x00\x40\x00\x1a"          # memory.size; memory.grow
            b"\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x00"  # memory.copy
            b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x00"      # memory.fill
            b"\x0b")
    body_ = decode_module(one_func(code, extra=MEM_1)).funcs[0].body
    assert (0x28, (2, 16, 0)) in body_
    assert (0x37, (3, 128, 0)) in body_
    assert (0x3F, 0) in body_ and (0x40, 0) in body_
    assert (op.fc(10), (0, 0)) in body_
    assert (op.fc(11), 0) in body_


def test_alignment_31_decodes_32_is_malformed():
    ok = one_func(b"\x41\x00\x28\x1f\x00\x1a\x0b", extra=MEM_1)
    assert decode_module(ok).funcs[0].body[1] == (0x28, (31, 0, 0))
    for align in (b"\x20", b"\x40", b"\xa0\x00"):
        e = decode_error(one_func(b"\x41\x00\x28" + align + b"\x00\x1a\x0b", extra=MEM_1))
        assert e.reason == "malformed memop flags"


@pytest.mark.parametrize("code", [
    b"\x3f\x01\x1a\x0b",                   # memory.size with a non-zero byte
    b"\x3f\x80\x00\x1a\x0b",               # ... or a long zero
    b"\x41\x00\x40\x01\x1a\x0b",
    b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x01\x0b",
    b"\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x01\x0b",
])
def test_zero_byte_expected(code):
    e = decode_error(one_func(code, extra=MEM_1))
    assert e.reason == "zero byte expected"
    assert e.section == "code" and e.func_index == 0


def test_table_and_bulk_instructions():
    code = (b"\x41\x00\x41\x00\x41\x00\xfc\x0c\x02\x01"   # table.init elem 2 table 1
            b"\xfc\x0d\x03"                               # elem.drop 3
            b"\x41\x00\x41\x00\x41\x00\xfc\x0e\x01\x02"   # table.copy 1 2
            b"\xd0\x70\x41\x00\xfc\x0f\x01\x1a"           # table.grow 1
            b"\xfc\x10\x00\x1a"                           # table.size 0
            b"\x41\x00\xd0\x70\x41\x00\xfc\x11\x00"       # table.fill 0
            b"\x43\x00\x00\x00\x00\xfc\x00\x1a"           # i32.trunc_sat_f32_s
            b"\x0b")
    body_ = decode_module(one_func(code)).funcs[0].body
    for instr in [(op.fc(12), (2, 1)), (op.fc(13), 3), (op.fc(14), (1, 2)), (op.fc(15), 1),
                  (op.fc(16), 0), (op.fc(17), 0), (op.fc(0), None)]:
        assert instr in body_


def test_simd_instructions():
    const = bytes(range(16))
    code = (b"\xfd\x0c" + const                          # v128.const
            + b"\xfd\x0c" + bytes(16)
            + b"\xfd\x0d" + bytes(range(31, 15, -1))     # i8x16.shuffle
            + b"\xfd\x15\x07\x1a"                        # i8x16.extract_lane_s 7
            + b"\xfd\x80\x01"                            # i16x8.abs (sub-opcode 128, two bytes)
            + b"\x41\x00\xfd\x54\x00\x08\x0f"            # v128.load8_lane offset=8 lane 15
            + b"\x41\x00\xfd\x00\x04\x00"                # v128.load align=16
            + b"\x1a\x1a\x0b")
    body_ = decode_module(one_func(code, extra=MEM_1)).funcs[0].body
    assert body_[0] == (op.fd(12), 0x0F0E0D0C0B0A09080706050403020100)
    assert body_[2] == (op.fd(13), bytes(range(31, 15, -1)))
    assert body_[3] == (op.fd(21), 7)
    assert body_[5] == (op.fd(128), None)
    assert body_[7] == (op.fd(84), (0, 8, 0, 15))
    assert body_[9] == (op.fd(0), (4, 0, 0))


@pytest.mark.parametrize("code", [
    b"\x27\x0b",                # a hole in the one-byte opcode space (0x06 is now try)
    b"\xff\x0b",
    b"\xfc\x12\x0b",            # past the last 0xFC instruction
    b"\xfd\x9a\x01\x0b",        # an unassigned SIMD opcode (154)
    b"\xfc\x80\x80\x04\x0b",    # 0xFC with sub-opcode 0x10000 (must not alias 0xFD 0)
])
def test_illegal_opcode(code):
    data = one_func(code)
    e = decode_error(data)
    assert e.reason == "illegal opcode"
    assert e.offset == code_offset(data)


def test_illegal_block_types():
    e = decode_error(one_func(b"\x02\x41\x0b\x0b"))
    assert e.reason == "malformed value type"
    e = decode_error(one_func(b"\x02\xc0\x7f\x0b\x0b"))   # -64 in two bytes: not a type index
    assert e.reason == "malformed block type"


def test_else_outside_if_is_malformed():
    for code in (b"\x05\x0b", b"\x02\x40\x05\x0b\x0b", b"\x41\x00\x04\x40\x05\x05\x0b\x0b"):
        assert decode_error(one_func(code)).reason == "END opcode expected"


def test_body_must_end_with_end():
    # Missing end at the end of the input.
    data = mod(TYPE_VOID, FUNC_1, section(10, vec([body(b"\x41\x01\x1a")])))
    e = decode_error(data)
    assert e.reason == "unexpected end of section or function"
    assert e.offset == len(data)
    # Bytes after the final end, inside the declared body.
    data = one_func(b"\x0b\x01")
    e = decode_error(data)
    assert e.reason == "section size mismatch"
    assert e.func_index == 0
    # Unclosed block.
    assert decode_error(one_func(b"\x02\x40\x0b")).reason == "unexpected end of section or function"


def test_body_size_smaller_than_body():
    # The first body's size leaves out its end; the end is found just after it.
    code = section(10, b"\x02" + b"\x03\x00\x41\x01" + b"\x1a\x0b" + b"\x02\x00\x0b")
    e = decode_error(mod(TYPE_VOID, section(3, vec([b"\x00", b"\x00"])), code))
    assert e.reason == "section size mismatch"


def test_func_index_counts_imports():
    imports = section(2, vec([name("m") + name("a") + b"\x00\x00", name("m") + name("b") + b"\x00\x00"]))
    data = mod(TYPE_VOID, imports, section(3, vec([b"\x00", b"\x00"])),
               section(10, vec([body(b"\x0b"), body(b"\x06\x0b")])))
    e = decode_error(data)
    assert e.reason == "illegal opcode"
    assert e.func_index == 3
    assert "function 3" in str(e)


def test_offsets_are_module_offsets():
    code = b"\x41\xe4\x00\x41\x02\x6a\x1a\x0b"     # i32.const 100; i32.const 2; add; drop
    data = one_func(code)
    start = code_offset(data)
    f = decode_module(data).funcs[0]
    assert f.offsets == [start, start + 3, start + 5, start + 6, start + 7]
    assert data[start:start + len(code)] == code
    assert len(f.offsets) == len(f.body)


# -- names and custom sections ---------------------------------------------------------
def name_section(*subsections: bytes) -> bytes:
    return section(0, name("name") + b"".join(subsections))


def subsection(sid: int, payload: bytes) -> bytes:
    return bytes([sid]) + uleb(len(payload)) + payload


GOOD_NAMES = [
    subsection(0, name("my-module")),
    subsection(1, vec([uleb(0) + name("first"), uleb(2) + name("third")])),
    subsection(2, vec([uleb(0) + vec([uleb(0) + name("x"), uleb(1) + name("y")]),
                       uleb(2) + vec([])])),
]


def test_custom_sections_are_kept():
    data = mod(section(0, name("first") + b"\x01\x02"), TYPE_VOID,
               section(0, name("second")), section(0, name("ü") + b"\xff"))
    m = decode_module(data)
    assert [(c.name, c.data) for c in m.customs] == [("first", b"\x01\x02"), ("second", b""),
                                                      ("ü", b"\xff")]


def test_custom_section_errors():
    assert decode_error(HEADER + b"\x00").reason == "unexpected end"
    e = decode_error(HEADER + b"\x00\x00")
    assert e.reason.startswith("unexpected end")
    e = decode_error(HEADER + section(0, b"\x02\xc3\x28"))
    assert e.reason == "malformed UTF-8 encoding"
    assert e.offset == 8 + 2
    e = decode_error(HEADER + section(0, b"\x05ab"))
    assert e.reason == "length out of bounds"


def test_name_section():
    m = decode_module(mod(*[name_section(*GOOD_NAMES)]))
    assert m.names.module == "my-module"
    assert m.names.functions == {0: "first", 2: "third"}
    assert m.names.locals == {0: {0: "x", 1: "y"}, 2: {}}
    assert m.customs[0].name == "name"


def test_name_section_skips_unknown_subsections():
    m = decode_module(mod(name_section(GOOD_NAMES[1], subsection(4, b"\x01\x02\x03"))))
    assert m.names.functions == {0: "first", 2: "third"}


@pytest.mark.parametrize("subsections", [
    [GOOD_NAMES[1], GOOD_NAMES[0]],                                   # out of order
    [GOOD_NAMES[0], GOOD_NAMES[0]],                                   # duplicate
    [subsection(0, b"\x02\xff\xfe")],                                 # bad UTF-8
    [subsection(1, vec([uleb(1) + name("b"), uleb(0) + name("a")]))],  # indices not increasing
    [subsection(0, name("m") + b"\x00")],                             # trailing byte
    [b"\x00\x10" + name("m")],                                        # size beyond the section
    [GOOD_NAMES[0], b"\x01"],                                         # truncated subsection
])
def test_malformed_name_section_is_ignored(subsections):
    data = mod(TYPE_VOID, name_section(*subsections))
    m = decode_module(data)
    assert m.names.module is None and m.names.functions == {} and m.names.locals == {}
    assert m.types == [FuncType()]
    assert m.customs[0].name == "name"


@pytest.mark.parametrize("raw", [
    b"\xc0\x80",            # overlong NUL
    b"\xed\xa0\x80",        # surrogate
    b"\xf4\x90\x80\x80",    # above U+10FFFF
    b"\xe0\x80",            # truncated sequence
    b"\x80",                # lone continuation byte
])
def test_names_must_be_utf8(raw):
    data = mod(section(7, vec([uleb(len(raw)) + raw + b"\x00\x00"])))
    assert decode_error(data).reason == "malformed UTF-8 encoding"


# -- robustness ------------------------------------------------------------------------
def sample_sections() -> list:
    return [
        section(1, vec([b"\x60\x01\x7f\x01\x7f", b"\x60\x00\x00"])),
        section(2, vec([name("env") + name("f") + b"\x00\x00"])),
        section(3, vec([b"\x00", b"\x01"])),
        section(4, vec([b"\x70\x00\x01"])),
        MEM_1,
        section(6, vec([b"\x7f\x01\x41\x00\x0b"])),
        section(7, vec([name("run") + b"\x00\x01"])),
        section(9, vec([b"\x00" + OFFSET_0 + vec([b"\x01"])])),
        section(12, b"\x01"),
        section(10, vec([
            body(b"\x20\x00\x41\x01\x6a\x0b"),
            body(b"\x02\x40\x41\x00\x0e\x01\x00\x00\x0b\xfd\x0c" + bytes(16) + b"\x1a"
                 b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b", vec([b"\x01\x7e"])),
        ])),
        section(11, vec([b"\x01" + vec([b"x"])])),
        name_section(*GOOD_NAMES),
    ]


def test_sample_module_decodes():
    m = decode_module(mod(*sample_sections()))
    assert len(m.funcs) == 2 and m.funcs[1].locals == [(1, I64)]
    assert m.names.module == "my-module"


def test_truncations():
    sections = sample_sections()
    data = mod(*sections)
    cuts = [8]
    for s in sections:
        cuts.append(cuts[-1] + len(s))
    decodable = set()
    for n in range(len(data)):
        try:
            decode_module(data[:n])
        except DecodeError:
            pass
        else:
            decodable.add(n)
    # Only cuts between sections leave a well-formed module: before the function
    # section (whose length must match the code section's), or after the data
    # section (the data count section announces one segment).
    assert decodable == {cuts[0], cuts[1], cuts[2], cuts[11]}


def test_only_decode_errors_escape():
    data = mod(*sample_sections())
    # Random single-byte changes, insertions and deletions: decode or DecodeError.
    rnd = random.Random(1234)
    for _ in range(3000):
        d = bytearray(data)
        for _ in range(rnd.randint(1, 3)):
            p = rnd.randrange(len(d))
            r = rnd.random()
            if r < 0.6:
                d[p] = rnd.choice([0x00, 0x01, 0x0b, 0x40, 0x7f, 0x80, 0xff, rnd.randrange(256)])
            elif r < 0.8:
                del d[p]
            else:
                d.insert(p, rnd.randrange(256))
        try:
            decode_module(bytes(d))
        except DecodeError:
            pass


def test_deep_nesting_has_no_recursion_limit():
    depth = 100_000
    code = b"\x02\x40" * depth + b"\x0b" * depth + b"\x0b"
    f = decode_module(one_func(code)).funcs[0]
    assert len(f.body) == 2 * depth + 1
