"""Validation while decoding gives exactly the errors of decode-then-validate.

``Runtime.compile`` decodes a binary module with ``decode_module(...,
validate=True)``: each body is validated as soon as it is decoded, then dropped
(lazy bodies).  For every module of every spec script (valid, invalid or malformed;
text modules are first encoded to binary), this compares that path with the eager
one (``decode_module(lazy=False)`` then ``validate_module``): same outcome, same
exception type, same message (function index, offset, instruction included).
"""
from __future__ import annotations

from typing import Iterator, Optional, Tuple

import pytest

from pywazero.binary.decoder import decode_module
from pywazero.binary.encoder import encode_module
from pywazero.errors import CompileError
from pywazero.script import wast
from pywazero.wasm.validation import validate_module

from . import runner

pytestmark = pytest.mark.spec_suite  # skipped without the suite, required in CI (tests/conftest.py)
SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []


def _binaries(commands, features, unencodable) -> Iterator[Tuple[int, bytes]]:
    """(line, bytes) of every module of the script that is binary or encodes; the
    commands of text modules that do not parse or encode go to ``unencodable``."""
    for cmd in commands:
        mod = cmd if isinstance(cmd, wast.ModuleCommand) else getattr(cmd, "module", None)
        if not isinstance(mod, wast.ModuleCommand):
            continue
        if mod.form == "binary":
            yield cmd.line, mod.data
            continue
        try:
            data = encode_module(mod.parse(features))
        except Exception:  # noqa: BLE001 - malformed text, or not encodable: nothing to compare
            unencodable.append(cmd)
            continue
        yield cmd.line, data


def _outcome(fn) -> Optional[Tuple[str, str]]:
    try:
        fn()
    except CompileError as e:
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("key", FILES)
def test_streaming_validation_matches(key):
    features = runner.features_for(key)
    commands = wast.read_script_file(SPEC_DIR / key)
    diffs = []
    unencodable: list = []
    for line, data in _binaries(commands, features, unencodable):
        def eager():
            validate_module(decode_module(data, features, lazy=False), features)

        old = _outcome(eager)
        new = _outcome(lambda: decode_module(data, features, validate=True))
        if old != new:
            diffs.append(f"{key}:{line}: decode+validate {old}, streaming {new}")
    assert not diffs, "\n".join(diffs[:20])
    # the modules left out of the comparison (all of them in a few scripts) are text
    # the script itself expects to be rejected, never a module that should load
    wrong = [f"line {c.line}: {c.kind}" for c in unencodable
             if c.kind not in ("assert_malformed", "assert_invalid")]
    assert not wrong, f"{key}: text modules that do not encode: {wrong[:10]}"
