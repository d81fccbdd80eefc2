"""The real-program benchmarks (bench/programs) at tiny sizes: every C program prints,
on both engines, exactly what its plain-Python twin prints, and the twins agree with
independent oracles (hashlib, zlib, sorted, collections.Counter)."""
from __future__ import annotations

import collections
import hashlib
import re
import sys
import zlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH / "programs"))
sys.path.insert(0, str(BENCH))

import real_programs  # noqa: E402
import twins  # noqa: E402

TINY = {p.name: p for p in real_programs.programs(0.005)}


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
@pytest.mark.parametrize("name", sorted(TINY))
def test_program_matches_twin(name: str, engine: str) -> None:
    prog = TINY[name]
    data = prog.input()
    _, _, out = real_programs.run_pywazero(prog, engine, data)
    assert out == prog.run_twin(data)
    assert "DISAGREE" not in out and "FAILED" not in out


@pytest.mark.parametrize("n", [0, 1, 55, 56, 63, 64, 65, 200])
def test_sha256_twin_is_sha256(n: int) -> None:
    data = bytes(range(256))[:n] * 3
    assert twins.sha256_digest(data) == hashlib.sha256(data).digest()


def test_sha256_rounds_against_hashlib() -> None:
    buf = bytearray(twins.lcg_bytes(100))
    for _ in range(3):
        digest = hashlib.sha256(buf).digest()
        buf[:32] = digest
    assert twins.sha256(100, 3).endswith(digest.hex() + "\n")


def test_crc32_twin_is_crc32() -> None:
    assert twins.crc32(3000) == "crc32 of 3000 bytes: %08x\n" % zlib.crc32(twins.lcg_bytes(3000))


def test_sort_twins_sort() -> None:
    values = twins._xorshift_values(500)
    expected = sorted(values)
    assert twins.sort(500) == "sorted 500 ints three ways: agree, checksum %d, median %d\n" % (
        twins._checksum(expected), expected[250])
    assert twins.qsort(500) == "sorted 500 ints, checksum %d\n" % twins._checksum(expected)


def test_vm_counts_primes() -> None:
    primes = [p for p in range(2, 500) if all(p % d for d in range(2, int(p ** 0.5) + 1))]
    assert twins.vm(500).startswith("primes below 500: %d, sum %d," % (len(primes), sum(primes)))


def test_wordcount_twin_against_counter() -> None:
    text = real_programs.words_text(5000)
    counts = collections.Counter(re.findall(rb"[a-z]+", text.lower()))
    lines = twins.wordcount(text).splitlines()
    assert lines[0] == "5000 bytes, %d words, %d distinct" % (sum(counts.values()), len(counts))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert lines[1:] == ["%d %s" % (c, w.decode()) for w, c in top]


def test_lz77_round_trip_and_compresses() -> None:
    text = twins.lz77_text(3000)
    packed = twins.lz77_compress(text)
    assert twins.lz77_decompress(packed) == text
    assert len(packed) < len(text) * 0.7


@pytest.mark.parametrize("engine", ["compiler", "interpreter"])
def test_wordcount_twin_on_edge_bytes(engine: str) -> None:
    """The twin scans bytes as the C program does: only ASCII letters make words
    (the neighbours of 'A'-'Z' and 'a'-'z', '@[`{', digits and bytes >= 0x80 split
    them), lowercased; the C program's output is the reference."""
    text = (b"Hello hELLO@world[World`wORLD{x 9lives caf\xc3\xa9 na\xefve \xc1b \xff"
            b"\x80zz ZZ zz\tzz\nA a a b B b b c\x00c")
    prog = real_programs.Program("wordcount", [len(text)], twins.wordcount,
                                 stdin=lambda n: text)
    _, _, out = real_programs.run_pywazero(prog, engine, text)
    assert out == twins.wordcount(text)
    # (counted by hand: hello 2, world 3, b 5 (one after \xc1), zz 4, a 3, c 2 and
    # x, lives, caf, na, ve once each)
    assert out.splitlines()[:5] == ["%d bytes, 24 words, 11 distinct" % len(text),
                                    "5 b", "4 zz", "3 a", "3 world"]


def test_real_ab_interpreters_table(capsys: pytest.CaptureFixture) -> None:
    """bench/real_ab.py --pypy (here with this Python standing in for PyPy): every
    side runs in its own child, outputs agree, and the table has a row per program
    with its speed-up and the kernels' geometric mean."""
    import real_ab

    assert real_ab.main(["--pypy", sys.executable, "--rounds", "1", "--scale", "0.005",
                         "--only", "nbody,crc32"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {ln.split("|")[1].strip(): ln for ln in lines if ln.startswith("| ")}
    assert {"nbody", "crc32", "geometric mean (kernels)"} <= set(rows)
    assert re.search(r"\| \d+\.\d\dx \|", rows["nbody"])
    assert "PyPy speed-up" in rows["program"]
