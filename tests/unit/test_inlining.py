"""The compiler's inlining of small leaf functions and its guarded call_indirect
through static tables (engine/compiler/inline.py).

Each module runs on the compiler with the rewrite (the default), and its results
and traps are compared with hand-computed values and with the compiler without it
and the interpreter; the generated source shows whether a call was inlined or
guarded.
"""
from __future__ import annotations

import re

import pytest

import pywazero as wz
from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.engine.compiler import CompilerEngine, dump
from pywazero.engine.compiler.inline import MAX_CALLEE, Inliner
from pywazero.text.parser import parse_module_text
from pywazero.wasm.features import CoreFeatures


def binary(wat: str) -> bytes:
    return encode_module(parse_module_text(wat, CoreFeatures.DEFAULT))


def runtimes(monkeypatch, inline: bool = True):
    monkeypatch.setattr(CompilerEngine, "tier_min_size", None)
    monkeypatch.setattr(CompilerEngine, "inline", inline)
    return wz.Runtime(wz.RuntimeConfig(engine="compiler"))


def instance(rt, wat: str, as_binary: bool = True):
    cm = rt.compile(binary(wat) if as_binary else wat)
    return cm, rt.instantiate(cm)


def outcome(f, *args):
    """The results of ``f(*args)``, or ("trap", reason)."""
    try:
        return f(*args)
    except wz.Trap as e:
        return ("trap", e.reason)


def same_everywhere(monkeypatch, wat: str, calls):
    """Run ``calls`` (export name, args) with the rewrite, without it and on the
    interpreter; return the outcomes with the rewrite after checking they agree."""
    got = []
    for mode in ("inline", "plain", "interpreter"):
        if mode == "interpreter":
            rt = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
        else:
            rt = runtimes(monkeypatch, mode == "inline")
        _, inst = instance(rt, wat)
        got.append([outcome(inst.exports[name], *args) for name, args in calls])
    assert got[0] == got[1] == got[2]
    return got[0]


def guarded(src: str, slot: int) -> bool:
    """Whether generated source ``src`` tests a local against table slot ``slot``."""
    return re.search(r"if l\d+ == %d:" % slot, src) is not None


def source_of(cm, func_index) -> str:
    """The generated source of function ``func_index`` (or of the export so named)."""
    if isinstance(func_index, str):
        func_index = next(e.index for e in cm.module.exports if e.name == func_index and e.kind == 0)
    return dump(cm, func_index)


LEAVES = """(module
  (memory 1)
  ;; 0: several returns, a branch out of nested blocks, a loop
  (func $pick (param $x i32) (result i32) (local $acc i32)
    (if (i32.eqz (local.get $x)) (then (return (i32.const 100))))
    (block $out
      (block $inner
        (br_if $out (i32.gt_u (local.get $x) (i32.const 50)))
        (br_if $inner (i32.and (local.get $x) (i32.const 1)))
        (return (i32.mul (local.get $x) (i32.const 3))))
      (loop $l
        (local.set $acc (i32.add (local.get $acc) (local.get $x)))
        (local.set $x (i32.sub (local.get $x) (i32.const 1)))
        (br_if $l (i32.gt_u (local.get $x) (i32.const 40))))
      (return (local.get $acc)))
    (i32.const -1))
  ;; 1: reads its local before setting it: must see 0 on every call
  (func $fresh (param $x i32) (result i32) (local $seen i32)
    (local.set $x (i32.add (local.get $x) (local.get $seen)))
    (local.set $seen (i32.const 1000))
    (local.get $x))
  ;; 2: traps inside (division, memory)
  (func $div (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func $load (param $a i32) (result i64)
    (i64.load offset=8 (local.get $a)))
  ;; 4: a leaf calling a leaf
  (func $twice (param $x i32) (result i32)
    (call $fresh (call $fresh (local.get $x))))
  ;; 5: recursive: never inlined
  (func $fact (param $n i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n)) (then (i64.const 1))
      (else (i64.mul (local.get $n) (call $fact (i64.sub (local.get $n) (i64.const 1)))))))
  ;; 6: float and no-result leaves
  (func $fma (param $a f64) (param $b f64) (param $c f32) (result f64) (local $t f64)
    (local.set $t (f64.mul (local.get $a) (local.get $b)))
    (f64.add (local.get $t) (f64.promote_f32 (local.get $c))))
  (func $store (param $a i32) (param $v i32)
    (i32.store (local.get $a) (local.get $v)))
  ;; (calls are inlined inside loops only: each call here is in a loop run once)
  (func (export "pick") (param i32) (result i32) (loop (result i32) (call $pick (local.get 0))))
  (func (export "fresh3") (param i32) (result i32)
    (loop (result i32) (i32.add (call $fresh (local.get 0))
      (i32.add (call $fresh (local.get 0)) (call $fresh (local.get 0))))))
  (func (export "div") (param i32 i32) (result i32)
    (loop (result i32) (i32.add (call $div (local.get 0) (local.get 1)) (i32.const 1))))
  (func (export "load") (param i32) (result i64) (loop (result i64) (call $load (local.get 0))))
  (func (export "twice") (param i32) (result i32) (loop (result i32) (call $twice (local.get 0))))
  (func (export "fact") (param i64) (result i64) (loop (result i64) (call $fact (local.get 0))))
  (func (export "fma") (param f64 f64 f32) (result f64)
    (loop (result f64) (call $fma (local.get 0) (local.get 1) (local.get 2))))
  (func (export "store_load") (param i32 i32) (result i32)
    (loop (call $store (local.get 0) (local.get 1)))
    (i32.load (local.get 0)))
  ;; the same call outside any loop stays a call
  (func (export "pick_once") (param i32) (result i32) (call $pick (local.get 0)))
)"""


