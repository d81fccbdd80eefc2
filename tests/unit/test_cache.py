"""The on-disk compilation cache (``pywazero.CompilationCache``): hits and misses,
functions translated during a run stored for the next process, concurrent writers,
corrupt/truncated/mismatched entries, unsafe directories, and the CLI."""
from __future__ import annotations

import io
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import textwrap

import pytest

import pywazero
from pywazero import cli
from pywazero.cache import CacheError, CompilationCache
from pywazero.runtime import CompiledModule, Runtime

ENGINES = ["compiler", "interpreter"]
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir, "src"))
WASI_BIN = os.path.join(HERE, os.pardir, "wasi", "bin")
WASI_EXPECTED = os.path.join(HERE, os.pardir, "wasi", "expected.json")

WAT = """
(module
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $sq (export "sq") (param i64) (result i64) (i64.mul (local.get 0) (local.get 0)))
  (func $unused (export "unused") (result i32) (i32.const 5))
  (func $twice (export "twice") (param i32) (result i32)
    (i32.shl (local.get 0) (i32.const 1))))
"""
WASM = pywazero.wat2wasm(WAT)
FIB, SQ, UNUSED, TWICE = range(4)


@pytest.fixture
def cache_dir(tmp_path):
    return str(tmp_path / "cache")


def runtime(cache, engine="compiler", **kw):
    return Runtime(pywazero.RuntimeConfig(engine=engine, cache=cache, **kw))


def call_some(rt, cm):
    inst = rt.instantiate(cm)
    return inst.function("fib")(15), inst.function("sq")(12345)


class Spy:
    """Counts fresh compilations (decode with validation and the engine's per-module
    work) and translations of compiler functions."""

    def __init__(self, monkeypatch):
        from pywazero.engine.compiler import CompiledWasm
        from pywazero.wasm import validation

        self.fresh = 0
        self.validators = 0
        self.translated = []
        spy = self
        fresh, translate = Runtime._compile_fresh, CompiledWasm._translate
        validator_init = validation.StreamingValidator.__init__

        def compile_fresh(rt, source):
            spy.fresh += 1
            return fresh(rt, source)

        def translate_spy(cw, module, index, *a, **k):
            spy.translated.append(index)
            return translate(cw, module, index, *a, **k)

        def validator_spy(v, *a, **k):
            spy.validators += 1
            return validator_init(v, *a, **k)

        monkeypatch.setattr(Runtime, "_compile_fresh", compile_fresh)
        monkeypatch.setattr(CompiledWasm, "_translate", translate_spy)
        monkeypatch.setattr(validation.StreamingValidator, "__init__", validator_spy)


def translated_indices(cm):
    codes = cm._engine_code().codes
    return {i for i, c in enumerate(codes) if c is not None}


# -- hits and misses ---------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_miss_stores_then_hit_loads_without_validating(cache_dir, engine, monkeypatch):
    spy = Spy(monkeypatch)
    rt = runtime(cache_dir, engine)
    cm = rt.compile(WASM)
    assert spy.fresh == 1 and spy.validators == 1
    entries = CompilationCache(cache_dir).entries()
    assert len(entries) == 1
    if os.name == "posix":
        assert stat.S_IMODE(os.stat(cache_dir).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(entries[0]).st_mode) & 0o077 == 0
    assert call_some(rt, cm) == (610, 12345 * 12345)
    rt.close()

    rt2 = runtime(cache_dir, engine)
    cm2 = rt2.compile(WASM)
    assert spy.fresh == 1 and spy.validators == 1       # a hit: neither again
    assert call_some(rt2, cm2) == (610, 12345 * 12345)
    assert cm2._runtime is rt2
    rt2.close()


def test_functions_translated_in_a_run_are_in_the_next_runtime(cache_dir, monkeypatch):
    spy = Spy(monkeypatch)
    rt = runtime(cache_dir)
    cm = rt.compile(WASM)
    call_some(rt, cm)
    assert sorted(set(spy.translated)) == [FIB, SQ]
    rt.close()   # the runtime's compiled modules add what they translated

    spy.translated.clear()
    rt2 = runtime(cache_dir)
    cm2 = rt2.compile(WASM)
    assert translated_indices(cm2) == {FIB, SQ}
    inst = rt2.instantiate(cm2)
    assert inst.function("fib")(20) == 6765 and inst.function("sq")(3) == 9
    assert spy.translated == []                      # loaded, not translated again
    assert inst.function("twice")(21) == 42
    assert spy.translated == [TWICE]
    cm2.close()   # a CompiledModule's close adds them too

    rt3 = runtime(cache_dir)
    assert translated_indices(rt3.compile(WASM)) == {FIB, SQ, TWICE}


