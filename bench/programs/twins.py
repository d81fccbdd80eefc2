"""Plain-Python twins of the benchmark C programs in this directory.

Each function implements the same algorithm as <name>.c on the same input, the
way one would write it in idiomatic Python, and returns exactly the text the C
program prints.  bench/real_programs.py checks that they agree and times both::

    >>> import twins
    >>> twins.vm(1000)
    'primes below 1000: 168, sum 76127, 94974 vm steps\\n'
"""
from __future__ import annotations

import math
from functools import cmp_to_key
from typing import Callable, Dict, List

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def lcg_bytes(n: int, seed: int = 12345) -> bytearray:
    """The bytes crc32.c and sha256.c fill their buffers with."""
    buf = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & M32
        buf[i] = (x >> 16) & 0xFF
    return buf


# -- crc32.c ----------------------------------------------------------------------

def crc32(n: int = 200000) -> str:
    buf = lcg_bytes(n)
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = 0xEDB88320 ^ (c >> 1) if c & 1 else c >> 1
        table.append(c)
    c = M32
    for b in buf:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return "crc32 of %d bytes: %08x\n" % (n, c ^ M32)


# -- sha256.c ---------------------------------------------------------------------

K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
]

H0 = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
    0x1f83d9ab, 0x5be0cd19
]


def _compress(h: List[int], p, off: int) -> None:
    w = [int.from_bytes(p[off + 4 * i:off + 4 * i + 4], "big") for i in range(16)]
    for i in range(16, 64):
        x, y = w[i - 15], w[i - 2]
        s0 = ((x >> 7 | x << 25) ^ (x >> 18 | x << 14) ^ (x >> 3)) & M32
        s1 = ((y >> 17 | y << 15) ^ (y >> 19 | y << 13) ^ (y >> 10)) & M32
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & M32)
    a, b, c, d, e, f, g, hh = h
    for i in range(64):
        s1 = ((e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)) & M32
        t1 = hh + s1 + ((e & f) ^ (~e & g)) + K[i] + w[i]
        s0 = ((a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)) & M32
        t2 = s0 + ((a & b) ^ (a & c) ^ (b & c))
        hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
    for i, v in enumerate((a, b, c, d, e, f, g, hh)):
        h[i] = (h[i] + v) & M32


def sha256_digest(data) -> bytes:
    h = list(H0)
    n = len(data)
    whole = n - n % 64
    for off in range(0, whole, 64):
        _compress(h, data, off)
    last = bytes(data[whole:]) + b"\x80"
    last += bytes((56 - len(last)) % 64) + (n * 8).to_bytes(8, "big")
    for off in range(0, len(last), 64):
        _compress(h, last, off)
    return b"".join(v.to_bytes(4, "big") for v in h)


def sha256(n: int = 100000, rounds: int = 4) -> str:
    buf = lcg_bytes(max(n, 32))[:n]
    digest = b""
    for _ in range(rounds):
        digest = sha256_digest(buf)
        buf[:min(n, 32)] = digest[:min(n, 32)]
    return "sha256 of %d bytes, %d rounds: %s\n" % (n, rounds, digest.hex())


# -- nbody.c ----------------------------------------------------------------------

def nbody(n: int = 5000) -> str:
    pi = 3.141592653589793
    solar_mass = 4 * pi * pi
    days = 365.24
    # [x, y, z, vx, vy, vz, m]
    bodies = [
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, solar_mass],
        [4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
         1.66007664274403694e-03 * days, 7.69901118419740425e-03 * days,
         -6.90460016972063023e-05 * days, 9.54791938424326609e-04 * solar_mass],
        [8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
         -2.76742510726862411e-03 * days, 4.99852801234917238e-03 * days,
         2.30417297573763929e-05 * days, 2.85885980666130812e-04 * solar_mass],
        [1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
         2.96460137564761618e-03 * days, 2.37847173959480950e-03 * days,
         -2.96589568540237556e-05 * days, 4.36624404335156298e-05 * solar_mass],
        [1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
         2.68067772490389322e-03 * days, 1.62824170038242295e-03 * days,
         -9.51592254519715870e-05 * days, 5.15138902046611451e-05 * solar_mass],
    ]
    pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]

    def energy() -> float:
        e = 0.0
        for i, b in enumerate(bodies):
            e += 0.5 * b[6] * (b[3] * b[3] + b[4] * b[4] + b[5] * b[5])
            for c in bodies[i + 1:]:
                dx, dy, dz = b[0] - c[0], b[1] - c[1], b[2] - c[2]
                e -= b[6] * c[6] / math.sqrt(dx * dx + dy * dy + dz * dz)
        return e

    px = py = pz = 0.0
    for b in bodies:
        px += b[3] * b[6]
        py += b[4] * b[6]
        pz += b[5] * b[6]
    bodies[0][3], bodies[0][4], bodies[0][5] = -px / solar_mass, -py / solar_mass, -pz / solar_mass
    out = "%.9f\n" % energy()
    dt = 0.01
    for _ in range(n):
        for b, c in pairs:
            dx, dy, dz = b[0] - c[0], b[1] - c[1], b[2] - c[2]
            d2 = dx * dx + dy * dy + dz * dz
            mag = dt / (d2 * math.sqrt(d2))
            bm, cm = b[6], c[6]
            b[3] -= dx * cm * mag
            b[4] -= dy * cm * mag
            b[5] -= dz * cm * mag
            c[3] += dx * bm * mag
            c[4] += dy * bm * mag
            c[5] += dz * bm * mag
        for b in bodies:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]
    return out + "%.9f\n" % energy()


