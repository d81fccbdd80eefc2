"""Remove DWARF (custom sections named .debug*) from .wasm files, keeping the name
section so traps show function names.  Used by build.sh; standard library only."""
import sys


def leb(data: bytes, pos: int):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def strip(data: bytes) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    while pos < len(data):
        start = pos
        sid = data[pos]
        size, body = leb(data, pos + 1)
        end = body + size
        if sid == 0:
            n, p = leb(data, body)
            if data[p:p + n].startswith(b".debug"):
                pos = end
                continue
        out += data[start:end]
        pos = end
    return bytes(out)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(strip(data))
