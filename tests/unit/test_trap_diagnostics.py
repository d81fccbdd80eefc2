"""Trap diagnostics: trap codes, frames with function indices and byte offsets, the
capped stack in str(Trap), and file:line frames from DWARF .debug_line."""
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import pywazero as wz
from pywazero.cli import main as cli_main
from pywazero.wasm.dwarf import LineTable

ENGINES = ["interpreter", "compiler"]
DIAG = pathlib.Path(__file__).resolve().parent.parent / "diag"

# $div is not a leaf (it may call itself), so the compiler does not inline it and
# both engines show its frame.  The offsets below are those `wasm-objdump -d`
# prints for this module (checked against it when it is installed).
WAT = """(module
  (type $t (func (param i32) (result i32)))
  (func $nothing)
  (func $div (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const 99)) (then (return (call $div (i32.const 1)))))
    (i32.div_u (i32.const 1) (local.get 0)))
  (func $mid (export "mid") (param i32) (result i32)
    (i32.add (i32.const 5) (call $div (local.get 0))))
  (func $ind (export "ind") (param i32) (result i32)
    (call_indirect (type $t) (local.get 0) (i32.const 0)))
  (table funcref (elem $div))
  (memory 1)
  (func $load (export "load") (param i32) (result i32)
    nop nop (i32.load offset=4 (local.get 0)))
)"""
DIV_U, CALL_DIV, CALL_INDIRECT, LOAD = 0x60, 0x68, 0x72, 0x7C


@pytest.fixture(scope="module")
def binary():
    return wz.wat2wasm(WAT)


