"""Byte-level helpers for tests that assemble WebAssembly binaries by hand, so every
expected value is spelled out independently of the encoder under test.

Plain functions with no imports: ``test_bombs.py`` also imports this module when it
runs as a script (its child processes), with this folder as ``sys.path[0]``.

>>> section(1, b"\\x01\\x60\\x00\\x00")   # a type section of one [] -> [] type
b'\\x01\\x04\\x01`\\x00\\x00'
"""

#: the magic number and version 1
HEADER = b"\x00asm\x01\x00\x00\x00"


def uleb(n: int) -> bytes:
    """``n`` (>= 0) as an unsigned LEB128."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    """``n`` as a signed LEB128."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def section(sid: int, payload: bytes) -> bytes:
    """Section ``sid`` holding ``payload`` (its size prefixed)."""
    return bytes([sid]) + uleb(len(payload)) + payload
