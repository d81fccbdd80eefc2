"""A Python function called from WebAssembly: host_function.wat imports
env.square and env.log, which are plain Python callables."""
import os

import pywazero as wz

HERE = os.path.dirname(os.path.abspath(__file__))


def square(x):
    return x * x


def log(i, total):
    print(f"  wasm: after {i}, the sum is {total}")


rt = wz.Runtime()
(rt.host_module("env")
   .function("square", square, params=[wz.I32], results=[wz.I32])
   .function("log", log, params=[wz.I32, wz.I32], results=[])
   .instantiate())
with open(os.path.join(HERE, "host_function.wat")) as f:
    module = rt.instantiate(rt.compile(f.read()))
print("sum_of_squares(4) =", module.function("sum_of_squares")(4))
