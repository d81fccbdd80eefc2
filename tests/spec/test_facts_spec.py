"""The engines' height-only pass gives the validator's facts, on every spec module.

:func:`pywazero.wasm.facts.function_info` does not validate a body of a validated
module again: it tracks only operand-stack heights (``_heights_pass``).  For every
module of every spec script that compiles (text modules encoded to binary first),
each defined function's facts from that pass are compared with the ones the
validator computes (``partner``, ``else_of``, block types, heights at block entries
and branches, maximum stack depth), unreachable code included.
"""
from __future__ import annotations

import pytest

from pywazero.binary.decoder import decode_module
from pywazero.errors import CompileError
from pywazero.script import wast
from pywazero.wasm.facts import _heights_pass
from pywazero.wasm.validation import _body_context, validate_module

from . import runner
from .test_streaming_validation import _binaries

SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []

@pytest.mark.parametrize("key", FILES)
def test_heights_pass_matches_validator(key):
    features = runner.features_for(key)
    commands = wast.read_script_file(SPEC_DIR / key)
    diffs = []
    for line, data in _binaries(commands, features, []):
        try:
            lazy = decode_module(data, features, validate=True)
        except CompileError:
            continue
        eager = decode_module(data, features, lazy=False)
        validate_module(eager, features)
        ctx = _body_context(lazy)
        for i, f in enumerate(lazy.funcs):
            got = _heights_pass(ctx, f.type_index, f.body)
            if got is None:
                continue
            want = eager.funcs[i].info
            for field in ("partner", "else_of", "block_types", "heights", "branch_heights",
                          "max_stack", "catches"):
                a, b = getattr(got, field), getattr(want, field)
                if (dict(a) if field != "max_stack" else a) != (dict(b) if field != "max_stack" else b):
                    diffs.append(f"{key}:{line} func {i} {field}: pass {a}, validator {b}")
    assert not diffs, "\n".join(diffs[:20])
