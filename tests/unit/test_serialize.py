"""Serialized compiled modules: ``CompiledModule.serialize``/``Runtime.deserialize``,
pickle, and the compiler's code chunks (``CompiledWasm.export_codes``/``import_codes``).

Round trips are checked against results fixed here (or recorded under wasmtime for
the WASI program), on both engines; loading must not translate again what was
translated before serializing; damaged, truncated and foreign blobs are refused
with SerializationError before anything is unmarshalled.
"""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import pywazero as wz
from pywazero import serialize as ser
from pywazero.engine import compiler
from pywazero.engine.compiler import persist

ENGINES = ["compiler", "interpreter"]
ROOT = Path(__file__).resolve().parents[2]

ARITH = """(module
  (memory (export "mem") 1)
  (global $g (mut i32) (i32.const 5))
  (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func (export "sumsq") (param $n i32) (result i32) (local $s i32)
    (block $done (loop $l
      local.get $n i32.eqz br_if $done
      local.get $s local.get $n call $sq i32.add local.set $s
      local.get $n i32.const 1 i32.sub local.set $n
      br $l))
    local.get $s)
  (func (export "bump") (result i32)
    global.get $g i32.const 1 i32.add global.set $g global.get $g)
  (func (export "store") (param i32 i64) local.get 0 local.get 1 i64.store)
  (func (export "load") (param i32) (result i64) local.get 0 i64.load)
  (func (export "nan") (result f64) f64.const nan:0x4000000000001)
  (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))
"""


def check_arith(mod: wz.Module) -> None:
    assert mod.function("sumsq")(10) == 385
    assert [mod.function("bump")() for _ in range(2)] == [6, 7]
    mod.function("store")(8, -2)
    assert mod.function("load")(8) == -2
    assert mod.memory("mem").read(8, 2) == b"\xfe\xff"
    nan = mod.function("nan")()
    assert struct.pack("<d", nan) == struct.pack("<Q", 0x7FF4000000000001)
    with pytest.raises(wz.Trap, match="integer divide by zero"):
        mod.function("div")(1, 0)


def rewrite(blob: bytes, **changes) -> bytes:
    """``blob`` with header fields changed and a valid digest (a blob another
    pywazero or Python would have written)."""
    start = len(ser.MAGIC) + 4
    (hlen,) = struct.unpack_from("<I", blob, len(ser.MAGIC))
    header = json.loads(blob[start:start + hlen])
    header.update(changes)
    h = json.dumps(header).encode()
    body = ser.MAGIC + struct.pack("<I", len(h)) + h + blob[start + hlen:-32]
    return body + hashlib.sha256(body).digest()


@pytest.fixture
def count_translations(monkeypatch):
    """A list that receives the defined index of every compiler translation."""
    seen = []
    orig = compiler.CompiledWasm._translate

    def counting(self, module, index, *a, **k):
        seen.append(index)
        return orig(self, module, index, *a, **k)

    monkeypatch.setattr(compiler.CompiledWasm, "_translate", counting)
    return seen


