"""Every valid module of every spec script survives ``serialize``/``deserialize``.

The loading side decodes the carried binary with ``decode_module(trusted=True)``
(bodies located, not read, no validation); this checks on every module that the
spec scripts expect to compile that the result is the module the validating path
made: same binary encoding (types, imports, functions and their bodies, segments,
names), same exports.
"""
from __future__ import annotations

import pytest

import pywazero as wz
from pywazero.binary.encoder import encode_module
from pywazero.script import wast

from . import runner
from .test_streaming_validation import _binaries

pytestmark = pytest.mark.spec_suite  # skipped without the suite, required in CI (tests/conftest.py)
SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []


@pytest.mark.parametrize("key", FILES)
def test_round_trip_keeps_module(key):
    features = runner.features_for(key)
    rt = wz.Runtime(wz.RuntimeConfig(core_features=features))
    commands = [c for c in wast.read_script_file(SPEC_DIR / key)
                if getattr(c, "kind", None) not in ("assert_malformed", "assert_invalid")]
    diffs = []
    checked = 0
    for line, data in _binaries(commands, features, []):
        try:
            cm = rt.compile(data)
        except wz.CompileError:
            continue   # (e.g. a module of assert_unlinkable that does not validate alone)
        checked += 1
        cm2 = rt.deserialize(cm.serialize())
        if encode_module(cm2.module) != encode_module(cm.module):
            diffs.append(f"{key}:{line}: module differs after the round trip")
        elif [(e.name, str(e.type)) for e in cm2.exports] != [(e.name, str(e.type)) for e in cm.exports]:
            diffs.append(f"{key}:{line}: exports differ after the round trip")
    assert not diffs, "\n".join(diffs[:20])
