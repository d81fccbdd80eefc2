"""The compiler's lowering of C ``switch`` statements (nested blocks ending in a
``br_table``, codegen's ``_Switch``): cases inlined into the dispatch tree, the
guarded chain for the others; and of blocks left only by ``br_if``/``br`` at their
own top level (``_branch_facts``: ``if not cond:`` instead of a one-shot loop).  Every
program runs on both engines, which must agree on results, traps and fuel."""
from __future__ import annotations

import random

import pytest

import pywazero as wz
from pywazero.engine import compiler as C


def run(engine, src, args, fuel=None):
    """``("ok", result)`` or ``("trap", reason)``, and the fuel consumed."""
    cfg = wz.RuntimeConfig(engine=engine, consume_fuel=fuel is not None)
    with wz.Runtime(cfg) as r:
        m = r.instantiate(src)
        if fuel is not None:
            r.set_fuel(fuel)
        try:
            out = ("ok", m.function("f")(*args))
        except wz.Trap as e:
            out = ("trap", e.reason)
        return out, (fuel - r.get_fuel() if fuel is not None else None)


def agree(src, arglist, fuel=None):
    results = []
    for args in arglist:
        a = run("interpreter", src, args, fuel)
        b = run("compiler", src, args, fuel)
        assert a == b, (args, a, b)
        results.append(b[0])
    return results


def compiled(src):
    with wz.Runtime(wz.RuntimeConfig(engine="compiler")) as r:
        cm = r.compile(src)
        cw = cm._engine_code()
        return [C.dump(cm, cw.nimp + k) for k in range(len(cw.codes))], cw.fallback_reasons


def vm_module(ncases, extra=""):
    """A dispatch loop like a bytecode interpreter's: ``f(x, n)`` runs ``n`` steps,
    step ``i`` takes case ``(x + 7 i) mod (ncases + 1)`` (the last one is the
    default); every case ends by branching back to the loop, except case 1 (falls
    into case 2) and case 3 (breaks out of the switch to a common tail)."""
    labels = " ".join("$c%d" % k for k in range(ncases))
    sw = ("(br_table %s $dflt (i32.rem_u (i32.add (local.get $x) (i32.mul (local.get $i) (i32.const 7)))"
          " (i32.const %d)))" % (labels, ncases + 1))
    body = "(block $c%d %s)" % (ncases - 1, sw)
    for k in range(ncases - 1, -1, -1):
        outer = "$c%d" % (k - 1) if k else "$dflt"
        case = "(local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (i32.const %d)))" % (k + 1)
        if k == 1:
            tail = ""            # falls through into case 2
        elif k == 3:
            tail = "(br $exit)"  # to the common tail
        else:
            tail = "(br $top)"
        body = "(block %s %s %s %s)" % (outer, body, case, tail)
    return ("(module (func (export \"f\") (param $x i32) (param $n i32) (result i32)"
            " (local $acc i32) (local $i i32)"
            " (block $done (loop $top"
            "  (br_if $done (i32.ge_u (local.get $i) (local.get $n)))"
            "  (local.set $i (i32.add (local.get $i) (i32.const 1)))"
            "  (block $exit %s"
            "   (local.set $acc (i32.xor (local.get $acc) (i32.const 0x5555))) %s (br $top))"
            "  (local.set $acc (i32.add (local.get $acc) (i32.const 1000))) (br $top)))"
            " (local.get $acc)))" % (body, extra))


def test_vm_dispatch_cases_run_in_the_tree():
    src = vm_module(12)
    agree(src, [(x, n) for x in (0, 3, 11) for n in (0, 1, 40)])
    (text,), fallback = compiled(src)
    assert fallback == {}
    # cases ending in a branch to the loop are inlined: a plain continue, no flags
    assert "_br" not in text
    assert text.count("continue") >= 10


def test_vm_dispatch_fuel_matches_interpreter():
    src = vm_module(9)
    agree(src, [(2, 30)], fuel=10**6)
    # running out at many points: same trap, same fuel left
    for fuel in range(1, 400, 37):
        agree(src, [(5, 30)], fuel=fuel)


def test_huge_switch_compiles_and_runs():
    src = vm_module(700)
    agree(src, [(0, 60), (699, 3), (700, 3)])
    _, fallback = compiled(src)
    assert fallback == {}