# -- qsort.c and sort.c -----------------------------------------------------------

def _xorshift_values(n: int) -> List[int]:
    v = []
    x = 42
    for _ in range(n):
        x ^= (x << 13) & M32
        x ^= x >> 17
        x ^= (x << 5) & M32
        v.append(x % 1000000)
    return v


def _checksum(v: List[int]) -> int:
    s = 0
    for x in v:
        s = (s * 31 + x) & M64
    return s


def _cmp(x: int, y: int) -> int:
    return (x > y) - (x < y)


def qsort(n: int = 20000) -> str:
    """libc's qsort with a comparator; the Python idiom is sorted() with cmp_to_key
    (Timsort in C, not musl's smoothsort: the same work shape, not the same code)."""
    v = sorted(_xorshift_values(n), key=cmp_to_key(_cmp))
    return "sorted %d ints, checksum %d\n" % (n, _checksum(v))


def _quick(v: List[int], lo: int, hi: int, cmp: Callable[[int, int], int]) -> None:
    while lo < hi:
        p = v[lo + (hi - lo) // 2]
        i, j = lo - 1, hi + 1
        while True:
            i += 1
            while cmp(v[i], p) < 0:
                i += 1
            j -= 1
            while cmp(v[j], p) > 0:
                j -= 1
            if i >= j:
                break
            v[i], v[j] = v[j], v[i]
        if j - lo < hi - j:
            _quick(v, lo, j, cmp)
            lo = j + 1
        else:
            _quick(v, j + 1, hi, cmp)
            hi = j


def _merge_sort(v: List[int], tmp: List[int], lo: int, hi: int) -> None:
    n = hi - lo
    if n < 2:
        return
    m = lo + n // 2
    _merge_sort(v, tmp, lo, m)
    _merge_sort(v, tmp, m, hi)
    i, j, k = lo, m, 0
    while i < m and j < hi:
        if v[j] < v[i]:
            tmp[k] = v[j]
            j += 1
        else:
            tmp[k] = v[i]
            i += 1
        k += 1
    rest = v[i:m] if i < m else v[j:hi]
    v[lo:hi] = tmp[:k] + rest


def _radix_sort(v: List[int]) -> List[int]:
    for shift in (0, 8, 16, 24):
        buckets: List[List[int]] = [[] for _ in range(256)]
        for x in v:
            buckets[(x >> shift) & 0xFF].append(x)
        v = [x for b in buckets for x in b]
    return v


def sort(n: int = 20000) -> str:
    a = _xorshift_values(n)
    b, c = list(a), list(a)
    _quick(a, 0, n - 1, _cmp)
    _merge_sort(b, [0] * n, 0, n)
    c = _radix_sort(c)
    same = a == b == c and all(a[i - 1] <= a[i] for i in range(1, n))
    return "sorted %d ints three ways: %s, checksum %d, median %d\n" % (
        n, "agree" if same else "DISAGREE", _checksum(a), a[n // 2] if n else 0)


# -- strings.c --------------------------------------------------------------------

def strings(n: int = 5000) -> str:
    prev = ""
    total = ordered = 0
    for i in range(n):
        s = "item-%d:%x:%s" % (i * 7919 % 10007, i, "odd" if i % 3 else "even")
        total += 2 * len(s)
        if prev < s:
            ordered += 1
        prev = s
    return "%d strings, %d chars, %d ascending pairs\n" % (n, total, ordered)


# -- vm.c -------------------------------------------------------------------------

HALT, PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, LT, LE, JZ, JNZ, JMP = range(13)

PROGRAM = [
    1, 2, 3, 1, 2, 1, 2, 0, 8, 10, 78, 1, 1, 3, 5, 1, 2, 3, 2, 2, 2, 2, 2, 6, 2, 1, 9,
    10, 51, 2, 1, 2, 2, 7, 11, 42, 1, 0, 3, 5, 12, 51, 2, 2, 1, 1, 4, 3, 2, 12, 19, 2,
    5, 10, 69, 2, 3, 1, 1, 4, 3, 3, 2, 4, 2, 1, 4, 3, 4, 2, 1, 1, 1, 4, 3, 1, 12, 4, 0,
]


def _run_vm(code: List[int], regs: List[int]) -> int:
    stack: List[int] = []
    push, pop = stack.append, stack.pop
    pc = steps = 0
    while True:
        steps += 1
        op = code[pc]
        pc += 1
        if op == LOAD:
            push(regs[code[pc]])
            pc += 1
        elif op == STORE:
            regs[code[pc]] = pop()
            pc += 1
        elif op == PUSH:
            push(code[pc])
            pc += 1
        elif op == ADD:
            y = pop()
            stack[-1] += y
        elif op == JZ:
            pc = code[pc] if pop() == 0 else pc + 1
        elif op == JNZ:
            pc = code[pc] if pop() != 0 else pc + 1
        elif op == JMP:
            pc = code[pc]
        elif op == MUL:
            y = pop()
            stack[-1] *= y
        elif op == MOD:
            y = pop()
            stack[-1] %= y  # operands are never negative here: Python's % is C's
        elif op == LT:
            y = pop()
            stack[-1] = int(stack[-1] < y)
        elif op == LE:
            y = pop()
            stack[-1] = int(stack[-1] <= y)
        elif op == SUB:
            y = pop()
            stack[-1] -= y
        elif op == HALT:
            return steps
        else:
            raise ValueError("bad opcode %d at %d" % (op, pc - 1))



def vm(n: int = 20000) -> str:
    regs = [0] * 8
    regs[0] = n
    steps = _run_vm(PROGRAM, regs)
    return "primes below %d: %d, sum %d, %d vm steps\n" % (n, regs[3], regs[4], steps)


# -- wordcount.c ------------------------------------------------------------------

def wordcount(text: bytes) -> str:
    """The C program's algorithm: scan the bytes by hand for runs of ASCII letters
    (``c | 32`` in ``a..z``), lowercase each word and count it in a hash table (here
    the dict, where the C program has its own FNV-1a open-addressing table)."""
    counts: Dict[bytes, int] = {}
    get = counts.get
    words = 0
    n = len(text)
    i = 0
    while i < n:
        if 97 <= text[i] | 32 <= 122:
            start = i
            i += 1
            while i < n and 97 <= text[i] | 32 <= 122:
                i += 1
            w = text[start:i].lower()
            counts[w] = get(w, 0) + 1
            words += 1
        else:
            i += 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    lines = ["%d bytes, %d words, %d distinct\n" % (n, words, len(counts))]
    lines += ["%d %s\n" % (c, w.decode()) for w, c in top]
    return "".join(lines)


# -- lz77.c -----------------------------------------------------------------------

SYLLABLES = [b"ka", b"lo", b"mi", b"ne", b"ru", b"ta", b"so", b"vi", b"en", b"da",
             b" ", b" ", b" ", b", ", b". ", b"\n"]
WINDOW, MIN_MATCH, MAX_MATCH, MAX_CHAIN = 4096, 3, 18, 32


def lz77_text(n: int) -> bytes:
    parts = []
    size = 0
    x = 2024
    while size < n:
        x = (x * 1103515245 + 12345) & M32
        s = SYLLABLES[(x >> 16) % 16]
        parts.append(s)
        size += len(s)
    return b"".join(parts)[:n]


def _hash3(data: bytes, i: int) -> int:
    return ((data[i] << 8) ^ (data[i + 1] << 4) ^ data[i + 2]) & 4095


def lz77_compress(data: bytes) -> bytearray:
    n = len(data)
    head = [-1] * 4096
    prev = [0] * WINDOW
    out = bytearray()
    flag_at = 0
    items = 8
    i = 0
    while i < n:
        if items == 8:
            flag_at = len(out)
            out.append(0)
            items = 0
        best_len = best_off = 0
        if i + MIN_MATCH <= n:
            limit = min(n - i, MAX_MATCH)
            cand = head[_hash3(data, i)]
            chain = 0
            while chain < MAX_CHAIN and cand >= 0 and i - cand <= WINDOW:
                length = 0
                while length < limit and data[cand + length] == data[i + length]:
                    length += 1
                if length > best_len:
                    best_len, best_off = length, i - cand
                    if length == limit:
                        break
                cand = prev[cand & (WINDOW - 1)]
                chain += 1
        step = 1
        if best_len >= MIN_MATCH:
            out[flag_at] |= 1 << items
            code = (best_off - 1) << 4 | (best_len - MIN_MATCH)
            out += bytes((code >> 8, code & 0xFF))
            step = best_len
        else:
            out.append(data[i])
        items += 1
        for j in range(i, min(i + step, n - MIN_MATCH + 1)):
            h = _hash3(data, j)
            prev[j & (WINDOW - 1)] = head[h]
            head[h] = j
        i += step
    return out


def lz77_decompress(packed: bytes) -> bytearray:
    out = bytearray()
    i, n = 0, len(packed)
    while i < n:
        flags = packed[i]
        i += 1
        for k in range(8):
            if i >= n:
                break
            if flags >> k & 1:
                code = packed[i] << 8 | packed[i + 1]
                i += 2
                off, length = (code >> 4) + 1, (code & 15) + MIN_MATCH
                for _ in range(length):
                    out.append(out[-off])
            else:
                out.append(packed[i])
                i += 1
    return out


def lz77(n: int = 100000) -> str:
    text = lz77_text(n)
    packed = lz77_compress(text)
    back = lz77_decompress(packed)
    a, b = 1, 0
    for x in packed:
        a = (a + x) % 65521
        b = (b + a) % 65521
    return "lz77: %d bytes -> %d bytes, round trip %s, adler32 %08x\n" % (
        n, len(packed), "ok" if back == text else "FAILED", b << 16 | a)