def test_functions_run_on_the_cheap_tier_are_stored_compiled(cache_dir, monkeypatch):
    from pywazero.engine.compiler import CompilerEngine

    monkeypatch.setattr(CompilerEngine, "tier_min_size", 0)   # every function starts interpreted
    rt = runtime(cache_dir)
    cm = rt.compile(WASM)
    assert rt.instantiate(cm).function("twice")(4) == 8
    assert translated_indices(cm) == set()            # ran on the interpreter only
    rt.close()
    spy = Spy(monkeypatch)
    rt2 = runtime(cache_dir)
    cm2 = rt2.compile(WASM)
    assert translated_indices(cm2) == {TWICE}
    assert rt2.instantiate(cm2).function("twice")(5) == 10
    assert spy.translated == []


def test_flush_merges_what_another_runtime_wrote(cache_dir):
    # two runtimes load the same entry; each translates something else
    rt_a, rt_b = runtime(cache_dir), runtime(cache_dir)
    cm_a, cm_b = rt_a.compile(WASM), rt_b.compile(WASM)
    rt_a.instantiate(cm_a).function("fib")(3)
    rt_b.instantiate(cm_b).function("twice")(3)
    cm_a.close()
    cm_b.close()   # written after a's entry: must keep a's functions
    cm = runtime(cache_dir).compile(WASM)
    assert translated_indices(cm) == {FIB, TWICE}


def test_text_modules_and_other_settings_are_separate(cache_dir):
    rt = runtime(cache_dir)
    rt.compile(WAT)                                   # text: not cached
    assert CompilationCache(cache_dir).entries() == []
    rt.compile(WASM)
    runtime(cache_dir, "interpreter").compile(WASM)
    runtime(cache_dir, consume_fuel=True).compile(WASM)
    runtime(cache_dir, core_features=pywazero.CoreFeatures.V2).compile(WASM)
    assert len(CompilationCache(cache_dir).entries()) == 4


def test_fuel_runs_from_a_cached_module_count_the_same(cache_dir):
    def fuel_used(rt):
        rt.set_fuel(10 ** 6)
        rt.instantiate(rt.compile(WASM)).function("fib")(10)
        used = 10 ** 6 - rt.get_fuel()
        rt.close()
        return used

    plain = fuel_used(Runtime(pywazero.RuntimeConfig(consume_fuel=True)))
    assert fuel_used(runtime(cache_dir, consume_fuel=True)) == plain   # miss
    assert fuel_used(runtime(cache_dir, consume_fuel=True)) == plain   # hit


def test_config_accepts_a_path_and_rejects_other_types(cache_dir):
    cfg = pywazero.RuntimeConfig(cache=cache_dir)
    assert isinstance(cfg.cache, CompilationCache) and cfg.cache.directory == os.path.abspath(cache_dir)
    assert cfg == pywazero.RuntimeConfig(cache=CompilationCache(cache_dir))
    with pytest.raises(TypeError, match="cache must be"):
        pywazero.RuntimeConfig(cache=42)
    with pytest.raises(TypeError, match="directory must be"):
        CompilationCache(42)


def test_clear(cache_dir):
    runtime(cache_dir).compile(WASM)
    c = CompilationCache(cache_dir)
    assert len(c.entries()) == 1
    c.clear()
    assert c.entries() == []


# -- damaged and mismatched entries ----------------------------------------------------------


