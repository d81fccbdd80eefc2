"""Linker: per-instantiation imports, shadowing, trap stubs; Runtime.compile from a
path, Runtime.validate and CompiledModule.custom_sections."""
from __future__ import annotations

import io
import pathlib

import pytest

import pywazero as wz

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(params=["compiler", "interpreter"])
def rt(request):
    with wz.Runtime(wz.RuntimeConfig(engine=request.param)) as runtime:
        yield runtime


USER = '''(module
  (import "math" "square" (func $sq (param i32) (result i32)))
  (func (export "f") (param i32) (result i32) (i32.add (call $sq (local.get 0)) (i32.const 1))))'''


def test_define_func_per_instantiation(rt):
    cm = rt.compile(USER)
    a = wz.Linker(rt).define_func("math", "square", wz.FuncType([wz.I32], [wz.I32]), lambda x: x * x)
    b = wz.Linker(rt).define_func("math", "square", wz.FuncType([wz.I32], [wz.I32]), lambda x: -x)
    ma, mb = a.instantiate(cm), b.instantiate(cm)
    assert ma.function("f")(7) == 50
    assert mb.function("f")(7) == -6
    # nothing was registered in the runtime
    assert rt.module("math") is None
    with pytest.raises(wz.LinkError):
        rt.instantiate(cm)


def test_define_instance_links_two_wasm_modules(rt):
    lib = rt.instantiate('''(module
      (memory (export "mem") 1)
      (global (export "counter") (mut i32) (i32.const 0))
      (func (export "square") (param i32) (result i32)
        (global.set 0 (i32.add (global.get 0) (i32.const 1)))
        (i32.mul (local.get 0) (local.get 0))))''')
    linker = wz.Linker(rt).define_instance("math", lib)
    m = linker.instantiate(USER)
    assert m.function("f")(9) == 82
    assert lib.global_("counter").value == 1
    # memories are shared, not copied
    user2 = linker.instantiate('''(module (import "math" "mem" (memory 1))
      (func (export "poke") (i32.store (i32.const 8) (i32.const 1234))))''')
    user2.function("poke")()
    assert lib.memory("mem").read_u32(8) == 1234
    assert ("math", "square") in linker and len(linker) == 3
    assert sorted(linker) == [("math", "counter"), ("math", "mem"), ("math", "square")]


def test_define_single_externs(rt):
    lib = rt.instantiate('''(module (table (export "t") 2 funcref) (memory (export "m") 1)
      (global (export "g") i64 (i64.const -5)) (tag (export "e") (param i32))
      (func (export "id") (param i32) (result i32) local.get 0))''')
    linker = wz.Linker(rt)
    for name in ("t", "m", "g", "e", "id"):
        linker.define("env", name + "2", lib.exports[name])
    m = linker.instantiate('''(module
      (import "env" "t2" (table 1 funcref)) (import "env" "m2" (memory 1))
      (import "env" "g2" (global $g i64)) (import "env" "e2" (tag (param i32)))
      (import "env" "id2" (func $id (param i32) (result i32)))
      (func (export "r") (result i64) (i64.add (global.get $g) (i64.extend_i32_s (call $id (i32.const 2))))))''')
    assert m.function("r")() == -3
    assert linker.get("env", "id2") == lib.function("id")
    assert linker.get("env", "nope") is None
    with pytest.raises(TypeError):
        linker.define("env", "x", 42)
    with pytest.raises(TypeError):
        linker.define_func("env", "y", [wz.I32], lambda x: x)


def test_host_module_through_linker(rt):
    seen = []
    builder = rt.host_module("env").function("log", seen.append, params=[wz.I32])
    linker = wz.Linker(rt).define_host_module(builder)
    assert rt.module("env") is None
    m = linker.instantiate('''(module (import "env" "log" (func $log (param i32)))
      (func (export "run") (call $log (i32.const -3))))''')
    m.function("run")()
    assert seen == [-3]


