"""The spec-test ratchet: every command recorded in expected.json must still pass.

One test per (mode, spec file).  Newly passing commands do not fail the test; record
them with ``python -m tests.spec.runner --update``.  The per-file table is printed at
the end of the pytest run (see conftest.py).
"""
from __future__ import annotations

import pytest

from . import runner

pytestmark = pytest.mark.spec_suite  # skipped without the suite, required in CI (tests/conftest.py)
SPEC_DIR = runner.spec_dir()
FILES = runner.discover(SPEC_DIR) if SPEC_DIR.is_dir() else []
EXPECTED = runner.load_expected()
GAPS = runner.load_gaps()
MODES = sorted(runner.ENGINES)


def test_spec_dir_present():
    # Never skip silently: without the spec files the ratchet checks nothing.
    assert SPEC_DIR.is_dir(), (
        f"spec directory not found: {SPEC_DIR}; put the spec tests at <repo>/../shared/spec "
        "or set PYWAZERO_SPEC_DIR")
    assert FILES, f"no .wast files under {SPEC_DIR}"


@pytest.mark.parametrize("mode", MODES)
def test_expected_lists_known_files(mode):
    assert SPEC_DIR.is_dir(), f"spec directory not found: {SPEC_DIR}"
    assert mode in EXPECTED, (
        f"{runner.EXPECTED_PATH.name} has no entry for mode {mode!r}; "
        f"run python -m tests.spec.runner --mode {mode} --update")
    stale = sorted(set(EXPECTED[mode]) - set(FILES))
    assert not stale, f"{runner.EXPECTED_PATH.name} names files that are not in {SPEC_DIR}: {stale}"


@pytest.mark.parametrize("key", FILES)
@pytest.mark.parametrize("mode", MODES)
def test_spec(mode, key, record_property):
    report = runner.run_file(SPEC_DIR / key, runner.make_engine(mode), key=key, mode=mode)
    record_property("spec_report", report.summary())
    expected = EXPECTED.get(mode, {}).get(key, [])
    regs = runner.regressions(report, expected)
    if regs or (report.error and expected):
        pytest.fail(
            f"{len(regs)} of {len(expected)} recorded passing lines of {key} ({mode}) no longer pass:\n"
            + runner.format_regressions(report, regs),
            pytrace=False,
        )
    if key not in GAPS:
        # 100% is the rule: a script may fail only when gaps.json says why.
        failed = [o for o in report.outcomes if o.status == runner.FAILED]
        if failed or report.error:
            lines = [f"{key}:{o.line}: {o.category}: {o.reason}" for o in failed[:20]]
            pytest.fail(
                f"{key} ({mode}) has {len(failed)} failing commands"
                + (f" and could not be read: {report.error}" if report.error else "")
                + " and is not listed in gaps.json:\n" + "\n".join(lines),
                pytrace=False,
            )


def test_gaps_name_spec_files():
    assert SPEC_DIR.is_dir(), f"spec directory not found: {SPEC_DIR}"
    stale = sorted(set(GAPS) - set(FILES))
    assert not stale, f"gaps.json names files that are not in {SPEC_DIR}: {stale}"
    assert all(reason.strip() for reason in GAPS.values()), "every gap needs a reason"