def _damage(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "corrupt":
        mid = len(data) // 2
        data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
    elif how == "empty":
        data = b""
    elif how == "garbage":
        data = os.urandom(200)
    with open(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("how", ["truncated", "corrupt", "empty", "garbage"])
@pytest.mark.parametrize("engine", ENGINES)
def test_damaged_entry_is_ignored_and_rebuilt(cache_dir, how, engine, monkeypatch):
    runtime(cache_dir, engine).compile(WASM).close()
    (entry,) = CompilationCache(cache_dir).entries()
    _damage(entry, how)
    spy = Spy(monkeypatch)
    rt = runtime(cache_dir, engine)
    cm = rt.compile(WASM)
    assert spy.fresh == 1                              # compiled again, not trusted
    assert call_some(rt, cm) == (610, 12345 * 12345)
    key = os.path.basename(entry)[:-len(".pwzc")]
    assert CompilationCache(cache_dir).read(key) is not None    # rebuilt whole
    spy.fresh = 0
    runtime(cache_dir, engine).compile(WASM)
    assert spy.fresh == 0


@pytest.mark.parametrize("payload", [b"", b"not a serialized module", b"\x00asm\x01\x00\x00\x00"])
def test_intact_entry_with_an_unloadable_payload_is_rebuilt(cache_dir, payload, monkeypatch):
    rt = runtime(cache_dir)
    key = CompilationCache.key(WASM, rt)
    CompilationCache(cache_dir).write(key, payload)   # the envelope's check passes
    spy = Spy(monkeypatch)
    cm = rt.compile(WASM)
    assert spy.fresh == 1 and call_some(rt, cm) == (610, 12345 * 12345)
    assert CompilationCache(cache_dir).read(key) != payload


def test_version_change_is_a_miss(cache_dir, monkeypatch):
    runtime(cache_dir).compile(WASM)
    monkeypatch.setattr(pywazero, "__version__", "999.0")
    spy = Spy(monkeypatch)
    rt = runtime(cache_dir)
    cm = rt.compile(WASM)
    assert spy.fresh == 1 and call_some(rt, cm) == (610, 12345 * 12345)
    assert len(CompilationCache(cache_dir).entries()) == 2


def test_payload_from_another_version_under_our_key_is_rebuilt(cache_dir, monkeypatch):
    # an entry whose payload says another pywazero wrote it (as if the key had
    # collided): deserialize refuses it, the cache compiles again
    rt = runtime(cache_dir)
    monkeypatch.setattr(pywazero, "__version__", "0.0.1-other")
    try:
        payload = Runtime().compile(WASM).serialize()
    finally:
        monkeypatch.undo()
    key = CompilationCache.key(WASM, rt)
    CompilationCache(cache_dir).write(key, payload)
    spy = Spy(monkeypatch)
    rt2 = runtime(cache_dir)
    cm2 = rt2.compile(WASM)
    assert spy.fresh == 1                            # refused by deserialize: compiled again
    assert call_some(rt2, cm2) == (610, 12345 * 12345)
    assert CompilationCache(cache_dir).read(key) != payload


# -- unsafe directories and entries -----------------------------------------------------------


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions (not checked on Windows)")


@posix_only
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702, 0o722])
def test_directory_writable_by_others_is_refused(tmp_path, mode):
    d = tmp_path / "shared"
    d.mkdir()
    os.chmod(d, mode)
    with pytest.raises(CacheError, match="writable by group or others"):
        CompilationCache(str(d))
    with pytest.raises(CacheError):
        pywazero.RuntimeConfig(cache=str(d))


@posix_only
def test_directory_of_another_user_is_refused(tmp_path, monkeypatch):
    d = tmp_path / "theirs"
    d.mkdir(mode=0o700)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(d).st_uid + 1)
    with pytest.raises(CacheError, match="owned by another user"):
        CompilationCache(str(d))


@posix_only
def test_unsafe_entry_is_refused(cache_dir):
    rt = runtime(cache_dir)
    rt.compile(WASM)
    (entry,) = CompilationCache(cache_dir).entries()
    os.chmod(entry, 0o666)
    with pytest.raises(CacheError, match="writable by group or others"):
        rt.compile(WASM)
    os.unlink(entry)
    os.symlink("/dev/null", entry)
    with pytest.raises(CacheError, match="symbolic link"):
        rt.compile(WASM)


def test_path_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(CacheError, match="not a directory"):
        CompilationCache(str(f))


def test_unwritable_directory_still_compiles(cache_dir, monkeypatch):
    c = CompilationCache(cache_dir)
    monkeypatch.setattr(c, "directory", os.path.join(cache_dir, "gone"))
    rt = runtime(c)
    assert call_some(rt, rt.compile(WASM)) == (610, 12345 * 12345)


# -- processes ----------------------------------------------------------------------------


def _worker(args):
    directory, n = args
    rt = runtime(directory)
    cm = rt.compile(WASM)
    inst = rt.instantiate(cm)
    out = (inst.function("fib")(n), inst.function("twice")(n) if n % 2 else inst.function("sq")(n))
    rt.close()
    return out