@pytest.mark.parametrize("engine", ENGINES)
def test_serialize_round_trip(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    blob = cm.serialize()
    assert blob.startswith(ser.MAGIC)
    rt2 = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm2 = rt2.deserialize(blob)
    assert cm2.runtime is rt2
    assert [e.name for e in cm2.exports] == [e.name for e in cm.exports]
    assert [str(e.type) for e in cm2.exports] == [str(e.type) for e in cm.exports]
    check_arith(rt2.instantiate(cm2))
    check_arith(rt2.instantiate(cm2))   # (fresh state per instance)


@pytest.mark.parametrize("engine", ENGINES)
def test_text_module_round_trip(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(ARITH)   # (text: the blob carries its binary encoding)
    check_arith(rt.instantiate(rt.deserialize(cm.serialize())))


@pytest.mark.parametrize("engine", ENGINES)
def test_pickle_round_trip(engine):
    cfg = wz.RuntimeConfig(engine=engine, max_call_depth=5000)
    rt = wz.Runtime(cfg)
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    cm2 = pickle.loads(pickle.dumps(cm))
    assert cm2.runtime is wz.Runtime.default(cfg)
    assert cm2.runtime.config == cfg and cm2.runtime.engine == engine
    check_arith(cm2.runtime.instantiate(cm2))
    with pytest.raises(ValueError, match="adopt"):
        rt.instantiate(cm2)
    check_arith(rt.instantiate(rt.adopt(cm2)))


def test_default_runtime_recreated_after_close():
    cfg = wz.RuntimeConfig(max_call_depth=4321)
    rt = wz.Runtime.default(cfg)
    assert wz.Runtime.default(cfg) is rt
    rt.close()
    rt2 = wz.Runtime.default(cfg)
    assert rt2 is not rt and not rt2._closed
    with pytest.raises(TypeError):
        wz.Runtime.default("compiler")


def test_translated_functions_not_translated_again(count_translations):
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    done = cm._engine_code().translated()
    assert done and set(count_translations) == set(done)
    blob = cm.serialize()
    del count_translations[:]
    cm2 = wz.Runtime().deserialize(blob)
    assert cm2._engine_code().translated() == done
    check_arith(cm2.runtime.instantiate(cm2))
    assert count_translations == []
    # functions not run before serializing are translated on demand
    rt3 = wz.Runtime()
    cm3 = rt3.compile(wz.wat2wasm(ARITH))
    rt3.instantiate(cm3).function("bump")()
    cm4 = wz.Runtime().deserialize(cm3.serialize())
    assert len(cm4._engine_code().translated()) == 1
    del count_translations[:]
    check_arith(cm4.runtime.instantiate(cm4))
    assert count_translations and len(set(count_translations)) == len(count_translations)


CHILD = r"""
import pickle, sys
sys.path.insert(0, sys.argv[1])
from pywazero.engine import compiler
seen = []
orig = compiler.CompiledWasm._translate
def counting(self, module, index, *a, **k):
    seen.append(index)
    return orig(self, module, index, *a, **k)
compiler.CompiledWasm._translate = counting
cm = pickle.loads(sys.stdin.buffer.read())
f = cm.runtime.instantiate(cm).function("sumsq")
print(f(10), f(3), len(seen))
"""


def test_pickle_into_another_process():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    assert rt.instantiate(cm).function("sumsq")(4) == 30
    r = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "src")], input=pickle.dumps(cm),
                       capture_output=True, check=True)
    assert r.stdout.split() == [b"385", b"14", b"0"]


@pytest.mark.parametrize("engine", ENGINES)
def test_wasi_program_round_trip(engine):
    from pywazero import wasi

    expected = json.loads((ROOT / "tests/wasi/expected.json").read_text())["args_env"]
    wasm = (ROOT / "tests/wasi/bin/args_env.wasm").read_bytes()
    args = ["args_env", "one", "two words", "", "ünïcödé", "--flag"]
    env = {"GREETING": "hello world", "EMPTY": "", "EQUALS": "a=b=c", "UNICODE": "ü"}

    def run(rt, cm):
        wasi.instantiate(rt)
        out = io.BytesIO()
        try:
            rt.instantiate(cm, wz.ModuleConfig(args=args, env=env, stdout=out))
        except wz.ExitError as e:
            assert e.exit_code == expected["exit"]
        return out.getvalue().decode()

    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(wasm)
    assert run(rt, cm) == expected["stdout"]
    cm2 = pickle.loads(pickle.dumps(cm))
    assert run(cm2.runtime, cm2) == expected["stdout"]
    rt3 = wz.Runtime(wz.RuntimeConfig(engine=engine))
    assert run(rt3, rt3.deserialize(cm.serialize())) == expected["stdout"]


@pytest.mark.parametrize("engine", ENGINES)
def test_compiler_blob_on_any_engine(engine, count_translations):
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    blob = cm.serialize()
    del count_translations[:]
    rt2 = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm2 = rt2.deserialize(blob)
    check_arith(rt2.instantiate(cm2))
    assert rt2.engine == engine
    if engine == "interpreter":
        assert count_translations == []
    # and an interpreter blob (no code) on the compiler
    rti = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
    cmi = rti.compile(wz.wat2wasm(ARITH))
    rtc = wz.Runtime()
    check_arith(rtc.instantiate(rtc.deserialize(cmi.serialize())))


