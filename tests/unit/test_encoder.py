"""Tests for pywazero.binary.encoder.

Expected bytes are either derived by hand from the binary format spec or were
produced once by wabt's ``wat2wasm`` from the WAT shown next to them.
"""
from __future__ import annotations

import copy
import subprocess
import sys

import pytest

from pywazero.binary.encoder import (
    encode_expr,
    encode_module,
    encode_s32,
    encode_s33,
    encode_s64,
    encode_u32,
)
from pywazero.wasm.module import (
    MODE_ACTIVE,
    MODE_DECLARATIVE,
    MODE_PASSIVE,
    CustomSection,
    DataSegment,
    ElementSegment,
    Export,
    Function,
    Global,
    Import,
    Module,
    NameSection,
)
from pywazero.wasm.opcodes import BY_NAME, fc, fd
from pywazero.wasm.types import ANYREF, HT_FUNC, ref_type  # noqa: E402
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
    blocktype_of_valtype,
)

END = (0x0B, None)
HEADER = bytes.fromhex("0061736d01000000")


def op(name: str) -> int:
    return BY_NAME[name].op


def i32c(v: int):
    return [(0x41, v), END]


def ref_func(x: int):
    return [(0xD2, x), END]


def sections(b: bytes):
    """Split a binary into (id, contents) pairs (assumes one-byte section sizes are
    not required; reads the LEB128 size)."""
    assert b[:8] == HEADER
    p, out = 8, []
    while p < len(b):
        sid = b[p]
        p += 1
        size = shift = 0
        while True:
            byte = b[p]
            p += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        out.append((sid, b[p:p + size]))
        p += size
    assert p == len(b)
    return out


# ---------------------------------------------------------------------------------
# LEB128
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value, expected", [
    (0, "00"),
    (1, "01"),
    (127, "7f"),
    (128, "8001"),
    (255, "ff01"),
    (624485, "e58e26"),
    (2**31 - 1, "ffffffff07"),
    (2**32 - 1, "ffffffff0f"),
])
def test_u32(value, expected):
    assert encode_u32(value) == bytes.fromhex(expected)


@pytest.mark.parametrize("value", [-1, 2**32, 2**40])
def test_u32_out_of_range(value):
    with pytest.raises(ValueError):
        encode_u32(value)


@pytest.mark.parametrize("value, expected", [
    (0, "00"),
    (1, "01"),
    (63, "3f"),
    (64, "c000"),
    (127, "ff00"),
    (128, "8001"),
    (-1, "7f"),
    (-64, "40"),
    (-65, "bf7f"),
    (-128, "807f"),
    (-123456, "c0bb78"),
    (2**31 - 1, "ffffffff07"),
    (-2**31, "8080808078"),
])
def test_s32(value, expected):
    assert encode_s32(value) == bytes.fromhex(expected)


def test_s32_accepts_unsigned_bit_pattern():
    assert encode_s32(0xFFFFFFFF) == encode_s32(-1) == b"\x7f"
    assert encode_s32(2**31) == encode_s32(-2**31)


@pytest.mark.parametrize("value", [2**32, -2**31 - 1])
def test_s32_out_of_range(value):
    with pytest.raises(ValueError):
        encode_s32(value)


@pytest.mark.parametrize("value, expected", [
    (0, "00"),
    (127, "ff00"),
    (128, "8001"),
    (-1, "7f"),
    (-64, "40"),
    (-65, "bf7f"),
    (2**31 - 1, "ffffffff07"),
    (-2**31, "8080808078"),
    (2**63 - 1, "ffffffffffffffffff00"),
    (-2**63, "8080808080808080807f"),
])
def test_s64(value, expected):
    assert encode_s64(value) == bytes.fromhex(expected)


def test_s64_out_of_range():
    with pytest.raises(ValueError):
        encode_s64(2**64)
    with pytest.raises(ValueError):
        encode_s64(-2**63 - 1)


@pytest.mark.parametrize("value, expected", [
    (-64, "40"),        # empty block type
    (-1, "7f"),         # i32
    (-5, "7b"),         # v128
    (0, "00"),          # type index 0
    (64, "c000"),       # type index 64 needs two bytes as a signed number
    (2**32 - 1, "ffffffff0f"),
    (-2**32, "8080808070"),
])
def test_s33(value, expected):
    assert encode_s33(value) == bytes.fromhex(expected)


