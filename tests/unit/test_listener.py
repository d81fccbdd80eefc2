"""Function listeners (RuntimeConfig.function_listener) on both engines: event order
for nested calls, arguments, results, traps and exceptions, filters, the calls
they see (indirect, tail, across modules), and nothing added without one."""
from __future__ import annotations

import io
import pickle

import pytest

import pywazero as wz
from pywazero.listener import name_filter, tracer

ENGINES = ["compiler", "interpreter"]


class Recorder(wz.FunctionListener):
    def __init__(self, events):
        self.events = events

    def before(self, d, args):
        self.events.append(("before", d.name, list(args)))

    def after(self, d, results):
        self.events.append(("after", d.name, list(results)))

    def abort(self, d, error):
        self.events.append(("abort", d.name, type(error).__name__, str(error).splitlines()[0]))


def make(engine, select=None, **kw):
    events = []
    defs = []

    def factory(d):
        defs.append(d)
        if select is not None and not select(d):
            return None
        return Recorder(events)

    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, function_listener=factory, **kw))
    return rt, events, defs


PROG = '''(module
  (type $t (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $double $neg)
  (memory 1)
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $neg (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))
  (func $pair (export "pair") (param i64 f64) (result i64 f64)
    (local.get 0) (local.get 1))
  (func (export "main") (param i32) (result i32)
    (call_indirect (type $t) (call $double (local.get 0)) (i32.const 1)))
  (func (export "div") (param i32) (result i32) (call $quot (local.get 0)))
  (func $quot (param i32) (result i32) (i32.div_s (i32.const 10) (local.get 0)))
  (func (export "oob") (result i32) (i32.load (i32.const 65535)))
  (func $count (export "count") (param i32 i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (return (local.get 1))))
    (return_call $count (i32.sub (local.get 0) (i32.const 1)) (i32.add (local.get 1) (i32.const 1)))))'''


@pytest.mark.parametrize("engine", ENGINES)
def test_nested_order_args_results(engine):
    rt, events, _ = make(engine)
    m = rt.instantiate(PROG)
    assert m.function("main")(-21) == 42
    assert events == [
        ("before", "main", [-21]),
        ("before", "double", [-21]),
        ("after", "double", [-42]),
        ("before", "neg", [-42]),          # through call_indirect
        ("after", "neg", [42]),
        ("after", "main", [42]),
    ]
    events.clear()
    assert m.function("pair")(-1, 2.5) == (-1, 2.5)
    assert events == [("before", "pair", [-1, 2.5]), ("after", "pair", [-1, 2.5])]


@pytest.mark.parametrize("engine", ENGINES)
def test_traps_abort_each_frame(engine):
    rt, events, _ = make(engine)
    m = rt.instantiate(PROG)
    with pytest.raises(wz.Trap, match="integer divide by zero"):
        m.function("div")(0)
    assert events == [
        ("before", "div", [0]),
        ("before", "quot", [0]),
        ("abort", "quot", "Trap", "integer divide by zero"),
        ("abort", "div", "Trap", "integer divide by zero"),
    ]
    events.clear()
    with pytest.raises(wz.Trap, match="out of bounds memory access"):
        m.function("oob")()
    assert events == [("before", "oob", []), ("abort", "oob", "Trap", "out of bounds memory access")]
    # the instance still works, and the listener sees the next call
    events.clear()
    assert m.function("div")(5) == 2
    assert events[-1] == ("after", "div", [2])