def test_inlined_leaves_compute_what_calls_did(monkeypatch):
    calls = [("pick", [0]), ("pick", [4]), ("pick", [7]), ("pick", [45]), ("pick", [51]),
             ("fresh3", [5]), ("div", [7, 2]), ("div", [-7, 2]), ("div", [1, 0]),
             ("div", [-2**31, -1]), ("load", [0]), ("load", [65528]), ("load", [65536 - 16]),
             ("twice", [9]), ("fact", [20]), ("fma", [1.5, 2.0, 0.25]),
             ("store_load", [12, 77]), ("store_load", [65533, 1])]
    got = same_everywhere(monkeypatch, LEAVES, calls)
    assert got == [
        100, 12, 7, 45 + 44 + 43 + 42 + 41, -1,
        15, 4, -2, ("trap", "integer divide by zero"),
        ("trap", "integer overflow"), 0, ("trap", "out of bounds memory access"), 0,
        9, 2432902008176640000, 3.25, 77, ("trap", "out of bounds memory access"),
    ]


def test_callers_hold_the_leaves_bodies(monkeypatch):
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, LEAVES)
    src = source_of(cm, 8)        # the export calling $pick
    assert "f0(" not in src and "while True" in src
    assert "f0(" in source_of(cm, "pick_once") and inst.exports["pick_once"](7) == inst.exports["pick"](7) == 7
    assert "f1(" not in source_of(cm, 9)
    # a leaf whose callees are leaves is a leaf itself
    assert "f4(" not in source_of(cm, 12) and "f1(" not in source_of(cm, 12)
    # recursion is never inlined
    assert "f5(" in source_of(cm, 13) and "f5(" in source_of(cm, 5)
    inst.exports["pick"](3)
    assert cm._engine_code().inline_failures == {}


def test_locals_are_zeroed_on_each_inlined_entry(monkeypatch):
    rt = runtimes(monkeypatch)
    _, inst = instance(rt, LEAVES)
    # each of the three inlined copies reads $seen as 0 although the previous one
    # left 1000 in it (they share the locals)
    assert [inst.exports["fresh3"](n) for n in (0, 5, 7)] == [0, 15, 21]


def test_traps_inside_inlined_code_keep_their_message(monkeypatch):
    rt = runtimes(monkeypatch)
    _, inst = instance(rt, LEAVES)
    with pytest.raises(wz.Trap) as e:
        inst.exports["div"](5, 0)
    assert e.value.reason == "integer divide by zero"
    # (the inlined frame is not in the wasm stack; its caller is)
    assert e.value.wasm_stack and "div" in e.value.wasm_stack[0]


def test_explicit_traps_keep_their_frame(monkeypatch):
    wat = """(module
      (func $inner (param i32) (if (local.get 0) (then unreachable)))
      (func (export "outer") (param i32) (call $inner (local.get 0))))"""
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, wat)
    with pytest.raises(wz.Trap) as e:
        inst.exports["outer"](1)
    assert len(e.value.wasm_stack) == 2
    assert "f0(" in source_of(cm, 1)


