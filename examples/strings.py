"""Passing strings and bytes through linear memory: Python copies them into the
module's memory (at a pointer from its alloc export) and passes (pointer, length);
the module hands strings back the same way, through a host function."""
import os

import pywazero as wz

HERE = os.path.dirname(os.path.abspath(__file__))


def print_string(caller, ptr, length):
    # a host function asking for the Caller can read the calling module's memory
    print("  wasm says:", caller.memory().read(ptr, length).decode("utf-8"))


rt = wz.Runtime()
rt.host_module("env").function("print", print_string, params=[wz.I32, wz.I32], results=[]).instantiate()
with open(os.path.join(HERE, "strings.wat")) as f:
    module = rt.instantiate(rt.compile(f.read()))
memory = module.memory("memory")
alloc = module.function("alloc")


def put(data: bytes) -> int:
    ptr = alloc(len(data))
    memory.write(ptr, data)
    return ptr


name = "Wörld".encode("utf-8")
module.function("greet")(put(name), len(name))

data = b"stressed"
ptr = put(data)
module.function("reverse")(ptr, len(data))
print(f"reverse({data.decode()!r}) = {memory.read(ptr, len(data)).decode()!r}")

blob = bytes(range(10))
print("checksum of bytes 0..9 =", module.function("checksum")(put(blob), len(blob)))