def test_sparse_table_with_repeated_targets():
    # the same case under several runs of indices: dispatched through the chain
    labels = " ".join(("$a", "$b", "$a", "$c", "$b", "$b", "$a", "$d"))
    src = ("(module (func (export \"f\") (param $x i32) (result i32) (local $r i32)"
           " (block $out (block $d (block $c (block $b (block $a"
           "  (br_table %s $c (local.get $x)))"
           "  (local.set $r (i32.const 1)) (br $out))"
           "  (local.set $r (i32.const 2)) (br $out))"
           "  (local.set $r (i32.const 3)) (br $out))"
           "  (local.set $r (i32.const 4)))"
           " (local.get $r)))" % labels)
    got = agree(src, [(x,) for x in range(-1, 12)])
    assert [v for _, v in got] == [3, 1, 2, 1, 3, 2, 2, 1, 4, 3, 3, 3, 3]


def test_cases_with_loops_values_and_nested_switches():
    inner = ("(block $i2 (block $i1 (block $i0 (br_table $i0 $i1 $i2 (i32.and (local.get $x) (i32.const 3))))"
             "  (local.set $r (i32.add (local.get $r) (i32.const 10))) (br $top))"
             "  (local.set $r (i32.add (local.get $r) (i32.const 20))) (br $s1))"
             " (local.set $r (i32.add (local.get $r) (i32.const 30)))")
    src = ("(module (func (export \"f\") (param $x i32) (result i32) (local $r i32) (local $k i32)"
           " (local.set $k (i32.const 6))"
           " (loop $top"
           "  (local.set $k (i32.sub (local.get $k) (i32.const 1)))"
           "  (if (i32.lt_s (local.get $k) (i32.const 0)) (then (return (local.get $r))))"
           "  (local.set $x (i32.add (local.get $x) (i32.const 1)))"
           "  (block $s1 (block $s2 (block $s3 (block $s4"
           "   (br_table $s4 $s3 $s2 $s1 $top (i32.rem_u (local.get $x) (i32.const 6))))"
           # a loop inside a case
           "   (loop $l (local.set $r (i32.add (local.get $r) (i32.const 1)))"
           "    (br_if $l (i32.and (local.get $r) (i32.const 7))))"
           "   (br $top))"
           # a nested switch inside a case
           "   %s (br $top))"
           # a case carrying a value out through a block with a result
           "   (local.set $r (i32.add (local.get $r) (block (result i32)"
           "     (drop (br_if 0 (i32.const 7) (i32.and (local.get $x) (i32.const 1)))) (i32.const 5))))"
           "   (br $s1))"
           "  (local.set $r (i32.mul (local.get $r) (i32.const 3)))"
           "  (br $top))"
           " (unreachable)))" % inner)
    agree(src, [(x,) for x in range(0, 14)])
    agree(src, [(3,)], fuel=10**5)


def test_br_table_carrying_values():
    # blocks with results: the general chain
    src = ("(module (func (export \"f\") (param $x i32) (result i32)"
           " (block $a (result i32) (block $b (result i32) (block $c (result i32) (block $d (result i32)"
           "  (i32.mul (local.get $x) (i32.const 3))"
           "  (br_table $a $b $c $d $b (local.get $x)))"
           "  (i32.const 1) (i32.add) (br $a))"
           "  (i32.const 2) (i32.add))"
           "  (i32.const 4) (i32.add) (br $a))"
           "  (i32.const 8) (i32.add)))")
    got = agree(src, [(x,) for x in range(-1, 7)])
    assert [v for _, v in got] == [9, 8, 15, 20, 18, 24, 27, 30]


def test_branch_out_of_the_switch_from_inside_a_case():
    # case 0 leaves the switch from inside an if (not its last instruction): the
    # case is not inlined, the rest are
    src = ("(module (func (export \"f\") (param $x i32) (result i32) (local $r i32)"
           " (block $out (block $c2 (block $c1 (block $c0"
           "  (br_table $c0 $c1 $c2 (local.get $x)))"
           "  (if (i32.eqz (local.get $r)) (then (local.set $r (i32.const 7)) (br $out)))"
           "  (local.set $r (i32.const 1)) (return (local.get $r)))"
           "  (local.set $r (i32.const 2)) (br $out))"
           "  (local.set $r (i32.const 3)))"
           " (i32.add (local.get $r) (i32.const 100))))")
    got = agree(src, [(x,) for x in range(-1, 5)])
    assert [v for _, v in got] == [103, 107, 102, 103, 103, 103]


