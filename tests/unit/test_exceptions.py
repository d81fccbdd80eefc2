"""Exception handling (tags, throw, throw_ref, try_table, exnref) and the legacy
instructions (try/catch/catch_all/delegate/rethrow), on both engines, through the
public API: WasmException, Tag, ExnRef, host tags and host functions throwing."""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero import CoreFeatures
from pywazero.engine import call_depth

ENGINES = ["interpreter", "compiler"]
V3 = CoreFeatures.V3
LEGACY = CoreFeatures.V3 | CoreFeatures.LEGACY_EXCEPTIONS


def runtime(engine: str, features: CoreFeatures = V3, **kw) -> wz.Runtime:
    return wz.Runtime(wz.RuntimeConfig(engine=engine, core_features=features, **kw))


def inst(rt: wz.Runtime, wat: str, name=None) -> wz.Module:
    return rt.instantiate(rt.compile(wat), wz.ModuleConfig(name=name) if name else None)


CATCHER = """
(module
  (tag $e (export "e") (param i32 i64 f32))
  (tag $f (export "f"))
  (func $thrower (export "throw") (param i32)
    (if (i32.eqz (local.get 0)) (then (throw $e (i32.const -5) (i64.const 7) (f32.const 1.5))))
    (if (i32.eq (local.get 0) (i32.const 1)) (then (throw $f)))
    (if (i32.eq (local.get 0) (i32.const 2)) (then (unreachable))))
  ;; 100 + the i32 payload when $e is caught, 200 for any other exception, 0 for none
  (func (export "catch") (param i32) (result i32)
    (block $other
      (block $h (result i32 i64 f32)
        (try_table (catch $e $h) (catch_all $other)
          (call $thrower (local.get 0)))
        (return (i32.const 0)))
      (drop) (drop) (return (i32.add (i32.const 100))))
    (i32.const 200))
  (func (export "catch_ref") (param i32) (result exnref)
    (block $h (result exnref)
      (try_table (catch_all_ref $h) (call $thrower (local.get 0)))
      (ref.null exn)))
  (func (export "rethrow") (param exnref) (throw_ref (local.get 0)))
)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_throw_catch_and_escape(engine):
    m = inst(runtime(engine), CATCHER)
    assert m.function("catch")(0) == 95
    assert m.function("catch")(1) == 200
    assert m.function("catch")(3) == 0
    # a trap is never caught, not even by catch_all
    with pytest.raises(wz.Trap, match="unreachable"):
        m.function("catch")(2)
    with pytest.raises(wz.WasmException) as ei:
        m.function("throw")(0)
    e = ei.value
    assert not isinstance(e, wz.Trap)
    assert e.tag == m.exports["e"] and e.tag != m.exports["f"]
    assert e.payload == (-5, 7, 1.5)
    assert str(e.tag.type) == "[i32 i64 f32] -> []"


@pytest.mark.parametrize("engine", ENGINES)
def test_exnref_values_at_the_api(engine):
    m = inst(runtime(engine), CATCHER)
    ref = m.function("catch_ref")(0)
    assert isinstance(ref, wz.ExnRef)
    assert ref.tag == m.exports["e"] and ref.payload == (-5, 7, 1.5)
    assert m.function("catch_ref")(3) is None
    with pytest.raises(wz.WasmException) as ei:
        m.function("rethrow")(ref)
    assert ei.value is ref.exception and ei.value.payload == (-5, 7, 1.5)
    with pytest.raises(wz.Trap, match="null exception reference"):
        m.function("rethrow")(None)
    with pytest.raises(TypeError):
        m.function("rethrow")(42)


@pytest.mark.parametrize("engine", ENGINES)
def test_host_function_throws_into_wasm(engine):
    rt = runtime(engine)
    tag = wz.Tag([wz.I32])
    calls = []

    def boom(x):
        calls.append(x)
        if x == 1:
            raise wz.WasmException(tag, [x * 10])
        if x == 2:
            raise ValueError("a Python error is not a wasm exception")
        if x == 3:
            raise wz.ExitError(9)
        return None

    rt.host_module("env").function("boom", boom, params=[wz.I32]).export("tag", tag).instantiate()
    m = inst(rt, """
    (module
      (import "env" "boom" (func $boom (param i32)))
      (import "env" "tag" (tag $t (param i32)))
      (func (export "f") (param i32) (result i32)
        (block $o
          (block $h (result i32)
            (try_table (catch $t $h) (catch_all $o) (call $boom (local.get 0)))
            (return (i32.const -1)))
          (return))
        (i32.const -2)))
    """)
    assert m.function("f")(1) == 10
    assert m.function("f")(0) == -1
    with pytest.raises(ValueError, match="not a wasm exception"):
        m.function("f")(2)
    with pytest.raises(wz.ExitError):   # (catch_all does not catch an exit)
        m.function("f")(3)
    # an exception of a tag no handler names escapes unchanged
    other = wz.Tag([])
    rt2 = runtime(engine)
    rt2.host_module("env").function("boom", lambda x: (_ for _ in ()).throw(
        wz.WasmException(other, ())), params=[wz.I32]).export("tag", tag).instantiate()
    m2 = inst(rt2, """
    (module
      (import "env" "boom" (func $boom (param i32)))
      (import "env" "tag" (tag $t (param i32)))
      (func (export "f") (result i32)
        (block $h (result i32) (try_table (catch $t $h) (call $boom (i32.const 0))) (i32.const -1))))
    """)
    with pytest.raises(wz.WasmException) as ei:
        m2.function("f")()
    assert ei.value.tag == other


def test_wasm_exception_arguments_checked():
    t = wz.Tag([wz.I32])
    with pytest.raises(TypeError):
        wz.WasmException(t, [])
    with pytest.raises(TypeError):
        wz.WasmException("not a tag", [1])
    with pytest.raises(ValueError):
        wz.WasmException(t, [1 << 40])
    assert wz.WasmException(t, [-1]).payload == (-1,)


@pytest.mark.parametrize("engine", ENGINES)
def test_exception_unwinds_through_host_reentry(engine):
    """wasm A -> host -> wasm B throws; A catches; the host saw it pass through."""
    rt = runtime(engine)
    seen = []
    holder = {}

    def host(n):
        try:
            return holder["inner"](n)
        except wz.WasmException as e:
            seen.append(e.payload)
            raise

    rt.host_module("env").function("host", host, params=[wz.I32], results=[wz.I32]).instantiate()
    m = inst(rt, """
    (module
      (import "env" "host" (func $host (param i32) (result i32)))
      (tag $e (param i32))
      (func $inner (export "inner") (param i32) (result i32)
        (if (local.get 0) (then (throw $e (local.get 0))))
        (i32.const 7))
      (func (export "outer") (param i32) (result i32)
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (call $host (local.get 0)))
          (return)))
    )""")
    holder["inner"] = m.function("inner")
    assert m.function("outer")(0) == 7
    assert m.function("outer")(42) == 42
    assert seen == [(42,)]
    assert call_depth.depth == 0 and call_depth.hosts == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_deep_unwinding_restores_call_depth(engine):
    """An exception thrown 3000 frames down is caught at the top; the depth limit
    still counts from the right place afterwards."""
    rt = runtime(engine, max_call_depth=5000)
    m = inst(rt, """
    (module
      (tag $e (param i32))
      (func $down (param i32) (result i32)
        (if (i32.eqz (local.get 0)) (then (throw $e (i32.const 99))))
        (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
      (func (export "f") (param i32) (result i32)
        (block $h (result i32)
          (try_table (result i32) (catch $e $h) (call $down (local.get 0)))
          (return)))
      (func $rec (export "rec") (param i32) (result i32)
        (if (result i32) (local.get 0)
          (then (i32.add (call $rec (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
          (else (i32.const 0))))
    )""")
    for _ in range(3):
        assert m.function("f")(3000) == 99
    assert m.function("rec")(4900) == 4900
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        m.function("rec")(5001)
    assert call_depth.depth == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_tag_identity(engine):
    rt = runtime(engine)
    src = """
    (module
      (import "other" "throw" (func $throw))
      (tag $e (export "e"))
      (func (export "throw_own") (throw $e))
;; 1 when the imported function's exception is this module's $e, else 2
      (func (export "catches") (result i32)
        (block $o
          (block $h (try_table (catch $e $h) (catch_all $o) (call $throw)) (return (i32.const 0)))
          (return (i32.const 1)))
        (i32.const 2)))
    """
    a = inst(rt, '(module (tag $e (export "e")) (func (export "throw") (throw $e)))', "a")
    rt.register("other", a)
    b1 = inst(rt, src)
    b2 = inst(rt, src)
    # two instantiations of a module defining a tag: two tags
    assert b1.exports["e"] != b2.exports["e"]
    assert b1.function("catches")() == 2
    # a re-exported tag is the same tag
    c = inst(rt, """
    (module (import "a" "e" (tag $e)) (import "a" "throw" (func $x)) (export "e2" (tag $e))
      (func (export "catch") (result i32)
        (block $h (try_table (catch $e $h) (call $x)) (return (i32.const 0)))
        (i32.const 1)))
    """)
    assert c.exports["e2"] == a.exports["e"]
    assert c.function("catch")() == 1
    with pytest.raises(wz.WasmException) as ei:
        b1.function("throw_own")()
    assert ei.value.tag == b1.exports["e"]


@pytest.mark.parametrize("engine", ENGINES)
def test_host_module_tags_and_types(engine):
    rt = runtime(engine)
    rt.host_module("host").tag("oops", [wz.I64, wz.F64]).instantiate()
    compiled = rt.compile("""
    (module (import "host" "oops" (tag $t (param i64 f64)))
      (tag $mine (export "mine") (param i32))
      (func (export "f") (throw $t (i64.const -1) (f64.const 0.25))))""")
    imp = [(i.module, i.name, i.kind, str(i.type)) for i in compiled.imports]
    assert imp == [("host", "oops", "tag", "[i64 f64] -> []")]
    assert [(e.name, e.kind, str(e.type)) for e in compiled.exports if e.kind == "tag"] == \
        [("mine", "tag", "[i32] -> []")]
    m = rt.instantiate(compiled)
    assert isinstance(m.exports["mine"], wz.Tag)
    with pytest.raises(wz.WasmException) as ei:
        m.function("f")()
    assert ei.value.payload == (-1, 0.25)
    # a tag import of another type does not link
    with pytest.raises(wz.LinkError, match="incompatible import type"):
        rt.instantiate(rt.compile('(module (import "host" "oops" (tag (param i32))))'))


@pytest.mark.parametrize("engine", ENGINES)
def test_start_function_exception(engine):
    rt = runtime(engine)
    with pytest.raises(wz.WasmException) as ei:
        inst(rt, '(module (tag $e (param i32)) (func $s (throw $e (i32.const 3))) (start $s))')
    assert ei.value.payload == (3,)
    compiled = rt.compile('(module (tag $e) (func (export "_start") (throw $e)))')
    with pytest.raises(wz.WasmException):
        rt.instantiate(compiled, wz.ModuleConfig(start_functions=["_start"]))


@pytest.mark.parametrize("engine", ENGINES)
def test_legacy_try_catch_rethrow_delegate(engine):
    m = inst(runtime(engine, LEGACY), """
    (module
      (tag $e (param i32))
      (tag $f)
      (func $throw (param i32)
        (if (local.get 0) (then (throw $e (local.get 0))) (else (throw $f))))
      (func (export "catch") (param i32) (result i32)
        (try (result i32)
          (do (call $throw (local.get 0)) (i32.const 0))
          (catch $e (i32.add (i32.const 1000)))
          (catch_all (i32.const -1))))
      (func (export "rethrow") (param i32) (result i32)
        (try (result i32)
          (do (try (do (call $throw (local.get 0))) (catch_all (rethrow 0))) (i32.const 0))
          (catch $e)))
      (func (export "delegate") (param i32) (result i32)
        (try $outer (result i32)
          (do (block (try (do (call $throw (local.get 0))) (delegate $outer))) (i32.const 0))
          (catch $e (i32.const 2000) (i32.add))))
    )""")
    assert m.function("catch")(5) == 1005
    assert m.function("catch")(0) == -1
    assert m.function("rethrow")(6) == 6
    with pytest.raises(wz.WasmException):
        m.function("rethrow")(0)
    assert m.function("delegate")(7) == 2007
    with pytest.raises(wz.WasmException):
        m.function("delegate")(0)


def test_feature_gates():
    rt2 = wz.Runtime(wz.RuntimeConfig(core_features=CoreFeatures.V2))
    with pytest.raises(wz.ValidationError):
        rt2.compile('(module (func (throw_ref (ref.null exn))))')
    with pytest.raises(wz.ValidationError, match="throw_ref requires the exceptions feature"):
        rt2.compile('(module (func (param externref) (throw_ref (local.get 0))))')
    with pytest.raises(wz.ValidationError, match="exceptions feature"):
        rt2.compile('(module (tag))')
    with pytest.raises(wz.ValidationError, match="exceptions feature"):
        rt2.compile('(module (func (block (try_table))))')
    with pytest.raises(wz.ValidationError, match="exnref requires the exceptions feature"):
        rt2.compile('(module (func (param exnref)))')
    rt3 = wz.Runtime(wz.RuntimeConfig(core_features=V3))
    with pytest.raises(wz.ValidationError, match="legacy-exceptions feature"):
        rt3.compile('(module (func (try (do))))')
    # the tag section is a malformed section id in the 2.0 binary format
    binary = wz.wat2wasm('(module (tag))')
    with pytest.raises(wz.DecodeError, match="malformed section id"):
        rt2.compile(binary)
    assert [e.kind for e in rt3.compile(wz.wat2wasm('(module (tag (export "t")))')).exports] == ["tag"]


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_and_exceptions(engine):
    """Fuel is charged alike on both engines through throws and catches, and running
    out of it inside a try_table is a trap no handler catches."""
    src = """
    (module
      (tag $e (param i32))
      (func $t (param i32) (throw $e (local.get 0)))
      (func (export "f") (param i32) (result i32)
        (local $acc i32)
        (loop $l
          (block $h (result i32)
            (try_table (catch $e $h) (call $t (local.get 0)))
            (i32.const 0))
          (local.set $acc (i32.add (local.get $acc)))
          (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (local.get $acc))
      (func (export "spin")
        (block $h (try_table (catch_all $h) (loop $l (br $l))))))
    """
    left = {}
    for eng in ENGINES:
        rt = runtime(eng, consume_fuel=True)
        m = inst(rt, src)
        rt.set_fuel(10_000)
        assert m.function("f")(10) == 55
        left[eng] = rt.get_fuel()
    assert left["interpreter"] == left["compiler"]
    rt = runtime(engine, consume_fuel=True)
    m = inst(rt, src)
    rt.set_fuel(1000)
    with pytest.raises(wz.Trap, match="fuel"):
        m.function("spin")()


def test_compiler_adds_no_try_to_functions_without_handlers():
    from pywazero.engine.compiler import dump

    rt = runtime("compiler")
    c = rt.compile("""
    (module (tag $e)
      (func (export "plain") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func (export "thrower") (throw $e))
      (func (export "handler") (block $h (try_table (catch_all $h) (call 1)))))""")
    assert "try:" not in dump(c, 0) and "try:" not in dump(c, 1)
    assert "try:" in dump(c, 2) and "except _WE" in dump(c, 2)


def test_text_binary_round_trip():
    from pywazero.binary.decoder import decode_module
    from pywazero.binary.encoder import encode_module
    from pywazero.text.parser import parse_module_text

    src = """(module (import "m" "t" (tag $i)) (tag $e (param i32))
      (func (result i32) (block $h (result i32) (block $g (result exnref)
        (try_table (catch $e $h) (catch_ref $i $g) (catch_all 1) (catch_all_ref $g) (throw $e (i32.const 1))))
        (throw_ref)))
      (func (try (do) (catch $e drop (rethrow 0)) (catch_all)) (try (do) (delegate 0))))"""
    m = parse_module_text(src)
    m2 = decode_module(encode_module(m), CoreFeatures.ALL)
    assert [f.body for f in m2.funcs] == [f.body for f in m.funcs]
    assert m2.tags == m.tags and m2.imports == m.imports


LEGACY_NEST = """
(module
  (tag $e (param i32))
  (tag $f)
  (func $throw (param i32)
    (if (local.get 0) (then (throw $e (local.get 0))) (else (throw $f))))
  ;; delegate to an enclosing try, skipping the catch in between
  (func (export "skip") (param i32) (result i32)
    (try $outer (result i32)
      (do
        (try (result i32)
          (do (try (result i32) (do (call $throw (local.get 0)) (i32.const 0)) (delegate $outer)))
          (catch $e (drop) (i32.const -1))))
      (catch $e (i32.const 100) (i32.add))
      (catch_all (i32.const -2))))
  ;; delegate to the caller, past this function's own catch_all
  (func (export "out") (param i32) (result i32)
    (try (result i32)
      (do (try (do (call $throw (local.get 0))) (delegate 1)) (i32.const 0))
      (catch_all (i32.const -3))))
  ;; delegate to a try_table
  (func (export "to_table") (param i32) (result i32)
    (block $h (result i32)
      (try_table (result i32) (catch $e $h)
        (try (result i32) (do (call $throw (local.get 0)) (i32.const 0)) (delegate 0)))))
  ;; rethrow from a nested catch, caught outside
  (func (export "nested") (param i32) (result i32)
    (try (result i32)
      (do
        (try (result i32)
          (do (call $throw (local.get 0)) (i32.const 0))
          (catch_all
            (try (result i32) (do (rethrow 1)) (catch $f (i32.const 7))))))
      (catch $e (i32.const 1000) (i32.add))))
)
"""


def test_compiler_runs_legacy_handlers_itself():
    """try/catch/catch_all/rethrow/delegate are compiled (not left to the
    interpreter) and behave as on the interpreter."""
    rt = runtime("compiler", LEGACY)
    compiled = rt.compile(LEGACY_NEST)
    cw = compiled._engine_code()
    for i in range(len(cw.codes)):
        compile(cw.source(i), "<test>", "exec")   # no fallback: valid Python
    m = rt.instantiate(compiled)
    mi = inst(runtime("interpreter", LEGACY), LEGACY_NEST)
    for name, args, want in [("skip", 5, 105), ("skip", 0, -2), ("nested", 4, 1004),
                             ("nested", 0, 7), ("to_table", 9, 9)]:
        assert m.function(name)(args) == want == mi.function(name)(args), name
    for mod in (m, mi):
        with pytest.raises(wz.WasmException) as ei:
            mod.function("out")(3)
        assert ei.value.payload == (3,)
        with pytest.raises(wz.WasmException):
            mod.function("to_table")(0)
    assert not cw.fallback_reasons


def test_inspect_shows_tags(tmp_path):
    from pywazero.cli import main

    path = tmp_path / "t.wat"
    path.write_text('(module (import "host" "oops" (tag (param i64 f64)))'
                    ' (tag $e (export "e") (param i32)) (func (export "f") (throw $e (i32.const 1))))')
    import io

    out = io.BytesIO()
    assert main(["inspect", str(path)], stdout=out, stderr=io.BytesIO()) == 0
    text = out.getvalue().decode()
    assert "host.oops: tag [i64 f64] -> []" in text
    assert "e: tag [i32] -> []" in text
    assert "tags (2):\n  0: [i64 f64] -> [] (imported)\n  1: [i32] -> []" in text


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("features", [V3, LEGACY], ids=["try_table", "legacy"])
def test_interruption_is_not_caught(engine, features):
    """An interruption inside a handler's body (a loop calling a host function that
    interrupts) is a trap that catch_all does not catch."""
    rt = runtime(engine, features, interruptible=True)
    rt.host_module("env").function("stop", rt.interrupt).instantiate()
    body = ("(block $h (try_table (catch_all $h) (loop $l (call $stop) (br $l))))"
            if features == V3 else "(try (do (loop $l (call $stop) (br $l))) (catch_all))")
    m = inst(rt, '(module (import "env" "stop" (func $stop)) (func (export "f") %s))' % body)
    with pytest.raises(wz.Trap, match="interrupted"):
        m.function("f")()
