"""Every ```python block of the README and of the documentation site (docs/, the guide
included) runs, each as its own script from the repository root (so files such as
examples/hello.wasm are found, and multiprocessing can import ``__main__``).

Markers, an HTML comment on the line before the block:

* ``<!-- continues -->``: the block runs after the previous block of the same file
  (a guide page that builds on what it set up a block earlier);
* ``<!-- not-run: REASON -->``: deliberately not run, with the reason (used rarely:
  a block that needs something the tests cannot provide).

Blocks check what they claim with ``assert`` where they show a result.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*(continues|not-run)\s*(?::\s*(.*?))?\s*-->\s*$")


class Block(NamedTuple):
    page: Path
    line: int           # 1-based line of the opening fence
    code: str
    marker: Optional[str]
    reason: Optional[str]


def python_blocks(text: str, page: Path) -> List[Block]:
    """The ```python blocks of ``text``, with the marker on the line before each."""
    blocks: List[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        if lang != "python":
            continue
        prev = lines[start - 1].strip() if start else ""
        mm = _MARKER.match(prev)
        blocks.append(Block(page, start + 1, "\n".join(body) + "\n",
                            mm.group(1) if mm else None, mm.group(2) if mm else None))
    return blocks


BLOCKS = [b for page in PAGES for b in python_blocks(page.read_text(encoding="utf-8"), page)]


def _id(b: Block) -> str:
    return f"{b.page.relative_to(ROOT).as_posix()}:{b.line}"


def _script(block: Block) -> str:
    """The block's code, after the blocks it continues."""
    if block.marker != "continues":
        return block.code
    same = [b for b in BLOCKS if b.page == block.page and b.line < block.line]
    if not same:
        raise AssertionError(f"{_id(block)}: marked 'continues' but is the page's first block")
    return _script(same[-1]) + block.code


def test_blocks_are_found():
    pages = {b.page.relative_to(ROOT).as_posix() for b in BLOCKS}
    assert "README.md" in pages
    assert "docs/guide/embedding.md" in pages


def test_not_run_blocks_give_a_reason():
    for b in BLOCKS:
        if b.marker == "not-run":
            assert b.reason, f"{_id(b)}: <!-- not-run --> needs a reason (<!-- not-run: why -->)"


def test_markers_are_parsed():
    text = "x\n<!-- not-run: needs a GPU -->\n```python\nboom()\n```\n<!-- continues -->\n```python\nok()\n```\n"
    a, b = python_blocks(text, ROOT / "x.md")
    assert (a.marker, a.reason, a.line, a.code) == ("not-run", "needs a GPU", 3, "boom()\n")
    assert (b.marker, b.line, b.code) == ("continues", 7, "ok()\n")


@pytest.mark.parametrize("block", BLOCKS, ids=_id)
def test_block_runs(block, tmp_path):
    if block.marker == "not-run":
        pytest.skip(f"marked not-run: {block.reason}")
    script = tmp_path / "block.py"
    script.write_text(_script(block), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, str(script)], cwd=str(ROOT), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    assert p.returncode == 0, (
        f"{_id(block)} failed (exit {p.returncode}):\n--- code\n{_script(block)}"
        f"--- stdout\n{p.stdout.decode(errors='replace')}--- stderr\n{p.stderr.decode(errors='replace')}")
