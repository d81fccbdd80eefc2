"""A griffe extension for the docs build (mkdocs.yml): pywazero's docstrings are
written for ``help()`` and doctest, in reST-ish markup; this turns the two forms
Markdown would mangle into Markdown before mkdocstrings renders them.

* A run of ``>>>`` / ``...`` lines and their output becomes a fenced ``pycon`` block
  (otherwise Markdown joins them into one paragraph).
* A Sphinx role (:class:`~pywazero.Trap`, :meth:`compile`) becomes a cross-reference
  when it names a public ``pywazero.`` object, else inline code.

It also drops the constructor of a public class whose ``__init__`` takes objects of
the internal layers (``pywazero.wasm``, ``.engine``, ``.binary``, ``.text``): such
classes (``Memory``, ``Function``, ``Module``...) are made by the runtime, and the
signature would only show users internals they cannot pass.
"""
from __future__ import annotations

import re
from typing import Any, List

import griffe

_ROLE = re.compile(r":(class|meth|func|mod|attr|data|exc|obj):`(~?)([^`]+)`")
# objects the reference pages render (a cross-reference to anything else would not resolve)
_PUBLIC_PREFIXES = ("pywazero.",)
# the layers below the public API (see docs/ARCHITECTURE.md, "Layers")
_INTERNAL_PREFIXES = ("pywazero.wasm.", "pywazero.engine.", "pywazero.binary.", "pywazero.text.")


def _role(match: "re.Match[str]") -> str:
    kind, short, target = match.group(1), match.group(2), match.group(3).strip()
    label = target.rsplit(".", 1)[-1] if short else target
    # modules have no page of their own (pywazero.wasi's is linked by hand)
    if (kind != "mod" and target.startswith(_PUBLIC_PREFIXES) and target.count(".") <= 2
            and "._" not in target):
        return f"[`{label}`][{target}]"
    return f"`{label.lstrip('.')}`"


def _fence_doctests(text: str) -> str:
    out: List[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            # a doctest example runs to the first blank line
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].strip())
                i += 1
            out.append(indent + "```pycon")
            out.extend(indent + b for b in block)
            out.append(indent + "```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    """The docstring ``text`` in the Markdown the reference pages are rendered from."""
    parts = re.split(r"(^\s*>>>.*?(?:\n\s*\n|\Z))", text, flags=re.M | re.S)
    # roles are only rewritten outside the examples
    return _fence_doctests("".join(p if p.lstrip().startswith(">>>") else _ROLE.sub(_role, p)
                                   for p in parts))


class DocstringMarkup(griffe.Extension):
    """Rewrites every docstring griffe loads (see the module docstring)."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)

    def on_class_members(self, *, cls: Any, **kwargs: Any) -> None:
        init = cls.members.get("__init__")
        if init is not None and getattr(init, "is_function", False) and _takes_internals(init):
            del cls.members["__init__"]


def _takes_internals(func: Any) -> bool:
    """Whether a parameter of ``func`` (a griffe function) is annotated with a type of
    the internal layers."""
    for param in func.parameters:
        ann = param.annotation
        if ann is None or isinstance(ann, str):
            continue
        for part in ann.iterate(flat=True):
            path = getattr(part, "canonical_path", None)
            if isinstance(path, str) and path.startswith(_INTERNAL_PREFIXES):
                return True
    return False
