"""Multiple results: a WebAssembly function returning several values gives a tuple,
and a Python host function returns a tuple to WebAssembly."""
import os

import pywazero as wz

HERE = os.path.dirname(os.path.abspath(__file__))

rt = wz.Runtime()
rt.host_module("env").function(
    "min_max", lambda a, b: (min(a, b), max(a, b)),
    params=[wz.I32, wz.I32], results=[wz.I32, wz.I32]).instantiate()
with open(os.path.join(HERE, "multiple_results.wat")) as f:
    module = rt.instantiate(rt.compile(f.read()))

q, r = module.function("divmod")(17, 5)
print(f"divmod(17, 5) = ({q}, {r})")
print("stats(7, 4) =", module.function("stats")(7, 4))
print("spread(3, 11) =", module.function("spread")(3, 11))