def test_branch_before_the_dispatch():
    # a range check before the br_table branching to the default: the plain chain
    src = ("(module (func (export \"f\") (param $x i32) (result i32)"
           " (block $d (block $b (block $a"
           "  (br_if $d (i32.gt_u (local.get $x) (i32.const 5)))"
           "  (br_table $a $b $d (local.get $x)))"
           "  (return (i32.const 1)))"
           "  (return (i32.const 2)))"
           " (i32.const 3)))")
    got = agree(src, [(x,) for x in range(-1, 8)])
    assert [v for _, v in got] == [3, 1, 2, 3, 3, 3, 3, 3, 3]


def _random_switch(rng, k):
    """A loop around a switch of ``k`` cases with random case endings: fall through,
    branches to the loop, out of it, to other cases' blocks (also from inside an
    ``if``), returns, traps."""
    names = ["$b%d" % m for m in range(1, k + 1)]   # $b1 outermost
    pool = names + ["$top", "$done"]
    labels = [rng.choice(pool) for _ in range(rng.randrange(1, 2 * k))]
    if rng.random() < 0.5:   # dense: every case once, in order
        labels = names[::-1]
    sel = "(i32.rem_u (i32.add (local.get $x) (i32.mul (local.get $i) (i32.const 7))) (i32.const %d))" % (
        len(labels) + 2)
    body = "(block %s (br_table %s %s %s))" % (names[-1], " ".join(labels), rng.choice(pool), sel)
    for m in range(k, 1, -1):   # the code after B_m's end, inside B_(m-1)
        outer = names[:m - 1]
        reach = outer + ["$top", "$done"]
        work = "(local.set $acc (i32.add (i32.mul (local.get $acc) (i32.const 31)) (i32.const %d)))" % m
        r = rng.random()
        if r < 0.2:
            tail = ""
        elif r < 0.45:
            tail = "(br $top)"
        elif r < 0.65:
            tail = "(br %s)" % rng.choice(reach)
        elif r < 0.75:
            tail = "(if (i32.and (local.get $acc) (i32.const 1)) (then (br %s))) %s (br $top)" % (
                rng.choice(reach), work)
        elif r < 0.82:
            tail = "(br_if %s (i32.and (local.get $acc) (i32.const 2))) (br %s)" % (
                rng.choice(reach), rng.choice(reach))
        elif r < 0.9:
            tail = "(return (local.get $acc))"
        elif r < 0.95:
            tail = ("(loop $l (local.set $acc (i32.add (local.get $acc) (i32.const 3)))"
                    " (br_if $l (i32.and (local.get $acc) (i32.const 4)))) (br $top)")
        else:
            tail = "(if (i32.gt_u (local.get $i) (i32.const 40)) (then unreachable)) (br $top)"
        body = "(block %s %s %s %s)" % (names[m - 2], body, work, tail)
    return ("(module (func (export \"f\") (param $x i32) (param $n i32) (result i32)"
            " (local $acc i32) (local $i i32)"
            " (block $done (loop $top"
            "  (br_if $done (i32.ge_u (local.get $i) (local.get $n)))"
            "  (local.set $i (i32.add (local.get $i) (i32.const 1)))"
            "  %s"
            "  (local.set $acc (i32.xor (local.get $acc) (i32.const 0x5A5A)))"
            "  (br $top)))"
            " (local.get $acc)))" % body)


@pytest.mark.parametrize("seed", range(40))
def test_random_switches_agree(seed):
    rng = random.Random(seed)
    src = _random_switch(rng, rng.randrange(2, 12))
    agree(src, [(x, 50) for x in (0, 1, 5)])
    if seed % 4 == 0:
        agree(src, [(2, 50)], fuel=10**5)
        agree(src, [(2, 50)], fuel=rng.randrange(5, 300))