def test_shadowing_rules(rt):
    ft = wz.FuncType([wz.I32], [wz.I32])
    linker = wz.Linker(rt).define_func("math", "square", ft, lambda x: x * x)
    with pytest.raises(ValueError, match="already defined"):
        linker.define_func("math", "square", ft, lambda x: 0)
    lib = rt.instantiate('(module (func (export "square") (param i32) (result i32) i32.const 5)'
                         ' (func (export "other")))')
    # define_instance is all or nothing
    with pytest.raises(ValueError, match="already defined"):
        linker.define_instance("math", lib)
    assert ("math", "other") not in linker
    assert linker.instantiate(USER).function("f")(3) == 10
    linker.allow_shadowing = True
    linker.define_instance("math", lib)
    assert ("math", "other") in linker
    assert linker.instantiate(USER).function("f")(3) == 6
    linker.define_func("math", "square", ft, lambda x: 100)
    assert linker.instantiate(USER).function("f")(3) == 101
    assert wz.Linker(rt, allow_shadowing=True).allow_shadowing


def test_linker_first_then_registry(rt):
    ft = wz.FuncType([wz.I32], [wz.I32])
    rt.host_module("math").function("square", lambda x: x * x, params=[wz.I32], results=[wz.I32]).instantiate()
    cm = rt.compile(USER)
    # the registry serves what the linker lacks
    assert wz.Linker(rt).instantiate(cm).function("f")(4) == 17
    # the linker's definition wins over the registry's
    assert wz.Linker(rt).define_func("math", "square", ft, lambda x: 0).instantiate(cm).function("f")(4) == 1
    # and the registry can be left out
    with pytest.raises(wz.LinkError, match="unknown import: 'math'.'square'"):
        wz.Linker(rt, use_runtime_registry=False).instantiate(cm)


def test_link_errors_name_import_and_types(rt):
    cm = rt.compile(USER)
    with pytest.raises(wz.LinkError) as e:
        wz.Linker(rt).instantiate(cm)
    msg = str(e.value)
    assert "'math'.'square'" in msg and "[i32] -> [i32]" in msg
    linker = wz.Linker(rt).define_func("math", "square", wz.FuncType([wz.I64], []), lambda x: None)
    with pytest.raises(wz.LinkError) as e:
        linker.instantiate(cm)
    msg = str(e.value)
    assert "incompatible import type" in msg and "[i32] -> [i32]" in msg and "[i64] -> []" in msg
    mem = rt.instantiate('(module (memory (export "m") 1))').memory("m")
    with pytest.raises(wz.LinkError, match="'math'.'square'.*got memory"):
        wz.Linker(rt).define("math", "square", mem).instantiate(cm)


def test_unknown_imports_as_traps(rt):
    cm = rt.compile('''(module
      (import "env" "missing" (func $m (param i32) (result i64)))
      (import "env" "present" (func $p (result i32)))
      (func (export "ok") (result i32) (call $p))
      (func (export "bad") (result i64) (call $m (i32.const 1))))''')
    linker = wz.Linker(rt).define_func("env", "present", wz.FuncType([], [wz.I32]), lambda: 7)
    with pytest.raises(wz.LinkError, match="'env'.'missing'"):
        linker.instantiate(cm)
    linker.define_unknown_imports_as_traps(cm)
    assert ("env", "missing") in linker
    m = linker.instantiate(cm)
    assert m.function("ok")() == 7           # the defined import is not replaced
    with pytest.raises(wz.Trap) as e:
        m.function("bad")()
    assert "'env'.'missing'" in str(e.value) and "trap" in str(e.value)
    assert linker.get("env", "missing").type == wz.FuncType((wz.I32,), (wz.I64,))


def test_unknown_imports_as_traps_only_functions(rt):
    cm = rt.compile('(module (import "env" "g" (global i32)) (import "env" "f" (func)))')
    linker = wz.Linker(rt).define_unknown_imports_as_traps(cm)
    assert ("env", "f") in linker and ("env", "g") not in linker
    with pytest.raises(wz.LinkError, match="'env'.'g'"):
        linker.instantiate(cm)