def test_concurrent_writers(cache_dir):
    ctx = multiprocessing.get_context("spawn")
    jobs = [(cache_dir, n) for n in range(10, 18)]
    with ctx.Pool(4) as pool:
        results = pool.map(_worker, jobs)
    fib = [55, 89, 144, 233, 377, 610, 987, 1597]
    assert results == [(fib[k], 2 * n if n % 2 else n * n) for k, (_, n) in enumerate(jobs)]
    c = CompilationCache(cache_dir)
    (entry,) = c.entries()
    assert not [n for n in os.listdir(cache_dir) if n.startswith(".tmp-")]
    rt = runtime(cache_dir)
    key = CompilationCache.key(WASM, rt)
    assert c.read(key) is not None                     # whole
    cm = rt.compile(WASM)
    assert FIB in translated_indices(cm)
    assert call_some(rt, cm) == (610, 12345 * 12345)


def _child(code, cache_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    script = textwrap.dedent(code)
    r = subprocess.run([sys.executable, "-c", script, cache_dir], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_open_runtimes_are_flushed_at_exit(cache_dir):
    prog = f"""
        import sys, pywazero
        rt = pywazero.Runtime(pywazero.RuntimeConfig(cache=sys.argv[1]))
        wasm = {WASM!r}
        inst = rt.instantiate(rt.compile(wasm))
        print(inst.function("fib")(12), inst.function("sq")(4))
    """
    assert _child(prog, cache_dir).split() == ["144", "16"]   # never closed
    cm = runtime(cache_dir).compile(WASM)
    assert translated_indices(cm) == {FIB, SQ}


# -- the command line -------------------------------------------------------------------------


def run_cli(argv):
    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(argv, stdin=io.BytesIO(b""), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


@pytest.mark.parametrize("engine", [[], ["--interpreter"]])
def test_cli_run_with_cache_dir(cache_dir, engine):
    module = os.path.join(WASI_BIN, "args_env.wasm")
    with open(WASI_EXPECTED) as f:
        expected = json.load(f)["args_none"]["stdout"]
    argv = ["run", "--cache-dir", cache_dir] + engine + [module]
    assert run_cli(argv) == (0, expected, "")        # cold: compiled and stored
    assert len(CompilationCache(cache_dir).entries()) == 1
    assert run_cli(argv) == (0, expected, "")        # warm
    assert len(CompilationCache(cache_dir).entries()) == 1


def test_cli_compile_warms_the_cache_for_run(cache_dir, monkeypatch, tmp_path):
    module = os.path.join(WASI_BIN, "args_env.wasm")
    code, out, err = run_cli(["compile", "--cache-dir", cache_dir, module])
    assert (code, err) == (0, "") and out.endswith(f"; stored in the cache {cache_dir}\n")
    assert len(CompilationCache(cache_dir).entries()) == 1
    spy = Spy(monkeypatch)
    code, out, err = run_cli(["run", "--cache-dir", cache_dir, module])
    assert code == 0 and err == "" and spy.fresh == 0


def test_cli_compile_all_translates_every_function(cache_dir):
    path = os.path.join(cache_dir + "-m.wasm")
    with open(path, "wb") as f:
        f.write(WASM)
    assert run_cli(["compile", "--all", "--cache-dir", cache_dir, path])[0] == 0
    assert translated_indices(runtime(cache_dir).compile(WASM)) == {FIB, SQ, UNUSED, TWICE}


def test_cli_compile_without_cache_checks_only(tmp_path):
    good = tmp_path / "m.wasm"
    good.write_bytes(WASM)
    code, out, err = run_cli(["compile", str(good)])
    assert (code, err) == (0, "") and out.startswith(f"{good}: valid: ") and "stored in the cache" not in out
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(WASM[:-3])
    code, out, err = run_cli(["compile", str(bad)])
    assert code == 1 and "malformed module" in err and "Traceback" not in err


@posix_only
def test_cli_refuses_an_unsafe_cache_dir(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, 0o777)
    module = os.path.join(WASI_BIN, "args_env.wasm")
    for argv in (["run", "--cache-dir", str(d), module], ["compile", "--cache-dir", str(d), module]):
        code, out, err = run_cli(argv)
        assert code == 1 and err.startswith("pywazero: error: --cache-dir: ") and err.count("\n") == 1
        assert "writable by group or others" in err
