"""Encoder round trip over every module of the spec suite that compiles.

For each module (text, quote or binary) that parses/decodes and validates:
``decode_module(encode_module(m))`` must equal ``m``, and the encoded bytes must
validate.  Ignored in the comparison, because the model cannot carry them through
the binary format (see the encoder's docstring):

* ``Function.offsets`` and ``Function.info`` (byte offsets differ; info is filled
  by validation);
* ``Module.id`` (the text format's ``$name``);
* a ``name`` custom section the encoder generated from ``Module.names`` when the
  original had no custom sections;
* ``data_count`` when the original had none and the encoder added one because a
  body uses ``memory.init``/``data.drop``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, List, Optional

import pytest

from pywazero.script import wast
from pywazero.wasm.features import CoreFeatures
from pywazero.wasm.module import Function

from . import runner

pytestmark = pytest.mark.spec_suite  # skipped without the suite, required in CI (tests/conftest.py)
SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []


def _module_commands(commands) -> List[wast.ModuleCommand]:
    out = []
    for cmd in commands:
        if isinstance(cmd, wast.ModuleCommand):
            out.append(cmd)
        elif isinstance(cmd, (wast.AssertUnlinkable, wast.AssertUninstantiable, wast.AssertTrap)):
            if cmd.module is not None:
                out.append(cmd.module)
    return out


def _first_difference(a: Any, b: Any, path: str) -> Optional[str]:
    """Path and values of the first place where ``a`` and ``b`` differ, or None."""
    if isinstance(a, Function) and isinstance(b, Function):
        # (byte offsets differ between the text and binary forms; info is the validator's)
        for name in ("type_index", "locals", "body"):
            d = _first_difference(getattr(a, name), getattr(b, name), f"{path}.{name}")
            if d:
                return d
        return None
    if dataclasses.is_dataclass(a) and not isinstance(a, type) and type(a) is type(b):
        for f in dataclasses.fields(a):
            if type(a).__name__ == "Function" and f.name in ("offsets", "info"):
                continue
            if type(a).__name__ == "Module" and f.name == "id":
                continue
            d = _first_difference(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
            if d:
                return d
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            d = _first_difference(a[k], b[k], f"{path}[{k!r}]")
            if d:
                return d
        return None
    if type(a) is not type(b) or a != b:
        ra, rb = repr(a), repr(b)
        return f"{path}: {ra[:200]} != {rb[:200]}"
    return None


def _normalize_decoded(orig, back) -> None:
    if not orig.customs and [c.name for c in back.customs] == ["name"]:
        back.customs = []
    if orig.data_count is None and back.data_count == len(back.datas):
        back.data_count = None


def roundtrip_problem(module, features: CoreFeatures = CoreFeatures.V2) -> Optional[str]:
    """None if ``module`` survives encode -> decode -> validate under ``features``,
    else what went wrong."""
    from pywazero.binary.decoder import decode_module
    from pywazero.binary.encoder import encode_module
    from pywazero.wasm.validation import validate_module

    try:
        data = encode_module(module)
    except Exception as e:  # noqa: BLE001
        return f"encode: {runner.describe(e)[0]}"
    try:
        back = decode_module(data, features)
    except Exception as e:  # noqa: BLE001
        return f"decode of the encoding: {runner.describe(e)[0]}"
    try:
        validate_module(back, features)
    except Exception as e:  # noqa: BLE001
        return f"validation of the encoding: {runner.describe(e)[0]}"
    _normalize_decoded(module, back)
    diff = _first_difference(module, back, "module")
    return f"decoded module differs at {diff}" if diff else None


@pytest.mark.parametrize("key", FILES)
def test_roundtrip(key):
    commands = wast.read_script_file(SPEC_DIR / key)
    compiled = problems = 0
    report = []
    features = runner.features_for(key)
    for cmd in _module_commands(commands):
        try:
            module = runner.compile_module(cmd, features)
        except Exception:  # noqa: BLE001 - not compiling is test_spec's business
            continue
        compiled += 1
        problem = roundtrip_problem(module, features)
        if problem:
            problems += 1
            if len(report) < 20:
                report.append(f"{key}:{cmd.line} ({cmd.form}): {problem}")
    if problems:
        pytest.fail(f"{problems} of {compiled} modules do not round-trip:\n" + "\n".join(report), pytrace=False)
    if not compiled and _module_commands(commands):
        pytest.skip("no module of this file compiles yet")


def test_spec_dir_present():
    assert SPEC_DIR.is_dir(), f"spec directory not found: {SPEC_DIR} (set PYWAZERO_SPEC_DIR)"