def test_unknown_imports_as_traps_skip_registry(rt):
    rt.host_module("env").function("f", lambda: 3, results=[wz.I32]).instantiate()
    cm = rt.compile('(module (import "env" "f" (func $f (result i32))) (func (export "g") (result i32) call $f))')
    linker = wz.Linker(rt).define_unknown_imports_as_traps(cm)
    assert len(linker) == 0
    assert linker.instantiate(cm).function("g")() == 3
    strict = wz.Linker(rt, use_runtime_registry=False).define_unknown_imports_as_traps(cm)
    with pytest.raises(wz.Trap, match="unknown import called"):
        strict.instantiate(cm).function("g")()


def test_wasi_through_linker(rt):
    rt.host_module("other").instantiate()
    out = io.BytesIO()
    linker = wz.Linker(rt).define_wasi()
    assert ("wasi_snapshot_preview1", "fd_write") in linker and ("wasi_unstable", "fd_write") in linker
    assert rt.module("wasi_snapshot_preview1") is None
    linker.instantiate(pathlib.Path(EXAMPLES / "hello.wasm"), wz.ModuleConfig(stdout=out))
    assert out.getvalue() == b"Hello, world! (from WebAssembly)\n"
    only = wz.Linker(rt).define_wasi(unstable=False)
    assert ("wasi_unstable", "fd_write") not in only
    with pytest.raises(ValueError, match="already defined"):
        linker.define_wasi()
    lines = []
    logged = wz.Linker(rt).define_wasi(log=lines.append)   # a callable taking each line
    out = io.BytesIO()
    logged.instantiate(EXAMPLES / "hello.wasm", wz.ModuleConfig(stdout=out, args=["hello", "linker"]))
    assert out.getvalue() == b"Hello, linker! (from WebAssembly)\n"
    assert '<-- errno=SUCCESS argv=["hello", "linker"]' in lines
    assert lines[-1] == "<-- errno=SUCCESS nwritten=34"


def test_linker_config_name_registers(rt):
    lib = wz.Linker(rt).instantiate('(module (func (export "seven") (result i32) i32.const 7))',
                                    wz.ModuleConfig(name="lib"))
    assert rt.module("lib") is not None
    m = rt.instantiate('(module (import "lib" "seven" (func $s (result i32)))'
                       ' (func (export "f") (result i32) call $s))')
    assert m.function("f")() == 7
    assert lib.name == "lib"


def test_linker_api_misuse(rt):
    with pytest.raises(TypeError):
        wz.Linker("not a runtime")
    linker = wz.Linker(rt)
    with pytest.raises(TypeError):
        linker.define_instance("x", object())
    with pytest.raises(TypeError):
        linker.define_unknown_imports_as_traps(b"\0asm")
    m = rt.instantiate('(module (func (export "f")))')
    m.close()
    with pytest.raises(ValueError):
        linker.define_instance("x", m)
    other = wz.Runtime()
    with pytest.raises(ValueError, match="another runtime"):
        linker.instantiate(other.compile("(module)"))


def test_compile_from_path(rt, tmp_path):
    cm = rt.compile(EXAMPLES / "hello.wasm")
    assert [e.name for e in cm.exports] == ["memory", "_start"]
    wat = tmp_path / "m.wat"
    wat.write_text('(module (func (export "f") (result i32) i32.const 3))')
    assert rt.instantiate(rt.compile(wat)).function("f")() == 3
    assert rt.instantiate(wat).function("f")() == 3

    class P:   # any os.PathLike
        def __fspath__(self):
            return str(wat)

    assert [e.name for e in rt.compile(P()).exports] == ["f"]
    with pytest.raises(OSError):
        rt.compile(tmp_path / "missing.wasm")
    # a str is module text, never a path
    with pytest.raises(wz.DecodeError):
        rt.compile(str(wat))