def _objdump_offsets(binary, tmp_path):
    path = tmp_path / "m.wasm"
    path.write_bytes(binary)
    out = subprocess.run(["wasm-objdump", "-d", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return {m.group(2).strip(): int(m.group(1), 16)
            for m in re.finditer(r"^ ([0-9a-f]{6}): [0-9a-f ]+\| (.*)$", out, re.M)}


@pytest.mark.skipif(shutil.which("wasm-objdump") is None, reason="wasm-objdump (wabt) not installed")
def test_expected_offsets_are_what_objdump_prints(binary, tmp_path):
    offsets = _objdump_offsets(binary, tmp_path)
    assert offsets["i32.div_u"] == DIV_U
    assert offsets["call 1 <div>"] == CALL_DIV   # (the last one: mid's)
    assert offsets["call_indirect 0 (type 0)"] == CALL_INDIRECT
    assert offsets["i32.load 2 4"] == LOAD


def _trap(fn, *args):
    with pytest.raises(wz.Trap) as info:
        fn(*args)
    return info.value


@pytest.mark.parametrize("engine", ENGINES)
def test_frames_have_indices_and_offsets(engine, binary):
    m = wz.Runtime(wz.RuntimeConfig(engine=engine)).instantiate(binary)
    t = _trap(m.function("mid"), 0)
    assert t.code is wz.TrapCode.INTEGER_DIVIDE_BY_ZERO
    assert [(f.func_name, f.func_index, f.offset) for f in t.frames] == [
        ("div", 1, DIV_U), ("mid", 2, CALL_DIV)]
    # a callee reached through call_indirect: the caller's frame is at the call
    t = _trap(m.function("ind"), 0)
    assert [(f.func_name, f.offset) for f in t.frames] == [("div", DIV_U), ("ind", CALL_INDIRECT)]
    # in the middle of a function
    t = _trap(m.function("load"), 70000)
    assert t.code is wz.TrapCode.OUT_OF_BOUNDS_MEMORY_ACCESS
    assert [(f.func_index, f.offset) for f in t.frames] == [(4, LOAD)]
    assert f"(func 4, offset 0x{LOAD:x})" in str(t)
    assert t.wasm_stack == ["load"]


@pytest.mark.parametrize("engine", ENGINES)
def test_text_modules_have_frames_with_wat_lines(engine):
    m = wz.Runtime(wz.RuntimeConfig(engine=engine)).instantiate(
        '(module (func $f (export "f") unreachable))')
    t = _trap(m.function("f"))
    assert t.code is wz.TrapCode.UNREACHABLE
    assert [(f.func_name, f.func_index, f.offset, f.source) for f in t.frames] == [("f", 0, None, ("<wat>", 1))]
    text = """(module
  (func $inner (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (return (call $inner (i32.const 1)))))
    (i32.div_u (i32.const 1)
      (i32.sub (local.get 0) (i32.const 1))))
  (func (export "f") (result i32)
    (call $inner (i32.const 1))))"""
    lines = text.splitlines()
    m = wz.Runtime(wz.RuntimeConfig(engine=engine)).instantiate(text)
    t = _trap(m.function("f"))
    assert [(f.func_index, f.offset) for f in t.frames] == [(0, None), (1, None)]
    assert "i32.div_u" in lines[t.frames[0].source[1] - 1]
    assert "call $inner" in lines[t.frames[1].source[1] - 1]
    assert "(func 0) <wat>:4" in str(t)


C = wz.TrapCode
TRAPS = [
    ("(func (export \"t\") unreachable)", C.UNREACHABLE),
    ("(func (export \"t\") (drop (i32.div_s (i32.const 1) (i32.const 0))))", C.INTEGER_DIVIDE_BY_ZERO),
    ("(func (export \"t\") (drop (i32.div_s (i32.const 0x80000000) (i32.const -1))))", C.INTEGER_OVERFLOW),
    ("(func (export \"t\") (drop (i32.trunc_f32_s (f32.const nan))))",
     C.INVALID_CONVERSION_TO_INTEGER),
    ("(memory 1) (func (export \"t\") (drop (i32.load (i32.const 65536))))", C.OUT_OF_BOUNDS_MEMORY_ACCESS),
    ("(table 1 funcref) (func (export \"t\") (drop (table.get (i32.const 5))))", C.OUT_OF_BOUNDS_TABLE_ACCESS),
    ("(table 1 funcref) (func (export \"t\") (call_indirect (i32.const 3)))", C.UNDEFINED_ELEMENT),
    ("(table 1 funcref) (func (export \"t\") (call_indirect (i32.const 0)))", C.UNINITIALIZED_ELEMENT),
    ("(table 1 funcref) (elem (i32.const 0) $g) (func $g (param i32))"
     " (func (export \"t\") (call_indirect (i32.const 0)))", C.INDIRECT_CALL_TYPE_MISMATCH),
    ("(type $s (struct (field i32))) (func (export \"t\") (drop (struct.get $s 0 (ref.null $s))))",
     C.NULL_REFERENCE),
    ("(func (export \"t\") (drop (ref.cast (ref i31) (ref.null any))))", C.CAST_FAILURE),
    ("(func $r (export \"t\") (call $r))", C.STACK_EXHAUSTED),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("body,code", TRAPS, ids=[c.name for _, c in TRAPS])
def test_trap_codes(engine, body, code):
    m = wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=200)).instantiate(f"(module {body})")
    t = _trap(m.function("t"))
    assert t.code is code
    assert t.frames and t.frames[0].func_index is not None


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_and_deadline_codes(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, consume_fuel=True))
    m = rt.instantiate('(module (func (export "spin") (loop (br 0))))')
    rt.set_fuel(1000)
    t = _trap(m.function("spin"))
    assert t.code is wz.TrapCode.OUT_OF_FUEL
    assert [f.func_index for f in t.frames] == [0]
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, interruptible=True))
    m = rt.instantiate('(module (func (export "spin") (loop (br 0))))')
    with rt.deadline(0.05):
        t = _trap(m.function("spin"))
    assert t.code is wz.TrapCode.DEADLINE_EXCEEDED


def test_codes_from_reasons():
    assert wz.Trap("null exception reference").code is wz.TrapCode.NULL_REFERENCE
    assert wz.Trap("interrupted: deadline exceeded").code is wz.TrapCode.DEADLINE_EXCEEDED
    assert wz.Trap("interrupted").code is wz.TrapCode.INTERRUPTED
    assert wz.Trap("out of bounds memory access: wasi fd_write pointer 9 length 4").code \
        is wz.TrapCode.OUT_OF_BOUNDS_MEMORY_ACCESS
    assert wz.Trap("something a host said").code is wz.TrapCode.UNKNOWN
    assert wz.Trap("x", code=wz.TrapCode.UNREACHABLE).code is wz.TrapCode.UNREACHABLE


@pytest.mark.parametrize("engine", ENGINES)
def test_stack_overflow_prints_a_capped_stack(engine):
    m = wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=3000)).instantiate(
        '(module (func $r (export "r") (call $r)))')
    t = _trap(m.function("r"))
    assert t.code is wz.TrapCode.STACK_EXHAUSTED and len(t.wasm_stack) > 1000
    s = str(t)
    lines = s.splitlines()
    assert sum(1 for x in lines if x.startswith("  at ")) == 20
    more = [x for x in lines if "more frames" in x]
    assert more == [f"  ... {len(t.wasm_stack) - 20} more frames"]


