"""The fast body check (binary/fastcheck.py) on every module of the spec suites.

For each module that decodes and whose module-level part validates, every body
the fast check calls valid must decode to the same end with the same
instruction count and pass the full validator (tests/unit/test_fastcheck.py
has the helper and the rest of the evidence); the invalid and malformed bodies
of the spec's assert_invalid/assert_malformed modules are where it matters.
test_streaming_validation.py compares whole outcomes, fast path included.
"""
from __future__ import annotations

import pytest

from pywazero.script import wast

from ..unit.test_fastcheck import _loadable
from . import runner
from .test_streaming_validation import _binaries

pytestmark = pytest.mark.spec_suite  # skipped without the suite, required in CI (tests/conftest.py)
SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []


@pytest.mark.parametrize("key", FILES)
def test_fast_check_never_accepts_what_the_full_path_rejects(key):
    features = runner.features_for(key)
    commands = wast.read_script_file(SPEC_DIR / key)
    for _line, data in _binaries(commands, features, []):
        b = _loadable(data, features)
        if b is None:
            continue
        for i in range(len(b.module.funcs)):
            b.check(data, i)   # (asserts the rule whenever it says valid)
