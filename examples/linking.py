"""Linking two modules with a Linker, and tracing the calls between them.

linking_app.wat imports ``gcd`` from linking_lib.wat, ``report`` from Python and an
optional ``on_error`` hook that nobody defines: the linker satisfies the first two
and turns the third into a stub that traps when called.  A function listener
(``pywazero.listener.tracer``) prints the calls of the app's and the library's
functions, indented by depth.  ``--interpreter`` runs it on the interpreter.
"""
import os
import sys

import pywazero as wz
from pywazero.listener import tracer

HERE = os.path.dirname(os.path.abspath(__file__))
engine = "interpreter" if "--interpreter" in sys.argv[1:] else "compiler"

# trace the functions of both modules (names are module.function, from the name section)
rt = wz.Runtime(wz.RuntimeConfig(engine=engine, function_listener=tracer(sys.stdout, "lib.*,app.*")))
lib_module = rt.compile(open(os.path.join(HERE, "linking_lib.wat")).read())
app_module = rt.compile(open(os.path.join(HERE, "linking_app.wat")).read())


def report(num, den, divisor):
    print(f"  python: reduced to {num}/{den} (divided by {divisor})")


linker = wz.Linker(rt)
linker.define_instance("lib", linker.instantiate(lib_module))
linker.define_func("env", "report", wz.FuncType([wz.I32, wz.I32, wz.I32], []), report)
linker.define_unknown_imports_as_traps(app_module)       # env.on_error
app = linker.instantiate(app_module)

app.function("reduce")(84, 36)
try:
    app.function("reduce")(1, 0)                         # calls the missing hook
except wz.Trap as e:
    print("trap:", str(e).splitlines()[0])