def test_validate(rt, tmp_path):
    assert rt.validate('(module (func (result i32) i32.const 1))') is None
    assert rt.validate(EXAMPLES / "hello.wasm") is None
    with pytest.raises(wz.ValidationError):
        rt.validate('(module (func (result i32)))')
    with pytest.raises(wz.DecodeError):
        rt.validate(b"\0asm\x01\0\0\0\x01")
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(wz.wat2wasm("(module (func (return_call 0)))"))
    rt.validate(bad)
    v1 = wz.Runtime(wz.RuntimeConfig(core_features=wz.CoreFeatures.V1))
    with pytest.raises(wz.ValidationError):
        v1.validate(bad)


def test_custom_sections(rt):
    wasm = wz.wat2wasm('(module (@custom "meta" "one") (@custom "other" "x") (@custom "meta" (after func) "two"))')
    cm = rt.compile(wasm)
    assert cm.custom_sections("meta") == [b"one", b"two"]
    assert cm.custom_sections("other") == [b"x"]
    assert cm.custom_sections("none") == []
    with pytest.raises(TypeError):
        cm.custom_sections(1)


LIB = '''(module (table (export "t") 2 funcref) (memory (export "m") 1)
  (global (export "g") (mut i32) (i32.const 7)) (tag (export "e") (param i32))
  (func (export "id") (param i32) (result i32) local.get 0))'''


def test_externs_of_another_runtime_are_refused(rt):
    """A runtime links only its own objects: another runtime's memory would grow on
    that runtime's budget, its functions run under that runtime's engine and limits."""
    engine = "compiler" if rt.config.engine != "compiler" else "interpreter"
    with wz.Runtime(wz.RuntimeConfig(engine=engine)) as other:
        lib = other.instantiate(LIB)
        host = other.host_module("h").memory("hm", 1).global_("hg", wz.I32, 1).table("ht").tag("he")
        hosted = host.build()
        linker = wz.Linker(rt)
        for name in ("t", "m", "g", "e", "id"):
            with pytest.raises(ValueError, match="belongs to another runtime"):
                linker.define("env", name, lib.exports[name])
        for name in ("hm", "hg", "ht", "he"):
            with pytest.raises(ValueError, match="belongs to another runtime"):
                linker.define("env", name, hosted.exports[name])
        with pytest.raises(ValueError, match="belongs to another runtime"):
            linker.define_instance("lib", lib)
        with pytest.raises(ValueError, match="belongs to another runtime"):
            linker.define_instance("h", hosted)
        with pytest.raises(ValueError, match="belongs to another runtime"):
            rt.host_module("mine").export("m", lib.memory("m"))
        assert len(linker) == 0   # nothing was defined by the refused calls
        # re-exported by a module of the same runtime, it is still that runtime's
        reexp = wz.Linker(other).define_instance("h", hosted).instantiate(
            '(module (import "h" "hm" (memory 1)) (export "m" (memory 0)))')
        with pytest.raises(ValueError, match="belongs to another runtime"):
            linker.define("env", "m", reexp.memory("m"))


def test_own_and_unowned_externs_link(rt):
    lib = rt.instantiate(LIB)
    linker = wz.Linker(rt)
    for name in ("t", "m", "g", "e", "id"):
        linker.define("env", name, lib.exports[name])
    linker.define_instance("lib", lib)
    # a tag made with Tag() and a host function belong to no runtime: any may link them
    free_tag = wz.Tag([wz.I32])
    with wz.Runtime() as other:
        wz.Linker(other).define("env", "tag", free_tag)
    linker.define("env", "tag", free_tag)
    # a module importing another's memory re-exports the same (own) memory
    reexp = linker.instantiate('(module (import "env" "m" (memory 1)) (export "m2" (memory 0)))')
    linker.define("env", "m2", reexp.memory("m2"))
    m = linker.instantiate('''(module (import "env" "m2" (memory 1)) (import "env" "g" (global $g (mut i32)))
      (func (export "f") (result i32) (i32.store (i32.const 0) (i32.const 5))
        (i32.add (global.get $g) (i32.load (i32.const 0)))))''')
    assert m.function("f")() == 12
    assert lib.memory("m").read(0, 1) == b"\x05"