# -- DWARF ---------------------------------------------------------------------------------

def _marks(source):
    return {m.group(1): n for n, line in enumerate(source.splitlines(), 1)
            for m in [re.search(r"MARK: (\w+)", line)] if m}


MARKS = _marks((DIAG / "crash.c").read_text())


def _lines(frames):
    return [(f.func_name, pathlib.PurePosixPath(f.source[0]).name, f.source[1]) for f in frames]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("wasm", ["crash.wasm", "crash_dwarf4.wasm"])
def test_dwarf_lines(engine, wasm):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    m = rt.instantiate((DIAG / wasm).read_bytes(), wz.ModuleConfig(start_functions=()))
    t = _trap(m.function("crash"), 2)
    assert t.code is wz.TrapCode.UNREACHABLE
    assert _lines(t.frames) == [("deep", "crash.c", MARKS["trap"]),
                                ("deep", "crash.c", MARKS["recurse"]),
                                ("deep", "crash.c", MARKS["recurse"]),
                                ("crash", "crash.c", MARKS["deep"])]
    assert f"crash.c:{MARKS['trap']}" in str(t).splitlines()[2]
    t = _trap(m.function("fill"), 4)
    assert t.code is wz.TrapCode.OUT_OF_BOUNDS_MEMORY_ACCESS
    got = _lines(t.frames)
    # the compiler inlines the small leaf poke: its store then shows at the call
    if engine == "interpreter":
        assert got == [("poke", "crash.c", MARKS["store"]), ("fill", "crash.c", MARKS["poke"])]
    else:
        assert got[-1] == ("fill", "crash.c", MARKS["poke"])


def test_cli_run_shows_file_and_line(capfdbinary=None):
    import io

    err = io.BytesIO()
    status = cli_main(["run", str(DIAG / "crash.wasm")], stdin=io.BytesIO(), stdout=io.BytesIO(), stderr=err)
    text = err.getvalue().decode()
    assert status == 134
    assert f"crash.c:{MARKS['trap']}" in text and f"crash.c:{MARKS['start']}" in text


def _zig():
    try:
        return subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(not (_zig() or shutil.which("clang")), reason="needs ziglang or clang to build C")
def test_built_now_has_the_same_lines(tmp_path):
    for f in ("crash.c", "build.sh"):
        shutil.copy(DIAG / f, tmp_path / f)
    subprocess.run(["sh", str(tmp_path / "build.sh")], check=True, capture_output=True)
    m = wz.Runtime().instantiate((tmp_path / "crash.wasm").read_bytes(), wz.ModuleConfig(start_functions=()))
    t = _trap(m.function("crash"), 0)
    assert _lines(t.frames) == [("deep", "crash.c", MARKS["trap"]), ("crash", "crash.c", MARKS["deep"])]


def test_line_table_lookup():
    table = LineTable.from_rows([(0x10, "a.c", 7), (0x14, "a.c", 9), (0x20, None, 0)], code_start=0x100)
    assert table.lookup(0x110) == ("a.c", 7)
    assert table.lookup(0x113) == ("a.c", 7)
    assert table.lookup(0x114) == ("a.c", 9)
    assert table.lookup(0x10F) is None and table.lookup(0x120) is None


def test_malformed_debug_line_gives_frames_without_lines():
    data = bytearray((DIAG / "crash.wasm").read_bytes())
    i = data.find(b".debug_line") + len(".debug_line")
    data[i + 4:i + 6] = (99).to_bytes(2, "little")   # an unknown DWARF version
    m = wz.Runtime().instantiate(bytes(data), wz.ModuleConfig(start_functions=()))
    t = _trap(m.function("crash"), 0)
    assert [f.source for f in t.frames] == [None, None] and t.frames[0].offset is not None


# -- the compiler's cheap tier and on-stack replacement -------------------------------------

OSR_WAT = """(module
  (memory 1)
  (func $callee (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const -1)) (then (return (call $callee (i32.const 0)))))
    (i32.load (local.get 0)))
  (func $hot (export "hot") (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (br $l)))
    (drop (i32.const 7))
    (i32.add (local.get 1) (call $callee (i32.const 70000)))))"""