def test_code_for_other_settings_is_ignored():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    assert cm._engine_code().translated()
    rt2 = wz.Runtime(wz.RuntimeConfig(consume_fuel=True))
    cm2 = rt2.deserialize(cm.serialize())
    assert cm2._engine_code().translated() == []   # (code without fuel checks: not used)
    rt2.set_fuel(10**6)
    check_arith(rt2.instantiate(cm2))
    rt2.set_fuel(20)
    with pytest.raises(wz.Trap, match="fuel"):
        rt2.instantiate(cm2).function("sumsq")(1000)


def test_features_differ_validates_again():
    simd = wz.wat2wasm('(module (func (export "f") (result i32) v128.const i64x2 1 2 i32x4.extract_lane 2))')
    blob = wz.Runtime().compile(simd).serialize()
    with pytest.raises(wz.ValidationError):
        wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V1)).deserialize(blob)
    cm = wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V2)).deserialize(blob)
    assert cm.runtime.instantiate(cm).function("f")() == 2


def test_memory_limit_applies_on_load():
    blob = wz.Runtime().compile('(module (memory 20))').serialize()
    with pytest.raises(wz.CompileError, match="exceeds the runtime's limit"):
        wz.Runtime(wz.RuntimeConfig(memory_limit_pages=10)).deserialize(blob)


def test_version_and_python_mismatch_refused(monkeypatch):
    blob = wz.Runtime().compile(wz.wat2wasm(ARITH)).serialize()
    rt = wz.Runtime()
    with pytest.raises(wz.SerializationError, match=r"made by pywazero 0\.0\.1, this is pywazero"):
        rt.deserialize(rewrite(blob, pywazero="0.0.1"))
    with pytest.raises(wz.SerializationError, match=r"made by Python otherpy-1\.2\.3-abcd, this is"):
        rt.deserialize(rewrite(blob, python="otherpy-1.2.3-abcd"))
    with pytest.raises(wz.SerializationError, match="format 99"):
        rt.deserialize(rewrite(blob, format=99))
    # the loading side's identity is what counts
    monkeypatch.setattr(persist, "python_tag", lambda: "pypy-7.3.0-0000")
    with pytest.raises(wz.SerializationError, match="this is pypy-7.3.0-0000"):
        rt.deserialize(blob)
    assert issubclass(wz.SerializationError, ValueError)