def test_leb_rejects_non_int():
    with pytest.raises(TypeError):
        encode_u32(1.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------
# Whole modules compared with wabt's output
# ---------------------------------------------------------------------------------
def test_empty_module():
    assert encode_module(Module()) == HEADER


def test_const_42_module():
    # (module (func (result i32) i32.const 42))
    m = Module(types=[FuncType((), (I32,))], funcs=[Function(0, [], [(0x41, 42), END])])
    assert encode_module(m) == bytes.fromhex(
        "0061736d010000000105016000017f030201000a06010400412a0b")


def full_module() -> Module:
    """(module
      (type (func (param i32 i64) (result f32)))
      (type (func))
      (import "env" "f" (func (type 1)))
      (import "env" "t" (table 2 10 funcref))
      (import "env" "m" (memory 1))
      (import "env" "g" (global (mut i32)))
      (func (type 1))
      (func (type 0) (local i32 i32 f64)
        local.get 0  drop  f32.const 1.5)
      (table 3 externref)
      (global i64 (i64.const -1))
      (export "run" (func 1))
      (export "mem" (memory 0))
      (start 1)
      (elem (i32.const 1) func 0 1)
      (data (i32.const 16) "hi"))"""
    return Module(
        types=[FuncType((I32, I64), (F32,)), FuncType()],
        imports=[
            Import("env", "f", EXTERN_FUNC, 1),
            Import("env", "t", EXTERN_TABLE, TableType(FUNCREF, Limits(2, 10))),
            Import("env", "m", EXTERN_MEMORY, MemoryType(Limits(1))),
            Import("env", "g", EXTERN_GLOBAL, GlobalType(I32, True)),
        ],
        funcs=[
            Function(1, [], [END]),
            Function(0, [(2, I32), (1, F64)],
                     [(op("local.get"), 0), (op("drop"), None), (0x43, 0x3FC00000), END]),
        ],
        tables=[TableType(EXTERNREF, Limits(3))],
        globals=[Global(GlobalType(I64), [(0x42, -1), END])],
        exports=[Export("run", EXTERN_FUNC, 1), Export("mem", EXTERN_MEMORY, 0)],
        start=1,
        elems=[ElementSegment(MODE_ACTIVE, REF_FUNC, [ref_func(0), ref_func(1)], 0, i32c(1))],
        datas=[DataSegment(MODE_ACTIVE, b"hi", 0, i32c(16))],
    )


FULL_WASM = bytes.fromhex(
    "0061736d01000000010a0260027f7e017d60000002260403656e760166000103656e7601740170"
    "01020a03656e76016d02000103656e760167037f0103030201000404016f00030606017e00427f"
    "0b070d020372756e0001036d656d02000801010908010041010b0200010a130202000b0e02027f"
    "017c20001a430000c03f0b0b08010041100b026869")


def test_every_section_matches_wabt():
    assert encode_module(full_module()) == FULL_WASM


def test_section_order_and_ids():
    m = full_module()
    m.mems = [MemoryType(Limits(0))]
    m.data_count = 1
    m.customs = [CustomSection("c", b"")]
    ids = [sid for sid, _ in sections(encode_module(m))]
    assert ids == [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11, 0]


def test_empty_sections_are_left_out():
    m = Module(types=[FuncType()], mems=[MemoryType(Limits(0))])
    assert [sid for sid, _ in sections(encode_module(m))] == [1, 5]


def test_memory_with_max_and_table_limits():
    m = Module(mems=[MemoryType(Limits(1, 2))],
               tables=[TableType(FUNCREF, Limits(0, 2**32 - 1))])
    assert sections(encode_module(m)) == [
        (4, bytes.fromhex("01" "70" "01" "00" "ffffffff0f")),
        (5, bytes.fromhex("01" "01" "01" "02")),
    ]


def test_simd_immediates_match_wabt():
    """(module (memory 1)
      (func (param i32 v128) (result i32)
        local.get 0  local.get 1  v128.load32_lane offset=4 2
        i32x4.extract_lane 3  drop
        local.get 0  local.get 1  v128.store8_lane 15
        local.get 0  v128.load offset=16 align=8
        v128.const i32x4 1 2 3 0x80000000
        i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 31
        v128.const i64x2 -1 0
        i8x16.add  local.get 1  i16x8.add  v128.any_true))"""
    body = [
        (op("local.get"), 0), (op("local.get"), 1),
        (op("v128.load32_lane"), (2, 4, 0, 2)),
        (op("i32x4.extract_lane"), 3), (op("drop"), None),
        (op("local.get"), 0), (op("local.get"), 1),
        (op("v128.store8_lane"), (0, 0, 0, 15)),
        (op("local.get"), 0),
        (op("v128.load"), (3, 16, 0)),
        (fd(12), 1 | 2 << 32 | 3 << 64 | 0x80000000 << 96),
        (fd(13), bytes([0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 31])),
        (fd(12), (1 << 64) - 1),
        (op("i8x16.add"), None), (op("local.get"), 1), (op("i16x8.add"), None),
        (op("v128.any_true"), None),
        END,
    ]
    m = Module(types=[FuncType((I32, V128), (I32,))], funcs=[Function(0, [], body)],
               mems=[MemoryType(Limits(1))])
    assert encode_module(m) == bytes.fromhex(
        "0061736d0100000001070160027f7b017f0302010005030100010a5f015d0020002001fd5602"
        "0402fd1b031a20002001fd5800000f2000fd000310fd0c01000000020000000300000000000080"
        "fd0d0001020304050607101112131415161ffd0cffffffffffffffff0000000000000000fd6e"
        "2001fd8e01fd530b")


def test_control_and_numeric_immediates_match_wabt():
    """(module
      (type $t (func (param i32) (result i32)))
      (table 1 funcref)
      (func (type $t)
        (block (result i32)
          local.get 0
          (loop (param i32) (result i32) local.get 0 br_table 0 1 1))
        (if (result i32) (i32.const 1) (then (i32.const 2)) (else (i32.const 3)))
        i32.const 0  call_indirect (type $t)
        local.get 0  select (result i32)
        i64.const 9223372036854775807  drop
        f64.const -0x1p-1074  drop
        ref.null extern  drop
        i32.const -2147483648  i32.load16_u offset=65536 align=1
        memory.grow  memory.size  i32.add  i32.add)
      (memory 1))"""
    body = [
        (op("block"), blocktype_of_valtype(I32)),
        (op("local.get"), 0),
        (op("loop"), 0),
        (op("local.get"), 0),
        (op("br_table"), ((0, 1), 1)),
        END, END,
        (0x41, 1),
        (op("if"), -1), (0x41, 2), (0x05, None), (0x41, 3), END,
        (0x41, 0),
        (op("call_indirect"), (0, 0)),
        (op("local.get"), 0),
        (op("select_t"), (I32,)),
        (0x42, 2**63 - 1), (op("drop"), None),
        (0x44, 0x8000000000000001), (op("drop"), None),
        (op("ref.null"), EXTERNREF), (op("drop"), None),
        (0x41, -2**31),
        (op("i32.load16_u"), (0, 65536, 0)),
        (op("memory.grow"), 0), (op("memory.size"), 0),
        (op("i32.add"), None), (op("i32.add"), None),
        END,
    ]
    m = Module(types=[FuncType((I32,), (I32,))], funcs=[Function(0, [], body)],
               tables=[TableType(FUNCREF, Limits(1))], mems=[MemoryType(Limits(1))])
    assert encode_module(m) == bytes.fromhex(
        "0061736d0100000001060160017f017f0302010004040170000105030100010a51014f00027f20"
        "00030020000e020001010b0b4101047f41020541030b410011000020001c017f42ffffffffffff"
        "ffffff001a4401000000000000801ad06f1a4180808080782f0080800440003f006a6a0b")


def test_name_section_matches_wabt():
    # (module $m (func $a (param $x i32) (local $y i32)) (func $b)), wat2wasm --debug-names
    m = Module(
        types=[FuncType((I32,), ()), FuncType()],
        funcs=[Function(0, [(1, I32)], [END]), Function(1, [], [END])],
        names=NameSection("m", {1: "b", 0: "a"}, {1: {}, 0: {1: "y", 0: "x"}}),
    )
    assert encode_module(m) == bytes.fromhex(
        "0061736d0100000001080260017f0060000003030200010a09020401017f0b02000b001f046e61"
        "6d650002016d010702000161010162020b0200020001780101790100")


# ---------------------------------------------------------------------------------
# Instructions, by hand from the spec
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("instrs, expected", [
    ([(op("nop"), None)], "01"),
    ([(op("block"), -64)], "0240"),
    ([(op("block"), 5)], "0205"),
    ([(op("block"), 100)], "02e400"),          # type index 100 as positive s33
    ([(op("local.get"), 300)], "20ac02"),
    ([(op("call"), 7)], "1007"),
    ([(op("br_table"), ((), 3))], "0e0003"),
    ([(op("select"), None)], "1b"),
    ([(op("select_t"), (I64, F32))], "1c027e7d"),
    ([(op("table.get"), 2)], "2502"),
    ([(op("i32.const"), 0xFFFFFFFF)], "417f"),  # unsigned bit pattern accepted
    ([(op("i64.const"), -2**63)], "428080808080808080807f"),
    ([(op("f32.const"), 0x7FC00001)], "430100c07f"),   # NaN payload kept
    ([(op("i64.load"), (3, 2**32 - 1, 0))], "2903ffffffff0f"),
    ([(op("ref.null"), FUNCREF)], "d070"),
    ([(op("ref.is_null"), None)], "d1"),
    ([(op("ref.func"), 129)], "d28101"),
    ([(op("i32.trunc_sat_f32_s"), None)], "fc00"),
    ([(fc(8), (3, 0))], "fc080300"),           # memory.init data 3, memory 0
    ([(fc(9), 3)], "fc0903"),                  # data.drop
    ([(fc(10), (0, 0))], "fc0a0000"),          # memory.copy
    ([(fc(11), 0)], "fc0b00"),                 # memory.fill
    ([(fc(12), (4, 1))], "fc0c0401"),          # table.init elem 4, table 1
    ([(fc(13), 4)], "fc0d04"),                 # elem.drop
    ([(fc(14), (1, 2))], "fc0e0102"),          # table.copy dst 1 src 2
    ([(fc(15), 1)], "fc0f01"),
    ([(fc(16), 1)], "fc1001"),
    ([(fc(17), 1)], "fc1101"),
    ([(fd(0), (4, 0, 0))], "fd000400"),
    ([(fd(12), 0x0102030405060708090A0B0C0D0E0F10)], "fd0c100f0e0d0c0b0a090807060504030201"),
    ([(fd(21), 15)], "fd150f"),
    ([(fd(255), None)], "fdff01"),             # f64x2.convert_low_i32x4_u
])
def test_instruction_encoding(instrs, expected):
    assert encode_expr(instrs) == bytes.fromhex(expected)


def test_multi_memory_memarg():
    # align field gets bit 6, then the memory index, then the offset
    assert encode_expr([(op("i32.load"), (2, 8, 1))]) == bytes.fromhex("28420108")
    assert encode_expr([(op("i32.store8"), (0, 0, 200))]) == bytes.fromhex("3a40c80100")
    assert encode_expr([(fd(84), (0, 1, 3, 7))]) == bytes.fromhex("fd5440030107")


def test_every_opcode_in_the_table_encodes():
    from pywazero.wasm import opcodes as O
    sample = {
        O.IMM_NONE: None, O.IMM_BLOCK: -64, O.IMM_LABEL: 0, O.IMM_BR_TABLE: ((0,), 0),
        O.IMM_FUNC: 0, O.IMM_CALL_INDIRECT: (0, 0), O.IMM_LOCAL: 0, O.IMM_GLOBAL: 0,
        O.IMM_TABLE: 0, O.IMM_SELECT_T: (I32,), O.IMM_MEMARG: (0, 0, 0),
        O.IMM_MEMORY: 0, O.IMM_I32: 0, O.IMM_I64: 0, O.IMM_F32: 0, O.IMM_F64: 0,
        O.IMM_REFTYPE: FUNCREF, O.IMM_MEMORY_INIT: (0, 0), O.IMM_DATA: 0,
        O.IMM_MEMORY_COPY: (0, 0), O.IMM_TABLE_INIT: (0, 0), O.IMM_ELEM: 0,
        O.IMM_TABLE_COPY: (0, 0), O.IMM_V128: 0, O.IMM_SHUFFLE: bytes(16),
        O.IMM_LANE: 0, O.IMM_MEMARG_LANE: (0, 0, 0, 0), O.IMM_TYPE: 0,
        O.IMM_TAG: 0, O.IMM_TRY_TABLE: (-64, ((O.CATCH, 0, 0), (O.CATCH_ALL_REF, None, 0))),
        O.IMM_FIELD: (0, 0), O.IMM_TYPE_N: (0, 0), O.IMM_TYPE_DATA: (0, 0), O.IMM_TYPE_ELEM: (0, 0),
        O.IMM_TYPE_TYPE: (0, 0), O.IMM_CAST: ANYREF, O.IMM_BR_ON_CAST: (0, ANYREF, ANYREF),
    }
    imm_size = {
        O.IMM_NONE: 0, O.IMM_BR_TABLE: 3, O.IMM_CALL_INDIRECT: 2, O.IMM_SELECT_T: 2,
        O.IMM_MEMARG: 2, O.IMM_F32: 4, O.IMM_F64: 8, O.IMM_MEMORY_INIT: 2,
        O.IMM_MEMORY_COPY: 2, O.IMM_TABLE_INIT: 2, O.IMM_TABLE_COPY: 2, O.IMM_V128: 16,
        O.IMM_SHUFFLE: 16, O.IMM_MEMARG_LANE: 3, O.IMM_TRY_TABLE: 7,
        O.IMM_FIELD: 2, O.IMM_TYPE_N: 2, O.IMM_TYPE_DATA: 2, O.IMM_TYPE_ELEM: 2, O.IMM_TYPE_TYPE: 2,
        O.IMM_BR_ON_CAST: 4,
    }
    for code, info in O.BY_OP.items():
        b = encode_expr([(code, sample[info.imm])])
        if code <= 0xFF:
            assert b[0] == code
            prefix_len = 1
        else:
            assert b[0] == code >> 16
            sub = code & 0xFFFF
            prefix_len = 1 + len(encode_u32(sub))
            assert b[1:prefix_len] == encode_u32(sub)
        assert len(b) - prefix_len == imm_size.get(info.imm, 1), info.name


def test_unknown_opcode_raises_value_error():
    with pytest.raises(ValueError, match="unknown opcode"):
        encode_expr([(0x27, None)])   # (0x06 is legacy exceptions' try)
    m = Module(types=[FuncType()], funcs=[Function(0, [], [(0xFD0FFF, None), END])])
    with pytest.raises(ValueError, match="function 0"):
        encode_module(m)


def test_bad_immediate_raises_value_error():
    with pytest.raises(ValueError, match="local.get"):
        encode_expr([(op("local.get"), None)])
    with pytest.raises(ValueError):
        encode_expr([(op("i32.const"), 2**32)])
    with pytest.raises(ValueError):
        encode_expr([(fd(13), bytes(15))])
    with pytest.raises(ValueError):
        encode_expr([(fd(13), 16)])


# ---------------------------------------------------------------------------------
# Element segments: the most compact encoding that represents the segment exactly
# ---------------------------------------------------------------------------------
def elem_section(*segs: ElementSegment) -> bytes:
    m = Module(elems=list(segs))
    (sid, content), = sections(encode_module(m))
    assert sid == 9
    return content


OFF = i32c(2)          # 41 02 0b
REF_FUNC = ref_type(HT_FUNC, False)   # (ref func): a vector of function indices
NULL_F = [(0xD0, FUNCREF), END]
GLOBAL0 = [(0x23, 0), END]


@pytest.mark.parametrize("seg, expected", [
    # 0: active, table 0, function indices (their type is (ref func) since 3.0)
    (ElementSegment(MODE_ACTIVE, REF_FUNC, [ref_func(1), ref_func(130)], 0, OFF),
     "01" "00" "41020b" "02" "01" "8201"),
    # 1: passive, elemkind, function indices
    (ElementSegment(MODE_PASSIVE, REF_FUNC, [ref_func(3)]),
     "01" "01" "00" "01" "03"),
    # 2: active, explicit table, elemkind, function indices
    (ElementSegment(MODE_ACTIVE, REF_FUNC, [ref_func(3)], 1, OFF),
     "01" "02" "01" "41020b" "00" "01" "03"),
    # 3: declarative, elemkind, function indices
    (ElementSegment(MODE_DECLARATIVE, REF_FUNC, [ref_func(0), ref_func(0)]),
     "01" "03" "00" "02" "00" "00"),
    # funcref with plain ref.func items: expressions (decoding gives funcref back)
    (ElementSegment(MODE_PASSIVE, FUNCREF, [ref_func(3)]),
     "01" "05" "70" "01" "d2030b"),
    # 4: active, table 0, funcref, expressions
    (ElementSegment(MODE_ACTIVE, FUNCREF, [ref_func(1), NULL_F], 0, OFF),
     "01" "04" "41020b" "02" "d2010b" "d0700b"),
    # 5: passive, reftype, expressions
    (ElementSegment(MODE_PASSIVE, EXTERNREF, [[(0xD0, EXTERNREF), END]]),
     "01" "05" "6f" "01" "d06f0b"),
    # 6: active, explicit table, reftype, expressions
    (ElementSegment(MODE_ACTIVE, FUNCREF, [GLOBAL0], 3, OFF),
     "01" "06" "03" "41020b" "70" "01" "23000b"),
    # 6 is also needed for externref in table 0 (flag 4 implies funcref)
    (ElementSegment(MODE_ACTIVE, EXTERNREF, [], 0, OFF),
     "01" "06" "00" "41020b" "6f" "00"),
    # 7: declarative, reftype, expressions
    (ElementSegment(MODE_DECLARATIVE, FUNCREF, [NULL_F]),
     "01" "07" "70" "01" "d0700b"),
])
def test_element_encodings(seg, expected):
    assert elem_section(seg) == bytes.fromhex(expected)


def test_element_ref_func_with_extra_instructions_uses_expressions():
    seg = ElementSegment(MODE_PASSIVE, FUNCREF, [[(0xD2, 1), (0x01, None), END]])
    assert elem_section(seg)[1] == 5


def test_empty_funcref_segment_uses_index_vector():
    seg = ElementSegment(MODE_ACTIVE, REF_FUNC, [], 0, OFF)
    assert elem_section(seg) == bytes.fromhex("010041020b00")


def test_active_segment_without_offset_is_refused():
    with pytest.raises(ValueError, match="element segment 0"):
        encode_module(Module(elems=[ElementSegment(MODE_ACTIVE, FUNCREF, [], 0, None)]))
    with pytest.raises(ValueError, match="data segment 0"):
        encode_module(Module(datas=[DataSegment(MODE_ACTIVE, b"", 0, None)]))


# ---------------------------------------------------------------------------------
# Data segments and the data count section
# ---------------------------------------------------------------------------------
def test_data_segment_modes():
    m = Module(datas=[
        DataSegment(MODE_ACTIVE, b"ab", 0, i32c(8)),
        DataSegment(MODE_PASSIVE, b"\x00\xff"),
        DataSegment(MODE_ACTIVE, b"", 1, [(0x23, 0), END]),
        DataSegment(MODE_ACTIVE, b"x" * 200, 0, i32c(0)),
    ])
    (sid, content), = sections(encode_module(m))
    assert sid == 11
    assert content == bytes.fromhex(
        "04"
        "00" "41080b" "02" "6162"
        "01" "02" "00ff"
        "02" "01" "23000b" "00"
        "00" "41000b" "c801") + b"x" * 200


def test_data_count_from_model():
    m = Module(datas=[DataSegment(MODE_PASSIVE, b"a")], data_count=1)
    assert [(s, c) for s, c in sections(encode_module(m))] == [
        (12, b"\x01"), (11, bytes.fromhex("010101") + b"a")]


def test_data_count_added_for_memory_init_and_data_drop():
    for instr in [(fc(8), (1, 0)), (fc(9), 1)]:
        m = Module(types=[FuncType()], funcs=[Function(0, [], [instr, END])],
                   mems=[MemoryType(Limits(1))],
                   datas=[DataSegment(MODE_PASSIVE, b""), DataSegment(MODE_PASSIVE, b"")])
        ids = [sid for sid, _ in sections(encode_module(m))]
        assert ids == [1, 3, 5, 12, 10, 11]
        assert dict(sections(encode_module(m)))[12] == b"\x02"


def test_no_data_count_without_need():
    m = Module(types=[FuncType()], funcs=[Function(0, [], [END])],
               datas=[DataSegment(MODE_PASSIVE, b"")])
    assert [sid for sid, _ in sections(encode_module(m))] == [1, 3, 10, 11]


# ---------------------------------------------------------------------------------
# Custom sections and names
# ---------------------------------------------------------------------------------
def test_custom_sections_at_end_in_order():
    m = full_module()
    m.customs = [CustomSection("b", b"\x01\x02"), CustomSection("a", b""),
                 CustomSection("\u00e9", b"z")]
    secs = sections(encode_module(m))
    assert [sid for sid, _ in secs[-3:]] == [0, 0, 0]
    assert [c for _, c in secs[-3:]] == [b"\x01b\x01\x02", b"\x01a", b"\x02\xc3\xa9z"]
    assert [sid for sid, _ in secs[:-3]] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]


