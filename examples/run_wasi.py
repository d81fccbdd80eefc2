"""Running WASI programs from Python: arguments, environment, captured stdout and a
mounted directory (the guest sees this examples folder at /ex, read-only)."""
import io
import os
import sys

import pywazero as wz
from pywazero import wasi

HERE = os.path.dirname(os.path.abspath(__file__))

rt = wz.Runtime()
wasi.instantiate(rt)  # registers wasi_snapshot_preview1

# A guest gets nothing the host does not grant: by default its output is dropped,
# its stdin is empty and it sees no files.  hello.wasm is granted this process's
# stdout (inherit_stdio=True would grant stdin, stdout and stderr at once).
with open(os.path.join(HERE, "hello.wasm"), "rb") as f:
    hello = rt.compile(f.read())
rt.instantiate(hello, wz.ModuleConfig(args=["hello", "Python"], stdout=sys.stdout))

# cat.wasm reads a file from a mount; its output is captured in a BytesIO
with open(os.path.join(HERE, "cat.wasm"), "rb") as f:
    cat = rt.compile(f.read())
out = io.BytesIO()
config = wz.ModuleConfig(
    args=["cat", "/ex/hello.c"],
    stdout=out,
    mounts=[wz.Mount(HERE, "/ex", read_only=True)],
)
try:
    rt.instantiate(cat, config)        # runs _start; exit code 0 returns normally
except wz.ExitError as e:              # a non-zero exit raises ExitError
    print("cat exited with", e.exit_code)
first_line = out.getvalue().decode().splitlines()[0]
print("first line of hello.c, read by cat.wasm:", first_line)

# a file outside every mount is out of reach: the guest reports an error, exit code 1
err = io.BytesIO()
try:
    rt.instantiate(cat, wz.ModuleConfig(args=["cat", "/etc/passwd"], stderr=err,
                                        mounts=[wz.Mount(HERE, "/ex", read_only=True)]))
except wz.ExitError as e:
    print(f"cat /etc/passwd exited with {e.exit_code}: {err.getvalue().decode().strip()}")
