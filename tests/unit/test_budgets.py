"""Resource budgets (RuntimeConfig max_memory_bytes, max_table_elements, max_instances,
max_tables, max_memories): grow past a budget returns -1 to the guest and to the host
API, instantiation past one raises ResourceLimitError, on both engines."""
import gc

import pytest

import pywazero as wz
from pywazero.wasm.instance import TABLE_GROW_LIMIT

ENGINES = ["compiler", "interpreter"]
PAGE = 65536

GROWER = """(module
  (memory (export "mem") {pages})
  (table (export "tab") {elems} funcref)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "tsize") (result i32) (table.size)))"""


def runtime(engine, **budgets):
    return wz.Runtime(wz.RuntimeConfig(engine=engine, **budgets))


def grower(rt, pages=1, elems=0):
    return rt.instantiate(GROWER.format(pages=pages, elems=elems))


# -- configuration ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["max_memory_bytes", "max_table_elements", "max_instances",
                                  "max_tables", "max_memories"])
def test_budget_values_are_checked(name):
    assert getattr(wz.RuntimeConfig(), name) is None
    assert getattr(wz.RuntimeConfig(**{name: 0}), name) == 0
    for bad in ("1", 1.5, True):
        with pytest.raises(TypeError, match=name):
            wz.RuntimeConfig(**{name: bad})
    with pytest.raises(ValueError, match=name):
        wz.RuntimeConfig(**{name: -1})


def test_error_type_is_exported_and_a_link_error():
    assert issubclass(wz.ResourceLimitError, wz.LinkError)
    e = wz.ResourceLimitError("max_instances", 3, 2)
    assert (e.limit, e.requested, e.budget) == ("max_instances", 3, 2)
    assert "max_instances" in str(e) and "3" in str(e) and "2" in str(e)


def test_no_budget_counts_nothing():
    assert wz.Runtime()._budget is None
    assert wz.Runtime(wz.RuntimeConfig(max_tables=5))._budget is not None


# -- linear memory ---------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_guest_memory_grow_past_budget_returns_minus_one(engine):
    rt = runtime(engine, max_memory_bytes=4 * PAGE)
    m = grower(rt)
    grow = m.function("grow")
    assert grow(2) == 1
    assert grow(2) == -1          # 5 pages > 4
    assert m.function("size")() == 3
    assert grow(1) == 3
    assert grow(1) == -1
    assert grow(0) == 4           # growing by nothing always works
    assert m.memory("mem").pages == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_memory_budget_is_shared_by_all_instances(engine):
    rt = runtime(engine, max_memory_bytes=5 * PAGE)
    a = grower(rt, pages=2)
    b = grower(rt, pages=2)
    assert a.function("grow")(1) == 2       # 5 pages in all
    assert b.function("grow")(1) == -1
    with pytest.raises(wz.ResourceLimitError) as info:
        grower(rt, pages=1)
    e = info.value
    assert e.limit == "max_memory_bytes" and e.budget == 5 * PAGE and e.requested == 6 * PAGE
    assert "max_memory_bytes" in str(e)


@pytest.mark.parametrize("engine", ENGINES)
def test_host_memory_api_grow_respects_the_budget(engine):
    rt = runtime(engine, max_memory_bytes=3 * PAGE)
    mem = grower(rt).memory("mem")
    assert mem.grow(1) == 1
    assert mem.grow(2) == -1
    assert mem.grow(1) == 2
    assert mem.pages == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_initial_memory_over_budget_is_refused(engine):
    rt = runtime(engine, max_memory_bytes=PAGE)
    with pytest.raises(wz.ResourceLimitError, match="max_memory_bytes"):
        rt.instantiate("(module (memory 2))")
    rt.instantiate("(module (memory 1))")


