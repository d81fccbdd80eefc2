"""WebAssembly 3.0 programs built here from C (see build.sh) on both engines, against
``expected.json`` (recorded under wasmtime) and, when wasmtime is installed, against
a live wasmtime run."""
from __future__ import annotations

import os

import pytest

from pywazero import CompileError, CoreFeatures, Runtime, RuntimeConfig

from . import programs

ENGINES = ["compiler", "interpreter"]
EXPECTED = programs.load_expected()
LONG = bool(os.environ.get("PYWAZERO_LONG_TESTS"))


def _wasmtime_available() -> bool:
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", [c.name for c in programs.CASES])
def test_program(name, engine):
    case = programs.CASES_BY_NAME[name]
    if case.long and engine == "interpreter" and not LONG:
        # ten minutes on the interpreter; the compiler runs the 10M steps every time,
        # and musttail_short shows the interpreter's chains in constant space
        pytest.skip("minutes on the interpreter: set PYWAZERO_LONG_TESTS=1")
    stdout, code = programs.run_pywazero(case, engine)
    assert (stdout, code) == (EXPECTED[name]["stdout"], EXPECTED[name]["exit"])


@pytest.mark.skipif(not _wasmtime_available(), reason="wasmtime (the dev-only oracle) is not installed")
@pytest.mark.parametrize("name", [c.name for c in programs.CASES if not c.long])
def test_expected_is_wasmtime(name):
    stdout, code = programs.run_wasmtime(programs.CASES_BY_NAME[name])
    assert {"stdout": stdout, "exit": code} == EXPECTED[name]


@pytest.mark.parametrize("wasm, feature", [
    ("musttail.wasm", CoreFeatures.TAIL_CALL),
    ("baseline_pie.wasm", CoreFeatures.EXTENDED_CONST),
])
def test_programs_use_the_feature(wasm, feature):
    """The binaries really exercise the 3.0 feature they are here for."""
    with open(os.path.join(programs.BIN, wasm), "rb") as f:
        data = f.read()
    without = Runtime(RuntimeConfig(core_features=CoreFeatures.V3 & ~CoreFeatures.GC & ~feature))
    with pytest.raises(CompileError, match=feature.feature_names()[0]):
        without.compile(data)
    Runtime(RuntimeConfig(core_features=CoreFeatures.V2 | feature)).compile(data)