def test_corrupt_and_truncated_blobs_refused():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    check_arith(rt.instantiate(cm))
    blob = cm.serialize()
    for bad in (blob[:-1], blob[:len(blob) // 2], blob[:12], blob + b"\0"):
        with pytest.raises(wz.SerializationError, match="truncated|checksum"):
            rt.deserialize(bad)
    for pos in (9, len(ser.MAGIC) + 30, len(blob) // 2, len(blob) - 40, len(blob) - 1):
        damaged = bytearray(blob)
        damaged[pos] ^= 0x5A
        with pytest.raises(wz.SerializationError, match="checksum"):
            rt.deserialize(bytes(damaged))
    for junk in (b"", b"\0asm\1\0\0\0", b"x" * 100, pickle.dumps(1)):
        with pytest.raises(wz.SerializationError, match="not a serialized pywazero module"):
            rt.deserialize(junk)
    # a digest that matches a nonsensical header
    with pytest.raises(wz.SerializationError, match="bad header"):
        rt.deserialize(rewrite(blob, module=5))
    with pytest.raises(wz.SerializationError, match="bad header"):
        rt.deserialize(rewrite(blob, engine=3))
    with pytest.raises(TypeError):
        rt.deserialize("not bytes")
    # bytearray and memoryview are fine
    check_arith(rt.instantiate(rt.deserialize(bytearray(blob))))
    check_arith(rt.instantiate(rt.deserialize(memoryview(blob))))


def test_closed_module_refuses_to_serialize():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    cm.close()
    with pytest.raises(ValueError, match="closed"):
        cm.serialize()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(cm)
    rt.close()
    with pytest.raises(ValueError, match="runtime is closed"):
        rt.deserialize(wz.Runtime().compile("(module)").serialize())


GC_TAGS_MEM64 = """(module
  (type $pt (struct (field $x (mut i32)) (field $y i32)))
  (type $arr (array (mut i8)))
  (tag $e (param i32))
  (memory $m i64 1)
  (func $mk (param i32 i32) (result (ref $pt)) local.get 0 local.get 1 struct.new $pt)
  (func (export "gc") (param i32) (result i32) (local $p (ref null $pt)) (local $a anyref)
    (local.set $p (call $mk (local.get 0) (i32.const 3)))
    (struct.set $pt $x (local.get $p) (i32.add (struct.get $pt $x (local.get $p)) (i32.const 1)))
    (local.set $a (local.get $p))
    (if (result i32) (ref.test (ref $pt) (local.get $a))
      (then (i32.add (struct.get $pt $x (ref.cast (ref $pt) (local.get $a)))
                     (struct.get $pt $y (local.get $p))))
      (else (i32.const -1))))
  (func (export "arr") (result i32)
    (array.get_u $arr (array.new $arr (i32.const 300) (i32.const 4)) (i32.const 2)))
  (func (export "exc") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $e $h) (throw $e (i32.mul (local.get 0) (i32.const 2))))
      (i32.const 0)))
  (func (export "m64") (param i64 i32) (result i32)
    (i32.store8 (local.get 0) (local.get 1))
    (i32.load8_u (local.get 0)))
  (func (export "oob") (result i32) (i32.load (i64.const 0x10000000000))))
"""


def check_gc(mod: wz.Module) -> None:
    assert mod.function("gc")(7) == 11
    assert mod.function("arr")() == 44
    assert mod.function("exc")(21) == 42
    assert mod.function("m64")(0xFFF0, 0x1AB) == 0xAB
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        mod.function("oob")()


@pytest.mark.parametrize("engine", ENGINES)
def test_gc_tags_memory64_round_trip(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    cm = rt.compile(wz.wat2wasm(GC_TAGS_MEM64))
    check_gc(rt.instantiate(cm))
    blob = cm.serialize()
    cm1 = wz.Runtime(wz.RuntimeConfig(engine=engine)).deserialize(blob)
    check_gc(cm1.runtime.instantiate(cm1))
    rt3 = wz.Runtime(wz.RuntimeConfig(engine=engine))
    check_gc(rt3.instantiate(rt3.adopt(cm1)))
    cm2 = pickle.loads(pickle.dumps(cm))
    check_gc(cm2.runtime.instantiate(cm2))


def test_gc_code_is_translated_again_not_carried(count_translations):
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(GC_TAGS_MEM64))
    check_gc(rt.instantiate(cm))
    cw = cm._engine_code()
    all_done = cw.translated()
    carried = wz.Runtime().compile(wz.wat2wasm(GC_TAGS_MEM64))._engine_code()
    n = carried.import_codes(cw.export_codes())
    # $mk and "gc" hold process-specific GC objects (canonical type ids): left out
    assert 0 < n < len(all_done)
    assert 0 not in carried.translated() and 1 not in carried.translated()


def test_code_chunks():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    mod = rt.instantiate(cm)
    mod.function("bump")()
    cw = cm._engine_code()
    first = cw.export_codes()
    assert cw.translated() == [2]
    mod.function("sumsq")(3)
    later = cw.export_codes(set(cw.translated()) - {2})
    other = wz.Runtime().compile(wz.wat2wasm(ARITH))
    ocw = other._engine_code()
    assert ocw.import_codes(later) == 2 and ocw.translated() == [0, 1]
    assert ocw.import_codes(first) == 1 and ocw.translated() == [0, 1, 2]
    assert ocw.import_codes(first) == 0   # (already there)
    assert other.runtime.instantiate(other).function("sumsq")(3) == 14
    with pytest.raises(ValueError):
        cw.export_codes([99])
    # damaged chunks are refused before unmarshalling; chunks for other settings ignored
    fresh = wz.Runtime().compile(wz.wat2wasm(ARITH))._engine_code()
    for bad in (first[:-3], first[:20], b"nonsense", first[:-1] + bytes([first[-1] ^ 1])):
        with pytest.raises(wz.SerializationError):
            fresh.import_codes(bad)
    fueled = wz.Runtime(wz.RuntimeConfig(consume_fuel=True)).compile(wz.wat2wasm(ARITH))._engine_code()
    assert fueled.code_key() != cw.code_key()
    assert fueled.import_codes(first) == 0 and fueled.translated() == []
    assert fresh.translated() == []


def test_adopt_shares_code(count_translations):
    rt1, rt2 = wz.Runtime(), wz.Runtime()
    cm = rt1.compile(wz.wat2wasm(ARITH))
    check_arith(rt1.instantiate(cm))
    del count_translations[:]
    cm2 = rt2.adopt(cm)
    assert rt2.adopt(cm2) is cm2 and cm2.runtime is rt2
    check_arith(rt2.instantiate(cm2))
    assert count_translations == []
    with pytest.raises(TypeError):
        rt2.adopt(b"\0asm")


def test_translate_used_carries_tiered_functions(monkeypatch, count_translations):
    from pywazero.engine.compiler import CompilerEngine

    # every module tiered: functions run interpreted for their first 2 calls
    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)
    monkeypatch.setattr(CompilerEngine, "tier_calls", 2)
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    mod = rt.instantiate(cm)
    assert mod.function("bump")() == 6 and mod.function("load")(0) == 0
    cw = cm._engine_code()
    assert cw.translated() == []   # (both ran on the interpreter)
    plain = wz.Runtime().deserialize(cm.serialize())
    assert plain._engine_code().translated() == []
    full = wz.Runtime().deserialize(cm.serialize(translate_used=True))
    assert full._engine_code().translated() == [2, 4]
    del count_translations[:]
    f = full.runtime.instantiate(full)
    assert [f.function("bump")() for _ in range(3)] == [6, 7, 8]
    assert count_translations == []


@pytest.mark.parametrize("engine", ENGINES)
def test_snapshot_pickles(engine):
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine))
    m = rt.instantiate(wz.wat2wasm("""(module (memory (export "mem") 1)
      (global $n (export "n") (mut i32) (i32.const 0))
      (func (export "init") (global.set $n (i32.const 42)) (i32.store (i32.const 16) (i32.const 7)))
      (func (export "get") (result i32) (i32.add (global.get $n) (i32.load (i32.const 16)))))"""))
    m.function("init")()
    snap = m.snapshot(remove_exports=["init"])
    snap2 = pickle.loads(pickle.dumps(snap))
    inst = snap2.runtime.instantiate(snap2)
    assert inst.function("get")() == 49 and "init" not in [e.name for e in snap2.exports]


def test_unpickle_from_another_version_says_so():
    from pywazero.runtime import _unpickle

    cm = wz.Runtime().compile(wz.wat2wasm(ARITH))
    blob, state = cm.__reduce__()[1]
    with pytest.raises(wz.SerializationError, match="made by pywazero 9.9"):
        _unpickle(rewrite(blob, pywazero="9.9"), dict(state, future_option=1))
    with pytest.raises(wz.SerializationError, match="configuration not usable"):
        _unpickle(blob, dict(state, future_option=1))
    assert _unpickle(blob, state).runtime is wz.Runtime.default()


def test_serialize_again_after_more_translations():
    rt = wz.Runtime()
    cm = rt.compile(wz.wat2wasm(ARITH))
    mod = rt.instantiate(cm)
    mod.function("bump")()
    first = cm.serialize()
    assert cm.serialize() is first   # (nothing new: the same bytes)
    mod.function("sumsq")(2)
    second = cm.serialize()
    assert second != first
    assert wz.Runtime().deserialize(second)._engine_code().translated() == [0, 1, 2]