def test_large_callees_and_limits_are_not_inlined(monkeypatch):
    adds = "(i32.add (local.get 0) (i32.const 1))" * 1
    body = "(local.set 0 %s)" % adds
    big = "(func $big (param i32) (result i32) %s (local.get 0))" % (body * (MAX_CALLEE // 4 + 1))
    wat = """(module %s
      (func (export "f") (param i32) (result i32) (call $big (local.get 0))))""" % big
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, wat)
    assert inst.exports["f"](1) == 1 + MAX_CALLEE // 4 + 1
    assert "f0(" in source_of(cm, 1)


def test_fuel_turns_the_rewrite_off(monkeypatch):
    monkeypatch.setattr(CompilerEngine, "tier_min_size", None)
    rt = wz.Runtime(wz.RuntimeConfig(engine="compiler", consume_fuel=True))
    cm = rt.compile(binary(LEAVES))
    assert cm._engine_code().inliner is None
    assert "f0(" in source_of(cm, 8)


# -- static tables --------------------------------------------------------------------

TABLE = """(module
  (type $bin (func (param i32 i32) (result i32)))
  (type $un (func (param i32) (result i32)))
  (table %(table)s 6 6 funcref)
  (elem (i32.const 1) $sub $neg $add)
  %(extra)s
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  (func $neg (type $un) (i32.sub (i32.const 0) (local.get 0)))
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func (export "bin") (param i32 i32 i32) (result i32)
    (call_indirect (type $bin) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "un") (param i32 i32) (result i32)
    (call_indirect (type $un) (local.get 0) (local.get 1)))
)"""

TABLE_CALLS = [("bin", [10, 3, 1]), ("bin", [10, 3, 3]), ("bin", [10, 3, 2]),
               ("bin", [10, 3, 0]), ("bin", [10, 3, 5]), ("bin", [10, 3, 6]),
               ("bin", [10, 3, 2**32 - 1]), ("un", [4, 2]), ("un", [4, 1])]
TABLE_WANT = [7, 13, ("trap", "indirect call type mismatch"),
              ("trap", "uninitialized element"), ("trap", "uninitialized element"),
              ("trap", "undefined element"), ("trap", "undefined element"),
              -4, ("trap", "indirect call type mismatch")]


def table_module(table: str = "", extra: str = "") -> str:
    return TABLE % {"table": table, "extra": extra}


@pytest.mark.parametrize("as_binary", [True, False])
def test_static_table_guards_the_call_by_the_index(monkeypatch, as_binary):
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, table_module(), as_binary)
    assert [outcome(inst.exports[n], *a) for n, a in TABLE_CALLS] == TABLE_WANT
    src = source_of(cm, "bin")
    # both slots of the type are inlined behind the index test; the generic path
    # stays for every other index
    assert guarded(src, 1) and guarded(src, 3) and not guarded(src, 2) and "_CI" in src
    assert Inliner(cm.module).static_table(0) == [None, 0, 1, 2, None, None]
    assert same_everywhere(monkeypatch, table_module(), TABLE_CALLS) == TABLE_WANT


@pytest.mark.parametrize("table, extra", [
    ("(export \"t\")", ""),
    ("", "(func (export \"set\") (table.set 0 (i32.const 4) (ref.func $add)))"),
    ("", "(func (export \"grow\") (drop (table.grow 0 (ref.null func) (i32.const 0))))"),
    ("", "(func (export \"fill\") (table.fill 0 (i32.const 0) (ref.func $add) (i32.const 1)))"),
    ("", "(elem $p func $add) (func (export \"init\") (table.init 0 $p (i32.const 0) (i32.const 0) (i32.const 1)))"),
    ("", "(table $u 1 funcref) (func (export \"copy\") (table.copy 0 $u (i32.const 0) (i32.const 0) (i32.const 1)))"),
    ("", "(global $g funcref (ref.func $add)) (elem (table 0) (i32.const 4) funcref (global.get $g))"),
    ("", "(global $o i32 (i32.const 4)) (elem (table 0) (global.get $o) func $add)"),
])
@pytest.mark.parametrize("as_binary", [True, False])
def test_tables_that_may_change_or_are_not_known_are_not_static(monkeypatch, table, extra, as_binary):
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, table_module(table, extra), as_binary)
    assert Inliner(cm.module).static_table(0) is None
    assert not guarded(source_of(cm, "bin"), 1)
    assert [outcome(inst.exports[n], *a) for n, a in TABLE_CALLS[:2]] == TABLE_WANT[:2]


def test_imported_table_is_not_static():
    wat = """(module (import "m" "t" (table 2 funcref))
      (func (export "f") (param i32) (result i32) (call_indirect (result i32) (local.get 0))))"""
    m = decode_module(binary(wat), CoreFeatures.DEFAULT)
    assert Inliner(m).static_table(0) is None