@pytest.mark.parametrize("engine", ENGINES)
def test_tail_calls_reported_as_nested_calls(engine):
    rt, events, _ = make(engine)
    m = rt.instantiate(PROG)
    assert m.function("count")(2, 0) == 2
    assert events == [
        ("before", "count", [2, 0]),
        ("before", "count", [1, 1]),
        ("before", "count", [0, 2]),
        ("after", "count", [2]),
        ("after", "count", [2]),
        ("after", "count", [2]),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_filter_and_factory_called_once_per_function(engine):
    rt, events, defs = make(engine, select=name_filter("neg,pair"))
    cm = rt.compile(PROG)
    m1, m2 = rt.instantiate(cm), rt.instantiate(cm)
    assert m1.function("main")(5) == -10
    assert m2.function("main")(5) == -10
    assert events == [("before", "neg", [10]), ("after", "neg", [-10])] * 2
    m2.function("pair")(1, 1.0)
    names = [d.name for d in defs]
    assert len(names) == len(set(names))          # asked once per function of the module
    d = next(d for d in defs if d.name == "pair")
    assert d.export_names == ("pair",) and d.type == wz.FuncType((wz.I64, wz.F64), (wz.I64, wz.F64))
    assert d.index == 2 and d.module_name is None


@pytest.mark.parametrize("engine", ENGINES)
def test_host_exceptions_and_wasm_exceptions(engine):
    rt, events, _ = make(engine)

    class Boom(Exception):
        pass

    def fail(x):
        raise Boom("from host")

    rt.host_module("env").function("fail", fail, params=[wz.I32]).instantiate()
    m = rt.instantiate('''(module
      (import "env" "fail" (func $fail (param i32)))
      (tag $e (param i32))
      (func $h (export "h") (param i32) (call $fail (local.get 0)))
      (func $thrower (param i32) (throw $e (local.get 0)))
      (func (export "caught") (param i32) (result i32)
        (block $c (result i32)
          (try_table (catch $e $c) (call $thrower (local.get 0)))
          (i32.const -1))))''')
    with pytest.raises(Boom):
        m.function("h")(3)
    assert events == [("before", "h", [3]), ("abort", "h", "Boom", "from host")]
    events.clear()
    assert m.function("caught")(7) == 7
    assert events == [
        ("before", "caught", [7]),
        ("before", "thrower", [7]),
        ("abort", "thrower", "WasmException", events[2][3]),
        ("after", "caught", [7]),
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_calls_across_modules_and_start(engine):
    rt, events, _ = make(engine)
    lib = rt.instantiate('(module (func (export "one") (result i32) i32.const 1))', wz.ModuleConfig(name="lib"))
    m = rt.instantiate('''(module (import "lib" "one" (func $one (result i32)))
      (global $g (mut i32) (i32.const 0))
      (func $init (global.set $g (call $one)))
      (start $init)
      (func (export "g") (result i32) global.get $g))''')
    assert m.function("g")() == 1
    assert events == [("before", "init", []), ("before", "one", []), ("after", "one", [1]),
                      ("after", "init", []), ("before", "g", []), ("after", "g", [1])]
    assert lib is not None


@pytest.mark.parametrize("engine", ENGINES)
def test_tracer_output(engine):
    out = io.StringIO()
    rt = wz.Runtime(wz.RuntimeConfig(engine=engine, function_listener=tracer(out, "main,double")))
    rt.instantiate(PROG).function("main")(3)
    assert out.getvalue().splitlines() == ["--> main(3)", "  --> double(3)", "  <-- double = 6", "<-- main = -6"]
    out2 = io.StringIO()
    rt2 = wz.Runtime(wz.RuntimeConfig(engine=engine, function_listener=tracer(out2, lambda d: d.name == "quot")))
    with pytest.raises(wz.Trap):
        rt2.instantiate(PROG).function("div")(0)
    assert out2.getvalue().splitlines() == ["--> quot(0)", "<-- quot !! Trap: integer divide by zero"]


def test_same_events_on_both_engines_with_fuel_and_interruption():
    seen = []
    for engine in ENGINES:
        for kw in ({}, {"consume_fuel": True}, {"interruptible": True}):
            rt, events, _ = make(engine, **kw)
            if kw.get("consume_fuel"):
                rt.set_fuel(10_000)
            m = rt.instantiate(PROG)
            m.function("main")(4)
            m.function("count")(3, 0)
            seen.append(events)
    assert all(e == seen[0] for e in seen)


def test_listener_deep_recursion():
    src = '''(module (func $r (export "r") (param i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
        (else (i32.add (i32.const 1) (call $r (i32.sub (local.get 0) (i32.const 1))))))))'''
    for engine, n in (("compiler", 3000), ("interpreter", 300)):
        rt, events, _ = make(engine)
        assert rt.instantiate(src).function("r")(n) == n
        assert len(events) == 2 * (n + 1)
    # the interpreter's documented limit: listened recursion nests Python calls
    rt, events, _ = make("interpreter")
    with pytest.raises(wz.Trap, match="call stack exhausted"):
        rt.instantiate(src).function("r")(3000)


def test_no_listener_adds_nothing():
    from pywazero.engine.compiler import dump
    from pywazero.engine.listen import ListenedEngine

    rt = wz.Runtime()
    cm = rt.compile(PROG)
    m = rt.instantiate(cm)
    m.function("main")(1)
    # the compiler's callables are the generated functions themselves
    fi = m.function("main")._fn
    assert fi.code.__code__.co_filename.startswith("<wasm:")
    assert "listen" not in cm._engine_code().code_key()
    irt = wz.Runtime(wz.RuntimeConfig(engine="interpreter"))
    im = irt.instantiate(PROG)
    im.function("main")(1)
    assert not any(isinstance(f.engine, ListenedEngine) for f in im.instance.funcs)
    # a function the listener leaves alone gets the same generated code (the hook
    # sits outside it), and so does a listened one without calls it would hide
    lrt, _, _ = make("compiler", select=name_filter("main"))
    lcm = lrt.compile(PROG)
    for i in range(len(lcm.module.funcs)):
        if i in (0, 1, 2, 5, 6):   # no calls: nothing to inline or loop
            assert dump(lcm, i) == dump(cm, i)
    lm = lrt.instantiate(lcm)
    lm.function("main")(1)
    with_hook = lm.function("main")._fn
    assert not with_hook.code.__code__.co_filename.startswith("<wasm:")


def test_listener_config_pickles_without_listener():
    rt, events, _ = make("compiler")
    cm = rt.compile(PROG)
    cm2 = pickle.loads(pickle.dumps(cm))
    assert cm2.runtime.config.function_listener is None
    assert cm2.runtime.instantiate(cm2).function("main")(1) == -2
    assert events == []


def test_bad_listener():
    with pytest.raises(TypeError):
        wz.Runtime(wz.RuntimeConfig(function_listener=42))