@pytest.mark.parametrize("engine", ENGINES)
def test_host_module_memories_are_charged(engine):
    rt = runtime(engine, max_memory_bytes=2 * PAGE, max_memories=2)
    rt.host_module("env").memory("m", 1).instantiate()
    with pytest.raises(wz.ResourceLimitError, match="max_memory_bytes"):
        rt.host_module("env2").memory("m", 2)
    importer = rt.instantiate('(module (import "env" "m" (memory 1))'
                              ' (func (export "g") (result i32) (memory.grow (i32.const 1))))')
    own = rt.instantiate("(module (memory 1))")
    assert importer.function("g")() == -1     # the budget is full: 1 host page + 1 own page
    with pytest.raises(wz.ResourceLimitError, match="max_memories"):
        rt.instantiate("(module (memory 0))")
    with pytest.raises(wz.ResourceLimitError, match="max_memories"):
        rt.host_module("env3").memory("m", 0)
    assert own.memory().pages == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_budget_is_given_back_when_instances_are_collected(engine):
    rt = runtime(engine, max_memory_bytes=2 * PAGE, max_instances=1)
    m = grower(rt, pages=2)
    assert m.function("grow")(0) == 2
    with pytest.raises(wz.ResourceLimitError):
        grower(rt, pages=1)
    del m
    gc.collect()
    m = grower(rt, pages=2)       # everything the first instance held came back
    assert m.function("grow")(1) == -1


@pytest.mark.parametrize("engine", ENGINES)
def test_instantiation_collects_garbage_before_refusing(engine):
    # instances are reference cycles: dropping them must not need an explicit gc
    rt = runtime(engine, max_instances=2, max_memory_bytes=2 * PAGE)
    for _ in range(20):
        grower(rt, pages=1)