@pytest.mark.parametrize("tier_loop", [3, 10_000])
def test_tier_and_osr_frames_match_the_interpreter(monkeypatch, tier_loop):
    from pywazero.engine.compiler import CompilerEngine

    binary = wz.wat2wasm(OSR_WAT)
    want = _trap(wz.Runtime(wz.RuntimeConfig(engine="interpreter")).instantiate(binary).function("hot"), 50)
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    monkeypatch.setattr(CompilerEngine, "tier_loop", tier_loop)   # 3: the loop moves to compiled code
    monkeypatch.setattr(CompilerEngine, "tier_loop_scale", 0)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler"))
    cm = rt.compile(binary)
    got = _trap(rt.instantiate(cm).function("hot"), 50)
    assert bool(cm._engine_code().osr_codes) == (tier_loop == 3)
    assert [f.offset for f in want.frames] == [f.offset for f in got.frames]
    assert [f.func_index for f in got.frames] == [0, 1] and None not in [f.offset for f in got.frames]


@pytest.mark.parametrize("engine", ENGINES)
def test_traps_pickle_with_their_frames(engine, binary):
    import pickle

    m = wz.Runtime(wz.RuntimeConfig(engine=engine)).instantiate(binary)
    t = _trap(m.function("mid"), 0)
    back = pickle.loads(pickle.dumps(t))
    assert type(back) is wz.Trap and back.reason == t.reason and back.code is t.code
    assert back.frames == t.frames and back.wasm_stack == t.wasm_stack and str(back) == str(t)


# -- both engines agree on every frame of generated modules --------------------------------

SMITH = ("--ensure-termination", "--fuel", "2000", "--canonicalize-nans", "true", "--max-imports", "0",
         "--export-everything", "true", "--memory-max-size-required", "true",
         "--max-memory32-bytes", str(4 * 65536), "--table-max-size-required", "true",
         "--max-table-elements", "1000", "--min-funcs", "4", "--max-funcs", "12",
         "--max-instructions", "400", "--gc-enabled", "false", "--threads-enabled", "false",
         "--exceptions-enabled", "false", "--custom-page-sizes-enabled", "false",
         "--wide-arithmetic-enabled", "false")


def _frames_of(binary, engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, max_call_depth=300))
    cm = rt.compile(binary)
    m = rt.instantiate(cm)
    out = []
    for ex in cm.exports:
        if ex.kind != "func":
            continue
        try:
            m.function(ex.name).call_raw(*[0] * len(ex.type.params))
            out.append(None)
        except wz.Trap as t:
            out.append((t.code, [(f.func_index, f.offset) for f in t.frames]))
    return out


@pytest.mark.skipif(shutil.which("wasm-tools") is None, reason="wasm-tools not installed")
def test_engines_agree_on_frames_of_generated_modules(tmp_path, monkeypatch):
    import random

    from pywazero.engine.compiler import CompilerEngine

    # (inlined calls would drop frames on the compiler only)
    monkeypatch.setattr(CompilerEngine, "inline", False)
    compared = 0
    for seed in range(0, 24, 2):
        data = random.Random(seed).getrandbits(8 * 1500).to_bytes(1500, "little")
        (tmp_path / "in").write_bytes(data)
        subprocess.run(["wasm-tools", "smith", *SMITH, str(tmp_path / "in"), "-o", str(tmp_path / "m.wasm")],
                       check=True, capture_output=True)
        binary = (tmp_path / "m.wasm").read_bytes()
        try:
            want = _frames_of(binary, "interpreter")
        except (wz.Trap, wz.LinkError):
            continue
        got = _frames_of(binary, "compiler")
        assert got == want, seed
        for trap in want:
            if trap is not None:
                compared += 1
                assert all(offset is not None for _, offset in trap[1])
    assert compared >= 5


@pytest.mark.parametrize("engine", ENGINES)
def test_offsets_with_fuel_interruption_listeners_and_serialized_code(engine, binary):
    listener = type("Listener", (wz.FunctionListener,), {})
    for config in (dict(consume_fuel=True), dict(interruptible=True),
                   dict(function_listener=lambda d: listener())):
        rt = wz.Runtime(wz.RuntimeConfig(engine=engine, **config))
        if config.get("consume_fuel"):
            rt.set_fuel(10**6)
        t = _trap(rt.instantiate(binary).function("mid"), 0)
        assert [(f.func_index, f.offset) for f in t.frames] == [(1, DIV_U), (2, CALL_DIV)], config
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(binary)
    rt.instantiate(cm).function("mid")(1)          # (translated now, then serialized)
    again = rt.deserialize(cm.serialize())
    t = _trap(rt.instantiate(again).function("mid"), 0)
    assert [(f.func_index, f.offset) for f in t.frames] == [(1, DIV_U), (2, CALL_DIV)]