def test_a_later_write_from_a_table_copy_source_keeps_it_static(monkeypatch):
    # reading a table (table.get, copying from it) does not change it
    extra = ("(table $u 6 funcref) (func (export \"copy\") "
             "(table.copy $u 0 (i32.const 0) (i32.const 0) (i32.const 6)))")
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, table_module("", extra))
    # (the copying function comes first: $sub is function 1)
    assert Inliner(cm.module).static_table(0) == [None, 1, 2, 3, None, None]
    assert guarded(source_of(cm, "bin"), 1)
    inst.exports["copy"]()
    assert [outcome(inst.exports[n], *a) for n, a in TABLE_CALLS] == TABLE_WANT


def test_decoder_records_the_tables_written():
    extra = "(func (export \"set\") (table.set 0 (i32.const 4) (ref.func $add)))"
    assert decode_module(binary(table_module("", extra)), CoreFeatures.DEFAULT).tables_written == {0}
    assert decode_module(binary(table_module()), CoreFeatures.DEFAULT).tables_written == set()


def test_many_slots_of_one_type_are_not_speculated(monkeypatch):
    wat = table_module().replace("$sub $neg $add", "$sub $add $sub $neg $add")
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, wat)
    assert not guarded(source_of(cm, "bin"), 1)
    assert inst.exports["bin"](10, 3, 5) == 13


def test_speculated_callee_that_is_not_a_leaf_is_called_directly(monkeypatch):
    wat = """(module
      (type $t (func (param i32) (result i32)))
      (table 2 2 funcref) (elem (i32.const 0) $rec)
      (func $rec (type $t) (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (i32.add (i32.const 2) (call $rec (i32.sub (local.get 0) (i32.const 1)))))))
      (func (export "f") (param i32 i32) (result i32)
        (call_indirect (type $t) (local.get 0) (local.get 1))))"""
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, wat)
    assert guarded(source_of(cm, 1), 0) and "f0(" in source_of(cm, 1)
    assert [outcome(inst.exports["f"], *a) for a in ([5, 0], [5, 1], [5, 2])] == [
        10, ("trap", "uninitialized element"), ("trap", "undefined element")]


def test_caller_too_nested_with_the_leaf_inside_keeps_the_call(monkeypatch):
    # 16 loops around the call, 4 in the leaf: past Python's 20 nested blocks once
    # inlined (codegen.MAX_PY_LOOPS), so the caller is translated with the call
    def loops(n: int, inner: str) -> str:
        for k in range(n):
            inner = "(loop $l%d %s (br_if $l%d (i32.eqz (i32.const 1))))" % (k, inner, k)
        return inner
    leaf = ("(func $leaf (param i32) (result i32) (local $i i32) %s (local.get $i))"
            % loops(4, "(local.set $i (i32.add (local.get $i) (local.get 0)))"))
    wat = """(module %s
      (func (export "f") (param i32) (result i32) (local $r i32)
        %s (local.get $r)))""" % (leaf, loops(16, "(local.set $r (call $leaf (local.get 0)))"))
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, wat)
    assert inst.exports["f"](5) == 5
    cw = cm._engine_code()
    assert cw.fallback_reasons == {} and cw.inline_failures == {}
    assert "f0(" in source_of(cm, 1)


def test_code_chunks_carry_inlined_code_only_to_engines_that_inline(monkeypatch):
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, LEAVES)
    assert inst.exports["fresh3"](5) == 15
    cw = cm._engine_code()
    chunk = cw.export_codes()
    other = runtimes(monkeypatch).compile(binary(LEAVES))._engine_code()
    assert other.import_codes(chunk) == len(cw.translated()) > 0
    plain = runtimes(monkeypatch, inline=False).compile(binary(LEAVES))._engine_code()
    assert plain.code_key() != cw.code_key()
    assert plain.import_codes(chunk) == 0


def test_the_validators_context_is_built_once_for_all_rewritten_bodies(monkeypatch):
    """Each inlined body is validated in a copy of the module: the copies share the
    module's body context instead of each building one (a pass over the whole module:
    ~15 ms per function for CPython-WASI's element segments, which made its start-up
    slower than before inlining)."""
    from pywazero.wasm import validation

    built = []
    real = validation._Context.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(validation._Context, "__init__", counting)
    rt = runtimes(monkeypatch)
    cm, inst = instance(rt, LEAVES)
    for name, args in [("pick", [4]), ("fresh3", [5]), ("div", [7, 2]), ("twice", [9]),
                       ("fact", [5]), ("fma", [1.5, 2.0, 0.25]), ("store_load", [12, 77])]:
        inst.exports[name](*args)
    cw = cm._engine_code()
    assert cw.inline_failures == {}
    assert "f0(" not in source_of(cm, 8)    # (rewritten bodies were validated)
    assert len(built) <= 2   # (the whole module's check, and the body context)
