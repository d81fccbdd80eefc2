"""The documentation site stays complete: the API reference pages name every public
symbol, the CLI guide names every subcommand and option the parser has, and (when
mkdocs is installed, as with the ``docs`` extra) the site builds with ``--strict``."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pywazero
import pywazero.cache
import pywazero.listener
import pywazero.wasi
from pywazero import cli

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


def _reference_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(REFERENCE.glob("*.md")))


def _rendered() -> set:
    """Every object a ``::: path`` directive (or a page's ``members:`` list) renders."""
    text = _reference_text()
    names = set(re.findall(r"^::: ([\w.]+)", text, flags=re.M))
    wasi_page = (REFERENCE / "wasi.md").read_text(encoding="utf-8")
    names |= {f"pywazero.wasi.{m}" for m in re.findall(r"^\s+- (\w+)$", wasi_page, flags=re.M)}
    return names


def test_every_public_symbol_is_in_the_reference():
    rendered = _rendered()
    text = _reference_text()
    missing = []
    for name in pywazero.__all__:
        obj = getattr(pywazero, name)
        if isinstance(obj, type) or callable(obj):
            if f"pywazero.{name}" not in rendered:
                missing.append(f"pywazero.{name}")
        elif f"`pywazero.{name}`" not in text:   # constants: the table of types.md
            missing.append(f"pywazero.{name}")
    for module in (pywazero.wasi, pywazero.listener, pywazero.cache):
        for name in module.__all__:
            if name == "FunctionListenerFactory":
                continue  # a typing alias (Callable[[FunctionDefinition], ...]): no docstring to render
            obj = getattr(module, name)
            if (f"{module.__name__}.{name}" not in rendered
                    and not any(getattr(pywazero, n, None) is obj and f"pywazero.{n}" in rendered
                                for n in pywazero.__all__)):
                missing.append(f"{module.__name__}.{name}")
    assert not missing, f"not in docs/reference/*.md: {missing}"


def _cli_words(parser: argparse.ArgumentParser, prefix: str = "") -> set:
    """'run', 'run --mount', ... for every subcommand and option of ``parser``."""
    words = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.add(name)
                words |= _cli_words(sub, name + " ")
        else:
            for opt in action.option_strings:
                if opt not in ("-h", "--help"):
                    words.add(prefix + opt)
    return words


def test_cli_guide_names_every_subcommand_and_option():
    guide = (ROOT / "docs" / "guide" / "cli.md").read_text(encoding="utf-8")
    words = _cli_words(cli.build_parser())
    assert {"run", "run --mount", "compile", "inspect"} <= words
    def mentioned(word: str) -> bool:
        last = word.split(" ")[-1]
        if not last.startswith("-"):
            return f"pywazero {last}" in guide          # a subcommand
        return re.search(r"(?<![\w-])" + re.escape(last) + r"(?![\w-])", guide) is not None

    missing = sorted(w for w in words if not mentioned(w))
    assert not missing, f"docs/guide/cli.md does not mention: {missing}"


def test_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra (pip install -e '.[docs]') builds the site")
    pytest.importorskip("mkdocstrings", reason="the docs extra (pip install -e '.[docs]') builds the site")
    p = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                        str(tmp_path / "site")], cwd=str(ROOT), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out
    assert (tmp_path / "site" / "reference" / "runtime" / "index.html").is_file()
    html = (tmp_path / "site" / "reference" / "runtime" / "index.html").read_text(encoding="utf-8")
    assert 'id="pywazero.Runtime.compile"' in html
    # classes the runtime makes show no constructor of internal objects; real
    # constructors keep theirs
    for internal in ("MemoryInstance", "TableInstance", "GlobalInstance", "FunctionInstance"):
        assert internal not in html, internal
    host = (tmp_path / "site" / "reference" / "host" / "index.html").read_text(encoding="utf-8")
    assert "allow_shadowing" in host