@pytest.mark.parametrize("engine", ENGINES)
def test_concurrent_grows_never_exceed_the_budget(engine):
    import threading

    rt = runtime(engine, max_memory_bytes=64 * PAGE)
    mods = [grower(rt, pages=1) for _ in range(4)]
    got = []

    def work(m):
        grow, n = m.function("grow"), 0
        while grow(1) != -1:
            n += 1
        got.append(n)

    threads = [threading.Thread(target=work, args=(m,)) for m in mods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(got) == 60
    assert sum(m.memory("mem").pages for m in mods) == 64
    assert rt._budget.used["max_memory_bytes"] == 64 * PAGE


# -- tables ----------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_guest_table_grow_past_budget_returns_minus_one(engine):
    rt = runtime(engine, max_table_elements=10)
    m = grower(rt, elems=4)
    tgrow = m.function("tgrow")
    assert tgrow(6) == 4
    assert tgrow(1) == -1
    assert m.function("tsize")() == 10
    assert m.table("tab").grow(1) == -1          # the host API too
    assert m.table("tab").grow(0) == 10


@pytest.mark.parametrize("engine", ENGINES)
def test_table_budget_is_shared_and_checked_at_instantiation(engine):
    rt = runtime(engine, max_table_elements=10, max_tables=2)
    kept = [grower(rt, elems=6)]
    with pytest.raises(wz.ResourceLimitError) as info:
        grower(rt, elems=5)
    assert info.value.limit == "max_table_elements"
    assert info.value.budget == 10 and info.value.requested == 11
    kept.append(grower(rt, elems=4))
    with pytest.raises(wz.ResourceLimitError, match="max_tables"):
        grower(rt, elems=0)
    with pytest.raises(wz.ResourceLimitError, match="max_tables"):
        rt.host_module("env").table("t", min=0)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("size", [TABLE_GROW_LIMIT + 1, 200_000_000, 0xFFFFFFFF])
def test_huge_initial_table_is_refused_without_allocating(engine, size):
    rt = runtime(engine)
    with pytest.raises(wz.ResourceLimitError) as info:
        rt.instantiate(f"(module (table {size} funcref))")
    assert info.value.limit == "max_table_elements"
    assert info.value.budget == TABLE_GROW_LIMIT and info.value.requested == size
    with pytest.raises(wz.ResourceLimitError):
        rt.host_module("env").table("t", min=size)


@pytest.mark.parametrize("engine", ENGINES)
def test_max_table_elements_replaces_the_per_table_cap(engine):
    rt = runtime(engine, max_table_elements=8)
    with pytest.raises(wz.ResourceLimitError, match="the most one table may hold"):
        rt.instantiate("(module (table 9 funcref))")
    m = grower(rt, elems=8)
    assert m.function("tgrow")(1) == -1


# -- instances -------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_max_instances(engine):
    rt = runtime(engine, max_instances=2)
    rt.host_module("env").function("f", lambda: None).instantiate()  # host modules don't count
    cm = rt.compile("(module)")
    kept = [rt.instantiate(cm), rt.instantiate(cm)]
    with pytest.raises(wz.ResourceLimitError) as info:
        rt.instantiate(cm)
    assert info.value.limit == "max_instances" and info.value.requested == 3
    assert info.value.budget == 2
    assert len(kept) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_refused_instantiation_allocates_nothing(engine):
    rt = runtime(engine, max_tables=1, max_memories=1, max_memory_bytes=PAGE)
    with pytest.raises(wz.ResourceLimitError, match="max_tables"):
        rt.instantiate("(module (table 1 funcref) (table 1 funcref) (memory 1))")
    with pytest.raises(wz.ResourceLimitError, match="max_memory_bytes"):
        rt.instantiate("(module (table 1 funcref) (memory 2))")
    # nothing of the refused modules stayed charged
    m = rt.instantiate("(module (table 1 funcref) (memory 1))")
    assert rt._budget.used == {"max_memory_bytes": PAGE, "max_table_elements": 1, "max_instances": 1,
                               "max_tables": 1, "max_memories": 1}
    assert m.memory().pages == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_budgets_combine_with_the_page_limit(engine):
    rt = runtime(engine, max_memory_bytes=100 * PAGE)
    rt2 = wz.Runtime(wz.RuntimeConfig(engine=engine, memory_limit_pages=2, max_memory_bytes=100 * PAGE))
    assert grower(rt).function("grow")(5) == 1
    assert grower(rt2).function("grow")(5) == -1


# -- command line ----------------------------------------------------------------------
def run_cli(argv):
    import io

    from pywazero import cli

    out, err = io.BytesIO(), io.BytesIO()
    code = cli.main(argv, stdin=io.BytesIO(), stdout=out, stderr=err)
    return code, out.getvalue().decode(), err.getvalue().decode()


# _start traps (exit 134) unless memory.grow gives what is expected
CLI_GROW = """(module (memory {pages})
  (func (export "_start")
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const {expect})) (then unreachable))))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_cli_max_memory(engine, tmp_path):
    path = tmp_path / "g.wat"
    path.write_text(CLI_GROW.format(pages=2, expect=-1))
    assert run_cli(["run", "--engine", engine, "--max-memory", "128K", str(path)])[0] == 0
    assert run_cli(["run", "--engine", engine, "--max-memory", "192K", str(path)])[0] == 134
    path.write_text(CLI_GROW.format(pages=2, expect=2))
    assert run_cli(["run", "--engine", engine, "--max-memory", "1MiB", str(path)])[0] == 0
    assert run_cli(["run", "--engine", engine, str(path)])[0] == 0
    code, _, err = run_cli(["run", "--engine", engine, "--max-memory", "65536", str(path)])
    assert code == 1
    assert "max_memory_bytes" in err and len(err.strip().splitlines()) == 1, err


def test_cli_max_memory_usage_error(tmp_path):
    code, _, err = run_cli(["run", "--max-memory", "lots", str(tmp_path / "x.wat")])
    assert code == 2 and "invalid size" in err


def test_cli_allocation_failure_is_one_line(tmp_path):
    path = tmp_path / "t.wat"
    path.write_text('(module (table 0xffffffff funcref) (func (export "_start")))')
    code, _, err = run_cli(["run", str(path)])
    assert code == 1
    assert "max_table_elements" in err and len(err.strip().splitlines()) == 1, err