def test_name_custom_section_is_kept_not_regenerated():
    raw = CustomSection("name", b"\x00\x02\x01q")
    m = Module(customs=[CustomSection("x", b""), raw],
               names=NameSection("other", {0: "f"}))
    assert sections(encode_module(m)) == [(0, b"\x01x"), (0, b"\x04name\x00\x02\x01q")]


def test_name_section_generated_before_other_customs():
    m = Module(customs=[CustomSection("x", b"")], names=NameSection("q"))
    assert sections(encode_module(m)) == [(0, b"\x04name\x00\x02\x01q"), (0, b"\x01x")]


def test_no_name_section_for_empty_names():
    assert encode_module(Module(names=NameSection())) == HEADER


def test_function_names_sorted_by_index():
    m = Module(names=NameSection(None, {300: "c", 2: "b", 0: "a"}))
    (sid, content), = sections(encode_module(m))
    assert content == b"\x04name" + bytes.fromhex("010b03" "000161" "020162" "ac020163")


# ---------------------------------------------------------------------------------
# Miscellaneous
# ---------------------------------------------------------------------------------
def test_encoder_does_not_mutate_module():
    m = full_module()
    before = copy.deepcopy(m)
    encode_module(m)
    assert m == before


def test_global_types_and_import_kinds():
    m = Module(imports=[Import("a", "b", EXTERN_GLOBAL, GlobalType(F64, False))],
               globals=[Global(GlobalType(EXTERNREF, True), [(0xD0, EXTERNREF), END])])
    assert sections(encode_module(m)) == [
        (2, bytes.fromhex("01" "0161" "0162" "03" "7c00")),
        (6, bytes.fromhex("01" "6f01" "d06f0b")),
    ]


