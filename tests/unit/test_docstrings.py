"""Every public symbol has a docstring: everything in ``pywazero.__all__`` and the
``__all__`` of pywazero.wasi, pywazero.listener and pywazero.cache, and the public
methods and properties those classes define (the API reference is built from them).
A docstring inherited from ``object`` or a builtin base does not count."""
from __future__ import annotations

import inspect
from typing import Any, Iterator, List, Tuple

import pywazero
import pywazero.cache
import pywazero.listener
import pywazero.wasi

MODULES = [pywazero, pywazero.wasi, pywazero.listener, pywazero.cache]


def _own_doc(obj: Any) -> str:
    return (getattr(obj, "__doc__", None) or "").strip()


def _members(cls: type) -> Iterator[Tuple[str, Any]]:
    """The public methods and properties ``cls`` itself defines (not inherited)."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            yield name, value


def public_symbols() -> Iterator[Tuple[str, Any]]:
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # constants (I32, FUNCREF, __version__, ...): documented in the reference
            qual = f"{module.__name__}.{name}"
            yield qual, obj
            if inspect.isclass(obj):
                for mname, member in _members(obj):
                    yield f"{qual}.{mname}", member


def missing_docstrings() -> List[str]:
    missing = []
    for qual, obj in public_symbols():
        doc = _own_doc(obj)
        if inspect.isclass(obj) and obj.__doc__ is not None:
            # a dataclass without a docstring gets its signature as __doc__
            if doc.startswith(obj.__name__ + "("):
                doc = ""
        if not doc:
            missing.append(qual)
    return sorted(set(missing))


def test_public_api_is_walked():
    # the walk itself must see the API (a broken walk would pass the test below)
    names = {q for q, _ in public_symbols()}
    for expected in ("pywazero.Runtime", "pywazero.Runtime.compile", "pywazero.Memory.read",
                     "pywazero.Module.function", "pywazero.wasi.instantiate",
                     "pywazero.listener.tracer", "pywazero.CompilationCache.clear"):
        assert expected in names
    assert len(names) > 150


def test_every_public_symbol_has_a_docstring():
    missing = missing_docstrings()
    assert not missing, f"{len(missing)} public symbols without a docstring: {missing}"


def test_a_missing_docstring_is_found():
    class Undocumented:
        def method(self) -> None:
            pass

    assert dict(_members(Undocumented)).keys() == {"method"}
    assert not _own_doc(Undocumented.method)