def test_deeply_nested_switches_still_compile():
    # switches nested in cases: inlined cases nest deeper than the chain; the
    # generator falls back to the chain rather than to the interpreter
    def nest(level):
        if level == 0:
            return "(local.set $acc (i32.add (local.get $acc) (i32.const 1)))"
        names = ["$s%d_%d" % (level, m) for m in range(64)]
        body = "(block %s (br_table %s (i32.rem_u (i32.add (local.get $x) (i32.const %d)) (i32.const 64))))" % (
            names[-1], " ".join(names[::-1]), level)
        for m in range(63, 0, -1):
            inner = nest(level - 1) if m == 63 else \
                "(local.set $acc (i32.add (local.get $acc) (i32.const %d)))" % m
            body = "(block %s %s %s (br $top))" % (names[m - 1], body, inner)
        return body + " (local.set $acc (i32.mul (local.get $acc) (i32.const 3)))"
    src = ("(module (func (export \"f\") (param $x i32) (param $n i32) (result i32) (local $acc i32)"
           " (block $done (loop $top"
           "  (br_if $done (i32.eqz (local.get $n)))"
           "  (local.set $n (i32.sub (local.get $n) (i32.const 1)))"
           "  (local.set $x (i32.add (local.get $x) (i32.const 1)))"
           "  %s (br $top)))"
           " (local.get $acc)))" % nest(17))
    agree(src, [(x, 20) for x in (0, 62, 63)])
    _, fallback = compiled(src)
    assert fallback == {}


def early_exits(nbr_if, extra=""):
    """``f(x)``: a block left by ``nbr_if`` top-level br_ifs (exit k when x == k)
    inside a loop, each exit path different; ``extra`` goes before the block's end."""
    steps = "".join(
        "(local.set $r (i32.add (local.get $r) (i32.const %d)))"
        " (br_if $b (i32.eq (local.get $x) (i32.const %d)))" % (k + 1, k) for k in range(nbr_if))
    return ("(module (func (export \"f\") (param $x i32) (result i32) (local $r i32) (local $n i32)"
            " (loop $top"
            "  (local.set $n (i32.add (local.get $n) (i32.const 1)))"
            "  (if (i32.gt_u (local.get $n) (i32.const 5)) (then (return (local.get $r))))"
            "  (block $b %s %s (local.set $r (i32.mul (local.get $r) (i32.const 3)))"
            "   (br_if $top (i32.lt_u (local.get $n) (i32.const 3))))"
            "  (local.set $r (i32.add (local.get $r) (i32.const 100))))"
            " (local.get $r)))" % (steps, extra))


@pytest.mark.parametrize("nbr_if", [1, 3, 8, 9, 20])
def test_blocks_left_by_br_if_agree(nbr_if):
    src = early_exits(nbr_if)
    agree(src, [(x,) for x in range(-1, nbr_if + 2)])
    agree(src, [(1,), (nbr_if + 5,)], fuel=10**4)
    for fuel in (1, 5, 17, 40):
        agree(src, [(nbr_if - 1,)], fuel=fuel)


def test_block_left_by_br_if_has_no_loop():
    (text,), _ = compiled(early_exits(3))
    # the loop $top is the only Python loop; the block's exits are nested ifs, and
    # the branch back to the loop from inside them is a plain continue
    assert text.count("while True") == 1
    assert "_br" not in text
    assert "if not (" in text


@pytest.mark.parametrize("extra", [
    "(br $b)",                                         # a br to it at its top level
    "(if (local.get $x) (then (br $b)))",              # a nested branch: a loop again
    "(br_if $top (i32.eqz (local.get $x)))",           # a branch to the loop from inside
    "(block $c (br_if $c (local.get $x)) (br_if $b (i32.const 1)))",   # nested nestable
    "(br_table $b $top $b (i32.and (local.get $x) (i32.const 3)))",   # a br_table to it
])
def test_block_lowering_variants_agree(extra):
    src = early_exits(3, extra)
    agree(src, [(x,) for x in range(-1, 6)])
    agree(src, [(4,)], fuel=10**4)


def test_block_with_result_left_by_br_if():
    # results: the one-shot loop (the values move into slots on the branch)
    src = ("(module (func (export \"f\") (param $x i32) (result i32)"
           " (block $b (result i32) (br_if $b (i32.const 7) (i32.eqz (local.get $x)))"
           "  (drop) (i32.mul (local.get $x) (i32.const 5)))))")
    got = agree(src, [(x,) for x in range(-1, 4)])
    assert [v for _, v in got] == [-5, 7, 5, 10, 15]