def test_wat2wasm_import_is_lazy():
    code = ("import sys, pywazero.convert as e; "
            "assert callable(e.wat2wasm); "
            "assert 'pywazero.text.parser' not in sys.modules; "
            "assert 'pywazero.wasm.validation' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------
# Round trips through the decoder
# ---------------------------------------------------------------------------------
def _blank(m: Module) -> Module:
    for f in m.funcs:
        f.offsets = []
        f.info = None
    return m


def roundtrip_modules():
    yield full_module()
    yield Module(
        types=[FuncType((I32, V128), (I32,))],
        funcs=[Function(0, [(1, V128), (3, I64)], [
            (op("local.get"), 0), (op("local.get"), 1),
            (op("v128.load32_lane"), (2, 4, 0, 2)),
            (op("i32x4.extract_lane"), 3),
            (fd(12), (1 << 128) - 1), (fd(13), bytes(range(16))), (op("drop"), None),
            (op("block"), -64), (op("br"), 0), END,
            END])],
        mems=[MemoryType(Limits(1, 1))],
    )
    yield Module(
        types=[FuncType()],
        funcs=[Function(0, [], [(fc(8), (1, 0)), (fc(9), 0), (fc(13), 2),
                                (fc(12), (0, 1)), (fc(14), (1, 0)), END])],
        tables=[TableType(FUNCREF, Limits(1)), TableType(EXTERNREF, Limits(1, 5))],
        mems=[MemoryType(Limits(0))],
        elems=[
            ElementSegment(MODE_ACTIVE, REF_FUNC, [ref_func(0)], 0, OFF),
            ElementSegment(MODE_PASSIVE, FUNCREF, [ref_func(0), NULL_F]),
            ElementSegment(MODE_DECLARATIVE, REF_FUNC, [ref_func(0)]),
            ElementSegment(MODE_ACTIVE, EXTERNREF, [[(0xD0, EXTERNREF), END]], 1, OFF),
        ],
        datas=[DataSegment(MODE_PASSIVE, b"abc"), DataSegment(MODE_ACTIVE, b"d", 0, OFF)],
        data_count=2,
    )
    yield Module(
        types=[FuncType((F32, F64), (F32, F64))],
        funcs=[Function(0, [], [(0x43, 0x7FA00001), (0x44, 0xFFF0000000000001),
                                (op("f32.neg"), None), (op("drop"), None),
                                (op("drop"), None), (op("local.get"), 0),
                                (op("local.get"), 1), END])],
        exports=[Export("f", EXTERN_FUNC, 0)],
        customs=[CustomSection("extra", b"\x00\x01")],
    )


@pytest.mark.parametrize("module", list(roundtrip_modules()))
def test_decode_encode_roundtrip(module):
    from pywazero.binary.decoder import decode_module

    decoded = _blank(decode_module(encode_module(module)))
    expected = _blank(copy.deepcopy(module))
    assert decoded == expected


def test_wat2wasm_rejects_bad_utf8_bytes():
    from pywazero.convert import wat2wasm
    from pywazero.errors import DecodeError

    with pytest.raises(DecodeError) as info:
        wat2wasm(b"(module) \xff")
    assert info.value.reason == "malformed UTF-8 encoding"
    assert info.value.offset == 9


def test_generated_name_section_decodes_to_same_names():
    from pywazero.binary.decoder import decode_module

    names = NameSection("mod", {0: "f", 1: "g"}, {0: {0: "p", 2: "q"}, 1: {}})
    m = Module(types=[FuncType()], funcs=[Function(0, [], [END]), Function(0, [], [END])],
               names=names)
    decoded = decode_module(encode_module(m))
    assert decoded.names == names
    assert [c.name for c in decoded.customs] == ["name"]
    # and re-encoding the decoded module keeps the section byte for byte
    assert encode_module(decoded) == encode_module(m)


@pytest.mark.parametrize("module, where", [
    (Module(types=[FuncType((0x1FF,), ())]), "type 0"),
    (Module(imports=[Import("m", None, EXTERN_FUNC, 0)]), "import 0"),  # type: ignore[arg-type]
    (Module(imports=[Import("m", "n", 7, 0)]), "import 0"),
    (Module(exports=[Export("a", EXTERN_FUNC, 0), Export("b", EXTERN_FUNC, -1)]), "export 1"),
    (Module(globals=[Global(GlobalType(I32), None)]), "global 0"),  # type: ignore[arg-type]
    (Module(datas=[DataSegment("bogus", b"")]), "data segment 0"),
    (Module(elems=[ElementSegment("bogus", FUNCREF, [])]), "element segment 0"),
    (Module(start=-1), "start function"),
    (Module(customs=[CustomSection("x", None)]), "custom section 0"),  # type: ignore[arg-type]
    (Module(names=NameSection(None, {-1: "f"})), "names"),
])
def test_unencodable_model_raises_value_error_saying_where(module, where):
    with pytest.raises(ValueError) as info:
        encode_module(module)
    assert str(info.value).startswith(where)