REFS = '''(module
  (type $v (func (result i32)))
  (table (export "t") 2 funcref)
  (global (export "g") (mut funcref) (ref.null func))
  (func $seven (export "seven") (result i32) (i32.const 7))
  (func (export "call0") (result i32) (call_indirect (type $v) (i32.const 0)))
  (func (export "call_ref") (param funcref) (result i32)
    (table.set (i32.const 1) (local.get 0))
    (call_indirect (type $v) (i32.const 1)))
  (func (export "call_ref2") (param funcref i32) (result i32)
    (table.set (i32.const 1) (local.get 0))
    (call_indirect (type $v) (i32.const 1))))'''


def test_function_references_do_not_cross_runtimes(rt):
    """A function of runtime A stored in B's table or global, or passed to or
    returned into B's code, would run under A's engine and limits (and after A is
    closed): every path into B's store refuses it, with ValueError; B's own
    functions and host functions of no runtime pass."""
    mine = rt.instantiate(REFS)
    with wz.Runtime() as other:
        theirs = other.instantiate(REFS).function("seven")
        table, glob = mine.table("t"), mine.global_("g")
        with pytest.raises(ValueError, match="another runtime"):
            table.set(0, theirs)
        with pytest.raises(ValueError, match="another runtime"):
            table.grow(1, theirs)
        with pytest.raises(ValueError, match="another runtime"):
            glob.value = theirs
        with pytest.raises(ValueError, match="another runtime"):
            mine.function("call_ref")(theirs)        # specialised __call__
        with pytest.raises(ValueError, match="another runtime"):
            mine.function("call_ref2").call_raw(theirs, 0)
        with pytest.raises(ValueError, match="another runtime"):
            wz.Function.__call__(mine.function("call_ref2"), theirs, 0)   # generic path
        assert table.size == 2 and table.get(0) is None and glob.value is None
        builder = wz.HostModuleBuilder(rt, "hg")
        with pytest.raises(ValueError, match="another runtime"):
            builder.global_("g", wz.FUNCREF, theirs)
        with pytest.raises(ValueError, match="another runtime"):
            builder.table("t", wz.FUNCREF, 1, init=theirs)
        # a host function returning the other runtime's function into this one's code
        for results in ([wz.FUNCREF], [wz.FUNCREF, wz.I32]):
            host = (wz.HostModuleBuilder(rt, "h%d" % len(results))
                    .function("f", lambda: theirs if len(results) == 1 else (theirs, 1), [], results)
                    .instantiate())
            user = rt.instantiate('''(module (import "h%d" "f" (func $f (result %s)))
              (func (export "run") %s))''' % (
                len(results), " ".join(["funcref", "i32"][:len(results)]),
                "(drop (call $f))" if len(results) == 1 else "(drop (call $f)) (drop)"))
            with pytest.raises(ValueError, match="another runtime"):
                user.function("run")()
            del host
    # its own functions and unowned host functions still go everywhere
    seven = mine.function("seven")
    mine.table("t").set(0, seven)
    assert mine.function("call0")() == 7
    mine.global_("g").value = seven
    assert mine.global_("g").value == seven
    assert mine.function("call_ref")(seven) == 7
    assert mine.function("call_ref2")(seven, 1) == 7
    mine.table("t").grow(1, seven)
    free = wz.Function(make_free_host())
    assert mine.function("call_ref")(free) == 9


def make_free_host():
    from pywazero.host import make_host_function

    return make_host_function(lambda: 9, [], [wz.I32], name="free")
